"""Cancer screening coverage (adequate tests only; no cessations in version 1).

* ``SCR_BREAST``: registered women aged 53-70; adequate breast test within 36 months.
* ``SCR_CERVICAL_25_49``: registered women aged 25-49; adequate cervical test within 42
  months.
* ``SCR_CERVICAL_50_64``: registered women aged 50-64; adequate cervical test within 66
  months.
* ``SCR_BOWEL``: registered persons aged 60-74; adequate bowel test within 30 months.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from bsol_analytics.indicators.base import (
    Context,
    Feature,
    Frames,
    Indicator,
    age,
    flag,
    sex_is,
)

#: feature column -> (programme, months)
WINDOWS: dict[str, tuple[str, int]] = {
    "breast_36m": ("breast", 36),
    "cervical_42m": ("cervical", 42),
    "cervical_66m": ("cervical", 66),
    "bowel_30m": ("bowel", 30),
}


def _tests(frames: Frames, ctx: Context, population: Any) -> Any:
    longest = max(months for _, months in WINDOWS.values())
    kept = frames.screening.filter(
        (nw.col("outcome") == "adequate") & ctx.within("test_date", longest)
    )
    marked = kept.with_columns(
        nw.when((nw.col("programme") == programme) & ctx.within("test_date", months))
        .then(nw.lit(1))
        .otherwise(nw.lit(0))
        .alias(name)
        for name, (programme, months) in WINDOWS.items()
    )
    counted = marked.group_by("patient_id").agg(nw.col(name).max() for name in WINDOWS)
    return counted.select("patient_id", *(nw.col(name).cast(nw.Int8) for name in WINDOWS))


FEATURES: tuple[Feature, ...] = (Feature("screening_tests", "registered", _tests),)


def _women(lo: int, hi: int) -> nw.Expr:
    return sex_is("F") & (age() >= lo) & (age() <= hi)


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "SCR_BREAST",
        "registered",
        denominator=lambda: _women(53, 70),
        numerator=lambda: flag("breast_36m"),
        features=("screening_tests",),
    ),
    Indicator(
        "SCR_CERVICAL_25_49",
        "registered",
        denominator=lambda: _women(25, 49),
        numerator=lambda: flag("cervical_42m"),
        features=("screening_tests",),
    ),
    Indicator(
        "SCR_CERVICAL_50_64",
        "registered",
        denominator=lambda: _women(50, 64),
        numerator=lambda: flag("cervical_66m"),
        features=("screening_tests",),
    ),
    Indicator(
        "SCR_BOWEL",
        "registered",
        denominator=lambda: (age() >= 60) & (age() <= 74),
        numerator=lambda: flag("bowel_30m"),
        features=("screening_tests",),
    ),
)
