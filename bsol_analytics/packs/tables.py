"""The pack tables: every number the packs show, computed once per run.

:func:`compute_tables` prepares the data if needed, reads the prepared tables once,
evaluates the indicators once per reporting date (summed by the keys each part of the packs
needs, ``indicators.compute_cubes``), computes every other table without suppression,
protects them together once (:func:`bsol_analytics.protection.protect_run`) and writes the
Parquet tables that :mod:`bsol_analytics.report` reads. Temporary folders it makes are
removed when their work ends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics import __version__
from bsol_analytics.compute import PARALLEL_MIN_PATIENTS, available_cpus
from bsol_analytics.datafolder import coverage, open_data
from bsol_analytics.dates import Coverage, lookback_gap, months_before, quarter_series
from bsol_analytics.errors import ParameterError
from bsol_analytics.indicators import (
    computable_indicators,
    compute_cube,
    compute_cubes,
    expected_prevalence,
    load_tables,
    lookback_windows,
)
from bsol_analytics.indicators.base import Frames
from bsol_analytics.indicators.end_of_life import BLANK_PLACE_ID
from bsol_analytics.indicators.registry import registry_frame
from bsol_analytics.io import atomic_write_text, make_private, private_directory
from bsol_analytics.paths import PROCESSED_DIR
from bsol_analytics.protection import areas, protect_run, rule_text
from bsol_analytics.report import (
    CELL_COLUMNS,
    PackData,
    family_of,
    fmt_date,
    load_pack,
)
from bsol_analytics.report.parameters import check_view_imd
from bsol_analytics.report.words import data_quality_notes, data_quality_table
from bsol_analytics.sdc import DEFAULT_POLICY, REASON_PRIMARY
from bsol_analytics.stats import proportion
from bsol_analytics.table import BREAKDOWNS as TABLE_BREAKDOWNS
from bsol_analytics.table import (
    ISR_SUFFIX,
    LE_AREA_TYPES,
    LE_SII_ID,
    cube_keys,
    derived_ids,
    finish_table,
    indicator_statistics,
    inequality_summary,
    life_expectancy_keys,
    life_expectancy_rows,
    normalise_reference_rates,
    parse_by,
    registry_meta,
    reporting_dates_for,
)
from bsol_analytics.vocabulary import (
    AGE_BANDS,
    ALL,
    AREA_TYPES,
    BSOL,
    CORE20_LABELS,
    DERIVED_PATTERN,
    ETHNICITY_BROAD,
    FAMILIES,
    LOCALITIES,
    PACK_AREAS,
    PREPARE_MANIFEST,
    QUINTILE_LABELS,
    RVE_SUFFIX,
    UNKNOWN,
    area_column,
    base_ids,
    missing_area,
    quantile_label,
)

#: Quarterly reporting dates shown in trends (the reporting date and the seven before).
TREND_QUARTERS = 8
#: Counts below this are suppressed in the population and demography tables.
SMALL_COUNT = int(DEFAULT_POLICY.max_count) + 1
#: Breakdowns computed for BSOL and each locality.
BREAKDOWNS: tuple[str, ...] = (
    "imd_quintile",
    "ethnicity_broad",
    "imd_quintile*ethnicity_broad",
    "sex",
)
#: Breakdowns computed for BSOL and each locality for some families only (family ->
#: breakdowns), where the table layer offers them: the diabetes targets by diabetes type.
FAMILY_BREAKDOWNS: dict[str, tuple[str, ...]] = {"diabetes": ("diabetes_type",)}
#: Breakdowns of life expectancy in the packs (each by sex; ``overall`` becomes ``sex``).
LE_PACK_BREAKDOWNS: tuple[str, ...] = ("overall", "imd_quintile", "imd_decile")
#: Age band of the single "sex not known" (``U``) row of each area in the population table.
ALL_AGES = "All ages"
#: Columns of ``wards.parquet``.
WARD_COLUMNS: tuple[str, ...] = ("indicator_id", "ward_code", *CELL_COLUMNS)
_NO_AREAS = pd.DataFrame(columns=["area_type", "area", "parent_type", "parent"], dtype="str")


def population_counts(
    patients: pd.DataFrame, reporting_date: dt.date, view: str = "practice", imd: str = "2025"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Registered population by sex and age band, and demography mixes, per area (counts).

    Patients count when registered and alive at the reporting date. Every such patient is
    in exactly one population cell: ``F`` and ``M`` by age band, and one ``U`` row per area
    (age band ``"All ages"``) for sex not known (any value other than ``F``/``M``), so the
    cells of an area add up to its registered total, which other tables publish. The counts
    are not yet protected: :func:`bsol_analytics.protection.protect_run` suppresses them
    with the lines whose totals are published (the area, the area and sex, and the sex and
    age band across areas), so a ``U`` count of 1 to 7 is suppressed together with a
    complement and cannot be found by subtraction. A patient with no locality is counted in
    the area the indicators use for them (:func:`~bsol_analytics.vocabulary.missing_area`:
    ``Outside BSOL or unknown`` in the resident view), so the localities add up to BSOL.

    Args:
        patients: the processed ``patients`` table.
        reporting_date: the reporting date.
        view: ``"practice"`` (locality of the practice) or ``"resident"``.
        imd: ``"2025"`` or ``"2019"``.

    Returns:
        ``(population, demography)`` as described in :mod:`bsol_analytics.report`, before
        disclosure control (no ``suppressed`` column yet).

    Examples:
        >>> p = pd.DataFrame({"sex": ["F", "M"], "date_of_birth": pd.to_datetime(
        ...     ["1980-01-01", "2001-06-01"]), "registration_start": pd.to_datetime(
        ...     ["2000-01-01"] * 2), "registration_end": pd.NaT, "date_of_death": pd.NaT,
        ...     "practice_locality": ["East", "East"], "resident_locality": ["East", None],
        ...     "ethnicity_broad": ["Asian", "White"], "imd2025_quintile": [1, 5],
        ...     "imd2019_quintile": [1, 4], "core20": [True, False]})
        >>> pop, demo = population_counts(p, dt.date(2025, 3, 31))
        >>> sorted(demo["breakdown"].unique())
        ['core20', 'ethnicity_broad', 'imd_quintile']
        >>> pop.groupby("sex").size().to_dict()
        {'F': 38, 'M': 38, 'U': 2}
    """
    rd = pd.Timestamp(reporting_date)
    reg_end = pd.to_datetime(patients["registration_end"])
    death = pd.to_datetime(patients["date_of_death"])
    alive = (
        (pd.to_datetime(patients["registration_start"]) <= rd)
        & (reg_end.isna() | (reg_end > rd))
        & (death.isna() | (death > rd))
    ).to_numpy(dtype=bool)
    needed = ["date_of_birth", "sex", f"imd{imd}_quintile", "ethnicity_broad"]
    p = patients[[*needed, area_column("locality", view)]][alive]  # only the columns used
    dob = pd.to_datetime(p["date_of_birth"])
    years = rd.year - dob.dt.year - ((dob.dt.month * 100 + dob.dt.day) > rd.month * 100 + rd.day)
    band = np.minimum(years.to_numpy() // 5, 18).clip(min=0)
    quint = p[f"imd{imd}_quintile"].astype("Int64")
    sex = _positions(p["sex"], ["F", "M"])
    # one population cell per patient: F and M by age band, then one "U" cell
    cell = np.where(sex >= 0, sex * len(AGE_BANDS) + band, 2 * len(AGE_BANDS))
    # a patient with no locality is in the indicators' area for it (residents elsewhere in
    # the resident view), so that the localities add up to BSOL as in every other table
    where = p[area_column("locality", view)].fillna(missing_area("locality", view))
    others = sorted(set(pd.unique(where)) - set(LOCALITIES))
    names = (*LOCALITIES, *others, BSOL)
    area = _positions(where, names)
    cells = [*((x, band) for x in ("F", "M") for band in AGE_BANDS), ("U", ALL_AGES)]
    counts = _area_counts(area, cell, len(cells), names)  # every row has a cell
    areas = [a for a, n in zip(names, counts.sum(axis=1), strict=True) if n]
    pop = pd.DataFrame(
        [(a, x, b) for a in areas for x, b in cells], columns=["area", "sex", "age_band"]
    ).assign(count=_by_areas(counts, areas, names))
    pop.insert(0, "area_type", np.where(pop["area"] == BSOL, "BSOL", "locality"))
    labels = {q: quantile_label(q, 5) for q in quint.dropna().unique()}  # once per value
    q_labels = quint.astype(object).map(labels).astype(object)
    groups_of = {  # Core20 follows the pack's IMD version: national quintile 1 of it.
        "imd_quintile": (q_labels.fillna(UNKNOWN), [*QUINTILE_LABELS, UNKNOWN]),
        "ethnicity_broad": (p["ethnicity_broad"].fillna(UNKNOWN), list(ETHNICITY_BROAD)),
        "core20": (np.where((quint == 1).fillna(False).to_numpy(bool), 0, 1), None),
    }
    demos = []
    for breakdown, (values, groups) in groups_of.items():
        if groups is None:
            groups, codes = list(CORE20_LABELS), values
        else:
            codes = _positions(values, groups)
        by_area = _area_counts(area, codes, len(groups), names)
        count = _by_areas(by_area, areas, names)
        demo = pd.DataFrame(
            [(a, g) for a in areas for g in groups], columns=["area", "group"]
        ).assign(count=count)
        total = demo.groupby("area", sort=False)["count"].transform("sum")
        demo["share"] = 100 * demo["count"] / total.where(total > 0)
        demos.append(demo.assign(breakdown=breakdown))
    demo = pd.concat(demos, ignore_index=True)
    demo.insert(0, "area_type", np.where(demo["area"] == BSOL, "BSOL", "locality"))
    pop = pop[["area_type", "area", "sex", "age_band", "count"]]
    return pop, demo[["area_type", "area", "breakdown", "group", "count", "share"]]


def _positions(values: pd.Series, labels: Sequence[str]) -> np.ndarray:
    """Each value's position in ``labels`` (-1: missing or not among them), per distinct value.

    Examples:
        >>> _positions(pd.Series(["b", None, "z", "a"]), ["a", "b"]).tolist()
        [1, -1, -1, 0]
    """
    codes, uniques = pd.factorize(values)
    where = {label: n for n, label in enumerate(labels)}
    lookup = np.array([where.get(u, -1) for u in uniques] + [-1], dtype=np.int64)
    return lookup[codes]  # code -1 (missing) takes the last entry, -1


def _by_areas(counts: np.ndarray, areas: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """The rows of ``counts`` (one per ``labels`` entry) of ``areas``, end to end."""
    rows = [counts[list(labels).index(a)] for a in areas]
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)


def _area_counts(
    area: np.ndarray, group: np.ndarray, n_groups: int, labels: Sequence[str] = PACK_AREAS
) -> np.ndarray:
    """Counts by area (one row per ``labels`` entry) and group code (group -1 left out).

    The BSOL row counts every row whatever its locality.

    Examples:
        >>> _area_counts(np.array([0, 0, -1, 1]), np.array([1, 0, 1, -1]), 2)[[0, 1, -1]]
        array([[1, 1],
               [0, 0],
               [1, 2]])
    """
    ok = group >= 0
    local = ok & (area >= 0)
    flat = np.bincount(area[local] * n_groups + group[local], minlength=len(labels) * n_groups)
    out = flat.reshape(len(labels), n_groups)
    out[list(labels).index(BSOL)] = np.bincount(group[ok], minlength=n_groups)
    return out


def finish_counts(
    population: pd.DataFrame, demography: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The published columns of the protected population tables (shares of hidden counts go).

    Examples:
        >>> pop = pd.DataFrame({"area_type": "BSOL", "area": "BSOL", "sex": "F",
        ...     "age_band": "0-4", "count": [5.0], "suppressed": True,
        ...     "suppression_reason": "primary"})
        >>> finish_counts(pop, pop.assign(breakdown="x", group="y", share=1.0))[1]["share"]
        0   NaN
        Name: share, dtype: float64
    """
    demo = demography.assign(share=demography["share"].where(~demography["suppressed"]))
    cols = ["area_type", "area", "breakdown", "group", "count", "share", "suppressed"]
    return (
        population[
            ["area_type", "area", "sex", "age_band", "count", "suppressed", "suppression_reason"]
        ],
        demo[[*cols, "suppression_reason"]],
    )


def population_tables(
    patients: pd.DataFrame, reporting_date: dt.date, view: str = "practice", imd: str = "2025"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The population and demography tables as published.

    :func:`population_counts`, protected by :func:`bsol_analytics.protection.protect_run`.

    Every count of 1 to 7 is hidden, and so is any count that would give one away.
    """
    population, demography = population_counts(patients, reporting_date, view, imd)
    out = protect_run({"population": population, "demography": demography}, _NO_AREAS)
    return finish_counts(out["population"], out["demography"])


def sii_table(indicators: pd.DataFrame, reporting_date: dt.date) -> pd.DataFrame:
    """Slope index of inequality across IMD quintiles for every indicator and area.

    Uses :func:`bsol_analytics.table.inequality_summary` on BSOL and the localities
    at the reporting date (an area with a suppressed quintile gets no SII).

    Returns:
        A new frame: ``indicator_id``, ``area``, ``value``, ``lower``, ``upper`` (percentage
        points, least minus most deprived).

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> list(sii_table(data.indicators, dt.date(2025, 3, 31)).columns)
        ['indicator_id', 'area', 'value', 'lower', 'upper']
    """
    cols = ["indicator_id", "area", "value", "lower", "upper"]
    ind = indicators
    rows = ind[
        (ind["breakdown"] == "imd_quintile")
        & ind["area_type"].isin(["BSOL", "locality"])
        & (pd.to_datetime(ind["reporting_date"]) == pd.Timestamp(reporting_date))
        # <ID>_DSR rows stay: the index is fitted to age-standardised values where they exist
        & ~ind["indicator_id"].str.endswith((RVE_SUFFIX, ISR_SUFFIX))
    ]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c in cols[2:] else str) for c in cols})
    out = inequality_summary(rows, "imd_quintile", repetitions=2000, seed=2024)
    out = out[(out["statistic"] == "sii") & (out["confidence"] == 0.95)]
    return out[cols].reset_index(drop=True)


def ward_statistics(
    processed: Path | Frames,
    reporting_date: dt.date,
    indicator_ids: Sequence[str],
    engine: str = "pandas",
    cube: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Resident-view values by ward of residence, for maps, before disclosure control.

    Counts come from ``bsol_analytics.indicators.compute_cube`` keyed by ``ward_code`` (a
    small second cube: wards are not a key of the indicator cube), proportions with Wilson
    limits from :func:`bsol_analytics.stats.proportion`. ``processed`` is a prepared
    folder or the tables already opened by ``indicators.load_tables``; ``cube``, when
    given, is that ward cube already computed (for these ids or more).

    Returns:
        A new tidy frame (``area_type`` ``ward``) with ``ward_code``; the run protects it
        with the other tables and publishes :data:`WARD_COLUMNS`.
    """
    if cube is None:
        ids = list(indicator_ids)
        cube = compute_cube(processed, [reporting_date], ["ward_code"], engine, ids)
    else:
        cube = cube[cube["indicator_id"].isin(list(indicator_ids))].reset_index(drop=True)
    cube = cube[cube["ward_code"].notna()]
    out = proportion(
        cube, "numerator", "denominator", by=["indicator_id", "ward_code"], multiplier=100
    )
    return out.assign(
        reporting_date=pd.Timestamp(reporting_date),
        view="resident",
        area_type="ward",
        area=out["ward_code"],
        breakdown="overall",
        group=ALL,
    )


def _headline_ids(indicator_ids: Iterable[str]) -> list[str]:
    """The first (base) percentage indicator of each family: the one mapped by ward."""
    meta = indicator_metadata(indicator_ids)
    statistic = registry_frame().set_index("id")["statistic"]
    meta = meta[(meta["derived"] == "") & meta["indicator_id"].map(statistic).eq("proportion")]
    return meta.drop_duplicates("family")["indicator_id"].tolist()


#: Registry columns the packs use (``indicator_meta.parquet`` adds ``derived``).
_REGISTRY_COLUMNS = (
    "indicator_id",
    "title",
    "family",
    "definition",
    "polarity",
    "unit",
    "england_value",
)


def indicator_metadata(indicator_ids: Iterable[str]) -> pd.DataFrame:
    """Titles, definitions, families, polarity and England values of the indicators.

    From ``bsol_analytics.indicators.registry.registry_frame``. Derived ids
    (``<id>_DSR`` age-standardised, ``<id>_RVE`` recorded versus expected, ``<id>_ISR``
    standardised ratio to BSOL) take their
    family from the base indicator; ids unknown to the registry fall back to their id as
    title and a family read from the id prefix.

    Returns:
        A new frame in registry order: ``indicator_id``, ``title``, ``family``,
        ``definition``, ``polarity`` (``higher is better``, ``lower is better``,
        ``no judgement``), ``unit``, ``derived`` (``""``, ``"DSR"``, ``"RVE"`` or ``"ISR"``),
        ``england_value``.

    Examples:
        >>> meta = indicator_metadata(["HYP_PREV", "HYP_PREV_RVE", "XYZ_1"])
        >>> meta[["indicator_id", "family", "derived"]].values.tolist()
        [['HYP_PREV', 'hypertension', ''], ['HYP_PREV_RVE', 'hypertension', 'RVE'], ['XYZ_1', 'other', '']]
    """  # noqa: E501
    ids = list(dict.fromkeys(str(i) for i in indicator_ids))
    reg = registry_frame().rename(columns={"id": "indicator_id"})
    reg = reg.reset_index(drop=True).assign(_order=lambda f: np.arange(len(f)))
    frame = pd.DataFrame({"indicator_id": ids})
    suffix = frame["indicator_id"].str.extract(DERIVED_PATTERN, expand=False).fillna("")
    frame["base"] = np.where(suffix != "", frame["indicator_id"].str[:-4], frame["indicator_id"])
    frame["derived"] = suffix
    cols = [*_REGISTRY_COLUMNS, "_order"]
    out = frame.merge(reg[cols].rename(columns={"indicator_id": "base"}), on="base", how="left")
    dsr, rve, isr = out["derived"] == "DSR", out["derived"] == "RVE", out["derived"] == "ISR"
    out["title"] = out["title"].fillna(out["base"])
    out.loc[dsr, "title"] = out.loc[dsr, "title"] + " (age-standardised)"
    out.loc[rve, "title"] = out.loc[rve, "title"] + ", recorded vs expected ratio"
    out.loc[isr, "title"] = out.loc[isr, "title"] + ", standardised ratio to BSOL"
    out.loc[isr, "definition"] = (
        "Observed count divided by the count expected at BSOL's age and sex specific rates "
        "(indirect standardisation); 1 means as BSOL."
    )
    out.loc[dsr, "definition"] = (
        out.loc[dsr, "definition"].fillna("")
        + " Directly age-standardised to the European Standard Population 2013."
    )
    out.loc[rve, "definition"] = (
        "Patients on the register divided by the number expected if each age and sex group "
        "had the reference prevalence (Health Survey for England for hypertension and "
        "diabetes, the PHE COPD prevalence model for COPD); 1 means as many as expected."
    )
    out.loc[rve | isr, "unit"] = "ratio"
    # As in table.finish_table: age-standardised rows keep their base indicator's
    # polarity; more of the expected cases found on a register is better.
    out.loc[rve, "polarity"] = "higher is better"
    out.loc[rve | dsr | isr, "england_value"] = np.nan
    sii = out["indicator_id"] == LE_SII_ID  # computed with LE_BIRTH, not a registry entry
    out.loc[sii, "title"] = "Life expectancy: slope index of inequality by IMD decile"
    out.loc[sii, "family"] = "mortality"
    out.loc[sii, "definition"] = (
        "The modelled gap in life expectancy at birth, in years, between the least and the "
        "most deprived ends of the population across the ten IMD deciles, by sex."
    )
    out.loc[sii, "polarity"] = "lower is better"
    out.loc[sii, "unit"] = "years"
    out["family"] = out["family"].fillna(out["base"].map(family_of))
    out["definition"] = out["definition"].fillna("Definition not available in this build.")
    out["polarity"] = out["polarity"].fillna("no judgement")
    out["unit"] = out["unit"].fillna("%")
    family_rank = {f: i for i, f in enumerate([*FAMILIES, "other"])}
    out = out.assign(
        _f=out["family"].map(family_rank).fillna(len(family_rank)),
        _d=out["derived"].map({"": 0, "DSR": 1, "RVE": 2, "ISR": 3}),
    ).sort_values(["_f", "_order", "_d"], kind="stable", na_position="last")
    keep = [*_REGISTRY_COLUMNS[:-1], "derived", "england_value"]
    return out[keep].astype({"england_value": "float64"}).reset_index(drop=True)


def _requests(reporting_date: dt.date) -> list[tuple[list[dt.date], list[str]]]:
    """What the packs publish: (reporting dates, ``--by``) pairs."""
    dates = quarter_series(reporting_date, TREND_QUARTERS)
    extra = [b for bs in FAMILY_BREAKDOWNS.values() for b in bs if b in TABLE_BREAKDOWNS]
    return [
        ([reporting_date], ["locality", *BREAKDOWNS, *extra]),
        (dates[:-1], ["locality"]),
        ([reporting_date], ["pcn", "practice"]),
    ]


def indicator_frame(
    processed: Path | Frames,
    reporting_date: dt.date,
    view: str,
    imd: str,
    engine: str,
    timings: dict[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The indicator statistics every pack needs, from one pass per date, before protection.

    The indicators are evaluated once per reporting date (``indicators.compute_cubes``)
    and summed by what each part of the packs needs: BSOL and localities with the
    breakdowns of :data:`BREAKDOWNS` at the reporting date, BSOL and localities for the
    quarterly series of the trends, PCNs and practices at the reporting date for funnel
    plots, and the life-expectancy keys. Each part is rolled up by
    :func:`bsol_analytics.table.indicator_statistics`. ``processed`` is a prepared folder
    or the tables opened once by ``indicators.load_tables`` (then nothing is read again);
    ``timings`` receives the seconds of its steps (``compute_cube``,
    ``compute_statistics``, ``compute_life_expectancy``).

    Returns:
        ``(statistics, cube)``: the unprotected statistics and the cube of the areas at the
        reporting date (its area keys make the run's areas frame).
    """
    cov = coverage(processed) if isinstance(processed, str | Path) else None
    stats, cube, _, _ = _indicator_parts(
        processed, reporting_date, view, imd, engine, timings, cov=cov
    )
    return stats, cube


def _pack_keys(reporting_date: dt.date, view: str, imd: str) -> list[str]:
    """Every patient column the run's cubes use as a key (see :func:`_cube_requests`).

    Examples:
        >>> keys = _pack_keys(dt.date(2025, 3, 31), "practice", "2025")
        >>> {"practice_code", "ward_code", "le_age_band"} <= set(keys)
        True
    """
    keys = [k for _, by in _requests(reporting_date) for k in _request_keys(by, view, imd)]
    keys += life_expectancy_keys(list(LE_AREA_TYPES), view=view, imd=imd)
    return list(dict.fromkeys([*keys, "ward_code"]))


def _request_keys(by: Sequence[str], view: str, imd: str) -> list[str]:
    """The cube keys of one request: its breakdowns, and every area key for PCN and practice."""
    area_types, breakdowns = parse_by(by)
    if {"pcn", "practice"} & set(area_types):  # every area key: the run's areas
        area_types = list(dict.fromkeys([*AREA_TYPES, *area_types]))
    return cube_keys(area_types, breakdowns, view=view, imd=imd)


def _cube_requests(
    processed: Frames, reporting_date: dt.date, view: str, imd: str, engine: str
) -> dict[str, tuple[list[dt.date], list[str], list[str] | None]]:
    """``(dates, keys, indicators)`` of each cube the packs need (see :func:`indicator_frame`).

    One per :func:`_requests` (``0``, ``1``, ``2``), ``wards`` (every computable
    percentage: the ward maps pick theirs later) and ``life_expectancy`` when the extract
    can give it.
    """
    out: dict[str, tuple[list[dt.date], list[str], list[str] | None]] = {}
    for n, (ds, by) in enumerate(_requests(reporting_date)):
        out[str(n)] = (ds, _request_keys(by, view, imd), None)
    ok = computable_indicators(processed, engine)[0]
    statistic = registry_frame().set_index("id")["statistic"]
    percentages = [i for i in ok if statistic.get(i) == "proportion"]
    out["wards"] = ([reporting_date], ["ward_code"], percentages)
    if "LE_BIRTH" in ok:
        keys = life_expectancy_keys(list(LE_AREA_TYPES), view=view, imd=imd)
        out["life_expectancy"] = ([reporting_date], keys, ["LE_BIRTH"])
    return out


def _indicator_parts(
    processed: Path | Frames,
    reporting_date: dt.date,
    view: str,
    imd: str,
    engine: str,
    timings: dict[str, float] | None = None,
    jobs: int = 1,
    cov: Coverage | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], pd.DataFrame]:
    """The statistics, the areas cube, the ids in published order and the ward cube.

    With ``cov``, the trends leave out each indicator's quarters that the extract cannot
    support (:func:`supported_rows`).
    """
    step = _Steps({} if timings is None else timings)
    processed = load_tables(processed, engine)  # read once for every cube
    requests = _cube_requests(processed, reporting_date, view, imd, engine)
    with step("cube"):
        computed = compute_cubes(processed, list(requests.values()), engine, jobs=jobs)
        cubes = dict(zip(requests, computed, strict=True))
        if cov is not None:
            cubes["1"] = supported_rows(cubes["1"], cov)
    derived = derived_ids()
    reference = normalise_reference_rates(expected_prevalence())
    frames = []
    with step("statistics"):
        for n, (_, by) in enumerate(_requests(reporting_date)):
            cube = cubes[str(n)]
            frames.append(
                indicator_statistics(
                    cube, by=by, view=view, imd=imd, derived=derived, reference=reference
                )
            )
    with step("life_expectancy"):
        le_cube = cubes.get("life_expectancy")
        frames.append(life_expectancy_frame(processed, reporting_date, view, imd, engine, le_cube))
    stats = pd.concat([f for f in frames if len(f)], ignore_index=True).drop_duplicates(
        ["indicator_id", "reporting_date", "area_type", "area", "breakdown", "group", "confidence"]
    )
    # ids as one cube of every date sorted by date then registry order would list them
    trend, current = cubes["1"], cubes["0"]
    ids = list(
        dict.fromkeys([*pd.unique(trend["indicator_id"]), *pd.unique(current["indicator_id"])])
    )
    ids += [i for i in pd.unique(cubes["2"]["indicator_id"]) if i not in ids]
    stats = family_breakdowns_only(stats).reset_index(drop=True)
    return stats, cubes["2"], [str(i) for i in ids], cubes["wards"]


def supported_rows(cube: pd.DataFrame, cov: Coverage) -> pd.DataFrame:
    """``cube`` without the rows of an indicator at a date its look-back window cannot reach.

    An earlier quarter of a trend whose window (e.g. 60 months for the blood-pressure
    check) starts before the extract's data would count too few events; its rows are left
    out, so the trend starts at the first quarter the data support
    (:func:`bsol_analytics.dates.lookback_gap`).

    Examples:
        >>> cube = pd.DataFrame({"reporting_date": pd.to_datetime(["2023-12-31",
        ...     "2024-03-31", "2023-12-31"]), "indicator_id": ["HYP_BP_CHECK_45"] * 2
        ...     + ["HYP_PREV"]})
        >>> cov = Coverage(dt.date(2025, 3, 31), {"measurements": dt.date(2019, 3, 31)})
        >>> supported_rows(cube, cov)["reporting_date"].dt.date.astype(str).tolist()
        ['2024-03-31', '2023-12-31']
    """
    pairs = cube[["indicator_id", "reporting_date"]].drop_duplicates()
    windows = lookback_windows(pd.unique(pairs["indicator_id"].astype(str)))
    gaps = [
        lookback_gap(pd.Timestamp(d).date(), cov, str(i), windows.get(str(i), ()))
        for i, d in pairs.itertuples(index=False)
    ]
    bad = pairs[[g is not None for g in gaps]]
    if bad.empty:
        return cube
    drop = cube.merge(bad.assign(_bad=True), on=["indicator_id", "reporting_date"], how="left")
    return cube[drop["_bad"].isna().to_numpy()].reset_index(drop=True)


def life_expectancy_frame(
    processed: Path | Frames,
    reporting_date: dt.date,
    view: str,
    imd: str,
    engine: str,
    le_cube: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """LE_BIRTH by sex, IMD quintile and decile, and LE_SII, at the reporting date.

    From a small cube of its own (:func:`bsol_analytics.table.life_expectancy_keys`; or
    ``le_cube``, already computed with those keys) and
    :func:`bsol_analytics.table.life_expectancy_rows`, for BSOL and the localities, before
    disclosure control; empty when the extract cannot give life expectancy.

    Returns:
        A new frame of statistics like :func:`bsol_analytics.table.indicator_statistics`.
    """
    if le_cube is None:
        if "LE_BIRTH" not in computable_indicators(processed, engine)[0]:
            return pd.DataFrame()
        keys = life_expectancy_keys(list(LE_AREA_TYPES), view=view, imd=imd)
        le_cube = compute_cube(
            processed, [reporting_date], keys, engine=engine, indicators=["LE_BIRTH"]
        )
    out = life_expectancy_rows(le_cube, list(LE_AREA_TYPES), LE_PACK_BREAKDOWNS, view=view, imd=imd)
    if out.empty:
        return pd.DataFrame()
    floats = {c: "float64" for c in ("numerator", "denominator", "value", "lower", "upper")}
    return out.astype({**floats, "confidence": "float64"}).assign(
        view=view,
        suppressed=False,
        suppression_reason=pd.Series(pd.NA, index=out.index, dtype="str"),
    )


def family_breakdowns_only(stats: pd.DataFrame) -> pd.DataFrame:
    """Drop rows of a :data:`FAMILY_BREAKDOWNS` breakdown for indicators of other families.

    Examples:
        >>> s = pd.DataFrame({"indicator_id": ["DM_3TT", "HYP_PREV", "HYP_PREV"],
        ...     "breakdown": ["diabetes_type", "diabetes_type", "sex"]})
        >>> family_breakdowns_only(s)["indicator_id"].tolist()
        ['DM_3TT', 'HYP_PREV']
    """
    base = base_ids(stats["indicator_id"])
    family = base.map(indicator_metadata(base.unique()).set_index("indicator_id")["family"])
    breakdown = stats["breakdown"].astype(str)
    keep = pd.Series(True, index=stats.index)
    for fam, breakdowns in FAMILY_BREAKDOWNS.items():
        uses = {b: bool(set(b.split("*")) & set(breakdowns)) for b in breakdown.unique()}
        keep &= ~breakdown.map(uses).astype(bool) | (family == fam)
    return stats[keep]


def publish_indicators(protected: pd.DataFrame, cube: pd.DataFrame) -> pd.DataFrame:
    """The published indicator frame: comparisons and order on the protected statistics."""
    ids = [str(i) for i in pd.unique(cube["indicator_id"])]
    present = set(protected["indicator_id"])
    ids += [i for i in ("LE_BIRTH", LE_SII_ID) if i in present and i not in ids]
    polarity, england = registry_meta(ids)
    return finish_table(protected, ids, derived=derived_ids(), polarity=polarity, england=england)


def _write_tables(
    out_dir: Path,
    indicators: pd.DataFrame,
    population: pd.DataFrame,
    demography: pd.DataFrame,
    practices: pd.DataFrame,
    info: dict[str, Any],
    wards: pd.DataFrame | None = None,
) -> Path:
    private_directory(out_dir)
    if wards is not None:
        wards.to_parquet(out_dir / "wards.parquet", index=False)
    indicators = indicators.assign(reporting_date=pd.to_datetime(indicators["reporting_date"]))
    rd = dt.date.fromisoformat(info["reporting_date"])
    indicators.to_parquet(out_dir / "indicators.parquet", index=False)
    indicator_metadata(indicators["indicator_id"].unique()).to_parquet(
        out_dir / "indicator_meta.parquet", index=False
    )
    sii_table(indicators, rd).to_parquet(out_dir / "sii.parquet", index=False)
    population.to_parquet(out_dir / "population.parquet", index=False)
    demography.to_parquet(out_dir / "demography.parquet", index=False)
    practices.to_parquet(out_dir / "practices.parquet", index=False)
    atomic_write_text(out_dir / "pack_meta.json", json.dumps(info, indent=2, default=str))
    return out_dir


def compute_tables(
    data_dir: str | Path,
    out_dir: str | Path,
    reporting_date: str | dt.date | None = None,
    view: str = "practice",
    imd: str = "2025",
    engine: str = "pandas",
    timings: dict[str, float] | None = None,
    jobs: int | None = None,
    before_protect: Callable[[], None] | None = None,
) -> Path:
    """Prepare the data (if needed) and write the pack tables for every pack, once.

    Every table is computed first without suppression; then
    :func:`bsol_analytics.protection.protect_run` protects them all together, once.

    Args:
        data_dir: an extract folder or a prepared folder.
        out_dir: where to write the tables (see :mod:`bsol_analytics.report`).
        reporting_date: ``YYYY-MM-DD``; default the last complete quarter in the data.
        view: ``"practice"`` or ``"resident"``.
        imd: ``"2025"`` or ``"2019"``.
        engine: ``"pandas"``, ``"duckdb"`` or ``"spark"``.
        timings: a dict that receives the seconds spent in ``prepare`` and ``compute``,
            and the steps of ``compute`` (:data:`TABLE_STEPS`, keys ``compute_<step>``).
        jobs: processes that evaluate the reporting dates (``indicators.compute_cubes``);
            default :data:`CUBE_JOBS` for an extract of
            :data:`~bsol_analytics.compute.PARALLEL_MIN_PATIENTS` patients or more when this
            process may use that many cores, else 1.
        before_protect: called once the statistics are computed, just before protection
            (one core): :func:`bsol_analytics.packs.run.run_packs` starts its notebook
            workers there.

    Returns:
        ``out_dir``.

    Raises:
        ParameterError: an invalid parameter, or a reporting date the data cannot support.
    """
    check_view_imd(view, imd)
    out = Path(out_dir)
    timings = timings if timings is not None else {}
    t0 = time.perf_counter()
    with open_data(data_dir, work_dir=out.parent) as processed:
        timings["prepare"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        step = _Steps(timings)
        cov = coverage(processed)
        rd = reporting_dates_for(processed, reporting_date, cov=cov)[0]
        with step("load"):  # the prepared tables, read once per run
            frames = load_tables(processed, engine, keys=_pack_keys(rd, view, imd))
        jobs = _cube_jobs(frames) if jobs is None else jobs
        tables, run_areas, ids = _unprotected_tables(
            processed, frames, rd, view, imd, step, jobs, cov
        )
        if before_protect is not None:
            before_protect()
        with step("protect"):
            protected = protect_run(tables, run_areas)
            protected.raise_if_failed()  # nothing is published when the disclosure audit fails
        with step("write"):
            info = _pack_info(processed, rd, view, imd, engine, cov, frames)
            info["sdc_audit"] = protected.summary()  # recorded in the run manifest
            blank = protected["blank_places"]
            info["blank_place_of_death"] = blank_place_counts(blank, rd, view)
            population, demography = finish_counts(protected["population"], protected["demography"])
            _write_tables(
                out,
                publish_indicators(protected["indicators"], ids),
                population,
                demography,
                tables["practices"],
                info,
                protected["wards"][list(WARD_COLUMNS)].reset_index(drop=True),
            )
            blank.to_parquet(out / "blank_places.parquet", index=False)
            run_areas.to_parquet(out / "areas.parquet", index=False)
            make_private(out)
    timings["compute"] = time.perf_counter() - t0
    return out


#: Processes that evaluate the reporting dates of a large extract (:func:`compute_tables`).
CUBE_JOBS = 2


def _cube_jobs(frames: Frames) -> int:
    """:data:`CUBE_JOBS` for a large extract on the pandas engine with the cores, else 1.

    Large: :data:`~bsol_analytics.compute.PARALLEL_MIN_PATIENTS` patients or more.
    """
    big = frames.backend == "pandas" and len(frames.patients) >= PARALLEL_MIN_PATIENTS
    return CUBE_JOBS if big and available_cpus() >= CUBE_JOBS else 1


#: The steps of :func:`compute_tables` timed separately (``timings["compute_<step>"]``).
TABLE_STEPS: tuple[str, ...] = (
    "load",
    "cube",
    "statistics",
    "life_expectancy",
    "population",
    "wards",
    "areas",
    "protect",
    "write",
)


class _Steps:
    """``with step("name"):`` adds the block's seconds to ``timings["compute_name"]``."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            key = f"compute_{name}"
            self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - t0


def _unprotected_tables(
    processed: Path,
    frames: Frames,
    rd: dt.date,
    view: str,
    imd: str,
    step: _Steps,
    jobs: int,
    cov: Coverage,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """Every table the run publishes, before disclosure control, the run's areas and ids.

    The ids (a frame with ``indicator_id``) are in the order of the published table.
    """
    engine = frames.backend
    indicators, cube, ids, ward_cube = _indicator_parts(
        frames, rd, view, imd, engine, step.timings, jobs, cov
    )
    with step("population"):
        from bsol_analytics.cleaning import read_prepared_table  # pandera: not at import

        columns = list(dict.fromkeys([*_patient_columns(imd), *BLANK_PLACE_COLUMNS]))
        patients = read_prepared_table(processed, "patients", columns)
        population, demography = population_counts(patients, rd, view, imd)
        blank_places = blank_place_rows(patients, rd, view)
        practices = (
            patients[
                ["practice_code", "practice_name", "pcn_code", "pcn_name", "practice_locality"]
            ]
            .drop_duplicates("practice_code")
            .rename(columns={"practice_locality": "locality"})
            .sort_values("practice_code", ignore_index=True)
        )
    with step("wards"):
        headline = _headline_ids(indicators["indicator_id"].unique())
        wards = ward_statistics(frames, rd, headline, engine, ward_cube)
    tables = {
        "indicators": indicators,
        "population": population,
        "demography": demography,
        "wards": wards,
        "blank_places": blank_places,
        "practices": practices,
    }
    with step("areas"):
        run_areas = areas(cube, AREA_TYPES, view, patients)
    return tables, run_areas, pd.DataFrame({"indicator_id": ids})


def _patient_columns(imd: str) -> list[str]:
    """The ``patients`` columns of the population, practices and areas tables."""
    return [
        *("sex", "date_of_birth", "registration_start", "registration_end", "date_of_death"),
        *("practice_code", "practice_name", "pcn_code", "pcn_name", "practice_locality"),
        *("resident_locality", "ward_code", f"imd{imd}_quintile", "ethnicity_broad", "core20"),
    ]


def _pack_info(
    processed: Path,
    rd: dt.date,
    view: str,
    imd: str,
    engine: str,
    cov: Coverage,
    frames: Frames | None = None,
) -> dict[str, Any]:
    """``pack_meta.json``: the run's parameters, rule, notes and the data's coverage."""
    return {
        "reporting_date": rd.isoformat(),
        "view": view,
        "imd": str(imd),
        "engine": engine,
        "suite_version": __version__,
        "sdc_rule": _sdc_rule(),
        "data_quality": _quality_notes(processed / "data_quality.json"),
        "data_quality_table": data_quality_table(_quality_summary(processed / "data_quality.json")),
        "data_sources": _data_sources(processed),
        **_provenance(processed),
        "skipped": skipped_indicators(processed if frames is None else frames, engine),
        "coverage": {
            "last": cov.last.isoformat() if cov.last else None,
            "starts": {k: v.isoformat() for k, v in cov.starts.items()},
        },
    }


def skipped_indicators(processed: Path | Frames, engine: str = "pandas") -> dict[str, str]:
    """``{indicator_id: reason}`` for the indicators whose inputs the extract lacks.

    Written to ``pack_meta.json`` as ``skipped``; the packs list each one with its reason
    (:func:`bsol_analytics.report.selection.skipped_indicators`) instead of an empty section.
    ``processed`` is a prepared folder or the tables opened by ``indicators.load_tables``.

    Examples:
        >>> skipped_indicators(Path("/no/such/folder"))
        {}
    """
    if not isinstance(processed, Frames) and not (processed / "patients.parquet").exists():
        return {}
    return dict(computable_indicators(processed, engine)[1])


def _sdc_rule() -> str:
    """The disclosure-control rule in words (from ``bsol_analytics.sdc``)."""
    return rule_text() + " The population tables are protected with the rest."


#: Columns of ``patients`` that :func:`blank_place_rows` reads.
BLANK_PLACE_COLUMNS: tuple[str, ...] = (
    *("patient_id", "registration_start", "registration_end", "date_of_death"),
    *("place_of_death", "practice_locality", "resident_locality"),
)


def blank_place_rows(patients: pd.DataFrame, rd: dt.date, view: str) -> pd.DataFrame:
    """Deaths with a blank place of death, for BSOL and each locality, before protection.

    The deaths are those of the end-of-life indicators (``decedents``: died in the 12 months
    to ``rd`` and registered at death), counted in the locality of the practice
    (``view="practice"``) or of residence. One tidy row per area (indicator
    :data:`~bsol_analytics.indicators.end_of_life.BLANK_PLACE_ID`): the blank places as
    numerator, the deaths as denominator (the end-of-life indicators' denominator), so that
    disclosure control protects them with the place-of-death indicators
    (:func:`bsol_analytics.protection.protect_run`).

    Examples:
        >>> d = lambda *v: pd.to_datetime(list(v))
        >>> people = pd.DataFrame({"patient_id": range(3),
        ...     "registration_start": d(*["2000-01-01"] * 3), "registration_end": pd.NaT,
        ...     "date_of_death": d("2024-06-01", "2024-06-01", "2023-01-01"),
        ...     "place_of_death": [None, "home", None],
        ...     "practice_locality": ["East"] * 3, "resident_locality": ["West"] * 3})
        >>> rows = blank_place_rows(people, dt.date(2025, 3, 31), "practice")
        >>> rows.loc[rows["area"].isin(["East", "BSOL"]), ["area", "numerator", "denominator"]]
           area  numerator  denominator
        1  East        1.0          2.0
        6  BSOL        1.0          2.0
    """
    start = pd.Timestamp(months_before(rd, 12))
    dod, end, begin = (
        pd.to_datetime(patients[c])
        for c in ("date_of_death", "registration_end", "registration_start")
    )
    dead = (dod > start) & (dod <= pd.Timestamp(rd)) & (begin <= dod) & (end.isna() | (end >= dod))
    place = patients["place_of_death"].astype("string").str.strip()
    column = "practice_locality" if view == "practice" else "resident_locality"
    # a death with no locality is in the indicators' area for it (residents elsewhere in the
    # resident view), so that the localities add up to BSOL
    area = patients[column].astype("object")
    area = area.where(area.notna(), missing_area("locality", view))
    deaths = pd.DataFrame(
        {"area": area, "blank": place.isna() | place.eq("")}, index=patients.index
    )[dead.to_numpy()].assign(patient_id=patients["patient_id"])
    deaths = deaths.drop_duplicates("patient_id")
    by_area = deaths.groupby("area", observed=True)["blank"].agg(["sum", "size"])
    others = sorted(set(by_area.index) - set(LOCALITIES))
    by_area = by_area.reindex([*LOCALITIES, *others], fill_value=0)
    by_area.loc[BSOL] = [int(deaths["blank"].sum()), len(deaths)]
    return pd.DataFrame(
        {
            "indicator_id": BLANK_PLACE_ID,
            "reporting_date": pd.Timestamp(rd),
            "view": view,
            "area_type": np.where(by_area.index == BSOL, "BSOL", "locality"),
            "area": by_area.index.astype(str),
            "breakdown": "overall",
            "group": ALL,
            "numerator": by_area["sum"].to_numpy(float),
            "denominator": by_area["size"].to_numpy(float),
        }
    )


def blank_place_counts(protected: pd.DataFrame, rd: dt.date, view: str) -> dict[str, Any]:
    """``pack_meta.json``'s ``blank_place_of_death`` from protected :func:`blank_place_rows`.

    A count hidden for being 1-7 (the policy's small numbers) reads ``"fewer than 8"``; one
    hidden for any other reason (a small number of deaths with a recorded place, or to
    protect another count) reads ``"withheld"``.

    Returns:
        ``{"window": [first day, rd], "view": view, "counts": {area: int or str}}``.
    """
    small = REASON_PRIMARY.format(hi=DEFAULT_POLICY.max_count)
    counts: dict[str, Any] = {}
    for row in protected.itertuples(index=False):
        if not row.suppressed:
            counts[str(row.area)] = int(row.numerator)
        else:
            hidden = str(row.suppression_reason) == small
            counts[str(row.area)] = f"fewer than {SMALL_COUNT}" if hidden else "withheld"
    first = months_before(rd, 12) + dt.timedelta(days=1)
    return {"window": [first.isoformat(), rd.isoformat()], "view": view, "counts": counts}


def _quality_summary(path: Path) -> dict[str, Any]:
    """``data_quality.json`` as a dict (empty when absent or not an object)."""
    data = json.loads(path.read_text()) if path.exists() else {}
    return data if isinstance(data, dict) else {}


def _quality_notes(path: Path) -> list[str]:
    """Plain-English data-quality notes from ``data_quality.json`` (if present)."""
    if not path.exists():
        return ["No data-quality summary was found for this extract."]
    data = json.loads(path.read_text())
    return data_quality_notes(data if isinstance(data, dict) else {})


def _provenance(processed: Path) -> dict[str, Any]:
    """``synthetic`` and ``source_description`` carried from the prepared manifest."""
    path = processed / PREPARE_MANIFEST
    info = json.loads(path.read_text()) if path.exists() else {}
    info = info if isinstance(info, dict) else {}
    return {
        "synthetic": bool(info.get("synthetic", False)),
        "source_description": info.get("source_description"),
    }


def _data_sources(processed: Path) -> list[str]:
    prov = _provenance(processed)
    sources = [
        prov["source_description"]
        if prov["synthetic"] and prov["source_description"]
        else "GP extract for Birmingham and Solihull practices, prepared by bsol prepare "
        "(see the data contract).",
        "English Indices of Deprivation 2025 and 2019 (MHCLG), LSOA 2021 boundaries and "
        "lookups (ONS), Census 2021 ethnic group (ONS): see data/raw/MANIFEST.",
        "Practice, PCN and locality lookups of BSOL ICB; QOF 2023-24 (NHS England).",
    ]
    manifest = processed / PREPARE_MANIFEST
    if manifest.exists():
        info = json.loads(manifest.read_text())
        if isinstance(info, dict) and info.get("admissions_supplied") is False:
            sources.append(
                "The extract had no admissions table: emergency admissions at the end of "
                "life are not shown."
            )
    return sources


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
    ``data/processed``) into a temporary folder, so a notebook can run on its own; the
    folder is removed once the tables are loaded.

    Raises:
        ParameterError: the tables are for another reporting date, view or IMD version.

    Examples:
        >>> from bsol_analytics.packs.demo import demo_tables
        >>> folder = demo_tables()
        >>> open_pack(folder, None, "2025-03-31").reporting_date.year
        2025
        >>> open_pack(folder, None, "2024-12-31")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: The pack tables in ... are for 31 March 2025, ...
    """
    if tables_dir is None:
        with tempfile.TemporaryDirectory(prefix="bsol-pack-") as tmp:  # private (0700)
            folder = compute_tables(
                data_dir or PROCESSED_DIR, Path(tmp) / "tables", reporting_date, view, imd, engine
            )
            data = load_pack(folder)  # every table is read into memory
        tables_dir = "a temporary folder"
    else:
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


__all__ = [
    "ALL_AGES",
    "BLANK_PLACE_COLUMNS",
    "BREAKDOWNS",
    "CUBE_JOBS",
    "FAMILY_BREAKDOWNS",
    "LE_PACK_BREAKDOWNS",
    "SMALL_COUNT",
    "TABLE_STEPS",
    "TREND_QUARTERS",
    "WARD_COLUMNS",
    "blank_place_counts",
    "blank_place_rows",
    "compute_tables",
    "family_breakdowns_only",
    "finish_counts",
    "indicator_frame",
    "indicator_metadata",
    "life_expectancy_frame",
    "open_pack",
    "population_counts",
    "population_tables",
    "publish_indicators",
    "sii_table",
    "skipped_indicators",
    "ward_statistics",
]
