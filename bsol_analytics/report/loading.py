"""Reading the pack tables written by :func:`bsol_analytics.packs.compute_tables`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bsol_analytics.errors import BsolError
from bsol_analytics.report.formatting import CONFIDENCE
from bsol_analytics.table import TIDY_COLUMNS
from bsol_analytics.vocabulary import LOCALITIES


class PackDataError(BsolError):
    """The pack tables are missing or do not have the expected shape.

    Examples:
        >>> load_pack("/no/such/tables")
        Traceback (most recent call last):
        ...
        bsol_analytics.report.loading.PackDataError: The pack tables folder ... lacks ...
    """


@dataclass
class PackData:
    """The tables one pack is built from (see the module docstring).

    Examples:
        >>> from bsol_analytics.packs.demo import demo_pack
        >>> data = demo_pack()
        >>> data.reporting_date.date().isoformat(), data.info["view"]
        ('2025-03-31', 'practice')
    """

    indicators: pd.DataFrame
    meta: pd.DataFrame
    population: pd.DataFrame
    demography: pd.DataFrame
    practices: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    sii: pd.DataFrame = field(default_factory=pd.DataFrame)
    wards: pd.DataFrame = field(default_factory=pd.DataFrame)
    _cache: dict[Any, pd.DataFrame] = field(default_factory=dict, repr=False)

    def cached(self, key: Any, build: Any) -> pd.DataFrame:
        """Return ``build()`` computed once per key (a copy, so callers may not alter it)."""
        return self.shared(key, build).copy()

    def shared(self, key: Any, build: Any) -> Any:
        """Return ``build()`` computed once per key, itself: for callers that only read it.

        Examples:
            >>> from bsol_analytics.packs.demo import demo_pack
            >>> data = demo_pack()
            >>> data.shared("n", lambda: [1]) is data.shared("n", lambda: [2])
            True
        """
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    @property
    def reporting_date(self) -> pd.Timestamp:
        """The reporting date of the pack."""
        return pd.Timestamp(self.info["reporting_date"])


def load_pack(tables_dir: str | Path) -> PackData:
    """Read the pack tables written by :func:`bsol_analytics.packs.compute_tables`.

    Args:
        tables_dir: the folder holding the Parquet tables and ``pack_meta.json``.

    Returns:
        The tables, with the indicator frame restricted to the 95% confidence level.

    Raises:
        PackDataError: a table is missing or lacks a required column.

    Examples:
        >>> load_pack("/no/such/tables")
        Traceback (most recent call last):
        ...
        bsol_analytics.report.loading.PackDataError: The pack tables folder ... lacks ...
    """
    folder = Path(tables_dir)
    needed = [
        "indicators.parquet",
        "indicator_meta.parquet",
        "population.parquet",
        "demography.parquet",
        "practices.parquet",
        "pack_meta.json",
    ]
    missing = [n for n in needed if not (folder / n).exists()]
    if missing:
        raise PackDataError(
            f"The pack tables folder {folder} lacks {', '.join(missing)}. Run 'bsol packs' "
            "or give the notebook a data_dir to compute them."
        )
    ind = pd.read_parquet(folder / "indicators.parquet")
    absent = [c for c in TIDY_COLUMNS if c not in ind.columns]
    if absent:
        raise PackDataError(
            f"Table 'indicators', columns {', '.join(absent)}: the tidy indicator frame must "
            "have every column listed in docs/architecture.md."
        )
    ind = ind.assign(reporting_date=pd.to_datetime(ind["reporting_date"]))
    levels = ind["confidence"].dropna().unique()
    if len(levels) and (ind["confidence"] == CONFIDENCE).any():
        ind = ind[ind["confidence"].isna() | (ind["confidence"] == CONFIDENCE)]
    info = json.loads((folder / "pack_meta.json").read_text())
    info.setdefault("localities_covered", localities_covered(folder))
    practices = pd.read_parquet(folder / "practices.parquet")
    if info.get("synthetic") or info.get("demo"):
        practices = label_synthetic_practices(practices)
    return PackData(
        indicators=ind.reset_index(drop=True),
        meta=pd.read_parquet(folder / "indicator_meta.parquet"),
        population=pd.read_parquet(folder / "population.parquet"),
        demography=pd.read_parquet(folder / "demography.parquet"),
        practices=practices,
        info=info,
        wards=pd.read_parquet(folder / "wards.parquet")
        if (folder / "wards.parquet").exists()
        else pd.DataFrame(columns=["indicator_id", "ward_code", "value", "suppressed"]),
        sii=pd.read_parquet(folder / "sii.parquet")
        if (folder / "sii.parquet").exists()
        else pd.DataFrame(columns=["indicator_id", "area", "value", "lower", "upper"]),
    )


def localities_covered(tables_dir: str | Path) -> list[str]:
    """The localities the pack tables have patients in (all six when unknown).

    Examples:
        >>> localities_covered("/no/such/tables")
        ['Central', 'East', 'North', 'South', 'West', 'Solihull']
    """
    path = Path(tables_dir) / "areas.parquet"
    if not path.is_file():
        return list(LOCALITIES)
    areas = pd.read_parquet(path, columns=["area_type", "area"])
    found = set(areas.loc[areas["area_type"] == "locality", "area"].astype(str))
    return [name for name in LOCALITIES if name in found]


def label_synthetic_practices(practices: pd.DataFrame) -> pd.DataFrame:
    """Replace practice names by a "synthetic" label: invented figures name no practice.

    Examples:
        >>> p = pd.DataFrame({"practice_code": ["M85001"], "practice_name": ["Real Surgery"]})
        >>> label_synthetic_practices(p)["practice_name"].tolist()
        ['Synthetic practice']
    """
    return practices.assign(practice_name="Synthetic practice")


__all__ = [
    "PackData",
    "PackDataError",
    "label_synthetic_practices",
    "load_pack",
    "localities_covered",
]
