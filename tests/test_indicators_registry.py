"""The indicator registry and the expected-prevalence reference."""

from __future__ import annotations

import pandas as pd
import pytest

from bsol_analytics.errors import ParameterError
from bsol_analytics.indicators import (
    AGE_BANDS,
    DEFINITIONS,
    expected_prevalence,
    get_indicator,
    list_indicators,
    registry_frame,
)

CONTRACT_IDS = [
    "HYP_PREV", "HYP_BP_TARGET", "HYP_BP_CHECK_45", "HYP_POSSIBLE", "DM_PREV", "DM_HBA1C_58",
    "COPD_PREV", "COPD_REVIEW", "PC_REG", "EOL_HOME_CARE_HOME", "EOL_HOSPITAL", "EOL_ON_PC_REG",
    "EOL_3PLUS_EMERG", "SCR_BREAST", "SCR_CERVICAL_25_49", "SCR_CERVICAL_50_64", "SCR_BOWEL",
]  # fmt: skip
#: Version 2 ids, in registry order (families: hypertension, diabetes, end of life, then
#: cardiovascular, unplanned admissions and mortality after screening).
V2_ORDER = [
    "HYP_PREV", "HYP_BP_TARGET", "HYP_BP_CHECK_45", "HYP_POSSIBLE", "HYP_CHOL_RANGE",
    "HYP_BP_CHOL", "DM_PREV", "DM_HBA1C_58", "DM_BP_140_80", "DM_3TT", "COPD_PREV",
    "COPD_REVIEW", "PC_REG", "EOL_HOME_CARE_HOME", "EOL_HOSPITAL", "EOL_ON_PC_REG",
    "EOL_3PLUS_EMERG", "EOL_CARE_PLAN", "EOL_ED_3PLUS", "EOL_ED_MEAN", "SCR_BREAST",
    "SCR_CERVICAL_25_49", "SCR_CERVICAL_50_64", "SCR_BOWEL", "CVD_LLT", "CVD_CHOL_RANGE",
    "ACSC_EMERG", "MORT_CANCER_U75", "LE_BIRTH",
]  # fmt: skip
V2_IDS = [i for i in V2_ORDER if i not in CONTRACT_IDS]


def test_registry_and_definitions_cover_the_contract_in_the_same_order():
    assert [i.id for i in list_indicators()] == V2_ORDER
    assert list(DEFINITIONS) == V2_ORDER
    assert [i for i in V2_ORDER if i in CONTRACT_IDS] == CONTRACT_IDS


@pytest.mark.parametrize("info", list_indicators(), ids=lambda i: i.id)
def test_metadata_is_complete(info):
    assert info.polarity in {"higher is better", "lower is better", "no judgement"}
    kinds = {
        "proportion": (100, "%"),
        "rate": (1, "attendances per decedent"),
        "dsr": (100_000, "per 100,000"),
        "life_expectancy": (1, "years"),
    }
    assert (info.multiplier, info.unit) == kinds[info.statistic]
    if info.id in CONTRACT_IDS:
        assert info.statistic == "proportion"
    for text in (info.title, info.short_title, info.definition, info.numerator,
                 info.denominator, info.source_rules, info.caveats):  # fmt: skip
        assert isinstance(text, str) and text.strip()
    assert info.population == DEFINITIONS[info.id].population
    assert info.needs_admissions == DEFINITIONS[info.id].needs_admissions
    if info.england_value is None:
        assert info.england_source is None and info.england_year is None
    else:
        assert 0 < info.england_value < 100 and info.england_source and info.england_year


@pytest.mark.parametrize(
    ("indicator", "low", "high", "year"),
    [
        ("HYP_PREV", 13.5, 15.5, "2023-24"),
        ("DM_PREV", 6.5, 7.5, "2019-20"),
        ("COPD_PREV", 1.7, 2.1, "2019-20"),
        ("PC_REG", 0.3, 0.7, "2019-20"),
    ],
)
def test_england_comparators_come_from_data_raw(indicator, low, high, year):
    info = get_indicator(indicator)
    assert low < info.england_value < high
    assert info.england_year == year
    assert "data/raw" in info.england_source


def test_unknown_indicator_is_a_parameter_error():
    with pytest.raises(ParameterError, match="Unknown indicator id 'NOPE'"):
        get_indicator("NOPE")


def test_registry_frame_is_one_row_per_indicator():
    frame = registry_frame()
    pd.testing.assert_series_equal(frame["id"], pd.Series(V2_ORDER, name="id"))
    assert frame is not registry_frame()


def test_expected_prevalence_shape():
    ref = expected_prevalence()
    assert list(ref.columns) == [
        "condition", "indicator_id", "sex", "age_band", "prevalence", "source",
    ]  # fmt: skip
    hyp = ref[ref["condition"] == "hypertension"]
    assert len(hyp) == 2 * len(AGE_BANDS)
    assert set(hyp["indicator_id"]) == {"HYP_PREV"}
    assert hyp["prevalence"].between(0, 1).all()
    men = hyp[hyp["sex"] == "M"].set_index("age_band")["prevalence"]
    assert men["0-4"] == men["10-14"] == 0
    assert men["15-19"] == men["30-34"] == 0.05 and men["35-39"] == 0.23
    assert men["75-79"] == men["90+"] == 0.66
    women = hyp[hyp["sex"] == "F"].set_index("age_band")["prevalence"]
    assert women["55-59"] == 0.31 and women["90+"] == 0.71


def test_expected_prevalence_covers_the_three_registers():
    every = expected_prevalence()
    assert sorted(every["indicator_id"].unique()) == ["COPD_PREV", "DM_PREV", "HYP_PREV"]
    assert len(every) == 3 * 2 * 19
    copd = expected_prevalence("copd").set_index(["sex", "age_band"])["prevalence"]
    assert copd[("M", "10-14")] == 0 and copd[("M", "75-79")] == 0.1165


def test_expected_prevalence_unsourced_condition_is_refused():
    with pytest.raises(ParameterError, match="No expected-prevalence reference for 'asthma'"):
        expected_prevalence("asthma")


@pytest.mark.parametrize("indicator", V2_IDS)
def test_version2_metadata(indicator):
    info = get_indicator(indicator)
    assert set(info.needs) == set(DEFINITIONS[indicator].needs)
    assert info.england_value is None
    assert info.england_note, "every new indicator says whether England has a figure"
    if indicator != "LE_BIRTH":
        assert "No published England figure" in info.england_note


def test_life_expectancy_note_quotes_england_by_sex_with_period():
    note = get_indicator("LE_BIRTH").england_note
    assert "2022-24" in note and "males 79.5" in note and "females 83.3" in note


def test_mean_and_rates_name_their_ci_method():
    assert get_indicator("EOL_ED_MEAN").ci_method == "byar"
    assert get_indicator("ACSC_EMERG").age_range == (0, 200)
    assert get_indicator("MORT_CANCER_U75").age_range == (0, 74)
