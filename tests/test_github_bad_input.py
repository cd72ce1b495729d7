"""Bad input for `pulse ingest github`, as a table: (case, expected message fragment, exit code,
what must be unchanged in the database).

Every case starts from a database that already holds a good GitHub ingest (synthetic data from
tests/github_fake.py), breaks one thing, runs the real CLI, and checks: one clear line for the
error (no traceback), the exit code, and that the stored data it names is exactly as before.
"""

from __future__ import annotations

import datetime as dt
import errno
import gzip
import json
import socket
from dataclasses import dataclass
from collections.abc import Callable

import duckdb
import pytest
from click.testing import CliRunner
from werkzeug.wrappers import Response

from ingest import github, github_http
from pulse.cli import main
from tests.github_fake import FakeGitHub, FakeRepo, fake_github, synthetic_weeks  # noqa: F401 (fixture)
from tests.test_github_http import DRIP_BODY, DripServer, closed_port

TODAY = dt.datetime.now(dt.UTC).date()
SECRET = "ghp_BadInputTableSecret0123456789abcd"
ALL = "SELECT * FROM observations ORDER BY ALL"
HISTORY = "SELECT * FROM observations WHERE source = 'github_history' ORDER BY ALL"


@dataclass
class Ctx:
    fake: FakeGitHub
    monkeypatch: pytest.MonkeyPatch
    tmp_path: object
    base: str
    port: int | None = None
    servers: list | None = None

    def use(self, url: str) -> None:
        self.monkeypatch.setenv("GITHUB_API_URL", url)


def json_response(body, headers: dict | None = None) -> Response:
    return Response(body if isinstance(body, str) else json.dumps(body), status=200,
                    headers={"Content-Type": "application/json", **(headers or {})})


def history_page1(ctx: Ctx, body, headers: dict | None = None) -> None:
    ctx.fake.repos["pytorch/pytorch"].faults[("stargazers/history", 1)] = [json_response(body, headers)]


def closed(ctx: Ctx) -> None:
    ctx.port = closed_port()
    ctx.use(f"http://127.0.0.1:{ctx.port}")


def closed_with_credentials(ctx: Ctx) -> None:
    ctx.port = closed_port()
    ctx.use(f"http://user:{SECRET}@127.0.0.1:{ctx.port}")


def tls_to_plain(ctx: Ctx) -> None:
    ctx.use(ctx.base.replace("http://", "https://"))


def unresolvable(ctx: Ctx) -> None:
    real = socket.getaddrinfo

    def lookup(host, *args, **kwargs):
        if host == "github.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    ctx.monkeypatch.setattr(socket, "getaddrinfo", lookup)
    ctx.use("https://github.invalid")


def dripping(ctx: Ctx) -> None:
    server = DripServer(*DRIP_BODY)
    ctx.servers.append(server)
    ctx.monkeypatch.setattr(github, "REQUEST_DEADLINE", 1.0)
    ctx.use(server.url)


def run_out_of_time(ctx: Ctx) -> None:
    ctx.monkeypatch.setattr(github, "RUN_DEADLINE", 1e-6)


def redirect_elsewhere(ctx: Ctx) -> None:
    for repo in ctx.fake.repos.values():
        repo.faults[("repo", None)] = [Response("", status=301, headers={"Location": "https://api.github.com/repositories/1"})]


def redirect_loop(ctx: Ctx) -> None:
    for name, repo in ctx.fake.repos.items():
        repo.faults[("repo", None)] = [Response("", status=302, headers={"Location": f"{ctx.base}/repos/{name}"})] * 3


def huge_body(ctx: Ctx) -> None:
    ctx.monkeypatch.setattr(github, "MAX_BODY_BYTES", 1000)
    for repo in ctx.fake.repos.values():
        repo.stars = repo.star_count + 1  # a changed answer: a 304 would have no body to cap


def not_json(ctx: Ctx) -> None:
    for repo in ctx.fake.repos.values():
        repo.faults[("repo", None)] = [json_response("<html>Service Unavailable</html>")]


def newest_weeks(ctx: Ctx) -> list[dict]:
    return list(reversed(ctx.fake.repos["pytorch/pytorch"].weeks))


def history_gap(ctx: Ctx) -> None:
    weeks = newest_weeks(ctx)
    history_page1(ctx, weeks[:5] + weeks[6:31])  # the sixth-newest week left out


def history_stale(ctx: Ctx) -> None:
    history_page1(ctx, newest_weeks(ctx)[10:])  # one page, ending ten weeks ago


def history_huge_last(ctx: Ctx) -> None:
    link = f'<{ctx.base}/repos/pytorch/pytorch/stargazers/history?page=999999999>; rel="last"'
    history_page1(ctx, newest_weeks(ctx)[:30], {"Link": link})


def history_bad_week(ctx: Ctx) -> None:
    history_page1(ctx, [{"week": 10 ** 20, "days": [0] * 7, "total": 0}])


def history_negative_day(ctx: Ctx) -> None:
    week = newest_weeks(ctx)[0]
    history_page1(ctx, [{**week, "days": [-1] + week["days"][1:], "total": week["total"] - 1 - week["days"][0]}])


def disk_full(ctx: Ctx) -> None:
    real_open = gzip.open

    def opener(path, mode="rb", **kwargs):
        if "w" in mode:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, **kwargs)

    ctx.monkeypatch.setattr(github_http.gzip, "open", opener)
    for repo in ctx.fake.repos.values():
        repo.stars = repo.star_count + 1  # new bodies to keep


def raw_dir_is_a_file(ctx: Ctx) -> None:
    target = ctx.tmp_path / "raw-file"
    target.write_text("not a directory")
    ctx.monkeypatch.setenv("PULSE_RAW_DIR", str(target))
    for repo in ctx.fake.repos.values():
        repo.stars = repo.star_count + 1


# (case, arrange, expected fragment, exit code, query that must return the same rows as before)
CASES: list[tuple[str, Callable[[Ctx], None], str, int, str]] = [
    ("closed port", closed, "Could not connect to the GitHub API at http://127.0.0.1:{port} (connection refused); "
     "no repository was read and nothing was stored. Check GITHUB_API_URL", 1, ALL),
    ("token in the URL of a closed port", closed_with_credentials,
     "Could not connect to the GitHub API at http://127.0.0.1:{port} (connection refused)", 1, ALL),
    ("https to a plain HTTP server", tls_to_plain, "(TLS handshake failed (", 1, ALL),
    ("host name that does not resolve", unresolvable,
     "Could not connect to the GitHub API at https://github.invalid (the host name could not be resolved)", 1, ALL),
    ("server dripping one byte at a time", dripping, "did not answer in time (no complete answer within 1 s)", 1, ALL),
    ("run out of time", run_out_of_time, "did not answer in time (the run's time ran out)", 1, ALL),
    ("redirect to another host", redirect_elsewhere, "another server than http://localhost:", 1, ALL),
    ("redirect loop", redirect_loop, "redirects in a loop", 1, ALL),
    ("body over the size cap", huge_body, "more than the 1,000 bytes allowed", 1, ALL),
    ("repo answer that is not JSON", not_json, "malformed or truncated JSON", 1, ALL),
    ("history with a missing week", history_gap, "1 week(s) missing between", 0, HISTORY),
    ("history ending weeks ago", history_stale, "recent weeks are missing", 0, HISTORY),
    ("history claiming a billion pages", history_huge_last, "999,999,999 pages", 0, HISTORY),
    ("history week that is no timestamp", history_bad_week, "'week' is not a unix timestamp", 0, HISTORY),
    ("history with a negative day", history_negative_day, "a day count is not a non-negative integer", 0, HISTORY),
    ("disk full in the raw directory", disk_full, "No space left on device", 1, ALL),
    ("raw directory is a file", raw_dir_is_a_file, "Could not write the raw response", 1, ALL),
]


def rows(db_file, sql):
    con = duckdb.connect(str(db_file), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("case, arrange, fragment, exit_code, unchanged", CASES, ids=[c[0] for c in CASES])
def test_bad_input(case, arrange, fragment, exit_code, unchanged, fake_github, db_file, tmp_path, monkeypatch):
    fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=1200), TODAY)))
    fake_github.add(FakeRepo("jax-ml/jax", synthetic_weeks(TODAY - dt.timedelta(days=300), TODAY)))
    first = github.run(db_file, ["pytorch", "jax"], sleep=lambda s: None)
    assert first.status == "ok", first.error
    before = rows(db_file, unchanged)
    ctx = Ctx(fake_github, monkeypatch, tmp_path, fake_github.base_url, servers=[])
    try:
        arrange(ctx)
        result = CliRunner().invoke(main, ["ingest", "github", "--db", str(db_file), "--framework", "pytorch", "--framework", "jax"])
    finally:
        for server in ctx.servers:
            server.close()
    output = "\n".join(line for line in result.output.splitlines() if "werkzeug" not in line)  # the fake's own log
    expected = fragment.format(port=ctx.port)
    assert result.exit_code == exit_code, output
    assert expected in output, output
    assert "Traceback" not in output and SECRET not in output
    if exit_code:
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
        error_lines = [line for line in output.splitlines() if line.startswith("Error:")]
        assert len(error_lines) == 1 and len(error_lines[0]) <= 2500
    assert rows(db_file, unchanged) == before
    assert SECRET not in str(rows(db_file, "SELECT * FROM ingest_runs"))


def test_every_registry_repository_failing_the_same_way_is_still_one_short_line(fake_github, db_file):
    from pulse import registry

    for framework in registry.frameworks().values():
        if framework.primary_repo:
            repo = fake_github.add(FakeRepo(framework.primary_repo, []))
            repo.faults[("repo", None)] = [Response("", status=301, headers={"Location": "https://api.github.com/repositories/1"})]
    result = CliRunner().invoke(main, ["ingest", "github", "--db", str(db_file)])
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1 and len(errors) == 1
    assert len(errors[0].encode()) <= 2500 and errors[0].count("was redirected to") == 1
    assert f"({len(fake_github.repos) - 1} more failed too: " in errors[0]


def test_a_server_that_stalls_mid_run_keeps_the_finished_repositories(fake_github, db_file, monkeypatch):
    fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=100), TODAY)))
    stalled = fake_github.add(FakeRepo("jax-ml/jax", synthetic_weeks(TODAY - dt.timedelta(days=100), TODAY)))

    def stall(request):
        import time

        time.sleep(2.5)
        return Response("{}", status=200)

    stalled.faults[("repo", None)] = [stall]
    monkeypatch.setattr(github, "REQUEST_DEADLINE", 1.0)
    result = CliRunner().invoke(main, ["ingest", "github", "--db", str(db_file), "--framework", "pytorch", "--framework", "jax",
                                       "--framework", "keras"])
    assert result.exit_code == 1
    assert "GitHub ingest partial:" in result.output  # the summary of what was stored comes first
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "did not answer in time" in errors[0] and "stopped after 1 of 3 repositories; those were stored" in errors[0]
    assert rows(db_file, "SELECT DISTINCT framework FROM observations") == [("pytorch",)]
    assert fake_github.count("repo") == 2  # keras was not asked
    assert rows(db_file, "SELECT status FROM ingest_runs") == [("partial",)]
