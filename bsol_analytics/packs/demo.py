"""Demonstration pack tables: the real pipeline run on a small synthetic extract.

The notebooks' tests, the examples in the documentation and anyone trying the charts use
these tables. They are built exactly as ``bsol packs`` builds its tables (synthetic extract,
``prepare``, :func:`bsol_analytics.packs.tables.compute_tables`), so every test of them
checks the pipeline that builds the packs.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import json
import shutil
import tempfile
from pathlib import Path

from bsol_analytics.cleaning import prepare
from bsol_analytics.io import atomic_write_text
from bsol_analytics.packs.tables import compute_tables
from bsol_analytics.report import PackData, load_pack
from bsol_analytics.synth import generate


def write_demo_tables(
    out_dir: str | Path,
    reporting_date: str | dt.date = "2025-03-31",
    patients: int = 20_000,
    seed: int = 1,
) -> Path:
    """Write pack tables computed by the real pipeline from a small synthetic extract.

    Same arguments, same tables; ``pack_meta.json`` says ``"demo": true``.

    Args:
        out_dir: the folder to write the tables into.
        reporting_date: a quarter end the synthetic extract covers (it ends 2025-03-31).
        patients: patients in the synthetic extract.
        seed: random seed of the extract.

    Returns:
        ``out_dir``.

    Examples:
        >>> import tempfile
        >>> folder = write_demo_tables(tempfile.mkdtemp(), "2025-03-31", patients=1000)
        >>> sorted(p.name for p in folder.iterdir())[:2]
        ['areas.parquet', 'demography.parquet']
    """
    with tempfile.TemporaryDirectory(prefix="bsol-demo-") as tmp:
        extract = generate(Path(tmp) / "extract", patients=patients, seed=seed, fmt="parquet")
        prepare(extract.out, Path(tmp) / "prepared", progress=False)
        out = compute_tables(Path(tmp) / "prepared", out_dir, reporting_date)
    meta = out / "pack_meta.json"
    info = {**json.loads(meta.read_text()), "demo": True}
    info["data_quality"] = ["Demonstration data: a synthetic extract, no real patient."]
    atomic_write_text(meta, json.dumps(info, indent=2, default=str))
    return out


@functools.lru_cache(maxsize=4)
def demo_tables(patients: int = 2000, reporting_date: str = "2025-03-31", seed: int = 1) -> Path:
    """Demonstration pack tables in a temporary folder, built once per process (cached).

    The folder is removed when the process exits (or at once if building it fails).
    """
    root = Path(tempfile.mkdtemp(prefix="bsol-demo-"))
    try:
        return write_demo_tables(root / "tables", reporting_date, patients=patients, seed=seed)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    finally:
        if root.exists():
            atexit.register(shutil.rmtree, root, ignore_errors=True)


def demo_pack(patients: int = 2000, reporting_date: str = "2025-03-31") -> PackData:
    """The demonstration tables, loaded: for examples and trying the charts.

    Examples:
        >>> demo_pack().info["demo"]
        True
    """
    return load_pack(demo_tables(patients, reporting_date))


__all__ = ["demo_pack", "demo_tables", "write_demo_tables"]
