"""The cleaning layer: from a GP extract to analysis-ready tables.

Each step is usable on its own in a notebook (normalisers and rules take a DataFrame and
return a new one or a boolean mask); :func:`prepare` composes them and writes the processed
tables atomically. See ``docs/processed-tables.md`` and ``docs/data-quality.md``.

Examples:
    >>> import pandas as pd
    >>> normalise_sex(pd.Series(["Female", "1"])).tolist()
    ['F', 'M']
"""

from __future__ import annotations

from bsol_analytics.cleaning.normalise import (
    map_ethnicity,
    map_lsoa,
    map_practice,
    normalise_admission_method,
    normalise_codes,
    normalise_icd10,
    normalise_place_of_death,
    normalise_screening_outcome,
    normalise_screening_programme,
    normalise_sex,
    parse_dates,
    parse_numbers,
    passes_nhs_modulus11,
)
from bsol_analytics.cleaning.pipeline import (
    ALL_PROCESSED_TABLES,
    PROCESSED_TABLES,
    Extract,
    Steps,
    after_death,
    assign_clusters,
    before_birth,
    clean_tables,
    duplicate_rows,
    implausible_values,
    load_prepared,
    missing_values,
    prepare,
    prepare_tables,
    read_extract,
    read_prepared_table,
)
from bsol_analytics.cleaning.quality import (
    RULES,
    QualityLog,
    data_quality_summary,
    render_data_quality,
)
from bsol_analytics.cleaning.readers import find_table_file, read_table_file, table_files

__all__ = [
    "ALL_PROCESSED_TABLES",
    "PROCESSED_TABLES",
    "RULES",
    "Extract",
    "QualityLog",
    "Steps",
    "after_death",
    "assign_clusters",
    "before_birth",
    "clean_tables",
    "data_quality_summary",
    "duplicate_rows",
    "find_table_file",
    "implausible_values",
    "load_prepared",
    "map_ethnicity",
    "map_lsoa",
    "map_practice",
    "missing_values",
    "normalise_admission_method",
    "normalise_codes",
    "normalise_icd10",
    "normalise_place_of_death",
    "normalise_screening_outcome",
    "normalise_screening_programme",
    "normalise_sex",
    "parse_dates",
    "parse_numbers",
    "passes_nhs_modulus11",
    "prepare",
    "prepare_tables",
    "read_extract",
    "read_prepared_table",
    "read_table_file",
    "render_data_quality",
    "table_files",
]
