"""Prepared tables link to their patients by row number (``patient_row``).

``bsol prepare`` writes, in every table linked to ``patients``, the row of each patient in
``patients.parquet``, and records in every file the digest of the patients' ids in row
order. The pandas engine then joins the tables by these integers instead of matching
``patient_id`` text, and only when the patients it reads are the ones counted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import REPORTING_DATE as RD
from hypothesis import given
from hypothesis import strategies as st

from bsol_analytics.contract import validate_processed
from bsol_analytics.errors import ExtractError
from bsol_analytics.indicators import compute_cube, engines
from bsol_analytics.io import text_sha256
from bsol_analytics.vocabulary import PATIENT_ROW, PATIENTS_DIGEST

KEYS = ["practice_locality", "imd2025_quintile", "sex", "age_band"]
LINKED = ("clinical_events", "screening", "admissions", "medications", "ed_attendances")


def _linked_files(folder: Path) -> list[str]:
    return [t for t in LINKED if (folder / f"{t}.parquet").is_file()]


@pytest.fixture(scope="module")
def cube(prepared_extract: Path) -> pd.DataFrame:
    return compute_cube(prepared_extract, [RD], KEYS)


@pytest.fixture
def copy(prepared_extract: Path, tmp_path: Path) -> Path:
    """A copy of the shared prepared folder that a test may change."""
    return Path(shutil.copytree(prepared_extract, tmp_path / "prepared"))


@pytest.fixture
def matched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the times the engine matches ``patient_id`` text (one per load)."""
    calls: list[int] = []
    original = engines._patient_codes

    def counting(*args: object) -> object:
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(engines, "_patient_codes", counting)
    return calls


def test_prepare_writes_each_linked_rows_patient(prepared_extract):
    ids = pq.read_table(prepared_extract / "patients.parquet", columns=["patient_id"])
    digest = text_sha256(ids["patient_id"])
    for table in ["patients", *_linked_files(prepared_extract)]:
        meta = pq.read_metadata(prepared_extract / f"{table}.parquet").metadata
        assert meta[PATIENTS_DIGEST.encode()].decode() == digest, table
    assert _linked_files(prepared_extract)
    for table in _linked_files(prepared_extract):
        data = pq.read_table(
            prepared_extract / f"{table}.parquet", columns=["patient_id", PATIENT_ROW]
        )
        assert data.schema.field(PATIENT_ROW).type == pa.int32()
        found = ids["patient_id"].take(data[PATIENT_ROW]).cast(pa.string())
        pd.testing.assert_series_equal(
            found.to_pandas(), data["patient_id"].cast(pa.string()).to_pandas(), check_names=False
        )


def test_the_engine_links_by_row_without_matching_ids(prepared_extract, cube, matched):
    again = compute_cube(prepared_extract, [RD], KEYS)
    assert matched == []
    pd.testing.assert_frame_equal(again, cube)


def test_tables_without_the_rows_are_matched_by_id_to_the_same_cube(copy, cube, matched):
    for table in _linked_files(copy):
        path = copy / f"{table}.parquet"
        pq.write_table(pq.read_table(path).drop_columns([PATIENT_ROW]), path)
    pd.testing.assert_frame_equal(compute_cube(copy, [RD], KEYS), cube)
    assert matched == [1]


def test_patients_rewritten_in_another_order_are_matched_by_id(copy, cube, matched):
    patients = pd.read_parquet(copy / "patients.parquet")
    patients.iloc[::-1].to_parquet(copy / "patients.parquet", index=False)
    pd.testing.assert_frame_equal(compute_cube(copy, [RD], KEYS), cube)
    assert matched == [1]


def test_linked_tables_of_another_run_are_matched_by_id(copy, cube, matched):
    path = copy / "screening.parquet"
    data = pq.read_table(path)
    with pq.ParquetWriter(path, data.schema) as out:  # the rows kept, another digest
        out.write_table(data)
        out.add_key_value_metadata({PATIENTS_DIGEST: "0" * 64})
    pd.testing.assert_frame_equal(compute_cube(copy, [RD], KEYS), cube)
    assert matched == [1]


def test_a_row_outside_the_patients_is_refused(copy):
    path = copy / "screening.parquet"
    data = pq.read_table(path)
    n = pq.read_metadata(copy / "patients.parquet").num_rows
    rows = pa.array([n] * len(data), type=pa.int32())
    data = data.set_column(data.schema.get_field_index(PATIENT_ROW), PATIENT_ROW, rows)
    digest = pq.read_metadata(path).metadata[PATIENTS_DIGEST.encode()]
    with pq.ParquetWriter(path, data.schema) as out:
        out.write_table(data)
        out.add_key_value_metadata({PATIENTS_DIGEST: digest})
    with pytest.raises(ExtractError, match=r"screening.*patient_row.*run 'bsol prepare' again"):
        compute_cube(copy, [RD], KEYS)


def test_the_row_column_is_optional_in_the_schemas():
    frame = pd.DataFrame(
        {
            "patient_id": pd.Series(["p1"], dtype="str"),
            "attendance_date": pd.Series(["2024-01-02"], dtype="datetime64[s]"),
        }
    )
    validate_processed("ed_attendances", frame)
    validate_processed(
        "ed_attendances", frame.assign(**{PATIENT_ROW: pd.Series([0], dtype="int32")})
    )
    with pytest.raises(ExtractError, match=PATIENT_ROW):
        validate_processed(
            "ed_attendances", frame.assign(**{PATIENT_ROW: pd.Series([-1], dtype="int32")})
        )


@given(st.lists(st.text(max_size=6), max_size=30), st.integers(0, 30))
def test_the_digest_of_ids_does_not_depend_on_their_chunks(ids, cut):
    cut = min(cut, len(ids))
    whole = text_sha256(pa.array(ids, type=pa.string()))
    chunked = pa.chunked_array([ids[:cut], ids[cut:]], type=pa.string())
    assert text_sha256(chunked) == whole
    assert text_sha256(pa.array(ids, type=pa.large_string())) == whole
    assert text_sha256(pa.array(["", *ids], type=pa.string())) != whole
