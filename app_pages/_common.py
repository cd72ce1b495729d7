"""Shared page plumbing: the database connection, URL-backed filters, and chart display.

Pages import from here and stay thin: read widgets, call analytics, draw.
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import re
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics import formatting, inventory
from analytics.charts import VIEWS, ChartOptions, ChartResult, catalog
from pulse import config, db, registry
from pulse.bootstrap import ensure_database
from pulse.errors import PulseError


def db_path() -> Path:
    return config.db_path(os.environ.get("PULSE_DB"))


@st.cache_resource(show_spinner="Preparing the database from the embedded snapshot...")
def _ensure(path: str) -> bool:
    ensure_database(Path(path))
    return True


@st.cache_resource(max_entries=2)
def _connection(path: str, token: tuple) -> duckdb.DuckDBPyConnection:
    # Keyed by the file's identity: a writer's atomic swap changes it, so new data shows
    # without a restart while old connections keep reading the old file.
    return db.open_read(Path(path))


def connection() -> duckdb.DuckDBPyConnection:
    """A read-only cursor on the live database; stops the page with advice when unusable."""
    path = db_path()
    try:
        _ensure(str(path))
        return db.read_cursor(_connection(str(path), db.version_token(path)))
    except PulseError as exc:
        st.error(config.redact(str(exc)))
        st.stop()


def data_version() -> tuple | None:
    """Pass to @st.cache_data functions so cached results follow database swaps."""
    return db.version_token(db_path())


# --- URL-backed filters -------------------------------------------------------------------

def _param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value if value not in (None, "") else None


def framework_filter(key: str = "frameworks", label: str = "Frameworks", choices: list[str] | None = None) -> list[str]:
    """Multiselect of frameworks, read from and written to the URL (?frameworks=a,b)."""
    choices = choices or registry.ids()
    requested = [f.strip() for f in (_param(key) or "").split(",") if f.strip()]
    unknown = [f for f in requested if f not in registry.frameworks()]
    for f in unknown:
        suggestion = registry.suggest(f)
        st.warning(f"Unknown framework id '{f}' in the link" + (f"; did you mean '{suggestion}'?" if suggestion else ".") + " It was ignored.")
    default = [f for f in requested if f in choices] or [f for f in registry.default_ids() if f in choices]
    chosen = st.sidebar.multiselect(label, choices, default=default, format_func=registry.display_name, key=f"w_{key}")
    st.query_params[key] = ",".join(chosen)
    return chosen


def date_range_filter(min_date: dt.date, max_date: dt.date, key: str = "range") -> tuple[dt.date, dt.date]:
    """Start/end date inputs, read from and written to the URL (?start=YYYY-MM-DD&end=...)."""

    def parse(name: str, fallback: dt.date) -> dt.date:
        raw = _param(name)
        try:
            value = dt.date.fromisoformat(raw) if raw else fallback
        except ValueError:
            st.warning(f"Ignored '{name}={raw}' in the link: dates are YYYY-MM-DD.")
            value = fallback
        return min(max(value, min_date), max_date)

    start = st.sidebar.date_input("From", parse("start", min_date), min_value=min_date, max_value=max_date, key=f"w_{key}_start")
    end = st.sidebar.date_input("To", parse("end", max_date), min_value=min_date, max_value=max_date, key=f"w_{key}_end")
    if start > end:
        st.sidebar.warning("'From' is after 'To'; swapped them.")
        start, end = end, start
    st.query_params["start"], st.query_params["end"] = start.isoformat(), end.isoformat()
    return start, end


def view_filter(key: str = "view", views: dict[str, str] = VIEWS) -> str:
    raw = _param(key)
    if raw and raw not in views:
        st.warning(f"Unknown view '{raw}' in the link; choose one of {', '.join(views)}.")
    names = list(views)
    view = st.sidebar.radio("View", names, index=names.index(raw) if raw in views else 0, format_func=lambda v: views[v], key=f"w_{key}")
    st.query_params[key] = view
    return view


def log_filter(key: str = "log") -> bool:
    value = st.sidebar.toggle("Log scale", value=_param(key) in ("1", "true"), key=f"w_{key}")
    st.query_params[key] = "1" if value else "0"
    return value


def theme() -> str:
    """The active Streamlit theme ('light' or 'dark') for figures."""
    try:
        return "dark" if st.context.theme.type == "dark" else "light"
    except Exception:
        return "light"


# --- Chart display -----------------------------------------------------------------------

def view_options() -> ChartOptions:
    """The current view's options as the URL holds them (the filters above write them there)."""
    known = registry.frameworks()
    frameworks = [f for f in (_param("frameworks") or "").split(",") if f in known] or registry.default_ids()

    def day(name: str) -> dt.date | None:
        try:
            return dt.date.fromisoformat(_param(name) or "")
        except ValueError:
            return None

    return ChartOptions(frameworks=frameworks, start=day("start"), end=day("end"), view=_param("view") or "absolute",
                        log=_param("log") in ("1", "true"), theme=theme())


def view_url() -> str:
    """This page's URL with the view's query string: opening it restores the view."""
    query = urlencode({k: st.query_params.get(k) for k in st.query_params}, safe=",")
    try:
        base = (st.context.url or "").split("?", 1)[0]
    except Exception:  # no browser context (bare script, tests)
        base = ""
    return f"{base}?{query}" if query else base


def _file_stem(name: str, as_of: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "chart"
    return f"{slug}-{as_of}" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", as_of or "") else slug


def show_downloads(result: ChartResult, key: str, options: ChartOptions, chart: str | None) -> None:
    """PNG, SVG, PDF, HTML and CSV downloads, each built only when clicked, plus a link to this view."""
    from analytics import export

    link = view_url()
    stem = _file_stem(chart or result.title, result.as_of)
    unavailable = export.render.unavailable_reason()  # no Chromium (or no kaleido): images off, say how to fix
    columns = st.columns([1, 1, 1, 1, 1, 2], gap="small")
    for column, fmt in zip(columns, export.FORMATS, strict=False):
        needs_browser = fmt in export.IMAGE_FORMATS
        column.download_button(
            # A callable is called only when the button is clicked (Streamlit >= 1.52).
            fmt.upper(), data=partial(export.export, result, options, fmt, chart, link),
            file_name=f"{stem}.{fmt}", mime=export.FORMATS[fmt], key=f"{key}_download_{fmt}",
            on_click="ignore", disabled=needs_browser and unavailable is not None, icon=":material/download:",
            help=unavailable if needs_browser and unavailable else f"{fmt.upper()} with the sources, as-of date and view on it",
        )
    with columns[5].popover("Link to this view", icon=":material/link:"):
        st.caption("Opening this link restores the frameworks, dates, view and scale.")
        st.code(link or "(open the dashboard in a browser to get a link)", language=None)
    if unavailable:
        st.caption(f"PNG, SVG and PDF downloads are off. {unavailable}")


# Plotly's own toolbar: no image download (the page's buttons carry the sources; plotly's would not).
PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["toImage", "lasso2d", "select2d"], "responsive": True}


def show_chart(result: ChartResult, key: str, options: ChartOptions | None = None, chart: str | None = None,
               empty: dict | None = None) -> bool:
    """Draw a catalogued chart under its one name, with its provenance and downloads; False if it had no data.

    A chart with no data draws no frame and no download buttons: one compact card instead, saying
    why (the builder's message) plus what `empty` adds (keyword arguments of empty_state()).
    options default to the view in the URL; chart (the catalogue name) defaults to key when key is one.
    """
    if chart is None and key in catalog():
        chart = key
    if not result.has_data:
        empty_state(result.title, **({"shows": result.empty_message} | (empty or {})), key=f"{key}_empty")
        return False
    st.subheader(result.title)
    if result.subtitle:
        st.caption(result.subtitle)
    figure = go.Figure(result.figure)
    # The page names the chart above it; a title inside the figure would collide with the legend on phones.
    figure.update_layout(title={"text": "", "subtitle": {"text": ""}}, margin_t=40)
    st.plotly_chart(figure, width="stretch", key=f"chart_{key}", config=PLOTLY_CONFIG)
    st.caption(" · ".join(result.provenance_lines()))
    show_downloads(result, key, options or view_options(), chart)
    return True


def empty_state(title: str, shows: str, fill: str = "", metrics: list[str] | tuple[str, ...] = (), *,
                link: tuple[str, str] | None = None, key: str | None = None) -> None:
    """One compact card for a page or chart with no data: what it will show, what fills it, what it checks.

    fill: the one command, upload or button that fills it (markdown); metrics: metric-name prefixes
    whose ledger claims this data would check; link: (label, url) of a ready-made page to fill it from.
    """
    claims = inventory.claims_about(connection(), tuple(metrics)) if metrics else []
    with st.container(border=True, key=key):
        st.markdown(f":material/hourglass_empty: **{title}**: no data yet. {shows}")
        if fill:
            st.markdown(f"**To fill it:** {fill}")
        if link:
            st.link_button(link[0], link[1], icon=":material/open_in_new:")
        if claims:
            listed = "; ".join(f"_{_short(text)}_" for _, text in claims[:3])
            more = f" and {len(claims) - 3} more" if len(claims) > 3 else ""
            st.caption(f"It would check {len(claims)} claim{'s' if len(claims) != 1 else ''} on the Claims page: {listed}{more}.")


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


_METRIC_ARROW = "delta_arrow" in inspect.signature(st.metric).parameters


def metric(column, label: str, value: str, note: str | None = None, help: str | None = None) -> None:
    """A card; note (e.g. 'as of 2024-04-01') shows under the value, muted and without an arrow."""
    extra = {"delta": note, "delta_color": "off"} if note else {}
    if note and _METRIC_ARROW:
        extra["delta_arrow"] = "off"
    column.metric(label, value, help=help, **extra)


_PLACEHOLDER = "placeholder" in inspect.signature(st.dataframe).parameters


def show_table(frame: pd.DataFrame, columns: dict[str, str] | list[str] | None = None, *, key: str | None = None,
               column_config: dict | None = None) -> None:
    """A table with human column labels, dates as text and missing values as an em dash (never None/NaN/NaT)."""
    shown = formatting.display_frame(frame, columns)
    config_ = {}
    for column in shown.columns:
        series = shown[column]
        if pd.api.types.is_bool_dtype(series):
            config_[column] = st.column_config.CheckboxColumn(column)
        elif pd.api.types.is_numeric_dtype(series):
            # The browser's locale: thousands separators, at most 3 decimals, never scientific notation.
            config_[column] = st.column_config.NumberColumn(column, format="localized")
        elif series.astype(str).str.startswith(("http://", "https://")).any():
            config_[column] = st.column_config.LinkColumn(column)
    config_.update(column_config or {})
    extra = {"placeholder": formatting.MISSING} if _PLACEHOLDER else {}
    if not _PLACEHOLDER:
        shown = shown.astype(object).where(shown.notna(), formatting.MISSING)
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config_, key=key, **extra)


def choice_filter(key: str, label: str, choices: dict[str, str], default: str) -> str:
    """A sidebar radio of a chart extra (e.g. ?period=month), read from and written to the URL."""
    raw = _param(key)
    if raw and raw not in choices:
        st.warning(f"Unknown {label.lower()} '{raw}' in the link; choose one of {', '.join(choices)}.")
    names = list(choices)
    chosen = st.sidebar.radio(label, names, index=names.index(raw if raw in choices else default), format_func=choices.get, key=f"w_{key}")
    st.query_params[key] = chosen
    return chosen
