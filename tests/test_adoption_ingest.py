"""`pulse ingest pypi` and `pulse ingest stackoverflow` against loopback servers in the real APIs' shapes.

pypistats.org and ClickPy (ClickHouse HTTP, FORMAT JSONEachRow) for downloads; the Stack Exchange
API (filter=total, tags/info, quota_remaining, backoff, throttle_violation) for questions. All
numbers are synthetic.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus

import duckdb
import pytest
from click.testing import CliRunner
from werkzeug.wrappers import Request, Response

from ingest import pypi, stackoverflow
from pulse.cli import main
from tests.test_store_lake import local_file  # noqa: F401  (fixture)

FIXTURES = Path(__file__).parent / "fixtures" / "http" / "pypi"
TODAY = dt.date(2026, 12, 4)
KEY = "se_key_secret_0123456789"


def rows(db_file, sql, params=()):
    con = duckdb.connect(str(db_file), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


# --- PyPI ---------------------------------------------------------------------------------------

class FakePyPI:
    """pypistats.org and ClickPy on one loopback server; records what each was asked."""

    def __init__(self, server):
        self.server = server
        self.clickpy_up = True
        self.pypistats_up = True
        self.clickpy_asked: list[dict] = []
        self.clickpy_late: dict[str, int] = {}  # day -> count served instead of the fixture's
        self.pypistats_asked: list[str] = []
        server.expect_request("/", method="GET").respond_with_handler(self.clickpy)
        server.expect_request("/api/packages/torch/overall").respond_with_handler(self.pypistats)
        server.expect_request("/api/packages/nosuchpkg/overall").respond_with_handler(self.pypistats)

    def clickpy(self, request: Request) -> Response:
        if not self.clickpy_up:
            return Response("Code: 497. DB::Exception: play: Not enough privileges. (ACCESS_DENIED)", status=500)
        args = request.args
        self.clickpy_asked.append(dict(args))
        assert args["user"] == "play" and "FORMAT JSONEachRow" in args["query"]
        assert "{project:String}" in args["query"]  # the package is a parameter, never formatted into SQL
        since, until = dt.date.fromisoformat(args["param_since"]), dt.date.fromisoformat(args["param_until"])
        lines = (FIXTURES / f"clickpy_{args['param_project']}.jsonl").read_text().splitlines() if args["param_project"] == "torch" else []
        kept = [ln for ln in lines if since <= dt.date.fromisoformat(json.loads(ln)["date"]) < until]
        kept = [json.dumps({**json.loads(ln), "count": str(self.clickpy_late[json.loads(ln)["date"]])})
                if json.loads(ln)["date"] in self.clickpy_late else ln for ln in kept]
        return Response("\n".join(kept) + ("\n" if kept else ""), content_type="application/json")

    def pypistats(self, request: Request) -> Response:
        package = request.path.split("/")[3]
        self.pypistats_asked.append(package)
        if not self.pypistats_up:
            return Response("bad gateway", status=502)
        assert request.args.get("mirrors") == "false"
        if package != "torch":
            return Response(json.dumps({"message": "Not Found"}), status=404, content_type="application/json")
        return Response((FIXTURES / "pypistats_overall_torch.json").read_text(), content_type="application/json")


@pytest.fixture
def fake_pypi(httpserver, monkeypatch):
    base = httpserver.url_for("/").rstrip("/")
    monkeypatch.setenv("PULSE_PYPISTATS_URL", base)
    monkeypatch.setenv("PULSE_CLICKPY_URL", base)
    return FakePyPI(httpserver)


def downloads(db_file, source):
    return rows(db_file, "SELECT CAST(date AS VARCHAR), value FROM observations WHERE metric = 'pypi_downloads' AND source = ? "
                "AND variant = 'torch' AND framework = 'pytorch' ORDER BY date", [source])


def test_pypi_stores_served_days_exactly_and_never_today(fake_pypi, db_file):
    run = pypi.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY)

    assert run.status == "ok", run.error
    assert downloads(db_file, "pypistats") == [("2026-11-29", 1812345.0), ("2026-11-30", 1900001.0), ("2026-12-01", 2100000.0),
                                               ("2026-12-02", 2050000.0), ("2026-12-03", 2000500.0)]
    # Quoted 64-bit counts read as numbers; the SummingMergeTree sum per day asked in SQL.
    assert downloads(db_file, "clickpy") == [("2016-09-01", 12.0), ("2016-09-02", 0.0), ("2026-11-28", 1700000.0), ("2026-11-29", 1810000.0)]
    assert fake_pypi.clickpy_asked[0]["param_since"] == "2016-01-01" and fake_pypi.clickpy_asked[0]["param_until"] == "2026-12-04"
    cite = rows(db_file, "SELECT DISTINCT citation FROM observations WHERE source = 'pypistats'")
    assert cite[0][0].endswith("/api/packages/torch/overall?mirrors=false")


def test_pypi_second_run_asks_only_for_new_days(fake_pypi, db_file):
    pypi.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY)
    fake_pypi.clickpy_late = {"2026-11-29": 1999999}  # the day was still loading at the first run
    asked_before = len(fake_pypi.pypistats_asked)
    again = pypi.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY)
    assert again.status == "ok" and again.requests == 1  # pypistats holds yesterday: not asked; ClickPy asked from its last day
    assert len(fake_pypi.pypistats_asked) == asked_before
    assert downloads(db_file, "clickpy")[-1] == ("2026-11-29", 1999999.0)  # overwritten with the complete count
    assert fake_pypi.clickpy_asked[-1]["param_since"] == "2026-11-27"  # the last 3 stored days asked again (may have been loading)

    later = pypi.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY + dt.timedelta(days=2))
    assert len(fake_pypi.pypistats_asked) == asked_before + 1 and later.status == "ok"


def test_pypi_replay_loads_the_kept_answers_without_the_network(fake_pypi, db_file, tmp_path, monkeypatch):
    run = pypi.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY)
    folder = Path(os.environ["PULSE_RAW_DIR"]) / "pypi" / run.run_id
    for kept in folder.iterdir():  # as if written on TODAY
        os.utime(kept, (dt.datetime(2026, 12, 4, 12, tzinfo=dt.UTC).timestamp(),) * 2)
    replayed_db = tmp_path / "replayed.duckdb"
    monkeypatch.setenv("PULSE_PYPISTATS_URL", "http://127.0.0.1:9")  # nothing is fetched
    monkeypatch.setenv("PULSE_CLICKPY_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(main, ["ingest", "pypi", "--replay", str(folder), "--db", str(replayed_db)])
    assert result.exit_code == 0, result.output
    for source in ("pypistats", "clickpy"):
        assert downloads(replayed_db, source) == downloads(db_file, source)
    bad = CliRunner().invoke(main, ["ingest", "pypi", "--replay", str(tmp_path), "--db", str(replayed_db)])
    assert bad.exit_code == 1 and "No saved pypistats" in bad.output


def test_pypi_one_service_down_keeps_the_other_and_says_which(fake_pypi, db_file):
    fake_pypi.clickpy_up = False
    run = pypi.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY)

    assert run.status == "partial" and run.rows == 5
    assert "clickpy missing" in run.error and "pypistats gave is stored" in run.error
    assert len(downloads(db_file, "pypistats")) == 5 and downloads(db_file, "clickpy") == []


def test_pypi_resumes_the_missing_service_after_a_partial_run(fake_pypi, db_file):
    fake_pypi.clickpy_up = False
    pypi.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY)
    fake_pypi.clickpy_up = True
    asked = len(fake_pypi.pypistats_asked)
    second = pypi.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY)
    assert second.status == "ok" and len(fake_pypi.pypistats_asked) == asked  # pypistats already complete: not asked
    assert fake_pypi.clickpy_asked[-1]["param_since"] == "2016-01-01" and len(downloads(db_file, "clickpy")) == 4


def test_pypi_unreachable_service_names_its_setting(fake_pypi, db_file, monkeypatch):
    monkeypatch.setenv("PULSE_CLICKPY_URL", "http://127.0.0.1:9")
    run = pypi.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY)
    assert run.status == "partial" and "PULSE_CLICKPY_URL" in run.error and run.rows == 5


def test_pypi_package_that_does_not_exist_is_named(fake_pypi, db_file, monkeypatch):
    monkeypatch.setattr(pypi, "packages_for", lambda f: [("pytorch", "nosuchpkg"), ("pytorch", "torch")])
    run = pypi.run(db_file, None, sleep=lambda s: None, today=TODAY)
    assert run.status == "ok" and "nosuchpkg (pypistats 404)" in run.detail["unknown"]
    assert rows(db_file, "SELECT count(*) FROM observations WHERE variant = 'nosuchpkg'") == [(0,)]


def test_pypi_pauses_between_pypistats_requests(fake_pypi, db_file, monkeypatch):
    monkeypatch.setattr(pypi, "packages_for", lambda f: [("pytorch", "nosuchpkg"), ("pytorch", "torch")])
    waits = []
    pypi.run(db_file, None, services=("pypistats",), sleep=waits.append, today=TODAY)
    assert waits == [pypi.PYPISTATS_PAUSE_S]  # 30 requests/minute per IP


# --- Stack Exchange ---------------------------------------------------------------------------

def month_of(unix: int) -> str:
    return dt.datetime.fromtimestamp(unix, dt.UTC).strftime("%Y-%m")


class FakeStackExchange:
    """/2.3/questions (filter=total, or the first question), /2.3/tags/{tags}/info, quota and backoff."""

    FIRST = {"pytorch": "2026-07-10", "jax": "2026-08-02"}
    COUNTS = {("pytorch", "2026-07"): 5, ("pytorch", "2026-08"): 0, ("pytorch", "2026-09"): 12, ("pytorch", "2026-10"): 9,
              ("pytorch", "2026-11"): 20, ("jax", "2026-08"): 3, ("jax", "2026-09"): 1, ("jax", "2026-10"): 4, ("jax", "2026-11"): 2}

    def __init__(self, server, quota=300):
        self.quota = quota
        self.asked: list[dict] = []
        self.backoff_on: int | None = None  # answer number that carries a backoff
        self.refuse_after: int | None = None  # throttle_violation from this answer on, whatever the quota says
        server.expect_request("/2.3/questions").respond_with_handler(self.questions)
        server.expect_request(re.compile(r"/2\.3/tags/[^/]+/info")).respond_with_handler(self.info)

    def wrap(self, body, status=200, quota_fields=True):
        if self.quota <= 0 or (self.refuse_after is not None and len(self.asked) > self.refuse_after):
            body, status = {"error_id": 502, "error_name": "throttle_violation",
                            "error_message": "too many requests from this IP, more requests available in 72000 seconds"}, 400
        else:
            self.quota -= 1
            body = {**body, "quota_max": 300, "quota_remaining": self.quota} if quota_fields else dict(body)
            if self.backoff_on is not None and len(self.asked) == self.backoff_on:
                body["backoff"] = 10
        return Response(json.dumps(body), status=status, content_type="application/json")

    def questions(self, request: Request) -> Response:
        args = dict(request.args)
        self.asked.append(args)
        assert args["site"] == "stackoverflow"
        if args.get("tagged") == "bad tag":
            return Response(json.dumps({"error_id": 400, "error_name": "bad_parameter", "error_message": "tagged"}), status=400)
        if args.get("sort") == "creation":
            first = self.FIRST.get(args["tagged"])
            items = [{"creation_date": calendar.timegm(dt.date.fromisoformat(first).timetuple()) + 3600, "tags": [args["tagged"]]}] if first else []
            return self.wrap({"items": items, "has_more": bool(items)})
        assert args["filter"] == "total"
        lo, hi = int(args["fromdate"]), int(args["todate"])
        assert month_of(lo) == month_of(hi)  # one calendar month, bounds inclusive
        # The built-in `total` filter keeps only `total` (plus backoff and errors): no quota fields.
        return self.wrap({"total": self.COUNTS.get((args["tagged"], month_of(lo)), 0)}, quota_fields=False)

    def info(self, request: Request) -> Response:
        self.asked.append({"info": request.path})
        names = request.path.split("/")[3].split(";")
        if "bad tag" in names:
            return Response(json.dumps({"error_id": 400, "error_name": "bad_parameter", "error_message": "tags"}), status=400)
        return self.wrap({"items": [{"name": n, "count": {"pytorch": 91000, "jax": 1500}.get(n, 10), "has_synonyms": False} for n in names],
                          "has_more": False})


@pytest.fixture
def fake_se(httpserver, monkeypatch):
    monkeypatch.setenv("PULSE_STACKEXCHANGE_URL", httpserver.url_for("/").rstrip("/"))
    return FakeStackExchange(httpserver)


def gz_text(path: Path) -> str:
    import gzip

    return gzip.open(path, "rt").read()


def questions(db_file):
    return rows(db_file, "SELECT variant, strftime(date, '%Y-%m'), value FROM observations WHERE metric = 'so_questions' ORDER BY 1, 2")


def test_stackoverflow_backfills_finished_months_with_zero_months_kept(fake_se, db_file):
    run = stackoverflow.run(db_file, ["pytorch", "jax"], sleep=lambda s: None, today=TODAY)

    assert run.status == "ok", run.error
    got = questions(db_file)
    assert ("pytorch", "2026-08", 0.0) in got  # a month with zero questions is stored as 0, not skipped
    assert [m for t, m, _ in got if t == "pytorch"] == ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]  # never December (in progress)
    assert [m for t, m, _ in got if t == "jax"] == ["2026-08", "2026-09", "2026-10", "2026-11"]
    assert rows(db_file, "SELECT variant, value, CAST(date AS VARCHAR) FROM observations WHERE metric = 'so_tag_questions_total' ORDER BY 1") == [
        ("jax", 1500.0, "2026-12-04"), ("pytorch", 91000.0, "2026-12-04")]
    assert run.detail["quota_remaining"] == 300 - run.requests
    raw = rows(db_file, "SELECT DISTINCT raw_file FROM observations WHERE source = 'stackoverflow'")
    assert len(raw) == 1 and raw[0][0].endswith(f"{run.run_id}.jsonl.gz")
    import gzip

    kept = [json.loads(line) for line in gzip.open(raw[0][0], "rt")]
    assert len(kept) == run.requests and kept[2]["body"]["total"] == 5  # tags/info, first question, July


def test_stackoverflow_second_run_asks_only_new_months(fake_se, db_file):
    stackoverflow.run(db_file, ["pytorch", "jax"], sleep=lambda s: None, today=TODAY)
    fake_se.asked.clear()
    again = stackoverflow.run(db_file, ["pytorch", "jax"], sleep=lambda s: None, today=TODAY)
    assert again.status == "ok" and [a for a in fake_se.asked if "info" not in a] == []

    fake_se.COUNTS = {**fake_se.COUNTS, ("pytorch", "2026-12"): 7}
    stackoverflow.run(db_file, ["pytorch", "jax"], sleep=lambda s: None, today=dt.date(2027, 1, 2))
    months = sorted(month_of(int(a["fromdate"])) + a["tagged"] for a in fake_se.asked if "fromdate" in a)
    assert months == ["2026-12jax", "2026-12pytorch"]
    assert ("pytorch", "2026-12", 7.0) in questions(db_file)


def test_stackoverflow_quota_exhaustion_stores_what_came_and_resumes(fake_se, db_file):
    fake_se.refuse_after = 4  # tags/info, pytorch's first question, July, August; then throttle_violation
    first = stackoverflow.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY)
    assert first.status == "partial" and "throttle_violation" in first.error and "resumes" in first.error
    assert questions(db_file) == [("pytorch", "2026-07", 5.0), ("pytorch", "2026-08", 0.0)]

    fake_se.refuse_after = None
    fake_se.asked.clear()
    second = stackoverflow.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY)
    assert second.status == "ok"
    assert [month_of(int(a["fromdate"])) for a in fake_se.asked if "fromdate" in a] == ["2026-09", "2026-10", "2026-11"]
    assert [m for _, m, _ in questions(db_file)] == ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11"]


def test_stackoverflow_stops_before_the_quota_runs_out(fake_se, db_file):
    fake_se.quota = stackoverflow.RESERVE + 3
    run = stackoverflow.run(db_file, ["pytorch"], sleep=lambda s: None, today=TODAY)
    assert run.status == "partial" and "quota nearly spent" in run.error
    assert run.detail["quota_remaining"] == stackoverflow.RESERVE and run.requests == 3


def test_stackoverflow_honours_backoff_before_the_same_method(fake_se, db_file):
    fake_se.backoff_on = 3  # the third answer (a month count) asks for 10 s
    waits = []
    stackoverflow.run(db_file, ["pytorch"], sleep=waits.append, today=TODAY)
    assert waits == [10.0]


# Stack Apps keys end in "((" and may hold "*": in the request URL they are percent-encoded.
@pytest.mark.parametrize("key", [KEY, "U4DMV*8nvpm3EOpvf69Rxw(("])
def test_stackoverflow_key_is_sent_but_never_stored_or_printed(fake_se, db_file, monkeypatch, key):
    monkeypatch.setenv("STACKEXCHANGE_KEY", key)
    fake_se.quota = 3
    result = CliRunner().invoke(main, ["ingest", "stackoverflow", "--framework", "pytorch", "--db", str(db_file)])
    assert all(a.get("key") == key for a in fake_se.asked if "info" not in a)
    stored = json.dumps(rows(db_file, "SELECT * FROM observations")) + json.dumps(rows(db_file, "SELECT * FROM ingest_runs"), default=str)
    kept = "".join(gz_text(p) for p in Path(os.environ["PULSE_RAW_DIR"]).rglob("*.jsonl.gz"))
    assert "key=***" in kept  # the raw answers keep their URLs, the key scrubbed
    for form in {key, quote(key, safe=""), quote_plus(key), json.dumps(key)[1:-1]}:
        assert form not in stored and form not in result.output and form not in kept, form


def test_both_sources_run_in_ingest_all_and_show_in_status(fake_se, db_file, monkeypatch):
    from tests.ops_fakes.procs import ROOT

    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("PULSE_PYPISTATS_URL", "http://127.0.0.1:9")  # both services down: pypi fails, the rest goes on
    monkeypatch.setenv("PULSE_CLICKPY_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(main, ["ingest", "--all", "--source", "pypi", "--source", "stackoverflow", "--db", str(db_file)])
    lines = {ln.split()[0]: ln.split() for ln in result.output.splitlines() if ln.split() and ln.split()[0] in ("pypi", "stackoverflow")}
    assert lines["stackoverflow"][1] == "ok" and lines["pypi"][1] == "partial" and result.exit_code == 1
    assert "PULSE_PYPISTATS_URL" in result.output and "PULSE_CLICKPY_URL" in result.output
    status = CliRunner().invoke(main, ["status", "--json", "--db", str(db_file)])
    states = {s["source"]: s for s in json.loads(status.output)["sources"]}
    assert states["stackoverflow"]["cadence_hours"] == 24 and states["pypi"]["cadence_hours"] == 24
    assert states["pypi"]["failing"] and not states["stackoverflow"]["failing"]


def test_cli_summaries(fake_se, fake_pypi, db_file):
    out = CliRunner().invoke(main, ["ingest", "stackoverflow", "--framework", "pytorch", "--db", str(db_file)])
    assert out.exit_code == 0, out.output
    assert "quota left" in out.output and "[pytorch] stored through" in out.output
    out = CliRunner().invoke(main, ["ingest", "pypi", "--framework", "pytorch", "--db", str(db_file)])
    assert out.exit_code == 0, out.output
    assert "1 packages (pypistats 1 asked / 0 up to date, clickpy 1 asked / 0 up to date)" in out.output
    fake_pypi.clickpy_up = False
    fake_pypi.pypistats_up = False
    out = CliRunner().invoke(main, ["ingest", "pypi", "--framework", "pytorch", "--db", str(db_file)])
    assert out.exit_code == 1 and "Nothing new was stored" in out.output and "Traceback" not in out.output


# --- bad input: message, exit code, database unchanged -----------------------------------------

BAD_INPUT = [
    (["ingest", "pypi", "--framework", "pytorc"], "Did you mean 'pytorch'"),
    (["ingest", "pypi", "--framework", "caffe"], "has no PyPI packages"),
    (["ingest", "pypi", "--only", "bigquery"], "Invalid value for '--only'"),
    (["ingest", "stackoverflow", "--framework", "flax"], "has no Stack Overflow tags"),
    (["ingest", "stackoverflow", "--max-requests", "0"], "Invalid value for '--max-requests'"),
    (["ingest", "stackoverflow", "--framework", "nosuch"], "Unknown framework id 'nosuch'"),
]


@pytest.mark.parametrize(("args", "fragment"), BAD_INPUT, ids=[" ".join(a[1:]) for a, _ in BAD_INPUT])
def test_bad_input_is_one_message_and_changes_nothing(snapshot_db, args, fragment):
    before = snapshot_db.read_bytes()
    result = CliRunner().invoke(main, [*args, "--db", str(snapshot_db)])
    assert result.exit_code != 0 and fragment in result.output, result.output
    assert "Traceback" not in result.output
    assert snapshot_db.read_bytes() == before


BAD_ANSWERS = [
    ("pypistats", {"data": "nope"}, "has no 'data' list"),
    ("pypistats", {"data": [{"category": "without_mirrors", "date": "yesterday", "downloads": 3}]}, "is not a YYYY-MM-DD date"),
    ("pypistats", {"data": [{"category": "without_mirrors", "date": "2026-12-01", "downloads": -3}]}, "negative download count"),
    ("clickpy", "<html>maintenance</html>", "is not JSONEachRow"),
    ("clickpy", '{"date":"2026-12-01","project":"torch","count":"5"}\nCode: 241. DB::Exception: Memory limit exceeded', "ClickPy failed"),
    ("clickpy", '{"date":"2026-12-01","project":"torch"}', "lacks date or count"),
]


@pytest.mark.parametrize(("service", "answer", "fragment"), BAD_ANSWERS)
def test_bad_answers_are_refused_and_nothing_from_them_is_stored(httpserver, monkeypatch, snapshot_db, service, answer, fragment):
    base = httpserver.url_for("/").rstrip("/")
    monkeypatch.setenv("PULSE_PYPISTATS_URL", base)
    monkeypatch.setenv("PULSE_CLICKPY_URL", base)
    if service == "pypistats":
        httpserver.expect_request("/api/packages/torch/overall").respond_with_json(answer)
    else:
        httpserver.expect_request("/").respond_with_data(answer)
    run = pypi.run(snapshot_db, ["pytorch"], services=(service,), sleep=lambda s: None, today=TODAY)
    assert run.status == "partial" and run.rows == 0 and fragment in run.error
    assert rows(snapshot_db, "SELECT count(*) FROM observations WHERE metric = 'pypi_downloads'") == [(0,)]


def test_stackoverflow_bad_parameter_names_the_error(fake_se, db_file, monkeypatch):
    monkeypatch.setattr(stackoverflow, "tags_for", lambda f: [("pytorch", "bad tag")])
    fake_se.FIRST = {}
    run = stackoverflow.run(db_file, None, sleep=lambda s: None, today=TODAY)
    assert run.status == "partial" and "bad_parameter (400)" in run.error


@pytest.mark.parametrize(("status", "body", "fragment"), [
    (503, "<html>Service Unavailable</html>", "is not JSON"),
    (200, "[1, 2]", "a JSON list, not an object"),
    (200, '{"items": "x", "quota_max": 300, "quota_remaining": 290}', "tag info has no 'items' list"),
    (400, '{"error_id": 403, "error_name": "access_denied", "error_message": "key invalid"}', "access_denied (403)"),
])
def test_stackoverflow_bad_answers_name_the_problem_and_never_the_key(httpserver, monkeypatch, snapshot_db, status, body, fragment):
    monkeypatch.setenv("PULSE_STACKEXCHANGE_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("STACKEXCHANGE_KEY", KEY)
    httpserver.expect_request(re.compile("/2.3/.*")).respond_with_data(body, status=status, content_type="application/json")
    before = rows(snapshot_db, "SELECT count(*) FROM observations")
    result = CliRunner().invoke(main, ["ingest", "stackoverflow", "--framework", "pytorch", "--db", str(snapshot_db)])
    assert result.exit_code == 1 and fragment in result.output and KEY not in result.output and "Traceback" not in result.output
    assert rows(snapshot_db, "SELECT count(*) FROM observations") == before
    assert KEY not in json.dumps(rows(snapshot_db, "SELECT error, detail FROM ingest_runs"))


def test_both_sources_store_the_same_on_the_team_store(team_store, local_file, fake_pypi, fake_se, tmp_path, monkeypatch):
    """The same loads on a local file and on the DuckLake team store give the same observations."""
    from tests.test_store_lake import on_both_stores

    def load(path):
        fake_pypi.clickpy_asked.clear()
        pypi.run(path, ["pytorch"], sleep=lambda s: None, today=TODAY)
        stackoverflow.run(path, ["pytorch", "jax"], sleep=lambda s: None, today=TODAY)

    got, _ = on_both_stores(monkeypatch, tmp_path, load)
    assert set(got["source"]) >= {"pypistats", "clickpy", "stackoverflow"}
    # A second run on the team store reads what it stored: ClickPy is asked only from the day after.
    pypi.run(Path("unused"), ["pytorch"], sleep=lambda s: None, today=TODAY)
    assert fake_pypi.clickpy_asked[-1]["param_since"] == "2026-11-27"
    assert not local_file.exists()


# --- fuzz: any answer is parsed into exact counts or refused with a SourceError ---------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pulse.errors import SourceError  # noqa: E402

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
ROW = st.fixed_dictionaries({"category": st.sampled_from(["without_mirrors", "with_mirrors", 3]),
                             "date": st.one_of(st.dates().map(str), st.text(max_size=12)),
                             "downloads": st.one_of(st.integers(-5, 10**12), st.text(max_size=6), st.none())})


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, st.fixed_dictionaries({"data": st.lists(ROW, max_size=6)})))
def test_fuzz_pypistats_answers(body):
    try:
        counts = pypi.parse_pypistats(body, "torch")
    except SourceError:
        return
    assert all(isinstance(d, dt.date) and isinstance(n, int) and n >= 0 for d, n in counts.items())
    expected = {r["date"][:10] for r in body["data"] if r.get("category") == "without_mirrors"}
    assert {d.isoformat() for d in counts} == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(JSON.map(json.dumps), st.text(max_size=30),
                          st.builds(lambda d, n: json.dumps({"date": str(d), "project": "torch", "count": n}),
                                    st.dates(), st.one_of(st.integers(0, 10**12), st.integers(0, 10**12).map(str)))), max_size=6))
def test_fuzz_clickpy_answers(lines):
    try:
        counts = pypi.parse_clickpy("\n".join(lines), "torch")
    except SourceError:
        return
    assert all(isinstance(n, int) and n >= 0 for n in counts.values())
