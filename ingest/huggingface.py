"""Hugging Face Hub: models per framework tag over time, from the models API (source `huggingface`).

For each registry framework's Hub tags, page through /api/models (1,000 models a page,
createdAt and tags expanded), keep one lean row per model (id, creation time, the registry
tags it carries) in `hf_models`, and the crawl's cursor per tag in `hf_crawl`. Pages are
written in checkpoints, so a run stopped by --max-pages, a rate limit, an error or Ctrl-C
resumes where it stopped. Metrics are recounted exactly from `hf_models`, for a framework
only once all of its tags' crawls are complete (a partial crawl would undercount).

The bulk path (`--hub-stats FILE`, source `hub_stats`) lives in ingest/huggingface_bulk.py.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import requests

from ingest import download, huggingface_metrics as metrics
from ingest.http import Fetcher, make_session, same_origin
from ingest.huggingface_api import HubClient, Model, first_page_params, models_url, parse_page
from pulse import config, db, registry, store
from pulse.errors import PulseError, SourceError

NAME = "huggingface"
DESCRIPTION = "Hugging Face Hub models API: models per framework tag by creation month, tf/keras models also on PyTorch"
CADENCE = dt.timedelta(days=7)
# A tag whose crawl completed more recently than this is not crawled again (a multi-run
# resume of the other tags must not restart the finished ones).
FRESH_FOR = dt.timedelta(days=3)
CHECKPOINT_PAGES = 50  # pages fetched between two writes (each write copies the database)
# Most pages one tag's crawl may take in one run: the largest tag (transformers, ~1.5 M models
# in 2026) needs ~1,500; a server handing out fresh cursors for ever stops here.
MAX_PAGES_PER_TAG = 5000
METRICS = ("hf_models", "hf_models_new", "hf_model_share", "hf_tf_keras_models_also_pytorch")

log = logging.getLogger(__name__)


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", config.SETTINGS["HF_ENDPOINT"][0]).rstrip("/")


def tags_for(framework_ids: list[str] | None) -> list[str]:
    """The Hub tags to crawl: every tag of the chosen frameworks (default: all with tags)."""
    chosen = registry.validate(framework_ids) if framework_ids else registry.ids()
    without = [f for f in chosen if not registry.get(f).hf_tags]
    if framework_ids and without:
        raise PulseError(f"{', '.join(without)} has no Hugging Face tags (hf_tags) in pulse/frameworks.toml.",
                         "Add hf_tags there, or choose another framework.")
    tags: list[str] = []
    for fid in chosen:
        tags.extend(t for t in registry.get(fid).hf_tags if t not in tags)
    return tags


# --- crawl state ------------------------------------------------------------------------------

def load_state(db_path: Path) -> dict[str, dict]:
    """Saved crawl rows by tag ({} when there is no database or no crawl yet)."""
    if not db.exists(db_path):
        return {}
    con = db.open_read(db_path)
    try:
        if not db.table_exists(con, "hf_crawl"):
            return {}
        frame = con.execute("SELECT * FROM hf_crawl").df()
    finally:
        con.close()
    return {row["tag"]: row for row in frame.to_dict("records")}


def _models_table(models: dict[str, Model], seen_at: dt.datetime) -> pa.Table:
    values = list(models.values())
    return pa.table({
        "id": pa.array([m.id for m in values], pa.string()),
        "created_at": pa.array([m.created_at for m in values], pa.timestamp("us")),
        "tags": pa.array([list(m.tags) for m in values], pa.list_(pa.string())),
        "seen_at": pa.array([seen_at] * len(values), pa.timestamp("us")),
    })


def save_models(con, models: dict[str, Model], seen_at: dt.datetime) -> int:
    """Upsert models on id (their tags and creation time as last seen).

    Delete-then-insert rather than ON CONFLICT: the table has no key index (it would be most
    of the file, and every write copies the file); `models` is keyed by id, so ids stay unique.
    """
    if not models:
        return 0
    con.register("_hf_models_in", _models_table(models, seen_at))
    try:
        con.execute("DELETE FROM hf_models WHERE id IN (SELECT id FROM _hf_models_in)")
        con.execute("INSERT INTO hf_models SELECT id, created_at, tags, seen_at FROM _hf_models_in")
    finally:
        con.unregister("_hf_models_in")
    return len(models)


def save_checkpoint(con, tag: str, state: dict, batch: dict[str, Model], pages: int, skipped: int,
                    next_url: str | None, run: store.Run) -> None:
    """Models of the pages fetched since the last checkpoint, and the tag's cursor."""
    now = store.utcnow()
    save_models(con, batch, now)
    run_ids = [r for r in (state.get("run_ids") or "").split(",") if r]
    if run.run_id not in run_ids:
        run_ids.append(run.run_id)
    status = "in_progress" if next_url else "complete"
    store.replace_row(con, "hf_crawl", ("tag",), {
        "tag": tag, "status": status, "next_url": next_url, "started_at": state["started_at"], "updated_at": now,
        "completed_at": None if next_url else now, "pages": int(state.get("pages") or 0) + pages,
        "models": int(state.get("models") or 0) + len(batch), "skipped": int(state.get("skipped") or 0) + skipped,
        "run_ids": ",".join(run_ids)})
    if not next_url:
        # Models not listed by this complete crawl no longer carry the tag (or are gone).
        con.execute(
            "UPDATE hf_models SET tags = list_filter(tags, lambda t: t <> ?) WHERE list_contains(tags, ?) AND seen_at < ?",
            [tag, tag, state["started_at"]],
        )
        con.execute("DELETE FROM hf_models WHERE len(tags) = 0")


def _keep_raw(run: store.Run, tag: str, url: str, body, next_url: str | None) -> Path:
    """Append one page to $PULSE_RAW_DIR/huggingface/<run_id>/<tag>.jsonl.gz (replayable with --replay)."""
    folder = config.raw_dir() / NAME / run.run_id
    path = folder / f"{tag}.jsonl.gz"
    # Scrubbed whole: a server echoing the token anywhere in the body must not put it on disk.
    line = config.redact(json.dumps({"url": url, "next": next_url, "body": body})) + "\n"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "at", encoding="utf-8") as fh:
            fh.write(line)
    except OSError as exc:
        if download.is_no_space(exc):
            raise download.no_space(path, exc) from None
        raise SourceError(f"Could not write {config.display_path(path)} ({exc.strerror or exc}).",
                          "Check that PULSE_RAW_DIR is a writable folder, then run again (progress is saved).") from None
    return folder


# --- fetch ------------------------------------------------------------------------------------

def crawl(db_path: Path, run: store.Run, client: HubClient, tags: list[str], max_pages: int | None,
          fresh_for: dt.timedelta = FRESH_FOR) -> dict:
    """Fetch pages tag by tag, writing a checkpoint every CHECKPOINT_PAGES pages and on stop.

    Returns what happened ({tag: pages fetched}, 'stopped' reason or None). Network IO never
    happens while the database is held; errors propagate after the fetched pages are saved.
    """
    base = endpoint()
    known = frozenset(metrics.all_tags())
    saved = load_state(db_path)
    pages_left = max_pages
    summary: dict = {"pages": {}, "skipped": 0, "models": 0, "stopped": None, "fresh": []}
    for tag in tags:
        state = dict(saved.get(tag) or {})
        completed = state.get("completed_at")
        if state.get("status") == "complete" and completed is not None and not pd.isna(completed) \
                and store.utcnow() - pd.Timestamp(completed).to_pydatetime() < fresh_for:
            summary["fresh"].append(tag)
            continue
        url = state.get("next_url") if state.get("status") == "in_progress" else None
        if url and not same_origin(url, base):
            log.warning("saved cursor for '%s' points away from HF_ENDPOINT; starting that tag again", tag)
            url = None
        if url:
            params = None
            log.info("resuming '%s' at page %s", tag, int(state.get("pages") or 0) + 1)
        else:
            state = {"started_at": store.utcnow(), "pages": 0, "models": 0, "skipped": 0, "run_ids": ""}
            url, params = models_url(base), first_page_params(tag)
        batch: dict[str, Model] = {}
        pages = skipped = 0
        asked_urls: set[tuple] = set()

        def checkpoint(next_url: str | None) -> None:
            nonlocal batch, pages, skipped
            with db.write_session(db_path) as con:
                save_checkpoint(con, tag, state, batch, pages, skipped, next_url, run)
            log.info("%s: saved %d pages (%d models, %d malformed); %s", tag, pages, len(batch), skipped,
                     "crawl complete" if not next_url else "cursor saved")
            for key in ("pages", "skipped"):
                state[key] = int(state.get(key) or 0) + (pages if key == "pages" else skipped)
            state["models"] = int(state.get("models") or 0) + len(batch)
            ids = [r for r in (state.get("run_ids") or "").split(",") if r]
            state["run_ids"] = ",".join(ids if run.run_id in ids else [*ids, run.run_id])
            batch, pages, skipped = {}, 0, 0

        try:
            while url:
                if pages_left is not None and pages_left <= 0:
                    summary["stopped"] = f"--max-pages {max_pages} reached"
                    break
                if summary["pages"].get(tag, 0) >= MAX_PAGES_PER_TAG:
                    raise SourceError(f"The crawl of '{tag}' passed {MAX_PAGES_PER_TAG:,} pages in one run; stopped.",
                                      "Check HF_ENDPOINT points at the Hugging Face Hub; progress is saved.")
                # One full URL from here on: a checkpoint after a failure saves exactly the page asked.
                url = url if params is None else requests.Request("GET", url, params=params).prepare().url
                params = None
                asked_urls.add(download.page_key(url))
                body, next_url = client.get_page(url)
                if next_url and download.page_key(next_url) in asked_urls:  # refused before storing: the page itself is suspect
                    raise SourceError(f"The crawl of '{tag}' was sent back to a page it already fetched ({download.safe_url(next_url)}); stopped.",
                                      "The server's pagination loops; run again later. Progress is saved.")
                raw = _keep_raw(run, tag, url, body, next_url)
                run.detail["raw_dir"] = config.display_path(raw.parent)
                models, bad = parse_page(body, known, url)
                batch.update((m.id, m) for m in models)
                pages, skipped = pages + 1, skipped + bad
                summary["pages"][tag] = summary["pages"].get(tag, 0) + 1
                summary["skipped"] += bad
                summary["models"] += len(models)
                url, params = next_url, None
                if pages_left is not None:
                    pages_left -= 1
                if pages >= CHECKPOINT_PAGES and url:
                    checkpoint(url)
        except BaseException:
            if pages:
                checkpoint(url)  # `url` is the page that failed: the next run starts there
            raise
        if pages:
            checkpoint(url)
        if summary["stopped"]:
            break
    return summary


# --- metrics ----------------------------------------------------------------------------------

def recount(con, run: store.Run) -> tuple[int, list[str]]:
    """Rewrite this source's metrics from hf_models for frameworks whose crawls are complete."""
    crawls = {r[0]: r[1] for r in con.execute("SELECT tag, completed_at FROM hf_crawl WHERE status = 'complete'").fetchall()}
    done: dict[str, dt.date] = {}
    for fid, tags in metrics.hub_tags().items():
        if all(t in crawls for t in tags):
            done[fid] = min(crawls[t] for t in tags).date()
    notes = []
    if not done:
        return 0, ["no framework's crawl is complete yet; metrics not updated"]
    bits = metrics.all_tags()
    agg = metrics.aggregate(con, "hf_models", [], "epoch_us(created_at)", "tags", None, bits)
    frames = [metrics.framework_metrics(agg, bits, done)]
    for variant, base in (("default-frameworks", [f for f in registry.default_ids() if f in metrics.hub_tags()]),
                          ("all-registry", list(metrics.hub_tags()))):
        if base and all(f in done for f in base):
            frames.append(metrics.share_metrics(agg, bits, base, variant, min(done[f] for f in base)))
        else:
            notes.append(f"hf_model_share ({variant}) waits for complete crawls of: {', '.join(f for f in base if f not in done)}")
    if "tensorflow" in done and "keras" in done:
        frames.append(metrics.also_pytorch_metric(agg, bits, min(done["tensorflow"], done["keras"])))
    else:
        notes.append("hf_tf_keras_models_also_pytorch waits for complete tensorflow and keras crawls")
    loadable_base = ("pytorch", "transformers", "tensorflow", "keras")
    untagged = [f for f in loadable_base if f in done and not _records_extra_tags(con, registry.get(f).hf_tags, run)]
    if all(f in done for f in loadable_base) and not untagged:
        frames.append(metrics.loadable_metrics(agg, bits, min(done[f] for f in loadable_base)))
    else:
        waiting = [f for f in loadable_base if f not in done] + untagged
        notes.append(f"PyTorch-loadable variants wait for complete crawls (recording safetensors tags) of: {', '.join(waiting)}"
                     + ("; run with --refresh" if untagged else ""))
    frame = pd.concat([f for f in frames if not f.empty], ignore_index=True) if any(not f.empty for f in frames) else pd.DataFrame()
    if frame.empty:
        return 0, notes
    for (fid, metric), _ in frame.groupby(["framework", "metric"]):
        store.delete_observations(con, source=NAME, framework=fid, metric=metric)
    frame = _provenance(frame, {fid: registry.get(fid).hf_tags for fid in frame["framework"].unique() if fid in registry.frameworks()}, run)
    frame = metrics.describe_loadable(frame, metrics.uncertain_count(agg, bits))
    loadable = frame["variant"].isin([metrics.LOADABLE, metrics.TAG_OR_LOADABLE])
    crawled = ",".join(t for f in ("pytorch", "transformers", "tensorflow", "keras") for t in registry.get(f).hf_tags)
    frame.loc[loadable, "citation"] = config.redact(f"{endpoint()}/api/models?filter=" + f" ; filter=".join(crawled.split(",")))
    return store.upsert_observations(con, frame, run_id=run.run_id), notes


def _records_extra_tags(con, tags, run: store.Run) -> bool:
    """True when every run behind these tags' current crawls stored the tags the loadable test reads
    (crawls by an older version kept only registry tags, so their models lack `safetensors`)."""
    ids: set[str] = set()
    for tag in tags:
        row = con.execute("SELECT run_ids FROM hf_crawl WHERE tag = ?", [tag]).fetchone()
        ids.update(r for r in ((row[0] if row else "") or "").split(",") if r)
    ids.discard(run.run_id)
    if not ids:
        return True
    rows = con.execute("SELECT json_extract(detail, '$.stored_tags') FROM ingest_runs WHERE list_contains(?, run_id)",
                       [sorted(ids)]).fetchall()
    return len(rows) == len(ids) and all(r[0] is not None and "safetensors" in json.loads(r[0]) for r in rows)


def _provenance(frame: pd.DataFrame, tags: dict, run: store.Run) -> pd.DataFrame:
    base = endpoint()
    frame = frame.copy()
    frame["source"] = NAME
    frame["subject"] = frame["framework"].map(lambda f: "tags: " + ",".join(tags.get(f, ())))
    frame["citation"] = frame["framework"].map(lambda f: config.redact(f"{base}/api/models?filter={','.join(tags.get(f, ()))}"))
    frame["raw_file"] = config.display_path(config.raw_dir() / NAME)
    extra = [c for c in ("tf_keras", "also_pytorch") if c in frame.columns]
    counts = zip(*(frame[c].tolist() for c in extra), strict=True) if extra else ((),) * len(frame)
    frame["detail"] = [{"method": "exact recount of table hf_models", **{c: int(v) for c, v in zip(extra, values, strict=True) if pd.notna(v)}}
                       for values in counts]
    return frame.drop(columns=extra)


# --- run --------------------------------------------------------------------------------------

def run(db_path: Path, frameworks: list[str] | None = None, max_pages: int | None = None,
        hub_stats: Path | None = None, *, refresh: bool = False, replay: Path | None = None,
        sleep: Callable[[float], None] = time.sleep) -> store.Run:
    """Crawl (resuming) and recount; with `hub_stats`, load that file instead (source hub_stats).

    Tags crawled completely within FRESH_FOR are skipped unless `refresh`. With `replay` (a
    raw folder of an earlier run), its saved pages are loaded instead of fetched.
    """
    if replay is not None:
        from ingest import huggingface_replay

        return huggingface_replay.run(db_path, Path(replay))
    if hub_stats is not None:
        from ingest import huggingface_bulk

        return huggingface_bulk.run(db_path, Path(hub_stats), frameworks)
    tags = tags_for(frameworks)
    with store.tracked_run(db_path, NAME) as run_:
        fetcher = Fetcher(make_session(config.secret("HF_TOKEN")), sleep=sleep)
        client = HubClient(fetcher, sleep=sleep, base=endpoint())
        error: SourceError | None = None
        try:
            summary = crawl(db_path, run_, client, tags, max_pages, dt.timedelta(0) if refresh else FRESH_FOR)
        except SourceError as exc:  # progress is saved; record a partial run and say why
            error, summary = exc, {"stopped": "error"}
        run_.requests = fetcher.requests_made
        run_.detail.update({k: v for k, v in summary.items() if k != "stopped"}, tags=tags, stored_tags=metrics.all_tags(),
                           rate_limit_waits_s=round(client.waited, 1), refusals_429=client.refusals)
        with db.write_session(db_path) as con:
            run_.rows, notes = recount(con, run_)
            pending = [r[0] for r in con.execute("SELECT tag FROM hf_crawl WHERE status <> 'complete'").fetchall()]
            run_.detail.update(notes=notes, pending_tags=pending)
            if error is not None:
                run_.finish(con, "partial", f"{error} Fetched pages were saved; the next run resumes.")
            elif pending or summary.get("stopped"):
                run_.finish(con, "partial", f"{summary.get('stopped') or 'stopped'}; crawls to resume: {', '.join(pending)}")
            else:
                run_.finish(con)
    return run_
