"""What a section shows: rows picked from the pack tables for one area and indicator."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from bsol_analytics import reference, stats
from bsol_analytics.errors import BsolError
from bsol_analytics.indicators.registry import get_indicator, list_indicators, registry_frame
from bsol_analytics.report.formatting import CELL_COLUMNS, NO_COMPARISON
from bsol_analytics.report.loading import PackData
from bsol_analytics.vocabulary import (
    BSOL,
    DERIVED_PATTERN,
    ETHNICITY_BROAD,
    LOCALITIES,
    SEX_LABELS,
    base_ids,
    comparator_of,
)

_PREFIX_FAMILY = {
    "HYP": "hypertension",
    "BP": "hypertension",
    "DM": "diabetes",
    "COPD": "copd",
    "EOL": "end_of_life",
    "PAL": "end_of_life",
    "SCR": "screening",
    "CS": "screening",
    "BCS": "screening",
    "BREAST": "screening",
    "BOWEL": "screening",
    "CERV": "screening",
    "CERVICAL": "screening",
}


def family_of(indicator_id: str) -> str:
    """Guess an indicator's family from its id prefix (used when the registry has none).

    Examples:
        >>> family_of("HYP_PREV"), family_of("SCR_BOWEL"), family_of("XYZ")
        ('hypertension', 'screening', 'other')
    """
    return _PREFIX_FAMILY.get(indicator_id.split("_")[0].upper(), "other")


def _area_type(area: str) -> str:
    return "BSOL" if area == BSOL else "locality"


def _latest(data: PackData) -> pd.DataFrame:
    """The rows at the reporting date (shared: callers select from it, never alter it)."""
    ind = data.indicators
    return data.shared("latest", lambda: ind[ind["reporting_date"] == data.reporting_date])


def _rows_of(
    data: PackData,
    area: str,
    breakdown: str = "overall",
    indicator_id: str | None = None,
    latest: bool = True,
) -> pd.DataFrame:
    """Rows of one area (BSOL or a locality) and breakdown, optionally of one indicator.

    From the latest (or every) date, split once per pack by area: the same rows, in the
    same order and with the same index, as filtering the whole frame.
    """
    frame = _latest(data) if latest else data.indicators
    split = data.shared(
        ("by_area", latest),
        lambda: dict(
            iter(frame.groupby(["area_type", "area", "breakdown"], sort=False, dropna=False))
        ),
    )
    rows = split.get((_area_type(area), area, breakdown))
    if rows is None:  # no such rows
        return frame.iloc[:0]
    if indicator_id is not None:
        rows = rows[rows["indicator_id"] == indicator_id]
    return rows


def _one_row_per_cell(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Keep one row per cell (the first comparator) so values are not duplicated."""
    return frame.drop_duplicates(list(keys), keep="first")


def comparator_values(data: PackData, area: str) -> pd.DataFrame:
    """Comparator value and comparison of ``area`` for every indicator, one column each.

    Returns:
        A new frame: ``indicator_id`` and, for each comparator name in the frame (e.g.
        ``BSOL``, ``England``), ``<name>_value`` and ``<name>_comparison``.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> sorted(comparator_values(data, "East").columns)
        ['BSOL_comparison', 'BSOL_value', 'indicator_id']
    """
    return data.cached(("comparators", area), lambda: _comparator_values(data, area))


def _comparator_values(data: PackData, area: str) -> pd.DataFrame:
    rows = _rows_of(data, area)
    rows = rows[rows["comparator"].notna()]
    if rows.empty:
        return pd.DataFrame({"indicator_id": pd.Series(dtype=str)})
    wide = rows.pivot_table(
        index="indicator_id",
        columns="comparator",
        values=["comparator_value", "comparison"],
        aggfunc="first",
    )
    wide.columns = [
        f"{comp}_{'value' if stat == 'comparator_value' else 'comparison'}"
        for stat, comp in wide.columns
    ]
    return wide.reset_index()


def trend_direction(series: pd.DataFrame) -> str:
    """Direction of a quarterly series: the latest value against the earliest.

    A change counts only when the two 95% confidence intervals do not overlap; otherwise
    the series shows "no significant change".

    Args:
        series: rows of one indicator and area with ``reporting_date``, ``value``,
            ``lower``, ``upper``, ``suppressed``.

    Returns:
        ``"increasing"``, ``"decreasing"``, ``"no significant change"`` or
        ``"not enough data"``.

    Examples:
        >>> s = pd.DataFrame({"reporting_date": pd.to_datetime(["2024-03-31", "2025-03-31"]),
        ...     "value": [10.0, 14.0], "lower": [9.0, 13.0], "upper": [11.0, 15.0],
        ...     "suppressed": [False, False]})
        >>> trend_direction(s)
        'increasing'
    """
    s = series[~series["suppressed"].astype(bool) & series["value"].notna()]
    s = s.sort_values("reporting_date")
    if s["reporting_date"].nunique() < 2:
        return "not enough data"
    first, last = s.iloc[0], s.iloc[-1]
    if last["lower"] > first["upper"]:
        return "increasing"
    if last["upper"] < first["lower"]:
        return "decreasing"
    return "no significant change"


#: Quarters of Fingertips' recent-trend test (chi-squared test for trend).
RECENT_TREND_QUARTERS = 5
#: Trend words where the recent-trend test does not apply (a ratio, rate or standardised
#: value) or cannot run (fewer than 5 published quarters).
NOT_TESTED = "not tested"
NOT_ENOUGH = "not tested: too few published quarters"


def recent_trends(data: PackData, area: str) -> pd.DataFrame:
    """Fingertips' recent trend of every percentage indicator of ``area``.

    The chi-squared test for trend (:func:`bsol_analytics.stats.recent_trend`, 99.8%
    level) over the last 5 quarters of the pack's tables, up to the reporting date: the
    quarters the extract supports for every look-back window (the reliable window). An
    indicator with a quarter of the window suppressed or missing is not tested; nor are
    rates, ratios and age-standardised values.

    Returns:
        A new frame, one row per indicator of ``data.meta``: ``indicator_id``, ``trend``
        (``increasing``, ``decreasing``, ``no significant change``, :data:`NOT_ENOUGH` or
        :data:`NOT_TESTED`), ``period_from``, ``period_to`` and ``first``/``last`` (the
        values at the ends of the window).

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> t = recent_trends(demo_pack(), "East")
        >>> set(t["trend"]) <= {"increasing", "decreasing", "no significant change",
        ...     NOT_ENOUGH, NOT_TESTED}
        True
    """
    return data.cached(("recent_trends", area), lambda: _recent_trends(data, area))


def _recent_trends(data: PackData, area: str) -> pd.DataFrame:
    from bsol_analytics.stats import recent_trend

    meta = data.meta
    derived = meta["derived"] if "derived" in meta else pd.Series("", index=meta.index)
    tested = meta.loc[(meta["unit"] == "%") & (derived.fillna("") == ""), "indicator_id"]
    series = _one_row_per_cell(
        _rows_of(data, area, latest=False), ["indicator_id", "reporting_date"]
    )
    quarters = sorted(pd.unique(data.indicators["reporting_date"]))[-RECENT_TREND_QUARTERS:]
    series = series[
        series["indicator_id"].isin(tested)
        & series["reporting_date"].isin(quarters)
        & ~series["suppressed"].astype(bool)
        & series["numerator"].notna()
        & (series["denominator"] > 0)
    ].sort_values("reporting_date")
    window = series.groupby("indicator_id", sort=False).tail(RECENT_TREND_QUARTERS)
    out = pd.DataFrame({"indicator_id": meta["indicator_id"].to_numpy()})
    out["trend"] = np.where(out["indicator_id"].isin(tested), NOT_ENOUGH, NOT_TESTED)
    full = (
        window.groupby("indicator_id")["reporting_date"].transform("size") == RECENT_TREND_QUARTERS
    )
    window = window[full]
    if window.empty:
        return out.assign(period_from=pd.NaT, period_to=pd.NaT, first=np.nan, last=np.nan)
    test = recent_trend(
        window.assign(
            numerator=window["numerator"].round(), denominator=window["denominator"].round()
        ),
        "numerator",
        "denominator",
        period="reporting_date",
        by="indicator_id",
        points=RECENT_TREND_QUARTERS,
    )
    ends = window.groupby("indicator_id")["value"].agg(first="first", last="last")
    test = test.set_index("indicator_id").join(ends)
    test = test[test["direction"] != "cannot be calculated"]
    cols = ["direction", "period_from", "period_to", "first", "last"]
    out = out.join(test[cols], on="indicator_id")
    out["trend"] = out["direction"].fillna(out["trend"])
    return out.drop(columns="direction")


def england_comparators(indicator_ids: Iterable[str]) -> pd.DataFrame:
    """England's published figure, its period and source for each indicator id.

    Derived ids (``_DSR``, ``_RVE``, ``_ISR``) and indicators without a published figure
    of matching definition get no value and the text :data:`NO_ENGLAND`.

    Returns:
        A new frame: ``indicator_id``, ``england_value``, ``england_period``,
        ``england_source``, ``england_note`` (why none is shown, or a caveat),
        ``england_text`` (``"66.6 (2022/23)"`` or :data:`NO_ENGLAND`), and BSOL's own
        published figure: ``bsol_published``, ``bsol_published_period``,
        ``bsol_published_source``.

    Examples:
        >>> e = england_comparators(["SCR_BOWEL", "ACSC_EMERG"])
        >>> e["england_text"].tolist()
        ['72.0 (2022/23)', 'no published England figure']
        >>> e["bsol_published"].tolist()
        [64.8, nan]
    """
    rows = []
    for ind in indicator_ids:
        try:
            info = get_indicator(ind)
        except BsolError:
            info = None
        has = info is not None and info.england_value is not None and bool(info.england_year)
        own = info is not None and info.bsol_value is not None
        rows.append(
            {
                "indicator_id": ind,
                "england_value": float(info.england_value) if has else np.nan,
                "england_period": str(info.england_year) if has else NO_ENGLAND,
                "england_source": str(info.england_source) if has else "",
                "england_note": info.england_note if info is not None else "",
                "bsol_published": float(info.bsol_value) if own else np.nan,
                "bsol_published_period": str(info.bsol_year) if own else "",
                "bsol_published_source": str(info.bsol_source) if own else "",
            }
        )
    out = pd.DataFrame(rows, columns=_ENGLAND_COLUMNS)
    value = out["england_value"].map(lambda v: f"{v:.1f}")
    out["england_text"] = np.where(
        out["england_value"].notna(), value + " (" + out["england_period"] + ")", NO_ENGLAND
    )
    return out


_ENGLAND_COLUMNS = [
    "indicator_id",
    "england_value",
    "england_period",
    "england_source",
    "england_note",
    "bsol_published",
    "bsol_published_period",
    "bsol_published_source",
]


def at_a_glance(data: PackData, area: str) -> pd.DataFrame:
    """Every indicator for ``area`` with its comparators, comparison and trend.

    Returns:
        A new frame, one row per indicator in registry order: ``indicator_id``, ``title``,
        ``family``, ``polarity``, ``value``, ``lower``, ``upper``, ``numerator``,
        ``denominator``, ``suppressed``, ``suppression_reason``, ``BSOL``, ``England``
        (comparator values, NaN where absent), ``comparison`` (against BSOL for a
        locality, England's dated published figure for BSOL), ``why_not_compared`` (why a
        row is not compared, see :func:`no_comparison_reasons`) and ``trend``.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> g = at_a_glance(data, "East")
        >>> set(g["comparison"]) <= {"better", "similar", "worse", "higher", "lower",
        ...     "not compared"}
        True
    """
    return data.cached(("glance", area), lambda: _at_a_glance(data, area))


def _at_a_glance(data: PackData, area: str) -> pd.DataFrame:
    own = _one_row_per_cell(_rows_of(data, area), ["indicator_id"])
    cols = ["indicator_id", *CELL_COLUMNS]
    meta = data.meta
    if "england_value" not in meta:
        meta = meta.assign(england_value=np.nan)
    if "derived" not in meta:
        meta = meta.assign(derived="")
    out = meta[["indicator_id", "title", "family", "polarity", "derived", "england_value"]].merge(
        own[cols], on="indicator_id", how="inner"
    )
    comps = comparator_values(data, area)
    out = out.merge(comps, on="indicator_id", how="left")
    main = comparator_of(area)
    for name in ("BSOL", "England"):
        out[name] = out.get(f"{name}_value", pd.Series(np.nan, index=out.index))
    eng = england_comparators(out["indicator_id"])
    out["England"] = eng["england_value"].to_numpy()
    out["England_period"] = eng["england_period"].to_numpy()
    if area == BSOL:
        out["BSOL"] = out["value"]
    comparison = out.get(f"{main}_comparison", pd.Series(pd.NA, index=out.index))
    out["comparison"] = comparison.fillna("not compared").astype(str)
    if area == BSOL:
        out["comparison"] = england_comparison(out)
    out.loc[out["suppressed"].astype(bool), "comparison"] = "not compared"
    out["why_not_compared"] = no_comparison_reasons(out, area)
    trends = recent_trends(data, area).set_index("indicator_id")["trend"]
    out["trend"] = out["indicator_id"].map(trends).fillna(NOT_TESTED)
    keep = [c for c in out.columns if not c.endswith(("_value", "_comparison"))]
    keep = [c for c in keep if c != "england_value"]
    return out[keep].reset_index(drop=True)


def england_comparison(glance: pd.DataFrame) -> pd.Series:
    """Compare each row with England's dated published figure (OHID rule, by polarity).

    Rows without an England value (or without an interval) are ``"not compared"``.

    Args:
        glance: rows with ``value``, ``lower``, ``upper``, ``polarity`` and ``England``.

    Returns:
        A new series of comparison words, aligned with ``glance``.

    Examples:
        >>> g = pd.DataFrame({"value": [63.0, 45.0, 12.6], "lower": [62.8, 44.0, 12.5],
        ...     "upper": [63.3, 46.0, 12.7], "England": [66.6, 43.4, float("nan")],
        ...     "polarity": ["higher is better", "no judgement", "no judgement"]})
        >>> england_comparison(g).tolist()
        ['worse', 'higher', 'not compared']
    """
    rows = glance[["value", "lower", "upper", "England"]].astype(float)
    judged = stats.compare_each(
        rows.assign(polarity=glance["polarity"]),
        "value",
        "lower",
        "upper",
        "England",
        polarity="polarity",
    )
    return judged["comparison"].astype(object)


def no_comparison_reasons(glance: pd.DataFrame, area: str) -> pd.Series:
    """Why each row is not compared, in a few words (empty where it is compared).

    A suppressed value says ``suppressed``. In the BSOL pack a row with no dated England
    figure says so, and the measures computed by the pack itself (age-standardised values,
    recorded-versus-expected ratios) say that England publishes none; a standardised ratio
    for BSOL is 1 by definition, BSOL being its standard.

    Examples:
        >>> g = pd.DataFrame({"comparison": ["worse", "not compared", "not compared",
        ...     "not compared", "not compared"], "suppressed": [False, True, False, False, False],
        ...     "derived": ["", "", "", "DSR", "ISR"]})
        >>> no_comparison_reasons(g, "BSOL").tolist()
        ['', 'suppressed', 'no England figure', 'no England figure (computed here)', 'BSOL is the standard (1)']
        >>> no_comparison_reasons(g, "East").tolist()[:3]
        ['', 'suppressed', 'no BSOL value']
    """  # noqa: E501
    derived = glance["derived"].fillna("") if "derived" in glance else ""
    if area == BSOL:
        fallback = np.where(
            derived == "ISR",
            NO_COMPARISON["standard"],
            np.where(derived != "", NO_COMPARISON["computed here"], NO_COMPARISON["no England"]),
        )
    else:
        fallback = np.full(len(glance), NO_COMPARISON["no BSOL"], dtype=object)
    reason = np.where(glance["suppressed"].astype(bool), NO_COMPARISON["suppressed"], fallback)
    compared = (glance["comparison"] != "not compared").to_numpy()
    return pd.Series(np.where(compared, "", reason), index=glance.index, dtype=object)


def breakdown_rows(data: PackData, area: str, indicator_id: str, breakdown: str) -> pd.DataFrame:
    """The latest rows of one indicator for ``area`` split by ``breakdown``.

    Returns:
        A new frame with ``group``, ``value``, ``lower``, ``upper``, ``numerator``,
        ``denominator``, ``suppressed``, ``suppression_reason``; groups in natural order.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> breakdown_rows(data, "East", "HYP_PREV", "imd_quintile")["group"].iloc[0]
        'Q1 (most deprived)'
    """
    rows = _rows_of(data, area, breakdown, indicator_id)
    rows = _one_row_per_cell(rows, ["group"])
    cols = ["group", *CELL_COLUMNS]
    return rows[cols].sort_values("group", key=_group_order).reset_index(drop=True)


def _group_order(groups: pd.Series) -> pd.Series:
    ethnic = {g: n for n, g in enumerate(ETHNICITY_BROAD)}
    first = groups.astype(str).str.extract(r"(\d+)", expand=False).astype(float)
    return first.fillna(groups.map(ethnic).astype(float)).fillna(99)


def cross_matrix(data: PackData, area: str, indicator_id: str) -> pd.DataFrame:
    """IMD quintile × broad ethnic group matrix of one indicator for ``area``.

    Returns:
        A new long frame with ``imd_quintile``, ``ethnicity_broad``, ``value``, ``lower``,
        ``upper``, ``numerator``, ``denominator``, ``suppressed``, ``suppression_reason``.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> sorted(cross_matrix(data, "East", "HYP_PREV")["imd_quintile"].unique())
        ['Q1 (most deprived)', 'Q2', 'Q3', 'Q4', 'Q5 (least deprived)', 'Unknown']
    """
    rows = breakdown_rows(data, area, indicator_id, "imd_quintile*ethnicity_broad")
    if rows.empty:
        cols = ["imd_quintile", "ethnicity_broad", *CELL_COLUMNS]
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    parts = rows["group"].str.split(r"\s*[×*|,]\s*", n=1, expand=True, regex=True)
    if parts.shape[1] < 2:
        parts[1] = None
    out = rows.drop(columns="group").assign(imd_quintile=parts[0], ethnicity_broad=parts[1])
    return out[["imd_quintile", "ethnicity_broad", *[c for c in rows.columns if c != "group"]]]


def series_rows(data: PackData, areas: Iterable[str], indicator_id: str) -> pd.DataFrame:
    """Quarterly overall values of one indicator for several areas.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> series_rows(data, ["East", "BSOL"], "HYP_PREV")["area"].unique().tolist()
        ['BSOL', 'East']
    """
    areas = list(areas)
    ind = data.indicators
    rows = ind[
        ind["area"].isin(areas)
        & ind["area_type"].isin(["BSOL", "locality"])
        & (ind["indicator_id"] == indicator_id)
        & (ind["breakdown"] == "overall")
    ]
    rows = _one_row_per_cell(rows, ["area", "reporting_date"])
    cols = ["area", "reporting_date", *CELL_COLUMNS]
    return rows[cols].sort_values(["area", "reporting_date"]).reset_index(drop=True)


def funnel_points(data: PackData, area: str, indicator_id: str) -> pd.DataFrame:
    """Practice values of one indicator for the practices of ``area`` (all for BSOL).

    Returns:
        A new frame: ``practice_code``, ``practice_name``, ``pcn_name``, ``value``,
        ``numerator``, ``denominator``, ``suppressed``, ``suppression_reason``.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> len(funnel_points(data, "East", "HYP_PREV")) > 0
        True
    """
    latest = _latest(data)
    rows = latest[
        (latest["area_type"] == "practice")
        & (latest["indicator_id"] == indicator_id)
        & (latest["breakdown"] == "overall")
    ]
    rows = _one_row_per_cell(rows, ["area"])
    prac = data.practices
    if area != BSOL:
        prac = prac[prac["locality"] == area]
    out = prac[["practice_code", "practice_name", "pcn_name"]].merge(
        rows.rename(columns={"area": "practice_code"}), on="practice_code", how="inner"
    )
    cols = ["practice_code", "practice_name", "pcn_name", *CELL_COLUMNS]
    return out[cols].sort_values("practice_code").reset_index(drop=True)


def areas_side_by_side(data: PackData, indicator_id: str) -> pd.DataFrame:
    """The six localities and BSOL for one indicator (for the BSOL pack).

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> areas_side_by_side(data, "HYP_PREV")["group"].tolist()[-1]
        'BSOL'
    """
    latest = _latest(data)
    rows = latest[
        latest["area_type"].isin(["locality", "BSOL"])
        & (latest["indicator_id"] == indicator_id)
        & (latest["breakdown"] == "overall")
    ]
    rows = _one_row_per_cell(rows, ["area"])
    order = {name: i for i, name in enumerate([*LOCALITIES, BSOL])}
    rows = rows.assign(_o=rows["area"].map(order)).sort_values("_o")
    cols = ["group", *CELL_COLUMNS, "comparison"]
    return rows.assign(group=rows["area"])[cols].reset_index(drop=True)


def population_pyramid(data: PackData, area: str) -> pd.DataFrame:
    """Registered population of ``area`` by sex and age band, as a percent of the total.

    Patients whose sex is not known are one all-ages row (sex ``U``), so the published
    cells account for everyone registered; the chart draws ``F`` and ``M`` only.

    Returns:
        A new frame: ``age_band``, ``sex`` (``F``/``M``/``U``), ``count``, ``percent``,
        ``suppressed``, ``suppression_reason``, and the BSOL percent in ``bsol_percent``.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> population_pyramid(data, "East")["sex"].unique().tolist()
        ['F', 'M', 'U']
    """
    pop = data.population

    def share(frame: pd.DataFrame) -> pd.DataFrame:
        shown = ~frame["suppressed"].astype(bool)
        total = frame["count"].where(shown).sum()
        pct = 100 * frame["count"] / total if total else pd.Series(np.nan, index=frame.index)
        return frame.assign(percent=pct.where(shown))

    own = share(pop[pop["area"] == area])
    bsol = share(pop[pop["area"] == BSOL])[["age_band", "sex", "percent"]]
    out = own.merge(bsol.rename(columns={"percent": "bsol_percent"}), on=["age_band", "sex"])
    out = out.sort_values(["sex", "age_band"], key=_band_key)
    cols = ["age_band", "sex", "count", "percent", "suppressed", "suppression_reason"]
    return out[[*cols, "bsol_percent"]].reset_index(drop=True)


def registered_total(data: PackData, area: str) -> float:
    """Patients registered in ``area`` at the reporting date (the published HYP_PREV base).

    Falls back to the sum of the published population cells when that row is missing.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> registered_total(data, "East") > 0
        True
    """
    ind = data.indicators
    row = ind[
        (ind["indicator_id"] == "HYP_PREV")
        & (ind["area"] == area)
        & (ind["breakdown"] == "overall")
        & (ind["reporting_date"] == data.reporting_date)
    ]
    if len(row) and pd.notna(row["denominator"].iloc[0]):
        return float(row["denominator"].iloc[0])
    return float(data.population.loc[data.population["area"] == area, "count"].sum())


def _band_key(values: pd.Series) -> pd.Series:
    if values.name == "age_band":
        return values.str.extract(r"(\d+)", expand=False).astype(float)
    return values


def demography_mix(data: PackData, area: str, breakdown: str) -> pd.DataFrame:
    """Share of the registered population of ``area`` and of BSOL in each group.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> list(demography_mix(data, "East", "ethnicity_broad").columns)
        ['group', 'count', 'share', 'suppressed', 'suppression_reason', 'bsol_share']
    """
    demo = data.demography[data.demography["breakdown"] == breakdown]
    own = demo[demo["area"] == area][
        ["group", "count", "share", "suppressed", "suppression_reason"]
    ]
    bsol = demo[demo["area"] == BSOL][["group", "share"]].rename(columns={"share": "bsol_share"})
    out = own.merge(bsol, on="group", how="left")
    return out.sort_values("group", key=_group_order).reset_index(drop=True)


def definitions_table(meta: pd.DataFrame) -> pd.DataFrame:
    """Indicator definitions for the Definitions section, with caveats and England's figure.

    Caveats come from the registry (a derived ``_DSR``/``_RVE``/``_ISR`` row takes its base
    indicator's); the England column gives the published figure, its period and source, or
    why none is shown. Internal indicator ids are replaced by titles.

    Examples:
        >>> m = pd.DataFrame({"indicator_id": ["SCR_BOWEL"], "title": ["Bowel screening"],
        ...     "definition": ["People screened"], "polarity": ["higher is better"],
        ...     "unit": ["%"]})
        >>> d = definitions_table(m)
        >>> d.columns.tolist()
        ['Indicator', 'Definition', 'Judgement', 'Unit', 'Caveats', 'England figure']
        >>> d["England figure"].item()[:14]
        '72.0 (2022/23)'
    """
    judgement = {
        "higher is better": "higher is better",
        "lower is better": "lower is better",
        "no judgement": "no judgement: shown as higher or lower",
    }
    base = base_ids(meta["indicator_id"])
    caveats, england = [], []
    eng = england_comparators(meta["indicator_id"]).set_index("indicator_id")
    for ind, root in zip(meta["indicator_id"], base, strict=True):
        if ind == "LE_SII":
            caveats.append("")
            (m, period), (f, _) = england_reference(ind, "M"), england_reference(ind, "F")
            england.append(
                f"England {period}: males {m:.1f}, females {f:.1f} years (OHID Fingertips 92901)."
                if np.isfinite(m)
                else f"{NO_ENGLAND}."
            )
            continue
        try:
            info = get_indicator(root)
        except BsolError:
            caveats.append("")
            england.append(f"{NO_ENGLAND}.")
            continue
        caveats.append(_plain(info.caveats.replace(_NO_ENGLAND_CAVEAT, "")))
        row = eng.loc[ind]
        if ind != root:
            england.append(f"{NO_ENGLAND}: England does not publish this standardised value.")
        elif pd.notna(row["england_value"]):
            note = f" {info.england_note}" if info.england_note else ""
            england.append(_plain(f"{row['england_text']}: {row['england_source']}.{note}"))
        else:
            england.append(_plain(info.england_note) or f"{NO_ENGLAND}.")
    return pd.DataFrame(
        {
            "Indicator": meta["title"].to_numpy(),
            "Definition": [reader_text(d) for d in meta["definition"]],
            "Judgement": meta["polarity"].map(judgement).fillna("not stated").to_numpy(),
            "Unit": meta["unit"].fillna("").to_numpy(),
            "Caveats": caveats,
            "England figure": england,
        }
    )


_NO_ENGLAND_CAVEAT = "No published England figure matches this definition, so none is shown."


def _plain(text: str) -> str:
    """Reader text without internal ids or reference-file paths."""
    text = re.sub(r"\s*\(data/raw[^)]*\)", "", reader_text(text))
    text = re.sub(r";?\s*data/raw/[^\s);]+", "", text)
    return re.sub(r"\s+", " ", text).replace(" .", ".").strip()


def reader_text(text: str) -> str:
    """Text for readers: internal indicator ids replaced by their short titles.

    Examples:
        >>> reader_text("As for HYP_BP_TARGET, the reading is the latest.")
        'As for BP to target, the reading is the latest.'
    """
    titles = {info.id: info.short_title for info in list_indicators()}

    def title(match: re.Match[str]) -> str:
        word = match.group(0)
        return str(titles.get(word, titles.get(re.sub(DERIVED_PATTERN, "", word), word)))

    return _ID_PATTERN.sub(title, str(text or ""))


_ID_PATTERN = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def _family_meta(data: PackData, family: str) -> pd.DataFrame:
    return data.meta[data.meta["family"] == family].reset_index(drop=True)


def _comparator_value(data: PackData, area: str, indicator_id: str, name: str) -> float:
    comps = comparator_values(data, area)
    col = f"{name}_value"
    row = comps[comps["indicator_id"] == indicator_id]
    if area == name:
        own = at_a_glance(data, area)
        hit = own.loc[own["indicator_id"] == indicator_id, "value"]
        return float(hit.iloc[0]) if len(hit) else float("nan")
    return float(row[col].iloc[0]) if len(row) and col in row else float("nan")


# --------------------------------------------------------------------------------------
# Version 2 sections: England figures, skipped indicators, diabetes type, life expectancy
# --------------------------------------------------------------------------------------

#: Text shown where no published England figure exists for an indicator.
NO_ENGLAND = "no published England figure"
#: Groups of the ``diabetes_type`` breakdown compared in the diabetes section.
DIABETES_TYPES: tuple[str, str] = ("Type 1", "Type 2")
_ENGLAND_CODE = "E92000001"
_SEX_WORD = SEX_LABELS


def _le_england(indicator_id: str, sex: str) -> tuple[float, str]:
    """England LE_BIRTH or LE_SII for one sex, latest period with both figures published."""
    le = reference.life_expectancy_comparators()
    le = le[(le["area_code"] == _ENGLAND_CODE) & (le["sex"] == sex)]
    # The life-expectancy file's newest period is flagged for checking at source: use the
    # latest period that also has a published slope index.
    latest = le.loc[le["indicator"] == "LE_SII", "period"].max()
    rows = le[(le["indicator"] == indicator_id) & (le["period"] <= latest)]
    if rows.empty:
        return float("nan"), NO_ENGLAND
    row = rows.sort_values("period").iloc[-1]
    return float(row["value"]), str(row["period"])


def england_reference(indicator_id: str, sex: str | None = None) -> tuple[float, str]:
    """England's published figure for an indicator and its period, where one exists.

    Life expectancy (``LE_BIRTH``) and its slope index (``LE_SII``) come by sex from
    :func:`bsol_analytics.reference.life_expectancy_comparators`; other indicators from the
    registry's England value and year (sourced from ``data/raw``).

    Args:
        indicator_id: an indicator id (``_DSR``/``_RVE`` ids have no England figure).
        sex: ``"F"`` or ``"M"`` for life expectancy.

    Returns:
        ``(value, period)``, or ``(nan, NO_ENGLAND)`` where none is published.

    Examples:
        >>> england_reference("LE_BIRTH", "M")
        (79.5, '2022-24')
        >>> england_reference("ACSC_EMERG")
        (nan, 'no published England figure')
    """
    try:
        if indicator_id in ("LE_BIRTH", "LE_SII"):
            return _le_england(indicator_id, sex or "F")
        info = get_indicator(indicator_id)
    except (BsolError, OSError, KeyError):
        return float("nan"), NO_ENGLAND
    if info.england_value is None or not info.england_year:
        return float("nan"), NO_ENGLAND
    return float(info.england_value), str(info.england_year)


def skipped_indicators(data: PackData, family: str | None = None) -> pd.DataFrame:
    """Indicators the run could not compute because their inputs were absent, with why.

    Read from ``pack_meta.json``'s ``skipped`` (``{id: reason}``, written by
    :func:`bsol_analytics.packs.compute_tables`), titles and families from the registry.

    Returns:
        A new frame: ``indicator_id``, ``title``, ``family``, ``reason`` (registry order).

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> data.info["skipped"] = {"CVD_LLT": "the extract has no medications table"}
        >>> skipped_indicators(data)[["indicator_id", "family"]].values.tolist()
        [['CVD_LLT', 'cardiovascular']]
        >>> data.info.pop("skipped") and None
    """
    skipped = data.info.get("skipped") or {}
    cols = ["indicator_id", "title", "family", "reason"]
    if not skipped:
        return pd.DataFrame({c: pd.Series(dtype=str) for c in cols})
    reg = registry_frame()[["id", "title", "family"]].rename(columns={"id": "indicator_id"})
    frame = pd.DataFrame({"indicator_id": list(skipped), "reason": list(skipped.values())})
    out = frame.merge(reg, on="indicator_id", how="left")
    out["title"] = out["title"].fillna(out["indicator_id"])
    out["family"] = out["family"].fillna(out["indicator_id"].map(family_of))
    order = {i: n for n, i in enumerate(reg["indicator_id"])}
    out = out.assign(_o=out["indicator_id"].map(order)).sort_values("_o", na_position="last")
    if family is not None:
        out = out[out["family"] == family]
    return out[cols].reset_index(drop=True)


def type_rows(data: PackData, area: str, indicator_ids: Sequence[str]) -> pd.DataFrame:
    """Type 1 and type 2 diabetes rows of several indicators for ``area`` (latest date).

    Returns:
        A new frame: ``indicator_id``, ``title``, ``group`` (``Type 1``/``Type 2``) and the
        cell columns; empty when the tables have no ``diabetes_type`` breakdown.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> list(type_rows(demo_pack(), "East", ["DM_3TT"]).columns)[:3]
        ['indicator_id', 'title', 'group']
    """
    rows = _rows_of(data, area, "diabetes_type")
    rows = rows[rows["indicator_id"].isin(list(indicator_ids)) & rows["group"].isin(DIABETES_TYPES)]
    rows = _one_row_per_cell(rows, ["indicator_id", "group"])
    titles = data.meta.set_index("indicator_id")["title"]
    rows = rows.assign(title=rows["indicator_id"].map(titles).fillna(rows["indicator_id"]))
    order = {i: n for n, i in enumerate(indicator_ids)}
    rows = rows.assign(_o=rows["indicator_id"].map(order)).sort_values(["_o", "group"])
    return rows[["indicator_id", "title", "group", *CELL_COLUMNS]].reset_index(drop=True)


def type_gap(rows: pd.DataFrame) -> dict[str, float | bool | None]:
    """Type 1 minus type 2 for one indicator, and whether their 95% intervals overlap.

    Args:
        rows: :func:`type_rows` of one indicator.

    Returns:
        ``{"type1", "type2", "gap", "overlap"}``; ``gap`` NaN and ``overlap`` None when
        either group is missing or suppressed.

    Examples:
        >>> r = pd.DataFrame({"group": ["Type 1", "Type 2"], "value": [30.0, 60.0],
        ...     "lower": [25.0, 58.0], "upper": [35.0, 62.0], "suppressed": [False, False]})
        >>> type_gap(r)
        {'type1': 30.0, 'type2': 60.0, 'gap': -30.0, 'overlap': False}
    """
    shown = rows[~rows["suppressed"].astype(bool) & rows["value"].notna()]
    one = shown[shown["group"] == DIABETES_TYPES[0]]
    two = shown[shown["group"] == DIABETES_TYPES[1]]
    if one.empty or two.empty:
        return {"type1": float("nan"), "type2": float("nan"), "gap": float("nan"), "overlap": None}
    a, b = one.iloc[0], two.iloc[0]
    overlap = bool(a["lower"] <= b["upper"] and b["lower"] <= a["upper"])
    return {
        "type1": float(a["value"]),
        "type2": float(b["value"]),
        "gap": float(a["value"]) - float(b["value"]),
        "overlap": overlap,
    }


def life_expectancy_by_sex(data: PackData, area: str) -> pd.DataFrame:
    """Life expectancy at birth by sex for ``area``, BSOL and England.

    The area and BSOL come from the ``LE_BIRTH`` rows of breakdown ``sex``; England from
    :func:`england_reference` with its period. A value the size rule refuses has no value
    and says why in ``suppression_reason``.

    Returns:
        A new frame: ``area``, ``sex`` (``Female``/``Male``), ``period``, the cell columns
        and ``method`` (which ends ``not computable: <reason>`` where the rule failed).

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> le = life_expectancy_by_sex(demo_pack(), "East")
        >>> le.loc[le["area"] == "England", "period"].unique().tolist()
        ['2022-24']
    """
    parts = []
    for name in dict.fromkeys([area, BSOL]):
        rows = _rows_of(data, name, "sex", "LE_BIRTH")
        rows = _one_row_per_cell(rows[rows["group"].isin(list(_SEX_WORD.values()))], ["group"])
        parts.append(rows.assign(area=name, sex=rows["group"], period="3 years to reporting date"))
    eng = []
    for code, word in _SEX_WORD.items():
        value, period = england_reference("LE_BIRTH", code)
        eng.append({"area": "England", "sex": word, "period": period, "value": value})
    england = pd.DataFrame(eng).assign(
        lower=np.nan,
        upper=np.nan,
        numerator=np.nan,
        denominator=np.nan,
        suppressed=False,
        suppression_reason=None,
    )
    cols = ["area", "sex", "period", *CELL_COLUMNS, "method"]
    parts = [p if "method" in p else p.assign(method="") for p in parts]
    england = england.assign(method="published")
    out = pd.concat([*(p[cols] for p in parts), england[cols]], ignore_index=True)
    return out.sort_values("sex", kind="stable").reset_index(drop=True)


def life_expectancy_by_decile(data: PackData, area: str) -> pd.DataFrame:
    """Life expectancy at birth by IMD decile and sex for ``area`` (latest date).

    Reads ``LE_BIRTH`` rows of the ``imd_decile*sex`` (or ``sex*imd_decile``) breakdown.

    Returns:
        A new frame: ``sex``, ``group`` (the decile label) and the cell columns, deciles in
        order within each sex; empty when the tables have none.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> list(life_expectancy_by_decile(demo_pack(), "East").columns)[:2]
        ['sex', 'group']
    """
    parts = []
    for breakdown, decile_first in (("imd_decile*sex", True), ("sex*imd_decile", False)):
        rows = _rows_of(data, area, breakdown, "LE_BIRTH")
        split = rows["group"].astype(str).str.split(r"\s*[×*|,]\s*", n=1, expand=True, regex=True)
        if rows.empty or split.shape[1] < 2:
            continue
        decile, sex = (split[0], split[1]) if decile_first else (split[1], split[0])
        parts.append(rows.assign(sex=sex, group=decile))
    cols = ["sex", "group", *CELL_COLUMNS]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    out = _one_row_per_cell(pd.concat(parts, ignore_index=True), ["sex", "group"])
    out = out.assign(_o=_group_order(out["group"])).sort_values(["sex", "_o"])
    return out[cols].reset_index(drop=True)


def life_expectancy_sii(data: PackData, area: str) -> pd.DataFrame:
    """The slope index of inequality in life expectancy by sex for ``area`` (years).

    Reads ``LE_SII`` rows of breakdown ``sex`` (the gap in years between the least and
    most deprived ends, by IMD decile).

    Returns:
        A new frame: ``sex`` and the cell columns; empty when the tables have none.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> life_expectancy_sii(demo_pack(), "BSOL")["sex"].tolist()
        ['Female', 'Male']
    """
    rows = _rows_of(data, area, "sex", "LE_SII")
    rows = _one_row_per_cell(rows[rows["group"].isin(list(_SEX_WORD.values()))], ["group"])
    return rows.assign(sex=rows["group"])[["sex", *CELL_COLUMNS]].reset_index(drop=True)


__all__ = [
    "DIABETES_TYPES",
    "NOT_ENOUGH",
    "NOT_TESTED",
    "NO_ENGLAND",
    "RECENT_TREND_QUARTERS",
    "areas_side_by_side",
    "at_a_glance",
    "breakdown_rows",
    "comparator_values",
    "cross_matrix",
    "definitions_table",
    "demography_mix",
    "england_comparators",
    "england_comparison",
    "england_reference",
    "family_of",
    "funnel_points",
    "life_expectancy_by_decile",
    "life_expectancy_by_sex",
    "life_expectancy_sii",
    "no_comparison_reasons",
    "population_pyramid",
    "reader_text",
    "recent_trends",
    "registered_total",
    "series_rows",
    "skipped_indicators",
    "trend_direction",
    "type_gap",
    "type_rows",
]
