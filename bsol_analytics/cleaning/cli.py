"""``bsol validate`` and ``bsol prepare``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bsol_analytics.cleaning.pipeline import Steps, prepare, prepare_tables
from bsol_analytics.cleaning.quality import QualityLog, data_quality_summary
from bsol_analytics.errors import file_errors

__all__ = ["cli_prepare", "cli_validate", "print_data_quality"]


def print_data_quality(summary: dict[str, Any], *, file: Any = None) -> None:
    """Print the data-quality summary as ``rich`` tables (plain text when not a terminal).

    Examples:
        >>> import io
        >>> buf = io.StringIO()
        >>> print_data_quality(data_quality_summary(QualityLog(rows_read={"patients": 5})),
        ...                    file=buf)
        >>> "patients" in buf.getvalue()
        True
    """
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file or sys.stdout, width=110)
    status = summary["status"]
    console.print(f"[bold]Data-quality summary[/bold]: {status}", highlight=False)
    rows = Table(title="Rows by table", title_justify="left")
    rows.add_column("table")
    rows.add_column("read", justify="right")
    rows.add_column("dropped", justify="right")
    rows.add_column("written", justify="right")
    written = summary.get("rows_written") or {}
    dropped = summary.get("dropped_by_table") or {}
    for table, n in summary["rows_read"].items():
        rows.add_row(
            table,
            f"{n:,}",
            f"{sum(dropped.get(table, {}).values()):,}",
            f"{written[table]:,}" if table in written else "",
        )
    console.print(rows)
    if summary["dropped"] or summary["recoded"]:
        rules = Table(title="Rows dropped or recoded, by rule", title_justify="left")
        for col in ("table", "column", "rule", "rows", "action", "example rows"):
            rules.add_column(col, justify="right" if col == "rows" else "left")
        for e in summary["dropped"] + summary["recoded"]:
            rules.add_row(
                e["table"],
                e["column"] or "",
                e["description"],
                f"{e['rows']:,}",
                e["action"],
                ", ".join(str(r) for r in e["example_rows"]),
            )
        console.print(rules)
    facts = Table(title="Coverage", title_justify="left", show_header=False)
    facts.add_column("item")
    facts.add_column("value")
    um = summary["unmapped_codes"]
    facts.add_row("unmapped codes", f"{um['rows']:,} rows, {um['distinct']:,} distinct codes")
    facts.add_row("unknown practices", f"{summary['unknown_practices']['rows']:,} patients")
    for key, label in (
        ("missing_ethnicity_share", "ethnicity unknown"),
        ("missing_lsoa_share", "LSOA missing or outside BSOL"),
    ):
        v = summary.get(key)
        facts.add_row(label, "n/a" if v is None else f"{v:.1%}")
    rng = summary.get("event_date_range")
    if rng:
        facts.add_row("event dates", f"{rng[0]} to {rng[1]}")
    if summary.get("default_reporting_date"):
        facts.add_row("default reporting date", summary["default_reporting_date"])
    if summary.get("admissions_supplied") is not None:
        facts.add_row("admissions supplied", "yes" if summary["admissions_supplied"] else "no")
    console.print(facts)
    for note in summary.get("notes", []):
        console.print(f"Note: {note}", highlight=False)
    if summary.get("refusal"):
        console.print(f"[bold red]Refused[/bold red]: {summary['refusal']}", highlight=False)


def _emit(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        print_data_quality(summary)


def cli_validate(args: argparse.Namespace) -> int:
    """Check an extract against the contract and print its data-quality summary.

    Args:
        args: ``extract``, ``quiet`` and ``json`` (see :mod:`bsol_analytics.cli`).

    Returns:
        0 when the extract is usable.

    Raises:
        ExtractError: the extract is refused (exit 3), after the summary is printed.
        FileAccessError: a file of the extract cannot be read.

    Examples:
        >>> import contextlib, io
        >>> from bsol_analytics import synth
        >>> ext = synth.sample_extract()
        >>> with contextlib.redirect_stdout(io.StringIO()) as printed:
        ...     code = cli_validate(argparse.Namespace(extract=ext, quiet=True, json=True))
        >>> code, json.loads(printed.getvalue())["status"]
        (0, 'usable')
    """
    log = QualityLog()
    try:
        with file_errors("bsol validate"), Steps(enabled=not args.quiet) as steps:
            _, summary = prepare_tables(args.extract, log=log, steps=steps)
    except Exception:
        if log.refusal:
            _emit(data_quality_summary(log), getattr(args, "json", False))
        raise
    _emit(summary, getattr(args, "json", False))
    return 0


def cli_prepare(args: argparse.Namespace) -> int:
    """Clean an extract into ``--out`` and print the data-quality summary.

    Args:
        args: ``extract``, ``out`` and ``quiet`` (see :mod:`bsol_analytics.cli`).

    Returns:
        0 when the processed tables were written.

    Raises:
        ExtractError: the extract is refused (exit 3); ``--out`` is left as it was.
        FileAccessError: the extract cannot be read or ``--out`` cannot be written.

    Examples:
        >>> from bsol_analytics import synth
        >>> ext = synth.sample_extract()
        >>> out = ext.parent / "prepared"
        >>> cli_prepare(argparse.Namespace(extract=ext, out=out, quiet=True))
        0
        >>> sorted(p.name for p in out.glob("*.json"))
        ['data_quality.json', 'prepare_manifest.json']
    """
    log = QualityLog()
    try:
        with file_errors("bsol prepare"):
            summary = prepare(args.extract, args.out, progress=not args.quiet, log=log)
    except Exception:
        if log.refusal and not args.quiet:
            print_data_quality(data_quality_summary(log))
        raise
    if not args.quiet:
        print_data_quality(summary)
        print(f"Wrote the processed tables to {args.out}")
    return 0
