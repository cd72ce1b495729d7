"""Papers with Code archive (Hugging Face Hub, `pwc-archive`): framework share of paper implementations.

Downloads the links-between-paper-and-code parquet and the papers-with-abstracts parquets
(ingest/download.py: resumable, verified, cached), loads them with DuckDB's parquet reader
into lean raw tables (pwc_links, pwc_papers) and stores per-quarter shares as observations
(ingest/paperswithcode_sql.py holds the SQL). Paper dates come from joining links to papers
on `paper_url`; the links table has no date of its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingest import download
from ingest import paperswithcode_sql as sql
from pulse import config, db, registry, store
from pulse.errors import SourceError

NAME = "paperswithcode"
DESCRIPTION = "Papers with Code archive on the Hugging Face Hub: framework share of paper implementations per quarter"
CADENCE = dt.timedelta(days=30)  # the archive is frozen (2025-07); a monthly check costs 5 HEAD requests

LINKS_REPO = "pwc-archive/links-between-paper-and-code"
LINKS_FILES = ("data/train-00000-of-00001.parquet",)
PAPERS_REPO = "pwc-archive/papers-with-abstracts"
PAPERS_FILES = tuple(f"data/train-0000{i}-of-00004.parquet" for i in range(4))

# Bump when the load or the aggregation changes: unchanged files are then reloaded once.
LOAD_VERSION = 1

# Columns we read; the archive's files carry more (see docs/sources/paperswithcode.md).
LINKS_COLUMNS = ("paper_url", "repo_url", "is_official", "mentioned_in_paper", "mentioned_in_github", "framework")
PAPERS_COLUMNS = ("paper_url", "arxiv_id", "title", "date", "proceeding")

log = logging.getLogger(__name__)


@dataclass
class ArchiveFile:
    """One parquet file of the archive, ready to load (plain data: no connection, no session)."""

    role: str  # links | papers
    repo: str
    path: str
    local: Path
    size: int
    sha256: str | None = None
    commit: str | None = None
    origin: str = "download"  # download | cache | from-dir
    fetched_bytes: int = 0
    requests: int = 0
    verified: list[str] = field(default_factory=list)


def archive_files() -> list[tuple[str, str, str]]:
    return [("links", LINKS_REPO, p) for p in LINKS_FILES] + [("papers", PAPERS_REPO, p) for p in PAPERS_FILES]


def cache_target(repo: str, path: str) -> Path:
    return config.raw_dir() / NAME / repo.split("/", 1)[1] / path


def dataset_url(repo: str) -> str:
    return f"{download.hf_endpoint()}/datasets/{repo}"


def fetch_files(revision: str = "main", progress: download.Progress | None = None, session=None) -> list[ArchiveFile]:
    """Download (or reuse the cached) archive files; IO only."""
    session = session or download.hf_session()
    out = []
    for role, repo, path in archive_files():
        url = download.hf_resolve_url(repo, path, revision)
        got = download.download(url, cache_target(repo, path), session=session, progress=progress or download.log_progress())
        out.append(ArchiveFile(
            role, repo, path, got.path, got.size, got.sha256, got.commit,
            origin="download" if got.fetched_bytes or got.resumed_from else "cache",
            fetched_bytes=got.fetched_bytes, requests=got.requests, verified=list(got.verified),
        ))
    return out


def files_from_dir(directory: Path) -> list[ArchiveFile]:
    """Already-downloaded files: found by file name anywhere under `directory` (names are unique)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SourceError(f"--from {directory}: not a directory.", "Point --from at the folder holding the downloaded parquet files.")
    out = []
    for role, repo, path in archive_files():
        basename = Path(path).name
        preferred = [directory / repo.split("/", 1)[1] / path, directory / path, directory / basename]
        found = [p for p in preferred if p.is_file()] or sorted(directory.rglob(basename))
        found = [p for p in found if p.suffix == ".parquet"]
        if not found:
            raise SourceError(
                f"--from {directory}: no {basename} ({repo}) found.",
                f"Download it from {dataset_url(repo)}/tree/main/data or run without --from.",
            )
        local = found[0]
        meta = download._read_json(download.meta_path(local)) or {}
        size = local.stat().st_size
        if meta.get("size") is not None and meta["size"] != size:
            raise SourceError(
                f"{local} has {size:,} bytes but its download record says {meta['size']:,}: it is truncated or damaged and was not loaded.",
                "Delete it and run `pulse ingest paperswithcode` without --from to download it again.",
            )
        out.append(ArchiveFile(role, repo, path, local, size, meta.get("sha256"), meta.get("commit"), origin="from-dir",
                               verified=["size"] if meta.get("size") is not None else []))
    return out


def check_file(con: duckdb.DuckDBPyConnection, file: ArchiveFile, columns: tuple[str, ...]) -> int:
    """Row count of a parquet file after checking it is readable and has the columns we use."""
    try:
        rows = con.execute("SELECT sum(row_group_num_rows) FROM (SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(?))", [str(file.local)]).fetchone()[0]
        present = {r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(file.local)]).fetchall()}
    except duckdb.Error as exc:
        raise SourceError(
            f"{config.display_path(file.local)} is not a readable parquet file ({str(exc).splitlines()[0]}); it is truncated or corrupt and was not loaded.",
            "Delete it (and its .meta.json) and run `pulse ingest paperswithcode` again to download it afresh.",
        ) from None
    missing = [c for c in columns if c not in present]
    if missing:
        raise SourceError(
            f"{config.display_path(file.local)} lacks columns {', '.join(missing)} (it has {', '.join(sorted(present))}).",
            f"Check that it is the {file.repo} file {file.path}; the archive's schema may have changed.",
        )
    return int(rows or 0)


def citation(files: list[ArchiveFile], revision: str) -> str:
    parts = []
    for repo in (LINKS_REPO, PAPERS_REPO):
        commits = {f.commit for f in files if f.repo == repo and f.commit}
        pinned = f"revision {revision}" + (f", commit {sorted(commits)[0][:12]}" if commits else "")
        parts.append(f"{dataset_url(repo)} ({pinned})")
    return "; ".join(parts)


def save(con: duckdb.DuckDBPyConnection, files: list[ArchiveFile], run: store.Run, revision: str = "main") -> int:
    """Load the raw tables and store the per-quarter observations; return observation rows written."""
    links = [f for f in files if f.role == "links"]
    papers = [f for f in files if f.role == "papers"]
    counts = {"links_rows": sum(check_file(con, f, LINKS_COLUMNS) for f in links),
              "papers_rows": sum(check_file(con, f, PAPERS_COLUMNS) for f in papers)}
    counts.update(sql.load_raw(con, [str(f.local) for f in links], [str(f.local) for f in papers]))
    frame = sql.observations(con)
    run.detail.update(counts)
    run.detail["frameworks_raw"] = sql.raw_framework_counts(con)
    # A full recompute: series of frameworks that vanished from the archive must not linger.
    con.execute("DELETE FROM observations WHERE source = ?", [NAME])
    if frame.empty:
        return 0
    frame = frame.assign(
        source=NAME,
        citation=citation(files, revision),
        raw_file=config.display_path(links[0].local),
    )
    return store.upsert_observations(con, frame, run_id=run.run_id)


# Below this share of links joined to a dated paper, the join (or the archive) is suspect.
MIN_DATED_SHARE = 0.5


def judge(rows: int, detail: dict) -> tuple[str, str | None]:
    """Run status: 'partial' with a reason when the load produced nothing or the join mostly failed."""
    if not rows:
        return "partial", "the archive files held no dated implementations"
    links, dated = detail.get("links", 0), detail.get("links_dated", 0)
    if links and dated / links < MIN_DATED_SHARE:
        return "partial", (f"only {dated:,} of {links:,} links ({dated / links:.0%}) joined a dated paper on paper_url; "
                           "check that both datasets use the same paper_url form before trusting the shares")
    return "ok", None


def fingerprint(files: list[ArchiveFile]) -> str:
    """Identity of a load: the files' contents, the registry's pwc mapping and LOAD_VERSION."""
    parts = [LOAD_VERSION, sorted(registry.by_key("pwc").items())]
    for f in files:
        parts.append([f.repo, f.path, f.size, f.sha256 or f.local.stat().st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def previous_load(db_path: Path, print_: str) -> str | None:
    """The run id of the last successful load with this fingerprint, if its data is still there."""
    if not db_path.exists():
        return None
    con = db.open_read(db_path)
    try:
        if not db.table_exists(con, "pwc_links") or not con.execute("SELECT count(*) FROM pwc_links").fetchone()[0]:
            return None
        row = con.execute(
            "SELECT run_id FROM ingest_runs WHERE source = ? AND status = 'ok' AND rows > 0 "
            "AND json_extract_string(detail, '$.fingerprint') = ? ORDER BY started_at DESC LIMIT 1",
            [NAME, print_],
        ).fetchone()
        loaded = con.execute("SELECT count(*) FROM observations WHERE source = ?", [NAME]).fetchone()[0]
    finally:
        con.close()
    return row[0] if row and loaded else None


def run(db_path: Path, revision: str = "main", from_dir: Path | None = None,
        progress: download.Progress | None = None, force: bool = False) -> store.Run:
    """Fetch (or reuse) the archive files, then load them and store the shares in one write.

    When the files, the registry mapping and the load code are those of the last successful
    load, nothing is rewritten (the run is recorded as ok with detail 'unchanged'); `force` reloads.
    """
    with store.tracked_run(db_path, NAME) as run_:
        files = files_from_dir(from_dir) if from_dir else fetch_files(revision, progress)
        run_.requests = sum(f.requests for f in files)
        print_ = fingerprint(files)
        run_.detail.update({"revision": revision, "from_dir": config.display_path(from_dir) if from_dir else None,
                            "downloaded_bytes": sum(f.fetched_bytes for f in files), "fingerprint": print_})
        run_.detail["files"] = [
            {"repo": f.repo, "path": f.path, "local": config.display_path(f.local), "size": f.size, "sha256": f.sha256,
             "commit": f.commit, "origin": f.origin, "verified": f.verified, "fetched_bytes": f.fetched_bytes}
            for f in files
        ]
        same = None if force else previous_load(db_path, print_)
        if same:
            log.info("archive files unchanged since run %s: nothing to reload", same)
            run_.detail["unchanged_since"] = same
            return run_
        for f in files:
            if f.origin == "cache":  # about to be used: re-check what the cache holds
                f.verified = download.verify_file(f.local, f.sha256, f.size)
        with db.write_session(db_path) as con:
            run_.rows = save(con, files, run_, revision)
            run_.finish(con, *judge(run_.rows, run_.detail))
    return run_
