"""Cancer screening coverage (adequate tests only; no cessations in version 1).

* ``SCR_BREAST``: registered women aged 53-70; adequate breast test within 36 months.
* ``SCR_CERVICAL_25_49``: registered women aged 25-49; adequate cervical test within 42
  months.
* ``SCR_CERVICAL_50_64``: registered women aged 50-64; adequate cervical test within 66
  months.
* ``SCR_BOWEL``: registered persons aged 60-74; adequate bowel test within 30 months.
"""

from __future__ import annotations

import functools
from typing import Any

import narwhals as nw

from bsol_analytics.dates import Window
from bsol_analytics.indicators.base import (
    Context,
    Feature,
    Frames,
    Indicator,
    age,
    flag_indicator,
    sex_is,
)

#: feature column -> (programme, months)
WINDOWS: dict[str, tuple[str, int]] = {
    "breast_36m": ("breast", 36),
    "cervical_42m": ("cervical", 42),
    "cervical_66m": ("cervical", 66),
    "bowel_30m": ("bowel", 30),
}

#: indicator id -> (eligible sex or None for persons, lowest age, highest age, window column)
COVERAGE: dict[str, tuple[str | None, int, int, str]] = {
    "SCR_BREAST": ("F", 53, 70, "breast_36m"),
    "SCR_CERVICAL_25_49": ("F", 25, 49, "cervical_42m"),
    "SCR_CERVICAL_50_64": ("F", 50, 64, "cervical_66m"),
    "SCR_BOWEL": (None, 60, 74, "bowel_30m"),
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


def eligible(sex: str | None, lo: int, hi: int) -> nw.Expr:
    """Registered patients aged ``lo`` to ``hi`` (inclusive), of one sex unless ``None``.

    Examples:
        >>> import pandas as pd
        >>> df = nw.from_native(pd.DataFrame({"sex": ["F", "M", "F"], "age": [52, 60, 70]}))
        >>> df.select(eligible("F", 53, 70).alias("e")).to_native()["e"].tolist()
        [False, False, True]
    """
    ages = (age() >= lo) & (age() <= hi)
    return ages if sex is None else sex_is(sex) & ages


INDICATORS: tuple[Indicator, ...] = tuple(
    flag_indicator(
        id,
        column,
        ["screening_tests"],
        functools.partial(eligible, sex, lo, hi),
        windows=(Window("screening", WINDOWS[column][1]),),
    )
    for id, (sex, lo, hi, column) in COVERAGE.items()
)
