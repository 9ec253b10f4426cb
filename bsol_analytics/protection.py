"""Disclosure control, applied once per run to everything the run publishes.

A run first computes every table without suppression (the indicator frame with all its
areas, breakdowns and dates; the population, demography and ward tables), then passes them
together, with the run's :func:`areas` frame, to :func:`protect_run`, the single place where
suppression happens. The policy and the rules are in :mod:`bsol_analytics.sdc`.

Examples:
    >>> linked_ids(["HYP_PREV", "HYP_PREV_DSR", "DM_PREV_RVE"])
    {'HYP_PREV_DSR': 'HYP_PREV', 'DM_PREV_RVE': 'DM_PREV'}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from bsol_analytics import sdc
from bsol_analytics.vocabulary import (
    DSR_SUFFIX,
    RVE_SUFFIX,
    area_column,
    missing_area,
)

#: Columns of the run's areas frame: each area with one of its parents.
AREA_COLUMNS: tuple[str, ...] = ("area_type", "area", "parent_type", "parent")

#: Published count tables -> the lines of cells whose totals are published (key lists).
COUNT_LINES: dict[str, list[list[str]]] = {
    "population": [["area"], ["area", "sex"], ["sex", "age_band"]],
    "demography": [["area", "breakdown"], ["breakdown", "group"]],
}


def linked_ids(indicator_ids: Iterable[str]) -> dict[str, str]:
    """Derived indicator id -> the base id whose counts it shares (``_DSR``, ``_RVE``)."""
    return {
        str(i): str(i)[: -len(suffix)]
        for i in dict.fromkeys(indicator_ids)
        for suffix in (DSR_SUFFIX, RVE_SUFFIX)
        if str(i).endswith(suffix)
    }


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
        col = area_column(area_type, view)
        if col is None or col not in cube.columns:
            continue
        raw = cube[col].drop_duplicates().astype(object)
        fill = missing_area(area_type, view)
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


def ward_parents(patients: pd.DataFrame) -> pd.DataFrame:
    """Ward -> locality rows (resident view) of the areas frame, for wards in one locality.

    Examples:
        >>> p = pd.DataFrame({"ward_code": ["W1", "W1", "W2", None],
        ...     "resident_locality": ["East", "East", "West", "East"]})
        >>> ward_parents(p)
          area_type area parent_type parent
        0      ward   W1    locality   East
        1      ward   W2    locality   West
    """
    pairs = patients[["ward_code", "resident_locality"]].dropna().drop_duplicates()
    pairs = pairs[~pairs["ward_code"].duplicated(keep=False)].sort_values("ward_code")
    return pd.DataFrame(
        {
            "area_type": "ward",
            "area": pairs["ward_code"].astype("str").to_numpy(),
            "parent_type": "locality",
            "parent": pairs["resident_locality"].astype("str").to_numpy(),
        }
    )


def areas(cube: pd.DataFrame, area_types: Sequence[str], view: str,
          patients: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """The run's areas frame: practice -> PCN -> locality -> BSOL, and ward -> locality.

    Args:
        cube: the run's cube (its area keys).
        area_types: the area types the run publishes.
        view: ``"practice"`` or ``"resident"``.
        patients: the processed patients, for the ward rows (none without it).

    Returns:
        A new frame with :data:`AREA_COLUMNS`.
    """
    parts = [area_parents(cube, area_types, view)]
    if patients is not None and {"ward_code", "resident_locality"} <= set(patients.columns):
        parts.append(ward_parents(patients))
    return pd.concat(parts, ignore_index=True).astype("str")


def suppress_small_counts(
    frame: pd.DataFrame,
    count: str = "count",
    lines: Sequence[Sequence[str]] = (),
    policy: sdc.SDCPolicy = sdc.DEFAULT_POLICY,
) -> pd.DataFrame:
    """Disclosure control of counts: primary suppression, then complementary suppression.

    Counts in the policy's small range are suppressed; then, for every line of cells whose
    total is published (the rows sharing the values of each key list in ``lines``), a
    second cell is suppressed wherever one alone would be recoverable by subtraction
    (``bsol_analytics.sdc.secondary_suppression``). Zero is shown (it discloses nothing
    about a person). Returns a new frame with ``suppressed``, ``suppression_reason``, and
    the suppressed counts missing.

    Examples:
        >>> f = pd.DataFrame({"area": ["A"] * 3, "count": [0, 4, 25]})
        >>> suppress_small_counts(f)["suppressed"].tolist()
        [False, True, False]
        >>> f = pd.DataFrame({"area": ["A"] * 3, "count": [4, 30, 25]})
        >>> suppress_small_counts(f, lines=[["area"]])["suppressed"].tolist()
        [True, False, True]
    """
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


def _indicator_parents(frame: pd.DataFrame, run_areas: pd.DataFrame) -> pd.DataFrame:
    """The rows of the areas frame between area types the indicator frame holds."""
    present = set(frame["area_type"].astype("str"))
    keep = run_areas["area_type"].isin(present) & run_areas["parent_type"].isin(present)
    return run_areas[keep].reset_index(drop=True)


def protect_run(
    tables: Mapping[str, pd.DataFrame],
    run_areas: pd.DataFrame,
    policy: sdc.SDCPolicy = sdc.DEFAULT_POLICY,
) -> dict[str, pd.DataFrame]:
    """Apply disclosure control, once, to everything a run publishes.

    Args:
        tables: name -> unsuppressed table: ``indicators`` and ``wards`` (tidy indicator
            frames), ``population`` and ``demography`` (counts, see :data:`COUNT_LINES`).
        run_areas: the run's :func:`areas` frame.
        policy: the disclosure-control policy.

    Returns:
        name -> a new, protected table (tables of other names pass through unchanged).

    Examples:
        >>> ind = pd.DataFrame({"indicator_id": "X", "reporting_date": "2025-03-31",
        ...     "view": "practice", "area_type": "BSOL", "area": "BSOL",
        ...     "breakdown": "overall", "group": "All", "value": [30.0],
        ...     "numerator": [3], "denominator": [10]})
        >>> out = protect_run({"indicators": ind}, pd.DataFrame(columns=AREA_COLUMNS))
        >>> out["indicators"]["suppressed"].tolist()
        [True]
    """
    out = dict(tables)
    for name in ("indicators", "wards"):
        if name in out:
            frame = out[name]
            parents = _indicator_parents(frame, run_areas) if name == "indicators" else None
            linked = linked_ids(frame["indicator_id"].astype("str").unique())
            out[name] = sdc.apply_sdc(frame, policy, parents=parents, linked=linked)
    for name, lines in COUNT_LINES.items():
        if name in out:
            out[name] = suppress_small_counts(out[name], lines=lines, policy=policy)
    return out


__all__ = [
    "AREA_COLUMNS",
    "COUNT_LINES",
    "area_parents",
    "areas",
    "linked_ids",
    "protect_run",
    "suppress_small_counts",
    "ward_parents",
]
