"""Compare two folders of ``bsol indicators`` outputs cell by cell.

Usage::

    python scripts/compare_outputs.py OLD_DIR NEW_DIR [--rtol 1e-9] [--details diffs.csv]
                              [--by-indicator] [--pattern '*.parquet']

Every file (``.parquet`` or ``.csv``) found under OLD_DIR is paired with the file of the
same relative path under NEW_DIR. Rows are joined on the cell keys (indicator_id,
reporting_date, view, area_type, area, breakdown, group). For rows present in both, the
numbers numerator, denominator, value, lower and upper are compared one cell at a time
(equal when both are missing, or both present and within ``rtol`` relative, or exactly
equal). A cell is "shown" when its row is not ``suppressed``; the comparison is split into:

* shown in both: identical / differ (a number differs, or one side is missing)
* suppressed only in new / suppressed only in old
* suppressed in both

The summary prints one line per file pair and a total; ``--by-indicator`` adds a table per
indicator id; ``--details`` writes every differing shown-in-both cell (and every row only in
one side) to a CSV for inspection.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

KEYS = ["indicator_id", "reporting_date", "view", "area_type", "area", "breakdown", "group"]
NUMBERS = ["numerator", "denominator", "value", "lower", "upper"]
COUNT_COLUMNS = [
    "rows_old",
    "rows_new",
    "rows_only_old",
    "rows_only_new",
    "ind_only_old",
    "ind_only_new",
    "rows_only_old_common_ind",
    "rows_only_new_common_ind",
    "rows_both",
    "cells_shown_both",
    "cells_identical",
    "cells_differ",
    "cells_supp_only_new",
    "cells_supp_only_old",
    "cells_supp_both",
]


def read_table(path: Path) -> pd.DataFrame:
    """One output table with its keys as text (dates as YYYY-MM-DD)."""
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    frame = frame.copy()
    frame["reporting_date"] = pd.to_datetime(frame["reporting_date"]).dt.strftime("%Y-%m-%d")
    for key in KEYS:
        frame[key] = frame[key].astype("string").fillna("<NA>")
    if "suppressed" not in frame:
        frame["suppressed"] = False
    frame["suppressed"] = frame["suppressed"].fillna(False).astype(bool)
    duplicated = frame.duplicated(KEYS)
    if duplicated.any():
        raise ValueError(f"{path}: {int(duplicated.sum())} rows repeat a key")
    return frame


def same_number(old: pd.Series, new: pd.Series, rtol: float) -> np.ndarray:
    """True where both are missing, or both present and equal to ``rtol`` relative."""
    a = pd.to_numeric(old, errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(new, errors="coerce").to_numpy(dtype=float)
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        close = (a == b) | (np.abs(a - b) <= rtol * np.maximum(np.abs(a), np.abs(b)))
    return both_nan | (close & ~np.isnan(a) & ~np.isnan(b))


def compare_frames(
    old: pd.DataFrame, new: pd.DataFrame, rtol: float, label: str
) -> tuple[dict[str, int], pd.DataFrame, pd.DataFrame]:
    """Counts for one pair of tables, the per-indicator counts and the detail rows."""
    merged = old.merge(new, on=KEYS, how="outer", suffixes=("_old", "_new"), indicator=True)
    only_old = merged[merged["_merge"] == "left_only"]
    only_new = merged[merged["_merge"] == "right_only"]
    both = merged[merged["_merge"] == "both"].copy()
    ind_old, ind_new = set(old["indicator_id"]), set(new["indicator_id"])
    common = ind_old & ind_new

    details = []
    for side, rows in (("only_old", only_old), ("only_new", only_new)):
        if len(rows):
            part = rows[KEYS].copy()
            part["kind"] = np.where(
                rows["indicator_id"].isin(common), f"row_{side}", f"indicator_{side}"
            )
            details.append(part)

    s_old = both["suppressed_old"].astype(bool).to_numpy()
    s_new = both["suppressed_new"].astype(bool).to_numpy()
    shown = ~s_old & ~s_new
    per_ind = []
    counts = {c: 0 for c in COUNT_COLUMNS}
    for col in NUMBERS:
        same = same_number(both[f"{col}_old"], both[f"{col}_new"], rtol)
        frame = pd.DataFrame(
            {
                "indicator_id": both["indicator_id"].to_numpy(),
                "shown_both": shown,
                "identical": shown & same,
                "differ": shown & ~same,
                "supp_only_new": s_new & ~s_old,
                "supp_only_old": s_old & ~s_new,
                "supp_both": s_old & s_new,
            }
        )
        per_ind.append(frame)
        diff = both[shown & ~same]
        if len(diff):
            part = diff[KEYS].copy()
            part["kind"] = "cell_differs"
            part["column"] = col
            part["old"] = diff[f"{col}_old"].to_numpy()
            part["new"] = diff[f"{col}_new"].to_numpy()
            part["numerator_old"] = diff["numerator_old"].to_numpy()
            part["numerator_new"] = diff["numerator_new"].to_numpy()
            part["denominator_old"] = diff["denominator_old"].to_numpy()
            part["denominator_new"] = diff["denominator_new"].to_numpy()
            details.append(part)
    cells = pd.concat(per_ind, ignore_index=True)
    by_ind = cells.groupby("indicator_id").sum()
    counts.update(
        rows_old=len(old),
        rows_new=len(new),
        rows_only_old=len(only_old),
        rows_only_new=len(only_new),
        ind_only_old=len(ind_old - ind_new),
        ind_only_new=len(ind_new - ind_old),
        rows_only_old_common_ind=int(only_old["indicator_id"].isin(common).sum()),
        rows_only_new_common_ind=int(only_new["indicator_id"].isin(common).sum()),
        rows_both=len(both),
        cells_shown_both=int(cells["shown_both"].sum()),
        cells_identical=int(cells["identical"].sum()),
        cells_differ=int(cells["differ"].sum()),
        cells_supp_only_new=int(cells["supp_only_new"].sum()),
        cells_supp_only_old=int(cells["supp_only_old"].sum()),
        cells_supp_both=int(cells["supp_both"].sum()),
    )
    detail = pd.concat(details, ignore_index=True) if details else pd.DataFrame()
    if len(detail):
        detail.insert(0, "file", label)
    by_ind.insert(0, "file", label)
    return counts, by_ind.reset_index(), detail


def reason_class(frame: pd.DataFrame) -> pd.Series:
    """'shown', or the kind of suppression (text before the colon of the reason)."""
    if "suppression_reason" not in frame:
        return pd.Series(np.where(frame["suppressed"], "suppressed", "shown"), index=frame.index)
    kind = frame["suppression_reason"].astype("string").str.split(":").str[0]
    return kind.where(frame["suppressed"], "shown").fillna("suppressed")


def reason_pairs(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Old and new reason class of every row present in both."""
    a = old[KEYS].assign(old=reason_class(old))
    b = new[KEYS].assign(new=reason_class(new))
    return a.merge(b, on=KEYS)[["old", "new"]]


def pair_files(old_dir: Path, new_dir: Path, pattern: str) -> tuple[list, list, list]:
    """Files in both folders (by relative path) and those in one only."""
    olds = {p.relative_to(old_dir) for p in old_dir.rglob(pattern) if p.is_file()}
    news = {p.relative_to(new_dir) for p in new_dir.rglob(pattern) if p.is_file()}
    return sorted(olds & news), sorted(olds - news), sorted(news - olds)


def main(argv: list[str] | None = None) -> int:
    """Compare the folders named on the command line; print the summary (exit code 2: none)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old_dir", type=Path)
    parser.add_argument("new_dir", type=Path)
    parser.add_argument("--rtol", type=float, default=1e-9, help="relative tolerance (1e-9)")
    parser.add_argument("--pattern", default="*.parquet", help="file glob (default *.parquet)")
    parser.add_argument("--details", type=Path, help="write the differing cells/rows here")
    parser.add_argument("--by-indicator", action="store_true", help="per-indicator table too")
    parser.add_argument(
        "--reasons",
        action="store_true",
        help="cross-tabulate old and new suppression reasons (rows in both)",
    )
    args = parser.parse_args(argv)

    pairs, old_only, new_only = pair_files(args.old_dir, args.new_dir, args.pattern)
    for rel in old_only:
        print(f"only in {args.old_dir}: {rel}")
    for rel in new_only:
        print(f"only in {args.new_dir}: {rel}")
    if not pairs:
        print("no file pairs to compare", file=sys.stderr)
        return 2

    rows, by_inds, details, reasons = [], [], [], []
    for rel in pairs:
        old, new = read_table(args.old_dir / rel), read_table(args.new_dir / rel)
        counts, by_ind, detail = compare_frames(old, new, args.rtol, str(rel))
        rows.append({"file": str(rel), **counts})
        by_inds.append(by_ind)
        details.append(detail)
        if args.reasons:
            reasons.append(reason_pairs(old, new))

    summary = pd.DataFrame(rows).set_index("file")
    summary.loc["TOTAL"] = summary.sum()
    short = {
        "rows_only_old": "only_old",
        "rows_only_new": "only_new",
        "ind_only_old": "ind_old",
        "ind_only_new": "ind_new",
        "rows_only_old_common_ind": "key_old",
        "rows_only_new_common_ind": "key_new",
        "cells_shown_both": "shown2",
        "cells_identical": "same",
        "cells_differ": "DIFFER",
        "cells_supp_only_new": "supp_new",
        "cells_supp_only_old": "supp_old",
        "cells_supp_both": "supp2",
    }
    with pd.option_context(
        "display.width", 250, "display.max_rows", 500, "display.max_columns", 50
    ):
        print(summary.rename(columns=short).to_string())
        print(
            "\nonly_old/only_new: rows in one side only (ind_*: indicator ids in one side only;"
            " key_*: rows of indicators in both whose key is in one side only);"
            "\nshown2/same/DIFFER: number cells (5 per row) shown in both / identical / differing;"
            " supp_new/supp_old/supp2: cells suppressed only in new / only in old / in both."
        )
        if args.by_indicator:
            table = pd.concat(by_inds).drop(columns="file").groupby("indicator_id").sum()
            print("\nPer indicator (all files):")
            print(table.to_string())
        if args.reasons:
            both = pd.concat(reasons, ignore_index=True)
            print("\nRows in both by suppression reason (old down, new across):")
            print(pd.crosstab(both["old"], both["new"], margins=True).to_string())
    if args.details:
        detail = (
            pd.concat([d for d in details if len(d)], ignore_index=True)
            if any(len(d) for d in details)
            else pd.DataFrame()
        )
        detail.to_csv(args.details, index=False)
        print(f"\nwrote {len(detail)} detail rows to {args.details}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
