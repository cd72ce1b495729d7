"""Data: every stored series with its source, citation, row count, dates and last ingest."""

import streamlit as st

from analytics import inventory
from app_pages import _common
from app_pages._freshness import render_freshness
from pulse import db

st.title("Data and provenance")
st.markdown("Every number on this dashboard comes from one of these series. Snapshot figures keep their citation.")
con = _common.connection()
st.caption(f"Database: `{db.describe(_common.db_path())}`")

render_freshness(con)

series = inventory.series_summary(con)
st.subheader("Series")
_common.show_table(series, ["source", "metric", "variant", "framework", "rows", "first_date", "last_date", "retrieved_at",
                            "citations", "n_citations", "last_ingest"], key="data_series")

st.subheader("Recent ingest runs")
runs = inventory.last_runs(con)
if runs.empty:
    st.caption("No ingest has run yet.")
else:
    _common.show_table(runs, key="data_runs")
