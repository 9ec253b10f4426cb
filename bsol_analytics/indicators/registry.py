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


def _proportion(**fields: Any) -> IndicatorInfo:
    """An indicator reported as a percentage (every version 1 indicator is one)."""
    return IndicatorInfo(statistic="proportion", multiplier=100, unit="%", **fields)


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
            "the denominator but can never be in the numerator. As for HYP_BP_TARGET, the reading "
            "is the latest date with both a systolic and a diastolic value, so a lone systolic "
            "reading does not count."
        ),
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
        recorded_vs_expected=False,
        source_rules="QOF DM017 register (DM_COD / DMRES_COD), 17+ list as denominator",
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
        recorded_vs_expected=False,
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
            _EOL + " Fingertips' 65+ measure (in data/raw) is not comparable, so no England value "
            "is shown."
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
        caveats=_EOL,
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
)


@functools.lru_cache(maxsize=1)
def _qof1920_england() -> dict[str, float]:
    path = paths.RAW_DIR / "qof" / "qof1920_modelled_prevalence_lad_england.csv"
    df = pd.read_csv(path)
    df = df[df["lad_code"].astype(str).str.startswith("E")]
    sums = df.groupby("group_code")[["register", "list"]].sum()
    return (100 * sums["register"] / sums["list"]).to_dict()


def _england(info: IndicatorInfo) -> IndicatorInfo:
    """Attach the England comparator sourced from ``data/raw`` (if one exists)."""
    try:
        if info.id == "HYP_PREV":
            from bsol_analytics.reference import england_hypertension_prevalence

            return dataclasses.replace(
                info,
                england_value=round(england_hypertension_prevalence(), 2),
                england_source="QOF practice-level CVD prevalence, England: sum of registers "
                "over sum of list sizes (data/raw/qof/qof_cvd_domain_practice_england_2023-24"
                "_heec.csv)",
                england_year="2023-24",
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
            )
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
        >>> get_indicator("SCR_BOWEL").england_value is None
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
        17
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


#: expected-prevalence condition -> the recorded-prevalence indicator it is compared with
CONDITION_INDICATOR: dict[str, str] = {
    "hypertension": "HYP_PREV",
    "diabetes": "DM_PREV",
    "copd": "COPD_PREV",
}


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
    out = out.assign(indicator_id=out["condition"].map(CONDITION_INDICATOR))
    out = out[["condition", "indicator_id", "sex", "age_band", "prevalence", "source"]]
    order = {b: n for n, b in enumerate(AGE_BANDS)}
    return (
        out.assign(_o=out["age_band"].map(order))
        .sort_values(["condition", "sex", "_o"])
        .drop(columns="_o")
        .reset_index(drop=True)
    )
