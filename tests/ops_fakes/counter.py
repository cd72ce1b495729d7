"""Synthetic source: each run stores the next batch of OPS_FAKE_BATCH rows (one per day).

With OPS_FAKE_URL set it fetches the batch from a loopback HTTP server (`GET {url}/batch`
answering {"batch": k, "rows": [{"date": ..., "value": ...}, ...]}) through ingest.http,
like a real source; otherwise it derives the next batch from what is stored.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pandas as pd

from ingest import http
from pulse import db, store

NAME = "counter"
DESCRIPTION = "Synthetic counter (tests only)"
CADENCE = dt.timedelta(hours=1)
METRIC = "synthetic_counter"
BASE = dt.date(1700, 1, 1)  # 200,000 daily rows must stay inside pandas 2.x's nanosecond range (up to 2262)


def fetch_batch(url: str) -> tuple[dict, int]:
    fetcher = http.Fetcher(http.make_session(), max_attempts=2, max_wait=1.0)
    body = fetcher.get(f"{url}/batch").json()
    return body, fetcher.requests_made


def local_batch(db_path: Path, size: int) -> dict:
    stored = 0
    if db_path.exists():
        con = db.open_read(db_path)
        try:
            stored = con.execute("SELECT count(*) FROM observations WHERE metric = ?", [METRIC]).fetchone()[0]
        finally:
            con.close()
    batch = stored // size
    return {"batch": batch, "rows": [{"date": str(BASE + dt.timedelta(days=batch * size + i)), "value": batch * size + i} for i in range(size)]}


def save(con, body: dict, run: store.Run) -> int:
    frame = pd.DataFrame(body["rows"]).assign(source=NAME, framework="pytorch", metric=METRIC, variant="",
                                              subject=f"batch {body['batch']}", citation="synthetic")
    return store.upsert_observations(con, frame, run_id=run.run_id)


def run(db_path: Path) -> store.Run:
    size = int(os.environ.get("OPS_FAKE_BATCH", "5"))
    with store.tracked_run(db_path, NAME) as run_:
        url = os.environ.get("OPS_FAKE_URL")
        if url:
            body, run_.requests = fetch_batch(url)
        else:
            body = local_batch(db_path, size)
        time.sleep(float(os.environ.get("OPS_FAKE_SLEEP", "0")))  # a slow fetch: no lock held
        with db.write_session(db_path) as con:
            run_.rows = save(con, body, run_)
            run_.detail = {"batch": body["batch"]}
            run_.finish(con)
    return run_
