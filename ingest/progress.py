"""Download progress: a one-line bar on stderr (interactive) or INFO log lines (cron)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

log = logging.getLogger("ingest.download")

Progress = Callable[[str, int, int | None], None]  # (name, bytes done, total or None)


class ProgressLine:
    """A one-line progress bar on a stream (stderr), redrawn at most every `every` seconds."""

    def __init__(self, stream: TextIO | None = None, every: float = 0.5, width: int = 24):
        self.stream = stream or sys.stderr
        self.every, self.width = every, width
        self._last = 0.0
        self._started: dict[str, float] = {}

    def __call__(self, name: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        started = self._started.setdefault(name, now)
        finished = total is not None and done >= total
        if not finished and now - self._last < self.every:
            return
        self._last = now
        rate = done / max(now - started, 1e-6) / 1e6
        if total:
            filled = int(self.width * min(done / total, 1))
            bar = "#" * filled + "-" * (self.width - filled)
            text = f"\r{name} [{bar}] {done / total:6.1%} {done / 1e6:,.1f}/{total / 1e6:,.1f} MB {rate:5.1f} MB/s"
        else:
            text = f"\r{name} {done / 1e6:,.1f} MB {rate:5.1f} MB/s"
        self.stream.write(text + ("\n" if finished else ""))
        self.stream.flush()


def log_progress(step: float = 0.1) -> Progress:
    """A progress callback that logs at INFO every `step` of the file (for cron and logs)."""
    marks: dict[str, float] = {}

    def report(name: str, done: int, total: int | None) -> None:
        if not total:
            return
        fraction = done / total
        if fraction >= marks.get(name, 0.0) + step or done >= total:
            marks[name] = fraction
            log.info("%s: %.0f%% of %s MB", name, fraction * 100, f"{total / 1e6:,.1f}")

    return report
