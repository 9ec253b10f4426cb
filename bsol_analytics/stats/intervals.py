"""Confidence limits for counts and proportions, vectorised over numpy arrays.

These are the building blocks of the frame-level functions: Wilson score limits for a
proportion, Byar's approximation and exact Poisson limits for a count. Each takes arrays
(or scalars) and a single confidence level, and returns a float array.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from bsol_analytics.stats._common import chi2_ppf, z_value

#: Below this many events, rates and ratios use exact Poisson limits instead of Byar's.
EXACT_BELOW = 10


def wilson_lower(x: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> np.ndarray:
    """Lower Wilson score limit of the proportion ``x / n`` (Wilson 1927).

    ``(2x + z² − z·√(z² + 4x(1 − x/n))) / (2(n + z²))``; NaN where ``n`` is 0 or missing.

    Examples:
        >>> round(float(wilson_lower(65, 100)), 6)
        0.552544
    """
    return _wilson(x, n, confidence, -1.0)


def wilson_upper(x: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> np.ndarray:
    """Upper Wilson score limit of the proportion ``x / n`` (Wilson 1927).

    Examples:
        >>> round(float(wilson_upper(65, 100)), 6)
        0.736358
    """
    return _wilson(x, n, confidence, 1.0)


def _wilson(x: ArrayLike, n: ArrayLike, confidence: float, sign: float) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(z**2 + 4 * x * (1 - x / n))
        out = (2 * x + z**2 + sign * z * root) / (2 * (n + z**2))
    return np.where(n > 0, out, np.nan)


def byars_lower(x: ArrayLike, confidence: float = 0.95) -> np.ndarray:
    """Lower limit of a Poisson count by Byar's approximation (Breslow & Day 1987).

    ``x·(1 − 1/(9x) − z/(3√x))³``. It is 0 for ``x = 0`` and NaN where the approximation
    breaks down (the bracket is negative, e.g. ``x = 1`` at 99.8%); use exact limits there.

    Examples:
        >>> round(float(byars_lower(65)), 6)
        50.163188
    """
    x = np.asarray(x, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        bracket = 1 - 1 / (9 * x) - z / (3 * np.sqrt(x))
        out = x * bracket**3
    out = np.where(bracket < 0, np.nan, out)
    return np.where(x == 0, 0.0, out)


def byars_upper(x: ArrayLike, confidence: float = 0.95) -> np.ndarray:
    """Upper limit of a Poisson count by Byar's approximation (Breslow & Day 1987).

    ``(x + 1)·(1 − 1/(9(x + 1)) + z/(3√(x + 1)))³``.

    Examples:
        >>> round(float(byars_upper(65)), 6)
        82.849139
    """
    x1 = np.asarray(x, dtype=float) + 1
    z = z_value(confidence)
    return x1 * (1 - 1 / (9 * x1) + z / (3 * np.sqrt(x1))) ** 3


def exact_lower(x: ArrayLike, confidence: float = 0.95) -> np.ndarray:
    """Exact lower limit of a Poisson count from the chi-squared distribution.

    ``χ²((1 − c)/2; 2x) / 2``, and 0 for ``x = 0``.

    Examples:
        >>> round(float(exact_lower(1)), 6)
        0.025318
    """
    x = np.asarray(x, dtype=float)
    alpha = (1 - confidence) / 2
    with np.errstate(invalid="ignore"):
        out = chi2_ppf(alpha, 2 * x) / 2
    return np.where(x == 0, 0.0, out)


def exact_upper(x: ArrayLike, confidence: float = 0.95) -> np.ndarray:
    """Exact upper limit of a Poisson count from the chi-squared distribution.

    ``χ²(c + (1 − c)/2; 2x + 2) / 2``.

    Examples:
        >>> round(float(exact_upper(1)), 6)
        5.571643
    """
    x = np.asarray(x, dtype=float)
    return chi2_ppf(confidence + (1 - confidence) / 2, 2 * x + 2) / 2


def poisson_limits(
    x: ArrayLike, confidence: float = 0.95, exact_below: float = EXACT_BELOW
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Limits of a Poisson count: exact below ``exact_below`` events, Byar's from there.

    Returns ``(lower, upper, method)`` where ``method`` is ``"Exact"`` or ``"Byars"`` (and
    missing where ``x`` is missing).

    Examples:
        >>> lo, hi, m = poisson_limits([5, 65])
        >>> [round(float(v), 3) for v in lo], list(m)
        ([1.623, 50.163], ['Exact', 'Byars'])
    """
    x = np.asarray(x, dtype=float)
    exact = x < exact_below
    lower = np.where(
        exact, exact_lower(np.where(exact, x, 1), confidence), byars_lower(x, confidence)
    )
    upper = np.where(
        exact, exact_upper(np.where(exact, x, 1), confidence), byars_upper(x, confidence)
    )
    method = np.where(np.isnan(x), None, np.where(exact, "Exact", "Byars")).astype(object)
    lower = np.where(np.isnan(x), np.nan, lower)
    upper = np.where(np.isnan(x), np.nan, upper)
    return lower, upper, method


def scaled_poisson_limits(
    x: ArrayLike,
    levels: list[float],
    scale: ArrayLike,
    exact_below: float = EXACT_BELOW,
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """:func:`poisson_limits` at each confidence level, times ``scale`` (e.g. 1 / population).

    Returns ``(lowers, uppers, method)``: one array of limits per level, and the method of
    each count. ``exact_below=numpy.inf`` gives exact limits for every count.

    Examples:
        >>> lows, highs, m = scaled_poisson_limits([5, 65], [0.95, 0.998], 0.01)
        >>> [round(float(v), 4) for v in lows[0]], list(m)
        ([0.0162, 0.5016], ['Exact', 'Byars'])
    """
    x = np.asarray(x, dtype=float)
    lowers, uppers = [], []
    method = np.where(np.isnan(x), None, "Exact").astype(object)
    for level in levels:
        lower, upper, method = poisson_limits(x, level, exact_below)
        lowers.append(lower * scale)
        uppers.append(upper * scale)
    return lowers, uppers, method
