"""Time and memory of the statistics functions on cube-sized inputs.

Run: ``python benchmarks/bench_stats.py [--scale 1.0]``. Prints wall time and the growth of
peak resident memory for each function; nothing is asserted.

The inputs mimic the cube for BSOL: ~180 practices, 35 PCNs, 6 localities, 17 indicators,
4 reporting dates, 19 age bands x 2 sexes, IMD quintiles.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import psutil

from bsol_analytics import stats

PROC = psutil.Process()


def peak_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(label: str, rows: int, fn: Callable[[], pd.DataFrame]) -> None:
    before_peak = peak_mb()
    start = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - start
    print(
        f"{label:<44} {rows:>10,} rows in -> {len(out):>9,} out  "
        f"{elapsed:8.3f} s  peak RSS {peak_mb():7.0f} MB "
        f"(+{max(peak_mb() - before_peak, 0):.0f})  RSS now {PROC.memory_info().rss / 2**20:.0f} MB"
    )


def cube(rng: np.random.Generator, scale: float) -> pd.DataFrame:
    n_practices = max(int(180 * scale), 2)
    bands = stats.esp2013()["age_band"].to_numpy()
    idx = pd.MultiIndex.from_product(
        [
            [f"2025-0{m}-01" for m in (3, 6, 9)] + ["2025-12-31"],
            [f"IND{i:02d}" for i in range(17)],
            [f"P{p:03d}" for p in range(n_practices)],
            ["F", "M"],
            bands,
        ],
        names=["reporting_date", "indicator_id", "practice_code", "sex", "age_band"],
    )
    df = idx.to_frame(index=False)
    df["pcn_code"] = "PCN" + (df["practice_code"].str[1:].astype(int) % 35).astype(str)
    df["denominator"] = rng.integers(0, 600, len(df))
    df["numerator"] = rng.binomial(df["denominator"], rng.uniform(0.01, 0.4, len(df)))
    return df


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 180 practices")
    parser.add_argument("--repetitions", type=int, default=100_000, help="SII simulations")
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    df = cube(rng, args.scale)
    print(f"cube: {len(df):,} rows, {df.memory_usage(deep=True).sum() / 2**20:.0f} MB")
    keys = ["reporting_date", "indicator_id", "practice_code"]

    measure(
        "proportion by practice, 95%+99.8%",
        len(df),
        lambda: stats.proportion(
            df, "numerator", "denominator", by=keys, confidence=[0.95, 0.998], multiplier=100
        ),
    )
    measure(
        "proportion row-wise", len(df), lambda: stats.proportion(df, "numerator", "denominator")
    )
    measure(
        "rate row-wise, 95%+99.8%",
        len(df),
        lambda: stats.rate(df, "numerator", "denominator", confidence=[0.95, 0.998]),
    )
    by_pcn_band = df.groupby(
        ["reporting_date", "indicator_id", "pcn_code", "age_band"], as_index=False
    )[["numerator", "denominator"]].sum()
    measure(
        "dsr by PCN (ESP2013), 95%+99.8%",
        len(by_pcn_band),
        lambda: stats.dsr(
            by_pcn_band,
            "numerator",
            "denominator",
            by=["reporting_date", "indicator_id", "pcn_code"],
            confidence=[0.95, 0.998],
        ),
    )
    ref = df.groupby(["reporting_date", "indicator_id", "sex", "age_band"])[
        ["numerator", "denominator"]
    ].transform("sum")
    with_ref = df.assign(ref_x=ref["numerator"], ref_n=ref["denominator"].clip(lower=1))
    measure(
        "isr by practice (age x sex strata)",
        len(with_ref),
        lambda: stats.isr(
            with_ref,
            "numerator",
            "denominator",
            by=keys,
            reference_numerator="ref_x",
            reference_denominator="ref_n",
            multiplier=100,
        ),
    )
    practices = df.groupby(keys, as_index=False)[["numerator", "denominator"]].sum()
    measure(
        "funnel_flags per practice, 95%+99.8%",
        len(practices),
        lambda: stats.funnel_flags(practices, "numerator", "denominator", statistic="proportion"),
    )
    props = stats.proportion(practices, "numerator", "denominator", multiplier=100)
    measure(
        "compare per practice",
        len(props),
        lambda: stats.compare(props, "value", "lower", "upper", 20.0, polarity="higher is better"),
    )
    values = pd.DataFrame(
        {"g": rng.integers(0, 180, 1_000_000), "v": rng.normal(130, 15, 1_000_000)}
    )
    measure("mean of 1M values by 180 groups", len(values), lambda: stats.mean(values, "v", by="g"))
    quint = pd.DataFrame(
        [(loc, ind, q) for loc in range(6) for ind in range(17) for q in range(1, 6)],
        columns=["locality", "indicator", "quintile"],
    )
    quint["population"] = rng.integers(5_000, 80_000, len(quint))
    quint["x"] = rng.binomial(quint["population"], 0.1 + 0.02 * quint["quintile"])
    measure(
        f"sii 102 groups x 5 quintiles, {args.repetitions:,} reps",
        len(quint),
        lambda: stats.sii(
            quint,
            "quintile",
            "population",
            numerator="x",
            by=["locality", "indicator"],
            repetitions=args.repetitions,
            confidence=[0.95, 0.998],
            seed=1,
        ),
    )


if __name__ == "__main__":
    main()
