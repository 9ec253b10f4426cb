"""England comparators: value, period and source for every indicator that has one."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from bsol_analytics import reference
from bsol_analytics.indicators import get_indicator, list_indicators
from bsol_analytics.report import sections, selection
from bsol_analytics.report.messages import example_pack

#: indicator -> (England value, period, BSOL's own published value or None)
PUBLISHED = {
    "HYP_PREV": (14.42, "2023-24", 12.64),
    "DM_PREV": (7.07, "2019-20", None),
    "COPD_PREV": (1.94, "2019-20", None),
    "PC_REG": (0.48, "2019-20", None),
    "EOL_HOME_CARE_HOME": (49.2, "2022", None),
    "EOL_HOSPITAL": (43.4, "2022", 48.8),
    "SCR_BREAST": (66.6, "2022/23", 59.4),
    "SCR_CERVICAL_25_49": (67.0, "2022/23", 60.8),
    "SCR_CERVICAL_50_64": (74.9, "2022/23", 72.2),
    "SCR_BOWEL": (72.0, "2022/23", 64.8),
}
_ID = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


@pytest.mark.parametrize(("indicator", "expected"), PUBLISHED.items())
def test_published_figures_carry_value_period_and_source(indicator, expected):
    value, period, own = expected
    info = get_indicator(indicator)
    assert info.england_value == pytest.approx(value, abs=0.01)
    assert info.england_year == period
    assert "data/raw/" in info.england_source
    if own is None:
        assert info.bsol_value is None
    else:
        assert info.bsol_value == pytest.approx(own, abs=0.01)
        assert info.bsol_year and "data/raw/comparators" in info.bsol_source


def test_screening_comparators_are_read_from_the_comparators_file():
    table = reference.comparators()
    row = table[
        (table["indicator"] == "cancer_screening_coverage_bowel_60_74")
        & (table["area_type"] == "England")
    ]
    assert get_indicator("SCR_BOWEL").england_value == float(row["value"].item())


def test_qof_prevalence_uses_the_newest_year_the_files_hold():
    # Hypertension has QOF 2023-24 in data/raw/qof; diabetes, COPD and palliative care
    # only 2019-20, which is labelled as such and explained.
    assert get_indicator("HYP_PREV").england_year == "2023-24"
    for ind in ("DM_PREV", "COPD_PREV", "PC_REG"):
        info = get_indicator(ind)
        assert info.england_year == "2019-20"
        assert "2019-20" in info.england_note


@pytest.mark.parametrize("info", list_indicators(), ids=lambda i: i.id)
def test_every_indicator_has_a_period_or_says_none_is_published(info):
    row = selection.england_comparators([info.id]).iloc[0]
    if info.england_value is None:
        assert row["england_text"] == selection.NO_ENGLAND
        assert np.isnan(row["england_value"])
    else:
        assert row["england_text"] == f"{info.england_value:.1f} ({info.england_year})"


def test_derived_ids_have_no_england_figure():
    out = selection.england_comparators(["HYP_PREV_DSR", "HYP_PREV_RVE", "NOT_AN_ID"])
    pdt.assert_series_equal(
        out["england_text"],
        pd.Series([selection.NO_ENGLAND] * 3, name="england_text"),
    )


def test_england_cells_show_period_or_no_published_figure():
    glance = pd.DataFrame({"indicator_id": ["SCR_BOWEL", "ACSC_EMERG", "HYP_PREV"]})
    assert sections.england_cells(glance) == [
        "72.0 (2022/23)",
        "no published England figure",
        "14.4 (2023-24)",
    ]


@pytest.mark.parametrize(
    ("period", "reporting_date", "differs"),
    [
        ("2022/23", "2025-03-31", True),
        ("2024-25", "2025-03-31", False),
        ("2024/25", "2025-03-31", False),
        ("2025", "2025-06-30", False),
        ("2022", "2025-03-31", True),
    ],
)
def test_period_differs_from_the_reporting_period(period, reporting_date, differs):
    assert sections._period_differs(period, reporting_date) is differs


def test_period_note_once_per_section_and_bsol_published_column():
    data = example_pack()
    glance = pd.DataFrame({"indicator_id": ["SCR_BOWEL", "SCR_BREAST", "ACSC_EMERG"]})
    table = pd.DataFrame({"Indicator": ["a", "b", "c"], "England (period)": ["x", "y", "z"]})
    notes = sections.comparator_notes(glance, data, "BSOL", table)
    assert sum("earlier periods" in n for n in notes) == 1
    assert any("no published England figure" in n for n in notes)
    assert table["BSOL published (period)"].tolist() == [
        "64.8 (2022/23)",
        "59.4 (2022/23)",
        "none published",
    ]
    plain = table.drop(columns="BSOL published (period)")
    east = sections.comparator_notes(glance, data, "East", plain)
    assert not any("BSOL published" in n for n in east)


def test_glance_section_shows_periods_and_no_dash_for_england():
    html = sections.glance_section(example_pack(), "East")
    assert "72.0 (2022/23)" in html
    assert "compares the latest quarter with the earliest" not in html
    assert "recent-trend test" in html


def test_definitions_carry_caveats_and_no_internal_ids():
    meta = pd.DataFrame(
        {
            "indicator_id": [i.id for i in list_indicators()] + ["HYP_PREV_RVE"],
            "title": [i.title for i in list_indicators()] + ["Ratio"],
            "definition": [i.definition for i in list_indicators()] + ["A ratio"],
            "polarity": [i.polarity for i in list_indicators()] + ["higher is better"],
            "unit": [i.unit for i in list_indicators()] + ["ratio"],
        }
    )
    table = selection.definitions_table(meta)
    for column in ("Definition", "Caveats", "England figure"):
        for text in table[column]:
            assert not _ID.search(text), text
            assert "data/raw" not in text
    hospital = table[table["Indicator"] == "Deaths in hospital"].iloc[0]
    assert "blank (unrecorded) place of death" in hospital["Caveats"]
    assert hospital["England figure"].startswith("43.4 (2022)")
