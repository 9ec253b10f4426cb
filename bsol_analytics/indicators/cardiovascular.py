"""Cardiovascular disease: lipid-lowering therapy and cholesterol in range (contract version 2).

Shared features (also used by the hypertension and diabetes families):

* **Cholesterol in range** (``chol_12m``): on the patient's latest date within 12 months of
  RD with an LDL or a non-HDL value, LDL <= 2.0 or non-HDL <= 2.6 mmol/L (where both are
  available on that date, either in range counts). Non-HDL cholesterol is a non-HDL code's
  value, or else total cholesterol minus HDL cholesterol recorded on the same date, rounded
  to 2 decimal places. Several values of one test on one date: the lowest (for HDL, the
  highest).
* **On lipid-lowering therapy** (``llt_6m``): a statin dm+d code issued within 6 months of RD.
* **CVD register** (``cvd_register``): any CHD, stroke, TIA or PAD code on or before RD
  (these registers have no resolved codes).

Indicators:

* ``CVD_LLT``: on the CVD register, aged 18+; on lipid-lowering therapy (needs medications).
* ``CVD_CHOL_RANGE``: on the CVD register, aged 18+; cholesterol in range.
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
    patients_with,
)
from bsol_analytics.vocabulary import CHOLESTEROL_CLUSTERS

#: The four CVD registers.
CVD_CLUSTERS: tuple[str, ...] = ("CHD_COD", "STRK_COD", "TIA_COD", "PAD_COD")
#: Cholesterol is read within 12 months of RD, statins issued within 6 months.
CHOLESTEROL_WINDOW = Window("cholesterol", 12)
STATIN_WINDOW = Window("medications", 6)
LDL_TARGET = 2.0
NONHDL_TARGET = 2.6


def cholesterol_by_date(events: Any, keep: nw.Expr) -> Any:
    """LDL and non-HDL cholesterol per patient and date (dates with either value only).

    Args:
        events: clinical events (``patient_id``, ``event_date``, ``cluster``,
            ``numeric_value``).
        keep: row filter, e.g. within 12 months of RD.

    Returns:
        ``patient_id``, ``event_date``, ``ldl``, ``non_hdl`` (either may be null).

    Examples:
        >>> import pandas as pd
        >>> ev = nw.from_native(pd.DataFrame({
        ...     "patient_id": [1, 1, 1, 1, 2],
        ...     "event_date": pd.to_datetime(["2025-01-02"] * 4 + ["2025-01-03"]),
        ...     "cluster": ["CHOL", "HDL", "HDL", "CHOL", "HDL"],
        ...     "numeric_value": [4.2, 1.5, 1.6, 4.5, 1.2]}))
        >>> cholesterol_by_date(ev, nw.lit(True)).to_native()
           patient_id event_date  ldl  non_hdl
        0           1 2025-01-02  NaN      2.6
    """
    value = nw.col("numeric_value")
    rows = events.filter(
        keep & nw.col("cluster").is_in(list(CHOLESTEROL_CLUSTERS)) & ~value.is_null()
    ).with_columns(
        nw.when(nw.col("cluster") == name).then(value).alias(f"_{name.lower()}")
        for name in CHOLESTEROL_CLUSTERS
    )
    per_day = rows.group_by("patient_id", "event_date").agg(
        nw.col("_chol").min(),
        nw.col("_hdl").max(),
        nw.col("_ldl").min(),
        nw.col("_nonhdl").min(),
    )
    derived = (nw.col("_chol") - nw.col("_hdl")).round(2)
    non_hdl = nw.when(nw.col("_nonhdl").is_null()).then(derived).otherwise(nw.col("_nonhdl"))
    return (
        per_day.with_columns(non_hdl.alias("non_hdl"), nw.col("_ldl").alias("ldl"))
        .filter(~nw.col("ldl").is_null() | ~nw.col("non_hdl").is_null())
        .select("patient_id", "event_date", "ldl", "non_hdl")
    )


def cholesterol_in_range(events: Any, keep: nw.Expr, column: str) -> Any:
    """``patient_id`` and a 0/1 ``column``: cholesterol in range on the latest date.

    See the module docstring for the rule.

    Examples:
        >>> import pandas as pd
        >>> ev = nw.from_native(pd.DataFrame({
        ...     "patient_id": [1, 1, 1, 2, 2],
        ...     "event_date": pd.to_datetime(["2024-06-01", "2025-01-02", "2025-01-02",
        ...                                   "2025-01-02", "2025-01-02"]),
        ...     "cluster": ["LDL", "LDL", "NONHDL", "LDL", "NONHDL"],
        ...     "numeric_value": [1.5, 2.1, 2.6, 2.1, 2.7]}))
        >>> cholesterol_in_range(ev, nw.lit(True), "ok").to_native().sort_values(
        ...     "patient_id").to_numpy().tolist()
        [[1, 1], [2, 0]]
    """
    by_date = cholesterol_by_date(events, keep)
    last = by_date.group_by("patient_id").agg(nw.col("event_date").max().alias("_last"))
    in_range = (nw.col("ldl") <= LDL_TARGET) | (nw.col("non_hdl") <= NONHDL_TARGET)
    on_last = by_date.join(last, on="patient_id", how="inner").filter(
        nw.col("event_date") == nw.col("_last")
    )
    return on_last.select("patient_id", in_range.fill_null(False).cast(nw.Int8).alias(column))


def _chol_12m(frames: Frames, ctx: Context, population: Any) -> Any:
    events = frames.events(*CHOLESTEROL_CLUSTERS)
    keep = ctx.within("event_date", CHOLESTEROL_WINDOW.months)
    return cholesterol_in_range(events, keep, "chol_in_range")


def _llt_6m(frames: Frames, ctx: Context, population: Any) -> Any:
    keep = (nw.col("drug_group") == "LLT") & ctx.within("issue_date", STATIN_WINDOW.months)
    return patients_with(frames.medications, keep, "on_llt")


def _cvd_register(frames: Frames, ctx: Context, population: Any) -> Any:
    keep = nw.col("cluster").is_in(list(CVD_CLUSTERS)) & ctx.on_or_before("event_date")
    return patients_with(frames.events(*CVD_CLUSTERS), keep, "on_cvd_register")


FEATURES: tuple[Feature, ...] = (
    Feature("chol_12m", "registered", _chol_12m, (CHOLESTEROL_WINDOW,)),
    Feature("llt_6m", "registered", _llt_6m, (STATIN_WINDOW,)),
    Feature("cvd_register", "registered", _cvd_register),
)


def _cvd_adult() -> nw.Expr:
    return flag("on_cvd_register") & (age() >= 18)


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "CVD_LLT",
        "registered",
        denominator=_cvd_adult,
        numerator=lambda: flag("on_llt"),
        features=("cvd_register", "llt_6m"),
        needs=("medications",),
    ),
    Indicator(
        "CVD_CHOL_RANGE",
        "registered",
        denominator=_cvd_adult,
        numerator=lambda: flag("chol_in_range"),
        features=("cvd_register", "chol_12m"),
        needs=("cholesterol",),
    ),
)
