"""Time disclosure control and its audit on the tables every pack publishes.

Runs the pack tables step (:func:`bsol_analytics.packs.tables.compute_tables`, what ``bsol
packs`` computes once for every pack) on a prepared folder, into a temporary folder that is
removed afterwards, and prints:

* the seconds of each step, including ``protect`` (the one linked protection pass with its
  audit, :func:`bsol_analytics.protection.protect_run`) and, within it, the final audit;
* the seconds of an outsider's audit of the written tables
  (:func:`bsol_analytics.protection.audit_published`);
* per published table: rows, cells and hidden cells by area level and reason;
* the audit summary (and its failures by table, level and problem, never values).

    python benchmarks/bench_audit.py PREPARED [--date 2025-03-31] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bsol_analytics import protection
from bsol_analytics.errors import BsolError
from bsol_analytics.packs import tables as pack_tables
from bsol_analytics.sdc import CELL_KEYS

#: Keys of a cell in each protected table (tables without ``CELL_KEYS``).
_KEYS = {
    "population": ["area_type", "area", "sex", "age_band"],
    "demography": ["area_type", "area", "breakdown", "group"],
}


def hidden_by_level(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Cells per area level: shown, and hidden by the first word of the reason.

    Examples:
        >>> f = pd.DataFrame({"area_type": ["BSOL", "locality", "locality"],
        ...     "area": ["BSOL", "A", "B"], "suppressed": [False, True, True],
        ...     "suppression_reason": [None, "primary: count 1-7", "secondary: x"]})
        >>> hidden_by_level(f, ["area_type", "area"]).loc["all"].to_dict()
        {'primary': 1, 'secondary': 1, 'shown': 1, 'all': 3}
    """
    cells = frame.groupby(keys, sort=False, dropna=False).agg(
        hidden=("suppressed", "all"), reason=("suppression_reason", "first")
    )
    cells = cells.reset_index()
    reason = cells["reason"].astype("str").str.split(":").str[0].where(cells["hidden"], "shown")
    return pd.crosstab(cells["area_type"], reason, margins=True, margins_name="all")


def run(prepared: Path, date: str, work: Path) -> dict[str, Any]:
    """Run the pack tables step with protection timed; return the figures."""
    captured: dict[str, Any] = {}
    real = pack_tables.protect_run

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = real(*args, **kwargs)
        captured["seconds"] = time.perf_counter() - t0
        captured["run"] = out
        audit = getattr(out, "audit", None)
        summary = audit.summary() if audit is not None else None
        print(f"protection: {captured['seconds']:.1f} s; audit: {summary}", flush=True)
        return out

    timings: dict[str, float] = {}
    folder = work / "tables"
    pack_tables.protect_run = timed  # the step's own call, timed
    error = None
    t0 = time.perf_counter()
    try:
        pack_tables.compute_tables(prepared, folder, date, timings=timings)
    except BsolError as err:  # a failed audit publishes nothing: report it
        error = str(err)
    finally:
        pack_tables.protect_run = real
    figures: dict[str, Any] = {
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "steps": {k: round(v, 1) for k, v in timings.items()},
        "protect_seconds": round(captured.get("seconds", float("nan")), 1),
        "error": error,
    }
    protected = captured.get("run")
    audit = getattr(protected, "audit", None)
    figures["audit"] = audit.summary() if audit is not None else None
    if audit is not None and len(audit.failures):
        f = audit.failures.groupby(["table", "area_type", "breakdown", "problem"]).size()
        figures["failures"] = {" / ".join(k): int(v) for k, v in f.items()}
    figures["tables"] = {}
    for name, frame in (protected or {}).items():
        keys = _KEYS.get(name, list(CELL_KEYS))
        if "suppressed" in frame.columns and set(keys) <= set(frame.columns):
            figures["tables"][name] = hidden_by_level(frame, keys)
    if error is None and hasattr(protection, "audit_published"):
        t0 = time.perf_counter()
        outsider = protection.audit_published(folder)
        figures["outsider_audit_seconds"] = round(time.perf_counter() - t0, 1)
        figures["outsider_audit"] = outsider.summary()
    return figures


def main() -> None:
    """Parse the arguments, run and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prepared", type=Path, help="a prepared folder (bsol prepare)")
    parser.add_argument("--date", default="2025-03-31", help="reporting date")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    try:
        figures = run(args.prepared, args.date, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    tables = figures.pop("tables")
    for name, table in tables.items():
        print(f"\n{name}: cells by area level (shown, or hidden by reason)\n{table.to_string()}")
    print("\n" + json.dumps(figures, indent=2, default=str))
    if args.json:
        figures["tables"] = {n: t.to_dict() for n, t in tables.items()}
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
