"""The extract data contract (``docs/data-contract.md``) and the processed tables, as data.

:data:`EXTRACT_TABLES` describes what ``bsol validate`` and ``bsol prepare`` accept: the
tables, whether each is required, and each column's kind and nullability. The pandera
schemas in :data:`PROCESSED_SCHEMAS` describe what ``bsol prepare`` writes
(``docs/processed-tables.md``); :func:`validate_processed` checks a frame against them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

with warnings.catch_warnings():
    # pandera probes optional back-ends on import; keep their warnings off the console.
    warnings.simplefilter("ignore", FutureWarning)
    import pandera.pandas as pa

from bsol_analytics.errors import ExtractError, ParameterError
from bsol_analytics.reference import ETHNICITY_BROAD, LOCALITIES
from bsol_analytics.vocabulary import PATIENT_ROW

__all__ = [
    "ADMISSION_METHODS",
    "CATEGORICAL_COLUMNS",
    "CLUSTERS",
    "CONTRACT_VERSION",
    "DRUG_GROUPS",
    "EXTRACT_TABLES",
    "MALFORMED_SHARE",
    "OPEN_BELOW",
    "OPTIONAL_COLUMNS",
    "OPTIONAL_PROCESSED",
    "PLACES_OF_DEATH",
    "PLAUSIBLE_RANGES",
    "PROCESSED_COLUMNS",
    "PROCESSED_SCHEMAS",
    "SCREENING_OUTCOMES",
    "SCREENING_PROGRAMMES",
    "ColumnSpec",
    "ProcessedTableError",
    "TableSpec",
    "table_spec",
    "validate_processed",
]

#: Version of docs/data-contract.md implemented here.
CONTRACT_VERSION = 2

#: A rule failed by more than this share of a table's rows refuses the extract.
MALFORMED_SHARE = 0.01

Kind = Literal["id", "string", "code", "date", "float"]


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an extract table.

    Attributes:
        name: column name as it appears in the file header.
        kind: ``id`` (pseudonymised key), ``string``, ``code``, ``date`` or ``float``.
        nullable: whether a blank value is allowed.
        description: one line for documentation and error messages.
        optional: whether the column may be absent from the file (a version 2 addition to
            a version 1 table); the indicators that need it are then skipped.

    Examples:
        >>> spec = EXTRACT_TABLES["patients"].column("date_of_death")
        >>> spec.kind, spec.nullable
        ('date', True)
    """

    name: str
    kind: Kind
    nullable: bool = False
    description: str = ""
    optional: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One extract table.

    Attributes:
        name: table name, also the file stem (``patients.csv``/``patients.parquet``).
        required: whether the extract must contain it.
        columns: the contract's columns; every one must be present in the file header.
        unique: the column whose values must be unique, if any.

    Examples:
        >>> EXTRACT_TABLES["patients"].column_names[:3]
        ('patient_id', 'sex', 'date_of_birth')
    """

    name: str
    required: bool
    columns: tuple[ColumnSpec, ...]
    unique: str | None = None
    description: str = ""
    _by_name: dict[str, ColumnSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.columns})

    @property
    def column_names(self) -> tuple[str, ...]:
        """The column names in contract order (see the class example)."""
        return tuple(c.name for c in self.columns)

    @property
    def required_column_names(self) -> tuple[str, ...]:
        """The columns every file of this table must have (all but the optional ones).

        Examples:
            >>> "primary_diagnosis" in EXTRACT_TABLES["admissions"].required_column_names
            False
        """
        return tuple(c.name for c in self.columns if not c.optional)

    def column(self, name: str) -> ColumnSpec:
        """The spec of column ``name``.

        Examples:
            >>> EXTRACT_TABLES["clinical_events"].column("numeric_value").nullable
            True
        """
        return self._by_name[name]

    def columns_of_kind(self, kind: Kind) -> tuple[str, ...]:
        """Names of the columns of one kind, e.g. ``"date"``.

        Examples:
            >>> EXTRACT_TABLES["screening"].columns_of_kind("code")
            ('programme', 'outcome')
        """
        return tuple(c.name for c in self.columns if c.kind == kind)


_PID = ColumnSpec("patient_id", "id", description="pseudonymised patient key")

EXTRACT_TABLES: dict[str, TableSpec] = {
    "patients": TableSpec(
        "patients",
        required=True,
        unique="patient_id",
        description="one row per patient",
        columns=(
            ColumnSpec("patient_id", "id", description="pseudonymised key, unique"),
            ColumnSpec("sex", "code", description="M/F/U (Male/Female/1/2/9/0 accepted)"),
            ColumnSpec("date_of_birth", "date"),
            ColumnSpec(
                "ethnicity_code", "code", nullable=True, description="SNOMED CT or NHS letter"
            ),
            ColumnSpec("lsoa_code", "code", nullable=True, description="LSOA 2021 or 2011"),
            ColumnSpec("practice_code", "code", description="ODS code of the practice"),
            ColumnSpec("registration_start", "date"),
            ColumnSpec("registration_end", "date", nullable=True),
            ColumnSpec("date_of_death", "date", nullable=True),
            ColumnSpec("place_of_death", "code", nullable=True),
            ColumnSpec(
                "underlying_cause_of_death",
                "code",
                nullable=True,
                optional=True,
                description="ICD-10 code of the underlying cause of death (version 2)",
            ),
        ),
    ),
    "clinical_events": TableSpec(
        "clinical_events",
        required=True,
        description="one row per coded entry",
        columns=(
            _PID,
            ColumnSpec("event_date", "date"),
            ColumnSpec("snomed_code", "code", description="SNOMED CT concept id"),
            ColumnSpec("numeric_value", "float", nullable=True),
        ),
    ),
    "screening": TableSpec(
        "screening",
        required=True,
        description="one row per screening test",
        columns=(
            _PID,
            ColumnSpec("programme", "code", description="breast, cervical or bowel"),
            ColumnSpec("test_date", "date"),
            ColumnSpec("outcome", "code", description="adequate or inadequate"),
        ),
    ),
    "admissions": TableSpec(
        "admissions",
        required=False,
        description="one row per hospital admission",
        columns=(
            _PID,
            ColumnSpec("admission_date", "date"),
            ColumnSpec("admission_method", "code", description="emergency or elective"),
            ColumnSpec(
                "primary_diagnosis",
                "code",
                nullable=True,
                optional=True,
                description="ICD-10 code of the primary diagnosis (version 2)",
            ),
        ),
    ),
    "medications": TableSpec(
        "medications",
        required=False,
        description="one row per prescription issue (version 2)",
        columns=(
            _PID,
            ColumnSpec("issue_date", "date"),
            ColumnSpec("dmd_code", "code", description="dm+d concept id"),
        ),
    ),
    "ed_attendances": TableSpec(
        "ed_attendances",
        required=False,
        description="one row per type 1-4 emergency department attendance (version 2)",
        columns=(_PID, ColumnSpec("attendance_date", "date")),
    ),
}


def table_spec(name: str) -> TableSpec:
    """The contract of one extract table.

    Raises:
        ParameterError: for a name that is not a contract table.

    Examples:
        >>> table_spec("screening").required
        True
        >>> table_spec("admissions").columns_of_kind("date")
        ('admission_date',)
    """
    try:
        return EXTRACT_TABLES[name]
    except KeyError:
        raise ParameterError(
            f"{name!r} is not a table of the data contract; tables are {', '.join(EXTRACT_TABLES)}."
        ) from None


#: Clusters kept in ``clinical_events`` (see :func:`bsol_analytics.reference.clusters`).
CLUSTERS: tuple[str, ...] = (
    "HYP_COD",
    "HYPRES_COD",
    "DM_COD",
    "DMRES_COD",
    "COPD_COD",
    "COPDRES_COD",
    "PALCARE_COD",
    "PALCARENI_COD",
    "SBP",
    "DBP",
    "HBA1C",
    "COPD_REVIEW",
    # version 2
    "CHOL",
    "HDL",
    "LDL",
    "NONHDL",
    "CHD_COD",
    "STRK_COD",
    "TIA_COD",
    "PAD_COD",
    "DMTYPE1_COD",
    "DMTYPE2_COD",
    "CARE_PLAN",
)

#: Medication groups kept in ``medications`` (see :func:`bsol_analytics.reference.drug_clusters`).
DRUG_GROUPS: tuple[str, ...] = ("LLT", "ANTIHYP")

#: Inclusive plausible ranges for measured values; outside them the event is dropped.
#: Blood pressure in mmHg (the QOF extraction and most clinical systems reject values
#: outside similar limits); HbA1c in mmol/mol (IFCC; 20 is about 4% DCCT, 200 about 20%).
#: Cholesterol (total, HDL, LDL, non-HDL) in mmol/L: 0 < v <= 30 (contract version 2; the
#: lower bound is exclusive, see :data:`OPEN_BELOW`).
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    "SBP": (50.0, 300.0),
    "DBP": (20.0, 200.0),
    "HBA1C": (20.0, 200.0),
    "CHOL": (0.0, 30.0),
    "HDL": (0.0, 30.0),
    "LDL": (0.0, 30.0),
    "NONHDL": (0.0, 30.0),
}

#: Measures whose lower plausible bound is exclusive (a value equal to it is implausible).
OPEN_BELOW: frozenset[str] = frozenset({"CHOL", "HDL", "LDL", "NONHDL"})

PLACES_OF_DEATH: tuple[str, ...] = ("home", "care home", "hospital", "hospice", "other")
SCREENING_PROGRAMMES: tuple[str, ...] = ("breast", "cervical", "bowel")
SCREENING_OUTCOMES: tuple[str, ...] = ("adequate", "inadequate")
ADMISSION_METHODS: tuple[str, ...] = ("emergency", "elective")

_LOCALITIES = list(LOCALITIES)
_BROAD = list(ETHNICITY_BROAD)


def _col(dtype: object, nullable: bool = False, **kw: object) -> pa.Column:
    return pa.Column(dtype, nullable=nullable, coerce=False, **kw)  # type: ignore[arg-type]


_DATE = "datetime64[s]"

#: A normalised ICD-10 code: letter, two digits, optionally a fourth character (no dot).
_ICD10 = r"^[A-Z][0-9]{2}[0-9A-Z]?$"


def _schema(name: str, columns: dict[str, pa.Column]) -> pa.DataFrameSchema:
    """A processed table's schema: exactly these columns, in this order."""
    return pa.DataFrameSchema(columns, strict=True, ordered=True, name=name)


def _linked(name: str, columns: dict[str, pa.Column]) -> pa.DataFrameSchema:
    """A table linked to ``patients``: ``columns``, then :data:`PATIENT_ROW` when present."""
    row = _col("int32", required=False, checks=pa.Check.ge(0))
    return _schema(name, {**columns, PATIENT_ROW: row})


#: pandera schemas of the processed tables, as loaded by ``cleaning.load_prepared``
#: (Parquet ``date32`` columns read as ``datetime64[s]``).
PROCESSED_SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "patients": _schema(
        "patients",
        {
            "patient_id": _col("str", unique=True),
            "sex": _col("str", checks=pa.Check.isin(["M", "F", "U"])),
            "date_of_birth": _col(_DATE),
            "ethnicity_broad": _col("str", checks=pa.Check.isin(_BROAD)),
            "ethnicity_detailed": _col("str"),
            "lsoa21_code": _col("str", nullable=True),
            "ward_code": _col("str", nullable=True),
            "ward_name": _col("str", nullable=True),
            "local_authority": _col(
                "str", nullable=True, checks=pa.Check.isin(["Birmingham", "Solihull"])
            ),
            "resident_locality": _col("str", nullable=True, checks=pa.Check.isin(_LOCALITIES)),
            "imd2025_decile": _col("Int8", nullable=True, checks=pa.Check.in_range(1, 10)),
            "imd2025_quintile": _col("Int8", nullable=True, checks=pa.Check.in_range(1, 5)),
            "imd2019_decile": _col("Int8", nullable=True, checks=pa.Check.in_range(1, 10)),
            "imd2019_quintile": _col("Int8", nullable=True, checks=pa.Check.in_range(1, 5)),
            "core20": _col("boolean", nullable=True),
            "practice_code": _col("str"),
            "practice_name": _col("str"),
            "pcn_code": _col("str"),
            "pcn_name": _col("str"),
            "practice_locality": _col("str", checks=pa.Check.isin(_LOCALITIES)),
            "registration_start": _col(_DATE),
            "registration_end": _col(_DATE, nullable=True),
            "date_of_death": _col(_DATE, nullable=True),
            "place_of_death": _col(
                "str", nullable=True, checks=pa.Check.isin(list(PLACES_OF_DEATH))
            ),
            "underlying_cause_of_death": _col(
                "str", nullable=True, required=False, checks=pa.Check.str_matches(_ICD10)
            ),
        },
    ),
    "clinical_events": _linked(
        "clinical_events",
        {
            "patient_id": _col("category"),
            "event_date": _col(_DATE),
            "snomed_code": _col("category"),
            "numeric_value": _col("float64", nullable=True),
            "cluster": _col("category", checks=pa.Check.isin(list(CLUSTERS))),
        },
    ),
    "screening": _linked(
        "screening",
        {
            "patient_id": _col("str"),
            "programme": _col("str", checks=pa.Check.isin(list(SCREENING_PROGRAMMES))),
            "test_date": _col(_DATE),
            "outcome": _col("str", checks=pa.Check.isin(list(SCREENING_OUTCOMES))),
        },
    ),
    "admissions": _linked(
        "admissions",
        {
            "patient_id": _col("str"),
            "admission_date": _col(_DATE),
            "admission_method": _col("str", checks=pa.Check.isin(list(ADMISSION_METHODS))),
            "primary_diagnosis": _col(
                "str", nullable=True, required=False, checks=pa.Check.str_matches(_ICD10)
            ),
        },
    ),
    "medications": _linked(
        "medications",
        {
            "patient_id": _col("str"),
            "issue_date": _col(_DATE),
            "dmd_code": _col("str"),
            "drug_group": _col("str", checks=pa.Check.isin(list(DRUG_GROUPS))),
        },
    ),
    "ed_attendances": _linked(
        "ed_attendances",
        {"patient_id": _col("str"), "attendance_date": _col(_DATE)},
    ),
}

#: Processed tables that exist only when the extract supplied them (contract version 2).
OPTIONAL_PROCESSED: tuple[str, ...] = ("medications", "ed_attendances")

#: Optional processed columns: present only when the extract supplied them.
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("underlying_cause_of_death",),
    "admissions": ("primary_diagnosis",),
}

#: Processed columns held as pandas categoricals (Parquet dictionary-encoded strings):
#: the high-volume text columns of ``clinical_events``.
CATEGORICAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "clinical_events": ("patient_id", "snomed_code", "cluster"),
}

#: Column order of every processed table.
PROCESSED_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(schema.columns) for name, schema in PROCESSED_SCHEMAS.items()
}


class ProcessedTableError(ExtractError):
    """A processed table that breaks its schema (``docs/processed-tables.md``).

    Raised by :func:`validate_processed` instead of pandera's ``SchemaError``: it names the
    table, the column and the rule in plain English and keeps pandera's own description of
    the failure in the message (and in :attr:`detail`).

    Args:
        table: the processed table, e.g. ``"admissions"``.
        column: the failing column, or ``None`` for a table-level problem.
        rule: the broken rule, in plain English.
        detail: pandera's description of the failure.
        rows: a few example row numbers (1-based).

    Examples:
        >>> err = ProcessedTableError("admissions", "admission_method",
        ...     "must be one of emergency, elective", "isin failure cases: x", rows=[2])
        >>> print(err)  # doctest: +NORMALIZE_WHITESPACE
        Table 'admissions', column 'admission_method': must be one of emergency, elective
        [isin failure cases: x] (example rows: 2). Processed tables are written by
        'bsol prepare': run it again on the extract rather than editing its output.
    """

    def __init__(
        self,
        table: str,
        column: str | None,
        rule: str,
        detail: str,
        rows: list[int] | None = None,
    ) -> None:
        self.detail = detail
        super().__init__(
            table,
            column,
            f"{rule} [{detail}]",
            rows=rows,
            hint="Processed tables are written by 'bsol prepare': run it again on the "
            "extract rather than editing its output.",
        )


#: Plain-English rule for each pandera failure reason (by reason-code name).
_SCHEMA_RULES: dict[str, str] = {
    "COLUMN_NOT_IN_DATAFRAME": "is required but is missing",
    "COLUMN_NOT_IN_SCHEMA": "is not a column of this table",
    "COLUMN_NOT_ORDERED": "is out of the table's column order",
    "WRONG_DATATYPE": "has the wrong data type",
    "SERIES_CONTAINS_NULLS": "must not be blank",
    "SERIES_CONTAINS_DUPLICATES": "must be unique",
    "DATAFRAME_CHECK": "has values that fail the check",
}


def _schema_failure(table: str, err: pa.errors.SchemaError) -> ProcessedTableError:
    """Translate pandera's ``SchemaError`` into a :class:`ProcessedTableError`."""
    reason = getattr(err.reason_code, "name", str(err.reason_code))
    cases = err.failure_cases
    column = getattr(err.schema, "name", None) if isinstance(err.schema, pa.Column) else None
    if column is None and isinstance(cases, str):
        column = cases
    if column is None and isinstance(cases, pd.DataFrame) and "failure_case" in cases:
        if reason in ("COLUMN_NOT_IN_SCHEMA", "COLUMN_NOT_ORDERED") and len(cases):
            column = str(cases["failure_case"].iloc[0])
    rule = _SCHEMA_RULES.get(reason, "breaks the processed-table schema")
    if reason == "DATAFRAME_CHECK" and err.check is not None:
        rule = f"{rule} {getattr(err.check, 'error', None) or err.check}"
    rows: list[int] = []
    if isinstance(cases, pd.DataFrame) and "index" in cases:
        index = pd.to_numeric(cases["index"], errors="coerce").dropna()
        rows = [int(i) + 1 for i in index.head(5)]
    return ProcessedTableError(table, column, rule, str(err), rows=rows)


def validate_processed(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Check a processed table against its pandera schema.

    Args:
        table: ``patients``, ``clinical_events``, ``screening``, ``admissions``,
            ``medications`` or ``ed_attendances``.
        frame: the table as returned by ``cleaning.load_prepared`` (the categorical
            columns of ``clinical_events`` may also be plain strings).

    Returns:
        ``frame`` unchanged when it conforms.

    Raises:
        ParameterError: ``table`` is not a processed table.
        ProcessedTableError: naming the table, the first failing column and the rule, with
            pandera's detail and example rows (row numbers are the frame's index plus 1).

    Examples:
        >>> df = pd.DataFrame({
        ...     "patient_id": pd.Series(["p1"], dtype="str"),
        ...     "admission_date": pd.Series(["2024-01-02"], dtype="datetime64[s]"),
        ...     "admission_method": pd.Series(["emergency"], dtype="str"),
        ... })
        >>> len(validate_processed("admissions", df))
        1
        >>> validate_processed("admissions", df.drop(columns="admission_method"))
        Traceback (most recent call last):
        ...
        bsol_analytics.contract.ProcessedTableError: Table 'admissions', column ...
    """
    if table not in PROCESSED_SCHEMAS:
        raise ParameterError(f"{table!r} is not a processed table.")
    # Categorical columns may also arrive as plain strings (e.g. from pandas.read_parquet).
    as_cat = {
        c: "category"
        for c in CATEGORICAL_COLUMNS.get(table, ())
        if c in frame.columns and not isinstance(frame[c].dtype, pd.CategoricalDtype)
    }
    check = frame.astype(as_cat) if as_cat else frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            PROCESSED_SCHEMAS[table].validate(check)
        except pa.errors.SchemaError as err:
            raise _schema_failure(table, err) from err
        except pa.errors.SchemaErrors as errs:  # column order and strictness come together
            raise _schema_failure(table, errs.schema_errors[0]) from errs
    return frame
