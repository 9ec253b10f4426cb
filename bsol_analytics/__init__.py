"""bsol_analytics: population-health analytics for Birmingham and Solihull.

The library cleans a pseudonymised GP extract (see ``docs/data-contract.md``), computes
indicators with Fingertips-grade statistics and disclosure control, and builds locality packs.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
