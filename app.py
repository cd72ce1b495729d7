"""Framework Pulse dashboard: a router only. Pages live in app_pages/."""

import streamlit as st

st.set_page_config(page_title="Framework Pulse", page_icon=":bar_chart:", layout="wide")

PAGES = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True),
    st.Page("app_pages/github.py", title="GitHub", icon=":material/star:", url_path="github"),
    st.Page("app_pages/trends.py", title="Trends", icon=":material/trending_up:", url_path="trends"),
    st.Page("app_pages/papers.py", title="Papers", icon=":material/article:", url_path="papers"),
    st.Page("app_pages/hub.py", title="Hugging Face Hub", icon=":material/hub:", url_path="hub"),
    st.Page("app_pages/downloads.py", title="Downloads", icon=":material/download:", url_path="downloads"),
    st.Page("app_pages/community.py", title="Community", icon=":material/forum:", url_path="community"),
    st.Page("app_pages/probe.py", title="Probe", icon=":material/speed:", url_path="probe"),
    st.Page("app_pages/claims.py", title="Claims", icon=":material/fact_check:", url_path="claims"),
    st.Page("app_pages/data.py", title="Data", icon=":material/database:", url_path="data"),
]

st.sidebar.markdown("**Framework Pulse** · which framework, by the numbers")
st.navigation(PAGES).run()
