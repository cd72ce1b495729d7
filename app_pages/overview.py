"""Overview: where each framework stands today, per source, with as-of dates."""

import streamlit as st

from analytics import overview
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
_common.show_chart(result, key="overview_stars")

tables = overview.headline_tables(con, frameworks)
if not tables:
    st.info("No data yet. Run `pulse db init` or an ingest (see the Data page).")
for metric, label, shown in tables:
    st.subheader(label)
    cols = st.columns(max(1, min(4, len(shown))))
    for col, row in zip(cols, shown.head(4).itertuples(index=False), strict=False):
        value = f"{row.value:.1%}" if "share" in metric else f"{row.value:,.0f}"
        share = f"{row.share:.1%} of the current ones listed" if row.current else "older figure, not in the share"
        col.metric(row.name, value, help=f"{share} · as of {row.date.date()} · source: {row.source}")
    table = shown.assign(date=shown["date"].dt.date)[["name", "value", "share", "date", "source", "citation"]]
    st.dataframe(
        table, hide_index=True, width="stretch",
        column_config={
            "name": "Framework", "value": st.column_config.NumberColumn("Value", format="%,.4g" if "share" in metric else "%,d"),
            "share": st.column_config.NumberColumn("Share of listed", format="percent"),
            "date": "As of", "source": "Source", "citation": st.column_config.LinkColumn("Citation"),
        },
        key=f"overview_table_{metric}",
    )
