"""Mortality: under-75 cancer mortality and the counts behind life expectancy (version 2).

Both use the *mortality population* (``base.Population``): the patients registered at RD
(``_role`` 0, age at RD) together with the deaths within 36 months of RD of patients
registered at death (``_role`` 1, age at death; ``_recent`` 1 for a death within 12 months).
The numerator (deaths) is therefore not a subset of the denominator (the population at RD).

* ``MORT_CANCER_U75``: deaths aged under 75 within 12 months of RD with an underlying cause
  C00-C97, over the registered population aged 0-74 at RD. Broken down by ``age_band``
  (ESP2013) the counts give a directly standardised rate per 100,000 over ages 0-74. Needs
  ``patients.underlying_cause_of_death``.
* ``LE_BIRTH``: deaths within 36 months of RD (numerator) and the registered population at
  RD (denominator), all ages. Broken down by ``sex`` and ``le_age_band`` (``0``, ``1-4``,
  ``5-9`` ... ``85-89``, ``90+``; age at death for deaths, at RD for the population), the
  counts are the input of an abridged life table: person-years = denominator x 3
  (:func:`life_table_counts`).
"""

from __future__ import annotations

import functools
import string
from typing import Any

import narwhals as nw
import pandas as pd

from bsol_analytics.errors import ParameterError
from bsol_analytics.indicators.base import Context, Feature, Frames, Indicator, age
from bsol_analytics.vocabulary import LE_AGE_BANDS

_FOURTH = string.digits + string.ascii_uppercase
#: Years of deaths pooled by LE_BIRTH (person-years = population at RD x this).
LE_YEARS = 3


@functools.lru_cache(maxsize=1)
def cancer_codes() -> frozenset[str]:
    """Every normalised ICD-10 code (3 or 4 characters) in C00-C97.

    Examples:
        >>> codes = cancer_codes()
        >>> {"C00", "C349", "C97", "C97X"} <= codes, bool({"C98", "D00", "C980"} & codes)
        (True, False)
    """
    cats = [f"C{n:02d}" for n in range(98)]
    return frozenset({*cats, *(c + x for c in cats for x in _FOURTH)})


def _cancer_death(frames: Frames, ctx: Context, population: Any) -> Any:
    cause = nw.col("underlying_cause_of_death").is_in(sorted(cancer_codes()))
    return frames.patients.filter(cause).select(
        "patient_id", nw.lit(1, nw.Int8).alias("cancer_death")
    )


def _role(value: int) -> nw.Expr:
    return nw.col("_role") == value


FEATURES: tuple[Feature, ...] = (Feature("cancer_death", "mortality", _cancer_death),)

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "MORT_CANCER_U75",
        "mortality",
        denominator=lambda: _role(0) & (age() < 75),
        numerator=lambda: (
            _role(1)
            & (nw.col("_recent") == 1)
            & (age() < 75)
            & (nw.col("cancer_death").fill_null(0) == 1)
        ),
        features=("cancer_death",),
        needs=("patients.underlying_cause_of_death",),
        numerator_in_denominator=False,
    ),
    Indicator(
        "LE_BIRTH",
        "mortality",
        denominator=lambda: _role(0),
        numerator=lambda: _role(1),
        numerator_in_denominator=False,
    ),
)


def life_table_counts(cube: pd.DataFrame) -> pd.DataFrame:
    """The LE_BIRTH rows of a cube as life-table input: deaths and person-years by band.

    Args:
        cube: from ``compute_cube(..., keys=[..., "sex", "le_age_band"])``.

    Returns:
        A new frame: ``reporting_date``, the other keys, ``sex``, ``age_band`` (the 20
        bands of :data:`~bsol_analytics.indicators.base.LE_AGE_BANDS`, every band present,
        in order), ``deaths`` and ``person_years`` (population at RD x 3), one row per band.

    Raises:
        ParameterError: the cube lacks LE_BIRTH or the ``le_age_band`` key.

    Examples:
        >>> cube = pd.DataFrame({"reporting_date": pd.Timestamp("2025-03-31"),
        ...     "sex": "F", "le_age_band": ["0", "90+"], "indicator_id": "LE_BIRTH",
        ...     "numerator": [1, 30], "denominator": [100, 200]})
        >>> t = life_table_counts(cube)
        >>> len(t), int(t["person_years"].sum()), t.loc[t["age_band"] == "90+", "deaths"].item()
        (20, 900, 30)
    """
    if "le_age_band" not in cube.columns or not (cube["indicator_id"] == "LE_BIRTH").any():
        raise ParameterError(
            "life_table_counts needs LE_BIRTH rows computed with the key 'le_age_band'."
        )
    rows = cube[cube["indicator_id"] == "LE_BIRTH"]
    keys = [
        c
        for c in rows.columns
        if c not in ("le_age_band", "indicator_id", "numerator", "denominator")
    ]
    groups = rows[keys].drop_duplicates()
    bands = pd.DataFrame({"le_age_band": list(LE_AGE_BANDS), "_o": range(len(LE_AGE_BANDS))})
    grid = groups.merge(bands, how="cross")
    out = grid.merge(rows, on=[*keys, "le_age_band"], how="left")
    out = out.sort_values([*keys, "_o"], kind="stable")
    return pd.DataFrame(
        {
            **{k: out[k].to_numpy() for k in keys},
            "age_band": out["le_age_band"].to_numpy(),
            "deaths": out["numerator"].fillna(0).astype("int64").to_numpy(),
            "person_years": (out["denominator"].fillna(0) * LE_YEARS).astype("int64").to_numpy(),
        }
    )


#: The contract's size rule for LE_BIRTH: at least this many person-years and deaths.
LE_MIN_PERSON_YEARS = 5000
LE_MIN_DEATHS = 50


def life_expectancy_size_ok(counts: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Whether each area is large enough for a life expectancy (contract size rule).

    An area needs at least :data:`LE_MIN_PERSON_YEARS` person-years and
    :data:`LE_MIN_DEATHS` deaths (stricter than PHEindicatormethods' 5,000 alone);
    otherwise LE_BIRTH is reported as not computable.

    Args:
        counts: from :func:`life_table_counts` (``deaths``, ``person_years`` by band).
        by: the columns naming an area (e.g. ``["reporting_date", "practice_locality",
            "sex"]``).

    Returns:
        A new frame: ``by``, ``deaths``, ``person_years`` (totals) and ``computable``.

    Examples:
        >>> counts = pd.DataFrame({"sex": ["F", "F", "M"], "deaths": [30, 30, 60],
        ...                        "person_years": [3000, 2000, 4998]})
        >>> life_expectancy_size_ok(counts, ["sex"])["computable"].tolist()
        [True, False]
    """
    totals = counts.groupby(by, as_index=False, dropna=False)[["deaths", "person_years"]].sum()
    ok = (totals["person_years"] >= LE_MIN_PERSON_YEARS) & (totals["deaths"] >= LE_MIN_DEATHS)
    return totals.assign(computable=ok.to_numpy(dtype=bool))
