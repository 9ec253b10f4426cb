"""Directly standardised rates over an indicator's own age range (issue 10, DSR age range)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics import stats
from bsol_analytics.errors import ParameterError


@pytest.mark.parametrize(
    ("first", "last", "boundary", "bands", "cut_weight", "total"),
    [
        (17, None, "prorate", 16, 3300.0, 81_800),  # 15-19 keeps 17, 18, 19: 3/5 of 5,500
        (17, None, "whole", 16, 5500.0, 84_000),
        (0, 74, "prorate", 15, 5000.0, 91_000),  # under-75 mortality: whole bands
        (16, 64, "prorate", 10, 4400.0, 63_400),
        (90, None, "prorate", 1, 1000.0, 1000),
        (17, 17, "prorate", 1, 1100.0, 1100),
        (0, None, "prorate", 19, 5000.0, 100_000),
    ],
)
def test_esp2013_for_ages(
    first: int, last: int | None, boundary: str, bands: int, cut_weight: float, total: float
) -> None:
    esp = stats.esp2013_for_ages(first, last, boundary=boundary)  # type: ignore[arg-type]
    assert list(esp.columns) == ["age_band", "standard_population"]
    assert len(esp) == bands
    assert esp["standard_population"].iloc[0] == cut_weight
    assert esp["standard_population"].sum() == pytest.approx(total)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_age": 20, "max_age": 10}, "empty"),
        ({"min_age": -1}, "empty or negative"),
        ({"boundary": "split"}, "boundary"),
    ],
)
def test_esp2013_for_ages_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        stats.esp2013_for_ages(**kwargs)


def adults(prevalence: float = 0.07, with_children: bool = True) -> pd.DataFrame:
    """A 17+ register: every band's prevalence the same; children's bands hold no one."""
    esp = stats.esp2013()
    pop = esp["standard_population"].astype(float) * 3
    pop[esp["age_band"] == "15-19"] *= 3 / 5  # only ages 17-19 are in the indicator
    under_15 = esp["age_band"].isin(["0-4", "5-9", "10-14"]).to_numpy()
    pop[under_15] = 0.0 if with_children else np.nan
    df = esp[["age_band"]].assign(area="A", pop=pop, cases=(pop * prevalence).round(6))
    return df if with_children else df[~under_15]


def test_diabetes_17_plus_is_standardised_over_17_plus_only() -> None:
    df = adults(0.07)
    over_17 = stats.dsr(df, "cases", "pop", by="area", multiplier=100, age_range=(17, None))
    assert over_17["value"].iloc[0] == pytest.approx(7.0, rel=1e-12)
    assert over_17["method"].iloc[0] == "Dobson, ESP2013 ages 17+"
    # over the whole ESP (ages 0-16 in the divisor) the same register reads 16% too low,
    # the error issue 10 reports
    whole = stats.dsr(df, "cases", "pop", by="area", multiplier=100)
    assert whole["value"].iloc[0] == pytest.approx(7.0 * 0.84, rel=1e-12)


def test_rows_outside_the_range_are_left_out_cleanly() -> None:
    with_children = adults(0.07).assign(pop=lambda d: d["pop"].where(d["pop"] > 0, 1000.0))
    without = adults(0.07, with_children=False)
    a = stats.dsr(with_children, "cases", "pop", by="area", age_range=(17, None))
    b = stats.dsr(without, "cases", "pop", by="area", age_range=(17, None))
    pdt.assert_frame_equal(a, b)
    assert a["denominator"].iloc[0] == without["pop"].sum()
    table = stats.dsr(without, "cases", "pop", by="area",
                      standard=stats.esp2013_for_ages(17))  # fmt: skip
    np.testing.assert_allclose(a[["value", "lower", "upper"]], table[["value", "lower", "upper"]])


def test_age_range_errors() -> None:
    df = adults(0.07)
    df.loc[df["age_band"] == "5-9", ["pop", "cases"]] = [100.0, 2.0]
    with pytest.raises(stats.StatsInputError, match="outside age_range"):
        stats.dsr(df, "cases", "pop", by="area", age_range=(17, None))
    with pytest.raises(ParameterError, match="not both"):
        stats.dsr(adults(), "cases", "pop", by="area", age_range=(17, None),
                  standard=stats.esp2013())  # fmt: skip
    with pytest.raises(stats.StatsInputError, match="not in the standard"):
        stats.dsr(adults().assign(age_band="16-20"), "cases", "pop", by="area",
                  age_range=(17, None))  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(
    first=st.integers(0, 89),
    span=st.integers(0, 100),
    rate=st.floats(0.001, 0.5),
)
def test_a_constant_rate_is_its_own_dsr_over_any_age_range(
    first: int, span: int, rate: float
) -> None:
    last = None if first + span > 95 else first + span
    esp = stats.esp2013_for_ages(first, last)
    df = esp.assign(area="A", pop=esp["standard_population"] * 7, x=esp["standard_population"]
                    * 7 * rate)  # fmt: skip
    out = stats.dsr(df, "x", "pop", by="area", multiplier=1, min_count=0, age_range=(first, last))
    assert out["value"].iloc[0] == pytest.approx(rate, rel=1e-10)
