"""Computing helpers every layer shares: integer row keys, and the processors to use.

* :func:`row_order` and :func:`repeated_rows` sort or de-duplicate rows of integer columns
  by one int64 key per row when their ranges fit in 62 bits: one stable sort of one column,
  several times faster than a multi-column sort or hash on tens of millions of rows.
* :func:`available_cpus` and :data:`PARALLEL_MIN_PATIENTS` decide when work is shared among
  worker processes.

This module imports nothing from the package, so every layer may use it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

__all__ = ["PARALLEL_MIN_PATIENTS", "available_cpus", "repeated_rows", "row_order"]

#: Fewest patients from which work is shared among worker processes (below it, starting the
#: processes costs more than it saves): ``bsol synth``'s chunks and the reporting dates of
#: the pack tables.
PARALLEL_MIN_PATIENTS = 200_000


def available_cpus() -> int:
    """The processors this process may run on (its CPU affinity where the system has one).

    Examples:
        >>> available_cpus() >= 1
        True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _combined_key(columns: Sequence[np.ndarray]) -> np.ndarray | None:
    """One int64 per row ordering the rows as ``columns`` do (the first column sorts first).

    ``None`` when a column is not of integers or the columns' ranges multiply to 2**62 or more.
    """
    if any(np.asarray(c).dtype.kind not in "iu" for c in columns):
        return None
    lows = [int(c.min()) if len(c) else 0 for c in columns]
    spans = [int(c.max()) - lo + 1 if len(c) else 1 for c, lo in zip(columns, lows, strict=True)]
    if float(np.prod([float(s) for s in spans])) >= 2.0**62:
        return None
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for c, lo, span in zip(columns, lows, spans, strict=True):
        key *= span
        key += c.astype(np.int64) - lo
    return key


def row_order(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Row positions sorting the rows by ``columns``, the first column sorting first.

    A stable sort: rows equal on every column keep their order. The same order as
    ``np.lexsort(columns[::-1])``, by one sort of a combined key when it fits (columns of
    other kinds, or too wide, are sorted by ``np.lexsort`` itself).

    Args:
        columns: equal-length arrays, most significant first.

    Returns:
        The positions (``np.intp``).

    Examples:
        >>> row_order([np.array([1, 0, 1]), np.array([0, 5, -2])]).tolist()
        [1, 2, 0]
    """
    if not columns:
        return np.zeros(0, dtype=np.intp)
    key = _combined_key(columns)
    if key is None:
        return np.lexsort(list(columns)[::-1])
    return np.argsort(key, kind="stable")


def repeated_rows(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Rows equal on every column to an earlier row: ``DataFrame.duplicated(keep="first")``.

    Rows grouped by patient, as extracts usually are, come nearly sorted, which the stable
    sort of :func:`row_order` orders in about linear time: many times faster than hashing.

    Args:
        columns: equal-length arrays (integer codes, equal exactly where the values are).

    Returns:
        A boolean mask, true for each repeat.

    Examples:
        >>> repeated_rows([np.array([5, 3, 5, 5, 3]), np.array([1, 1, 1, 2, 1])]).tolist()
        [False, False, True, False, True]
    """
    n = len(columns[0]) if columns else 0
    if not n:
        return np.zeros(0, dtype=bool)
    key = _combined_key(columns)
    if key is not None:
        order = np.argsort(key, kind="stable")  # equal keys keep row order: the first leads
        same = np.diff(key[order]) == 0
    else:
        order = np.lexsort(list(columns)[::-1])
        same = np.ones(n - 1, dtype=bool)
        for c in columns:
            ordered = c[order]
            same &= ordered[1:] == ordered[:-1]
    out = np.empty(n, dtype=bool)
    out[order] = np.concatenate([[False], same])
    return out
