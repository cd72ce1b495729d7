"""Papers with Code archive (Hugging Face Hub, `pwc-archive`): framework share of paper implementations.

Lists the parquet shards of links-between-paper-and-code and papers-with-abstracts through
the Hub's tree API and downloads every one (ingest/download.py: resumable, verified, cached),
loads them with DuckDB's parquet reader
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
CADENCE = dt.timedelta(days=30)  # the archive is frozen (2025-07); a monthly check costs 2 listings + a HEAD per shard

LINKS_REPO = "pwc-archive/links-between-paper-and-code"
PAPERS_REPO = "pwc-archive/papers-with-abstracts"
# The shards are whatever the Hub's file listing names (`train-0000k-of-0000n` today; it
# changes whenever a dataset is re-sharded): never hard-coded.
DATASETS = (("links", LINKS_REPO), ("papers", PAPERS_REPO))

# Bump when the load or the aggregation changes: unchanged files are then reloaded once.
LOAD_VERSION = 1

# Columns we read; the archive's files carry more (see docs/sources/paperswithcode.md).
LINKS_COLUMNS = ("paper_url", "repo_url", "is_official", "mentioned_in_paper", "mentioned_in_github", "framework")
PAPERS_COLUMNS = ("paper_url", "arxiv_id", "title", "date", "proceeding")
# DuckDB types the load's SQL relies on (a column of another type would fail inside it).
TEXT, FLAG = ("VARCHAR",), ("BOOLEAN",)
COLUMN_TYPES = {
    "links": {"paper_url": TEXT, "repo_url": TEXT, "framework": TEXT, "is_official": FLAG,
              "mentioned_in_paper": FLAG, "mentioned_in_github": FLAG},
    "papers": {"paper_url": TEXT, "date": ("VARCHAR", "DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS")},
}
REPLACE_HINT = "If the archive really changed this way, run again with --replace to store it anyway."

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


def cache_target(repo: str, path: str) -> Path:
    return cache_dir(repo) / path


def cache_dir(repo: str) -> Path:
    return config.raw_dir() / NAME / repo.split("/", 1)[1]


def dataset_url(repo: str) -> str:
    return f"{download.hf_endpoint()}/datasets/{repo}"


def shards(repo: str, revision: str, session) -> tuple[list[download.TreeFile], int]:
    """The repository's parquet files at `revision`, as the Hub lists them (sorted by path)."""
    listing, made = download.list_tree(repo, revision, session=session)
    found = sorted((f for f in listing if f.path.endswith(".parquet")), key=lambda f: f.path)
    if not found:
        raise SourceError(
            f"The Hub lists no parquet file in {repo} at revision {revision} ({len(listing)} other files).",
            f"Check the revision at {dataset_url(repo)}/tree/{revision}, or load downloaded files with --from.",
        )
    return found, made


def _prune_cache(repo: str, keep: set[str]) -> None:
    """Remove cached shards the listing no longer names (a re-split must not double-count with --from)."""
    folder = cache_dir(repo)
    for stale in sorted(folder.rglob("*.parquet")) if folder.is_dir() else []:
        if stale.relative_to(folder).as_posix() not in keep:
            log.info("removing %s: the archive's listing no longer names it", config.display_path(stale))
            stale.unlink(missing_ok=True)
            download.meta_path(stale).unlink(missing_ok=True)


def fetch_files(revision: str = "main", progress: download.Progress | None = None, session=None) -> list[ArchiveFile]:
    """List each dataset's parquet shards on the Hub, then download (or reuse) and verify every one; IO only."""
    session = session or download.hf_session()
    out = []
    for role, repo in DATASETS:
        listed, made = shards(repo, revision, session)
        for shard in listed:
            url = download.hf_resolve_url(repo, shard.path, revision)
            target = cache_target(repo, shard.path)
            got = download.download(url, target, session=session, progress=progress or download.log_progress())
            mismatch = (shard.size is not None and got.size != shard.size) or (shard.sha256 and got.sha256 != shard.sha256)
            if mismatch:
                download._discard(target)
                raise SourceError(
                    f"{repo}/{shard.path} does not match the Hub's listing (size {got.size:,} vs {shard.size}, "
                    f"sha256 {str(got.sha256)[:12]} vs {str(shard.sha256)[:12]}); it was removed and not loaded.",
                    "The dataset may have changed during the download; run the command again.",
                )
            verified = list(got.verified) + [c for c, ok in (("listed size", shard.size is not None),
                                                             ("listed sha256", bool(shard.sha256))) if ok]
            out.append(ArchiveFile(
                role, repo, shard.path, got.path, got.size, got.sha256, got.commit,
                origin="download" if got.fetched_bytes or got.resumed_from else "cache",
                fetched_bytes=got.fetched_bytes, requests=got.requests + made, verified=verified,
            ))
            made = 0
        _prune_cache(repo, {s.path for s in listed})
    return out


def _classify(path: Path) -> str | None:
    """'links' or 'papers' by a parquet file's columns (for a folder without the datasets' sub-folders)."""
    con = duckdb.connect()
    try:
        columns = {r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()}
    except duckdb.Error:
        return None
    finally:
        con.close()
    if {"repo_url", "framework"} <= columns:
        return "links"
    if {"abstract", "date"} <= columns or {"arxiv_id", "date"} <= columns:
        return "papers"
    return None


def files_from_dir(directory: Path) -> list[ArchiveFile]:
    """Already-downloaded files: every `*.parquet` under each dataset's folder
    (`<dir>/links-between-paper-and-code/`, `<dir>/papers-with-abstracts/`, or with the
    `pwc-archive/` level); without those folders, every parquet under `<dir>` by its columns."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SourceError(f"--from {directory}: not a directory.", "Point --from at the folder holding the downloaded parquet files.")
    found: dict[str, list[Path]] = {}
    folders = {role: next((d for d in (directory / repo.split("/", 1)[1], directory / repo) if d.is_dir()), None)
               for role, repo in DATASETS}
    if any(folders.values()):
        for role, repo in DATASETS:
            folder = folders[role]
            found[role] = sorted(folder.rglob("*.parquet")) if folder else []
    else:
        for path in sorted(directory.rglob("*.parquet")):
            role = _classify(path)
            if role:
                found.setdefault(role, []).append(path)
    out = []
    for role, repo in DATASETS:
        name = repo.split("/", 1)[1]
        if not found.get(role):
            raise SourceError(
                f"--from {directory}: no parquet file of {repo} found (looked under {name}/ and by columns).",
                f"Put the files from {dataset_url(repo)}/tree/main under {directory / name}/, or run without --from.",
            )
        base = folders.get(role) or directory
        for local in found[role]:
            meta = download._read_json(download.meta_path(local)) or {}
            size = local.stat().st_size
            if meta.get("size") is not None and meta["size"] != size:
                raise SourceError(
                    f"{local} has {size:,} bytes but its download record says {meta['size']:,}: it is truncated or damaged and was not loaded.",
                    "Delete it and run `pulse ingest paperswithcode` without --from to download it again.",
                )
            out.append(ArchiveFile(role, repo, local.relative_to(base).as_posix(), local, size, meta.get("sha256"),
                                   meta.get("commit"), origin="from-dir", verified=["size"] if meta.get("size") is not None else []))
    return out


def check_file(con: duckdb.DuckDBPyConnection, file: ArchiveFile, columns: tuple[str, ...]) -> int:
    """Row count of a parquet file after checking it is readable and has the columns we use."""
    try:
        rows = con.execute("SELECT sum(row_group_num_rows) FROM (SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(?))", [str(file.local)]).fetchone()[0]
        types = {r[0]: r[1] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(file.local)]).fetchall()}
        present = set(types)
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
    wrong = [f"{c} is {types[c]} (expected {' or '.join(ok)})" for c, ok in COLUMN_TYPES.get(file.role, {}).items()
             if c in types and types[c] not in ok]
    if wrong:
        raise SourceError(
            f"{config.display_path(file.local)} has columns of the wrong type: {'; '.join(wrong)}; it was not loaded.",
            f"Check that it is the {file.repo} file {file.path} as the Hub serves it (not re-exported with other types).",
        )
    return int(rows or 0)


def citation(files: list[ArchiveFile], revision: str) -> str:
    parts = []
    for repo in (LINKS_REPO, PAPERS_REPO):
        commits = {f.commit for f in files if f.repo == repo and f.commit}
        pinned = f"revision {revision}" + (f", commit {sorted(commits)[0][:12]}" if commits else "")
        parts.append(f"{dataset_url(repo)} ({pinned})")
    return "; ".join(parts)


def _refuse(message: str) -> SourceError:
    return SourceError(message + " Refused: the stored Papers with Code data was kept.", REPLACE_HINT)


def stored_frameworks(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Frameworks that have a stored implementation share (what a new load must not silently drop)."""
    rows = con.execute("SELECT DISTINCT framework FROM observations WHERE source = ? AND metric = 'pwc_implementation_share' "
                       "AND variant = 'all'", [NAME]).fetchall()
    return {r[0] for r in rows}


def save(con: duckdb.DuckDBPyConnection, files: list[ArchiveFile], run: store.Run, revision: str = "main",
         replace: bool = False) -> int:
    """Load the raw tables and store the per-quarter observations; return observation rows written.

    A load that would replace the stored data with less (no links, every paper_url empty, no
    papers, or frameworks that had a share and would lose it) raises SourceError unless `replace`.
    """
    links = [f for f in files if f.role == "links"]
    papers = [f for f in files if f.role == "papers"]
    counts = {"links_rows": sum(check_file(con, f, LINKS_COLUMNS) for f in links),
              "papers_rows": sum(check_file(con, f, PAPERS_COLUMNS) for f in papers)}
    if not replace and not counts["links_rows"]:
        raise _refuse(f"The links files ({len(links)}) hold 0 rows; storing them would delete every stored implementation row.")
    try:
        counts.update(sql.load_raw(con, [str(f.local) for f in links], [str(f.local) for f in papers]))
        frame = sql.observations(con)
    except duckdb.Error as exc:
        raise SourceError(f"Loading the archive files failed: {str(exc).splitlines()[0]}.",
                          "Check that every file comes from the same revision of the archive (their columns must agree).") from None
    run.detail.update(counts)
    run.detail["frameworks_raw"] = sql.raw_framework_counts(con)
    if not replace:
        if not counts["links"]:
            raise _refuse(f"None of the {counts['links_rows']:,} links has a paper_url, so none can be dated.")
        if not counts["papers"]:
            raise _refuse(f"None of the {counts['papers_rows']:,} papers has a paper_url.")
        new = set(frame.loc[(frame["metric"] == "pwc_implementation_share") & (frame["variant"] == "all"), "framework"]) \
            if not frame.empty else set()
        lost = sorted(stored_frameworks(con) - new)
        if lost:
            raise _refuse(f"This load would drop frameworks that have a stored share: {', '.join(lost)}.")
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
    if not db.exists(db_path):
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
        progress: download.Progress | None = None, force: bool = False, replace: bool = False) -> store.Run:
    """Fetch (or reuse) the archive files, then load them and store the shares in one write.

    When the files, the registry mapping and the load code are those of the last successful
    load, nothing is rewritten (the run is recorded as ok with detail 'unchanged'); `force` reloads.
    A load with less than what is stored is refused (run recorded failed) unless `replace`.
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
        same = None if force or replace else previous_load(db_path, print_)
        if same:
            log.info("archive files unchanged since run %s: nothing to reload", same)
            run_.detail["unchanged_since"] = same
            return run_
        for f in files:
            if f.origin == "cache":  # about to be used: re-check what the cache holds
                f.verified = download.verify_file(f.local, f.sha256, f.size)
        with db.write_session(db_path) as con:
            run_.rows = save(con, files, run_, revision, replace)
            run_.finish(con, *judge(run_.rows, run_.detail))
    return run_
