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
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from bsol_analytics.dates import SOURCES, Coverage, coverage_of_ranges, frame_coverage
from bsol_analytics.errors import ParameterError
from bsol_analytics.paths import parquet_source
from bsol_analytics.vocabulary import PREPARE_MANIFEST


def is_prepared(folder: str | Path) -> bool:
    """Whether ``folder`` was written by ``bsol prepare`` (it holds the manifest)."""
    return (Path(folder) / PREPARE_MANIFEST).is_file()


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


def _folder_ranges(folder: Path) -> list[tuple[str, Any, Any]]:
    """``(source, latest date, earliest date)`` of each of :data:`SOURCES`, one scan a table.

    A table whose sources count some clusters is read by cluster (a group-by over the
    dictionary-coded column is quicker than one filtered minimum per source).
    """
    import duckdb

    by_table: dict[str, list[str]] = {}
    for name, source in SOURCES.items():
        by_table.setdefault(source.table, []).append(name)
    out = []
    con = duckdb.connect()
    try:
        for table, names in by_table.items():
            src = parquet_source(folder, table)
            if src is None:
                continue
            column = SOURCES[names[0]].column
            described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [src]).fetchall()
            by_cluster = "cluster" in {r[0] for r in described}
            group = "cluster" if by_cluster else "NULL"
            rows = con.execute(
                f"SELECT {group}, max({column}), min({column}) FROM read_parquet(?) GROUP BY 1",
                [src],
            ).fetchall()
            latest = max((r[1] for r in rows if r[1] is not None), default=None)
            for name in names:
                wanted = set(SOURCES[name].clusters)
                firsts = [
                    r[2]
                    for r in rows
                    if r[2] is not None and (not wanted or not by_cluster or r[0] in wanted)
                ]
                out.append((name, latest, min(firsts, default=None)))
    finally:
        con.close()
    return out


def coverage(tables: Any) -> Coverage:
    """The dates ``tables`` (a prepared folder or a mapping of frames) cover.

    Examples:
        >>> import pandas as pd
        >>> ev = pd.DataFrame({"event_date": pd.to_datetime(["2019-04-01", "2025-03-30"]),
        ...     "cluster": ["SBP", "HYP_COD"]})
        >>> c = coverage({"clinical_events": ev})
        >>> c.last, c.starts["measurements"], c.last_quarter
        (datetime.date(2025, 3, 30), datetime.date(2019, 4, 1), datetime.date(2024, 12, 31))
    """
    if isinstance(tables, str | Path):
        return coverage_of_ranges(_folder_ranges(Path(tables)))
    if isinstance(tables, Mapping):
        return frame_coverage(tables)
    raise ParameterError("coverage(): give a prepared folder or a mapping of tables.")


__all__ = ["coverage", "is_prepared", "open_data", "parquet_source"]
