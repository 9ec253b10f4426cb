"""Life expectancy from an abridged life table (Chiang II), as OHID's ``phe_life_expectancy``."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from bsol_analytics.errors import ParameterError
from bsol_analytics.stats._common import (
    StatsInputError,
    assemble,
    check_rule,
    confidence_levels,
    count_column,
    grouped,
    require_columns,
    require_frame,
    z_value,
)
from bsol_analytics.stats.dsr import normalise_age_band
from bsol_analytics.vocabulary import LE_AGE_BANDS

#: Start age of each of the 20 bands of the abridged life table.
LE_START_AGES: tuple[int, ...] = (0, 1, *range(5, 95, 5))

#: The 20 band labels: ``0``, ``1-4``, ``5-9``, ..., ``85-89``, ``90+``.
LE_BANDS: tuple[str, ...] = LE_AGE_BANDS

#: The reference implementation's size rule: no life expectancy at or below this many
#: person-years in total (Toson & Baker 2003).
LE_MIN_PERSON_YEARS = 5000

#: The contract's stricter rule adds a minimum number of deaths in total.
LE_MIN_DEATHS = 50

#: A value whose 95% interval is wider than this many years is not shown (limits are).
LE_MAX_CI_WIDTH = 20

SizeRule = Literal["reference", "contract"]

METHOD = "Chiang II abridged life table, Silcocks et al. limits"

_ALIASES = {"<1": "0", "0-0": "0", "00": "0", "90-": "90+", ">=90": "90+", "90plus": "90+"}


def _band_index(labels: pd.Series, df: pd.DataFrame, age_col: Hashable) -> np.ndarray:
    """Position (0-19) of each row's band; accepts labels or start ages (0, 1, 5, ..., 90)."""
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    lookup = {band: i for i, band in enumerate(LE_BANDS)}
    starts = {str(age): i for i, age in enumerate(LE_START_AGES)}
    positions = []
    for label in uniques:  # one per distinct label, never per row
        text = normalise_age_band(label)
        if text.endswith(".0"):  # a float start age such as 5.0
            text = text[:-2]
        text = _ALIASES.get(text.lower(), text)
        positions.append(lookup.get(text, starts.get(text, -1)))
    table = np.array([*positions, -1], dtype=np.int64)
    index = table[np.where(codes < 0, len(positions), codes)]
    check_rule(
        index < 0,
        df,
        age_col,
        "must hold the 20 life-table bands " + ", ".join(LE_BANDS[:3]) + ", ..., 85-89, 90+"
        " (or their start ages 0, 1, 5, ..., 90)",
        "life_expectancy",
    )
    return index


def _life_table(deaths: np.ndarray, pop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Life expectancy and its standard error at each band start; arrays are groups x 20.

    Rows must be complete, with population > 0 and deaths <= population in every band and
    at least one death in the 90+ band.
    """
    n_bands = len(LE_START_AGES)
    width = np.diff(np.asarray(LE_START_AGES, dtype=float))  # the 19 closed bands
    a = np.where(np.arange(n_bands) == 0, 0.1, 0.5)  # fraction of the band lived by deaths
    m = deaths / pop
    n = np.empty_like(m)
    n[:, :-1] = width
    n[:, -1] = 2 / m[:, -1]  # the 90+ closure: q = 1 by construction
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(deaths <= pop / n / a, m * n / (1 + m * n * (1 - a)), 1.0)
    p = 1 - q
    survivors = 1e5 * np.cumprod(np.column_stack([np.ones(len(m)), p[:, :-1]]), axis=1)
    next_l = np.column_stack([survivors[:, 1:], np.zeros(len(m))])
    d = survivors - next_l
    years = np.empty_like(m)
    years[:, :-1] = n[:, :-1] * (next_l[:, :-1] + a[:-1] * d[:, :-1])
    years[:, -1] = survivors[:, -1] / m[:, -1]
    total_years = np.cumsum(years[:, ::-1], axis=1)[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(survivors == 0, 0.0, total_years / survivors)
        var_q = np.where(d == 0, 0.0, q**2 * (1 - q) / deaths)
        # Silcocks et al.: the open band's variance comes from its mortality rate
        var_q[:, -1] = 4 / (deaths[:, -1] * m[:, -1] ** 2)
        next_e = np.column_stack([e[:, 1:], np.zeros(len(m))])
        weighted = var_q * survivors**2 * ((1 - a) * n + next_e) ** 2
        weighted[:, -1] = (survivors[:, -1] / 2) ** 2 * var_q[:, -1]
        summed = np.cumsum(weighted[:, ::-1], axis=1)[:, ::-1]
        se = np.sqrt(summed / survivors**2)
    return e, se


def _group_reasons(
    deaths: np.ndarray, pop: np.ndarray, present: np.ndarray, size_rule: SizeRule
) -> np.ndarray:
    """Why each group's life table cannot be computed ("" when it can), first rule first."""
    total_pop = np.nansum(pop, axis=1)
    total_deaths = np.nansum(deaths, axis=1)
    if size_rule == "reference":
        too_small = total_pop <= LE_MIN_PERSON_YEARS
        small_text = f"{LE_MIN_PERSON_YEARS:,} person-years or fewer"
    else:
        too_small = (total_pop < LE_MIN_PERSON_YEARS) | (total_deaths < LE_MIN_DEATHS)
        small_text = (
            f"fewer than {LE_MIN_PERSON_YEARS:,} person-years or fewer than {LE_MIN_DEATHS} deaths"
        )
    with np.errstate(invalid="ignore"):
        rules = [
            (~present.all(axis=1), "missing age bands (all 20 from 0 to 90+ are needed)"),
            (np.isnan(pop).any(axis=1), "missing population in an age band"),
            (np.isnan(deaths).any(axis=1), "missing deaths in an age band"),
            ((pop <= 0).any(axis=1), "an age band has no population"),
            ((deaths > pop).any(axis=1), "deaths exceed the population in an age band"),
            (too_small, small_text),
            (~(deaths[:, -1] > 0), "no deaths in the 90+ band"),
        ]
    reasons = np.full(len(deaths), "", dtype=object)
    for failed, text in reversed(rules):  # the first rule that fails wins
        reasons = np.where(failed, text, reasons)
    return reasons


def _selected_bands(ages: Sequence[object] | object | None) -> np.ndarray:
    """Positions of the bands to report (all 20 by default)."""
    if ages is None:
        return np.arange(len(LE_BANDS))
    wanted = [ages] if isinstance(ages, str | int | float) else list(ages)  # type: ignore[arg-type]
    frame = pd.DataFrame({"age": wanted})
    try:
        return np.unique(_band_index(frame["age"], frame, "age"))
    except StatsInputError:
        raise ParameterError(
            f"life_expectancy(): ages {wanted!r} must be life-table bands such as '0', "
            "'1-4', '65-69' or '90+', or their start ages 0, 1, 65 or 90."
        ) from None


def life_expectancy(
    df: pd.DataFrame,
    deaths: Hashable = "deaths",
    population: Hashable = "population",
    *,
    by: Hashable | Sequence[Hashable] | None = None,
    age_col: Hashable = "age_band",
    ages: Sequence[object] | object | None = None,
    confidence: float | Sequence[float] = 0.95,
    size_rule: SizeRule = "reference",
) -> pd.DataFrame:
    """Life expectancy at each band start, with limits (OHID method, ``phe_life_expectancy``).

    An abridged life table on the 20 bands ``0``, ``1-4``, ``5-9``, ..., ``85-89``, ``90+``
    is completed by Chiang's method (Chiang 1968, "Chiang II"): with ``Mᵢ = deathsᵢ /
    populationᵢ``, band width ``nᵢ`` and ``aᵢ`` = 0.1 for the first band and 0.5 otherwise,
    ``qᵢ = nᵢMᵢ / (1 + nᵢMᵢ(1 − aᵢ))`` (1 if the deaths exceed ``populationᵢ/(nᵢaᵢ)``);
    the 90+ band closes the table with ``q = 1`` and ``L = l / M``. The variance is
    Chiang's, with Silcocks et al.'s (2001) term for the 90+ band, ``4 / (D·M²)``; limits are
    ``e ± z·SE``.

    Rules as the reference implementation: a group is not computed (value and limits
    missing, ``reason`` saying why) when a band is missing, a band's population is 0 or
    missing, a band has more deaths than population, there are no deaths in the 90+ band,
    or the group is too small: ``size_rule="reference"`` refuses 5,000 person-years or
    fewer; ``"contract"`` (data contract v2) needs at least 5,000 person-years and at least
    50 deaths. Zero deaths in other bands are fine. A value whose 95% interval is wider
    than 20 years is not shown, but its limits are (``reason`` says so).

    Args:
        df: one row per group × band, with person-years as the population (e.g. 3 × the
            mid-period population for three years of deaths).
        deaths: column of death counts (>= 0).
        population: column of person-years.
        by: grouping column(s) for one life table per group.
        age_col: column of band labels (``"0"``, ``"1-4"``, ..., ``"90+"``; spaces and
            leading zeros ignored) or start ages (0, 1, 5, ..., 90).
        ages: bands to report (labels or start ages); default all 20.
        confidence: level(s) of the limits, e.g. ``[0.95, 0.998]``.
        size_rule: ``"reference"`` or ``"contract"`` (see above).

    Returns:
        A new frame: the grouping columns, ``age_band`` (the canonical label), the
        statistic columns (``statistic`` ``"life expectancy"``; ``numerator`` and
        ``denominator`` the deaths and person-years at and above the band) and ``reason``
        (empty where the value is shown).

    Raises:
        StatsInputError: missing or non-numeric columns, negative counts, unknown bands or
            a band repeated within a group.

    Examples:
        >>> df = pd.DataFrame({"age_band": list(LE_BANDS),
        ...     "population": [7060, 35059, 46974, 48489, 43219, 38561, 46009, 57208, 61435,
        ...                    55601, 50209, 56416, 46411, 39820, 37978, 37039, 33288,
        ...                    23306, 11936, 11936],
        ...     "deaths": [17, 9, 4, 8, 20, 15, 24, 33, 50, 71, 100, 163, 263, 304, 536,
        ...                872, 1390, 1605, 1936, 1937]})
        >>> out = life_expectancy(df, ages=["0", "65-69"])
        >>> out[["age_band", "value", "lower", "upper"]].round(4)
          age_band    value    lower    upper
        0        0  80.1696  79.8827  80.4565
        1    65-69  18.7686  18.5757  18.9614
    """
    require_frame(df, "life_expectancy")
    levels = confidence_levels(confidence, "life_expectancy")
    if size_rule not in ("reference", "contract"):
        raise ParameterError(
            f"life_expectancy(): size_rule must be 'reference' or 'contract', not {size_rule!r}."
        )
    require_columns(df, [deaths, population, age_col], "life_expectancy")
    dth = count_column(df, deaths, "life_expectancy")
    pop = count_column(df, population, "life_expectancy")
    band = _band_index(df[age_col], df, age_col)
    keys, codes = grouped(df, by, "life_expectancy")
    check_rule(
        pd.DataFrame({"g": codes, "b": band}).duplicated(keep=False).to_numpy(),
        df, age_col, "each age band must appear once within a group", "life_expectancy",
    )  # fmt: skip
    n_groups, n_bands = len(keys), len(LE_BANDS)
    grid_d = np.full((n_groups, n_bands), np.nan)
    grid_p = np.full((n_groups, n_bands), np.nan)
    present = np.zeros((n_groups, n_bands), dtype=bool)
    grid_d[codes, band], grid_p[codes, band], present[codes, band] = dth, pop, True

    reasons = _group_reasons(grid_d, grid_p, present, size_rule)
    ok = reasons == ""
    e = np.full((n_groups, n_bands), np.nan)
    se = np.full((n_groups, n_bands), np.nan)
    if ok.any():
        e[ok], se[ok] = _life_table(grid_d[ok], grid_p[ok])
    wide = ok[:, None] & (z_value(0.95) * se > LE_MAX_CI_WIDTH / 2)
    row_reason = np.where(
        wide, f"95% confidence interval wider than {LE_MAX_CI_WIDTH} years", reasons[:, None]
    )
    value = np.where(wide, np.nan, e)
    used_d = np.cumsum(np.nan_to_num(grid_d)[:, ::-1], axis=1)[:, ::-1]
    used_p = np.cumsum(np.nan_to_num(grid_p)[:, ::-1], axis=1)[:, ::-1]

    chosen = _selected_bands(ages)
    k = len(chosen)
    out_keys = keys.loc[keys.index.repeat(k)].reset_index(drop=True)
    out_keys["age_band"] = np.tile(np.asarray(LE_BANDS, dtype=object)[chosen], n_groups)
    out_keys["age_band"] = out_keys["age_band"].astype("str")

    def pick(arr: np.ndarray) -> np.ndarray:
        return arr[:, chosen].reshape(-1)

    out = assemble(
        out_keys,
        levels,
        statistic="life expectancy",
        value=pick(value),
        lower=[pick(e - z_value(lv) * se) for lv in levels],
        upper=[pick(e + z_value(lv) * se) for lv in levels],
        numerator=pick(used_d),
        denominator=pick(used_p),
        method=METHOD,
        multiplier=1,
        function="life_expectancy",
    )
    out["reason"] = pd.array(np.repeat(pick(row_reason), len(levels)), dtype="str")
    return out
