"""Diabetes: recorded prevalence (17+) and HbA1c control.

* ``DM_PREV``: registered aged 17+; numerator on the DM register (latest ``DM_COD`` on or
  before RD with no later ``DMRES_COD``).
* ``DM_HBA1C_58``: on the DM register and aged 17+; latest HbA1c within 12 months at or
  below 58 mmol/mol (the lowest value on the latest date when there are several).
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
    flag_indicator,
    latest_value,
    register_feature,
)


def _hba1c(frames: Frames, ctx: Context, population: Any) -> Any:
    keep = ctx.coded_within("HBA1C", 12)
    return latest_value(frames.clinical_events, keep, "hba1c_latest_12m")


FEATURES: tuple[Feature, ...] = (
    register_feature("dm_register", "DM_COD", "DMRES_COD", "on_dm_register"),
    Feature("hba1c_12m", "registered", _hba1c),
)

INDICATORS: tuple[Indicator, ...] = (
    flag_indicator("DM_PREV", "on_dm_register", ["dm_register"], lambda: age() >= 17),
    Indicator(
        "DM_HBA1C_58",
        "registered",
        denominator=lambda: flag("on_dm_register") & (age() >= 17),
        numerator=lambda: (nw.col("hba1c_latest_12m") <= 58).fill_null(False),
        features=("dm_register", "hba1c_12m"),
    ),
)
