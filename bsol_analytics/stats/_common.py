"""Shared validation and output assembly for the statistics functions.

Every public function in :mod:`bsol_analytics.stats` returns a new frame holding the
caller's grouping columns followed by :data:`STAT_COLUMNS`. The helpers here check inputs
(raising :class:`StatsInputError` with the function, column and rule), resolve confidence
levels and build that frame.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from bsol_analytics.errors import ParameterError

#: Statistic columns added by every function, in this order.
STAT_COLUMNS: tuple[str, ...] = (
    "statistic",
    "value",
    "lower",
    "upper",
    "numerator",
    "denominator",
    "confidence",
    "method",
    "multiplier",
)

#: Confidence levels accepted; 95 and 99.8 are the OHID conventions.
SUPPORTED_LEVELS: tuple[float, ...] = (0.95, 0.998)


class StatsInputError(ParameterError):
    """Input to a statistics function that breaks one of its rules.

    Args:
        function: the statistics function, e.g. ``"proportion"``.
        column: the column concerned, or ``None`` for a frame-level problem.
        rule: what is required, in plain English.
        rows: a few example row labels from the caller's frame.

    Examples:
        >>> print(StatsInputError("rate", "events", "must not be negative", rows=[3]))
        Input to rate(), column 'events': must not be negative (example rows: 3).
    """

    def __init__(
        self,
        function: str,
        column: str | None,
        rule: str,
        rows: Sequence[Any] | None = None,
    ) -> None:
        self.function = function
        self.column = column
        self.rule = rule
        self.rows = list(rows or [])
        where = f"Input to {function}()" + (f", column '{column}'" if column else "")
        msg = f"{where}: {rule}"
        if self.rows:
            msg += " (example rows: " + ", ".join(str(r) for r in self.rows[:5]) + ")"
        super().__init__(msg + ".")


def confidence_levels(confidence: float | Sequence[float], function: str) -> list[float]:
    """Return confidence levels as fractions, validated.

    Accepts a fraction (0.95), a percentage (95, 99.8) or a sequence of them. Each level
    must lie in [0.9, 1) once scaled, as in the OHID tools.

    Examples:
        >>> confidence_levels([95, 0.998], "rate")
        [0.95, 0.998]
    """
    raw = [confidence] if np.isscalar(confidence) else list(confidence)  # type: ignore[arg-type]
    if not raw:
        raise ParameterError(f"{function}(): give at least one confidence level.")
    levels: list[float] = []
    for level in raw:
        try:
            value = float(level)
        except (TypeError, ValueError):
            raise ParameterError(
                f"{function}(): confidence level {level!r} is not a number."
            ) from None
        if value >= 90:
            value /= 100
        if not 0.9 <= value < 1:
            raise ParameterError(
                f"{function}(): confidence level {level!r} must be between 0.9 and 1 "
                "(or 90 and 100), e.g. 0.95 or 0.998."
            )
        value = round(value, 10)
        if value in levels:
            raise ParameterError(f"{function}(): confidence level {level!r} is repeated.")
        levels.append(value)
    return levels


def z_value(level: float | np.ndarray) -> np.ndarray:
    """Two-sided standard normal critical value for a confidence level.

    Examples:
        >>> round(float(z_value(0.95)), 6)
        1.959964
    """
    level = np.asarray(level, dtype=float)
    return norm_ppf(level + (1 - level) / 2)


# Quantiles from scipy.special: the numbers of scipy.stats (norm.ppf, chi2.ppf), which the
# indicator commands would otherwise import for these two functions alone.


def norm_ppf(q: float | np.ndarray) -> np.ndarray:
    """The standard normal quantile, as ``scipy.stats.norm.ppf(q)`` (``ndtri``).

    Examples:
        >>> round(float(norm_ppf(0.975)), 6)
        1.959964
    """
    return special.ndtri(np.asarray(q, dtype=float))


def chi2_ppf(p: float | np.ndarray, df: float | np.ndarray) -> np.ndarray:
    """The chi-squared quantile, as ``scipy.stats.chi2.ppf(p, df)``.

    ``2·gammaincinv(df/2, p)``; 0 at ``p = 0``, infinity at ``p = 1``, missing for
    ``df <= 0`` or ``p`` outside ``[0, 1]``, as scipy.stats.

    Examples:
        >>> round(float(chi2_ppf(0.975, 4)), 6)
        11.143287
    """
    p, df = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(df, dtype=float))
    ok = df > 0
    inside = ok & (p > 0) & (p < 1)
    with np.errstate(invalid="ignore"):
        inner = 2 * special.gammaincinv(np.where(inside, df, 1.0) / 2, np.where(inside, p, 0.5))
    out = np.where(inside, inner, np.nan)
    out = np.where(ok & (p == 0), 0.0, out)
    out = np.where(ok & (p == 1), np.inf, out)
    return out[()] if out.ndim == 0 else out


def require_frame(df: Any, function: str) -> None:
    """Refuse anything that is not a pandas DataFrame.

    Examples:
        >>> require_frame([1, 2], "rate")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: rate(): expected a pandas DataFrame, got list.
    """
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"{function}(): expected a pandas DataFrame, got {type(df).__name__}.")


def as_list(by: Hashable | Sequence[Hashable] | None) -> list[Hashable]:
    """Normalise a ``by`` argument to a list of column names.

    Examples:
        >>> as_list("area"), as_list(None), as_list(["a", "b"])
        (['area'], [], ['a', 'b'])
    """
    if by is None:
        return []
    if isinstance(by, str) or not isinstance(by, Sequence):
        return [by]
    return list(by)


def require_columns(df: pd.DataFrame, columns: Sequence[Hashable], function: str) -> None:
    """Raise if any column is missing from ``df``.

    Examples:
        >>> require_columns(pd.DataFrame({"x": [1]}), ["x", "n"], "rate")
        Traceback (most recent call last):
        ...
        bsol_analytics.stats._common.StatsInputError: Input to rate(), column 'n': is not a...
    """
    for col in columns:
        if col not in df.columns:
            shown = ", ".join(repr(c) for c in list(df.columns)[:12])
            raise StatsInputError(
                function, str(col), f"is not a column of the frame (columns: {shown})"
            )


def numeric_column(df: pd.DataFrame, column: Hashable, function: str) -> np.ndarray:
    """Return a column as float64 with missing values as NaN, refusing non-numbers.

    Examples:
        >>> numeric_column(pd.DataFrame({"x": [1, None]}), "x", "rate")
        array([ 1., nan])
    """
    series = df[column]
    if not (pd.api.types.is_numeric_dtype(series) or series.isna().all()):
        converted = pd.to_numeric(series, errors="coerce")
        bad = series.notna() & converted.isna()
        raise StatsInputError(
            function, str(column), "must hold numbers", rows=list(series.index[bad][:5])
        )
    return series.to_numpy(dtype="float64", na_value=np.nan)


def check_rule(
    bad: np.ndarray, df: pd.DataFrame, column: Hashable, rule: str, function: str
) -> None:
    """Raise :class:`StatsInputError` naming example rows where ``bad`` is true.

    Examples:
        >>> df = pd.DataFrame({"n": [5, 0]})
        >>> check_rule(df["n"].to_numpy() == 0, df, "n", "must be positive", "rate")
        Traceback (most recent call last):
        ...
        bsol_analytics.stats._common.StatsInputError: Input to rate(), column 'n': must be...
    """
    if np.any(bad):
        raise StatsInputError(function, str(column), rule, rows=list(df.index[bad][:5]))


def count_column(df: pd.DataFrame, column: Hashable, function: str) -> np.ndarray:
    """Return a column that must exist, hold numbers and not be negative, as float64.

    Missing values stay NaN; each caller decides what they mean.

    Examples:
        >>> count_column(pd.DataFrame({"x": [3, None]}), "x", "rate")
        array([ 3., nan])
        >>> count_column(pd.DataFrame({"x": [3, -1]}), "x", "rate")
        Traceback (most recent call last):
        ...
        bsol_analytics.stats._common.StatsInputError: Input to rate(), column 'x': must not be...
    """
    require_columns(df, [column], function)
    values = numeric_column(df, column, function)
    check_rule(values < 0, df, column, "must not be negative", function)
    return values


def group_keys(
    df: pd.DataFrame, by: list[Hashable], function: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the distinct groups (in order of first appearance) and each row's group code.

    Missing values in grouping columns form their own group rather than being dropped.

    Examples:
        >>> keys, codes = group_keys(pd.DataFrame({"a": ["x", None, "x"]}), ["a"], "rate")
        >>> len(keys), codes.tolist()
        (2, [0, 1, 0])
    """
    require_columns(df, by, function)
    if not by:
        return pd.DataFrame(index=pd.RangeIndex(1)), np.zeros(len(df), dtype=np.int64)
    codes, uniques = pd.MultiIndex.from_frame(df[by]).factorize()
    if isinstance(uniques, pd.MultiIndex):
        keys = uniques.to_frame(index=False)
    else:  # pragma: no cover - defensive, factorize returns a MultiIndex here
        keys = pd.DataFrame({by[0]: uniques})
    keys.columns = by
    for col in by:  # keep the caller's dtypes (factorize can widen them)
        try:
            keys[col] = keys[col].astype(df[col].dtype)
        except (TypeError, ValueError):
            pass
    return keys, codes.astype(np.int64)


def grouped(
    df: pd.DataFrame, by: Hashable | Sequence[Hashable] | None, function: str
) -> tuple[pd.DataFrame, np.ndarray]:
    """Like :func:`group_keys`, but with no groups at all for an empty frame without ``by``.

    Examples:
        >>> keys, codes = grouped(pd.DataFrame({"a": ["x", "y", "x"]}), "a", "rate")
        >>> keys["a"].tolist(), codes.tolist()
        (['x', 'y'], [0, 1, 0])
        >>> len(grouped(pd.DataFrame({"a": []}), None, "rate")[0])
        0
    """
    by_cols = as_list(by)
    keys, codes = group_keys(df, by_cols, function)
    if len(df) == 0 and not by_cols:
        keys = keys.iloc[:0]
    return keys, codes


def group_sum(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum ``values`` by group code; NaN stays NaN (any missing row makes the sum missing).

    Examples:
        >>> group_sum(np.array([1.0, np.nan, 2.0]), np.array([0, 1, 0]), 2)
        array([ 3., nan])
    """
    return np.bincount(codes, weights=values, minlength=n_groups).astype(float)


def group_nansum(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum ``values`` by group code treating NaN as zero.

    Examples:
        >>> group_nansum(np.array([1.0, np.nan, 2.0]), np.array([0, 1, 0]), 2)
        array([3., 0.])
    """
    return np.bincount(codes, weights=np.nan_to_num(values), minlength=n_groups)


def check_no_clash(keep: pd.DataFrame, function: str) -> None:
    """Refuse caller columns that would be overwritten by the statistic columns.

    Examples:
        >>> check_no_clash(pd.DataFrame({"area": [], "value": []}), "rate")
        Traceback (most recent call last):
        ...
        bsol_analytics.stats._common.StatsInputError: Input to rate(), column 'value': clashes...
    """
    clash = [c for c in keep.columns if c in STAT_COLUMNS]
    if clash:
        raise StatsInputError(
            function,
            str(clash[0]),
            "clashes with an output column of the same name; rename it or leave it out "
            f"(output columns: {', '.join(STAT_COLUMNS)})",
        )


def assemble(
    keys: pd.DataFrame,
    levels: list[float],
    *,
    statistic: str | np.ndarray,
    value: np.ndarray,
    lower: np.ndarray | list[np.ndarray],
    upper: np.ndarray | list[np.ndarray],
    numerator: np.ndarray,
    denominator: np.ndarray,
    method: str | np.ndarray,
    multiplier: float | np.ndarray,
    function: str,
) -> pd.DataFrame:
    """Build the tidy output: one row per key row per confidence level.

    ``value``, ``numerator``, ``denominator`` and ``statistic`` have one entry per key row;
    ``lower``, ``upper`` and ``method`` may have one entry per key row, shape
    ``(len(keys), len(levels))``, or (``lower`` and ``upper``) be a list of one array per
    level. Rows are ordered key-major, then by level.

    Examples:
        >>> keys = pd.DataFrame({"area": ["A", "B"]})
        >>> out = assemble(keys, [0.95, 0.998], statistic="rate", value=np.array([1.0, 2.0]),
        ...     lower=[np.array([0.5, 1.5]), np.array([0.4, 1.4])],
        ...     upper=[np.array([1.5, 2.5]), np.array([1.6, 2.6])],
        ...     numerator=np.array([1, 2]), denominator=np.array([1, 1]),
        ...     method="Byars", multiplier=1, function="rate")
        >>> out[["area", "value", "lower", "confidence"]]
          area  value  lower  confidence
        0    A    1.0    0.5       0.950
        1    A    1.0    0.4       0.998
        2    B    2.0    1.5       0.950
        3    B    2.0    1.4       0.998
    """
    check_no_clash(keys, function)
    n, k = len(keys), len(levels)

    def per_row(x: Any, dtype: Any = float) -> np.ndarray:
        arr = np.asarray(x, dtype=dtype)
        if arr.ndim == 0:
            arr = np.full(n, arr.item() if dtype is not object else x, dtype=dtype)
        return np.repeat(arr, k)

    def per_level(x: Any, dtype: Any = float) -> np.ndarray:
        if isinstance(x, list):  # one array per level, side by side
            x = np.column_stack(x) if n else np.empty((0, k))
        arr = np.asarray(x, dtype=dtype)
        if arr.ndim == 0:
            return np.full(n * k, arr.item() if dtype is not object else x, dtype=dtype)
        if arr.ndim == 1:
            return np.repeat(arr, k)
        return arr.reshape(n * k)

    out = keys.loc[keys.index.repeat(k)].reset_index(drop=True)
    out["statistic"] = per_row(statistic, object)
    out["value"] = per_row(value)
    out["lower"] = per_level(lower)
    out["upper"] = per_level(upper)
    out["numerator"] = per_row(numerator)
    out["denominator"] = per_row(denominator)
    out["confidence"] = np.tile(np.asarray(levels, dtype=float), n)
    out["method"] = per_level(method, object)
    out["multiplier"] = per_row(multiplier)
    for col in ("statistic", "method"):
        out[col] = out[col].astype("str")
    return out


def counts_by_group(
    df: pd.DataFrame,
    numerator: Hashable,
    denominator: Hashable,
    by: Hashable | Sequence[Hashable] | None,
    function: str,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Validate numerator/denominator columns and return keys with their (summed) counts.

    With ``by`` the counts are summed within groups (a missing count makes the group's sum
    missing, as in the reference implementation); without it each row is its own group and
    the caller's other columns are kept as identifiers.

    Examples:
        >>> df = pd.DataFrame({"pcn": ["A", "A", "B"], "x": [1, 2, 3], "n": [10, 10, 10]})
        >>> keys, num, den = counts_by_group(df, "x", "n", "pcn", "rate")
        >>> keys["pcn"].tolist(), num.tolist(), den.tolist()
        (['A', 'B'], [3.0, 3.0], [20.0, 10.0])
    """
    require_frame(df, function)
    require_columns(df, [numerator, denominator], function)
    num = count_column(df, numerator, function)
    den = count_column(df, denominator, function)
    check_rule(np.isinf(num), df, numerator, "must be finite", function)
    check_rule(np.isinf(den), df, denominator, "must be finite", function)
    by_cols = as_list(by)
    if not by_cols:
        keys = df.drop(columns=[numerator, denominator]).reset_index(drop=True)
        return keys, num, den
    keys, codes = group_keys(df, by_cols, function)
    n = len(keys)
    return keys, group_sum(num, codes, n), group_sum(den, codes, n)
