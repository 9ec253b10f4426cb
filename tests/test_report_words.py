"""Words for readers: trend statements from the test, ratios, no internal ids, slips fixed."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys

import pandas as pd
import pandas.testing as pdt
import pytest

from bsol_analytics.packs.tables import population_counts
from bsol_analytics.report import formatting, sections, words
from bsol_analytics.report.messages import example_pack

_ID = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_ratios_print_to_two_decimals():
    rows = pd.DataFrame(
        {
            "value": [0.684, 57.81],
            "lower": [0.671, 57.2],
            "upper": [0.693, 58.3],
            "suppressed": [False, False],
            "suppression_reason": [None, None],
            "derived": ["RVE", ""],
        }
    )
    assert formatting.fmt_column(rows) == ["0.68", "57.8"]
    assert formatting.fmt_ci(rows) == ["0.67 to 0.69", "57.2 to 58.3"]


@pytest.mark.parametrize("value", [-0.04, -0.0, -0.001])
def test_no_negative_zero(value):
    assert formatting.fmt_number(value) == "0.0"


@pytest.mark.parametrize(
    ("comparison", "comparator", "has_value", "expected"),
    [
        ("lower", "BSOL", True, "X is lower in East than across BSOL."),
        ("not compared", "England", False,
         "X in East: no published England figure to compare with."),
        ("not compared", "BSOL", False,
         "X in East could not be compared with BSOL (a value is suppressed)."),
    ],
)  # fmt: skip
def test_comparison_sentences(comparison, comparator, has_value, expected):
    assert words.comparison_sentence("X", "East", comparison, comparator, has_value) == expected


def test_trend_subsection_states_the_test_and_its_window():
    html = sections._trend_subsection(example_pack(), "East", "SCR_BOWEL", "Bowel screening", "%")
    text = _text(html)
    assert "is increasing over the 5 quarters from 31 March 2024 to 31 March 2025" in text
    assert "chi-squared test for trend" in text
    assert "by quarter by quarter" not in html


def test_trend_subsection_makes_no_trend_claim_for_rates():
    data = example_pack()
    meta = data.meta.assign(unit="per 100,000")
    data = type(data)(data.indicators, meta, data.population, data.demography,
                      data.practices, data.info, data.sii)  # fmt: skip
    text = _text(sections._trend_subsection(data, "East", "SCR_BOWEL", "Rate", "per 100,000"))
    assert "no trend is stated" in text
    assert "increas" not in text and "decreas" not in text


def test_glance_has_no_internal_ids_and_one_summary_headline():
    html = sections.glance_section(example_pack(), "East")
    text = _text(html)
    assert not _ID.search(text)
    headline = words.glance_headline(pd.DataFrame({"comparison": ["worse"]}), "East")
    assert headline in text


def _cross(values, lower, upper, groups):
    split = [g.split(" | ") for g in groups]
    return pd.DataFrame(
        {
            "group": groups,
            "imd_quintile": [a for a, *_ in split],
            "ethnicity_broad": [b[0] if b else None for _, *b in split],
            "value": values,
            "lower": lower,
            "upper": upper,
            "numerator": 10.0,
            "denominator": 100.0,
            "suppressed": False,
            "suppression_reason": None,
        }
    )


def test_cross_headline_skips_unknown_and_overlapping_groups(monkeypatch):
    groups = ["Q1 (most deprived) | Asian", "Q5 (least deprived) | White", "Unknown | White"]
    rows = _cross([10.0, 12.0, 40.0], [8.0, 9.0, 35.0], [12.0, 15.0, 45.0], groups)
    monkeypatch.setattr(sections, "cross_matrix", lambda *a: rows)
    monkeypatch.setattr(sections.plots, "heatmap", lambda *a: (None, "alt"))
    monkeypatch.setattr(sections, "figure_html", lambda *a: "")
    html = sections._cross_subsection(example_pack(), "East", "SCR_BOWEL", "Screening", "%")
    headline = re.search(r'<p class="headline">(.*?)</p>', html)[1]
    assert "Unknown" not in headline
    assert headline.startswith("Screening does not differ clearly")


def test_cross_headline_names_groups_whose_intervals_are_apart(monkeypatch):
    groups = ["Q1 (most deprived) | Asian", "Q5 (least deprived) | White"]
    rows = _cross([10.0, 30.0], [8.0, 28.0], [12.0, 32.0], groups)
    monkeypatch.setattr(sections, "cross_matrix", lambda *a: rows)
    monkeypatch.setattr(sections.plots, "heatmap", lambda *a: (None, "alt"))
    monkeypatch.setattr(sections, "figure_html", lambda *a: "")
    html = sections._cross_subsection(example_pack(), "East", "SCR_BOWEL", "Screening", "%")
    assert "highest among White patients in Q5, the least deprived fifth (30.0)" in html


def test_breakdown_headline_never_names_groups_with_overlapping_intervals():
    rows = _cross([10.0, 11.0], [8.0, 9.0], [12.0, 13.0], ["Asian", "White"])
    text = words.breakdown_headline("X", rows, "ethnic group")
    assert "highest" not in text.split(":")[0] and "does not differ clearly" in text


# --- Section 7: Core20 follows the IMD version; lookups keep missing values missing ----------


def _patients() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sex": ["F", "M", "F"],
            "date_of_birth": pd.to_datetime(["1980-01-01", "2001-06-01", "1950-02-02"]),
            "registration_start": pd.to_datetime(["2000-01-01"] * 3),
            "registration_end": pd.NaT,
            "date_of_death": pd.NaT,
            "practice_locality": ["East"] * 3,
            "resident_locality": ["East"] * 3,
            "ethnicity_broad": ["Asian", "White", "Black"],
            "imd2025_quintile": pd.array([1, 1, 5], dtype="Int8"),
            "imd2019_quintile": pd.array([1, 3, None], dtype="Int8"),
            "core20": pd.array([True, True, False], dtype="boolean"),
        }
    )


@pytest.mark.parametrize(("imd", "core20"), [("2025", 2), ("2019", 1)])
def test_core20_follows_the_pack_imd_version(imd, core20):
    _, demo = population_counts(_patients(), dt.date(2025, 3, 31), imd=imd)
    got = demo[(demo["breakdown"] == "core20") & (demo["area"] == "East")]
    pdt.assert_series_equal(
        got.set_index("group")["count"].sort_index(),
        pd.Series({"Core20": core20, "Rest": 3 - core20}, name="count").rename_axis("group"),
        check_dtype=False,
    )


_LOOKUP_CHECK = """
import pandas as pd
from bsol_analytics.cleaning import normalise
p = normalise.map_practice(pd.DataFrame({"practice_code": ["M85002", None, "Z99999", ""]}))
l = normalise.map_lsoa(pd.DataFrame({"lsoa_code": ["E01008881", None, "E01000001", "junk"]}))
for frame in (p, l):
    for col in frame.columns.drop(["lsoa_code"], errors="ignore"):
        text = frame[col].astype(object)
        assert not text.isin(["None", "nan", "<NA>"]).any(), (pd.__version__, col)
assert p["practice_code"].isna().tolist() == [False, True, False, True]
assert l["ward_name"].isna().tolist() == [False, True, True, True]
print(pd.__version__)
"""


def test_lookups_keep_missing_values_missing_on_this_pandas():
    namespace: dict[str, object] = {}
    exec(_LOOKUP_CHECK, namespace)


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("BSOL_PANDAS_LOWER"),
    reason="set BSOL_PANDAS_LOWER to a folder holding pandas 2.2 (pip install --target)",
)
def test_lookups_keep_missing_values_missing_on_pandas_lower_bound():
    env = {**os.environ, "PYTHONPATH": os.environ["BSOL_PANDAS_LOWER"]}
    out = subprocess.run(
        [sys.executable, "-c", _LOOKUP_CHECK], env=env, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("2.2"), out.stdout


def test_definitions_name_the_ethnic_grouping_and_the_trend_test():
    text = _text(sections.definitions_section(example_pack(), "East"))
    assert "ONS 2021 broad ethnic groups" in text and "Chinese in Asian" in text
    assert "recent-trend test" in text
    assert "blank (unrecorded) place of death" not in text  # no end-of-life rows here
    assert not _ID.search(text.split("Data sources")[0])
