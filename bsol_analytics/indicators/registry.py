"""The indicator registry: one place for every indicator's metadata.

Reports, docs and the breakdowns read titles, plain-English definitions, polarity, source
rules, caveats and England comparators from here. England comparator values are computed
from the reference files in ``data/raw/`` (never typed in), with their source and year; an
indicator without a sourced comparator has ``england_value = None`` ("not available").

Examples:
    >>> get_indicator("HYP_PREV").polarity
    'no judgement'
    >>> [i.id for i in list_indicators(family="copd")]
    ['COPD_PREV', 'COPD_REVIEW']
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from bsol_analytics import paths
from bsol_analytics.errors import BsolError, ParameterError
from bsol_analytics.indicators.base import AGE_BANDS
from bsol_analytics.vocabulary import CONDITION_INDICATORS

Polarity = Literal["higher is better", "lower is better", "no judgement"]

HIGHER: Polarity = "higher is better"
LOWER: Polarity = "lower is better"
NONE: Polarity = "no judgement"

_SIMPLIFIED = (
    "Simplified from the QOF business rules: no personalised care adjustments (exceptions) "
    "are applied, so values run lower than published QOF achievement."
)
_SCREENING = (
    "Simplified from the Fingertips definition: no screening cessations or exclusions, "
    "and registered rather than eligible population."
)
_EOL = (
    "Counts deaths of registered patients recorded in the GP extract in the 12 months to "
    "the reporting date; small numbers for practices and PCNs."
)
_BLANK_PLACE = (
    " Deaths with a blank (unrecorded) place of death stay in the denominator and count as "
    "neither home, care home nor hospital, so many blanks lower both shares."
)


@dataclass(frozen=True)
class IndicatorInfo:
    """Metadata for one indicator (see the module docstring)."""

    id: str
    family: str
    title: str
    short_title: str
    definition: str
    numerator: str
    denominator: str
    polarity: Polarity
    statistic: str
    multiplier: int
    unit: str
    population: str
    age_standardised: bool
    recorded_vs_expected: bool
    source_rules: str
    caveats: str
    needs_admissions: bool = False
    england_value: float | None = None
    england_source: str | None = None
    england_year: str | None = None
    needs: tuple[str, ...] = ()
    ci_method: str = "wilson"
    age_range: tuple[int, int | None] | None = None
    england_note: str = ""
    cube_shape: str = ""
    bsol_value: float | None = None
    bsol_year: str | None = None
    bsol_source: str | None = None


def _proportion(**fields: Any) -> IndicatorInfo:
    """An indicator reported as a percentage (every version 1 indicator is one)."""
    return IndicatorInfo(statistic="proportion", multiplier=100, unit="%", **fields)


_NO_ENGLAND = "No published England figure matches this definition, so none is shown."
_V2_EOL = (
    "Counts deaths of registered patients recorded in the GP extract in the 12 months to "
    "the reporting date; small numbers for practices and PCNs."
)
_CHOL_RULE = (
    "On the latest date within 12 months with an LDL or non-HDL cholesterol value: LDL at or "
    "below 2.0 or non-HDL at or below 2.6 mmol/L (either counts when both were measured). "
    "Non-HDL is the non-HDL code's value, or total minus HDL cholesterol on the same date."
)
_CHOL_CAVEAT = (
    "Simplified from the QOF CHOL003/CHOL004 and CVDPREVENT lipid rules: no exceptions, no "
    "intolerance codes, and the LDL and non-HDL thresholds of the NICE lipid pathway "
    "(2.0 and 2.6 mmol/L). " + _NO_ENGLAND
)
_DSR_SHAPE = (
    "Cube rows by age_band (ESP2013, age at the reporting date): numerator events, "
    "denominator registered population; standardise with stats over the age range."
)


_INDICATORS: tuple[IndicatorInfo, ...] = (
    _proportion(
        id="HYP_PREV",
        family="hypertension",
        title="Hypertension: recorded prevalence",
        short_title="Hypertension prevalence",
        definition=(
            "The share of registered patients, all ages, who are on the practice's high blood "
            "pressure register."
        ),
        numerator=(
            "Patients on the hypertension register (latest hypertension code not followed by a "
            "resolved code)"
        ),
        denominator="Registered patients, all ages",
        polarity=NONE,
        population="registered",
        age_standardised=True,
        recorded_vs_expected=True,
        source_rules="QOF HYP001 register (HYP_COD / HYPRES_COD)",
        caveats=(
            "Recorded prevalence reflects case finding as well as disease; compare with expected "
            "prevalence. The QOF register denominator is the whole list, as here."
        ),
    ),
    _proportion(
        id="HYP_BP_TARGET",
        family="hypertension",
        title="Hypertension: blood pressure treated to target",
        short_title="BP to target",
        definition=(
            "Of people on the hypertension register, the share whose latest blood pressure in the "
            "last 12 months was at or below 140/90 (150/90 from age 80)."
        ),
        numerator=(
            "Latest paired reading within 12 months at or below 140/90 (under 80) or 150/90 (80 "
            "and over)"
        ),
        denominator="Patients on the hypertension register",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="QOF HYP008 (under 80) and HYP009 (80 and over), combined",
        caveats=_SIMPLIFIED + " Systolic and diastolic come from the latest date with both.",
    ),
    _proportion(
        id="HYP_BP_CHECK_45",
        family="hypertension",
        title="Blood pressure recorded in the last 5 years, 45+",
        short_title="BP check 45+",
        definition=(
            "The share of registered patients aged 45 and over with a blood pressure reading in "
            "the last five years."
        ),
        numerator="Patients with a systolic reading within 60 months",
        denominator="Registered patients aged 45+",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="QOF BP002",
        caveats="Only coded readings count; readings taken elsewhere and not coded are missed.",
    ),
    _proportion(
        id="HYP_POSSIBLE",
        family="hypertension",
        title="Possible undiagnosed hypertension",
        short_title="Possible undiagnosed HYP",
        definition=(
            "Adults not diagnosed with high blood pressure whose latest reading in the last 12 "
            "months was high (140/90 or above): people who may need follow-up."
        ),
        numerator="Latest paired reading within 12 months at least 140 systolic or 90 diastolic",
        denominator="Registered patients aged 18+ not on the hypertension register",
        polarity=LOWER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules=(
            "Local case-finding measure modelled on the NHS England/CVDPREVENT 'possible "
            "undiagnosed hypertension' approach"
        ),
        caveats=(
            "A single raised reading is not a diagnosis; patients without a recent reading are in "
            "the denominator but can never be in the numerator. As for blood pressure to target, "
            "the reading is the latest date with both a systolic and a diastolic value, so a "
            "lone systolic reading does not count."
        ),
    ),
    _proportion(
        id="HYP_CHOL_RANGE",
        family="hypertension",
        title="Hypertension: cholesterol in range",
        short_title="Cholesterol in range",
        definition=(
            "Of people on the hypertension register, the share whose latest LDL or non-HDL "
            "cholesterol in the last 12 months was in range (LDL at most 2.0 or non-HDL at "
            "most 2.6 mmol/L)."
        ),
        numerator=_CHOL_RULE,
        denominator="Patients on the hypertension register",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="Local measure (seed measure 12, cholesterol part)",
        caveats=_CHOL_CAVEAT,
        needs=("cholesterol",),
        england_note=_NO_ENGLAND,
    ),
    _proportion(
        id="HYP_BP_CHOL",
        family="hypertension",
        title="Hypertension: blood pressure and cholesterol both in range",
        short_title="BP and cholesterol in range",
        definition=(
            "Of people on the hypertension register, the share whose blood pressure is treated "
            "to target and whose cholesterol is in range (seed measure 12)."
        ),
        numerator="Meets both HYP_BP_TARGET and HYP_CHOL_RANGE",
        denominator="Patients on the hypertension register",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="Local measure (seed measure 12): HYP_BP_TARGET and HYP_CHOL_RANGE together",
        caveats=(
            _SIMPLIFIED + " Its numerator is part of the blood-pressure-to-target numerator (a "
            "linked cell for disclosure control). " + _NO_ENGLAND
        ),
        needs=("cholesterol",),
        england_note=_NO_ENGLAND,
    ),
    _proportion(
        id="DM_PREV",
        family="diabetes",
        title="Diabetes: recorded prevalence, 17+",
        short_title="Diabetes prevalence",
        definition=(
            "The share of registered patients aged 17 and over who are on the diabetes register."
        ),
        numerator="Patients aged 17+ on the diabetes register",
        denominator="Registered patients aged 17+",
        polarity=NONE,
        population="registered",
        age_standardised=True,
        recorded_vs_expected=True,
        source_rules="QOF DM017 register (DM_COD / DMRES_COD), 17+ list as denominator",
        age_range=(17, None),
        caveats=(
            "Type 1 and type 2 are not separated. No expected-prevalence reference is shipped for "
            "diabetes yet."
        ),
    ),
    _proportion(
        id="DM_HBA1C_58",
        family="diabetes",
        title="Diabetes: HbA1c 58 mmol/mol or less",
        short_title="HbA1c <= 58",
        definition=(
            "Of people aged 17+ with diabetes, the share whose latest HbA1c in the last 12 months "
            "was 58 mmol/mol or less."
        ),
        numerator=(
            "Latest HbA1c within 12 months at or below 58 mmol/mol (lowest value on that date)"
        ),
        denominator="Patients aged 17+ on the diabetes register",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="QOF DM020 (without the frailty restriction)",
        caveats=_SIMPLIFIED + " QOF DM020 excludes moderate or severe frailty; this does not.",
    ),
    _proportion(
        id="DM_BP_140_80",
        family="diabetes",
        title="Diabetes: blood pressure at or below 140/80",
        short_title="Diabetes BP 140/80",
        definition=(
            "Of people aged 17 and over on the diabetes register, the share whose latest blood "
            "pressure in the last 12 months was at or below 140/80."
        ),
        numerator="Latest paired reading within 12 months: systolic at most 140 and diastolic "
        "at most 80",
        denominator="Patients on the diabetes register aged 17+",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="Modelled on QOF DM036 and the National Diabetes Audit BP target",
        caveats=_SIMPLIFIED + " " + _NO_ENGLAND,
        england_note=_NO_ENGLAND,
    ),
    _proportion(
        id="DM_3TT",
        family="diabetes",
        title="Diabetes: all three treatment targets",
        short_title="Diabetes 3 targets",
        definition=(
            "Of people aged 17 and over on the diabetes register, the share meeting all three "
            "treatment targets: HbA1c at most 58 mmol/mol, blood pressure at most 140/80 and, "
            "from age 40, a statin prescribed in the last 6 months."
        ),
        numerator="HbA1c <= 58 and BP <= 140/80 (as DM_HBA1C_58 and DM_BP_140_80) and, if "
        "aged 40+, on lipid-lowering therapy",
        denominator="Patients on the diabetes register aged 17+",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules=(
            "Modelled on the National Diabetes Audit 'all three treatment targets' (seed "
            "measure 13); statins as the lipid-lowering part"
        ),
        caveats=(
            _SIMPLIFIED + " Statins only. Computed only when the extract includes "
            "medications. " + _NO_ENGLAND
        ),
        needs=("medications",),
        england_note=_NO_ENGLAND,
    ),
    _proportion(
        id="COPD_PREV",
        family="copd",
        title="COPD: recorded prevalence",
        short_title="COPD prevalence",
        definition="The share of registered patients, all ages, on the COPD register.",
        numerator="Patients on the COPD register",
        denominator="Registered patients, all ages",
        polarity=NONE,
        population="registered",
        age_standardised=True,
        recorded_vs_expected=True,
        source_rules="QOF COPD015 register (COPD_COD / COPDRES_COD)",
        caveats="No expected-prevalence reference is shipped for COPD yet.",
    ),
    _proportion(
        id="COPD_REVIEW",
        family="copd",
        title="COPD: annual review",
        short_title="COPD review",
        definition=(
            "Of people on the COPD register, the share with a COPD review in the last 12 months."
        ),
        numerator="Patients with a COPD review code within 12 months",
        denominator="Patients on the COPD register",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="QOF COPD010 (review including breathlessness assessment), simplified",
        caveats=_SIMPLIFIED + " Any COPD review code counts; the MRC score is not checked.",
    ),
    _proportion(
        id="PC_REG",
        family="end_of_life",
        title="Palliative care register prevalence",
        short_title="Palliative care register",
        definition="The share of registered patients on the practice's palliative care register.",
        numerator=(
            "Patients on the palliative care register (latest PALCARE_COD not followed by "
            "PALCARENI_COD)"
        ),
        denominator="Registered patients, all ages",
        polarity=NONE,
        population="registered",
        age_standardised=True,
        recorded_vs_expected=False,
        source_rules="QOF PC001 register",
        caveats=(
            "Registers are commonly judged too small (about 1% of the list is expected to die each"
            " year); higher may reflect better identification."
        ),
    ),
    _proportion(
        id="EOL_HOME_CARE_HOME",
        family="end_of_life",
        title="Deaths at home or in a care home",
        short_title="Died at home/care home",
        definition=(
            "Of registered patients who died in the last 12 months, the share who died at home or "
            "in a care home."
        ),
        numerator="Deaths with place of death home or care home",
        denominator="Patients registered at death who died within 12 months of the reporting date",
        polarity=NONE,
        population="decedents",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules=(
            "Modelled on OHID Fingertips 'deaths in usual place of residence' (home or care home)"
        ),
        caveats=(
            _EOL
            + _BLANK_PLACE
            + " The England figure is the sum of the published shares of deaths at home "
            "and in care homes (all ages)."
        ),
    ),
    _proportion(
        id="EOL_HOSPITAL",
        family="end_of_life",
        title="Deaths in hospital",
        short_title="Died in hospital",
        definition=(
            "Of registered patients who died in the last 12 months, the share who died in hospital."
        ),
        numerator="Deaths with place of death hospital",
        denominator="Patients registered at death who died within 12 months of the reporting date",
        polarity=NONE,
        population="decedents",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="Modelled on OHID Fingertips place-of-death indicators (hospital)",
        caveats=_EOL + _BLANK_PLACE,
    ),
    _proportion(
        id="EOL_ON_PC_REG",
        family="end_of_life",
        title="Decedents on the palliative care register before death",
        short_title="On PC register before death",
        definition=(
            "Of registered patients who died in the last 12 months, the share who were on the "
            "palliative care register the day before they died."
        ),
        numerator="Decedents on the palliative care register on the day before death",
        denominator="Patients registered at death who died within 12 months of the reporting date",
        polarity=HIGHER,
        population="decedents",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="Local measure built on the QOF PC001 register rule",
        caveats=_EOL,
    ),
    _proportion(
        id="EOL_3PLUS_EMERG",
        family="end_of_life",
        title="3+ emergency admissions in the last 90 days of life",
        short_title="3+ emergency admissions",
        definition=(
            "Of registered patients who died in the last 12 months, the share with three or more "
            "emergency hospital admissions in their last 90 days."
        ),
        numerator="Decedents with 3 or more emergency admissions in the 90 days up to death",
        denominator="Patients registered at death who died within 12 months of the reporting date",
        polarity=LOWER,
        population="decedents",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules=(
            "Modelled on the OHID end-of-life profile measure of emergency admissions in the last "
            "90 days of life"
        ),
        caveats=_EOL + " Computed only when the extract includes hospital admissions.",
        needs_admissions=True,
    ),
    _proportion(
        id="EOL_CARE_PLAN",
        family="end_of_life",
        title="Decedents with an advance or end-of-life care plan",
        short_title="Care plan before death",
        definition=(
            "Of registered patients who died in the last 12 months, the share with an advance "
            "care plan, an end-of-life care plan or a ReSPECT plan recorded before death."
        ),
        numerator="Decedents with a care-planning code on or before the day before death",
        denominator="Patients registered at death who died within 12 months of the reporting date",
        polarity=HIGHER,
        population="decedents",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules=(
            "Local measure (seed measure 15): care-planning codes of "
            "eol-care-planning-filtered.csv (61 SNOMED CT codes naming an end-of-life plan, an "
            "advance care plan or ReSPECT; offered, declined and information codes left out)"
        ),
        caveats=_V2_EOL + " Plans recorded only outside the GP record are missed. " + _NO_ENGLAND,
        england_note=_NO_ENGLAND,
    ),
    _proportion(
        id="EOL_ED_3PLUS",
        family="end_of_life",
        title="3+ ED attendances in the last 90 days of life",
        short_title="3+ ED attendances",
        definition=(
            "Of registered patients who died in the last 12 months, the share with three or "
            "more emergency department attendances in their last 90 days."
        ),
        numerator="Decedents with 3 or more ED attendances in the 90 days up to death",
        denominator="Patients registered at death who died within 12 months of the reporting date",
        polarity=LOWER,
        population="decedents",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules=(
            "Modelled on the OHID end-of-life profile: A&E attendances in the last 90 days of "
            "life (type 1-4 departments)"
        ),
        caveats=_V2_EOL + " Computed only when the extract includes ED attendances. " + _NO_ENGLAND,
        needs=("ed_attendances",),
        england_note=_NO_ENGLAND,
    ),
    IndicatorInfo(
        id="EOL_ED_MEAN",
        family="end_of_life",
        title="ED attendances in the last 90 days of life, per decedent",
        short_title="ED attendances per decedent",
        definition=(
            "The average number of emergency department attendances in the last 90 days of "
            "life, over all registered patients who died in the last 12 months."
        ),
        numerator="ED attendances in the 90 days up to death, summed over decedents",
        denominator="Patients registered at death who died within 12 months of the reporting date",
        polarity=LOWER,
        statistic="rate",
        multiplier=1,
        unit="attendances per decedent",
        population="decedents",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules=(
            "Local measure (seed: 'people attended ED 3 times on average in the 90 days before "
            "death'); a rate per decedent with a Byar 95% confidence interval on the total"
        ),
        caveats=_V2_EOL + " The numerator counts attendances, not people. " + _NO_ENGLAND,
        needs=("ed_attendances",),
        ci_method="byar",
        england_note=_NO_ENGLAND,
    ),
    _proportion(
        id="SCR_BREAST",
        family="screening",
        title="Breast screening coverage",
        short_title="Breast screening",
        definition=(
            "The share of registered women aged 53 to 70 screened for breast cancer in the last "
            "three years."
        ),
        numerator="Women with an adequate breast screening test within 36 months",
        denominator="Registered women aged 53-70",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="OHID Fingertips cancer screening coverage: breast (53-70, 36 months)",
        caveats=_SCREENING,
    ),
    _proportion(
        id="SCR_CERVICAL_25_49",
        family="screening",
        title="Cervical screening coverage, 25-49",
        short_title="Cervical screening 25-49",
        definition=(
            "The share of registered women aged 25 to 49 with an adequate cervical screening test "
            "in the last three and a half years."
        ),
        numerator="Women with an adequate cervical test within 42 months",
        denominator="Registered women aged 25-49",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="OHID Fingertips cancer screening coverage: cervical 25-49 (3.5 years)",
        caveats=_SCREENING,
    ),
    _proportion(
        id="SCR_CERVICAL_50_64",
        family="screening",
        title="Cervical screening coverage, 50-64",
        short_title="Cervical screening 50-64",
        definition=(
            "The share of registered women aged 50 to 64 with an adequate cervical screening test "
            "in the last five and a half years."
        ),
        numerator="Women with an adequate cervical test within 66 months",
        denominator="Registered women aged 50-64",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="OHID Fingertips cancer screening coverage: cervical 50-64 (5.5 years)",
        caveats=_SCREENING,
    ),
    _proportion(
        id="SCR_BOWEL",
        family="screening",
        title="Bowel screening coverage",
        short_title="Bowel screening",
        definition=(
            "The share of registered people aged 60 to 74 with an adequate bowel screening test in"
            " the last two and a half years."
        ),
        numerator="People with an adequate bowel screening test within 30 months",
        denominator="Registered persons aged 60-74",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="OHID Fingertips cancer screening coverage: bowel (60-74, 30 months)",
        caveats=_SCREENING,
    ),
    _proportion(
        id="CVD_LLT",
        family="cardiovascular",
        title="CVD: on lipid-lowering therapy",
        short_title="CVD on statins",
        definition=(
            "Of adults on a cardiovascular disease register (coronary heart disease, stroke, "
            "TIA or peripheral arterial disease), the share prescribed a statin in the last "
            "6 months."
        ),
        numerator="A lipid-lowering (statin) dm+d code issued within 6 months",
        denominator="Patients aged 18+ on the CHD, stroke, TIA or PAD register",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules=(
            "Modelled on CVDPREVENT CVDP003CHOL / QOF CHD, STIA and PAD lipid-lowering measures "
            "(registers CHD_COD, STRK_COD, TIA_COD, PAD_COD; statins from "
            "opensafely-statin-medication.csv)"
        ),
        caveats=(
            "Statins only (the shipped dm+d list): ezetimibe, PCSK9 inhibitors and other "
            "lipid-lowering drugs are not counted, and no exceptions are applied. "
            "Computed only when the extract includes medications. " + _NO_ENGLAND
        ),
        needs=("medications",),
        england_note=_NO_ENGLAND,
    ),
    _proportion(
        id="CVD_CHOL_RANGE",
        family="cardiovascular",
        title="CVD: cholesterol in range",
        short_title="CVD cholesterol in range",
        definition=(
            "Of adults on a cardiovascular disease register, the share whose latest LDL or "
            "non-HDL cholesterol in the last 12 months was in range (LDL at most 2.0 or "
            "non-HDL at most 2.6 mmol/L)."
        ),
        numerator=_CHOL_RULE,
        denominator="Patients aged 18+ on the CHD, stroke, TIA or PAD register",
        polarity=HIGHER,
        population="registered",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules="Modelled on CVDPREVENT CVDP012CHOL (cholesterol treated to threshold)",
        caveats=_CHOL_CAVEAT,
        needs=("cholesterol",),
        england_note=_NO_ENGLAND,
    ),
    IndicatorInfo(
        id="ACSC_EMERG",
        family="unplanned_admissions",
        title="Emergency admissions for chronic ambulatory care sensitive conditions",
        short_title="ACSC emergency admissions",
        definition=(
            "Emergency hospital admissions in the last 12 months whose primary diagnosis is a "
            "chronic condition usually managed in the community (angina, asthma, COPD, "
            "diabetes, epilepsy, heart failure, hypertension and others), per 100,000 "
            "registered patients, age-standardised."
        ),
        numerator=(
            "Emergency admissions (not patients) within 12 months with a chronic ACSC primary "
            "diagnosis, of patients registered at the reporting date"
        ),
        denominator="Registered patients, all ages",
        polarity=LOWER,
        statistic="dsr",
        multiplier=100_000,
        unit="per 100,000",
        population="registered",
        age_standardised=False,  # the statistic itself is the DSR: no separate _DSR version
        recorded_vs_expected=False,
        source_rules=(
            "CCG Outcomes Indicator Set 2.6 / NHS Outcomes Framework 2.3.i chronic ACSC list "
            "(lu_acc_icd10.csv, ac_conditions.csv; GPL-3 data); directly standardised to the "
            "European Standard Population 2013 (seed measure 16, the Better Care Fund metric)"
        ),
        caveats=(
            "Only the primary diagnosis is used: acute bronchitis (J20), which counts only with "
            "a secondary COPD diagnosis, is never counted, and the sickle-cell (D57) and "
            "procedure exclusions are not applied. Age at the reporting date for admissions and "
            "population alike. Computed only when admissions carry a primary diagnosis. "
            + _NO_ENGLAND
        ),
        needs=("admissions", "admissions.primary_diagnosis"),
        ci_method="dobson",
        age_range=(0, 200),
        england_note=_NO_ENGLAND,
        cube_shape=_DSR_SHAPE,
    ),
    IndicatorInfo(
        id="MORT_CANCER_U75",
        family="mortality",
        title="Under-75 mortality from cancer",
        short_title="Cancer deaths under 75",
        definition=(
            "Deaths from cancer before the age of 75 in the last 12 months, per 100,000 "
            "registered patients aged under 75, age-standardised."
        ),
        numerator=(
            "Deaths aged under 75 within 12 months of the reporting date of patients registered "
            "at death, underlying cause C00-C97"
        ),
        denominator="Registered patients aged 0-74 at the reporting date",
        polarity=LOWER,
        statistic="dsr",
        multiplier=100_000,
        unit="per 100,000",
        population="mortality",
        age_standardised=False,  # the statistic itself is the DSR: no separate _DSR version
        recorded_vs_expected=False,
        source_rules=(
            "Modelled on OHID Fingertips 40501 (under 75 mortality rate from cancer): ICD-10 "
            "C00-C97, directly standardised to the European Standard Population 2013, ages 0-74"
        ),
        caveats=(
            "One year of deaths recorded in the GP extract (Fingertips pools three years of ONS "
            "registrations over resident population estimates); deaths are aged at death and "
            "the population at the reporting date. Computed only when the extract gives the "
            "underlying cause of death. " + _NO_ENGLAND
        ),
        needs=("patients.underlying_cause_of_death",),
        ci_method="dobson",
        age_range=(0, 74),
        england_note=_NO_ENGLAND,
        cube_shape=_DSR_SHAPE.replace("age at the reporting date", "age at death for deaths"),
    ),
    IndicatorInfo(
        id="LE_BIRTH",
        family="mortality",
        title="Life expectancy at birth",
        short_title="Life expectancy",
        definition=(
            "The average number of years a newborn would live if they experienced the death "
            "rates of the registered population over the last three years, by sex."
        ),
        numerator=(
            "Deaths within 36 months of the reporting date of patients registered at death, by "
            "sex and age band at death (0, 1-4, 5-9 ... 85-89, 90+)"
        ),
        denominator=(
            "Registered patients at the reporting date by sex and age band; person-years are "
            "three times the registered population"
        ),
        polarity=HIGHER,
        statistic="life_expectancy",
        multiplier=1,
        unit="years",
        population="mortality",
        age_standardised=False,
        recorded_vs_expected=False,
        source_rules=(
            "OHID method (Chiang II abridged life table with the 90+ closure, as "
            "PHEindicatormethods phe_life_expectancy); Fingertips 90366"
        ),
        caveats=(
            "Registered rather than resident population and GP-recorded deaths; shown only "
            "where an area has at least 5,000 person-years and 50 deaths."
        ),
        ci_method="chiang",
        cube_shape=(
            "Cube rows by sex and le_age_band: numerator deaths, denominator registered "
            "population at the reporting date (person-years = denominator x 3; "
            "indicators.mortality.life_table_counts)."
        ),
    ),
)


@functools.lru_cache(maxsize=1)
def _qof1920_england() -> dict[str, float]:
    path = paths.RAW_DIR / "qof" / "qof1920_modelled_prevalence_lad_england.csv"
    df = pd.read_csv(path)
    df = df[df["lad_code"].astype(str).str.startswith("E")]
    sums = df.groupby("group_code")[["register", "list"]].sum()
    return (100 * sums["register"] / sums["list"]).to_dict()


def _life_expectancy_note() -> str:
    """England life expectancy at birth by sex, latest period in data/raw/comparators."""
    from bsol_analytics.reference import life_expectancy_comparators

    le = life_expectancy_comparators()
    le = le[(le["indicator"] == "LE_BIRTH") & (le["area_code"] == "E92000001")]
    latest = sorted(set(le["period"]))[-2]  # the last period is flagged unverified at source
    rows = le[le["period"] == latest].set_index("sex")["value"]
    return (
        f"England {latest}: males {rows['M']:.1f}, females {rows['F']:.1f} years (OHID "
        "Fingertips 90366; data/raw/comparators/fingertips_90366_92901_le_sii_england_"
        "birmingham_solihull.csv)."
    )


_SCREENING_SOURCE = "OHID Fingertips cancer services profile, as quoted in the BSOL plan"
_EOL_SOURCE = "OHID palliative and end of life care profile, December 2023 update"
#: indicator id -> (rows of data/raw/comparators/comparators.csv, England source, BSOL source);
#: rows joined by ``+`` are shares of the same total and are added.
_PUBLISHED: dict[str, tuple[str, str, str]] = {
    "SCR_BREAST": ("cancer_screening_coverage_breast_53_70", _SCREENING_SOURCE, ""),
    "SCR_CERVICAL_25_49": ("cancer_screening_coverage_cervical_25_49", _SCREENING_SOURCE, ""),
    "SCR_CERVICAL_50_64": ("cancer_screening_coverage_cervical_50_64", _SCREENING_SOURCE, ""),
    "SCR_BOWEL": ("cancer_screening_coverage_bowel_60_74", _SCREENING_SOURCE, ""),
    "EOL_HOSPITAL": ("pct_deaths_in_hospital", _EOL_SOURCE, "BSOL Community Care Plan 2024"),
    "EOL_HOME_CARE_HOME": (
        "pct_deaths_at_home+pct_deaths_in_care_home",
        _EOL_SOURCE + ": deaths at home plus deaths in care homes",
        "",
    ),
}
_COMPARATORS_FILE = "data/raw/comparators/comparators.csv"
#: Why an indicator has no England comparator, where more can be said than "none".
_NOT_COMPARABLE: dict[str, str] = {
    "HYP_BP_TARGET": (
        "No published England figure for this definition: the CVDPREVENT annual report 2025 "
        "gives only a rounded share not treated to target or without a current reading "
        "(about 30%, data to March 2025), which is not the published indicator, so it is "
        "not used as a comparator."
    ),
    "HYP_BP_CHECK_45": "No published England figure for this definition.",
    "HYP_POSSIBLE": "No published England figure: this is a local case-finding measure.",
    "DM_HBA1C_58": (
        "No published England figure for this definition: QOF DM020 applies exceptions and "
        "the frailty restriction, so its achievement is not comparable."
    ),
    "COPD_REVIEW": (
        "No published England figure for this definition: QOF COPD010 applies exceptions "
        "and checks the breathlessness score, so its achievement is not comparable."
    ),
    "EOL_ON_PC_REG": "No published England figure: this is a local measure.",
    "EOL_3PLUS_EMERG": "No published England figure for this definition.",
}


def _published(row_names: str) -> dict[str, tuple[float, str]]:
    """``{area_type: (value, period)}`` of one comparators.csv row (or a sum of rows).

    Examples:
        >>> _published("pct_deaths_in_hospital")
        {'England': (43.4, '2022'), 'ICB': (48.8, '2022/23')}
    """
    from bsol_analytics.reference import comparators

    table = comparators()
    names = row_names.split("+")
    out: dict[str, tuple[float, str]] = {}
    for area_type in ("England", "ICB"):
        rows = table[table["indicator"].isin(names) & (table["area_type"] == area_type)]
        if len(rows) != len(names):
            continue
        period = str(rows["period"].iloc[0]).split(" (")[0]
        out[area_type] = (round(float(rows["value"].astype(float).sum()), 2), period)
    return out


def _from_comparators(info: IndicatorInfo) -> IndicatorInfo:
    """England (and BSOL's own published) figures of ``comparators.csv`` for ``info``."""
    rows, england_source, bsol_source = _PUBLISHED[info.id]
    found = _published(rows)
    changes: dict[str, Any] = {}
    if "England" in found:
        value, period = found["England"]
        changes.update(
            england_value=value,
            england_year=period,
            england_source=f"{england_source} ({_COMPARATORS_FILE})",
        )
    if "ICB" in found:
        value, period = found["ICB"]
        changes.update(
            bsol_value=value,
            bsol_year=period,
            bsol_source=f"{bsol_source or england_source} ({_COMPARATORS_FILE})",
        )
    return dataclasses.replace(info, **changes)


def _england(info: IndicatorInfo) -> IndicatorInfo:
    """Attach the England comparator sourced from ``data/raw`` (if one exists)."""
    try:
        if info.id == "LE_BIRTH":
            return dataclasses.replace(info, england_note=_life_expectancy_note())
        if info.id in _PUBLISHED:
            return _from_comparators(info)
        if info.id == "HYP_PREV":
            from bsol_analytics.reference import england_hypertension_prevalence

            return dataclasses.replace(
                info,
                england_value=round(england_hypertension_prevalence(), 2),
                england_source="QOF practice-level CVD prevalence, England: sum of registers "
                "over sum of list sizes (data/raw/qof/qof_cvd_domain_practice_england_2023-24"
                "_heec.csv)",
                england_year="2023-24",
                bsol_value=_published("qof_prevalence_hypertension_all_ages")["ICB"][0],
                bsol_year="2023-24",
                bsol_source="QOF 2023-24 registers over list sizes of BSOL's 180 practices, "
                f"reconstructed from practice figures ({_COMPARATORS_FILE})",
            )
        group = {"DM_PREV": "DM", "COPD_PREV": "COPD", "PC_REG": "PC"}.get(info.id)
        if group:
            return dataclasses.replace(
                info,
                england_value=round(_qof1920_england()[group], 2),
                england_source="QOF registers and list sizes summed over English local "
                "authorities (House of Commons Library; data/raw/qof/"
                "qof1920_modelled_prevalence_lad_england.csv)"
                + ("; 17+ list" if group == "DM" else ""),
                england_year="2019-20",
                england_note=(
                    "The latest QOF figure held for England is 2019-20; later years are not "
                    "in the reference data."
                ),
            )
        if info.id in _NOT_COMPARABLE:
            return dataclasses.replace(info, england_note=_NOT_COMPARABLE[info.id])
    except (OSError, KeyError, BsolError):
        return info
    return info


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, IndicatorInfo]:
    return {i.id: _england(i) for i in _INDICATORS}


def get_indicator(indicator_id: str) -> IndicatorInfo:
    """Metadata for one indicator.

    Raises:
        ParameterError: the id is not in the registry.

    Examples:
        >>> info = get_indicator("HYP_PREV")
        >>> info.england_year, 13 < info.england_value < 16
        ('2023-24', True)
        >>> b = get_indicator("SCR_BOWEL")
        >>> b.england_value, b.england_year, b.bsol_value
        (72.0, '2022/23', 64.8)
        >>> get_indicator("ACSC_EMERG").england_value is None
        True
    """
    try:
        return _registry()[indicator_id]
    except KeyError:
        raise ParameterError(
            f"Unknown indicator id '{indicator_id}'. Known ids: {', '.join(_registry())}."
        ) from None


def list_indicators(family: str | None = None) -> list[IndicatorInfo]:
    """All indicators in registry order, optionally of one family.

    Examples:
        >>> len(list_indicators())
        29
    """
    items = list(_registry().values())
    return [i for i in items if family is None or i.family == family]


def registry_frame() -> pd.DataFrame:
    """The registry as a new DataFrame, one row per indicator.

    Examples:
        >>> frame = registry_frame()
        >>> frame.loc[frame["id"] == "DM_PREV", "england_year"].item()
        '2019-20'
    """
    return pd.DataFrame([dataclasses.asdict(i) for i in list_indicators()])


@functools.lru_cache(maxsize=1)
def _expected() -> pd.DataFrame:
    path = paths.RAW_DIR / "expected_prevalence" / "expected_prevalence_age_sex.csv"
    try:
        return pd.read_csv(path, comment="#")
    except OSError as err:
        raise BsolError(
            f"The expected-prevalence reference file {path} could not be read ({err})."
        ) from None


def expected_prevalence(condition: str | None = None) -> pd.DataFrame:
    """Reference age/sex-specific prevalence for recorded-vs-expected comparisons.

    The source bands are mapped onto the 19 ESP2013 bands: each ESP band takes the
    prevalence of the source band holding its middle year (so ``15-19`` takes ``16-34``
    and ``90+`` takes ``75+``); below the survey's youngest age prevalence is 0.

    Args:
        condition: ``"hypertension"`` (Health Survey for England 2022), ``"diabetes"``
            (Health Survey for England 2019), ``"copd"`` (PHE COPD prevalence model), or
            ``None`` for all; sources in data/raw/expected_prevalence/PROVENANCE.txt.

    Returns:
        A new frame: ``condition``, ``indicator_id`` (the recorded-prevalence indicator it
        is compared with, e.g. ``HYP_PREV``), ``sex`` (``M``/``F``), ``age_band`` (ESP2013
        label), ``prevalence`` (proportion 0-1), ``source``.

    Raises:
        ParameterError: the condition has no sourced reference.

    Examples:
        >>> e = expected_prevalence("hypertension")
        >>> len(e), sorted(e["sex"].unique())
        (38, ['F', 'M'])
        >>> e.loc[(e["sex"] == "M") & (e["age_band"] == "60-64"), "prevalence"].item()
        0.5
    """
    raw = _expected()
    available = sorted(raw["condition"].unique())
    if condition is not None and condition not in available:
        raise ParameterError(
            f"No expected-prevalence reference for '{condition}'. Available: "
            f"{', '.join(available)}."
        )
    chosen = raw if condition is None else raw[raw["condition"] == condition]
    rows = []
    for band in AGE_BANDS:
        middle = int(band.rstrip("+").split("-")[0]) + 2
        hit = chosen[(chosen["age_from"] <= middle) & (chosen["age_to"] >= middle)]
        rows.append(hit.assign(age_band=band))
    out = pd.concat(rows, ignore_index=True)
    out = out.assign(indicator_id=out["condition"].map(CONDITION_INDICATORS))
    out = out[["condition", "indicator_id", "sex", "age_band", "prevalence", "source"]]
    order = {b: n for n, b in enumerate(AGE_BANDS)}
    return (
        out.assign(_o=out["age_band"].map(order))
        .sort_values(["condition", "sex", "_o"])
        .drop(columns="_o")
        .reset_index(drop=True)
    )
