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
        _table(
            [50, None, 47],
            [500, None, 250],
            [False, True, False],
            [None, "primary: count 1-7", None],
        ),
        5,
    ),
    # both cells of the line hidden, their sum well above the small range
    "safe": (
        _table(
            [50, None, None],
            [500, None, None],
            [False, True, True],
            [None, "primary: count 1-7", "secondary: protects another cell"],
        ),
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


def _pack_folder(folder, unknown_sex: int, protect: bool):
    """A pack tables folder: indicators, population and areas (as ``compute_tables``)."""
    from bsol_analytics import protection

    indicators = _table([21, 11, 9], [147 + unknown_sex, 75, 72], False, None).assign(
        indicator_id="HYP_PREV"
    )
    indicators.loc[3] = indicators.loc[2].copy()
    indicators.loc[3, ["group", "numerator", "denominator"]] = ["Unknown", 1, unknown_sex]
    cells = [("F", "0-4", 40), ("F", "5-9", 35), ("M", "0-4", 42), ("M", "5-9", 30)]
    population = pd.DataFrame(
        [("BSOL", "BSOL", s, b, n) for s, b, n in cells]
        + [("BSOL", "BSOL", "U", "All ages", unknown_sex)],
        columns=["area_type", "area", "sex", "age_band", "count"],
    )
    tables = {"indicators": indicators, "population": population}
    if protect:
        tables = protection.protect_run(tables, None, linked=True)
    else:  # only the small counts hidden: the rest gives them away
        for name, col in (("indicators", "denominator"), ("population", "count")):
            t = tables[name]
            small = pd.to_numeric(t[col]).between(1, 7) | pd.to_numeric(
                t.get("numerator", t[col])
            ).between(1, 7)
            tables[name] = t.assign(
                suppressed=small,
                suppression_reason=small.map({True: "primary: count 1-7", False: None}),
            )
    folder.mkdir()
    for name, t in tables.items():
        t.to_parquet(folder / f"{name}.parquet", index=False)
    wards = pd.DataFrame(  # the published ward columns (no cell keys)
        {
            "indicator_id": ["HYP_PREV"],
            "ward_code": ["E05011118"],
            "value": [20.0],
            "numerator": [20.0],
            "denominator": [100.0],
            "suppressed": [False],
            "suppression_reason": [None],
        }
    )
    wards.to_parquet(folder / "wards.parquet", index=False)
    pd.DataFrame(columns=["area_type", "area", "parent_type", "parent"]).to_parquet(
        folder / "areas.parquet", index=False
    )
    return folder


@pytest.mark.parametrize(("protect", "expected"), [(True, 0), (False, 5)])
def test_audit_of_a_pack_tables_folder(tmp_path, capsys, protect, expected):
    folder = _pack_folder(tmp_path / "tables", 3, protect)
    assert main(["audit", str(folder)]) == expected
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if expected:
        assert "population" in out or "Unknown" in out


def test_audit_of_an_indicators_output_with_its_manifest(tmp_path, capsys):
    from bsol_analytics import protection

    areas = pd.DataFrame(
        {"area_type": ["locality"], "area": ["L1"], "parent_type": ["BSOL"], "parent": ["BSOL"]}
    )
    table = _table([50, None, 47], [500, None, 250], [False, True, False],
                   [None, "primary: count 1-7", None])  # fmt: skip
    out = tmp_path / "table.csv"
    table.to_csv(out, index=False)
    table.attrs[protection.SDC_ATTR] = {
        "audit": {"passed": False},
        "areas": areas.to_dict("records"),
    }
    manifest = protection.audit_manifest(table)
    assert manifest["policy"]["max_count"] == 7 and manifest["areas"][0]["area"] == "L1"
    import json

    protection.manifest_path(out).write_text(json.dumps(manifest))
    assert main(["audit", str(out)]) == 5  # one hidden cell of a line: recoverable
    assert "Female" in capsys.readouterr().out
    assert main(["audit", str(tmp_path / "table.txt")]) == 2


def test_audit_of_the_pack_tables_passes(pack_tables, capsys):
    """What the pack tables step writes (practice view) passes ``bsol audit`` read back."""
    assert main(["audit", str(pack_tables)]) == 0
    out, err = capsys.readouterr()
    assert "Disclosure audit passed" in out and "Traceback" not in out + err


def test_audit_of_a_resident_view_pack_run_passes(prepared_extract, tmp_path, capsys):
    """The resident view's pack tables pass ``bsol audit`` when read back.

    Patients living outside BSOL are counted in BSOL and in the ``Outside BSOL or unknown``
    area of every table, so the localities add up to BSOL; that area has no Type 1 diabetes
    row in this extract, which no relation may read as a zero list.
    """
    from bsol_analytics.packs.tables import compute_tables

    folder = compute_tables(prepared_extract, tmp_path / "tables", "2025-03-31", view="resident")
    assert main(["audit", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert "Disclosure audit passed" in out and "Traceback" not in out + err
