"""The parameters of a pack: locality, reporting date, view and IMD version, checked once.

The report notebook calls :func:`validate_parameters` first; ``bsol packs`` checks the same
way before it runs anything.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

from bsol_analytics import paths
from bsol_analytics.datafolder import coverage, is_prepared, open_data
from bsol_analytics.dates import Coverage, check_reporting_date, parse_date
from bsol_analytics.errors import ParameterError
from bsol_analytics.indicators import lookback_windows
from bsol_analytics.vocabulary import LOCALITIES, PACK_AREAS


def validate_parameters(
    locality: str,
    reporting_date: str | dt.date,
    view: str = "practice",
    imd: str | int = "2025",
    data_dir: str | Path | None = None,
    tables_dir: str | Path | None = None,
) -> tuple[str, dt.date]:
    """Check a pack's parameters; return the canonical locality name and the date.

    With ``tables_dir`` (pack tables) or ``data_dir`` (an extract or prepared folder), or
    without either when the pack's default data (``data/processed`` under the current
    folder) are prepared, the date is also checked against what the data cover
    (:func:`bsol_analytics.dates.check_reporting_date`).

    Raises:
        ParameterError: unknown locality, malformed date, unknown view or IMD version, or
            a reporting date the data cannot support.

    Examples:
        >>> validate_parameters("solihull", "2025-03-31")
        ('Solihull', datetime.date(2025, 3, 31))
        >>> validate_parameters("Narnia", "2025-03-31")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: Unknown locality 'Narnia'. Choose one of Central, East, North, South, West, Solihull or BSOL.
    """  # noqa: E501
    canonical = canonical_locality(locality)
    check_view_imd(view, imd)
    rd = parse_date(reporting_date)
    if tables_dir is not None:
        check_reporting_date(rd, tables_coverage(tables_dir), lookback_windows())
    elif data_dir is not None or is_prepared(paths.PROCESSED_DIR):  # the pack's default data
        with open_data(data_dir or paths.PROCESSED_DIR) as tables:
            check_reporting_date(rd, coverage(tables), lookback_windows())
    return canonical, rd


def canonical_locality(locality: str) -> str:
    """The pack area ``locality`` names, in its own spelling (any case, spaces trimmed).

    Raises:
        ParameterError: not a locality or BSOL.

    Examples:
        >>> canonical_locality(" solihull"), canonical_locality("bsol")
        ('Solihull', 'BSOL')
    """
    names = {p.lower(): p for p in PACK_AREAS}
    canonical = names.get(str(locality).strip().lower())
    if canonical is None:
        raise ParameterError(
            f"Unknown locality {locality!r}. Choose one of {', '.join(LOCALITIES)} or BSOL."
        )
    return canonical


def check_view_imd(view: str, imd: str | int) -> None:
    """Refuse an unknown view or IMD version.

    Examples:
        >>> check_view_imd("home", "2025")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: Unknown view 'home': use 'practice' or 'resident'.
    """
    if view not in ("practice", "resident"):
        raise ParameterError(f"Unknown view {view!r}: use 'practice' or 'resident'.")
    if str(imd) not in ("2025", "2019"):
        raise ParameterError(f"Unknown IMD version {imd!r}: use 2025 or 2019.")


def tables_coverage(tables_dir: str | Path) -> Coverage:
    """The coverage of the data the pack tables in ``tables_dir`` were computed from.

    Examples:
        >>> tables_coverage("/no/such/tables").last is None
        True
    """
    meta = Path(tables_dir) / "pack_meta.json"
    cov = json.loads(meta.read_text()).get("coverage", {}) if meta.is_file() else {}
    last = cov.get("last")
    starts = {k: dt.date.fromisoformat(v) for k, v in cov.get("starts", {}).items()}
    return Coverage(dt.date.fromisoformat(last) if last else None, starts)


def parse_localities(text: str | Sequence[str] | None) -> list[str]:
    """Parse ``--localities`` (comma-separated, any case); ``None`` means every pack.

    Examples:
        >>> parse_localities("east, bsol")
        ['East', 'BSOL']
        >>> len(parse_localities(None))
        7
    """
    if text is None:
        return list(PACK_AREAS)
    items = text.split(",") if isinstance(text, str) else list(text)
    out = [canonical_locality(i) for i in items if str(i).strip()]
    if not out:
        raise ParameterError("--localities is empty: name at least one locality or BSOL.")
    return list(dict.fromkeys(out))


__all__ = [
    "canonical_locality",
    "check_view_imd",
    "parse_localities",
    "tables_coverage",
    "validate_parameters",
]
