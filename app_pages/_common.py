"""Shared page plumbing: the database connection, URL-backed filters, and chart display.

Pages import from here and stay thin: read widgets, call analytics, draw.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from analytics.charts import VIEWS, ChartOptions, ChartResult
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

def show_chart(result: ChartResult, key: str) -> None:
    """Draw a catalogued chart with its provenance under it (and its downloads)."""
    st.plotly_chart(result.figure, width="stretch", key=f"chart_{key}")
    st.caption(" · ".join(result.provenance_lines()))


def show_provenance_table(frame: pd.DataFrame) -> None:
    st.dataframe(frame, hide_index=True, width="stretch")
