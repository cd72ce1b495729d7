"""analytics.formatting: how every number, date and column name reads (tables, cards, hovers, exports)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from analytics import formatting as f

NAT = pd.NaT


@pytest.mark.parametrize("func,value,expected", [
    (f.number, 1234567.8, "1,234,568"),
    (f.number, 1.2e6, "1,200,000"),  # never 1.2e+06
    (f.number, -0.4, "0"),  # no "-0"
    (f.number, None, "—"),
    (f.number, float("nan"), "—"),
    (f.number, np.int64(56400), "56,400"),
    (f.significant, 2161698.0, "2,161,698"),
    (f.significant, 0.000123, "0.000123"),
    (f.significant, 2.93333, "2.93"),
    (f.significant, 165000, "165,000"),
    (f.compact, 200000, "200k"),
    (f.compact, 1.2e6, "1.2M"),
    (f.compact, 3.4e9, "3.4B"),
    (f.compact, 950, "950"),
    (f.percent, 0.5432, "54.3%"),
    (f.percent, None, "—"),
    (f.ratio, 1.93, "1.93x"),
    (f.date, pd.Timestamp("2024-04-01"), "2024-04-01"),
    (f.date, dt.date(2024, 4, 1), "2024-04-01"),
    (f.date, "2024-04-01T00:00:00", "2024-04-01"),
    (f.date, NAT, "—"),
    (f.as_of, pd.Timestamp("2024-04-01"), "as of 2024-04-01"),
    (f.as_of, None, "date unknown"),
    (f.timestamp, pd.Timestamp("2026-12-04 15:41:11"), "2026-12-04 15:41 UTC"),
    (f.timestamp, NAT, "—"),
    (f.text, None, "—"),
    (f.text, NAT, "—"),
    (f.text, float("nan"), "—"),
    (f.text, "", "—"),
    (f.text, 1.2e6, "1,200,000"),
    (f.text, 0.125, "0.125"),
    (f.text, True, "yes"),
    (f.text, pd.Timestamp("2024-04-01"), "2024-04-01"),
    (f.text, pd.Timestamp("2024-04-01 10:30"), "2024-04-01 10:30 UTC"),
    (f.text, ["a", None], "a, —"),
    (f.label, "first_date", "First date"),
    (f.label, "tokens_per_s", "Tokens/s"),
    (f.label, "step_ms_median", "Step ms median"),
    (f.label, "latest run (UTC)", "Latest run (UTC)"),
    (f.label, "source_label", "Source"),
])
def test_formats(func, value, expected):
    assert func(value) == expected


def test_display_frame_keeps_numbers_numeric_and_turns_the_rest_into_text():
    frame = pd.DataFrame({
        "framework": ["pytorch", None], "value": [1234.0, math.nan], "date": [pd.Timestamp("2024-04-01"), NAT],
        "frameworks": [["jax", "keras"], []],
    })
    shown = f.display_frame(frame)
    assert list(shown.columns) == ["Framework", "Value", "Date", "Frameworks"]
    assert shown["Framework"].tolist() == ["pytorch", "—"]
    assert pd.api.types.is_float_dtype(shown["Value"])  # sorts as numbers; the table's placeholder shows the dash
    assert shown["Date"].tolist() == ["2024-04-01", "—"]
    assert shown["Frameworks"].tolist() == ["jax, keras", "—"]
    picked = f.display_frame(frame, {"value": "Stars", "missing": "Ignored"})
    assert list(picked.columns) == ["Stars"]


def test_module_is_below_the_ui():
    import subprocess
    import sys

    from pulse import config

    code = "import analytics.formatting, sys; assert 'streamlit' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=config.PROJECT_ROOT).returncode == 0
