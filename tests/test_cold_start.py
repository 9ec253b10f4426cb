"""``bsol indicators`` starts without the heavy libraries it does not use.

The command layer imports the cleaning schemas (pandera, which pulls in geopandas and
pyspark.pandas), the packs (matplotlib) and scipy.stats only inside the commands that use
them; the statistics take their normal and chi-squared quantiles from scipy.special, with
the same numbers as scipy.stats. scipy's sparse matrices, which only disclosure control
uses, load on their first use; the prepared tables are read with jemalloc (or the system
allocator), whose first allocations cost less than mimalloc's.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from bsol_analytics.stats._common import chi2_ppf, norm_ppf

HEAVY = (
    "pandera",
    "geopandas",
    "matplotlib",
    "pyspark",
    "scipy.stats",
    "scipy.sparse._base",  # what ``import scipy.sparse`` runs; the lazy module itself is named
    "scipy.sparse.csgraph",
    "bsol_analytics.packs",
)


def test_indicator_command_imports_no_heavy_library():
    code = (
        "import sys, bsol_analytics.cli, bsol_analytics.commands, bsol_analytics.table\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_sparse_matrices_load_on_first_use():
    code = (
        "import sys, bsol_analytics.protection\n"
        "from bsol_analytics.sdc.audit import sparse\n"
        "before = 'scipy.sparse._base' in sys.modules\n"
        "print(before, sparse.csr_matrix((2, 3)).shape)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False (2, 3)"


def test_prepared_tables_are_read_with_the_reading_pool(monkeypatch):
    import pyarrow as pa

    from bsol_analytics.indicators.engines import use_reading_memory_pool

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before = pa.default_memory_pool()
    try:
        name = use_reading_memory_pool()
        assert name in ("jemalloc", "system")
        assert pa.default_memory_pool().backend_name == name
    finally:
        pa.set_memory_pool(before)


def test_a_pool_chosen_by_the_user_is_kept(monkeypatch):
    import pyarrow as pa

    from bsol_analytics.indicators.engines import use_reading_memory_pool

    before = pa.default_memory_pool()
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        assert use_reading_memory_pool() == "system"
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(before)


#: What a pack notebook's kernel does not need: the orchestration, publication and demo.
NOT_IN_KERNEL = (
    "papermill",
    "pandera",
    "pyspark",
    "bsol_analytics.packs.run",
    "bsol_analytics.packs.demo",
    "bsol_analytics.cleaning",
)


def test_pack_notebook_imports_only_the_tables_module_of_the_packs():
    code = (
        "import sys\nfrom bsol_analytics import report\n"
        "from bsol_analytics.packs import open_pack\n"
        f"print(','.join(m for m in {NOT_IN_KERNEL!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_packs_names_import_on_first_use():
    import bsol_analytics.packs as packs

    assert set(packs.__all__) == set(packs._HOMES)
    assert all(getattr(packs, name) is not None for name in packs.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        packs.nothing  # noqa: B018


@pytest.mark.parametrize(
    ("p", "df"),
    [(0.025, 2.0), (0.975, 4.0), (0.0, 2.0), (1.0, 2.0), (0.5, 0.0), (np.nan, 2.0),
     (0.5, np.nan), (-0.1, 2.0), (1.1, 2.0), (0.975, 20000.0)],
)  # fmt: skip
def test_chi2_ppf_edges_as_scipy_stats(p: float, df: float):
    np.testing.assert_array_equal(chi2_ppf(p, df), sps.chi2.ppf(p, df))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=30),
    st.lists(st.integers(0, 10_000), min_size=1, max_size=30),
)
def test_quantiles_identical_to_scipy_stats(ps: list[float], counts: list[int]):
    n = min(len(ps), len(counts))
    p, df = np.asarray(ps[:n]), 2.0 * np.asarray(counts[:n])
    np.testing.assert_array_equal(chi2_ppf(p, df), sps.chi2.ppf(p, df))
    np.testing.assert_array_equal(norm_ppf(p), sps.norm.ppf(p))
