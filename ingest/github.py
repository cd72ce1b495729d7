"""GitHub: current counts per repository, exact star history, sampled fallback (source `github`).

Observation sources written (analytics/github.py merges them, exact over snapshot):
  github          today's github_stars, github_forks, github_open_issues, github_watchers
  github_history  exact daily cumulative stars from /stargazers/history
  github_sampled  sampled cumulative stars from the stargazer list (fallback)
Cost: every request is conditional (ETag); an unchanged run costs 304s only. See
docs/sources/github.md for the method, limits and failure behaviour.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from ingest import github_store
from ingest.github_history import (
    HistoryRejected, assemble, cumulative_daily, parse_page, parse_starred_page, sample_pages, sampled_points,
)
from ingest.github_http import (
    API_VERSION_HISTORY, STOPS_RUN, GitHubClient, RawWriteFailed, Reply, last_page, replay_session, token_note,
)
from ingest.http import ConnectionFailed, DeadlineExceeded, Unreachable
from pulse import config, db, registry, store
from pulse.errors import RateLimited, SourceError

NAME = "github"
DESCRIPTION = "GitHub REST API: stars, forks, open issues, watchers; exact star history (sampled fallback)"
CADENCE = dt.timedelta(days=1)

HISTORY_PER_PAGE = 30
# GitHub began in 2008: about 950 weeks, 32 pages of 30. A `rel="last"` beyond this is not a real history.
HISTORY_MAX_PAGES = 60
RUN_DEADLINE = 600.0  # seconds: below the runner's default per-source limit (900), so a slow run stops cleanly
REQUEST_DEADLINE = 60.0  # seconds for one whole answer (headers and body), whatever the server's pace
MAX_BODY_BYTES = 16 * 1024 * 1024  # a repo answer is ~7 KB and a history page ~3 KB
STARGAZERS_PER_PAGE = 100
STARGAZERS_MAX_PAGES = 400  # GitHub serves at most 400 pages (40,000 stars) of the list
SAMPLE_BUDGET = 15  # pages sampled from the stargazer list, like star-history.com
COUNT_FIELDS = {  # metric -> repo JSON field
    "github_stars": "stargazers_count",
    "github_forks": "forks_count",
    "github_open_issues": "open_issues_count",
    "github_watchers": "subscribers_count",  # watchers_count is a legacy alias of stars
}
STAR_ACCEPT = "application/vnd.github.star+json"

log = logging.getLogger(__name__)


def slug(name: str) -> str:
    return name.replace("/", "__")


def workers() -> int:
    value = os.environ.get("PULSE_GITHUB_WORKERS", "4")
    return max(1, int(value)) if value.isdigit() else 4


@dataclass
class History:
    """What happened to one repo's star history in this run."""

    kind: str  # github_history, github_sampled, unchanged, kept
    points: list = field(default_factory=list)  # [(date, cumulative stars)]
    etag: str | None = None
    weeks: int | None = None
    delta: int | None = None
    raw_file: str | None = None
    citation: str | None = None
    detail: dict = field(default_factory=dict)
    note: str | None = None


@dataclass
class RepoData:
    framework: str
    requested: str
    full_name: str | None = None
    former: list[str] = field(default_factory=list)
    repo: dict | None = None
    reply: Reply | None = None
    history: History | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def day(self) -> dt.date:
        return self.reply.fetched_at.date() if self.reply and self.reply.fetched_at else store.utcnow().date()


# --- Fetch (IO, no database lock held) ---------------------------------------------------------

def fetch_repo(client: GitHubClient, framework: registry.Framework) -> RepoData:
    """GET /repos/{owner}/{repo}; follows renames (redirects and full_name)."""
    requested = framework.primary_repo
    out = RepoData(framework.id, requested)
    reply = client.get(f"/repos/{requested}", slug=slug(requested), name="repo")
    if reply.status != 200:
        raise SourceError(f"GitHub answered {reply.status} for repository {requested} ({reply.message or 'no message'}).",
                          "Check the name in pulse/frameworks.toml.")
    data = reply.data
    if not isinstance(data, dict) or not isinstance(data.get("full_name"), str) or any(
        not isinstance(data.get(f), int) for f in COUNT_FIELDS.values()
    ):
        client.forget(reply.url)
        raise SourceError(f"GitHub's answer for repository {requested} lacks full_name or a count field.",
                          "The API shape may have changed; nothing was stored for it.")
    out.repo, out.reply, out.full_name = data, reply, data["full_name"]
    former = list(framework.github_former)
    if out.full_name.lower() != requested.lower():
        former.insert(0, requested)
        log.info("%s answers as %s (renamed)", requested, out.full_name)
    out.former = [n for i, n in enumerate(former) if n.lower() != out.full_name.lower() and n not in former[:i]]
    return out


def _fetch_pages(client: GitHubClient, pages: list[int], fetch_one: Callable[[int], object]) -> dict[int, object]:
    """Fetch pages with bounded concurrency; a RateLimited beats any other error."""
    results: dict[int, object] = {}
    errors: list[Exception] = []
    spent = threading.Event()  # set by the worker that hit the limit, before any other page starts

    def guarded(page: int) -> object:
        if spent.is_set():
            return None  # not asked: the run raises the stopping error below
        try:
            return fetch_one(page)
        except STOPS_RUN:
            spent.set()
            raise

    with ThreadPoolExecutor(max_workers=workers()) as pool:
        futures = {page: pool.submit(guarded, page) for page in pages}
        for page, future in futures.items():
            try:
                results[page] = future.result()
            except SourceError as exc:
                errors.append(exc)
                if isinstance(exc, STOPS_RUN):
                    for other in futures.values():
                        other.cancel()
    if errors:
        raise next((e for e in errors if isinstance(e, STOPS_RUN)), errors[0])
    return results


def fetch_history(client: GitHubClient, repo: RepoData, prior: dict | None) -> History:
    """Exact history, else the sampled fallback, else keep what is stored (History.kind says which)."""
    path = f"/repos/{repo.full_name}/stargazers/history"
    headers = {"X-GitHub-Api-Version": API_VERSION_HISTORY}
    stars = repo.repo["stargazers_count"]

    def page(n: int) -> Reply:
        return client.get(path, {"per_page": HISTORY_PER_PAGE, "page": n}, slug=slug(repo.requested),
                          name=f"history/page-{n:04d}", headers=headers)

    def parsed(n: int, reply: Reply | None = None):
        reply = reply or page(n)
        if reply.status != 200:
            raise HistoryRejected(f"Star history page {n} answered HTTP {reply.status} ({reply.message or 'no message'}).")
        try:
            return parse_page(reply.data, n)
        except HistoryRejected:
            client.forget(reply.url)
            raise

    first = page(1)
    if first.status in (403, 404, 410, 451):
        return fetch_sampled(client, repo, f"the star history endpoint answered {first.status}")
    try:
        return _exact_history(client, repo, prior, first, parsed, headers, path, stars)
    except HistoryRejected as exc:
        kept = client.first_answer("history")
        if kept is not None and kept.exists():
            exc.hint = ((exc.hint + " ") if exc.hint else "") + f"The first answer of this endpoint is kept in {config.display_path(kept)}."
        raise


def _exact_history(client, repo, prior, first, parsed, headers, path, stars) -> History:
    prior = prior or {}
    repo_unchanged = repo.reply.not_modified or prior.get("stargazers") == stars
    if (first.not_modified and repo_unchanged and prior.get("history_source") == "github_history"
            and prior.get("history_etag") == first.etag):
        return History("unchanged", etag=first.etag)
    last = last_page(first.headers.get("Link"))
    pages = {1: parsed(1, first)}
    if last is None:
        if 'rel="next"' in (first.headers.get("Link") or ""):
            raise HistoryRejected("Star history page 1 links to a next page but no last page; the page count is unknown.")
        last = 1
    if last > HISTORY_MAX_PAGES:
        raise HistoryRejected(f"Star history says it has {last:,} pages (Link rel=\"last\"); a history since 2008 fills at most "
                              f"{HISTORY_MAX_PAGES}, so none of them was asked for.")
    pages.update(_fetch_pages(client, list(range(2, last + 1)), parsed))
    weeks = assemble(pages, last, today=repo.day)
    points, delta = cumulative_daily(weeks, stars, repo.day)
    return History("github_history", points, first.etag, len(weeks), delta, first.raw_file, client.url(path),
                   {"pages": last, "weeks": len(weeks), "pinned_delta": delta, "api_version": API_VERSION_HISTORY})


def fetch_sampled(client: GitHubClient, repo: RepoData, why: str) -> History:
    """Stargazer list with starred_at, evenly sampled pages; kind 'kept' when that is refused too."""
    if not client.token:  # since 2026-06-30 only admins and collaborators may read the list
        return History("kept", note=f"{why}; the stargazer list needs a token of a collaborator and GITHUB_TOKEN "
                                    "is not set, so no star history was refreshed and the stored star history was kept")
    path = f"/repos/{repo.full_name}/stargazers"
    headers = {"Accept": STAR_ACCEPT}

    def page(n: int) -> Reply:
        return client.get(path, {"per_page": STARGAZERS_PER_PAGE, "page": n}, slug=slug(repo.requested),
                          name=f"stargazers/page-{n:04d}", headers=headers)

    def parsed(n: int, reply: Reply | None = None):
        reply = reply or page(n)
        if reply.status != 200:
            raise HistoryRejected(f"Stargazer list page {n} answered HTTP {reply.status} ({reply.message or 'no message'}).")
        try:
            return parse_starred_page(reply.data, n)
        except HistoryRejected:
            client.forget(reply.url)
            raise

    first = page(1)
    if first.status != 200:
        return History("kept", note=f"{why} and the stargazer list answered {first.status} "
                                    f"({first.message or 'no message'}); no star history was refreshed, the stored star history was kept")
    last = min(last_page(first.headers.get("Link")) or 1, STARGAZERS_MAX_PAGES)
    chosen = sample_pages(last, SAMPLE_BUDGET)
    pages = {1: parsed(1, first)}
    pages.update(_fetch_pages(client, [p for p in chosen if p != 1], parsed))
    points = sampled_points(pages, STARGAZERS_PER_PAGE, repo.repo["stargazers_count"], repo.day)
    return History("github_sampled", points, first.etag, None, None, first.raw_file, client.url(path),
                   {"why": why, "pages_sampled": chosen, "pages_total": last,
                    "capped": last >= STARGAZERS_MAX_PAGES, "per_page": STARGAZERS_PER_PAGE})


@dataclass
class Fetched:
    repos: list[RepoData]
    stopped: RateLimited | None = None
    halted: SourceError | None = None  # Unreachable or RawWriteFailed: the run stopped there
    asked: int = 0


def nothing_read(repos: list[RepoData], problems: list[str]) -> SourceError:
    """One short message when every repository failed: the first failure in full, the others by name.

    Thirteen copies of the same failure (one per repository) do not fit a cron mail.
    """
    first = problems[0].rstrip(". ") if problems else "no answer"
    others = [r.requested for r in repos[1:]]
    more = f" ({len(others)} more failed too: {', '.join(others)})" if others else ""
    return SourceError(f"No GitHub repository could be read: {first}.{more}",
                       "Check the network, GITHUB_API_URL and the names in pulse/frameworks.toml.")


def unreachable_error(exc: Unreachable, base: str, done: int, total: int) -> SourceError:
    """One message for a server that cannot be used: names the base URL and what to check."""
    if isinstance(exc, ConnectionFailed):
        what = f"Could not connect to the GitHub API at {base} ({exc.reason})"
    elif isinstance(exc, DeadlineExceeded):
        what = f"The GitHub API at {base} did not answer in time ({exc.reason})"
    else:
        what = f"The GitHub API at {base} stopped answering ({exc.reason})"
    stored = (f"stopped after {done} of {total} repositories; those were stored" if done
              else "no repository was read and nothing was stored")
    return type(exc)(f"{what}; {stored}.", exc.advice("GITHUB_API_URL") + " Then run `pulse ingest github` again.",
                     url=exc.url, reason=exc.reason, kind=exc.kind)


def fetch_all(client: GitHubClient, frameworks: list[registry.Framework], prior: dict[str, dict]) -> Fetched:
    """Every repo in turn; a failure is that repo's problem, a spent rate limit stops the run."""
    out = Fetched([])
    for framework in frameworks:
        if not framework.primary_repo:
            continue
        repo = RepoData(framework.id, framework.primary_repo)
        out.asked += 1
        try:
            repo = fetch_repo(client, framework)
            repo.history = fetch_history(client, repo, prior.get(framework.id))
            if repo.history.delta:
                log.warning("%s: stargazers_count differs from the history's sum by %+d; last point pinned",
                            repo.full_name, repo.history.delta)
            if repo.history.kind == "kept":
                repo.problems.append(f"{repo.full_name}: {repo.history.note}")
        except RateLimited as exc:
            out.stopped = exc
            repo.problems.append(f"{repo.full_name or repo.requested}: stopped by the rate limit")
            out.repos.append(repo)
            break
        except (Unreachable, RawWriteFailed) as exc:
            # The server (or the raw directory) is unusable: asking the other repositories would
            # only repeat the same failure, so the run stops with one message.
            out.halted = exc
            repo.repo = None  # this repository is incomplete: nothing of it is stored
            break
        except SourceError as exc:
            stage = "star history not stored, previous history kept" if repo.repo else "not fetched"
            repo.problems.append(f"{repo.full_name or repo.requested}: {stage}: {config.redact(str(exc))}")
        out.repos.append(repo)
    return out


# --- Save (plain data -> rows; inside the write session) ----------------------------------------

def count_rows(repo: RepoData, run_id: str) -> pd.DataFrame:
    detail = {"requested": repo.requested, "former_names": repo.former, "not_modified": repo.reply.not_modified,
              "watchers_field": "subscribers_count"}
    return pd.DataFrame([
        {"source": NAME, "framework": repo.framework, "metric": metric, "date": repo.day, "value": repo.repo[field_],
         "subject": repo.full_name, "citation": repo.repo.get("html_url") or f"https://github.com/{repo.full_name}",
         "raw_file": repo.reply.raw_file, "detail": detail, "run_id": run_id, "retrieved_at": repo.reply.fetched_at}
        for metric, field_ in COUNT_FIELDS.items()
    ])


def history_rows(repo: RepoData, run_id: str) -> pd.DataFrame:
    h = repo.history
    detail = {**h.detail, "requested": repo.requested, "former_names": repo.former}
    return pd.DataFrame(
        {"source": h.kind, "framework": repo.framework, "metric": "github_stars", "date": [d for d, _ in h.points],
         "value": [float(v) for _, v in h.points], "subject": repo.full_name, "citation": h.citation,
         "raw_file": h.raw_file, "detail": json.dumps(detail, sort_keys=True), "run_id": run_id,
         "retrieved_at": repo.reply.fetched_at}
    )


def save(con: duckdb.DuckDBPyConnection, fetched: Fetched, client: GitHubClient, run: store.Run) -> int:
    """Write counts, accepted histories, repo metadata and ETags; return observation rows written."""
    if github_store.scrub_stored_credentials(con):
        log.warning("removed credentials that an earlier version stored inside URLs (citations, ETag cache, run errors)")
    frames = []
    for repo in fetched.repos:
        if repo.repo is None:
            continue
        frames.append(count_rows(repo, run.run_id))
        h = repo.history
        if h and h.kind in ("github_history", "github_sampled"):
            frame = history_rows(repo, run.run_id)
            con.register("_gh_dates", pd.DataFrame({"date": pd.to_datetime(frame["date"]).dt.date}))
            try:
                stale = con.execute(
                    "SELECT count(*) FROM observations WHERE source = ? AND framework = ? AND metric = 'github_stars' "
                    "AND date NOT IN (SELECT date FROM _gh_dates)", [h.kind, repo.framework]).fetchall()[0][0]
            finally:
                con.unregister("_gh_dates")
            if stale:  # the series is replaced whole: dates it no longer has go
                store.delete_observations(con, source=h.kind, framework=repo.framework, metric="github_stars")
            frames.append(frame)
        github_store.save_repo_meta(con, repo, run.run_id)
    # One upsert of only the new or changed rows: an unchanged run writes nothing.
    written = store.upsert_observations(con, github_store.changed(con, pd.concat(frames, ignore_index=True)), run_id=run.run_id) if frames else 0
    if client.new_etags:
        etags = pd.DataFrame([{"url": u, "etag": e["etag"], "raw_file": e["raw_file"], "link": e.get("link"),
                               "fetched_at": store.utcnow()} for u, e in client.new_etags.items()])
        con.register("_gh_etags", etags)
        try:
            store.merge(con, "github_etags", ["url"], ["url", "etag", "raw_file", "link", "fetched_at"], "_gh_etags")
        finally:
            con.unregister("_gh_etags")
    return written


def run(db_path: Path, frameworks: list[str] | None = None, *, replay: Path | None = None, token: str | None = None,
        base_url: str | None = None, sleep: Callable[[float], None] = time.sleep, session=None,
        run_seconds: float | None = None) -> store.Run:
    """Fetch every listed repo (or `frameworks`), then store; raises RateLimited/SourceError on failure.

    A run where some repos failed is stored as 'partial' naming them; a spent rate limit or an
    unusable server (Unreachable) stores what was complete, records the run, then raises.
    """
    chosen = [registry.get(f) for f in (registry.validate(frameworks) if frameworks else registry.ids())]
    token = None if replay else (token or config.secret("GITHUB_TOKEN"))
    base_url = base_url or os.environ.get("GITHUB_API_URL") or config.SETTINGS["GITHUB_API_URL"][0]
    with store.tracked_run(db_path, NAME) as run_:
        etags, prior = github_store.load_prior(db_path)
        client = GitHubClient(
            base_url if not replay else "https://api.github.com", token,
            raw_root=None if replay else config.raw_dir() / "github",
            stamp=f"{store.utcnow():%Y%m%dT%H%M%SZ}-{run_.run_id}", etags=etags, sleep=sleep,
            session=replay_session(replay) if replay else session, replay=bool(replay),
            run_seconds=run_seconds or RUN_DEADLINE, request_seconds=REQUEST_DEADLINE, max_bytes=MAX_BODY_BYTES,
        )
        try:
            fetched = fetch_all(client, chosen, prior)
        finally:
            run_.requests = client.requests_made
            run_.detail = {"not_modified": client.not_modified, "token_set": bool(token or client.url_auth),
                           "replay": bool(replay), "rate_remaining": client.remaining}
        if isinstance(fetched.halted, RawWriteFailed):
            raise fetched.halted  # disk full or read-only: store nothing of this run
        halted = None
        if isinstance(fetched.halted, Unreachable):
            done = sum(1 for r in fetched.repos if r.repo)
            halted = unreachable_error(fetched.halted, client.base_text, done, len([f for f in chosen if f.primary_repo]))
            if not done:
                raise halted
        problems = [p for r in fetched.repos for p in r.problems]
        run_.detail["repos"] = {
            r.framework: {"full_name": r.full_name, "history": r.history.kind if r.history else None,
                          "former_names": r.former, "problems": r.problems} for r in fetched.repos}
        if not any(r.repo for r in fetched.repos):
            if fetched.stopped:
                raise fetched.stopped
            raise nothing_read(fetched.repos, problems)
        with db.write_session(db_path) as con:
            run_.rows = save(con, fetched, client, run_)
            if fetched.stopped:
                problems.append(str(fetched.stopped))
            if halted:
                problems.append(str(halted))
            run_.finish(con, "partial" if problems else "ok", "; ".join(problems) or None)
    if fetched.stopped or halted:
        error = fetched.stopped or halted
        error.run = run_
        raise error
    return run_


def summary(run_: store.Run) -> str:
    """The one-paragraph per-run summary the CLI prints."""
    d = run_.detail
    lines = [f"GitHub ingest {run_.status}: {run_.requests} requests made, {d.get('not_modified', 0)} answered 304 "
             f"(not modified), {run_.rows} observation rows written."]
    for fid, info in d.get("repos", {}).items():
        renamed = f" (formerly {', '.join(info['former_names'])})" if info.get("former_names") else ""
        pinned = f" (last point pinned, {info['pinned_delta']:+d} vs the history's sum)" if info.get("pinned_delta") else ""
        lines.append(f"  {fid:<13} {info.get('full_name') or '-'}{renamed}: history {info.get('history') or ('not stored, see Problems' if info.get('problems') else 'not fetched')}{pinned}")
    if run_.error:
        lines.append(f"Problems: {run_.error}")
    if d.get("rate_remaining") is not None:
        lines.append(f"Rate limit remaining: {d['rate_remaining']}. {token_note(d.get('token_set'))}")
    return "\n".join(lines)
