"""COPD: recorded prevalence and annual review.

* ``COPD_PREV``: registered, all ages; numerator on the COPD register (latest ``COPD_COD``
  on or before RD with no later ``COPDRES_COD``).
* ``COPD_REVIEW``: on the COPD register; a COPD review code within 12 months.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from bsol_analytics.indicators.base import (
    Context,
    Feature,
    Frames,
    Indicator,
    always,
    flag,
    latest_dates,
    on_register,
    patients_with,
)


def _register(frames: Frames, ctx: Context, population: Any) -> Any:
    last = latest_dates(
        frames.clinical_events,
        {"_copd": "COPD_COD", "_copdres": "COPDRES_COD"},
        ctx.on_or_before("event_date"),
    )
    return last.select(
        "patient_id", on_register("_copd", "_copdres").cast(nw.Int8).alias("on_copd_register")
    )


def _review(frames: Frames, ctx: Context, population: Any) -> Any:
    keep = (nw.col("cluster") == "COPD_REVIEW") & ctx.within("event_date", 12)
    return patients_with(frames.clinical_events, keep, "copd_review_12m")


FEATURES: tuple[Feature, ...] = (
    Feature("copd_register", "registered", _register),
    Feature("copd_review_12m", "registered", _review),
)

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "COPD_PREV",
        "registered",
        denominator=always,
        numerator=lambda: flag("on_copd_register"),
        features=("copd_register",),
    ),
    Indicator(
        "COPD_REVIEW",
        "registered",
        denominator=lambda: flag("on_copd_register"),
        numerator=lambda: flag("copd_review_12m"),
        features=("copd_register", "copd_review_12m"),
    ),
)
