"""The pack's sections, in notebook order: each a headline, a chart and its data."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics import plots, reference
from bsol_analytics.report.formatting import (
    fmt_cell,
    fmt_ci,
    fmt_column,
    fmt_count,
    fmt_date,
    fmt_number,
    slug,
)
from bsol_analytics.report.html import (
    figure_html,
    heading_html,
    run_stamp,
    section_html,
    stat_table,
    table_html,
)
from bsol_analytics.report.loading import PackData
from bsol_analytics.report.selection import (
    NO_ENGLAND,
    RECENT_TREND_QUARTERS,
    _comparator_value,
    _family_meta,
    areas_side_by_side,
    at_a_glance,
    breakdown_rows,
    cross_matrix,
    definitions_table,
    demography_mix,
    england_comparators,
    england_reference,
    funnel_points,
    life_expectancy_by_decile,
    life_expectancy_by_sex,
    life_expectancy_sii,
    population_pyramid,
    registered_total,
    series_rows,
    skipped_indicators,
    type_gap,
    type_rows,
)
from bsol_analytics.report.words import (
    DSR_NOTE,
    QUALITY_COLUMNS,
    RVE_NOTE,
    _condition,
    _pack_name,
    blank_place_sentence,
    breakdown_headline,
    comparison_sentence,
    funnel_sentence,
    glance_headline,
    not_compared_sentence,
    recent_trend_sentence,
    rve_headline,
    rve_sentence,
    sii_sentence,
)
from bsol_analytics.stats import funnel_limits
from bsol_analytics.vocabulary import (
    AGE_BANDS,
    BSOL,
    DECILE_LABELS,
    DSR_SUFFIX,
    FAMILIES,
    QUINTILE_LABELS,
    comparator_of,
)


def title_html(data: PackData, area: str) -> str:
    """The pack's ``<h1>`` and opening paragraph.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> title_html(data, "East").startswith("<h1>East locality")
        True
    """
    view = data.info.get("view", "practice")
    who = (
        "patients registered with practices in the locality"
        if view == "practice"
        else "registered patients who live in the locality"
    )
    if area == BSOL:
        who = "patients registered with Birmingham and Solihull practices"
    demo = (
        '<p class="notice">Demonstration data: every number in this pack is invented.</p>'
        if data.info.get("demo")
        else ""
    )
    return (
        f"<h1>{html.escape(_pack_name(area))}: population health pack</h1>{demo}"
        f'<p class="meta">Reporting date {fmt_date(data.reporting_date)}. Covers {who}. '
        f"IMD {html.escape(str(data.info.get('imd', '2025')))}. Every count and rate has "
        "passed disclosure control; withheld values are shown as suppressed with the reason. "
        "Each chart's data is in the table under it (select 'Show the data').</p>"
    )


#: Class of a spine chart's image: printed across the page at its own size (8 pt words).
SPINE_CLASS = "spine-chart"
#: Class of a family's spine chart, whose rows the at-a-glance chart already shows: it is
#: on screen only, and in print a sentence points to the at-a-glance chart instead.
REPEAT_SPINE_CLASS = "spine-chart repeat-chart"
#: The printed copy's sentence in place of a family's spine chart.
REPEAT_SPINE_NOTE = (
    '<p class="print-only">These indicators are charted in the summary chart under '
    "\u201cAt a glance\u201d at the start of the pack.</p>"
)


def _repeat_spine(fig: Any, alt: str) -> str:
    """A family's spine chart, shown on screen only.

    Its section puts :data:`REPEAT_SPINE_NOTE` after it (``section_html(after_figure=)``).
    """
    return figure_html(fig, alt, css_class=REPEAT_SPINE_CLASS)


#: The ethnic grouping the packs use, named wherever groups are shown.
ETHNIC_GROUPS_NOTE = "Ethnic groups: ONS 2021 broad ethnic groups, with Chinese in Asian."


def _quintile_words(group: str) -> str:
    """Words for a quintile: "Q1 (most deprived)" reads "Q1, the most deprived fifth"."""
    label, _, rest = str(group).partition(" (")
    return f"{label}, the {rest.rstrip(')')} fifth" if rest else label


def _comparison_sentences(glance: pd.DataFrame, area: str) -> list[str]:
    """One comparison sentence per at-a-glance row, against the pack's comparator."""
    comp = comparator_of(area)
    return [
        comparison_sentence(t, area, c, comp, bool(pd.notna(v)))
        for t, c, v in zip(glance["title"], glance["comparison"], glance[comp], strict=True)
    ]


def _indicator_table(glance: pd.DataFrame, area: str, comparison: str) -> pd.DataFrame:
    """The indicator table of at-a-glance rows: value, CI, comparators, comparison, trend."""
    return pd.DataFrame(
        {
            "Indicator": glance["title"],
            area: fmt_column(glance),
            "95% CI": fmt_ci(glance),
            **_bsol_column(glance, area),
            "England (period)": england_cells(glance),
            comparison: comparison_cells(glance),
            "Trend": glance["trend"],
        }
    )


def comparison_cells(glance: pd.DataFrame) -> list[str]:
    """The comparison of each at-a-glance row, with the reason where there is none.

    Examples:
        >>> g = pd.DataFrame({"comparison": ["worse", "not compared"],
        ...     "why_not_compared": ["", "no England figure"]})
        >>> comparison_cells(g)
        ['worse', 'not compared: no England figure']
    """
    why = glance.get("why_not_compared", pd.Series("", index=glance.index)).fillna("").astype(str)
    words = glance["comparison"].astype(str)
    return np.where(why != "", "not compared: " + why, words).tolist()


def _bsol_column(glance: pd.DataFrame, area: str) -> dict[str, list[str]]:
    """The BSOL column of a summary table (ratios to two decimals); none in the BSOL pack."""
    if area == BSOL:
        return {}
    return {"BSOL": fmt_column(glance.assign(value=glance["BSOL"], suppressed=False))}


def england_cells(glance: pd.DataFrame) -> list[str]:
    """England's figure with its period for each row ("66.6 (2022/23)"), or why none.

    Examples:
        >>> g = pd.DataFrame({"indicator_id": ["SCR_BOWEL", "HYP_PREV_DSR"]})
        >>> england_cells(g)
        ['72.0 (2022/23)', 'no published England figure']
    """
    return england_comparators(glance["indicator_id"])["england_text"].tolist()


def _period_differs(period: str, reporting_date: Any) -> bool:
    """Whether a comparator period label is not the pack's own year.

    Examples:
        >>> _period_differs("2022/23", "2025-03-31"), _period_differs("2024-25", "2025-03-31")
        (True, False)
    """
    day = pd.Timestamp(reporting_date)
    start = day.year - 1 if day.month <= 3 else day.year
    own = {f"{start}-{str(start + 1)[2:]}", f"{start}/{str(start + 1)[2:]}", str(day.year)}
    return period not in own


def trend_note(data: PackData) -> str:
    """How the pack's trend column is decided, with its window.

    Examples:
        >>> from bsol_analytics.report.messages import example_pack
        >>> trend_note(example_pack())[:60]
        "Trend: Fingertips' recent-trend test (chi-squared test for t"
    """
    return (
        "Trend: Fingertips' recent-trend test (chi-squared test for trend, 99.8% level) over "
        f"the {RECENT_TREND_QUARTERS} quarters to {fmt_date(data.reporting_date)}, the quarters "
        "the extract supports for every look-back window. Only percentages are tested; rates, "
        "ratios and age-standardised values say 'not tested', and an indicator with a "
        "suppressed quarter in the window is not tested."
    )


def comparator_notes(
    glance: pd.DataFrame, data: PackData, area: str, table: pd.DataFrame | None = None
) -> list[str]:
    """Notes on a section's England figures, once per section; BSOL's own published ones.

    Says when England's figures are for other periods than the pack's, and that "no
    published England figure" means none of matching definition is published. In the BSOL
    pack a "BSOL published" column is added to ``table`` (when given) with BSOL's own
    published figure and period beside the value computed from the extract.

    Examples:
        >>> from bsol_analytics.report.messages import example_pack
        >>> g = pd.DataFrame({"indicator_id": ["SCR_BOWEL"]})
        >>> comparator_notes(g, example_pack(), "East")[0][:70]
        "England's figures are the latest published and are for earlier periods"
    """
    eng = england_comparators(glance["indicator_id"])
    notes = []
    periods = [p for p in dict.fromkeys(eng.loc[eng["england_value"].notna(), "england_period"])]
    differ = [p for p in periods if _period_differs(p, data.reporting_date)]
    if differ:
        notes.append(
            "England's figures are the latest published and are for earlier periods than "
            f"this pack ({fmt_date(data.reporting_date)}): {', '.join(differ)}; each value "
            "shows its period."
        )
    if eng["england_value"].isna().any():
        notes.append(
            f"'{NO_ENGLAND}' means no England figure of the same definition (ages, "
            "denominator) is published; the definitions section gives the reason."
        )
    own = eng[eng["bsol_published"].notna()]
    if area == BSOL and len(own):
        if table is not None:
            cells = np.where(
                eng["bsol_published"].notna(),
                eng["bsol_published"].map(lambda v: f"{v:.1f}")
                + " ("
                + eng["bsol_published_period"]
                + ")",
                "none published",
            )
            where = table.columns.get_loc("England (period)") if "England (period)" in table else 1
            table.insert(where, "BSOL published (period)", cells)
        sources = "; ".join(
            dict.fromkeys(
                own["bsol_published_source"].str.replace(r" \(data/raw.*\)$", "", regex=True)
            )
        )
        notes.append(
            "BSOL published: BSOL's own published figure for an earlier period, beside the "
            f"value computed from this extract, to show how the extract compares ({sources})."
        )
    return notes


def glance_section(data: PackData, area: str) -> str:
    """Section 1, At a glance: every indicator against BSOL and England, with trends.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> '<h2 id="at-a-glance">' in glance_section(data, "East")
        True
    """
    glance = at_a_glance(data, area)
    fig, alt = plots.spine_chart(glance, area)
    table = _indicator_table(glance, area, "Compared with " + comparator_of(area))
    notes = [
        *filter(None, [not_compared_sentence(glance, area)]),
        "Better and worse are judged only where higher or lower is clearly better; otherwise "
        "the pack says higher or lower. Similar means the 95% confidence interval includes "
        "the comparator.",
        trend_note(data),
        *comparator_notes(glance, data, area, table),
    ]
    return heading_html("At a glance", 2) + section_html(
        f"{area} compared with {comparator_of(area)}{'' if area == BSOL else ' and England'}",
        glance_headline(glance, area),
        figure_html(fig, alt, css_class=SPINE_CLASS),
        table,
        f"Every indicator for {area}, {fmt_date(data.reporting_date)}",
        notes,
    )


def population_section(data: PackData, area: str) -> str:
    """Section 2, Who lives here: pyramid, deprivation and Core20, ethnicity, IMD map.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> section = population_section(data, "East")
        >>> section.count("<img alt=") >= 3
        True
    """
    parts = [heading_html("Who lives here", 2)]
    pyr = population_pyramid(data, area)
    fig, alt = plots.pyramid(pyr[pyr["sex"].isin(["F", "M"])], area)
    total = registered_total(data, area)
    older = pyr[pyr["age_band"].isin(AGE_BANDS[AGE_BANDS.index("65-69") :])]
    old_pct = older["percent"].sum()
    bsol_old = older["bsol_percent"].sum()
    cmp_word = "more" if old_pct > bsol_old else "fewer"
    headline = (
        f"{area} has {fmt_count(total)} registered patients; {fmt_number(old_pct)}% are aged 65 "
        f"or over"
        + (f", {cmp_word} than across BSOL ({fmt_number(bsol_old)}%)." if area != BSOL else ".")
    )
    table = pd.DataFrame(
        {
            "Age band": pyr["age_band"],
            "Sex": pyr["sex"].map({"F": "Female", "M": "Male", "U": "Not known"}),
            "Patients": fmt_column(pyr, "count", 0),
            "Percent": pyr["percent"].map(fmt_number),
            "BSOL percent": pyr["bsol_percent"].map(fmt_number),
        }
    )
    parts.append(
        section_html(
            "Age and sex",
            headline,
            figure_html(fig, alt),
            table,
            f"Registered population of {area} by age band and sex",
        )
    )
    for breakdown, title, label in (
        ("imd_quintile", "Deprivation", "Deprivation quintile (IMD)"),
        ("ethnicity_broad", "Ethnicity", "Broad ethnic group"),
    ):
        mix = demography_mix(data, area, breakdown)
        fig, alt = plots.share_bars(mix, area, label)
        if breakdown == "imd_quintile":
            core = demography_mix(data, area, "core20")
            share = core.loc[core["group"] == "Core20", "share"]
            bsol_share = core.loc[core["group"] == "Core20", "bsol_share"]
            core_share = float(share.iloc[0]) if len(share) else float("nan")
            headline = (
                f"{fmt_number(core_share)}% of {area}'s patients live in the most deprived "
                f"fifth of neighbourhoods in England (Core20)"
                + (
                    f", against {fmt_number(float(bsol_share.iloc[0]))}% across BSOL."
                    if area != BSOL and len(bsol_share)
                    else "."
                )
            )
        else:
            shown = mix[~mix["suppressed"].astype(bool) & (mix["group"] != "Unknown")]
            top = shown.loc[shown["share"].idxmax()] if len(shown) else None
            headline = (
                f"The largest broad ethnic group in {area} is {top['group']} "
                f"({fmt_number(top['share'])}% of patients)."
                if top is not None
                else f"Ethnic groups in {area} cannot be shown after disclosure control."
            )
        tab = pd.DataFrame(
            {
                label: mix["group"],
                "Patients": fmt_column(mix, "count", 0),
                "Percent": mix["share"].map(fmt_number),
                "BSOL percent": mix["bsol_share"].map(fmt_number),
            }
        )
        parts.append(
            section_html(
                title,
                headline,
                figure_html(fig, alt),
                tab,
                f"{label} of the registered population of {area}",
                [ETHNIC_GROUPS_NOTE] if breakdown == "ethnicity_broad" else [],
            )
        )
    parts.append(deprivation_map_section(data, area))
    return "".join(parts)


def deprivation_map_section(data: PackData, area: str) -> str:
    """Map of IMD quintile by LSOA 2021 for the area (reference data, no patient counts).

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> "Map of" in deprivation_map_section(data, "Solihull")
        True
    """
    imd = str(data.info.get("imd", "2025"))
    shapes = reference.lsoa21_boundaries()
    if area != BSOL:
        shapes = shapes[shapes["locality"] == area]
    scores = reference.imd2025() if imd == "2025" else reference.imd2019_for_lsoa21()
    qcol = "imd_quintile" if "imd_quintile" in scores else scores.filter(like="quintile").columns[0]
    gdf = shapes.merge(scores[["lsoa21_code", qcol]], on="lsoa21_code", how="left")
    labels = dict(enumerate(QUINTILE_LABELS, start=1))
    gdf = gdf.assign(quintile=gdf[qcol].map(lambda q: labels.get(int(q)) if pd.notna(q) else None))
    fig, alt = plots.choropleth(
        gdf,
        "quintile",
        f"IMD {imd} quintile by LSOA, {area}",
        "National quintile",
        categorical=True,
    )
    counts = gdf["quintile"].value_counts().reindex(list(labels.values()), fill_value=0)
    q1 = int(counts.iloc[0])
    headline = (
        f"{q1} of the {len(gdf)} neighbourhoods (LSOAs) in {area} are among the most deprived "
        f"fifth in England."
    )
    table = pd.DataFrame(
        {
            "IMD quintile": counts.index,
            "LSOAs": counts.map(fmt_count).to_numpy(),
            "Percent of LSOAs": (100 * counts / max(len(gdf), 1)).map(fmt_number).to_numpy(),
        }
    )
    note = (
        "The map uses published deprivation scores of neighbourhoods; the pack's patients "
        "are those of the locality's practices, some of whom live elsewhere."
        if data.info.get("view", "practice") == "practice" and area != BSOL
        else "The map uses published deprivation scores of neighbourhoods."
    )
    return section_html(
        "Deprivation map",
        headline,
        figure_html(fig, alt),
        table,
        f"Neighbourhoods of {area} by IMD {imd} quintile",
        [note],
    )


def _family_summary(data: PackData, area: str, family: str, family_title: str) -> str:
    """The family's summary subsection: spine chart and the indicators against comparators."""
    glance = at_a_glance(data, area)
    glance = glance[glance["family"] == family]
    derived = glance["derived"] if "derived" in glance else pd.Series("", index=glance.index)
    dsr = glance[derived == "DSR"]
    dsr = dsr.assign(indicator_id=dsr["indicator_id"].str.removesuffix(DSR_SUFFIX))
    glance = glance[derived == ""].reset_index(drop=True)
    if not len(glance):
        return ""
    comp_name = comparator_of(area)
    fig, alt = plots.spine_chart(glance, area, headings=False)
    sentences = _comparison_sentences(glance, area)
    table = pd.DataFrame(
        {
            "Indicator": glance["title"],
            area: [
                fmt_cell(v, s, r)
                for v, s, r in zip(
                    glance["value"], glance["suppressed"], glance["suppression_reason"], strict=True
                )
            ],
            **_bsol_column(glance, area),
            "England (period)": england_cells(glance),
            "Comparison": comparison_cells(glance),
            "Trend": glance["trend"],
        }
    )
    notes = sentences[1:]
    if len(dsr):
        notes += _standardised_notes(glance, dsr, table, area, comp_name)
    notes += comparator_notes(glance, data, area, table)
    return section_html(
        f"{family_title}: summary",
        sentences[0],
        _repeat_spine(fig, alt),
        table,
        f"{family_title} indicators for {area}",
        notes,
        after_figure=REPEAT_SPINE_NOTE,
    )


def _standardised_notes(
    glance: pd.DataFrame, dsr: pd.DataFrame, table: pd.DataFrame, area: str, comp_name: str
) -> list[str]:
    """Add the age-standardised column to the summary ``table``; return its notes."""
    aligned = glance[["indicator_id"]].merge(dsr, on="indicator_id", how="left")
    aligned = aligned.assign(suppressed=aligned["suppressed"].fillna(False))
    has = aligned["value"].notna() | aligned["suppressed"].astype(bool)
    std = np.where(has, fmt_column(aligned), "not computed")
    table.insert(2, f"{area}, age-standardised", std)
    shown = aligned[has & ~aligned["suppressed"].astype(bool)]
    if area == BSOL:
        notes = [
            f"{t} in BSOL is {fmt_number(v)} per 100; the localities are compared below."
            for t, v in zip(shown["title"], shown["value"], strict=True)
        ]
    else:
        notes = [
            comparison_sentence(t, area, c, comp_name)[:-1]
            + f" ({fmt_number(v)} against {fmt_number(b)} per 100)."
            for t, c, v, b in zip(
                shown["title"], shown["comparison"], shown["value"], shown[BSOL], strict=True
            )
        ]
    return [*notes, DSR_NOTE]


def _localities_subsection(data: PackData, ind: str, title: str, axis: str) -> str:
    """BSOL pack: the localities side by side, crude and age-standardised."""
    rows = areas_side_by_side(data, ind)
    if not len(rows):
        return ""
    comp, period = england_reference(ind)
    std = areas_side_by_side(data, f"{ind}{DSR_SUFFIX}")
    std = rows[["group"]].merge(std, on="group", how="left")
    marks = std["value"].where(~std["suppressed"].fillna(True).astype(bool))
    fig, alt = plots.bar_ci(
        rows,
        f"{title} by locality",
        axis,
        comp,
        f"England {period}",
        marks=marks if marks.notna().any() else None,
    )
    shown = rows[~rows["suppressed"].astype(bool) & (rows["group"] != BSOL)]
    headline = breakdown_headline(title, shown.reset_index(drop=True), "locality")
    table = stat_table(rows, "Area")
    notes = []
    if marks.notna().any():
        std = std.assign(suppressed=std["suppressed"].fillna(True))
        table.insert(2, "Age-standardised", fmt_column(std))
        std_shown = std[~std["suppressed"].astype(bool) & (std["group"] != BSOL)]
        std_line = breakdown_headline(title, std_shown.reset_index(drop=True), "locality")
        if " is highest in " in headline:
            std_words = (
                "it is highest" + std_line.split(" is highest", 1)[1]
                if " is highest in " in std_line
                else "the localities do not differ clearly (their 95% confidence intervals "
                "overlap)."
            )
            headline = (
                headline.replace(" is highest", " (crude) is highest")[:-1]
                + "; age-standardised, "
                + std_words
            )
        notes = [
            DSR_NOTE.replace(
                "Age-standardised values", "The black diamonds are age-standardised values", 1
            )
        ]
    return section_html(
        f"{title}: localities side by side",
        headline,
        figure_html(fig, alt),
        table,
        f"{title} by locality",
        notes,
        level=4,
    )


def _breakdown_subsections(
    data: PackData, area: str, ind: str, title: str, unit: str, axis: str
) -> list[str]:
    """The indicator by deprivation quintile (with the SII) and by ethnic group."""
    parts = []
    ref = _comparator_value(data, area, ind, area)
    for breakdown, label in (
        ("imd_quintile", "deprivation quintile"),
        ("ethnicity_broad", "ethnic group"),
    ):
        rows = breakdown_rows(data, area, ind, breakdown)
        if rows.empty:
            continue
        fig, alt = plots.bar_ci(
            rows, f"{title} by {label}, {area}", axis, ref, f"{area}, all patients"
        )
        notes = []
        if breakdown == "imd_quintile":
            sii = data.sii[(data.sii["indicator_id"] == ind) & (data.sii["area"] == area)]
            notes.append(sii_sentence(title, area, sii.iloc[0] if len(sii) else None, unit))
            if f"{ind}{DSR_SUFFIX}" in set(data.meta["indicator_id"]) and len(sii):
                notes.append(
                    "The slope index is fitted to the age-standardised quintile values, so the "
                    "younger age mix of deprived areas does not reverse the gradient; the bars "
                    "show crude values."
                )
        else:
            notes.append(ETHNIC_GROUPS_NOTE)
        parts.append(
            section_html(
                f"{title} by {label}",
                breakdown_headline(title, rows, label),
                figure_html(fig, alt),
                stat_table(rows, label.capitalize()),
                f"{title} by {label}, {area}",
                notes,
                level=4,
            )
        )
    return parts


def _cross_subsection(data: PackData, area: str, ind: str, title: str, axis: str) -> str:
    """The indicator by deprivation and ethnic group together (a heat map)."""
    matrix = cross_matrix(data, area, ind)
    if not len(matrix):
        return ""
    fig, alt = plots.heatmap(matrix, f"{title}, {area}", axis)
    n_sup = int(matrix["suppressed"].astype(bool).sum())
    headline = (
        f"{title} by deprivation and ethnic group together: {n_sup} of "
        f"{len(matrix)} cells are suppressed to protect confidentiality."
    )
    shown = matrix[
        ~matrix["suppressed"].astype(bool)
        & matrix["value"].notna()
        & (matrix["imd_quintile"] != "Unknown")
        & (matrix["ethnicity_broad"] != "Unknown")
    ]
    if len(shown) >= 2:
        top = shown.loc[shown["value"].idxmax()]
        low = shown.loc[shown["value"].idxmin()]
        headline = (
            f"{title} does not differ clearly between the shown groups of deprivation and "
            f"ethnicity (the 95% confidence intervals of the highest and lowest overlap); "
            f"{n_sup} of {len(matrix)} cells are suppressed."
        )
        if top["lower"] > low["upper"]:
            headline = (
                f"{title} is highest among {top['ethnicity_broad']} patients in "
                f"{_quintile_words(top['imd_quintile'])} ({fmt_number(top['value'])}) and "
                f"lowest among {low['ethnicity_broad']} patients in "
                f"{_quintile_words(low['imd_quintile'])} ({fmt_number(low['value'])}); "
                f"{n_sup} of {len(matrix)} cells are suppressed."
            )
    tab = stat_table(
        matrix.assign(group=matrix["imd_quintile"] + ", " + matrix["ethnicity_broad"]),
        "IMD quintile, ethnic group",
    )
    return section_html(
        f"{title} by deprivation and ethnicity",
        headline,
        figure_html(fig, alt),
        tab,
        f"{title} by IMD quintile and broad ethnic group, {area}",
        level=4,
    )


def _trend_subsection(data: PackData, area: str, ind: str, title: str, axis: str) -> str:
    """The indicator by quarter, for the area (and BSOL)."""
    series = series_rows(data, [area] if area == BSOL else [area, BSOL], ind)
    if series["reporting_date"].nunique() <= 1:
        return ""
    own = series[series["area"] == area]
    fig, alt = plots.trend_chart(series, title, axis)
    units = data.meta.set_index("indicator_id")["unit"]
    if units.get(ind) == "%":
        headline = recent_trend_sentence(title, area, own)
    else:
        headline = (
            f"{title} in {area} by quarter, {fmt_date(own['reporting_date'].min())} to "
            f"{fmt_date(own['reporting_date'].max())}: no trend is stated, because the "
            "recent-trend test (chi-squared test for trend) applies to percentages only."
        )
    tab = stat_table(
        series.assign(
            group=series["area"] + ", " + series["reporting_date"].dt.strftime("%Y-%m-%d")
        ),
        "Area, quarter end",
    )
    return section_html(
        f"{title}: trend", headline, figure_html(fig, alt), tab, f"{title} by quarter", level=4
    )


def _funnel_subsection(data: PackData, area: str, ind: str, title: str, axis: str) -> str:
    """The area's practices on a funnel plot around the BSOL value."""
    points = funnel_points(data, area, ind)
    avg = _comparator_value(data, BSOL, ind, BSOL)
    shown = points[~points["suppressed"].astype(bool)]
    if len(shown) < 3 or not np.isfinite(avg):
        return ""
    n_max = float(shown["denominator"].max()) * 1.1
    n_min = max(float(shown["denominator"].min()) * 0.9, 5.0)
    limits = funnel_limits(
        avg / 100, np.geomspace(n_min, n_max, 80), statistic="proportion", multiplier=100
    )
    polarity = data.meta.loc[data.meta["indicator_id"] == ind, "polarity"]
    judged = str(polarity.iloc[0]) if len(polarity) else "no judgement"
    fig, alt = plots.funnel_plot(points, limits, avg, f"{title}: practices", axis, judged)
    tab = pd.DataFrame(
        {
            "Practice": points["practice_name"] + " (" + points["practice_code"] + ")",
            "PCN": points["pcn_name"],
            "Value": fmt_column(points),
            "Denominator": fmt_column(points, "denominator", 0, reason=False),
        }
    )
    return section_html(
        f"{title}: practices",
        funnel_sentence(title, area, points, limits),
        figure_html(fig, alt),
        tab,
        f"{title} by practice, {area}",
        level=4,
    )


def family_section(data: PackData, area: str, family: str) -> str:
    """Section 3 for one family: comparison, breakdowns with SII, matrix, trend, funnel.

    Version 2 additions: the hypertension section holds the cardiovascular subsection
    (the ``cardiovascular`` family returns an empty string), the diabetes section the
    treatment targets by diabetes type, the end-of-life section care plans and ED
    attendances, and the ``mortality`` family is "Life expectancy and inequality".
    Indicators the run skipped (absent inputs) are listed with the reason. Returns an empty
    string when the family has nothing to show.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> '<h2 id="copd">COPD</h2>' in family_section(demo_pack(), "East", "copd")
        True
        >>> family_section(demo_pack(), "East", "cardiovascular")
        ''
    """
    if family in MERGED_FAMILIES:
        return ""
    meta = _family_meta(data, family)
    skipped = skipped_indicators(data, family)
    if meta.empty and skipped.empty:
        return ""
    family_title = SECTION_TITLES.get(
        family, FAMILIES.get(family, family.replace("_", " ").title())
    )
    parts = [heading_html(family_title, 2)]
    if family == "mortality":
        parts.append(life_expectancy_section(data, area))
    meta = meta[~meta["indicator_id"].isin(_HIDDEN_IDS.get(family, ()))]
    if not meta.empty:
        parts += _family_body(data, area, family, family_title, meta)
    parts.append(
        {
            "hypertension": cardiovascular_section,
            "diabetes": diabetes_type_section,
        }.get(family, lambda _d, _a: "")(data, area)
    )
    parts.append(skipped_html(skipped, 3, f"{family_title}: indicators not shown"))
    return "".join(parts)


def _family_body(
    data: PackData, area: str, family: str, family_title: str, meta: pd.DataFrame
) -> list[str]:
    """The family's summary, recorded-vs-expected ratios and each indicator in detail."""
    parts = [_family_summary(data, area, family, family_title)]
    if family == "end_of_life":
        parts += [end_of_life_caveats(data, area), ed_attendance_section(data, area)]
    if "derived" in meta:
        parts += [
            rve_section(data, area, i) for i in meta.loc[meta["derived"] == "RVE", "indicator_id"]
        ]
    detailed = meta[meta["derived"] == ""] if "derived" in meta else meta
    for i, (_, row) in enumerate(detailed.iterrows()):
        parts += indicator_parts(data, area, row, first=i == 0)
    return parts


def ward_map_section(data: PackData, area: str, indicator_id: str, title: str) -> str:
    """Map of an indicator by ward of residence (resident view, disclosure-controlled).

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> "by ward of residence" in ward_map_section(data, "East", "HYP_PREV", "Hypertension")
        True
    """
    shapes = reference.ward_boundaries()
    if area != BSOL:
        shapes = shapes[shapes["locality"] == area]
    rows = data.wards[data.wards["indicator_id"] == indicator_id]
    gdf = shapes.merge(rows.drop(columns="indicator_id"), on="ward_code", how="left")
    gdf = gdf.assign(value=gdf["value"].where(~gdf["suppressed"].fillna(True).astype(bool)))
    fig, alt = plots.choropleth(gdf, "value", f"{title} by ward of residence, {area}", "Percent")
    shown = gdf.dropna(subset=["value"])
    n_sup = int(gdf["value"].isna().sum())
    if len(shown) >= 2:
        # Named highest and lowest only when their 95% intervals are apart.
        words = breakdown_headline(
            title,
            pd.DataFrame(
                {
                    "group": shown["ward_name"].astype(str).to_numpy(),
                    "value": shown["value"].to_numpy(),
                    "lower": shown["lower"].to_numpy(),
                    "upper": shown["upper"].to_numpy(),
                    "suppressed": False,
                }
            ),
            "ward",
        )
        headline = f"Among residents of {area}: {words}"
    else:
        headline = f"{title} by ward cannot be mapped for {area} after disclosure control."
    table = stat_table(
        gdf.assign(
            group=gdf["ward_name"],
            suppressed=gdf["suppressed"].fillna(True).astype(bool),
            suppression_reason=gdf["suppression_reason"].fillna("no data"),
        ),
        "Ward",
    )
    hidden = (
        "Every ward has a value."
        if n_sup == 0
        else f"{n_sup} {'ward is' if n_sup == 1 else 'wards are'} white with grey hatching: "
        "suppressed or no data."
    )
    note = (
        "Resident view: patients are counted in the ward where they live, whichever practice "
        f"they are registered with. {hidden}"
    )
    return section_html(
        f"{title}: map by ward",
        headline,
        figure_html(fig, alt),
        table,
        f"{title} by ward of residence, {area}",
        [note],
        level=4,
    )


def rve_section(data: PackData, area: str, indicator_id: str) -> str:
    """Recorded versus expected prevalence: the ratio for every locality and BSOL.

    A dot chart of the ratio with its 95% CI (the pack's area picked out, reference line
    at 1), the headline, the ratio in words and the data table (recorded and expected).

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> out = rve_section(data, "East", "HYP_PREV_RVE")
        >>> "recorded vs expected" in out and "<caption>" in out
        True
    """
    meta = data.meta[data.meta["indicator_id"] == indicator_id]
    rows = areas_side_by_side(data, indicator_id)
    if meta.empty or rows.empty:
        return ""
    row = meta.iloc[0]
    base = str(row["title"]).replace(", recorded vs expected ratio", "")
    condition = _condition(base, str(row["family"]))
    family_title = FAMILIES.get(str(row["family"]), base.split(":")[0])
    title = f"{family_title}: recorded vs expected prevalence"
    fig, alt = plots.ratio_chart(rows, area, title)
    own = rows[rows["group"] == area]
    own_row = (
        own.iloc[0]
        if len(own)
        else pd.Series({"value": np.nan, "lower": np.nan, "upper": np.nan, "suppressed": True})
    )
    table = stat_table(rows, "Area", decimals=2).rename(
        columns={"Value": "Ratio", "Numerator": "Recorded", "Denominator": "Expected"}
    )
    notes = [rve_sentence(pd.Series({**own_row.to_dict(), "title": base}), area)]
    if area != BSOL and "comparison" in own_row:
        notes.append(
            comparison_sentence("The recorded vs expected ratio", area, own_row["comparison"], BSOL)
        )
    notes.append(RVE_NOTE)
    return section_html(
        title,
        rve_headline(own_row, area, condition),
        figure_html(fig, alt),
        table,
        f"{base}, recorded vs expected ratio by area",
        notes,
    )


def _locality_map(data: PackData, indicator_id: str, title: str) -> str:
    rows = areas_side_by_side(data, indicator_id)
    rows = rows[rows["group"] != BSOL]
    shapes = reference.locality_boundaries()
    values = rows.assign(value=rows["value"].where(~rows["suppressed"].astype(bool)))
    gdf = shapes.merge(
        values.rename(columns={"group": "locality"})[["locality", "value"]],
        on="locality",
        how="left",
    )
    fig, alt = plots.choropleth(gdf, "value", f"{title} by locality", "Value")
    shown = values.dropna(subset=["value"])
    headline = (
        f"{title} is highest in {shown.loc[shown['value'].idxmax(), 'group']} and lowest in "
        f"{shown.loc[shown['value'].idxmin(), 'group']}."
        if len(shown) >= 2
        else f"{title} by locality cannot be mapped after disclosure control."
    )
    return section_html(
        f"{title}: map by locality",
        headline,
        figure_html(fig, alt),
        stat_table(rows, "Locality"),
        f"{title} by locality",
        level=4,
    )


# --------------------------------------------------------------------------------------
# Version 2 sections (contract version 2): measures 12, 13, 15, 16, cancer mortality and
# the life-expectancy gap
# --------------------------------------------------------------------------------------

#: Families shown inside another family's section, not on their own.
MERGED_FAMILIES: dict[str, str] = {"cardiovascular": "hypertension"}
#: Section titles that differ from :data:`bsol_analytics.vocabulary.FAMILIES`.
SECTION_TITLES: dict[str, str] = {"mortality": "Life expectancy and inequality"}
#: Indicators of the cardiovascular subsection of the hypertension section, in order.
CARDIOVASCULAR_IDS: tuple[str, ...] = ("CVD_LLT", "CVD_CHOL_RANGE", "HYP_CHOL_RANGE")
#: Diabetes indicators compared by diabetes type: all three targets, then each target.
DIABETES_TARGET_IDS: tuple[str, ...] = ("DM_3TT", "DM_HBA1C_58", "DM_BP_140_80", "DM_LLT")
#: Why a life expectancy is not shown when the table gives no reason.
LE_SIZE_RULE = (
    "the population is too small for a reliable life table (the size rule needs at least "
    "5,000 person-years and 50 deaths)"
)
#: Measures of the Collaborative's outcome framework that an indicator reports.
FRAMEWORK_MEASURES: dict[str, str] = {
    "HYP_BP_CHOL": "measure 12",
    "DM_3TT": "measure 13",
    "EOL_CARE_PLAN": "measure 15",
    "EOL_ED_3PLUS": "measure 15",
    "EOL_ED_MEAN": "measure 15",
    "ACSC_EMERG": "measure 16 (the Better Care Fund metric)",
}
_HIDDEN_IDS: dict[str, tuple[str, ...]] = {
    "hypertension": ("HYP_CHOL_RANGE",),
    "mortality": ("LE_BIRTH", "LE_SII"),
}


def _unit_text(value: float, unit: str) -> str:
    """A value with its unit, e.g. ``62.1%``, ``812.4 per 100,000``, ``2.9 years``."""
    if unit == "%":
        return f"{fmt_number(value)}%"
    return f"{fmt_number(value)} {unit}".rstrip()


def england_sentence(indicator_id: str, unit: str = "%", sex: str | None = None) -> str:
    """England's published figure for an indicator, with its period, in words.

    Examples:
        >>> england_sentence("LE_BIRTH", "years", "F")
        'England: 83.3 years (2022-24).'
        >>> england_sentence("ACSC_EMERG", "per 100,000")
        'England: no published England figure.'
    """
    value, period = england_reference(indicator_id, sex)
    if not np.isfinite(value):
        return f"England: {NO_ENGLAND}."
    return f"England: {_unit_text(value, unit)} ({period})."


def indicator_intro(data: PackData, area: str, indicator_id: str) -> str:
    """One paragraph under an indicator's heading: its value for the area and England's.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> out = indicator_intro(demo_pack(), "East", "HYP_PREV")
        >>> out.startswith("<p>East: ") and "(2023-24)" in out
        True
    """
    meta = data.meta[data.meta["indicator_id"] == indicator_id]
    unit = str(meta["unit"].iloc[0]) if len(meta) else "%"
    glance = at_a_glance(data, area)
    row = glance[glance["indicator_id"] == indicator_id]
    if row.empty:
        own = f"{area}: not in these pack tables."
    elif bool(row["suppressed"].iloc[0]):
        own = f"{area}: suppressed ({row['suppression_reason'].iloc[0]})."
    elif pd.isna(row["value"].iloc[0]):
        own = f"{area}: not computed."
    else:
        r = row.iloc[0]
        own = (
            f"{area}: {_unit_text(float(r['value']), unit)} (95% CI {fmt_number(r['lower'])} "
            f"to {fmt_number(r['upper'])})."
        )
    text = f"{own} {england_sentence(indicator_id, unit)}"
    published = england_comparators([indicator_id]).iloc[0]
    if area == BSOL and pd.notna(published["bsol_published"]):
        text += (
            f" BSOL's own published figure: "
            f"{_unit_text(float(published['bsol_published']), unit)} "
            f"({published['bsol_published_period']}), beside the {fmt_number(row['value'].iloc[0])}"
            " computed from this extract."
            if len(row) and pd.notna(row["value"].iloc[0])
            else f" BSOL's own published figure: "
            f"{_unit_text(float(published['bsol_published']), unit)} "
            f"({published['bsol_published_period']})."
        )
    if indicator_id in FRAMEWORK_MEASURES:
        text = f"Outcome framework {FRAMEWORK_MEASURES[indicator_id]}. {text}"
    return f"<p>{html.escape(text)}</p>"


def skipped_html(skipped: pd.DataFrame, level: int = 3, title: str = "Indicators not shown") -> str:
    """The indicators a run could not compute, each with the reason (empty if none).

    Examples:
        >>> s = pd.DataFrame({"indicator_id": ["CVD_LLT"], "title": ["CVD: on LLT"],
        ...     "family": ["cardiovascular"], "reason": ["the extract has no medications table"]})
        >>> "CVD: on LLT (CVD_LLT): not computed because the extract has no" in skipped_html(s)
        True
    """
    if skipped.empty:
        return ""
    items = "".join(
        f"<li>{html.escape(f'{t} ({i}): not computed because {r}.')}</li>"
        for t, i, r in zip(
            skipped["title"], skipped["indicator_id"], skipped["reason"], strict=True
        )
    )
    return (
        f'<section class="pack-section skipped" aria-labelledby="{slug(title)}">'
        + heading_html(title, level)
        + "<p>The extract lacked the data these indicators need, so they are listed here "
        "instead of being shown.</p>" + f"<ul>{items}</ul></section>"
    )


def indicator_parts(
    data: PackData, area: str, row: pd.Series, first: bool = False, level: int = 3
) -> list[str]:
    """One indicator's subsections: localities, breakdowns with SII, map, trend, funnel.

    The funnel plot is drawn for percentages only (its limits are binomial).

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> row = data.meta[data.meta["indicator_id"] == "HYP_BP_CHOL"].iloc[0]
        >>> "".join(indicator_parts(data, "East", row)).count("<h4") >= 2
        True
    """
    ind, title = row["indicator_id"], row["title"]
    percent = row["unit"] == "%"
    unit = "percentage points" if percent else str(row["unit"])
    axis = "Percent" if percent else str(row["unit"]).capitalize()
    parts = [heading_html(title, level), indicator_intro(data, area, ind)]
    if area == BSOL:
        parts.append(_localities_subsection(data, ind, title, axis))
        if first:
            parts.append(_locality_map(data, ind, title))
    parts += _breakdown_subsections(data, area, ind, title, unit, axis)
    if first and (data.wards["indicator_id"] == ind).any():
        parts.append(ward_map_section(data, area, ind, title))
    if first:
        parts.append(_cross_subsection(data, area, ind, title, axis))
    parts.append(_trend_subsection(data, area, ind, title, axis))
    if percent:
        parts.append(_funnel_subsection(data, area, ind, title, axis))
    return parts


def cardiovascular_section(data: PackData, area: str) -> str:
    """Lipid-lowering therapy and cholesterol in range, in the hypertension section.

    Shows CVD_LLT, CVD_CHOL_RANGE and HYP_CHOL_RANGE (those in the tables), a summary
    against BSOL and England, then each indicator in detail; lists the ones skipped.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> out = cardiovascular_section(demo_pack(), "East")
        >>> '<h3 id="cardiovascular-disease-lipid-lowering-therapy-and-cholesterol">' in out
        True
    """
    title = "Cardiovascular disease: lipid-lowering therapy and cholesterol"
    meta = data.meta[data.meta["indicator_id"].isin(CARDIOVASCULAR_IDS)]
    meta = meta.assign(_o=meta["indicator_id"].map(CARDIOVASCULAR_IDS.index)).sort_values("_o")
    skipped = skipped_indicators(data)
    skipped = skipped[skipped["indicator_id"].isin(CARDIOVASCULAR_IDS)]
    if meta.empty and skipped.empty:
        return ""
    parts = [heading_html(title, 3)]
    glance = at_a_glance(data, area)
    glance = glance[glance["indicator_id"].isin(meta["indicator_id"])]
    if len(glance):
        glance = glance.assign(_o=glance["indicator_id"].map(CARDIOVASCULAR_IDS.index))
        glance = glance.sort_values("_o").reset_index(drop=True)
        sentences = _comparison_sentences(glance, area)
        fig, alt = plots.spine_chart(glance, area, headings=False)
        table = _indicator_table(glance, area, "Comparison")
        parts.append(
            section_html(
                "Cardiovascular disease: summary",
                sentences[0],
                _repeat_spine(fig, alt),
                table,
                f"Lipid-lowering therapy and cholesterol indicators for {area}",
                [*sentences[1:], *comparator_notes(glance, data, area, table)],
                level=4,
                after_figure=REPEAT_SPINE_NOTE,
            )
        )
    for _, row in meta.iterrows():
        parts += indicator_parts(data, area, row, level=4)
    parts.append(skipped_html(skipped, 4, "Cardiovascular disease: indicators not shown"))
    return "".join(parts)


def type_gap_sentence(title: str, area: str, gap: dict[str, float | bool | None]) -> str:
    """The type 1 versus type 2 diabetes gap of one indicator in words.

    Examples:
        >>> type_gap_sentence("All three treatment targets", "East",
        ...     {"type1": 30.0, "type2": 60.0, "gap": -30.0, "overlap": False})
        'All three treatment targets in East: 30.0% of people with type 1 diabetes against 60.0% with type 2, 30.0 percentage points lower for type 1; the 95% confidence intervals do not overlap, so the gap is unlikely to be chance.'
    """  # noqa: E501
    if gap["overlap"] is None:
        return (
            f"{title} in {area}: the type 1 and type 2 values cannot both be shown after "
            "disclosure control, so the gap is not stated."
        )
    diff = float(gap["gap"])  # type: ignore[arg-type]
    side = "lower" if diff < 0 else "higher"
    size = (
        "no different"
        if round(abs(diff), 1) == 0
        else f"{fmt_number(abs(diff))} percentage points {side}"
    )
    chance = (
        "overlap, so the gap may be chance"
        if gap["overlap"]
        else "do not overlap, so the gap is unlikely to be chance"
    )
    return (
        f"{title} in {area}: {fmt_number(gap['type1'])}% of people with type 1 diabetes "
        f"against {fmt_number(gap['type2'])}% with type 2, {size} for type 1; the 95% "
        f"confidence intervals {chance}."
    )


def diabetes_type_section(data: PackData, area: str) -> str:
    """The three treatment targets and each target by diabetes type, the gap in words.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> "by diabetes type" in diabetes_type_section(demo_pack(), "East")
        True
    """
    ids = [i for i in DIABETES_TARGET_IDS if (data.meta["indicator_id"] == i).any()]
    if not ids:
        return ""
    title = "Treatment targets by diabetes type"
    rows = type_rows(data, area, ids)
    if rows.empty:
        return section_html(
            title,
            f"The pack tables have no results by diabetes type for {area}.",
            None,
            None,
            "",
            level=3,
        )
    sentences = [
        type_gap_sentence(t, area, type_gap(g))
        for t, g in ((t, rows[rows["indicator_id"] == i]) for i, t in _titles(rows))
    ]
    short = rows["title"].str.replace("Diabetes: ", "", regex=False)
    chart_rows = rows.assign(group=short + ", " + rows["group"].str.lower())
    fig, alt = plots.bar_ci(chart_rows, f"Treatment targets by diabetes type, {area}", "Percent")
    return section_html(
        title,
        sentences[0],
        figure_html(fig, alt),
        stat_table(chart_rows, "Target, diabetes type"),
        f"Diabetes treatment targets by diabetes type, {area}",
        [
            *sentences[1:],
            "Type is the latest type 1 or type 2 diabetes code; people with neither are in "
            "the totals but not in either group.",
        ],
    )


def _titles(rows: pd.DataFrame) -> list[tuple[str, str]]:
    """``(indicator_id, title)`` pairs of ``rows`` in their order."""
    pairs = rows[["indicator_id", "title"]].drop_duplicates("indicator_id")
    return list(zip(pairs["indicator_id"], pairs["title"], strict=True))


def ed_mean_sentence(row: pd.Series | None, area: str, reporting_date: Any) -> str:
    """EOL_ED_MEAN in words, as the plan states it.

    Args:
        row: the area's EOL_ED_MEAN row (``value``, ``lower``, ``upper``, ``numerator``,
            ``denominator``, ``suppressed``, ``suppression_reason``) or ``None``.
        area: the area.
        reporting_date: the pack's reporting date.

    Examples:
        >>> r = pd.Series({"value": 2.94, "lower": 2.8, "upper": 3.1, "numerator": 2940,
        ...     "denominator": 1000, "suppressed": False, "suppression_reason": None})
        >>> ed_mean_sentence(r, "East", "2025-03-31")
        'People in East who died in the 12 months to 31 March 2025 attended ED 2.9 times on average in the 90 days before death (95% CI 2.8 to 3.1; 2,940 attendances by 1,000 people).'
    """  # noqa: E501
    when = f"in the 12 months to {fmt_date(reporting_date)}"
    if row is None or (not bool(row["suppressed"]) and pd.isna(row["value"])):
        return f"ED attendances before death {when} are not in these pack tables for {area}."
    if bool(row["suppressed"]):
        return (
            f"ED attendances before death of people in {area} who died {when} cannot be "
            f"shown after disclosure control ({row['suppression_reason']})."
        )
    return (
        f"People in {area} who died {when} attended ED {fmt_number(row['value'])} times on "
        f"average in the 90 days before death (95% CI {fmt_number(row['lower'])} to "
        f"{fmt_number(row['upper'])}; {fmt_count(row['numerator'])} attendances by "
        f"{fmt_count(row['denominator'])} people)."
    )


def ed_attendance_section(data: PackData, area: str) -> str:
    """End of life: care plans and ED attendances in the last 90 days, the mean in words.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> "Care plans and ED attendances" in ed_attendance_section(demo_pack(), "East")
        True
    """
    ids = ["EOL_CARE_PLAN", "EOL_ED_3PLUS", "EOL_ED_MEAN"]
    glance = at_a_glance(data, area)
    glance = glance[glance["indicator_id"].isin(ids)]
    if glance.empty:
        return ""
    glance = glance.assign(_o=glance["indicator_id"].map(ids.index)).sort_values("_o")
    mean = glance[glance["indicator_id"] == "EOL_ED_MEAN"]
    headline = ed_mean_sentence(mean.iloc[0] if len(mean) else None, area, data.reporting_date)
    units = data.meta.set_index("indicator_id")["unit"]
    notes = _comparison_sentences(glance, area)
    table = pd.DataFrame(
        {
            "Indicator": glance["title"],
            "Unit": glance["indicator_id"].map(units).fillna(""),
            area: fmt_column(glance),
            "95% CI": fmt_ci(glance),
            **_bsol_column(glance, area),
            "England (period)": england_cells(glance),
        }
    )
    return section_html(
        "Care plans and ED attendances before death",
        headline,
        None,
        table,
        f"End-of-life care plans and ED attendances, {area}",
        [*notes, *comparator_notes(glance, data, area, table)],
    )


def le_gap_sentence(
    area: str, sex: str, deciles: pd.DataFrame, sii: pd.Series | None, england: float
) -> str:
    """The life-expectancy gap by deprivation for one sex, in years, in words.

    Args:
        area: the area.
        sex: ``"Female"`` or ``"Male"``.
        deciles: :func:`life_expectancy_by_decile` rows of that sex.
        sii: the area's ``LE_SII`` row of that sex (or ``None``).
        england: England's published slope index for that sex (NaN if none).

    Examples:
        >>> d = pd.DataFrame({"group": ["D1 (most deprived)", "D10 (least deprived)"],
        ...     "value": [74.0, 82.5], "suppressed": [False, False]})
        >>> s = pd.Series({"value": 9.1, "lower": 7.0, "upper": 11.2, "suppressed": False})
        >>> le_gap_sentence("BSOL", "Male", d, s, 10.4)
        'Males in BSOL: life expectancy at birth is 74.0 years in the most deprived tenth of neighbourhoods and 82.5 in the least deprived, a gap of 8.5 years. The slope index of inequality is 9.1 years (95% CI 7.0 to 11.2; England 10.4).'
    """  # noqa: E501
    who = f"{sex}s in {area}"
    shown = deciles[~deciles["suppressed"].astype(bool) & deciles["value"].notna()]
    first = shown[shown["group"] == DECILE_LABELS[0]]
    last = shown[shown["group"] == DECILE_LABELS[-1]]
    if len(first) and len(last):
        low, high = float(first["value"].iloc[0]), float(last["value"].iloc[0])
        text = (
            f"{who}: life expectancy at birth is {fmt_number(low)} years in the most deprived "
            f"tenth of neighbourhoods and {fmt_number(high)} in the least deprived, a gap of "
            f"{fmt_number(high - low)} years."
        )
    else:
        text = f"{who}: the most and least deprived tenths cannot both be shown."
    eng = f"; England {fmt_number(england)}" if np.isfinite(england) else ""
    if sii is not None and not bool(sii["suppressed"]) and pd.notna(sii["value"]):
        text += (
            f" The slope index of inequality is {fmt_number(sii['value'])} years (95% CI "
            f"{fmt_number(sii['lower'])} to {fmt_number(sii['upper'])}{eng})."
        )
    else:
        text += " The slope index of inequality could not be computed."
    return text


def _le_not_shown(own: pd.DataFrame, area: str) -> str | None:
    """Why life expectancy is not shown for ``area`` (None when it is)."""
    if own.empty:
        return f"Life expectancy is not in these pack tables for {area}."
    if own["value"].notna().any():
        return None
    said = pd.Series(dtype="str")
    if "method" in own:
        said = own["method"].astype("str").str.extract(r"not computable: (.+)$", expand=False)
        said = said.dropna()
    reason = own["suppression_reason"].dropna().astype("str")
    if len(said):  # the size rule (or another rule of the method) failed
        why = said.iloc[0].rstrip(".")
    elif own["suppressed"].astype(bool).any():
        why = f"suppressed ({reason.iloc[0]})" if len(reason) else "suppressed"
    else:
        why = LE_SIZE_RULE
    return f"Life expectancy is not shown for {area}: {why}."


def life_expectancy_section(data: PackData, area: str) -> str:
    """Life expectancy by sex for the area, BSOL and England, and by IMD decile with the SII.

    Not shown, with the reason, where the size rule fails (no value in the tables).

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> '<h3 id="life-expectancy-at-birth">' in life_expectancy_section(demo_pack(), "BSOL")
        True
    """
    le = life_expectancy_by_sex(data, area)
    own = le[le["area"] == area]
    why = _le_not_shown(own, area)
    period = le.loc[le["area"] == "England", "period"]
    eng_period = str(period.iloc[0]) if len(period) else NO_ENGLAND
    if why is not None:
        eng = "; ".join(
            f"{word.lower()}s {england_sentence('LE_BIRTH', 'years', code)[9:-1]}"
            for code, word in (("F", "Female"), ("M", "Male"))
        )
        return section_html(
            "Life expectancy at birth",
            why,
            None,
            None,
            "",
            [f"England, published OHID figures: {eng}."],
        )
    chart = le.assign(group=le["area"] + ", " + le["sex"].str.lower())
    fig, alt = plots.bar_ci(chart, f"Life expectancy at birth, {area}", "Years")
    sentences = []
    for sex in ("Female", "Male"):
        r = own[own["sex"] == sex]
        e = le[(le["area"] == "England") & (le["sex"] == sex)]["value"]
        if r.empty or pd.isna(r["value"].iloc[0]):
            sentences.append(f"{sex} life expectancy in {area} is not shown.")
            continue
        eng = f"; England {fmt_number(e.iloc[0])} ({eng_period})" if len(e) else ""
        sentences.append(
            f"{sex} life expectancy at birth in {area} is {fmt_number(r['value'].iloc[0])} "
            f"years (95% CI {fmt_number(r['lower'].iloc[0])} to "
            f"{fmt_number(r['upper'].iloc[0])}{eng})."
        )
    parts = [
        section_html(
            "Life expectancy at birth",
            " ".join(sentences),
            figure_html(fig, alt),
            stat_table(chart, "Area, sex"),
            f"Life expectancy at birth by sex: {area if area == BSOL else area + ', BSOL'} "
            f"and England ({eng_period})",
            [
                "Area and BSOL figures use the deaths of registered patients in the three "
                f"years to {fmt_date(data.reporting_date)}; England's are the published "
                f"OHID figures for {eng_period}."
            ],
        )
    ]
    parts.append(_le_decile_subsection(data, area))
    return "".join(parts)


def _le_decile_subsection(data: PackData, area: str) -> str:
    """Life expectancy by IMD decile and sex, with the gap and the SII in words."""
    deciles = life_expectancy_by_decile(data, area)
    if deciles.empty:
        return ""
    sii = life_expectancy_sii(data, area)
    sentences = []
    for sex, code in (("Female", "F"), ("Male", "M")):
        s = sii[sii["sex"] == sex]
        sentences.append(
            le_gap_sentence(
                area,
                sex,
                deciles[deciles["sex"] == sex],
                s.iloc[0] if len(s) else None,
                england_reference("LE_SII", code)[0],
            )
        )
    chart = deciles.assign(group=deciles["group"] + ", " + deciles["sex"].str.lower())
    fig, alt = plots.bar_ci(chart, f"Life expectancy by deprivation decile, {area}", "Years")
    _, period = england_reference("LE_SII", "F")
    return section_html(
        "Life expectancy by deprivation",
        sentences[0],
        figure_html(fig, alt),
        stat_table(chart, "IMD decile, sex"),
        f"Life expectancy at birth by IMD decile and sex, {area}",
        [
            *sentences[1:],
            "The slope index of inequality is the modelled gap in years between the least "
            "and the most deprived ends of the population, across the ten IMD deciles; "
            f"England's is the published OHID figure ({period}).",
        ],
    )


def data_quality_html(info: dict[str, Any]) -> str:
    """The data-quality subsection: a few plain sentences and a small accessible table.

    ``info`` is ``pack_meta.json``: ``data_quality`` (sentences) and ``data_quality_table``
    (rows of measure, value and meaning; older metadata may lack it).

    Examples:
        >>> out = data_quality_html({"data_quality": ["The extract passed."],
        ...     "data_quality_table": [{"Measure": "Records set aside", "Value": "3,864",
        ...     "What it means": "Left out."}]})
        >>> "<p>The extract passed.</p>" in out and '<th scope="row">Records set aside</th>' in out
        True
        >>> data_quality_html({})
        '<p>No data-quality summary was found for this extract.</p>'
    """
    notes = info.get("data_quality") or ["No data-quality summary was found for this extract."]
    text = "<p>" + " ".join(html.escape(str(s)) for s in notes) + "</p>"
    rows = info.get("data_quality_table") or []
    if not rows:
        return text
    frame = pd.DataFrame(rows).reindex(columns=list(QUALITY_COLUMNS)).fillna("")
    return text + table_html(frame, "Data quality of the extract")


def end_of_life_caveats(data: PackData, area: str) -> str:
    """The end-of-life caveat on deaths with no recorded place of death (may be empty).

    The count comes from ``pack_meta.json`` (``blank_place_of_death``, written by the
    table step already disclosure-controlled) for the pack's area and the 12 months to the
    reporting date.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> data.info["blank_place_of_death"] = {"window": ["2024-04-01", "2025-03-31"],
        ...     "counts": {"East": "fewer than 8"}}
        >>> end_of_life_caveats(data, "East")[:60]
        '<p>In East locality, fewer than 8 deaths from 1 April 2024 t'
        >>> end_of_life_caveats(data, "West")
        ''
    """
    blank = data.info.get("blank_place_of_death") or {}
    counts = blank.get("counts") or {}
    if area not in counts:
        return ""
    window = blank.get("window") or []
    words = f"{fmt_date(window[0])} to {fmt_date(window[1])}" if len(window) == 2 else ""
    return f"<p>{html.escape(blank_place_sentence(counts[area], area, words))}</p>"


def definitions_section(data: PackData, area: str) -> str:
    """Section 4: definitions, sources, reporting date, view, data quality, SDC, version.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> '<h2 id="definitions-and-data">' in definitions_section(data, "East")
        True
    """
    info = data.info
    view = info.get("view", "practice")
    view_text = (
        "practice view: patients are counted in the locality of the practice they are "
        "registered with"
        if view == "practice"
        else "resident view: patients are counted in the locality where they live"
    )
    items = [
        f"Reporting date: {fmt_date(data.reporting_date)}.",
        f"View: {view_text}.",
        f"Deprivation: English Indices of Deprivation {info.get('imd', '2025')}, national "
        "quintiles (Q1 is the most deprived fifth of neighbourhoods in England).",
        f"Disclosure control: {info.get('sdc_rule', '')}",
        "Ethnicity: ONS 2021 broad ethnic groups (Asian, Black, Mixed, White, Other), with "
        "Chinese in Asian; 'Unknown' where no ethnicity is recorded.",
        "Confidence intervals are 95%; funnel plots show 95% and 99.8% control limits.",
        trend_note(data),
        f"Built by {run_stamp()}.",
    ]
    lists = "".join(f"<li>{html.escape(i)}</li>" for i in items)
    sources = "".join(f"<li>{html.escape(s)}</li>" for s in info.get("data_sources", []))
    merge = ["Caveats", "England figure"]  # written once for a run of equal cells
    # printed across the page with set column widths (see the pack's print style)
    table = table_html(
        definitions_table(data.meta), "Indicator definitions", merge=merge, css_class="definitions"
    )
    return (
        heading_html("Definitions and data", 2)
        + heading_html("Indicators", 3)
        + table
        + heading_html("About this pack", 3)
        + f"<ul>{lists}</ul>"
        + heading_html("Data sources", 3)
        + f"<ul>{sources}</ul>"
        + heading_html("Data quality", 3)
        + data_quality_html(info)
        + skipped_html(skipped_indicators(data), 3, "Indicators not computed in this run")
    )


__all__ = [
    "CARDIOVASCULAR_IDS",
    "DIABETES_TARGET_IDS",
    "ETHNIC_GROUPS_NOTE",
    "FRAMEWORK_MEASURES",
    "LE_SIZE_RULE",
    "MERGED_FAMILIES",
    "SECTION_TITLES",
    "cardiovascular_section",
    "comparator_notes",
    "data_quality_html",
    "definitions_section",
    "deprivation_map_section",
    "diabetes_type_section",
    "ed_attendance_section",
    "ed_mean_sentence",
    "end_of_life_caveats",
    "england_cells",
    "england_sentence",
    "family_section",
    "glance_section",
    "indicator_intro",
    "indicator_parts",
    "le_gap_sentence",
    "life_expectancy_section",
    "population_section",
    "rve_section",
    "skipped_html",
    "title_html",
    "trend_note",
    "type_gap_sentence",
    "ward_map_section",
]
