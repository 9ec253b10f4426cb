"""Charts drawn with measurements reused are the charts drawn without: the same pages."""

from __future__ import annotations

import contextlib

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure
from shapely.geometry import box

from bsol_analytics import plots
from bsol_analytics.packs.demo import demo_pack
from bsol_analytics.report import html as report_html
from bsol_analytics.report import sections
from bsol_analytics.report.loading import PackData
from bsol_analytics.vocabulary import BSOL


def _pages(data: PackData) -> list[str]:
    """Sections with every chart type: pyramid, shares, deprivation map (a PNG), bars,
    trends, funnel, matrix, spine chart, ward and locality maps."""
    return [
        sections.population_section(data, "East"),
        sections.family_section(data, "East", "copd"),
        sections.family_section(data, BSOL, "copd"),
    ]


def _plot_shapes_with_drawing(gdf, ax, **kwargs) -> None:
    gdf.plot(ax=ax, **kwargs)  # geopandas draws the whole figure when it is done


@pytest.fixture(scope="module")
def plain_pages() -> list[str]:
    """The pages drawn the plain way: every measurement made afresh, maps drawn twice."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report_html, "reused_measurements", contextlib.nullcontext)
        mp.setattr(plots, "_plot_shapes", _plot_shapes_with_drawing)
        return _pages(demo_pack())


def test_reused_measurements_draw_the_same_pages(plain_pages: list[str]) -> None:
    data = demo_pack()
    first = _pages(data)
    again = _pages(data)  # every text measured already: the reused path throughout
    assert first == plain_pages
    assert again == plain_pages


def _patched() -> tuple:
    from matplotlib.axis import Axis
    from matplotlib.offsetbox import HPacker, VPacker
    from matplotlib.text import Text
    from matplotlib.textpath import TextToPath
    from matplotlib.transforms import BboxBase

    return (
        BboxBase.union,
        Text._get_layout,
        TextToPath.get_text_width_height_descent,
        Axis._update_ticks,
        Axis._get_ticklabel_bboxes,
        HPacker._get_bbox_and_child_offsets,
        VPacker._get_bbox_and_child_offsets,
    )


def test_reused_measurements_leave_matplotlib_as_it_was() -> None:
    from matplotlib.axis import Axis
    from matplotlib.offsetbox import VPacker
    from matplotlib.text import Text
    from matplotlib.transforms import BboxBase

    before = _patched()
    with pytest.raises(RuntimeError), report_html.reused_measurements():
        with report_html.reused_measurements():  # nested: the outer one stays in charge
            pass
        raise RuntimeError("a chart failed")
    assert _patched() == before
    assert not any(hasattr(cls, "_bsol_reused") for cls in (Text, Axis, VPacker, BboxBase))


def test_a_legend_is_packed_once_and_the_same() -> None:
    from matplotlib.offsetbox import VPacker

    def legend_chart() -> tuple:
        fig, ax = plt.subplots(figsize=(3, 2), layout="constrained")
        ax.plot([0, 1], [0, 1], label="a line")
        ax.plot([0, 1], [1, 0], label="another line")
        fig.legend(loc="outside lower center", ncol=2)
        return fig, ax

    fig, _ = legend_chart()
    with contextlib.ExitStack() as stack:
        stack.enter_context(pytest.MonkeyPatch.context()).setattr(
            report_html, "reused_measurements", contextlib.nullcontext
        )
        plain = report_html.figure_html(fig, "Lines")
    packed = []
    pack = VPacker._get_bbox_and_child_offsets

    def counted(self, renderer):
        packed.append(id(self))
        return pack(self, renderer)

    fig, _ = legend_chart()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(VPacker, "_get_bbox_and_child_offsets", counted)
        reused = report_html.figure_html(fig, "Lines")
    assert reused == plain
    assert len(packed) == len(set(packed))  # each box packed once


@pytest.mark.parametrize(
    ("change", "reused"),
    [
        ({}, True),
        ({"fontsize": 9}, False),
        ({"rotation": 90}, False),
        ({"ha": "right"}, False),
        ({"s": "Another title"}, False),
        ({"linespacing": 2.0}, False),
    ],
)
def test_a_text_layout_is_reused_only_for_the_same_words_font_and_placement(
    change: dict, reused: bool
) -> None:
    fig, ax = plt.subplots(figsize=(3, 2))
    base = {"s": "A title", "fontsize": 8, "rotation": 0, "ha": "left", "linespacing": 1.2}
    with report_html.reused_measurements():
        one = ax.text(0.1, 0.5, **base)
        other = ax.text(0.1, 0.5, **{**base, **change})
        bounds = [t.get_window_extent().bounds for t in (one, other)]
    plain = other.get_window_extent().bounds
    plt.close(fig)
    assert bounds[1] == plain
    assert (bounds[0] == bounds[1]) == reused


def test_maps_are_drawn_once_and_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    import geopandas as gpd

    shapes = gpd.GeoDataFrame(
        {"ward_name": ["A", "B"], "value": [1.0, 2.0]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
    )
    drawn: list[str] = []
    draw = Figure.draw

    def counted(fig, renderer) -> None:
        drawn.append(type(renderer).__name__)
        draw(fig, renderer)

    monkeypatch.setattr(Figure, "draw", counted)

    def page(plot_shapes) -> str:
        drawn.clear()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(plots, "_plot_shapes", plot_shapes)
            fig, _ = plots.choropleth(shapes, "value", "Value by ward", "Percent")
        return report_html.figure_html(fig, "map")

    once = page(plots._plot_shapes)
    assert len(drawn) == 1  # when it is saved, not when the shapes are plotted
    assert once == page(_plot_shapes_with_drawing)
    assert len(drawn) == 2


_EDGES = st.floats(allow_nan=True, allow_infinity=False, width=32) | st.sampled_from([0.0, -0.0])


@given(st.lists(st.tuples(_EDGES, _EDGES, _EDGES, _EDGES), min_size=1, max_size=6))
def test_boxes_are_united_as_matplotlib_unites_them(corners: list[tuple]) -> None:
    from matplotlib.transforms import Bbox, BboxBase

    boxes = [Bbox([[x0, y0], [x1, y1]]) for x0, y0, x1, y1 in corners]
    plain = BboxBase.union(boxes).get_points()
    with report_html._plain_unions():
        fast = BboxBase.union(boxes).get_points()
    np.testing.assert_array_equal(fast, plain)
    assert (np.signbit(fast) == np.signbit(plain)).all()  # -0.0 stays -0.0


def test_no_boxes_have_no_union() -> None:
    from matplotlib.transforms import BboxBase

    with report_html._plain_unions(), pytest.raises(ValueError, match="cannot be empty"):
        BboxBase.union([])


@pytest.mark.parametrize(
    ("setup", "depends_on"),
    [
        (lambda ax: ax.set_yticks([0, 1], ["a", "b"]), "nothing"),
        (lambda ax: None, "ticks that fit"),
        (lambda ax: ax.set_yscale("log"), "box"),
    ],
)
def test_ticks_are_placed_again_only_when_the_axis_size_matters(setup, depends_on: str) -> None:
    fig, ax = plt.subplots(figsize=(3, 2))
    setup(ax)
    key = report_html._size_key(ax.yaxis)
    expected = {
        "nothing": (),
        "ticks that fit": (ax.yaxis.get_tick_space(),),
        "box": tuple(ax.bbox.bounds),
    }[depends_on]
    plt.close(fig)
    assert key == expected


def test_fixed_ticks_are_placed_once_however_often_the_layout_moves_the_axes() -> None:
    from matplotlib.axis import Axis

    def chart() -> Figure:
        fig, ax = plt.subplots(figsize=(3, 2), layout="constrained")
        ax.barh([0, 1, 2], [3, 1, 2])
        ax.set_yticks([0, 1, 2], ["first group", "second", "third group, longer"])
        fig.suptitle("A title")
        return fig

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(report_html, "reused_measurements", contextlib.nullcontext)
        plain = report_html.figure_html(chart(), "Bars")
    placed = []
    update = Axis._update_ticks

    def counted(self):
        placed.append(self.axis_name)
        return update(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Axis, "_update_ticks", counted)
        reused = report_html.figure_html(chart(), "Bars")
    assert reused == plain
    assert placed.count("y") == 1
