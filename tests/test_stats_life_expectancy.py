"""Life expectancy (Chiang II abridged life table): reference answers and edge cases."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics import stats
from bsol_analytics.errors import ParameterError
from bsol_analytics.stats.life_expectancy import LE_BANDS, LE_START_AGES

REF = Path(__file__).parent / "data" / "reference-stats" / "le_phe_life_expectancy.csv"
RTOL = 1e-6
Z95 = 1.959963984540054


@pytest.fixture(scope="module")
def ref() -> pd.DataFrame:
    return pd.read_csv(REF, dtype={"age_band": str})


def table(ref: pd.DataFrame, **changes: dict[str, float]) -> pd.DataFrame:
    """The reference input with some bands' deaths or population changed."""
    df = ref[["age_band", "population", "deaths"]].astype({"population": float, "deaths": float})
    for column, by_band in changes.items():
        for band, new in by_band.items():
            df.loc[df["age_band"] == band, column] = new
    return df


def test_reference_values_and_standard_errors(ref: pd.DataFrame) -> None:
    out = stats.life_expectancy(ref, "deaths", "population")
    np.testing.assert_allclose(out["value"], ref["value"], rtol=RTOL)
    # the reference limits use z = 1.96; compare the standard errors
    se_ref_hi = (ref["uppercl"] - ref["value"]) / 1.96
    se_ref_lo = (ref["value"] - ref["lowercl"]) / 1.96
    np.testing.assert_allclose((out["upper"] - out["value"]) / Z95, se_ref_hi, rtol=RTOL)
    np.testing.assert_allclose((out["value"] - out["lower"]) / Z95, se_ref_lo, rtol=RTOL)
    pdt.assert_series_equal(
        out["age_band"], pd.Series(list(LE_BANDS), name="age_band"), check_dtype=False
    )
    assert (out["reason"] == "").all()


def test_ninety_plus_closure(ref: pd.DataFrame) -> None:
    # The open band: e = 1/M and, by Silcocks et al., SE = 1 / (M·√D).
    out = stats.life_expectancy(ref, ages="90+")
    d, n = 1937.0, 11936.0
    m = d / n
    assert out["value"].iloc[0] == pytest.approx(1 / m, rel=1e-12)
    assert (out["upper"].iloc[0] - out["value"].iloc[0]) / Z95 == pytest.approx(
        1 / (m * np.sqrt(d)), rel=1e-12
    )


def test_output_columns_counts_and_levels(ref: pd.DataFrame) -> None:
    df = pd.concat([ref.assign(area="A"), ref.assign(area="B")], ignore_index=True)
    out = stats.life_expectancy(df, by="area", ages=[0, 65], confidence=[0.95, 0.998])
    assert list(out.columns) == ["area", "age_band", *stats.STAT_COLUMNS, "reason"]
    pdt.assert_series_equal(
        out["area"], pd.Series(["A"] * 4 + ["B"] * 4, name="area"), check_dtype=False
    )
    pdt.assert_series_equal(
        out["age_band"],
        pd.Series(["0", "0", "65-69", "65-69"] * 2, name="age_band"),
        check_dtype=False,
    )
    first = out.iloc[0]
    assert first["numerator"] == ref["deaths"].sum()
    assert first["denominator"] == ref["population"].sum()
    at_65 = out.iloc[2]
    assert at_65["numerator"] == ref["deaths"].iloc[14:].sum()
    wider = out[out["confidence"] == 0.998]
    narrower = out[out["confidence"] == 0.95]
    assert (wider["upper"].to_numpy() > narrower["upper"].to_numpy()).all()


def test_order_and_spelling_of_bands_do_not_matter(ref: pd.DataFrame) -> None:
    expected = stats.life_expectancy(ref)
    shuffled = ref.sample(frac=1, random_state=3).reset_index(drop=True)
    spelled = shuffled.assign(
        age_band=shuffled["age_band"]
        .map(dict(zip(LE_BANDS, [f"{s}" for s in LE_START_AGES], strict=True)))
        .astype(int)
    )
    out = stats.life_expectancy(spelled)
    pdt.assert_frame_equal(out, expected)
    padded = ref.assign(age_band=ref["age_band"].str.replace(r"^(\d)-", r"0\1 - ", regex=True))
    pdt.assert_frame_equal(stats.life_expectancy(padded), expected)


def small(ref: pd.DataFrame, person_years: float, deaths_90: float = 12) -> pd.DataFrame:
    """The reference table scaled down to a small area: 58 deaths at 5,000 person-years."""
    scale = person_years / ref["population"].sum()
    out = ref[["age_band"]].assign(
        population=ref["population"] * scale, deaths=(ref["deaths"] * 5000 / 787954).round()
    )
    out.loc[out["age_band"] == "90+", "deaths"] = deaths_90
    return out


# Table-driven edges; ``None`` for the frame means the reference table itself.
@pytest.mark.parametrize(
    ("changes", "size_rule", "reason"),
    [
        ({}, "reference", ""),
        ({"deaths": {"5-9": 0, "10-14": 0}}, "reference", ""),  # zero deaths: fine
        ({"deaths": {"90+": 0}}, "reference", "no deaths in the 90+ band"),
        ({"deaths": {"20-24": 40_000}}, "reference",
         "deaths exceed the population in an age band"),
        ({"population": {"20-24": 0}}, "reference", "an age band has no population"),
        ({"population": {"20-24": np.nan}}, "reference", "missing population in an age band"),
        ({"deaths": {"20-24": np.nan}}, "reference", "missing deaths in an age band"),
        # the size rules: the reference needs more than 5,000 person-years ...
        ({"small": (5000, 12)}, "reference", "5,000 person-years or fewer"),
        ({"small": (5001, 12)}, "reference", ""),
        # ... the contract at least 5,000 person-years and at least 50 deaths
        ({"small": (5000, 12)}, "contract", ""),
        ({"small": (4999, 12)}, "contract",
         "fewer than 5,000 person-years or fewer than 50 deaths"),
        ({"small": (5000, 3)}, "contract",  # 49 deaths
         "fewer than 5,000 person-years or fewer than 50 deaths"),
        ({"small": (5000, 4)}, "contract", ""),  # 50 deaths
    ],
)  # fmt: skip
def test_edge_cases(ref: pd.DataFrame, changes: dict, size_rule: str, reason: str) -> None:
    if "small" in changes:
        df = small(ref, *changes["small"])
        assert df["deaths"].sum() == 46 + changes["small"][1]
    else:
        df = table(ref, **changes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = stats.life_expectancy(df, size_rule=size_rule, ages=0)  # type: ignore[arg-type]
    assert out["reason"].iloc[0] == reason
    if reason:
        assert out[["value", "lower", "upper"]].isna().all(axis=None)
    else:
        assert np.isfinite(out[["value", "lower", "upper"]].to_numpy()).all()


def test_missing_band_and_other_groups_unaffected(ref: pd.DataFrame) -> None:
    df = pd.concat(
        [ref.assign(area="whole"), ref.assign(area="short").iloc[:-1]], ignore_index=True
    )
    out = stats.life_expectancy(df, by="area", ages="0")
    assert out["reason"].tolist() == ["", "missing age bands (all 20 from 0 to 90+ are needed)"]
    assert out["value"].iloc[0] == pytest.approx(ref["value"].iloc[0], rel=RTOL)
    assert np.isnan(out["value"].iloc[1])


def test_wide_interval_hides_value_but_keeps_limits(ref: pd.DataFrame) -> None:
    # One death among 10 person-years aged 90+: SE there is 1 / (M·√D) = 10 years.
    df = table(ref, population={"90+": 10.0}, deaths={"90+": 1.0})
    out = stats.life_expectancy(df, ages=["90+", "0"])
    last = out[out["age_band"] == "90+"].iloc[0]
    assert np.isnan(last["value"])
    assert last["upper"] - last["lower"] > 20
    assert last["reason"] == "95% confidence interval wider than 20 years"
    assert out[out["age_band"] == "0"]["reason"].iloc[0] == ""


def test_band_errors(ref: pd.DataFrame) -> None:
    with pytest.raises(stats.StatsInputError, match="must not be negative"):
        stats.life_expectancy(table(ref, deaths={"0": -1}))
    with pytest.raises(stats.StatsInputError, match="life-table bands"):
        stats.life_expectancy(ref.assign(age_band=ref["age_band"].replace("1-4", "0-4")))
    with pytest.raises(stats.StatsInputError, match="appear once"):
        stats.life_expectancy(pd.concat([ref, ref.iloc[:1]]))
    with pytest.raises(ParameterError, match="size_rule"):
        stats.life_expectancy(ref, size_rule="strict")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="ages"):
        stats.life_expectancy(ref, ages=[3])


def test_input_not_mutated(ref: pd.DataFrame) -> None:
    before = ref.copy()
    stats.life_expectancy(ref)
    pdt.assert_frame_equal(ref, before)


@settings(max_examples=40, deadline=None)
@given(
    band=st.integers(0, len(LE_BANDS) - 1),
    extra=st.floats(min_value=1.0, max_value=500.0),
)
def test_more_deaths_never_raise_life_expectancy_at_birth(band: int, extra: float) -> None:
    base = pd.read_csv(REF, dtype={"age_band": str, "deaths": float})
    base = base[["age_band", "population", "deaths"]]
    more = base.copy()
    more.loc[band, "deaths"] += extra
    e0 = stats.life_expectancy(base, ages=0)["value"].iloc[0]
    e1 = stats.life_expectancy(more, ages=0)["value"].iloc[0]
    assert e1 < e0


def test_a_band_with_very_high_mortality_closes_the_table(ref: pd.DataFrame) -> None:
    # 5,000 deaths among 11,936 aged 85-89 exceed P/(n·a) = 4,774: q = 1 there (as the
    # reference), nobody reaches 90, and life expectancy at 90+ is 0.
    df = table(ref, deaths={"85-89": 5000.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = stats.life_expectancy(df, ages=["0", "85-89", "90+"]).set_index("age_band")
    assert out.loc["85-89", "value"] == pytest.approx(2.5, rel=1e-12)  # n·a = 5 × 0.5
    assert out.loc["90+", "value"] == 0
    assert out.loc["0", "value"] < ref["value"].iloc[0]
