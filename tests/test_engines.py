"""Every indicator on every engine: identical numerators and denominators."""

from __future__ import annotations

import shutil

import narwhals as nw
import numpy as np
import pandas as pd
import pytest
from helpers import REPORTING_DATE as RD
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics.compute import row_order
from bsol_analytics.errors import ExtractError, ParameterError
from bsol_analytics.indicators import (
    DEFINITIONS,
    compute_cube,
    compute_cubes,
    load_tables,
    patient_flags,
)
from bsol_analytics.indicators.engines import _aggregate, _sort_codes

KEYS = ["practice_locality", "imd2025_quintile", "sex", "age_band"]
DATES = [RD, "2024-12-31"]


@pytest.fixture(scope="module")
def extract(combined_extract) -> dict[str, pd.DataFrame]:
    """The version 1 and version 2 known-answer patients: every indicator has cases."""
    return combined_extract()


@pytest.fixture(scope="module")
def pandas_cube(extract) -> pd.DataFrame:
    return compute_cube(extract, DATES, KEYS)


@pytest.fixture(scope="session")
def spark():
    if shutil.which("java") is None:
        pytest.skip("Spark tests need Java 17+ on the PATH; none was found")
    pyspark = pytest.importorskip("pyspark", reason="PySpark is not installed")
    session = (
        pyspark.sql.SparkSession.builder.master("local[1]")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_pandas_cube_covers_every_indicator(pandas_cube):
    assert set(pandas_cube["indicator_id"]) == set(DEFINITIONS)


def test_duckdb_matches_pandas(extract, pandas_cube):
    pd.testing.assert_frame_equal(compute_cube(extract, DATES, KEYS, engine="duckdb"), pandas_cube)


def test_duckdb_reads_parquet_folder(extract, pandas_cube, tmp_path):
    for name, df in extract.items():
        df.to_parquet(tmp_path / f"{name}.parquet", index=False)
    pd.testing.assert_frame_equal(compute_cube(tmp_path, DATES, KEYS, engine="duckdb"), pandas_cube)
    pd.testing.assert_frame_equal(compute_cube(tmp_path, DATES, KEYS), pandas_cube)


def test_duckdb_reads_parquet_parts(extract, pandas_cube, tmp_path):
    for name, df in extract.items():
        (tmp_path / name).mkdir()
        half = len(df) // 2
        df.iloc[:half].to_parquet(tmp_path / name / "part-0.parquet", index=False)
        df.iloc[half:].to_parquet(tmp_path / name / "part-1.parquet", index=False)
    frames = load_tables(tmp_path, "duckdb")
    pd.testing.assert_frame_equal(compute_cube(frames, DATES, KEYS, engine="duckdb"), pandas_cube)


def test_pandas_reads_parquet_parts_once_for_every_call(extract, pandas_cube, tmp_path):
    for name, df in extract.items():
        (tmp_path / name).mkdir()
        half = len(df) // 2
        df.iloc[:half].to_parquet(tmp_path / name / "part-0.parquet", index=False)
        df.iloc[half:].to_parquet(tmp_path / name / "part-1.parquet", index=False)
    frames = load_tables(tmp_path)
    assert load_tables(frames) is frames  # loaded tables are reused, not read again
    pd.testing.assert_frame_equal(compute_cube(frames, DATES, KEYS), pandas_cube)
    with pytest.raises(ParameterError, match="loaded for the pandas engine, not duckdb"):
        compute_cube(frames, DATES, KEYS, engine="duckdb")


@settings(deadline=None)  # a busy machine must not fail a property
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.sampled_from(["b", "a", "B", "é", "a b", None]),
            st.sampled_from([2.0, 1.0, None]),
        ),
        max_size=40,
    )
)
def test_integer_sort_orders_rows_like_sorting_the_labels(rows):
    df = pd.DataFrame(rows, columns=["n", "text", "x"]).astype({"x": "float64"})
    codes = [
        df["n"].to_numpy(np.int64),
        _sort_codes(df["text"].astype("category")),
        _sort_codes(df["x"]),
    ]
    want = df.astype({"text": "str"}).sort_values(
        ["n", "text", "x"], na_position="last", kind="stable"
    )
    np.testing.assert_array_equal(row_order(codes), want.index.to_numpy())


@pytest.mark.parametrize(
    "columns",
    [
        [np.array([], dtype=np.int64)],
        [np.array([2, 0, 2, 1])],
        [np.array([1, 1, 0]), np.array([2**40, 0, 5]), np.array([2**40, 3, 0])],  # lexsort
    ],
)
def test_row_order_is_a_stable_lexicographic_sort(columns):
    np.testing.assert_array_equal(row_order(columns), np.lexsort(list(reversed(columns))))


def test_duckdb_refuses_text_dates_in_parquet(extract, pandas_cube, tmp_path):
    for name, df in extract.items():
        if name == "screening":
            df = df.assign(test_date=df["test_date"].dt.strftime("%Y-%m-%d"))
        df.to_parquet(tmp_path / f"{name}.parquet", index=False)
    with pytest.raises(ExtractError, match=r"Table 'screening', column 'test_date'.*date"):
        load_tables(tmp_path, "duckdb")
    # the pandas engine reads ISO text dates and gives the same cube
    pd.testing.assert_frame_equal(compute_cube(tmp_path, DATES, KEYS), pandas_cube)


def test_duckdb_patient_flags_stay_lazy(extract):
    rel = patient_flags(extract, RD, engine="duckdb", indicators=["HYP_PREV"])
    assert type(rel).__name__ == "DuckDBPyRelation"
    want = patient_flags(extract, RD, indicators=["HYP_PREV"])
    got = rel.df()
    assert len(got) == len(want)
    assert int(got["numerator"].sum()) == int(want["numerator"].sum())


@pytest.mark.spark
def test_spark_matches_pandas(spark, extract, pandas_cube):
    # One reporting date keeps the default suite quick; the union over dates is covered by
    # the DuckDB tests and by the slow Spark test below.
    want = pandas_cube[pandas_cube["reporting_date"] == RD].reset_index(drop=True)
    pd.testing.assert_frame_equal(compute_cube(extract, RD, KEYS, engine="spark"), want)
    flags = patient_flags(extract, RD, engine="spark", indicators=["EOL_ON_PC_REG"])
    want = patient_flags(extract, RD, indicators=["EOL_ON_PC_REG"])
    assert flags.count() == len(want)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_reads_parquet_folder(spark, extract, pandas_cube, tmp_path):
    for name, df in extract.items():
        df.to_parquet(tmp_path / f"{name}.parquet", index=False)
    pd.testing.assert_frame_equal(compute_cube(tmp_path, DATES, KEYS, engine="spark"), pandas_cube)


V2_KEYS = ["practice_locality", "sex", "diabetes_type", "le_age_band"]


@pytest.fixture(scope="module")
def pandas_cube_v2_keys(extract) -> pd.DataFrame:
    return compute_cube(extract, RD, V2_KEYS)


def test_duckdb_matches_pandas_on_version2_keys(extract, pandas_cube_v2_keys):
    assert set(pandas_cube_v2_keys["indicator_id"]) == set(DEFINITIONS)
    got = compute_cube(extract, RD, V2_KEYS, engine="duckdb")
    pd.testing.assert_frame_equal(got, pandas_cube_v2_keys)


def test_duckdb_skips_the_same_indicators_on_a_version1_folder(build_extract, tmp_path):
    for name, df in build_extract().items():
        df.to_parquet(tmp_path / f"{name}.parquet", index=False)
    from bsol_analytics.indicators import computable_indicators

    assert computable_indicators(tmp_path, "duckdb") == computable_indicators(tmp_path)
    got = compute_cube(tmp_path, RD, ["sex"], engine="duckdb")
    pd.testing.assert_frame_equal(got, compute_cube(tmp_path, RD, ["sex"]))


@pytest.mark.spark
def test_spark_matches_pandas_on_version2_keys(spark, extract, pandas_cube_v2_keys):
    got = compute_cube(extract, RD, V2_KEYS, engine="spark")
    pd.testing.assert_frame_equal(got, pandas_cube_v2_keys)


# --------------------------------------------------------------------------------------
# Several cubes from one evaluation per date (grouping sets), and forked date workers
# --------------------------------------------------------------------------------------

CUBE_REQUESTS = [
    ([RD], KEYS, None),
    (DATES, ["practice_locality"], None),
    ([RD], ["sex"], ["HYP_PREV", "DM_PREV"]),
    (["2024-12-31"], [], ["SCR_BREAST"]),
]


@pytest.mark.parametrize("jobs", [1, 2], ids=["one-process", "two-forked-workers"])
def test_compute_cubes_equal_one_cube_per_request(extract, jobs):
    frames = load_tables(extract)
    cubes = compute_cubes(frames, CUBE_REQUESTS, jobs=jobs)
    assert len(cubes) == len(CUBE_REQUESTS)
    for cube, (dates, keys, ids) in zip(cubes, CUBE_REQUESTS, strict=True):
        pd.testing.assert_frame_equal(cube, compute_cube(frames, dates, keys, indicators=ids))


def test_compute_cubes_on_duckdb_equal_pandas(extract):
    requests = CUBE_REQUESTS[1:3]
    for lazy, eager in zip(
        compute_cubes(extract, requests, engine="duckdb"),
        compute_cubes(extract, requests),
        strict=True,
    ):
        pd.testing.assert_frame_equal(lazy, eager)


@pytest.mark.spark
def test_compute_cubes_on_spark_equal_pandas(spark, extract):
    requests = CUBE_REQUESTS[1:3]  # both include RD: its patients are cached for the two
    for lazy, eager in zip(
        compute_cubes(extract, requests, engine="spark"),
        compute_cubes(extract, requests),
        strict=True,
    ):
        pd.testing.assert_frame_equal(lazy, eager)


def test_loading_only_the_key_columns_keeps_the_cube(extract, pandas_cube, tmp_path):
    for name, df in extract.items():
        df.to_parquet(tmp_path / f"{name}.parquet", index=False)
    frames = load_tables(tmp_path, keys=KEYS)
    assert "case" not in frames.patients.columns
    assert "underlying_cause_of_death" in frames.patients.columns  # an input, not a key
    pd.testing.assert_frame_equal(compute_cube(frames, DATES, KEYS), pandas_cube)
    with pytest.raises(ParameterError, match="cannot be used as a key"):
        compute_cube(frames, DATES, ["case"])


@pytest.fixture(scope="module")
def extract_folder(extract, tmp_path_factory) -> object:
    folder = tmp_path_factory.mktemp("prepared")
    for name, df in extract.items():
        df.to_parquet(folder / f"{name}.parquet", index=False)
    return folder


@pytest.mark.parametrize("indicator", list(DEFINITIONS))
def test_loading_only_the_tables_of_the_indicators_keeps_their_cube(
    extract_folder, pandas_cube, indicator
):
    frames = load_tables(extract_folder, keys=KEYS, indicators=[indicator])
    expected = pandas_cube[pandas_cube["indicator_id"] == indicator].reset_index(drop=True)
    cube = compute_cube(frames, DATES, KEYS, indicators=[indicator])
    pd.testing.assert_frame_equal(cube, expected)


def test_events_of_clusters_are_the_filtered_rows_kept_once(extract):
    frames = load_tables(extract)
    events = frames.clinical_events.to_native()
    chosen = frames.events("SBP", "HYP_COD")
    expected = events[events["cluster"].isin(["SBP", "HYP_COD"])]
    pd.testing.assert_frame_equal(chosen.to_native(), expected)
    assert frames.events("HYP_COD", "SBP") is chosen  # the same rows, not filtered again


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["F", "M", "U", None]),
            st.integers(-1, 104),
            st.sampled_from(["East", "Solihull", "Elsewhere", None]),
            st.sampled_from([1, 2, 5, None]),
            st.sampled_from(["Asian", "White", "Unknown", None]),
            st.booleans(),
        ),
        max_size=40,
    )
)
def test_population_counts_put_each_registered_patient_in_one_cell(rows):
    from bsol_analytics.packs.tables import population_counts

    rd = pd.Timestamp("2025-03-31")
    people = pd.DataFrame(
        rows, columns=["sex", "age", "practice_locality", "imd2025_quintile", "eth", "gone"]
    )
    people = people.assign(
        date_of_birth=rd - pd.to_timedelta(people["age"] * 366, unit="D"),
        registration_start=pd.Timestamp("2000-01-01"),
        registration_end=pd.NaT,
        date_of_death=people["gone"].map({True: pd.Timestamp("2025-01-01"), False: pd.NaT}),
        resident_locality=people["practice_locality"],
        ethnicity_broad=people["eth"],
        imd2019_quintile=people["imd2025_quintile"],
        core20=people["imd2025_quintile"] == 1,
    )
    pop, demo = population_counts(people, rd.date())
    alive = people[~people["gone"].astype(bool)]
    expected = {"BSOL": len(alive)} if len(alive) else {}
    # a locality outside the list, or none ("Unknown"), is an area too: areas add up to BSOL
    local = alive["practice_locality"].fillna("Unknown").value_counts()
    expected |= local.to_dict()
    totals = pop.groupby("area")["count"].sum().to_dict()
    assert totals == expected
    for breakdown in ("imd_quintile", "core20"):  # every patient has a group
        shown = demo[demo["breakdown"] == breakdown].groupby("area")["count"].sum().to_dict()
        assert shown == expected
    unknown_sex = ~alive["sex"].isin(["F", "M"])
    u_rows = pop[(pop["area"] == "BSOL") & (pop["sex"] == "U")]["count"]
    assert u_rows.sum() == unknown_sex.sum()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", None]),
            st.sampled_from([1, 2, None]),
            st.booleans(),
            st.integers(0, 3),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_pandas_sums_match_the_generic_group_by(rows):
    """The one-pass pandas sums equal narwhals' group_by sums, missing keys included."""
    wide = pd.DataFrame(rows, columns=["k", "q", "_d_X", "_n_X"])
    wide["q"] = wide["q"].astype("Int64")
    wide["_n_X"] = wide["_n_X"].astype("float64")
    fast = _aggregate(nw.from_native(wide), ["X"], ["k", "q"], 2).to_native()
    cols = ["_d_X", "_n_X"]
    slow = (
        nw.from_native(wide)
        .with_columns(nw.col(c).cast(nw.Int64) for c in cols)
        .group_by("k", "q", drop_null_keys=False)
        .agg(nw.col(c).sum() for c in cols)
        .with_columns(nw.lit(2, nw.Int64).alias("_rd"))
        .to_native()
    )
    order = ["k", "q"]
    pd.testing.assert_frame_equal(
        fast.sort_values(order, ignore_index=True).astype({"_d_X": "int64", "_n_X": "int64"}),
        slow.sort_values(order, ignore_index=True).astype({"_d_X": "int64", "_n_X": "int64"}),
    )
