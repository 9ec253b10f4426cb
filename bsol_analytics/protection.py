"""Disclosure control, applied once per run to everything the run publishes.

A run first computes every table without suppression (the indicator frame with all its
areas, breakdowns and dates; the population, demography and ward tables), then passes them
together, with the run's :func:`areas` frame, to :func:`protect_run`, the single place where
suppression happens. The policy and the rules are in :mod:`bsol_analytics.sdc`.

Examples:
    >>> linked_ids(["HYP_PREV", "HYP_PREV_DSR", "DM_PREV_RVE"])
    {'HYP_PREV_DSR': 'HYP_PREV', 'DM_PREV_RVE': 'DM_PREV'}
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics import sdc
from bsol_analytics.errors import BsolError, ParameterError
from bsol_analytics.sdc.audit import AuditResult, audit_folder, audit_run, read_folder
from bsol_analytics.sdc.core import CROSS_SEP
from bsol_analytics.sdc.protect import protect_and_audit
from bsol_analytics.vocabulary import (
    ALL,
    DSR_SUFFIX,
    RVE_SUFFIX,
    area_column,
    missing_area,
)

log = logging.getLogger(__name__)

#: Columns of the run's areas frame: each area with one of its parents.
AREA_COLUMNS: tuple[str, ...] = ("area_type", "area", "parent_type", "parent")

#: Published count tables -> the lines of cells whose totals are published (key lists).
COUNT_LINES: dict[str, list[list[str]]] = {
    "population": [["area"], ["area", "sex"], ["sex", "age_band"]],
    "demography": [["area", "breakdown"], ["breakdown", "group"]],
}


def linked_ids(indicator_ids: Iterable[str]) -> dict[str, str]:
    """Derived indicator id -> the base id whose counts it shares (``_DSR``, ``_RVE``)."""
    return {
        str(i): str(i)[: -len(suffix)]
        for i in dict.fromkeys(indicator_ids)
        for suffix in (DSR_SUFFIX, RVE_SUFFIX)
        if str(i).endswith(suffix)
    }


def area_parents(cube: pd.DataFrame, area_types: Sequence[str], view: str) -> pd.DataFrame:
    """The area hierarchy used for disclosure control (which areas add up to which).

    Every area is a child of BSOL; practices are children of their PCN and, in the practice
    view, of their locality; PCNs are children of their locality when each PCN lies in one.

    Examples:
        >>> cube = pd.DataFrame({"practice_code": ["P1", "P2"], "pcn_code": ["N1", "N1"],
        ...                      "practice_locality": ["East", "East"]})
        >>> area_parents(cube, ["BSOL", "pcn", "practice"], "practice")
          area_type area parent_type parent
        0       pcn   N1        BSOL   BSOL
        1  practice   P1        BSOL   BSOL
        2  practice   P2        BSOL   BSOL
        3  practice   P1         pcn     N1
        4  practice   P2         pcn     N1
    """
    parts = []
    for area_type in area_types:
        col = area_column(area_type, view)
        if col is None or col not in cube.columns:
            continue
        raw = cube[col].drop_duplicates().astype(object)
        fill = missing_area(area_type, view)
        areas = raw.where(raw.notna(), fill).astype("str")
        parts.append(
            pd.DataFrame(
                {
                    "area_type": area_type,
                    "area": areas.to_numpy(),
                    "parent_type": "BSOL",
                    "parent": "BSOL",
                }
            )
        )
    links = []
    if "practice" in area_types:
        if "pcn" in area_types:
            links.append(("practice", "practice_code", "pcn", "pcn_code"))
        if "locality" in area_types and view == "practice":
            links.append(("practice", "practice_code", "locality", "practice_locality"))
    if "pcn" in area_types and "locality" in area_types and view == "practice":
        links.append(("pcn", "pcn_code", "locality", "practice_locality"))
    for child, ccol, parent, pcol in links:
        if ccol not in cube.columns or pcol not in cube.columns:
            continue
        pairs = cube[[ccol, pcol]].drop_duplicates().dropna()
        if pairs[ccol].duplicated().any():
            continue  # not nested: no line
        parts.append(
            pd.DataFrame(
                {
                    "area_type": child,
                    "area": pairs[ccol].astype("str").to_numpy(),
                    "parent_type": parent,
                    "parent": pairs[pcol].astype("str").to_numpy(),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["area_type", "area", "parent_type", "parent"], dtype="str")
    return pd.concat(parts, ignore_index=True)


def ward_parents(patients: pd.DataFrame) -> pd.DataFrame:
    """Ward -> locality rows (resident view) of the areas frame, for wards in one locality.

    Examples:
        >>> p = pd.DataFrame({"ward_code": ["W1", "W1", "W2", None],
        ...     "resident_locality": ["East", "East", "West", "East"]})
        >>> ward_parents(p)
          area_type area parent_type parent
        0      ward   W1    locality   East
        1      ward   W2    locality   West
    """
    pairs = patients[["ward_code", "resident_locality"]].dropna().drop_duplicates()
    pairs = pairs[~pairs["ward_code"].duplicated(keep=False)].sort_values("ward_code")
    return pd.DataFrame(
        {
            "area_type": "ward",
            "area": pairs["ward_code"].astype("str").to_numpy(),
            "parent_type": "locality",
            "parent": pairs["resident_locality"].astype("str").to_numpy(),
        }
    )


def areas(cube: pd.DataFrame, area_types: Sequence[str], view: str,
          patients: pd.DataFrame | None = None) -> pd.DataFrame:  # fmt: skip
    """The run's areas frame: practice -> PCN -> locality -> BSOL, and ward -> locality.

    Args:
        cube: the run's cube (its area keys).
        area_types: the area types the run publishes.
        view: ``"practice"`` or ``"resident"``.
        patients: the processed patients, for the ward rows (none without it).

    Returns:
        A new frame with :data:`AREA_COLUMNS`.
    """
    parts = [area_parents(cube, area_types, view)]
    if patients is not None and {"ward_code", "resident_locality"} <= set(patients.columns):
        parts.append(ward_parents(patients))
    return pd.concat(parts, ignore_index=True).astype("str")


def suppress_small_counts(
    frame: pd.DataFrame,
    count: str = "count",
    lines: Sequence[Sequence[str]] = (),
    policy: sdc.SDCPolicy = sdc.DEFAULT_POLICY,
) -> pd.DataFrame:
    """Disclosure control of counts: primary suppression, then complementary suppression.

    Counts in the policy's small range are suppressed; then, for every line of cells whose
    total is published (the rows sharing the values of each key list in ``lines``), a
    second cell is suppressed wherever one alone would be recoverable by subtraction
    (``bsol_analytics.sdc.secondary_suppression``). Zero is shown (it discloses nothing
    about a person). Returns a new frame with ``suppressed``, ``suppression_reason``, and
    the suppressed counts missing.

    Examples:
        >>> f = pd.DataFrame({"area": ["A"] * 3, "count": [0, 4, 25]})
        >>> suppress_small_counts(f)["suppressed"].tolist()
        [False, True, False]
        >>> f = pd.DataFrame({"area": ["A"] * 3, "count": [4, 30, 25]})
        >>> suppress_small_counts(f, lines=[["area"]])["suppressed"].tolist()
        [True, False, True]
    """
    counts = pd.to_numeric(frame[count], errors="coerce").to_numpy(dtype="float64")
    primary = policy.disclosive(counts)
    memberships = [
        pd.DataFrame(
            {
                "line": f"{k}:" + frame.groupby(list(keys), sort=False).ngroup().astype(str),
                "cell": np.arange(len(frame)),
            }
        )
        for k, keys in enumerate(lines)
    ]
    sup = primary
    if memberships:
        sup = sdc.secondary_suppression(
            primary,
            pd.concat(memberships, ignore_index=True),
            size=counts,
            numerator=counts,
            policy=policy,
        )
    reason = np.where(primary, policy.primary_reason, np.where(sup, sdc.REASON_SECONDARY, ""))
    return frame.assign(
        **{
            count: frame[count].astype("Float64").mask(sup),
            "suppressed": sup,
            "suppression_reason": pd.Series(reason, index=frame.index).replace("", None),
        }
    )


#: Indicator id of the registered-population counts (population and demography tables);
#: :mod:`bsol_analytics.indicators.links` ties its count to ``HYP_PREV``'s denominator.
POPULATION_ID = "POPULATION"
#: Breakdown of a population table cell (sex by age band; sex not known is ``U | All ages``).
POPULATION_BREAKDOWN = "sex*age_band"
#: Breakdown name of the demography table's Core20 split (Rest includes unknown IMD).
POPULATION_CORE20 = "core20_registered"
_SEX_GROUPS = {"F": "Female", "M": "Male", "U": "Unknown"}
#: Name of the run's population margins (area totals and sex totals): counts the run
#: publishes elsewhere (the list-size denominators), protected with the rest, never written.
MARGINS = "_population_margins"
#: Key of a published frame's ``attrs`` holding its disclosure audit and areas
#: (``{"audit": AuditResult.summary(), "areas": [...]}``), for the run's manifest.
SDC_ATTR = "sdc"
#: Table names protected as tidy indicator frames.
TIDY_TABLES: tuple[str, ...] = ("indicators", "wards", "blank_places")


class DisclosureAuditError(BsolError):
    """The disclosure audit failed: a hidden small count could be worked out (exit code 5).

    The message names the failing cells by table and key, never by value.

    Examples:
        >>> DisclosureAuditError("Disclosure audit failed: 1 hidden count.").exit_code
        5
    """

    exit_code = 5


class ProtectedRun(dict):
    """The protected tables of one run (name -> frame), with the run's disclosure audit.

    A plain ``dict`` for every caller that only wants the tables; :attr:`audit` is the
    :class:`~bsol_analytics.sdc.audit.AuditResult` of the linked pass (``None`` when nothing
    was protected), :meth:`raise_if_failed` stops a run that must not publish.

    Examples:
        >>> run = ProtectedRun({"t": pd.DataFrame()})
        >>> list(run), run.audit is None, run.summary()
        (['t'], True, {'linked': False})
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame], audit: Any = None) -> None:
        super().__init__(tables)
        self.audit = audit

    def summary(self) -> dict[str, Any]:
        """The audit for a manifest (:meth:`AuditResult.summary` and the policy text)."""
        if self.audit is None:
            return {"linked": False}  # each table protected on its own: no audit
        return {"linked": True, **self.audit.summary()}

    def raise_if_failed(self) -> None:
        """Raise :class:`DisclosureAuditError` if the audit failed (nothing may be published)."""
        if self.audit is not None and not self.audit.passed:
            raise DisclosureAuditError(
                self.audit.describe(limit=10)
                + "\nNothing was published. Disclosure control could not show these hidden "
                "counts safe within its rounds. Ask for fewer breakdowns of the smallest "
                "areas (practice or PCN), or for a larger extract, and run again."
            )


def population_cells(
    population: pd.DataFrame, demography: pd.DataFrame | None, view: str, date: Any
) -> dict[str, pd.DataFrame]:
    """The population and demography tables as tidy cells, with their margins.

    Population rows become cells of :data:`POPULATION_ID` by ``sex*age_band`` (sex not
    known is ``Unknown | All ages``); demography rows are one-way breakdowns of the same
    count. :data:`MARGINS` holds each area's total and sex totals: they are not published
    as such (protection treats them as hidden) but equal the registered-list denominators
    the indicator table publishes (a link of :mod:`bsol_analytics.indicators.links`), so
    the groups, crosses and nesting of the counts are related to what is published.

    Examples:
        >>> pop = pd.DataFrame({"area_type": "BSOL", "area": "BSOL", "sex": ["F", "M", "U"],
        ...     "age_band": ["0-4", "0-4", "All ages"], "count": [10, 12, 3]})
        >>> out = population_cells(pop, None, "practice", "2025-03-31")
        >>> out["population"]["group"].tolist()
        ['Female | 0-4', 'Male | 0-4', 'Unknown | All ages']
        >>> out[MARGINS][["breakdown", "group", "numerator"]].values.tolist()
        [['overall', 'All', 25], ['sex', 'Female', 10], ['sex', 'Male', 12], ['sex', 'Unknown', 3]]
    """
    key = {"indicator_id": POPULATION_ID, "reporting_date": date, "view": view}
    sex = population["sex"].astype("str").map(_SEX_GROUPS).fillna("Unknown")
    pop = pd.DataFrame(
        {
            **key,
            "area_type": population["area_type"].to_numpy(),
            "area": population["area"].to_numpy(),
            "breakdown": POPULATION_BREAKDOWN,
            "group": (sex + CROSS_SEP + population["age_band"].astype("str")).to_numpy(),
            "numerator": population["count"].to_numpy(),
        }
    )
    count = pd.to_numeric(population["count"], errors="coerce")
    areas_ = ["area_type", "area"]
    total = count.groupby([population[c] for c in areas_], sort=False).sum().reset_index()
    by_sex = count.groupby([population[c] for c in areas_] + [sex.rename("group")], sort=False)
    by_sex = by_sex.sum().reset_index()
    margins = pd.concat(
        [
            total.assign(breakdown="overall", group=ALL),
            by_sex.assign(breakdown="sex"),
        ],
        ignore_index=True,
    ).rename(columns={"count": "numerator"})
    margins = margins.assign(**key)
    out = {"population": pop, MARGINS: margins[[*sdc.CELL_KEYS, "numerator"]]}
    if demography is not None:
        # the population's Core20 "Rest" also holds the unknown quintile: not the indicator
        # breakdown (whose quintiles 2-5 make up Rest), so it is named apart
        breakdown = demography["breakdown"].replace({"core20": POPULATION_CORE20})
        out["demography"] = demography[["area_type", "area", "group"]].assign(
            **key, breakdown=breakdown.to_numpy(), numerator=demography["count"].to_numpy()
        )[[*sdc.CELL_KEYS, "numerator"]]
    return out


def _run_key(tables: Mapping[str, pd.DataFrame]) -> tuple[str, Any]:
    """The view and reporting date of the population counts: the indicator table's."""
    ind = tables.get("indicators")
    if ind is None or ind.empty:
        return "practice", "population"
    return str(ind["view"].iloc[0]), ind["reporting_date"].max()


def _with_flags(frame: pd.DataFrame) -> pd.DataFrame:
    """An empty or unprotected frame with the suppression columns (nothing suppressed)."""
    return frame.assign(
        suppressed=False, suppression_reason=pd.Series(None, index=frame.index, dtype="object")
    )


def rule_text(policy: sdc.SDCPolicy = sdc.DEFAULT_POLICY, linked: bool = True) -> str:
    """The disclosure-control rule a run applies, in plain English.

    The policy's own words when the linked pass (with its audit) is on; otherwise the same
    rule, saying that secondary suppression works within each table.

    Examples:
        >>> "audit" in rule_text(linked=False), "audit" in rule_text(linked=True)
        (False, True)
    """
    text = policy.description
    if linked:
        return text
    return (
        text.replace(policy.withhold_text, "")
        .replace(
            "from the other published figures (checked by a linear-programming audit)",
            "from the other figures of the same table (its groups and totals, and areas "
            "within their parent area)",
        )
        .replace(" (checked by a linear-programming audit)", "")
    )


def _per_table(
    tables: Mapping[str, pd.DataFrame], run_areas: pd.DataFrame | None, policy: sdc.SDCPolicy
) -> ProtectedRun:
    """Each table protected on its own (primary suppression and its lines; no audit)."""
    out = dict(tables)
    areas_ = pd.DataFrame(columns=list(AREA_COLUMNS)) if run_areas is None else run_areas
    for name in TIDY_TABLES:
        if name in out:
            frame = out[name]
            present = set(frame["area_type"].astype("str"))
            keep = areas_["area_type"].isin(present) & areas_["parent_type"].isin(present)
            parents = areas_[keep].reset_index(drop=True) if name == "indicators" else None
            linked = linked_ids(frame["indicator_id"].astype("str").unique())
            out[name] = sdc.apply_sdc(frame, policy, parents=parents, linked=linked)
    for name, lines in COUNT_LINES.items():
        if name in out:
            out[name] = suppress_small_counts(out[name], lines=lines, policy=policy)
    return ProtectedRun(out)


def protect_run(
    tables: Mapping[str, pd.DataFrame],
    run_areas: pd.DataFrame | None = None,
    policy: sdc.SDCPolicy = sdc.DEFAULT_POLICY,
    *,
    linked: bool = True,
) -> ProtectedRun:
    """Apply disclosure control, once, to everything a run publishes, and audit it.

    Every table is part of one linked system
    (:func:`bsol_analytics.sdc.protect.protect_and_audit`): the tidy ``indicators`` and
    ``wards`` frames, and the ``population`` and ``demography`` counts as cells of
    :data:`POPULATION_ID` (:func:`population_cells`), whose area totals are the list-size
    denominators of the prevalence indicators. Primary suppression, the line rule and
    audit-driven extra hiding run over all of it; the final audit is
    :attr:`ProtectedRun.audit`.

    Args:
        tables: name -> unsuppressed table: ``indicators`` and ``wards`` (tidy indicator
            frames), ``population`` and ``demography`` (counts, see
            :func:`bsol_analytics.packs.tables.population_counts`).
        run_areas: the run's :func:`areas` frame.
        policy: the disclosure-control policy.
        linked: the linked pass with its audit (``True``, what every command publishes), or
            each table on its own with no audit (``False``: not safe against differencing;
            kept for comparison).

    Returns:
        A :class:`ProtectedRun`: name -> a new, protected table (tables of other names pass
        through unchanged), with the audit (``None`` without the linked pass).

    Examples:
        >>> ind = pd.DataFrame({"indicator_id": "X", "reporting_date": "2025-03-31",
        ...     "view": "practice", "area_type": "BSOL", "area": "BSOL",
        ...     "breakdown": "overall", "group": "All", "value": [30.0],
        ...     "numerator": [3], "denominator": [10]})
        >>> out = protect_run({"indicators": ind}, pd.DataFrame(columns=AREA_COLUMNS),
        ...                   linked=True)
        >>> out["indicators"]["suppressed"].tolist(), out.audit.passed
        ([True], True)
    """
    if not linked:
        return _per_table(tables, run_areas, policy)
    out = dict(tables)
    linked = {n: f for n, f in tables.items() if n in TIDY_TABLES and not f.empty}
    for n in TIDY_TABLES:
        if n in tables and tables[n].empty:
            out[n] = _with_flags(tables[n])
    if "population" in tables:
        view, date = _run_key(tables)
        linked.update(population_cells(tables["population"], tables.get("demography"), view, date))
    if not linked:
        return ProtectedRun(out)
    t0 = time.perf_counter()
    protected, audit = protect_and_audit(linked, run_areas, policy, unpublished=(MARGINS,))
    log.info("Disclosure control: %s", audit.summary())
    log.debug("Disclosure control took %.1f s", time.perf_counter() - t0)
    for name in linked:
        if name == MARGINS:
            continue
        if name in ("population", "demography"):
            p = protected[name]
            out[name] = tables[name].assign(
                count=pd.Series(p["numerator"].to_numpy(), index=tables[name].index).astype(
                    "Float64"
                ),
                suppressed=p["suppressed"].to_numpy(bool),
                suppression_reason=pd.Series(
                    p["suppression_reason"].to_numpy(), index=tables[name].index, dtype="object"
                ),
            )
        else:
            out[name] = protected[name]
    return ProtectedRun(out, audit)


def manifest_path(out: str | Path) -> Path:
    """The disclosure manifest written beside a ``bsol indicators`` output file.

    Examples:
        >>> manifest_path("results/table.csv").as_posix()
        'results/table.csv.sdc.json'
    """
    out = Path(out)
    return out.with_name(out.name + ".sdc.json")


def audit_manifest(
    frame: pd.DataFrame, policy: sdc.SDCPolicy = sdc.DEFAULT_POLICY, enabled: bool = True
) -> dict[str, Any]:
    """The disclosure manifest of a published table: policy, audit result and areas.

    ``audit`` is :meth:`AuditResult.summary` (passed, cells checked, components, seconds,
    policy); ``areas`` is the run's areas frame as records, so that ``bsol audit`` can
    check the table again later.

    Examples:
        >>> m = audit_manifest(pd.DataFrame(), enabled=False)
        >>> m["disclosure_control"], m["audit"]
        (False, None)
    """
    info = frame.attrs.get(SDC_ATTR, {}) if enabled else {}
    linked = (info.get("audit") or {}).get("linked")
    return {
        "disclosure_control": bool(enabled),
        "policy": dataclasses.asdict(policy) if enabled else None,
        "policy_description": rule_text(policy, linked is not False) if enabled else None,
        "audit": info.get("audit") if enabled else None,
        "areas": info.get("areas", []),
    }


def _count_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Pack wards, population and demography tables as tidy cells, for the audit."""
    view, date = _run_key(tables)
    wards = tables.get("wards")
    if wards is not None and "ward_code" in wards.columns and "area" not in wards.columns:
        tables["wards"] = wards.assign(  # the published ward columns (maps)
            reporting_date=date,
            view="resident",
            area_type="ward",
            area=wards["ward_code"],
            breakdown="overall",
            group=ALL,
        )
    if "population" not in tables:
        return tables
    pop = tables.pop("population")
    demo = tables.pop("demography", None)
    cells = population_cells(pop, demo, view, date)
    for name, frame in (("population", pop), ("demography", demo)):
        if frame is not None:
            cells[name] = cells[name].assign(
                suppressed=frame["suppressed"].to_numpy(bool),
                suppression_reason=frame["suppression_reason"].to_numpy(),
            )
    margins = cells[MARGINS]  # not published: hidden, related through the links
    cells[MARGINS] = margins.assign(suppressed=True, suppression_reason=None)
    return {**tables, **cells}


def audit_published(path: str | Path) -> AuditResult:
    """Audit what a run published: a folder of tables, or one ``bsol indicators`` output.

    * a file (``.csv``/``.parquet``): the table, with the areas and policy of its
      :func:`manifest_path` manifest;
    * a pack tables folder (``indicators.parquet``, ``wards.parquet``,
      ``blank_places.parquet``, ``population.parquet``, ``demography.parquet``,
      ``areas.parquet``): the whole pack run, population counts included;
    * any other folder: :func:`bsol_analytics.sdc.audit.audit_folder`'s format.

    Raises:
        ParameterError: the path is neither such a file nor such a folder.
    """
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in (".csv", ".parquet"):
            raise ParameterError(f"{path} is not a .csv or .parquet table.")
        frame = (
            pd.read_parquet(path)
            if path.suffix.lower() == ".parquet"
            else pd.read_csv(path, dtype={"area": "str"})
        )
        meta_file = manifest_path(path)
        meta = json.loads(meta_file.read_text()) if meta_file.exists() else {}
        run_areas = pd.DataFrame(meta.get("areas") or [], columns=list(AREA_COLUMNS))
        fields = {f.name for f in dataclasses.fields(sdc.SDCPolicy)}
        policy = sdc.SDCPolicy(
            **{k: v for k, v in (meta.get("policy") or {}).items() if k in fields}
        )
        return audit_run({path.stem: frame}, run_areas.astype("str"), policy)
    if (path / "population.parquet").exists() and (path / "indicators.parquet").exists():
        tables = {
            name: pd.read_parquet(path / f"{name}.parquet")
            for name in (*TIDY_TABLES, "population", "demography")
            if (path / f"{name}.parquet").exists()
        }
        run_areas = (
            pd.read_parquet(path / "areas.parquet") if (path / "areas.parquet").exists() else None
        )
        policy = read_folder(path)[2]
        return audit_run(_count_tables(tables), run_areas, policy)
    return audit_folder(path)


__all__ = [
    "AREA_COLUMNS",
    "COUNT_LINES",
    "MARGINS",
    "POPULATION_ID",
    "SDC_ATTR",
    "DisclosureAuditError",
    "ProtectedRun",
    "area_parents",
    "areas",
    "audit_manifest",
    "audit_published",
    "linked_ids",
    "manifest_path",
    "population_cells",
    "protect_run",
    "rule_text",
    "suppress_small_counts",
    "ward_parents",
]
