"""Benchmark: the staged-write design under load. Results are recorded in docs/benchmarks.md.

1. Write cost against database size: one small write (5 rows) through pulse.db.write_session,
   split into the staging copy and the rest, for a snapshot database grown with synthetic rows.
2. Reader latency (p50/p95) of reader processes using the dashboard's read path
   (app_pages._common.connection, via tests/ops_fakes/reader.py), idle versus during an
   ingest loop (`pulse ingest --all --source counter` back to back).
3. Wall time of `pulse ingest --all` from a loopback HTTP server for the sources that have a
   local fake: `snapshot` (files), `github` (tests/github_fake.FakeGitHub) and the synthetic
   `counter`.

Usage: python bench/ops.py [--quick]   (all data synthetic; nothing leaves 127.0.0.1)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from pulse import db  # noqa: E402

# --- configuration -----------------------------------------------------------------------
GROW_ROWS = [0, 250_000, 2_500_000, 10_000_000]  # synthetic rows added to the snapshot database
WRITE_REPEATS = 9
READERS = 2  # reader processes (the sandbox has 2 cores shared with other jobs)
READ_SECONDS = 20.0  # per phase
ALL_REPEATS = 3
# Sources with a loopback fake here: snapshot (files), github (tests/github_fake.FakeGitHub,
# 5 years of synthetic weekly stars per repo) and the synthetic counter. trends,
# paperswithcode and huggingface need their own protocol fakes and are left out.
ALL_SOURCES = ["--source", "snapshot", "--source", "github", "--source", "counter"]


def env(**extra) -> dict:
    out = dict(os.environ, PYTHONPATH=str(ROOT), PULSE_EXTRA_SOURCES="counter=tests.ops_fakes.counter")
    out.pop("PULSE_DB", None)
    out.update(extra)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def build_snapshot(path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pulse", "db", "init", "--db", str(path)], cwd=ROOT, env=env(), check=True, capture_output=True)


def grow(path: Path, rows: int) -> None:
    if rows:
        with db.write_session(path) as con:
            con.execute(
                "INSERT INTO observations (source, framework, metric, variant, date, value, retrieved_at, citation) "
                "SELECT 'synthetic', 'pytorch', 'bench', CAST(i // 10000 AS VARCHAR), DATE '2000-01-01' + CAST(i % 10000 AS INTEGER), "
                "random(), TIMESTAMP '2026-01-01', 'synthetic' FROM range(?) t(i)",
                [rows],
            )


def bench_writes(workdir: Path) -> list[dict]:
    results = []
    base = workdir / "base.duckdb"
    build_snapshot(base)
    for rows in GROW_ROWS:
        path = workdir / f"grown-{rows}.duckdb"
        shutil.copyfile(base, path)
        grow(path, rows)
        size = path.stat().st_size
        copies, syncs, totals = [], [], []
        for i in range(WRITE_REPEATS):
            t0 = time.perf_counter()
            shutil.copyfile(path, workdir / "copy.tmp")
            copies.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with open(workdir / "copy.tmp", "rb") as fh:
                os.fsync(fh.fileno())  # what write_session pays before the rename
            syncs.append(time.perf_counter() - t0)
            (workdir / "copy.tmp").unlink()
            t0 = time.perf_counter()
            with db.write_session(path) as con:
                con.execute(
                    "INSERT OR REPLACE INTO observations (source, framework, metric, variant, date, value, retrieved_at) "
                    "SELECT 'synthetic', 'jax', 'bench_write', '', DATE '2000-01-01' + CAST(i AS INTEGER) + ?, 1.0, TIMESTAMP '2026-01-01' FROM range(5) t(i)",
                    [i * 5],
                )
            totals.append(time.perf_counter() - t0)
        results.append({
            "rows_added": rows, "size_mb": round(size / 1e6, 1),
            "copy_ms_median": round(statistics.median(copies) * 1000, 1),
            "fsync_copy_ms_median": round(statistics.median(syncs) * 1000, 1),
            "write_ms_median": round(statistics.median(totals) * 1000, 1),
            "write_ms_min": round(min(totals) * 1000, 1), "write_ms_max": round(max(totals) * 1000, 1),
        })
        print(results[-1], flush=True)
        path.unlink()
    return results


def bench_phases(workdir: Path) -> dict:
    """Where one small write session's time goes, step by step (the steps of db.write_session)."""
    path = workdir / "phases.duckdb"
    build_snapshot(path)
    steps = {k: [] for k in ("copy", "connect", "migrate", "insert_5_rows", "checkpoint_close", "fsync", "replace_fsync_dir")}
    for i in range(WRITE_REPEATS):
        staging = db.staging_path(path)
        clock = time.perf_counter()

        def lap(name):
            nonlocal clock
            now = time.perf_counter()
            steps[name].append(now - clock)
            clock = now

        shutil.copyfile(path, staging)
        lap("copy")
        con = duckdb.connect(str(staging))
        lap("connect")
        db.migrate(con)
        lap("migrate")
        con.execute(
            "INSERT OR REPLACE INTO observations (source, framework, metric, variant, date, value, retrieved_at) "
            "SELECT 'synthetic', 'jax', 'bench_phase', '', DATE '2000-01-01' + CAST(i AS INTEGER) + ?, 1.0, TIMESTAMP '2026-01-01' FROM range(5) t(i)",
            [i * 5],
        )
        lap("insert_5_rows")
        con.execute("CHECKPOINT")
        con.close()
        lap("checkpoint_close")
        with open(staging, "rb") as fh:
            os.fsync(fh.fileno())
        lap("fsync")
        os.replace(staging, path)
        db._fsync_dir(path.parent)
        lap("replace_fsync_dir")
    out = {k: round(statistics.median(v) * 1000, 1) for k, v in steps.items()}
    out["size_mb"] = round(path.stat().st_size / 1e6, 1)
    print({"phases_ms_median": out}, flush=True)
    return out


def run_readers(path: Path, workdir: Path, tag: str, during=None) -> dict:
    stop = workdir / f"stop-{tag}"
    outs = [workdir / f"reader-{tag}-{i}.json" for i in range(READERS)]
    procs = [subprocess.Popen([sys.executable, "-m", "tests.ops_fakes.reader", str(path), str(o), str(stop), str(READ_SECONDS + 120)],
                              cwd=ROOT, env=env(), stderr=subprocess.DEVNULL) for o in outs]
    deadline = time.monotonic() + 120
    while not all(Path(str(o) + ".ready").exists() for o in outs) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # past the first (connection-opening) queries
    window_start = time.time()
    t_end = time.monotonic() + READ_SECONDS
    ingests = 0
    while time.monotonic() < t_end:
        if during:
            during()
            ingests += 1
        else:
            time.sleep(0.2)
    window_end = time.time()
    stop.touch()
    for p in procs:
        p.wait(timeout=120)
    lat, errors, versions, swaps = [], 0, 0, []
    for o in outs:
        data = json.loads(o.read_text())
        lat.extend(x for x, t in zip(data["latencies"], data["times"]) if window_start <= t <= window_end)
        errors += len(data["errors"])
        swaps.extend(data["after_swap"])
        versions = max(versions, data["versions"])
    return {"phase": tag, "queries": len(lat), "errors": errors, "ingests": ingests, "file_versions_seen": versions,
            "p50_ms": round(pct(lat, 0.5) * 1000, 2), "p95_ms": round(pct(lat, 0.95) * 1000, 2), "max_ms": round(max(lat) * 1000, 1),
            "first_query_after_swap_ms_median": round(statistics.median(swaps) * 1000, 1) if swaps else None}


class _Batches:
    """Serves the synthetic counter's /batch and, for the real `github` source, tests/github_fake.FakeGitHub."""

    def __init__(self, github_api):
        self.count = 0
        self.github = github_api

    def __call__(self, environ, start_response):
        from werkzeug.wrappers import Request, Response

        request = Request(environ)
        if request.path.startswith("/repos/"):
            return self.github.handle(request)(environ, start_response)
        k = self.count
        self.count += 1
        rows = [{"date": str(dt.date(2001, 1, 1) + dt.timedelta(days=k * 5 + i)), "value": k * 5 + i} for i in range(5)]
        return Response(json.dumps({"batch": k, "rows": rows}), content_type="application/json")(environ, start_response)


def start_server() -> tuple[object, str]:
    import logging

    from werkzeug.serving import make_server

    from pulse import registry
    from tests.github_fake import FakeGitHub, FakeRepo, synthetic_weeks

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, lambda environ, start_response: None, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    github_api = FakeGitHub(url)
    today = dt.datetime.now(dt.UTC).date()
    for framework in registry.frameworks().values():
        for repo in filter(None, [framework.primary_repo, *framework.github_former]):
            github_api.add(FakeRepo(repo, synthetic_weeks(today - dt.timedelta(days=365 * 5), today)))
    github_api.remaining = 10**9
    server.app = _Batches(github_api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, url


def main() -> None:
    global GROW_ROWS, READ_SECONDS, ALL_REPEATS
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter phases (smoke run)")
    if parser.parse_args().quick:
        GROW_ROWS, READ_SECONDS, ALL_REPEATS = [0, 100_000], 4.0, 1
    server, url = start_server()
    with tempfile.TemporaryDirectory(prefix="pulse-bench-ops-") as tmp:
        workdir = Path(tmp)
        report = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
                  "cpus": os.cpu_count(), "cpu": _cpu_model(), "duckdb": duckdb.__version__,
                  "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
        report["write_phases_ms"] = bench_phases(workdir)
        report["writes"] = bench_writes(workdir)

        path = workdir / "live.duckdb"
        build_snapshot(path)

        def ingest_once():
            subprocess.run([sys.executable, "-m", "pulse", "ingest", "--all", "--quiet", "--source", "counter", "--db", str(path)],
                           cwd=ROOT, env=env(OPS_FAKE_URL=url), check=True)

        report["readers"] = [run_readers(path, workdir, "idle"), run_readers(path, workdir, "during-ingest", ingest_once)]
        print(report["readers"], flush=True)

        times = []
        for _ in range(ALL_REPEATS):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "pulse", "ingest", "--all", "--json", "--db", str(path), *ALL_SOURCES],
                                 cwd=ROOT, env=env(OPS_FAKE_URL=url, GITHUB_API_URL=url), check=True, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            per_source = {s["source"]: (s["status"], round(s["seconds"], 2), s["rows"], s["requests"]) for s in json.loads(out.stdout)["sources"]}
        report["all_run"] = {"sources": list(per_source), "wall_s_median": round(statistics.median(times), 2),
                             "wall_s_all": [round(t, 2) for t in times], "per_source_s_last": per_source}
        print(report["all_run"], flush=True)
    server.shutdown()
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


def _cpu_model() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
