"""Overview: where each framework stands today, per source, with as-of dates."""

import streamlit as st

from analytics import formatting, overview
from analytics.charts import ChartOptions, catalog
from app_pages import _common

st.title("Framework Pulse")
st.markdown(
    "PyTorch, TensorFlow, JAX or Keras? The numbers articles quote, measured and kept fresh. "
    "Every figure below names its source and the date it is measured at."
)
con = _common.connection()
frameworks = _common.framework_filter()
options = ChartOptions(frameworks=frameworks, theme=_common.theme())
result = catalog()["overview-stars-share"].builder(con, options)
_common.show_chart(result, key="overview_stars", empty={
    "fill": "Run `pulse db init` (the embedded snapshot) or `pulse ingest github`.", "metrics": ("github_",)})

tables = overview.headline_tables(con, frameworks)
for metric, label, shown in tables:
    st.subheader(label)
    share_metric = "share" in metric
    newest = shown["date"].max()
    cols = st.columns(max(1, min(4, len(shown))))
    for col, row in zip(cols, shown.head(4).itertuples(index=False), strict=False):
        value = formatting.percent(row.value) if share_metric else formatting.number(row.value)
        # Hub shares are of distinct framework-tagged models (a model with three tags counts once).
        of = "of framework-tagged models (distinct models)" if metric == "hf_models" else "of the current ones listed"
        share = ((f"{formatting.percent(row.share)} {of}" if not formatting.is_missing(row.share) else "no share stored")
                 if row.current else "older figure, not in the share")
        older = row.date < newest
        _common.metric(col, row.name, value, note=formatting.as_of(row.date) if older else None,
                       help=f"{share} · {formatting.as_of(row.date)} · source: {row.source}")
    st.caption(f"Latest value per framework, {formatting.as_of(newest)}"
               + (" unless a card says otherwise" if (shown["date"] < newest).any() else "") + ".")
    _common.show_table(
        shown, {"name": "Framework", "value": "Share" if share_metric else "Value", "share": "Share of listed",
                "date": "As of", "source": "Source", "citation": "Citation"},
        key=f"overview_table_{metric}",
        column_config={"Share of listed": st.column_config.NumberColumn("Share of listed", format="percent"),
                       **({"Share": st.column_config.NumberColumn("Share", format="percent")} if share_metric else {})},
    )
