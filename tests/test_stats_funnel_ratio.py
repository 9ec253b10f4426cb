"""Funnel limits for indirectly standardised ratios (observed / expected, Poisson)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bsol_analytics import stats

REF = Path(__file__).parent / "data" / "reference-stats" / "testdata_funnel_ratio_outputs.csv"
LEVELS = {"2s": 0.95, "3s": 0.998}


@pytest.mark.parametrize("level", [0.95, 0.998])
@pytest.mark.parametrize("observed", [1, 2, 5, 10, 51, 716])
def test_limits_are_exact_poisson_inversions(level: float, observed: int) -> None:
    # The lower limit at E is O/E where E is the exact upper limit of the count O; the
    # upper limit at E is O/E where E is its exact lower limit.
    e_low = float(stats.exact_upper(observed, level))
    e_high = float(stats.exact_lower(observed, level))
    lower = stats.funnel_limits(1, [e_low], statistic="ratio", confidence=level)
    upper = stats.funnel_limits(1, [e_high], statistic="ratio", confidence=level)
    assert lower["lower"].iloc[0] == pytest.approx(observed / e_low, rel=1e-10)
    assert upper["upper"].iloc[0] == pytest.approx(observed / e_high, rel=1e-10)


@pytest.mark.parametrize("tag", ["2s", "3s"])
def test_reference_funnel_ratio_outputs(tag: str) -> None:
    # The reference package's expected counts come from a numerical search that is good to
    # about 5e-5 (they differ from the exact chi-squared limits by that much), hence 1e-4.
    ref = pd.read_csv(REF)
    level = LEVELS[tag]
    lower = stats.funnel_limits(
        1, ref[f"lower_{tag}_exp_events"], statistic="ratio", confidence=level, multiplier=100
    )
    upper = stats.funnel_limits(
        1, ref[f"upper_{tag}_exp_events"], statistic="ratio", confidence=level, multiplier=100
    )
    np.testing.assert_allclose(lower["lower"], ref[f"lower_{tag}_isr"], rtol=1e-4)
    np.testing.assert_allclose(upper["upper"], ref[f"upper_{tag}_isr"], rtol=1e-4)
    assert (lower["value"] == 100).all()
    assert lower["method"].iloc[0] == "exact Poisson limits around the comparator"


def test_practice_prevalence_funnel_from_isr() -> None:
    # recorded versus expected prevalence by practice, then the funnel of the ratios
    strata = pd.DataFrame(
        {
            "practice": ["P1", "P1", "P2", "P2", "P3", "P3"],
            "band": ["<65", "65+"] * 3,
            "cases": [30, 60, 10, 20, 80, 150],
            "list": [1000, 200, 1500, 300, 2000, 400],
            "england": [0.02, 0.25] * 3,
        }
    )
    ratios = stats.isr(strata, "cases", "list", by="practice", reference_rate="england",
                       multiplier=100)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = stats.funnel_flags(ratios, "numerator", "denominator", statistic="ratio",
                                 multiplier=100, confidence=0.998)  # fmt: skip
    assert list(out.columns) == ["practice", *stats.STAT_COLUMNS, "funnel"]
    np.testing.assert_allclose(out["value"], ratios["value"], rtol=1e-12)
    assert out.set_index("practice")["funnel"].to_dict() == {
        "P1": "inside",  # 90 observed against 70 expected: within 99.8% limits
        "P2": "below",  # 30 against 105
        "P3": "above",  # 230 against 140
    }
    assert (out["lower"] < 100).all() and (out["upper"] > 100).all()
