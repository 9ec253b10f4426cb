"""Fingertips' "recent trend": a chi-squared test for trend over the latest points."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bsol_analytics.errors import ParameterError
from bsol_analytics.stats._common import (
    assemble,
    check_rule,
    chi2_ppf,
    confidence_levels,
    count_column,
    grouped,
    require_columns,
    require_frame,
)

#: Points used by Fingertips' recent trend.
TREND_POINTS = 5

#: The trend directions, polarity-free (a report maps them to better or worse).
INCREASING, DECREASING = "increasing", "decreasing"
NO_CHANGE, NOT_CALCULATED = "no significant change", "cannot be calculated"

METHOD = "chi-squared test for trend (Cochran-Armitage), as Fingertips' recent trend"


def chi_squared_trend(
    events: ArrayLike, totals: ArrayLike, scores: ArrayLike | None = None
) -> tuple[float, float]:
    """Chi-squared test for a linear trend in proportions (Armitage 1955; Altman 1991).

    With ``rᵢ`` events out of ``nᵢ`` at score ``tᵢ`` (default 1, 2, ...), ``R = Σr`` and
    ``N = Σn``: ``χ² = N(NΣrt − RΣnt)² / (R(N − R)(NΣnt² − (Σnt)²))`` on 1 degree of
    freedom, as R's ``prop.trend.test``. Missing (NaN) where every proportion is 0 or 1.

    Returns:
        ``(chi_squared, p_value)``.

    Examples:
        >>> chi, p = chi_squared_trend([83, 90, 129, 70], [86, 93, 136, 82])
        >>> round(chi, 4), round(p, 6)
        (8.2249, 0.004132)
    """
    r = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    t = np.arange(1, len(r) + 1, dtype=float) if scores is None else np.asarray(scores, float)
    chi = _chi_squared(r.sum(), n.sum(), (r * t).sum(), (n * t).sum(), (n * t * t).sum())
    return float(chi), float(_chi2_sf(chi))


def _chi_squared(
    r: ArrayLike, n: ArrayLike, rt: ArrayLike, nt: ArrayLike, ntt: ArrayLike
) -> np.ndarray:
    """The trend statistic from its sums (arrays of one entry per series)."""
    r, n, rt, nt, ntt = (np.asarray(x, dtype=float) for x in (r, n, rt, nt, ntt))
    top = n * (n * rt - r * nt) ** 2
    bottom = r * (n - r) * (n * ntt - nt**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


def _window(
    df: pd.DataFrame,
    codes: np.ndarray,
    period: Hashable,
    valid: np.ndarray,
    points: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows in each series' window and their position 1..points (oldest first).

    The window is the latest ``points`` periods, counted back from the latest one until an
    unusable point (missing count, or no denominator), as Fingertips does.
    """
    order = np.lexsort((df[period].to_numpy(), codes))
    g = codes[order]
    # position from the latest point of each series: 0 for the latest
    from_end = pd.Series(g).groupby(g).cumcount(ascending=False).to_numpy()
    bad = ~valid[order]
    # a point counts only if it and every later point of its series are usable
    bad_from_end = pd.Series(bad[::-1]).groupby(g[::-1]).cumsum().to_numpy()[::-1]
    unbroken = bad_from_end == 0
    in_window = (from_end < points) & unbroken
    rows = order[in_window]
    return rows, points - from_end[in_window]


def recent_trend(
    df: pd.DataFrame,
    numerator: Hashable,
    denominator: Hashable,
    *,
    period: Hashable,
    by: Hashable | Sequence[Hashable] | None = None,
    points: int = TREND_POINTS,
    confidence: float = 0.998,
) -> pd.DataFrame:
    """Fingertips' recent trend of a proportion: direction and chi-squared test for trend.

    For each series (e.g. an indicator in an area), the latest ``points`` periods (5, as
    Fingertips) are scored 1 (oldest) to 5 (latest) and tested with the chi-squared test
    for trend (:func:`chi_squared_trend`). The trend is significant when ``χ²`` exceeds the
    chi-squared critical value on 1 degree of freedom at ``confidence`` (99.8%, 9.5495, as
    Fingertips' trend calculator; 0.95 gives 3.8415). Its direction is the sign of the
    least-squares slope of the logit of the proportions on the score, as Fingertips (the
    sign of ``NΣrt − RΣnt`` where a proportion is 0 or 1). The result is polarity-free:
    ``"increasing"``, ``"decreasing"``, ``"no significant change"``, or ``"cannot be
    calculated"`` when the series has fewer than ``points`` usable latest periods (a
    missing count or a zero or missing denominator breaks the run, counting back from the
    latest period). Periods are ordered by ``period`` and treated as equally spaced.

    Args:
        df: one row per series × period.
        numerator: column of counts.
        denominator: column of totals.
        period: column that orders the periods (dates, years or quarter ends).
        by: column(s) identifying the series; ``None`` for a single series.
        points: periods used (at least 3; Fingertips uses 5).
        confidence: 0.998 (Fingertips) or another level in [0.9, 1).

    Returns:
        A new frame, one row per series: the ``by`` columns, the statistic columns
        (``statistic`` ``"recent trend"``, ``value`` the chi-squared statistic, no limits,
        ``numerator``/``denominator`` summed over the window) and ``direction``,
        ``p_value``, ``points`` (periods used), ``period_from`` and ``period_to``.

    Raises:
        StatsInputError: missing or non-numeric columns, negative counts, a numerator
            above its denominator, or a period repeated within a series.

    Examples:
        >>> df = pd.DataFrame({"year": [2019, 2020, 2021, 2022, 2023],
        ...                    "screened": [700, 720, 745, 770, 790],
        ...                    "eligible": [1000] * 5})
        >>> out = recent_trend(df, "screened", "eligible", period="year")
        >>> out[["direction", "value", "points", "period_to"]].round(2)
          direction  value  points  period_to
        0  increasing  27.85       5       2023
    """
    require_frame(df, "recent_trend")
    (level,) = confidence_levels(confidence, "recent_trend")
    if int(points) < 3:
        raise ParameterError("recent_trend(): points must be at least 3 (Fingertips uses 5).")
    points = int(points)
    require_columns(df, [numerator, denominator, period], "recent_trend")
    r = count_column(df, numerator, "recent_trend")
    n = count_column(df, denominator, "recent_trend")
    check_rule(r > n, df, numerator, f"must not be larger than '{denominator}'", "recent_trend")
    check_rule(df[period].isna().to_numpy(), df, period, "must not be missing", "recent_trend")
    keys, codes = grouped(df, by, "recent_trend")
    dup = pd.DataFrame({"g": codes, "p": df[period].to_numpy()}).duplicated(keep=False)
    check_rule(dup.to_numpy(), df, period, "each period must appear once in a series",
               "recent_trend")  # fmt: skip
    rows, t = _window(df, codes, period, ~np.isnan(r) & (n > 0), points)
    g, rw, nw = codes[rows], r[rows], n[rows]
    k = len(keys)

    def total(x: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=x, minlength=k)

    used = np.bincount(g, minlength=k)
    sums = {"r": total(rw), "n": total(nw), "rt": total(rw * t), "nt": total(nw * t)}
    chi = _chi_squared(sums["r"], sums["n"], sums["rt"], sums["nt"], total(nw * t * t))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(rw / (nw - rw))  # logit of each proportion
        finite = total(~np.isfinite(x)) == 0
        x = np.where(np.isfinite(x), x, 0.0)
        slope = (used * total(x * t) - total(x) * total(t)) / (used * total(t * t) - total(t) ** 2)
    tilt = np.where(finite, slope, sums["n"] * sums["rt"] - sums["r"] * sums["nt"])
    complete = used == points
    significant = complete & (chi > chi2_ppf(level, 1))
    direction = np.select(
        [~complete, significant & (tilt > 0), significant & (tilt < 0)],
        [NOT_CALCULATED, INCREASING, DECREASING],
        default=NO_CHANGE,
    )
    out = assemble(
        keys,
        [level],
        statistic="recent trend",
        value=np.where(complete, chi, np.nan),
        lower=np.full(k, np.nan),
        upper=np.full(k, np.nan),
        numerator=np.where(complete, sums["r"], np.nan),
        denominator=np.where(complete, sums["n"], np.nan),
        method=METHOD,
        multiplier=1,
        function="recent_trend",
    )
    out["direction"] = pd.array(direction, dtype="str")
    out["p_value"] = np.where(complete, _chi2_sf(chi), np.nan)
    out["points"] = used
    periods = df[period].iloc[rows].reset_index(drop=True)
    first = periods.groupby(g).min().reindex(range(k))
    last = periods.groupby(g).max().reindex(range(k))
    out["period_from"] = first.to_numpy()
    out["period_to"] = last.to_numpy()
    return out


def _chi2_sf(chi: float | np.ndarray) -> np.ndarray:
    """``scipy.stats.chi2.sf(chi, 1)`` for a statistic ``chi >= 0``.

    ``chdtrc`` from scipy.special gives the same numbers without importing scipy.stats,
    which takes most of a second.

    Examples:
        >>> from scipy import stats as sps
        >>> x = np.array([0.0, 0.5, 3.84, 12.0, np.nan])
        >>> np.allclose(_chi2_sf(x), sps.chi2.sf(x, 1), equal_nan=True)
        True
    """
    from scipy.special import chdtrc

    return chdtrc(1, np.asarray(chi, float))


__all__ = [
    "DECREASING",
    "INCREASING",
    "NOT_CALCULATED",
    "NO_CHANGE",
    "chi_squared_trend",
    "recent_trend",
]
