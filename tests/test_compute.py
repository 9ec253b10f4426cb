"""The shared computing helpers: integer row keys and the processors to use."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics.compute import available_cpus, repeated_rows, row_order


def test_row_order_is_lexsort():
    rng = np.random.default_rng(3)
    keys = (rng.integers(0, 7, 5000), rng.integers(-3, 9, 5000), rng.integers(0, 50, 5000))
    np.testing.assert_array_equal(row_order(keys), np.lexsort(keys[::-1]))
    wide = (rng.integers(0, 2**40, 100), rng.integers(0, 2**40, 100))  # too wide to combine
    np.testing.assert_array_equal(row_order(wide), np.lexsort(wide[::-1]))
    floats = (rng.integers(0, 3, 100), rng.random(100))
    np.testing.assert_array_equal(row_order(floats), np.lexsort(floats[::-1]))


@pytest.mark.parametrize("columns", [[], [np.array([], dtype=np.int64)]])
def test_no_rows(columns):
    assert len(row_order(columns)) == 0
    assert len(repeated_rows(columns)) == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-3, 3), st.integers(0, 2), st.sampled_from([0, 2**40, 2**41])),
        max_size=40,
    ),
    st.booleans(),
)
def test_repeated_rows_is_duplicated_keep_first(rows, wide):
    df = pd.DataFrame(rows, columns=["a", "b", "c"], dtype=np.int64)
    columns = ["a", "b", "c"] if wide else ["a", "b"]  # c: too wide for one key with a
    want = df.duplicated(subset=columns, keep="first").to_numpy()
    got = repeated_rows([df[c].to_numpy() for c in columns])
    np.testing.assert_array_equal(got, want)


def test_available_cpus():
    assert 1 <= available_cpus() <= (os.cpu_count() or 1)
