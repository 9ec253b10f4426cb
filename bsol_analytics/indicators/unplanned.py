"""Unplanned admissions for chronic ambulatory care sensitive conditions (contract version 2).

* ``ACSC_EMERG``: emergency admissions (not patients) with ``admission_date`` within 12
  months of RD and a primary diagnosis in the chronic ACSC list (CCG Outcomes Indicator Set
  2.6, NHS Outcomes Framework 2.3.i), of patients registered at RD; denominator the
  registered population, all ages. The cube holds the counts by the requested keys;
  broken down by ``age_band`` (ESP2013, age at RD for events and population alike) they
  give a directly standardised rate per 100,000 (``stats``). Needs
  ``admissions.primary_diagnosis``.

A primary diagnosis matches when its first four characters without the dot (a 3-character
code padded with ``X``, so ``I10`` is ``I10X``) are in the list, or when its first three
characters are listed as a whole category. Acute bronchitis (J20) counts in the
specification only with a secondary COPD diagnosis, which the extract does not carry, so it
never counts; the D57 and procedure exclusions cannot be applied and are not.
"""

from __future__ import annotations

import functools
import string
from typing import Any

import narwhals as nw

from bsol_analytics import reference
from bsol_analytics.dates import Window
from bsol_analytics.indicators.base import Context, Feature, Frames, Indicator, always

_FOURTH = string.digits + string.ascii_uppercase


@functools.lru_cache(maxsize=1)
def acsc_match_codes() -> frozenset[str]:
    """Every normalised ICD-10 code (3 or 4 characters, no dot) that is a chronic ACSC.

    The list's rule made explicit as a set, so that every engine tests membership alike:
    a 4-character entry matches itself (and, for an ``X``-padded entry, the bare 3-character
    code); a 3-character category matches itself and all its 4-character subdivisions.

    Examples:
        >>> codes = acsc_match_codes()
        >>> {"I10", "I10X", "E119", "E11", "J440"} <= codes, "J20" in codes, "I109" in codes
        (True, False, False)
    """
    out: set[str] = set()
    for code in reference.acsc_icd10()["code"]:
        if len(code) == 3:
            out |= {code, *(code + c for c in _FOURTH)}
        else:
            out.add(code)
            if code.endswith("X"):
                out.add(code[:3])
    return frozenset(out)


#: Admissions are counted within 12 months of RD.
ACSC_WINDOW = Window("admissions", 12)


def _acsc_12m(frames: Frames, ctx: Context, population: Any) -> Any:
    keep = (
        (nw.col("admission_method") == "emergency")
        & ctx.within("admission_date", ACSC_WINDOW.months)
        & nw.col("primary_diagnosis").is_in(sorted(acsc_match_codes()))
    )
    return (
        frames.admissions.filter(keep)
        .group_by("patient_id")
        .agg(nw.len().alias("acsc_emergency_12m"))
    )


FEATURES: tuple[Feature, ...] = (
    Feature("acsc_emergency_12m", "registered", _acsc_12m, (ACSC_WINDOW,)),
)

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "ACSC_EMERG",
        "registered",
        denominator=always,
        numerator=lambda: nw.col("acsc_emergency_12m").fill_null(0),
        features=("acsc_emergency_12m",),
        needs=("admissions", "admissions.primary_diagnosis"),
        count_numerator=True,
    ),
)
