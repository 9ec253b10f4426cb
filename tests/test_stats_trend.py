"""Fingertips' recent trend: known answers, independent checks and table-driven edges."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics import stats
from bsol_analytics.errors import ParameterError


def series(r: list[float], n: list[float] | float = 1000, **cols: object) -> pd.DataFrame:
    n_list = n if isinstance(n, list) else [n] * len(r)
    return pd.DataFrame({"period": range(2015, 2015 + len(r)), "r": r, "n": n_list, **cols}).astype(
        {"r": float, "n": float}
    )


def individual_chi_squared(r: list[float], n: list[float]) -> float:
    """Independent check: N·(Pearson correlation of score and outcome)² over people."""
    t = np.repeat(np.arange(1, len(r) + 1), np.asarray(n, dtype=int))
    y = np.concatenate(
        [np.r_[np.ones(int(a)), np.zeros(int(b - a))] for a, b in zip(r, n, strict=True)]
    )
    return float(len(y) * np.corrcoef(t, y)[0, 1] ** 2)


def test_known_answer_prop_trend_test() -> None:
    # R: prop.trend.test(c(83, 90, 129, 70), c(86, 93, 136, 82))
    #    X-squared = 8.2249, df = 1, p-value = 0.004132
    chi, p = stats.chi_squared_trend([83, 90, 129, 70], [86, 93, 136, 82])
    assert chi == pytest.approx(8.2249, abs=5e-5)
    assert p == pytest.approx(0.004132, abs=5e-7)
    out = stats.recent_trend(
        series([83, 90, 129, 70], [86, 93, 136, 82]), "r", "n", period="period", points=4
    )
    assert out["value"].iloc[0] == pytest.approx(chi, rel=1e-12)
    assert out["p_value"].iloc[0] == pytest.approx(p, rel=1e-12)
    # 97%, 97%, 95%, 85%: significant at 95% (χ² > 3.84), not at Fingertips' 99.8% (9.55)
    assert out["direction"].iloc[0] == "no significant change"
    at_95 = stats.recent_trend(
        series([83, 90, 129, 70], [86, 93, 136, 82]), "r", "n", period="period", points=4,
        confidence=0.95,
    )  # fmt: skip
    assert at_95["direction"].iloc[0] == "decreasing"


def test_fingertips_diabetes_prevalence_is_increasing() -> None:
    # England QOF diabetes prevalence 2020-2024 (Fingertips indicator 241).
    df = pd.DataFrame(
        {
            "year": [2024, 2023, 2022, 2021, 2020],
            "count": [3938080, 3774801, 3625401, 3491868, 3455176],
            "list": [51441896, 50649129, 49956777, 49122259, 48783947],
        }
    )
    out = stats.recent_trend(df, "count", "list", period="year")
    row = out.iloc[0]
    assert row["direction"] == "increasing"
    assert row["p_value"] < 1e-100
    assert (row["period_from"], row["period_to"], row["points"]) == (2020, 2024, 5)
    assert row["numerator"] == df["count"].sum()


@settings(max_examples=40, deadline=None)
@given(
    n=st.lists(st.integers(5, 60), min_size=5, max_size=5),
    p=st.lists(st.floats(0.05, 0.95), min_size=5, max_size=5),
)
def test_statistic_equals_individual_level_correlation(n: list[int], p: list[float]) -> None:
    r = [float(round(ni * pi)) for ni, pi in zip(n, p, strict=True)]
    total = sum(r)
    if total in (0, sum(n)):
        return
    chi, _ = stats.chi_squared_trend(r, n)
    assert chi == pytest.approx(individual_chi_squared(r, [float(x) for x in n]), rel=1e-9)


@pytest.mark.parametrize(
    ("r", "n", "confidence", "direction"),
    [
        ([700, 720, 745, 770, 790], 1000, 0.998, "increasing"),
        ([790, 770, 745, 720, 700], 1000, 0.998, "decreasing"),
        ([700, 705, 698, 702, 701], 1000, 0.998, "no significant change"),
        # chi-squared about 4.6: significant at 95%, not at 99.8%
        ([700, 710, 720, 730, 738], 1000, 0.998, "no significant change"),
        ([700, 710, 720, 730, 738], 1000, 0.95, "increasing"),
        # only the latest five count: an old fall does not hide a recent rise
        ([900, 500, 700, 720, 745, 770, 790], 1000, 0.998, "increasing"),
        # fewer than five points
        ([700, 720, 745, 770], 1000, 0.998, "cannot be calculated"),
        # a missing count among the latest five breaks the run
        ([700, 720, np.nan, 770, 790], 1000, 0.998, "cannot be calculated"),
        # ... but a missing count before them does not
        ([np.nan, 700, 720, 745, 770, 790], 1000, 0.998, "increasing"),
        # a zero denominator is not a usable point
        ([0, 720, 745, 770, 790], [0, 1000, 1000, 1000, 1000], 0.998, "cannot be calculated"),
        # every proportion 0: no variation, no change
        ([0, 0, 0, 0, 0], 1000, 0.998, "no significant change"),
        # a proportion of 0 (logit undefined): direction from the test statistic
        ([0, 20, 45, 70, 90], 1000, 0.998, "increasing"),
    ],
)
def test_directions(r: list[float], n: list[float] | float, confidence: float,
                    direction: str) -> None:  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = stats.recent_trend(series(r, n), "r", "n", period="period", confidence=confidence)
    assert out["direction"].iloc[0] == direction
    if direction == "cannot be calculated":
        assert out[["value", "p_value"]].isna().all(axis=None)


def test_several_series_unordered_with_dates() -> None:
    quarters = pd.to_datetime(
        ["2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31", "2025-03-31"]
    )
    up = pd.DataFrame({"area": "East", "q": quarters, "r": [700, 720, 745, 770, 790]})
    flat = pd.DataFrame({"area": "West", "q": quarters, "r": [700, 705, 698, 702, 701]})
    short = pd.DataFrame({"area": "North", "q": quarters[:3], "r": [700, 705, 698]})
    df = pd.concat([up, flat, short]).assign(n=1000).sample(frac=1, random_state=1)
    out = stats.recent_trend(df, "r", "n", period="q", by="area")
    assert list(out.columns) == [
        "area", *stats.STAT_COLUMNS, "direction", "p_value", "points", "period_from",
        "period_to",
    ]  # fmt: skip
    got = out.set_index("area")
    pdt.assert_series_equal(
        got["direction"].sort_index(),
        pd.Series(
            ["increasing", "cannot be calculated", "no significant change"],
            index=pd.Index(["East", "North", "West"], name="area"),
            name="direction",
        ),
        check_dtype=False,
        check_index_type=False,
    )
    assert got.loc["North", "points"] == 3
    assert got.loc["East", "period_to"] == pd.Timestamp("2025-03-31")
    ordered = stats.recent_trend(df.sort_values(["area", "q"]), "r", "n", period="q", by="area")
    pdt.assert_frame_equal(
        out.sort_values("area").reset_index(drop=True),
        ordered.sort_values("area").reset_index(drop=True),
    )


def test_trend_errors() -> None:
    with pytest.raises(stats.StatsInputError, match="must not be larger than 'n'"):
        stats.recent_trend(series([700, 720, 745, 770, 1790]), "r", "n", period="period")
    with pytest.raises(stats.StatsInputError, match="each period must appear once"):
        df = series([700, 720, 745, 770, 790])
        stats.recent_trend(pd.concat([df, df.iloc[:1]]), "r", "n", period="period")
    with pytest.raises(ParameterError, match="at least 3"):
        stats.recent_trend(series([700, 720, 745]), "r", "n", period="period", points=2)
