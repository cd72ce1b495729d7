"""Synthetic source with a bug: an unexpected exception whose text carries the token."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pulse import config

NAME = "leaky"
DESCRIPTION = "Raises a bare RuntimeError quoting the token (tests only)"
CADENCE = dt.timedelta(days=1)


def run(db_path: Path):
    raise RuntimeError(f"request with Authorization: Bearer {config.secret('GITHUB_TOKEN')} blew up")
