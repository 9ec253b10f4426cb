"""Locality packs: compute once, run one notebook per pack, publish atomically.

A run (``bsol packs DATA_DIR``) goes through four timed steps:

1. **prepare** the extract once (skipped when ``DATA_DIR`` is already a prepared folder);
2. **compute** the pack tables once for every pack (:func:`compute_tables`): the tidy
   indicator frame for all areas, breakdowns and quarterly dates, the slope index of
   inequality, population and demography counts under disclosure control;
3. **execute** the report notebook once per pack with papermill, ``--jobs`` kernels in
   parallel (:func:`build_pack`); a failing pack never stops the others;
4. **convert** each executed notebook to one self-contained HTML file with nbconvert (no
   code, no prompts, no request to any other host).

Patient-level work (prepared extract, pack tables, executed notebooks) stays in a private
temporary folder outside the reports root. Only the HTML, ``index.html``, ``manifest.json``
and ``run.log`` are staged beside ``reports/<reporting_date>/`` and swapped into place at the
end; folders left there by a killed run are swept at the start of the next
(:func:`sweep_stale`).
When a pack fails, the good HTML of the previous run (if any) is carried over and marked
stale in the index; the run exits with code 4.

The dependency points on other modules are :func:`prepared_folder`
(``bsol_analytics.cleaning.prepare``), :func:`indicator_frame`
(``bsol_analytics.breakdowns.indicator_table``) and :func:`indicator_metadata`
(``bsol_analytics.indicators.registry``).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import hashlib
import html
import json
import logging
import multiprocessing
import os
import platform
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics import __version__
from bsol_analytics.errors import BsolError, ParameterError, file_errors
from bsol_analytics.io import atomic_directory, atomic_write_text, pid_alive, recover_directory
from bsol_analytics.paths import NOTEBOOKS_DIR
from bsol_analytics.report import (
    BSOL,
    CELL_COLUMNS,
    FAMILIES,
    LOCALITIES,
    family_of,
    fmt_date,
    slug,
)

log = logging.getLogger("bsol_analytics.packs")


def _policy_threshold() -> int:
    try:
        from bsol_analytics.sdc import DEFAULT_POLICY
    except ImportError:
        return 10
    return int(DEFAULT_POLICY.max_count) + 1


#: Every pack, in index order: the six localities then BSOL.
PACKS: tuple[str, ...] = (*LOCALITIES, BSOL)
#: The report notebook run for every pack.
NOTEBOOK: Path = NOTEBOOKS_DIR / "locality_pack.ipynb"
#: The nbconvert template folder (template ``bsol``).
TEMPLATE_DIR: Path = Path(__file__).resolve().parent / "templates"
#: Exit code when some packs failed and the others were published.
EXIT_PACKS_FAILED = 4
#: Quarterly reporting dates shown in trends (the reporting date and the seven before).
TREND_QUARTERS = 8
#: Counts below this are suppressed in the population and demography tables.
SMALL_COUNT = _policy_threshold()
#: Breakdowns computed for BSOL and each locality.
BREAKDOWNS: tuple[str, ...] = (
    "imd_quintile",
    "ethnicity_broad",
    "imd_quintile*ethnicity_broad",
    "sex",
)
ETHNIC_GROUPS: tuple[str, ...] = ("Asian", "Black", "Mixed", "White", "Other", "Unknown")
QUINTILES: tuple[str, ...] = (
    "Q1 (most deprived)",
    "Q2",
    "Q3",
    "Q4",
    "Q5 (least deprived)",
)
AGE_BANDS: tuple[str, ...] = (*(f"{lo}-{lo + 4}" for lo in range(0, 90, 5)), "90+")
#: Age band of the single "sex not known" (``U``) row of each area in the population table.
ALL_AGES = "All ages"

# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


def parse_reporting_date(value: str | dt.date | None) -> dt.date:
    """Parse a reporting date ``YYYY-MM-DD``; ``None`` means the latest complete quarter.

    Raises:
        ParameterError: the text is not a real date in that form.

    Examples:
        >>> parse_reporting_date("2025-03-31")
        datetime.date(2025, 3, 31)
        >>> parse_reporting_date("31/03/2025")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: The reporting date '31/03/2025' is not a date in the form YYYY-MM-DD (for example 2025-03-31).
    """  # noqa: E501
    if value is None:
        return latest_quarter_end(dt.date.today())
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ParameterError(
            f"The reporting date {value!r} is not a date in the form YYYY-MM-DD "
            "(for example 2025-03-31)."
        )
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(
            f"The reporting date {value!r} is not a real date (check the month and day)."
        ) from None


def latest_quarter_end(today: dt.date) -> dt.date:
    """The end of the latest complete calendar quarter before ``today``.

    Examples:
        >>> latest_quarter_end(dt.date(2025, 5, 10))
        datetime.date(2025, 3, 31)
        >>> latest_quarter_end(dt.date(2025, 3, 31))
        datetime.date(2024, 12, 31)
    """
    first = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return first - dt.timedelta(days=1)


def quarter_series(reporting_date: dt.date, quarters: int = TREND_QUARTERS) -> list[dt.date]:
    """Quarter-end dates ending at ``reporting_date`` (month ends, oldest first).

    Examples:
        >>> [d.isoformat() for d in quarter_series(dt.date(2025, 3, 31), 3)]
        ['2024-09-30', '2024-12-31', '2025-03-31']
    """
    ends = pd.date_range(end=pd.Timestamp(reporting_date), periods=quarters, freq="3ME")
    if ends[-1].date() != reporting_date:
        ends = ends - pd.offsets.MonthEnd(0) + (pd.Timestamp(reporting_date) - ends[-1])
    return [d.date() for d in ends]


def validate_parameters(
    locality: str,
    reporting_date: str | dt.date | None,
    view: str = "practice",
    imd: str | int = "2025",
) -> tuple[str, dt.date]:
    """Check a pack's parameters; return the canonical locality name and the date.

    Raises:
        ParameterError: unknown locality, malformed date, or unknown view or IMD version.

    Examples:
        >>> validate_parameters("solihull", "2025-03-31")
        ('Solihull', datetime.date(2025, 3, 31))
        >>> validate_parameters("Narnia", "2025-03-31")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: Unknown locality 'Narnia'. Choose one of Central, East, North, South, West, Solihull or BSOL.
    """  # noqa: E501
    names = {p.lower(): p for p in PACKS}
    canonical = names.get(str(locality).strip().lower())
    if canonical is None:
        raise ParameterError(
            f"Unknown locality {locality!r}. Choose one of {', '.join(LOCALITIES)} or BSOL."
        )
    if view not in ("practice", "resident"):
        raise ParameterError(f"Unknown view {view!r}: use 'practice' or 'resident'.")
    if str(imd) not in ("2025", "2019"):
        raise ParameterError(f"Unknown IMD version {imd!r}: use 2025 or 2019.")
    return canonical, parse_reporting_date(reporting_date)


def parse_localities(text: str | Sequence[str] | None) -> list[str]:
    """Parse ``--localities`` (comma-separated, any case); ``None`` means every pack.

    Examples:
        >>> parse_localities("east, bsol")
        ['East', 'BSOL']
        >>> len(parse_localities(None))
        7
    """
    if text is None:
        return list(PACKS)
    items = text.split(",") if isinstance(text, str) else list(text)
    out = [validate_parameters(i, "2000-01-01")[0] for i in items if str(i).strip()]
    if not out:
        raise ParameterError("--localities is empty: name at least one locality or BSOL.")
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------------------
# Pack tables
# --------------------------------------------------------------------------------------


def suppress_small_counts(
    frame: pd.DataFrame,
    count: str = "count",
    lines: Sequence[Sequence[str]] = (),
) -> pd.DataFrame:
    """Disclosure control of counts: primary suppression, then complementary suppression.

    Counts in the policy's small range (``bsol_analytics.sdc.DEFAULT_POLICY``, 1 to 7) are
    suppressed; then, for every line of cells whose total is published (the rows sharing
    the values of each key list in ``lines``), a second cell is suppressed wherever one
    alone would be recoverable by subtraction (``bsol_analytics.sdc.secondary_suppression``).
    Zero is shown (it discloses nothing about a person). Returns a new frame with
    ``suppressed``, ``suppression_reason``, and the suppressed counts missing.

    Examples:
        >>> f = pd.DataFrame({"area": ["A"] * 3, "count": [0, 4, 25]})
        >>> suppress_small_counts(f)["suppressed"].tolist()
        [False, True, False]
        >>> f = pd.DataFrame({"area": ["A"] * 3, "count": [4, 30, 25]})
        >>> suppress_small_counts(f, lines=[["area"]])["suppressed"].tolist()
        [True, False, True]
    """
    from bsol_analytics import sdc

    policy = sdc.DEFAULT_POLICY
    counts = pd.to_numeric(frame[count], errors="coerce").to_numpy(dtype="float64")
    primary = policy.disclosive(counts)
    memberships = [
        pd.DataFrame(
            {
                "line": f"{k}:" + frame.groupby(list(keys), sort=False).ngroup().astype(str),
                "cell": np.arange(len(frame)),
            }
        )
        for k, keys in enumerate(lines)
    ]
    sup = primary
    if memberships:
        sup = sdc.secondary_suppression(
            primary,
            pd.concat(memberships, ignore_index=True),
            size=counts,
            numerator=counts,
            policy=policy,
        )
    reason = np.where(primary, policy.primary_reason, np.where(sup, sdc.REASON_SECONDARY, ""))
    return frame.assign(
        **{
            count: frame[count].astype("Float64").mask(sup),
            "suppressed": sup,
            "suppression_reason": pd.Series(reason, index=frame.index).replace("", None),
        }
    )


def _area_columns(patients: pd.DataFrame, view: str) -> pd.Series:
    column = "practice_locality" if view == "practice" else "resident_locality"
    return patients[column]


def population_tables(
    patients: pd.DataFrame, reporting_date: dt.date, view: str = "practice", imd: str = "2025"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Registered population by sex and age band, and demography mixes, per area.

    Patients count when registered and alive at the reporting date. Every such patient is
    in exactly one population cell: ``F`` and ``M`` by age band, and one ``U`` row per area
    (age band ``"All ages"``) for sex not known (any value other than ``F``/``M``), so the
    cells of an area add up to its registered total, which other tables publish. Counts
    pass :func:`suppress_small_counts` with the lines whose totals are published: the area,
    the area and sex, and the sex and age band across areas; a ``U`` count of 1 to 7 is
    therefore suppressed together with a complement and cannot be found by subtraction.

    Args:
        patients: the processed ``patients`` table.
        reporting_date: the reporting date.
        view: ``"practice"`` (locality of the practice) or ``"resident"``.
        imd: ``"2025"`` or ``"2019"``.

    Returns:
        ``(population, demography)`` as described in :mod:`bsol_analytics.report`.

    Examples:
        >>> p = pd.DataFrame({"sex": ["F", "M"], "date_of_birth": pd.to_datetime(
        ...     ["1980-01-01", "2001-06-01"]), "registration_start": pd.to_datetime(
        ...     ["2000-01-01"] * 2), "registration_end": pd.NaT, "date_of_death": pd.NaT,
        ...     "practice_locality": ["East", "East"], "resident_locality": ["East", None],
        ...     "ethnicity_broad": ["Asian", "White"], "imd2025_quintile": [1, 5],
        ...     "imd2019_quintile": [1, 4], "core20": [True, False]})
        >>> pop, demo = population_tables(p, dt.date(2025, 3, 31))
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
            "area": _area_columns(p, view).to_numpy(),
            "sex": np.where(known, sex, "U"),
            "age_band": np.where(known, np.asarray(AGE_BANDS, dtype=object)[band], ALL_AGES),
            "imd_quintile": quint.map(lambda q: QUINTILES[int(q) - 1], na_action="ignore")
            .fillna("Unknown")
            .to_numpy(),
            "ethnicity_broad": p["ethnicity_broad"].fillna("Unknown").to_numpy(),
            "core20": np.where(p["core20"].fillna(False).astype(bool), "Core20", "Not Core20"),
        }
    )
    both = pd.concat([base.assign(area=BSOL), base.dropna(subset=["area"])], ignore_index=True)
    areas = [a for a in PACKS if a in set(both["area"])]
    cells = [*((x, band) for x in ("F", "M") for band in AGE_BANDS), ("U", ALL_AGES)]
    grid = pd.MultiIndex.from_tuples(
        [(area, x, band) for area in areas for x, band in cells], names=["area", "sex", "age_band"]
    )
    pop = both.groupby(["area", "sex", "age_band"]).size().reindex(grid, fill_value=0)
    pop = pop.rename("count").reset_index()
    pop.insert(0, "area_type", np.where(pop["area"] == BSOL, "BSOL", "locality"))
    demos = []
    for breakdown, groups in (
        ("imd_quintile", [*QUINTILES, "Unknown"]),
        ("ethnicity_broad", list(ETHNIC_GROUPS)),
        ("core20", ["Core20", "Not Core20"]),
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
    demo = suppress_small_counts(demo, lines=[["area", "breakdown"], ["breakdown", "group"]])
    demo["share"] = demo["share"].where(~demo["suppressed"])
    cols = ["area_type", "area", "breakdown", "group", "count", "share", "suppressed"]
    pop = suppress_small_counts(pop, lines=[["area"], ["area", "sex"], ["sex", "age_band"]])
    return (
        pop[["area_type", "area", "sex", "age_band", "count", "suppressed", "suppression_reason"]],
        demo[[*cols, "suppression_reason"]],
    )


def sii_table(indicators: pd.DataFrame, reporting_date: dt.date) -> pd.DataFrame:
    """Slope index of inequality across IMD quintiles for every indicator and area.

    Uses :func:`bsol_analytics.breakdowns.inequality_summary` on BSOL and the localities
    at the reporting date (an area with a suppressed quintile gets no SII).

    Returns:
        A new frame: ``indicator_id``, ``area``, ``value``, ``lower``, ``upper`` (percentage
        points, least minus most deprived).

    Examples:
        >>> from bsol_analytics.report import demo_pack
        >>> data = demo_pack()
        >>> list(sii_table(data.indicators, dt.date(2025, 3, 31)).columns)
        ['indicator_id', 'area', 'value', 'lower', 'upper']
    """
    from bsol_analytics.breakdowns import inequality_summary

    cols = ["indicator_id", "area", "value", "lower", "upper"]
    ind = indicators
    rows = ind[
        (ind["breakdown"] == "imd_quintile")
        & ind["area_type"].isin(["BSOL", "locality"])
        & (pd.to_datetime(ind["reporting_date"]) == pd.Timestamp(reporting_date))
        & ~ind["indicator_id"].str.endswith(("_DSR", "_RVE"))
    ]
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c in cols[2:] else str) for c in cols})
    out = inequality_summary(rows, "imd_quintile", repetitions=2000, seed=2024)
    out = out[(out["statistic"] == "sii") & (out["confidence"] == 0.95)]
    return out[cols].reset_index(drop=True)


def ward_table(
    processed: Path, reporting_date: dt.date, indicator_ids: Sequence[str], engine: str = "pandas"
) -> pd.DataFrame:
    """Resident-view values by ward of residence, under disclosure control, for maps.

    Counts come from ``bsol_analytics.indicators.compute_cube`` keyed by ``ward_code``,
    proportions with Wilson limits from :func:`bsol_analytics.stats.proportion`, and
    disclosure control from :func:`bsol_analytics.sdc.apply_sdc`.

    Returns:
        A new frame: ``indicator_id``, ``ward_code``, ``value``, ``lower``, ``upper``,
        ``numerator``, ``denominator``, ``suppressed``, ``suppression_reason``.
    """
    from bsol_analytics.indicators import compute_cube
    from bsol_analytics.sdc import apply_sdc
    from bsol_analytics.stats import proportion

    cube = compute_cube(processed, [reporting_date], ["ward_code"], engine, list(indicator_ids))
    cube = cube[cube["ward_code"].notna()]
    stats = proportion(
        cube, "numerator", "denominator", by=["indicator_id", "ward_code"], multiplier=100
    )
    tidy = stats.assign(
        reporting_date=pd.Timestamp(reporting_date),
        view="resident",
        area_type="ward",
        area=stats["ward_code"],
        breakdown="overall",
        group="All",
    )
    out = apply_sdc(tidy)
    return out[["indicator_id", "ward_code", *CELL_COLUMNS]].reset_index(drop=True)


def _headline_ids(indicator_ids: Iterable[str]) -> list[str]:
    """The first (base) indicator of each family: the one mapped by ward."""
    meta = indicator_metadata(indicator_ids)
    meta = meta[meta["derived"] == ""]
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

    Dependency point on ``bsol_analytics.indicators.registry.registry_frame``. Derived ids
    (``<id>_DSR`` age-standardised, ``<id>_RVE`` recorded versus expected) take their
    family from the base indicator; ids unknown to the registry fall back to their id as
    title and a family read from the id prefix.

    Returns:
        A new frame in registry order: ``indicator_id``, ``title``, ``family``,
        ``definition``, ``polarity`` (``higher is better``, ``lower is better``,
        ``no judgement``), ``unit``, ``derived`` (``""``, ``"DSR"`` or ``"RVE"``),
        ``england_value``.

    Examples:
        >>> meta = indicator_metadata(["HYP_PREV", "HYP_PREV_RVE", "XYZ_1"])
        >>> meta[["indicator_id", "family", "derived"]].values.tolist()
        [['HYP_PREV', 'hypertension', ''], ['HYP_PREV_RVE', 'hypertension', 'RVE'], ['XYZ_1', 'other', '']]
    """  # noqa: E501
    ids = list(dict.fromkeys(str(i) for i in indicator_ids))
    try:
        from bsol_analytics.indicators.registry import registry_frame

        reg = registry_frame().rename(columns={"id": "indicator_id"})
    except ImportError:
        reg = pd.DataFrame(columns=list(_REGISTRY_COLUMNS))
    reg = reg.reset_index(drop=True).assign(_order=lambda f: np.arange(len(f)))
    frame = pd.DataFrame({"indicator_id": ids})
    suffix = frame["indicator_id"].str.extract(r"_(DSR|RVE)$", expand=False).fillna("")
    frame["base"] = np.where(suffix != "", frame["indicator_id"].str[:-4], frame["indicator_id"])
    frame["derived"] = suffix
    cols = [*_REGISTRY_COLUMNS, "_order"]
    out = frame.merge(reg[cols].rename(columns={"indicator_id": "base"}), on="base", how="left")
    dsr, rve = out["derived"] == "DSR", out["derived"] == "RVE"
    out["title"] = out["title"].fillna(out["base"])
    out.loc[dsr, "title"] = out.loc[dsr, "title"] + " (age-standardised)"
    out.loc[rve, "title"] = out.loc[rve, "title"] + ", recorded vs expected ratio"
    out.loc[dsr, "definition"] = (
        out.loc[dsr, "definition"].fillna("")
        + " Directly age-standardised to the European Standard Population 2013."
    )
    out.loc[rve, "definition"] = (
        "Patients on the register divided by the number expected if each age and sex group "
        "had the reference prevalence (Health Survey for England for hypertension and "
        "diabetes, the PHE COPD prevalence model for COPD); 1 means as many as expected."
    )
    out.loc[rve, "unit"] = "ratio"
    # As in breakdowns.tidy_indicators: age-standardised rows keep their base indicator's
    # polarity; more of the expected cases found on a register is better.
    out.loc[rve, "polarity"] = "higher is better"
    out.loc[rve | dsr, "england_value"] = np.nan
    out["family"] = out["family"].fillna(out["base"].map(family_of))
    out["definition"] = out["definition"].fillna("Definition not available in this build.")
    out["polarity"] = out["polarity"].fillna("no judgement")
    out["unit"] = out["unit"].fillna("%")
    family_rank = {f: i for i, f in enumerate([*FAMILIES, "other"])}
    out = out.assign(
        _f=out["family"].map(family_rank).fillna(len(family_rank)),
        _d=out["derived"].map({"": 0, "DSR": 1, "RVE": 2}),
    ).sort_values(["_f", "_order", "_d"], kind="stable", na_position="last")
    keep = [*_REGISTRY_COLUMNS[:-1], "derived", "england_value"]
    return out[keep].astype({"england_value": "float64"}).reset_index(drop=True)


def prepared_folder(data_dir: str | Path, work_dir: Path) -> Path:
    """Return a prepared folder for ``data_dir``, preparing an extract into ``work_dir``.

    Dependency point on ``bsol_analytics.cleaning.prepare``.

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> for name in ("patients.parquet", "prepare_manifest.json"):
        ...     _ = (d / name).write_bytes(b"")
        >>> prepared_folder(d, d / "work") == d
        True
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ParameterError(f"The data folder {data_dir} does not exist.")
    if (data_dir / "patients.parquet").exists() and (data_dir / "prepare_manifest.json").exists():
        return data_dir
    from bsol_analytics.cleaning import prepare

    out = work_dir / "processed"
    prepare(data_dir, out)
    return out


def indicator_frame(
    processed: Path,
    reporting_date: dt.date,
    view: str,
    imd: str,
    engine: str,
) -> pd.DataFrame:
    """The tidy indicator frame every pack needs, computed once.

    Dependency point on ``bsol_analytics.breakdowns.indicator_table`` (disclosure control
    on): BSOL and localities with the breakdowns of :data:`BREAKDOWNS` at the reporting
    date, the quarterly series for trends, and PCNs and practices for funnel plots.
    """
    from bsol_analytics.breakdowns import indicator_table

    dates = quarter_series(reporting_date)
    common = {"view": view, "imd": imd, "engine": engine, "sdc": True}
    frames = [
        indicator_table(processed, [reporting_date], by=["locality", *BREAKDOWNS], **common),
        indicator_table(processed, dates[:-1], by=["locality"], **common),
        indicator_table(processed, [reporting_date], by=["pcn", "practice"], **common),
    ]
    return pd.concat(frames, ignore_index=True).drop_duplicates(
        [
            "indicator_id",
            "reporting_date",
            "area_type",
            "area",
            "breakdown",
            "group",
            "confidence",
            "comparator",
        ]
    )


def _write_tables(
    out_dir: Path,
    indicators: pd.DataFrame,
    population: pd.DataFrame,
    demography: pd.DataFrame,
    practices: pd.DataFrame,
    info: dict[str, Any],
    wards: pd.DataFrame | None = None,
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    if wards is not None:
        wards.to_parquet(out_dir / "wards.parquet", index=False)
    indicators = indicators.assign(reporting_date=pd.to_datetime(indicators["reporting_date"]))
    rd = parse_reporting_date(info["reporting_date"])
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

    Args:
        data_dir: an extract folder or a prepared folder.
        out_dir: where to write the tables (see :mod:`bsol_analytics.report`).
        reporting_date: ``YYYY-MM-DD``; default the latest complete quarter.
        view: ``"practice"`` or ``"resident"``.
        imd: ``"2025"`` or ``"2019"``.
        engine: ``"pandas"``, ``"duckdb"`` or ``"spark"``.
        timings: a dict that receives the seconds spent in ``prepare`` and ``compute``.

    Returns:
        ``out_dir``.
    """
    _, rd = validate_parameters(BSOL, reporting_date, view, imd)
    out = Path(out_dir)
    timings = timings if timings is not None else {}
    t0 = time.perf_counter()
    processed = prepared_folder(data_dir, out.parent)
    timings["prepare"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    patients = pd.read_parquet(processed / "patients.parquet")
    indicators = indicator_frame(processed, rd, view, imd, engine)
    population, demography = population_tables(patients, rd, view, imd)
    practices = (
        patients[["practice_code", "practice_name", "pcn_code", "pcn_name", "practice_locality"]]
        .drop_duplicates("practice_code")
        .rename(columns={"practice_locality": "locality"})
        .sort_values("practice_code", ignore_index=True)
    )
    quality_file = processed / "data_quality.json"
    info = {
        "reporting_date": rd.isoformat(),
        "view": view,
        "imd": str(imd),
        "engine": engine,
        "suite_version": __version__,
        "sdc_rule": _sdc_rule(),
        "data_quality": _quality_notes(quality_file),
        "data_sources": _data_sources(processed),
    }
    wards = ward_table(processed, rd, _headline_ids(indicators["indicator_id"].unique()), engine)
    _write_tables(out, indicators, population, demography, practices, info, wards)
    timings["compute"] = time.perf_counter() - t0
    return out


def _sdc_rule() -> str:
    """The disclosure-control rule in words (from ``bsol_analytics.sdc``)."""
    try:
        from bsol_analytics.sdc import DEFAULT_POLICY as policy
    except ImportError:
        return f"Counts of 1 to {SMALL_COUNT - 1} are suppressed."
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
    notes = data.get("notes") if isinstance(data, dict) else None
    if isinstance(notes, list) and notes:
        return [str(n) for n in notes]
    flat = []
    for key, value in data.items() if isinstance(data, dict) else []:
        if isinstance(value, int | float | str | bool):
            flat.append(f"{key.replace('_', ' ')}: {value}")
    return flat or ["The data-quality summary has no notes."]


def _data_sources(processed: Path) -> list[str]:
    sources = [
        "Pseudonymised GP extract for Birmingham and Solihull practices, prepared by "
        "bsol prepare (see the data contract).",
        "English Indices of Deprivation 2025 and 2019 (MHCLG), LSOA 2021 boundaries and "
        "lookups (ONS), Census 2021 ethnic group (ONS): see data/raw/MANIFEST.",
        "Practice, PCN and locality lookups of BSOL ICB; QOF 2023-24 (NHS England).",
    ]
    manifest = processed / "prepare_manifest.json"
    if manifest.exists():
        info = json.loads(manifest.read_text())
        if isinstance(info, dict) and info.get("admissions_supplied") is False:
            sources.append("The extract had no admissions table: EOL_3PLUS_EMERG is not shown.")
    return sources


#: Invented age-mix factors (age-standardised / crude) and expected prevalences of the
#: demonstration tables.
_DEMO_AGE_FACTOR = dict(
    zip([*LOCALITIES, BSOL], [1.08, 1.12, 0.97, 0.95, 1.02, 0.88, 1.0], strict=True)
)
_DEMO_EXPECTED = {"HYP_PREV": 0.2, "DM_PREV": 0.09, "COPD_PREV": 0.025}


def _demo_derived(tidy: pd.DataFrame) -> pd.DataFrame:
    """Age-standardised (``_DSR``) and recorded-vs-expected (``_RVE``) demonstration rows."""
    base = tidy[
        tidy["indicator_id"].isin(list(_DEMO_EXPECTED))
        & (tidy["breakdown"] == "overall")
        & tidy["area_type"].isin(["BSOL", "locality"])
    ]
    factor = base["area"].map(_DEMO_AGE_FACTOR).to_numpy(float)
    dsr = base.assign(
        indicator_id=base["indicator_id"] + "_DSR",
        value=base["value"] * factor,
        lower=base["lower"] * factor,
        upper=base["upper"] * factor,
        method="Dobson",
    )
    expected = base["denominator"] * base["indicator_id"].map(_DEMO_EXPECTED)
    scale = base["denominator"] / expected / 100
    rve = base.assign(
        indicator_id=base["indicator_id"] + "_RVE",
        value=base["value"] * scale,
        lower=base["lower"] * scale,
        upper=base["upper"] * scale,
        denominator=expected,
        method="Byar",
    )
    return pd.concat([dsr, rve], ignore_index=True)


def write_demo_tables(
    out_dir: str | Path,
    reporting_date: str | dt.date = "2025-03-31",
    patients: int = 20_000,
    seed: int = 1,
) -> Path:
    """Write small synthetic pack tables in the exact shape of :func:`compute_tables`.

    For tests, examples and trying the notebooks without an extract: invented practices,
    ten indicators across the five families, all breakdowns, eight quarters and disclosure
    control of small counts. Same arguments, same tables.

    Examples:
        >>> import tempfile
        >>> folder = write_demo_tables(tempfile.mkdtemp(), "2025-03-31", patients=2000)
        >>> sorted(p.name for p in folder.iterdir())[:2]
        ['demography.parquet', 'indicator_meta.parquet']
    """
    from bsol_analytics.stats import wilson_lower, wilson_upper

    rd = parse_reporting_date(reporting_date)
    rng = np.random.default_rng(seed)
    spec = pd.DataFrame(
        [
            ("HYP_PREV", 0.14, 1.0),
            ("HYP_BP_TARGET", 0.62, 0.14),
            ("DM_PREV", 0.08, 1.0),
            ("DM_HBA1C_58", 0.55, 0.08),
            ("COPD_PREV", 0.02, 1.0),
            ("COPD_REVIEW", 0.7, 0.02),
            ("EOL_ON_PC_REG", 0.4, 0.008),
            ("SCR_BREAST", 0.65, 0.07),
            ("SCR_CERVICAL_25_49", 0.7, 0.18),
            ("SCR_BOWEL", 0.6, 0.12),
        ],
        columns=["indicator_id", "rate", "share"],
    )
    meta = indicator_metadata(spec["indicator_id"])
    spec = spec.merge(meta[["indicator_id", "polarity", "england_value"]], on="indicator_id")
    dates = quarter_series(rd)
    area_share = np.array([0.22, 0.2, 0.17, 0.16, 0.12, 0.13])
    effect = dict(zip(LOCALITIES, [1.1, 1.05, 0.95, 0.98, 1.03, 0.9], strict=True))
    practices = pd.DataFrame(
        {
            "practice_code": [f"M{90000 + i:05d}" for i in range(36)],
            "practice_name": [f"Demo Practice {i + 1}" for i in range(36)],
            "pcn_code": [f"U{1000 + i // 3}" for i in range(36)],
            "pcn_name": [f"Demo PCN {i // 3 + 1}" for i in range(36)],
            "locality": [LOCALITIES[i // 6] for i in range(36)],
        }
    )
    cells: list[tuple[str, str, str, str, float, float]] = []  # area_type, area, bd, group
    for loc, share in zip(LOCALITIES, area_share, strict=True):
        cells.append(("locality", loc, "overall", "All", share, effect[loc]))
    cells.append(("BSOL", BSOL, "overall", "All", 1.0, 1.0))
    for area_type, area in [("BSOL", BSOL), *[("locality", lo) for lo in LOCALITIES]]:
        share = 1.0 if area == BSOL else float(area_share[LOCALITIES.index(area)])
        eff = 1.0 if area == BSOL else effect[area]
        for q, group in enumerate(QUINTILES):
            cells.append(
                (area_type, area, "imd_quintile", group, share * 0.2, eff * (1.25 - 0.1 * q))
            )
        for e, group in enumerate(ETHNIC_GROUPS):
            w = [0.3, 0.1, 0.05, 0.45, 0.05, 0.05][e]
            cells.append(
                (
                    area_type,
                    area,
                    "ethnicity_broad",
                    group,
                    share * w,
                    eff * [1.2, 1.1, 0.9, 1.0, 0.95, 0.8][e],
                )
            )
            for q, qg in enumerate(QUINTILES):
                cells.append(
                    (
                        area_type,
                        area,
                        "imd_quintile*ethnicity_broad",
                        f"{qg} | {group}",
                        share * w * 0.2,
                        eff * (1.25 - 0.1 * q) * [1.2, 1.1, 0.9, 1.0, 0.95, 0.8][e],
                    )
                )
        for s, group in enumerate(["Female", "Male"]):
            cells.append((area_type, area, "sex", group, share * 0.5, eff * (0.95 + 0.1 * s)))
    practice_effect = practices["locality"].map(effect) * rng.uniform(0.8, 1.2, len(practices))
    cells += [
        ("practice", code, "overall", "All", 1 / 40, float(eff))
        for code, eff in zip(practices["practice_code"], practice_effect, strict=True)
    ]
    for pcn in practices["pcn_code"].unique():
        cells.append(("pcn", pcn, "overall", "All", 1 / 12, rng.uniform(0.85, 1.15)))
    cell = pd.DataFrame(cells, columns=["area_type", "area", "breakdown", "group", "w", "eff"])
    latest_only = cell["breakdown"] != "overall"
    frames = []
    for i, d in enumerate(dates):
        part = (
            cell if d == rd else cell[~latest_only & cell["area_type"].isin(["BSOL", "locality"])]
        )
        frames.append(part.assign(reporting_date=pd.Timestamp(d), drift=1 + 0.01 * i))
    grid = pd.concat(frames, ignore_index=True).merge(spec, how="cross")
    denom = rng.poisson(patients * grid["w"] * grid["share"]).astype(float)
    p = np.clip(grid["rate"] * grid["eff"] * grid["drift"], 0.001, 0.99)
    num = rng.binomial(denom.astype(np.int64), p).astype(float)
    value = np.where(denom > 0, 100 * num / np.maximum(denom, 1), np.nan)
    lower = 100 * wilson_lower(num, np.maximum(denom, 1))
    upper = 100 * wilson_upper(num, np.maximum(denom, 1))
    small = ((num > 0) & (num < SMALL_COUNT)) | ((denom - num > 0) & (denom - num < SMALL_COUNT))
    tidy = pd.DataFrame(
        {
            "indicator_id": grid["indicator_id"],
            "reporting_date": grid["reporting_date"],
            "view": "practice",
            "area_type": grid["area_type"],
            "area": grid["area"],
            "breakdown": grid["breakdown"],
            "group": grid["group"],
            "value": value,
            "lower": lower,
            "upper": upper,
            "numerator": num,
            "denominator": denom,
            "confidence": 0.95,
            "method": "Wilson score interval",
        }
    )
    sup = np.asarray(small) | (denom < SMALL_COUNT)
    for col in ("value", "lower", "upper", "numerator", "denominator"):
        tidy[col] = tidy[col].where(~sup)
    tidy["suppressed"] = sup
    tidy["suppression_reason"] = np.where(sup, f"primary: count 1-{SMALL_COUNT - 1}", None)
    tidy = pd.concat([tidy, _demo_derived(tidy)], ignore_index=True)
    # comparators: localities against BSOL and England, BSOL against England.
    bsol = tidy[(tidy["area_type"] == "BSOL") & (tidy["breakdown"] == "overall")]
    keys = ["indicator_id", "reporting_date"]
    bsol_ref = bsol[[*keys, "value"]].rename(columns={"value": "ref_bsol"})
    eng = spec.assign(ref_eng=spec["england_value"])
    tidy = tidy.merge(bsol_ref, on=keys, how="left").merge(
        eng[["indicator_id", "ref_eng"]], on="indicator_id", how="left"
    )
    pol = tidy["indicator_id"].map(spec.set_index("indicator_id")["polarity"])

    def judge(ref: pd.Series) -> np.ndarray:
        above, below = tidy["lower"] > ref, tidy["upper"] < ref
        hi = np.where(
            pol == "higher is better",
            "better",
            np.where(pol == "lower is better", "worse", "higher"),
        )
        lo = np.where(
            pol == "higher is better",
            "worse",
            np.where(pol == "lower is better", "better", "lower"),
        )
        out = np.where(above, hi, np.where(below, lo, "similar"))
        return np.where(tidy["suppressed"] | ref.isna(), "not compared", out)

    with_bsol = tidy[tidy["area_type"] != "BSOL"].assign(
        comparator="BSOL", comparator_value=lambda f: f["ref_bsol"]
    )
    with_bsol["comparison"] = judge(tidy["ref_bsol"])[tidy["area_type"] != "BSOL"]
    overall = tidy["breakdown"] == "overall"
    with_eng = tidy[overall & (tidy["area_type"] == "BSOL")].assign(
        comparator="England", comparator_value=lambda f: f["ref_eng"]
    )
    with_eng["comparison"] = judge(tidy["ref_eng"])[overall & (tidy["area_type"] == "BSOL")]
    with_eng.loc[with_eng["comparator_value"].isna(), "comparator"] = None
    others = tidy[(tidy["area_type"] == "BSOL") & ~overall].assign(
        comparator=None, comparator_value=np.nan, comparison="not compared"
    )
    tidy = pd.concat([with_bsol, with_eng, others], ignore_index=True)
    tidy = tidy.drop(columns=["ref_bsol", "ref_eng"])
    tidy["comparator_value"] = tidy["comparator_value"].where(tidy["comparator"].notna())
    tidy = tidy.sort_values(
        ["indicator_id", "reporting_date", "area_type", "area", "breakdown", "group", "comparator"],
        ignore_index=True,
    )
    # population: registered patients by sex and age band
    n_loc = len(LOCALITIES)
    ages = np.clip(rng.gamma(2.2, 17, patients), 0, 104).astype(int)
    loc = rng.choice(n_loc, patients, p=area_share / area_share.sum())
    base = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], patients),
            "date_of_birth": pd.Timestamp(rd) - pd.to_timedelta(ages * 365.25 + 30, unit="D"),
            "registration_start": pd.Timestamp("2000-01-01"),
            "registration_end": pd.NaT,
            "date_of_death": pd.NaT,
            "practice_locality": np.asarray(LOCALITIES, dtype=object)[loc],
            "resident_locality": np.asarray(LOCALITIES, dtype=object)[loc],
            "ethnicity_broad": rng.choice(
                list(ETHNIC_GROUPS), patients, p=[0.3, 0.1, 0.05, 0.45, 0.05, 0.05]
            ),
            "imd2025_quintile": np.clip(rng.integers(1, 6, patients) - (loc < 2), 1, 5),
            "imd2019_quintile": rng.integers(1, 6, patients),
        }
    )
    base["core20"] = base["imd2025_quintile"] == 1
    population, demography = population_tables(base, rd)
    out = Path(out_dir)
    info = {
        "reporting_date": rd.isoformat(),
        "view": "practice",
        "imd": "2025",
        "engine": "pandas",
        "suite_version": __version__,
        "sdc_rule": _sdc_rule(),
        "data_quality": ["Demonstration data: invented numbers, no real patient."],
        "data_sources": ["Synthetic demonstration tables (bsol_analytics.packs)."],
        "demo": True,
    }
    from bsol_analytics.reference import ward_boundaries

    codes = ward_boundaries()["ward_code"].sort_values().to_numpy()
    wgrid = pd.MultiIndex.from_product(
        [_headline_ids(spec["indicator_id"]), codes], names=["indicator_id", "ward_code"]
    ).to_frame(index=False)
    wrate = wgrid["indicator_id"].map(spec.set_index("indicator_id")["rate"])
    wden = rng.poisson(
        patients / len(codes) * wgrid["indicator_id"].map(spec.set_index("indicator_id")["share"])
    ).astype(float)
    wnum = rng.binomial(wden.astype(np.int64), wrate * rng.uniform(0.8, 1.2, len(wgrid)))
    wsup = (wnum < SMALL_COUNT) | (wden - wnum < SMALL_COUNT)
    wards = wgrid.assign(
        value=np.where(wsup, np.nan, 100 * wnum / np.maximum(wden, 1)),
        lower=np.where(wsup, np.nan, 100 * wilson_lower(wnum, np.maximum(wden, 1))),
        upper=np.where(wsup, np.nan, 100 * wilson_upper(wnum, np.maximum(wden, 1))),
        numerator=np.where(wsup, np.nan, wnum),
        denominator=np.where(wsup, np.nan, wden),
        suppressed=wsup,
        suppression_reason=np.where(wsup, f"primary: count 1-{SMALL_COUNT - 1}", None),
    )
    return _write_tables(out, tidy, population, demography, practices, info, wards)


# --------------------------------------------------------------------------------------
# One pack
# --------------------------------------------------------------------------------------


def toc_html(notebook: Any) -> str:
    """Build the table of contents from the ``<h2 id=...>`` headings in HTML outputs.

    Examples:
        >>> import nbformat
        >>> nb = nbformat.v4.new_notebook()
        >>> out = nbformat.v4.new_output("display_data",
        ...     data={"text/html": '<h2 id="at-a-glance">At a glance</h2>'})
        >>> nb.cells.append(nbformat.v4.new_code_cell(outputs=[out]))
        >>> toc_html(nb)
        '<ol><li><a href="#at-a-glance">At a glance</a></li></ol>'
    """
    items = []
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/html", "")
            if isinstance(text, list):
                text = "".join(text)
            for hid, title in re.findall(r'<h2 id="([^"]+)">(.*?)</h2>', text):
                items.append(f'<li><a href="#{hid}">{title}</a></li>')
    return f"<ol>{''.join(items)}</ol>"


def notebook_to_html(executed: Path, title: str, footer: str = "") -> str:
    """Convert an executed pack notebook to one self-contained HTML page.

    Code cells, prompts, stderr streams and anchor links are left out; the ``bsol``
    template adds the ``<nav>`` table of contents and the CSS inline.
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(executed, as_version=4)
    nb.cells = [c for c in nb.cells if "remove-cell" not in c.metadata.get("tags", [])]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o
                for o in cell.get("outputs", [])
                if not (o.get("output_type") == "stream") and not (o.get("output_type") == "error")
            ]
    exporter = HTMLExporter(
        template_name="bsol",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
    )
    resources = {"metadata": {"name": title}, "toc_html": toc_html(nb), "footer_text": footer}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def pack_file_name(pack: str) -> str:
    """The HTML file name of a pack.

    Examples:
        >>> pack_file_name("Solihull"), pack_file_name("BSOL")
        ('solihull.html', 'bsol.html')
    """
    return f"{slug(pack)}.html"


def build_pack(task: dict[str, Any]) -> dict[str, Any]:
    """Execute the notebook for one pack and convert it to HTML (run in a worker process).

    Args:
        task: ``pack``, ``notebook``, ``work_dir``, ``out_html`` and ``parameters``.

    Returns:
        ``pack``, ``status`` (``"ok"`` or ``"failed"``), ``error``, ``file`` and
        ``timings`` (``execute``, ``convert`` seconds). Never raises.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    pack = task["pack"]
    work = Path(task["work_dir"])
    executed = work / f"{slug(pack)}.ipynb"
    if task.get("capture_stderr"):
        # The kernel inherits this worker's stderr: keep its chatter out of the terminal.
        err_log = os.open(work / f"{slug(pack)}.kernel.log", os.O_WRONLY | os.O_CREAT, 0o644)
        os.dup2(err_log, 2)
    result: dict[str, Any] = {"pack": pack, "status": "ok", "error": None, "timings": {}}
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(
            str(task["notebook"]),
            str(executed),
            parameters=task["parameters"],
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            cwd=str(work),
        )
    except PapermillExecutionError as err:
        result.update(status="failed", error=f"{err.ename}: {_first_line(err.evalue)}")
    except Exception as err:
        result.update(status="failed", error=f"{type(err).__name__}: {_first_line(str(err))}")
    result["timings"]["execute"] = time.perf_counter() - t0
    result["executed"] = str(executed)
    if result["status"] != "ok":
        return result
    t0 = time.perf_counter()
    try:
        page = notebook_to_html(executed, task["title"], task.get("footer", ""))
        if "http://" in page or "https://" in page:
            page = _strip_external(page)
        atomic_write_text(task["out_html"], page)
        result["file"] = Path(task["out_html"]).name
        result["bytes"] = len(page.encode("utf-8"))
    except Exception as err:
        result.update(status="failed", error=f"{type(err).__name__}: {_first_line(str(err))}")
    result["timings"]["convert"] = time.perf_counter() - t0
    return result


def _strip_external(page: str) -> str:
    """Remove any ``<script src=...>`` or ``<link href=...>`` that would reach another host."""
    page = re.sub(r"<script[^>]+src=\"https?://[^\"]*\"[^>]*>\s*</script>", "", page)
    return re.sub(r"<link[^>]+href=\"https?://[^\"]*\"[^>]*>", "", page)


def _first_line(text: str) -> str:
    return (str(text).strip().splitlines() or [""])[0][:500]


# --------------------------------------------------------------------------------------
# Index, manifest, run
# --------------------------------------------------------------------------------------


@dataclass
class RunResult:
    """What a run produced: the published folder, each pack's status, the exit code.

    Examples:
        >>> ok = {"pack": "East", "status": "ok"}
        >>> RunResult(Path("r"), [ok]).exit_code
        0
        >>> RunResult(Path("r"), [ok, {"pack": "West", "status": "failed"}]).exit_code
        4
    """

    folder: Path
    packs: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 when every pack of this run was built, 4 when some failed."""
        built_now = [p for p in self.packs if not p.get("carried")]
        return EXIT_PACKS_FAILED if any(p["status"] != "ok" for p in built_now) else 0


def render_index(packs: Sequence[dict[str, Any]], info: dict[str, Any]) -> str:
    """The ``index.html`` listing every pack with its status (and error).

    Examples:
        >>> page = render_index([{"pack": "East", "status": "failed", "error": "boom",
        ...     "file": None}], {"reporting_date": "2025-03-31", "finished": "now"})
        >>> 'lang="en-GB"' in page and "boom" in page
        True
    """
    css = (TEMPLATE_DIR / "bsol" / "pack.css").read_text()
    rows = []
    words = {
        "ok": "built",
        "failed": "failed (no earlier pack to show)",
        "stale": "failed: showing the earlier pack",
    }
    for p in packs:
        status = p["status"]
        name = html.escape(p["pack"])
        link = f'<a href="{html.escape(p["file"])}">{name}</a>' if p.get("file") else name
        detail = html.escape(p.get("error") or "")
        if p.get("carried"):
            detail = f"not rebuilt in this run; built {html.escape(str(p.get('stale_since')))}"
        elif status == "stale" and p.get("stale_since"):
            detail += f" (earlier pack built {html.escape(str(p['stale_since']))})"
        rows.append(
            f'<tr><th scope="row">{link}</th><td class="status-{status}">'
            f"{words.get(status, status)}</td><td>{detail}</td></tr>"
        )
    failed = [p for p in packs if p["status"] != "ok"]
    notice = (
        f'<p class="notice">{len(failed)} of {len(packs)} packs failed in this run. '
        "See the table and run.log.</p>"
        if failed
        else ""
    )
    when = fmt_date(info["reporting_date"])
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Locality packs, reporting date {when}</title>
<style>{css}</style></head>
<body>
<header class="pack-header"><p class="org">Birmingham and Solihull population health analytics</p>
</header>
<main id="main" style="max-width: 60rem; margin: 0 auto;">
<h1>Locality packs: reporting date {when}</h1>
{notice}
<table class="data"><caption>Packs in this run</caption>
<thead><tr><th scope="col">Pack</th><th scope="col">Status</th><th scope="col">Details</th></tr>
</thead><tbody>{"".join(rows)}</tbody></table>
<p class="meta">Run finished {html.escape(str(info.get("finished", "")))}; bsol_analytics
{html.escape(__version__)}. The run manifest is in manifest.json and the log in run.log.</p>
</main></body></html>
"""


def file_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (relative path → hex digest).

    Examples:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp()); _ = (d / "a.txt").write_text("x")
        >>> file_checksums(d)["a.txt"][:8]
        '2d711642'
    """
    out = {}
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        with path.open("rb") as fh:
            out[path.relative_to(folder).as_posix()] = hashlib.file_digest(fh, "sha256").hexdigest()
    return out


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    names = [
        "pandas",
        "numpy",
        "narwhals",
        "duckdb",
        "matplotlib",
        "geopandas",
        "papermill",
        "nbconvert",
    ]
    out = {"python": platform.python_version(), "bsol_analytics": __version__}
    for name in names:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            continue
    return out


def _previous_manifest(target: Path) -> dict[str, Any]:
    path = target / "manifest.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def run_packs(
    data_dir: str | Path | None,
    out_root: str | Path = "reports",
    reporting_date: str | dt.date | None = None,
    localities: str | Sequence[str] | None = None,
    jobs: int = 2,
    view: str = "practice",
    imd: str = "2025",
    engine: str = "pandas",
    tables_dir: str | Path | None = None,
    progress: bool = True,
    notebook: str | Path = NOTEBOOK,
    before_publish: Callable[[Path], None] | None = None,
) -> RunResult:
    """Build the packs and publish ``<out_root>/<reporting_date>/`` atomically.

    Args:
        data_dir: an extract folder or a prepared folder (ignored with ``tables_dir``).
        out_root: the reports folder.
        reporting_date: ``YYYY-MM-DD``; default the latest complete quarter.
        localities: packs to build (default all six localities and BSOL).
        jobs: notebooks run in parallel (one kernel each).
        view: ``"practice"`` or ``"resident"``.
        imd: ``"2025"`` or ``"2019"``.
        engine: indicator engine.
        tables_dir: precomputed pack tables (skips preparation and computation).
        progress: show a progress bar.
        notebook: the report notebook.
        before_publish: called with the staging folder just before publication (tests use
            it to simulate an interruption).

    Returns:
        The :class:`RunResult`; its ``exit_code`` is 4 when some packs failed.

    Raises:
        ParameterError: invalid parameters (nothing is written).
    """
    packs = parse_localities(localities)
    _, rd = validate_parameters(BSOL, reporting_date, view, imd)
    if jobs < 1:
        raise ParameterError(f"--jobs must be 1 or more, not {jobs}.")
    if tables_dir is None and data_dir is None:
        raise ParameterError("Give a data folder (an extract or a prepared folder).")
    notebook = Path(notebook)
    if not notebook.exists():
        raise BsolError(f"The report notebook {notebook} is missing: reinstall bsol_analytics.")
    out_root = Path(out_root)
    target = out_root / rd.isoformat()
    out_root.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    # Patient-level work (prepared extract, pack tables, executed notebooks) stays in a
    # private folder outside the reports root; only HTML is ever staged beside the target.
    work = Path(tempfile.mkdtemp(prefix="bsol-packs-work-"))
    timings: dict[str, float] = {}
    handler = logging.FileHandler(work / "run.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # The log file always gets INFO; the console keeps the level the user asked for.
    root_log = logging.getLogger("bsol_analytics")
    old_level, old_propagate = root_log.level, root_log.propagate
    console = None
    if logging.getLogger().handlers:
        console = logging.StreamHandler()
        console.setLevel(root_log.getEffectiveLevel())
        console.setFormatter(handler.formatter)
        root_log.addHandler(console)
    root_log.addHandler(handler)
    root_log.setLevel(logging.INFO)
    root_log.propagate = False
    try:
        log.info("Packs run for %s: %s (view %s, IMD %s)", rd, ", ".join(packs), view, imd)
        sweep_stale(out_root, target, started.timestamp())
        if tables_dir is None:
            tables = compute_tables(data_dir, work / "tables", rd, view, imd, engine, timings)
            inputs = file_checksums(Path(data_dir))  # type: ignore[arg-type]
        else:
            tables = Path(tables_dir)
            inputs = file_checksums(tables)
            timings["prepare"] = timings["compute"] = 0.0
        log.info(
            "Tables ready in %s (prepare %.1fs, compute %.1fs)",
            tables,
            timings["prepare"],
            timings["compute"],
        )
        info = json.loads((tables / "pack_meta.json").read_text())
        t0 = time.perf_counter()
        results = _execute_all(packs, tables, work, rd, view, imd, jobs, progress, notebook)
        timings["notebooks_wall"] = time.perf_counter() - t0
        timings["execute"] = sum(r["timings"].get("execute", 0.0) for r in results)
        timings["convert"] = sum(r["timings"].get("convert", 0.0) for r in results)
        with atomic_directory(target, prefix=f"{STAGE_PREFIX}{os.getpid()}-") as stage:
            previous = _previous_manifest(target)
            results += _carry_over(previous, target, stage, packs)
            for r in results:
                if r.get("carried"):
                    continue
                if r["status"] == "ok":
                    shutil.move(work / "html" / pack_file_name(r["pack"]), stage / r["file"])
                    continue
                log.error("Pack %s failed: %s", r["pack"], r["error"])
                old = target / pack_file_name(r["pack"])
                if old.exists():
                    shutil.copy2(old, stage / old.name)
                    r.update(status="stale", file=old.name)
                    r["stale_since"] = _built_at(previous, r["pack"])
                for kept in (
                    Path(r.get("executed", "")),
                    work / f"{slug(r['pack'])}.kernel.log",
                ):
                    if kept.is_file():
                        (stage / "failed").mkdir(exist_ok=True)
                        shutil.copy2(kept, stage / "failed" / kept.name)
            finished = dt.datetime.now(dt.UTC)
            timings["total"] = (finished - started).total_seconds()
            info_out = {**info, "finished": finished.strftime("%Y-%m-%d %H:%M:%S UTC")}
            manifest = {
                "reporting_date": rd.isoformat(),
                "parameters": {
                    "data_dir": str(data_dir) if data_dir else None,
                    "tables_dir": str(tables_dir) if tables_dir else None,
                    "localities": packs,
                    "jobs": jobs,
                    "view": view,
                    "imd": str(imd),
                    "engine": engine,
                },
                "started": started.isoformat(timespec="seconds"),
                "finished": finished.isoformat(timespec="seconds"),
                "versions": _versions(),
                "inputs_sha256": inputs,
                "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
                "packs": [
                    {
                        "pack": r["pack"],
                        "status": r["status"],
                        "error": r.get("error"),
                        "file": r.get("file"),
                        "bytes": r.get("bytes"),
                        "built": (
                            finished.isoformat(timespec="seconds")
                            if r["status"] == "ok" and not r.get("carried")
                            else r.get("stale_since")
                        ),
                        "timings_seconds": {k: round(v, 3) for k, v in r["timings"].items()},
                    }
                    for r in results
                ],
            }
            atomic_write_text(stage / "manifest.json", json.dumps(manifest, indent=2))
            atomic_write_text(stage / "index.html", render_index(results, info_out))
            log.info(
                "Run finished in %.1fs: %d built, %d failed",
                timings["total"],
                sum(r["status"] == "ok" for r in results),
                sum(r["status"] != "ok" for r in results),
            )
            handler.flush()
            shutil.copy2(work / "run.log", stage / "run.log")
            _make_readable(stage)
            if before_publish is not None:
                before_publish(stage)
        return RunResult(folder=target, packs=results, timings=timings)
    finally:
        root_log.removeHandler(handler)
        if console is not None:
            root_log.removeHandler(console)
        root_log.setLevel(old_level)
        root_log.propagate = old_propagate
        handler.close()
        shutil.rmtree(work, ignore_errors=True)


#: Name prefix of a run's staging folder in the reports root (followed by its process id).
STAGE_PREFIX = ".bsol-packs-stage-"


def sweep_stale(out_root: Path, target: Path, before: float) -> list[Path]:
    """Remove what killed runs left in the reports root, and restore a half-swapped target.

    A run stopped by ``Ctrl-C``, ``SIGTERM`` or an error cleans up after itself; one killed
    outright (``SIGKILL``, power loss) can leave a staging folder (``.bsol-packs-*``), an
    unpublished ``.<date>.tmp-*`` folder, or the previous publication renamed to
    ``.<date>.old-<pid>``. A missing ``target`` is first put back from its backup
    (:func:`bsol_analytics.io.recover_directory`); then such folders last changed before
    ``before`` whose run is no longer alive are removed.

    Args:
        out_root: the reports folder.
        target: the folder this run publishes (``<out_root>/<reporting_date>``).
        before: a POSIX time; newer folders are left alone.

    Returns:
        The folders removed.

    Examples:
        >>> import tempfile, pathlib, time
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> (root / ".bsol-packs-stage-999999999-x1").mkdir()
        >>> [p.name for p in sweep_stale(root, root / "2025-03-31", time.time() + 1)]
        ['.bsol-packs-stage-999999999-x1']
    """
    recover_directory(target)
    removed = []
    name = re.escape(target.name)
    owner = re.compile(rf"{re.escape(STAGE_PREFIX)}(\d+)-|\.{name}\.old-(\d+)$")
    candidates = [
        *out_root.glob(".bsol-packs-*"),
        *out_root.glob(f".{target.name}.tmp-*"),
        *out_root.glob(f".{target.name}.old-*"),
    ]
    for path in candidates:
        found = owner.match(path.name)
        pid = int(found.group(1) or found.group(2)) if found else None
        if pid is not None and pid != os.getpid() and pid_alive(pid):
            continue  # another run is publishing right now
        try:
            if not path.is_dir() or path.stat().st_mtime >= before:
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        log.warning("Removed %s, left by an interrupted run", path)
        removed.append(path)
    return removed


def _carry_over(
    previous: dict[str, Any], target: Path, stage: Path, packs: Sequence[str]
) -> list[dict[str, Any]]:
    """Keep the published packs of an earlier run that this run did not rebuild."""
    kept = []
    for entry in previous.get("packs", []):
        name, file = entry.get("pack"), entry.get("file")
        if name in packs or not file or not (target / file).is_file():
            continue
        shutil.copy2(target / file, stage / file)
        kept.append(
            {
                "pack": name,
                "status": entry.get("status", "ok"),
                "error": entry.get("error"),
                "file": file,
                "bytes": entry.get("bytes"),
                "timings": {},
                "carried": True,
                "stale_since": entry.get("built"),
            }
        )
        log.info("Pack %s kept from the earlier run (not rebuilt this time)", name)
    return kept


def _make_readable(folder: Path) -> None:
    """Published reports are world-readable (temporary folders are created private)."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def _built_at(manifest: dict[str, Any], pack: str) -> str | None:
    for p in manifest.get("packs", []):
        if p.get("pack") == pack:
            return p.get("built")
    return None


def _execute_all(
    packs: Sequence[str],
    tables: Path,
    work: Path,
    rd: dt.date,
    view: str,
    imd: str,
    jobs: int,
    progress: bool,
    notebook: Path,
    in_process: bool = False,
) -> list[dict[str, Any]]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    (work / "html").mkdir(exist_ok=True)
    tasks = [
        {
            "pack": pack,
            "notebook": str(notebook),
            "work_dir": str(work),
            "out_html": str(work / "html" / pack_file_name(pack)),
            "title": f"{pack} locality pack, {fmt_date(rd)}"
            if pack != BSOL
            else f"BSOL pack, {fmt_date(rd)}",
            "footer": f"bsol_analytics {__version__}. Reporting date {fmt_date(rd)}.",
            "parameters": {
                "locality": pack,
                "reporting_date": rd.isoformat(),
                "tables_dir": str(tables.resolve()),
                "view": view,
                "imd": str(imd),
            },
        }
        for pack in packs
    ]
    results: dict[str, dict[str, Any]] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    from rich.console import Console

    with Progress(
        *columns, disable=not progress, transient=False, console=Console(stderr=True)
    ) as bar:
        job = bar.add_task("Building packs", total=len(tasks))
        if in_process:
            for task in tasks:
                results[task["pack"]] = build_pack(task)
                _log_result(results[task["pack"]])
                bar.advance(job)
        else:
            for task in tasks:
                task["capture_stderr"] = True
            context = multiprocessing.get_context("spawn")
            pool = cf.ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context)
            try:
                futures = {pool.submit(build_pack, t): t["pack"] for t in tasks}
                for fut in cf.as_completed(futures):
                    pack = futures[fut]
                    try:
                        results[pack] = fut.result()
                    except Exception as err:
                        results[pack] = {
                            "pack": pack,
                            "status": "failed",
                            "timings": {},
                            "error": f"{type(err).__name__}: {err}",
                        }
                    _log_result(results[pack])
                    bar.advance(job)
            except BaseException:
                _stop_workers(pool)
                raise
            pool.shutdown(wait=True)
    return [results[p] for p in packs]


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """On an interrupt, stop the notebook workers now rather than wait for their packs."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.terminate()
    for proc in processes:
        proc.join(timeout=10)


def _log_result(result: dict[str, Any]) -> None:
    t = result["timings"]
    if result["status"] == "ok":
        log.info(
            "Pack %s built (execute %.1fs, convert %.1fs)",
            result["pack"],
            t.get("execute", 0),
            t.get("convert", 0),
        )
    else:
        log.warning("Pack %s failed: %s", result["pack"], result["error"])


def cli_packs(args: argparse.Namespace) -> int:
    """``bsol packs``: build every pack and print where they are; exit 4 if some failed.

    Raises:
        ParameterError: invalid parameters.
        FileAccessError: ``DATA_DIR`` cannot be read or ``--out`` cannot be written.

    Examples:
        >>> import argparse
        >>> args = argparse.Namespace(data="extract", out="reports", reporting_date="2025-13-01",
        ...     localities=None, jobs=2, view="practice", imd="2025", engine="pandas")
        >>> cli_packs(args)
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: ...not a real date...
    """
    quiet = bool(getattr(args, "quiet", False))
    with file_errors("bsol packs"):
        result = run_packs(
            args.data,
            out_root=args.out,
            reporting_date=args.reporting_date,
            localities=args.localities,
            jobs=args.jobs,
            view=args.view,
            imd=args.imd,
            engine=args.engine,
            progress=not quiet and sys.stderr.isatty(),
        )
    now = [p for p in result.packs if not p.get("carried")]
    ok = sum(p["status"] == "ok" for p in now)
    if not quiet:
        print(f"{ok} of {len(now)} packs built: {result.folder / 'index.html'}")
    for p in now:
        if p["status"] != "ok":
            kept = " (the earlier pack is kept, marked stale)" if p["status"] == "stale" else ""
            print(f"bsol packs: pack {p['pack']} failed: {p['error']}{kept}", file=sys.stderr)
    return result.exit_code


__all__ = [
    "PACKS",
    "RunResult",
    "build_pack",
    "cli_packs",
    "compute_tables",
    "indicator_metadata",
    "latest_quarter_end",
    "notebook_to_html",
    "parse_localities",
    "parse_reporting_date",
    "population_tables",
    "quarter_series",
    "render_index",
    "run_packs",
    "sii_table",
    "sweep_stale",
    "validate_parameters",
    "write_demo_tables",
]
