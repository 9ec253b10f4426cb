"""Disclosure control: primary and secondary suppression of the tidy indicator frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bsol_analytics import sdc
from bsol_analytics.errors import ParameterError
from bsol_analytics.sdc import (
    DEFAULT_POLICY,
    SDCPolicy,
    apply_sdc,
    indicator_lines,
    line_counts,
    primary_suppression,
    secondary_suppression,
)

BASE = {
    "indicator_id": "X",
    "reporting_date": "2025-03-31",
    "view": "practice",
    "area_type": "BSOL",
    "area": "BSOL",
}
QUINTILES = ["Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5 (least deprived)", "Unknown"]


def assert_suppressed(out: pd.DataFrame, expected: list[bool]) -> None:
    pd.testing.assert_series_equal(out["suppressed"], pd.Series(expected, name="suppressed"))


def one_d_table(nums: list[int], dens: list[int], groups: list[str] | None = None) -> pd.DataFrame:
    """A 1-D table (breakdown imd_quintile) with its overall total row first."""
    groups = groups or QUINTILES[: len(nums)]
    rows = [
        {
            **BASE,
            "breakdown": "overall",
            "group": "All",
            "numerator": sum(nums),
            "denominator": sum(dens),
        }
    ]
    rows += [
        {**BASE, "breakdown": "imd_quintile", "group": g, "numerator": n, "denominator": d}
        for g, n, d in zip(groups, nums, dens, strict=True)
    ]
    out = pd.DataFrame(rows)
    out["value"] = 100 * out["numerator"] / out["denominator"].where(out["denominator"] > 0)
    out["lower"] = out["value"] - 1
    out["upper"] = out["value"] + 1
    return out


def matrix_table(nums: np.ndarray, dens: np.ndarray, margins: bool) -> pd.DataFrame:
    """A deprivation x ethnicity matrix, optionally with its margins and total."""
    r, c = nums.shape
    rows_l = [f"Q{i + 1}" for i in range(r)]
    cols_l = [f"E{j + 1}" for j in range(c)]
    rows = [
        {
            **BASE,
            "breakdown": "imd_quintile*ethnicity_broad",
            "group": f"{rows_l[i]} | {cols_l[j]}",
            "numerator": int(nums[i, j]),
            "denominator": int(dens[i, j]),
        }
        for i in range(r)
        for j in range(c)
    ]
    if margins:
        rows.append(
            {
                **BASE,
                "breakdown": "overall",
                "group": "All",
                "numerator": int(nums.sum()),
                "denominator": int(dens.sum()),
            }
        )
        rows += [
            {
                **BASE,
                "breakdown": "imd_quintile",
                "group": rows_l[i],
                "numerator": int(nums[i].sum()),
                "denominator": int(dens[i].sum()),
            }
            for i in range(r)
        ]
        rows += [
            {
                **BASE,
                "breakdown": "ethnicity_broad",
                "group": cols_l[j],
                "numerator": int(nums[:, j].sum()),
                "denominator": int(dens[:, j].sum()),
            }
            for j in range(c)
        ]
    out = pd.DataFrame(rows)
    out["value"] = 50.0
    out["lower"] = 40.0
    out["upper"] = 60.0
    return out


# -- policy and primary suppression ---------------------------------------------------


@pytest.mark.parametrize(
    ("num", "den", "suppressed", "reason"),
    [
        (0, 0, False, None),
        (0, 100, False, None),
        (1, 100, True, "primary: count 1-7"),
        (7, 100, True, "primary: count 1-7"),
        (8, 100, False, None),
        (0, 7, True, "primary: count 1-7"),
        (0, 8, False, None),
        (10, 15, True, "primary: complement count 1-7"),
        (8, 8, False, None),
        (93, 100, True, "primary: complement count 1-7"),
        (92, 100, False, None),
        (100, 100, False, None),
        (np.nan, 100, False, None),
    ],
)
def test_primary_rules(num, den, suppressed, reason):
    out = primary_suppression(pd.DataFrame({"numerator": [num], "denominator": [den]}))
    assert bool(out["suppressed"].iloc[0]) is suppressed
    got = out["suppression_reason"].iloc[0]
    assert (pd.isna(got) and reason is None) or got == reason


def test_policy_thresholds_live_in_one_place():
    policy = SDCPolicy(min_count=1, max_count=10, complement=False)
    out = primary_suppression(
        pd.DataFrame({"numerator": [9, 95], "denominator": [100, 100]}), policy
    )
    assert_suppressed(out, [True, False])
    assert out["suppression_reason"].iloc[0] == "primary: count 1-10"


@pytest.mark.parametrize(("lo", "hi"), [(0, 7), (5, 3), (-1, 2)])
def test_policy_refuses_bad_thresholds(lo, hi):
    with pytest.raises(ParameterError, match="min_count"):
        SDCPolicy(min_count=lo, max_count=hi)


def test_primary_does_not_mutate_and_names_missing_column():
    df = pd.DataFrame({"numerator": [3], "denominator": [10]})
    before = df.copy()
    primary_suppression(df)
    pd.testing.assert_frame_equal(df, before)
    with pytest.raises(ParameterError, match="denominator"):
        primary_suppression(pd.DataFrame({"numerator": [3]}))


# -- secondary suppression ------------------------------------------------------------


@pytest.mark.parametrize(
    ("nums", "dens", "expected"),
    [
        # one small quintile: the next smallest (Q3, numerator 12) is also suppressed
        ([3, 40, 12, 30, 50], [100, 100, 100, 100, 100], [True, False, True, False, False]),
        # two small cells already protect each other
        ([3, 40, 5, 30, 50], [100, 100, 100, 100, 100], [True, False, True, False, False]),
        # nothing small, nothing suppressed
        ([30, 40, 12, 30, 50], [100, 100, 100, 100, 100], [False] * 5),
        # the Unknown group is an ordinary member of the line
        ([30, 40, 12, 30, 50, 2], [100] * 6, [False, False, True, False, False, True]),
        # a zero cell hides nothing: the smallest non-empty cell is taken instead
        ([3, 0, 12, 30, 50], [100, 100, 100, 100, 100], [True, False, True, False, False]),
        # two small cells summing to 8 are enough ...
        ([3, 40, 5, 30, 50], [100] * 5, [True, False, True, False, False]),
        # ... but summing to 7 they are not: the next smallest (Q4, 30) goes too
        ([3, 40, 4, 30, 50], [100] * 5, [True, False, True, True, False]),
        ([1, 40, 2, 30, 50], [100] * 5, [True, False, True, True, False]),
        # small complements (3 + 4 = 7 not screened) are protected the same way
        ([97, 96, 40, 30, 50], [100] * 5, [True, True, False, True, False]),
        # complements summing to 8 are enough
        ([97, 95, 40, 30, 50], [100] * 5, [True, True, False, False, False]),
        # small denominators with zero numerators: a non-empty cell is added
        ([0, 0, 40, 30, 50], [2, 3, 100, 100, 100], [True, True, False, True, False]),
    ],
)
def test_one_d_secondary(nums, dens, expected):
    out = apply_sdc(one_d_table(nums, dens, QUINTILES[: len(nums)]))
    assert_suppressed(out.iloc[1:].reset_index(drop=True), expected)
    assert not out["suppressed"].iloc[0]


ETHNIC = ["Asian", "Black", "Mixed", "Other", "Unknown", "White"]


@pytest.mark.parametrize(
    ("nums", "dens", "expected"),
    [
        # EOL_3PLUS_EMERG, Solihull by ethnicity: Mixed, Other and Unknown are suppressed
        # (1 death each) but together hold 3 deaths with numerator 0, which the published
        # total minus the published groups would give away; Asian (smallest non-zero
        # numerator) is suppressed as well.
        (
            [9, 0, 0, 0, 0, 60],
            [30, 12, 1, 1, 1, 400],
            [True, False, True, True, True, False],
        ),
        # the same line with 8 deaths among the three small groups is already safe
        (
            [9, 0, 0, 0, 0, 60],
            [30, 12, 1, 1, 6, 400],
            [False, False, True, True, True, False],
        ),
    ],
)
def test_suppressed_cells_of_a_line_do_not_sum_to_a_small_count(nums, dens, expected):
    table = one_d_table(nums, dens, ETHNIC).assign(
        indicator_id="EOL_3PLUS_EMERG",
        area_type="locality",
        area="Solihull",
        breakdown=["overall", *["ethnicity_broad"] * 6],
    )
    out = apply_sdc(table)
    assert not out["suppressed"].iloc[0]
    assert_suppressed(out.iloc[1:].reset_index(drop=True), expected)
    hidden = table.iloc[1:][out["suppressed"].iloc[1:].to_numpy()]
    for total in (hidden["numerator"].sum(), hidden["denominator"].sum()):
        assert not DEFAULT_POLICY.disclosive(np.array([total])).any()


def test_secondary_sums_use_policy_thresholds():
    lines = pd.DataFrame({"line": [0] * 5, "cell": range(5)})
    nums = np.array([3, 20, 6, 35, 60])
    sup = nums <= 7
    # 3 + 6 = 9: safe under the default policy, not under a 1-10 policy
    np.testing.assert_array_equal(secondary_suppression(sup, lines, size=nums, numerator=nums), sup)
    wider = secondary_suppression(
        sup, lines, size=nums, numerator=nums, policy=SDCPolicy(max_count=10)
    )
    np.testing.assert_array_equal(wider, [True, True, True, False, False])


def test_secondary_complement_check_follows_policy():
    lines = pd.DataFrame({"line": [0] * 4, "cell": range(4)})
    nums, dens = np.array([97, 96, 40, 50]), np.full(4, 100)
    sup = np.array([True, True, False, False])
    kw = {"size": nums, "numerator": nums, "denominator": dens}
    np.testing.assert_array_equal(
        secondary_suppression(sup, lines, **kw), [True, True, True, False]
    )
    np.testing.assert_array_equal(
        secondary_suppression(sup, lines, policy=SDCPolicy(complement=False), **kw), sup
    )


def test_secondary_line_that_cannot_be_made_safe_is_left_fully_suppressed():
    lines = pd.DataFrame({"line": [0, 0, 0], "cell": [0, 1, 2]})
    nums = np.array([1, 2, 3])
    sup = secondary_suppression(nums > 0, lines, size=nums, numerator=nums)
    np.testing.assert_array_equal(sup, [True, True, True])


def test_secondary_refuses_counts_of_the_wrong_length():
    lines = pd.DataFrame({"line": [0, 0], "cell": [0, 1]})
    with pytest.raises(ParameterError, match="numerator"):
        secondary_suppression(
            np.array([True, False]), lines, size=np.array([3, 9]), numerator=np.array([3])
        )


# -- rows whose denominator is not people (_RVE) ----------------------------------------


@pytest.mark.parametrize(
    ("num", "den", "suppressed", "reason"),
    [
        # DM_PREV_RVE: 25 recorded, 28.87 expected; "3.87" is not a count of people
        (25, 28.87, False, None),
        # an expected count of 5.2 is not a tiny population
        (9, 5.2, False, None),
        (30, 30.0, False, None),
        # the recorded count is people: a small one is still suppressed
        (3, 28.87, True, "primary: count 1-7"),
        (0, 4.0, False, None),
    ],
)
def test_rve_rows_test_only_their_numerator(num, den, suppressed, reason):
    base = one_d_table([40, 30, 50], [1000, 1000, 1000])
    rve = base.assign(indicator_id="DM_PREV_RVE", numerator=[num] * 4, denominator=[den] * 4)
    rve["value"] = rve["numerator"] / rve["denominator"]
    base = base.assign(indicator_id="DM_PREV")
    out = apply_sdc(pd.concat([base, rve], ignore_index=True), linked={"DM_PREV_RVE": "DM_PREV"})
    assert not out["suppressed"].iloc[:4].any()
    got = out.iloc[4:].reset_index(drop=True)
    assert_suppressed(got, [suppressed] * 4)
    if reason:
        assert (got["suppression_reason"] == reason).all()


def test_rve_rows_still_follow_a_suppressed_base():
    base = one_d_table([3, 40, 12, 30, 50], [100] * 5).assign(indicator_id="DM_PREV")
    rve = base.assign(indicator_id="DM_PREV_RVE", numerator=25, denominator=28.87)
    out = apply_sdc(pd.concat([base, rve], ignore_index=True), linked={"DM_PREV_RVE": "DM_PREV"})
    np.testing.assert_array_equal(
        out["suppressed"].iloc[6:].to_numpy(), out["suppressed"].iloc[:6].to_numpy()
    )
    rve_out = out.iloc[6:]
    assert (
        rve_out.loc[rve_out["suppressed"], "suppression_reason"] == "linked: same counts as DM_PREV"
    ).all()


def test_people_denominator_flags_rve_only():
    np.testing.assert_array_equal(
        sdc.people_denominator(pd.Series(["HYP_PREV", "HYP_PREV_DSR", "HYP_PREV_RVE"])),
        [True, True, False],
    )
    # the same counts on a people denominator are suppressed by the complement rule
    table = pd.DataFrame({"numerator": [25, 25], "denominator": [28, 28]})
    out = primary_suppression(table, people=np.array([True, False]))
    assert_suppressed(out, [True, False])
    with pytest.raises(ParameterError, match="people"):
        primary_suppression(table, people=np.array([True]))


def test_single_group_line_suppresses_the_total():
    # one group equals the total: both go
    out = apply_sdc(one_d_table([3], [100], ["Q1 (most deprived)"]))
    assert_suppressed(out, [True, True])


def test_suppressed_rows_are_kept_and_blanked():
    table = one_d_table([3, 40, 12, 30, 50], [100] * 5)
    out = apply_sdc(table)
    assert len(out) == len(table)
    gone = out[out["suppressed"]]
    assert gone[["value", "lower", "upper", "numerator", "denominator"]].isna().all().all()
    assert set(gone["suppression_reason"]) == {
        "primary: count 1-7",
        "secondary: protects another cell",
    }


def test_area_lines_localities_and_bsol():
    rows = []
    for area_type, area, n in [
        ("BSOL", "BSOL", 103),
        ("locality", "East", 3),
        ("locality", "West", 50),
        ("locality", "North", 50),
    ]:
        rows.append(
            {
                **BASE,
                "area_type": area_type,
                "area": area,
                "breakdown": "overall",
                "group": "All",
                "numerator": n,
                "denominator": 1000,
            }
        )
    out = apply_sdc(pd.DataFrame(rows))
    assert_suppressed(out, [False, True, True, False])


def test_linked_rows_follow_their_base():
    table = one_d_table([3, 40, 12, 30, 50], [100] * 5)
    dsr = table.assign(indicator_id="X_DSR", numerator=table["numerator"] + 100)
    out = apply_sdc(pd.concat([table, dsr], ignore_index=True), linked={"X_DSR": "X"})
    base, derived = out.iloc[: len(table)], out.iloc[len(table) :]
    np.testing.assert_array_equal(base["suppressed"].to_numpy(), derived["suppressed"].to_numpy())
    assert derived.loc[derived["suppressed"], "suppression_reason"].str.startswith("linked").all()


def test_secondary_is_deterministic():
    table = one_d_table([3, 12, 12, 12, 50], [100] * 5)
    first = apply_sdc(table)
    pd.testing.assert_frame_equal(first, apply_sdc(table))
    # ties on the numerator are broken by the denominator, then by position
    assert_suppressed(first, [False, True, True, False, False, False])


def test_secondary_suppression_primitive_reaches_fixed_point():
    # two lines sharing cell 2: suppressing it in line 0 forces a second cell in line 1
    lines = pd.DataFrame({"line": [0, 0, 0, 1, 1, 1], "cell": [0, 1, 2, 2, 3, 4]})
    sup = secondary_suppression(
        np.array([True, False, False, False, False]), lines, size=np.array([3, 50, 10, 40, 30])
    )
    np.testing.assert_array_equal(sup, [True, False, True, False, True])
    assert (line_counts(sup, lines) != 1).all()


def test_secondary_refuses_out_of_range_cells():
    with pytest.raises(ParameterError, match="does not exist"):
        secondary_suppression(
            np.array([True]), pd.DataFrame({"line": [0, 0], "cell": [0, 3]}), size=np.array([1])
        )


def test_policy_without_secondary():
    out = apply_sdc(one_d_table([3, 40, 12, 30, 50], [100] * 5), SDCPolicy(secondary=False))
    assert out["suppressed"].sum() == 1


def test_apply_sdc_does_not_mutate_input():
    table = one_d_table([3, 40, 12, 30, 50], [100] * 5)
    before = table.copy()
    apply_sdc(table)
    pd.testing.assert_frame_equal(table, before)


# -- properties -----------------------------------------------------------------------

counts = st.one_of(st.integers(0, 12), st.integers(0, 400))


def _published_ok(out: pd.DataFrame) -> None:
    pub = out[~out["suppressed"]]
    for col in ("numerator", "denominator"):
        assert not DEFAULT_POLICY.disclosive(pub[col].to_numpy()).any()


def _lines_safe(table: pd.DataFrame, out: pd.DataFrame) -> None:
    """Every line with a suppression: all cells suppressed, or >= 2 whose sums are safe."""
    lines = indicator_lines(table[list(sdc.CELL_KEYS)])
    sup = out["suppressed"].to_numpy()[lines["cell"]]
    num = table["numerator"].to_numpy(dtype=float)[lines["cell"]]
    den = table["denominator"].to_numpy(dtype=float)[lines["cell"]]
    per = (
        pd.DataFrame(
            {"line": lines["line"], "cells": 1, "sup": sup, "n": num * sup, "d": den * sup}
        )
        .groupby("line")[["cells", "sup", "n", "d"]]
        .sum()
    )
    hit = per[(per["sup"] > 0) & (per["sup"] < per["cells"])]
    assert (hit["sup"] >= 2).all()
    for total in (hit["n"], hit["d"], hit["d"] - hit["n"]):
        assert not DEFAULT_POLICY.disclosive(total.to_numpy()).any()


def _unsuppressed_unchanged(table: pd.DataFrame, out: pd.DataFrame) -> None:
    keep = ~out["suppressed"].to_numpy()
    cols = ["numerator", "denominator", "value", "lower", "upper"]
    pd.testing.assert_frame_equal(
        out.loc[keep, cols].astype("float64"), table.loc[keep, cols].astype("float64")
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(counts, counts), min_size=1, max_size=6))
def test_property_one_d(cells):
    nums = [min(n, d) for n, d in cells]
    dens = [max(n, d) for n, d in cells]
    table = one_d_table(nums, dens, QUINTILES[: len(nums)])
    out = apply_sdc(table)
    _published_ok(out)
    _unsuppressed_unchanged(table, out)
    # each line (the groups and the total) has 0 or >= 2 suppressed cells
    assert out["suppressed"].sum() != 1
    # ... and, unless all are suppressed, their summed counts are not small
    hidden = table[out["suppressed"].to_numpy()]
    if 0 < len(hidden) < len(table):
        n, d = hidden["numerator"].sum(), hidden["denominator"].sum()
        assert not DEFAULT_POLICY.disclosive(np.array([n, d, d - n])).any()
    _lines_safe(table, out)
    # every primary rule is honoured
    primary = primary_suppression(table)["suppressed"].to_numpy()
    assert out["suppressed"].to_numpy()[primary].all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(2, 5).flatmap(
        lambda r: st.integers(2, 6).flatmap(
            lambda c: st.tuples(
                st.lists(st.lists(counts, min_size=c, max_size=c), min_size=r, max_size=r),
                st.lists(st.lists(counts, min_size=c, max_size=c), min_size=r, max_size=r),
                st.booleans(),
            )
        )
    )
)
def test_property_matrix(args):
    a, b, margins = args
    a, b = np.array(a), np.array(b)
    nums, dens = np.minimum(a, b), np.maximum(a, b)
    table = matrix_table(nums, dens, margins)
    out = apply_sdc(table)
    _published_ok(out)
    _unsuppressed_unchanged(table, out)
    sup = out["suppressed"].to_numpy()
    r, c = nums.shape
    cell = sup[: r * c].reshape(r, c)
    if margins:
        total = sup[r * c]
        row_m = sup[r * c + 1 : r * c + 1 + r]
        col_m = sup[r * c + 1 + r :]
        assert ((cell.sum(axis=1) + row_m) != 1).all()
        assert ((cell.sum(axis=0) + col_m) != 1).all()
        assert row_m.sum() + total != 1
        assert col_m.sum() + total != 1
    else:
        assert (cell.sum(axis=1) != 1).all()
        assert (cell.sum(axis=0) != 1).all()
    # the lines the algorithm used agree with the checks above
    cells = out[list(sdc.CELL_KEYS)]
    assert (line_counts(sup, indicator_lines(cells)) != 1).all()
    _lines_safe(table, out)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(counts, counts), min_size=2, max_size=5))
def test_property_areas_and_breakdowns(cells):
    # several localities, each with a sex breakdown, plus BSOL: both kinds of line hold
    rows = []
    areas = [f"L{i}" for i in range(len(cells))]
    for area, (n, d) in zip(areas, cells, strict=True):
        n, d = min(n, d), max(n, d)
        f_n, f_d = n // 2, d // 2
        for group, gn, gd in [("All", n, d), ("Female", f_n, f_d), ("Male", n - f_n, d - f_d)]:
            rows.append(
                {
                    **BASE,
                    "area_type": "locality",
                    "area": area,
                    "breakdown": "overall" if group == "All" else "sex",
                    "group": group,
                    "numerator": gn,
                    "denominator": gd,
                }
            )
    frame = pd.DataFrame(rows)
    bsol = (
        frame.groupby(["breakdown", "group"], as_index=False)[["numerator", "denominator"]]
        .sum()
        .assign(**BASE)
    )
    table = pd.concat([bsol, frame], ignore_index=True)
    table["value"] = 1.0
    table["lower"] = 0.0
    table["upper"] = 2.0
    out = apply_sdc(table)
    _published_ok(out)
    lines = indicator_lines(out[list(sdc.CELL_KEYS)])
    assert (line_counts(out["suppressed"].to_numpy(), lines) != 1).all()
    _lines_safe(table, out)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(counts, counts), min_size=2, max_size=12),
    st.lists(st.lists(st.integers(0, 11), min_size=2, max_size=6), min_size=1, max_size=5),
)
def test_property_secondary_primitive(cells, line_members):
    # arbitrary overlapping lines: the fixed point satisfies the invariant on every line
    nums = np.array([min(n, d) for n, d in cells], dtype=float)
    dens = np.array([max(n, d) for n, d in cells], dtype=float)
    n_cells = len(nums)
    rows = [(k, c % n_cells) for k, members in enumerate(line_members) for c in members]
    lines = pd.DataFrame(rows, columns=["line", "cell"]).drop_duplicates()
    primary = DEFAULT_POLICY.disclosive(nums) | DEFAULT_POLICY.disclosive(dens)
    sup = secondary_suppression(
        primary, lines, size=nums, tiebreak=dens, numerator=nums, denominator=dens
    )
    assert sup[primary].all()
    for _, members in lines.groupby("line")["cell"]:
        hidden = sup[members.to_numpy()]
        if hidden.any() and not hidden.all():
            n, d = nums[members.to_numpy()][hidden].sum(), dens[members.to_numpy()][hidden].sum()
            assert hidden.sum() >= 2
            assert not DEFAULT_POLICY.disclosive(np.array([n, d, d - n])).any()
