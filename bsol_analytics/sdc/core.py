"""Statistical disclosure control: the small-numbers policy applied to every publication.

One policy, :data:`DEFAULT_POLICY` (:class:`SDCPolicy`), is applied by default to every
table the suite publishes (``bsol indicators --no-sdc`` turns it off inside the secure
environment). It has two steps; ``docs/disclosure-control.md`` explains them in plain
English.

1. **Primary suppression** (:func:`primary_suppression`). A row is suppressed when its
   numerator or its denominator is a small count (1 to 7 by default), or when the
   numerator is the denominator minus a small count (the complement: "95 of 100 screened"
   discloses that 5 people were not). Zero is published: it is not a count of people who
   could be identified. Rows whose denominator is an expected count, not people (``_RVE``),
   are tested on their numerator only.
2. **Secondary (complementary) suppression** (:func:`secondary_suppression`). Published
   cells often add up to another published cell: the IMD quintiles and the Unknown group
   add up to the area's total, the localities add up to BSOL, a row of the deprivation ×
   ethnicity matrix adds up to its margin. Each such set is a *line*. A line with exactly
   one suppressed cell would let anyone recover it by subtraction; so would a line whose
   suppressed cells together hold a small count (their sum is the total minus the
   published cells). The next smallest cell of such a line is suppressed too, and this is
   repeated until every line with any suppression has at least two suppressed cells whose
   summed numerator, denominator and complement are each 0 or above the small range. The
   rule is deterministic: the same input always gives the same output.

Suppressed rows are kept, never dropped: ``suppressed`` is ``True``, ``suppression_reason``
says why, and the values, limits and counts are set to missing.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bsol_analytics.errors import ParameterError
from bsol_analytics.vocabulary import ISR_SUFFIX, RVE_SUFFIX

#: ``suppression_reason`` values.
REASON_PRIMARY = "primary: count 1-{hi}"
REASON_COMPLEMENT = "primary: complement count 1-{hi}"
REASON_SECONDARY = "secondary: protects another cell"
REASON_LINKED = "linked: same counts as {base}"

#: Separator of the two group labels of a cross-tabulation cell.
CROSS_SEP = " | "


def cross_parts(groups: pd.Series) -> pd.DataFrame:
    """The two labels of cross-tabulation groups (columns 0 and 1; 1 missing if not a cross).

    Examples:
        >>> cross_parts(pd.Series(["Q1 (most deprived) | Asian", "All"])).to_numpy().tolist()
        [['Q1 (most deprived)', 'Asian'], ['All', nan]]
    """
    return split_pairs(groups, CROSS_SEP)


def split_pairs(values: pd.Series, sep: str) -> pd.DataFrame:
    """``values`` split at the first ``sep`` (columns 0 and 1; 1 missing if no ``sep``).

    Each distinct value is split once (a published table repeats a few hundred labels).

    Examples:
        >>> split_pairs(pd.Series(["a*b", "a", "a*b"], index=[5, 6, 7]), "*").to_numpy().tolist()
        [['a', 'b'], ['a', nan], ['a', 'b']]
    """
    codes, uniques = pd.factorize(values.astype("str"), use_na_sentinel=False)
    split = pd.Series(uniques).str.split(sep, n=1, expand=True, regex=False)
    split = split.reindex(columns=[0, 1]).astype(object)
    return split.take(codes).set_axis(values.index)


#: Indicator id suffixes whose denominator is not a count of people (``_RVE``: an expected
#: count). Only their numerator is tested by the primary rules; they are still suppressed
#: whenever their base cell is (see ``linked`` in :func:`apply_sdc`).
EXPECTED_DENOMINATOR_SUFFIXES: tuple[str, ...] = (RVE_SUFFIX, ISR_SUFFIX)

#: Columns blanked in a suppressed row of the tidy indicator frame.
BLANKED_COLUMNS: tuple[str, ...] = (
    "value",
    "lower",
    "upper",
    "numerator",
    "denominator",
    "comparator_value",
)

#: Columns identifying one cell of the tidy indicator frame (apart from ``confidence``).
CELL_KEYS: tuple[str, ...] = (
    "indicator_id",
    "reporting_date",
    "view",
    "area_type",
    "area",
    "breakdown",
    "group",
)


@dataclass(frozen=True)
class SDCPolicy:
    """The disclosure-control policy: every threshold lives here.

    Attributes:
        name: the policy's name, quoted in outputs and reports.
        min_count: smallest count that is disclosive (0 is never suppressed).
        max_count: largest count that is disclosive (inclusive).
        complement: also treat ``denominator - numerator`` in ``min_count..max_count`` as
            disclosive.
        secondary: apply complementary suppression so that no suppressed cell can be
            recovered by subtraction.
        max_iterations: safety limit on the rounds of secondary suppression.
        method: ``"suppress"`` (primary and secondary suppression) or ``"round"``
            (OpenSAFELY-style: small counts redacted, the rest rounded to the nearest
            ``rounding_base``; see :func:`bsol_analytics.sdc.protect.protect_run`).
        rounding_base: the rounding step of the ``"round"`` method.
        withhold_share: a small-area level (PCN, practice, ward) in which at least this
            share of the rows are small counts is withheld whole
            (:mod:`bsol_analytics.sdc.levels`); ``None`` never withholds one.

    Examples:
        >>> DEFAULT_POLICY.max_count, DEFAULT_POLICY.complement
        (7, True)
        >>> DEFAULT_POLICY.disclosive(np.array([0, 1, 7, 8]))
        array([False,  True,  True, False])
    """

    name: str = "BSOL small numbers 1-7"
    min_count: int = 1
    max_count: int = 7
    complement: bool = True
    secondary: bool = True
    max_iterations: int = 1000
    method: str = "suppress"
    rounding_base: int = 5
    withhold_share: float | None = 0.5

    def __post_init__(self) -> None:
        if self.withhold_share is not None and not 0 < self.withhold_share <= 1:
            raise ParameterError(
                "SDCPolicy: withhold_share must be above 0 and at most 1, or None "
                f"(got {self.withhold_share})."
            )
        if self.method not in ("suppress", "round"):
            raise ParameterError(
                f"SDCPolicy: method must be 'suppress' or 'round' (got {self.method!r})."
            )
        if self.rounding_base < 1:
            raise ParameterError("SDCPolicy: rounding_base must be at least 1.")
        if not 1 <= self.min_count <= self.max_count:
            raise ParameterError(
                "SDCPolicy: min_count must be at least 1 and no larger than max_count "
                f"(got {self.min_count} and {self.max_count})."
            )
        if self.max_iterations < 1:
            raise ParameterError("SDCPolicy: max_iterations must be at least 1.")

    @property
    def primary_reason(self) -> str:
        """Reason text for a small count.

        Examples:
            >>> SDCPolicy(min_count=1, max_count=9).primary_reason
            'primary: count 1-9'
        """
        return REASON_PRIMARY.format(hi=self.max_count).replace("1-", f"{self.min_count}-")

    @property
    def complement_reason(self) -> str:
        """Reason text for a small complement.

        Examples:
            >>> DEFAULT_POLICY.complement_reason
            'primary: complement count 1-7'
        """
        return REASON_COMPLEMENT.format(hi=self.max_count).replace("1-", f"{self.min_count}-")

    @property
    def description(self) -> str:
        """The policy in plain English, as the reports print it.

        Examples:
            >>> print(DEFAULT_POLICY.description)  # doctest: +NORMALIZE_WHITESPACE
            BSOL small numbers 1-7: counts of 1 to 7, and rows where the denominator minus
            the numerator is 1 to 7, are suppressed; further cells are suppressed so that no
            suppressed count can be worked out from the other published figures (checked by
            a linear-programming audit). A small-area level (PCN, practice or ward) in which
            at least 50% of the counts are small is withheld whole.
        """
        lo, hi = self.min_count, self.max_count
        if self.method == "round":
            return (
                f"{self.name}: counts of {lo} to {hi} are redacted and every other count is "
                f"rounded to the nearest {self.rounding_base}; rates and percentages are "
                "computed from the rounded counts (checked by a linear-programming audit)."
                f"{self.withhold_text}"
            )
        comp = (
            f", and rows where the denominator minus the numerator is {lo} to {hi},"
            if self.complement
            else ""
        )
        second = (
            "; further cells are suppressed so that no suppressed count can be worked out "
            "from the other published figures (checked by a linear-programming audit)"
            if self.secondary
            else ""
        )
        return (
            f"{self.name}: counts of {lo} to {hi}{comp} are suppressed{second}.{self.withhold_text}"
        )

    @property
    def withhold_text(self) -> str:
        """The sentence on withheld small-area levels (empty when none is ever withheld).

        Examples:
            >>> SDCPolicy(withhold_share=None).withhold_text
            ''
        """
        if self.withhold_share is None:
            return ""
        return (
            " A small-area level (PCN, practice or ward) in which at least "
            f"{self.withhold_share:.0%} of the counts are small is withheld whole."
        )

    def disclosive(self, counts: np.ndarray | pd.Series) -> np.ndarray:
        """Whether each count lies in ``min_count..max_count`` (missing counts are not).

        Examples:
            >>> DEFAULT_POLICY.disclosive(pd.Series([0, 3, None]))
            array([False,  True, False])
        """
        arr = np.asarray(counts, dtype="float64")
        with np.errstate(invalid="ignore"):
            return (arr >= self.min_count) & (arr <= self.max_count)


#: The policy applied by default to everything published.
DEFAULT_POLICY = SDCPolicy()

#: The rounding alternative (OpenSAFELY-style): counts 1-7 redacted, the rest rounded to 5.
ROUNDING_POLICY = SDCPolicy(
    name="Redact 1-7, round to 5", complement=False, secondary=True, method="round"
)


def require_columns(frame: pd.DataFrame, columns: Sequence[Hashable], function: str) -> None:
    """Refuse anything but a DataFrame holding ``columns``, naming the function and column.

    Examples:
        >>> require_columns(pd.DataFrame({"numerator": [3]}), ["numerator", "denominator"],
        ...                 "apply_sdc")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: apply_sdc(): the table has no column 'denominator'...
    """
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(f"{function}(): expected a pandas DataFrame.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"{function}(): the table has no column {missing[0]!r} "
            f"(it needs {', '.join(map(str, columns))})."
        )


def primary_suppression(
    frame: pd.DataFrame,
    policy: SDCPolicy = DEFAULT_POLICY,
    *,
    numerator: str = "numerator",
    denominator: str = "denominator",
    people: np.ndarray | pd.Series | None = None,
) -> pd.DataFrame:
    """Flag rows whose counts are disclosive under ``policy``.

    Args:
        frame: one row per published cell with count columns.
        policy: the thresholds.
        numerator: column of numerators.
        denominator: column of denominators.
        people: per row, whether the denominator counts people (default: every row). Where
            it does not (an expected count), only the numerator is tested: neither the
            denominator nor the complement rule applies.

    Returns:
        A copy of ``frame`` with ``suppressed`` (bool) and ``suppression_reason`` (string or
        missing). Values are not blanked here: see :func:`blank_suppressed`.

    Raises:
        ParameterError: a missing count column.

    Examples:
        >>> df = pd.DataFrame({"numerator": [0, 3, 40, 95, 0], "denominator": [50, 60, 40, 100, 5]})
        >>> primary_suppression(df)[["suppressed", "suppression_reason"]]
           suppressed                suppression_reason
        0       False                               NaN
        1        True                primary: count 1-7
        2       False                               NaN
        3        True  primary: complement count 1-7
        4        True                primary: count 1-7

        An expected denominator (28.9 expected, 25 recorded) is not a count of people:

        >>> rve = pd.DataFrame({"numerator": [25], "denominator": [28.87]})
        >>> primary_suppression(rve, people=np.array([False]))["suppressed"].iloc[0]
        np.False_
    """
    require_columns(frame, [numerator, denominator], "primary_suppression")
    num = pd.to_numeric(frame[numerator], errors="coerce").to_numpy(dtype="float64")
    den = pd.to_numeric(frame[denominator], errors="coerce").to_numpy(dtype="float64")
    if people is None:
        counts_people = np.ones(len(frame), dtype=bool)
    else:
        counts_people = np.asarray(people, dtype=bool)
        if counts_people.shape != (len(frame),):
            raise ParameterError(
                "primary_suppression(): 'people' needs one flag per row of the table."
            )
    small = policy.disclosive(num) | (counts_people & policy.disclosive(den))
    comp = (
        counts_people & policy.disclosive(den - num)
        if policy.complement
        else np.zeros(len(frame), bool)
    )
    reason = np.select(
        [small, comp], [policy.primary_reason, policy.complement_reason], default=""
    ).astype(object)
    reason[reason == ""] = np.nan
    out = frame.copy()
    out["suppressed"] = small | comp
    out["suppression_reason"] = pd.Series(reason, index=frame.index, dtype="str")
    return out


def secondary_suppression(
    suppressed: np.ndarray | pd.Series,
    lines: pd.DataFrame,
    *,
    size: np.ndarray | pd.Series,
    tiebreak: np.ndarray | pd.Series | None = None,
    numerator: np.ndarray | pd.Series | None = None,
    denominator: np.ndarray | pd.Series | None = None,
    policy: SDCPolicy = DEFAULT_POLICY,
    max_iterations: int = DEFAULT_POLICY.max_iterations,
) -> np.ndarray:
    """Complementary suppression: the suppressed cells of a line must protect each other.

    Cells are numbered ``0..n-1``. ``lines`` lists which cells make up each line (a set of
    cells one of which is the sum of the others, or whose sum is published elsewhere). A
    line with any suppressed cell is *unsafe* when it has exactly one, or when the
    suppressed cells together hold a disclosive count (``policy.disclosive``): their summed
    ``numerator``, summed ``denominator`` or, if ``policy.complement``, summed
    ``denominator - numerator``. That sum is published total minus published cells, so it
    is as recoverable as a single cell. While some line is unsafe, the next unsuppressed
    cell of each unsafe line is suppressed (smallest ``size``, then ``tiebreak``, then cell
    number; cells of size 0 are taken last because they hide nothing), until a fixed point.
    A line whose cells are all suppressed is left as it is.

    Args:
        suppressed: boolean per cell, the primary suppression.
        lines: frame with integer columns ``line`` and ``cell``, one row per membership.
        size: per cell, the count used to pick the complement (smaller goes first).
        tiebreak: per cell, a second sort key (e.g. the denominator).
        numerator: per cell, the numerator whose sum over suppressed cells must not be
            disclosive (missing counts as 0). Without it the numerator sum is not checked.
        denominator: per cell, likewise for the denominator (and, with ``numerator``, the
            complement).
        policy: the thresholds for the sums.
        max_iterations: safety limit on the rounds.

    Returns:
        A new boolean array: the primary suppression plus the complements.

    Raises:
        ParameterError: ``lines`` lacks its columns or names a cell out of range.

    Examples:
        >>> lines = pd.DataFrame({"line": [0, 0, 0, 0, 0], "cell": [0, 1, 2, 3, 4]})
        >>> secondary_suppression(np.array([True, False, False, False, False]), lines,
        ...                       size=np.array([3, 20, 12, 35, 70]))
        array([ True, False,  True, False, False])

        Two suppressed cells holding 3 + 2 = 5 between them are not enough when the sums
        are checked: a third cell is suppressed.

        >>> nums = np.array([3, 20, 2, 35, 60])
        >>> secondary_suppression(nums <= 7, lines, size=nums, numerator=nums)
        array([ True,  True,  True, False, False])
    """
    sup = np.asarray(suppressed, dtype=bool).copy()
    n = len(sup)
    require_columns(lines, ["line", "cell"], "secondary_suppression")
    cell = lines["cell"].to_numpy(dtype=np.int64)
    line = pd.factorize(lines["line"])[0].astype(np.int64) if len(lines) else cell[:0]
    if len(cell) and (cell.min() < 0 or cell.max() >= n):
        raise ParameterError("secondary_suppression(): a line names a cell that does not exist.")

    def per_cell(values: np.ndarray | pd.Series | None, what: str) -> np.ndarray | None:
        if values is None:
            return None
        arr = np.nan_to_num(np.asarray(values, dtype="float64"), nan=0.0)
        if arr.shape != (n,):
            raise ParameterError(
                f"secondary_suppression(): {what} needs one value per cell ({n}), got {arr.size}."
            )
        return arr

    size_arr = per_cell(size, "size")
    tie = np.zeros(n) if tiebreak is None else per_cell(tiebreak, "tiebreak")
    num = per_cell(numerator, "numerator")
    den = per_cell(denominator, "denominator")
    # The counts whose sum over the suppressed cells of a line must not be disclosive.
    checked = [c for c in (num, den) if c is not None]
    if policy.complement and num is not None and den is not None:
        checked.append(den - num)
    if len(cell) == 0 or not sup.any():
        return sup
    # One global order of preference for complements: non-empty cells by size, then tiebreak.
    order = np.lexsort((np.arange(n), tie, size_arr, size_arr <= 0))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    # Memberships sorted by line then preference, so the first free member is the choice.
    by_pref = np.lexsort((rank[cell], line))
    line, cell = line[by_pref], cell[by_pref]
    n_lines = int(line.max()) + 1
    for _ in range(max_iterations):
        hidden = sup[cell]
        in_line = np.bincount(line, weights=hidden, minlength=n_lines)
        unsafe = in_line == 1
        for counts in checked:
            total = np.bincount(
                line, weights=np.where(hidden, counts[cell], 0.0), minlength=n_lines
            )
            unsafe |= (in_line > 0) & policy.disclosive(np.round(total, 9))
        free = ~hidden & unsafe[line]
        if not free.any():
            return sup
        first = np.unique(line[free], return_index=True)[1]
        sup[cell[free][first]] = True
    raise ParameterError(
        "secondary_suppression(): no fixed point was reached; raise max_iterations."
    )


def line_counts(suppressed: np.ndarray, lines: pd.DataFrame) -> pd.Series:
    """Number of suppressed cells in each line (for checks and tests).

    Examples:
        >>> lines = pd.DataFrame({"line": [0, 0, 1, 1], "cell": [0, 1, 1, 2]})
        >>> line_counts(np.array([True, True, False]), lines).tolist()
        [2, 1]
    """
    flags = np.asarray(suppressed, dtype=bool)[lines["cell"].to_numpy(dtype=np.int64)]
    return pd.Series(flags, index=lines.index).groupby(lines["line"].to_numpy()).sum()


def indicator_lines(
    frame: pd.DataFrame,
    parents: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The lines (sets of cells that add up) of a tidy indicator frame.

    For every indicator, reporting date and view:

    * **breakdown lines**: within one area, the groups of a breakdown plus the area's
      ``overall`` row (for a cross ``A*B``: each row of the matrix plus its margin, the
      ``A`` row of the same group if published, and each column plus its ``B`` margin);
    * **area lines**: within one breakdown and group, the child areas of a parent area plus
      the parent's row (e.g. the localities and BSOL; the practices of a PCN and the PCN).

    Args:
        frame: the tidy indicator frame (one confidence level per cell).
        parents: optional frame ``area_type, area, parent_type, parent`` giving the areas
            each area belongs to. Without it every non-BSOL area type is a child of BSOL.

    Returns:
        A new frame with integer columns ``line`` and ``cell`` (positional row numbers of
        ``frame``).

    Examples:
        >>> df = pd.DataFrame({"indicator_id": "X", "reporting_date": "2025-03-31",
        ...     "view": "practice", "area_type": "BSOL", "area": "BSOL",
        ...     "breakdown": ["overall", "sex", "sex"], "group": ["All", "Female", "Male"]})
        >>> indicator_lines(df)
           line  cell
        0     0     0
        1     0     1
        2     0     2
    """
    require_columns(frame, CELL_KEYS, "indicator_lines")
    # Work on integer codes: one vocabulary per key column.
    codes: dict[str, np.ndarray] = {}
    vocab: dict[str, pd.Index] = {}
    for col in CELL_KEYS:
        code, uniq = pd.factorize(frame[col].astype("str"))
        codes[col], vocab[col] = code.astype(np.int64), pd.Index(uniq, dtype=object)
    n_date, n_view = len(vocab["reporting_date"]) or 1, len(vocab["view"]) or 1
    df = pd.DataFrame(
        {
            "t": (codes["indicator_id"] * n_date + codes["reporting_date"]) * n_view
            + codes["view"],
            "area_type": codes["area_type"],
            "area": codes["area"],
            "breakdown": codes["breakdown"],
            "group": codes["group"],
            "cell": np.arange(len(frame), dtype=np.int64),
        }
    )
    parts: list[pd.DataFrame] = []
    b_vocab = vocab["breakdown"]
    overall_code = int(b_vocab.get_indexer(["overall"])[0])
    cross_of_code = np.array(["*" in str(b) for b in b_vocab], dtype=bool)
    is_cross = cross_of_code[df["breakdown"].to_numpy()] if len(df) else np.zeros(0, bool)

    # 1-D breakdown lines: the groups plus the overall row of the same area.
    area_key = ["t", "area_type", "area"]
    overall = df[df["breakdown"] == overall_code]
    one_d = df[(df["breakdown"] != overall_code) & ~is_cross]
    if len(one_d):
        members = one_d[[*area_key, "breakdown", "cell"]]
        totals = (
            members[[*area_key, "breakdown"]]
            .drop_duplicates()
            .merge(overall[[*area_key, "cell"]], on=area_key)
        )
        parts.append(pd.concat([members, totals], ignore_index=True))

    # Cross lines: each row and each column of the matrix, with its margin if published.
    cross = df[is_cross]
    if len(cross):
        b_parts = [str(b).split("*", 1) if "*" in str(b) else [str(b), ""] for b in b_vocab]
        g_parts = [str(g).split(CROSS_SEP, 1) for g in vocab["group"]]
        g_parts = [p if len(p) == 2 else [p[0], ""] for p in g_parts]
        # extend the vocabularies so that a margin that is not published still has a code
        b_ext = pd.Index([*b_vocab, *(x for p in b_parts for x in p)]).unique()
        g_ext = pd.Index([*vocab["group"], *(x for p in g_parts for x in p)]).unique()
        b1 = b_ext.get_indexer([p[0] for p in b_parts])
        b2 = b_ext.get_indexer([p[1] for p in b_parts])
        g1 = g_ext.get_indexer([p[0] for p in g_parts])
        g2 = g_ext.get_indexer([p[1] for p in g_parts])
        bc, gc = cross["breakdown"].to_numpy(), cross["group"].to_numpy()
        cross = cross.assign(b1=b1[bc], b2=b2[bc], g1=g1[gc], g2=g2[gc])
        margins = df[[*area_key, "breakdown", "group", "cell"]]
        for fixed_b, fixed_g in (("b1", "g1"), ("b2", "g2")):
            key = [*area_key, "breakdown", fixed_b, fixed_g]
            members = cross[[*key, "cell"]]
            tot = (
                members[key]
                .drop_duplicates()
                .merge(
                    margins.rename(columns={"breakdown": fixed_b, "group": fixed_g}),
                    on=[*area_key, fixed_b, fixed_g],
                )
            )
            parts.append(pd.concat([members, tot[[*key, "cell"]]], ignore_index=True))

    # Area lines: children of each parent within a breakdown and group.
    at_vocab, a_vocab = vocab["area_type"], vocab["area"]
    if parents is None:
        bsol_type = int(at_vocab.get_indexer(["BSOL"])[0])
        bsol_area = int(a_vocab.get_indexer(["BSOL"])[0])
        links = df.loc[df["area_type"] != bsol_type, ["area_type", "area"]].drop_duplicates()
        links = links.assign(parent_type=bsol_type, parent=bsol_area)
    else:
        require_columns(parents, ["area_type", "area", "parent_type", "parent"], "indicator_lines")
        text = parents[["area_type", "area", "parent_type", "parent"]].astype("str")
        links = pd.DataFrame(
            {
                "area_type": at_vocab.get_indexer(text["area_type"]),
                "area": a_vocab.get_indexer(text["area"]),
                "parent_type": at_vocab.get_indexer(text["parent_type"]),
                "parent": a_vocab.get_indexer(text["parent"]),
            }
        )
    links = links[(links >= 0).all(axis=1)].drop_duplicates()
    if len(links):
        cell_key = ["t", "breakdown", "group"]
        children = df.merge(links, on=["area_type", "area"])
        members = children[[*cell_key, "parent_type", "parent", "area_type", "cell"]]
        tot = (
            members[[*cell_key, "parent_type", "parent", "area_type"]]
            .drop_duplicates()
            .merge(
                df[[*cell_key, "area_type", "area", "cell"]].rename(
                    columns={"area_type": "parent_type", "area": "parent"}
                ),
                on=[*cell_key, "parent_type", "parent"],
            )
        )
        parts.append(pd.concat([members, tot], ignore_index=True))

    if not parts:
        return pd.DataFrame({"line": pd.Series(dtype="int64"), "cell": pd.Series(dtype="int64")})
    out = []
    offset = 0
    for part in parts:
        keys = [c for c in part.columns if c != "cell"]
        line = part.groupby(keys, sort=False).ngroup().to_numpy(dtype=np.int64)
        out.append(pd.DataFrame({"line": line + offset, "cell": part["cell"].to_numpy()}))
        offset += int(line.max()) + 1 if len(line) else 0
    lines = pd.concat(out, ignore_index=True).drop_duplicates()
    # A line of one cell protects nothing (and cannot be protected): drop it.
    sizes = lines.groupby("line")["cell"].transform("size")
    lines = lines[sizes > 1]
    lines = lines.assign(line=pd.factorize(lines["line"])[0])
    return lines.sort_values(["line", "cell"], kind="stable").reset_index(drop=True)


def people_denominator(indicator_ids: pd.Series | Sequence[str]) -> np.ndarray:
    """Whether each indicator id's denominator is a count of people.

    Ids ending in one of :data:`EXPECTED_DENOMINATOR_SUFFIXES` (``_RVE``) have an expected
    count as denominator.

    Examples:
        >>> people_denominator(["DM_PREV", "DM_PREV_DSR", "DM_PREV_RVE"])
        array([ True,  True, False])
    """
    ids = pd.Series(indicator_ids, dtype="str")
    return ~ids.str.endswith(EXPECTED_DENOMINATOR_SUFFIXES).to_numpy(dtype=bool)


def blank_suppressed(frame: pd.DataFrame, columns: Sequence[str] = BLANKED_COLUMNS) -> pd.DataFrame:
    """Set the values of suppressed rows to missing (a copy; rows are never dropped).

    Examples:
        >>> df = pd.DataFrame({"value": [5.0, 9.0], "numerator": [3, 40],
        ...                    "suppressed": [True, False]})
        >>> blank_suppressed(df)
           value  numerator  suppressed
        0    NaN        NaN        True
        1    9.0       40.0       False
    """
    require_columns(frame, ["suppressed"], "blank_suppressed")
    out = frame.copy()
    mask = out["suppressed"].to_numpy(dtype=bool)
    for col in columns:
        if col in out.columns:
            if not pd.api.types.is_float_dtype(out[col]) and pd.api.types.is_numeric_dtype(
                out[col]
            ):
                out[col] = out[col].astype("float64")
            out.loc[mask, col] = np.nan
    if "comparison" in out.columns and mask.any():
        out.loc[mask, "comparison"] = "not compared"
    return out


def apply_sdc(
    frame: pd.DataFrame,
    policy: SDCPolicy = DEFAULT_POLICY,
    *,
    parents: pd.DataFrame | None = None,
    linked: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Apply the policy to a tidy indicator frame: primary, secondary, linked, blanking.

    Args:
        frame: the tidy indicator frame (``docs/architecture.md``), with counts filled in.
        policy: the disclosure-control policy.
        parents: area hierarchy for area lines (see :func:`indicator_lines`).
        linked: derived indicator id -> base indicator id whose counts it shares (e.g.
            ``{"HYP_PREV_DSR": "HYP_PREV"}``); a derived row is suppressed exactly when its
            base cell is, so its counts cannot reveal a protected base cell.

    Rows whose denominator is not a count of people (``_RVE`` ids, see
    :func:`people_denominator`) are tested on their numerator only.

    Returns:
        A new frame with ``suppressed`` and ``suppression_reason`` set and the values,
        limits and counts of suppressed rows missing. Row order is preserved.

    Raises:
        ParameterError: the frame lacks a required column.

    Examples:
        >>> df = pd.DataFrame({"indicator_id": "X", "reporting_date": "2025-03-31",
        ...     "view": "practice", "area_type": "BSOL", "area": "BSOL",
        ...     "breakdown": ["overall", "sex", "sex", "sex"],
        ...     "group": ["All", "Female", "Male", "Unknown"],
        ...     "value": [30.0, 30.0, 30.0, 40.0],
        ...     "numerator": [63, 30, 30, 3], "denominator": [210, 100, 100, 10]})
        >>> apply_sdc(df)[["group", "numerator", "suppressed", "suppression_reason"]]
             group  numerator  suppressed                suppression_reason
        0      All       63.0       False                               NaN
        1   Female        NaN        True  secondary: protects another cell
        2     Male       30.0       False                               NaN
        3  Unknown        NaN        True                primary: count 1-7
    """
    require_columns(frame, [*CELL_KEYS, "numerator", "denominator"], "apply_sdc")
    out = primary_suppression(
        frame.reset_index(drop=True), policy, people=people_denominator(frame["indicator_id"])
    )
    linked = dict(linked or {})
    ids = out["indicator_id"].astype("str")
    is_derived = ids.isin(list(linked)).to_numpy()
    if policy.secondary:
        base_pos = np.flatnonzero(~is_derived)
        base = out.iloc[base_pos]
        cell_keys = list(CELL_KEYS)
        # One cell per CELL_KEYS (several confidence levels share the cell).
        if "confidence" in base.columns and base["confidence"].nunique() > 1:
            grouped = base.groupby(cell_keys, sort=False, observed=True, dropna=False)
            cell_code = grouped.ngroup().to_numpy(dtype=np.int64)
        else:
            cell_code = np.arange(len(base), dtype=np.int64)
        first = ~pd.Series(cell_code).duplicated().to_numpy()
        cells = base.loc[base.index[first], cell_keys].reset_index(drop=True)
        n_cells = len(cells)
        sup0 = np.zeros(n_cells, bool)
        np.logical_or.at(sup0, cell_code, base["suppressed"].to_numpy(dtype=bool))
        size = np.zeros(n_cells)
        tie = np.zeros(n_cells)
        size[cell_code] = pd.to_numeric(base["numerator"], errors="coerce").to_numpy(float)
        tie[cell_code] = pd.to_numeric(base["denominator"], errors="coerce").to_numpy(float)
        lines = indicator_lines(cells, parents)
        sup = secondary_suppression(
            sup0,
            lines,
            size=size,
            tiebreak=tie,
            numerator=size,
            denominator=tie,
            policy=policy,
            max_iterations=policy.max_iterations,
        )
        newly = sup[cell_code] & ~base["suppressed"].to_numpy(dtype=bool)
        idx = out.index[base_pos[newly]]
        out.loc[idx, "suppressed"] = True
        out.loc[idx, "suppression_reason"] = REASON_SECONDARY
    if is_derived.any():
        other = [c for c in CELL_KEYS if c != "indicator_id"]
        derived = out.loc[is_derived, [*other]].astype("str")
        derived["base_id"] = ids[is_derived].map(linked).to_numpy()
        base_cells = out.loc[~is_derived, [*other, "indicator_id", "suppressed"]]
        base_cells = base_cells.astype({c: "str" for c in [*other, "indicator_id"]})
        base_cells = base_cells.groupby([*other, "indicator_id"], as_index=False)[
            "suppressed"
        ].max()
        hit = derived.reset_index().merge(
            base_cells.rename(columns={"indicator_id": "base_id", "suppressed": "base_sup"}),
            on=[*other, "base_id"],
            how="left",
        )
        flag = hit["base_sup"].fillna(False).to_numpy(dtype=bool)
        rows = hit.loc[flag, "index"].to_numpy()
        fresh = rows[~out.loc[rows, "suppressed"].to_numpy(dtype=bool)]
        out.loc[fresh, "suppressed"] = True
        reasons = {i: REASON_LINKED.format(base=b) for i, b in linked.items()}
        out.loc[fresh, "suppression_reason"] = ids.loc[fresh].map(reasons)
    out = blank_suppressed(out)
    out.index = frame.index
    return out
