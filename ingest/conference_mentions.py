"""Conference mentions (embedded, cited): accepted papers per top ML conference and year that
mention PyTorch / TensorFlow in their full text, loaded as source `conference_mentions`.

The file is data/snapshot/conference_mentions.csv (copied unchanged from the project's reference
data); every row keeps its citation. Mentions, not exclusive use: a paper may mention both.
Loaded by `pulse db init` together with the rest of the embedded snapshot.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from pulse.config import display_path
from pulse.errors import PulseError

NAME = "conference_mentions"
FILE = "conference_mentions.csv"
COLUMNS = ("conference", "month", "papers_mentioning_pytorch", "papers_mentioning_tensorflow", "papers_total", "source", "citation")
# metric, framework, CSV column
SERIES = (
    ("conference_papers_mentioning", "pytorch", "papers_mentioning_pytorch"),
    ("conference_papers_mentioning", "tensorflow", "papers_mentioning_tensorflow"),
    ("conference_papers_total", "all", "papers_total"),
)


def read(con: duckdb.DuckDBPyConnection, snapshot_dir: Path) -> pd.DataFrame:
    """The CSV as observation rows: one per conference, month and series, each with its citation."""
    path = snapshot_dir / FILE
    if not path.exists():
        raise PulseError(f"{display_path(path)} is missing from the embedded snapshot.", "Restore it from the project's repository.")
    raw = con.execute("SELECT * FROM read_csv(?, header = true, all_varchar = true)", [str(path)]).df()
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise PulseError(f"{display_path(path)} lacks the columns {', '.join(missing)}.", f"Expected columns: {', '.join(COLUMNS)}.")
    if any(raw[c].isna().any() or (raw[c].str.strip() == "").any() for c in ("source", "citation")):
        raise PulseError(f"{display_path(path)} has rows without a citation.", "Every figure needs its source; fix the file.")
    try:
        dates = pd.to_datetime(raw["month"] + "-01", format="%Y-%m-%d")
    except ValueError as exc:
        raise PulseError(f"{display_path(path)} has a month that is not YYYY-MM: {exc}.", "Fix the month column.") from exc
    parts = []
    for metric, framework, column in SERIES:
        values = pd.to_numeric(raw[column], errors="coerce")
        if values.isna().any():
            bad = raw.loc[values.isna(), "conference"].tolist()
            raise PulseError(f"{display_path(path)}: {column} is not a whole number for {', '.join(bad)}.", "Fix the file.")
        parts.append(pd.DataFrame({
            "source": NAME, "framework": framework, "metric": metric, "variant": raw["conference"], "date": dates.dt.date,
            "value": values.astype(float), "subject": raw["conference"] + " " + raw["month"].str[:4],
            "citation": raw["source"] + " (" + raw["citation"] + ")", "raw_file": display_path(path),
        }))
    return pd.concat(parts, ignore_index=True)
