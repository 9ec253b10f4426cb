"""Charts for the locality packs.

Every function takes a tidy frame from :mod:`bsol_analytics.report`, returns a new
matplotlib figure and its alt text (``(figure, alt)``), and never changes its input. Colours
are the Okabe-Ito colour-blind-safe palette; a judgement is never carried by colour alone
(markers differ in shape and the words are printed beside them), and suppressed cells are
labelled "suppressed" on the chart.
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

plt.rcParams.update(
    {
        "svg.fonttype": "none",  # words as text: small files, sharp, selectable
        # A short font list: it is written into every text element of an SVG.
        "font.sans-serif": ["DejaVu Sans", "Verdana", "Arial"],
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": 11,
        "svg.hashsalt": "bsol",
    }
)


def _legend_below(ax: Any, ncol: int = 3, gap: float = 0.55) -> None:
    """Put the legend under the x-axis label, ``gap`` inches below the axes, off the data."""
    fig = ax.get_figure()
    height = fig.get_figheight() * ax.get_position().height
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -gap / height), ncol=ncol, frameon=False)


def _ci_err(frame: pd.DataFrame) -> np.ndarray:
    value = frame["value"].to_numpy(float)
    low = value - frame["lower"].to_numpy(float)
    high = frame["upper"].to_numpy(float) - value
    return np.nan_to_num(np.vstack([low, high]), nan=0.0).clip(min=0)


#: Font size (points) of the spine chart's words; it prints at its own size (see report CSS).
SPINE_FONT = 8.0


#: Height of one single-line row of the spine chart, in inches.
SPINE_PITCH = 0.16


def _spine_layout(
    glance: pd.DataFrame, headings: bool = True
) -> tuple[pd.DataFrame, list[str], np.ndarray, list[tuple[float, str]], float]:
    """Rows grouped by family (first-seen order), their labels and y, headings, height.

    Heights are in rows: a wrapped label takes one and a half, a family heading one more.
    """
    fam = glance["family"].astype(str) if "family" in glance else pd.Series("", index=glance.index)
    codes = pd.Series(pd.factorize(fam)[0], index=glance.index)
    order = codes.sort_values(kind="stable").index
    g = glance.loc[order].reset_index(drop=True)
    codes = codes.loc[order].to_numpy()
    labels = _spine_labels(g)
    height = np.where(np.char.count(np.array(labels, dtype=str), "\n") > 0, 1.55, 1.0)
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
    return g, labels, y, heads, total


def _spine_labels(g: pd.DataFrame) -> list[str]:
    """Indicator titles without their family's name (the group heading says it), wrapped."""
    fam = g["family"].astype(str) if "family" in g else pd.Series("", index=g.index)
    prefix = fam.map(lambda f: FAMILIES.get(f, "") + ": ")
    titles = g["title"].astype(str)
    strip = [
        t[len(p) :] if p != ": " and t.startswith(p) else t
        for t, p in zip(titles, prefix, strict=True)
    ]
    return [textwrap.fill(t[:1].upper() + t[1:], 42) for t in strip]


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
    figure is 7.3 inches wide and its words :data:`SPINE_FONT` points, so printed at its
    own size (as the pack's print style does) the words keep that size on paper.

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
    g, labels, y, heads, total = _spine_layout(glance, headings)
    width, left, plot = 7.3, 2.5, 1.25
    fig = plt.figure(figsize=(width, SPINE_PITCH * (total + 1.3) + 0.75))
    fh = fig.get_figheight()
    ax = fig.add_axes((left / width, 0.7 / fh, plot / width, SPINE_PITCH * total / fh))
    span = _spine_span(g, ref)
    ax.axvline(100, color="#404040", lw=1.0)
    _spine_points(ax, g, ref, span, y)
    at = ax.get_yaxis_transform()
    x_value, x_word, x_head = (3.85 - left) / plot, (5.05 - left) / plot, -left / plot

    def write(x: float, yi: float, text: str, **kw: Any) -> None:
        ax.text(x, yi, text, transform=at, va="center", fontsize=SPINE_FONT, clip_on=False, **kw)

    comparison = g["comparison"].where(g["comparison"].isin(COMPARISON_STYLE), "not compared")
    sup = g["suppressed"].astype(bool).to_numpy()
    why = g.get("why_not_compared", pd.Series("", index=g.index)).fillna("").astype(str)
    why = why.str.replace(r" \(.*\)$", "", regex=True)  # short enough for the figure's width
    words = np.where(sup, "", np.where(why != "", why, comparison) + "; " + g["trend"].astype(str))
    for yi, value, word in zip(y, _spine_value_text(g), words, strict=True):
        write(x_value, yi, value)
        write(x_word, yi, word)
    for yi, name in heads:
        write(x_head, yi, name, fontweight="bold")
        ax.plot([x_head, (width - 0.15 - left) / plot], [yi + 0.55] * 2, transform=at,
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
    fig, ax = plt.subplots(figsize=(8, max(1.9, 0.32 * len(r) + 0.9)))
    y = np.arange(len(r))[::-1]
    err = np.where(sup, 0, _ci_err(r))
    bar_label = "Crude value, with 95% CI" if marks is not None else None
    ax.barh(y, vals, color=NEUTRAL, alpha=0.85, label=bar_label)
    ax.errorbar(vals, y, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    for yi, s in zip(y, sup, strict=True):
        if s:
            ax.text(0, yi, " suppressed", va="center", fontsize=9, style="italic")
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
    ax.set_yticks(y, r["group"].astype(str).tolist())
    ax.set_xlabel(xlabel)
    ax.set_title(title, loc="left")
    if ax.get_legend_handles_labels()[0]:
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
    fig, ax = plt.subplots(figsize=(8, max(2.1, 0.34 * len(r) + 1.2)))
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
            ax.text(1.0, yi, "  suppressed", va="center", fontsize=9, style="italic")
        else:
            ax.text(u + pad / 3, yi, f"{v:.2f}", va="center", fontsize=9)
    ax.set_yticks(y, groups.tolist())
    for tick in ax.get_yticklabels():
        if tick.get_text() == area:
            tick.set_fontweight("bold")
    ax.set_xlabel("Recorded ÷ expected (dashed line at 1 = as many recorded as expected)")
    ax.set_title(title, loc="left")
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
    fig, ax = plt.subplots(figsize=(8, 4.2))
    ax.barh(y, -mal["percent"].fillna(0), color=OKABE_ITO["blue"], label=f"Males, {area}")
    ax.barh(y, fem["percent"].fillna(0), color=OKABE_ITO["orange"], label=f"Females, {area}")
    if area != "BSOL":
        ax.step(-mal["bsol_percent"], y, where="mid", color="black", lw=1.2, label="BSOL")
        ax.step(fem["bsol_percent"], y, where="mid", color="black", lw=1.2)
    ax.set_yticks(y, bands)
    ticks = ax.get_xticks()
    ax.set_xticks(ticks, [f"{abs(t):.0f}" for t in ticks])
    ax.set_xlabel("Percent of registered population (males left, females right)")
    ax.legend(loc="upper right", frameon=False)
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
    fig, ax = plt.subplots(figsize=(8, max(1.9, 0.4 * len(m) + 0.9)))
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
        ax.text(v, yi + 0.2, " suppressed" if s else f" {v:.1f}%", va="center", fontsize=9)
    ax.set_yticks(y, m["group"].astype(str).tolist())
    ax.set_xlabel("Percent of registered population")
    ax.set_title(title, loc="left")
    ax.legend(frameon=False, loc="lower right")
    parts = "; ".join(
        f"{g} {'suppressed' if s else f'{v:.1f}%'}"
        for g, v, s in zip(m["group"], own, m["suppressed"].astype(bool), strict=True)
    )
    return fig, f"Bar chart of {title}: share of the registered population of {area}. {parts}."


def heatmap(matrix: pd.DataFrame, title: str, label: str = "Value") -> tuple[Any, str]:
    """IMD quintile × ethnic group heatmap with the value (or "suppressed") in each cell.

    Cells without data (no patients in that group) say "no data".

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
    fig, ax = plt.subplots(figsize=(8, 3.2))
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
    for i in range(len(rows)):
        for j in range(len(cols)):
            if sup.iat[i, j]:
                ax.text(j, i, "suppressed", ha="center", va="center", fontsize=8, style="italic")
            elif np.isfinite(data[i, j]):
                colour = "white" if data[i, j] < mid else "black"
                ax.text(j, i, f"{data[i, j]:.1f}", ha="center", va="center", color=colour)
            else:
                ax.text(j, i, "no data", ha="center", va="center", fontsize=8, color="#404040")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("Broad ethnic group")
    ax.set_ylabel("IMD quintile")
    ax.set_title(title, loc="left")
    fig.colorbar(im, ax=ax, shrink=0.8, label=label)
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
    fig, ax = plt.subplots(figsize=(8, 3.0))
    styles = [("-", "o", OWN_AREA), ("--", "s", "#404040")]
    styles += [(":", "^", c) for c in (OKABE_ITO["black"], OKABE_ITO["green"])]
    parts = []
    # The pack's own area first (solid orange line), BSOL after it (dashed grey).
    series = series.sort_values("area", key=lambda a: a == "BSOL", kind="stable")
    for k, (area, g) in enumerate(series.groupby("area", sort=False)):
        g = g[~g["suppressed"].astype(bool)].sort_values("reporting_date")
        ls, marker, colour = styles[k % len(styles)]
        ax.plot(g["reporting_date"], g["value"], ls=ls, marker=marker, color=colour, label=area)
        ax.fill_between(g["reporting_date"], g["lower"], g["upper"], color=colour, alpha=0.15)
        if len(g):
            parts.append(f"{area} from {g['value'].iloc[0]:.1f} to {g['value'].iloc[-1]:.1f}")
    dates = sorted(series["reporting_date"].unique())
    ax.set_xticks(dates, [pd.Timestamp(d).strftime("%b %Y") for d in dates])
    ax.set_ylabel(ylabel)
    ax.set_xlabel("Quarter ending")
    ax.set_title(title, loc="left")
    ax.legend(frameon=False)
    fig.autofmt_xdate()
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
    fig, ax = plt.subplots(figsize=(8, 3.4))
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
        s=22,
        label="practice within limits",
    )
    ax.scatter(
        pts["denominator"][hi],
        pts["value"][hi],
        c=COMPARISON_STYLE[up][0],
        marker="^",
        s=60,
        edgecolors="black",
        label=f"above 99.8% limit ({up})",
    )
    ax.scatter(
        pts["denominator"][lo],
        pts["value"][lo],
        c=COMPARISON_STYLE[down][0],
        marker="v",
        s=60,
        edgecolors="black",
        label=f"below 99.8% limit ({down})",
    )
    ax.set_xlabel("Denominator (patients)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left")
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


def _label_areas(fig: Any, ax: Any, gdf: Any, names: str) -> str:
    """Write area names on the map (few areas) or numbers with a key beside it.

    Numbers follow the frame's row order, which is also the order of the map's data
    table. Returns a sentence for the alt text.
    """
    shown = gdf[gdf[names].notna() & ~gdf.geometry.is_empty]
    points = shown.geometry.representative_point()
    # A white box behind each label (not a stroked halo, which would turn SVG text to paths).
    back = {"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8}
    if len(shown) <= MAX_NAMED_AREAS:
        for pt, name in zip(points, shown[names].astype(str), strict=True):
            ax.text(pt.x, pt.y, name, ha="center", va="center", fontsize=9,
                    fontweight="bold", bbox=back)  # fmt: skip
        return "Each area is named on the map."
    numbers = range(1, len(shown) + 1)
    for pt, n in zip(points, numbers, strict=True):
        ax.text(pt.x, pt.y, str(n), ha="center", va="center", fontsize=6.5, bbox=back)
    key = [f"{n} {name}" for n, name in zip(numbers, shown[names].astype(str), strict=True)]
    per_col = 30
    cols = [key[i : i + per_col] for i in range(0, len(key), per_col)]
    for k, col in enumerate(cols):
        fig.text(0.99 + 0.26 * k, 0.95, "\n".join(col), va="top", ha="left", fontsize=7,
                 linespacing=1.25)  # fmt: skip
    return "Areas are numbered on the map; the key beside it and the data table name them."


def choropleth(
    gdf: Any, column: str, title: str, legend_title: str, categorical: bool = False
) -> tuple[Any, str]:
    """Map of ``column`` over polygons (geopandas), colour-blind-safe, with a legend.

    IMD quintiles (categories such as ``Q1 (most deprived)``) always take the fixed colours
    of :data:`IMD_QUINTILE_COLOURS` and the legend always lists all five, so every pack's
    maps read the same. Ward and locality maps (a ``ward_name`` or ``locality`` column) carry
    the names on the map, or numbers with a key beside it when there are many areas.
    Shapes are simplified to the map's resolution.

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
    fig, ax = plt.subplots(figsize=(7, 6))
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
        gdf.plot(
            ax=ax,
            color=gdf[column].map(colours).fillna("#F2F2F2").tolist(),
            edgecolor="white",
            linewidth=0.2,
        )
        from matplotlib.patches import Patch

        handles = [Patch(facecolor=colours[c], edgecolor="black", label=str(c)) for c in cats]
        ax.legend(
            handles=handles,
            title=legend_title,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            frameon=False,
        )
        counts = gdf[column].value_counts()
        detail = "; ".join(f"{c}: {int(counts.get(c, 0))} areas" for c in cats)
    else:
        gdf.plot(
            ax=ax,
            column=column,
            cmap=SEQUENTIAL,
            legend=True,
            edgecolor="white",
            linewidth=0.3,
            legend_kwds={"label": legend_title, "shrink": 0.7},
            missing_kwds={
                "facecolor": "white",
                "edgecolor": "#808080",
                "hatch": "///",
                "label": "suppressed or no data",
            },
        )
        vals = gdf[column].dropna()
        detail = f"values from {vals.min():.1f} to {vals.max():.1f}" if len(vals) else "no values"
    names = _name_column(gdf)
    labelled = f" {_label_areas(fig, ax, gdf, names)}" if names else ""
    ax.set_axis_off()
    ax.set_title(title, loc="left")
    darker = "are more deprived" if categorical and fixed else "have lower values"
    return fig, f"Map of {title}: {detail}. Darker areas {darker}.{labelled}"
