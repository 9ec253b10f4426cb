"""The ``bsol`` command line.

Every subcommand has ``--help``. User errors (:class:`~bsol_analytics.errors.BsolError`) are
printed as one paragraph without a traceback; exit codes are documented in the README:

* 0 success
* 1 internal error (a bug: please report it with the log)
* 2 invalid parameters
* 3 the extract was refused (it breaks the data contract)
* 4 some locality packs failed (the others were built)
* 5 the disclosure audit failed (a hidden small count could be recovered)
* 130 interrupted
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator, Sequence

from bsol_analytics import __version__
from bsol_analytics.dates import parse_series
from bsol_analytics.errors import BsolError

log = logging.getLogger("bsol_analytics")


def _commands() -> object:
    # The commands layer imports every domain layer; loading it only when a subcommand
    # runs keeps ``bsol --help`` and ``bsol --version`` fast.
    from bsol_analytics import commands

    return commands


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser for ``bsol`` and all its subcommands."""
    parser = argparse.ArgumentParser(
        prog="bsol",
        description="Population-health analytics for Birmingham and Solihull.",
    )
    parser.add_argument("--version", action="version", version=f"bsol_analytics {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or info")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "synth",
        help="write a synthetic extract in the contract shape",
        description="Write a synthetic GP extract built on real BSOL practices, "
        "LSOAs, deprivation and ethnicity, with no real person in it.",
    )
    p.add_argument("--out", required=True, help="folder to write the extract into")
    p.add_argument(
        "--patients",
        type=_type("positive_int", "--patients"),
        default=None,
        help="number of patients (default: the whole BSOL list, about 1.6 million)",
    )
    p.add_argument("--seed", type=int, default=2024, help="random seed (same seed, same bytes)")
    p.add_argument(
        "--end-date",
        default="2025-03-31",
        help="last date of the extract, YYYY-MM-DD (default 2025-03-31)",
    )
    p.add_argument(
        "--format",
        choices=["csv", "parquet"],
        default="csv",
        help="file format of the tables (default csv)",
    )
    p.add_argument(
        "--clean", action="store_true", help="write a tidy extract without the deliberate messiness"
    )

    p = sub.add_parser(
        "validate",
        help="check an extract against the data contract",
        description="Check an extract against the data contract and print a "
        "data-quality summary. Exit 0 when usable, 3 when refused.",
    )
    p.add_argument("extract", metavar="DIR", help="extract folder (CSV or Parquet tables)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")

    p = sub.add_parser(
        "prepare",
        help="clean an extract into analysis-ready Parquet tables",
        description="Clean an extract and write analysis-ready Parquet tables. "
        "Earlier output is replaced only when the new output is complete.",
    )
    p.add_argument("extract", metavar="DIR", help="extract folder (CSV or Parquet tables)")
    p.add_argument("--out", default="data/processed", help="output folder (default data/processed)")

    _add_indicators(sub)
    _add_packs(sub)
    p = sub.add_parser(
        "audit",
        help="check published tables for recoverable small counts",
        description="Audit the tables one run published (a folder of tidy CSV or Parquet "
        "tables with areas.csv and sdc_policy.json): for every hidden small count, work out "
        "the range of values consistent with everything published. Exit 0 when no hidden "
        "count can be pinned or narrowed to the small range, 5 when one can.",
    )
    p.add_argument("published", metavar="PUBLISHED", help="folder of published tables")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def _type(name: str, *args: str) -> Callable[[str], object]:
    """An argparse ``type=`` that calls ``commands.<name>`` (a factory when given args)."""

    def parse(text: str) -> object:
        func = getattr(_commands(), name)
        return (func(*args) if args else func)(text)

    parse.__name__ = name
    return parse


def _add_data_and_date(p: argparse.ArgumentParser) -> None:
    """``DATA_DIR`` and ``--date``, shared by ``indicators`` and ``packs``."""
    p.add_argument("data", metavar="DATA_DIR", help="an extract folder or a prepared folder")
    p.add_argument(
        "--date",
        dest="reporting_date",
        type=_type("reporting_date_arg"),
        default=None,
        help="reporting date YYYY-MM-DD (default: the last complete quarter in the data)",
    )


def _add_view_imd_engine(p: argparse.ArgumentParser) -> None:
    """``--view``, ``--imd`` and ``--engine``, shared by ``indicators`` and ``packs``."""
    p.add_argument(
        "--view",
        choices=["practice", "resident"],
        default="practice",
        help="locality of the practice (default) or of residence",
    )
    p.add_argument("--imd", choices=["2025", "2019"], default="2025", help="IMD version")
    p.add_argument(
        "--engine",
        choices=["pandas", "duckdb", "spark"],
        default="pandas",
        help="execution engine (default pandas)",
    )


def _add_indicators(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "indicators",
        help="compute indicators with breakdowns",
        description="Compute every indicator with confidence intervals, "
        "comparisons and disclosure control.",
    )
    _add_data_and_date(p)
    p.add_argument(
        "--by",
        type=_type("by_arg"),
        default="locality",
        help="comma-separated breakdowns, e.g. locality,imd_quintile,ethnicity_broad; "
        "join two with '*' for a cross-tabulation (imd_quintile*ethnicity_broad)",
    )
    p.add_argument(
        "--series",
        type=parse_series,
        default=None,
        metavar="START:END",
        help="quarterly reporting dates from START to END (YYYY-MM-DD:YYYY-MM-DD)",
    )
    p.add_argument(
        "--indicators",
        type=_type("ids_arg"),
        default=None,
        help="comma-separated indicator ids (default all)",
    )
    _add_view_imd_engine(p)
    p.add_argument(
        "--no-sdc",
        action="store_true",
        help="turn disclosure control off (only inside the secure environment)",
    )
    p.add_argument(
        "--out", type=_type("out_table_path"), required=True, help="output file, .csv or .parquet"
    )


def _add_packs(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "packs",
        help="build the locality packs (HTML)",
        description="Build one self-contained HTML pack per locality and one for "
        "BSOL, with an index page, a log and a run manifest.",
    )
    _add_data_and_date(p)
    p.add_argument(
        "--localities",
        type=_type("localities_arg"),
        default=None,
        help="comma-separated localities (default: BSOL and every locality the extract "
        "has patients in)",
    )
    p.add_argument(
        "--source",
        default=None,
        help="data source printed in the packs of a real extract (default: the extract's own)",
    )
    p.add_argument(
        "--jobs",
        type=_type("positive_int", "--jobs"),
        default=2,
        help="parallel notebook processes (default 2)",
    )
    _add_view_imd_engine(p)
    p.add_argument("--out", default="reports", help="reports folder (default reports/)")


def _handler(command: str) -> Callable[[argparse.Namespace], int]:
    return _commands().HANDLERS[command]  # type: ignore[attr-defined]


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("papermill", "traitlets", "py4j", "matplotlib", "fontTools"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a repeated SIGTERM must not cut clean-up
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat ``SIGTERM`` (a scheduler or ``kill`` stopping the run) like ``Ctrl-C``.

    Inside the block ``SIGTERM`` raises :class:`KeyboardInterrupt`, so every ``finally``
    clean-up runs (temporary folders with patient-level data are removed) and the command
    exits with code 130. The previous handler is restored afterwards. Outside the main
    thread, where handlers cannot be installed, nothing changes.

    Examples:
        >>> import os, signal
        >>> with sigterm_as_interrupt():
        ...     try:
        ...         os.kill(os.getpid(), signal.SIGTERM)
        ...     except KeyboardInterrupt:
        ...         print("interrupted")
        interrupted
    """
    try:
        previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: The subcommands, in the order of the help; ``commands.HANDLERS`` runs each.
SUBCOMMANDS: tuple[str, ...] = ("synth", "validate", "prepare", "indicators", "packs", "audit")


def _print_error(err: BsolError, command: str) -> int:
    text = textwrap.fill(str(err), width=100, break_long_words=False, break_on_hyphens=False)
    print(f"bsol {command}: error: {text}".replace("bsol : ", "bsol: "), file=sys.stderr)
    return err.exit_code


@contextlib.contextmanager
def quiet_warnings(verbose: bool = False) -> Iterator[None]:
    """Keep library warnings off the user's terminal (``--verbose`` logs them instead).

    Child processes (notebook kernels, workers) inherit the filter through
    ``PYTHONWARNINGS``.

    Examples:
        >>> with quiet_warnings():
        ...     warnings.warn("not shown")
    """
    with warnings.catch_warnings():
        if verbose:
            logging.captureWarnings(True)
        else:
            warnings.simplefilter("ignore")
        saved = os.environ.get("PYTHONWARNINGS")
        os.environ["PYTHONWARNINGS"] = "default" if verbose else "ignore"
        try:
            yield
        finally:
            logging.captureWarnings(False)
            if saved is None:
                os.environ.pop("PYTHONWARNINGS", None)
            else:
                os.environ["PYTHONWARNINGS"] = saved


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bsol`` command line and return its exit code.

    ``Ctrl-C`` and ``SIGTERM`` stop the command cleanly with exit code 130.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except BsolError as err:  # an argument ``type=`` refused its value
        command = next((a for a in (argv or sys.argv[1:]) if a in SUBCOMMANDS), "")
        return _print_error(err, command)
    _configure_logging(args)
    try:
        with sigterm_as_interrupt(), quiet_warnings(args.verbose):
            return int(_handler(args.command)(args) or 0)
    except BsolError as err:
        return _print_error(err, args.command)
    except KeyboardInterrupt:
        print(
            f"bsol {args.command}: interrupted; no output was left half-written.", file=sys.stderr
        )
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
