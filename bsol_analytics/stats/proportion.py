"""Proportions with Wilson score confidence limits."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from bsol_analytics.stats._common import (
    StatsInputError,
    assemble,
    confidence_levels,
    counts_by_group,
    numeric_column,
)
from bsol_analytics.stats.intervals import wilson_lower, wilson_upper


def proportion(
    df: pd.DataFrame,
    numerator: Hashable,
    denominator: Hashable,
    *,
    by: Hashable | Sequence[Hashable] | None = None,
    confidence: float | Sequence[float] = 0.95,
    multiplier: float = 1,
) -> pd.DataFrame:
    """Proportions with Wilson score limits, as OHID's ``phe_proportion``.

    ``value = numerator / denominator × multiplier``; limits from Wilson (1927). With ``by``
    the counts are summed within each group first (a missing count makes the group
    missing); without it each row is one area and its other columns are kept. A zero
    denominator gives missing statistics rather than an error.

    Args:
        df: tidy frame with one row per area (or per part of an area, with ``by``).
        numerator: column of counts with the attribute (e.g. on the register).
        denominator: column of population counts; must be >= the numerator.
        by: grouping column(s) to sum within.
        confidence: 0.95, 0.998 or both (then one row per level).
        multiplier: 1 for a proportion, 100 for a percentage.

    Returns:
        A new frame: the grouping columns then ``statistic, value, lower, upper,
        numerator, denominator, confidence, method, multiplier``.

    Raises:
        StatsInputError: a missing or non-numeric column, a negative count, or a numerator
            larger than its denominator.

    Examples:
        >>> df = pd.DataFrame({"area": ["A", "B"], "x": [65, 0], "n": [100, 50]})
        >>> proportion(df, "x", "n", multiplier=100)[["area", "value", "lower", "upper"]]
          area  value      lower      upper
        0    A   65.0  55.254443  73.635752
        1    B    0.0   0.000000   7.134760
    """
    levels = confidence_levels(confidence, "proportion")
    keys, num, den = counts_by_group(df, numerator, denominator, by, "proportion")
    raw_num = numeric_column(df, numerator, "proportion")
    raw_den = numeric_column(df, denominator, "proportion")
    bad = raw_num > raw_den
    if np.any(bad):
        raise StatsInputError(
            "proportion",
            str(numerator),
            f"must not be larger than '{denominator}'",
            rows=list(df.index[bad][:5]),
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(den > 0, num / den, np.nan) * multiplier
    return assemble(
        keys,
        levels,
        statistic="proportion",
        value=value,
        lower=[wilson_lower(num, den, c) * multiplier for c in levels],
        upper=[wilson_upper(num, den, c) * multiplier for c in levels],
        numerator=num,
        denominator=den,
        method="Wilson",
        multiplier=multiplier,
        function="proportion",
    )
