"""Building blocks of the locality packs: tables, headlines in words, accessible HTML.

Load the pack tables, pick what a section shows, write its headline and emit the HTML.

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

import base64
import datetime as dt
import functools
import html
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics.breakdowns import TIDY_COLUMNS
from bsol_analytics.errors import BsolError
from bsol_analytics.stats import STAT_COLUMNS

#: The six localities, in the order packs list them.
LOCALITIES: tuple[str, ...] = ("Central", "East", "North", "South", "West", "Solihull")
#: The name of the whole-system pack and area.
BSOL = "BSOL"
#: Indicator families, in pack order, with their section titles.
FAMILIES: dict[str, str] = {
    "hypertension": "Hypertension",
    "diabetes": "Diabetes",
    "copd": "COPD",
    "end_of_life": "End of life",
    "screening": "Cancer screening",
}
#: The confidence level shown in packs.
CONFIDENCE = 0.95

#: What a pack shows of one cell: its statistic (from the statistic columns) and suppression.
CELL_COLUMNS: tuple[str, ...] = (
    *(c for c in STAT_COLUMNS if c in ("value", "lower", "upper", "numerator", "denominator")),
    "suppressed",
    "suppression_reason",
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


class PackDataError(BsolError):
    """The pack tables are missing or do not have the expected shape.

    Examples:
        >>> load_pack("/no/such/tables")
        Traceback (most recent call last):
        ...
        bsol_analytics.report.PackDataError: The pack tables folder /no/such/tables lacks ...
    """


# --------------------------------------------------------------------------------------
# Number formatting
# --------------------------------------------------------------------------------------


def fmt_number(value: float | None, decimals: int = 1) -> str:
    """Format a statistic for display: fixed decimals, thousands separators, dash if missing.

    Examples:
        >>> fmt_number(12345.678)
        '12,345.7'
        >>> fmt_number(None), fmt_number(float("nan"))
        ('-', '-')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "-"
    return f"{float(value):,.{decimals}f}"


def fmt_count(value: float | None) -> str:
    """Format a count with thousands separators.

    Examples:
        >>> fmt_count(1234567)
        '1,234,567'
        >>> fmt_count(None)
        '-'
    """
    if value is None or pd.isna(value):
        return "-"
    return f"{round(float(value)):,}"


def fmt_cell(value: float | None, suppressed: bool, reason: str | None, decimals: int = 1) -> str:
    """Format one statistic, showing "suppressed" with its reason instead of a number.

    Examples:
        >>> fmt_cell(3.0, True, "fewer than 10 patients")
        'suppressed (fewer than 10 patients)'
        >>> fmt_cell(12.345, False, None)
        '12.3'
    """
    if suppressed:
        return f"suppressed ({reason})" if reason else "suppressed"
    return fmt_number(value, decimals)


def fmt_column(
    frame: pd.DataFrame, column: str = "value", decimals: int = 1, reason: bool = True
) -> list[str]:
    """Format one column of statistic rows; suppressed rows say so (with the reason).

    Args:
        frame: rows with ``column``, ``suppressed`` and ``suppression_reason``.
        column: the column to format.
        decimals: decimals shown (0 for counts).
        reason: add the suppression reason in brackets.

    Returns:
        One string per row, in the frame's order.

    Examples:
        >>> rows = pd.DataFrame({"value": [12.34, 3.0], "suppressed": [False, True],
        ...     "suppression_reason": [None, "count 1-9"]})
        >>> fmt_column(rows)
        ['12.3', 'suppressed (count 1-9)']
        >>> fmt_column(rows, reason=False)
        ['12.3', 'suppressed']
    """
    sup = frame["suppressed"].astype(bool).to_numpy()
    text = frame[column].map(lambda v: fmt_number(v, decimals)).to_numpy(dtype=object)
    why = frame["suppression_reason"] if reason else pd.Series(None, index=frame.index)
    label = [f"suppressed ({r})" if isinstance(r, str) and r else "suppressed" for r in why]
    return np.where(sup, np.asarray(label, dtype=object), text).tolist()


def fmt_date(value: Any) -> str:
    """Format a date as "31 March 2025".

    Examples:
        >>> fmt_date("2025-03-31")
        '31 March 2025'
    """
    day = pd.Timestamp(value)
    return f"{day.day} {day.strftime('%B %Y')}"


def slug(text: str) -> str:
    """Make an HTML id from a heading.

    Examples:
        >>> slug("Who lives here?")
        'who-lives-here'
    """
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


@dataclass
class PackData:
    """The tables one pack is built from (see the module docstring).

    Examples:
        >>> data = demo_pack()
        >>> data.reporting_date.date().isoformat(), data.info["view"]
        ('2025-03-31', 'practice')
    """

    indicators: pd.DataFrame
    meta: pd.DataFrame
    population: pd.DataFrame
    demography: pd.DataFrame
    practices: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    sii: pd.DataFrame = field(default_factory=pd.DataFrame)
    wards: pd.DataFrame = field(default_factory=pd.DataFrame)
    _cache: dict[Any, pd.DataFrame] = field(default_factory=dict, repr=False)

    def cached(self, key: Any, build: Any) -> pd.DataFrame:
        """Return ``build()`` computed once per key (a copy, so callers may not alter it)."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key].copy()

    @property
    def reporting_date(self) -> pd.Timestamp:
        """The reporting date of the pack."""
        return pd.Timestamp(self.info["reporting_date"])


def load_pack(tables_dir: str | Path) -> PackData:
    """Read the pack tables written by :func:`bsol_analytics.packs.compute_tables`.

    Args:
        tables_dir: the folder holding the Parquet tables and ``pack_meta.json``.

    Returns:
        The tables, with the indicator frame restricted to the 95% confidence level.

    Raises:
        PackDataError: a table is missing or lacks a required column.

    Examples:
        >>> import tempfile
        >>> from bsol_analytics.packs import write_demo_tables
        >>> folder = write_demo_tables(tempfile.mkdtemp(), "2025-03-31", patients=2000)
        >>> data = load_pack(folder)
        >>> data.reporting_date.date().isoformat()
        '2025-03-31'
    """
    folder = Path(tables_dir)
    needed = [
        "indicators.parquet",
        "indicator_meta.parquet",
        "population.parquet",
        "demography.parquet",
        "practices.parquet",
        "pack_meta.json",
    ]
    missing = [n for n in needed if not (folder / n).exists()]
    if missing:
        raise PackDataError(
            f"The pack tables folder {folder} lacks {', '.join(missing)}. Run 'bsol packs' "
            "or give the notebook a data_dir to compute them."
        )
    ind = pd.read_parquet(folder / "indicators.parquet")
    absent = [c for c in TIDY_COLUMNS if c not in ind.columns]
    if absent:
        raise PackDataError(
            f"Table 'indicators', columns {', '.join(absent)}: the tidy indicator frame must "
            "have every column listed in docs/architecture.md."
        )
    ind = ind.assign(reporting_date=pd.to_datetime(ind["reporting_date"]))
    levels = ind["confidence"].dropna().unique()
    if len(levels) and (ind["confidence"] == CONFIDENCE).any():
        ind = ind[ind["confidence"].isna() | (ind["confidence"] == CONFIDENCE)]
    info = json.loads((folder / "pack_meta.json").read_text())
    return PackData(
        indicators=ind.reset_index(drop=True),
        meta=pd.read_parquet(folder / "indicator_meta.parquet"),
        population=pd.read_parquet(folder / "population.parquet"),
        demography=pd.read_parquet(folder / "demography.parquet"),
        practices=pd.read_parquet(folder / "practices.parquet"),
        info=info,
        wards=pd.read_parquet(folder / "wards.parquet")
        if (folder / "wards.parquet").exists()
        else pd.DataFrame(columns=["indicator_id", "ward_code", "value", "suppressed"]),
        sii=pd.read_parquet(folder / "sii.parquet")
        if (folder / "sii.parquet").exists()
        else pd.DataFrame(columns=["indicator_id", "area", "value", "lower", "upper"]),
    )


@functools.lru_cache(maxsize=4)
def demo_pack(patients: int = 2000, reporting_date: str = "2025-03-31") -> PackData:
    """Small invented pack tables, loaded (cached): for examples and trying the charts.

    Examples:
        >>> demo_pack().info["demo"]
        True
    """
    import tempfile

    from bsol_analytics.packs import write_demo_tables

    folder = Path(tempfile.mkdtemp(prefix="bsol-demo-")) / "tables"
    return load_pack(write_demo_tables(folder, reporting_date, patients=patients))


def family_of(indicator_id: str) -> str:
    """Guess an indicator's family from its id prefix (used when the registry has none).

    Examples:
        >>> family_of("HYP_PREV"), family_of("SCR_BOWEL"), family_of("XYZ")
        ('hypertension', 'screening', 'other')
    """
    return _PREFIX_FAMILY.get(indicator_id.split("_")[0].upper(), "other")


# --------------------------------------------------------------------------------------
# Selections
# --------------------------------------------------------------------------------------


def _area_type(area: str) -> str:
    return "BSOL" if area == BSOL else "locality"


def _area_rows(
    frame: pd.DataFrame, area: str, breakdown: str = "overall", indicator_id: str | None = None
) -> pd.DataFrame:
    """Rows of one area (BSOL or a locality) and breakdown, optionally of one indicator."""
    pick = (
        (frame["area"] == area)
        & (frame["area_type"] == _area_type(area))
        & (frame["breakdown"] == breakdown)
    )
    if indicator_id is not None:
        pick &= frame["indicator_id"] == indicator_id
    return frame[pick]


def _latest(data: PackData) -> pd.DataFrame:
    ind = data.indicators
    return ind[ind["reporting_date"] == data.reporting_date]


def _one_row_per_cell(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Keep one row per cell (the first comparator) so values are not duplicated."""
    return frame.drop_duplicates(list(keys), keep="first")


def comparator_values(data: PackData, area: str) -> pd.DataFrame:
    """Comparator value and comparison of ``area`` for every indicator, one column each.

    Returns:
        A new frame: ``indicator_id`` and, for each comparator name in the frame (e.g.
        ``BSOL``, ``England``), ``<name>_value`` and ``<name>_comparison``.

    Examples:
        >>> data = demo_pack()
        >>> sorted(comparator_values(data, "East").columns)
        ['BSOL_comparison', 'BSOL_value', 'indicator_id']
    """
    return data.cached(("comparators", area), lambda: _comparator_values(data, area))


def _comparator_values(data: PackData, area: str) -> pd.DataFrame:
    rows = _area_rows(_latest(data), area)
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


def at_a_glance(data: PackData, area: str) -> pd.DataFrame:
    """Every indicator for ``area`` with its comparators, comparison and trend.

    Returns:
        A new frame, one row per indicator in registry order: ``indicator_id``, ``title``,
        ``family``, ``polarity``, ``value``, ``lower``, ``upper``, ``numerator``,
        ``denominator``, ``suppressed``, ``suppression_reason``, ``BSOL``, ``England``
        (comparator values, NaN where absent), ``comparison`` (against BSOL for a
        locality, England for BSOL) and ``trend``.

    Examples:
        >>> data = demo_pack()
        >>> g = at_a_glance(data, "East")
        >>> set(g["comparison"]) <= {"better", "similar", "worse", "higher", "lower",
        ...     "not compared"}
        True
    """
    return data.cached(("glance", area), lambda: _at_a_glance(data, area))


def _at_a_glance(data: PackData, area: str) -> pd.DataFrame:
    own = _one_row_per_cell(_area_rows(_latest(data), area), ["indicator_id"])
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
    main = "England" if area == BSOL else "BSOL"
    for name in ("BSOL", "England"):
        out[name] = out.get(f"{name}_value", pd.Series(np.nan, index=out.index))
    out["England"] = out["England"].fillna(out["england_value"])
    if area == BSOL:
        out["BSOL"] = out["value"]
    comparison = out.get(f"{main}_comparison", pd.Series(pd.NA, index=out.index))
    out["comparison"] = comparison.fillna("not compared").astype(str)
    out.loc[out["suppressed"].astype(bool), "comparison"] = "not compared"
    series = _one_row_per_cell(
        _area_rows(data.indicators, area), ["indicator_id", "reporting_date"]
    )
    trends = {k: trend_direction(g) for k, g in series.groupby("indicator_id", sort=False)}
    out["trend"] = out["indicator_id"].map(trends).fillna("not enough data")
    keep = [c for c in out.columns if not c.endswith(("_value", "_comparison"))]
    keep = [c for c in keep if c != "england_value"]
    return out[keep].reset_index(drop=True)


def breakdown_rows(data: PackData, area: str, indicator_id: str, breakdown: str) -> pd.DataFrame:
    """The latest rows of one indicator for ``area`` split by ``breakdown``.

    Returns:
        A new frame with ``group``, ``value``, ``lower``, ``upper``, ``numerator``,
        ``denominator``, ``suppressed``, ``suppression_reason``; groups in natural order.

    Examples:
        >>> data = demo_pack()
        >>> breakdown_rows(data, "East", "HYP_PREV", "imd_quintile")["group"].iloc[0]
        'Q1 (most deprived)'
    """
    rows = _area_rows(_latest(data), area, breakdown, indicator_id)
    rows = _one_row_per_cell(rows, ["group"])
    cols = ["group", *CELL_COLUMNS]
    return rows[cols].sort_values("group", key=_group_order).reset_index(drop=True)


def _group_order(groups: pd.Series) -> pd.Series:
    ethnic = {"Asian": 0, "Black": 1, "Mixed": 2, "White": 3, "Other": 4, "Unknown": 5}
    first = groups.astype(str).str.extract(r"(\d+)", expand=False).astype(float)
    return first.fillna(groups.map(ethnic).astype(float)).fillna(99)


def cross_matrix(data: PackData, area: str, indicator_id: str) -> pd.DataFrame:
    """IMD quintile × broad ethnic group matrix of one indicator for ``area``.

    Returns:
        A new long frame with ``imd_quintile``, ``ethnicity_broad``, ``value``, ``lower``,
        ``upper``, ``numerator``, ``denominator``, ``suppressed``, ``suppression_reason``.

    Examples:
        >>> data = demo_pack()
        >>> cross_matrix(data, "East", "HYP_PREV")["imd_quintile"].nunique()
        5
    """
    rows = breakdown_rows(data, area, indicator_id, "imd_quintile*ethnicity_broad")
    parts = rows["group"].str.split(r"\s*[×*|,]\s*", n=1, expand=True, regex=True)
    if parts.shape[1] < 2:
        parts[1] = None
    out = rows.drop(columns="group").assign(imd_quintile=parts[0], ethnicity_broad=parts[1])
    return out[["imd_quintile", "ethnicity_broad", *[c for c in rows.columns if c != "group"]]]


def series_rows(data: PackData, areas: Iterable[str], indicator_id: str) -> pd.DataFrame:
    """Quarterly overall values of one indicator for several areas.

    Examples:
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


# --------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------

_COMPARISON_WORDS = {
    "better": "is better in {area} than {comp}",
    "worse": "is worse in {area} than {comp}",
    "similar": "is similar in {area} to {comp}",
    "higher": "is higher in {area} than {comp}",
    "lower": "is lower in {area} than {comp}",
}


def _comp_name(name: str) -> str:
    return "across BSOL" if name == BSOL else name


def comparison_sentence(title: str, area: str, comparison: str, comparator: str) -> str:
    """One sentence stating how an area compares with its comparator.

    Examples:
        >>> comparison_sentence("Hypertension prevalence", "East", "lower", "BSOL")
        'Hypertension prevalence is lower in East than across BSOL.'
        >>> comparison_sentence("Bowel screening", "East", "not compared", "BSOL")
        'Bowel screening in East could not be compared with across BSOL.'
    """
    words = _COMPARISON_WORDS.get(comparison)
    if words is None:
        return f"{title} in {area} could not be compared with {_comp_name(comparator)}."
    return f"{title} {words.format(area=area, comp=_comp_name(comparator))}."


def glance_headline(glance: pd.DataFrame, area: str) -> str:
    """Headline of the at-a-glance summary: how many indicators are better, worse, similar.

    Examples:
        >>> g = pd.DataFrame({"comparison": ["better", "worse", "worse", "similar"]})
        >>> glance_headline(g, "East")
        'East is worse than BSOL on 2 of 4 indicators, better on 1 and similar on 1.'
        >>> g = pd.DataFrame({"comparison": ["worse", "higher", "lower", "not compared"]})
        >>> glance_headline(g, "East")
        'East is worse than BSOL on 1 of 4 indicators, better on 0 and similar on 0; 2 are higher or lower where neither direction is better, and 1 cannot be compared.'
    """  # noqa: E501
    comp = "England" if area == BSOL else "BSOL"
    counts = glance["comparison"].value_counts()
    n = len(glance)
    worse, better, similar = (int(counts.get(k, 0)) for k in ("worse", "better", "similar"))
    differ = int(counts.get("higher", 0) + counts.get("lower", 0))
    other = n - worse - better - similar - differ
    extra = []
    if differ:
        verb = "is" if differ == 1 else "are"
        extra.append(f"{differ} {verb} higher or lower where neither direction is better")
    if other:
        extra.append(f"{other} cannot be compared")
    tail = ("; " + ", and ".join(extra)) if extra else ""
    return (
        f"{area} is worse than {comp} on {worse} of {n} indicators, better on {better} "
        f"and similar on {similar}{tail}."
    )


def breakdown_headline(title: str, rows: pd.DataFrame, label: str) -> str:
    """Headline naming the highest and lowest groups of a breakdown (unsuppressed only).

    Examples:
        >>> rows = pd.DataFrame({"group": ["Asian", "White", "Black"],
        ...     "value": [20.0, 15.0, 30.0], "suppressed": [False, False, True]})
        >>> breakdown_headline("Hypertension prevalence", rows, "ethnic group")
        'Hypertension prevalence is highest in the Asian ethnic group (20.0) and lowest in the White ethnic group (15.0).'
        >>> rows = rows.assign(group=["Q1 (most deprived)", "Q3", "Q5 (least deprived)"])
        >>> breakdown_headline("Hypertension prevalence", rows, "deprivation quintile")
        'Hypertension prevalence is highest in Q1, the most deprived quintile (20.0) and lowest in Q3 (15.0).'
    """  # noqa: E501
    shown = rows[
        ~rows["suppressed"].astype(bool) & rows["value"].notna() & (rows["group"] != "Unknown")
    ]
    if len(shown) < 2:
        return f"{title} by {label}: too few groups can be shown after disclosure control."
    hi = shown.loc[shown["value"].idxmax()]
    lo = shown.loc[shown["value"].idxmin()]

    def name(group: str) -> str:
        # "Q1 (most deprived)" reads "Q1, the most deprived quintile"; "Asian" reads "the
        # Asian ethnic group"; other groups (areas) are named as they are.
        ends = re.fullmatch(r"([QD])(\d+) \((.+)\)", group)
        if ends:
            kind = "quintile" if ends[1] == "Q" else "decile"
            return f"{ends[1]}{ends[2]}, the {ends[3]} {kind}"
        return f"the {group} {label}" if label and not re.match(r"[QD]\d", group) else group

    return (
        f"{title} is highest in {name(hi['group'])} ({fmt_number(hi['value'])}) and "
        f"lowest in {name(lo['group'])} ({fmt_number(lo['value'])})."
    )


def sii_sentence(title: str, area: str, sii: pd.Series | None, unit: str = "") -> str:
    """Explain the slope index of inequality in words.

    Args:
        title: indicator title.
        area: the area.
        sii: a row with ``value``, ``lower``, ``upper`` (or ``None`` when not computed).
        unit: unit appended to the numbers (e.g. ``"percentage points"``).

    Examples:
        >>> row = pd.Series({"value": -4.2, "lower": -6.1, "upper": -2.0})
        >>> sii_sentence("Hypertension prevalence", "East", row, "percentage points")
        'The slope index of inequality (SII) for Hypertension prevalence in East is -4.2 percentage points (95% CI -6.1 to -2.0). The SII is the modelled gap between the least and the most deprived ends of the population: here the value is higher among the most deprived, and the gap is statistically significant.'
    """  # noqa: E501
    if sii is None or pd.isna(sii.get("value")):
        return (
            f"The slope index of inequality for {title} in {area} could not be computed "
            "(too few deprivation quintiles can be shown)."
        )
    value, lower, upper = float(sii["value"]), float(sii["lower"]), float(sii["upper"])
    unit = f" {unit}" if unit else ""
    # SII is the modelled value at the least deprived end minus that at the most deprived.
    side = "most" if value < 0 else "least"
    sig = (
        "statistically significant"
        if (lower > 0 or upper < 0)
        else "not statistically significant (its interval includes zero)"
    )
    return (
        f"The slope index of inequality (SII) for {title} in {area} is "
        f"{fmt_number(value)}{unit} (95% CI {fmt_number(lower)} to {fmt_number(upper)}). "
        "The SII is the modelled gap between the least and the most deprived ends of the "
        f"population: here the value is higher among the {side} deprived, and the gap is {sig}."
    )


def trend_sentence(title: str, area: str, direction: str, first: Any, last: Any) -> str:
    """Headline of a trend chart.

    Examples:
        >>> trend_sentence("Hypertension prevalence", "East", "increasing",
        ...     "2024-06-30", "2025-03-31")
        'Hypertension prevalence in East has increased between 30 June 2024 and 31 March 2025.'
    """
    period = f"between {fmt_date(first)} and {fmt_date(last)}"
    verb = {
        "increasing": "has increased",
        "decreasing": "has decreased",
        "no significant change": "has not changed significantly",
    }.get(direction)
    if verb is None:
        return f"{title} in {area}: there are not enough quarters to show a trend."
    return f"{title} in {area} {verb} {period}."


def funnel_sentence(title: str, area: str, points: pd.DataFrame, limits: pd.DataFrame) -> str:
    """Headline of a funnel plot: how many practices lie outside the 99.8% limits.

    Args:
        title: indicator title.
        area: the area.
        points: practice rows with ``value``, ``denominator``, ``suppressed``.
        limits: :func:`bsol_analytics.stats.funnel_limits` output at 0.998.

    Examples:
        >>> pts = pd.DataFrame({"value": [10.0, 50.0], "denominator": [100, 100],
        ...     "suppressed": [False, False]})
        >>> lim = pd.DataFrame({"denominator": [100.0], "lower": [20.0], "upper": [40.0],
        ...     "confidence": [0.998]})
        >>> funnel_sentence("Hypertension control", "East", pts, lim)
        'In East, 1 practice is above and 1 below the 99.8% control limits for Hypertension control.'
    """  # noqa: E501
    above, below = outside_limits(points, limits)
    if above + below == 0:
        return f"In {area}, every practice shown is within the 99.8% control limits for {title}."
    practice = "practice is" if above == 1 else "practices are"
    return (
        f"In {area}, {above} {practice} above and {below} below the 99.8% control "
        f"limits for {title}."
    )


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


# --------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------


def figure_html(fig: Any, alt: str, dpi: int = 96) -> str:
    """Embed a matplotlib figure as a base64 PNG ``<img>`` with alt text, and close it.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> figure_html(fig, "An empty chart").startswith('<img alt="An empty chart"')
        True
    """
    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    # A 256-colour palette keeps charts crisp at about a third of the size.
    buf.seek(0)
    small = io.BytesIO()
    Image.open(buf).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(
        small, format="PNG", compress_level=6
    )
    data = base64.b64encode(small.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'


def table_html(frame: pd.DataFrame, caption: str, row_header: bool = True) -> str:
    """An accessible HTML table: caption, ``th scope="col"`` headers, row headers.

    Cells are escaped; the first column is a row header (``th scope="row"``) when
    ``row_header`` is true.

    Examples:
        >>> t = table_html(pd.DataFrame({"Group": ["A"], "Value": ["1.0"]}), "Demo")
        >>> '<th scope="col">Value</th>' in t and '<th scope="row">A</th>' in t
        True
    """
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in frame.columns)
    body = []
    for row in frame.astype(str).itertuples(index=False):
        cells = []
        for i, cell in enumerate(row):
            text = html.escape(cell)
            cells.append(
                f'<th scope="row">{text}</th>' if (i == 0 and row_header) else f"<td>{text}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="data"><caption>{html.escape(caption)}</caption>'
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


def fmt_ci(rows: pd.DataFrame, decimals: int = 1) -> list[str]:
    """Format 95% confidence intervals as "lower to upper" ("suppressed" where suppressed).

    Examples:
        >>> rows = pd.DataFrame({"lower": [1.0, 2.0], "upper": [3.0, 4.0],
        ...     "suppressed": [False, True], "suppression_reason": [None, "count 1-9"]})
        >>> fmt_ci(rows)
        ['1.0 to 3.0', 'suppressed']
    """
    text = [
        f"{fmt_number(lo, decimals)} to {fmt_number(hi, decimals)}"
        for lo, hi in zip(rows["lower"], rows["upper"], strict=True)
    ]
    return np.where(rows["suppressed"].astype(bool).to_numpy(), "suppressed", text).tolist()


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

    Examples:
        >>> out = section_html("Trend", "It went up.", None, pd.DataFrame({"a": ["1"]}), "Data")
        >>> "<details><summary>Show the data: Data</summary>" in out
        True
    """
    parts = [f'<section class="pack-section" aria-labelledby="{slug(title)}">']
    parts.append(heading_html(title, level))
    parts.append(f'<p class="headline">{html.escape(headline)}</p>')
    if figure:
        parts.append(f"<figure>{figure}<figcaption>{html.escape(headline)}</figcaption></figure>")
    parts.extend(f"<p>{html.escape(n)}</p>" for n in notes)
    if table is not None:
        parts.append(
            f"<details><summary>Show the data: {html.escape(caption)}</summary>"
            f"{table_html(table, caption)}</details>"
        )
    parts.append("</section>")
    return "".join(parts)


def show(markup: str) -> None:
    """Display HTML in the notebook (the converted pack keeps it as is).

    Examples:
        >>> show("<p>hello</p>")
        <IPython.core.display.HTML object>
    """
    from IPython.display import HTML, display

    display(HTML(markup))


def definitions_table(meta: pd.DataFrame) -> pd.DataFrame:
    """Indicator definitions for the Definitions section.

    Examples:
        >>> m = pd.DataFrame({"indicator_id": ["HYP_PREV"], "title": ["Hypertension"],
        ...     "definition": ["Patients on the register"], "polarity": ["no judgement"],
        ...     "unit": ["%"]})
        >>> definitions_table(m).columns.tolist()
        ['Indicator', 'Id', 'Definition', 'Judgement', 'Unit']
    """
    judgement = {
        "higher is better": "higher is better",
        "lower is better": "lower is better",
        "no judgement": "no judgement: shown as higher or lower",
    }
    return pd.DataFrame(
        {
            "Indicator": meta["title"].to_numpy(),
            "Id": meta["indicator_id"].to_numpy(),
            "Definition": meta["definition"].to_numpy(),
            "Judgement": meta["polarity"].map(judgement).fillna("not stated").to_numpy(),
            "Unit": meta["unit"].fillna("").to_numpy(),
        }
    )


def run_stamp() -> str:
    """Version of the suite and the time the pack was built (UTC).

    Examples:
        >>> run_stamp().startswith("bsol_analytics ")
        True
    """
    from bsol_analytics import __version__

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"bsol_analytics {__version__}, built {now}"


# --------------------------------------------------------------------------------------
# Sections (what the notebook shows)
# --------------------------------------------------------------------------------------


def open_pack(
    tables_dir: str | Path | None,
    data_dir: str | Path | None,
    reporting_date: Any,
    view: str = "practice",
    imd: str = "2025",
    engine: str = "pandas",
) -> PackData:
    """Load the pack tables, computing them first when no ``tables_dir`` is given.

    Without ``tables_dir`` the tables are computed from ``data_dir`` (default
    ``data/processed``) into a temporary folder, so a notebook can run on its own.

    Raises:
        ParameterError: the tables are for another reporting date, view or IMD version.

    Examples:
        >>> import tempfile
        >>> from bsol_analytics.packs import write_demo_tables
        >>> folder = write_demo_tables(tempfile.mkdtemp(), "2025-03-31", patients=2000)
        >>> open_pack(folder, None, "2025-03-31").reporting_date.year
        2025
        >>> open_pack(folder, None, "2024-12-31")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: The pack tables in ... are for 31 March 2025, ...
    """
    import tempfile

    from bsol_analytics.errors import ParameterError
    from bsol_analytics.packs import compute_tables
    from bsol_analytics.paths import PROCESSED_DIR

    if tables_dir is None:
        folder = Path(tempfile.mkdtemp(prefix="bsol-pack-")) / "tables"
        tables_dir = compute_tables(
            data_dir or PROCESSED_DIR, folder, reporting_date, view, imd, engine
        )
    data = load_pack(tables_dir)
    want = pd.Timestamp(reporting_date)
    if data.reporting_date != want:
        raise ParameterError(
            f"The pack tables in {tables_dir} are for {fmt_date(data.reporting_date)}, not "
            f"{fmt_date(want)}: recompute them or change reporting_date."
        )
    for key, value in (("view", view), ("imd", str(imd))):
        if str(data.info.get(key, value)) != str(value):
            raise ParameterError(
                f"The pack tables in {tables_dir} use {key} {data.info[key]!r}, not {value!r}."
            )
    return data


def _pack_name(area: str) -> str:
    return "Birmingham and Solihull (BSOL)" if area == BSOL else f"{area} locality"


def title_html(data: PackData, area: str) -> str:
    """The pack's ``<h1>`` and opening paragraph.

    Examples:
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


def glance_section(data: PackData, area: str) -> str:
    """Section 1, At a glance: every indicator against BSOL and England, with trends.

    Examples:
        >>> data = demo_pack()
        >>> '<h2 id="at-a-glance">' in glance_section(data, "East")
        True
    """
    from bsol_analytics import plots

    glance = at_a_glance(data, area)
    fig, alt = plots.spine_chart(glance, area)
    table = pd.DataFrame(
        {
            "Indicator": glance["title"],
            area: fmt_column(glance),
            "95% CI": fmt_ci(glance),
            "BSOL": glance["BSOL"].map(fmt_number),
            "England": glance["England"].map(fmt_number),
            "Compared with " + ("England" if area == BSOL else "BSOL"): glance["comparison"],
            "Trend": glance["trend"],
        }
    )
    notes = [
        "Better and worse are judged only where higher or lower is clearly better; otherwise "
        "the pack says higher or lower. Similar means the 95% confidence interval includes "
        "the comparator. The trend compares the latest quarter with the earliest shown."
    ]
    return heading_html("At a glance", 2) + section_html(
        f"{area} compared with {'England' if area == BSOL else 'BSOL and England'}",
        glance_headline(glance, area),
        figure_html(fig, alt),
        table,
        f"Every indicator for {area}, {fmt_date(data.reporting_date)}",
        notes,
    )


def population_section(data: PackData, area: str) -> str:
    """Section 2, Who lives here: pyramid, deprivation and Core20, ethnicity, IMD map.

    Examples:
        >>> data = demo_pack()
        >>> section = population_section(data, "East")
        >>> section.count("<img alt=") >= 3
        True
    """
    from bsol_analytics import plots

    parts = [heading_html("Who lives here", 2)]
    pyr = population_pyramid(data, area)
    fig, alt = plots.pyramid(pyr[pyr["sex"].isin(["F", "M"])], area)
    total = registered_total(data, area)
    older = pyr[pyr["age_band"].isin(["65-69", "70-74", "75-79", "80-84", "85-89", "90+"])]
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
            )
        )
    parts.append(deprivation_map_section(data, area))
    return "".join(parts)


def deprivation_map_section(data: PackData, area: str) -> str:
    """Map of IMD quintile by LSOA 2021 for the area (reference data, no patient counts).

    Examples:
        >>> data = demo_pack()
        >>> "Map of" in deprivation_map_section(data, "Solihull")
        True
    """
    from bsol_analytics import plots, reference

    imd = str(data.info.get("imd", "2025"))
    shapes = reference.lsoa21_boundaries()
    if area != BSOL:
        shapes = shapes[shapes["locality"] == area]
    scores = reference.imd2025() if imd == "2025" else reference.imd2019_for_lsoa21()
    qcol = "imd_quintile" if "imd_quintile" in scores else scores.filter(like="quintile").columns[0]
    gdf = shapes.merge(scores[["lsoa21_code", qcol]], on="lsoa21_code", how="left")
    labels = {1: "Q1 (most deprived)", 2: "Q2", 3: "Q3", 4: "Q4", 5: "Q5 (least deprived)"}
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


def family_section(data: PackData, area: str, family: str) -> str:
    """Section 3 for one family: comparison, breakdowns with SII, matrix, trend, funnel.

    Returns an empty string when the family has no indicators in the tables.

    Examples:
        >>> data = demo_pack()
        >>> '<h2 id="copd">COPD</h2>' in family_section(data, "East", "copd")
        True
    """
    from bsol_analytics import plots
    from bsol_analytics.stats import funnel_limits

    meta = _family_meta(data, family)
    if meta.empty:
        return ""
    family_title = FAMILIES.get(family, family.replace("_", " ").title())
    parts = [heading_html(family_title, 2)]
    glance = at_a_glance(data, area)
    glance = glance[glance["family"] == family]
    derived = glance["derived"] if "derived" in glance else pd.Series("", index=glance.index)
    dsr = glance[derived == "DSR"]
    dsr = dsr.assign(indicator_id=dsr["indicator_id"].str.removesuffix("_DSR"))
    glance = glance[derived == ""].reset_index(drop=True)
    comp_name = "England" if area == BSOL else "BSOL"
    if len(glance):
        fig, alt = plots.spine_chart(glance, area)
        sentences = [
            comparison_sentence(t, area, c, comp_name)
            for t, c in zip(glance["title"], glance["comparison"], strict=True)
        ]
        table = pd.DataFrame(
            {
                "Indicator": glance["title"],
                area: [
                    fmt_cell(v, s, r)
                    for v, s, r in zip(
                        glance["value"],
                        glance["suppressed"],
                        glance["suppression_reason"],
                        strict=True,
                    )
                ],
                "BSOL": glance["BSOL"].map(fmt_number),
                "England": glance["England"].map(fmt_number),
                "Comparison": glance["comparison"],
                "Trend": glance["trend"],
            }
        )
        notes = sentences[1:]
        if len(dsr):
            aligned = glance[["indicator_id"]].merge(dsr, on="indicator_id", how="left")
            aligned = aligned.assign(suppressed=aligned["suppressed"].fillna(False))
            has = aligned["value"].notna() | aligned["suppressed"].astype(bool)
            std = np.where(has, fmt_column(aligned), "not computed")
            table.insert(2, f"{area}, age-standardised", std)
            shown = aligned[has & ~aligned["suppressed"].astype(bool)]
            if area == BSOL:
                notes += [
                    f"{t} in BSOL is {fmt_number(v)} per 100; the localities are compared below."
                    for t, v in zip(shown["title"], shown["value"], strict=True)
                ]
            else:
                notes += [
                    comparison_sentence(t, area, c, comp_name)[:-1]
                    + f" ({fmt_number(v)} against {fmt_number(b)} per 100)."
                    for t, c, v, b in zip(
                        shown["title"],
                        shown["comparison"],
                        shown["value"],
                        shown[BSOL],
                        strict=True,
                    )
                ]
            notes.append(DSR_NOTE)
        parts.append(
            section_html(
                f"{family_title}: summary",
                sentences[0],
                figure_html(fig, alt),
                table,
                f"{family_title} indicators for {area}",
                notes,
            )
        )
    if "derived" in meta:
        parts += [
            rve_section(data, area, i) for i in meta.loc[meta["derived"] == "RVE", "indicator_id"]
        ]
    detailed = meta[meta["derived"] == ""] if "derived" in meta else meta
    for i, (_, row) in enumerate(detailed.iterrows()):
        ind, title = row["indicator_id"], row["title"]
        unit = "percentage points" if row["unit"] == "%" else str(row["unit"])
        axis = "Percent" if row["unit"] == "%" else str(row["unit"]).capitalize()
        parts.append(heading_html(title, 3))
        if area == BSOL:
            rows = areas_side_by_side(data, ind)
            if len(rows):
                comp = _comparator_value(data, BSOL, ind, "England")
                std = areas_side_by_side(data, f"{ind}_DSR")
                std = rows[["group"]].merge(std, on="group", how="left")
                marks = std["value"].where(~std["suppressed"].fillna(True).astype(bool))
                fig, alt = plots.bar_ci(
                    rows,
                    f"{title} by locality",
                    axis,
                    comp,
                    "England",
                    marks=marks if marks.notna().any() else None,
                )
                shown = rows[~rows["suppressed"].astype(bool) & (rows["group"] != BSOL)]
                headline = breakdown_headline(title, shown.reset_index(drop=True), "")
                table = stat_table(rows, "Area")
                notes = []
                if marks.notna().any():
                    std = std.assign(suppressed=std["suppressed"].fillna(True))
                    table.insert(2, "Age-standardised", fmt_column(std))
                    std_shown = std[~std["suppressed"].astype(bool) & (std["group"] != BSOL)]
                    std_line = breakdown_headline(title, std_shown.reset_index(drop=True), "")
                    if " is highest in " in std_line and " is highest in " in headline:
                        headline = (
                            headline.replace(" is highest", " (crude) is highest")[:-1]
                            + "; age-standardised, it is highest"
                            + std_line.split(" is highest", 1)[1]
                        )
                    notes = [
                        DSR_NOTE.replace(
                            "Age-standardised values",
                            "The black diamonds are age-standardised values",
                            1,
                        )
                    ]
                parts.append(
                    section_html(
                        f"{title}: localities side by side",
                        headline,
                        figure_html(fig, alt),
                        table,
                        f"{title} by locality",
                        notes,
                        level=4,
                    )
                )
            if i == 0:
                parts.append(_locality_map(data, ind, title))
        ref = _comparator_value(data, area, ind, area)
        for breakdown, label, word in (
            ("imd_quintile", "deprivation quintile", "deprivation quintile"),
            ("ethnicity_broad", "ethnic group", "ethnic group"),
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
            parts.append(
                section_html(
                    f"{title} by {label}",
                    breakdown_headline(title, rows, word),
                    figure_html(fig, alt),
                    stat_table(rows, label.capitalize()),
                    f"{title} by {label}, {area}",
                    notes,
                    level=4,
                )
            )
        if i == 0 and (data.wards["indicator_id"] == ind).any():
            parts.append(ward_map_section(data, area, ind, title))
        if i == 0:
            matrix = cross_matrix(data, area, ind)
            if len(matrix):
                fig, alt = plots.heatmap(matrix, f"{title}, {area}", axis)
                n_sup = int(matrix["suppressed"].astype(bool).sum())
                headline = (
                    f"{title} by deprivation and ethnic group together: {n_sup} of "
                    f"{len(matrix)} cells are suppressed to protect confidentiality."
                )
                shown = matrix[~matrix["suppressed"].astype(bool) & matrix["value"].notna()]
                if len(shown):
                    top = shown.loc[shown["value"].idxmax()]
                    headline = (
                        f"{title} is highest among {top['ethnicity_broad']} patients in "
                        f"{top['imd_quintile']} ({fmt_number(top['value'])}); {n_sup} of "
                        f"{len(matrix)} cells are suppressed."
                    )
                tab = stat_table(
                    matrix.assign(group=matrix["imd_quintile"] + ", " + matrix["ethnicity_broad"]),
                    "IMD quintile, ethnic group",
                )
                parts.append(
                    section_html(
                        f"{title} by deprivation and ethnicity",
                        headline,
                        figure_html(fig, alt),
                        tab,
                        f"{title} by IMD quintile and broad ethnic group, {area}",
                        level=4,
                    )
                )
        series = series_rows(data, [area] if area == BSOL else [area, BSOL], ind)
        if series["reporting_date"].nunique() > 1:
            own = series[series["area"] == area]
            fig, alt = plots.trend_chart(series, f"{title} by quarter", axis)
            headline = trend_sentence(
                title,
                area,
                trend_direction(own),
                own["reporting_date"].min(),
                own["reporting_date"].max(),
            )
            tab = stat_table(
                series.assign(
                    group=series["area"] + ", " + series["reporting_date"].dt.strftime("%Y-%m-%d")
                ),
                "Area, quarter end",
            )
            parts.append(
                section_html(
                    f"{title}: trend",
                    headline,
                    figure_html(fig, alt),
                    tab,
                    f"{title} by quarter",
                    level=4,
                )
            )
        points = funnel_points(data, area, ind)
        avg = _comparator_value(data, BSOL, ind, BSOL)
        shown = points[~points["suppressed"].astype(bool)]
        if len(shown) >= 3 and np.isfinite(avg):
            n_max = float(shown["denominator"].max()) * 1.1
            n_min = max(float(shown["denominator"].min()) * 0.9, 5.0)
            limits = funnel_limits(
                avg / 100, np.geomspace(n_min, n_max, 80), statistic="proportion", multiplier=100
            )
            fig, alt = plots.funnel_plot(points, limits, avg, f"{title}: practices", axis)
            tab = pd.DataFrame(
                {
                    "Practice": points["practice_name"] + " (" + points["practice_code"] + ")",
                    "PCN": points["pcn_name"],
                    "Value": fmt_column(points),
                    "Denominator": fmt_column(points, "denominator", 0, reason=False),
                }
            )
            parts.append(
                section_html(
                    f"{title}: practices",
                    funnel_sentence(title, area, points, limits),
                    figure_html(fig, alt),
                    tab,
                    f"{title} by practice, {area}",
                    level=4,
                )
            )
    return "".join(parts)


def ward_map_section(data: PackData, area: str, indicator_id: str, title: str) -> str:
    """Map of an indicator by ward of residence (resident view, disclosure-controlled).

    Examples:
        >>> data = demo_pack()
        >>> "by ward of residence" in ward_map_section(data, "East", "HYP_PREV", "Hypertension")
        True
    """
    from bsol_analytics import plots, reference

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
        top = shown.loc[shown["value"].idxmax()]
        low = shown.loc[shown["value"].idxmin()]
        headline = (
            f"Among residents of {area}, {title} is highest in {top['ward_name']} "
            f"({fmt_number(top['value'])}) and lowest in {low['ward_name']} "
            f"({fmt_number(low['value'])})."
        )
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


#: One line explaining age standardisation, shown wherever a DSR sits next to a crude rate.
DSR_NOTE = (
    "Age-standardised values (European Standard Population 2013) show what the rate would "
    "be if every area had the same age mix, so areas with younger or older populations can "
    "be compared fairly; the crude value is the share of this area's own patients."
)

#: How the recorded-versus-expected ratio is worked out, in words.
RVE_NOTE = (
    "Expected cases are what the area's registered patients would have if each age and sex "
    "group had the reference prevalence (Health Survey for England for hypertension and "
    "diabetes, the PHE COPD prevalence model for COPD). A ratio below 1 suggests cases that "
    "are undiagnosed or not on a practice register; the dashed line at 1 means as many "
    "recorded as expected."
)


def _condition(title: str, family: str) -> str:
    name = FAMILIES.get(family, str(title).split(":")[0])
    return name if name.isupper() else name.lower()


def rve_headline(row: pd.Series, area: str, condition: str) -> str:
    """Headline of the recorded-versus-expected chart, with the gap as "about 1 in N".

    Args:
        row: the area's ratio row (``value``, ``lower``, ``upper``, ``suppressed``).
        area: the area.
        condition: the condition in words (``"hypertension"``).

    Examples:
        >>> def r(v, lo, hi):
        ...     return pd.Series({"value": v, "lower": lo, "upper": hi, "suppressed": False})
        >>> rve_headline(r(0.65, 0.62, 0.68), "East", "hypertension")
        'East records 0.65 of the hypertension expected from its age and sex mix: about 1 in 3 expected cases are not on a register.'
        >>> rve_headline(r(1.2, 1.1, 1.3), "East", "COPD")
        'East records 1.20 times the COPD expected from its age and sex mix: about 20 more cases on registers for every 100 expected.'
        >>> rve_headline(r(0.98, 0.9, 1.05), "BSOL", "diabetes")
        'BSOL records 0.98 of the diabetes expected from its age and sex mix, not significantly different from the expected number (95% CI 0.90 to 1.05).'
    """  # noqa: E501
    if bool(row["suppressed"]) or pd.isna(row["value"]):
        return f"Recorded against expected {condition} cannot be shown for {area} (suppressed)."
    value, lo, hi = float(row["value"]), float(row["lower"]), float(row["upper"])
    how = f"{value:.2f} of the" if value < 1 else f"{value:.2f} times the"
    start = f"{area} records {how} {condition} expected from its age and sex mix"
    if lo <= 1 <= hi:
        return (
            f"{start}, not significantly different from the expected number "
            f"(95% CI {lo:.2f} to {hi:.2f})."
        )
    if value > 1:
        extra = round(100 * (value - 1))
        return f"{start}: about {extra} more cases on registers for every 100 expected."
    missing = 1 - value
    gap = f"1 in {round(1 / missing)}" if missing < 0.5 else f"{round(10 * missing)} in 10"
    return f"{start}: about {gap} expected cases are not on a register."


def rve_section(data: PackData, area: str, indicator_id: str) -> str:
    """Recorded versus expected prevalence: the ratio for every locality and BSOL.

    A dot chart of the ratio with its 95% CI (the pack's area picked out, reference line
    at 1), the headline, the ratio in words and the data table (recorded and expected).

    Examples:
        >>> data = demo_pack()
        >>> out = rve_section(data, "East", "HYP_PREV_RVE")
        >>> "recorded vs expected" in out and "<caption>" in out
        True
    """
    from bsol_analytics import plots

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


def rve_sentence(row: pd.Series, area: str) -> str:
    """Recorded versus expected prevalence in words.

    Examples:
        >>> r = pd.Series({"title": "Hypertension: recorded prevalence, recorded vs expected "
        ...     "ratio", "value": 0.6, "lower": 0.55, "upper": 0.66, "suppressed": False})
        >>> rve_sentence(r, "East")
        'Hypertension: recorded prevalence in East is 0.60 times the number expected from the population (95% CI 0.55 to 0.66): fewer cases are recorded than expected.'
    """  # noqa: E501
    title = str(row["title"]).replace(", recorded vs expected ratio", "")
    if row["suppressed"] or pd.isna(row["value"]):
        return f"{title} in {area} cannot be compared with the expected number (suppressed)."
    lo, hi = float(row["lower"]), float(row["upper"])
    verdict = (
        "fewer cases are recorded than expected"
        if hi < 1
        else "more cases are recorded than expected"
        if lo > 1
        else "the recorded number is not significantly different from the expected number"
    )
    return (
        f"{title} in {area} is {float(row['value']):.2f} times the number expected from the "
        f"population (95% CI {lo:.2f} to {hi:.2f}): {verdict}."
    )


def _locality_map(data: PackData, indicator_id: str, title: str) -> str:
    from bsol_analytics import plots, reference

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


def definitions_section(data: PackData, area: str) -> str:
    """Section 4: definitions, sources, reporting date, view, data quality, SDC, version.

    Examples:
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
        "Confidence intervals are 95%; funnel plots show 95% and 99.8% control limits.",
        f"Built by {run_stamp()}.",
    ]
    lists = "".join(f"<li>{html.escape(i)}</li>" for i in items)
    sources = "".join(f"<li>{html.escape(s)}</li>" for s in info.get("data_sources", []))
    quality = "".join(f"<li>{html.escape(s)}</li>" for s in info.get("data_quality", []))
    table = table_html(definitions_table(data.meta), "Indicator definitions")
    return (
        heading_html("Definitions and data", 2)
        + heading_html("Indicators", 3)
        + table
        + heading_html("About this pack", 3)
        + f"<ul>{lists}</ul>"
        + heading_html("Data sources", 3)
        + f"<ul>{sources}</ul>"
        + heading_html("Data quality", 3)
        + f"<ul>{quality}</ul>"
    )
