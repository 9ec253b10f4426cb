"""The one way to open a data folder: a raw extract or the tables ``bsol prepare`` wrote.

:func:`open_data` gives every command and notebook prepared tables (an extract is prepared
first); :func:`coverage` says which dates they cover, for the default reporting date and
its checks in :mod:`bsol_analytics.dates`.

Examples:
    >>> is_prepared("no-such-folder")
    False
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bsol_analytics.dates import Coverage
from bsol_analytics.errors import ParameterError
from bsol_analytics.vocabulary import PREPARE_MANIFEST, WINDOWED_CLUSTERS

#: The file ``bsol prepare`` writes last; a folder holding it is prepared.
MANIFEST = PREPARE_MANIFEST

#: table -> (date column, coverage source).
_DATED: dict[str, tuple[str, str]] = {
    "clinical_events": ("event_date", "measurements"),
    "screening": ("test_date", "screening"),
    "admissions": ("admission_date", "admissions"),
}


def is_prepared(folder: str | Path) -> bool:
    """Whether ``folder`` was written by ``bsol prepare`` (it holds the manifest)."""
    return (Path(folder) / MANIFEST).is_file()


@contextlib.contextmanager
def open_data(data: Any, work_dir: str | Path | None = None) -> Iterator[Any]:
    """Yield prepared tables for ``data``: a prepared folder, or tables passed through.

    An extract folder (``patients`` and ``clinical_events`` tables, no manifest) is
    prepared first: into ``work_dir / "processed"`` when ``work_dir`` is given (kept), else
    into a temporary folder removed afterwards.

    Args:
        data: a prepared folder, an extract folder, or a mapping of tables.
        work_dir: where to keep the prepared tables of an extract.

    Yields:
        The prepared folder, or ``data`` itself when it is not a path.

    Raises:
        ParameterError: a path that is neither an extract nor a prepared folder.

    Examples:
        >>> with open_data({"patients": None}) as tables:
        ...     sorted(tables)
        ['patients']
        >>> with open_data("no-such-folder"):
        ...     pass
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: The data folder no-such-folder does not exist.
    """
    if not isinstance(data, str | Path):
        yield data
        return
    folder = Path(data)
    if not folder.is_dir():
        raise ParameterError(f"The data folder {folder} does not exist.")
    if is_prepared(folder):
        yield folder
        return
    if not {"patients", "clinical_events"} <= {p.name.split(".")[0] for p in folder.iterdir()}:
        raise ParameterError(
            f"DATA_DIR {folder} is neither an extract (it needs patients and clinical_events "
            "tables) nor a folder written by 'bsol prepare' (with prepare_manifest.json)."
        )
    from bsol_analytics.cleaning import prepare

    if work_dir is not None:
        out = Path(work_dir) / "processed"
        prepare(folder, out, progress=False)
        yield out
        return
    with tempfile.TemporaryDirectory(prefix="bsol-prepared-") as tmp:
        out = Path(tmp) / "prepared"
        prepare(folder, out, progress=False)
        yield out


def parquet_source(folder: Path, table: str) -> str | None:
    """The Parquet file of ``table`` in ``folder``, or a glob over its folder of parts."""
    single = folder / f"{table}.parquet"
    if single.is_file():
        return str(single)
    for parts in (folder / table, single):
        if parts.is_dir() and any(parts.glob("*.parquet")):
            return str(parts / "*.parquet")
    return None


def _folder_ranges(folder: Path) -> list[tuple[str, Any, Any]]:
    import duckdb

    out = []
    con = duckdb.connect()
    try:
        for table, (column, source) in _DATED.items():
            src = parquet_source(folder, table)
            if src is None:
                continue
            names = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [src]).fetchall()
            windowed = (
                "cluster IN ?"
                if table == "clinical_events" and any(n[0] == "cluster" for n in names)
                else "true"
            )
            params: list[Any] = [list(WINDOWED_CLUSTERS)] if windowed != "true" else []
            sql = f"SELECT max({column}), min({column}) FILTER (WHERE {windowed}) "
            row = con.execute(sql + "FROM read_parquet(?)", [*params, src]).fetchone()
            out.append((source, row[0], row[1]))
    finally:
        con.close()
    return out


def _frame_ranges(tables: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    out = []
    for table, (column, source) in _DATED.items():
        frame = tables.get(table)
        if frame is None or column not in getattr(frame, "columns", ()) or not len(frame):
            continue
        dates = pd.to_datetime(frame[column], errors="coerce")
        windowed = dates
        if table == "clinical_events" and "cluster" in frame.columns:
            windowed = dates[frame["cluster"].isin(WINDOWED_CLUSTERS).to_numpy()]
        out.append((source, dates.max(), windowed.min()))
    return out


def coverage(tables: Any) -> Coverage:
    """The dates ``tables`` (a prepared folder or a mapping of frames) cover.

    Examples:
        >>> ev = pd.DataFrame({"event_date": pd.to_datetime(["2019-04-01", "2025-03-30"]),
        ...     "cluster": ["SBP", "HYP_COD"]})
        >>> c = coverage({"clinical_events": ev})
        >>> c.last, c.starts["measurements"], c.last_quarter
        (datetime.date(2025, 3, 30), datetime.date(2019, 4, 1), datetime.date(2024, 12, 31))
    """
    if isinstance(tables, str | Path):
        ranges = _folder_ranges(Path(tables))
    elif isinstance(tables, Mapping):
        ranges = _frame_ranges(tables)
    else:
        raise ParameterError("coverage(): give a prepared folder or a mapping of tables.")
    last: dt.date | None = None
    starts: dict[str, dt.date] = {}
    for source, hi, lo in ranges:
        if hi is not None and not pd.isna(hi):
            hi = pd.Timestamp(hi).date()
            last = hi if last is None else max(last, hi)
        if lo is not None and not pd.isna(lo):
            starts[source] = pd.Timestamp(lo).date()
    return Coverage(last, starts)


__all__ = ["MANIFEST", "coverage", "is_prepared", "open_data", "parquet_source"]
