"""Fixtures shared by the test modules (test modules never import each other's helpers).

* ``synthetic_extract``: a 3,000-patient synthetic extract (Parquet), made once per session;
* ``prepared_extract``: the same extract after ``bsol prepare``;
* ``pack_tables``: demonstration pack tables, built by the real pipeline
  (:func:`bsol_analytics.packs.write_demo_tables`) on a 6,000-patient synthetic extract.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bsol_analytics.cli import main

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
def pack_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pack tables for :data:`REPORTING_DATE` from the real pipeline (6,000 patients)."""
    from bsol_analytics.packs import write_demo_tables

    folder = tmp_path_factory.mktemp("shared-pack-tables") / "tables"
    return write_demo_tables(folder, REPORTING_DATE, patients=6000)
