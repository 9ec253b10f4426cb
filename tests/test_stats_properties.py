"""Property tests: invariants of the statistics over generated counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandas.testing as pdt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bsol_analytics import stats

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def count_frames(draw: st.DrawFn, proportion: bool = True) -> pd.DataFrame:
    n_rows = draw(st.integers(min_value=1, max_value=15))
    dens = draw(
        st.lists(st.integers(min_value=0, max_value=5_000_000), min_size=n_rows, max_size=n_rows)
    )
    nums = []
    for d in dens:
        top = d if proportion else max(d * 3, 50)
        nums.append(draw(st.integers(min_value=0, max_value=top)))
    return pd.DataFrame({"area": [f"A{i}" for i in range(n_rows)], "x": nums, "n": dens})


def pairs(out: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        out[out["confidence"] == 0.95].reset_index(drop=True),
        out[out["confidence"] == 0.998].reset_index(drop=True),
    )


def assert_ordered(out: pd.DataFrame) -> None:
    ok = out.dropna(subset=["value", "lower", "upper"])
    tol = 1e-9 * np.maximum(1.0, ok["value"].abs())
    assert (ok["lower"] <= ok["value"] + tol).all()
    assert (ok["value"] <= ok["upper"] + tol).all()


def assert_widens(out: pd.DataFrame) -> None:
    p95, p998 = pairs(out)
    both = p95["lower"].notna() & p998["lower"].notna()
    assert (p998.loc[both, "lower"] <= p95.loc[both, "lower"] + 1e-12).all()
    assert (p998.loc[both, "upper"] >= p95.loc[both, "upper"] - 1e-12).all()


@SETTINGS
@given(df=count_frames(), multiplier=st.sampled_from([1, 100]))
def test_proportion_invariants(df: pd.DataFrame, multiplier: int) -> None:
    out = stats.proportion(df, "x", "n", confidence=[0.95, 0.998], multiplier=multiplier)
    assert len(out) == 2 * len(df)
    assert_ordered(out)
    assert_widens(out)
    limits = out[["lower", "upper"]].stack().dropna()
    assert ((limits >= -1e-12) & (limits <= multiplier * (1 + 1e-12))).all()
    # zero denominators give missing statistics, never an error
    zero = np.repeat(df["n"].to_numpy() == 0, 2)
    assert out.loc[zero, ["value", "lower", "upper"]].isna().all().all()


@SETTINGS
@given(df=count_frames(proportion=False))
def test_rate_invariants(df: pd.DataFrame) -> None:
    out = stats.rate(df, "x", "n", confidence=[0.95, 0.998])
    assert_ordered(out)
    assert_widens(out)
    expected = np.where(np.repeat(df["x"].to_numpy(), 2) < 10, "Exact", "Byars")
    pdt.assert_series_equal(out["method"], pd.Series(expected, name="method", dtype="str"))


@SETTINGS
@given(df=count_frames(proportion=False))
def test_grouped_equals_rowwise_on_presummed(df: pd.DataFrame) -> None:
    df = df.assign(group=np.arange(len(df)) % 3)
    grouped = stats.rate(df, "x", "n", by="group")
    summed = df.groupby("group", sort=False, as_index=False)[["x", "n"]].sum()
    rowwise = stats.rate(summed, "x", "n")
    pdt.assert_frame_equal(grouped, rowwise)


@st.composite
def dsr_frames(draw: st.DrawFn) -> pd.DataFrame:
    n_areas = draw(st.integers(min_value=1, max_value=4))
    esp = stats.esp2013()
    frames = []
    for i in range(n_areas):
        pops = draw(st.lists(st.integers(1, 20000), min_size=19, max_size=19))
        counts = [draw(st.integers(0, max(p // 5, 1))) for p in pops]
        frames.append(
            pd.DataFrame({"area": f"A{i}", "age_band": esp["age_band"], "x": counts, "n": pops})
        )
    return pd.concat(frames, ignore_index=True)


@SETTINGS
@given(df=dsr_frames())
def test_dsr_invariants(df: pd.DataFrame) -> None:
    out = stats.dsr(df, "x", "n", by="area", confidence=[0.95, 0.998])
    assert_ordered(out)
    assert_widens(out)
    totals = df.groupby("area", sort=False)["x"].sum().to_numpy()
    pdt.assert_series_equal(out["value"].isna(), pd.Series(np.repeat(totals < 10, 2), name="value"))


@SETTINGS
@given(
    df=dsr_frames(),
    scale=st.floats(min_value=0.5, max_value=3.0),
)
def test_dsr_of_uniform_rate_is_that_rate(df: pd.DataFrame, scale: float) -> None:
    # if every band has the same rate, the DSR is that rate whatever the standard
    df = df.assign(n=1000, x=np.round(scale * 10).astype(int))
    out = stats.dsr(df, "x", "n", by="area", multiplier=1)
    expected = np.full(len(out), np.round(scale * 10) / 1000)
    np.testing.assert_allclose(out["value"].to_numpy(), expected, rtol=1e-12)


@SETTINGS
@given(
    obs=st.integers(min_value=0, max_value=5000),
    expected=st.floats(min_value=0.5, max_value=5000),
)
def test_isr_invariants(obs: int, expected: float) -> None:
    df = pd.DataFrame({"g": ["a"], "o": [obs], "pop": [expected], "r": [1.0]})
    for method in ("byars", "exact"):
        out = stats.isr(
            df, "o", "pop", by="g", reference_rate="r", method=method, confidence=[0.95, 0.998]
        )
        assert_ordered(out)
        assert_widens(out)


@SETTINGS
@given(
    values=st.lists(
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=2, max_size=40
    )
)
def test_mean_invariants(values: list[float]) -> None:
    df = pd.DataFrame({"v": values})
    out = stats.mean(df, "v", by=None, confidence=[0.95, 0.998])
    assert_ordered(out)
    assert_widens(out)
    np.testing.assert_allclose(out["value"].iloc[0], np.mean(values), rtol=1e-9, atol=1e-6)


@SETTINGS
@given(
    p=st.floats(min_value=0.0, max_value=1.0),
    n=st.lists(st.floats(min_value=1, max_value=1e6), min_size=1, max_size=20),
    statistic=st.sampled_from(["proportion", "rate", "ratio"]),
)
def test_funnel_limits_contain_comparator_and_widen(
    p: float, n: list[float], statistic: str
) -> None:
    comparator = 1.0 if statistic == "ratio" else p
    out = stats.funnel_limits(comparator, n, statistic=statistic)  # type: ignore[arg-type]
    tol = 1e-9
    assert (out["lower"] <= comparator + tol).all()
    assert (out["upper"] >= comparator - tol).all()
    assert_widens(out)


@SETTINGS
@given(
    rows=st.lists(
        st.tuples(
            st.floats(0, 100, allow_nan=False),
            st.floats(0, 10, allow_nan=False),
            st.floats(0, 10, allow_nan=False),
        ),
        min_size=1,
        max_size=30,
    ),
    comparator=st.floats(0, 100, allow_nan=False),
)
def test_compare_higher_and_lower_are_mirror_images(
    rows: list[tuple[float, float, float]], comparator: float
) -> None:
    df = pd.DataFrame(
        {
            "v": [r[0] for r in rows],
            "lo": [r[0] - r[1] for r in rows],
            "hi": [r[0] + r[2] for r in rows],
        }
    )
    hib = stats.compare(df, "v", "lo", "hi", comparator, polarity="higher is better")
    lib = stats.compare(df, "v", "lo", "hi", comparator, polarity="lower is better")
    nj = stats.compare(df, "v", "lo", "hi", comparator, polarity="no judgement")
    swap = {"better": "worse", "worse": "better", "similar": "similar"}
    pdt.assert_series_equal(lib["comparison"], hib["comparison"].map(swap).astype("str"))
    to_nj = {"better": "higher", "worse": "lower", "similar": "similar"}
    pdt.assert_series_equal(nj["comparison"], hib["comparison"].map(to_nj).astype("str"))
    inside = (df["lo"] <= comparator) & (df["hi"] >= comparator)
    assert (hib.loc[inside, "comparison"] == "similar").all()
