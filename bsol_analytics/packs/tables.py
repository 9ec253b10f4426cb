"""The pack tables: every number the packs show, computed once per run.

:func:`compute_tables` prepares the data if needed, computes one indicator cube and every
other table without suppression, protects them together once
(:func:`bsol_analytics.protection.protect_run`) and writes the Parquet tables that
:mod:`bsol_analytics.report` reads.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics import __version__
from bsol_analytics.datafolder import MANIFEST, coverage, open_data
from bsol_analytics.dates import Coverage, quarter_series
from bsol_analytics.errors import ParameterError
from bsol_analytics.indicators import computable_indicators, compute_cube, expected_prevalence
from bsol_analytics.indicators.registry import registry_frame
from bsol_analytics.io import atomic_write_text, make_private, private_directory
from bsol_analytics.paths import PROCESSED_DIR
from bsol_analytics.protection import areas, protect_run
from bsol_analytics.report import (
    CELL_COLUMNS,
    PackData,
    family_of,
    fmt_date,
    load_pack,
)
from bsol_analytics.report.parameters import check_view_imd
from bsol_analytics.report.words import data_quality_notes
from bsol_analytics.sdc import DEFAULT_POLICY
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
    DSR_SUFFIX,
    ETHNICITY_BROAD,
    FAMILIES,
    PACK_AREAS,
    QUINTILE_LABELS,
    RVE_SUFFIX,
    UNKNOWN,
    area_column,
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
    complement and cannot be found by subtraction.

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
    )
    p = patients[alive]
    dob = pd.to_datetime(p["date_of_birth"])
    years = rd.year - dob.dt.year - ((dob.dt.month * 100 + dob.dt.day) > rd.month * 100 + rd.day)
    band = np.minimum(years.to_numpy() // 5, 18).clip(min=0)
    quint = p[f"imd{imd}_quintile"].astype("Int64")
    sex = p["sex"].to_numpy(dtype=object)
    known = np.isin(sex, ["F", "M"])
    base = pd.DataFrame(
        {
            "area": p[area_column("locality", view)].to_numpy(),
            "sex": np.where(known, sex, "U"),
            "age_band": np.where(known, np.asarray(AGE_BANDS, dtype=object)[band], ALL_AGES),
            "imd_quintile": quint.map(lambda q: quantile_label(q, 5), na_action="ignore")
            .fillna(UNKNOWN)
            .to_numpy(),
            "ethnicity_broad": p["ethnicity_broad"].fillna(UNKNOWN).to_numpy(),
            "core20": np.where(p["core20"].fillna(False).astype(bool), *CORE20_LABELS),
        }
    )
    both = pd.concat([base.assign(area=BSOL), base.dropna(subset=["area"])], ignore_index=True)
    areas = [a for a in PACK_AREAS if a in set(both["area"])]
    cells = [*((x, band) for x in ("F", "M") for band in AGE_BANDS), ("U", ALL_AGES)]
    grid = pd.MultiIndex.from_tuples(
        [(area, x, band) for area in areas for x, band in cells], names=["area", "sex", "age_band"]
    )
    pop = both.groupby(["area", "sex", "age_band"]).size().reindex(grid, fill_value=0)
    pop = pop.rename("count").reset_index()
    pop.insert(0, "area_type", np.where(pop["area"] == BSOL, "BSOL", "locality"))
    demos = []
    for breakdown, groups in (
        ("imd_quintile", [*QUINTILE_LABELS, UNKNOWN]),
        ("ethnicity_broad", list(ETHNICITY_BROAD)),
        ("core20", list(CORE20_LABELS)),
    ):
        idx = pd.MultiIndex.from_product([areas, groups], names=["area", "group"])
        counts = both.groupby(["area", breakdown]).size()
        counts.index = counts.index.set_names(["area", "group"])
        counts = counts.reindex(idx, fill_value=0).rename("count").reset_index()
        total = counts.groupby("area")["count"].transform("sum")
        counts["share"] = 100 * counts["count"] / total.where(total > 0)
        demos.append(counts.assign(breakdown=breakdown))
    demo = pd.concat(demos, ignore_index=True)
    demo.insert(0, "area_type", np.where(demo["area"] == BSOL, "BSOL", "locality"))
    pop = pop[["area_type", "area", "sex", "age_band", "count"]]
    return pop, demo[["area_type", "area", "breakdown", "group", "count", "share"]]


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
        & ~ind["indicator_id"].str.endswith((DSR_SUFFIX, RVE_SUFFIX, ISR_SUFFIX))
    ]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c in cols[2:] else str) for c in cols})
    out = inequality_summary(rows, "imd_quintile", repetitions=2000, seed=2024)
    out = out[(out["statistic"] == "sii") & (out["confidence"] == 0.95)]
    return out[cols].reset_index(drop=True)


def ward_statistics(
    processed: Path, reporting_date: dt.date, indicator_ids: Sequence[str], engine: str = "pandas"
) -> pd.DataFrame:
    """Resident-view values by ward of residence, for maps, before disclosure control.

    Counts come from ``bsol_analytics.indicators.compute_cube`` keyed by ``ward_code`` (a
    small second cube: wards are not a key of the indicator cube), proportions with Wilson
    limits from :func:`bsol_analytics.stats.proportion`.

    Returns:
        A new tidy frame (``area_type`` ``ward``) with ``ward_code``; the run protects it
        with the other tables and publishes :data:`WARD_COLUMNS`.
    """
    cube = compute_cube(processed, [reporting_date], ["ward_code"], engine, list(indicator_ids))
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
    suffix = frame["indicator_id"].str.extract(r"_(DSR|RVE|ISR)$", expand=False).fillna("")
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
    processed: Path, reporting_date: dt.date, view: str, imd: str, engine: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The indicator statistics every pack needs, from one cube, before disclosure control.

    One cube (``indicators.compute_cube``) holds every key and date the packs need: BSOL
    and localities with the breakdowns of :data:`BREAKDOWNS` at the reporting date, the
    quarterly series for trends, and PCNs and practices for funnel plots. Each of those
    is a roll-up of the one cube (:func:`bsol_analytics.table.indicator_statistics`).

    Returns:
        ``(statistics, cube)``: the unprotected statistics and the cube (its area keys
        make the run's areas frame).
    """
    requests = _requests(reporting_date)
    area_types, breakdowns = parse_by([b for _, by in requests for b in by])
    keys = cube_keys(area_types, breakdowns, view=view, imd=imd, standardise=True)
    dates = sorted({d for ds, _ in requests for d in ds})
    cube = compute_cube(processed, dates, keys, engine=engine)
    derived = derived_ids()
    reference = normalise_reference_rates(expected_prevalence())
    frames = []
    for ds, by in requests:
        part = cube[cube["reporting_date"].isin(pd.to_datetime(ds))]
        frames.append(
            indicator_statistics(
                part, by=by, view=view, imd=imd, derived=derived, reference=reference
            )
        )
    frames.append(life_expectancy_frame(processed, reporting_date, view, imd, engine))
    stats = pd.concat([f for f in frames if len(f)], ignore_index=True).drop_duplicates(
        ["indicator_id", "reporting_date", "area_type", "area", "breakdown", "group", "confidence"]
    )
    return family_breakdowns_only(stats).reset_index(drop=True), cube


def life_expectancy_frame(
    processed: Path, reporting_date: dt.date, view: str, imd: str, engine: str
) -> pd.DataFrame:
    """LE_BIRTH by sex, IMD quintile and decile, and LE_SII, at the reporting date.

    From a small cube of its own (:func:`bsol_analytics.table.life_expectancy_keys`) and
    :func:`bsol_analytics.table.life_expectancy_rows`, for BSOL and the localities, before
    disclosure control; empty when the extract cannot give life expectancy.

    Returns:
        A new frame of statistics like :func:`bsol_analytics.table.indicator_statistics`.
    """
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
    base = stats["indicator_id"].astype(str).str.replace(r"_(DSR|RVE)$", "", regex=True)
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
        timings: a dict that receives the seconds spent in ``prepare`` and ``compute``.

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
        cov = coverage(processed)
        rd = reporting_dates_for(processed, reporting_date)[0]
        tables, run_areas, cube = _unprotected_tables(processed, rd, view, imd, engine)
        protected = protect_run(tables, run_areas)
        info = _pack_info(processed, rd, view, imd, engine, cov)
        population, demography = finish_counts(protected["population"], protected["demography"])
        _write_tables(
            out,
            publish_indicators(protected["indicators"], cube),
            population,
            demography,
            tables["practices"],
            info,
            protected["wards"][list(WARD_COLUMNS)].reset_index(drop=True),
        )
        run_areas.to_parquet(out / "areas.parquet", index=False)
        make_private(out)
    timings["compute"] = time.perf_counter() - t0
    return out


def _unprotected_tables(
    processed: Path, rd: dt.date, view: str, imd: str, engine: str
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """Every table the run publishes, before disclosure control, and the run's areas."""
    patients = pd.read_parquet(processed / "patients.parquet")
    indicators, cube = indicator_frame(processed, rd, view, imd, engine)
    population, demography = population_counts(patients, rd, view, imd)
    practices = (
        patients[["practice_code", "practice_name", "pcn_code", "pcn_name", "practice_locality"]]
        .drop_duplicates("practice_code")
        .rename(columns={"practice_locality": "locality"})
        .sort_values("practice_code", ignore_index=True)
    )
    wards = ward_statistics(
        processed, rd, _headline_ids(indicators["indicator_id"].unique()), engine
    )
    tables = {
        "indicators": indicators,
        "population": population,
        "demography": demography,
        "wards": wards,
        "practices": practices,
    }
    run_areas = areas(cube, AREA_TYPES, view, patients)
    return tables, run_areas, cube


def _pack_info(
    processed: Path, rd: dt.date, view: str, imd: str, engine: str, cov: Coverage
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
        "data_sources": _data_sources(processed),
        **_provenance(processed),
        "skipped": skipped_indicators(processed, engine),
        "coverage": {
            "last": cov.last.isoformat() if cov.last else None,
            "starts": {k: v.isoformat() for k, v in cov.starts.items()},
        },
    }


def skipped_indicators(processed: Path, engine: str = "pandas") -> dict[str, str]:
    """``{indicator_id: reason}`` for the indicators whose inputs the extract lacks.

    Written to ``pack_meta.json`` as ``skipped``; the packs list each one with its reason
    (:func:`bsol_analytics.report.selection.skipped_indicators`) instead of an empty section.

    Examples:
        >>> import tempfile
        >>> skipped_indicators(Path(tempfile.mkdtemp()))
        {}
    """
    if not (processed / "patients.parquet").exists():
        return {}
    return dict(computable_indicators(processed, engine)[1])


def _sdc_rule() -> str:
    """The disclosure-control rule in words (from ``bsol_analytics.sdc``)."""
    policy = DEFAULT_POLICY
    text = (
        f"Policy '{policy.name}': counts of {policy.min_count} to {policy.max_count} are "
        "suppressed, with the rates and percentages built on them"
    )
    if policy.complement:
        text += ", as are cells where the denominator minus the count is that small"
    if policy.secondary:
        text += "; further cells are suppressed where a suppressed count could be worked out"
    return text + ". Counts in the population tables follow the same threshold."


def _quality_notes(path: Path) -> list[str]:
    """Plain-English data-quality notes from ``data_quality.json`` (if present)."""
    if not path.exists():
        return ["No data-quality summary was found for this extract."]
    data = json.loads(path.read_text())
    return data_quality_notes(data if isinstance(data, dict) else {})


def _provenance(processed: Path) -> dict[str, Any]:
    """``synthetic`` and ``source_description`` carried from the prepared manifest."""
    path = processed / MANIFEST
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
    manifest = processed / MANIFEST
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
    ``data/processed``) into a temporary folder, so a notebook can run on its own.

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
        folder = private_directory(prefix="bsol-pack-") / "tables"
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


__all__ = [
    "ALL_AGES",
    "BREAKDOWNS",
    "FAMILY_BREAKDOWNS",
    "LE_PACK_BREAKDOWNS",
    "SMALL_COUNT",
    "TREND_QUARTERS",
    "WARD_COLUMNS",
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
