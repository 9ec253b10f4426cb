"""Small, valid extracts in the contract shape, for the cleaning tests and the benchmark.

``extract_frames`` builds every table as text (as it would be read from CSV) with real BSOL
practices, LSOAs and codes; ``write_extract`` writes it as CSV or Parquet. Vectorised, so
the benchmark can build a full-size extract with it when the synthetic generator is absent.
The tests get both through the fixtures of the same names in ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from bsol_analytics import reference

END = np.datetime64("2025-03-31")


def _iso(days: np.ndarray) -> np.ndarray:
    """ISO ``YYYY-MM-DD`` text of ``days``."""
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D")


def extract_frames(
    n_patients: int = 300, events_per_patient: int = 6, seed: int = 1, version: int = 2
) -> dict[str, pd.DataFrame]:
    """Every extract table as a DataFrame of strings; no row breaks any rule.

    ``version=1`` gives the version 1 contract shape (no medications, ED attendances,
    cause of death or primary diagnosis); the version 1 rows are the same in both.
    """
    rng = np.random.default_rng(seed)
    n = n_patients
    pid = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 8))
    dob = np.datetime64("1925-01-01") + rng.integers(0, 95 * 365, n).astype("timedelta64[D]")
    reg_start = np.maximum(dob, np.datetime64("2000-01-01")) + rng.integers(0, 400, n).astype(
        "timedelta64[D]"
    )
    reg_start = np.minimum(reg_start, END - np.timedelta64(30, "D"))
    dead = rng.random(n) < 0.05
    death = reg_start + ((END - reg_start).astype(np.int64) * rng.random(n)).astype(
        "timedelta64[D]"
    )
    death = np.where(dead, death, np.datetime64("NaT"))
    left = (~dead) & (rng.random(n) < 0.03)
    reg_end = np.where(left, END - np.timedelta64(10, "D"), np.datetime64("NaT"))
    lsoas = reference.lsoa21_lookup()["lsoa21_code"].to_numpy()
    practices = reference.practices()["practice_code"].to_numpy()
    eth = np.array(["A", "B", "C", "H", "J", "K", "N", "M", "R", "S", "976631000000101", "Z", ""])
    places = np.array(["home", "care home", "hospital", "hospice", "other"])
    patients = pd.DataFrame(
        {
            "patient_id": pid,
            "sex": rng.choice(["M", "F"], n),
            "date_of_birth": _iso(dob),
            "ethnicity_code": rng.choice(eth, n),
            "lsoa_code": rng.choice(lsoas, n),
            "practice_code": rng.choice(practices, n),
            "registration_start": _iso(reg_start),
            "registration_end": np.where(left, _iso(np.where(left, reg_end, END)), ""),
            "date_of_death": np.where(dead, _iso(np.where(dead, death, END)), ""),
            "place_of_death": np.where(dead, rng.choice(places, n), ""),
        }
    )

    # Events: a fixed mix of codes, dated inside each patient's life and registration.
    codes = {name: reference.codelist(name)["code"].iloc[0] for name in reference.CLUSTER_FILES}
    mix = np.array(
        ["HYP_COD", "SBP", "DBP", "HBA1C", "DM_COD", "COPD_COD", "COPD_REVIEW", "PALCARE_COD"]
    )
    m = n * events_per_patient
    who = np.repeat(np.arange(n), events_per_patient)
    kind = rng.choice(mix, m)
    last = np.where(dead[who], death[who], END)
    first = np.maximum(dob[who], np.datetime64("2010-01-01"))
    first = np.minimum(first, last)
    span = (last - first).astype(np.int64)
    ev_date = first + (span * rng.random(m)).astype("timedelta64[D]")
    value = np.full(m, "", dtype=object)
    for k, (lo, hi) in {"SBP": (100, 180), "DBP": (60, 100), "HBA1C": (35, 90)}.items():
        sel = kind == k
        value[sel] = rng.integers(lo, hi, sel.sum()).astype(str)
    events = pd.DataFrame(
        {
            "patient_id": pid[who],
            "event_date": _iso(ev_date),
            "snomed_code": pd.Series(kind).map(codes).to_numpy(),
            "numeric_value": value.astype(str),
        }
    )
    events = events.drop_duplicates(ignore_index=True)

    def in_life(k: int) -> tuple[np.ndarray, np.ndarray]:
        """``k`` random patients and a date for each from 2015 (or birth) to death or END."""
        who = rng.integers(0, n, k)
        last = np.where(dead[who], death[who], END)
        first = np.minimum(np.maximum(dob[who], np.datetime64("2015-01-01")), last)
        span = (last - first).astype(np.int64)
        return who, first + (span * rng.random(k)).astype("timedelta64[D]")

    who, t_date = in_life(n)
    k = n
    screening = pd.DataFrame(
        {
            "patient_id": pid[who],
            "programme": rng.choice(["breast", "cervical", "bowel"], k),
            "test_date": _iso(t_date),
            "outcome": rng.choice(["adequate", "adequate", "adequate", "inadequate"], k),
        }
    ).drop_duplicates(ignore_index=True)

    k = max(n // 5, 3)
    who, a_date = in_life(k)
    admissions = pd.DataFrame(
        {
            "patient_id": pid[who],
            "admission_date": _iso(a_date),
            "admission_method": rng.choice(["emergency", "elective"], k),
        }
    ).drop_duplicates(ignore_index=True)
    frames = {
        "patients": patients,
        "clinical_events": events,
        "screening": screening,
        "admissions": admissions,
    }
    if version >= 2:
        frames = _version2(frames, np.random.default_rng(seed + 1000), in_life, pid, dead)
    return frames


def _version2(
    frames: dict[str, pd.DataFrame],
    rng: np.random.Generator,
    in_life: Callable[[int], tuple[np.ndarray, np.ndarray]],
    pid: np.ndarray,
    dead: np.ndarray,
) -> dict[str, pd.DataFrame]:
    """Add the version 2 tables and columns, drawn from their own random stream."""
    n = len(pid)
    causes = np.array(["C34.9", "C349", "C50", "I21.9", "J44.1", "F03", "I10X"])
    patients = frames["patients"].assign(
        underlying_cause_of_death=np.where(dead, rng.choice(causes, n), "")
    )
    adm = frames["admissions"]
    dx = np.array(["I10", "I10.X", "J44.1", "E11.9", "S72.0", "C34.9", "I20.0", ""])
    admissions = adm.assign(primary_diagnosis=rng.choice(dx, len(adm)))
    drugs = np.array(
        [reference.drug_codelist(g)["code"].iloc[i] for g in ("LLT", "ANTIHYP") for i in (0, 1)]
    )
    k = max(n // 2, 3)
    who, m_date = in_life(k)
    medications = pd.DataFrame(
        {"patient_id": pid[who], "issue_date": _iso(m_date), "dmd_code": rng.choice(drugs, k)}
    ).drop_duplicates(ignore_index=True)
    k = max(n // 4, 3)
    who, e_date = in_life(k)
    ed = pd.DataFrame({"patient_id": pid[who], "attendance_date": _iso(e_date)})
    kinds = np.array(["CHOL", "HDL", "LDL", "NONHDL", "CHD_COD", "DMTYPE2_COD", "CARE_PLAN"])
    in_two = reference.clusters()["code"].duplicated(keep=False)
    single = set(reference.clusters()["code"][~in_two])
    codes = {c: next(x for x in reference.codelist(c)["code"] if x in single) for c in kinds}
    k = max(n, 7)
    who, v_date = in_life(k)
    kind = rng.choice(kinds, k)
    measured = np.isin(kind, ["CHOL", "HDL", "LDL", "NONHDL"])
    value = np.where(measured, np.round(rng.uniform(0.8, 6.5, k), 1).astype(str), "")
    extra = pd.DataFrame(
        {
            "patient_id": pid[who],
            "event_date": _iso(v_date),
            "snomed_code": pd.Series(kind).map(codes).to_numpy(),
            "numeric_value": value,
        }
    )
    events = pd.concat([frames["clinical_events"], extra], ignore_index=True)
    return {
        **frames,
        "clinical_events": events.drop_duplicates(ignore_index=True),
        "patients": patients,
        "admissions": admissions,
        "medications": medications,
        "ed_attendances": ed.drop_duplicates(ignore_index=True),
    }


def write_extract(folder: Path | str, frames: dict[str, pd.DataFrame], fmt: str = "csv") -> Path:
    """Write ``frames`` as ``<table>.csv`` (blank = empty field) or ``<table>.parquet``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        if fmt == "csv":
            pacsv.write_csv(
                pa.Table.from_pandas(df, preserve_index=False),
                folder / f"{name}.csv",
                pacsv.WriteOptions(quoting_style="needed"),
            )
        else:
            pq.write_table(
                pa.Table.from_pandas(df, preserve_index=False), folder / f"{name}.parquet"
            )
    return folder
