"""Helpers for the ops tests that start real `pulse` processes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
FAKES = {
    "counter": "tests.ops_fakes.counter",
    "failing": "tests.ops_fakes.failing",
    "hanging": "tests.ops_fakes.hanging",
    "crashing": "tests.ops_fakes.crashing",
    "leaky": "tests.ops_fakes.leaky",
    "empty_partial": "tests.ops_fakes.empty_partial",
}
EXTRA_SOURCES = ",".join(f"{k}={v}" for k, v in FAKES.items())


def env(**extra: str) -> dict[str, str]:
    out = dict(os.environ, PYTHONPATH=str(ROOT), PULSE_EXTRA_SOURCES=EXTRA_SOURCES)
    out.update(extra)
    return out


def pulse(*args: str, env_extra: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pulse", *args], cwd=ROOT, env=env(**(env_extra or {})),
                          capture_output=True, text=True, timeout=timeout)


def start_pulse(*args: str, env_extra: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pulse", *args], cwd=ROOT, env=env(**(env_extra or {})),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def query(db: Path, sql: str, params: list | None = None):
    from pulse import db as database

    con = database.open_read(db)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pids_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains `text` (to prove none was left behind)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((l for l in (entry / "status").read_text().splitlines() if l.startswith("State:")), "")
        except OSError:
            continue
        if text in cmdline and "zombie" not in state:
            found.append(int(entry.name))
    return found

