import subprocess
import sys

import pytest

from bsol_analytics.cli import HANDLERS, build_parser, main


@pytest.mark.parametrize("command", sorted(HANDLERS))
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
