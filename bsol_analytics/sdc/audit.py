"""The disclosure audit: can any hidden small count be worked out from what a run publishes?

:func:`audit_run` takes the tables of one run (after protection) and the area hierarchy,
builds every relation between their counts (:mod:`bsol_analytics.sdc.relations`) and, for
each count of each primary-suppressed cell (numerator, denominator and, where the
denominator counts people, their difference), computes the range of values consistent with
everything published, by linear programming (scipy's HiGHS). A run is safe only if no such
count is pinned to one value or narrowed to a range inside the small range (1-7 by
default). A count of 0 may be published, so a range such as 0-5 is allowed.

How it scales: the unknowns are the hidden counts; published counts are constants, so the
system falls apart into connected components of hidden cells. Components are independent,
so one LP can optimise every component at once (its objective is a sum over components).
The audit first looks for *witnesses*: solutions in which a count is 0 or at least 8 (the
unsuppressed values, when known, are one). Witnesses are found in batches: an LP minimising
the sum of the unproven counts proves every count that lands at 0 (repeated on the rest),
then LPs maximising the sum of the unproven counts, each capped at 8, prove every count that
reaches 8; only counts still without a witness get their own minimum and maximum, one
count per component per LP pair, within a time limit. Before those, *block witnesses*
(:func:`_block_colours`) prove most counts cheaply: with every other unknown held at a known
solution, the unknowns of one colour form small independent problems. The whole-component
stages run only on components still holding unproven counts; over :data:`EXACT_LIMIT`
unknowns they run as whole-component proofs (one LP per stage and kind of count, each within
:data:`BIG_LP_SECONDS`, no exact stage); over :data:`PROOF_LIMIT` unknowns the *area stage*
(:func:`_area_witnesses`: the down and up LPs over one area's subtree and ancestors at a time,
the rest held at a known solution; between its PCN and locality levels, the path stage of
:func:`_path_witnesses`, which frees only the breakdown family of the counts left) runs
instead. Counts left without a witness fail as "not shown to be safe".

Under the rounding policy a published count ``x`` stands for ``x-2 .. x+2`` (and at least
8, since smaller counts are redacted). Those counts become unknowns too, but only where they
share a relation with a hidden count: relations reaching further are left out, so the audit
of a rounded run is a relaxation (an attacker with the full system could do a little better).

:func:`peel` is a simple attacker: every equality with one unknown count is solved, and this
is repeated until nothing new is learnt. The tests use it to confirm the audit.

Published folder format (:func:`audit_folder`): every ``*.csv`` and ``*.parquet`` file in the
folder is a tidy table (``CELL_KEYS``, ``numerator``, ``denominator``, ``suppressed``,
``suppression_reason``), named by its file stem; ``areas.csv`` holds the area hierarchy
(``area_type, area, parent_type, parent``, optional ``view``); an optional
``sdc_policy.json`` holds the :class:`~bsol_analytics.sdc.core.SDCPolicy` fields (default:
:data:`~bsol_analytics.sdc.core.DEFAULT_POLICY`). Files starting with ``_`` are ignored.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics.errors import ParameterError
from bsol_analytics.sdc.core import CELL_KEYS, DEFAULT_POLICY, SDCPolicy
from bsol_analytics.sdc.levels import describe, labelled, published_withheld, withheld_rows
from bsol_analytics.sdc.relations import LinkedSystem, breakdown_dims, build_system, violated

log = logging.getLogger(__name__)


def _lazy_module(name: str) -> Any:
    """The module ``name``, executed on first attribute access (Python's ``LazyLoader``).

    A command that protects nothing (``bsol indicators --no-sdc``) does not pay for
    importing scipy's sparse matrices, about a tenth of its start-up.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:  # pragma: no cover - scipy is a dependency
        raise ImportError(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sparse = _lazy_module("scipy.sparse")


def connected_components(graph: Any, directed: bool = True) -> tuple[int, np.ndarray]:
    """:func:`scipy.sparse.csgraph.connected_components`, imported on first use."""
    from scipy.sparse.csgraph import connected_components as components

    return components(graph, directed=directed)


QUANTITIES: tuple[str, ...] = ("numerator", "denominator", "complement")
#: The same kinds, denominators first (the order of the stages over large components and
#: areas): a denominator pushed to 0 takes its numerator and complement with it.
_DEN_FIRST: tuple[str, ...] = ("denominator", "complement", "numerator")
_EPS = 1e-6


@dataclass(frozen=True)
class AuditResult:
    """The outcome of an audit.

    Attributes:
        passed: no primary-suppressed count is pinned or narrowed into the small range.
        cells_checked: primary-suppressed cells whose counts were checked.
        components: connected components of hidden cells.
        seconds: time taken.
        failures: one row per failing count: ``table``, ``CELL_KEYS``, ``quantity``
            (numerator, denominator, complement) and ``problem`` (``narrowed to the small
            range``, ``pinned to one value`` or ``relations inconsistent``); never a value.
        policy: the policy's name.
        stages: checks (counts) proven safe by each stage of the witness search
            (see :func:`lp_ranges`).
        withheld: the small-area levels withheld whole, in words
            (:mod:`bsol_analytics.sdc.levels`); the audit leaves them out.
    """

    passed: bool
    cells_checked: int
    components: int
    seconds: float
    failures: pd.DataFrame
    policy: str
    stages: dict[str, int] = dataclasses.field(default_factory=dict)
    checks: pd.DataFrame | None = dataclasses.field(default=None, repr=False, compare=False)
    withheld: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary for the run manifest.

        Examples:
            >>> r = AuditResult(True, 3, 2, 0.5, pd.DataFrame(), "p")
            >>> r.summary()["passed"], r.summary()["failing_cells"]
            (True, 0)
        """
        return {
            "passed": bool(self.passed),
            "policy": self.policy,
            "cells_checked": int(self.cells_checked),
            "components": int(self.components),
            "seconds": round(float(self.seconds), 3),
            "failing_cells": len(self.failures),
            "proven_by_stage": dict(self.stages),
            "withheld_levels": list(self.withheld),
        }

    def describe(self, limit: int = 20) -> str:
        """The failing cells in words, by table and key (never by value)."""
        if self.passed:
            return f"Disclosure audit passed: {self.cells_checked} suppressed cells checked."
        lines = [f"Disclosure audit failed: {len(self.failures)} hidden counts can be worked out."]
        for _, r in self.failures.head(limit).iterrows():
            key = ", ".join(f"{k}={r[k]}" for k in CELL_KEYS)
            lines.append(f"  table {r['table']}: {key}: {r['quantity']} {r['problem']}")
        return "\n".join(lines)


@dataclass
class _Problem:
    """The hidden-count system in LP form (variables are the free counts)."""

    free: np.ndarray  # var numbers of the LP variables
    a_eq: sparse.csr_matrix
    b_eq: np.ndarray
    a_ub: sparse.csr_matrix
    b_ub: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    comp: np.ndarray  # component of each LP variable
    n_comp: int


def _lp_problem(
    system: LinkedSystem, value: np.ndarray, free: np.ndarray, lb: np.ndarray, ub: np.ndarray
) -> _Problem:
    """The relations restricted to the free counts (known counts moved to the right side)."""
    t = system.terms
    rel, var, coef = t["relation"].to_numpy(), t["var"].to_numpy(), t["coef"].to_numpy()
    n_rel = len(system.relations)
    is_free = free[var]
    unknown_fixed = ~is_free & np.isnan(value[var])
    usable = (np.bincount(rel, weights=unknown_fixed, minlength=n_rel) == 0) & (
        np.bincount(rel, weights=is_free, minlength=n_rel) > 0
    )
    free_vars = np.flatnonzero(free)
    pos = np.full(system.n_vars, -1)
    pos[free_vars] = np.arange(len(free_vars))
    const = np.bincount(
        rel, weights=np.where(is_free, 0.0, coef * np.nan_to_num(value[var])), minlength=n_rel
    )
    eq = system.relations["sense"].to_numpy() == "eq"
    mats = []
    for want in (eq, ~eq):
        rows = np.flatnonzero(usable & want)
        rpos = np.full(n_rel, -1)
        rpos[rows] = np.arange(len(rows))
        k = is_free & (rpos[rel] >= 0)
        m = sparse.csr_matrix(
            (coef[k], (rpos[rel[k]], pos[var[k]])), shape=(len(rows), len(free_vars))
        )
        mats.append((m, -const[rows]))
    both = sparse.vstack([mats[0][0], mats[1][0]]).tocsc()
    graph = sparse.bmat([[None, both.T], [both, None]]).tocsr() if both.shape[0] else None
    if graph is None:
        n_comp, comp = len(free_vars), np.arange(len(free_vars))
    else:
        _, labels = connected_components(graph, directed=False)
        comp = pd.factorize(labels[: len(free_vars)])[0]
        n_comp = int(comp.max()) + 1 if len(comp) else 0
    return _Problem(
        free_vars,
        mats[0][0],
        mats[0][1],
        mats[1][0],
        mats[1][1],
        lb[free_vars],
        ub[free_vars],
        comp,
        n_comp,
    )


def _highs(seconds: float | None) -> dict[str, Any]:
    """HiGHS's method and time limit for one LP.

    Simplex within :data:`LP_SECONDS`; for a whole-component LP given ``seconds``, the
    interior-point method (about twice as fast on 100,000 unknowns or more).
    """
    if seconds is None:
        return {"method": "highs", "options": {"time_limit": LP_SECONDS}}
    return {"method": "highs-ipm", "options": {"time_limit": seconds}}


def _linprog(*args: Any, **kwargs: Any) -> Any:
    """:func:`scipy.optimize.linprog`, imported on first use (it is slow to import)."""
    from scipy.optimize import linprog as solve

    return solve(*args, **kwargs)


def _solve(
    p: _Problem, c: np.ndarray, alive: np.ndarray, seconds: float | None = None
) -> np.ndarray | None:
    """Minimise ``c @ x`` over the alive variables; ``None`` if infeasible or out of time.

    ``seconds`` is the LP's time limit (default :data:`LP_SECONDS`); with ``seconds`` set,
    HiGHS's interior-point method is used (about twice as fast as its simplex on LPs of
    100,000 unknowns or more).
    """
    cols = np.flatnonzero(alive)
    a_eq, a_ub = p.a_eq[:, cols], p.a_ub[:, cols]
    # rows touching dead variables only are dropped
    keq = np.asarray(abs(a_eq).sum(axis=1)).ravel() > 0
    kub = np.asarray(abs(a_ub).sum(axis=1)).ravel() > 0
    res = _linprog(
        c[cols],
        A_ub=a_ub[kub] if kub.any() else None,
        b_ub=p.b_ub[kub] if kub.any() else None,
        A_eq=a_eq[keq] if keq.any() else None,
        b_eq=p.b_eq[keq] if keq.any() else None,
        bounds=np.column_stack([p.lb[cols], p.ub[cols]]),
        **_highs(seconds),
    )
    if res.status != 0:
        return None
    x = np.zeros(len(alive))
    x[cols] = res.x
    return x


def _checks(system: LinkedSystem, primary: np.ndarray, policy: SDCPolicy) -> pd.DataFrame:
    """The quantities to check: ``cell, quantity, num_coef, den_coef``."""
    cells = np.flatnonzero(primary)
    people = system.cells["people"].to_numpy(bool)[cells]
    parts = [pd.DataFrame({"cell": cells, "quantity": "numerator", "a": 1.0, "b": 0.0})]
    parts.append(
        pd.DataFrame({"cell": cells[people], "quantity": "denominator", "a": 0.0, "b": 1.0})
    )
    if policy.complement:
        parts.append(
            pd.DataFrame({"cell": cells[people], "quantity": "complement", "a": -1.0, "b": 1.0})
        )
    return pd.concat(parts, ignore_index=True)


#: The stages of the witness search, in :attr:`AuditResult.stages` (see :func:`lp_ranges`).
STAGES: tuple[str, ...] = (
    "published",
    "earlier",
    "known",
    "blocks",
    "pairs",
    "paths",
    "areas",
    "down",
    "up",
    "exact",
)
#: Seconds any one LP may take; an LP that runs out gives no witness (its counts go on to
#: the next stage, or fail as "not shown to be safe"), so the audit stays sound and bounded.
LP_SECONDS = 20.0
#: Batch rounds of each witness stage (each round is one LP over the components left).
DOWN_ROUNDS = 4
UP_ROUNDS = 4
#: Seconds the audit may spend on per-count minimum and maximum LPs; counts still
#: unproven after that fail as "not shown to be safe".
EXACT_SECONDS = 120.0
#: Above this many unknowns (in the components still holding unproven counts) the
#: per-count exact stage is skipped: counts the batch stages leave without a witness fail as
#: "not shown to be safe". The batch stages (down, up) still run, one LP per stage and kind
#: over all those components at once, each LP with :data:`BIG_LP_SECONDS`.
EXACT_LIMIT = 50_000
#: Seconds one LP of the down and up stages may take over components of more than
#: :data:`EXACT_LIMIT` unknowns (20 s to 4 minutes for 120,000 unknowns on a 2-core
#: machine); an LP out of time gives no witness.
BIG_LP_SECONDS = 300.0
#: Above this many unknowns the whole-component stages are skipped altogether: HiGHS did
#: not keep to :data:`BIG_LP_SECONDS` on an LP of about 230,000 unknowns (still running
#: after 14 minutes), so the audit would no longer be bounded. The area stage
#: (:func:`_area_witnesses`) runs instead; counts it leaves without a witness fail as "not
#: shown to be safe".
PROOF_LIMIT = 150_000
_CHUNK = 4_000


def _check_matrix(
    system: LinkedSystem, value: np.ndarray, p: _Problem, checks: pd.DataFrame
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Each check as a row over the LP variables, and its constant (published) part."""
    nf = len(p.free)
    pos = np.full(system.n_vars, -1)
    pos[p.free] = np.arange(nf)
    cell = checks["cell"].to_numpy(np.int64)
    rows, cols, vals = [], [], []
    const = np.zeros(len(checks))
    for off, w in ((0, checks["a"].to_numpy()), (1, checks["b"].to_numpy())):
        v = 2 * cell + off
        is_free = (pos[v] >= 0) & (w != 0)
        rows.append(np.flatnonzero(is_free))
        cols.append(pos[v][is_free])
        vals.append(w[is_free])
        const += np.where(is_free | (w == 0), 0.0, w * np.nan_to_num(value[v]))
    q = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(checks), nf),
    )
    return q, const


def _solve_capped(
    p: _Problem,
    q: sparse.csr_matrix,
    const: np.ndarray,
    alive: np.ndarray,
    cap: float,
    seconds: float | None = None,
) -> np.ndarray | None:
    """Maximise ``sum(min(q @ x + const, cap))`` over the alive variables; ``None`` if infeasible.

    Each capped term is a variable ``t <= q @ x + const`` with ``t <= cap``, so the LP
    pushes as many checks as it can up to ``cap`` rather than one check very high.
    ``seconds`` is the LP's time limit (default :data:`LP_SECONDS`; when set, the
    interior-point method is used, as in :func:`_solve`); out of time, ``None``.
    """
    cols = np.flatnonzero(alive)
    k = q.shape[0]
    a_eq, a_ub, qa = p.a_eq[:, cols], p.a_ub[:, cols], q[:, cols]
    keq = np.asarray(abs(a_eq).sum(axis=1)).ravel() > 0
    kub = np.asarray(abs(a_ub).sum(axis=1)).ravel() > 0
    a_ub_t = sparse.vstack(
        [
            sparse.hstack([a_ub[kub], sparse.csr_matrix((int(kub.sum()), k))]),
            sparse.hstack([-qa, sparse.identity(k, format="csr")]),
        ]
    ).tocsr()
    a_eq_t = sparse.hstack([a_eq[keq], sparse.csr_matrix((int(keq.sum()), k))]).tocsr()
    res = _linprog(
        np.r_[np.zeros(len(cols)), -np.ones(k)],
        A_ub=a_ub_t,
        b_ub=np.r_[p.b_ub[kub], const],
        A_eq=a_eq_t if keq.any() else None,
        b_eq=p.b_eq[keq] if keq.any() else None,
        bounds=np.r_[
            np.column_stack([p.lb[cols], p.ub[cols]]),
            np.column_stack([np.full(k, -np.inf), np.full(k, cap)]),
        ],
        **_highs(seconds),
    )
    if res.status != 0:
        return None
    x = np.zeros(len(alive))
    x[cols] = res.x[: len(cols)]
    return x


def lp_ranges(
    system: LinkedSystem,
    value: np.ndarray,
    free: np.ndarray,
    lb: np.ndarray,
    ub: np.ndarray,
    checks: pd.DataFrame,
    policy: SDCPolicy = DEFAULT_POLICY,
    seed: np.ndarray | None = None,
    proven: np.ndarray | None = None,
    exact_seconds: float = EXACT_SECONDS,
    whole: bool = True,
    local: bool = True,
) -> tuple[pd.DataFrame, int]:
    """Decide, for each check, whether its range can avoid the small range.

    A check is safe when some solution of the relations (a *witness*) puts it below the
    small range or above it. Witnesses are found in stages, each proving many checks at
    once: the known solution ``seed``; LPs minimising the sum of the unproven checks (each
    that lands below the range is proven), repeated on the rest; LPs maximising the sum of
    the unproven checks capped just above the range (each that reaches the cap is proven);
    then, for what is left, each check's own minimum and maximum. A check still unproven
    is narrowed (or pinned) into the small range, or, if the time for exact ranges
    (:data:`EXACT_SECONDS`) ran out, "not shown to be safe".

    Args:
        system: the linked system.
        value: per variable, the published (or central rounded) count; NaN if hidden.
        free: per variable, whether it is an unknown of the LP.
        lb: per variable, lower bound of the unknowns.
        ub: per variable, upper bound of the unknowns.
        checks: ``cell, quantity, a, b``: the checked quantity is ``a*num + b*den``.
        policy: the small range.
        seed: per variable, a known solution (the unsuppressed counts), if any.
        proven: per check, already shown safe by a witness of an earlier audit of the
            same run with fewer hidden cells (still a solution: see :func:`audit_system`).
        exact_seconds: time for the per-check exact stage (0 skips it: the unproven checks
            then fail as "not shown to be safe").
        whole: run the stages over whole components (down, up, exact); without them the
            checks the known, pair and block witnesses leave fail as "not shown to be
            safe" (cheaper: protection then hides more cells instead).
        local: run the pair and block stages; an audit repeated with the same hidden
            cells and ``proven`` from the first skips them (they would find nothing new).

    Returns:
        ``(checks with a boolean 'fails' and a 'problem' column, number of components)``;
        the frame's ``attrs["stages"]`` counts the checks proven by each stage.
    """
    p = _lp_problem(system, value, free, lb, ub)
    nf = len(p.free)
    q, const = _check_matrix(system, value, p, checks)
    lo_small, hi_small = policy.min_count, policy.max_count
    seen_lo = np.full(len(checks), np.inf)
    seen_hi = np.full(len(checks), -np.inf)
    has = np.diff(q.indptr) > 0
    qcomp = np.full(len(checks), -1)
    qcomp[has] = p.comp[q.indices[q.indptr[:-1][has]]]
    bad_comp = np.zeros(max(p.n_comp, 1), bool)
    stages = dict.fromkeys(STAGES, 0)
    t0 = time.perf_counter()

    def see(x: np.ndarray) -> None:
        vals = q @ x + const
        np.minimum(seen_lo, vals, out=seen_lo)
        np.maximum(seen_hi, vals, out=seen_hi)

    earlier = np.zeros(len(checks), bool) if proven is None else np.array(proven, bool)

    def safe() -> np.ndarray:
        ok = _shown_safe((seen_lo, seen_hi), policy) | earlier
        return ok | ~has & (np.floor(const + _EPS) > hi_small) | ~has & (const < lo_small)

    def tally(stage: str, before: np.ndarray) -> np.ndarray:
        now = safe()
        stages[stage] += int((now & ~before).sum())
        return now

    earlier_only = earlier.copy()
    earlier[:] = False
    decided = tally("published", np.zeros(len(checks), bool))
    earlier[:] = earlier_only
    decided = tally("earlier", decided)
    base = _base_solution(p, seed, bad_comp) if (~decided & has).any() else np.zeros(nf)
    if seed is not None:
        see(base)
        decided = tally("known", decided)
    search = None
    if (~decided & has).any() and not bad_comp.any():
        full_seed = value.copy()
        full_seed[p.free] = base
        search = _Search(system, value, free, lb, ub, checks, full_seed, policy, (seen_lo, seen_hi))
    if local and search is not None:
        decided = _local_stages(search, has, decided, tally)

    def alive_for(todo: np.ndarray) -> np.ndarray:
        comps = np.unique(p.comp[q[todo].indices])
        return np.isin(p.comp, comps) & ~bad_comp[p.comp]

    def open_checks() -> np.ndarray:
        return ~decided & has & ~bad_comp[np.maximum(qcomp, 0)]

    log.debug("audit: %d unknowns, %d components, %d checks", nf, p.n_comp, len(checks))
    big = np.bincount(p.comp[np.isin(p.comp, np.unique(qcomp[open_checks()]))], minlength=1)
    large = big.sum() > EXACT_LIMIT  # batch stages with a longer time limit, no exact stage
    if whole and big.sum() > PROOF_LIMIT and search is not None:
        decided = _unit_stages(search, open_checks, decided, tally)
    if not whole or big.sum() > PROOF_LIMIT:
        out = checks.copy()
        out["fails"] = ~decided & has
        out["problem"] = np.where(out["fails"], "not shown to be safe", "")
        out.attrs["stages"] = stages
        log.debug("audit: checks proven by stage %s; %.1f s", stages, time.perf_counter() - t0)
        return out, p.n_comp

    def prove(stage: str, x: np.ndarray) -> int:
        """Widen the ranges seen with witness ``x``; the number of checks newly proven."""
        nonlocal decided
        see(x)
        before = decided
        decided = tally(stage, decided)
        return int((decided & ~before).sum())

    quantity = checks["quantity"].to_numpy()
    _batch_stages(p, q, const, base, quantity, open_checks, alive_for, prove, hi_small, large)
    if large:
        n_c = len(checks)
        lo_exact, hi_exact, timed_out = np.full(n_c, -np.inf), np.full(n_c, np.inf), open_checks()
    else:
        lo_exact, hi_exact, timed_out = _exact_ranges(
            p, q, const, base, open_checks(), qcomp, see, time.perf_counter() + exact_seconds
        )
    decided = tally("exact", decided)
    log.debug("audit: checks proven by stage %s; %.1f s", stages, time.perf_counter() - t0)
    out = checks.copy()
    inconsistent = has & bad_comp[np.maximum(qcomp, 0)]
    lo_i = np.ceil(np.maximum(seen_lo, lo_exact) - _EPS)
    hi_i = np.floor(np.minimum(seen_hi, hi_exact) + _EPS)
    narrowed = ~safe() & ~inconsistent
    out["fails"] = narrowed | inconsistent
    out["problem"] = np.select(
        [inconsistent, narrowed & timed_out, narrowed & (lo_i == hi_i), narrowed],
        [
            "relations inconsistent",
            "not shown to be safe",
            "pinned to one value",
            "narrowed to the small range",
        ],
        default="",
    )
    out.attrs["stages"] = stages
    return out, p.n_comp


def _unit_stages(
    search: _Search,
    open_checks: Callable[[], np.ndarray],
    decided: np.ndarray,
    tally: Callable[[str, np.ndarray], np.ndarray],
) -> np.ndarray:
    """The stages over components above :data:`PROOF_LIMIT`; the checks decided after them.

    The area stage's deepest level (PCN units), then the path stage (one breakdown family
    up and down one locality's areas; no unit starts after :data:`PATH_SECONDS`), then the
    area stage's other levels (locality units); no area unit starts after
    :data:`AREA_SECONDS` from the start of the first level.
    """
    deadline = time.perf_counter() + AREA_SECONDS
    levels = search.area_levels[0]
    _area_witnesses(search, open_checks(), deadline, levels[:1])
    decided = tally("areas", decided)
    if open_checks().any():
        _path_witnesses(search, open_checks(), time.perf_counter() + PATH_SECONDS)
        decided = tally("paths", decided)
    if open_checks().any() and len(levels) > 1:
        _area_witnesses(search, open_checks(), deadline, levels[1:])
        decided = tally("areas", decided)
    return decided


def _local_stages(
    search: _Search,
    has: np.ndarray,
    decided: np.ndarray,
    tally: Callable[[str, np.ndarray], np.ndarray],
) -> np.ndarray:
    """The pair, block and path stages of :func:`lp_ranges`; the checks decided after them.

    ``tally(stage, decided)`` records what a stage proved and returns the checks decided.
    """
    system, free = search.system, search.free
    kids = child_areas(system)
    labellings = [  # sibling areas two at a time (both pairings), then blocks
        ("pairs", lambda: _pair_labels(system, kids, 0)),
        ("pairs", lambda: _pair_labels(system, kids, 1)),
        ("blocks", lambda: _block_colours(system, free, ())),
        # numerators with their denominators
        ("blocks", lambda: _block_colours(system, free, ("cell",))),
    ]
    for stage, labelling in labellings:
        if not (~decided & has).any():
            break
        labels, units = labelling()
        _level_witnesses(search, labels, decided | ~has, units)
        decided = tally(stage, decided)
    if (~decided & has).any() and (~decided & has).sum() <= PATH_CHECKS:
        _path_witnesses(search, ~decided & has)
        decided = tally("paths", decided)
    return decided


def _batch_stages(
    p: _Problem,
    q: sparse.csr_matrix,
    const: np.ndarray,
    base: np.ndarray,
    quantity: np.ndarray,
    open_checks: Callable[[], np.ndarray],
    alive_for: Callable[[np.ndarray], np.ndarray],
    prove: Callable[[str, np.ndarray], int],
    hi_small: float,
    large: bool = False,
) -> None:
    """The down and up stages over whole components (see :func:`lp_ranges`).

    One kind of count at a time (a numerator and its complement pull apart): an LP over
    every component still holding open checks of that kind minimises their sum (down), or
    maximises their sum with each capped just above the small range (up); ``prove`` takes
    each solution as a witness. Repeated while a round proves something, at most
    :data:`DOWN_ROUNDS` or :data:`UP_ROUNDS` times; an LP out of time ends its stage.

    ``large`` (components over :data:`EXACT_LIMIT` unknowns): each LP gets
    :data:`BIG_LP_SECONDS`, runs once per stage and kind, and denominators go first (a
    denominator pushed to 0 takes its numerator and complement with it, so the first LP
    proves most counts of all three kinds).
    """
    rounds = {"down": 1, "up": 1} if large else {"down": DOWN_ROUNDS, "up": UP_ROUNDS}
    seconds = BIG_LP_SECONDS if large else None
    kinds = _DEN_FIRST if large else QUANTITIES
    for stage, kind in [(st, k) for st in ("down", "up") for k in kinds]:
        for _ in range(rounds[stage]):
            todo = open_checks() & (quantity == kind)
            if not todo.any():
                break
            alive = alive_for(todo)
            t_lp = time.perf_counter()
            if stage == "down":
                x = _solve(p, np.asarray(q[todo].sum(axis=0)).ravel(), alive, seconds)
            else:
                x = _solve_capped(p, q[todo], const[todo], alive, hi_small + 1.0, seconds)
            log.debug(
                "audit: %s %s: %d checks, %d unknowns, %.1f s%s",
                stage,
                kind,
                int(todo.sum()),
                int(alive.sum()),
                time.perf_counter() - t_lp,
                "" if x is not None else " (no solution in time)",
            )
            if x is None or not prove(stage, np.where(alive, x, base)):
                break


def _base_solution(p: _Problem, seed: np.ndarray | None, bad_comp: np.ndarray) -> np.ndarray:
    """A solution of the LP variables: ``seed`` if given, else found by LP.

    Components without a solution are flagged in ``bad_comp``.
    """
    nf = len(p.free)
    if seed is not None:
        return np.nan_to_num(seed[p.free])
    if not nf:
        return np.zeros(0)
    alive = np.ones(nf, bool)
    x = _solve(p, np.zeros(nf), alive)
    if x is not None:
        return x
    x = np.zeros(nf)
    for k in range(p.n_comp):
        member = p.comp == k
        xk = _solve(p, np.zeros(nf), member)
        if xk is None:
            bad_comp[k] = True
        else:
            x[member] = xk[member]
    return x


def _exact_ranges(
    p: _Problem,
    q: sparse.csr_matrix,
    const: np.ndarray,
    base: np.ndarray,
    todo: np.ndarray,
    qcomp: np.ndarray,
    see: Any,
    deadline: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each open check's own minimum and maximum, one check per component per LP pair.

    Checks left when ``deadline`` (a :func:`time.perf_counter` value) passes time out, as
    do the checks of a component whose LP runs out of :data:`LP_SECONDS` (every component
    taken here has a solution, so a failed LP is one out of time, not an inconsistency).

    Returns ``(lower, upper, timed_out)`` per check (``-inf``/``inf`` where not computed).
    """
    n = len(const)
    lo_exact, hi_exact = np.full(n, -np.inf), np.full(n, np.inf)
    timed_out = np.zeros(n, bool)
    left = np.flatnonzero(todo)
    while len(left):
        if time.perf_counter() >= deadline:
            timed_out[left] = True
            break
        log.debug("audit: %d counts without a witness", len(left))
        pick = left[~pd.Series(qcomp[left]).duplicated().to_numpy()]
        comps = np.unique(p.comp[q[pick].indices])
        alive = np.isin(p.comp, comps)
        obj = np.asarray(q[pick].sum(axis=0)).ravel()
        xmax, xmin = _solve(p, -obj, alive), _solve(p, obj, alive)
        if xmax is None or xmin is None:  # out of time: these components have a solution
            timed_out[np.isin(qcomp, qcomp[pick]) & todo] = True
            left = left[~np.isin(qcomp[left], qcomp[pick])]
            continue
        xmax, xmin = np.where(alive, xmax, base), np.where(alive, xmin, base)
        hi_exact[pick] = (q[pick] @ xmax) + const[pick]
        lo_exact[pick] = (q[pick] @ xmin) + const[pick]
        see(xmax)
        see(xmin)
        left = left[~np.isin(left, pick)]
    return lo_exact, hi_exact, timed_out


def _block_colours(
    system: LinkedSystem, free: np.ndarray, merge: tuple[str, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """A colour per variable such that unknowns of one colour can move together.

    *Blocks* are the connected components of the unknowns under the equalities (and the
    inequalities of the kinds in ``merge``, e.g. ``"cell"``: a numerator with its
    denominator); blocks sharing another inequality get different colours (greedy, largest
    block first). With
    every other unknown held at a solution, the unknowns of one colour form independent
    small problems, and any solution of them is a solution of the whole system. Returns
    each variable's colour and its block (the independent problems).

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": "BSOL", "area": "BSOL", "breakdown": ["overall", "sex", "sex"],
        ...     "group": ["All", "F", "M"], "numerator": [5, 2, 3], "denominator": [50, 20, 30]})
        >>> s = build_system({"t": t})
        >>> _block_colours(s, np.array([False, False, True, True, True, True]))[0][2:].tolist()
        [0, 1, 0, 1]
    """
    t = system.terms
    rel, var = t["relation"].to_numpy(), t["var"].to_numpy()
    rels = system.relations
    eq = ((rels["sense"].to_numpy() == "eq") | rels["kind"].isin(list(merge)).to_numpy())[rel]
    n_rel, n_var = len(system.relations), system.n_vars
    k = eq & free[var]
    graph = sparse.csr_matrix(
        (np.ones(int(k.sum())), (rel[k], var[k] + n_rel)), shape=(n_rel + n_var, n_rel + n_var)
    )
    _, lab = connected_components(graph, directed=False)
    block = np.full(n_var, -1)
    block[free] = pd.factorize(lab[n_rel:][free])[0]
    n_block = int(block.max()) + 1
    colour = np.full(max(n_block, 1), -1)
    k = ~eq & free[var]
    pairs = pd.DataFrame({"rel": rel[k], "b": block[var[k]]}).drop_duplicates()
    pairs = pairs.merge(pairs, on="rel").query("b_x != b_y")[["b_x", "b_y"]].drop_duplicates()
    neighbours = pairs.groupby("b_x")["b_y"].apply(list).to_dict()
    size = np.bincount(block[free], minlength=n_block)
    for b in np.argsort(-size, kind="stable"):  # one step per block, not per count
        used = {colour[n] for n in neighbours.get(b, ())}
        c = 0
        while c in used:
            c += 1
        colour[b] = c
    out = np.full(n_var, -1)
    out[free] = colour[block[free]]
    return out, block


def child_areas(system: LinkedSystem) -> pd.DataFrame:
    """Each child area of the system's ``area`` relations with its parent.

    Returns:
        ``area_type, area, parent_type, parent`` (strings), one row per pair.

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": ["P", "C", "C"], "area": ["p", "a", "b"],
        ...     "breakdown": "overall", "group": "All", "numerator": [5, 2, 3],
        ...     "denominator": [50, 20, 30]})
        >>> areas = pd.DataFrame({"area_type": "C", "area": ["a", "b"],
        ...     "parent_type": "P", "parent": "p"})
        >>> child_areas(build_system({"t": t}, areas))["area"].tolist()
        ['a', 'b']
    """
    columns = ["area_type", "area", "parent_type", "parent"]
    t = system.terms
    area_t = t[system.relations["kind"].to_numpy()[t["relation"].to_numpy()] == "area"]
    if area_t.empty:
        return pd.DataFrame(columns=columns, dtype="str")
    cell, rel = area_t["var"].to_numpy() // 2, area_t["relation"].to_numpy()
    neg = area_t["coef"].to_numpy() < 0
    parent = pd.Series(cell[neg], index=rel[neg])
    parent = parent[~parent.index.duplicated()]
    p_cell = parent.reindex(rel[~neg]).to_numpy()
    ok = ~pd.isna(p_cell)
    kid, p_cell = cell[~neg][ok], p_cell[ok].astype(np.int64)
    area_type = system.cells["area_type"].astype("str").to_numpy()
    area = system.cells["area"].astype("str").to_numpy()
    out = pd.DataFrame(
        {
            "area_type": area_type[kid],
            "area": area[kid],
            "parent_type": area_type[p_cell],
            "parent": area[p_cell],
        }
    )
    return out.drop_duplicates().reset_index(drop=True)


def _pair_labels(
    system: LinkedSystem, kids: pd.DataFrame, shift: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A label per variable that frees sibling areas two at a time.

    Children of one parent area (the cells summed by one ``area`` relation) are ranked by
    area name; ranks ``r`` with the same ``(r + shift) // 2`` share a label (one label per
    area type and pair number). With every other unknown held at a solution, the parent's
    counts are fixed, so moving counts between the two siblings of a pair is the only
    freedom left: the pairs are small independent problems, and between two siblings a
    count can often move from one group to another in one area and back in the other
    (which an area alone, held to its parent, cannot do). Areas that are nobody's child
    keep their area type as label. ``kids`` is :func:`child_areas` of the system. Returns
    each variable's label and its pair (its parent and label: the independent problems).

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": ["P", "C", "C", "C"], "area": ["p", "a", "b", "c"],
        ...     "breakdown": "overall", "group": "All", "numerator": [9, 2, 3, 4],
        ...     "denominator": [90, 20, 30, 40]})
        >>> areas = pd.DataFrame({"area_type": "C", "area": ["a", "b", "c"],
        ...     "parent_type": "P", "parent": "p"})
        >>> s = build_system({"t": t}, areas)
        >>> _pair_labels(s, child_areas(s))[0][0::2].tolist()
        ['P', 'C:0', 'C:0', 'C:1']
    """
    cells = system.cells
    area_type = cells["area_type"].astype("str").to_numpy()
    label = np.repeat(area_type.astype(object), 2)
    if kids.empty:
        return label, label
    sib = kids.sort_values(["parent_type", "parent", "area_type", "area"])
    sib["rank"] = sib.groupby(["parent_type", "parent", "area_type"]).cumcount()
    # an area under several parents (another view, an implied ancestor) keeps its first pair
    sib = sib.drop_duplicates(["area_type", "area"])
    sib["label"] = sib["area_type"] + ":" + ((sib["rank"] + shift) // 2).astype("str")
    sib["unit"] = sib["parent_type"] + ":" + sib["parent"] + ":" + sib["label"]
    index = pd.MultiIndex.from_frame(sib[["area_type", "area"]])
    key = pd.MultiIndex.from_arrays([area_type, cells["area"].astype("str").to_numpy()])
    found = pd.Series(sib["label"].to_numpy(), index=index).reindex(key).to_numpy(dtype=object)
    per_cell = np.where(pd.isna(found), area_type.astype(object), found)
    unit = pd.Series(sib["unit"].to_numpy(), index=index).reindex(key).to_numpy(dtype=object)
    per_unit = np.where(pd.isna(unit), per_cell, unit)
    return np.repeat(per_cell, 2), np.repeat(per_unit, 2)


def _shown_safe(seen: tuple[np.ndarray, np.ndarray], policy: SDCPolicy) -> np.ndarray:
    """Checks that some witness has taken below the small range or above it.

    ``seen`` holds each check's lowest and highest value in the witnesses so far.
    """
    lo, hi = seen
    return (np.floor(hi + _EPS) > policy.max_count) | (np.ceil(lo - _EPS) < policy.min_count)


@dataclass(frozen=True)
class _Search:
    """What the witness stages share: the system, its unknowns, the checks and what is seen.

    ``seed`` is a solution of the whole system; ``seen`` holds the lowest and highest value
    each check has taken in a witness so far (widened in place).
    """

    system: LinkedSystem
    value: np.ndarray
    free: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    checks: pd.DataFrame
    seed: np.ndarray
    policy: SDCPolicy
    seen: tuple[np.ndarray, np.ndarray]

    def held(self, free_l: np.ndarray) -> _Problem:
        """The LP over the unknowns ``free_l``, every other unknown held at ``seed``."""
        value = np.where(self.free & ~free_l, self.seed, self.value)
        return _lp_problem(self.system, value, free_l, self.lb, self.ub)

    def unproven(self) -> np.ndarray:
        """Checks that no witness so far has taken out of the small range."""
        return ~_shown_safe(self.seen, self.policy)

    @functools.cached_property
    def base(self) -> np.ndarray:
        """Every unknown at ``seed``, every known count at its value."""
        return np.where(self.free, self.seed, self.value)

    @functools.cached_property
    def cell_area(self) -> tuple[np.ndarray, pd.Index]:
        """Each cell's area (codes into ``type:name`` labels) and the labels."""
        cells = self.system.cells
        codes, names = pd.factorize(
            cells["area_type"].astype("str") + ":" + cells["area"].astype("str")
        )
        return codes, pd.Index(names)

    @functools.cached_property
    def area_levels(self) -> tuple[list[str], dict[str, set[str]], dict[str, set[str]]]:
        """:func:`_area_levels` of the system (computed once)."""
        return _area_levels(self.system)


def _level_witnesses(
    search: _Search,
    labels: np.ndarray | None = None,
    skip: np.ndarray | None = None,
    units: np.ndarray | None = None,
) -> None:
    """Widen ``seen`` with witnesses found one area level (or block colour) at a time.

    For one area type, every other unknown is held at ``seed`` (a solution of the whole
    system, e.g. the unsuppressed counts); any solution of what is left is then a solution
    of the whole system, so the values it gives are attainable. Held fixed, the system
    falls apart into small components, solved in chunks of independent components with the
    batch stages of :func:`lp_ranges`. ``units`` names the independent problem of each
    variable within its label (a block, a pair of areas): only units holding an undecided
    check are set up.
    """
    system, free, checks, seen = search.system, search.free, search.checks, search.seen
    policy = search.policy
    level = (
        np.repeat(system.cells["area_type"].to_numpy(dtype=object), 2) if labels is None else labels
    )
    cell = checks["cell"].to_numpy(np.int64)
    base = search.base
    skip = np.zeros(len(checks), bool) if skip is None else skip
    num_var = np.where(checks["a"].to_numpy() != 0, 2 * cell, 2 * cell + 1)
    den_var = np.where(checks["b"].to_numpy() != 0, 2 * cell + 1, 2 * cell)

    def undecided() -> np.ndarray:
        return search.unproven() & ~skip

    for group in ([lvl] for lvl in pd.unique(level[free])):
        todo = undecided() & (np.isin(level[num_var], group) | np.isin(level[den_var], group))
        if not todo.any():
            continue
        t_level = time.perf_counter()
        free_l = free & np.isin(level, group)
        if units is not None:
            free_l &= np.isin(units, np.unique(np.r_[units[num_var[todo]], units[den_var[todo]]]))
        p = search.held(free_l)
        a_eq, a_ub = p.a_eq.tocsc(), p.a_ub.tocsc()
        chunk_of_comp = np.cumsum(np.bincount(p.comp, minlength=p.n_comp)) // _CHUNK
        check_pos = np.full(system.n_vars, -1)
        check_pos[p.free] = np.arange(len(p.free))
        for ch in np.unique(chunk_of_comp):
            cols = np.flatnonzero(chunk_of_comp[p.comp] == ch)
            mine = todo & (np.isin(check_pos[num_var], cols) | np.isin(check_pos[den_var], cols))
            if not mine.any():
                continue
            sub_eq, sub_ub = a_eq[:, cols], a_ub[:, cols]
            r_eq, r_ub = np.unique(sub_eq.indices), np.unique(sub_ub.indices)
            sub = _Problem(
                p.free[cols],
                sub_eq.tocsr()[r_eq],
                p.b_eq[r_eq],
                sub_ub.tocsr()[r_ub],
                p.b_ub[r_ub],
                p.lb[cols],
                p.ub[cols],
                p.comp[cols],
                p.n_comp,
            )
            _chunk_witnesses(system, sub, checks, mine, base, policy, seen, undecided)
        log.debug(
            "audit: witnesses of %s: %d unknowns, %d checks, %.1f s",
            group[0],
            len(p.free),
            int(todo.sum()),
            time.perf_counter() - t_level,
        )


#: The path stage (:func:`_path_witnesses`) runs when at most this many checks are left
#: after the pair and block stages, on at most :data:`PATH_UNITS` units (largest first).
PATH_CHECKS = 5_000
PATH_UNITS = 400
#: Seconds the path stage may take between the levels of the area stage (components over
#: :data:`PROOF_LIMIT`, see :func:`_unit_stages`); units not reached in time leave their
#: counts unproven.
PATH_SECONDS = 300.0


def _area_paths(system: LinkedSystem) -> tuple[dict[str, set[str]], dict[str, str]]:
    """Each area's *anchor*, and each anchor with its ancestors and descendants.

    Areas (``type:name``) are read from the ``area`` relations; an area's anchor is its
    ancestor just below a top area (itself if it is one, or a top area).
    """
    up, down = _area_steps(system)
    anchor = {}
    for a in set(up) | set(down):
        b = a
        while any(p in up for p in up.get(b, ())):  # climb while the parent has a parent
            b = min(p for p in up[b] if p in up)
        anchor[a] = b
    paths = {b: {b} | _reach(b, up) | _reach(b, down) for b in set(anchor.values())}
    return paths, anchor


def _area_steps(system: LinkedSystem) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Each area's parents and each area's children (areas are ``type:name``)."""
    kids = child_areas(system)
    child = (kids["area_type"] + ":" + kids["area"]).tolist()
    parent = (kids["parent_type"] + ":" + kids["parent"]).tolist()
    up: dict[str, set[str]] = {}
    down: dict[str, set[str]] = {}
    for c, p in zip(child, parent, strict=True):
        up.setdefault(c, set()).add(p)
        down.setdefault(p, set()).add(c)
    return up, down


def _reach(a: str, step: dict[str, set[str]]) -> set[str]:
    """Every area reached from ``a`` by repeated ``step`` (its ancestors or descendants)."""
    seen, todo = set(), [a]
    while todo:
        for b in step.get(todo.pop(), ()):
            if b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def _path_witnesses(search: _Search, todo: np.ndarray, deadline: float | None = None) -> None:
    """Widen ``seen`` with witnesses that move one breakdown family up and down the areas.

    Some counts are only safe through a move across area levels and indicators at once: a
    rare group (sex Unknown, say) can grow in one practice-level area only if it grows in
    every area above it, and in every indicator whose denominator nests with it. For each
    *unit* of unchecked counts (reporting date, view, breakdown dimensions and area), the
    hidden counts of every indicator that share a dimension with it, at the area, its
    ancestors and its descendants, are freed, with every other unknown held at ``seed``
    (a solution of the whole system); any solution of that problem solves the whole
    system. A unit's area is the check's *anchor* (its ancestor just below the top area,
    such as its locality), so one problem serves every check of the anchor's subtree.
    Units are taken largest first, at most :data:`PATH_UNITS`; no unit starts after
    ``deadline`` (a :func:`time.perf_counter` value), if given.
    """
    system, free, checks, seen = search.system, search.free, search.checks, search.seen
    policy = search.policy
    cells = system.cells
    cell = checks["cell"].to_numpy(np.int64)
    paths, anchor = _area_paths(system)
    area, area_names = search.cell_area
    anchor_of = np.array([anchor.get(a, a) for a in area_names], dtype=object)
    when = pd.factorize(cells["reporting_date"].astype("str") + "|" + cells["view"].astype("str"))[
        0
    ]
    dims, dim_names = pd.factorize(breakdown_dims(cells["breakdown"]))
    has_dim = {
        d: np.array([d in n.split("|") for n in dim_names], bool)[dims]
        for d in set("|".join(dim_names).split("|"))
    }
    unit = pd.DataFrame({"w": when[cell], "d": dims[cell], "a": anchor_of[area[cell]]})
    unit = unit.groupby(["w", "d", "a"], sort=False).ngroup().to_numpy()
    size = np.bincount(unit[todo], minlength=unit.max() + 1 if len(unit) else 0)
    order = np.argsort(-size, kind="stable")[: min(PATH_UNITS, int((size > 0).sum()))]
    base = search.base

    def undecided() -> np.ndarray:
        return search.unproven() & todo

    t0, n_units = time.perf_counter(), 0
    for u in order:
        mine = undecided() & (unit == u)
        if not mine.any() or (deadline is not None and time.perf_counter() > deadline):
            continue
        n_units += 1
        first = cell[np.flatnonzero(mine)[0]]
        top = anchor_of[area[first]]
        near = np.zeros(len(cells), bool)
        for one in dim_names[dims[first]].split("|"):
            near |= has_dim[one]
        in_path = np.isin(area_names, list(paths.get(top, {top})))
        near &= (when == when[first]) & in_path[area]
        p = search.held(free & np.repeat(near, 2))
        if len(p.free):
            _chunk_witnesses(system, p, checks, mine, base, policy, seen, undecided, repeats=1)
    log.debug(
        "audit: path witnesses: %d units, %d checks, %.1f s",
        n_units,
        int(todo.sum()),
        time.perf_counter() - t0,
    )


#: The area stage (:func:`_area_witnesses`): rounds over the units of each area level (a
#: level is repeated while a round leaves at most ``AREA_GAIN`` of the counts it started
#: with), and the seconds it may take in all (units not reached in time leave their
#: counts unproven).
AREA_ROUNDS = 2
AREA_GAIN = 0.8
AREA_SECONDS = 900.0


def _area_levels(
    system: LinkedSystem,
) -> tuple[list[str], dict[str, set[str]], dict[str, set[str]]]:
    """The middle area types, deepest first; each area's ancestors and descendants.

    Middle types have a parent and children; areas are ``type:name``, read from the
    ``area`` relations.

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": ["T", "M", "L", "L"], "area": ["t", "m", "a", "b"],
        ...     "breakdown": "overall", "group": "All", "numerator": [9, 9, 4, 5],
        ...     "denominator": [90, 90, 40, 50]})
        >>> areas = pd.DataFrame({"area_type": ["M", "L", "L"], "area": ["m", "a", "b"],
        ...     "parent_type": ["T", "M", "M"], "parent": ["t", "m", "m"]})
        >>> levels, up, down = _area_levels(build_system({"t": t}, areas))
        >>> levels, sorted(up["L:a"]), sorted(down["M:m"])
        (['M'], ['M:m', 'T:t'], ['L:a', 'L:b'])
    """
    step_up, step_down = _area_steps(system)
    areas = set(step_up) | set(step_down)
    up = {a: _reach(a, step_up) for a in areas}
    down = {a: _reach(a, step_down) for a in areas}
    middle = {a.split(":", 1)[0] for a in set(step_up) & set(step_down)}
    depth = {k: np.mean([len(up[a]) for a in areas if a.split(":", 1)[0] == k]) for k in middle}
    return sorted(middle, key=lambda k: (-depth[k], k)), up, down


def _area_witnesses(
    search: _Search, todo: np.ndarray, deadline: float, levels: list[str] | None = None
) -> None:
    """Widen ``seen`` with witnesses that move counts anywhere within one area's subtree.

    For each area of an intermediate level (deepest first: PCN, then locality), every
    hidden count of every indicator, breakdown and date at the area, its descendants and
    its ancestors is freed, with every other unknown held at ``seed`` (a solution of the
    whole system), so any solution of that problem solves the whole system. A unit is much
    smaller than a large component, so its down and up LPs are fast, yet it allows the
    moves that keep a count safe in practice: patients of one group moving to another
    group in one practice and back in another, through the PCN and locality rows and every
    indicator that shares the count. Units are taken largest first; a level is repeated
    (at most :data:`AREA_ROUNDS` rounds) while a round proves a good share of what is left
    (:data:`AREA_GAIN`); no unit starts after ``deadline`` (a :func:`time.perf_counter` value).
    ``levels`` are the area types to take (default: every middle level, deepest first).
    """
    system, free, checks, seen = search.system, search.free, search.checks, search.seen
    policy = search.policy
    cell = checks["cell"].to_numpy(np.int64)
    all_levels, up, down = search.area_levels
    levels = all_levels if levels is None else levels
    area, names = search.cell_area
    base = search.base

    def undecided() -> np.ndarray:
        return search.unproven() & todo

    for level in levels:
        units = [a for a in up if a.split(":", 1)[0] == level and a in names]
        # each unit's subtree (its checks) and the areas it frees (subtree and ancestors)
        sub = {u: names.get_indexer(list({u} | down[u])) for u in units}
        sub = {u: k[k >= 0] for u, k in sub.items()}
        above = {u: names.get_indexer(list(up[u])) for u in units}
        in_sub = {u: np.isin(area[cell], sub[u]) for u in units}
        for n_round in range(AREA_ROUNDS):
            t0, n_units, open_now = time.perf_counter(), 0, undecided()
            before = int(open_now.sum())
            for u in sorted(units, key=lambda u: -int((open_now & in_sub[u]).sum())):
                mine = undecided() & in_sub[u]
                if not mine.any() or time.perf_counter() > deadline:
                    continue
                n_units += 1
                freed = np.isin(area, np.r_[sub[u], above[u][above[u] >= 0]])
                p = search.held(free & np.repeat(freed, 2))
                if len(p.free):
                    _chunk_witnesses(
                        system, p, checks, mine, base, policy, seen, undecided, 1, _DEN_FIRST, False
                    )
            after = int(undecided().sum())
            log.debug(
                "audit: area witnesses of %s, round %d: %d units, %d -> %d checks, %.1f s",
                level,
                n_round,
                n_units,
                before,
                after,
                time.perf_counter() - t0,
            )
            if after > AREA_GAIN * before:  # another round would prove little
                break


def _chunk_witnesses(
    system: LinkedSystem,
    sub: _Problem,
    checks: pd.DataFrame,
    mine: np.ndarray,
    base: np.ndarray,
    policy: SDCPolicy,
    seen: tuple[np.ndarray, np.ndarray],
    undecided: Any,
    repeats: int = 2,
    kinds: tuple[str, ...] = QUANTITIES,
    give_up: bool = True,
) -> None:
    """The batch stages on one chunk of a level: sums pushed down, capped sums pushed up.

    Each stage runs ``repeats`` times per kind of count (a second LP finds witnesses for
    counts the first one left), kinds in the order of ``kinds``. An LP out of time ends
    the chunk if ``give_up``, else only that LP.
    """
    cell = checks["cell"].to_numpy(np.int64)
    a, b = checks["a"].to_numpy(), checks["b"].to_numpy()
    local = np.full(system.n_vars, -1)
    local[sub.free] = np.arange(len(sub.free))
    n = len(sub.free)
    rest = base.copy()
    rest[sub.free] = 0.0
    quantity = checks["quantity"].to_numpy()
    plan = [("down", k) for k in kinds] * repeats + [("up", k) for k in kinds] * repeats
    for stage, kind in plan:  # one kind at a time: a numerator and its complement pull apart
        want = np.flatnonzero(mine & undecided() & (quantity == kind))
        if not len(want):
            continue
        rows, cols, vals = [], [], []
        for off, w in ((0, a), (1, b)):
            v = 2 * cell[want] + off
            ok = (local[v] >= 0) & (w[want] != 0)
            rows.append(np.flatnonzero(ok))
            cols.append(local[v][ok])
            vals.append(w[want][ok])
        qs = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(len(want), n),
        )
        const = a[want] * rest[2 * cell[want]] + b[want] * rest[2 * cell[want] + 1]
        alive = np.ones(n, bool)
        if stage == "down":
            x = _solve(sub, np.asarray(qs.sum(axis=0)).ravel(), alive)
        else:
            x = _solve_capped(sub, qs, const, alive, policy.max_count + 1.0)
        if x is None and give_up:
            break
        if x is None:
            continue
        full = base.copy()
        full[sub.free] = x
        vals_all = a * full[2 * cell] + b * full[2 * cell + 1]
        np.minimum(seen[0], vals_all, out=seen[0])
        np.maximum(seen[1], vals_all, out=seen[1])


def _result(
    system: LinkedSystem, checks: pd.DataFrame, n_comp: int, t0: float, policy: SDCPolicy
) -> AuditResult:
    fails = checks[checks["fails"]]
    keys = system.cells.iloc[fails["cell"].to_numpy()][["table", *CELL_KEYS]].reset_index(drop=True)
    failures = keys.assign(
        quantity=fails["quantity"].to_numpy(), problem=fails["problem"].to_numpy()
    )
    return AuditResult(
        passed=not len(failures),
        cells_checked=int(checks["cell"].nunique()),
        components=n_comp,
        seconds=time.perf_counter() - t0,
        failures=failures,
        policy=policy.name,
        stages=dict(checks.attrs.get("stages", {})),
        checks=checks,
    )


def _bounds(
    system: LinkedSystem, policy: SDCPolicy
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``value, free, lb, ub`` per variable for the published system under ``policy``."""
    value = system.values()
    published = np.repeat(system.cells["published"].to_numpy(bool), 2)
    value[~published] = np.nan
    hidden = np.isnan(value)
    cap = 10.0 * np.nanmax(np.r_[value, 1.0]) + 1e6
    lb, ub = np.zeros(system.n_vars), np.full(system.n_vars, cap)
    free = hidden.copy()
    if getattr(policy, "method", "suppress") == "round":
        half = policy.rounding_base // 2
        rounded = ~hidden & (value > 0)
        lb[rounded] = np.maximum(value[rounded] - half, policy.max_count + 1)
        ub[rounded] = value[rounded] + half
        # rounded counts sharing a relation with a hidden count become unknowns too
        t = system.terms
        rel_hidden = np.bincount(
            t["relation"], weights=hidden[t["var"]], minlength=len(system.relations)
        )
        near = np.zeros(system.n_vars, bool)
        near[t["var"].to_numpy()[rel_hidden[t["relation"].to_numpy()] > 0]] = True
        free |= near & rounded
        value[rounded & ~free] = np.nan  # beyond the neighbourhood: relations dropped
    return value, free, lb, ub


def audit_system(
    system: LinkedSystem,
    primary: np.ndarray,
    policy: SDCPolicy = DEFAULT_POLICY,
    seed: np.ndarray | None = None,
    earlier: AuditResult | None = None,
    exact_seconds: float = EXACT_SECONDS,
    whole: bool = True,
    local: bool = True,
) -> AuditResult:
    """Audit a linked system whose ``published`` flags are set; ``primary`` flags cells.

    ``earlier`` is an audit of the same system with the same primary cells and fewer (or
    the same) hidden cells (under the suppression policy): the checks it proved stay
    proven, since its witnesses, with the newly hidden counts at their published values,
    still solve the relations. ``whole`` and ``local`` are passed to :func:`lp_ranges`.
    """
    t0 = time.perf_counter()
    value, free, lb, ub = _bounds(system, policy)
    checks = _checks(
        system, np.asarray(primary, bool) & ~system.cells["published"].to_numpy(bool), policy
    )
    proven = None
    if earlier is not None and earlier.checks is not None and policy.method == "suppress":
        before = earlier.checks[["cell", "quantity", "fails"]]
        hit = checks[["cell", "quantity"]].merge(before, on=["cell", "quantity"], how="left")
        proven = hit["fails"].eq(False).to_numpy()
    out, n_comp = lp_ranges(
        system,
        value,
        free,
        lb,
        ub,
        checks,
        policy,
        seed,
        proven,
        exact_seconds,
        whole,
        local,
    )
    return _result(system, out, n_comp, t0, policy)


def primary_cells(tables: Mapping[str, pd.DataFrame], system: LinkedSystem) -> np.ndarray:
    """Cells with a row whose ``suppression_reason`` starts with ``primary``."""
    flag = np.zeros(len(system.cells), bool)
    for name, frame in tables.items():
        if "suppression_reason" in frame.columns:
            hit = frame["suppression_reason"].astype("str").str.startswith("primary").to_numpy()
            flag[system.rows[name][hit]] = True
    return flag


def audit_run(
    tables: Mapping[str, pd.DataFrame],
    areas: pd.DataFrame | None = None,
    policy: SDCPolicy = DEFAULT_POLICY,
) -> AuditResult:
    """Audit the published tables of one run.

    Args:
        tables: table name -> published tidy frame (``suppressed``, ``suppression_reason``).
        areas: the area hierarchy (see :func:`~bsol_analytics.sdc.relations.build_system`).
        policy: the policy the tables were published under.

    Returns:
        The :class:`AuditResult`.

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": "BSOL", "area": "BSOL", "breakdown": ["overall", "sex", "sex"],
        ...     "group": ["All", "F", "M"], "numerator": [50, None, 47],
        ...     "denominator": [500, None, 250], "suppressed": [False, True, False],
        ...     "suppression_reason": [None, "primary: count 1-7", None]})
        >>> r = audit_run({"t": t})
        >>> r.passed, r.failures[["quantity", "problem"]].values.tolist()
        (False, [['numerator', 'pinned to one value']])
    """
    t0 = time.perf_counter()
    levels = published_withheld(tables, areas)
    withheld = withheld_rows(tables, levels)
    tables = {name: frame[~withheld[name]] for name, frame in tables.items()}
    system = build_system(tables, areas)
    published = system.values()
    published[np.repeat(~system.cells["published"].to_numpy(bool), 2)] = np.nan
    bad = violated(system, published)  # relations the published counts show do not hold
    if bad.any():
        log.debug("audit: %d relations do not hold in what is published", int(bad.sum()))
        system = system.drop(bad)
    primary = primary_cells(tables, system)
    for name, frame in tables.items():  # labelled withheld, but not a level left out
        primary[system.rows[name][labelled(frame)]] = True
    result = audit_system(system, primary, policy)
    return dataclasses.replace(result, seconds=time.perf_counter() - t0, withheld=describe(levels))


def read_folder(path: str | Path) -> tuple[dict[str, pd.DataFrame], pd.DataFrame | None, SDCPolicy]:
    """Read a published folder (format in the module docstring)."""
    folder = Path(path)
    if not folder.is_dir():
        raise ParameterError(f"{folder} is not a folder of published tables.")
    tables: dict[str, pd.DataFrame] = {}
    for f in sorted(folder.iterdir()):
        if (
            f.name.startswith("_")
            or f.name in ("areas.csv",)
            or f.suffix not in (".csv", ".parquet")
        ):
            continue
        frame = (
            pd.read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f, dtype={"area": "str"})
        )
        if not set(CELL_KEYS) <= set(frame.columns):
            continue
        tables[f.stem] = frame
    if not tables:
        raise ParameterError(f"{folder} holds no tidy table (*.csv or *.parquet).")
    areas_file = folder / "areas.csv"
    areas = pd.read_csv(areas_file, dtype="str") if areas_file.exists() else None
    policy_file = folder / "sdc_policy.json"
    policy = DEFAULT_POLICY
    if policy_file.exists():
        fields = {f.name for f in dataclasses.fields(SDCPolicy)}
        data = json.loads(policy_file.read_text())
        policy = SDCPolicy(**{k: v for k, v in data.items() if k in fields})
    return tables, areas, policy


def audit_folder(path: str | Path) -> AuditResult:
    """Audit a published folder: tidy tables, ``areas.csv`` and ``sdc_policy.json``.

    Raises:
        ParameterError: the folder does not exist or holds no tidy table.
    """
    tables, areas, policy = read_folder(path)
    return audit_run(tables, areas, policy)


def peel(system: LinkedSystem, value: np.ndarray | None = None) -> pd.DataFrame:
    """Recover hidden counts from equalities with one unknown, repeatedly.

    Args:
        system: the linked system (hidden cells are those not ``published``).
        value: per variable, the counts known to the attacker (default: the published ones).

    Returns:
        A new frame ``cell, quantity, value``: every hidden numerator, denominator and
        complement the attacker recovers exactly.

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": "BSOL", "area": "BSOL", "breakdown": ["overall", "sex", "sex"],
        ...     "group": ["All", "F", "M"], "numerator": [50, 3, 47],
        ...     "denominator": [500, 250, 250], "suppressed": [False, True, False]})
        >>> peel(build_system({"t": t}))
           cell   quantity  value
        0     1  numerator    3.0
        1     1  denominator  250.0
        2     1  complement  247.0
    """
    if value is None:
        value = system.values()
        value[np.repeat(~system.cells["published"].to_numpy(bool), 2)] = np.nan
    x = np.asarray(value, float).copy()
    hidden0 = np.isnan(x)
    eq = system.relations["sense"].to_numpy() == "eq"
    t = system.terms[eq[system.terms["relation"].to_numpy()]]
    rel, var, coef = t["relation"].to_numpy(), t["var"].to_numpy(), t["coef"].to_numpy()
    n_rel = len(system.relations)
    while True:
        unknown = np.isnan(x[var])
        n_unknown = np.bincount(rel, weights=unknown, minlength=n_rel)
        one = (n_unknown == 1)[rel] & unknown
        if not one.any():
            break
        known_sum = np.bincount(
            rel, weights=np.where(unknown, 0.0, coef * np.nan_to_num(x[var])), minlength=n_rel
        )
        solved = -known_sum[rel[one]] / coef[one]
        v, first = np.unique(var[one], return_index=True)
        x[v] = solved[first]
    got = hidden0 & ~np.isnan(x)
    cells = np.arange(len(system.cells))
    num, den = x[0::2], x[1::2]
    people = system.cells["people"].to_numpy(bool)
    parts = [
        pd.DataFrame({"cell": cells[got[0::2]], "quantity": "numerator", "value": num[got[0::2]]}),
        pd.DataFrame(
            {"cell": cells[got[1::2]], "quantity": "denominator", "value": den[got[1::2]]}
        ),
    ]
    comp = (got[0::2] | got[1::2]) & ~np.isnan(num) & ~np.isnan(den) & people
    parts.append(
        pd.DataFrame({"cell": cells[comp], "quantity": "complement", "value": (den - num)[comp]})
    )
    out = pd.concat(parts, ignore_index=True).sort_values(["cell"], kind="stable")
    return out.reset_index(drop=True)


def small_recoveries(
    recovered: pd.DataFrame,
    truth: LinkedSystem,
    policy: SDCPolicy = DEFAULT_POLICY,
) -> pd.DataFrame:
    """The recovered counts that are right (against the unsuppressed ``truth``) and small.

    Args:
        recovered: the output of :func:`peel`.
        truth: a system with the same cells holding the unsuppressed counts.
        policy: the small range.
    """
    c = truth.cells
    num = c["numerator"].to_numpy(float)[recovered["cell"]]
    den = c["denominator"].to_numpy(float)[recovered["cell"]]
    true = np.select(
        [recovered["quantity"].eq("numerator"), recovered["quantity"].eq("denominator")],
        [num, den],
        den - num,
    )
    right = np.abs(true - recovered["value"].to_numpy(float)) < 1e-6
    return recovered[right & policy.disclosive(true)].reset_index(drop=True)
