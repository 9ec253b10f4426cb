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
    latest_dates,
    latest_value,
    on_register,
)


def _register(frames: Frames, ctx: Context, population: Any) -> Any:
    last = latest_dates(
        frames.clinical_events,
        {"_dm": "DM_COD", "_dmres": "DMRES_COD"},
        ctx.on_or_before("event_date"),
    )
    return last.select(
        "patient_id", on_register("_dm", "_dmres").cast(nw.Int8).alias("on_dm_register")
    )


def _hba1c(frames: Frames, ctx: Context, population: Any) -> Any:
    keep = (nw.col("cluster") == "HBA1C") & ctx.within("event_date", 12)
    return latest_value(frames.clinical_events, keep, "hba1c_latest_12m")


FEATURES: tuple[Feature, ...] = (
    Feature("dm_register", "registered", _register),
    Feature("hba1c_12m", "registered", _hba1c),
)

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "DM_PREV",
        "registered",
        denominator=lambda: age() >= 17,
        numerator=lambda: flag("on_dm_register"),
        features=("dm_register",),
    ),
    Indicator(
        "DM_HBA1C_58",
        "registered",
        denominator=lambda: flag("on_dm_register") & (age() >= 17),
        numerator=lambda: (nw.col("hba1c_latest_12m") <= 58).fill_null(False),
        features=("dm_register", "hba1c_12m"),
    ),
)
