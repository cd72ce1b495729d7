"""Synthetic source that hangs (a stalled connection) until the runner kills it."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from pulse import store

NAME = "hanging"
DESCRIPTION = "Never finishes (tests only)"
CADENCE = dt.timedelta(days=1)


def run(db_path: Path) -> store.Run:
    with store.tracked_run(db_path, NAME) as run_:
        time.sleep(3600)
    return run_
