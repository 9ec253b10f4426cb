"""Known answers for every indicator on a hand-built extract (reporting date 2025-03-31).

Each case is one patient with the events that matter for one rule and the expected
(in denominator, in numerator) per indicator; the cases, and the window bounds they test,
are in ``helpers/known_answers.py``.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from helpers import REPORTING_DATE as RD
from helpers.known_answers import CASES, Case, born

from bsol_analytics.indicators import compute_cube, patient_flags


@pytest.fixture(scope="module")
def flags(build_extract) -> pd.DataFrame:
    return patient_flags(build_extract(), RD)


EXPECTATIONS = [
    pytest.param(n, indicator, want, id=f"{case.name} [{indicator}]")
    for n, case in enumerate(CASES)
    for indicator, want in case.expect.items()
]


@pytest.mark.parametrize(("n", "indicator", "want"), EXPECTATIONS)
def test_known_answer(flags: pd.DataFrame, n: int, indicator: str, want: tuple[bool, bool]):
    rows = flags[(flags["patient_id"] == f"c{n:03d}") & (flags["indicator_id"] == indicator)]
    got = (len(rows) == 1, bool(rows["numerator"].any()))
    assert len(rows) <= 1
    assert got == want


def test_every_indicator_has_known_answers():
    from helpers.known_answers_v2 import CASES as V2_CASES

    from bsol_analytics.indicators import DEFINITIONS

    covered = {i for case in CASES for i in case.expect}
    v2_only = {i for case in V2_CASES for i in case.expect} - covered
    assert covered | v2_only == set(DEFINITIONS)


def test_cube_matches_flags(build_extract):
    flags = patient_flags(build_extract(), RD, keys=["practice_locality"])
    cube = compute_cube(build_extract(), RD, ["practice_locality"])
    want = (
        flags.groupby(["practice_locality", "indicator_id"], as_index=False)
        .agg(numerator=("numerator", "sum"), denominator=("denominator", "sum"))
        .astype({"numerator": "int64", "denominator": "int64"})
    )
    got = cube.drop(columns="reporting_date").sort_values(["practice_locality", "indicator_id"])
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True),
        want.sort_values(["practice_locality", "indicator_id"]).reset_index(drop=True),
        check_dtype=False,
    )


def test_age_band_at_death_for_end_of_life(build_extract):
    case = Case(
        "dies aged 79, would be 80 at RD",
        {},
        {"date_of_birth": "1944-10-02", "date_of_death": "2024-10-01", "place_of_death": "home"},
    )
    cube = compute_cube(
        build_extract([case]), RD, ["age_band", "sex"], indicators=["EOL_HOME_CARE_HOME"]
    )
    want = pd.DataFrame(
        {
            "reporting_date": pd.to_datetime([RD]).astype("datetime64[ns]"),
            "age_band": ["75-79"],
            "sex": ["M"],
            "indicator_id": ["EOL_HOME_CARE_HOME"],
            "numerator": [1],
            "denominator": [1],
        }
    )
    pd.testing.assert_frame_equal(cube, want, check_dtype=False)


def test_age_band_at_rd_for_registered(build_extract):
    cases = [Case("a", {}, {"date_of_birth": born(age)}) for age in (0, 4, 5, 89, 90, 101)]
    cube = compute_cube(build_extract(cases), RD, ["age_band"], indicators=["HYP_PREV"])
    expected = pd.Series(["0-4", "5-9", "85-89", "90+"], name="age_band")
    pd.testing.assert_series_equal(cube["age_band"], expected)
    pd.testing.assert_series_equal(
        cube["denominator"], pd.Series([2, 1, 1, 2], name="denominator", dtype="int64")
    )


def test_several_reporting_dates_in_one_call(build_extract):
    cases = [Case("dx 2024-06-01", {}, events=[("2024-06-01", "HYP_COD", None)])]
    cube = compute_cube(
        build_extract(cases), ["2025-03-31", dt.date(2024, 3, 31)], None, indicators=["HYP_PREV"]
    )
    want = pd.DataFrame(
        {
            "reporting_date": pd.to_datetime(["2024-03-31", "2025-03-31"]).astype("datetime64[ns]"),
            "indicator_id": ["HYP_PREV", "HYP_PREV"],
            "numerator": [0, 1],
            "denominator": [1, 1],
        }
    )
    pd.testing.assert_frame_equal(cube, want)
