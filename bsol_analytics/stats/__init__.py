"""Public-health statistics with confidence limits, after OHID's PHEindicatormethods.

Every function takes a tidy DataFrame and column names and returns a new frame holding the
caller's grouping columns and the same statistic columns (:data:`STAT_COLUMNS`):
``statistic, value, lower, upper, numerator, denominator, confidence, method, multiplier``.
With two confidence levels there is one row per group per level. See docs/statistics.md.

Examples:
    >>> import pandas as pd
    >>> from bsol_analytics import stats
    >>> df = pd.DataFrame({"pcn": ["A", "A", "B"], "x": [10, 20, 5], "n": [100, 100, 80]})
    >>> stats.proportion(df, "x", "n", by="pcn", confidence=[0.95, 0.998]).shape
    (4, 10)
"""

from __future__ import annotations

from bsol_analytics.stats._common import STAT_COLUMNS, StatsInputError
from bsol_analytics.stats.compare import compare, compare_each
from bsol_analytics.stats.dsr import dsr, esp2013, esp2013_for_ages
from bsol_analytics.stats.funnel import funnel_flags, funnel_limits
from bsol_analytics.stats.intervals import (
    byars_lower,
    byars_upper,
    exact_lower,
    exact_upper,
    wilson_lower,
    wilson_upper,
)
from bsol_analytics.stats.isr import isr, israte
from bsol_analytics.stats.life_expectancy import life_expectancy
from bsol_analytics.stats.mean import mean
from bsol_analytics.stats.proportion import proportion
from bsol_analytics.stats.rate import rate
from bsol_analytics.stats.sii import sii
from bsol_analytics.stats.trend import chi_squared_trend, recent_trend

__all__ = [
    "STAT_COLUMNS",
    "StatsInputError",
    "byars_lower",
    "byars_upper",
    "chi_squared_trend",
    "compare",
    "compare_each",
    "dsr",
    "esp2013",
    "esp2013_for_ages",
    "exact_lower",
    "exact_upper",
    "funnel_flags",
    "funnel_limits",
    "isr",
    "israte",
    "life_expectancy",
    "mean",
    "proportion",
    "rate",
    "recent_trend",
    "sii",
    "wilson_lower",
    "wilson_upper",
]
