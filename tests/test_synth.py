"""Tests of the synthetic extract (bsol_analytics.synth)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics import reference
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
    for table in ("clinical_events", "screening", "admissions"):
        assert set(clean[table]["patient_id"]) <= set(p["patient_id"])


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("clinical_events", "event_date"),
        ("screening", "test_date"),
        ("admissions", "admission_date"),
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
    older = registered[registered["age"] >= 45]
    by_imd = older.groupby("imd_quintile")["copd"].mean()
    assert by_imd.loc[1] > 1.5 * by_imd.loc[5]
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
    ],
)
def test_bad_parameters_are_refused(tmp_path, kwargs):
    with pytest.raises(ParameterError):
        generate(tmp_path / "x", **({"patients": 1000} | kwargs))
    assert not (tmp_path / "x").exists()


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
