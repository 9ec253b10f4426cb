"""Hypertension: recorded prevalence, treatment to target, BP checks, possible undiagnosed.

Definitions (docs/data-contract.md, version 1 rules):

* ``HYP_PREV``: registered, all ages; numerator on the HYP register (latest ``HYP_COD`` on
  or before RD with no later ``HYPRES_COD``).
* ``HYP_BP_TARGET``: on the register; latest BP within 12 months at or below 140/90 (aged
  under 80) or 150/90 (aged 80 and over). The systolic and diastolic values are those on the
  patient's latest date within the window that has both (lowest of each on that date).
* ``HYP_BP_CHECK_45``: registered aged 45+; any systolic BP within 60 months.
* ``HYP_POSSIBLE``: registered aged 18+ not on the register; that latest paired BP within
  12 months is at least 140 systolic or at least 90 diastolic.

Version 2 rules:

* ``HYP_CHOL_RANGE``: on the register; cholesterol in range (LDL <= 2.0 or non-HDL <= 2.6
  mmol/L on the latest date within 12 months with either; see ``cardiovascular``).
* ``HYP_BP_CHOL``: on the register; meets both HYP_BP_TARGET and HYP_CHOL_RANGE (seed
  measure 12). Its numerator is part of HYP_BP_TARGET's numerator.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from bsol_analytics.dates import Window
from bsol_analytics.indicators.base import (
    Context,
    Feature,
    Frames,
    Indicator,
    age,
    flag,
    flag_indicator,
    latest_paired_reading,
    patients_with,
    register_feature,
)

#: The latest blood pressure is read within 12 months of RD (also for diabetes).
BP_WINDOW = Window("measurements", 12)
#: The blood-pressure check reads any systolic reading within 60 months.
BP_CHECK_WINDOW = Window("measurements", 60)


def _latest_bp(frames: Frames, ctx: Context, population: Any) -> Any:
    return latest_paired_reading(
        frames.events("SBP", "DBP"),
        ctx.within("event_date", BP_WINDOW.months),
        ("SBP", "bp_systolic"),
        ("DBP", "bp_diastolic"),
    )


def _sbp_60m(frames: Frames, ctx: Context, population: Any) -> Any:
    keep = ctx.coded_within("SBP", BP_CHECK_WINDOW.months)
    return patients_with(frames.events("SBP"), keep, "sbp_within_60m")


FEATURES: tuple[Feature, ...] = (
    register_feature("hyp_register", "HYP_COD", "HYPRES_COD", "on_hyp_register"),
    Feature("bp_latest_12m", "registered", _latest_bp, (BP_WINDOW,)),
    Feature("sbp_60m", "registered", _sbp_60m, (BP_CHECK_WINDOW,)),
)


def _bp_at_target() -> nw.Expr:
    sys, dia = nw.col("bp_systolic"), nw.col("bp_diastolic")
    under_80 = (age() < 80) & (sys <= 140) & (dia <= 90)
    over_80 = (age() >= 80) & (sys <= 150) & (dia <= 90)
    return (under_80 | over_80).fill_null(False)


def _bp_raised() -> nw.Expr:
    return ((nw.col("bp_systolic") >= 140) | (nw.col("bp_diastolic") >= 90)).fill_null(False)


INDICATORS: tuple[Indicator, ...] = (
    flag_indicator("HYP_PREV", "on_hyp_register", ["hyp_register"]),
    Indicator(
        "HYP_BP_TARGET",
        "registered",
        denominator=lambda: flag("on_hyp_register"),
        numerator=_bp_at_target,
        features=("hyp_register", "bp_latest_12m"),
    ),
    flag_indicator("HYP_BP_CHECK_45", "sbp_within_60m", ["sbp_60m"], lambda: age() >= 45),
    Indicator(
        "HYP_POSSIBLE",
        "registered",
        denominator=lambda: (age() >= 18) & ~flag("on_hyp_register"),
        numerator=_bp_raised,
        features=("hyp_register", "bp_latest_12m"),
    ),
    Indicator(
        "HYP_CHOL_RANGE",
        "registered",
        denominator=lambda: flag("on_hyp_register"),
        numerator=lambda: flag("chol_in_range"),
        features=("hyp_register", "chol_12m"),
        needs=("cholesterol",),
    ),
    Indicator(
        "HYP_BP_CHOL",
        "registered",
        denominator=lambda: flag("on_hyp_register"),
        numerator=lambda: _bp_at_target() & flag("chol_in_range"),
        features=("hyp_register", "bp_latest_12m", "chol_12m"),
        needs=("cholesterol",),
    ),
)
