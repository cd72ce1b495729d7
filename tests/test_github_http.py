"""The HTTP layer (ingest/http.py) and the GitHub client over real loopback sockets: deadlines
against dripping servers, connection failures, credentials and origins, capped bodies, raw files.

All servers here are local; the dripping ones are raw sockets so the pace of every byte is ours.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import errno
import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest
import requests
from click.testing import CliRunner
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Response

from ingest import github, github_http
from ingest import http as pulse_http
from ingest.http import (
    BodyTooLarge, ConnectionFailed, DeadlineExceeded, Fetcher, PageGuard, describe_network_error, make_session,
    origin_text, same_origin, strip_credentials, url_credentials,
)
from pulse import config
from pulse.errors import SourceError
from tests.github_fake import FakeRepo, fake_github, synthetic_weeks  # noqa: F401 (fixture)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.datetime.now(dt.UTC).date()
SECRET = "ghp_UrlEmbeddedSecret0123456789abcdef"
HANG_GUARD = 60  # seconds: only catches a hang, never a speed claim (speed is in docs/benchmarks.md)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DripServer:
    """A loopback server that answers every connection by sending `head` at once, then `tail`
    one byte every `every` seconds (a server that never quite stops answering)."""

    def __init__(self, head: bytes, tail: bytes, every: float = 0.2):
        self.head, self.tail, self.every = head, tail, every
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with contextlib.suppress(OSError), conn:
            conn.recv(65536)
            conn.sendall(self.head)
            for byte in self.tail:
                if self.stop.wait(self.every):
                    return
                conn.sendall(bytes([byte]))

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.fixture
def drip():
    servers = []

    def make(head: bytes, tail: bytes, every: float = 0.2) -> DripServer:
        server = DripServer(head, tail, every)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


DRIP_BODY = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n", b"[" + b" " * 4998 + b"]")
DRIP_HEADERS = (b"HTTP/1.1 200 OK\r\n", b"X-Slow: " + b"a" * 5000 + b"\r\n\r\n")


# --- URL helpers ------------------------------------------------------------------------------

@pytest.mark.parametrize("url, base, same", [
    ("https://api.github.com/repos/a/b", "https://api.github.com", True),
    ("https://API.github.com:443/x", "https://api.github.com/", True),
    ("http://api.github.com/x", "https://api.github.com", False),  # scheme
    ("https://api.github.com:8443/x", "https://api.github.com", False),  # port
    ("https://api.github.com.evil.example/x", "https://api.github.com", False),  # host suffix
    ("https://evil.example/?u=https://api.github.com", "https://api.github.com", False),
    ("https://user:pw@api.github.com/x", "https://api.github.com", True),  # credentials are not the origin
    ("/repos/a/b", "https://api.github.com", False),  # relative: join first
    ("https://api.github.com:notaport/x", "https://api.github.com", False),
])
def test_same_origin_compares_scheme_host_and_port(url, base, same):
    assert same_origin(url, base) is same


def test_strip_credentials_and_url_credentials():
    url = f"https://x-access-token:{SECRET}@ghe.example:8443/api/v3?q=1"
    assert strip_credentials(url) == "https://ghe.example:8443/api/v3?q=1"
    assert url_credentials(url) == ("x-access-token", SECRET)
    assert url_credentials("https://a%40b:p%3Aw@h/") == ("a@b", "p:w")
    assert strip_credentials("https://api.github.com/x") == "https://api.github.com/x"
    assert origin_text(url) == "https://ghe.example:8443"


def test_secrets_in_base_url_settings_are_redacted(monkeypatch):
    monkeypatch.setenv("GITHUB_API_URL", f"https://user:{SECRET}@ghe.example")
    assert config.redact(f"token {SECRET} here") == "token *** here"
    monkeypatch.setenv("HF_ENDPOINT", "https://hf_TokenAsUser1234@hub.example")  # token as the user part
    assert "hf_TokenAsUser1234" not in config.redact("https://hf_TokenAsUser1234@hub.example/api")


def test_page_guard_stops_on_repeat_limit_and_other_server():
    guard = PageGuard("models", max_pages=3, origin="https://hub.example")
    guard.check("https://hub.example/api?cursor=1")
    with pytest.raises(SourceError, match="repeats"):
        guard.check("https://hub.example/api?cursor=1")
    with pytest.raises(SourceError, match="not https://hub.example; not followed"):
        guard.check("https://elsewhere.example/api?cursor=2")
    guard.check("https://hub.example/api?cursor=2")
    guard.check("https://hub.example/api?cursor=3")
    with pytest.raises(SourceError, match="more than 3 pages"):
        guard.check("https://hub.example/api?cursor=4")


# --- Deadlines ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [DRIP_BODY, DRIP_HEADERS], ids=["body", "headers"])
def test_a_dripping_server_is_cut_off_at_the_deadline(drip, shape):
    server = drip(*shape)  # 5,000 bytes at 5 per second: ~17 minutes if only per-read timeouts applied
    fetcher = Fetcher(make_session(), deadline=1.5, sleep=lambda s: None)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match=r"did not finish answering .* within 2 s") as info:
        fetcher.get(server.url + "/repos/a/b")
    assert time.monotonic() - started < HANG_GUARD
    assert info.value.kind == "deadline" and server.connections == 1  # not retried


def test_the_run_deadline_bounds_every_exchange(drip):
    server = drip(*DRIP_BODY)
    fetcher = Fetcher(make_session(), deadline=600, run_deadline=time.monotonic() + 1.0)
    with pytest.raises(DeadlineExceeded):
        fetcher.get(server.url + "/x")
    with pytest.raises(DeadlineExceeded, match="run's time ran out before asking"):
        fetcher.get(server.url + "/y")
    assert server.connections == 1


def test_github_run_against_a_dripping_server_stops_with_one_message(drip, db_file, monkeypatch):
    server = drip(*DRIP_BODY)
    monkeypatch.setenv("GITHUB_API_URL", server.url)
    monkeypatch.setattr(github, "REQUEST_DEADLINE", 1.0)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded) as info:
        github.run(db_file, ["pytorch", "jax", "keras"])
    assert time.monotonic() - started < HANG_GUARD
    message = str(info.value)
    assert message.startswith(f"The GitHub API at {server.url} did not answer in time")
    assert "no repository was read and nothing was stored" in message and "GITHUB_API_URL" in message
    assert server.connections == 1  # the other repositories were not asked
    assert duckdb.connect(str(db_file), read_only=True).execute(
        "SELECT status FROM ingest_runs WHERE source = 'github'").fetchall() == [("failed",)]


# --- Connection failures --------------------------------------------------------------------

def test_connection_refused_ends_the_cli_run_in_one_short_line(tmp_path):
    """The issue's case: `pulse ingest github` against a closed port (<= 2,500 bytes of output)."""
    port = closed_port()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "GITHUB_API_URL": f"http://127.0.0.1:{port}",
           "PULSE_RAW_DIR": str(tmp_path / "raw")}
    env.pop("GITHUB_TOKEN", None)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pulse", "ingest", "github", "--db", str(tmp_path / "p.duckdb")],
                          capture_output=True, env=env, timeout=HANG_GUARD, cwd=tmp_path)
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert len(output) <= 2500, output
    text = output.decode()
    assert text.count("\n") == 1 and text.startswith("Error: Could not connect to the GitHub API at "
                                                     f"http://127.0.0.1:{port} (connection refused)")
    assert "GITHUB_API_URL" in text and "HTTPConnectionPool" not in text and "Traceback" not in text
    print(f"closed port: {elapsed:.2f} s, {len(output)} bytes")


def test_tls_to_a_plain_http_server_is_one_connection_failure(httpserver):
    httpserver.expect_request("/x").respond_with_data("plain")
    url = httpserver.url_for("/x").replace("http://", "https://")
    with pytest.raises(ConnectionFailed, match=r"Could not connect to https://localhost:\d+ \(TLS handshake failed") as info:
        Fetcher(make_session()).get(url)
    assert info.value.kind == "tls" and "CA certificates" in info.value.advice("GITHUB_API_URL")


def test_an_unresolvable_host_is_one_connection_failure(monkeypatch):
    def no_dns(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(ConnectionFailed, match=r"github.invalid \(the host name could not be resolved\)") as info:
        Fetcher(make_session(), sleep=lambda s: pytest.fail("a DNS failure must not be retried")).get("https://github.invalid/x")
    assert info.value.kind == "dns" and len(str(info.value)) < 300


def test_dropped_connections_are_retried_then_reported_briefly(drip):
    server = drip(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b"")  # promises 100 bytes, closes
    sleeps = []
    with pytest.raises(pulse_http.Unreachable, match=r"the answer was cut off|dropped") as info:
        Fetcher(make_session(), sleep=sleeps.append).get(server.url + "/x")
    assert server.connections == 4 and sleeps == [1.0, 2.0, 4.0]
    assert "(4 tries)" in str(info.value) and len(str(info.value)) < 300


def test_describe_network_error_keeps_one_short_clause():
    exc = requests.ConnectionError("HTTPConnectionPool(host='x', port=1): Max retries exceeded " * 20)
    kind, reason = describe_network_error(exc)
    assert (kind, reason) == ("network", "ConnectionError")


# --- Bodies ---------------------------------------------------------------------------------

@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_bodies_over_the_cap_are_refused(httpserver, chunked):
    body = b"x" * 5000
    if chunked:
        httpserver.expect_request("/big").respond_with_handler(lambda r: Response(body[i:i + 100] for i in range(0, 5000, 100)))
    else:
        httpserver.expect_request("/big").respond_with_data(body)
    with pytest.raises(BodyTooLarge, match="more than the 1,000 bytes allowed"):
        Fetcher(make_session(), max_bytes=1000).get(httpserver.url_for("/big"))
    assert Fetcher(make_session(), max_bytes=5000).get(httpserver.url_for("/big")).content == body


# --- Origins and redirects ------------------------------------------------------------------

@pytest.fixture
def other_server():
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def test_a_redirect_to_another_server_is_refused_and_gets_no_token(httpserver, other_server):
    other_server.expect_request("/stolen").respond_with_data("{}")
    httpserver.expect_request("/repos/a/b").respond_with_data("", status=301, headers={"Location": other_server.url_for("/stolen")})
    fetcher = Fetcher(make_session("tok_" + "x" * 20), origin=httpserver.url_for("/").rstrip("/"))
    with pytest.raises(SourceError, match=r"was redirected to http://127.0.0.1:\d+, another server than http://localhost:\d+; not followed"):
        fetcher.get(httpserver.url_for("/repos/a/b"))
    assert other_server.log == []
    # Without an origin the redirect is followed, but the token stays behind.
    response = Fetcher(make_session("tok_" + "x" * 20)).get(httpserver.url_for("/repos/a/b"))
    assert response.status_code == 200 and [r.status_code for r in response.history] == [301]
    assert "Authorization" not in other_server.log[0][0].headers


def test_a_redirect_loop_stops(httpserver):
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    with pytest.raises(SourceError, match="redirects in a loop"):
        Fetcher(make_session()).get(httpserver.url_for("/a"))


# --- The GitHub client: credentials, raw files, replay-only provenance -------------------------

def all_text(db_path: Path) -> str:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        parts = []
        for table in ("observations", "github_etags", "github_repos", "ingest_runs"):
            parts.append(str(con.execute(f"SELECT * FROM {table}").fetchall()))  # fixed table names from code
        return "\n".join(parts)
    finally:
        con.close()


def test_a_token_inside_github_api_url_is_used_but_never_kept(fake_github, db_file, tmp_path, monkeypatch, caplog):
    fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=100), TODAY)))
    base = os.environ["GITHUB_API_URL"]
    monkeypatch.setenv("GITHUB_API_URL", base.replace("http://", f"http://x-access-token:{SECRET}@"))
    caplog.set_level("DEBUG")
    from pulse.cli import main

    result = CliRunner().invoke(main, ["ingest", "github", "--db", str(db_file), "--framework", "pytorch"])
    assert result.exit_code == 0, result.output
    assert "GITHUB_TOKEN is set" in result.output  # credentials count as a token for the limit
    expected = "Basic " + base64.b64encode(f"x-access-token:{SECRET}".encode()).decode()
    assert set(fake_github.token_seen) == {expected}
    stored = all_text(db_file)
    assert SECRET not in stored and "x-access-token" not in stored and "@127.0.0.1" not in stored
    assert SECRET not in result.output and SECRET not in caplog.text
    for raw in (tmp_path / "raw").rglob("*.gz"):
        assert SECRET not in gzip.open(raw, "rt").read()
    csv = tmp_path / "stars.csv"
    exported = CliRunner().invoke(main, ["export", "github-stars", "--format", "csv", "--out", str(csv), "--db", str(db_file)])
    assert exported.exit_code == 0, exported.output
    assert SECRET not in csv.read_text()


def test_a_server_echoing_the_token_gets_it_scrubbed_from_raw_files_and_rows(fake_github, db_file, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", SECRET)
    repo = fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=50), TODAY)))
    body = json.loads(json.dumps(__import__("tests.github_fake", fromlist=["repo_json"]).repo_json("pytorch/pytorch", repo.star_count)))
    body["html_url"] = f"https://github.com/pytorch/pytorch?echo={SECRET}"
    repo.faults[("repo", None)] = [Response(json.dumps(body), status=200, headers={"Content-Type": "application/json", "ETag": '"e1"',
                                                                                    "Link": f"<https://x/?t={SECRET}>; rel=\"x\""})]
    run = github.run(db_file, ["pytorch"], sleep=lambda s: None)
    assert run.status == "ok", run.error
    assert SECRET not in all_text(db_file)
    assert "echo=***" in str(duckdb.connect(str(db_file), read_only=True).execute(
        "SELECT DISTINCT citation FROM observations WHERE source = 'github'").fetchall())
    for raw in (tmp_path / "raw").rglob("*.gz"):
        assert SECRET not in gzip.open(raw, "rt").read()


def test_live_responses_cannot_set_replay_only_provenance(fake_github, db_file, tmp_path):
    repo = fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=50), TODAY)))
    from tests.github_fake import repo_json

    repo.faults[("repo", None)] = [Response(json.dumps(repo_json("pytorch/pytorch", repo.star_count)), status=200, headers={
        "Content-Type": "application/json", "X-Pulse-Raw-File": "/etc/passwd", "X-Pulse-Fetched-At": "1999-01-01T00:00:00+00:00"})]
    run = github.run(db_file, ["pytorch"], sleep=lambda s: None)
    assert run.status == "ok", run.error
    con = duckdb.connect(str(db_file), read_only=True)
    raw_file, date, retrieved = con.execute(
        "SELECT raw_file, date, retrieved_at FROM observations WHERE source = 'github' AND metric = 'github_stars'").fetchone()
    assert raw_file.endswith("repo.json.gz") and "passwd" not in raw_file
    assert date == TODAY and retrieved.year == TODAY.year
    assert "passwd" not in str(con.execute("SELECT raw_file FROM github_repos").fetchall())


def test_disk_full_while_keeping_raw_files_stops_with_one_message_and_stores_nothing(fake_github, db_file, tmp_path, monkeypatch):
    fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=100), TODAY)))
    fake_github.add(FakeRepo("jax-ml/jax", synthetic_weeks(TODAY - dt.timedelta(days=100), TODAY)))
    real_open = gzip.open
    written = []

    class FullDisk:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            self.fh.write(data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

    def opener(path, mode="rb", **kwargs):
        written.append(path)
        fh = real_open(path, mode, **kwargs)
        return FullDisk(fh) if len(written) > 3 else fh  # room for the first three files only

    monkeypatch.setattr(github_http.gzip, "open", opener)
    from pulse.cli import main

    result = CliRunner().invoke(main, ["ingest", "github", "--db", str(db_file), "--framework", "pytorch", "--framework", "jax"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if "werkzeug" not in line]  # the fake server's own log
    assert len(errors) == 1 and errors[0].startswith("Error: Could not write the raw response")
    assert "No space left on device" in errors[0] and "PULSE_RAW_DIR" in errors[0]
    assert not list((tmp_path / "raw").rglob("*.tmp"))  # nothing half-written
    con = duckdb.connect(str(db_file), read_only=True)
    assert con.execute("SELECT count(*) FROM observations").fetchone() == (0,)
    assert con.execute("SELECT status FROM ingest_runs").fetchall() == [("failed",)]


def test_the_first_answer_of_each_endpoint_is_kept_with_all_headers(fake_github, db_file, tmp_path):
    repo = fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=400), TODAY)))
    github.run(db_file, ["pytorch"], sleep=lambda s: None)
    first = tmp_path / "raw" / "github" / "_first"
    assert sorted(p.name for p in first.iterdir()) == ["history.json.gz", "repo.json.gz"]
    kept = json.loads(gzip.open(first / "history.json.gz", "rt").read())
    assert kept["headers"]["X-RateLimit-Reset"] and "Link" in kept["headers"]
    assert json.loads(kept["body"])[0]["week"] == repo.weeks[-1]["week"]
    before = (first / "history.json.gz").read_bytes()
    repo.page_override[1] = json.dumps([{"week": repo.weeks[-1]["week"], "days": [1] * 7, "total": 99}])
    run = github.run(db_file, ["pytorch"], sleep=lambda s: None)
    assert run.status == "partial" and "days sum to 7 but total says 99" in run.error
    assert "first answer of this endpoint is kept in" in run.error and "_first/history.json.gz" in run.error
    assert (first / "history.json.gz").read_bytes() == before  # never replaced


def test_a_huge_last_page_claim_is_refused_without_asking_the_pages(fake_github, db_file):
    repo = fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=100), TODAY)))
    page1 = json.dumps(list(reversed(repo.weeks)))
    link = f'<{fake_github.base_url}/repos/pytorch/pytorch/stargazers/history?page=2>; rel="next", ' \
           f'<{fake_github.base_url}/repos/pytorch/pytorch/stargazers/history?page=1000000000>; rel="last"'
    repo.faults[("stargazers/history", 1)] = [Response(page1, status=200, headers={"Content-Type": "application/json", "Link": link})]
    run = github.run(db_file, ["pytorch"], sleep=lambda s: None)
    assert run.status == "partial" and "1,000,000,000 pages" in run.error
    assert fake_github.count("stargazers/history") == 1


def test_credentials_stored_by_earlier_versions_are_removed_on_the_next_run(fake_github, db_file):
    fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(TODAY - dt.timedelta(days=50), TODAY)))
    github.run(db_file, ["pytorch"], sleep=lambda s: None)
    leaked = f"http://user:{SECRET}@127.0.0.1:1/repos/pytorch/pytorch/stargazers/history"
    con = duckdb.connect(str(db_file))
    con.execute("UPDATE observations SET citation = ? WHERE source = 'github_history'", [leaked])
    con.execute("INSERT INTO github_etags VALUES (?, 'e', 'f', NULL, now())", [leaked])
    con.execute("UPDATE ingest_runs SET error = ?", [f"failed on {leaked} twice: {leaked}"])
    con.close()
    github.run(db_file, ["pytorch"], sleep=lambda s: None)
    text = all_text(db_file)
    assert SECRET not in text and "user:" not in text
    assert "http://127.0.0.1:1/repos/pytorch/pytorch/stargazers/history" in text
