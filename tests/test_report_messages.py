"""Key messages: significant gaps ranked by people affected, inequality, tested trends."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics.report import messages
from bsol_analytics.report.messages import example_pack, key_messages
from bsol_analytics.report.selection import recent_trends
from bsol_analytics.vocabulary import BSOL

_ID = re.compile(r"\b[A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+\b")


def _with(data, **changes):
    """A copy of ``data`` with its frames replaced (and no cached results)."""
    return dataclasses.replace(data, _cache={}, **changes)


def _second_indicator(data, value: float, half: float, denominator: float):
    """Add HYP_BP_TARGET (higher is better) for East and BSOL to the example pack."""
    ind = data.indicators
    extra = ind[ind["indicator_id"] == "SCR_BOWEL"].assign(indicator_id="HYP_BP_TARGET")
    east = extra["area"] == "East"
    extra.loc[east, "value"] = value
    extra.loc[east, "lower"] = value - half
    extra.loc[east, "upper"] = value + half
    extra.loc[east, "denominator"] = denominator
    extra.loc[east, "numerator"] = value / 100 * denominator
    meta = pd.concat(
        [
            data.meta,
            data.meta.assign(
                indicator_id="HYP_BP_TARGET",
                title="Hypertension: blood pressure treated to target",
                family="hypertension",
                england_value=np.nan,
            ),
        ],
        ignore_index=True,
    )
    return _with(data, indicators=pd.concat([ind, extra], ignore_index=True), meta=meta)


def test_example_messages_are_three_to_five_sentences_without_ids():
    for area in ("East", BSOL):
        out = key_messages(example_pack(), area)
        assert 3 <= len(out) <= 5
        for sentence in out:
            assert sentence.endswith(".")
            assert not _ID.search(sentence), sentence


def test_england_message_states_its_period():
    out = key_messages(example_pack(), "East")
    assert "England's 72.0% in 2022/23" in out[1]


def test_gaps_rank_by_people_affected_not_by_size():
    # BP to target: a 10-point gap on 100 people (10 people); bowel: 4 points on 10,000.
    data = _second_indicator(example_pack(), 52.0, 1.0, 100.0)
    gaps = messages.significant_gaps(data, "East", BSOL)
    assert gaps["indicator_id"].tolist() == ["SCR_BOWEL", "HYP_BP_TARGET"]
    pdt.assert_series_equal(
        gaps["people"], pd.Series([400.0, 10.0], name="people"), check_exact=False
    )
    assert "bowel screening coverage" in key_messages(data, "East")[0]


def test_a_gap_whose_interval_includes_the_comparator_is_not_a_message():
    data = _second_indicator(example_pack(), 61.0, 2.0, 1_000_000.0)  # 61 +/- 2 holds 62
    gaps = messages.significant_gaps(data, "East", BSOL)
    assert "HYP_BP_TARGET" not in set(gaps["indicator_id"])


def test_nothing_significant_says_so():
    data = example_pack()
    ind = data.indicators.assign(lower=0.0, upper=100.0)
    sii = data.sii.assign(lower=-1.0)
    flat = ind.assign(numerator=ind["denominator"] * 0.6)
    out = key_messages(_with(data, indicators=flat, sii=sii), "East")
    assert out[0] == "No indicator in East differs significantly from BSOL."
    assert out[2].startswith("No indicator in East shows a statistically significant gap")
    assert out[3].startswith("No indicator in East changed significantly over the 5 quarters")


@pytest.mark.parametrize(
    ("values", "trend"),
    [
        ([50, 52, 54, 56, 58], "increasing"),
        ([58, 56, 54, 52, 50], "decreasing"),
        ([55, 55, 55, 55, 55], "no significant change"),
    ],
)
def test_trend_words_come_from_the_recent_trend_test(values, trend):
    data = example_pack()
    ind = data.indicators.copy()
    east = (ind["area"] == "East").to_numpy()
    ind.loc[east, "value"] = np.array(values, dtype=float)
    ind.loc[east, "numerator"] = np.array(values, dtype=float) * 100
    data = _with(data, indicators=ind)
    assert recent_trends(data, "East").set_index("indicator_id").loc["SCR_BOWEL", "trend"] == trend
    last = key_messages(data, "East")[-1]
    if trend == "no significant change":
        assert last.startswith("No indicator in East changed significantly")
    else:
        assert f"{trend} from" in last and "chi-squared test for trend" in last


def test_a_suppressed_quarter_in_the_window_stops_the_test():
    data = example_pack()
    ind = data.indicators.copy()
    first = ind.index[(ind["area"] == "East")][0]
    ind.loc[first + 2, "suppressed"] = True
    trends = recent_trends(_with(data, indicators=ind), "East").set_index("indicator_id")
    assert trends.loc["SCR_BOWEL", "trend"].startswith("not tested")


@settings(max_examples=30, deadline=None)
@given(
    st.floats(min_value=1, max_value=99),
    st.floats(min_value=0.1, max_value=20),
    st.floats(min_value=-30, max_value=30),
)
def test_messages_never_name_a_highest_or_lowest_group(value, half, sii):
    data = _second_indicator(example_pack(), value, half, 5_000.0)
    data = _with(data, sii=data.sii.assign(value=sii, lower=sii - half, upper=sii + half))
    for area in ("East", BSOL):
        for sentence in key_messages(data, area):
            assert "highest" not in sentence and "lowest" not in sentence
            assert not _ID.search(sentence)


def test_locality_gaps_with_bsol_use_age_standardised_values():
    # Crude prevalence 2 points below BSOL; age-standardised equal to BSOL: no message.
    data = example_pack()
    ind = data.indicators
    crude = ind.assign(indicator_id="HYP_PREV")
    crude.loc[crude["area"] == "East", ["value", "lower", "upper"]] = [60.0, 59.5, 60.5]
    std = ind.assign(indicator_id="HYP_PREV_DSR", value=62.0, lower=61.0, upper=63.0)
    meta = pd.concat(
        [
            data.meta.assign(indicator_id="HYP_PREV", title="Hypertension: recorded prevalence",
                             polarity="no judgement", england_value=np.nan),
            data.meta.assign(indicator_id="HYP_PREV_DSR", derived="DSR",
                             title="Hypertension: recorded prevalence (age-standardised)",
                             polarity="no judgement", england_value=np.nan),
        ],
        ignore_index=True,
    )  # fmt: skip
    data = _with(data, indicators=pd.concat([crude, std], ignore_index=True), meta=meta)
    assert messages.significant_gaps(data, "East", BSOL).empty
    england = messages.significant_gaps(data, "East", "England")
    assert england["indicator_id"].tolist() == ["HYP_PREV"]  # England: crude QOF figure
