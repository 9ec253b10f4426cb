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

Version 2 rules (same decedents):

* ``EOL_CARE_PLAN``: a care-planning code (``eol-care-planning-filtered.csv``: end-of-life,
  advance care or ReSPECT plans) dated on or before the day before death.
* ``EOL_ED_3PLUS``: 3 or more ED attendances with
  ``date_of_death - 90 days < attendance_date <= date_of_death`` (needs ed_attendances).
* ``EOL_ED_MEAN``: the total of those attendances over all decedents, a rate per decedent
  (the numerator is a count; a Byar 95% CI applies to the total).
"""

from __future__ import annotations

import functools
from typing import Any

import narwhals as nw

from bsol_analytics.dates import Window
from bsol_analytics.indicators.base import (
    DECEDENT_MONTHS,
    Context,
    Feature,
    Frames,
    Indicator,
    always,
    flag_indicator,
    patients_with,
    register_feature,
    register_flag,
)

#: Admissions and ED attendances count in the 90 days up to each death.
DAYS_BEFORE_DEATH = 90
#: The windows they read back from RD: the decedents' 12 months, then 90 days more.
ADMISSIONS_WINDOW = Window("admissions", DECEDENT_MONTHS, DAYS_BEFORE_DEATH)
ED_WINDOW = Window("ed_attendances", DECEDENT_MONTHS, DAYS_BEFORE_DEATH)


def decedents(patients: Any, ctx: Context, months: int = DECEDENT_MONTHS) -> nw.Expr:
    """Row filter for the decedent population at ``ctx.rd`` (see the module docstring).

    Args:
        patients: the patients frame the filter is applied to (kept for symmetry with the
            other population filters; the expression only names its columns).
        ctx: the evaluation context.
        months: the window: deaths within this many months of RD (12; 36 for LE_BIRTH).

    Examples:
        >>> import datetime as dt
        >>> import pandas as pd
        >>> d = lambda *v: pd.to_datetime(list(v))
        >>> people = nw.from_native(pd.DataFrame({
        ...     "registration_start": d("2000-01-01", "2000-01-01", "2000-01-01"),
        ...     "registration_end": d("2024-06-01", "2024-05-01", None),
        ...     "date_of_death": d("2024-06-01", "2024-06-01", "2024-03-31")}))
        >>> ctx = Context(dt.date(2025, 3, 31))
        >>> people.select(decedents(people, ctx).alias("d")).to_native()["d"].tolist()
        [True, False, False]
    """
    dod = nw.col("date_of_death")
    end = nw.col("registration_end")
    return (
        ctx.within("date_of_death", months)
        & (nw.col("registration_start") <= dod)
        & (end.is_null() | (end >= dod))
    )


def _pc_before_death(frames: Frames, ctx: Context, population: Any) -> Any:
    deaths = population.select("patient_id", "date_of_death")
    events = frames.events("PALCARE_COD", "PALCARENI_COD").join(
        deaths, on="patient_id", how="inner"
    )
    before_death = nw.col("event_date") < nw.col("date_of_death")
    return register_flag(events, "PALCARE_COD", "PALCARENI_COD", before_death, "on_pc_register_eve")


def _emergency_90d(frames: Frames, ctx: Context, population: Any) -> Any:
    deaths = population.select("patient_id", "date_of_death")
    dod = nw.col("date_of_death")
    day = nw.col("admission_date")
    return (
        frames.admissions.filter(nw.col("admission_method") == "emergency")
        .join(deaths, on="patient_id", how="inner")
        .filter((day <= dod) & (day > dod.dt.offset_by(f"-{DAYS_BEFORE_DEATH}d")))
        .group_by("patient_id")
        .agg(nw.len().alias("emergency_admissions_90d"))
    )


def _care_plan(frames: Frames, ctx: Context, population: Any) -> Any:
    deaths = population.select("patient_id", "date_of_death")
    events = frames.events("CARE_PLAN").join(deaths, on="patient_id", how="inner")
    before_death = nw.col("event_date") < nw.col("date_of_death")
    return patients_with(events, before_death, "care_plan_before_death")


def _ed_90d(frames: Frames, ctx: Context, population: Any) -> Any:
    deaths = population.select("patient_id", "date_of_death")
    dod = nw.col("date_of_death")
    day = nw.col("attendance_date")
    return (
        frames.ed_attendances.join(deaths, on="patient_id", how="inner")
        .filter((day <= dod) & (day > dod.dt.offset_by(f"-{DAYS_BEFORE_DEATH}d")))
        .group_by("patient_id")
        .agg(nw.len().alias("ed_attendances_90d"))
    )


FEATURES: tuple[Feature, ...] = (
    register_feature("pc_register", "PALCARE_COD", "PALCARENI_COD", "on_pc_register"),
    Feature("pc_register_before_death", "decedents", _pc_before_death),
    Feature("emergency_admissions_90d", "decedents", _emergency_90d, (ADMISSIONS_WINDOW,)),
    Feature("care_plan_before_death", "decedents", _care_plan),
    Feature("ed_attendances_90d", "decedents", _ed_90d, (ED_WINDOW,)),
)


def _place(*places: str) -> nw.Expr:
    return nw.col("place_of_death").is_in(list(places)).fill_null(False)


#: Id of the count of decedents with no recorded place of death (blank or empty): not an
#: indicator of its own, but published beside the place-of-death indicators as a
#: data-quality note, and protected with them (``indicators/links.py``).
BLANK_PLACE_ID = "EOL_PLACE_BLANK"


def _place_of_death(id: str, *places: str) -> Indicator:
    """A decedent indicator counting deaths in one of ``places``."""
    numerator = functools.partial(_place, *places)
    return Indicator(id, "decedents", denominator=always, numerator=numerator)


INDICATORS: tuple[Indicator, ...] = (
    flag_indicator("PC_REG", "on_pc_register", ["pc_register"]),
    _place_of_death("EOL_HOME_CARE_HOME", "home", "care home"),
    _place_of_death("EOL_HOSPITAL", "hospital"),
    flag_indicator(
        "EOL_ON_PC_REG",
        "on_pc_register_eve",
        ["pc_register_before_death"],
        population="decedents",
    ),
    Indicator(
        "EOL_3PLUS_EMERG",
        "decedents",
        denominator=always,
        numerator=lambda: (nw.col("emergency_admissions_90d") >= 3).fill_null(False),
        features=("emergency_admissions_90d",),
        needs_admissions=True,
    ),
    flag_indicator(
        "EOL_CARE_PLAN",
        "care_plan_before_death",
        ["care_plan_before_death"],
        population="decedents",
    ),
    Indicator(
        "EOL_ED_3PLUS",
        "decedents",
        denominator=always,
        numerator=lambda: (nw.col("ed_attendances_90d") >= 3).fill_null(False),
        features=("ed_attendances_90d",),
        needs=("ed_attendances",),
    ),
    Indicator(
        "EOL_ED_MEAN",
        "decedents",
        denominator=always,
        numerator=lambda: nw.col("ed_attendances_90d").fill_null(0),
        features=("ed_attendances_90d",),
        needs=("ed_attendances",),
        count_numerator=True,
    ),
)
