"""Crude rates with Byar's (or exact Poisson) confidence limits."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from bsol_analytics.stats._common import assemble, confidence_levels, counts_by_group
from bsol_analytics.stats.intervals import scaled_poisson_limits


def rate(
    df: pd.DataFrame,
    numerator: Hashable,
    denominator: Hashable,
    *,
    by: Hashable | Sequence[Hashable] | None = None,
    confidence: float | Sequence[float] = 0.95,
    multiplier: float = 100_000,
) -> pd.DataFrame:
    """Crude rates with Byar's limits, exact Poisson below 10 events (``phe_rate``).

    ``value = numerator / denominator × multiplier``. The limits of the count come from
    Byar's approximation (Breslow & Day 1987) when there are 10 or more events and from the
    exact Poisson (chi-squared) distribution below that; they are then divided by the
    denominator. The numerator may exceed the denominator (e.g. admissions per person).

    Args:
        df: tidy frame with one row per area (or per part of an area, with ``by``).
        numerator: column of event counts.
        denominator: column of population (or person-years).
        by: grouping column(s) to sum within.
        confidence: 0.95, 0.998 or both (then one row per level).
        multiplier: e.g. 100000 for a rate per 100,000.

    Returns:
        A new frame: the grouping columns then the statistic columns; ``method`` is
        ``"Exact"`` or ``"Byars"`` (missing where the numerator is missing).

    Raises:
        StatsInputError: a missing or non-numeric column, or a negative count.

    Examples:
        >>> df = pd.DataFrame({"area": ["A", "B"], "x": [5, 65], "n": [100, 100]})
        >>> rate(df, "x", "n", multiplier=100)[["area", "value", "lower", "upper", "method"]]
          area  value      lower      upper method
        0    A    5.0   1.623486  11.668332  Exact
        1    B   65.0  50.163188  82.849139  Byars
    """
    levels = confidence_levels(confidence, "rate")
    keys, num, den = counts_by_group(df, numerator, denominator, by, "rate")
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(den > 0, multiplier / den, np.nan)
    value = num * scale
    lowers, uppers, method = scaled_poisson_limits(num, levels, scale)
    return assemble(
        keys,
        levels,
        statistic="rate",
        value=value,
        lower=lowers,
        upper=uppers,
        numerator=num,
        denominator=den,
        method=method,
        multiplier=multiplier,
        function="rate",
    )
