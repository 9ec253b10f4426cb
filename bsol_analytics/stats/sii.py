"""Slope and relative index of inequality across deprivation quantiles."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from bsol_analytics.errors import ParameterError
from bsol_analytics.stats._common import (
    StatsInputError,
    assemble,
    check_rule,
    confidence_levels,
    count_column,
    grouped,
    numeric_column,
    require_columns,
    require_frame,
    z_value,
)
from bsol_analytics.stats.intervals import wilson_lower, wilson_upper

ValueType = Literal["normal", "rate", "proportion"]

#: Fewest and most quantiles accepted (as the reference implementation).
MIN_QUANTILES, MAX_QUANTILES = 5, 100


def _transform(x: np.ndarray, value_type: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if value_type == "rate":
            return np.log(x)
        if value_type == "proportion":
            return np.log(x / (1 - x))
    return x


def _untransform(y: np.ndarray, value_type: str) -> np.ndarray:
    if value_type == "rate":
        return np.exp(y)
    if value_type == "proportion":
        return 1 / (1 + np.exp(-y))
    return y


def _fit_group(
    value: np.ndarray,
    se: np.ndarray,
    pop: np.ndarray,
    value_type: str,
    levels: list[float],
    repetitions: int,
    rng: np.random.Generator,
    multiplier: float,
) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SII and RII with simulated limits for one group's sorted quantiles."""
    a = pop / pop.sum()
    b = np.cumsum(a) - a / 2
    sqrt_a = np.sqrt(a)
    design = np.column_stack([sqrt_a, b * sqrt_a])
    solve = np.linalg.solve(design.T @ design, design.T)  # (2, k): (XᵀX)⁻¹Xᵀ
    intercept, slope = solve @ (sqrt_a * value)
    sii_value = multiplier * slope
    rii_value = (intercept + slope) / intercept
    draws = rng.normal(
        _transform(value, value_type)[:, None], se[:, None], size=(len(value), repetitions)
    )
    params = solve @ (_untransform(draws, value_type) * sqrt_a[:, None])
    sii_sims = multiplier * params[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        rii_sims = (params[0] + params[1]) / params[0]
    if multiplier < 0:
        rii_value = 1 / rii_value
        with np.errstate(divide="ignore"):
            rii_sims = 1 / rii_sims
    # Positions as the reference: the round(R·p)-th smallest of R simulations (1-based).
    upper_p = np.array([lv + (1 - lv) / 2 for lv in levels])
    pos_lo = np.maximum(np.rint(repetitions * (1 - upper_p)).astype(int), 1) - 1
    pos_hi = np.minimum(np.rint(repetitions * upper_p).astype(int), repetitions) - 1
    positions = np.unique(np.concatenate([pos_lo, pos_hi]))
    sii_sorted = np.partition(sii_sims, positions)
    rii_sorted = np.partition(rii_sims, positions)
    return (
        sii_value,
        rii_value,
        sii_sorted[pos_lo],
        sii_sorted[pos_hi],
        rii_sorted[pos_lo],
        rii_sorted[pos_hi],
    )


def sii(
    df: pd.DataFrame,
    quantile: Hashable,
    population: Hashable,
    *,
    value: Hashable | None = None,
    lower: Hashable | None = None,
    upper: Hashable | None = None,
    se: Hashable | None = None,
    numerator: Hashable | None = None,
    by: Hashable | Sequence[Hashable] | None = None,
    value_type: ValueType = "normal",
    confidence: float | Sequence[float] = 0.95,
    multiplier: float = 1,
    repetitions: int = 100_000,
    seed: int | None = None,
    rii: bool = True,
) -> pd.DataFrame:
    """Slope (SII) and relative (RII) index of inequality, as OHID's ``phe_sii``.

    Quantiles are ordered by ``quantile`` (1 = most deprived, as IMD). Each gets the
    midpoint of its share of the population, ``bᵢ = Σⱼ<ᵢ aⱼ + aᵢ/2``, and the model
    ``y·√a = β₀·√a + β₁·b·√a`` is fitted by least squares (Low & Low 2004), i.e. a
    regression of the values on ``b`` weighted by population. ``SII = β₁ × multiplier`` is
    the modelled gap from the most to the least deprived end; ``RII = (β₀ + β₁) / β₀`` is
    their ratio (inverted when ``multiplier`` is negative). Limits come from simulation:
    each quantile's value is drawn ``repetitions`` times from a normal distribution (on the
    log scale for rates, logit for proportions) with its standard error, which is taken
    from ``se`` or from its 95% limits, and the model refitted.

    Output is long: one row per group per index (``statistic`` ``"sii"``, then ``"rii"``
    when ``rii=True``) per confidence level. ``denominator`` is the group's population and
    ``numerator`` the summed ``numerator`` (if given).

    Args:
        df: one row per group × quantile.
        quantile: column of quantile numbers (5 to 100 distinct values, e.g. IMD quintile).
        population: column of each quantile's population (> 0 for a complete group).
        value: column of indicator values; default ``numerator / population``.
        lower: column of the values' 95% lower limits (with ``upper``, or give ``se``).
        upper: column of the values' 95% upper limits.
        se: column of the values' standard errors (on the transformed scale).
        numerator: column of counts for a proportion; then ``value``, ``lower`` and
            ``upper`` default to the proportion and its Wilson 95% limits.
        by: grouping column(s) for one SII per group.
        value_type: ``"normal"``, ``"rate"`` (log) or ``"proportion"`` (logit).
        confidence: level(s) of the SII limits.
        multiplier: scales the SII (e.g. 100 for percentage points); negative flips it.
        repetitions: simulations (>= 1000).
        seed: fix for reproducible limits.
        rii: also return the RII rows.

    Returns:
        A new frame: the grouping columns then the statistic columns. A group with a
        missing quantile, a quantile with no population or missing inputs gets missing
        values (so one incomplete area does not stop the others).

    Examples:
        >>> df = pd.DataFrame({"quintile": [1, 2, 3, 4, 5],
        ...                    "pop": [1000] * 5, "le": [76.0, 78, 80, 82, 84],
        ...                    "se": [0.5] * 5})
        >>> out = sii(df, "quintile", "pop", value="le", se="se", seed=1, repetitions=2000)
        >>> out[["statistic", "value"]].round(3)
          statistic   value
        0       sii  10.000
        1       rii   1.133
    """
    require_frame(df, "sii")
    levels = confidence_levels(confidence, "sii")
    if value_type not in ("normal", "rate", "proportion"):
        raise ParameterError(
            f"sii(): value_type must be 'normal', 'rate' or 'proportion', not {value_type!r}."
        )
    if int(repetitions) < 1000:
        raise ParameterError("sii(): repetitions must be at least 1000 (default 100,000).")
    repetitions = int(repetitions)
    require_columns(df, [quantile, population], "sii")
    pop = count_column(df, population, "sii")
    num = None
    if numerator is not None:
        num = count_column(df, numerator, "sii")
        check_rule(num > pop, df, numerator, f"must not be larger than '{population}'", "sii")
    if value is None:
        if num is None:
            raise ParameterError("sii(): give a value column, or a numerator for a proportion.")
        val = num / pop
        if value_type == "normal":
            value_type = "proportion"
    else:
        require_columns(df, [value], "sii")
        val = numeric_column(df, value, "sii")
    if se is not None:
        se_v = count_column(df, se, "sii")
    else:
        if lower is not None and upper is not None:
            require_columns(df, [lower, upper], "sii")
            lo = numeric_column(df, lower, "sii")
            hi = numeric_column(df, upper, "sii")
        elif num is not None:
            lo, hi = wilson_lower(num, pop), wilson_upper(num, pop)
        else:
            raise ParameterError("sii(): give se, or lower and upper (95%) limit columns.")
        check_rule(lo > hi, df, lower or "lower", "must not be above the upper limit", "sii")
        se_v = (_transform(hi, value_type) - _transform(lo, value_type)) / (2 * z_value(0.95))
    if value_type == "proportion":
        check_rule(
            (val < 0) | (val > 1), df, value or numerator, "must be a proportion in [0, 1]", "sii"
        )
    if value_type == "rate":
        check_rule(val <= 0, df, value, "must be greater than 0 for value_type 'rate'", "sii")

    q = df[quantile]
    all_quantiles = np.sort(q.dropna().unique())
    if not MIN_QUANTILES <= len(all_quantiles) <= MAX_QUANTILES:
        raise StatsInputError(
            "sii",
            str(quantile),
            f"must have between {MIN_QUANTILES} and {MAX_QUANTILES} distinct quantiles "
            f"(found {len(all_quantiles)})",
        )
    keys, codes = grouped(df, by, "sii")
    n_groups, k, n_lv = len(keys), len(all_quantiles), len(levels)
    rng = np.random.default_rng(seed)
    # rows without a quantile (e.g. unknown deprivation) cannot be placed and are left out
    placed = np.flatnonzero(q.notna().to_numpy())
    order = placed[np.lexsort((q.to_numpy()[placed], codes[placed]))]
    codes_s, q_s = codes[order], q.to_numpy()[order]
    val_s, se_s, pop_s = val[order], se_v[order], pop[order]
    num_s = num[order] if num is not None else None
    starts = np.searchsorted(codes_s, np.arange(n_groups))
    ends = np.searchsorted(codes_s, np.arange(n_groups), side="right")
    res = {name: np.full(n_groups, np.nan) for name in ("sii", "rii")}
    lims = {
        name: np.full((n_groups, n_lv), np.nan) for name in ("sii_lo", "sii_hi", "rii_lo", "rii_hi")
    }
    pop_total = np.full(n_groups, np.nan)
    num_total = np.full(n_groups, np.nan)
    for g in range(n_groups):  # one small regression per area, never per patient
        s, e = starts[g], ends[g]
        pop_total[g] = np.nansum(pop_s[s:e])
        if num_s is not None:
            num_total[g] = num_s[s:e].sum()
        complete = (
            e - s == k
            and np.array_equal(q_s[s:e], all_quantiles)
            and np.isfinite(val_s[s:e]).all()
            and np.isfinite(se_s[s:e]).all()
            and (pop_s[s:e] > 0).all()
        )
        if not complete:
            continue
        fitted = _fit_group(
            val_s[s:e], se_s[s:e], pop_s[s:e], value_type, levels, repetitions, rng, multiplier
        )
        res["sii"][g], res["rii"][g] = fitted[0], fitted[1]
        lims["sii_lo"][g], lims["sii_hi"][g] = fitted[2], fitted[3]
        lims["rii_lo"][g], lims["rii_hi"][g] = fitted[4], fitted[5]
    method = f"simulation, {repetitions} repetitions"
    parts = []
    for name, mult in (("sii", multiplier), ("rii", 1.0)) if rii else (("sii", multiplier),):
        part = assemble(
            keys.assign(_g=np.arange(n_groups)),
            levels,
            statistic=name,
            value=res[name],
            lower=lims[f"{name}_lo"],
            upper=lims[f"{name}_hi"],
            numerator=num_total,
            denominator=pop_total,
            method=method,
            multiplier=mult,
            function="sii",
        )
        part["_s"] = 0 if name == "sii" else 1
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["_g", "_s"], kind="stable").drop(columns=["_g", "_s"])
    return out.reset_index(drop=True)
