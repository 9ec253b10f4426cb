"""The statistic of every indicator in the table layer, chosen from the registry.

Known answers for rates per decedent, DSRs over an indicator's own age range, life
expectancy and its slope index, ISRs against BSOL, recorded-versus-expected polarity,
the diabetes-type breakdown and skipped indicators.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

from bsol_analytics import stats
from bsol_analytics import table as tb
from bsol_analytics.indicators import compute_cube
from bsol_analytics.vocabulary import LE_AGE_BANDS

RD = pd.Timestamp("2025-03-31")
COLS = ["value", "lower", "upper", "numerator", "denominator"]


def cube_rows(indicator: str, **columns: list) -> pd.DataFrame:
    """A cube of one indicator at RD with the given key and count columns."""
    return pd.DataFrame({"reporting_date": RD, "indicator_id": indicator, **columns})


def stat(cube: pd.DataFrame, **kwargs) -> pd.DataFrame:
    return tb.indicator_statistics(cube, **kwargs).reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Rates and DSRs of the registry's statistic
# --------------------------------------------------------------------------------------


def test_eol_ed_mean_is_a_rate_per_decedent_with_byar_limits():
    cube = cube_rows("EOL_ED_MEAN", practice_locality=["East", "West"],
                     numerator=[250, 5], denominator=[100, 40])  # fmt: skip
    out = stat(cube)
    expected = stats.rate(
        pd.DataFrame({"n": [255, 250, 5], "d": [140, 100, 40]}), "n", "d", multiplier=1
    )
    assert_frame_equal(
        out[COLS], expected[["value", "lower", "upper", "numerator", "denominator"]]
        .rename(columns={}).astype("float64"), check_names=False,
    )  # fmt: skip
    assert out["method"].tolist() == ["Byars", "Byars", "Exact"]
    assert out.loc[0, "value"] == pytest.approx(255 / 140)


def _esp(first: int, last: int | None) -> pd.Series:
    w = stats.esp2013_for_ages(first, last)
    return w.set_index("age_band")["standard_population"]


def test_mort_cancer_u75_is_a_dsr_over_ages_0_to_74():
    bands = ["60-64", "65-69", "70-74", "75-79"]
    cube = cube_rows("MORT_CANCER_U75", age_band=bands, numerator=[10, 20, 30, 0],
                     denominator=[20_000, 15_000, 10_000, 0])  # fmt: skip
    out = stat(cube, by="")
    w = _esp(0, 74)
    rates = pd.Series([10 / 20_000, 20 / 15_000, 30 / 10_000], index=bands[:3])
    value = (rates * w[bands[:3]]).sum() / w.sum() * 100_000
    assert out.loc[0, "value"] == pytest.approx(value)
    assert out.loc[0, "method"] == "Dobson, ESP2013 ages 0-74"
    assert (out.loc[0, "numerator"], out.loc[0, "denominator"]) == (60.0, 45_000.0)


def test_acsc_is_standardised_over_the_whole_esp():
    esp = stats.esp2013()
    cube = cube_rows("ACSC_EMERG", age_band=esp["age_band"].tolist(), numerator=10,
                     denominator=(esp["standard_population"] * 2).tolist())  # fmt: skip
    out = stat(cube, by="")
    # every band at half the standard's rate per person: sum of 10 / 2 per band, 19 bands
    assert out.loc[0, "value"] == pytest.approx(19 * 10 / 2 / 100_000 * 100_000)
    assert out.loc[0, "method"] == "Dobson"


@pytest.mark.parametrize(
    ("keys", "breakdowns", "method_start"),
    [
        ({}, "locality", "crude rate"),  # no age_band strata: a crude rate, never "DSR"
        ({"age_band": ["70-74", "70-74"]}, "locality,age_band", "crude rate"),
    ],
)
def test_dsr_indicators_without_strata_are_crude_rates(keys, breakdowns, method_start):
    cube = cube_rows("MORT_CANCER_U75", practice_locality=["East", "West"], **keys,
                     numerator=[30, 20], denominator=[10_000, 10_000])  # fmt: skip
    out = stat(cube, by=breakdowns)
    crude = out[(out["breakdown"] != "overall") | ("age_band" not in cube.columns)]
    assert len(crude) and crude["method"].str.startswith(method_start).all()
    east = crude[(crude["area"] == "East")].iloc[0]
    assert east["value"] == pytest.approx(300.0)  # 30 / 10,000 per 100,000


def test_death_at_74_counts_and_at_75_does_not():
    """End to end: a tiny extract with cancer deaths at 74 and 75, through the table."""
    born = {"74": "1950-01-01", "75": "1949-01-01"}
    pats = pd.DataFrame({
        "patient_id": ["d74", "d75", "alive"],
        "sex": "F",
        "date_of_birth": [born["74"], born["75"], "1960-01-01"],
        "registration_start": "2000-01-01", "registration_end": None,
        "date_of_death": ["2024-10-01", "2024-10-01", None],
        "place_of_death": ["hospital", "hospital", None],
        "underlying_cause_of_death": ["C349", "C34", None],
    })  # fmt: skip
    tables = {
        "patients": pats,
        "clinical_events": pd.DataFrame(columns=["patient_id", "event_date", "cluster",
                                                 "numeric_value"]),
        "screening": pd.DataFrame(columns=["patient_id", "programme", "test_date", "outcome"]),
    }  # fmt: skip
    cube = compute_cube(tables, [RD.date()], ["age_band", "sex"], indicators=["MORT_CANCER_U75"])
    out = stat(cube, by="age_band")
    deaths = out[out["breakdown"] == "age_band"].set_index("group")["numerator"]
    assert deaths.get("70-74", 0) == 1 and deaths.get("75-79", 0) == 0
    overall = out[out["breakdown"] == "overall"].iloc[0]
    assert overall["numerator"] == 1 and np.isnan(overall["value"])  # under 10 events
    assert overall["method"].startswith("Dobson")


def test_diabetes_dsr_is_standardised_over_17_plus():
    bands = ["15-19", "20-24", "70-74"]
    cube = cube_rows("DM_PREV", age_band=bands, numerator=[2, 30, 200],
                     denominator=[600, 1_000, 1_000])  # fmt: skip
    out = stat(cube, by="", derived={"DM_PREV_DSR"})
    dsr = out[out["indicator_id"] == "DM_PREV_DSR"].iloc[0]
    w = _esp(17, None)  # 15-19 keeps 3/5 of its weight
    assert w["15-19"] == pytest.approx(3_300)
    rates = pd.Series([2 / 600, 30 / 1_000, 200 / 1_000], index=bands)
    assert dsr["value"] == pytest.approx((rates * w[bands]).sum() / w.sum() * 100)
    whole = (rates * _esp(0, None)[bands]).sum() / _esp(0, None).sum() * 100
    assert dsr["value"] > 1.2 * whole  # the whole ESP (ages 0-16 included) runs too low
    assert dsr["method"] == "Dobson, ESP2013 ages 17+"


# --------------------------------------------------------------------------------------
# Life expectancy and its slope index
# --------------------------------------------------------------------------------------

_POP = np.array([7060, 35059, 46974, 48489, 43219, 38561, 46009, 57208, 61435, 55601, 50209,
                 56416, 46411, 39820, 37978, 37039, 33288, 23306, 11936, 11936])  # fmt: skip
_DEATHS = np.array([17, 9, 4, 8, 20, 15, 24, 33, 50, 71, 100, 163, 263, 304, 536, 872,
                    1390, 1605, 1936, 1937])  # fmt: skip


def le_cube(areas: dict[str, tuple[float, float]], deciles: bool = False) -> pd.DataFrame:
    """LE_BIRTH cube rows: per area a (population scale, death scale) of the example."""
    rows = []
    for area, (ps, ds) in areas.items():
        for sex in ("F", "M"):
            for d in range(1, 11) if deciles else [1]:
                rows.append(pd.DataFrame({
                    "practice_locality": area, "imd2025_decile": d,
                    "imd2025_quintile": (d + 1) // 2, "sex": sex,
                    "le_age_band": list(LE_AGE_BANDS),
                    "numerator": np.round(_DEATHS * ds * (1 + 0.02 * d)).astype(int),
                    "denominator": np.round(_POP * ps).astype(int),
                }))  # fmt: skip
    return pd.concat(rows, ignore_index=True).assign(reporting_date=RD, indicator_id="LE_BIRTH")


def _le(t: pd.DataFrame, area: str, group: str) -> pd.Series:
    return t[(t["indicator_id"] == "LE_BIRTH") & (t["area"] == area) & (t["group"] == group)
             ].iloc[0]  # fmt: skip


def test_life_expectancy_by_sex_and_just_under_the_size_rule():
    # person-years = 3 x population: 1,666 x 3 = 4,998 (< 5,000) and 1,667 x 3 = 5,001
    pop_total = _POP.sum()
    cube = le_cube({"East": (1666 / pop_total, 0.01), "West": (1667 / pop_total, 0.01)})
    for area, target in (("East", 1666), ("West", 1667)):  # exact totals after rounding
        for sex in ("F", "M"):
            rows = (cube["practice_locality"] == area) & (cube["sex"] == sex)
            band = rows & (cube["le_age_band"] == "40-44")
            cube.loc[band, "denominator"] += target - cube.loc[rows, "denominator"].sum()
    out = tb.indicator_statistics(cube.iloc[:0].drop(columns=["le_age_band"]), le_cube=cube)
    east, west = _le(out, "East", "Female"), _le(out, "West", "Female")
    assert east["denominator"] < 5_000 <= west["denominator"]
    assert np.isnan(east["value"]) and "not computable" in east["method"]
    assert "5,000 person-years" in east["method"]
    assert not np.isnan(west["value"]) and "not computable" not in west["method"]
    counts = tb.life_table_counts(
        cube[(cube["practice_locality"] == "West") & (cube["sex"] == "F")].drop(
            columns=["practice_locality", "imd2025_decile", "imd2025_quintile"]
        )
    )
    direct = stats.life_expectancy(counts, "deaths", "person_years", by=["sex"], ages=0,
                                   size_rule="contract")  # fmt: skip
    assert west["value"] == pytest.approx(direct.loc[0, "value"])
    assert (west["numerator"], west["denominator"]) == (
        counts["deaths"].sum(),
        counts["person_years"].sum(),
    )


def test_le_sii_over_deciles_by_sex():
    cube = le_cube({"East": (0.2, 0.2)}, deciles=True)
    out = tb.indicator_statistics(cube.iloc[:0].drop(columns=["le_age_band"]),
                                  by="locality,imd_decile", le_cube=cube)  # fmt: skip
    dec = out[(out["indicator_id"] == "LE_BIRTH") & (out["breakdown"] == "imd_decile*sex")]
    assert len(dec) == 2 * 2 * 10  # BSOL and East, two sexes, ten deciles
    sii = out[out["indicator_id"] == "LE_SII"].set_index(["area", "group"])
    assert sii.index.tolist() == [("BSOL", "Female"), ("BSOL", "Male"),
                                  ("East", "Female"), ("East", "Male")]  # fmt: skip
    east_f = dec[(dec["area"] == "East") & dec["group"].str.endswith("Female")]
    east_f = east_f.assign(q=east_f["group"].str.extract(r"^D(\d+)")[0].astype(int))
    direct = stats.sii(east_f, "q", "denominator", value="value", lower="lower",
                       upper="upper", repetitions=100_000, seed=2024, rii=False)  # fmt: skip
    assert sii.loc[("East", "Female"), "value"] == pytest.approx(direct.loc[0, "value"])
    assert sii.loc[("East", "Female"), "value"] < 0  # more deaths in less deprived deciles
    assert sii.loc[("East", "Female"), "numerator"] == east_f["numerator"].sum()


# --------------------------------------------------------------------------------------
# SII from standardised values, RVE polarity, ISR, diabetes type, skipped indicators
# --------------------------------------------------------------------------------------


def test_inequality_summary_prefers_standardised_values_on_the_logit_scale():
    groups = ["Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5 (least deprived)"]
    crude = [10.0, 11, 12, 13, 14]
    std = [16.0, 15, 14, 13, 12]
    t = pd.DataFrame({
        "indicator_id": ["HYP_PREV"] * 5 + ["HYP_PREV_DSR"] * 5,
        "reporting_date": "2025-03-31", "view": "practice", "area_type": "BSOL",
        "area": "BSOL", "breakdown": "imd_quintile", "group": groups * 2,
        "value": crude + std, "denominator": 10_000.0,
    })  # fmt: skip
    t["lower"], t["upper"] = t["value"] - 0.5, t["value"] + 0.5
    out = tb.inequality_summary(t, repetitions=1000)
    sii = out[out["statistic"] == "sii"]
    assert sii["indicator_id"].tolist() == ["HYP_PREV"]
    assert sii["basis"].tolist() == ["age-standardised"]
    assert sii["value"].iloc[0] < 0  # towards the most deprived
    only_crude = tb.inequality_summary(t[t["indicator_id"] == "HYP_PREV"], repetitions=1000)
    assert only_crude["value"].iloc[0] > 0 and only_crude["basis"].iloc[0] == "crude"


@pytest.mark.slow
def test_sii_sign_flip_on_default_style_synthetic_data(tmp_path):
    """The issue's BSOL reversal: crude SII towards least, standardised towards most deprived."""
    from bsol_analytics.cleaning.pipeline import prepare
    from bsol_analytics.synth import generate

    generate(tmp_path / "ext", patients=40_000, fmt="parquet")
    prepare(tmp_path / "ext", tmp_path / "prep", progress=False)
    t = tb.indicator_table(tmp_path / "prep", "2025-03-31", by="imd_quintile",
                           indicators="HYP_PREV,HYP_PREV_DSR")  # fmt: skip
    crude = tb.inequality_summary(t[t["indicator_id"] == "HYP_PREV"])
    std = tb.inequality_summary(t)
    c = crude[(crude["statistic"] == "sii") & (crude["area"] == "BSOL")].iloc[0]
    s = std[(std["statistic"] == "sii") & (std["area"] == "BSOL")].iloc[0]
    assert s["basis"] == "age-standardised"
    assert c["lower"] > 0 and s["upper"] < 0


def test_rve_is_higher_or_lower_not_better_or_worse():
    assert tb.RVE_POLARITY == "no judgement"
    meta = tb.rve_metadata(["HYP_PREV_RVE", "DM_PREV_RVE"])
    assert meta["polarity"].tolist() == ["no judgement"] * 2
    assert meta["expected_adjusts_for"].str.contains("age and sex only").all()
    stats_t = pd.DataFrame({"indicator_id": "HYP_PREV_RVE", "reporting_date": RD,
        "view": "practice", "area_type": ["BSOL", "locality"], "area": ["BSOL", "East"],
        "breakdown": "overall", "group": "All", "value": [1.0, 1.5], "lower": [0.9, 1.4],
        "upper": [1.1, 1.6], "numerator": 100.0, "denominator": 80.0, "confidence": 0.95,
        "method": "Byars", "suppressed": False, "suppression_reason": None})  # fmt: skip
    out = tb.finish_table(stats_t, ["HYP_PREV"], derived={"HYP_PREV_RVE"})
    assert out.loc[out["area"] == "East", "comparison"].item() == "higher"


def test_isr_against_bsol_age_sex_rates():
    cube = cube_rows("HYP_PREV", practice_code=["P1", "P1", "P2", "P2"],
                     pcn_code="N1", practice_locality="East",
                     age_band=["40-44", "70-74"] * 2, sex="F",
                     numerator=[10, 90, 40, 210], denominator=[100, 300, 900, 700])  # fmt: skip
    out = stat(cube, by="practice", derived={"HYP_PREV_ISR"})
    isr = out[out["indicator_id"] == "HYP_PREV_ISR"].set_index("area")
    # BSOL rates: 50 / 1,000 at 40-44 and 300 / 1,000 at 70-74
    expected_p1 = 100 * 0.05 + 300 * 0.3
    assert isr.loc["P1", "denominator"] == pytest.approx(expected_p1)
    assert isr.loc["P1", "value"] == pytest.approx(100 / expected_p1)
    assert isr.loc["BSOL", "value"] == pytest.approx(1.0)
    assert set(isr["breakdown"]) == {"overall"}


def test_diabetes_type_breakdown_keeps_dm_prev_denominator():
    # the cube repeats DM_PREV's whole denominator in each type; East has no type 1 aged 70+
    cube = cube_rows(
        ["DM_PREV"] * 5 + ["DM_3TT"] * 2 + ["HYP_PREV"] * 2,  # type: ignore[arg-type]
        practice_locality="East",
        age_band=["40-44", "40-44", "70-74", "70-74", "40-44", "40-44", "70-74", "40-44", "70-74"],
        diabetes_type=[
            "Type 1",
            "Type 2",
            "Type 2",
            "Unknown",
            "Unknown",
            "Type 1",
            "Type 2",
            "Unknown",
            "Unknown",
        ],
        numerator=[5, 20, 50, 3, 0, 2, 10, 100, 300],
        denominator=[1000, 1000, 500, 500, 1000, 5, 60, 1000, 500],
    )
    out = stat(cube, by="locality,diabetes_type")
    by_type = out[(out["breakdown"] == "diabetes_type") & (out["area"] == "East")]
    assert set(by_type["indicator_id"]) == {"DM_PREV", "DM_3TT"}  # diabetes only
    dm = by_type[by_type["indicator_id"] == "DM_PREV"].set_index("group")
    assert_series_equal(dm["denominator"], pd.Series([1500.0] * 3, name="denominator",
                        index=pd.Index(["Type 1", "Type 2", "Unknown"], name="group")))  # fmt: skip
    overall = out[(out["breakdown"] == "overall") & (out["indicator_id"] == "DM_PREV")]
    assert overall["denominator"].tolist() == [1500.0, 1500.0]  # taken once, not per type
    assert overall["numerator"].tolist() == [78.0, 78.0]


def test_skipped_indicators_rows_and_summary(tmp_path):
    from bsol_analytics.commands import _summary

    t = tb.with_skipped(tb._empty_table(), {"CVD_LLT": "the extract has no medications table"},
                        ["2025-03-31"], "practice")  # fmt: skip
    assert list(t.columns) == list(tb.TIDY_COLUMNS)
    assert tb.skipped_indicators(t) == {"CVD_LLT": "the extract has no medications table"}
    line = _summary(t, tmp_path / "x.csv", view="practice", imd="2025", sdc=True)
    assert "0 indicators" in line
    assert line.endswith("Skipped 1 indicator: CVD_LLT (the extract has no medications table).")


def test_version_1_extract_lists_skipped_indicators(prepared_extract, tmp_path, capsys):
    """Without the version 2 tables the command names each skipped indicator and why."""
    import shutil

    from bsol_analytics.cli import main

    v1 = tmp_path / "v1"
    shutil.copytree(prepared_extract, v1)
    for name in ("medications", "ed_attendances"):
        (v1 / f"{name}.parquet").unlink()
    out = tmp_path / "ind.csv"
    code = main(["-q", "indicators", str(v1), "--by", "locality", "--out", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0 and stdout.count("\n") == 1
    assert "Skipped" in stdout and "CVD_LLT (the extract has no medications table)" in stdout
    table = pd.read_csv(out)
    skipped = tb.skipped_indicators(table)
    assert {"CVD_LLT", "EOL_ED_MEAN", "EOL_ED_3PLUS"} <= set(skipped)
    assert table.loc[table["indicator_id"] == "CVD_LLT", "value"].isna().all()
    assert "LE_BIRTH" in set(table["indicator_id"])  # still computable
