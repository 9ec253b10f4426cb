"""How far ``bsol indicators`` is from plain SQL: a hand-written one-pass DuckDB baseline.

The baseline is one DuckDB query over the prepared Parquet tables that computes, by
practice locality at one reporting date, the numerators and denominators of the indicators
below (the registers, the 12- and 60-month windows, screening). ``bsol indicators`` computes
the same indicators by locality on the same prepared tables; the benchmark checks that the
counts agree and prints the ratio of the two times (target: 1.5 or less at 400,000
patients on the default engine).

The query runs twice: joined on ``patient_id``, the key of docs/processed-tables.md that an
analyst's SQL joins on (the target's baseline), and joined on ``patient_row``, the integer
row number of the patient that ``bsol prepare`` also writes and the pandas engine links by.
The second shows how far the command is from the fastest plain SQL over the same files.

How the two are timed, so that the ratio is fair:

* **In-process (the headline ratio).** Both run in this process after one warm-up run each
  (imports done, Parquet files in the page cache): the baseline is ``sql_baseline``, the
  command is ``bsol_analytics.cli.main`` with the same arguments as on the command line
  (reading the tables, the cube, statistics, writing the output). This compares the work
  that grows with the data; Python's start-up and the package imports are a fixed cost
  that a single SQL query does not pay.
* **Whole commands from a cold process.** Each in a new Python process: ``bsol
  indicators`` as typed, and a process that imports DuckDB and runs the query. Start-up
  and imports included on both sides.

The three run in turns (baselines, command, baselines, ...; who goes first rotates),
``--repeat`` times each, so that a slow spell of the machine falls on all of them. Each
figure is the best of its runs (the least disturbed by other work on the machine), and each
ratio is printed twice: of the best runs, and the median of the ratios of the runs made one
after the other. Wall and CPU
seconds are both printed (CPU time counts every thread and is less sensitive to a busy
machine).

    python benchmarks/bench_sql_baseline.py                    # 400,000 patients
    python benchmarks/bench_sql_baseline.py --patients 50000   # a quick run
    python benchmarks/bench_sql_baseline.py --work /tmp/b400   # keep and reuse the data
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import functools
import io
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd

#: The indicators of the baseline query (its SQL below computes exactly these).
INDICATORS = (
    "HYP_PREV",
    "HYP_BP_CHECK_45",
    "DM_PREV",
    "DM_HBA1C_58",
    "COPD_PREV",
    "COPD_REVIEW",
    "SCR_BREAST",
    "SCR_CERVICAL_25_49",
    "SCR_CERVICAL_50_64",
    "SCR_BOWEL",
)

_SQL = """
WITH pat AS (
    SELECT {patient} AS patient_id, practice_locality AS locality, sex,
           date_diff('year', date_of_birth, $rd)
             - CASE WHEN strftime(date_of_birth, '%m%d') > strftime($rd, '%m%d')
                    THEN 1 ELSE 0 END AS age
    FROM read_parquet($patients{numbered})
    WHERE registration_start <= $rd
      AND (registration_end IS NULL OR registration_end > $rd)
      AND (date_of_death IS NULL OR date_of_death > $rd)
),
ev AS (
    SELECT {link} AS patient_id,
        max(event_date) FILTER (WHERE cluster = 'HYP_COD') AS hyp,
        max(event_date) FILTER (WHERE cluster = 'HYPRES_COD') AS hyp_res,
        max(event_date) FILTER (WHERE cluster = 'DM_COD') AS dm,
        max(event_date) FILTER (WHERE cluster = 'DMRES_COD') AS dm_res,
        max(event_date) FILTER (WHERE cluster = 'COPD_COD') AS copd,
        max(event_date) FILTER (WHERE cluster = 'COPDRES_COD') AS copd_res,
        bool_or(cluster = 'SBP' AND event_date > $rd - INTERVAL 60 MONTH) AS sbp_60m,
        bool_or(cluster = 'COPD_REVIEW' AND event_date > $rd - INTERVAL 12 MONTH) AS review,
        max(event_date) FILTER (
            WHERE cluster = 'HBA1C' AND event_date > $rd - INTERVAL 12 MONTH) AS hba1c_date,
        arg_max(numeric_value, event_date) FILTER (
            WHERE cluster = 'HBA1C' AND event_date > $rd - INTERVAL 12 MONTH) AS hba1c_any
    FROM read_parquet($events)
    WHERE event_date <= $rd
    GROUP BY {link}
),
hba1c AS (  -- the lowest value on the latest date within 12 months
    SELECT e.{link} AS patient_id, min(e.numeric_value) AS hba1c
    FROM read_parquet($events) e JOIN ev ON e.{link} = ev.patient_id
    WHERE e.cluster = 'HBA1C' AND e.event_date = ev.hba1c_date
    GROUP BY e.{link}
),
scr AS (
    SELECT {link} AS patient_id,
        bool_or(programme = 'breast' AND test_date > $rd - INTERVAL 36 MONTH) AS breast,
        bool_or(programme = 'cervical' AND test_date > $rd - INTERVAL 42 MONTH) AS cerv42,
        bool_or(programme = 'cervical' AND test_date > $rd - INTERVAL 66 MONTH) AS cerv66,
        bool_or(programme = 'bowel' AND test_date > $rd - INTERVAL 30 MONTH) AS bowel
    FROM read_parquet($screening)
    WHERE outcome = 'adequate' AND test_date <= $rd
    GROUP BY {link}
),
flags AS (
    SELECT p.locality, p.sex, p.age,
        coalesce(ev.hyp > coalesce(ev.hyp_res, DATE '0001-01-01'), false) AS on_hyp,
        coalesce(ev.dm > coalesce(ev.dm_res, DATE '0001-01-01'), false) AS on_dm,
        coalesce(ev.copd > coalesce(ev.copd_res, DATE '0001-01-01'), false) AS on_copd,
        coalesce(ev.sbp_60m, false) AS sbp_60m,
        coalesce(ev.review, false) AS review,
        coalesce(hba1c.hba1c <= 58, false) AS hba1c_58,
        coalesce(scr.breast, false) AS breast, coalesce(scr.cerv42, false) AS cerv42,
        coalesce(scr.cerv66, false) AS cerv66, coalesce(scr.bowel, false) AS bowel
    FROM pat p
    LEFT JOIN ev USING (patient_id)
    LEFT JOIN hba1c USING (patient_id)
    LEFT JOIN scr USING (patient_id)
)
SELECT locality,
    count_if(on_hyp) AS HYP_PREV_n, count(*) AS HYP_PREV_d,
    count_if(sbp_60m AND age >= 45) AS HYP_BP_CHECK_45_n, count_if(age >= 45) AS HYP_BP_CHECK_45_d,
    count_if(on_dm AND age >= 17) AS DM_PREV_n, count_if(age >= 17) AS DM_PREV_d,
    count_if(on_dm AND age >= 17 AND hba1c_58) AS DM_HBA1C_58_n,
    count_if(on_dm AND age >= 17) AS DM_HBA1C_58_d,
    count_if(on_copd) AS COPD_PREV_n, count(*) AS COPD_PREV_d,
    count_if(on_copd AND review) AS COPD_REVIEW_n, count_if(on_copd) AS COPD_REVIEW_d,
    count_if(sex = 'F' AND age BETWEEN 53 AND 70 AND breast) AS SCR_BREAST_n,
    count_if(sex = 'F' AND age BETWEEN 53 AND 70) AS SCR_BREAST_d,
    count_if(sex = 'F' AND age BETWEEN 25 AND 49 AND cerv42) AS SCR_CERVICAL_25_49_n,
    count_if(sex = 'F' AND age BETWEEN 25 AND 49) AS SCR_CERVICAL_25_49_d,
    count_if(sex = 'F' AND age BETWEEN 50 AND 64 AND cerv66) AS SCR_CERVICAL_50_64_n,
    count_if(sex = 'F' AND age BETWEEN 50 AND 64) AS SCR_CERVICAL_50_64_d,
    count_if(age BETWEEN 60 AND 74 AND bowel) AS SCR_BOWEL_n,
    count_if(age BETWEEN 60 AND 74) AS SCR_BOWEL_d
FROM flags
GROUP BY ALL
ORDER BY locality
"""

#: The baseline query joined on the contract's key, ``patient_id`` text (as an analyst
#: writes it from docs/processed-tables.md), and on the integer ``patient_row`` that
#: ``bsol prepare`` also writes (a patient's row number in patients.parquet).
SQL: dict[str, str] = {
    "patient_id": _SQL.format(patient="patient_id", numbered="", link="patient_id"),
    "patient_row": _SQL.format(
        patient="file_row_number", numbered=", file_row_number = true", link="patient_row"
    ),
}


def sql_baseline(prepared: Path, reporting_date: str, key: str = "patient_id") -> pd.DataFrame:
    """The baseline counts: ``locality, indicator_id, numerator, denominator``.

    ``key``: the tables are joined on ``patient_id`` or on ``patient_row`` (:data:`SQL`).
    """
    con = duckdb.connect()
    try:

        def table(name: str) -> str:
            single = prepared / f"{name}.parquet"
            return str(single / "*.parquet") if single.is_dir() else str(single)

        params = {
            "rd": pd.Timestamp(reporting_date).date(),
            "patients": table("patients"),
            "events": table("clinical_events"),
            "screening": table("screening"),
        }
        wide = con.execute(SQL[key], params).df()
    finally:
        con.close()
    long = wide.melt(id_vars="locality", var_name="key", value_name="count")
    long[["indicator_id", "part"]] = long["key"].str.rsplit("_", n=1, expand=True)
    out = long.pivot_table(
        index=["locality", "indicator_id"], columns="part", values="count", aggfunc="sum"
    ).reset_index()
    return out.rename(columns={"n": "numerator", "d": "denominator"})[
        ["locality", "indicator_id", "numerator", "denominator"]
    ]


def _bsol(*argv: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bsol_analytics", "-q", *argv], check=True)
    return time.perf_counter() - t0


def _in_process(run: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call of ``run`` in this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def _cold(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU of the child) seconds of one run of ``argv`` in a new process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - wall, cpu


Times = list[tuple[float, float]]


def _in_turns(runs: list[Callable[[], tuple[float, float]]], repeat: int) -> list[Times]:
    """``repeat`` (wall, CPU) timings of each of ``runs``, run in turns; who goes first
    rotates."""
    times: list[Times] = [[] for _ in runs]
    for turn in range(repeat):
        for k in range(len(runs)):
            which = (turn + k) % len(runs)
            times[which].append(runs[which]())
    return times


def _best(times: Times) -> tuple[float, float]:
    """The least wall and the least CPU seconds."""
    return min(t[0] for t in times), min(t[1] for t in times)


def _ratios(base_times: Times, our_times: Times) -> str:
    """The ratios of the best runs, and the medians of the ratios of paired runs."""
    best_base, best_ours = _best(base_times), _best(our_times)
    pairs = list(zip(base_times, our_times, strict=True))
    wall = statistics.median(o[0] / b[0] for b, o in pairs)
    cpu = statistics.median(o[1] / b[1] for b, o in pairs)
    return (
        f"best {best_ours[0] / best_base[0]:.2f} wall, {best_ours[1] / best_base[1]:.2f} CPU; "
        f"median of pairs {wall:.2f} wall, {cpu:.2f} CPU"
    )


def _row(label: str, wall: float, cpu: float) -> str:
    return f"{label:<48} {wall:7.2f} s wall {cpu:7.2f} s CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=400_000)
    parser.add_argument("--date", default="2025-03-31")
    parser.add_argument("--engine", default="pandas")
    parser.add_argument("--repeat", type=int, default=7, help="runs of each, in turns")
    parser.add_argument("--work", default=None, help="working folder (kept; default temp)")
    parser.add_argument("--sql-only", choices=sorted(SQL), help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-sql-"))
    if not args.work:  # a temporary folder of this run only
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    extract, prepared = work / "extract", work / "prepared"
    if args.sql_only:  # the cold-process baseline: one query in a new process
        sql_baseline(prepared, args.date, args.sql_only)
        return
    if not (prepared / "prepare_manifest.json").exists():
        _bsol("synth", "--out", str(extract), "--patients", str(args.patients), "--format",
              "parquet")  # fmt: skip
        _bsol("prepare", str(extract), "--out", str(prepared))
    from bsol_analytics.cli import main as bsol_main

    out = work / "indicators.parquet"
    argv = ["-q", "indicators", str(prepared), "--by", "locality", "--date", args.date,
            "--indicators", ",".join(INDICATORS), "--engine", args.engine, "--no-sdc",
            "--out", str(out)]  # fmt: skip

    def ours() -> None:
        if bsol_main(argv):
            raise SystemExit("bsol indicators failed")

    with contextlib.redirect_stdout(io.StringIO()):
        base = {key: sql_baseline(prepared, args.date, key) for key in SQL}  # warm-ups
        ours()
        in_process = _in_turns(
            [
                *(
                    functools.partial(
                        _in_process, functools.partial(sql_baseline, prepared, args.date, key)
                    )
                    for key in SQL
                ),
                functools.partial(_in_process, ours),
            ],
            args.repeat,
        )
    me = [sys.executable, str(Path(__file__).resolve()), "--work", str(work), "--date", args.date]
    cold = _in_turns(
        [
            *(functools.partial(_cold, [*me, "--sql-only", key]) for key in SQL),
            functools.partial(_cold, [sys.executable, "-m", "bsol_analytics", *argv]),
        ],
        args.repeat,
    )

    table = pd.read_parquet(out)
    mine = table[(table["area_type"] == "locality") & (table["breakdown"] == "overall")]
    mine = mine.rename(columns={"area": "locality"})[
        ["locality", "indicator_id", "numerator", "denominator"]
    ]
    print(f"patients: {args.patients:,}; reporting date {args.date}; engine {args.engine}; "
          f"{args.repeat} runs of each, in turns")  # fmt: skip
    for title, times in (
        ("In-process (after a warm-up run; start-up and imports excluded):", in_process),
        ("Whole commands, each a new process (start-up and imports included):", cold),
    ):
        *sql_times, our_times = times
        print(title)
        print(_row("  bsol indicators --by locality", *_best(our_times)))
        for key, base_times in zip(SQL, sql_times, strict=True):
            print(_row(f"  SQL baseline joined on {key}", *_best(base_times)))
            print(f"    ratio (target 1.5): {_ratios(base_times, our_times)}")
    for key, counts in base.items():
        merged = counts.merge(mine, on=["locality", "indicator_id"], suffixes=("_sql", ""))
        agree = (merged["numerator_sql"] == merged["numerator"]) & (
            merged["denominator_sql"] == merged["denominator"]
        )
        print(f"counts agree in {int(agree.sum())} of {len(merged)} locality x indicator "
              f"cells (SQL joined on {key})")  # fmt: skip
        if not agree.all():
            print(merged[~agree].to_string(index=False))


if __name__ == "__main__":
    main()
