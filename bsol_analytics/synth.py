"""The synthetic GP extract: real BSOL places, no real people.

:func:`generate` writes an extract in the shape of ``docs/data-contract.md``, version 2
(tables ``patients``, ``clinical_events``, ``screening``, ``admissions``, ``medications``,
``ed_attendances``, with ICD-10 causes of death and admission diagnoses) built on the real BSOL
practices and their list sizes, the practices' real catchment wards, the LSOAs in those wards,
LSOA age structure, Census 2021 ethnicity, IMD 2025, QOF 2023-24 hypertension and CVD
prevalence and the suite's codelists. Every person in it is drawn at random, and its history
is stationary (no trend beyond a real population's); ``docs/synthetic-data.md`` describes the
model, its parameters (the constants below), its calibration targets and the deliberate
messiness. ``synth_manifest.json`` marks the extract as synthetic.

Generation is vectorised (numpy and pyarrow) and runs in chunks of patients, each with its own
random stream spawned from the seed, so memory stays flat however large the extract; the same
seed, size, end date and format always give the same bytes.
"""

from __future__ import annotations

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
from bsol_analytics.errors import ParameterError
from bsol_analytics.io import atomic_directory

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_END_DATE",
    "EVENT_YEARS",
    "HISTORY_YEARS",
    "MEDICATION_YEARS",
    "PARAMS",
    "READING_YEARS",
    "RECENT_YEARS",
    "SYNTHETIC_NOTICE",
    "TABLES",
    "SynthResult",
    "generate",
    "patient_ids",
    "practice_counts",
    "sample_extract",
]

log = logging.getLogger("bsol_analytics.synth")

#: Default last date of the extract.
DEFAULT_END_DATE = "2025-03-31"
#: Years before the end date over which deaths and leavers are drawn.
HISTORY_YEARS = 6
#: Years of clinical history (readings, reviews, tests, screening) before the end date: enough
#: for the longest lookback (66 months) at a reporting date three years before the end.
EVENT_YEARS = 9
#: Years of ED attendances and admissions before the end date (the 90 days before a death
#: in the 12 months before a reporting date three years before the end).
RECENT_YEARS = 4
#: Years of routine readings (reviews, BP, HbA1c, cholesterol) before the end date, except BP
#: in people aged 45+ off the registers, which goes back EVENT_YEARS for the 5-year check.
READING_YEARS = 5
#: Years of prescribing before the end date (the 6-month lookback three years back).
MEDICATION_YEARS = 3.5
#: What ``synth_manifest.json`` says about the extract, for banners in the outputs.
SYNTHETIC_NOTICE = (
    "Synthetic data: every patient and every figure in this extract is invented by "
    "bsol_analytics.synth. Practices, places and deprivation are real; the patients and "
    "their records are not, and practice figures are not the practices' own."
)
#: Registered patients generated per chunk (memory is proportional to this, not to the total).
CHUNK_SIZE = 300_000
#: The extract tables, in writing order.
TABLES: tuple[str, ...] = (
    "patients",
    "clinical_events",
    "screening",
    "admissions",
    "medications",
    "ed_attendances",
)

_DAY = 365.25
_EPOCH = np.datetime64("1970-01-01", "D")

#: Model parameters. Logit age curves are (ages, logits) knots interpolated linearly; effects
#: are added on the logit scale; ``imd`` effects multiply ``(5 - quintile)``, so they grow with
#: deprivation (quintile 1 = most deprived). Calibrated intercepts are solved at run time.
PARAMS: dict[str, Any] = {
    # registrations: mean years registered (exponential); list turnover out = in
    "registration_years": 16.0,
    # people who left (moved away) over HISTORY_YEARS per registered patient, more among
    # young adults; with deaths they balance the joiners so the list is stationary
    "leavers_per_patient": 0.38,
    # Gompertz hazard per year with sex and IMD-decile effects (``imd`` per decile more
    # deprived), an infant and a background term; ``a`` is solved for the deaths per year
    "death_hazard": {
        "b": 0.092,
        "male": 0.4,
        "imd": 0.065,
        "infant": 0.0045,
        "background": 0.00015,
        "deaths_per_year": 11_868,
        "registered": 1_628_972,
    },
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
        # share of the register with type 1 by age (type 1 onset in childhood or youth)
        "type1_ages": [0, 18, 30, 40, 50, 60, 70, 110],
        "type1_p": [0.97, 0.85, 0.45, 0.16, 0.07, 0.04, 0.03, 0.03],
        "type1_white": 2.0,  # odds ratio, type 1 is commoner in White people
        "untyped_share": 0.05,  # diagnosed with a code that names no type
        "retyped_share": 0.02,  # type 1 later coded as type 2
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
    # CVD registers: per-practice intercepts solved for QOF 2023-24 prevalence
    "chd": {
        "qof": "CHD",
        "ages": [0, 30, 40, 50, 60, 70, 80, 90, 110],
        "logit": [-12.0, -8.0, -6.0, -4.4, -3.2, -2.3, -1.7, -1.5, -1.5],
        "male": 0.75,
        "imd": 0.10,
        "ethnicity": {"Asian": 0.45, "Black": -0.5, "Mixed": 0.0, "Other": 0.0, "White": 0.0},
        "decedent": 0.6,
    },
    "stia": {
        "qof": "STIA",
        "ages": [0, 30, 40, 50, 60, 70, 80, 90, 110],
        "logit": [-11.0, -8.0, -6.6, -5.2, -4.0, -3.0, -2.2, -1.8, -1.8],
        "male": 0.15,
        "imd": 0.08,
        "ethnicity": {"Asian": 0.1, "Black": 0.35, "Mixed": 0.0, "Other": 0.0, "White": 0.0},
        "decedent": 0.7,
        "tia_share": 0.3,
    },
    "pad": {
        "qof": "PAD",
        "ages": [0, 40, 50, 60, 70, 80, 90, 110],
        "logit": [-13.0, -8.0, -6.6, -5.4, -4.4, -3.7, -3.4, -3.4],
        "male": 0.5,
        "imd": 0.15,
        "ethnicity": {"Asian": -0.3, "Black": -0.1, "Mixed": 0.0, "Other": 0.0, "White": 0.0},
        "decedent": 0.8,
    },
    "palliative": {
        "target": 0.0045,
        "age": 0.07,
        "copd": 1.0,
        "decedent_share": 0.42,
        "not_indicated_share": 0.04,
        # time on the register before death: a short (weeks) and a long (years) component;
        # living patients' codes are dated by the same durations, so the register is stationary
        "short_share": 0.6,
        "short_days": 90.0,
        "long_years": 3.2,
    },
    # annual review at a personal phase for people on a long-term-condition register, attended
    # with a personal propensity; BP, HbA1c and cholesterol are recorded at the review
    "review": {"attend": 0.8, "sd": 1.3},
    "bp": {
        "register_rate": 0.4,  # besides the review
        "other_rate_45": 0.3,
        "other_rate_18": 0.15,
        "hyp_mean": 130.0,
        "hyp_age": -0.12,
        "hyp_imd": 1.2,
        "hyp_sd": 10.0,
        "other_mean": 112.0,
        "other_age": 0.45,
        "other_sd": 11.0,
        "dm_sbp": -6.0,  # diabetes: BP treated to a lower target
        "dm_dbp": -4.0,
        "reading_sd": 8.0,
        "dbp_slope": 0.45,
        "dbp_intercept": 16.0,
        "dbp_age": -0.2,
        "dbp_sd": 6.5,
        "same_date_share": 0.93,
    },
    "hba1c": {
        "dm_rate": 0.6,  # besides the review
        "at_review": 0.95,
        "dm_mean": 44.0,
        "type1_mean": 62.0,
        "dm_imd": 1.0,
        "dm_asian": 3.0,
        "dm_sd": 11.0,
        "reading_sd": 6.0,
        "other_rate_40": 0.08,
    },
    "copd_review": {"rate": 0.15, "at_review": 0.9},
    "cholesterol": {
        # tests: at reviews (DM or CVD / hypertension only) and now and then for others 40+
        "at_review_dm_cvd": 0.8,
        "at_review_hyp": 0.55,
        "other_rate_40": 0.08,
        "ldl_share": 0.5,  # tests reporting LDL
        "nonhdl_share": 0.2,  # tests reporting a non-HDL code
        "nonhdl_mean": 3.55,  # untreated, at 30, women
        "nonhdl_age": 0.022,  # per year of age to 60
        "nonhdl_male": 0.2,
        "nonhdl_imd": 0.04,
        "nonhdl_sd": 0.85,
        "reading_sd": 0.3,
        "hdl_female": 1.55,
        "hdl_male": 1.25,
        "hdl_dm": -0.12,
        "hdl_asian": -0.1,
        "hdl_sd": 0.28,
        "remnant": 0.65,  # non-HDL minus LDL (triglycerides / 2.2)
        "remnant_dm": 0.2,
        "statin_drop": 0.42,  # mean fractional fall in non-HDL on a statin
        "statin_drop_sd": 0.12,
    },
    "statins": {
        # probability of being on lipid-lowering therapy by group
        "cvd": 0.88,
        "dm_type2_40": 0.88,
        "dm_type1_40": 0.68,
        "hyp_40": 0.4,
        "other_40": 0.04,
        "other_60": 0.1,
        "stop_years": 150.0,  # mean years on treatment before stopping (exponential)
        "intervals": {28: 0.15, 56: 0.55, 84: 0.3},  # days' supply per issue
        "missed_issue": 0.04,
        "drugs": {
            "Atorvastatin": 0.66,
            "Simvastatin": 0.14,
            "Rosuvastatin": 0.12,
            "Pravastatin": 0.06,
            "Fluvastatin": 0.02,
        },
    },
    "place_of_death": {  # home, care home, hospital, hospice, other by age at death
        "ages": [0, 65, 85],
        "p": [
            [0.30, 0.03, 0.50, 0.10, 0.07],
            [0.28, 0.17, 0.45, 0.06, 0.04],
            [0.18, 0.35, 0.42, 0.03, 0.02],
        ],
    },
    "care_plan": {"palliative": 0.72, "other": 0.15, "days_before": 150.0, "living_pal": 0.5},
    "admissions": {
        "emergency": 0.05,
        "emergency_age": 0.03,
        "elective": 0.06,
        "elective_age": 0.02,
        "copd": 2.5,
        "dm": 1.4,
        "cvd": 1.5,
        "imd": 0.06,
        "last_90_days": 1.0,
        # chance that an emergency admission is for a chronic ACSC
        "acsc_base": 0.03,
        "acsc_age": 0.0012,  # per year over 40
        "acsc_copd": 0.3,
        "acsc_dm": 0.05,
        "acsc_cvd": 0.12,
        "acsc_hyp": 0.02,
        "diagnosis_missing": 0.01,
    },
    "ed": {
        "rate": 0.29,  # attendances per person-year (types 1-4), before the age curve
        "ages": [0, 5, 15, 25, 40, 60, 75, 85, 110],
        "mult": [1.8, 0.9, 1.0, 1.2, 0.8, 0.9, 1.4, 2.0, 2.2],
        "imd": 0.1,
        "copd": 1.8,
        "last_days_mean": 2.9,  # extra attendances towards death (negative binomial)
        "last_days_shape": 1.5,
        "last_days_scale": 30.0,  # days before death, exponential
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
        "implausible_chol": 0.002,
        "hba1c_percent": 0.002,
        "after_death": 0.03,
        "orphan_events": 0.0001,
        "icd10_no_dot": 0.3,
        "icd10_three": 0.1,
        "icd10_unknown": 0.002,
        "dmd_unknown": 0.0005,
        "after_death_other": 0.002,
    },
}

#: The codes each cluster is recorded with and their shares (the commonest codes in practice
#: systems). A weight ``"*"`` spreads that share over the rest of the codelist. Codes missing
#: from a codelist are ignored and the remaining weights rescaled. ``DM_T1``/``DM_T2`` are
#: the diabetes diagnosis codes that also name the type, ``DM_ANY`` one that names none.
_CODE_MIX: dict[str, dict[str, float]] = {
    "HYP_COD": {"59621000": 0.8, "38341003": 0.1, "1201005": 0.05, "10725009": 0.05},
    "HYPRES_COD": {"162659009": 1.0},
    "DM_COD": {"44054006": 0.88, "46635009": 0.07, "73211009": 0.05},
    "DM_T1": {"46635009": 0.85, "313435000": 0.1, "*": 0.05},
    "DM_T2": {"44054006": 0.85, "313436004": 0.1, "*": 0.05},
    "DM_ANY": {"73211009": 1.0},
    "DMRES_COD": {"315051004": 1.0},
    "COPD_COD": {"13645005": 0.9, "185086009": 0.06, "195951007": 0.04},
    "COPDRES_COD": {"941201000000103": 1.0},
    "PALCARE_COD": {"103735009": 0.6, "1025611000000105": 0.15, "*": 0.25},
    "PALCARENI_COD": {"1048611000000104": 0.9, "*": 0.1},
    "SBP": {"271649006": 0.85, "72313002": 0.05, "407554009": 0.05, "413606001": 0.05},
    "DBP": {"271650006": 0.85, "1091811000000102": 0.05, "407555008": 0.05, "413605002": 0.05},
    "HBA1C": {"999791000000106": 0.7, "1003671000000109": 0.3},
    "COPD_REVIEW": {"393989003": 0.6, "401184000": 0.2, "401185004": 0.1, "*": 0.1},
    "CHOL": {"1005671000000105": 0.75, "1017161000000104": 0.1, "850981000000101": 0.1, "*": 0.05},
    "HDL": {"1005681000000107": 0.8, "1010581000000101": 0.15, "*": 0.05},
    "LDL": {"1022191000000100": 0.55, "1014501000000104": 0.35, "*": 0.1},
    "NONHDL": {"1006191000000106": 0.8, "1030411000000101": 0.2},
    "CHD_COD": {
        "53741008": 0.3,
        "22298006": 0.25,
        "194828000": 0.2,
        "414545008": 0.15,
        "398274000": 0.05,
        "*": 0.05,
    },
    "STRK_COD": {"230690007": 0.6, "422504002": 0.25, "432504007": 0.1, "*": 0.05},
    "TIA_COD": {"266257000": 0.9, "161511000": 0.05, "*": 0.05},
    "PAD_COD": {
        "400047006": 0.45,
        "840580004": 0.25,
        "399957001": 0.15,
        "63491006": 0.1,
        "*": 0.05,
    },
    "DMTYPE1_COD": {"46635009": 1.0},
    "DMTYPE2_COD": {"44054006": 1.0},
    "CARE_PLAN": {
        "1033761000000101": 0.25,
        "1095851000000100": 0.15,
        "1107891000000106": 0.15,
        "*": 0.45,
    },
}

#: ICD-10 causes of death (``code``: weight) by group, and each group's share of deaths by
#: age at death (under 1, 1-14, 15-44, 45-64, 65-74, 75-84, 85+), after ONS deaths registered
#: in England and Wales by leading cause (2022, rounded).
_DEATH_CAUSES: dict[str, dict[str, float]] = {
    "cancer": {
        "C34.9": 0.2,
        "C18.9": 0.08,
        "C50.9": 0.07,
        "C61": 0.07,
        "C25.9": 0.06,
        "C15.9": 0.05,
        "C16.9": 0.03,
        "C22.0": 0.03,
        "C67.9": 0.03,
        "C71.9": 0.03,
        "C85.9": 0.03,
        "C92.0": 0.03,
        "C20": 0.03,
        "C56": 0.02,
        "C80.9": 0.1,
        "C64": 0.03,
        "C90.0": 0.03,
        "C43.9": 0.02,
        "C53.9": 0.02,
    },
    "circulatory": {
        "I21.9": 0.2,
        "I25.1": 0.3,
        "I64": 0.1,
        "I63.9": 0.12,
        "I50.0": 0.1,
        "I48": 0.05,
        "I61.9": 0.06,
        "I71.3": 0.03,
        "I26.9": 0.04,
    },
    "respiratory": {"J44.9": 0.4, "J18.9": 0.35, "J84.1": 0.1, "J69.0": 0.1, "J45.9": 0.05},
    "dementia": {"F03": 0.6, "G30.9": 0.4},
    "external": {"X59": 0.2, "W19": 0.25, "X44": 0.2, "X70": 0.15, "V89.2": 0.2},
    "perinatal": {"P07.3": 0.4, "P22.0": 0.2, "Q24.9": 0.2, "Q89.9": 0.2},
    "other": {
        "K70.3": 0.12,
        "N18.5": 0.06,
        "E11.9": 0.06,
        "G20": 0.08,
        "R54": 0.1,
        "A41.9": 0.1,
        "K74.6": 0.06,
        "G12.2": 0.04,
        "U07.1": 0.08,
        "K55.0": 0.05,
        "N39.0": 0.05,
        "E86": 0.04,
        "G35": 0.03,
        "D46.9": 0.03,
        "K92.2": 0.1,
    },
}
_DEATH_CAUSE_AGES = [0, 1, 15, 45, 65, 75, 85]
_DEATH_CAUSE_SHARES: dict[str, list[float]] = {
    "cancer": [0.0, 0.15, 0.16, 0.46, 0.46, 0.3, 0.13],
    "circulatory": [0.02, 0.05, 0.1, 0.19, 0.21, 0.23, 0.24],
    "respiratory": [0.02, 0.08, 0.04, 0.08, 0.12, 0.14, 0.14],
    "dementia": [0.0, 0.0, 0.0, 0.01, 0.04, 0.12, 0.2],
    "external": [0.03, 0.25, 0.5, 0.1, 0.02, 0.015, 0.01],
    "perinatal": [0.75, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0],
    "other": [0.18, 0.37, 0.2, 0.16, 0.15, 0.185, 0.27],
}

#: Primary diagnoses (ICD-10) of admissions that are not chronic ACSCs.
_OTHER_DIAGNOSES: dict[str, dict[str, float]] = {
    "emergency": {
        "R07.4": 0.1,
        "R10.4": 0.1,
        "J18.9": 0.08,
        "N39.0": 0.08,
        "S72.0": 0.05,
        "R55": 0.05,
        "K80.2": 0.04,
        "A41.9": 0.05,
        "R06.0": 0.05,
        "L03.1": 0.05,
        "J22": 0.06,
        "S06.0": 0.03,
        "K35.8": 0.03,
        "R11": 0.04,
        "T78.4": 0.02,
        "O47.0": 0.03,
        "N17.9": 0.04,
        "K92.2": 0.03,
        "R51": 0.03,
    },
    "elective": {
        "Z51.1": 0.15,
        "H25.9": 0.1,
        "K40.9": 0.06,
        "M17.1": 0.07,
        "M16.1": 0.05,
        "K80.2": 0.06,
        "N40": 0.04,
        "C50.9": 0.04,
        "K63.5": 0.08,
        "D25.9": 0.03,
        "I83.9": 0.03,
        "K21.9": 0.05,
        "Z30.2": 0.02,
        "I25.1": 0.05,
        "C18.9": 0.03,
        "M51.1": 0.04,
        "H26.9": 0.05,
        "N20.0": 0.05,
    },
}
#: Chronic ACSC admissions (ICD-10, the commonest codes of each group of
#: ``reference.acsc_icd10``) and their shares among patients without COPD or diabetes on the
#: register. Codes not in the reference list are dropped when it is loaded.
_ACSC_GROUPS: dict[str, dict[str, float]] = {
    "Congestive heart failure": {"I50.0": 0.6, "I50.9": 0.25, "I11.0": 0.1, "I50.1": 0.05},
    "Atrial Fibrillation": {"I48.9": 0.4, "I48.0": 0.35, "I48.1": 0.15, "I48.2": 0.1},
    "Angina": {"I20.9": 0.5, "I20.0": 0.35, "I20.8": 0.15},
    "Asthma": {"J45.9": 0.7, "J46": 0.15, "J45.0": 0.15},
    "Chronic heart disease": {"I25.1": 0.6, "I25.9": 0.3, "I25.2": 0.1},
    "Epilepsy": {"G40.9": 0.6, "G41.9": 0.2, "G40.3": 0.2},
    "Dementia": {"F03": 0.5, "F01.9": 0.25, "F00.9": 0.25},
    "Hypertension": {"I10": 0.9, "I11.9": 0.1},
    "Iron deficiency anaemia": {"D50.9": 0.8, "D50.8": 0.2},
    "COPD (chronic)": {"J44.1": 0.45, "J44.0": 0.25, "J44.9": 0.25, "J43.9": 0.05},
    "Diabetes": {
        "E11.9": 0.3,
        "E11.6": 0.2,
        "E10.1": 0.15,
        "E11.8": 0.15,
        "E10.9": 0.1,
        "E11.0": 0.1,
    },
}
_ACSC_SHARES: dict[str, float] = {
    "Congestive heart failure": 0.24,
    "Atrial Fibrillation": 0.14,
    "Angina": 0.12,
    "Asthma": 0.12,
    "Chronic heart disease": 0.06,
    "Epilepsy": 0.08,
    "Dementia": 0.06,
    "Hypertension": 0.04,
    "Iron deficiency anaemia": 0.06,
    "COPD (chronic)": 0.06,
    "Diabetes": 0.02,
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
    lsoa_imdd: np.ndarray
    lsoa_age_cum: np.ndarray
    lsoa_eth_cum: np.ndarray
    la_letter_cum: np.ndarray  # (la*5 + broad) x 16
    letter_broad: np.ndarray
    snomed_by_letter: list[np.ndarray]
    codes: np.ndarray  # global code dictionary
    cluster_codes: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    cvd_target: dict[str, np.ndarray] = field(default_factory=dict)  # per practice, share
    statin_codes: tuple[np.ndarray, np.ndarray] = (np.zeros(0, object), np.zeros(0))
    icd10: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


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
    imd_d = reference.imd2025().set_index("lsoa21_code")["imd_decile"]
    imdd = imd_d.reindex(lk["lsoa21_code"]).fillna(5).astype(np.int64).to_numpy()
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

    codes, cluster_codes = _code_dictionary()

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
        lsoa_imdd=imdd,
        lsoa_age_cum=_cum_rows(age_mat),
        lsoa_eth_cum=_cum_rows(eth_wide.to_numpy()),
        la_letter_cum=_cum_rows(la_mat),
        letter_broad=letter_broad,
        snomed_by_letter=snomed_by_letter,
        codes=codes,
        cluster_codes=cluster_codes,
        cvd_target=_cvd_targets(prac["practice_code"]),
        statin_codes=_statin_codes(),
        icd10=_icd10_codes(),
    )


def _mix_cum(codes: list[str], mix: dict[str, float]) -> np.ndarray:
    rest = [c for c in codes if c not in mix]
    probs = np.array([mix.get(c, mix.get("*", 0.0) / max(len(rest), 1)) for c in codes])
    if probs.sum() == 0:
        probs = np.ones(len(codes))
    return np.cumsum(probs / probs.sum())


def _code_dictionary() -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Every cluster's codes in one dictionary, with each cluster's cumulative code mix.

    COPD review codes that are also diagnosis codes are left out, and the diabetes codes
    are split into those naming type 1, type 2 or no type (``DM_T1``, ``DM_T2``, ``DM_ANY``).
    """
    names = getattr(reference, "ALL_CLUSTERS", tuple(reference.CLUSTER_FILES))
    lists = {name: sorted(set(reference.codelist(name)["code"])) for name in names}
    copd = set(lists["COPD_COD"])
    lists["COPD_REVIEW"] = [c for c in lists["COPD_REVIEW"] if c not in copd]
    t1, t2 = set(lists.get("DMTYPE1_COD", [])), set(lists.get("DMTYPE2_COD", []))
    dm = [c for c in lists["DM_COD"] if c not in {"703136005", "703138006"}]  # in remission
    lists["DM_T1"] = [c for c in dm if c in t1] or dm
    lists["DM_T2"] = [c for c in dm if c in t2] or dm
    lists["DM_ANY"] = [c for c in dm if c not in t1 | t2] or dm
    all_codes: list[str] = []
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, cl in lists.items():
        if name not in _CODE_MIX:
            continue
        idx = np.arange(len(all_codes), len(all_codes) + len(cl))
        all_codes.extend(cl)
        out[name] = (idx, _mix_cum(cl, _CODE_MIX[name]))
    return np.array(all_codes, dtype=object), out


def _cvd_targets(practice_code: pd.Series) -> dict[str, np.ndarray]:
    """QOF 2023-24 CHD, stroke/TIA and PAD prevalence per practice (share of the list)."""
    qof = reference._qof_cvd().set_index("Practice.Code")
    out = {}
    for key in ("chd", "stia", "pad"):
        col = f"Prevalence_{PARAMS[key]['qof']}"
        prev = qof[col].reindex(practice_code.to_numpy()).astype("float64")
        sizes = qof[f"List.Size_{PARAMS[key]['qof']}"].reindex(practice_code.to_numpy())
        ok = prev.notna() & sizes.notna()
        overall = float((prev[ok] * sizes[ok]).sum() / sizes[ok].sum())
        out[key] = prev.fillna(overall).to_numpy() / 100.0
    return out


def _statin_codes() -> tuple[np.ndarray, np.ndarray]:
    """Lipid-lowering dm+d codes (generic tablet products) with the shares of their drugs."""
    drugs = PARAMS["statins"]["drugs"]
    llt = reference.drug_codelist("LLT")
    term = llt["term"].astype(str)
    tablets = term.str.fullmatch(r"[A-Z][a-z]+statin \d+mg (tablets|capsules)")
    llt = llt[tablets].sort_values("code")
    first = llt["term"].str.split(" ").str[0]
    n = first.map(first.value_counts())
    w = first.map(drugs).fillna(0.0) / n
    codes = llt["code"].to_numpy(dtype=object)
    return codes, np.cumsum(w.to_numpy() / w.sum())


def _icd10_codes() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """ICD-10 code mixes: causes of death by group, other diagnoses, chronic ACSC groups."""
    out = {}
    for group, mix in {**_DEATH_CAUSES, **_OTHER_DIAGNOSES}.items():
        codes = np.array(list(mix), dtype=object)
        w = np.array(list(mix.values()))
        out[group] = (codes, np.cumsum(w / w.sum()))
    listed = set(reference.acsc_icd10()["code"])
    for group, mix in _ACSC_GROUPS.items():
        keep = {
            c: w
            for c, w in mix.items()
            if (c.replace(".", "") + "X")[:4] in listed or c[:3] in listed
        }
        codes = np.array(list(keep), dtype=object)
        w = np.array(list(keep.values()))
        out[f"acsc:{group}"] = (codes, np.cumsum(w / w.sum()))
    return out


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
        "imdd": ref.lsoa_imdd[lsoa],
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
    death_a: float = 0.0
    cvd_alpha: dict[str, np.ndarray] = field(default_factory=dict)


def _hazard_parts(d: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Death hazard per year without its intercept: (Gompertz part, additive part)."""
    hz = PARAMS["death_hazard"]
    g = np.exp(hz["b"] * d["age"] + hz["male"] * (d["sex"] == "M") + hz["imd"] * (10 - d["imdd"]))
    extra = np.where(d["age"] < 1, hz["infant"], hz["background"])
    return g, extra


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
    cvd_alpha = {
        k: _solve_offset(_effects(d, PARAMS[k]), practice, ref.cvd_target[k])
        for k in ("chd", "stia", "pad")
    }
    # deaths per year: the list-weighted mean hazard hits the BSOL deaths per registered patient
    hz = PARAMS["death_hazard"]
    w = ref.list_size.to_numpy(dtype=np.float64)[practice]
    g, extra = _hazard_parts(d)
    rate = hz["deaths_per_year"] / hz["registered"]
    death_a = np.log((rate - np.average(extra, weights=w)) / np.average(g, weights=w))
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
    return _Calibration(
        hyp_alpha, float(dm), float(copd), float(pal), out, float(death_a), cvd_alpha
    )


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


def _pick(mix: tuple[np.ndarray, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` values from a (values, cumulative shares) mix."""
    vals, cum = mix
    return vals[np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(vals) - 1)]


def _uniform_days(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    span = np.maximum(hi - lo, 0)
    return lo + np.floor(rng.random(len(lo)) * (span + 1)).astype(np.int64)


def _recurring(
    who: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    rate: np.ndarray | float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Event dates at ``rate`` per year between ``lo`` and ``hi`` (inclusive) for ``who``.

    Returns (patient index, day) arrays.
    """
    ok = hi >= lo
    who, lo, hi = who[ok], lo[ok], hi[ok]
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), ok.shape)[ok]
    k = rng.poisson(rate * (hi - lo + 1) / _DAY)
    rep = np.repeat(np.arange(len(who)), k)
    return who[rep], _uniform_days(lo[rep], hi[rep], rng)


_NO_DATE = -(10**9)


@dataclass
class _Cohort:
    """One chunk's patients as arrays: registered ones first, then decedents and leavers.

    Dates are whole days since 1970-01-01; ``_NO_DATE`` marks a missing date.
    """

    d: dict[str, np.ndarray]  # practice, lsoa, age, sex, broad, letter, imdq, imdd
    registered: np.ndarray
    dead: np.ndarray
    left: np.ndarray
    dob: np.ndarray
    death: np.ndarray
    reg_start: np.ndarray
    reg_end: np.ndarray
    last: np.ndarray  # last day observed: end date, death or leaving
    obs: np.ndarray  # first day of the observed clinical history
    window_start: int  # first day of the clinical history (EVENT_YEARS before the end)
    end_day: int

    @property
    def n(self) -> int:
        return len(self.dob)

    @property
    def age(self) -> np.ndarray:
        return self.d["age"]

    def recent(self, years: float = RECENT_YEARS) -> np.ndarray:
        """First observed day of a history of ``years`` before the end date."""
        return np.maximum(self.reg_start, self.end_day - round(years * _DAY))


def _cohort(
    ref: _Ref, cal: _Calibration, practice: np.ndarray, rng: np.random.Generator, end_day: int
) -> _Cohort:
    """Registered patients plus people like them who died or left during the history.

    Registration lengths are exponential with the mean that balances joiners with leavers and
    deaths, so the list size is stationary; deaths follow the hazard (age, sex, IMD decile).
    """
    win = end_day - round(HISTORY_YEARS * _DAY)
    tmpl = _demographics(ref, practice, rng)
    n_t = len(practice)
    g, extra = _hazard_parts(tmpl)
    h = np.exp(cal.death_a) * g + extra
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
    years = rng.exponential(PARAMS["registration_years"], n)
    reg_start = np.maximum(
        anchor - np.floor(years * _DAY).astype(np.int64), dob + rng.integers(0, 43, n)
    )
    reg_start = np.maximum(np.minimum(reg_start, last - left), dob)
    ev_win = end_day - round(EVENT_YEARS * _DAY)
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
        obs=np.maximum(reg_start, ev_win),
        window_start=ev_win,
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
    dm_type1: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    cvd: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    cvd_diag: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _onset_day(c: _Cohort, spec: dict[str, Any], p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Day of onset for people with a condition, from the model's own age curve.

    Someone aged ``a`` with probability ``p(a)`` had the condition by age ``x`` with
    probability ``p(x) / p(a)`` (the curve made non-decreasing), so prevalence at every age
    is the same at every date: the registers are stationary.
    """
    ages = np.asarray(spec["ages"], dtype=np.float64)
    knots = np.maximum.accumulate(np.asarray(spec["logit"], dtype=np.float64))
    knots = knots + 1e-6 * np.arange(len(knots))
    pc = np.clip(p, 1e-9, 1 - 1e-9)
    const = np.log(pc / (1 - pc)) - np.interp(c.age, ages, knots)
    q = np.clip(u * pc, 1e-12, 1 - 1e-9)
    x = np.minimum(np.interp(np.log(q / (1 - q)) - const, knots, ages), c.age)
    day = c.dob + np.floor(x * _DAY).astype(np.int64)
    return np.minimum(np.maximum(day, c.dob), c.last)


def _registers(
    ref: _Ref, cal: _Calibration, c: _Cohort, rng: np.random.Generator, ev: _Events
) -> _Registers:
    """Who has hypertension, diabetes, COPD and CVD, with their diagnosis (and resolved) codes."""
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
    t1 = _dm_type1(c, rng)
    dm_clusters = _dm_diagnosis_clusters(dm, t1, rng)
    return _Registers(
        hyp,
        dm,
        copd,
        _diagnosis_events(ref, c, hyp, p_hyp, hp, ("HYP_COD", "HYPRES_COD"), 18, rng, ev),
        _diagnosis_events(ref, c, dm, p_dm, dp, (dm_clusters, "DMRES_COD"), 5, rng, ev, t1),
        _diagnosis_events(ref, c, copd, p_copd, cp, ("COPD_COD", "COPDRES_COD"), 35, rng, ev),
        t1 & dm,
        *_cvd_registers(ref, cal, c, rng, ev),
    )


def _dm_type1(c: _Cohort, rng: np.random.Generator) -> np.ndarray:
    """Whether a person with diabetes has type 1 (by age, commoner in White people)."""
    dp = PARAMS["dm"]
    p = np.interp(c.age, dp["type1_ages"], dp["type1_p"])
    odds = p / (1 - p) * np.where(c.d["broad"] == _BROAD5.index("White"), dp["type1_white"], 1)
    return rng.random(c.n) < odds / (1 + odds)


def _dm_diagnosis_clusters(dm: np.ndarray, t1: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The code cluster of each diabetes diagnosis: one naming the type, or a few none."""
    untyped = rng.random(len(dm)) < PARAMS["dm"]["untyped_share"]
    return np.where(untyped, "DM_ANY", np.where(t1, "DM_T1", "DM_T2")).astype(object)


def _cvd_registers(
    ref: _Ref, cal: _Calibration, c: _Cohort, rng: np.random.Generator, ev: _Events
) -> tuple[np.ndarray, np.ndarray]:
    """CHD, stroke/TIA and PAD (practice intercepts from QOF); returns (any CVD, first onset)."""
    d = c.d
    cvd = np.zeros(c.n, dtype=bool)
    first = np.full(c.n, np.iinfo(np.int64).max, dtype=np.int64)
    for key in ("chd", "stia", "pad"):
        spec = PARAMS[key]
        p = _sigmoid(
            cal.cvd_alpha[key][d["practice"]] + _effects(d, spec) + spec["decedent"] * c.dead
        )
        u = rng.random(c.n)
        has = u < p
        onset = _onset_day(c, spec, p, rng.random(c.n))
        onset = np.maximum(onset, c.dob + int(25 * _DAY))
        has &= onset <= c.last
        who = np.flatnonzero(has)
        if key == "stia":
            tia = rng.random(len(who)) < spec["tia_share"]
            ev.add(who[tia], onset[who[tia]], _codes(ref, "TIA_COD", int(tia.sum()), rng), None)
            ev.add(
                who[~tia], onset[who[~tia]], _codes(ref, "STRK_COD", int((~tia).sum()), rng), None
            )
        else:
            cl = "CHD_COD" if key == "chd" else "PAD_COD"
            ev.add(who, onset[who], _codes(ref, cl, len(who), rng), None)
        cvd |= has
        first = np.where(has, np.minimum(first, onset), first)
    return cvd, np.where(cvd, first, c.last)


def _diagnosis_events(
    ref: _Ref,
    c: _Cohort,
    flag: np.ndarray,
    p: np.ndarray,
    spec: dict[str, Any],
    clusters: tuple[Any, str],
    min_age: float,
    rng: np.random.Generator,
    ev: _Events,
    young_onset: np.ndarray | None = None,
) -> np.ndarray:
    """Diagnosis codes for a register, resolved histories and a few re-diagnoses.

    ``clusters`` is (diagnosis cluster, or an array of one per patient; resolved cluster).
    ``young_onset`` marks people whose onset is in childhood or youth (type 1 diabetes).
    Returns the diagnosis day of every patient (meaningful where ``flag``).
    """
    dx, res = clusters
    n, last, dob = c.n, c.last, c.dob
    diag = _onset_day(c, spec, p, rng.random(n))
    if young_onset is not None:
        young_age = np.minimum(rng.uniform(2, 35, n), c.age)
        diag = np.where(young_onset, dob + np.floor(young_age * _DAY).astype(np.int64), diag)
    diag = np.minimum(np.maximum(diag, np.minimum(dob + int(min_age * _DAY), last)), last)
    _add_coded(ref, ev, np.flatnonzero(flag), diag, dx, rng)
    # resolved: off the register, a diagnosis then a resolved code
    odds = p / np.maximum(1 - p, 0.05)
    resolved = ~flag & (rng.random(n) < spec["resolved_ratio"] * odds) & (diag < last)
    r_at = np.maximum(diag + np.floor(rng.uniform(0.2, 1.0, n) * (last - diag)), diag + 1)
    who = np.flatnonzero(resolved)
    _add_coded(ref, ev, who, diag, dx, rng)
    ev.add(who, r_at[who].astype(np.int64), _codes(ref, res, len(who), rng), None)
    # a few on the register were diagnosed, resolved and diagnosed again
    again = flag & (rng.random(n) < spec.get("rediagnosed_share", 0.01))
    first = np.maximum(
        diag - np.floor(rng.uniform(1, 5, n) * _DAY).astype(np.int64), dob + int(16 * _DAY)
    )
    mid = (first + diag) // 2
    who = np.flatnonzero(again & (mid > first) & (mid < diag))
    _add_coded(ref, ev, who, first, dx, rng)
    ev.add(who, mid[who], _codes(ref, res, len(who), rng), None)
    if young_onset is not None:  # a few type 1 later coded as type 2
        re = flag & young_onset & (rng.random(n) < PARAMS["dm"]["retyped_share"]) & (diag < last)
        who = np.flatnonzero(re)
        ev.add(
            who,
            _uniform_days(diag[who] + 1, last[who], rng),
            _codes(ref, "DM_T2", len(who), rng),
            None,
        )
    return diag


def _add_coded(
    ref: _Ref, ev: _Events, who: np.ndarray, day: np.ndarray, dx: Any, rng: np.random.Generator
) -> None:
    """Diagnosis codes for ``who`` on ``day[who]`` from one cluster or one per patient."""
    if isinstance(dx, str):
        ev.add(who, day[who], _codes(ref, dx, len(who), rng), None)
        return
    for name in ("DM_T1", "DM_T2", "DM_ANY"):
        w = who[dx[who] == name]
        ev.add(w, day[w], _codes(ref, name, len(w), rng), None)


def _reviews(c: _Cohort, r: _Registers, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Annual reviews of people on a long-term-condition register.

    One review a year at a personal phase, attended with a personal propensity, from the
    earliest diagnosis; the same every year, so the share reviewed in any 12 months is
    stationary. Returns (patient index, day) arrays.
    """
    rp = PARAMS["review"]
    onset = np.full(c.n, np.iinfo(np.int64).max // 2, dtype=np.int64)
    for flag, diag in (
        (r.hyp, r.hyp_diag),
        (r.dm, r.dm_diag),
        (r.copd, r.copd_diag),
        (r.cvd, r.cvd_diag),
    ):
        onset = np.where(flag, np.minimum(onset, diag), onset)
    w = np.flatnonzero(r.hyp | r.dm | r.copd | r.cvd)
    logit = np.log(rp["attend"] / (1 - rp["attend"])) + rng.normal(0, rp["sd"], len(w))
    prop = _sigmoid(logit)
    phase = rng.integers(0, 365, len(w))
    rounds = READING_YEARS + 1
    t = c.end_day - phase[:, None] - 365 * np.arange(rounds)[None, :]
    lo = np.maximum(c.recent(READING_YEARS)[w], onset[w])
    ok = (t >= lo[:, None]) & (t <= c.last[w][:, None])
    ok &= rng.random(t.shape) < prop[:, None]
    return np.broadcast_to(w[:, None], t.shape)[ok], t[ok]


def _bp_events(
    ref: _Ref,
    c: _Cohort,
    r: _Registers,
    review: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    ev: _Events,
) -> None:
    """Systolic and diastolic readings: at reviews (HYP, DM, CVD), otherwise now and then."""
    bp = PARAMS["bp"]
    age, n = c.age, c.n
    care = r.hyp | r.dm | r.cvd
    rate = np.where(
        care,
        bp["register_rate"],
        np.where(age >= 45, bp["other_rate_45"], np.where(age >= 18, bp["other_rate_18"], 0.0)),
    )
    lo = np.where(care | (age < 45), c.recent(READING_YEARS), c.obs)
    w1, d1 = _recurring(np.arange(n), lo, c.last, rate, rng)
    rw, rd = review
    keep = care[rw]
    who, day = np.concatenate([w1, rw[keep]]), np.concatenate([d1, rd[keep]])
    # usual systolic: better controlled with age, worse with deprivation
    mu = np.where(
        r.hyp,
        bp["hyp_mean"]
        + bp["hyp_age"] * (age - 60)
        + bp["hyp_imd"] * (5 - c.d["imdq"])
        + rng.normal(0, bp["hyp_sd"], n),
        bp["other_mean"]
        + bp["other_age"] * np.maximum(age - 30, 0)
        + rng.normal(0, bp["other_sd"], n),
    )
    mu = mu + bp["dm_sbp"] * r.dm
    sbp = np.clip(np.round(mu[who] + rng.normal(0, bp["reading_sd"], len(who))), 75, 260)
    dbp = np.round(
        bp["dbp_slope"] * sbp
        + bp["dbp_intercept"]
        + bp["dm_dbp"] * r.dm[who]
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
    ref: _Ref,
    c: _Cohort,
    r: _Registers,
    review: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    ev: _Events,
) -> None:
    """HbA1c (mmol/mol): diabetics at reviews and between, a few tests in others aged 40+."""
    hb = PARAMS["hba1c"]
    dm, age, n = r.dm, c.age, c.n
    rate = np.where(dm, hb["dm_rate"], np.where(age >= 40, hb["other_rate_40"], 0.0))
    recent = c.recent(READING_YEARS)
    lo = np.where(dm, np.maximum(recent, r.dm_diag), recent)
    w1, d1 = _recurring(np.arange(n), lo, c.last, rate, rng)
    rw, rd = review
    keep = dm[rw] & (rd >= r.dm_diag[rw]) & (rng.random(len(rw)) < hb["at_review"])
    who, day = np.concatenate([w1, rw[keep]]), np.concatenate([d1, rd[keep]])
    mean = np.where(r.dm_type1, hb["type1_mean"], hb["dm_mean"])
    mu = np.where(
        dm,
        mean
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
    ref: _Ref,
    c: _Cohort,
    r: _Registers,
    review: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
    ev: _Events,
) -> None:
    """COPD reviews: at most annual reviews of the COPD register, and a few in between."""
    cr = PARAMS["copd_review"]
    lo = np.maximum(c.recent(READING_YEARS), r.copd_diag)
    w = np.flatnonzero(r.copd)
    w1, d1 = _recurring(w, lo[w], c.last[w], cr["rate"], rng)
    rw, rd = review
    keep = r.copd[rw] & (rd >= r.copd_diag[rw]) & (rng.random(len(rw)) < cr["at_review"])
    who, day = np.concatenate([w1, rw[keep]]), np.concatenate([d1, rd[keep]])
    ev.add(who, day, _codes(ref, "COPD_REVIEW", len(who), rng), None)


def _palliative_events(
    ref: _Ref,
    cal: _Calibration,
    c: _Cohort,
    r: _Registers,
    rng: np.random.Generator,
    ev: _Events,
) -> tuple[np.ndarray, np.ndarray]:
    """Palliative care codes and a few "not indicated".

    Time on the register before death is a mixture of weeks and years; living patients' codes
    are dated back by the time they have been on it (the same mixture, length-biased), so the
    register's size is stationary. Returns (who has a palliative care code, its day).
    """
    pp = PARAMS["palliative"]
    n, dead, last = c.n, c.dead, c.last
    p_pal = _sigmoid(cal.pal + pp["age"] * c.age + pp["copd"] * r.copd)
    p_pal = np.where(dead, pp["decedent_share"] * (1 + 0.3 * r.copd), p_pal)
    pal = rng.random(n) < p_pal
    short_mean = pp["short_days"]
    long_mean = pp["long_years"] * _DAY
    short_w = pp["short_share"] * short_mean
    long_w = (1 - pp["short_share"]) * long_mean
    p_short = np.where(dead, pp["short_share"], short_w / (short_w + long_w))
    before = np.where(
        rng.random(n) < p_short, rng.exponential(short_mean, n), rng.exponential(long_mean, n)
    )
    before = np.floor(before).astype(np.int64) + dead
    pal_day = np.maximum(last - before, c.dob)
    pal &= pal_day < np.where(dead, c.death, c.end_day + 1)
    who = np.flatnonzero(pal)
    ev.add(who, pal_day[who], _codes(ref, "PALCARE_COD", len(who), rng), None)
    ni = pal & ~dead & (rng.random(n) < pp["not_indicated_share"]) & (pal_day < last)
    ni_day = _uniform_days(pal_day + 1, last, rng)
    who = np.flatnonzero(ni)
    ev.add(who, ni_day[who], _codes(ref, "PALCARENI_COD", len(who), rng), None)
    return pal, pal_day


def _care_plan_events(
    ref: _Ref,
    c: _Cohort,
    pal: np.ndarray,
    pal_day: np.ndarray,
    rng: np.random.Generator,
    ev: _Events,
) -> None:
    """Advance and end-of-life care plans.

    Most decedents on the palliative register have one, some other decedents, and half of
    the living palliative register.
    """
    cp = PARAMS["care_plan"]
    n = c.n
    p = np.where(c.dead, np.where(pal, cp["palliative"], cp["other"]), cp["living_pal"] * pal)
    has = rng.random(n) < p
    before = 1 + np.floor(rng.exponential(cp["days_before"], n)).astype(np.int64)
    day = np.where(c.dead, c.death - before, _uniform_days(pal_day, c.last, rng))
    day = np.where(c.dead & pal, np.maximum(day, pal_day), day)
    has &= (day >= c.dob) & (day <= c.last) & (~c.dead | (day < c.death))
    who = np.flatnonzero(has)
    ev.add(who, day[who], _codes(ref, "CARE_PLAN", len(who), rng), None)


def _statins(
    c: _Cohort, r: _Registers, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who takes lipid-lowering therapy, from when and until when (days)."""
    sp = PARAMS["statins"]
    age = c.age
    p = np.where(age >= 60, sp["other_60"], np.where(age >= 40, sp["other_40"], 0.0))
    p = np.where(r.hyp & (age >= 40), sp["hyp_40"], p)
    p = np.where(r.dm & (age >= 40), np.where(r.dm_type1, sp["dm_type1_40"], sp["dm_type2_40"]), p)
    p = np.where(r.cvd & (age >= 18), sp["cvd"], p)
    on = rng.random(c.n) < p
    age40 = c.dob + int(40 * _DAY)
    start = c.last - np.floor(rng.exponential(8.0, c.n) * _DAY).astype(np.int64)
    start = np.maximum(start, age40)
    # on a register: started a while (exponential, mean 1.5 years) after diagnosis or 40, so
    # the share treated at each date is stationary
    delay = np.floor(rng.exponential(1.5, c.n) * _DAY).astype(np.int64)
    start = np.where(r.hyp & (age >= 40), np.maximum(r.hyp_diag, age40) + delay, start)
    start = np.where(r.dm & (age >= 40), np.maximum(r.dm_diag, age40) + delay, start)
    cvd_start = r.cvd_diag + rng.integers(0, 61, c.n)
    start = np.where(r.cvd, cvd_start, start)
    stop = start + np.floor(rng.exponential(sp["stop_years"], c.n) * _DAY).astype(np.int64)
    on &= start <= c.last
    return on, start, np.minimum(stop, c.last)


def _medications(
    ref: _Ref,
    c: _Cohort,
    on: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Repeat issues of one statin product per patient. Returns [patient, day, code index]."""
    sp = PARAMS["statins"]
    w = np.flatnonzero(on)
    ivl_vals = np.array(list(sp["intervals"]), dtype=np.int64)
    ivl_p = np.cumsum(list(sp["intervals"].values()))
    ivl = ivl_vals[np.minimum(np.searchsorted(ivl_p, rng.random(len(w))), len(ivl_vals) - 1)]
    lo = np.maximum(start[w], c.recent(MEDICATION_YEARS)[w])
    hi = stop[w]
    # issues at start + k * interval, those from lo to hi
    k0 = np.maximum(np.ceil((lo - start[w]) / ivl), 0).astype(np.int64)
    k1 = np.floor((hi - start[w]) / ivl).astype(np.int64)
    k = np.maximum(k1 - k0 + 1, 0)
    rep = np.repeat(np.arange(len(w)), k)
    offs = np.arange(len(rep)) - np.repeat(np.cumsum(k) - k, k)
    day = start[w][rep] + (k0[rep] + offs) * ivl[rep] + rng.integers(-3, 4, len(rep))
    day = np.minimum(np.maximum(day, lo[rep]), hi[rep])
    keep = rng.random(len(rep)) >= sp["missed_issue"]
    product = np.searchsorted(ref.statin_codes[1], rng.random(len(w)), side="right")
    product = np.minimum(product, len(ref.statin_codes[0]) - 1)
    return [w[rep][keep], day[keep], product[rep][keep]]


def _cholesterol_events(
    ref: _Ref,
    c: _Cohort,
    r: _Registers,
    review: tuple[np.ndarray, np.ndarray],
    statin: tuple[np.ndarray, np.ndarray, np.ndarray],
    rng: np.random.Generator,
    ev: _Events,
) -> None:
    """Lipid tests: total and HDL always, LDL and a non-HDL code on some reports.

    Values (mmol/L) by age, sex, deprivation, diabetes and ethnicity; a statin lowers non-HDL
    cholesterol by a personal fraction from its start date.
    """
    cp = PARAMS["cholesterol"]
    n, age, d = c.n, c.age, c.d
    rw, rd = review
    at = np.where(
        r.dm[rw] | r.cvd[rw], cp["at_review_dm_cvd"], np.where(r.hyp[rw], cp["at_review_hyp"], 0.0)
    )
    keep = rng.random(len(rw)) < at
    w1, d1 = _recurring(
        np.arange(n),
        c.recent(READING_YEARS),
        c.last,
        np.where(age >= 40, cp["other_rate_40"], 0.0),
        rng,
    )
    who, day = np.concatenate([rw[keep], w1]), np.concatenate([rd[keep], d1])
    male = d["sex"] == "M"
    base = (
        cp["nonhdl_mean"]
        + cp["nonhdl_age"] * (np.clip(age, 30, 60) - 30)
        + cp["nonhdl_male"] * male
        + cp["nonhdl_imd"] * (5 - d["imdq"])
        + rng.normal(0, cp["nonhdl_sd"], n)
    )
    hdl_mu = np.where(male, cp["hdl_male"], cp["hdl_female"]) + cp["hdl_dm"] * r.dm
    hdl_mu = hdl_mu + cp["hdl_asian"] * (d["broad"] == 0) + rng.normal(0, cp["hdl_sd"], n)
    drop = np.clip(rng.normal(cp["statin_drop"], cp["statin_drop_sd"], n), 0.05, 0.7)
    on, start, stop = statin
    treated = on[who] & (day >= start[who]) & (day <= stop[who] + 60)
    m = len(who)
    nonhdl = np.maximum(base[who] + rng.normal(0, cp["reading_sd"], m), 1.0)
    nonhdl = np.where(treated, nonhdl * (1 - drop[who]), nonhdl)
    hdl = np.round(np.clip(hdl_mu[who] + rng.normal(0, 0.08, m), 0.4, 3.5), 1)
    total = np.round(nonhdl + hdl, 1)
    remnant = np.clip(
        cp["remnant"] + cp["remnant_dm"] * r.dm[who] + rng.normal(0, 0.2, m), 0.2, 2.0
    )
    ldl = np.round(np.maximum(total - hdl - remnant, 0.3), 1)
    ev.add(who, day, _codes(ref, "CHOL", m, rng), total)
    ev.add(who, day, _codes(ref, "HDL", m, rng), hdl)
    has_ldl = rng.random(m) < cp["ldl_share"]
    ev.add(who[has_ldl], day[has_ldl], _codes(ref, "LDL", int(has_ldl.sum()), rng), ldl[has_ldl])
    has_nh = rng.random(m) < cp["nonhdl_share"]
    ev.add(
        who[has_nh],
        day[has_nh],
        _codes(ref, "NONHDL", int(has_nh.sum()), rng),
        np.round(total[has_nh] - hdl[has_nh], 1),
    )


def _place_of_death(c: _Cohort, rng: np.random.Generator) -> np.ndarray:
    """Index into ``_PLACES`` by age band at death (drawn for everyone, used for decedents)."""
    spec = PARAMS["place_of_death"]
    band = np.searchsorted(np.array(spec["ages"]), c.age, side="right") - 1
    return _draw(_cum_rows(np.array(spec["p"])), len(_PLACES), band, rng.random(c.n))


def _causes_of_death(
    ref: _Ref, c: _Cohort, r: _Registers, pal: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """ICD-10 underlying cause for every decedent (None for the living).

    The group by age at death (ONS shares); cancer is likelier on the palliative register,
    COPD deaths among the COPD register.
    """
    groups = list(_DEATH_CAUSE_SHARES)
    band = np.searchsorted(np.array(_DEATH_CAUSE_AGES), c.age, side="right") - 1
    w = np.array([_DEATH_CAUSE_SHARES[g] for g in groups]).T[band]  # n x groups
    w[:, groups.index("cancer")] *= np.where(pal, 1.7, 0.55)
    w[:, groups.index("respiratory")] *= np.where(r.copd, 2.5, 1.0)
    w[:, groups.index("circulatory")] *= np.where(r.cvd, 1.6, 1.0)
    g = _draw(_cum_rows(w), len(groups), np.arange(c.n), rng.random(c.n))
    out = np.full(c.n, None, dtype=object)
    for gi, name in enumerate(groups):
        m = c.dead & (g == gi)
        out[m] = _pick(ref.icd10[name], int(m.sum()), rng)
    return out


def _admission_diagnoses(
    ref: _Ref,
    c: _Cohort,
    r: _Registers,
    pid: np.ndarray,
    method: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """ICD-10 primary diagnosis of each admission; some emergencies are chronic ACSCs."""
    ap = PARAMS["admissions"]
    age = c.age[pid]
    p = ap["acsc_base"] + ap["acsc_age"] * np.maximum(age - 40, 0)
    p = p + ap["acsc_copd"] * r.copd[pid] + ap["acsc_dm"] * r.dm[pid]
    p = p + ap["acsc_cvd"] * r.cvd[pid] + ap["acsc_hyp"] * r.hyp[pid]
    acsc = (method == 0) & (rng.random(len(pid)) < np.minimum(p, 0.6))
    groups = list(_ACSC_SHARES)
    w = np.tile(np.array([_ACSC_SHARES[g] for g in groups]), (len(pid), 1))
    w[:, groups.index("COPD (chronic)")] += 2.0 * r.copd[pid]
    w[:, groups.index("Diabetes")] += 0.3 * r.dm[pid]
    w[:, groups.index("Angina")] += 0.3 * r.cvd[pid]
    w[:, groups.index("Asthma")] *= np.where(age < 50, 3.0, 1.0)
    w[:, groups.index("Dementia")] *= np.where(age >= 75, 3.0, 0.05)
    g = _draw(_cum_rows(w), len(groups), np.arange(len(pid)), rng.random(len(pid)))
    out = np.empty(len(pid), dtype=object)
    for gi, name in enumerate(groups):
        m = acsc & (g == gi)
        out[m] = _pick(ref.icd10[f"acsc:{name}"], int(m.sum()), rng)
    for mi, name in enumerate(("emergency", "elective")):
        m = ~acsc & (method == mi)
        out[m] = _pick(ref.icd10[name], int(m.sum()), rng)
    out[rng.random(len(pid)) < ap["diagnosis_missing"]] = None
    return out


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
        * (1 + (ap["cvd"] - 1) * r.cvd)
        * np.exp(ap["imd"] * (5 - c.d["imdq"]))
    )
    em_rate = ap["emergency"] * np.exp(ap["emergency_age"] * (age - 40)) * mult
    el_rate = ap["elective"] * np.exp(ap["elective_age"] * (age - 40))
    pidx = np.arange(c.n)
    lo = c.recent()
    aw, ad = _recurring(pidx, lo, c.last, em_rate, rng)
    ew, ed = _recurring(pidx, lo, c.last, el_rate, rng)
    dw = np.flatnonzero(c.dead)
    k = rng.poisson(ap["last_90_days"] * (1 + 0.5 * r.copd[dw]) * np.where(pal[dw], 0.7, 1.0))
    lw = np.repeat(dw, k)
    ld = np.maximum(c.death[lw] - rng.integers(0, 90, len(lw)), c.dob[lw])
    method = np.concatenate([np.zeros(len(aw) + len(lw), np.int8), np.ones(len(ew), np.int8)])
    return [np.concatenate([aw, lw, ew]), np.concatenate([ad, ld, ed]), method]


def _ed_attendances(c: _Cohort, r: _Registers, rng: np.random.Generator) -> list[np.ndarray]:
    """ED attendances: a background rate by age and deprivation, rising towards death.

    Returns [patient index, day].
    """
    ep = PARAMS["ed"]
    rate = ep["rate"] * np.interp(c.age, ep["ages"], ep["mult"])
    rate = rate * np.exp(ep["imd"] * (5 - c.d["imdq"])) * np.where(r.copd, ep["copd"], 1.0)
    bw, bd = _recurring(np.arange(c.n), c.recent(), c.last, rate, rng)
    dw = np.flatnonzero(c.dead)
    shape = ep["last_days_shape"]
    lam = rng.gamma(shape, ep["last_days_mean"] / shape, len(dw))
    k = rng.poisson(lam)
    lw = np.repeat(dw, k)
    before = np.floor(rng.exponential(ep["last_days_scale"], len(lw))).astype(np.int64)
    ld = c.death[lw] - np.minimum(before, 364)
    ok = ld >= c.reg_start[lw]
    return [np.concatenate([bw, lw[ok]]), np.concatenate([bd, ld[ok]])]


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
        el &= (age >= lo_age - 0.5) & (age < hi_age + EVENT_YEARS + 1)
        if prog == "cervical_25":
            el &= age < 50 + EVENT_YEARS
        elif prog == "cervical_50":
            el &= age >= 50
        w = np.flatnonzero(el)
        prop = _sigmoid(cal.screening[prog] + z[w])
        ivl = int(interval * _DAY)
        phase = rng.integers(0, ivl, len(w))
        rounds = int(np.ceil(EVENT_YEARS / interval)) + 1
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


@dataclass
class _ChunkData:
    """Everything drawn for one chunk, before it is laid out as tables."""

    c: _Cohort
    ev: _Events
    place: np.ndarray
    cause: np.ndarray
    scr: list[np.ndarray]
    adm: list[np.ndarray]
    diagnosis: np.ndarray
    meds: list[np.ndarray]
    ed: list[np.ndarray]


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
    c = _cohort(ref, cal, practice, rng, end_day)
    ev = _Events()
    r = _registers(ref, cal, c, rng, ev)
    review = _reviews(c, r, rng)
    _bp_events(ref, c, r, review, rng, ev)
    _hba1c_events(ref, c, r, review, rng, ev)
    _copd_review_events(ref, c, r, review, rng, ev)
    statin = _statins(c, r, rng)
    _cholesterol_events(ref, c, r, review, statin, rng, ev)
    pal, pal_day = _palliative_events(ref, cal, c, r, rng, ev)
    _care_plan_events(ref, c, pal, pal_day, rng, ev)
    adm = _admissions(c, r, pal, rng)
    data = _ChunkData(
        c=c,
        ev=ev,
        place=_place_of_death(c, rng),
        cause=_causes_of_death(ref, c, r, pal, rng),
        scr=_screening(cal, c, rng),
        adm=adm,
        diagnosis=_admission_diagnoses(ref, c, r, adm[0], adm[2], rng),
        meds=_medications(ref, c, *statin, rng),
        ed=_ed_attendances(c, r, rng),
    )
    return _tables(ref, data, id_base, seed, rng, clean, csv)


def _tables(
    ref: _Ref,
    data: _ChunkData,
    id_base: int,
    seed: int,
    rng: np.random.Generator,
    clean: bool,
    csv: bool,
) -> dict[str, pa.Table]:
    """The contract tables of a chunk, messy unless ``clean``."""
    c = data.c
    perm = rng.permutation(c.n)  # patient row order
    rank = perm.argsort()
    ids = patient_ids(id_base + np.arange(c.n), seed)
    cols = {
        "patients": _patient_columns(ref, data, ids, perm, rng, clean),
        "clinical_events": _event_columns(ref, data, ids, rank, id_base, seed, rng, clean),
        **_activity_columns(ref, data, ids, rank, rng, clean),
    }
    tables = {name: pa.table(cols[name], schema=_SCHEMAS[name]) for name in TABLES}
    if csv and not clean:
        for k in TABLES:  # one table at a time, so each original is freed as it goes
            tables[k] = _messy_dates(k, tables[k], rng, PARAMS["mess"])
    return tables


def _patient_columns(
    ref: _Ref,
    data: _ChunkData,
    ids: pa.Array,
    perm: np.ndarray,
    rng: np.random.Generator,
    clean: bool,
) -> dict[str, pa.Array]:
    c = data.c
    n, d, dead, death = c.n, c.d, c.dead, c.death
    mess = PARAMS["mess"]
    sex_out = d["sex"].copy()
    place_out = np.array(_PLACES, dtype=object)[data.place]
    eth_code = _ethnicity_codes(ref, d["letter"], n, rng, clean)
    lsoa_out = ref.lsoa_code[d["lsoa"]].copy()
    cause = data.cause
    if not clean:
        sex_out = _variants(sex_out, _SEX_VARIANTS, mess["sex_variants"], rng)
        place_out = _variants(
            place_out, dict(zip(_PLACES, _PLACE_VARIANTS, strict=True)), mess["place_variants"], rng
        )
        m11 = rng.random(n) < mess["lsoa_2011"]
        lsoa_out[m11] = ref.lsoa11_code[d["lsoa"][m11]]
        lsoa_out[rng.random(n) < mess["lsoa_missing"]] = None
        cause = _messy_icd10(cause, rng)
    place_out[~dead] = None
    has_end = c.reg_end != _NO_DATE
    return {
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
        "underlying_cause_of_death": pa.array(cause[perm], pa.string()),
    }


def _event_columns(
    ref: _Ref,
    data: _ChunkData,
    ids: pa.Array,
    rank: np.ndarray,
    id_base: int,
    seed: int,
    rng: np.random.Generator,
    clean: bool,
) -> dict[str, pa.Array]:
    """Events grouped by patient (in row order) and date, messy unless ``clean``."""
    c = data.c
    n = c.n
    e_pid, e_day, e_code, e_val = data.ev.arrays()
    data.ev.parts.clear()  # free the pieces: the events are the largest table
    if not clean:
        e_pid, e_day, e_code, e_val = _messy_events(
            ref, e_pid, e_day, e_code, e_val, c.dead, c.death, c.end_day, rng, PARAMS["mess"]
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
    return {
        "patient_id": pa.concat_arrays([ids.take(pa.array(e_pid[~orphan])), ghost]),
        "event_date": _dates(e_day, None),
        "snomed_code": pa.array(ref.codes, pa.string()).take(pa.array(e_code)),
        "numeric_value": pa.array(e_val, pa.float64(), from_pandas=True),
    }


def _activity_columns(
    ref: _Ref,
    data: _ChunkData,
    ids: pa.Array,
    rank: np.ndarray,
    rng: np.random.Generator,
    clean: bool,
) -> dict[str, dict[str, pa.Array]]:
    """Screening, admissions, medications and ED attendances, grouped by patient and date."""
    mess = PARAMS["mess"]
    c = data.c
    scr_cols, adm_cols = data.scr, [*data.adm, np.arange(len(data.adm[0]))]
    med_cols, ed_cols = data.meds, data.ed
    diagnosis = data.diagnosis
    if not clean:
        scr_cols = _duplicate(scr_cols, mess["duplicate_other"], rng)
        adm_cols = _duplicate(adm_cols, mess["duplicate_other"], rng)
        med_cols = _after_death(_duplicate(med_cols, mess["duplicate_other"], rng), c, rng)
        ed_cols = _after_death(_duplicate(ed_cols, mess["duplicate_other"], rng), c, rng)
        diagnosis = _messy_icd10(diagnosis, rng)
    o = np.lexsort((scr_cols[2], scr_cols[1], rank[scr_cols[0]]))
    scr_cols = [col[o] for col in scr_cols]
    o = np.lexsort((adm_cols[3], adm_cols[2], adm_cols[1], rank[adm_cols[0]]))
    adm_cols = [col[o] for col in adm_cols]
    o = np.lexsort((med_cols[2], med_cols[1], rank[med_cols[0]]))
    med_cols = [col[o] for col in med_cols]
    o = np.lexsort((ed_cols[1], rank[ed_cols[0]]))
    ed_cols = [col[o] for col in ed_cols]
    dmd = ref.statin_codes[0][med_cols[2]]
    if not clean:  # a few codes cut short in transfer: unknown to dm+d
        cut = rng.random(len(dmd)) < mess["dmd_unknown"]
        dmd[cut] = np.array([s[:-2] for s in dmd[cut]], dtype=object)
    progs = np.array(["breast", "cervical", "bowel"], dtype=object)
    return {
        "screening": {
            "patient_id": ids.take(pa.array(scr_cols[0])),
            "programme": pa.array(progs[scr_cols[2]], pa.string()),
            "test_date": _dates(scr_cols[1], None),
            "outcome": pa.array(
                np.array(["adequate", "inadequate"], dtype=object)[scr_cols[3]], pa.string()
            ),
        },
        "admissions": {
            "patient_id": ids.take(pa.array(adm_cols[0])),
            "admission_date": _dates(adm_cols[1], None),
            "admission_method": pa.array(
                np.array(["emergency", "elective"], dtype=object)[adm_cols[2]], pa.string()
            ),
            "primary_diagnosis": pa.array(diagnosis[adm_cols[3]], pa.string()),
        },
        "medications": {
            "patient_id": ids.take(pa.array(med_cols[0])),
            "issue_date": _dates(med_cols[1], None),
            "dmd_code": pa.array(dmd, pa.string()),
        },
        "ed_attendances": {
            "patient_id": ids.take(pa.array(ed_cols[0])),
            "attendance_date": _dates(ed_cols[1], None),
        },
    }


def _after_death(cols: list[np.ndarray], c: _Cohort, rng: np.random.Generator) -> list[np.ndarray]:
    """Add a few rows dated after death (late-entered records) to a patient-day table."""
    pid, day = cols[0], cols[1]
    d_rows = np.flatnonzero(c.dead[pid])
    pick = d_rows[rng.random(len(d_rows)) < PARAMS["mess"]["after_death_other"]]
    late = np.minimum(c.death[pid[pick]] + rng.integers(1, 60, len(pick)), c.end_day)
    keep = late > c.death[pid[pick]]
    pick, late = pick[keep], late[keep]
    out = [np.concatenate([col, col[pick]]) for col in cols]
    out[1][len(day) :] = late
    return out


def _messy_icd10(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ICD-10 codes written without the dot or cut to 3 characters; a few mistyped."""
    mess = PARAMS["mess"]
    out = codes.copy()
    has = np.array([v is not None for v in out], dtype=bool)
    u = rng.random(len(out))
    nodot = has & (u < mess["icd10_no_dot"])
    three = has & (u >= mess["icd10_no_dot"]) & (u < mess["icd10_no_dot"] + mess["icd10_three"])
    out[nodot] = np.array([s.replace(".", "") for s in out[nodot]], dtype=object)
    out[three] = np.array([s[:3] for s in out[three]], dtype=object)
    bad = has & (rng.random(len(out)) < mess["icd10_unknown"])  # letter O for zero: unknown
    out[bad] = np.array(
        [s[0] + s[1:].replace("0", "O").replace("1", "I") for s in out[bad]], dtype=object
    )
    return out


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
    lipid = set()
    for name in ("CHOL", "HDL", "LDL", "NONHDL"):
        lipid |= set(ref.cluster_codes[name][0].tolist())
    is_lipid = np.isin(code, list(lipid))
    bad = is_lipid & (rng.random(len(code)) < mess["implausible_chol"])
    val[bad] = np.array([0.0, 55.0, 99.9, 0.0])[rng.integers(0, 4, bad.sum())]
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
    "medications": ("issue_date",),
    "ed_attendances": ("attendance_date",),
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
        # DD/MM/YYYY from the ISO text (string kernels: much faster than strftime)
        day_first = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(iso, 8, 10),
            pc.utf8_slice_codeunits(iso, 5, 7),
            pc.utf8_slice_codeunits(iso, 0, 4),
            "/",
        )
        out = pc.if_else(dmy, day_first, iso)
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
                self.writers[name].write_table(t, max_chunksize=200_000)
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
        >>> sorted(p.stem for p in res.out.glob("*.csv")) == sorted(TABLES)
        True
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
            "synthetic": True,
            "description": SYNTHETIC_NOTICE,
            "generator": "bsol_analytics.synth",
            "contract_version": CONTRACT_VERSION,
            "history_years": HISTORY_YEARS,
            "event_years": EVENT_YEARS,
            "recent_years": RECENT_YEARS,
            "reading_years": READING_YEARS,
            "medication_years": MEDICATION_YEARS,
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
        The extract folder; its temporary folder is removed when the process exits (a
        caller may remove it sooner).

    Examples:
        >>> sorted(p.stem for p in sample_extract().glob("*.csv"))[:3]
        ['admissions', 'clinical_events', 'ed_attendances']
    """
    import atexit
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="bsol-sample-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    try:
        return generate(root / "extract", patients=patients, seed=seed, fmt=fmt).out
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
