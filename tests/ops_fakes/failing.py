"""Synthetic source that fails like a real one: a SourceError naming a URL that carries the token."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pulse import config, store
from pulse.errors import SourceError

NAME = "failing"
DESCRIPTION = "Always fails (tests only)"
CADENCE = dt.timedelta(days=1)


def run(db_path: Path) -> store.Run:
    with store.tracked_run(db_path, NAME) as run_:
        token = config.secret("GITHUB_TOKEN") or "none"
        raise SourceError(f"http://127.0.0.1:9/api?access_token={token} answered HTTP 500.", "The source may be down; retry later.")
    return run_
