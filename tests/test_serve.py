"""`pulse serve` as a real process: it serves, and SIGTERM or SIGINT stops it with nothing left listening."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from pulse import config


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _children(pid: int) -> list[int]:
    """Direct children of a process, from /proc (Linux)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_cleanly_on_signal(tmp_path, sig):
    port = _free_port()
    db = tmp_path / "pulse.duckdb"
    env = dict(os.environ, PYTHONPATH=str(config.PROJECT_ROOT))
    env.pop("PULSE_DB", None)
    # Started from another directory: serve must find the app and its .streamlit/config.toml itself.
    proc = subprocess.Popen([sys.executable, "-m", "pulse", "serve", "--port", str(port), "--db", str(db)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                pass
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "pulse serve did not answer within 90 s"
            time.sleep(0.3)
        assert db.exists()  # built from the snapshot on first start
        assert _children(proc.pid) == []  # the dashboard runs in this process: the signal reaches it
        proc.send_signal(sig)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert code == 0, proc.stdout.read()
    assert not _listening(port)
