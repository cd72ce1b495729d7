"""Hugging Face Hub API path: pagination, 429s, malformed entries, resume, token hygiene.

A fake Hub on pytest-httpserver serves tests/fixtures/http/huggingface/models.json (see its
README for the SOURCES.md facts it encodes) three entries a page with Link cursors.

Hand-computed from the fixture (crawling pytorch, tensorflow=tf, jax, keras):
- pytorch: placeholder m/old-pt-tf; 2022-03 m/pt-2022-03; 2022-04 m/tf-2022-04;
  2022-05 m/jax-2022-05, m/pt-2022-05; 2024-02 m/pt-2024-02  -> cumulative 1, 2, 3, 5, ..., 6
- tf: placeholder m/old-pt-tf, m/old-tf; 2022-04 m/tf-2022-04, m/keras-2022-04; 2023-01 m/tf-2023-01 -> 2, 2, 4, ..., 5
- keras: placeholder m/old-keras; 2022-04 m/keras-2022-04; 2023-01 m/keras-2023-01 -> 1, 1, 2, ..., 3
- jax: 2022-05 m/jax-2022-05 -> 1
- tf or keras: 7 models, of which 2 carry pytorch (m/old-pt-tf, m/tf-2022-04): 2/7
- framework-tagged (any of the four): 11 models; pytorch 6/11
- pages: pytorch 7 entries -> 3 pages; tf 6 -> 2; keras 3 -> 1; jax 1 -> 1: 7 requests
- malformed: m/bad-date (tf) and the entry without id (pytorch): 2 skipped
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
from pathlib import Path
from urllib.parse import urlencode

import duckdb
import pytest
from click.testing import CliRunner
from werkzeug.wrappers import Response

from ingest import huggingface
from ingest.huggingface_api import PAGE_SIZE, parse_ratelimit

FIXTURE = Path(__file__).parent / "fixtures" / "http" / "huggingface" / "models.json"
FOUR = ["pytorch", "tensorflow", "jax", "keras"]
RATELIMIT_429 = {"RateLimit": '"api";r=0;t=55', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'}


class FakeHub:
    """/api/models with Link-cursor pagination over the fixture; scripted failures by call."""

    def __init__(self, server, page_size: int = 3):
        self.server = server
        self.page_size = page_size
        self.models = json.loads(FIXTURE.read_text())
        self.calls: list[dict] = []
        self.script: dict[int, Response] = {}  # call number (1-based) -> canned response
        self.fail_cursor: tuple[str, str] | None = None  # (tag, cursor) always answered 503
        self.auth: list[str | None] = []
        server.expect_request("/api/models").respond_with_handler(self.handle)

    def listing(self, tag: str) -> list[dict]:
        rows = [m for m in self.models if isinstance(m.get("tags"), list) and tag in m["tags"]]
        return sorted(rows, key=lambda m: str(m.get("createdAt")))

    def handle(self, request):
        args = request.args
        call = {"filter": args.get("filter"), "cursor": args.get("cursor"), "limit": args.get("limit"),
                "expand": args.getlist("expand[]"), "sort": args.get("sort")}
        self.calls.append(call)
        self.auth.append(request.headers.get("Authorization"))
        if len(self.calls) in self.script:
            return self.script[len(self.calls)]
        if self.fail_cursor == (call["filter"], call["cursor"]):
            return Response("upstream error", status=503)
        start = int(call["cursor"] or 0)
        rows = self.listing(call["filter"])
        page = rows[start:start + self.page_size]
        headers = {"RateLimit": '"api";r=400;t=120', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'}
        if start + self.page_size < len(rows):
            query = urlencode([("filter", call["filter"]), ("limit", call["limit"]), ("sort", "createdAt"), ("direction", "1"),
                               ("expand[]", "createdAt"), ("expand[]", "tags"), ("cursor", str(start + self.page_size))])
            headers["Link"] = f'<{self.server.url_for("/api/models")}?{query}>; rel="next"'
        return Response(json.dumps(page), status=200, headers=headers, content_type="application/json")


@pytest.fixture
def hub(httpserver, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    return FakeHub(httpserver)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def series(db: Path, metric: str, framework: str, variant: str = "", source: str = "huggingface") -> dict[str, float]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT date, value FROM observations WHERE source = ? AND metric = ? AND framework = ? AND variant = ? ORDER BY date",
            [source, metric, framework, variant],
        ).fetchall()
    finally:
        con.close()
    return {str(d): v for d, v in rows}


def query(db: Path, sql: str, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_full_crawl_stores_hand_computed_counts(hub, db_file):
    sleeps = Sleeps()
    run = huggingface.run(db_file, FOUR, sleep=sleeps)
    today = dt.datetime.now(dt.UTC).date().isoformat()

    assert run.status == "ok", run.error
    assert run.requests == 7 and len(hub.calls) == 7
    # 15 valid entries over the four listings (a model is listed once per tag it carries).
    assert run.detail["skipped"] == 2 and run.detail["models"] == 15
    pt = series(db_file, "hf_models", "pytorch")
    assert pt["2022-03-02"] == 1 and pt["2022-03-31"] == 2 and pt["2022-04-30"] == 3
    assert pt["2022-05-31"] == 5 and pt["2024-01-31"] == 5 and pt["2024-02-29"] == 6 and pt[today] == 6
    tf = series(db_file, "hf_models", "tensorflow")
    assert (tf["2022-03-02"], tf["2022-03-31"], tf["2022-04-30"], tf["2023-01-31"], tf[today]) == (2, 2, 4, 5, 5)
    keras = series(db_file, "hf_models", "keras")
    assert (keras["2022-03-02"], keras["2022-04-30"], keras[today]) == (1, 2, 3)
    jax = series(db_file, "hf_models", "jax")
    assert min(jax) == "2022-05-31" and jax["2022-05-31"] == 1 and jax[today] == 1

    # The placeholder is one labelled bucket, not models created in March 2022.
    assert series(db_file, "hf_models_new", "tensorflow", "created_before_2022_03_02") == {"2022-03-02": 2}
    new_tf = series(db_file, "hf_models_new", "tensorflow")
    assert new_tf == {"2022-04-01": 2, "2023-01-01": 1}
    assert series(db_file, "hf_models_new", "pytorch")["2022-03-01"] == 1

    also = series(db_file, "hf_tf_keras_models_also_pytorch", "pytorch")
    assert also["2022-03-02"] == pytest.approx(1 / 3)
    assert also["2022-04-30"] == pytest.approx(2 / 5)
    assert also[today] == pytest.approx(2 / 7)
    share = series(db_file, "hf_model_share", "pytorch", "default-frameworks")
    assert share[today] == pytest.approx(6 / 11)
    assert series(db_file, "hf_model_share", "tensorflow", "default-frameworks")[today] == pytest.approx(5 / 11)
    # all-registry share needs every registry tag crawled: not written.
    assert series(db_file, "hf_model_share", "pytorch", "all-registry") == {}

    crawls = query(db_file, "SELECT tag, status, next_url, pages, skipped FROM hf_crawl ORDER BY tag")
    assert crawls == [("jax", "complete", None, 1, 0), ("keras", "complete", None, 1, 0),
                      ("pytorch", "complete", None, 3, 1), ("tf", "complete", None, 2, 1)]
    assert query(db_file, "SELECT count(*) FROM hf_models")[0][0] == 11
    # Only registry tags are kept per model (lean table).
    assert query(db_file, "SELECT tags FROM hf_models WHERE id = 'm/old-pt-tf'")[0][0] == ["pytorch", "tf", "transformers"]
    assert sleeps == []


def test_requests_ask_for_the_documented_query_and_follow_cursors(hub, db_file):
    huggingface.run(db_file, ["pytorch"])
    first, second, third = hub.calls
    assert first == {"filter": "pytorch", "cursor": None, "limit": str(PAGE_SIZE), "expand": ["createdAt", "tags"], "sort": "createdAt"}
    assert (second["cursor"], third["cursor"]) == ("3", "6")
    assert second["expand"] == ["createdAt", "tags"] and second["limit"] == "1000"


def test_429_waits_for_the_ratelimit_reset_then_succeeds(hub, db_file):
    hub.script[1] = Response("Too Many Requests", status=429, headers=RATELIMIT_429)
    sleeps = Sleeps()
    run = huggingface.run(db_file, ["keras"], sleep=sleeps)
    assert run.status == "ok"
    assert sleeps == [55.5]  # t=55 from `RateLimit`, no Retry-After
    assert [c["cursor"] for c in hub.calls] == [None, None]
    assert run.detail["refusals_429"] == 1
    assert series(db_file, "hf_models", "keras")["2022-04-30"] == 2


def test_retry_after_wins_over_ratelimit_and_no_request_left_pauses(hub, db_file):
    hub.script[1] = Response("slow down", status=429, headers={**RATELIMIT_429, "Retry-After": "7"})
    # A successful page saying no request is left pauses before the next request.
    original = hub.handle

    def handle(request):
        response = original(request)
        if len(hub.calls) == 2:
            response.headers["RateLimit"] = '"api";r=0;t=30'
        return response

    hub.server.clear()
    hub.server.expect_request("/api/models").respond_with_handler(handle)
    sleeps = Sleeps()
    run = huggingface.run(db_file, ["pytorch"], sleep=sleeps)
    assert run.status == "ok"
    assert sleeps == [7.5, 30.5]
    assert len(hub.calls) == 4


def test_persistent_429_ends_partial_with_progress_kept(hub, db_file):
    for n in range(2, 20):
        hub.script[n] = Response("Too Many Requests", status=429, headers=RATELIMIT_429)
    run = huggingface.run(db_file, ["pytorch"], sleep=Sleeps())
    assert run.status == "partial"
    assert "429" in run.error or "rate limit" in run.error
    (status, next_url, pages), = query(db_file, "SELECT status, next_url, pages FROM hf_crawl WHERE tag = 'pytorch'")
    assert status == "in_progress" and next_url.endswith("cursor=3") and pages == 1
    assert query(db_file, "SELECT count(*) FROM hf_models")[0][0] == 3
    assert query(db_file, "SELECT status FROM ingest_runs")[0][0] == "partial"


def test_interrupted_run_resumes_at_the_saved_cursor(hub, db_file):
    """A page that keeps failing stops the run; the next run starts at that page, not page 1."""
    hub.fail_cursor = ("pytorch", "3")
    first = huggingface.run(db_file, ["pytorch"], sleep=Sleeps())
    assert first.status == "partial" and "503" in first.error
    assert series(db_file, "hf_models", "pytorch") == {}  # incomplete crawl: no undercount stored
    calls_before = len(hub.calls)

    hub.fail_cursor = None
    second = huggingface.run(db_file, ["pytorch"], sleep=Sleeps())
    assert second.status == "ok"
    resumed = hub.calls[calls_before:]
    assert [c["cursor"] for c in resumed] == ["3", "6"]
    pt = series(db_file, "hf_models", "pytorch")
    assert pt[max(pt)] == 6 and pt["2022-05-31"] == 5
    (run_ids,), = query(db_file, "SELECT run_ids FROM hf_crawl WHERE tag = 'pytorch'")
    assert run_ids == f"{first.run_id},{second.run_id}"


def test_max_pages_stops_and_the_next_run_continues_without_refetching(hub, db_file):
    first = huggingface.run(db_file, FOUR, max_pages=2)
    assert first.status == "partial" and "--max-pages 2" in first.error
    assert len(hub.calls) == 2
    second = huggingface.run(db_file, FOUR, max_pages=4)
    assert second.status == "partial"
    third = huggingface.run(db_file, FOUR)
    assert third.status == "ok"
    assert len(hub.calls) == 7  # every page fetched exactly once over three runs
    assert series(db_file, "hf_tf_keras_models_also_pytorch", "pytorch")[str(dt.datetime.now(dt.UTC).date())] == pytest.approx(2 / 7)


def test_recrawl_drops_models_no_longer_listed(hub, db_file):
    huggingface.run(db_file, ["tensorflow"])
    hub.models = [m for m in hub.models if m.get("id") != "m/tf-2023-01"]
    huggingface.run(db_file, ["tensorflow"])
    assert len(hub.calls) == 2  # crawled moments ago: fresh, not fetched again
    huggingface.run(db_file, ["tensorflow"], refresh=True)
    assert len(hub.calls) == 4
    tf = series(db_file, "hf_models", "tensorflow")
    assert tf[max(tf)] == 4
    assert query(db_file, "SELECT count(*) FROM hf_models WHERE id = 'm/tf-2023-01'")[0][0] == 0
    # A model still listed under another crawled tag only loses the stale tag.
    assert query(db_file, "SELECT count(*) FROM hf_models WHERE id = 'm/old-pt-tf'")[0][0] == 1


def test_a_page_that_is_not_a_list_is_a_clean_partial(hub, db_file):
    hub.script[1] = Response(json.dumps({"error": "nope"}), status=200, content_type="application/json")
    run = huggingface.run(db_file, ["keras"])
    assert run.status == "partial" and "JSON list" in run.error


def test_token_is_sent_but_never_logged_or_stored(hub, db_file, monkeypatch, caplog, tmp_path):
    token = "hf_SeCrEtToKeN_1234567890"
    monkeypatch.setenv("HF_TOKEN", token)
    hub.fail_cursor = ("pytorch", "3")
    with caplog.at_level(logging.DEBUG):
        run = huggingface.run(db_file, ["pytorch"], sleep=Sleeps())
    assert hub.auth[0] == f"Bearer {token}"
    assert run.status == "partial"
    assert token not in (run.error or "") and token not in caplog.text
    con = duckdb.connect(str(db_file), read_only=True)
    try:
        for table in ("ingest_runs", "hf_crawl", "hf_models", "observations"):
            dump = json.dumps(con.execute(f"SELECT * FROM {table}").fetchall(), default=str)
            assert token not in dump, table
    finally:
        con.close()
    raw_files = list((tmp_path / "raw").rglob("*.gz"))
    assert raw_files
    for path in raw_files:
        assert token not in gzip.open(path, "rt").read()
    result = CliRunner().invoke(__import__("pulse.cli", fromlist=["main"]).main, ["ingest", "huggingface", "--db", str(db_file), "--framework", "pytorch"])
    assert result.exit_code == 1 and "Partial run" in result.output and "503" in result.output
    assert token not in result.output


def test_raw_pages_are_kept_for_replay(hub, db_file, tmp_path):
    run = huggingface.run(db_file, ["keras"])
    path = tmp_path / "raw" / "huggingface" / run.run_id / "keras.jsonl.gz"
    lines = [json.loads(line) for line in gzip.open(path, "rt")]
    assert len(lines) == 1 and [m["id"] for m in lines[0]["body"]] == ["m/old-keras", "m/keras-2022-04", "m/keras-2023-01"]
    assert lines[0]["url"].endswith("/api/models?filter=keras&limit=1000&sort=createdAt&direction=1&expand%5B%5D=createdAt&expand%5B%5D=tags")
    assert lines[0]["next"] is None
    (raw_file, citation), = query(db_file, "SELECT DISTINCT raw_file, citation FROM observations WHERE framework = 'keras' AND metric = 'hf_models'")
    assert raw_file.endswith("huggingface") and citation.endswith("/api/models?filter=keras")


def test_cli_reports_pages_models_and_partial_runs(hub, db_file):
    from pulse.cli import main

    result = CliRunner().invoke(main, ["ingest", "huggingface", "--db", str(db_file), "--framework", "keras"])
    assert result.exit_code == 0, result.output
    assert "fetched 1 pages (3 models, 0 malformed entries skipped) in 1 requests" in result.output
    assert "keras          complete          1 pages         3 models     0 skipped" in result.output
    result = CliRunner().invoke(main, ["ingest", "huggingface", "--db", str(db_file), "--framework", "pytorch", "--max-pages", "1"])
    assert result.exit_code == 0 and "Partial run: --max-pages 1 reached" in result.output
    result = CliRunner().invoke(main, ["ingest", "huggingface", "--db", str(db_file), "--framework", "caffe"])
    assert result.exit_code != 0 and "has no Hugging Face tags" in result.output
    result = CliRunner().invoke(main, ["ingest", "huggingface", "--db", str(db_file), "--framework", "pytorhc"])
    assert result.exit_code != 0 and "Did you mean 'pytorch'" in result.output


def test_cron_contract_run_with_only_db_path(hub, db_file):
    run = huggingface.run(db_file)
    assert run.status == "ok"
    tags = {r[0] for r in query(db_file, "SELECT tag FROM hf_crawl WHERE status = 'complete'")}
    assert {"pytorch", "tf", "jax", "keras", "transformers", "onnx"} <= tags
    # Every registry tag crawled: the all-registry share exists too.
    assert series(db_file, "hf_model_share", "pytorch", "all-registry")


@pytest.mark.parametrize("header,expected", [
    ('"api";r=0;t=55', (0, 55)),
    ('"api";r=412;t=7', (412, 7)),
    ("limit=100, remaining=3, reset=54", (3, 54)),
    ("garbage", None),
])
def test_parse_ratelimit_header_forms(header, expected):
    limit = parse_ratelimit({"RateLimit": header, "RateLimit-Policy": '"fixed window";"api";q=500;w=300'})
    assert (None if limit is None else (limit.remaining, limit.reset_s)) == expected
    if limit:
        assert (limit.quota, limit.window_s) == (500, 300)


def test_ctrl_c_keeps_checkpointed_pages_and_the_next_run_resumes(hub, db_file, monkeypatch):
    """Ctrl-C during a rate-limit wait: pages fetched so far are written, the run is recorded
    as interrupted, and the next run continues at the page that was being fetched."""
    monkeypatch.setattr(huggingface, "CHECKPOINT_PAGES", 1)
    hub.script[3] = Response("Too Many Requests", status=429, headers=RATELIMIT_429)

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        huggingface.run(db_file, ["pytorch"], sleep=interrupt)
    (status, next_url, pages), = query(db_file, "SELECT status, next_url, pages FROM hf_crawl WHERE tag = 'pytorch'")
    assert (status, pages) == ("in_progress", 2) and next_url.endswith("cursor=6")
    assert query(db_file, "SELECT status, error FROM ingest_runs") == [("failed", "interrupted")]
    assert query(db_file, "SELECT count(*) FROM hf_models")[0][0] == 5  # 6 entries, one malformed

    run = huggingface.run(db_file, ["pytorch"], sleep=Sleeps())
    assert run.status == "ok"
    assert [c["cursor"] for c in hub.calls] == [None, "3", "6", "6"]
    pt = series(db_file, "hf_models", "pytorch")
    assert pt[max(pt)] == 6


def test_replay_of_saved_pages_rebuilds_the_same_metrics_without_network(hub, db_file, tmp_path, monkeypatch):
    from pulse.cli import main

    run = huggingface.run(db_file, ["tensorflow", "keras"])
    original = series(db_file, "hf_tf_keras_models_also_pytorch", "pytorch")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/unset-hf")  # no server: replay must not fetch
    other = tmp_path / "replayed.duckdb"
    folder = tmp_path / "raw" / "huggingface" / run.run_id
    result = CliRunner().invoke(main, ["ingest", "huggingface", "--db", str(other), "--replay", str(folder)])
    assert result.exit_code == 0, result.output
    assert "replayed 3 saved pages (8 models)" in result.output
    assert series(other, "hf_tf_keras_models_also_pytorch", "pytorch") == original
    assert query(other, "SELECT tag, status FROM hf_crawl ORDER BY tag") == [("keras", "complete"), ("tf", "complete")]
    result = CliRunner().invoke(main, ["ingest", "huggingface", "--db", str(other), "--replay", str(tmp_path)])
    assert result.exit_code == 1 and "No saved Hugging Face pages" in result.output


def test_model_ids_stay_unique_across_tags_and_recrawls(hub, db_file):
    huggingface.run(db_file, FOUR)
    huggingface.run(db_file, FOUR, refresh=True)
    assert query(db_file, "SELECT count(*), count(DISTINCT id) FROM hf_models")[0] == (11, 11)
    assert len(hub.calls) == 14
