"""Known-answer cases for the contract version 2 indicators (reporting date 2025-03-31).

Each case is one patient; ``expect`` maps an indicator to (denominator, numerator) counts
in the cube for that patient alone (the cube is keyed by the patient's ``case`` column).
Mortality indicators count deaths outside their denominator, so a death is ``(0, 1)``.
Window bounds at RD = 2025-03-31: 6 months -> (2024-09-30, RD], 12 -> (2024-03-31, RD],
36 -> (2022-03-31, RD]; 90 days before a death on 2024-10-01 is 2024-07-03 (excluded).
``build_v2_extract`` and ``combined_extract`` (the fixtures of the same names) make the
processed tables for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from helpers.known_answers import DM, HYP, born, bp
from helpers.known_answers import build_extract as build_v1_extract

DOD = "2024-10-01"  # a death inside the 12 months before RD


@dataclass
class Case:
    """One patient with the rows that matter for a rule, and the counts per indicator."""

    name: str
    expect: dict[str, tuple[int, int]]
    patient: dict = field(default_factory=dict)
    events: list[tuple[str, str, float | None]] = field(default_factory=list)
    meds: list[tuple[str, str]] = field(default_factory=list)
    ed: list[str] = field(default_factory=list)
    admissions: list[tuple[str, str, str | None]] = field(default_factory=list)


CHD = [("2010-01-01", "CHD_COD", None)]
DEAD = {"date_of_death": DOD, "place_of_death": "hospital"}


def chol(day: str, **values: float) -> list[tuple[str, str, float]]:
    """Cholesterol readings on ``day``, one for each ``cluster=value``."""
    return [(day, cluster.upper(), v) for cluster, v in values.items()]


CASES: list[Case] = [
    # --- cholesterol in range (HYP_CHOL_RANGE) ---
    Case(
        "LDL exactly 2.0", {"HYP_CHOL_RANGE": (1, 1)}, events=[*HYP, *chol("2024-06-01", ldl=2.0)]
    ),
    Case("LDL 2.01", {"HYP_CHOL_RANGE": (1, 0)}, events=[*HYP, *chol("2024-06-01", ldl=2.01)]),
    Case(
        "non-HDL code exactly 2.6",
        {"HYP_CHOL_RANGE": (1, 1)},
        events=[*HYP, *chol("2024-06-01", nonhdl=2.6)],
    ),
    Case(
        "non-HDL code 2.61",
        {"HYP_CHOL_RANGE": (1, 0)},
        events=[*HYP, *chol("2024-06-01", nonhdl=2.61)],
    ),
    Case(
        "non-HDL from total 4.2 minus HDL 1.6 is 2.6 after rounding",
        {"HYP_CHOL_RANGE": (1, 1)},
        events=[*HYP, *chol("2024-06-01", chol=4.2, hdl=1.6)],
    ),
    Case(
        "total and HDL on different dates give no non-HDL",
        {"HYP_CHOL_RANGE": (1, 0)},
        events=[*HYP, *chol("2024-06-01", chol=3.0), *chol("2024-06-02", hdl=1.5)],
    ),
    Case(
        "a non-HDL code wins over total minus HDL",
        {"HYP_CHOL_RANGE": (1, 0)},
        events=[*HYP, *chol("2024-06-01", chol=3.0, hdl=1.5, nonhdl=2.7)],
    ),
    Case(
        "reading exactly 12 months before RD is outside",
        {"HYP_CHOL_RANGE": (1, 0)},
        events=[*HYP, *chol("2024-03-31", ldl=1.5)],
    ),
    Case(
        "reading the day after is inside",
        {"HYP_CHOL_RANGE": (1, 1)},
        events=[*HYP, *chol("2024-04-01", ldl=1.5)],
    ),
    Case(
        "LDL out and non-HDL in on the same latest date",
        {"HYP_CHOL_RANGE": (1, 1)},
        events=[*HYP, *chol("2024-06-01", ldl=2.5, nonhdl=2.5)],
    ),
    Case(
        "LDL in and non-HDL out on the same latest date",
        {"HYP_CHOL_RANGE": (1, 1)},
        events=[*HYP, *chol("2024-06-01", ldl=1.9, nonhdl=3.0)],
    ),
    Case(
        "latest LDL out of range, earlier in range",
        {"HYP_CHOL_RANGE": (1, 0)},
        events=[*HYP, *chol("2024-06-01", ldl=1.5), *chol("2024-09-01", ldl=2.5)],
    ),
    Case(
        "a later total cholesterol alone is not a cholesterol date",
        {"HYP_CHOL_RANGE": (1, 1)},
        events=[*HYP, *chol("2024-06-01", ldl=1.5), *chol("2024-09-01", chol=6.0)],
    ),
    Case(
        "two LDL values on one date: the lowest",
        {"HYP_CHOL_RANGE": (1, 1)},
        events=[*HYP, ("2024-06-01", "LDL", 2.5), ("2024-06-01", "LDL", 1.9)],
    ),
    Case(
        "two HDL values on one date: the highest",
        {"HYP_CHOL_RANGE": (1, 1)},
        events=[
            *HYP,
            *chol("2024-06-01", chol=4.5),
            ("2024-06-01", "HDL", 1.8),
            ("2024-06-01", "HDL", 1.9),
        ],
    ),
    Case("not on the register", {"HYP_CHOL_RANGE": (0, 0)}, events=chol("2024-06-01", ldl=1.0)),
    # --- BP and cholesterol together (HYP_BP_CHOL) ---
    Case(
        "BP and cholesterol both in range",
        {"HYP_BP_CHOL": (1, 1), "HYP_BP_TARGET": (1, 1)},
        events=[*HYP, *bp("2024-06-01", 130, 80), *chol("2024-06-01", ldl=1.8)],
    ),
    Case(
        "BP out, cholesterol in",
        {"HYP_BP_CHOL": (1, 0), "HYP_BP_TARGET": (1, 0)},
        events=[*HYP, *bp("2024-06-01", 150, 80), *chol("2024-06-01", ldl=1.8)],
    ),
    Case(
        "BP in, cholesterol out",
        {"HYP_BP_CHOL": (1, 0), "HYP_BP_TARGET": (1, 1)},
        events=[*HYP, *bp("2024-06-01", 130, 80), *chol("2024-06-01", ldl=2.5)],
    ),
    # --- CVD register, lipid-lowering therapy ---
    Case(
        "statin exactly 6 months before RD is outside",
        {"CVD_LLT": (1, 0)},
        {"date_of_birth": born(18)},
        events=CHD,
        meds=[("2024-09-30", "LLT")],
    ),
    Case(
        "statin the day after is inside",
        {"CVD_LLT": (1, 1)},
        events=CHD,
        meds=[("2024-10-01", "LLT")],
    ),
    Case(
        "statin after RD",
        {"CVD_LLT": (1, 0)},
        events=[("2015-01-01", "STRK_COD", None)],
        meds=[("2025-04-01", "LLT")],
    ),
    Case(
        "antihypertensive is not lipid-lowering",
        {"CVD_LLT": (1, 0)},
        events=[("2015-01-01", "TIA_COD", None)],
        meds=[("2025-01-01", "ANTIHYP")],
    ),
    Case(
        "CVD register aged 17",
        {"CVD_LLT": (0, 0), "CVD_CHOL_RANGE": (0, 0)},
        {"date_of_birth": born(17)},
        events=CHD,
        meds=[("2025-01-01", "LLT")],
    ),
    Case(
        "CVD code after RD",
        {"CVD_LLT": (0, 0)},
        events=[("2025-04-01", "PAD_COD", None)],
        meds=[("2025-01-01", "LLT")],
    ),
    Case(
        "PAD with LDL in range",
        {"CVD_CHOL_RANGE": (1, 1), "CVD_LLT": (1, 0)},
        events=[("2015-01-01", "PAD_COD", None), *chol("2024-12-01", ldl=1.5)],
    ),
    # --- diabetes ---
    Case(
        "diabetes BP exactly 140/80",
        {"DM_BP_140_80": (1, 1)},
        events=[*DM, *bp("2024-06-01", 140, 80)],
    ),
    Case("diabetes BP 141/80", {"DM_BP_140_80": (1, 0)}, events=[*DM, *bp("2024-06-01", 141, 80)]),
    Case("diabetes BP 140/81", {"DM_BP_140_80": (1, 0)}, events=[*DM, *bp("2024-06-01", 140, 81)]),
    Case(
        "3TT: age exactly 40 without a statin",
        {"DM_3TT": (1, 0), "DM_HBA1C_58": (1, 1), "DM_BP_140_80": (1, 1)},
        {"date_of_birth": born(40)},
        events=[*DM, *bp("2024-06-01", 140, 80), ("2024-06-01", "HBA1C", 58.0)],
    ),
    Case(
        "3TT: age exactly 40 with a statin",
        {"DM_3TT": (1, 1)},
        {"date_of_birth": born(40)},
        events=[*DM, *bp("2024-06-01", 140, 80), ("2024-06-01", "HBA1C", 58.0)],
        meds=[("2025-03-31", "LLT")],
    ),
    Case(
        "3TT: age 39 needs no statin",
        {"DM_3TT": (1, 1)},
        {"date_of_birth": born(39, False)},
        events=[*DM, *bp("2024-06-01", 120, 70), ("2024-06-01", "HBA1C", 50.0)],
    ),
    Case(
        "3TT: HbA1c 59 fails",
        {"DM_3TT": (1, 0)},
        {"date_of_birth": born(30)},
        events=[*DM, *bp("2024-06-01", 120, 70), ("2024-06-01", "HBA1C", 59.0)],
    ),
    # --- end of life ---
    Case(
        "care plan the day before death",
        {"EOL_CARE_PLAN": (1, 1)},
        DEAD,
        events=[("2024-09-30", "CARE_PLAN", None)],
    ),
    Case(
        "care plan on the day of death",
        {"EOL_CARE_PLAN": (1, 0)},
        DEAD,
        events=[(DOD, "CARE_PLAN", None)],
    ),
    Case(
        "3 ED attendances, the first the day after the 90-day bound",
        {"EOL_ED_3PLUS": (1, 1), "EOL_ED_MEAN": (1, 3)},
        DEAD,
        ed=["2024-07-04", "2024-08-01", DOD],
    ),
    Case(
        "an attendance exactly 90 days before death is outside",
        {"EOL_ED_3PLUS": (1, 0), "EOL_ED_MEAN": (1, 2)},
        DEAD,
        ed=["2024-07-03", "2024-08-01", "2024-09-01"],
    ),
    Case(
        "a decedent with no ED attendance",
        {"EOL_ED_3PLUS": (1, 0), "EOL_ED_MEAN": (1, 0), "EOL_CARE_PLAN": (1, 0)},
        DEAD,
    ),
    # --- chronic ACSC emergency admissions ---
    Case(
        "3-character ACSC code padded with X",
        {"ACSC_EMERG": (1, 1)},
        admissions=[("2024-06-01", "emergency", "I10")],
    ),
    Case(
        "4-character code under a whole 3-character category",
        {"ACSC_EMERG": (1, 1)},
        admissions=[("2024-06-01", "emergency", "E119")],
    ),
    Case(
        "a 3-character category code itself",
        {"ACSC_EMERG": (1, 1)},
        admissions=[("2024-06-01", "emergency", "E11")],
    ),
    Case(
        "elective admission with an ACSC diagnosis",
        {"ACSC_EMERG": (1, 0)},
        admissions=[("2024-06-01", "elective", "J440")],
    ),
    Case(
        "two ACSC admissions count twice",
        {"ACSC_EMERG": (1, 2)},
        admissions=[("2024-06-01", "emergency", "J440"), ("2024-07-01", "emergency", "I500")],
    ),
    Case(
        "admission exactly 12 months before RD",
        {"ACSC_EMERG": (1, 0)},
        admissions=[("2024-03-31", "emergency", "I10X")],
    ),
    Case(
        "acute bronchitis does not count",
        {"ACSC_EMERG": (1, 0)},
        admissions=[("2024-06-01", "emergency", "J200")],
    ),
    Case(
        "a subdivision not in the list",
        {"ACSC_EMERG": (1, 0)},
        admissions=[("2024-06-01", "emergency", "I109"), ("2024-06-02", "emergency", None)],
    ),
    # --- mortality ---
    Case(
        "cancer death aged 74",
        {"MORT_CANCER_U75": (0, 1), "LE_BIRTH": (0, 1)},
        {"date_of_birth": "1950-01-01", "underlying_cause_of_death": "C349", **DEAD},
    ),
    Case(
        "cancer death aged 75",
        {"MORT_CANCER_U75": (0, 0), "LE_BIRTH": (0, 1)},
        {"date_of_birth": "1949-01-01", "underlying_cause_of_death": "C34", **DEAD},
    ),
    Case(
        "non-cancer death aged 60",
        {"MORT_CANCER_U75": (0, 0)},
        {"date_of_birth": "1964-01-01", "underlying_cause_of_death": "I219", **DEAD},
    ),
    Case(
        "C97 counts, D00 does not",
        {"MORT_CANCER_U75": (0, 1)},
        {"date_of_birth": "1964-01-01", "underlying_cause_of_death": "C97", **DEAD},
    ),
    Case(
        "not registered at death",
        {"MORT_CANCER_U75": (0, 0), "LE_BIRTH": (0, 0)},
        {"registration_end": "2024-09-30", "underlying_cause_of_death": "C349", **DEAD},
    ),
    Case(
        "registered aged 74 at RD",
        {"MORT_CANCER_U75": (1, 0), "LE_BIRTH": (1, 0)},
        {"date_of_birth": born(74, False)},
    ),
    Case("registered aged 75 at RD", {"MORT_CANCER_U75": (0, 0)}, {"date_of_birth": born(75)}),
    Case(
        "death exactly 36 months before RD",
        {"LE_BIRTH": (0, 0), "MORT_CANCER_U75": (0, 0)},
        {"date_of_death": "2022-03-31", "underlying_cause_of_death": "C349"},
    ),
    Case(
        "death the day after",
        {"LE_BIRTH": (0, 1), "MORT_CANCER_U75": (0, 0)},
        {"date_of_death": "2022-04-01", "underlying_cause_of_death": "C349"},
    ),
]


def build_v2_extract(cases: list[Case] = CASES) -> dict[str, pd.DataFrame]:
    """Processed tables (version 2) for ``cases``: patient ``v{n}`` is case n."""
    patients, events, meds, ed, adms = [], [], [], [], []
    for n, case in enumerate(cases):
        pid = f"v{n:03d}"
        row = {
            "patient_id": pid,
            "sex": "F" if n % 2 else "M",
            "date_of_birth": "1970-06-15",
            "registration_start": "2000-01-01",
            "registration_end": None,
            "date_of_death": None,
            "place_of_death": None,
            "underlying_cause_of_death": None,
            "practice_locality": ["Central", "East", "Solihull"][n % 3],
            "imd2025_quintile": [1, 3, None, 5][n % 4],
            "case": pid,
        }
        row.update(case.patient)
        patients.append(row)
        events += [(pid, d, c, v) for d, c, v in case.events]
        meds += [(pid, d, g) for d, g in case.meds]
        ed += [(pid, d) for d in case.ed]
        adms += [(pid, d, m, x) for d, m, x in case.admissions]
    p = pd.DataFrame(patients)
    for col in ("date_of_birth", "registration_start", "registration_end", "date_of_death"):
        p[col] = pd.to_datetime(p[col])
    p["imd2025_quintile"] = p["imd2025_quintile"].astype("Int8")
    e = pd.DataFrame(events, columns=["patient_id", "event_date", "cluster", "numeric_value"])
    e = e.astype({"event_date": "datetime64[s]", "numeric_value": "float64"})
    m = pd.DataFrame(meds, columns=["patient_id", "issue_date", "drug_group"])
    a = pd.DataFrame(
        adms, columns=["patient_id", "admission_date", "admission_method", "primary_diagnosis"]
    )
    return {
        "patients": p,
        "clinical_events": e,
        "screening": pd.DataFrame(columns=["patient_id", "programme", "test_date", "outcome"]),
        "admissions": a.astype({"admission_date": "datetime64[s]"}),
        "medications": m.astype({"issue_date": "datetime64[s]"}),
        "ed_attendances": pd.DataFrame(ed, columns=["patient_id", "attendance_date"]).astype(
            {"attendance_date": "datetime64[s]"}
        ),
    }


def combined_extract() -> dict[str, pd.DataFrame]:
    """The version 1 known-answer patients and these, in one extract (for the engine tests)."""
    v1, v2 = build_v1_extract(), build_v2_extract()
    out = {}
    for name in v2:
        frames = [f for f in (v1.get(name), v2[name]) if f is not None and len(f.columns)]
        out[name] = pd.concat(frames, ignore_index=True)
    out["patients"] = out["patients"].assign(case=out["patients"]["patient_id"])
    out["screening"] = v1["screening"]
    return out
