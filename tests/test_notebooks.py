"""The report and exploratory notebooks: pairing, no committed outputs, parameters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from bsol_analytics.paths import NOTEBOOKS_DIR

PAIRED = sorted(NOTEBOOKS_DIR.glob("*.py"))

#: A guard against a hung kernel, not a speed check: a notebook that computes its tables
#: (linked disclosure control included) can take several minutes on a loaded 2-core machine.
HANG_SECONDS = 900


def test_there_are_notebooks():
    names = {p.stem for p in PAIRED}
    assert "locality_pack" in names
    assert len(names) >= 2


@pytest.mark.parametrize("script", PAIRED, ids=lambda p: p.stem)
def test_ipynb_in_sync_with_py_percent(script: Path):
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run jupytext --sync {script.name}"
    from_py = jupytext.read(script)
    from_nb = nbformat.read(ipynb, as_version=4)
    src_py = [(c.cell_type, c.source.strip()) for c in from_py.cells]
    src_nb = [(c.cell_type, c.source.strip()) for c in from_nb.cells]
    assert src_py == src_nb, f"{ipynb.name} and {script.name} differ: run jupytext --sync"


@pytest.mark.parametrize("script", PAIRED, ids=lambda p: p.stem)
def test_no_committed_outputs(script: Path):
    nb = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_report_notebook_has_parameters_then_validation():
    nb = nbformat.read(NOTEBOOKS_DIR / "locality_pack.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    for name in ("locality", "reporting_date", "tables_dir", "data_dir", "view", "imd"):
        assert f"{name} = " in code[0].source
    assert "validate_parameters(" in code[1].source


def _papermill(out: Path, *params: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(NOTEBOOKS_DIR / "locality_pack.ipynb"),
        str(out),
        "--no-progress-bar",
        *params,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=HANG_SECONDS, check=False)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["-p", "locality", "Narnia"], "Unknown locality 'Narnia'"),
        (["-p", "reporting_date", "2025-31-03"], "is not a real date"),
    ],
)
def test_bad_parameters_stop_with_a_clear_message(tmp_path, params, message):
    run = _papermill(tmp_path / "out.ipynb", *params)
    assert run.returncode != 0
    assert "ParameterError" in run.stderr and message in run.stderr


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("2026-06-30", "after the last complete quarter in the data"),
        ("2020-03-31", "is too early"),
    ],
)
def test_a_date_the_data_cannot_support_is_refused(prepared_extract, tmp_path, date, message):
    run = _papermill(
        tmp_path / "out.ipynb",
        *("-p", "reporting_date", date, "-p", "data_dir", str(prepared_extract)),
    )
    err = " ".join(run.stderr.split())
    assert run.returncode != 0
    assert "ParameterError" in err and message in err and "The extract covers" in err


def test_papermill_directly_computes_from_a_prepared_folder(prepared_extract, tmp_path):
    """``papermill ... -p locality Solihull`` with only a data folder (no pack tables)."""
    out = tmp_path / "solihull.ipynb"
    run = _papermill(
        out,
        "-p",
        "locality",
        "Solihull",
        "-p",
        "reporting_date",
        "2025-03-31",
        "-p",
        "data_dir",
        str(prepared_extract),
    )
    assert run.returncode == 0, run.stderr[-2000:]
    nb = nbformat.read(out, as_version=4)
    html = "".join(
        o.get("data", {}).get("text/html", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "<h1>Solihull locality: population health pack</h1>" in html
    assert 'id="hypertension"' in html


def test_exploratory_notebook_runs(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "papermill",
        str(NOTEBOOKS_DIR / "explore_indicators.ipynb"),
        str(tmp_path / "out.ipynb"),
        "--no-progress-bar",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=HANG_SECONDS, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
