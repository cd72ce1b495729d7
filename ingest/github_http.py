"""GitHub HTTP plumbing: conditional requests (ETags), rate limits, raw envelopes, replay.

Every response with a body is kept as a gzip "envelope" (URL, status, the headers that
matter, body) under raw_dir()/github/<owner>__<repo>/<run stamp>/<name>.json.gz. A 304
answer is served from the envelope its ETag was recorded with, so a conditional request
costs no rate-limit budget and still yields the body. `ReplayAdapter` answers requests
from a directory of envelopes, so a whole ingest can be replayed without the network.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import BaseAdapter

from ingest.http import (
    MAX_BODY_BYTES, REQUEST_DEADLINE, Fetcher, Unreachable, make_session, origin_text, retry_after_seconds, safe_url, strip_credentials, url_credentials,
)
from pulse.config import display_path, known_secret_values, redact
from pulse.errors import RateLimited, SourceError

log = logging.getLogger(__name__)

API_VERSION_HISTORY = "2026-03-10"
KEPT_HEADERS = ("ETag", "Link", "Content-Type", "Last-Modified", "X-RateLimit-Remaining", "X-RateLimit-Reset")
FIRST_DIR = "_first"  # raw/github/_first/<endpoint>.json.gz: the first answer of each endpoint, never replaced
DROPPED_HEADERS = ("Set-Cookie",)


class RawWriteFailed(SourceError):
    """A raw response could not be written (disk full, read-only, no permission): the run stops, nothing stored."""


# Errors after which no further request of this run is made.
STOPS_RUN = (RateLimited, Unreachable, RawWriteFailed)
_LAST_RE = re.compile(r'<([^>]+)>\s*;\s*rel="last"')


def last_page(link: str | None) -> int | None:
    """The page number of the `rel="last"` link, or None when there is no such link."""
    match = _LAST_RE.search(link or "")
    if not match:
        return None
    query = dict(p.split("=", 1) for p in urlsplit(match.group(1)).query.split("&") if "=" in p)
    return int(query["page"]) if query.get("page", "").isdigit() else None


def url_key(url: str) -> str:
    """Path plus sorted query: how replay matches a request to a recorded envelope."""
    parts = urlsplit(url)
    query = "&".join(sorted(p for p in parts.query.split("&") if p))
    return parts.path + ("?" + query if query else "")


def read_envelope(path: Path) -> dict:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return json.load(fh)


def write_envelope(path: Path, envelope: dict) -> None:
    """Write a gzip JSON envelope whole or not at all; RawWriteFailed (one line) on any OS error."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(tmp, "wt", encoding="utf-8") as fh:
            json.dump(envelope, fh)
        tmp.replace(path)
    except OSError as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise RawWriteFailed(
            f"Could not write the raw response {display_path(path)}: {exc.strerror or type(exc).__name__}.",
            "Free space in (or fix the permissions of) the raw directory, or point PULSE_RAW_DIR elsewhere, "
            "then run again; nothing from this run was stored.",
        ) from None


@dataclass
class Reply:
    """One answered request: status, parsed body (for 200/304) and where the body is kept."""

    url: str
    status: int
    headers: dict
    data: object = None
    raw_file: str | None = None
    not_modified: bool = False
    final_url: str | None = None
    etag: str | None = None
    fetched_at: dt.datetime | None = None  # naive UTC: when the body was fetched (replay: recorded time)

    @property
    def message(self) -> str:
        return str(self.data.get("message", "")) if isinstance(self.data, dict) else ""


def _recorded_time(text: str, raw_file: str | None) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SourceError(f"Recorded response {raw_file} has a bad fetched_at ({text[:40]!r}).",
                          "Replay only envelopes written by `pulse ingest github`.") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC).replace(tzinfo=None)


def _header(headers, name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def token_note(token: str | None) -> str:
    if token:
        return "GITHUB_TOKEN is set (5,000 requests/hour)."
    return "GITHUB_TOKEN is not set (anonymous limit: 60 requests/hour); set it to raise the limit."


@dataclass
class GitHubClient:
    """GET against the GitHub REST API with ETags, rate-limit handling and raw envelopes.

    `etags` maps URL -> {"etag", "raw_file"} from earlier runs; `new_etags` collects what this
    run learnt (written by the caller, in the same write session as the data).
    """

    base_url: str
    token: str | None = None
    raw_root: Path | None = None  # raw_dir()/github; None: keep nothing
    stamp: str = "run"
    etags: dict = field(default_factory=dict)
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session | None = None
    max_wait: float = 120.0
    replay: bool = False
    new_etags: dict = field(default_factory=dict)
    remaining: int | None = None
    reset_at: float | None = None
    run_seconds: float | None = None  # no request starts or runs past this many seconds from now
    request_seconds: float = REQUEST_DEADLINE  # one whole answer, headers and body
    max_bytes: int = MAX_BODY_BYTES

    def __post_init__(self):
        # Credentials written in the base URL are used (Basic auth, when no token is set) but never
        # kept in it: every URL built, stored or printed comes from the stripped base.
        user, password = url_credentials(self.base_url)
        self.base_url = strip_credentials(self.base_url).rstrip("/")
        self.url_auth = bool(user or password)
        self._secrets = sorted({v for v in [self.token, password, user if not password else None, *known_secret_values()]
                                if v and len(v) >= 4}, key=len, reverse=True)
        if self.session is None:
            self.session = make_session(self.token, headers={"Accept": "application/vnd.github+json"})
            if not self.token and self.url_auth:
                pair = f"{user or ''}:{password or ''}".encode()
                self.session.headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        self.run_deadline = time.monotonic() + self.run_seconds if self.run_seconds else None
        self._local = threading.local()
        self._fetchers: list[Fetcher] = []
        self._lock = threading.Lock()
        self.waited = 0.0

    # Fetcher counters are plain ints: one Fetcher per thread keeps them exact.
    def _fetcher(self) -> Fetcher:
        fetcher = getattr(self._local, "fetcher", None)
        if fetcher is None:
            fetcher = Fetcher(self.session, sleep=self.sleep, max_wait=self.max_wait, origin=self.base_url,
                              run_deadline=self.run_deadline, deadline=self.request_seconds, max_bytes=self.max_bytes)
            self._local.fetcher = fetcher
            with self._lock:
                self._fetchers.append(fetcher)
        return fetcher

    @property
    def requests_made(self) -> int:
        return sum(f.requests_made for f in self._fetchers)

    @property
    def not_modified(self) -> int:
        return sum(f.not_modified for f in self._fetchers)

    def url(self, path: str, params: dict | None = None) -> str:
        return f"{self.base_url}{path}" + (f"?{urlencode(params)}" if params else "")

    @property
    def base_text(self) -> str:
        """The base URL for messages (credentials stripped)."""
        return origin_text(self.base_url) + (urlsplit(self.base_url).path.rstrip("/"))

    def scrub(self, text: str) -> str:
        """Text with every known secret (token, URL credentials) replaced by '***'."""
        for value in self._secrets:
            text = text.replace(value, "***")
        return redact(text)

    def _wait(self, seconds: float) -> bool:
        with self._lock:
            if self.waited + seconds > self.max_wait:
                return False
            if self.run_deadline is not None and time.monotonic() + seconds > self.run_deadline:
                return False
            self.waited += seconds
        self.sleep(seconds)
        return True

    def _rate_limited(self, path: str, response: requests.Response | None = None) -> RateLimited:
        reset = self.reset_at
        when = ""
        if reset:
            at = dt.datetime.fromtimestamp(reset, dt.UTC)
            minutes = max(0, round((reset - time.time()) / 60))
            when = f" It resets at {at:%Y-%m-%d %H:%M} UTC (in about {minutes} min)."
        status = f" (HTTP {response.status_code})" if response is not None else ""
        return RateLimited(
            f"GitHub API rate limit reached{status} while requesting {safe_url(path)}; stopped cleanly.{when}",
            token_note(self.token) + " Data stored before this run is kept; run again after the reset.",
            reset_at=reset,
        )

    def _note_limits(self, response: requests.Response) -> None:
        remaining, reset = response.headers.get("X-RateLimit-Remaining"), response.headers.get("X-RateLimit-Reset")
        with self._lock:
            if remaining is not None and remaining.strip().isdigit():
                self.remaining = int(remaining)
            if reset is not None and reset.strip().isdigit():
                self.reset_at = float(reset)

    def get(self, path: str, params: dict | None = None, *, slug: str, name: str, headers: dict | None = None,
            conditional: bool = True) -> Reply:
        """GET base_url+path; 200/304 come back parsed, 403/404/410/451 as a Reply for the caller.

        Raises RateLimited when the budget is spent (primary or secondary limit beyond what
        Retry-After lets us wait) and SourceError for 5xx after retries or a malformed body.
        """
        url = self.url(path, params)
        sent = dict(headers or {})
        cached = self.etags.get(url) if conditional and not self.replay else None
        cached_file = Path(cached["raw_file"]) if cached and cached.get("raw_file") else None
        if cached and cached.get("etag") and cached_file and cached_file.exists():
            sent["If-None-Match"] = cached["etag"]
        attempt = 0
        while True:
            attempt += 1
            if self.remaining == 0 and self.reset_at and self.reset_at > time.time():
                raise self._rate_limited(path)
            log.info("GET %s", safe_url(url))
            response = self._fetcher().get(url, headers=sent, ok=(200, 403, 404, 410, 429, 451))
            self._note_limits(response)
            if response.status_code in (403, 429) and self._is_rate_limit(response):
                wait = retry_after_seconds(response)
                if wait is None and response.status_code == 429 and self.remaining != 0:
                    wait = min(60.0, 2.0 ** attempt)
                if wait is not None and attempt < 4 and self._wait(wait):
                    log.info("rate limited on %s; waiting %.0fs as asked", safe_url(url), wait)
                    continue
                raise self._rate_limited(path, response)
            break
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if response.status_code == 304:
            if cached_file is None:
                raise SourceError(f"GitHub answered {safe_url(url)} with 304 to a request that named no ETag.", "Retry later.")
            try:
                envelope = read_envelope(cached_file)
            except (OSError, ValueError, EOFError, KeyError):
                log.warning("kept response %s is unreadable; asking again without an ETag", cached_file)
                return self.get(path, params, slug=slug, name=name, headers=headers, conditional=False)
            return Reply(url, 200, envelope.get("headers", {}), self._parse(envelope["body"], url),
                         display_path(cached_file), True, envelope.get("final_url"), cached.get("etag"), now)
        # Scrubbed before anything is kept or parsed: a server echoing a token cannot get it stored.
        body = self.scrub(response.text)
        kept = {h: self.scrub(response.headers[h]) for h in KEPT_HEADERS if h in response.headers}
        final_url = self.scrub(strip_credentials(response.url))
        # Only the replay adapter may say where a body is kept and when it was fetched; a live
        # server's headers of any name are never read for that.
        raw_file = getattr(response, "pulse_raw_file", None) if self.replay else None
        if raw_file is None and self.raw_root is not None:
            target = self.raw_root / slug / self.stamp / f"{name}.json.gz"
            envelope = {
                "url": self.scrub(url), "final_url": final_url, "status": response.status_code,
                "headers": kept, "fetched_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "redirected_from": [self.scrub(strip_credentials(r.url)) for r in response.history], "body": body,
            }
            write_envelope(target, envelope)
            raw_file = str(target)
            self._keep_first(name, envelope, response)
        # Parsed after the envelope is written: a malformed body is kept for debugging, never cached.
        data = self._parse(body, url) if response.status_code == 200 else self._parse_quiet(body)
        etag = response.headers.get("ETag")
        if response.status_code == 200 and etag and raw_file and not self.replay:
            with self._lock:
                self.new_etags[url] = {"etag": etag, "raw_file": raw_file, "link": kept.get("Link")}
        fetched = getattr(response, "pulse_fetched_at", None) if self.replay else None
        fetched_at = _recorded_time(fetched, raw_file) if fetched else now
        return Reply(url, response.status_code, kept, data, display_path(Path(raw_file)) if raw_file else None,
                     False, final_url, etag, fetched_at)

    def first_answer(self, name: str) -> Path | None:
        """Where the first answer of this endpoint kind is kept (None when raw files are not kept)."""
        return self.raw_root / FIRST_DIR / f"{name.split('/')[0]}.json.gz" if self.raw_root is not None else None

    def _keep_first(self, name: str, envelope: dict, response: requests.Response) -> None:
        """Keep the first answer of each endpoint with all its headers, so its exact shape can be replayed."""
        target = self.first_answer(name)
        if target is None or target.exists():
            return
        headers = {k: self.scrub(v) for k, v in response.headers.items() if k not in DROPPED_HEADERS}
        with self._lock:
            if not target.exists():
                write_envelope(target, {**envelope, "headers": headers, "kept_as": "first answer of this endpoint"})

    def forget(self, url: str) -> None:
        """Do not record this URL's ETag (its body was rejected)."""
        with self._lock:
            self.new_etags.pop(url, None)

    @staticmethod
    def _is_rate_limit(response: requests.Response) -> bool:
        if response.status_code == 429:
            return True
        if response.headers.get("X-RateLimit-Remaining") == "0" or response.headers.get("Retry-After"):
            return True
        return "rate limit" in response.text.lower()

    @staticmethod
    def _parse(body: str, url: str):
        try:
            return json.loads(body)
        except ValueError as exc:
            raise SourceError(
                f"GitHub answered {safe_url(url)} with malformed or truncated JSON ({exc.msg} at char {exc.pos} of {len(body)}).",
                "Retry later; nothing from this response was stored.",
            ) from None

    @staticmethod
    def _parse_quiet(body: str):
        try:
            return json.loads(body)
        except ValueError:
            return None


class ReplayAdapter(BaseAdapter):
    """A requests transport answering from recorded envelopes (newest body per URL)."""

    def __init__(self, directory: Path):
        super().__init__()
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise SourceError(f"Replay directory {self.directory} does not exist.", "Pass a directory of raw GitHub responses, e.g. data/raw/github.")
        self.index: dict[str, tuple[str, Path, dict]] = {}
        for path in sorted(self.directory.rglob("*.json.gz")):
            try:
                envelope = read_envelope(path)
            except (OSError, ValueError, EOFError) as exc:
                log.warning("replay: skipped unreadable %s (%s)", path, exc)
                continue
            if envelope.get("status") != 200:
                continue
            stamp = envelope.get("fetched_at", "")
            for key in {url_key(envelope.get("url", "")), url_key(envelope.get("final_url") or envelope.get("url", ""))}:
                if key not in self.index or self.index[key][0] <= stamp:
                    self.index[key] = (stamp, path, envelope)
        if not self.index:
            raise SourceError(f"Replay directory {self.directory} holds no recorded GitHub responses (*.json.gz).",
                              "Point --replay at data/raw/github or one repository's folder in it.")

    def send(self, request, **kwargs):
        response = requests.Response()
        response.request = request
        response.url = request.url
        found = self.index.get(url_key(request.url))
        if found is None:
            response.status_code = 404
            response._content = json.dumps({"message": "Not in the replay directory"}).encode()
            return response
        _, path, envelope = found
        response.status_code = 200
        response.headers.update(envelope.get("headers", {}))
        # Where the body came from travels as attributes, not headers: a live server could send headers.
        response.pulse_raw_file = str(path)
        response.pulse_fetched_at = envelope.get("fetched_at")
        response._content = str(envelope.get("body", "")).encode("utf-8")
        response.encoding = "utf-8"
        return response

    def close(self):
        pass


def replay_session(directory: Path) -> requests.Session:
    session = make_session(None)
    adapter = ReplayAdapter(directory)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
