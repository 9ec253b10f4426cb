"""Reporting dates, defined once: parsing, quarter ends, series and what an extract supports.

* :func:`parse_date` is the one parser of ``YYYY-MM-DD`` dates;
* :func:`quarter_end` is the end of the latest complete quarter on or before a day;
* :func:`quarter_ends` and :func:`quarter_series` are the quarterly series;
* :class:`Coverage` says which dates an extract covers; :func:`default_reporting_date` is
  its last complete quarter, and :func:`check_reporting_date` refuses a reporting date
  after that quarter or too early for the indicators' look-back windows (:class:`Window`,
  declared with each indicator definition, over the dated :data:`SOURCES`).

Examples:
    >>> quarter_end(dt.date(2025, 5, 10)), quarter_end(dt.date(2025, 3, 31))
    (datetime.date(2025, 3, 31), datetime.date(2025, 3, 31))
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics.errors import ParameterError
from bsol_analytics.vocabulary import CHOLESTEROL_CLUSTERS, WINDOWED_CLUSTERS

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_date(value: Any, what: str = "The reporting date") -> dt.date:
    """Parse a date written ``YYYY-MM-DD`` (dates and timestamps pass through).

    Args:
        value: the text, a ``datetime.date``, a ``pandas.Timestamp`` or a NumPy
            ``datetime64``.
        what: how the error names the value, e.g. ``"--date"``.

    Raises:
        ParameterError: not a real date in that form.

    Examples:
        >>> parse_date("2025-03-31")
        datetime.date(2025, 3, 31)
        >>> parse_date("31/03/2025")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: The reporting date '31/03/2025' is not a date in the form YYYY-MM-DD (for example 2025-03-31).
    """  # noqa: E501
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            raise ParameterError(f"{what} is missing; write it as YYYY-MM-DD.")
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not _ISO.fullmatch(text):
        raise ParameterError(
            f"{what} {value!r} is not a date in the form YYYY-MM-DD (for example 2025-03-31)."
        )
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(
            f"{what} {value!r} is not a date: it is not a real date (check the month and day)."
        ) from None


def quarter_end(day: Any) -> dt.date:
    """The end of the latest calendar quarter that ``day`` completes or follows.

    ``day`` itself when it is a quarter end (31 Mar, 30 Jun, 30 Sep, 31 Dec), else the
    quarter end before it.

    Examples:
        >>> quarter_end(dt.date(2025, 3, 30)), quarter_end("2025-04-01")
        (datetime.date(2024, 12, 31), datetime.date(2025, 3, 31))
    """
    d = parse_date(day, "The date")
    first = dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    next_first = dt.date(d.year + (first.month == 10), (first.month + 2) % 12 + 1, 1)
    if d == next_first - dt.timedelta(days=1):
        return d
    return first - dt.timedelta(days=1)


def months_before(day: dt.date, months: int) -> dt.date:
    """``day`` minus ``months`` calendar months, the day clamped to the month's length.

    "Within N months of RD" is ``months_before(RD, N) < date <= RD``.

    Examples:
        >>> months_before(dt.date(2024, 8, 31), 6), months_before(dt.date(2025, 5, 31), 3)
        (datetime.date(2024, 2, 29), datetime.date(2025, 2, 28))
    """
    total = day.year * 12 + (day.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def quarter_ends(start: Any, end: Any) -> list[dt.date]:
    """Calendar quarter ends from ``start`` to ``end`` (both inclusive).

    Raises:
        ParameterError: a date that does not parse, ``end`` before ``start`` or no quarter
            end in between.

    Examples:
        >>> [str(d) for d in quarter_ends("2024-03-31", "2025-01-15")]
        ['2024-03-31', '2024-06-30', '2024-09-30', '2024-12-31']
    """
    first = parse_date(start, "The series start")
    last = parse_date(end, "The series end")
    if last < first:
        raise ParameterError(f"The series end {last} is before its start {first}.")
    ends: list[dt.date] = []
    day = quarter_end(last)
    while day >= first:
        ends.append(day)
        day = quarter_end(day - dt.timedelta(days=1))
    if not ends:
        raise ParameterError(
            f"There is no quarter end (31 Mar, 30 Jun, 30 Sep, 31 Dec) between {first} and {last}."
        )
    return ends[::-1]


def quarter_series(reporting_date: Any, quarters: int) -> list[dt.date]:
    """``quarters`` reporting dates three months apart, ending at ``reporting_date``.

    A month end steps back through month ends (so quarter ends give quarter ends).

    Examples:
        >>> [d.isoformat() for d in quarter_series(dt.date(2025, 3, 31), 3)]
        ['2024-09-30', '2024-12-31', '2025-03-31']
        >>> [d.isoformat() for d in quarter_series(dt.date(2024, 6, 30), 2)]
        ['2024-03-31', '2024-06-30']
    """
    rd = parse_date(reporting_date)
    month_end = (rd + dt.timedelta(days=1)).day == 1
    out = []
    for k in range(quarters - 1, -1, -1):
        day = months_before(rd, 3 * k)
        if month_end:  # a month end stays a month end (30 Jun back to 31 Mar)
            day = months_before(dt.date(day.year, day.month, 1), -1) - dt.timedelta(days=1)
        out.append(day)
    return out


def parse_series(text: str) -> list[dt.date]:
    """Quarterly reporting dates from a ``START:END`` specification.

    Examples:
        >>> [str(d) for d in parse_series("2024-06-30:2024-12-31")]
        ['2024-06-30', '2024-09-30', '2024-12-31']
    """
    parts = str(text).split(":")
    if len(parts) != 2:
        raise ParameterError(
            f"--series {text!r} must be START:END with two dates YYYY-MM-DD, "
            "e.g. 2022-06-30:2025-03-31."
        )
    return quarter_ends(parts[0].strip(), parts[1].strip())


@dataclass(frozen=True)
class Source:
    """Dated rows of one table whose earliest date says where an extract's recording starts.

    Attributes:
        table: the prepared table.
        column: its date column (one per table).
        label: the source in words, for messages.
        clusters: for ``clinical_events``, the clusters counted (empty: every row).
    """

    table: str
    column: str
    label: str
    clusters: tuple[str, ...] = ()


#: The dated sources of an extract's coverage: name -> :class:`Source`. The windowed
#: measurements, not diagnoses (registers reach back decades), mark where the events start.
#: Deaths are not a source: ``patients`` holds everyone registered during the extract, so
#: its earliest death is the first that happened, not where recording starts, and a small
#: extract would be refused for its few deaths.
SOURCES: dict[str, Source] = {
    "measurements": Source(
        "clinical_events", "event_date", "blood pressure, HbA1c and COPD reviews", WINDOWED_CLUSTERS
    ),
    "cholesterol": Source(
        "clinical_events", "event_date", "cholesterol tests", CHOLESTEROL_CLUSTERS
    ),
    "screening": Source("screening", "test_date", "screening tests"),
    "admissions": Source("admissions", "admission_date", "hospital admissions"),
    "medications": Source("medications", "issue_date", "prescriptions"),
    "ed_attendances": Source("ed_attendances", "attendance_date", "ED attendances"),
}


def source_label(source: str) -> str:
    """The words for a key of :data:`SOURCES` (the key itself when unknown).

    Examples:
        >>> source_label("medications"), source_label("deaths")
        ('prescriptions', 'deaths')
    """
    return SOURCES[source].label if source in SOURCES else source


@dataclass(frozen=True)
class Window:
    """How far back from the reporting date a definition reads one dated source.

    The rows read are dated after ``RD - months - days`` (``days`` for a window that
    reaches back from each death in a 12-month window: the admissions in the 90 days
    before death are ``Window("admissions", 12, 90)``).

    Attributes:
        source: a key of :data:`SOURCES`, or ``"deaths"`` (declared, never checked).
        months: calendar months back from RD (:func:`months_before`).
        days: further days back.

    Examples:
        >>> Window("admissions", 12, 90).start(dt.date(2025, 3, 31))
        datetime.date(2024, 1, 1)
    """

    source: str
    months: int
    days: int = 0

    def start(self, reporting_date: dt.date) -> dt.date:
        """The excluded lower bound of the window at ``reporting_date``."""
        return months_before(reporting_date, self.months) - dt.timedelta(days=self.days)

    def describe(self) -> str:
        """The window in words, e.g. ``60 months`` or ``12 months and 90 days``."""
        return f"{self.months} months" + (f" and {self.days} days" if self.days else "")


@dataclass(frozen=True)
class Coverage:
    """The dates an extract covers.

    Attributes:
        last: the latest date of any of the :data:`SOURCES`.
        starts: source -> its earliest date, in the order of :data:`SOURCES`.

    Examples:
        >>> c = Coverage(dt.date(2025, 3, 31), {"measurements": dt.date(2019, 3, 31)})
        >>> c.last_quarter, c.describe()
        (datetime.date(2025, 3, 31), 'The extract covers 2019-03-31 to 2025-03-31 (last complete quarter 2025-03-31).')
    """  # noqa: E501

    last: dt.date | None
    starts: Mapping[str, dt.date] = field(default_factory=dict)

    @property
    def last_quarter(self) -> dt.date | None:
        """The end of the last complete quarter in the data."""
        return None if self.last is None else quarter_end(self.last)

    def describe(self) -> str:
        """The coverage in one sentence (used in every refusal)."""
        if self.last is None:
            return "The extract holds no dated events, tests, admissions or prescriptions."
        first = min(self.starts.values()) if self.starts else None
        span = f"{first} to {self.last}" if first else f"dates up to {self.last}"
        sources = ", ".join(f"{source_label(k)} from {v}" for k, v in self.starts.items())
        detail = f"{sources}; " if len(self.starts) > 1 else ""
        return f"The extract covers {span} ({detail}last complete quarter {self.last_quarter})."


def coverage_of_ranges(ranges: Iterable[tuple[str, Any, Any]]) -> Coverage:
    """The coverage from ``(source, latest date, earliest date)`` per source."""
    last: dt.date | None = None
    starts: dict[str, dt.date] = {}
    for source, hi, lo in ranges:
        if hi is not None and not pd.isna(hi):
            hi = pd.Timestamp(hi).date()
            last = hi if last is None else max(last, hi)
        if lo is not None and not pd.isna(lo):
            starts[source] = pd.Timestamp(lo).date()
    return Coverage(last, starts)


def frame_coverage(tables: Mapping[str, Any]) -> Coverage:
    """The dates a mapping of table name to pandas frame covers (see :data:`SOURCES`).

    Examples:
        >>> ev = pd.DataFrame({"event_date": pd.to_datetime(["2019-04-01", "2025-03-30"]),
        ...     "cluster": ["SBP", "HYP_COD"]})
        >>> c = frame_coverage({"clinical_events": ev})
        >>> c.last, c.starts, c.last_quarter
        (datetime.date(2025, 3, 30), {'measurements': datetime.date(2019, 4, 1)}, datetime.date(2024, 12, 31))
    """  # noqa: E501
    ranges = []
    for name, source in SOURCES.items():
        frame = tables.get(source.table)
        if frame is None or source.column not in getattr(frame, "columns", ()) or not len(frame):
            continue
        dates = pd.to_datetime(frame[source.column], errors="coerce")
        counted = dates
        if source.clusters and "cluster" in frame.columns:
            counted = dates[frame["cluster"].isin(source.clusters).to_numpy()]
        ranges.append((name, dates.max(), counted.min()))
    return coverage_of_ranges(ranges)


def default_reporting_date(coverage: Coverage) -> dt.date:
    """The default reporting date: the last complete quarter in the data.

    Raises:
        ParameterError: the data hold no dates.

    Examples:
        >>> default_reporting_date(Coverage(dt.date(2025, 3, 30)))
        datetime.date(2024, 12, 31)
    """
    if coverage.last_quarter is None:
        raise ParameterError(
            "The data hold no event, screening or admission dates, so there is no default "
            "reporting date; give one with --date YYYY-MM-DD."
        )
    return coverage.last_quarter


def check_reporting_date(
    reporting_date: dt.date,
    coverage: Coverage,
    windows: Mapping[str, Iterable[Window]] | None = None,
) -> dt.date:
    """Refuse a reporting date the extract cannot support; return it otherwise.

    A date after the last complete quarter in the data is refused, and so is one too early
    for a look-back window of an indicator computed (:func:`lookback_gap`).

    Args:
        reporting_date: the date asked for.
        coverage: what the extract covers.
        windows: indicator id -> its look-back windows, for the indicators computed
            (``bsol_analytics.indicators.lookback_windows``); ``None`` checks no window.

    Raises:
        ParameterError: naming the extract's coverage (exit code 2).

    Examples:
        >>> c = Coverage(dt.date(2025, 3, 31), {"measurements": dt.date(2019, 3, 31)})
        >>> check_reporting_date(dt.date(2025, 3, 31), c)
        datetime.date(2025, 3, 31)
        >>> check_reporting_date(dt.date(2025, 6, 30), c)
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: The reporting date 2025-06-30 is after the last complete quarter in the data. The extract covers 2019-03-31 to 2025-03-31 (last complete quarter 2025-03-31).
        >>> check_reporting_date(dt.date(2023, 12, 31), c, {"X": [Window("measurements", 60)]})
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: The reporting date 2023-12-31 is too early: X looks back 60 months, to 2018-12-31, but the blood pressure, HbA1c and COPD reviews start on 2019-03-31. The extract covers 2019-03-31 to 2025-03-31 (last complete quarter 2025-03-31).
    """  # noqa: E501
    default_reporting_date(coverage)
    if reporting_date > coverage.last_quarter:
        raise ParameterError(
            f"The reporting date {reporting_date} is after the last complete quarter in the "
            f"data. {coverage.describe()}"
        )
    for ind, ind_windows in (windows or {}).items():
        gap = lookback_gap(reporting_date, coverage, ind, ind_windows)
        if gap is not None:
            raise ParameterError(
                f"The reporting date {reporting_date} is too early: {gap}. {coverage.describe()}"
            )
    return reporting_date


def lookback_gap(
    reporting_date: dt.date, coverage: Coverage, indicator_id: str, windows: Iterable[Window]
) -> str | None:
    """Why the extract cannot give ``indicator_id`` at ``reporting_date``, or ``None``.

    Each look-back window ``RD - N months < date <= RD`` must start within the data it
    reads: the day before the window may be at most the day before the source's first
    date. A source with no start in ``coverage`` (absent, or ``deaths``) is not checked.

    Examples:
        >>> c = Coverage(dt.date(2025, 3, 31), {"measurements": dt.date(2019, 3, 31)})
        >>> five_years = [Window("measurements", 60)]
        >>> lookback_gap(dt.date(2024, 3, 31), c, "HYP_BP_CHECK_45", five_years) is None
        True
        >>> lookback_gap(dt.date(2023, 12, 31), c, "HYP_BP_CHECK_45", five_years)
        'HYP_BP_CHECK_45 looks back 60 months, to 2018-12-31, but the blood pressure, HbA1c and COPD reviews start on 2019-03-31'
    """  # noqa: E501
    for window in windows:
        start = coverage.starts.get(window.source)
        bound = window.start(reporting_date)
        if start is not None and bound < start - dt.timedelta(1):
            return (
                f"{indicator_id} looks back {window.describe()}, to {bound}, but the "
                f"{source_label(window.source)} start on {start}"
            )
    return None


__all__ = [
    "SOURCES",
    "Coverage",
    "Source",
    "Window",
    "check_reporting_date",
    "coverage_of_ranges",
    "default_reporting_date",
    "frame_coverage",
    "lookback_gap",
    "months_before",
    "parse_date",
    "parse_series",
    "quarter_end",
    "quarter_ends",
    "quarter_series",
    "source_label",
]
