"""Statistical disclosure control: one policy over everything a run publishes.

* :mod:`bsol_analytics.sdc.core`: the policy (:class:`SDCPolicy`), primary suppression and the
  line rule of secondary suppression for one tidy indicator frame (:func:`apply_sdc`).
* :mod:`bsol_analytics.sdc.relations`: every linear relation between the counts a run
  publishes (groups and totals, crosses, nested areas and breakdowns, counts shared between
  indicators), as data.
* :mod:`bsol_analytics.sdc.protect`: :func:`protect_run`, suppression (or rounding) over the
  whole linked system.
* :mod:`bsol_analytics.sdc.audit`: :func:`audit_run` and :func:`audit_folder`, the linear
  programming proof that no hidden small count can be recovered, and :func:`peel`, a simple
  attacker used by the tests.

``docs/disclosure-control.md`` explains all of this in plain English.
"""

from __future__ import annotations

from bsol_analytics.sdc.core import (
    BLANKED_COLUMNS,
    CELL_KEYS,
    CROSS_SEP,
    DEFAULT_POLICY,
    EXPECTED_DENOMINATOR_SUFFIXES,
    REASON_COMPLEMENT,
    REASON_LINKED,
    REASON_PRIMARY,
    REASON_SECONDARY,
    ROUNDING_POLICY,
    SDCPolicy,
    apply_sdc,
    blank_suppressed,
    indicator_lines,
    line_counts,
    people_denominator,
    primary_suppression,
    require_columns,
    secondary_suppression,
)

__all__ = [
    "BLANKED_COLUMNS",
    "CELL_KEYS",
    "CROSS_SEP",
    "DEFAULT_POLICY",
    "EXPECTED_DENOMINATOR_SUFFIXES",
    "REASON_COMPLEMENT",
    "REASON_LINKED",
    "REASON_PRIMARY",
    "REASON_SECONDARY",
    "ROUNDING_POLICY",
    "SDCPolicy",
    "apply_sdc",
    "blank_suppressed",
    "indicator_lines",
    "line_counts",
    "people_denominator",
    "primary_suppression",
    "require_columns",
    "secondary_suppression",
]

_LAZY = {
    "protect_run": "bsol_analytics.sdc.protect",
    "protect_and_audit": "bsol_analytics.sdc.protect",
    "audit_run": "bsol_analytics.sdc.audit",
    "audit_folder": "bsol_analytics.sdc.audit",
    "AuditResult": "bsol_analytics.sdc.audit",
    "peel": "bsol_analytics.sdc.audit",
    "build_system": "bsol_analytics.sdc.relations",
}


def __getattr__(name: str) -> object:
    """The whole-run functions, imported on first use (they need the indicator links)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bsol_analytics.sdc' has no attribute {name!r}")
