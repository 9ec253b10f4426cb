"""Run the indicator definitions on pandas, DuckDB or Spark and collect the cube.

One definition per indicator (the family modules) is executed by the engine chosen at run
time:

* ``pandas``: eager and in memory; the interactive default. Only the columns the
  definitions use are read, text as categorical; patient ids are replaced by integer codes
  before joining, which makes the joins several times faster. Open the tables once with
  :func:`load_tables` and pass the result to every call.
* ``duckdb``: lazy; reads the prepared Parquet files directly and spills to disk when a
  query needs more memory than ``BSOL_DUCKDB_MEMORY_LIMIT`` (default ``4GB``).
* ``spark``: lazy; PySpark in local mode (needs Java 17 or later).

For the lazy engines only the aggregated cube is collected; patient-level rows never leave
the engine. See ``docs/engines.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing as mp
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from bsol_analytics.compute import row_order
from bsol_analytics.dates import Window, parse_date
from bsol_analytics.errors import BsolError, ExtractError, ParameterError
from bsol_analytics.indicators import (
    cardiovascular,
    copd,
    diabetes,
    end_of_life,
    hypertension,
    mortality,
    screening,
    unplanned,
)
from bsol_analytics.indicators.base import (
    AGE_BANDS,
    DECEDENT_MONTHS,
    INPUT_NAMES,
    INPUTS,
    MORTALITY_MONTHS,
    Context,
    Feature,
    Frames,
    Indicator,
    age_band_code,
    le_age_band_code,
    registered_at,
    unique,
    whole_years,
)
from bsol_analytics.io import text_sha256
from bsol_analytics.paths import parquet_source
from bsol_analytics.vocabulary import LE_AGE_BANDS, PATIENT_ROW, PATIENTS_DIGEST, PREPARE_MANIFEST

log = logging.getLogger(__name__)

#: The populations, in evaluation order (see ``base.Population``).
_POPULATIONS: tuple[str, ...] = ("registered", "decedents", "mortality")

ENGINES: tuple[str, ...] = ("pandas", "duckdb", "spark")

_FAMILIES = (
    hypertension,
    diabetes,
    copd,
    end_of_life,
    screening,
    cardiovascular,
    unplanned,
    mortality,
)

#: Every executable definition, in registry order.
DEFINITIONS: dict[str, Indicator] = {i.id: i for f in _FAMILIES for i in f.INDICATORS}
FEATURES: dict[str, Feature] = {x.name: x for f in _FAMILIES for x in f.FEATURES}


def lookback_windows(indicator_ids: Iterable[str] | None = None) -> dict[str, tuple[Window, ...]]:
    """Each indicator's look-back windows: its own and its features', as the definitions read.

    A reporting date is checked against them (:func:`bsol_analytics.dates.check_reporting_date`);
    indicators that read no dated window (registers, place of death) are left out.

    Args:
        indicator_ids: the indicators (default every definition); unknown ids are ignored.

    Examples:
        >>> lookback_windows(["HYP_PREV", "HYP_BP_CHECK_45", "SCR_BOWEL"])
        {'HYP_BP_CHECK_45': (Window(source='measurements', months=60, days=0),), 'SCR_BOWEL': (Window(source='screening', months=30, days=0),)}
    """  # noqa: E501
    out = {}
    for i in DEFINITIONS if indicator_ids is None else indicator_ids:
        definition = DEFINITIONS.get(i)
        if definition is None:
            continue
        windows = [*definition.windows]
        windows += [w for name in definition.features for w in FEATURES[name].windows]
        if windows:
            out[i] = tuple(dict.fromkeys(windows))
    return out


#: Columns each table must have, and which of them are dates.
REQUIRED: dict[str, tuple[str, ...]] = {
    "patients": (
        "patient_id",
        "sex",
        "date_of_birth",
        "registration_start",
        "registration_end",
        "date_of_death",
        "place_of_death",
    ),
    "clinical_events": ("patient_id", "event_date", "cluster", "numeric_value"),
    "screening": ("patient_id", "programme", "test_date", "outcome"),
    "admissions": ("patient_id", "admission_date", "admission_method"),
    "medications": ("patient_id", "issue_date", "drug_group"),
    "ed_attendances": ("patient_id", "attendance_date"),
}
DATES: dict[str, tuple[str, ...]] = {
    "patients": ("date_of_birth", "registration_start", "registration_end", "date_of_death"),
    "clinical_events": ("event_date",),
    "screening": ("test_date",),
    "admissions": ("admission_date",),
    "medications": ("issue_date",),
    "ed_attendances": ("attendance_date",),
}
#: Tables the definitions can do without (an indicator needing one is skipped).
OPTIONAL_TABLES: tuple[str, ...] = ("admissions", "medications", "ed_attendances")
#: Position of each indicator in registry order, for sorting outputs.
_REGISTRY_ORDER: dict[str, int] = {i: n for n, i in enumerate(DEFINITIONS)}
#: Keys computed by the engine rather than read from ``patients``: ``age_band`` (ESP2013),
#: ``age``, ``le_age_band`` (life-table bands, :data:`~bsol_analytics.vocabulary.LE_AGE_BANDS`) and
#: ``diabetes_type`` (``Type 1``, ``Type 2``, ``Unknown`` at RD).
DERIVED_KEYS: tuple[str, ...] = ("age_band", "age", "le_age_band", "diabetes_type")
#: Derived keys held as band codes inside the engines and labelled in the output.
_BANDED_KEYS: dict[str, tuple[str, ...]] = {"age_band": AGE_BANDS, "le_age_band": LE_AGE_BANDS}


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ParameterError(f"Unknown engine '{engine}'. Choose one of: {', '.join(ENGINES)}.")


def _check_columns(table: str, columns: Iterable[str]) -> None:
    have = set(columns)
    for col in REQUIRED[table]:
        if col not in have:
            raise ExtractError(
                table,
                col,
                "is required by the indicator definitions but is missing",
                hint="Run 'bsol prepare' on the extract and point the suite at its output.",
            )


def _admissions_flag(folder: Path) -> bool | None:
    manifest = folder / PREPARE_MANIFEST
    if manifest.is_file():
        try:
            value = json.loads(manifest.read_text(encoding="utf-8")).get("admissions_supplied")
        except (OSError, ValueError):
            return None
        return None if value is None else bool(value)
    return None


def _row_linked(sources: Mapping[str, str]) -> str | None:
    """The digest of the patients that the linked tables in ``sources`` count rows of.

    ``bsol prepare`` writes :data:`PATIENT_ROW` in every linked table and records in each
    file the digest of the patients it counts (:data:`PATIENTS_DIGEST`). ``None`` unless
    every linked table has both and they agree; the caller checks the digest against the
    patients it reads.
    """
    digests = set()
    for table, source in sources.items():
        if table == "patients":
            continue
        if source.endswith("*.parquet"):  # a folder of parts: not written by prepare
            return None
        meta = pq.read_metadata(source)
        if PATIENT_ROW not in meta.schema.names:
            return None
        digests.add((meta.metadata or {}).get(PATIENTS_DIGEST.encode(), b"").decode())
    return digests.pop() if len(digests) == 1 and "" not in digests else None


def _path(source: str) -> str:
    """A Parquet source (a file, or a glob over a folder of parts) as a dataset path."""
    return source.removesuffix("/*.parquet")


def _parse_dates(table: str, column: str, values: pd.Series) -> pd.Series:
    """One date column as ``datetime64[ms]``: typed dates kept, text read as ISO 8601.

    Already-typed values (``datetime64``, ``datetime.date``) pass through; text must be ISO
    ``YYYY-MM-DD`` (a time part is allowed), blank is missing. Anything else is refused with
    the first offending rows, rather than guessed at element by element.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        try:
            parsed = pd.to_datetime(values, format="ISO8601")
        except (ValueError, TypeError, OverflowError):
            coerced = pd.to_datetime(values, format="ISO8601", errors="coerce")
            text = values.astype("str").str.strip()
            bad = (coerced.isna() & values.notna() & (text != "")).to_numpy()
            positions = bad.nonzero()[0]
            example = values.iloc[positions[0]] if len(positions) else None
            raise ExtractError(
                table,
                column,
                "must hold dates",
                rows=(positions[:5] + 1).tolist(),
                hint=f"Write dates as YYYY-MM-DD; '{example}' could not be read.",
            ) from None
    try:
        return parsed.astype("datetime64[ms]")
    except (ValueError, TypeError) as err:
        raise ExtractError(
            table, column, "must hold dates", hint=f"The values could not be read ({err})."
        ) from None


def _pandas_dates(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """A new frame with the table's date columns parsed by :func:`_parse_dates`."""
    return df.assign(**{col: _parse_dates(table, col, df[col]) for col in DATES[table]})


def _to_pandas_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Validate a dict of pandas tables and return new frames with proper date columns."""
    if not isinstance(tables, Mapping):
        raise ParameterError(
            "tables must be a folder of prepared Parquet files or a dict of pandas DataFrames."
        )
    out: dict[str, pd.DataFrame] = {}
    for table in REQUIRED:
        df = tables.get(table)
        if df is None:
            if table in OPTIONAL_TABLES:
                continue
            raise ExtractError(table, None, "is required but was not supplied")
        if not isinstance(df, pd.DataFrame):
            raise ParameterError(f"Table '{table}' must be a pandas DataFrame.")
        _check_columns(table, df.columns)
        if table == "admissions" and len(df) == 0:
            continue
        out[table] = _pandas_dates(table, df)
    return out


def _arrow_to_pandas(table: str, data: pa.Table) -> pd.DataFrame:
    """An Arrow table as a pandas frame for the pandas engine.

    Text becomes categorical (filters, joins and group-bys then move integer codes) and dates
    become ``datetime64[ms]``. Columns read from Parquet as dictionaries are already
    categorical and pass through without re-encoding.
    """
    cols = {}
    for name in data.column_names:
        col = data[name]
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pc.dictionary_encode(col)
        cols[name] = col
    df = pa.table(cols).to_pandas(date_as_object=False, self_destruct=True)
    late = [c for c in DATES[table] if not pd.api.types.is_datetime64_any_dtype(df[c])]
    return _pandas_dates(table, df) if late else df


def _patient_codes(columns: Sequence[pa.ChunkedArray], ids: pa.Array) -> list[pa.ChunkedArray]:
    """Each column of patient ids as row numbers in ``ids`` (null: not in ``ids``).

    One hash lookup over all the columns together (building the hash table of ``ids`` costs
    as much as looking up a few million rows).

    Examples:
        >>> ids = pa.array(["a", "b", "c"])
        >>> [c.to_pylist() for c in _patient_codes(
        ...     [pa.chunked_array([["c", "x"]]), pa.chunked_array([["a"]])], ids)]
        [[2, None], [0]]
    """
    chunks = [chunk.cast(ids.type) for col in columns for chunk in col.chunks]
    found = pc.index_in(pa.chunked_array(chunks, type=ids.type), value_set=ids)
    out, start = [], 0
    for col in columns:
        out.append(found.slice(start, len(col)).cast(pa.int64()))
        start += len(col)
    return out


def _matched_codes(tables: Mapping[str, pa.Table], ids: pa.Array) -> dict[str, pa.ChunkedArray]:
    """Each linked table's patient codes, by matching ``patient_id`` text to ``ids``."""
    others = [t for t in tables if t != "patients"]
    own, *found = _patient_codes(
        [tables["patients"]["patient_id"], *(tables[t]["patient_id"] for t in others)], ids
    )
    if not own.equals(pa.chunked_array([np.arange(len(ids), dtype=np.int64)])):
        dup = ids.to_pandas().duplicated()  # a repeated id finds its first row
        raise ExtractError(
            "patients", "patient_id", "must be unique", rows=(dup[dup].index + 1)[:5].tolist()
        )
    return dict(zip(others, found, strict=True))


def _row_codes(tables: Mapping[str, pa.Table], n: int) -> dict[str, pa.ChunkedArray]:
    """Each linked table's patient codes: the :data:`PATIENT_ROW` that prepare wrote."""
    codes = {}
    for table, data in tables.items():
        if table == "patients":
            continue
        rows = data["patient_id"]  # read from PATIENT_ROW (see _read_arrow)
        low, high = pc.min_max(rows).values()
        if rows.null_count or (len(rows) and (low.as_py() < 0 or high.as_py() >= n)):
            raise ExtractError(
                table,
                PATIENT_ROW,
                f"must be a row of patients (0 to {n - 1:,})",
                hint="The prepared folder's files do not belong together: run 'bsol prepare' "
                "again.",
            )
        codes[table] = rows.cast(pa.int64())
    return codes


def _frames_pandas(tables: Mapping[str, pa.Table], by_row: bool = False) -> Frames:
    """Pandas frames with patient ids replaced by integer codes (row number in patients).

    The codes are the :data:`PATIENT_ROW` columns when ``by_row`` (a prepared folder whose
    tables carry them), else found by matching ``patient_id``.
    """
    patients = tables["patients"]
    ids = patients["patient_id"].combine_chunks()
    codes = _row_codes(tables, len(ids)) if by_row else _matched_codes(tables, ids)
    rows = pa.array(np.arange(len(ids), dtype=np.int64))

    def recode(table: str) -> nw.DataFrame:
        data = tables[table]
        code = codes[table]
        if PATIENT_ROW in data.column_names:  # frames from clean_tables: ids are matched
            data = data.drop_columns([PATIENT_ROW])
        data = data.set_column(data.column_names.index("patient_id"), "patient_id", code)
        if code.null_count:  # rows of people not in patients are dropped
            data = data.filter(pc.is_valid(code))
        return nw.from_native(_arrow_to_pandas(table, data), eager_only=True)

    people = patients.set_column(patients.column_names.index("patient_id"), "patient_id", rows)
    frames = Frames(
        patients=nw.from_native(_arrow_to_pandas("patients", people), eager_only=True),
        clinical_events=recode("clinical_events"),
        screening=recode("screening"),
        backend="pandas",
        patient_ids=ids,
        **{t: recode(t) if t in tables else None for t in OPTIONAL_TABLES},
    )
    return _with_inputs(frames)


def _with_inputs(frames: Frames) -> Frames:
    """``frames`` with :attr:`Frames.inputs` worked out (one small query for cholesterol)."""
    have = {t for t in OPTIONAL_TABLES if getattr(frames, t) is not None}
    if frames.admissions is not None and "primary_diagnosis" in _schema_names(frames.admissions):
        have.add("admissions.primary_diagnosis")
    if "underlying_cause_of_death" in _schema_names(frames.patients):
        have.add("patients.underlying_cause_of_death")
    # the pandas engine keeps these rows for the cholesterol definitions (Frames.events)
    chol = frames.events(*cardiovascular.CHOLESTEROL_CLUSTERS).select(nw.len().alias("n"))
    n = chol.item() if isinstance(chol, nw.DataFrame) else chol.collect().item()
    if n:
        have.add("cholesterol")
    return frames.with_inputs(frozenset(have))


def _schema_names(frame: Any) -> list[str]:
    return list(frame.collect_schema().names())


def _arrow(table: str, df: pd.DataFrame) -> pa.Table:
    """A validated pandas table as Arrow, with ``date32`` date columns."""
    data = pa.Table.from_pandas(df, preserve_index=False)
    for col in DATES[table]:
        day = pc.cast(data[col], pa.date32(), safe=False)
        data = data.set_column(data.column_names.index(col), col, day)
    return data


def duckdb_connection() -> Any:
    """A DuckDB connection configured for out-of-core work.

    Memory limit from ``BSOL_DUCKDB_MEMORY_LIMIT`` (default ``4GB``), threads from
    ``BSOL_DUCKDB_THREADS`` (default: all cores), spill files in the system temp folder.

    Examples:
        >>> con = duckdb_connection()
        >>> con.sql("select 1 + 1 as two").fetchall()
        [(2,)]
    """
    import duckdb

    config = {
        "memory_limit": os.environ.get("BSOL_DUCKDB_MEMORY_LIMIT", "4GB"),
        "preserve_insertion_order": False,
        "temp_directory": os.path.join(tempfile.gettempdir(), "bsol_duckdb_spill"),
    }
    threads = os.environ.get("BSOL_DUCKDB_THREADS")
    if threads:
        config["threads"] = int(threads)
    return duckdb.connect(config=config)


def spark_session() -> Any:
    """The local Spark session used by the ``spark`` engine (created on first use).

    Raises:
        BsolError: when PySpark or Java is not available.

    Examples:
        >>> os.environ.get("BSOL_SPARK_MASTER", "local[2]")  # the default master
        'local[2]'
        >>> spark = spark_session()  # doctest: +SKIP
        >>> spark.conf.get("spark.sql.shuffle.partitions")  # doctest: +SKIP
        '8'
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise BsolError(
            "The spark engine needs PySpark: install the 'spark' extra "
            "(pip install 'bsol-analytics[spark]') or choose --engine pandas or duckdb."
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    try:
        return (
            SparkSession.builder.master(os.environ.get("BSOL_SPARK_MASTER", "local[2]"))
            .appName("bsol_analytics")
            .config("spark.sql.shuffle.partitions", os.environ.get("BSOL_SPARK_PARTITIONS", "8"))
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    except Exception as err:  # Java missing or failing to start
        raise BsolError(
            "The spark engine could not start a local Spark session (it needs Java 17 or "
            f"later on the PATH or JAVA_HOME): {err}. Choose --engine pandas or duckdb."
        ) from None


def _lazy_columns(frame: Any) -> list[str]:
    return list(frame.collect_schema().names())


def _check_lazy_dates(table: str, frame: Any) -> None:
    """Refuse a Parquet date column that is not a date type (the lazy engines compare dates)."""
    schema = frame.collect_schema()
    for col in DATES[table]:
        if schema[col] not in (nw.Date, nw.Datetime):
            raise ExtractError(
                table,
                col,
                f"must be stored as a date, not {schema[col]}",
                hint="Run 'bsol prepare' on the extract; it writes Parquet date columns.",
            )


#: Columns read besides :data:`REQUIRED` when present (the optional inputs); ``patients``
#: is read whole unless the keys are known, since any of its columns may be a key.
_OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "admissions": ("primary_diagnosis",),
    "patients": ("underlying_cause_of_death",),
}


def use_reading_memory_pool() -> str:
    """Make jemalloc (else the system allocator) Arrow's default pool; return its name.

    pyarrow's usual default, mimalloc, hands memory back to the system eagerly: reading
    the prepared tables of the full default extract took 4.6-5.0 s with it, about half
    of it in the kernel, against 2.9-3.2 s with jemalloc, which also peaked 10% lower.
    A pool chosen with the ``ARROW_DEFAULT_MEMORY_POOL`` environment variable is kept.
    Buffers allocated before the switch stay with their own pool, so this is safe at
    any time. Forked workers inherit the choice.

    Examples:
        >>> use_reading_memory_pool() in ("jemalloc", "system", "mimalloc")
        True
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return pa.default_memory_pool().backend_name
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
    return pool.backend_name


def _read_arrow(
    table: str, source: str, keys: Sequence[str] | None = None, by_row: bool = False
) -> pa.Table:
    """One prepared table for the pandas engine, reading only what the definitions use.

    The :data:`REQUIRED` and :data:`_OPTIONAL_COLUMNS`, and for ``patients`` the ``keys``
    (every column when ``keys`` is ``None``); text other than ``patient_id`` is read as
    dictionaries (integer codes, categorical in pandas). With ``by_row``, a linked table's
    :data:`PATIENT_ROW` is read in place of its ``patient_id``, under that name.
    """
    path = _path(source)
    schema = ds.dataset(path, format="parquet").schema
    _check_columns(table, schema.names)
    wanted = set(REQUIRED[table]) | set(_OPTIONAL_COLUMNS.get(table, ()))
    whole = table == "patients" and keys is None
    wanted |= set(keys or ()) if table == "patients" else set()
    if by_row and table != "patients":
        wanted = (wanted - {"patient_id"}) | {PATIENT_ROW}
    columns = [c for c in schema.names if whole or c in wanted]
    text = [c for c in columns if pa.types.is_string(schema.field(c).type) and c != "patient_id"]
    options = ds.ParquetReadOptions(dictionary_columns=text)
    dataset = ds.dataset(path, format=ds.ParquetFileFormat(read_options=options))
    data = dataset.to_table(columns=columns)
    if by_row and table != "patients":
        data = data.rename_columns(["patient_id" if c == PATIENT_ROW else c for c in columns])
    return data


def _tables_for(indicators: Sequence[str] | str | None) -> set[str] | None:
    """The tables the definitions of ``indicators`` read (``None``: every table).

    Examples:
        >>> sorted(_tables_for(["HYP_PREV"]))
        ['clinical_events', 'patients', 'screening']
        >>> _tables_for(None) is None
        True
    """
    if indicators is None:
        return None
    ids = [indicators] if isinstance(indicators, str) else list(indicators)
    if any(i not in DEFINITIONS for i in ids):
        return None  # compute_cube names the unknown ids
    inputs = {x.split(".")[0] for i in ids for x in DEFINITIONS[i].inputs}
    return set(REQUIRED).difference(OPTIONAL_TABLES) | (inputs & set(OPTIONAL_TABLES))


def _load_folder(
    folder: str | os.PathLike[str],
    engine: str,
    keys: Sequence[str] | None = None,
    indicators: Sequence[str] | str | None = None,
) -> Frames:
    """Open the prepared tables in ``folder`` (see :func:`load_tables`)."""
    _check_engine(engine)
    folder = Path(folder)
    if not folder.is_dir():
        raise ParameterError(
            f"The folder {folder} does not exist. Point the suite at a folder written by "
            "'bsol prepare'."
        )
    sources = {t: parquet_source(folder, t) for t in REQUIRED}
    for table in ("patients", "clinical_events", "screening"):
        if sources[table] is None:
            raise ExtractError(
                table,
                None,
                f"has no Parquet file in {folder}",
                hint="Run 'bsol prepare' first; the indicators read its Parquet output.",
            )
    supplied = _admissions_flag(folder)
    if engine == "pandas":
        use_reading_memory_pool()
        wanted = _tables_for(indicators) or set(sources)
        chosen = {t: src for t, src in sources.items() if src is not None and t in wanted}
        digest = _row_linked(chosen)
        tables = {t: _read_arrow(t, src, keys, digest is not None) for t, src in chosen.items()}
        by_row = digest is not None and text_sha256(tables["patients"]["patient_id"]) == digest
        if digest is not None and not by_row:  # patients rewritten since: match the ids
            tables |= {t: _read_arrow(t, src, keys) for t, src in chosen.items() if t != "patients"}
        if supplied is False or ("admissions" in tables and tables["admissions"].num_rows == 0):
            tables.pop("admissions", None)
        # medications and ed_attendances: present = supplied
        return _frames_pandas(tables, by_row)

    if engine == "duckdb":
        con = duckdb_connection()
        lazy = {t: nw.from_native(con.read_parquet(src)) for t, src in sources.items() if src}
    else:
        spark = spark_session()
        lazy = {
            t: nw.from_native(spark.read.parquet(_path(src))) for t, src in sources.items() if src
        }
    for table, frame in lazy.items():
        _check_columns(table, _lazy_columns(frame))
        _check_lazy_dates(table, frame)
    admissions = lazy.get("admissions")
    if admissions is not None and supplied is None:
        supplied = bool(admissions.select(nw.len()).collect().item())
    if not supplied:
        admissions = None
    frames = Frames(
        patients=lazy["patients"],
        clinical_events=lazy["clinical_events"],
        screening=lazy["screening"],
        admissions=admissions,
        backend=engine,
        medications=lazy.get("medications"),
        ed_attendances=lazy.get("ed_attendances"),
    )
    return _with_inputs(frames)


def load_tables(
    tables: Any,
    engine: str = "pandas",
    keys: Sequence[str] | None = None,
    indicators: Sequence[str] | str | None = None,
) -> Frames:
    """Open the tables once for ``engine``; every later call can then reuse the result.

    A prepared folder: ``pandas`` reads the files into memory (only the columns the
    definitions use, and of ``patients`` only the ``keys`` besides, when given: then no
    other patient column can be a key of a cube of these tables); ``duckdb`` and ``spark``
    open them lazily (each table may be one
    Parquet file or a folder of Parquet parts). Admissions count as supplied when
    ``prepare_manifest.json`` says so, or, without a manifest, when the table has rows. A
    dict of pandas DataFrames is checked and converted; tables already loaded for
    ``engine`` are returned as they are. Pass the result to :func:`compute_cube`,
    :func:`computable_indicators` and :func:`patient_flags` to read the data only once.

    Args:
        tables: a folder written by ``bsol prepare``, a dict of pandas DataFrames
            (``patients``, ``clinical_events``, ``screening`` and optional tables) or the
            result of an earlier call.
        engine: ``"pandas"``, ``"duckdb"`` or ``"spark"``.
        keys: the patient columns that cubes of these tables will use as keys (pandas
            engine, prepared folder); ``None`` reads every patient column.
        indicators: the only indicators these tables will be used for (pandas engine,
            prepared folder): the optional tables none of them needs are not read (and
            count as absent); ``None`` reads every table.

    Returns:
        The tables as :class:`~bsol_analytics.indicators.base.Frames`.

    Raises:
        ParameterError: an unknown engine, a missing folder, or tables loaded for another
            engine.
        ExtractError: a required table or column is missing.

    Examples:
        >>> load_tables("/no/such/folder")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: The folder /no/such/folder does not exist...
    """
    _check_engine(engine)
    if isinstance(tables, Frames):
        if tables.backend != engine:
            raise ParameterError(
                f"These tables were loaded for the {tables.backend} engine, not {engine}."
            )
        return tables if tables.inputs else _with_inputs(tables)  # built by hand: work out
    if isinstance(tables, str | os.PathLike):
        return _load_folder(tables, engine, keys, indicators)
    checked = _to_pandas_tables(tables)
    if engine == "pandas":
        return _frames_pandas({t: _arrow(t, df) for t, df in checked.items()})
    if engine == "duckdb":
        con = duckdb_connection()
        lazy = {t: nw.from_native(con.from_arrow(_arrow(t, df))) for t, df in checked.items()}
    else:
        spark = spark_session()
        lazy = {
            t: nw.from_native(spark.createDataFrame(_arrow(t, df))) for t, df in checked.items()
        }
    frames = Frames(
        patients=lazy["patients"],
        clinical_events=lazy["clinical_events"],
        screening=lazy["screening"],
        admissions=lazy.get("admissions"),
        backend=engine,
        medications=lazy.get("medications"),
        ed_attendances=lazy.get("ed_attendances"),
    )
    return _with_inputs(frames)


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


def _reporting_dates(values: Any) -> list[dt.date]:
    if isinstance(values, str | dt.date | pd.Timestamp):
        values = [values]
    out = [parse_date(value) for value in values]
    if not out:
        raise ParameterError("Give at least one reporting date.")
    return sorted(set(out))


def _skip_reason(definition: Indicator, inputs: frozenset[str]) -> str | None:
    """Why ``definition`` cannot be computed from ``inputs``, or ``None`` when it can."""
    missing = [INPUTS[x] for x in definition.inputs if x not in inputs]
    if not missing:
        return None
    return "; ".join(unique(missing))


def computable_indicators(tables: Any, engine: str = "pandas") -> tuple[list[str], dict[str, str]]:
    """Which indicators the prepared tables can give, and why the others are skipped.

    An indicator is skipped when an input it needs is absent: a version 1 extract has no
    medications or ED attendances table, no primary diagnosis or cause of death, and no
    cholesterol values. :func:`compute_cube` skips the same indicators.

    Args:
        tables: as for :func:`compute_cube` (a prepared folder, a dict of pandas DataFrames
            or the result of :func:`load_tables`).
        engine: the engine that opens them (``"pandas"`` by default).

    Returns:
        The computable ids in registry order, and ``{id: plain-English reason}`` for the
        skipped ones, also in registry order.

    Examples:
        >>> import pandas as pd
        >>> tables = {"patients": pd.DataFrame({
        ...     "patient_id": ["a"], "sex": ["F"], "date_of_birth": ["1960-04-01"],
        ...     "registration_start": ["2000-01-01"], "registration_end": [None],
        ...     "date_of_death": [None], "place_of_death": [None]}),
        ...     "clinical_events": pd.DataFrame(columns=REQUIRED["clinical_events"]),
        ...     "screening": pd.DataFrame(columns=REQUIRED["screening"])}
        >>> ok, skipped = computable_indicators(tables)
        >>> "HYP_PREV" in ok, skipped["CVD_LLT"]
        (True, 'the extract has no medications table')
    """
    frames = load_tables(tables, engine)
    skipped = {}
    for i, definition in DEFINITIONS.items():
        reason = _skip_reason(definition, frames.inputs)
        if reason:
            skipped[i] = reason
    return [i for i in DEFINITIONS if i not in skipped], skipped


def _indicator_ids(indicators: Sequence[str] | None, frames: Frames) -> list[str]:
    reasons = {i: _skip_reason(d, frames.inputs) for i, d in DEFINITIONS.items()}
    if indicators is None:
        skipped = [i for i, r in reasons.items() if r]
        if skipped:
            log.info("Indicators skipped (inputs absent): %s.", ", ".join(skipped))
        return [i for i, r in reasons.items() if not r]
    if isinstance(indicators, str):
        indicators = [indicators]
    unknown = [i for i in indicators if i not in DEFINITIONS]
    if unknown:
        raise ParameterError(
            f"Unknown indicator id(s): {', '.join(unknown)}. Known ids: {', '.join(DEFINITIONS)}."
        )
    for i in indicators:
        if reasons[i]:
            needs = " and ".join(INPUT_NAMES[x] for x in DEFINITIONS[i].inputs)
            raise ParameterError(f"{i} needs {needs}, but {reasons[i]}.")
    return [i for i in DEFINITIONS if i in set(indicators)]


def _keys(keys: Sequence[str] | str | None, patient_columns: Sequence[str]) -> list[str]:
    if keys is None:
        return []
    if isinstance(keys, str):
        keys = [keys]
    elif not isinstance(keys, Iterable):
        raise ParameterError(f"keys must be a column name or a list of them, not {keys!r}.")
    keys = unique(keys)
    allowed = set(patient_columns) | set(DERIVED_KEYS)
    forbidden = {"patient_id", *DATES["patients"]}
    for key in keys:
        if key not in allowed or key in forbidden:
            raise ParameterError(
                f"'{key}' cannot be used as a key: keys are patient attributes such as "
                "practice_code, practice_locality, resident_locality, pcn_code, "
                "imd2025_quintile, ethnicity_broad, sex or age_band."
            )
    return keys


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------


def _setup(
    tables: Any, engine: str, indicators: Sequence[str] | None, keys: Sequence[str] | str | None
) -> tuple[Frames, list[str], list[str]]:
    """Validated tables, indicator ids and keys shared by the cube and the patient flags."""
    frames = load_tables(tables, engine)
    ids = _indicator_ids(indicators, frames)
    patient_columns = (
        list(frames.patients.columns) if engine == "pandas" else _lazy_columns(frames.patients)
    )
    return frames, ids, _keys(keys, patient_columns)


def population_frame(frames: Frames, ctx: Context, population: str, keys: Sequence[str]) -> Any:
    """Patients in ``population`` at ``ctx.rd`` with the key columns, ``age`` and ``age_band``.

    ``age_band`` is the ESP2013 band code (0-18); :func:`compute_cube` turns it into labels.

    Examples:
        >>> import pandas as pd
        >>> frames = load_tables({"patients": pd.DataFrame({
        ...     "patient_id": ["a"], "sex": ["F"], "date_of_birth": ["1960-04-01"],
        ...     "registration_start": ["2000-01-01"], "registration_end": [None],
        ...     "date_of_death": [None], "place_of_death": [None]}),
        ...     "clinical_events": pd.DataFrame(columns=REQUIRED["clinical_events"]),
        ...     "screening": pd.DataFrame(columns=REQUIRED["screening"])}, "pandas")
        >>> population_frame(frames, Context(dt.date(2025, 3, 31)), "registered", []
        ...                  ).to_native()
           patient_id sex  age  age_band
        0           0   F   64        12
    """
    base_cols = [k for k in keys if k not in DERIVED_KEYS]
    p = frames.patients
    at_rd = whole_years(nw.col("date_of_birth"), ctx.rd)
    at_death = whole_years(nw.col("date_of_birth"), nw.col("date_of_death"))
    if population == "registered":
        chosen = p.filter(registered_at(ctx)).select(
            *unique(["patient_id", "sex", *base_cols]), at_rd.alias("age")
        )
    elif population == "decedents":
        cols = unique(["patient_id", "sex", *base_cols, "date_of_death", "place_of_death"])
        chosen = p.filter(end_of_life.decedents(p, ctx)).select(*cols, at_death.alias("age"))
    else:  # mortality: the population at RD and the deaths within 36 months, stacked
        cols = unique(["patient_id", "sex", *base_cols, "date_of_death"])
        zero = nw.lit(0, nw.Int64)
        at_rd_rows = p.filter(registered_at(ctx)).select(
            *cols, at_rd.alias("age"), zero.alias("_role"), zero.alias("_recent")
        )
        recent = ctx.within("date_of_death", DECEDENT_MONTHS).cast(nw.Int64)
        dead = p.filter(end_of_life.decedents(p, ctx, MORTALITY_MONTHS)).select(
            *cols,
            at_death.alias("age"),
            nw.lit(1, nw.Int64).alias("_role"),
            recent.alias("_recent"),
        )
        chosen = nw.concat([at_rd_rows, dead], how="vertical")
    out = chosen.with_columns(age_band_code(nw.col("age")).alias("age_band"))
    if "le_age_band" in keys:
        out = out.with_columns(le_age_band_code(nw.col("age")).alias("le_age_band"))
    if "diabetes_type" in keys:
        kinds = diabetes.diabetes_type(frames.events("DMTYPE1_COD", "DMTYPE2_COD"), ctx)
        out = out.join(kinds, on="patient_id", how="left").with_columns(
            nw.col("diabetes_type").fill_null("Unknown")
        )
    return out


def _wide(frames: Frames, ctx: Context, population: str, ids: Sequence[str], keys: Sequence[str]):
    """Population with features joined and one ``_d_``/``_n_`` flag pair per indicator."""
    pop = population_frame(frames, ctx, population, keys)
    needed = unique(f for i in ids for f in DEFINITIONS[i].features)
    for name in needed:
        feature = FEATURES[name]
        pop = pop.join(feature.build(frames, ctx, pop), on="patient_id", how="left")
    flags = []
    for i in ids:
        definition = DEFINITIONS[i]
        d = definition.denominator().fill_null(False)
        if definition.count_numerator:  # a per-patient count, summed over the denominator
            n = nw.when(d).then(definition.numerator().fill_null(0)).otherwise(nw.lit(0))
        elif not definition.numerator_in_denominator:  # deaths over a population at RD
            n = definition.numerator().fill_null(False)
        else:
            n = d & definition.numerator().fill_null(False)
        flags += [d.alias(f"_d_{i}"), n.alias(f"_n_{i}")]
    return pop.with_columns(*flags)


def _collect(frame: Any) -> pd.DataFrame:
    if isinstance(frame, nw.DataFrame):
        return frame.to_native()
    return frame.collect("pyarrow").to_native().to_pandas()


def _aggregate(wide: Any, ids: Sequence[str], keys: Sequence[str], tag: int) -> Any:
    """Sum the flag pairs by keys (not collected); ``_rd`` = ``tag`` identifies the date."""
    cols = [f"_{x}_{i}" for i in ids for x in ("d", "n")]
    if keys and isinstance(wide, nw.DataFrame) and wide.implementation.is_pandas():
        return nw.from_native(_pandas_sums(wide.to_native(), cols, keys, tag))
    counts = wide.with_columns(nw.col(c).cast(nw.Int64) for c in cols)
    if keys:
        agg = counts.group_by(*keys, drop_null_keys=False).agg(nw.col(c).sum() for c in cols)
    else:
        agg = counts.select(nw.col(c).sum() for c in cols)
    return agg.with_columns(nw.lit(tag, nw.Int64).alias("_rd"))


def _pandas_sums(
    wide: pd.DataFrame, cols: list[str], keys: Sequence[str], tag: int
) -> pd.DataFrame:
    """:func:`_aggregate` on a pandas frame: every column summed in one grouped pass.

    Boolean flags are summed as they are (their sums are int64 counts), other columns
    cast to ``Int64`` as on the other engines. The groups are those of narwhals'
    ``group_by(drop_null_keys=False)``: missing keys kept, unsorted, observed categories.

    Examples:
        >>> w = pd.DataFrame({"k": ["a", None, "a"], "_d_X": [True, True, False],
        ...     "_n_X": [1.0, 0.0, 2.0]})
        >>> _pandas_sums(w, ["_d_X", "_n_X"], ["k"], 3)
             k  _d_X  _n_X  _rd
        0    a     1     3    3
        1  NaN     1     0    3
    """
    values = wide[cols]
    other = [c for c in cols if values[c].dtype != bool]
    if other:  # cast as the other engines do
        cast = nw.from_native(values[other]).select(nw.col(c).cast(nw.Int64) for c in other)
        values = values.assign(**{c: s for c, s in cast.to_native().items()})
    by = [wide[k] for k in keys]
    sums = values.groupby(by, sort=False, dropna=False, observed=True).sum().reset_index()
    return sums.assign(_rd=np.int64(tag))


def _long(agg: pd.DataFrame, ids: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    """Wide sums (one column pair per indicator) to one row per indicator, zero rows dropped.

    Rows are indicator by indicator, each in the order of ``agg``; the key columns are
    copied once (one ``take``) and ``indicator_id`` is categorical.
    """
    rows, which, nums, dens = [], [], [], []
    for j, i in enumerate(ids):
        numerator = agg[f"_n_{i}"].fillna(0).astype("int64").to_numpy()
        denominator = agg[f"_d_{i}"].fillna(0).astype("int64")
        whole = [k for k in keys if k in DEFINITIONS[i].whole_denominator_keys]
        if whole:  # split the numerator only: each cell keeps the denominator of all values
            by = [agg[k] for k in [*keys, "_rd"] if k not in whole]
            denominator = denominator.groupby(by, dropna=False).transform("sum")
        denominator = denominator.to_numpy()
        keep = np.flatnonzero((denominator > 0) | (numerator > 0))
        rows.append(keep)
        which.append(np.full(len(keep), j, dtype=np.int64))
        nums.append(numerator[keep])
        dens.append(denominator[keep])
    out = agg[[*keys, "_rd"]].take(np.concatenate(rows)).reset_index(drop=True)
    out["indicator_id"] = pd.Categorical.from_codes(np.concatenate(which), categories=list(ids))
    out["numerator"] = np.concatenate(nums)
    out["denominator"] = np.concatenate(dens)
    return out


def _key_kinds(frames: Frames) -> dict[str, str]:
    """Output dtype per patient column: ``boolean``, ``Int64`` or ``str`` on every engine."""
    kinds = {}
    for name, dtype in frames.patients.collect_schema().items():
        if dtype == nw.Boolean:
            kinds[name] = "boolean"
        elif dtype.is_numeric():
            kinds[name] = "Int64"
        else:
            kinds[name] = "str"
    return kinds | {"age": "Int64", "diabetes_type": "str"}


def _as_kind(values: pd.Series, kind: str) -> pd.Series:
    """``values.astype(kind)``; categorical text is converted once per category.

    Examples:
        >>> _as_kind(pd.Series(["b", None, "b"], dtype="category"), "str").tolist()
        ['b', nan, 'b']
    """
    if kind != "str" or not isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype(kind)
    labels = pd.array(values.cat.categories.astype("str"), dtype="str")
    taken = labels.take(values.cat.codes.to_numpy(np.intp), allow_fill=True)
    return pd.Series(taken, index=values.index, name=values.name)


def _tidy_keys(cube: pd.DataFrame, keys: Sequence[str], kinds: Mapping[str, str]) -> pd.DataFrame:
    """Key columns with the same dtypes whichever engine produced them."""
    return cube.assign(**{k: _as_kind(cube[k], kinds[k]) for k in keys if k not in _BANDED_KEYS})


def _sort_codes(values: pd.Series) -> np.ndarray:
    """Integers that order like ``values`` (categorical text as text), missing last.

    Examples:
        >>> _sort_codes(pd.Series(["b", None, "a"], dtype="category")).tolist()
        [1, 2, 0]
        >>> _sort_codes(pd.Series([3.0, None, 1.0])).tolist()
        [1, 2, 0]
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        text = np.asarray(values.cat.categories.astype("str"), dtype=object)
        rank = np.empty(len(text) + 1, dtype=np.int64)
        rank[np.argsort(text, kind="stable")] = np.arange(len(text))
        rank[-1] = len(text)  # code -1 (missing) sorts last
        return rank[values.cat.codes.to_numpy(np.intp)]
    codes, uniques = pd.factorize(values, sort=True)
    return np.where(codes < 0, len(uniques), codes)


def _finish_cube(
    cube: pd.DataFrame, dates: Sequence[dt.date], keys: Sequence[str], frames: Frames
) -> pd.DataFrame:
    """Sort the long cube by date, indicator (registry order) and keys; label the keys.

    Text keys become categorical codes ranked as text, so the sort runs on integers
    (:func:`bsol_analytics.compute.row_order`) and the labels are made once per distinct
    value; rows end in exactly the order that sorting the labelled columns would give.
    """
    kinds = _key_kinds(frames)
    cube = cube.copy()
    for k in keys:
        if kinds.get(k) == "str" and not isinstance(cube[k].dtype, pd.CategoricalDtype):
            codes, uniques = pd.factorize(cube[k], sort=True)
            cube[k] = pd.Categorical.from_codes(codes, categories=uniques)
    ind_codes, ind_ids = pd.factorize(cube.pop("indicator_id"))
    ranks = np.array([_REGISTRY_ORDER[i] for i in ind_ids], dtype=np.int64)
    order = [
        cube["_rd"].to_numpy(np.int64),
        ranks[ind_codes],
        *(_sort_codes(cube[k]) for k in keys),
    ]
    rows = row_order(order)
    cube = cube.take(rows)
    stamps = pd.to_datetime(pd.Series(dates)).astype("datetime64[ns]").to_numpy()
    cube.insert(0, "reporting_date", stamps[cube.pop("_rd").to_numpy()])
    ids = pd.array(np.asarray(ind_ids, dtype=object), dtype="str")
    cube["indicator_id"] = pd.Series(ids.take(ind_codes[rows]), index=cube.index)
    cube = _tidy_keys(cube, keys, kinds)
    for key, bands in _BANDED_KEYS.items():
        if key in keys:
            labels = pd.array(list(bands), dtype="str")
            codes = cube[key].to_numpy(dtype=np.float64, na_value=np.nan)
            valid = ~np.isnan(codes)
            taken = labels.take(np.where(valid, codes, -1).astype(np.intp), allow_fill=True)
            cube[key] = pd.Series(taken, index=cube.index)
    cols = ["reporting_date", *keys, "indicator_id", "numerator", "denominator"]
    return cube[cols].reset_index(drop=True)


def compute_cube(
    tables: Any,
    reporting_dates: Any,
    keys: Sequence[str] | str | None,
    engine: str = "pandas",
    indicators: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Numerators and denominators by reporting date, keys and indicator.

    Args:
        tables: a folder of prepared Parquet tables, a dict of pandas DataFrames
            (``patients``, ``clinical_events``, ``screening`` and optionally ``admissions``)
            or the result of :func:`load_tables`.
        reporting_dates: one date or several (``YYYY-MM-DD`` strings, dates or Timestamps).
        keys: patient attributes to group by, e.g. ``["practice_locality",
            "imd2025_quintile"]``; ``age_band`` (ESP2013, at RD or at death) and ``sex`` are
            always available. ``None`` or ``[]`` gives one row per date and indicator.
        engine: ``"pandas"`` (default), ``"duckdb"`` or ``"spark"``.
        indicators: ids to compute (default: all; ``EOL_3PLUS_EMERG`` only when admissions
            were supplied).

    Returns:
        A new frame with ``reporting_date`` (datetime64), the keys, ``indicator_id`` and
        int64 ``numerator`` and ``denominator``; one row per combination with a non-zero
        denominator, sorted by date, indicator (registry order) and keys.

    Raises:
        ParameterError: unknown engine, indicator, key or an invalid date.
        ExtractError: a table or column the definitions need is missing.

    Examples:
        >>> import pandas as pd
        >>> patients = pd.DataFrame({
        ...     "patient_id": ["p1", "p2"], "sex": ["F", "M"],
        ...     "date_of_birth": pd.to_datetime(["1950-06-01", "1990-01-01"]),
        ...     "registration_start": pd.to_datetime(["2000-01-01", "2000-01-01"]),
        ...     "registration_end": pd.NaT, "date_of_death": pd.NaT,
        ...     "place_of_death": None, "practice_locality": ["East", "East"]})
        >>> events = pd.DataFrame({"patient_id": ["p1"], "cluster": ["HYP_COD"],
        ...     "event_date": pd.to_datetime(["2010-01-01"]), "numeric_value": [None]})
        >>> screening = pd.DataFrame(columns=["patient_id", "programme", "test_date", "outcome"])
        >>> cube = compute_cube({"patients": patients, "clinical_events": events,
        ...     "screening": screening}, "2025-03-31", ["practice_locality"],
        ...     indicators=["HYP_PREV"])
        >>> cube[["practice_locality", "indicator_id", "numerator", "denominator"]]
          practice_locality indicator_id  numerator  denominator
        0              East     HYP_PREV          1            2
    """
    return compute_cubes(tables, [(reporting_dates, keys, indicators)], engine)[0]


def compute_cubes(
    tables: Any,
    requests: Sequence[tuple[Any, Sequence[str] | str | None, Sequence[str] | None]],
    engine: str = "pandas",
    jobs: int = 1,
) -> list[pd.DataFrame]:
    """Several cubes from one evaluation of the indicators per reporting date.

    Each request is ``(reporting_dates, keys, indicators)`` as for :func:`compute_cube`,
    and gets exactly the cube that :func:`compute_cube` would give it. On the pandas engine
    every date's patients, features and flags are evaluated once for all the requests that
    include the date (with the union of their keys and indicators) and then summed by each
    request's own keys, like SQL grouping sets: a run that needs fine keys at one date and
    coarse keys at others sums far fewer cells than one cube with every key at every date.
    The lazy engines do the same: DuckDB computes each date's shared patients into memory
    once (Arrow) and sums every request from them; Spark caches them and runs one job per
    request and population. With ``jobs`` above 1 (pandas, where processes can be forked)
    the dates are shared among that many worker processes, which read the tables already
    in memory; the cubes are the same.

    Args:
        tables: as for :func:`compute_cube`.
        requests: ``(reporting_dates, keys, indicators)`` per cube.
        engine: ``"pandas"`` (default), ``"duckdb"`` or ``"spark"``.
        jobs: worker processes for the dates (pandas engine; 1: none).

    Returns:
        One cube per request, in order.

    Examples:
        >>> import pandas as pd
        >>> patients = pd.DataFrame({
        ...     "patient_id": ["p1", "p2"], "sex": ["F", "M"],
        ...     "date_of_birth": pd.to_datetime(["1950-06-01", "1990-01-01"]),
        ...     "registration_start": pd.to_datetime(["2000-01-01", "2000-01-01"]),
        ...     "registration_end": pd.NaT, "date_of_death": pd.NaT,
        ...     "place_of_death": None, "practice_locality": ["East", "West"]})
        >>> events = pd.DataFrame({"patient_id": ["p1"], "cluster": ["HYP_COD"],
        ...     "event_date": pd.to_datetime(["2010-01-01"]), "numeric_value": [None]})
        >>> screening = pd.DataFrame(columns=["patient_id", "programme", "test_date", "outcome"])
        >>> tables = load_tables({"patients": patients, "clinical_events": events,
        ...     "screening": screening})
        >>> fine, coarse = compute_cubes(tables, [("2025-03-31", ["practice_locality"],
        ...     ["HYP_PREV"]), (["2024-12-31", "2025-03-31"], None, ["HYP_PREV"])])
        >>> len(fine), coarse["denominator"].tolist()
        (2, [2, 2])
    """
    frames = load_tables(tables, engine)
    parsed = []
    for dates, keys, indicators in requests:
        _, ids, keys = _setup(frames, engine, indicators, keys)
        parsed.append((_reporting_dates(dates), ids, keys))
    all_dates = sorted({d for dates, _, _ in parsed for d in dates})
    parts: list[list[pd.DataFrame]] = [[] for _ in parsed]
    if engine == "spark":
        done_parts: Iterable[list[tuple[int, pd.DataFrame]]] = [_spark_parts(frames, parsed)]
    else:
        done_parts = _map_dates(frames, parsed, all_dates, jobs if engine == "pandas" else 1)
    for done in done_parts:
        for j, part in done:
            parts[j].append(part)
    return [
        _finish_cube(pd.concat(p, ignore_index=True), dates, keys, frames)
        for p, (dates, _, keys) in zip(parts, parsed, strict=True)
    ]


#: What forked workers of :func:`_map_dates` evaluate (set only while they run).
_FORKED: dict[str, Any] = {}


def _map_dates(
    frames: Frames, parsed: list[tuple[list[dt.date], list[str], list[str]]], dates: list[dt.date],
    jobs: int,
) -> Iterator[list[tuple[int, pd.DataFrame]]]:  # fmt: skip
    """:func:`_date_parts` for every date, in ``jobs`` forked processes when above 1."""
    if jobs <= 1 or len(dates) <= 1 or "fork" not in mp.get_all_start_methods():
        return (_date_parts(frames, parsed, rd) for rd in dates)
    _FORKED.update(frames=frames, parsed=parsed)  # inherited by the forked workers
    # the dates most requests share (the reporting date: every key) start first, so that
    # no worker is left with the longest date at the end; the cubes are sorted later
    busiest = sorted(dates, key=lambda rd: -sum(rd in ds for ds, _, _ in parsed))
    try:
        context = mp.get_context("fork")
        with ProcessPoolExecutor(min(jobs, len(dates)), mp_context=context) as pool:
            return iter(list(pool.map(_forked_date_parts, busiest)))
    finally:
        _FORKED.clear()


def _forked_date_parts(rd: dt.date) -> list[tuple[int, pd.DataFrame]]:
    return _date_parts(_FORKED["frames"], _FORKED["parsed"], rd)


def _date_parts(
    frames: Frames, parsed: list[tuple[list[dt.date], list[str], list[str]]], rd: dt.date
) -> list[tuple[int, pd.DataFrame]]:
    """Each request's long counts at one date: ``(request number, part)`` pairs.

    Per population, the patients, features and flags are evaluated once, with the union of
    the keys and indicators of the requests that include ``rd``, and summed per request.
    """
    out = []
    for population in _POPULATIONS:
        users, ids, keys = _date_users(parsed, rd, population)
        if not users:
            continue
        wide = _wide(frames, Context(rd, frames.backend), population, ids, keys)
        if frames.backend == "duckdb" and len(users) > 1:  # evaluated once for every request
            wide = _in_memory(wide)
        for j, chosen, ks in users:
            n = parsed[j][0].index(rd)
            out.append((j, _long(_collect(_aggregate(wide, chosen, ks, n)), chosen, ks)))
    return out


def _in_memory(wide: Any) -> Any:
    """A DuckDB frame computed once into memory (Arrow), for several sums to read."""
    import duckdb  # imported only when DuckDB runs, as in duckdb_connection

    return nw.from_native(duckdb.from_arrow(wide.to_native().to_arrow_table()))


def _date_users(
    parsed: list[tuple[list[dt.date], list[str], list[str]]], rd: dt.date, population: str
) -> tuple[list[tuple[int, list[str], list[str]]], list[str], list[str]]:
    """The requests that include ``rd`` with indicators of ``population``, and their union.

    Returns ``(users, ids, keys)``: ``(request number, its ids, its keys)`` per request, and
    the union of their ids (registry order) and keys, which the date's patients carry.
    """
    users = [
        (j, [i for i in ids if DEFINITIONS[i].population == population], keys)
        for j, (dates, ids, keys) in enumerate(parsed)
        if rd in dates
    ]
    users = [u for u in users if u[1]]
    union = {i for _, chosen, _ in users for i in chosen}
    ids = [i for i in DEFINITIONS if i in union]
    return users, ids, unique(k for _, _, ks in users for k in ks)


def _spark_parts(
    frames: Frames, parsed: list[tuple[list[dt.date], list[str], list[str]]]
) -> list[tuple[int, pd.DataFrame]]:
    """:func:`_date_parts` of every date on Spark: one job per request and population.

    Each date's patients are cached, so the requests that share a date evaluate it once;
    per-job overhead dominates Spark's run time, so each request's dates are one job.
    """
    all_dates = sorted({d for dates, _, _ in parsed for d in dates})
    out = []
    for population in _POPULATIONS:
        wides, uses = {}, {}
        for rd in all_dates:
            users, ids, keys = _date_users(parsed, rd, population)
            if users:
                wide = _wide(frames, Context(rd, "spark"), population, ids, keys).to_native()
                wides[rd] = wide.cache() if len(users) > 1 else wide
                uses.update({(j, rd): (chosen, ks) for j, chosen, ks in users})
        for j, (dates, _, _) in enumerate(parsed):
            mine = [(n, rd) for n, rd in enumerate(dates) if (j, rd) in uses]
            if not mine:
                continue
            chosen, ks = uses[(j, mine[0][1])]
            aggs = [_aggregate(nw.from_native(wides[rd]), chosen, ks, n) for n, rd in mine]
            out.append((j, _long(_collect(nw.concat(aggs, how="vertical")), chosen, ks)))
        for wide in wides.values():
            wide.unpersist()
    return out


def patient_flags(
    tables: Any,
    reporting_date: Any,
    engine: str = "pandas",
    indicators: Sequence[str] | None = None,
    keys: Sequence[str] | str | None = None,
) -> Any:
    """Per-patient denominator and numerator flags at one reporting date.

    One row per patient in each indicator's denominator: ``reporting_date``,
    ``indicator_id``, ``patient_id``, the keys, ``age`` (at RD, or at death),
    ``age_band`` (label), ``denominator`` (always true) and ``numerator`` (boolean).

    Args:
        tables: as for :func:`compute_cube`.
        reporting_date: one date.
        engine: ``"pandas"`` returns a pandas DataFrame; ``"duckdb"`` and ``"spark"`` return
            the engine's lazy frame (a DuckDB relation or a Spark DataFrame, with
            ``age_band`` as the band code) so that patient rows stay in the engine.
        indicators: ids (default all).
        keys: extra patient attributes to carry.

    Examples:
        >>> import pandas as pd
        >>> patients = pd.DataFrame({
        ...     "patient_id": ["p1", "p2"], "sex": ["F", "M"],
        ...     "date_of_birth": pd.to_datetime(["1950-06-01", "1990-01-01"]),
        ...     "registration_start": pd.to_datetime(["2000-01-01", "2000-01-01"]),
        ...     "registration_end": pd.NaT, "date_of_death": pd.NaT, "place_of_death": None})
        >>> events = pd.DataFrame({"patient_id": ["p1"], "cluster": ["HYP_COD"],
        ...     "event_date": pd.to_datetime(["2010-01-01"]), "numeric_value": [None]})
        >>> screening = pd.DataFrame(columns=["patient_id", "programme", "test_date", "outcome"])
        >>> flags = patient_flags({"patients": patients, "clinical_events": events,
        ...     "screening": screening}, "2025-03-31", indicators=["HYP_PREV"])
        >>> flags[["patient_id", "age", "age_band", "numerator"]]
          patient_id  age age_band  numerator
        0         p1   74    70-74       True
        1         p2   35    35-39      False
    """
    frames, ids, keys = _setup(tables, engine, indicators, keys)
    keys = [k for k in keys if k not in DERIVED_KEYS]
    (rd,) = (
        _reporting_dates([reporting_date])
        if not isinstance(reporting_date, list | tuple)
        else _reporting_dates(reporting_date)[:1]
    )
    ctx = Context(rd, frames.backend)
    parts = []
    for population in _POPULATIONS:
        chosen = [i for i in ids if DEFINITIONS[i].population == population]
        if not chosen:
            continue
        wide = _wide(frames, ctx, population, chosen, keys)
        for i in chosen:
            counted = nw.col(f"_d_{i}") | (nw.col(f"_n_{i}").cast(nw.Int64) > 0)
            parts.append(
                wide.filter(counted).select(
                    nw.lit(i).alias("indicator_id"),
                    "patient_id",
                    *keys,
                    "age",
                    "age_band",
                    nw.col(f"_d_{i}").alias("denominator"),
                    (nw.col(f"_n_{i}").cast(nw.Int64) > 0).alias("numerator"),
                )
            )
    combined = nw.concat(parts, how="vertical")
    if engine != "pandas":
        return combined.with_columns(nw.lit(rd).alias("reporting_date")).to_native()
    out = combined.to_native().reset_index(drop=True)
    out["patient_id"] = frames.patient_ids.take(pa.array(out["patient_id"])).to_pandas()
    out["age_band"] = out["age_band"].map(dict(enumerate(AGE_BANDS))).astype("str")
    out = _tidy_keys(out, keys, _key_kinds(frames))
    out.insert(0, "reporting_date", pd.Timestamp(rd).as_unit("ns"))
    out["denominator"] = out["denominator"].astype(bool)
    out["numerator"] = out["numerator"].astype(bool)
    out = out.assign(_o=out["indicator_id"].map(_REGISTRY_ORDER)).sort_values(
        ["_o", "patient_id"], kind="stable"
    )
    return out.drop(columns="_o").reset_index(drop=True)
