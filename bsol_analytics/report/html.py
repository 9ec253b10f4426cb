"""Accessible HTML: figures with alt text, tables, collapsible sections."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import functools
import html
import io
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics import __version__
from bsol_analytics.report.formatting import fmt_ci, fmt_column, slug
from bsol_analytics.vocabulary import LOCALITIES

#: Resolution of charts embedded as PNG (maps and heatmaps): sharp on paper.
PRINT_DPI = 200
#: A chart drawing more points than this (a detailed map) is embedded as a PNG.
MAX_VECTOR_POINTS = 8000


def _dense(fig: Any) -> bool:
    """Whether a figure is better embedded as a raster (images, or many polygon points)."""
    points = 0
    for ax in fig.axes:
        if ax.images:
            return True
        points += sum(len(p.vertices) for c in ax.collections for p in c.get_paths())
        points += sum(len(p.get_path().vertices) for p in ax.patches)
    return points > MAX_VECTOR_POINTS


_SVG_NUMBER = re.compile(r"(-?\d+\.\d{2})\d+")
#: Matplotlib's element ids (``patch_3``, ``axes_1``, ``matplotlib.axis_2``): never referenced.
_SVG_GROUP_ID = re.compile(r'<g id="[A-Za-z0-9]+(?:\.[A-Za-z]+)?_\d+">')


def _compact_tag(tag: re.Match[str]) -> str:
    """One SVG tag on one line, its numbers to two decimals."""
    return _SVG_NUMBER.sub(r"\1", re.sub(r"\s*\n\s*", " ", tag[0]))


def compact_svg(svg: str) -> str:
    r"""Shrink a matplotlib SVG without changing what it shows.

    Drops the XML prolog, the metadata block and matplotlib's unreferenced group ids, keeps
    two decimals in the numbers inside tags (0.01 pt, far below what print shows),
    removes the whitespace between tags and writes the style shared by a run of markers
    once, on a group around them. Text content is left as it is.

    Examples:
        >>> svg = ('<?xml version="1.0"?>\n<svg width="505.578750pt">\n <metadata>x</metadata>'
        ...        '\n <g id="patch_1">\n  <path d="M 0 1.234567 \nL 2 3 "/>\n </g>'
        ...        '<text x="1.23456">12.345</text></svg>')
        >>> compact_svg(svg)
        '<svg width="505.57pt"><g><path d="M 0 1.23 L 2 3 "/></g><text x="1.23">12.345</text></svg>'
        >>> compact_svg('<g><use x="1" style="fill: red"/><use x="2" style="fill: red"/></g>')
        '<g><g style="fill: red"><use x="1"/><use x="2"/></g></g>'
    """
    svg = re.sub(r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*", "", svg)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"<[^>]+>", _compact_tag, svg)
    svg = _SVG_GROUP_ID.sub("<g>", svg)
    svg = re.sub(r">\s+<", "><", svg)
    return _SVG_USE_RUN.sub(_shared_style, svg)


#: A run of markers (``<use>``), e.g. the points of a scatter plot.
_SVG_USE_RUN = re.compile(r"(?:<use [^>]*/>){2,}")
_SVG_STYLE = re.compile(r' style="([^"]*)"')


def _shared_style(run: re.Match[str]) -> str:
    """Markers with one style: the style written once on a group around them."""
    styles = set(_SVG_STYLE.findall(run[0]))
    if len(styles) != 1 or run[0].count("<use ") != run[0].count(" style="):
        return run[0]
    return f'<g style="{styles.pop()}">{_SVG_STYLE.sub("", run[0])}</g>'


#: Blank margin around a chart's drawn content, in inches.
PAD_INCHES = 0.04


#: Layouts and sizes of texts measured so far, by what they depend on (see
#: :func:`reused_measurements`); emptied when it grows past :data:`_TEXT_CACHE_SIZE`.
_TEXT_CACHE: dict[tuple, Any] = {}
_TEXT_CACHE_SIZE = 50_000


def _font_settings() -> tuple:
    """The settings that decide which font a text is drawn in and how it is measured."""
    import matplotlib as mpl

    prefixes = ("font.", "mathtext.", "text.")
    return tuple((k, str(v)) for k, v in mpl.rcParams.items() if k.startswith(prefixes))


def _measurer(renderer: Any) -> type:
    """The kind of renderer that measures for ``renderer``.

    Saving as SVG draws through a mixed-mode renderer that hands every measurement to its
    SVG renderer: words and boxes measure the same as in the layout pass before it.
    """
    inner = getattr(renderer, "_vector_renderer", None)
    drawing_vectors = inner is not None and getattr(renderer, "_renderer", None) is inner
    return type(inner if drawing_vectors else renderer)


def _text_layout_key(text: Any, renderer: Any) -> tuple | None:
    """What a text's layout (its size and line offsets) depends on; None: do not reuse it."""
    if text.get_wrap() or text.get_usetex() or "$" in text.get_text():
        return None  # wrapped text depends on its position; mathtext on many settings
    return (
        "layout",
        _measurer(renderer),
        getattr(renderer, "dpi", None),
        text.figure.dpi,
        text.get_text(),
        hash(text.get_fontproperties()),
        text.get_linespacing(),
        text._get_multialignment(),
        text.get_rotation(),
        text.get_rotation_mode(),
        text.get_horizontalalignment(),
        text.get_verticalalignment(),
    )


def _tick_key(axis: Any, size: tuple | None = None) -> tuple:
    """What the ticks an axis draws depend on while one figure is drawn.

    ``size`` is what they take from the axis's size (default :func:`_size_key`).
    """
    axes = axis.axes
    return (
        id(axis),
        tuple(axis.get_view_interval()),
        _size_key(axis) if size is None else size,
        axes.figure.dpi,
        axis.get_scale(),
        *(id(obj) for obj in (axis.major.locator, axis.major.formatter)),
        *(id(obj) for obj in (axis.minor.locator, axis.minor.formatter)),
    )


def _size_key(axis: Any) -> tuple:
    """What an axis's ticks take from the axis's size.

    Nothing for fixed ticks (or none); for matplotlib's automatic ticks, the number of
    ticks that fit; for any other locator, the axes' box.
    """
    from matplotlib import ticker

    fits: list[int] = []
    for locator in (axis.major.locator, axis.minor.locator):
        kind = type(locator)
        if kind in (ticker.FixedLocator, ticker.NullLocator):
            continue
        if kind in (ticker.MaxNLocator, ticker.AutoLocator) and hasattr(locator, "_nbins"):
            if locator._nbins == "auto":
                fits.append(axis.get_tick_space())
            continue
        return tuple(axis.axes.bbox.bounds)
    return tuple(fits)


def _label_boxes_key(axis: Any, ticks: list, renderer: Any) -> tuple:
    """What the boxes of an axis's tick labels depend on while one figure is drawn."""
    return (
        *_tick_key(axis, tuple(axis.axes.bbox.bounds)),
        _measurer(renderer),
        getattr(renderer, "dpi", None),
        tuple(
            (id(t), t.get_loc(), t.label1.get_text(), t.label2.get_text(),
             t.label1.get_visible(), t.label2.get_visible())
            for t in ticks
        ),
    )  # fmt: skip


@contextlib.contextmanager
def _patched(patches: Sequence[tuple[type, str, Callable[[Any], Any]]]) -> Iterator[None]:
    """Replace matplotlib methods while the context is on, and put the originals back.

    Each patch is ``(class, name, make)``: the method ``name`` defined on ``class`` becomes
    ``make(original)``. If any of them is absent in this matplotlib, or the patches are
    already on (the first class carries a ``_bsol_reused`` mark), nothing changes.
    """
    originals = [owner.__dict__.get(name) for owner, name, _ in patches]
    mark_on = patches[0][0]
    if any(o is None for o in originals) or getattr(mark_on, "_bsol_reused", False):
        yield
        return
    for (owner, name, make), original in zip(patches, originals, strict=True):
        setattr(owner, name, make(original))
    mark_on._bsol_reused = True
    try:
        yield
    finally:
        for (owner, name, _), original in zip(patches, originals, strict=True):
            setattr(owner, name, original)
        del mark_on._bsol_reused


@contextlib.contextmanager
def _reused_ticks() -> Iterator[None]:
    """Place an axis's ticks once for each size and range the axis takes in one figure.

    Matplotlib places the ticks again (locator, labels) and measures their labels again
    each time an axis is measured or drawn (up to four times in one drawing); while one
    figure is laid out and drawn, the same axis at the same size and range gets the same
    ticks, with labels in the same places.
    """
    from matplotlib.axis import Axis

    placed: dict[tuple, list] = {}
    measured: dict[tuple, tuple] = {}

    def reuse_ticks(update: Any) -> Any:
        def ticks(self: Any) -> list:
            key = _tick_key(self)
            if key not in placed:
                placed[key] = update(self)
            return list(placed[key])

        return ticks

    def reuse_boxes(boxes_of: Any) -> Any:
        def boxes(self: Any, ticks: list, renderer: Any) -> tuple:
            key = _label_boxes_key(self, ticks, renderer)
            if key not in measured:
                measured[key] = boxes_of(self, ticks, renderer)
            first, second = measured[key]
            return [b.frozen() for b in first], [b.frozen() for b in second]

        return boxes

    with _patched(
        [(Axis, "_update_ticks", reuse_ticks), (Axis, "_get_ticklabel_bboxes", reuse_boxes)]
    ):
        yield


def _packing_key(box: Any, renderer: Any) -> tuple:
    """What the packing of a legend's box (its size, its parts' offsets) depends on."""
    return (
        id(box),
        type(box),
        _measurer(renderer),
        renderer.points_to_pixels(1.0),
        box.width,
        box.height,
        box.pad,
        box.sep,
        box.mode,
        box.align,
        tuple(id(child) for child in box.get_visible_children()),
    )


@contextlib.contextmanager
def _reused_packing() -> Iterator[None]:
    """Pack each legend box once per resolution while one figure is laid out and drawn.

    A legend is a tree of packed boxes, and every box packs its whole subtree again each
    time the legend is measured or drawn (the layout measures it, the drawing draws each
    level, the content's box measures it again); the sizes and offsets do not change.
    """
    from matplotlib.offsetbox import HPacker, VPacker

    packed: dict[tuple, tuple] = {}

    def reuse(pack: Any) -> Any:
        def packing(self: Any, renderer: Any) -> tuple:
            key = _packing_key(self, renderer)
            if key not in packed:
                packed[key] = pack(self, renderer)
            bbox, offsets = packed[key]
            return bbox.frozen(), list(offsets)

        return packing

    name = "_get_bbox_and_child_offsets"
    with _patched([(VPacker, name, reuse), (HPacker, name, reuse)]):
        yield


def _union(bboxes: Sequence[Any], plain: Any) -> Any:
    """The box containing ``bboxes``, as matplotlib's ``Bbox.union`` (``plain``) gives it.

    The same smallest and largest edges, found with Python's ``min`` and ``max`` over the
    corners rather than one small NumPy reduction per edge and box; boxes with a corner
    that is NaN, or an edge at zero (where NumPy's choice between equal zeros decides the
    sign), are left to ``plain``.
    """
    from matplotlib.transforms import Bbox

    if not len(bboxes):
        raise ValueError("'bboxes' cannot be empty")
    xs: list[float] = []
    ys: list[float] = []
    for box in bboxes:
        (x0, y0), (x1, y1) = box.get_points().tolist()
        xs += (x0, x1)
        ys += (y0, y1)
    edges = (min(xs), min(ys), max(xs), max(ys))
    total = sum(xs) + sum(ys)  # NaN if any corner is NaN
    if total != total or 0.0 in edges:
        return plain(bboxes)
    return Bbox([[edges[0], edges[1]], [edges[2], edges[3]]])


@contextlib.contextmanager
def _plain_unions() -> Iterator[None]:
    """Unite boxes with :func:`_union` while a figure is laid out and drawn.

    Measuring a chart unites boxes thousands of times (every tick label, spine and axis),
    each time with NumPy reductions over a handful of numbers.
    """
    from matplotlib.transforms import BboxBase

    def plain_python(union: Any) -> Any:
        if not isinstance(union, staticmethod):  # another matplotlib: keep its own
            return union
        return staticmethod(functools.partial(_union, plain=union.__func__))

    with _patched([(BboxBase, "union", plain_python)]):
        yield


@contextlib.contextmanager
def reused_measurements() -> Iterator[None]:
    """Measure each distinct text once, however many times charts are laid out and drawn.

    Placing a chart draws it more than once (constrained layout, the drawing, the
    content's box), each pass measures every word again with the font and places every
    axis's ticks again, and the charts of a pack repeat the same words (ticks, legends).
    Inside this context a text's layout is computed once for each combination of the
    words, font settings, alignment, rotation and resolution it depends on, and reused, as
    are the sizes of words measured for SVG and, within the context, the ticks of an axis
    of a given range (and size, where its ticks depend on it); boxes are united without
    NumPy (:func:`_union`): the picture is the same. Matplotlib versions without the
    private methods are left untouched. Enter it once per figure.

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> plain = ax.set_title("A title").get_window_extent().bounds
        >>> with reused_measurements():
        ...     first = ax.title.get_window_extent().bounds
        ...     again = ax.title.get_window_extent().bounds
        >>> plain == first == again
        True
    """
    from matplotlib.text import Text
    from matplotlib.textpath import TextToPath

    if len(_TEXT_CACHE) > _TEXT_CACHE_SIZE:
        _TEXT_CACHE.clear()
    settings = _font_settings()

    def reuse_layout(layout_of: Any) -> Any:
        def layout(self: Any, renderer: Any) -> Any:
            key = _text_layout_key(self, renderer)
            if key is None:
                return layout_of(self, renderer)
            key = (settings, *key)
            if key not in _TEXT_CACHE:
                _TEXT_CACHE[key] = layout_of(self, renderer)
            box, lines, corner = _TEXT_CACHE[key]
            return box.frozen(), list(lines), corner

        return layout

    def reuse_size(size_of: Any) -> Any:
        def size(self: Any, s: str, prop: Any, ismath: Any) -> Any:
            key = (settings, "size", s, hash(prop), ismath)
            if key not in _TEXT_CACHE:
                _TEXT_CACHE[key] = size_of(self, s, prop, ismath)
            return _TEXT_CACHE[key]

        return size

    text_patches = [
        (Text, "_get_layout", reuse_layout),
        (TextToPath, "get_text_width_height_descent", reuse_size),
    ]
    with _patched(text_patches), _reused_ticks(), _reused_packing(), _plain_unions():
        yield


def settle_layout(fig: Any, svg: bool = False) -> None:
    """Run a figure's layout engine (constrained layout) once, then keep its result.

    Saving a figure that has a layout engine (even matplotlib's frozen placeholder) draws
    it twice (a layout pass, then the picture); laid out beforehand (the engine alone,
    cheaper than a drawing) and left with no engine, it is drawn once. With ``svg``, words
    are measured as the SVG writer measures them (at 72 dpi), so the layout is the one
    that saving as SVG would have made.

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots(layout="constrained")
        >>> settle_layout(fig, svg=True)
        >>> fig.get_layout_engine() is None
        True
    """
    import matplotlib
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    engine = fig.get_layout_engine()
    if engine is None:
        return
    if isinstance(engine, PlaceHolderLayoutEngine):
        pass  # laid out already: only the placeholder goes
    elif not svg:
        engine.execute(fig)
    else:
        from matplotlib.backends.backend_svg import RendererSVG

        dpi = fig.dpi
        fig.set_dpi(72)
        renderer = RendererSVG(fig.get_figwidth() * 72, fig.get_figheight() * 72, io.StringIO())
        fig._get_renderer = lambda: renderer  # the engine measures words with this renderer
        try:
            engine.execute(fig)
        finally:
            del fig._get_renderer
            fig.set_dpi(dpi)
    # The layout is kept in the axes' positions; with no engine, saving draws once.
    plain = {"figure.autolayout": False, "figure.constrained_layout.use": False}
    with matplotlib.rc_context(plain):
        fig.set_layout_engine(None)


def svg_tight(fig: Any, pad: float = PAD_INCHES) -> str:
    """The figure as SVG cut to its drawn content (never narrower than the figure), in one pass.

    Gives the picture of ``savefig(bbox_inches="tight")`` (content outside the canvas,
    such as a legend under the axes, included; a white background) without its second,
    layout-only pass over every artist: the content's box is measured after drawing, with
    the text sizes already known, and written as the SVG's ``viewBox``. Across, the
    picture keeps at least the figure's width, which is the width a chart prints at (see
    :data:`bsol_analytics.plots.COLUMN_WIDTH`). Falls back to ``bbox_inches="tight"`` if
    the drawing pass cannot be observed.

    Examples:
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots(figsize=(3, 2))
        >>> _ = ax.plot([0, 1], [0, 1], label="a line")
        >>> _ = ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3))
        >>> svg = svg_tight(fig)
        >>> float(svg.split('height="')[1].split("pt")[0]) > 2 * 72  # the legend is kept
        True
    """
    from matplotlib.figure import Figure

    settle_layout(fig, svg=True)
    boxes: list[Any] = []

    def draw(renderer: Any) -> None:
        inner = getattr(renderer, "_renderer", None)
        convert = getattr(inner, "_convert_path", None)
        if convert is not None:
            # Lines are not cut at the canvas edge: the picture extends past it.
            inner._convert_path = functools.partial(_unclipped, convert)
        Figure.draw(fig, renderer)
        boxes.append(fig.get_tightbbox(renderer))

    buf = io.BytesIO()
    fig.draw = draw
    try:
        fig.savefig(buf, format="svg", metadata={"Date": None})
    finally:
        del fig.draw
    svg = buf.getvalue().decode("utf-8")
    header = re.search(r'width="[\d.]+pt" height="([\d.]+)pt" viewBox="[^"]*"', svg)
    if not boxes or header is None:
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=pad, metadata={"Date": None})
        return buf.getvalue().decode("utf-8")
    box, height = boxes[-1], float(header[1])  # the last pass is the one written
    # Across, the picture keeps the figure's own width (the width it prints at) unless
    # something is drawn outside it; down, it is cut to the drawn content.
    left, right = min(box.x0, 0.0), max(box.x1, fig.get_figwidth())
    x0, y0 = left * 72, height - (box.y1 + pad) * 72
    w, h = (right - left) * 72, (box.height + 2 * pad) * 72
    view = f"{x0:.2f} {y0:.2f} {w:.2f} {h:.2f}"
    start = header.end() + svg[header.end() :].index(">") + 1
    return (
        svg[: header.start()]
        + f'width="{w:.2f}pt" height="{h:.2f}pt" viewBox="{view}"'
        + svg[header.end() : start]
        + f'<rect x="{x0:.2f}" y="{y0:.2f}" width="{w:.2f}" height="{h:.2f}" fill="#fff"/>'
        + svg[start:]
    )


def _unclipped(convert: Any, path: Any, transform: Any = None, clip: Any = None, **kw: Any) -> Any:
    """Matplotlib's SVG path conversion without cutting the path at the canvas edge."""
    return convert(path, transform, clip=None, **kw)


def figure_html(fig: Any, alt: str, dpi: int = PRINT_DPI, css_class: str = "") -> str:
    """Embed a matplotlib figure as an ``<img>`` with alt text, and close it.

    ``css_class`` names the image's class: ``spine-chart`` prints across the page at the
    figure's own size (see the pack's print style), so its words keep their point size.
    A figure wider than a print column (:data:`bsol_analytics.plots.COLUMN_WIDTH`) takes
    the class ``wide-chart`` and prints across the page too.

    Charts are SVG (sharp on screen and paper, printed at their own size); maps and
    heatmaps, whose shapes would make a large SVG, are a 256-colour PNG at ``dpi`` with
    ``width``/``height`` set so that they show at the figure's own size.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> out = figure_html(fig, "An empty chart")
        >>> out.startswith('<img alt="An empty chart"'), "image/svg+xml" in out
        (True, True)
        >>> fig, ax = plt.subplots(figsize=(2, 1))
        >>> _ = ax.imshow([[0, 1]])
        >>> out = figure_html(fig, "A heatmap")
        >>> "image/png" in out and 'width="' in out
        True
    """
    import matplotlib.pyplot as plt
    from PIL import Image

    from bsol_analytics.plots import COLUMN_WIDTH

    if fig.get_figwidth() > COLUMN_WIDTH + 0.01 and "spine-chart" not in css_class:
        css_class = f"{css_class} wide-chart".strip()
    cls = f' class="{html.escape(css_class, quote=True)}"' if css_class else ""
    buf = io.BytesIO()
    svg = not _dense(fig)
    with reused_measurements():
        if svg:
            text = svg_tight(fig)
        else:
            settle_layout(fig)
            fig.savefig(
                buf,
                format="png",
                dpi=dpi,
                bbox_inches="tight",
                pad_inches=PAD_INCHES,
                metadata={"Software": None},
            )
    plt.close(fig)
    if svg:
        data = base64.b64encode(compact_svg(text).encode("utf-8")).decode("ascii")
        src = f"data:image/svg+xml;base64,{data}"
        return f'<img alt="{html.escape(alt, quote=True)}"{cls} src="{src}">'
    # A 256-colour palette keeps charts crisp at about a third of the size.
    buf.seek(0)
    image = Image.open(buf).convert("RGB")
    small = io.BytesIO()
    image.quantize(colors=256, dither=Image.Dither.NONE).save(small, format="PNG", compress_level=6)
    width, height = (round(n * 96 / dpi) for n in image.size)
    data = base64.b64encode(small.getvalue()).decode("ascii")
    return (
        f'<img alt="{html.escape(alt, quote=True)}"{cls} width="{width}" height="{height}" '
        f'src="data:image/png;base64,{data}">'
    )


def table_html(
    frame: pd.DataFrame,
    caption: str,
    row_header: bool = True,
    merge: Sequence[str] = (),
    css_class: str = "",
) -> str:
    """An accessible HTML table: caption, ``th scope="col"`` headers, row headers.

    Cells are escaped; the first column is a row header (``th scope="row"``) when
    ``row_header`` is true. In the columns named in ``merge``, a run of equal cells in
    consecutive rows is written once, spanning those rows (e.g. a caveat shared by a
    family's indicators), so a printed table does not repeat it. ``css_class`` adds
    classes to the table's ``data`` class.

    Examples:
        >>> t = table_html(pd.DataFrame({"Group": ["A"], "Value": ["1.0"]}), "Demo")
        >>> '<th scope="col">Value</th>' in t and '<th scope="row">A</th>' in t
        True
        >>> f = pd.DataFrame({"Group": ["A", "B", "C"], "Note": ["x", "x", "y"]})
        >>> t = table_html(f, "Demo", merge=["Note"])
        >>> '<td rowspan="2">x</td>' in t, t.count("<td")
        (True, 2)
    """
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in frame.columns)
    text = frame.astype(str)
    # Rows spanned by each cell: 0 for a cell merged into the one above it.
    spans = pd.DataFrame(1, index=text.index, columns=text.columns)
    for col in merge:
        values = text[col]
        run = (values != values.shift()).cumsum()
        first = ~run.duplicated()
        spans[col] = np.where(first, run.map(run.value_counts()), 0)
    body = []
    for row, span in zip(text.itertuples(index=False), spans.itertuples(index=False), strict=True):
        cells = []
        for i, (cell, n) in enumerate(zip(row, span, strict=True)):
            if n == 0:
                continue
            rows = f' rowspan="{n}"' if n > 1 else ""
            escaped = html.escape(cell)
            cells.append(
                f'<th scope="row">{escaped}</th>'
                if (i == 0 and row_header)
                else f"<td{rows}>{escaped}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="{html.escape(" ".join(["data", css_class]).strip(), quote=True)}">'
        f"<caption>{html.escape(caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def stat_table(rows: pd.DataFrame, label: str = "Group", decimals: int = 1) -> pd.DataFrame:
    """Format statistic rows for a data table; suppressed cells say so with the reason.

    Args:
        rows: frame with ``group``, ``value``, ``lower``, ``upper``, ``numerator``,
            ``denominator``, ``suppressed``, ``suppression_reason``.
        label: header of the group column.
        decimals: decimals of the value and its interval (2 for ratios).

    Examples:
        >>> rows = pd.DataFrame({"group": ["A", "B"], "value": [12.0, 3.0],
        ...     "lower": [10.0, 1.0], "upper": [14.0, 5.0], "numerator": [120, 3],
        ...     "denominator": [1000, 100], "suppressed": [False, True],
        ...     "suppression_reason": [None, "fewer than 10"]})
        >>> stat_table(rows).iloc[1].tolist()
        ['B', 'suppressed (fewer than 10)', 'suppressed', 'suppressed', 'suppressed']
    """
    return pd.DataFrame(
        {
            label: rows["group"].astype(str).to_numpy(),
            "Value": fmt_column(rows, "value", decimals),
            "95% CI": fmt_ci(rows, decimals),
            "Numerator": fmt_column(rows, "numerator", 0, reason=False),
            "Denominator": fmt_column(rows, "denominator", 0, reason=False),
        }
    )


def heading_html(text: str, level: int = 2) -> str:
    """A heading with an id for the table of contents.

    Examples:
        >>> heading_html("At a glance")
        '<h2 id="at-a-glance">At a glance</h2>'
    """
    return f'<h{level} id="{slug(text)}">{html.escape(text)}</h{level}>'


def section_html(
    title: str,
    headline: str,
    figure: str | None,
    table: pd.DataFrame | None,
    caption: str,
    notes: Sequence[str] = (),
    level: int = 3,
    after_figure: str = "",
) -> str:
    """One pack section: heading, headline sentence, chart, notes and collapsed data table.

    Args:
        title: the section heading.
        headline: one sentence stating the finding.
        figure: HTML from :func:`figure_html` (or ``None`` for no chart).
        table: the chart's data, already formatted (see :func:`stat_table`).
        caption: caption of the data table.
        notes: further plain-English paragraphs (e.g. the SII in words).
        level: heading level (3 under a family, 2 for top-level sections).
        after_figure: markup placed right after the chart (e.g. the sentence that stands
            in for a screen-only chart in print); nothing without a chart.

    Examples:
        >>> out = section_html("Trend", "It went up.", None, pd.DataFrame({"a": ["1"]}), "Data")
        >>> "<details><summary>Show the data: Data</summary>" in out
        True
        >>> out = section_html("T", "H.", "F", None, "", after_figure="<p>N</p>")
        >>> out.count("</figure><p>N</p>")
        1
    """
    parts = [f'<section class="pack-section" aria-labelledby="{slug(title)}">']
    parts.append(heading_html(title, level))
    parts.append(f'<p class="headline">{html.escape(headline)}</p>')
    if figure:
        parts.append(f"<figure>{figure}</figure>{after_figure}")  # the headline: its caption
    parts.extend(f"<p>{html.escape(n)}</p>" for n in notes)
    if table is not None:
        parts.append(
            f"<details><summary>Show the data: {html.escape(caption)}</summary>"
            f"{table_html(table, caption)}</details>"
        )
    parts.append("</section>")
    return "".join(parts)


#: Most sentences the key-messages box shows.
KEY_MESSAGES_MAX = 5


def key_messages_html(messages: Sequence[str]) -> str:
    """The "Key messages" box shown above the spine chart: at most five sentences.

    Args:
        messages: plain-English sentences, most important first (see
            :func:`bsol_analytics.report.messages.key_messages`).

    Examples:
        >>> box = key_messages_html(["East has more smokers.", "Screening is lower."])
        >>> box.startswith('<section class="key-messages" aria-labelledby="key-messages">')
        True
        >>> box.count("<li>")
        2
        >>> "No gap" in key_messages_html([])
        True
    """
    shown = [m.strip() for m in messages if m and m.strip()][:KEY_MESSAGES_MAX]
    if not shown:
        shown = ["No gap against the comparators is large enough to single out."]
    items = "".join(f"<li>{html.escape(m)}</li>" for m in shown)
    return (
        '<section class="key-messages" aria-labelledby="key-messages">'
        f'<h2 id="key-messages">Key messages</h2><ul>{items}</ul></section>'
    )


#: The short label every page, printed page and data table of a synthetic pack carries.
SYNTHETIC_LABEL = "SYNTHETIC DATA: not real patients"


def provenance_banner(info: dict[str, Any], source: str | None = None) -> str:
    """The banner saying what the data are, shown first in every pack.

    A synthetic extract (``info["synthetic"]``, carried from ``synth_manifest.json``) gets a
    banner that cannot be missed; a real extract states its source: ``source`` (a parameter
    of the run), else the prepared extract's own description.

    Examples:
        >>> "SYNTHETIC DATA" in provenance_banner({"synthetic": True})
        True
        >>> provenance_banner({}, "EMIS extract of 1 May 2025")
        '<p class="source-note"><strong>Data source:</strong> EMIS extract of 1 May 2025</p>'
    """
    if info.get("synthetic") or info.get("demo"):
        detail = info.get("source_description") or (
            "Every patient and every figure in this pack is invented."
        )
        return (
            '<div class="data-banner" role="note" aria-label="Synthetic data">'
            f"<p><strong>{html.escape(SYNTHETIC_LABEL)}.</strong> {html.escape(detail)} "
            "Practice codes are real; the figures shown for them are not the practices' "
            "own and must not be used to judge any practice.</p></div>"
        )
    text = source or info.get("source_description") or "a GP extract prepared by bsol prepare"
    return f'<p class="source-note"><strong>Data source:</strong> {html.escape(text)}</p>'


def coverage_sentence(covered: Sequence[str] | None) -> str:
    """Which localities the extract has patients in, as a paragraph ('' when unknown).

    Examples:
        >>> coverage_sentence(["Solihull"])[:68]
        '<p class="coverage">This extract covers 1 of the 6 localities: Solih'
        >>> "all 6 localities" in coverage_sentence(LOCALITIES)
        True
    """
    if covered is None:
        return ""
    names = [n for n in LOCALITIES if n in set(covered)]
    if len(names) == len(LOCALITIES):
        text = f"This extract covers all {len(LOCALITIES)} localities of Birmingham and Solihull."
    elif not names:
        text = "This extract has no patients in any locality."
    else:
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        which = "that locality" if len(names) == 1 else "those localities"
        text = (
            f"This extract covers {len(names)} of the {len(LOCALITIES)} localities: "
            f"{listed} only. BSOL figures are for the patients of {which} alone."
        )
    return f'<p class="coverage">{html.escape(text)}</p>'


def page_banner_css(text: str) -> str:
    """CSS printing ``text`` in the top and bottom margin of every printed page.

    Examples:
        >>> page_banner_css("SYNTHETIC DATA")[:39]
        '@media print { @page { @top-center { co'
    """
    quoted = text.replace("\\", "").replace('"', "'").replace("<", "")
    box = f'content: "{quoted}"; color: #b10e1e; font: bold 9pt Arial, sans-serif;'
    return f"@media print {{ @page {{ @top-center {{ {box} }} @bottom-center {{ {box} }} }} }}"


def mark_print(page: str) -> str:
    """Mark the at-a-glance section and the definitions to print full width.

    The at-a-glance values print as a table, placed before the spine chart (a copy shown
    only in print; on screen the table stays in its ``<details>``); every other chart's
    table stays on screen only.

    Examples:
        >>> page = ('<h2 id="at-a-glance">At a glance</h2><section class="pack-section">'
        ...     '<figure>F</figure><details><summary>S</summary><table class="data">V</table>'
        ...     '</details></section><h2 id="next">N</h2><details><summary>T</summary></details>')
        >>> out = mark_print(page)
        >>> out.count('<div class="print-only"><table class="data">V</table></div><figure>')
        1
        >>> out.count("at-a-glance-print")
        1
        >>> mark_print('<h2 id="definitions-and-data">D</h2><h3 id="x">X</h3>'
        ...     '<table class="data"></table>').count("print-wide")
        2
    """
    start = page.find('<h2 id="at-a-glance">')
    if start < 0:
        return _mark_wide(page)
    end = page.find("<h2 ", start + 1)
    end = len(page) if end < 0 else end
    glance = page[start:end].replace(
        'class="pack-section"', 'class="pack-section at-a-glance-print"', 1
    )
    first, last = glance.find('<table class="data">'), glance.find("</table>")
    at = glance.find("<figure>")
    if 0 <= at < first < last:
        table = glance[first : last + len("</table>")]
        glance = f'{glance[:at]}<div class="print-only">{table}</div>{glance[at:]}'
    return _mark_wide(page[:start] + glance + page[end:])


def _mark_wide(page: str) -> str:
    """Print the definitions part (from its ``<h2>`` to the next) across the full page width."""
    start = page.find('<h2 id="definitions-and-data">')
    if start < 0:
        return page
    end = page.find("<h2 ", start + 1)
    end = len(page) if end < 0 else end
    part = page[start:end]
    for tag in ("h3", "ul", "p", "ol"):
        part = part.replace(f"<{tag}>", f'<{tag} class="print-wide">')
        part = part.replace(f"<{tag} id=", f'<{tag} class="print-wide" id=')
    part = part.replace('<table class="data', '<table class="data print-wide')
    return page[:start] + part + page[end:]


def mark_synthetic(page: str) -> str:
    """Label every data-table caption of a page as synthetic (for synthetic packs).

    Examples:
        >>> mark_synthetic('<table class="data"><caption>Rates</caption></table>')
        '<table class="data"><caption><span class="synthetic-tag">Synthetic data.</span> Rates</caption></table>'
    """  # noqa: E501
    return page.replace("<caption>", '<caption><span class="synthetic-tag">Synthetic data.</span> ')


def show(markup: str) -> None:
    """Display HTML in the notebook (the converted pack keeps it as is).

    Examples:
        >>> show("<p>hello</p>")
        <IPython.core.display.HTML object>
    """
    from IPython.display import HTML, display

    display(HTML(markup))


def run_stamp() -> str:
    """Version of the suite and the time the pack was built (UTC).

    Examples:
        >>> run_stamp().startswith("bsol_analytics ")
        True
    """
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"bsol_analytics {__version__}, built {now}"


__all__ = [
    "KEY_MESSAGES_MAX",
    "SYNTHETIC_LABEL",
    "coverage_sentence",
    "figure_html",
    "heading_html",
    "key_messages_html",
    "mark_print",
    "mark_synthetic",
    "page_banner_css",
    "provenance_banner",
    "run_stamp",
    "section_html",
    "show",
    "stat_table",
    "table_html",
]
