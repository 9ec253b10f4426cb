"""Normalisers: accepted variants in, the suite's canonical values out.

Every function takes a pandas Series or DataFrame and returns a new one; none modifies its
argument. Values a normaliser does not recognise become null, so the caller can count and
drop them (see :mod:`bsol_analytics.cleaning.pipeline`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bsol_analytics import reference
from bsol_analytics.errors import ParameterError

__all__ = [
    "EARLIEST_DATE",
    "PLACE_OF_DEATH_VARIANTS",
    "SEX_VARIANTS",
    "as_arrow_strings",
    "is_given",
    "map_ethnicity",
    "map_lsoa",
    "map_practice",
    "normalise_admission_method",
    "normalise_codes",
    "normalise_place_of_death",
    "normalise_screening_outcome",
    "normalise_screening_programme",
    "normalise_sex",
    "parse_dates",
    "parse_numbers",
    "passes_nhs_modulus11",
]

#: Dates before this are treated as invalid (no living patient was born earlier).
EARLIEST_DATE = dt.date(1890, 1, 1)

#: Accepted sex values (compared case-insensitively, surrounding spaces ignored).
#: ``1``/``2``/``9``/``0`` are the NHS Data Dictionary person-sex codes.
SEX_VARIANTS: dict[str, str] = {
    "m": "M",
    "male": "M",
    "1": "M",
    "f": "F",
    "female": "F",
    "2": "F",
    "u": "U",
    "unknown": "U",
    "not known": "U",
    "not specified": "U",
    "indeterminate": "U",
    "9": "U",
    "0": "U",
}

#: Accepted place-of-death values after lower-casing and collapsing spaces, hyphens and
#: underscores to single spaces (so ``Care_Home``, ``care-home`` and ``CARE  HOME`` match).
PLACE_OF_DEATH_VARIANTS: dict[str, str] = {
    "home": "home",
    "care home": "care home",
    "carehome": "care home",
    "hospital": "hospital",
    "hospice": "hospice",
    "other": "other",
}

_PROGRAMMES = {"breast": "breast", "cervical": "cervical", "bowel": "bowel"}
_OUTCOMES = {"adequate": "adequate", "inadequate": "inadequate"}
_METHODS = {"emergency": "emergency", "elective": "elective"}


def _via_categories(values: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply ``func`` to the distinct values of a categorical Series only.

    Large extract columns are read dictionary-encoded (pandas categoricals), so a
    normaliser parses each distinct value once and the result is broadcast with the codes.
    Text results stay categorical; other results (dates, numbers, booleans) are dense.
    """
    cats = pd.Series(values.cat.categories)
    mapped = func(cats)
    codes = values.cat.codes.to_numpy()
    if mapped.dtype == object or isinstance(mapped.dtype, pd.StringDtype):
        if _unchanged(mapped, values.dtype):
            # every category maps to itself (ids already trimmed): the same categorical
            cat = pd.Categorical.from_codes(codes, dtype=values.dtype, validate=False)
            return pd.Series(cat, index=values.index, name=values.name)
        new_codes, uniques = pd.factorize(mapped, use_na_sentinel=True)
        new_codes = np.append(new_codes, -1)[codes]
        cat = pd.Categorical.from_codes(new_codes, categories=pd.Index(uniques, dtype="str"))
        return pd.Series(cat, index=values.index, name=values.name)
    if mapped.dtype == bool:
        out = np.append(mapped.to_numpy(), False)[codes]
        return pd.Series(out, index=values.index, name=values.name)
    filler = pd.Series([None], dtype=mapped.dtype)
    full = pd.concat([mapped, filler], ignore_index=True)
    return pd.Series(
        full.to_numpy()[codes], index=values.index, name=values.name, dtype=mapped.dtype
    )


def _unchanged(mapped: pd.Series, dtype: pd.CategoricalDtype) -> bool:
    """Whether text ``mapped`` from a categorical's categories is those categories, as ``str``.

    Then factorising ``mapped`` would give the categories back in their order, codes
    unchanged; checked in Arrow (no hashing of millions of distinct values).
    """
    cats = dtype.categories
    if dtype.ordered or cats.dtype != "str" or len(mapped) != len(cats) or not len(cats):
        return False
    try:
        new = pa.array(mapped, from_pandas=True)
        old = pa.array(cats, from_pandas=True)
        same = pc.equal(new.cast(pa.large_string()), old.cast(pa.large_string()))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return False
    return same.null_count == 0 and pc.all(same).as_py() is True


def _categorical(values: pd.Series) -> bool:
    return isinstance(values.dtype, pd.CategoricalDtype)


def is_given(values: pd.Series) -> pd.Series:
    """Whether each value is present: not null and not only spaces.

    Examples:
        >>> is_given(pd.Series(["a", " ", "", None])).tolist()
        [True, False, False, False]
    """
    if _categorical(values):
        return _via_categories(values, is_given)
    if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        text = values.astype("str").str.strip()
        return (values.notna() & (text != "")).fillna(False).astype(bool)
    return values.notna()


def _map_unique(
    values: pd.Series, mapping: Mapping[str, str], key: Callable[[str], str]
) -> pd.Series:
    """Map a low-cardinality Series through ``mapping`` after ``key`` normalisation.

    The distinct values are normalised once and the result is broadcast back, so the cost
    is one factorisation of the column.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([mapping.get(key(str(u))) for u in uniques] + [None], dtype=object)
    out = mapped[codes]  # code -1 (missing) picks the trailing None
    return pd.Series(out, index=values.index, dtype="str", name=values.name)


def _map_values(
    values: pd.Series, mapping: Mapping[str, str], key: Callable[[str], str]
) -> pd.Series:
    """:func:`_map_unique`, broadcast through the categories of a categorical Series."""
    if _categorical(values):
        return _via_categories(values, lambda cats: _map_unique(cats, mapping, key))
    return _map_unique(values, mapping, key)


def _lower_key(value: str) -> str:
    return value.strip().lower()


def _spaced_key(value: str) -> str:
    return re.sub(r"[\s_\-]+", " ", value.strip().lower())


def normalise_sex(values: pd.Series) -> pd.Series:
    """Normalise sex to ``M``, ``F`` or ``U``.

    Accepts ``M``/``F``/``U``, ``Male``/``Female``/``Unknown``, the NHS codes ``1`` (male),
    ``2`` (female), ``9`` and ``0`` (not specified/not known), in any case and with
    surrounding spaces. Blank becomes ``U``; anything else becomes null.

    Args:
        values: raw sex values.

    Returns:
        A new string Series with the same index.

    Examples:
        >>> normalise_sex(pd.Series(["m", " Female ", "2", "9", None, "X"])).tolist()
        ['M', 'F', 'F', 'U', 'U', nan]
    """
    if _categorical(values):
        out = _via_categories(values, normalise_sex).astype("str")
        return out.mask(values.isna(), "U")
    out = _map_unique(values, SEX_VARIANTS, _lower_key)
    blank = values.isna() | (values.astype("str").str.strip() == "")
    return out.mask(blank, "U")


def normalise_place_of_death(values: pd.Series) -> pd.Series:
    """Normalise place of death to ``home``, ``care home``, ``hospital``, ``hospice``, ``other``.

    Case, surrounding spaces, repeated spaces, hyphens and underscores are ignored, and
    ``carehome`` is accepted. Blank and unrecognised values become null.

    Examples:
        >>> normalise_place_of_death(pd.Series(["Care_Home", "HOSPITAL ", "", "ward"])).tolist()
        ['care home', 'hospital', nan, nan]
    """
    return _map_values(values, PLACE_OF_DEATH_VARIANTS, _spaced_key)


def normalise_screening_programme(values: pd.Series) -> pd.Series:
    """Normalise a screening programme to ``breast``, ``cervical`` or ``bowel`` (else null).

    Examples:
        >>> normalise_screening_programme(pd.Series(["Breast", " BOWEL", "lung"])).tolist()
        ['breast', 'bowel', nan]
    """
    return _map_values(values, _PROGRAMMES, _lower_key)


def normalise_screening_outcome(values: pd.Series) -> pd.Series:
    """Normalise a screening outcome to ``adequate`` or ``inadequate`` (else null).

    Examples:
        >>> normalise_screening_outcome(pd.Series(["Adequate", "INADEQUATE", "?"])).tolist()
        ['adequate', 'inadequate', nan]
    """
    return _map_values(values, _OUTCOMES, _lower_key)


def normalise_admission_method(values: pd.Series) -> pd.Series:
    """Normalise an admission method to ``emergency`` or ``elective`` (else null).

    Examples:
        >>> normalise_admission_method(pd.Series([" Emergency", "elective", "x"])).tolist()
        ['emergency', 'elective', nan]
    """
    return _map_values(values, _METHODS, _lower_key)


def normalise_codes(values: pd.Series, *, upper: bool = False) -> pd.Series:
    """Trim spaces from codes (and upper-case them if asked); blank becomes null.

    Examples:
        >>> normalise_codes(pd.Series([" e01008881", "", None]), upper=True).tolist()
        ['E01008881', nan, nan]
    """
    if _categorical(values):
        return _via_categories(values, lambda c: normalise_codes(c, upper=upper))
    arr = pc.utf8_trim_whitespace(as_arrow_strings(values))
    if upper:
        arr = pc.utf8_upper(arr)
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)
    return _string_series(arr, values)


def _string_series(arr: pa.Array, like: pd.Series) -> pd.Series:
    """Arrow strings as a pandas ``str`` series like ``like``; nulls stay missing.

    On pandas 2.x ``astype("str")`` writes a null as the text ``'<NA>'``, so nulls are
    put back with ``where`` (pandas 3 keeps them already).
    """
    ext = pd.arrays.ArrowStringArray(arr)
    out = pd.Series(ext.astype("str"), index=like.index, name=like.name)
    return out.where(~np.asarray(ext.isna(), dtype=bool))


def normalise_icd10(values: pd.Series) -> pd.Series:
    """Normalise ICD-10 codes to 3 or 4 characters without the dot; invalid becomes null.

    Case, spaces and the dot are ignored; a longer code keeps its first four characters
    (``C34.90`` is ``C349``). A valid code is a letter, two digits and optionally a fourth
    digit or letter (``X`` pads a category without subdivisions, ``I10X``). Blank stays null.

    Examples:
        >>> normalise_icd10(pd.Series(["c34.9", "C349", "C34", "I10.X", " e11 ", "12A", None]
        ...                           )).tolist()
        ['C349', 'C349', 'C34', 'I10X', 'E11', nan, nan]
    """
    if _categorical(values):
        return _via_categories(values, normalise_icd10)
    arr = pc.utf8_upper(as_arrow_strings(values))
    arr = pc.replace_substring_regex(arr, r"[\s.]", "")
    arr = pc.utf8_slice_codeunits(arr, 0, 4)
    ok = pc.fill_null(pc.match_substring_regex(arr, r"^[A-Z][0-9]{2}[0-9A-Z]?$"), False)
    arr = pc.if_else(ok, arr, pa.scalar(None, arr.type))
    return _string_series(arr, values)


def as_arrow_strings(values: pd.Series | pd.Index) -> pa.Array:
    """Text values (or any values, as text) as one Arrow ``large_string`` array.

    Text already held by Arrow is not copied into Python strings; a missing value stays null.

    Examples:
        >>> as_arrow_strings(pd.Series(["a", None])).to_pylist()
        ['a', None]
        >>> as_arrow_strings(pd.Index([1, 2])).type
        DataType(large_string)
    """
    if isinstance(values.dtype, pd.StringDtype) or values.dtype == object:
        arr = pa.array(values, from_pandas=True)
    else:
        arr = pa.array(values.astype("str"), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    return arr


_ISO = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z?)?$"


def parse_dates(values: pd.Series) -> pd.Series:
    """Parse dates written as ``YYYY-MM-DD``, ``YYYY-MM`` (the 15th) or ``DD/MM/YYYY``.

    An ISO date may carry a time (``2024-01-05 00:00:00``), which is dropped. Impossible
    dates (``2023-02-29``) and anything else become ``NaT``, as do blanks. Already-typed
    dates (from Parquet) are passed through, truncated to the day. Vectorised: the ISO form
    is parsed with Arrow compute, the other forms only for the rows that need them.

    Args:
        values: raw date values.

    Returns:
        A new ``datetime64[s]`` Series with the same index.

    Examples:
        >>> parse_dates(pd.Series(["2024-01-05", "2024-02", "05/01/2024", "2023-02-29", ""]))
        0   2024-01-05
        1   2024-02-15
        2   2024-01-05
        3          NaT
        4          NaT
        dtype: datetime64[s]
    """
    if _categorical(values):
        return _via_categories(values, parse_dates)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        out = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) else values
        return out.dt.floor("D").astype("datetime64[s]")
    first = values.dropna().iloc[:1].tolist()
    if values.dtype == object and first and isinstance(first[0], dt.date):
        return pd.to_datetime(values, errors="coerce").astype("datetime64[s]")
    s = pc.utf8_trim_whitespace(as_arrow_strings(values))
    result = _parse_iso(s)
    todo = pc.and_(pc.is_null(result), pc.greater(pc.utf8_length(pc.fill_null(s, "")), 0))
    rest = np.flatnonzero(todo.to_numpy(zero_copy_only=False))
    out = result.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    if len(rest):
        other = s.take(pa.array(rest))
        fixed = pc.coalesce(_parse_dmy(other), _parse_year_month(other))
        out[rest] = fixed.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    return pd.Series(out, index=values.index, name=values.name)


_NAT = pa.scalar(None, pa.timestamp("s"))


def _checked(text: pa.Array, mask: pa.Array, fmt: str, day: pa.Array) -> pa.Array:
    """Parse ``text`` with ``fmt`` where ``mask``; null where the day rolled over.

    Arrow's ``strptime`` turns 2023-02-30 into 2023-03-02, so the parsed day of month must
    equal the day written.
    """
    parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
    same_day = pc.fill_null(pc.equal(pc.day(parsed), day), False)
    return pc.if_else(pc.and_(mask, same_day), parsed, _NAT)


def _parse_iso(s: pa.Array) -> pa.Array:
    iso = pc.fill_null(pc.match_substring_regex(s, _ISO), False)
    head = pc.utf8_slice_codeunits(s, 0, 10)
    day = pc.cast(pc.if_else(iso, pc.utf8_slice_codeunits(s, 8, 10), "0"), pa.int64())
    return _checked(head, iso, "%Y-%m-%d", day)


def _parse_dmy(s: pa.Array) -> pa.Array:
    dmy = pc.fill_null(pc.match_substring_regex(s, r"^\d{1,2}/\d{1,2}/\d{4}$"), False)
    first = pc.list_element(pc.split_pattern(pc.fill_null(s, "0"), "/"), 0)
    day = pc.cast(pc.if_else(dmy, first, "0"), pa.int64())
    return _checked(s, dmy, "%d/%m/%Y", day)


def _parse_year_month(s: pa.Array) -> pa.Array:
    ym = pc.fill_null(pc.match_substring_regex(s, r"^\d{4}-\d{2}$"), False)
    fifteenth = pc.binary_join_element_wise(s, pa.scalar("15", s.type), pa.scalar("-", s.type))
    day = pc.if_else(ym, pa.scalar(15, pa.int64()), pa.scalar(0, pa.int64()))
    return _checked(fifteenth, ym, "%Y-%m-%d", day)


def parse_numbers(values: pd.Series) -> pd.Series:
    """Parse numeric values; blanks and non-numbers become ``NaN``.

    Examples:
        >>> parse_numbers(pd.Series(["120", " 80.5", "", "high", None])).tolist()
        [120.0, 80.5, nan, nan, nan]
    """
    if _categorical(values):
        return _via_categories(values, parse_numbers)
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64")
    arr = pc.utf8_trim_whitespace(as_arrow_strings(values))
    try:
        num = pc.cast(pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr), pa.float64())
        return pd.Series(num.to_numpy(zero_copy_only=False), index=values.index, name=values.name)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(values, errors="coerce").astype("float64")


_WEIGHTS = np.arange(10, 1, -1, dtype=np.int64)


def passes_nhs_modulus11(values: pd.Series) -> pd.Series:
    """Whether each value is a valid NHS number (10 digits passing the modulus-11 check).

    Spaces and hyphens inside the value are ignored (``943 476 5919``). The check digit is
    ``11 - (sum of the first nine digits weighted 10..2) mod 11``, with 11 meaning 0 and 10
    meaning the number is invalid.

    Args:
        values: identifiers as strings.

    Returns:
        A boolean Series with the same index.

    Examples:
        >>> passes_nhs_modulus11(pd.Series(["9434765919", "943 476 5919", "9434765918", "P1"]))
        0     True
        1     True
        2    False
        3    False
        dtype: bool
    """
    if _categorical(values):
        return _via_categories(values, passes_nhs_modulus11)
    result = np.zeros(len(values), dtype=bool)
    maybe = np.flatnonzero(_could_be_nhs_numbers(values))
    s = values.iloc[maybe].astype("str").str.replace(r"[\s\-]", "", regex=True)
    cand = s.str.fullmatch(r"\d{10}").fillna(False).to_numpy(dtype=bool)
    if cand.any():
        joined = "".join(s[cand].tolist()).encode("ascii")
        digits = (np.frombuffer(joined, dtype=np.uint8) - 48).astype(np.int64).reshape(-1, 10)
        check = 11 - (digits[:, :9] @ _WEIGHTS) % 11
        check = np.where(check == 11, 0, check)
        result[maybe[cand]] = (check != 10) & (check == digits[:, 9])
    return pd.Series(result, index=values.index, dtype=bool)


def _could_be_nhs_numbers(values: pd.Series) -> np.ndarray:
    """Values that may be NHS numbers: ten characters or more, none an ASCII letter.

    An exact pre-filter, in Arrow: spaces, hyphens and ten digits hold no ASCII letter, so
    the other values (pseudonymised keys such as ``P1f46806df6``) cannot pass the check.
    """
    try:
        arr = as_arrow_strings(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return np.ones(len(values), dtype=bool)  # not plain text: check every value
    long_enough = pc.greater_equal(pc.utf8_length(arr), 10)
    maybe = pc.and_(long_enough, pc.invert(pc.match_substring_regex(arr, "[A-Za-z]")))
    return np.asarray(pc.fill_null(maybe, False).to_numpy(zero_copy_only=False), dtype=bool)


# --------------------------------------------------------------------------------------
# Reference look-ups
# --------------------------------------------------------------------------------------


def _codes_of(patients: pd.DataFrame, code_column: str, function: str) -> pd.Series:
    """``patients[code_column]`` trimmed and upper-cased, refusing a missing column."""
    if not isinstance(patients, pd.DataFrame) or code_column not in patients.columns:
        raise ParameterError(
            f"{function}(): the patients frame has no column {code_column!r}; pass the "
            "column holding the codes as code_column."
        )
    return normalise_codes(patients[code_column], upper=True)


def _lookup(keys: pd.Series, table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Look ``keys`` up in ``table`` (indexed by key), factorising the keys once."""
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    pos = table.index.get_indexer(pd.Index(np.asarray(uniques, dtype=object)))
    rows = np.append(pos, -1)[codes]  # -1: missing or unknown key
    out = {}
    for col in columns:
        src = table[col].reset_index(drop=True)
        padded = pd.concat([src, pd.Series([None], dtype=src.dtype)], ignore_index=True)
        rows_ = np.where(rows < 0, len(src), rows)
        out[col] = pd.Series(padded.iloc[rows_].array, index=keys.index)
    return pd.DataFrame(out, index=keys.index)


def map_ethnicity(patients: pd.DataFrame, code_column: str = "ethnicity_code") -> pd.DataFrame:
    """Add ``ethnicity_broad`` and ``ethnicity_detailed`` from an ethnicity code column.

    Codes are SNOMED CT concept ids or NHS Data Dictionary letters (see
    :func:`bsol_analytics.reference.ethnicity_codes`). Blank, ``Z``, ``99`` and codes in
    neither list map to ``Unknown``.

    Args:
        patients: a frame with ``code_column``.
        code_column: the column holding the codes.

    Returns:
        A new frame: ``patients`` plus the two columns.

    Examples:
        >>> df = pd.DataFrame({"ethnicity_code": ["J", "r", "976631000000101", "Z", None]})
        >>> map_ethnicity(df)[["ethnicity_broad", "ethnicity_detailed"]].to_numpy().tolist()
        ... # doctest: +NORMALIZE_WHITESPACE
        [['Asian', 'Asian or Asian British: Pakistani'],
         ['Asian', 'Other ethnic groups: Chinese'],
         ['White', 'White: British'],
         ['Unknown', 'Unknown'],
         ['Unknown', 'Unknown']]
    """
    codes = _codes_of(patients, code_column, "map_ethnicity")
    table = reference.ethnicity_codes().set_index("code")
    found = _lookup(codes, table, ["ethnicity_broad", "ethnicity_detailed"])
    out = patients.copy()
    out["ethnicity_broad"] = found["ethnicity_broad"].fillna("Unknown").astype("str")
    out["ethnicity_detailed"] = found["ethnicity_detailed"].fillna("Unknown").astype("str")
    return out


def _lsoa_table() -> pd.DataFrame:
    """Every accepted LSOA code (2021 and 2011) -> 2021 geography and deprivation."""
    lk = reference.lsoa21_lookup()
    imd25 = reference.imd2025()[["lsoa21_code", "imd_decile", "imd_quintile", "core20"]]
    imd19 = reference.imd2019_for_lsoa21()[["lsoa21_code", "imd_decile", "imd_quintile"]]
    geo = lk.merge(imd25, on="lsoa21_code", how="left").rename(
        columns={"imd_decile": "imd2025_decile", "imd_quintile": "imd2025_quintile"}
    )
    geo = geo.merge(imd19, on="lsoa21_code", how="left").rename(
        columns={"imd_decile": "imd2019_decile", "imd_quintile": "imd2019_quintile"}
    )
    geo = geo.assign(code=geo["lsoa21_code"])
    # 2011 codes that are not also 2021 codes: their resolved 2021 successor, but IMD 2019
    # from the 2011 LSOA itself.
    m11 = reference.lsoa11_to_lsoa21()
    m11 = m11[~m11["lsoa11_code"].isin(geo["code"])]
    old = m11.merge(
        geo.drop(columns=["code", "imd2019_decile", "imd2019_quintile"]),
        on="lsoa21_code",
        how="left",
    )
    i19 = reference.imd2019().set_index("lsoa11_code")
    old = old.assign(
        code=old["lsoa11_code"],
        imd2019_decile=old["lsoa11_code"].map(i19["imd_decile"]).astype("Int8"),
        imd2019_quintile=old["lsoa11_code"].map(i19["imd_quintile"]).astype("Int8"),
    ).drop(columns=["lsoa11_code", "change_code"])
    table = pd.concat([geo, old[geo.columns]], ignore_index=True).set_index("code")
    return table


_GEO_COLUMNS = [
    "lsoa21_code",
    "ward_code",
    "ward_name",
    "local_authority",
    "resident_locality",
    "imd2025_decile",
    "imd2025_quintile",
    "imd2019_decile",
    "imd2019_quintile",
    "core20",
]


def map_lsoa(patients: pd.DataFrame, code_column: str = "lsoa_code") -> pd.DataFrame:
    """Add residence geography and deprivation from an LSOA 2021 or 2011 code.

    Adds ``lsoa21_code``, ``ward_code``, ``ward_name``, ``local_authority``,
    ``resident_locality``, ``imd2025_decile``, ``imd2025_quintile``, ``core20``,
    ``imd2019_decile`` and ``imd2019_quintile``. A 2011 code is mapped to its 2021 successor
    (split LSOAs: see :func:`bsol_analytics.reference.lsoa11_to_lsoa21`) and keeps its own
    IMD 2019; a 2021 code takes IMD 2019 from its 2011 predecessor. Codes outside
    Birmingham and Solihull, malformed codes and blanks give nulls.

    Returns:
        A new frame: ``patients`` plus the columns above.

    Examples:
        >>> df = pd.DataFrame({"lsoa_code": ["E01008881", "e01009121", "E01000001", None]})
        >>> out = map_lsoa(df)
        >>> out[["lsoa21_code", "resident_locality"]].to_numpy().tolist()
        [['E01008881', 'East'], ['E01034914', 'North'], [nan, nan], [nan, nan]]
        >>> out["imd2025_quintile"].tolist()
        [1, 1, <NA>, <NA>]
    """
    codes = _codes_of(patients, code_column, "map_lsoa")
    table = _lsoa_table().rename(columns={"locality": "resident_locality"})
    found = _lookup(codes, table, _GEO_COLUMNS)
    out = patients.copy()
    for col in _GEO_COLUMNS:
        out[col] = found[col]
    for col in _GEO_COLUMNS[:5]:
        # where(): pandas 2.x turns a missing value into the text 'None' or 'nan'.
        out[col] = out[col].astype("str").where(out[col].notna())
    for col in _GEO_COLUMNS[5:9]:
        out[col] = out[col].astype("Int8")
    out["core20"] = out["core20"].astype("boolean")
    return out


def map_practice(patients: pd.DataFrame, code_column: str = "practice_code") -> pd.DataFrame:
    """Add ``practice_name``, ``pcn_code``, ``pcn_name`` and ``practice_locality``.

    Practice codes are trimmed and upper-cased (the result replaces ``code_column``). Codes
    that are not BSOL practices (:func:`bsol_analytics.reference.practices`) give nulls;
    :func:`bsol_analytics.cleaning.prepare` drops and counts them.

    Returns:
        A new frame.

    Examples:
        >>> out = map_practice(pd.DataFrame({"practice_code": [" m85002", "Z99999"]}))
        >>> out[["practice_code", "pcn_code", "practice_locality"]].to_numpy().tolist()
        [['M85002', 'U44537', 'West'], ['Z99999', nan, nan]]
    """
    table = (
        reference.practices()
        .set_index("practice_code")
        .rename(columns={"locality": "practice_locality"})
    )
    codes = _codes_of(patients, code_column, "map_practice")
    cols = ["practice_name", "pcn_code", "pcn_name", "practice_locality"]
    found = _lookup(codes, table, cols)
    out = patients.copy()
    out[code_column] = codes
    for col in cols:
        out[col] = found[col].astype("str").where(found[col].notna())
    return out
