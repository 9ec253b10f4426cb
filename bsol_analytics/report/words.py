"""Headlines and sentences: each finding stated in plain English."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from bsol_analytics.plots import outside_limits
from bsol_analytics.report.formatting import NO_COMPARISON, fmt_date, fmt_number
from bsol_analytics.vocabulary import BSOL, FAMILIES, comparator_of

_COMPARISON_WORDS = {
    "better": "is better in {area} than {comp}",
    "worse": "is worse in {area} than {comp}",
    "similar": "is similar in {area} to {comp}",
    "higher": "is higher in {area} than {comp}",
    "lower": "is lower in {area} than {comp}",
}


def _comp_name(name: str) -> str:
    return "across BSOL" if name == BSOL else name


def comparison_sentence(
    title: str, area: str, comparison: str, comparator: str, has_value: bool = True
) -> str:
    """One sentence stating how an area compares with its comparator.

    Args:
        title: the indicator's title.
        area: the area.
        comparison: ``better``, ``worse``, ``similar``, ``higher``, ``lower`` or
            ``not compared``.
        comparator: ``BSOL`` or ``England``.
        has_value: whether the comparator has a value (England has none for some).

    Examples:
        >>> comparison_sentence("Hypertension prevalence", "East", "lower", "BSOL")
        'Hypertension prevalence is lower in East than across BSOL.'
        >>> comparison_sentence("Bowel screening", "East", "not compared", "BSOL")
        'Bowel screening in East could not be compared with BSOL (a value is suppressed).'
        >>> comparison_sentence("COPD review", "BSOL", "not compared", "England", False)
        'COPD review in BSOL: no published England figure to compare with.'
    """
    words = _COMPARISON_WORDS.get(comparison)
    if words is None and not has_value and comparator != BSOL:
        return f"{title} in {area}: no published {comparator} figure to compare with."
    if words is None:
        return f"{title} in {area} could not be compared with {comparator} (a value is suppressed)."
    return f"{title} {words.format(area=area, comp=_comp_name(comparator))}."


def _period_span(glance: pd.DataFrame) -> str:
    """The span of England's published periods in a glance frame ("2019-20 to 2023-24")."""
    if "England_period" not in glance or "England" not in glance:
        return ""
    periods = glance.loc[glance["England"].notna(), "England_period"].astype(str).unique()
    periods = sorted(periods, key=lambda p: (p[:4], p))
    if not periods:
        return ""
    return periods[0] if len(periods) == 1 else f"{periods[0]} to {periods[-1]}"


def _uncompared_words(glance: pd.DataFrame, area: str, other: int) -> str:
    """Why ``other`` rows are not compared, in plain words (from ``why_not_compared``)."""
    if "why_not_compared" not in glance:
        return f"{other} cannot be compared"
    reasons = glance["why_not_compared"].astype(str)
    n = {key: int((reasons == text).sum()) for key, text in NO_COMPARISON.items()}

    def count(k: int, one: str, many: str) -> str:
        return f"{k} {one if k == 1 else many}"

    texts = {
        "no England": ("has", "have", "no published England figure of the same definition"),
        "computed here": (
            "is an age-standardised value or ratio to the expected number",
            "are age-standardised values or ratios to the expected number",
            "computed by this pack, for which England publishes no figure",
        ),
        "standard": ("is a ratio", "are ratios", "to BSOL's own rates (1 by definition)"),
        "suppressed": ("is", "are", "suppressed to protect confidentiality"),
        "no BSOL": ("has", "have", "no BSOL value to compare with"),
    }
    parts = [
        f"{count(n[key], one, many)} {rest}"
        for key, (one, many, rest) in texts.items()
        if n.get(key)
    ]
    rest = other - sum(n.values())
    if rest > 0:
        parts.append(f"{rest} cannot be compared")
    return "; ".join(parts)


def _counts(glance: pd.DataFrame) -> tuple[int, int, int, int, int]:
    """Worse, better, similar, higher-or-lower and not-compared counts of a glance frame."""
    counts = glance["comparison"].value_counts()
    worse, better, similar = (int(counts.get(k, 0)) for k in ("worse", "better", "similar"))
    differ = int(counts.get("higher", 0) + counts.get("lower", 0))
    return worse, better, similar, differ, len(glance) - worse - better - similar - differ


def glance_headline(glance: pd.DataFrame, area: str) -> str:
    """Headline of the at-a-glance summary: how many indicators are better, worse, similar.

    The BSOL pack (with a ``why_not_compared`` column, see
    :func:`bsol_analytics.report.at_a_glance`) counts only the indicators England publishes
    and names the period of England's figures; :func:`not_compared_sentence` says why the
    others are not compared.

    Examples:
        >>> g = pd.DataFrame({"comparison": ["better", "worse", "worse", "similar"]})
        >>> glance_headline(g, "East")
        'East is worse than BSOL on 2 of 4 indicators, better on 1 and similar on 1.'
        >>> g = pd.DataFrame({"comparison": ["worse", "higher", "lower", "not compared"]})
        >>> glance_headline(g, "East")
        'East is worse than BSOL on 1 of 4 indicators, better on 0 and similar on 0; 2 are higher or lower where neither direction is better.'
        >>> g = pd.DataFrame({"comparison": ["worse", "not compared", "not compared"],
        ...     "why_not_compared": ["", "no England figure", "no England figure (computed here)"],
        ...     "England": [66.6, None, None], "England_period": ["2022/23", "", ""]})
        >>> glance_headline(g, "BSOL")
        "Against England's latest published figures (2022/23), BSOL is worse on 1 of the 1 indicators England publishes, better on 0 and similar on 0."
    """  # noqa: E501
    worse, better, similar, differ, other = _counts(glance)
    tail = ""
    if differ:
        verb = "is" if differ == 1 else "are"
        tail = f"; {differ} {verb} higher or lower where neither direction is better"
    if area == BSOL and "why_not_compared" in glance:
        return (
            f"Against England's latest published figures ({_period_span(glance)}), {area} is "
            f"worse on {worse} of the {len(glance) - other} indicators England publishes, "
            f"better on {better} and similar on {similar}{tail}."
        )
    return (
        f"{area} is worse than {comparator_of(area)} on {worse} of {len(glance)} indicators, "
        f"better on {better} and similar on {similar}{tail}."
    )


def not_compared_sentence(glance: pd.DataFrame, area: str) -> str:
    """Why the indicators of a glance frame that are not compared are not, counted by reason.

    Empty when every indicator is compared.

    Examples:
        >>> g = pd.DataFrame({"comparison": ["worse", "not compared", "not compared"],
        ...     "why_not_compared": ["", "no England figure", "no England figure (computed here)"]})
        >>> not_compared_sentence(g, "BSOL")
        'Not compared with England: 1 has no published England figure of the same definition; 1 is an age-standardised value or ratio to the expected number computed by this pack, for which England publishes no figure.'
        >>> not_compared_sentence(g.assign(comparison="worse"), "BSOL")
        ''
    """  # noqa: E501
    other = _counts(glance)[-1]
    if not other:
        return ""
    return f"Not compared with {comparator_of(area)}: {_uncompared_words(glance, area, other)}."


def breakdown_headline(title: str, rows: pd.DataFrame, label: str) -> str:
    """Headline naming the highest and lowest groups of a breakdown (unsuppressed only).

    With ``lower`` and ``upper`` columns, groups are named only when the intervals of the
    highest and lowest do not overlap.

    Examples:
        >>> rows = pd.DataFrame({"group": ["Asian", "White", "Black"],
        ...     "value": [20.0, 15.0, 30.0], "suppressed": [False, False, True]})
        >>> breakdown_headline("Hypertension prevalence", rows, "ethnic group")
        'Hypertension prevalence is highest in the Asian ethnic group (20.0) and lowest in the White ethnic group (15.0).'
        >>> rows = rows.assign(group=["Q1 (most deprived)", "Q3", "Q5 (least deprived)"])
        >>> breakdown_headline("Hypertension prevalence", rows, "deprivation quintile")
        'Hypertension prevalence is highest in Q1, the most deprived quintile (20.0) and lowest in Q3 (15.0).'
        >>> breakdown_headline("Prevalence", rows.assign(lower=[14.0, 10.0, 25.0],
        ...     upper=[26.0, 20.0, 35.0]), "deprivation quintile")
        'Prevalence does not differ clearly by deprivation quintile: the 95% confidence intervals of the highest and lowest groups overlap (15.0 to 20.0).'
    """  # noqa: E501
    shown = rows[
        ~rows["suppressed"].astype(bool) & rows["value"].notna() & (rows["group"] != "Unknown")
    ]
    if len(shown) < 2:
        return f"{title} by {label}: too few groups can be shown after disclosure control."
    hi = shown.loc[shown["value"].idxmax()]
    lo = shown.loc[shown["value"].idxmin()]
    if {"lower", "upper"} <= set(shown.columns) and hi["lower"] <= lo["upper"]:
        # Overlapping intervals: no group is named highest or lowest.
        return (
            f"{title} does not differ clearly by {label}: the 95% confidence intervals of "
            f"the highest and lowest groups overlap ({fmt_number(lo['value'])} to "
            f"{fmt_number(hi['value'])})."
        )

    def name(group: str) -> str:
        # "Q1 (most deprived)" reads "Q1, the most deprived quintile"; "Asian" reads "the
        # Asian ethnic group"; other groups (areas) are named as they are.
        ends = re.fullmatch(r"([QD])(\d+) \((.+)\)", group)
        if ends:
            kind = "quintile" if ends[1] == "Q" else "decile"
            return f"{ends[1]}{ends[2]}, the {ends[3]} {kind}"
        return f"the {group} {label}" if label and not re.match(r"[QD]\d", group) else group

    return (
        f"{title} is highest in {name(hi['group'])} ({fmt_number(hi['value'])}) and "
        f"lowest in {name(lo['group'])} ({fmt_number(lo['value'])})."
    )


def sii_sentence(title: str, area: str, sii: pd.Series | None, unit: str = "") -> str:
    """Explain the slope index of inequality in words.

    Args:
        title: indicator title.
        area: the area.
        sii: a row with ``value``, ``lower``, ``upper`` (or ``None`` when not computed).
        unit: unit appended to the numbers (e.g. ``"percentage points"``).

    Examples:
        >>> row = pd.Series({"value": -4.2, "lower": -6.1, "upper": -2.0})
        >>> sii_sentence("Hypertension prevalence", "East", row, "percentage points")
        'The slope index of inequality (SII) for Hypertension prevalence in East is -4.2 percentage points (95% CI -6.1 to -2.0). The SII is the modelled gap between the least and the most deprived ends of the population: here the value is higher among the most deprived, and the gap is statistically significant.'
    """  # noqa: E501
    if sii is None or pd.isna(sii.get("value")):
        return (
            f"The slope index of inequality for {title} in {area} could not be computed "
            "(too few deprivation quintiles can be shown)."
        )
    value, lower, upper = float(sii["value"]), float(sii["lower"]), float(sii["upper"])
    unit = f" {unit}" if unit else ""
    # SII is the modelled value at the least deprived end minus that at the most deprived.
    side = "most" if value < 0 else "least"
    sig = (
        "statistically significant"
        if (lower > 0 or upper < 0)
        else "not statistically significant (its interval includes zero)"
    )
    return (
        f"The slope index of inequality (SII) for {title} in {area} is "
        f"{fmt_number(value)}{unit} (95% CI {fmt_number(lower)} to {fmt_number(upper)}). "
        "The SII is the modelled gap between the least and the most deprived ends of the "
        f"population: here the value is higher among the {side} deprived, and the gap is {sig}."
    )


def trend_sentence(title: str, area: str, direction: str, first: Any, last: Any) -> str:
    """Headline of a trend chart.

    Examples:
        >>> trend_sentence("Hypertension prevalence", "East", "increasing",
        ...     "2024-06-30", "2025-03-31")
        'Hypertension prevalence in East has increased between 30 June 2024 and 31 March 2025.'
    """
    period = f"between {fmt_date(first)} and {fmt_date(last)}"
    verb = {
        "increasing": "has increased",
        "decreasing": "has decreased",
        "no significant change": "has not changed significantly",
    }.get(direction)
    if verb is None:
        return f"{title} in {area}: there are not enough quarters to show a trend."
    return f"{title} in {area} {verb} {period}."


def recent_trend_sentence(
    title: str, area: str, series: pd.DataFrame, reliable_from: Any = None
) -> str:
    """A trend statement that comes from a test: Fingertips' recent trend of a proportion.

    The chi-squared test for trend (:func:`bsol_analytics.stats.recent_trend`, 99.8%) runs
    over the last 5 quarters inside the data's reliable window (quarters from
    ``reliable_from``); the window is stated, and without a significant trend the sentence
    says "no significant change".

    Args:
        title: the indicator's title.
        area: the area's name.
        series: one indicator and area: ``reporting_date``, ``numerator``,
            ``denominator``, ``suppressed``.
        reliable_from: the first quarter end the data support (``None``: every quarter).

    Examples:
        >>> q = pd.to_datetime(["2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31",
        ...     "2025-03-31"])
        >>> s = pd.DataFrame({"reporting_date": q, "numerator": [700, 720, 745, 770, 790],
        ...     "denominator": [1000] * 5, "suppressed": [False] * 5})
        >>> recent_trend_sentence("Screening", "East", s)
        'Screening in East is increasing over the 5 quarters from 31 March 2024 to 31 March 2025 (chi-squared test for trend, 99.8% level).'
        >>> recent_trend_sentence("Screening", "East", s.assign(numerator=[700] * 5))
        'Screening in East: no significant change over the 5 quarters from 31 March 2024 to 31 March 2025 (chi-squared test for trend, 99.8% level).'
        >>> recent_trend_sentence("Screening", "East", s, "2024-09-30")[:76]
        'Screening in East: the trend cannot be tested: fewer than 5 quarters in the '
    """  # noqa: E501
    from bsol_analytics.stats import recent_trend

    rows = series[~series["suppressed"].astype(bool)]
    rows = rows[rows["numerator"].notna() & rows["denominator"].notna()]
    if reliable_from is not None:
        rows = rows[rows["reporting_date"] >= pd.Timestamp(reliable_from)]
    window = f" (reliable from {fmt_date(reliable_from)})" if reliable_from is not None else ""
    if rows["reporting_date"].nunique() < 5:
        return (
            f"{title} in {area}: the trend cannot be tested: fewer than 5 quarters in the "
            f"data's reliable window{window}."
        )
    rows = rows.sort_values("reporting_date").tail(5)
    out = recent_trend(rows, "numerator", "denominator", period="reporting_date").iloc[0]
    span = (
        f"over the 5 quarters from {fmt_date(out['period_from'])} to "
        f"{fmt_date(out['period_to'])}{window} (chi-squared test for trend, 99.8% level)"
    )
    if out["direction"] in ("increasing", "decreasing"):
        return f"{title} in {area} is {out['direction']} {span}."
    return f"{title} in {area}: no significant change {span}."


def funnel_sentence(title: str, area: str, points: pd.DataFrame, limits: pd.DataFrame) -> str:
    """Headline of a funnel plot: how many practices lie outside the 99.8% limits.

    Args:
        title: indicator title.
        area: the area.
        points: practice rows with ``value``, ``denominator``, ``suppressed``.
        limits: :func:`bsol_analytics.stats.funnel_limits` output at 0.998.

    Examples:
        >>> pts = pd.DataFrame({"value": [10.0, 50.0], "denominator": [100, 100],
        ...     "suppressed": [False, False]})
        >>> lim = pd.DataFrame({"denominator": [100.0], "lower": [20.0], "upper": [40.0],
        ...     "confidence": [0.998]})
        >>> funnel_sentence("Hypertension control", "East", pts, lim)
        'In East, 1 practice is above and 1 below the 99.8% control limits for Hypertension control.'
    """  # noqa: E501
    above, below = outside_limits(points, limits)
    if above + below == 0:
        return f"In {area}, every practice shown is within the 99.8% control limits for {title}."
    practice = "practice is" if above == 1 else "practices are"
    return (
        f"In {area}, {above} {practice} above and {below} below the 99.8% control "
        f"limits for {title}."
    )


#: One line explaining age standardisation, shown wherever a DSR sits next to a crude rate.
DSR_NOTE = (
    "Age-standardised values (European Standard Population 2013) show what the rate would "
    "be if every area had the same age mix, so areas with younger or older populations can "
    "be compared fairly; the crude value is the share of this area's own patients."
)


#: How the recorded-versus-expected ratio is worked out, in words.
RVE_NOTE = (
    "Expected cases are what the area's registered patients would have if each age and sex "
    "group had the reference prevalence (Health Survey for England for hypertension and "
    "diabetes, the PHE COPD prevalence model for COPD). A ratio below 1 suggests cases that "
    "are undiagnosed or not on a practice register; the dashed line at 1 means as many "
    "recorded as expected."
)


def _condition(title: str, family: str) -> str:
    name = FAMILIES.get(family, str(title).split(":")[0])
    return name if name.isupper() else name.lower()


def rve_headline(row: pd.Series, area: str, condition: str) -> str:
    """Headline of the recorded-versus-expected chart, with the gap as "about 1 in N".

    Args:
        row: the area's ratio row (``value``, ``lower``, ``upper``, ``suppressed``).
        area: the area.
        condition: the condition in words (``"hypertension"``).

    Examples:
        >>> def r(v, lo, hi):
        ...     return pd.Series({"value": v, "lower": lo, "upper": hi, "suppressed": False})
        >>> rve_headline(r(0.65, 0.62, 0.68), "East", "hypertension")
        'East records 0.65 of the hypertension expected from its age and sex mix: about 1 in 3 expected cases are not on a register.'
        >>> rve_headline(r(1.2, 1.1, 1.3), "East", "COPD")
        'East records 1.20 times the COPD expected from its age and sex mix: about 20 more cases on registers for every 100 expected.'
        >>> rve_headline(r(0.98, 0.9, 1.05), "BSOL", "diabetes")
        'BSOL records 0.98 of the diabetes expected from its age and sex mix, not significantly different from the expected number (95% CI 0.90 to 1.05).'
    """  # noqa: E501
    if bool(row["suppressed"]) or pd.isna(row["value"]):
        return f"Recorded against expected {condition} cannot be shown for {area} (suppressed)."
    value, lo, hi = float(row["value"]), float(row["lower"]), float(row["upper"])
    how = f"{value:.2f} of the" if value < 1 else f"{value:.2f} times the"
    start = f"{area} records {how} {condition} expected from its age and sex mix"
    if lo <= 1 <= hi:
        return (
            f"{start}, not significantly different from the expected number "
            f"(95% CI {lo:.2f} to {hi:.2f})."
        )
    if value > 1:
        extra = round(100 * (value - 1))
        return f"{start}: about {extra} more cases on registers for every 100 expected."
    missing = 1 - value
    gap = f"1 in {round(1 / missing)}" if missing < 0.5 else f"{round(10 * missing)} in 10"
    return f"{start}: about {gap} expected cases are not on a register."


def rve_sentence(row: pd.Series, area: str) -> str:
    """Recorded versus expected prevalence in words.

    Examples:
        >>> r = pd.Series({"title": "Hypertension: recorded prevalence, recorded vs expected "
        ...     "ratio", "value": 0.6, "lower": 0.55, "upper": 0.66, "suppressed": False})
        >>> rve_sentence(r, "East")
        'Hypertension: recorded prevalence in East is 0.60 times the number expected from the population (95% CI 0.55 to 0.66): fewer cases are recorded than expected.'
    """  # noqa: E501
    title = str(row["title"]).replace(", recorded vs expected ratio", "")
    if row["suppressed"] or pd.isna(row["value"]):
        return f"{title} in {area} cannot be compared with the expected number (suppressed)."
    lo, hi = float(row["lower"]), float(row["upper"])
    verdict = (
        "fewer cases are recorded than expected"
        if hi < 1
        else "more cases are recorded than expected"
        if lo > 1
        else "the recorded number is not significantly different from the expected number"
    )
    return (
        f"{title} in {area} is {float(row['value']):.2f} times the number expected from the "
        f"population (95% CI {lo:.2f} to {hi:.2f}): {verdict}."
    )


def data_quality_notes(summary: dict[str, Any]) -> list[str]:
    """The data-quality summary of ``bsol prepare`` as a few plain sentences.

    Examples:
        >>> data_quality_notes({"status": "usable", "missing_ethnicity_share": 0.119611,
        ...     "missing_lsoa_share": 0.0152, "admissions_supplied": True,
        ...     "rows_read": {"patients": 1000}, "dropped_by_table": {"screening":
        ...     {"duplicate": 60}}, "event_date_range": ["1938-03-27", "2025-03-31"]})[:3]
        ['The extract passed the checks of the data contract.', 'It holds 1,000 patients, with clinical records from 27 March 1938 to 31 March 2025; 60 duplicate or invalid records were set aside.', 'Ethnicity is not recorded for 12.0% of patients and the home area (LSOA) is missing for 1.5%; they are counted in an "unknown" group.']
    """  # noqa: E501
    notes = list(summary.get("notes") or [])
    status = summary.get("status")
    if status:
        notes.append(
            "The extract passed the checks of the data contract."
            if status == "usable"
            else f"The extract's checks gave the status '{status}': read the figures with care."
        )
    rows = summary.get("rows_read") or {}
    dropped = summary.get("dropped_by_table") or {}
    set_aside = sum(int(n) for table in dropped.values() for n in dict(table).values())
    span = summary.get("event_date_range") or []
    span_text = (
        f"clinical records from {fmt_date(span[0])} to {fmt_date(span[1])}"
        if len(span) == 2 and all(span)
        else ""
    )
    if rows:
        lost = sum(int(n) for n in dict(dropped.get("patients", {})).values())
        gone = f", {lost:,} of them patient rows" if lost else ""
        with_span = f", with {span_text}" if span_text else ""
        notes.append(
            f"It holds {int(rows.get('patients', 0)):,} patients{with_span}; {set_aside:,} "
            f"duplicate or invalid records{gone} were set aside."
        )
    elif span_text:
        notes.append(f"It holds {span_text}.")
    eth, lsoa = summary.get("missing_ethnicity_share"), summary.get("missing_lsoa_share")
    if eth is not None and lsoa is not None:
        notes.append(
            f"Ethnicity is not recorded for {100 * float(eth):.1f}% of patients and the home "
            f"area (LSOA) is missing for {100 * float(lsoa):.1f}%; they are counted in an "
            '"unknown" group.'
        )
    if summary.get("admissions_supplied") is False:
        notes.append("The extract has no hospital admissions: admission indicators are not shown.")
    return notes or ["The data-quality summary has no notes."]


#: Columns of the data-quality table (:func:`data_quality_table`).
QUALITY_COLUMNS: tuple[str, ...] = ("Measure", "Value", "What it means")


def data_quality_table(summary: dict[str, Any]) -> list[dict[str, str]]:
    """The data-quality summary of ``bsol prepare`` as rows of a small table.

    Each row has the :data:`QUALITY_COLUMNS`: the measure, its value as a count with
    thousands separators, a percentage, "Yes"/"No" or a date span, and what it means.
    Measures the summary lacks are left out.

    Examples:
        >>> rows = data_quality_table({"rows_read": {"patients": 2369195},
        ...     "dropped_by_table": {"screening": {"duplicate": 3864}},
        ...     "missing_ethnicity_share": 0.119935, "admissions_supplied": True})
        >>> [(r["Measure"], r["Value"]) for r in rows]
        [('Patient records', '2,369,195'), ('Records set aside', '3,864'), ('Ethnicity not recorded', '12.0%'), ('Hospital admissions supplied', 'Yes')]
    """  # noqa: E501
    rows: list[tuple[str, str, str]] = []
    read = summary.get("rows_read") or {}
    dropped = summary.get("dropped_by_table") or {}
    if read:
        rows.append(
            ("Patient records", f"{int(read.get('patients', 0)):,}", "Patients in the extract.")
        )
        set_aside = sum(int(n) for table in dropped.values() for n in dict(table).values())
        rows.append(
            (
                "Records set aside",
                f"{set_aside:,}",
                "Duplicate or invalid records of any table, left out of every figure.",
            )
        )
    for key, measure, what in (
        ("missing_ethnicity_share", "Ethnicity not recorded", "patients with no ethnicity"),
        ("missing_lsoa_share", "Home area (LSOA) missing", "patients with no home area"),
    ):
        if summary.get(key) is not None:
            share = f"{100 * float(summary[key]):.1f}%"
            rows.append(
                (measure, share, f'Share of {what}; they are counted in an "unknown" group.')
            )
    supplied = summary.get("admissions_supplied")
    if supplied is not None:
        rows.append(
            (
                "Hospital admissions supplied",
                "Yes" if supplied else "No",
                "Without admissions, the admission indicators are not shown.",
            )
        )
    span = summary.get("event_date_range") or []
    if len(span) == 2 and all(span):
        rows.append(
            (
                "Clinical records",
                f"{fmt_date(span[0])} to {fmt_date(span[1])}",
                "Dates of the earliest and latest clinical records.",
            )
        )
    return [dict(zip(QUALITY_COLUMNS, row, strict=True)) for row in rows]


def blank_place_sentence(count: int | str | None, area: str, window: str = "") -> str:
    """The end-of-life caveat on deaths with no recorded place of death.

    Args:
        count: deaths in the period with a blank place of death, already protected: a
            count, a phrase such as ``"fewer than 8"`` for a small one, or ``"withheld"``;
            ``None`` when the run did not count them (an empty string is returned).
        area: the pack's area, named in the sentence.
        window: the period of the deaths in words (may be empty).

    Examples:
        >>> blank_place_sentence(1234, "East", "1 April 2024 to 31 March 2025")
        'In East locality, 1,234 deaths from 1 April 2024 to 31 March 2025 had no recorded place of death. They stay in the denominator of the place-of-death indicators and count as neither home, care home nor hospital, so they lower both shares.'
        >>> blank_place_sentence("fewer than 8", "BSOL").split(".")[0]
        'In Birmingham and Solihull (BSOL), fewer than 8 deaths in the period had no recorded place of death'
        >>> blank_place_sentence(0, "East").split(".")[0]
        'In East locality, every death in the period had a recorded place of death'
        >>> blank_place_sentence("withheld", "West").split(",")[1]
        ' the number of deaths in the period with no recorded place of death is withheld'
        >>> blank_place_sentence(None, "East")
        ''
    """  # noqa: E501
    if count is None:
        return ""
    period = f"from {window}" if window else "in the period"
    where = f"In {_pack_name(area)}, "
    if count == 0:
        return where + f"every death {period} had a recorded place of death."
    rule = (
        "denominator of the place-of-death indicators and count as neither home, care home "
        "nor hospital, so they lower both shares."
    )
    if count == "withheld":
        return (
            where + f"the number of deaths {period} with no recorded place of death is "
            "withheld, so that a small count elsewhere cannot be worked out. Such deaths stay "
            "in the " + rule
        )
    number = f"{count:,}" if isinstance(count, int) else str(count)
    noun = "death" if number == "1" else "deaths"
    told = f"{number} {noun} {period} had no recorded place of death. They stay in the "
    return where + told + rule


def _pack_name(area: str) -> str:
    return "Birmingham and Solihull (BSOL)" if area == BSOL else f"{area} locality"


__all__ = [
    "DSR_NOTE",
    "QUALITY_COLUMNS",
    "RVE_NOTE",
    "blank_place_sentence",
    "breakdown_headline",
    "comparison_sentence",
    "data_quality_notes",
    "data_quality_table",
    "funnel_sentence",
    "glance_headline",
    "not_compared_sentence",
    "recent_trend_sentence",
    "rve_headline",
    "rve_sentence",
    "sii_sentence",
    "trend_sentence",
]
