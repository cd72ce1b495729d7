"""PyPI downloads per package and day (source `pypi`): pypistats.org for the recent window, ClickPy for history.

Facts encoded here (../shared/SOURCES.md, docs/sources/pypi.md):
- pypistats.org `GET {PULSE_PYPISTATS_URL}/api/packages/{pkg}/overall?mirrors=false` answers
  `{"data": [{"category": "without_mirrors", "date": "YYYY-MM-DD", "downloads": N}, ...],
  "package": pkg, "type": "overall_downloads"}` for the last 180 days; 404 for a package it does
  not know; 5 requests/s and 30/min per IP (we pause between packages).
- ClickPy is a public ClickHouse service (read-only user `play`, no password) whose table
  `pypi.pypi_downloads_per_day (date Date, project String, count Int64)` is a SummingMergeTree
  ordered by (project, date): rows must be summed per day. Queried over ClickHouse's HTTP
  interface with `query=...FORMAT JSONEachRow` and the values as `param_*` query parameters;
  64-bit integers may arrive quoted ("123"). Errors come back as HTTP 4xx/5xx with a text body
  `Code: N. DB::Exception: ...`; a failure mid-answer appends such a line to a 200 body.
- Each day is stored once it is over (dates before today, UTC): the day in progress never is.

Rows: metric `pypi_downloads`, framework = registry id, variant = package name, source
`pypistats` (without mirrors) or `clickpy` (every download in PyPI's log), kept apart because the
two count differently. A later run asks pypistats only when a finished day is missing, and ClickPy
only from the last REFRESH_DAYS stored days on (those are overwritten: a day just over may still
have been loading).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ingest.http import ConnectionFailed, Fetcher, Unreachable, make_session, safe_url
from pulse import config, db, registry, store
from pulse.errors import PulseError, SourceError

NAME = "pypi"
DESCRIPTION = "PyPI downloads per package and day: pypistats.org (last 180 days, without mirrors) and ClickPy (history since 2016)"
CADENCE = dt.timedelta(days=1)
METRIC = "pypi_downloads"
PYPISTATS, CLICKPY = "pypistats", "clickpy"
SERVICES = (PYPISTATS, CLICKPY)
SETTING = {PYPISTATS: "PULSE_PYPISTATS_URL", CLICKPY: "PULSE_CLICKPY_URL"}
PYPISTATS_WINDOW_DAYS = 180
PYPISTATS_PAUSE_S = 2.1  # 30 requests/minute per IP
CLICKPY_USER = "play"
HISTORY_START = dt.date(2016, 1, 1)  # ClickPy's log starts in 2016
# The last stored days are asked again and overwritten: a day just over may still be loading
# into ClickPy's table (events arrive late), so its first count can be short.
REFRESH_DAYS = 3
# PyPI changed what counts as a download on this day: every series has a level break there.
DEFINITION_CHANGE = dt.date(2026, 8, 24)
CLICKPY_QUERY = (
    "SELECT date, project, sum(count) AS count FROM pypi.pypi_downloads_per_day "
    "WHERE project = {project:String} AND date >= {since:Date} AND date < {until:Date} "
    "GROUP BY date, project ORDER BY date FORMAT JSONEachRow"
)

log = logging.getLogger(__name__)


def base_url(service: str) -> str:
    return os.environ.get(SETTING[service], config.SETTINGS[SETTING[service]][0]).rstrip("/")


def packages_for(frameworks: list[str] | None) -> list[tuple[str, str]]:
    """(framework id, package) pairs to fetch: every registry package of the chosen frameworks."""
    return registry.pairs("pypi", frameworks, "PyPI packages")


def stored_last_days(db_path: Path) -> dict[tuple[str, str], dt.date]:
    """(source, package) -> last stored day of pypi_downloads ({} without a database)."""
    rows = db.read_rows(db_path, "SELECT source, variant, max(date) FROM observations WHERE metric = ? GROUP BY 1, 2", [METRIC])
    return {(s, v): d for s, v, d in rows}


# --- parse (pure) -----------------------------------------------------------------------------

def _day(value, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise SourceError(f"{what}: '{value}' is not a YYYY-MM-DD date.", "The service changed its answer; report it.") from None


def _count(value, what: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise SourceError(f"{what}: download count '{value}' is not a whole number.", "The service changed its answer; report it.") from None
    if number < 0:
        raise SourceError(f"{what}: negative download count {number}.", "The service changed its answer; report it.")
    return number


def parse_pypistats(body, package: str) -> dict[dt.date, int]:
    """pypistats' overall answer -> {day: downloads without mirrors}."""
    what = f"pypistats answer for {package}"
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise SourceError(f"{what} has no 'data' list.", "Check PULSE_PYPISTATS_URL points at pypistats.org.")
    out: dict[dt.date, int] = {}
    for item in body["data"]:
        if not isinstance(item, dict) or item.get("category") != "without_mirrors":
            continue  # mirrors=false should leave only these; anything else is not our metric
        out[_day(item.get("date"), what)] = _count(item.get("downloads"), what)
    return out


def parse_clickpy(text: str, package: str) -> dict[dt.date, int]:
    """ClickHouse JSONEachRow lines -> {day: downloads}; an exception line in the body is an error."""
    what = f"ClickPy answer for {package}"
    out: dict[dt.date, int] = {}
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        if line.startswith("Code:") or "DB::Exception" in line:
            raise SourceError(f"ClickPy failed while answering for {package}: {line[:200]}", "Run again later; nothing from this answer was kept.")
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise SourceError(f"{what} is not JSONEachRow (line '{line[:80]}').", "Check PULSE_CLICKPY_URL points at a ClickHouse HTTP interface.") from None
        if not isinstance(row, dict) or "date" not in row or "count" not in row:
            raise SourceError(f"{what} lacks date or count.", "The table's columns changed; report it.")
        day = _day(row["date"], what)
        out[day] = out.get(day, 0) + _count(row["count"], what)
    return out


def to_rows(framework: str, package: str, service: str, counts: dict[dt.date, int], today: dt.date,
            citation: str, raw_file: str | None) -> pd.DataFrame:
    """Observation rows for the finished days (before `today`, UTC)."""
    days = sorted(d for d in counts if d < today)
    method = "without mirrors (mirrors=false)" if service == PYPISTATS else "every download in PyPI's log (sum of pypi_downloads_per_day)"
    return pd.DataFrame({
        "source": service, "framework": framework, "metric": METRIC, "variant": package,
        "date": days, "value": [float(counts[d]) for d in days], "subject": f"PyPI package {package}",
        "citation": citation, "raw_file": raw_file,
        "detail": [{"method": method} for _ in days],
    }, columns=["source", "framework", "metric", "variant", "date", "value", "subject", "citation", "raw_file", "detail"])


# --- fetch (IO) -------------------------------------------------------------------------------

def fetch_pypistats(fetcher: Fetcher, package: str) -> dict | None:
    """The overall answer for one package; None when pypistats does not know it (404)."""
    url = f"{base_url(PYPISTATS)}/api/packages/{package}/overall"
    response = fetcher.get(url, params={"mirrors": "false"}, ok=(200, 404))
    if response.status_code == 404:
        return None
    try:
        return response.json()
    except ValueError:
        raise SourceError(f"pypistats answered {safe_url(response.url)} with something that is not JSON.",
                          "Check PULSE_PYPISTATS_URL points at pypistats.org.") from None


def fetch_clickpy(fetcher: Fetcher, package: str, since: dt.date, until: dt.date) -> str:
    """JSONEachRow text of one package's days in [since, until)."""
    params = {"user": CLICKPY_USER, "query": CLICKPY_QUERY, "param_project": package,
              "param_since": since.isoformat(), "param_until": until.isoformat()}
    response = fetcher.get(base_url(CLICKPY) + "/", params=params, ok=(200,))
    return response.text


def _keep_raw(run: store.Run, name: str, content: str) -> str | None:
    folder = config.raw_dir() / NAME / run.run_id
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        path.write_text(config.redact(content), encoding="utf-8")
    except OSError as exc:
        log.warning("could not keep the raw answer %s: %s", name, exc)
        return None
    return config.display_path(path)


@dataclass
class Outcome:
    frames: list[pd.DataFrame] = field(default_factory=list)
    asked: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SERVICES})
    up_to_date: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SERVICES})
    unknown: list[str] = field(default_factory=list)  # packages a service does not know
    failed: dict[str, str] = field(default_factory=dict)  # service -> why it is missing (part or all)


def fetch_all(run: store.Run, fetcher: Fetcher, pairs: list[tuple[str, str]], stored: dict, services: tuple[str, ...],
              today: dt.date, sleep: Callable[[float], None]) -> Outcome:
    """Ask each service what it has that is not stored yet; a service that fails is noted, the other goes on."""
    out = Outcome()
    yesterday = today - dt.timedelta(days=1)
    for service in services:
        for framework, package in pairs:
            last = stored.get((service, package))
            if service == PYPISTATS:
                if last is not None and last >= yesterday:
                    out.up_to_date[service] += 1
                    continue
            elif last is not None and last + dt.timedelta(days=1) >= today:
                out.up_to_date[service] += 1
                continue
            try:
                if service == PYPISTATS:
                    if out.asked[service]:
                        sleep(PYPISTATS_PAUSE_S)
                    out.asked[service] += 1
                    body = fetch_pypistats(fetcher, package)
                    if body is None:
                        out.unknown.append(f"{package} (pypistats 404)")
                        continue
                    raw = _keep_raw(run, f"pypistats-{package}.json", json.dumps(body))
                    counts = parse_pypistats(body, package)
                    if last is not None:
                        counts = {d: n for d, n in counts.items() if d > last - dt.timedelta(days=REFRESH_DAYS)}
                    citation = f"{base_url(PYPISTATS)}/api/packages/{package}/overall?mirrors=false"
                else:
                    since = last - dt.timedelta(days=REFRESH_DAYS - 1) if last is not None else HISTORY_START
                    out.asked[service] += 1
                    text = fetch_clickpy(fetcher, package, since, today)
                    raw = _keep_raw(run, f"clickpy-{package}-{since}.jsonl", text)
                    counts = parse_clickpy(text, package)
                    if not counts and last is None:
                        out.unknown.append(f"{package} (no rows in ClickPy)")
                    citation = f"{base_url(CLICKPY)}/ pypi.pypi_downloads_per_day project={package}"
                out.frames.append(to_rows(framework, package, service, counts, today, config.redact(citation), raw))
            except (ConnectionFailed, Unreachable) as exc:
                out.failed[service] = f"{exc.message} (setting {SETTING[service]}={safe_url(base_url(service))})"
                break  # nothing else on that server will work either
            except SourceError as exc:
                out.failed[service] = str(exc)
                break
    return out


# --- replay ---------------------------------------------------------------------------------

def replay(db_path: Path, folder: Path) -> store.Run:
    """Load the raw answers an earlier run kept ($PULSE_RAW_DIR/pypi/<run_id>/) instead of fetching.

    Each file's days before the day it was written (UTC) are stored, as the run that fetched it did.
    """
    folder = Path(folder)
    files = sorted(folder.glob("pypistats-*.json")) + sorted(folder.glob("clickpy-*.jsonl")) if folder.is_dir() else []
    if not files:
        raise PulseError(f"No saved pypistats-*.json or clickpy-*.jsonl answers in {folder}.",
                         f"Pass a folder under {config.display_path(config.raw_dir() / NAME)}/ (one per run).")
    owners = {pkg: fid for fid in registry.ids() for pkg in registry.get(fid).pypi}
    with store.tracked_run(db_path, NAME) as run_:
        frames, unknown = [], []
        for path in files:
            service = PYPISTATS if path.name.startswith("pypistats-") else CLICKPY
            stem = path.name.removeprefix(f"{service}-").removesuffix(".json").removesuffix(".jsonl")
            package = stem if service == PYPISTATS else stem.rsplit("-", 3)[0]
            if package not in owners:
                unknown.append(package)
                continue
            day = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).date()
            text = path.read_text(encoding="utf-8")
            try:
                counts = parse_pypistats(json.loads(text), package) if service == PYPISTATS else parse_clickpy(text, package)
            except json.JSONDecodeError:
                raise SourceError(f"{config.display_path(path)} is not JSON.", "Pass the folder of an earlier run, unedited.") from None
            citation = (f"{base_url(PYPISTATS)}/api/packages/{package}/overall?mirrors=false" if service == PYPISTATS
                        else f"{base_url(CLICKPY)}/ pypi.pypi_downloads_per_day project={package}")
            frames.append(to_rows(owners[package], package, service, counts, day, config.redact(citation), config.display_path(path)))
        run_.detail.update(replayed=config.display_path(folder), files=len(files), unknown=unknown)
        frames = [f for f in frames if not f.empty]
        with db.write_session(db_path) as con:
            run_.rows = store.upsert_observations(con, pd.concat(frames, ignore_index=True), run_id=run_.run_id) if frames else 0
            run_.finish(con)
    return run_


# --- run --------------------------------------------------------------------------------------

def run(db_path: Path, frameworks: list[str] | None = None, *, services: tuple[str, ...] = SERVICES,
        sleep: Callable[[float], None] = time.sleep, today: dt.date | None = None) -> store.Run:
    """Fetch what is not stored yet from each service and store it; partial when a service failed."""
    pairs = packages_for(frameworks)
    today = today or dt.datetime.now(dt.UTC).date()
    stored = stored_last_days(db_path)
    with store.tracked_run(db_path, NAME) as run_:
        fetcher = Fetcher(make_session(), sleep=sleep)
        outcome = fetch_all(run_, fetcher, pairs, stored, services, today, sleep)
        run_.requests = fetcher.requests_made
        frames = [f for f in outcome.frames if not f.empty]
        run_.detail.update(packages=[p for _, p in pairs], asked=outcome.asked, up_to_date=outcome.up_to_date,
                           unknown=outcome.unknown, missing=outcome.failed, services=list(services),
                           definition_change=DEFINITION_CHANGE.isoformat())
        with db.write_session(db_path) as con:
            run_.rows = store.upsert_observations(con, pd.concat(frames, ignore_index=True), run_id=run_.run_id) if frames else 0
            # A package a service does not know is a registry question, told in the summary; a
            # service that could not be asked (or answered badly) makes the run partial.
            problems = [f"{s} missing: {why}" for s, why in outcome.failed.items()]
            if problems:
                kept = [s for s in services if s not in outcome.failed]
                tail = f" What {' and '.join(kept)} gave is stored." if kept and run_.rows else ""
                run_.finish(con, "partial", "; ".join(problems) + "." + tail)
            else:
                run_.finish(con)
    return run_
