"""Downloads: PyPI downloads per framework (its packages summed), per day, week or month."""

import pandas as pd
import streamlit as st

from analytics import adoption, inventory
from analytics.charts import ChartOptions, catalog
from app_pages import _common
from pulse import registry

st.title("PyPI downloads")
st.markdown("Installs from PyPI of each framework's packages (pulse/frameworks.toml lists them: torch; tensorflow and "
            "tensorflow-cpu; jax; keras; ...), summed per period. Downloads count installs, not users.")
con = _common.connection()
if not inventory.has_metrics(con, ("pypi_",)):
    _common.empty_state("PyPI downloads per framework",
                        "This page will chart each framework's PyPI downloads per day, week or month, as counts, shares "
                        "or an index, with the method breaks (download definition change 2026-08-24, CI installs, keras "
                        "installed with TensorFlow) marked.",
                        "run `pulse ingest pypi` (pypistats.org for the last 180 days, ClickPy for history since 2016).",
                        ("pypi_",), key="downloads_empty")
    st.stop()
frameworks = _common.framework_filter(choices=[f for f in registry.ids() if registry.get(f).pypi])
status = adoption.downloads_status(con)
start, end = _common.date_range_filter(pd.Timestamp(status["first_day"].min()).date(), pd.Timestamp(status["last_day"].max()).date())
view = _common.view_filter(views=adoption.VIEWS)
log = _common.log_filter()
period = _common.choice_filter("period", "Per", adoption.DOWNLOAD_PERIODS, "month")
source = _common.choice_filter("source", "Download counts from", adoption.DOWNLOAD_SOURCES, "best")
options = ChartOptions(frameworks=frameworks, start=start, end=end, view=view, log=log, theme=_common.theme(),
                       extra={"period": period, "source": source})
_common.show_chart(catalog()["pypi-downloads"].builder(con, options), key="pypi_downloads", options=options, chart="pypi-downloads")

st.subheader("Method breaks")
for line in adoption.DOWNLOAD_BREAKS:
    st.markdown(f"- {line}")
st.caption("pypistats.org counts downloads without mirrors; ClickPy counts every download in PyPI's log. "
           "They are stored apart (source pypistats / clickpy) and never added together.")

st.subheader("Data behind this page")
_common.show_table(status, {"framework": "Framework", "package": "Package", "source": "Source", "days": "Days",
                            "first_day": "First day", "last_day": "Last day", "retrieved": "Retrieved (UTC)"}, key="downloads_status")
