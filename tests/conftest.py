"""Fixtures shared by the test modules (test modules never import each other's helpers).

* ``synthetic_extract``: a 3,000-patient synthetic extract (Parquet), made once per session;
* ``prepared_extract``: the same extract after ``bsol prepare``;
* ``pack_tables``: demonstration pack tables, built by the real pipeline
  (:func:`bsol_analytics.packs.demo.demo_tables`) on a 6,000-patient synthetic extract.

The demonstration tables (these, and the same ones in the docstring examples) are built once
per test run, not once per worker: the run's processes share one folder for them
(:data:`bsol_analytics.packs.demo.DEMO_CACHE_ENV`), removed when the run ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from bsol_analytics.cli import main
from bsol_analytics.packs.demo import DEMO_CACHE_ENV, DEMO_PATIENTS, demo_tables

_OWN_DEMO_CACHE = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    """Share one demonstration-tables folder between the run's processes (workers inherit it)."""
    if hasattr(config, "workerinput") or os.environ.get(DEMO_CACHE_ENV):
        return
    folder = tempfile.mkdtemp(prefix="bsol-test-demo-")
    os.environ[DEMO_CACHE_ENV] = folder
    config.stash[_OWN_DEMO_CACHE] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the shared folder made by :func:`pytest_configure`."""
    folder = config.stash.get(_OWN_DEMO_CACHE, None)
    if folder:
        os.environ.pop(DEMO_CACHE_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


#: The reporting date of the shared extracts and tables (the synthetic extract ends on it).
REPORTING_DATE = "2025-03-31"


@pytest.fixture(scope="session")
def synthetic_extract(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3,000-patient synthetic extract in Parquet (``bsol synth``)."""
    folder = tmp_path_factory.mktemp("shared-extract") / "extract"
    argv = ["-q", "synth", "--out", str(folder), "--patients", "3000", "--format", "parquet"]
    assert main(argv) == 0
    return folder


@pytest.fixture(scope="session")
def prepared_extract(synthetic_extract: Path) -> Path:
    """``synthetic_extract`` after ``bsol prepare``."""
    folder = synthetic_extract.parent / "prepared"
    assert main(["-q", "prepare", str(synthetic_extract), "--out", str(folder)]) == 0
    return folder


@pytest.fixture(scope="session")
def pack_tables() -> Path:
    """The demonstration pack tables for :data:`REPORTING_DATE` (the real pipeline; read only)."""
    return demo_tables(DEMO_PATIENTS, REPORTING_DATE)
