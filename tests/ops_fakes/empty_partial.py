"""Synthetic source that reports `partial` having stored nothing (as when an API is unreachable)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pulse import db, store

NAME = "empty_partial"
DESCRIPTION = "Partial run with no rows (tests only)"
CADENCE = dt.timedelta(days=1)


def run(db_path: Path) -> store.Run:
    with store.tracked_run(db_path, NAME) as run_:
        with db.write_session(db_path) as con:
            run_.finish(con, "partial", "Could not reach http://127.0.0.1:9/api; fetched pages were saved")
    return run_
