"""Pack tables, the demonstration tables and sample extracts leave no folder in the temp dir.

Each test points the temporary folder (``TMPDIR``) at an empty folder of its own and checks
that it is empty again once the work (or the process that did it) has ended.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bsol_analytics.packs import compute_tables, open_pack
from bsol_analytics.packs.demo import DEMO_CACHE_ENV

REPORTING_DATE = "2025-03-31"


@pytest.fixture
def own_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder used as this process's temporary folder for one test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def per_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-table protection (no LP audit): these tests are about temporary folders only."""
    import functools

    from bsol_analytics import protection
    from bsol_analytics.packs import tables as pack_tables

    monkeypatch.setattr(
        pack_tables, "protect_run", functools.partial(protection.protect_run, linked=False)
    )


@pytest.mark.usefixtures("per_table")
def test_pack_tables_run_leaves_nothing(prepared_extract: Path, own_tmp: Path, tmp_path: Path):
    out = compute_tables(prepared_extract, tmp_path / "tables", REPORTING_DATE)
    assert (out / "indicators.parquet").is_file()
    assert _left(own_tmp) == []


@pytest.mark.usefixtures("per_table")
def test_open_pack_without_tables_removes_its_folder(prepared_extract: Path, own_tmp: Path):
    data = open_pack(None, prepared_extract, REPORTING_DATE)
    assert len(data.indicators) > 0
    assert _left(own_tmp) == []


@pytest.mark.parametrize(
    "code",
    [
        "import functools; from bsol_analytics import protection; "
        "from bsol_analytics.packs import tables; "
        "tables.protect_run = functools.partial(protection.protect_run, linked=False); "
        "from bsol_analytics.packs.demo import demo_pack; demo_pack(patients=400)",
        "from bsol_analytics.synth import sample_extract; sample_extract(patients=100)",
    ],
    ids=["demo_tables", "sample_extract"],
)
def test_cached_temporary_folders_removed_at_exit(code: str, own_tmp: Path):
    """Without a shared folder, a process's cached tables and extracts go when it exits."""
    env = {k: v for k, v in os.environ.items() if k != DEMO_CACHE_ENV} | {"TMPDIR": str(own_tmp)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _left(own_tmp) == []
