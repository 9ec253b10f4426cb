"""Directly standardised rates (Dobson method) and the 2013 European Standard Population."""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from bsol_analytics.errors import ParameterError
from bsol_analytics.reference import AGE_BANDS_ESP2013
from bsol_analytics.stats._common import (
    StatsInputError,
    assemble,
    check_rule,
    confidence_levels,
    count_column,
    group_nansum,
    grouped,
    numeric_column,
    require_columns,
    require_frame,
)
from bsol_analytics.stats.intervals import (
    EXACT_BELOW,
    byars_lower,
    byars_upper,
    exact_lower,
    exact_upper,
)

#: The 19 ESP2013 age bands, in order, as used by the cube's ``age_band``.
ESP2013_BANDS: tuple[str, ...] = AGE_BANDS_ESP2013

_ESP2013_POP: tuple[int, ...] = (
    5000, 5500, 5500, 5500, 6000, 6000, 6500, 7000, 7000, 7000,
    7000, 6500, 6000, 5500, 5000, 4000, 2500, 1500, 1000,
)  # fmt: skip

#: Fewer total events than this and the DSR is not calculated (OHID practice).
DSR_MIN_COUNT = 10


def esp2013() -> pd.DataFrame:
    """The 2013 European Standard Population (Eurostat 2013), 19 five-year age bands.

    Returns:
        A new frame with columns ``age_band`` (``"0-4"`` … ``"85-89"``, ``"90+"``) and
        ``standard_population`` (summing to 100,000).

    Examples:
        >>> esp = esp2013()
        >>> len(esp), int(esp["standard_population"].sum())
        (19, 100000)
        >>> esp.tail(2)
           age_band  standard_population
        17    85-89                 1500
        18      90+                 1000
    """
    return pd.DataFrame(
        {"age_band": list(ESP2013_BANDS), "standard_population": list(_ESP2013_POP)}
    )


def _band_limits(label: str) -> tuple[int, int | None]:
    """First and last age of a band label such as ``"15-19"`` or ``"90+"``."""
    if label.endswith("+"):
        return int(label[:-1]), None
    first, _, last = label.partition("-")
    return int(first), int(last or first)


def esp2013_for_ages(
    min_age: int = 0,
    max_age: int | None = None,
    *,
    boundary: Literal["prorate", "whole"] = "prorate",
) -> pd.DataFrame:
    """The 2013 European Standard Population restricted to an indicator's age range.

    A DSR standardises over the indicator's own ages: diabetes prevalence for ages 17+ is
    standardised over the ESP from 17 up, not over the whole ESP. Bands wholly outside
    ``min_age``..``max_age`` (inclusive) are dropped. A band the range cuts (15-19 for
    17+) keeps its label, as the data's bands do, and with ``boundary="prorate"`` (the
    default) a weight in proportion to the years it keeps (the ESP is published in 5-year
    bands, so each year gets a fifth: 15-19 for 17+ gets 3/5 × 5,500 = 3,300); with
    ``"whole"`` it keeps its whole weight. The 90+ band counts as five years.

    Args:
        min_age: first age of the indicator (e.g. 17).
        max_age: last age, inclusive (e.g. 74 for under-75 mortality); ``None`` for no
            upper limit.
        boundary: ``"prorate"`` or ``"whole"`` (see above).

    Returns:
        A new frame with ``age_band`` and ``standard_population``, for ``dsr(standard=...)``.

    Examples:
        >>> esp = esp2013_for_ages(17)
        >>> esp.head(2)
          age_band  standard_population
        0    15-19               3300.0
        1    20-24               6000.0
        >>> under_75 = esp2013_for_ages(0, 74)
        >>> int(esp["standard_population"].sum()), int(under_75["standard_population"].sum())
        (81800, 91000)
    """
    if boundary not in ("prorate", "whole"):
        raise ParameterError(
            f"esp2013_for_ages(): boundary must be 'prorate' or 'whole', not {boundary!r}."
        )
    top = np.inf if max_age is None else max_age
    if not (0 <= min_age <= top):
        raise ParameterError(
            f"esp2013_for_ages(): the age range {min_age} to {max_age} is empty or negative."
        )
    esp = esp2013()
    first, last = zip(*(_band_limits(b) for b in esp["age_band"]), strict=True)
    first_a = np.asarray(first, dtype=float)
    last_a = np.asarray([f + 4 if v is None else v for f, v in zip(first, last, strict=True)])
    kept_years = np.minimum(last_a, top) - np.maximum(first_a, min_age) + 1
    share = np.clip(kept_years / (last_a - first_a + 1), 0.0, 1.0)
    if boundary == "whole":
        share = (share > 0).astype(float)
    weight = esp["standard_population"].to_numpy(dtype=float) * share
    keep = share > 0
    return pd.DataFrame(
        {"age_band": esp["age_band"][keep].to_numpy(), "standard_population": weight[keep]}
    )


def normalise_age_band(label: object) -> str:
    """Canonical spelling of an age-band label: no spaces or leading zeros.

    Examples:
        >>> normalise_age_band("05-09"), normalise_age_band(" 90 + "), normalise_age_band(0)
        ('5-9', '90+', '0')
    """
    text = re.sub(r"\s+", "", str(label)).replace("–", "-")
    return re.sub(r"(?<!\d)0+(?=\d)", "", text)


def normalise_age_bands(labels: pd.Series) -> np.ndarray:
    """:func:`normalise_age_band` for a whole column, spelling each distinct label once.

    A column of millions of rows holds a few dozen labels at most, so the labels are
    factorised (categories are used as they are) and only the distinct ones are tidied.

    Examples:
        >>> normalise_age_bands(pd.Series(["05-09", "90 +", "05-09", None]))
        array(['5-9', '90+', '5-9', 'nan'], dtype=object)
    """
    codes, spelled = _band_codes(labels)
    return spelled[codes]


def _band_codes(labels: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code into the canonical spellings of the distinct labels (row-free work)."""
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    spelled = [normalise_age_band(u) for u in uniques]  # one per distinct label
    table = np.array([*spelled, normalise_age_band(np.nan)], dtype=object)
    return np.where(codes < 0, len(spelled), codes), table  # missing: the last spelling


def _standard_weights(
    df: pd.DataFrame,
    age_col: Hashable,
    standard: pd.DataFrame | str | None,
    outside: pd.DataFrame | None = None,
) -> tuple[np.ndarray, float | None]:
    """Return each row's standard population and, for a table standard, its total.

    Bands listed in ``outside`` (those of an indicator's age range's complement) get a
    weight of 0 rather than an error.
    """
    if isinstance(standard, str):
        weights = count_column(df, standard, "dsr")
        check_rule(np.isnan(weights), df, standard, "must not be missing", "dsr")
        return weights, None
    table = esp2013() if standard is None else standard
    if not isinstance(table, pd.DataFrame) or table.shape[1] != 2:
        raise StatsInputError(
            "dsr",
            None,
            "standard must be None (ESP2013), the name of a column holding each row's "
            "standard population, or a two-column frame of age band and population",
        )
    require_columns(df, [age_col], "dsr")
    bands = pd.Series(normalise_age_bands(table.iloc[:, 0]))
    pops = pd.to_numeric(table.iloc[:, 1], errors="coerce").to_numpy(dtype=float)
    if bands.duplicated().any() or np.isnan(pops).any() or (pops < 0).any():
        raise StatsInputError(
            "dsr",
            str(table.columns[1]),
            "the standard population table needs one row per age band with a "
            "non-negative population",
        )
    lookup = pd.Series(pops, index=bands.to_numpy())
    codes, spelled = _band_codes(df[age_col])
    if outside is not None:
        extra = pd.Series(0.0, index=normalise_age_bands(outside["age_band"]))
        lookup = pd.concat([lookup, extra[~extra.index.isin(lookup.index)]])
    weights = lookup.reindex(spelled).to_numpy(dtype=float)[codes]
    unknown = np.isnan(weights)
    if unknown.any():
        labels = sorted(set(df.loc[unknown, age_col].astype(str)))[:5]
        raise StatsInputError(
            "dsr",
            str(age_col),
            "has age bands not in the standard population: "
            + ", ".join(labels)
            + f" (expected {', '.join(map(str, table.iloc[:, 0]))})",
            rows=list(df.index[unknown][:5]),
        )
    return weights, float(pops.sum())


def dsr(
    df: pd.DataFrame,
    numerator: Hashable,
    denominator: Hashable,
    *,
    by: Hashable | Sequence[Hashable] | None,
    age_col: Hashable = "age_band",
    standard: pd.DataFrame | str | None = None,
    confidence: float | Sequence[float] = 0.95,
    multiplier: float = 100_000,
    min_count: float = DSR_MIN_COUNT,
    event_frequency: Hashable | None = None,
    age_range: tuple[int, int | None] | None = None,
    age_boundary: Literal["prorate", "whole"] = "prorate",
) -> pd.DataFrame:
    """Directly standardised rates with Dobson limits (``phe_dsr`` / ``calculate_dsr``).

    For each group, ``DSR = Σ(wᵢ·xᵢ/nᵢ) / Σw × multiplier`` over age bands ``i`` with
    standard populations ``w``. The limits follow Dobson et al. (1991): with ``O`` the total
    count and ``V = Σ(wᵢ²·xᵢ/nᵢ²) / (Σw)²``, each limit is
    ``DSR + √(V/O)·(O_limit − O) × multiplier`` where ``O_limit`` is Byar's limit for ``O``
    (exact Poisson when ``O`` < 10, which only applies if ``min_count`` is lowered).
    Groups with fewer than ``min_count`` (default 10) events get missing value and limits.

    Missing counts count as 0. A band with no population must have no events; it then adds
    nothing. With the ESP2013 or a standard table, a band absent from a group also adds
    nothing while ``Σw`` stays the whole standard's total.

    Args:
        df: one row per group × age band (× event frequency, see below).
        numerator: column of event counts.
        denominator: column of populations.
        by: grouping column(s); ``None`` for a single overall rate.
        age_col: column holding the age band labels (ignored when ``standard`` is a column).
        standard: ``None`` for ESP2013 matched on ``age_col`` (``"0-4"`` … ``"90+"``; leading
            zeros and spaces are ignored), a two-column frame of band label and standard
            population, or the name of a column of ``df`` holding each row's standard.
        confidence: 0.95, 0.998 or both.
        multiplier: e.g. 100000 for a rate per 100,000.
        min_count: fewest total events for which a DSR is published.
        event_frequency: for non-independent events (e.g. admissions, where one person can
            have several), the column giving how many events each person in the row had;
            ``numerator`` then counts people. The value uses all events and the variance
            is inflated by the squared frequencies, as in the OHID technical guidance.
        age_range: ``(first, last)`` ages of the indicator, inclusive (``last`` may be
            ``None``), e.g. ``(17, None)`` for diabetes 17+ or ``(0, 74)`` for under-75
            mortality: the ESP2013 is restricted to those ages by :func:`esp2013_for_ages`
            (so ``Σw`` is the standard's total over those ages only). Rows of bands wholly
            outside the range must have no events; their population is left out.
        age_boundary: how a band cut by ``age_range`` is weighted: ``"prorate"`` (by the
            years kept) or ``"whole"``.

    Returns:
        A new frame: the grouping columns then the statistic columns; ``numerator`` is the
        total count and ``denominator`` the total population.

    Raises:
        StatsInputError: missing or non-numeric columns, negative counts, events in a
            band with no population, or age bands not in the standard.

    Examples:
        >>> esp = esp2013()
        >>> df = esp.assign(area="A", deaths=10, pop=esp["standard_population"] * 2)
        >>> dsr(df, "deaths", "pop", by="area")[["area", "value", "numerator", "method"]]
          area  value  numerator  method
        0    A   95.0      190.0  Dobson
    """
    require_frame(df, "dsr")
    levels = confidence_levels(confidence, "dsr")
    require_columns(df, [numerator, denominator], "dsr")
    x = count_column(df, numerator, "dsr")
    n = numeric_column(df, denominator, "dsr")
    check_rule(np.isnan(n), df, denominator, "must not be missing", "dsr")
    check_rule(n < 0, df, denominator, "must not be negative", "dsr")
    x = np.nan_to_num(x)
    check_rule((n == 0) & (x > 0), df, numerator, f"has events where '{denominator}' is 0", "dsr")
    if event_frequency is None:
        freq = np.ones_like(x)
        method = "Dobson"
    else:
        require_columns(df, [event_frequency], "dsr")
        freq = numeric_column(df, event_frequency, "dsr")
        check_rule(np.isnan(freq) | (freq < 0), df, event_frequency, "must be a count >= 0", "dsr")
        method = "Dobson, with confidence adjusted for non-independent events"
    outside = None
    if age_range is not None:
        if standard is not None:
            raise ParameterError(
                "dsr(): give age_range (which restricts the ESP2013) or standard, not both."
            )
        first_age, last_age = age_range
        standard = esp2013_for_ages(first_age, last_age, boundary=age_boundary)
        esp = esp2013()
        outside = esp[~esp["age_band"].isin(standard["age_band"])]
        method += f", ESP2013 ages {first_age}" + ("+" if last_age is None else f"-{last_age}")
    weights, table_total = _standard_weights(df, age_col, standard, outside)
    if outside is not None:
        beyond = weights == 0
        check_rule(
            beyond & (x > 0), df, numerator, "has events in an age band outside age_range", "dsr"
        )
        n = np.where(beyond, 0.0, n)

    keys, codes = grouped(df, by, "dsr")
    n_groups = len(keys)
    first = np.ones(len(df), dtype=bool)  # first row of each group x band
    if table_total is not None or event_frequency is not None:
        require_columns(df, [age_col], "dsr")
        band_codes, spelled = _band_codes(df[age_col])
        same_band = pd.factorize(spelled)[0]  # labels spelled alike are one band
        cells = pd.DataFrame({"g": codes, "band": same_band[band_codes]})
        if event_frequency is not None:
            first = ~cells.duplicated().to_numpy()
            cells["f"] = freq
        dup = cells.duplicated(keep=False).to_numpy()
        what = "age band and event frequency" if event_frequency is not None else "age band"
        check_rule(dup, df, age_col, f"each {what} must appear once within a group", "dsr")

    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(n > 0, weights / n, 0.0)
    events = x * freq
    total = group_nansum(events, codes, n_groups)
    pop_total = group_nansum(n * first, codes, n_groups)
    if table_total is None:
        w_total = group_nansum(weights * first, codes, n_groups)
    else:
        w_total = np.full(n_groups, table_total)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate_1 = group_nansum(events * ratio, codes, n_groups) / w_total
        var = group_nansum(x * freq**2 * ratio**2, codes, n_groups) / w_total**2
        value = rate_1 * multiplier
        spread = np.sqrt(var / total) * multiplier
    publish = total >= min_count
    exact = total < EXACT_BELOW
    lowers, uppers = [], []
    for level in levels:
        o_low = np.where(exact, exact_lower(total, level), byars_lower(total, level))
        o_high = np.where(exact, exact_upper(total, level), byars_upper(total, level))
        lowers.append(np.where(publish, value + spread * (o_low - total), np.nan))
        uppers.append(np.where(publish, value + spread * (o_high - total), np.nan))
    value = np.where(publish, value, np.nan)
    return assemble(
        keys,
        levels,
        statistic="dsr",
        value=value,
        lower=lowers,
        upper=uppers,
        numerator=total,
        denominator=pop_total,
        method=method,
        multiplier=multiplier,
        function="dsr",
    )
