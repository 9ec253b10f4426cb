"""``bsol audit``: exit codes and messages on small published folders."""

from __future__ import annotations

import pandas as pd
import pytest

from bsol_analytics.cli import main


def _table(numerators, denominators, suppressed, reasons):
    return pd.DataFrame(
        {
            "indicator_id": "X",
            "reporting_date": "2025-03-31",
            "view": "practice",
            "area_type": "BSOL",
            "area": "BSOL",
            "breakdown": ["overall", "sex", "sex"],
            "group": ["All", "Female", "Male"],
            "numerator": numerators,
            "denominator": denominators,
            "suppressed": suppressed,
            "suppression_reason": reasons,
        }
    )


CASES = {
    # one hidden cell of a line: recoverable by subtraction
    "unsafe": (
        _table([50, None, 47], [500, None, 250], [False, True, False],
               [None, "primary: count 1-7", None]),
        5,
    ),
    # both cells of the line hidden, their sum well above the small range
    "safe": (
        _table([50, None, None], [500, None, None], [False, True, True],
               [None, "primary: count 1-7", "secondary: protects another cell"]),
        0,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_audit_exit_codes(case, tmp_path, capsys):
    table, expected = CASES[case]
    table.to_csv(tmp_path / "indicators.csv", index=False)
    assert main(["audit", str(tmp_path)]) == expected
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if expected:
        assert "Female" in out  # the failing cell is named by its key ...
        assert " 3 " not in out  # ... never by its value


def test_audit_missing_folder_is_a_user_error(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "nothing")]) == 2
    _, err = capsys.readouterr()
    assert "Traceback" not in err and "not a folder" in " ".join(err.split())
