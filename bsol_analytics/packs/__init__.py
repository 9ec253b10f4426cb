"""The locality packs: tables computed once, one notebook per pack, atomic publication.

* :mod:`~bsol_analytics.packs.tables`: every number the packs show, computed once per run
  and protected once (:func:`compute_tables`);
* :mod:`~bsol_analytics.packs.run`: a run as named steps (:func:`run_packs`);
* :mod:`~bsol_analytics.packs.publication`: index page, manifest, atomic publication;
* :mod:`~bsol_analytics.packs.demo`: the demonstration tables, built by the real pipeline
  on a small synthetic extract.

``docs/packs.md`` describes a run.
"""

from __future__ import annotations

from bsol_analytics.packs.demo import demo_pack, demo_tables, write_demo_tables
from bsol_analytics.packs.publication import (
    STAGE_PREFIX,
    TEMPLATE_DIR,
    file_checksums,
    pack_file_name,
    render_index,
    sweep_stale,
)
from bsol_analytics.packs.run import (
    EXIT_PACKS_FAILED,
    NOTEBOOK,
    RunResult,
    build_pack,
    notebook_to_html,
    run_packs,
    toc_html,
)
from bsol_analytics.packs.tables import (
    ALL_AGES,
    BREAKDOWNS,
    SMALL_COUNT,
    TREND_QUARTERS,
    compute_tables,
    indicator_frame,
    indicator_metadata,
    open_pack,
    population_counts,
    population_tables,
    sii_table,
)
from bsol_analytics.report.parameters import parse_localities, validate_parameters
from bsol_analytics.vocabulary import PACK_AREAS as PACKS

__all__ = [
    "ALL_AGES",
    "BREAKDOWNS",
    "EXIT_PACKS_FAILED",
    "NOTEBOOK",
    "PACKS",
    "SMALL_COUNT",
    "STAGE_PREFIX",
    "TEMPLATE_DIR",
    "TREND_QUARTERS",
    "RunResult",
    "build_pack",
    "compute_tables",
    "demo_pack",
    "demo_tables",
    "file_checksums",
    "indicator_frame",
    "indicator_metadata",
    "notebook_to_html",
    "open_pack",
    "pack_file_name",
    "parse_localities",
    "population_counts",
    "population_tables",
    "render_index",
    "run_packs",
    "sii_table",
    "sweep_stale",
    "toc_html",
    "validate_parameters",
    "write_demo_tables",
]
