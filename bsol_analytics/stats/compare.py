"""Benchmarking an area against a comparator, following OHID's rule."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd

from bsol_analytics.errors import ParameterError
from bsol_analytics.stats._common import (
    StatsInputError,
    numeric_column,
    require_columns,
    require_frame,
)

_POLARITIES: dict[str, str] = {
    "higher is better": "higher is better",
    "higher_is_better": "higher is better",
    "high is good": "higher is better",
    "lower is better": "lower is better",
    "lower_is_better": "lower is better",
    "low is good": "lower is better",
    "no judgement": "no judgement",
    "no_judgement": "no judgement",
    "no judgment": "no judgement",
}

#: The values ``comparison`` can take.
COMPARISONS: tuple[str, ...] = (
    "better", "similar", "worse", "higher", "lower", "not compared",
)  # fmt: skip


def compare(
    df: pd.DataFrame,
    value: Hashable,
    lower: Hashable,
    upper: Hashable,
    comparator: Hashable | float,
    *,
    polarity: str,
    column: str = "comparison",
) -> pd.DataFrame:
    """Benchmark each row's interval against a comparator value (OHID's rule).

    A row is significantly higher when its lower limit is above the comparator's point
    value and significantly lower when its upper limit is below it; an interval that
    touches or contains the comparator is ``"similar"``. Polarity ``"higher is better"`` or
    ``"lower is better"`` turns higher/lower into ``"better"``/``"worse"``; ``"no
    judgement"`` keeps ``"higher"``/``"lower"``. A row with no value, no interval or no
    comparator value is ``"not compared"``.

    Args:
        df: frame of statistics, e.g. the output of :func:`proportion`.
        value: column of point values.
        lower: column of lower limits.
        upper: column of upper limits.
        comparator: the comparator's value, as a number or a column name (e.g. the BSOL
            value joined onto each practice's row).
        polarity: ``"higher is better"``, ``"lower is better"`` or ``"no judgement"``.
        column: name of the new column.

    Returns:
        A copy of ``df`` with the new ``comparison`` column (``str``).

    Raises:
        StatsInputError: a missing or non-numeric column.
        ParameterError: an unknown polarity.

    Examples:
        >>> df = pd.DataFrame({"area": ["A", "B", "C", "D"], "v": [80, 70, 76, None],
        ...                    "lo": [78, 65, 72, None], "hi": [82, 74, 79, None]})
        >>> compare(df, "v", "lo", "hi", 75.0, polarity="higher is better")["comparison"].tolist()
        ['better', 'worse', 'similar', 'not compared']
    """
    require_frame(df, "compare")
    key = str(polarity).strip().lower()
    if key not in _POLARITIES:
        raise ParameterError(
            f"compare(): polarity {polarity!r} is not one of 'higher is better', "
            "'lower is better' or 'no judgement'."
        )
    polarity = _POLARITIES[key]
    require_columns(df, [value, lower, upper], "compare")
    if column in df.columns:
        raise StatsInputError("compare", column, "already exists; pass another column name")
    v = numeric_column(df, value, "compare")
    lo = numeric_column(df, lower, "compare")
    hi = numeric_column(df, upper, "compare")
    if isinstance(comparator, int | float | np.number) and not isinstance(comparator, bool):
        comp = np.full(len(df), float(comparator))
    else:
        require_columns(df, [comparator], "compare")
        comp = numeric_column(df, comparator, "compare")
    usable = ~(np.isnan(v) | np.isnan(lo) | np.isnan(hi) | np.isnan(comp))
    higher, lower_ = ("better", "worse") if polarity == "higher is better" else ("worse", "better")
    if polarity == "no judgement":
        higher, lower_ = "higher", "lower"
    result = np.select(
        [~usable, lo > comp, hi < comp], ["not compared", higher, lower_], default="similar"
    )
    out = df.copy()
    out[column] = pd.array(result, dtype="str")
    return out


def compare_each(
    df: pd.DataFrame,
    value: Hashable,
    lower: Hashable,
    upper: Hashable,
    comparator: Hashable | float,
    *,
    polarity: Hashable,
    column: str = "comparison",
) -> pd.DataFrame:
    """:func:`compare`, with each row's own polarity read from the column ``polarity``.

    A missing polarity is ``"no judgement"``.

    Args:
        df: frame of statistics with a polarity column.
        value: column of point values.
        lower: column of lower limits.
        upper: column of upper limits.
        comparator: the comparator's value, as a number or a column name.
        polarity: the column holding each row's polarity.
        column: name of the new column.

    Returns:
        A copy of ``df`` with the new ``comparison`` column (``str``).

    Examples:
        >>> df = pd.DataFrame({"v": [80.0, 70.0, 80.0], "lo": [78.0, 65.0, 78.0],
        ...     "hi": [82.0, 74.0, 82.0],
        ...     "pol": ["higher is better", "lower is better", None]})
        >>> compare_each(df, "v", "lo", "hi", 75.0, polarity="pol")["comparison"].tolist()
        ['better', 'better', 'higher']
    """
    require_frame(df, "compare_each")
    require_columns(df, [polarity], "compare_each")
    if column in df.columns:
        raise StatsInputError("compare_each", column, "already exists; pass another column name")
    pol = df[polarity].astype(object)
    pol = pol.where(pol.notna(), "no judgement").astype(str).to_numpy()
    numeric = isinstance(comparator, int | float | np.number) and not isinstance(comparator, bool)
    columns = [value, lower, upper, *([] if numeric else [comparator])]
    result = np.full(len(df), "not compared", dtype=object)
    for p in pd.unique(pol):
        rows = pol == p
        judged = compare(df.loc[rows, columns], value, lower, upper, comparator, polarity=p)
        result[rows] = judged["comparison"].to_numpy(dtype=object)
    out = df.copy()
    out[column] = pd.array(result, dtype="str")
    return out
