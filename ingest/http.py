"""One HTTP session factory for every source: timeouts, User-Agent, auth, bounded retries.

Retries: 429 and 5xx are retried a bounded number of times, honouring `Retry-After`
(seconds or HTTP date) and never sleeping past `max_wait` in total. Tokens go in headers
only and are scrubbed from every message (pulse.config.redact).
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from pulse import __version__
from pulse.config import redact
from pulse.errors import RateLimited, SourceError

log = logging.getLogger(__name__)

USER_AGENT = f"framework-pulse/{__version__} (+https://github.com/framework-pulse)"
DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def make_session(token: str | None = None, auth_scheme: str = "Bearer", headers: dict | None = None) -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    if token:
        session.headers["Authorization"] = f"{auth_scheme} {token}"
    if headers:
        session.headers.update(headers)
    # No proxies or netrc from the environment: the base URL decides where requests go.
    session.trust_env = False
    return session


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


def safe_url(url: str) -> str:
    """URL for logs and errors: secrets scrubbed, query strings kept (they hold no secrets here)."""
    return redact(url)


@dataclass
class Fetcher:
    """GET with bounded retries and counters; shared by source modules."""

    session: requests.Session
    max_attempts: int = 4
    max_wait: float = 120.0
    backoff: float = 1.0
    timeout: tuple[float, float] = DEFAULT_TIMEOUT
    sleep: Callable[[float], None] = time.sleep
    requests_made: int = 0
    not_modified: int = 0
    waited: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    def get(self, url: str, *, params: dict | None = None, headers: dict | None = None,
            ok: tuple[int, ...] = (200,), stream: bool = False) -> requests.Response:
        """GET url; retry 429/5xx; return a response whose status is in `ok` (or 304).

        Raises RateLimited when the server keeps refusing, SourceError for other statuses
        and network failures. The caller decides what a 404 means by passing it in `ok`.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.get(url, params=params, headers=headers, timeout=self.timeout, stream=stream)
            except requests.RequestException as exc:
                if attempt < self.max_attempts and self._wait(self.backoff * 2 ** (attempt - 1)):
                    log.info("network error on %s (%s); retrying", safe_url(url), type(exc).__name__)
                    continue
                raise SourceError(
                    f"Could not reach {safe_url(url)}: {redact(str(exc))}.",
                    "Check the network or the base URL setting, then retry.",
                ) from None
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

    def _wait(self, seconds: float) -> bool:
        if self.waited + seconds > self.max_wait:
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
