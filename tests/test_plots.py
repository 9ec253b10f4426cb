"""Charts: colour follows polarity, fixed IMD quintile colours, a printable spine chart."""

from __future__ import annotations

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from shapely.geometry import box

from bsol_analytics import plots

JUDGED = {to_hex(plots.COMPARISON_STYLE[k][0]) for k in ("better", "worse")}
BETTER = to_hex(plots.COMPARISON_STYLE["better"][0])
WORSE = to_hex(plots.COMPARISON_STYLE["worse"][0])


def _glance(comparisons: list[str], families: list[str] | None = None) -> pd.DataFrame:
    n = len(comparisons)
    return pd.DataFrame(
        {
            "title": [f"Hypertension: indicator {i}" for i in range(n)],
            "family": families or ["hypertension"] * n,
            "value": np.linspace(8.0, 12.0, n),
            "lower": np.linspace(7.5, 11.5, n),
            "upper": np.linspace(8.5, 12.5, n),
            "BSOL": [10.0] * n,
            "England": [9.5] * n,
            "comparison": comparisons,
            "trend": ["no significant change"] * n,
            "suppressed": [False] * n,
        }
    )


def _marker_colours(ax) -> dict[str, set[str]]:
    """Face colours of the drawn scatter points, keyed by their marker's vertex count."""
    out: dict[str, set[str]] = {}
    for c in ax.collections:
        if len(c.get_offsets()) and len(c.get_facecolor()):
            out.setdefault(str(len(c.get_paths()[0].vertices)), set()).update(
                to_hex(f) for f in c.get_facecolor()
            )
    return out


@pytest.mark.parametrize(
    ("comparison", "allowed"),
    [
        ("better", {BETTER}),
        ("worse", {WORSE}),
        ("similar", {to_hex(plots.COMPARISON_STYLE["similar"][0])}),
        ("higher", {to_hex(plots.COMPARISON_STYLE["higher"][0])}),
        ("lower", {to_hex(plots.COMPARISON_STYLE["lower"][0])}),
    ],
)
def test_spine_marker_colour_is_the_comparison_colour(comparison, allowed):
    fig, _ = plots.spine_chart(_glance([comparison] * 3), "East")
    colours = set().union(*_marker_colours(fig.axes[0]).values()) - {"#000000"}
    plt.close(fig)
    assert colours == allowed
    if comparison in ("higher", "lower", "similar"):
        assert not colours & JUDGED  # neutral is never in a better or worse colour


def test_neutral_charts_use_no_judgement_colour():
    rows = pd.DataFrame({"group": ["Q1", "Q2"], "value": [12.0, 9.0], "lower": [11.0, 8.0],
                         "upper": [13.0, 10.0], "suppressed": [False, False]})  # fmt: skip
    fig, _ = plots.bar_ci(rows, "Prevalence", "Percent", comparator=10.0)
    ax = fig.axes[0]
    bars = {to_hex(p.get_facecolor()) for p in ax.patches}
    lines = {to_hex(line.get_color()) for line in ax.lines}
    plt.close(fig)
    assert bars == {to_hex(plots.NEUTRAL)} and not (bars | lines) & JUDGED


def test_own_area_is_never_in_the_worse_colour():
    series = pd.DataFrame(
        {
            "area": ["East", "East", "BSOL", "BSOL"],
            "reporting_date": pd.to_datetime(["2024-12-31", "2025-03-31"] * 2),
            "value": [1.0, 2.0, 1.5, 1.6],
            "lower": [0.5, 1.5, 1.4, 1.5],
            "upper": [1.5, 2.5, 1.6, 1.7],
            "suppressed": [False] * 4,
        }
    )
    fig, _ = plots.trend_chart(series, "Prevalence", "Percent")
    own = next(line for line in fig.axes[0].lines if line.get_label() == "East")
    plt.close(fig)
    assert to_hex(own.get_color()) == to_hex(plots.OWN_AREA) != WORSE


def test_spine_chart_groups_by_family_and_prints_its_words_at_8pt_or_more():
    families = ["hypertension"] * 3 + ["diabetes"] * 2
    glance = _glance(["better", "worse", "similar", "higher", "lower"], families)
    glance.loc[3:, "title"] = ["Diabetes: recorded prevalence, 17+", "Diabetes: HbA1c"]
    fig, alt = plots.spine_chart(glance, "East")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert {"Hypertension", "Diabetes"} <= set(texts)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "Recorded prevalence, 17+" in labels  # the family name is the group heading
    assert "9.0 (8.5\u20139.5)" in texts  # value and 95% CI printed
    sizes = [t.get_fontsize() for t in [*ax.texts, *ax.get_yticklabels(), *ax.get_xticklabels()]]
    # Printed at its own size (the printable width of A4 in the pack's style), 8 pt stays 8 pt.
    assert min(sizes) >= 8 and fig.get_figwidth() == pytest.approx(plots.FULL_WIDTH)
    plt.close(fig)
    assert alt.startswith("Summary chart of 5 indicators for East")


def test_spine_chart_does_not_change_its_input():
    glance = _glance(["better", "worse"])
    before = glance.copy()
    plt.close(plots.spine_chart(glance, "East")[0])
    pd.testing.assert_frame_equal(glance, before)


def _quintile_map(labels: list[str]) -> dict[str, str]:
    gdf = gpd.GeoDataFrame(
        {"quintile": labels}, geometry=[box(i, 0, i + 1, 1) for i in range(len(labels))]
    )
    fig, _ = plots.choropleth(gdf, "quintile", "IMD", "National quintile", categorical=True)
    ax = fig.axes[0]
    faces = [to_hex(f) for c in ax.collections for f in c.get_facecolor()]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)
    return {"faces": dict(zip(labels, faces, strict=True)), "legend": legend}


def test_two_packs_use_the_same_colour_for_the_same_quintile():
    # A deprived locality without Q4/Q5 and BSOL with all five quintiles.
    east = _quintile_map(["Q1 (most deprived)", "Q2", "Q3"])
    bsol = _quintile_map(["Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5 (least deprived)"])
    for label, colour in east["faces"].items():
        assert colour == bsol["faces"][label] == to_hex(plots.quintile_colour(label))
    assert east["legend"] == bsol["legend"]  # the same legend everywhere, all five quintiles
    assert len(east["legend"]) == 5


@pytest.mark.parametrize(("areas", "named"), [(3, True), (12, False)])
def test_ward_and_locality_maps_carry_names_or_a_numbered_key(areas, named):
    names = [f"Ward {chr(65 + i)}" for i in range(areas)]
    gdf = gpd.GeoDataFrame(
        {"ward_name": names, "value": np.arange(areas, dtype=float)},
        geometry=[box(i, 0, i + 1, 1) for i in range(areas)],
    )
    fig, alt = plots.choropleth(gdf, "value", "Prevalence by ward", "Percent")
    on_map = [t.get_text() for t in fig.axes[0].texts]
    key = "\n".join(t.get_text() for t in fig.texts)
    plt.close(fig)
    if named:
        assert on_map == names and "named on the map" in alt
    else:
        assert on_map == [str(n) for n in range(1, areas + 1)]
        assert all(f"{n} {name}" in key for n, name in enumerate(names, 1))
        assert "numbered" in alt


def test_numbers_on_the_ward_map_of_bsol_do_not_cover_each_other():
    import itertools

    from matplotlib.text import Text

    from bsol_analytics import reference

    wards = reference.ward_boundaries()
    gdf = wards.assign(value=np.linspace(10.0, 30.0, len(wards)))
    fig, _ = plots.choropleth(gdf, "value", "Prevalence by ward, BSOL", "Percent")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    numbers = [t for t in fig.axes[0].texts if t.get_text().isdigit()]
    boxes = [
        (t.get_bbox_patch() or t).get_window_extent(renderer).shrunk(0.9, 0.9)
        if t.get_bbox_patch() is not None
        else Text.get_window_extent(t, renderer)
        for t in numbers
    ]
    plt.close(fig)
    assert [t.get_text() for t in numbers] == [str(n) for n in range(1, len(wards) + 1)]
    overlaps = [(a, b) for a, b in itertools.combinations(range(len(boxes)), 2)
                if boxes[a].overlaps(boxes[b])]  # fmt: skip
    assert overlaps == []
    moved = [t for t in numbers if getattr(t, "arrow_patch", None) is not None]
    assert 0 < len(moved) < len(numbers) / 2  # most numbers sit on their ward
