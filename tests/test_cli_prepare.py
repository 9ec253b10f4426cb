"""``bsol prepare`` and ``bsol validate`` on good extracts."""

import contextlib
import json
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bsol_analytics import __version__
from bsol_analytics.cleaning import load_prepared, pipeline
from bsol_analytics.cleaning.quality import QualityLog
from bsol_analytics.cli import main
from bsol_analytics.contract import EXTRACT_TABLES, validate_processed
from bsol_analytics.errors import ExtractError

TABLES = ["admissions", "clinical_events", "ed_attendances", "medications", "patients", "screening"]


@pytest.fixture(scope="module")
def frames(extract_frames):
    return extract_frames(250, 5, seed=21)


@pytest.fixture
def extract(write_extract, frames, tmp_path):
    return write_extract(tmp_path / "extract", {k: v.copy() for k, v in frames.items()})


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_prepare_writes_every_output(extract, tmp_path, capsys):
    out = tmp_path / "processed"
    assert main(["-q", "prepare", str(extract), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [f"{t}.parquet" for t in TABLES] + ["data_quality.json", "prepare_manifest.json"]
    )
    manifest = json.loads((out / "prepare_manifest.json").read_text())
    assert manifest["suite_version"] == __version__
    assert manifest["admissions_supplied"] is True
    assert {i["file"] for i in manifest["inputs"]} == {f"{t}.csv" for t in TABLES}
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert manifest["timings_seconds"]["total"] > 0
    quality = json.loads((out / "data_quality.json").read_text())
    assert quality["status"] == "usable"
    assert quality["rows_written"] == manifest["rows"]
    for name, df in load_prepared(out).items():
        validate_processed(name, df)


def test_plain_parquet_readers_see_strings(extract, tmp_path):
    out = tmp_path / "processed"
    assert main(["-q", "prepare", str(extract), "--out", str(out)]) == 0
    ev = pd.read_parquet(out / "clinical_events.parquet")
    assert str(pq.read_schema(out / "clinical_events.parquet").field("cluster").type) == "string"
    ev["event_date"] = ev["event_date"].astype("datetime64[s]")
    validate_processed("clinical_events", ev)


def test_dates_are_date32_in_parquet(extract, tmp_path):
    out = tmp_path / "processed"
    assert main(["-q", "prepare", str(extract), "--out", str(out)]) == 0
    schema = pq.read_schema(out / "patients.parquet")
    assert str(schema.field("date_of_birth").type) == "date32[day]"
    assert str(schema.field("imd2025_decile").type) == "int8"
    assert str(schema.field("patient_id").type) == "string"


def test_prepare_replaces_earlier_output_completely(extract, tmp_path):
    out = tmp_path / "processed"
    out.mkdir()
    (out / "stale.parquet").write_bytes(b"old")
    assert main(["-q", "prepare", str(extract), "--out", str(out)]) == 0
    assert not (out / "stale.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extract", "processed"]


def test_interrupted_prepare_leaves_earlier_output(extract, tmp_path, monkeypatch, capsys):
    out = tmp_path / "processed"
    assert main(["-q", "prepare", str(extract), "--out", str(out)]) == 0
    before = _snapshot(out)

    calls = {"n": 0}
    real = pipeline._to_arrow

    def interrupt_on_second_table(df):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(df)

    monkeypatch.setattr(pipeline, "_to_arrow", interrupt_on_second_table)
    assert main(["-q", "prepare", str(extract), "--out", str(out)]) == 130
    assert "no output was left half-written" in capsys.readouterr().err
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extract", "processed"]


def test_prepare_without_admissions(write_extract, frames, tmp_path):
    folder = write_extract(
        tmp_path / "extract", {k: v.copy() for k, v in frames.items() if k != "admissions"}
    )
    out = tmp_path / "processed"
    assert main(["-q", "prepare", str(folder), "--out", str(out)]) == 0
    manifest = json.loads((out / "prepare_manifest.json").read_text())
    assert manifest["admissions_supplied"] is False
    adm = load_prepared(out)["admissions"]
    assert len(adm) == 0
    assert list(adm.columns) == [
        "patient_id",
        "admission_date",
        "admission_method",
        "primary_diagnosis",
        "patient_row",
    ]
    validate_processed("admissions", adm)


def test_prepare_parquet_extract(write_extract, frames, tmp_path):
    folder = write_extract(
        tmp_path / "extract", {k: v.copy() for k, v in frames.items()}, fmt="parquet"
    )
    assert main(["-q", "prepare", str(folder), "--out", str(tmp_path / "out")]) == 0


def test_prepare_parquet_parts(write_extract, frames, tmp_path):
    """A table may be a folder of Parquet parts, read in file-name order."""
    whole = write_extract(tmp_path / "whole", {k: v.copy() for k, v in frames.items()})
    folder = tmp_path / "parts"
    for name, df in frames.items():
        parts = folder / f"{name}.parquet"
        parts.mkdir(parents=True)
        half = len(df) // 2
        df.iloc[:half].to_parquet(parts / "part-00000.parquet", index=False)
        df.iloc[half:].to_parquet(parts / "part-00001.parquet", index=False)
    out = tmp_path / "out"
    assert main(["-q", "prepare", str(folder), "--out", str(out)]) == 0
    manifest = json.loads((out / "prepare_manifest.json").read_text())
    assert "patients.parquet/part-00001.parquet" in {i["file"] for i in manifest["inputs"]}
    a, b = pipeline.prepare_tables(whole)[0], load_prepared(out)
    for name in TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], check_categorical=False)


def test_prepare_with_progress_bars(extract, tmp_path, capsys):
    assert main(["prepare", str(extract), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "Data-quality summary" in captured.out
    assert "Traceback" not in captured.err


def test_validate_usable_extract(extract, capsys):
    assert main(["-q", "validate", str(extract)]) == 0
    out = capsys.readouterr().out
    assert "Data-quality summary" in out and "usable" in out


def test_validate_json(extract, capsys):
    assert main(["-q", "validate", "--json", str(extract)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "usable"
    assert summary["rows_read"]["patients"] == 250
    assert summary["default_reporting_date"] is not None


def test_load_tables_same_from_extract_or_prepared(extract, tmp_path):
    out = tmp_path / "processed"
    assert main(["-q", "prepare", str(extract), "--out", str(out)]) == 0
    a = pipeline.prepare_tables(extract)[0]  # cleaned in memory
    b = load_prepared(out)
    for name in TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], check_categorical=False)


def test_load_prepared_refuses_other_folders(tmp_path):
    from bsol_analytics.errors import BsolError

    with pytest.raises(BsolError, match="not a prepared folder"):
        load_prepared(tmp_path)


def test_an_unreadable_later_table_refuses_before_an_earlier_tables_check(
    write_extract, frames, tmp_path
):
    # Tables are checked while the next ones are read; the refusal and the counts are still
    # those of reading every table first: the unreadable file, with no check counted.
    f = {k: v.copy() for k, v in frames.items()}
    f["patients"].loc[1, "patient_id"] = f["patients"].loc[0, "patient_id"]  # refused by a check
    folder = write_extract(tmp_path / "extract", f)
    (folder / "ed_attendances.csv").write_text("patient_id;attendance_date\nP1;2024-01-01\n")
    log = QualityLog()
    with pytest.raises(ExtractError, match="semicolons") as err:
        pipeline.read_extract(folder, log=log)
    assert err.value.table == "ed_attendances"
    assert list(log.rows_read) == list(EXTRACT_TABLES)[:-1]  # every table before it
    assert log.entries == []


def test_a_check_refusal_keeps_every_read_count(write_extract, frames, tmp_path):
    f = {k: v.copy() for k, v in frames.items()}
    f["patients"].loc[1, "patient_id"] = f["patients"].loc[0, "patient_id"]
    folder = write_extract(tmp_path / "extract", f)
    log = QualityLog()
    with pytest.raises(ExtractError, match="unique"):
        pipeline.read_extract(folder, log=log)
    assert list(log.rows_read) == list(EXTRACT_TABLES)


def test_a_failed_prepare_cancels_the_writes_not_started(tmp_path, monkeypatch):
    written = []
    stack = contextlib.ExitStack()
    writer = pipeline._TableWriter(tmp_path / "processed", stack)

    def write(self, name, df, path):
        written.append(path.stem)
        deadline = time.monotonic() + 5
        while path.stem == "first" and not writer.jobs["second"].cancelled():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        return 0.0

    monkeypatch.setattr(pipeline._TableWriter, "_write", write)
    with pytest.raises(RuntimeError), stack:
        writer.put("first", pd.DataFrame())
        writer.put("second", pd.DataFrame())
        raise RuntimeError("a later table failed")
    assert written == ["first"]
    assert writer.jobs["second"].cancelled()
    assert sorted(p.name for p in tmp_path.iterdir()) == []
