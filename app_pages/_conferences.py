"""The conference-mentions section of the Papers page (embedded, cited data: always present)."""

import streamlit as st

from analytics import conferences
from analytics.charts import ChartOptions
from app_pages._common import show_chart, theme


def show(con) -> None:
    """Share of accepted papers mentioning PyTorch / TensorFlow, per conference, with a conference selector."""
    if not conferences.has_data(con):
        return
    names = ["all"] + conferences.conferences(con)
    wanted = st.query_params.get("conference", "all")
    chosen = st.sidebar.selectbox("Conference (mentions chart)", names, index=names.index(wanted) if wanted in names else 0,
                                  format_func=lambda c: "All conferences (one panel each)" if c == "all" else c,
                                  key="papers_conference")
    st.query_params["conference"] = chosen
    options = ChartOptions(theme=theme(), extra={"conference": chosen})
    show_chart(conferences.mentions_chart(con, options), key="papers_conferences", options=options, chart="conference-mentions")
