"""Version 2 pack sections: measures 12, 13, 15, 16, cancer mortality, the life-expectancy gap.

The frames are the demonstration pack tables (the real pipeline, ``pack_tables``) with rows
added for the statistics that are not proportions (Byar rate per decedent, DSR per 100,000,
life expectancy by sex and by IMD decile, its slope index) and for the diabetes type
breakdown, in the tidy shape the table layer writes.
"""

from __future__ import annotations

import dataclasses
import re
import shutil

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics import report
from bsol_analytics.packs import tables as pack_tables_mod
from bsol_analytics.report import sections, selection
from bsol_analytics.vocabulary import BSOL, DECILE_LABELS, ETHNICITY_BROAD, QUINTILE_LABELS

AREA = "East"
NEW_IDS = ("EOL_ED_MEAN", "ACSC_EMERG", "MORT_CANCER_U75", "LE_BIRTH", "LE_SII")


def _row(ind: str, area: str, breakdown: str, group: str, value: float, **extra) -> dict:
    half = extra.pop("half", 1.0)
    return {
        "indicator_id": ind,
        "area_type": "BSOL" if area == BSOL else "locality",
        "area": area,
        "breakdown": breakdown,
        "group": group,
        "value": value,
        "lower": value - half,
        "upper": value + half,
        "numerator": extra.pop("numerator", 100.0),
        "denominator": extra.pop("denominator", 1000.0),
        "suppressed": extra.pop("suppressed", False),
        "suppression_reason": extra.pop("reason", None),
        **extra,
    }


#: Proportion indicators given overall, deprivation and ethnic-group rows.
PROPORTION_IDS = (
    "HYP_PREV",
    "HYP_BP_TARGET",
    "HYP_CHOL_RANGE",
    "HYP_BP_CHOL",
    "CVD_LLT",
    "CVD_CHOL_RANGE",
    "DM_PREV",
    "DM_HBA1C_58",
    "DM_BP_140_80",
    "DM_3TT",
    "EOL_CARE_PLAN",
    "EOL_ED_3PLUS",
)


def _general_rows(ind: str, value: float, half: float) -> list[dict]:
    """Overall, IMD quintile and ethnic-group rows of one indicator for East and BSOL."""
    rows = []
    for area, shift in ((AREA, 0.0), (BSOL, 1.0)):
        rows.append(_row(ind, area, "overall", "All", value - shift, half=half))
        rows += [
            _row(ind, area, "imd_quintile", q, value * (1.2 - 0.1 * n), half=half * 2)
            for n, q in enumerate(QUINTILE_LABELS)
        ]
        rows += [
            _row(ind, area, "ethnicity_broad", g, value * (0.9 + 0.05 * n), half=half * 2)
            for n, g in enumerate(ETHNICITY_BROAD[:3])
        ]
    return rows


def _v2_rows(rd: pd.Timestamp) -> pd.DataFrame:
    rows = [r for n, i in enumerate(PROPORTION_IDS) for r in _general_rows(i, 40.0 + n, 1.0)]
    rows += _general_rows("ACSC_EMERG", 812.4, 40.0)
    rows += _general_rows("MORT_CANCER_U75", 131.0, 15.0)
    for area, shift in ((AREA, 0.0), (BSOL, 1.0)):
        rows.append(
            _row(
                "EOL_ED_MEAN",
                area,
                "overall",
                "All",
                2.94 + shift / 10,
                numerator=294,
                denominator=100,
                half=0.2,
            )
        )
        for sex, base in (("Female", 82.1), ("Male", 77.9)):
            rows.append(_row("LE_BIRTH", area, "sex", sex, base - shift, half=0.6))
            rows.append(_row("LE_SII", area, "sex", sex, 8.6 + shift, half=1.5))
            rows += [
                _row("LE_BIRTH", area, "imd_decile*sex", f"{d} | {sex}", base - 4.5 + n, half=1.0)
                for n, d in enumerate(DECILE_LABELS)
            ]
        for ind, (t1, t2) in {
            "DM_3TT": (22.0, 41.0),
            "DM_HBA1C_58": (31.0, 62.0),
            "DM_BP_140_80": (60.0, 61.0),
        }.items():
            rows.append(_row(ind, area, "diabetes_type", "Type 1", t1, half=4.0))
            rows.append(_row(ind, area, "diabetes_type", "Type 2", t2, half=1.5))
    frame = pd.DataFrame(rows)
    earlier = frame[frame["breakdown"] == "overall"].assign(
        value=lambda f: f["value"] * 1.3,
        lower=lambda f: f["lower"] * 1.3,
        upper=lambda f: f["upper"] * 1.3,
        reporting_date=rd - pd.DateOffset(years=1),
    )
    return pd.concat([frame.assign(reporting_date=rd), earlier], ignore_index=True)


def constructed_pack(rd: str = "2025-03-31") -> report.PackData:
    """A PackData built by hand with the version 2 rows the table layer writes."""
    ind = _v2_rows(pd.Timestamp(rd))
    bsol = ind[ind["area"] == BSOL][["indicator_id", "breakdown", "group", "reporting_date"]]
    bsol = bsol.assign(comparator_value=ind.loc[ind["area"] == BSOL, "value"].to_numpy())
    ind = ind.merge(bsol, on=["indicator_id", "breakdown", "group", "reporting_date"], how="left")
    own = ind["area"] != BSOL
    ind = ind.assign(
        view="practice",
        confidence=0.95,
        method="constructed",
        comparator=np.where(own, BSOL, None),
        comparator_value=ind["comparator_value"].where(own),
        comparison=np.where(own, "similar", "not compared"),
    )
    sii = pd.DataFrame(
        {
            "indicator_id": list(PROPORTION_IDS),
            "area": AREA,
            "value": -4.0,
            "lower": -6.0,
            "upper": -2.0,
        }
    )
    ids = [*PROPORTION_IDS, *NEW_IDS]
    empty = pd.DataFrame()
    return report.PackData(
        indicators=ind,
        meta=pack_tables_mod.indicator_metadata(ids),
        population=empty,
        demography=empty,
        practices=pd.DataFrame(
            columns=["practice_code", "practice_name", "pcn_code", "pcn_name", "locality"]
        ),
        info={
            "reporting_date": rd,
            "view": "practice",
            "imd": "2025",
            "sdc_rule": "Counts of 1 to 7 are suppressed.",
            "data_sources": ["Constructed test frame."],
            "data_quality": ["None."],
            "skipped": {},
        },
        sii=sii,
        wards=pd.DataFrame(columns=list(pack_tables_mod.WARD_COLUMNS)),
    )


@pytest.fixture(scope="module")
def v2() -> report.PackData:
    return constructed_pack()


def _without(data: report.PackData, ids: dict[str, str]) -> report.PackData:
    """``data`` as from an extract that lacked the inputs of ``ids`` (id -> reason)."""
    keep = ~data.indicators["indicator_id"].isin(list(ids))
    return dataclasses.replace(
        data,
        indicators=data.indicators[keep],
        meta=data.meta[~data.meta["indicator_id"].isin(list(ids))],
        info={**data.info, "skipped": ids},
        _cache={},
    )


def _text(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)).replace("&#x27;", "'")


# --- England comparators --------------------------------------------------------------


@pytest.mark.parametrize(
    ("indicator_id", "sex", "value", "period"),
    [
        ("LE_BIRTH", "M", 79.5, "2022-24"),
        ("LE_BIRTH", "F", 83.3, "2022-24"),
        ("LE_SII", "M", 10.4, "2022-24"),
        ("LE_SII", "F", 8.0, "2022-24"),
        ("HYP_PREV", None, 14.42, "2023-24"),
        ("ACSC_EMERG", None, np.nan, selection.NO_ENGLAND),
        ("HYP_BP_CHOL", None, np.nan, selection.NO_ENGLAND),
        ("NOT_AN_ID", None, np.nan, selection.NO_ENGLAND),
    ],
)
def test_england_reference(indicator_id, sex, value, period):
    got_value, got_period = selection.england_reference(indicator_id, sex)
    assert got_period == period
    np.testing.assert_allclose(got_value, value, equal_nan=True)


# --- Measure 12 and the cardiovascular subsection ---------------------------------------


def test_hypertension_section_has_measure_12_and_cardiovascular_subsection(v2):
    out = sections.family_section(v2, AREA, "hypertension")
    text = _text(out)
    assert "Hypertension: blood pressure and cholesterol both in range" in text
    for part in ("by deprivation quintile", "slope index of inequality", "trend"):
        assert re.search(rf"both in range[^.]*{part}|{part}[^.]*both in range", text, re.I)
    cvd = out.index('id="cardiovascular-disease-lipid-lowering-therapy-and-cholesterol"')
    for title in (
        "CVD: on lipid-lowering therapy",
        "CVD: cholesterol in range",
        "Hypertension: cholesterol in range",
    ):
        assert out.index(f">{title}</h4>") > cvd
    assert "England: no published England figure." in text
    assert sections.family_section(v2, AREA, "cardiovascular") == ""


# --- Measure 13: diabetes type ---------------------------------------------------------


@pytest.mark.parametrize(
    ("t1", "t2", "gap", "overlap"),
    [
        ((22.0, 18.0, 26.0), (41.0, 39.5, 42.5), -19.0, False),
        ((60.0, 56.0, 64.0), (61.0, 59.5, 62.5), -1.0, True),
        ((50.0, 45.0, 55.0), (40.0, 39.0, 41.0), 10.0, False),
        ((50.0, 45.0, 55.0), (55.0, 55.0, 56.0), -5.0, True),  # touching limits overlap
    ],
)
def test_type_gap(t1, t2, gap, overlap):
    rows = pd.DataFrame(
        {
            "group": ["Type 1", "Type 2"],
            "value": [t1[0], t2[0]],
            "lower": [t1[1], t2[1]],
            "upper": [t1[2], t2[2]],
            "suppressed": [False, False],
        }
    )
    got = selection.type_gap(rows)
    assert got["gap"] == pytest.approx(gap)
    assert got["overlap"] is overlap


def test_type_gap_suppressed_group_states_no_gap():
    rows = pd.DataFrame(
        {
            "group": ["Type 1", "Type 2"],
            "value": [np.nan, 40.0],
            "lower": [np.nan, 39.0],
            "upper": [np.nan, 41.0],
            "suppressed": [True, False],
        }
    )
    gap = selection.type_gap(rows)
    assert gap["overlap"] is None
    assert "gap is not stated" in sections.type_gap_sentence("All three", AREA, gap)


@settings(max_examples=50, deadline=None)
@given(
    st.floats(0, 100),
    st.floats(0, 10),
    st.floats(0, 100),
    st.floats(0, 10),
)
def test_type_gap_is_difference_and_overlap_symmetric(v1, h1, v2, h2):
    rows = pd.DataFrame(
        {
            "group": ["Type 1", "Type 2"],
            "value": [v1, v2],
            "lower": [v1 - h1, v2 - h2],
            "upper": [v1 + h1, v2 + h2],
            "suppressed": [False, False],
        }
    )
    swapped = rows.assign(group=["Type 2", "Type 1"])
    a, b = selection.type_gap(rows), selection.type_gap(swapped)
    assert a["gap"] == pytest.approx(v1 - v2)
    assert b["gap"] == pytest.approx(-a["gap"])
    assert a["overlap"] is b["overlap"]
    assert a["overlap"] is (abs(v1 - v2) <= h1 + h2)


def test_diabetes_section_states_type_gap_in_words(v2):
    text = _text(sections.family_section(v2, AREA, "diabetes"))
    assert (
        "Diabetes: all three treatment targets in East: 22.0% of people with type 1 diabetes "
        "against 41.0% with type 2, 19.0 percentage points lower for type 1; the 95% "
        "confidence intervals do not overlap" in text
    )
    assert "Diabetes: blood pressure at or below 140/80 in East" in text
    assert "overlap, so the gap may be chance" in text


def test_diabetes_section_without_type_rows_says_so(v2):
    rows = v2.indicators[v2.indicators["breakdown"] != "diabetes_type"]
    data = dataclasses.replace(v2, indicators=rows, _cache={})
    assert "no results by diabetes type for East" in sections.diabetes_type_section(data, AREA)


# --- Measure 15: end of life ------------------------------------------------------------


def test_end_of_life_states_the_mean_as_the_plan_does(v2):
    text = _text(sections.family_section(v2, AREA, "end_of_life"))
    assert (
        "People in East who died in the 12 months to 31 March 2025 attended ED 2.9 times on "
        "average in the 90 days before death (95% CI 2.7 to 3.1; 294 attendances by 100 "
        "people)." in text
    )
    assert "Decedents with an advance or end-of-life care plan" in text
    assert "3+ ED attendances in the last 90 days of life" in text


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (None, "are not in these pack tables for East"),
        (
            {"value": np.nan, "suppressed": True, "suppression_reason": "count of 1 to 7"},
            "cannot be shown after disclosure control (count of 1 to 7)",
        ),
        (
            {
                "value": 3.0,
                "lower": 2.5,
                "upper": 3.5,
                "numerator": 30,
                "denominator": 10,
                "suppressed": False,
                "suppression_reason": None,
            },
            "attended ED 3.0 times on average in the 90 days before death",
        ),
    ],
)
def test_ed_mean_sentence(row, expected):
    series = None if row is None else pd.Series(row)
    assert expected in sections.ed_mean_sentence(series, AREA, "2025-03-31")


# --- Measure 16: unplanned admissions ----------------------------------------------------


def test_unplanned_admissions_section(v2):
    out = sections.family_section(v2, AREA, "unplanned_admissions")
    text = _text(out)
    assert '<h2 id="unplanned-admissions">Unplanned admissions</h2>' in out
    assert (
        "Outcome framework measure 16 (the Better Care Fund metric). East: 812.4 per 100,000 "
        "(95% CI 772.4 to 852.4)." in text
    )
    assert "England: no published England figure." in text
    assert "by deprivation quintile" in text
    assert "trend" in text.lower()
    assert ": practices" not in text  # no binomial funnel for a rate


# --- Life expectancy and inequality ------------------------------------------------------


def test_life_expectancy_section(v2):
    out = sections.family_section(v2, AREA, "mortality")
    text = _text(out)
    assert '<h2 id="life-expectancy-and-inequality">' in out
    assert (
        "Female life expectancy at birth in East is 82.1 years (95% CI 81.5 to 82.7; "
        "England 83.3 (2022-24))." in text
    )
    assert "England 79.5 (2022-24)" in text
    assert (
        "Males in East: life expectancy at birth is 73.4 years in the most deprived tenth of "
        "neighbourhoods and 82.4 in the least deprived, a gap of 9.0 years." in text
    )
    assert "The slope index of inequality is 8.6 years (95% CI 7.1 to 10.1; England 10.4)" in text
    assert (
        "Under 75 mortality from cancer" in text
        or "MORT_CANCER_U75" in out
        or ("cancer" in text.lower())
    )


def test_life_expectancy_by_sex_has_england_with_period(v2):
    le = selection.life_expectancy_by_sex(v2, AREA)
    eng = le[le["area"] == "England"].reset_index(drop=True)
    expected = pd.DataFrame(
        {"sex": ["Female", "Male"], "period": ["2022-24"] * 2, "value": [83.3, 79.5]}
    )
    pdt.assert_frame_equal(eng[["sex", "period", "value"]], expected)
    assert set(le["area"]) == {AREA, BSOL, "England"}


@pytest.mark.parametrize(
    ("method", "suppressed", "expected"),
    [
        ("Chiang II", False, sections.LE_SIZE_RULE),
        (
            "Chiang II; not computable: fewer than 5,000 person-years",
            False,
            "fewer than 5,000 person-years",
        ),
        ("Chiang II", True, "suppressed (primary: count 1-7)"),
    ],
)
def test_life_expectancy_not_shown_where_size_rule_fails(v2, method, suppressed, expected):
    ind = v2.indicators
    small = (ind["indicator_id"] == "LE_BIRTH") & (ind["area"] == AREA)
    ind = ind.assign(
        value=ind["value"].mask(small),
        lower=ind["lower"].mask(small),
        upper=ind["upper"].mask(small),
        method=ind["method"].mask(small, method),
        suppressed=ind["suppressed"].mask(small, suppressed),
        suppression_reason=ind["suppression_reason"].mask(
            small, "primary: count 1-7" if suppressed else None
        ),
    )
    data = dataclasses.replace(v2, indicators=ind, _cache={})
    text = _text(sections.life_expectancy_section(data, AREA))
    assert f"Life expectancy is not shown for East: {expected}." in text
    assert "<img" not in sections.life_expectancy_section(data, AREA)
    assert "females 83.3 years (2022-24)" in text


# --- Skipped indicators (version 1 extract) ----------------------------------------------

V1_SKIPPED = {
    "HYP_CHOL_RANGE": "the extract has no cholesterol values",
    "HYP_BP_CHOL": "the extract has no cholesterol values",
    "DM_3TT": "the extract has no medications table",
    "CVD_LLT": "the extract has no medications table",
    "CVD_CHOL_RANGE": "the extract has no cholesterol values",
    "EOL_ED_3PLUS": "the extract has no ED attendances table",
    "EOL_ED_MEAN": "the extract has no ED attendances table",
    "ACSC_EMERG": "the extract has no admissions primary diagnosis",
    "MORT_CANCER_U75": "the extract has no underlying cause of death",
}


@pytest.mark.parametrize(
    ("family", "listed"),
    [
        ("hypertension", ["HYP_BP_CHOL", "CVD_LLT", "CVD_CHOL_RANGE", "HYP_CHOL_RANGE"]),
        ("diabetes", ["DM_3TT"]),
        ("end_of_life", ["EOL_ED_3PLUS", "EOL_ED_MEAN"]),
        ("unplanned_admissions", ["ACSC_EMERG"]),
        ("mortality", ["MORT_CANCER_U75"]),
    ],
)
def test_skipped_indicators_listed_with_reason(v2, family, listed):
    data = _without(v2, V1_SKIPPED)
    out = sections.family_section(data, AREA, family)
    text = _text(out)
    assert "indicators not shown" in text
    for ind in listed:
        assert f"({ind}): not computed because {V1_SKIPPED[ind]}." in text
    assert "Indicators not computed in this run" in _text(sections.definitions_section(data, AREA))


def test_whole_family_skipped_still_has_heading_and_reason(v2):
    data = _without(v2, {"ACSC_EMERG": V1_SKIPPED["ACSC_EMERG"]})
    text = _text(sections.family_section(data, AREA, "unplanned_admissions"))
    assert text.strip().startswith(
        "Unplanned admissions Unplanned admissions: indicators not shown"
    )


def test_skipped_indicators_from_the_extract(prepared_extract, tmp_path):
    assert pack_tables_mod.skipped_indicators(prepared_extract) == {}
    v1 = tmp_path / "v1"
    shutil.copytree(prepared_extract, v1)
    for name in ("medications.parquet", "ed_attendances.parquet"):
        (v1 / name).unlink(missing_ok=True)
    skipped = pack_tables_mod.skipped_indicators(v1)
    assert {"DM_3TT", "CVD_LLT", "EOL_ED_3PLUS", "EOL_ED_MEAN"} <= set(skipped)
    assert all(reason.startswith("the extract has no") for reason in skipped.values())


def test_family_breakdowns_only_keeps_diabetes_type_for_diabetes():
    stats = pd.DataFrame(
        {
            "indicator_id": ["DM_3TT", "DM_PREV_DSR", "HYP_PREV", "HYP_PREV", "COPD_PREV"],
            "breakdown": [
                "diabetes_type",
                "diabetes_type",
                "diabetes_type",
                "sex",
                "imd_quintile*diabetes_type",
            ],
        }
    )
    out = pack_tables_mod.family_breakdowns_only(stats)
    expected = stats.iloc[[0, 1, 3]]
    pdt.assert_frame_equal(out, expected)


FAMILIES_V2 = ("hypertension", "diabetes", "end_of_life", "unplanned_admissions", "mortality")


@pytest.mark.parametrize("area", [AREA, pytest.param(BSOL, marks=pytest.mark.slow)])
def test_v2_sections_accessible_and_leave_tables_unchanged(v2, area):
    before = v2.indicators.copy()
    out = "".join(sections.family_section(v2, area, f) for f in FAMILIES_V2)
    pdt.assert_frame_equal(v2.indicators, before)
    assert all(alt.strip() for alt in re.findall(r'<img alt="([^"]*)"', out))
    ids = re.findall(r'<h\d id="([^"]+)"', out)
    assert len(ids) == len(set(ids))
    assert "nan" not in _text(out).split()
