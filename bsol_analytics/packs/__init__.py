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

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, imported on first use (see __getattr__)
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

#: Where each public name lives: a notebook kernel that needs only ``open_pack`` then
#: imports the tables module alone, not the orchestration, publication and demo modules.
_HOMES: dict[str, tuple[str, str]] = {
    **{n: ("bsol_analytics.packs.demo", n) for n in ("demo_pack", "demo_tables",
                                                      "write_demo_tables")},
    **{n: ("bsol_analytics.packs.publication", n) for n in (
        "STAGE_PREFIX", "TEMPLATE_DIR", "file_checksums", "pack_file_name", "render_index",
        "sweep_stale")},
    **{n: ("bsol_analytics.packs.run", n) for n in (
        "EXIT_PACKS_FAILED", "NOTEBOOK", "RunResult", "build_pack", "notebook_to_html",
        "run_packs", "toc_html")},
    **{n: ("bsol_analytics.packs.tables", n) for n in (
        "ALL_AGES", "BREAKDOWNS", "SMALL_COUNT", "TREND_QUARTERS", "compute_tables",
        "indicator_frame", "indicator_metadata", "open_pack", "population_counts",
        "population_tables", "sii_table")},
    "parse_localities": ("bsol_analytics.report.parameters", "parse_localities"),
    "validate_parameters": ("bsol_analytics.report.parameters", "validate_parameters"),
    "PACKS": ("bsol_analytics.vocabulary", "PACK_AREAS"),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562) and keep the name here."""
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _HOMES[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


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
