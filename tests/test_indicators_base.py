"""Month arithmetic, ages, bands, parameter checks and invariants of the cube."""

from __future__ import annotations

import datetime as dt

import hypothesis.strategies as st
import narwhals as nw
import pandas as pd
import pytest
from helpers import REPORTING_DATE as RD
from helpers.known_answers import Case
from hypothesis import HealthCheck, given, settings

from bsol_analytics.errors import ExtractError, ParameterError
from bsol_analytics.indicators import compute_cube, load_tables, months_before, patient_flags
from bsol_analytics.indicators.base import whole_years


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2024-08-31", 6, "2024-02-29"),
        ("2025-08-31", 6, "2025-02-28"),
        ("2025-03-31", 1, "2025-02-28"),
        ("2025-03-31", 12, "2024-03-31"),
        ("2025-03-31", 42, "2021-09-30"),
        ("2025-03-31", 66, "2019-09-30"),
        ("2025-01-15", 1, "2024-12-15"),
        ("2025-03-31", 0, "2025-03-31"),
    ],
)
def test_months_before(day, months, expected):
    got = months_before(dt.date.fromisoformat(day), months)
    assert got == dt.date.fromisoformat(expected)


@pytest.mark.parametrize(
    ("born", "at", "age"),
    [
        ("2008-02-29", "2025-02-28", 16),
        ("2008-02-29", "2025-03-01", 17),
        ("2008-02-29", "2024-02-29", 16),
        ("1945-03-31", "2025-03-31", 80),
        ("1945-04-01", "2025-03-31", 79),
        ("2025-03-31", "2025-03-31", 0),
    ],
)
def test_whole_years(born, at, age):
    df = nw.from_native(pd.DataFrame({"b": pd.to_datetime([born]), "a": pd.to_datetime([at])}))
    by_column = df.select(whole_years(nw.col("b"), nw.col("a")).alias("x"))["x"].item()
    by_date = df.select(whole_years(nw.col("b"), dt.date.fromisoformat(at)).alias("x"))["x"]
    assert by_column == by_date.item() == age


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"engine": "polars"}, ParameterError, "Unknown engine 'polars'"),
        ({"indicators": ["HYP_PREV", "NOPE"]}, ParameterError, "Unknown indicator id"),
        ({"reporting_dates": "2025-13-01"}, ParameterError, "not a date"),
        ({"reporting_dates": []}, ParameterError, "at least one reporting date"),
        ({"keys": ["date_of_birth"]}, ParameterError, "cannot be used as a key"),
        ({"keys": ["no_such_column"]}, ParameterError, "cannot be used as a key"),
        ({"keys": 5}, ParameterError, "keys must be a column name"),
        ({"tables": [1, 2]}, ParameterError, "folder of prepared Parquet files or a dict"),
    ],
)
def test_parameter_errors(build_extract, kwargs, error, match):
    args = {"tables": build_extract(), "reporting_dates": RD, "keys": None} | kwargs
    with pytest.raises(error, match=match):
        compute_cube(**args)


def test_missing_column_names_table_and_column(build_extract):
    tables = build_extract()
    tables["clinical_events"] = tables["clinical_events"].drop(columns="cluster")
    with pytest.raises(ExtractError, match="Table 'clinical_events', column 'cluster'"):
        compute_cube(tables, RD, None)


def test_missing_table_is_refused(build_extract):
    tables = build_extract()
    del tables["screening"]
    with pytest.raises(ExtractError, match="Table 'screening'"):
        compute_cube(tables, RD, None)


def test_duplicate_patient_ids_are_refused(build_extract):
    tables = build_extract()
    tables["patients"] = pd.concat([tables["patients"], tables["patients"].head(1)])
    with pytest.raises(ExtractError, match=r"patient_id.*must be unique"):
        compute_cube(tables, RD, None)


def test_unreadable_dates_are_refused(build_extract):
    tables = build_extract()
    tables["screening"] = tables["screening"].assign(test_date="not a date")
    with pytest.raises(ExtractError, match="Table 'screening', column 'test_date'"):
        compute_cube(tables, RD, None)


def _as_iso_text(df: pd.DataFrame) -> pd.DataFrame:
    dates = [c for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c])]
    return df.assign(**{c: df[c].dt.strftime("%Y-%m-%d").astype("object") for c in dates})


def _as_date_objects(df: pd.DataFrame) -> pd.DataFrame:
    dates = [c for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c])]
    return df.assign(**{c: df[c].dt.date.astype("object") for c in dates})


def _as_seconds(df: pd.DataFrame) -> pd.DataFrame:
    dates = [c for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c])]
    return df.assign(**{c: df[c].astype("datetime64[s]") for c in dates})


@pytest.mark.parametrize("convert", [_as_iso_text, _as_date_objects, _as_seconds])
def test_dates_in_any_typed_or_iso_form_give_the_same_cube_without_warnings(
    build_extract, convert, recwarn
):
    tables = build_extract()
    expected = compute_cube(tables, RD, ["sex"])
    converted = {name: convert(df) for name, df in tables.items()}
    before = {name: df.copy() for name, df in converted.items()}
    got = compute_cube(converted, RD, ["sex"])
    pd.testing.assert_frame_equal(got, expected)
    for name, df in converted.items():  # the caller's frames are untouched
        pd.testing.assert_frame_equal(df, before[name])
    parse_warnings = [w for w in recwarn if "infer format" in str(w.message)]
    assert not parse_warnings


@pytest.mark.parametrize(
    ("values", "rows", "example"),
    [
        (["2024-13-02"], [1], "'2024-13-02'"),
        (["02/01/2024"], [1], "'02/01/2024'"),
        (["2024-01-02", "soon", None, "later"], [2, 4], "'soon'"),
    ],
)
def test_unreadable_dates_name_rows_and_an_example(build_extract, values, rows, example, recwarn):
    tables = build_extract()
    tables["screening"] = tables["screening"].head(len(values)).assign(test_date=values)
    with pytest.raises(ExtractError, match="Table 'screening', column 'test_date'") as info:
        compute_cube(tables, RD, None)
    assert info.value.rows == rows
    assert example in str(info.value)
    assert not [w for w in recwarn if "infer format" in str(w.message)]


def test_missing_folder_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        load_tables(tmp_path / "nothing")
    with pytest.raises(ExtractError, match="Table 'patients'"):
        load_tables(tmp_path)


def test_without_admissions_eol_3plus_is_not_computed(build_extract):
    tables = build_extract(admissions=False)
    cube = compute_cube(tables, RD, None)
    assert "EOL_3PLUS_EMERG" not in set(cube["indicator_id"])
    with pytest.raises(ParameterError, match="needs hospital admissions"):
        compute_cube(tables, RD, None, indicators=["EOL_3PLUS_EMERG"])


def test_empty_admissions_table_counts_as_not_supplied(build_extract, tmp_path):
    tables = build_extract()
    tables["admissions"] = tables["admissions"].head(0)
    assert "EOL_3PLUS_EMERG" not in set(compute_cube(tables, RD, None)["indicator_id"])
    for name, df in build_extract().items():
        df.to_parquet(tmp_path / f"{name}.parquet", index=False)
    (tmp_path / "prepare_manifest.json").write_text('{"admissions_supplied": false}')
    assert "EOL_3PLUS_EMERG" not in set(compute_cube(tmp_path, RD, None)["indicator_id"])


def test_callers_frames_are_not_modified(build_extract):
    tables = build_extract()
    before = {name: df.copy() for name, df in tables.items()}
    compute_cube(tables, RD, ["practice_locality", "age_band"])
    patient_flags(tables, RD)
    for name, df in tables.items():
        pd.testing.assert_frame_equal(df, before[name])


def test_events_for_unknown_patients_are_ignored(build_extract):
    tables = build_extract([Case("a", {}, events=[("2010-01-01", "HYP_COD", None)])])
    ghost = pd.DataFrame(
        {
            "patient_id": ["ghost"],
            "event_date": pd.to_datetime(["2010-01-01"]),
            "cluster": ["HYP_COD"],
            "numeric_value": [float("nan")],
        }
    )
    tables["clinical_events"] = pd.concat([tables["clinical_events"], ghost], ignore_index=True)
    cube = compute_cube(tables, RD, None, indicators=["HYP_PREV"])
    assert cube[["numerator", "denominator"]].to_numpy().tolist() == [[1, 1]]


ages = st.integers(min_value=0, max_value=100)
people = st.lists(
    st.tuples(ages, st.sampled_from(["F", "M"]), st.sampled_from(["North", "South", None]),
              st.booleans(), st.integers(100, 180)),
    min_size=1,
    max_size=25,
)  # fmt: skip


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people)
def test_totals_do_not_depend_on_the_keys(build_extract, rows):
    cases = [
        Case(
            "p",
            {},
            {"date_of_birth": f"{2024 - a}-06-15", "sex": s, "practice_locality": loc},
            events=[("2020-01-01", "HYP_COD", None)] * hyp
            + [("2025-01-01", "SBP", sbp), ("2025-01-01", "DBP", 80.0)],
            screening=[("bowel", "2024-01-01", "adequate")],
        )
        for a, s, loc, hyp, sbp in rows
    ]
    tables = build_extract(cases)
    total = compute_cube(tables, RD, None)
    by_keys = compute_cube(tables, RD, ["practice_locality", "sex", "age_band"])
    summed = by_keys.groupby(["reporting_date", "indicator_id"], sort=False, as_index=False)[
        ["numerator", "denominator"]
    ].sum()
    pd.testing.assert_frame_equal(summed, total)
    assert (by_keys["numerator"] <= by_keys["denominator"]).all()
    assert (by_keys["denominator"] > 0).all()


def test_loaded_tables_are_reused_and_tied_to_their_engine(build_extract, tmp_path):
    for name, df in build_extract().items():
        df.to_parquet(tmp_path / f"{name}.parquet", index=False)
    frames = load_tables(tmp_path, "pandas")
    first = compute_cube(frames, RD, ["sex"])
    pd.testing.assert_frame_equal(compute_cube(frames, RD, ["sex"]), first)
    with pytest.raises(ParameterError, match="loaded for the pandas engine, not duckdb"):
        compute_cube(frames, RD, ["sex"], engine="duckdb")
