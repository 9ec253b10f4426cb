import shutil

import pandas as pd
import pytest

from bsol_analytics import reference
from bsol_analytics.errors import BsolError, ParameterError

LOCALITIES = {"Central", "East", "North", "South", "West", "Solihull"}


def test_data_raw_matches_its_manifest():
    files = reference.verify_manifest()
    assert len(files) == len(reference.manifest())
    assert "codelists/opensafely-ethnicity-snomed-0removed.csv" in files


def test_manifest_mismatch_names_the_file(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(reference.paths.RAW_DIR, raw)
    target = raw / "imd" / "imd2025_bsol_lsoa21.csv"
    target.write_bytes(target.read_bytes() + b"\n")
    with pytest.raises(BsolError, match=r"data/raw/imd/imd2025_bsol_lsoa21\.csv"):
        reference.verify_manifest(raw)


def test_manifest_missing_file_names_the_file(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(reference.paths.RAW_DIR, raw)
    (raw / "qof" / "qof_cvd_domain_practice_england_2023-24_heec.csv").unlink()
    with pytest.raises(BsolError, match=r"qof_cvd_domain_practice_england_2023-24_heec\.csv"):
        reference.verify_manifest(raw)


def test_unlisted_reference_file_is_refused(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(reference.paths.RAW_DIR, raw)
    (raw / "imd" / "extra.csv").write_text("a\n1\n")
    with pytest.raises(BsolError, match=r"data/raw/imd/extra\.csv is not listed"):
        reference.verify_manifest(raw)


@pytest.mark.parametrize(
    ("loader", "columns", "rows"),
    [
        (
            reference.lsoa21_lookup,
            [
                "lsoa21_code",
                "lsoa21_name",
                "ward_code",
                "ward_name",
                "local_authority",
                "locality",
            ],
            793,
        ),
        (reference.lsoa11_to_lsoa21, ["lsoa11_code", "lsoa21_code", "change_code"], 773),
        (
            reference.imd2025,
            ["lsoa21_code", "imd_score", "imd_rank", "imd_decile", "imd_quintile", "core20"],
            793,
        ),
        (reference.imd2019, ["lsoa11_code", "imd_rank", "imd_decile", "imd_quintile"], 773),
        (
            reference.practices,
            [
                "practice_code",
                "practice_name",
                "pcn_code",
                "pcn_name",
                "locality",
                "list_size",
                "postcode",
            ],
            None,
        ),
        (
            reference.practice_ward_weights,
            ["practice_code", "ward_name", "ward_code", "fraction"],
            None,
        ),
        (
            reference.ethnicity_by_lsoa,
            ["lsoa21_code", "ethnicity_broad", "residents", "share"],
            793 * 5,
        ),
        (
            reference.ethnicity_detailed_by_la,
            ["local_authority", "ethnicity_detailed", "residents", "share"],
            38,
        ),
        (reference.qof_hypertension_prevalence, ["practice_code", "prevalence", "list_size"], None),
        (reference.clusters, ["code", "cluster"], None),
    ],
)
def test_loader_shape(loader, columns, rows):
    df = loader()
    assert list(df.columns) == columns
    if rows is not None:
        assert len(df) == rows
    assert not df.empty


@pytest.mark.parametrize(
    "loader",
    [
        reference.lsoa21_lookup,
        reference.practices,
        reference.imd2025,
        reference.clusters,
        reference.ethnicity_codes,
        reference.lsoa11_to_lsoa21,
        reference.acsc_icd10,
        reference.comparators,
        reference.drug_clusters,
        reference.life_expectancy_comparators,
    ],
)
def test_loaders_return_copies(loader):
    first = loader()
    expected = first.copy()
    first.iloc[:, 0] = "changed"
    pd.testing.assert_frame_equal(loader(), expected)


def test_population_returns_copies():
    a = reference.population_by_age("ward")
    a["population"] = 0
    assert reference.population_by_age("ward")["population"].sum() > 1_000_000


def test_localities_are_the_six():
    assert set(reference.lsoa21_lookup()["locality"]) == LOCALITIES
    assert set(reference.practices()["locality"]) == LOCALITIES


def test_practices_are_bsol_with_list_sizes():
    p = reference.practices()
    assert p["practice_code"].is_unique
    assert p["pcn_code"].nunique() == 35
    assert p.groupby("pcn_code")["pcn_name"].nunique().max() == 1
    assert 1_500_000 < p["list_size"].sum() < 1_800_000
    assert p.notna().all().all()
    # Bosworth Medical Group moved to North Solihull PCN (QOF 2023-24 and July 2024 list).
    assert p.set_index("practice_code").loc["M89008", "pcn_code"] == "U93165"


def test_every_lsoa11_maps_to_a_real_lsoa21():
    m = reference.lsoa11_to_lsoa21()
    assert m["lsoa11_code"].is_unique
    assert m["lsoa21_code"].isin(reference.lsoa21_lookup()["lsoa21_code"]).all()


def test_imd2019_for_every_lsoa21():
    d = reference.imd2019_for_lsoa21()
    assert d["lsoa21_code"].is_unique and len(d) == 793
    assert d["imd_decile"].notna().all()


def test_imd_quintile_and_core20_consistent():
    d = reference.imd2025()
    expected = ((d["imd_decile"] + 1) // 2).astype("Int8")
    pd.testing.assert_series_equal(d["imd_quintile"], expected, check_names=False)
    assert d["core20"].equals((d["imd_quintile"] == 1).astype("boolean"))
    assert d["core20"].mean() > 0.35  # Birmingham is among the most deprived areas


@pytest.mark.parametrize(
    ("code", "broad", "detailed"),
    [
        ("A", "White", "White: British"),
        ("H", "Asian", "Asian or Asian British: Indian"),
        ("J", "Asian", "Asian or Asian British: Pakistani"),
        ("N", "Black", "Black or Black British: African"),
        ("D", "Mixed", "Mixed: White and Black Caribbean"),
        ("R", "Asian", "Other ethnic groups: Chinese"),
        ("S", "Other", "Other ethnic groups: Any other ethnic group"),
        ("Z", "Unknown", "Unknown"),
        ("99", "Unknown", "Unknown"),
    ],
)
def test_ethnicity_letters(code, broad, detailed):
    e = reference.ethnicity_codes().set_index("code")
    assert e.loc[code, "ethnicity_broad"] == broad
    assert e.loc[code, "ethnicity_detailed"] == detailed


def test_snomed_chinese_is_asian_not_other():
    e = reference.ethnicity_codes()
    sn = e[e["code_system"] == "snomed"]
    chinese = sn[sn["ethnicity_detailed"] == "Other ethnic groups: Chinese"]
    assert len(chinese) > 0
    assert set(chinese["ethnicity_broad"]) == {"Asian"}
    assert set(sn["ethnicity_broad"]) == {"Asian", "Black", "Mixed", "White", "Other"}
    assert e["code"].is_unique


@pytest.mark.parametrize("name", list(reference.ALL_CLUSTERS))
def test_every_codelist_loads_as_string_codes(name):
    cl = reference.codelist(name)
    assert list(cl.columns) == ["code", "term"]
    assert cl["code"].str.fullmatch(r"\d+").all()


def test_unknown_codelist_is_a_parameter_error():
    with pytest.raises(ParameterError, match="HYP_COD"):
        reference.codelist("NOPE")


def test_population_geographies():
    ward = reference.population_by_age("ward")
    assert ward["age_band"].nunique() == 19
    assert set(ward["ward_code"]) == set(reference.lsoa21_lookup()["ward_code"])
    lsoa = reference.population_by_age("lsoa")
    # Apportioning split LSOAs keeps the total.
    raw = pd.read_csv(
        reference.paths.RAW_DIR / "census_population" / "ons_mye2020_persons_sya_bsol_lsoa11.csv"
    )
    assert lsoa["population"].sum() == pytest.approx(raw["total_population"].sum())
    with pytest.raises(ParameterError):
        reference.population_by_age("msoa")


def test_hypertension_prevalence_reference():
    q = reference.qof_hypertension_prevalence()
    assert q["practice_code"].isin(reference.practices()["practice_code"]).all()
    eng = reference.england_hypertension_prevalence()
    assert 10 < eng < 20


def test_boundaries():
    lsoa = reference.lsoa21_boundaries()
    assert len(lsoa) == 793 and lsoa.crs.to_epsg() == 4326
    assert set(reference.locality_boundaries()["locality"]) == LOCALITIES
    wards = reference.ward_boundaries()
    assert len(wards) == 86 and wards["ward_code"].is_unique


def test_version2_reference_files_are_in_the_manifest_with_licence():
    m = reference.manifest().set_index("file")
    for name in ("lu_acc_icd10.csv", "ac_conditions.csv"):
        assert m.loc[f"codelists/{name}", "licence"].startswith("GPL-3")
    for rel in (
        "codelists/eol-care-planning-filtered.csv",
        "codelists/opensafely-statin-medication.csv",
        "comparators/comparators.csv",
    ):
        assert m.loc[rel, "licence"] not in ("", "see PROVENANCE")


def test_version2_unions():
    dbp = set(reference.codelist("DBP")["code"])
    refset = {"100161000000107", "100181000000103"}  # sitting, lying diastolic
    assert refset <= dbp and "271650006" in dbp
    chol = set(reference.codelist("CHOL")["code"])
    assert {"1005671000000105", "1017161000000104"} <= chol
    assert set(reference.codelist("NONHDL")["code"]) == set(reference.NONHDL_CODES)
    assert len(reference.codelist("CARE_PLAN")) == 61


@pytest.mark.parametrize("name", list(reference.DRUG_FILES))
def test_drug_codelists_are_dmd_digits(name):
    cl = reference.drug_codelist(name)
    assert list(cl.columns) == ["code", "term"]
    assert cl["code"].str.fullmatch(r"\d+").all() and cl["code"].is_unique


def test_acsc_codes_are_three_or_four_characters_without_dot():
    a = reference.acsc_icd10()
    assert a["code"].str.fullmatch(r"[A-Z]\d{2}[0-9X]?").all()
    assert "J20" not in set(a["code"]) and "I10X" in set(a["code"])
    assert a["code"].is_unique
