"""The synthetic GP extract: real BSOL places, no real people.

:func:`generate` writes an extract in the shape of ``docs/data-contract.md`` (tables
``patients``, ``clinical_events``, ``screening``, ``admissions``) built on the real BSOL
practices and their list sizes, the practices' real catchment wards, the LSOAs in those wards,
LSOA age structure, Census 2021 ethnicity, IMD 2025 and QOF 2023-24 hypertension prevalence.
Every person in it is drawn at random; ``docs/synthetic-data.md`` describes the model, its
parameters (the constants below) and the deliberate messiness.

Generation is vectorised (numpy and pyarrow) and runs in chunks of patients, each with its own
random stream spawned from the seed, so memory stays flat however large the extract; the same
seed, size, end date and format always give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bsol_analytics import reference
from bsol_analytics.contract import CONTRACT_VERSION, EXTRACT_TABLES
from bsol_analytics.errors import ParameterError, file_errors
from bsol_analytics.io import atomic_directory

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_END_DATE",
    "HISTORY_YEARS",
    "PARAMS",
    "TABLES",
    "SynthResult",
    "cli_synth",
    "generate",
    "patient_ids",
    "practice_counts",
    "sample_extract",
]

log = logging.getLogger("bsol_analytics.synth")

#: Default last date of the extract.
DEFAULT_END_DATE = "2025-03-31"
#: Years of history before the end date for readings, reviews, screening, deaths and leavers.
HISTORY_YEARS = 6
#: Registered patients generated per chunk (memory is proportional to this, not to the total).
CHUNK_SIZE = 500_000
#: The extract tables, in writing order.
TABLES: tuple[str, ...] = ("patients", "clinical_events", "screening", "admissions")

_DAY = 365.25
_EPOCH = np.datetime64("1970-01-01", "D")

#: Model parameters. Logit age curves are (ages, logits) knots interpolated linearly; effects
#: are added on the logit scale; ``imd`` effects multiply ``(5 - quintile)``, so they grow with
#: deprivation (quintile 1 = most deprived). Calibrated intercepts are solved at run time.
PARAMS: dict[str, Any] = {
    # share of the list (registered at the end date) who have left or died are added on top
    "leavers_per_patient": 0.10,  # over HISTORY_YEARS, more among young adults
    "death_hazard": {"a": -11.25, "b": 0.102, "imd": 0.08},  # Gompertz, per year
    "female_share": {
        "ages": [0, 20, 45, 65, 75, 85, 95],
        "p": [0.487, 0.49, 0.5, 0.515, 0.54, 0.6, 0.72],
    },
    "sex_unknown_share": 0.001,
    "ethnicity_unknown_share": 0.12,
    "unknown_codes": {"Z": 0.45, "99": 0.20, "": 0.35},
    "ethnicity_letter_share": 0.25,  # of known ethnicities written as an NHS letter
    "hyp": {
        "ages": [0, 18, 30, 40, 50, 60, 70, 80, 90, 110],
        "logit": [-9.0, -6.5, -4.5, -3.2, -2.0, -1.0, -0.2, 0.35, 0.5, 0.5],
        "male": 0.15,
        "imd": 0.07,
        "ethnicity": {"Asian": 0.2, "Black": 0.55, "Mixed": 0.05, "Other": 0.0, "White": 0.0},
        "decedent": 0.4,
        "resolved_ratio": 0.05,  # resolved patients per register patient
        "rediagnosed_share": 0.015,  # of the register, resolved once then re-diagnosed
    },
    "dm": {
        "target_17plus": 0.086,
        "ages": [0, 17, 30, 40, 50, 60, 70, 80, 90, 110],
        "logit": [-7.5, -6.0, -4.2, -3.0, -2.1, -1.5, -1.1, -1.1, -1.4, -1.6],
        "male": 0.25,
        "imd": 0.10,
        "ethnicity": {"Asian": 0.9, "Black": 0.45, "Mixed": 0.2, "Other": 0.4, "White": 0.0},
        "letters": {"J": 0.25, "K": 0.3, "R": -0.6},  # Pakistani, Bangladeshi, Chinese
        "decedent": 0.3,
        "resolved_ratio": 0.02,
    },
    "copd": {
        "target": 0.018,
        "ages": [0, 35, 45, 55, 65, 75, 85, 110],
        "logit": [-12.0, -6.0, -4.6, -3.5, -2.7, -2.2, -2.2, -2.4],
        "male": 0.1,
        "imd": 0.2,
        "ethnicity": {"Asian": -0.8, "Black": -0.7, "Mixed": -0.2, "Other": -0.5, "White": 0.0},
        "decedent": 1.0,
        "resolved_ratio": 0.02,
    },
    "palliative": {
        "target": 0.0045,
        "age": 0.07,
        "copd": 1.0,
        "decedent_share": 0.42,
        "not_indicated_share": 0.04,
    },
    "bp": {
        "hyp_rate": 1.1,
        "hyp_recent": 0.6,
        "other_rate_45": 0.4,
        "other_rate_18": 0.15,
        "hyp_mean": 132.0,
        "hyp_age": -0.12,
        "hyp_imd": 1.2,
        "hyp_sd": 10.0,
        "other_mean": 112.0,
        "other_age": 0.45,
        "other_sd": 11.0,
        "reading_sd": 8.0,
        "dbp_slope": 0.45,
        "dbp_intercept": 18.0,
        "dbp_age": -0.2,
        "dbp_sd": 7.0,
        "same_date_share": 0.93,
    },
    "hba1c": {
        "dm_rate": 1.6,
        "dm_recent": 0.7,
        "dm_mean": 51.0,
        "dm_imd": 1.0,
        "dm_asian": 3.0,
        "dm_sd": 11.0,
        "reading_sd": 6.0,
        "other_rate_40": 0.08,
    },
    "copd_review": {"rate": 0.7, "recent": 0.45},
    "place_of_death": {  # home, care home, hospital, hospice, other by age at death
        "ages": [0, 65, 85],
        "p": [
            [0.30, 0.03, 0.50, 0.10, 0.07],
            [0.28, 0.17, 0.45, 0.06, 0.04],
            [0.18, 0.35, 0.42, 0.03, 0.02],
        ],
    },
    "admissions": {
        "emergency": 0.05,
        "emergency_age": 0.03,
        "elective": 0.06,
        "elective_age": 0.02,
        "copd": 2.5,
        "dm": 1.4,
        "imd": 0.06,
        "last_90_days": 1.0,
    },
    "screening": {
        # programme: (sex, min age at test, max age at test, interval years, coverage target,
        #             inadequate share)
        "breast": ("F", 50, 70, 3.0, 0.62, 0.01),
        "cervical_25": ("F", 25, 49, 3.0, 0.63, 0.02),
        "cervical_50": ("F", 50, 64, 5.0, 0.72, 0.02),
        "bowel": ("*", 56, 74, 2.0, 0.57, 0.015),
        "imd": -0.15,  # per quintile more deprived
        "person_sd": 1.2,
        "ethnicity": {"Asian": -0.45, "Black": -0.3, "Mixed": -0.2, "Other": -0.45, "White": 0.0},
        "repeat_after_inadequate": 0.8,
    },
    "mess": {
        "sex_variants": 0.15,
        "dob_month_only": 0.01,
        "dob_dmy": 0.02,
        "date_dmy": 0.01,
        "lsoa_missing": 0.015,
        "lsoa_2011": 0.03,
        "place_variants": 0.08,
        "duplicate_events": 0.004,
        "duplicate_other": 0.002,
        "implausible_bp": 0.003,
        "hba1c_percent": 0.002,
        "after_death": 0.03,
        "orphan_events": 0.0001,
    },
}

#: The codes each cluster is recorded with and their shares (the commonest codes in practice
#: systems). A weight ``"*"`` spreads that share over the rest of the codelist. Codes missing
#: from a codelist are ignored and the remaining weights rescaled.
_CODE_MIX: dict[str, dict[str, float]] = {
    "HYP_COD": {"59621000": 0.8, "38341003": 0.1, "1201005": 0.05, "10725009": 0.05},
    "HYPRES_COD": {"162659009": 1.0},
    "DM_COD": {"44054006": 0.88, "46635009": 0.07, "73211009": 0.05},
    "DMRES_COD": {"315051004": 1.0},
    "COPD_COD": {"13645005": 0.9, "185086009": 0.06, "195951007": 0.04},
    "COPDRES_COD": {"941201000000103": 1.0},
    "PALCARE_COD": {"103735009": 0.6, "1025611000000105": 0.15, "*": 0.25},
    "PALCARENI_COD": {"1048611000000104": 0.9, "*": 0.1},
    "SBP": {"271649006": 0.85, "72313002": 0.05, "407554009": 0.05, "413606001": 0.05},
    "DBP": {"271650006": 0.85, "1091811000000102": 0.05, "407555008": 0.05, "413605002": 0.05},
    "HBA1C": {"999791000000106": 0.7, "1003671000000109": 0.3},
    "COPD_REVIEW": {"393989003": 0.6, "401184000": 0.2, "401185004": 0.1, "*": 0.1},
}

_PLACES = ("home", "care home", "hospital", "hospice", "other")
_PLACE_VARIANTS = (
    ("Home", "HOME", " home", "home "),
    ("Care Home", "CARE HOME", "care  home", "Care home "),
    ("Hospital", "HOSPITAL", " hospital", "hospital "),
    ("Hospice", "HOSPICE", "hospice "),
    ("Other", "OTHER", " other"),
)
_SEX_VARIANTS = {
    "M": ("Male", "male", "MALE", "1", "m"),
    "F": ("Female", "female", "FEMALE", "2", "f"),
    "U": ("9", "0", "u"),
}
_BROAD5 = ("Asian", "Black", "Mixed", "White", "Other")
_LETTERS = tuple(reference.NHS_ETHNIC_CATEGORIES)
_CENSUS19_TO_LETTER = {
    "Bangladeshi": "K",
    "Chinese": "R",
    "Indian": "H",
    "Other Asian": "L",
    "Pakistani": "J",
    "African": "N",
    "Caribbean": "M",
    "Other Black": "P",
    "Other Mixed or Multiple ethnic groups": "G",
    "White and Asian": "F",
    "White and Black African": "E",
    "White and Black Caribbean": "D",
    "Any other ethnic group": "S",
    "Arab": "S",
    "English, Welsh, Scottish, Northern Irish or British": "A",
    "Irish": "B",
    "Gypsy or Irish Traveller": "C",
    "Other White": "C",
    "Roma": "C",
}

#: Arrow type written for each kind of contract column.
_ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "string": pa.string(),
    "code": pa.string(),
    "date": pa.date32(),
    "float": pa.float64(),
}

#: The extract tables' Arrow schemas, in contract column order.
_SCHEMAS: dict[str, pa.Schema] = {
    name: pa.schema([(c.name, _ARROW_TYPES[c.kind]) for c in spec.columns])
    for name, spec in EXTRACT_TABLES.items()
}


# --------------------------------------------------------------------------------------
# Small public helpers
# --------------------------------------------------------------------------------------


def patient_ids(index: np.ndarray, seed: int) -> pa.Array:
    """Pseudonymised patient keys: ``"P"`` and 10 hex digits, unique for unique ``index``.

    The key is an invertible scrambling of a 40-bit index (odd multiplier and offset derived
    from the seed), so it reveals nothing and, starting with a letter, can never pass the
    NHS-number check.

    Args:
        index: non-negative integers below 2**40.
        seed: the extract's seed.

    Returns:
        A pyarrow string array: always one contiguous array, however many ids (converting
        a large numpy byte array with ``pa.array`` would split it into a ChunkedArray, which
        ``pa.concat_arrays`` and ``take`` results downstream cannot mix with plain arrays).

    Examples:
        >>> ids = patient_ids(np.arange(3), seed=1).to_pylist()
        >>> len(set(ids)), all(len(i) == 11 and i[0] == "P" for i in ids)
        (3, True)
    """
    mask = (1 << 40) - 1
    ss = np.random.SeedSequence([seed, 40]).generate_state(2, dtype=np.uint64)
    mult = np.uint64(int(ss[0]) & mask | 1)
    add = np.uint64(int(ss[1]) & mask)
    x = (np.asarray(index, dtype=np.uint64) * mult + add) & np.uint64(mask)
    shifts = np.arange(36, -1, -4, dtype=np.uint64)
    nibbles = ((x[:, None] >> shifts[None, :]) & np.uint64(15)).astype(np.uint8)
    hexchars = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    buf = np.empty((len(x), 11), dtype=np.uint8)
    buf[:, 0] = ord("P")
    buf[:, 1:] = hexchars
    offsets = np.arange(0, 11 * (len(x) + 1), 11, dtype=np.int64)
    ids = pa.LargeStringArray.from_buffers(len(x), pa.py_buffer(offsets), pa.py_buffer(buf))
    return ids.cast(pa.string())


def practice_counts(list_sizes: pd.Series, total: int) -> pd.Series:
    """Scale list sizes to ``total`` patients by the largest-remainder method.

    Args:
        list_sizes: list size per practice (index = practice code).
        total: the number of registered patients wanted.

    Returns:
        A new int64 Series summing exactly to ``total``.

    Examples:
        >>> practice_counts(pd.Series([10, 20, 30], index=list("abc")), 7).tolist()
        [1, 2, 4]
    """
    exact = list_sizes.to_numpy(dtype=np.float64) * total / float(list_sizes.sum())
    base = np.floor(exact).astype(np.int64)
    short = int(total - base.sum())
    order = np.lexsort((np.arange(len(exact)), -(exact - base)))
    base[order[:short]] += 1
    return pd.Series(base, index=list_sizes.index, name="patients")


# --------------------------------------------------------------------------------------
# Reference tables as arrays
# --------------------------------------------------------------------------------------


def _cum_rows(weights: np.ndarray) -> np.ndarray:
    """Row-wise cumulative shares, offset by row number so the flattened array is sorted."""
    w = np.asarray(weights, dtype=np.float64)
    totals = w.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    cum = np.cumsum(w / totals, axis=1)
    cum[:, -1] = 1.0
    return (cum + np.arange(len(w))[:, None]).ravel()


def _draw(cum_flat: np.ndarray, ncols: int, row: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw a column index per element from the categorical distribution of its row."""
    pos = np.searchsorted(cum_flat, row + u * (1 - 1e-12), side="right")
    return (pos - row * ncols).astype(np.int64)


@dataclass
class _Ref:
    practice_code: np.ndarray
    practice_locality: np.ndarray
    list_size: pd.Series
    hyp_target: np.ndarray
    prac_ward_cum: np.ndarray
    n_wards: int
    ward_lsoa_cum: np.ndarray
    lsoa_per_ward: np.ndarray  # ward x k -> lsoa index
    max_lsoa: int
    lsoa_code: np.ndarray
    lsoa11_code: np.ndarray
    lsoa_la: np.ndarray  # 0 Birmingham, 1 Solihull
    lsoa_imdq: np.ndarray
    lsoa_age_cum: np.ndarray
    lsoa_eth_cum: np.ndarray
    la_letter_cum: np.ndarray  # (la*5 + broad) x 16
    letter_broad: np.ndarray
    snomed_by_letter: list[np.ndarray]
    codes: np.ndarray  # global code dictionary
    cluster_codes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


def _load_reference() -> _Ref:
    prac = reference.practices().sort_values("practice_code", ignore_index=True)
    lk = reference.lsoa21_lookup().sort_values("lsoa21_code", ignore_index=True)
    wards = np.sort(lk["ward_code"].unique())
    ward_ix = pd.Series(np.arange(len(wards)), index=wards)

    # practice -> ward weights (BSOL wards only, renormalised); practices without weights
    # take the mean weights of their PCN, else their locality.
    w = reference.practice_ward_weights().dropna(subset=["ward_code"])
    mat = np.zeros((len(prac), len(wards)))
    pix = pd.Series(np.arange(len(prac)), index=prac["practice_code"])
    w = w[w["practice_code"].isin(pix.index)]
    np.add.at(
        mat,
        (pix[w["practice_code"]].to_numpy(), ward_ix[w["ward_code"]].to_numpy()),
        w["fraction"].to_numpy(),
    )
    mat = mat / np.maximum(mat.sum(axis=1, keepdims=True), 1e-12)
    missing = mat.sum(axis=1) == 0
    for col in ("pcn_code", "locality"):
        if not missing.any():
            break
        groups = prac[col].to_numpy()
        for g in np.unique(groups[missing]):
            donors = (groups == g) & ~missing
            if donors.any():
                fill = (groups == g) & missing
                mat[fill] = mat[donors].mean(axis=0)
        missing = mat.sum(axis=1) == 0

    # ward -> LSOA by Census 2021 residents
    eth = reference.ethnicity_by_lsoa()
    eth_wide = eth.pivot(index="lsoa21_code", columns="ethnicity_broad", values="residents")
    eth_wide = eth_wide.reindex(index=lk["lsoa21_code"], columns=list(_BROAD5)).fillna(0)
    residents = eth_wide.sum(axis=1).to_numpy()
    lsoa_ward = ward_ix[lk["ward_code"]].to_numpy()
    counts = np.bincount(lsoa_ward, minlength=len(wards))
    max_l = int(counts.max())
    per_ward = np.zeros((len(wards), max_l), dtype=np.int64)
    wts = np.zeros((len(wards), max_l))
    order = np.argsort(lsoa_ward, kind="stable")
    slot = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    per_ward[lsoa_ward[order], slot] = order
    wts[lsoa_ward[order], slot] = residents[order]

    # LSOA single-year-of-age structure
    pop = reference.population_by_age("lsoa")
    age_mat = (
        pop.pivot(index="lsoa21_code", columns="age", values="population")
        .reindex(index=lk["lsoa21_code"], columns=range(91))
        .fillna(0)
        .to_numpy()
    )

    imd = reference.imd2025().set_index("lsoa21_code")["imd_quintile"]
    imdq = imd.reindex(lk["lsoa21_code"]).fillna(3).astype(np.int64).to_numpy()
    l11 = reference.lsoa11_to_lsoa21().sort_values("lsoa11_code")
    back = l11.drop_duplicates("lsoa21_code").set_index("lsoa21_code")["lsoa11_code"]
    lsoa11 = back.reindex(lk["lsoa21_code"]).fillna(
        pd.Series(lk["lsoa21_code"].to_numpy(), index=lk["lsoa21_code"])
    )

    # detailed ethnicity within broad, per local authority
    det = reference.ethnicity_detailed_by_la()
    det = det.assign(
        letter=det["ethnicity_detailed"].str.split(": ", n=1).str[1].map(_CENSUS19_TO_LETTER)
    )
    letter_ix = {k: i for i, k in enumerate(_LETTERS)}
    letter_broad = np.array(
        [_BROAD5.index(reference.NHS_ETHNIC_CATEGORIES[k][1]) for k in _LETTERS]
    )
    la_mat = np.zeros((2 * 5, len(_LETTERS)))
    for la_i, la in enumerate(("Birmingham", "Solihull")):
        d = det[det["local_authority"] == la].groupby("letter")["residents"].sum()
        for letter, n in d.items():
            li = letter_ix[letter]
            la_mat[la_i * 5 + letter_broad[li], li] += n

    ec = reference.ethnicity_codes()
    ec = ec[ec["code_system"] == "snomed"].sort_values("code")
    snomed_by_letter = [
        ec.loc[ec["nhs_category"] == k, "code"].to_numpy(dtype=object) for k in _LETTERS
    ]

    # code dictionary: cluster codes (review codes that are also diagnosis codes excluded)
    all_codes: list[str] = []
    cluster_codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    copd = set(reference.codelist("COPD_COD")["code"])
    for name in reference.CLUSTER_FILES:
        cl = sorted(set(reference.codelist(name)["code"]))
        if name == "COPD_REVIEW":
            cl = [c for c in cl if c not in copd]
        mix = _CODE_MIX[name]
        rest = [c for c in cl if c not in mix]
        probs = np.array([mix.get(c, mix.get("*", 0.0) / max(len(rest), 1)) for c in cl])
        if probs.sum() == 0:
            probs = np.ones(len(cl))
        idx = np.arange(len(all_codes), len(all_codes) + len(cl))
        all_codes.extend(cl)
        cluster_codes[name] = (idx, np.cumsum(probs / probs.sum()))

    qof = reference.qof_hypertension_prevalence().set_index("practice_code")
    overall = float((qof["prevalence"] * qof["list_size"]).sum() / qof["list_size"].sum())
    hyp_target = qof["prevalence"].reindex(prac["practice_code"]).fillna(overall).to_numpy()

    return _Ref(
        practice_code=prac["practice_code"].to_numpy(dtype=object),
        practice_locality=prac["locality"].to_numpy(dtype=object),
        list_size=prac.set_index("practice_code")["list_size"],
        hyp_target=hyp_target / 100.0,
        prac_ward_cum=_cum_rows(mat),
        n_wards=len(wards),
        ward_lsoa_cum=_cum_rows(wts),
        lsoa_per_ward=per_ward,
        max_lsoa=max_l,
        lsoa_code=lk["lsoa21_code"].to_numpy(dtype=object),
        lsoa11_code=lsoa11.to_numpy(dtype=object),
        lsoa_la=(lk["local_authority"] == "Solihull").to_numpy().astype(np.int64),
        lsoa_imdq=imdq,
        lsoa_age_cum=_cum_rows(age_mat),
        lsoa_eth_cum=_cum_rows(eth_wide.to_numpy()),
        la_letter_cum=_cum_rows(la_mat),
        letter_broad=letter_broad,
        snomed_by_letter=snomed_by_letter,
        codes=np.array(all_codes, dtype=object),
        cluster_codes=cluster_codes,
    )


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _demographics(ref: _Ref, practice: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """Residence, age, sex and ethnicity for patients of the given practices."""
    n = len(practice)
    ward = _draw(ref.prac_ward_cum, ref.n_wards, practice, rng.random(n))
    slot = _draw(ref.ward_lsoa_cum, ref.max_lsoa, ward, rng.random(n))
    lsoa = ref.lsoa_per_ward[ward, slot]
    age = _draw(ref.lsoa_age_cum, 91, lsoa, rng.random(n)).astype(np.float64)
    old = age >= 90
    age[old] = np.minimum(90 + rng.geometric(0.25, old.sum()) - 1, 105)
    age = age + rng.random(n)  # exact age in years at the end date
    fs = PARAMS["female_share"]
    female = rng.random(n) < np.interp(age, fs["ages"], fs["p"])
    sex = np.where(female, "F", "M").astype(object)
    sex[rng.random(n) < PARAMS["sex_unknown_share"]] = "U"
    broad = _draw(ref.lsoa_eth_cum, 5, lsoa, rng.random(n))
    letter = _draw(ref.la_letter_cum, len(_LETTERS), ref.lsoa_la[lsoa] * 5 + broad, rng.random(n))
    return {
        "practice": practice,
        "lsoa": lsoa,
        "age": age,
        "sex": sex,
        "broad": broad,
        "letter": letter,
        "imdq": ref.lsoa_imdq[lsoa],
    }


def _effects(d: dict[str, Any], spec: dict[str, Any]) -> np.ndarray:
    eth = np.array([spec["ethnicity"][b] for b in _BROAD5])[d["broad"]]
    x = np.interp(d["age"], spec["ages"], spec["logit"]) + eth
    x = x + spec["male"] * (d["sex"] == "M") + spec["imd"] * (5 - d["imdq"])
    for letter, eff in spec.get("letters", {}).items():
        x = x + eff * (d["letter"] == _LETTERS.index(letter))
    return x


def _solve_offset(x: np.ndarray, group: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-group logit offsets so that the mean probability in each group hits ``target``."""
    ng = len(target)
    n = np.maximum(np.bincount(group, minlength=ng), 1)
    t = np.clip(target, 1e-4, 0.9)
    alpha = np.log(t / (1 - t)) - np.bincount(group, x, minlength=ng) / n
    for _ in range(30):
        p = _sigmoid(alpha[group] + x)
        f = np.bincount(group, p, minlength=ng) / n - t
        g = np.bincount(group, p * (1 - p), minlength=ng) / n
        step = f / np.maximum(g, 1e-9)
        alpha = alpha - step
        if np.abs(step).max() < 1e-7:
            break
    return alpha


@dataclass(frozen=True)
class _Calibration:
    hyp_alpha: np.ndarray
    dm: float
    copd: float
    pal: float
    screening: dict[str, float]


def _calibrate(ref: _Ref, seed: int, per_practice: int = 3000) -> _Calibration:
    """Solve the intercepts on a calibration population drawn with its own stream."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    practice = np.repeat(np.arange(len(ref.practice_code)), per_practice)
    d = _demographics(ref, practice, rng)
    hyp_alpha = _solve_offset(_effects(d, PARAMS["hyp"]), practice, ref.hyp_target)
    one = np.zeros(len(practice), dtype=np.int64)
    adult = d["age"] >= 17
    dm = _solve_offset(
        _effects(d, PARAMS["dm"])[adult], one[adult], np.array([PARAMS["dm"]["target_17plus"]])
    )[0]
    copd_x = _effects(d, PARAMS["copd"])
    copd = _solve_offset(copd_x, one, np.array([PARAMS["copd"]["target"]]))[0]
    pal_x = PARAMS["palliative"]["age"] * d["age"] + PARAMS["palliative"]["copd"] * _sigmoid(
        copd + copd_x
    )
    pal = _solve_offset(pal_x, one, np.array([PARAMS["palliative"]["target"]]))[0]
    scr = PARAMS["screening"]
    z = rng.normal(0, scr["person_sd"], len(practice))
    base = _screen_effect(d) + z
    out = {}
    for prog in ("breast", "cervical_25", "cervical_50", "bowel"):
        sex, lo, hi, _, target, _ = scr[prog]
        el = (d["age"] >= lo + 3 if prog == "breast" else d["age"] >= lo) & (d["age"] < hi + 1)
        if sex != "*":
            el &= d["sex"] == sex
        out[prog] = float(_solve_offset(base[el], one[el], np.array([target]))[0])
    return _Calibration(hyp_alpha, float(dm), float(copd), float(pal), out)


def _screen_effect(d: dict[str, Any]) -> np.ndarray:
    scr = PARAMS["screening"]
    eth = np.array([scr["ethnicity"][b] for b in _BROAD5])[d["broad"]]
    return eth + scr["imd"] * (5 - d["imdq"])


# --------------------------------------------------------------------------------------
# One chunk
# --------------------------------------------------------------------------------------


def _fixed_size_sample(
    group: np.ndarray, p: np.ndarray, share: np.ndarray, u: np.ndarray, n_groups: int
) -> np.ndarray:
    """Choose ``round(share * size)`` members of each group, weighted by the odds of ``p``.

    Efraimidis-Spirakis weighted sampling without replacement: the members with the largest
    ``log(u) / weight`` are chosen.
    """
    size = np.bincount(group, minlength=n_groups)
    k = np.floor(share * size + 0.5).astype(np.int64)
    w = p / np.maximum(1 - p, 1e-9)
    key = np.log(np.maximum(u, 1e-300)) / np.maximum(w, 1e-12)
    order = np.lexsort((-key, group))
    start = np.cumsum(size) - size
    rank = np.empty(len(group), dtype=np.int64)
    rank[order] = np.arange(len(group)) - start[group[order]]
    return rank < k[group]


class _Events:
    """Accumulates event rows as integer arrays."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(
        self, pid: np.ndarray, day: np.ndarray, code: np.ndarray, value: np.ndarray | None
    ) -> None:
        v = np.full(len(pid), np.nan) if value is None else np.asarray(value, dtype=np.float64)
        self.parts.append((pid.astype(np.int64), day.astype(np.int64), code.astype(np.int64), v))

    def arrays(self) -> tuple[np.ndarray, ...]:
        if not self.parts:
            return tuple(np.zeros(0, dtype=t) for t in (np.int64, np.int64, np.int64, np.float64))
        return tuple(np.concatenate([p[i] for p in self.parts]) for i in range(4))


def _codes(ref: _Ref, cluster: str, n: int, rng: np.random.Generator) -> np.ndarray:
    idx, cum = ref.cluster_codes[cluster]
    return idx[np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(idx) - 1)]


def _uniform_days(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    span = np.maximum(hi - lo, 0)
    return lo + np.floor(rng.random(len(lo)) * (span + 1)).astype(np.int64)


def _recurring(
    who: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    rate: np.ndarray | float,
    recent: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Event dates at ``rate`` per year between ``lo`` and ``hi`` (inclusive) for ``who``.

    With probability ``recent`` one extra event falls in the 12 months up to ``hi``.
    Returns (patient index, day) arrays.
    """
    ok = hi >= lo
    who, lo, hi = who[ok], lo[ok], hi[ok]
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), ok.shape)[ok]
    k = rng.poisson(rate * (hi - lo + 1) / _DAY)
    rep = np.repeat(np.arange(len(who)), k)
    days = _uniform_days(lo[rep], hi[rep], rng)
    if recent > 0:
        extra = np.flatnonzero(rng.random(len(who)) < recent)
        e_days = _uniform_days(np.maximum(lo[extra], hi[extra] - 364), hi[extra], rng)
        rep = np.concatenate([rep, extra])
        days = np.concatenate([days, e_days])
    return who[rep], days


_NO_DATE = -(10**9)


@dataclass
class _Cohort:
    """One chunk's patients as arrays: registered ones first, then decedents and leavers.

    Dates are whole days since 1970-01-01; ``_NO_DATE`` marks a missing date.
    """

    d: dict[str, np.ndarray]  # practice, lsoa, age, sex, broad, letter, imdq
    registered: np.ndarray
    dead: np.ndarray
    left: np.ndarray
    dob: np.ndarray
    death: np.ndarray
    reg_start: np.ndarray
    reg_end: np.ndarray
    last: np.ndarray  # last day observed: end date, death or leaving
    obs: np.ndarray  # first day of the observed history
    window_start: int
    end_day: int

    @property
    def n(self) -> int:
        return len(self.dob)

    @property
    def age(self) -> np.ndarray:
        return self.d["age"]


def _cohort(ref: _Ref, practice: np.ndarray, rng: np.random.Generator, end_day: int) -> _Cohort:
    """Registered patients plus people like them who died or left during the history."""
    win = end_day - round(HISTORY_YEARS * _DAY)
    tmpl = _demographics(ref, practice, rng)
    n_t = len(practice)
    hz = PARAMS["death_hazard"]
    h = np.exp(hz["a"] + hz["b"] * tmpl["age"] + hz["imd"] * (3 - tmpl["imdq"]))
    # deaths at each age over the history: the hazard times the population at that age
    n_dead = rng.poisson(h * HISTORY_YEARS)
    young = (tmpl["age"] >= 18) & (tmpl["age"] < 36)
    n_left = rng.poisson(PARAMS["leavers_per_patient"] * np.where(young, 1.8, 0.8))
    base = np.arange(n_t)
    src = np.concatenate([base, np.repeat(base, n_dead), np.repeat(base, n_left)])
    kind = np.repeat(np.array([0, 1, 2], np.int8), [n_t, n_dead.sum(), n_left.sum()])
    n = len(src)
    d = {k: v[src] for k, v in tmpl.items()}
    dead, left = kind == 1, kind == 2

    death = np.full(n, _NO_DATE, dtype=np.int64)
    death[dead] = _uniform_days(np.full(dead.sum(), win), np.full(dead.sum(), end_day), rng)
    reg_end = np.full(n, _NO_DATE, dtype=np.int64)
    reg_end[left] = _uniform_days(np.full(left.sum(), win), np.full(left.sum(), end_day - 1), rng)
    # age is at the end date, at death or at leaving
    anchor = np.where(dead, death, np.where(left, reg_end, end_day))
    dob = anchor - np.maximum(np.floor(d["age"] * _DAY).astype(np.int64), 2)
    deducted = dead & (rng.random(n) < 0.7)
    reg_end[deducted] = death[deducted] + rng.integers(1, 31, deducted.sum())
    reg_end[deducted & (reg_end > end_day)] = _NO_DATE
    last = np.where(dead, death, np.where(left, reg_end, end_day))
    years = rng.exponential(np.where(dead, 15.0, 10.0))
    reg_start = np.maximum(
        last - np.floor(years * _DAY).astype(np.int64), dob + rng.integers(0, 43, n)
    )
    reg_start = np.maximum(np.minimum(reg_start, last - left), dob)
    return _Cohort(
        d=d,
        registered=kind == 0,
        dead=dead,
        left=left,
        dob=dob,
        death=death,
        reg_start=reg_start,
        reg_end=reg_end,
        last=last,
        obs=np.maximum(reg_start, win),
        window_start=win,
        end_day=end_day,
    )


@dataclass
class _Registers:
    hyp: np.ndarray
    dm: np.ndarray
    copd: np.ndarray
    hyp_diag: np.ndarray
    dm_diag: np.ndarray
    copd_diag: np.ndarray


def _registers(
    ref: _Ref, cal: _Calibration, c: _Cohort, rng: np.random.Generator, ev: _Events
) -> _Registers:
    """Who has hypertension, diabetes and COPD, with their diagnosis (and resolved) codes."""
    hp, dp, cp = PARAMS["hyp"], PARAMS["dm"], PARAMS["copd"]
    d = c.d
    p_hyp = _sigmoid(cal.hyp_alpha[d["practice"]] + _effects(d, hp) + hp["decedent"] * c.dead)
    p_dm = _sigmoid(cal.dm + _effects(d, dp) + dp["decedent"] * c.dead)
    p_copd = _sigmoid(cal.copd + _effects(d, cp) + cp["decedent"] * c.dead)
    u = rng.random((c.n, 3))
    hyp, dm, copd = u[:, 0] < p_hyp, u[:, 1] < p_dm, u[:, 2] < p_copd
    # registered patients: each practice's register is its QOF share of its list, the
    # patients chosen by weighted sampling (odds as weights) so the gradients hold
    reg = c.registered
    hyp[reg] = _fixed_size_sample(
        d["practice"][reg], p_hyp[reg], ref.hyp_target, u[reg, 0], len(ref.hyp_target)
    )
    return _Registers(
        hyp,
        dm,
        copd,
        _diagnosis_events(ref, c, hyp, p_hyp, hp, ("HYP_COD", "HYPRES_COD"), 18, 8.0, rng, ev),
        _diagnosis_events(ref, c, dm, p_dm, dp, ("DM_COD", "DMRES_COD"), 5, 7.0, rng, ev),
        _diagnosis_events(ref, c, copd, p_copd, cp, ("COPD_COD", "COPDRES_COD"), 35, 5.0, rng, ev),
    )


def _diagnosis_events(
    ref: _Ref,
    c: _Cohort,
    flag: np.ndarray,
    p: np.ndarray,
    spec: dict[str, Any],
    clusters: tuple[str, str],
    min_age: float,
    mean_years: float,
    rng: np.random.Generator,
    ev: _Events,
) -> np.ndarray:
    """Diagnosis codes for a register, resolved histories and a few re-diagnoses.

    Returns the diagnosis day of every patient (meaningful where ``flag``).
    """
    dx, res = clusters
    n, last, dob = c.n, c.last, c.dob
    lo = np.minimum(dob + int(min_age * _DAY), last)
    years_ago = np.floor(rng.exponential(mean_years, n) * _DAY).astype(np.int64)
    diag = np.maximum(lo, last - years_ago)
    ev.add(np.flatnonzero(flag), diag[flag], _codes(ref, dx, flag.sum(), rng), None)
    # resolved: off the register, a diagnosis then a resolved code
    odds = p / np.maximum(1 - p, 0.05)
    resolved = ~flag & (rng.random(n) < spec["resolved_ratio"] * odds) & (diag < last)
    r_at = np.maximum(diag + np.floor(rng.uniform(0.2, 1.0, n) * (last - diag)), diag + 1)
    who = np.flatnonzero(resolved)
    ev.add(who, diag[who], _codes(ref, dx, len(who), rng), None)
    ev.add(who, r_at[who].astype(np.int64), _codes(ref, res, len(who), rng), None)
    # a few on the register were diagnosed, resolved and diagnosed again
    again = flag & (rng.random(n) < spec.get("rediagnosed_share", 0.01))
    first = np.maximum(
        diag - np.floor(rng.uniform(1, 5, n) * _DAY).astype(np.int64), dob + int(16 * _DAY)
    )
    mid = (first + diag) // 2
    who = np.flatnonzero(again & (mid > first) & (mid < diag))
    ev.add(who, first[who], _codes(ref, dx, len(who), rng), None)
    ev.add(who, mid[who], _codes(ref, res, len(who), rng), None)
    return diag


def _readings(
    c: _Cohort,
    register: np.ndarray,
    diagnosed: np.ndarray,
    rate: np.ndarray,
    recent: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Days of routine readings (blood pressure, HbA1c) for one chunk.

    Every patient has readings at ``rate`` a year while observed (from diagnosis for those
    on the register); each patient on the register also has, with probability ``recent``,
    one more in the last 12 months. Returns (patient index, day) arrays.
    """
    lo = np.where(register, np.maximum(c.obs, diagnosed), c.obs)
    pidx = np.arange(c.n)
    who, day = _recurring(pidx, lo, c.last, rate, 0.0, rng)
    w2, d2 = _recurring(pidx[register], lo[register], c.last[register], 0.0, recent, rng)
    return np.concatenate([who, w2]), np.concatenate([day, d2])


def _bp_events(ref: _Ref, c: _Cohort, r: _Registers, rng: np.random.Generator, ev: _Events) -> None:
    """Systolic and diastolic readings: hypertensives often, other adults now and then."""
    bp = PARAMS["bp"]
    age, hyp, n = c.age, r.hyp, c.n
    rate = np.where(
        hyp,
        bp["hyp_rate"],
        np.where(age >= 45, bp["other_rate_45"], np.where(age >= 18, bp["other_rate_18"], 0.0)),
    )
    who, day = _readings(c, hyp, r.hyp_diag, rate, bp["hyp_recent"], rng)
    # usual systolic: better controlled with age, worse with deprivation
    mu = np.where(
        hyp,
        bp["hyp_mean"]
        + bp["hyp_age"] * (age - 60)
        + bp["hyp_imd"] * (5 - c.d["imdq"])
        + rng.normal(0, bp["hyp_sd"], n),
        bp["other_mean"]
        + bp["other_age"] * np.maximum(age - 30, 0)
        + rng.normal(0, bp["other_sd"], n),
    )
    sbp = np.clip(np.round(mu[who] + rng.normal(0, bp["reading_sd"], len(who))), 75, 260)
    dbp = np.round(
        bp["dbp_slope"] * sbp
        + bp["dbp_intercept"]
        + bp["dbp_age"] * (age[who] - 60)
        + rng.normal(0, bp["dbp_sd"], len(who))
    )
    dbp = np.clip(dbp, 40, 150)
    dday = day.copy()
    shift = rng.random(len(who)) > bp["same_date_share"]
    dday[shift] = np.clip(
        day[shift] + rng.integers(-14, 15, shift.sum()), c.obs[who[shift]], c.last[who[shift]]
    )
    ev.add(who, day, _codes(ref, "SBP", len(who), rng), sbp)
    ev.add(who, dday, _codes(ref, "DBP", len(who), rng), dbp)


def _hba1c_events(
    ref: _Ref, c: _Cohort, r: _Registers, rng: np.random.Generator, ev: _Events
) -> None:
    """HbA1c (mmol/mol): diabetics several times a year, a few tests in others aged 40+."""
    hb = PARAMS["hba1c"]
    dm, age, n = r.dm, c.age, c.n
    rate = np.where(dm, hb["dm_rate"], np.where(age >= 40, hb["other_rate_40"], 0.0))
    who, day = _readings(c, dm, r.dm_diag, rate, hb["dm_recent"], rng)
    mu = np.where(
        dm,
        hb["dm_mean"]
        + hb["dm_imd"] * (5 - c.d["imdq"])
        + hb["dm_asian"] * (c.d["broad"] == 0)
        + rng.normal(0, hb["dm_sd"], n),
        38.0 + rng.normal(0, 3, n),
    )
    noise = rng.normal(0, np.where(dm[who], hb["reading_sd"], 2.0))
    ev.add(
        who, day, _codes(ref, "HBA1C", len(who), rng), np.clip(np.round(mu[who] + noise), 28, 160)
    )


def _copd_review_events(
    ref: _Ref, c: _Cohort, r: _Registers, rng: np.random.Generator, ev: _Events
) -> None:
    """Annual-ish COPD reviews for the COPD register."""
    cr = PARAMS["copd_review"]
    lo = np.maximum(c.obs, r.copd_diag)
    w = np.flatnonzero(r.copd)
    who, day = _recurring(w, lo[w], c.last[w], cr["rate"], cr["recent"], rng)
    ev.add(who, day, _codes(ref, "COPD_REVIEW", len(who), rng), None)


def _palliative_events(
    ref: _Ref,
    cal: _Calibration,
    c: _Cohort,
    r: _Registers,
    rng: np.random.Generator,
    ev: _Events,
) -> np.ndarray:
    """Palliative care codes (decedents in their last months) and a few "not indicated".

    Returns who has a palliative care code.
    """
    pp = PARAMS["palliative"]
    n, dead, last = c.n, c.dead, c.last
    p_pal = _sigmoid(cal.pal + pp["age"] * c.age + pp["copd"] * r.copd)
    p_pal = np.where(dead, pp["decedent_share"] * (1 + 0.3 * r.copd), p_pal)
    pal = rng.random(n) < p_pal
    before = np.where(dead, 1 + np.floor(rng.exponential(80, n)), np.floor(rng.exponential(200, n)))
    pal_day = np.maximum(last - before.astype(np.int64), np.maximum(c.dob, last - 3 * 365))
    pal &= pal_day < np.where(dead, c.death, c.end_day + 1)
    who = np.flatnonzero(pal)
    ev.add(who, pal_day[who], _codes(ref, "PALCARE_COD", len(who), rng), None)
    ni = pal & ~dead & (rng.random(n) < pp["not_indicated_share"]) & (pal_day < last)
    ni_day = _uniform_days(pal_day + 1, last, rng)
    who = np.flatnonzero(ni)
    ev.add(who, ni_day[who], _codes(ref, "PALCARENI_COD", len(who), rng), None)
    return pal


def _place_of_death(c: _Cohort, rng: np.random.Generator) -> np.ndarray:
    """Index into ``_PLACES`` by age band at death (drawn for everyone, used for decedents)."""
    spec = PARAMS["place_of_death"]
    band = np.searchsorted(np.array(spec["ages"]), c.age, side="right") - 1
    return _draw(_cum_rows(np.array(spec["p"])), len(_PLACES), band, rng.random(c.n))


def _admissions(
    c: _Cohort, r: _Registers, pal: np.ndarray, rng: np.random.Generator
) -> list[np.ndarray]:
    """Emergency and elective admissions, with extra emergencies in the last 90 days of life.

    Returns [patient index, day, method (0 emergency, 1 elective)].
    """
    ap = PARAMS["admissions"]
    age = c.age
    mult = (
        (1 + (ap["copd"] - 1) * r.copd)
        * (1 + (ap["dm"] - 1) * r.dm)
        * np.exp(ap["imd"] * (5 - c.d["imdq"]))
    )
    em_rate = ap["emergency"] * np.exp(ap["emergency_age"] * (age - 40)) * mult
    el_rate = ap["elective"] * np.exp(ap["elective_age"] * (age - 40))
    pidx = np.arange(c.n)
    aw, ad = _recurring(pidx, c.obs, c.last, em_rate, 0.0, rng)
    ew, ed = _recurring(pidx, c.obs, c.last, el_rate, 0.0, rng)
    dw = np.flatnonzero(c.dead)
    k = rng.poisson(ap["last_90_days"] * (1 + 0.5 * r.copd[dw]) * np.where(pal[dw], 0.7, 1.0))
    lw = np.repeat(dw, k)
    ld = np.maximum(c.death[lw] - rng.integers(0, 90, len(lw)), c.dob[lw])
    method = np.concatenate([np.zeros(len(aw) + len(lw), np.int8), np.ones(len(ew), np.int8)])
    return [np.concatenate([aw, lw, ew]), np.concatenate([ad, ld, ed]), method]


def _screening(cal: _Calibration, c: _Cohort, rng: np.random.Generator) -> list[np.ndarray]:
    """Screening rounds at a personal phase, attended with a personal propensity.

    Returns [patient index, day, programme (0 breast, 1 cervical, 2 bowel), inadequate].
    """
    scr = PARAMS["screening"]
    age, n = c.age, c.n
    z = rng.normal(0, scr["person_sd"], n) + _screen_effect(c.d)
    s_w, s_d, s_p, s_o = [], [], [], []
    for prog_i, prog in enumerate(("breast", "cervical_25", "cervical_50", "bowel")):
        sex, lo_age, hi_age, interval, _, inad = scr[prog]
        el = np.ones(n, bool) if sex == "*" else c.d["sex"] == sex
        el &= (age >= lo_age - 0.5) & (age < hi_age + interval + 1)
        if prog == "cervical_25":
            el &= age < 53
        elif prog == "cervical_50":
            el &= age >= 50
        w = np.flatnonzero(el)
        prop = _sigmoid(cal.screening[prog] + z[w])
        ivl = int(interval * _DAY)
        phase = rng.integers(0, ivl, len(w))
        rounds = int(np.ceil(HISTORY_YEARS / interval)) + 1
        t = c.last[w][:, None] - phase[:, None] - ivl * np.arange(rounds)[None, :]
        age_t = (t - c.dob[w][:, None]) / _DAY
        ok = (t >= c.window_start) & (age_t >= lo_age) & (age_t < hi_age + 1)
        ok &= rng.random(t.shape) < prop[:, None]
        rw = np.broadcast_to(w[:, None], t.shape)[ok]
        rd = t[ok]
        bad = rng.random(len(rw)) < inad
        rep = bad & (rng.random(len(rw)) < scr["repeat_after_inadequate"])
        rep_d = rd + rng.integers(20, 91, len(rw))
        rep &= rep_d <= c.last[rw]
        s_w += [rw, rw[rep]]
        s_d += [rd, rep_d[rep]]
        s_p += [np.full(len(rw) + rep.sum(), (0, 1, 1, 2)[prog_i], dtype=np.int64)]
        s_o += [bad.astype(np.int8), np.zeros(rep.sum(), np.int8)]
    return [np.concatenate(x) for x in (s_w, s_d, s_p, s_o)]


def _chunk(
    ref: _Ref,
    cal: _Calibration,
    practice: np.ndarray,
    id_base: int,
    seed: int,
    rng: np.random.Generator,
    end_day: int,
    clean: bool,
    csv: bool,
) -> dict[str, pa.Table]:
    """Generate every table for the patients registered at the given practices."""
    c = _cohort(ref, practice, rng, end_day)
    ev = _Events()
    r = _registers(ref, cal, c, rng, ev)
    _bp_events(ref, c, r, rng, ev)
    _hba1c_events(ref, c, r, rng, ev)
    _copd_review_events(ref, c, r, rng, ev)
    pal = _palliative_events(ref, cal, c, r, rng, ev)
    place = _place_of_death(c, rng)
    adm_cols = _admissions(c, r, pal, rng)
    scr_cols = _screening(cal, c, rng)
    return _tables(ref, c, ev, place, scr_cols, adm_cols, id_base, seed, rng, clean, csv)


def _tables(
    ref: _Ref,
    c: _Cohort,
    ev: _Events,
    place: np.ndarray,
    scr_cols: list[np.ndarray],
    adm_cols: list[np.ndarray],
    id_base: int,
    seed: int,
    rng: np.random.Generator,
    clean: bool,
    csv: bool,
) -> dict[str, pa.Table]:
    """The four contract tables of a chunk, messy unless ``clean``."""
    n, d, dead, death = c.n, c.d, c.dead, c.death
    perm = rng.permutation(n)  # patient row order
    rank = perm.argsort()
    ids = patient_ids(id_base + np.arange(n), seed)
    e_pid, e_day, e_code, e_val = ev.arrays()
    mess = PARAMS["mess"]

    sex_out = d["sex"].copy()
    place_out = np.array(_PLACES, dtype=object)[place]
    eth_code = _ethnicity_codes(ref, d["letter"], n, rng, clean)
    lsoa_out = ref.lsoa_code[d["lsoa"]].copy()
    if not clean:
        sex_out = _variants(sex_out, _SEX_VARIANTS, mess["sex_variants"], rng)
        place_out = _variants(
            place_out, dict(zip(_PLACES, _PLACE_VARIANTS, strict=True)), mess["place_variants"], rng
        )
        m11 = rng.random(n) < mess["lsoa_2011"]
        lsoa_out[m11] = ref.lsoa11_code[d["lsoa"][m11]]
        lsoa_out[rng.random(n) < mess["lsoa_missing"]] = None
    place_out[~dead] = None
    has_end = c.reg_end != _NO_DATE
    patients = {
        "patient_id": ids.take(pa.array(perm)),
        "sex": pa.array(sex_out[perm], pa.string()),
        "date_of_birth": _dates(c.dob[perm], None),
        "ethnicity_code": pa.array(eth_code[perm], pa.string()),
        "lsoa_code": pa.array(lsoa_out[perm], pa.string()),
        "practice_code": pa.array(ref.practice_code[d["practice"][perm]], pa.string()),
        "registration_start": _dates(c.reg_start[perm], None),
        "registration_end": _dates(c.reg_end[perm], ~has_end[perm]),
        "date_of_death": _dates(death[perm], ~dead[perm]),
        "place_of_death": pa.array(place_out[perm], pa.string()),
    }

    # events: messiness, then grouped by patient (in row order) and date
    if not clean:
        e_pid, e_day, e_code, e_val = _messy_events(
            ref, e_pid, e_day, e_code, e_val, dead, death, c.end_day, rng, mess
        )
    order = np.lexsort((e_code, e_day, rank[np.maximum(e_pid, 0)] + (e_pid < 0) * n))
    e_pid, e_day, e_code, e_val = e_pid[order], e_day[order], e_code[order], e_val[order]
    if clean:  # chance coincidences of two identical entries on one day
        same = (e_pid[1:] == e_pid[:-1]) & (e_day[1:] == e_day[:-1]) & (e_code[1:] == e_code[:-1])
        same &= (e_val[1:] == e_val[:-1]) | (np.isnan(e_val[1:]) & np.isnan(e_val[:-1]))
        keep = np.concatenate([[True], ~same])
        e_pid, e_day, e_code, e_val = e_pid[keep], e_day[keep], e_code[keep], e_val[keep]
    orphan = e_pid < 0  # sorted last
    ghost = patient_ids((1 << 39) + id_base + np.arange(orphan.sum()), seed)
    events = {
        "patient_id": pa.concat_arrays([ids.take(pa.array(e_pid[~orphan])), ghost]),
        "event_date": _dates(e_day, None),
        "snomed_code": pa.array(ref.codes, pa.string()).take(pa.array(e_code)),
        "numeric_value": pa.array(e_val, pa.float64(), from_pandas=True),
    }

    if not clean:
        scr_cols = _duplicate(scr_cols, mess["duplicate_other"], rng)
        adm_cols = _duplicate(adm_cols, mess["duplicate_other"], rng)
    o = np.lexsort((scr_cols[2], scr_cols[1], rank[scr_cols[0]]))
    scr_cols = [col[o] for col in scr_cols]
    o = np.lexsort((adm_cols[2], adm_cols[1], rank[adm_cols[0]]))
    adm_cols = [col[o] for col in adm_cols]
    progs = np.array(["breast", "cervical", "bowel"], dtype=object)
    screening = {
        "patient_id": ids.take(pa.array(scr_cols[0])),
        "programme": pa.array(progs[scr_cols[2]], pa.string()),
        "test_date": _dates(scr_cols[1], None),
        "outcome": pa.array(
            np.array(["adequate", "inadequate"], dtype=object)[scr_cols[3]], pa.string()
        ),
    }
    admissions = {
        "patient_id": ids.take(pa.array(adm_cols[0])),
        "admission_date": _dates(adm_cols[1], None),
        "admission_method": pa.array(
            np.array(["emergency", "elective"], dtype=object)[adm_cols[2]], pa.string()
        ),
    }
    tables = {
        "patients": pa.table(patients, schema=_SCHEMAS["patients"]),
        "clinical_events": pa.table(events, schema=_SCHEMAS["clinical_events"]),
        "screening": pa.table(screening, schema=_SCHEMAS["screening"]),
        "admissions": pa.table(admissions, schema=_SCHEMAS["admissions"]),
    }
    if csv and not clean:
        tables = {k: _messy_dates(k, t, rng, mess) for k, t in tables.items()}
    return tables


def _ethnicity_codes(
    ref: _Ref, letter: np.ndarray, n: int, rng: np.random.Generator, clean: bool
) -> np.ndarray:
    """SNOMED codes (or NHS letters) for the recorded ethnicity; a share unknown."""
    out = np.empty(n, dtype=object)
    # a SNOMED code from the patient's category, chosen uniformly
    u = rng.random(n)
    for li, codes in enumerate(ref.snomed_by_letter):
        m = letter == li
        out[m] = codes[np.minimum((u[m] * len(codes)).astype(np.int64), len(codes) - 1)]
    unknown = rng.random(n) < PARAMS["ethnicity_unknown_share"]
    as_letter = rng.random(n) < PARAMS["ethnicity_letter_share"]
    if clean:
        out[unknown] = None
        return out
    out[as_letter] = np.array(_LETTERS, dtype=object)[letter[as_letter]]
    uc = PARAMS["unknown_codes"]
    which = np.searchsorted(np.cumsum(list(uc.values())), rng.random(n), side="right")
    vals = np.array([v if v else None for v in uc], dtype=object)[np.minimum(which, len(uc) - 1)]
    out[unknown] = vals[unknown]
    return out


def _variants(
    values: np.ndarray, variants: dict[str, tuple[str, ...]], share: float, rng: np.random.Generator
) -> np.ndarray:
    out = values.copy()
    hit = rng.random(len(out)) < share
    pick = rng.random(len(out))
    for key, opts in variants.items():
        m = hit & (values == key)
        out[m] = np.array(opts, dtype=object)[(pick[m] * len(opts)).astype(np.int64)]
    return out


def _duplicate(cols: list[np.ndarray], share: float, rng: np.random.Generator) -> list[np.ndarray]:
    dup = np.flatnonzero(rng.random(len(cols[0])) < share)
    return [np.concatenate([c, c[dup]]) for c in cols]


def _messy_events(
    ref: _Ref,
    pid: np.ndarray,
    day: np.ndarray,
    code: np.ndarray,
    val: np.ndarray,
    dead: np.ndarray,
    death: np.ndarray,
    end_day: int,
    rng: np.random.Generator,
    mess: dict[str, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Duplicates, implausible values, events after death and a few orphan events."""
    sbp = set(ref.cluster_codes["SBP"][0].tolist()) | set(ref.cluster_codes["DBP"][0].tolist())
    is_bp = np.isin(code, list(sbp))
    bad = is_bp & (rng.random(len(code)) < mess["implausible_bp"])
    val = val.copy()
    val[bad] = np.array([0.0, 400.0, 999.0, 1.0, 0.0])[rng.integers(0, 5, bad.sum())]
    is_hb = np.isin(code, ref.cluster_codes["HBA1C"][0])
    pct = is_hb & (rng.random(len(code)) < mess["hba1c_percent"])
    val[pct] = np.round(val[pct] / 10.929 + 2.15, 1)
    cols = _duplicate([pid, day, code, val], mess["duplicate_events"], rng)
    pid, day, code, val = cols
    # an event recorded after death (late-entered or misattributed) for a few decedents
    d_ev = np.flatnonzero(dead[pid])
    pick = d_ev[rng.random(len(d_ev)) < mess["after_death"] / 8]
    late = np.minimum(death[pid[pick]] + rng.integers(1, 60, len(pick)), end_day)
    keep = late > death[pid[pick]]
    pick, late = pick[keep], late[keep]
    orphans = np.flatnonzero(rng.random(len(pid)) < mess["orphan_events"])
    pid = np.concatenate([pid, pid[pick], np.full(len(orphans), -1)])
    day = np.concatenate([day, late, day[orphans]])
    code = np.concatenate([code, code[pick], code[orphans]])
    val = np.concatenate([val, val[pick], val[orphans]])
    return pid, day, code, val


def _dates(days: np.ndarray, null: np.ndarray | None) -> pa.Array:
    arr = np.where(null, 0, days) if null is not None else days
    return pa.array(arr.astype(np.int32), pa.int32(), mask=null).cast(pa.date32())


_DATE_COLUMNS = {
    "patients": ("date_of_birth", "registration_start", "registration_end", "date_of_death"),
    "clinical_events": ("event_date",),
    "screening": ("test_date",),
    "admissions": ("admission_date",),
}


def _messy_dates(
    table: str, t: pa.Table, rng: np.random.Generator, mess: dict[str, float]
) -> pa.Table:
    """CSV only: write some dates as DD/MM/YYYY and some dates of birth as YYYY-MM."""
    for col in _DATE_COLUMNS[table]:
        arr = t[col].combine_chunks()
        iso = arr.cast(pa.string())
        share = mess["dob_dmy"] if col == "date_of_birth" else mess["date_dmy"]
        u = rng.random(len(arr))
        dmy = pa.array(u < share) if len(arr) else pa.array([], pa.bool_())
        ts = arr.cast(pa.timestamp("s"))
        out = pc.if_else(dmy, pc.strftime(ts, format="%d/%m/%Y"), iso)
        if col == "date_of_birth":
            month = pa.array((u >= share) & (u < share + mess["dob_month_only"]))
            out = pc.if_else(month, pc.utf8_slice_codeunits(iso, 0, 7), out)
        i = t.schema.get_field_index(col)
        t = t.set_column(i, pa.field(col, pa.string()), out)
    return t


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthResult:
    """What :func:`generate` wrote.

    Attributes:
        out: the extract folder.
        patients: rows in ``patients`` (registered at the end date, plus leavers and deaths).
        registered: patients registered at the end date.
        rows: rows per table.
        bytes: bytes on disk per table.
        seconds: wall time.

    Examples:
        >>> import tempfile, pathlib
        >>> res = generate(pathlib.Path(tempfile.mkdtemp()) / "x", patients=200, seed=2)
        >>> res.registered, res.patients >= res.registered, sorted(res.rows) == sorted(TABLES)
        (200, True, True)
    """

    out: Path
    patients: int
    registered: int
    rows: dict[str, int]
    bytes: dict[str, int]
    seconds: float


class _Writer:
    def __init__(self, root: Path, fmt: str, parts: bool) -> None:
        self.root, self.fmt, self.parts = root, fmt, parts
        self.writers: dict[str, Any] = {}
        self.rows = dict.fromkeys(TABLES, 0)

    def write(self, part: int, tables: dict[str, pa.Table]) -> None:
        for name in TABLES:
            t = tables[name]
            self.rows[name] += t.num_rows
            if self.fmt == "csv":
                if name not in self.writers:
                    opts = pacsv.WriteOptions(include_header=True, quoting_style="needed")
                    self.writers[name] = pacsv.CSVWriter(
                        self.root / f"{name}.csv", t.schema, write_options=opts
                    )
                self.writers[name].write_table(t)
            elif self.parts:
                folder = self.root / f"{name}.parquet"
                folder.mkdir(exist_ok=True)
                pq.write_table(t, folder / f"part-{part:05d}.parquet", compression="zstd")
            else:
                pq.write_table(t, self.root / f"{name}.parquet", compression="zstd")

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in sorted(path.iterdir()))
    return path.stat().st_size if path.exists() else 0


def _parse_end_date(end_date: str) -> int:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(end_date)):
            raise ValueError
        ts = pd.Timestamp(str(end_date))
    except ValueError:
        raise ParameterError(
            f"--end-date must be a real date written YYYY-MM-DD, not {end_date!r}."
        ) from None
    if not pd.Timestamp("2010-01-01") <= ts <= pd.Timestamp("2035-12-31"):
        raise ParameterError(f"--end-date {end_date} is outside 2010-2035; choose a date there.")
    return int((np.datetime64(ts.date(), "D") - _EPOCH).astype(np.int64))


def generate(
    out: str | Path,
    patients: int | None = None,
    seed: int = 2024,
    end_date: str = DEFAULT_END_DATE,
    fmt: Literal["csv", "parquet"] = "csv",
    clean: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> SynthResult:
    """Write a synthetic BSOL extract in the data-contract shape.

    Args:
        out: folder to write (replaced atomically: on failure the old one is left as it was).
        patients: patients registered at the end date (default: the sum of the real BSOL list
            sizes, about 1.63 million); practices' lists are scaled to it. Patients who left
            or died in the six years before the end date are added on top.
        seed: random seed; the same seed, size, end date, format and chunk size give the same
            bytes.
        end_date: last date of the extract, ``YYYY-MM-DD``.
        fmt: ``csv`` (one file per table) or ``parquet`` (one file per table, or a folder of
            ``part-NNNNN.parquet`` files per table when there is more than one chunk).
        clean: leave out the deliberate messiness.
        chunk_size: registered patients per chunk (memory scales with this).

    Returns:
        A :class:`SynthResult`.

    Raises:
        ParameterError: for a bad size, seed, date or format.

    Examples:
        >>> import tempfile, pathlib
        >>> res = generate(pathlib.Path(tempfile.mkdtemp()) / "x", patients=2000, seed=1)
        >>> sorted(p.name for p in res.out.iterdir() if p.suffix == ".csv")
        ['admissions.csv', 'clinical_events.csv', 'patients.csv', 'screening.csv']
        >>> res.registered
        2000
    """
    t0 = time.perf_counter()
    if fmt not in ("csv", "parquet"):
        raise ParameterError(f"--format must be csv or parquet, not {fmt!r}.")
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ParameterError(f"--seed must be a non-negative whole number, not {seed!r}.")
    if not 1000 <= chunk_size <= 5_000_000:
        raise ParameterError("chunk_size must be between 1,000 and 5,000,000 patients.")
    end_day = _parse_end_date(end_date)
    ref = _load_reference()
    total = int(ref.list_size.sum()) if patients is None else int(patients)
    if total < 100 or total > 50_000_000:
        raise ParameterError(f"--patients must be between 100 and 50,000,000, not {patients}.")
    counts = practice_counts(ref.list_size, total).to_numpy()
    practice = np.repeat(np.arange(len(counts)), counts)
    cal = _calibrate(ref, seed)
    n_chunks = max(1, int(np.ceil(total / chunk_size)))
    streams = np.random.SeedSequence([seed, 1]).spawn(n_chunks)
    bounds = np.linspace(0, total, n_chunks + 1).astype(np.int64)
    out = Path(out)
    n_patients = 0
    with atomic_directory(out) as tmp:
        writer = _Writer(tmp, fmt, parts=n_chunks > 1)
        try:
            for i in range(n_chunks):
                rng = np.random.default_rng(streams[i])
                tables = _chunk(
                    ref,
                    cal,
                    practice[bounds[i] : bounds[i + 1]],
                    i << 24,
                    seed,
                    rng,
                    end_day,
                    clean,
                    csv=fmt == "csv",
                )
                n_patients += tables["patients"].num_rows
                writer.write(i, tables)
                del tables
                log.info("chunk %d of %d written", i + 1, n_chunks)
        finally:
            writer.close()
        manifest = {
            "generator": "bsol_analytics.synth",
            "contract_version": CONTRACT_VERSION,
            "history_years": HISTORY_YEARS,
            "seed": seed,
            "end_date": str(end_date),
            "format": fmt,
            "clean": clean,
            "registered_at_end_date": total,
            "chunks": n_chunks,
            "rows": writer.rows,
        }
        (tmp / "synth_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    sizes = {name: _size(out / f"{name}.{fmt}") for name in TABLES}
    return SynthResult(out, n_patients, total, dict(writer.rows), sizes, time.perf_counter() - t0)


def sample_extract(
    patients: int = 200, seed: int = 1, fmt: Literal["csv", "parquet"] = "csv"
) -> Path:
    """A small synthetic extract in a new temporary folder, for examples and quick checks.

    Args:
        patients: patients registered at the end date (at least 100).
        seed: random seed.
        fmt: ``csv`` or ``parquet``.

    Returns:
        The extract folder (the caller removes it when done).

    Examples:
        >>> sorted(p.stem for p in sample_extract().glob("*.csv"))
        ['admissions', 'clinical_events', 'patients', 'screening']
    """
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="bsol-sample-"))
    return generate(root / "extract", patients=patients, seed=seed, fmt=fmt).out


def cli_synth(args: argparse.Namespace) -> int:
    """Run ``bsol synth`` with parsed arguments.

    Args:
        args: ``out``, ``patients``, ``seed``, ``end_date``, ``format``, ``clean`` (see
            :mod:`bsol_analytics.cli`).

    Returns:
        The exit code (0).

    Examples:
        >>> import tempfile, pathlib
        >>> a = argparse.Namespace(out=str(pathlib.Path(tempfile.mkdtemp()) / "x"),
        ...     patients=1000, seed=3, end_date="2025-03-31", format="parquet", clean=True)
        >>> cli_synth(a)
        0
    """
    with file_errors("bsol synth"):
        res = generate(
            args.out,
            patients=args.patients,
            seed=args.seed,
            end_date=args.end_date,
            fmt=args.format,
            clean=args.clean,
        )
    rows = ", ".join(f"{k} {v:,}" for k, v in res.rows.items())
    log.info("Wrote a synthetic extract to %s in %.1f s: %s.", res.out, res.seconds, rows)
    return 0
