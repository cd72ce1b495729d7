"""One HTTP layer for every source: timeouts and deadlines, User-Agent, auth kept to one server,
bounded retries, capped bodies, short error messages.

- Deadlines: besides the per-operation (connect, read) timeouts, every exchange has a total
  deadline (`REQUEST_DEADLINE`) that covers the headers and the whole body, so a server that
  drips a byte every few seconds cannot hold a run; a caller may also give a run deadline.
- Retries: 429 and 5xx are retried a bounded number of times, honouring `Retry-After`
  (seconds or HTTP date) and never sleeping past `max_wait` in total. A connection that cannot
  be made at all (refused, DNS, TLS, connect timeout) is not retried: `ConnectionFailed`
  tells the caller that nothing else on that server will work either.
- Credentials: `strip_credentials` removes `user:password@` from URLs before anything is stored
  or printed; `same_origin` compares scheme, host and port. A Fetcher given an `origin` asks
  only URLs of that origin (redirects are followed one by one and checked), so a token never
  reaches another server. Tokens go in headers only and are scrubbed from every message
  (pulse.config.redact).
- Bodies are read streamed and capped (`MAX_BODY_BYTES`).
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from pulse import __version__
from pulse.config import redact
from pulse.errors import RateLimited, SourceError

log = logging.getLogger(__name__)

USER_AGENT = f"framework-pulse/{__version__} (+https://github.com/framework-pulse)"
DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read (each socket operation)
REQUEST_DEADLINE = 60.0  # seconds for one whole exchange: connect, headers and body
MAX_BODY_BYTES = 64 * 1024 * 1024  # an API page is kilobytes; anything near this is not one
MAX_REDIRECTS = 5
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


# --- URLs and credentials -----------------------------------------------------------------

def strip_credentials(url: str) -> str:
    """The URL without any `user:password@` part (for storing, logging and printing)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def url_credentials(url: str) -> tuple[str | None, str | None]:
    """(user, password) written inside a URL, percent-decoded; (None, None) when there are none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return user, password


def origin_of(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) with the scheme's default port filled in; None for a relative or bad URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if not scheme or not host:
        return None
    return scheme, host, port if port is not None else _DEFAULT_PORTS.get(scheme)


def same_origin(url: str, base: str) -> bool:
    """True when url has exactly the scheme, host and port of base (where a token may go)."""
    a, b = origin_of(url), origin_of(base)
    return a is not None and a == b


def origin_text(url: str) -> str:
    """scheme://host[:port] of a URL, credentials removed (for messages)."""
    parts = urlsplit(strip_credentials(url))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else safe_url(url)


def safe_url(url: str) -> str:
    """URL for logs and errors: credentials stripped and secrets scrubbed; query strings kept."""
    return redact(strip_credentials(url))


def retry_after_seconds(response: requests.Response, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or HTTP date); None if absent."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (now if now is not None else time.time()))


# --- Errors that end a run ----------------------------------------------------------------

class Unreachable(SourceError):
    """The server cannot be used this run (no connection, no answer in time): stop asking it."""

    def __init__(self, message: str, hint: str | None = None, *, url: str = "", reason: str = "", kind: str = "network"):
        self.url, self.reason, self.kind = url, reason, kind
        super().__init__(message, hint)

    def advice(self, setting: str) -> str:
        """What to check, naming the setting that holds the base URL."""
        return {
            "refused": f"Check {setting} (host and port) and that the server is up; a firewall or proxy may refuse the connection.",
            "dns": f"Check the host name in {setting} and this machine's network and DNS.",
            "tls": f"Check the scheme in {setting} (https needs a TLS server) and this machine's CA certificates "
                   "(a TLS-intercepting proxy needs its certificate installed).",
            "connect-timeout": f"Check {setting} and the network: the server did not accept a connection in time.",
            "deadline": f"The server at {setting} is answering too slowly; try again later or check {setting}.",
        }.get(self.kind, f"Check the network and {setting}, then run again.")


class ConnectionFailed(Unreachable):
    """No connection could be made at all (refused, DNS, TLS, connect timeout)."""


class DeadlineExceeded(Unreachable):
    """An answer did not finish within its total deadline (or the run's time ran out)."""


class BodyTooLarge(SourceError):
    """A response body larger than the cap."""


def _causes(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    stack: list[object] = [exc]
    while stack and len(found) < 20:
        item = stack.pop()
        if not isinstance(item, BaseException) or any(item is f for f in found):
            continue
        found.append(item)
        stack.extend([getattr(item, "reason", None), item.__cause__, item.__context__, *item.args])
    return found


def describe_network_error(exc: BaseException, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> tuple[str, str]:
    """(kind, short reason) for a requests/urllib3 exception; kinds refused/dns/tls/connect-timeout are connection-level.

    urllib3's own text repeats the pool, URL and a repr per cause; this keeps one short clause.
    """
    causes = _causes(exc)

    def has(*types) -> BaseException | None:
        return next((c for c in causes if isinstance(c, types)), None)

    if has(urllib3.exceptions.NameResolutionError, socket.gaierror):
        return "dns", "the host name could not be resolved"
    tls = has(ssl.SSLError, requests.exceptions.SSLError, urllib3.exceptions.SSLError)
    if tls is not None:
        inner = has(ssl.SSLError)
        detail = (getattr(inner, "reason", None) or getattr(inner, "verify_message", None)) if inner else None
        return "tls", f"TLS handshake failed ({detail or type(tls).__name__})"
    if has(ConnectionRefusedError):
        return "refused", "connection refused"
    if has(requests.exceptions.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError):
        return "connect-timeout", f"no connection within {timeout[0]:.0f} s"
    new_conn = has(urllib3.exceptions.NewConnectionError)
    if new_conn is not None:
        os_error = has(OSError)
        return "refused", (os_error.strerror if isinstance(os_error, OSError) and os_error.strerror else "no connection")
    if has(requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, socket.timeout):
        return "timeout", f"no data for {timeout[1]:.0f} s"
    if has(ConnectionResetError, urllib3.exceptions.ProtocolError, ConnectionAbortedError, BrokenPipeError):
        return "dropped", "the connection was dropped mid-answer"
    if has(requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
        return "dropped", "the answer was cut off or badly encoded"
    return "network", type(exc).__name__


# --- A total deadline per exchange, enforced at the socket ----------------------------------

_deadline = threading.local()


@dataclass
class _Deadline:
    at: float
    expired: bool = False


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[_Deadline]:
    """Every socket read of this thread inside the block stops at now + seconds (TimeoutError)."""
    outer = getattr(_deadline, "current", None)
    current = _Deadline(time.monotonic() + max(0.0, seconds))
    if outer is not None:
        current.at = min(current.at, outer.at)
    _deadline.current = current
    try:
        yield current
    finally:
        _deadline.current = outer
        if outer is not None and current.expired:
            outer.expired = True


class _DeadlineSocket:
    """A connected socket whose every read also stops at the thread's exchange deadline.

    Per-read timeouts alone let a server that sends one byte every few seconds hold a request
    for ever; this shortens each read's timeout to what is left of the deadline.
    """

    def __init__(self, sock):
        self._sock = sock
        self._timeout = sock.gettimeout()

    def settimeout(self, value):
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self):
        return self._timeout

    def _read(self, method, *args):
        current = getattr(_deadline, "current", None)
        if current is None:
            self._sock.settimeout(self._timeout)
            return method(*args)
        left = current.at - time.monotonic()
        if left <= 0:
            current.expired = True
            raise socket.timeout("the exchange's deadline passed")
        self._sock.settimeout(left if self._timeout is None else min(self._timeout, left))
        try:
            return method(*args)
        except socket.timeout:
            if time.monotonic() >= current.at - 0.05:
                current.expired = True
            raise

    def recv_into(self, *args):
        return self._read(self._sock.recv_into, *args)

    def recv(self, *args):
        return self._read(self._sock.recv, *args)

    def makefile(self, mode="r", *args, **kwargs):
        if mode != "rb":
            return self._sock.makefile(mode, *args, **kwargs)
        raw = socket.SocketIO(self, "rb")  # reads come back through recv_into above
        self._sock._io_refs += 1
        return io.BufferedReader(raw, io.DEFAULT_BUFFER_SIZE)

    def _decref_socketios(self):
        self._sock._decref_socketios()

    def __getattr__(self, name):
        return getattr(self._sock, name)


class _DeadlineHTTPConnection(HTTPConnection):
    def connect(self):
        super().connect()
        self.sock = _DeadlineSocket(self.sock)


class _DeadlineHTTPSConnection(HTTPSConnection):
    def connect(self):
        super().connect()
        self.sock = _DeadlineSocket(self.sock)


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter with sockets that honour `deadline()`."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}


def make_session(token: str | None = None, auth_scheme: str = "Bearer", headers: dict | None = None) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    if token:
        session.headers["Authorization"] = f"{auth_scheme} {token}"
    if headers:
        session.headers.update(headers)
    # No proxies or netrc from the environment: the base URL decides where requests go.
    session.trust_env = False
    adapter = DeadlineAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --- Pagination bounds ----------------------------------------------------------------------

@dataclass
class PageGuard:
    """Bounds for a pagination loop: stops on a repeated page URL, another server, or past max_pages."""

    what: str
    max_pages: int
    origin: str | None = None
    seen: set = field(default_factory=set)

    def check(self, url: str) -> None:
        """Call before asking each page; raises SourceError when the loop must stop."""
        if self.origin is not None and not same_origin(url, self.origin):
            raise SourceError(f"{self.what}: the next page points to {origin_text(url)}, not {origin_text(self.origin)}; not followed.",
                              "Credentials go only to the configured server; check the base URL setting.")
        if url in self.seen:
            raise SourceError(f"{self.what}: the next page link repeats {safe_url(url)}; stopped after {len(self.seen)} pages.",
                              "The server's pagination loops; run again later or report it.")
        if len(self.seen) >= self.max_pages:
            raise SourceError(f"{self.what}: more than {self.max_pages} pages; stopped.", "The server's pagination does not end; run again later.")
        self.seen.add(url)


# --- The fetcher ----------------------------------------------------------------------------

@dataclass
class Fetcher:
    """GET with bounded retries, a total deadline per exchange, capped bodies and counters.

    `origin`: when set, only URLs with that scheme+host+port are asked, and redirects leaving it
    are refused (the session's token goes nowhere else). Without it, a redirect to another server
    is followed without the Authorization header. `run_deadline` (time.monotonic() value): no
    exchange starts or runs past it.
    """

    session: requests.Session
    max_attempts: int = 4
    max_wait: float = 120.0
    backoff: float = 1.0
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    sleep: Callable[[float], None] = time.sleep
    deadline: float = REQUEST_DEADLINE
    max_bytes: int = MAX_BODY_BYTES
    origin: str | None = None
    run_deadline: float | None = None
    requests_made: int = 0
    not_modified: int = 0
    waited: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    def get(self, url: str, *, params: dict | None = None, headers: dict | None = None,
            ok: tuple[int, ...] = (200,), stream: bool = False) -> requests.Response:
        """GET url; retry 429/5xx and dropped connections; return a response whose status is in `ok` (or 304).

        Raises ConnectionFailed when no connection can be made, DeadlineExceeded when an answer
        does not finish in time, Unreachable when the connection keeps dropping, RateLimited when
        the server keeps refusing, BodyTooLarge, and SourceError for other statuses. The caller
        decides what a 404 means by passing it in `ok`. With stream=True the body is left unread.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._exchange(url, params, headers, stream)
            except requests.RequestException as exc:
                kind, reason = describe_network_error(exc, self.timeout)
                where = origin_text(url)
                if kind in ("refused", "dns", "tls", "connect-timeout"):
                    raise ConnectionFailed(f"Could not connect to {where} ({reason}).", "Check the network or the base URL setting, then retry.",
                                           url=safe_url(url), reason=reason, kind=kind) from None
                if attempt < self.max_attempts and self._wait(self.backoff * 2 ** (attempt - 1)):
                    log.info("network error on %s (%s); retrying", safe_url(url), reason)
                    continue
                raise Unreachable(f"Could not reach {safe_url(url)}: {reason} ({attempt} tries).",
                                  "Check the network or the base URL setting, then retry.", url=safe_url(url), reason=reason, kind=kind) from None
            self.requests_made += 1
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code == 304:
                self.not_modified += 1
                return response
            if response.status_code in ok:
                return response
            if response.status_code in RETRY_STATUSES and attempt < self.max_attempts:
                wait = retry_after_seconds(response)
                if wait is None:
                    wait = self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4)
                if self._wait(wait):
                    log.info("HTTP %s from %s; waiting %.1fs then retrying", response.status_code, safe_url(url), wait)
                    continue
            raise self.error_for(response)

    def _exchange(self, url: str, params: dict | None, headers: dict | None, stream: bool) -> requests.Response:
        seconds = self.deadline
        if self.run_deadline is not None:
            left = self.run_deadline - time.monotonic()
            if left <= 0:
                raise DeadlineExceeded(f"The run's time ran out before asking {safe_url(url)}.", "Run again to continue.",
                                       url=safe_url(url), reason="the run's time ran out", kind="deadline")
            seconds = min(seconds, left)
        with deadline(seconds) as limit:
            try:
                response = self._follow(url, params, headers)
                if not stream:
                    self._read_body(response, url)
            except requests.RequestException:
                if limit.expired:
                    raise DeadlineExceeded(
                        f"{origin_text(url)} did not finish answering {safe_url(url)} within {seconds:.0f} s.",
                        "The server is sending too slowly or stalled; try again later.",
                        url=safe_url(url), reason=f"no complete answer within {seconds:.0f} s", kind="deadline") from None
                raise
        return response

    def _follow(self, url: str, params: dict | None, headers: dict | None) -> requests.Response:
        """One GET, redirects followed here hop by hop so each target's origin is checked."""
        start, current, current_params = url, url, params
        history: list[requests.Response] = []
        seen = {url}
        send_headers = dict(headers or {})
        for _ in range(MAX_REDIRECTS + 1):
            if self.origin is not None and not same_origin(current, self.origin):
                which = "was redirected to" if history else "points to"
                raise SourceError(
                    f"{safe_url(start)} {which} {origin_text(current)}, another server than {origin_text(self.origin)}; not followed.",
                    "Credentials go only to the configured server; check the base URL setting.")
            if self.origin is None and history and not same_origin(current, start):
                send_headers["Authorization"] = None  # requests drops None-valued headers: no token to another server
            response = self.session.get(current, params=current_params, headers=send_headers, timeout=self.timeout,
                                        stream=True, allow_redirects=False)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                response.history = history
                return response
            self._read_body(response, current)
            history.append(response)
            current, current_params = urljoin(response.url, location), None
            if current in seen:
                raise SourceError(f"{safe_url(start)} redirects in a loop (back to {safe_url(current)}).", "Check the base URL setting.")
            seen.add(current)
        raise SourceError(f"{safe_url(start)} redirected more than {MAX_REDIRECTS} times.", "Check the base URL setting.")

    def _read_body(self, response: requests.Response, url: str) -> None:
        """Read the body streamed, refusing more than max_bytes (decoded)."""
        if response._content is not False:  # already in memory (a replay adapter, say)
            return
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            response.close()
            raise self._too_large(url, f"{int(length):,} bytes announced")
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                response.close()
                raise self._too_large(url, f"stopped after {size:,} bytes")
            chunks.append(chunk)
        # requests keeps the body here; setting it makes .text/.json() work on what was read.
        response._content = b"".join(chunks)
        response._content_consumed = True

    def _too_large(self, url: str, detail: str) -> BodyTooLarge:
        return BodyTooLarge(f"{safe_url(url)} answered more than the {self.max_bytes:,} bytes allowed ({detail}); refused, nothing from it was kept.",
                            "An API page is a few kilobytes: check the base URL setting.")

    def _wait(self, seconds: float) -> bool:
        if self.waited + seconds > self.max_wait:
            return False
        if self.run_deadline is not None and time.monotonic() + seconds > self.run_deadline:
            return False
        self.waited += seconds
        self.sleep(seconds)
        return True

    @staticmethod
    def error_for(response: requests.Response) -> SourceError:
        url = safe_url(response.url)
        status = response.status_code
        if status == 429:
            return RateLimited(f"{url} answered 429 Too Many Requests and kept refusing.", "Wait and run again later.")
        if status in (401, 403):
            return SourceError(f"{url} answered {status}: access refused.", "Check that the token is valid and may read this resource.")
        if status == 404:
            return SourceError(f"{url} answered 404 Not Found.", "Check the name in pulse/frameworks.toml or the base URL.")
        return SourceError(f"{url} answered HTTP {status}.", "The source may be down; retry later.")
