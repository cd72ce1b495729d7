"""Community: Stack Overflow questions per framework tag, per month, quarter or year, and each tag's total."""

import datetime as dt

import streamlit as st

from analytics import adoption
from analytics.charts import ChartOptions, catalog
from app_pages import _common
from pulse import registry

st.title("Stack Overflow questions")
st.markdown("Questions asked on Stack Overflow under each framework's tags (pulse/frameworks.toml lists them), "
            "per finished month. Questions are a sign of people using a framework and getting stuck, not a head count.")
con = _common.connection()
frameworks = _common.framework_filter(choices=[f for f in registry.ids() if registry.get(f).stackoverflow])
status = adoption.questions_status(con)
if status.empty:
    st.info("No Stack Overflow counts yet. Run `pulse ingest stackoverflow` (300 requests a day without STACKEXCHANGE_KEY: "
            "the first back-fill takes a few runs and resumes by itself).")
    st.stop()
first, last = status["first_month"].min(), status["last_month"].max()
start, end = _common.date_range_filter(dt.date.fromisoformat(first + "-01"), dt.date.fromisoformat(last + "-01"))
view = _common.view_filter(views=adoption.VIEWS)
log = _common.log_filter()
period = st.sidebar.radio("Per", list(adoption.QUESTION_PERIODS), format_func=adoption.QUESTION_PERIODS.get, key="community_period")
options = ChartOptions(frameworks=frameworks, start=start, end=end, view=view, log=log, theme=_common.theme(), extra={"period": period})
_common.show_chart(catalog()["so-questions"].builder(con, options), key="so_questions", options=options, chart="so-questions")

st.subheader("Questions per tag, all time")
totals = adoption.tag_totals(con, frameworks)
if totals.empty:
    st.info("No tag totals yet: the next `pulse ingest stackoverflow` stores them.")
else:
    st.dataframe(totals[["name", "tag", "questions", "as_of", "citation"]], hide_index=True, width="stretch", key="community_totals",
                 column_config={"name": "Framework", "questions": st.column_config.NumberColumn("Questions", format="%,d"),
                                "as_of": "As of", "citation": st.column_config.LinkColumn("Citation")})
st.caption("Method: a question with two framework tags counts for each; deleted questions are not counted; "
           "keras questions include many about tf.keras (TensorFlow's Keras).")

st.subheader("Data behind this page")
st.dataframe(status, hide_index=True, width="stretch", key="community_status")
