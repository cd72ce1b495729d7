"""GitHub: stars over time for the chosen frameworks, with views, range and log scale in the URL."""

import streamlit as st

from analytics import github
from analytics.charts import ChartOptions, catalog
from app_pages import _common

st.title("GitHub stars")
st.markdown("Stars are a popularity signal, not usage. Gaps are real: the snapshot only has a repository while it ranks.")
con = _common.connection()
frameworks = _common.framework_filter()
bounds = github.date_bounds(con)
if bounds is None:
    st.info("No GitHub data yet. Run `pulse db init` or `pulse ingest github`.")
    st.stop()
start, end = _common.date_range_filter(*bounds)
view = _common.view_filter()
log = _common.log_filter()
options = ChartOptions(frameworks=frameworks, start=start, end=end, view=view, log=log, theme=_common.theme())
result = catalog()["github-stars"].builder(con, options)
_common.show_chart(result, key="github_stars")

st.subheader("Latest counts")
latest = github.latest_counts(con)
latest = latest[latest["framework"].isin(frameworks)]
st.dataframe(
    latest.assign(date=latest["date"].dt.date)[["framework", "value", "date", "source", "subject", "citation"]],
    hide_index=True, width="stretch",
    column_config={"value": st.column_config.NumberColumn("Stars", format="%,d"), "date": "As of", "subject": "Repository",
                   "citation": st.column_config.LinkColumn("Citation")},
    key="github_latest",
)
