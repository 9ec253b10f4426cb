"""Indicator breakdowns, statistics, comparators and the ``bsol indicators`` command.

:func:`indicator_table` is the one entry point: it computes the cube once (with the union of
the keys every requested breakdown needs), rolls it up in pandas to each area type ×
breakdown, adds the statistics (Wilson percentages for every indicator, age-standardised
prevalence and recorded-versus-expected ratios for the prevalence indicators), applies the
disclosure-control policy (:mod:`bsol_analytics.sdc`) and finally compares each published
row with its comparator (BSOL for localities, PCNs and practices; England for BSOL where the
registry holds an England value). The result is the tidy indicator frame of
``docs/architecture.md``.

Conventions:

* ``area`` holds the locality name, the PCN code or the practice's ODS code (``BSOL`` for
  BSOL). In the resident view, patients whose LSOA is outside BSOL or unknown form the
  locality ``Outside BSOL or unknown``; BSOL is always the whole registered population.
* ``group`` labels: ``Q1 (most deprived)`` … ``Q5 (least deprived)``, ``D1 (most
  deprived)`` … ``D10 (least deprived)``, ``Core20``/``Rest``, ``Female``/``Male``, the
  ethnic group, the ESP2013 age band, ``Unknown`` for a missing value and ``All`` for
  ``overall``. A cross ``A*B`` has groups ``"<A group> | <B group>"``.
* ``core20`` follows the chosen IMD version (national quintile 1).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics import sdc as sdc_mod
from bsol_analytics import stats
from bsol_analytics.errors import ParameterError
from bsol_analytics.io import atomic_write_bytes, atomic_write_text
from bsol_analytics.stats.dsr import ESP2013_BANDS

log = logging.getLogger(__name__)

#: Area types, coarsest first (``--by`` spells them in lower case).
AREA_TYPES: tuple[str, ...] = ("BSOL", "locality", "pcn", "practice")

#: Breakdowns that can be asked for (besides ``overall``); join two with ``*`` to cross.
BREAKDOWNS: tuple[str, ...] = (
    "imd_quintile",
    "imd_decile",
    "core20",
    "ethnicity_broad",
    "ethnicity_detailed",
    "sex",
    "age_band",
)

#: Indicators with an age-standardised version (id + ``_DSR``, per 100, ESP2013).
DSR_BASES: tuple[str, ...] = ("HYP_PREV", "DM_PREV", "COPD_PREV", "PC_REG")

#: Indicators with a recorded-versus-expected ratio (id + ``_RVE``).
RVE_BASES: tuple[str, ...] = ("HYP_PREV", "DM_PREV", "COPD_PREV")

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

VIEWS: tuple[str, ...] = ("practice", "resident")
IMD_VERSIONS: tuple[str, ...] = ("2025", "2019")
OUTSIDE_BSOL = "Outside BSOL or unknown"
UNKNOWN = "Unknown"
CROSS_SEP = sdc_mod.CROSS_SEP

_ID = ["reporting_date", "indicator_id", "area_type", "area", "breakdown", "group"]
_STRATA_COLUMNS = ["indicator_id", "age_band", "numerator", "denominator"]
_CUBE_COLUMNS = ["reporting_date", "indicator_id", "numerator", "denominator"]
_SEX_LABELS = {"F": "Female", "M": "Male"}
_CONDITIONS = {"hypertension": "HYP_PREV", "diabetes": "DM_PREV", "copd": "COPD_PREV"}


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


def _as_date(value: Any, what: str) -> dt.date:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp) or (isinstance(value, str) and len(value.strip()) != 10):
        raise ParameterError(f"{what} {value!r} is not a date; write it as YYYY-MM-DD.")
    return stamp.date()


def quarter_ends(start: Any, end: Any) -> list[dt.date]:
    """Calendar quarter ends (31 Mar, 30 Jun, 30 Sep, 31 Dec) from ``start`` to ``end``.

    Args:
        start: first date (a quarter end on or after it starts the series).
        end: last date (inclusive).

    Returns:
        The quarter ends in order.

    Raises:
        ParameterError: a date that does not parse, ``end`` before ``start`` or no quarter
            end in between.

    Examples:
        >>> [str(d) for d in quarter_ends("2024-03-31", "2025-01-15")]
        ['2024-03-31', '2024-06-30', '2024-09-30', '2024-12-31']
    """
    first = _as_date(start, "The series start")
    last = _as_date(end, "The series end")
    if last < first:
        raise ParameterError(f"The series end {last} is before its start {first}.")
    ends = pd.date_range(first, last, freq="QE-DEC")
    if len(ends) == 0:
        raise ParameterError(
            f"There is no quarter end (31 Mar, 30 Jun, 30 Sep, 31 Dec) between {first} and {last}."
        )
    return [d.date() for d in ends]


def parse_series(text: str) -> list[dt.date]:
    """Quarterly reporting dates from a ``START:END`` specification.

    Examples:
        >>> [str(d) for d in parse_series("2024-06-30:2024-12-31")]
        ['2024-06-30', '2024-09-30', '2024-12-31']
    """
    parts = str(text).split(":")
    if len(parts) != 2:
        raise ParameterError(
            f"--series {text!r} must be START:END with two dates YYYY-MM-DD, "
            "e.g. 2022-06-30:2025-03-31."
        )
    return quarter_ends(parts[0].strip(), parts[1].strip())


def _latest_quarter_end(day: dt.date) -> dt.date:
    q_end = (pd.Timestamp(day) + pd.offsets.QuarterEnd(0)).date()
    return day if q_end == day else (pd.Timestamp(day) - pd.offsets.QuarterEnd(1)).date()


_DATE_COLUMNS = {
    "clinical_events": "event_date",
    "screening": "test_date",
    "admissions": "admission_date",
}


def default_reporting_date(tables: Any) -> dt.date:
    """The end of the latest complete quarter in the data.

    The data run to the latest event, screening test or admission date; the reporting date
    is that date if it is a quarter end, else the quarter end before it.

    Args:
        tables: a prepared folder or a mapping of table name to pandas DataFrame.

    Returns:
        The default reporting date.

    Raises:
        ParameterError: the data hold no dates.

    Examples:
        >>> ev = pd.DataFrame({"event_date": pd.to_datetime(["2024-01-02", "2025-03-30"])})
        >>> default_reporting_date({"clinical_events": ev})
        datetime.date(2024, 12, 31)
    """
    latest: list[pd.Timestamp] = []
    if isinstance(tables, str | Path):
        import duckdb

        folder = Path(tables)
        con = duckdb.connect()
        try:
            for table, column in _DATE_COLUMNS.items():
                src = _parquet_source(folder, table)
                if src is None:
                    continue
                value = con.execute(f"SELECT max({column}) FROM read_parquet(?)", [src]).fetchone()[
                    0
                ]
                if value is not None:
                    latest.append(pd.Timestamp(value))
        finally:
            con.close()
    elif isinstance(tables, Mapping):
        for table, column in _DATE_COLUMNS.items():
            frame = tables.get(table)
            if frame is not None and column in frame.columns and len(frame):
                value = pd.to_datetime(frame[column], errors="coerce").max()
                if not pd.isna(value):
                    latest.append(pd.Timestamp(value))
    else:
        raise ParameterError(
            "default_reporting_date(): give a prepared folder or a mapping of tables."
        )
    if not latest:
        raise ParameterError(
            "The data hold no event, screening or admission dates, so there is no default "
            "reporting date; give one with --date YYYY-MM-DD."
        )
    return _latest_quarter_end(max(latest).date())


def _parquet_source(folder: Path, table: str) -> str | None:
    single = folder / f"{table}.parquet"
    if single.is_file():
        return str(single)
    for parts in (folder / table, single):
        if parts.is_dir() and any(parts.glob("*.parquet")):
            return str(parts / "*.parquet")
    return None


# --------------------------------------------------------------------------------------
# Keys, roll-ups and labels
# --------------------------------------------------------------------------------------


def _area_column(area_type: str, view: str) -> str | None:
    return {
        "BSOL": None,
        "locality": f"{view}_locality",
        "pcn": "pcn_code",
        "practice": "practice_code",
    }[area_type]


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
        col = _area_column(area_type, view)
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


def _quantile_labels(values: pd.Series, prefix: str, n: int) -> pd.Series:
    num = pd.to_numeric(values, errors="coerce")
    out = prefix + num.astype("Int64").astype("str")
    out = out.where(num != 1, f"{prefix}1 (most deprived)")
    out = out.where(num != n, f"{prefix}{n} (least deprived)")
    return out.where(num.notna(), UNKNOWN)


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
    if breakdown == "imd_quintile":
        labels = _quantile_labels(uniq, "Q", 5)
    elif breakdown == "imd_decile":
        labels = _quantile_labels(uniq, "D", 10)
    elif breakdown == "core20":
        num = pd.to_numeric(uniq, errors="coerce")
        labels = pd.Series(np.where(num == 1, "Core20", "Rest"), dtype=object)
        labels = labels.where(num.notna(), UNKNOWN)
    elif breakdown == "sex":
        labels = uniq.map(_SEX_LABELS).fillna(UNKNOWN)
    else:
        labels = uniq.where(uniq.notna() & (uniq.astype("str") != ""), UNKNOWN)
    table = np.append(labels.astype("str").to_numpy(dtype=object), UNKNOWN)
    return pd.Series(table[codes], index=values.index, dtype="str")


def _group_order() -> dict[str, list[str]]:
    from bsol_analytics import reference

    return {
        "overall": ["All"],
        "imd_quintile": ["Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5 (least deprived)"],
        "imd_decile": [
            "D1 (most deprived)",
            *(f"D{i}" for i in range(2, 10)),
            "D10 (least deprived)",
        ],
        "core20": ["Core20", "Rest"],
        "ethnicity_broad": list(reference.ETHNICITY_BROAD),
        "ethnicity_detailed": list(reference.ETHNICITY_DETAILED),
        "sex": ["Female", "Male"],
        "age_band": list(ESP2013_BANDS),
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
    for area_type in area_types:
        acol = _area_column(area_type, view)
        for breakdown in breakdowns:
            bcols = _breakdown_columns(breakdown, imd)
            cols = list(
                dict.fromkeys(
                    ["reporting_date", "indicator_id", *([acol] if acol else []), *bcols, *extra]
                )
            )
            summed = (
                cube.groupby(cols, observed=True, dropna=False, sort=True)[
                    ["numerator", "denominator"]
                ]
                .sum()
                .reset_index()
            )
            if acol is None:
                area = pd.Series("BSOL", index=summed.index, dtype="str")
            else:
                fill = OUTSIDE_BSOL if area_type == "locality" and view == "resident" else UNKNOWN
                raw = summed[acol].astype(object)
                area = raw.where(raw.notna(), fill).astype("str")
            merged = False
            if breakdown == "overall":
                group = pd.Series("All", index=summed.index, dtype="str")
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
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def area_parents(cube: pd.DataFrame, area_types: Sequence[str], view: str) -> pd.DataFrame:
    """The area hierarchy used for disclosure control (which areas add up to which).

    Every area is a child of BSOL; practices are children of their PCN and, in the practice
    view, of their locality; PCNs are children of their locality when each PCN lies in one.

    Examples:
        >>> cube = pd.DataFrame({"practice_code": ["P1", "P2"], "pcn_code": ["N1", "N1"],
        ...                      "practice_locality": ["East", "East"]})
        >>> area_parents(cube, ["BSOL", "pcn", "practice"], "practice")
          area_type area parent_type parent
        0       pcn   N1        BSOL   BSOL
        1  practice   P1        BSOL   BSOL
        2  practice   P2        BSOL   BSOL
        3  practice   P1         pcn     N1
        4  practice   P2         pcn     N1
    """
    parts = []
    for area_type in area_types:
        col = _area_column(area_type, view)
        if col is None or col not in cube.columns:
            continue
        raw = cube[col].drop_duplicates().astype(object)
        fill = OUTSIDE_BSOL if area_type == "locality" and view == "resident" else UNKNOWN
        areas = raw.where(raw.notna(), fill).astype("str")
        parts.append(
            pd.DataFrame(
                {
                    "area_type": area_type,
                    "area": areas.to_numpy(),
                    "parent_type": "BSOL",
                    "parent": "BSOL",
                }
            )
        )
    links = []
    if "practice" in area_types:
        if "pcn" in area_types:
            links.append(("practice", "practice_code", "pcn", "pcn_code"))
        if "locality" in area_types and view == "practice":
            links.append(("practice", "practice_code", "locality", "practice_locality"))
    if "pcn" in area_types and "locality" in area_types and view == "practice":
        links.append(("pcn", "pcn_code", "locality", "practice_locality"))
    for child, ccol, parent, pcol in links:
        if ccol not in cube.columns or pcol not in cube.columns:
            continue
        pairs = cube[[ccol, pcol]].drop_duplicates().dropna()
        if pairs[ccol].duplicated().any():
            continue  # not nested: no line
        parts.append(
            pd.DataFrame(
                {
                    "area_type": child,
                    "area": pairs[ccol].astype("str").to_numpy(),
                    "parent_type": parent,
                    "parent": pairs[pcol].astype("str").to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["area_type", "area", "parent_type", "parent"], dtype="str")
    return pd.concat(parts, ignore_index=True)


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
    cells, strata = _cell_key(strata, by)
    # age bands as categories: the standard is matched once per band, not once per row
    strata = strata.assign(age_band=strata["age_band"].astype("category"))
    out = stats.dsr(
        strata, "numerator", "denominator", by="_cell", age_col="age_band", multiplier=100
    )
    return _with_cells(out, cells, "_DSR")


def _reference_rates() -> pd.DataFrame | None:
    """Reference prevalence by indicator, sex and age band, or ``None`` if unavailable."""
    try:
        from bsol_analytics.indicators import expected_prevalence
    except ImportError:
        return None
    ref = expected_prevalence()
    return normalise_reference_rates(ref)


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
        ref["indicator_id"] = ref["condition"].astype("str").str.lower().map(_CONDITIONS)
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


def _registry_meta(ids: Sequence[str]) -> tuple[dict[str, str], dict[str, float]]:
    """Polarity and England value per indicator id from the registry (if available)."""
    polarity: dict[str, str] = {}
    england: dict[str, float] = {}
    try:
        from bsol_analytics.indicators import get_indicator
    except ImportError:
        return polarity, england
    for i in ids:
        try:
            info = get_indicator(i)
        except Exception:  # a derived id unknown to the registry
            continue
        pol = getattr(info, "polarity", None)
        if pol:
            polarity[i] = str(pol)
        for attr in ("england_value", "england", "england_comparator"):
            value = getattr(info, attr, None)
            if value is not None and not pd.isna(value):
                england[i] = float(value)
                break
    return polarity, england


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
    pol = out["indicator_id"].map(polarity).astype(object)
    pol = pol.where(pol.notna(), "no judgement")
    result = pd.Series("not compared", index=out.index, dtype="str")
    for p in pol.unique():
        rows = (pol == p).to_numpy()
        judged = stats.compare(
            out.loc[rows, ["value", "lower", "upper", "comparator_value"]],
            "value",
            "lower",
            "upper",
            "comparator_value",
            polarity=p,
        )
        result.loc[rows] = judged["comparison"].to_numpy()
    out["comparison"] = result
    return out


# --------------------------------------------------------------------------------------
# The indicator table
# --------------------------------------------------------------------------------------


def _check_choice(value: str, choices: Sequence[str], what: str) -> str:
    value = str(value)
    if value not in choices:
        raise ParameterError(f"{what} must be one of {', '.join(choices)}, not {value!r}.")
    return value


def _requested_ids(indicators: Sequence[str] | str | None) -> tuple[list[str] | None, set[str]]:
    """Split requested ids into cube ids and derived ids (``_DSR``, ``_RVE``)."""
    if indicators is None:
        return None, {f"{b}_DSR" for b in DSR_BASES} | {f"{b}_RVE" for b in RVE_BASES}
    if isinstance(indicators, str):
        indicators = [i.strip() for i in indicators.split(",") if i.strip()]
    derived, base = set(), []
    valid_derived = {f"{b}_DSR" for b in DSR_BASES} | {f"{b}_RVE" for b in RVE_BASES}
    for i in indicators:
        if i in valid_derived:
            derived.add(i)
            base.append(i.rsplit("_", 1)[0])
        elif i.endswith(("_DSR", "_RVE")):
            raise ParameterError(
                f"Unknown indicator id {i}: the standardised ids are "
                f"{', '.join(sorted(valid_derived))}."
            )
        else:
            base.append(i)
    return list(dict.fromkeys(base)), derived


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
) -> pd.DataFrame:
    """Turn a cube into the tidy indicator frame (roll-ups, statistics, SDC, comparators).

    Args:
        cube: the output of ``indicators.compute_cube`` with the keys of :func:`cube_keys`.
        by: area types and breakdowns (see :func:`parse_by`).
        view: ``"practice"`` or ``"resident"``.
        imd: ``"2025"`` or ``"2019"``.
        derived: derived ids to add (``HYP_PREV_DSR``, ``HYP_PREV_RVE``, ...).
        reference: reference prevalence for the ``_RVE`` ids (see
            :func:`normalise_reference_rates`); without it they are left out.
        polarity: indicator id -> polarity for the comparisons.
        england: indicator id -> England value (percent).
        sdc: apply the disclosure-control policy.
        policy: the policy.
        keep: base indicator ids to publish (default all in the cube); the others only feed
            the derived ids and their disclosure control.

    Returns:
        A new frame with :data:`TIDY_COLUMNS`.

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
    view = _check_choice(view, VIEWS, "view")
    imd = _check_choice(str(imd), IMD_VERSIONS, "imd")
    area_types, breakdowns = parse_by(by)
    derived = set(derived or ())
    sdc_mod.require_columns(cube, _CUBE_COLUMNS, "tidy_indicators")
    cube = _compact(cube)
    cube_ids = [str(i) for i in pd.unique(cube["indicator_id"])]
    base_counts = rollup(cube, area_types, breakdowns, view=view, imd=imd)
    pieces = [proportions(base_counts)]
    dsr_ids = [b for b in DSR_BASES if f"{b}_DSR" in derived]
    if dsr_ids and "age_band" in cube.columns:
        use = cube[cube["indicator_id"].isin(dsr_ids)]
        no_age = [b for b in breakdowns if "age_band" not in b.split("*")]
        strata = rollup(use, area_types, no_age, view=view, imd=imd, extra=["age_band"])
        pieces.append(standardised_prevalence(strata))
    rve_ids = [b for b in RVE_BASES if f"{b}_RVE" in derived]
    if reference is not None:
        rve_ids = [b for b in rve_ids if b in set(reference["indicator_id"])]
    if rve_ids and reference is not None and {"age_band", "sex"} <= set(cube.columns):
        use = cube[cube["indicator_id"].isin(rve_ids)]
        strata = rollup(use, area_types, breakdowns, view=view, imd=imd, extra=["age_band", "sex"])
        pieces.append(recorded_vs_expected(strata, reference))
    missing_ref = [b for b in RVE_BASES if f"{b}_RVE" in derived and b not in rve_ids]
    if missing_ref:
        log.info("No reference prevalence for %s: no _RVE ratio.", ", ".join(missing_ref))
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        log.warning("No indicator has a population at these dates: the table is empty.")
        return _empty_table()
    table = pd.concat(pieces, ignore_index=True)
    table["view"] = view
    table["confidence"] = table["confidence"].astype("float64")
    for col in ("numerator", "denominator", "value", "lower", "upper"):
        table[col] = table[col].astype("float64")
    if sdc:
        linked = {f"{b}_DSR": b for b in DSR_BASES} | {f"{b}_RVE": b for b in RVE_BASES}
        parents = area_parents(cube, area_types, view)
        table = sdc_mod.apply_sdc(table, policy, parents=parents, linked=linked)
    else:
        table["suppressed"] = False
        table["suppression_reason"] = pd.Series(pd.NA, index=table.index, dtype="str")
    if keep is not None:
        # base rows feed disclosure control even when only their derived ids are wanted
        published = set(keep) | {i for i in derived if i.rsplit("_", 1)[0] in set(cube_ids)}
        table = table[table["indicator_id"].isin(list(published))].reset_index(drop=True)
    pol = dict(polarity or {})
    for b in DSR_BASES:
        if b in pol:
            pol.setdefault(f"{b}_DSR", pol[b])
    for b in RVE_BASES:
        pol.setdefault(f"{b}_RVE", "higher is better")
    table = add_comparisons(table, polarity=pol, england=england)
    order: list[str] = []
    for i in cube_ids:
        order += [i, f"{i}_DSR", f"{i}_RVE"]
    return _order(table, order)


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
    from bsol_analytics.reference import LOCALITIES

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


@contextlib.contextmanager
def open_data(data: Any) -> Iterator[Any]:
    """Yield something ``compute_cube`` accepts: a prepared folder, tables or a mapping.

    An extract folder (``patients`` and ``clinical_events`` tables, no
    ``prepare_manifest.json``) is first prepared into a temporary folder, removed afterwards.

    Args:
        data: a prepared folder, an extract folder, or tables (passed through as they are).

    Yields:
        The prepared folder, or ``data`` itself when it is not a path.

    Raises:
        ParameterError: a path that is neither an extract nor a prepared folder.

    Examples:
        >>> with open_data({"patients": None}) as tables:
        ...     sorted(tables)
        ['patients']
        >>> with open_data("no-such-folder"):
        ...     pass
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: DATA_DIR no-such-folder is not a folder.
    """
    if not isinstance(data, str | Path):
        yield data
        return
    folder = Path(data)
    if not folder.is_dir():
        raise ParameterError(f"DATA_DIR {folder} is not a folder.")
    if (folder / "prepare_manifest.json").is_file():
        yield folder
        return
    has = {p.name.split(".")[0] for p in folder.iterdir()}
    if {"patients", "clinical_events"} <= has:
        from bsol_analytics import cleaning

        with tempfile.TemporaryDirectory(prefix="bsol-prepared-") as tmp:
            out = Path(tmp) / "prepared"
            cleaning.prepare(folder, out, progress=False)
            yield out
        return
    raise ParameterError(
        f"DATA_DIR {folder} is neither an extract (it needs patients and clinical_events "
        "tables) nor a folder written by 'bsol prepare' (with prepare_manifest.json)."
    )


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
    from bsol_analytics.indicators import compute_cube

    with open_data(data) as tables:
        if reporting_dates is None:
            reporting_dates = [default_reporting_date(tables)]
        elif isinstance(reporting_dates, str | dt.date | pd.Timestamp):
            reporting_dates = [reporting_dates]
        dates = [_as_date(d, "The reporting date") for d in reporting_dates]
        keys = cube_keys(area_types, breakdowns, view=view, imd=imd, standardise=bool(derived))
        cube = compute_cube(tables, dates, keys, engine=engine, indicators=base_ids)
    keep = None
    if indicators is not None:
        wanted = [
            i.strip()
            for i in (indicators.split(",") if isinstance(indicators, str) else indicators)
        ]
        present = {str(i) for i in pd.unique(cube["indicator_id"])}
        keep = [i for i in wanted if i in present]
    reference = None
    if any(i.endswith("_RVE") for i in derived):
        try:
            reference = _reference_rates()
        except ParameterError as err:
            log.warning("Recorded-versus-expected ratios are left out: %s", err)
    polarity, england = _registry_meta([str(i) for i in pd.unique(cube["indicator_id"])])
    return tidy_indicators(
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
    )


def inequality_summary(
    table: pd.DataFrame,
    over: str = "imd_quintile",
    *,
    repetitions: int = 10_000,
    seed: int = 2024,
) -> pd.DataFrame:
    """Slope and relative index of inequality across IMD quantiles, per area.

    Uses the published rows of ``table`` (the tidy indicator frame): an area whose quantiles
    are not all published (one suppressed, say) gets missing values rather than an index
    that could reveal the suppressed cell.

    Args:
        table: the tidy indicator frame with the ``over`` breakdown.
        over: ``"imd_quintile"`` or ``"imd_decile"``.
        repetitions: simulations for the limits.
        seed: random seed, for reproducible limits.

    Returns:
        A new frame ``indicator_id, reporting_date, view, area_type, area, breakdown,
        statistic (sii/rii), value, lower, upper, confidence, method``; SII in percentage
        points from most to least deprived.

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
        >>> inequality_summary(t, repetitions=2000)[["statistic", "value"]].round(2)
          statistic  value
        0       sii -10.00
        1       rii   0.69
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
    rows = rows[rows["group"] != UNKNOWN].copy()
    rows["_q"] = pd.to_numeric(rows["group"].str.extract(r"^[QD](\d+)")[0], errors="coerce")
    ids = ["indicator_id", "reporting_date", "view", "area_type", "area", "breakdown"]
    for col in ("value", "lower", "upper"):
        rows[col] = rows[col] / 100
    rows["_pop"] = rows["denominator"].fillna(0.0)
    out = stats.sii(
        rows,
        "_q",
        "_pop",
        value="value",
        lower="lower",
        upper="upper",
        by=ids,
        value_type="normal",
        multiplier=100,
        repetitions=repetitions,
        seed=seed,
    )
    return out.drop(columns=["numerator", "denominator", "multiplier"], errors="ignore")


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` to ``.csv`` or ``.parquet`` atomically.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "t.csv"
        >>> print(write_table(pd.DataFrame({"a": [1]}), p).read_text(), end="")
        a
        1
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return atomic_write_text(path, table.to_csv(index=False))
    if suffix == ".parquet":
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        return atomic_write_bytes(path, buffer.getvalue())
    raise ParameterError(f"--out {path} must end in .csv or .parquet.")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _summary(table: pd.DataFrame, out: Path, *, view: str, imd: str, sdc: bool) -> str:
    """The one-line summary printed by ``bsol indicators``."""
    areas = table[["area_type", "area"]].drop_duplicates().shape[0]
    control = (
        f"on ({_plural(int(table['suppressed'].sum()), 'row')} suppressed)"
        if sdc
        else "OFF (for use inside the secure environment only)"
    )
    return (
        f"Wrote {_plural(len(table), 'row')} to {out}: "
        f"{_plural(table['indicator_id'].nunique(), 'indicator')}, "
        f"{_plural(table['reporting_date'].nunique(), 'reporting date')}, "
        f"{_plural(areas, 'area')}, {view} view, IMD {imd}; disclosure control {control}."
    )


def cli_indicators(args: argparse.Namespace) -> int:
    """Run ``bsol indicators``: compute, write atomically and print a one-line summary.

    Args:
        args: ``data``, ``out``, ``reporting_date``, ``series``, ``by``, ``view``, ``imd``,
            ``engine``, ``indicators`` and ``no_sdc`` (see :mod:`bsol_analytics.cli`).

    Returns:
        0 when the table was written.

    Raises:
        ParameterError: an invalid argument, named with the valid choices.
        FileAccessError: ``--out`` cannot be written.

    Examples:
        >>> args = argparse.Namespace(data=".", out="table.xlsx", series=None,
        ...     reporting_date="2025-03-31", by="locality", view="practice", imd="2025",
        ...     engine="pandas", indicators=None, no_sdc=False)
        >>> cli_indicators(args)
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: --out table.xlsx must end in .csv or .parquet.
    """
    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ParameterError(f"--out {out} must end in .csv or .parquet.")
    if args.series and args.reporting_date:
        raise ParameterError("Give --date or --series, not both.")
    dates: Any = parse_series(args.series) if args.series else args.reporting_date
    if isinstance(dates, str):
        dates = [_as_date(dates, "--date")]
    parse_by(args.by)
    indicators = None
    if args.indicators:
        indicators = [i.strip() for i in args.indicators.split(",") if i.strip()]
    table = indicator_table(
        args.data,
        dates,
        by=args.by,
        view=args.view,
        imd=args.imd,
        engine=args.engine,
        indicators=indicators,
        sdc=not args.no_sdc,
    )
    from bsol_analytics.errors import file_errors

    with file_errors("bsol indicators"):
        write_table(table, out)
    print(_summary(table, out, view=args.view, imd=args.imd, sdc=not args.no_sdc))
    return 0


__all__ = [
    "AREA_TYPES",
    "BREAKDOWNS",
    "DSR_BASES",
    "RVE_BASES",
    "TIDY_COLUMNS",
    "add_comparisons",
    "area_parents",
    "cli_indicators",
    "cube_keys",
    "default_reporting_date",
    "group_labels",
    "indicator_table",
    "inequality_summary",
    "parse_by",
    "parse_series",
    "proportions",
    "quarter_ends",
    "recorded_vs_expected",
    "rollup",
    "standardised_prevalence",
    "tidy_indicators",
    "write_table",
]
