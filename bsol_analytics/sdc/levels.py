"""Small-area levels withheld whole, when most of their counts are small.

At a small area level (practice, PCN, ward) of a small extract, most counts are 1-7: at
20,000 patients, 74% of the practice rows are, before any breakdown. Cell suppression would
hide nearly all of that level, and the few cells left would each need protecting in turn,
through every level above. Such a level is **withheld whole** instead (table redesign, the
first step of tau-ARGUS): every row of it is published as suppressed, with
:data:`REASON_WITHHELD`, and the rest of the run is protected and audited as usual.

Why the audit may leave a withheld level out: every count of the level is hidden, and each
of its areas is part of an area of the level above (a *parent level* that is published),
whose cells have at least the same keys (indicator, date, breakdown, group). Take any
solution of the published relations without the level: giving one child area all of its
parent's counts and the others zero solves the child level's relations too (they are the
parent's relations, over the same keys), and the nesting sums hold. So leaving the level
out changes no range of a published cell; and every withheld count can be 0 unless its
parent has one child, where it *is* the parent's cell, which the audit covers. Levels are
withheld from the bottom up, so a withheld level never has a published level below it, and
only where the premises hold area by area (:func:`withholdable`): each area lies in one
chain of published areas, and each parent area has exactly the groups of its sub-areas.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd

from bsol_analytics.sdc.relations import _closure

#: Area types that may be withheld whole (never a locality or BSOL).
WITHHOLD_TYPES: tuple[str, ...] = ("practice", "pcn", "ward")

#: Reason of every row of a withheld level.
REASON_WITHHELD = "withheld: most counts of this area level are small"

#: The keys of a cell within its area.
_WITHIN = ["indicator_id", "reporting_date", "breakdown", "group"]

Level = tuple[str, str]


def _levels(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Every row of every table: ``name, row, view, area_type`` and the keys within its area."""
    parts = [
        pd.DataFrame(
            {
                "name": name,
                "row": np.arange(len(f)),
                **{
                    c: f[c].astype("str").to_numpy()
                    for c in ["view", "area_type", "area", *_WITHIN]
                },
            }
        )
        for name, f in tables.items()
        if len(f)
    ]
    if not parts:
        return pd.DataFrame(columns=["name", "row", "view", "area_type", "area", *_WITHIN])
    return pd.concat(parts, ignore_index=True)


def withholdable(
    rows: pd.DataFrame, candidates: Collection[Level], areas: pd.DataFrame | None
) -> list[Level]:
    """The candidate levels that can be withheld soundly, bottom up.

    A level ``(view, area_type)`` qualifies when its area type is in
    :data:`WITHHOLD_TYPES`, it has exactly one parent level present in ``rows``, every
    level below it is withheld too, its keys within an area are among its parent level's,
    and area by area its areas nest in that level's (:func:`_areas_nest`; module
    docstring).

    Args:
        rows: ``view, area_type, area`` and the keys within an area of every published row.
        candidates: the levels one would withhold.
        areas: the run's area hierarchy (``area_type, parent_type``, optional ``view``).

    Returns:
        The levels to withhold, children before parents.

    Examples:
        >>> rows = pd.DataFrame({"view": "v", "area_type": ["pcn", "practice", "practice"],
        ...     "area": ["N", "A", "B"], "indicator_id": "X", "reporting_date": "d",
        ...     "breakdown": "overall", "group": "All"})
        >>> areas = pd.DataFrame({"area_type": "practice", "area": ["A", "B"],
        ...     "parent_type": "pcn", "parent": "N"})
        >>> withholdable(rows, [("v", "practice"), ("v", "pcn")], areas)
        [('v', 'practice')]
    """
    if areas is None or not len(areas):
        return []
    closure = _closure(areas)  # every (area, ancestor) pair, with its view
    type_up = closure[["view", "area_type", "parent_type"]].drop_duplicates()
    present = set(zip(rows["view"], rows["area_type"], strict=True))
    keys = {
        lv: set(map(tuple, g[_WITHIN].to_numpy().tolist()))
        for lv, g in rows.groupby(["view", "area_type"], sort=False)
    }

    def ancestors(view: str, area_type: str) -> set[str]:
        """Every area type above ``area_type`` (through absent ones too)."""
        hit = (type_up["area_type"] == area_type) & type_up["view"].isin(["*", view])
        return set(type_up.loc[hit, "parent_type"])

    def parent_levels(level: Level) -> set[Level]:
        """The nearest levels above ``level`` that are present."""
        view = level[0]
        up = {t for t in ancestors(*level) if (view, t) in present}
        above = set().union(*(ancestors(view, t) for t in up)) if up else set()
        return {(view, t) for t in up - above}

    out: list[Level] = []
    todo = [lv for lv in candidates if lv in present and lv[1] in WITHHOLD_TYPES]
    changed = True
    while changed:
        changed = False
        for level in todo:
            if level in out:
                continue
            up = parent_levels(level)
            below = {lv for lv in present if level in parent_levels(lv)}
            if (
                len(up) == 1
                and below <= set(out)
                and keys[level] <= keys[next(iter(up))]
                and _areas_nest(rows, level, next(iter(up)), closure, present - {*out, level})
            ):
                out.append(level)
                changed = True
    return out


def _areas_nest(
    rows: pd.DataFrame, level: Level, up: Level, closure: pd.DataFrame, published: set[Level]
) -> bool:
    """Whether each area of ``level`` lies in one area of ``up`` with the same keys.

    Each area's published ancestors must form one chain whose nearest link is an area of
    ``up`` (not, say, a PCN and a locality that does not contain it), and in each breakdown
    its areas in ``level`` publish, an area of ``up`` must have exactly the groups they have
    taken together (a group only the parent has would be a known zero with the level, and
    free without it).
    """
    view = level[0]
    types = {t for v, t in published if v == view}
    c = closure[closure["view"].isin(["*", view]) & closure["parent_type"].isin(types)]
    anc: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for k, p in zip(
        zip(c["area_type"], c["area"], strict=True),
        zip(c["parent_type"], c["parent"], strict=True),
        strict=True,
    ):
        anc.setdefault(k, set()).add(p)
    area_keys = {
        (t, a): set(map(tuple, g[_WITHIN].to_numpy().tolist()))
        for (v, t, a), g in rows.groupby(["view", "area_type", "area"], sort=False)
        if v == view and t in (level[1], up[1])
    }
    union: dict[tuple[str, str], set[tuple]] = {}
    for (t, a), ks in area_keys.items():
        if t != level[1]:
            continue
        mine = anc.get((t, a), set())
        nearest = {p for p in mine if not any(p in anc.get(q, ()) for q in mine if q != p)}
        if not nearest:
            continue  # tied to no published area
        if len(nearest) > 1:
            return False
        (parent,) = nearest
        if parent[0] != up[1] or not mine - {parent} <= anc.get(parent, set()):
            return False
        union.setdefault(parent, set()).update(ks)
    for parent, ks in union.items():
        blocks = {k[:3] for k in ks}  # indicator, date, breakdown
        if {k for k in area_keys.get(parent, set()) if k[:3] in blocks} != ks:
            return False
    return True


def small_levels(
    tables: Mapping[str, pd.DataFrame],
    primary: Mapping[str, np.ndarray],
    areas: pd.DataFrame | None,
    share: float | None,
) -> list[Level]:
    """The levels to withhold: at least ``share`` of their rows primary, and withholdable.

    Args:
        tables: name -> tidy frame.
        primary: name -> per row, whether primary suppression flags it.
        areas: the run's area hierarchy.
        share: the share of primary rows from which a level is withheld (``None``: never).

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": ["pcn", "practice", "practice"], "area": ["n", "a", "b"],
        ...     "breakdown": "overall", "group": "All"})
        >>> areas = pd.DataFrame({"area_type": "practice", "area": ["a", "b"],
        ...     "parent_type": "pcn", "parent": "n"})
        >>> small_levels({"t": t}, {"t": np.array([False, True, True])}, areas, 0.5)
        [('v', 'practice')]
        >>> small_levels({"t": t}, {"t": np.array([False, True, False])}, areas, 0.6)
        []
    """
    if share is None:
        return []
    rows = _levels(tables)
    if rows.empty:
        return []
    flag = np.concatenate([np.asarray(primary[n], bool) for n, f in tables.items() if len(f)])
    shares = pd.Series(flag).groupby([rows["view"], rows["area_type"]]).mean()
    over = [lv for lv, s in shares.items() if s >= share]
    return withholdable(rows, over, areas)


def withheld_rows(
    tables: Mapping[str, pd.DataFrame], levels: Collection[Level]
) -> dict[str, np.ndarray]:
    """Per table, whether each row lies in one of ``levels``.

    Examples:
        >>> t = pd.DataFrame({"view": "v", "area_type": ["pcn", "practice"]})
        >>> withheld_rows({"t": t}, [("v", "practice")])["t"].tolist()
        [False, True]
    """
    wanted = (
        pd.MultiIndex.from_tuples(list(levels), names=["view", "area_type"]) if levels else None
    )
    out = {}
    for name, f in tables.items():
        if wanted is None or not len(f):
            out[name] = np.zeros(len(f), bool)
            continue
        idx = pd.MultiIndex.from_arrays(
            [f["view"].astype("str").to_numpy(), f["area_type"].astype("str").to_numpy()]
        )
        out[name] = idx.isin(wanted)
    return out


def labelled(frame: pd.DataFrame) -> np.ndarray:
    """Per row: suppressed with :data:`REASON_WITHHELD`, its counts and value blank.

    Examples:
        >>> t = pd.DataFrame({"numerator": [None, 5.0], "suppressed": True,
        ...     "suppression_reason": REASON_WITHHELD})
        >>> labelled(t).tolist()
        [True, False]
    """
    if "suppression_reason" not in frame.columns or "suppressed" not in frame.columns:
        return np.zeros(len(frame), bool)
    out = frame["suppression_reason"].astype("str").eq(REASON_WITHHELD).to_numpy().copy()
    out &= frame["suppressed"].fillna(False).to_numpy(bool)
    for col in ("numerator", "denominator", "value"):
        if col in frame.columns:
            out &= frame[col].isna().to_numpy()
    return out


def published_withheld(
    tables: Mapping[str, pd.DataFrame], areas: pd.DataFrame | None
) -> list[Level]:
    """The levels a published run withheld whole, as the audit may leave them out.

    A level counts when every row of it is :func:`labelled` withheld and
    :func:`withholdable` accepts it; otherwise its rows stay in the audit (where
    :func:`bsol_analytics.sdc.audit.audit_run` checks every count labelled withheld as it
    checks a small count).

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": ["pcn", "practice"], "area": ["n", "a"],
        ...     "breakdown": "overall", "group": "All", "suppressed": [False, True],
        ...     "suppression_reason": [None, REASON_WITHHELD]})
        >>> areas = pd.DataFrame({"area_type": ["practice"], "area": ["a"],
        ...     "parent_type": ["pcn"], "parent": ["n"]})
        >>> published_withheld({"t": t}, areas)
        [('v', 'practice')]
    """
    rows = _levels(tables)
    if rows.empty:
        return []
    held = np.concatenate([labelled(f) for f in tables.values() if len(f)])
    whole = pd.Series(held).groupby([rows["view"], rows["area_type"]]).all()
    return withholdable(rows, [lv for lv, w in whole.items() if w], areas)


def describe(levels: Collection[Level]) -> list[str]:
    """The withheld levels in words, for the manifest and the log.

    Examples:
        >>> describe([("practice", "practice"), ("resident", "ward")])
        ['practice (practice view)', 'ward (resident view)']
    """
    return [f"{t} ({v} view)" for v, t in levels]
