"""The conference-mentions small multiples, built from the real embedded snapshot (snapshot_db fixture)."""

from __future__ import annotations

import pandas as pd

from analytics import conferences, export
from analytics.charts import ChartOptions
from tests.export_helpers import con  # noqa: F401  (shared fixture)


def test_every_panel_labels_the_years_it_plots(con):
    """A shared two-year tick grid left ECCV (one edition) and NAACL (2018, 2019) with no year on their axis."""
    result = export.build("conference-mentions", con, ChartOptions(frameworks=["pytorch", "tensorflow"]))
    frame = conferences.mentions(con)
    layout = result.figure.layout
    titles = [a.text for a in layout.annotations][: frame["conference"].nunique()]
    assert {"ECCV", "NAACL"} <= set(titles)
    for i, name in enumerate(titles):
        axis = layout[f"xaxis{i + 1 if i else ''}"]
        years = {str(d.year) for d in pd.to_datetime(frame.loc[frame["conference"] == name, "date"])}
        labels = list(axis.ticktext or [])
        assert labels and 1 <= len(labels) <= 3, (name, labels)
        assert set(labels) <= years and max(years) in labels, (name, labels, years)
