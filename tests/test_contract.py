"""validate_processed: pandera failures reported as plain-English BsolErrors."""

from __future__ import annotations

import pandas as pd
import pytest

from bsol_analytics.contract import PROCESSED_SCHEMAS, ProcessedTableError, validate_processed
from bsol_analytics.errors import BsolError, ExtractError, ParameterError


def _admissions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": pd.Series(["p1", "p2", "p3"], dtype="str"),
            "admission_date": pd.Series(["2024-01-02"] * 3, dtype="datetime64[s]"),
            "admission_method": pd.Series(["emergency", "elective", "emergency"], dtype="str"),
        }
    )


def _bad_values(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(admission_method=pd.Series(["emergency", "walk-in", "x"], dtype="str"))


def _extra_column(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(ward="A")


def _reordered(df: pd.DataFrame) -> pd.DataFrame:
    return df[["admission_date", "patient_id", "admission_method"]]


@pytest.mark.parametrize(
    ("break_it", "column", "rule", "rows"),
    [
        (_bad_values, "admission_method", "fail the check isin(['emergency', 'elective'])", [2, 3]),
        (lambda df: df.drop(columns="admission_method"), "admission_method", "missing", []),
        (
            lambda df: df.assign(admission_date=df["admission_date"].astype("str")),
            "admission_date",
            "wrong data type",
            [],
        ),
        (
            lambda df: df.assign(patient_id=pd.Series(["p1", None, "p3"], dtype="str")),
            "patient_id",
            "must not be blank",
            [2],
        ),
        (_extra_column, "ward", "not a column of this table", []),
        (_reordered, "admission_date", "out of the table's column order", []),
    ],
    ids=["values", "missing", "dtype", "null", "extra", "order"],
)
def test_schema_failures_name_table_column_and_rule(break_it, column, rule, rows):
    with pytest.raises(ProcessedTableError) as info:
        validate_processed("admissions", break_it(_admissions()))
    err = info.value
    assert isinstance(err, ExtractError) and isinstance(err, BsolError)
    assert err.table == "admissions"
    assert err.column == column
    assert f"column '{column}'" in str(err)
    assert rule in err.rule
    assert err.rows == rows
    assert err.detail and err.detail in str(err)  # pandera's own words are kept
    assert "bsol prepare" in str(err)
    assert err.exit_code == 3


def test_empty_patients_table_with_wrong_types_is_a_plain_error():
    cols = list(PROCESSED_SCHEMAS["patients"].columns)
    df = pd.DataFrame({c: pd.Series(dtype="str") for c in cols})
    with pytest.raises(ProcessedTableError, match="Table 'patients', column 'date_of_birth'"):
        validate_processed("patients", df)


def test_valid_frame_is_returned_unchanged():
    df = _admissions()
    before = df.copy()
    out = validate_processed("admissions", df)
    pd.testing.assert_frame_equal(out, before)
    pd.testing.assert_frame_equal(df, before)


def test_unknown_table_is_a_parameter_error():
    with pytest.raises(ParameterError, match="not a processed table"):
        validate_processed("nope", _admissions())


# --- contract version 2 ---


def test_contract_is_version_2_with_optional_inputs():
    from bsol_analytics.contract import CONTRACT_VERSION, EXTRACT_TABLES

    assert CONTRACT_VERSION == 2
    assert not EXTRACT_TABLES["medications"].required
    assert not EXTRACT_TABLES["ed_attendances"].required
    assert EXTRACT_TABLES["admissions"].required_column_names == (
        "patient_id",
        "admission_date",
        "admission_method",
    )
    assert EXTRACT_TABLES["patients"].column("underlying_cause_of_death").optional


def test_optional_processed_columns_may_be_absent_or_present():
    validate_processed("admissions", _admissions())
    with_dx = _admissions().assign(primary_diagnosis=pd.Series(["I10X", None, "E11"], dtype="str"))
    assert validate_processed("admissions", with_dx) is with_dx


@pytest.mark.parametrize("code", ["I10.X", "i10x", "12A", "C34.90"])
def test_processed_icd10_must_be_normalised(code):
    bad = _admissions().assign(primary_diagnosis=pd.Series([code, None, None], dtype="str"))
    with pytest.raises(ProcessedTableError, match="column 'primary_diagnosis'"):
        validate_processed("admissions", bad)


def test_medications_schema_checks_the_group():
    meds = pd.DataFrame(
        {
            "patient_id": pd.Series(["p1"], dtype="str"),
            "issue_date": pd.Series(["2024-01-02"], dtype="datetime64[s]"),
            "dmd_code": pd.Series(["123"], dtype="str"),
            "drug_group": pd.Series(["LLT"], dtype="str"),
        }
    )
    validate_processed("medications", meds)
    with pytest.raises(ProcessedTableError, match="column 'drug_group'"):
        validate_processed("medications", meds.assign(drug_group="ASPIRIN"))
