"""Synthetic source whose process dies abruptly (as if OOM-killed): no result, no run record."""

from __future__ import annotations

import datetime as dt
import os
import signal
from pathlib import Path

NAME = "crashing"
DESCRIPTION = "Dies with SIGKILL (tests only)"
CADENCE = dt.timedelta(days=1)


def run(db_path: Path):
    os.kill(os.getpid(), signal.SIGKILL)
