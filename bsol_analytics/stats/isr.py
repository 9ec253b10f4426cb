"""Indirectly standardised ratios and rates (observed against expected events)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from bsol_analytics.errors import ParameterError
from bsol_analytics.stats._common import (
    StatsInputError,
    as_list,
    assemble,
    check_rule,
    confidence_levels,
    count_column,
    group_nansum,
    grouped,
    numeric_column,
    require_columns,
    require_frame,
)
from bsol_analytics.stats.intervals import EXACT_BELOW, scaled_poisson_limits

IsrMethod = Literal["byars", "exact"]


def _observed_expected(
    df: pd.DataFrame,
    observed: Hashable,
    population: Hashable,
    by: Hashable | Sequence[Hashable] | None,
    reference_rate: Hashable | None,
    reference_numerator: Hashable | None,
    reference_denominator: Hashable | None,
    observed_totals: pd.DataFrame | None,
    function: str,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Validate and return keys, observed, expected and the crude reference rate per group."""
    require_frame(df, function)
    by_cols = as_list(by)
    pop = np.nan_to_num(count_column(df, population, function))
    if reference_rate is not None:
        if reference_numerator is not None or reference_denominator is not None:
            raise ParameterError(
                f"{function}(): give reference_rate or reference_numerator and "
                "reference_denominator, not both."
            )
        ref_rate = count_column(df, reference_rate, function)
        ref_num = ref_den = None
        stratum_rate = np.nan_to_num(ref_rate)
    else:
        if reference_numerator is None or reference_denominator is None:
            raise ParameterError(
                f"{function}(): give the reference rate of each stratum, either as "
                "reference_rate or as reference_numerator and reference_denominator columns."
            )
        require_columns(df, [reference_numerator, reference_denominator], function)
        ref_num = count_column(df, reference_numerator, function)
        ref_den = numeric_column(df, reference_denominator, function)
        check_rule(~(ref_den > 0), df, reference_denominator, "must be greater than 0", function)
        stratum_rate = np.nan_to_num(ref_num) / ref_den
    keys, codes = grouped(df, by_cols, function)
    n_groups = len(keys)
    expected = group_nansum(pop * stratum_rate, codes, n_groups)
    if ref_num is not None and ref_den is not None:
        crude = group_nansum(ref_num, codes, n_groups) / group_nansum(ref_den, codes, n_groups)
    else:
        crude = np.full(n_groups, np.nan)
    if observed_totals is None:
        obs = group_nansum(count_column(df, observed, function), codes, n_groups)
    else:
        obs = _observed_totals(observed_totals, observed, by_cols, keys, function)
    return keys, obs, expected, crude


def _observed_totals(
    totals: pd.DataFrame,
    observed: Hashable,
    by_cols: list[Hashable],
    keys: pd.DataFrame,
    function: str,
) -> np.ndarray:
    """Each group's observed count from a frame of totals (one row per group)."""
    require_frame(totals, function)
    require_columns(totals, [*by_cols, observed], function)
    obs_rows = count_column(totals, observed, function)
    if totals.duplicated(subset=by_cols).any() if by_cols else len(totals) != 1:
        raise StatsInputError(
            function, str(observed), "observed_totals must have one row per group"
        )
    if by_cols:
        joined = keys.merge(totals[[*by_cols, observed]], on=by_cols, how="left")
        return joined[observed].to_numpy(dtype=float, na_value=np.nan)
    return np.repeat(obs_rows, len(keys))


def _check_method(method: str, function: str) -> None:
    if method not in ("byars", "exact"):
        raise ParameterError(f"{function}(): method must be 'byars' or 'exact', not {method!r}.")


def _scaled(
    keys: pd.DataFrame,
    levels: list[float],
    obs: np.ndarray,
    expected: np.ndarray,
    scale: np.ndarray,
    method: IsrMethod,
    multiplier: float,
    statistic: str,
) -> pd.DataFrame:
    """The output of :func:`isr` and :func:`israte`: the observed count's limits × ``scale``."""
    exact_below = np.inf if method == "exact" else EXACT_BELOW
    lowers, uppers, labels = scaled_poisson_limits(obs, levels, scale, exact_below)
    return assemble(
        keys,
        levels,
        statistic=statistic,
        value=obs * scale,
        lower=lowers,
        upper=uppers,
        numerator=obs,
        denominator=expected,
        method=labels,
        multiplier=multiplier,
        function=statistic,
    )


def isr(
    df: pd.DataFrame,
    observed: Hashable,
    population: Hashable,
    *,
    by: Hashable | Sequence[Hashable] | None,
    reference_rate: Hashable | None = None,
    reference_numerator: Hashable | None = None,
    reference_denominator: Hashable | None = None,
    observed_totals: pd.DataFrame | None = None,
    confidence: float | Sequence[float] = 0.95,
    method: IsrMethod = "byars",
    multiplier: float = 1,
) -> pd.DataFrame:
    """Indirectly standardised ratios, observed / expected (``calculate_ISRatio``).

    ``expected = Σ populationᵢ × reference rateᵢ`` over the strata (rows) of each group;
    ``value = observed / expected × multiplier``. The limits of the observed count are
    Byar's with exact Poisson below 10 events (``method="byars"``, the OHID rule) or exact
    for every count (``method="exact"``), divided by the expected count. Use it for
    "recorded versus expected" prevalence: ``multiplier=100`` gives the ratio as a
    percentage of expected.

    Args:
        df: one row per group × stratum (e.g. practice × age band × sex).
        observed: column of observed counts (ignored per row with ``observed_totals``).
        population: column of the stratum population; missing counts as 0.
        by: grouping column(s); ``None`` for a single ratio.
        reference_rate: column with each stratum's reference rate (per 1, e.g. England
            prevalence 0.031), or give ``reference_numerator`` and ``reference_denominator``.
        reference_numerator: column of each stratum's reference events.
        reference_denominator: column of each stratum's reference population.
        observed_totals: optional frame with the ``by`` columns and ``observed`` holding
            each group's total when counts are not split by stratum.
        confidence: 0.95, 0.998 or both.
        method: ``"byars"`` (exact below 10 events) or ``"exact"``.
        multiplier: 1 for a ratio, 100 for a percentage of expected.

    Returns:
        A new frame: the grouping columns then the statistic columns; ``numerator`` is the
        observed and ``denominator`` the expected count.

    Raises:
        StatsInputError: missing or non-numeric columns, negative counts or populations.

    Examples:
        >>> df = pd.DataFrame({"practice": ["P1", "P1"], "band": ["18-64", "65+"],
        ...                    "cases": [30, 60], "pop": [1000, 200],
        ...                    "england": [0.02, 0.25]})
        >>> out = isr(df, "cases", "pop", by="practice", reference_rate="england",
        ...           multiplier=100)
        >>> out[["practice", "value", "lower", "upper", "denominator"]].round(2)
          practice  value  lower   upper  denominator
        0       P1  128.57  103.4  158.04         70.0
    """
    levels = confidence_levels(confidence, "isr")
    _check_method(method, "isr")
    keys, obs, expected, _ = _observed_expected(
        df, observed, population, by, reference_rate, reference_numerator,
        reference_denominator, observed_totals, "isr",
    )  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(expected > 0, multiplier / expected, np.nan)
    return _scaled(keys, levels, obs, expected, scale, method, multiplier, "isr")


def israte(
    df: pd.DataFrame,
    observed: Hashable,
    population: Hashable,
    *,
    by: Hashable | Sequence[Hashable] | None,
    reference_numerator: Hashable,
    reference_denominator: Hashable,
    observed_totals: pd.DataFrame | None = None,
    confidence: float | Sequence[float] = 0.95,
    method: IsrMethod = "byars",
    multiplier: float = 100_000,
) -> pd.DataFrame:
    """Indirectly standardised rates (``calculate_ISRate``).

    The ratio ``observed / expected`` (see :func:`isr`) times the crude reference rate
    ``Σ reference events / Σ reference population`` and ``multiplier``; the limits are
    scaled the same way.

    Args:
        df: one row per group × stratum.
        observed: column of observed counts.
        population: column of the stratum population.
        by: grouping column(s); ``None`` for a single rate.
        reference_numerator: column of each stratum's reference events.
        reference_denominator: column of each stratum's reference population.
        observed_totals: optional frame of each group's observed total (see :func:`isr`).
        confidence: 0.95, 0.998 or both.
        method: ``"byars"`` (exact below 10 events) or ``"exact"``.
        multiplier: e.g. 100000 for a rate per 100,000.

    Returns:
        A new frame: the grouping columns then the statistic columns; ``numerator`` is the
        observed and ``denominator`` the expected count.

    Examples:
        >>> df = pd.DataFrame({"area": ["A", "A"], "obs": [30, 60], "pop": [1000, 200],
        ...                    "ref_x": [200, 500], "ref_n": [10000, 2000]})
        >>> out = israte(df, "obs", "pop", by="area", reference_numerator="ref_x",
        ...              reference_denominator="ref_n", multiplier=1000)
        >>> out[["area", "value", "numerator", "denominator"]].round(2)
          area  value  numerator  denominator
        0    A   75.0       90.0         70.0
    """
    levels = confidence_levels(confidence, "israte")
    _check_method(method, "israte")
    keys, obs, expected, crude = _observed_expected(
        df, observed, population, by, None, reference_numerator,
        reference_denominator, observed_totals, "israte",
    )  # fmt: skip
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(expected > 0, crude * multiplier / expected, np.nan)
    return _scaled(keys, levels, obs, expected, scale, method, multiplier, "israte")
