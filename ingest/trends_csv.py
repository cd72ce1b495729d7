"""Google Trends 'Interest over time' CSV files saved from the web UI, stored as `trends_interest`.

The route for when Google refuses pytrends (HTTP 429). File shape (SOURCES.md): line 1
`Category: All categories`, a blank line, a header `Week,PyTorch: (Worldwide),...` (first
column Day, Week, Month or Time), then rows `2021-11-21,43,57` with integers 0-100 or `<1`.
Terms and region come from the header; terms map to framework ids through the registry.
Every file is checked before anything is written: one bad file and nothing is stored.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ingest import trends_scale, trends_store
from pulse import config, db, registry, store
from pulse.errors import SourceError

NAME = "trends_csv"
DESCRIPTION = "Google Trends 'Interest over time' CSV files downloaded from the web UI"
MAX_BYTES = 5 * 1024 * 1024  # a 5-year daily export of 5 terms is ~100 KB
FIRST_COLUMNS = {"day": "day", "week": "week", "month": "month", "time": None}
HEADER = re.compile(r"^(?P<term>.+?): \((?P<geo>[^()]+)\)$")
HOW_TO = ("Download it from trends.google.com: open Explore, compare up to 5 terms, then use the "
          "download button (arrow) on the 'Interest over time' chart.")

log = logging.getLogger(__name__)


@dataclass
class TrendsFile:
    """One parsed file: plain data, ready to store."""

    name: str
    geo: str  # as in the header: 'Worldwide', 'United States', ...
    granularity: str  # day, week, month
    terms: list[str]
    frameworks: dict[str, str]  # term -> framework id
    values: pd.DataFrame  # index = dates, one column per term (`<1` as 0.5)
    below_one: pd.DataFrame
    category: str = ""
    sha256: str = ""
    data: bytes = field(default=b"", repr=False)

    @property
    def timeframe(self) -> str:
        """Google's custom-range syntax for the file's first and last date."""
        return f"{self.values.index.min().date()} {self.values.index.max().date()}"

    @property
    def geo_key(self) -> str:
        return trends_store.WORLD if self.geo.lower() == "worldwide" else self.geo

    @property
    def variant(self) -> str:
        return trends_store.variant_for(self.geo_key, self.timeframe, list(self.frameworks.values()))


def _fail(name: str, what: str, hint: str = HOW_TO) -> SourceError:
    return SourceError(f"Cannot import {name}: {what}. Nothing was stored.", hint)


def _decode(name: str, data: bytes) -> str:
    if not data.strip():
        raise _fail(name, "the file is empty")
    if len(data) > MAX_BYTES:
        raise _fail(name, f"the file is {len(data) / 1e6:.1f} MB, more than the {MAX_BYTES // (1024 * 1024)} MB a Trends export can be",
                    "Check that this is the 'Interest over time' CSV (multiTimeline.csv).")
    if b"\x00" in data[:4096]:
        raise _fail(name, "it is a binary file, not a CSV")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(name, "it is not UTF-8 text") from None
    start = text.lstrip()[:200].lower()
    if start.startswith(("<!doctype", "<html", "<?xml", "<head", "<body")) or "<html" in start:
        raise _fail(name, "it is a web page (HTML) saved as .csv, not the CSV download")
    return text


def _term_ids(name: str, terms: list[str]) -> dict[str, str]:
    known = registry.by_key("trends")
    mapping, unknown = {}, []
    for term in terms:
        fid = known.get(term.strip().lower())
        if fid is None:
            unknown.append(term)
        else:
            mapping[term] = fid
    if unknown:
        listed = ", ".join(sorted({t for f in registry.frameworks().values() for t in f.trends}))
        raise _fail(name, f"the search term(s) {', '.join(repr(u) for u in unknown)} match no framework",
                    f"Known Trends terms: {listed}. Add a term to a framework's `trends` list in pulse/frameworks.toml to import it.")
    if len(set(mapping.values())) < len(mapping):
        raise _fail(name, "two columns map to the same framework", "Export each framework's term once.")
    return mapping


def _parse_date(value: str) -> pd.Timestamp:
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return pd.Timestamp(text + "-01")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return pd.Timestamp(text)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}(:\d{2})?", text):
        raise ValueError("hourly")
    raise ValueError("date")


def _granularity(index: pd.DatetimeIndex) -> str | None:
    if len(index) < 2:
        return None
    steps = set(pd.Series(index).diff().dropna().dt.days)
    if steps == {1}:
        return "day"
    if steps == {7}:
        return "week"
    if steps <= {28, 29, 30, 31} and all(d.day == 1 for d in index):
        return "month"
    return "mixed"


def parse(name: str, data: bytes) -> TrendsFile:
    """Parse one file's bytes; SourceError saying what is wrong (and storing nothing) otherwise."""
    text = _decode(name, data)
    lines = text.splitlines()
    position = 0
    category = ""
    # Preamble: `Category: ...` and blank lines (older exports have none, newer ones may differ).
    while position < len(lines) and (not lines[position].strip() or lines[position].startswith("Category:")):
        if lines[position].startswith("Category:"):
            category = lines[position].split(":", 1)[1].strip()
        position += 1
    if position >= len(lines):
        raise _fail(name, "it has no header line after the preamble")
    reader = csv.reader(io.StringIO("\n".join(lines[position:])))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise _fail(name, "it has no readable CSV header") from None
    first = header[0].strip().lower() if header else ""
    if first in ("region", "country", "subregion", "metro", "city", "dma", "top", "rising"):
        raise _fail(name, f"it is the '{header[0]}' export (interest by region or related queries), not 'Interest over time'")
    if first not in FIRST_COLUMNS or len(header) < 2:
        shown = ",".join(header)[:120]
        raise _fail(name, f"its header '{shown}' is not a Google Trends 'Interest over time' header "
                    "(expected a first column Day, Week, Month or Time and columns like 'PyTorch: (Worldwide)')")
    terms, geos = [], set()
    for column in header[1:]:
        match = HEADER.match(column.strip())
        if not match:
            raise _fail(name, f"the column '{column}' is not of the form 'Term: (Region)'")
        terms.append(match["term"].strip())
        geos.add(match["geo"].strip())
    if len(geos) > 1:
        raise _fail(name, f"its columns name different regions ({', '.join(sorted(geos))})", "Export one region per file.")
    if len(terms) > trends_scale.MAX_TERMS:
        raise _fail(name, f"it has {len(terms)} terms; a Trends export has at most {trends_scale.MAX_TERMS}")
    frameworks = _term_ids(name, terms)
    dates, values, below = [], [], []
    for line_no, row in enumerate(reader, start=position + 2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise _fail(name, f"line {line_no} has {len(row)} fields, the header has {len(header)}")
        try:
            dates.append(_parse_date(row[0]))
        except ValueError as exc:
            if str(exc) == "hourly":
                raise _fail(name, f"line {line_no} holds hourly data ('{row[0]}'); only daily, weekly or monthly data can be stored",
                            "Export a window of 90 days or more (daily or coarser).") from None
            raise _fail(name, f"line {line_no} starts with '{row[0]}', not a date (YYYY-MM-DD or YYYY-MM)") from None
        cells, flags = [], []
        for cell in row[1:]:
            cell = cell.strip()
            if cell == "<1":
                cells.append(trends_scale.BELOW_ONE)
                flags.append(True)
            elif cell.isdigit() and 0 <= int(cell) <= 100:
                cells.append(float(cell))
                flags.append(False)
            else:
                raise _fail(name, f"line {line_no} has the value '{cell}'; Trends values are integers 0-100 or '<1'")
        values.append(cells)
        below.append(flags)
    if not dates:
        raise _fail(name, "it has a header but no data rows")
    index = pd.DatetimeIndex(dates)
    if index.has_duplicates:
        raise _fail(name, "a date appears twice")
    if not index.is_monotonic_increasing:
        raise _fail(name, "its dates are not in order")
    granularity = _granularity(index)
    expected = FIRST_COLUMNS[first]
    if granularity == "mixed" or (expected and granularity and granularity != expected):
        raise _fail(name, f"its dates mix granularities (first column '{header[0]}', steps between rows vary)"
                    if granularity == "mixed" else f"its first column says '{header[0]}' but rows are {granularity}ly")
    return TrendsFile(
        name=name, geo=geos.pop(), granularity=granularity or expected or "unknown", terms=terms, frameworks=frameworks,
        values=pd.DataFrame(values, index=index, columns=terms), below_one=pd.DataFrame(below, index=index, columns=terms),
        category=category, sha256=hashlib.sha256(data).hexdigest(), data=data,
    )


def read_file(path: Path) -> TrendsFile:
    """Read and parse a file from disk (size checked before reading)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise _fail(path.name, f"the file is {size / 1e6:.1f} MB, more than a Trends export can be",
                        "Check that this is the 'Interest over time' CSV (multiTimeline.csv).")
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceError(f"Cannot import {path}: no such file.", "Check the path.") from None
    except IsADirectoryError:
        raise SourceError(f"Cannot import {path}: it is a directory.", "Pass the CSV file itself.") from None
    return parse(path.name, data)


def keep_raw(parsed: TrendsFile) -> Path:
    """Keep the imported file (named by its hash) so the load can be replayed."""
    folder = config.raw_dir() / NAME
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", parsed.name)[:80] or "trends.csv"
    path = folder / f"{parsed.sha256[:12]}-{safe}"
    if not path.exists():
        path.write_bytes(parsed.data)
    return path


def save(con, parsed: TrendsFile, raw_file: Path, run: store.Run) -> int:
    """Store one file as its own variant (replacing an earlier import of the same request)."""
    detail = {"route": "csv", "geo": parsed.geo_key, "geo_name": parsed.geo, "timeframe": parsed.timeframe,
              "granularity": parsed.granularity, "terms": parsed.terms, "category": parsed.category,
              "file": parsed.name, "sha256": parsed.sha256, "as_of": store.utcnow().date().isoformat()}
    frame = trends_store.rows(
        parsed.values, parsed.below_one, source=NAME, term_ids=parsed.frameworks, variant=parsed.variant,
        citation=trends_store.explore_url(parsed.terms, "" if parsed.geo_key == trends_store.WORLD else parsed.geo, parsed.timeframe)
        + " (CSV download)",
        raw_file=config.display_path(raw_file), detail=detail,
    )
    return trends_store.replace_variant(con, frame, run.run_id)


def store_parsed(db_path: Path, parsed: list[TrendsFile]) -> store.Run:
    """Write already-checked files in one write session (all or nothing)."""
    with store.tracked_run(db_path, NAME) as run_:
        raws = [keep_raw(p) for p in parsed]
        with db.write_session(db_path) as con:
            files = []
            for item, raw in zip(parsed, raws, strict=True):
                rows = save(con, item, raw, run_)
                run_.rows += rows
                files.append({"file": item.name, "rows": rows, "variant": item.variant,
                              "frameworks": [item.frameworks[t] for t in item.terms], "geo": item.geo})
            run_.detail = {"files": files}
            run_.finish(con)
    return run_


def import_bytes(db_path: Path, name: str, data: bytes) -> store.Run:
    """The dashboard's upload box: same checks and storage as the CLI."""
    return store_parsed(db_path, [parse(name, data)])


def run(db_path: Path, files: list[Path]) -> store.Run:
    """Import files: every file is parsed and checked before anything is written."""
    if not files:
        raise SourceError("No file to import.", "Pass one or more CSV files downloaded from Google Trends.")
    return store_parsed(db_path, [read_file(f) for f in files])
