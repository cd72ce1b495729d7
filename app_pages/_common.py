"""Shared page plumbing: the database connection, URL-backed filters, and chart display.

Pages import from here and stay thin: read widgets, call analytics, draw.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import pandas as pd
import streamlit as st

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


def show_chart(result: ChartResult, key: str, options: ChartOptions | None = None, chart: str | None = None) -> None:
    """Draw a catalogued chart with its provenance under it and its downloads.

    options default to the view in the URL; chart (the catalogue name) defaults to key when key is one.
    """
    st.plotly_chart(result.figure, width="stretch", key=f"chart_{key}")
    st.caption(" · ".join(result.provenance_lines()))
    if chart is None and key in catalog():
        chart = key
    show_downloads(result, key, options or view_options(), chart)


def show_provenance_table(frame: pd.DataFrame) -> None:
    st.dataframe(frame, hide_index=True, width="stretch")
