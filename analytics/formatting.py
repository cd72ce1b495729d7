"""How numbers, dates and column names read everywhere: tables, cards, hovers, exports, reports.

Pure functions (no Streamlit) so the pages, the CLI, the exports and the claims engine all
write figures the same way: thousands separators, no scientific notation, an em dash for a
missing value (never None, nan or NaT), and dates that say what they are ("as of 2024-04-01").
"""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd

MISSING = "—"

# Column names used across the analytics frames, as people read them.
COLUMN_LABELS: dict[str, str] = {
    "framework": "Framework",
    "name": "Framework",
    "source": "Source",
    "source_label": "Source",
    "metric": "Metric",
    "variant": "Variant",
    "subject": "Repository",
    "value": "Value",
    "share": "Share",
    "date": "Date",
    "as_of": "As of",
    "first_date": "First date",
    "last_date": "Last date",
    "retrieved_at": "Retrieved (UTC)",
    "last_ingest": "Last ingest (UTC)",
    "started_at": "Started (UTC)",
    "finished_at": "Finished (UTC)",
    "citation": "Citation",
    "citations": "Citation(s)",
    "n_citations": "Distinct citations",
    "rows": "Rows",
    "points": "Points",
    "requests": "Requests",
    "status": "Status",
    "error": "Error",
    "reason": "Reason",
    "mode": "Mode",
    "precision": "Precision",
    "device": "Device",
    "run_id": "Run",
    "repo_url": "Repository",
    "papers": "Papers",
    "official": "Official",
    "label": "Request",
    "frameworks": "Frameworks",
    "tokens_per_s": "Tokens/s",
    "count": "Count",
    "models": "Models",
    "tag": "Tag",
    "complete": "Complete",
}
# Words kept in their usual capitalisation when a label is built from a column name.
_WORDS = {"id": "id", "url": "URL", "utc": "UTC", "mfu": "MFU", "hf": "HF", "pwc": "PwC", "api": "API", "iqr": "IQR",
          "ms": "ms", "s": "s", "tf": "TF"}


def is_missing(value) -> bool:
    """True for None, NaN, NaT and pandas' NA."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: not a scalar missing value
        return False


def label(column: str) -> str:
    """A human column label: 'first_date' -> 'First date', 'tokens_per_s' -> 'Tokens/s'."""
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    if "_" not in str(column):  # already words ('latest run (UTC)', 'pytorch eager fp32'): capitalise only
        return str(column)[:1].upper() + str(column)[1:]
    words = [w for w in re.split(r"[_\s]+", str(column)) if w]
    if not words:
        return str(column)
    out = [_WORDS.get(w.lower(), w.lower()) for w in words]
    first = out[0]
    out[0] = first if first in _WORDS.values() and first.lower() != first else first[:1].upper() + first[1:]
    return " ".join(out)


def number(value, decimals: int = 0, unit: str = "") -> str:
    """'1,234,567' (never '1.2e+06'); decimals fixed; unit appended after a space; missing -> em dash."""
    if is_missing(value):
        return MISSING
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    text = f"{x:,.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    return f"{text} {unit}" if unit else text


def significant(value, digits: int = 3) -> str:
    """A number with about `digits` significant digits, never in scientific notation: 0.0123, 2.93, 1,235."""
    if is_missing(value):
        return MISSING
    x = float(value)
    if x == 0 or math.isinf(x):
        return number(x)
    magnitude = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - magnitude)
    text = number(x, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text


def compact(value) -> str:
    """Short form for axes and cards: 950, 12.3k, 1.2M, 3.4B (never scientific notation)."""
    if is_missing(value):
        return MISSING
    x = float(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= threshold:
            return significant(x / threshold, 3) + suffix
    return significant(x, 3)


def percent(value, decimals: int = 1) -> str:
    """A share 0..1 as '12.3%'; missing -> em dash."""
    if is_missing(value):
        return MISSING
    return f"{float(value) * 100:,.{decimals}f}%"


def ratio(value, decimals: int = 2) -> str:
    """'2.93x'."""
    if is_missing(value):
        return MISSING
    return f"{float(value):,.{decimals}f}x"


def date(value) -> str:
    """ISO date 'YYYY-MM-DD' for a date, datetime, Timestamp or ISO string; missing -> em dash."""
    if is_missing(value):
        return MISSING
    if isinstance(value, str):
        return value[:10] if re.match(r"\d{4}-\d{2}-\d{2}", value) else value
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def month(value) -> str:
    """'YYYY-MM'."""
    text = date(value)
    return text[:7] if re.match(r"\d{4}-\d{2}", text) else text


def timestamp(value) -> str:
    """'YYYY-MM-DD HH:MM UTC' for stored (naive UTC) times; missing -> em dash."""
    if is_missing(value):
        return MISSING
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.strftime("%Y-%m-%d %H:%M") + " UTC"


def as_of(value) -> str:
    """'as of 2024-04-01' (or 'date unknown')."""
    return "date unknown" if is_missing(value) else f"as of {date(value)}"


def text(value) -> str:
    """Any cell as text: missing -> em dash; floats without scientific notation."""
    if is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return significant(value, 6) if not float(value).is_integer() else number(value)
    if isinstance(value, int):
        return number(value)
    if isinstance(value, (dt.datetime, pd.Timestamp)):
        stamp = pd.Timestamp(value)
        return date(stamp) if stamp == stamp.normalize() else timestamp(stamp)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(text(v) for v in value) or MISSING
    value = str(value)
    return value if value.strip() else MISSING


def display_frame(frame: pd.DataFrame, columns: dict[str, str] | list[str] | None = None) -> pd.DataFrame:
    """A table ready to show: chosen columns in order with human labels, dates as text, no NaT.

    Numeric columns stay numeric (so a table still sorts by value); their missing cells are left
    to the table widget's placeholder. Datetime, list and object columns become text.
    """
    if columns is None:
        columns = {c: label(c) for c in frame.columns}
    elif isinstance(columns, list):
        columns = {c: label(c) for c in columns}
    out = pd.DataFrame(index=frame.index)
    for column, title in columns.items():
        if column not in frame.columns:
            continue
        series = frame[column]
        if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
            out[title] = series
        elif pd.api.types.is_datetime64_any_dtype(series):
            out[title] = series.map(text)
        else:
            out[title] = series.map(text)
    return out.reset_index(drop=True)


def plotly_number_format(values) -> str:
    """A d3 format for hovers: ',.0f' for counts, ',.1f' below 100, ',.3g'-free (no 'e' notation)."""
    try:
        largest = max(abs(float(v)) for v in values if not is_missing(v))
    except ValueError:
        return ",.0f"
    if largest >= 100:
        return ",.0f"
    if largest >= 1:
        return ",.2f"
    return ",.3f"
