"""Time and peak memory of building the synthetic extract.

Default: the full BSOL build (every practice at its real list size, about 1.63 million
registered patients) as CSV. Examples::

    python benchmarks/bench_synth.py                          # full BSOL, CSV
    python benchmarks/bench_synth.py --format parquet         # full BSOL, Parquet
    python benchmarks/bench_synth.py --scale 10 --format parquet   # ten times BSOL, in parts

Prints patients, rows and bytes per table, wall time, CPU time and the peak resident memory
of the process (including its children: the worker processes that generate chunks). The
extract is written to a temporary folder that is removed afterwards unless ``--out`` is
given.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bsol_analytics import reference
from bsol_analytics.synth import CHUNK_SIZE, generate


def _peak_rss_mib() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return max(own, kids) * scale / 2**20


def _cpu_seconds() -> float:
    """User and system CPU time of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class _Sampler(threading.Thread):
    """Samples RSS every 0.2 s to show whether memory stays flat across chunks."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process()
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(self.proc.memory_info().rss / 2**20)
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=None, help="registered patients")
    parser.add_argument("--scale", type=float, default=None, help="multiple of the BSOL list")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
    parser.add_argument("--clean", action="store_true")
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: one per core)"
    )
    parser.add_argument("--out", default=None, help="keep the extract here")
    args = parser.parse_args()

    patients = args.patients
    if args.scale is not None:
        patients = round(args.scale * int(reference.practices()["list_size"].sum()))
    tmp = None
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench_synth_")) / "x"
    if args.out is None:
        tmp = out.parent
    sampler = _Sampler()
    sampler.start()
    t0 = time.perf_counter()
    cpu0 = _cpu_seconds()
    try:
        res = generate(
            out,
            patients=patients,
            seed=args.seed,
            fmt=args.format,
            clean=args.clean,
            chunk_size=args.chunk_size,
            workers=args.workers,
        )
        wall = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
    finally:
        sampler.stop.set()
        sampler.join()
    samples = sampler.samples
    print(f"format               {args.format}{' (clean)' if args.clean else ''}")
    print(f"registered patients  {res.registered:,}")
    print(f"patient rows         {res.patients:,} (incl. leavers and deaths)")
    for table, rows in res.rows.items():
        print(f"{table:<20} {rows:>12,} rows {res.bytes[table] / 2**20:>10,.1f} MiB")
    print(f"total bytes          {sum(res.bytes.values()) / 2**20:,.1f} MiB")
    print(f"wall time            {wall:,.1f} s")
    print(f"CPU time (user+sys)  {cpu:,.1f} s, worker processes included")
    print(f"peak RSS             {_peak_rss_mib():,.0f} MiB")
    if samples:
        half = samples[len(samples) // 2 :]
        print(
            f"RSS samples          median {sorted(samples)[len(samples) // 2]:,.0f} MiB, "
            f"max in second half {max(half):,.0f} MiB ({len(samples)} samples)"
        )
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
