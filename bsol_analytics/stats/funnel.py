"""Funnel-plot control limits for proportions, rates and ratios."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from bsol_analytics.errors import ParameterError
from bsol_analytics.stats._common import (
    STAT_COLUMNS,
    StatsInputError,
    assemble,
    confidence_levels,
    counts_by_group,
    z_value,
)

FunnelStatistic = Literal["proportion", "rate", "ratio"]

_METHODS = {
    "proportion": "Wilson score limits around the comparator",
    "rate": "exact Poisson limits around the comparator",
    "ratio": "exact Poisson limits around the comparator",
}


def _check_statistic(statistic: str, function: str) -> None:
    if statistic not in _METHODS:
        raise ParameterError(
            f"{function}(): statistic must be 'proportion', 'rate' or 'ratio', not {statistic!r}."
        )


def _limits(
    statistic: str, comparator: float, denominators: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Control limits (per 1) at each denominator for one confidence level."""
    n = np.asarray(denominators, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if statistic == "proportion":
            half = z_value(level) * np.sqrt(comparator * (1 - comparator) / n)
            lower = np.clip(comparator - half, 0.0, 1.0)
            upper = np.clip(comparator + half, 0.0, 1.0)
        else:
            # The observed count O whose exact Poisson limit just reaches the expected
            # count E: upper(O) = E gives the lower control limit, lower(O) = E the upper.
            # (a zero expectation is treated as the limit of a tiny one)
            expected = np.maximum(comparator * n, np.finfo(float).tiny)
            alpha = (1 - level) / 2
            o_low = np.maximum(special.chdtriv(1 - alpha, 2 * expected) / 2 - 1, 0.0)
            o_high = special.chdtriv(alpha, 2 * expected) / 2
            lower = o_low / n
            upper = o_high / n
    bad = ~(n > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def funnel_limits(
    comparator: float,
    denominators: ArrayLike,
    *,
    statistic: FunnelStatistic,
    confidence: float | Sequence[float] = (0.95, 0.998),
    multiplier: float = 1,
) -> pd.DataFrame:
    """Funnel-plot control limits around a comparator for a range of denominators.

    For proportions the limits are ``p₀ ± z·√(p₀(1 − p₀)/n)`` (the points where an area's
    Wilson interval would just touch ``p₀``, as OHID's funnel tools). For rates, the
    comparator is a rate per 1 and the denominator a population: with ``E = rate × n``
    expected events, the limits are the counts whose exact Poisson interval just reaches
    ``E``, divided by ``n``. For ratios (observed / expected) the denominator is the
    expected count and the comparator usually 1.

    Args:
        comparator: the average, per 1 (e.g. 0.62 or 0.0031); 1 for ratios.
        denominators: the denominators at which to evaluate the limits (e.g.
            ``numpy.geomspace(100, 20000, 100)`` to draw the funnel).
        statistic: ``"proportion"``, ``"rate"`` or ``"ratio"``.
        confidence: levels (default both 95% and 99.8%).
        multiplier: scale of the output (100 for percentages, 100000 for rates per 100,000).

    Returns:
        A new frame with one row per denominator per level: ``denominator``, the statistic
        columns with ``value`` the comparator and ``lower``/``upper`` the control limits.

    Examples:
        >>> out = funnel_limits(0.5, [100, 400], statistic="proportion", multiplier=100)
        >>> out[["denominator", "confidence", "lower", "upper"]].round(3)
           denominator  confidence   lower   upper
        0        100.0       0.950  40.200  59.800
        1        100.0       0.998  34.549  65.451
        2        400.0       0.950  45.100  54.900
        3        400.0       0.998  42.275  57.725
    """
    _check_statistic(statistic, "funnel_limits")
    levels = confidence_levels(confidence, "funnel_limits")
    comp = float(comparator)
    if not np.isfinite(comp) or comp < 0 or (statistic == "proportion" and comp > 1):
        raise ParameterError(
            f"funnel_limits(): comparator {comparator!r} must be a number >= 0"
            + (" and <= 1 for a proportion." if statistic == "proportion" else ".")
        )
    n = np.atleast_1d(np.asarray(denominators, dtype=float))
    lowers, uppers = zip(*(_limits(statistic, comp, n, lv) for lv in levels), strict=True)
    out = assemble(
        pd.DataFrame(index=pd.RangeIndex(len(n))),
        levels,
        statistic=f"funnel {statistic}",
        value=np.full(len(n), comp * multiplier),
        lower=[lo * multiplier for lo in lowers],
        upper=[hi * multiplier for hi in uppers],
        numerator=np.full(len(n), np.nan),
        denominator=n,
        method=_METHODS[statistic],
        multiplier=multiplier,
        function="funnel_limits",
    )
    return out[["denominator", *(c for c in out.columns if c != "denominator")]]


def funnel_flags(
    df: pd.DataFrame,
    numerator: Hashable,
    denominator: Hashable,
    *,
    statistic: FunnelStatistic,
    comparator: float | None = None,
    confidence: float | Sequence[float] = (0.95, 0.998),
    multiplier: float = 1,
) -> pd.DataFrame:
    """Each area's value against the funnel-plot limits at its own denominator.

    For practice prevalence funnels, use the indirectly standardised ratio: pass the output
    of :func:`bsol_analytics.stats.isr` with ``numerator="numerator"`` (observed) and
    ``denominator="denominator"`` (expected) and ``statistic="ratio"``; its statistic
    columns are replaced by the funnel's, the other columns (e.g. the practice) are kept.

    Args:
        df: one row per area (practice, PCN, ...); other columns are kept, except columns
            named like the statistic columns, which are replaced.
        numerator: column of counts (observed events for ratios).
        denominator: column of populations (expected events for ratios).
        statistic: ``"proportion"``, ``"rate"`` or ``"ratio"``.
        comparator: the average per 1; default the pooled value
            ``Σ numerator / Σ denominator`` (1 for ratios).
        confidence: levels (default both 95% and 99.8%).
        multiplier: scale of ``value`` and the limits.

    Returns:
        A new frame with one row per area per level: the statistic columns (``lower`` and
        ``upper`` are the control limits, not the area's confidence interval) and
        ``funnel``: ``"above"``, ``"inside"``, ``"below"`` or ``"no data"``.

    Examples:
        >>> df = pd.DataFrame({"practice": ["P1", "P2", "P3"], "x": [40, 180, 55],
        ...                    "n": [100, 300, 100]})
        >>> out = funnel_flags(df, "x", "n", statistic="proportion", confidence=0.95)
        >>> out[["practice", "value", "funnel"]].round(3)
          practice  value  funnel
        0       P1   0.40   below
        1       P2   0.60  inside
        2       P3   0.55  inside
    """
    _check_statistic(statistic, "funnel_flags")
    levels = confidence_levels(confidence, "funnel_flags")
    keys, num, den = counts_by_group(df, numerator, denominator, None, "funnel_flags")
    # a frame from another statistic (e.g. isr: observed and expected as numerator and
    # denominator) carries its statistic columns; the funnel's replace them
    keys = keys.drop(columns=[c for c in (*STAT_COLUMNS, "reason") if c in keys.columns])
    if statistic == "proportion" and np.any(num > den):
        raise StatsInputError(
            "funnel_flags", str(numerator), f"must not be larger than '{denominator}'"
        )
    usable = ~(np.isnan(num) | np.isnan(den)) & (den > 0)
    if comparator is None:
        comparator = (
            1.0
            if statistic == "ratio"
            else float(num[usable].sum() / den[usable].sum())
            if usable.any()
            else np.nan
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(usable, num / den, np.nan)
    lowers, uppers, flags = [], [], []
    for level in levels:
        lo, hi = _limits(statistic, float(comparator), den, level)
        lowers.append(lo)
        uppers.append(hi)
        flags.append(
            np.select(
                [np.isnan(value) | np.isnan(lo), value > hi, value < lo],
                ["no data", "above", "below"],
                default="inside",
            )
        )
    n_rows = len(keys)
    out = assemble(
        keys,
        levels,
        statistic=f"funnel {statistic}",
        value=value * multiplier,
        lower=[lo * multiplier for lo in lowers],
        upper=[hi * multiplier for hi in uppers],
        numerator=num,
        denominator=den,
        method=_METHODS[statistic],
        multiplier=multiplier,
        function="funnel_flags",
    )
    out["funnel"] = pd.array(
        np.column_stack(flags).reshape(-1) if n_rows else np.array([], dtype=object),
        dtype="str",
    )
    return out
