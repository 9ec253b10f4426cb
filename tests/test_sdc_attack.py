"""Attack tests: what ``bsol packs`` and ``bsol indicators`` publish, attacked as an outsider.

Synthetic extracts of 2,000, 20,000 and 100,000 patients go through the real pipeline: the
pack tables step (:func:`bsol_analytics.packs.tables.compute_tables`, everything the packs
publish) and ``bsol indicators`` over several ``--by`` sets. The written output is then read
back as an outsider has it, turned into tidy cells (:func:`published_pack` and
:func:`published_indicators`), and attacked twice:

* by the peeling solver (:func:`bsol_analytics.sdc.audit.peel`: every relation with one
  unknown, repeated), and
* by the linear-programming audit (:func:`bsol_analytics.sdc.audit.audit_run`).

The attacker knows the public geography (practice in PCN in locality, ward in locality) and
the relations of :mod:`bsol_analytics.sdc.relations`. The population tables are read as
counts of one indicator, ``POPULATION``, with unpublished totals as unknowns, so that they
join the registered-list links. Each claim is checked against the unsuppressed run of the
same pipeline before it counts: a recovered count is a disclosure only if it is right and
lies in 1-7; an audit failure is a disclosure only if the true count lies in 1-7.

Every pipeline case is ``slow`` (minutes each, even at 2,000 patients); the default suite runs
the attacker's own table-driven cases and the hypothesis property on random hierarchical
tables.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bsol_analytics.cli import main
from bsol_analytics.packs import tables as pack_tables
from bsol_analytics.sdc import CELL_KEYS, DEFAULT_POLICY
from bsol_analytics.sdc.audit import audit_system, peel
from bsol_analytics.sdc.protect import protect_and_audit
from bsol_analytics.sdc.relations import LinkedSystem, build_system, violated
from bsol_analytics.vocabulary import missing_area

REPORTING_DATE = "2025-03-31"
#: The ``--by`` of issue 9's report.
ISSUE_BY = "locality,pcn,practice,imd_quintile,imd_decile,core20,ethnicity_broad,sex"
#: Population sex codes -> the sex groups of the indicator tables.
SEX_GROUPS = {"F": "Female", "M": "Male", "U": "Unknown"}
#: Reason given to the unpublished totals an attacker adds as unknowns.
UNKNOWN_TOTAL = "attacker: unpublished total"
_COUNT_COLUMNS = ["numerator", "denominator", "suppressed", "suppression_reason"]


# -- turning published output into tidy cells --------------------------------------------


def _tidy(frame: pd.DataFrame, **keys: str) -> pd.DataFrame:
    """``CELL_KEYS`` (dates as ``YYYY-MM-DD``), counts and suppression flags, as strings."""
    out = frame.assign(**keys)
    out = out.assign(reporting_date=pd.to_datetime(out["reporting_date"]).dt.strftime("%Y-%m-%d"))
    for col in ("denominator", "suppressed", "suppression_reason"):
        if col not in out.columns:
            out[col] = {"denominator": np.nan, "suppressed": False}.get(col, None)
    out = out[[*CELL_KEYS, *_COUNT_COLUMNS]].copy()
    out[list(CELL_KEYS)] = out[list(CELL_KEYS)].astype("str")
    out["numerator"] = pd.to_numeric(out["numerator"], errors="coerce").astype(float)
    out["denominator"] = pd.to_numeric(out["denominator"], errors="coerce").astype(float)
    out["suppressed"] = out["suppressed"].fillna(False).astype(bool)
    return out.reset_index(drop=True)


def population_cells(population: pd.DataFrame, demography: pd.DataFrame, view: str) -> pd.DataFrame:
    """The population and demography tables as cells of one indicator, ``POPULATION``.

    Population rows become the cross ``sex*age_band``; demography rows keep their breakdown.
    Each area also gets unpublished ``overall`` and ``sex`` cells (the margins), so that the
    registered-list links (``HYP_PREV`` denominator = ``POPULATION``) and the cross relations
    reach the published counts.

    Examples:
        >>> pop = pd.DataFrame({"area_type": "BSOL", "area": "BSOL", "sex": ["F", "U"],
        ...     "age_band": ["0-4", "All ages"], "count": [20.0, None],
        ...     "suppressed": [False, True]})
        >>> demo = pop.iloc[:0].assign(breakdown="", group="")
        >>> population_cells(pop, demo, "practice")[["breakdown", "group"]].values.tolist()
        [['sex*age_band', 'Female | 0-4'], ['sex*age_band', 'Unknown | All ages'], \
['overall', 'All'], ['sex', 'Female'], ['sex', 'Male'], ['sex', 'Unknown']]
    """
    known = "suppressed" in population.columns
    pop = population.assign(
        breakdown="sex*age_band",
        group=population["sex"].map(SEX_GROUPS) + " | " + population["age_band"],
    )
    parts = [pop, demography]
    areas = population[["area_type", "area"]].drop_duplicates()
    sexes = population.assign(group=population["sex"].map(SEX_GROUPS))
    sex_total = sexes.groupby(["area_type", "area", "group"], as_index=False)["count"].sum()
    sex_total = (
        areas.merge(pd.DataFrame({"group": list(SEX_GROUPS.values())}), how="cross")
        .merge(sex_total, how="left")
        .assign(breakdown="sex")
    )
    total = population.groupby(["area_type", "area"], as_index=False)["count"].sum()
    total = total.assign(breakdown="overall", group="All")
    for extra in (total, sex_total):
        extra = extra[["area_type", "area", "breakdown", "group", "count"]]
        if known:  # published tables: the totals are unknowns to the attacker
            extra = extra.assign(count=np.nan, suppressed=True, suppression_reason=UNKNOWN_TOTAL)
        parts.append(extra)
    cells = pd.concat(parts, ignore_index=True).rename(columns={"count": "numerator"})
    return _tidy(
        cells, indicator_id="POPULATION", reporting_date=REPORTING_DATE, view=view
    ).drop_duplicates(list(CELL_KEYS), ignore_index=True)


def geography(processed: Path) -> pd.DataFrame:
    """The public area hierarchy: practice in PCN in locality in BSOL; ward in locality.

    Patients with no locality are in the locality the indicators give them
    (:func:`~bsol_analytics.vocabulary.missing_area`), which is in BSOL.

    Only nestings that hold for every patient are listed (a PCN across two localities is
    only in BSOL). Localities have the ``view`` they belong to, wards ``resident``;
    practices and PCNs nest in both views.
    """
    pats = pd.read_parquet(processed / "patients.parquet")
    rows = []

    def nest(child_type: str, child: str, parent_type: str, parent: str, view: str | None) -> None:
        pairs = pats[[child, parent]].dropna().drop_duplicates().astype("str")
        pairs = pairs[~pairs[child].duplicated(keep=False)]
        rows.append(
            pd.DataFrame(
                {
                    "area_type": child_type,
                    "area": pairs[child].to_numpy(),
                    "parent_type": parent_type,
                    "parent": pairs[parent].to_numpy(),
                    "view": view,
                }
            )
        )

    nest("practice", "practice_code", "pcn", "pcn_code", None)  # in both views
    nest("pcn", "pcn_code", "locality", "practice_locality", "practice")
    nest("practice", "practice_code", "locality", "practice_locality", "practice")
    nest("ward", "ward_code", "locality", "resident_locality", "resident")
    for area_type, col in (
        ("practice", "practice_code"),
        ("pcn", "pcn_code"),
        ("locality", "practice_locality"),
        ("locality", "resident_locality"),
        ("ward", "ward_code"),
    ):
        names = pats[col].dropna().astype("str").unique()
        view = {"practice_locality": "practice", "ward_code": "resident"}.get(col)
        view = "resident" if col == "resident_locality" else view
        if area_type == "locality" and pats[col].isna().any():  # the area of no locality
            names = [*names, missing_area("locality", str(view))]
        rows.append(
            pd.DataFrame(
                {
                    "area_type": area_type,
                    "area": names,
                    "parent_type": "BSOL",
                    "parent": "BSOL",
                    "view": view,
                }
            )
        )
    return pd.concat(rows, ignore_index=True).drop_duplicates(ignore_index=True)


def pack_cells(tables: dict[str, pd.DataFrame], view: str = "practice") -> dict[str, pd.DataFrame]:
    """Pack tables (published or unprotected) -> tidy cell tables for the attack."""
    demo = tables["demography"]
    return {
        "indicators": _tidy(tables["indicators"]),
        "wards": _tidy(
            tables["wards"],
            reporting_date=REPORTING_DATE,
            view="resident",
            area_type="ward",
            area=tables["wards"]["ward_code"].astype("str"),
            breakdown="overall",
            group="All",
        ),
        "population": population_cells(tables["population"], demo, view),
        "blank_places": _tidy(tables["blank_places"]),
    }


def published_pack(folder: Path, view: str = "practice") -> dict[str, pd.DataFrame]:
    """What the pack tables step wrote in ``view``, as tidy cell tables."""
    read = {
        n: pd.read_parquet(folder / f"{n}.parquet")
        for n in ("indicators", "wards", "population", "demography", "blank_places")
    }
    return pack_cells(read, view)


# -- the attack ----------------------------------------------------------------------------


@dataclass
class Attack:
    """What one attack found, every claim checked against the unsuppressed counts."""

    hidden: int = 0
    primary: int = 0
    peeled: int = 0
    peeled_small: pd.DataFrame = field(default_factory=pd.DataFrame)
    audit_passed: bool = True
    audit_seconds: float = 0.0
    narrowed_small: pd.DataFrame = field(default_factory=pd.DataFrame)
    unproven: int = 0
    false_alarms: int = 0
    dropped_relations: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """Counts and the first few keys (never values)."""

        def keys(f: pd.DataFrame) -> str:
            cols = ["table", *CELL_KEYS, "quantity"]
            return f[[c for c in cols if c in f]].head(8).to_string(index=False) if len(f) else ""

        def by_kind(f: pd.DataFrame) -> dict:
            cols = ["table", "area_type", "breakdown", "quantity"]
            return f.groupby(cols).size().to_dict() if len(f) else {}

        return (
            f"hidden cells {self.hidden:,} (primary {self.primary:,}); peeled {self.peeled:,}, "
            f"of which right and 1-7: {len(self.peeled_small):,} {by_kind(self.peeled_small)}\n"
            f"{keys(self.peeled_small)}\n"
            f"LP audit passed={self.audit_passed} in {self.audit_seconds:.1f} s; right and "
            f"narrowed into 1-7: {len(self.narrowed_small):,} {by_kind(self.narrowed_small)}\n"
            f"{keys(self.narrowed_small)}\nnot shown to be safe: {self.unproven:,}; failures "
            f"whose true count is not small: {self.false_alarms:,}; relations untrue in the "
            f"unsuppressed run (left out): {self.dropped_relations}"
        )


def _truth_values(system: LinkedSystem, truth: LinkedSystem) -> pd.DataFrame:
    """Per cell of ``system``: the true numerator and denominator (by cell key)."""
    t = truth.cells[[*CELL_KEYS, "numerator", "denominator"]]
    out = system.cells[list(CELL_KEYS)].merge(t, on=list(CELL_KEYS), how="left")
    assert len(out) == len(system.cells)
    return out


def _true_quantity(values: pd.DataFrame, cell: np.ndarray, quantity: pd.Series) -> np.ndarray:
    num = values["numerator"].to_numpy(float)[cell]
    den = values["denominator"].to_numpy(float)[cell]
    return np.select(
        [quantity.eq("numerator").to_numpy(), quantity.eq("denominator").to_numpy()],
        [num, den],
        den - num,
    )


def attack(
    published: dict[str, pd.DataFrame],
    truth: dict[str, pd.DataFrame],
    areas: pd.DataFrame,
    lp: bool = True,
) -> Attack:
    """Peel and LP-audit ``published``; keep only claims that the ``truth`` confirms."""
    policy = DEFAULT_POLICY
    truth_system = build_system(truth, areas)
    bad = violated(truth_system, truth_system.values())
    dropped = truth_system.relations.loc[bad, "kind"].value_counts().to_dict()
    system = build_system(published, areas)
    # relations that do not hold in truth are useless to an attacker (and make LPs infeasible)
    sys_bad = violated(
        system,
        _truth_values(system, truth_system)[["numerator", "denominator"]].to_numpy(float).ravel(),
    )
    system = system.drop(sys_bad)
    values = _truth_values(system, truth_system)
    cells = system.cells
    reasons = pd.concat(
        [
            pd.Series(f["suppression_reason"].astype("str").to_numpy(), index=system.rows[n])
            for n, f in published.items()
        ]
    )
    reasons = reasons[~reasons.index.duplicated()].sort_index()
    helper = reasons.reindex(range(len(cells))).eq(UNKNOWN_TOTAL).to_numpy()
    hidden = ~cells["published"].to_numpy(bool) & ~helper
    out = Attack(hidden=int(hidden.sum()), dropped_relations=dropped)
    rec = peel(system)
    rec = rec[hidden[rec["cell"].to_numpy()]].reset_index(drop=True)
    out.peeled = len(rec)
    true = _true_quantity(values, rec["cell"].to_numpy(), rec["quantity"])
    right = np.abs(true - rec["value"].to_numpy(float)) < 1e-6
    small = right & policy.disclosive(true)
    keys = cells.iloc[rec["cell"].to_numpy()[small]][["table", *CELL_KEYS]].reset_index(drop=True)
    out.peeled_small = keys.assign(quantity=rec["quantity"].to_numpy()[small])
    primary = reasons.reindex(range(len(cells))).str.startswith("primary").fillna(False)
    primary = primary.to_numpy(bool) & hidden
    out.primary = int(primary.sum())
    if lp:
        # the unsuppressed counts are the first solution (any solution would do: ranges do
        # not depend on it; without one, a component of some 250,000 unknowns gets no
        # solution in time and its counts are only "inconsistent")
        seed = values[["numerator", "denominator"]].to_numpy(float).ravel()
        known = not np.isnan(seed).any()  # the unpublished totals may have no true count
        result = audit_system(system, primary, policy, seed=seed if known else None)
        out.audit_passed, out.audit_seconds = result.passed, result.seconds
        fails = result.failures
        if len(fails):
            f = fails.merge(values, on=list(CELL_KEYS), how="left")
            true = _true_quantity(f, np.arange(len(f)), f["quantity"].reset_index(drop=True))
            claim = f["problem"].isin(["pinned to one value", "narrowed to the small range"])
            is_small = policy.disclosive(true)
            out.narrowed_small = fails[claim.to_numpy() & is_small].reset_index(drop=True)
            out.unproven = int(f["problem"].eq("not shown to be safe").sum())
            out.false_alarms = int((claim.to_numpy() & ~is_small).sum())
    return out


# -- running the real pipeline ---------------------------------------------------------------


class Runs:
    """Prepared extracts and pipeline runs, made once per session in a removed tmp folder."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bsol-attack-"))
        self.cache: dict[tuple, object] = {}
        self.seconds: dict[tuple, float] = {}

    def prepared(self, patients: int) -> Path:
        """A prepared synthetic extract of ``patients`` patients."""
        key = ("prepared", patients)
        if key not in self.cache:
            raw, out = self.root / f"x{patients}", self.root / f"p{patients}"
            synth = ["-q", "synth", "--out", str(raw), "--patients", str(patients)]
            assert main([*synth, "--format", "parquet"]) == 0
            assert main(["-q", "prepare", str(raw), "--out", str(out)]) == 0
            shutil.rmtree(raw)
            self.cache[key] = out
            self.cache[("areas", patients)] = geography(out)
        return self.cache[key]  # type: ignore[return-value]

    def areas(self, patients: int) -> pd.DataFrame:
        """The public geography of the extract."""
        self.prepared(patients)
        return self.cache[("areas", patients)]  # type: ignore[return-value]

    def pack(self, patients: int, view: str = "practice") -> tuple[dict, dict]:
        """``(published, truth)`` cell tables of the pack tables step in ``view``."""
        key = ("pack", patients, view)
        if key not in self.cache:
            processed = self.prepared(patients)
            folder = self.root / f"pack{patients}-{view}" / "tables"
            captured: dict[str, dict] = {}
            real = pack_tables.protect_run

            def spy(tables, *args, **kwargs):  # type: ignore[no-untyped-def]
                captured["tables"] = {n: t.copy() for n, t in tables.items()}
                return real(tables, *args, **kwargs)

            t0 = time.perf_counter()
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr(pack_tables, "protect_run", spy)
                pack_tables.compute_tables(processed, folder, REPORTING_DATE, view=view)
            self.seconds[key] = time.perf_counter() - t0
            truth = captured["tables"]  # the step protects everything in one protect_run
            self.cache[key] = (published_pack(folder, view), pack_cells(truth, view))
        return self.cache[key]  # type: ignore[return-value]

    def indicators(self, patients: int, by: str, view: str) -> tuple[dict, dict]:
        """``(published, truth)`` of ``bsol indicators`` with and without ``--no-sdc``."""
        key = ("indicators", patients, by, view)
        if key not in self.cache:
            processed = self.prepared(patients)
            tables = []
            for sdc in (True, False):
                out = self.root / f"ind-{patients}-{abs(hash((by, view, sdc)))}.parquet"
                argv = [
                    "-q",
                    "indicators",
                    str(processed),
                    "--date",
                    REPORTING_DATE,
                    "--by",
                    by,
                    "--view",
                    view,
                    "--out",
                    str(out),
                ]
                t0 = time.perf_counter()
                assert main([*argv, *([] if sdc else ["--no-sdc"])]) == 0
                self.seconds[(*key, sdc)] = time.perf_counter() - t0
                tables.append({"indicators": _tidy(pd.read_parquet(out))})
                out.unlink()
                out.with_name(out.name + ".sdc.json").unlink(missing_ok=True)
            self.cache[key] = tuple(tables)
        return self.cache[key]  # type: ignore[return-value]

    def close(self) -> None:
        """Remove everything this session wrote."""
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def runs() -> Iterator[Runs]:
    """The session's :class:`Runs`; its folder is removed at the end."""
    r = Runs()
    yield r
    r.close()


#: Every size runs the real pipeline, which takes minutes even at 2,000 patients (the
#: pack tables step, and the LP audit of a practice-level table), so all are ``slow``.
SIZES = [
    pytest.param(2_000, id="2k"),
    pytest.param(20_000, id="20k"),
    pytest.param(100_000, id="100k"),
]

#: ``(id, --by, view)``: the issue's set, crosses, nested deprivation, age, both views.
BY_SETS = [
    ("issue", ISSUE_BY, "practice"),
    ("cross", "locality,imd_quintile,ethnicity_broad,imd_quintile*ethnicity_broad", "practice"),
    ("nested", "locality,imd_decile,imd_quintile,core20,sex,imd_decile*sex", "practice"),
    ("age", "locality,age_band,sex", "practice"),
    ("resident", "locality,imd_quintile,imd_decile,core20,ethnicity_broad,sex", "resident"),
    (
        "resident-cross",
        "locality,imd_quintile*ethnicity_broad,imd_quintile,ethnicity_broad",
        "resident",
    ),
]


def _by_params() -> list:
    return [
        pytest.param(size.values[0], by, view, id=f"{size.id}-{name}")
        for size in SIZES
        for name, by, view in BY_SETS
    ]


def _check(found: Attack) -> None:
    print(found.describe())  # shown with pytest -s: the figures of every attack
    assert found.peeled_small.empty and found.narrowed_small.empty, found.describe()


@pytest.mark.slow
@pytest.mark.parametrize("view", ["practice", "resident"])
@pytest.mark.parametrize("patients", SIZES)
def test_pack_tables_resist_peeling_and_the_audit(runs: Runs, patients: int, view: str) -> None:
    """Everything the pack tables step publishes: no hidden count of 1-7 comes back."""
    published, truth = runs.pack(patients, view)
    found = attack(published, truth, runs.areas(patients))
    _check(found)


@pytest.mark.slow
@pytest.mark.parametrize(("patients", "by", "view"), _by_params())
def test_bsol_indicators_resists_peeling_and_the_audit(
    runs: Runs, patients: int, by: str, view: str
) -> None:
    """``bsol indicators --by ...``: no hidden count of 1-7 comes back."""
    published, truth = runs.indicators(patients, by, view)
    found = attack(published, truth, runs.areas(patients))
    _check(found)


def test_ward_is_not_a_breakdown_of_bsol_indicators(tmp_path: Path, capsys) -> None:
    """Wards are published by the packs only (attacked above); the command refuses them."""
    argv = ["-q", "indicators", str(tmp_path), "--by", "ward", "--out", str(tmp_path / "w.csv")]
    assert main(argv) == 2
    assert "'ward' is not a breakdown" in capsys.readouterr().err


# -- the attacker itself --------------------------------------------------------------------

ATTACKER_CASES = [
    # (id, published numerators (None = hidden), truth numerators, small recoveries)
    ("total minus parts", [50, None, 47], [50, 3, 47], 1),
    ("two hidden", [50, None, None, 40], [50, 3, 7, 40], 0),
    ("hidden large", [50, None, 10], [50, 40, 10], 0),
]


@pytest.mark.parametrize(
    ("published", "truth", "expected"),
    [c[1:] for c in ATTACKER_CASES],
    ids=[c[0] for c in ATTACKER_CASES],
)
def test_attacker_counts_only_right_small_recoveries(
    published: list, truth: list, expected: int
) -> None:
    groups = ["All", *(f"G{k}" for k in range(1, len(truth)))]

    def table(nums: list) -> pd.DataFrame:
        return _tidy(
            pd.DataFrame(
                {
                    "indicator_id": "X",
                    "reporting_date": REPORTING_DATE,
                    "view": "practice",
                    "area_type": "BSOL",
                    "area": "BSOL",
                    "breakdown": ["overall", *["sex"] * (len(nums) - 1)],
                    "group": groups,
                    "numerator": [np.nan if v is None else v for v in nums],
                    "suppressed": [v is None for v in nums],
                    "suppression_reason": [
                        "primary: count 1-7" if v is None else None for v in nums
                    ],
                }
            )
        )

    found = attack({"t": table(published)}, {"t": table(truth)}, pd.DataFrame(), lp=True)
    assert len(found.peeled_small) == expected
    assert len(found.narrowed_small) >= expected


# -- property: random hierarchical tables, protected, then attacked ---------------------------

_DECILES = ["D1 (most deprived)", *(f"D{k}" for k in range(2, 10)), "D10 (least deprived)"]
_QUINTILES = ["Q1 (most deprived)", "Q2", "Q3", "Q4", "Q5 (least deprived)"]
_PRACTICES = {"P1": ("N1", "L1"), "P2": ("N1", "L1"), "P3": ("N2", "L1"), "P4": ("N3", "L2")}
_PROPERTY_AREAS = pd.DataFrame(
    [("practice", p, "pcn", n) for p, (n, _) in _PRACTICES.items()]
    + [("pcn", n, "locality", loc) for n, loc in {v[0]: v[1] for v in _PRACTICES.values()}.items()]
    + [("locality", loc, "BSOL", "BSOL") for loc in ("L1", "L2")],
    columns=["area_type", "area", "parent_type", "parent"],
)
#: indicator -> (denominator flag or None for everyone, numerator flag): HYP_PREV, COPD_PREV and
#: PC_REG share the registered list; the hypertension register is HYP_BP_TARGET's denominator.
_SPECS = {
    "HYP_PREV": (None, "hyp"),
    "COPD_PREV": (None, "copd"),
    "PC_REG": (None, "pc"),
    "HYP_BP_TARGET": ("hyp", "bp"),
}
_BREAKDOWNS = ["imd_decile", "imd_quintile", "core20", "sex", "imd_quintile*sex"]


def _people(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["practice", "decile", "sex", "hyp", "u", "copd", "pc"])
    labels = np.array([*_DECILES, "Unknown"], dtype=object)
    df["imd_decile"] = labels[df["decile"]]
    quint = np.array([*(q for q in _QUINTILES for _ in (0, 1)), "Unknown"], dtype=object)
    df["imd_quintile"] = quint[df["decile"]]
    df["core20"] = np.where(
        df["decile"] < 2, "Core20", np.where(df["decile"] < 10, "Rest", "Unknown")
    )
    df["bp"] = df["hyp"] & (df["u"] < 0.6)
    df["copd"] = df["copd"] & (df["u"] < 0.3)
    df["pc"] = df["pc"] & (df["u"] > 0.9)
    df["pcn"] = df["practice"].map(lambda p: _PRACTICES[p][0])
    df["locality"] = df["practice"].map(lambda p: _PRACTICES[p][1])
    return df.assign(BSOL="BSOL")


def _aggregate(pats: pd.DataFrame) -> pd.DataFrame:
    """Tidy counts of :data:`_SPECS` for every area level and :data:`_BREAKDOWNS`."""
    parts = []
    for ind, (den_flag, num_flag) in _SPECS.items():
        pop = pats if den_flag is None else pats[pats[den_flag]]
        for area_type, col in (
            ("BSOL", "BSOL"),
            ("locality", "locality"),
            ("pcn", "pcn"),
            ("practice", "practice"),
        ):
            for b in ["overall", *_BREAKDOWNS]:
                cols = b.split("*") if b != "overall" else []
                g = pop.groupby([col, *cols])[num_flag].agg(["sum", "size"]).reset_index()
                if g.empty:
                    continue
                group = g[cols].astype(str).agg(" | ".join, axis=1) if cols else "All"
                parts.append(
                    pd.DataFrame(
                        {
                            "indicator_id": ind,
                            "reporting_date": REPORTING_DATE,
                            "view": "practice",
                            "area_type": area_type,
                            "area": g[col].to_numpy(),
                            "breakdown": b,
                            "group": group,
                            "numerator": g["sum"].to_numpy(float),
                            "denominator": g["size"].to_numpy(float),
                        }
                    )
                )
    out = pd.concat([p for p in parts if len(p)], ignore_index=True)
    return out.assign(value=100 * out["numerator"] / out["denominator"])


_person = st.tuples(
    st.sampled_from(list(_PRACTICES)),
    st.integers(0, 10),  # decile index, 10 = Unknown
    st.sampled_from(["Female", "Male"]),
    st.booleans(),
    st.floats(0, 1),
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_person, min_size=30, max_size=200).map(_people))
def test_property_nested_breakdowns_shared_denominators_and_crosses(pats: pd.DataFrame) -> None:
    """Deciles in quintiles in Core20, a cross, four area levels and shared denominators:
    after protection the audit passes and neither attacker recovers a small count."""
    truth = _aggregate(pats)
    out, result = protect_and_audit({"t": truth}, _PROPERTY_AREAS)
    assert result.passed, result.describe()
    found = attack({"t": _tidy(out["t"])}, {"t": _tidy(truth)}, _PROPERTY_AREAS)
    _check(found)
    assert found.audit_passed
