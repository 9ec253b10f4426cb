"""Table-driven edge cases and input validation for the statistics functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from scipy import stats as sps

from bsol_analytics import stats
from bsol_analytics.errors import BsolError, ParameterError

STAT = list(stats.STAT_COLUMNS)


def one(x: float, n: float) -> pd.DataFrame:
    return pd.DataFrame({"area": ["A"], "x": [x], "n": [n]})


# --------------------------------------------------------------------------- proportion


@pytest.mark.parametrize(
    ("x", "n", "value", "lower", "upper"),
    [
        # zero numerator: lower limit exactly 0, upper from Wilson
        (0, 10, 0.0, 0.0, 0.2775327998628892),
        # numerator == denominator: upper limit exactly 1
        (10, 10, 1.0, 0.7224672001371108, 1.0),
        # zero denominator: missing, no error
        (0, 0, np.nan, np.nan, np.nan),
        # missing counts: missing
        (np.nan, 10, np.nan, np.nan, np.nan),
        (5, np.nan, np.nan, np.nan, np.nan),
    ],
)
def test_proportion_edge_cases(
    x: float, n: float, value: float, lower: float, upper: float
) -> None:
    out = stats.proportion(one(x, n), "x", "n")
    np.testing.assert_allclose(
        out[["value", "lower", "upper"]].to_numpy()[0], [value, lower, upper], rtol=1e-12
    )


def test_proportion_output_columns_and_types() -> None:
    df = pd.DataFrame({"pcn": ["A", "B"], "year": [2025, 2025], "x": [1, 2], "n": [10, 20]})
    out = stats.proportion(df, "x", "n", confidence=[0.95, 0.998])
    assert list(out.columns) == ["pcn", "year", *STAT]
    pdt.assert_series_equal(
        out["pcn"], pd.Series(["A", "A", "B", "B"], name="pcn", dtype=df["pcn"].dtype)
    )
    pdt.assert_series_equal(
        out["confidence"], pd.Series([0.95, 0.998, 0.95, 0.998], name="confidence")
    )
    assert out["method"].dtype == "str"


def test_functions_do_not_mutate_input() -> None:
    df = pd.DataFrame({"g": ["a", "a", "b"], "x": [1, 2, 3], "n": [10, 20, 30]})
    before = df.copy()
    stats.proportion(df, "x", "n", by="g")
    stats.rate(df, "x", "n")
    stats.mean(df, "x", by="g")
    stats.compare(df, "x", "x", "n", 2.0, polarity="no judgement")
    pdt.assert_frame_equal(df, before)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (one(-1, 10), "column 'x': must not be negative"),
        (one(1, -10), "column 'n': must not be negative"),
        (one(11, 10), "column 'x': must not be larger than 'n'"),
        (pd.DataFrame({"x": ["a"], "n": [1]}), "column 'x': must hold numbers"),
        (pd.DataFrame({"y": [1], "n": [1]}), "column 'x': is not a column"),
        (pd.DataFrame({"x": [1], "n": [2], "value": [3]}), "column 'value': clashes"),
    ],
)
def test_proportion_errors_name_column_and_rule(frame: pd.DataFrame, match: str) -> None:
    with pytest.raises(stats.StatsInputError, match=match) as info:
        stats.proportion(frame, "x", "n")
    assert isinstance(info.value, BsolError)
    assert "proportion()" in str(info.value)


def test_grouped_numerator_larger_than_denominator_refused() -> None:
    df = pd.DataFrame({"g": ["a", "a"], "x": [5, 6], "n": [10, 1]})
    with pytest.raises(stats.StatsInputError, match=r"larger than 'n' \(example rows: 1\)"):
        stats.proportion(df, "x", "n", by="g")


@pytest.mark.parametrize("confidence", [0.5, 0.89, 1.0, 100, 150, "high", [], [0.95, 0.95]])
def test_bad_confidence_levels(confidence: object) -> None:
    with pytest.raises(ParameterError):
        stats.proportion(one(1, 10), "x", "n", confidence=confidence)  # type: ignore[arg-type]


@pytest.mark.parametrize("confidence", [95, 99.8, 0.9, [95, 99.8]])
def test_percent_confidence_levels_accepted(confidence: object) -> None:
    out = stats.proportion(one(1, 10), "x", "n", confidence=confidence)  # type: ignore[arg-type]
    assert out["confidence"].between(0.9, 1).all()


@pytest.mark.parametrize("function", [stats.proportion, stats.rate])
@pytest.mark.parametrize("by", [None, "area"])
def test_empty_frame(function, by) -> None:  # type: ignore[no-untyped-def]
    df = pd.DataFrame({"area": pd.Series([], dtype="str"), "x": [], "n": []})
    out = function(df, "x", "n", by=by, confidence=[0.95, 0.998])
    assert len(out) == 0
    assert list(out.columns) == ["area", *STAT]


def test_not_a_frame() -> None:
    with pytest.raises(ParameterError, match="expected a pandas DataFrame"):
        stats.rate({"x": [1]}, "x", "n")  # type: ignore[arg-type]


def test_missing_group_keys_form_their_own_group() -> None:
    df = pd.DataFrame({"g": ["a", None, None], "x": [1, 2, 3], "n": [10, 10, 10]})
    out = stats.proportion(df, "x", "n", by="g")
    assert len(out) == 2
    np.testing.assert_allclose(out["numerator"].to_numpy(), [1.0, 5.0])


# --------------------------------------------------------------------------- rate


@pytest.mark.parametrize(
    ("x", "method", "lower_count", "upper_count"),
    [
        (0, "Exact", 0.0, sps.chi2.ppf(0.975, 2) / 2),
        (1, "Exact", sps.chi2.ppf(0.025, 2) / 2, sps.chi2.ppf(0.975, 4) / 2),
        (9, "Exact", sps.chi2.ppf(0.025, 18) / 2, sps.chi2.ppf(0.975, 20) / 2),
        (10, "Byars", float(stats.byars_lower(10)), float(stats.byars_upper(10))),
    ],
)
def test_rate_switches_to_byars_at_ten(
    x: int, method: str, lower_count: float, upper_count: float
) -> None:
    out = stats.rate(one(x, 1000), "x", "n", multiplier=1000)
    assert out["method"].iloc[0] == method
    np.testing.assert_allclose(
        out[["lower", "upper"]].to_numpy()[0], [lower_count, upper_count], rtol=1e-12
    )


def test_rate_zero_denominator_is_missing_not_error() -> None:
    out = stats.rate(one(3, 0), "x", "n")
    assert out[["value", "lower", "upper"]].isna().all().all()


# --------------------------------------------------------------------------- dsr


def esp_frame(counts: list[int] | None = None, pop: int = 1000) -> pd.DataFrame:
    esp = stats.esp2013()
    return pd.DataFrame(
        {
            "area": "A",
            "age_band": esp["age_band"],
            "x": counts if counts is not None else [5] * 19,
            "n": pop,
        }
    )


def test_esp2013_is_the_eurostat_standard() -> None:
    esp = stats.esp2013()
    assert esp["standard_population"].sum() == 100_000
    assert esp["age_band"].iloc[0] == "0-4"
    assert esp["age_band"].iloc[-1] == "90+"
    pdt.assert_series_equal(
        esp["standard_population"].iloc[[0, 6, 18]],
        pd.Series([5000, 6500, 1000], index=[0, 6, 18], name="standard_population"),
    )


@pytest.mark.parametrize(
    ("total", "published"),
    [(0, False), (9, False), (10, True), (95, True)],
)
def test_dsr_suppressed_below_ten_events(total: int, published: bool) -> None:
    counts = [0] * 19
    counts[-1] = total
    out = stats.dsr(esp_frame(counts), "x", "n", by="area")
    assert out["value"].notna().iloc[0] == published
    assert out["numerator"].iloc[0] == total


def test_dsr_min_count_can_be_lowered_and_uses_exact_limits() -> None:
    counts = [0] * 19
    counts[-1] = 4
    out = stats.dsr(esp_frame(counts), "x", "n", by="area", min_count=1, multiplier=1)
    value = 4 / 1000 * 1000 / 100_000
    assert out["value"].iloc[0] == pytest.approx(value)
    # one band only: Dobson's limits reduce to the exact limits of that band's rate
    factor = 1000 / 100_000 / 1000
    np.testing.assert_allclose(
        out[["lower", "upper"]].to_numpy()[0],
        [float(stats.exact_lower(4)) * factor, float(stats.exact_upper(4)) * factor],
        rtol=1e-12,
    )


def test_dsr_missing_band_counts_as_zero_with_full_standard() -> None:
    full = esp_frame()
    out_full = stats.dsr(full, "x", "n", by="area")
    partial = full.iloc[:-1]  # no 90+ row
    out_partial = stats.dsr(partial, "x", "n", by="area")
    expected = out_full["value"].iloc[0] - 5 / 1000 * 1000 / 100_000 * 100_000
    assert out_partial["value"].iloc[0] == pytest.approx(expected)


def test_dsr_age_labels_are_normalised() -> None:
    df = esp_frame()
    df["age_band"] = ["00-04", "05-09", *df["age_band"].iloc[2:-1], "90 +"]
    pdt.assert_frame_equal(
        stats.dsr(df, "x", "n", by="area").drop(columns="area"),
        stats.dsr(esp_frame(), "x", "n", by="area").drop(columns="area"),
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"age_band": {0: "0-5"}}, "age bands not in the standard population: 0-5"),
        ({"x": {0: -1}}, "column 'x': must not be negative"),
        ({"n": {0: -1}}, "column 'n': must not be negative"),
        ({"n": {0: np.nan}}, "column 'n': must not be missing"),
        ({"n": {0: 0}}, "has events where 'n' is 0"),
        ({"age_band": {1: "0-4"}}, "must appear once within a group"),
    ],
)
def test_dsr_errors(change: dict, match: str) -> None:
    df = esp_frame()
    for col, edits in change.items():
        for row, val in edits.items():
            df.loc[row, col] = val
    with pytest.raises(stats.StatsInputError, match=match):
        stats.dsr(df, "x", "n", by="area")


def test_dsr_zero_population_band_without_events_adds_nothing() -> None:
    df = esp_frame()
    df.loc[18, ["x", "n"]] = [0, 0]
    out = stats.dsr(df, "x", "n", by="area", multiplier=1)
    assert out["value"].iloc[0] == pytest.approx(5 / 1000 * (100_000 - 1000) / 100_000)


# --------------------------------------------------------------------------- isr


def test_isr_recorded_versus_expected_prevalence() -> None:
    df = pd.DataFrame(
        {
            "practice": ["P1", "P1", "P2", "P2"],
            "band": ["<65", "65+", "<65", "65+"],
            "cases": [30, 60, 4, 2],
            "pop": [1000, 200, 100, 20],
            "england": [0.02, 0.25, 0.02, 0.25],
        }
    )
    out = stats.isr(df, "cases", "pop", by="practice", reference_rate="england", multiplier=100)
    np.testing.assert_allclose(out["denominator"].to_numpy(), [70.0, 7.0])
    np.testing.assert_allclose(out["value"].to_numpy(), [90 / 70 * 100, 6 / 7 * 100])
    pdt.assert_series_equal(out["method"], pd.Series(["Byars", "Exact"], name="method"))
    exact = stats.isr(df, "cases", "pop", by="practice", reference_rate="england", method="exact")
    pdt.assert_series_equal(exact["method"], pd.Series(["Exact", "Exact"], name="method"))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, ParameterError),
        ({"reference_rate": "r", "reference_numerator": "r"}, ParameterError),
        ({"reference_rate": "r", "method": "normal"}, ParameterError),
        ({"reference_rate": "missing"}, stats.StatsInputError),
    ],
)
def test_isr_argument_errors(kwargs: dict, error: type[Exception]) -> None:
    df = pd.DataFrame({"g": ["a"], "o": [1], "p": [10], "r": [0.1]})
    with pytest.raises(error):
        stats.isr(df, "o", "p", by="g", **kwargs)


def test_isr_zero_expected_is_missing() -> None:
    df = pd.DataFrame({"g": ["a"], "o": [0], "p": [0], "r": [0.1]})
    out = stats.isr(df, "o", "p", by="g", reference_rate="r")
    assert out[["value", "lower", "upper"]].isna().all().all()


# --------------------------------------------------------------------------- mean


def test_mean_single_value_has_no_limits_and_nan_is_skipped() -> None:
    df = pd.DataFrame({"g": ["a", "b", "b", "b"], "v": [5.0, 1.0, np.nan, 3.0]})
    out = stats.mean(df, "v", by="g")
    np.testing.assert_allclose(out["value"].to_numpy(), [5.0, 2.0])
    np.testing.assert_allclose(out["denominator"].to_numpy(), [1.0, 2.0])
    assert np.isnan(out["lower"].iloc[0])
    half = sps.t.ppf(0.975, 1) * np.sqrt(2.0) / np.sqrt(2)
    assert out["upper"].iloc[1] == pytest.approx(2.0 + half)


# --------------------------------------------------------------------------- compare


@pytest.mark.parametrize(
    ("lower", "upper", "comparator", "polarity", "expected"),
    [
        (80, 90, 75, "higher is better", "better"),
        (80, 90, 75, "lower is better", "worse"),
        (80, 90, 75, "no judgement", "higher"),
        (60, 70, 75, "higher is better", "worse"),
        (60, 70, 75, "lower is better", "better"),
        (60, 70, 75, "no judgement", "lower"),
        (70, 80, 75, "higher is better", "similar"),
        (75, 80, 75, "higher is better", "similar"),  # touching counts as similar
        (np.nan, np.nan, 75, "higher is better", "not compared"),
        (70, 80, np.nan, "no judgement", "not compared"),
        (80, 90, 75, "Higher_is_better", "better"),
    ],
)
def test_compare_rule(
    lower: float, upper: float, comparator: float, polarity: str, expected: str
) -> None:
    df = pd.DataFrame({"v": [(lower + upper) / 2], "lo": [lower], "hi": [upper], "c": [comparator]})
    by_column = stats.compare(df, "v", "lo", "hi", "c", polarity=polarity)
    assert by_column["comparison"].iloc[0] == expected
    if not np.isnan(comparator):
        by_value = stats.compare(df, "v", "lo", "hi", comparator, polarity=polarity)
        assert by_value["comparison"].iloc[0] == expected


def test_compare_bad_polarity_and_existing_column() -> None:
    df = pd.DataFrame({"v": [1.0], "lo": [0.0], "hi": [2.0], "comparison": ["x"]})
    with pytest.raises(ParameterError, match="polarity"):
        stats.compare(df, "v", "lo", "hi", 1.0, polarity="up")
    with pytest.raises(stats.StatsInputError, match="already exists"):
        stats.compare(df, "v", "lo", "hi", 1.0, polarity="no judgement")


def test_compare_keeps_other_columns() -> None:
    df = pd.DataFrame({"area": ["A"], "v": [1.0], "lo": [0.5], "hi": [1.5]})
    out = stats.compare(df, "v", "lo", "hi", 3.0, polarity="lower is better")
    assert list(out.columns) == ["area", "v", "lo", "hi", "comparison"]
    assert out["comparison"].iloc[0] == "better"


# --------------------------------------------------------------------------- funnels


def test_funnel_proportion_limits_match_wilson_inversion() -> None:
    # an area exactly on the 95% limit has a Wilson interval that just touches the average
    p0, n = 0.3, 250
    out = stats.funnel_limits(p0, [n], statistic="proportion", confidence=0.95)
    lower = out["lower"].iloc[0]
    assert float(stats.wilson_upper(lower * n, n)) == pytest.approx(p0, rel=1e-9)
    upper = out["upper"].iloc[0]
    assert float(stats.wilson_lower(upper * n, n)) == pytest.approx(p0, rel=1e-9)


@pytest.mark.parametrize("expected", [20.0, 50.0, 5000.0])
def test_funnel_rate_limits_match_exact_poisson(expected: float) -> None:
    out = stats.funnel_limits(expected / 1000, [1000], statistic="rate", confidence=0.998)
    o_low, o_high = out["lower"].iloc[0] * 1000, out["upper"].iloc[0] * 1000
    assert float(stats.exact_upper(o_low, 0.998)) == pytest.approx(expected, rel=1e-8)
    assert float(stats.exact_lower(o_high, 0.998)) == pytest.approx(expected, rel=1e-8)


def test_funnel_limits_narrow_with_denominator() -> None:
    out = stats.funnel_limits(0.1, np.geomspace(10, 1e6, 30), statistic="proportion")
    for level in (0.95, 0.998):
        sub = out[out["confidence"] == level]
        assert sub["upper"].is_monotonic_decreasing
        assert sub["lower"].is_monotonic_increasing


def test_funnel_flags_rate_and_ratio() -> None:
    df = pd.DataFrame(
        {"pcn": ["A", "B", "C", "D"], "x": [10, 100, 200, 0], "n": [10000, 10000, 10000, 0]}
    )
    out = stats.funnel_flags(df, "x", "n", statistic="rate", comparator=0.01, confidence=0.998)
    pdt.assert_series_equal(
        out["funnel"], pd.Series(["below", "inside", "above", "no data"], name="funnel")
    )
    ratio = stats.funnel_flags(
        df.iloc[:3].assign(n=100.0), "x", "n", statistic="ratio", confidence=0.95, multiplier=100
    )
    pdt.assert_series_equal(ratio["funnel"], pd.Series(["below", "inside", "above"], name="funnel"))
    pdt.assert_series_equal(ratio["value"], pd.Series([10.0, 100.0, 200.0], name="value"))


def test_funnel_errors() -> None:
    with pytest.raises(ParameterError, match="statistic"):
        stats.funnel_limits(0.5, [10], statistic="mean")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="comparator"):
        stats.funnel_limits(1.5, [10], statistic="proportion")
