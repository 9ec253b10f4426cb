"""Fixtures shared by the test modules (test modules never import each other's helpers).

* ``synthetic_extract``: a 3,000-patient synthetic extract (Parquet), made once per session;
* ``prepared_extract``: the same extract after ``bsol prepare``;
* ``pack_tables``: demonstration pack tables, built by the real pipeline
  (:func:`bsol_analytics.packs.demo.demo_tables`) on a 6,000-patient synthetic extract;
* ``extract_frames``, ``write_extract``: build and write small contract-shaped extracts;
* ``build_extract``, ``build_v2_extract``, ``combined_extract``: processed tables for the
  known-answer cases of the version 1 and version 2 indicators.

The builders are factories (each call gives new frames, so a test may change them); they
and the known-answer cases live in the ``helpers`` package next to this file.

The demonstration tables (these, and the same ones in the docstring examples) are built once
per test run, not once per worker: the run's processes share one folder for them
(:data:`bsol_analytics.packs.demo.DEMO_CACHE_ENV`), removed when the run ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPORTING_DATE, extracts, known_answers, known_answers_v2

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


@pytest.fixture(scope="session")
def extract_frames() -> Callable[..., dict[str, pd.DataFrame]]:
    """:func:`helpers.extracts.extract_frames`: a small valid extract, every table as text."""
    return extracts.extract_frames


@pytest.fixture(scope="session")
def write_extract() -> Callable[..., Path]:
    """:func:`helpers.extracts.write_extract`: write extract frames as CSV or Parquet."""
    return extracts.write_extract


@pytest.fixture(scope="session")
def build_extract() -> Callable[..., dict[str, pd.DataFrame]]:
    """:func:`helpers.known_answers.build_extract`: version 1 known-answer tables."""
    return known_answers.build_extract


@pytest.fixture(scope="session")
def build_v2_extract() -> Callable[..., dict[str, pd.DataFrame]]:
    """:func:`helpers.known_answers_v2.build_v2_extract`: version 2 known-answer tables."""
    return known_answers_v2.build_v2_extract


@pytest.fixture(scope="session")
def combined_extract() -> Callable[[], dict[str, pd.DataFrame]]:
    """:func:`helpers.known_answers_v2.combined_extract`: version 1 and 2 cases in one extract."""
    return known_answers_v2.combined_extract
