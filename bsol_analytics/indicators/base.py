"""Building blocks shared by every indicator family.

The definitions are written once, as Narwhals expressions over the processed tables, and run
unchanged on pandas (eager), DuckDB and Spark (lazy). This module holds what every family
needs: reporting-date arithmetic, age, the ESP2013 age bands, the registered population,
"latest code" registers, "latest reading" look-ups and the :class:`Indicator` record.

Conventions (also in ``docs/engines.md``):

* **Months.** ``RD - N months`` moves the calendar month back N times and clamps the day to
  the length of the target month: 2024-08-31 minus 6 months is 2024-02-29, 2025-05-31 minus
  3 months is 2025-02-28. "Within N months of RD" is ``RD - N months < date <= RD``.
* **Age** is whole years completed at the reference date (RD, or the date of death for
  end-of-life indicators). A person born on 29 February turns a year older on 1 March in a
  common year.
* **Registers** use the latest diagnosis code on or before the reference date; a resolved
  code removes the patient only when it is dated strictly after that diagnosis. A resolved
  code on the same day as the latest diagnosis leaves the patient on the register, as does a
  new diagnosis after an earlier resolution (QOF treats the latest code as the current state).
* **Readings.** When a patient has several readings of one kind on their latest date, the
  lowest is used (the QOF convention for blood pressure, applied to HbA1c too).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import narwhals as nw

from bsol_analytics.dates import Window, months_before
from bsol_analytics.reference import AGE_BANDS_ESP2013

#: ESP2013 five-year age bands (``reference.AGE_BANDS_ESP2013``); the index is the band code
#: used inside the engines.
AGE_BANDS: tuple[str, ...] = AGE_BANDS_ESP2013

#: ``registered``: registered at RD, age at RD. ``decedents``: registered at death and died
#: within 12 months of RD, age at death. ``mortality``: both at once for death rates, the
#: registered population at RD (``_role`` 0, age at RD) and the deaths within 36 months of RD
#: of patients registered at death (``_role`` 1, age at death; ``_recent`` 1 when the death
#: was within 12 months of RD).
Population = Literal["registered", "decedents", "mortality"]

#: The decedents' window: deaths within this many months of RD.
DECEDENT_MONTHS = 12
#: The mortality population's window of deaths (life expectancy over three years).
MORTALITY_MONTHS = 36


def age_band_label(code: int) -> str:
    """Return the ESP2013 band label for a band code (0 = ``0-4`` … 18 = ``90+``).

    Examples:
        >>> age_band_label(0), age_band_label(16), age_band_label(18)
        ('0-4', '80-84', '90+')
    """
    return AGE_BANDS[code]


@dataclass(frozen=True)
class Context:
    """Everything a definition needs to know about one evaluation.

    Attributes:
        rd: the reporting date.
        backend: ``"pandas"``, ``"duckdb"`` or ``"spark"``; decides how date literals are
            written (pandas compares timestamps, the SQL engines compare dates).
    """

    rd: dt.date
    backend: str = "pandas"

    def lit(self, day: dt.date) -> Any:
        """A date literal in the form the backend compares against its date columns.

        Examples:
            >>> Context(dt.date(2025, 3, 31)).lit(dt.date(2025, 1, 1))
            datetime.datetime(2025, 1, 1, 0, 0)
            >>> Context(dt.date(2025, 3, 31), "duckdb").lit(dt.date(2025, 1, 1))
            datetime.date(2025, 1, 1)
        """
        if self.backend == "pandas":
            return dt.datetime(day.year, day.month, day.day)
        return day

    def start(self, months: int) -> Any:
        """The excluded lower bound ``RD - months`` as a literal.

        Examples:
            >>> Context(dt.date(2024, 8, 31), "duckdb").start(6)
            datetime.date(2024, 2, 29)
        """
        return self.lit(months_before(self.rd, months))

    def within(self, column: str, months: int) -> nw.Expr:
        """``RD - months < column <= RD`` (null dates are never within).

        Examples:
            >>> import pandas as pd
            >>> ctx = Context(dt.date(2025, 3, 31))
            >>> df = nw.from_native(pd.DataFrame({"d": pd.to_datetime(
            ...     ["2024-03-31", "2024-04-01", "2025-03-31", "2025-04-01"])}))
            >>> df.select(ctx.within("d", 12)).to_native()["d"].tolist()
            [False, True, True, False]
        """
        col = nw.col(column)
        return (col > self.start(months)) & (col <= self.lit(self.rd))

    def coded_within(self, cluster: str, months: int) -> nw.Expr:
        """Event rows of ``cluster`` dated within ``months`` of RD.

        Examples:
            >>> import pandas as pd
            >>> ev = nw.from_native(pd.DataFrame({"cluster": ["SBP", "SBP", "DBP"],
            ...     "event_date": pd.to_datetime(["2025-01-01", "2019-01-01", "2025-01-01"])}))
            >>> ctx = Context(dt.date(2025, 3, 31))
            >>> ev.select(ctx.coded_within("SBP", 60).alias("x")).to_native()["x"].tolist()
            [True, False, False]
        """
        return (nw.col("cluster") == cluster) & self.within("event_date", months)

    def on_or_before(self, column: str) -> nw.Expr:
        """``column <= RD``.

        Examples:
            >>> import pandas as pd
            >>> df = nw.from_native(pd.DataFrame({"d": pd.to_datetime(["2025-03-31",
            ...                                                         "2025-04-01"])}))
            >>> ctx = Context(dt.date(2025, 3, 31))
            >>> df.select(ctx.on_or_before("d")).to_native()["d"].tolist()
            [True, False]
        """
        return nw.col(column) <= self.lit(self.rd)


def whole_years(born: nw.Expr, at: nw.Expr | dt.date) -> nw.Expr:
    """Whole years completed between ``born`` and ``at`` (a column or a fixed date).

    Examples:
        >>> import pandas as pd
        >>> df = nw.from_native(pd.DataFrame({"dob": pd.to_datetime(
        ...     ["1945-03-31", "1945-04-01", "2008-02-29"])}))
        >>> df.select(whole_years(nw.col("dob"), dt.date(2025, 3, 31)).alias("age")
        ...           ).to_native()["age"].tolist()
        [80, 79, 17]
    """
    born_md = born.dt.month() * 100 + born.dt.day()
    if isinstance(at, dt.date):
        years = at.year - born.dt.year()
        not_yet = born_md > (at.month * 100 + at.day)
    else:
        years = at.dt.year() - born.dt.year()
        not_yet = born_md > (at.dt.month() * 100 + at.dt.day())
    return (years - not_yet.cast(nw.Int64)).cast(nw.Int64)


def age_band_code(age: nw.Expr) -> nw.Expr:
    """ESP2013 band code (0-18) for an age in whole years; see :func:`age_band_label`.

    A negative age (a date of birth after the reference date) falls in band 0.

    Examples:
        >>> import pandas as pd
        >>> df = nw.from_native(pd.DataFrame({"age": [0, 4, 5, 89, 90, 104]}))
        >>> df.select(age_band_code(nw.col("age")).alias("b")).to_native()["b"].tolist()
        [0, 0, 1, 17, 18, 18]
    """
    band = nw.when(age >= 90).then(nw.lit(18)).when(age < 0).then(nw.lit(0)).otherwise(age // 5)
    return band.cast(nw.Int64)


def le_age_band_code(age: nw.Expr) -> nw.Expr:
    """Life-table band code (0-19) for an age in whole years.

    The labels are :data:`~bsol_analytics.vocabulary.LE_AGE_BANDS`.

    Examples:
        >>> import pandas as pd
        >>> df = nw.from_native(pd.DataFrame({"age": [0, 1, 4, 5, 89, 90, 104]}))
        >>> codes = df.select(le_age_band_code(nw.col("age")).alias("b")).to_native()["b"]
        >>> from bsol_analytics.vocabulary import LE_AGE_BANDS
        >>> [LE_AGE_BANDS[c] for c in codes]
        ['0', '1-4', '1-4', '5-9', '85-89', '90+', '90+']
    """
    band = (
        nw.when(age >= 90)
        .then(nw.lit(19))
        .when(age <= 0)
        .then(nw.lit(0))
        .when(age < 5)
        .then(nw.lit(1))
        .otherwise(age // 5 + 1)
    )
    return band.cast(nw.Int64)


def registered_at(ctx: Context) -> nw.Expr:
    """The contract's "registered at RD" rule.

    ``registration_start <= RD``, ``registration_end`` blank or ``> RD`` and
    ``date_of_death`` blank or ``> RD``.

    Examples:
        >>> import pandas as pd
        >>> d = lambda *v: pd.to_datetime(list(v))
        >>> people = nw.from_native(pd.DataFrame({
        ...     "registration_start": d("2000-01-01", "2000-01-01", "2025-04-01"),
        ...     "registration_end": d("2025-03-31", None, None),
        ...     "date_of_death": d(None, "2025-04-01", None)}))
        >>> ctx = Context(dt.date(2025, 3, 31))
        >>> people.select(registered_at(ctx).alias("r")).to_native()["r"].tolist()
        [False, True, False]
    """
    rd = ctx.lit(ctx.rd)
    return (
        (nw.col("registration_start") <= rd)
        & (nw.col("registration_end").is_null() | (nw.col("registration_end") > rd))
        & (nw.col("date_of_death").is_null() | (nw.col("date_of_death") > rd))
    )


def latest_dates(events: Any, columns: dict[str, str], keep: nw.Expr) -> Any:
    """Latest event date per patient for each cluster, in one pass.

    Args:
        events: clinical events (narwhals frame with ``patient_id``, ``event_date``,
            ``cluster``).
        columns: output column -> cluster, e.g. ``{"hyp_last": "HYP_COD"}``.
        keep: row filter applied first (e.g. events on or before RD).

    Returns:
        One row per patient with any of the clusters: ``patient_id`` and one date column per
        entry of ``columns`` (null when the patient has none).

    Examples:
        >>> import pandas as pd
        >>> events = nw.from_native(pd.DataFrame({
        ...     "patient_id": [1, 1, 1, 2],
        ...     "event_date": pd.to_datetime(["2020-01-01", "2022-01-01", "2025-01-01",
        ...                                   "2024-06-01"]),
        ...     "cluster": ["HYP_COD", "HYP_COD", "HYPRES_COD", "SBP"],
        ...     "numeric_value": [None, None, None, 150.0]}))
        >>> upto = nw.col("event_date") <= dt.datetime(2024, 12, 31)
        >>> latest_dates(events, {"dx": "HYP_COD", "res": "HYPRES_COD"}, upto).to_native()
           patient_id         dx  res
        0           1 2022-01-01  NaT
    """
    subset = events.filter(nw.col("cluster").is_in(list(columns.values())) & keep)
    marked = subset.with_columns(
        nw.when(nw.col("cluster") == cluster).then(nw.col("event_date")).alias(name)
        for name, cluster in columns.items()
    )
    return marked.group_by("patient_id").agg(nw.col(name).max() for name in columns)


def on_register(diagnosis: str, resolved: str) -> nw.Expr:
    """Register rule over two latest-date columns: a diagnosis not followed by a resolution.

    Examples:
        >>> import pandas as pd
        >>> d = pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-01", None])
        >>> r = pd.to_datetime([None, "2020-01-01", "2021-01-01", "2019-01-01"])
        >>> df = nw.from_native(pd.DataFrame({"d": d, "r": r}))
        >>> df.select(on_register("d", "r").alias("x")).to_native()["x"].tolist()
        [True, True, False, False]
    """
    dx, res = nw.col(diagnosis), nw.col(resolved)
    return (~dx.is_null() & (res.is_null() | (res <= dx))).fill_null(False)


def patients_with(events: Any, keep: nw.Expr, name: str) -> Any:
    """``patient_id`` and a column ``name`` = 1 for every patient with a kept row.

    Examples:
        >>> import pandas as pd
        >>> events = nw.from_native(pd.DataFrame({
        ...     "patient_id": [1, 1, 1, 2],
        ...     "event_date": pd.to_datetime(["2020-01-01", "2022-01-01", "2025-01-01",
        ...                                   "2024-06-01"]),
        ...     "cluster": ["HYP_COD", "HYP_COD", "HYPRES_COD", "SBP"],
        ...     "numeric_value": [None, None, None, 150.0]}))
        >>> patients_with(events, nw.col("cluster") == "SBP", "bp").to_native()
           patient_id  bp
        0           2   1
    """
    return (
        events.filter(keep)
        .group_by("patient_id")
        .agg(nw.len().alias("_n"))
        .select("patient_id", nw.lit(1, nw.Int8).alias(name))
    )


def latest_value(events: Any, keep: nw.Expr, name: str) -> Any:
    """The lowest value on each patient's latest date among the kept rows.

    Returns ``patient_id`` and ``name``. Window-free: latest date per patient, then the
    minimum value on that date.

    Examples:
        >>> import pandas as pd
        >>> events = nw.from_native(pd.DataFrame({
        ...     "patient_id": [1, 1, 1],
        ...     "event_date": pd.to_datetime(["2024-01-01", "2024-06-01", "2024-06-01"]),
        ...     "numeric_value": [40.0, 70.0, 55.0]}))
        >>> latest_value(events, nw.lit(True), "hba1c").to_native()
           patient_id  hba1c
        0           1   55.0
    """
    kept = events.filter(keep & ~nw.col("numeric_value").is_null()).select(
        "patient_id", "event_date", "numeric_value"
    )
    last = kept.group_by("patient_id").agg(nw.col("event_date").max().alias("_last"))
    on_last = kept.join(last, on="patient_id", how="inner").filter(
        nw.col("event_date") == nw.col("_last")
    )
    return on_last.group_by("patient_id").agg(nw.col("numeric_value").min().alias(name))


def latest_paired_reading(
    events: Any,
    keep: nw.Expr,
    first: tuple[str, str],
    second: tuple[str, str],
) -> Any:
    """Values of two clusters on the patient's latest date that has both.

    Args:
        events: clinical events.
        keep: row filter (e.g. within 12 months of RD).
        first: ``(cluster, output column)``, e.g. ``("SBP", "bp_systolic")``.
        second: the same for the other reading, e.g. ``("DBP", "bp_diastolic")``.

    Returns:
        ``patient_id`` and the two output columns (lowest value of each on that date).

    Examples:
        >>> import pandas as pd
        >>> events = nw.from_native(pd.DataFrame({
        ...     "patient_id": [1, 1, 1, 1],
        ...     "event_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01",
        ...                                   "2024-03-01"]),
        ...     "cluster": ["SBP", "DBP", "SBP", "DBP"],
        ...     "numeric_value": [128.0, 84.0, 150.0, 95.0]}))
        >>> latest_paired_reading(events, nw.lit(True), ("SBP", "sys"), ("DBP", "dia")
        ...                       ).to_native()
           patient_id    sys   dia
        0           1  128.0  84.0
    """
    parts = []
    for cluster, out in (first, second):
        parts.append(
            events.filter(
                keep & (nw.col("cluster") == cluster) & ~nw.col("numeric_value").is_null()
            )
            .group_by("patient_id", "event_date")
            .agg(nw.col("numeric_value").min().alias(out))
        )
    both = parts[0].join(parts[1], on=["patient_id", "event_date"], how="inner")
    last = both.group_by("patient_id").agg(nw.col("event_date").max().alias("_last"))
    return (
        both.join(last, on="patient_id", how="inner")
        .filter(nw.col("event_date") == nw.col("_last"))
        .select("patient_id", first[1], second[1])
    )


@dataclass(frozen=True)
class Frames:
    """The processed tables as narwhals frames (eager for pandas, lazy otherwise).

    Attributes:
        patients, clinical_events, screening: the processed tables.
        admissions: the admissions table, or ``None`` when the extract had none.
        backend: ``"pandas"``, ``"duckdb"`` or ``"spark"``.
        patient_ids: pandas only: the original ``patient_id`` values, indexed by the integer
            codes the pandas engine joins on.
        medications, ed_attendances: the version 2 tables, or ``None`` when not supplied.
        inputs: the inputs present (see :data:`INPUTS`), worked out when the tables were
            opened; decides which indicators can be computed.
    """

    patients: Any
    clinical_events: Any
    screening: Any
    admissions: Any | None
    backend: str = "pandas"
    patient_ids: Any = None
    medications: Any | None = None
    ed_attendances: Any | None = None
    inputs: frozenset[str] = frozenset()
    _events: dict[tuple[str, ...], Any] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    def events(self, *clusters: str) -> Any:
        """The ``clinical_events`` rows of ``clusters`` (in table order).

        On the pandas engine the rows are selected once and kept, so every reporting date
        filters a few hundred thousand rows instead of the whole table; the lazy engines
        get the filter itself. Definitions whose row filter already names the clusters give
        the same result from either.

        Examples:
            >>> import pandas as pd
            >>> ev = nw.from_native(pd.DataFrame({"patient_id": [1, 2, 3],
            ...     "cluster": ["SBP", "DBP", "HBA1C"]}))
            >>> frames = Frames(None, ev, None, None)
            >>> frames.events("SBP", "HBA1C").to_native()["patient_id"].tolist()
            [1, 3]
        """
        wanted = nw.col("cluster").is_in(list(clusters))
        if self.backend != "pandas":
            return self.clinical_events.filter(wanted)
        key = tuple(sorted(clusters))
        if key not in self._events:
            self._events[key] = self.clinical_events.filter(wanted)
        return self._events[key]

    def with_inputs(self, inputs: frozenset[str]) -> Frames:
        """These frames with :attr:`inputs` set; the event rows already selected come along."""
        out = replace(self, inputs=inputs)
        out._events.update(self._events)
        return out

    @property
    def admissions_supplied(self) -> bool:
        """Whether the extract supplied an admissions table."""
        return self.admissions is not None


#: Optional inputs an indicator may need, with the plain-English reason used when absent.
INPUTS: dict[str, str] = {
    "admissions": "the extract has no admissions table",
    "admissions.primary_diagnosis": "the admissions table has no primary_diagnosis column",
    "patients.underlying_cause_of_death": (
        "the patients table has no underlying_cause_of_death column"
    ),
    "medications": "the extract has no medications table",
    "ed_attendances": "the extract has no ed_attendances table",
    "cholesterol": "clinical_events holds no cholesterol values (a version 1 extract)",
}

#: What each optional input is, in words ("EOL_3PLUS_EMERG needs hospital admissions").
INPUT_NAMES: dict[str, str] = {
    "admissions": "hospital admissions",
    "admissions.primary_diagnosis": "the primary diagnosis of admissions",
    "patients.underlying_cause_of_death": "the underlying cause of death",
    "medications": "prescribing (a medications table)",
    "ed_attendances": "ED attendances",
    "cholesterol": "cholesterol values",
}


@dataclass(frozen=True)
class Feature:
    """A per-patient derived table joined onto a population by ``patient_id``.

    Attributes:
        name: the feature's name, listed in :attr:`Indicator.features`.
        population: the population it belongs to.
        build: ``build(frames, ctx, population_frame)`` returns a frame with ``patient_id``
            and the feature's columns (at most one row per patient).
        windows: the dated rows it reads back from RD (the build uses the same
            :class:`~bsol_analytics.dates.Window`); a reporting date too early for one is
            refused for every indicator using the feature.
    """

    name: str
    population: Population
    build: Callable[[Frames, Context, Any], Any]
    windows: tuple[Window, ...] = ()


@dataclass(frozen=True)
class Indicator:
    """One indicator's executable definition.

    Attributes:
        id: the indicator id, e.g. ``"HYP_PREV"``.
        population: ``"registered"`` (patients registered at RD, age at RD) or
            ``"decedents"`` (registered at death, died within 12 months of RD, age at death).
        denominator: boolean expression over the population's feature columns.
        numerator: boolean expression; only counted inside the denominator.
        features: names of the per-patient feature columns the expressions use.
        needs_admissions: computed only when the extract supplied admissions.
        needs: other optional inputs (keys of :data:`INPUTS`) it cannot be computed without.
        count_numerator: the numerator expression is a per-patient count (summed over the
            denominator, e.g. ED attendances per decedent) rather than a boolean.
        numerator_in_denominator: ``False`` for death rates, whose numerator (deaths) and
            denominator (the population at RD) are different rows of a mortality population.
        whole_denominator_keys: keys by which only the numerator is split: each cell keeps
            the denominator of all values of the key (DM_PREV by ``diabetes_type``).
        windows: look-back windows of its own, beside its features' (a feature read by
            several indicators with different windows, as screening's, leaves them here).
    """

    id: str
    population: Population
    denominator: Callable[[], nw.Expr]
    numerator: Callable[[], nw.Expr]
    features: tuple[str, ...] = field(default_factory=tuple)
    needs_admissions: bool = False
    needs: tuple[str, ...] = ()
    count_numerator: bool = False
    numerator_in_denominator: bool = True
    whole_denominator_keys: tuple[str, ...] = ()
    windows: tuple[Window, ...] = ()

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every optional input this indicator needs (keys of :data:`INPUTS`).

        Examples:
            >>> Indicator("X", "registered", always, always, needs_admissions=True).inputs
            ('admissions',)
        """
        return (("admissions",) if self.needs_admissions else ()) + tuple(self.needs)


def age() -> nw.Expr:
    """The population's age column (at RD, or at death for decedents).

    Examples:
        >>> import pandas as pd
        >>> df = nw.from_native(pd.DataFrame({"age": [17, 45]}))
        >>> df.select((age() >= 18).alias("adult")).to_native()["adult"].tolist()
        [False, True]
    """
    return nw.col("age")


def sex_is(value: str) -> nw.Expr:
    """``sex == value``.

    Examples:
        >>> import pandas as pd
        >>> df = nw.from_native(pd.DataFrame({"sex": ["F", "M", "U"]}))
        >>> df.select(sex_is("F").alias("f")).to_native()["f"].tolist()
        [True, False, False]
    """
    return nw.col("sex") == value


def flag(name: str) -> nw.Expr:
    """A 0/1 feature column as a boolean; null (no matching rows) is false.

    Features are stored as ``Int8`` 0/1 rather than booleans so that a left join which
    leaves gaps keeps a numeric column on every engine.

    Examples:
        >>> import pandas as pd
        >>> df = nw.from_native(pd.DataFrame({"on_reg": pd.array([1, 0, None], "Int8")}))
        >>> df.select(flag("on_reg")).to_native()["on_reg"].tolist()
        [True, False, False]
    """
    return nw.col(name).fill_null(0) == 1


def always() -> nw.Expr:
    """An always-true denominator (the whole population).

    Examples:
        >>> import pandas as pd
        >>> df = nw.from_native(pd.DataFrame({"x": [1, 2]}))
        >>> df.with_columns(always().alias("all")).to_native()["all"].tolist()
        [True, True]
    """
    return nw.lit(True)


def unique(names: Iterable[str]) -> list[str]:
    """Names in first-seen order without repeats.

    Examples:
        >>> unique(["sex", "age_band", "sex"])
        ['sex', 'age_band']
    """
    return list(dict.fromkeys(names))


def register_flag(events: Any, diagnosis: str, resolved: str, keep: nw.Expr, column: str) -> Any:
    """``patient_id`` and a 0/1 ``column``: on the register among the ``keep`` rows.

    The register rule of :func:`on_register` applied to the latest ``diagnosis`` and
    ``resolved`` cluster dates per patient (see :func:`latest_dates`).

    Examples:
        >>> import pandas as pd
        >>> events = nw.from_native(pd.DataFrame({
        ...     "patient_id": [1, 1, 2, 2],
        ...     "event_date": pd.to_datetime(["2020-01-01", "2021-01-01", "2020-01-01",
        ...                                   "2019-01-01"]),
        ...     "cluster": ["DM_COD", "DMRES_COD", "DM_COD", "DMRES_COD"]}))
        >>> register_flag(events, "DM_COD", "DMRES_COD", nw.lit(True), "on_dm").to_native()
           patient_id  on_dm
        0           1      0
        1           2      1
    """
    last = latest_dates(events, {"_dx": diagnosis, "_res": resolved}, keep)
    return last.select("patient_id", on_register("_dx", "_res").cast(nw.Int8).alias(column))


def register_feature(name: str, diagnosis: str, resolved: str, column: str) -> Feature:
    """A registered-population feature: on the register at RD (codes on or before RD).

    Args:
        name: the feature's name.
        diagnosis: the diagnosis cluster, e.g. ``"HYP_COD"``.
        resolved: the resolved cluster, e.g. ``"HYPRES_COD"``.
        column: the 0/1 output column, e.g. ``"on_hyp_register"``.

    Examples:
        >>> feature = register_feature("hyp_register", "HYP_COD", "HYPRES_COD", "on_hyp")
        >>> feature.name, feature.population
        ('hyp_register', 'registered')
    """

    def build(frames: Frames, ctx: Context, population: Any) -> Any:
        keep = ctx.on_or_before("event_date")
        events = frames.events(diagnosis, resolved)
        return register_flag(events, diagnosis, resolved, keep, column)

    return Feature(name, "registered", build)


def flag_indicator(
    id: str,
    column: str,
    features: Iterable[str],
    denominator: Callable[[], nw.Expr] = always,
    population: Population = "registered",
    windows: tuple[Window, ...] = (),
) -> Indicator:
    """An indicator whose numerator is a 0/1 feature column (see :func:`flag`).

    Args:
        id: the indicator id.
        column: the feature column counted in the numerator.
        features: the features the expressions need.
        denominator: the denominator expression (default: the whole population).
        population: ``"registered"`` (default) or ``"decedents"``.
        windows: look-back windows of the indicator's own (see :class:`Indicator`).

    Examples:
        >>> ind = flag_indicator("COPD_PREV", "on_copd_register", ["copd_register"])
        >>> ind.population, ind.features, ind.denominator is always
        ('registered', ('copd_register',), True)
    """
    return Indicator(
        id,
        population,
        denominator=denominator,
        numerator=functools.partial(flag, column),
        features=tuple(features),
        windows=windows,
    )
