"""GitHub ingest against a fake API on loopback (tests/github_fake.py): rows, request counts, failures."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import json
import logging

import duckdb
import pytest
from click.testing import CliRunner
from werkzeug.wrappers import Response

from ingest import github
from pulse import registry
from pulse.errors import RateLimited
from tests.github_fake import FakeRepo, etag_of, fake_github, rate_limit_response, synthetic_weeks  # noqa: F401 (fixture)

TODAY = dt.datetime.now(dt.UTC).date()
TOKEN = "ghp_SyntheticTestToken1234567890abcdef"


@pytest.fixture
def fake(fake_github):
    api = fake_github
    # ~2 years of weeks: 4-5 history pages of 30 weeks each.
    api.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=800), TODAY)))
    api.add(FakeRepo("jax-ml/jax", synthetic_weeks(TODAY - dt.timedelta(days=400), TODAY, lambda i: 2)))
    return api


@pytest.fixture
def sleeps():
    return []


def ingest(db_file, sleeps, frameworks=("pytorch", "jax"), **kwargs):
    return github.run(db_file, list(frameworks), sleep=sleeps.append, **kwargs)


def rows(db_file, sql, params=()):
    con = duckdb.connect(str(db_file), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def history_pages(repo: FakeRepo, per_page=30) -> int:
    return -(-len(repo.weeks) // per_page)


def test_first_run_stores_counts_and_exact_history(db_file, fake, sleeps):
    run = ingest(db_file, sleeps)
    assert run.status == "ok", run.error
    pt, jx = fake.repos["pytorch/pytorch"], fake.repos["jax-ml/jax"]
    assert fake.count("repo") == 2
    assert fake.count("stargazers/history") == history_pages(pt) + history_pages(jx)
    assert run.requests == 2 + history_pages(pt) + history_pages(jx)
    counts = dict(((f, m), v) for f, m, v in rows(db_file, "SELECT framework, metric, value FROM observations WHERE source='github' AND date = ?", [TODAY]))
    assert counts[("pytorch", "github_stars")] == pt.star_count
    assert counts[("pytorch", "github_forks")] == 1000
    assert counts[("pytorch", "github_watchers")] == 300  # subscribers_count, not watchers_count
    assert counts[("jax", "github_open_issues")] == 42
    series = rows(db_file, "SELECT date, value, subject FROM observations WHERE source='github_history' AND framework='pytorch' ORDER BY date")
    assert series[-1][:2] == (TODAY, pt.star_count)
    assert series[0][0] == TODAY - dt.timedelta(days=800)
    assert len(series) == 801  # one point per day
    assert all(b[1] >= a[1] for a, b in zip(series, series[1:]))
    assert {s[2] for s in series} == {"pytorch/pytorch"}
    meta = rows(db_file, "SELECT full_name, stargazers, history_source, history_delta, watchers FROM github_repos WHERE framework='pytorch'")
    assert meta == [("pytorch/pytorch", pt.star_count, "github_history", 0, 300)]
    (status, rows_, requests_), = rows(db_file, "SELECT status, rows, requests FROM ingest_runs WHERE source='github'")
    assert (status, requests_) == ("ok", run.requests) and rows_ == run.rows > 800
    raw = rows(db_file, "SELECT DISTINCT raw_file FROM observations WHERE source='github'")
    assert all(r[0].endswith("repo.json.gz") for r in raw)
    assert all(r.headers.get("X-GitHub-Api-Version") == "2026-03-10" for r in fake.requests("stargazers/history"))


def test_unchanged_second_run_costs_only_304s_and_writes_nothing(db_file, fake, sleeps):
    ingest(db_file, sleeps)
    before = rows(db_file, "SELECT * FROM observations ORDER BY ALL")
    fake.seen.clear()
    run = ingest(db_file, sleeps)
    assert run.status == "ok"
    assert run.requests == 4 and run.detail["not_modified"] == 4  # repo + history page 1, per repo
    assert run.rows == 0
    assert rows(db_file, "SELECT * FROM observations ORDER BY ALL") == before
    assert all(r.headers.get("If-None-Match") for r in fake.seen)
    assert "4 requests made, 4 answered 304" in github.summary(run)


def test_new_stars_refresh_history_with_conditional_pages(db_file, fake, sleeps):
    ingest(db_file, sleeps, frameworks=["pytorch"])
    pt = fake.repos["pytorch/pytorch"]
    pt.weeks[-1] = {**pt.weeks[-1], "days": [d + 1 if i == 0 else d for i, d in enumerate(pt.weeks[-1]["days"])]}
    pt.weeks[-1]["total"] = sum(pt.weeks[-1]["days"])
    fake.seen.clear()
    run = ingest(db_file, sleeps, frameworks=["pytorch"])
    assert run.status == "ok"
    # Only page 1 (newest weeks) and the repo changed; older pages answer 304.
    assert run.detail["not_modified"] == history_pages(pt) - 1
    assert rows(db_file, "SELECT value FROM observations WHERE source='github_history' AND framework='pytorch' AND date=?", [TODAY]) == [(pt.star_count,)]
    assert 0 < run.rows < 20


@pytest.mark.parametrize("how", ["full_name", "redirect"])
def test_rename_is_followed_and_recorded(db_file, fake, sleeps, monkeypatch, how):
    frameworks = dict(registry.frameworks())
    frameworks["jax"] = dataclasses.replace(frameworks["jax"], github=("google/jax",), github_former=())
    monkeypatch.setattr(registry, "frameworks", lambda: frameworks)
    (fake.aliases if how == "full_name" else fake.redirects)["google/jax"] = "jax-ml/jax"
    run = ingest(db_file, sleeps, frameworks=["jax"])
    assert run.status == "ok", run.error
    subjects = rows(db_file, "SELECT DISTINCT source, subject, json_extract_string(detail, '$.former_names[0]') FROM observations WHERE framework='jax' ORDER BY 1")
    assert subjects == [("github", "jax-ml/jax", "google/jax"), ("github_history", "jax-ml/jax", "google/jax")]
    assert rows(db_file, "SELECT requested, full_name, renamed_from FROM github_repos") == [("google/jax", "jax-ml/jax", '["google/jax"]')]
    # The history is asked for under the current name.
    assert {r.path.split("/")[2] for r in fake.requests("stargazers/history")} == {"jax-ml"}
    assert "formerly google/jax" in github.summary(run)


def test_rate_limit_403_stops_cleanly_with_reset_time_and_keeps_data(db_file, fake, sleeps):
    ingest(db_file, sleeps)
    before = rows(db_file, "SELECT * FROM observations ORDER BY ALL")
    fake.repos["pytorch/pytorch"].faults[("repo", None)] = [rate_limit_response(403, reset=1795438800)]
    with pytest.raises(RateLimited) as info:
        ingest(db_file, sleeps)
    message = str(info.value)
    assert "2026-11-23 13:00 UTC" in message  # 1795438800
    assert "GITHUB_TOKEN is not set" in message
    assert fake.count("repo") == 3  # stopped at once: jax was not asked for
    assert rows(db_file, "SELECT * FROM observations ORDER BY ALL") == before
    assert rows(db_file, "SELECT status FROM ingest_runs ORDER BY started_at DESC LIMIT 1") == [("failed",)]
    assert sleeps == []


def test_rate_limit_mid_run_saves_finished_repos_as_partial(db_file, fake, sleeps):
    fake.repos["jax-ml/jax"].faults[("stargazers/history", 1)] = [rate_limit_response(403)]
    with pytest.raises(RateLimited) as info:
        ingest(db_file, sleeps)
    assert info.value.run.status == "partial"
    assert rows(db_file, "SELECT count(*) FROM observations WHERE framework='pytorch' AND source='github_history'")[0][0] == 801
    assert rows(db_file, "SELECT count(*) FROM observations WHERE framework='jax' AND source='github_history'")[0][0] == 0
    status, error = rows(db_file, "SELECT status, error FROM ingest_runs")[0]
    assert status == "partial" and "jax-ml/jax: stopped by the rate limit" in error


def test_429_retry_after_then_success(db_file, fake, sleeps):
    fake.repos["pytorch/pytorch"].faults[("stargazers/history", 2)] = [rate_limit_response(429, retry_after="7")]
    fake.repos["jax-ml/jax"].faults[("repo", None)] = [rate_limit_response(403, retry_after="3")]  # secondary limit
    run = ingest(db_file, sleeps)
    assert run.status == "ok", run.error
    assert sorted(sleeps) == [3.0, 7.0]
    assert run.requests == 2 + 2 + history_pages(fake.repos["pytorch/pytorch"]) + history_pages(fake.repos["jax-ml/jax"])
    assert rows(db_file, "SELECT count(*) FROM observations WHERE source='github_history'")[0][0] == 801 + 401


def test_500_then_success(db_file, fake, sleeps):
    fake.repos["pytorch/pytorch"].faults[("stargazers/history", 3)] = [Response("oops", status=500)]
    run = ingest(db_file, sleeps, frameworks=["pytorch"])
    assert run.status == "ok"
    assert len(sleeps) == 1
    assert fake.count("stargazers/history") == history_pages(fake.repos["pytorch/pytorch"]) + 1


def test_history_404_falls_back_to_sampled_stargazer_list(db_file, fake, sleeps, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)  # the list is for collaborators only: needs a token
    pt = fake.repos["pytorch/pytorch"]
    pt.history_status, pt.stargazer_pages, pt.stars = 404, 60, 250_000
    run = ingest(db_file, sleeps, frameworks=["pytorch"])
    assert run.status == "ok", run.error
    listed = fake.requests("stargazers")
    assert len(listed) == 15  # evenly sampled pages of 60
    assert {int(r.args["page"]) for r in listed} >= {1, 60}
    assert all("application/vnd.github.star+json" in r.headers["Accept"] for r in listed)
    points = rows(db_file, "SELECT date, value, json_extract(detail, '$.pages_total') FROM observations WHERE source='github_sampled' ORDER BY date")
    assert points[0][:2] == (dt.date(2016, 1, 1), 1.0)
    assert points[-1][:2] == (TODAY, 250_000.0)
    assert points[0][2] == "60" or points[0][2] == 60
    assert rows(db_file, "SELECT count(*) FROM observations WHERE source='github_history'")[0][0] == 0


def test_history_and_list_refused_keeps_stored_history_and_says_so(db_file, fake, sleeps, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    ingest(db_file, sleeps, frameworks=["pytorch"])
    before = rows(db_file, "SELECT * FROM observations WHERE source='github_history' ORDER BY ALL")
    pt = fake.repos["pytorch/pytorch"]
    pt.history_status, pt.list_status = 404, 403
    pt.stars = pt.star_count + 5
    run = ingest(db_file, sleeps, frameworks=["pytorch"])
    assert run.status == "partial"
    assert "stargazer list answered 403" in run.error and "stored star history was kept" in run.error
    assert rows(db_file, "SELECT * FROM observations WHERE source='github_history' ORDER BY ALL") == before
    assert rows(db_file, "SELECT value FROM observations WHERE source='github' AND metric='github_stars'") == [(pt.stars,)]


def _bad_week(kind):
    ts = int(dt.datetime(2025, 6, 1, tzinfo=dt.UTC).timestamp())
    if kind == "six days":
        return json.dumps([{"week": ts, "days": [1, 2, 3, 4, 5, 6], "total": 21}])
    if kind == "wrong total":
        return json.dumps([{"week": ts, "days": [1, 2, 3, 4, 5, 6, 7], "total": 29}])
    return '[{"week": %d, "days": [1, 2, 3' % ts  # truncated JSON


@pytest.mark.parametrize("kind", ["six days", "wrong total", "truncated"])
def test_malformed_history_page_rejects_that_history_only(db_file, fake, sleeps, kind):
    ingest(db_file, sleeps)
    before = rows(db_file, "SELECT * FROM observations WHERE source='github_history' ORDER BY ALL")
    pt = fake.repos["pytorch/pytorch"]
    newest = pt.weeks[-1]  # a new star this week: the repo and page 1 change, so every page is asked again
    pt.weeks[-1] = {**newest, "days": [newest["days"][0] + 1, *newest["days"][1:]], "total": newest["total"] + 1}
    pt.page_override[3] = _bad_week(kind)
    fake.repos["jax-ml/jax"].stars = 9999
    run = ingest(db_file, sleeps)
    assert run.status == "partial"
    assert run.error.startswith("pytorch/pytorch: star history not stored, previous history kept")
    assert {"six days": "6 days instead of 7", "wrong total": "total says 29", "truncated": "truncated JSON"}[kind] in run.error
    assert rows(db_file, "SELECT * FROM observations WHERE source='github_history' AND framework='pytorch' ORDER BY ALL") == \
        [r for r in before if r[1] == "pytorch"]
    # Other repos and current counts are still stored.
    assert rows(db_file, "SELECT value FROM observations WHERE source='github_history' AND framework='jax' AND date=?", [TODAY]) == [(9999.0,)]
    assert rows(db_file, "SELECT value FROM observations WHERE source='github' AND framework='pytorch' AND metric='github_stars'") == [(pt.star_count,)]
    # The rejected page's ETag is not kept: the next run cannot get a 304 for the bad body.
    bad_etag = etag_of(pt.page_override[3])
    pt.page_override.clear()
    fake.seen.clear()
    again = ingest(db_file, sleeps, frameworks=["pytorch"])
    assert again.status == "ok"
    page3 = [r for r in fake.requests("stargazers/history") if r.args["page"] == "3"]
    assert page3 and page3[0].headers.get("If-None-Match") != bad_etag
    assert rows(db_file, "SELECT max(value) FROM observations WHERE source='github_history' AND framework='pytorch'") == [(pt.star_count,)]
    assert rows(db_file, "SELECT history_delta FROM github_repos WHERE framework='pytorch'") == [(0,)]


def test_truncated_repo_json_skips_that_repo(db_file, fake, sleeps):
    fake.repos["jax-ml/jax"].faults[("repo", None)] = [Response('{"full_name": "jax-ml/ja', status=200)]
    run = ingest(db_file, sleeps)
    assert run.status == "partial"
    assert "jax: not fetched" in run.error and "truncated JSON" in run.error
    assert rows(db_file, "SELECT DISTINCT framework FROM observations") == [("pytorch",)]


def test_token_never_stored_logged_or_shown(db_file, fake, sleeps, monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    ingest(db_file, sleeps)
    assert set(fake.token_seen) == {f"Bearer {TOKEN}"}
    fake.repos["jax-ml/jax"].faults[("repo", None)] = [rate_limit_response(403)]
    with pytest.raises(RateLimited) as info:
        ingest(db_file, sleeps)
    assert "GITHUB_TOKEN is set" in str(info.value) and TOKEN not in str(info.value)
    assert TOKEN not in caplog.text
    assert TOKEN.encode() not in db_file.read_bytes()
    for raw in (tmp_path / "raw").rglob("*.gz"):
        assert TOKEN not in gzip.open(raw, "rt").read()
    result = CliRunner().invoke(__import__("pulse.cli", fromlist=["main"]).main, ["ingest", "github", "--db", str(db_file), "--framework", "jax"])
    assert TOKEN not in result.output


def test_replay_loads_without_network(db_file, fake, sleeps, tmp_path, httpserver, monkeypatch):
    ingest(db_file, sleeps)
    expected = rows(db_file, "SELECT source, framework, metric, date, value, subject FROM observations ORDER BY ALL")
    fake.seen.clear()
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9")
    replayed = tmp_path / "replayed.duckdb"
    run = github.run(replayed, ["pytorch", "jax"], replay=tmp_path / "raw" / "github")
    assert run.status == "ok" and run.detail["replay"]
    assert rows(replayed, "SELECT source, framework, metric, date, value, subject FROM observations ORDER BY ALL") == expected
    assert rows(replayed, "SELECT count(*) FROM github_etags")[0][0] == 0
    assert fake.seen == [] and run.requests == 2 + sum(history_pages(r) for r in fake.repos.values())  # answered from files, not the server


def test_cli_prints_summary(db_file, fake):
    from pulse.cli import main

    result = CliRunner().invoke(main, ["ingest", "github", "--db", str(db_file), "--framework", "pytorch"])
    assert result.exit_code == 0, result.output
    pages = history_pages(fake.repos["pytorch/pytorch"])
    assert f"GitHub ingest ok: {1 + pages} requests made, 0 answered 304 (not modified)" in result.output
    assert "pytorch/pytorch: history github_history" in result.output
    bad = CliRunner().invoke(main, ["ingest", "github", "--db", str(db_file), "--framework", "pytorh"])
    assert bad.exit_code != 0 and "Did you mean 'pytorch'" in bad.output


def test_run_with_only_db_path_reads_every_registry_repo(db_file, fake, sleeps):
    for f in registry.frameworks().values():
        if f.primary_repo.lower() not in fake.repos:
            fake.add(FakeRepo(f.primary_repo, synthetic_weeks(TODAY - dt.timedelta(days=30), TODAY)))
    run = github.run(db_file)
    assert run.status == "ok", run.error
    assert {r[0] for r in rows(db_file, "SELECT framework FROM github_repos")} == set(registry.ids())


def test_server_down_fails_the_run_and_keeps_everything(db_file, fake, sleeps):
    ingest(db_file, sleeps)
    before = rows(db_file, "SELECT * FROM observations ORDER BY ALL")
    for repo in fake.repos.values():
        repo.faults[("repo", None)] = [Response("down", status=502) for _ in range(10)]
    with pytest.raises(github.SourceError, match="No GitHub repository could be read.*answered HTTP 502"):
        ingest(db_file, sleeps)
    assert rows(db_file, "SELECT * FROM observations ORDER BY ALL") == before
    assert rows(db_file, "SELECT status FROM ingest_runs ORDER BY started_at DESC LIMIT 1") == [("failed",)]
    assert len(sleeps) == 6  # 3 back-off waits per repo, none real


def test_retry_after_longer_than_the_cap_stops_with_rate_limit(db_file, fake, sleeps):
    fake.repos["pytorch/pytorch"].faults[("repo", None)] = [rate_limit_response(429, retry_after="3600")]
    with pytest.raises(RateLimited, match="rate limit reached \\(HTTP 429\\)"):
        ingest(db_file, sleeps, frameworks=["pytorch"])
    assert sleeps == []  # an hour is past the 120 s wait cap: stop, do not sleep
    assert rows(db_file, "SELECT count(*) FROM observations")[0][0] == 0
    assert rows(db_file, "SELECT status FROM ingest_runs") == [("failed",)]


def test_cli_rate_limit_prints_summary_then_clean_error(db_file, fake):
    from pulse.cli import main

    fake.repos["jax-ml/jax"].faults[("repo", None)] = [rate_limit_response(403, reset=1795438800)]
    result = CliRunner().invoke(main, ["ingest", "github", "--db", str(db_file)] + [a for f in ("pytorch", "jax") for a in ("--framework", f)])
    assert result.exit_code == 1
    assert "GitHub ingest partial:" in result.output
    assert "Error: GitHub API rate limit reached (HTTP 403)" in result.output and "13:00 UTC" in result.output
    assert "Traceback" not in result.output


def test_pages_read_before_a_spent_limit_are_free_304s_next_run(db_file, fake, sleeps, monkeypatch):
    monkeypatch.setenv("PULSE_GITHUB_WORKERS", "1")  # pages in order: 2 is read, 3 hits the limit, 4 is not asked
    pt = fake.repos["pytorch/pytorch"]
    pt.faults[("stargazers/history", 3)] = [rate_limit_response(403)]
    with pytest.raises(RateLimited):
        ingest(db_file, sleeps, frameworks=["pytorch"])
    assert [r.args["page"] for r in fake.requests("stargazers/history")] == ["1", "2", "3"]
    assert rows(db_file, "SELECT count(*) FROM observations WHERE source='github_history'")[0][0] == 0
    fake.seen.clear()
    run = ingest(db_file, sleeps, frameworks=["pytorch"])
    assert run.status == "ok"
    assert run.detail["not_modified"] == 3  # repo, history pages 1 and 2
    assert run.requests == 1 + history_pages(pt)
    assert rows(db_file, "SELECT count(*) FROM observations WHERE source='github_history'")[0][0] == 801


def test_token_from_secrets_file_and_cli_replay(db_file, fake, tmp_path, monkeypatch):
    from pulse import config
    from pulse.cli import main

    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'GITHUB_TOKEN = "{TOKEN}"\n')
    monkeypatch.setattr(config, "SECRETS_FILE", secrets)
    result = CliRunner().invoke(main, ["ingest", "github", "--db", str(db_file), "--framework", "jax"])
    assert result.exit_code == 0, result.output
    assert set(fake.token_seen) == {f"Bearer {TOKEN}"} and "GITHUB_TOKEN is set" in result.output
    fake.seen.clear()
    replayed = tmp_path / "replayed.duckdb"
    result = CliRunner().invoke(main, ["ingest", "github", "--db", str(replayed), "--framework", "jax", "--replay", str(tmp_path / "raw" / "github")])
    assert result.exit_code == 0, result.output
    assert fake.seen == []
    assert rows(replayed, "SELECT value FROM observations WHERE source='github' AND metric='github_stars'") == \
        [(float(fake.repos["jax-ml/jax"].star_count),)]
    missing = CliRunner().invoke(main, ["ingest", "github", "--db", str(replayed), "--replay", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_next_day_unchanged_run_records_todays_counts_from_the_304(db_file, fake, sleeps):
    from pulse import db

    ingest(db_file, sleeps, frameworks=["pytorch"])
    with db.write_session(db_file) as con:  # pretend the first run was yesterday
        con.execute("UPDATE observations SET date = date - 1 WHERE source = 'github'")
    fake.seen.clear()
    run = ingest(db_file, sleeps, frameworks=["pytorch"])
    assert run.requests == 2 and run.detail["not_modified"] == 2
    assert run.rows == 4  # today's stars, forks, open issues, watchers; the history is untouched
    dates = rows(db_file, "SELECT date, count(*) FROM observations WHERE source='github' GROUP BY date ORDER BY date")
    assert dates == [(TODAY - dt.timedelta(days=1), 4), (TODAY, 4)]
    raw = rows(db_file, "SELECT DISTINCT raw_file FROM observations WHERE source='github' AND date=?", [TODAY])
    assert len(raw) == 1 and raw[0][0].endswith("repo.json.gz")  # the envelope the 304 pointed back to


def test_damaged_kept_response_is_fetched_again_in_full(db_file, fake, sleeps, tmp_path):
    ingest(db_file, sleeps, frameworks=["pytorch"])
    for envelope in (tmp_path / "raw" / "github" / "pytorch__pytorch").rglob("repo.json.gz"):
        envelope.write_bytes(b"\x1f\x8b damaged")
    fake.seen.clear()
    run = ingest(db_file, sleeps, frameworks=["pytorch"])
    assert run.status == "ok"
    repo_requests = fake.requests("repo")
    assert len(repo_requests) == 2 and repo_requests[1].headers.get("If-None-Match") is None
    assert run.detail["not_modified"] == 2  # the first repo answer and history page 1


def test_without_a_token_the_stargazer_list_is_not_tried(db_file, fake, sleeps):
    fake.repos["pytorch/pytorch"].history_status = 404
    run = ingest(db_file, sleeps, frameworks=["pytorch"])
    assert run.status == "partial" and "GITHUB_TOKEN is not set" in run.error
    assert fake.count("stargazers") == 0 and run.requests == 2
