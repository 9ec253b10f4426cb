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
    with np.errstate(over="ignore"):
        if value_type == "rate":
            return np.exp(y)
        if value_type == "proportion":
            return 1 / (1 + np.exp(-y))
    return y


#: Why an SII or RII is not computable, as given in the output's ``reason`` column.
REASON_INCOMPLETE = (
    "not computable: every quantile needs a value, its limits (or standard error) and a "
    "population above 0"
)
REASON_TRANSFORM = (
    "not computable: a value or limit at 0 (or 1 for a proportion) cannot be put on the "
    "log or logit scale"
)
REASON_RII = "RII not computable: the modelled value at the end it is relative to is zero or below"
REASON_RII_LIMITS = (
    "RII limits not computable: in some simulations the modelled value at the end it is "
    "relative to is zero or below"
)


def _indices(
    params: np.ndarray, value_type: str, transform: bool, multiplier: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SII, RII and the RII's denominator from fitted (intercept, slope) pairs.

    On the transformed scale the two ends of the line are taken back to the values' scale
    first, so the SII is their difference and the RII their ratio.
    """
    intercept, slope = params[0], params[1]
    most, least = intercept, intercept + slope  # fitted values at b = 0 and b = 1
    if transform:
        most, least = _untransform(most, value_type), _untransform(least, value_type)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sii_value = multiplier * (least - most if transform else slope)
        top, bottom = (most, least) if multiplier < 0 else (least, most)
        rii_value = np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)
    return sii_value, rii_value, bottom


def _fit_group(
    value: np.ndarray,
    se: np.ndarray,
    pop: np.ndarray,
    value_type: str,
    transform: bool,
    levels: list[float],
    repetitions: int,
    rng: np.random.Generator,
    multiplier: float,
) -> tuple[np.ndarray, np.ndarray, str]:
    """SII and RII with simulated limits for one group's sorted quantiles.

    Returns ``(sii, rii, rii_reason)``: each index as ``[value, lower per level...,
    upper per level...]`` and why the RII (or its limits) is missing, if it is.
    """
    a = pop / pop.sum()
    b = np.cumsum(a) - a / 2
    sqrt_a = np.sqrt(a)
    design = np.column_stack([sqrt_a, b * sqrt_a])
    solve = np.linalg.solve(design.T @ design, design.T)  # (2, k): (XᵀX)⁻¹Xᵀ
    scale = _transform(value, value_type) if transform else value
    sii_value, rii_value, bottom = _indices(
        solve @ (sqrt_a * scale), value_type, transform, multiplier
    )
    draws = rng.normal(
        _transform(value, value_type)[:, None], se[:, None], size=(len(value), repetitions)
    )
    if not transform:
        draws = _untransform(draws, value_type)
    with np.errstate(invalid="ignore", over="ignore"):  # extreme draws give inf, not noise
        fits = solve @ (draws * sqrt_a[:, None])
    sii_sims, rii_sims, bottom_sims = _indices(fits, value_type, transform, multiplier)
    # Positions as the reference: the round(R·p)-th smallest of R simulations (1-based).
    upper_p = np.array([lv + (1 - lv) / 2 for lv in levels])
    pos_lo = np.maximum(np.rint(repetitions * (1 - upper_p)).astype(int), 1) - 1
    pos_hi = np.minimum(np.rint(repetitions * upper_p).astype(int), repetitions) - 1
    positions = np.unique(np.concatenate([pos_lo, pos_hi]))
    sii_sorted = np.partition(sii_sims, positions)
    sii = np.concatenate([[sii_value], sii_sorted[pos_lo], sii_sorted[pos_hi]])
    reason = ""
    if not bottom > 0:
        rii = np.full(1 + 2 * len(levels), np.nan)
        reason = REASON_RII
    elif not (bottom_sims > 0).all():
        rii = np.concatenate([[rii_value], np.full(2 * len(levels), np.nan)])
        reason = REASON_RII_LIMITS
    else:
        rii_sorted = np.partition(rii_sims, positions)
        rii = np.concatenate([[rii_value], rii_sorted[pos_lo], rii_sorted[pos_hi]])
    return sii, rii, reason


def _values_and_errors(
    df: pd.DataFrame,
    population: Hashable,
    value: Hashable | None,
    lower: Hashable | None,
    upper: Hashable | None,
    se: Hashable | None,
    numerator: Hashable | None,
    value_type: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, str]:
    """Validate the inputs; return values, standard errors, populations, counts, value type."""
    pop = count_column(df, population, "sii")
    num = None
    if numerator is not None:
        num = count_column(df, numerator, "sii")
        check_rule(num > pop, df, numerator, f"must not be larger than '{population}'", "sii")
    if value is None:
        if num is None:
            raise ParameterError("sii(): give a value column, or a numerator for a proportion.")
        with np.errstate(divide="ignore", invalid="ignore"):
            val = np.where(pop > 0, num / np.where(pop > 0, pop, 1.0), np.nan)
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
        with np.errstate(invalid="ignore"):
            se_v = (_transform(hi, value_type) - _transform(lo, value_type)) / (2 * z_value(0.95))
    if value_type == "proportion":
        check_rule(
            (val < 0) | (val > 1), df, value or numerator, "must be a proportion in [0, 1]", "sii"
        )
    if value_type == "rate":
        check_rule(val <= 0, df, value, "must be greater than 0 for value_type 'rate'", "sii")
    return val, se_v, pop, num, value_type


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
    transform: bool = False,
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

    With ``transform=True`` (rates and proportions; ``phe_sii(transform = TRUE)``) the
    model is fitted to the log (rates) or logit (proportions) of the values, and the two
    ends of the fitted line are taken back to the values' scale: ``SII`` is their
    difference × ``multiplier`` and ``RII`` their ratio. Use it for SIIs of
    age-standardised rates or proportions, whose gradients are multiplicative.

    Output is long: one row per group per index (``statistic`` ``"sii"``, then ``"rii"``
    when ``rii=True``) per confidence level. ``denominator`` is the group's population and
    ``numerator`` the summed ``numerator`` (if given). ``reason`` says why a value is
    missing: an incomplete group, or an RII relative to a modelled value of zero or below
    (e.g. every quantile at 0%), which has no meaning.

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
        value_type: ``"normal"``, ``"rate"`` (log) or ``"proportion"`` (logit; values per
            1, not per 100).
        transform: fit the model on the log or logit scale (see above).
        confidence: level(s) of the SII limits.
        multiplier: scales the SII (e.g. 100 for percentage points); negative flips it.
        repetitions: simulations (>= 1000; the reference uses 100,000).
        seed: fix for reproducible limits.
        rii: also return the RII rows.

    Returns:
        A new frame: the grouping columns, the statistic columns and ``reason`` (empty
        where the value is given). A group with a missing quantile, a quantile with no
        population or missing inputs gets missing values (so one incomplete area does not
        stop the others).

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
    val, se_v, pop, num, value_type = _values_and_errors(
        df, population, value, lower, upper, se, numerator, value_type
    )
    if transform and value_type == "normal":
        raise ParameterError(
            "sii(): transform=True needs value_type 'rate' or 'proportion' (or a numerator)."
        )
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
    # rows without a quantile (e.g. unknown deprivation) cannot be placed and are left out
    placed = np.flatnonzero(q.notna().to_numpy())
    order = placed[np.lexsort((q.to_numpy()[placed], codes[placed]))]
    fitted = _fit_groups(
        codes[order], q.to_numpy()[order], all_quantiles, val[order], se_v[order],
        pop[order], None if num is None else num[order], len(keys),
        value_type=value_type, transform=transform, levels=levels,
        repetitions=repetitions, rng=np.random.default_rng(seed), multiplier=multiplier,
    )  # fmt: skip
    return _long_output(keys, levels, fitted, repetitions, multiplier, transform, rii)


def _fit_groups(
    codes_s: np.ndarray,
    q_s: np.ndarray,
    all_quantiles: np.ndarray,
    val_s: np.ndarray,
    se_s: np.ndarray,
    pop_s: np.ndarray,
    num_s: np.ndarray | None,
    n_groups: int,
    **fit_args: object,
) -> dict[str, np.ndarray]:
    """Fit every group (rows sorted by group then quantile); one small regression each."""
    n_lv = len(fit_args["levels"])  # type: ignore[arg-type]
    out = {name: np.full((n_groups, 1 + 2 * n_lv), np.nan) for name in ("sii", "rii")}
    out["sii_reason"] = np.full(n_groups, REASON_INCOMPLETE, dtype=object)
    out["rii_reason"] = np.full(n_groups, REASON_INCOMPLETE, dtype=object)
    out["pop"] = np.full(n_groups, np.nan)
    out["num"] = np.full(n_groups, np.nan)
    starts = np.searchsorted(codes_s, np.arange(n_groups))
    ends = np.searchsorted(codes_s, np.arange(n_groups), side="right")
    k = len(all_quantiles)
    transform = bool(fit_args["transform"])
    value_type = str(fit_args["value_type"])
    for g in range(n_groups):  # one small regression per area, never per patient
        s, e = starts[g], ends[g]
        out["pop"][g] = np.nansum(pop_s[s:e])
        if num_s is not None:
            out["num"][g] = num_s[s:e].sum()
        v, se_g = val_s[s:e], se_s[s:e]
        complete = (
            e - s == k
            and np.array_equal(q_s[s:e], all_quantiles)
            and np.isfinite(v).all()
            and not np.isnan(se_g).any()
            and (pop_s[s:e] > 0).all()
        )
        if not complete:
            continue
        scaled = _transform(v, value_type)
        if not np.isfinite(se_g).all() or (transform and not np.isfinite(scaled).all()):
            if value_type != "normal":  # a limit (or value) at 0 or 1
                out["sii_reason"][g] = out["rii_reason"][g] = REASON_TRANSFORM
            continue
        out["sii"][g], out["rii"][g], out["rii_reason"][g] = _fit_group(
            v,
            se_g,
            pop_s[s:e],
            **fit_args,  # type: ignore[arg-type]
        )
        out["sii_reason"][g] = ""
    return out


def _long_output(
    keys: pd.DataFrame,
    levels: list[float],
    fitted: dict[str, np.ndarray],
    repetitions: int,
    multiplier: float,
    transform: bool,
    rii: bool,
) -> pd.DataFrame:
    """Assemble the SII (and RII) rows: group-major, SII before RII, then by level."""
    n_groups, n_lv = len(keys), len(levels)
    method = f"simulation, {repetitions} repetitions" + (
        ", fitted on the transformed scale" if transform else ""
    )
    parts = []
    for name, mult in (("sii", multiplier), ("rii", 1.0)) if rii else (("sii", multiplier),):
        res = fitted[name]
        part = assemble(
            keys.assign(_g=np.arange(n_groups)),
            levels,
            statistic=name,
            value=res[:, 0],
            lower=res[:, 1 : 1 + n_lv],
            upper=res[:, 1 + n_lv :],
            numerator=fitted["num"],
            denominator=fitted["pop"],
            method=method,
            multiplier=mult,
            function="sii",
        )
        part["reason"] = np.repeat(fitted[f"{name}_reason"], n_lv)
        part["_s"] = 0 if name == "sii" else 1
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["_g", "_s"], kind="stable").drop(columns=["_g", "_s"])
    out["reason"] = out["reason"].astype("str")
    return out.reset_index(drop=True)
