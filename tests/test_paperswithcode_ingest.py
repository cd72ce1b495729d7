"""Papers with Code ingest end to end: loopback Hub (tests/pwc_archive.py) -> real DuckDB file.

Expected shares are hand-computed from tests/pwc_archive.PAPERS / LINKS:
2020-Q1 (p1, p2, p3): links pytorch x3 (p1 official, p2, p3 'PyTorch'), tf x1 (p1), none x1 (p3 official)
  all: pytorch 3/5, tensorflow 1/5, none 1/5; known: pytorch 3/4, tensorflow 1/4;
  official: pytorch 1/2, none 1/2, tensorflow 0/2; relative: pytorch 3/4; papers with code 3/3.
2020-Q2 (p4, p5, p7): links mindspore (official, unknown to the registry), jax
  all/known: 1/2 each; official: mindspore 1/1; papers with code 1/3.
2020-Q3 (p8, last date 2020-08-08: partial): tf official 1/1.
p6 has no date and px is not in the papers files: their links are in no quarter.
"""

from __future__ import annotations

import json

import duckdb
import pytest
from click.testing import CliRunner

from ingest import paperswithcode as pwc
from pulse.cli import main
from pulse.errors import SourceError
from tests.pwc_archive import COMMIT, LINKS_FILES, FakeHub, links_table, write_archive


@pytest.fixture
def archive(tmp_path):
    directory = tmp_path / "archive"
    return directory, write_archive(directory)


@pytest.fixture
def hub(httpserver, monkeypatch, archive):
    fake = FakeHub(dict(archive[1]))
    fake.install(httpserver)
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    return fake


def obs(db_file, metric, variant, date, framework="all"):
    con = duckdb.connect(str(db_file), read_only=True)
    try:
        row = con.execute(
            "SELECT value, detail FROM observations WHERE source = 'paperswithcode' AND metric = ? AND variant = ? "
            "AND date = ? AND framework = ?", [metric, variant, date, framework]).fetchone()
    finally:
        con.close()
    return (row[0], json.loads(row[1])) if row else None


def test_download_and_shares_match_hand_computed_values(hub, db_file):
    run = pwc.run(db_file)
    assert run.status == "ok" and run.rows > 0
    assert len(hub.gets) == 5 and run.requests == 13  # 3 listing pages, then a HEAD and a GET per file
    share = "pwc_implementation_share"
    expected = {
        ("all", "2020-01-01", "pytorch"): 3 / 5, ("all", "2020-01-01", "tensorflow"): 1 / 5, ("all", "2020-01-01", "none"): 1 / 5,
        ("known", "2020-01-01", "pytorch"): 3 / 4, ("known", "2020-01-01", "tensorflow"): 1 / 4,
        ("official", "2020-01-01", "pytorch"): 1 / 2, ("official", "2020-01-01", "none"): 1 / 2,
        ("official", "2020-01-01", "tensorflow"): 0.0,
        ("all", "2020-04-01", "mindspore"): 1 / 2, ("all", "2020-04-01", "jax"): 1 / 2,
        ("official", "2020-04-01", "mindspore"): 1.0, ("all", "2020-07-01", "tensorflow"): 1.0,
    }
    for (variant, date, framework), value in expected.items():
        got = obs(db_file, share, variant, date, framework)
        assert got is not None, (variant, date, framework)
        assert got[0] == pytest.approx(value), (variant, date, framework)
    assert obs(db_file, share, "known", "2020-01-01", "none") is None  # 'none' is no framework
    assert obs(db_file, "pwc_implementation_share_relative", "all", "2020-01-01", "pytorch")[0] == pytest.approx(3 / 4)
    assert obs(db_file, "pwc_papers_with_code_share", "any", "2020-01-01")[0] == pytest.approx(1.0)
    value, detail = obs(db_file, "pwc_papers_with_code_share", "any", "2020-04-01")
    assert value == pytest.approx(1 / 3) and detail["count"] == 1 and detail["base"] == 3
    assert obs(db_file, "pwc_papers_with_code_share", "official", "2020-01-01")[0] == pytest.approx(2 / 3)
    assert obs(db_file, share, "all", "2020-07-01", "tensorflow")[1]["complete"] is False
    assert obs(db_file, share, "all", "2020-04-01", "jax")[1]["complete"] is True


def test_raw_tables_provenance_and_run_record(hub, db_file):
    run = pwc.run(db_file)
    con = duckdb.connect(str(db_file), read_only=True)
    try:
        links = con.execute("SELECT framework_raw, framework, paper_date FROM pwc_links ORDER BY repo_url").fetchall()
        assert ("pytorch", "pytorch", None) in links  # p6: undated, kept for drill-down
        assert ("mindspore", "mindspore", duckdb.execute("SELECT DATE '2020-05-01'").fetchone()[0]) in links
        assert con.execute("SELECT count(*) FROM pwc_papers").fetchone()[0] == 8
        columns = {r[0] for r in con.execute("DESCRIBE pwc_papers").fetchall()}
        assert "abstract" not in columns and "title" in columns
        cite, raw_file, run_id = con.execute(
            "SELECT DISTINCT citation, raw_file, run_id FROM observations WHERE source = 'paperswithcode'").fetchall()[0]
        assert "/datasets/pwc-archive/links-between-paper-and-code (revision main, commit " + COMMIT[:12] in cite
        assert raw_file.endswith("train-00000-of-00001.parquet") and run_id == run.run_id
        status, detail = con.execute("SELECT status, detail FROM ingest_runs WHERE run_id = ?", [run.run_id]).fetchone()
    finally:
        con.close()
    detail = json.loads(detail)
    assert status == "ok" and detail["links"] == 10 and detail["links_dated"] == 8
    assert detail["frameworks_raw"] == {"pytorch": 4, "tf": 3, "none": 1, "mindspore": 1, "jax": 1}
    assert all(f["verified"] == ["size", "sha256", "listed size", "listed sha256"] for f in detail["files"])


def test_second_run_downloads_nothing_and_is_idempotent(hub, db_file):
    pwc.run(db_file)
    con = duckdb.connect(str(db_file), read_only=True)
    first = con.execute("SELECT metric, variant, framework, date, value FROM observations ORDER BY ALL").fetchall()
    con.close()
    first_run = pwc.run(db_file)  # the first call loaded; this one finds the files unchanged
    mtime = db_file.stat().st_mtime_ns
    again = pwc.run(db_file)
    assert len(hub.gets) == 5 and again.detail["downloaded_bytes"] == 0
    assert {f["origin"] for f in again.detail["files"]} == {"cache"}
    assert again.detail["unchanged_since"] and again.rows == 0 and first_run.detail["unchanged_since"]
    forced = pwc.run(db_file, force=True)
    assert forced.rows > 0 and "unchanged_since" not in forced.detail and db_file.stat().st_mtime_ns != mtime
    con = duckdb.connect(str(db_file), read_only=True)
    assert con.execute("SELECT metric, variant, framework, date, value FROM observations ORDER BY ALL").fetchall() == first
    assert con.execute("SELECT count(*) FROM pwc_links").fetchone()[0] == 10
    con.close()


def test_cache_damaged_on_disk_is_caught_before_loading(hub, db_file):
    pwc.run(db_file)
    cached = pwc.cache_target(pwc.LINKS_REPO, LINKS_FILES[0])
    data = bytearray(cached.read_bytes())
    data[100] ^= 0xFF  # same size, different bytes
    cached.write_bytes(bytes(data))
    with pytest.raises(SourceError, match="no longer matches its sha256"):
        pwc.run(db_file, force=True)
    assert not cached.exists()
    again = pwc.run(db_file, force=True)  # downloads it afresh
    assert again.status == "ok" and again.detail["downloaded_bytes"] == len(hub.files[f"{pwc.LINKS_REPO}/{LINKS_FILES[0]}"])


def test_from_dir_loads_without_network(archive, db_file):
    run = pwc.run(db_file, from_dir=archive[0])  # HF_ENDPOINT points at a dead port (conftest)
    assert run.status == "ok" and run.requests == 0
    assert obs(db_file, "pwc_implementation_share", "all", "2020-01-01", "pytorch")[0] == pytest.approx(0.6)


def test_truncated_parquet_is_rejected_and_db_untouched(archive, db_file):
    directory, _ = archive
    pwc.run(db_file, from_dir=directory)
    links = directory / "links-between-paper-and-code" / LINKS_FILES[0]
    links.write_bytes(links.read_bytes()[:-200])  # size changes, so the fingerprint does too
    with pytest.raises(SourceError, match="truncated or corrupt") as err:
        pwc.run(db_file, from_dir=directory)
    assert "download it afresh" in str(err.value)
    con = duckdb.connect(str(db_file), read_only=True)
    assert con.execute("SELECT count(*) FROM pwc_links").fetchone()[0] == 10  # previous load intact
    assert con.execute("SELECT status FROM ingest_runs ORDER BY started_at DESC LIMIT 1").fetchone()[0] == "failed"
    con.close()


def test_mostly_unjoined_links_mark_the_run_partial(archive, db_file):
    import pyarrow.parquet as pq

    directory, _ = archive
    rows = [("p1", "https://github.com/a/x", True, "pytorch")] + [(f"gone{i}", "https://github.com/a/y", False, "tf") for i in range(3)]
    pq.write_table(links_table(rows), directory / "links-between-paper-and-code" / LINKS_FILES[0])
    run = pwc.run(db_file, from_dir=directory)
    assert run.status == "partial" and "1 of 4 links (25%) joined a dated paper" in run.error
    assert obs(db_file, "pwc_implementation_share", "all", "2020-01-01", "pytorch")[0] == pytest.approx(1.0)


def test_schema_change_is_named(archive, db_file):
    import pyarrow.parquet as pq

    directory, _ = archive
    links = directory / "links-between-paper-and-code" / LINKS_FILES[0]
    pq.write_table(links_table().drop(["framework"]), links)
    with pytest.raises(SourceError, match="lacks columns framework"):
        pwc.run(db_file, from_dir=directory)


def test_corrupt_download_not_loaded(hub, db_file):
    key = next(k for k in hub.files if "links" in k)
    hub.etags[key] = "e" * 64
    with pytest.raises(SourceError, match="corrupt"):
        pwc.run(db_file)
    con = duckdb.connect(str(db_file), read_only=True)
    assert con.execute("SELECT count(*) FROM observations WHERE source = 'paperswithcode'").fetchone()[0] == 0
    con.close()


def test_cli_ingest_and_help(hub, db_file):
    result = CliRunner().invoke(main, ["ingest", "paperswithcode", "--db", str(db_file), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "10 links (8 dated) and 8 papers" in result.output
    again = CliRunner().invoke(main, ["ingest", "paperswithcode", "--db", str(db_file)])
    assert "nothing downloaded, nothing reloaded" in again.output
    forced = CliRunner().invoke(main, ["ingest", "paperswithcode", "--db", str(db_file), "--force"])
    assert "all files from cache, nothing downloaded" in forced.output
    helptext = CliRunner().invoke(main, ["ingest", "paperswithcode", "--help"]).output
    assert "Example:" in helptext and "--from" in helptext and "--revision" in helptext


def test_cli_progress_bar_on_stderr(hub, db_file):
    result = CliRunner().invoke(main, ["ingest", "paperswithcode", "--db", str(db_file), "--progress"])
    assert result.exit_code == 0, result.output
    assert "train-00000-of-00001.parquet [########################] 100.0%" in result.stderr
    assert "100.0%" not in result.stdout


def test_cli_error_is_one_clean_line(tmp_path, db_file):
    result = CliRunner().invoke(main, ["ingest", "paperswithcode", "--db", str(db_file), "--from", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "Error: --from" in result.output and "Traceback" not in result.output


def test_token_never_stored(hub, db_file, monkeypatch):
    secret = "hf_SyntheticSecretToken456"
    monkeypatch.setenv("HF_TOKEN", secret)
    pwc.run(db_file)
    assert all(a == f"Bearer {secret}" for a in hub.auth_seen)
    hub.files.clear()
    hub.files["x"] = b""
    for meta in (p for p in (db_file.parent / "raw").rglob("*.json")):
        meta.unlink()  # force new HEADs that now fail with 404
    for parquet in (db_file.parent / "raw").rglob("*.parquet"):
        parquet.unlink()
    with pytest.raises(SourceError):
        pwc.run(db_file)
    assert secret.encode() not in db_file.read_bytes()
    for path in (db_file.parent / "raw").rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()


def test_cron_contract_run_with_only_db_path(hub, db_file):
    import importlib

    from ingest import SOURCES

    module = importlib.import_module(SOURCES["paperswithcode"])
    run = module.run(db_file)
    assert run.status == "ok" and module.CADENCE.days == 30 and module.NAME == "paperswithcode"
