"""User-facing errors.

Every error a user can cause (a malformed extract, a bad parameter) is a :class:`BsolError`.
The command line prints its message as one plain-English paragraph, with no traceback, and
exits with :attr:`BsolError.exit_code`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence


class BsolError(Exception):
    """A problem the user can fix; shown without a traceback.

    Examples:
        >>> str(BsolError("The reporting date 2025-13-01 is not a real date."))
        'The reporting date 2025-13-01 is not a real date.'
    """

    exit_code: int = 2


class ParameterError(BsolError):
    """An invalid command-line or notebook parameter.

    Examples:
        >>> ParameterError("--jobs must be 1 or more, not 0.").exit_code
        2
    """


class ExtractError(BsolError):
    """An extract that breaks the data contract.

    Args:
        table: the contract table, e.g. ``"patients"``.
        column: the column concerned, or ``None`` for a table-level problem.
        rule: what the contract requires, in plain English.
        rows: a few example row numbers (1-based data rows, header excluded).
        hint: what to do about it.

    Examples:
        >>> err = ExtractError("patients", "date_of_birth", "must be a date", rows=[3, 9])
        >>> print(err)
        Table 'patients', column 'date_of_birth': must be a date (example rows: 3, 9).
    """

    exit_code = 3

    def __init__(
        self,
        table: str,
        column: str | None,
        rule: str,
        rows: Sequence[int] | None = None,
        hint: str | None = None,
    ) -> None:
        self.table = table
        self.column = column
        self.rule = rule
        self.rows = list(rows or [])
        self.hint = hint
        where = f"Table '{table}'" + (f", column '{column}'" if column else "")
        msg = f"{where}: {rule}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:5])
            msg += f" (example rows: {shown})"
        msg += "."
        if hint:
            msg += f" {hint}"
        super().__init__(msg)


class FileAccessError(BsolError):
    """A file or folder the command needs could not be read or written.

    Examples:
        >>> isinstance(FileAccessError("bsol packs could not use /reports."), BsolError)
        True
    """


@contextlib.contextmanager
def file_errors(command: str) -> Iterator[None]:
    """Report a file the command cannot read or write as a user error, not a traceback.

    An operating-system error (no such folder, permission denied, disk full) becomes a
    :class:`FileAccessError` naming the file, which the command line prints as one sentence.

    Args:
        command: the command, for the message (e.g. ``"bsol prepare"``).

    Examples:
        >>> with file_errors("bsol prepare"):
        ...     open("/no/such/folder/x.csv")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.FileAccessError: bsol prepare could not use /no/such/folder...
    """
    try:
        yield
    except OSError as err:
        where = err.filename or "a file"
        reason = err.strerror or str(err)
        raise FileAccessError(
            f"{command} could not use {where}: {reason}. Check that it exists and that you "
            "may read it (input) or write to it (output)."
        ) from err
