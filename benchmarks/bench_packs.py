"""Time a full ``bsol packs`` run and print where the time goes.

Writes a synthetic extract (not timed), then runs the packs from the extract and prints the
split between data preparation, the pack tables (with each of their steps), notebook
execution and HTML conversion (in total and per pack), the wall time, the peak memory and
the size of each pack. A temporary working folder is removed at the end.

    python benchmarks/bench_packs.py                   # full default extract (~1.6M patients)
    python benchmarks/bench_packs.py --patients 50000  # a quick run
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bsol_analytics.cli import main as bsol
from bsol_analytics.packs import run_packs
from bsol_analytics.packs.tables import TABLE_STEPS


class PeakMemory:
    """Sample the resident memory of this process and its children (kernels, workers)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_info().rss
                except psutil.Error:
                    continue
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _cpu_seconds() -> float:
    """CPU seconds of this process and of every child it has waited for (workers, kernels)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=None, help="default: the full list")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--engine", default="pandas")
    parser.add_argument("--date", default="2025-03-31")
    parser.add_argument("--work", default=None, help="working folder (default a temp folder)")
    args = parser.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="bench-packs-"))
    if not args.work:  # a temporary folder of this run only
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    extract = work / "extract"
    if not (extract / "patients.csv").exists() and not (extract / "patients.parquet").exists():
        synth = ["synth", "--out", str(extract), "--format", "parquet"]
        if args.patients:
            synth += ["--patients", str(args.patients)]
        t0 = time.perf_counter()
        bsol(["-q", *synth])
        print(f"synthetic extract written in {time.perf_counter() - t0:.1f}s (not timed below)")

    t0, cpu0, load0 = time.perf_counter(), _cpu_seconds(), os.getloadavg()[0]
    with PeakMemory() as mem:
        result = run_packs(
            extract,
            work / "reports",
            args.date,
            jobs=args.jobs,
            engine=args.engine,
            progress=False,
        )
    wall, cpu = time.perf_counter() - t0, _cpu_seconds() - cpu0
    t = result.timings
    manifest = json.loads((result.folder / "manifest.json").read_text())
    print(f"patients: {args.patients or 'full default extract'}; jobs: {args.jobs}")
    print(f"{'step':<34}{'seconds':>10}")
    print(f"{'data preparation':<34}{t['prepare']:>10.1f}")
    print(f"{'pack tables (compute_tables)':<34}{t['compute']:>10.1f}")
    for step in TABLE_STEPS:  # the tables step, step by step
        print(f"{'  ' + step:<34}{t.get(f'compute_{step}', 0.0):>10.1f}")
    print(f"{'notebook execution (sum of packs)':<34}{t['execute']:>10.1f}")
    print(f"{'HTML conversion (sum of packs)':<34}{t['convert']:>10.1f}")
    print(f"{'notebooks + HTML (wall, parallel)':<34}{t['notebooks_wall']:>10.1f}")
    print(f"{'total wall time':<34}{wall:>10.1f}")
    # CPU seconds do not grow when other work shares the machine; wall seconds do
    print(f"{'total CPU (run, workers, kernels)':<34}{cpu:>10.1f}")
    print(f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end "
          f"({os.cpu_count()} cores)")  # fmt: skip
    pack_time = t["prepare"] + t["compute"] + t["notebooks_wall"]
    print(
        f"pack time (tables + {len(manifest['packs'])} packs, wall): {pack_time:.1f}s "
        f"(target for the full default extract: under 90 s)"
    )
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak memory: {mem.peak / 2**20:.0f} MiB (this process and children, sampled); "
        f"max RSS runner {own:.0f} MiB, largest child {kids:.0f} MiB"
    )
    print(f"{'pack':<12}{'status':<8}{'MB':>7}{'execute s':>11}{'convert s':>11}")
    for pack in manifest["packs"]:
        size = (pack.get("bytes") or 0) / 2**20
        secs = pack.get("timings_seconds") or {}
        print(
            f"{pack['pack']:<12}{pack['status']:<8}{size:>7.2f}"
            f"{secs.get('execute', 0.0):>11.1f}{secs.get('convert', 0.0):>11.1f}"
        )
    print(f"exit code {result.exit_code}; packs in {result.folder}")


if __name__ == "__main__":
    main()
