"""Benchmark ``indicator_table``: all indicators by locality x (IMD quintile, ethnicity broad).

For 10%, 25%, 50% and 100% of the BSOL population (about 1.6 million patients) this prints
the wall time and peak memory of one reporting date and of 12 quarterly reporting dates
(the indicators with windows of 12 months or less: the extract cannot support longer ones
that far back),
each measured in a fresh process (cube, roll-ups, statistics, disclosure control and
comparators; reading the prepared Parquet tables included). Targets at 100%: < 20 s for one
date, < 90 s for 12 dates, < 8 GiB.

The synthetic extracts are made with ``bsol synth`` and prepared with ``bsol prepare`` into
``--work`` (default ``/tmp/bsol-bench``) and kept for the next run. Without ``bsol synth``
the benchmark says so and stops.

    python benchmarks/bench_indicators.py                 # all sizes
    python benchmarks/bench_indicators.py --fractions 0.1 --engine duckdb
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

BSOL_PATIENTS = 1_600_000
BY = "locality,imd_quintile,ethnicity_broad"
SERIES = ("2022-06-30", "2025-03-31")  # 12 quarter ends
TARGETS = {"1 date": 20.0, "12 dates": 90.0}
MEMORY_TARGET_GIB = 8.0


def child(data: str, mode: str, engine: str, by: str) -> None:
    """Measure one run in this process and print a JSON line."""
    from bsol_analytics.dates import quarter_ends
    from bsol_analytics.table import indicator_table

    dates = ["2025-03-31"] if mode == "1 date" else quarter_ends(*SERIES)
    indicators = None if mode == "1 date" else short_window_ids()
    start = time.perf_counter()
    table = indicator_table(data, dates, by=by, engine=engine, indicators=indicators)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_gib": peak_kib / 1024**2,
                "rows": len(table),
                "suppressed": int(table["suppressed"].sum()),
            }
        )
    )


def short_window_ids() -> list[str]:
    """Indicators (with their derived ids) that look back 12 months or less.

    The synthetic extract's measurements and screening start in 2019, so reporting dates
    from 2022 are refused for the 60- and 66-month windows (``bsol_analytics.dates``).
    """
    from bsol_analytics.indicators import lookback_windows
    from bsol_analytics.indicators.registry import list_indicators
    from bsol_analytics.table import derived_ids

    ids = [i.id for i in list_indicators()]
    longest = {i: max(w.months for w in ws) for i, ws in lookback_windows(ids).items()}
    base = [i for i in ids if longest.get(i, 0) <= 12]
    return base + sorted(d for d in derived_ids() if d.rsplit("_", 1)[0] in base)


def single_files(extract: Path) -> None:
    """Merge tables written as folders of Parquet parts into one file each."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    for folder in [p for p in extract.glob("*.parquet") if p.is_dir()]:
        tmp = folder.with_name(folder.name + ".tmp")
        pq.write_table(ds.dataset(folder, format="parquet").to_table(), tmp)
        for part in folder.iterdir():
            part.unlink()
        folder.rmdir()
        tmp.rename(folder)


def ensure_data(work: Path, patients: int) -> Path | None:
    """Synthesise and prepare an extract of ``patients`` patients (cached)."""
    prepared = work / f"prepared-{patients}"
    if (prepared / "prepare_manifest.json").is_file():
        return prepared
    if importlib.util.find_spec("bsol_analytics.synth") is None:
        return None
    extract = work / f"extract-{patients}"
    bsol = [sys.executable, "-m", "bsol_analytics", "-q"]
    t0 = time.perf_counter()
    if not (extract / "patients.parquet").is_file():
        subprocess.run(
            [
                *bsol,
                "synth",
                "--out",
                str(extract),
                "--patients",
                str(patients),
                "--format",
                "parquet",
            ],
            check=True,
        )
    single_files(extract)
    subprocess.run([*bsol, "prepare", str(extract), "--out", str(prepared)], check=True)
    print(
        f"  (synthesised and prepared {patients:,} patients in {time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    return prepared


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", default="0.1,0.25,0.5,1.0")
    parser.add_argument("--engine", default="pandas", choices=["pandas", "duckdb", "spark"])
    parser.add_argument("--work", default="/tmp/bsol-bench")
    parser.add_argument("--modes", default="1 date,12 dates")
    parser.add_argument("--by", default=BY, help=f"breakdowns (default {BY})")
    parser.add_argument("--child", nargs=2, metavar=("DATA", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.engine, args.by)
        return 0
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"indicator_table(by={args.by!r}, engine={args.engine!r}): all indicators, SDC on")
    print(f"{'patients':>10} {'dates':>9} {'seconds':>9} {'peak GiB':>9} {'rows':>9} {'target':>8}")
    for fraction in (float(f) for f in args.fractions.split(",")):
        patients = round(BSOL_PATIENTS * fraction)
        data = ensure_data(work, patients)
        if data is None:
            print("bsol synth is not available: nothing to measure.")
            return 0
        for mode in args.modes.split(","):
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--engine",
                    args.engine,
                    "--by",
                    args.by,
                    "--child",
                    str(data),
                    mode,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                print(f"{patients:>10,} {mode:>9} failed: {proc.stderr.strip()[-300:]}")
                continue
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            target = f"< {TARGETS[mode]:.0f} s" if fraction == 1.0 else ""
            print(
                f"{patients:>10,} {mode:>9} {res['seconds']:>9.1f} {res['peak_gib']:>9.2f} "
                f"{res['rows']:>9,} {target:>8}",
                flush=True,
            )
    print(f"Memory target: < {MEMORY_TARGET_GIB:.0f} GiB peak at 100%.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
