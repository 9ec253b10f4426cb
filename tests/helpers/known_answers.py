"""Known-answer cases for the version 1 indicators (reporting date 2025-03-31).

Each case is one patient with the events that matter for one rule and the expected
(in denominator, in numerator) per indicator. Window bounds at RD = 2025-03-31:
12 months -> (2024-03-31, RD], 30 -> (2022-09-30, RD], 36 -> (2022-03-31, RD],
42 -> (2021-09-30, RD], 60 -> (2020-03-31, RD], 66 -> (2019-09-30, RD].
``build_extract`` (the fixture of the same name) makes the processed tables for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from helpers import REPORTING_DATE as RD

OUT = (False, False)  # not in the denominator


@dataclass
class Case:
    """One patient with the rows that matter for a rule, and the answers per indicator."""

    name: str
    expect: dict[str, tuple[bool, bool]]
    patient: dict = field(default_factory=dict)
    events: list[tuple[str, str, float | None]] = field(default_factory=list)
    screening: list[tuple[str, str, str]] = field(default_factory=list)
    admissions: list[tuple[str, str]] = field(default_factory=list)


def born(age: int, birthday_passed: bool = True) -> str:
    """A date of birth giving exactly ``age`` at RD (birthday on RD when passed)."""
    return f"{2025 - age}-03-31" if birthday_passed else f"{2025 - age - 1}-04-01"


HYP = [("2010-01-01", "HYP_COD", None)]
DM = [("2010-01-01", "DM_COD", None)]
COPD = [("2010-01-01", "COPD_COD", None)]


def bp(day: str, sys: float, dia: float) -> list[tuple[str, str, float]]:
    """A systolic and a diastolic reading on ``day``."""
    return [(day, "SBP", sys), (day, "DBP", dia)]


CASES: list[Case] = [
    # --- population: registered at RD ---
    Case("registration ends at RD", {"HYP_PREV": OUT}, {"registration_end": RD}),
    Case(
        "registration ends day after RD",
        {"HYP_PREV": (True, False)},
        {"registration_end": "2025-04-01"},
    ),
    Case("registration starts on RD", {"HYP_PREV": (True, False)}, {"registration_start": RD}),
    Case("registration starts after RD", {"HYP_PREV": OUT}, {"registration_start": "2025-04-01"}),
    Case(
        "death at RD leaves the registered population",
        {"HYP_PREV": OUT, "EOL_HOSPITAL": (True, True)},
        {"date_of_death": RD, "place_of_death": "hospital"},
    ),
    # --- registers ---
    Case("diagnosis", {"HYP_PREV": (True, True)}, events=HYP),
    Case(
        "resolved after diagnosis",
        {"HYP_PREV": (True, False)},
        events=[*HYP, ("2015-01-01", "HYPRES_COD", None)],
    ),
    Case(
        "new diagnosis after resolution",
        {"HYP_PREV": (True, True)},
        events=[*HYP, ("2015-01-01", "HYPRES_COD", None), ("2020-01-01", "HYP_COD", None)],
    ),
    Case(
        "resolved on the day of the diagnosis stays on",
        {"HYP_PREV": (True, True)},
        events=[("2020-01-01", "HYP_COD", None), ("2020-01-01", "HYPRES_COD", None)],
    ),
    Case("diagnosis on RD", {"HYP_PREV": (True, True)}, events=[(RD, "HYP_COD", None)]),
    Case(
        "diagnosis after RD ignored",
        {"HYP_PREV": (True, False)},
        events=[("2025-04-01", "HYP_COD", None)],
    ),
    Case(
        "resolution after RD ignored",
        {"HYP_PREV": (True, True)},
        events=[*HYP, ("2025-04-01", "HYPRES_COD", None)],
    ),
    # --- HYP_BP_TARGET ---
    Case(
        "age 79, 145/85 misses 140/90",
        {"HYP_BP_TARGET": (True, False)},
        {"date_of_birth": born(79, False)},
        events=[*HYP, *bp("2025-01-01", 145, 85)],
    ),
    Case(
        "age exactly 80, 145/85 meets 150/90",
        {"HYP_BP_TARGET": (True, True)},
        {"date_of_birth": born(80)},
        events=[*HYP, *bp("2025-01-01", 145, 85)],
    ),
    Case(
        "age 80, 150/90 meets",
        {"HYP_BP_TARGET": (True, True)},
        {"date_of_birth": born(80)},
        events=[*HYP, *bp("2025-01-01", 150, 90)],
    ),
    Case(
        "age 80, 151/85 misses",
        {"HYP_BP_TARGET": (True, False)},
        {"date_of_birth": born(80)},
        events=[*HYP, *bp("2025-01-01", 151, 85)],
    ),
    Case(
        "140/90 at 50 meets",
        {"HYP_BP_TARGET": (True, True), "HYP_POSSIBLE": OUT},
        {"date_of_birth": born(50)},
        events=[*HYP, *bp("2025-01-01", 140, 90)],
    ),
    Case(
        "130/91 misses", {"HYP_BP_TARGET": (True, False)}, events=[*HYP, *bp("2025-01-01", 130, 91)]
    ),
    Case(
        "systolic and diastolic on different later dates: the paired date counts",
        {"HYP_BP_TARGET": (True, False)},
        events=[
            *HYP,
            *bp("2024-12-01", 160, 95),
            ("2025-02-01", "SBP", 130),
            ("2025-02-02", "DBP", 80),
        ],
    ),
    Case(
        "later unpaired systolic ignored",
        {"HYP_BP_TARGET": (True, True)},
        events=[*HYP, *bp("2025-01-01", 135, 85), ("2025-03-01", "SBP", 170)],
    ),
    Case(
        "BP on first excluded day",
        {"HYP_BP_TARGET": (True, False)},
        events=[*HYP, *bp("2024-03-31", 120, 80)],
    ),
    Case(
        "BP on first included day",
        {"HYP_BP_TARGET": (True, True)},
        events=[*HYP, *bp("2024-04-01", 120, 80)],
    ),
    Case("BP on RD", {"HYP_BP_TARGET": (True, True)}, events=[*HYP, *bp(RD, 120, 80)]),
    Case(
        "BP after RD ignored",
        {"HYP_BP_TARGET": (True, False)},
        events=[*HYP, *bp("2025-04-01", 120, 80)],
    ),
    Case(
        "later high BP after RD ignored",
        {"HYP_BP_TARGET": (True, True)},
        events=[*HYP, *bp("2025-01-01", 120, 80), *bp("2025-04-01", 180, 100)],
    ),
    Case(
        "several readings on the latest date: lowest of each",
        {"HYP_BP_TARGET": (True, True)},
        events=[*HYP, *bp("2025-01-01", 150, 95), *bp("2025-01-01", 130, 85)],
    ),
    Case(
        "not on register: not in BP target",
        {"HYP_BP_TARGET": OUT},
        events=bp("2025-01-01", 120, 80),
    ),
    # --- HYP_BP_CHECK_45 ---
    Case(
        "age exactly 45, SBP on first included day",
        {"HYP_BP_CHECK_45": (True, True)},
        {"date_of_birth": born(45)},
        events=[("2020-04-01", "SBP", 120)],
    ),
    Case(
        "age 44 not in denominator",
        {"HYP_BP_CHECK_45": OUT},
        {"date_of_birth": born(44, False)},
        events=[("2024-01-01", "SBP", 120)],
    ),
    Case(
        "SBP on first excluded day",
        {"HYP_BP_CHECK_45": (True, False)},
        {"date_of_birth": born(50)},
        events=[("2020-03-31", "SBP", 120)],
    ),
    Case(
        "diastolic alone is not a BP check",
        {"HYP_BP_CHECK_45": (True, False)},
        {"date_of_birth": born(50)},
        events=[("2024-01-01", "DBP", 80)],
    ),
    # --- HYP_POSSIBLE ---
    Case(
        "age exactly 18, 140/80",
        {"HYP_POSSIBLE": (True, True)},
        {"date_of_birth": born(18)},
        events=bp("2025-01-01", 140, 80),
    ),
    Case(
        "age 17 not in denominator",
        {"HYP_POSSIBLE": OUT},
        {"date_of_birth": born(17, False)},
        events=bp("2025-01-01", 160, 80),
    ),
    Case("120/90 is raised", {"HYP_POSSIBLE": (True, True)}, events=bp("2025-01-01", 120, 90)),
    Case("139/89 is not raised", {"HYP_POSSIBLE": (True, False)}, events=bp("2025-01-01", 139, 89)),
    Case(
        "on register: not possible undiagnosed",
        {"HYP_POSSIBLE": OUT},
        events=[*HYP, *bp("2025-01-01", 160, 100)],
    ),
    Case("no BP: in denominator only", {"HYP_POSSIBLE": (True, False)}),
    # --- diabetes ---
    Case(
        "age exactly 17 with diabetes",
        {"DM_PREV": (True, True), "DM_HBA1C_58": (True, True)},
        {"date_of_birth": born(17)},
        events=[*DM, ("2025-01-01", "HBA1C", 58)],
    ),
    Case(
        "age 16 with diabetes",
        {"DM_PREV": OUT, "DM_HBA1C_58": OUT},
        {"date_of_birth": born(16, False)},
        events=[*DM, ("2025-01-01", "HBA1C", 40)],
    ),
    Case("HbA1c 59", {"DM_HBA1C_58": (True, False)}, events=[*DM, ("2025-01-01", "HBA1C", 59)]),
    Case(
        "latest HbA1c counts",
        {"DM_HBA1C_58": (True, False)},
        events=[*DM, ("2025-01-01", "HBA1C", 50), ("2025-02-01", "HBA1C", 60)],
    ),
    Case(
        "HbA1c on first excluded day",
        {"DM_HBA1C_58": (True, False)},
        events=[*DM, ("2024-03-31", "HBA1C", 50)],
    ),
    Case(
        "HbA1c after RD ignored",
        {"DM_HBA1C_58": (True, True)},
        events=[*DM, ("2025-01-01", "HBA1C", 50), ("2025-04-01", "HBA1C", 90)],
    ),
    Case(
        "two HbA1c on the latest date: lowest",
        {"DM_HBA1C_58": (True, True)},
        events=[*DM, ("2025-01-01", "HBA1C", 70), ("2025-01-01", "HBA1C", 55)],
    ),
    Case(
        "diabetes resolved",
        {"DM_PREV": (True, False), "DM_HBA1C_58": OUT},
        events=[*DM, ("2020-01-01", "DMRES_COD", None)],
    ),
    # --- COPD ---
    Case(
        "COPD review on first included day",
        {"COPD_PREV": (True, True), "COPD_REVIEW": (True, True)},
        events=[*COPD, ("2024-04-01", "COPD_REVIEW", None)],
    ),
    Case(
        "COPD review on first excluded day",
        {"COPD_REVIEW": (True, False)},
        events=[*COPD, ("2024-03-31", "COPD_REVIEW", None)],
    ),
    Case(
        "COPD resolved",
        {"COPD_PREV": (True, False), "COPD_REVIEW": OUT},
        events=[*COPD, ("2020-01-01", "COPDRES_COD", None), (RD, "COPD_REVIEW", None)],
    ),
    # --- palliative care register ---
    Case("on PC register", {"PC_REG": (True, True)}, events=[("2024-06-01", "PALCARE_COD", None)]),
    Case(
        "PC not indicated later",
        {"PC_REG": (True, False)},
        events=[("2024-06-01", "PALCARE_COD", None), ("2024-07-01", "PALCARENI_COD", None)],
    ),
    # --- end of life ---
    Case(
        "death on the first excluded day",
        {"EOL_HOME_CARE_HOME": OUT},
        {"date_of_death": "2024-03-31", "place_of_death": "home"},
    ),
    Case(
        "death on the first included day at home",
        {"EOL_HOME_CARE_HOME": (True, True), "EOL_HOSPITAL": (True, False)},
        {"date_of_death": "2024-04-01", "place_of_death": "home"},
    ),
    Case(
        "death after RD",
        {"EOL_HOSPITAL": OUT, "HYP_PREV": (True, False)},
        {"date_of_death": "2025-04-01", "place_of_death": "hospital"},
    ),
    Case(
        "death in a care home, registration ending on the day of death",
        {"EOL_HOME_CARE_HOME": (True, True), "EOL_ON_PC_REG": (True, False)},
        {
            "date_of_death": "2024-10-01",
            "place_of_death": "care home",
            "registration_end": "2024-10-01",
        },
    ),
    Case(
        "left the practice before death",
        {"EOL_HOME_CARE_HOME": OUT},
        {"date_of_death": "2024-10-01", "place_of_death": "home", "registration_end": "2024-09-01"},
    ),
    Case(
        "hospice death",
        {"EOL_HOME_CARE_HOME": (True, False), "EOL_HOSPITAL": (True, False)},
        {"date_of_death": "2024-10-01", "place_of_death": "hospice"},
    ),
    Case(
        "unknown place of death",
        {"EOL_HOME_CARE_HOME": (True, False)},
        {"date_of_death": "2024-10-01"},
    ),
    Case(
        "PC code the day before death",
        {"EOL_ON_PC_REG": (True, True)},
        {"date_of_death": "2024-10-01"},
        events=[("2024-09-30", "PALCARE_COD", None)],
    ),
    Case(
        "PC code only on the day of death",
        {"EOL_ON_PC_REG": (True, False)},
        {"date_of_death": "2024-10-01"},
        events=[("2024-10-01", "PALCARE_COD", None)],
    ),
    Case(
        "PC not indicated before death",
        {"EOL_ON_PC_REG": (True, False)},
        {"date_of_death": "2024-10-01"},
        events=[("2024-01-01", "PALCARE_COD", None), ("2024-09-30", "PALCARENI_COD", None)],
    ),
    Case(
        "3 emergency admissions in the last 90 days",
        {"EOL_3PLUS_EMERG": (True, True)},
        {"date_of_death": "2024-10-01"},
        admissions=[
            ("2024-07-03", "emergency"),
            ("2024-07-04", "emergency"),
            ("2024-08-01", "emergency"),
            ("2024-10-01", "emergency"),
        ],
    ),
    Case(
        "admission 90 days before death excluded",
        {"EOL_3PLUS_EMERG": (True, False)},
        {"date_of_death": "2024-10-01"},
        admissions=[
            ("2024-07-03", "emergency"),
            ("2024-08-01", "emergency"),
            ("2024-10-01", "emergency"),
            ("2024-09-01", "elective"),
            ("2024-10-02", "emergency"),
        ],
    ),
    # --- screening ---
    Case(
        "breast: age exactly 53, test on first included day",
        {"SCR_BREAST": (True, True)},
        {"sex": "F", "date_of_birth": born(53)},
        screening=[("breast", "2022-04-01", "adequate")],
    ),
    Case(
        "breast: age 52",
        {"SCR_BREAST": OUT},
        {"sex": "F", "date_of_birth": born(52, False)},
        screening=[("breast", "2024-04-01", "adequate")],
    ),
    Case(
        "breast: age exactly 70, test on first excluded day",
        {"SCR_BREAST": (True, False)},
        {"sex": "F", "date_of_birth": born(70, False)},
        screening=[("breast", "2022-03-31", "adequate")],
    ),
    Case("breast: age 71", {"SCR_BREAST": OUT}, {"sex": "F", "date_of_birth": born(71)}),
    Case(
        "breast: man aged 60",
        {"SCR_BREAST": OUT, "SCR_BOWEL": (True, False)},
        {"sex": "M", "date_of_birth": born(60)},
        screening=[("breast", "2024-04-01", "adequate")],
    ),
    Case(
        "breast: inadequate test",
        {"SCR_BREAST": (True, False)},
        {"sex": "F", "date_of_birth": born(60)},
        screening=[("breast", "2024-04-01", "inadequate")],
    ),
    Case(
        "breast: test after RD",
        {"SCR_BREAST": (True, False)},
        {"sex": "F", "date_of_birth": born(60)},
        screening=[("breast", "2025-04-01", "adequate")],
    ),
    Case(
        "cervical: age exactly 25",
        {"SCR_CERVICAL_25_49": (True, True)},
        {"sex": "F", "date_of_birth": born(25)},
        screening=[("cervical", "2021-10-01", "adequate")],
    ),
    Case(
        "cervical: age 24",
        {"SCR_CERVICAL_25_49": OUT},
        {"sex": "F", "date_of_birth": born(24, False)},
        screening=[("cervical", "2024-10-01", "adequate")],
    ),
    Case(
        "cervical: age 49, first excluded day",
        {"SCR_CERVICAL_25_49": (True, False), "SCR_CERVICAL_50_64": OUT},
        {"sex": "F", "date_of_birth": born(49, False)},
        screening=[("cervical", "2021-09-30", "adequate")],
    ),
    Case(
        "cervical: age exactly 50, 66-month window",
        {"SCR_CERVICAL_25_49": OUT, "SCR_CERVICAL_50_64": (True, True)},
        {"sex": "F", "date_of_birth": born(50)},
        screening=[("cervical", "2019-10-01", "adequate")],
    ),
    Case(
        "cervical: age 64, first excluded day",
        {"SCR_CERVICAL_50_64": (True, False)},
        {"sex": "F", "date_of_birth": born(64, False)},
        screening=[("cervical", "2019-09-30", "adequate")],
    ),
    Case("cervical: age 65", {"SCR_CERVICAL_50_64": OUT}, {"sex": "F", "date_of_birth": born(65)}),
    Case(
        "cervical: bowel test does not count",
        {"SCR_CERVICAL_25_49": (True, False)},
        {"sex": "F", "date_of_birth": born(30)},
        screening=[("bowel", "2024-10-01", "adequate")],
    ),
    Case(
        "bowel: age exactly 60, first included day",
        {"SCR_BOWEL": (True, True)},
        {"date_of_birth": born(60)},
        screening=[("bowel", "2022-10-01", "adequate")],
    ),
    Case(
        "bowel: age 74, first excluded day",
        {"SCR_BOWEL": (True, False)},
        {"date_of_birth": born(74, False)},
        screening=[("bowel", "2022-09-30", "adequate")],
    ),
    Case("bowel: age 59", {"SCR_BOWEL": OUT}, {"date_of_birth": born(59, False)}),
    Case("bowel: age 75", {"SCR_BOWEL": OUT}, {"date_of_birth": born(75)}),
]


def build_extract(cases: list[Case] = CASES, admissions: bool = True) -> dict[str, pd.DataFrame]:
    """Processed tables for ``cases``: patient ``c{n}`` is case n."""
    patients, events, screening, adms = [], [], [], []
    for n, case in enumerate(cases):
        pid = f"c{n:03d}"
        row = {
            "patient_id": pid,
            "sex": "M",
            "date_of_birth": "1970-06-15",
            "registration_start": "2000-01-01",
            "registration_end": None,
            "date_of_death": None,
            "place_of_death": None,
            "practice_locality": ["Central", "East", "Solihull"][n % 3],
            "imd2025_quintile": [1, 3, None, 5][n % 4],
        }
        row.update(case.patient)
        patients.append(row)
        events += [(pid, d, c, v) for d, c, v in case.events]
        screening += [(pid, p, d, o) for p, d, o in case.screening]
        adms += [(pid, d, m) for d, m in case.admissions]
    p = pd.DataFrame(patients)
    for col in ("date_of_birth", "registration_start", "registration_end", "date_of_death"):
        p[col] = pd.to_datetime(p[col])
    p["imd2025_quintile"] = p["imd2025_quintile"].astype("Int8")
    e = pd.DataFrame(events, columns=["patient_id", "event_date", "cluster", "numeric_value"])
    e["event_date"] = pd.to_datetime(e["event_date"])
    e["numeric_value"] = e["numeric_value"].astype("float64")
    s = pd.DataFrame(screening, columns=["patient_id", "programme", "test_date", "outcome"])
    s["test_date"] = pd.to_datetime(s["test_date"])
    tables = {"patients": p, "clinical_events": e, "screening": s}
    if admissions:
        a = pd.DataFrame(adms, columns=["patient_id", "admission_date", "admission_method"])
        a["admission_date"] = pd.to_datetime(a["admission_date"])
        tables["admissions"] = a
    return tables
