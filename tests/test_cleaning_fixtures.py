"""The small-extract builder (the ``extract_frames`` fixture) is deterministic and complete."""

from __future__ import annotations

import pandas as pd


def test_fixture_is_deterministic(extract_frames):
    a = extract_frames(50, seed=3)
    b = extract_frames(50, seed=3)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_fixture_has_every_table_and_column(extract_frames):
    from bsol_analytics.contract import EXTRACT_TABLES

    frames = extract_frames(20)
    for name, spec in EXTRACT_TABLES.items():
        assert list(frames[name].columns) == list(spec.column_names)
