"""Locality packs: parameters, pack tables, HTML, failure isolation and atomic publication.

The end-to-end runs use the small synthetic pack tables of ``write_demo_tables`` (no
extract needed) and two packs; they take well under a minute.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import os
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics import dates, packs, plots, protection, report
from bsol_analytics.errors import ParameterError
from bsol_analytics.packs import run as packs_run

REPORTING_DATE = "2025-03-31"


@pytest.fixture(scope="module")
def tables(pack_tables: Path) -> Path:
    return pack_tables


@pytest.fixture(scope="module")
def data(tables: Path) -> report.PackData:
    return report.load_pack(tables)


@pytest.fixture(scope="module")
def failing_notebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real report notebook with one extra cell that fails for Solihull only."""
    nb = nbformat.read(packs.NOTEBOOK, as_version=4)
    cell = nbformat.v4.new_code_cell(
        'if locality == "Solihull":\n    raise RuntimeError("simulated failure in Solihull")'
    )
    nb.cells.insert(3, cell)
    path = tmp_path_factory.mktemp("nb") / "failing.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def first_run(tables: Path, tmp_path_factory: pytest.TempPathFactory) -> packs.RunResult:
    out = tmp_path_factory.mktemp("reports")
    return packs.run_packs(
        None, out, REPORTING_DATE, "East,Solihull", jobs=2, tables_dir=tables, progress=False
    )


@pytest.fixture(scope="module")
def second_run(
    first_run: packs.RunResult, tables: Path, failing_notebook: Path
) -> tuple[packs.RunResult, dict[str, bytes]]:
    before = {p.name: p.read_bytes() for p in first_run.folder.glob("*.html")}
    result = packs.run_packs(
        None,
        first_run.folder.parent,
        REPORTING_DATE,
        "East,Solihull",
        jobs=2,
        tables_dir=tables,
        progress=False,
        notebook=failing_notebook,
    )
    return result, before


# --------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locality", "date", "view", "imd", "message"),
    [
        ("Narnia", "2025-03-31", "practice", "2025", "Unknown locality 'Narnia'"),
        ("East", "31/03/2025", "practice", "2025", "form YYYY-MM-DD"),
        ("East", "2025-02-30", "practice", "2025", "not a real date"),
        ("East", "2025-3-31", "practice", "2025", "form YYYY-MM-DD"),
        ("East", "2025-03-31", "home", "2025", "Unknown view"),
        ("East", "2025-03-31", "practice", "2010", "Unknown IMD version"),
    ],
)
def test_validate_parameters_rejects(locality, date, view, imd, message):
    with pytest.raises(ParameterError, match=re.escape(message)):
        packs.validate_parameters(locality, date, view, imd)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("east", "East"), (" SOLIHULL ", "Solihull"), ("bsol", "BSOL"), ("Central", "Central")],
)
def test_validate_parameters_canonical_names(given, expected):
    assert packs.validate_parameters(given, "2025-03-31")[0] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, list(packs.PACKS)),
        ("east,East, bsol", ["East", "BSOL"]),
        (["West"], ["West"]),
    ],
)
def test_parse_localities(text, expected):
    assert packs.parse_localities(text) == expected


@pytest.mark.parametrize("text", ["", " , ", "East,Atlantis"])
def test_parse_localities_rejects(text):
    with pytest.raises(ParameterError):
        packs.parse_localities(text)


def test_quarter_series_ends_on_month_ends():
    series = dates.quarter_series(dt.date(2025, 3, 31), 8)
    assert series[0] == dt.date(2023, 6, 30) and series[-1] == dt.date(2025, 3, 31)
    assert all((d + dt.timedelta(days=1)).day == 1 for d in series)


def test_run_packs_rejects_bad_parameters_before_writing(tmp_path, tables):
    with pytest.raises(ParameterError, match="--jobs"):
        packs.run_packs(None, tmp_path / "r", REPORTING_DATE, jobs=0, tables_dir=tables)
    with pytest.raises(ParameterError, match="Unknown locality"):
        packs.run_packs(None, tmp_path / "r", REPORTING_DATE, "Mars", tables_dir=tables)
    assert not (tmp_path / "r").exists()


def test_cli_packs_bad_date_is_plain_error(capsys, tmp_path):
    from bsol_analytics.cli import main

    code = main(["packs", str(tmp_path), "--date", "2025-13-01", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and "not a real date" in err


def _unreadable(*args, **kwargs):
    raise PermissionError(13, "Permission denied", "/data/extract/patients.csv")


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("out_is_a_file", "Not a directory"),
        ("data_unreadable", "Permission denied"),
    ],
)
def test_cli_packs_file_problems_are_one_sentence(setup, expected, capsys, tmp_path, monkeypatch):
    from bsol_analytics.cli import main

    out = tmp_path / "r"
    if setup == "out_is_a_file":
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where a folder should be")
        out = blocker / "reports"
    else:
        monkeypatch.setattr(packs_run, "compute_tables", _unreadable)
    code = main(["packs", str(tmp_path), "--date", REPORTING_DATE, "--out", str(out)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert "Traceback" not in err
    assert "bsol packs could not use" in err and expected in err


# --------------------------------------------------------------------------------------
# Pack tables and selections
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("ABC"), st.sampled_from("xyz"), st.integers(0, 60)),
        min_size=1,
        max_size=30,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_suppress_small_counts_hides_small_and_recoverable_counts(cells):
    frame = pd.DataFrame(cells, columns=["area", "group", "count"])
    copy = frame.copy()
    out = protection.suppress_small_counts(frame, lines=[["area"], ["group"]])
    pdt.assert_frame_equal(frame, copy)  # input untouched
    shown = out.loc[~out["suppressed"], "count"]
    assert not shown.between(1, packs.SMALL_COUNT - 1).any()
    assert out.loc[out["suppressed"], "count"].isna().all()
    for keys in ("area", "group"):
        per_line = out.groupby(keys)["suppressed"].agg(["sum", "size"])
        lonely = (per_line["sum"] == 1) & (per_line["size"] > 1)
        assert not lonely.any()  # one suppressed cell in a line is recoverable


def _patients(n: int, seed: int, sexes: tuple[str, ...] = ("F", "M")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "sex": rng.choice(list(sexes), n),
            "date_of_birth": pd.Timestamp("2025-03-31")
            - pd.to_timedelta(rng.integers(0, 95 * 365, n), unit="D"),
            "registration_start": pd.Timestamp("2010-01-01"),
            "registration_end": pd.NaT,
            "date_of_death": pd.NaT,
            "practice_locality": rng.choice(["East", "West"], n),
            "resident_locality": rng.choice(["East", "West"], n),
            "ethnicity_broad": rng.choice(["Asian", "White"], n),
            "imd2025_quintile": rng.integers(1, 6, n),
            "imd2019_quintile": rng.integers(1, 6, n),
            "core20": False,
        }
    )


def test_population_tables_counts_and_suppression():
    n = 400
    patients = _patients(n, seed=3)
    patients.loc[0, "registration_start"] = pd.Timestamp("2026-01-01")  # not yet registered
    patients.loc[1, "date_of_death"] = pd.Timestamp("2024-01-01")  # died before RD
    copy = patients.copy()
    pop, demo = packs.population_tables(patients, dt.date(2025, 3, 31))
    pdt.assert_frame_equal(patients, copy)
    bsol_total = demo.query("area == 'BSOL' and breakdown == 'core20'")["count"].sum()
    assert bsol_total == n - 2
    assert set(pop["area"]) == {"BSOL", "East", "West"}
    small = pop["count"].between(1, packs.SMALL_COUNT - 1)
    assert not small.any()
    assert pop.loc[pop["suppressed"], "count"].isna().all()


@pytest.mark.parametrize(
    ("view", "column", "area"),
    [
        ("resident", "resident_locality", "Outside BSOL or unknown"),
        ("practice", "practice_locality", "Unknown"),
    ],
)
def test_population_of_no_locality_is_an_area_so_localities_add_up_to_bsol(view, column, area):
    patients = _patients(400, seed=5)
    patients.loc[patients.index[:30], column] = None  # e.g. living outside BSOL
    rd = dt.date(2025, 3, 31)
    pop, demo = packs.population_counts(patients, rd, view)
    assert area in set(pop["area"]) and area in set(demo["area"])
    for table, keys in ((pop, ["sex", "age_band"]), (demo, ["breakdown", "group"])):
        local = table[table["area"] != "BSOL"].groupby(keys)["count"].sum()
        whole = table[table["area"] == "BSOL"].set_index(keys)["count"]
        pdt.assert_series_equal(local.sort_index(), whole.sort_index(), check_names=False)
    other = pop[pop["area"] == area]
    assert (other["area_type"] == "locality").all() and other["count"].sum() == 30


@pytest.mark.parametrize("n_unknown", [0, 1, 2, 3, 7, 8, 25])
@pytest.mark.parametrize("sex_code", ["U", None])
def test_population_cells_account_for_total_and_hide_small_unknown_sex(n_unknown, sex_code):
    patients = _patients(3000, seed=n_unknown)
    patients["sex"] = patients["sex"].astype(object)
    patients.loc[patients.index[:n_unknown], "sex"] = sex_code
    patients.loc[patients.index[:n_unknown], "practice_locality"] = "East"
    rd = dt.date(2025, 3, 31)
    pop, _ = packs.population_tables(patients, rd)
    true, _ = packs.population_counts(patients, rd)  # the same counts before protection
    keys = ["area", "sex", "age_band"]
    pdt.assert_frame_equal(pop[keys], true[keys])
    # Every registered patient is in exactly one cell, shown or suppressed.
    totals = {"BSOL": len(patients), **patients["practice_locality"].value_counts().to_dict()}
    assert true.groupby("area")["count"].sum().to_dict() == totals
    shown = ~pop["suppressed"]
    pdt.assert_series_equal(
        pop.loc[shown, "count"], true.loc[shown, "count"].astype("Float64"), check_names=False
    )
    unknown = pop[pop["sex"] == "U"]
    assert (unknown["age_band"] == packs.ALL_AGES).all()
    assert len(unknown) == 3  # BSOL, East, West
    assert not pop.loc[shown, "count"].between(1, packs.SMALL_COUNT - 1).any()
    east_u = unknown.set_index("area").loc["East"]
    if 1 <= n_unknown < packs.SMALL_COUNT:
        assert east_u["suppressed"] and pd.isna(east_u["count"])
    # The registered total minus the shown cells never reveals a small number.
    hidden = true.loc[~shown].groupby("area")["count"].sum()
    assert not hidden.between(1, packs.SMALL_COUNT - 1).any()
    # Nor do the sex totals (published by the sex breakdown of the indicators).
    hidden_sex = true.loc[~shown].groupby(["area", "sex"])["count"].sum()
    sex_totals = true.groupby(["area", "sex"])["count"].sum()
    recoverable = hidden_sex.between(1, packs.SMALL_COUNT - 1) & (
        hidden_sex != sex_totals.reindex(hidden_sex.index)
    )
    assert not recoverable.any()


def test_population_table_shows_not_known_sex_but_chart_draws_known_sexes():
    patients = _patients(8000, seed=1, sexes=("F", "M", "U"))
    pop, _ = packs.population_tables(patients, dt.date(2025, 3, 31))
    assert "U" in set(pop["sex"])
    data = dataclasses.replace(packs.demo_pack(), population=pop)
    pyr = report.population_pyramid(data, "East")
    assert set(pyr["sex"]) == {"F", "M", "U"}
    unknown = pyr[pyr["sex"] == "U"]
    assert len(unknown) == 1 and unknown["age_band"].item() == packs.ALL_AGES
    section = report.population_section(data, "East")
    assert "Not known" in section
    fig, _ = plots.pyramid(pyr[pyr["sex"].isin(["F", "M"])], "East")
    assert packs.ALL_AGES not in [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_load_pack_rejects_missing_columns(tmp_path, tables):
    import shutil

    copy = tmp_path / "t"
    shutil.copytree(tables, copy)
    frame = pd.read_parquet(copy / "indicators.parquet").drop(columns="comparison")
    frame.to_parquet(copy / "indicators.parquet")
    with pytest.raises(report.PackDataError, match="comparison"):
        report.load_pack(copy)


def test_open_pack_rejects_other_reporting_date(tables):
    with pytest.raises(ParameterError, match="31 March 2025"):
        packs.open_pack(tables, None, "2024-12-31")


def test_at_a_glance_does_not_change_inputs(data):
    before = data.indicators.copy()
    glance = report.at_a_glance(data, "East")
    pdt.assert_frame_equal(data.indicators, before)
    assert glance["indicator_id"].is_unique
    assert set(glance["comparison"]) <= {
        "better",
        "similar",
        "worse",
        "higher",
        "lower",
        "not compared",
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([(10, 9, 11), (14, 13, 15)], "increasing"),
        ([(14, 13, 15), (10, 9, 11)], "decreasing"),
        ([(10, 8, 12), (11, 9, 13)], "no significant change"),
        ([(10, 9, 11)], "not enough data"),
    ],
)
def test_trend_direction(values, expected):
    frame = pd.DataFrame(
        {
            "reporting_date": pd.date_range("2024-03-31", periods=len(values), freq="3ME"),
            "value": [v[0] for v in values],
            "lower": [v[1] for v in values],
            "upper": [v[2] for v in values],
            "suppressed": False,
        }
    )
    assert report.trend_direction(frame) == expected


def test_suppressed_cells_never_shown_as_numbers(data):
    rows = report.breakdown_rows(data, "East", "HYP_PREV", "imd_quintile*ethnicity_broad")
    assert rows["suppressed"].any()
    table = report.stat_table(rows)
    sup = rows["suppressed"].to_numpy()
    assert table.loc[sup, "Value"].str.startswith("suppressed").all()
    assert (table.loc[sup, ["95% CI", "Numerator", "Denominator"]] == "suppressed").all().all()


def test_table_html_is_accessible_and_escaped():
    frame = pd.DataFrame({"Group": ["<b>A</b>"], "Value": ["1.0"]})
    out = report.table_html(frame, "Caption & more")
    assert "<caption>Caption &amp; more</caption>" in out
    assert '<th scope="col">Group</th>' in out
    assert '<th scope="row">&lt;b&gt;A&lt;/b&gt;</th>' in out


def test_sections_have_alt_text_for_every_image(data):
    for area in ("East", "BSOL"):
        page = report.glance_section(data, area) + report.family_section(data, area, "diabetes")
        imgs = re.findall(r"<img[^>]*>", page)
        assert imgs
        assert all(re.search(r'alt="[^"]{20,}"', i) for i in imgs)


def _ratio(value, lower, upper, suppressed=False):
    return pd.Series({"value": value, "lower": lower, "upper": upper, "suppressed": suppressed})


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (_ratio(0.65, 0.62, 0.68), "East records 0.65 of the hypertension expected"),
        (_ratio(0.65, 0.62, 0.68), "about 1 in 3 expected cases are not on a register"),
        (_ratio(0.95, 0.93, 0.97), "about 1 in 20 expected cases"),
        (_ratio(0.3, 0.25, 0.35), "about 7 in 10 expected cases"),
        (_ratio(1.12, 1.05, 1.2), "1.12 times the hypertension expected"),
        (_ratio(1.12, 1.05, 1.2), "about 12 more cases on registers for every 100 expected"),
        (_ratio(0.98, 0.9, 1.05), "not significantly different from the expected number"),
        (_ratio(np.nan, np.nan, np.nan, True), "cannot be shown for East (suppressed)"),
    ],
)
def test_rve_headline(row, expected):
    assert expected in report.rve_headline(row, "East", "hypertension")


@pytest.mark.parametrize("area", ["East", "BSOL"])
@pytest.mark.parametrize(
    ("family", "has_rve"),
    [("hypertension", True), ("diabetes", True), ("copd", True), ("end_of_life", False)],
)
def test_family_sections_show_recorded_vs_expected(data, area, family, has_rve):
    page = report.family_section(data, area, family)
    assert ("recorded vs expected prevalence</h3>" in page) is has_rve
    if has_rve:
        section = page.split("expected prevalence</h3>", 1)[1].split("</section>", 1)[0]
        ind = data.indicators
        rve = ind[
            ind["indicator_id"].str.endswith("_RVE")
            & (ind["area"] == area)
            & (ind["breakdown"] == "overall")
            & ind["indicator_id"].str.startswith(
                {"copd": "COPD", "diabetes": "DM"}.get(family, "HYP")
            )
        ]
        rve = rve[rve["reporting_date"] == ind["reporting_date"].max()]
        if rve["suppressed"].all():  # disclosure control hid it: the headline says so
            assert f"cannot be shown for {area} (suppressed)" in section
        else:
            assert f"{area} records" in section
        assert '<th scope="col">Expected</th>' in section
        assert "dashed line at 1" in section
        assert section.count("<img alt=") == 1


@pytest.mark.parametrize("family", ["hypertension", "diabetes", "copd"])
def test_family_summary_shows_age_standardised_next_to_crude(data, family):
    page = report.family_section(data, "East", family)
    summary = page.split("summary</h3>", 1)[1].split("</section>", 1)[0]
    assert '<th scope="col">East, age-standardised</th>' in summary
    assert "(age-standardised) is" in summary and "per 100)." in summary
    assert report.DSR_NOTE.split(",")[0] in summary
    # the derived ids are columns and sections of their own, not rows of the summary
    assert "recorded vs expected ratio</th>" not in summary


def test_bsol_side_by_side_shows_age_standardised(data):
    page = report.family_section(data, "BSOL", "hypertension")
    part = page.split("localities side by side</h4>", 1)[1].split("</section>", 1)[0]
    assert '<th scope="col">Age-standardised</th>' in part
    assert "Black diamonds" in part and "black diamonds are age-standardised" in part
    assert "(crude) is highest" in part


def test_ratio_chart_does_not_change_input_and_names_every_area(data):
    rows = report.areas_side_by_side(data, "HYP_PREV_RVE")
    before = rows.copy()
    _, alt = plots.ratio_chart(rows, "East", "Hypertension: recorded vs expected")
    pdt.assert_frame_equal(rows, before)
    assert all(area in alt for area in [*report.LOCALITIES, report.BSOL])


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 1e6, allow_nan=False), st.booleans(), st.sampled_from([None, "x"])),
        min_size=1,
        max_size=20,
    )
)
def test_fmt_column_never_shows_a_suppressed_number(cells):
    frame = pd.DataFrame(cells, columns=["value", "suppressed", "suppression_reason"])
    out = pd.Series(report.fmt_column(frame))
    sup = frame["suppressed"].to_numpy()
    assert out[sup].str.startswith("suppressed").all()
    assert not out[~sup].str.contains("suppressed").any()


# --------------------------------------------------------------------------------------
# End to end
# --------------------------------------------------------------------------------------


def _tables_text(page: str) -> list[str]:
    """The data tables of a pack (the numbers), without the build time."""
    return re.findall(r"<table.*?</table>", page, flags=re.S)


def test_run_builds_accessible_self_contained_packs(first_run):
    assert first_run.exit_code == 0
    folder = first_run.folder
    assert folder.name == REPORTING_DATE
    for name in ("east.html", "solihull.html"):
        page = (folder / name).read_text()
        assert '<html lang="en-GB">' in page
        assert page.count("<h1>") == 1
        assert "<title>East locality pack, 31 March 2025</title>" in page or name != "east.html"
        assert '<nav aria-label="Contents"' in page and '<main id="main">' in page
        assert "http://" not in page and "https://" not in page
        assert "<script" not in page
        assert re.search(r"In&nbsp;\[|In \[\d*\]", page) is None  # no prompts
        assert "validate_parameters" not in page  # no code
        assert len(page.encode()) < 5_000_000
        for img in re.findall(r"<img[^>]*>", page):
            assert re.search(r'alt="[^"]+"', img)
            assert re.search(r'src="data:image/(png|svg\+xml);base64,', img)
        levels = [int(h) for h in re.findall(r"<h([1-6])[ >]", page)]
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    index = (folder / "index.html").read_text()
    assert 'href="east.html"' in index and "built" in index
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {p["status"] for p in manifest["packs"]} == {"ok"}
    assert set(manifest["timings_seconds"]) >= {"prepare", "compute", "execute", "convert"}
    assert manifest["inputs_sha256"]
    assert (folder / "run.log").read_text().count("built") >= 2
    assert not list(folder.parent.glob(".*tmp*")) and not list(folder.parent.glob(".bsol-*"))
    assert _files_under(folder.parent) == {
        f"{REPORTING_DATE}/{name}"
        for name in ("east.html", "solihull.html", "index.html", "manifest.json", "run.log")
    }


def _files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}


def test_failed_pack_keeps_previous_good_pack_and_others_build(second_run):
    result, before = second_run
    assert result.exit_code == packs.EXIT_PACKS_FAILED
    status = {p["pack"]: p for p in result.packs}
    assert status["East"]["status"] == "ok"
    assert status["Solihull"]["status"] == "stale"
    assert "simulated failure in Solihull" in status["Solihull"]["error"]
    folder = result.folder
    assert (folder / "solihull.html").read_bytes() == before["solihull.html"]
    index = (folder / "index.html").read_text()
    assert "simulated failure in Solihull" in index and "earlier pack" in index
    assert (folder / "failed" / "solihull.ipynb").exists()


def test_rerun_gives_the_same_numbers(first_run, second_run):
    result, before = second_run
    again = (result.folder / "east.html").read_text()
    assert _tables_text(again) == _tables_text(before["east.html"].decode())


def test_interrupted_run_leaves_previous_output(first_run, second_run, tables, monkeypatch):
    folder = first_run.folder
    snapshot = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    works = []

    def fake_execute(packs_, tables_, work, *args, **kwargs):
        works.append(work)
        assert not work.is_relative_to(folder.parent)  # patient-level work stays private
        assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]
        (work / "html").mkdir(exist_ok=True)
        (work / "html" / "east.html").write_text("<html>half-written</html>")
        return [
            {
                "pack": "East",
                "status": "ok",
                "error": None,
                "file": "east.html",
                "timings": {"execute": 0.0, "convert": 0.0},
            }
        ]

    def interrupt(stage: Path) -> None:
        assert (stage / "east.html").exists()
        raise KeyboardInterrupt

    monkeypatch.setattr(packs_run, "_execute_all", fake_execute)
    with pytest.raises(KeyboardInterrupt):
        packs.run_packs(
            None,
            folder.parent,
            REPORTING_DATE,
            "East",
            jobs=1,
            tables_dir=tables,
            progress=False,
            before_publish=interrupt,
        )
    after = {p.name: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == snapshot
    leftovers = [p.name for p in folder.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert len(works) == 1 and not works[0].exists()


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_exception_while_computing_leaves_no_trace(tmp_path, monkeypatch, error):
    written = []

    def boom(data_dir, out_dir, *args, **kwargs):
        out_dir.mkdir(parents=True)
        (out_dir / "patients.parquet").write_bytes(b"patient-level")
        written.append(out_dir)
        raise error

    monkeypatch.setattr(packs_run, "compute_tables", boom)
    (tmp_path / "reports").mkdir()
    with pytest.raises(type(error)):
        packs.run_packs(tmp_path, tmp_path / "reports", REPORTING_DATE, "East", progress=False)
    assert list((tmp_path / "reports").iterdir()) == []
    assert not written[0].is_relative_to(tmp_path / "reports")
    assert not written[0].exists()


def _fake_execute(packs_, tables_, work, *args, **kwargs):
    (work / "html").mkdir(exist_ok=True)
    results = []
    for pack in packs_:
        (work / "html" / packs.pack_file_name(pack)).write_text(f"<html>{pack}</html>")
        results.append(
            {
                "pack": pack,
                "status": "ok",
                "error": None,
                "file": packs.pack_file_name(pack),
                "timings": {"execute": 0.0, "convert": 0.0},
            }
        )
    return results


def _age(path: Path, seconds: float = 3600) -> Path:
    old = path.stat().st_mtime - seconds
    os.utime(path, (old, old))
    return path


def test_run_sweeps_folders_left_by_killed_runs(tmp_path, tables, monkeypatch):
    monkeypatch.setattr(packs_run, "_execute_all", _fake_execute)
    out = tmp_path / "reports"
    stale = []
    for name in (
        ".bsol-packs-stage-999999999-ab12",  # staging of a run killed while publishing
        ".bsol-packs-work-cd34",  # work folder of an older release
        f".{REPORTING_DATE}.tmp-ef56",  # unnamed staging of an older release
        f".{REPORTING_DATE}.old-999999999",  # backup of a run killed after publishing
    ):
        (out / name).mkdir(parents=True)
        (out / name / "patients.parquet").write_bytes(b"patient-level")
        stale.append(_age(out / name))
    (out / REPORTING_DATE).mkdir()  # published, so the backup is not needed to restore it
    (out / REPORTING_DATE / "old.html").write_text("<html>old</html>")
    live = out / f".bsol-packs-stage-{os.getppid()}-gh78"  # another run, still alive
    live.mkdir()
    _age(live)
    fresh = out / ".bsol-packs-stage-999999999-new"  # newer than the run: not touched
    result = packs.run_packs(
        None,
        out,
        REPORTING_DATE,
        "East",
        jobs=1,
        tables_dir=tables,
        progress=False,
        before_publish=lambda stage: fresh.mkdir(),
    )
    assert result.exit_code == 0
    assert not any(p.exists() for p in stale)
    assert live.is_dir() and fresh.is_dir()
    assert "left by an interrupted run" in (result.folder / "run.log").read_text()
    fresh.rmdir()
    live.rmdir()
    assert _files_under(out) == {
        f"{REPORTING_DATE}/{name}"
        for name in ("east.html", "index.html", "manifest.json", "run.log")
    }


def test_run_restores_a_publication_killed_between_renames(tmp_path, tables, monkeypatch):
    monkeypatch.setattr(packs_run, "_execute_all", _fake_execute)
    out = tmp_path / "reports"
    first = packs.run_packs(
        None, out, REPORTING_DATE, "East", jobs=1, tables_dir=tables, progress=False
    )
    # As if killed after renaming the old folder aside and before the new one went in.
    first.folder.rename(out / f".{REPORTING_DATE}.old-999999999")
    result = packs.run_packs(
        None, out, REPORTING_DATE, "BSOL", jobs=1, tables_dir=tables, progress=False
    )
    assert (result.folder / "east.html").read_text() == "<html>East</html>"
    assert (result.folder / "bsol.html").exists()
    assert [p.name for p in out.iterdir()] == [REPORTING_DATE]


def test_partial_run_keeps_the_other_published_packs(first_run, second_run, tables):
    folder = first_run.folder
    east_before = (folder / "east.html").read_bytes()
    result = packs.run_packs(
        None, folder.parent, REPORTING_DATE, "BSOL", jobs=1, tables_dir=tables, progress=False
    )
    assert result.exit_code == 0
    assert (folder / "bsol.html").exists()
    assert (folder / "east.html").read_bytes() == east_before
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {p["pack"] for p in manifest["packs"]} == {"BSOL", "East", "Solihull"}
    assert "not rebuilt in this run" in (folder / "index.html").read_text()


# --------------------------------------------------------------------------------------
# What the data are (synthetic banner) and partial extracts
# --------------------------------------------------------------------------------------


def test_prepare_and_tables_carry_the_synthetic_flag(prepared_extract, data):
    manifest = json.loads((prepared_extract / "prepare_manifest.json").read_text())
    assert manifest["synthetic"] is True and "Synthetic data" in manifest["source_description"]
    assert data.info["synthetic"] is True
    assert "Pseudonymised GP extract" not in " ".join(data.info["data_sources"])
    assert set(data.practices["practice_name"]) == {"Synthetic practice"}


def test_synthetic_packs_say_so_on_every_page_and_table(first_run):
    for name in ("east.html", "solihull.html", "index.html"):
        page = (first_run.folder / name).read_text()
        assert 'class="data-banner"' in page
        assert "@top-center" in page and "@bottom-center" in page  # every printed page
    page = (first_run.folder / "east.html").read_text()
    captions = re.findall(r"<caption>(.*?)</caption>", page, flags=re.S)
    assert captions and all("Synthetic data." in c for c in captions)
    assert "SYNTHETIC DATA" in page.split("</footer>")[0].rsplit("<footer", 1)[1]


@pytest.mark.parametrize(
    ("info", "source", "expected"),
    [
        ({"synthetic": True}, None, "SYNTHETIC DATA"),
        ({"synthetic": True}, "Real extract", "SYNTHETIC DATA"),
        ({"synthetic": False}, "EMIS extract, May 2025", "EMIS extract, May 2025"),
        ({"source_description": "Own words"}, None, "Own words"),
        ({}, None, "Data source:"),
    ],
)
def test_provenance_banner(info, source, expected):
    assert expected in report.provenance_banner(info, source)
    if not info.get("synthetic"):
        assert "SYNTHETIC" not in report.provenance_banner(info, source)


@pytest.fixture
def solihull_tables(tables: Path, tmp_path: Path) -> Path:
    """The demonstration tables as if the extract held Solihull practices only."""
    import shutil

    folder = tmp_path / "tables"
    shutil.copytree(tables, folder)
    areas = pd.read_parquet(folder / "areas.parquet")
    keep = (areas["area_type"] != "locality") | (areas["area"] == "Solihull")
    areas[keep].to_parquet(folder / "areas.parquet", index=False)
    return folder


@pytest.mark.parametrize(
    ("localities", "built", "no_data"),
    [
        ("Solihull,East", {"Solihull"}, {"East"}),
        (None, {"Solihull", "BSOL"}, set()),
        ("East,BSOL", {"BSOL"}, {"East"}),
    ],
)
def test_partial_extract_builds_the_localities_it_covers(
    solihull_tables, tmp_path, monkeypatch, localities, built, no_data
):
    monkeypatch.setattr(packs_run, "_execute_all", _fake_execute)
    result = packs.run_packs(
        None, tmp_path / "reports", REPORTING_DATE, localities, jobs=1,
        tables_dir=solihull_tables, progress=False,
    )  # fmt: skip
    assert result.exit_code == 0
    status = {p["pack"]: p["status"] for p in result.packs}
    assert {p for p, s in status.items() if s == "ok"} == built
    assert {p for p, s in status.items() if s == "no-data"} == no_data
    index = (result.folder / "index.html").read_text()
    assert "covers 1 of the 6 localities: Solihull only" in index
    for pack in no_data:
        assert f"no patients registered with practices in {pack}" in index
        assert not (result.folder / packs.pack_file_name(pack)).exists()
    assert "Traceback" not in index and "KeyError" not in index


def _reader_text(page: str) -> str:
    """The words a reader sees: no styles, images, tags or attributes."""
    import html as html_lib

    page = re.sub(r"<style.*?</style>|<img[^>]*>", " ", page, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_no_internal_ids_or_slips_in_reader_text(first_run, data):
    ids = set(data.meta["indicator_id"]) | set(data.indicators["indicator_id"])
    for name in ("east.html", "solihull.html"):
        text = _reader_text((first_run.folder / name).read_text())
        words = set(re.findall(r"[A-Z0-9_]{4,}", text))
        assert not (words & ids), f"{name}: internal ids {sorted(words & ids)[:5]}"
        for slip in ("−0.0", " -0.0 ", "by quarter by quarter", " share: 0.", "supplied: True"):
            assert slip not in text, f"{name}: {slip!r}"


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ({"missing_ethnicity_share": 0.119611, "missing_lsoa_share": 0.01}, "12.0%"),
        ({"admissions_supplied": False}, "no hospital admissions"),
        ({"status": "usable"}, "passed the checks"),
        ({}, "has no notes"),
        ({"notes": ["Own note."]}, "Own note."),
    ],
)
def test_data_quality_notes_are_prose(summary, expected):
    notes = report.data_quality_notes(summary)
    assert any(expected in n for n in notes)
    assert not any(re.search(r"\b[a-z]+_[a-z_]+\b", n) for n in notes)  # no raw keys


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [(-0.04, 1, "0.0"), (-0.0, 1, "0.0"), (-0.05001, 1, "-0.1"), (-0.004, 2, "0.00"),
     (-1234.5, 0, "-1,234"), (0.04, 1, "0.0")],
)  # fmt: skip
def test_fmt_number_never_shows_minus_zero(value, decimals, expected):
    assert report.fmt_number(value, decimals) == expected


@pytest.mark.parametrize(
    ("numerators", "expected"),
    [
        ([700, 720, 745, 770, 790], "is increasing"),
        ([790, 770, 745, 720, 700], "is decreasing"),
        ([700, 702, 699, 701, 700], "no significant change"),
    ],
)
def test_recent_trend_sentence_comes_from_the_test(numerators, expected):
    q = pd.date_range("2024-03-31", periods=5, freq="QE")
    s = pd.DataFrame({"reporting_date": q, "numerator": numerators,
                      "denominator": [1000] * 5, "suppressed": [False] * 5})  # fmt: skip
    text = report.recent_trend_sentence("Screening", "East", s, "2024-03-31")
    assert expected in text and "reliable from 31 March 2024" in text
    assert "cannot be tested" in report.recent_trend_sentence("S", "East", s, "2024-09-30")


@pytest.mark.parametrize(
    ("function", "column", "codes", "added"),
    [
        ("map_practice", "practice_code", ["M85002", None, "Z99999", ""], "practice_locality"),
        ("map_practice", "practice_code", [None, None], "pcn_name"),
        ("map_lsoa", "lsoa_code", ["E01008881", None, "E01000001", "junk"], "ward_name"),
        ("map_lsoa", "lsoa_code", [None], "resident_locality"),
    ],
)
def test_lookups_keep_missing_values_missing(function, column, codes, added):
    from bsol_analytics.cleaning import normalise

    out = getattr(normalise, function)(pd.DataFrame({column: codes}))
    values = out[added]
    assert values.iloc[1:].isna().all()  # unknown or missing codes stay missing
    assert not values.astype(object).isin(["None", "nan", "<NA>"]).any()
    assert (values.iloc[:1].notna().all()) == (codes[0] is not None)


@pytest.mark.parametrize(
    ("polarity", "above", "below"),
    [
        ("higher is better", "better", "worse"),
        ("lower is better", "worse", "better"),
        ("no judgement", "higher", "lower"),
    ],
)
def test_funnel_points_outside_limits_are_coloured_by_polarity(polarity, above, below):
    from matplotlib.colors import to_hex

    pts = pd.DataFrame({"value": [20.0, 45.0, 2.0], "denominator": [400, 400, 400],
                        "suppressed": [False, False, False]})  # fmt: skip
    lim = pd.DataFrame(
        {
            "denominator": [50.0, 500.0] * 2,
            "lower": [5.0, 15, 1, 12],
            "upper": [35.0, 25, 40, 28],
            "confidence": [0.95, 0.95, 0.998, 0.998],
        }
    )
    fig, _ = plots.funnel_plot(pts, lim, 20.0, "T", "%", polarity=polarity)
    ax = fig.axes[0]
    labels = {c.get_label(): to_hex(c.get_facecolor()[0]) for c in ax.collections
              if len(c.get_offsets())}  # fmt: skip
    assert labels[f"above 99.8% ({above})"] == to_hex(plots.COMPARISON_STYLE[above][0])
    assert labels[f"below 99.8% ({below})"] == to_hex(plots.COMPARISON_STYLE[below][0])
    better = to_hex(plots.COMPARISON_STYLE["better"][0])
    if polarity == "no judgement":
        assert better not in labels.values()  # neutral is never in the "better" colour
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_neutral_and_own_area_colours_are_not_judgements():
    style = plots.COMPARISON_STYLE
    judged = {style["better"][0], style["worse"][0]}
    assert style["higher"][0] not in judged and style["lower"][0] not in judged
    rows = pd.DataFrame({"group": ["East", "BSOL"], "value": [0.6, 0.7], "lower": [0.5, 0.6],
                         "upper": [0.7, 0.8], "suppressed": [False, False]})  # fmt: skip
    fig, _ = plots.ratio_chart(rows, "East", "Ratio")
    from matplotlib.colors import to_hex

    own = next(c for c in fig.axes[0].collections if c.get_label() == "East")
    assert to_hex(own.get_facecolor()[0]) != to_hex(style["worse"][0])


@pytest.mark.parametrize(
    ("packs_", "first"),
    [
        (["Central", "East", "BSOL"], ["BSOL", "Central", "East"]),
        (["BSOL", "West"], ["BSOL", "West"]),
        (["Solihull", "North"], ["Solihull", "North"]),
        (["BSOL"], ["BSOL"]),
    ],
)
def test_the_slowest_pack_starts_first(packs_: list[str], first: list[str]) -> None:
    tasks = [{"pack": p} for p in packs_]
    assert [t["pack"] for t in packs_run.longest_first(tasks)] == first
    assert [t["pack"] for t in tasks] == packs_  # the packs' own order is kept for results


def test_the_page_is_the_document_nbconvert_writes(tmp_path: Path) -> None:
    """Without nbconvert's re-parsing pass, the page parses to the same document."""
    from bs4 import BeautifulSoup
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    markup = (
        '<h2 id="at-a-glance">At a glance</h2><section class="pack-section" '
        'aria-labelledby="x"><p class="headline">It&#x27;s up &amp; away.</p>'
        '<figure><img alt="A chart" class="spine-chart" src="data:image/png;base64,AAAA">'
        '</figure><details><summary>Show</summary><table class="data"><caption>Rates'
        "</caption><tr><td>1 &lt; 2</td></tr></table></details></section><br>"
    )
    out = nbformat.v4.new_output("display_data", data={"text/html": markup})
    nb.cells.append(nbformat.v4.new_code_cell("show()", outputs=[out]))
    nb.cells.append(nbformat.v4.new_markdown_cell("Some *words*."))
    path = tmp_path / "pack.ipynb"
    nbformat.write(nb, path)
    page = packs_run.notebook_to_html(path, "East pack", "Footer", synthetic=True)
    options = {
        "template_name": "bsol",
        "extra_template_basedirs": [str(packs_run.TEMPLATE_DIR)],
        "exclude_input": True,
        "exclude_input_prompt": True,
        "exclude_output_prompt": True,
        "exclude_anchor_links": True,
    }
    own = packs_run._page_exporter()(**options)
    resources = {"metadata": {"name": "East pack"}, "toc_html": "", "footer_text": "F"}
    plain = HTMLExporter(**options).from_notebook_node(nb, resources=dict(resources))[0]
    fast = own.from_notebook_node(nb, resources=dict(resources))[0]
    assert str(BeautifulSoup(fast, features="html.parser")) == plain
    assert "At a glance" in page and 'alt="A chart"' in page


def _page_without_run_details(page: str) -> str:
    """A pack page without what differs between two runs (build time, papermill's cell id)."""
    page = re.sub(r"built \d{4}-\d\d-\d\d[^<]*", "built X", page)
    return re.sub(r'cell-id=[0-9a-f]+(" class="[^"]*injected)', r"cell-id=X\1", page)


def test_packs_run_in_a_reused_worker_kernel_are_the_pages_of_new_kernels(
    second_run: tuple[packs.RunResult, dict[str, bytes]], tables: Path, tmp_path: Path
) -> None:
    """One worker's kernel, reset between packs, makes the pages that one kernel a pack made."""
    _, first_pages = second_run  # the first run's pages: one worker and kernel for each pack
    info = json.loads((tables / "pack_meta.json").read_text())
    pool = packs_run._start_workers(1, 2, tmp_path)
    results = packs_run._execute_all(
        ["Solihull", "East"], tables, tmp_path, dt.date.fromisoformat(REPORTING_DATE),
        "practice", "2025", 1, False, packs.NOTEBOOK, info=info, pool=pool,
    )  # fmt: skip
    assert [r["status"] for r in results] == ["ok", "ok"]
    assert len(list(tmp_path.glob("kernel-*.log"))) == 1  # one kernel ran both packs
    for r in results:
        reused = _page_without_run_details((tmp_path / "html" / r["file"]).read_text())
        assert reused == _page_without_run_details(first_pages[r["file"]].decode())


def test_a_pack_after_a_failed_one_gets_a_new_kernel(
    tables: Path, failing_notebook: Path, tmp_path: Path
) -> None:
    info = json.loads((tables / "pack_meta.json").read_text())
    pool = packs_run._start_workers(1, 2, tmp_path)
    results = packs_run._execute_all(
        ["Solihull", "East"], tables, tmp_path, dt.date.fromisoformat(REPORTING_DATE),
        "practice", "2025", 1, False, failing_notebook, info=info, pool=pool,
    )  # fmt: skip
    assert [r["status"] for r in results] == ["failed", "ok"]
    assert "simulated failure in Solihull" in results[0]["error"]
    assert (tmp_path / "solihull.kernel.log").is_file()  # the failed pack's kernel messages


def test_the_tables_step_keeps_full_collections_rare_and_puts_the_thresholds_back() -> None:
    import gc

    before = gc.get_threshold()
    with packs_run._rare_full_collections():
        assert gc.get_threshold() == packs_run.GC_THRESHOLDS
    assert gc.get_threshold() == before


@pytest.mark.parametrize(
    ("measurements_start", "kept"),
    [
        ("2019-03-31", ["2024-03-31"]),  # the 60-month window of 2023-12-31 starts before
        ("2018-12-31", ["2023-12-31", "2024-03-31"]),  # ... and here exactly at the start
        ("2019-04-02", []),  # the window of 2024-03-31 is after 2019-03-31: one day short
    ],
)
def test_trend_quarters_the_data_cannot_support_are_left_out(measurements_start, kept):
    from bsol_analytics.packs.tables import supported_rows

    cube = pd.DataFrame(
        {
            "reporting_date": pd.to_datetime(["2023-12-31", "2024-03-31", "2023-12-31"]),
            "indicator_id": ["HYP_BP_CHECK_45", "HYP_BP_CHECK_45", "HYP_PREV"],
            "numerator": [1, 2, 3],
        }
    )
    start = dt.date.fromisoformat(measurements_start)
    out = supported_rows(cube, dates.Coverage(dt.date(2025, 3, 31), {"measurements": start}))
    expected = cube[
        (cube["indicator_id"] == "HYP_PREV") | cube["reporting_date"].isin(pd.to_datetime(kept))
    ]
    pdt.assert_frame_equal(out, expected.reset_index(drop=True))


def test_the_notebook_checks_the_date_against_the_default_data(
    prepared_extract, tmp_path, monkeypatch
):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "processed").symlink_to(prepared_extract, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    assert report.validate_parameters("East", "2025-03-31") == ("East", dt.date(2025, 3, 31))
    with pytest.raises(ParameterError, match="after the last complete quarter"):
        report.validate_parameters("East", "2026-06-30")
