"""Benchmark `pulse ingest pypi` / `stackoverflow` at full-history scale and the charts built from them.

Config: every registry PyPI package (18 in 2026) with SYNTHETIC daily counts 2016-01-01 .. yesterday
from a loopback ClickPy (ClickHouse HTTP, JSONEachRow) and 180 days from a loopback pypistats;
every registry Stack Overflow tag (12) with SYNTHETIC monthly counts since 2008-08 from a loopback
Stack Exchange API. Timed: the first ingest of each (real code, real HTTP over loopback, real DuckDB
file, pypistats' 2.1 s pause switched off), the second ingest (nothing new: what it asks), and each
chart build (median of RUNS). Prints Markdown for docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNS = 5


def main() -> None:
    import logging

    from pytest_httpserver import HTTPServer
    from werkzeug.wrappers import Response

    from analytics.charts import ChartOptions, catalog
    from ingest import pypi, stackoverflow
    from pulse import db, registry

    today = dt.datetime.now(dt.UTC).date()
    days = [dt.date(2016, 1, 1) + dt.timedelta(days=i) for i in range((today - dt.date(2016, 1, 1)).days)]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = HTTPServer(port=0)
    server.start()
    base = server.url_for("/").rstrip("/")
    os.environ.update(PULSE_PYPISTATS_URL=base, PULSE_CLICKPY_URL=base, PULSE_STACKEXCHANGE_URL=base)

    def clickpy(request):
        since = dt.date.fromisoformat(request.args["param_since"])
        lines = [json.dumps({"date": d.isoformat(), "project": request.args["param_project"], "count": str(1000 + i)})
                 for i, d in enumerate(days) if d >= since]
        return Response("\n".join(lines) + "\n")

    def pypistats(request):
        data = [{"category": "without_mirrors", "date": d.isoformat(), "downloads": 900} for d in days[-180:]]
        return Response(json.dumps({"data": data, "package": request.path.split("/")[3], "type": "overall_downloads"}))

    quota = {"left": 10_000}

    def se(request):
        quota["left"] -= 1
        if "/tags/" in request.path:
            body = {"items": [{"name": t, "count": 5000} for t in request.path.split("/")[3].split(";")]}
        elif request.args.get("sort") == "creation":
            body = {"items": [{"creation_date": 1217548800}]}  # 2008-08-01
        else:
            body = {"total": 42}
        return Response(json.dumps({**body, "quota_max": 10_000, "quota_remaining": quota["left"]}))

    import re

    server.expect_request("/").respond_with_handler(clickpy)
    server.expect_request(re.compile(r"/api/packages/.*")).respond_with_handler(pypistats)
    server.expect_request(re.compile(r"/2\.3/.*")).respond_with_handler(se)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PULSE_RAW_DIR"] = str(Path(tmp) / "raw")
        path = Path(tmp) / "pulse.duckdb"
        for name, load in (("pypi", lambda: pypi.run(path, sleep=lambda s: None)),
                           ("stackoverflow", lambda: stackoverflow.run(path, sleep=lambda s: None))):
            for attempt in ("first", "second"):
                start = time.perf_counter()
                run = load()
                rows.append((f"`pulse ingest {name}` ({attempt} run)", time.perf_counter() - start,
                             f"{run.rows:,} rows, {run.requests:,} requests, status {run.status}"))
        con = db.open_read(path)
        try:
            frameworks = [f for f in registry.ids() if registry.get(f).pypi]
            for chart, extra in (("pypi-downloads", {"period": "day"}), ("pypi-downloads", {"period": "month"}),
                                 ("so-questions", {"period": "month"})):
                times = []
                for _ in range(RUNS):
                    start = time.perf_counter()
                    result = catalog()[chart].builder(con, ChartOptions(frameworks=frameworks, extra=extra))
                    times.append(time.perf_counter() - start)
                rows.append((f"chart `{chart}` {extra['period']}, {len(frameworks)} frameworks (median of {RUNS})",
                             statistics.median(times), f"{len(result.data):,} points plotted"))
        finally:
            con.close()
        size = path.stat().st_size
    server.stop()
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"date {today}; database {size / 2**20:.1f} MiB\n")
    print("| step | seconds | what |\n|---|---|---|")
    for step, seconds, what in rows:
        print(f"| {step} | {seconds:.2f} | {what} |")


if __name__ == "__main__":
    main()
