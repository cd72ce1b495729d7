"""GitHub ingest, database side: changed-row filtering, repo metadata, the prior state of a run."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pandas as pd

from pulse import db, store

# github_repos' columns in table order (pulse/schema.py, migration 10).
REPO_COLUMNS = ("framework", "requested", "full_name", "renamed_from", "html_url", "created_at", "pushed_at", "stargazers",
                "forks", "open_issues", "watchers", "history_source", "history_etag", "history_weeks", "history_delta",
                "history_note", "retrieved_at", "run_id", "raw_file")


def changed(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of `frame` whose key is new or whose value or subject differ from what is stored."""
    if frame.empty:
        return frame
    keys = frame[["source", "framework", "metric", "date", "value", "subject"]].assign(date=pd.to_datetime(frame["date"]).dt.date)
    con.register("_gh_new", keys.reset_index())
    try:
        same = con.execute(
            "SELECT n.index FROM _gh_new n JOIN observations o ON o.source = n.source AND o.framework = n.framework "
            "AND o.metric = n.metric AND o.variant = '' AND o.date = n.date AND o.value = n.value "
            "AND o.subject IS NOT DISTINCT FROM n.subject"
        ).fetchall()
    finally:
        con.unregister("_gh_new")
    return frame.drop(index=[r[0] for r in same])


def _timestamp(text: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).replace(tzinfo=None) if text else None
    except ValueError:
        return None


def save_repo_meta(con: duckdb.DuckDBPyConnection, repo, run_id: str) -> None:
    h, r = repo.history, repo.repo
    old = con.execute("SELECT history_source, history_etag, history_weeks, history_delta FROM github_repos WHERE framework = ?",
                      [repo.framework]).fetchall()
    old = old[0] if old else None
    hist = (h.kind, h.etag, h.weeks, h.delta) if h and h.kind in ("github_history", "github_sampled") else old or (None,) * 4
    if h and h.kind == "github_sampled" and old and old[0] == "github_history":
        hist = old  # the exact history stays the one the repo row describes
    note = h.note if h else (repo.problems[0] if repo.problems else None)
    store.replace_row(con, "github_repos", ("framework",), dict(zip(REPO_COLUMNS, [
        repo.framework, repo.requested, repo.full_name, json.dumps(repo.former), r.get("html_url"),
        _timestamp(r.get("created_at")), _timestamp(r.get("pushed_at")), r["stargazers_count"], r["forks_count"],
        r["open_issues_count"], r["subscribers_count"], *hist, note, repo.reply.fetched_at, run_id, repo.reply.raw_file], strict=True)))


def load_prior(db_path: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """(ETag cache by URL, github_repos rows by framework) from the live database, if any."""
    if not db.exists(db_path):
        return {}, {}
    con = db.open_read(db_path)
    try:
        if not db.table_exists(con, "github_etags"):
            return {}, {}
        etags = {u: {"etag": e, "raw_file": f} for u, e, f in con.execute("SELECT url, etag, raw_file FROM github_etags").fetchall()}
        repos = con.execute("SELECT * FROM github_repos").df()
        return etags, {row["framework"]: row for row in repos.to_dict("records")}
    finally:
        con.close()


_USERINFO = r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]*@"


def scrub_stored_credentials(con: duckdb.DuckDBPyConnection) -> int:
    """Remove `user:token@` from URLs that earlier versions stored (citations, ETag cache, run errors).

    Before credentials were stripped from GITHUB_API_URL, a token written inside it reached
    history citations and github_etags.url; the next run cleans them. Returns rows changed.
    """
    changed_rows = con.execute(
        "UPDATE observations SET citation = regexp_replace(citation, ?, '\\1') "
        "WHERE source IN ('github', 'github_history', 'github_sampled') AND regexp_matches(citation, ?)",
        [_USERINFO, _USERINFO]).fetchall()[0][0]
    changed_rows += con.execute("DELETE FROM github_etags WHERE regexp_matches(url, ?)", [_USERINFO]).fetchall()[0][0]
    anywhere = _USERINFO.removeprefix("^")
    changed_rows += con.execute(
        "UPDATE ingest_runs SET error = regexp_replace(error, ?, '\\1', 'g') WHERE source = 'github' AND regexp_matches(error, ?)",
        [anywhere, anywhere]).fetchall()[0][0]
    return changed_rows
