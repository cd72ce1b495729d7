"""Hugging Face Hub page: models per framework over time, shares, and the Hub claims checked."""

import datetime as dt

import streamlit as st

from analytics import huggingface as hub
from analytics import inventory
from analytics.charts import CHARTS, ChartOptions, catalog
from app_pages._common import (connection, date_range_filter, empty_state, framework_filter, log_filter, show_chart, show_table, theme,
                               view_filter)

st.title("Hugging Face Hub")
st.caption("Models on the Hub carrying each framework's weight tags (pytorch, tf, jax, keras, ...), by creation month. "
           "Repositories older than 2022-03-02 share one placeholder creation time: they form one labelled bucket.")

con = connection()
catalog()
if not inventory.has_metrics(con, ("hf_",)):
    empty_state("Hugging Face Hub models per framework",
                "This page will chart the models on the Hub per framework tag over time, each framework's share, and "
                "the share of TensorFlow/Keras models also available for PyTorch.",
                "run `pulse ingest huggingface` (API crawl, resumable), or `pulse ingest huggingface --hub-stats "
                "models.parquet` for a whole-Hub snapshot without API calls.", ("hf_",), key="hub_empty")
    st.stop()
frameworks = framework_filter(key="frameworks", choices=hub.hub_frameworks())
start, end = date_range_filter(dt.date(2022, 1, 1), dt.date.today())
view = view_filter(views=hub.VIEWS)
log = log_filter()
base = st.sidebar.radio("Share base", list(hub.SHARE_BASES), format_func=hub.SHARE_BASES.get, key="hub_share_base")
source = st.sidebar.selectbox("Hub data source", list(hub.SOURCE_CHOICES), format_func=hub.SOURCE_CHOICES.get, key="hub_source")
options = ChartOptions(frameworks=frameworks, start=start, end=end, view=view, log=log, theme=theme(),
                       extra={"base": base, "source": source})

st.subheader("What the articles said, checked")
verdicts = hub.hub_verdicts(con)
if not verdicts:
    st.info("The claims ledger is empty: run `pulse db init`.")
for column, (claim, verdict) in zip(st.columns(max(len(verdicts), 1)), verdicts, strict=False):
    with column:
        shown = "—" if verdict.value is None else (f"{verdict.value:.0%}" if verdict.value <= 1 else f"{verdict.value:,.0f}")
        st.metric(claim["claim"][:70] + ("…" if len(claim["claim"]) > 70 else ""), shown, help=claim["claim"])
        st.markdown(f"**{verdict.status}** · {verdict.measured}")
        if verdict.as_of:
            st.caption(f"As of {verdict.as_of}" + (f" · today: {verdict.today}" if verdict.today else "")
                       + f" · {verdict.basis} · claim: {claim['source']}, {claim['source_date'] or 'undated'}")

BASIS = {
    "hf-models": "Basis: weight tags; PyTorch = the `pytorch` tag (`hf_models`, variant ''), which most models uploaded "
                 "since 2023 lack. Stored beside it: PyTorch-loadable (`transformers` + `safetensors`, no TF/Flax-only "
                 "weights; variant `pytorch-loadable`) and the two together (variant `pytorch-tag-or-loadable`); see docs/metrics.md.",
    "hf-share": "Basis: weight tags only (`pytorch`, `tf`, `jax`, `keras`, ...); a PyTorch-loadable model without the `pytorch` tag is not in PyTorch's share.",
    "hf-tf-keras-also-pytorch": "Basis: a model tagged `tf` or `keras` that also carries the `pytorch` tag (variant ''). "
                                "Counting PyTorch-loadable models too is stored as variant `pytorch-tag-or-loadable`.",
}
for name, basis in BASIS.items():
    if show_chart(CHARTS[name].builder(con, options), key=name.replace("-", "_"), chart=name):
        st.caption(basis)

with st.expander("Data behind this page"):
    status = hub.data_status(con)
    if status.empty:
        st.info("No Hugging Face data yet. Run `pulse ingest huggingface` (API, resumable) "
                "or `pulse ingest huggingface --hub-stats models.parquet` (whole-Hub snapshot).")
    else:
        show_table(status, key="hub_status")
        st.caption("A framework's API counts appear once every one of its tags' crawls is complete.")

libraries = CHARTS["hf-libraries"].builder(con, options)
if libraries.has_data:
    show_chart(libraries, key="hub_libraries", chart="hf-libraries")
