"""Time and peak memory of ``compute_cube`` on each engine.

Prints, for every engine and size: wall time, peak resident memory (each measurement runs
in a fresh process, so the peak is that run's own), rows in the cube and seconds per
million patients. Nothing is asserted: compare the figures with the targets in
docs/engines.md.

Data: ``--data DIR`` uses a prepared folder (``bsol prepare`` output, one file or a folder
of parts per table). Otherwise a crude extract in the processed-table shape is written
with numpy into ``--workdir`` (default: the system temp folder), in parts of one million
patients, so that sizes up to 16 million fit in memory while being written. ``--synth``
uses the suite's synthetic extract plus ``bsol prepare`` instead (slower; up to a few
million patients). ``--synth-parts`` uses ``bsol synth --format parquet --clean`` (Parquet
parts of 500,000 patients, flat memory) and a DuckDB preparation step written here
(:func:`duckdb_prepare`) in place of ``bsol prepare``, whose pandas pipeline holds a whole
table in memory and would exceed 8 GiB at 16 million patients.

Examples::

    python benchmarks/bench_engines.py --patients 100000
    python benchmarks/bench_engines.py --patients 1600000 --engines pandas,duckdb
    python benchmarks/bench_engines.py --patients 1600000 --dates 12 --engines pandas
    python benchmarks/bench_engines.py --patients 1600000,16000000 --engines duckdb
    python benchmarks/bench_engines.py --patients 16000000 --engines duckdb --synth-parts
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

RD = dt.date(2025, 3, 31)
EPOCH = dt.date(1970, 1, 1)
LOCALITIES = ["Central", "East", "North", "South", "West", "Solihull"]
ETHNICITY = ["Asian", "Black", "Mixed", "White", "Other", "Unknown"]
ETHNICITY_P = [0.27, 0.09, 0.05, 0.53, 0.03, 0.03]
PLACES = ["home", "care home", "hospital", "hospice", "other"]
PLACES_P = [0.28, 0.2, 0.43, 0.05, 0.04]
PART = 1_000_000


def quarter_ends(n: int, last: dt.date = RD) -> list[str]:
    out = []
    year, month = last.year, last.month
    for _ in range(n):
        end = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
        out.append(end.isoformat())
        month -= 3
        if month <= 0:
            month += 12
            year -= 1
    return sorted(out)


def _days(d: dt.date) -> int:
    return (d - EPOCH).days


def _date(days: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(days.astype("int32"), mask=null, type=pa.int32()).cast(pa.date32())


def _ids(prefix: str, start: int, n: int) -> pa.Array:
    return pa.array([f"{prefix}{i:09d}" for i in range(start, start + n)])


def _patients(rng: np.random.Generator, start: int, n: int) -> tuple[pa.Table, dict]:
    rd = _days(RD)
    age_days = rng.gamma(2.2, 17.0, n).clip(0, 104) * 365.25
    dob = (rd - age_days).astype("int64")
    practice = rng.integers(0, 180, n)
    reg_start = np.maximum(dob, rd - (rng.exponential(12, n) * 365.25).astype("int64"))
    left = rng.random(n) < 0.08
    reg_end_days = rd - rng.integers(1, 6 * 365, n)
    reg_end_days = np.maximum(reg_end_days, reg_start + 1)
    died = rng.random(n) < np.clip((age_days / 365.25 - 40) / 3000, 0.001, 0.06)
    dod = rd - rng.integers(-60, 6 * 365, n)
    dod = np.maximum(dod, reg_start + 1)
    reg_end = np.where(died, dod, reg_end_days)
    has_end = left | died
    imd = rng.choice(5, n, p=[0.42, 0.2, 0.14, 0.13, 0.11]).astype("int8") + 1
    imd_null = rng.random(n) < 0.01
    table = pa.table(
        {
            "patient_id": _ids("P", start, n),
            "sex": pa.array(rng.choice(["F", "M", "U"], n, p=[0.502, 0.497, 0.001])),
            "date_of_birth": _date(dob),
            "ethnicity_broad": pa.array(rng.choice(ETHNICITY, n, p=ETHNICITY_P)),
            "resident_locality": pa.array(np.array(LOCALITIES)[rng.integers(0, 6, n)]),
            "imd2025_quintile": pa.array(imd, mask=imd_null),
            "practice_code": pa.array([f"M{p:05d}" for p in practice]),
            "pcn_code": pa.array([f"U{p // 5:05d}" for p in practice]),
            "practice_locality": pa.array(np.array(LOCALITIES)[practice % 6]),
            "registration_start": _date(reg_start),
            "registration_end": _date(reg_end, ~has_end),
            "date_of_death": _date(dod, ~died),
            "place_of_death": pa.array(
                rng.choice(PLACES, n, p=PLACES_P).astype(object), mask=~died
            ),
        }
    )
    info = {"age": age_days / 365.25, "reg_start": reg_start, "reg_end": reg_end, "n": n}
    return table, info


def _events(rng: np.random.Generator, ids: pa.Array, info: dict) -> tuple[pa.Table, pa.Table]:
    n, age = info["n"], info["age"]
    lo, hi = info["reg_start"], np.minimum(info["reg_end"], _days(RD) + 90)
    idx, day, cluster, value = [], [], [], []

    def add(who: np.ndarray, clusters: str, values: np.ndarray | None = None) -> None:
        span = np.maximum(hi[who] - lo[who], 1)
        idx.append(who)
        day.append(lo[who] + (rng.random(len(who)) * span).astype("int64"))
        cluster.append(np.full(len(who), clusters))
        value.append(values if values is not None else np.full(len(who), np.nan))

    risk = np.clip(age / 80, 0, 1.2)
    hyp = np.flatnonzero(rng.random(n) < 0.3 * risk**2)
    dm = np.flatnonzero(rng.random(n) < 0.12 * risk * (age >= 17))
    copd = np.flatnonzero(rng.random(n) < 0.04 * risk**2)
    add(hyp, "HYP_COD")
    add(hyp[rng.random(len(hyp)) < 0.05], "HYPRES_COD")
    add(dm, "DM_COD")
    add(dm[rng.random(len(dm)) < 0.03], "DMRES_COD")
    add(copd, "COPD_COD")
    add(copd[rng.random(len(copd)) < 0.02], "COPDRES_COD")
    add(np.flatnonzero(rng.random(n) < 0.006 * risk**3), "PALCARE_COD")
    for _ in range(2):
        bp = np.flatnonzero(rng.random(n) < 0.6 * np.clip(age / 50, 0.05, 1))
        span = np.maximum(hi[bp] - lo[bp], 1)
        d = lo[bp] + (rng.random(len(bp)) * span).astype("int64")
        sys_bp = rng.normal(132, 17, len(bp)).round()
        dia_bp = rng.normal(80, 10, len(bp)).round()
        for name, vals in (("SBP", sys_bp), ("DBP", dia_bp)):
            idx.append(bp)
            day.append(d)
            cluster.append(np.full(len(bp), name))
            value.append(vals)
    for _ in range(2):
        add(dm, "HBA1C", rng.normal(55, 14, len(dm)).round())
    add(copd[rng.random(len(copd)) < 0.8], "COPD_REVIEW")
    who = np.concatenate(idx)
    events = pa.table(
        {
            "patient_id": ids.take(pa.array(who)),
            "event_date": _date(np.concatenate(day)),
            "snomed_code": pa.array(np.full(len(who), "0")),
            "numeric_value": pa.array(np.concatenate(value), from_pandas=True),
            "cluster": pa.array(np.concatenate(cluster)),
        }
    )
    tests, progs = [], []
    for prog, a, b, p in (
        ("breast", 50, 71, 0.7),
        ("cervical", 25, 65, 0.7),
        ("bowel", 58, 75, 0.65),
    ):
        eligible = np.flatnonzero((age >= a) & (age < b) & (rng.random(n) < p))
        tests.append(eligible)
        progs.append(np.full(len(eligible), prog))
    who_s = np.concatenate(tests)
    s_day = _days(RD) - rng.integers(-30, 6 * 365, len(who_s))
    screening = pa.table(
        {
            "patient_id": ids.take(pa.array(who_s)),
            "programme": pa.array(np.concatenate(progs)),
            "test_date": _date(s_day),
            "outcome": pa.array(rng.choice(["adequate", "inadequate"], len(who_s), p=[0.97, 0.03])),
        }
    )
    return events, screening


def _admissions(rng: np.random.Generator, ids: pa.Array, info: dict) -> pa.Table:
    n = info["n"]
    count = rng.poisson(np.clip(info["age"] / 150, 0.02, 0.8))
    who = np.repeat(np.arange(n), count)
    day = info["reg_end"][who] - rng.integers(0, 3 * 365, len(who))
    return pa.table(
        {
            "patient_id": ids.take(pa.array(who)),
            "admission_date": _date(day),
            "admission_method": pa.array(
                rng.choice(["emergency", "elective"], len(who), p=[0.6, 0.4])
            ),
        }
    )


def crude_extract(folder: Path, patients: int, seed: int = 1) -> Path:
    """Write a crude processed extract of ``patients`` rows in parts; reuse if present."""
    done = folder / "prepare_manifest.json"
    if done.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for t in ("patients", "clinical_events", "screening", "admissions"):
        (folder / t).mkdir(exist_ok=True)
    for part, start in enumerate(range(0, patients, PART)):
        n = min(PART, patients - start)
        table, info = _patients(rng, start, n)
        events, screening = _events(rng, table["patient_id"], info)
        pq.write_table(table, folder / "patients" / f"part-{part:05d}.parquet")
        pq.write_table(events, folder / "clinical_events" / f"part-{part:05d}.parquet")
        pq.write_table(screening, folder / "screening" / f"part-{part:05d}.parquet")
        adm = _admissions(rng, table["patient_id"], info)
        pq.write_table(adm, folder / "admissions" / f"part-{part:05d}.parquet")
    done.write_text(json.dumps({"admissions_supplied": True, "crude_benchmark_extract": True}))
    return folder


def synth_extract(folder: Path, patients: int) -> Path:
    """The suite's synthetic extract, prepared (needs ``bsol_analytics.synth``)."""
    prepared = folder / "prepared"
    if (prepared / "prepare_manifest.json").is_file():
        return prepared
    from bsol_analytics import cleaning
    from bsol_analytics.synth import generate

    generate(folder / "extract", patients=patients, fmt="parquet", clean=True)
    cleaning.prepare(folder / "extract", prepared, progress=False)
    return prepared


def _parquet_glob(folder: Path, table: str) -> str:
    single = folder / f"{table}.parquet"
    return str(single / "*.parquet") if single.is_dir() else str(single)


def duckdb_prepare(extract: Path, prepared: Path) -> Path:
    """Processed tables from a clean synthetic Parquet extract, with DuckDB (streaming).

    Covers what the benchmark's keys and the indicator definitions read: the reference
    joins (practice -> PCN and locality, LSOA -> resident locality and IMD 2025, ethnicity
    code -> broad group, SNOMED code -> cluster) and typed dates. It skips the checks of
    ``bsol prepare`` (normalising variants, plausibility rules), which a ``--clean``
    synthetic extract does not need; exact duplicate rows and unmapped codes are dropped as
    there (a clean extract still has a few chance duplicate admissions).
    """
    import duckdb

    from bsol_analytics import reference

    prepared.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={
            "memory_limit": os.environ.get("BSOL_DUCKDB_MEMORY_LIMIT", "4GB"),
            "preserve_insertion_order": False,
            "temp_directory": str(prepared / "spill"),
        }
    )
    con.register("practices", reference.practices())
    con.register("lsoa", reference.lsoa21_lookup())
    con.register("imd", reference.imd2025())
    con.register("eth", reference.ethnicity_codes())
    con.register("clusters", reference.clusters())
    src = {
        t: _parquet_glob(extract, t)
        for t in ("patients", "clinical_events", "screening", "admissions")
    }
    queries = {
        "patients": f"""
            SELECT p.patient_id, p.sex, p.date_of_birth,
                   coalesce(e.ethnicity_broad, 'Unknown') AS ethnicity_broad,
                   l.lsoa21_code, l.locality AS resident_locality,
                   i.imd_quintile::TINYINT AS imd2025_quintile,
                   p.practice_code, pr.pcn_code, pr.locality AS practice_locality,
                   p.registration_start, p.registration_end, p.date_of_death,
                   p.place_of_death
            FROM read_parquet('{src["patients"]}') p
            JOIN practices pr USING (practice_code)
            LEFT JOIN eth e ON e.code = p.ethnicity_code
            LEFT JOIN lsoa l ON l.lsoa21_code = p.lsoa_code
            LEFT JOIN imd i ON i.lsoa21_code = p.lsoa_code""",
        "clinical_events": f"""
            SELECT DISTINCT ev.patient_id, ev.event_date, ev.snomed_code, ev.numeric_value,
                   c.cluster
            FROM read_parquet('{src["clinical_events"]}') ev
            JOIN clusters c ON c.code = ev.snomed_code""",
        "screening": f"SELECT DISTINCT * FROM read_parquet('{src['screening']}')",
        "admissions": f"SELECT DISTINCT * FROM read_parquet('{src['admissions']}')",
    }
    for table, query in queries.items():
        con.sql(f"COPY ({query}) TO '{prepared / table}.parquet' (FORMAT parquet)")
    con.close()
    (prepared / "prepare_manifest.json").write_text(
        json.dumps({"admissions_supplied": True, "duckdb_benchmark_preparation": True})
    )
    return prepared


def synth_parts_extract(folder: Path, patients: int) -> Path:
    """``bsol synth --format parquet --clean`` then :func:`duckdb_prepare`; reuse if present."""
    prepared = folder / "prepared"
    if (prepared / "prepare_manifest.json").is_file():
        return prepared
    extract = folder / "extract"
    if not (extract / "synth_manifest.json").is_file():
        cmd = [sys.executable, "-m", "bsol_analytics", "-q", "synth", "--out", str(extract)]
        cmd += ["--patients", str(patients), "--format", "parquet", "--clean"]
        subprocess.run(cmd, check=True)
    return duckdb_prepare(extract, prepared)


def worker(args: argparse.Namespace) -> None:
    from bsol_analytics.indicators import compute_cube

    dates = quarter_ends(args.dates)
    keys = args.keys.split(",")
    start = time.perf_counter()
    cube = compute_cube(args.data, dates, keys, engine=args.engine)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {"seconds": seconds, "peak_mib": peak_kib / 1024, "rows": len(cube)}
    if args.engine == "spark":
        import psutil

        # The JVM is a child process: its resident memory at the end of the run (not a peak).
        kids = psutil.Process().children(recursive=True)
        result["jvm_mib"] = sum(k.memory_info().rss for k in kids) / 2**20
    print(json.dumps(result))


def measure(engine: str, data: Path, dates: int, keys: str) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--engine",
        engine,
        "--data",
        str(data),
        "--dates",
        str(dates),
        "--keys",
        keys,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", default="100000", help="comma-separated sizes")
    parser.add_argument("--engines", default="pandas,duckdb")
    parser.add_argument("--dates", type=int, default=1, help="quarterly reporting dates")
    parser.add_argument("--keys", default="practice_locality,imd2025_quintile,ethnicity_broad")
    parser.add_argument("--data", default=None, help="use this prepared folder")
    parser.add_argument("--synth", action="store_true", help="use bsol synth + prepare")
    parser.add_argument(
        "--synth-parts",
        action="store_true",
        help="use bsol synth --format parquet --clean + a DuckDB preparation (any size)",
    )
    parser.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "bsol_bench"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="pandas", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    sizes = [int(s) for s in args.patients.split(",")]
    print(f"compute_cube: all indicators by {args.keys}, {args.dates} reporting date(s)")
    print(f"{'engine':8} {'patients':>11} {'seconds':>8} {'peak MiB':>9} {'rows':>7} {'s/M':>6}")
    for size in sizes:
        if args.data:
            data = Path(args.data)
        elif args.synth:
            data = synth_extract(Path(args.workdir) / f"synth_{size}", size)
        elif args.synth_parts:
            t = time.perf_counter()
            data = synth_parts_extract(Path(args.workdir) / f"synth_parts_{size}", size)
            print(
                f"(synthetic extract and DuckDB preparation ready in "
                f"{time.perf_counter() - t:.1f} s: {data})"
            )
        else:
            t = time.perf_counter()
            data = crude_extract(Path(args.workdir) / f"crude_{size}", size)
            print(f"(extract ready in {time.perf_counter() - t:.1f} s: {data})")
        for engine in args.engines.split(","):
            r = measure(engine, data, args.dates, args.keys)
            if "error" in r:
                print(f"{engine:8} {size:>11,} failed: {r['error']}")
                continue
            print(
                f"{engine:8} {size:>11,} {r['seconds']:>8.1f} {r['peak_mib']:>9.0f} "
                f"{r['rows']:>7,} {r['seconds'] / size * 1e6:>6.2f}"
                + (f"  (+ JVM {r['jvm_mib']:.0f} MiB at the end)" if "jvm_mib" in r else "")
            )


if __name__ == "__main__":
    main()
