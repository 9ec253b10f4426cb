"""Indicator definitions, registry and multi-engine execution.

Public API:

* :func:`compute_cube` — numerators and denominators by reporting date × keys × indicator.
* :func:`compute_cubes` — several cubes from one evaluation per date (grouping sets).
* :func:`patient_flags` — the per-patient flags behind the cube.
* :func:`computable_indicators` — the ids the tables can give, and why others are skipped.
* :func:`lookback_windows` — the dated windows each indicator reads back from RD.
* :func:`load_tables` — open a prepared folder for an engine.
* :func:`get_indicator`, :func:`list_indicators`, :func:`registry_frame` — metadata.
* :func:`expected_prevalence` — reference age/sex prevalence for recorded-vs-expected.
"""

from __future__ import annotations

from bsol_analytics.indicators.base import AGE_BANDS, months_before
from bsol_analytics.indicators.engines import (
    DEFINITIONS,
    ENGINES,
    computable_indicators,
    compute_cube,
    compute_cubes,
    load_tables,
    lookback_windows,
    patient_flags,
)
from bsol_analytics.indicators.registry import (
    IndicatorInfo,
    expected_prevalence,
    get_indicator,
    list_indicators,
    registry_frame,
)
from bsol_analytics.vocabulary import LE_AGE_BANDS

__all__ = [
    "AGE_BANDS",
    "DEFINITIONS",
    "ENGINES",
    "LE_AGE_BANDS",
    "IndicatorInfo",
    "computable_indicators",
    "compute_cube",
    "compute_cubes",
    "expected_prevalence",
    "get_indicator",
    "list_indicators",
    "load_tables",
    "lookback_windows",
    "months_before",
    "patient_flags",
    "registry_frame",
]
