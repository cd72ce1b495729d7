"""Papers with Code shards come from the Hub's file listing, not from names in code.

The archive is served by the loopback Hub of tests/pwc_archive.py (its docstring lists the
listing and resolve shapes it encodes). The same synthetic rows split into other shards under
other names must give exactly the same observations, downloaded or loaded with --from.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingest import download
from ingest import paperswithcode as pwc
from pulse import config
from pulse.errors import SourceError
from tests.pwc_archive import LINKS, PAPERS, FakeHub, links_table, papers_table, write_archive

REAL = config.PROJECT_ROOT.parent / "shared" / "data" / "real" / "pwc"


def observations(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT metric, variant, framework, date, value, detail FROM observations "
                           "WHERE source = 'paperswithcode' ORDER BY ALL").fetchall()
    finally:
        con.close()


def resplit_files() -> dict[str, bytes]:
    """The same rows as write_archive, re-sharded: links in 3 files, papers in 2, other names and folders."""
    files: dict[str, bytes] = {}

    def put(repo: str, path: str, table: pa.Table) -> None:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        files[f"{repo}/{path}"] = sink.getvalue().to_pybytes()

    for i, chunk in enumerate((LINKS[:4], LINKS[4:7], LINKS[7:])):
        put(pwc.LINKS_REPO, f"default/train/{i:04d}.parquet", links_table(chunk))
    put(pwc.PAPERS_REPO, "data/train-00000-of-00002.parquet", papers_table(PAPERS[:5]))
    put(pwc.PAPERS_REPO, "data/extra/train-00001-of-00002.parquet", papers_table(PAPERS[5:]))
    return files


@pytest.fixture
def baseline(tmp_path):
    """Observations of the archive in its 2025 layout, loaded from a folder."""
    directory = tmp_path / "original"
    write_archive(directory)
    db = tmp_path / "baseline.duckdb"
    assert pwc.run(db, from_dir=directory).status == "ok"
    return observations(db)


def serve(httpserver, monkeypatch, files) -> FakeHub:
    fake = FakeHub(files)
    fake.install(httpserver)
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    return fake


def test_resplit_and_renamed_shards_download_to_the_same_numbers(httpserver, monkeypatch, tmp_path, baseline, db_file):
    original = write_archive(tmp_path / "served")
    hub = serve(httpserver, monkeypatch, dict(original))
    assert pwc.run(db_file).status == "ok"
    assert observations(db_file) == baseline
    # The dataset is re-sharded under new names: every listed shard is fetched, the old ones dropped.
    hub.files.clear()
    hub.files.update(resplit_files())
    run = pwc.run(db_file)
    assert run.status == "ok" and observations(db_file) == baseline
    assert sorted(f["path"] for f in run.detail["files"]) == sorted(k.split("/", 2)[2] for k in hub.files)
    assert len(hub.gets) == 5 + 5
    cached = sorted(p.relative_to(config.raw_dir() / "paperswithcode").as_posix()
                    for p in (config.raw_dir() / "paperswithcode").rglob("*.parquet"))
    assert cached == sorted(k.split("/", 1)[1] for k in hub.files)  # the old shards are gone from the cache
    # ... so the cache folder itself loads with --from to the same numbers.
    again = tmp_path / "again.duckdb"
    assert pwc.run(again, from_dir=config.raw_dir() / "paperswithcode").status == "ok"
    assert observations(again) == baseline


def test_from_dir_finds_every_parquet_of_each_dataset(tmp_path, baseline, db_file):
    directory = tmp_path / "resplit"
    for key, data in resplit_files().items():
        target = directory / key.split("/", 1)[1]  # <dataset>/<path>
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    run = pwc.run(db_file, from_dir=directory)
    assert run.status == "ok" and len(run.detail["files"]) == 5
    assert observations(db_file) == baseline


def test_from_flat_folder_sorts_files_by_their_columns(tmp_path, baseline, db_file):
    directory = tmp_path / "flat"
    directory.mkdir()
    for i, (key, data) in enumerate(sorted(resplit_files().items())):
        (directory / f"file{i}.parquet").write_bytes(data)
    assert pwc.run(db_file, from_dir=directory).status == "ok"
    assert observations(db_file) == baseline


def test_listing_follows_pages_and_keeps_the_token_on_the_configured_host(httpserver, monkeypatch, tmp_path):
    hub = serve(httpserver, monkeypatch, resplit_files())
    monkeypatch.setenv("HF_TOKEN", "hf_SyntheticListingToken")
    files, made = download.list_tree(pwc.LINKS_REPO)
    assert sorted(f.path for f in files) == ["README.md", "default/train/0000.parquet", "default/train/0001.parquet",
                                             "default/train/0002.parquet"]  # folders are not files
    assert made == hub.listings == 2  # 3 shards + 2 folders + README, 3 entries a page
    assert all(f.sha256 for f in files if f.path.endswith(".parquet"))
    assert set(hub.auth_seen) == {"Bearer hf_SyntheticListingToken"}


def test_a_listing_without_parquet_files_is_refused(httpserver, monkeypatch, db_file):
    serve(httpserver, monkeypatch, {f"{pwc.LINKS_REPO}/data/notes.txt": b"synthetic",
                                    f"{pwc.PAPERS_REPO}/data/notes.txt": b"synthetic"})
    with pytest.raises(SourceError, match="lists no parquet file in pwc-archive/links-between-paper-and-code"):
        pwc.run(db_file)


@pytest.mark.skipif(not REAL.is_dir(), reason="../shared/data/real/pwc not present")
def test_real_feature_lists_and_records_load():
    """The real datasets' column lists (as `datasets` printed them) hold every column we read,
    and 4 real links rows (quoted in public code) parse into the columns and types we expect."""
    features = json.loads((REAL / "quoted__hf_pwc-archive_features.json").read_text())
    links = features["pwc-archive/links-between-paper-and-code"]["features"]
    papers = features["pwc-archive/papers-with-abstracts"]["features"]
    assert set(pwc.LINKS_COLUMNS) <= set(links) and set(pwc.PAPERS_COLUMNS) <= set(papers)
    assert set(pwc.COLUMN_TYPES["links"]) <= set(links) and set(pwc.COLUMN_TYPES["papers"]) <= set(papers)
    records = json.loads((REAL / "quoted__links-between-papers-and-code_4records.json").read_text())
    table = pa.Table.from_pylist(records)
    assert set(table.column_names) == set(links)
    con = duckdb.connect()
    con.register("real_links", table)
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE real_links)").fetchall())
    for column, allowed in pwc.COLUMN_TYPES["links"].items():
        assert types[column] in allowed, (column, types[column])
    frameworks = sorted(r[0] for r in con.execute("SELECT lower(trim(framework)) FROM real_links").fetchall())
    assert frameworks == ["none", "none", "pytorch", "tf"]


def test_listing_follows_a_renamed_repository_on_the_same_host(httpserver, monkeypatch):
    """The Hub answers a renamed repository's API paths with a relative 307 to the new name."""
    httpserver.expect_request("/api/datasets/old-org/links/tree/main").respond_with_data(
        "", status=307, headers={"Location": "/api/datasets/pwc-archive/links-between-paper-and-code/tree/main?recursive=true"})
    hub = serve(httpserver, monkeypatch, resplit_files())
    files, made = download.list_tree("old-org/links")
    assert len([f for f in files if f.path.endswith(".parquet")]) == 3 and made == 1 + hub.listings
