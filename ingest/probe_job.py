"""The dashboard's "Run probe now": `pulse probe run` in a background process, with progress.

One probe at a time per server (per PULSE_PROBE_DIR), whichever session or process asks:
`pulse probe run` holds `<probe dir>/probe-run.lock` (filelock, an flock the kernel frees when
the holder dies) for its whole run, so a second run, from the button in another browser
session, a second server process or a terminal, is refused with who holds it. Two probes at
once would also skew each other's timings. Each job writes its progress file (cases done of
total, the case running) and its log under PULSE_PROBE_DIR with names unique per job, and
loads its result into the database when it finishes (`pulse probe run` ingests by default).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from pulse import config
from pulse.errors import PulseError

ENABLE_VAR = "PULSE_ALLOW_PROBE"


LOCK_NAME = "probe-run.lock"
HOLDER_NAME = "probe-run.holder.json"


class ProbeBusy(PulseError):
    """Another probe run holds this server's probe lock."""

    exit_code = 75  # EX_TEMPFAIL, as `pulse ingest --all` when its run lock is held


def lock_path() -> Path:
    return config.probe_dir() / LOCK_NAME


def _holder_path() -> Path:
    return config.probe_dir() / HOLDER_NAME


def describe(holder: dict) -> str:
    """Who holds the probe lock, in words."""
    parts = [f"pid {holder.get('pid', '?')}"]
    if holder.get("host"):
        parts.append(f"on {holder['host']}")
    if holder.get("started_at"):
        parts.append(f"started {holder['started_at']}")
    if holder.get("job"):
        parts.append(f"dashboard job {holder['job'].removesuffix('.progress.json')}")
    return ", ".join(parts)


def _read_holder() -> dict:
    try:
        holder = json.loads(_holder_path().read_text())
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _busy() -> ProbeBusy:
    holder = _read_holder()
    who = f" ({describe(holder)})" if holder else ""
    return ProbeBusy(f"A probe run is already in progress on this server{who}; this one was not started.",
                     "Wait for it to finish (two at once would skew each other's timings), then run it again.")


def running() -> dict | None:
    """The holder record of the probe run in progress on this server, or None when none runs."""
    lock = FileLock(lock_path(), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return _read_holder() or {"pid": "?"}
    except OSError:
        return None  # no probe dir we can write: no run can hold the lock there either
    lock.release()
    return None


@contextlib.contextmanager
def hold_lock(job: str | None = None) -> Iterator[None]:
    """Hold the server's probe lock for a whole probe run; ProbeBusy at once when held.

    `job` names the dashboard job (its progress file), so that start() can tell its own job
    took the lock."""
    directory = config.probe_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PulseError(f"Cannot create the probe directory {directory} ({exc.strerror or exc}).",
                         "Point PULSE_PROBE_DIR at a writable directory.") from exc
    lock = FileLock(lock_path(), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise _busy() from None
    except OSError as exc:
        raise PulseError(f"Cannot create the probe lock {lock_path()} ({exc.strerror or exc}).",
                         "Point PULSE_PROBE_DIR at a writable directory.") from exc
    try:
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                  "job": job}
        with contextlib.suppress(OSError):  # the record only improves the busy message
            _holder_path().write_text(json.dumps(holder))
        yield
    finally:
        with contextlib.suppress(OSError):
            if _read_holder().get("pid") == os.getpid():
                _holder_path().unlink()
        lock.release()


def allowed() -> bool:
    """The button runs only where an operator opted in: on a shared server a probe burns compute."""
    return os.environ.get(ENABLE_VAR, "0").strip() == "1"


@dataclass
class ProbeJob:
    proc: subprocess.Popen
    progress_file: Path
    log_file: Path
    budget_s: float
    started: float = field(default_factory=time.time)

    def state(self) -> dict:
        """{'running', 'returncode', 'done', 'total', 'current', 'result', 'elapsed_s', 'log_tail'}."""
        try:
            progress = json.loads(self.progress_file.read_text())
        except (OSError, json.JSONDecodeError):
            progress = {}
        code = self.proc.poll()
        try:
            tail = self.log_file.read_text(errors="replace").strip().splitlines()[-6:]
        except OSError:
            tail = []
        return {"running": code is None, "returncode": code, "done": progress.get("done", 0), "total": progress.get("total"),
                "current": progress.get("current"), "result": progress.get("result"), "elapsed_s": time.time() - self.started,
                "budget_s": self.budget_s, "log_tail": tail}


def _unique_names(out: Path) -> tuple[Path, Path]:
    """A progress file and a log file no other job uses: time stamp, pid and a random part,
    created exclusively (issue 14: jobs started in the same second shared one log)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    while True:
        base = f"job-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        log_file = out / f"{base}.log"
        try:
            with open(log_file, "x"):
                pass
        except FileExistsError:
            continue
        return out / f"{base}.progress.json", log_file


def start(db_path: Path, budget_s: float, device: str = "auto", confirm_s: float = 10.0) -> ProbeJob:
    """Start `pulse probe run` in the background; it loads its result into `db_path` when done.

    ProbeBusy when a probe already runs on this server; also when another one won a race to
    start (the job exits at once, refused by the lock, and that is reported here).
    """
    if running() is not None:
        raise _busy()
    out = config.probe_dir().absolute()
    try:
        out.mkdir(parents=True, exist_ok=True)
        progress, log_file = _unique_names(out)
    except OSError as exc:
        raise PulseError(f"Cannot write in the probe directory {out} ({exc.strerror or exc}).",
                         "Point PULSE_PROBE_DIR at a writable directory.") from exc
    cmd = [sys.executable, "-m", "pulse", "probe", "run", "--db", str(Path(db_path).absolute()), "--budget", str(budget_s), "--device", device,
           "--out", str(out), "--progress-file", str(progress)]
    with open(log_file, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=out,
                                env=config.child_env(PULSE_PROBE_DIR=str(out)))  # the job takes this directory's lock
    job = ProbeJob(proc, progress, log_file, budget_s)
    # Wait until the job holds the lock (its record names our progress file) or ends: a job that
    # lost a race to another session's is refused by the lock, which should read as busy here.
    deadline = time.monotonic() + confirm_s
    while time.monotonic() < deadline and proc.poll() is None and _read_holder().get("job") != progress.name:
        time.sleep(0.05)
    if proc.poll() == ProbeBusy.exit_code:
        raise _busy()
    return job
