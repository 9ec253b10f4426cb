"""The words every layer shares, defined once: areas, families, groups and their order.

This module imports nothing from the package, so every layer may use it.

Examples:
    >>> PACK_AREAS[-1], len(LOCALITIES)
    ('BSOL', 6)
    >>> quantile_label(1, 5), quantile_label(10, 10), quantile_label(None, 5)
    ('Q1 (most deprived)', 'D10 (least deprived)', 'Unknown')
"""

from __future__ import annotations

import math
from typing import Any

#: The name of the whole-system area and pack.
BSOL = "BSOL"
#: The six BSOL localities, in the order outputs list them.
LOCALITIES: tuple[str, ...] = ("Central", "East", "North", "South", "West", "Solihull")
#: Every pack, in index order: the six localities then BSOL.
PACK_AREAS: tuple[str, ...] = (*LOCALITIES, BSOL)
#: The national comparator of the BSOL pack.
ENGLAND = "England"
#: The group of a record whose area is outside BSOL or not known.
OUTSIDE_BSOL = "Outside BSOL or unknown"
#: The group of a missing breakdown value.
UNKNOWN = "Unknown"
#: The group of the ``overall`` breakdown.
ALL = "All"

#: Indicator families, in pack order, with their section titles.
FAMILIES: dict[str, str] = {
    "hypertension": "Hypertension",
    "diabetes": "Diabetes",
    "copd": "COPD",
    "cardiovascular": "Cardiovascular disease",
    "end_of_life": "End of life",
    "screening": "Cancer screening",
    "unplanned_admissions": "Unplanned admissions",
    "mortality": "Life expectancy and mortality",
}
#: Condition (family) -> its recorded-prevalence indicator.
CONDITION_INDICATORS: dict[str, str] = {
    "hypertension": "HYP_PREV",
    "diabetes": "DM_PREV",
    "copd": "COPD_PREV",
}

#: Suffix of the age-standardised (ESP2013) version of an indicator.
DSR_SUFFIX = "_DSR"
#: Suffix of the recorded-versus-expected ratio of an indicator.
RVE_SUFFIX = "_RVE"
#: Suffix of the indirectly standardised ratio against BSOL's own age-sex rates.
ISR_SUFFIX = "_ISR"
#: The suffixes of rows derived from a base indicator's cell (its counts, the same keys).
DERIVED_SUFFIXES: tuple[str, ...] = (DSR_SUFFIX, RVE_SUFFIX, ISR_SUFFIX)
#: A derived id's suffix as a regular expression (group 1: ``DSR``, ``RVE`` or ``ISR``).
DERIVED_PATTERN = "_(" + "|".join(s[1:] for s in DERIVED_SUFFIXES) + ")$"


def base_ids(ids: Any) -> Any:
    """The base indicator of each id of a pandas Series: a derived id without its suffix.

    Examples:
        >>> import pandas as pd
        >>> base_ids(pd.Series(["HYP_PREV_DSR", "COPD_PREV_ISR", "DM_PREV"])).tolist()
        ['HYP_PREV', 'COPD_PREV', 'DM_PREV']
    """
    return ids.astype("str").str.replace(DERIVED_PATTERN, "", regex=True)


#: ESP2013 five-year age bands (19), youngest first.
AGE_BANDS: tuple[str, ...] = (*(f"{lo}-{lo + 4}" for lo in range(0, 90, 5)), "90+")
#: ONS 2021 five broad ethnic groups plus ``Unknown``.
#: The 20 age bands of the abridged life table: ``0``, ``1-4``, ``5-9``, ..., ``85-89``,
#: ``90+`` (the key ``le_age_band`` of LE_BIRTH).
LE_AGE_BANDS: tuple[str, ...] = ("0", "1-4", *(f"{a}-{a + 4}" for a in range(5, 90, 5)), "90+")

ETHNICITY_BROAD: tuple[str, ...] = ("Asian", "Black", "Mixed", "White", "Other", "Unknown")
#: Sex codes of the processed tables -> labels (``U``, not known, is shown as ``Unknown``).
SEX_LABELS: dict[str, str] = {"F": "Female", "M": "Male"}
#: Labels of the Core20 breakdown (IMD national quintile 1 against the rest).
CORE20_LABELS: tuple[str, str] = ("Core20", "Rest")


#: Area types of the indicator frame, coarsest first (``--by`` spells them in lower case).
AREA_TYPES: tuple[str, ...] = ("BSOL", "locality", "pcn", "practice")


def comparator_of(area: str) -> str:
    """The area a pack compares ``area`` with: England for BSOL, BSOL for a locality.

    Examples:
        >>> comparator_of("East"), comparator_of("BSOL")
        ('BSOL', 'England')
    """
    return ENGLAND if area == BSOL else BSOL


def area_column(area_type: str, view: str) -> str | None:
    """The processed ``patients`` column naming a patient's area (``None`` for BSOL).

    Examples:
        >>> area_column("locality", "resident"), area_column("pcn", "practice")
        ('resident_locality', 'pcn_code')
    """
    return {
        "BSOL": None,
        "locality": f"{view}_locality",
        "pcn": "pcn_code",
        "practice": "practice_code",
        "ward": "ward_code",
    }[area_type]


def missing_area(area_type: str, view: str) -> str:
    """The area of a patient whose area is missing: outside BSOL (resident localities).

    Examples:
        >>> missing_area("locality", "resident"), missing_area("pcn", "resident")
        ('Outside BSOL or unknown', 'Unknown')
    """
    return OUTSIDE_BSOL if area_type == "locality" and view == "resident" else UNKNOWN


def quantile_label(value: Any, n: int) -> str:
    """The label of deprivation quintile (``n=5``) or decile (``n=10``) ``value``.

    Examples:
        >>> [quantile_label(q, 5) for q in (1, 2, 5)]
        ['Q1 (most deprived)', 'Q2', 'Q5 (least deprived)']
        >>> quantile_label(float("nan"), 10)
        'Unknown'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNKNOWN
    prefix = "Q" if n == 5 else "D"
    q = int(value)
    suffix = " (most deprived)" if q == 1 else " (least deprived)" if q == n else ""
    return f"{prefix}{q}{suffix}"


#: IMD quintile labels, most deprived first.
QUINTILE_LABELS: tuple[str, ...] = tuple(quantile_label(q, 5) for q in range(1, 6))
#: IMD decile labels, most deprived first.
DECILE_LABELS: tuple[str, ...] = tuple(quantile_label(d, 10) for d in range(1, 11))

#: The file that marks a folder written by ``bsol prepare`` and describes its tables.
PREPARE_MANIFEST = "prepare_manifest.json"

#: The column of every prepared table linked to ``patients`` that holds the patient's row
#: number in ``patients`` (0-based), written by ``bsol prepare`` beside ``patient_id``: the
#: tables then link by position, with no text keys to match when they are read.
PATIENT_ROW = "patient_row"

#: The key, in the Parquet metadata of every table ``bsol prepare`` writes, of the SHA-256 of
#: the ``patient_id`` values of ``patients`` in row order (``io.text_sha256``): the rows
#: that :data:`PATIENT_ROW` counts.
PATIENTS_DIGEST = "bsol_patients_sha256"

#: The measurement clusters (blood pressure, HbA1c, COPD review) read within a window of the
#: reporting date: where they start is where an extract's events start (registers reach back
#: decades).
WINDOWED_CLUSTERS: tuple[str, ...] = ("SBP", "DBP", "HBA1C", "COPD_REVIEW")

#: The clusters of a cholesterol test, read within 12 months of RD (a dated source of their
#: own: version 1 extracts have none).
CHOLESTEROL_CLUSTERS: tuple[str, ...] = ("CHOL", "HDL", "LDL", "NONHDL")

__all__ = [
    "AGE_BANDS",
    "ALL",
    "AREA_TYPES",
    "BSOL",
    "CHOLESTEROL_CLUSTERS",
    "CONDITION_INDICATORS",
    "CORE20_LABELS",
    "DECILE_LABELS",
    "DERIVED_PATTERN",
    "DERIVED_SUFFIXES",
    "DSR_SUFFIX",
    "ENGLAND",
    "ETHNICITY_BROAD",
    "FAMILIES",
    "ISR_SUFFIX",
    "LE_AGE_BANDS",
    "LOCALITIES",
    "OUTSIDE_BSOL",
    "PACK_AREAS",
    "PATIENTS_DIGEST",
    "PATIENT_ROW",
    "PREPARE_MANIFEST",
    "QUINTILE_LABELS",
    "RVE_SUFFIX",
    "SEX_LABELS",
    "UNKNOWN",
    "WINDOWED_CLUSTERS",
    "area_column",
    "base_ids",
    "comparator_of",
    "missing_area",
    "quantile_label",
]
