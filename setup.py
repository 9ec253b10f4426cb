"""Build hook: ship the reference data and the report notebooks inside the package.

``data/raw/`` and ``notebooks/`` stay at the top of the repository; the wheel carries them as
``bsol_analytics/reference_data/`` and ``bsol_analytics/notebooks/``, where
:mod:`bsol_analytics.paths` finds them with :mod:`importlib.resources`. Everything else about
the build is declared in ``pyproject.toml``.
"""

from setuptools import find_namespace_packages, setup

#: Package name in the wheel -> folder in the repository.
BUNDLED = {
    "bsol_analytics.reference_data": "data/raw",
    "bsol_analytics.notebooks": "notebooks",
}

#: The reference data's subfolders, each a data-only package of the wheel.
REFERENCE_DATA = [
    "bsol_analytics.reference_data",
    *(f"bsol_analytics.reference_data.{p}" for p in find_namespace_packages("data/raw")),
]

setup(
    packages=[
        *find_namespace_packages(
            include=["bsol_analytics", "bsol_analytics.*"], exclude=["*.__pycache__"]
        ),
        *REFERENCE_DATA,
        "bsol_analytics.notebooks",
    ],
    package_dir=BUNDLED,
    package_data={
        "bsol_analytics": ["templates/*/*"],
        "bsol_analytics.notebooks": ["*.ipynb", "*.py"],
        **{name: ["*"] for name in REFERENCE_DATA},
    },
)
