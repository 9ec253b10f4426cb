"""The tidy indicator frame: roll-ups of the cube, statistics, comparators.

:func:`indicator_table` is the one entry point: it computes one cube (with the union of the
keys every requested breakdown needs, for every date), rolls it up in pandas to each area
type × breakdown, adds each indicator's registry statistic (Wilson percentages, rates,
DSRs over the indicator's age range, life expectancy by sex with its slope index LE_SII;
see ``docs/statistics.md``), age-standardised prevalence, recorded-versus-expected and
BSOL-standardised ratios where the registry's flags ask for them, protects the frame once
(:func:`bsol_analytics.protection.protect_run`) and finally compares each published row
with its comparator (BSOL for localities, PCNs and practices; England for BSOL where the
registry holds an England value). The result is the tidy indicator frame of
``docs/architecture.md``. :func:`indicator_statistics` and :func:`finish_table` are the two
halves, for runs (the packs) that protect more tables together.

Conventions:

* ``area`` holds the locality name, the PCN code or the practice's ODS code (``BSOL`` for
  BSOL). In the resident view, patients whose LSOA is outside BSOL or unknown form the
  locality ``Outside BSOL or unknown``; BSOL is always the whole registered population.
* ``group`` labels (:mod:`bsol_analytics.vocabulary`): ``Q1 (most deprived)`` … ``Q5
  (least deprived)``, ``D1 (most deprived)`` … ``D10 (least deprived)``,
  ``Core20``/``Rest``, ``Female``/``Male``, the ethnic group, the ESP2013 age band,
  ``Unknown`` for a missing value and ``All`` for ``overall``. A cross ``A*B`` has groups
  ``"<A group> | <B group>"``.
* ``core20`` follows the chosen IMD version (national quintile 1).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics import sdc as sdc_mod
from bsol_analytics import stats
from bsol_analytics.datafolder import coverage, open_data
from bsol_analytics.dates import (
    Coverage,
    check_reporting_date,
    default_reporting_date,
    parse_date,
)
from bsol_analytics.errors import ParameterError
from bsol_analytics.indicators import (
    computable_indicators,
    compute_cube,
    expected_prevalence,
    get_indicator,
    load_tables,
    lookback_windows,
)
from bsol_analytics.indicators.links import UNSPLIT_DENOMINATORS
from bsol_analytics.indicators.mortality import life_table_counts
from bsol_analytics.indicators.registry import list_indicators
from bsol_analytics.protection import SDC_ATTR, area_parents, protect_run
from bsol_analytics.reference import ETHNICITY_DETAILED
from bsol_analytics.vocabulary import (
    AGE_BANDS,
    ALL,
    AREA_TYPES,
    CONDITION_INDICATORS,
    CORE20_LABELS,
    DECILE_LABELS,
    DSR_SUFFIX,
    ETHNICITY_BROAD,
    ISR_SUFFIX,
    LOCALITIES,
    QUINTILE_LABELS,
    RVE_SUFFIX,
    SEX_LABELS,
    UNKNOWN,
    area_column,
    missing_area,
    quantile_label,
)

log = logging.getLogger(__name__)

#: Breakdowns that can be asked for (besides ``overall``); join two with ``*`` to cross.
BREAKDOWNS: tuple[str, ...] = (
    "imd_quintile",
    "imd_decile",
    "core20",
    "ethnicity_broad",
    "ethnicity_detailed",
    "sex",
    "age_band",
    "diabetes_type",
)

#: Breakdowns published only for the indicators of one family (others are dropped).
FAMILY_BREAKDOWNS: dict[str, str] = {"diabetes_type": "diabetes"}

#: Columns of the tidy indicator frame, in order: the cell's keys, its statistic (the
#: statistic columns without ``statistic`` and ``multiplier``), comparison and suppression.
TIDY_COLUMNS: tuple[str, ...] = (
    *sdc_mod.CELL_KEYS,
    *(c for c in stats.STAT_COLUMNS if c not in ("statistic", "multiplier")),
    "comparator",
    "comparator_value",
    "comparison",
    "suppressed",
    "suppression_reason",
)

#: Indicators with an age-standardised version (id + ``_DSR``, per 100, ESP2013): the
#: registry's ``age_standardised`` flag.
DSR_BASES: tuple[str, ...] = tuple(i.id for i in list_indicators() if i.age_standardised)

#: Indicators with a recorded-versus-expected ratio (id + ``_RVE``): the registry's
#: ``recorded_vs_expected`` flag.
RVE_BASES: tuple[str, ...] = tuple(i.id for i in list_indicators() if i.recorded_vs_expected)

#: What the expected count of a ``_RVE`` ratio adjusts for: the reference prevalence is
#: by age band and sex only (``registry.expected_prevalence``).
RVE_ADJUSTS_FOR: tuple[str, ...] = ("age", "sex")
#: The main drivers of recorded prevalence; a ratio is judged better or worse only when
#: its expected count adjusts for all of them.
RVE_DRIVERS: tuple[str, ...] = ("age", "sex", "ethnicity", "deprivation")
#: Polarity of every ``_RVE`` id: ``no judgement`` (higher/lower, no better/worse colour)
#: unless the expected model adjusts for all of :data:`RVE_DRIVERS`.
RVE_POLARITY: str = (
    "higher is better" if set(RVE_DRIVERS) <= set(RVE_ADJUSTS_FOR) else "no judgement"
)

VIEWS: tuple[str, ...] = ("practice", "resident")
IMD_VERSIONS: tuple[str, ...] = ("2025", "2019")
CROSS_SEP = sdc_mod.CROSS_SEP

_ID = ["reporting_date", "indicator_id", "area_type", "area", "breakdown", "group"]
_STRATA_COLUMNS = ["indicator_id", "age_band", "numerator", "denominator"]
_CUBE_COLUMNS = ["reporting_date", "indicator_id", "numerator", "denominator"]
# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


def parse_by(by: str | Sequence[str]) -> tuple[list[str], list[str]]:
    """Split a ``--by`` specification into area types and breakdowns.

    BSOL is always included (it is every other area's comparator) and so is ``overall``.

    Args:
        by: comma-separated text or a sequence, e.g. ``"locality,imd_quintile"`` or
            ``["pcn", "imd_quintile*ethnicity_broad"]``.

    Returns:
        ``(area_types, breakdowns)``, each in canonical order without repeats.

    Raises:
        ParameterError: an unknown name, naming the valid choices.

    Examples:
        >>> parse_by("locality,imd_quintile,ethnicity_broad")
        (['BSOL', 'locality'], ['overall', 'imd_quintile', 'ethnicity_broad'])
        >>> parse_by(["imd_quintile*ethnicity_broad"])
        (['BSOL'], ['overall', 'imd_quintile*ethnicity_broad'])
    """
    tokens = [t.strip() for t in (by.split(",") if isinstance(by, str) else by)]
    tokens = [t for t in tokens if t]
    areas = {"BSOL"}
    breakdowns: list[str] = ["overall"]
    valid = ", ".join([a.lower() for a in AREA_TYPES] + ["overall", *BREAKDOWNS])
    for token in tokens:
        low = token.lower()
        if low in {a.lower() for a in AREA_TYPES}:
            areas.add(next(a for a in AREA_TYPES if a.lower() == low))
            continue
        parts = [p.strip() for p in low.split("*")]
        if (
            len(parts) > 2
            or any(p not in BREAKDOWNS for p in parts)
            or len(set(parts)) < len(parts)
        ):
            if low == "overall":
                continue
            raise ParameterError(
                f"--by: '{token}' is not a breakdown. Choose from {valid}; join two "
                "breakdowns with '*' for a cross-tabulation, e.g. imd_quintile*ethnicity_broad."
            )
        name = "*".join(parts)
        if name not in breakdowns:
            breakdowns.append(name)
    return [a for a in AREA_TYPES if a in areas], breakdowns


# --------------------------------------------------------------------------------------
# Keys, roll-ups and labels
# --------------------------------------------------------------------------------------


def _breakdown_columns(breakdown: str, imd: str) -> list[str]:
    cols: list[str] = []
    if breakdown == "overall":
        return cols
    for part in breakdown.split("*"):
        col = {
            "imd_quintile": f"imd{imd}_quintile",
            "imd_decile": f"imd{imd}_decile",
            "core20": f"imd{imd}_quintile",
        }.get(part, part)
        cols.append(col)
    return cols


def cube_keys(
    area_types: Sequence[str],
    breakdowns: Sequence[str],
    *,
    view: str = "practice",
    imd: str = "2025",
    standardise: bool = True,
) -> list[str]:
    """The union of cube keys needed for the requested roll-ups.

    Args:
        area_types: from :func:`parse_by`.
        breakdowns: from :func:`parse_by`.
        view: ``"practice"`` or ``"resident"``.
        imd: ``"2025"`` or ``"2019"``.
        standardise: add ``age_band`` and ``sex`` for the standardised statistics.

    Examples:
        >>> cube_keys(["BSOL", "locality"], ["overall", "core20"], standardise=False)
        ['practice_locality', 'imd2025_quintile']
    """
    keys: list[str] = []
    for area_type in area_types:
        col = area_column(area_type, view)
        if col:
            keys.append(col)
    if "practice" in area_types:
        keys.append("pcn_code")
        if view == "practice":
            keys.append("practice_locality")
    if "pcn" in area_types and "locality" in area_types and view == "practice":
        keys.append("practice_locality")
    for breakdown in breakdowns:
        keys.extend(_breakdown_columns(breakdown, imd))
    if standardise:
        keys.extend(["age_band", "sex"])
    return list(dict.fromkeys(keys))


def group_labels(breakdown: str, values: pd.Series) -> pd.Series:
    """Text labels for one breakdown's raw key values (missing becomes ``Unknown``).

    Examples:
        >>> group_labels("imd_quintile", pd.Series([1, 3, 5, None])).tolist()
        ['Q1 (most deprived)', 'Q3', 'Q5 (least deprived)', 'Unknown']
        >>> group_labels("core20", pd.Series([1, 2, None])).tolist()
        ['Core20', 'Rest', 'Unknown']
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    uniq = pd.Series(np.asarray(uniques, dtype=object))
    if breakdown in ("imd_quintile", "imd_decile"):
        n = 5 if breakdown == "imd_quintile" else 10
        num = pd.to_numeric(uniq, errors="coerce")
        labels = pd.Series([quantile_label(q, n) for q in num], dtype=object)
    elif breakdown == "core20":
        num = pd.to_numeric(uniq, errors="coerce")
        labels = pd.Series(np.where(num == 1, *CORE20_LABELS), dtype=object)
        labels = labels.where(num.notna(), UNKNOWN)
    elif breakdown == "sex":
        labels = uniq.map(SEX_LABELS).fillna(UNKNOWN)
    else:
        labels = uniq.where(uniq.notna() & (uniq.astype("str") != ""), UNKNOWN)
    table = np.append(labels.astype("str").to_numpy(dtype=object), UNKNOWN)
    return pd.Series(table[codes], index=values.index, dtype="str")


def _group_order() -> dict[str, list[str]]:
    return {
        "overall": [ALL],
        "imd_quintile": list(QUINTILE_LABELS),
        "imd_decile": list(DECILE_LABELS),
        "core20": list(CORE20_LABELS),
        "ethnicity_broad": list(ETHNICITY_BROAD),
        "ethnicity_detailed": list(ETHNICITY_DETAILED),
        "sex": list(SEX_LABELS.values()),
        "age_band": list(AGE_BANDS),
        "diabetes_type": ["Type 1", "Type 2", UNKNOWN],
    }


def _group_rank(breakdown: pd.Series, group: pd.Series) -> np.ndarray:
    order = _group_order()
    key = breakdown.astype("str") + "\0" + group.astype("str")
    codes, uniq = pd.factorize(key)

    def one(b: str, g: str) -> int:
        labels = order.get(b, [])
        if g in labels:
            return labels.index(g)
        return 998 if g == UNKNOWN else 999

    values = []
    for text in uniq:  # one per distinct breakdown group, not per row
        b, _, g = str(text).partition("\0")
        if "*" in b:
            b1, b2 = b.split("*", 1)
            g1, _, g2 = g.partition(CROSS_SEP)
            values.append(one(b1, g1) * 1000 + one(b2, g2))
        else:
            values.append(one(b, g))
    return np.asarray(values, dtype=np.int64)[codes]


def rollup(
    cube: pd.DataFrame,
    area_types: Sequence[str],
    breakdowns: Sequence[str],
    *,
    view: str = "practice",
    imd: str = "2025",
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """Sum the cube to every area type × breakdown (groupby sum, no statistics yet).

    Args:
        cube: ``reporting_date``, the keys, ``indicator_id``, ``numerator``,
            ``denominator`` (the output of ``indicators.compute_cube``).
        area_types: area types from :func:`parse_by`.
        breakdowns: breakdowns from :func:`parse_by`.
        view: which locality column to use.
        imd: IMD version of the deprivation breakdowns.
        extra: cube keys to keep as strata (e.g. ``["age_band"]`` for standardisation).

    Returns:
        A new frame ``reporting_date, indicator_id, area_type, area, breakdown, group,
        *extra, numerator, denominator``.

    Raises:
        ParameterError: the cube lacks a key the roll-up needs.

    Examples:
        >>> cube = pd.DataFrame({"reporting_date": pd.Timestamp("2025-03-31"),
        ...     "practice_locality": ["East", "East", "West"], "sex": ["F", "M", "F"],
        ...     "indicator_id": "HYP_PREV", "numerator": [10, 20, 5],
        ...     "denominator": [100, 120, 90]})
        >>> rollup(cube, ["BSOL", "locality"], ["overall", "sex"]).iloc[:, 2:]
          area_type  area breakdown   group  numerator  denominator
        0      BSOL  BSOL   overall     All         35          310
        1      BSOL  BSOL       sex  Female         15          190
        2      BSOL  BSOL       sex    Male         20          120
        3  locality  East   overall     All         30          220
        4  locality  West   overall     All          5           90
        5  locality  East       sex  Female         10          100
        6  locality  East       sex    Male         20          120
        7  locality  West       sex  Female          5           90
    """
    needed = [*_CUBE_COLUMNS, *extra]
    needed += cube_keys(area_types, breakdowns, view=view, imd=imd, standardise=False)
    missing = [c for c in dict.fromkeys(needed) if c not in cube.columns]
    if missing:
        raise ParameterError(
            f"The indicator cube has no column '{missing[0]}' needed for these breakdowns."
        )
    parts = []
    collapsed = _collapse_unsplit(cube)
    for area_type in area_types:
        acol = area_column(area_type, view)
        for breakdown in breakdowns:
            bcols = _breakdown_columns(breakdown, imd)
            source = cube
            for key, frame in collapsed.items():
                if key not in bcols and key not in extra:
                    source = frame
            cols = list(
                dict.fromkeys(
                    ["reporting_date", "indicator_id", *([acol] if acol else []), *bcols, *extra]
                )
            )
            summed = (
                source.groupby(cols, observed=True, dropna=False, sort=True)[
                    ["numerator", "denominator"]
                ]
                .sum()
                .reset_index()
            )
            if acol is None:
                area = pd.Series("BSOL", index=summed.index, dtype="str")
            else:
                fill = missing_area(area_type, view)
                raw = summed[acol].astype(object)
                area = raw.where(raw.notna(), fill).astype("str")
            merged = False
            if breakdown == "overall":
                group = pd.Series(ALL, index=summed.index, dtype="str")
            else:
                names = breakdown.split("*")
                labels = [group_labels(n, summed[c]) for n, c in zip(names, bcols, strict=True)]
                group = labels[0] if len(labels) == 1 else labels[0] + CROSS_SEP + labels[1]
                merged = any(
                    lab.nunique() < summed[c].nunique(dropna=False)
                    for lab, c in zip(labels, bcols, strict=True)
                )
            part = pd.DataFrame(
                {
                    "reporting_date": summed["reporting_date"],
                    "indicator_id": summed["indicator_id"].astype("str"),
                    "area_type": area_type,
                    "area": area,
                    "breakdown": breakdown,
                    "group": group,
                }
            )
            for col in extra:
                part[col] = summed[col].astype(object).where(summed[col].notna(), UNKNOWN)
                part[col] = part[col].astype("str")
            part["numerator"] = summed["numerator"].astype("int64")
            part["denominator"] = summed["denominator"].astype("int64")
            if merged:  # several raw values share a label (e.g. Q2-Q5 are all "Rest")
                part = part.groupby([*_ID, *extra], sort=False, as_index=False)[
                    ["numerator", "denominator"]
                ].sum()
            if any(p in FAMILY_BREAKDOWNS for p in breakdown.split("*")):
                part = _family_breakdown(part, breakdown)
            for key, frame in collapsed.items():
                if key in bcols:
                    whole = rollup(
                        frame, [area_type], [_without(breakdown, key)], view=view, imd=imd,
                        extra=extra,
                    )  # fmt: skip
                    part = _unsplit_denominators(part, whole, breakdown, key, list(extra))
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _collapse_unsplit(cube: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The cube summed over each unsplit key, for roll-ups without that key.

    The cube repeats an unsplit denominator in every group of its key (DM_PREV by
    ``diabetes_type``: each type carries the whole 17+ list); summed over the key, the
    numerators add up while the denominator is taken once.
    """
    out: dict[str, pd.DataFrame] = {}
    for key in sorted({k for _, k in UNSPLIT_DENOMINATORS}):
        ids = [i for i, k in UNSPLIT_DENOMINATORS if k == key]
        if key not in cube.columns or not cube["indicator_id"].isin(ids).any():
            continue
        rows = cube["indicator_id"].isin(ids)
        others = [c for c in cube.columns if c not in (key, "numerator", "denominator")]
        once = (
            cube[rows]
            .groupby(others, observed=True, dropna=False, sort=False)
            .agg(numerator=("numerator", "sum"), denominator=("denominator", "max"))
            .reset_index()
        )
        out[key] = pd.concat([cube[~rows].drop(columns=key), once], ignore_index=True)
    return out


def _without(breakdown: str, name: str) -> str:
    """The breakdown with one part removed (``overall`` when nothing is left)."""
    rest = [p for p in breakdown.split("*") if p != name]
    return "*".join(rest) if rest else "overall"


def _unsplit_denominators(
    part: pd.DataFrame, whole: pd.DataFrame, breakdown: str, key: str, extra: list[str]
) -> pd.DataFrame:
    """Give an unsplit indicator's groups the whole denominator of the other groups.

    A cell of the cube exists only where a group has patients, so summing the repeated
    denominator per group would lose the cells where a group is absent; the whole
    denominator comes from the roll-up of the cube summed over ``key`` instead.
    """
    ids = [i for i, k in UNSPLIT_DENOMINATORS if k == key]
    rows = part["indicator_id"].isin(ids).to_numpy()
    if not rows.any():
        return part
    names = breakdown.split("*")
    groups = part["group"].astype("str").str.split(CROSS_SEP, regex=False)
    pos = names.index(key)
    rest = groups.str[1 - pos] if len(names) == 2 else pd.Series(ALL, index=part.index)
    match = ["reporting_date", "indicator_id", "area", *extra]
    lookup = whole[[*match, "group", "denominator"]].rename(
        columns={"group": "_rest", "denominator": "_whole"}
    )
    merged = part.assign(_rest=rest.to_numpy()).merge(lookup, on=[*match, "_rest"], how="left")
    whole_den = merged["_whole"].fillna(merged["denominator"]).astype("int64").to_numpy()
    out = part.copy()
    out.loc[rows, "denominator"] = whole_den[rows]
    return out


def _family_breakdown(part: pd.DataFrame, breakdown: str) -> pd.DataFrame:
    """Keep a family breakdown's rows for its family only (``diabetes_type``: diabetes).

    DM_PREV keeps its denominator: the cube already gives each diabetes type the whole
    17+ list (``indicators.links.UNSPLIT_DENOMINATORS``), so the rows are left as summed.
    """
    family = {FAMILY_BREAKDOWNS[n] for n in breakdown.split("*") if n in FAMILY_BREAKDOWNS}
    ids = [str(i) for i in pd.unique(part["indicator_id"])]
    keep = [i for i in ids if _family_of(i) in family]
    part = part[part["indicator_id"].isin(keep)].reset_index(drop=True)
    return part


def _family_of(indicator_id: str) -> str:
    try:
        return str(get_indicator(indicator_id).family)
    except ParameterError:
        return ""


# --------------------------------------------------------------------------------------
# Statistics and comparators
# --------------------------------------------------------------------------------------


def _stat_frame(out: pd.DataFrame) -> pd.DataFrame:
    return out.drop(columns=[c for c in ("statistic", "multiplier") if c in out.columns])


def _cell_key(strata: pd.DataFrame, by: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Number the cells (one integer instead of several text columns to group by)."""
    code = strata.groupby(by, sort=False, observed=True, dropna=False).ngroup()
    keyed = strata.drop(columns=by).assign(_cell=code.to_numpy())
    first = ~code.duplicated().to_numpy()
    cells = strata.loc[first, by].assign(_cell=code.to_numpy()[first])
    return cells.reset_index(drop=True), keyed


def _with_cells(out: pd.DataFrame, cells: pd.DataFrame, suffix: str) -> pd.DataFrame:
    """Statistics by cell number back onto the cells, ``indicator_id`` + ``suffix``."""
    merged = cells.merge(_stat_frame(out), on="_cell", how="right").drop(columns="_cell")
    return merged.assign(indicator_id=merged["indicator_id"].astype("str") + suffix)


def _no_statistics(by: list[str]) -> pd.DataFrame:
    """The empty result of a derived statistic (no strata)."""
    stat = ["value", "lower", "upper", "numerator", "denominator", "confidence", "method"]
    return pd.DataFrame(columns=[*by, *stat])


def proportions(counts: pd.DataFrame) -> pd.DataFrame:
    """Percentages with Wilson 95% limits for every row of a roll-up.

    Examples:
        >>> counts = pd.DataFrame({"indicator_id": ["X"], "area": ["BSOL"],
        ...                        "numerator": [65], "denominator": [100]})
        >>> proportions(counts)[["value", "lower", "upper", "method"]].round(2)
           value  lower  upper  method
        0   65.0  55.25  73.64  Wilson
    """
    return _stat_frame(stats.proportion(counts, "numerator", "denominator", multiplier=100))


def standardised_prevalence(strata: pd.DataFrame) -> pd.DataFrame:
    """Age-standardised prevalence per 100 (ESP2013, Dobson limits); ids get ``_DSR``.

    Each indicator is standardised over its own ages (the registry's ``age_range``, e.g.
    17+ for diabetes: the ESP2013 from 17 up, the 15-19 band pro rata), not over the
    whole standard.

    Args:
        strata: a roll-up with an ``age_band`` column (see :func:`rollup`), for the
            indicators in :data:`DSR_BASES`.

    Returns:
        A new frame, one row per roll-up cell, ``indicator_id`` suffixed ``_DSR``.

    Examples:
        >>> bands = ["0-4", "5-9"]
        >>> strata = pd.DataFrame({"reporting_date": "2025-03-31", "indicator_id": "HYP_PREV",
        ...     "area_type": "BSOL", "area": "BSOL", "breakdown": "overall", "group": "All",
        ...     "age_band": bands, "numerator": [10, 20], "denominator": [1000, 1000]})
        >>> standardised_prevalence(strata)[["indicator_id", "numerator"]]
          indicator_id  numerator
        0  HYP_PREV_DSR       30.0
    """
    sdc_mod.require_columns(strata, _STRATA_COLUMNS, "standardised_prevalence")
    by = [c for c in _ID if c in strata.columns]
    if strata.empty:
        return _no_statistics(by)
    pieces = []
    for i in [str(x) for x in pd.unique(strata["indicator_id"])]:
        cells, use = _cell_key(strata[strata["indicator_id"] == i], by)
        # age bands as categories: the standard is matched once per band, not once per row
        use = use.assign(age_band=use["age_band"].astype("category"))
        out = stats.dsr(
            use,
            "numerator",
            "denominator",
            by="_cell",
            age_col="age_band",
            multiplier=100,
            age_range=_age_range(i),
        )
        pieces.append(_with_cells(out, cells, "_DSR"))
    return pd.concat(pieces, ignore_index=True)


def _age_range(indicator_id: str) -> tuple[int, int | None] | None:
    """The registry's age range of an indicator (``None``: the whole ESP2013)."""
    try:
        ages = get_indicator(indicator_id).age_range
    except ParameterError:
        return None
    if ages is None or (ages[0] == 0 and (ages[1] is None or ages[1] >= 90)):
        return None  # every age: the whole standard
    return ages


def bsol_standardised_ratios(strata: pd.DataFrame) -> pd.DataFrame:
    """Indirectly standardised ratios against BSOL's age-sex rates; ids get ``_ISR``.

    For each date, view and indicator, the BSOL ``overall`` rates by age band and sex are
    the reference: ``expected = Σ population × BSOL rate`` over the cell's strata and
    ``value = observed / expected`` (1 = as BSOL would have with the cell's age-sex mix),
    with Byar's limits (``stats.isr``). These are the ratios for practice funnels
    (``stats.funnel_flags(statistic="ratio")``): crude percentages mix age with
    practice.

    Args:
        strata: a roll-up with ``age_band`` and ``sex`` columns, including BSOL.

    Returns:
        A new frame, ``indicator_id`` suffixed ``_ISR``; ``numerator`` the observed and
        ``denominator`` the expected count.

    Examples:
        >>> strata = pd.DataFrame({"reporting_date": "2025-03-31", "indicator_id": "X",
        ...     "area_type": ["BSOL"] * 2 + ["practice"] * 2, "area": ["BSOL"] * 2 + ["P1"] * 2,
        ...     "breakdown": "overall", "group": "All", "age_band": ["40-44", "70-74"] * 2,
        ...     "sex": "F", "numerator": [50, 300, 10, 90], "denominator": [1000, 1000, 100, 300]})
        >>> bsol_standardised_ratios(strata)[["area", "indicator_id", "value", "denominator"]]
          area indicator_id  value  denominator
        0  BSOL        X_ISR    1.0        350.0
        1    P1        X_ISR    1.0         95.0
    """
    sdc_mod.require_columns(strata, [*_STRATA_COLUMNS, "sex"], "bsol_standardised_ratios")
    by = [c for c in _ID if c in strata.columns]
    if strata.empty:
        return _no_statistics(by)
    ref_keys = [c for c in ("reporting_date", "view", "indicator_id") if c in strata.columns]
    bsol = strata[(strata["area_type"] == "BSOL") & (strata["breakdown"] == "overall")]
    ref = bsol.groupby([*ref_keys, "age_band", "sex"], as_index=False)[
        ["numerator", "denominator"]
    ].sum()
    ref = ref.assign(
        reference_rate=np.where(ref["denominator"] > 0, ref["numerator"] / ref["denominator"], 0.0)
    )[[*ref_keys, "age_band", "sex", "reference_rate"]]
    joined = strata.merge(ref, on=[*ref_keys, "age_band", "sex"], how="left")
    joined["reference_rate"] = joined["reference_rate"].fillna(0.0)
    cells, joined = _cell_key(joined, by)
    out = stats.isr(joined, "numerator", "denominator", by="_cell", reference_rate="reference_rate")
    return _with_cells(out, cells, ISR_SUFFIX)


def _reference_rates() -> pd.DataFrame:
    """Reference prevalence by indicator, sex and age band."""
    return normalise_reference_rates(expected_prevalence())


def normalise_reference_rates(ref: pd.DataFrame) -> pd.DataFrame:
    """Bring a reference-prevalence table to ``indicator_id, sex, age_band, reference_rate``.

    Accepts ``indicator_id`` or the registry's ``condition`` (``hypertension``,
    ``diabetes``, ``copd``) and a rate column named ``reference_rate``, ``prevalence`` or
    ``rate`` (per 1; a column whose values exceed 1 is taken to be per 100).

    Examples:
        >>> ref = pd.DataFrame({"condition": ["hypertension"], "sex": ["F"],
        ...                     "age_band": ["40-44"], "prevalence": [0.05]})
        >>> normalise_reference_rates(ref).iloc[0].astype(str).tolist()
        ['HYP_PREV', 'F', '40-44', '0.05']
    """
    ref = ref.copy()
    if "indicator_id" not in ref.columns and "condition" in ref.columns:
        ref["indicator_id"] = ref["condition"].astype("str").str.lower().map(CONDITION_INDICATORS)
        ref = ref[ref["indicator_id"].notna()]
    rate_col = next(
        (
            c
            for c in ("reference_rate", "prevalence", "rate", "expected_prevalence")
            if c in ref.columns
        ),
        None,
    )
    if rate_col is None or not {"indicator_id", "sex", "age_band"} <= set(ref.columns):
        raise ParameterError(
            "The reference prevalence table needs indicator_id, sex, age_band and a rate "
            f"column (it has {', '.join(map(str, ref.columns))})."
        )
    rate = pd.to_numeric(ref[rate_col], errors="coerce")
    if rate.max() > 1:
        rate = rate / 100
    return pd.DataFrame(
        {
            "indicator_id": ref["indicator_id"].astype("str"),
            "sex": ref["sex"].astype("str"),
            "age_band": ref["age_band"].astype("str"),
            "reference_rate": rate.astype("float64"),
        }
    )


def recorded_vs_expected(strata: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Recorded versus expected prevalence: observed register / expected (ISR, Byar).

    ``expected = Σ registered population × reference prevalence`` over age band × sex.

    Args:
        strata: a roll-up with ``age_band`` and ``sex`` columns for :data:`RVE_BASES`.
        reference: ``indicator_id, sex, age_band, reference_rate`` (per 1).

    Returns:
        A new frame, ``indicator_id`` suffixed ``_RVE``; ``value`` is the ratio (1 = as
        many recorded as expected), ``numerator`` the register count and ``denominator``
        the expected count.

    Examples:
        >>> strata = pd.DataFrame({"reporting_date": "2025-03-31", "indicator_id": "HYP_PREV",
        ...     "area_type": "BSOL", "area": "BSOL", "breakdown": "overall", "group": "All",
        ...     "age_band": ["40-44", "40-44"], "sex": ["F", "M"],
        ...     "numerator": [30, 45], "denominator": [1000, 1000]})
        >>> ref = pd.DataFrame({"indicator_id": "HYP_PREV", "age_band": "40-44",
        ...                     "sex": ["F", "M"], "reference_rate": [0.05, 0.05]})
        >>> recorded_vs_expected(strata, ref)[["indicator_id", "value", "denominator"]]
          indicator_id  value  denominator
        0  HYP_PREV_RVE   0.75        100.0
    """
    sdc_mod.require_columns(strata, [*_STRATA_COLUMNS, "sex"], "recorded_vs_expected")
    by = [c for c in _ID if c in strata.columns]
    if strata.empty:
        return _no_statistics(by)
    joined = strata.merge(reference, on=["indicator_id", "sex", "age_band"], how="left")
    joined["reference_rate"] = joined["reference_rate"].fillna(0.0)
    cells, joined = _cell_key(joined, by)
    out = stats.isr(joined, "numerator", "denominator", by="_cell", reference_rate="reference_rate")
    return _with_cells(out, cells, "_RVE")


def registry_meta(ids: Sequence[str]) -> tuple[dict[str, str], dict[str, float]]:
    """Polarity and England value per indicator id, from the registry."""
    polarity: dict[str, str] = {}
    england: dict[str, float] = {}
    for i in ids:
        try:
            info = get_indicator(i)
        except ParameterError:  # an id unknown to the registry
            continue
        polarity[i] = str(info.polarity)
        if info.england_value is not None and not pd.isna(info.england_value):
            england[i] = float(info.england_value)
    return polarity, england


def rve_metadata(ids: Sequence[str] | None = None) -> pd.DataFrame:
    """Polarity and a plain statement of what each ``_RVE`` expected count adjusts for.

    Args:
        ids: ``_RVE`` ids (default every one the registry asks for).

    Returns:
        A new frame: ``indicator_id``, ``polarity``, ``expected_adjusts_for``.

    Examples:
        >>> m = rve_metadata(["HYP_PREV_RVE"])
        >>> m["polarity"].item()
        'no judgement'
        >>> print(m["expected_adjusts_for"].item())
        The expected count adjusts for age and sex only, not for ethnicity or deprivation, so a ratio above or below 1 is not judged better or worse.
    """  # noqa: E501
    ids = list(ids) if ids is not None else [f"{b}{RVE_SUFFIX}" for b in RVE_BASES]
    missing = [d for d in RVE_DRIVERS if d not in RVE_ADJUSTS_FOR]
    text = "The expected count adjusts for " + " and ".join(RVE_ADJUSTS_FOR)
    if missing:
        text += (
            " only, not for " + " or ".join(missing) + ", so a ratio above or below 1 is not "
            "judged better or worse."
        )
    else:
        text += "."
    return pd.DataFrame(
        {"indicator_id": ids, "polarity": RVE_POLARITY, "expected_adjusts_for": text}
    )


def add_comparisons(
    table: pd.DataFrame,
    *,
    polarity: Mapping[str, str] | None = None,
    england: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Compare each row with its comparator (OHID rule, 95% interval against a value).

    Localities, PCNs and practices are compared with BSOL's value for the same indicator,
    date, view, breakdown and group; BSOL's ``overall`` rows with England where ``england``
    holds a value. Rows with no comparator get ``comparison`` ``"not compared"``.

    Args:
        table: statistics (after disclosure control, so that a suppressed BSOL value is
            never published as a comparator).
        polarity: indicator id -> ``"higher is better"``, ``"lower is better"`` or
            ``"no judgement"`` (default).
        england: indicator id -> England value in the same units as ``value``.

    Returns:
        A new frame with ``comparator``, ``comparator_value`` and ``comparison``.

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "2025-03-31",
        ...     "view": "practice", "area_type": ["BSOL", "locality"], "area": ["BSOL", "East"],
        ...     "breakdown": "overall", "group": "All", "value": [50.0, 60.0],
        ...     "lower": [49.0, 55.0], "upper": [51.0, 65.0]})
        >>> add_comparisons(t, polarity={"X": "higher is better"}, england={"X": 52.0})[
        ...     ["area", "comparator", "comparator_value", "comparison"]]
           area comparator  comparator_value comparison
        0  BSOL    England              52.0      worse
        1  East       BSOL              50.0     better
    """
    sdc_mod.require_columns(
        table,
        ["indicator_id", "reporting_date", "view", "area_type", "breakdown", "group",
         "value", "lower", "upper"],
        "add_comparisons",
    )  # fmt: skip
    polarity = dict(polarity or {})
    england = dict(england or {})
    out = table.drop(
        columns=[c for c in ("comparator", "comparator_value", "comparison") if c in table.columns]
    ).reset_index(drop=True)
    match = ["indicator_id", "reporting_date", "view", "breakdown", "group"]
    if "confidence" in out.columns:
        match.append("confidence")
    bsol = out.loc[out["area_type"] == "BSOL", [*match, "value"]].rename(columns={"value": "_bsol"})
    out = out.merge(bsol.drop_duplicates(subset=match), on=match, how="left")
    is_bsol = (out["area_type"] == "BSOL").to_numpy()
    eng = out["indicator_id"].map(england).astype("float64")
    eng = eng.where(is_bsol & (out["breakdown"] == "overall").to_numpy())
    comp_value = np.where(is_bsol, eng, out["_bsol"].astype("float64"))
    comparator = np.where(is_bsol, np.where(np.isnan(eng), None, "England"), "BSOL")
    comparator = np.where(np.isnan(comp_value) & ~is_bsol, "BSOL", comparator)
    out["comparator"] = pd.array(comparator, dtype="str")
    out.loc[is_bsol & np.isnan(eng.to_numpy()), "comparator"] = pd.NA
    out["comparator_value"] = comp_value
    out = out.drop(columns="_bsol")
    judged = stats.compare_each(
        out.assign(_polarity=out["indicator_id"].map(polarity)),
        "value",
        "lower",
        "upper",
        "comparator_value",
        polarity="_polarity",
    )
    return judged.drop(columns="_polarity")


# --------------------------------------------------------------------------------------
# The indicator table
# --------------------------------------------------------------------------------------


def _check_choice(value: str, choices: Sequence[str], what: str) -> str:
    value = str(value)
    if value not in choices:
        raise ParameterError(f"{what} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def derived_ids() -> set[str]:
    """Every derived id the registry's flags ask for (``<id>_DSR``, ``<id>_RVE``).

    Examples:
        >>> "HYP_PREV_DSR" in derived_ids()
        True
    """
    return (
        {f"{b}{DSR_SUFFIX}" for b in DSR_BASES}
        | {f"{b}{RVE_SUFFIX}" for b in RVE_BASES}
        | {f"{b}{ISR_SUFFIX}" for b in DSR_BASES}
    )


def _requested_ids(indicators: Sequence[str] | str | None) -> tuple[list[str] | None, set[str]]:
    """Split requested ids into cube ids and derived ids (``_DSR``, ``_RVE``)."""
    valid_derived = derived_ids()
    if indicators is None:
        return None, valid_derived
    if isinstance(indicators, str):
        indicators = [i.strip() for i in indicators.split(",") if i.strip()]
    derived, base = set(), []
    for i in indicators:
        if i in valid_derived:
            derived.add(i)
            base.append(i.rsplit("_", 1)[0])
        elif i.endswith((DSR_SUFFIX, RVE_SUFFIX, ISR_SUFFIX)):
            raise ParameterError(
                f"Unknown indicator id {i}: the standardised ids are "
                f"{', '.join(sorted(valid_derived))}."
            )
        else:
            base.append(i)
    return list(dict.fromkeys(base)), derived


def statistic_of(indicator_id: str) -> str:
    """The registry's statistic for an id (``proportion`` for ids the registry lacks).

    Examples:
        >>> statistic_of("HYP_PREV"), statistic_of("EOL_ED_MEAN"), statistic_of("XYZ")
        ('proportion', 'rate', 'proportion')
    """
    try:
        return str(get_indicator(indicator_id).statistic)
    except ParameterError:
        return "proportion"


def rates(counts: pd.DataFrame, multiplier: float) -> pd.DataFrame:
    """Crude rates with Byar's 95% limits (exact below 10 events) for every row.

    Examples:
        >>> counts = pd.DataFrame({"indicator_id": ["EOL_ED_MEAN"], "area": ["BSOL"],
        ...                        "numerator": [300], "denominator": [100]})
        >>> rates(counts, 1)[["value", "lower", "upper", "method"]].round(3)
           value  lower  upper method
        0    3.0  2.671   3.36  Byars
    """
    return _stat_frame(stats.rate(counts, "numerator", "denominator", multiplier=multiplier))


def registry_dsr(strata: pd.DataFrame) -> pd.DataFrame:
    """Directly standardised rates of the registry's ``dsr`` indicators (ACSC, U75 cancer).

    Each indicator is standardised to the ESP2013 over its own ``age_range`` with its
    ``multiplier`` (per 100,000) and Dobson limits; fewer than 10 events give a missing
    value (``stats.dsr``'s rule).

    Args:
        strata: a roll-up with an ``age_band`` column (see :func:`rollup`).

    Returns:
        A new frame, one row per roll-up cell, ``indicator_id`` unchanged.

    Examples:
        >>> strata = pd.DataFrame({"reporting_date": "2025-03-31",
        ...     "indicator_id": "MORT_CANCER_U75", "area_type": "BSOL", "area": "BSOL",
        ...     "breakdown": "overall", "group": "All", "age_band": ["70-74", "75-79"],
        ...     "numerator": [20, 0], "denominator": [10_000, 0]})
        >>> registry_dsr(strata)[["value", "method"]].round(2)
           value                     method
        0  10.99  Dobson, ESP2013 ages 0-74
    """
    sdc_mod.require_columns(strata, _STRATA_COLUMNS, "registry_dsr")
    by = [c for c in _ID if c in strata.columns]
    pieces = []
    for i in [str(x) for x in pd.unique(strata["indicator_id"])]:
        info = get_indicator(i)
        use = strata[strata["indicator_id"] == i]
        # events in a band with no population (deaths of people not registered at the
        # reporting date, in a small area) leave the rate undefined: such cells get none
        bad = use.loc[(use["denominator"] == 0) & (use["numerator"] > 0), by].drop_duplicates()
        if len(bad):
            flagged = use.merge(bad.assign(_bad=True), on=by, how="left")["_bad"]
            use, bad = use[flagged.isna().to_numpy()], use[flagged.notna().to_numpy()]
            pieces.append(_undefined_dsr(bad, by))
        cells, use = _cell_key(use, by)
        use = use.assign(age_band=use["age_band"].astype("category"))
        out = stats.dsr(
            use,
            "numerator",
            "denominator",
            by="_cell",
            age_col="age_band",
            multiplier=info.multiplier,
            age_range=_age_range(i),
        )
        pieces.append(_with_cells(out, cells, ""))
    return pd.concat(pieces, ignore_index=True) if pieces else _no_statistics(by)


def _undefined_dsr(strata: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Cells whose DSR is undefined: counts summed, value missing, the reason in ``method``."""
    out = strata.groupby(by, as_index=False, sort=False)[["numerator", "denominator"]].sum()
    return out.assign(
        value=np.nan, lower=np.nan, upper=np.nan, confidence=0.95,
        method="Dobson; not computable: events in an age band with no population",
    )  # fmt: skip


def _crude_rates(counts: pd.DataFrame) -> pd.DataFrame:
    """Crude rates at each indicator's registry multiplier (method says ``crude``)."""
    pieces = []
    for i in [str(x) for x in pd.unique(counts["indicator_id"])]:
        out = rates(counts[counts["indicator_id"] == i], get_indicator(i).multiplier)
        pieces.append(out.assign(method="crude rate, " + out["method"].astype("str")))
    return pd.concat(pieces, ignore_index=True)


def _statistics_by_kind(
    cube: pd.DataFrame,
    area_types: Sequence[str],
    breakdowns: Sequence[str],
    *,
    view: str,
    imd: str,
) -> list[pd.DataFrame]:
    """The base statistic of every cube indicator, chosen by the registry's ``statistic``.

    ``proportion``: Wilson percentages. ``rate``: crude rate at the registry multiplier
    with Byar's limits on the total (EOL_ED_MEAN: attendances per decedent).
    ``dsr``: DSR over the indicator's age range from the cube's ``age_band`` strata; rows of
    an ``age_band`` breakdown, or a cube without ``age_band``, get crude rates whose
    ``method`` starts ``crude rate`` (never labelled as a DSR). ``life_expectancy``
    indicators come from their own cube (:func:`life_expectancy_rows`).
    """
    kind = {str(i): statistic_of(str(i)) for i in pd.unique(cube["indicator_id"])}
    ids = {k: [i for i, s in kind.items() if s == k] for k in set(kind.values())}
    other = sorted(set(kind.values()) - {"proportion", "rate", "dsr", "life_expectancy"})
    if other:
        log.info("No statistic for indicators of kind %s: left out.", ", ".join(other))
    pieces: list[pd.DataFrame] = []

    def roll(use: list[str], bds: Sequence[str], extra: Sequence[str] = ()) -> pd.DataFrame:
        part = cube[cube["indicator_id"].isin(use)]
        return rollup(part, area_types, bds, view=view, imd=imd, extra=extra)

    if ids.get("proportion"):
        pieces.append(proportions(roll(ids["proportion"], breakdowns)))
    for i in ids.get("rate", []):
        pieces.append(rates(roll([i], breakdowns), get_indicator(i).multiplier))
    if ids.get("dsr"):
        strata_ok = "age_band" in cube.columns
        with_age = [b for b in breakdowns if "age_band" in b.split("*")]
        no_age = [b for b in breakdowns if b not in with_age]
        if strata_ok:
            pieces.append(registry_dsr(roll(ids["dsr"], no_age, ["age_band"])))
        else:
            log.warning("No age_band in the cube: %s shown as crude rates.", ids["dsr"])
        crude = breakdowns if not strata_ok else with_age
        if crude:
            pieces.append(_crude_rates(roll(ids["dsr"], crude)))
    return pieces


#: Area types with life expectancy (practices and PCNs are far below the size rule).
LE_AREA_TYPES: tuple[str, ...] = ("BSOL", "locality")
#: Breakdowns with life expectancy, each by sex (``overall`` becomes ``sex``).
LE_BREAKDOWNS: tuple[str, ...] = ("overall", "imd_quintile", "imd_decile")
#: Id of the slope index of inequality in life expectancy across IMD deciles, by sex.
LE_SII_ID = "LE_SII"
_LE_ID = "LE_BIRTH"


def life_expectancy_keys(
    area_types: Sequence[str], *, view: str = "practice", imd: str = "2025"
) -> list[str]:
    """Cube keys of the LE_BIRTH cube: areas, IMD quintile and decile, ``sex``, ``le_age_band``.

    Examples:
        >>> life_expectancy_keys(["BSOL", "locality", "pcn"])
        ['practice_locality', 'imd2025_quintile', 'imd2025_decile', 'sex', 'le_age_band']
    """
    areas = [a for a in area_types if a in LE_AREA_TYPES]
    keys = cube_keys(areas, LE_BREAKDOWNS, view=view, imd=imd, standardise=False)
    return [*keys, "sex", "le_age_band"]


def _with_reason(method: pd.Series, reason: pd.Series, default: str) -> pd.Series:
    """``method``, followed by ``; not computable: <reason>`` where a reason is given."""
    method = method.fillna(default).astype("str")
    reason = reason.fillna("").astype("str").str.removeprefix("not computable: ")
    return method.where(reason == "", method + "; not computable: " + reason)


def _le_group(breakdown: pd.Series, group: pd.Series, sex: pd.Series) -> tuple[Any, Any]:
    """``overall`` by sex becomes breakdown ``sex``; a deprivation group ``<q>*sex``."""
    sex_label = sex.map(SEX_LABELS).fillna(UNKNOWN).astype("str")
    overall = (breakdown == "overall").to_numpy()
    bd = np.where(overall, "sex", breakdown.astype("str") + "*sex")
    grp = np.where(overall, sex_label, group.astype("str") + CROSS_SEP + sex_label)
    return bd, grp


def life_expectancy_rows(
    le_cube: pd.DataFrame,
    area_types: Sequence[str],
    breakdowns: Sequence[str],
    *,
    view: str = "practice",
    imd: str = "2025",
) -> pd.DataFrame:
    """Life expectancy at birth by sex (LE_BIRTH) and its SII across IMD deciles (LE_SII).

    From the LE_BIRTH cube (keys of :func:`life_expectancy_keys`): for BSOL and each
    locality, overall and by IMD quintile and decile (deprivation of residence), each by
    sex, ``stats.life_expectancy(..., size_rule="contract", ages=0)``; a cell that fails
    the size rule (5,000 person-years and 50 deaths) or another rule of the method has a
    missing value and ``method`` ending with the reason. ``LE_SII`` is ``stats.sii`` over
    the ten deciles' life expectancies and 95% limits (``value_type="normal"``, 100,000
    simulations), in years from most to least deprived, by sex (breakdown ``sex``); it is
    missing when a decile has none. ``numerator`` and ``denominator`` are counts that
    disclosure control can protect: deaths (3 years) and person-years (3 x population).

    Returns:
        A new frame of statistics (``suppressed`` not yet added): ``breakdown`` ``sex``,
        ``imd_quintile*sex`` or ``imd_decile*sex``, groups such as ``"Female"`` or
        ``"Q1 (most deprived) | Female"``.
    """
    areas = [a for a in area_types if a in LE_AREA_TYPES]
    bds = [b for b in LE_BREAKDOWNS if b in breakdowns or b == "imd_decile"]
    rows = le_cube[le_cube["indicator_id"] == _LE_ID]
    rows = rows[rows["sex"].isin(list(SEX_LABELS))]
    if rows.empty or not areas:
        return _no_statistics(list(_ID))
    strata = rollup(rows, areas, bds, view=view, imd=imd, extra=["sex", "le_age_band"])
    counts = life_table_counts(strata)
    keys = [c for c in counts.columns if c not in ("age_band", "deaths", "person_years")]
    out = stats.life_expectancy(
        counts, "deaths", "person_years", by=keys, ages=0, size_rule="contract"
    )
    out = out.assign(
        indicator_id=_LE_ID, method=_with_reason(out["method"], out["reason"], "Chiang II")
    )
    sii = _le_sii(out[out["breakdown"] == "imd_decile"], keys)
    out = out[out["breakdown"].isin(breakdowns)]
    bd, grp = _le_group(out["breakdown"], out["group"], out["sex"])
    out = out.assign(breakdown=bd, group=grp)
    stat = ["value", "lower", "upper", "numerator", "denominator", "confidence", "method"]
    return pd.concat([out[[*_ID, *stat]], sii[[*_ID, *stat]]], ignore_index=True)


def _le_sii(deciles: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """LE_SII rows from the decile life expectancies (see :func:`life_expectancy_rows`)."""
    use = deciles[deciles["group"] != UNKNOWN]
    use = use.assign(_q=pd.to_numeric(use["group"].str.extract(r"^D(\d+)")[0]))
    by = [k for k in keys if k not in ("breakdown", "group")]
    if use["_q"].nunique() < 5:  # too few deciles anywhere for a slope index
        return _no_statistics(list(_ID))
    out = stats.sii(
        use, "_q", "denominator", value="value", lower="lower", upper="upper", by=by,
        value_type="normal", repetitions=100_000, seed=2024, rii=False,
    )  # fmt: skip
    totals = use.groupby(by, as_index=False)[["numerator", "denominator"]].sum()
    out = out.drop(columns=["numerator", "denominator"]).merge(totals, on=by, how="left")
    out = out.assign(
        indicator_id=LE_SII_ID,
        breakdown="sex",
        group=out["sex"].map(SEX_LABELS).fillna(UNKNOWN).astype("str"),
        method=_with_reason(out["method"], out["reason"], "SII"),
    )
    return out


def indicator_statistics(
    cube: pd.DataFrame,
    *,
    by: str | Sequence[str] = "locality",
    view: str = "practice",
    imd: str = "2025",
    derived: set[str] | None = None,
    reference: pd.DataFrame | None = None,
    le_cube: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Roll a cube up and add the statistics, before disclosure control and comparisons.

    Each indicator gets its registry statistic (:func:`statistic_of`): percentages,
    rates, DSRs over the indicator's age range, or, from ``le_cube``, life expectancy
    and its slope index (:func:`life_expectancy_rows`).

    Args:
        cube: the output of ``indicators.compute_cube`` with the keys of :func:`cube_keys`.
        by: area types and breakdowns (see :func:`parse_by`).
        view: ``"practice"`` or ``"resident"``.
        imd: ``"2025"`` or ``"2019"``.
        derived: derived ids to add (``HYP_PREV_DSR``, ``HYP_PREV_RVE``, ...).
        reference: reference prevalence for the ``_RVE`` ids (see
            :func:`normalise_reference_rates`); without it they are left out.
        le_cube: the LE_BIRTH cube (keys of :func:`life_expectancy_keys`); without it
            LE_BIRTH and LE_SII are left out.

    Returns:
        A new frame of statistics with ``suppressed`` false everywhere (an empty frame
        when no indicator has a population).

    Examples:
        >>> cube = pd.DataFrame({"reporting_date": pd.Timestamp("2025-03-31"),
        ...     "practice_locality": ["East", "West"], "indicator_id": "HYP_PREV",
        ...     "numerator": [150, 90], "denominator": [1000, 1000]})
        >>> indicator_statistics(cube)[["area", "value", "suppressed"]]
           area  value  suppressed
        0  BSOL   12.0       False
        1  East   15.0       False
        2  West    9.0       False
    """
    view = _check_choice(view, VIEWS, "view")
    imd = _check_choice(str(imd), IMD_VERSIONS, "imd")
    area_types, breakdowns = parse_by(by)
    derived = set(derived or ())
    sdc_mod.require_columns(cube, _CUBE_COLUMNS, "indicator_statistics")
    cube = _compact(cube)
    pieces = _statistics_by_kind(cube, area_types, breakdowns, view=view, imd=imd)
    dsr_ids = [b for b in DSR_BASES if f"{b}{DSR_SUFFIX}" in derived]
    if dsr_ids and "age_band" in cube.columns:
        use = cube[cube["indicator_id"].isin(dsr_ids)]
        no_age = [b for b in breakdowns if "age_band" not in b.split("*")]
        strata = rollup(use, area_types, no_age, view=view, imd=imd, extra=["age_band"])
        pieces.append(standardised_prevalence(strata))
    rve_ids = [b for b in RVE_BASES if f"{b}{RVE_SUFFIX}" in derived]
    if reference is not None:
        rve_ids = [b for b in rve_ids if b in set(reference["indicator_id"])]
    if rve_ids and reference is not None and {"age_band", "sex"} <= set(cube.columns):
        use = cube[cube["indicator_id"].isin(rve_ids)]
        strata = rollup(use, area_types, breakdowns, view=view, imd=imd, extra=["age_band", "sex"])
        pieces.append(recorded_vs_expected(strata, reference))
    isr_ids = [b for b in DSR_BASES if f"{b}{ISR_SUFFIX}" in derived]
    if isr_ids and {"age_band", "sex"} <= set(cube.columns):
        use = cube[cube["indicator_id"].isin(isr_ids)]
        strata = rollup(use, area_types, ["overall"], view=view, imd=imd, extra=["age_band", "sex"])
        pieces.append(bsol_standardised_ratios(strata))
    if le_cube is not None and len(le_cube):
        pieces.append(life_expectancy_rows(le_cube, area_types, breakdowns, view=view, imd=imd))
    missing_ref = [b for b in RVE_BASES if f"{b}{RVE_SUFFIX}" in derived and b not in rve_ids]
    if missing_ref:
        log.info("No reference prevalence for %s: no _RVE ratio.", ", ".join(missing_ref))
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        return _empty_table()
    table = pd.concat(pieces, ignore_index=True)
    table["view"] = view
    table["confidence"] = table["confidence"].astype("float64")
    for col in ("numerator", "denominator", "value", "lower", "upper"):
        table[col] = table[col].astype("float64")
    table["suppressed"] = False
    table["suppression_reason"] = pd.Series(pd.NA, index=table.index, dtype="str")
    return table


def finish_table(
    table: pd.DataFrame,
    cube_ids: Sequence[str],
    *,
    derived: set[str] | None = None,
    keep: Sequence[str] | None = None,
    polarity: Mapping[str, str] | None = None,
    england: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Keep the published ids, compare each row with its comparator and order the frame.

    Run after disclosure control, so that a suppressed value is never a comparator.

    Args:
        table: statistics from :func:`indicator_statistics`, protected.
        cube_ids: the cube's indicator ids, in order.
        derived: the derived ids asked for.
        keep: base indicator ids to publish (default all); the others only fed the derived
            ids and their disclosure control.
        polarity: indicator id -> polarity for the comparisons.
        england: indicator id -> England value (percent).

    Returns:
        A new frame with :data:`TIDY_COLUMNS`.
    """
    if table.empty:
        log.warning("No indicator has a population at these dates: the table is empty.")
        return _empty_table()
    derived = set(derived or ())
    if keep is not None:
        published = set(keep) | {i for i in derived if i.rsplit("_", 1)[0] in set(cube_ids)}
        table = table[table["indicator_id"].isin(list(published))].reset_index(drop=True)
    pol = dict(polarity or {})
    for b in DSR_BASES:
        if b in pol:
            pol.setdefault(f"{b}{DSR_SUFFIX}", pol[b])
    for b in RVE_BASES:
        pol.setdefault(f"{b}{RVE_SUFFIX}", RVE_POLARITY)
    table = add_comparisons(table, polarity=pol, england=england)
    order: list[str] = []
    for i in cube_ids:
        order += [i, f"{i}{DSR_SUFFIX}", f"{i}{RVE_SUFFIX}", f"{i}{ISR_SUFFIX}"]
    return _order(table, order)


def tidy_indicators(
    cube: pd.DataFrame,
    *,
    by: str | Sequence[str] = "locality",
    view: str = "practice",
    imd: str = "2025",
    derived: set[str] | None = None,
    reference: pd.DataFrame | None = None,
    polarity: Mapping[str, str] | None = None,
    england: Mapping[str, float] | None = None,
    sdc: bool = True,
    policy: sdc_mod.SDCPolicy = sdc_mod.DEFAULT_POLICY,
    keep: Sequence[str] | None = None,
    le_cube: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Turn a cube into the tidy indicator frame (statistics, protection, comparators).

    :func:`indicator_statistics`, then :func:`bsol_analytics.protection.protect_run` when
    ``sdc`` is on, then :func:`finish_table` (see them for the arguments).

    Examples:
        >>> cube = pd.DataFrame({"reporting_date": pd.Timestamp("2025-03-31"),
        ...     "practice_locality": ["East", "West"], "indicator_id": "HYP_PREV",
        ...     "numerator": [150, 90], "denominator": [1000, 1000]})
        >>> t = tidy_indicators(cube, polarity={"HYP_PREV": "no judgement"})
        >>> t[["area", "value", "comparator", "comparison"]]
           area  value comparator comparison
        0  BSOL   12.0        NaN not compared
        1  East   15.0       BSOL     higher
        2  West    9.0       BSOL      lower
    """
    sdc_mod.require_columns(cube, _CUBE_COLUMNS, "tidy_indicators")
    table = indicator_statistics(
        cube, by=by, view=view, imd=imd, derived=derived, reference=reference, le_cube=le_cube
    )
    audit = None
    if sdc and not table.empty:
        area_types, _ = parse_by(by)
        areas = area_parents(cube, area_types, view)
        protected = protect_run({"indicators": table}, areas, policy)
        protected.raise_if_failed()  # nothing is published when the audit fails
        table = protected["indicators"]
        audit = {"audit": protected.summary(), "areas": areas.to_dict("records")}
    cube_ids = [str(i) for i in pd.unique(cube["indicator_id"])]
    if le_cube is not None and len(le_cube):
        cube_ids += [i for i in (_LE_ID, LE_SII_ID) if i not in cube_ids]
        keep = None if keep is None else [*keep, *([LE_SII_ID] if _LE_ID in keep else [])]
    out = finish_table(
        table, cube_ids, derived=derived, keep=keep, polarity=polarity, england=england
    )
    if audit is not None:
        out.attrs[SDC_ATTR] = audit  # the disclosure audit, for the run's manifest
    return out


def _empty_table() -> pd.DataFrame:
    floats = {c for c in TIDY_COLUMNS if c in stats.STAT_COLUMNS and c != "method"}
    floats.add("comparator_value")
    return pd.DataFrame(
        {
            c: pd.Series(
                dtype="float64"
                if c in floats
                else "datetime64[ms]"
                if c == "reporting_date"
                else bool
                if c == "suppressed"
                else "str"
            )
            for c in TIDY_COLUMNS
        }
    )


def _compact(cube: pd.DataFrame) -> pd.DataFrame:
    """A copy of the cube with text keys as categories (fast, repeated group-bys)."""
    text = [
        c
        for c in cube.columns
        if c not in ("reporting_date", "numerator", "denominator")
        and (pd.api.types.is_string_dtype(cube[c]) or cube[c].dtype == object)
    ]
    return cube.astype({c: "category" for c in text})


def _area_rank(area: pd.Series) -> np.ndarray:
    """Localities in their usual order (Central … Solihull), then other areas A-Z."""
    codes, uniq = pd.factorize(area.astype("str"), sort=True)
    usual = {name: n for n, name in enumerate(LOCALITIES)}
    rank = np.array([usual.get(str(u), len(usual) + i) for i, u in enumerate(uniq)], dtype=int)
    return rank[codes] if len(uniq) else codes


def _order(table: pd.DataFrame, ids: Sequence[str]) -> pd.DataFrame:
    ids = [*ids, *sorted(set(table["indicator_id"]) - set(ids))]
    id_rank = table["indicator_id"].map({i: n for n, i in enumerate(ids)})
    area_rank = table["area_type"].map({a: n for n, a in enumerate(AREA_TYPES)})
    bd = [str(b) for b in pd.unique(table["breakdown"])]
    bd_rank = table["breakdown"].map({b: n for n, b in enumerate(bd)})
    sort = pd.DataFrame(
        {
            "d": table["reporting_date"],
            "i": id_rank,
            "a": area_rank,
            "n": _area_rank(table["area"]),
            "b": bd_rank,
            "g": _group_rank(table["breakdown"], table["group"]),
            "gl": pd.factorize(table["group"].astype("str"), sort=True)[0],
        }
    )
    order = sort.sort_values(list(sort.columns), kind="stable").index
    out = table.loc[order, list(TIDY_COLUMNS)].reset_index(drop=True)
    for col in (
        "indicator_id",
        "view",
        "area_type",
        "area",
        "breakdown",
        "group",
        "method",
        "comparator",
        "comparison",
        "suppression_reason",
    ):
        out[col] = out[col].astype("str")
    out["suppressed"] = out["suppressed"].astype(bool)
    return out


def indicator_table(
    data: Any,
    reporting_dates: Any = None,
    by: str | Sequence[str] = "locality",
    view: str = "practice",
    imd: str = "2025",
    engine: str = "pandas",
    indicators: Sequence[str] | str | None = None,
    sdc: bool = True,
    *,
    policy: sdc_mod.SDCPolicy = sdc_mod.DEFAULT_POLICY,
) -> pd.DataFrame:
    """Every indicator with its breakdowns, statistics, comparators and disclosure control.

    The cube is computed once, with the union of the keys every breakdown needs, and rolled
    up in pandas.

    Args:
        data: a prepared folder, an extract folder, or a mapping of table name to DataFrame.
        reporting_dates: one date, several, or ``None`` for :func:`default_reporting_date`.
        by: area types (``locality``, ``pcn``, ``practice``) and breakdowns, e.g.
            ``"locality,imd_quintile,imd_quintile*ethnicity_broad"``; BSOL is always in.
        view: ``"practice"`` (locality of the practice) or ``"resident"`` (of the LSOA).
        imd: ``"2025"`` or ``"2019"``.
        engine: ``"pandas"``, ``"duckdb"`` or ``"spark"``.
        indicators: ids (default all, with the ``_DSR`` and ``_RVE`` versions).
        sdc: apply the disclosure-control policy (turn off only in the secure environment).
        policy: the disclosure-control policy.

    Returns:
        The tidy indicator frame (:data:`TIDY_COLUMNS`).

    Raises:
        ParameterError: an invalid parameter, named with the valid choices.

    Examples:
        >>> indicator_table({}, "2025-03-31", by="ward")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: --by: 'ward' is not a breakdown...
    """
    view = _check_choice(view, VIEWS, "view")
    imd = _check_choice(str(imd), IMD_VERSIONS, "imd")
    area_types, breakdowns = parse_by(by)
    base_ids, derived = _requested_ids(indicators)
    with open_data(data) as tables:
        dates = reporting_dates_for(tables, reporting_dates, base_ids)
        strata = bool(derived) or any(
            statistic_of(i) == "dsr" for i in (base_ids or [x.id for x in list_indicators()])
        )
        keys = cube_keys(area_types, breakdowns, view=view, imd=imd, standardise=strata)
        le_keys = life_expectancy_keys(area_types, view=view, imd=imd)
        # read once for every cube below: of the patients only the columns they use, and
        # only the tables the requested indicators need
        tables = load_tables(tables, engine, keys=[*keys, *le_keys], indicators=base_ids)
        cube = compute_cube(tables, dates, keys, engine=engine, indicators=base_ids)
        ok, skipped = computable_indicators(tables, engine)
        if base_ids is not None:
            skipped = {i: r for i, r in skipped.items() if i in base_ids}
        le_cube = None
        if _LE_ID in ok and (base_ids is None or _LE_ID in base_ids):
            le_cube = compute_cube(tables, dates, le_keys, engine=engine, indicators=[_LE_ID])
    keep = None
    if indicators is not None:
        wanted = [
            i.strip()
            for i in (indicators.split(",") if isinstance(indicators, str) else indicators)
        ]
        present = {str(i) for i in pd.unique(cube["indicator_id"])}
        keep = [i for i in wanted if i in present]
    reference = None
    if any(i.endswith(RVE_SUFFIX) for i in derived):
        try:
            reference = _reference_rates()
        except ParameterError as err:
            log.warning("Recorded-versus-expected ratios are left out: %s", err)
    polarity, england = registry_meta([str(i) for i in pd.unique(cube["indicator_id"])])
    table = tidy_indicators(
        cube,
        by=[*area_types, *breakdowns],
        view=view,
        imd=imd,
        derived=derived,
        reference=reference,
        polarity=polarity,
        england=england,
        sdc=sdc,
        policy=policy,
        keep=keep,
        le_cube=le_cube,
    )
    out = with_skipped(table, skipped, dates, view)
    out.attrs.update(table.attrs)  # the disclosure audit (SDC_ATTR)
    return out


#: ``method`` of the row that lists an indicator the extract could not give.
SKIPPED_METHOD = "skipped: "


def with_skipped(
    table: pd.DataFrame, skipped: Mapping[str, str], dates: Sequence[Any], view: str
) -> pd.DataFrame:
    """Add one row per skipped indicator and date (BSOL, overall), the reason in ``method``.

    A version 1 extract lacks the inputs of the version 2 indicators
    (``indicators.computable_indicators``); their rows have no counts or values and
    ``method`` ``"skipped: <reason>"``.

    Examples:
        >>> t = with_skipped(_empty_table(), {"CVD_LLT": "the extract has no medications "
        ...     "table"}, ["2025-03-31"], "practice")
        >>> t[["indicator_id", "area", "value", "method"]].values.tolist()
        [['CVD_LLT', 'BSOL', nan, 'skipped: the extract has no medications table']]
    """
    if not skipped:
        return table
    rows = pd.DataFrame(
        [
            {"reporting_date": pd.Timestamp(d), "indicator_id": i, "method": SKIPPED_METHOD + r}
            for d in dates
            for i, r in skipped.items()
        ]
    )
    rows = rows.assign(
        view=view, area_type="BSOL", area="BSOL", breakdown="overall", group=ALL,
        comparison="not compared", suppressed=False,
    )  # fmt: skip
    full = _empty_table() if table.empty else table
    rows = rows.reindex(columns=list(TIDY_COLUMNS)).astype(full.dtypes.to_dict())
    return pd.concat([full, rows], ignore_index=True) if len(full) else rows


def skipped_indicators(table: pd.DataFrame) -> dict[str, str]:
    """``{id: reason}`` of the skipped-indicator rows of a tidy frame (:func:`with_skipped`).

    Examples:
        >>> t = with_skipped(_empty_table(), {"X": "no data"}, ["2025-03-31"], "practice")
        >>> skipped_indicators(t)
        {'X': 'no data'}
    """
    method = table["method"].astype("str")
    rows = table[method.str.startswith(SKIPPED_METHOD)]
    reasons = rows["method"].astype("str").str.removeprefix(SKIPPED_METHOD)
    return dict(zip(rows["indicator_id"].astype("str"), reasons, strict=True))


def reporting_dates_for(
    tables: Any,
    reporting_dates: Any,
    indicator_ids: Sequence[str] | None = None,
    cov: Coverage | None = None,
) -> list[dt.date]:
    """The reporting dates of a run: parsed and checked against the extract's coverage.

    ``None`` gives the default, the last complete quarter in the data
    (:func:`bsol_analytics.dates.default_reporting_date`). ``cov``, when given, is the
    coverage of ``tables`` already worked out (then the tables are not read again).

    Raises:
        ParameterError: a date the extract cannot support (exit code 2), naming coverage.

    Examples:
        >>> ev = pd.DataFrame({"event_date": pd.to_datetime(["2019-04-01", "2025-03-31"]),
        ...     "cluster": "SBP"})
        >>> reporting_dates_for({"clinical_events": ev}, None)
        [datetime.date(2025, 3, 31)]
    """
    cov = coverage(tables) if cov is None else cov
    if reporting_dates is None:
        reporting_dates = [default_reporting_date(cov)]
    elif isinstance(reporting_dates, str | dt.date | pd.Timestamp):
        reporting_dates = [reporting_dates]
    dates = [parse_date(d) for d in reporting_dates]
    windows = lookback_windows(indicator_ids)
    for d in dates:
        check_reporting_date(d, cov, windows)
    return dates


def _sii_inputs(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows an SII is fitted to: age-standardised values where an id has them.

    A base id with a ``_DSR`` version in ``rows`` uses the ``_DSR`` values (relabelled
    with the base id, ``basis`` ``age-standardised``); ``_DSR`` and ``_RVE`` ids are not
    indexed themselves. Adds ``_type`` (``proportion``, ``rate`` or ``normal``).
    """
    ids = rows["indicator_id"].astype("str")
    is_dsr = ids.str.endswith(DSR_SUFFIX)
    dsr_bases = set(ids[is_dsr].str.removesuffix(DSR_SUFFIX))
    crude = rows[~is_dsr & ~ids.str.endswith(RVE_SUFFIX) & ~ids.isin(dsr_bases)]
    std = rows[is_dsr].assign(indicator_id=ids[is_dsr].str.removesuffix(DSR_SUFFIX))
    out = pd.concat(
        [crude.assign(basis="crude"), std.assign(basis="age-standardised")], ignore_index=True
    )
    kind = {i: statistic_of(i) for i in pd.unique(out["indicator_id"].astype("str"))}
    stat = out["indicator_id"].astype("str").map(kind)
    vtype = np.where(
        (stat == "proportion") | (out["basis"] == "age-standardised"),
        "proportion",
        np.where(stat.isin(["rate", "dsr"]), "rate", "normal"),
    )
    return out.assign(_type=vtype)


def inequality_summary(
    table: pd.DataFrame,
    over: str = "imd_quintile",
    *,
    repetitions: int = 100_000,
    seed: int = 2024,
) -> pd.DataFrame:
    """Slope and relative index of inequality across IMD quantiles, per area.

    Uses the published rows of ``table`` (the tidy indicator frame): an area whose quantiles
    are not all published (one suppressed, say) gets missing values rather than an index
    that could reveal the suppressed cell. Where ``table`` holds an indicator's
    age-standardised version (``<ID>_DSR``) the index is fitted to those values, not the
    crude ones (deprived areas are younger, which reverses crude gradients). Percentages
    are modelled on the logit scale and rates on the log scale (``stats.sii(...,
    transform=True)``); other values (life expectancy) on their own scale. Limits use
    ``repetitions`` simulations (the reference's 100,000 by default).

    Args:
        table: the tidy indicator frame with the ``over`` breakdown.
        over: ``"imd_quintile"`` or ``"imd_decile"``.
        repetitions: simulations for the limits.
        seed: random seed, for reproducible limits.

    Returns:
        A new frame ``indicator_id`` (the base id), ``reporting_date, view, area_type,
        area, breakdown, statistic (sii/rii), value, lower, upper, confidence, method,
        reason, basis`` (``crude`` or ``age-standardised``); SII in the indicator's units
        (percentage points for percentages) from most to least deprived.

    Raises:
        ParameterError: ``over`` is not a deprivation breakdown or is missing from ``table``.

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "2025-03-31",
        ...     "view": "practice", "area_type": "BSOL", "area": "BSOL",
        ...     "breakdown": "imd_quintile",
        ...     "group": ["Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5 (least deprived)"],
        ...     "value": [30.0, 28, 26, 24, 22], "lower": [29.0, 27, 25, 23, 21],
        ...     "upper": [31.0, 29, 27, 25, 23], "denominator": [1000.0] * 5,
        ...     "suppressed": False})
        >>> inequality_summary(t, repetitions=2000)[["statistic", "value", "basis"]].round(2)
          statistic  value  basis
        0       sii -10.01  crude
        1       rii   0.68  crude
    """
    over = _check_choice(over, ("imd_quintile", "imd_decile"), "over")
    sdc_mod.require_columns(
        table,
        ["indicator_id", "reporting_date", "view", "area_type", "area", "breakdown", "group",
         "value", "lower", "upper", "denominator"],
        "inequality_summary",
    )  # fmt: skip
    rows = table[table["breakdown"] == over]
    if rows.empty:
        raise ParameterError(
            f"inequality_summary(): the table has no '{over}' breakdown; add it to --by."
        )
    rows = _sii_inputs(rows[rows["group"] != UNKNOWN])
    rows["_q"] = pd.to_numeric(rows["group"].str.extract(r"^[QD](\d+)")[0], errors="coerce")
    rows["_pop"] = rows["denominator"].fillna(0.0)
    ids = ["indicator_id", "reporting_date", "view", "area_type", "area", "breakdown", "basis"]
    pieces = []
    for vtype in ("proportion", "rate", "normal"):
        use = rows[rows["_type"] == vtype].copy()
        if use.empty:
            continue
        scale = 100.0 if vtype == "proportion" else 1.0
        for col in ("value", "lower", "upper"):
            use[col] = use[col] / scale
        out = stats.sii(
            use,
            "_q",
            "_pop",
            value="value",
            lower="lower",
            upper="upper",
            by=ids,
            value_type=vtype,
            transform=vtype != "normal",
            multiplier=scale,
            repetitions=repetitions,
            seed=seed,
        )
        pieces.append(out)
    out = pd.concat(pieces, ignore_index=True)
    cols = [c for c in out.columns if c != "basis"] + ["basis"]
    return out[cols].drop(columns=["numerator", "denominator", "multiplier"], errors="ignore")


__all__ = [
    "AREA_TYPES",
    "BREAKDOWNS",
    "DSR_BASES",
    "ISR_SUFFIX",
    "RVE_ADJUSTS_FOR",
    "RVE_BASES",
    "RVE_POLARITY",
    "TIDY_COLUMNS",
    "add_comparisons",
    "bsol_standardised_ratios",
    "cube_keys",
    "derived_ids",
    "finish_table",
    "group_labels",
    "indicator_statistics",
    "indicator_table",
    "inequality_summary",
    "normalise_reference_rates",
    "parse_by",
    "proportions",
    "rates",
    "recorded_vs_expected",
    "registry_dsr",
    "registry_meta",
    "reporting_dates_for",
    "rollup",
    "rve_metadata",
    "skipped_indicators",
    "standardised_prevalence",
    "statistic_of",
    "tidy_indicators",
    "with_skipped",
]
