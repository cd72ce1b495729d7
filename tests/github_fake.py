"""A fake GitHub REST API for tests and the benchmark, serving the shapes SOURCES.md describes.

- /repos/{o}/{r}: the repository JSON (fields used: stargazers_count, forks_count,
  subscribers_count, open_issues_count, created_at, full_name; tests/fixtures/http/github/repo.json
  is a trimmed real answer).
- /repos/{o}/{r}/stargazers/history?per_page=30&page=N: newest-first weeks
  {"week", "days": [7], "total"}, `Link` with rel="last" (SOURCES.md, "new way").
- /repos/{o}/{r}/stargazers?per_page=100&page=N with Accept star+json: [{"starred_at", "user"}],
  at most 400 pages (SOURCES.md, "old way").
Every 200 carries an ETag and X-RateLimit-* headers; If-None-Match with the same ETag gives 304.
All data here is synthetic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug.wrappers import Request, Response

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "http" / "github"


def etag_of(text: str) -> str:
    return '"' + hashlib.sha1(text.encode()).hexdigest()[:16] + '"'


def synthetic_weeks(first: dt.date, last: dt.date, per_day: Callable[[int], int] = lambda i: 3 + i % 5) -> list[dict]:
    """Weeks (oldest first) from the Sunday on/before `first` through the week holding `last`."""
    start = first - dt.timedelta(days=(first.weekday() + 1) % 7)
    weeks, index, day = [], 0, start
    while day <= last:
        days = []
        for _ in range(7):
            days.append(per_day(index) if first <= day <= last else 0)
            index += 1
            day += dt.timedelta(days=1)
        ts = int(dt.datetime.combine(day - dt.timedelta(days=7), dt.time(), dt.UTC).timestamp())
        weeks.append({"week": ts, "days": days, "total": sum(days)})
    return weeks


def repo_json(full_name: str, stars: int, forks: int = 1000, watchers: int = 300, issues: int = 42) -> dict:
    body = json.loads((FIXTURE_DIR / "repo.json").read_text())
    owner, name = full_name.split("/")
    body.update({"full_name": full_name, "name": name, "html_url": f"https://github.com/{full_name}",
                 "stargazers_count": stars, "watchers_count": stars, "watchers": stars, "forks_count": forks,
                 "forks": forks, "subscribers_count": watchers, "open_issues_count": issues, "open_issues": issues})
    body["owner"]["login"] = owner
    return body


@dataclass
class FakeRepo:
    full_name: str
    weeks: list[dict]  # oldest first
    stars: int | None = None  # default: the history's sum
    forks: int = 1000
    watchers: int = 300
    issues: int = 42
    history_status: int = 200
    list_status: int = 200
    stargazer_pages: int = 0  # pages in the stargazer list (fallback)
    # (path kind, page) -> list of one-shot responses served before the normal one
    faults: dict = field(default_factory=dict)
    page_override: dict = field(default_factory=dict)  # history page -> body text

    @property
    def star_count(self) -> int:
        return self.stars if self.stars is not None else sum(w["total"] for w in self.weeks)


class FakeGitHub:
    """Routes for several repos on one pytest-httpserver (or any werkzeug app host)."""

    def __init__(self, base_url: str, per_page: int = 30):
        self.base_url = base_url.rstrip("/")
        self.per_page = per_page
        self.repos: dict[str, FakeRepo] = {}
        self.redirects: dict[str, str] = {}  # old full name -> new (301)
        self.aliases: dict[str, str] = {}  # old full name -> new (200 with the new full_name)
        self.remaining = 4999
        self.reset = int(dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC).timestamp())
        self.seen: list[Request] = []
        self.token_seen: list[str | None] = []

    def add(self, repo: FakeRepo) -> FakeRepo:
        self.repos[repo.full_name.lower()] = repo
        return repo

    def _json(self, request: Request, body, status: int = 200, headers: dict | None = None) -> Response:
        text = body if isinstance(body, str) else json.dumps(body)
        etag = etag_of(text)
        base = {"X-RateLimit-Remaining": str(self.remaining), "X-RateLimit-Reset": str(self.reset),
                "Content-Type": "application/json; charset=utf-8"}
        if status == 200:
            base["ETag"] = etag
            if request.headers.get("If-None-Match") == etag:
                return Response(status=304, headers={**base, **(headers or {})})
            self.remaining -= 1
        return Response(text, status=status, headers={**base, **(headers or {})})

    def _link(self, path: str, last: int, per_page: int) -> dict:
        return {"Link": f'<{self.base_url}{path}?per_page={per_page}&page=2>; rel="next", '
                        f'<{self.base_url}{path}?per_page={per_page}&page={last}>; rel="last"'} if last > 1 else {}

    def handle(self, request: Request) -> Response:
        self.seen.append(request)
        self.token_seen.append(request.headers.get("Authorization"))
        parts = request.path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "repos":
            return Response(json.dumps({"message": "Not Found"}), status=404)
        name = f"{parts[1]}/{parts[2]}".lower()
        rest = parts[3:]
        if name in self.redirects:
            target = "/".join(["", "repos", self.redirects[name], *rest])
            query = ("?" + request.query_string.decode()) if request.query_string else ""
            return Response(json.dumps({"message": "Moved Permanently", "url": self.base_url + target}), status=301,
                            headers={"Location": self.base_url + target + query})
        name = self.aliases.get(name, name).lower()
        repo = self.repos.get(name)
        if repo is None:
            return self._json(request, {"message": "Not Found"}, 404)
        page = int(request.args.get("page", "1"))
        kind = "/".join(rest) or "repo"
        queue = repo.faults.get((kind, page)) or repo.faults.get((kind, None))
        if queue:
            fault = queue.pop(0)
            return fault if isinstance(fault, Response) else fault(request)
        if kind == "repo":
            return self._json(request, repo_json(repo.full_name, repo.star_count, repo.forks, repo.watchers, repo.issues))
        if kind == "stargazers/history":
            if request.headers.get("X-GitHub-Api-Version") != "2026-03-10":
                return self._json(request, {"message": "Not Found"}, 404)
            if repo.history_status != 200:
                return self._json(request, {"message": "Not Found"}, repo.history_status)
            per_page = int(request.args.get("per_page", "30"))
            newest = list(reversed(repo.weeks))
            last = max(1, -(-len(newest) // per_page))
            if page in repo.page_override:
                return self._json(request, repo.page_override[page], headers=self._link(request.path, last, per_page))
            return self._json(request, newest[(page - 1) * per_page: page * per_page], headers=self._link(request.path, last, per_page))
        if kind == "stargazers":
            if repo.list_status != 200:
                return self._json(request, {"message": "Must have push access to view stargazers"}, repo.list_status)
            if "star+json" not in request.headers.get("Accept", ""):
                return self._json(request, [{"login": "someone"}])
            last = min(repo.stargazer_pages, 400)
            start = dt.datetime(2016, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=(page - 1) * 10)
            body = [{"starred_at": (start + dt.timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ"), "user": {"login": f"u{page}-{i}"}}
                    for i in range(100)]
            return self._json(request, body, headers=self._link(request.path, last, 100))
        return self._json(request, {"message": "Not Found"}, 404)

    def count(self, kind: str | None = None, status: int | None = None) -> int:
        return len(self.requests(kind))

    def requests(self, kind: str | None = None) -> list[Request]:
        def kind_of(r: Request) -> str:
            return "/".join(r.path.strip("/").split("/")[3:]) or "repo"
        return [r for r in self.seen if kind is None or kind_of(r) == kind]


def rate_limit_response(status: int = 403, reset: int = 1795438800, retry_after: str | None = None) -> Response:
    headers = {"X-RateLimit-Remaining": "0" if retry_after is None else "10", "X-RateLimit-Reset": str(reset),
               "Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = {"message": "API rate limit exceeded for 127.0.0.1. (But here's the good news: Authenticated requests get a higher rate limit.)",
            "documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}
    if retry_after is not None:
        body["message"] = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    return Response(json.dumps(body), status=status, headers=headers)


@pytest.fixture
def fake_github(httpserver, monkeypatch):
    """A FakeGitHub on pytest-httpserver with GITHUB_API_URL pointing at it (no repos yet)."""
    api = FakeGitHub(httpserver.url_for("/"))
    httpserver.expect_request(re.compile("^/repos/")).respond_with_handler(api.handle)
    monkeypatch.setenv("GITHUB_API_URL", httpserver.url_for("/").rstrip("/"))
    return api
