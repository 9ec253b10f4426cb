"""Means with Student's t confidence limits."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from bsol_analytics.stats._common import (
    assemble,
    confidence_levels,
    group_nansum,
    grouped,
    numeric_column,
    require_columns,
    require_frame,
)


def mean(
    df: pd.DataFrame,
    value: Hashable,
    *,
    by: Hashable | Sequence[Hashable] | None,
    confidence: float | Sequence[float] = 0.95,
) -> pd.DataFrame:
    """Means with Student's t limits, as OHID's ``phe_mean``.

    ``mean ± t(c + (1 − c)/2; n − 1) · s / √n`` with ``s`` the sample standard deviation.
    Missing values are left out; a group with one value has a mean but no limits.

    Args:
        df: one row per observation (e.g. a patient's latest HbA1c).
        value: column of the values to average.
        by: grouping column(s); ``None`` for one overall mean.
        confidence: 0.95, 0.998 or both.

    Returns:
        A new frame: the grouping columns then the statistic columns; ``numerator`` is the
        sum of the values and ``denominator`` how many there are.

    Examples:
        >>> df = pd.DataFrame({"area": ["A"] * 4, "sbp": [120.0, 130.0, 140.0, 150.0]})
        >>> mean(df, "sbp", by="area")[["area", "value", "lower", "upper", "denominator"]]
          area  value       lower       upper  denominator
        0    A  135.0  114.457397  155.542603          4.0
    """
    require_frame(df, "mean")
    levels = confidence_levels(confidence, "mean")
    require_columns(df, [value], "mean")
    v = numeric_column(df, value, "mean")
    keys, codes = grouped(df, by, "mean")
    n_groups = len(keys)
    present = ~np.isnan(v)
    count = group_nansum(present.astype(float), codes, n_groups)
    total = group_nansum(v, codes, n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = np.where(count > 0, total / count, np.nan)
        dev = np.where(present, v - avg[codes] if len(v) else v, 0.0)
        var = group_nansum(dev**2, codes, n_groups) / (count - 1)
        se = np.where(count > 1, np.sqrt(var / count), np.nan)
        lowers, uppers = [], []
        for level in levels:
            t = _t_ppf(level + (1 - level) / 2, np.maximum(count - 1, 1))
            lowers.append(avg - t * se)
            uppers.append(avg + t * se)
    return assemble(
        keys,
        levels,
        statistic="mean",
        value=avg,
        lower=lowers,
        upper=uppers,
        numerator=total,
        denominator=count,
        method="Student's t-distribution",
        multiplier=1,
        function="mean",
    )


def _t_ppf(q: float, df: np.ndarray) -> np.ndarray:
    """Student's t quantile (``scipy.stats`` is imported here, when a mean is asked for)."""
    from scipy import stats as sps

    return sps.t.ppf(q, df)
