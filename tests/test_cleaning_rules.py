"""Every drop or recode rule is applied and counted (table, column, rule, rows)."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bsol_analytics import reference
from bsol_analytics.cleaning import (
    after_death,
    assign_clusters,
    before_birth,
    data_quality_summary,
    duplicate_rows,
    implausible_values,
    load_prepared,
    missing_values,
    pipeline,
    prepare,
    prepare_tables,
    render_data_quality,
)
from bsol_analytics.cleaning.quality import QualityLog
from bsol_analytics.contract import PROCESSED_SCHEMAS, validate_processed
from bsol_analytics.dates import Coverage

N = 600
SBP = reference.codelist("SBP")["code"].iloc[0]
HYP = reference.codelist("HYP_COD")["code"].iloc[0]


@pytest.fixture(scope="module")
def base_frames(extract_frames):
    return extract_frames(N, 6, seed=11)


def _copy(frames):
    return {k: v.copy() for k, v in frames.items()}


def _alive(frames):
    p = frames["patients"]
    return p.index[(p["date_of_death"] == "") & (p["registration_end"] == "")][0]


def _add(frames, table, **values):
    df = frames[table]
    row = df.iloc[[0]].copy()
    for k, v in values.items():
        row[k] = v
    frames[table] = pd.concat([df, row], ignore_index=True)


def _set(frames, table, row, **values):
    for k, v in values.items():
        frames[table].loc[row, k] = v


def m_blank_patient_id(f):
    _add(f, "clinical_events", patient_id="")


def m_invalid_date(f):
    _add(f, "clinical_events", event_date="2024-13-45")


def m_invalid_sex(f):
    _set(f, "patients", 5, sex="X")


def m_blank_sex(f):
    _set(f, "patients", 5, sex="")


def m_unknown_practice(f):
    _set(f, "patients", 7, practice_code="Z99999")


def m_death_before_birth(f):
    _set(
        f,
        "patients",
        8,
        date_of_birth="1990-01-01",
        date_of_death="1980-01-01",
        place_of_death="home",
        registration_start="1990-02-01",
    )


def m_reg_end_before_start(f):
    _set(f, "patients", 9, registration_start="2010-01-01", registration_end="2009-01-01")


def m_unknown_patient(f):
    _add(f, "clinical_events", patient_id="NOBODY")


def m_unmapped_code(f):
    _add(f, "clinical_events", snomed_code="999999999")
    _add(f, "clinical_events", snomed_code="999999999")


def _add_event(f, code, value, date):
    """Add an event of the first patient who is alive and still registered; their id."""
    pid = f["patients"].loc[_alive(f), "patient_id"]
    _add(
        f,
        "clinical_events",
        patient_id=pid,
        snomed_code=code,
        numeric_value=value,
        event_date=date,
    )
    return pid


def _only_event(f, date, **patient):
    """Change a patient, then give them one hypertension event on ``date`` and no other."""
    i = _alive(f)
    _set(f, "patients", i, **patient)
    pid = f["patients"].loc[i, "patient_id"]
    ev = f["clinical_events"]
    f["clinical_events"] = ev[ev["patient_id"] != pid]
    _add(
        f,
        "clinical_events",
        patient_id=pid,
        snomed_code=HYP,
        numeric_value="",
        event_date=date,
    )


def m_missing_value(f):
    _add_event(f, SBP, "", "2024-01-01")


def m_implausible(f):
    _add_event(f, SBP, "400", "2024-01-01")
    _add_event(f, SBP, "0", "2024-01-02")


def m_not_a_number(f):
    _add_event(f, HYP, "high", "2024-01-01")


def m_duplicate_event(f):
    f["clinical_events"] = pd.concat(
        [f["clinical_events"], f["clinical_events"].iloc[[3, 4]]], ignore_index=True
    )


def m_before_birth(f):
    _only_event(f, "1999-01-01", date_of_birth="2000-06-01", registration_start="2000-06-02")


def m_after_death(f):
    _only_event(f, "2021-01-01", date_of_death="2020-01-01", place_of_death="hospital")


def m_unknown_programme(f):
    _set(f, "screening", 2, programme="lung")


def m_unknown_outcome(f):
    _set(f, "screening", 2, outcome="maybe")


def m_unknown_method(f):
    _set(f, "admissions", 1, admission_method="maternity")


def m_place_of_death(f):
    p = f["patients"]
    i = p.index[p["date_of_death"] != ""][0]
    _set(f, "patients", i, place_of_death="on holiday")


def m_ethnicity(f):
    _set(f, "patients", 3, ethnicity_code="123")


def m_lsoa(f):
    _set(f, "patients", 3, lsoa_code="E01000001")


def m_malformed_row(f):
    # a row with one field too many, written below by the test
    pass


LDL = reference.codelist("LDL")["code"].iloc[0]
STATIN = reference.drug_codelist("LLT")["code"].iloc[0]


def _dead(f):
    """Index and id of the first patient with a date of death."""
    p = f["patients"]
    i = p.index[p["date_of_death"] != ""][0]
    return i, p.loc[i, "patient_id"], p.loc[i, "date_of_death"]


def _day_after(day: str) -> str:
    return str((pd.Timestamp(day) + pd.Timedelta(days=1)).date())


def m_unknown_dmd(f):
    _add(f, "medications", dmd_code="999999999")
    _add(f, "medications", dmd_code="999999999")


def m_medication_after_death(f):
    _, pid, dod = _dead(f)
    _add(f, "medications", patient_id=pid, issue_date=_day_after(dod), dmd_code=STATIN)


def m_ed_after_death(f):
    _, pid, dod = _dead(f)
    _add(f, "ed_attendances", patient_id=pid, attendance_date=_day_after(dod))


def m_medication_duplicate(f):
    f["medications"] = pd.concat([f["medications"], f["medications"].iloc[[2]]], ignore_index=True)


def m_ed_duplicate(f):
    ed = f["ed_attendances"]
    f["ed_attendances"] = pd.concat([ed, ed.iloc[[1]]], ignore_index=True)


def m_ed_unknown_patient(f):
    _add(f, "ed_attendances", patient_id="GHOST")


def m_cholesterol_implausible(f):
    _add_event(f, LDL, "0", "2024-01-01")
    _add_event(f, LDL, "30.1", "2024-01-02")
    _add_event(f, LDL, "30", "2024-01-03")


def m_cholesterol_missing(f):
    _add_event(f, LDL, "", "2024-01-01")


def m_invalid_diagnosis(f):
    _set(f, "admissions", 3, primary_diagnosis="271737000")


def m_invalid_cause(f):
    i, _, _ = _dead(f)
    _set(f, "patients", i, underlying_cause_of_death="99")


CASES = [
    (m_blank_patient_id, "clinical_events", "patient_id", "blank_patient_id", 1, "dropped"),
    (m_invalid_date, "clinical_events", "event_date", "invalid_date", 1, "dropped"),
    (m_invalid_sex, "patients", "sex", "invalid_sex", 1, "dropped"),
    (m_blank_sex, "patients", "sex", "blank_sex", 1, "recoded"),
    (m_unknown_practice, "patients", "practice_code", "unknown_practice", 1, "dropped"),
    (m_death_before_birth, "patients", "date_of_death", "death_before_birth", 1, "dropped"),
    (
        m_reg_end_before_start,
        "patients",
        "registration_end",
        "registration_end_before_start",
        1,
        "dropped",
    ),
    (m_unknown_patient, "clinical_events", "patient_id", "unknown_patient", 1, "dropped"),
    (m_unmapped_code, "clinical_events", "snomed_code", "unmapped_code", 2, "dropped"),
    (m_missing_value, "clinical_events", "numeric_value", "missing_value", 1, "dropped"),
    (m_implausible, "clinical_events", "numeric_value", "implausible_value", 2, "dropped"),
    (m_not_a_number, "clinical_events", "numeric_value", "not_a_number", 1, "recoded"),
    (m_duplicate_event, "clinical_events", None, "duplicate", 2, "dropped"),
    (m_before_birth, "clinical_events", "event_date", "before_birth", 1, "dropped"),
    (m_after_death, "clinical_events", "event_date", "after_death", 1, "dropped"),
    (m_unknown_programme, "screening", "programme", "unknown_programme", 1, "dropped"),
    (m_unknown_outcome, "screening", "outcome", "unknown_outcome", 1, "dropped"),
    (m_unknown_method, "admissions", "admission_method", "unknown_admission_method", 1, "dropped"),
    (m_place_of_death, "patients", "place_of_death", "unrecognised_place_of_death", 1, "recoded"),
    (m_ethnicity, "patients", "ethnicity_code", "unmapped_ethnicity_code", 1, "recoded"),
    (m_lsoa, "patients", "lsoa_code", "lsoa_not_bsol", 1, "recoded"),
    (m_malformed_row, "clinical_events", None, "malformed_row", 1, "dropped"),
    # contract version 2
    (m_unknown_dmd, "medications", "dmd_code", "unknown_dmd_code", 2, "dropped"),
    (m_medication_after_death, "medications", "issue_date", "after_death", 1, "dropped"),
    (m_ed_after_death, "ed_attendances", "attendance_date", "after_death", 1, "dropped"),
    (m_medication_duplicate, "medications", None, "duplicate", 1, "dropped"),
    (m_ed_duplicate, "ed_attendances", None, "duplicate", 1, "dropped"),
    (m_ed_unknown_patient, "ed_attendances", "patient_id", "unknown_patient", 1, "dropped"),
    (
        m_cholesterol_implausible,
        "clinical_events",
        "numeric_value",
        "implausible_value",
        2,
        "dropped",
    ),
    (m_cholesterol_missing, "clinical_events", "numeric_value", "missing_value", 1, "dropped"),
    (m_invalid_diagnosis, "admissions", "primary_diagnosis", "invalid_icd10_code", 1, "recoded"),
    (m_invalid_cause, "patients", "underlying_cause_of_death", "invalid_icd10_code", 1, "recoded"),
]


def _entries(summary):
    return {
        (e["table"], e["column"], e["rule"], e["action"]): e
        for e in summary["dropped"] + summary["recoded"]
    }


def test_clean_fixture_drops_nothing(write_extract, base_frames, tmp_path):
    tables, summary = prepare_tables(write_extract(tmp_path / "x", _copy(base_frames)))
    assert summary["dropped"] == [] and summary["recoded"] == [
        e for e in summary["recoded"] if e["rule"] == "blank_sex"
    ]
    assert summary["rows_read"] == {k: len(v) for k, v in base_frames.items()}
    assert summary["rows_written"]["patients"] == N
    for name, df in tables.items():
        assert list(df.columns) == list(PROCESSED_SCHEMAS[name].columns)


@pytest.mark.parametrize(
    ("mutate", "table", "column", "rule", "rows", "action"), CASES, ids=[c[3] for c in CASES]
)
def test_rule_is_counted(
    write_extract, base_frames, tmp_path, mutate, table, column, rule, rows, action
):
    frames = _copy(base_frames)
    mutate(frames)
    folder = write_extract(tmp_path / "x", frames)
    if rule == "malformed_row":
        with (folder / "clinical_events.csv").open("a") as fh:
            fh.write("P00000001,2024-01-01,1,2,3\n")
    _, summary = prepare_tables(folder)
    entry = _entries(summary).get((table, column, rule, action))
    assert entry is not None, summary["dropped"] + summary["recoded"]
    assert entry["rows"] == rows
    if rule != "malformed_row":
        assert entry["example_rows"], "example rows are reported"
    if action == "dropped":
        assert summary["dropped_by_table"][table][rule] == rows
    written = summary["rows_written"]
    assert written[table] <= summary["rows_read"][table]


def test_events_of_dropped_patients_are_counted(write_extract, base_frames, tmp_path):
    frames = _copy(base_frames)
    pid = frames["patients"].loc[5, "patient_id"]
    n_events = int((frames["clinical_events"]["patient_id"] == pid).sum())
    m_invalid_sex(frames)
    _, summary = prepare_tables(write_extract(tmp_path / "x", frames))
    e = _entries(summary)[("clinical_events", "patient_id", "patient_dropped", "dropped")]
    assert e["rows"] == n_events


def test_dropped_row_numbers_are_file_rows(write_extract, base_frames, tmp_path):
    frames = _copy(base_frames)
    frames["screening"].loc[9, "test_date"] = "not a date"
    _, summary = prepare_tables(write_extract(tmp_path / "x", frames))
    e = _entries(summary)[("screening", "test_date", "invalid_date", "dropped")]
    assert e["example_rows"] == [10]


def test_summary_facts(write_extract, base_frames, tmp_path):
    frames = _copy(base_frames)
    m_unmapped_code(frames)
    m_unknown_practice(frames)
    _, summary = prepare_tables(write_extract(tmp_path / "x", frames))
    assert summary["unmapped_codes"]["rows"] == 2
    assert summary["unmapped_codes"]["top"] == [{"code": "999999999", "rows": 2}]
    assert summary["unknown_practices"]["codes"] == [{"code": "Z99999", "rows": 1}]
    assert 0 <= summary["missing_ethnicity_share"] <= 1
    assert summary["default_reporting_date"] in {"2024-12-31", "2025-03-31"}
    text = render_data_quality(summary)
    assert "Unknown practices: 1 patients" in text


def _assert_clusters(found, expected):
    pd.testing.assert_series_equal(
        found.astype("str").sort_values(ignore_index=True),
        pd.Series(expected, name="cluster", dtype="str"),
    )


def test_dual_cluster_code_gives_a_row_per_cluster():
    ev = pd.DataFrame({"snomed_code": ["394703002", HYP], "v": [1, 2]}, index=[5, 6])
    out = assign_clusters(ev)
    _assert_clusters(out.loc[5, "cluster"], ["COPD_COD", "COPD_REVIEW"])
    pd.testing.assert_frame_equal(
        ev, pd.DataFrame({"snomed_code": ["394703002", HYP], "v": [1, 2]}, index=[5, 6])
    )


def test_dual_cluster_events_survive_deduplication(write_extract, base_frames, tmp_path):
    frames = _copy(base_frames)
    pid = _add_event(frames, "394703002", "", "2024-05-01")
    tables, summary = prepare_tables(write_extract(tmp_path / "x", frames))
    ev = tables["clinical_events"]
    hit = ev[(ev["patient_id"] == pid) & (ev["snomed_code"] == "394703002")]
    _assert_clusters(hit["cluster"], ["COPD_COD", "COPD_REVIEW"])
    assert "duplicate" not in summary["dropped_by_table"].get("clinical_events", {})


@pytest.mark.parametrize(
    ("cluster", "value", "bad"),
    [
        ("SBP", 49.9, True),
        ("SBP", 50, False),
        ("SBP", 300, False),
        ("SBP", 300.1, True),
        ("DBP", 19, True),
        ("DBP", 20, False),
        ("DBP", 200, False),
        ("DBP", 201, True),
        ("HBA1C", 19.9, True),
        ("HBA1C", 20, False),
        ("HBA1C", 200, False),
        ("HBA1C", 250, True),
        ("HYP_COD", 1000, False),
        ("SBP", np.nan, False),
        ("LDL", 0, True),
        ("LDL", 0.01, False),
        ("HDL", 30, False),
        ("NONHDL", 30.01, True),
        ("CHOL", -1, True),
    ],
)
def test_plausibility_limits(cluster, value, bad):
    ev = pd.DataFrame({"cluster": [cluster], "numeric_value": [value]})
    assert bool(implausible_values(ev).iloc[0]) is bad


def test_missing_values_only_for_measurements():
    ev = pd.DataFrame(
        {
            "cluster": ["SBP", "DBP", "HBA1C", "HYP_COD"],
            "numeric_value": [np.nan, 70, np.nan, np.nan],
        }
    )
    pd.testing.assert_series_equal(
        missing_values(ev), pd.Series([True, False, True, False]), check_names=False
    )


def test_life_date_rules():
    df = pd.DataFrame(
        {
            "d": pd.to_datetime(["2000-01-01", "2010-01-01", "2030-01-01"]),
            "date_of_birth": pd.to_datetime(["2005-01-01"] * 3),
            "date_of_death": pd.to_datetime(["2020-01-01", None, "2020-01-01"]),
        }
    )
    pd.testing.assert_series_equal(before_birth(df, "d"), pd.Series([True, False, False]))
    pd.testing.assert_series_equal(after_death(df, "d"), pd.Series([False, False, True]))


def test_duplicate_rows_keeps_first():
    df = pd.DataFrame({"a": [1, 1, 1], "b": [1.0, 1.0, np.nan], "c": ["x", "y", "x"]})
    pd.testing.assert_series_equal(duplicate_rows(df, ["a", "b"]), pd.Series([False, True, False]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.sampled_from(["2020-01-01", "2020-01-02", "1995-06-30"]),
            st.sampled_from(["a", "b", None]),
            st.sampled_from([1.0, 2.5, None]),
            st.sampled_from([0, 7, 2**40]),
        ),
        max_size=30,
    )
)
def test_fast_duplicates_are_duplicate_rows(rows):
    df = pd.DataFrame(rows, columns=["_pos", "event_date", "snomed_code", "numeric_value", "n"])
    df = df.astype(
        {
            "_pos": "int64",
            "event_date": "datetime64[s]",
            "snomed_code": "category",
            "numeric_value": "float64",
            "n": "int64",
        }
    )
    for columns in (["_pos", "event_date", "snomed_code", "numeric_value"], ["n", "_pos"]):
        want = duplicate_rows(df, columns).to_numpy()
        np.testing.assert_array_equal(pipeline._duplicates(df, columns), want)


def test_unused_categories_of_an_all_missing_column():
    s = pd.Series(pd.Categorical([None, None], categories=pd.Index([], dtype="str")), name="x")
    out = pipeline._without_unused_categories(s)
    assert out.isna().all() and len(out.cat.categories) == 0 and out.name == "x"
    s = pd.Series(pd.Categorical([None, "b"], categories=["a", "b"]))
    assert pipeline._without_unused_categories(s).tolist() == [s[0], "b"]


def test_merging_a_log_adds_every_count():
    log = QualityLog(rows_read={"patients": 5}, notes=["n1"], facts={"a": 1}, extract="x")
    part = QualityLog(rows_read={"screening": 3}, notes=["n2"], facts={"b": 2}, extract="y")
    part.count("screening", None, "malformed_row", 2, "dropped")
    log.merge(part)
    assert log.rows_read == {"patients": 5, "screening": 3}
    assert log.notes == ["n1", "n2"] and log.facts == {"a": 1, "b": 2}
    assert log.entries == part.entries and log.extract == "x"
    accumulating = {
        f.name for f in dataclasses.fields(QualityLog) if f.default_factory in (dict, list)
    }
    assert accumulating == {"rows_read", "entries", "notes", "facts"}  # merge adds each of them


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        ("2025-03-31", "2025-03-31"),
        ("2025-03-30", "2024-12-31"),
        ("2025-01-01", "2024-12-31"),
        ("2024-12-31", "2024-12-31"),
        ("2024-07-15", "2024-06-30"),
    ],
)
def test_default_reporting_date(last, expected):
    assert str(Coverage(pd.Timestamp(last).date()).last_quarter) == expected


def test_prepare_writes_schema_conformant_tables(write_extract, base_frames, tmp_path):
    folder = write_extract(tmp_path / "x", _copy(base_frames))
    summary = prepare(folder, tmp_path / "out", progress=False)
    tables = load_prepared(tmp_path / "out")
    for name, df in tables.items():
        validate_processed(name, df)
    assert summary["rows_written"] == {k: len(v) for k, v in tables.items()}
    assert data_quality_summary  # re-exported


def test_parquet_extract_gives_the_same_tables(write_extract, base_frames, tmp_path):
    a, _ = prepare_tables(write_extract(tmp_path / "csv", _copy(base_frames)))
    b, _ = prepare_tables(write_extract(tmp_path / "pq", _copy(base_frames), fmt="parquet"))
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.integers(0, 2_000), min_size=1, max_size=25, unique=True))
def test_appending_exact_duplicates_changes_nothing(
    write_extract, base_frames, tmp_path_factory, rows
):
    """Property: duplicated input rows are all counted and the output does not change."""
    clean, _ = prepare_tables(write_extract(tmp_path_factory.mktemp("a"), _copy(base_frames)))
    frames = _copy(base_frames)
    ev = frames["clinical_events"]
    picked = ev.iloc[[r % len(ev) for r in rows]]
    frames["clinical_events"] = pd.concat([ev, picked], ignore_index=True)
    tables, summary = prepare_tables(write_extract(tmp_path_factory.mktemp("b"), frames))
    assert summary["dropped_by_table"]["clinical_events"]["duplicate"] == len(picked)
    pd.testing.assert_frame_equal(
        tables["clinical_events"].astype(str), clean["clinical_events"].astype(str)
    )


def test_icd10_codes_are_normalised_once(write_extract, base_frames, tmp_path):
    frames = _copy(base_frames)
    _set(frames, "admissions", 0, primary_diagnosis="i10.x")
    _set(frames, "admissions", 1, primary_diagnosis="E11.9")
    _set(frames, "admissions", 2, primary_diagnosis="J44")
    i, pid, _ = _dead(frames)
    _set(frames, "patients", i, underlying_cause_of_death="C34.9")
    tables, summary = prepare_tables(write_extract(tmp_path / "x", frames))
    adm = tables["admissions"]
    assert set(adm["primary_diagnosis"].dropna()) <= set(
        pd.Series(["I10X", "E119", "J44", "J441", "S720", "C349", "I200", "I10"])
    )
    p = tables["patients"].set_index("patient_id")
    assert p.loc[pid, "underlying_cause_of_death"] == "C349"
    assert not [e for e in summary["recoded"] if e["rule"] == "invalid_icd10_code"]


def test_medications_get_their_group_and_unknown_codes_are_listed(
    write_extract, base_frames, tmp_path
):
    frames = _copy(base_frames)
    m_unknown_dmd(frames)
    tables, summary = prepare_tables(write_extract(tmp_path / "x", frames))
    assert set(tables["medications"]["drug_group"]) == {"LLT", "ANTIHYP"}
    assert summary["unknown_dmd_codes"]["top"] == [{"code": "999999999", "rows": 2}]
    validate_processed("medications", tables["medications"])
    validate_processed("ed_attendances", tables["ed_attendances"])


def test_version1_extract_still_prepares(extract_frames, write_extract, tmp_path):
    from bsol_analytics.indicators import computable_indicators, compute_cube

    frames = extract_frames(200, 4, seed=3, version=1)
    out = tmp_path / "prepared"
    summary = prepare(write_extract(tmp_path / "x", frames), out, progress=False)
    assert summary["status"] == "usable"
    names = {p.name for p in out.iterdir()}
    assert "medications.parquet" not in names and "ed_attendances.parquet" not in names
    tables = load_prepared(out)
    assert set(tables) == {"patients", "clinical_events", "screening", "admissions"}
    assert "primary_diagnosis" not in tables["admissions"].columns
    assert "underlying_cause_of_death" not in tables["patients"].columns
    ok, skipped = computable_indicators(out)
    assert "HYP_PREV" in ok and "ACSC_EMERG" in skipped and "DM_3TT" in skipped
    cube = compute_cube(out, "2025-03-31", None)
    assert "HYP_PREV" in set(cube["indicator_id"]) and set(cube["indicator_id"]) <= set(ok)


def test_version2_extract_computes_every_indicator(write_extract, base_frames, tmp_path):
    from bsol_analytics.indicators import DEFINITIONS, computable_indicators

    frames = _copy(base_frames)
    _add_event(frames, LDL, "1.8", "2025-01-01")
    out = tmp_path / "prepared"
    prepare(write_extract(tmp_path / "x", frames), out, progress=False)
    assert {"medications.parquet", "ed_attendances.parquet"} <= {p.name for p in out.iterdir()}
    ok, skipped = computable_indicators(out)
    assert skipped == {} and ok == list(DEFINITIONS)


def test_dual_cluster_diabetes_type_codes():
    both = sorted(
        set(reference.codelist("DM_COD")["code"]) & set(reference.codelist("DMTYPE1_COD")["code"])
    )[0]
    ev = pd.DataFrame({"snomed_code": [both, HYP, both]}, index=[1, 2, 3])
    out = assign_clusters(ev)
    _assert_clusters(out.loc[1, "cluster"], ["DMTYPE1_COD", "DM_COD"])
    _assert_clusters(out.loc[3, "cluster"], ["DMTYPE1_COD", "DM_COD"])
    assert len(out) == 5
