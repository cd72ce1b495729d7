"""Hugging Face Hub models API: one page at a time, Link cursors, RateLimit headers, lenient parsing.

Facts encoded here (docs/sources/huggingface.md, ../shared/SOURCES.md):
- `GET {HF_ENDPOINT}/api/models?filter=TAG&limit=1000&expand[]=createdAt&expand[]=tags` answers a
  JSON list of `{"_id", "id", "createdAt", "tags"}`; the next page is in
  `Link: <...&cursor=...>; rel="next"`; there is no total-count header.
- Over the budget the Hub answers 429 with `RateLimit: "api";r=0;t=55` (r requests left,
  t seconds to the window's reset) and `RateLimit-Policy: "fixed window";"api";q=500;w=300`
  (IETF draft-ietf-httpapi-ratelimit-headers); Retry-After may be present too.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from urllib.parse import urljoin

from ingest.download import origin, read_json_capped
from ingest.http import Fetcher, retry_after_seconds, safe_url, same_origin
from pulse import config
from pulse.errors import RateLimited, SourceError

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # the Hub's maximum for /api/models
# Repositories created before this moment all report it as their creation time.
PLACEHOLDER_CREATED = dt.datetime(2022, 3, 2, 23, 29, 4)
# A creation time outside 1990-01-01 .. today + 1 year is not a real one: the entry is skipped.
EARLIEST_CREATED = dt.datetime(1990, 1, 1)
# Hub repository ids: `name` or `namespace/name`, letters, digits, '-', '_', '.' (96 max per part).
MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9._-]{1,96})?$")

# "api";r=0;t=55  (the Hub's form of the IETF draft) ...
_RATELIMIT_HF = re.compile(r'"(?P<name>[^"]*)"\s*;\s*r\s*=\s*(?P<r>\d+)\s*;\s*t\s*=\s*(?P<t>\d+)')
# ... and the older draft's form: limit=100, remaining=0, reset=54
_RATELIMIT_OLD = re.compile(r"remaining\s*=\s*(?P<r>\d+).*?reset\s*=\s*(?P<t>\d+)", re.IGNORECASE)
_POLICY = re.compile(r"q\s*=\s*(?P<q>\d+).*?w\s*=\s*(?P<w>\d+)")


@dataclass(frozen=True)
class RateLimit:
    remaining: int
    reset_s: int  # seconds until the window resets
    quota: int | None = None  # requests per window (RateLimit-Policy q)
    window_s: int | None = None  # window length (RateLimit-Policy w)


def parse_ratelimit(headers) -> RateLimit | None:
    """The RateLimit / RateLimit-Policy headers of a response; None when absent or unreadable."""
    value = headers.get("RateLimit")
    if not value:
        return None
    match = _RATELIMIT_HF.search(value) or _RATELIMIT_OLD.search(value)
    if not match:
        return None
    quota = window = None
    policy = _POLICY.search(headers.get("RateLimit-Policy") or "")
    if policy:
        quota, window = int(policy["q"]), int(policy["w"])
    return RateLimit(int(match["r"]), int(match["t"]), quota, window)


def models_url(endpoint: str) -> str:
    return endpoint.rstrip("/") + "/api/models"


def first_page_params(tag: str) -> list[tuple[str, str]]:
    """Query of a tag's first page; later pages come whole from the Link header."""
    # Ascending creation order: models created while a crawl is paused land after its cursor.
    return [("filter", tag), ("limit", str(PAGE_SIZE)), ("sort", "createdAt"), ("direction", "1"),
            ("expand[]", "createdAt"), ("expand[]", "tags")]


def parse_created(value) -> dt.datetime | None:
    """'2022-03-02T23:29:04.000Z' -> naive UTC datetime; None when not an ISO timestamp."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    if not EARLIEST_CREATED <= parsed <= dt.datetime.now() + dt.timedelta(days=366):
        return None
    return parsed


@dataclass(frozen=True)
class Model:
    id: str
    created_at: dt.datetime
    tags: tuple[str, ...]  # only the tags in `known`, sorted


def parse_model(entry, known: frozenset[str], secrets: tuple[str, ...] = ()) -> Model | None:
    """One list entry -> Model, or None when it lacks a valid id, createdAt or tags list.

    An id that is not a Hub repository id, or that contains a known secret (a server echoing
    the token), is refused: ids are stored.
    """
    if not isinstance(entry, dict):
        return None
    model_id = entry.get("id") or entry.get("modelId")
    created = parse_created(entry.get("createdAt"))
    tags = entry.get("tags")
    if not isinstance(model_id, str) or not MODEL_ID.match(model_id) or created is None or not isinstance(tags, list):
        return None
    if any(secret in model_id for secret in secrets):
        return None
    return Model(model_id, created, tuple(sorted({t for t in tags if isinstance(t, str) and t in known})))


def parse_page(body, known: frozenset[str], url: str = "") -> tuple[list[Model], int]:
    """A page's models and the number of malformed entries skipped."""
    if not isinstance(body, list):
        raise SourceError(
            f"{safe_url(url)} answered {type(body).__name__} where a JSON list of models was expected.",
            "Check HF_ENDPOINT points at the Hugging Face Hub (or a mirror of its API).",
        )
    models, skipped = [], 0
    secrets = tuple(config.known_secret_values())
    for entry in body:
        model = parse_model(entry, known, secrets)
        if model is None:
            skipped += 1
            log.warning("skipped a malformed model entry on %s: %.120s", safe_url(url), config.redact(repr(entry)))
        else:
            models.append(model)
    return models, skipped


@dataclass
class HubClient:
    """Pages of /api/models with 429 handling from the RateLimit headers.

    The Fetcher retries network errors and 5xx; 429 is handled here because the Hub says
    when its window resets in `RateLimit` (t seconds), which Retry-After may not carry.
    A response that says no request is left (r=0) pauses before the next request.
    """

    fetcher: Fetcher
    sleep: Callable[[float], None] = time.sleep
    base: str | None = None  # HF_ENDPOINT: next-page links elsewhere are refused (the token goes nowhere else)
    max_wait: float = 900.0  # total seconds this client may sleep for rate limits
    max_refusals: int = 5  # 429s in a row before giving up
    waited: float = 0.0
    refusals: int = 0
    last_limit: RateLimit | None = None
    pause_before_next: float = 0.0

    def _wait(self, seconds: float, why: str) -> None:
        seconds = max(0.0, seconds)
        if self.waited + seconds > self.max_wait:
            raise RateLimited(
                f"The Hugging Face Hub rate limit needs a {seconds:.0f}s wait ({why}), beyond the {self.max_wait:.0f}s allowed per run.",
                "Progress is saved; run `pulse ingest huggingface` again later (it resumes), or set HF_TOKEN for a larger budget.",
                reset_at=time.time() + seconds,
            )
        self.waited += seconds
        log.info("Hugging Face rate limit: waiting %.0fs (%s)", seconds, why)
        self.sleep(seconds)

    def get_page(self, url: str, params=None) -> tuple[list | dict, str | None]:
        """JSON body of one page and the next page's URL (None on the last page)."""
        if self.pause_before_next:
            pause, self.pause_before_next = self.pause_before_next, 0.0
            self._wait(pause, "no request left in the window")
        refused = 0
        while True:
            response = self.fetcher.get(url, params=params, ok=(200, 429), stream=True)
            limit = parse_ratelimit(response.headers)
            if limit:
                self.last_limit = limit
            if response.status_code == 200:
                break
            response.close()
            refused += 1
            self.refusals += 1
            if refused > self.max_refusals:
                raise RateLimited(
                    f"{safe_url(response.url)} answered 429 Too Many Requests {refused} times in a row.",
                    "Progress is saved; run `pulse ingest huggingface` again later (it resumes).",
                )
            wait = retry_after_seconds(response)
            if wait is None and limit is not None:
                wait = float(limit.reset_s)
            if wait is None:
                wait = 2.0 ** refused
            self._wait(wait + 0.5, f"429 #{refused}")
        if limit is not None and limit.remaining <= 0:
            self.pause_before_next = float(limit.reset_s) + 0.5
        next_url = response.links.get("next", {}).get("url")
        body = read_json_capped(response, response.url)  # size-capped: a huge body is refused, not held
        if next_url:
            next_url = urljoin(response.url, next_url)
            if self.base and not same_origin(next_url, self.base):
                raise SourceError(
                    f"{safe_url(response.url)} pointed its next page at another host ({origin(next_url)[1]}); not followed.",
                    "Check HF_ENDPOINT; the token is only ever sent there. Progress is saved.",
                )
        return body, next_url
