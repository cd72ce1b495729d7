"""One-file reports: every catalogued chart, the claims table and the data's provenance.

HTML reports are interactive and self-contained (plotly.js inlined once, opens offline).
PDF reports embed each chart as a vector image (rendered by the warm Chromium) in the same
page, which headless Chromium then prints to PDF. Suitable for a weekly cron job.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import logging
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go

from analytics import claims, export, formatting, inventory, render
from analytics.charts import ChartOptions, catalog
from analytics.render import ExportError
from pulse import config

log = logging.getLogger(__name__)

PRINT_TIMEOUT_S = 120
CLAIM_COLUMNS = {
    "id": "Claim id",
    "claim": "Claim",
    "source": "Where it was made",
    "claimed": "Claimed figure",
    "status": "Verdict",
    "measured_text": "What the data says (as of)",
    "today_text": "Today",
    "rule": "Rule applied (docs/claims.md)",
    "basis_short": "Basis",
}
# Column widths (percent) so the claims table fits an A4 page.
CLAIM_WIDTHS = {"id": 7, "claim": 17, "source": 10, "claimed": 6, "status": 7, "measured_text": 15, "today_text": 12,
                "rule": 14, "basis_short": 12}
BASIS_CHARS = 110  # the report shows the basis's first clauses; the page, CLI and JSON give it whole
REPORT_CSS = """
h1{margin-bottom:4px} h2{margin-top:36px;page-break-after:avoid}
section.chart{page-break-inside:avoid;break-inside:avoid}
img.chart{width:100%;height:auto;border:0}
@media print{img.chart{width:auto;max-width:100%;max-height:128mm;display:block}}
.error{color:#D55E00;font-weight:600}
ul.empty li{margin:2px 0}
td.verdict{font-weight:600}
table{width:100%} table.fixed{table-layout:fixed} td,th{overflow-wrap:break-word}
@page{size:A4 landscape;margin:10mm}
@media print{body{margin:0;max-width:none;font-size:12px} a{color:inherit} table{font-size:9px} tr{break-inside:avoid}}
body.dark{-webkit-print-color-adjust:exact;print-color-adjust:exact}
"""


@dataclass
class Report:
    """A built report: the document and what went into it."""

    html: str
    charts: list[str] = field(default_factory=list)  # chart names drawn (they have data), catalogue order
    failed: dict[str, str] = field(default_factory=dict)  # chart name -> error text
    empty: dict[str, str] = field(default_factory=dict)  # chart name -> why it has no data (listed once, not drawn)
    claims: int = 0
    claims_error: str | None = None


def _table(frame: pd.DataFrame, columns: dict[str, str], css: dict[str, str] | None = None,
           widths: dict[str, int] | None = None) -> str:
    css = css or {}
    head = "".join(f"<th>{html.escape(label)}</th>" for label in columns.values())
    cols = "".join(f'<col style="width:{widths.get(c, 0)}%">' for c in columns) if widths else ""
    rows = []
    for record in frame.to_dict("records"):
        cells = []
        for column in columns:
            value = record.get(column)
            text = formatting.text(value)  # thousands separators; an em dash, never None/nan/NaT
            cls = f' class="{css[column]}"' if column in css else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    layout = ' class="fixed"' if widths else ""
    return f"<table{layout}><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _short(text: str, limit: int) -> str:
    """The first clauses of a long text, cut at a clause boundary ('; ') where one falls in the limit."""
    if len(text) <= limit:
        return text
    cut = text.rfind("; ", 0, limit)
    return (text[:cut] if cut > limit // 2 else text[:limit - 1].rstrip()) + " …"


def _sources_section(con: duckdb.DuckDBPyConnection) -> str:
    try:
        frame = inventory.source_summary(con)
    except duckdb.Error as exc:
        return f'<p class="error">Could not read the data inventory: {html.escape(str(exc))}</p>'
    if frame.empty:
        return "<p>No observations stored.</p>"
    for column in ("first_date", "last_date", "last_ingest"):
        frame[column] = frame[column].map(lambda v: "never" if formatting.is_missing(v) else formatting.text(v))
    columns = {"source": "Source", "rows": "Rows", "first_date": "First date", "last_date": "Last date", "last_ingest": "Last successful ingest (UTC)"}
    return _table(frame, columns)


def _claims_section(con: duckdb.DuckDBPyConnection, report: Report) -> str:
    try:
        frame = claims.check_all(con)
    except Exception as exc:  # one broken checker must not lose the whole weekly report
        log.warning("Claims table failed in the report: %s", exc)
        report.claims_error = str(exc)
        return f'<p class="error">The claims could not be checked: {html.escape(config.redact(str(exc)))}</p>'
    report.claims = len(frame)
    if frame.empty:
        return "<p>The claims ledger is empty.</p>"
    frame = frame.assign(today_text=[f"{t} ({a})" if t and a else (t or "") for t, a in zip(frame["today"], frame["today_at"], strict=True)])
    # A claim the data cannot check yet needs one line: what would make it checkable (its explanation).
    frame = frame.assign(
        measured_text=[f"{m} ({a})" if m and a else (m or "") for m, a in zip(frame["measured"], frame["as_of"], strict=True)],
        basis_short=[_short(b or "", BASIS_CHARS) for b in frame["basis"]])
    waiting = frame["status"] == claims.NOT_CHECKABLE
    frame.loc[waiting, ["measured_text", "today_text", "basis_short"]] = ""
    return _table(frame, CLAIM_COLUMNS, {"status": "verdict"}, CLAIM_WIDTHS)


def _untitled(figure):
    """The figure without its own title: the report's heading above it is the chart's one name."""
    copy = go.Figure(figure)
    copy.update_layout(title={"text": "", "subtitle": {"text": ""}}, margin_t=50)
    return copy


def _chart_image(result) -> str:
    # No footer in the image: the same provenance is printed right under it.
    svg = render.render(_untitled(result.figure), "svg", export.WIDTH, export.HEIGHT)
    return f'<img class="chart" alt="{html.escape(result.title)}" src="data:image/svg+xml;base64,{base64.b64encode(svg).decode()}">'


def build(con: duckdb.DuckDBPyConnection, options: ChartOptions, static: bool = False, db_label: str = "") -> Report:
    """The report as one HTML document; static=True embeds SVG images instead of live charts."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    report = Report(html="")
    sections, toc = [], []
    plotlyjs_done = False
    for name, spec in catalog().items():
        anchor = f"chart-{name}"
        try:
            result = export.build(name, con, options)
            if not result.has_data:
                # Listed once at the end, not drawn: an empty frame would cost a PDF page and say nothing.
                report.empty[name] = result.empty_message
                continue
            prov = export.provenance(result, options, name)
            if static:
                figure = _chart_image(result)
            else:
                figure = export.figure_div(_untitled(result.figure), not plotlyjs_done, div_id=anchor + "-plot")
                plotlyjs_done = True
                csv = base64.b64encode(export.to_csv(result, options, name).encode("utf-8")).decode()
                figure += (f'<p><a download="{html.escape(name)}.csv" href="data:text/csv;base64,{csv}">'
                           f"CSV of the plotted data ({formatting.number(len(result.data))} rows, with provenance)</a></p>")
            body = (f"<p>{html.escape(result.subtitle)}</p>" if result.subtitle else "") + figure + export.provenance_html(prov)
            report.charts.append(name)
        except render.ChromiumMissing:
            raise  # a PDF without charts is not a report: say how to install Chromium
        except Exception as exc:  # one broken chart must not lose the others
            log.warning("Chart %s failed in the report: %s", name, exc)
            report.failed[name] = config.redact(str(exc))
            body = f'<p class="error">This chart could not be built: {html.escape(report.failed[name])}</p>'
        toc.append(f'<li><a href="#{anchor}">{html.escape(spec.title)}</a> <code>{html.escape(name)}</code></li>')
        sections.append(f'<section class="chart" id="{anchor}"><h2>{html.escape(spec.title)}</h2>{body}</section>')
    if report.empty:
        items = "".join(f"<li><b>{html.escape(catalog()[name].title)}</b> <code>{html.escape(name)}</code>: {html.escape(why)}</li>"
                        for name, why in report.empty.items())
        toc.append('<li><a href="#no-data">Charts without data</a></li>')
        sections.append(f'<section id="no-data"><h2>Charts without data</h2><p>Not drawn: nothing is stored for them yet '
                        f'with these options.</p><ul class="empty">{items}</ul></section>')

    claims_html = _claims_section(con, report)
    view = export.view_params(options)
    intro = (
        f"<h1>Framework Pulse report</h1>"
        f"<p>Generated {now.isoformat()} by {html.escape(export.GENERATOR)}"
        + (f" from <code>{html.escape(db_label)}</code>" if db_label else "")
        + f". {len(report.charts)} charts with data"
        + (f" ({len(report.empty)} without data, listed after them)" if report.empty else "")
        + f", {report.claims} claims. View options for every chart: "
        f"<code>{html.escape(', '.join(f'{k}={v}' for k, v in view.items()))}</code>.</p>"
        f"<h2>Contents</h2><ol>{''.join(toc)}<li><a href=\"#claims\">Claims beside the data</a></li>"
        f"<li><a href=\"#sources\">Data sources and freshness</a></li></ol>"
    )
    body = (
        intro + "".join(sections)
        + f'<section id="claims"><h2>Claims beside the data</h2>{claims_html}</section>'
        + f'<section id="sources"><h2>Data sources and freshness</h2>{_sources_section(con)}'
        + "<p>Every chart above names its sources, as-of date and transform under it; the CSV of any chart "
        + "(<code>pulse export CHART --format csv</code>) holds exactly the plotted numbers with their citations.</p></section>"
    )
    page = export.html_page("Framework Pulse report", f"<style>{REPORT_CSS}</style>{body}", options.theme,
                            f"Framework Pulse report generated {now.isoformat()}")
    report.html = page
    return report


def print_pdf(page_html: str) -> bytes:
    """Print a static HTML page to PDF in the warm Chromium (a one-off headless Chromium if that fails)."""
    with tempfile.TemporaryDirectory(prefix="pulse-report-") as tmp:
        source = Path(tmp) / "report.html"
        source.write_text(page_html, encoding="utf-8")
        try:
            return render.BROWSER.print_pdf(source.as_uri())
        except render.ChromiumMissing:
            raise
        except ExportError as exc:
            log.warning("Printing in the warm browser failed (%s); trying a one-off Chromium.", exc)
            return print_pdf_subprocess(source)


def print_pdf_subprocess(source: Path) -> bytes:
    """Print an HTML file to PDF with a one-off `chromium --headless --print-to-pdf`."""
    browser = render.require_chromium("PDF")
    with tempfile.TemporaryDirectory(prefix="pulse-report-") as tmp:
        target = Path(tmp) / "report.pdf"
        cmd = [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
            f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={target}", source.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise ExportError(f"Printing the report to PDF timed out after {PRINT_TIMEOUT_S} s.", "Try again, or export HTML.") from exc
        if not target.exists() or target.stat().st_size == 0:
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            raise ExportError(f"Chromium did not print the report to PDF (exit {proc.returncode}): {' / '.join(tail)}.", "Export HTML instead, or check `chromium --headless --version`.")
        return target.read_bytes()


def render_report(con: duckdb.DuckDBPyConnection, options: ChartOptions, fmt: str, db_label: str = "") -> tuple[bytes, Report]:
    """The report as HTML or PDF bytes, and what went into it."""
    if fmt == "html":
        report = build(con, options, static=False, db_label=db_label)
        return report.html.encode("utf-8"), report
    if fmt == "pdf":
        render.require_chromium("PDF")
        report = build(con, options, static=True, db_label=db_label)
        return print_pdf(report.html), report
    raise ExportError(f"Reports are HTML or PDF, not '{fmt}'.", "Use --out FILE.html or --out FILE.pdf.")
