"""Replay the raw pages of an earlier Hugging Face crawl (`--replay DIR`): no network.

Each `<tag>.jsonl.gz` under $PULSE_RAW_DIR/huggingface/<run_id>/ holds one line per page,
`{"url", "next", "body"}`. Replaying loads their models into `hf_models` and recounts. The
tag's crawl state follows what the file covers: from the first page to the last (no next
link) -> complete; from the first page to a cursor -> in progress at that cursor (a live run
continues from there); starting mid-crawl (a resumed run's file) -> models only.
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

from ingest import huggingface, huggingface_metrics as metrics
from ingest.huggingface_api import Model, parse_page
from pulse import config, db, store
from pulse.errors import SourceError

log = logging.getLogger(__name__)


def read_pages(folder: Path) -> dict[str, list[dict]]:
    """Pages by tag from a raw run folder; SourceError when there is nothing to replay."""
    files = sorted(folder.glob("*.jsonl.gz")) if folder.is_dir() else []
    if not files:
        raise SourceError(f"No saved Hugging Face pages (*.jsonl.gz) in {folder}.",
                          f"Pass a folder under {config.display_path(config.raw_dir() / huggingface.NAME)}/ named by run id.")
    pages: dict[str, list[dict]] = {}
    for path in files:
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                pages[path.name.removesuffix(".jsonl.gz")] = [json.loads(line) for line in fh if line.strip()]
        except (OSError, ValueError) as exc:
            raise SourceError(f"Cannot read {path}: {exc}.", "The file is damaged; replay another run's folder.") from None
    return pages


def run(db_path: Path, folder: Path) -> store.Run:
    """Load the saved pages of one run folder, then recount (source huggingface)."""
    known = frozenset(metrics.all_tags())
    with store.tracked_run(db_path, huggingface.NAME) as run_:
        pages = read_pages(folder)  # file IO, no database held
        run_.detail = {"replayed": config.display_path(folder), "pages": {t: len(p) for t, p in pages.items()}, "skipped": 0, "models": 0,
                       "stored_tags": sorted(known)}
        with db.write_session(db_path) as con:
            for tag, lines in pages.items():
                batch: dict[str, Model] = {}
                skipped = 0
                for line in lines:
                    models, bad = parse_page(line.get("body"), known, line.get("url", ""))
                    batch.update((m.id, m) for m in models)
                    skipped += bad
                run_.detail["skipped"] += skipped
                run_.detail["models"] += len(batch)
                from_start = "cursor=" not in (lines[0].get("url") or "")
                if from_start:
                    state = {"started_at": store.utcnow(), "pages": 0, "models": 0, "skipped": 0, "run_ids": ""}
                    huggingface.save_checkpoint(con, tag, state, batch, len(lines), skipped, lines[-1].get("next"), run_)
                else:
                    huggingface.save_models(con, batch, store.utcnow())
                    log.info("%s: the saved pages start mid-crawl; models loaded, crawl state left as it was", tag)
            run_.rows, notes = huggingface.recount(con, run_)
            run_.detail["notes"] = notes
            run_.finish(con)
    return run_
