"""From an extract folder to the processed tables: read, type, check, map, clean, write.

* :func:`read_extract` reads every table and applies the single-column contract rules
  (typing, identifiers, dates, codes), refusing a malformed extract;
* :func:`clean_tables` applies the reference look-ups and the cross-table and plausibility
  rules and returns the processed tables of ``docs/processed-tables.md``;
* :func:`prepare` does both and writes the tables, ``data_quality.json`` and
  ``prepare_manifest.json`` atomically; :func:`load_prepared` reads them back.

Every dropped or recoded row is counted by table, column and rule in a
:class:`~bsol_analytics.cleaning.quality.QualityLog`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bsol_analytics import __version__, reference
from bsol_analytics.cleaning import normalise as nm
from bsol_analytics.cleaning.quality import (
    Drop,
    QualityLog,
    data_quality_summary,
    example_rows,
)
from bsol_analytics.cleaning.readers import find_table_file, read_table_file, table_files
from bsol_analytics.compute import repeated_rows
from bsol_analytics.contract import (
    CATEGORICAL_COLUMNS,
    CLUSTERS,
    CONTRACT_VERSION,
    DRUG_GROUPS,
    EXTRACT_TABLES,
    MALFORMED_SHARE,
    OPEN_BELOW,
    OPTIONAL_PROCESSED,
    PLAUSIBLE_RANGES,
    PROCESSED_COLUMNS,
    PROCESSED_SCHEMAS,
    TableSpec,
)
from bsol_analytics.dates import frame_coverage
from bsol_analytics.errors import BsolError, ExtractError, ParameterError
from bsol_analytics.io import atomic_directory, atomic_write_text, file_sha256, text_sha256
from bsol_analytics.vocabulary import PATIENT_ROW, PATIENTS_DIGEST, PREPARE_MANIFEST

__all__ = [
    "ALL_PROCESSED_TABLES",
    "PROCESSED_TABLES",
    "Extract",
    "Steps",
    "after_death",
    "assign_clusters",
    "before_birth",
    "clean_tables",
    "duplicate_rows",
    "implausible_values",
    "load_prepared",
    "missing_values",
    "prepare",
    "prepare_tables",
    "read_extract",
    "read_prepared_table",
]

PROCESSED_TABLES: tuple[str, ...] = ("patients", "clinical_events", "screening", "admissions")
#: Every processed table: the four always written, then the optional ones (version 2),
#: written only when the extract supplied them.
ALL_PROCESSED_TABLES: tuple[str, ...] = (*PROCESSED_TABLES, *OPTIONAL_PROCESSED)

_LIMITLESS = None  # rules that never refuse the extract


# --------------------------------------------------------------------------------------
# Progress and timings
# --------------------------------------------------------------------------------------


class Steps:
    """Named, timed steps with an optional ``rich`` progress bar on stderr.

    Examples:
        >>> steps = Steps(enabled=False)
        >>> with steps:
        ...     with steps.step("work"):
        ...         pass
        >>> list(steps.timings)
        ['work']
    """

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self.timings: dict[str, float] = {}
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Steps:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<34}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("Starting", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def show(self, name: str) -> None:
        """Show ``name`` on the progress bar without timing it.

        Args:
            name: the step's name, as the progress bar shows it.
        """
        if self._progress is not None:
            self._progress.update(self._task, description=name)

    def record(self, name: str, seconds: float) -> None:
        """Add ``seconds`` to the step ``name`` (measured here or elsewhere, in another thread).

        Args:
            name: the step's name, the key of :attr:`timings`.
            seconds: the time taken (kept to the millisecond).

        Examples:
            >>> steps = Steps()
            >>> steps.record("Reading", 1.5)
            >>> steps.timings
            {'Reading': 1.5}
        """
        self.timings[name] = round(self.timings.get(name, 0.0) + seconds, 3)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time one step (and show it on the progress bar).

        Examples:
            >>> steps = Steps()
            >>> with steps.step("Reading"):
            ...     pass
            >>> steps.timings["Reading"] >= 0
            True
        """
        if self._progress is not None:
            self._progress.update(self._task, description=name)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record(name, time.perf_counter() - start)
            if self._progress is not None:
                self._progress.advance(self._task)


# --------------------------------------------------------------------------------------
# Reading and typing
# --------------------------------------------------------------------------------------


@dataclass
class Extract:
    """An extract read and typed by :func:`read_extract`.

    Examples:
        >>> from bsol_analytics import synth
        >>> ext = synth.sample_extract()
        >>> extract = read_extract(ext)
        >>> sorted(extract.tables)  # doctest: +NORMALIZE_WHITESPACE
        ['admissions', 'clinical_events', 'ed_attendances', 'medications', 'patients',
         'screening']
        >>> extract.admissions_supplied
        True

    Attributes:
        folder: the extract folder.
        tables: typed tables (index = 0-based data-row numbers of the file).
        files: the file of each table present.
        raw_patient_ids: every non-blank patient_id of the patients file (before drops).
        log: what was counted and dropped so far.
        patient_index: the patients file's ids hashed once, so that :func:`clean_tables`
            links the other tables to the patients without hashing the text again (set by
            :func:`read_extract`; ``None`` otherwise, when the text is looked up).
    """

    folder: Path
    tables: dict[str, pd.DataFrame]
    files: dict[str, Path]
    raw_patient_ids: pa.Array
    log: QualityLog = field(default_factory=QualityLog)
    patient_index: _PatientIndex | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def admissions_supplied(self) -> bool:
        """Whether the extract has an admissions table (see the class example)."""
        return "admissions" in self.files


def _arrow(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    return pa.array(values, from_pandas=True)


def _positions(values: pd.Series, ids: pa.Array) -> np.ndarray:
    """Position of each value in ``ids`` (-1 if absent), one hash look-up per distinct value."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        per_cat = _positions_dense(_category_array(values), ids)
        return np.append(per_cat, -1)[values.cat.codes.to_numpy()]
    return _positions_dense(_arrow(values), ids)


def _category_array(values: pd.Series) -> pa.Array:
    """The categories of a categorical Series as Arrow large strings."""
    return nm.as_arrow_strings(values.cat.categories)


def _text_lookup(patients: pd.DataFrame) -> Callable[[pd.Series], np.ndarray]:
    """A function giving each value's position in ``patients["patient_id"]`` (-1 if absent)."""
    ids = _arrow(patients["patient_id"])

    def locate(values: pd.Series) -> np.ndarray:
        return _positions(values, ids)

    return locate


class _PatientIndex:
    """Where linked tables' patient_id values are in the patients file, hashed once.

    ``ids`` are the non-blank patient_id values of the patients file (unique: duplicates
    refuse the extract) and ``rows`` their data-row numbers (the frame index). A categorical
    column's distinct values are looked up in ``ids`` once, however many times the table is
    linked (its categories survive row drops); positions in a frame of some of those rows
    (the patients kept so far) then follow by row number (:meth:`lookup`), with no further
    text hashing.
    """

    def __init__(self, ids: pa.Array, rows: pd.Index) -> None:
        self.ids = ids.cast(pa.large_string())
        self.rows = rows
        self._by_categories: dict[int, tuple[pd.Index, np.ndarray]] = {}

    def in_file(self, values: pd.Series) -> np.ndarray:
        """Position of each value in ``ids``, -1 where absent."""
        if not isinstance(values.dtype, pd.CategoricalDtype):
            return _positions_dense(_arrow(values), self.ids)
        cats = values.cat.categories
        hit = self._by_categories.get(id(cats))
        if hit is None or hit[0] is not cats:
            # the value set is the categories, probed with the ids (unique, so each
            # category is found at most once): cheaper than hashing every id per table
            found = pc.index_in(self.ids, value_set=_category_array(values))
            found = np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False))
            per_cat = np.full(len(cats), -1, dtype=np.int64)
            per_cat[found[found >= 0]] = np.flatnonzero(found >= 0)
            hit = (cats, per_cat)
            self._by_categories[id(cats)] = hit
        return np.append(hit[1], -1)[values.cat.codes.to_numpy()]

    def lookup(self, patients: pd.DataFrame) -> Callable[[pd.Series], np.ndarray]:
        """A function giving each value's position in ``patients["patient_id"]`` (-1 if absent).

        The same as :func:`_positions` against that column. When ``patients`` holds rows of
        the file, in file order, each with its file id, positions go through :meth:`in_file`;
        otherwise the text is looked up.
        """
        at = self._frame_positions(patients)
        if at is None:
            return _text_lookup(patients)
        padded = np.append(at, -1)

        def locate(values: pd.Series) -> np.ndarray:
            return padded[self.in_file(values)]

        return locate

    def _frame_positions(self, patients: pd.DataFrame) -> np.ndarray | None:
        """Position in ``patients`` of each file id (-1 if not in it), or None if unrelated."""
        if not self.rows.is_unique:
            return None
        where = self.rows.get_indexer(patients.index)
        if not (where >= 0).all() or not (np.diff(where) > 0).all():
            return None
        if len(where):
            same = pc.equal(self.ids.take(pa.array(where)), _arrow(patients["patient_id"]))
            if pc.all(pc.fill_null(same, False)).as_py() is not True:
                return None
        at = np.full(len(self.ids), -1, dtype=np.int64)
        at[where] = np.arange(len(where))
        return at


def _positions_dense(values: pa.Array | pa.ChunkedArray, ids: pa.Array) -> np.ndarray:
    if not pa.types.is_large_string(values.type):
        values = values.cast(pa.large_string())
    if not pa.types.is_large_string(ids.type):
        ids = ids.cast(pa.large_string())
    pos = pc.fill_null(pc.index_in(values, value_set=ids), -1)
    return np.asarray(pos.to_numpy(zero_copy_only=False), dtype=np.int64)


def _date_bounds() -> tuple[np.datetime64, np.datetime64]:
    return np.datetime64(nm.EARLIEST_DATE, "s"), np.datetime64(dt.date.today(), "s")


def _type_dates(df: pd.DataFrame, spec: TableSpec, log: QualityLog) -> pd.DataFrame:
    lo, hi = _date_bounds()
    for name in spec.columns_of_kind("date"):
        raw = df[name]
        parsed = nm.parse_dates(raw)
        supplied = nm.is_given(raw).to_numpy(dtype=bool)
        values = parsed.to_numpy()
        bad = np.isnat(values) | (values < lo) | (values > hi)
        invalid = bad & supplied
        if not spec.column(name).nullable:
            invalid |= ~supplied
        df = df.assign(**{name: parsed})
        df = log.drop(
            df,
            invalid,
            spec.name,
            name,
            "invalid_date",
            hint="Write dates as YYYY-MM-DD (YYYY-MM and DD/MM/YYYY are also accepted).",
        )
    return df


def _type_patient_id(df: pd.DataFrame, spec: TableSpec, log: QualityLog) -> pd.DataFrame:
    pid = nm.normalise_codes(df["patient_id"])
    df = df.assign(patient_id=pid)
    return log.drop(df, pid.isna().to_numpy(), spec.name, "patient_id", "blank_patient_id")


def _refuse_nhs_numbers(df: pd.DataFrame, table: str) -> None:
    nhs = nm.passes_nhs_modulus11(df["patient_id"]).to_numpy()
    if nhs.any():
        rows = example_rows(df, nhs)
        raise ExtractError(
            table,
            "patient_id",
            f"{int(nhs.sum()):,} value(s) are valid NHS numbers (10 digits passing the "
            "modulus-11 check); raw identifiers must never enter the suite, so the extract "
            "is refused",
            rows=rows,
            hint="Replace patient_id with a pseudonymised key before the extract leaves "
            "the data warehouse.",
        )


def _type_patients(
    raw: pd.DataFrame, log: QualityLog
) -> tuple[pd.DataFrame, pa.Array, _PatientIndex]:
    spec = EXTRACT_TABLES["patients"]
    df = _type_patient_id(raw, spec, log)
    _refuse_nhs_numbers(df, "patients")
    dup = df["patient_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        n = int(df["patient_id"][dup].nunique())
        rows = example_rows(df, dup)
        raise ExtractError(
            "patients",
            "patient_id",
            f"patient_id must be unique, but {n:,} value(s) appear more than once",
            rows=rows,
            hint="Each patient must have exactly one row; remove the duplicates.",
        )
    raw_ids = _arrow(df["patient_id"])
    index = _PatientIndex(raw_ids, df.index)
    sex = nm.normalise_sex(df["sex"])
    blank = ~nm.is_given(df["sex"]).to_numpy(dtype=bool)
    log.recode(df, blank, "patients", "sex", "blank_sex")
    df = df.assign(sex=sex)
    df = log.drop(df, sex.isna().to_numpy(), "patients", "sex", "invalid_sex")
    df = _type_dates(df, spec, log)
    place = nm.normalise_place_of_death(df["place_of_death"])
    given = nm.is_given(df["place_of_death"]).to_numpy(dtype=bool)
    log.recode(
        df,
        given & place.isna().to_numpy(dtype=bool),
        "patients",
        "place_of_death",
        "unrecognised_place_of_death",
    )
    if "underlying_cause_of_death" in df.columns:
        df = df.assign(
            underlying_cause_of_death=_icd10(df, "patients", "underlying_cause_of_death", log)
        )
    df = df.assign(
        place_of_death=place,
        ethnicity_code=nm.normalise_codes(df["ethnicity_code"], upper=True),
        lsoa_code=nm.normalise_codes(df["lsoa_code"], upper=True),
        practice_code=nm.normalise_codes(df["practice_code"], upper=True),
    )
    return df, raw_ids, index


def _icd10(df: pd.DataFrame, table: str, column: str, log: QualityLog) -> pd.Series:
    """An ICD-10 column normalised once (see ``normalise_icd10``); invalid codes counted.

    A code that is not an ICD-10 form is recoded as blank and counted; above 1% of the
    table's rows the extract is refused (the column holds something else).
    """
    codes = nm.normalise_icd10(df[column])
    given = nm.is_given(df[column]).to_numpy(dtype=bool)
    log.recode(
        df,
        given & codes.isna().to_numpy(dtype=bool),
        table,
        column,
        "invalid_icd10_code",
        limit=MALFORMED_SHARE,
        hint="Write ICD-10 codes as C34.9, C349 or C34 (a letter, two digits, optionally "
        "a fourth character).",
    )
    return codes


def _link_patients(
    df: pd.DataFrame,
    table: str,
    index: _PatientIndex,
    kept: Callable[[pd.Series], np.ndarray],
    log: QualityLog,
) -> pd.DataFrame:
    unknown = index.in_file(df["patient_id"]) < 0
    hint = "Every patient_id must have a row in patients."
    dropped = kept(df["patient_id"]) < 0
    return log.drop_in_turn(
        df,
        table,
        [
            Drop(unknown, "patient_id", "unknown_patient", hint=hint),
            Drop(dropped, "patient_id", "patient_dropped", limit=_LIMITLESS),
        ],
    )


#: Coded columns of the linked tables: (column, normaliser, rule dropping unknown values).
_CATEGORY_RULES: dict[str, tuple[tuple[str, Any, str], ...]] = {
    "screening": (
        ("programme", nm.normalise_screening_programme, "unknown_programme"),
        ("outcome", nm.normalise_screening_outcome, "unknown_outcome"),
    ),
    "admissions": (
        ("admission_method", nm.normalise_admission_method, "unknown_admission_method"),
    ),
}


def _type_linked(
    raw: pd.DataFrame,
    spec: TableSpec,
    index: _PatientIndex,
    kept: Callable[[pd.Series], np.ndarray],
    log: QualityLog,
) -> pd.DataFrame:
    df = _type_patient_id(raw, spec, log)
    _refuse_nhs_numbers(df, spec.name)
    df = _type_dates(df, spec, log)
    if spec.name == "clinical_events":
        code = nm.normalise_codes(df["snomed_code"])
        value = nm.parse_numbers(df["numeric_value"])
        given = nm.is_given(df["numeric_value"]).to_numpy(dtype=bool)
        log.recode(
            df,
            given & value.isna().to_numpy(dtype=bool),
            spec.name,
            "numeric_value",
            "not_a_number",
        )
        df = df.assign(snomed_code=code, numeric_value=value)
        df = log.drop(df, code.isna().to_numpy(), spec.name, "snomed_code", "blank_code")
    if spec.name == "medications":
        code = nm.normalise_codes(df["dmd_code"])
        df = log.drop(
            df.assign(dmd_code=code), code.isna().to_numpy(), spec.name, "dmd_code", "blank_code"
        )
    if "primary_diagnosis" in df.columns:
        df = df.assign(primary_diagnosis=_icd10(df, spec.name, "primary_diagnosis", log))
    for column, normaliser, rule in _CATEGORY_RULES.get(spec.name, ()):
        values = normaliser(df[column])
        unknown = values.isna().to_numpy()
        df = log.drop(df.assign(**{column: values}), unknown, spec.name, column, rule)
    return _link_patients(df, spec.name, index, kept, log)


def read_extract(
    folder: str | os.PathLike[str],
    *,
    log: QualityLog | None = None,
    steps: Steps | None = None,
) -> Extract:
    """Read an extract folder and apply the contract's single-table rules.

    Refuses the extract (:class:`~bsol_analytics.errors.ExtractError`, naming table,
    column, rule and example rows) for: a missing required table or column, an empty or
    header-only file, a delimiter other than commas, bytes that are not UTF-8, patient_id
    values that are NHS numbers, duplicated patient_id, and any rule failed by more than 1%
    of a table's rows (unparseable dates, unknown sex, events for unknown patients, ...).
    Below 1% the failing rows are dropped and counted in ``log``.

    Args:
        folder: the extract folder (``<table>.csv`` or ``<table>.parquet`` per table).
        log: where counts go (a new one if omitted); kept up to date even when refused.
        steps: timing/progress helper.

    Returns:
        The typed :class:`Extract`.

    Examples:
        >>> import tempfile
        >>> read_extract(tempfile.mkdtemp())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ExtractError: Table 'patients': the required table is missing...
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ParameterError(f"The extract folder {folder} does not exist or is not a folder.")
    log = log if log is not None else QualityLog()
    log.extract = str(folder)
    steps = steps or Steps(enabled=False)
    files: dict[str, Path] = {}
    for name, spec in EXTRACT_TABLES.items():
        path = find_table_file(folder, name)
        if path is None:
            if spec.required:
                raise ExtractError(
                    name,
                    None,
                    f"the required table is missing: neither {name}.csv nor {name}.parquet "
                    f"is in {folder}",
                    hint="See docs/data-contract.md for the tables an extract must contain.",
                )
            log.notes.append(
                f"no {name} table was supplied; indicators that need it are not computed"
            )
            continue
        files[name] = path
    log.facts["admissions_supplied"] = "admissions" in files
    log.facts["tables_supplied"] = sorted(files)

    # each table is checked as soon as it is read, while the next one is read
    reader = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        reads = {
            name: reader.submit(_read_one, path, EXTRACT_TABLES[name])
            for name, path in files.items()
        }
        tables, raw_ids, index = _check_in_turn(reads, log, steps)
    finally:
        reader.shutdown(wait=True, cancel_futures=True)
    extract = Extract(folder, tables, files, raw_ids, log)
    extract.patient_index = index
    return extract


@dataclass
class _Read:
    """A table read in the background: its frame (or error), its own log and the seconds."""

    frame: pd.DataFrame | None
    log: QualityLog
    seconds: float
    error: Exception | None = None


def _read_one(path: Path, spec: TableSpec) -> _Read:
    log = QualityLog()
    start = time.perf_counter()
    try:
        frame = read_table_file(path, spec, log)
    except Exception as err:  # raised again by _check_in_turn, in table order
        return _Read(None, log, round(time.perf_counter() - start, 3), err)
    return _Read(frame, log, round(time.perf_counter() - start, 3))


def _check_in_turn(
    reads: dict[str, concurrent.futures.Future[_Read]], log: QualityLog, steps: Steps
) -> tuple[dict[str, pd.DataFrame], pa.Array, _PatientIndex]:
    """Check each table once read (patients first); ``log`` gets everything at the end.

    ``log`` ends as if every table had been read before any was checked: all the reads' counts
    and notes first, in table order, then the checks'. So a table that cannot be read refuses
    the extract before a check of an earlier table does, as it would then (which is why a
    refusal by a check still waits for the later reads).
    """
    done: list[_Read] = []
    checks: list[QualityLog] = []
    tables: dict[str, pd.DataFrame] = {}
    raw_ids: pa.Array | None = None
    index: _PatientIndex | None = None
    kept: Callable[[pd.Series], np.ndarray] | None = None
    try:
        for name, future in reads.items():
            steps.show(f"Reading {name}")
            read = future.result()
            done.append(read)
            steps.record(f"Reading {name}", read.seconds)
            if read.error is not None:
                checks.clear()  # no table is checked before every table is read
                raise read.error
            check = QualityLog(rows_read=dict(read.log.rows_read))
            checks.append(check)
            frame, read.frame = read.frame, None
            try:
                with steps.step(f"Checking {name}"):
                    if index is None or kept is None:
                        tables[name], raw_ids, index = _type_patients(frame, check)
                        kept = index.lookup(tables[name])
                    else:
                        tables[name] = _type_linked(frame, EXTRACT_TABLES[name], index, kept, check)
            except Exception:
                for later in list(reads.values())[len(done) :]:
                    done.append(later.result())
                    if done[-1].error is not None:  # the read failure comes first
                        checks.clear()
                        raise done[-1].error from None
                raise
    finally:
        for part in [r.log for r in done] + checks:
            log.merge(part)
    assert raw_ids is not None and index is not None
    return tables, raw_ids, index


# --------------------------------------------------------------------------------------
# Event rules (each returns a boolean mask of the rows that fail)
# --------------------------------------------------------------------------------------


def assign_clusters(events: pd.DataFrame) -> pd.DataFrame:
    """Add the ``cluster`` of each event's ``snomed_code``.

    Codes in no cluster get a null cluster (drop them as unmapped codes). A code in two
    clusters (two COPD diagnosis codes are also COPD review codes) gives two rows, one per
    cluster; the extra rows follow the originals and keep their index.

    Returns:
        A new frame.

    Examples:
        >>> ev = pd.DataFrame({"snomed_code": ["162659009", "394703002", "123"]})
        >>> assign_clusters(ev)["cluster"].tolist()
        ['HYPRES_COD', 'COPD_COD', nan, 'COPD_REVIEW']
    """
    cl = reference.clusters()
    ranked = cl.assign(rank=cl.groupby("code").cumcount())
    first = ranked[ranked["rank"] == 0].set_index("code")["cluster"]
    dtype = pd.CategoricalDtype(list(CLUSTERS))
    codes, uniques = pd.factorize(events["snomed_code"], use_na_sentinel=True)
    pos = first.index.get_indexer(pd.Index(np.asarray(uniques, dtype=object)))
    found = dtype.categories.get_indexer(first.to_numpy()[np.maximum(pos, 0)])
    label = np.append(np.where(pos >= 0, found, -1), -1)[codes]
    out = events.assign(cluster=pd.Categorical.from_codes(label, dtype=dtype))
    extra = ranked[ranked["rank"] > 0].reset_index(drop=True)
    # codes in a second cluster: one vectorised pass over the events, whatever their number
    upos = pd.Index(np.asarray(uniques, dtype=object)).get_indexer(extra["code"].to_numpy())
    extra = extra.assign(_u=upos, _c=dtype.categories.get_indexer(extra["cluster"].to_numpy()))
    extra = extra[extra["_u"] >= 0]
    if extra.empty:
        return out
    hit = np.flatnonzero(np.isin(codes, extra["_u"].to_numpy()))
    rows = pd.DataFrame({"_row": hit, "_u": codes[hit]}).merge(
        extra[["_u", "_c"]].reset_index(names="_k"), on="_u"
    )
    rows = rows.sort_values(["_k", "_row"], kind="stable")
    add = out.iloc[rows["_row"].to_numpy()]
    add = add.assign(cluster=pd.Categorical.from_codes(rows["_c"].to_numpy(), dtype=dtype))
    return pd.concat([out, add])


def _measure_of(events: pd.DataFrame) -> pd.Series:
    return events["cluster"].where(events["cluster"].isin(list(PLAUSIBLE_RANGES)))


def missing_values(events: pd.DataFrame) -> pd.Series:
    """Measurement events (blood pressure, HbA1c, cholesterol) without a value.

    Examples:
        >>> ev = pd.DataFrame({"cluster": ["SBP", "SBP", "HYP_COD"],
        ...                    "numeric_value": [120.0, None, None]})
        >>> missing_values(ev).tolist()
        [False, True, False]
    """
    return _measure_of(events).notna() & events["numeric_value"].isna()


def implausible_values(events: pd.DataFrame) -> pd.Series:
    """Measurements outside :data:`bsol_analytics.contract.PLAUSIBLE_RANGES`.

    Systolic BP 50-300 mmHg, diastolic 20-200 mmHg, HbA1c 20-200 mmol/mol, inclusive;
    cholesterol (total, HDL, LDL, non-HDL) 0 < v <= 30 mmol/L.

    Examples:
        >>> ev = pd.DataFrame({"cluster": ["SBP", "SBP", "DBP", "HBA1C", "HBA1C"],
        ...                    "numeric_value": [0.0, 300.0, 201.0, 19.9, 48.0]})
        >>> implausible_values(ev).tolist()
        [True, False, True, True, False]
        >>> ev = pd.DataFrame({"cluster": ["LDL", "LDL", "HDL", "CHOL"],
        ...                    "numeric_value": [0.0, 30.0, 30.1, 0.01]})
        >>> implausible_values(ev).tolist()
        [True, False, True, False]
    """
    cluster = events["cluster"]
    v = events["numeric_value"].to_numpy(dtype="float64", na_value=np.nan)
    bad = np.zeros(len(events), dtype=bool)
    for name, (lo, hi) in PLAUSIBLE_RANGES.items():
        sel = (cluster == name).to_numpy(dtype=bool, na_value=False)
        too_low = (v <= lo) if name in OPEN_BELOW else (v < lo)
        bad |= sel & (too_low | (v > hi))
    return pd.Series(bad, index=events.index)


def before_birth(frame: pd.DataFrame | Mapping[str, pd.Series], date_column: str) -> pd.Series:
    """Rows dated before the patient's ``date_of_birth`` (a column of ``frame``).

    Examples:
        >>> df = pd.DataFrame({"d": pd.to_datetime(["2000-01-01", "2010-01-01"]),
        ...                    "date_of_birth": pd.to_datetime(["2005-01-01"] * 2)})
        >>> before_birth(df, "d").tolist()
        [True, False]
    """
    return (frame[date_column] < frame["date_of_birth"]).fillna(False).astype(bool)


def after_death(frame: pd.DataFrame | Mapping[str, pd.Series], date_column: str) -> pd.Series:
    """Rows dated after the patient's ``date_of_death`` (a column of ``frame``; may be null).

    Examples:
        >>> df = pd.DataFrame({"d": pd.to_datetime(["2020-01-02", "2020-01-01", "2020-01-02"]),
        ...                    "date_of_death": pd.to_datetime(["2020-01-01", "2020-01-01", None])})
        >>> after_death(df, "d").tolist()
        [True, False, False]
    """
    return (frame[date_column] > frame["date_of_death"]).fillna(False).astype(bool)


def duplicate_rows(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Rows identical to an earlier row on ``columns`` (the first is kept).

    Examples:
        >>> df = pd.DataFrame({"a": [1, 1, 2], "b": ["x", "x", "x"]})
        >>> duplicate_rows(df, ["a", "b"]).tolist()
        [False, True, False]
    """
    return frame.duplicated(subset=columns, keep="first")


# --------------------------------------------------------------------------------------
# Cleaning
# --------------------------------------------------------------------------------------


def _clean_patients(p: pd.DataFrame, log: QualityLog) -> pd.DataFrame:
    p = nm.map_practice(p)
    unknown = p["pcn_code"].isna().to_numpy()
    if unknown.any():
        counts = p.loc[unknown, "practice_code"].astype("str").fillna("(blank)").value_counts()
        counts = counts[counts > 0].head(10)
        log.facts["unknown_practices"] = {
            "rows": int(unknown.sum()),
            "codes": [{"code": str(k), "rows": int(v)} for k, v in counts.items()],
        }
    p = log.drop(
        p,
        unknown,
        "patients",
        "practice_code",
        "unknown_practice",
        hint="Check that the extract is for Birmingham and Solihull practices (ODS codes).",
    )
    for later, earlier, rule in (
        ("date_of_death", "date_of_birth", "death_before_birth"),
        ("registration_end", "registration_start", "registration_end_before_start"),
    ):
        wrong_way = (p[later] < p[earlier]).fillna(False).to_numpy(dtype=bool)
        p = log.drop(p, wrong_way, "patients", later, rule, limit=_LIMITLESS)
    p = nm.map_ethnicity(p)
    unmapped = p["ethnicity_code"].notna() & (p["ethnicity_broad"] == "Unknown")
    unmapped &= ~p["ethnicity_code"].isin(["Z", "99"])
    log.recode(
        p, unmapped.to_numpy(dtype=bool), "patients", "ethnicity_code", "unmapped_ethnicity_code"
    )
    p = nm.map_lsoa(p)
    outside = (p["lsoa_code"].notna() & p["lsoa21_code"].isna()).to_numpy(dtype=bool)
    log.recode(p, outside, "patients", "lsoa_code", "lsoa_not_bsol")
    log.facts["lsoa_outside_bsol"] = int(outside.sum())
    n = max(len(p), 1)
    log.facts["missing_ethnicity_share"] = round(
        float((p["ethnicity_broad"] == "Unknown").sum() / n), 6
    )
    log.facts["missing_lsoa_share"] = round(float(p["lsoa21_code"].isna().sum() / n), 6)
    return p


def _life_dates(patients: pd.DataFrame, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Date of birth and of death of the patient at each position (``NaT`` for -1)."""
    dob = np.append(patients["date_of_birth"].to_numpy(), np.datetime64("NaT", "s"))
    dod = np.append(patients["date_of_death"].to_numpy(), np.datetime64("NaT", "s"))
    return dob[pos], dod[pos]


def _clean_linked(
    df: pd.DataFrame,
    table: str,
    date_col: str,
    patients: pd.DataFrame,
    log: QualityLog,
    locate: Callable[[pd.Series], np.ndarray],
) -> pd.DataFrame:
    """Drop rows of dropped patients and rows dated before birth or after death.

    Adds :data:`~bsol_analytics.vocabulary.PATIENT_ROW` (the patient's row in ``patients``,
    found by ``locate``), which ``prepare`` writes with the table.
    """
    pos = locate(df["patient_id"])
    dob, dod = _life_dates(patients, pos)  # NaT for dropped patients: neither rule fails
    light = {  # no copies: tens of millions of rows
        date_col: df[date_col].reset_index(drop=True),
        "date_of_birth": pd.Series(dob, copy=False),
        "date_of_death": pd.Series(dod, copy=False),
    }
    drops = [Drop(pos < 0, "patient_id", "patient_dropped", limit=_LIMITLESS)]
    for rule, func in (("before_birth", before_birth), ("after_death", after_death)):
        drops.append(Drop(func(light, date_col).to_numpy(), date_col, rule, limit=_LIMITLESS))
    return log.drop_in_turn(df.assign(**{PATIENT_ROW: pos.astype(np.int32)}), table, drops)


def _value_codes(s: pd.Series) -> np.ndarray:
    """Integers from 0, equal exactly where the values are equal (missing values alike).

    Dense integers (no wider than the number of rows, such as row positions) are their own
    codes; other values are numbered, each whole-day date by its day.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s.cat.codes.to_numpy().astype(np.int64) + 1
    if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu" and len(s):
        values = s.to_numpy().astype(np.int64)
        low = int(values.min())
        if int(values.max()) - low < len(values):
            return values - low
    if s.dtype.kind == "M":
        values = s.to_numpy()
        days = values.astype("datetime64[D]")
        if len(values) and (days == values).all():  # whole days, no NaT
            d = days.astype(np.int64)
            return d - d.min()
    return pd.factorize(s, use_na_sentinel=True)[0].astype(np.int64) + 1


def _duplicates(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """:func:`duplicate_rows` as a NumPy mask, by one sort of integer codes.

    One stable sort of one int64 key per row (:func:`bsol_analytics.compute.repeated_rows`)
    is several times faster than hashing several columns on tens of millions of rows.

    Examples:
        >>> df = pd.DataFrame({"a": [1, 1, 2, 1], "b": ["x", "x", "x", None]})
        >>> _duplicates(df, ["a", "b"]).tolist()
        [False, True, False, False]
    """
    if not len(frame):
        return np.zeros(0, dtype=bool)
    return repeated_rows([_value_codes(frame[c]) for c in columns])


def _clean_events(
    ev: pd.DataFrame,
    patients: pd.DataFrame,
    log: QualityLog,
    locate: Callable[[pd.Series], np.ndarray],
) -> pd.DataFrame:
    table = "clinical_events"
    known = _positions(ev["snomed_code"], pa.array(reference.clusters()["code"].unique())) >= 0
    unmapped = ~known
    if unmapped.any():
        counts = ev.loc[unmapped, "snomed_code"].value_counts()
        counts = counts[counts > 0]
        log.facts["unmapped_codes"] = {
            "rows": int(unmapped.sum()),
            "distinct": len(counts),
            "top": [{"code": str(k), "rows": int(v)} for k, v in counts.head(10).items()],
        }
    ev = log.drop(ev, unmapped, table, "snomed_code", "unmapped_code", limit=_LIMITLESS)
    ev = _clean_linked(ev, table, "event_date", patients, log, locate)
    n = len(ev)
    ev = assign_clusters(ev)
    base, extra = ev.iloc[:n], ev.iloc[n:]
    missing, implausible = missing_values(base), implausible_values(base)
    base = log.drop_in_turn(
        base,
        table,
        [
            Drop(missing.to_numpy(), "numeric_value", "missing_value", _LIMITLESS),
            Drop(implausible.to_numpy(), "numeric_value", "implausible_value", _LIMITLESS),
        ],
    )
    dup = _duplicates(base, [PATIENT_ROW, "event_date", "snomed_code", "numeric_value"])
    base = log.drop(base, dup, table, None, "duplicate", limit=_LIMITLESS)
    if len(extra):
        extra = extra[extra.index.isin(base.index)]
        base = pd.concat([base, extra])
    return base[list(PROCESSED_COLUMNS[table])]


def _clean_simple(
    df: pd.DataFrame,
    table: str,
    date_col: str,
    patients: pd.DataFrame,
    log: QualityLog,
    locate: Callable[[pd.Series], np.ndarray],
) -> pd.DataFrame:
    df = _clean_linked(df, table, date_col, patients, log, locate)
    cols = [c for c in PROCESSED_COLUMNS[table] if c in df.columns]
    df = log.drop(df, _duplicates(df, cols), table, None, "duplicate", limit=_LIMITLESS)
    return df[cols]


def _clean_medications(
    df: pd.DataFrame,
    patients: pd.DataFrame,
    log: QualityLog,
    locate: Callable[[pd.Series], np.ndarray],
) -> pd.DataFrame:
    """Medications: unknown dm+d codes dropped and counted, each code's group added.

    Then the rules of :func:`_clean_simple` (dropped patients, before birth, after death,
    duplicates).
    """
    table = "medications"
    groups = reference.drug_clusters().drop_duplicates("code")
    pos = _positions(df["dmd_code"], pa.array(groups["code"].to_numpy(), type=pa.large_string()))
    unknown = pos < 0
    if unknown.any():
        counts = df.loc[unknown, "dmd_code"].value_counts()
        counts = counts[counts > 0]
        log.facts["unknown_dmd_codes"] = {
            "rows": int(unknown.sum()),
            "distinct": len(counts),
            "top": [{"code": str(k), "rows": int(v)} for k, v in counts.head(10).items()],
        }
    df = log.drop(df, unknown, table, "dmd_code", "unknown_dmd_code", limit=_LIMITLESS)
    # each code's group as a category code: no text per row
    code_group = pd.Categorical(groups["group"].to_numpy(), categories=list(DRUG_GROUPS))
    group = pd.Categorical.from_codes(
        code_group.codes[pos[~unknown]], dtype=code_group.dtype, validate=False
    )
    df = df.assign(drug_group=group)
    return _clean_simple(df, table, "issue_date", patients, log, locate)


def _empty(table: str) -> pd.DataFrame:
    schema = PROCESSED_SCHEMAS[table]
    return pd.DataFrame(
        {name: pd.Series([], dtype=str(col.dtype)) for name, col in schema.columns.items()}
    ).astype(
        {
            name: "datetime64[s]"
            for name, col in schema.columns.items()
            if "datetime" in str(col.dtype)
        }
    )


def _finalise(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Fresh index; text columns as ``str``, or categorical where the contract says so."""
    df = df.reset_index(drop=True)
    keep_cat = CATEGORICAL_COLUMNS.get(table, ())
    for name in df.columns:
        s = df[name]
        if name in keep_cat:
            if not isinstance(s.dtype, pd.CategoricalDtype):
                s = s.astype("category")
            s = _without_unused_categories(s)
            if s.cat.categories.dtype != "str":
                s = s.cat.rename_categories(s.cat.categories.astype("str"))
            df[name] = s
        elif isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
            df[name] = _as_str(s)
    return df


def _without_unused_categories(s: pd.Series) -> pd.Series:
    """``s.cat.remove_unused_categories()`` by counting the codes (no sort of tens of millions).

    Examples:
        >>> s = pd.Series(pd.Categorical(["b", None, "d"], categories=["a", "b", "c", "d"]))
        >>> _without_unused_categories(s).cat.categories.tolist()
        ['b', 'd']
    """
    codes = s.cat.codes.to_numpy()
    cats = s.cat.categories
    used = np.bincount(codes.astype(np.intp) + 1, minlength=len(cats) + 1)[1:] > 0
    new = np.append(np.cumsum(used) - 1, -1)  # code -1 (missing) takes the last: -1
    dtype = pd.CategoricalDtype(cats[used], ordered=s.cat.ordered)
    cat = pd.Categorical.from_codes(new[codes], dtype=dtype, validate=False)
    return pd.Series(cat, index=s.index, name=s.name)


def _as_str(s: pd.Series) -> pd.Series:
    """``s.astype("str")``; a categorical of text is expanded in Arrow, not as Python strings.

    Examples:
        >>> _as_str(pd.Series(pd.Categorical(["x", None, "x"]))).tolist()
        ['x', nan, 'x']
    """
    if not (isinstance(s.dtype, pd.CategoricalDtype) and s.cat.categories.dtype == "str"):
        return s.astype("str")
    codes = s.cat.codes.to_numpy()
    text = _category_array(s).take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.arrays.ArrowStringArray(text), index=s.index, name=s.name).astype("str")


def clean_tables(extract: Extract, *, steps: Steps | None = None) -> dict[str, pd.DataFrame]:
    """Map, check and clean a typed extract into the processed tables.

    Patients: practice look-up (unknown practices dropped; refused above 1%), deaths
    before birth and registrations ending before they start dropped, ethnicity, residence
    geography and deprivation added. Events: codes in no cluster dropped (counted as
    unmapped codes), events of dropped patients, before birth or after death dropped,
    measurements without a value or outside plausible ranges dropped, exact duplicates
    removed. Screening, admissions, medications and ED attendances: the same date and
    duplicate rules; medications with a dm+d code in no medication group are dropped and
    counted (``unknown_dmd_code``).

    Args:
        extract: from :func:`read_extract`.
        steps: timing/progress helper.

    Returns:
        ``{"patients", "clinical_events", "screening", "admissions"}`` (plus ``medications`` and
        ``ed_attendances`` when supplied) -> new frames with the columns of
        ``docs/processed-tables.md`` (dates as ``datetime64[s]``; optional columns only
        when supplied) and a fresh index. ``clinical_events.patient_id``,
        ``snomed_code`` and ``cluster`` are pandas categoricals (tens of millions of
        rows); other text columns are ``str``. ``admissions`` has no rows when the
        extract has none.

    Examples:
        >>> from bsol_analytics import synth
        >>> ext = synth.sample_extract()
        >>> tables = clean_tables(read_extract(ext))
        >>> set(PROCESSED_TABLES) <= set(tables), tables["patients"]["patient_id"].is_unique
        (True, True)
    """
    return _clean_tables(extract, steps or Steps(enabled=False), None)


def _clean_tables(
    extract: Extract, steps: Steps, sink: Callable[[str, pd.DataFrame], None] | None
) -> dict[str, pd.DataFrame]:
    """:func:`clean_tables`, handing each table to ``sink(name, frame)`` once it is final.

    Patients come first (every other table is linked to them); no rule after them can
    refuse the extract, so a sink may start writing output then.
    """
    log = extract.log
    t = extract.tables
    with steps.step("Mapping patients"):
        patients = _clean_patients(t["patients"], log)
    index = extract.patient_index
    locate = index.lookup(patients) if isinstance(index, _PatientIndex) else _text_lookup(patients)
    out: dict[str, pd.DataFrame] = {}

    def done(name: str, frame: pd.DataFrame) -> None:
        out[name] = _finalise(name, frame)
        if sink is not None:
            sink(name, out[name])

    done("patients", patients[[c for c in PROCESSED_COLUMNS["patients"] if c in patients]])
    with steps.step("Cleaning clinical events"):
        done("clinical_events", _clean_events(t["clinical_events"], patients, log, locate))
    with steps.step("Cleaning screening"):
        done(
            "screening",
            _clean_simple(t["screening"], "screening", "test_date", patients, log, locate),
        )
    with steps.step("Cleaning admissions"):
        if "admissions" in t:
            adm = _clean_simple(
                t["admissions"], "admissions", "admission_date", patients, log, locate
            )
        else:
            adm = _empty("admissions")
        done("admissions", adm)
    if "medications" in t:
        with steps.step("Cleaning medications"):
            done("medications", _clean_medications(t["medications"], patients, log, locate))
    if "ed_attendances" in t:
        with steps.step("Cleaning ED attendances"):
            ed = t["ed_attendances"]
            done(
                "ed_attendances",
                _clean_simple(ed, "ed_attendances", "attendance_date", patients, log, locate),
            )
    out = {name: out[name] for name in ALL_PROCESSED_TABLES if name in out}
    ev_dates = out["clinical_events"]["event_date"]
    if len(ev_dates):
        lo, hi = ev_dates.min(), ev_dates.max()
        log.facts["event_date_range"] = [str(lo.date()), str(hi.date())]
    rd = frame_coverage(out).last_quarter  # the default of every command
    log.facts["default_reporting_date"] = str(rd) if rd else None
    log.facts["rows_written"] = {name: len(df) for name, df in out.items()}
    return out


# --------------------------------------------------------------------------------------
# Writing and loading
# --------------------------------------------------------------------------------------


def _to_arrow(df: pd.DataFrame) -> pa.Table:
    cols = {}
    for name in df.columns:
        s = df[name]
        if isinstance(s.dtype, pd.CategoricalDtype):
            arr = pa.array(s, from_pandas=True)
            arr = arr.cast(pa.dictionary(arr.type.index_type, pa.string()))
        elif pd.api.types.is_datetime64_any_dtype(s.dtype):
            arr = pa.array(
                s.to_numpy().astype("datetime64[D]"), type=pa.date32(), mask=s.isna().to_numpy()
            )
        elif isinstance(s.dtype, pd.Int8Dtype):
            arr = pa.array(s, type=pa.int8(), from_pandas=True)
        elif isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu":  # patient_row
            arr = pa.array(s.to_numpy())
        elif isinstance(s.dtype, pd.BooleanDtype):
            arr = pa.array(s, type=pa.bool_(), from_pandas=True)
        elif pd.api.types.is_float_dtype(s.dtype):
            arr = pa.array(s.to_numpy(), type=pa.float64(), from_pandas=True)
        else:
            arr = pa.array(s, type=pa.large_string(), from_pandas=True).cast(pa.string())
        cols[name] = arr
    return pa.table(cols)


def prepare_tables(
    extract_dir: str | os.PathLike[str],
    *,
    log: QualityLog | None = None,
    steps: Steps | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Read and clean an extract in memory (what ``bsol validate`` does).

    Args:
        extract_dir: the extract folder.
        log: optional log to fill (kept up to date even when refused).
        steps: timing/progress helper.

    Returns:
        The processed tables and the data-quality summary.

    Raises:
        ExtractError: when the extract is refused (``log`` then holds the counts so far).

    Examples:
        >>> from bsol_analytics import synth
        >>> ext = synth.sample_extract()
        >>> tables, summary = prepare_tables(ext)
        >>> summary["status"], summary["rows_written"]["patients"] == len(tables["patients"])
        ('usable', True)
    """
    return _prepare_tables(extract_dir, log if log is not None else QualityLog(), steps, None)


def _prepare_tables(
    extract_dir: str | os.PathLike[str],
    log: QualityLog,
    steps: Steps | None,
    sink: Callable[[str, pd.DataFrame], None] | None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """:func:`prepare_tables`, handing each table to ``sink`` once it is final."""
    steps = steps or Steps(enabled=False)
    try:
        extract = read_extract(extract_dir, log=log, steps=steps)
        tables = _clean_tables(extract, steps, sink)
    except ExtractError as err:
        log.refusal = str(err)
        raise
    return tables, data_quality_summary(log)


def _extract_files(extract_path: Path) -> list[Path]:
    """The extract's data files, in name order (what ``prepare_manifest.json`` lists)."""
    return sorted(
        f
        for p in (find_table_file(extract_path, t) for t in EXTRACT_TABLES)
        if p
        for f in table_files(p)
    )


class _TableWriter:
    """Writes the processed tables in a background thread while the next ones are cleaned.

    Parquet encoding and compression run in Arrow without the GIL, on a second core. The
    output folder (a temporary sibling, swapped into place when ``stack`` closes without an
    error) is opened with the first table: no rule after the patients' can refuse the
    extract, so a refused extract never touches it. ``stack`` closes the thread first, then
    the folder.
    """

    def __init__(self, out_path: Path, stack: contextlib.ExitStack) -> None:
        self.out_path = out_path
        self.stack = stack
        self.folder: Path | None = None
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.jobs: dict[str, concurrent.futures.Future[float]] = {}
        self.patients_digest: str | None = None

    def put(self, name: str, df: pd.DataFrame) -> None:
        """Start writing ``<name>.parquet``."""
        if self.pool is None:
            self.folder = self.stack.enter_context(
                atomic_directory(self.out_path, private=True, keep=("README.md",))
            )
            self.pool = concurrent.futures.ThreadPoolExecutor(1)
            # on an error or an interruption, writes not started are cancelled
            self.stack.callback(self.pool.shutdown, wait=True, cancel_futures=True)
        assert self.folder is not None
        self.jobs[name] = self.pool.submit(self._write, name, df, self.folder / f"{name}.parquet")

    def _write(self, name: str, df: pd.DataFrame, path: Path) -> float:
        """Write one table in the writer's thread; returns the seconds taken.

        Patients come first: every file records the digest of their ``patient_id`` values
        in row order (:data:`PATIENTS_DIGEST`), the rows its :data:`PATIENT_ROW` counts.
        """
        start = time.perf_counter()
        table = _to_arrow(df)
        if name == "patients":
            self.patients_digest = text_sha256(table["patient_id"])
        assert self.patients_digest is not None, "patients are written first"
        with pq.ParquetWriter(path, table.schema, compression="zstd", store_schema=False) as out:
            out.write_table(table)
            out.add_key_value_metadata({PATIENTS_DIGEST: self.patients_digest})
        return round(time.perf_counter() - start, 3)

    def finish(self, steps: Steps) -> Path:
        """Wait for the writes (raising their errors); their timings go to ``steps``."""
        with steps.step("Writing tables"):
            seconds = {name: job.result() for name, job in self.jobs.items()}
        for name, taken in seconds.items():
            steps.record(f"Writing {name}", taken)
        assert self.folder is not None
        return self.folder


def prepare(
    extract_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    progress: bool = True,
    *,
    log: QualityLog | None = None,
) -> dict[str, Any]:
    """Clean an extract and write the processed tables, atomically.

    Writes ``patients.parquet``, ``clinical_events.parquet``, ``screening.parquet``,
    ``admissions.parquet`` (no rows without an admissions table), ``data_quality.json``
    and ``prepare_manifest.json`` (input files' SHA-256, suite and contract versions,
    timings, ``admissions_supplied``). ``out_dir`` is replaced only when everything was
    written: a refused or interrupted run leaves earlier output as it was.
    The folder and its files are readable by their owner only (``0700``/``0600``).

    Args:
        extract_dir: the extract folder.
        out_dir: the processed folder (e.g. ``data/processed``).
        progress: show progress bars on stderr.
        log: optional log to fill (kept up to date even when refused).

    Returns:
        The data-quality summary (as written to ``data_quality.json``).

    Raises:
        ExtractError: when the extract is refused.

    Examples:
        >>> from bsol_analytics import synth
        >>> ext = synth.sample_extract()
        >>> out = ext.parent / "prepared"
        >>> summary = prepare(ext, out, progress=False)
        >>> {"admissions.parquet", "clinical_events.parquet", "data_quality.json",
        ...  "patients.parquet", "prepare_manifest.json", "screening.parquet"
        ...  } <= {p.name for p in out.iterdir()}
        True
    """
    start = time.perf_counter()
    reference.verify_manifest()
    log = log if log is not None else QualityLog()
    extract_path = Path(extract_dir)
    out_path = Path(out_dir)
    if out_path.resolve() == extract_path.resolve():
        raise ParameterError("The output folder must not be the extract folder.")
    with Steps(enabled=progress) as steps, contextlib.ExitStack() as stack:
        # checksums of the input files, computed while they are read and cleaned (not
        # finished if the extract is refused)
        pool = stack.enter_context(concurrent.futures.ThreadPoolExecutor(max_workers=1))
        stack.callback(pool.shutdown, wait=False, cancel_futures=True)
        unlisted: BsolError | OSError | None = None
        try:
            extract_files = _extract_files(extract_path)
        except (BsolError, OSError) as err:
            unlisted, extract_files = err, []  # read_extract reports the problem first
        hashes = {p: pool.submit(file_sha256, p) for p in extract_files}
        writer = _TableWriter(out_path, stack)
        tables, summary = _prepare_tables(extract_path, log, steps, writer.put)
        if unlisted is not None:
            raise unlisted
        # Patient-level tables: owner-only (0700 folder, 0600 files), whatever the umask.
        tmp = writer.finish(steps)
        atomic_write_text(
            tmp / "data_quality.json", json.dumps(summary, indent=2) + "\n", private=True
        )
        manifest = {
            "suite_version": __version__,
            "contract_version": CONTRACT_VERSION,
            "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "extract": str(extract_path.resolve()),
            "inputs": [
                {
                    "file": p.relative_to(extract_path).as_posix(),
                    "bytes": p.stat().st_size,
                    "sha256": hashes[p].result(),
                }
                for p in extract_files
            ],
            "reference_manifest_sha256": file_sha256(Path(reference.paths.RAW_DIR) / "MANIFEST"),
            "admissions_supplied": bool(summary["admissions_supplied"]),
            **_provenance(extract_path),
            "tables_supplied": sorted(tables),
            "rows": {name: len(df) for name, df in tables.items()},
            "default_reporting_date": summary["default_reporting_date"],
            "timings_seconds": {
                **steps.timings,
                "total": round(time.perf_counter() - start, 3),
            },
        }
        atomic_write_text(
            tmp / PREPARE_MANIFEST, json.dumps(manifest, indent=2) + "\n", private=True
        )
    return summary


def _provenance(extract_path: Path) -> dict[str, Any]:
    """``synthetic`` and ``source_description`` from an extract's ``synth_manifest.json``."""
    path = Path(extract_path) / "synth_manifest.json"
    info = json.loads(path.read_text()) if path.is_file() else {}
    info = info if isinstance(info, dict) else {}
    return {
        "synthetic": bool(info.get("synthetic", False)),
        "source_description": str(info.get("description", "")) or None,
    }


def _types_mapper(t: pa.DataType) -> Any:
    if t == pa.int8():
        return pd.Int8Dtype()
    if t == pa.bool_():
        return pd.BooleanDtype()
    return None


def load_prepared(folder: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Read the processed tables written by :func:`prepare`.

    Dates come back as ``datetime64[s]``, IMD columns as ``Int8``, ``core20`` as
    ``boolean``, text as ``str`` except the categorical columns of ``clinical_events``
    (``patient_id``, ``snomed_code``, ``cluster``), exactly as :func:`clean_tables` returns
    them.

    Args:
        folder: a folder written by ``bsol prepare``.

    Returns:
        ``{"patients", "clinical_events", "screening", "admissions"}`` -> DataFrame.

    Raises:
        BsolError: when the folder is not a complete prepared folder.

    Examples:
        >>> from bsol_analytics import synth
        >>> ext = synth.sample_extract()
        >>> _ = prepare(ext, ext.parent / "prepared", progress=False)
        >>> tables = load_prepared(ext.parent / "prepared")
        >>> [str(tables[t][c].dtype) for t, c in [("patients", "date_of_birth"),
        ...                                        ("clinical_events", "cluster")]]
        ['datetime64[s]', 'category']
    """
    folder = Path(folder)
    missing = [t for t in PROCESSED_TABLES if not (folder / f"{t}.parquet").is_file()]
    if missing:
        raise BsolError(
            f"{folder} is not a prepared folder ({missing[0]}.parquet is missing). "
            f"Run 'bsol prepare EXTRACT --out {folder}' first."
        )
    return {
        t: read_prepared_table(folder, t)
        for t in ALL_PROCESSED_TABLES
        # an optional table the extract did not supply is left out
        if t in PROCESSED_TABLES or (folder / f"{t}.parquet").is_file()
    }


def read_prepared_table(
    folder: str | os.PathLike[str], table: str, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """One table of a prepared folder (``columns`` of it, or all), typed as :func:`load_prepared`.

    Examples:
        >>> from bsol_analytics import synth
        >>> ext = synth.sample_extract()
        >>> _ = prepare(ext, ext.parent / "prepared", progress=False)
        >>> read_prepared_table(ext.parent / "prepared", "patients", ["date_of_birth"]).dtypes
        date_of_birth    datetime64[s]
        dtype: object
    """
    df = pq.read_table(
        Path(folder) / f"{table}.parquet",
        columns=None if columns is None else list(columns),
        read_dictionary=list(CATEGORICAL_COLUMNS.get(table, ())),
    ).to_pandas(date_as_object=False, types_mapper=_types_mapper)
    dates = [c for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c].dtype)]
    return df.astype(dict.fromkeys(dates, "datetime64[s]")) if dates else df
