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
import os
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock

from bsol_analytics.cleaning import prepare
from bsol_analytics.io import atomic_write_text
from bsol_analytics.packs.tables import compute_tables
from bsol_analytics.report import PackData, load_pack
from bsol_analytics.synth import generate

#: Patients in the demonstration extract: enough for most groups to be shown, small enough to
#: build in a minute or two.
DEMO_PATIENTS = 6000


def write_demo_tables(
    out_dir: str | Path,
    reporting_date: str | dt.date = "2025-03-31",
    patients: int = DEMO_PATIENTS,
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
        :func:`demo_tables` calls this once per process (or once per shared folder):

        >>> folder = demo_tables()
        >>> sorted(p.name for p in folder.iterdir())[:2]
        ['areas.parquet', 'blank_places.parquet']
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


#: Environment variable naming a folder in which :func:`demo_tables` keeps its tables, shared
#: by every process that sets it (the test suite does; the folder is the caller's to remove).
#: Without it each process builds its own tables in a temporary folder removed at exit.
DEMO_CACHE_ENV = "BSOL_DEMO_CACHE"


@functools.lru_cache(maxsize=4)
def demo_tables(
    patients: int = DEMO_PATIENTS, reporting_date: str = "2025-03-31", seed: int = 1
) -> Path:
    """Demonstration pack tables, built once per process (or once per shared folder).

    With :data:`DEMO_CACHE_ENV` set, the tables are built once in that folder and every
    process that sets it reads them (a lock keeps two processes from building the same
    tables at once). Otherwise they go in a temporary folder removed when the process exits
    (or at once if building them fails).
    """
    shared = os.environ.get(DEMO_CACHE_ENV)
    if shared:
        return _shared_demo_tables(Path(shared), patients, reporting_date, seed)
    root = Path(tempfile.mkdtemp(prefix="bsol-demo-"))
    try:
        return write_demo_tables(root / "tables", reporting_date, patients=patients, seed=seed)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    finally:
        if root.exists():
            atexit.register(shutil.rmtree, root, ignore_errors=True)


def _shared_demo_tables(root: Path, patients: int, reporting_date: str, seed: int) -> Path:
    """The tables in ``root``, built there first if no process has built them yet."""
    root.mkdir(parents=True, exist_ok=True)
    name = f"demo-{patients}-{reporting_date}-{seed}"
    folder = root / name
    with FileLock(root / f"{name}.lock"):
        if not folder.is_dir():
            partial = root / f"{name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            try:
                write_demo_tables(partial, reporting_date, patients=patients, seed=seed)
                partial.rename(folder)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
    return folder


def demo_pack(patients: int = DEMO_PATIENTS, reporting_date: str = "2025-03-31") -> PackData:
    """The demonstration tables, loaded: for examples and trying the charts.

    Examples:
        >>> demo_pack().info["demo"]
        True
    """
    return load_pack(demo_tables(patients, reporting_date))


__all__ = ["DEMO_CACHE_ENV", "DEMO_PATIENTS", "demo_pack", "demo_tables", "write_demo_tables"]
