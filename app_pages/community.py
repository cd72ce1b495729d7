"""Community: Stack Overflow questions per framework tag, per month, quarter or year, and each tag's total."""

import datetime as dt

import streamlit as st

from analytics import adoption, inventory
from analytics.charts import ChartOptions, catalog
from app_pages import _common
from pulse import registry

st.title("Stack Overflow questions")
st.markdown("Questions asked on Stack Overflow under each framework's tags (pulse/frameworks.toml lists them), "
            "per finished month. Questions are a sign of people using a framework and getting stuck, not a head count.")
con = _common.connection()
if not inventory.has_metrics(con, ("so_",)):
    _common.empty_state("Stack Overflow questions per framework",
                        "This page will chart the questions asked under each framework's tags per month, quarter or "
                        "year, as counts, shares or an index, and each tag's all-time question count.",
                        "run `pulse ingest stackoverflow` (300 requests a day without STACKEXCHANGE_KEY: the first "
                        "back-fill takes a few runs and resumes by itself).", ("so_",), key="community_empty")
    st.stop()
frameworks = _common.framework_filter(choices=[f for f in registry.ids() if registry.get(f).stackoverflow])
status = adoption.questions_status(con)
if status.empty:
    first = last = dt.date.today().replace(day=1)
else:
    first, last = (dt.date.fromisoformat(status[c].agg(fn) + "-01") for c, fn in (("first_month", "min"), ("last_month", "max")))
start, end = _common.date_range_filter(first, last)
view = _common.view_filter(views=adoption.VIEWS)
log = _common.log_filter()
period = _common.choice_filter("period", "Per", adoption.QUESTION_PERIODS, "month")
options = ChartOptions(frameworks=frameworks, start=start, end=end, view=view, log=log, theme=_common.theme(), extra={"period": period})
_common.show_chart(catalog()["so-questions"].builder(con, options), key="so_questions", options=options, chart="so-questions")

st.subheader("Questions per tag, all time")
totals = adoption.tag_totals(con, frameworks)
if totals.empty:
    st.info("No tag totals yet: the next `pulse ingest stackoverflow` stores them.")
else:
    _common.show_table(totals, {"name": "Framework", "tag": "Tag", "questions": "Questions", "as_of": "As of", "citation": "Citation"},
                       key="community_totals")
st.caption("Method: a question with two framework tags counts for each; deleted questions are not counted; "
           "keras questions include many about tf.keras (TensorFlow's Keras).")

st.subheader("Data behind this page")
_common.show_table(status, {"framework": "Framework", "tag": "Tag", "months": "Months", "first_month": "First month",
                            "last_month": "Last month", "retrieved": "Retrieved (UTC)"}, key="community_status")
