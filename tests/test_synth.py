"""Tests of the synthetic extract (bsol_analytics.synth)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics import reference, synth
from bsol_analytics.cleaning.normalise import passes_nhs_modulus11
from bsol_analytics.cli import main
from bsol_analytics.contract import EXTRACT_TABLES, PLACES_OF_DEATH, PLAUSIBLE_RANGES
from bsol_analytics.errors import ParameterError
from bsol_analytics.synth import (
    TABLES,
    generate,
    patient_ids,
    practice_counts,
)

N = 20_000
RD = pd.Timestamp("2025-03-31")


# --------------------------------------------------------------------------------------
# fixtures: one clean Parquet and one messy CSV extract, built once per module
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "clean"
    generate(out, patients=N, seed=11, fmt="parquet", clean=True)
    return out


@pytest.fixture(scope="module")
def messy_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "messy"
    generate(out, patients=N, seed=11, fmt="csv")
    return out


@pytest.fixture(scope="module")
def clean(clean_dir) -> dict[str, pd.DataFrame]:
    return {t: pd.read_parquet(clean_dir / f"{t}.parquet") for t in TABLES}


@pytest.fixture(scope="module")
def messy(messy_dir) -> dict[str, pd.DataFrame]:
    return {
        t: pd.read_csv(messy_dir / f"{t}.csv", dtype=str, keep_default_na=False) for t in TABLES
    }


@pytest.fixture(scope="module")
def registered(clean) -> pd.DataFrame:
    """Patients registered at the end date with age, registers and reference attributes."""
    p = clean["patients"].copy()
    for c in ("date_of_birth", "registration_start", "registration_end", "date_of_death"):
        p[c] = pd.to_datetime(p[c])
    reg = p[
        (p["registration_start"] <= RD)
        & (p["registration_end"].isna() | (p["registration_end"] > RD))
        & (p["date_of_death"].isna() | (p["date_of_death"] > RD))
    ].copy()
    reg["age"] = (RD - reg["date_of_birth"]).dt.days // 365.25
    ev = clean["clinical_events"].merge(
        reference.clusters().drop_duplicates("code"), left_on="snomed_code", right_on="code"
    )
    ev["event_date"] = pd.to_datetime(ev["event_date"])
    for name, dx, res in (
        ("hyp", "HYP_COD", "HYPRES_COD"),
        ("dm", "DM_COD", "DMRES_COD"),
        ("copd", "COPD_COD", "COPDRES_COD"),
    ):
        e = ev[ev["cluster"].isin([dx, res]) & (ev["event_date"] <= RD)]
        latest = (
            e.sort_values(["patient_id", "event_date", "cluster"]).groupby("patient_id").tail(1)
        )
        on = latest.loc[latest["cluster"] == dx, "patient_id"]
        reg[name] = reg["patient_id"].isin(on)
    prac = reference.practices().set_index("practice_code")
    reg["practice_locality"] = reg["practice_code"].map(prac["locality"])
    lk = reference.lsoa21_lookup().set_index("lsoa21_code")
    reg["resident_locality"] = reg["lsoa_code"].map(lk["locality"])
    reg["imd_quintile"] = reg["lsoa_code"].map(
        reference.imd2025().set_index("lsoa21_code")["imd_quintile"]
    )
    codes = reference.ethnicity_codes().set_index("code")["ethnicity_broad"]
    reg["ethnicity_broad"] = reg["ethnicity_code"].map(codes).fillna("Unknown")
    return reg


# --------------------------------------------------------------------------------------
# contract shape
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_columns_match_the_contract(table, clean, messy):
    expected = list(EXTRACT_TABLES[table].column_names)
    assert list(clean[table].columns) == expected
    assert list(messy[table].columns) == expected


@pytest.mark.parametrize(
    ("table", "column", "arrow_type"),
    [
        ("patients", "date_of_birth", pa.date32()),
        ("patients", "registration_end", pa.date32()),
        ("clinical_events", "event_date", pa.date32()),
        ("clinical_events", "numeric_value", pa.float64()),
        ("clinical_events", "snomed_code", pa.string()),
        ("screening", "test_date", pa.date32()),
        ("admissions", "admission_date", pa.date32()),
    ],
)
def test_parquet_types(clean_dir, table, column, arrow_type):
    schema = pq.read_schema(clean_dir / f"{table}.parquet")
    assert schema.field(column).type == arrow_type


def test_clean_values_follow_the_contract(clean):
    p, e = clean["patients"], clean["clinical_events"]
    assert p["patient_id"].is_unique
    assert set(p["sex"]) <= {"M", "F", "U"}
    assert set(p["place_of_death"].dropna()) <= set(PLACES_OF_DEATH)
    assert p["place_of_death"].notna().sum() == p["date_of_death"].notna().sum()
    assert set(p["practice_code"]) <= set(reference.practices()["practice_code"])
    assert set(p["lsoa_code"].dropna()) <= set(reference.lsoa21_lookup()["lsoa21_code"])
    assert set(e["snomed_code"]) <= set(reference.clusters()["code"])
    assert set(e["patient_id"]) <= set(p["patient_id"])
    assert set(clean["screening"]["programme"]) == {"breast", "cervical", "bowel"}
    assert set(clean["admissions"]["admission_method"]) == {"emergency", "elective"}
    assert not e.duplicated().any()
    for table in ("clinical_events", "screening", "admissions", "medications", "ed_attendances"):
        assert set(clean[table]["patient_id"]) <= set(p["patient_id"])
    assert set(clean["medications"]["dmd_code"]) <= set(reference.drug_codelist("LLT")["code"])


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("clinical_events", "event_date"),
        ("screening", "test_date"),
        ("admissions", "admission_date"),
        ("medications", "issue_date"),
        ("ed_attendances", "attendance_date"),
    ],
)
def test_nothing_happens_before_birth_or_after_death(clean, table, column):
    p = clean["patients"].set_index("patient_id")
    t = clean[table]
    dob = t["patient_id"].map(p["date_of_birth"])
    death = t["patient_id"].map(p["date_of_death"])
    assert (t[column] >= dob).all()
    assert not (t[column] > death).any()
    assert (t[column] <= RD.date()).all()


def test_patient_ids_never_pass_the_nhs_number_check(clean, messy):
    for frame in (clean["patients"], messy["patients"]):
        ids = frame["patient_id"]
        assert ids.is_unique
        assert not passes_nhs_modulus11(ids).any()
        assert ids.str.fullmatch(r"P[0-9a-f]{10}").all()


# --------------------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------------------


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_same_bytes(tmp_path, fmt):
    a = generate(tmp_path / "a", patients=3000, seed=7, fmt=fmt, chunk_size=1500)
    b = generate(tmp_path / "b", patients=3000, seed=7, fmt=fmt, chunk_size=1500)
    c = generate(tmp_path / "c", patients=3000, seed=8, fmt=fmt, chunk_size=1500)
    assert _digest(a.out) == _digest(b.out)
    da, dc = _digest(a.out), _digest(c.out)
    assert all(da[k] != dc[k] for k in da if k != "synth_manifest.json")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_worker_processes_write_the_same_bytes(tmp_path, fmt):
    # chunks generated by two worker processes, appended in chunk order
    one = generate(tmp_path / "one", patients=4000, seed=5, fmt=fmt, chunk_size=1500, workers=1)
    two = generate(tmp_path / "two", patients=4000, seed=5, fmt=fmt, chunk_size=1500, workers=2)
    assert _digest(one.out) == _digest(two.out)
    assert one.rows == two.rows and one.bytes == two.bytes
    assert not [p for p in two.out.rglob(".*")]  # no part left behind


def test_parquet_parts_make_one_table(tmp_path):
    res = generate(tmp_path / "x", patients=5000, seed=3, fmt="parquet", chunk_size=2000)
    parts = sorted(p.name for p in (res.out / "patients.parquet").iterdir())
    assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    p = pd.read_parquet(res.out / "patients.parquet")
    e = pd.read_parquet(res.out / "clinical_events.parquet")
    assert len(p) == res.rows["patients"]
    assert p["patient_id"].is_unique
    assert e["patient_id"].isin(p["patient_id"]).mean() > 0.99
    alive = p["date_of_death"].isna() & p["registration_end"].isna()
    assert int(alive.sum()) == 5000


# --------------------------------------------------------------------------------------
# looks like BSOL
# --------------------------------------------------------------------------------------


def test_practice_lists_are_scaled_real_list_sizes(registered):
    sizes = reference.practices().set_index("practice_code")["list_size"]
    expected = practice_counts(sizes, N)
    got = registered["practice_code"].value_counts().reindex(expected.index, fill_value=0)
    pd.testing.assert_series_equal(got, expected, check_names=False)


def test_practice_registers_are_their_qof_prevalence(registered):
    qof = reference.qof_hypertension_prevalence().set_index("practice_code")["prevalence"]
    by_practice = registered.groupby("practice_code")["hyp"].agg(["sum", "size"])
    expected = np.floor(qof.reindex(by_practice.index) / 100 * by_practice["size"] + 0.5)
    pd.testing.assert_series_equal(
        by_practice["sum"].astype("float64"), expected, check_names=False
    )


def test_locality_populations_proportional_to_list_sizes(registered):
    prac = reference.practices()
    expected = prac.groupby("locality")["list_size"].sum() / prac["list_size"].sum()
    got = registered["practice_locality"].value_counts(normalize=True)
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, atol=0.01
    )
    # residence differs a little from the practice's locality
    agree = (registered["practice_locality"] == registered["resident_locality"]).mean()
    assert 0.6 < agree < 0.98


def _census_mix(by: str | None) -> pd.DataFrame:
    eth = reference.ethnicity_by_lsoa().merge(
        reference.lsoa21_lookup()[["lsoa21_code", "locality"]], on="lsoa21_code"
    )
    keys = ([by] if by else []) + ["ethnicity_broad"]
    tot = eth.groupby(keys)["residents"].sum()
    share = tot / (tot.groupby(level=by).transform("sum") if by else tot.sum())
    return share.rename("share")


def test_ethnicity_mix_matches_the_census_for_bsol(registered):
    known = registered[registered["ethnicity_broad"] != "Unknown"]
    got = known["ethnicity_broad"].value_counts(normalize=True).rename("share")
    expected = _census_mix(None)
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, atol=0.03
    )


def test_ethnicity_mix_matches_the_census_by_locality(registered):
    known = registered[
        (registered["ethnicity_broad"] != "Unknown") & registered["resident_locality"].notna()
    ]
    got = known.groupby("resident_locality")["ethnicity_broad"].value_counts(normalize=True)
    got.index = got.index.set_names(["locality", "ethnicity_broad"])
    expected = _census_mix("locality").reindex(got.index)
    pd.testing.assert_series_equal(got.rename("share"), expected, atol=0.04)


def test_unknown_ethnicity_share_is_realistic(registered):
    assert 0.10 <= (registered["ethnicity_broad"] == "Unknown").mean() <= 0.15


def test_hypertension_prevalence_close_to_qof(registered):
    assert registered["hyp"].mean() * 100 == pytest.approx(12.6, abs=1.0)
    qof = reference.qof_hypertension_prevalence().merge(
        reference.practices()[["practice_code", "locality"]], on="practice_code"
    )
    qof["register"] = qof["prevalence"] * qof["list_size"] / 100
    sums = qof.groupby("locality")[["register", "list_size"]].sum()
    expected = (sums["register"] / sums["list_size"] * 100).sort_index()
    got = (registered.groupby("practice_locality")["hyp"].mean() * 100).sort_index()
    pd.testing.assert_series_equal(got, expected, check_names=False, atol=0.75)


def test_condition_gradients(registered):
    adults = registered[registered["age"] >= 40]
    by_eth = adults.groupby("ethnicity_broad")[["hyp", "dm"]].mean()
    assert by_eth.loc["Asian", "dm"] > 1.5 * by_eth.loc["White", "dm"]
    assert by_eth.loc["Black", "hyp"] > by_eth.loc["White", "hyp"]
    # deprivation, within age bands (the most deprived areas are younger): observed/expected
    older = registered[registered["age"] >= 45]
    band = (older["age"] // 10).clip(upper=8)
    expected = older.groupby(band)["copd"].transform("mean")
    by_imd = (
        older["copd"].groupby(older["imd_quintile"]).sum()
        / expected.groupby(older["imd_quintile"]).sum()
    )
    assert by_imd.loc[1] > 1.3 * by_imd.loc[5]  # +0.2 a quintile, less ethnicity's -0.8
    by_age = registered.groupby(registered["age"] >= 65)["hyp"].mean()
    assert by_age.loc[True] > 3 * by_age.loc[False]


@pytest.mark.parametrize(
    ("programme", "sex", "lo", "hi", "months", "target"),
    [
        ("breast", "F", 53, 70, 36, 0.62),
        ("cervical", "F", 25, 49, 42, 0.62),
        ("cervical", "F", 50, 64, 66, 0.70),
        ("bowel", None, 60, 74, 30, 0.62),
    ],
)
def test_screening_coverage_near_published_levels(
    clean, registered, programme, sex, lo, hi, months, target
):
    s = clean["screening"]
    s = s[(s["programme"] == programme) & (s["outcome"] == "adequate")]
    dates = pd.to_datetime(s["test_date"])
    s = s[(dates <= RD) & (dates > RD - pd.DateOffset(months=months))]
    den = registered[registered["age"].between(lo, hi)]
    if sex:
        den = den[den["sex"] == sex]
    assert den["patient_id"].isin(s["patient_id"]).mean() == pytest.approx(target, abs=0.06)


def test_deaths_and_places(clean):
    p = clean["patients"]
    died = pd.to_datetime(p["date_of_death"])
    last_year = p[(died > RD - pd.DateOffset(years=1)) & (died <= RD)]
    assert 0.005 < len(last_year) / N < 0.011
    share = last_year["place_of_death"].value_counts(normalize=True)
    assert share.index[0] == "hospital"
    assert 0.15 < share["care home"] < 0.35
    assert 0.15 < share["home"] < 0.35


# --------------------------------------------------------------------------------------
# messiness
# --------------------------------------------------------------------------------------


def _share(mask: pd.Series) -> float:
    return float(mask.mean())


def test_messiness_is_present_but_rare(messy):
    p, e = messy["patients"], messy["clinical_events"]
    # accepted variants
    assert {"Male", "female", "1", "2"} & set(p["sex"])
    assert p["date_of_birth"].str.fullmatch(r"\d{4}-\d{2}").any()
    assert p["date_of_birth"].str.fullmatch(r"\d{2}/\d{2}/\d{4}").any()
    assert (~p["place_of_death"].isin([*PLACES_OF_DEATH, ""])).any()
    assert p["ethnicity_code"].isin(list("ABCDEFGHJKLMNPRS")).any()
    assert p["ethnicity_code"].str.fullmatch(r"\d{6,}").mean() > 0.5
    assert 0.005 < _share(p["lsoa_code"] == "") < 0.025
    lsoa21 = set(reference.lsoa21_lookup()["lsoa21_code"])
    assert p["lsoa_code"].isin(set(reference.lsoa11_to_lsoa21()["lsoa11_code"]) - lsoa21).any()
    # defects that cleaning drops: present, each well under 1% of rows
    value = pd.to_numeric(e["numeric_value"], errors="coerce")
    bp_codes = set(reference.codelist("SBP")["code"]) | set(reference.codelist("DBP")["code"])
    bp = e["snomed_code"].isin(bp_codes)
    lo, hi = PLAUSIBLE_RANGES["DBP"][0], PLAUSIBLE_RANGES["SBP"][1]
    implausible = bp & ((value < lo) | (value > hi))
    duplicated = e.duplicated()
    orphan = ~e["patient_id"].isin(p["patient_id"])
    deaths = p.set_index("patient_id")["date_of_death"].replace("", np.nan)
    death = pd.to_datetime(e["patient_id"].map(deaths), format="mixed", dayfirst=True)
    after = pd.to_datetime(e["event_date"], format="mixed", dayfirst=True) > death
    for defect in (implausible, duplicated, orphan, after):
        assert 0 < _share(defect) < 0.01


def test_clean_has_no_messiness(clean):
    p, e = clean["patients"], clean["clinical_events"]
    bp_codes = set(reference.codelist("SBP")["code"])
    sbp = e.loc[e["snomed_code"].isin(bp_codes), "numeric_value"]
    assert sbp.between(*PLAUSIBLE_RANGES["SBP"]).all()
    assert not e.duplicated().any()
    assert p["ethnicity_code"].dropna().str.fullmatch(r"\d+").all()


# --------------------------------------------------------------------------------------
# helpers and parameters
# --------------------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 2**40 - 1), min_size=1, max_size=200, unique=True),
    st.integers(0, 10**6),
)
def test_patient_ids_unique_and_never_nhs_numbers(index, seed):
    ids = pd.Series(patient_ids(np.array(index, dtype=np.uint64), seed).to_pylist())
    assert ids.is_unique
    assert not passes_nhs_modulus11(ids).any()


def test_patient_ids_stay_one_array_beyond_a_conversion_chunk():
    # A chunk of more than about 1.5 million patients used to come back as a ChunkedArray
    # (pyarrow splits large numpy conversions), which broke pa.concat_arrays in _tables.
    n = 1_600_000
    ids = patient_ids(np.arange(n), seed=3)
    assert isinstance(ids, pa.Array) and ids.type == pa.string()
    assert len(ids) == n
    ghost = patient_ids((1 << 39) + np.arange(5), seed=3)
    joined = pa.concat_arrays([ids.take(pa.array([0, n - 1])), ghost])
    assert len(joined) == 7
    assert joined[1].as_py() == ids[n - 1].as_py()


def test_patient_ids_match_the_hex_scrambling():
    index = np.array([0, 1, 2**40 - 1], dtype=np.uint64)
    mask = (1 << 40) - 1
    ss = np.random.SeedSequence([7, 40]).generate_state(2, dtype=np.uint64)
    mult, add = int(ss[0]) & mask | 1, int(ss[1]) & mask
    want = [f"P{(int(i) * mult + add) & mask:010x}" for i in index]
    assert patient_ids(index, seed=7).to_pylist() == want


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 50_000), min_size=1, max_size=60), st.integers(0, 2_000_000))
def test_practice_counts_sum_and_stay_proportional(sizes, total):
    s = pd.Series(sizes)
    got = practice_counts(s, total)
    assert int(got.sum()) == total
    exact = s * total / s.sum()
    assert ((got - exact).abs() < 1).all()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"end_date": "2025-02-30"},
        {"end_date": "31/03/2025"},
        {"patients": 5},
        {"seed": -1},
        {"fmt": "xlsx"},
        {"workers": 0},
        {"workers": -2},
        {"workers": 1.5},
    ],
)
def test_bad_parameters_are_refused(tmp_path, kwargs):
    with pytest.raises(ParameterError):
        generate(tmp_path / "x", **({"patients": 1000} | kwargs))
    assert not (tmp_path / "x").exists()


def test_workers_stop_before_a_failed_extract_is_removed(tmp_path, monkeypatch):
    events = []

    def recording(real, closed):
        @contextlib.contextmanager
        def wrapped(arg):
            with real(arg) as value:
                try:
                    yield value
                finally:
                    events.append(closed)

        return wrapped

    folder = recording(synth.atomic_directory, "folder closed")
    pool = recording(synth._worker_pool, "pool closed")

    def fail(*args):
        raise RuntimeError("a chunk failed")

    monkeypatch.setattr(synth, "atomic_directory", folder)
    monkeypatch.setattr(synth, "_worker_pool", pool)
    monkeypatch.setattr(synth, "_write_chunks", fail)
    with pytest.raises(RuntimeError):
        generate(tmp_path / "x", patients=1000)
    assert events == ["pool closed", "folder closed"]
    assert list(tmp_path.iterdir()) == []


def test_command_line_reports_user_errors_without_traceback(tmp_path, capsys):
    code = main(["synth", "--out", str(tmp_path / "x"), "--end-date", "2025-13-01"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert "--end-date" in err


def test_command_line_writes_an_extract(tmp_path):
    code = main(
        ["-q", "synth", "--out", str(tmp_path / "x"), "--patients", "1500", "--format", "parquet"]
    )
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "x").glob("*.parquet")) == sorted(
        f"{t}.parquet" for t in TABLES
    )


def test_end_date_moves_the_history(tmp_path):
    res = generate(tmp_path / "x", patients=1000, seed=2, end_date="2023-03-31", clean=True)
    e = pd.read_csv(res.out / "clinical_events.csv", parse_dates=["event_date"])
    assert e["event_date"].max() <= pd.Timestamp("2023-03-31")
    assert e["event_date"].max() > pd.Timestamp("2022-12-31")


@settings(max_examples=4, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(150, 2500), st.booleans())
def test_any_seed_gives_a_coherent_extract(tmp_path_factory, seed, patients, clean):
    out = tmp_path_factory.mktemp("prop") / "x"
    res = generate(out, patients=patients, seed=seed, fmt="parquet", clean=clean)
    p = pd.read_parquet(out / "patients.parquet")
    e = pd.read_parquet(out / "clinical_events.parquet")
    assert res.registered == patients
    assert int((p["registration_end"].isna() & p["date_of_death"].isna()).sum()) == patients
    assert p["patient_id"].is_unique
    assert (p["registration_start"] >= p["date_of_birth"]).all()
    ended = p["registration_end"].notna()
    assert (p.loc[ended, "registration_end"] > p.loc[ended, "registration_start"]).all()
    died = p["date_of_death"].notna()
    assert (p.loc[died, "date_of_death"] >= p.loc[died, "date_of_birth"]).all()
    assert (p.loc[died, "date_of_death"] <= RD.date()).all()
    if clean:
        dob = e["patient_id"].map(p.set_index("patient_id")["date_of_birth"])
        assert (e["event_date"] >= dob).all()


@pytest.mark.slow
def test_full_bsol_build(tmp_path):
    res = generate(tmp_path / "full", fmt="parquet")
    sizes = reference.practices().set_index("practice_code")["list_size"]
    assert res.registered == int(sizes.sum())
    p = pd.read_parquet(
        res.out / "patients.parquet", columns=["practice_code", "date_of_death", "registration_end"]
    )
    current = p[p["date_of_death"].isna() & p["registration_end"].isna()]
    got = current["practice_code"].value_counts().reindex(sizes.index)
    pd.testing.assert_series_equal(got, sizes, check_names=False)


# --------------------------------------------------------------------------------------
# contract version 2: medications, ED attendances, ICD-10 causes and diagnoses
# --------------------------------------------------------------------------------------

_ICD10 = r"[A-Z]\d{2}(\.[0-9A-Z])?"


def test_manifest_says_the_extract_is_synthetic(clean_dir):
    manifest = json.loads((clean_dir / "synth_manifest.json").read_text())
    assert manifest["synthetic"] is True
    assert manifest["description"].startswith("Synthetic data")
    assert manifest["rows"].keys() == set(TABLES)


def test_icd10_codes_are_well_formed_and_only_for_decedents(clean):
    p, a = clean["patients"], clean["admissions"]
    cause = p["underlying_cause_of_death"]
    pd.testing.assert_series_equal(cause.notna(), p["date_of_death"].notna(), check_names=False)
    assert cause.dropna().str.fullmatch(_ICD10).all()
    diagnosis = a["primary_diagnosis"].dropna()
    assert diagnosis.str.fullmatch(_ICD10).all()
    assert 0.98 < len(diagnosis) / len(a) <= 1.0


def _acsc(codes: pd.Series) -> pd.Series:
    listed = set(reference.acsc_icd10()["code"])
    bare = codes.fillna("").str.replace(".", "", regex=False)
    return bare.str.pad(4, "right", "X").str[:4].isin(listed) | bare.str[:3].isin(listed)


def test_non_acsc_diagnoses_are_not_in_the_acsc_list():
    from bsol_analytics.synth import _DEATH_CAUSES, _OTHER_DIAGNOSES

    emergency = pd.Series(list(_OTHER_DIAGNOSES["emergency"]))
    assert not _acsc(emergency).any()
    cancers = pd.Series(list(_DEATH_CAUSES["cancer"]))
    assert cancers.str.startswith("C").all()


def _decedents(p: pd.DataFrame, months: int) -> pd.DataFrame:
    death = pd.to_datetime(p["date_of_death"])
    start, end = pd.to_datetime(p["registration_start"]), pd.to_datetime(p["registration_end"])
    keep = (death <= RD) & (death > RD - pd.DateOffset(months=months))
    keep &= (start <= death) & (end.isna() | (end >= death))
    return p[keep].assign(date_of_death=death[keep])


def test_deaths_causes_and_ed_attendances_near_published_levels(clean):
    dec = _decedents(clean["patients"], 12)
    assert 0.006 < len(dec) / N < 0.009  # BSOL: 11,868 deaths a year for 1.63M (0.73%)
    age = (dec["date_of_death"] - pd.to_datetime(dec["date_of_birth"])).dt.days / 365.25
    cancer = dec["underlying_cause_of_death"].str.startswith("C")
    assert 0.18 < cancer.mean() < 0.34  # about a quarter of deaths
    assert cancer[age < 75].mean() > cancer.mean() + 0.05  # higher under 75
    ed = clean["ed_attendances"].merge(dec[["patient_id", "date_of_death"]], on="patient_id")
    days = (ed["date_of_death"] - pd.to_datetime(ed["attendance_date"])).dt.days
    last90 = ed[(days >= 0) & (days < 90)].groupby("patient_id").size()
    per_decedent = last90.reindex(dec["patient_id"], fill_value=0)
    assert 2.4 < per_decedent.mean() < 3.6  # "3 on average in the last 90 days"
    # attendances rise towards death: more in the last 30 days than in days 60-89
    assert (days.between(0, 29)).sum() > 2 * (days.between(60, 89)).sum()


def test_care_plans_for_a_realistic_share_of_decedents(clean):
    dec = _decedents(clean["patients"], 36)
    plans = set(reference.codelist("CARE_PLAN")["code"])
    e = clean["clinical_events"]
    e = e[e["snomed_code"].isin(plans)].merge(dec[["patient_id", "date_of_death"]])
    before = e[pd.to_datetime(e["event_date"]) < e["date_of_death"]]
    share = dec["patient_id"].isin(before["patient_id"]).mean()
    assert 0.25 < share < 0.55


def test_acsc_share_of_emergency_admissions(clean, registered):
    a = clean["admissions"]
    dates = pd.to_datetime(a["admission_date"])
    recent = a[
        (dates > RD - pd.DateOffset(months=12)) & a["patient_id"].isin(registered["patient_id"])
    ]
    emergency = recent[recent["admission_method"] == "emergency"]
    share = _acsc(emergency["primary_diagnosis"]).mean()
    assert 0.07 < share < 0.16  # chronic ACSCs: roughly a tenth of emergency admissions
    per_100k = _acsc(emergency["primary_diagnosis"]).sum() / N * 1e5
    assert 600 < per_100k < 1300  # NHS OF 2.3.i: England about 800 per 100,000
    # elective admissions carry ACSC codes too (they must not count)
    elective = recent[recent["admission_method"] == "elective"]
    assert _acsc(elective["primary_diagnosis"]).any()


@pytest.fixture(scope="module")
def cvd_dm(clean, registered) -> pd.DataFrame:
    """Registered adults with CVD and diabetes flags, type, LLT and latest lipids and BP."""
    e = clean["clinical_events"].merge(
        reference.clusters().drop_duplicates("code"), left_on="snomed_code", right_on="code"
    )
    e["event_date"] = pd.to_datetime(e["event_date"])
    e = e[e["event_date"] <= RD]
    reg = registered.set_index("patient_id")
    cvd_codes = ["CHD_COD", "STRK_COD", "TIA_COD", "PAD_COD"]
    reg["cvd"] = reg.index.isin(e.loc[e["cluster"].isin(cvd_codes), "patient_id"])
    raw = clean["clinical_events"]
    t1 = raw["snomed_code"].isin(reference.codelist("DMTYPE1_COD")["code"])
    t2 = raw["snomed_code"].isin(reference.codelist("DMTYPE2_COD")["code"])
    t = raw[t1 | t2].assign(dm_type=np.where(t1[t1 | t2], "Type 1", "Type 2"))
    t = t[pd.to_datetime(t["event_date"]) <= RD].sort_values(["event_date", "dm_type"])
    reg["dm_type"] = t.groupby("patient_id").tail(1).set_index("patient_id")["dm_type"]
    m = clean["medications"]
    m6 = m[pd.to_datetime(m["issue_date"]) > RD - pd.DateOffset(months=6)]
    reg["llt"] = reg.index.isin(m6["patient_id"])
    w12 = e[e["event_date"] > RD - pd.DateOffset(months=12)]
    lip = w12[w12["cluster"].isin(["CHOL", "HDL", "LDL", "NONHDL"])].pivot_table(
        index=["patient_id", "event_date"], columns="cluster", values="numeric_value", aggfunc="min"
    )
    lip = lip.reset_index().sort_values("event_date").groupby("patient_id").tail(1)
    nonhdl = lip["NONHDL"].fillna((lip["CHOL"] - lip["HDL"]).round(2))
    ok = (lip["LDL"] <= 2.0) | (nonhdl <= 2.6)
    reg["chol_ok"] = reg.index.isin(lip.loc[ok, "patient_id"])
    reg["chol_tested"] = reg.index.isin(lip["patient_id"])
    return reg.reset_index()


def test_cvd_registers_and_lipid_lowering_therapy(cvd_dm):
    adults = cvd_dm[cvd_dm["age"] >= 18]
    assert 0.03 < cvd_dm["cvd"].mean() < 0.055  # QOF 2023-24 BSOL: CHD 2.6%, STIA 1.4%, PAD 0.4%
    by_age = adults.groupby(adults["age"] >= 65)["cvd"].mean()
    assert by_age.loc[True] > 4 * by_age.loc[False]
    by_sex = adults[adults["age"] >= 45].groupby("sex")["cvd"].mean()
    assert by_sex.loc["M"] > 1.2 * by_sex.loc["F"]
    cvd = adults[adults["cvd"]]
    assert 0.72 < cvd["llt"].mean() < 0.88  # CVDPREVENT: about 80% on lipid-lowering therapy
    assert 0.18 < cvd["chol_ok"].mean() < 0.42
    hyp = cvd_dm[cvd_dm["hyp"]]
    assert 0.08 < hyp["chol_ok"].mean() < cvd["chol_ok"].mean()
    # treated patients are more often in range
    tested = cvd[cvd["chol_tested"]]
    in_range = tested.groupby("llt")["chol_ok"].mean()
    assert in_range.loc[True] > 3 * in_range.loc[False]


def test_diabetes_type_share(cvd_dm):
    dm = cvd_dm[cvd_dm["dm"] & (cvd_dm["age"] >= 17)]
    share = dm["dm_type"].value_counts(normalize=True, dropna=False)
    assert 0.06 < share.get("Type 1", 0) < 0.12  # about 8-10% type 1
    assert share.get("Type 2", 0) > 0.8
    t1 = dm[dm["dm_type"] == "Type 1"]
    assert t1["age"].median() < dm["age"].median()


def test_cholesterol_values_are_plausible(clean):
    e = clean["clinical_events"]
    for name, lo, hi in (("CHOL", 3.5, 6.0), ("HDL", 1.0, 1.8), ("LDL", 1.5, 3.8)):
        v = e.loc[e["snomed_code"].isin(reference.codelist(name)["code"]), "numeric_value"]
        assert lo < v.median() < hi, name
        assert v.between(0.1, 20).all(), name


def test_version2_messiness(messy):
    p, a, e = messy["patients"], messy["admissions"], messy["clinical_events"]
    cause = p.loc[p["underlying_cause_of_death"] != "", "underlying_cause_of_death"]
    assert cause.str.fullmatch(r"[A-Z]\d{2}\.\d").any()  # with the dot
    assert cause.str.fullmatch(r"[A-Z]\d{3}").any()  # without
    diag = a.loc[a["primary_diagnosis"] != "", "primary_diagnosis"]
    assert diag.str.fullmatch(r"[A-Z]\d{2}").any()  # cut to 3 characters
    assert 0 < (~diag.str.fullmatch(r"[A-Z]\d{2}\.?[0-9A-Z]?")).mean() < 0.01  # mistyped
    m = messy["medications"]
    unknown = ~m["dmd_code"].isin(set(reference.drug_codelist("LLT")["code"]))
    assert 0 < unknown.mean() < 0.01
    assert 0 < m.duplicated().mean() < 0.01
    lipids = set(reference.codelist("CHOL")["code"]) | set(reference.codelist("HDL")["code"])
    value = pd.to_numeric(e.loc[e["snomed_code"].isin(lipids), "numeric_value"])
    assert 0 < ((value <= 0) | (value > 30)).mean() < 0.01
    deaths = p.set_index("patient_id")["date_of_death"].replace("", np.nan)
    death = pd.to_datetime(m["patient_id"].map(deaths), format="mixed", dayfirst=True)
    after = pd.to_datetime(m["issue_date"], format="mixed", dayfirst=True) > death
    assert 0 < after.mean() < 0.01


# --------------------------------------------------------------------------------------
# a stationary history (issue 10 §2): the quarterly series the packs show
# --------------------------------------------------------------------------------------

#: Indicator -> largest trend allowed, in percentage points a year, over 12 quarters.
_TREND_TOLERANCE = {
    "HYP_BP_TARGET": 3.0,
    "HYP_BP_CHECK_45": 3.0,
    "HYP_POSSIBLE": 1.0,
    "DM_HBA1C_58": 3.0,
    "COPD_REVIEW": 4.0,
    "SCR_BREAST": 3.0,
    "SCR_CERVICAL_25_49": 3.0,
    "SCR_CERVICAL_50_64": 3.0,
    "SCR_BOWEL": 3.0,
    "EOL_HOME_CARE_HOME": 6.0,  # a few hundred deaths a year at this size: noisy
    "EOL_HOSPITAL": 6.0,
    "EOL_ON_PC_REG": 6.0,
    "HYP_BP_CHOL": 3.0,
    "CVD_LLT": 3.0,
    "DM_3TT": 4.0,
}
#: Register -> largest growth of its count, percent a year.
_REGISTER_GROWTH = {"HYP_PREV": 3.0, "DM_PREV": 4.0, "COPD_PREV": 3.0, "PC_REG": 10.0}


@pytest.fixture(scope="module")
def quarterly(tmp_path_factory) -> pd.DataFrame:
    """BSOL values of the v1/v2 proportion indicators at the 12 quarter ends to 2025-03-31."""
    from bsol_analytics.table import indicator_table

    out = tmp_path_factory.mktemp("stationary") / "x"
    generate(out, patients=N, seed=5, fmt="parquet", clean=True)
    dates = pd.date_range("2022-06-30", RD, freq="QE")
    ids = sorted(set(_TREND_TOLERANCE) | set(_REGISTER_GROWTH))
    table = indicator_table(
        out, [d.date() for d in dates], by="locality", sdc=False, indicators=ids
    )
    bsol = table[(table["area_type"] == "BSOL") & (table["breakdown"] == "overall")]
    return bsol.assign(years=(pd.to_datetime(bsol["reporting_date"]) - RD).dt.days / 365.25)


def _slope(frame: pd.DataFrame, column: str) -> float:
    return float(np.polyfit(frame["years"], frame[column].astype("float64"), 1)[0])


def test_list_size_is_stationary(quarterly):
    s = quarterly[quarterly["indicator_id"] == "HYP_PREV"].sort_values("years")
    assert len(s) == 12
    denominators = s["denominator"].astype("float64")
    # under 2% a year, from first to last and in every year
    assert abs(denominators.iloc[-1] / denominators.iloc[0] - 1) < 0.02 * 2.75
    yearly = denominators.iloc[4:].to_numpy() / denominators.iloc[:-4].to_numpy() - 1
    assert np.abs(yearly).max() < 0.02


@pytest.mark.parametrize(("indicator", "limit"), sorted(_TREND_TOLERANCE.items()))
def test_indicator_trend_is_within_tolerance(quarterly, indicator, limit):
    s = quarterly[quarterly["indicator_id"] == indicator]
    if s.empty:
        pytest.skip(f"{indicator} is not computed by this version of the indicator layer")
    assert len(s) == 12
    assert abs(_slope(s, "value")) <= limit


@pytest.mark.parametrize(("indicator", "limit"), sorted(_REGISTER_GROWTH.items()))
def test_registers_grow_as_real_registers_do(quarterly, indicator, limit):
    s = quarterly[quarterly["indicator_id"] == indicator]
    numerators = s.sort_values("years")["numerator"].astype("float64")
    growth = 100 * _slope(s, "numerator") / numerators.mean()
    assert -limit / 2 <= growth <= limit


# --------------------------------------------------------------------------------------
# mortality by deprivation: the life-expectancy gap (slow: needs a large extract)
# --------------------------------------------------------------------------------------


def _life_expectancy(ages_alive: pd.Series, ages_at_death: pd.Series, years: int) -> float:
    """Life expectancy at birth from a simple abridged life table (Chiang, a = 0.5; 0.1 at 0)."""
    edges = [0, 1, *range(5, 95, 5), 200]
    width = np.diff(edges).astype("float64")
    pop = pd.cut(ages_alive, edges, right=False).value_counts(sort=False).to_numpy() * years
    deaths = pd.cut(ages_at_death, edges, right=False).value_counts(sort=False).to_numpy()
    mx = np.divide(deaths, pop, out=np.zeros(len(pop)), where=pop > 0)
    a = np.full(len(mx), 0.5)
    a[0] = 0.1
    q = np.clip(width * mx / (1 + width * (1 - a) * mx), 0, 1)
    q[-1] = 1.0
    alive = np.concatenate([[1.0], np.cumprod(1 - q)[:-1]])
    lived = width * (alive - a * alive * q)
    lived[-1] = alive[-1] / mx[-1]
    return float(lived.sum())


@pytest.mark.slow
def test_life_expectancy_gap_by_deprivation(tmp_path):
    out = generate(tmp_path / "le", patients=300_000, seed=3, fmt="parquet", clean=True).out
    p = pd.read_parquet(out / "patients.parquet")
    for c in ("date_of_birth", "registration_start", "registration_end", "date_of_death"):
        p[c] = pd.to_datetime(p[c])
    p["decile"] = p["lsoa_code"].map(reference.imd2025().set_index("lsoa21_code")["imd_decile"])
    alive = p[p["registration_end"].isna() & p["date_of_death"].isna()]
    alive_age = (RD - alive["date_of_birth"]).dt.days / 365.25
    dec = _decedents(p, 36)
    dec_age = (dec["date_of_death"] - dec["date_of_birth"]).dt.days / 365.25
    le = {
        d: _life_expectancy(alive_age[alive["decile"] == d], dec_age[dec["decile"] == d], 3)
        for d in (1, 10)
    }
    assert 5 <= le[10] - le[1] <= 10.5  # seed facts: 4.9 to 10.5 years
    for sex, lo, hi in (("M", 75, 81), ("F", 79, 85)):
        got = _life_expectancy(alive_age[alive["sex"] == sex], dec_age[dec["sex"] == sex], 3)
        assert lo < got < hi, sex
