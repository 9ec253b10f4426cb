"""Key messages: the 3-5 sentences at the top of a pack, generated from the statistics.

Significance is not importance: at locality size almost every gap is statistically
significant, so the messages rank significant gaps by the people they affect (the gap
times the people it applies to) and then by size, and never name a "highest" or "lowest"
group unless the two groups' 95% confidence intervals are apart. Every statement comes
from a test: a gap from the OHID rule (the 95% interval against the comparator value),
an inequality from the slope index of inequality (fitted to age-standardised values where
the indicator has them), a change from Fingertips' recent-trend test (chi-squared test for
trend over the last 5 quarters).

Examples:
    >>> data = example_pack()
    >>> for sentence in key_messages(data, "East"):
    ...     print(sentence)
    The largest gap with BSOL is in bowel screening coverage: 58.0% in East against 62.0% across BSOL, 4.0 percentage points worse, about 400 of 10,000 people.
    Against England, bowel screening coverage in East is 14.0 percentage points worse (58.0% against England's 72.0% in 2022/23), about 1,400 of 10,000 people.
    The widest inequality by deprivation in East is in bowel screening coverage: the slope index of inequality is 12.0 percentage points (95% CI 8.0 to 16.0), higher among the least deprived.
    The biggest significant change in East is in bowel screening coverage, increasing from 50.0% to 58.0% over the 5 quarters to 31 March 2025 (chi-squared test for trend).
"""  # noqa: E501

from __future__ import annotations

import numpy as np
import pandas as pd

from bsol_analytics.report.formatting import fmt_count, fmt_date, fmt_number
from bsol_analytics.report.loading import PackData
from bsol_analytics.report.selection import RECENT_TREND_QUARTERS, at_a_glance, recent_trends
from bsol_analytics.vocabulary import BSOL, DSR_SUFFIX, comparator_of

#: How a gap's size is written, by unit.
_UNIT_GAP = {"%": "percentage points", "per 100,000": "per 100,000", "years": "years"}
_UNIT_VALUE = {"%": "%"}


def _title(title: str) -> str:
    """An indicator title inside a sentence: "Diabetes: HbA1c ..." reads "HbA1c ... (diabetes)".

    Examples:
        >>> _title("Hypertension: blood pressure treated to target")
        'blood pressure treated to target (hypertension)'
        >>> _title("Bowel screening coverage"), _title("COPD: annual review")
        ('bowel screening coverage', 'annual review (COPD)')
        >>> _title("Hypertension: recorded prevalence (age-standardised)")
        'recorded prevalence (hypertension, age-standardised)'
        >>> _title("Diabetes: recorded prevalence, 17+")
        'recorded prevalence, 17+ (diabetes)'
    """

    def lower(text: str) -> str:
        return text if text[:2].isupper() else text[:1].lower() + text[1:]

    extra = ""
    if title.endswith(")") and " (" in title:
        title, extra = title[:-1].rsplit(" (", 1)
    head, sep, tail = title.partition(": ")
    inside = ", ".join(x for x in (lower(head) if sep else "", extra) if x)
    name = lower(tail) if sep else lower(title)
    return f"{name} ({inside})" if inside else name


def _value(value: float, unit: str) -> str:
    suffix = _UNIT_VALUE.get(unit, "")
    return f"{fmt_number(value)}{suffix}" if suffix else f"{fmt_number(value)} {unit}".strip()


def _people(gap: float, denominator: float, multiplier: float) -> float:
    """People a gap applies to: the gap as a share of the denominator (NaN if not a share)."""
    if not (np.isfinite(gap) and np.isfinite(denominator) and multiplier > 0):
        return float("nan")
    return abs(gap) / multiplier * denominator


def significant_gaps(data: PackData, area: str, against: str) -> pd.DataFrame:
    """The area's statistically significant gaps with BSOL or England, ranked.

    A gap is significant when the area's 95% confidence interval excludes the comparator
    value (the OHID rule). Only base indicators (not ``_DSR``/``_RVE``/``_ISR`` rows) and
    only indicators with a comparator value count.

    Args:
        data: the pack tables.
        area: a locality or ``BSOL``.
        against: ``"BSOL"`` or ``"England"``.

    Returns:
        A new frame: ``indicator_id``, ``title``, ``unit``, ``polarity``, ``value``,
        ``comparator``, ``period`` (England's, empty for BSOL), ``gap`` (value minus
        comparator), ``people`` (the gap times the denominator: people it applies to),
        ``denominator``, ``direction`` (``better``, ``worse``, ``higher``, ``lower``);
        ranked by people affected, then by relative size.

    Examples:
        >>> significant_gaps(example_pack(), "East", "BSOL")[["indicator_id", "gap", "people"]]
          indicator_id  gap  people
        0    SCR_BOWEL -4.0   400.0
    """
    glance = at_a_glance(data, area)
    meta = data.meta.set_index("indicator_id")
    derived = glance["derived"].fillna("") if "derived" in glance else ""
    rows = glance[derived == ""].copy()
    if against == BSOL:
        rows = _standardised(rows, glance[derived == "DSR"])
    rows = rows[~rows["suppressed"].astype(bool)]
    rows["unit"] = rows["indicator_id"].map(meta["unit"]).fillna("")
    multiplier = rows["unit"].map({"%": 100.0, "per 100,000": 100_000.0}).fillna(1.0)
    rows["comparator"] = rows[against].astype("float64")
    rows["period"] = rows["England_period"] if against == "England" else ""
    if area == BSOL and against == BSOL:
        rows = rows.iloc[0:0]
    apart = (rows["lower"] > rows["comparator"]) | (rows["upper"] < rows["comparator"])
    rows = rows[apart & rows["comparator"].notna() & rows["value"].notna()]
    rows["gap"] = rows["value"] - rows["comparator"]
    rows["people"] = [
        _people(g, d, m)
        for g, d, m in zip(rows["gap"], rows["denominator"], multiplier[rows.index], strict=True)
    ]
    rows.loc[rows["unit"] == "years", "people"] = np.nan
    higher_better = rows["polarity"] == "higher is better"
    judged = rows["polarity"].isin(["higher is better", "lower is better"])
    better = np.where(higher_better, rows["gap"] > 0, rows["gap"] < 0)
    rows["direction"] = np.where(
        judged, np.where(better, "better", "worse"), np.where(rows["gap"] > 0, "higher", "lower")
    )
    rows["_size"] = (rows["gap"] / rows["comparator"].abs()).abs()
    rows["_judged"] = judged
    rows = rows.sort_values(
        ["_judged", "people", "_size"], ascending=False, na_position="last", kind="stable"
    )
    cols = ["indicator_id", "title", "unit", "polarity", "value", "comparator", "period",
            "gap", "people", "denominator", "direction"]  # fmt: skip
    return rows[cols].reset_index(drop=True)


def _standardised(rows: pd.DataFrame, dsr: pd.DataFrame) -> pd.DataFrame:
    """Rows with an age-standardised version take its value, interval and BSOL value.

    Areas differ in age mix, so a locality is compared with BSOL on age-standardised
    prevalence (England publishes crude QOF prevalence, so England keeps the crude value).
    """
    if dsr.empty:
        return rows
    std = dsr.assign(indicator_id=dsr["indicator_id"].str.removesuffix(DSR_SUFFIX))
    std = std.set_index("indicator_id")
    hit = rows["indicator_id"].isin(std.index)
    out = rows.copy()
    for col in ("value", "lower", "upper", "suppressed", BSOL):
        mapped = out.loc[hit, "indicator_id"].map(std[col])
        out.loc[hit, col] = mapped.to_numpy()
    out.loc[hit, "title"] = out.loc[hit, "title"] + " (age-standardised)"
    return out


def _gap_clause(row: pd.Series) -> tuple[str, str]:
    """``("4.0 percentage points worse", ", about 400 of 10,000 people")`` for a gap row."""
    unit = _UNIT_GAP.get(row["unit"], row["unit"])
    size = f"{fmt_number(abs(row['gap']))} {unit}".strip()
    people = ""
    if np.isfinite(row["people"]) and row["people"] >= 1:
        people = f", about {fmt_count(_round(row['people']))} of {fmt_count(row['denominator'])}"
        people += " people" if row["unit"] == "%" else ""
    return f"{size} {row['direction']}", people


def _round(value: float) -> float:
    """Round a count of people for words: two significant figures from 100 up."""
    if value < 100:
        return float(round(value))
    digits = int(np.floor(np.log10(value))) - 1
    return float(round(value, -digits))


def _gap_sentence(gaps: pd.DataFrame, area: str, against: str) -> str | None:
    if gaps.empty:
        return None
    top = gaps.iloc[0]
    title = _title(str(top["title"]))
    value, comparator = _value(top["value"], top["unit"]), _value(top["comparator"], top["unit"])
    size, people = _gap_clause(top)
    if against == BSOL:
        return (
            f"The largest gap with BSOL is in {title}: {value} in {area} against {comparator} "
            f"across BSOL, {size}{people}."
        )
    return (
        f"Against England, {title} in {area} is {size} ({value} against England's "
        f"{comparator} in {top['period']}){people}."
    )


def _locality_sentence(data: PackData) -> str:
    """BSOL pack: the locality with the largest significant gap from BSOL (people affected)."""
    ind = data.indicators
    localities = [str(a) for a in pd.unique(ind.loc[ind["area_type"] == "locality", "area"])]
    tops = []
    for name in localities:
        gaps = significant_gaps(data, name, BSOL)
        if len(gaps):
            tops.append(gaps.iloc[:1].assign(area=name))
    if not tops:
        return "No locality differs significantly from BSOL on any indicator."
    top = pd.concat(tops, ignore_index=True)
    top = top.sort_values("people", ascending=False, na_position="last").iloc[0]
    size, people = _gap_clause(top)
    return (
        f"Among the localities, the largest gap with BSOL is {top['area']} on "
        f"{_title(str(top['title']))}: {_value(top['value'], top['unit'])} against "
        f"{_value(top['comparator'], top['unit'])}, {size}{people}."
    )


def widest_inequality(data: PackData, area: str) -> pd.Series | None:
    """The area's widest statistically significant slope index of inequality.

    Read from the pack's SII table (fitted to age-standardised quintile values where the
    indicator has them); significant when its 95% interval excludes zero; widest by the
    people the gap applies to (the index times the area's denominator), so indicators in
    different units can be ranked.

    Returns:
        A row with ``indicator_id``, ``title``, ``unit``, ``value``, ``lower``, ``upper``,
        ``standardised``; ``None`` when no SII is significant.

    Examples:
        >>> row = widest_inequality(example_pack(), "East")
        >>> row["indicator_id"], float(row["value"]), bool(row["standardised"])
        ('SCR_BOWEL', 12.0, False)
    """
    sii = data.sii
    if sii is None or sii.empty:
        return None
    rows = sii[(sii["area"] == area) & sii["value"].notna()]
    rows = rows[(rows["lower"] > 0) | (rows["upper"] < 0)]
    if rows.empty:
        return None
    glance = at_a_glance(data, area).set_index("indicator_id")
    meta = data.meta.set_index("indicator_id")
    unit = rows["indicator_id"].map(meta["unit"]).fillna("")
    multiplier = unit.map({"%": 100.0, "per 100,000": 100_000.0})
    people = rows["value"].abs() / multiplier * rows["indicator_id"].map(glance["denominator"])
    rows = rows.assign(
        _rel=people.fillna(0.0),
        title=rows["indicator_id"].map(meta["title"]).fillna(rows["indicator_id"]),
        unit=rows["indicator_id"].map(meta["unit"]).fillna(""),
        standardised=rows["indicator_id"].map(lambda i: f"{i}_DSR" in meta.index),
    )
    return rows.sort_values("_rel", ascending=False).iloc[0]


def _inequality_sentence(row: pd.Series | None, area: str) -> str:
    if row is None:
        return (
            f"No indicator in {area} shows a statistically significant gap between the most "
            "and least deprived (slope index of inequality)."
        )
    unit = _UNIT_GAP.get(row["unit"], row["unit"])
    side = "most" if row["value"] < 0 else "least"
    title = str(row["title"]) + (" (age-standardised)" if row["standardised"] else "")
    return (
        f"The widest inequality by deprivation in {area} is in {_title(title)}: the slope "
        f"index of inequality is {fmt_number(abs(row['value']))} {unit} "
        f"(95% CI {fmt_number(min(abs(row['lower']), abs(row['upper'])))} to "
        f"{fmt_number(max(abs(row['lower']), abs(row['upper'])))}), higher among the {side} "
        "deprived."
    ).replace("  ", " ")


def biggest_change(data: PackData, area: str) -> pd.Series | None:
    """The area's biggest significant change by Fingertips' recent-trend test.

    Ranked by the change in points between the ends of the 5-quarter window, times the
    people it applies to (the latest denominator), then by size.

    Returns:
        A row of :func:`~bsol_analytics.report.selection.recent_trends` with ``title``,
        ``change`` and ``people``; ``None`` when no trend is significant.

    Examples:
        >>> biggest_change(example_pack(), "East")[["indicator_id", "trend"]].tolist()
        ['SCR_BOWEL', 'increasing']
    """
    trends = recent_trends(data, area)
    rows = trends[trends["trend"].isin(["increasing", "decreasing"])]
    if rows.empty:
        return None
    glance = at_a_glance(data, area).set_index("indicator_id")
    meta = data.meta.set_index("indicator_id")
    change = rows["last"] - rows["first"]
    people = change.abs() / 100 * rows["indicator_id"].map(glance["denominator"]).fillna(0)
    rows = rows.assign(
        change=change,
        people=people,
        _size=change.abs(),
        title=rows["indicator_id"].map(meta["title"]).fillna(rows["indicator_id"]),
        polarity=rows["indicator_id"].map(meta["polarity"]).fillna("no judgement"),
    )
    return rows.sort_values(["people", "_size"], ascending=False).iloc[0]


def _change_sentence(row: pd.Series | None, area: str, data: PackData) -> str:
    window = f"over the {RECENT_TREND_QUARTERS} quarters to {fmt_date(data.reporting_date)}"
    if row is None:
        return (
            f"No indicator in {area} changed significantly {window} (chi-squared test for "
            "trend, 99.8% level)."
        )
    return (
        f"The biggest significant change in {area} is in {_title(str(row['title']))}, "
        f"{row['trend']} from {fmt_number(row['first'])}% to {fmt_number(row['last'])}% "
        f"{window} (chi-squared test for trend)."
    )


def key_messages(data: PackData, area: str) -> list[str]:
    """The pack's key messages: 3 to 5 plain sentences from the statistics.

    In order: the largest significant gap with BSOL (a locality pack), the largest with
    England (with England's period), in the BSOL pack the locality furthest from BSOL,
    the widest inequality by deprivation (slope index on
    age-standardised values where they exist) and the biggest significant change (recent
    trend test). Gaps are ranked by the people they affect, then by size; no sentence names
    a highest or lowest group. Where nothing is significant the sentence says so.

    Args:
        data: the pack tables (:class:`~bsol_analytics.report.loading.PackData`).
        area: a locality name or ``BSOL``.

    Returns:
        A new list of 3 to 5 sentences.

    Examples:
        >>> len(key_messages(example_pack(), "East")), len(key_messages(example_pack(), "BSOL"))
        (4, 4)
        >>> key_messages(example_pack(), "BSOL")[0][:33]
        'Against England, bowel screening '
    """
    out: list[str] = []
    if area != BSOL:
        gap = _gap_sentence(significant_gaps(data, area, BSOL), area, BSOL)
        out.append(gap or f"No indicator in {area} differs significantly from BSOL.")
    england = _gap_sentence(significant_gaps(data, area, "England"), area, "England")
    out.append(
        england
        or f"No indicator in {area} differs significantly from its published England figure."
    )
    if area == BSOL:
        out.append(_locality_sentence(data))
    out.append(_inequality_sentence(widest_inequality(data, area), area))
    out.append(_change_sentence(biggest_change(data, area), area, data))
    return out[:5]


def example_pack() -> PackData:
    """A tiny pack (bowel screening for East and BSOL, 5 quarters) for the examples.

    Examples:
        >>> sorted(example_pack().indicators["area"].unique())
        ['BSOL', 'East']
    """
    dates = pd.to_datetime(["2024-03-31", "2024-06-30", "2024-09-30", "2024-12-31", "2025-03-31"])
    rows = []
    for area, values in (("East", [50, 52, 54, 56, 58]), (BSOL, [62] * 5)):
        for day, pct in zip(dates, values, strict=True):
            rows.append(
                {
                    "indicator_id": "SCR_BOWEL",
                    "reporting_date": day,
                    "area_type": "BSOL" if area == BSOL else "locality",
                    "area": area,
                    "breakdown": "overall",
                    "group": "All",
                    "value": float(pct),
                    "lower": pct - 1.0,
                    "upper": pct + 1.0,
                    "numerator": pct * 100.0,
                    "denominator": 10_000.0,
                    "suppressed": False,
                    "suppression_reason": None,
                    "comparator": comparator_of(area),
                    "comparator_value": 62.0 if area != BSOL else 72.0,
                    "comparison": "worse",
                }
            )
    meta = pd.DataFrame(
        {
            "indicator_id": ["SCR_BOWEL"],
            "title": ["Bowel screening coverage"],
            "family": ["screening"],
            "definition": ["People aged 60-74 screened in the last 30 months."],
            "polarity": ["higher is better"],
            "unit": ["%"],
            "derived": [""],
            "england_value": [72.0],
        }
    )
    sii = pd.DataFrame(
        {"indicator_id": ["SCR_BOWEL"], "area": ["East"], "value": [12.0], "lower": [8.0],
         "upper": [16.0]}
    )  # fmt: skip
    empty = pd.DataFrame()
    info = {"reporting_date": "2025-03-31", "view": "practice", "imd": "2025"}
    return PackData(pd.DataFrame(rows), meta, empty, empty, empty, info, sii)


__all__ = [
    "biggest_change",
    "example_pack",
    "key_messages",
    "significant_gaps",
    "widest_inequality",
]
