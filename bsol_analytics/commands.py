"""The commands layer: what each ``bsol`` subcommand does with its parsed arguments.

:mod:`bsol_analytics.cli` parses and checks the arguments (the ``type=`` functions here
turn text into values at the edge); each ``cli_*`` function calls the domain layers and
returns the exit code. Nothing below this layer imports it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from bsol_analytics.dates import parse_date
from bsol_analytics.errors import ParameterError, file_errors
from bsol_analytics.io import atomic_write_bytes, atomic_write_text
from bsol_analytics.protection import audit_manifest, audit_published, manifest_path
from bsol_analytics.table import indicator_table, parse_by, skipped_indicators

# Each command imports the layers only it needs (cleaning and its schemas, the packs and
# their charts, the synthetic extract) inside its function: ``bsol indicators`` starts
# without them.

log = logging.getLogger("bsol_analytics.commands")


# --------------------------------------------------------------------------------------
# Argument types (argparse ``type=``)
# --------------------------------------------------------------------------------------


def reporting_date_arg(text: str) -> dt.date:
    """``--date``: a reporting date ``YYYY-MM-DD`` (argparse ``type=``).

    Examples:
        >>> reporting_date_arg("2025-03-31")
        datetime.date(2025, 3, 31)
    """
    return parse_date(text, "--date")


def by_arg(text: str) -> str:
    """``--by``: area types and breakdowns, checked (argparse ``type=``).

    Examples:
        >>> by_arg("locality,imd_quintile")
        'locality,imd_quintile'
    """
    parse_by(text)
    return text


def ids_arg(text: str) -> list[str]:
    """``--indicators``: comma-separated indicator ids (argparse ``type=``).

    Examples:
        >>> ids_arg("HYP_PREV, DM_PREV")
        ['HYP_PREV', 'DM_PREV']
    """
    ids = [i.strip() for i in text.split(",") if i.strip()]
    if not ids:
        raise ParameterError("--indicators is empty: name at least one indicator id.")
    return ids


def positive_int(what: str) -> Callable[[str], int]:
    """An argparse ``type=`` for a whole number of at least 1, named ``what`` in errors.

    Examples:
        >>> positive_int("--jobs")("2")
        2
        >>> positive_int("--jobs")("0")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: --jobs must be a whole number of 1 or more, not '0'.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise ParameterError(f"{what} must be a whole number of 1 or more, not {text!r}.")
        return value

    return parse


def localities_arg(text: str) -> list[str]:
    """``--localities``: comma-separated localities or BSOL, any case (argparse ``type=``).

    Examples:
        >>> localities_arg("east, bsol")
        ['East', 'BSOL']
    """
    from bsol_analytics.report import parse_localities

    return parse_localities(text)


def out_table_path(text: str) -> Path:
    """``--out`` of ``bsol indicators``: a ``.csv`` or ``.parquet`` file (argparse ``type=``).

    Examples:
        >>> out_table_path("table.xlsx")
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: --out table.xlsx must end in .csv or .parquet.
    """
    out = Path(text)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ParameterError(f"--out {out} must end in .csv or .parquet.")
    return out


# --------------------------------------------------------------------------------------
# bsol synth, validate, prepare
# --------------------------------------------------------------------------------------


def cli_synth(args: argparse.Namespace) -> int:
    """Run ``bsol synth`` with parsed arguments.

    Args:
        args: ``out``, ``patients``, ``seed``, ``end_date``, ``format``, ``clean`` (see
            :mod:`bsol_analytics.cli`).

    Returns:
        The exit code (0).

    Examples:
        >>> import tempfile, pathlib
        >>> a = argparse.Namespace(out=str(pathlib.Path(tempfile.mkdtemp()) / "x"),
        ...     patients=1000, seed=3, end_date="2025-03-31", format="parquet", clean=True)
        >>> cli_synth(a)
        0
    """
    from bsol_analytics.synth import generate

    with file_errors("bsol synth"):
        res = generate(
            args.out,
            patients=args.patients,
            seed=args.seed,
            end_date=args.end_date,
            fmt=args.format,
            clean=args.clean,
        )
    rows = ", ".join(f"{k} {v:,}" for k, v in res.rows.items())
    log.info("Wrote a synthetic extract to %s in %.1f s: %s.", res.out, res.seconds, rows)
    return 0


def print_data_quality(summary: dict[str, Any], *, file: Any = None) -> None:
    """Print the data-quality summary as ``rich`` tables (plain text when not a terminal).

    Examples:
        >>> import io
        >>> from bsol_analytics.cleaning.quality import QualityLog, data_quality_summary
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
    from bsol_analytics.cleaning.pipeline import Steps, prepare_tables
    from bsol_analytics.cleaning.quality import QualityLog, data_quality_summary

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
    from bsol_analytics.cleaning.pipeline import prepare
    from bsol_analytics.cleaning.quality import QualityLog, data_quality_summary

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


# --------------------------------------------------------------------------------------
# bsol indicators
# --------------------------------------------------------------------------------------


def write_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write ``table`` to ``.csv`` or ``.parquet`` atomically.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "t.csv"
        >>> print(write_table(pd.DataFrame({"a": [1]}), p).read_text(), end="")
        a
        1
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return atomic_write_text(path, table.to_csv(index=False))
    if suffix == ".parquet":
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        return atomic_write_bytes(path, buffer.getvalue())
    raise ParameterError(f"--out {path} must end in .csv or .parquet.")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _summary(table: pd.DataFrame, out: Path, *, view: str, imd: str, sdc: bool) -> str:
    """The one-line summary printed by ``bsol indicators``, with any skipped indicators."""
    areas = table[["area_type", "area"]].drop_duplicates().shape[0]
    control = (
        f"on ({_plural(int(table['suppressed'].sum()), 'row')} suppressed)"
        if sdc
        else "OFF (for use inside the secure environment only)"
    )
    skipped = skipped_indicators(table)
    computed = table.loc[~table["indicator_id"].isin(list(skipped)), "indicator_id"].nunique()
    line = (
        f"Wrote {_plural(len(table), 'row')} to {out}: "
        f"{_plural(computed, 'indicator')}, "
        f"{_plural(table['reporting_date'].nunique(), 'reporting date')}, "
        f"{_plural(areas, 'area')}, {view} view, IMD {imd}; disclosure control {control}."
    )
    if skipped:
        reasons = "; ".join(f"{i} ({r})" for i, r in skipped.items())
        line += f" Skipped {_plural(len(skipped), 'indicator')}: {reasons}."
    return line


def cli_indicators(args: argparse.Namespace) -> int:
    """Run ``bsol indicators``: compute, write atomically and print a one-line summary.

    Args:
        args: ``data``, ``out``, ``reporting_date``, ``series``, ``by``, ``view``, ``imd``,
            ``engine``, ``indicators`` and ``no_sdc``, as :mod:`bsol_analytics.cli` parses
            and checks them.

    Returns:
        0 when the table was written.

    Raises:
        ParameterError: an invalid argument, named with the valid choices, or a reporting
            date the extract cannot support.
        FileAccessError: ``--out`` cannot be written.

    Examples:
        >>> args = argparse.Namespace(data=".", out="t.csv", series=[dt.date(2025, 3, 31)],
        ...     reporting_date=dt.date(2025, 3, 31), by="locality", view="practice",
        ...     imd="2025", engine="pandas", indicators=None, no_sdc=False)
        >>> cli_indicators(args)
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: Give --date or --series, not both.
    """
    if args.series and args.reporting_date:
        raise ParameterError("Give --date or --series, not both.")
    out = out_table_path(str(args.out))
    table = indicator_table(
        args.data,
        args.series or args.reporting_date,
        by=args.by,
        view=args.view,
        imd=args.imd,
        engine=args.engine,
        indicators=args.indicators,
        sdc=not args.no_sdc,
    )
    with file_errors("bsol indicators"):
        write_table(table, out)
        manifest = audit_manifest(table, enabled=not args.no_sdc)
        atomic_write_text(manifest_path(out), json.dumps(manifest, indent=2, default=str))
    print(_summary(table, out, view=args.view, imd=args.imd, sdc=not args.no_sdc))
    return 0


# --------------------------------------------------------------------------------------
# bsol packs
# --------------------------------------------------------------------------------------


def cli_packs(args: argparse.Namespace) -> int:
    """``bsol packs``: build every pack and print where they are; exit 4 if some failed.

    Raises:
        ParameterError: invalid parameters.
        FileAccessError: ``DATA_DIR`` cannot be read or ``--out`` cannot be written.

    Examples:
        >>> import argparse
        >>> args = argparse.Namespace(data="no-such-extract", out="reports",
        ...     reporting_date=None, localities=None, jobs=2, view="practice", imd="2025",
        ...     engine="pandas")
        >>> cli_packs(args)
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: The data folder no-such-extract does not exist.
    """
    from bsol_analytics.packs import run_packs

    quiet = bool(getattr(args, "quiet", False))
    with file_errors("bsol packs"):
        result = run_packs(
            args.data,
            out_root=args.out,
            reporting_date=args.reporting_date,
            localities=args.localities,
            jobs=args.jobs,
            view=args.view,
            imd=args.imd,
            engine=args.engine,
            progress=not quiet and sys.stderr.isatty(),
            source=getattr(args, "source", None),
        )
    now = [p for p in result.packs if not p.get("carried")]
    ok = sum(p["status"] == "ok" for p in now)
    tried = sum(p["status"] != "no-data" for p in now)
    if not quiet:
        print(f"{ok} of {tried} packs built: {result.folder / 'index.html'}")
    for p in now:
        if p["status"] == "no-data":
            print(f"bsol packs: pack {p['pack']}: {p['error']}", file=sys.stderr)
        elif p["status"] != "ok":
            kept = " (the earlier pack is kept, marked stale)" if p["status"] == "stale" else ""
            print(f"bsol packs: pack {p['pack']} failed: {p['error']}{kept}", file=sys.stderr)
    return result.exit_code


# --------------------------------------------------------------------------------------
# bsol audit
# --------------------------------------------------------------------------------------

#: Exit code of ``bsol audit`` when a hidden small count could be recovered.
EXIT_AUDIT_FAILED = 5


def cli_audit(args: argparse.Namespace) -> int:
    """``bsol audit PUBLISHED``: audit published tables; exit 5 if unsafe.

    ``PUBLISHED`` is a folder of published tables, a pack tables folder, or one
    ``bsol indicators`` output with its ``.sdc.json`` manifest
    (:func:`bsol_analytics.protection.audit_published`).

    Failing cells are named by table and key, never by value.

    Raises:
        ParameterError: ``PUBLISHED`` is not a folder of published tables.

    Examples:
        >>> import argparse
        >>> cli_audit(argparse.Namespace(published="no-such-folder", json=False))
        Traceback (most recent call last):
        ...
        bsol_analytics.errors.ParameterError: no-such-folder is not a folder ...
    """
    with file_errors("bsol audit"):
        result = audit_published(args.published)
    if getattr(args, "json", False):
        print(json.dumps(result.summary(), indent=2, default=str))
    else:
        print(result.describe())
    return 0 if result.passed else EXIT_AUDIT_FAILED


#: subcommand -> the function run with its parsed arguments; returns an exit code.
HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "synth": cli_synth,
    "validate": cli_validate,
    "prepare": cli_prepare,
    "indicators": cli_indicators,
    "packs": cli_packs,
    "audit": cli_audit,
}

__all__ = [
    "EXIT_AUDIT_FAILED",
    "HANDLERS",
    "by_arg",
    "cli_audit",
    "cli_indicators",
    "cli_packs",
    "cli_prepare",
    "cli_synth",
    "cli_validate",
    "ids_arg",
    "localities_arg",
    "out_table_path",
    "positive_int",
    "print_data_quality",
    "reporting_date_arg",
    "write_table",
]
