"""Benchmark: GitHub ingest cost (requests per repo) and wall time, against a local fake API.

Config: six repositories, each with a synthetic 10-year star history (522 weeks -> 18 history
pages of 30 weeks), served by tests/github_fake.py on a threaded local werkzeug server.
Measures (median and spread over REPEATS fresh databases):
  - first full refresh: requests per repo, wall time for all six
  - unchanged refresh (every request conditional): requests per repo, 304s, wall time
Run: python bench/github.py  [--repeats N]   (writes nothing outside a temp dir)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.serving import make_server  # noqa: E402
from werkzeug.wrappers import Request  # noqa: E402

from tests.github_fake import FakeGitHub, FakeRepo, synthetic_weeks  # noqa: E402

FRAMEWORKS = ["pytorch", "tensorflow", "jax", "keras", "paddlepaddle", "mxnet"]
YEARS = 10


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except Exception:
        return platform.processor() or "unknown"


def start_server() -> tuple[FakeGitHub, object, str]:
    server = make_server("127.0.0.1", 0, lambda env, start: None, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    api = FakeGitHub(base)
    server.app = lambda environ, start_response: api.handle(Request(environ))(environ, start_response)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return api, server, base


def main() -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    api, server, base = start_server()
    os.environ["GITHUB_API_URL"] = base
    os.environ.pop("GITHUB_TOKEN", None)
    from ingest import github
    from pulse import registry

    today = dt.datetime.now(dt.UTC).date()
    for fid in FRAMEWORKS:
        api.add(FakeRepo(registry.get(fid).primary_repo, synthetic_weeks(today - dt.timedelta(days=365 * YEARS), today)))
    api.remaining = 10**9
    first, unchanged, first_req, unchanged_req, not_mod, rows = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PULSE_RAW_DIR"] = str(Path(tmp) / "raw")
        github.run(Path(tmp) / "warmup.duckdb", FRAMEWORKS)  # warm-up: imports, DuckDB, connections
        for i in range(args.repeats):
            path = Path(tmp) / f"bench{i}.duckdb"
            t0 = time.perf_counter()
            run = github.run(path, FRAMEWORKS)
            first.append(time.perf_counter() - t0)
            first_req.append(run.requests)
            rows.append(run.rows)
            t0 = time.perf_counter()
            again = github.run(path, FRAMEWORKS)
            unchanged.append(time.perf_counter() - t0)
            unchanged_req.append(again.requests)
            not_mod.append(again.detail["not_modified"])
            assert run.status == again.status == "ok" and again.rows == 0
    server.shutdown()

    def spread(xs):
        return f"median {statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f})"

    n = len(FRAMEWORKS)
    print(f"# GitHub ingest benchmark ({dt.date.today()}, {cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()})")
    print(f"config: {n} repos x {YEARS}-year synthetic daily history ({len(api.repos[registry.get('pytorch').primary_repo.lower()].weeks)} weeks), "
          f"history per_page={github.HISTORY_PER_PAGE}, workers={github.workers()}, repeats={args.repeats}")
    print(f"first full refresh:  {statistics.median(first_req) / n:.0f} requests/repo, {statistics.median(rows):.0f} rows, {spread(first)}")
    print(f"unchanged refresh:   {statistics.median(unchanged_req) / n:.0f} requests/repo ({statistics.median(not_mod):.0f} of "
          f"{statistics.median(unchanged_req):.0f} answered 304), 0 rows, {spread(unchanged)}")


if __name__ == "__main__":
    main()
