"""Claims: every claim in the ledger beside what the data says today."""

import pandas as pd
import streamlit as st

from analytics import claims, formatting
from app_pages import _common

STATUS_ICON = {
    claims.SUPPORTED: ":material/check_circle:",
    claims.CONTRADICTED: ":material/cancel:",
    claims.PARTLY: ":material/adjust:",
    claims.OUTDATED: ":material/history:",
    claims.NOT_CHECKABLE: ":material/help:",
}

st.title("Claims vs data")
st.markdown("Each claim the articles make, the figure they quote, and what the stored data says, with the date it is measured at.")


@st.cache_data(ttl=600, show_spinner="Checking the claims against the stored data...")
def check_all(version) -> pd.DataFrame:
    """Every verdict; recomputed only when the database file changes (version) or after 10 minutes."""
    return claims.check_all(_common.connection())


verdicts = check_all(_common.data_version())

counts = verdicts["status"].value_counts()
cols = st.columns(len(STATUS_ICON))
for col, status in zip(cols, STATUS_ICON, strict=True):
    col.metric(status.capitalize(), int(counts.get(status, 0)))

status_filter = st.multiselect("Show", list(STATUS_ICON), default=list(STATUS_ICON), key="claims_status")
for row in verdicts[verdicts["status"].isin(status_filter)].itertuples(index=False):
    with st.container(border=True):
        st.markdown(f"{STATUS_ICON.get(row.status, '')} **{row.status.capitalize()}** · _{row.claim}_")
        quoted = formatting.significant(row.value, 6) + (f" {row.unit}" if not formatting.is_missing(row.unit) else "") \
            if not formatting.is_missing(row.value) else "qualitative"
        st.caption(f"Claimed by: {row.source} ({'undated' if formatting.is_missing(row.source_date) else formatting.text(row.source_date)}) · quoted figure: {quoted} · claim id `{row.id}`")
        if row.measured:
            line = f"**Data:** {row.measured}"
            if row.as_of:
                line += f" (as of {row.as_of})"
            st.markdown(line)
        if row.today:
            st.markdown(f"**Today:** {row.today}")
        if row.basis:
            st.caption(f"Checked with: {row.basis}")
