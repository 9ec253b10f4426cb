"""COPD: recorded prevalence and annual review.

* ``COPD_PREV``: registered, all ages; numerator on the COPD register (latest ``COPD_COD``
  on or before RD with no later ``COPDRES_COD``).
* ``COPD_REVIEW``: on the COPD register; a COPD review code within 12 months.
"""

from __future__ import annotations

from typing import Any

from bsol_analytics.dates import Window
from bsol_analytics.indicators.base import (
    Context,
    Feature,
    Frames,
    Indicator,
    flag,
    flag_indicator,
    patients_with,
    register_feature,
)

#: A COPD review counts within 12 months of RD.
REVIEW_WINDOW = Window("measurements", 12)


def _review(frames: Frames, ctx: Context, population: Any) -> Any:
    keep = ctx.coded_within("COPD_REVIEW", REVIEW_WINDOW.months)
    return patients_with(frames.events("COPD_REVIEW"), keep, "copd_review_12m")


FEATURES: tuple[Feature, ...] = (
    register_feature("copd_register", "COPD_COD", "COPDRES_COD", "on_copd_register"),
    Feature("copd_review_12m", "registered", _review, (REVIEW_WINDOW,)),
)

INDICATORS: tuple[Indicator, ...] = (
    flag_indicator("COPD_PREV", "on_copd_register", ["copd_register"]),
    flag_indicator(
        "COPD_REVIEW",
        "copd_review_12m",
        ["copd_register", "copd_review_12m"],
        denominator=lambda: flag("on_copd_register"),
    ),
)
