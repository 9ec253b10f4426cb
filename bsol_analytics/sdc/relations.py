"""Every linear relation between the counts one run publishes, as data.

A *cell* is one combination of :data:`~bsol_analytics.sdc.core.CELL_KEYS` (indicator,
reporting date, view, area type, area, breakdown, group); it may have several rows (two
confidence levels, two comparators) and may appear in several tables, always with the same
counts. Each cell has two count *variables*: its numerator (``var = 2 * cell``) and its
denominator (``2 * cell + 1``). A relation is ``sum(coef * var) == 0`` (``sense="eq"``) or
``<= 0`` (``sense="le"``). The kinds:

* ``groups``: the groups of a one-way breakdown (Unknown included) add up to the area's
  ``overall`` cell;
* ``cross``: each row and each column of a cross ``A*B`` (groups ``"<a> | <b>"``) adds up to
  its margin (the ``A`` or ``B`` cell), and the whole cross to ``overall``;
* ``area``: the child areas of one type add up to their parent (practice, PCN, locality,
  BSOL; ward, locality), from the ``areas`` frame and its transitive closure;
* ``nest``: fine groups add up to coarse ones (:data:`BREAKDOWN_NESTING`: deciles into
  quintiles, quintile 1 into Core20 and 2-5 into Rest, age bands into wider bands, the 16
  detailed ethnic groups into the broad ones), in one-way breakdowns and crosses alike;
* ``link``: counts shared between indicators (:mod:`bsol_analytics.indicators.links`),
  equal or at most;
* ``cell``: a proportion's numerator is at most its denominator.

**Reporting dates.** Cells at different reporting dates are never related. The same series
published at several dates is acceptable because the populations differ between dates
(registrations start and end, people die and age into other bands), so the difference of
two published counts is a net change of several flows, not the count of a group of people;
each date is protected as a whole system on its own. ``docs/disclosure-control.md`` says
this to readers.

Examples:
    >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "2025-03-31",
    ...     "view": "practice", "area_type": "BSOL", "area": "BSOL",
    ...     "breakdown": ["overall", "sex", "sex"], "group": ["All", "Female", "Male"],
    ...     "numerator": [5, 2, 3], "denominator": [50, 20, 30]})
    >>> system = build_system({"t": t})
    >>> system.relations["kind"].tolist()
    ['groups', 'groups', 'cell', 'cell', 'cell']
    >>> int(violated(system, system.values()).sum())
    0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bsol_analytics.errors import ParameterError
from bsol_analytics.indicators import links as links_mod
from bsol_analytics.reference import NHS_ETHNIC_CATEGORIES
from bsol_analytics.sdc.core import (
    CELL_KEYS,
    CROSS_SEP,
    cross_parts,
    people_denominator,
    require_columns,
    split_pairs,
)
from bsol_analytics.vocabulary import CORE20_LABELS, DECILE_LABELS, QUINTILE_LABELS, base_ids

#: Columns of the ``areas`` frame (``view`` is optional: a row without it holds in every view).
AREA_COLUMNS: tuple[str, ...] = ("area_type", "area", "parent_type", "parent")

_DECILES = DECILE_LABELS
_QUINTILES = QUINTILE_LABELS
_CORE20, _REST = CORE20_LABELS
_AGE_WIDE = {
    **{b: "0-17" for b in ("0-4", "5-9", "10-14")},
    **{b: "15-44" for b in ("15-19", "20-24", "25-29", "30-34", "35-39", "40-44")},
    **{b: "45-64" for b in ("45-49", "50-54", "55-59", "60-64")},
    **{b: "65-74" for b in ("65-69", "70-74")},
    **{b: "75+" for b in ("75-79", "80-84", "85-89", "90+")},
}

#: ``(fine breakdown, coarse breakdown, fine group -> coarse group)``; ``Unknown`` maps to
#: itself. A fine group missing from the mapping breaks no relation: its coarse cell simply
#: gets no ``nest`` relation.
BREAKDOWN_NESTING: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("imd_decile", "imd_quintile", {d: _QUINTILES[k // 2] for k, d in enumerate(_DECILES)}),
    (
        "imd_quintile",
        "core20",
        {q: _CORE20 if k == 0 else _REST for k, q in enumerate(_QUINTILES)},
    ),
    ("imd_decile", "core20", {d: _CORE20 if k < 2 else _REST for k, d in enumerate(_DECILES)}),
    ("age_band", "age_band_wide", _AGE_WIDE),
    ("ethnicity_detailed", "ethnicity_broad", dict(NHS_ETHNIC_CATEGORIES.values())),
)


def breakdown_dims(breakdown: pd.Series) -> pd.Series:
    """The breakdown dimensions of each breakdown (``imd_decile*sex`` -> ``imd_decile|sex``).

    Nested breakdowns share a dimension (:data:`BREAKDOWN_NESTING`): deciles, quintiles and
    Core20 are all ``imd_decile``; a cross has the dimensions of its parts.

    Examples:
        >>> breakdown_dims(pd.Series(["core20", "imd_quintile*sex", "overall"])).tolist()
        ['imd_decile', 'imd_decile|sex', 'overall']
    """
    root: dict[str, str] = {}
    for fine, coarse, _ in BREAKDOWN_NESTING:
        root[coarse] = root.get(fine, fine)
    codes, names = pd.factorize(breakdown.astype("str"))
    dims = ["|".join(sorted({root.get(p, p) for p in b.split("*")})) for b in names]
    return pd.Series(np.asarray(dims, dtype=object)[codes], index=breakdown.index, dtype=object)


@dataclass(frozen=True)
class LinkedSystem:
    """The cells of a run and the relations between their counts.

    Attributes:
        cells: one row per cell: :data:`CELL_KEYS`, ``numerator``, ``denominator`` (the
            first non-missing value over the cell's rows), ``people`` (the denominator
            counts people), ``proportion`` (numerator within denominator), ``published``
            (some row of the cell is not suppressed), ``table`` (first table holding it).
        terms: ``relation, var, coef`` (one row per count in a relation).
        relations: ``relation, kind, sense`` (``"eq"`` or ``"le"``).
        rows: table name -> cell number of each of its rows.
    """

    cells: pd.DataFrame
    terms: pd.DataFrame
    relations: pd.DataFrame
    rows: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_vars(self) -> int:
        """Number of count variables (two per cell)."""
        return 2 * len(self.cells)

    def values(self) -> np.ndarray:
        """The counts per variable (numerator, denominator of each cell; missing is NaN)."""
        out = np.empty(self.n_vars)
        out[0::2] = self.cells["numerator"].to_numpy(float)
        out[1::2] = self.cells["denominator"].to_numpy(float)
        return out

    def drop(self, mask: np.ndarray) -> LinkedSystem:
        """A copy without the relations flagged in ``mask`` (one flag per relation)."""
        keep = ~np.asarray(mask, bool)
        ids = self.relations["relation"].to_numpy()[keep]
        new = pd.Series(np.arange(len(ids)), index=ids)
        terms = self.terms[self.terms["relation"].isin(ids)]
        terms = terms.assign(relation=new.loc[terms["relation"]].to_numpy())
        rel = self.relations[keep].assign(relation=np.arange(len(ids)))
        return LinkedSystem(
            self.cells, terms.reset_index(drop=True), rel.reset_index(drop=True), self.rows
        )


def build_system(
    tables: Mapping[str, pd.DataFrame],
    areas: pd.DataFrame | None = None,
    *,
    links: tuple[links_mod.CountLink, ...] = links_mod.COUNT_LINKS,
) -> LinkedSystem:
    """Gather the cells of every table and derive every relation between their counts.

    Args:
        tables: published table name -> tidy frame (``CELL_KEYS``, ``numerator``,
            ``denominator``; ``suppressed`` if present). Tables with only a numerator
            (population counts) may leave ``denominator`` out.
        areas: ``area_type, area, parent_type, parent`` (optional ``view``): each area's
            parent; the transitive closure is taken, so direct parents are enough.
        links: counts shared between indicators (``_DSR``/``_RVE`` links are added).

    Returns:
        The :class:`LinkedSystem`.

    Raises:
        ParameterError: a table lacks a key column, or one cell has different counts in
            different rows or tables.
    """
    cells, rows = _gather_cells(tables)
    parts: list[tuple[str, str, pd.DataFrame]] = []
    keyed = _keyed(cells)
    # derived rows (age-standardised, recorded vs expected) of a breakdown whose denominator
    # is not split by group carry no group sums: they take part in no relation
    base = base_ids(keyed["indicator_id"])
    pair = pd.Series(list(zip(base, keyed["breakdown"], strict=True)), dtype=object)
    odd = (base != keyed["indicator_id"]).to_numpy() & pair.isin(
        links_mod.UNSPLIT_DENOMINATORS
    ).to_numpy()
    keyed = keyed[~odd]
    parts += _group_relations(keyed)
    # a cell whose denominator is not split by its groups exists only where its group has
    # patients, so sums of its denominators over areas or groups do not hold: those
    # relations keep their numerators, and the denominator equals its whole one instead
    unsplit = _unsplit_cells(keyed, len(cells))
    parts += [
        (kind, sense, _numerators_only(part, unsplit))
        for kind, sense, part in (
            *_cross_relations(keyed),
            *_area_relations(keyed, areas),
            *_nest_relations(keyed),
        )
    ]
    parts += _unsplit_cross_relations(keyed)
    ids = [str(i) for i in pd.unique(cells["indicator_id"])]
    parts += _link_relations(keyed, (*links, *links_mod.derived_links(ids)))
    parts += _cell_relations(cells)
    terms, rel = [], []
    offset = 0
    for kind, sense, part in parts:
        if part.empty:
            continue
        code = part.groupby("rel", sort=False).ngroup().to_numpy()
        var = 2 * part["cell"].to_numpy(np.int64) + part["field"].to_numpy(np.int64)
        t = pd.DataFrame(
            {"relation": code + offset, "var": var, "coef": part["coef"].to_numpy(float)}
        )
        t = t.groupby(["relation", "var"], as_index=False, sort=False)["coef"].sum()
        terms.append(t[t["coef"] != 0])
        n = int(code.max()) + 1
        rel.append(
            pd.DataFrame({"relation": np.arange(offset, offset + n), "kind": kind, "sense": sense})
        )
        offset += n
    if not terms:
        empty_t = pd.DataFrame(
            {
                "relation": pd.Series(dtype="int64"),
                "var": pd.Series(dtype="int64"),
                "coef": pd.Series(dtype="float64"),
            }
        )
        empty_r = pd.DataFrame(
            {
                "relation": pd.Series(dtype="int64"),
                "kind": pd.Series(dtype="str"),
                "sense": pd.Series(dtype="str"),
            }
        )
        return LinkedSystem(cells, empty_t, empty_r, rows)
    all_terms = pd.concat(terms, ignore_index=True)
    relations = pd.concat(rel, ignore_index=True)
    system = LinkedSystem(cells, all_terms, relations, rows)
    # a relation with fewer than two counts says nothing (or only that a count is zero)
    size = np.bincount(all_terms["relation"], minlength=len(relations))
    return system.drop(size < 2)


def _gather_cells(tables: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One row per cell over all tables, and each table's row -> cell map."""
    if not tables:
        raise ParameterError("The run publishes no table: give at least one tidy table.")
    parts = []
    for name, frame in tables.items():
        require_columns(frame, [*CELL_KEYS, "numerator"], f"table {name!r}")
        part = frame[list(CELL_KEYS)].astype("str")
        part["numerator"] = pd.to_numeric(frame["numerator"], errors="coerce").to_numpy(float)
        den = frame["denominator"] if "denominator" in frame.columns else np.nan
        part["denominator"] = pd.to_numeric(pd.Series(den, index=frame.index), errors="coerce")
        sup = frame["suppressed"] if "suppressed" in frame.columns else False
        part["published"] = ~pd.Series(sup, index=frame.index).fillna(False).astype(bool)
        part["table"] = name
        # a table with denominators (suppressed rows have theirs blanked, not absent)
        part["has_den"] = bool(part["denominator"].notna().any())
        parts.append(part.reset_index(drop=True))
    allrows = pd.concat(parts, ignore_index=True)
    code = allrows.groupby(list(CELL_KEYS), sort=False).ngroup().to_numpy()
    allrows["cell"] = code
    g = allrows.groupby("cell", sort=True)
    cells = g[list(CELL_KEYS)].first()
    for col in ("numerator", "denominator"):
        lo, hi = g[col].min(), g[col].max()
        bad = (hi - lo).abs() > 1e-9
        if bad.any():
            key = cells.loc[bad[bad].index[0]]
            raise ParameterError(
                f"One cell has different {col}s in different rows or tables "
                f"({', '.join(f'{k}={key[k]}' for k in CELL_KEYS)}): a run must publish each "
                "count once, with one value."
            )
        cells[col] = lo.to_numpy()
    cells["published"] = g["published"].any().to_numpy()
    cells["table"] = g["table"].first().to_numpy()
    ids = cells["indicator_id"]
    has_den = g["has_den"].any().to_numpy()
    cells["people"] = people_denominator(ids) & has_den
    base = base_ids(ids)
    cells["proportion"] = cells["people"] & ~base.isin(list(links_mod.NOT_PROPORTIONS)).to_numpy()
    cells = cells.reset_index(drop=True)
    rows, start = {}, 0
    for name, part in zip(tables, parts, strict=True):
        rows[name] = code[start : start + len(part)]
        start += len(part)
    return cells, rows


def _keyed(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells with ``t`` (indicator, date, view) and ``s`` (date, view) keys."""
    k = cells[list(CELL_KEYS)].copy()
    k["t"] = k["indicator_id"] + "\x1f" + k["reporting_date"] + "\x1f" + k["view"]
    k["s"] = k["reporting_date"] + "\x1f" + k["view"]
    k["cell"] = np.arange(len(k))
    return k


def _sum_relation(members: pd.DataFrame, totals: pd.DataFrame, key: list[str], fields=(0, 1)):
    """Members (+1) and totals (-1) sharing ``key``, once per field; only keys with a total."""
    totals = totals[[*key, "cell"]].drop_duplicates()
    members = members[members.set_index(key).index.isin(totals.set_index(key).index)]
    both = pd.concat([members[[*key, "cell"]].assign(coef=1.0), totals.assign(coef=-1.0)])
    rel = both.groupby(key, sort=False).ngroup()
    out = [
        pd.DataFrame(
            {
                "rel": rel.to_numpy() * 2 + f,
                "cell": both["cell"].to_numpy(),
                "coef": both["coef"].to_numpy(),
                "field": f,
            }
        )
        for f in fields
    ]
    return pd.concat(out, ignore_index=True)


def _group_relations(k: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    overall = k[k["breakdown"] == "overall"]
    one = k[(k["breakdown"] != "overall") & ~k["breakdown"].str.contains("*", regex=False)]
    key = ["t", "area_type", "area"]
    base = base_ids(one["indicator_id"])
    unsplit = pd.Series(list(zip(base, one["breakdown"], strict=True)), dtype=object)
    flag = unsplit.isin(links_mod.UNSPLIT_DENOMINATORS).to_numpy()
    m = one.assign(bk=one["breakdown"])
    tot = overall.merge(m[["t", "area_type", "area", "bk"]].drop_duplicates(), on=key)
    parts = [
        _sum_relation(m[~flag], tot, [*key, "bk"]),
        _sum_relation(m[flag], tot, [*key, "bk"], (0,)),
    ]
    # unsplit denominators: each group's denominator is the overall one
    eq = m[flag].merge(overall[[*key, "cell"]].rename(columns={"cell": "tot"}), on=key)
    n = np.arange(len(eq))
    parts.append(
        pd.DataFrame(
            {
                "rel": np.r_[n, n],
                "cell": np.r_[eq["cell"], eq["tot"]],
                "coef": np.r_[np.ones(len(eq)), -np.ones(len(eq))],
                "field": 1,
            }
        )
    )
    return [("groups", "eq", _stack(parts))]


def _unsplit_keys(k: pd.DataFrame) -> pd.Series:
    """Per keyed cell, the part of its breakdown that does not split its denominator, or ""."""
    base = base_ids(k["indicator_id"])
    out = pd.Series("", index=k.index, dtype=object)
    for ind, key in links_mod.UNSPLIT_DENOMINATORS:
        uses = [b for b in pd.unique(k["breakdown"]) if key in str(b).split("*")]
        out[((base == ind) & k["breakdown"].isin(uses)).to_numpy()] = key
    return out


def _unsplit_cells(k: pd.DataFrame, n_cells: int) -> np.ndarray:
    """Per cell, whether its denominator is not split by its breakdown's groups.

    Examples:
        >>> k = _keyed(pd.DataFrame({"indicator_id": "DM_PREV", "reporting_date": "d",
        ...     "view": "v", "area_type": "BSOL", "area": "BSOL",
        ...     "breakdown": ["overall", "diabetes_type", "sex*diabetes_type"],
        ...     "group": ["All", "Type 1", "Female | Type 1"]}))
        >>> _unsplit_cells(k, 3).tolist()
        [False, True, True]
    """
    out = np.zeros(n_cells, bool)
    out[k.loc[_unsplit_keys(k).ne("").to_numpy(), "cell"].to_numpy(np.int64)] = True
    return out


def _numerators_only(part: pd.DataFrame, unsplit: np.ndarray) -> pd.DataFrame:
    """``part`` without its denominator relations that hold a cell of ``unsplit``."""
    if part.empty:
        return part
    den = part["field"].to_numpy() == 1
    bad = den & unsplit[part["cell"].to_numpy(np.int64)]
    if not bad.any():
        return part
    return part[~part["rel"].isin(part.loc[bad, "rel"]).to_numpy()]


def _unsplit_cross_relations(k: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """A cross cell's unsplit denominator equals that of its other part's group.

    DM_PREV by ``sex*diabetes_type``: the ``Female | Type 1`` denominator is the
    ``sex`` breakdown's ``Female`` denominator (the whole list of women).
    """
    keys = _unsplit_keys(k)
    cross = k[keys.ne("").to_numpy() & k["breakdown"].str.contains("*", regex=False).to_numpy()]
    if cross.empty:
        return []
    key = keys[cross.index]
    names = cross["breakdown"].str.split("*", n=1, expand=True, regex=False)
    groups = cross_parts(cross["group"])
    first = (names[0] != key).to_numpy()  # the other part is the first one
    other = cross.assign(
        breakdown=np.where(first, names[0], names[1]),
        group=np.where(first, groups[0], groups[1].fillna("")),
    )
    margins = k[["t", "area_type", "area", "breakdown", "group", "cell"]].rename(
        columns={"cell": "tot"}
    )
    eq = other[["t", "area_type", "area", "breakdown", "group", "cell"]].merge(
        margins, on=["t", "area_type", "area", "breakdown", "group"]
    )
    n = np.arange(len(eq))
    part = pd.DataFrame(
        {
            "rel": np.r_[n, n],
            "cell": np.r_[eq["cell"], eq["tot"]],
            "coef": np.r_[np.ones(len(eq)), -np.ones(len(eq))],
            "field": 1,
        }
    )
    return [("cross", "eq", part)] if len(part) else []


def _cross_relations(k: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    cross = k[k["breakdown"].str.contains("*", regex=False)]
    if cross.empty:
        return []
    b = cross["breakdown"].str.split("*", n=1, expand=True, regex=False)
    g = cross_parts(cross["group"])
    c = cross.assign(b1=b[0], b2=b[1], g1=g[0], g2=g[1].fillna(""))
    key = ["t", "area_type", "area"]
    margins = k[[*key, "breakdown", "group", "cell"]]
    parts = []
    for bf, gf in (("b1", "g1"), ("b2", "g2")):
        tot = margins.rename(columns={"breakdown": bf, "group": gf})
        tot = tot.merge(c[[*key, "breakdown", bf]].drop_duplicates(), on=[*key, bf])
        parts.append(_sum_relation(c, tot, [*key, "breakdown", bf, gf]))
    overall = k.loc[k["breakdown"] == "overall", [*key, "cell"]].merge(
        c[[*key, "breakdown"]].drop_duplicates(), on=key
    )
    parts.append(_sum_relation(c, overall, [*key, "breakdown"]))
    return [("cross", "eq", _stack(parts))]


def _stack(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate relation parts, keeping their relation numbers apart."""
    out, offset = [], 0
    for p in parts:
        if len(p):
            out.append(p.assign(rel=p["rel"] + offset))
            offset += int(p["rel"].max()) + 1
    return (
        pd.concat(out, ignore_index=True)
        if out
        else pd.DataFrame(columns=["rel", "cell", "coef", "field"])
    )


def _closure(areas: pd.DataFrame) -> pd.DataFrame:
    """Every (area, ancestor) pair of the ``areas`` frame."""
    cols = list(AREA_COLUMNS)
    has_view = "view" in areas.columns
    a = areas[cols + (["view"] if has_view else [])].astype("str")
    if not has_view:
        a["view"] = "*"
    a = a.replace({"view": {"nan": "*", "<NA>": "*", "None": "*"}}).drop_duplicates()
    out = a
    for _ in range(8):
        up = out.merge(
            a.rename(
                columns={
                    "area_type": "parent_type",
                    "area": "parent",
                    "parent_type": "pt2",
                    "parent": "p2",
                    "view": "v2",
                }
            ),
            on=["parent_type", "parent"],
        )
        ok = (up["view"] == up["v2"]) | (up["v2"] == "*") | (up["view"] == "*")
        up = up[ok]
        up = pd.DataFrame(
            {
                "area_type": up["area_type"],
                "area": up["area"],
                "parent_type": up["pt2"],
                "parent": up["p2"],
                "view": up["view"].where(up["view"] != "*", up["v2"]),
            }
        )
        new = pd.concat([out, up]).drop_duplicates()
        if len(new) == len(out):
            break
        out = new
    return out.reset_index(drop=True)


def _area_relations(
    k: pd.DataFrame, areas: pd.DataFrame | None
) -> list[tuple[str, str, pd.DataFrame]]:
    if areas is None or len(areas) == 0:
        return []
    require_columns(areas, list(AREA_COLUMNS), "areas")
    links = _closure(areas)
    # an ancestor reached through an area type that is published adds nothing: the chain of
    # direct relations implies it, and leaving it out keeps the components of hidden cells small
    present = set(k["area_type"])
    mid = links.merge(
        links.rename(
            columns={
                "area_type": "mt",
                "area": "mid",
                "parent_type": "at2",
                "parent": "anc",
                "view": "v2",
            }
        ),
        left_on=["parent_type", "parent"],
        right_on=["mt", "mid"],
    )
    mid = mid[mid["mt"].isin(present)]
    implied = set(zip(mid["area_type"], mid["area"], mid["at2"], mid["anc"], strict=True))
    if implied:
        pair = list(
            zip(
                links["area_type"],
                links["area"],
                links["parent_type"],
                links["parent"],
                strict=True,
            )
        )
        links = links[~pd.Series(pair, dtype=object).isin(implied).to_numpy()]
    key = ["t", "breakdown", "group"]
    child = k.merge(links.rename(columns={"view": "link_view"}), on=["area_type", "area"])
    child = child[(child["link_view"] == "*") | (child["link_view"] == child["view"])]
    members = child[[*key, "parent_type", "parent", "area_type", "cell"]].rename(
        columns={"area_type": "ct"}
    )
    tot = k[[*key, "area_type", "area", "cell"]].rename(
        columns={"area_type": "parent_type", "area": "parent"}
    )
    tot = tot.merge(
        members[[*key, "parent_type", "parent", "ct"]].drop_duplicates(),
        on=[*key, "parent_type", "parent"],
    )
    return [("area", "eq", _sum_relation(members, tot, [*key, "parent_type", "parent", "ct"]))]


def _map_groups(k: pd.DataFrame, fine: str, coarse: str, mapping: dict[str, str]) -> pd.DataFrame:
    """Cells of breakdowns using ``fine`` with their coarse breakdown and group."""
    mapping = {**mapping, "Unknown": "Unknown"}
    parts = split_pairs(k["breakdown"], "*")
    groups = cross_parts(k["group"])
    out = []
    for pos in (0, 1):
        hit = parts[pos] == fine
        if not hit.any():
            continue
        sub = k[hit]
        bp, gp = parts[hit].copy(), groups[hit].copy()
        bp[pos] = coarse
        gp[pos] = gp[pos].map(mapping)
        ok = gp[pos].notna().to_numpy()
        two = bp[1].notna()
        cb = np.where(two, bp[0] + "*" + bp[1].fillna(""), bp[0])
        cg = np.where(two, gp[0].fillna("") + CROSS_SEP + gp[1].fillna(""), gp[0].fillna(""))
        out.append(sub.assign(cb=cb, cg=cg)[ok])
    return pd.concat(out) if out else k.iloc[:0].assign(cb="", cg="")


def _nest_relations(k: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    parts = []
    key = ["t", "area_type", "area", "cb", "cg"]
    for fine, coarse, mapping in BREAKDOWN_NESTING:
        m = _map_groups(k, fine, coarse, mapping)
        if m.empty:
            continue
        tot = k.rename(columns={"breakdown": "cb", "group": "cg"})
        tot = tot.merge(m[key].drop_duplicates(), on=key)
        parts.append(_sum_relation(m, tot, key))
    return [("nest", "eq", _stack(parts))] if parts else []


def _link_relations(
    k: pd.DataFrame, links: tuple[links_mod.CountLink, ...]
) -> list[tuple[str, str, pd.DataFrame]]:
    recs = links_mod.link_records(links)
    present = set(k["indicator_id"])
    recs = recs[recs["indicator_id"].isin(present)]
    out = []
    for sense, kind in (("eq", "equal"), ("le", "at_most")):
        r = recs[recs["kind"] == kind]
        if r.empty:
            continue
        need = links_mod.link_records(links)
        need = need[need["kind"] == kind].groupby("link").size()
        m = k.merge(r, on="indicator_id")
        key = ["link", "s", "area_type", "area", "breakdown", "group"]
        m = m.assign(n=m.groupby(key)["cell"].transform("size"))
        m = m[m["n"].to_numpy() == need.reindex(m["link"]).to_numpy()]
        rel = m.groupby(key, sort=False).ngroup().to_numpy()
        out.append(
            (
                "link",
                sense,
                pd.DataFrame(
                    {
                        "rel": rel,
                        "cell": m["cell"].to_numpy(),
                        "coef": np.where(m["side"] == "left", 1.0, -1.0),
                        "field": np.where(m["field"] == "numerator", 0, 1),
                    }
                ),
            )
        )
    return out


def _cell_relations(cells: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    idx = np.flatnonzero(cells["proportion"].to_numpy(bool))
    n = np.arange(len(idx))
    part = pd.DataFrame(
        {
            "rel": np.r_[n, n],
            "cell": np.r_[idx, idx],
            "coef": np.r_[np.ones(len(idx)), -np.ones(len(idx))],
            "field": np.r_[np.zeros(len(idx), int), np.ones(len(idx), int)],
        }
    )
    return [("cell", "le", part)]


def residuals(system: LinkedSystem, values: np.ndarray) -> np.ndarray:
    """``sum(coef * value)`` per relation (NaN where a count is missing).

    Examples:
        >>> t = pd.DataFrame({"indicator_id": "X", "reporting_date": "d", "view": "v",
        ...     "area_type": "BSOL", "area": "BSOL", "breakdown": ["overall", "sex", "sex"],
        ...     "group": ["All", "F", "M"], "numerator": [5, 2, 4], "denominator": 9})
        >>> s = build_system({"t": t})
        >>> residuals(s, s.values())[:2].tolist()
        [1.0, 9.0]
    """
    t = system.terms
    contrib = t["coef"].to_numpy() * np.asarray(values, float)[t["var"].to_numpy()]
    out = np.bincount(
        t["relation"], weights=np.nan_to_num(contrib), minlength=len(system.relations)
    )
    missing = np.bincount(t["relation"], weights=np.isnan(contrib), minlength=len(system.relations))
    out[missing > 0] = np.nan
    return out


def violated(system: LinkedSystem, values: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Whether each relation fails for fully known ``values`` (unknown ones never fail)."""
    r = residuals(system, values)
    eq = system.relations["sense"].to_numpy() == "eq"
    with np.errstate(invalid="ignore"):
        return np.where(eq, np.abs(r) > tol, r > tol) & ~np.isnan(r)
