"""Google Trends search interest through pytrends (`interest_over_time`), stored as `trends_interest`.

pytrends' own retries stay at 0 (its Retry setup breaks on urllib3 2); we back off ourselves
on HTTP 429 with jitter under a total time cap, and when Google keeps refusing we stop and
point to the CSV route (`pulse ingest trends-csv`, ingest/trends_csv.py). More than 5 terms are
fetched in batches sharing an anchor term and stitched onto one scale (ingest/trends_scale.py).
The `TrendReq` client is built inside the fetch: its constructor already makes a request.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import requests
from pytrends.exceptions import ResponseError, TooManyRequestsError

from ingest import trends_scale, trends_store
from pulse import config, db, registry, store
from pulse.errors import RateLimited, SourceError

NAME = "trends"
DESCRIPTION = "Google Trends search interest over time (pytrends), many terms stitched onto one scale"
CADENCE = dt.timedelta(days=7)

DEFAULT_TIMEFRAME = "today 5-y"
DEFAULT_BASE = "https://trends.google.com/trends"
TIMEOUT = (5.0, 30.0)  # connect, and each read: a server sending a byte every 20 s never trips it...
REQUEST_DEADLINE = 90.0  # ...so every request also has a total deadline (seconds, answer included)
PAUSE_BETWEEN_BATCHES = 2.0  # seconds; Google answers bursts with 429
MAX_WAIT_CAP = 24 * 3600.0  # PULSE_TRENDS_MAX_WAIT above a day is a typo, not a plan
MAX_REPLAY_BYTES = 64 * 1024 * 1024
MAX_BODY = 16 * 1024 * 1024  # bytes per answer; a 5-term 'all' request answers ~60 KB

log = logging.getLogger(__name__)


def base_url() -> str:
    return os.environ.get("PULSE_TRENDS_URL", DEFAULT_BASE).rstrip("/")


def max_wait() -> float:
    raw = os.environ.get("PULSE_TRENDS_MAX_WAIT", "600")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= MAX_WAIT_CAP:
        raise SourceError(f"PULSE_TRENDS_MAX_WAIT='{raw}' is not a number of seconds between 0 and {MAX_WAIT_CAP:.0f}.",
                          "Set it to e.g. 600.")
    return value


class RequestDeadline(Exception):
    """A request to Google Trends ran past REQUEST_DEADLINE (the server answered too slowly)."""


def with_deadline(call: Callable[[], object], seconds: float, what: str):
    """Run one blocking request under a total deadline.

    requests' timeout is per socket read, so a server that drips bytes holds a call for ever.
    The call runs in a daemon thread; past the deadline it is abandoned (its socket closes when
    the process ends, and it can store nothing: results come back only through this function).
    """
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"trends-request-{what}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise RequestDeadline(what)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def csv_hint(terms: list[str], geo: str, timeframe: str) -> str:
    return (
        f"Google limits automated requests: retry in an hour, or open {trends_store.explore_url(terms, geo, timeframe)} "
        "in a browser, download the 'Interest over time' CSV and import it with `pulse ingest trends-csv FILE` "
        "(or the upload box on the dashboard's Trends page)."
    )


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"


class _CappedBody:
    """A response body read through a byte cap (requests reads `raw.read` when there is no `stream`)."""

    def __init__(self, raw, url: str, limit: int):
        self._raw, self._url, self._limit, self._seen = raw, url, limit, 0

    def read(self, amt=None, *args, **kwargs):
        data = self._raw.read(amt, decode_content=True)
        self._seen += len(data or b"")
        if self._seen > self._limit:
            raise SourceError(f"Google Trends at {self._url.split('?')[0]} answered with more than {_size(self._limit)}; "
                              "the run stopped.", "Check PULSE_TRENDS_URL: a Trends answer is a few KB.")
        return data

    def __getattr__(self, name):
        if name == "stream":  # make requests use read() above
            raise AttributeError(name)
        return getattr(self._raw, name)


def cap_body(response: requests.Response, limit: int | None = None) -> None:
    """Refuse an answer over `limit` bytes (by its Content-Length, else while it is read)."""
    limit = MAX_BODY if limit is None else limit
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > limit:
        raise SourceError(f"Google Trends at {response.url.split('?')[0]} announced an answer of {int(length):,} bytes, over the "
                          f"{_size(limit)} cap; the run stopped.", "Check PULSE_TRENDS_URL: a Trends answer is a few KB.")
    if response.raw is not None:
        response.raw = _CappedBody(response.raw, response.url, limit)


def make_client(base: str, on_response: Callable[[requests.Response], None]):
    """A pytrends TrendReq whose URLs start at `base` (constructing it makes one request)."""
    from pytrends import request as pt_request

    class Client(pt_request.TrendReq):
        GENERAL_URL = f"{base}/api/explore"
        INTEREST_OVER_TIME_URL = f"{base}/api/widgetdata/multiline"

        def GetGoogleCookie(self):  # noqa: N802  (pytrends' name) - its version hard-codes Google's URL
            reply = requests.get(f"{base}/explore/?geo={self.hl[-2:]}", timeout=self.timeout, **self.requests_args)
            return dict(filter(lambda i: i[0] == "NID", reply.cookies.items()))

        def _get_data(self, url, method="get", trim_chars=0, **kwargs):
            data = super()._get_data(url, method=method, trim_chars=trim_chars, **kwargs)
            self.captured.append({"url": url, "params": kwargs.get("params"), "body": data})
            return data

    client = Client(hl="en-US", tz=0, timeout=TIMEOUT, retries=0, backoff_factor=0,
                    requests_args={"hooks": {"response": [lambda r, *a, **k: on_response(r), lambda r, *a, **k: cap_body(r)]}})
    client.captured = []
    return client


@dataclass
class Backoff:
    """Bounded exponential back-off with jitter under a total time cap (sleep/clock injectable)."""

    max_attempts: int = 6
    first_wait: float = 20.0
    max_each: float = 240.0
    total_cap: float = 600.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    started: float | None = None
    waited: float = 0.0

    def next_wait(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before attempt+1, or None when the attempts or the time cap are spent."""
        if self.started is None:
            self.started = self.clock()
        if attempt >= self.max_attempts:
            return None
        wait = min(self.max_each, self.first_wait * 2 ** (attempt - 1))
        wait = wait / 2 + self.rng.uniform(0, wait / 2)  # "equal jitter": never less than half
        if retry_after is not None:
            wait = max(wait, retry_after)
        if self.clock() - self.started + wait > self.total_cap:
            return None
        return wait

    def pause(self, seconds: float) -> None:
        self.waited += seconds
        self.sleep(seconds)


@dataclass
class Fetched:
    """Plain data from one fetch: the batches, the requests made, the raw bodies."""

    terms: list[str]
    geo: str
    timeframe: str
    batches: list[trends_scale.Batch] = field(default_factory=list)
    anchor: str | None = None
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    waited: float = 0.0
    raw: list[dict] = field(default_factory=list)
    retrieved_at: dt.datetime | None = None


def normalise_geo(geo: str | None) -> str:
    """'' for worldwide (also 'world'/'worldwide'), else Google's upper-case code (US, GB, US-CA)."""
    code = (geo or "").strip().upper()
    return "" if code in ("", "WORLD", "WORLDWIDE") else code


def check_request(timeframe: str) -> None:
    """Refuse windows whose points are finer than a day: observations are daily."""
    if timeframe.strip().lower().startswith("now ") or "T" in timeframe.split(" ")[0][10:11]:
        raise SourceError(f"The timeframe '{timeframe}' gives hourly or minute data, which cannot be stored (observations are daily).",
                          "Use 'today 1-m', 'today 3-m', 'today 12-m', 'today 5-y', 'all' or 'YYYY-MM-DD YYYY-MM-DD'.")


def _where(terms: list[str], geo: str, timeframe: str) -> str:
    return f"Google Trends ({', '.join(terms)}; {trends_store.geo_label(geo)}, {timeframe})"


def _source_error(exc: Exception, where: str, base: str, hint: str) -> SourceError:
    """A user-facing error for everything but 429 (which is retried)."""
    if isinstance(exc, ResponseError):
        response = exc.response
        status = getattr(response, "status_code", "?")
        kind = response.headers.get("Content-Type", "") if response is not None else ""
        if status == 200 and "html" in kind:
            return SourceError(f"{where} answered with a web page instead of data (a consent or robot check).", hint)
        return SourceError(f"{where} answered HTTP {status}.", hint)
    if isinstance(exc, requests.RequestException):
        return SourceError(f"Could not reach {where} at {base}: {type(exc).__name__}.",
                           "Check the network (or PULSE_TRENDS_URL), then retry.")
    return SourceError(f"{where} answered with a body pytrends cannot parse ({type(exc).__name__}: {exc}).",
                       "Google may have changed its API; " + hint)


def _retry_after(exc) -> float | None:
    value = getattr(getattr(exc, "response", None), "headers", {}).get("Retry-After", "")
    return float(value) if str(value).strip().isdigit() else None


def _batch_from(frame: pd.DataFrame, body: dict, terms: list[str], request_no: int) -> trends_scale.Batch:
    if frame.empty:
        raise SourceError(f"Google Trends returned no data for {', '.join(terms)}.", "Check the terms, geo and timeframe.")
    frame = frame.copy()
    frame.index = pd.to_datetime(frame.index).normalize()
    if frame.index.has_duplicates:
        raise SourceError(f"Google Trends returned several points per day for {', '.join(terms)} (hourly data).",
                          "Use a window of a month or more, e.g. 'today 3-m'.")
    timeline = body.get("default", {}).get("timelineData", [])
    below = pd.DataFrame(False, index=frame.index, columns=terms)
    for point in timeline:
        day = pd.Timestamp(int(point["time"]), unit="s").normalize()
        for term, shown in zip(terms, point.get("formattedValue", []), strict=False):
            if shown == "<1" and day in below.index:
                below.at[day, term] = True
    values = frame[terms].astype(float).mask(below, trends_scale.BELOW_ONE)
    partial = [d.date() for d in frame.index[frame["isPartial"].astype(bool)]] if "isPartial" in frame else []
    return trends_scale.Batch(list(terms), values, below, {"request": request_no, "partial": partial})


def fetch_interest(terms: list[str], geo: str = "", timeframe: str = DEFAULT_TIMEFRAME, *,
                   backoff: Backoff | None = None, base: str | None = None, pause: float = PAUSE_BETWEEN_BATCHES,
                   result: Fetched | None = None) -> Fetched:
    """Interest over time for the terms (batched by 5 around an anchor); IO only, plain data out.

    Pass `result` to keep the request counts when this raises.
    """
    check_request(timeframe)
    backoff = backoff or Backoff(total_cap=max_wait())
    result = result or Fetched(list(terms), geo, timeframe)

    def count(response: requests.Response) -> None:
        result.requests += 1
        result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1

    client = None
    batch_terms = trends_scale.first_batch(terms)
    pending: list[list[str]] = [batch_terms]
    while pending:
        batch_terms = pending.pop(0)
        if result.batches:
            backoff.pause(pause)
        attempt = 0
        while True:
            attempt += 1
            try:
                if client is None:
                    client = with_deadline(lambda: make_client(base or base_url(), count), REQUEST_DEADLINE, "cookie")
                client.captured.clear()
                with_deadline(lambda: client.build_payload(batch_terms, timeframe=timeframe, geo=geo), REQUEST_DEADLINE, "explore")
                frame = with_deadline(client.interest_over_time, REQUEST_DEADLINE, "multiline")
                break
            except TooManyRequestsError as exc:
                wait = backoff.next_wait(attempt, _retry_after(exc))
                if wait is None:
                    result.waited = backoff.waited
                    raise RateLimited(
                        f"{_where(batch_terms, geo, timeframe)} kept answering 429 Too Many Requests: {attempt} attempts, "
                        f"{backoff.waited:.0f}s of back-off.",
                        csv_hint(terms, geo, timeframe),
                    ) from None
                log.info("429 from Google Trends; waiting %.0fs before attempt %d", wait, attempt + 1)
                backoff.pause(wait)
            except RequestDeadline as exc:
                result.waited = backoff.waited
                raise SourceError(
                    f"{_where(batch_terms, geo, timeframe)} at {base or base_url()} did not answer the {exc} request within "
                    f"{REQUEST_DEADLINE:.0f} s (it answered too slowly, or not at all); the run stopped.",
                    "Check the network (or PULSE_TRENDS_URL), then retry; or use the CSV route: " + csv_hint(terms, geo, timeframe),
                ) from None
            except (ResponseError, requests.RequestException, ValueError, KeyError, TypeError) as exc:
                raise _source_error(exc, _where(batch_terms, geo, timeframe), base or base_url(), csv_hint(terms, geo, timeframe)) from None
        body = next((c["body"] for c in reversed(client.captured) if c["url"].endswith("/multiline")), {})
        result.raw.extend({"request": len(result.batches), **c} for c in client.captured)
        batch = _batch_from(frame, body, batch_terms, len(result.batches))
        result.batches.append(batch)
        if len(result.batches) == 1 and len(terms) > trends_scale.MAX_TERMS:
            try:
                result.anchor = trends_scale.pick_anchor(batch)
            except ValueError as exc:
                raise SourceError(f"Cannot choose an anchor term: {exc}.", "Put a frequently searched framework first.") from None
            pending = trends_scale.next_batches(terms, result.anchor)
    result.waited = backoff.waited
    result.retrieved_at = store.utcnow()
    return result


def _frame_from_body(body: dict, terms: list[str]) -> pd.DataFrame:
    """What pytrends' interest_over_time builds from a multiline body (for replays)."""
    points = body.get("default", {}).get("timelineData", [])
    if not points:
        return pd.DataFrame()
    index = pd.to_datetime([float(p["time"]) for p in points], unit="s")
    frame = pd.DataFrame([p["value"] for p in points], index=index, columns=terms).astype(int)
    frame["isPartial"] = [bool(p.get("isPartial", False)) for p in points]
    return frame


def replay(path: Path) -> Fetched:
    """Rebuild a fetch from a raw file kept by keep_raw (no network): for debugging and re-loads."""
    from ingest.trends_csv import read_bounded

    data = read_bounded(Path(path), MAX_REPLAY_BYTES, "a raw Trends file")
    try:
        saved = json.loads(data.decode("utf-8"))
        fetched = Fetched(saved["terms"], saved["geo"], saved["timeframe"])
        fetched.retrieved_at = dt.datetime.fromisoformat(saved["retrieved_at"])
        by_request: dict[int, dict] = {}
        for item in saved["responses"]:
            slot = by_request.setdefault(item["request"], {})
            if item["url"].endswith("/explore"):
                slot["terms"] = [c["keyword"] for c in json.loads(item["params"]["req"])["comparisonItem"]]
            elif item["url"].endswith("/multiline"):
                slot["body"] = item["body"]
        for number in sorted(by_request):
            slot = by_request[number]
            frame = _frame_from_body(slot["body"], slot["terms"])
            fetched.batches.append(_batch_from(frame, slot["body"], slot["terms"], number))
    except FileNotFoundError:
        raise SourceError(f"Cannot replay {path}: no such file.", "Pass a file from PULSE_RAW_DIR/trends/.") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise SourceError(f"Cannot replay {path}: it is not a raw Trends file kept by `pulse ingest trends` ({type(exc).__name__}: {exc}).",
                          "Pass a file from PULSE_RAW_DIR/trends/.") from None
    if len(fetched.batches) > 1:
        fetched.anchor = trends_scale.pick_anchor(fetched.batches[0])
    return fetched


def keep_raw(fetched: Fetched, run_id: str) -> Path:
    """Save every answered body (JSON) so a load can be replayed; return the file."""
    from ingest.trends_csv import write_raw

    path = config.raw_dir() / NAME / f"{dt.date.today().isoformat()}-{run_id}.json"
    payload = {"terms": fetched.terms, "geo": fetched.geo, "timeframe": fetched.timeframe,
               "retrieved_at": (fetched.retrieved_at or store.utcnow()).isoformat(), "responses": fetched.raw}
    write_raw(path, json.dumps(payload, default=str).encode("utf-8"), "the Google Trends answers")
    return path


def save(con, fetched: Fetched, run: store.Run, raw_file: Path, term_ids: dict[str, str]) -> int:
    """Stitch the batches and store one variant (replacing that variant's previous request)."""
    stitched = trends_scale.stitch(fetched.batches, fetched.anchor)
    ids = [term_ids[t] for t in fetched.terms]
    variant = trends_store.variant_for(fetched.geo, fetched.timeframe, ids)
    retrieved_at = fetched.retrieved_at or store.utcnow()
    as_of = retrieved_at.date().isoformat()
    detail = {"route": "pytrends", "geo": trends_store.geo_label(fetched.geo), "timeframe": fetched.timeframe,
              "terms": fetched.terms, "anchor": stitched.anchor, "as_of": as_of, "batches": len(fetched.batches)}
    per_term = {t: {"batch": stitched.batch_of[t], "factor": round(stitched.factors[t], 6)} for t in stitched.values.columns}
    partial = {d for b in fetched.batches for d in b.meta.get("partial", [])}
    frame = trends_store.rows(
        stitched.values, stitched.below_one, source=NAME, term_ids=term_ids, variant=variant,
        citation=trends_store.explore_url(fetched.terms[:5], fetched.geo, fetched.timeframe) + " (via pytrends)",
        raw_file=config.display_path(raw_file), detail=detail, per_term_detail=per_term, partial_dates=partial,
    )
    run.detail.update({"variant": variant, "anchor": stitched.anchor, "unscaled": stitched.unscaled,
                       "statuses": fetched.statuses, "waited_s": round(fetched.waited, 1)})
    return trends_store.replace_variant(con, frame, run.run_id, retrieved_at) if not frame.empty else 0


def terms_for(framework_ids: list[str] | None) -> dict[str, str]:
    """Search term -> framework id, for the given ids (default: every framework with a term)."""
    chosen = registry.validate(framework_ids) if framework_ids else trends_store.trend_frameworks()
    mapping = {}
    for fid in chosen:
        terms = registry.get(fid).trends
        if not terms:
            raise SourceError(f"Framework '{fid}' has no Google Trends term.", "Add `trends = [\"...\"]` to it in pulse/frameworks.toml.")
        mapping[terms[0]] = fid
    return mapping


def run(db_path: Path, timeframe: str = DEFAULT_TIMEFRAME, geo: str = "", frameworks: list[str] | None = None,
        backoff: Backoff | None = None, replay_file: Path | None = None) -> store.Run:
    """Fetch, stitch and store one request (default: every framework, worldwide, 5 years).

    With `replay_file` (a raw file kept by an earlier run) nothing is fetched: it is re-loaded.
    """
    if replay_file is not None:
        fetched = replay(replay_file)
        term_ids = {t: fid for t, fid in registry.by_key("trends").items()}
        term_ids = {t: term_ids[t.lower()] for t in fetched.terms if t.lower() in term_ids}
        if len(term_ids) < len(fetched.terms):
            raise SourceError(f"Cannot replay {replay_file}: some terms no longer map to a framework.", "Check pulse/frameworks.toml.")
    else:
        term_ids = terms_for(frameworks)
        if normalise_geo(geo):
            from ingest import trends_geo

            try:
                trends_geo.check_code(geo)
            except trends_geo.UnknownRegion as exc:
                raise SourceError(f"--geo {exc}.", "Use an ISO 3166 code such as US, DE or US-CA (leave it out for worldwide).") from None
        geo = normalise_geo(geo)
        check_request(timeframe)
    with store.tracked_run(db_path, NAME) as run_:
        if replay_file is not None:
            raw_file = Path(replay_file)
            run_.detail["replayed"] = config.display_path(raw_file)
        else:
            fetched = Fetched(list(term_ids), geo, timeframe)
            try:
                fetch_interest(list(term_ids), geo, timeframe, backoff=backoff, result=fetched)
            finally:
                run_.requests = fetched.requests
                run_.detail.update({"statuses": fetched.statuses, "waited_s": round(fetched.waited, 1)})
            raw_file = keep_raw(fetched, run_.run_id)
        with db.write_session(db_path) as con:
            run_.rows = save(con, fetched, run_, raw_file, term_ids)
            unscaled = run_.detail.get("unscaled") or []
            if unscaled:
                run_.finish(con, "partial", f"could not place {', '.join(unscaled)} on the common scale: the anchor "
                            f"'{fetched.anchor}' was too small beside them")
            else:
                run_.finish(con)
    return run_
