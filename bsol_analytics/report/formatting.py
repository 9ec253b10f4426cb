"""Number, date and cell formatting for the packs (suppressed cells in words)."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics.sdc.core import REASON_LINKED
from bsol_analytics.stats import STAT_COLUMNS

#: The confidence level shown in packs.
CONFIDENCE = 0.95


#: What a pack shows of one cell: its statistic (from the statistic columns) and suppression.
CELL_COLUMNS: tuple[str, ...] = (
    *(c for c in STAT_COLUMNS if c in ("value", "lower", "upper", "numerator", "denominator")),
    "suppressed",
    "suppression_reason",
)


#: Short words for why an at-a-glance row has no comparison (its ``why_not_compared`` column).
NO_COMPARISON: dict[str, str] = {
    "suppressed": "suppressed",
    "no England": "no England figure",
    "computed here": "no England figure (computed here)",
    "standard": "BSOL is the standard (1)",
    "no BSOL": "no BSOL value",
}


def fmt_number(value: float | None, decimals: int = 1) -> str:
    """Format a statistic for display: fixed decimals, thousands separators, dash if missing.

    Examples:
        >>> fmt_number(12345.678)
        '12,345.7'
        >>> fmt_number(None), fmt_number(float("nan"))
        ('-', '-')
        >>> fmt_number(-0.04), fmt_number(-0.06)
        ('0.0', '-0.1')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "-"
    text = f"{float(value):,.{decimals}f}"
    # A value that rounds to zero is shown as zero, never as "-0.0".
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def fmt_count(value: float | None) -> str:
    """Format a count with thousands separators.

    Examples:
        >>> fmt_count(1234567)
        '1,234,567'
        >>> fmt_count(None)
        '-'
    """
    if value is None or pd.isna(value):
        return "-"
    return f"{round(float(value)):,}"


def fmt_cell(value: float | None, suppressed: bool, reason: str | None, decimals: int = 1) -> str:
    """Format one statistic, showing "suppressed" with its reason instead of a number.

    Examples:
        >>> fmt_cell(3.0, True, "fewer than 10 patients")
        'suppressed (fewer than 10 patients)'
        >>> fmt_cell(12.345, False, None)
        '12.3'
    """
    if suppressed:
        return f"suppressed ({reason})" if reason else "suppressed"
    return fmt_number(value, decimals)


#: Derived indicators that are ratios (1 = as expected): shown to two decimals.
RATIO_KINDS = ("RVE", "ISR")


def _decimals(frame: pd.DataFrame, decimals: int) -> list[int]:
    """Decimals per row: at least two for ratio rows (``derived`` ``RVE``/``ISR``)."""
    if "derived" not in frame:
        return [decimals] * len(frame)
    ratio = frame["derived"].isin(RATIO_KINDS).to_numpy()
    return np.where(ratio, max(decimals, 2), decimals).tolist()


def fmt_column(
    frame: pd.DataFrame, column: str = "value", decimals: int = 1, reason: bool = True
) -> list[str]:
    """Format one column of statistic rows; suppressed rows say so (with the reason).

    Args:
        frame: rows with ``column``, ``suppressed`` and ``suppression_reason``.
        column: the column to format.
        decimals: decimals shown (0 for counts).
        reason: add the suppression reason in brackets.

    Returns:
        One string per row, in the frame's order.

    Ratios (rows whose ``derived`` is ``RVE`` or ``ISR``) show two decimals.

    Examples:
        >>> rows = pd.DataFrame({"value": [12.34, 3.0], "suppressed": [False, True],
        ...     "suppression_reason": [None, "count 1-9"]})
        >>> fmt_column(rows)
        ['12.3', 'suppressed (count 1-9)']
        >>> fmt_column(rows.assign(derived=["RVE", ""], value=[0.684, 1.0]))
        ['0.68', 'suppressed (count 1-9)']
        >>> fmt_column(rows, reason=False)
        ['12.3', 'suppressed']
    """
    sup = frame["suppressed"].astype(bool).to_numpy()
    places = _decimals(frame, decimals)
    text = np.array(
        [fmt_number(v, d) for v, d in zip(frame[column], places, strict=True)], dtype=object
    )
    why = frame["suppression_reason"] if reason else pd.Series(None, index=frame.index)
    label = [
        f"suppressed ({reader_reason(r)})" if isinstance(r, str) and r else "suppressed"
        for r in why
    ]
    return np.where(sup, np.asarray(label, dtype=object), text).tolist()


def reader_reason(reason: str) -> str:
    """A suppression reason in the pack's words (no internal indicator ids).

    Examples:
        >>> reader_reason("linked: same counts as HYP_PREV")
        'linked: same counts as the crude figure'
        >>> reader_reason("primary: count 1-7")
        'primary: count 1-7'
    """
    if reason.startswith(REASON_LINKED.split("{")[0]):
        return REASON_LINKED.format(base="the crude figure")
    return reason


def fmt_date(value: Any) -> str:
    """Format a date as "31 March 2025".

    Examples:
        >>> fmt_date("2025-03-31")
        '31 March 2025'
    """
    day = pd.Timestamp(value)
    return f"{day.day} {day.strftime('%B %Y')}"


def slug(text: str) -> str:
    """Make an HTML id from a heading.

    Examples:
        >>> slug("Who lives here?")
        'who-lives-here'
    """
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def fmt_ci(rows: pd.DataFrame, decimals: int = 1) -> list[str]:
    """Format 95% confidence intervals as "lower to upper" ("suppressed" where suppressed).

    A row with neither limit (a published comparator without one) reads "no interval".

    Examples:
        >>> rows = pd.DataFrame({"lower": [1.0, 2.0, None], "upper": [3.0, 4.0, None],
        ...     "suppressed": [False, True, False],
        ...     "suppression_reason": [None, "count 1-9", None]})
        >>> fmt_ci(rows)
        ['1.0 to 3.0', 'suppressed', 'no interval']
    """
    text = [
        "no interval"
        if pd.isna(lo) and pd.isna(hi)
        else f"{fmt_number(lo, d)} to {fmt_number(hi, d)}"
        for lo, hi, d in zip(rows["lower"], rows["upper"], _decimals(rows, decimals), strict=True)
    ]
    return np.where(rows["suppressed"].astype(bool).to_numpy(), "suppressed", text).tolist()


__all__ = [
    "CELL_COLUMNS",
    "CONFIDENCE",
    "NO_COMPARISON",
    "fmt_cell",
    "fmt_ci",
    "fmt_column",
    "fmt_count",
    "fmt_date",
    "fmt_number",
    "slug",
]
