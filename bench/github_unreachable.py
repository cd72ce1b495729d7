"""Benchmark: how long `pulse ingest github` takes to give up on an unusable server, and how much it prints.

Config: the real CLI in a subprocess (`python -m pulse ingest github`, every registry repository,
no token), GITHUB_API_URL pointed at
  - closed:  a loopback port with nothing listening (connection refused)
  - drip:    a loopback server that sends the headers, then one body byte every 2 s
             (only with --drip: it runs up to the 60 s request deadline)
Measures wall time (median, min, max over REPEATS) and bytes of output (stdout + stderr).
Run: python bench/github_unreachable.py [--repeats 5] [--drip]   (writes only to a temp dir)
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_github_http import DripServer, closed_port  # noqa: E402


def once(url: str, tmp: Path) -> tuple[float, int, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GITHUB_API_URL": url, "PULSE_RAW_DIR": str(tmp / "raw")}
    env.pop("GITHUB_TOKEN", None)
    db = tmp / f"bench-{time.monotonic_ns()}.duckdb"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pulse", "ingest", "github", "--db", str(db)], capture_output=True, env=env)
    return time.perf_counter() - started, len(done.stdout) + len(done.stderr), done.returncode


def report(name: str, runs: list[tuple[float, int, int]]) -> None:
    times = [t for t, _, _ in runs]
    sizes = sorted({b for _, b, _ in runs})
    codes = sorted({c for _, _, c in runs})
    print(f"{name:<8} median {statistics.median(times):6.2f} s (min {min(times):.2f}, max {max(times):.2f}); "
          f"output {sizes} bytes; exit {codes}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--drip", action="store_true", help="also time a dripping server (about 60 s per repeat)")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}, host {socket.gethostname()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        report("closed", [once(f"http://127.0.0.1:{closed_port()}", tmp) for _ in range(args.repeats)])
        if args.drip:
            server = DripServer(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
                                b"[" + b" " * 99998 + b"]", every=2.0)
            try:
                report("drip", [once(server.url, tmp) for _ in range(max(1, args.repeats // 5))])
            finally:
                server.close()


if __name__ == "__main__":
    main()
