"""Downloads: PyPI downloads per framework (its packages summed), per day, week or month."""

import datetime as dt

import pandas as pd
import streamlit as st

from analytics import adoption
from analytics.charts import ChartOptions, catalog
from app_pages import _common
from pulse import registry

st.title("PyPI downloads")
st.markdown("Installs from PyPI of each framework's packages (pulse/frameworks.toml lists them: torch; tensorflow and "
            "tensorflow-cpu; jax; keras; ...), summed per period. Downloads count installs, not users.")
con = _common.connection()
frameworks = _common.framework_filter(choices=[f for f in registry.ids() if registry.get(f).pypi])
status = adoption.downloads_status(con)
if status.empty:
    st.info("No PyPI downloads yet. Run `pulse ingest pypi` (pypistats.org for the last 180 days, ClickPy for history since 2016).")
    st.stop()
start, end = _common.date_range_filter(pd.Timestamp(status["first_day"].min()).date(), pd.Timestamp(status["last_day"].max()).date())
view = _common.view_filter(views=adoption.VIEWS)
log = _common.log_filter()
period = st.sidebar.radio("Per", list(adoption.DOWNLOAD_PERIODS), index=2, format_func=adoption.DOWNLOAD_PERIODS.get, key="downloads_period")
source = st.sidebar.selectbox("Download counts from", list(adoption.DOWNLOAD_SOURCES), format_func=adoption.DOWNLOAD_SOURCES.get,
                              key="downloads_source")
options = ChartOptions(frameworks=frameworks, start=start, end=end, view=view, log=log, theme=_common.theme(),
                       extra={"period": period, "source": source})
_common.show_chart(catalog()["pypi-downloads"].builder(con, options), key="pypi_downloads", options=options, chart="pypi-downloads")

st.subheader("Method breaks")
for line in adoption.DOWNLOAD_BREAKS:
    st.markdown(f"- {line}")
st.caption("pypistats.org counts downloads without mirrors; ClickPy counts every download in PyPI's log. "
           "They are stored apart (source pypistats / clickpy) and never added together.")

st.subheader("Data behind this page")
st.dataframe(status, hide_index=True, width="stretch", key="downloads_status",
             column_config={"days": st.column_config.NumberColumn("Days", format="%,d"), "first_day": "From", "last_day": "To",
                            "retrieved": "Retrieved (UTC)"})
