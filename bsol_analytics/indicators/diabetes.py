"""Diabetes: recorded prevalence (17+) and HbA1c control.

* ``DM_PREV``: registered aged 17+; numerator on the DM register (latest ``DM_COD`` on or
  before RD with no later ``DMRES_COD``).
* ``DM_HBA1C_58``: on the DM register and aged 17+; latest HbA1c within 12 months at or
  below 58 mmol/mol (the lowest value on the latest date when there are several).

Version 2 rules:

* ``DM_BP_140_80``: on the DM register, aged 17+; latest BP within 12 months (paired as
  HYP_BP_TARGET) with systolic <= 140 and diastolic <= 80.
* ``DM_3TT``: on the DM register, aged 17+; HbA1c <= 58 and BP <= 140/80 and, if aged 40 or
  over, on lipid-lowering therapy (a statin issued within 6 months; needs medications).
* ``diabetes_type`` (a breakdown key, :func:`diabetes_type`): the type of the latest type 1
  or type 2 code on or before RD; neither, or both on that same latest date, is ``Unknown``.
  DM_PREV broken down by type splits its numerator and keeps its denominator (all
  registered patients aged 17+).
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
    latest_dates,
    latest_value,
    register_feature,
)

#: Values of the ``diabetes_type`` key.
DIABETES_TYPES: tuple[str, ...] = ("Type 1", "Type 2", "Unknown")


def diabetes_type(events: Any, ctx: Context) -> Any:
    """``patient_id`` and ``diabetes_type`` for patients with a type 1 or type 2 code.

    Patients absent from the result are ``Unknown``.

    Examples:
        >>> import datetime as dt
        >>> import pandas as pd
        >>> ev = nw.from_native(pd.DataFrame({
        ...     "patient_id": [1, 1, 2, 2, 3],
        ...     "event_date": pd.to_datetime(["2020-01-01", "2022-01-01", "2021-01-01",
        ...                                   "2021-01-01", "2024-01-01"]),
        ...     "cluster": ["DMTYPE1_COD", "DMTYPE2_COD", "DMTYPE1_COD", "DMTYPE2_COD",
        ...                 "DMTYPE1_COD"]}))
        >>> diabetes_type(ev, Context(dt.date(2025, 3, 31))).to_native().sort_values(
        ...     "patient_id")["diabetes_type"].tolist()
        ['Type 2', 'Unknown', 'Type 1']
    """
    last = latest_dates(
        events, {"_t1": "DMTYPE1_COD", "_t2": "DMTYPE2_COD"}, ctx.on_or_before("event_date")
    )
    t1, t2 = nw.col("_t1"), nw.col("_t2")
    kind = (
        nw.when(t2.is_null() | (t1 > t2))
        .then(nw.lit("Type 1"))
        .when(t1.is_null() | (t2 > t1))
        .then(nw.lit("Type 2"))
        .otherwise(nw.lit("Unknown"))
    )
    return last.select("patient_id", kind.alias("diabetes_type"))


#: The latest HbA1c is read within 12 months of RD.
HBA1C_WINDOW = Window("measurements", 12)


def _hba1c(frames: Frames, ctx: Context, population: Any) -> Any:
    keep = ctx.coded_within("HBA1C", HBA1C_WINDOW.months)
    return latest_value(frames.events("HBA1C"), keep, "hba1c_latest_12m")


FEATURES: tuple[Feature, ...] = (
    register_feature("dm_register", "DM_COD", "DMRES_COD", "on_dm_register"),
    Feature("hba1c_12m", "registered", _hba1c, (HBA1C_WINDOW,)),
)


def _dm_adult() -> nw.Expr:
    return flag("on_dm_register") & (age() >= 17)


def _hba1c_58() -> nw.Expr:
    return (nw.col("hba1c_latest_12m") <= 58).fill_null(False)


def _bp_140_80() -> nw.Expr:
    return ((nw.col("bp_systolic") <= 140) & (nw.col("bp_diastolic") <= 80)).fill_null(False)


def _three_targets() -> nw.Expr:
    return _hba1c_58() & _bp_140_80() & ((age() < 40) | flag("on_llt"))


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "DM_PREV",
        "registered",
        denominator=lambda: age() >= 17,
        numerator=lambda: flag("on_dm_register"),
        features=("dm_register",),
        whole_denominator_keys=("diabetes_type",),
    ),
    Indicator(
        "DM_HBA1C_58",
        "registered",
        denominator=_dm_adult,
        numerator=_hba1c_58,
        features=("dm_register", "hba1c_12m"),
    ),
    Indicator(
        "DM_BP_140_80",
        "registered",
        denominator=_dm_adult,
        numerator=_bp_140_80,
        features=("dm_register", "bp_latest_12m"),
    ),
    Indicator(
        "DM_3TT",
        "registered",
        denominator=_dm_adult,
        numerator=_three_targets,
        features=("dm_register", "hba1c_12m", "bp_latest_12m", "llt_6m"),
        needs=("medications",),
    ),
)
