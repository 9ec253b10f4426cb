"""Where the suite finds its reference data and writes its outputs.

``data/raw/`` (immutable reference data with its MANIFEST) sits at the repository root. Set
``BSOL_RAW_DIR`` to use a copy elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parents[1]
RAW_DIR: Path = Path(os.environ.get("BSOL_RAW_DIR", REPO_ROOT / "data" / "raw"))
PROCESSED_DIR: Path = REPO_ROOT / "data" / "processed"
REPORTS_DIR: Path = REPO_ROOT / "reports"
NOTEBOOKS_DIR: Path = REPO_ROOT / "notebooks"
