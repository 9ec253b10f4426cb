"""Small-area levels withheld whole (:mod:`bsol_analytics.sdc.levels`), and the audit of them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bsol_analytics.sdc import DEFAULT_POLICY
from bsol_analytics.sdc.audit import audit_run, audit_system, peel, small_recoveries
from bsol_analytics.sdc.levels import REASON_WITHHELD, small_levels, withholdable
from bsol_analytics.sdc.protect import _primary_rows, protect_and_audit
from bsol_analytics.sdc.relations import build_system, violated

AREAS = pd.DataFrame(
    {
        "area_type": ["practice"] * 4 + ["pcn"] * 2 + ["locality"],
        "area": ["P1", "P2", "P3", "P4", "N1", "N2", "L1"],
        "parent_type": ["pcn"] * 4 + ["locality"] * 2 + ["BSOL"],
        "parent": ["N1", "N1", "N2", "N2", "L1", "L1", "BSOL"],
    }
)
PARENT = dict(zip(AREAS["area"], AREAS["parent"], strict=True))
NEVER = dataclasses.replace(DEFAULT_POLICY, withhold_share=None)


def _rows(levels: dict[str, list[str]]) -> pd.DataFrame:
    """One row per level and breakdown group, for :func:`withholdable`."""
    parts = []
    for area_type, groups in levels.items():
        parts.append(
            pd.DataFrame(
                {
                    "view": "practice",
                    "area_type": area_type,
                    "area": FIRST[area_type],
                    "indicator_id": "X",
                    "reporting_date": "d",
                    "breakdown": ["overall"] + ["sex"] * (len(groups) - 1),
                    "group": groups,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


ALL_SEX = ["All", "F", "M"]
#: The area of each level in :func:`_rows` (P1 lies in N1, in L1).
FIRST = {"BSOL": "BSOL", "locality": "L1", "pcn": "N1", "practice": "P1"}


@pytest.mark.parametrize(
    ("levels", "candidates", "expected"),
    [
        pytest.param(
            {"locality": ALL_SEX, "pcn": ALL_SEX, "practice": ALL_SEX},
            ["practice"],
            ["practice"],
            id="bottom level",
        ),
        pytest.param(
            {"locality": ALL_SEX, "pcn": ALL_SEX, "practice": ALL_SEX},
            ["pcn"],
            [],
            id="a published level below",
        ),
        pytest.param(
            {"locality": ALL_SEX, "pcn": ALL_SEX, "practice": ALL_SEX},
            ["pcn", "practice"],
            ["practice", "pcn"],
            id="two levels, children first",
        ),
        pytest.param(
            {"BSOL": ALL_SEX, "locality": ALL_SEX},
            ["locality"],
            [],
            id="never a locality",
        ),
        pytest.param(
            {"locality": ["All"], "pcn": ["All"], "practice": ALL_SEX},
            ["practice"],
            [],
            id="groups the parent level lacks",
        ),
        pytest.param(
            {"locality": ALL_SEX, "practice": ["All"]},
            ["practice"],
            ["practice"],
            id="parent through an absent level",
        ),
        pytest.param({"practice": ALL_SEX}, ["practice"], [], id="no parent level"),
    ],
)
def test_withholdable_levels(
    levels: dict[str, list[str]], candidates: list[str], expected: list[str]
) -> None:
    got = withholdable(_rows(levels), [("practice", c) for c in candidates], AREAS)
    assert got == [("practice", e) for e in expected]


def test_withholdable_levels_with_every_ancestor_listed() -> None:
    # as the commands give them: each area with its PCN, locality and BSOL
    every = pd.DataFrame(
        {
            "area_type": ["practice", "practice", "practice", "pcn", "pcn", "locality"],
            "area": ["P1", "P1", "P1", "N1", "N1", "L1"],
            "parent_type": ["pcn", "locality", "BSOL", "locality", "BSOL", "BSOL"],
            "parent": ["N1", "L1", "BSOL", "L1", "BSOL", "BSOL"],
        }
    )
    rows = _rows({"BSOL": ALL_SEX, "locality": ALL_SEX, "pcn": ALL_SEX, "practice": ALL_SEX})
    got = withholdable(rows, [("practice", "practice"), ("practice", "pcn")], every)
    assert got == [("practice", "practice"), ("practice", "pcn")]
    # a PCN that spans localities: practices have two parent levels, none is withheld
    spans = every[~(every["area_type"].eq("pcn") & every["parent_type"].eq("locality"))]
    assert withholdable(rows, [("practice", "practice")], spans) == []


def _table(counts: dict[str, tuple[int, int, int]]) -> pd.DataFrame:
    """A two-indicator run over the areas of :data:`AREAS`, split by sex.

    ``counts`` gives each practice's female, male and unknown-sex registered patients; a
    tenth of them (rounded down) have the condition.
    """
    rows = []
    totals: dict[str, np.ndarray] = {}
    for practice, c in counts.items():
        vec = np.array(c)
        for area in (practice, PARENT[practice], PARENT[PARENT[practice]], "BSOL"):
            totals[area] = totals.get(area, 0) + np.stack([vec // 10, vec])
    types = dict(zip(AREAS["area"], AREAS["area_type"], strict=True)) | {"BSOL": "BSOL"}
    for area, (num, vec) in totals.items():
        for ind in ("HYP_PREV", "COPD_PREV"):
            groups = [("overall", "All", num.sum(), vec.sum())] + [
                ("sex", g, n, d)
                for g, n, d in zip(["Female", "Male", "Unknown"], num, vec, strict=True)
            ]
            for breakdown, group, n, d in groups:
                rows.append(
                    {
                        "indicator_id": ind,
                        "reporting_date": "2025-03-31",
                        "view": "practice",
                        "area_type": types[area],
                        "area": area,
                        "breakdown": breakdown,
                        "group": group,
                        "numerator": int(n),
                        "denominator": int(d),
                        "value": 100 * n / d if d else np.nan,
                    }
                )
    return pd.DataFrame(rows)


SMALL_PRACTICES = {"P1": (60, 45, 2), "P2": (50, 35, 1), "P3": (80, 60, 0), "P4": (70, 66, 3)}


def test_a_mostly_small_practice_level_is_withheld_whole() -> None:
    t = _table(SMALL_PRACTICES)
    before = t.copy()
    out, result = protect_and_audit({"t": t}, AREAS)
    pd.testing.assert_frame_equal(t, before)  # never mutates
    got = out["t"]
    practice = got["area_type"].eq("practice")
    assert result.passed and result.withheld == ["practice (practice view)"]
    assert result.summary()["withheld_levels"] == ["practice (practice view)"]
    assert got.loc[practice, "suppressed"].all()
    assert got.loc[practice, "suppression_reason"].eq(REASON_WITHHELD).all()
    assert got.loc[practice, ["value", "numerator", "denominator"]].isna().all().all()
    # the other levels are protected exactly as they would be without the practices
    alone, _ = protect_and_audit({"t": t[~practice.to_numpy()]}, AREAS, NEVER)
    pd.testing.assert_frame_equal(got[~practice], alone["t"], check_dtype=False)
    # the published tables audit the same way, the withheld level left out
    again = audit_run(out, AREAS)
    assert again.passed and again.withheld == result.withheld


def test_no_level_is_withheld_without_a_share() -> None:
    t = _table(SMALL_PRACTICES)
    out, result = protect_and_audit({"t": t}, AREAS, NEVER)
    assert result.withheld == []
    assert not out["t"]["suppression_reason"].astype("str").eq(REASON_WITHHELD).any()


def test_a_level_partly_withheld_stays_in_the_audit() -> None:
    t = _table(SMALL_PRACTICES)
    out, _ = protect_and_audit({"t": t}, AREAS)
    published = out["t"].copy()
    first = published.index[published["area_type"].eq("practice")][0]
    published.loc[first, "suppression_reason"] = "secondary: protects another cell"
    assert audit_run({"t": published}, AREAS).withheld == []


@st.composite
def practices(draw: st.DrawFn) -> dict[str, tuple[int, int, int]]:
    """Registered patients by sex of four practices, some of them small."""
    size = st.integers(0, 90)
    return {p: (draw(size), draw(size), draw(st.integers(0, 4))) for p in ["P1", "P2", "P3", "P4"]}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(practices())
def test_property_withheld_levels_hide_nothing_the_full_audit_would_find(counts) -> None:
    t = _table(counts)
    out, result = protect_and_audit({"t": t}, AREAS)
    assert result.passed
    # the same publication audited with the withheld rows as ordinary hidden cells (the
    # slower, complete model): no count is pinned or narrowed there either
    plain = out["t"].assign(
        suppression_reason=out["t"]["suppression_reason"].replace(
            REASON_WITHHELD, "secondary: protects another cell"
        )
    )
    primary = protect_and_audit({"t": t}, AREAS, NEVER)[0]["t"]
    is_primary = primary["suppression_reason"].astype("str").str.startswith("primary")
    plain.loc[is_primary & plain["suppressed"], "suppression_reason"] = primary.loc[
        is_primary & plain["suppressed"], "suppression_reason"
    ]
    assert audit_run({"t": plain}, AREAS).passed
    # and a peeling attacker recovers no small count from it
    system = build_system({"t": plain}, AREAS)
    truth = build_system({"t": t}, AREAS)
    assert small_recoveries(peel(system), truth).empty


def test_small_levels_uses_the_share_of_primary_rows() -> None:
    t = _table(SMALL_PRACTICES)
    flags = {"t": t["numerator"].between(1, 7).to_numpy()}
    assert small_levels({"t": t}, flags, AREAS, 0.99) == []
    assert small_levels({"t": t}, flags, AREAS, None) == []
    share = flags["t"][t["area_type"].eq("practice").to_numpy()].mean()
    assert small_levels({"t": t}, flags, AREAS, share) == [("practice", "practice")]


def _overall(counts: dict[tuple[str, str], tuple[int, int]]) -> pd.DataFrame:
    """One HYP_PREV overall row per area: ``(area_type, area) -> (numerator, denominator)``."""
    return pd.DataFrame(
        [
            {
                "indicator_id": "HYP_PREV",
                "reporting_date": "2025-03-31",
                "view": "practice",
                "area_type": t,
                "area": a,
                "breakdown": "overall",
                "group": "All",
                "numerator": n,
                "denominator": d,
                "value": 100 * n / d,
            }
            for (t, a), (n, d) in counts.items()
        ]
    )


def _complete(out: dict, truth: dict, areas: pd.DataFrame):
    """The publication in the complete model: audit result, and small exact recoveries."""
    sys_truth = build_system(truth, areas)
    bad = violated(sys_truth, sys_truth.values())
    pub = build_system(out, areas)
    keys = ["indicator_id", "area_type", "area", "breakdown", "group"]
    assert pub.cells[keys].equals(sys_truth.cells[keys])
    pub = pub.drop(bad)
    primary = np.zeros(len(pub.cells), bool)
    for name, frame in truth.items():
        flag, _ = _primary_rows(frame, DEFAULT_POLICY)
        primary[pub.rows[name][flag]] = True
    result = audit_system(pub, primary, DEFAULT_POLICY)
    return result, small_recoveries(peel(pub), sys_truth), pub


#: A PCN (N2) whose practices lie in two localities; the hierarchy gives that PCN no
#: locality, its practices their own locality, and the nested PCN (N3) its locality.
MIXED_AREAS = pd.DataFrame(
    {
        "area_type": ["practice"] * 4 + ["practice"] * 2 + ["pcn", "locality", "locality"],
        "area": ["P1", "P3", "P4", "P5", "P1", "P3", "N3", "L1", "L2"],
        "parent_type": ["pcn"] * 4 + ["locality"] * 2 + ["locality", "BSOL", "BSOL"],
        "parent": ["N2", "N2", "N3", "N3", "L1", "L2", "L2", "BSOL", "BSOL"],
    }
)
MIXED = _overall(
    {
        ("practice", "P1"): (25, 300),
        ("practice", "P3"): (5, 150),
        ("practice", "P4"): (40, 300),
        ("practice", "P5"): (2, 100),
        ("pcn", "N2"): (30, 450),
        ("pcn", "N3"): (42, 400),
        ("locality", "L1"): (25, 300),
        ("locality", "L2"): (47, 550),
        ("BSOL", "BSOL"): (72, 850),
    }
)


def _cross_rows(area_type: str, area: str, cells: dict[str, int]) -> list[dict]:
    """POPULATION counts of one area: ``group -> count`` for ``imd_quintile*sex`` and margins."""
    rows = []
    for group, n in cells.items():
        if " | " in group:
            breakdown = "imd_quintile*sex"
        elif group == "All":
            breakdown = "overall"
        elif group.startswith("Q"):
            breakdown = "imd_quintile"
        else:
            breakdown = "sex"
        rows.append(
            {
                "indicator_id": "POPULATION",
                "reporting_date": "2025-03-31",
                "view": "practice",
                "area_type": area_type,
                "area": area,
                "breakdown": breakdown,
                "group": group,
                "numerator": n,
            }
        )
    return rows


def test_an_area_with_two_published_parent_areas_is_not_withheld() -> None:
    # P1 and P3 lie in PCN N2 and in localities L1 and L2: N2 - L1 would give P3
    out, result = protect_and_audit({"t": MIXED}, MIXED_AREAS)
    assert result.withheld == [] and result.passed
    full, recovered, _ = _complete(out, {"t": MIXED}, MIXED_AREAS)
    assert full.passed and recovered.empty


def test_a_group_only_the_parent_has_keeps_the_level_in_the_audit() -> None:
    # The PCN has a "Q2 | Unknown" row (0) that neither practice has: with the practices it
    # is a known zero, which pins the PCN's Q1 | Female at 3
    pcn = {"All": 23, "Q1": 13, "Q2": 10, "Female": 13, "Unknown": 10,
           "Q1 | Female": 3, "Q1 | Unknown": 10, "Q2 | Female": 10, "Q2 | Unknown": 0}  # fmt: skip
    p1 = {"All": 12, "Q1": 7, "Q2": 5, "Female": 7, "Unknown": 5,
          "Q1 | Female": 2, "Q1 | Unknown": 5, "Q2 | Female": 5}  # fmt: skip
    p2 = {"All": 11, "Q1": 6, "Q2": 5, "Female": 6, "Unknown": 5,
          "Q1 | Female": 1, "Q1 | Unknown": 5, "Q2 | Female": 5}  # fmt: skip
    truth = pd.DataFrame(
        _cross_rows("pcn", "N1", pcn)
        + _cross_rows("practice", "P1", p1)
        + _cross_rows("practice", "P2", p2)
    )
    areas = pd.DataFrame(
        {"area_type": "practice", "area": ["P1", "P2"], "parent_type": "pcn", "parent": "N1"}
    )
    pub = truth.copy()
    hidden = pub["area_type"].eq("practice") | pub["breakdown"].eq("imd_quintile*sex")
    pub["suppressed"] = hidden
    pub["suppression_reason"] = np.where(
        pub["area_type"].eq("practice"),
        REASON_WITHHELD,
        np.where(hidden, "secondary: protects another cell", None),
    )
    pcn_q1f = pub["group"].eq("Q1 | Female") & pub["area_type"].eq("pcn")
    pub.loc[pcn_q1f, "suppression_reason"] = "primary: count 1-7"
    pub.loc[hidden, "numerator"] = np.nan
    result = audit_run({"t": pub}, areas)
    assert result.withheld == [] and not result.passed


def test_rows_labelled_withheld_that_show_counts_are_audited() -> None:
    t = _table(SMALL_PRACTICES)
    out, result = protect_and_audit({"t": t}, AREAS)
    assert result.withheld == ["practice (practice view)"]
    edited = out["t"].copy()
    practice = edited["area_type"].eq("practice")
    cols = ["numerator", "denominator", "value"]
    edited.loc[practice, cols] = t.loc[practice, cols].to_numpy(float)
    edited.loc[practice, "suppressed"] = False
    again = audit_run({"t": edited}, AREAS)
    assert again.withheld == [] and not again.passed


def test_a_partly_labelled_level_has_every_labelled_count_checked() -> None:
    t = _table(SMALL_PRACTICES)
    out, result = protect_and_audit({"t": t}, AREAS)
    edited = out["t"].copy()
    practice = edited.index[edited["area_type"].eq("practice")]
    edited.loc[practice[0], "suppression_reason"] = "secondary: protects another cell"
    again = audit_run({"t": edited}, AREAS)
    assert again.withheld == []
    assert again.cells_checked > result.cells_checked + len(practice) // 2
