"""The indicator table: parameters, dates, roll-ups, statistics, comparators, tidy frame."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics import dates, protection, stats, vocabulary
from bsol_analytics import table as bd
from bsol_analytics.datafolder import coverage
from bsol_analytics.errors import ParameterError
from bsol_analytics.indicators import lookback_windows

AGE_BANDS = [*(f"{lo}-{lo + 4}" for lo in range(0, 90, 5)), "90+"]
PRACTICES = {  # practice -> (pcn, locality)
    "P1": ("N1", "East"),
    "P2": ("N1", "East"),
    "P3": ("N2", "West"),
    "P4": ("N3", "Solihull"),
}


def make_cube(
    seed: int = 1,
    dates: tuple[str, ...] = ("2025-03-31",),
    indicators: tuple[str, ...] = ("HYP_PREV", "SCR_BOWEL"),
    scale: int = 60,
) -> pd.DataFrame:
    """A synthetic cube in the shape of indicators.compute_cube, every key included."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in dates:
        for ind in indicators:
            for practice, (pcn, loc) in PRACTICES.items():
                for q in [1, 2, 3, 4, 5, None]:
                    for eth in ["Asian", "White", "Unknown"]:
                        for sex in ["F", "M"]:
                            for band in AGE_BANDS[::3]:
                                den = int(rng.integers(0, scale))
                                if den == 0:
                                    continue
                                num = int(rng.binomial(den, 0.3))
                                rows.append(
                                    (
                                        pd.Timestamp(d),
                                        practice,
                                        pcn,
                                        loc,
                                        None if q is None else loc,
                                        q,
                                        q and 2 * q,
                                        q and (q % 5) + 1,
                                        eth,
                                        sex,
                                        band,
                                        ind,
                                        num,
                                        den,
                                    )
                                )
    cols = [
        "reporting_date",
        "practice_code",
        "pcn_code",
        "practice_locality",
        "resident_locality",
        "imd2025_quintile",
        "imd2025_decile",
        "imd2019_quintile",
        "ethnicity_broad",
        "sex",
        "age_band",
        "indicator_id",
        "numerator",
        "denominator",
    ]
    cube = pd.DataFrame(rows, columns=cols)
    for col in ("imd2025_quintile", "imd2025_decile", "imd2019_quintile"):
        cube[col] = cube[col].astype("Int8")
    return cube


REFERENCE = pd.DataFrame(
    {
        "indicator_id": "HYP_PREV",
        "sex": np.repeat(["F", "M"], len(AGE_BANDS)),
        "age_band": AGE_BANDS * 2,
        "reference_rate": np.tile(np.linspace(0.0, 0.6, len(AGE_BANDS)), 2),
    }
)


# -- parameters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("by", "areas", "breakdowns"),
    [
        ("locality", ["BSOL", "locality"], ["overall"]),
        ("", ["BSOL"], ["overall"]),
        ("practice, PCN,Locality", ["BSOL", "locality", "pcn", "practice"], ["overall"]),
        ("imd_quintile,sex,imd_quintile", ["BSOL"], ["overall", "imd_quintile", "sex"]),
        ("ethnicity_broad*imd_quintile", ["BSOL"], ["overall", "ethnicity_broad*imd_quintile"]),
        (["bsol", "overall", "core20"], ["BSOL"], ["overall", "core20"]),
    ],
)
def test_parse_by(by, areas, breakdowns):
    assert bd.parse_by(by) == (areas, breakdowns)


@pytest.mark.parametrize(
    "by", ["ward", "imd_quintile*imd_quintile", "sex*age_band*core20", "locality*sex", "imd"]
)
def test_parse_by_refuses_with_choices(by):
    with pytest.raises(ParameterError, match=r"Choose from .*imd_quintile"):
        bd.parse_by(by)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2024-03-31", "2024-03-31", ["2024-03-31"]),
        ("2024-01-01", "2024-12-31", ["2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31"]),
        ("2024-04-01", "2024-09-29", ["2024-06-30"]),
        ("2023-12-31", "2024-02-01", ["2023-12-31"]),
    ],
)
def test_quarter_ends(start, end, expected):
    assert [str(d) for d in dates.quarter_ends(start, end)] == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("2024-01-01", "START:END"),
        ("2024-06-31:2025-03-31", "not a date"),
        ("2025-03-31:2024-03-31", "before its start"),
        ("2024-04-01:2024-05-01", "no quarter end"),
        ("2024-1-1:2025-03-31", "not a date"),
    ],
)
def test_parse_series_errors(text, match):
    with pytest.raises(ParameterError, match=match):
        dates.parse_series(text)


@pytest.mark.parametrize(
    ("latest", "expected"),
    [
        ("2025-03-31", dt.date(2025, 3, 31)),
        ("2025-03-30", dt.date(2024, 12, 31)),
        ("2024-07-01", dt.date(2024, 6, 30)),
    ],
)
def test_default_reporting_date(latest, expected, tmp_path):
    ev = pd.DataFrame({"event_date": pd.to_datetime(["2020-01-01", latest])})
    sc = pd.DataFrame({"test_date": pd.to_datetime(["2021-01-01"])})
    assert (
        dates.default_reporting_date(coverage({"clinical_events": ev, "screening": sc})) == expected
    )
    ev.to_parquet(tmp_path / "clinical_events.parquet")
    sc.to_parquet(tmp_path / "screening.parquet")
    assert dates.default_reporting_date(coverage(tmp_path)) == expected


def test_default_reporting_date_without_dates():
    with pytest.raises(ParameterError, match="--date"):
        dates.default_reporting_date(
            coverage({"clinical_events": pd.DataFrame({"event_date": []})})
        )


@pytest.mark.parametrize(
    ("breakdown", "values", "labels"),
    [
        (
            "imd_decile",
            [1, 10, 4, None],
            ["D1 (most deprived)", "D10 (least deprived)", "D4", "Unknown"],
        ),
        ("sex", ["F", "M", "U", None], ["Female", "Male", "Unknown", "Unknown"]),
        ("ethnicity_broad", ["Asian", None, ""], ["Asian", "Unknown", "Unknown"]),
        ("core20", [1, 5, None], ["Core20", "Rest", "Unknown"]),
    ],
)
def test_group_labels(breakdown, values, labels):
    pd.testing.assert_series_equal(
        bd.group_labels(breakdown, pd.Series(values, dtype=object)),
        pd.Series(labels, dtype="str"),
    )


# -- roll-ups -------------------------------------------------------------------------


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["practice", "resident"]))
def test_rollup_groups_add_up_to_overall(seed, view):
    cube = make_cube(seed, scale=20)
    areas, breakdowns = bd.parse_by("locality,pcn,imd_quintile,core20,sex,imd_quintile*sex")
    rolled = bd.rollup(cube, areas, breakdowns, view=view)
    key = ["reporting_date", "indicator_id", "area_type", "area"]
    overall = rolled[rolled["breakdown"] == "overall"].set_index(key)[["numerator", "denominator"]]
    for name, part in rolled[rolled["breakdown"] != "overall"].groupby("breakdown"):
        sums = part.groupby(key)[["numerator", "denominator"]].sum()
        pd.testing.assert_frame_equal(sums, overall.loc[sums.index], obj=name)
    # every area type adds up to BSOL
    for _, part in rolled.groupby("area_type"):
        tot = part.groupby(["indicator_id", "breakdown", "group"])["numerator"].sum()
        bsol = rolled[rolled["area_type"] == "BSOL"].set_index(
            ["indicator_id", "breakdown", "group"]
        )["numerator"]
        pd.testing.assert_series_equal(tot, bsol.loc[tot.index], check_names=False)


def test_rollup_resident_view_labels_outside_bsol():
    rolled = bd.rollup(make_cube(), ["BSOL", "locality"], ["overall"], view="resident")
    assert vocabulary.OUTSIDE_BSOL in set(rolled["area"])


def test_rollup_missing_key_is_plain_error():
    with pytest.raises(ParameterError, match="imd2019_decile"):
        bd.rollup(make_cube(), ["BSOL"], ["overall", "imd_decile"], imd="2019")


def test_rollup_does_not_mutate_cube():
    cube = make_cube()
    before = cube.copy()
    bd.rollup(cube, ["BSOL", "locality"], ["overall", "sex"], extra=["age_band"])
    pd.testing.assert_frame_equal(cube, before)


def test_cube_keys_union():
    keys = bd.cube_keys(
        ["BSOL", "locality", "practice"], ["overall", "imd_decile*sex"], view="resident", imd="2019"
    )
    assert keys == [
        "resident_locality",
        "practice_code",
        "pcn_code",
        "imd2019_decile",
        "sex",
        "age_band",
    ]


def test_area_parents_nesting():
    parents = protection.area_parents(
        make_cube(), ["BSOL", "locality", "pcn", "practice"], "practice"
    )
    links = set(map(tuple, parents[["area_type", "parent_type"]].drop_duplicates().to_numpy()))
    assert links == {
        ("locality", "BSOL"),
        ("pcn", "BSOL"),
        ("practice", "BSOL"),
        ("practice", "pcn"),
        ("practice", "locality"),
        ("pcn", "locality"),
    }


# -- the tidy frame -------------------------------------------------------------------


@pytest.fixture(scope="module")
def tidy() -> pd.DataFrame:
    return bd.tidy_indicators(
        make_cube(),
        by="locality,practice,imd_quintile,ethnicity_broad,imd_quintile*ethnicity_broad",
        derived={"HYP_PREV_DSR", "HYP_PREV_RVE"},
        reference=REFERENCE,
        polarity={"HYP_PREV": "no judgement", "SCR_BOWEL": "higher is better"},
        england={"HYP_PREV": 14.0},
    )


def test_tidy_columns_and_types(tidy):
    assert list(tidy.columns) == list(bd.TIDY_COLUMNS)
    assert set(tidy["view"]) == {"practice"}
    assert set(tidy["area_type"]) == {"BSOL", "locality", "practice"}
    assert set(tidy["indicator_id"]) == {"HYP_PREV", "HYP_PREV_DSR", "HYP_PREV_RVE", "SCR_BOWEL"}
    assert tidy["suppressed"].dtype == bool
    assert not tidy.duplicated(
        ["indicator_id", "reporting_date", "area_type", "area", "breakdown", "group"]
    ).any()


def test_tidy_proportions_match_stats(tidy):
    cube = make_cube()
    counts = (
        cube[cube["indicator_id"] == "SCR_BOWEL"]
        .groupby("practice_locality")[["numerator", "denominator"]]
        .sum()
        .reset_index()
    )
    expected = stats.proportion(counts, "numerator", "denominator", multiplier=100)
    got = tidy[
        (tidy["indicator_id"] == "SCR_BOWEL")
        & (tidy["area_type"] == "locality")
        & (tidy["breakdown"] == "overall")
    ]
    got = got.set_index("area").loc[expected["practice_locality"]]
    np.testing.assert_allclose(got["value"], expected["value"])
    np.testing.assert_allclose(got["lower"], expected["lower"])
    assert set(got["method"]) == {"Wilson"}


def test_tidy_comparators(tidy):
    overall = tidy[tidy["breakdown"] == "overall"]
    bsol = overall[(overall["area_type"] == "BSOL") & (overall["indicator_id"] == "HYP_PREV")]
    pd.testing.assert_frame_equal(
        bsol[["comparator", "comparator_value"]].reset_index(drop=True),
        pd.DataFrame({"comparator": ["England"], "comparator_value": [14.0]}),
    )
    loc = tidy[tidy["area_type"] == "locality"]
    assert set(loc["comparator"]) == {"BSOL"}
    merged = loc.merge(
        tidy[tidy["area_type"] == "BSOL"][["indicator_id", "breakdown", "group", "value"]],
        on=["indicator_id", "breakdown", "group"],
        suffixes=("", "_bsol"),
    )
    np.testing.assert_allclose(merged["comparator_value"], merged["value_bsol"])
    bowel = tidy[tidy["indicator_id"] == "SCR_BOWEL"]
    assert set(bowel["comparison"]) <= {"better", "similar", "worse", "not compared"}
    hyp = tidy[tidy["indicator_id"] == "HYP_PREV"]
    assert set(hyp["comparison"]) <= {"higher", "similar", "lower", "not compared"}
    assert (tidy.loc[tidy["suppressed"], "comparison"] == "not compared").all()


def test_tidy_sdc_holds(tidy):
    pub = tidy[~tidy["suppressed"]]
    for col in ("numerator", "denominator"):
        small = pub[col].between(1, 7)
        assert not small.any(), pub[small]
    gone = tidy[tidy["suppressed"]]
    assert gone[["value", "lower", "upper", "numerator"]].isna().all().all()
    assert gone["suppression_reason"].notna().all()
    # derived ids are suppressed with their base cell
    key = ["area_type", "area", "breakdown", "group"]
    base = tidy[tidy["indicator_id"] == "HYP_PREV"].set_index(key)["suppressed"]
    dsr = tidy[tidy["indicator_id"] == "HYP_PREV_DSR"].set_index(key)["suppressed"]
    assert (dsr | ~base.loc[dsr.index]).all()


def test_tidy_dsr_and_rve(tidy):
    dsr = tidy[
        (tidy["indicator_id"] == "HYP_PREV_DSR")
        & (tidy["area_type"] == "BSOL")
        & (tidy["breakdown"] == "overall")
    ].iloc[0]
    strata = (
        make_cube()
        .query("indicator_id == 'HYP_PREV'")
        .groupby("age_band")[["numerator", "denominator"]]
        .sum()
        .reset_index()
    )
    expected = stats.dsr(strata, "numerator", "denominator", by=None, multiplier=100)
    assert dsr["value"] == pytest.approx(expected["value"].iloc[0])
    assert "age_band" not in set(tidy.loc[tidy["indicator_id"] == "HYP_PREV_DSR", "breakdown"])
    rve = tidy[
        (tidy["indicator_id"] == "HYP_PREV_RVE")
        & (tidy["area_type"] == "BSOL")
        & (tidy["breakdown"] == "overall")
    ].iloc[0]
    cube = make_cube().query("indicator_id == 'HYP_PREV'")
    exp = cube.merge(REFERENCE.drop(columns="indicator_id"), on=["sex", "age_band"])
    expected_count = (exp["denominator"] * exp["reference_rate"]).sum()
    assert rve["denominator"] == pytest.approx(expected_count)
    assert rve["value"] == pytest.approx(cube["numerator"].sum() / expected_count)


def test_tidy_without_sdc_publishes_everything():
    out = bd.tidy_indicators(make_cube(scale=3), by="practice,imd_quintile", sdc=False)
    assert not out["suppressed"].any()
    assert out["suppression_reason"].isna().all()
    assert out["numerator"].between(1, 7).any()


def test_tidy_is_deterministic_and_leaves_cube_alone():
    cube = make_cube(seed=5)
    before = cube.copy()
    a = bd.tidy_indicators(cube, by="locality,sex")
    b = bd.tidy_indicators(cube, by="locality,sex")
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(cube, before)


def test_tidy_series_of_dates():
    cube = make_cube(dates=("2024-12-31", "2025-03-31"))
    out = bd.tidy_indicators(cube, by="locality")
    assert out["reporting_date"].nunique() == 2


@pytest.mark.parametrize(("view", "imd"), [("county", "2025"), ("practice", "2015")])
def test_tidy_refuses_bad_choices(view, imd):
    with pytest.raises(ParameterError, match="must be one of"):
        bd.tidy_indicators(make_cube(), view=view, imd=imd)


def test_add_comparisons_no_comparator():
    t = pd.DataFrame(
        {
            "indicator_id": "X",
            "reporting_date": "2025-03-31",
            "view": "practice",
            "area_type": ["BSOL"],
            "area": ["BSOL"],
            "breakdown": "sex",
            "group": "Female",
            "value": [5.0],
            "lower": [4.0],
            "upper": [6.0],
        }
    )
    out = bd.add_comparisons(t, england={"X": 3.0})
    assert out["comparator"].isna().all()
    pd.testing.assert_series_equal(
        out["comparison"], pd.Series(["not compared"], name="comparison")
    )


# -- inequality -----------------------------------------------------------------------


def test_inequality_summary(tidy):
    out = bd.inequality_summary(tidy, repetitions=1000)
    assert set(out["statistic"]) == {"sii", "rii"}
    assert {"indicator_id", "area_type", "area", "value", "lower", "upper"} <= set(out.columns)


def test_inequality_summary_refuses_suppressed_quintiles():
    groups = ["Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5 (least deprived)"]
    t = pd.DataFrame(
        {
            "indicator_id": "X",
            "reporting_date": "2025-03-31",
            "view": "practice",
            "area_type": "BSOL",
            "area": "BSOL",
            "breakdown": "imd_quintile",
            "group": groups,
            "value": [30.0, np.nan, 26, 24, 22],
            "lower": [29.0, np.nan, 25, 23, 21],
            "upper": [31.0, np.nan, 27, 25, 23],
            "denominator": [1000.0, np.nan, 1000, 1000, 1000],
            "suppressed": [False, True, False, False, False],
        }
    )
    out = bd.inequality_summary(t, repetitions=1000)
    assert out["value"].isna().all()


def test_inequality_summary_needs_the_breakdown(tidy):
    with pytest.raises(ParameterError, match="imd_decile"):
        bd.inequality_summary(tidy, "imd_decile")


def test_derived_only_keeps_base_protection():
    cube = make_cube(scale=6)
    full = bd.tidy_indicators(cube, by="locality,sex", derived={"HYP_PREV_DSR"})
    only = bd.tidy_indicators(cube, by="locality,sex", derived={"HYP_PREV_DSR"}, keep=[])
    assert set(only["indicator_id"]) == {"HYP_PREV_DSR"}
    expected = full[full["indicator_id"] == "HYP_PREV_DSR"].reset_index(drop=True)
    pd.testing.assert_frame_equal(only, expected)


def test_tidy_no_line_with_one_suppressed_cell(tidy):
    from bsol_analytics import sdc

    base = tidy[~tidy["indicator_id"].str.endswith(("_DSR", "_RVE"))].reset_index(drop=True)
    parents = protection.area_parents(make_cube(), ["BSOL", "locality", "practice"], "practice")
    lines = sdc.indicator_lines(base, parents)
    counts = sdc.line_counts(base["suppressed"].to_numpy(), lines)
    assert len(counts) > 0
    assert (counts != 1).all()


def test_empty_cube_gives_empty_tidy_frame():
    cube = make_cube().iloc[:0]
    out = bd.tidy_indicators(cube, by="locality")
    assert list(out.columns) == list(bd.TIDY_COLUMNS)
    assert out.empty


@pytest.mark.parametrize(
    ("function", "args", "column"),
    [
        (bd.tidy_indicators, (), "reporting_date"),
        (bd.add_comparisons, (), "indicator_id"),
        (bd.inequality_summary, (), "indicator_id"),
        (bd.standardised_prevalence, (), "indicator_id"),
        (bd.recorded_vs_expected, (None,), "indicator_id"),
    ],
)
def test_missing_columns_are_named(function, args, column):
    with pytest.raises(ParameterError, match=f"{function.__name__}\\(\\): .*'{column}'"):
        function(pd.DataFrame({"x": [1]}), *args)


# --------------------------------------------------------------------------------------
# One date: quarter ends, coverage and the refusal of unsupported reporting dates
# --------------------------------------------------------------------------------------

COVERAGE = dates.Coverage(
    dt.date(2025, 3, 31),
    {"measurements": dt.date(2019, 3, 31), "screening": dt.date(2019, 4, 1)},
)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2025-03-31", "2025-03-31"),
        ("2025-03-30", "2024-12-31"),
        ("2025-04-01", "2025-03-31"),
        ("2024-12-31", "2024-12-31"),
        ("2025-01-01", "2024-12-31"),
        ("2024-06-30", "2024-06-30"),
    ],
)
def test_quarter_end(day, expected):
    assert dates.quarter_end(day).isoformat() == expected


@settings(max_examples=200, deadline=None)
@given(st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31)), st.integers(1, 12))
def test_quarter_series_are_quarter_ends_three_months_apart(day, n):
    end = dates.quarter_end(day)
    series = dates.quarter_series(end, n)
    assert len(series) == n and series[-1] == end
    assert all(dates.quarter_end(d) == d for d in series)
    assert series == dates.quarter_ends(series[0], end)


@pytest.mark.parametrize(
    ("rd", "ids", "message"),
    [
        ("2025-03-31", None, None),
        ("2025-06-30", None, "after the last complete quarter"),
        ("2024-03-31", ["HYP_BP_CHECK_45"], None),  # 60 months back: 2019-03-31
        ("2024-03-30", ["HYP_BP_CHECK_45"], None),  # window from 2019-03-31 on
        ("2024-03-29", ["HYP_BP_CHECK_45"], "HYP_BP_CHECK_45 looks back 60 months"),
        ("2024-09-30", ["SCR_CERVICAL_50_64"], "the screening tests start on 2019-04-01"),
        ("2024-12-31", ["SCR_CERVICAL_50_64"], None),
        ("2020-03-31", ["HYP_PREV", "DM_HBA1C_58"], None),  # registers; a 12-month window
        ("2020-03-31", None, "too early"),
    ],
)
def test_check_reporting_date(rd, ids, message):
    day = dt.date.fromisoformat(rd)
    windows = lookback_windows(ids)
    if message is None:
        assert dates.check_reporting_date(day, COVERAGE, windows) == day
    else:
        with pytest.raises(ParameterError, match=message) as err:
            dates.check_reporting_date(day, COVERAGE, windows)
        assert (
            "The extract covers 2019-03-31 to 2025-03-31 (blood pressure, HbA1c and COPD reviews "
            "from 2019-03-31, screening tests from 2019-04-01; last complete quarter 2025-03-31)"
        ) in str(err.value)


def test_coverage_starts_at_the_windowed_events_not_old_diagnoses():
    ev = pd.DataFrame(
        {
            "event_date": pd.to_datetime(["1990-05-01", "2019-03-31", "2025-03-31"]),
            "cluster": ["HYP_COD", "SBP", "HBA1C"],
        }
    )
    sc = pd.DataFrame({"test_date": pd.to_datetime(["2019-06-01", "2024-01-01"])})
    cov = coverage({"clinical_events": ev, "screening": sc})
    assert cov.last == dt.date(2025, 3, 31)
    assert cov.starts == {"measurements": dt.date(2019, 3, 31), "screening": dt.date(2019, 6, 1)}


WIDE_COVERAGE = dates.Coverage(
    dt.date(2025, 3, 31),
    {
        "measurements": dt.date(2016, 3, 31),
        "screening": dt.date(2016, 3, 31),
        "cholesterol": dt.date(2023, 4, 1),
        "medications": dt.date(2024, 1, 1),
        "admissions": dt.date(2024, 1, 2),
        "ed_attendances": dt.date(2024, 1, 1),
    },
)


@pytest.mark.parametrize(
    ("rd", "ids", "message"),
    [
        ("2024-03-31", ["HYP_CHOL_RANGE", "CVD_CHOL_RANGE"], None),
        ("2024-03-30", ["CVD_CHOL_RANGE"], "CVD_CHOL_RANGE looks back 12 months, to 2023-03-30"),
        ("2024-07-01", ["CVD_LLT"], None),  # 6 months back: from 2024-01-02
        ("2024-06-30", ["CVD_LLT"], "the prescriptions start on 2024-01-01"),
        ("2024-06-30", ["DM_3TT"], "DM_3TT looks back 6 months"),  # the statin window
        ("2025-03-31", ["ACSC_EMERG", "EOL_3PLUS_EMERG", "EOL_ED_MEAN"], None),
        # 12 months of deaths and the 90 days before each
        ("2024-12-31", ["EOL_3PLUS_EMERG"], "looks back 12 months and 90 days, to 2023-10-02"),
        ("2025-03-30", ["EOL_ED_3PLUS"], None),  # the window starts on 2024-01-01
        ("2025-03-29", ["EOL_ED_3PLUS"], "the ED attendances start on 2024-01-01"),
        ("2025-01-01", ["ACSC_EMERG"], None),  # the window starts on 2024-01-02
        ("2024-12-31", ["ACSC_EMERG"], "the hospital admissions start on 2024-01-02"),
        ("2020-03-31", ["HYP_PREV", "EOL_HOSPITAL", "MORT_CANCER_U75"], None),  # no window
    ],
)
def test_every_window_is_checked_against_its_own_source(rd, ids, message):
    day = dt.date.fromisoformat(rd)
    if message is None:
        assert dates.check_reporting_date(day, WIDE_COVERAGE, lookback_windows(ids)) == day
    else:
        with pytest.raises(ParameterError, match=message):
            dates.check_reporting_date(day, WIDE_COVERAGE, lookback_windows(ids))


def test_windows_are_those_the_definitions_read():
    from bsol_analytics.indicators import engines, screening

    windows = lookback_windows()
    assert windows["HYP_BP_CHECK_45"] == (dates.Window("measurements", 60),)
    assert windows["HYP_BP_CHOL"] == (
        dates.Window("measurements", 12),
        dates.Window("cholesterol", 12),
    )
    for ind, (_, _, _, column) in screening.COVERAGE.items():
        assert windows[ind] == (dates.Window("screening", screening.WINDOWS[column][1]),)
    # every windowed feature reads a dated source (a refusal can name it)
    used = {w.source for f in engines.FEATURES.values() for w in f.windows}
    assert used <= set(dates.SOURCES)
    assert "HYP_PREV" not in windows and "EOL_HOSPITAL" not in windows


def test_a_prepared_folder_and_its_frames_have_one_coverage(tmp_path):
    ev = pd.DataFrame(
        {
            "event_date": pd.to_datetime(["1990-05-01", "2019-03-31", "2020-02-01", "2025-03-31"]),
            "cluster": pd.Categorical(["HYP_COD", "SBP", "LDL", "HBA1C"]),
        }
    )
    tables = {
        "clinical_events": ev,
        "medications": pd.DataFrame({"issue_date": pd.to_datetime(["2021-09-30", "2025-01-01"])}),
        "ed_attendances": pd.DataFrame({"attendance_date": pd.to_datetime(["2018-08-02"])}),
    }
    for name, frame in tables.items():
        frame.to_parquet(tmp_path / f"{name}.parquet")
    (tmp_path / vocabulary.PREPARE_MANIFEST).write_text("{}")
    expected = dates.Coverage(
        dt.date(2025, 3, 31),
        {
            "measurements": dt.date(2019, 3, 31),
            "cholesterol": dt.date(2020, 2, 1),
            "medications": dt.date(2021, 9, 30),
            "ed_attendances": dt.date(2018, 8, 2),
        },
    )
    assert coverage(tables) == expected
    assert coverage(tmp_path) == expected


def test_derived_rows_follow_the_registry_flags():
    from bsol_analytics.indicators.registry import list_indicators

    flags = list_indicators()
    assert set(bd.DSR_BASES) == {i.id for i in flags if i.age_standardised}
    assert set(bd.RVE_BASES) == {i.id for i in flags if i.recorded_vs_expected}
    assert bd.derived_ids() == {f"{b}_DSR" for b in bd.DSR_BASES} | {
        f"{b}_RVE" for b in bd.RVE_BASES
    } | {f"{b}_ISR" for b in bd.DSR_BASES}
