"""Export a catalogued chart as PNG, SVG, PDF, self-contained HTML or CSV, with its provenance.

Pure (no Streamlit): the app's download buttons, `pulse export` and `pulse report` all call
these on the ChartResult that the chart's one builder returned. Every export carries the
same provenance: sources, as-of date, transform, notes and the view's options (so a file can
be traced back to, and reopened as, the exact view).
"""

from __future__ import annotations

import datetime as dt
import difflib
import html
import io
import json
import os
import tempfile
import textwrap
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from analytics import render
from analytics.charts import ChartOptions, ChartResult, ChartSpec, catalog
from analytics.render import ChromiumMissing, ExportError  # noqa: F401  (re-exported)
from pulse import __version__, registry

FORMATS: dict[str, str] = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "pdf": "application/pdf",
    "html": "text/html",
    "csv": "text/csv",
}
IMAGE_FORMATS = render.IMAGE_FORMATS
WIDTH, HEIGHT = 1100, 650
PNG_SCALE = 2  # crisp on slides and retina screens; SVG/PDF are vector anyway
FOOTER_FONT = 11
GENERATOR = f"Framework Pulse {__version__}"


class UnknownChart(ExportError):
    """A chart name that the catalogue does not list."""


# --- Catalogue lookup and options ---------------------------------------------------------

def spec(name: str) -> ChartSpec:
    """The catalogued chart; UnknownChart naming the closest name otherwise."""
    charts = catalog()
    if name in charts:
        return charts[name]
    close = difflib.get_close_matches(name, list(charts), n=1, cutoff=0.4)
    hint = (f"Did you mean '{close[0]}'? " if close else "") + "List them with `pulse export --list`."
    raise UnknownChart(f"Unknown chart '{name}'.", hint)


def build(name: str, con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    """Build a catalogued chart with the same function its page uses."""
    chart = spec(name)
    try:
        return chart.builder(con, options)
    except ValueError as exc:  # builders reject options they do not support (e.g. a view)
        raise ExportError(f"Cannot build chart '{name}' with these options: {exc}.", "Check --view and --set values.") from exc


def parse_extra(pairs: list[str] | tuple[str, ...]) -> dict:
    """KEY=VALUE strings into chart-specific options (ints, floats and true/false typed)."""
    extra: dict = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ExportError(f"Cannot read option '{pair}'.", "Chart options are KEY=VALUE, e.g. --set variant=monthly.")
        value: object = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for cast in (int, float):
                try:
                    value = cast(raw)
                    break
                except ValueError:
                    continue
        extra[key.strip()] = value
    return extra


# The chart-specific options (--set KEY=VALUE) each chart's builder reads. Any other key is
# refused with the valid ones (issue 14: `--set foo=bar` was silently ignored);
# tests/test_bad_input.py checks that every key a builder reads is listed here.
CHART_OPTIONS: dict[str, tuple[str, ...]] = {
    "github-stars": (),
    "overview-stars-share": (),
    "trends-interest": ("trends_request",),
    "trends-share": ("trends_request",),
    "pwc-implementation-share": ("variant",),
    "pwc-papers-with-code": (),
    "conference-mentions": ("conference",),
    "hf-models": ("source",),
    "hf-share": ("base", "source"),
    "hf-tf-keras-also-pytorch": ("source",),
    "hf-libraries": (),
    "probe-throughput": ("device",),
    "probe-mfu": ("device",),
    "probe-speedup": ("device",),
    "probe-history": ("device",),
    "pypi-downloads": ("period", "source"),
    "so-questions": ("period",),
}


def check_extra(extra: dict, charts: list[str]) -> None:
    """Refuse a --set key that none of `charts` reads, naming the valid keys and the closest one."""
    valid = sorted({key for name in charts for key in CHART_OPTIONS.get(name, ())})
    unknown = [key for key in extra if key not in valid]
    if not unknown:
        return
    key = unknown[0]
    which = f"chart '{charts[0]}'" if len(charts) == 1 else "these charts"
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = (f"Did you mean '{close[0]}'? " if close else "") + (
        f"Valid: {', '.join(valid)}." if valid else f"{which.capitalize()} takes no --set options.")
    raise ExportError(f"Unknown option --set {key}=... for {which}.", hint)


def view_params(options: ChartOptions) -> dict[str, str]:
    """The options as the dashboard's URL query parameters (see app_pages/_common.py)."""
    params = {"frameworks": ",".join(options.frameworks)}
    if options.start:
        params["start"] = options.start.isoformat()
    if options.end:
        params["end"] = options.end.isoformat()
    params["view"] = options.view
    params["log"] = "1" if options.log else "0"
    for key, value in sorted(options.extra.items()):
        params[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return params


# The dashboard's default page (app.py, default=True): Streamlit serves it at the root and ignores its
# url_path, so a link to "/overview" opens "Page not found".
ROOT_PAGE = "overview"


def page_path(page: str | None) -> str:
    """The URL path a catalogued chart's page is served at ('/' for the default page)."""
    return "/" if not page or page == ROOT_PAGE else f"/{page}"


def view_link(options: ChartOptions, page: str | None = None, base_url: str | None = None) -> str:
    """A link that reopens this view in the dashboard (relative unless a base URL is known)."""
    base = (base_url or os.environ.get("PULSE_PUBLIC_URL") or "").rstrip("/")
    path = f"{base}{page_path(page)}" if page else (base or "")
    return f"{path}?{urlencode(view_params(options), safe=',')}"


def provenance(result: ChartResult, options: ChartOptions, chart: str | None = None, base_url: str | None = None,
               link: str | None = None) -> dict:
    """Everything an exported file says about where its numbers come from (link: the view's URL, if known)."""
    page = catalog()[chart].page if chart and chart in catalog() else None
    return {
        "title": result.title,
        "chart": chart,
        "sources": list(result.sources),
        "as_of": result.as_of,
        "transform": result.transform,
        "notes": list(result.notes),
        "view": {
            "frameworks": list(options.frameworks),
            "start": options.start.isoformat() if options.start else None,
            "end": options.end.isoformat() if options.end else None,
            "view": options.view,
            "log": options.log,
            "theme": options.theme,
            "extra": dict(options.extra),
        },
        "link": link or view_link(options, page, base_url),
        "exported_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "generator": GENERATOR,
    }


def provenance_lines(prov: dict) -> list[str]:
    """Provenance as short human-readable lines (footer, CSV header, HTML block)."""
    view = prov["view"]
    names = ", ".join(registry.display_name(f) for f in view["frameworks"]) or "none"
    span = f"{view['start'] or 'first'} to {view['end'] or 'latest'}"
    extra = "".join(f"; {k}={v}" for k, v in view["extra"].items())
    return [
        f"Source: {'; '.join(prov['sources']) or 'none'}",
        f"As of: {prov['as_of']} · Transform: {prov['transform']}",
        *prov["notes"],
        f"View: {names}; {span}; view={view['view']}; log={'on' if view['log'] else 'off'}{extra}",
        f"Exported {prov['exported_at'][:10]} by {prov['generator']} · {prov['link']}",
    ]


# --- Images -------------------------------------------------------------------------------

def footer_spec(result: ChartResult, prov: dict, width: int = WIDTH, height: int = HEIGHT) -> dict:
    """The figure as a plotly dict with the provenance as a footer inside the image.

    Works on the dict (not a go.Figure copy): re-validating a large figure costs more than the render.
    """
    spec = result.figure.to_dict()
    layout = spec.setdefault("layout", {})
    chars = max(40, int((width - 40) / (FOOTER_FONT * 0.55)))
    lines: list[str] = []
    for line in provenance_lines(prov):
        lines.extend(textwrap.wrap(line, chars) or [""])
    margin = dict(layout.get("margin") or {})
    top = margin.get("t", 80)
    bottom = margin.get("b", 50) + len(lines) * (FOOTER_FONT + 4) + 12
    margin["b"] = bottom
    plot_px = max(50, height - top - bottom)
    layout.update(margin=margin, width=width, height=height)
    if isinstance(layout.get("title"), dict):
        # A title at x=0 of the container touches the image edge; align it with the plot area.
        layout["title"].setdefault("xref", "paper")
    layout["annotations"] = [*layout.get("annotations", []), {
        "text": "<br>".join(html.escape(line) for line in lines),
        "xref": "paper", "yref": "paper", "x": 0, "y": -(bottom - 6) / plot_px,
        "xanchor": "left", "yanchor": "bottom", "align": "left", "showarrow": False,
        "font": {"size": FOOTER_FONT}, "opacity": 0.8, "name": "pulse-provenance",
    }]
    return spec


def with_footer(result: ChartResult, prov: dict, width: int = WIDTH, height: int = HEIGHT) -> go.Figure:
    """A copy of the figure with the provenance footer (for callers that want a Figure)."""
    return go.Figure(footer_spec(result, prov, width, height))


def to_image(result: ChartResult, options: ChartOptions, fmt: str, chart: str | None = None,
             width: int = WIDTH, height: int = HEIGHT, link: str | None = None) -> bytes:
    """PNG, SVG or PDF bytes with the provenance footer (needs Chromium)."""
    prov = provenance(result, options, chart, link=link)
    spec = footer_spec(result, prov, width, height)
    data = render.render(spec, fmt, width, height, PNG_SCALE if fmt == "png" else 1)
    if fmt == "png":
        return png_with_text(data, {"Title": result.title, "Description": " | ".join(provenance_lines(prov)),
                                    "Software": GENERATOR, "Provenance": json.dumps(prov)})
    if fmt == "svg":
        return svg_with_metadata(data, result.title, prov)
    return data


def png_with_text(data: bytes, fields: dict[str, str]) -> bytes:
    """Add iTXt chunks (UTF-8 key/value text, read by exiftool and image viewers) after IHDR."""
    import struct
    import zlib

    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return data
    chunks = b""
    for key, value in fields.items():
        body = key.encode("latin-1") + b"\x00\x00\x00" + b"\x00" + b"\x00" + value.encode("utf-8")
        chunks += struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body) & 0xFFFFFFFF)
    ihdr_end = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4
    return data[:ihdr_end] + chunks + data[ihdr_end:]


def svg_with_metadata(data: bytes, title: str, prov: dict) -> bytes:
    """Add <title>, <desc> and the provenance JSON (<metadata>) right after the <svg> tag."""
    text = data.decode("utf-8")
    end = text.find(">", text.find("<svg")) + 1
    if end <= 0:
        return data
    meta = (f"<title>{html.escape(title)}</title><desc>{html.escape(' | '.join(provenance_lines(prov)))}</desc>"
            f"<metadata>{html.escape(json.dumps(prov))}</metadata>")
    return (text[:end] + meta + text[end:]).encode("utf-8")


def to_png(result: ChartResult, options: ChartOptions, chart: str | None = None) -> bytes:
    return to_image(result, options, "png", chart)


def to_svg(result: ChartResult, options: ChartOptions, chart: str | None = None) -> bytes:
    return to_image(result, options, "svg", chart)


def to_pdf(result: ChartResult, options: ChartOptions, chart: str | None = None) -> bytes:
    return to_image(result, options, "pdf", chart)


# --- HTML and CSV -------------------------------------------------------------------------

PAGE_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;max-width:1200px}
body.dark{background:#111;color:#ddd} a{color:#0072B2} body.dark a{color:#56B4E9}
.provenance{font-size:13px;opacity:.85;border-top:1px solid #8884;padding-top:8px}
.provenance p{margin:2px 0} table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #8886;padding:4px 6px;text-align:left;vertical-align:top}
"""


def provenance_html(prov: dict) -> str:
    rows = "".join(f"<p>{html.escape(line)}</p>" for line in provenance_lines(prov))
    link = html.escape(prov["link"])
    if prov["link"].startswith(("http://", "https://")):
        rows = rows.replace(link, f'<a href="{link}">{link}</a>')
    return f'<div class="provenance">{rows}</div>'


def figure_div(fig: go.Figure, include_plotlyjs: bool | str, div_id: str | None = None) -> str:
    """The figure as a <div> (plotly.js inlined when include_plotlyjs=True)."""
    return pio.to_html(fig, include_plotlyjs=include_plotlyjs, full_html=False, div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def html_page(title: str, body: str, theme: str, head_comment: str = "") -> str:
    comment = f"<!--\n{head_comment.replace('--', '- -')}\n-->\n" if head_comment else ""
    return (
        f"<!DOCTYPE html>\n{comment}<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"generator\" content=\"{html.escape(GENERATOR)}\">"
        f"<title>{html.escape(title)}</title><style>{PAGE_CSS}</style></head>"
        f"<body class=\"{'dark' if theme == 'dark' else 'light'}\">{body}</body></html>\n"
    )


def to_html(result: ChartResult, options: ChartOptions, chart: str | None = None, link: str | None = None) -> str:
    """A single HTML file that opens offline: plotly.js inlined, provenance in a comment, a block and JSON."""
    prov = provenance(result, options, chart, link=link)
    meta = json.dumps(prov, indent=1).replace("</", "<\\/")
    body = (
        f"{figure_div(result.figure, True, div_id='pulse-chart')}\n{provenance_html(prov)}\n"
        f'<script type="application/json" id="pulse-provenance">{meta}</script>'
    )
    return html_page(result.title, body, options.theme, "\n".join(provenance_lines(prov)))


def csv_header(prov: dict) -> str:
    lines = [f"Framework Pulse export: {prov['title']}" + (f" (chart {prov['chart']})" if prov["chart"] else "")]
    lines += provenance_lines(prov)
    lines.append("Columns below are exactly the plotted data; skip the lines starting with '#'.")
    return "".join(f"# {line}\n" for line in lines)


def to_csv(result: ChartResult, options: ChartOptions, chart: str | None = None, header: bool = True,
           link: str | None = None) -> str:
    """The plotted data as CSV, headed by '#' provenance lines unless header=False."""
    body = result.data.to_csv(index=False, lineterminator="\n")
    return (csv_header(provenance(result, options, chart, link=link)) if header else "") + body


def sidecar_text(result: ChartResult, options: ChartOptions, chart: str | None = None) -> str:
    """Provenance as JSON, for a sidecar next to a plain CSV."""
    return json.dumps(provenance(result, options, chart), indent=2) + "\n"


def read_csv(source: str | os.PathLike | io.StringIO) -> tuple[list[str], pd.DataFrame]:
    """Read an exported CSV back: (provenance lines, data)."""
    text = Path(source).read_text(encoding="utf-8") if not isinstance(source, io.StringIO) else source.getvalue()
    lines = text.splitlines(keepends=True)
    header = [line[2:].rstrip("\n") for line in lines if line.startswith("# ")]
    n = 0
    while n < len(lines) and lines[n].startswith("#"):
        n += 1
    body = "".join(lines[n:])
    # A chart with no data for the chosen options exports its provenance and no table.
    return header, pd.read_csv(io.StringIO(body)) if body.strip() else pd.DataFrame()


def export(result: ChartResult, options: ChartOptions, fmt: str, chart: str | None = None, link: str | None = None) -> bytes:
    """The chart in one of FORMATS, as bytes."""
    fmt = fmt.lower()
    if fmt in IMAGE_FORMATS:
        return to_image(result, options, fmt, chart, link=link)
    if fmt == "html":
        return to_html(result, options, chart, link=link).encode("utf-8")
    if fmt == "csv":
        return to_csv(result, options, chart, link=link).encode("utf-8")
    raise ExportError(f"Unknown export format '{fmt}'.", f"Choose one of {', '.join(FORMATS)}.")


def format_for(path: Path, given: str | None) -> str:
    """The explicit format, else the output file's suffix."""
    fmt = (given or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ExportError(f"Cannot tell the export format of '{path}'.", f"Pass --format with one of {', '.join(FORMATS)}.")
    return fmt


# --- Writing files ------------------------------------------------------------------------

def _name_max(path: Path) -> int:
    """Longest file name (bytes) the filesystem holding `path` (or its nearest existing
    ancestor) allows; 255 when it cannot say."""
    for candidate in [path, *path.parents]:
        try:
            return os.pathconf(candidate, "PC_NAME_MAX")
        except (OSError, ValueError):
            continue
    return 255


def check_name(path: Path) -> Path:
    """Refuse an output name the filesystem cannot hold (issue 14: a 300-character name ended
    in a traceback), or that holds a NUL byte."""
    path = Path(path).expanduser()
    shown = str(path) if len(str(path)) <= 80 else str(path)[:77] + "..."
    if "\0" in str(path):
        raise ExportError(f"Cannot write export to '{shown!r}': the name holds a NUL byte.", "Choose another --out.")
    limit = _name_max(path.parent if str(path.parent) else Path("."))
    for part in path.parts:
        size = len(os.fsencode(part))
        if size > limit:
            raise ExportError(f"Cannot write export to '{shown}': the name '{part[:40]}...' is {size} bytes, more than the "
                              f"{limit} this filesystem allows.", "Choose a shorter --out name.")
    if len(os.fsencode(str(path.absolute()))) >= 4096:
        raise ExportError(f"Cannot write export to '{shown}': the path is longer than the system allows (4096 bytes).", "Choose a shorter --out path.")
    return path


def check_writable(path: Path) -> Path:
    """Fail early, with advice, when the output path cannot be written."""
    path = check_name(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise ExportError(f"Cannot write export to '{path}': it is a directory.", "Give a file name, e.g. --out reports/chart.png.")
    if not parent.exists():
        blocker = next((p for p in [parent, *parent.parents] if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise ExportError(f"Cannot write export to '{path}': '{blocker}' is a file, not a directory.", "Choose another --out.")
        raise ExportError(f"Cannot write export to '{path}': directory '{parent}' does not exist.", f"Create it (mkdir -p {parent}) or choose another --out.")
    if not parent.is_dir():
        raise ExportError(f"Cannot write export to '{path}': '{parent}' is not a directory.", "Choose another --out.")
    return path


def write(path: Path, content: bytes | str) -> Path:
    """Write atomically (temp file + rename), so a cron job never leaves half a report."""
    path = check_writable(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        # A short temporary name: a name near the filesystem's limit must still fit.
        fd, tmp = tempfile.mkstemp(prefix=".pulse-export-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ExportError(f"Cannot write export to '{path}': cannot create a file in '{path.parent}' ({exc.strerror or exc}).", "Check the directory's permissions or choose another --out.") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ExportError(f"Cannot write export to '{path}': {exc.strerror or exc}.", "Check the directory's permissions and free space, or choose another --out.") from exc
    return path
