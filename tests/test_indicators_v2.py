"""Known answers for the contract version 2 indicators (reporting date 2025-03-31).

Each case is one patient; ``expect`` maps an indicator to (denominator, numerator) counts
in the cube for that patient alone (the cube is keyed by the patient's ``case`` column).
Mortality indicators count deaths outside their denominator, so a death is ``(0, 1)``.
The cases, and the window bounds they test, are in ``helpers/known_answers_v2.py``.
"""

from __future__ import annotations

import pandas as pd
import pytest
from helpers import REPORTING_DATE as RD
from helpers.known_answers_v2 import CASES, DEAD, DM, Case, born

from bsol_analytics.errors import ParameterError
from bsol_analytics.indicators import (
    DEFINITIONS,
    computable_indicators,
    compute_cube,
    patient_flags,
)
from bsol_analytics.indicators.mortality import (
    LE_MIN_DEATHS,
    LE_MIN_PERSON_YEARS,
    life_expectancy_size_ok,
    life_table_counts,
)


@pytest.fixture(scope="module")
def cube(build_v2_extract) -> pd.DataFrame:
    return compute_cube(build_v2_extract(), RD, ["case"])


EXPECTATIONS = [
    pytest.param(n, indicator, want, id=f"{case.name} [{indicator}]")
    for n, case in enumerate(CASES)
    for indicator, want in case.expect.items()
]


@pytest.mark.parametrize(("n", "indicator", "want"), EXPECTATIONS)
def test_known_answer(cube: pd.DataFrame, n: int, indicator: str, want: tuple[int, int]):
    rows = cube[(cube["case"] == f"v{n:03d}") & (cube["indicator_id"] == indicator)]
    assert len(rows) <= 1
    got = (int(rows["denominator"].sum()), int(rows["numerator"].sum()))
    assert got == want


def test_every_version2_indicator_has_known_answers():
    from helpers.known_answers import CASES as V1_CASES

    covered = {i for case in [*CASES, *V1_CASES] for i in case.expect}
    assert covered == set(DEFINITIONS)


@pytest.mark.parametrize(
    ("events", "want"),
    [
        ([("2020-01-01", "DMTYPE1_COD"), ("2022-01-01", "DMTYPE2_COD")], "Type 2"),
        ([("2022-01-01", "DMTYPE1_COD"), ("2020-01-01", "DMTYPE2_COD")], "Type 1"),
        ([("2022-01-01", "DMTYPE1_COD"), ("2022-01-01", "DMTYPE2_COD")], "Unknown"),
        ([("2020-01-01", "DMTYPE1_COD"), ("2025-04-01", "DMTYPE2_COD")], "Type 1"),
        ([], "Unknown"),
    ],
    ids=["type 1 then later type 2", "type 2 then type 1", "same day", "after RD", "none"],
)
def test_diabetes_type(build_v2_extract, events, want):
    case = Case("t", {}, events=[*DM, *((d, c, None) for d, c in events)])
    cube = compute_cube(build_v2_extract([case]), RD, ["diabetes_type"], indicators=["DM_PREV"])
    assert cube["diabetes_type"].tolist() == [want]


def test_dm_prev_by_type_keeps_its_denominator(build_v2_extract):
    cases = [
        Case("t1", {}, events=[*DM, ("2020-01-01", "DMTYPE1_COD", None)]),
        Case("t2", {}, events=[*DM, ("2020-01-01", "DMTYPE2_COD", None)]),
        Case("t2 again", {}, events=[*DM, ("2021-01-01", "DMTYPE2_COD", None)]),
        Case("no diabetes", {}),
        Case("child", {}, {"date_of_birth": born(10)}, events=DM),
    ]
    keys = ["diabetes_type"]
    cube = compute_cube(build_v2_extract(cases), RD, keys, indicators=["DM_PREV", "DM_HBA1C_58"])
    prev = cube[cube["indicator_id"] == "DM_PREV"].set_index("diabetes_type")
    pd.testing.assert_series_equal(
        prev["numerator"], pd.Series({"Type 1": 1, "Type 2": 2, "Unknown": 0}, name="numerator"),
        check_names=False, check_index_type=False,
    )  # fmt: skip
    assert prev["denominator"].tolist() == [4, 4, 4]  # all registered aged 17+
    hba1c = cube[cube["indicator_id"] == "DM_HBA1C_58"].set_index("diabetes_type")
    assert hba1c["denominator"].to_dict() == {"Type 1": 1, "Type 2": 2}


def test_le_birth_counts_by_life_table_band_and_sex(build_v2_extract):
    cases = [
        Case("infant death", {}, {"date_of_birth": "2024-05-01", **DEAD}),
        Case("baby", {}, {"date_of_birth": "2024-06-01", "sex": "F"}),
        Case("age 1 at RD", {}, {"date_of_birth": born(1)}),
        Case("age 92 death", {}, {"date_of_birth": "1932-01-01", **DEAD}),
    ]
    tables = build_v2_extract(cases)
    tables["patients"]["sex"] = ["M", "F", "M", "M"]
    cube = compute_cube(tables, RD, ["sex", "le_age_band"], indicators=["LE_BIRTH"])
    got = cube[["sex", "le_age_band", "numerator", "denominator"]].values.tolist()
    assert got == [["F", "0", 0, 1], ["M", "0", 1, 0], ["M", "1-4", 0, 1], ["M", "90+", 1, 0]]
    table = life_table_counts(cube)
    assert len(table) == 40 and table["person_years"].sum() == 6
    males = table[table["sex"] == "M"].set_index("age_band")
    assert males.loc["0", "deaths"] == 1 and males.loc["1-4", "person_years"] == 3


@pytest.mark.parametrize(
    ("population", "deaths", "ok"),
    [(1667, 50, True), (1666, 50, False), (2000, 49, False)],
    ids=["5,001 person-years", "4,998 person-years (just under)", "49 deaths"],
)
def test_life_expectancy_size_rule(population, deaths, ok):
    assert (LE_MIN_PERSON_YEARS, LE_MIN_DEATHS) == (5000, 50)
    counts = pd.DataFrame(
        {
            "area": "A",
            "age_band": ["0", "1-4"],
            "deaths": [deaths, 0],
            "person_years": [3 * population, 0],
        }
    )
    result = life_expectancy_size_ok(counts, ["area"])
    assert result["computable"].tolist() == [ok]


def test_mortality_flags_count_deaths_outside_the_denominator(build_v2_extract):
    flags = patient_flags(build_v2_extract(CASES), RD, indicators=["MORT_CANCER_U75"])
    death = flags[flags["patient_id"] == "v{:03d}".format(
        next(n for n, c in enumerate(CASES) if c.name == "cancer death aged 74"))]  # fmt: skip
    assert death[["denominator", "numerator"]].values.tolist() == [[False, True]]


def test_version1_tables_skip_the_version2_indicators(build_extract):
    v1 = build_extract()
    ok, skipped = computable_indicators(v1)
    assert set(skipped) == {
        "HYP_CHOL_RANGE", "HYP_BP_CHOL", "DM_3TT", "EOL_ED_3PLUS", "EOL_ED_MEAN", "CVD_LLT",
        "CVD_CHOL_RANGE", "ACSC_EMERG", "MORT_CANCER_U75",
    }  # fmt: skip
    assert skipped["ACSC_EMERG"] == "the admissions table has no primary_diagnosis column"
    assert skipped["CVD_LLT"] == "the extract has no medications table"
    assert "cholesterol" in skipped["HYP_CHOL_RANGE"]
    cube = compute_cube(v1, RD, None)
    assert set(cube["indicator_id"]) == set(ok)
    with pytest.raises(ParameterError, match="DM_3TT needs prescribing"):
        compute_cube(v1, RD, None, indicators=["DM_3TT"])


def test_version2_tables_compute_everything(combined_extract):
    ok, skipped = computable_indicators(combined_extract())
    assert skipped == {} and ok == list(DEFINITIONS)
