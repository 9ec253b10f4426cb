"""One protection pass over everything a run publishes (:func:`protect_run`).

The heuristic, deterministic (same input, same output):

1. **Primary suppression**, row by row as :func:`~bsol_analytics.sdc.core.primary_suppression`
   (counts 1-7 and complements; expected-count denominators exempt); a cell is hidden when
   any of its rows is.
2. **Line rule** over every equality of the linked system except the links between
   indicators (:mod:`~bsol_analytics.sdc.relations`), as
   :func:`~bsol_analytics.sdc.core.secondary_suppression`: a relation with one hidden cell,
   or whose hidden cells hold a small count between them, gets its smallest published cell
   hidden too (smallest numerator, then denominator); repeated to a fixed point.
   A derived row (``_DSR``, ``_RVE``, ``_ISR``) is hidden whenever its base cell is: a
   ratio's expected count is a sum of the population by age and sex times public rates,
   which the audit does not model, so it would give a hidden small population away.
3. **Audit** (:func:`~bsol_analytics.sdc.audit.audit_system`, linear programming, with the
   unsuppressed counts as a first witness). A cell with a count not shown to be safe gets
   more cells hidden, coarser each round it fails again (:func:`_escalate`). Then back to
   step 2, until the audit passes. Each round re-examines only the counts earlier rounds
   did not prove (a witness stays a solution when more cells are hidden), and skips the
   per-count exact ranges (:data:`EXACT_SECONDS_PROTECT`): an unproven count gets another
   cell hidden instead. The counts of the first round get the whole-component stages
   once before anything more is hidden (:data:`WHOLE_PROTECT`).

Under the rounding policy (``policy.method == "round"``) step 2 is skipped: counts 1-7 are
redacted, every other count is rounded to the nearest ``rounding_base`` (0 stays 0), and
step 3 redacts further cells if rounded counts still narrow a redacted one into 1-7.
Percentages are recomputed from the rounded counts with Wilson limits; ratios to an expected
count (``_RVE``) from the rounded numerator with Byar's limits; other statistics
(age-standardised rates) are scaled by ``rounded / exact numerator``, which keeps their
limits in proportion without publishing the exact numerator.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics.sdc.audit import AuditResult, audit_system, child_areas
from bsol_analytics.sdc.core import (
    CELL_KEYS,
    CROSS_SEP,
    DEFAULT_POLICY,
    REASON_LINKED,
    REASON_SECONDARY,
    SDCPolicy,
    blank_suppressed,
    cross_parts,
    people_denominator,
    primary_suppression,
    secondary_suppression,
)
from bsol_analytics.sdc.levels import REASON_WITHHELD, describe, small_levels, withheld_rows
from bsol_analytics.sdc.relations import (
    LinkedSystem,
    breakdown_dims,
    build_system,
    violated,
)
from bsol_analytics.vocabulary import base_ids

log = logging.getLogger(__name__)

#: Most rounds of "audit, then hide more" before giving up (the audit result then fails).
MAX_AUDIT_ROUNDS = 25

#: Share of primary cells from which a whole block is hidden (:func:`_dense_blocks`).
DENSE_SHARE = 0.5

#: Seconds after which no new round starts: a run still failing then fails its audit and
#: publishes nothing (the bound on the time one protection pass may take, bar one round).
PROTECT_SECONDS = 1200.0

#: Seconds each audit round of protection spends on exact per-count ranges: counts the batch
#: witnesses leave unproven get another cell hidden next to them instead (cheaper, and the
#: audit stays sound: a count is only passed with a witness).
EXACT_SECONDS_PROTECT = 0.0

#: Whether the first audit round of protection also runs the stages over whole components
#: (down, up). They are slow on large components, so the first round leaves them out: most
#: counts get a cheaper witness; the audit is then repeated, with the same hidden cells,
#: with those stages alone for the counts left (some are only shown safe by moves across
#: several area levels at once; over ``EXACT_LIMIT`` unknowns one LP per stage and kind);
#: cells are hidden only for what still fails. Later rounds run them only if they proved
#: something then.
WHOLE_PROTECT = False

#: Reason of a cell redacted under the rounding policy to protect another.
REASON_REDACTED = "secondary: redacted to protect another cell"


def protect_run(
    tables: Mapping[str, pd.DataFrame],
    areas: pd.DataFrame | None = None,
    policy: SDCPolicy = DEFAULT_POLICY,
) -> dict[str, pd.DataFrame]:
    """Protect every table of one run as one linked system.

    Args:
        tables: table name -> tidy frame with its unsuppressed counts.
        areas: ``area_type, area, parent_type, parent`` (optional ``view``).
        policy: :data:`~bsol_analytics.sdc.core.DEFAULT_POLICY` or the rounding policy.

    Returns:
        Table name -> a new frame: the same rows, ``suppressed`` and ``suppression_reason``
        set, and ``value, lower, upper, numerator, denominator, comparator_value`` blank in
        suppressed rows (rounded counts and recomputed values under the rounding policy).

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": "BSOL", "area": "BSOL",
        ...     "breakdown": ["overall", "sex", "sex", "sex"],
        ...     "group": ["All", "Female", "Male", "Unknown"], "value": 10.0,
        ...     "numerator": [63, 30, 30, 3], "denominator": [630, 300, 300, 30]})
        >>> protect_run({"t": t})["t"][["group", "numerator", "suppressed"]]
             group  numerator  suppressed
        0      All       63.0       False
        1   Female        NaN        True
        2     Male       30.0       False
        3  Unknown        NaN        True
    """
    return protect_and_audit(tables, areas, policy)[0]


def protect_and_audit(
    tables: Mapping[str, pd.DataFrame],
    areas: pd.DataFrame | None = None,
    policy: SDCPolicy = DEFAULT_POLICY,
    *,
    unpublished: Collection[str] = (),
) -> tuple[dict[str, pd.DataFrame], AuditResult]:
    """:func:`protect_run`, also returning the final :class:`AuditResult`.

    ``unpublished`` names tables whose counts the run does not publish as such (totals
    that other tables may publish through a relation): the line rule treats them as
    published totals, the audit as unknowns tied to what is published by the relations;
    they are never checked.
    """
    rows = {name: _primary_rows(frame, policy) for name, frame in tables.items()}
    levels = small_levels(tables, {n: r[0] for n, r in rows.items()}, areas, policy.withhold_share)
    withheld = withheld_rows(tables, levels)
    kept = {name: frame[~withheld[name]] for name, frame in tables.items()}
    if levels:
        n = sum(int(w.sum()) for w in withheld.values())
        log.warning(
            "Disclosure control: the %s level%s withheld whole (%s rows, shown as "
            "suppressed): at least %.0f%% of the counts there are %d-%d. Publish fewer "
            "breakdowns of small areas, or use a larger extract.",
            " and ".join(describe(levels)),
            "s are" if len(levels) > 1 else " is",
            f"{n:,}",
            100 * (policy.withhold_share or 0),
            policy.min_count,
            policy.max_count,
        )
    system = build_system(kept, areas)
    bad = violated(system, system.values())
    if bad.any():
        kinds = system.relations.loc[bad, "kind"].value_counts().to_dict()
        log.debug("%d relations do not hold in the data and are left out: %s", bad.sum(), kinds)
        system = system.drop(bad)
    primary, reasons = _primary(
        {
            n: (f[~withheld[n]], r[~withheld[n]].reset_index(drop=True))
            for n, (f, r) in rows.items()
        },
        system,
    )
    never = np.zeros(len(system.cells), bool)
    for name in unpublished:
        if name in system.rows:  # a run without that table has nothing to hide
            never[system.rows[name]] = True
    bases = base_cells(system)
    hidden, result = _secondary(system, primary, policy, never, bases)
    out = {
        name: _with_withheld(
            frame,
            _publish(kept[name], name, system, hidden, primary, reasons, policy, bases),
            withheld[name],
        )
        for name, frame in tables.items()
    }
    return out, dataclasses.replace(result, withheld=describe(levels))


def _with_withheld(
    frame: pd.DataFrame, published: pd.DataFrame, withheld: np.ndarray
) -> pd.DataFrame:
    """All rows of ``frame``: ``published`` where kept, suppressed and blank where withheld."""
    if not withheld.any():
        return published
    rest = frame[withheld].assign(suppressed=True, suppression_reason=REASON_WITHHELD)
    rest = blank_suppressed(rest).astype({"suppression_reason": "str"})
    order = np.argsort(np.concatenate([np.flatnonzero(~withheld), np.flatnonzero(withheld)]))
    out = pd.concat([published, rest], ignore_index=True).iloc[order]
    out.index = frame.index
    return out


def _primary_rows(frame: pd.DataFrame, policy: SDCPolicy) -> tuple[np.ndarray, pd.Series]:
    """Per row of one table, whether primary suppression flags it, and its reason."""
    f = frame.reset_index(drop=True)
    if "denominator" not in f.columns:
        f = f.assign(denominator=np.nan)
    people = people_denominator(f["indicator_id"]) & f["denominator"].notna().to_numpy()
    p = primary_suppression(f[["numerator", "denominator"]], policy, people=people)
    return p["suppressed"].to_numpy(bool), p["suppression_reason"]


def _primary(
    rows: Mapping[str, tuple[np.ndarray, pd.Series]], system: LinkedSystem
) -> tuple[np.ndarray, dict[str, pd.Series]]:
    """Primary flags per cell, from each table's :func:`_primary_rows`, and its reasons."""
    flag = np.zeros(len(system.cells), bool)
    for name, (flags, _) in rows.items():
        np.logical_or.at(flag, system.rows[name], flags)
    return flag, {name: reasons for name, (_, reasons) in rows.items()}


def _with_published(system: LinkedSystem, hidden: np.ndarray, policy: SDCPolicy) -> LinkedSystem:
    """The system as published: hidden cells flagged, counts rounded under rounding."""
    cells = system.cells.assign(published=~hidden)
    if policy.method == "round":
        cells["numerator"] = round_counts(cells["numerator"], policy.rounding_base)
        people = cells["people"].to_numpy(bool)
        cells["denominator"] = np.where(
            people, round_counts(cells["denominator"], policy.rounding_base), cells["denominator"]
        )
    return dataclasses.replace(system, cells=cells)


def round_counts(counts: pd.Series | np.ndarray, base: int = 5) -> np.ndarray:
    """Round counts to the nearest multiple of ``base`` (halves up; missing stays missing).

    Examples:
        >>> round_counts(np.array([0, 8, 12, 13, np.nan])).tolist()
        [0.0, 10.0, 10.0, 15.0, nan]
    """
    x = np.asarray(counts, float)
    return np.floor(x / base + 0.5) * base


def base_cells(system: LinkedSystem) -> np.ndarray:
    """Each cell's base cell: the same keys and the id without its derived suffix, or -1.

    Examples:
        >>> cells = pd.DataFrame({k: ["x"] * 3 for k in CELL_KEYS}).assign(
        ...     indicator_id=["HYP_PREV", "HYP_PREV_RVE", "DM_PREV_DSR"])
        >>> base_cells(LinkedSystem(cells, pd.DataFrame(), pd.DataFrame())).tolist()
        [-1, 0, -1]
    """
    keys = [k for k in CELL_KEYS if k != "indicator_id"]
    cells = system.cells[list(CELL_KEYS)].astype("str").assign(_cell=np.arange(len(system.cells)))
    derived = cells.assign(indicator_id=base_ids(cells["indicator_id"]))
    derived = derived[(derived["indicator_id"] != cells["indicator_id"]).to_numpy()]
    found = derived.merge(cells, on=["indicator_id", *keys], suffixes=("", "_base"))
    out = np.full(len(cells), -1, np.int64)
    out[found["_cell"].to_numpy()] = found["_cell_base"].to_numpy()
    return out


def _with_bases(hidden: np.ndarray, bases: np.ndarray) -> np.ndarray:
    """``hidden`` with every derived cell whose base cell is hidden hidden too."""
    derived = np.flatnonzero(bases >= 0)
    out = hidden.copy()
    out[derived] |= hidden[bases[derived]]
    return out


def _secondary(
    system: LinkedSystem,
    primary: np.ndarray,
    policy: SDCPolicy,
    never: np.ndarray | None = None,
    bases: np.ndarray | None = None,
) -> tuple[np.ndarray, AuditResult]:
    """Hide further cells until the audit passes (the heuristic of the module docstring)."""
    bases = np.full(len(primary), -1, np.int64) if bases is None else bases
    hidden = primary.copy()
    never = np.zeros(len(hidden), bool) if never is None else never
    truth = system.values()
    cells = system.cells
    num = np.nan_to_num(cells["numerator"].to_numpy(float))
    den = np.nan_to_num(cells["denominator"].to_numpy(float))
    t = system.terms
    eq = (system.relations["sense"].to_numpy() == "eq")[t["relation"].to_numpy()]
    # links between indicators are left to the audit: a shared count is often large (the
    # registered list), and hiding both cells whenever one is hidden would hide too much
    kind = system.relations["kind"].to_numpy()[t["relation"].to_numpy()]
    # two denominators that are one count (a breakdown whose denominator is not split, such
    # as the diabetes types) are a shared count too, not a line: hiding one group for its
    # small numerator must not hide the other cell, often the area's overall row
    rel = t["relation"].to_numpy()
    n_terms = np.bincount(rel, minlength=len(system.relations))
    n_den = np.bincount(rel, weights=t["var"].to_numpy() % 2, minlength=len(system.relations))
    shared = ((n_terms == 2) & (n_den == 2))[rel]
    in_line = eq & (kind != "link") & ~shared
    lines = (
        pd.DataFrame(
            {"line": t["relation"].to_numpy()[in_line], "cell": t["var"].to_numpy()[in_line] // 2}
        )
        .drop_duplicates()
        .reset_index(drop=True)
    )
    # cells to hide next are looked for in the lines first (links and inequalities last)
    membership = pd.DataFrame(
        {"relation": rel, "cell": t["var"].to_numpy() // 2, "eq": eq & (kind != "link")}
    )[~shared].drop_duplicates()
    if policy.secondary and policy.method == "suppress":
        hidden |= _dense_blocks(system, primary)
    strikes = np.zeros(len(hidden), np.int64)
    t0 = time.perf_counter()
    result = None

    def audit(**how: Any) -> AuditResult:
        """The audit of what is hidden now, keeping what the last audit proved."""
        published = _with_published(system, hidden | never, policy)
        return audit_system(published, primary, policy, truth, earlier=result, **how)

    whole = tried = WHOLE_PROTECT
    for _ in range(MAX_AUDIT_ROUNDS):
        if policy.secondary and policy.method == "suppress":
            hidden = secondary_suppression(
                hidden,
                lines,
                size=num,
                tiebreak=den,
                numerator=num,
                denominator=den,
                policy=policy,
                max_iterations=policy.max_iterations,
            )
        hidden = _with_bases(hidden, bases)  # before the audit, which checks what is shown
        result = audit(exact_seconds=EXACT_SECONDS_PROTECT, whole=whole)
        if result.passed or not policy.secondary:
            break
        if not tried:  # the counts left get the whole-component stages before more hiding
            tried, before = True, len(result.failures)
            # (with the same hidden cells the pair, block and path stages find nothing new)
            result = audit(exact_seconds=EXACT_SECONDS_PROTECT, whole=True, local=False)
            if result.passed:
                break
            whole = len(result.failures) < before  # later rounds keep them if they helped
        if time.perf_counter() - t0 > PROTECT_SECONDS:
            log.warning(
                "Disclosure control: out of time with %d counts unproven.", len(result.failures)
            )
            break
        failing = np.unique(_failing_cells(result, system))
        strikes[failing] += 1
        if log.isEnabledFor(logging.DEBUG):
            where = cells.iloc[failing][["area_type", "breakdown"]].astype("str")
            log.debug("protect: failing %s", where.value_counts().head(8).to_dict())
        extra = _escalate(failing, strikes[failing], system, membership, hidden | never, num, den)
        log.debug(
            "protect: %d hidden, %d failing cells (strikes %s), %d more hidden",
            hidden.sum(),
            len(failing),
            np.bincount(strikes[failing]).tolist(),
            len(extra),
        )
        if not len(extra):
            log.warning("Disclosure control: no further cell can protect %d cells.", len(failing))
            break
        hidden[extra] = True
    assert result is not None
    return _with_bases(hidden, bases), result


def _dense_blocks(system: LinkedSystem, primary: np.ndarray) -> np.ndarray:
    """Cells of blocks in which at least :data:`DENSE_SHARE` of the groups are primary.

    A block is one indicator's groups of one breakdown at one area and date. When most of
    them are small counts, the few left would say little and would each need protecting
    in turn; hiding the whole block at once costs little and leaves the small counts free
    to move between groups (and between sibling areas) in the audit.

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": "BSOL", "area": "BSOL",
        ...     "breakdown": ["overall", "sex", "sex", "sex"],
        ...     "group": ["All", "Female", "Male", "Unknown"],
        ...     "numerator": [16, 3, 10, 3], "denominator": [160, 30, 100, 30]})
        >>> s = build_system({"t": t})
        >>> _dense_blocks(s, np.array([False, True, False, True])).tolist()
        [False, True, True, True]
    """
    cells = system.cells
    block = cells[["indicator_id", "reporting_date", "view", "area_type", "area", "breakdown"]]
    code = block.astype("str").groupby(list(block.columns), sort=False).ngroup().to_numpy()
    share = np.bincount(code, weights=primary) / np.bincount(code)
    grouped = cells["breakdown"].astype("str").to_numpy() != "overall"
    return grouped & (share[code] >= DENSE_SHARE)


def _escalate(
    failing: np.ndarray,
    strikes: np.ndarray,
    system: LinkedSystem,
    membership: pd.DataFrame,
    hidden: np.ndarray,
    num: np.ndarray,
    den: np.ndarray,
) -> np.ndarray:
    """The cells to hide next for cells that still fail, coarser each time one fails again.

    A cell failing for the first time gets the smallest published cell sharing a relation
    with it, and the cell that closes a rectangle of hidden cells around it
    (:func:`_corners`); the second time, every published cell of its equalities (overall
    rows only to protect an overall row: a group never costs an area its headline); then its
    block (every indicator's cells of the same breakdown at its area and date); then every
    breakdown of the same family (nested or crossed with it: deprivation, age, ethnicity,
    sex; or the overall rows) at its area and the areas it adds up to or from; at last that
    family at every area of its type. A cell climbs one level per round it fails; the
    levels do not depend on timing, so the same input gives the same output.
    """
    overall = system.cells["breakdown"].astype("str").to_numpy() == "overall"
    first = failing[strikes == 1]
    out = [
        _choose(first, membership, hidden, num, den, overall),
        _corners(first, system, hidden, den),
    ]
    second = failing[strikes == 2]
    for mine in (second[overall[second]], second[~overall[second]]):
        if len(mine):
            rel = membership[membership["cell"].isin(mine) & membership["eq"]]["relation"]
            near = membership[membership["relation"].isin(rel)]["cell"].to_numpy(np.int64)
            # an area's overall row (its headline figure) is not hidden to protect a group
            out.append(near if overall[mine].all() else near[~overall[near]])
    for level in (3, 4, 5):
        pick = failing[strikes == level] if level < 5 else failing[strikes >= 5]
        if len(pick):
            out.append(_block(pick, system, membership, level))
    extra = np.unique(np.concatenate(out)).astype(np.int64)
    extra = extra[~hidden[extra]]
    if not len(extra) and len(failing) and strikes.min() < 5:  # nothing new: one coarser
        return _escalate(failing, np.maximum(strikes + 1, 3), system, membership, hidden, num, den)
    return extra


def _corners(
    failing: np.ndarray, system: LinkedSystem, hidden: np.ndarray, den: np.ndarray
) -> np.ndarray:
    """For each failing cell, the cell that closes a rectangle of hidden cells around it.

    A hidden count is safe when it can move round a cycle of hidden cells: out of its
    group into another in its own area and back in a sibling area (two groups of two
    areas), or, in a cross, along its row and back along another row (two rows of two
    columns). With ``c`` failing, ``a`` hidden in its line of groups and ``b`` hidden in
    its other line (a sibling area, or another row of its column), the corner is the cell
    in ``b``'s area or row and ``a``'s group or column. Of the candidates, the smallest
    corner whose denominator is at least the failing cell's is chosen (it can give up
    the count), else the largest.

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": ["L"] * 3 + ["P"] * 6, "area": [*"aaa", *"ppp", *"qqq"],
        ...     "breakdown": ["overall", "sex", "sex"] * 3, "group": ["All", "F", "M"] * 3,
        ...     "numerator": [10, 5, 5, 5, 2, 3, 5, 3, 2],
        ...     "denominator": [100, 50, 50, 50, 25, 25, 50, 25, 25]})
        >>> areas = pd.DataFrame({"area_type": "P", "area": ["p", "q"],
        ...     "parent_type": "L", "parent": "a"})
        >>> s = build_system({"t": t}, areas)
        >>> hidden = np.zeros(9, bool); hidden[[4, 5, 7]] = True
        >>> _corners(np.array([4]), s, hidden, s.cells["denominator"].to_numpy()).tolist()
        [8]

        In a cross (labels with spaces, as deprivation groups have):

        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": "L", "area": "a", "breakdown": ["overall"] + ["q*s"] * 4,
        ...     "group": ["All", "Q1 (most) | F", "Q1 (most) | M", "Q2 (mid) | F", "Q2 (mid) | M"],
        ...     "numerator": [20, 3, 7, 5, 5], "denominator": [200, 50, 50, 50, 50]})
        >>> s = build_system({"t": t}, areas.iloc[:0])
        >>> hidden = np.zeros(5, bool); hidden[[1, 2, 3]] = True
        >>> _corners(np.array([1]), s, hidden, s.cells["denominator"].to_numpy()).tolist()
        [4]
    """
    if not len(failing):
        return np.zeros(0, np.int64)
    cells = system.cells
    keys = ["indicator_id", "reporting_date", "view", "area_type", "area", "breakdown"]
    frame = cells[[*keys, "group"]].astype("str").assign(cell=np.arange(len(cells)), den=den)
    frame["parent"] = (
        _parents(system).reindex(pd.MultiIndex.from_frame(frame[["area_type", "area"]])).to_numpy()
    )
    look = frame.set_index([*keys, "group"])["cell"]
    look = look[~look.index.duplicated()]
    mine, held = frame.iloc[failing], frame[hidden]
    parts = []
    # two groups of two sibling areas
    a = mine.merge(held[[*keys, "group"]], on=keys, suffixes=("", "_a"))
    a = a[a["group"] != a["group_a"]]
    side = [k for k in keys if k != "area"]
    b = mine.merge(
        held[[*side, "group", "area", "parent"]], on=[*side, "group", "parent"], suffixes=("", "_b")
    )
    b = b[(b["area"] != b["area_b"]) & b["parent"].notna()]
    ab = a[["cell", "group_a"]].merge(b[["cell", "area_b"]], on="cell")
    if len(ab):
        c = frame.iloc[ab["cell"].to_numpy()]
        idx = pd.MultiIndex.from_arrays(
            [
                *(c[k].to_numpy() for k in keys if k != "area"),
                ab["area_b"].to_numpy(),
                ab["group_a"].to_numpy(),
            ],
            names=[*side, "area", "group"],
        ).reorder_levels([*keys, "group"])
        parts.append(
            pd.DataFrame({"failing": ab["cell"].to_numpy(), "corner": look.reindex(idx).to_numpy()})
        )
    # two rows of two columns of a cross
    crossed = mine[mine["breakdown"].str.contains("*", regex=False)]
    if len(crossed):

        def split(f: pd.DataFrame) -> pd.DataFrame:
            parts = cross_parts(f["group"])
            return f.assign(row=parts[0].to_numpy(), col=parts[1].to_numpy())

        cm, ch = split(crossed), split(held[held["breakdown"].str.contains("*", regex=False)])
        ra = cm.merge(ch[[*keys, "row", "col"]], on=[*keys, "row"], suffixes=("", "_a"))
        ra = ra[ra["col"] != ra["col_a"]][["cell", "col_a"]]
        rb = cm.merge(ch[[*keys, "row", "col"]], on=[*keys, "col"], suffixes=("", "_b"))
        rb = rb[rb["row"] != rb["row_b"]][["cell", "row_b"]]
        rab = ra.merge(rb, on="cell")
        if len(rab):
            c = frame.iloc[rab["cell"].to_numpy()]
            idx = pd.MultiIndex.from_arrays(
                [
                    *(c[k].to_numpy() for k in keys),
                    (rab["row_b"] + CROSS_SEP + rab["col_a"]).to_numpy(),
                ],
                names=[*keys, "group"],
            )
            parts.append(
                pd.DataFrame(
                    {"failing": rab["cell"].to_numpy(), "corner": look.reindex(idx).to_numpy()}
                )
            )
    if not parts:
        return np.zeros(0, np.int64)
    cand = pd.concat(parts, ignore_index=True).dropna()
    cand["corner"] = cand["corner"].astype(np.int64)
    cand = cand[~hidden[cand["corner"].to_numpy()]]
    if cand.empty:
        return np.zeros(0, np.int64)
    size = den[cand["corner"].to_numpy()]
    enough = size >= den[cand["failing"].to_numpy()]
    cand = cand.assign(short=~enough, key=np.where(enough, size, -size))
    cand = cand.sort_values(["failing", "short", "key", "corner"], kind="stable")
    return cand.drop_duplicates("failing")["corner"].to_numpy(np.int64)


def _parents(system: LinkedSystem) -> pd.Series:
    """The parent (``type:area``) of each ``(area_type, area)`` that is a child area."""
    kids = child_areas(system).drop_duplicates(["area_type", "area"])
    parent = kids["parent_type"] + ":" + kids["parent"]
    return pd.Series(parent.to_numpy(), index=pd.MultiIndex.from_frame(kids[["area_type", "area"]]))


def _block(
    failing: np.ndarray, system: LinkedSystem, membership: pd.DataFrame, level: int
) -> np.ndarray:
    """Every cell of the failing cells' blocks at ``level`` (see :func:`_escalate`)."""
    cells = system.cells
    keys = ["reporting_date", "view", "area_type", "area"]
    frame = cells[[*keys, "breakdown"]].astype("str").assign(cell=np.arange(len(cells)))
    if level == 3:
        want = frame.iloc[failing][[*keys, "breakdown"]].drop_duplicates()
        return frame.merge(want, on=[*keys, "breakdown"])["cell"].to_numpy(np.int64)
    place = frame.set_index("cell")[keys]
    dims = breakdown_dims(frame["breakdown"]).str.split("|")
    frame = frame.assign(dim=dims).explode("dim")
    mine = frame[frame["cell"].isin(failing)]
    if level == 4:  # its area and the areas it adds up to or from
        rel = membership[membership["cell"].isin(failing)][["relation", "cell"]]
        pairs = rel.rename(columns={"cell": "failing"}).merge(
            membership[["relation", "cell"]], on="relation"
        )
        near = place.loc[pairs["cell"].unique()]
        places = pairs[["failing", "cell"]].drop_duplicates().join(near, on="cell")
        want = places.merge(
            mine[["cell", "dim"]].rename(columns={"cell": "failing"}), on="failing"
        )[[*keys, "dim"]].drop_duplicates()
        return frame.merge(want, on=[*keys, "dim"])["cell"].to_numpy(np.int64)
    level5 = ["reporting_date", "view", "area_type", "dim"]
    want = mine[level5].drop_duplicates()
    return frame.merge(want, on=level5)["cell"].to_numpy(np.int64)


def _failing_cells(result: AuditResult, system: LinkedSystem) -> np.ndarray:
    """Cell numbers of the failures (matched on the cell keys)."""
    keys = system.cells[list(CELL_KEYS)].assign(cell=np.arange(len(system.cells)))
    hit = result.failures[list(CELL_KEYS)].astype("str").merge(keys, on=list(CELL_KEYS))
    return hit["cell"].to_numpy(np.int64)


def _choose(
    failing: np.ndarray,
    membership: pd.DataFrame,
    hidden: np.ndarray,
    num: np.ndarray,
    den: np.ndarray,
    headline: np.ndarray,
) -> np.ndarray:
    """For each failing cell, the smallest published cell sharing a relation with it.

    Equalities first, then links and inequalities; an overall row (``headline``) comes
    last when the failing cell is a group.
    """
    rel = membership[membership["cell"].isin(failing)][["relation", "cell", "eq"]]
    cand = rel.rename(columns={"cell": "failing"}).merge(
        membership[["relation", "cell"]], on="relation"
    )
    cand = cand[~hidden[cand["cell"].to_numpy()]]
    if cand.empty:
        return np.zeros(0, np.int64)
    cand = cand.assign(
        noteq=~cand["eq"].to_numpy(bool),
        # an overall row goes last when the failing cell is a group
        top=headline[cand["cell"].to_numpy()] & ~headline[cand["failing"].to_numpy()],
        empty=num[cand["cell"]] <= 0,
        num=num[cand["cell"]],
        den=den[cand["cell"]],
    )
    cand = cand.sort_values(
        ["failing", "top", "noteq", "empty", "num", "den", "cell"], kind="stable"
    )
    return np.unique(cand.drop_duplicates("failing")["cell"].to_numpy(np.int64))


def _publish(
    frame: pd.DataFrame,
    name: str,
    system: LinkedSystem,
    hidden: np.ndarray,
    primary: np.ndarray,
    reasons: dict[str, pd.Series],
    policy: SDCPolicy,
    bases: np.ndarray,
) -> pd.DataFrame:
    """One table as published: flags, reasons, blanks (and rounding).

    A derived row hidden with its base cell (and not for a count of its own) gives the
    base as its reason; hidden for another cell, it is secondary like any other.
    """
    cell = system.rows[name]
    out = frame.reset_index(drop=True).copy()
    rows_hidden = hidden[cell]
    reason = reasons[name].astype(object).to_numpy().copy()
    own = pd.notna(reason)
    base = base_ids(out["indicator_id"])
    sec = REASON_REDACTED if policy.method == "round" else REASON_SECONDARY
    first_reason = pd.Series(reason).groupby(cell).transform("first").to_numpy()
    reason = np.where(
        own, reason, np.where(primary[cell] & pd.notna(first_reason), first_reason, sec)
    )
    with_base = (bases[cell] >= 0) & hidden[np.maximum(bases[cell], 0)]
    linked = base.map(lambda b: REASON_LINKED.format(base=b)).to_numpy()
    reason = np.where(with_base & ~own & ~primary[cell], linked, reason)
    out["suppressed"] = rows_hidden
    out["suppression_reason"] = pd.Series(np.where(rows_hidden, reason, None), dtype="str")
    if policy.method == "round":
        out = _rounded(out, system, cell, policy)
    out = blank_suppressed(out)
    if "comparator_value" in out.columns and "comparator" in out.columns:
        out = _blank_comparators(out, system, hidden)
    out.index = frame.index
    return out


def _rounded(
    out: pd.DataFrame, system: LinkedSystem, cell: np.ndarray, policy: SDCPolicy
) -> pd.DataFrame:
    """Round the counts of one table and recompute its statistics from them."""
    from bsol_analytics import stats

    num = pd.to_numeric(out["numerator"], errors="coerce").to_numpy(float)
    den = pd.to_numeric(out.get("denominator", np.nan), errors="coerce")
    den = np.asarray(den, float) * np.ones(len(out))
    people = system.cells["people"].to_numpy(bool)[cell]
    num_r = round_counts(num, policy.rounding_base)
    den_r = np.where(people, round_counts(den, policy.rounding_base), den)
    out["numerator"], out["denominator"] = num_r, den_r
    if "value" not in out.columns:
        return out
    method = (
        out["method"].astype("str").str.lower()
        if "method" in out
        else pd.Series("", index=out.index)
    )
    conf = pd.to_numeric(out.get("confidence", 0.95), errors="coerce")
    conf = np.nan_to_num(np.asarray(conf, float) * np.ones(len(out)), nan=0.95)
    value = out["value"].to_numpy(float)
    wilson = method.str.contains("wilson").to_numpy() & people & (den_r > 0)
    byar = method.str.contains("byar").to_numpy() & ~people & (den > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mult = np.where(num > 0, np.round(value * den / num), 100.0)
        mult = np.where(np.isfinite(mult) & (mult > 0), mult, 100.0)
        scale = np.where(num > 0, num_r / num, 0.0)
        new_v = value * scale
        new_l = out["lower"].to_numpy(float) * scale
        new_u = out["upper"].to_numpy(float) * scale
        for c in np.unique(conf):
            w = wilson & (conf == c)
            if w.any():
                new_v[w] = mult[w] * num_r[w] / den_r[w]
                new_l[w] = mult[w] * stats.wilson_lower(num_r[w], den_r[w], c)
                new_u[w] = mult[w] * stats.wilson_upper(num_r[w], den_r[w], c)
            b = byar & (conf == c)
            if b.any():
                new_v[b] = num_r[b] / den[b]
                new_l[b] = stats.byars_lower(num_r[b], c) / den[b]
                new_u[b] = stats.byars_upper(num_r[b], c) / den[b]
    out["value"], out["lower"], out["upper"] = new_v, new_l, new_u
    return out


def _blank_comparators(out: pd.DataFrame, system: LinkedSystem, hidden: np.ndarray) -> pd.DataFrame:
    """Blank a comparator value whose comparator area's cell is hidden."""
    keys = ["indicator_id", "reporting_date", "view", "breakdown", "group"]
    cells = system.cells[[*keys, "area"]].assign(hid=hidden)
    cells = cells[cells["hid"]].rename(columns={"area": "comparator"})
    if cells.empty:
        return out
    look = out[[*keys, "comparator"]].astype("str").reset_index()
    hit = look.merge(cells, on=[*keys, "comparator"])["index"].to_numpy()
    out.loc[hit, "comparator_value"] = np.nan
    if "comparison" in out.columns:
        out.loc[hit, "comparison"] = "not compared"
    return out
