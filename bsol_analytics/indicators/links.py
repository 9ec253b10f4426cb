"""Counts shared between indicators, as data (used by disclosure control).

Two indicators often publish the same count: the hypertension register is ``HYP_PREV``'s
numerator and ``HYP_BP_TARGET``'s denominator; ``HYP_PREV``, ``COPD_PREV`` and ``PC_REG``
share the registered list as denominator. A count hidden in one indicator and published in
another is not hidden at all, so :mod:`bsol_analytics.sdc.relations` turns every record
below into one linear relation per cell key (reporting date, view, area, breakdown and
group) where all the named cells are published.

* ``equal``: the summed ``left`` counts equal the summed ``right`` counts.
* ``at_most``: the summed ``left`` counts are at most the summed ``right`` counts (nested
  populations, numerators that are part of another numerator).

A side is a tuple of ``(indicator id, "numerator" | "denominator")``. The ids follow
``indicators/registry.py`` and the family modules; ids a run does not publish are skipped.
``<ID>_DSR`` and ``<ID>_RVE`` rows carry their base's numerator (and ``_DSR`` its
denominator): see :func:`derived_links`.

Examples:
    >>> [link.kind for link in COUNT_LINKS[:2]]
    ['equal', 'equal']
    >>> link_records()[["kind", "side", "indicator_id", "field"]].head(3)
        kind   side   indicator_id        field
    0  equal   left       HYP_PREV    numerator
    1  equal  right  HYP_BP_TARGET  denominator
    2  equal   left       HYP_PREV  denominator
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from bsol_analytics.indicators.end_of_life import BLANK_PLACE_ID

Field = Literal["numerator", "denominator"]
Side = tuple[tuple[str, Field], ...]

NUM: Field = "numerator"
DEN: Field = "denominator"


@dataclass(frozen=True)
class CountLink:
    """One relation between counts of different indicators in the same cell.

    Attributes:
        kind: ``"equal"`` or ``"at_most"`` (left <= right).
        left: the counts summed on the left.
        right: the counts summed on the right.
        note: why the relation holds, in words.
    """

    kind: Literal["equal", "at_most"]
    left: Side
    right: Side
    note: str


def _eq(left: Side, right: Side, note: str) -> CountLink:
    return CountLink("equal", left, right, note)


def _le(left: Side, right: Side, note: str) -> CountLink:
    return CountLink("at_most", left, right, note)


_REGISTERED = "registered patients, all ages"
_DECEDENTS = "decedents registered at death within 12 months"
_EOL = (
    "EOL_HOME_CARE_HOME",
    "EOL_HOSPITAL",
    "EOL_ON_PC_REG",
    "EOL_3PLUS_EMERG",
    "EOL_CARE_PLAN",
    "EOL_ED_3PLUS",
    "EOL_ED_MEAN",
)

#: Every count shared between indicators (``docs/disclosure-control.md``).
COUNT_LINKS: tuple[CountLink, ...] = (
    # registers used as another indicator's denominator
    _eq((("HYP_PREV", NUM),), (("HYP_BP_TARGET", DEN),), "hypertension register"),
    _eq((("HYP_PREV", DEN),), (("COPD_PREV", DEN),), _REGISTERED),
    _eq((("HYP_PREV", DEN),), (("PC_REG", DEN),), _REGISTERED),
    _eq((("HYP_PREV", DEN),), (("POPULATION", NUM),), _REGISTERED),
    _eq((("HYP_PREV", NUM),), (("HYP_CHOL_RANGE", DEN),), "hypertension register"),
    _eq((("HYP_PREV", NUM),), (("HYP_BP_CHOL", DEN),), "hypertension register"),
    _eq((("COPD_PREV", NUM),), (("COPD_REVIEW", DEN),), "COPD register"),
    _eq((("DM_PREV", NUM),), (("DM_HBA1C_58", DEN),), "diabetes register, 17+"),
    _eq((("DM_PREV", NUM),), (("DM_BP_140_80", DEN),), "diabetes register, 17+"),
    _eq((("DM_PREV", NUM),), (("DM_3TT", DEN),), "diabetes register, 17+"),
    _eq((("CVD_LLT", DEN),), (("CVD_CHOL_RANGE", DEN),), "CVD register, 18+"),
    # the end-of-life indicators share the decedents
    *(_eq(((_EOL[0], DEN),), ((other, DEN),), _DECEDENTS) for other in _EOL[1:]),
    # numerators that are part of another numerator
    _le((("HYP_BP_CHOL", NUM),), (("HYP_BP_TARGET", NUM),), "BP and cholesterol in range"),
    _le((("HYP_BP_CHOL", NUM),), (("HYP_CHOL_RANGE", NUM),), "BP and cholesterol in range"),
    _le((("DM_3TT", NUM),), (("DM_HBA1C_58", NUM),), "all three treatment targets"),
    _le((("DM_3TT", NUM),), (("DM_BP_140_80", NUM),), "all three treatment targets"),
    _le(
        (("EOL_HOME_CARE_HOME", NUM), ("EOL_HOSPITAL", NUM)),
        (("EOL_HOME_CARE_HOME", DEN),),
        "one place of death per decedent",
    ),
    # deaths with no recorded place (a pack's data-quality note) are none of those places
    _eq(((BLANK_PLACE_ID, DEN),), ((_EOL[0], DEN),), _DECEDENTS),
    _le(
        (("EOL_HOME_CARE_HOME", NUM), ("EOL_HOSPITAL", NUM), (BLANK_PLACE_ID, NUM)),
        (("EOL_HOME_CARE_HOME", DEN),),
        "one place of death per decedent, or none recorded",
    ),
    # nested age ranges of the registered list
    _le((("DM_PREV", DEN),), (("HYP_PREV", DEN),), "aged 17+ within all ages"),
    _le((("HYP_BP_CHECK_45", DEN),), (("DM_PREV", DEN),), "aged 45+ within 17+"),
    _le((("HYP_POSSIBLE", DEN),), (("DM_PREV", DEN),), "aged 18+ within 17+"),
    _le(
        (("HYP_POSSIBLE", DEN), ("HYP_PREV", NUM)),
        (("HYP_PREV", DEN),),
        "18+ not on the register, plus the register, within all ages",
    ),
    _le((("SCR_BOWEL", DEN),), (("HYP_BP_CHECK_45", DEN),), "aged 60-74 within 45+"),
    _le((("SCR_BREAST", DEN),), (("HYP_BP_CHECK_45", DEN),), "women 53-70 within 45+"),
    _le((("SCR_CERVICAL_50_64", DEN),), (("HYP_BP_CHECK_45", DEN),), "women 50-64 within 45+"),
    _le(
        (("SCR_CERVICAL_25_49", DEN), ("SCR_CERVICAL_50_64", DEN)),
        (("DM_PREV", DEN),),
        "women 25-49 and 50-64 within 17+",
    ),
    _le((("CVD_LLT", DEN),), (("DM_PREV", DEN),), "aged 18+ within 17+"),
    _le((("MORT_CANCER_U75", DEN),), (("HYP_PREV", DEN),), "aged 0-74 within all ages"),
)

#: Indicator ids whose numerator is not a subset of its denominator (rates and means).
NOT_PROPORTIONS: frozenset[str] = frozenset(
    {"ACSC_EMERG", "EOL_ED_MEAN", "LE_BIRTH", "LE_SII", "MORT_CANCER_U75"}
)

#: Indicator and breakdown whose denominator is not split by the breakdown's groups (each
#: group's denominator is the whole one): DM_PREV by diabetes type (data contract v2).
UNSPLIT_DENOMINATORS: frozenset[tuple[str, str]] = frozenset({("DM_PREV", "diabetes_type")})


def derived_links(ids: Iterable[str]) -> tuple[CountLink, ...]:
    """The links of derived rows to their base indicator, for the ids present.

    ``<ID>_DSR`` carries its base's numerator and denominator; ``<ID>_RVE`` and ``<ID>_ISR``
    its numerator (their denominator is an expected count, not people).

    Examples:
        >>> [(k.left, k.right) for k in derived_links(["HYP_PREV", "HYP_PREV_RVE"])]
        [((('HYP_PREV_RVE', 'numerator'),), (('HYP_PREV', 'numerator'),))]
    """
    present = set(ids)
    out: list[CountLink] = []
    for i in sorted(present):
        base, _, suffix = i.rpartition("_")
        if base not in present:
            continue
        if suffix == "DSR":
            out.append(_eq(((i, NUM),), ((base, NUM),), "same counts as the base"))
            out.append(_eq(((i, DEN),), ((base, DEN),), "same counts as the base"))
        elif suffix in ("RVE", "ISR"):
            out.append(_eq(((i, NUM),), ((base, NUM),), "same register as the base"))
    return tuple(out)


def link_records(links: Iterable[CountLink] = COUNT_LINKS) -> pd.DataFrame:
    """The links as a long frame: one row per count named, with the link's number.

    Returns:
        A new frame ``link, kind, side (left/right), indicator_id, field, note``.

    Examples:
        >>> link_records(derived_links(["X", "X_DSR"]))["field"].tolist()
        ['numerator', 'numerator', 'denominator', 'denominator']
    """
    rows = [
        (n, link.kind, side, ind, field, link.note)
        for n, link in enumerate(links)
        for side, counts in (("left", link.left), ("right", link.right))
        for ind, field in counts
    ]
    return pd.DataFrame(rows, columns=["link", "kind", "side", "indicator_id", "field", "note"])
