"""Google Trends 'Interest over time' CSV files saved from the web UI, stored as `trends_interest`.

The route for when Google refuses pytrends (HTTP 429). The file is written in the language of
the user's interface, so its layout is recognised by structure, never by English words:

    Categoria: Todas as categorias            <- preamble: the category (0-3 lines), blank lines
                                              
    Semana,python: (Brasil),java: (Brasil)    <- header: a period label, then `term: (region)`
    2019-05-19,26,35                          <- dated rows: YYYY-MM-DD or YYYY-MM, 0-100 or <1

Also read: a category-only export (one column `Geo: <region>`, the subject is the category)
and the redesigned Explore page's export (`"Time","AI","NLP"`: up to 8 bare terms, no region
in the file, so `--geo` says it). Regions in any language map to ISO 3166 codes (or `world`)
through ingest/trends_geo.py; terms map to framework ids through the registry, and with
`keep_unknown` a term no framework lists is stored under its own id (`term:<text>`).
Every file is checked whole before anything is written: one bad file and nothing is stored.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import hashlib
import io
import logging
import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ingest import trends_geo, trends_scale, trends_store
from pulse import config, db, registry, store
from pulse.errors import SourceError

NAME = "trends_csv"
DESCRIPTION = "Google Trends 'Interest over time' CSV files downloaded from the web UI"
MAX_BYTES = 5 * 1024 * 1024  # a 5-year daily export of 5 terms is ~100 KB
MAX_LINE = 10_000  # characters; a header of 8 long terms is well under 2,000
MAX_ROWS = 20_000  # daily rows for 50 years; Trends gives daily data for windows under 9 months
MAX_PREAMBLE = 3  # non-empty lines before the header (Trends writes one: the category)
MAX_TERMS = trends_scale.MAX_TERMS  # one request on the classic Explore page
MAX_TERMS_NEW_UI = 8  # the redesigned Explore page compares up to eight terms
FIRST_YEAR = 1990
TERM_COLUMN = re.compile(r"^(?P<term>.*\S)\s*[:：]\s*[(（](?P<geo>[^()（）]*)[)）]$", re.S)
GEO_COLUMN = re.compile(r"^(?P<label>[^:：()（）]{1,40}?)\s*[:：]\s*(?P<geo>[^:：()（）]+)$", re.S)
DATE_CELL = re.compile(r"^\d{4}-\d{2}(-\d{2}(T\d{2}(:\d{2})?)?)?$")
QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»", "「": "」"}
HOW_TO = ("Download it from trends.google.com: open Explore, compare up to 5 terms, then use the "
          "download button (arrow) on the 'Interest over time' chart, and import the file unedited.")
GEO_HINT = "Pass --geo CODE (an ISO 3166 code such as US, BR or US-CA, or 'world') to say which region the file holds."

log = logging.getLogger(__name__)


@dataclass
class TrendsFile:
    """One parsed file: plain data, ready to store."""

    name: str
    geo: str  # ISO 3166 code ('US', 'US-CA') or 'world'
    geo_name: str  # the region as the file writes it ('Brasil', 'Cały świat'); '' when it names none
    granularity: str  # day, week, month
    terms: list[str]  # as searched (exact-phrase quotes stripped)
    frameworks: dict[str, str]  # term -> framework id, or `term:<text>` for a kept unknown term
    values: pd.DataFrame  # index = dates, one column per term (`<1` as 0.5)
    below_one: pd.DataFrame
    header_terms: list[str] = field(default_factory=list)  # as in the header (quotes kept): the cited link
    unknown: list[str] = field(default_factory=list)  # terms stored under their own id
    category: str = ""
    layout: str = "classic"  # classic, category (category-only export), new-ui (no region in the file)
    sha256: str = ""
    data: bytes = field(default=b"", repr=False)

    @property
    def start(self) -> dt.date:
        return self.values.index.min().date()

    @property
    def end(self) -> dt.date:
        """The window's last day: the end of the last row's day, week or month."""
        last = self.values.index.max()
        if self.granularity == "month":
            return (last + pd.offsets.MonthEnd(0)).date()
        if self.granularity == "week":
            return (last + pd.Timedelta(days=6)).date()
        return last.date()

    @property
    def timeframe(self) -> str:
        """Google's custom-range syntax for the window the file covers."""
        return f"{self.start} {self.end}"

    @property
    def geo_key(self) -> str:
        return self.geo

    @property
    def variant(self) -> str:
        return trends_store.variant_for(self.geo, self.timeframe, [self.frameworks[t] for t in self.terms])


def _fail(name: str, what: str, hint: str = HOW_TO) -> SourceError:
    return SourceError(f"Cannot import {name}: {what}. Nothing was stored.", hint)


def _shown(text: str, limit: int = 80) -> str:
    """A cell for a message: control characters escaped, long text cut."""
    text = text.encode("unicode_escape").decode("ascii") if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text) else text
    return text if len(text) <= limit else text[:limit] + "..."


def _decode(name: str, data: bytes) -> str:
    if not data.strip():
        raise _fail(name, "the file is empty")
    if len(data) > MAX_BYTES:
        raise _fail(name, f"the file is {len(data) / 1e6:.1f} MB, more than the {MAX_BYTES // (1024 * 1024)} MB a Trends export can be",
                    "Check that this is the 'Interest over time' CSV (multiTimeline.csv).")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise _fail(name, "it is UTF-16 text (a spreadsheet's 'Unicode text' save), not the CSV Trends writes",
                    "Import the file as downloaded from trends.google.com, before a spreadsheet re-saves it.")
    if b"\x00" in data[:4096]:
        raise _fail(name, "it is a binary file, not a CSV")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(name, "it is not UTF-8 text", "Trends writes UTF-8; if a spreadsheet re-saved it, download it again.") from None
    start = text.lstrip()[:200].lower()
    if start.startswith(("<!doctype", "<html", "<?xml", "<head", "<body")) or "<html" in start:
        raise _fail(name, "it is a web page (HTML) saved as .csv, not the CSV download")
    return text


def _delimiter(text: str) -> str:
    """',' as Trends writes it; ';' or a tab when a spreadsheet re-saved the file with its locale's separator."""
    counts = {d: len(re.findall(rf"(?m)^\"?\d{{4}}-\d{{2}}(?:-\d{{2}})?\"?{re.escape(d)}", text)) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] > counts[","] else ","


def _rows(name: str, text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) per CSV record, with the line and row limits checked first."""
    for number, line in enumerate(text.splitlines(), start=1):
        if len(line) > MAX_LINE:
            raise _fail(name, f"line {number} is {len(line):,} characters long; a Trends export's lines are under {MAX_LINE:,}",
                        "Check that this is the 'Interest over time' CSV (multiTimeline.csv).")
    reader = csv.reader(io.StringIO(text, newline=None), delimiter=_delimiter(text))
    rows: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            rows.append((reader.line_num, cells))
            if len(rows) > MAX_ROWS:
                raise _fail(name, f"it has more than {MAX_ROWS:,} rows; a Trends export has at most a few thousand")
    except csv.Error as exc:
        raise _fail(name, f"it is not a readable CSV (line {reader.line_num}: {exc})") from None
    return rows


def _blank(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


def _dated(cells: list[str]) -> bool:
    return bool(cells) and bool(DATE_CELL.match(unicodedata.normalize("NFKC", cells[0]).strip()))


def _strip_quotes(term: str) -> tuple[str, bool]:
    """'"Allianz"' -> ('Allianz', True): Trends writes an exact-phrase search with its quotes."""
    if len(term) > 2 and term[0] in QUOTES and term[-1] == QUOTES[term[0]]:
        return term[1:-1].strip(), True
    return term, False


def _parse_date(value: str) -> pd.Timestamp:
    text = unicodedata.normalize("NFKC", value).strip()
    if "T" in text:
        raise ValueError("hourly")
    day = dt.date.fromisoformat(text + "-01" if len(text) == 7 else text)
    return pd.Timestamp(day)


def _granularity(index: pd.DatetimeIndex) -> str:
    steps = set(pd.Series(index).diff().dropna().dt.days)
    if steps == {1}:
        return "day"
    if steps == {7}:
        return "week"
    if steps <= {28, 29, 30, 31} and all(d.day == 1 for d in index):
        months = index.year * 12 + index.month
        if set(pd.Series(months).diff().dropna()) == {1}:
            return "month"
    return "mixed"


def _split_header(name: str, rows: list[tuple[int, list[str]]]) -> tuple[str, list[str], int, int]:
    """(category, header cells, header's index in rows, first data row's index)."""
    first = next((i for i, (_, cells) in enumerate(rows) if _dated(cells)), None)
    content = [i for i, (_, cells) in enumerate(rows) if not _blank(cells)]
    if not content:
        raise _fail(name, "the file is empty")
    if first is None:
        header_at = next((i for i in content if len(rows[i][1]) >= 2 and any(TERM_COLUMN.match(c.strip()) for c in rows[i][1][1:])), None)
        if header_at is not None and header_at != content[-1]:
            header = rows[header_at][1]
            following = next(rows[i][1][0] for i in content if i > header_at)
            raise _fail(name, f"it is the '{_shown(header[0].strip())}' export (interest by region or related queries), not "
                        f"'Interest over time': its rows start with '{_shown(following.strip())}', not dates",
                        "On trends.google.com use the download button of the 'Interest over time' chart (multiTimeline.csv), "
                        "not the one under the region map (geoMap.csv).")
        shown = ",".join(rows[content[0]][1])
        raise _fail(name, f"no line starts with a date (YYYY-MM-DD or YYYY-MM): its header '{_shown(shown, 120)}' is not a "
                    "Google Trends 'Interest over time' header (columns like 'PyTorch: (Worldwide)')")
    before = [i for i in content if i < first]
    if not before or len([c for c in rows[before[-1]][1] if c.strip()]) < 2:
        line_no, cells = rows[first]
        raise _fail(name, f"it has no header line: line {line_no} ('{_shown(','.join(cells), 60)}') is already data, so the "
                    "search terms and the region are unknown (the header was removed)",
                    "Download the CSV again from trends.google.com and import it unedited, or put back its header line "
                    "(e.g. 'Month,pytorch: (United States)') exactly as Trends wrote it.")
    header_at = before[-1]
    preamble = before[:-1]
    if len(preamble) > MAX_PREAMBLE:
        raise _fail(name, f"it has {len(preamble)} lines before the header; a Trends export has one (the category)")
    category = ""
    if preamble:
        text = " ".join(c.strip() for c in rows[preamble[0]][1] if c.strip())
        category = re.split(r"[:：]", text, maxsplit=1)[1].strip() if re.search(r"[:：]", text) else ""
    return category, rows[header_at][1], header_at, first


def _columns(name: str, header: list[str], category: str) -> tuple[str, list[str], list[str], str]:
    """(layout, terms as written, region texts, period label) from the header cells."""
    cells = list(header)
    while cells and not cells[-1].strip():  # a spreadsheet's trailing comma
        cells.pop()
    for position, cell in enumerate(cells, start=1):
        if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in cell):
            raise _fail(name, f"header column {position} ('{_shown(cell)}') holds a line break or control character; "
                        "Trends never writes one")
    columns = [c.strip() for c in cells[1:]]
    if not columns:
        raise _fail(name, "its header has no term columns")
    matches = [TERM_COLUMN.match(c) for c in columns]
    if all(matches):
        return "classic", [m["term"].strip() for m in matches], [m["geo"].strip() for m in matches], cells[0]
    geo_only = GEO_COLUMN.match(columns[0])
    if len(columns) == 1 and geo_only and category:
        return "category", [category], [geo_only["geo"].strip()], cells[0]
    if not any(matches) and not any(":" in c or "：" in c for c in columns):
        return "new-ui", columns, [], cells[0]
    odd = next(c for c, m in zip(columns, matches, strict=True) if not m)
    raise _fail(name, f"the column '{_shown(odd)}' is not of the form 'Term: (Region)' like the others")


def _region(name: str, texts: list[str], geo: str | None) -> tuple[str, str]:
    """(ISO code or 'world', the region as written) from the header and --geo."""
    given = None
    if geo:
        try:
            given = trends_geo.check_code(geo)
        except trends_geo.UnknownRegion as exc:
            raise _fail(name, f"--geo {exc}", GEO_HINT) from None
    distinct = sorted({t for t in texts})
    if len({trends_geo.normalise(t) for t in distinct}) > 1:
        raise _fail(name, f"its columns name different regions ({', '.join(distinct)})", "Export one region per file.")
    if not distinct:
        if given is None:
            raise _fail(name, "its header names no region (the redesigned Explore page's export leaves it out)", GEO_HINT)
        return given, ""
    written = distinct[0]
    try:
        code = trends_geo.code_for(written)
    except trends_geo.UnknownRegion as exc:
        if given is None:
            raise _fail(name, f"its region {exc}", GEO_HINT) from None
        return given, written
    if given is not None and given != code:
        raise _fail(name, f"its header says the region is '{written}' ({code}) but --geo says {given}",
                    "Leave out --geo, or pass the region the file holds.")
    return code, written


def _term_ids(name: str, terms: list[str], keep_unknown: bool, layout: str) -> tuple[dict[str, str], list[str]]:
    """term -> framework id (registry, case-insensitive) or its own id; and the terms kept under their own id."""
    known = registry.by_key("trends")
    mapping: dict[str, str] = {}
    unknown: list[str] = []
    for term in terms:
        fid = None if layout == "category" else known.get(term.lower())
        if fid is None:
            unknown.append(term)
            mapping[term] = trends_store.category_id(term) if layout == "category" else trends_store.term_id(term)
        else:
            mapping[term] = fid
    if unknown and not keep_unknown:
        listed = ", ".join(sorted({t for f in registry.frameworks().values() for t in f.trends}))
        what = (f"it is a category-only export (category '{unknown[0]}', no search term), which matches no framework"
                if layout == "category" else f"the search term(s) {', '.join(repr(u) for u in unknown)} match no framework")
        raise _fail(name, what,
                    "Import it with --keep-unknown (on the dashboard: tick 'Keep terms that match no framework'): each such "
                    "term is stored under its own name and shown beside the frameworks. Or add the term to a framework's "
                    f"`trends` list in pulse/frameworks.toml. Known Trends terms: {listed}.")
    by_id: dict[str, list[str]] = {}
    for term, fid in mapping.items():
        by_id.setdefault(fid, []).append(term)
    clash = next((ts for ts in by_id.values() if len(ts) > 1), None)
    if clash:
        raise _fail(name, f"the columns {', '.join(repr(t) for t in clash)} map to the same framework ({mapping[clash[0]]})",
                    "Export each framework's term once (or rename one in pulse/frameworks.toml).")
    return mapping, unknown


def parse(name: str, data: bytes, *, keep_unknown: bool = False, geo: str | None = None) -> TrendsFile:
    """Parse one file's bytes; SourceError saying what is wrong (and storing nothing) otherwise."""
    text = _decode(name, data)
    rows = _rows(name, text)
    category, header, header_at, first = _split_header(name, rows)
    layout, written, regions, _period = _columns(name, header, category)
    limit = MAX_TERMS_NEW_UI if layout == "new-ui" else MAX_TERMS
    if len(written) > limit:
        raise _fail(name, f"it has {len(written)} terms; one Trends request compares at most {limit}, so this file joins "
                    "several requests whose values are on different scales", "Import each request's own download.")
    terms = []
    for position, raw in enumerate(written, start=2):
        term, _exact = _strip_quotes(raw)
        term = unicodedata.normalize("NFC", term)
        if not term:
            raise _fail(name, f"header column {position} has no search term")
        if term in terms:
            raise _fail(name, f"the term '{_shown(term)}' is in two columns ({terms.index(term) + 2} and {position})",
                        "A Trends export names each term once; download the file again unedited.")
        terms.append(term)
    width = len(written) + 1
    latest = pd.Timestamp(dt.date.today() + dt.timedelta(days=365))
    dates, values, below = [], [], []
    for line_no, row in rows[header_at + 1:]:
        if _blank(row):
            continue
        if len(row) < width or any(c.strip() for c in row[width:]):
            raise _fail(name, f"line {line_no} has {len([c for c in row if c.strip()])} fields, the header has {width}")
        try:
            day = _parse_date(row[0])
        except ValueError as exc:
            if str(exc) == "hourly":
                raise _fail(name, f"line {line_no} holds hourly data ('{_shown(row[0])}'); only daily, weekly or monthly data can be stored",
                            "Export a window of 90 days or more (daily or coarser).") from None
            raise _fail(name, f"line {line_no} starts with '{_shown(row[0])}', not a date (YYYY-MM-DD or YYYY-MM)") from None
        if not pd.Timestamp(FIRST_YEAR, 1, 1) <= day <= latest:
            raise _fail(name, f"line {line_no} has the date {day.date()}, outside {FIRST_YEAR}-01-01..{latest.date()}",
                        "Trends data starts in 2004; a date outside that range means the file was edited or damaged.")
        cells, flags = [], []
        for cell in row[1:width]:
            compact = "".join(unicodedata.normalize("NFKC", cell).split())
            if compact == "<1":
                cells.append(trends_scale.BELOW_ONE)
                flags.append(True)
            elif compact.isascii() and compact.isdigit() and int(compact) <= 100:
                cells.append(float(compact))
                flags.append(False)
            else:
                raise _fail(name, f"line {line_no} has the value '{_shown(cell)}'; Trends values are integers 0-100 or '<1'")
        dates.append(day)
        values.append(cells)
        below.append(flags)
    if not dates:
        raise _fail(name, "it has a header but no data rows")
    if len(dates) < 2:
        raise _fail(name, "it has one data row; days, weeks and months cannot be told apart", "Export a longer window.")
    index = pd.DatetimeIndex(dates)
    if index.has_duplicates:
        raise _fail(name, f"the date {index[index.duplicated()][0].date()} appears twice")
    if not index.is_monotonic_increasing:
        raise _fail(name, "its dates are not in order")
    granularity = _granularity(index)
    if granularity == "mixed":
        raise _fail(name, "its dates mix granularities (the steps between rows vary)")
    frame = pd.DataFrame(values, index=index, columns=terms)
    if layout == "new-ui" and frame.to_numpy().max() not in (0, 100):
        shown = ",".join(header)
        raise _fail(name, f"its header '{_shown(shown, 120)}' is not a Google Trends 'Interest over time' header (columns like "
                    "'PyTorch: (Worldwide)'), and its values do not peak at 100 as a Trends request's do")
    code, geo_name = _region(name, regions, geo)
    frameworks, unknown = _term_ids(name, terms, keep_unknown, layout)
    return TrendsFile(
        name=name, geo=code, geo_name=geo_name, granularity=granularity, terms=terms, frameworks=frameworks,
        values=frame, below_one=pd.DataFrame(below, index=index, columns=terms), header_terms=list(written),
        unknown=unknown, category=category, layout=layout, sha256=hashlib.sha256(data).hexdigest(), data=data,
    )


def read_bounded(path: Path, max_bytes: int = MAX_BYTES, what: str = "a Trends export") -> bytes:
    """A regular file's bytes, refusing devices, FIFOs and sockets (opened without blocking) and anything over max_bytes."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SourceError(f"Cannot import {path}: no such file. Nothing was stored.", "Check the path.") from None
    except IsADirectoryError:
        raise SourceError(f"Cannot import {path}: it is a directory. Nothing was stored.", "Pass the CSV file itself.") from None
    except PermissionError:
        raise SourceError(f"Cannot import {path}: permission denied. Nothing was stored.", "Check the file's permissions.") from None
    except OSError as exc:
        raise SourceError(f"Cannot import {path}: {exc.strerror or exc}. Nothing was stored.", "Check the path.") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SourceError(f"Cannot import {path}: it is a directory. Nothing was stored.", "Pass the CSV file itself.")
        if not stat.S_ISREG(info.st_mode):
            kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file"
            raise SourceError(f"Cannot import {path}: it is {kind}, not a regular file. Nothing was stored.",
                              "Save the download as a file and pass that file.")
        if info.st_size > max_bytes:
            raise SourceError(f"Cannot import {path.name}: the file is {info.st_size / 1e6:.1f} MB, more than {what} can be. Nothing was stored.",
                              "Check that this is the 'Interest over time' CSV (multiTimeline.csv).")
        chunks, size = [], 0
        while size <= max_bytes:  # bounded even if the file grows while it is read
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise SourceError(f"Cannot import {path.name}: the file grew past {max_bytes // (1024 * 1024)} MB while it was read. Nothing was stored.",
                              "Import it once it is complete.")
        return b"".join(chunks)
    except OSError as exc:
        raise SourceError(f"Cannot import {path}: {exc.strerror or exc}. Nothing was stored.", "Check the file.") from None
    finally:
        os.close(fd)


def read_file(path: Path, *, keep_unknown: bool = False, geo: str | None = None) -> TrendsFile:
    """Read (bounded, regular files only) and parse a file from disk."""
    path = Path(path)
    return parse(path.name, read_bounded(path), keep_unknown=keep_unknown, geo=geo)


def write_raw(path: Path, data: bytes, what: str) -> None:
    """Write a raw copy whole or not at all (temp file + rename); a full disk is a clear SourceError."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        reason = "the disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else (exc.strerror or str(exc))
        raise SourceError(f"Cannot keep the raw copy of {what} in {path.parent}: {reason}. Nothing was stored.",
                          "Free space there (or set PULSE_RAW_DIR to a folder with room), then import again.") from None


def keep_raw(parsed: TrendsFile) -> Path:
    """Keep the imported file (named by its hash) so the load can be replayed."""
    folder = config.raw_dir() / NAME
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", parsed.name)[:80] or "trends.csv"
    path = folder / f"{parsed.sha256[:12]}-{safe}"
    if not path.exists():
        write_raw(path, parsed.data, parsed.name)
    return path


def save(con, parsed: TrendsFile, raw_file: Path, run: store.Run) -> int:
    """Store one file as its own variant (replacing an earlier import of the same request)."""
    detail = {"route": "csv", "geo": parsed.geo, "geo_name": parsed.geo_name, "timeframe": parsed.timeframe,
              "granularity": parsed.granularity, "terms": parsed.terms, "category": parsed.category,
              "layout": parsed.layout, "file": parsed.name, "sha256": parsed.sha256, "as_of": store.utcnow().date().isoformat()}
    per_term = {t: {"column": h} for t, h in zip(parsed.terms, parsed.header_terms, strict=True) if t != h}
    for term in parsed.unknown:
        per_term.setdefault(term, {})["unmapped"] = True
    frame = trends_store.rows(
        parsed.values, parsed.below_one, source=NAME, term_ids=parsed.frameworks, variant=parsed.variant,
        citation=trends_store.explore_url(parsed.header_terms if parsed.layout != "category" else [], parsed.geo, parsed.timeframe)
        + " (CSV download)",
        raw_file=config.display_path(raw_file), detail=detail, per_term_detail=per_term,
    )
    return trends_store.replace_variant(con, frame, run.run_id)


def store_parsed(db_path: Path, parsed: list[TrendsFile]) -> store.Run:
    """Write already-checked files in one write session (all or nothing)."""
    raws = [keep_raw(p) for p in parsed]  # before the run is recorded: a full disk stores nothing at all
    with store.tracked_run(db_path, NAME) as run_:
        with db.write_session(db_path) as con:
            files = []
            for item, raw in zip(parsed, raws, strict=True):
                rows = save(con, item, raw, run_)
                run_.rows += rows
                files.append({"file": item.name, "rows": rows, "variant": item.variant, "geo": item.geo,
                              "geo_name": item.geo_name or trends_geo.english_name(item.geo),
                              "frameworks": [item.frameworks[t] for t in item.terms if t not in item.unknown],
                              "unknown": list(item.unknown)})
            run_.detail = {"files": files}
            run_.finish(con)
    return run_


def import_bytes(db_path: Path, name: str, data: bytes, *, keep_unknown: bool = False, geo: str | None = None) -> store.Run:
    """The dashboard's upload box: same checks and storage as the CLI."""
    return store_parsed(db_path, [parse(name, data, keep_unknown=keep_unknown, geo=geo)])


def run(db_path: Path, files: list[Path], *, keep_unknown: bool = False, geo: str | None = None) -> store.Run:
    """Import files: every file is parsed and checked before anything is written."""
    if not files:
        raise SourceError("No file to import.", "Pass one or more CSV files downloaded from Google Trends.")
    return store_parsed(db_path, [read_file(f, keep_unknown=keep_unknown, geo=geo) for f in files])
