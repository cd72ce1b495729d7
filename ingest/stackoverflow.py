"""Stack Overflow questions per month per framework tag (source `stackoverflow`), from the Stack Exchange API.

Facts encoded here (../shared/SOURCES.md, docs/sources/stackoverflow.md):
- `GET {PULSE_STACKEXCHANGE_URL}/2.3/questions?tagged=T&fromdate=A&todate=B&site=stackoverflow&filter=total`
  answers `{"total": N}` (fromdate/todate are Unix seconds, both inclusive). Other answers carry
  the wrapper fields `quota_max` and `quota_remaining`; the built-in `total` filter may leave them
  out, so the quota is then counted down from the last report. `backoff` (seconds to wait before
  calling the same method again) and error fields come whatever the filter.
- `GET /2.3/tags/{t1;t2;...}/info?site=stackoverflow` answers `items[].{name, count}`.
- `GET /2.3/questions?tagged=T&sort=creation&order=asc&pagesize=1` gives a tag's first question
  (`items[0].creation_date`), so the back-fill starts at its month instead of 2008.
- Errors: HTTP 400 (or 5xx) with `{"error_id", "error_name", "error_message"}`; a spent daily
  quota or a burst is `502 throttle_violation` ("... more requests available in N seconds").
- 300 requests a day per IP without a key, 10,000 with `STACKEXCHANGE_KEY` (a secret, sent as
  the `key` parameter, never stored).

Only finished months are asked (up to the month before the current UTC month). The back-fill
goes forward from each tag's first month and stops when the quota is nearly spent; months are
stored as they arrive, so the next run resumes after the last stored month and, once caught
up, asks only for new months.
"""

from __future__ import annotations

import calendar
import datetime as dt
import gzip
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from ingest.http import ConnectionFailed, Fetcher, Unreachable, make_session, safe_url
from pulse import config, db, registry, store
from pulse.errors import RateLimited, SourceError

NAME = "stackoverflow"
DESCRIPTION = "Stack Exchange API: Stack Overflow questions per month per framework tag, and each tag's total"
# Daily although months are the unit: a back-fill without a key spreads over days (300 requests a
# day), and once caught up a daily run costs one request (the tag totals) plus the new months.
CADENCE = dt.timedelta(days=1)
METRIC = "so_questions"
TOTAL_METRIC = "so_tag_questions_total"
SITE = "stackoverflow"
SETTING = "PULSE_STACKEXCHANGE_URL"
RESERVE = 5  # requests of the daily quota left unspent (another tool on this IP, a retry)
CHECKPOINT_MONTHS = 24  # months fetched between two writes
ERROR_STATUSES = (400, 401, 403, 404, 500, 502, 503)

log = logging.getLogger(__name__)


def base_url() -> str:
    return os.environ.get(SETTING, config.SETTINGS[SETTING][0]).rstrip("/")


def tags_for(frameworks: list[str] | None) -> list[tuple[str, str]]:
    """(framework id, tag) pairs: every Stack Overflow tag of the chosen frameworks."""
    return registry.pairs("stackoverflow", frameworks, "Stack Overflow tags")


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_bounds(month: dt.date) -> tuple[int, int]:
    """fromdate, todate (Unix seconds, inclusive) covering one calendar month in UTC."""
    start = calendar.timegm(month.timetuple())
    return start, calendar.timegm(next_month(month).timetuple()) - 1


def months_to_ask(first: dt.date, last_stored: dt.date | None, last_complete: dt.date) -> list[dt.date]:
    """Months after the last stored one (else from the tag's first month) up to the last finished month."""
    month = next_month(last_stored) if last_stored is not None else month_start(first)
    out = []
    while month <= last_complete:
        out.append(month)
        month = next_month(month)
    return out


def stored_last_months(db_path: Path) -> dict[str, dt.date]:
    """tag -> last stored month of so_questions ({} without a database)."""
    rows = db.read_rows(db_path, "SELECT variant, max(date) FROM observations WHERE source = ? AND metric = ? GROUP BY 1", [NAME, METRIC])
    return {tag: day for tag, day in rows}


# --- the API client ---------------------------------------------------------------------------

class QuotaSpent(RateLimited):
    """The daily quota is spent (or nearly): the back-fill resumes on a later run."""


@dataclass
class Client:
    """Stack Exchange GETs: wrapper fields read, `backoff` obeyed per method, errors made readable."""

    fetcher: Fetcher
    key: str | None = None
    sleep: Callable[[float], None] = time.sleep
    reserve: int = RESERVE
    quota_max: int | None = None
    quota_remaining: int | None = None
    backoffs: list[float] = field(default_factory=list)
    raw_path: Path | None = None  # every answer appended here (JSON lines, the key scrubbed) for provenance
    _pending: dict[str, float] = field(default_factory=dict)  # method -> seconds to wait before it

    def get(self, method: str, path: str, params: dict) -> dict:
        if self.quota_remaining is not None and self.quota_remaining <= self.reserve:
            raise QuotaSpent(f"Stack Exchange quota nearly spent ({self.quota_remaining} of {self.quota_max} requests left today).",
                             "Run again tomorrow (the back-fill resumes), or set STACKEXCHANGE_KEY for 10,000 requests a day.")
        wait = self._pending.pop(method, 0.0)
        if wait:
            log.info("Stack Exchange asked to back off %s s before calling %s again", wait, method)
            self.sleep(wait)
        query = {**params, "site": SITE}
        if self.key:
            query["key"] = self.key
        response = self.fetcher.get(f"{base_url()}/2.3/{path}", params=query, ok=(200, *ERROR_STATUSES))
        try:
            body = response.json()
        except ValueError:
            raise SourceError(f"{safe_url(response.url)} answered HTTP {response.status_code} with something that is not JSON.",
                              f"Check {SETTING} points at the Stack Exchange API.") from None
        if not isinstance(body, dict):
            raise SourceError(f"{safe_url(response.url)} answered a JSON {type(body).__name__}, not an object.", f"Check {SETTING}.")
        self._keep(response.url, response.status_code, body)
        if isinstance(body.get("quota_remaining"), int):
            self.quota_remaining, self.quota_max = body["quota_remaining"], body.get("quota_max")
        elif self.quota_remaining is not None:
            # filter=total answers carry only `total` (and backoff/errors): count this request off the last report.
            self.quota_remaining -= 1
        if isinstance(body.get("backoff"), (int, float)) and body["backoff"] > 0:
            self._pending[method] = float(body["backoff"])
            self.backoffs.append(float(body["backoff"]))
        if "error_id" in body or response.status_code != 200:
            name, message = body.get("error_name", f"HTTP {response.status_code}"), body.get("error_message", "")
            if name == "throttle_violation" or body.get("error_id") == 502:
                raise QuotaSpent(f"Stack Exchange refused: throttle_violation ({message}).",
                                 "Wait as it says, then run again (the back-fill resumes); STACKEXCHANGE_KEY raises the daily quota.")
            hint = "Check the tags in pulse/frameworks.toml." if name == "bad_parameter" else f"Check {SETTING} and STACKEXCHANGE_KEY."
            raise SourceError(f"Stack Exchange answered {name} ({body.get('error_id', response.status_code)}): {message}", hint)
        return body


    def _keep(self, url: str, status: int, body) -> None:
        if self.raw_path is None:
            return
        line = config.redact(json.dumps({"url": safe_url(url), "status": status, "body": body})) + "\n"
        try:
            self.raw_path.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(self.raw_path, "at", encoding="utf-8") as fh:
                fh.write(line)
        except OSError as exc:
            log.warning("could not keep the raw answer in %s: %s", self.raw_path, exc)


# --- parse (pure) ---------------------------------------------------------------------------

def parse_total(body: dict, tag: str, month: dt.date) -> int:
    total = body.get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise SourceError(f"Stack Exchange's count for [{tag}] in {month:%Y-%m} has no whole 'total' ({total!r}).",
                          "Check that filter=total is accepted by the server.")
    return total


def parse_first_question(body: dict, tag: str) -> dt.date | None:
    """Day of a tag's first question, None when the tag has none."""
    items = body.get("items")
    if not isinstance(items, list):
        raise SourceError(f"Stack Exchange's answer for [{tag}]'s first question has no 'items' list.", f"Check {SETTING}.")
    if not items:
        return None
    created = items[0].get("creation_date") if isinstance(items[0], dict) else None
    if not isinstance(created, int):
        raise SourceError(f"Stack Exchange's first question of [{tag}] has no creation_date.", f"Check {SETTING}.")
    return dt.datetime.fromtimestamp(created, dt.UTC).date()


def parse_tag_info(body: dict) -> dict[str, int]:
    items = body.get("items")
    if not isinstance(items, list):
        raise SourceError("Stack Exchange's tag info has no 'items' list.", f"Check {SETTING}.")
    return {i["name"]: int(i["count"]) for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)
            and isinstance(i.get("count"), int) and i["count"] >= 0}


def citation(tag: str, month: dt.date | None = None) -> str:
    if month is None:
        return f"{base_url()}/2.3/tags/{tag}/info?site={SITE}"
    lo, hi = month_bounds(month)
    return f"{base_url()}/2.3/questions?tagged={tag}&fromdate={lo}&todate={hi}&site={SITE}&filter=total"


def month_rows(points: list[tuple[str, str, dt.date, int]], retrieved: dt.datetime, raw_file: str | None = None) -> pd.DataFrame:
    return pd.DataFrame([{
        "source": NAME, "framework": fid, "metric": METRIC, "variant": tag, "date": month, "value": float(n),
        "subject": f"[{tag}]", "citation": citation(tag, month), "retrieved_at": retrieved, "raw_file": raw_file,
        "detail": {"method": "questions created in the month (filter=total)", "month": f"{month:%Y-%m}"},
    } for fid, tag, month, n in points])


# --- run --------------------------------------------------------------------------------------

def run(db_path: Path, frameworks: list[str] | None = None, *, max_requests: int | None = None,
        sleep: Callable[[float], None] = time.sleep, today: dt.date | None = None) -> store.Run:
    """Back-fill (resumable) and update monthly question counts, then refresh tag totals."""
    pairs = tags_for(frameworks)
    today = today or dt.datetime.now(dt.UTC).date()
    last_complete = month_start(month_start(today) - dt.timedelta(days=1))
    stored = stored_last_months(db_path)
    with store.tracked_run(db_path, NAME) as run_:
        fetcher = Fetcher(make_session(), sleep=sleep, max_attempts=2, origin=base_url())  # the key goes to this server only
        client = Client(fetcher, config.secret("STACKEXCHANGE_KEY"), sleep, reserve=RESERVE,
                        raw_path=config.raw_dir() / NAME / f"{run_.run_id}.jsonl.gz")
        raw_file = config.display_path(client.raw_path)
        pending: list[tuple[str, str, dt.date, int]] = []
        stopped: str | None = None
        asked = 0

        def budget_left() -> bool:
            return max_requests is None or fetcher.requests_made < max_requests

        def flush() -> None:
            nonlocal pending
            if pending:
                with db.write_session(db_path) as con:
                    run_.rows += store.upsert_observations(con, month_rows(pending, store.utcnow(), raw_file), run_id=run_.run_id)
                pending = []

        try:
            totals: dict[str, int] = {}
            if pairs and budget_left():
                body = client.get("tags/info", f"tags/{quote(';'.join(tag for _, tag in pairs), safe=';')}/info", {"pagesize": 100})
                totals = parse_tag_info(body)
            for fid, tag in pairs:
                last = stored.get(tag)
                first = None
                if last is None:
                    if not budget_left():
                        stopped = f"--max-requests {max_requests} reached"
                        break
                    body = client.get("questions", "questions", {"tagged": tag, "sort": "creation", "order": "asc", "pagesize": 1})
                    first = parse_first_question(body, tag)
                    if first is None:
                        run_.detail.setdefault("no_questions", []).append(tag)
                        continue
                for month in months_to_ask(first or last, last, last_complete):
                    if not budget_left():
                        stopped = f"--max-requests {max_requests} reached"
                        break
                    lo, hi = month_bounds(month)
                    body = client.get("questions", "questions", {"tagged": tag, "fromdate": lo, "todate": hi, "filter": "total"})
                    pending.append((fid, tag, month, parse_total(body, tag, month)))
                    asked += 1
                    if len(pending) >= CHECKPOINT_MONTHS:
                        flush()
                if stopped:
                    break
            flush()
            if totals:
                by_tag = {tag: fid for fid, tag in pairs}
                frame = pd.DataFrame([{
                    "source": NAME, "framework": by_tag[tag], "metric": TOTAL_METRIC, "variant": tag, "date": today,
                    "value": float(n), "subject": f"[{tag}]", "citation": citation(tag), "raw_file": raw_file,
                    "detail": {"method": "tag's question count now (tags/{tags}/info)"},
                } for tag, n in totals.items() if tag in by_tag])
                with db.write_session(db_path) as con:
                    run_.rows += store.upsert_observations(con, frame, run_id=run_.run_id) if not frame.empty else 0
        except QuotaSpent as exc:
            stopped = str(exc)
        except (ConnectionFailed, Unreachable) as exc:
            stopped = f"{exc.message} (setting {SETTING}={safe_url(base_url())})"
        except SourceError as exc:
            stopped = str(exc)
        finally:
            if stopped is not None and pending:
                flush()  # months already answered are kept: the next run resumes after them
        run_.requests = fetcher.requests_made
        behind = {tag: str(d) for tag, d in stored_last_months(db_path).items()}
        run_.detail.update(tags=[t for _, t in pairs], months_asked=asked, quota_remaining=client.quota_remaining,
                           quota_max=client.quota_max, backoffs_s=client.backoffs, last_month=str(last_complete),
                           stored_through=behind, key_set=bool(client.key))
        with db.write_session(db_path) as con:
            if stopped:
                run_.finish(con, "partial", f"{stopped} Months already answered are stored; the next run resumes.")
            else:
                run_.finish(con)
    return run_
