"""Building blocks of the locality packs: tables, headlines in words, accessible HTML.

Load the pack tables, pick what a section shows, write its headline and emit the HTML:

* :mod:`~bsol_analytics.report.parameters`: the pack's parameters, checked once;
* :mod:`~bsol_analytics.report.formatting`: numbers, dates and suppressed cells;
* :mod:`~bsol_analytics.report.loading`: the pack tables (:class:`PackData`);
* :mod:`~bsol_analytics.report.selection`: the rows a section shows;
* :mod:`~bsol_analytics.report.words`: headlines and sentences;
* :mod:`~bsol_analytics.report.html`: figures, tables and sections as accessible HTML;
* :mod:`~bsol_analytics.report.sections`: the sections, in notebook order.

The report notebooks only load, call and show: every selection, sentence and table lives
here so it is tested once. Each section of a pack is a headline sentence that states the
finding, the chart (a PNG with real alt text) and the chart's data as an accessible table in
a collapsed ``<details>`` element. Counts and rates come from the disclosure-controlled
frame; a suppressed cell is shown as "suppressed" with its reason, never as a number.

Pack tables (written by :func:`bsol_analytics.packs.compute_tables`, one folder per run):

* ``indicators.parquet``: the tidy indicator frame of ``docs/architecture.md`` (all areas,
  breakdowns and quarterly reporting dates);
* ``indicator_meta.parquet``: ``indicator_id``, ``title``, ``family``, ``definition``,
  ``polarity`` (``higher is better``, ``lower is better``, ``no judgement``), ``unit``,
  ``derived`` (``""``, ``DSR`` or ``RVE``), ``england_value``;
* ``sii.parquet``: ``indicator_id``, ``area``, ``value``, ``lower``, ``upper``;
* ``population.parquet``: ``area_type``, ``area``, ``sex``, ``age_band``, ``count``,
  ``suppressed``, ``suppression_reason``;
* ``demography.parquet``: ``area_type``, ``area``, ``breakdown``, ``group``, ``count``,
  ``share``, ``suppressed``, ``suppression_reason``;
* ``practices.parquet``: ``practice_code``, ``practice_name``, ``pcn_code``, ``pcn_name``,
  ``locality``;
* ``wards.parquet``: ``indicator_id``, ``ward_code`` and the statistic columns, resident
  view, for the first indicator of each family;
* ``pack_meta.json``: reporting date, view, IMD version, suite version, the SDC rule and the
  data-quality notes of preparation.
"""

from __future__ import annotations

from bsol_analytics.plots import outside_limits
from bsol_analytics.report.formatting import (
    CELL_COLUMNS,
    CONFIDENCE,
    fmt_cell,
    fmt_ci,
    fmt_column,
    fmt_count,
    fmt_date,
    fmt_number,
    slug,
)
from bsol_analytics.report.html import (
    SYNTHETIC_LABEL,
    coverage_sentence,
    figure_html,
    heading_html,
    mark_print,
    mark_synthetic,
    page_banner_css,
    provenance_banner,
    run_stamp,
    section_html,
    show,
    stat_table,
    table_html,
)
from bsol_analytics.report.loading import (
    PackData,
    PackDataError,
    load_pack,
)
from bsol_analytics.report.messages import key_messages
from bsol_analytics.report.parameters import (
    parse_localities,
    tables_coverage,
    validate_parameters,
)
from bsol_analytics.report.sections import (
    definitions_section,
    deprivation_map_section,
    family_section,
    glance_section,
    population_section,
    rve_section,
    title_html,
    ward_map_section,
)
from bsol_analytics.report.selection import (
    areas_side_by_side,
    at_a_glance,
    breakdown_rows,
    comparator_values,
    cross_matrix,
    definitions_table,
    demography_mix,
    family_of,
    funnel_points,
    population_pyramid,
    registered_total,
    series_rows,
    trend_direction,
)
from bsol_analytics.report.words import (
    DSR_NOTE,
    RVE_NOTE,
    breakdown_headline,
    comparison_sentence,
    data_quality_notes,
    funnel_sentence,
    glance_headline,
    not_compared_sentence,
    recent_trend_sentence,
    rve_headline,
    rve_sentence,
    sii_sentence,
    trend_sentence,
)
from bsol_analytics.vocabulary import BSOL, FAMILIES, LOCALITIES

__all__ = [
    "BSOL",
    "CELL_COLUMNS",
    "CONFIDENCE",
    "DSR_NOTE",
    "FAMILIES",
    "LOCALITIES",
    "RVE_NOTE",
    "SYNTHETIC_LABEL",
    "PackData",
    "PackDataError",
    "areas_side_by_side",
    "at_a_glance",
    "breakdown_headline",
    "breakdown_rows",
    "comparator_values",
    "comparison_sentence",
    "coverage_sentence",
    "cross_matrix",
    "data_quality_notes",
    "definitions_section",
    "definitions_table",
    "demography_mix",
    "deprivation_map_section",
    "family_of",
    "family_section",
    "figure_html",
    "fmt_cell",
    "fmt_ci",
    "fmt_column",
    "fmt_count",
    "fmt_date",
    "fmt_number",
    "funnel_points",
    "funnel_sentence",
    "glance_headline",
    "glance_section",
    "heading_html",
    "key_messages",
    "load_pack",
    "mark_print",
    "mark_synthetic",
    "not_compared_sentence",
    "outside_limits",
    "page_banner_css",
    "parse_localities",
    "population_pyramid",
    "population_section",
    "provenance_banner",
    "recent_trend_sentence",
    "registered_total",
    "run_stamp",
    "rve_headline",
    "rve_section",
    "rve_sentence",
    "section_html",
    "series_rows",
    "show",
    "sii_sentence",
    "slug",
    "stat_table",
    "table_html",
    "tables_coverage",
    "title_html",
    "trend_direction",
    "trend_sentence",
    "validate_parameters",
    "ward_map_section",
]
