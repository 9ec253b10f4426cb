"""The ``bsol indicators`` command, end to end on a small synthetic extract."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bsol_analytics.cli import main
from bsol_analytics.table import TIDY_COLUMNS


@pytest.fixture(scope="module")
def extract(synthetic_extract) -> Path:
    return synthetic_extract


@pytest.fixture(scope="module")
def prepared(prepared_extract) -> Path:
    return prepared_extract


def run(capsys, data: Path, out: Path, *argv: str) -> tuple[int, str, str]:
    """``bsol indicators DATA ... --out OUT``: exit code, stdout and stderr on one line."""
    code = main(["-q", "indicators", str(data), *argv, "--out", str(out)])
    stdout, err = capsys.readouterr()
    return code, stdout, " ".join(err.split())


def test_indicators_csv(prepared, tmp_path, capsys):
    out = tmp_path / "ind.csv"
    code, stdout, _ = run(
        capsys, prepared, out, "--by", "locality,imd_quintile", "--date", "2025-03-31"
    )
    assert code == 0
    assert stdout.count("\n") == 1 and stdout.startswith("Wrote ")
    table = pd.read_csv(out)
    assert list(table.columns) == list(TIDY_COLUMNS)
    assert set(table["reporting_date"]) == {"2025-03-31"}
    assert set(table["area_type"]) == {"BSOL", "locality"}
    le = table["indicator_id"].isin(["LE_BIRTH", "LE_SII"])  # life expectancy is by sex
    assert set(table.loc[~le, "breakdown"]) == {"overall", "imd_quintile"}
    assert set(table.loc[le, "breakdown"]) == {"sex", "imd_quintile*sex"}
    pub = table[~table["suppressed"]]
    assert not pub["numerator"].between(1, 7).any()
    # recorded-vs-expected and ISR rows carry an expected count, not people, as denominator
    people = pub[~pub["indicator_id"].str.endswith(("_RVE", "_ISR"))]
    assert not people["denominator"].between(1, 7).any()


def test_indicators_series_parquet_resident(prepared, tmp_path, capsys):
    out = tmp_path / "ind.parquet"
    code, stdout, _ = run(
        capsys,
        prepared,
        out,
        *("--series", "2024-07-01:2025-03-31", "--view", "resident", "--imd", "2019"),
        *("--by", "core20", "--indicators", "HYP_PREV,HYP_PREV_DSR,SCR_BOWEL"),
    )
    assert code == 0
    table = pd.read_parquet(out)
    assert table["reporting_date"].nunique() == 3
    assert set(table["view"]) == {"resident"}
    assert set(table["indicator_id"]) == {"HYP_PREV", "HYP_PREV_DSR", "SCR_BOWEL"}
    assert "3 reporting dates" in stdout


def test_indicators_from_extract_folder(extract, tmp_path, capsys):
    out = tmp_path / "ind.csv"
    code, _, _ = run(capsys, extract, out, "--indicators", "SCR_BOWEL")
    assert code == 0
    table = pd.read_csv(out)
    assert set(table["indicator_id"]) == {"SCR_BOWEL"}
    # default reporting date: end of the latest complete quarter in the data
    assert table["reporting_date"].nunique() == 1


def test_no_sdc(prepared, tmp_path, capsys):
    out = tmp_path / "ind.csv"
    code, stdout, _ = run(
        capsys, prepared, out, "--by", "practice", "--no-sdc", "--indicators", "EOL_HOSPITAL"
    )
    assert code == 0
    assert "OFF" in stdout
    assert not pd.read_csv(out)["suppressed"].any()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--by", "ward"], "Choose from"),
        (["--date", "2025-02-30"], "not a date"),
        (["--series", "2025-03-31"], "START:END"),
        (["--series", "2024-03-31:2025-03-31", "--date", "2025-03-31"], "not both"),
        (["--indicators", "NOPE"], "Unknown indicator"),
        (["--indicators", "SCR_BOWEL_DSR"], "standardised ids"),
    ],
)
def test_bad_parameters_are_plain_errors(prepared, tmp_path, capsys, argv, message):
    out = tmp_path / "ind.csv"
    out.write_text("earlier output\n")
    code, _, err = run(capsys, prepared, out, *argv)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert out.read_text() == "earlier output\n"


def test_bad_out_suffix_and_data_dir(prepared, tmp_path, capsys):
    code, _, err = run(capsys, prepared, tmp_path / "x.xlsx")
    assert code == 2 and ".csv or .parquet" in err
    code, _, err = run(capsys, tmp_path, tmp_path / "x.csv")
    assert code == 2 and "neither an extract" in err
    assert not (tmp_path / "x.csv").exists()


def test_unwritable_out_is_a_plain_error(prepared, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    code, _, err = run(capsys, prepared, blocker / "ind.csv", "--indicators", "SCR_BOWEL")
    assert code == 2
    assert "bsol indicators could not use" in err and "a-file" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--date", "2026-06-30"], "after the last complete quarter in the data"),
        (["--date", "2020-03-31"], "HYP_BP_CHECK_45 looks back 60 months"),
        (["--series", "2024-03-31:2025-06-30"], "2025-06-30 is after the last complete quarter"),
        (["--date", "2019-03-31", "--indicators", "SCR_CERVICAL_50_64"], "looks back 66 months"),
    ],
)
def test_a_date_the_extract_cannot_support_is_refused(prepared, tmp_path, capsys, argv, message):
    out = tmp_path / "ind.csv"
    code, _, err = run(capsys, prepared, out, *argv)
    assert code == 2
    assert message in err and "The extract covers" in err
    assert not out.exists()


def test_short_windows_are_allowed_where_long_ones_are_refused(prepared, tmp_path, capsys):
    out = tmp_path / "ind.csv"
    code, _, _ = run(capsys, prepared, out, "--date", "2024-03-31", "--indicators", "SCR_BOWEL")
    assert code == 0
    assert set(pd.read_csv(out)["indicator_id"]) == {"SCR_BOWEL"}


def test_default_date_is_the_last_complete_quarter_for_extract_and_prepared(
    extract, prepared, tmp_path, capsys
):
    dates = []
    for data in (extract, prepared):
        out = tmp_path / f"{data.name}.csv"
        code, _, _ = run(capsys, data, out, "--indicators", "SCR_BOWEL")
        assert code == 0
        dates.append(set(pd.read_csv(out)["reporting_date"]))
    assert dates == [{"2025-03-31"}, {"2025-03-31"}]
