"""Freshness panel for the Data page: is each source up to date, and if not, why not."""

from __future__ import annotations

import os

import duckdb
import pandas as pd
import streamlit as st

from analytics import formatting, freshness
from app_pages import _common

STATE_LABELS = {"ok": "OK", "stale": "Stale", "failing": "Failing", "never": "Never succeeded", freshness.NOT_SET_UP: "Not set up"}


@st.cache_resource(ttl=600)
def _sources(extra: str) -> dict:
    # Importing the source modules is the only way to learn their cadences; do it rarely.
    # Keyed on PULSE_EXTRA_SOURCES, the one setting that changes the list.
    from ingest import runner

    return {i.name: (i.description or i.error or "", i.cadence) for i in runner.catalogue()}


def _table(verdicts: list[freshness.SourceFreshness]) -> pd.DataFrame:
    return pd.DataFrame({
        "Source": [v.source for v in verdicts],
        "State": [STATE_LABELS.get(v.state, v.state) for v in verdicts],
        "Expected every": [freshness.describe_cadence(v.cadence_hours) for v in verdicts],
        "Last good run": [formatting.timestamp(v.last_ok_at) if v.last_ok_at else "never" for v in verdicts],
        "Age": [freshness.describe_age(v.age_hours) if v.last_ok_at else formatting.MISSING for v in verdicts],
        "Last run": [v.last_status or "none yet" for v in verdicts],
        "Failures since good run": [v.failures_since_ok for v in verdicts],
        "Last error": [v.last_error or formatting.MISSING for v in verdicts],
        "What it fetches": [v.description for v in verdicts],
    })


def render_freshness(con: duckdb.DuckDBPyConnection) -> None:
    """Draw the per-source freshness table, with an alert for each failing or stale source."""
    st.subheader("Freshness")
    verdicts = freshness.freshness(con, _sources(os.environ.get("PULSE_EXTRA_SOURCES", "")))
    for v in verdicts:
        if v.failing:
            st.error(f"**{v.source}** is failing: its latest run ({v.last_error_at:%Y-%m-%d %H:%M} UTC) failed: {v.last_error}")
        elif v.state == "never":
            st.warning(f"**{v.source}** has run but never completed a good run. See its last error below, then "
                       f"`pulse ingest --source {v.source}` (docs/operations.md).")
        elif v.stale:
            st.warning(f"**{v.source}** is stale: last good run {freshness.describe_age(v.age_hours)}, expected every {freshness.describe_cadence(v.cadence_hours)}.")
    idle = [v.source for v in verdicts if v.state == freshness.NOT_SET_UP]
    if idle:
        st.caption(f"Not set up yet (never run, nothing wrong): {', '.join(idle)}. "
                   "`pulse ingest --all` runs every source; docs/operations.md schedules it.")
    _common.show_table(_table(verdicts), key="data_freshness_table")
    st.caption(
        f"From the ingest_runs table. Stale: no good run within {freshness.STALE_FACTOR:g} x the expected cadence. "
        "`pulse status` shows the same on the command line (exit code 1 when a source that has run needs attention)."
    )
