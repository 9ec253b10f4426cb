"""Slope and relative index of inequality: closed-form checks and simulation behaviour.

No reference spreadsheet covers the SII, so the point estimates are checked against an
independent weighted least-squares fit (statsmodels) and the simulated limits against the
variance propagated analytically through the same linear model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from bsol_analytics import stats
from bsol_analytics.errors import ParameterError

# Two areas by deprivation decile (the worked example of the reference documentation).
AREAS = pd.DataFrame(
    {
        "area": ["Area1"] * 10 + ["Area2"] * 10,
        "decile": list(range(1, 11)) * 2,
        "population": [7291, 7997, 6105, 7666, 5790, 6934, 5918, 5974, 7147, 7534,
                       21675, 20065, 19750, 24713, 20112, 19618, 22408, 19752, 18939, 19312],
        "value": [75.9, 78.3, 83.8, 83.6, 80.5, 81.1, 81.7, 84.2, 80.6, 86.3,
                  70.5, 71.6, 72.5, 73.5, 73.1, 76.2, 78.7, 80.6, 80.9, 80],
        "lowerCL": [72.7, 75.3, 80.9, 80.2, 77.1, 78, 79, 81.4, 75.8, 83.2,
                    70.1, 71.1, 72, 73.1, 72.7, 75.7, 78.2, 80.1, 80.4, 79.5],
        "upperCL": [79.1, 81.4, 86.8, 87.1, 83.8, 84.2, 84.4, 86.9, 85.4, 89.4,
                    71, 72.1, 73.2, 73.7, 75.8, 78.8, 79.8, 81.2, 81.3, 80.9],
        "se": [1.64, 1.58, 1.51, 1.78, 1.7, 1.56, 1.37, 1.4, 2.43, 1.57,
               0.23, 0.26, 0.3, 0.16, 0.79, 0.78, 0.4, 0.28, 0.23, 0.35],
    }
)  # fmt: skip


def wls(area: pd.DataFrame) -> tuple[float, float, np.ndarray]:
    """Independent fit: statsmodels WLS of value on the population midpoint."""
    a = area["population"] / area["population"].sum()
    b = a.cumsum() - a / 2
    fit = sm.WLS(area["value"], sm.add_constant(b.to_numpy()), weights=a).fit()
    intercept, slope = fit.params
    return float(slope), float((intercept + slope) / intercept), b.to_numpy()


@pytest.mark.parametrize("multiplier", [1, 100, -1])
def test_sii_and_rii_equal_weighted_least_squares(multiplier: float) -> None:
    out = stats.sii(
        AREAS, "decile", "population", value="value", se="se", by="area",
        multiplier=multiplier, repetitions=1000, seed=1,
    )  # fmt: skip
    pdt.assert_series_equal(
        out["statistic"], pd.Series(["sii", "rii", "sii", "rii"], name="statistic")
    )
    for name, area in AREAS.groupby("area"):
        slope, rii, _ = wls(area)
        got = out[out["area"] == name].set_index("statistic")["value"]
        assert got["sii"] == pytest.approx(multiplier * slope, rel=1e-10)
        expected_rii = 1 / rii if multiplier < 0 else rii
        assert got["rii"] == pytest.approx(expected_rii, rel=1e-10)


def test_simulated_limits_match_propagated_variance() -> None:
    # For normal values the SII is linear in the quantile values, so its standard error
    # is exactly sqrt(Σ cᵢ² seᵢ²) for the regression weights c. 100,000 simulations
    # should reproduce the normal limits to well within 1% of the interval width.
    area = AREAS[AREAS["area"] == "Area1"]
    out = stats.sii(
        area, "decile", "population", value="value", se="se", rii=False,
        confidence=[0.95, 0.998], seed=42,
    )  # fmt: skip
    a = (area["population"] / area["population"].sum()).to_numpy()
    b = np.cumsum(a) - a / 2
    design = np.column_stack([np.ones_like(b), b])
    weights = np.linalg.solve(design.T @ (design * a[:, None]), (design * a[:, None]).T)[1]
    sd = np.sqrt(np.sum(weights**2 * area["se"].to_numpy() ** 2))
    for level in (0.95, 0.998):
        row = out[out["confidence"] == level].iloc[0]
        z = sps.norm.ppf(0.5 + level / 2)
        width = 2 * z * sd
        assert row["lower"] == pytest.approx(row["value"] - z * sd, abs=0.01 * width)
        assert row["upper"] == pytest.approx(row["value"] + z * sd, abs=0.01 * width)


def test_se_from_limits_equals_se_given() -> None:
    area = AREAS[AREAS["area"] == "Area2"].copy()
    z = sps.norm.ppf(0.975)
    area["lo"] = area["value"] - z * area["se"]
    area["hi"] = area["value"] + z * area["se"]
    from_se = stats.sii(
        area, "decile", "population", value="value", se="se", seed=3, repetitions=5000
    )
    from_cl = stats.sii(
        area, "decile", "population", value="value", lower="lo", upper="hi", seed=3,
        repetitions=5000,
    )  # fmt: skip
    pdt.assert_frame_equal(from_se, from_cl, rtol=1e-9)


def test_fixed_seed_is_reproducible_and_seeds_differ() -> None:
    kwargs = {"value": "value", "se": "se", "by": "area", "repetitions": 2000}
    first = stats.sii(AREAS, "decile", "population", seed=7, **kwargs)
    again = stats.sii(AREAS, "decile", "population", seed=7, **kwargs)
    other = stats.sii(AREAS, "decile", "population", seed=8, **kwargs)
    pdt.assert_frame_equal(first, again)
    pdt.assert_series_equal(first["value"], other["value"])
    assert not np.allclose(first["lower"], other["lower"])


def test_limits_contain_value_and_widen() -> None:
    out = stats.sii(
        AREAS, "decile", "population", value="value", se="se", by="area",
        confidence=[0.95, 0.998], seed=11, repetitions=20000,
    )  # fmt: skip
    assert ((out["lower"] <= out["value"]) & (out["value"] <= out["upper"])).all()
    p95 = out[out["confidence"] == 0.95].reset_index(drop=True)
    p998 = out[out["confidence"] == 0.998].reset_index(drop=True)
    assert (p998["lower"] <= p95["lower"]).all()
    assert (p998["upper"] >= p95["upper"]).all()
    assert out["method"].iloc[0] == "simulation, 20000 repetitions"


def test_proportion_from_counts_uses_wilson_limits_on_logit_scale() -> None:
    df = pd.DataFrame(
        {"q": [1, 2, 3, 4, 5], "pop": [1000, 1100, 900, 1000, 1200], "x": [300, 280, 240, 200, 150]}
    )
    out = stats.sii(df, "q", "pop", numerator="x", seed=5, repetitions=5000)
    sii_row = out[out["statistic"] == "sii"].iloc[0]
    slope, _, _ = wls(df.assign(value=df["x"] / df["pop"], population=df["pop"]))
    assert sii_row["value"] == pytest.approx(slope, rel=1e-10)
    assert sii_row["numerator"] == 1170
    assert sii_row["denominator"] == 5200
    assert sii_row["lower"] < sii_row["value"] < sii_row["upper"] < 0


def test_incomplete_group_gets_missing_values() -> None:
    df = AREAS[~((AREAS["area"] == "Area2") & (AREAS["decile"] == 4))]
    out = stats.sii(
        df, "decile", "population", value="value", se="se", by="area", seed=1, repetitions=1000
    )
    assert out.loc[out["area"] == "Area1", "value"].notna().all()
    assert out.loc[out["area"] == "Area2", ["value", "lower", "upper"]].isna().all().all()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"value": "value"}, ParameterError, "give se, or lower and upper"),
        ({"se": "se"}, ParameterError, "give a value column"),
        ({"value": "value", "se": "se", "repetitions": 10}, ParameterError, "at least 1000"),
        ({"value": "value", "se": "se", "value_type": "log"}, ParameterError, "value_type"),
    ],
)
def test_sii_argument_errors(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        stats.sii(AREAS, "decile", "population", by="area", **kwargs)


@pytest.mark.parametrize("population", [0, np.nan])
def test_quantile_without_population_makes_only_its_group_missing(population: float) -> None:
    df = AREAS.assign(population=AREAS["population"].where(AREAS.index != 3, population))
    out = stats.sii(df, "decile", "population", value="value", se="se", by="area", seed=1,
                    repetitions=1000)  # fmt: skip
    assert out.loc[out["area"] == "Area1", "value"].isna().all()
    assert out.loc[out["area"] == "Area2", "value"].notna().all()


def test_sii_data_errors() -> None:
    bad = AREAS.assign(population=AREAS["population"].where(AREAS.index != 3, -5))
    with pytest.raises(stats.StatsInputError, match="column 'population': must not be negative"):
        stats.sii(bad, "decile", "population", value="value", se="se", by="area")
    few = AREAS[AREAS["decile"] <= 3]
    with pytest.raises(stats.StatsInputError, match="between 5 and 100"):
        stats.sii(few, "decile", "population", value="value", se="se", by="area")


@settings(max_examples=40, deadline=None)
@given(
    pops=st.lists(st.integers(100, 100_000), min_size=5, max_size=10),
    intercept=st.floats(1.0, 100.0),
    slope=st.floats(-50.0, 50.0),
)
def test_exactly_linear_values_give_their_slope(
    pops: list[int], intercept: float, slope: float
) -> None:
    # values lying exactly on a line in the population midpoint give that line back
    a = np.asarray(pops) / sum(pops)
    b = np.cumsum(a) - a / 2
    df = pd.DataFrame(
        {"q": range(1, len(pops) + 1), "pop": pops, "v": intercept + slope * b, "se": 0.0}
    )
    out = stats.sii(df, "q", "pop", value="v", se="se", repetitions=1000, seed=0)
    got = out.set_index("statistic")["value"]
    assert got["sii"] == pytest.approx(slope, abs=1e-8 * (1 + abs(slope)))
    assert got["rii"] == pytest.approx((intercept + slope) / intercept, rel=1e-8, abs=1e-10)
    # with no sampling error the simulated limits collapse onto the value
    np.testing.assert_allclose(out["lower"], out["value"], rtol=1e-8, atol=1e-8)


def test_rows_without_a_quantile_are_left_out() -> None:
    extra = pd.DataFrame(
        {"area": ["Area1"], "decile": [np.nan], "population": [5000], "value": [1.0], "se": [1.0]}
    )
    base = stats.sii(AREAS, "decile", "population", value="value", se="se", by="area", seed=2,
                     repetitions=1000)  # fmt: skip
    with_unknown = stats.sii(
        pd.concat([AREAS, extra], ignore_index=True), "decile", "population", value="value",
        se="se", by="area", seed=2, repetitions=1000,
    )  # fmt: skip
    pdt.assert_frame_equal(
        base.drop(columns="denominator"), with_unknown.drop(columns="denominator")
    )
