"""A reader process using the dashboard's own read path (app_pages._common.connection).

Usage: python -m tests.ops_fakes.reader DB RESULT_JSON STOP_FILE MAX_SECONDS
Queries until STOP_FILE exists (or MAX_SECONDS pass) and writes what it saw: query count,
errors, latencies, and the row counts observed (which must never go down).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

logging.disable(logging.WARNING)  # streamlit warns that it runs without a server


def main(db: str, result: str, stop: str, max_seconds: str) -> None:
    os.environ["PULSE_DB"] = db
    from app_pages import _common

    deadline = time.monotonic() + float(max_seconds)
    seen, errors, latencies, times, versions, after_swap = [], [], [], [], set(), []
    previous = None
    while time.monotonic() < deadline and not Path(stop).exists():
        t0 = time.perf_counter()
        try:
            version = str(_common.data_version())  # what connection() below keys its cache on
            cur = _common.connection()
            n, distinct = cur.execute(
                "SELECT count(*), count(DISTINCT date) FROM observations WHERE metric = 'synthetic_counter'"
            ).fetchone()
            runs = cur.execute("SELECT count(*) FROM ingest_runs").fetchone()[0]
            latencies.append(time.perf_counter() - t0)
            times.append(time.time())
            if previous is not None and version != previous:
                after_swap.append(latencies[-1])  # this query opened a connection to the new file
            previous = version
            seen.append([n, distinct, runs])
            if len(seen) == 1:
                Path(result + ".ready").touch()
            versions.add(version)
        except BaseException as exc:  # every failure counts, including Streamlit's stop
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.005)
    Path(result).write_text(json.dumps({"seen": seen, "errors": errors, "latencies": latencies, "times": times, "after_swap": after_swap, "versions": len(versions)}))


if __name__ == "__main__":
    main(*sys.argv[1:])
