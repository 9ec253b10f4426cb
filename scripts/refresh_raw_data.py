"""Copy the reference files the suite uses into ``data/raw/`` and rewrite ``data/raw/MANIFEST``.

Run from the repository root when the shared reference data is updated::

    python scripts/refresh_raw_data.py ../shared/reference-data

``data/raw/`` is immutable in normal use: the library only reads it, and the test suite checks
every file against the SHA-256 recorded in the manifest.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

#: (folder, file) pairs taken from the shared reference data.
FILES: list[tuple[str, str]] = [
    ("boundaries", "bsol_lsoa21.geojson"),
    ("boundaries", "bsol_localities.geojson"),
    ("boundaries", "bsol_wards.geojson"),
    ("census_population", "census2021_ts021_ethnic_group_5cat_bsol_lsoa21.csv"),
    ("census_population", "census2021_ts021_ethnic_group_19cat_ltla21_england_wales.csv"),
    ("census_population", "lookup_lsoa11_lsoa21_bsol.csv"),
    ("census_population", "ons_mye2020_persons_sya_bsol_lsoa11.csv"),
    ("census_population", "ons_ward21_population_5yr_age_2011_2022_bsol.csv"),
    ("localities", "lsoa21_ward22_locality_bsol.csv"),
    ("localities", "ward22_to_locality.csv"),
    ("localities", "gp_practice_pcn_locality_bsol_2024-03.csv"),
    ("localities", "gp_practice_pcn_locality_bsol_2024-07-15.csv"),
    ("localities", "gp_practice_list_size_bsol_2024.csv"),
    ("localities", "gp_practice_to_ward_weights_bsol.csv"),
    ("imd", "imd2025_bsol_lsoa21.csv"),
    ("imd", "imd2019_bsol_lsoa11.csv"),
    ("qof", "qof_cvd_domain_practice_england_2023-24_heec.csv"),
    ("qof", "qof1920_modelled_prevalence_lad_england.csv"),
    ("qof", "qof1920_modelled_prevalence_by_imd2019_decile_england.csv"),
    ("gp_practices", "epraccur_bsol_15E_QHL_2025-04.csv"),
    ("gp_practices", "qof2324_mapping_nhs_geographies_practice_pcn_icb_england.csv"),
    ("end_of_life", "deaths_usual_place_of_residence_65plus_la_2001_2016.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-hyp_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-hypres_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-dm_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-dmres_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-copd_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-copdres_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-palcare_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-palcareni_cod.csv"),
    ("codelists", "opensafely-systolic-blood-pressure-qof.csv"),
    ("codelists", "diastolic-blood-pressure.csv"),
    ("codelists", "opensafely-glycated-haemoglobin-hba1c-tests.csv"),
    ("codelists", "opensafely-chronic-obstructive-pulmonary-disease-copd-review-qof.csv"),
    ("codelists", "opensafely-ethnicity-snomed-0removed.csv"),
    # contract version 2
    ("codelists", "nhsd-primary-care-domain-refsets-chol2_cod.csv"),
    ("codelists", "opensafely-cholesterol-tests.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-hdlcchol_cod.csv"),
    ("codelists", "ldl-cholesterol.snomed.txt"),
    ("codelists", "nhsd-primary-care-domain-refsets-chd_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-strk_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-tia_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-pad_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-dmtype1_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-dmtype2_cod.csv"),
    ("codelists", "nhsd-primary-care-domain-refsets-diabp_cod.csv"),
    ("codelists", "opensafely-statin-medication.csv"),
    ("codelists", "nhs-drug-refsets-antihyp_cod.csv"),
    ("codelists", "eol-care-planning-filtered.csv"),
    ("codelists", "user-stuti_bagri-care_plan_palcare.csv"),
    ("codelists", "lu_acc_icd10.csv"),
    ("codelists", "ac_conditions.csv"),
    ("comparators", "comparators.csv"),
    ("comparators", "fingertips_90366_92901_le_sii_england_birmingham_solihull.csv"),
]

#: Licences stated here where the PROVENANCE line names none in a ``licence:`` field.
LICENCE_OVERRIDES: dict[str, str] = {
    "codelists/eol-care-planning-filtered.csv": (
        "MIT (as its source user-stuti_bagri-care_plan_palcare.csv: LICENSE, Copyright (c) "
        "2023 Nuffield Trust); SNOMED CT content"
    ),
    "comparators/comparators.csv": (
        "OGL v3.0 (OHID, NHS England and ONS official statistics; each row names its source)"
    ),
}


def _provenance(folder: Path) -> dict[str, tuple[str, str]]:
    """Map file name to (source, licence) from a folder's PROVENANCE.txt."""
    out: dict[str, tuple[str, str]] = {}
    text = (folder / "PROVENANCE.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#") or "<=" not in line:
            continue
        name = line.split()[0]
        rest = line.split("<=", 1)[1].strip()
        parts = [p.strip() for p in rest.split("|")]
        source = parts[0] + (" " + parts[1] if len(parts) > 1 else "")
        licence = next(
            (p.removeprefix("licence:").strip() for p in parts if p.startswith("licence")), ""
        )
        if not licence:
            licence = "see PROVENANCE"
        if name not in out:  # first line is the primary source
            out[name] = (source, licence)
    return out


def main(src: str) -> None:
    """Copy the files and write the manifest."""
    src_root = Path(src)
    dest_root = Path(__file__).resolve().parents[1] / "data" / "raw"
    rows = ["file\tsource\tlicence\tsha256"]
    copied = {f"{folder}/{name}" for folder, name in FILES}
    manifest = dest_root / "MANIFEST"
    # Rows for reference files kept in data/raw but not copied from the shared folder
    # (e.g. expected_prevalence/) are carried over unchanged.
    old = manifest.read_text(encoding="utf-8").splitlines()[1:] if manifest.exists() else []
    kept = [line for line in old if line and line.split("\t", 1)[0] not in copied]
    for folder, name in FILES:
        prov = _provenance(src_root / folder)
        target = dest_root / folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src_root / folder / name, target)
        shutil.copyfile(src_root / folder / "PROVENANCE.txt", target.parent / "PROVENANCE.txt")
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        source, licence = prov.get(name, ("see PROVENANCE.txt", "see PROVENANCE.txt"))
        licence = LICENCE_OVERRIDES.get(f"{folder}/{name}", licence)
        rows.append(f"{folder}/{name}\t{source}\t{licence}\t{digest}")
    manifest.write_text("\n".join(rows + kept) + "\n", encoding="utf-8")
    print(f"wrote {len(rows) - 1} files and {dest_root / 'MANIFEST'}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference-data")
