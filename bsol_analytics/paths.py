"""Where the suite finds its reference data and notebooks, and where it writes by default.

The reference data (``data/raw/`` with its ``MANIFEST``) and the report notebooks
(``notebooks/``) live at the top of the repository. The wheel carries them inside the package
as ``bsol_analytics/reference_data/`` and ``bsol_analytics/notebooks/`` (mapped at build time
by ``setup.py``), and they are found with :mod:`importlib.resources`, so an installed copy
works from any folder. When the package runs from its source tree (an editable install),
those folders are the repository's own.

* :data:`RAW_DIR`: the reference data; the environment variable ``BSOL_RAW_DIR`` points it
  at a copy elsewhere.
* :data:`NOTEBOOKS_DIR`: the report notebooks run by ``bsol packs``.
* :data:`PROCESSED_DIR` and :data:`REPORTS_DIR`: default output folders, ``data/processed``
  and ``reports`` under the current directory (computed when read, so they follow
  ``os.chdir``).

Examples:
    >>> (RAW_DIR / "MANIFEST").is_file(), (NOTEBOOKS_DIR / "locality_pack.ipynb").is_file()
    (True, True)
    >>> from bsol_analytics import paths
    >>> paths.PROCESSED_DIR == Path.cwd() / "data" / "processed"
    True
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

__all__ = [
    "NOTEBOOKS_DIR",
    "PACKAGE_DIR",
    "PROCESSED_DIR",  # noqa: F822 (module __getattr__)
    "RAW_DIR",
    "REPORTS_DIR",  # noqa: F822 (module __getattr__)
    "REPO_ROOT",
    "bundled_dir",
    "parquet_source",
]

#: The installed package folder (``.../site-packages/bsol_analytics`` from a wheel).
PACKAGE_DIR: Path = Path(str(resources.files("bsol_analytics")))

#: The folder holding the package: the repository root in a source checkout.
REPO_ROOT: Path = PACKAGE_DIR.parent


def bundled_dir(name: str, source: str) -> Path:
    """The folder shipped in the wheel as ``bsol_analytics/<name>``.

    Args:
        name: the folder's name inside the installed package (``reference_data``,
            ``notebooks``).
        source: the same folder in the source tree, relative to the repository root
            (``data/raw``, ``notebooks``), used when the package runs from its checkout.

    Returns:
        The folder (it may not exist if neither copy is present).

    Examples:
        >>> bundled_dir("reference_data", "data/raw").joinpath("MANIFEST").is_file()
        True
    """
    installed = resources.files("bsol_analytics").joinpath(name)
    if installed.is_dir():
        return Path(str(installed))
    return REPO_ROOT.joinpath(*source.split("/"))


def _raw_dir() -> Path:
    override = os.environ.get("BSOL_RAW_DIR")
    return Path(override) if override else bundled_dir("reference_data", "data/raw")


#: The reference data with its ``MANIFEST`` (``BSOL_RAW_DIR`` overrides it).
RAW_DIR: Path = _raw_dir()

#: The report notebooks (``locality_pack.ipynb`` and its jupytext pair).
NOTEBOOKS_DIR: Path = bundled_dir("notebooks", "notebooks")

_CWD_RELATIVE: dict[str, tuple[str, ...]] = {
    "PROCESSED_DIR": ("data", "processed"),
    "REPORTS_DIR": ("reports",),
}


def parquet_source(folder: Path, table: str) -> str | None:
    """The Parquet file of ``table`` in ``folder``, or a glob over its folder of parts.

    ``<table>.parquet`` (a file), else the parts in ``<table>/`` or ``<table>.parquet/``;
    ``None`` when there is neither.
    """
    single = folder / f"{table}.parquet"
    if single.is_file():
        return str(single)
    for parts in (folder / table, single):
        if parts.is_dir() and any(parts.glob("*.parquet")):
            return str(parts / "*.parquet")
    return None


def __getattr__(name: str) -> Path:
    """``PROCESSED_DIR`` and ``REPORTS_DIR``, under the current directory when read."""
    if name in _CWD_RELATIVE:
        return Path.cwd().joinpath(*_CWD_RELATIVE[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_CWD_RELATIVE})
