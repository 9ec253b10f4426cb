"""Palliative care register and end of life.

* ``PC_REG``: registered, all ages; on the palliative care register (latest ``PALCARE_COD``
  on or before RD with no later ``PALCARENI_COD``).

The end-of-life indicators share one population, the *decedents*: patients who died within
12 months of RD (``RD - 12 months < date_of_death <= RD``) and were registered at death
(``registration_start <= date_of_death`` and ``registration_end`` blank or on or after the
date of death, since practices end a registration on the day of death). Age is at death.

* ``EOL_HOME_CARE_HOME``: place of death home or care home.
* ``EOL_HOSPITAL``: place of death hospital.
* ``EOL_ON_PC_REG``: on the palliative care register on the day before death (codes dated
  before the date of death, same register rule).
* ``EOL_3PLUS_EMERG``: 3 or more emergency admissions in the 90 days up to death
  (``date_of_death - 90 days < admission_date <= date_of_death``). Only computed when the
  extract supplied admissions.
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
)


def decedents(patients: Any, ctx: Context) -> nw.Expr:
    """Row filter for the decedent population at ``ctx.rd`` (see the module docstring)."""
    dod = nw.col("date_of_death")
    end = nw.col("registration_end")
    return (
        ctx.within("date_of_death", 12)
        & (nw.col("registration_start") <= dod)
        & (end.is_null() | (end >= dod))
    )


def _pc_register(frames: Frames, ctx: Context, population: Any) -> Any:
    last = latest_dates(
        frames.clinical_events,
        {"_pc": "PALCARE_COD", "_pcni": "PALCARENI_COD"},
        ctx.on_or_before("event_date"),
    )
    return last.select(
        "patient_id", on_register("_pc", "_pcni").cast(nw.Int8).alias("on_pc_register")
    )


def _pc_before_death(frames: Frames, ctx: Context, population: Any) -> Any:
    deaths = population.select("patient_id", "date_of_death")
    events = frames.clinical_events.filter(
        nw.col("cluster").is_in(["PALCARE_COD", "PALCARENI_COD"])
    ).join(deaths, on="patient_id", how="inner")
    last = latest_dates(
        events,
        {"_pc": "PALCARE_COD", "_pcni": "PALCARENI_COD"},
        nw.col("event_date") < nw.col("date_of_death"),
    )
    return last.select(
        "patient_id", on_register("_pc", "_pcni").cast(nw.Int8).alias("on_pc_register_eve")
    )


def _emergency_90d(frames: Frames, ctx: Context, population: Any) -> Any:
    deaths = population.select("patient_id", "date_of_death")
    dod = nw.col("date_of_death")
    day = nw.col("admission_date")
    return (
        frames.admissions.filter(nw.col("admission_method") == "emergency")
        .join(deaths, on="patient_id", how="inner")
        .filter((day <= dod) & (day > dod.dt.offset_by("-90d")))
        .group_by("patient_id")
        .agg(nw.len().alias("emergency_admissions_90d"))
    )


FEATURES: tuple[Feature, ...] = (
    Feature("pc_register", "registered", _pc_register),
    Feature("pc_register_before_death", "decedents", _pc_before_death),
    Feature("emergency_admissions_90d", "decedents", _emergency_90d),
)


def _place(*places: str) -> nw.Expr:
    return nw.col("place_of_death").is_in(list(places)).fill_null(False)


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "PC_REG",
        "registered",
        denominator=always,
        numerator=lambda: flag("on_pc_register"),
        features=("pc_register",),
    ),
    Indicator(
        "EOL_HOME_CARE_HOME",
        "decedents",
        denominator=always,
        numerator=lambda: _place("home", "care home"),
    ),
    Indicator(
        "EOL_HOSPITAL",
        "decedents",
        denominator=always,
        numerator=lambda: _place("hospital"),
    ),
    Indicator(
        "EOL_ON_PC_REG",
        "decedents",
        denominator=always,
        numerator=lambda: flag("on_pc_register_eve"),
        features=("pc_register_before_death",),
    ),
    Indicator(
        "EOL_3PLUS_EMERG",
        "decedents",
        denominator=always,
        numerator=lambda: (nw.col("emergency_admissions_90d") >= 3).fill_null(False),
        features=("emergency_admissions_90d",),
        needs_admissions=True,
    ),
)
