"""Accessible HTML: figures with alt text, tables, collapsible sections."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bsol_analytics import __version__
from bsol_analytics.report.formatting import fmt_ci, fmt_column, slug
from bsol_analytics.vocabulary import LOCALITIES


def figure_html(fig: Any, alt: str, dpi: int = 96) -> str:
    """Embed a matplotlib figure as a base64 PNG ``<img>`` with alt text, and close it.

    Examples:
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> fig, ax = plt.subplots()
        >>> figure_html(fig, "An empty chart").startswith('<img alt="An empty chart"')
        True
    """
    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    # A 256-colour palette keeps charts crisp at about a third of the size.
    buf.seek(0)
    small = io.BytesIO()
    Image.open(buf).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(
        small, format="PNG", compress_level=6
    )
    data = base64.b64encode(small.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'


def table_html(frame: pd.DataFrame, caption: str, row_header: bool = True) -> str:
    """An accessible HTML table: caption, ``th scope="col"`` headers, row headers.

    Cells are escaped; the first column is a row header (``th scope="row"``) when
    ``row_header`` is true.

    Examples:
        >>> t = table_html(pd.DataFrame({"Group": ["A"], "Value": ["1.0"]}), "Demo")
        >>> '<th scope="col">Value</th>' in t and '<th scope="row">A</th>' in t
        True
    """
    head = "".join(f'<th scope="col">{html.escape(str(c))}</th>' for c in frame.columns)
    body = []
    for row in frame.astype(str).itertuples(index=False):
        cells = []
        for i, cell in enumerate(row):
            text = html.escape(cell)
            cells.append(
                f'<th scope="row">{text}</th>' if (i == 0 and row_header) else f"<td>{text}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="data"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def stat_table(rows: pd.DataFrame, label: str = "Group", decimals: int = 1) -> pd.DataFrame:
    """Format statistic rows for a data table; suppressed cells say so with the reason.

    Args:
        rows: frame with ``group``, ``value``, ``lower``, ``upper``, ``numerator``,
            ``denominator``, ``suppressed``, ``suppression_reason``.
        label: header of the group column.
        decimals: decimals of the value and its interval (2 for ratios).

    Examples:
        >>> rows = pd.DataFrame({"group": ["A", "B"], "value": [12.0, 3.0],
        ...     "lower": [10.0, 1.0], "upper": [14.0, 5.0], "numerator": [120, 3],
        ...     "denominator": [1000, 100], "suppressed": [False, True],
        ...     "suppression_reason": [None, "fewer than 10"]})
        >>> stat_table(rows).iloc[1].tolist()
        ['B', 'suppressed (fewer than 10)', 'suppressed', 'suppressed', 'suppressed']
    """
    return pd.DataFrame(
        {
            label: rows["group"].astype(str).to_numpy(),
            "Value": fmt_column(rows, "value", decimals),
            "95% CI": fmt_ci(rows, decimals),
            "Numerator": fmt_column(rows, "numerator", 0, reason=False),
            "Denominator": fmt_column(rows, "denominator", 0, reason=False),
        }
    )


def heading_html(text: str, level: int = 2) -> str:
    """A heading with an id for the table of contents.

    Examples:
        >>> heading_html("At a glance")
        '<h2 id="at-a-glance">At a glance</h2>'
    """
    return f'<h{level} id="{slug(text)}">{html.escape(text)}</h{level}>'


def section_html(
    title: str,
    headline: str,
    figure: str | None,
    table: pd.DataFrame | None,
    caption: str,
    notes: Sequence[str] = (),
    level: int = 3,
) -> str:
    """One pack section: heading, headline sentence, chart, notes and collapsed data table.

    Args:
        title: the section heading.
        headline: one sentence stating the finding.
        figure: HTML from :func:`figure_html` (or ``None`` for no chart).
        table: the chart's data, already formatted (see :func:`stat_table`).
        caption: caption of the data table.
        notes: further plain-English paragraphs (e.g. the SII in words).
        level: heading level (3 under a family, 2 for top-level sections).

    Examples:
        >>> out = section_html("Trend", "It went up.", None, pd.DataFrame({"a": ["1"]}), "Data")
        >>> "<details><summary>Show the data: Data</summary>" in out
        True
    """
    parts = [f'<section class="pack-section" aria-labelledby="{slug(title)}">']
    parts.append(heading_html(title, level))
    parts.append(f'<p class="headline">{html.escape(headline)}</p>')
    if figure:
        parts.append(f"<figure>{figure}<figcaption>{html.escape(headline)}</figcaption></figure>")
    parts.extend(f"<p>{html.escape(n)}</p>" for n in notes)
    if table is not None:
        parts.append(
            f"<details><summary>Show the data: {html.escape(caption)}</summary>"
            f"{table_html(table, caption)}</details>"
        )
    parts.append("</section>")
    return "".join(parts)


#: The short label every page, printed page and data table of a synthetic pack carries.
SYNTHETIC_LABEL = "SYNTHETIC DATA: not real patients"


def provenance_banner(info: dict[str, Any], source: str | None = None) -> str:
    """The banner saying what the data are, shown first in every pack.

    A synthetic extract (``info["synthetic"]``, carried from ``synth_manifest.json``) gets a
    banner that cannot be missed; a real extract states its source: ``source`` (a parameter
    of the run), else the prepared extract's own description.

    Examples:
        >>> "SYNTHETIC DATA" in provenance_banner({"synthetic": True})
        True
        >>> provenance_banner({}, "EMIS extract of 1 May 2025")
        '<p class="source-note"><strong>Data source:</strong> EMIS extract of 1 May 2025</p>'
    """
    if info.get("synthetic") or info.get("demo"):
        detail = info.get("source_description") or (
            "Every patient and every figure in this pack is invented."
        )
        return (
            '<div class="data-banner" role="note" aria-label="Synthetic data">'
            f"<p><strong>{html.escape(SYNTHETIC_LABEL)}.</strong> {html.escape(detail)} "
            "Practice codes are real; the figures shown for them are not the practices' "
            "own and must not be used to judge any practice.</p></div>"
        )
    text = source or info.get("source_description") or "a GP extract prepared by bsol prepare"
    return f'<p class="source-note"><strong>Data source:</strong> {html.escape(text)}</p>'


def coverage_sentence(covered: Sequence[str] | None) -> str:
    """Which localities the extract has patients in, as a paragraph ('' when unknown).

    Examples:
        >>> coverage_sentence(["Solihull"])[:68]
        '<p class="coverage">This extract covers 1 of the 6 localities: Solih'
        >>> "all 6 localities" in coverage_sentence(LOCALITIES)
        True
    """
    if covered is None:
        return ""
    names = [n for n in LOCALITIES if n in set(covered)]
    if len(names) == len(LOCALITIES):
        text = f"This extract covers all {len(LOCALITIES)} localities of Birmingham and Solihull."
    elif not names:
        text = "This extract has no patients in any locality."
    else:
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        which = "that locality" if len(names) == 1 else "those localities"
        text = (
            f"This extract covers {len(names)} of the {len(LOCALITIES)} localities: "
            f"{listed} only. BSOL figures are for the patients of {which} alone."
        )
    return f'<p class="coverage">{html.escape(text)}</p>'


def page_banner_css(text: str) -> str:
    """CSS printing ``text`` in the top and bottom margin of every printed page.

    Examples:
        >>> page_banner_css("SYNTHETIC DATA")[:39]
        '@media print { @page { @top-center { co'
    """
    quoted = text.replace("\\", "").replace('"', "'").replace("<", "")
    box = f'content: "{quoted}"; color: #b10e1e; font: bold 9pt Arial, sans-serif;'
    return f"@media print {{ @page {{ @top-center {{ {box} }} @bottom-center {{ {box} }} }} }}"


def mark_print(page: str) -> str:
    """Mark the at-a-glance section to print full width with its values as a table.

    Examples:
        >>> page = ('<h2 id="at-a-glance">At a glance</h2><section class="pack-section">'
        ...     '<details><summary>S</summary></details></section><h2 id="next">N</h2>'
        ...     '<details><summary>T</summary></details>')
        >>> out = mark_print(page)
        >>> out.count('class="print-table"'), out.count("at-a-glance-print")
        (1, 1)
    """
    start = page.find('<h2 id="at-a-glance">')
    if start < 0:
        return page
    end = page.find("<h2 ", start + 1)
    end = len(page) if end < 0 else end
    glance = page[start:end].replace(
        'class="pack-section"', 'class="pack-section at-a-glance-print"'
    )
    glance = glance.replace("<details>", '<details class="print-table">')
    return page[:start] + glance + page[end:]


def mark_synthetic(page: str) -> str:
    """Label every data-table caption of a page as synthetic (for synthetic packs).

    Examples:
        >>> mark_synthetic('<table class="data"><caption>Rates</caption></table>')
        '<table class="data"><caption><span class="synthetic-tag">Synthetic data.</span> Rates</caption></table>'
    """  # noqa: E501
    return page.replace("<caption>", '<caption><span class="synthetic-tag">Synthetic data.</span> ')


def show(markup: str) -> None:
    """Display HTML in the notebook (the converted pack keeps it as is).

    Examples:
        >>> show("<p>hello</p>")
        <IPython.core.display.HTML object>
    """
    from IPython.display import HTML, display

    display(HTML(markup))


def run_stamp() -> str:
    """Version of the suite and the time the pack was built (UTC).

    Examples:
        >>> run_stamp().startswith("bsol_analytics ")
        True
    """
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"bsol_analytics {__version__}, built {now}"


__all__ = [
    "SYNTHETIC_LABEL",
    "coverage_sentence",
    "figure_html",
    "heading_html",
    "mark_print",
    "mark_synthetic",
    "page_banner_css",
    "provenance_banner",
    "run_stamp",
    "section_html",
    "show",
    "stat_table",
    "table_html",
]
