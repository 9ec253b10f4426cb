"""Slope and relative index of inequality: closed-form checks and simulation behaviour.

No reference spreadsheet covers the SII, so the point estimates are checked against an
independent weighted least-squares fit (statsmodels) and the simulated limits against the
variance propagated analytically through the same linear model.
"""

from __future__ import annotations

import warnings
from pathlib import Path

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


# --------------------------------------------------------------------------- no warnings, RII


def quintiles(values: list[float], se: float = 0.01, pops: list[float] | None = None):
    return pd.DataFrame(
        {"q": [1, 2, 3, 4, 5], "pop": pops or [1000.0] * 5, "v": values, "se": [se] * 5}
    )


@pytest.mark.parametrize(
    ("values", "value_type", "sii_value", "rii_reason"),
    [
        # every quintile at 0%: the SII is 0, the RII has nothing to be relative to
        ([0.0] * 5, "normal", 0.0, "RII not computable"),
        # a line that is negative at the most deprived end
        ([-0.2, -0.1, 0.0, 0.1, 0.2], "normal", 0.5, "RII not computable"),
        # positive throughout: both computable
        ([0.3, 0.35, 0.4, 0.45, 0.5], "normal", 0.25, ""),
        ([0.3, 0.35, 0.4, 0.45, 0.5], "proportion", 0.25, ""),
    ],
)
def test_no_runtime_warnings_and_rii_reasons(
    values: list[float], value_type: str, sii_value: float, rii_reason: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = stats.sii(
            quintiles(values), "q", "pop", value="v", se="se", value_type=value_type,
            repetitions=1000, seed=1,
        )  # fmt: skip
    got = out.set_index("statistic")
    assert got.loc["sii", "value"] == pytest.approx(sii_value, abs=1e-12)
    assert got.loc["sii", "reason"] == ""
    assert got.loc["rii", "reason"].startswith(rii_reason)
    if rii_reason:
        assert got.loc["rii", ["value", "lower", "upper"]].isna().all()


def test_rii_limits_not_computable_when_simulated_intercepts_cross_zero() -> None:
    # intercept just above 0 with a large standard error: some draws fall below 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = stats.sii(quintiles([0.1, 0.15, 0.2, 0.25, 0.3], se=0.2), "q", "pop", value="v",
                        se="se", repetitions=1000, seed=1)  # fmt: skip
    rii_row = out.set_index("statistic").loc["rii"]
    assert rii_row["value"] > 0
    assert np.isnan(rii_row["lower"]) and np.isnan(rii_row["upper"])
    assert rii_row["reason"].startswith("RII limits not computable")


def test_incomplete_and_untransformable_groups_say_why() -> None:
    df = pd.concat(
        [
            quintiles([0.1, 0.2, 0.3, 0.4, 0.5]).assign(area="ok"),
            quintiles([0.1, 0.2, 0.3, 0.4, 0.5]).assign(area="short").iloc[:4],
            quintiles([0.0, 0.2, 0.3, 0.4, 0.5]).assign(area="zero"),
        ],
        ignore_index=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = stats.sii(df, "q", "pop", value="v", se="se", by="area", value_type="proportion",
                        transform=True, repetitions=1000, seed=1)  # fmt: skip
    reasons = out[out["statistic"] == "sii"].set_index("area")["reason"]
    assert reasons["ok"] == ""
    assert reasons["short"].startswith("not computable: every quantile")
    assert reasons["zero"].startswith("not computable: a value or limit at 0")


# --------------------------------------------------------------------------- transform=True


@pytest.mark.parametrize(
    ("value_type", "to_scale", "back"),
    [
        ("rate", np.log, np.exp),
        ("proportion", lambda p: np.log(p / (1 - p)), lambda y: 1 / (1 + np.exp(-y))),
    ],
)
def test_transform_fits_on_log_or_logit_scale(value_type: str, to_scale, back) -> None:
    pops = [52_000.0, 48_000.0, 45_000.0, 40_000.0, 38_000.0]
    values = np.array([0.31, 0.27, 0.24, 0.21, 0.18])
    df = quintiles(list(values), pops=pops).assign(se=0.02)
    out = stats.sii(df, "q", "pop", value="v", se="se", value_type=value_type, transform=True,
                    multiplier=100, repetitions=2000, seed=4)  # fmt: skip
    # independent fit: weighted least squares of the transformed values on the midpoints
    a = np.asarray(pops) / sum(pops)
    b = np.cumsum(a) - a / 2
    fit = sm.WLS(to_scale(values), sm.add_constant(b), weights=a).fit()
    most, least = back(fit.params[0]), back(fit.params[0] + fit.params[1])
    got = out.set_index("statistic")
    assert got.loc["sii", "value"] == pytest.approx(100 * (least - most), rel=1e-10)
    assert got.loc["rii", "value"] == pytest.approx(least / most, rel=1e-10)
    assert got.loc["sii", "lower"] < got.loc["sii", "value"] < got.loc["sii", "upper"]
    assert got.loc["sii", "method"] == (
        "simulation, 2000 repetitions, fitted on the transformed scale"
    )


@settings(max_examples=30, deadline=None)
@given(
    pops=st.lists(st.integers(100, 100_000), min_size=5, max_size=10),
    log_intercept=st.floats(-3.0, 3.0),
    log_slope=st.floats(-2.0, 2.0),
)
def test_exactly_log_linear_rates_give_their_ends(
    pops: list[int], log_intercept: float, log_slope: float
) -> None:
    a = np.asarray(pops) / sum(pops)
    b = np.cumsum(a) - a / 2
    df = pd.DataFrame({"q": range(1, len(pops) + 1), "pop": pops,
                       "v": np.exp(log_intercept + log_slope * b), "se": 0.0})  # fmt: skip
    out = stats.sii(df, "q", "pop", value="v", se="se", value_type="rate", transform=True,
                    repetitions=1000, seed=0)  # fmt: skip
    got = out.set_index("statistic")["value"]
    expected = np.exp(log_intercept + log_slope) - np.exp(log_intercept)
    assert got["sii"] == pytest.approx(expected, rel=1e-8, abs=1e-10)
    assert got["rii"] == pytest.approx(np.exp(log_slope), rel=1e-8)
    np.testing.assert_allclose(out["lower"], out["value"], rtol=1e-8, atol=1e-10)


def test_transform_needs_a_rate_or_proportion() -> None:
    with pytest.raises(ParameterError, match="transform=True needs"):
        stats.sii(quintiles([1, 2, 3, 4, 5]), "q", "pop", value="v", se="se", transform=True)


def test_sii_of_age_standardised_quintile_rates() -> None:
    # DSRs by quintile (Dobson limits) feed the SII on the log scale, as issue 10 asks.
    esp = stats.esp2013()
    rates = [0.040, 0.034, 0.030, 0.026, 0.022]
    frame = pd.concat(
        [esp.assign(q=q, pop=esp["standard_population"] // 2,
                    cases=(esp["standard_population"] // 2 * r).round())
         for q, r in zip(range(1, 6), rates, strict=True)],
        ignore_index=True,
    )  # fmt: skip
    dsrs = stats.dsr(frame, "cases", "pop", by="q")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = stats.sii(dsrs.rename(columns={"value": "rate"}), "q", "denominator",
                        value="rate", lower="lower", upper="upper", value_type="rate",
                        transform=True, repetitions=5000, seed=2)  # fmt: skip
    got = out.set_index("statistic")
    assert got.loc["sii", "upper"] < 0  # higher among the most deprived, significantly
    # the line's ends lie beyond the quintile midpoints (b = 0.1 and 0.9)
    assert got.loc["rii", "value"] == pytest.approx((0.022 / 0.040) ** (1 / 0.8), rel=0.02)


# --------------------------------------------------------------------------- LE_SII


def test_sii_of_life_expectancy_by_decile_reference_data() -> None:
    # LE by IMD decile with its standard error (the reference package's LE_data)
    path = Path(__file__).parent / "data" / "reference-stats" / "le_deciles_E06000001.csv"
    le = pd.read_csv(path)
    out = stats.sii(le, "Decile", "Pop", value="LifeExp", se="SE", by="Sex", rii=False,
                    repetitions=1000, seed=1)  # fmt: skip
    for sex, area in le.groupby("Sex"):
        slope, _, _ = wls(area.rename(columns={"Pop": "population", "LifeExp": "value"}))
        got = out.loc[out["Sex"] == sex, "value"].iloc[0]
        assert got == pytest.approx(slope, rel=1e-10)
    assert (out["value"] > 0).all()  # longer lives in less deprived deciles


def test_sii_of_life_expectancy_from_life_tables() -> None:
    # LE_SII: life tables per decile, then the SII over their 95% limits (value type normal)
    ref = pd.read_csv(
        Path(__file__).parent / "data" / "reference-stats" / "le_phe_life_expectancy.csv",
        dtype={"age_band": str},
    )[["age_band", "population", "deaths"]]
    frames = [
        ref.assign(decile=d, deaths=(ref["deaths"] * (1.6 - 0.07 * d)).round(),
                   population=ref["population"])
        for d in range(1, 11)
    ]  # fmt: skip
    le = stats.life_expectancy(pd.concat(frames), by="decile", ages=0, size_rule="contract")
    assert (le["reason"] == "").all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = stats.sii(
            le.drop(columns=["reason"]), "decile", "denominator", value="value",
            lower="lower", upper="upper", rii=False, repetitions=5000, seed=3,
        )  # fmt: skip
    row = out.iloc[0]
    assert row["reason"] == ""
    assert 0 < row["lower"] < row["value"] < row["upper"]
    assert row["value"] == pytest.approx(le["value"].iloc[-1] - le["value"].iloc[0], rel=0.25)


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0)), min_size=5, max_size=5
    ),
    se=st.one_of(st.just(0.0), st.floats(0.0, 50.0)),
    value_type=st.sampled_from(["normal", "proportion", "rate"]),
    transform=st.booleans(),
    multiplier=st.sampled_from([1.0, 100.0, -1.0]),
)
def test_never_a_numpy_warning(
    values: list[float], se: float, value_type: str, transform: bool, multiplier: float
) -> None:
    if value_type == "rate":
        values = [v if v > 0 else 0.5 for v in values]  # rates must be > 0
    if value_type == "normal":
        transform = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = stats.sii(quintiles(values, se=se), "q", "pop", value="v", se="se",
                        value_type=value_type, transform=transform,  # type: ignore[arg-type]
                        multiplier=multiplier, repetitions=1000, seed=0)  # fmt: skip
    assert len(out) == 2
    missing = out["value"].isna()
    assert (out.loc[missing, "reason"] != "").all()
