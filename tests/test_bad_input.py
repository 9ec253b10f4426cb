"""Every way an extract can break the contract is refused cleanly.

For each bad input: exit code 3, a message naming the table, the column and the rule, no
traceback, and the earlier processed output left byte-for-byte as it was.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bsol_analytics.cleaning import prepare
from bsol_analytics.cli import main

N = 400


@pytest.fixture(scope="module")
def good_extract(extract_frames, write_extract, tmp_path_factory):
    return write_extract(tmp_path_factory.mktemp("good") / "extract", extract_frames(N, 5, seed=5))


def _rewrite(folder: Path, table: str, func) -> None:
    path = folder / f"{table}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    func(df).to_csv(path, index=False)


def _rewrite_sep(folder: Path, table: str, sep: str) -> None:
    path = folder / f"{table}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.to_csv(path, index=False, sep=sep)


def missing_table(f):
    (f / "screening.csv").unlink()


def missing_column(f):
    _rewrite(f, "patients", lambda d: d.drop(columns="sex"))


def empty_file(f):
    (f / "patients.csv").write_bytes(b"")


def header_only(f):
    path = f / "clinical_events.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")


def semicolons(f):
    _rewrite_sep(f, "patients", ";")


def tabs(f):
    _rewrite_sep(f, "screening", "\t")


def not_utf8(f):
    path = f / "patients.csv"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b"P0000000", b"P\xe9000000", 1)
    path.write_bytes(b"\n".join(lines))


def _set_cells(folder: Path, table: str, column: str, rows, value: str) -> None:
    """Write ``value`` into ``column`` at ``rows(index)`` of one table."""

    def spoil(d):
        d.loc[rows(d.index), column] = value
        return d

    _rewrite(folder, table, spoil)


def bad_dates(f):
    _set_cells(f, "clinical_events", "event_date", lambda i: i[::20], "31/31/2024")


def duplicate_ids(f):
    def dup(d):
        d.loc[10, "patient_id"] = d.loc[11, "patient_id"]
        return d

    _rewrite(f, "patients", dup)


def unknown_patients(f):
    _set_cells(f, "clinical_events", "patient_id", lambda i: i[::25], "GHOST")


def nhs_numbers(f):
    _set_cells(f, "patients", "patient_id", lambda i: [4], "9434765919")


def nhs_numbers_in_screening(f):
    _set_cells(f, "screening", "patient_id", lambda i: [7], "943 476 5919")


def unknown_practices(f):
    _set_cells(f, "patients", "practice_code", lambda i: i[:10], "Z99999")


def invalid_sex(f):
    _set_cells(f, "patients", "sex", lambda i: i[:10], "Q")


def malformed_rows(f):
    with (f / "screening.csv").open("a") as fh:
        fh.writelines("P00000001,breast,2024-01-01,adequate,extra\n" for _ in range(20))


def csv_and_parquet(f):
    df = pd.read_csv(f / "admissions.csv", dtype=str)
    df.to_parquet(f / "admissions.parquet")


# --- contract version 2: the optional tables and columns ---


def medications_missing_column(f):
    _rewrite(f, "medications", lambda d: d.drop(columns="dmd_code"))


def medications_bad_dates(f):
    _set_cells(f, "medications", "issue_date", lambda i: i[::20], "2024-13-45")


def medications_nhs_numbers(f):
    _set_cells(f, "medications", "patient_id", lambda i: [2], "9434765919")


def ed_bad_dates(f):
    _set_cells(f, "ed_attendances", "attendance_date", lambda i: i[::20], "yesterday")


def ed_unknown_patients(f):
    _set_cells(f, "ed_attendances", "patient_id", lambda i: i[::25], "GHOST")


def diagnosis_not_icd10(f):
    _set_cells(f, "admissions", "primary_diagnosis", lambda i: i[::20], "271737000")


def cause_not_icd10(f):
    _set_cells(f, "patients", "underlying_cause_of_death", lambda i: i[::20], "cancer")


def medications_empty(f):
    path = f / "medications.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")


CASES = [
    (missing_table, "screening", None, "required table is missing"),
    (missing_column, "patients", "sex", "required column is missing"),
    (empty_file, "patients", None, "the file is empty"),
    (header_only, "clinical_events", None, "header row but no data rows"),
    (semicolons, "patients", None, "uses semicolons"),
    (tabs, "screening", None, "uses tabs"),
    (not_utf8, "patients", "patient_id", "not UTF-8: the byte at offset"),
    (bad_dates, "clinical_events", "event_date", "is not a valid date"),
    (duplicate_ids, "patients", "patient_id", "must be unique"),
    (unknown_patients, "clinical_events", "patient_id", "is not in the patients table"),
    (nhs_numbers, "patients", "patient_id", "modulus-11"),
    (nhs_numbers_in_screening, "screening", "patient_id", "valid NHS numbers"),
    (unknown_practices, "patients", "practice_code", "not a Birmingham and Solihull GP"),
    (invalid_sex, "patients", "sex", "sex is not M, F or U"),
    (malformed_rows, "screening", None, "fields"),
    (csv_and_parquet, "admissions", None, "both admissions.csv and admissions.parquet"),
    (medications_missing_column, "medications", "dmd_code", "required column is missing"),
    (medications_bad_dates, "medications", "issue_date", "is not a valid date"),
    (medications_nhs_numbers, "medications", "patient_id", "valid NHS numbers"),
    (medications_empty, "medications", None, "header row but no data rows"),
    (ed_bad_dates, "ed_attendances", "attendance_date", "is not a valid date"),
    (ed_unknown_patients, "ed_attendances", "patient_id", "is not in the patients table"),
    (diagnosis_not_icd10, "admissions", "primary_diagnosis", "is not an ICD-10 code"),
    (cause_not_icd10, "patients", "underlying_cause_of_death", "is not an ICD-10 code"),
]
IDS = [c[0].__name__ for c in CASES]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def earlier_output(good_extract, tmp_path):
    out = tmp_path / "processed"
    prepare(good_extract, out, progress=False)
    return out


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("mutate", "table", "column", "rule"), CASES, ids=IDS)
def test_prepare_refuses_and_keeps_earlier_output(
    good_extract, earlier_output, tmp_path, capsys, mutate, table, column, rule
):
    bad = shutil.copytree(good_extract, tmp_path / "bad")
    mutate(bad)
    before = _snapshot(earlier_output)
    siblings = sorted(p.name for p in earlier_output.parent.iterdir())
    code = main(["-q", "prepare", str(bad), "--out", str(earlier_output)])
    err = _flat(capsys.readouterr().err)
    assert code == 3
    assert f"Table '{table}'" in err
    if column:
        assert f"column '{column}'" in err
    assert rule in err
    assert "Traceback" not in err
    assert _snapshot(earlier_output) == before
    assert sorted(p.name for p in earlier_output.parent.iterdir()) == siblings


@pytest.mark.parametrize(("mutate", "table", "column", "rule"), CASES, ids=IDS)
def test_validate_refuses(good_extract, tmp_path, capsys, mutate, table, column, rule):
    bad = shutil.copytree(good_extract, tmp_path / "bad")
    mutate(bad)
    code = main(["-q", "validate", str(bad)])
    captured = capsys.readouterr()
    err = _flat(captured.err)
    assert code == 3
    assert f"Table '{table}'" in err and rule in err
    assert "Traceback" not in err + captured.out


def test_refusal_message_gives_example_rows(good_extract, tmp_path, capsys):
    bad = shutil.copytree(good_extract, tmp_path / "bad")
    duplicate_ids(bad)
    assert main(["-q", "validate", str(bad)]) == 3
    assert "example rows: 11, 12" in _flat(capsys.readouterr().err)


def test_not_utf8_names_the_row(good_extract, tmp_path, capsys):
    bad = shutil.copytree(good_extract, tmp_path / "bad")
    not_utf8(bad)
    assert main(["-q", "validate", str(bad)]) == 3
    assert "(data row 3)" in _flat(capsys.readouterr().err)


def test_missing_extract_folder_is_a_parameter_error(tmp_path, capsys):
    code = main(["-q", "validate", str(tmp_path / "nowhere")])
    assert code == 2
    assert "does not exist" in _flat(capsys.readouterr().err)


def test_validate_prints_summary_when_refused(good_extract, tmp_path, capsys):
    bad = shutil.copytree(good_extract, tmp_path / "bad")
    unknown_practices(bad)
    assert main(["-q", "validate", "--json", str(bad)]) == 3
    out = capsys.readouterr().out
    assert '"status": "refused"' in out


@pytest.mark.parametrize("command", ["prepare", "synth"])
def test_unwritable_output_is_a_plain_error(good_extract, tmp_path, capsys, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    out = str(blocker / "out")
    argv = {
        "prepare": ["prepare", str(good_extract), "--out", out],
        "synth": ["synth", "--out", out, "--patients", "200"],
    }[command]
    code = main(["-q", *argv])
    err = _flat(capsys.readouterr().err)
    assert code == 2
    assert f"bsol {command} could not use" in err and "a-file" in err
    assert "Traceback" not in err


def test_console_script_refuses_without_traceback(good_extract, tmp_path):
    bad = shutil.copytree(good_extract, tmp_path / "bad")
    semicolons(bad)
    exe = Path(sys.executable).with_name("bsol")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bsol_analytics"]
    out = tmp_path / "processed"
    proc = subprocess.run(
        [*cmd, "prepare", str(bad), "--out", str(out)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 3
    assert "Table 'patients'" in proc.stderr and "semicolons" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_version1_extract_prepares_and_runs(extract_frames, write_extract, tmp_path, capsys):
    v1 = write_extract(tmp_path / "v1", extract_frames(N, 5, seed=5, version=1))
    out = tmp_path / "processed"
    assert main(["-q", "prepare", str(v1), "--out", str(out)]) == 0
    assert not (out / "medications.parquet").exists()
