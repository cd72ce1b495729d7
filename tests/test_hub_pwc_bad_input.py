"""Bad input to `pulse ingest huggingface` and `pulse ingest paperswithcode` (issue #14's cases).

One table: (case, what is fed in, expected message fragment). Each case runs the real CLI on a
copy of a database that already holds the snapshot and a Papers with Code load, and must end
with a non-zero exit, one message holding the fragment, no traceback, and every data table
exactly as before (only ingest_runs gains the failed or partial run). Servers are loopback
(pytest-httpserver) answering in the Hub's shapes (tests/pwc_archive.py, tests/test_huggingface_api.py).
Cases where a run rightly keeps what it fetched (page limit, echoed token) are tested below the table.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from werkzeug import Response

from ingest import download, huggingface
from ingest import paperswithcode as pwc
from pulse.cli import main
from tests.pwc_archive import LINKS, LINKS_FILES, LINKS_SCHEMA, FakeHub, links_table, write_archive

DATA_TABLES = ("observations", "pwc_links", "pwc_papers", "hf_models", "hf_crawl")
TOKEN = "hf_SyntheticBadInputToken789"


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    from ingest import snapshot

    folder = tmp_path_factory.mktemp("baseline")
    db = folder / "pulse.duckdb"
    snapshot.run(db)
    assert pwc.run(db, from_dir=write_archive(folder / "archive") and folder / "archive").status == "ok"
    return db


def data_state(db: Path) -> dict[str, list]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in DATA_TABLES}  # fixed names
    finally:
        con.close()


def last_run(db: Path, source: str) -> tuple[str, str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT status, error FROM ingest_runs WHERE source = ? ORDER BY started_at DESC LIMIT 1",
                           [source]).fetchone()
    finally:
        con.close()


@dataclass
class Ctx:
    tmp: Path
    server: object
    monkeypatch: pytest.MonkeyPatch

    def archive(self, links: pa.Table | None = None, papers_null: bool = False) -> Path:
        folder = self.tmp / "archive"
        write_archive(folder)
        if links is not None:
            pq.write_table(links, folder / "links-between-paper-and-code" / LINKS_FILES[0])
        if papers_null:
            for path in (folder / "papers-with-abstracts").rglob("*.parquet"):
                table = pq.read_table(path)
                pq.write_table(table.set_column(0, "paper_url", pa.nulls(len(table), pa.string())), path)
        return folder

    def endpoint(self) -> str:
        url = self.server.url_for("/").rstrip("/")
        self.monkeypatch.setenv("HF_ENDPOINT", url)
        return url

    def models_api(self, handler) -> None:
        self.endpoint()
        self.server.expect_request("/api/models").respond_with_handler(handler)


def _links(rows=LINKS, **columns) -> pa.Table:
    table = links_table(rows)
    for name, array in columns.items():
        table = table.set_column(table.schema.get_field_index(name), name, array)
    return table


# --- the inputs ------------------------------------------------------------------------------

def pwc_links_empty(ctx):
    return ["paperswithcode", "--from", str(ctx.archive(pa.Table.from_pylist([], schema=LINKS_SCHEMA)))]


def pwc_paper_url_all_null(ctx):
    return ["paperswithcode", "--from", str(ctx.archive(_links(paper_url=pa.nulls(len(LINKS), pa.string()))))]


def pwc_papers_paper_url_null(ctx):
    return ["paperswithcode", "--from", str(ctx.archive(papers_null=True))]


def pwc_share_loses_a_framework(ctx):
    return ["paperswithcode", "--from", str(ctx.archive(links_table([r for r in LINKS if r[3] != "tf"])))]


def pwc_framework_as_integers(ctx):
    return ["paperswithcode", "--from", str(ctx.archive(_links(framework=pa.array(range(len(LINKS)), pa.int64()))))]


def pwc_is_official_as_text(ctx):
    return ["paperswithcode", "--from", str(ctx.archive(_links(is_official=pa.array(["yes"] * len(LINKS)))))]


def pwc_folder_without_parquet(ctx):
    folder = ctx.tmp / "empty"
    (folder / "links-between-paper-and-code").mkdir(parents=True)
    (folder / "papers-with-abstracts").mkdir()
    return ["paperswithcode", "--from", str(folder)]


def pwc_listing_points_elsewhere(ctx):
    ctx.endpoint()

    def tree(request):
        link = '<http://127.0.0.1:9/api/datasets/x/tree/main?cursor=1>; rel="next"'
        return Response("[]", headers={"Link": link}, content_type="application/json")
    ctx.server.expect_request("/api/datasets/pwc-archive/links-between-paper-and-code/tree/main").respond_with_handler(tree)
    return ["paperswithcode", "--no-progress"]


def pwc_disk_full(ctx):
    files = write_archive(ctx.tmp / "served")
    FakeHub(files).install(ctx.server)
    ctx.endpoint()
    target = pwc.cache_target(pwc.LINKS_REPO, LINKS_FILES[0])
    target.parent.mkdir(parents=True)
    part = download.part_path(target)
    part.symlink_to("/dev/full")  # writes there fail with ENOSPC, as on a full disk
    etag = __import__("hashlib").sha256(files[f"{pwc.LINKS_REPO}/{LINKS_FILES[0]}"]).hexdigest()
    Path(str(part) + ".json").write_text(json.dumps({"etag": etag}))  # "resume" it
    return ["paperswithcode", "--no-progress"]


def hf_next_page_on_another_host(ctx):
    ctx.models_api(lambda r: Response("[]", headers={"Link": '<http://127.0.0.1:9/api/models?cursor=2>; rel="next"'},
                                      content_type="application/json"))
    return ["huggingface", "--framework", "keras"]


def hf_next_page_is_the_same_page(ctx):
    def handler(request):
        return Response(json.dumps([{"id": "s/m", "createdAt": "2024-01-01T00:00:00.000Z", "tags": ["keras"]}]),
                        headers={"Link": f'<{request.url}>; rel="next"'}, content_type="application/json")
    ctx.models_api(handler)
    return ["huggingface", "--framework", "keras"]


def hf_body_too_large(ctx):
    ctx.monkeypatch.setattr(download, "MAX_JSON_BYTES", 4096)
    ctx.models_api(lambda r: Response(json.dumps([{"id": f"s/m{i}", "createdAt": "2024-01-01T00:00:00.000Z",
                                                   "tags": ["keras"]} for i in range(200)]), content_type="application/json"))
    return ["huggingface", "--framework", "keras"]


def hf_not_found(ctx):
    ctx.models_api(lambda r: Response("Not Found", status=404))
    return ["huggingface", "--framework", "keras"]


def hf_raw_disk_full(ctx):
    real_open = gzip.open
    ctx.monkeypatch.setattr(gzip, "open", lambda path, *a, **k: real_open("/dev/full", *a, **k))
    ctx.models_api(lambda r: Response(json.dumps([{"id": "s/m", "createdAt": "2024-01-01T00:00:00.000Z", "tags": ["keras"]}]),
                                      content_type="application/json"))
    return ["huggingface", "--framework", "keras"]


def _hub_stats(ctx, created: list) -> list[str]:
    path = ctx.tmp / "models.parquet"
    pq.write_table(pa.table({"id": [f"s/m{i}" for i in range(len(created))], "createdAt": created,
                             "tags": [["pytorch"]] * len(created)}), path)
    return ["huggingface", "--hub-stats", str(path)]


def hub_stats_year_0001_and_9998(ctx):
    return _hub_stats(ctx, [dt.datetime(1, 1, 1), dt.datetime(9998, 1, 1)])


def hub_stats_year_9999(ctx):
    return _hub_stats(ctx, [dt.datetime(2024, 1, 1), dt.datetime(9999, 12, 31)])


def hub_stats_created_as_numbers(ctx):
    path = ctx.tmp / "models.parquet"
    pq.write_table(pa.table({"id": ["s/a"], "createdAt": [20240101], "tags": [["pytorch"]]}), path)
    return ["huggingface", "--hub-stats", str(path)]


CASES = [
    # (case, input, expected fragment)
    ("pwc: links with the right schema and 0 rows", pwc_links_empty, "hold 0 rows"),
    ("pwc: every links paper_url NULL", pwc_paper_url_all_null, "None of the 10 links has a paper_url"),
    ("pwc: every papers paper_url NULL", pwc_papers_paper_url_null, "None of the 8 papers has a paper_url"),
    ("pwc: a framework that had a share disappears", pwc_share_loses_a_framework, "would drop frameworks that have a stored share: tensorflow"),
    ("pwc: framework column of integers", pwc_framework_as_integers, "wrong type: framework is BIGINT"),
    ("pwc: is_official column of text", pwc_is_official_as_text, "is_official is VARCHAR (expected BOOLEAN)"),
    ("pwc: --from folders without parquet", pwc_folder_without_parquet, "no parquet file of pwc-archive/links-between-paper-and-code"),
    ("pwc: listing's next page on another host", pwc_listing_points_elsewhere, "pointed its next page at another host"),
    ("pwc: disk full while downloading", pwc_disk_full, "No space left on the device"),
    ("hf: next page on another host", hf_next_page_on_another_host, "pointed its next page at another host"),
    ("hf: next page is the same page", hf_next_page_is_the_same_page, "sent back to a page it already fetched"),
    ("hf: response body over the cap", hf_body_too_large, "more than the 4,096 bytes a page may have"),
    ("hf: 404 on the first page (nothing stored)", hf_not_found, "Nothing was stored"),
    ("hf: disk full writing raw pages", hf_raw_disk_full, "No space left on the device"),
    ("hub-stats: dates 0001 and 9998", hub_stats_year_0001_and_9998, "lie outside 1990-01-01"),
    ("hub-stats: a date in 9999", hub_stats_year_9999, "lie outside 1990-01-01"),
    ("hub-stats: createdAt as numbers", hub_stats_created_as_numbers, "has type BIGINT"),
]


@pytest.mark.parametrize("case,feed,fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_message_and_the_database_unchanged(case, feed, fragment, baseline, tmp_path,
                                                                         httpserver, monkeypatch):
    db = tmp_path / "pulse.duckdb"
    shutil.copyfile(baseline, db)
    before = data_state(db)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    args = feed(Ctx(tmp_path, httpserver, monkeypatch))
    result = CliRunner().invoke(main, ["ingest", *args, "--db", str(db)])
    assert result.exit_code == 1, result.output
    assert fragment in result.output, result.output
    assert "Traceback" not in result.output and TOKEN not in result.output
    assert len(result.output) < 1500, result.output
    assert data_state(db) == before
    source = "paperswithcode" if args[0] == "paperswithcode" else ("hub_stats" if "--hub-stats" in args else "huggingface")
    status, error = last_run(db, source)
    assert status in ("failed", "partial") and error and TOKEN not in error
    if source == "paperswithcode":
        assert status == "failed"


def test_replace_stores_a_smaller_archive_on_purpose(baseline, tmp_path):
    db = tmp_path / "pulse.duckdb"
    shutil.copyfile(baseline, db)
    folder = Ctx(tmp_path, None, None).archive(links_table([r for r in LINKS if r[3] != "tf"]))
    result = CliRunner().invoke(main, ["ingest", "paperswithcode", "--from", str(folder), "--db", str(db), "--replace"])
    assert result.exit_code == 0, result.output
    assert last_run(db, "paperswithcode")[0] == "ok"
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert "tensorflow" not in {r[0] for r in con.execute(
            "SELECT DISTINCT framework FROM observations WHERE source = 'paperswithcode' "
            "AND metric = 'pwc_implementation_share'").fetchall()}
    finally:
        con.close()


def test_token_never_reaches_another_host(httpserver, tmp_path, monkeypatch, db_file):
    """The other host is a second loopback server on another port (another origin): it is never asked."""
    from pytest_httpserver import HTTPServer

    other = HTTPServer(host="127.0.0.1", port=0)
    other.start()
    try:
        seen = []
        other.expect_request("/api/models").respond_with_handler(lambda r: seen.append(r.headers.get("Authorization")) or Response("[]"))
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
        httpserver.expect_request("/api/models").respond_with_handler(lambda r: Response(
            "[]", headers={"Link": f'<{other.url_for("/api/models")}?cursor=x>; rel="next"'}, content_type="application/json"))
        run = huggingface.run(db_file, ["keras"])
        assert run.status == "partial" and "another host" in run.error
        # A saved cursor pointing at the other origin is not followed either.
        con = duckdb.connect(str(db_file))
        con.execute("INSERT OR REPLACE INTO hf_crawl VALUES ('keras', 'in_progress', ?, now(), now(), NULL, 1, 0, 0, 'x')",
                    [other.url_for("/api/models") + "?cursor=x"])
        con.close()
        huggingface.run(db_file, ["keras"])
        assert seen == []
    finally:
        other.clear()
        other.stop()


def test_page_limit_stops_a_crawl_of_fresh_cursors(httpserver, monkeypatch, db_file):
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setattr(huggingface, "MAX_PAGES_PER_TAG", 5)
    calls = []

    def endless(request):
        n = int(request.args.get("cursor", 0))
        calls.append(n)
        return Response(json.dumps([{"id": f"s/m{n}", "createdAt": "2024-01-01T00:00:00.000Z", "tags": ["keras"]}]),
                        headers={"Link": f'<{httpserver.url_for("/api/models")}?cursor={n + 1}>; rel="next"'},
                        content_type="application/json")
    httpserver.expect_request("/api/models").respond_with_handler(endless)
    run = huggingface.run(db_file, ["keras"])
    assert run.status == "partial" and "passed 5 pages" in run.error and len(calls) == 5
    con = duckdb.connect(str(db_file), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM hf_models").fetchone()[0] == 5  # progress kept, cursor saved
        assert con.execute("SELECT next_url FROM hf_crawl WHERE tag = 'keras'").fetchone()[0].endswith("cursor=5")
    finally:
        con.close()


def test_echoed_token_reaches_no_raw_file_and_no_stored_id(httpserver, monkeypatch, db_file, tmp_path):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    body = [{"id": TOKEN, "createdAt": "2024-01-01T00:00:00.000Z", "tags": ["keras"]},
            {"id": f"s/{TOKEN}", "createdAt": "2024-01-01T00:00:00.000Z", "tags": ["keras"]},
            {"id": "s/real", "createdAt": "2024-02-01T00:00:00.000Z", "tags": ["keras"], "note": f"Bearer {TOKEN}"},
            {"id": "../../etc/passwd", "createdAt": "2024-02-01T00:00:00.000Z", "tags": ["keras"]}]
    httpserver.expect_request("/api/models").respond_with_handler(lambda r: Response(json.dumps(body), content_type="application/json"))
    run = huggingface.run(db_file, ["keras"])
    assert run.status == "ok" and run.detail["skipped"] == 3
    con = duckdb.connect(str(db_file), read_only=True)
    try:
        assert con.execute("SELECT id FROM hf_models").fetchall() == [("s/real",)]
    finally:
        con.close()
    assert TOKEN.encode() not in db_file.read_bytes()
    raws = list((tmp_path / "raw").rglob("*.gz"))
    assert raws and all(TOKEN not in gzip.open(p, "rt").read() for p in raws)
