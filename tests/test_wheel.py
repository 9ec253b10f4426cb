"""The wheel works on its own: installed into a fresh environment, run from a folder elsewhere.

The wheel is built from a copy of the sources, installed with ``--no-deps`` into a new virtual
environment outside the repository (the dependencies are borrowed from the test environment
through a ``.pth`` file and ``JUPYTER_PATH``, so that nothing is downloaded), and the command
line is run from a temporary folder: ``bsol synth``, ``prepare``, ``indicators`` and one pack.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATE = "2025-03-31"
#: What the build needs from the repository (everything else stays behind).
SOURCES = ("pyproject.toml", "setup.py", "README.md", "LICENSE", "bsol_analytics", "notebooks")


def _run(args: list[str | Path], cwd: Path, env: dict[str, str], timeout: int = 600) -> str:
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, (
        f"{' '.join(map(str, args))} exited {proc.returncode}\n"
        f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    )
    return proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the sources (the checkout is left untouched)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(path, src / name)
    shutil.copytree(REPO / "data" / "raw", src / "data" / "raw", ignore=ignore)
    dist = root / "dist"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src], root, env)
    (built,) = dist.glob("bsol_analytics-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict[str, object]:
    """A fresh virtual environment with the wheel in it; its dependencies borrowed."""
    root = tmp_path_factory.mktemp("venv")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            text=True,
        ).strip()
    )
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "_bsol_test_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"BSOL_RAW_DIR", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # The borrowed dependencies' data files (nbconvert's templates, the kernel spec) are under
    # the test environment's prefix; a normal install would put them under the new one.
    borrowed_share = Path(sys.prefix) / "share" / "jupyter"
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(borrowed_share), os.environ.get("JUPYTER_PATH", "")) if p
    )
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps"]
    _run([*pip, wheel], root, env)
    work = root / "elsewhere"
    work.mkdir()
    return {"python": python, "bsol": env_dir / "bin" / "bsol", "env": env, "work": work}


def _outside_repo(path: str | Path) -> bool:
    return not Path(path).resolve().is_relative_to(REPO)


def test_wheel_carries_reference_data_notebooks_and_templates(wheel):
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    raw = sorted(
        p.relative_to(REPO / "data" / "raw").as_posix()
        for p in (REPO / "data" / "raw").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    assert {f"bsol_analytics/reference_data/{r}" for r in raw} <= names
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        assert f"bsol_analytics/notebooks/{nb.name}" in names
        assert f"bsol_analytics/notebooks/{nb.stem}.py" in names
    assert any(n.startswith("bsol_analytics/templates/") for n in names)


def test_installed_package_is_imported_from_the_new_environment(installed):
    probe = (
        "import json, bsol_analytics, bsol_analytics.paths as p\n"
        "from bsol_analytics import reference\n"
        "print(json.dumps({'module': bsol_analytics.__file__, 'raw': str(p.RAW_DIR),\n"
        "  'notebooks': str(p.NOTEBOOKS_DIR), 'processed': str(p.PROCESSED_DIR),\n"
        "  'reports': str(p.REPORTS_DIR), 'checked': len(reference.verify_manifest())}))"
    )
    out = json.loads(_run([installed["python"], "-c", probe], installed["work"], installed["env"]))
    prefix = Path(installed["python"]).parents[1]
    for key in ("module", "raw", "notebooks"):
        assert Path(out[key]).is_relative_to(prefix), (key, out[key])
        assert _outside_repo(out[key]), (key, out[key])
    work = Path(installed["work"]).resolve()
    assert Path(out["processed"]) == work / "data" / "processed"
    assert Path(out["reports"]) == work / "reports"
    assert out["checked"] > 30


def test_command_line_runs_from_any_folder(installed):
    bsol, env, work = installed["bsol"], installed["env"], Path(installed["work"])
    assert _outside_repo(work)
    _run([bsol, "synth", "--out", "extract", "--patients", "2000", "--seed", "7"], work, env)
    _run([bsol, "prepare", "extract"], work, env)  # default --out: ./data/processed
    processed = work / "data" / "processed"
    assert (processed / "patients.parquet").is_file()
    assert stat.S_IMODE(processed.stat().st_mode) == 0o700
    _run([bsol, "indicators", "data/processed", "--date", DATE, "--out", "ind.csv"], work, env)
    assert (work / "ind.csv").stat().st_size > 0
    _run(
        [
            bsol,
            "packs",
            "data/processed",
            "--date",
            DATE,
            "--localities",
            "Solihull",
            "--jobs",
            "1",
        ],
        work,
        env,
    )
    pages = sorted(p.name for p in (work / "reports").rglob("*.html"))
    assert any("solihull" in p.lower() for p in pages), pages


def test_bsol_raw_dir_overrides_the_reference_data(installed, tmp_path):
    copy = tmp_path / "raw"
    shutil.copytree(REPO / "data" / "raw", copy)
    env = {**installed["env"], "BSOL_RAW_DIR": str(copy)}
    probe = (
        "import bsol_analytics.paths as p\n"
        "from bsol_analytics import reference\n"
        "reference.verify_manifest()\n"
        "print(p.RAW_DIR)"
    )
    out = _run([installed["python"], "-c", probe], installed["work"], env)
    assert Path(out.strip()) == copy
