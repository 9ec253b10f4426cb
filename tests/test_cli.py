import os
import signal
import subprocess
import sys
import time

import pytest

from bsol_analytics import cli
from bsol_analytics.cli import SUBCOMMANDS, build_parser, main


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: bsol " + command)


def test_unknown_subcommand_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_module_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "bsol_analytics", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("bsol_analytics ")


def test_parser_defaults_are_documented():
    args = build_parser().parse_args(["indicators", "x", "--out", "y.csv"])
    assert args.view == "practice"
    assert args.engine == "pandas"
    assert args.no_sdc is False


def _handler_that_gets(signum, events):
    def run(args):
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)  # the signal arrives before this ends
            events.append("not interrupted")
            return 0
        finally:
            events.append("cleaned up")

    return run


def test_sigterm_is_an_interrupt_with_clean_up(monkeypatch, capsys):
    events: list[str] = []
    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(cli, "_handler", lambda command: _handler_that_gets(signal.SIGTERM, events))
    assert main(["packs", "some-extract"]) == 130
    assert events == ["cleaned up"]
    assert "interrupted" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == before  # handler restored


def test_sigterm_stops_the_command_line_process(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        "import os, signal, time\n"
        "from bsol_analytics import cli\n"
        "def slow(args):\n"
        "    try:\n"
        "        os.kill(os.getpid(), signal.SIGTERM)\n"
        "        time.sleep(5)\n"
        "    finally:\n"
        f"        open({str(tmp_path / 'done')!r}, 'w').close()\n"
        "cli._handler = lambda command: slow\n"
        "raise SystemExit(cli.main(['packs', 'x']))\n"
    )
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 130
    assert (tmp_path / "done").exists()
    assert "Traceback" not in proc.stderr


def test_library_warnings_do_not_reach_the_terminal(monkeypatch, capsys):
    import warnings

    def noisy(args):
        warnings.warn("invalid value encountered in scalar divide", RuntimeWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(cli, "_handler", lambda command: noisy)
    assert main(["packs", "x"]) == 0
    assert capsys.readouterr().err == ""


def test_argument_types_refuse_bad_values_as_plain_errors(capsys):
    assert main(["packs", "x", "--jobs", "0"]) == 2
    err = capsys.readouterr().err
    assert "--jobs must be a whole number of 1 or more" in err and "Traceback" not in err


def test_every_subcommand_has_a_handler():
    from bsol_analytics.commands import HANDLERS

    assert set(HANDLERS) == set(SUBCOMMANDS)
