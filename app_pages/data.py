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
st.dataframe(
    series.assign(first_date=series["first_date"].dt.date, last_date=series["last_date"].dt.date),
    hide_index=True, width="stretch",
    column_config={"rows": st.column_config.NumberColumn("Rows", format="%d"), "first_date": "First date", "last_date": "Last date",
                   "citations": "Citation(s)", "n_citations": "Distinct citations", "last_ingest": "Last ingest (UTC)"},
    key="data_series",
)

st.subheader("Recent ingest runs")
runs = inventory.last_runs(con)
if runs.empty:
    st.info("No ingest has run yet.")
else:
    st.dataframe(runs, hide_index=True, width="stretch", key="data_runs")
