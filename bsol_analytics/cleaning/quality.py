"""Counting what cleaning does: the quality log, refusals and the data-quality summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bsol_analytics.contract import CONTRACT_VERSION, MALFORMED_SHARE
from bsol_analytics.errors import ExtractError

__all__ = [
    "RULES",
    "Drop",
    "QualityLog",
    "data_quality_summary",
    "example_rows",
    "render_data_quality",
]

#: Every rule that drops or recodes rows, with the plain-English text used in messages.
RULES: dict[str, str] = {
    "malformed_row": "rows with the wrong number of fields",
    "blank_patient_id": "patient_id is blank",
    "invalid_date": "is not a valid date (YYYY-MM-DD, YYYY-MM or DD/MM/YYYY, "
    "from 1890-01-01 to today)",
    "invalid_sex": "sex is not M, F or U (nor Male, Female, 1, 2, 9 or 0)",
    "blank_sex": "sex is blank (recorded as U)",
    "unknown_practice": "practice_code is not a Birmingham and Solihull GP practice",
    "death_before_birth": "date_of_death is before date_of_birth",
    "registration_end_before_start": "registration_end is before registration_start",
    "unknown_patient": "patient_id is not in the patients table",
    "patient_dropped": "the patient's row in patients was dropped",
    "blank_code": "the code (snomed_code or dmd_code) is blank",
    "unmapped_code": "snomed_code is in none of the suite's codelists",
    "unknown_dmd_code": "dmd_code is in none of the suite's medication codelists",
    "invalid_icd10_code": "is not an ICD-10 code (a letter, two digits and optionally a "
    "fourth character; recorded as blank)",
    "missing_value": "a blood pressure, HbA1c or cholesterol code has no numeric_value",
    "implausible_value": "numeric_value is outside the plausible range "
    "(systolic 50-300, diastolic 20-200 mmHg, HbA1c 20-200 mmol/mol, "
    "cholesterol above 0 and at most 30 mmol/L)",
    "not_a_number": "numeric_value is not a number (recorded as blank)",
    "duplicate": "exact duplicate of an earlier row",
    "before_birth": "dated before the patient's date of birth",
    "after_death": "dated after the patient's date of death",
    "unknown_programme": "programme is not breast, cervical or bowel",
    "unknown_outcome": "outcome is not adequate or inadequate",
    "unknown_admission_method": "admission_method is not emergency or elective",
    "unrecognised_place_of_death": "place_of_death is not home, care home, hospital, "
    "hospice or other (recorded as blank)",
    "unmapped_ethnicity_code": "ethnicity_code is neither a SNOMED CT ethnicity code nor an "
    "NHS ethnic category (recorded as Unknown)",
    "lsoa_not_bsol": "lsoa_code is not a Birmingham or Solihull LSOA 2011/2021 "
    "(residence geography left blank)",
}


def example_rows(frame: pd.DataFrame, mask: np.ndarray) -> list[int]:
    """The first five 1-based data-row numbers where ``mask`` is true.

    The index of a table read by the cleaning layer holds 0-based data-row numbers of the
    file (header excluded), so row 1 is the first data row.

    Examples:
        >>> example_rows(pd.DataFrame({"x": range(4)}), np.array([False, True, False, True]))
        [2, 4]
    """
    return [int(i) + 1 for i in frame.index[mask][:5]]


@dataclass(frozen=True)
class Drop:
    """One rule for :meth:`QualityLog.drop_in_turn`: the failing rows and how to count them.

    Attributes:
        mask: rows failing the rule.
        column: the column concerned (``None`` for a whole-row rule).
        rule: a key of :data:`RULES`.
        limit: refuse the extract above this share of the table's rows read (``None``: never).
        hint: what the user should do, for the refusal message.
    """

    mask: np.ndarray | pd.Series
    column: str | None
    rule: str
    limit: float | None = MALFORMED_SHARE
    hint: str | None = None


@dataclass
class Entry:
    """One rule applied to one column of one table.

    Examples:
        >>> Entry("patients", "sex", "invalid_sex", 2, [4, 9], "dropped").as_dict()["rows"]
        2
    """

    table: str
    column: str | None
    rule: str
    rows: int
    example_rows: list[int]
    action: str  # "dropped" or "recoded"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the rule's plain-English description (see the class example)."""
        return {
            "table": self.table,
            "column": self.column,
            "rule": self.rule,
            "description": RULES.get(self.rule, self.rule),
            "rows": self.rows,
            "example_rows": self.example_rows,
            "action": self.action,
        }


@dataclass
class QualityLog:
    """Everything cleaning counted: rows read, rows dropped or recoded by rule, notes.

    Rule functions report to it; :meth:`drop` also enforces the contract's 1% limit.

    Examples:
        >>> log = QualityLog()
        >>> log.rows_read["screening"] = 200
        >>> df = pd.DataFrame({"x": range(200)})
        >>> kept = log.drop(df, df["x"] == 7, "screening", "outcome", "unknown_outcome")
        >>> len(kept), log.dropped_by_table()
        (199, {'screening': {'unknown_outcome': 1}})
    """

    rows_read: dict[str, int] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    extract: str | None = None
    refusal: str | None = None

    def _record(
        self,
        frame: pd.DataFrame,
        mask: np.ndarray,
        table: str,
        column: str | None,
        rule: str,
        limit: float | None,
        hint: str | None,
        action: str,
    ) -> int:
        """Count the rows where ``mask`` is true, refuse above ``limit``; returns the count."""
        n = int(mask.sum())
        if n:
            examples = example_rows(frame, mask)
            self._check(table, column, rule, n, examples, limit, hint)
            self.entries.append(Entry(table, column, rule, n, examples, action))
        return n

    def _check(
        self,
        table: str,
        column: str | None,
        rule: str,
        n: int,
        examples: list[int],
        limit: float | None,
        hint: str | None,
    ) -> None:
        total = self.rows_read.get(table, 0)
        if limit is not None and total and n > limit * total:
            share = n / total
            text = RULES.get(rule, rule)
            raise ExtractError(
                table,
                column,
                f"{n:,} of {total:,} rows ({share:.1%}) fail the rule '{text}', more than "
                f"the {limit:.0%} the contract allows, so the extract is refused as malformed",
                rows=examples,
                hint=hint or "Fix the export and run again.",
            )

    def drop(
        self,
        frame: pd.DataFrame,
        mask: pd.Series | np.ndarray,
        table: str,
        column: str | None,
        rule: str,
        *,
        limit: float | None = MALFORMED_SHARE,
        hint: str | None = None,
    ) -> pd.DataFrame:
        """Drop the rows where ``mask`` is true, count them, refuse above ``limit``.

        Args:
            frame: the table (its index holds 0-based data-row numbers of the file).
            mask: rows failing the rule.
            table: the contract table.
            column: the column concerned (``None`` for a whole-row rule).
            rule: a key of :data:`RULES`.
            limit: refuse the extract when more than this share of the table's rows read
                fail; ``None`` never refuses.
            hint: what the user should do, for the refusal message.

        Returns:
            The rows that pass (a new frame).

        Raises:
            ExtractError: when the limit is exceeded.
        """
        m = np.asarray(mask, dtype=bool)
        if not self._record(frame, m, table, column, rule, limit, hint, "dropped"):
            return frame.copy(deep=False)  # a new frame sharing the data (copy-on-write)
        return frame[~m]

    def drop_in_turn(self, frame: pd.DataFrame, table: str, drops: list[Drop]) -> pd.DataFrame:
        """:meth:`drop` for each of ``drops`` in turn, copying the frame once.

        Each mask is over the rows of ``frame``; a row is counted by the first rule it fails,
        so the counts, example rows and refusals are those of calling :meth:`drop` rule by
        rule, provided each rule looks at its own row only (not, like duplicates, at others).

        Args:
            frame: the table (its index holds 0-based data-row numbers of the file).
            table: the contract table.
            drops: the rules, in the order they are counted.

        Returns:
            The rows that pass every rule (a new frame).

        Raises:
            ExtractError: when a rule's limit is exceeded (the rules before it are counted).

        Examples:
            >>> log = QualityLog(rows_read={"screening": 4})
            >>> df = pd.DataFrame({"x": [1, 2, 3, 4]})
            >>> kept = log.drop_in_turn(df, "screening", [
            ...     Drop(df["x"] > 2, "x", "unknown_outcome", limit=None),
            ...     Drop(df["x"] > 1, "x", "unknown_programme", limit=None)])
            >>> kept["x"].tolist(), log.dropped_by_table()
            ([1], {'screening': {'unknown_outcome': 2, 'unknown_programme': 1}})
        """
        gone = np.zeros(len(frame), dtype=bool)
        for d in drops:
            m = np.asarray(d.mask, dtype=bool) & ~gone
            if self._record(frame, m, table, d.column, d.rule, d.limit, d.hint, "dropped"):
                gone |= m
        if not gone.any():
            return frame.copy(deep=False)
        return frame[~gone]

    def recode(
        self,
        frame: pd.DataFrame,
        mask: pd.Series | np.ndarray,
        table: str,
        column: str | None,
        rule: str,
        *,
        limit: float | None = None,
        hint: str | None = None,
    ) -> int:
        """Count rows whose value was replaced (kept, not dropped); returns the count.

        Examples:
            >>> log = QualityLog(rows_read={"patients": 3})
            >>> df = pd.DataFrame({"sex": ["M", "", "F"]})
            >>> log.recode(df, df["sex"] == "", "patients", "sex", "blank_sex")
            1
            >>> log.entries[0].example_rows
            [2]
        """
        return self._record(
            frame, np.asarray(mask, dtype=bool), table, column, rule, limit, hint, "recoded"
        )

    def count(self, table: str, column: str | None, rule: str, n: int, action: str) -> None:
        """Record a count computed elsewhere (e.g. rows skipped by the CSV reader).

        Examples:
            >>> log = QualityLog()
            >>> log.count("patients", None, "malformed_row", 3, "dropped")
            >>> log.dropped_by_table()
            {'patients': {'malformed_row': 3}}
        """
        if n:
            self.entries.append(Entry(table, column, rule, int(n), [], action))

    def merge(self, other: QualityLog) -> None:
        """Add ``other``'s counts, entries, notes and facts to this log (after its own).

        ``extract`` and ``refusal`` describe this log's run and are kept.

        Args:
            other: a log filled elsewhere (a table read in another thread).

        Examples:
            >>> log = QualityLog(rows_read={"patients": 3}, notes=["a"])
            >>> part = QualityLog(rows_read={"screening": 2}, notes=["b"])
            >>> part.count("screening", None, "malformed_row", 1, "dropped")
            >>> log.merge(part)
            >>> log.rows_read, log.notes, log.dropped_by_table()
            ({'patients': 3, 'screening': 2}, ['a', 'b'], {'screening': {'malformed_row': 1}})
        """
        self.rows_read.update(other.rows_read)
        self.entries.extend(other.entries)
        self.notes.extend(other.notes)
        self.facts.update(other.facts)

    def dropped_by_table(self) -> dict[str, dict[str, int]]:
        """``{table: {rule: rows dropped}}`` (see :meth:`count` and the class example)."""
        out: dict[str, dict[str, int]] = {}
        for e in self.entries:
            if e.action == "dropped":
                by_rule = out.setdefault(e.table, {})
                by_rule[e.rule] = by_rule.get(e.rule, 0) + e.rows
        return out


def data_quality_summary(log: QualityLog) -> dict[str, Any]:
    """The run's data-quality summary as a JSON-ready dict.

    Keys: ``status`` (``usable``/``refused``), ``refusal``, ``contract_version``,
    ``extract``, ``rows_read``, ``rows_written``, ``dropped`` (list of entries by table,
    column and rule), ``dropped_by_table``, ``recoded``, ``unmapped_codes``,
    ``missing_ethnicity_share``, ``missing_lsoa_share``, ``lsoa_outside_bsol``,
    ``unknown_practices``, ``event_date_range``, ``default_reporting_date``,
    ``admissions_supplied``, ``tables_supplied`` and ``unknown_dmd_codes`` (contract
    version 2), ``notes``.

    Examples:
        >>> s = data_quality_summary(QualityLog(rows_read={"patients": 10}))
        >>> s["status"], s["rows_read"]
        ('usable', {'patients': 10})
    """
    f = log.facts
    return {
        "status": "refused" if log.refusal else "usable",
        "refusal": log.refusal,
        "contract_version": CONTRACT_VERSION,
        "extract": log.extract,
        "rows_read": dict(log.rows_read),
        "rows_written": f.get("rows_written", {}),
        "dropped": [e.as_dict() for e in log.entries if e.action == "dropped"],
        "dropped_by_table": log.dropped_by_table(),
        "recoded": [e.as_dict() for e in log.entries if e.action == "recoded"],
        "unmapped_codes": f.get("unmapped_codes", {"rows": 0, "distinct": 0, "top": []}),
        "missing_ethnicity_share": f.get("missing_ethnicity_share"),
        "missing_lsoa_share": f.get("missing_lsoa_share"),
        "lsoa_outside_bsol": f.get("lsoa_outside_bsol", 0),
        "unknown_practices": f.get("unknown_practices", {"rows": 0, "codes": []}),
        "event_date_range": f.get("event_date_range"),
        "default_reporting_date": f.get("default_reporting_date"),
        "admissions_supplied": f.get("admissions_supplied"),
        "tables_supplied": f.get("tables_supplied"),
        "unknown_dmd_codes": f.get("unknown_dmd_codes", {"rows": 0, "distinct": 0, "top": []}),
        "notes": list(log.notes),
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def render_data_quality(summary: dict[str, Any]) -> str:
    """Plain-text rendering of :func:`data_quality_summary` (for logs and e-mails).

    Examples:
        >>> print(render_data_quality(data_quality_summary(QualityLog(rows_read={"patients": 3}))))
        ... # doctest: +ELLIPSIS
        Data-quality summary: usable
        Rows read
          patients                    3
        ...
    """
    lines = [f"Data-quality summary: {summary['status']}"]
    if summary.get("refusal"):
        lines.append(f"Refused: {summary['refusal']}")
    lines.append("Rows read")
    written = summary.get("rows_written") or {}
    for table, n in summary["rows_read"].items():
        w = f"   written {written[table]:>12,}" if table in written else ""
        lines.append(f"  {table:<20}{n:>12,}{w}")
    lines.append("Rows dropped")
    if not summary["dropped"]:
        lines.append("  none")
    for e in summary["dropped"]:
        col = f".{e['column']}" if e["column"] else ""
        lines.append(f"  {e['table'] + col:<34}{e['rows']:>12,}  {e['description']}")
    if summary["recoded"]:
        lines.append("Values recoded (rows kept)")
        for e in summary["recoded"]:
            col = f".{e['column']}" if e["column"] else ""
            lines.append(f"  {e['table'] + col:<34}{e['rows']:>12,}  {e['description']}")
    um = summary["unmapped_codes"]
    lines.append(f"Unmapped codes: {um['rows']:,} rows, {um['distinct']:,} distinct codes")
    up = summary["unknown_practices"]
    lines.append(f"Unknown practices: {up['rows']:,} patients")
    lines.append(f"Missing ethnicity: {_pct(summary['missing_ethnicity_share'])}")
    lines.append(f"Missing or non-BSOL LSOA: {_pct(summary['missing_lsoa_share'])}")
    rng = summary.get("event_date_range")
    if rng:
        lines.append(f"Event dates: {rng[0]} to {rng[1]}")
    if summary.get("default_reporting_date"):
        lines.append(f"Default reporting date: {summary['default_reporting_date']}")
    if summary.get("admissions_supplied") is not None:
        lines.append(f"Admissions supplied: {'yes' if summary['admissions_supplied'] else 'no'}")
    for note in summary.get("notes", []):
        lines.append(f"Note: {note}")
    return "\n".join(lines)
