"""The pack's data-quality section and the blank places of death in the end-of-life caveats."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import ClassVar

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bsol_analytics.indicators.end_of_life import BLANK_PLACE_ID
from bsol_analytics.packs import tables
from bsol_analytics.protection import protect_run
from bsol_analytics.report.loading import PackData
from bsol_analytics.report.sections import data_quality_html, end_of_life_caveats
from bsol_analytics.report.words import (
    QUALITY_COLUMNS,
    blank_place_sentence,
    data_quality_notes,
    data_quality_table,
)
from bsol_analytics.sdc import DEFAULT_POLICY
from bsol_analytics.sdc.relations import build_system
from bsol_analytics.vocabulary import BSOL, LOCALITIES, OUTSIDE_BSOL, UNKNOWN

RD = dt.date(2025, 3, 31)
SMALL = f"fewer than {DEFAULT_POLICY.max_count + 1}"

#: A data_quality.json as ``bsol prepare`` writes it (the keys the pack uses).
SUMMARY = {
    "status": "usable",
    "rows_read": {"patients": 2369195, "screening": 1996015},
    "dropped_by_table": {"clinical_events": {"duplicate": 42401}, "screening": {"duplicate": 3864}},
    "missing_ethnicity_share": 0.119935,
    "missing_lsoa_share": 0.015011,
    "admissions_supplied": True,
    "event_date_range": ["1921-05-12", "2025-03-31"],
    "notes": [],
}

PYTHON_VALUES = re.compile(r"\b(True|False|None|nan)\b|\d\.\d{3,}|\b[a-z]+_[a-z_]+\b")


def _deaths(localities: list[str], places: list[str | None], died: str = "2024-10-01"):
    """Decedents registered at death, one row per death."""
    n = len(localities)
    return pd.DataFrame(
        {
            "patient_id": range(n),
            "registration_start": pd.to_datetime(["2000-01-01"] * n),
            "registration_end": pd.NaT,
            "date_of_death": pd.to_datetime([died] * n),
            "place_of_death": pd.Series(places, dtype="object"),
            "practice_locality": localities,
            "resident_locality": ["West"] * n,
        }
    )


def blank_places_of_death(patients: pd.DataFrame, rd: dt.date, view: str) -> dict:
    """The pack's count of deaths with no recorded place, protected as a run protects it.

    The pack's own steps (``blank_place_rows``, ``protect_run``, ``blank_place_counts``) on
    this one table, with its localities in BSOL.
    """
    rows = tables.blank_place_rows(patients, rd, view)
    places = rows.loc[rows["area_type"] == "locality", "area"]
    parents = pd.DataFrame({"area_type": "locality", "area": places, "parent_type": "BSOL"})
    protected = protect_run({"blank_places": rows}, parents.assign(parent=BSOL))
    protected.raise_if_failed()
    return tables.blank_place_counts(protected["blank_places"], rd, view)


# --- 1. the data-quality section ---------------------------------------------------------


def test_table_formats_counts_and_shares():
    rows = pd.DataFrame(data_quality_table(SUMMARY))
    expected = pd.DataFrame(
        {
            "Measure": [
                "Patient records",
                "Records set aside",
                "Ethnicity not recorded",
                "Home area (LSOA) missing",
                "Hospital admissions supplied",
                "Clinical records",
            ],
            "Value": [
                *("2,369,195", "46,265", "12.0%", "1.5%", "Yes"),
                "12 May 1921 to 31 March 2025",
            ],
        }
    )
    pd.testing.assert_frame_equal(rows[["Measure", "Value"]], expected)
    assert list(rows.columns) == list(QUALITY_COLUMNS)
    assert rows["What it means"].str.len().gt(10).all()


@pytest.mark.parametrize(
    ("summary", "measure", "value"),
    [
        ({"admissions_supplied": False}, "Hospital admissions supplied", "No"),
        ({"missing_lsoa_share": 0.0}, "Home area (LSOA) missing", "0.0%"),
        ({"rows_read": {"patients": 12}}, "Records set aside", "0"),
        ({"missing_ethnicity_share": 1}, "Ethnicity not recorded", "100.0%"),
    ],
)
def test_table_edge_cases(summary, measure, value):
    rows = {r["Measure"]: r["Value"] for r in data_quality_table(summary)}
    assert rows[measure] == value


def test_empty_summary_gives_no_rows():
    assert data_quality_table({}) == []


def test_notes_are_two_or_three_sentences_of_prose():
    notes = data_quality_notes(SUMMARY)
    assert 2 <= len(notes) <= 3
    assert "12 May 1921" in notes[1] and "2,369,195" in notes[1]
    assert not any(PYTHON_VALUES.search(n) for n in notes)


def test_section_is_sentences_and_an_accessible_table():
    notes, rows = data_quality_notes(SUMMARY), data_quality_table(SUMMARY)
    out = data_quality_html({"data_quality": notes, "data_quality_table": rows})
    assert out.count("<table") == 1 and "<caption>" in out and "<ul>" not in out
    assert all(f'<th scope="col">{c}</th>' for c in QUALITY_COLUMNS)
    assert '<th scope="row">Ethnicity not recorded</th><td>12.0%</td>' in out
    text = re.sub(r"<[^>]+>", " ", out)
    assert not PYTHON_VALUES.search(text), PYTHON_VALUES.search(text)


def test_section_reads_old_metadata_without_the_table():
    out = data_quality_html({"data_quality": ["The extract passed the checks."]})
    assert out == "<p>The extract passed the checks.</p>"


def test_pack_info_carries_the_quality_table(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "skipped_indicators", lambda *a: {})  # no full extract here
    (tmp_path / "data_quality.json").write_text(json.dumps(SUMMARY))
    info = tables._pack_info(tmp_path, RD, "practice", "2025", "pandas", _Coverage())
    assert info["data_quality_table"] == data_quality_table(SUMMARY)


def test_blank_places_survive_pack_meta():
    areas = ["East"] * 20 + ["North"] * 9 + ["West"] * 3
    blank = blank_places_of_death(_deaths(areas, [None] * 32), RD, "practice")
    blank = json.loads(json.dumps(blank))  # as pack_meta.json holds it
    assert blank["window"] == ["2024-04-01", "2025-03-31"]
    assert blank["counts"] == {
        **dict.fromkeys(LOCALITIES, 0),
        **{"East": 20, "North": "withheld", "West": SMALL, BSOL: 32},
    }


def test_blank_places_are_linked_to_the_place_of_death_indicators():
    rows = tables.blank_place_rows(_deaths(["East"] * 12, [None] * 12), RD, "practice")
    key = rows[["reporting_date", "view", "area_type", "area", "breakdown", "group"]]
    eol = pd.concat(
        [key.assign(indicator_id=i, numerator=0.0, denominator=rows["denominator"])
         for i in ("EOL_HOME_CARE_HOME", "EOL_HOSPITAL")],
        ignore_index=True,
    )  # fmt: skip
    system = build_system({"indicators": eol, "blank_places": rows})
    links = system.relations.loc[system.relations["kind"] == "link", "relation"]
    terms = system.terms[system.terms["relation"].isin(links)]
    linked = system.cells["indicator_id"].to_numpy()[terms["var"].to_numpy() // 2]
    assert BLANK_PLACE_ID in set(linked)
    # the three places (home or care home, hospital, none recorded) within the deaths
    sizes = terms.groupby("relation").size()
    assert (sizes == 4).any()


class _Coverage:
    last = None
    starts: ClassVar[dict] = {}


# --- 2. blank places of death ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("blanks", "expected"),
    [(0, 0), (1, SMALL), (7, SMALL), (8, 8), (120, 120)],
)
def test_small_counts_are_fewer_than_8(blanks, expected):
    places = [None] * blanks + ["home"] * 10  # 10 recorded: the complement is not small
    counts = blank_places_of_death(_deaths(["East"] * len(places), places), RD, "practice")
    counts = counts["counts"]
    assert counts["East"] == expected
    assert counts[BSOL] == expected


def test_blank_means_null_or_empty_and_other_places_are_not_blank():
    places = [None, "", "  ", "home", "care home", "hospital", "hospice", "other"] + ["home"] * 10
    places += [None] * 8
    counts = blank_places_of_death(_deaths(["East"] * len(places), places), RD, "practice")
    counts = counts["counts"]
    assert counts["East"] == 11


def test_only_deaths_of_the_window_and_registered_at_death_count():
    frame = pd.concat(
        [
            _deaths(["East"] * 10, [None] * 10),
            _deaths(["East"] * 9, [None] * 9, died="2024-03-31"),  # before the window
            _deaths(["East"] * 9, [None] * 9, died="2025-04-01"),  # after the reporting date
        ],
        ignore_index=True,
    ).assign(patient_id=lambda f: range(len(f)))
    frame.loc[0, "registration_end"] = pd.Timestamp("2024-01-01")  # left before death
    counts = blank_places_of_death(frame, RD, "practice")["counts"]
    assert counts["East"] == 9


def test_resident_view_counts_by_locality_of_residence():
    counts = blank_places_of_death(_deaths(["East"] * 9, [None] * 9), RD, "resident")["counts"]
    assert counts["West"] == 9 and counts["East"] == 0


def test_resident_view_has_residents_elsewhere_as_an_area_of_their_own():
    frame = _deaths(["East"] * 30, [None] * 30)
    frame["resident_locality"] = ["West"] * 20 + [None] * 10  # 10 live outside BSOL
    rows = tables.blank_place_rows(frame, RD, "resident").set_index("area")
    assert rows.loc[OUTSIDE_BSOL, "numerator"] == 10
    localities = rows[rows["area_type"] == "locality"]
    assert localities["numerator"].sum() == rows.loc[BSOL, "numerator"] == 30
    assert localities["denominator"].sum() == rows.loc[BSOL, "denominator"]


def test_one_hidden_locality_hides_another_so_bsol_does_not_reveal_it():
    localities = ["East"] * 3 + ["West"] * 20 + ["North"] * 12
    counts = blank_places_of_death(_deaths(localities, [None] * 35), RD, "practice")["counts"]
    assert counts["East"] == SMALL and counts["North"] == "withheld"
    assert counts["West"] == 20 and counts[BSOL] == 35


def test_small_complement_is_withheld():
    places = [None] * 20 + ["home"] * 3  # 3 deaths with a recorded place
    counts = blank_places_of_death(_deaths(["East"] * 23, places), RD, "practice")["counts"]
    assert counts["East"] == "withheld"


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from([*LOCALITIES, None]), min_size=0, max_size=60), st.data())
def test_no_count_of_1_to_7_is_ever_published(localities, data):
    places = data.draw(st.lists(st.sampled_from([None, "home"]), min_size=len(localities),
                                max_size=len(localities)))  # fmt: skip
    counts = blank_places_of_death(_deaths(localities, places), RD, "practice")["counts"]
    # deaths at a practice of no known locality are an area of their own, as in the indicators
    areas = [*LOCALITIES, *([UNKNOWN] if None in localities else [])]
    assert set(counts) == {*areas, BSOL}
    numbers = [c for c in counts.values() if isinstance(c, int)]
    assert not DEFAULT_POLICY.disclosive(pd.Series(numbers, dtype="float64")).any()
    hidden = [a for a in areas if not isinstance(counts[a], int)]
    assert len(hidden) != 1 or all(counts[a] == 0 for a in areas if a not in hidden)


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1234, "1,234 deaths from 1 April 2024 to 31 March 2025 had no recorded place of death"),
        (SMALL, f"{SMALL} deaths from 1 April 2024"),
        (0, "every death from 1 April 2024 to 31 March 2025 had a recorded place of death"),
        ("withheld", "is withheld"),
    ],
)
def test_caveat_sentence(count, expected):
    text = blank_place_sentence(count, "East", "1 April 2024 to 31 March 2025")
    assert text.startswith("In East locality, ") and expected in text
    if count:
        assert "stay in the denominator" in text and "neither home, care home nor hospital" in text


def test_end_of_life_caveat_names_the_pack_area():
    empty = pd.DataFrame()
    data = PackData(
        empty,
        empty,
        empty,
        empty,
        empty,
        info={
            "reporting_date": "2025-03-31",
            "blank_place_of_death": {
                "window": ["2024-04-01", "2025-03-31"],
                "counts": {"East": 42, BSOL: SMALL},
            },
        },
    )
    assert "42 deaths from 1 April 2024" in end_of_life_caveats(data, "East")
    assert end_of_life_caveats(data, BSOL).startswith(
        f"<p>In Birmingham and Solihull (BSOL), {SMALL} deaths"
    )
    assert end_of_life_caveats(data, "West") == ""
    data.info.pop("blank_place_of_death")
    assert end_of_life_caveats(data, "East") == ""


@pytest.mark.slow
def test_demo_pack_shows_both():
    from bsol_analytics.packs.demo import demo_pack
    from bsol_analytics.report.sections import definitions_section, family_section

    data = demo_pack()
    quality = definitions_section(data, "East")
    assert "<caption>Data quality of the extract</caption>" in quality
    assert "Hospital admissions supplied" in quality and ": True" not in quality
    eol = family_section(data, "East", "end_of_life")
    assert "In East locality, every death from 1 April 2024 to 31 March 2025 had a" in eol
