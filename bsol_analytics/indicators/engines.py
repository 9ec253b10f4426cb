"""Run the indicator definitions on pandas, DuckDB or Spark and collect the cube.

One definition per indicator (the family modules) is executed by the engine chosen at run
time:

* ``pandas``: eager and in memory; the interactive default. Patient ids are replaced by
  integer codes before joining, which makes the joins several times faster.
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
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import narwhals as nw
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from bsol_analytics.errors import BsolError, ExtractError, ParameterError
from bsol_analytics.indicators import copd, diabetes, end_of_life, hypertension, screening
from bsol_analytics.indicators.base import (
    AGE_BANDS,
    Context,
    Feature,
    Frames,
    Indicator,
    age_band_code,
    registered_at,
    unique,
    whole_years,
)

log = logging.getLogger(__name__)

ENGINES: tuple[str, ...] = ("pandas", "duckdb", "spark")

_FAMILIES = (hypertension, diabetes, copd, end_of_life, screening)

#: Every executable definition, in registry order.
DEFINITIONS: dict[str, Indicator] = {i.id: i for f in _FAMILIES for i in f.INDICATORS}
FEATURES: dict[str, Feature] = {x.name: x for f in _FAMILIES for x in f.FEATURES}

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
}
DATES: dict[str, tuple[str, ...]] = {
    "patients": ("date_of_birth", "registration_start", "registration_end", "date_of_death"),
    "clinical_events": ("event_date",),
    "screening": ("test_date",),
    "admissions": ("admission_date",),
}
#: Position of each indicator in registry order, for sorting outputs.
_REGISTRY_ORDER: dict[str, int] = {i: n for n, i in enumerate(DEFINITIONS)}
#: Keys computed by the engine rather than read from ``patients``.
DERIVED_KEYS: tuple[str, ...] = ("age_band", "age")


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


def _parquet_source(folder: Path, table: str) -> str | None:
    """The Parquet file, or a glob over a folder of parts, holding ``table``."""
    single = folder / f"{table}.parquet"
    if single.is_file():
        return str(single)
    parts = folder / table
    if parts.is_dir() and any(parts.glob("*.parquet")):
        return str(parts / "*.parquet")
    if single.is_dir() and any(single.glob("*.parquet")):
        return str(single / "*.parquet")
    return None


def _admissions_flag(folder: Path) -> bool | None:
    manifest = folder / "prepare_manifest.json"
    if manifest.is_file():
        try:
            value = json.loads(manifest.read_text(encoding="utf-8")).get("admissions_supplied")
        except (OSError, ValueError):
            return None
        return None if value is None else bool(value)
    return None


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
    for table in ("patients", "clinical_events", "screening", "admissions"):
        df = tables.get(table)
        if df is None:
            if table == "admissions":
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
    become ``datetime64[ms]``.
    """
    cols = {}
    for name in data.column_names:
        col = data[name]
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            col = pc.dictionary_encode(col)
        cols[name] = col
    df = pa.table(cols).to_pandas(date_as_object=False)
    late = [c for c in DATES[table] if not pd.api.types.is_datetime64_any_dtype(df[c])]
    return _pandas_dates(table, df) if late else df


def _frames_pandas(tables: Mapping[str, pa.Table]) -> Frames:
    """Pandas frames with patient ids replaced by integer codes (row number in patients)."""
    patients = tables["patients"]
    ids = patients["patient_id"]
    if pc.count_distinct(ids).as_py() != len(ids):
        dup = ids.to_pandas().duplicated()
        raise ExtractError(
            "patients", "patient_id", "must be unique", rows=(dup[dup].index + 1)[:5].tolist()
        )

    def recode(table: str) -> pd.DataFrame:
        data = tables[table]
        code = pc.index_in(data["patient_id"].cast(ids.type), value_set=ids)
        known = pc.is_valid(code)
        data = data.set_column(
            data.column_names.index("patient_id"), "patient_id", code.cast(pa.int64())
        ).filter(known)
        return _arrow_to_pandas(table, data)

    codes = pa.array(range(len(ids)), type=pa.int64())
    people = patients.set_column(patients.column_names.index("patient_id"), "patient_id", codes)
    return Frames(
        patients=nw.from_native(_arrow_to_pandas("patients", people), eager_only=True),
        clinical_events=nw.from_native(recode("clinical_events"), eager_only=True),
        screening=nw.from_native(recode("screening"), eager_only=True),
        admissions=(
            nw.from_native(recode("admissions"), eager_only=True)
            if "admissions" in tables
            else None
        ),
        backend="pandas",
        patient_ids=ids,
    )


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


def load_tables(folder: str | os.PathLike[str], engine: str = "pandas") -> Frames:
    """Open the prepared tables in ``folder`` for ``engine``.

    ``pandas`` reads the files into memory; ``duckdb`` and ``spark`` open them lazily (each
    table may be one Parquet file or a folder of Parquet parts). Admissions count as supplied
    when ``prepare_manifest.json`` says so, or, without a manifest, when the table has rows.

    Args:
        folder: a folder written by ``bsol prepare``.
        engine: ``"pandas"``, ``"duckdb"`` or ``"spark"``.

    Returns:
        The tables as :class:`~bsol_analytics.indicators.base.Frames`.

    Raises:
        ExtractError: a required table or column is missing.

    Examples:
        >>> load_tables("/no/such/folder")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: The folder /no/such/folder does not exist...
    """
    _check_engine(engine)
    folder = Path(folder)
    if not folder.is_dir():
        raise ParameterError(
            f"The folder {folder} does not exist. Point the suite at a folder written by "
            "'bsol prepare'."
        )
    sources = {t: _parquet_source(folder, t) for t in REQUIRED}
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
        tables = {
            t: ds.dataset(src.removesuffix("/*.parquet"), format="parquet").to_table()
            for t, src in sources.items()
            if src is not None
        }
        for table, data in tables.items():
            _check_columns(table, data.column_names)
        if supplied is False or ("admissions" in tables and tables["admissions"].num_rows == 0):
            tables.pop("admissions", None)
        return _frames_pandas(tables)

    if engine == "duckdb":
        con = duckdb_connection()
        lazy = {t: nw.from_native(con.read_parquet(src)) for t, src in sources.items() if src}
    else:
        spark = spark_session()
        lazy = {
            t: nw.from_native(spark.read.parquet(src.removesuffix("/*.parquet")))
            for t, src in sources.items()
            if src
        }
    for table, frame in lazy.items():
        _check_columns(table, _lazy_columns(frame))
        _check_lazy_dates(table, frame)
    admissions = lazy.get("admissions")
    if admissions is not None and supplied is None:
        supplied = bool(admissions.select(nw.len()).collect().item())
    if not supplied:
        admissions = None
    return Frames(
        patients=lazy["patients"],
        clinical_events=lazy["clinical_events"],
        screening=lazy["screening"],
        admissions=admissions,
        backend=engine,
    )


def _frames(tables: Any, engine: str) -> Frames:
    """Accept a folder, a dict of pandas DataFrames or already-loaded frames."""
    _check_engine(engine)
    if isinstance(tables, Frames):
        if tables.backend != engine:
            raise ParameterError(
                f"These tables were loaded for the {tables.backend} engine, not {engine}."
            )
        return tables
    if isinstance(tables, str | os.PathLike):
        return load_tables(tables, engine)
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
    return Frames(
        patients=lazy["patients"],
        clinical_events=lazy["clinical_events"],
        screening=lazy["screening"],
        admissions=lazy.get("admissions"),
        backend=engine,
    )


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


def _reporting_dates(values: Any) -> list[dt.date]:
    if isinstance(values, str | dt.date | pd.Timestamp):
        values = [values]
    out = []
    for value in values:
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            stamp = pd.NaT
        if pd.isna(stamp):
            raise ParameterError(
                f"The reporting date {value!r} is not a date; write it as YYYY-MM-DD."
            )
        out.append(stamp.date())
    if not out:
        raise ParameterError("Give at least one reporting date.")
    return sorted(set(out))


def _indicator_ids(indicators: Sequence[str] | None, frames: Frames) -> list[str]:
    if indicators is None:
        chosen = [
            i
            for i, d in DEFINITIONS.items()
            if frames.admissions_supplied or not d.needs_admissions
        ]
        if not frames.admissions_supplied:
            log.info("No admissions table was supplied: EOL_3PLUS_EMERG is not computed.")
        return chosen
    if isinstance(indicators, str):
        indicators = [indicators]
    unknown = [i for i in indicators if i not in DEFINITIONS]
    if unknown:
        raise ParameterError(
            f"Unknown indicator id(s): {', '.join(unknown)}. Known ids: {', '.join(DEFINITIONS)}."
        )
    for i in indicators:
        if DEFINITIONS[i].needs_admissions and not frames.admissions_supplied:
            raise ParameterError(
                f"{i} needs hospital admissions, but the extract has no admissions table."
            )
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
    frames = _frames(tables, engine)
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
        >>> frames = _frames({"patients": pd.DataFrame({
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
    if population == "registered":
        chosen = p.filter(registered_at(ctx))
        age = whole_years(nw.col("date_of_birth"), ctx.rd)
        extra: list[str] = []
    else:
        chosen = p.filter(end_of_life.decedents(p, ctx))
        age = whole_years(nw.col("date_of_birth"), nw.col("date_of_death"))
        extra = ["date_of_death", "place_of_death"]
    cols = unique(["patient_id", "sex", *base_cols, *extra])
    return chosen.select(*cols, age.alias("age")).with_columns(
        age_band_code(nw.col("age")).alias("age_band")
    )


def _wide(frames: Frames, ctx: Context, population: str, ids: Sequence[str], keys: Sequence[str]):
    """Population with features joined and one ``_d_``/``_n_`` flag pair per indicator."""
    pop = population_frame(frames, ctx, population, keys)
    needed = unique(f for i in ids for f in DEFINITIONS[i].features)
    for name in needed:
        feature = FEATURES[name]
        pop = pop.join(feature.build(frames, ctx, pop), on="patient_id", how="left")
    flags = []
    for i in ids:
        d = DEFINITIONS[i].denominator().fill_null(False)
        n = d & DEFINITIONS[i].numerator().fill_null(False)
        flags += [d.alias(f"_d_{i}"), n.alias(f"_n_{i}")]
    return pop.with_columns(*flags)


def _collect(frame: Any) -> pd.DataFrame:
    if isinstance(frame, nw.DataFrame):
        return frame.to_native()
    return frame.collect("pyarrow").to_native().to_pandas()


def _aggregate(wide: Any, ids: Sequence[str], keys: Sequence[str], tag: int) -> Any:
    """Sum the flag pairs by keys (not collected); ``_rd`` = ``tag`` identifies the date."""
    cols = [f"_{x}_{i}" for i in ids for x in ("d", "n")]
    counts = wide.with_columns(nw.col(c).cast(nw.Int64) for c in cols)
    if keys:
        agg = counts.group_by(*keys, drop_null_keys=False).agg(nw.col(c).sum() for c in cols)
    else:
        agg = counts.select(nw.col(c).sum() for c in cols)
    return agg.with_columns(nw.lit(tag, nw.Int64).alias("_rd"))


def _long(agg: pd.DataFrame, ids: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    """Wide sums (one column pair per indicator) to one row per indicator, zero rows dropped."""
    parts = []
    for i in ids:
        part = agg[[*keys, "_rd"]].copy()
        part["indicator_id"] = i
        part["numerator"] = agg[f"_n_{i}"].fillna(0).astype("int64").to_numpy()
        part["denominator"] = agg[f"_d_{i}"].fillna(0).astype("int64").to_numpy()
        parts.append(part[part["denominator"] > 0])
    return pd.concat(parts, ignore_index=True)


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
    return kinds | {"age": "Int64"}


def _tidy_keys(cube: pd.DataFrame, keys: Sequence[str], kinds: Mapping[str, str]) -> pd.DataFrame:
    """Key columns with the same dtypes whichever engine produced them."""
    return cube.assign(**{k: cube[k].astype(kinds[k]) for k in keys if k != "age_band"})


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
    frames, ids, keys = _setup(tables, engine, indicators, keys)
    dates = _reporting_dates(reporting_dates)
    parts = []
    for population in ("registered", "decedents"):
        chosen = [i for i in ids if DEFINITIONS[i].population == population]
        if not chosen:
            continue
        aggs = [
            _aggregate(
                _wide(frames, Context(rd, engine), population, chosen, keys), chosen, keys, n
            )
            for n, rd in enumerate(dates)
        ]
        if engine == "spark" and len(aggs) > 1:
            # One Spark job for all dates: per-job overhead dominates Spark's run time.
            parts.append(_long(_collect(nw.concat(aggs, how="vertical")), chosen, keys))
        else:
            # pandas has already computed; DuckDB runs one date at a time (lower peak memory).
            parts += [_long(_collect(agg), chosen, keys) for agg in aggs]
    cube = pd.concat(parts, ignore_index=True)
    stamps = pd.to_datetime(pd.Series(dates)).astype("datetime64[ns]")
    cube.insert(0, "reporting_date", stamps.to_numpy()[cube.pop("_rd").to_numpy()])
    cube = _tidy_keys(cube, keys, _key_kinds(frames))
    cube["_order"] = cube["indicator_id"].map(_REGISTRY_ORDER)
    cube = cube.sort_values(
        ["reporting_date", "_order", *keys], na_position="last", kind="stable"
    ).drop(columns="_order")
    if "age_band" in keys:
        labels = dict(enumerate(AGE_BANDS))
        cube["age_band"] = cube["age_band"].map(labels).astype("str")
    cols = ["reporting_date", *keys, "indicator_id", "numerator", "denominator"]
    return cube[cols].reset_index(drop=True)


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
    for population in ("registered", "decedents"):
        chosen = [i for i in ids if DEFINITIONS[i].population == population]
        if not chosen:
            continue
        wide = _wide(frames, ctx, population, chosen, keys)
        for i in chosen:
            parts.append(
                wide.filter(nw.col(f"_d_{i}")).select(
                    nw.lit(i).alias("indicator_id"),
                    "patient_id",
                    *keys,
                    "age",
                    "age_band",
                    nw.col(f"_d_{i}").alias("denominator"),
                    nw.col(f"_n_{i}").alias("numerator"),
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
