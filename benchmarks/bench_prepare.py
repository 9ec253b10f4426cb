"""Time and peak memory of ``prepare`` on a full-size extract.

Usage::

    python benchmarks/bench_prepare.py                      # synthesise 1.6M patients, then prepare
    python benchmarks/bench_prepare.py --patients 100000    # smaller run
    python benchmarks/bench_prepare.py --extract DIR        # an existing extract

The extract is written by ``bsol synth`` when that command is available, otherwise by the
test fixture generator (``tests/helpers/extracts.py``), in a child process so that its
memory does not count. ``prepare`` then runs in this process; the figures printed are wall
time, CPU time and peak resident memory of this process (``resource.getrusage``).
Target: the default full-size extract in under 2 minutes and under 8 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _synthesise(out: Path, patients: int, events_per_patient: int) -> str:
    if importlib.util.find_spec("bsol_analytics.synth") is not None:
        cmd = [sys.executable, "-m", "bsol_analytics", "-q", "synth", "--out", str(out)]
        cmd += ["--patients", str(patients)]
        subprocess.run(cmd, check=True)
        return "bsol synth"
    code = (
        "import sys; sys.path.insert(0, {tests!r});"
        "from helpers.extracts import extract_frames, write_extract;"
        "write_extract({out!r}, extract_frames({n}, {k}, seed=7))"
    ).format(tests=str(REPO / "tests"), out=str(out), n=patients, k=events_per_patient)
    subprocess.run([sys.executable, "-c", code], check=True)
    return "test fixture generator"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_600_000)
    parser.add_argument("--events-per-patient", type=int, default=18)
    parser.add_argument("--extract", type=Path, default=None, help="use this extract")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_prepare_"))
    try:
        if args.extract is None:
            extract = work / "extract"
            t0 = time.perf_counter()
            source = _synthesise(extract, args.patients, args.events_per_patient)
            print(f"extract: {source}, written in {time.perf_counter() - t0:.1f} s")
        else:
            extract = args.extract
            print(f"extract: {extract}")
        size = sum(p.stat().st_size for p in extract.rglob("*") if p.is_file())
        print(f"input size: {size / 2**20:,.0f} MiB")

        from bsol_analytics.cleaning import prepare

        cpu0 = time.process_time()
        t0 = time.perf_counter()
        summary = prepare(extract, work / "processed", progress=False)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

        manifest = json.loads((work / "processed" / "prepare_manifest.json").read_text())
        print(f"{'table':<18}{'rows read':>14}{'rows written':>14}")
        for table, n in summary["rows_read"].items():
            print(f"{table:<18}{n:>14,}{summary['rows_written'].get(table, 0):>14,}")
        print("step timings (s):")
        for step, seconds in manifest["timings_seconds"].items():
            print(f"  {step:<30}{seconds:>8.2f}")
        print(f"prepare wall time: {wall:.1f} s (target < 120 s)")
        print(f"prepare CPU time:  {cpu:.1f} s on {os.cpu_count()} cores")
        print(f"peak memory:       {peak:,.0f} MiB (target < 8192 MiB)")
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
