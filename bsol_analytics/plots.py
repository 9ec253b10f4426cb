"""Charts for the locality packs.

Every function takes a tidy frame from :mod:`bsol_analytics.report`, returns a new
matplotlib figure and its alt text (``(figure, alt)``), and never changes its input. Colours
are the Okabe-Ito colour-blind-safe palette; a judgement is never carried by colour alone
(markers differ in shape and the words are printed beside them), and suppressed cells are
labelled "suppressed" on the chart ("supp." in a heatmap's cell).

Charts are drawn at the width they print at (:data:`COLUMN_WIDTH`, or :data:`FULL_WIDTH`
for spine charts and large maps) with words of at least 7 points, so that on paper every
word keeps its size; the pack's screen style scales them up.
"""

from __future__ import annotations

import textwrap
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bsol_analytics.vocabulary import FAMILIES, comparator_of

#: Okabe-Ito palette.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
#: Colour and marker of each comparison (text is always shown as well).
COMPARISON_STYLE: dict[str, tuple[str, str]] = {
    "better": (OKABE_ITO["blue"], "^"),
    "similar": ("#8C8C8C", "o"),
    "worse": (OKABE_ITO["vermillion"], "v"),
    "higher": (OKABE_ITO["purple"], "P"),  # neutral: never a "better" or "worse" colour
    "lower": (OKABE_ITO["yellow"], "X"),
    "not compared": ("#FFFFFF", "s"),
}
#: Colour of values that carry no judgement (bars of groups, the area's share): never the
#: "better" or "worse" colour of :data:`COMPARISON_STYLE`.
NEUTRAL = "#5E7A8A"
#: Colour of the pack's own area where areas are compared (never the "worse" colour).
OWN_AREA = OKABE_ITO["orange"]
#: Sequential colour map for heatmaps and choropleths (colour-blind safe, greyscale-safe).
SEQUENTIAL = "cividis"

#: Printable width of an A4 page in the pack's print style (210 mm less two 10 mm margins),
#: in inches. Charts that span the page (spine charts, large maps) are drawn this wide.
FULL_WIDTH = 190 / 25.4
#: Width of one of the two print columns (a 6 mm gap between them), in inches. Every
#: other chart is drawn this wide, so it prints at its own size and its words keep their
#: point size on paper; on screen the image is scaled up (SVG scales cleanly).
COLUMN_WIDTH = (190 - 6) / 2 / 25.4
#: Font size of a chart's words (axis labels, ticks, legends), in points, as printed.
CHART_FONT = 8.0
#: Font size of small words inside a chart (values on bars and cells, map keys), in points.
SMALL_FONT = 7.5
#: Width of one character of the chart font, in ems (DejaVu Sans letters and digits,
#: generous): how much room words and numbers are given before they are measured.
CHAR_WIDTH = 0.62
#: Characters of the chart font per inch (DejaVu Sans at :data:`CHART_FONT`, generous).
_CHARS_PER_INCH = 72 / (CHAR_WIDTH * CHART_FONT)

plt.rcParams.update(
    {
        "svg.fonttype": "none",  # words as text: small files, sharp, selectable
        # A short font list: it is written into every text element of an SVG.
        "font.sans-serif": ["DejaVu Sans", "Verdana", "Arial"],
        "font.size": CHART_FONT,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": CHART_FONT,
        "axes.labelsize": CHART_FONT,
        "xtick.labelsize": SMALL_FONT,
        "ytick.labelsize": SMALL_FONT,
        "legend.fontsize": SMALL_FONT,
        "legend.handlelength": 1.6,
        "legend.columnspacing": 1.0,
        "figure.constrained_layout.h_pad": 0.02,
        "figure.constrained_layout.w_pad": 0.02,
        "svg.hashsalt": "bsol",
    }
)


def _figure(height: float, width: float = COLUMN_WIDTH) -> tuple[Any, Any]:
    """A figure of the width it prints at (constrained layout keeps every word inside it)."""
    return plt.subplots(figsize=(width, height), layout="constrained")


def _wrap(text: str, width: float = COLUMN_WIDTH, size: float = CHART_FONT) -> str:
    """``text`` wrapped to lines that fit ``width`` inches at ``size`` points.

    Examples:
        >>> _wrap("Recorded prevalence by deprivation quintile and ethnic group", 2.0).splitlines()
        ['Recorded prevalence by', 'deprivation quintile and', 'ethnic group']
    """
    chars = max(8, int(width * _CHARS_PER_INCH * CHART_FONT / size))
    return textwrap.fill(str(text), chars, break_long_words=False)


def _title(fig: Any, title: str) -> None:
    """The chart's title at the top left of the figure, wrapped to the figure's width."""
    fig.suptitle(_wrap(title, fig.get_figwidth() - 0.1), x=0.01, ha="left",
                 fontsize=CHART_FONT)  # fmt: skip


def _legend_below(ax: Any) -> None:
    """The legend under the chart (outside the data), as many entries to a row as fit."""
    fig = ax.get_figure()
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    longest = max(len(lab) for lab in labels) * SMALL_FONT / CHART_FONT / _CHARS_PER_INCH
    ncol = max(1, min(len(labels), int(fig.get_figwidth() // (longest + 0.45))))
    fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False)


def _ci_err(frame: pd.DataFrame) -> np.ndarray:
    value = frame["value"].to_numpy(float)
    low = value - frame["lower"].to_numpy(float)
    high = frame["upper"].to_numpy(float) - value
    return np.nan_to_num(np.vstack([low, high]), nan=0.0).clip(min=0)


#: Font size (points) of the spine chart's words; it prints at its own size (see report CSS).
SPINE_FONT = 8.0


#: Height of one single-line row of the spine chart, in inches.
SPINE_PITCH = 0.16


#: Where the spine chart's parts start, in inches from its left edge: the plot (after the
#: indicator names), the value column and the comparison column; and the plot's width.
SPINE_X = {"plot": 2.55, "value": 3.95, "word": 5.18, "plot_width": 1.28}


def _spine_words(g: pd.DataFrame) -> list[str]:
    """The comparison and trend printed at the right, wrapped to the chart's width."""
    comparison = g["comparison"].where(g["comparison"].isin(COMPARISON_STYLE), "not compared")
    sup = g["suppressed"].astype(bool).to_numpy()
    why = g.get("why_not_compared", pd.Series("", index=g.index)).fillna("").astype(str)
    why = why.str.replace(r" \(.*\)$", "", regex=True)  # short enough for the figure's width
    words = np.where(sup, "", np.where(why != "", why, comparison) + "; " + g["trend"].astype(str))
    room = FULL_WIDTH - SPINE_X["word"] - 0.05
    return [_wrap(w, room, SPINE_FONT) for w in words]


def _spine_layout(
    glance: pd.DataFrame, headings: bool = True
) -> tuple[pd.DataFrame, list[str], list[str], np.ndarray, list[tuple[float, str]], float]:
    """Rows grouped by family (first-seen order), their labels, words and y, headings, height.

    Heights are in rows: a row of two lines takes one and a half, a family heading one more.
    """
    fam = glance["family"].astype(str) if "family" in glance else pd.Series("", index=glance.index)
    codes = pd.Series(pd.factorize(fam)[0], index=glance.index)
    order = codes.sort_values(kind="stable").index
    g = glance.loc[order].reset_index(drop=True)
    codes = codes.loc[order].to_numpy()
    labels, words = _spine_labels(g), _spine_words(g)
    lines = np.maximum(np.char.count(np.array(labels, dtype=str), "\n"),
                       np.char.count(np.array(words, dtype=str), "\n"))  # fmt: skip
    height = 1.0 + 0.55 * lines
    grouped = headings and bool(len(g)) and (len(set(codes)) > 1 or bool(fam.iloc[0]))
    starts = np.r_[True, codes[1:] != codes[:-1]] if len(g) else np.zeros(0, bool)
    head = 1.15 * (starts & grouped)
    centre = np.cumsum(height + head) - height / 2
    total = float(centre[-1] + height[-1] / 2 + 0.3) if len(g) else 1.0
    y = total - centre
    heads = [
        (float(yi + h / 2 + 0.55), FAMILIES.get(n, n))
        for yi, h, n in zip(y[starts], height[starts], g["family"].astype(str)[starts], strict=True)
    ] if grouped else []  # fmt: skip
    return g, labels, words, y, heads, total


def _spine_labels(g: pd.DataFrame) -> list[str]:
    """Indicator titles without their family's name (the group heading says it), wrapped."""
    fam = g["family"].astype(str) if "family" in g else pd.Series("", index=g.index)
    prefix = fam.map(lambda f: FAMILIES.get(f, "") + ": ")
    titles = g["title"].astype(str)
    strip = [
        t[len(p) :] if p != ": " and t.startswith(p) else t
        for t, p in zip(titles, prefix, strict=True)
    ]
    room = SPINE_X["plot"] - 0.12
    return [_wrap(t[:1].upper() + t[1:], room, SPINE_FONT) for t in strip]


def _spine_value_text(g: pd.DataFrame) -> list[str]:
    """The value and its 95% CI as printed at the right ("suppressed" for a hidden cell)."""
    out = []
    for title, v, lo, hi, sup in zip(
        g["title"].astype(str), g["value"], g["lower"], g["upper"], g["suppressed"], strict=True
    ):
        d = 2 if "ratio" in title.lower() else (0 if abs(v) >= 100 else 1)
        if bool(sup) or pd.isna(v):
            out.append("suppressed" if bool(sup) else "no data")
        elif pd.isna(lo) or pd.isna(hi):
            out.append(f"{v:,.{d}f}")
        else:
            out.append(f"{v:,.{d}f} ({lo:,.{d}f}\u2013{hi:,.{d}f})")
    return out


def _spine_points(ax: Any, g: pd.DataFrame, ref: str, span: float, y: np.ndarray) -> None:
    """The spine chart's markers, intervals and England diamonds (percent of ``ref``)."""
    base = g[ref].to_numpy(float) if ref in g else np.full(len(g), np.nan)
    sup = g["suppressed"].astype(bool).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = {c: np.clip(100 * np.where(sup, np.nan, g[c].to_numpy(float)) / base,
                          100 - span, 100 + span) for c in ("value", "lower", "upper")}  # fmt: skip
        eng = 100 * g["England"].to_numpy(float) / base if ref != "England" else None
    err = np.abs(np.vstack([rel["value"] - rel["lower"], rel["upper"] - rel["value"]]))
    ok = np.isfinite(rel["value"]) & np.isfinite(err).all(axis=0)
    ax.errorbar(rel["value"][ok], y[ok], xerr=err[:, ok], fmt="none", ecolor="#404040", lw=1,
                capsize=2, zorder=2)  # fmt: skip
    comparison = g["comparison"].where(g["comparison"].isin(COMPARISON_STYLE), "not compared")
    for name, (colour, marker) in COMPARISON_STYLE.items():
        pick = (comparison == name).to_numpy() & np.isfinite(rel["value"])
        if pick.any():
            ax.scatter(rel["value"][pick], y[pick], s=40, c=colour, marker=marker,
                       edgecolors="black", linewidths=0.6, zorder=3)  # fmt: skip
    if eng is not None:
        pick = np.isfinite(eng)
        ax.scatter(np.clip(eng[pick], 100 - span, 100 + span), y[pick], s=20, c="black",
                   marker="D", zorder=4)  # fmt: skip


def _spine_span(g: pd.DataFrame, ref: str) -> float:
    """Half-width of the spine chart's axis around 100 (at least 25, at most 100)."""
    base = g[ref].to_numpy(float) if ref in g else np.full(len(g), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = 100 * g["value"].to_numpy(float) / base
    finite = rel[np.isfinite(rel) & ~g["suppressed"].astype(bool).to_numpy()]
    span = float(np.abs(finite - 100).max()) * 1.15 if finite.size else 25.0
    return min(max(25.0, span), 100.0)


def spine_chart(glance: pd.DataFrame, area: str, headings: bool = True) -> tuple[Any, str]:
    """Fingertips-style summary: each indicator as a percent of its comparator.

    Indicators are grouped under their family's name. The area's value is a marker whose
    colour and shape show the comparison, with its 95% confidence interval as a bar; the
    value with its interval, the comparison word and the trend are printed at the right.
    The comparator is the line at 100 and England (where known) a black diamond. The
    figure is the page's printable width (:data:`FULL_WIDTH`) and its words
    :data:`SPINE_FONT` points, so printed at its own size (as the pack's print style does)
    the words keep that size on paper.

    Args:
        glance: output of :func:`bsol_analytics.report.at_a_glance` (``family``,
            ``lower`` and ``upper`` are used when present).
        area: the area's name.
        headings: write each family's name above its rows (a family's own summary, under
            the family's heading, leaves it out).

    Examples:
        >>> g = pd.DataFrame({"title": ["A", "B"], "value": [11.0, 8.0], "BSOL": [10.0, 10.0],
        ...     "England": [9.0, float("nan")], "comparison": ["higher", "worse"],
        ...     "trend": ["increasing", "no significant change"], "suppressed": [False, False]})
        >>> fig, alt = spine_chart(g, "East")
        >>> alt.split(".")[0]
        'Summary chart of 2 indicators for East, each shown as a percent of the BSOL value'
    """
    ref = comparator_of(area)
    glance = glance.assign(
        lower=glance["lower"] if "lower" in glance else np.nan,
        upper=glance["upper"] if "upper" in glance else np.nan,
    )
    g, labels, words, y, heads, total = _spine_layout(glance, headings)
    width, left, plot = FULL_WIDTH, SPINE_X["plot"], SPINE_X["plot_width"]
    fig = plt.figure(figsize=(width, SPINE_PITCH * (total + 1.3) + 0.75))
    fh = fig.get_figheight()
    ax = fig.add_axes((left / width, 0.7 / fh, plot / width, SPINE_PITCH * total / fh))
    span = _spine_span(g, ref)
    ax.axvline(100, color="#404040", lw=1.0)
    _spine_points(ax, g, ref, span, y)
    at = ax.get_yaxis_transform()
    x_value, x_word = (SPINE_X["value"] - left) / plot, (SPINE_X["word"] - left) / plot
    x_head = (0.03 - left) / plot

    def write(x: float, yi: float, text: str, **kw: Any) -> None:
        ax.text(x, yi, text, transform=at, va="center", fontsize=SPINE_FONT, clip_on=False, **kw)

    for yi, value, word in zip(y, _spine_value_text(g), words, strict=True):
        write(x_value, yi, value)
        write(x_word, yi, word, linespacing=0.95)
    for yi, name in heads:
        write(x_head, yi, name, fontweight="bold")
        ax.plot([x_head, (width - 0.05 - left) / plot], [yi + 0.55] * 2, transform=at,
                color="#BFBFBF", lw=0.6, clip_on=False)  # fmt: skip
    write(x_value, total + 0.6, "Value (95% CI)", fontweight="bold")
    write(x_word, total + 0.6, f"Compared with {ref}; trend", fontweight="bold")
    ax.set_yticks(y, labels, fontsize=SPINE_FONT, linespacing=0.95)
    ax.set_ylim(0, total)
    ax.set_xlim(100 - span, 100 + span)
    ax.tick_params(axis="x", labelsize=SPINE_FONT)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel(f"{area} as a percent of {ref} ({ref} = 100)", fontsize=SPINE_FONT)
    ax.spines["left"].set_visible(False)
    ax.grid(axis="x", color="#E0E0E0")
    if ref != "England":
        ax.scatter([], [], c="black", marker="D", s=20, label="England")
    for name in ("better", "similar", "worse", "higher", "lower"):
        colour, marker = COMPARISON_STYLE[name]
        ax.scatter([], [], c=colour, marker=marker, edgecolors="black", s=35, label=name)
    fig.legend(loc="lower center", ncol=6, frameon=False, fontsize=SPINE_FONT,
               bbox_to_anchor=(0.5, 0.0))  # fmt: skip
    counts = g["comparison"].value_counts()
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    alt = (
        f"Summary chart of {len(g)} indicators for {area}, each shown as a percent of the "
        f"{ref} value. Comparison with {ref}: {summary}. The table below gives every value."
    )
    return fig, alt


def bar_ci(
    rows: pd.DataFrame,
    title: str,
    xlabel: str,
    comparator: float | None = None,
    comparator_label: str = "BSOL",
    marks: Any = None,
    marks_label: str = "Age-standardised",
) -> tuple[Any, str]:
    """Horizontal bars with 95% confidence intervals, one per group.

    Suppressed groups get no bar and the word "suppressed". The comparator is a dashed
    line named in the legend; ``marks`` (one value per group, NaN for none) adds black
    diamonds, e.g. the age-standardised value next to the crude one.

    Examples:
        >>> rows = pd.DataFrame({"group": ["Q1", "Q2"], "value": [12.0, 9.0],
        ...     "lower": [11.0, 8.0], "upper": [13.0, 10.0], "suppressed": [False, True]})
        >>> fig, alt = bar_ci(rows, "Prevalence by IMD quintile", "Percent", 10.0)
        >>> "Q2 suppressed" in alt
        True
    """
    r = rows.reset_index(drop=True)
    sup = r["suppressed"].astype(bool).to_numpy()
    vals = np.where(sup, 0.0, r["value"].to_numpy(float))
    fig, ax = _figure(max(1.3, 0.16 * len(r) + 0.9))
    y = np.arange(len(r))[::-1]
    err = np.where(sup, 0, _ci_err(r))
    bar_label = "Crude value, with 95% CI" if marks is not None else None
    ax.barh(y, vals, color=NEUTRAL, alpha=0.85, label=bar_label)
    ax.errorbar(vals, y, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    for yi, s in zip(y, sup, strict=True):
        if s:
            ax.text(0, yi, " suppressed", va="center", fontsize=SMALL_FONT, style="italic")
    if comparator is not None and np.isfinite(comparator):
        ax.axvline(
            comparator,
            color="black",
            ls="--",
            lw=1.5,
            label=f"{comparator_label} ({comparator:.1f})",
        )
    extra = ""
    if marks is not None:
        mk = np.where(sup, np.nan, np.asarray(marks, dtype=float))
        if np.isfinite(mk).any():
            ax.scatter(mk, y, marker="D", s=45, c="black", zorder=3, label=marks_label)
            extra = f" Black diamonds: {marks_label.lower()} " + "; ".join(
                f"{g} {m:.1f}" for g, m in zip(r["group"], mk, strict=True) if np.isfinite(m)
            )
            extra += "."
    ax.set_yticks(y, [_wrap(g, 1.3, SMALL_FONT) for g in r["group"].astype(str)])
    ax.set_xlabel(_wrap(xlabel))
    _title(fig, title)
    _legend_below(ax)
    shown = [
        f"{g} {v:.1f}" if not s else f"{g} suppressed"
        for g, v, s in zip(r["group"], r["value"], sup, strict=True)
    ]
    comp = (
        f" The dashed line is {comparator_label} ({comparator:.1f})."
        if comparator is not None and np.isfinite(comparator)
        else ""
    )
    alt = f"Bar chart: {title}, with 95% confidence intervals. {'; '.join(shown)}.{comp}{extra}"
    return fig, alt


def ratio_chart(rows: pd.DataFrame, area: str, title: str) -> tuple[Any, str]:
    """Recorded-versus-expected ratios with 95% CIs, the pack's area picked out.

    One row per area (the localities and BSOL, in the order given). The pack's own area is
    a large orange diamond (never the "worse" colour) with its name in bold, BSOL a black
    square and the other localities grey circles, so the chart reads without colour and no
    area is coloured as better or worse; each value is printed
    beside its marker. The dashed line at 1 means as many recorded as expected.

    Args:
        rows: ``group`` (area), ``value``, ``lower``, ``upper``, ``suppressed``.
        area: the pack's area (a locality or ``"BSOL"``).
        title: chart title.

    Examples:
        >>> rows = pd.DataFrame({"group": ["East", "West", "BSOL"], "value": [0.65, 0.8, 0.7],
        ...     "lower": [0.6, 0.75, 0.68], "upper": [0.7, 0.85, 0.72],
        ...     "suppressed": [False, True, False]})
        >>> fig, alt = ratio_chart(rows, "East", "Hypertension: recorded vs expected")
        >>> "East 0.65 (95% CI 0.60 to 0.70); West suppressed" in alt
        True
    """
    r = rows.reset_index(drop=True)
    sup = r["suppressed"].astype(bool).to_numpy() | r["value"].isna().to_numpy()
    vals = np.where(sup, np.nan, r["value"].to_numpy(float))
    err = np.where(sup, 0, _ci_err(r))
    upper = np.where(sup, np.nan, r["upper"].to_numpy(float))
    groups = r["group"].astype(str).to_numpy()
    y = np.arange(len(r))[::-1]
    fig, ax = _figure(max(1.5, 0.17 * len(r) + 1.1))
    ax.axvline(1.0, color="#404040", ls="--", lw=1.2, zorder=1)
    styles = (
        (groups == area, OWN_AREA, "D", 90, area),
        ((groups == "BSOL") & (groups != area), "black", "s", 60, "BSOL"),
        ((groups != area) & (groups != "BSOL"), "#6E6E6E", "o", 50, "Other localities"),
    )
    for pick, colour, marker, size, label in styles:
        if not pick.any():
            continue
        ax.errorbar(
            vals[pick], y[pick], xerr=err[:, pick], fmt="none", ecolor=colour, capsize=3, lw=1
        )
        ax.scatter(vals[pick], y[pick], s=size, c=colour, marker=marker, zorder=3, label=label)
    finite = np.concatenate([vals[np.isfinite(vals)], upper[np.isfinite(upper)], [1.0]])
    lo = min(
        float(np.nanmin(np.where(sup, np.nan, r["lower"].to_numpy(float))))
        if (~sup).any()
        else 1.0,
        1.0,
    )
    hi = float(finite.max())
    pad = max(0.05, 0.08 * (hi - lo))
    ax.set_xlim(max(0.0, lo - pad), hi + 3 * pad)
    for yi, v, u, s in zip(y, vals, upper, sup, strict=True):
        if s:
            ax.text(1.0, yi, "  suppressed", va="center", fontsize=SMALL_FONT, style="italic")
        else:
            ax.text(u + pad / 3, yi, f"{v:.2f}", va="center", fontsize=SMALL_FONT)
    ax.set_yticks(y, groups.tolist())
    for tick in ax.get_yticklabels():
        if tick.get_text() == area:
            tick.set_fontweight("bold")
    ax.set_xlabel(_wrap("Recorded ÷ expected (dashed line at 1 = as many recorded as expected)"))
    _title(fig, title)
    _legend_below(ax)
    shown = "; ".join(
        f"{g} suppressed" if s else f"{g} {v:.2f} (95% CI {lo_:.2f} to {hi_:.2f})"
        for g, v, lo_, hi_, s in zip(groups, vals, r["lower"], r["upper"], sup, strict=True)
    )
    alt = (
        f"Dot chart: {title}, ratio of recorded to expected cases with 95% confidence "
        f"intervals, {area} highlighted, reference line at 1. {shown}."
    )
    return fig, alt


def pyramid(pyr: pd.DataFrame, area: str) -> tuple[Any, str]:
    """Population pyramid: percent of the population by sex and age band, BSOL as outline.

    Examples:
        >>> p = pd.DataFrame({"age_band": ["0-4", "0-4"], "sex": ["F", "M"],
        ...     "percent": [50.0, 50.0], "bsol_percent": [49.0, 51.0],
        ...     "suppressed": [False, False]})
        >>> pyramid(p, "East")[1].startswith("Population pyramid of East")
        True
    """
    bands = list(dict.fromkeys(pyr["age_band"]))
    fem = pyr[pyr["sex"] == "F"].set_index("age_band").reindex(bands)
    mal = pyr[pyr["sex"] == "M"].set_index("age_band").reindex(bands)
    y = np.arange(len(bands))
    fig, ax = _figure(2.9)
    ax.barh(y, -mal["percent"].fillna(0), color=OKABE_ITO["blue"], label=f"Males, {area}")
    ax.barh(y, fem["percent"].fillna(0), color=OKABE_ITO["orange"], label=f"Females, {area}")
    if area != "BSOL":
        ax.step(-mal["bsol_percent"], y, where="mid", color="black", lw=1.2, label="BSOL")
        ax.step(fem["bsol_percent"], y, where="mid", color="black", lw=1.2)
    ax.set_yticks(y, bands)
    ticks = ax.get_xticks()
    ax.set_xticks(ticks, [f"{abs(t):.0f}" for t in ticks])
    ax.set_xlabel(_wrap("Percent of registered population (males left, females right)"))
    _legend_below(ax)
    old = pyr[pyr["age_band"].isin(bands[-4:])]["percent"].sum()
    young = pyr[pyr["age_band"].isin(bands[:4])]["percent"].sum()
    alt = (
        f"Population pyramid of {area} by sex and five-year age band. "
        f"{young:.1f}% are aged under 20 and {old:.1f}% are in the four oldest bands."
    )
    return fig, alt


def share_bars(mix: pd.DataFrame, area: str, title: str) -> tuple[Any, str]:
    """Grouped horizontal bars: share of the population in each group, area and BSOL.

    Examples:
        >>> m = pd.DataFrame({"group": ["Asian", "White"], "share": [40.0, 60.0],
        ...     "bsol_share": [30.0, 70.0], "suppressed": [False, False]})
        >>> share_bars(m, "East", "Ethnic group")[1].split(":")[0]
        'Bar chart of Ethnic group'
    """
    m = mix.reset_index(drop=True)
    y = np.arange(len(m))[::-1]
    fig, ax = _figure(max(1.4, 0.26 * len(m) + 0.9))
    own = np.where(m["suppressed"].astype(bool), 0, m["share"].fillna(0))
    ax.barh(y + 0.2, own, height=0.4, color=NEUTRAL, label=area)
    if area != "BSOL":
        ax.barh(
            y - 0.2,
            m["bsol_share"].fillna(0),
            height=0.4,
            color="#BFBFBF",
            edgecolor="black",
            hatch="//",
            label="BSOL",
        )
    for yi, v, s in zip(y, own, m["suppressed"].astype(bool), strict=True):
        ax.text(v, yi + 0.2, " suppressed" if s else f" {v:.1f}%", va="center",
                fontsize=SMALL_FONT)  # fmt: skip
    ax.set_yticks(y, [_wrap(g, 1.3, SMALL_FONT) for g in m["group"].astype(str)])
    ax.margins(x=0.12)  # room for the values printed after the bars
    ax.set_xlabel("Percent of registered population")
    _title(fig, title)
    _legend_below(ax)
    parts = "; ".join(
        f"{g} {'suppressed' if s else f'{v:.1f}%'}"
        for g, v, s in zip(m["group"], own, m["suppressed"].astype(bool), strict=True)
    )
    return fig, f"Bar chart of {title}: share of the registered population of {area}. {parts}."


def heatmap(matrix: pd.DataFrame, title: str, label: str = "Value") -> tuple[Any, str]:
    """IMD quintile × ethnic group heatmap with the value (or "supp.") in each cell.

    Drawn at the print column's width: a suppressed cell says "supp." and a cell without
    data (no patients in that group) a dash, as the axis label explains.

    Args:
        matrix: output of :func:`bsol_analytics.report.cross_matrix`.
        title: chart title.
        label: colour bar label (the unit).

    Examples:
        >>> m = pd.DataFrame({"imd_quintile": ["Q1", "Q1"], "ethnicity_broad": ["Asian", "White"],
        ...     "value": [20.0, 3.0], "suppressed": [False, True]})
        >>> heatmap(m, "Prevalence")[1].count("suppressed")
        1
    """
    val = matrix.assign(value=matrix["value"].where(~matrix["suppressed"].astype(bool)))
    rows = list(dict.fromkeys(matrix["imd_quintile"]))
    cols = list(dict.fromkeys(matrix["ethnicity_broad"]))
    grid = val.pivot_table(
        index="imd_quintile", columns="ethnicity_broad", values="value", dropna=False
    ).reindex(index=rows, columns=cols)
    sup = (
        matrix.pivot_table(
            index="imd_quintile", columns="ethnicity_broad", values="suppressed", aggfunc="any"
        )
        .reindex(index=rows, columns=cols)
        .fillna(False)
        .astype(bool)
    )
    fig, ax = _figure(0.2 * len(rows) + 1.05)
    data = grid.to_numpy(float)
    # Cells as vector shapes (not an image): a small, sharp SVG.
    im = ax.pcolormesh(
        np.arange(len(cols) + 1) - 0.5,
        np.arange(len(rows) + 1) - 0.5,
        np.ma.masked_invalid(data),
        cmap=SEQUENTIAL,
    )
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_facecolor("#F2F2F2")
    finite = data[np.isfinite(data)]
    mid = float(np.mean([finite.min(), finite.max()])) if finite.size else 0.0
    # Short words fit a cell at the printed size; the note under the chart explains them.
    for i in range(len(rows)):
        for j in range(len(cols)):
            if sup.iat[i, j]:
                ax.text(j, i, "supp.", ha="center", va="center", fontsize=SMALL_FONT,
                        style="italic")  # fmt: skip
            elif np.isfinite(data[i, j]):
                colour = "white" if data[i, j] < mid else "black"
                ax.text(j, i, f"{data[i, j]:.1f}", ha="center", va="center", color=colour,
                        fontsize=SMALL_FONT)  # fmt: skip
            else:
                ax.text(j, i, "\u2013", ha="center", va="center", fontsize=SMALL_FONT,
                        color="#404040")  # fmt: skip
    ax.set_xticks(range(len(cols)), [str(c) for c in cols])
    ax.tick_params(axis="x", labelrotation=30)
    for tick in ax.get_xticklabels():
        tick.set_horizontalalignment("right")
    ax.set_yticks(range(len(rows)), [_wrap(r, 0.9, SMALL_FONT) for r in rows])
    ax.set_xlabel("Broad ethnic group; supp. = suppressed, \u2013 = no patients")
    ax.set_ylabel("IMD quintile")
    _title(fig, title)
    bar = fig.colorbar(im, ax=ax, shrink=0.9, fraction=0.06, pad=0.02)
    bar.set_label(label, fontsize=SMALL_FONT)
    bar.ax.tick_params(labelsize=SMALL_FONT)
    n_sup = int(sup.to_numpy().sum())
    if finite.size:
        hi = np.unravel_index(np.nanargmax(data), data.shape)
        top = f" The highest shown is {rows[hi[0]]}, {cols[hi[1]]} ({np.nanmax(data):.1f})."
    else:
        top = ""
    alt = (
        f"Heatmap of {title} by IMD quintile and broad ethnic group; {n_sup} of "
        f"{len(rows) * len(cols)} cells suppressed.{top}"
    )
    return fig, alt


def trend_chart(series: pd.DataFrame, title: str, ylabel: str) -> tuple[Any, str]:
    """Quarterly lines with 95% confidence bands, one per area.

    Examples:
        >>> s = pd.DataFrame({"area": ["East"] * 2, "reporting_date":
        ...     pd.to_datetime(["2024-12-31", "2025-03-31"]), "value": [1.0, 2.0],
        ...     "lower": [0.5, 1.5], "upper": [1.5, 2.5], "suppressed": [False, False]})
        >>> trend_chart(s, "Prevalence", "Percent")[1].startswith("Line chart")
        True
    """
    fig, ax = _figure(1.85)
    styles = [("-", "o", OWN_AREA), ("--", "s", "#404040")]
    styles += [(":", "^", c) for c in (OKABE_ITO["black"], OKABE_ITO["green"])]
    parts = []
    # The pack's own area first (solid orange line), BSOL after it (dashed grey).
    series = series.sort_values("area", key=lambda a: a == "BSOL", kind="stable")
    for k, (area, g) in enumerate(series.groupby("area", sort=False)):
        g = g[~g["suppressed"].astype(bool)].sort_values("reporting_date")
        ls, marker, colour = styles[k % len(styles)]
        ax.plot(g["reporting_date"], g["value"], ls=ls, marker=marker, color=colour, label=area,
                ms=4)  # fmt: skip
        ax.fill_between(g["reporting_date"], g["lower"], g["upper"], color=colour, alpha=0.15)
        if len(g):
            parts.append(f"{area} from {g['value'].iloc[0]:.1f} to {g['value'].iloc[-1]:.1f}")
    dates = sorted(series["reporting_date"].unique())
    ax.set_xticks(dates, [pd.Timestamp(d).strftime("%b %Y") for d in dates])
    ax.tick_params(axis="x", labelrotation=35)
    for tick in ax.get_xticklabels():
        tick.set_horizontalalignment("right")
    ax.set_ylabel(ylabel)
    ax.set_xlabel("Quarter ending")
    _title(fig, title)
    ax.legend(frameon=False)
    alt = f"Line chart of {title} by quarter with 95% confidence bands: {'; '.join(parts)}."
    return fig, alt


def outside_limits(points: pd.DataFrame, limits: pd.DataFrame) -> tuple[int, int]:
    """Count practices above and below the 99.8% funnel limits (interpolated at each n).

    Examples:
        >>> pts = pd.DataFrame({"value": [10.0, 50.0, 30.0], "denominator": [100] * 3,
        ...     "suppressed": [False] * 3})
        >>> lim = pd.DataFrame({"denominator": [100.0], "lower": [20.0], "upper": [40.0],
        ...     "confidence": [0.998]})
        >>> outside_limits(pts, lim)
        (1, 1)
    """
    lim = limits[limits["confidence"] == 0.998].sort_values("denominator")
    pts = points[~points["suppressed"].astype(bool) & points["value"].notna()]
    if lim.empty or pts.empty:
        return 0, 0
    n = pts["denominator"].to_numpy(float)
    lo = np.interp(n, lim["denominator"], lim["lower"])
    hi = np.interp(n, lim["denominator"], lim["upper"])
    v = pts["value"].to_numpy(float)
    return int((v > hi).sum()), int((v < lo).sum())


def funnel_plot(
    points: pd.DataFrame,
    limits: pd.DataFrame,
    average: float,
    title: str,
    ylabel: str,
    polarity: str = "no judgement",
) -> tuple[Any, str]:
    """Funnel plot of practice values against their denominators with 95%/99.8% limits.

    Practices outside the 99.8% limits are drawn as larger triangles (up above, down below),
    coloured by polarity: better and worse take the comparison colours of
    :data:`COMPARISON_STYLE`; with no judgement, the neutral higher and lower colours.

    Examples:
        >>> pts = pd.DataFrame({"value": [10.0, 30.0], "denominator": [100, 400],
        ...     "suppressed": [False, False]})
        >>> lim = pd.DataFrame({"denominator": [50.0, 500.0] * 2, "lower": [5.0, 15, 1, 12],
        ...     "upper": [35.0, 25, 40, 28], "confidence": [0.95, 0.95, 0.998, 0.998]})
        >>> funnel_plot(pts, lim, 20.0, "Control", "Percent")[1].startswith("Funnel plot")
        True
    """
    pts = points[~points["suppressed"].astype(bool) & points["value"].notna()]
    fig, ax = _figure(2.3)
    for level, ls in ((0.95, "--"), (0.998, "-")):
        lim = limits[limits["confidence"] == level].sort_values("denominator")
        ax.plot(
            lim["denominator"],
            lim["lower"],
            ls=ls,
            color="#404040",
            lw=1,
            label=f"{level:.1%} limits".replace(".0%", "%"),
        )
        ax.plot(lim["denominator"], lim["upper"], ls=ls, color="#404040", lw=1)
    ax.axhline(average, color="black", lw=1.2, label="BSOL average")
    judged = {"higher is better": ("better", "worse"), "lower is better": ("worse", "better")}
    up, down = judged.get(polarity, ("higher", "lower"))
    lim = limits[limits["confidence"] == 0.998].sort_values("denominator")
    if len(lim) and len(pts):
        n = pts["denominator"].to_numpy(float)
        hi = pts["value"].to_numpy(float) > np.interp(n, lim["denominator"], lim["upper"])
        lo = pts["value"].to_numpy(float) < np.interp(n, lim["denominator"], lim["lower"])
    else:
        hi = lo = np.zeros(len(pts), bool)
    inside = ~(hi | lo)
    ax.scatter(
        pts["denominator"][inside],
        pts["value"][inside],
        c="#8C8C8C",
        s=12,
        label="within limits",
    )
    ax.scatter(
        pts["denominator"][hi],
        pts["value"][hi],
        c=COMPARISON_STYLE[up][0],
        marker="^",
        s=36,
        edgecolors="black",
        label=f"above 99.8% ({up})",
    )
    ax.scatter(
        pts["denominator"][lo],
        pts["value"][lo],
        c=COMPARISON_STYLE[down][0],
        marker="v",
        s=36,
        edgecolors="black",
        label=f"below 99.8% ({down})",
    )
    ax.set_xlabel("Denominator (patients)")
    ax.set_ylabel(ylabel)
    _title(fig, title)
    _legend_below(ax)
    above, below = outside_limits(points, limits)
    alt = (
        f"Funnel plot of {title} for {len(pts)} practices against the BSOL average "
        f"({average:.1f}); {above} above and {below} below the 99.8% limits."
    )
    return fig, alt


#: Fixed colours of the national IMD quintiles (1 = most deprived, darkest), the same in
#: every pack and every map: cividis at five even steps (colour-blind and greyscale safe).
IMD_QUINTILE_COLOURS: dict[int, str] = {
    1: "#00224E",
    2: "#434E6C",
    3: "#7D7C78",
    4: "#BCAE6C",
    5: "#FEE838",
}
#: Polygons at most this many get their names written on the map; more get numbers and a key.
MAX_NAMED_AREAS = 8


def quintile_colour(label: Any) -> str | None:
    """The fixed colour of an IMD quintile given as 1-5 or a label such as ``"Q1 (most...)"``.

    Examples:
        >>> quintile_colour("Q1 (most deprived)") == quintile_colour(1) == "#00224E"
        True
        >>> quintile_colour("Asian") is None
        True
    """
    text = str(label).strip()
    digit = text[1:2] if text[:1] == "Q" else text[:1]
    return IMD_QUINTILE_COLOURS.get(int(digit)) if digit.isdigit() else None


def _name_column(gdf: Any) -> str | None:
    """The column naming each of a map's areas (``ward_name``, ``locality``), if any.

    A column is used only when its names are unique (an LSOA map's ``locality`` is not).
    """
    for name in ("ward_name", "locality"):
        if name in gdf and gdf[name].notna().any() and gdf[name].dropna().is_unique:
            return name
    return None


#: Rows of a map's numbered key per column, and the width of one key column (inches).
KEY_ROWS, KEY_WIDTH = 45, 1.6
#: Width of a key column of a page-wide map (two columns beside the map), in inches.
WIDE_KEY_WIDTH = 1.95
#: Height of one line of a map's key, in inches.
_KEY_PITCH = 1.2 * SMALL_FONT / 72


def _wide_key(entries: int) -> bool:
    """Whether a map's key of ``entries`` areas goes in two wider columns of a page-wide map.

    Examples:
        >>> _wide_key(KEY_ROWS), _wide_key(KEY_ROWS + 1)
        (False, True)
    """
    return entries > KEY_ROWS


def _named_areas(gdf: Any, names: str) -> Any:
    """The areas of a map that get a name or number: those with a name and a shape."""
    return gdf[gdf[names].notna() & ~gdf.geometry.is_empty]


def _key_entries(shown: Any, names: str | None) -> list[str]:
    """The numbered key of a map's ``shown`` areas (empty when they are named on the map).

    A key of more than :data:`KEY_ROWS` areas goes in two wider columns of a page-wide map.
    """
    if names is None or len(shown) <= MAX_NAMED_AREAS:
        return []
    column = WIDE_KEY_WIDTH if _wide_key(len(shown)) else KEY_WIDTH
    hang = "\n   "
    return [
        _wrap(f"{n} {name}", column - 0.05, SMALL_FONT).replace("\n", hang)
        for n, name in enumerate(shown[names].astype(str), start=1)
    ]


#: Font size of the numbers on a map (points), and how far (in label heights) a number
#: that would cover another may move from its area, on a thin line back to it.
MAP_NUMBER_FONT, _NUMBER_STEPS = 7.0, (1.1, 1.6, 2.2, 2.9, 3.7, 4.6, 5.6, 6.7)


def _number_boxes(ax: Any, xy: np.ndarray, labels: list[str]) -> np.ndarray:
    """Display boxes (x0, y0, x1, y1) of number labels centred on ``xy`` (data units)."""
    ax.apply_aspect()  # the map's final shape, as it is drawn
    centre = ax.transData.transform(xy)
    scale = ax.figure.dpi / 72
    pad = 0.2 * MAP_NUMBER_FONT + 1.0  # the white box around the digits (points)
    half_w = (np.array([len(t) for t in labels]) * CHAR_WIDTH * MAP_NUMBER_FONT + pad) * scale / 2
    half_h = np.full(len(labels), (1.2 * MAP_NUMBER_FONT + pad) * scale / 2)
    return np.column_stack(
        [centre[:, 0] - half_w, centre[:, 1] - half_h, centre[:, 0] + half_w,
         centre[:, 1] + half_h]
    )  # fmt: skip


def _free_offset(box: np.ndarray, placed: list[np.ndarray], limits: Any) -> tuple[float, float]:
    """The nearest shift (display units) at which ``box`` covers no placed box.

    Where none is free, the shift at which it covers the fewest.
    """
    height = box[3] - box[1]
    angles = np.radians([90, 270, 0, 180, 45, 135, 225, 315, 22.5, 67.5, 112.5, 157.5,
                         202.5, 247.5, 292.5, 337.5])  # fmt: skip
    shifts = [(0.0, 0.0)] + [
        (step * height * np.cos(a), step * height * np.sin(a))
        for step in _NUMBER_STEPS
        for a in angles
    ]
    taken = np.array(placed) if placed else np.empty((0, 4))
    best, fewest = (0.0, 0.0), None
    for dx, dy in shifts:
        b = box + np.array([dx, dy, dx, dy])
        if not (b[0] >= limits.x0 and b[2] <= limits.x1 and b[1] >= limits.y0
                and b[3] <= limits.y1):  # fmt: skip
            continue
        covered = int(
            ((b[0] < taken[:, 2]) & (taken[:, 0] < b[2]) & (b[1] < taken[:, 3])
             & (taken[:, 1] < b[3])).sum()
        )  # fmt: skip
        if covered == 0:
            return dx, dy
        if fewest is None or covered < fewest:
            best, fewest = (dx, dy), covered
    return best


def _place_numbers(ax: Any, points: Any, sizes: np.ndarray, back: dict) -> None:
    """Number the areas of a map (1, 2, ... in row order) so that no number covers another.

    Numbers are placed from the largest area to the smallest: each sits on its area
    unless it would cover a number already placed; then it moves to the nearest free spot
    close by, with a thin line back to its area (drawn under the numbers that stay).
    """
    xy = np.column_stack([points.x.to_numpy(), points.y.to_numpy()])
    labels = [str(n) for n in range(1, len(xy) + 1)]
    boxes = _number_boxes(ax, xy, labels)
    limits = ax.figure.bbox
    scale = ax.figure.dpi / 72
    placed: list[np.ndarray] = []
    shift = np.zeros((len(xy), 2))
    for i in np.argsort(-sizes, kind="stable"):
        shift[i] = _free_offset(boxes[i], placed, limits)
        placed.append(boxes[i] + np.tile(shift[i], 2))
    for (x, y), (dx, dy), label in zip(xy, shift, labels, strict=True):
        if dx == 0 and dy == 0:
            ax.text(x, y, label, ha="center", va="center", fontsize=MAP_NUMBER_FONT, bbox=back)
            continue
        ax.annotate(label, (x, y), xytext=(dx / scale, dy / scale), textcoords="offset points",
                    ha="center", va="center", fontsize=MAP_NUMBER_FONT, bbox=back, zorder=2.9,
                    arrowprops={"arrowstyle": "-", "linewidth": 0.5, "color": "black",
                                "shrinkA": 0, "shrinkB": 0})  # fmt: skip


def _label_areas(fig: Any, ax: Any, shown: Any, names: str, key: list[str], box: tuple) -> str:
    """Write area names on the map (few areas) or numbers, with ``key`` in ``box`` beside it.

    ``shown`` are the areas to name (:func:`_named_areas`). Numbers follow the frame's row
    order, which is also the order of the map's data table. ``box`` is the key's left and
    top in figure fractions and its column width in inches. Returns a sentence for the alt
    text.
    """
    import shapely

    points = shown.geometry.representative_point()
    # A white box behind each label (not a stroked halo, which would turn SVG text to paths).
    back = {"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}
    if not key:
        for pt, name in zip(points, shown[names].astype(str), strict=True):
            ax.text(pt.x, pt.y, _wrap(name, 1.2, SMALL_FONT), ha="center", va="center",
                    fontsize=SMALL_FONT, fontweight="bold", bbox=back)  # fmt: skip
        return "Each area is named on the map."
    _place_numbers(ax, points, shapely.area(np.asarray(shown.geometry)), back)
    x, top, col_width = box
    rows = np.cumsum([k.count("\n") + 1 for k in key])
    per_column = -(-int(rows[-1]) // (2 if _wide_key(len(key)) else 1))
    column = (rows - 1) // per_column
    for k in range(int(column[-1]) + 1):
        fig.text(x + k * col_width / fig.get_figwidth(), top, "\n".join(np.array(key)[column == k]),
                 va="top", ha="left", fontsize=SMALL_FONT, linespacing=1.2)  # fmt: skip
    return "Areas are numbered on the map; the key beside it and the data table name them."


def _map_layout(bounds: Any, title: str, key: list[str], below: float) -> tuple[Any, Any, dict]:
    """A map's figure, drawn at the width it prints at, and where its parts go.

    ``bounds`` are the drawn shapes' ``(x0, y0, x1, y1)``. The map takes the figure's width less
    its key; a legend or colour bar ``below`` inches high goes under it. A key of more than
    :data:`KEY_ROWS` areas makes the figure page-wide (:data:`FULL_WIDTH`), with the key in
    two columns.
    """
    x0, y0, x1, y1 = bounds
    lat = np.cos(np.radians((y0 + y1) / 2)) if abs(y1) <= 90 and abs(y0) <= 90 else 1.0
    aspect = (y1 - y0) / max((x1 - x0) * lat, 1e-9)
    lines = sum(k.count("\n") + 1 for k in key)
    wide = _wide_key(len(key))
    n_cols = (2 if wide else 1) if key else 0
    width = FULL_WIDTH if wide else COLUMN_WIDTH
    col_w = WIDE_KEY_WIDTH if wide else KEY_WIDTH
    key_w = n_cols * col_w
    map_w = width - key_w - 0.05
    map_h = min(map_w * aspect, 4.2 if width == COLUMN_WIDTH else 6.0)
    wrapped = _wrap(title, width - 0.1)
    title_h = 0.16 * (wrapped.count("\n") + 1) + 0.06
    key_h = (-(-lines // max(n_cols, 1)) + 1) * _KEY_PITCH
    height = title_h + max(map_h + below, key_h) + 0.05
    fig = plt.figure(figsize=(width, height))
    fig.suptitle(wrapped, x=0.01, y=1 - 0.03 / height, ha="left",
                 va="top", fontsize=CHART_FONT)  # fmt: skip
    top = 1 - title_h / height
    ax = fig.add_axes((0.0, (below + 0.02) / height, map_w / width, map_h / height))
    spots = {"key": ((map_w + 0.05) / width, top, col_w),
             "bar": (0.08, 0.32 / height, map_w / width - 0.16, 0.1 / height)}  # fmt: skip
    return fig, ax, spots


def _plot_shapes(gdf: Any, ax: Any, **kwargs: Any) -> None:
    """``gdf.plot`` on ``ax`` without the full drawing geopandas asks for when it is done.

    The figure is drawn once, when it is saved; a drawing in between changes nothing in it.
    """
    canvas = ax.figure.canvas
    canvas.draw_idle = lambda *args, **kw: None
    try:
        gdf.plot(ax=ax, **kwargs)
    finally:
        del canvas.draw_idle


def choropleth(
    gdf: Any, column: str, title: str, legend_title: str, categorical: bool = False
) -> tuple[Any, str]:
    """Map of ``column`` over polygons (geopandas), colour-blind-safe, with a legend.

    IMD quintiles (categories such as ``Q1 (most deprived)``) always take the fixed colours
    of :data:`IMD_QUINTILE_COLOURS` and the legend always lists all five, so every pack's
    maps read the same. Ward and locality maps (a ``ward_name`` or ``locality`` column) carry
    the names on the map, or numbers with a key beside it when there are many areas; a
    number that would cover another moves beside its area, on a thin line back to it.
    The map is drawn at the width it prints at: a print column, or the page's width when
    its key needs more than one column. Shapes are simplified to the map's resolution.

    Examples:
        >>> import geopandas as gpd
        >>> from shapely.geometry import box
        >>> g = gpd.GeoDataFrame({"q": ["Q1", "Q5"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)])
        >>> choropleth(g, "q", "IMD", "Quintile", categorical=True)[1].startswith("Map of IMD")
        True
    """
    x0, y0, x1, y1 = gdf.total_bounds if len(gdf) else (0, 0, 1, 1)
    # Simplified to about a third of a point on the printed map: no visible change.
    gdf = gdf.assign(geometry=gdf.geometry.simplify(max(x1 - x0, y1 - y0) / 700))
    names = _name_column(gdf)
    shown = _named_areas(gdf, names) if names else gdf.iloc[:0]
    key = _key_entries(shown, names)
    # Laid out on the shapes as drawn (simplifying can move the outermost points).
    drawn = gdf.total_bounds if len(gdf) else (0, 0, 1, 1)
    fig, ax, spots = _map_layout(drawn, title, key, 0.75 if categorical else 0.5)
    fixed = False
    if categorical:
        cats = sorted(gdf[column].dropna().unique().tolist())
        fixed = bool(cats) and all(quintile_colour(c) for c in cats)
        if fixed:
            from bsol_analytics.vocabulary import QUINTILE_LABELS

            cats = list(QUINTILE_LABELS)
            colours = {c: quintile_colour(c) for c in cats}
        else:
            cmap = plt.get_cmap(SEQUENTIAL, max(len(cats), 2))
            colours = {c: cmap(i) for i, c in enumerate(cats)}
        _plot_shapes(
            gdf,
            ax,
            color=gdf[column].map(colours).fillna("#F2F2F2").tolist(),
            edgecolor="white",
            linewidth=0.2,
        )
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=colours[c], edgecolor="black", label=str(c)) for c in cats]
        fig.legend(handles=handles, title=legend_title, loc="lower left", frameon=False,
                   bbox_to_anchor=(0.0, 0.0), ncol=2, title_fontsize=SMALL_FONT)  # fmt: skip
        counts = gdf[column].value_counts()
        detail = "; ".join(f"{c}: {int(counts.get(c, 0))} areas" for c in cats)
    else:
        cax = fig.add_axes(spots["bar"])
        _plot_shapes(
            gdf,
            ax,
            column=column,
            cmap=SEQUENTIAL,
            legend=True,
            cax=cax,
            edgecolor="white",
            linewidth=0.3,
            legend_kwds={"orientation": "horizontal"},
            missing_kwds={"facecolor": "white", "edgecolor": "#808080", "hatch": "///"},
        )
        cax.set_xlabel(legend_title, fontsize=SMALL_FONT, labelpad=1)
        cax.tick_params(labelsize=7.0, length=2, pad=1)
        vals = gdf[column].dropna()
        detail = f"values from {vals.min():.1f} to {vals.max():.1f}" if len(vals) else "no values"
    labelled = f" {_label_areas(fig, ax, shown, names, key, spots['key'])}" if names else ""
    ax.set_axis_off()
    ax.set(xlabel="", ylabel="")  # geopandas' axis names: not shown, not in the SVG
    darker = "are more deprived" if categorical and fixed else "have lower values"
    return fig, f"Map of {title}: {detail}. Darker areas {darker}.{labelled}"
