"""Charts print legibly: drawn at the width they print at, every word at least 7 pt on paper.

The pack's print style shows every chart at its own size, scaled down only when it is wider
than its place (a print column, or the page for spine charts and wide maps). So the printed
size of a word is its font size in the SVG times (printed width / drawn width), and the
printed width is at most the place's width.
"""

from __future__ import annotations

import base64
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from bsol_analytics import plots
from bsol_analytics.report.html import figure_html

#: Smallest font size of a chart's words on paper, in points.
MIN_PRINTED_PT = 7.0

ETHNIC = ["Asian", "Black", "Mixed", "White", "Other", "Unknown"]
QUINTILES = ["Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5 (least deprived)", "Unknown"]
LONG = [
    "Asian or Asian British: Pakistani",
    "Black or Black British: Caribbean",
    "Mixed: White and Black Caribbean",
    "Any other ethnic group not stated elsewhere",
]


def _rows(groups: list[str], suppressed: int = 1) -> pd.DataFrame:
    n = len(groups)
    value = np.linspace(8.0, 14.0, n)
    return pd.DataFrame(
        {
            "group": groups,
            "value": value,
            "lower": value - 1,
            "upper": value + 1,
            "suppressed": [i < suppressed for i in range(n)],
        }
    )


def _glance(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "title": [
                f"Hypertension: a long indicator title that wraps onto two lines {i}"
                for i in range(n)
            ],
            "family": ["hypertension"] * (n // 2) + ["diabetes"] * (n - n // 2),
            "value": np.linspace(8.0, 12.0, n),
            "lower": np.linspace(7.5, 11.5, n),
            "upper": np.linspace(8.5, 12.5, n),
            "BSOL": [10.0] * n,
            "England": [9.5] * n,
            "comparison": ["worse"] * n,
            "trend": ["no significant change"] * n,
            "why_not_compared": ["no published England figure for this indicator"] + [""] * (n - 1),
            "suppressed": [False] * (n - 1) + [True],
        }
    )


def _trend() -> pd.DataFrame:
    dates = pd.date_range("2023-06-30", periods=8, freq="QE")
    parts = [
        pd.DataFrame(
            {
                "area": area,
                "reporting_date": dates,
                "value": np.linspace(a, a + 1, 8),
                "lower": a - 0.5,
                "upper": a + 1.5,
                "suppressed": False,
            }
        )
        for area, a in (("East", 11.0), ("BSOL", 12.0))
    ]
    return pd.concat(parts, ignore_index=True)


def _funnel() -> tuple[pd.DataFrame, pd.DataFrame]:
    n = np.linspace(500, 20000, 30)
    points = pd.DataFrame({"value": 10 + 5 * np.sin(n), "denominator": n, "suppressed": False})
    grid = np.linspace(400, 21000, 20)
    limits = pd.concat(
        pd.DataFrame(
            {
                "denominator": grid,
                "lower": 10 - z * 30 / np.sqrt(grid),
                "upper": 10 + z * 30 / np.sqrt(grid),
                "confidence": c,
            }
        )
        for c, z in ((0.95, 1.96), (0.998, 3.09))
    )
    return points, limits


def _areas(n: int, names: str | None) -> gpd.GeoDataFrame:
    side = int(np.ceil(np.sqrt(n)))
    shapes = [
        box(
            -1.9 + 0.02 * (i % side),
            52.4 + 0.02 * (i // side),
            -1.88 + 0.02 * (i % side),
            52.42 + 0.02 * (i // side),
        )
        for i in range(n)
    ]
    frame = gpd.GeoDataFrame({"value": np.linspace(5, 15, n)}, geometry=shapes, crs="EPSG:4326")
    if names:
        frame[names] = [f"Ward name of some length {i}" for i in range(n)]
    return frame


CHARTS = {
    "bars by IMD quintile": lambda: plots.bar_ci(
        _rows(QUINTILES),
        "Hypertension: recorded prevalence by deprivation quintile, East",
        "Percent",
        11.3,
        "East, all patients",
        marks=np.linspace(9, 12, 6),
    ),
    "bars by long ethnic group": lambda: plots.bar_ci(
        _rows(LONG), "Recorded prevalence by detailed ethnic group", "Percent", 11.0
    ),
    "ratios": lambda: plots.ratio_chart(
        _rows(["Central", "East", "North", "South", "West", "Solihull", "BSOL"]),
        "East",
        "Hypertension: recorded vs expected",
    ),
    "pyramid": lambda: plots.pyramid(
        pd.DataFrame(
            {
                "age_band": np.repeat([f"{a}-{a + 4}" for a in range(0, 90, 5)] + ["90+"], 2),
                "sex": ["F", "M"] * 19,
                "percent": 2.6,
                "bsol_percent": 2.5,
                "suppressed": False,
            }
        ),
        "East",
    ),
    "shares": lambda: plots.share_bars(
        pd.DataFrame(
            {
                "group": QUINTILES,
                "share": 16.0,
                "bsol_share": 16.5,
                "suppressed": [False] * 5 + [True],
            }
        ),
        "East",
        "IMD 2025 quintile",
    ),
    "heatmap": lambda: plots.heatmap(
        pd.DataFrame(
            {
                "imd_quintile": np.repeat(QUINTILES, 6),
                "ethnicity_broad": ETHNIC * 6,
                "value": np.where(np.arange(36) % 7 == 3, np.nan, np.linspace(5, 20, 36)),
                "suppressed": np.arange(36) % 5 == 0,
            }
        ),
        "Hypertension: recorded prevalence by deprivation and ethnicity, East",
        "Percent",
    ),
    "trend": lambda: plots.trend_chart(_trend(), "Hypertension: recorded prevalence", "Percent"),
    "funnel": lambda: plots.funnel_plot(
        *_funnel(), 10.0, "Hypertension: practices", "Percent", "higher is better"
    ),
    "spine, 30 rows": lambda: plots.spine_chart(_glance(30), "BSOL"),
    "spine, 2 rows": lambda: plots.spine_chart(_glance(2), "East", headings=False),
    "ward map, 15 numbered": lambda: plots.choropleth(
        _areas(15, "ward_name"), "value", "Hypertension by ward of residence, East", "Percent"
    ),
    "ward map, 86 numbered": lambda: plots.choropleth(
        _areas(86, "ward_name"), "value", "Hypertension by ward of residence, BSOL", "Percent"
    ),
    "locality map, named": lambda: plots.choropleth(
        _areas(6, "locality"), "value", "Hypertension by locality", "Value"
    ),
    "IMD map": lambda: plots.choropleth(
        _areas(40, None).assign(q=[f"Q{1 + i % 5}" for i in range(40)]),
        "q",
        "IMD 2025 quintile by LSOA, East",
        "National quintile",
        categorical=True,
    ),
}


def _printed(img: str) -> tuple[float, float, float]:
    """(drawn width, width of its place in print, smallest font size) of an ``<img>``.

    Widths are in inches, the font size in points as drawn (PNG: the figure's own fonts).
    """
    wide = re.search(r'class="[^"]*(spine-chart|wide-chart)', img) is not None
    place = plots.FULL_WIDTH if wide else plots.COLUMN_WIDTH
    data = re.search(r'src="data:image/([a-z+]+);base64,([^"]+)"', img)
    if data[1] == "png":
        return int(re.search(r'width="(\d+)"', img)[1]) / 96, place, np.nan
    svg = base64.b64decode(data[2]).decode("utf-8")
    width = float(re.search(r'<svg[^>]* width="([\d.]+)pt"', svg)[1]) / 72
    sizes = [float(s) for s in re.findall(r"font[:-][^;\"]*?([\d.]+)px", svg)]
    return width, place, min(sizes)


def _figure_fonts(fig) -> float:
    return min(
        t.get_fontsize()
        for t in fig.findobj(lambda a: hasattr(a, "get_fontsize"))
        if t.get_text().strip()
    )


@pytest.mark.parametrize("name", list(CHARTS))
def test_every_chart_prints_its_words_at_7pt_or_more(name):
    fig, alt = CHARTS[name]()
    smallest_set = _figure_fonts(fig)
    img = figure_html(fig, alt, css_class="spine-chart" if name.startswith("spine") else "")
    width, place, smallest_svg = _printed(img)
    assert width <= place + 0.005, f"{name}: drawn {width:.2f} in, its place is {place:.2f} in"
    # Shown at its own size when it fits its place (SVG sizes are rounded to 0.01 pt).
    scale = 1.0 if width <= place + 0.005 else place / width
    smallest = smallest_set if np.isnan(smallest_svg) else min(smallest_svg, smallest_set)
    assert smallest * scale >= MIN_PRINTED_PT, f"{name}: {smallest * scale:.2f} pt on paper"


@pytest.mark.parametrize("rows", [2, 12, 30])
def test_spine_chart_fits_the_printable_width_exactly(rows):
    fig, alt = plots.spine_chart(_glance(rows), "BSOL")
    width, place, _ = _printed(figure_html(fig, alt, css_class="spine-chart"))
    assert width == pytest.approx(plots.FULL_WIDTH, abs=0.005)
    assert place == plots.FULL_WIDTH


def test_column_chart_is_a_column_wide_and_a_map_with_a_long_key_spans_the_page():
    fig, alt = CHARTS["bars by long ethnic group"]()
    img = figure_html(fig, alt)
    assert "wide-chart" not in img
    assert _printed(img)[0] == pytest.approx(plots.COLUMN_WIDTH, abs=0.005)
    fig, alt = CHARTS["ward map, 86 numbered"]()
    assert "wide-chart" in figure_html(fig, alt)


def test_long_group_labels_are_wrapped_to_fit():
    fig, _ = CHARTS["bars by long ethnic group"]()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert all(max(len(line) for line in lab.split("\n")) <= 30 for lab in labels), labels
    assert any("\n" in lab for lab in labels)
