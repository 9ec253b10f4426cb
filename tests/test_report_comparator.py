"""One comparator name; the BSOL pack compared with England's dated figures; compact SVG."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bsol_analytics import plots
from bsol_analytics.paths import REPO_ROOT
from bsol_analytics.report.formatting import NO_COMPARISON
from bsol_analytics.report.html import compact_svg
from bsol_analytics.report.selection import at_a_glance, england_comparison
from bsol_analytics.report.words import glance_headline, not_compared_sentence
from bsol_analytics.vocabulary import BSOL, ENGLAND, LOCALITIES, comparator_of


@pytest.mark.parametrize(
    ("area", "expected"),
    [(BSOL, ENGLAND), *((name, BSOL) for name in LOCALITIES)],
)
def test_comparator_of_each_pack(area, expected):
    assert comparator_of(area) == expected


def test_comparator_name_is_written_once():
    """No report module or chart spells out the comparator rule again."""
    pattern = re.compile(
        r"""["'](England|BSOL)["']\s+if\s+\w+\s*[!=]=\s*(BSOL|["']BSOL["'])\s+else\s+"""
        r"""["'](England|BSOL)["']"""
    )
    sources = [REPO_ROOT / "bsol_analytics" / "plots.py"]
    sources += sorted((REPO_ROOT / "bsol_analytics" / "report").glob("*.py"))
    found = [p.name for p in sources if pattern.search(p.read_text(encoding="utf-8"))]
    assert found == []


@pytest.fixture(scope="module")
def bsol_glance() -> pd.DataFrame:
    from bsol_analytics.packs.demo import demo_pack

    return at_a_glance(demo_pack(), BSOL)


def test_bsol_is_compared_with_every_dated_england_figure(bsol_glance):
    g = bsol_glance
    dated = g["England"].notna() & ~g["suppressed"].astype(bool)
    assert dated.any()
    assert (g.loc[dated, "comparison"] != "not compared").all()
    assert g.loc[dated, "England_period"].str.match(r"\d{4}").all()  # never without its year
    assert (g.loc[dated, "why_not_compared"] == "").all()


def test_every_row_not_compared_says_why(bsol_glance):
    g = bsol_glance
    rows = g[g["comparison"] == "not compared"]
    assert set(rows["why_not_compared"]) <= set(NO_COMPARISON.values())
    assert (rows["why_not_compared"] != "").all()


def test_bsol_headline_counts_reasons_not_a_bare_number(bsol_glance):
    headline = glance_headline(bsol_glance, BSOL)
    assert headline.startswith("Against England's latest published figures (")
    assert "cannot be compared" not in headline
    why = not_compared_sentence(bsol_glance, BSOL)
    assert "cannot be compared" not in why
    assert "no published England figure" in why


@pytest.mark.parametrize(
    ("value", "lower", "upper", "england", "polarity", "expected"),
    [
        (63.0, 62.8, 63.3, 66.6, "higher is better", "worse"),
        (70.0, 69.0, 71.0, 66.6, "higher is better", "better"),
        (66.0, 65.0, 67.0, 66.6, "higher is better", "similar"),
        (10.0, 9.0, 11.0, 12.0, "lower is better", "better"),
        (45.0, 44.0, 46.0, 43.4, "no judgement", "higher"),
        (45.0, 44.0, 46.0, float("nan"), "higher is better", "not compared"),
    ],
)
def test_england_comparison_follows_the_ohid_rule(value, lower, upper, england, polarity, expected):
    g = pd.DataFrame(
        {"value": [value], "lower": [lower], "upper": [upper], "England": [england],
         "polarity": [polarity]}
    )  # fmt: skip
    assert england_comparison(g).tolist() == [expected]


def test_spine_chart_says_why_a_row_is_not_compared():
    g = pd.DataFrame(
        {"title": ["A", "B"], "value": [11.0, 8.0], "England": [10.0, float("nan")],
         "comparison": ["higher", "not compared"], "why_not_compared": ["", "no England figure"],
         "trend": ["not tested", "not tested"], "suppressed": [False, False]}
    )  # fmt: skip
    fig, _ = plots.spine_chart(g, BSOL)
    words = [t.get_text() for ax in fig.axes for t in ax.texts]
    plots.plt.close(fig)
    assert "no England figure; not tested" in words


_TEXT = st.text(alphabet="0123456789.- abc", min_size=1, max_size=12).filter(str.strip)


@given(st.floats(-1e4, 1e4, allow_nan=False), _TEXT)
def test_compact_svg_keeps_text_and_rounds_coordinates(x, text):
    svg = f'<svg>\n <text x="{x!r}" y="1.0">{text}</text>\n</svg>'
    out = compact_svg(svg)
    assert f">{text}<" in out
    shown = float(re.search(r'x="([^"]+)"', out)[1])
    assert abs(shown - x) < 0.01 + 1e-9 * abs(x)
