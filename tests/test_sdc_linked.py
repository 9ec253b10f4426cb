"""Disclosure control over a whole run: relations, protect_run, the LP audit and the peeler."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bsol_analytics.errors import ParameterError
from bsol_analytics.sdc import DEFAULT_POLICY, ROUNDING_POLICY, SDCPolicy
from bsol_analytics.sdc.audit import audit_folder, audit_run, peel, small_recoveries
from bsol_analytics.sdc.protect import protect_and_audit, protect_run
from bsol_analytics.sdc.relations import build_system, residuals, violated
from bsol_analytics.vocabulary import base_ids

KEY = {"reporting_date": "2025-03-31", "view": "practice"}
AREAS = pd.DataFrame(
    {
        "area_type": ["practice", "practice", "practice", "practice", "locality", "locality"],
        "area": ["P1", "P2", "P3", "P4", "L1", "L2"],
        "parent_type": ["locality", "locality", "locality", "locality", "BSOL", "BSOL"],
        "parent": ["L1", "L1", "L2", "L2", "BSOL", "BSOL"],
    }
)
PRACTICE_LOCALITY = {"P1": "L1", "P2": "L1", "P3": "L2", "P4": "L2"}


def row(ind, area_type, area, breakdown, group, num, den):
    return {
        "indicator_id": ind,
        **KEY,
        "area_type": area_type,
        "area": area,
        "breakdown": breakdown,
        "group": group,
        "numerator": num,
        "denominator": den,
    }


def frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    out["value"] = 100 * out["numerator"] / out["denominator"]
    out["lower"], out["upper"] = out["value"] - 1, out["value"] + 1
    out["confidence"], out["method"] = 0.95, "Wilson"
    return out


def aggregate(patients: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The tidy counts of HYP_PREV, COPD_PREV and HYP_BP_TARGET from patient flags."""
    pats = patients.assign(BSOL="BSOL", locality=patients["practice"].map(PRACTICE_LOCALITY))
    specs = {
        "HYP_PREV": (None, "hyp"),
        "COPD_PREV": (None, "copd"),
        "HYP_BP_TARGET": ("hyp", "bp"),
    }
    parts = []
    for ind, (den_flag, num_flag) in specs.items():
        pop = pats if den_flag is None else pats[pats[den_flag]]
        for area_type, col in (
            ("BSOL", "BSOL"),
            ("locality", "locality"),
            ("practice", "practice"),
        ):
            for b in ["overall", *by]:
                cols = b.split("*") if b != "overall" else []
                keys = [col, *cols]
                g = pop.groupby(keys, observed=True)[num_flag].agg(["sum", "size"]).reset_index()
                if g.empty:
                    continue
                group = (
                    g[cols].astype(str).agg(" | ".join, axis=1)
                    if cols
                    else pd.Series("All", index=g.index)
                )
                parts.append(
                    pd.DataFrame(
                        {
                            "indicator_id": ind,
                            **KEY,
                            "area_type": area_type,
                            "area": g[col].to_numpy(),
                            "breakdown": b,
                            "group": group.to_numpy(),
                            "numerator": g["sum"].to_numpy(float),
                            "denominator": g["size"].to_numpy(float),
                        }
                    )
                )
    out = pd.concat(parts, ignore_index=True)
    return frame(out.to_dict("records"))


def patients_strategy() -> st.SearchStrategy[pd.DataFrame]:
    person = st.tuples(
        st.sampled_from(list(PRACTICE_LOCALITY)),
        st.sampled_from(["Female", "Male", "Unknown"]),
        st.sampled_from(["Core20", "Rest", "Unknown"]),
        st.booleans(),
        st.floats(0, 1),
        st.booleans(),
    )

    def build(people: list[tuple]) -> pd.DataFrame:
        df = pd.DataFrame(people, columns=["practice", "sex", "core20", "hyp", "u", "copd_raw"])
        df["bp"] = df["hyp"] & (df["u"] < 0.6)
        df["copd"] = df["copd_raw"] & (df["u"] < 0.3)
        return df

    return st.lists(person, min_size=20, max_size=160).map(build)


# -- relations, table-driven ----------------------------------------------------------

RELATION_CASES = [
    (
        "groups",
        [
            row("X", "BSOL", "BSOL", "overall", "All", 5, 50),
            row("X", "BSOL", "BSOL", "sex", "Female", 2, 20),
            row("X", "BSOL", "BSOL", "sex", "Unknown", 3, 30),
        ],
        2,
    ),
    (
        "cross",
        [
            row("X", "BSOL", "BSOL", "overall", "All", 10, 100),
            row("X", "BSOL", "BSOL", "sex", "F", 4, 40),
            row("X", "BSOL", "BSOL", "sex", "M", 6, 60),
            row("X", "BSOL", "BSOL", "core20", "C", 3, 30),
            row("X", "BSOL", "BSOL", "core20", "R", 7, 70),
            row("X", "BSOL", "BSOL", "sex*core20", "F | C", 1, 10),
            row("X", "BSOL", "BSOL", "sex*core20", "F | R", 3, 30),
            row("X", "BSOL", "BSOL", "sex*core20", "M | C", 2, 20),
            row("X", "BSOL", "BSOL", "sex*core20", "M | R", 4, 40),
        ],
        2 * (2 + 2 + 1),
    ),
    (
        "area",
        [
            row("X", "locality", "L1", "overall", "All", 5, 50),
            row("X", "practice", "P1", "overall", "All", 2, 20),
            row("X", "practice", "P2", "overall", "All", 3, 30),
        ],
        2,
    ),
    (
        "nest",
        [
            row("X", "BSOL", "BSOL", "imd_quintile", "Q1 (most deprived)", 5, 50),
            row("X", "BSOL", "BSOL", "imd_decile", "D1 (most deprived)", 2, 20),
            row("X", "BSOL", "BSOL", "imd_decile", "D2", 3, 30),
            row("X", "BSOL", "BSOL", "core20", "Core20", 5, 50),
        ],
        6,
    ),
    (
        "nest",
        [
            row("X", "BSOL", "BSOL", "ethnicity_broad", "Asian", 5, 50),
            row("X", "BSOL", "BSOL", "ethnicity_detailed", "Asian or Asian British: Indian", 2, 20),
            row("X", "BSOL", "BSOL", "ethnicity_detailed", "Other ethnic groups: Chinese", 3, 30),
        ],
        2,
    ),
    (
        "link",
        [
            row("HYP_PREV", "BSOL", "BSOL", "overall", "All", 50, 1000),
            row("HYP_BP_TARGET", "BSOL", "BSOL", "overall", "All", 30, 50),
            row("COPD_PREV", "BSOL", "BSOL", "overall", "All", 20, 1000),
            row("HYP_PREV_DSR", "BSOL", "BSOL", "overall", "All", 50, 1000),
        ],
        4,
    ),
]


@pytest.mark.parametrize(
    ("kind", "rows", "n_relations"),
    RELATION_CASES,
    ids=[f"{c[0]}-{k}" for k, c in enumerate(RELATION_CASES)],
)
def test_relations_of_each_kind(kind: str, rows: list[dict], n_relations: int) -> None:
    system = build_system({"t": frame(rows)}, AREAS)
    kinds = system.relations["kind"]
    assert (kinds == kind).sum() == n_relations
    assert not violated(system, system.values()).any()
    # changing one count breaks at least one relation of the kind
    broken = system.values()
    broken[0] += 1
    assert violated(system, broken)[kinds.to_numpy() == kind].any()


def test_unsplit_denominator_is_equal_not_summed() -> None:
    rows = [
        row("DM_PREV", "BSOL", "BSOL", "overall", "All", 10, 100),
        row("DM_PREV", "BSOL", "BSOL", "diabetes_type", "Type 1", 1, 100),
        row("DM_PREV", "BSOL", "BSOL", "diabetes_type", "Type 2", 9, 100),
    ]
    system = build_system({"t": frame(rows)})
    assert not violated(system, system.values()).any()


def test_unsplit_denominator_of_an_absent_group_breaks_no_relation() -> None:
    """L2 has no Type 1 patient, so it has no Type 1 row, though its list is not zero.

    Sums of the groups' denominators over areas or over a cross's other part would not
    hold; each cell's denominator is tied to its whole one instead (overall, or the
    cross's other part), and the numerators still add up.
    """
    rows = []
    for area_type, area, t1, t2, women, men in (
        ("BSOL", "BSOL", 4, 20, 150, 200),
        ("locality", "L1", 4, 12, 50, 100),
        ("locality", "L2", 0, 8, 100, 100),
    ):
        den, half = women + men, t2 // 2
        rows += [
            row("DM_PREV", area_type, area, "overall", "All", t1 + t2, den),
            row("DM_PREV", area_type, area, "sex", "Female", half + t1, women),
            row("DM_PREV", area_type, area, "sex", "Male", t2 - half, men),
            row("DM_PREV", area_type, area, "diabetes_type", "Type 2", t2, den),
            row("DM_PREV", area_type, area, "sex*diabetes_type", "Female | Type 2", half, women),
            row("DM_PREV", area_type, area, "sex*diabetes_type", "Male | Type 2", t2 - half, men),
        ]
        if t1:
            rows += [
                row("DM_PREV", area_type, area, "diabetes_type", "Type 1", t1, den),
                row("DM_PREV", area_type, area, "sex*diabetes_type", "Female | Type 1", t1, women),
            ]
    system = build_system({"t": frame(rows)}, AREAS)
    assert not violated(system, system.values()).any()
    cells = system.cells.reset_index(drop=True)
    female_t1 = cells.index[(cells["area"] == "L1") & (cells["group"] == "Female | Type 1")]
    for field in (0, 1):  # its numerator and its denominator are each tied to others
        broken = system.values()
        broken[2 * int(female_t1[0]) + field] += 1
        assert violated(system, broken).any()


def test_inconsistent_counts_for_one_cell_are_refused() -> None:
    rows = [row("X", "BSOL", "BSOL", "overall", "All", 5, 50)]
    other = [row("X", "BSOL", "BSOL", "overall", "All", 6, 50)]
    with pytest.raises(ParameterError, match="different numerators"):
        build_system({"a": frame(rows), "b": frame(other)})


def test_residuals_are_missing_where_a_count_is_missing() -> None:
    rows = [
        row("X", "BSOL", "BSOL", "overall", "All", 5, 50),
        row("X", "BSOL", "BSOL", "sex", "F", np.nan, 20),
        row("X", "BSOL", "BSOL", "sex", "M", 3, 30),
    ]
    system = build_system({"t": frame(rows)})
    assert np.isnan(residuals(system, system.values())[0])


# -- attacks that the per-table rule missed ------------------------------------------


def test_shared_denominator_attack_is_blocked() -> None:
    """A small group hidden in HYP_PREV must not be published in COPD_PREV or elsewhere."""
    rows = []
    for ind, nums in (("HYP_PREV", (40, 30, 10)), ("COPD_PREV", (20, 12, 8))):
        rows += [
            row(ind, "BSOL", "BSOL", "overall", "All", nums[0], 206),
            row(ind, "BSOL", "BSOL", "sex", "Female", nums[1], 100),
            row(ind, "BSOL", "BSOL", "sex", "Male", nums[2] - 1, 100),
            row(ind, "BSOL", "BSOL", "sex", "Unknown", 1, 6),
        ]
    truth = frame(rows)
    out, result = protect_and_audit({"t": truth})
    assert result.passed
    assert not small_recoveries(peel(build_system(out)), build_system({"t": truth})).shape[0]


def test_audit_names_failing_cells_without_values() -> None:
    rows = [
        row("X", "BSOL", "BSOL", "overall", "All", 50, 500),
        row("X", "BSOL", "BSOL", "sex", "F", 3, 250),
        row("X", "BSOL", "BSOL", "sex", "M", 47, 250),
    ]
    t = frame(rows).assign(
        suppressed=[False, True, False], suppression_reason=[None, "primary: count 1-7", None]
    )
    t.loc[1, ["numerator", "denominator", "value"]] = np.nan
    result = audit_run({"t": t})
    assert not result.passed
    assert list(result.failures.columns) == [
        "table",
        "indicator_id",
        "reporting_date",
        "view",
        "area_type",
        "area",
        "breakdown",
        "group",
        "quantity",
        "problem",
    ]
    assert "3" not in result.describe().split("group=F")[1]
    json.dumps(result.summary())


# -- protect_run --------------------------------------------------------------------


def test_protect_run_never_mutates_and_blanks_hidden_rows() -> None:
    rng = np.random.default_rng(1)
    pats = pd.DataFrame(
        {
            "practice": rng.choice(list(PRACTICE_LOCALITY), 300),
            "sex": rng.choice(["Female", "Male", "Unknown"], 300, p=[0.49, 0.49, 0.02]),
            "core20": rng.choice(["Core20", "Rest", "Unknown"], 300, p=[0.4, 0.55, 0.05]),
            "hyp": rng.random(300) < 0.2,
            "u": rng.random(300),
        }
    )
    pats["bp"], pats["copd"] = pats["hyp"] & (pats["u"] < 0.5), pats["u"] < 0.05
    truth = aggregate(pats, ["sex", "core20", "sex*core20"])
    before = truth.copy()
    out, result = protect_and_audit({"t": truth}, AREAS)
    pd.testing.assert_frame_equal(truth, before)
    t = out["t"]
    assert result.passed and t["suppressed"].any()
    hidden = t[t["suppressed"]]
    assert hidden[["value", "lower", "upper", "numerator", "denominator"]].isna().all().all()
    assert hidden["suppression_reason"].notna().all()
    published = t[~t["suppressed"]]
    pd.testing.assert_series_equal(published["numerator"], truth.loc[published.index, "numerator"])
    assert not DEFAULT_POLICY.disclosive(published["numerator"]).any()


def with_derived(truth: pd.DataFrame) -> pd.DataFrame:
    """``truth`` with the derived rows of a pack: HYP_PREV_DSR, COPD_PREV_RVE, COPD_PREV_ISR.

    The ratios' denominators are expected counts (a rate times the population), as in a
    run: a reader who knows the rate could solve them for the population.
    """
    hyp, copd = (
        truth[truth["indicator_id"] == "HYP_PREV"],
        truth[truth["indicator_id"] == "COPD_PREV"],
    )
    expected = copd["denominator"] * 0.0481
    return pd.concat(
        [
            truth,
            hyp.assign(indicator_id="HYP_PREV_DSR"),
            copd.assign(indicator_id="COPD_PREV_RVE", denominator=expected, method="Byar"),
            copd.assign(indicator_id="COPD_PREV_ISR", denominator=expected, method="Byar"),
        ],
        ignore_index=True,
    )


def shown_with_hidden_base(out: pd.DataFrame) -> pd.DataFrame:
    """Derived rows of ``out`` published while their base row is suppressed."""
    keys = ["area_type", "area", "breakdown", "group"]
    derived = out[out["indicator_id"] != base_ids(out["indicator_id"])]
    base = out[["indicator_id", *keys, "suppressed"]].rename(columns={"indicator_id": "base"})
    both = derived.assign(base=base_ids(derived["indicator_id"])).merge(
        base, on=["base", *keys], suffixes=("", "_base")
    )
    return both[~both["suppressed"] & both["suppressed_base"]]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patients_strategy())
def test_property_protected_runs_pass_the_audit_and_resist_peeling(pats: pd.DataFrame) -> None:
    truth = with_derived(aggregate(pats, ["sex", "core20", "sex*core20"]))
    out, result = protect_and_audit({"t": truth}, AREAS)
    assert result.passed, result.describe()
    again = audit_run(out, AREAS)
    assert again.passed, again.describe()
    recovered = peel(build_system(out, AREAS))
    assert small_recoveries(recovered, build_system({"t": truth}, AREAS)).empty
    assert shown_with_hidden_base(out["t"]).empty


def test_a_ratio_is_hidden_with_its_base_so_its_expected_count_gives_nothing_away() -> None:
    # 0 of 6 aged 65-69 with COPD: the base is hidden for its population of 6; its ratio's
    # expected count, 0.393 = 4 x 0.0481 + 2 x 0.1003, would give the 6 (and their sexes)
    base = [
        row("COPD_PREV", "BSOL", "BSOL", "overall", "All", 40, 400),
        row("COPD_PREV", "BSOL", "BSOL", "age_band", "65-69", 0, 6),
        row("COPD_PREV", "BSOL", "BSOL", "age_band", "70-74", 40, 394),
    ]
    ratio = [
        {**r, "indicator_id": "COPD_PREV_RVE", "denominator": e}
        for r, e in zip(base, [30.2, 0.393, 29.8], strict=True)
    ]
    out = protect_run({"t": frame(base + ratio)})["t"]
    got = out[["indicator_id", "group", "suppressed", "suppression_reason"]]
    expected = pd.DataFrame(
        {
            "indicator_id": ["COPD_PREV"] * 3 + ["COPD_PREV_RVE"] * 3,
            "group": ["All", "65-69", "70-74"] * 2,
            "suppressed": [False, True, True, False, True, True],
            "suppression_reason": [
                None,
                "primary: count 1-7",
                "secondary: protects another cell",
                None,
                "linked: same counts as COPD_PREV",
                "linked: same counts as COPD_PREV",
            ],
        }
    ).astype({"suppression_reason": "str"})
    pd.testing.assert_frame_equal(got, expected)


# -- rounding -----------------------------------------------------------------------


def test_rounding_policy_rounds_redacts_and_recomputes() -> None:
    rows = [
        row("X", "BSOL", "BSOL", "overall", "All", 63, 212),
        row("X", "BSOL", "BSOL", "sex", "Female", 31, 101),
        row("X", "BSOL", "BSOL", "sex", "Male", 29, 105),
        row("X", "BSOL", "BSOL", "sex", "Unknown", 3, 6),
    ]
    out, result = protect_and_audit({"t": frame(rows)}, None, ROUNDING_POLICY)
    t = out["t"]
    pub = t[~t["suppressed"]]
    assert result.passed
    assert (pub["numerator"] % 5 == 0).all() and (pub["denominator"] % 5 == 0).all()
    pd.testing.assert_series_equal(
        pub["value"], 100 * pub["numerator"] / pub["denominator"], check_names=False
    )
    assert t.loc[3, "suppressed"]
    assert "round" in ROUNDING_POLICY.description


def test_policy_checks_its_method() -> None:
    with pytest.raises(ParameterError, match="method"):
        SDCPolicy(method="blur")


# -- published folders --------------------------------------------------------------


def test_audit_folder_reads_tables_areas_and_policy(tmp_path) -> None:
    rng = np.random.default_rng(7)
    pats = pd.DataFrame(
        {
            "practice": rng.choice(list(PRACTICE_LOCALITY), 200),
            "sex": rng.choice(["Female", "Male", "Unknown"], 200, p=[0.49, 0.49, 0.02]),
            "core20": "Rest",
            "hyp": rng.random(200) < 0.2,
            "u": rng.random(200),
        }
    )
    pats["bp"], pats["copd"] = pats["hyp"] & (pats["u"] < 0.5), pats["u"] < 0.05
    out = protect_run({"indicators": aggregate(pats, ["sex"])}, AREAS)
    out["indicators"].to_csv(tmp_path / "indicators.csv", index=False)
    AREAS.to_csv(tmp_path / "areas.csv", index=False)
    (tmp_path / "sdc_policy.json").write_text(json.dumps({"name": DEFAULT_POLICY.name}))
    assert audit_folder(tmp_path).passed
    with pytest.raises(ParameterError, match="not a folder"):
        audit_folder(tmp_path / "missing")


# -- a real small run ---------------------------------------------------------------


PRACTICE_BY = "locality,pcn,practice,imd_quintile,imd_decile,core20,ethnicity_broad,sex"
LOCALITY_BY = "locality,imd_quintile,imd_decile,core20,ethnicity_broad,sex"


@pytest.mark.slow
@pytest.mark.parametrize(
    "by",
    [LOCALITY_BY, PRACTICE_BY],
    ids=["locality", "practice"],
)
def test_real_20k_run_recovers_no_small_count(tmp_path, by: str) -> None:
    """Synthetic 20,000-patient extract: protected, audited and attacked by peeling."""
    import subprocess
    import sys

    from bsol_analytics.table import indicator_table

    bsol = [sys.executable, "-m", "bsol_analytics"]
    subprocess.run(
        [
            *bsol,
            "synth",
            "--out",
            str(tmp_path / "x"),
            "--patients",
            "20000",
            "--format",
            "parquet",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*bsol, "prepare", str(tmp_path / "x"), "--out", str(tmp_path / "p")],
        check=True,
        capture_output=True,
    )
    truth = indicator_table(str(tmp_path / "p"), "2025-03-31", by=by, sdc=False)
    pats = pd.read_parquet(tmp_path / "p" / "patients.parquet")
    pr = pats[["practice_code", "pcn_code", "practice_locality"]].dropna().drop_duplicates()
    areas = pd.concat(
        [
            pd.DataFrame(
                {
                    "area_type": "practice",
                    "area": pr["practice_code"],
                    "parent_type": "pcn",
                    "parent": pr["pcn_code"],
                }
            ),
            pd.DataFrame(
                {
                    "area_type": "pcn",
                    "area": pr["pcn_code"],
                    "parent_type": "locality",
                    "parent": pr["practice_locality"],
                }
            ),
            pd.DataFrame(
                {
                    "area_type": "locality",
                    "area": pr["practice_locality"].unique(),
                    "parent_type": "BSOL",
                    "parent": "BSOL",
                }
            ),
        ]
    ).drop_duplicates()
    truth_system = build_system({"indicators": truth}, areas)
    assert not violated(truth_system, truth_system.values()).any()
    out, result = protect_and_audit({"indicators": truth}, areas)
    assert result.passed, result.describe()
    recovered = peel(build_system(out, areas))
    assert small_recoveries(recovered, truth_system).empty


# -- the pipeline's one linked pass (bsol_analytics.protection) ---------------------


def _population(unknown_sex: int) -> pd.DataFrame:
    """A population table (sex by age band, ``U`` for sex not known) for BSOL."""
    cells = [("F", "0-4", 40), ("F", "5-9", 35), ("M", "0-4", 42), ("M", "5-9", 30)]
    rows = [("BSOL", "BSOL", sex, band, n) for sex, band, n in cells]
    rows.append(("BSOL", "BSOL", "U", "All ages", unknown_sex))
    return pd.DataFrame(rows, columns=["area_type", "area", "sex", "age_band", "count"])


def _registered(unknown_sex: int) -> pd.DataFrame:
    """HYP_PREV by sex over the same registered list (denominators = population totals)."""
    return frame(
        [
            row("HYP_PREV", "BSOL", "BSOL", "overall", "All", 21, 147 + unknown_sex),
            row("HYP_PREV", "BSOL", "BSOL", "sex", "Female", 11, 75),
            row("HYP_PREV", "BSOL", "BSOL", "sex", "Male", 9, 72),
            row("HYP_PREV", "BSOL", "BSOL", "sex", "Unknown", 1, unknown_sex),
        ]
    )


def test_pipeline_protects_population_with_the_indicators() -> None:
    """The list size published as HYP_PREV's denominator links the population counts."""
    from bsol_analytics import protection

    tables = {"indicators": _registered(3), "population": _population(3), "other": AREAS}
    before = {k: v.copy() for k, v in tables.items()}
    run = protection.protect_run(tables, None, linked=True)
    for name, frame_before in before.items():
        pd.testing.assert_frame_equal(tables[name], frame_before)
    assert isinstance(run, dict) and run.audit.passed, run.audit.describe()
    assert run["other"] is tables["other"]  # tables of other names pass through
    pop, ind = run["population"], run["indicators"]
    assert pop.loc[pop["sex"] == "U", "suppressed"].all()
    assert ind.loc[ind["group"] == "Unknown", "suppressed"].all()
    assert pop["count"].isna().eq(pop["suppressed"]).all()
    # nothing small comes back from everything published together
    cells = protection.population_cells(run["population"], None, "practice", "2025-03-31")
    published = {
        "indicators": ind,
        "population": cells["population"].assign(suppressed=pop["suppressed"].to_numpy()),
        protection.MARGINS: cells[protection.MARGINS].assign(suppressed=True),
    }
    truth = protection.population_cells(tables["population"], None, "practice", "2025-03-31")
    truth_system = build_system({"indicators": tables["indicators"], **truth})
    recovered = peel(build_system(published))
    assert small_recoveries(recovered, truth_system).empty
    assert run.summary()["passed"] is True


def test_pipeline_audit_failure_names_cells_and_exits_5() -> None:
    from bsol_analytics import protection

    t = frame(
        [
            row("X", "BSOL", "BSOL", "overall", "All", 50, 500),
            row("X", "BSOL", "BSOL", "sex", "F", 3, 250),
            row("X", "BSOL", "BSOL", "sex", "M", 47, 250),
        ]
    ).assign(suppressed=[False, True, False], suppression_reason=[None, "primary: count 1-7", None])
    run = protection.ProtectedRun({"t": t}, audit_run({"t": t}))
    with pytest.raises(protection.DisclosureAuditError) as err:
        run.raise_if_failed()
    assert err.value.exit_code == 5
    assert "group=F" in str(err.value) and "Nothing was published" in str(err.value)
    assert " 3 " not in str(err.value)
    protection.ProtectedRun({"t": t}).raise_if_failed()  # no audit: nothing to stop


def test_pipeline_empty_and_count_only_runs() -> None:
    from bsol_analytics import protection

    empty = frame([row("X", "BSOL", "BSOL", "overall", "All", 1, 2)]).iloc[:0]
    run = protection.protect_run({"indicators": empty}, None, linked=True)
    assert run.audit is None and run["indicators"]["suppressed"].dtype == bool
    run = protection.protect_run({"population": _population(0)}, None, linked=True)
    assert run.audit.passed and not run["population"]["suppressed"].any()
    run = protection.protect_run({"indicators": _registered(3)}, None, linked=True)  # no population
    assert run.audit.passed and run["indicators"]["suppressed"].sum() >= 2


@pytest.mark.parametrize(("kwargs", "linked"), [({}, True), ({"linked": False}, False)])
def test_pipeline_is_linked_and_audited_by_default(kwargs, linked) -> None:
    from bsol_analytics import protection

    tables = {"indicators": _registered(3), "population": _population(3)}
    run = protection.protect_run(tables, None, **kwargs)
    assert (run.audit is not None) is linked
    assert run.summary()["linked"] is linked
    # either way the small counts are hidden
    assert run["indicators"].loc[run["indicators"]["group"] == "Unknown", "suppressed"].all()
    assert run["population"].loc[run["population"]["sex"] == "U", "suppressed"].all()


def _two_practices() -> pd.DataFrame:
    """A locality with two practices, each by sex (small Unknown and Female counts)."""
    rows = []
    for area_type, area, counts in (
        ("locality", "L1", (40, 12, 20, 8)),
        ("practice", "P1", (20, 3, 10, 7)),
        ("practice", "P2", (20, 9, 10, 1)),
    ):
        total, f, m, u = counts
        rows += [
            row("X", area_type, area, "overall", "All", total, 10 * total),
            row("X", area_type, area, "sex", "Female", f, 10 * f),
            row("X", area_type, area, "sex", "Male", m, 10 * m),
            row("X", area_type, area, "sex", "Unknown", u, 10 * u),
        ]
    return frame(rows)


def test_escalation_hides_more_each_time_a_cell_fails_again() -> None:
    from bsol_analytics.sdc import protect

    system = build_system({"t": _two_practices()}, AREAS)
    t = system.terms
    eq = (system.relations["sense"].to_numpy() == "eq")[t["relation"].to_numpy()]
    membership = pd.DataFrame(
        {"relation": t["relation"].to_numpy(), "cell": t["var"].to_numpy() // 2, "eq": eq}
    ).drop_duplicates()
    keys = system.cells[["area", "group"]].astype("str")
    cell = int(np.flatnonzero((keys["area"] == "P1") & (keys["group"] == "Female"))[0])
    hidden = np.zeros(len(system.cells), bool)
    hidden[cell] = True
    num = system.cells["numerator"].to_numpy(float)
    den = system.cells["denominator"].to_numpy(float)

    def level(strike: int) -> np.ndarray:
        return protect._escalate(
            np.array([cell]), np.array([strike]), system, membership, hidden, num, den
        )

    sizes = [len(level(k)) for k in (1, 2, 3, 4, 5)]
    assert sizes[0] >= 1 and all(not hidden[level(k)].any() for k in (1, 2, 3, 4, 5))
    # the last level hides the sex groups at every practice
    got = keys.iloc[level(5)].sort_values(["area", "group"]).reset_index(drop=True)
    expected = pd.DataFrame(
        {
            "area": ["P1", "P1", "P2", "P2", "P2"],
            "group": ["Male", "Unknown", "Female", "Male", "Unknown"],
        }
    )
    pd.testing.assert_frame_equal(got, expected)


def test_linked_pass_protects_two_practices_by_sex() -> None:
    out, result = protect_and_audit({"t": _two_practices()}, AREAS)
    assert result.passed
    published = out["t"]
    assert not published["numerator"].between(1, 7).any()
    recovered = peel(build_system(out, AREAS))
    assert not recovered["value"].between(1, 7).any()


def _rare_group_tables() -> pd.DataFrame:
    """Registered 17+, 45+ and 60-74 by sex; Unknown sex only in L1: 3 people, in all three."""
    rows = []
    counts = {  # area: (Female, Male, Unknown) registered 17+; 45+ and 60-74 are shares of it
        ("BSOL", "BSOL"): (500, 497, 3),
        ("locality", "L1"): (300, 297, 3),
        ("locality", "L2"): (200, 200, 0),
    }
    for (area_type, area), sexes in counts.items():
        for ind, share in (("DM_PREV", 1.0), ("HYP_BP_CHECK_45", 0.5), ("SCR_BOWEL", 0.2)):
            dens = [round(share * n) if n > 3 else n for n in sexes]
            nums = [d // 10 if d > 3 else 1 for d in dens]
            rows.append(row(ind, area_type, area, "overall", "All", sum(nums), sum(dens)))
            for group, num, den in zip(("Female", "Male", "Unknown"), nums, dens, strict=True):
                if den:
                    rows.append(row(ind, area_type, area, "sex", group, num, den))
    return frame(rows)


def _rare_group_hidden(hide: tuple[str, ...]) -> tuple[Any, Any, np.ndarray]:
    """The rare-group system; the same system with ``hide`` hidden at BSOL and L1 in both
    indicators; which cells are primary (the hidden Unknown ones)."""
    import dataclasses

    system = build_system(
        {"indicators": _rare_group_tables()}, AREAS[AREAS["area_type"] == "locality"]
    )
    cells = system.cells.astype("str")
    hidden = cells["area"].isin(["BSOL", "L1"]) & cells["group"].isin(list(hide))
    published = dataclasses.replace(system, cells=system.cells.assign(published=~hidden))
    return system, published, (hidden & cells["group"].eq("Unknown")).to_numpy()


def test_path_witnesses_move_a_rare_group_through_area_levels_and_indicators(
    monkeypatch,
) -> None:
    """The 45+ Unknown count lies between the 60-74 and the 17+ ones: it reaches 0 only if
    the 60-74 count falls with it, and 8 only if the 17+ count grows with it, at L1 and
    BSOL at once. Neither sibling pairs nor blocks free such a move; the path stage does.
    """

    from bsol_analytics.sdc import audit

    # Female and Unknown hidden in both indicators at BSOL and L1 (Male and L2 published)
    system, published, primary = _rare_group_hidden(("Female", "Unknown"))

    def run() -> audit.AuditResult:
        return audit.audit_system(published, primary, seed=system.values(), whole=False)

    with_paths = run()
    assert with_paths.passed and with_paths.stages["paths"] > 0
    monkeypatch.setattr(audit, "PATH_CHECKS", 0)
    without = run()
    assert not without.passed
    assert set(without.failures["indicator_id"]) == {"HYP_BP_CHECK_45"}


@pytest.mark.parametrize(
    ("hide", "passed", "problem"),
    [
        # the rare group of the path test: safe only through a move across levels and
        # indicators at once, which the whole-component LPs find
        (("Female", "Unknown"), True, None),
        # Unknown alone hidden: pinned by the published Female and Male rows
        (("Unknown",), False, "not shown to be safe"),
    ],
    ids=["proven", "pinned"],
)
def test_whole_component_stages_run_over_the_exact_limit(
    monkeypatch, hide: tuple[str, ...], passed: bool, problem: str | None
) -> None:
    """Components over ``EXACT_LIMIT`` unknowns still get the down and up LPs (each within
    ``BIG_LP_SECONDS``), not the per-count exact ranges: a count they prove passes, a
    count they cannot prove fails as "not shown to be safe", never as passed.
    """

    from bsol_analytics.sdc import audit

    monkeypatch.setattr(audit, "PATH_CHECKS", 0)  # local witnesses alone do not prove it
    monkeypatch.setattr(audit, "EXACT_LIMIT", 0)  # every component counts as large
    system, published, primary = _rare_group_hidden(hide)
    result = audit.audit_system(published, primary, seed=system.values())
    assert result.passed is passed
    assert result.stages["exact"] == 0
    if passed:
        assert result.stages["down"] + result.stages["up"] > 0
    else:
        assert set(result.failures["problem"]) == {problem}


def test_whole_component_stages_skip_components_over_the_proof_limit(monkeypatch) -> None:
    """Over ``PROOF_LIMIT`` unknowns no whole-component LP runs: unproven counts fail."""

    from bsol_analytics.sdc import audit

    monkeypatch.setattr(audit, "PATH_CHECKS", 0)
    monkeypatch.setattr(audit, "PATH_SECONDS", 0.0)  # nor the path units after the area stage
    monkeypatch.setattr(audit, "EXACT_LIMIT", 0)
    monkeypatch.setattr(audit, "PROOF_LIMIT", 0)
    system, published, primary = _rare_group_hidden(("Female", "Unknown"))
    result = audit.audit_system(published, primary, seed=system.values())
    assert not result.passed
    assert result.stages["down"] + result.stages["up"] == 0
    assert set(result.failures["problem"]) == {"not shown to be safe"}


def _rare_group_under_ics(hide: tuple[str, ...]) -> tuple[Any, Any, np.ndarray]:
    """The rare-group system with BSOL under one more area (ICS, the same counts), so BSOL
    is a middle level; ``hide`` hidden at ICS, BSOL and L1; which cells are primary."""
    import dataclasses

    tables = _rare_group_tables()
    top = tables[tables["area_type"] == "BSOL"].assign(area_type="ICS", area="ICS")
    areas = pd.concat(
        [
            AREAS[AREAS["area_type"] == "locality"],
            pd.DataFrame(
                {"area_type": ["BSOL"], "area": ["BSOL"], "parent_type": ["ICS"], "parent": ["ICS"]}
            ),
        ],
        ignore_index=True,
    )
    system = build_system({"indicators": pd.concat([tables, top], ignore_index=True)}, areas)
    cells = system.cells.astype("str")
    hidden = cells["area"].isin(["ICS", "BSOL", "L1"]) & cells["group"].isin(list(hide))
    published = dataclasses.replace(system, cells=system.cells.assign(published=~hidden))
    return system, published, (hidden & cells["group"].eq("Unknown")).to_numpy()


@pytest.mark.parametrize(
    ("hide", "area_seconds", "passed"),
    [
        # safe only through a move across levels and indicators at once: the area stage
        # (BSOL's subtree and its ancestor freed together) finds it
        (("Female", "Unknown"), 900.0, True),
        # the same counts with no time for the area stage: not shown to be safe
        (("Female", "Unknown"), 0.0, False),
        # Unknown alone hidden: pinned by the published Female and Male rows
        (("Unknown",), 900.0, False),
    ],
    ids=["proven", "no-time", "pinned"],
)
def test_area_stage_proves_counts_over_the_proof_limit(
    monkeypatch, hide: tuple[str, ...], area_seconds: float, passed: bool
) -> None:
    """Over ``PROOF_LIMIT`` unknowns the area stage (one area's subtree and ancestors freed,
    the rest held at the known solution) proves counts that the pair and block witnesses
    do not; what it cannot prove fails as "not shown to be safe", never as passed.
    """

    from bsol_analytics.sdc import audit

    monkeypatch.setattr(audit, "PATH_CHECKS", 0)  # local witnesses alone do not prove it
    monkeypatch.setattr(audit, "EXACT_LIMIT", 0)
    monkeypatch.setattr(audit, "PROOF_LIMIT", 0)  # no whole-component LP
    monkeypatch.setattr(audit, "AREA_SECONDS", area_seconds)
    monkeypatch.setattr(audit, "PATH_SECONDS", 0.0)  # the area stage alone
    system, published, primary = _rare_group_under_ics(hide)
    result = audit.audit_system(published, primary, seed=system.values())
    assert result.passed is passed
    assert result.stages["down"] + result.stages["up"] + result.stages["exact"] == 0
    assert (result.stages["areas"] > 0) is passed
    if not passed:
        assert set(result.failures["problem"]) == {"not shown to be safe"}


@pytest.mark.parametrize(
    ("area_seconds", "path_seconds", "stage"),
    [
        # no time for the area stage: the family units after it (each locality's subtree
        # and ancestors, the counts' breakdown family only) prove the counts
        (0.0, 300.0, "paths"),
        # the area stage proves them first; nothing is left for the family units
        (900.0, 300.0, "areas"),
        # no time for either: not shown to be safe
        (0.0, 0.0, None),
    ],
    ids=["families", "areas-first", "no-time"],
)
def test_family_units_follow_the_area_stage(
    monkeypatch, area_seconds: float, path_seconds: float, stage: str | None
) -> None:
    """Over ``PROOF_LIMIT`` unknowns the counts the area stage leaves get the path stage
    (one breakdown family up and down one locality's areas, the rest held at the known
    solution), also in an audit that skips the local stages, as protection's second audit
    does; what neither proves fails as "not shown to be safe".
    """
    from bsol_analytics.sdc import audit

    monkeypatch.setattr(audit, "EXACT_LIMIT", 0)
    monkeypatch.setattr(audit, "PROOF_LIMIT", 0)  # no whole-component LP
    monkeypatch.setattr(audit, "AREA_SECONDS", area_seconds)
    monkeypatch.setattr(audit, "PATH_SECONDS", path_seconds)
    system, published, primary = _rare_group_under_ics(("Female", "Unknown"))
    result = audit.audit_system(published, primary, seed=system.values(), local=False)
    assert result.passed is (stage is not None)
    proving = {k for k in ("pairs", "blocks", "areas", "paths") if result.stages[k]}
    assert proving == ({stage} if stage else set())
    if stage is None:
        assert set(result.failures["problem"]) == {"not shown to be safe"}
