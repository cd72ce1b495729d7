"""Checks shared by the page tests: what a reader sees is formatted (labels, dates, dashes, no 1.2e+06)."""

from __future__ import annotations

import re

import pandas as pd

RAW = re.compile(r"\b(None|nan|NaN|NaT)\b|\d\.?\d*e[+-]\d+")


def assert_formatted(at, page: str = "") -> None:
    """Cards, captions, markdown and tables of a run AppTest: human column labels, dates as text,
    missing values as a dash (never None/nan/NaT), no scientific notation; downloads only under charts."""
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [f"{m.label} {m.value}" for m in at.metric]
    raw = [t for t in texts if RAW.search(t)]
    assert not raw, f"{page}: {raw}"
    for table in at.dataframe:
        frame = table.value
        assert table.proto.placeholder == "—" or not frame.isna().any().any(), frame.columns[frame.isna().any()].tolist()
        for column in frame.columns:
            assert "_" not in column and column[:1] == column[:1].upper(), f"{page}: column '{column}'"
            assert not pd.api.types.is_datetime64_any_dtype(frame[column]), f"{page}: raw timestamps in '{column}'"
            if frame[column].dtype == object:
                assert not frame[column].astype(str).str.fullmatch(r"None|nan|NaN|NaT").any(), f"{page}: '{column}'"
    # Download buttons only under drawn charts (five each), never beside an empty-state card.
    # (Catalogued charts are drawn under key "chart_..."; the Claims page's small evidence charts beside
    # each verdict are not catalogue charts and carry no downloads.)
    catalogued = [c for c in at.get("plotly_chart") if (c.key or "").startswith("chart_")]
    assert len(at.get("download_button")) == 5 * len(catalogued), page
    assert sum("no data yet." in m.value for m in at.markdown) <= 1, page
