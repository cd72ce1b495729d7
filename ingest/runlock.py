"""The run lock of `pulse ingest --all`: one whole run at a time per database, crash-proof.

A flock(2) on `<db>.ingest.lock`, which the kernel drops when the holder dies, plus a JSON
record of the holder (pid, host, start) so that a refused run can say who holds it, and a
run that finds a dead holder's record can say it took over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from pulse.errors import PulseError

log = logging.getLogger(__name__)


class RunnerBusy(PulseError):
    """Another `pulse ingest --all` holds the run lock."""

    exit_code = 75


class RunLockUnavailable(PulseError):
    """The run lock file cannot be created next to the database (read-only directory, ...)."""


def run_lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".ingest.lock")


def _describe_holder(info: dict) -> str:
    started = info.get("started_at", "?")
    try:
        age = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(started)
        started += f", {int(age.total_seconds() // 60)} min ago"
    except (TypeError, ValueError):
        pass
    return f"pid {info.get('pid', '?')} on {info.get('host', '?')}, started {started}"


def _read_holder(fd: int) -> dict:
    raw = os.pread(fd, 4096, 0).decode(errors="replace").strip()
    if not raw:
        return {}
    try:
        info = json.loads(raw)
        return info if isinstance(info, dict) else {"pid": raw}
    except json.JSONDecodeError:
        return {"pid": raw}


@contextlib.contextmanager
def run_lock(db_path: Path, wait: bool = False, wait_timeout: float | None = None) -> Iterator[dict]:
    """Hold the `--all` run lock for `db_path`; RunnerBusy at once (or after waiting) if held.

    The lock file records who holds it. Finding a record but getting the lock means the last
    holder died without cleaning up (the kernel freed its flock): we say so and take over.
    """
    lock_file = run_lock_path(db_path)
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:  # read-only or full filesystem, no permission, a directory in the way
        raise RunLockUnavailable(
            f"Cannot create the run lock {lock_file} ({exc.strerror or exc}); no source was run and the database was left as it was.",
            "Point PULSE_DB / --db at a database in a writable directory, or fix the directory's permissions.",
        ) from exc
    try:
        deadline = None if wait_timeout is None else time.monotonic() + wait_timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _describe_holder(_read_holder(fd))
                if not wait or (deadline is not None and time.monotonic() >= deadline):
                    raise RunnerBusy(
                        f"Another `pulse ingest --all` is running on {db_path} ({holder}); this run did nothing.",
                        "Let it finish, or pass --wait to queue behind it.",
                    ) from None
                if not announced:
                    log.warning("waiting for the run lock held by %s", holder)
                    announced = True
                time.sleep(0.5)
        previous = _read_holder(fd)
        if previous:
            log.warning("took over the run lock left by %s, which ended without releasing it", _describe_holder(previous))
        mine = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(mine).encode(), 0)
        os.fsync(fd)
        try:
            yield {"previous": previous, **mine}
        finally:
            os.ftruncate(fd, 0)  # a clean exit leaves no record, so a record means a crash
    finally:
        os.close(fd)
