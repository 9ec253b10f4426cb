"""Loaders for the reference data in ``data/raw/``.

Every loader reads the files under :data:`bsol_analytics.paths.RAW_DIR` once (the result is
cached) and returns a fresh copy, so a caller may modify what it gets without affecting the
next caller. Column names are the suite's own (snake case), not the publishers'.

Choices made when the sources disagree or do not fit one another are documented on each
loader and summarised in ``docs/processed-tables.md``:

* **LSOA 2011 to 2021.** ONS change codes are ``U`` (unchanged), ``S`` (split), ``M``
  (merged) and ``X`` (irregular). A 2011 LSOA that was split is resolved to the one 2021
  successor with the most usual residents at Census 2021 (ties: the lowest code), so every
  2011 code maps to exactly one 2021 code. Merges map many-to-one naturally.
* **IMD 2019 for a 2021 LSOA.** The reverse of the above: the 2011 predecessor with the
  largest mid-2020 population.
* **Practices.** The BSOL practices are those with a 2024 list size; PCN code is the
  QOF 2023-24 national mapping, PCN name and locality the July 2024 BSOL list (falling
  back to the March 2024 BSOL lookup).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import pandas as pd

from bsol_analytics import paths, vocabulary
from bsol_analytics.errors import BsolError, ParameterError
from bsol_analytics.io import file_sha256

__all__ = [
    "AGE_BANDS_ESP2013",
    "ALL_CLUSTERS",
    "CLUSTER_FILES",
    "CLUSTER_FILES_V2",
    "DRUG_FILES",
    "ETHNICITY_BROAD",
    "ETHNICITY_DETAILED",
    "LOCALITIES",
    "NHS_ETHNIC_CATEGORIES",
    "NONHDL_CODES",
    "acsc_icd10",
    "clusters",
    "codelist",
    "comparators",
    "drug_clusters",
    "drug_codelist",
    "england_hypertension_prevalence",
    "ethnicity_by_lsoa",
    "ethnicity_codes",
    "ethnicity_detailed_by_la",
    "imd2019",
    "imd2019_for_lsoa21",
    "imd2025",
    "life_expectancy_comparators",
    "locality_boundaries",
    "lsoa11_to_lsoa21",
    "lsoa21_boundaries",
    "lsoa21_lookup",
    "manifest",
    "population_by_age",
    "practice_ward_weights",
    "practices",
    "qof_hypertension_prevalence",
    "verify_manifest",
    "ward_boundaries",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The six BSOL localities and the broad ethnic groups (defined in ``vocabulary``).
LOCALITIES: tuple[str, ...] = vocabulary.LOCALITIES
ETHNICITY_BROAD: tuple[str, ...] = vocabulary.ETHNICITY_BROAD

#: NHS Data Dictionary ethnic category letter -> (16-group label, ONS broad group).
NHS_ETHNIC_CATEGORIES: dict[str, tuple[str, str]] = {
    "A": ("White: British", "White"),
    "B": ("White: Irish", "White"),
    "C": ("White: Any other White background", "White"),
    "D": ("Mixed: White and Black Caribbean", "Mixed"),
    "E": ("Mixed: White and Black African", "Mixed"),
    "F": ("Mixed: White and Asian", "Mixed"),
    "G": ("Mixed: Any other mixed background", "Mixed"),
    "H": ("Asian or Asian British: Indian", "Asian"),
    "J": ("Asian or Asian British: Pakistani", "Asian"),
    "K": ("Asian or Asian British: Bangladeshi", "Asian"),
    "L": ("Asian or Asian British: Any other Asian background", "Asian"),
    "M": ("Black or Black British: Caribbean", "Black"),
    "N": ("Black or Black British: African", "Black"),
    "P": ("Black or Black British: Any other Black background", "Black"),
    "R": ("Other ethnic groups: Chinese", "Asian"),
    "S": ("Other ethnic groups: Any other ethnic group", "Other"),
}

#: The 16 NHS detailed groups (Data Dictionary order) plus ``Unknown``.
ETHNICITY_DETAILED: tuple[str, ...] = (
    *(label for label, _ in NHS_ETHNIC_CATEGORIES.values()),
    "Unknown",
)

#: cluster name -> codelist file in ``data/raw/codelists``.
CLUSTER_FILES: dict[str, str] = {
    "HYP_COD": "nhsd-primary-care-domain-refsets-hyp_cod.csv",
    "HYPRES_COD": "nhsd-primary-care-domain-refsets-hypres_cod.csv",
    "DM_COD": "nhsd-primary-care-domain-refsets-dm_cod.csv",
    "DMRES_COD": "nhsd-primary-care-domain-refsets-dmres_cod.csv",
    "COPD_COD": "nhsd-primary-care-domain-refsets-copd_cod.csv",
    "COPDRES_COD": "nhsd-primary-care-domain-refsets-copdres_cod.csv",
    "PALCARE_COD": "nhsd-primary-care-domain-refsets-palcare_cod.csv",
    "PALCARENI_COD": "nhsd-primary-care-domain-refsets-palcareni_cod.csv",
    "SBP": "opensafely-systolic-blood-pressure-qof.csv",
    "DBP": "diastolic-blood-pressure.csv",
    "HBA1C": "opensafely-glycated-haemoglobin-hba1c-tests.csv",
    "COPD_REVIEW": "opensafely-chronic-obstructive-pulmonary-disease-copd-review-qof.csv",
}

#: Clusters added by contract version 2 -> their codelist files (a cluster with several
#: files is their union). ``NONHDL`` has no file: its two codes are in :data:`NONHDL_CODES`.
CLUSTER_FILES_V2: dict[str, tuple[str, ...]] = {
    "CHOL": (
        "nhsd-primary-care-domain-refsets-chol2_cod.csv",
        "opensafely-cholesterol-tests.csv",
    ),
    "HDL": ("nhsd-primary-care-domain-refsets-hdlcchol_cod.csv",),
    "LDL": ("ldl-cholesterol.snomed.txt",),
    "NONHDL": (),
    "CHD_COD": ("nhsd-primary-care-domain-refsets-chd_cod.csv",),
    "STRK_COD": ("nhsd-primary-care-domain-refsets-strk_cod.csv",),
    "TIA_COD": ("nhsd-primary-care-domain-refsets-tia_cod.csv",),
    "PAD_COD": ("nhsd-primary-care-domain-refsets-pad_cod.csv",),
    "DMTYPE1_COD": ("nhsd-primary-care-domain-refsets-dmtype1_cod.csv",),
    "DMTYPE2_COD": ("nhsd-primary-care-domain-refsets-dmtype2_cod.csv",),
    "CARE_PLAN": ("eol-care-planning-filtered.csv",),
}

#: Version 2: a diastolic reading is a code in the compiled list or the QOF refset.
DBP_REFSET_FILE = "nhsd-primary-care-domain-refsets-diabp_cod.csv"

#: The two non-HDL cholesterol codes named by the contract (version 2).
NONHDL_CODES: dict[str, str] = {
    "1006191000000106": "Serum non high density lipoprotein cholesterol level",
    "1030411000000101": "Non high density lipoprotein cholesterol level",
}

#: dm+d medication groups (contract version 2) -> codelist file.
DRUG_FILES: dict[str, str] = {
    "LLT": "opensafely-statin-medication.csv",
    "ANTIHYP": "nhs-drug-refsets-antihyp_cod.csv",
}

#: Every SNOMED CT cluster, version 1 then version 2.
ALL_CLUSTERS: tuple[str, ...] = (*CLUSTER_FILES, *CLUSTER_FILES_V2)

_BSOL_SUB_ICB = "15E"


def _raw(*parts: str) -> Path:
    return Path(paths.RAW_DIR, *parts)


def _read_csv(*parts: str, **kwargs: Any) -> pd.DataFrame:
    path = _raw(*parts)
    if not path.exists():
        raise BsolError(
            f"The reference file {path} is missing. Restore data/raw/ from the repository "
            "or reinstall the package (it is checked against data/raw/MANIFEST), or point "
            "BSOL_RAW_DIR at a complete copy."
        )
    return pd.read_csv(path, encoding="utf-8-sig", **kwargs)


def _copied(func: F) -> F:
    """Cache ``func`` and hand every caller its own copy of the result."""
    cached = functools.lru_cache(maxsize=16)(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return cached(*args, **kwargs).copy()

    wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _quintile(decile: pd.Series) -> pd.Series:
    return ((decile.astype("Int8") + 1) // 2).astype("Int8")


# --------------------------------------------------------------------------------------
# Geography
# --------------------------------------------------------------------------------------


@_copied
def lsoa21_lookup() -> pd.DataFrame:
    """LSOA 2021 to 2022 ward, local authority and BSOL locality (793 rows).

    Returns:
        Columns ``lsoa21_code``, ``lsoa21_name``, ``ward_code``, ``ward_name``,
        ``local_authority`` (``Birmingham``/``Solihull``) and ``locality``.

    Examples:
        >>> lk = lsoa21_lookup()
        >>> len(lk), sorted(lk["locality"].unique())
        (793, ['Central', 'East', 'North', 'Solihull', 'South', 'West'])
    """
    df = _read_csv("localities", "lsoa21_ward22_locality_bsol.csv", dtype=str)
    out = pd.DataFrame(
        {
            "lsoa21_code": df["LSOA21CD"],
            "lsoa21_name": df["LSOA21NM"],
            "ward_code": df["WD22CD"],
            "ward_name": df["WD22NM"],
            "local_authority": df["LAD22NM"],
            "locality": df["Locality"],
        }
    )
    return out.sort_values("lsoa21_code", ignore_index=True)


@_copied
def _lsoa11_lookup_raw() -> pd.DataFrame:
    return _read_csv("census_population", "lookup_lsoa11_lsoa21_bsol.csv", dtype=str)


@_copied
def _residents21() -> pd.Series:
    df = _read_csv("census_population", "census2021_ts021_ethnic_group_5cat_bsol_lsoa21.csv")
    return df.set_index("lsoa21_code")["total_residents"].astype("int64")


@_copied
def lsoa11_to_lsoa21() -> pd.DataFrame:
    """One LSOA 2021 code for every BSOL LSOA 2011 code.

    ONS change codes: ``U`` unchanged, ``M`` merged (several 2011 LSOAs became one 2021
    LSOA: a plain many-to-one mapping), ``S`` split (one 2011 LSOA became several) and ``X``
    (irregular). For ``S`` and ``X`` a person's 2021 LSOA cannot be known from the 2011 code,
    so the 2011 code is resolved to the successor with the most usual residents at Census
    2021 (ties broken by the lowest code): the single most likely answer.

    Returns:
        Columns ``lsoa11_code``, ``lsoa21_code``, ``change_code``; one row per 2011 code.

    Examples:
        >>> m = lsoa11_to_lsoa21()
        >>> m["lsoa11_code"].is_unique, len(m)
        (True, 773)
        >>> m.loc[m["lsoa11_code"] == "E01009121", "lsoa21_code"].item()
        'E01034914'
    """
    df = _lsoa11_lookup_raw()[["lsoa11_code", "lsoa21_code", "change_code"]]
    return _most_populous(df, "lsoa11_code", "lsoa21_code", _residents21())


def _most_populous(
    pairs: pd.DataFrame, key: str, other: str, population: pd.Series
) -> pd.DataFrame:
    """One row per ``key``: the ``other`` code with the largest ``population`` (ties: lowest).

    ``population`` is indexed by ``other`` code; a code it does not hold counts as 0.
    """
    weight = pairs[other].map(population).fillna(0)
    order = pairs.assign(_w=weight).sort_values([key, "_w", other], ascending=[True, False, True])
    return order.drop_duplicates(key).drop(columns="_w").reset_index(drop=True)


@_copied
def _lsoa21_to_lsoa11() -> pd.DataFrame:
    """One 2011 predecessor per 2021 LSOA (the most populous at mid-2020)."""
    df = _lsoa11_lookup_raw()[["lsoa11_code", "lsoa21_code"]]
    pop = _read_csv("census_population", "ons_mye2020_persons_sya_bsol_lsoa11.csv")
    return _most_populous(
        df, "lsoa21_code", "lsoa11_code", pop.set_index("lsoa11_code")["total_population"]
    )


# --------------------------------------------------------------------------------------
# Deprivation
# --------------------------------------------------------------------------------------


@_copied
def imd2025() -> pd.DataFrame:
    """English Indices of Deprivation 2025, overall IMD, for the 793 BSOL LSOAs 2021.

    Deciles and quintiles are national (1 = most deprived); ``core20`` is national
    quintile 1 (the most deprived 20% of LSOAs in England, NHS Core20PLUS5).

    Returns:
        Columns ``lsoa21_code``, ``imd_score``, ``imd_rank``, ``imd_decile`` (Int8),
        ``imd_quintile`` (Int8), ``core20`` (boolean).

    Examples:
        >>> d = imd2025()
        >>> len(d), int(d["imd_decile"].min()), int(d["imd_decile"].max())
        (793, 1, 10)
        >>> bool((d["core20"] == (d["imd_quintile"] == 1)).all())
        True
    """
    df = _read_csv("imd", "imd2025_bsol_lsoa21.csv")
    decile = df["IMD_decile"].astype("Int8")
    quintile = _quintile(decile)
    return pd.DataFrame(
        {
            "lsoa21_code": df["lsoa21_code"].astype(str),
            "imd_score": df["IMD_score"].astype("float64"),
            "imd_rank": df["IMD_rank"].astype("int64"),
            "imd_decile": decile,
            "imd_quintile": quintile,
            "core20": (quintile == 1).astype("boolean"),
        }
    ).sort_values("lsoa21_code", ignore_index=True)


@_copied
def imd2019() -> pd.DataFrame:
    """English Indices of Deprivation 2019, overall IMD, for the 773 BSOL LSOAs 2011.

    Use :func:`imd2019_for_lsoa21` to look it up by LSOA 2021 code.

    Returns:
        Columns ``lsoa11_code``, ``imd_rank``, ``imd_decile`` (Int8), ``imd_quintile`` (Int8).

    Examples:
        >>> d = imd2019()
        >>> len(d), sorted(d["imd_quintile"].unique().tolist())
        (773, [1, 2, 3, 4, 5])
    """
    df = _read_csv("imd", "imd2019_bsol_lsoa11.csv")
    decile = df["IMD_decile"].astype("Int8")
    return pd.DataFrame(
        {
            "lsoa11_code": df["lsoa11_code"].astype(str),
            "imd_rank": df["IMD_rank"].astype("int64"),
            "imd_decile": decile,
            "imd_quintile": _quintile(decile),
        }
    ).sort_values("lsoa11_code", ignore_index=True)


@_copied
def imd2019_for_lsoa21() -> pd.DataFrame:
    """IMD 2019 for every BSOL LSOA 2021, through its most populous 2011 predecessor.

    A 2021 LSOA made by merging 2011 LSOAs takes the IMD 2019 of the predecessor with
    the largest mid-2020 population; a 2021 LSOA split from a 2011 one takes its parent's.

    Returns:
        Columns ``lsoa21_code``, ``lsoa11_code``, ``imd_rank``, ``imd_decile``,
        ``imd_quintile``; one row per 2021 code.

    Examples:
        >>> d = imd2019_for_lsoa21()
        >>> len(d), d["lsoa21_code"].is_unique, int(d["imd_decile"].isna().sum())
        (793, True, 0)
    """
    out = _lsoa21_to_lsoa11().merge(imd2019(), on="lsoa11_code", how="left")
    return out[["lsoa21_code", "lsoa11_code", "imd_rank", "imd_decile", "imd_quintile"]]


# --------------------------------------------------------------------------------------
# Practices
# --------------------------------------------------------------------------------------


def _norm_pcn(name: pd.Series) -> pd.Series:
    return name.str.replace(r"\s+PCN$", "", regex=True).str.strip()


@_copied
def practices() -> pd.DataFrame:
    """Every BSOL GP practice with a 2024 list size (about 180 practices, 35 PCNs).

    Sources and choices:

    * the practice set and ``list_size`` are the BSOL 2024 list-size file; the three
      practices there without a list size (closed or merged in 2024) are left out;
    * ``pcn_code`` is the national QOF 2023-24 practice-to-PCN mapping (sub-ICB 15E),
      falling back to the March 2024 BSOL lookup;
    * ``pcn_name`` and ``locality`` are the July 2024 BSOL practice list (the newer of the
      two BSOL lookups, ``Main`` sites only), falling back to the March 2024 lookup; each
      PCN code takes one name (the most frequent among its practices);
    * ``practice_name`` and ``postcode`` come from the ODS ``epraccur`` file (April 2025),
      the name in title case as in the July 2024 list where that list has the practice.

    Returns:
        Columns ``practice_code``, ``practice_name``, ``pcn_code``, ``pcn_name``,
        ``locality``, ``list_size`` (int64), ``postcode``.

    Examples:
        >>> p = practices()
        >>> p["practice_code"].is_unique, p["pcn_code"].nunique(), sorted(p["locality"].unique())
        (True, 35, ['Central', 'East', 'North', 'Solihull', 'South', 'West'])
        >>> bool(p["list_size"].gt(0).all())
        True
    """
    sizes = _read_csv("localities", "gp_practice_list_size_bsol_2024.csv")
    sizes = sizes.rename(columns={"Practice.Code": "practice_code", "total_pop": "list_size"})
    sizes = sizes.dropna(subset=["list_size"])
    sizes = sizes[sizes["list_size"] > 0][["practice_code", "list_size"]]

    march = _read_csv("localities", "gp_practice_pcn_locality_bsol_2024-03.csv", dtype=str)
    march = march[march["Type"] == "Main"].drop_duplicates("Practice_Code")
    march = march.set_index("Practice_Code")
    july = _read_csv("localities", "gp_practice_pcn_locality_bsol_2024-07-15.csv", dtype=str)
    july = july[july["Type"] == "Main"].drop_duplicates("Practice.Code").set_index("Practice.Code")
    qof = _read_csv(
        "gp_practices", "qof2324_mapping_nhs_geographies_practice_pcn_icb_england.csv", dtype=str
    )
    qof = qof[qof["SUB_ICB_ODS_CODE"] == _BSOL_SUB_ICB].drop_duplicates("PRACTICE_CODE")
    qof = qof.set_index("PRACTICE_CODE")
    ods = _read_csv("gp_practices", "epraccur_bsol_15E_QHL_2025-04.csv", dtype=str)
    ods = ods.drop_duplicates("OrganisationCode").set_index("OrganisationCode")

    code = sizes["practice_code"]
    pcn_code = code.map(qof["PCN_ODS_CODE"]).fillna(code.map(march["PCN_Code"]))
    pcn_name = _norm_pcn(code.map(july["PCN"]).fillna(code.map(march["PCN"])))
    locality = code.map(july["Locality"]).fillna(code.map(march["Locality"]))
    name = code.map(july["Practice.Name"]).fillna(code.map(ods["Name"]).str.title())
    postcode = code.map(ods["Postcode"]).fillna(code.map(july["Postcode"]))
    postcode = postcode.str.replace(r"\s+", " ", regex=True).str.strip()

    out = pd.DataFrame(
        {
            "practice_code": code.astype(str),
            "practice_name": name.astype(str),
            "pcn_code": pcn_code,
            "pcn_name": pcn_name,
            "locality": locality,
            "list_size": sizes["list_size"].round().astype("int64"),
            "postcode": postcode,
        }
    )
    # One name per PCN code: the most frequent among its practices.
    canonical = (
        out.groupby(["pcn_code", "pcn_name"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["pcn_code", "n", "pcn_name"], ascending=[True, False, True])
        .drop_duplicates("pcn_code")
        .set_index("pcn_code")["pcn_name"]
    )
    out["pcn_name"] = out["pcn_code"].map(canonical)
    return out.sort_values("practice_code", ignore_index=True)


@_copied
def practice_ward_weights() -> pd.DataFrame:
    """Share of each practice's registered patients resident in each ward.

    Wards outside Birmingham and Solihull appear by name only (``ward_code`` null);
    BSOL wards carry their 2022 ward code. Fractions for a practice sum to about 1.

    Returns:
        Columns ``practice_code``, ``ward_name``, ``ward_code``, ``fraction``.

    Examples:
        >>> w = practice_ward_weights()
        >>> s = w.groupby("practice_code")["fraction"].sum()
        >>> bool(s.between(0, 1.0000001).all())
        True
    """
    df = _read_csv("localities", "gp_practice_to_ward_weights_bsol.csv")
    wards = lsoa21_lookup().drop_duplicates("ward_code").set_index("ward_name")["ward_code"]
    return pd.DataFrame(
        {
            "practice_code": df["Practice Code"].astype(str),
            "ward_name": df["Ward"].astype(str),
            "ward_code": df["Ward"].map(wards),
            "fraction": df["fraction_of_practice_patients"].astype("float64"),
        }
    )


# --------------------------------------------------------------------------------------
# Population and ethnicity
# --------------------------------------------------------------------------------------

_CENSUS5 = {
    "Asian, Asian British or Asian Welsh": "Asian",
    "Black, Black British, Black Welsh, Caribbean or African": "Black",
    "Mixed or Multiple ethnic groups": "Mixed",
    "White": "White",
    "Other ethnic group": "Other",
}


@_copied
def ethnicity_by_lsoa() -> pd.DataFrame:
    """Census 2021 usual residents by broad ethnic group for each BSOL LSOA 2021.

    Returns:
        Long table: ``lsoa21_code``, ``ethnicity_broad`` (Asian, Black, Mixed, White, Other),
        ``residents`` (int64), ``share`` (of the LSOA's residents, sums to 1).

    Examples:
        >>> e = ethnicity_by_lsoa()
        >>> len(e), round(float(e.groupby("lsoa21_code")["share"].sum().min()), 6)
        (3965, 1.0)
    """
    df = _read_csv("census_population", "census2021_ts021_ethnic_group_5cat_bsol_lsoa21.csv")
    long = df.melt(
        id_vars="lsoa21_code",
        value_vars=list(_CENSUS5),
        var_name="group",
        value_name="residents",
    )
    long["ethnicity_broad"] = long["group"].map(_CENSUS5)
    long["residents"] = long["residents"].astype("int64")
    total = long.groupby("lsoa21_code")["residents"].transform("sum")
    long["share"] = long["residents"] / total
    out = long[["lsoa21_code", "ethnicity_broad", "residents", "share"]]
    order = pd.Categorical(out["ethnicity_broad"], categories=ETHNICITY_BROAD[:5], ordered=True)
    return (
        out.assign(_o=order)
        .sort_values(["lsoa21_code", "_o"])
        .drop(columns="_o")
        .reset_index(drop=True)
    )


@_copied
def ethnicity_detailed_by_la() -> pd.DataFrame:
    """Census 2021 residents by the 19 detailed ethnic groups, Birmingham and Solihull.

    Returns:
        ``local_authority``, ``ethnicity_detailed`` (Census 2021 19-group label),
        ``residents`` (int64), ``share`` (of the authority's residents).

    Examples:
        >>> e = ethnicity_detailed_by_la()
        >>> e.groupby("local_authority")["ethnicity_detailed"].nunique().tolist()
        [19, 19]
    """
    df = _read_csv(
        "census_population", "census2021_ts021_ethnic_group_19cat_ltla21_england_wales.csv"
    )
    df = df[df["ltla21_name"].isin(["Birmingham", "Solihull"])]
    out = pd.DataFrame(
        {
            "local_authority": df["ltla21_name"].astype(str),
            "ethnicity_detailed": df["ethnic_group"].astype(str),
            "residents": df["value"].astype("int64"),
        }
    )
    out["share"] = out["residents"] / out.groupby("local_authority")["residents"].transform("sum")
    return out.sort_values(["local_authority", "ethnicity_detailed"], ignore_index=True)


#: ESP2013 age bands (19), used for the ward population and the standard population.
AGE_BANDS_ESP2013: tuple[str, ...] = vocabulary.AGE_BANDS


@functools.lru_cache(maxsize=16)
def _population_by_age(geography: str) -> pd.DataFrame:
    if geography == "ward":
        df = _read_csv("census_population", "ons_ward21_population_5yr_age_2011_2022_bsol.csv")
        df = df[df["year"] == 2022]
        band = df["age_band"].replace({"UNDER 1": "0-4", "1-4": "0-4"})
        df = df.assign(age_band=band)
        out = (
            df.groupby(["WD21CD", "WD21NM", "LAD21NM", "age_band"], as_index=False)["count"]
            .sum()
            .rename(
                columns={
                    "WD21CD": "ward_code",
                    "WD21NM": "ward_name",
                    "LAD21NM": "local_authority",
                    "count": "population",
                }
            )
        )
        out["population"] = out["population"].round().astype("int64")
        out["age_band"] = pd.Categorical(out["age_band"], categories=AGE_BANDS_ESP2013)
        out = out.sort_values(["ward_code", "age_band"], ignore_index=True)
        out["age_band"] = out["age_band"].astype(str)
        return out
    # LSOA: mid-2020 single year of age on 2011 LSOAs, apportioned to 2021 LSOAs.
    df = _read_csv("census_population", "ons_mye2020_persons_sya_bsol_lsoa11.csv")
    ages = [str(a) for a in range(90)] + ["90+"]
    long = df.melt(id_vars="lsoa11_code", value_vars=ages, var_name="age", value_name="pop")
    long["age"] = long["age"].str.replace("+", "", regex=False).astype("int64")
    lk = _lsoa11_lookup_raw()[["lsoa11_code", "lsoa21_code"]].drop_duplicates()
    res = _residents21()
    lk = lk.assign(w=lk["lsoa21_code"].map(res).fillna(1).astype("float64"))
    lk["w"] = lk["w"] / lk.groupby("lsoa11_code")["w"].transform("sum")
    merged = long.merge(lk, on="lsoa11_code", how="inner")
    merged["population"] = merged["pop"] * merged["w"]
    out = merged.groupby(["lsoa21_code", "age"], as_index=False)["population"].sum()
    return out.sort_values(["lsoa21_code", "age"], ignore_index=True)


def population_by_age(geography: Literal["ward", "lsoa"] = "ward") -> pd.DataFrame:
    """Resident population by age, for wards or LSOAs 2021.

    * ``"ward"``: ONS mid-2022 estimates for the 86 wards (2021 wards, same codes as 2022)
      in the 19 ESP2013 bands (``0-4`` ... ``85-89``, ``90+``; the source's ``UNDER 1`` and
      ``1-4`` are added together). Columns ``ward_code``, ``ward_name``,
      ``local_authority``, ``age_band``, ``population`` (int64).
    * ``"lsoa"``: ONS mid-2020 estimates by single year of age (``age`` 0..90, 90 meaning
      90+) on 2011 LSOAs, mapped to 2021 LSOAs: unchanged and merged LSOAs map directly, a
      split 2011 LSOA is shared among its successors in proportion to their Census 2021
      residents. Columns ``lsoa21_code``, ``age``, ``population`` (float64, fractional where
      apportioned).

    Args:
        geography: ``"ward"`` or ``"lsoa"``.

    Returns:
        A new long DataFrame.

    Raises:
        ParameterError: for any other geography.

    Examples:
        >>> w = population_by_age("ward")
        >>> w["ward_code"].nunique(), w["age_band"].nunique()
        (86, 19)
        >>> lsoa = population_by_age("lsoa")
        >>> lsoa["lsoa21_code"].nunique(), int(lsoa["age"].max())
        (793, 90)
    """
    if geography not in ("ward", "lsoa"):
        raise ParameterError(f"geography must be 'ward' or 'lsoa', not {geography!r}.")
    return _population_by_age(geography).copy()


# --------------------------------------------------------------------------------------
# QOF
# --------------------------------------------------------------------------------------


@_copied
def _qof_cvd() -> pd.DataFrame:
    return _read_csv("qof", "qof_cvd_domain_practice_england_2023-24_heec.csv")


@_copied
def qof_hypertension_prevalence() -> pd.DataFrame:
    """QOF 2023-24 recorded hypertension prevalence (percent) for BSOL practices.

    Returns:
        ``practice_code``, ``prevalence`` (percent of the list), ``list_size`` (int64),
        for the practices in :func:`practices` that appear in QOF 2023-24.

    Examples:
        >>> q = qof_hypertension_prevalence()
        >>> bool(q["prevalence"].between(0, 100).all()), len(q) > 150
        (True, True)
    """
    df = _qof_cvd()
    df = df[df["Practice.Code"].isin(practices()["practice_code"])]
    df = df.dropna(subset=["Prevalence_HYP", "List.Size_HYP"])
    return pd.DataFrame(
        {
            "practice_code": df["Practice.Code"].astype(str),
            "prevalence": df["Prevalence_HYP"].astype("float64"),
            "list_size": df["List.Size_HYP"].round().astype("int64"),
        }
    ).sort_values("practice_code", ignore_index=True)


@functools.lru_cache(maxsize=16)
def england_hypertension_prevalence() -> float:
    """QOF 2023-24 recorded hypertension prevalence for England, percent.

    The list-size-weighted mean of every English practice's prevalence (registers over
    list sizes).

    Examples:
        >>> 13 < england_hypertension_prevalence() < 16
        True
    """
    df = _qof_cvd().dropna(subset=["Prevalence_HYP", "List.Size_HYP"])
    register = (df["Prevalence_HYP"] / 100 * df["List.Size_HYP"]).sum()
    return float(100 * register / df["List.Size_HYP"].sum())


# --------------------------------------------------------------------------------------
# Codelists
# --------------------------------------------------------------------------------------


@_copied
def codelist(name: str) -> pd.DataFrame:
    """The SNOMED CT codes of one cluster.

    Args:
        name: one of :data:`CLUSTER_FILES` (``HYP_COD``, ``SBP``, ``HBA1C`` ...).

    Returns:
        ``code`` (string), ``term``.

    Raises:
        ParameterError: for an unknown name.

    Examples:
        >>> codelist("HYPRES_COD")
                code                   term
        0  162659009  Hypertension resolved
    """
    if name not in ALL_CLUSTERS:
        raise ParameterError(f"Unknown codelist {name!r}; choose one of {', '.join(ALL_CLUSTERS)}.")
    if name == "NONHDL":
        return pd.DataFrame({"code": list(NONHDL_CODES), "term": list(NONHDL_CODES.values())})
    files = CLUSTER_FILES_V2.get(name) or (CLUSTER_FILES[name],)
    if name == "DBP":
        files = (*files, DBP_REFSET_FILE)
    out = pd.concat([_codelist_file(f) for f in files], ignore_index=True)
    return out.drop_duplicates("code").reset_index(drop=True)


def _codelist_file(name: str) -> pd.DataFrame:
    if name.endswith(".txt"):  # tab-separated, no header: code, term
        df = _read_csv("codelists", name, sep="\t", header=None, names=["code", "term"], dtype=str)
    else:
        df = _read_csv("codelists", name, dtype=str)
    return pd.DataFrame({"code": df["code"].str.strip(), "term": df["term"]})


@_copied
def drug_codelist(name: str) -> pd.DataFrame:
    """The dm+d codes of one medication group (contract version 2).

    Args:
        name: ``LLT`` (lipid-lowering therapy: statins) or ``ANTIHYP`` (antihypertensives).

    Returns:
        ``code`` (string), ``term``.

    Raises:
        ParameterError: for an unknown name.

    Examples:
        >>> len(drug_codelist("LLT")) > 500, drug_codelist("LLT")["code"].is_unique
        (True, True)
    """
    if name not in DRUG_FILES:
        raise ParameterError(f"Unknown medication group {name!r}; choose one of LLT, ANTIHYP.")
    return _codelist_file(DRUG_FILES[name]).drop_duplicates("code").reset_index(drop=True)


@_copied
def drug_clusters() -> pd.DataFrame:
    """Every dm+d code of every medication group: ``code``, ``group`` (``(code, group)`` unique).

    Examples:
        >>> sorted(drug_clusters()["group"].unique())
        ['ANTIHYP', 'LLT']
    """
    frames = [drug_codelist(n)[["code"]].assign(group=n) for n in DRUG_FILES]
    return pd.concat(frames, ignore_index=True)


@_copied
def acsc_icd10() -> pd.DataFrame:
    """The chronic ambulatory care sensitive conditions (CCG OIS 2.6 / NHS OF 2.3.i) in ICD-10.

    ``code`` is either four characters without the dot (a 3-character code padded with
    ``X``, as ``I10X``) or three characters naming a whole category (``E10``). Acute
    bronchitis (``J20``) is left out: it counts only with a secondary COPD diagnosis, which
    the extract does not carry. The other exclusions (D57 secondary diagnoses, procedures)
    cannot be applied and are not. The source files are GPL-3 data (see ``data/raw/MANIFEST``).

    Returns:
        ``code``, ``condition_uid``, ``condition`` (the description), ``group`` (e.g. ``Angina``).

    Examples:
        >>> a = acsc_icd10()
        >>> "I10X" in set(a["code"]), "E10" in set(a["code"]), "J200" in set(a["code"])
        (True, True, False)
    """
    lu = _read_csv("codelists", "lu_acc_icd10.csv", dtype=str)
    cond = _read_csv("codelists", "ac_conditions.csv", dtype=str)
    df = lu.merge(
        cond[["condition_uid", "desc", "cat2"]], on="condition_uid", how="left", validate="m:1"
    )
    df = df.rename(columns={"icd10": "code", "desc": "condition", "cat2": "group"})
    df["code"] = df["code"].str.strip().str.upper().str.replace(".", "", regex=False)
    df = df[~df["code"].str.startswith("J20")]
    return df[["code", "condition_uid", "condition", "group"]].reset_index(drop=True)


@_copied
def comparators() -> pd.DataFrame:
    """Published England and BSOL comparator figures (``data/raw/comparators``).

    Returns:
        The file's columns: ``indicator``, ``area_type``, ``area_code``, ``area_name``,
        ``period``, ``value``, ``unit``, ``numerator``, ``denominator``, ``lower_ci``,
        ``upper_ci``, ``definition``, ``source``.

    Examples:
        >>> c = comparators()
        >>> bool((c["area_code"] == "E92000001").any())
        True
    """
    return _read_csv("comparators", "comparators.csv", dtype={"period": str, "area_code": str})


@_copied
def life_expectancy_comparators() -> pd.DataFrame:
    """OHID Fingertips life expectancy at birth (90366) and its SII (92901), by sex.

    England, Birmingham and Solihull, 3-year periods.

    Returns:
        ``area_code``, ``area_name``, ``period`` (``2021-23``), ``indicator``
        (``LE_BIRTH`` or ``LE_SII``), ``sex`` (``M``/``F``), ``value`` (years).

    Examples:
        >>> le = life_expectancy_comparators()
        >>> sorted(le["indicator"].unique()), sorted(le["sex"].unique())
        (['LE_BIRTH', 'LE_SII'], ['F', 'M'])
    """
    df = _read_csv("comparators", "fingertips_90366_92901_le_sii_england_birmingham_solihull.csv")
    indicator = df["indicator"].str.lower().str.contains("inequality|slope", regex=True)
    return pd.DataFrame(
        {
            "area_code": df["area_code"],
            "area_name": df["area_name"],
            "period": df["period"].str.replace(" ", "", regex=False),
            "indicator": indicator.map({True: "LE_SII", False: "LE_BIRTH"}),
            "sex": df["inequality"].map({"Male": "M", "Female": "F"}),
            "value": df["value"].astype(float),
        }
    )


@_copied
def clusters() -> pd.DataFrame:
    """Every code of every cluster.

    A code may belong to more than one cluster (two COPD diagnosis codes are also COPD
    review codes), so ``code`` is not unique; ``(code, cluster)`` is.

    Returns:
        ``code`` (string), ``cluster``.

    Examples:
        >>> c = clusters()
        >>> c["cluster"].nunique(), bool(c.duplicated(["code", "cluster"]).any())
        (23, False)
    """
    frames = [codelist(n)[["code"]].assign(cluster=n) for n in ALL_CLUSTERS]
    return pd.concat(frames, ignore_index=True)


@_copied
def ethnicity_codes() -> pd.DataFrame:
    """Mapping of every accepted ``ethnicity_code`` to the suite's two ethnicity columns.

    Two code systems: SNOMED CT concept ids from the OpenSAFELY ethnicity codelist
    (``code_system="snomed"``) and NHS Data Dictionary ethnic category letters ``A``..``S``
    plus ``Z`` (not stated) and ``99`` (not known) (``code_system="nhs_dd"``).
    ``ethnicity_detailed`` is the NHS 16-group label; ``ethnicity_broad`` the ONS 2021
    five-group scheme, derived at the 16-group level so that Chinese is ``Asian`` (the
    codelist's own six groups put Chinese with Other). ``Z`` and ``99`` map to ``Unknown``.

    Returns:
        ``code``, ``code_system``, ``nhs_category`` (the letter), ``ethnicity_detailed``,
        ``ethnicity_broad``.

    Examples:
        >>> e = ethnicity_codes().set_index("code")
        >>> e.loc["R", ["ethnicity_broad", "ethnicity_detailed"]].tolist()
        ['Asian', 'Other ethnic groups: Chinese']
        >>> e.loc["99", "ethnicity_broad"], e.index.is_unique
        ('Unknown', True)
    """
    letters = list(NHS_ETHNIC_CATEGORIES)
    dd = pd.DataFrame(
        {
            "code": [*letters, "Z", "99"],
            "code_system": "nhs_dd",
            "nhs_category": [*letters, "Z", "99"],
            "ethnicity_detailed": [
                *(NHS_ETHNIC_CATEGORIES[k][0] for k in letters),
                "Unknown",
                "Unknown",
            ],
            "ethnicity_broad": [
                *(NHS_ETHNIC_CATEGORIES[k][1] for k in letters),
                "Unknown",
                "Unknown",
            ],
        }
    )
    sn = _read_csv("codelists", "opensafely-ethnicity-snomed-0removed.csv", dtype=str)
    group16 = sn["Grouping_16"].astype(int)
    letter = group16.map(dict(enumerate(letters, start=1)))
    snomed = pd.DataFrame(
        {
            "code": sn["code"].str.strip(),
            "code_system": "snomed",
            "nhs_category": letter,
            "ethnicity_detailed": letter.map({k: v[0] for k, v in NHS_ETHNIC_CATEGORIES.items()}),
            "ethnicity_broad": letter.map({k: v[1] for k, v in NHS_ETHNIC_CATEGORIES.items()}),
        }
    ).drop_duplicates("code")
    return pd.concat([dd, snomed], ignore_index=True)


# --------------------------------------------------------------------------------------
# Boundaries
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _boundaries(name: str) -> Any:
    import geopandas as gpd

    path = _raw("boundaries", name)
    if not path.exists():
        raise BsolError(f"The boundary file {path} is missing. Restore data/raw/.")
    gdf = gpd.read_file(path)
    return gdf.to_crs(4326) if gdf.crs is not None and gdf.crs.to_epsg() != 4326 else gdf


def lsoa21_boundaries() -> Any:
    """LSOA 2021 polygons (EPSG:4326), generalised, 793 rows.

    Returns:
        GeoDataFrame: ``lsoa21_code``, ``lsoa21_name``, ``local_authority``, ``ward_code``,
        ``ward_name``, ``locality``, ``geometry``.

    Examples:
        >>> g = lsoa21_boundaries()
        >>> len(g), g.crs.to_epsg()
        (793, 4326)
    """
    gdf = _boundaries("bsol_lsoa21.geojson").rename(
        columns={
            "LSOA21": "lsoa21_code",
            "LSOA21NM": "lsoa21_name",
            "Area": "local_authority",
            "WD22CD": "ward_code",
            "WD22NM": "ward_name",
            "Locality": "locality",
        }
    )
    cols = [
        "lsoa21_code",
        "lsoa21_name",
        "local_authority",
        "ward_code",
        "ward_name",
        "locality",
        "geometry",
    ]
    return gdf[cols].copy()


def ward_boundaries() -> Any:
    """Ward polygons (EPSG:4326), 86 wards (69 Birmingham, 17 Solihull).

    Returns:
        GeoDataFrame: ``ward_code``, ``ward_name``, ``local_authority``, ``locality``
        (from the ward-to-locality lookup), ``geometry``.

    Examples:
        >>> g = ward_boundaries()
        >>> len(g), g.crs.to_epsg(), int(g["locality"].isna().sum())
        (86, 4326, 0)
    """
    gdf = _boundaries("bsol_wards.geojson").rename(
        columns={"Ward": "ward_name", "WardCode": "ward_code", "Area": "local_authority"}
    )
    loc = _read_csv("localities", "ward22_to_locality.csv", dtype=str)
    gdf = gdf.assign(locality=gdf["ward_code"].map(loc.set_index("AreaCode")["Locality"]))
    return gdf[["ward_code", "ward_name", "local_authority", "locality", "geometry"]].copy()


def locality_boundaries() -> Any:
    """The six locality polygons (EPSG:4326).

    Returns:
        GeoDataFrame: ``locality``, ``local_authority``, ``geometry``.

    Examples:
        >>> sorted(locality_boundaries()["locality"])
        ['Central', 'East', 'North', 'Solihull', 'South', 'West']
    """
    gdf = _boundaries("bsol_localities.geojson").rename(
        columns={"Locality": "locality", "Area": "local_authority"}
    )
    return gdf[["locality", "local_authority", "geometry"]].copy()


# --------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------


def manifest(raw_dir: str | Path | None = None) -> pd.DataFrame:
    """The ``data/raw/MANIFEST`` table: ``file``, ``source``, ``licence``, ``sha256``.

    Examples:
        >>> m = manifest()
        >>> list(m.columns), len(m) > 30
        (['file', 'source', 'licence', 'sha256'], True)
    """
    root = Path(raw_dir) if raw_dir is not None else Path(paths.RAW_DIR)
    path = root / "MANIFEST"
    if not path.exists():
        raise BsolError(f"The reference-data manifest {path} is missing.")
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


_UNLISTED_OK = {"MANIFEST", "PROVENANCE.txt", "README.md"}


def verify_manifest(raw_dir: str | Path | None = None) -> list[str]:
    """Check every file of ``data/raw`` against ``data/raw/MANIFEST``.

    Every listed file must exist with the listed SHA-256, and every data file present must
    be listed (``MANIFEST``, ``PROVENANCE.txt``, ``README.md`` and hidden files excepted).

    Args:
        raw_dir: the reference-data folder (default :data:`bsol_analytics.paths.RAW_DIR`).

    Returns:
        The files checked, relative to ``raw_dir``.

    Raises:
        BsolError: naming the first file that is missing, changed or not listed.

    Examples:
        >>> files = verify_manifest()
        >>> "imd/imd2025_bsol_lsoa21.csv" in files
        True
    """
    root = Path(raw_dir) if raw_dir is not None else Path(paths.RAW_DIR)
    m = manifest(root)
    for rel, expected in zip(m["file"], m["sha256"], strict=True):
        path = root / rel
        if not path.exists():
            raise BsolError(
                f"Reference file data/raw/{rel} is listed in data/raw/MANIFEST but missing. "
                "Restore it from the repository."
            )
        actual = file_sha256(path)
        if actual != expected.strip().lower():
            raise BsolError(
                f"Reference file data/raw/{rel} does not match data/raw/MANIFEST "
                f"(SHA-256 {actual[:12]}..., expected {expected[:12]}...). It has been changed "
                "or corrupted; restore it from the repository."
            )
    listed = set(m["file"])
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
        if path.is_file() and not hidden and path.name not in _UNLISTED_OK and rel not in listed:
            raise BsolError(
                f"Reference file data/raw/{rel} is not listed in data/raw/MANIFEST. Add it "
                "with its source, licence and SHA-256, or remove it."
            )
    return m["file"].tolist()
