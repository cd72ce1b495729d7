"""Benchmark the Hugging Face ingest: bulk path vs a bare DuckDB scan, peak memory, API requests.

Config (edit here):
  ROWS        synthetic models in the generated models.parquet (the real Hub: about 2 million)
  REPEATS     timed runs of each measurement after one warm-up (median and spread reported)
  API_MODELS  synthetic models served by a local fake Hub for the API path

All data here is SYNTHETIC (generated below, file named synthetic-models.parquet): the real
shape of hub-stats models.parquet (id, author, createdAt UTC timestamp, downloads, likes,
tags list<string> with framework and other tags, pipeline_tag, library_name), made-up values.

Usage:  python bench/huggingface.py [--rows N] [--repeats N] [--keep DIR]
Measured: "bare" = one DuckDB scan of the columns the ingest reads; "scan+metrics" = the
ingest's read and metric building (no database); "bulk" = the whole `pulse ingest
huggingface --hub-stats` run (new database file, migrations, staged write, fsync).
Each measurement runs in a fresh child process so its peak RSS (wait4 ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROWS = 2_000_000
REPEATS = 3
API_MODELS = 20_000

BARE_SCAN = "SELECT count(*), CAST(max(createdAt) AS VARCHAR), sum(len(tags)), count(library_name) FROM read_parquet(?)"


def generate(path: Path, rows: int) -> None:
    """Write a synthetic models.parquet with DuckDB (fast, no Python loop)."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"""
        COPY (
            SELECT 'synthetic-org-' || (i % 50000) || '/model-' || i AS id,
                   'synthetic-org-' || (i % 50000) AS author,
                   CASE WHEN i < {rows // 10} THEN TIMESTAMPTZ '2022-03-02 23:29:04+00'
                        ELSE TIMESTAMPTZ '2022-03-03 00:00:00+00' + to_seconds(CAST(((i * 7919) % 120000000) AS BIGINT)) END AS createdAt,
                   CAST(hash(i) % 100000 AS BIGINT) AS downloads,
                   CAST(hash(i + 1) % 500 AS BIGINT) AS likes,
                   list_filter([
                       CASE WHEN hash(i, 1) % 100 < 25 THEN 'pytorch' END,
                       CASE WHEN hash(i, 2) % 100 < 60 THEN 'safetensors' END,
                       CASE WHEN hash(i, 3) % 100 < 3 THEN 'tf' END,
                       CASE WHEN hash(i, 4) % 100 < 1 THEN 'jax' END,
                       CASE WHEN hash(i, 5) % 100 < 2 THEN 'keras' END,
                       CASE WHEN hash(i, 6) % 100 < 3 THEN 'onnx' END,
                       CASE WHEN hash(i, 7) % 100 < 50 THEN 'transformers' END,
                       CASE WHEN hash(i, 8) % 100 < 10 THEN 'gguf' END,
                       'en', 'region:us', 'license:apache-2.0', 'endpoints_compatible',
                       'base_model:finetune:synthetic-org-' || (i % 977) || '/base-' || (i % 31)
                   ], lambda t: t IS NOT NULL) AS tags,
                   ['text-generation', 'text-classification', 'image-classification', NULL][1 + i % 4] AS pipeline_tag,
                   ['transformers', 'diffusers', 'timm', 'keras', 'gguf', NULL, 'sentence-transformers'][CAST(1 + hash(i, 9) % 7 AS BIGINT)] AS library_name
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)
    """)
    con.close()


def child(kind: str, path: str, db: str) -> None:
    """One measurement in this (child) process; prints seconds as JSON."""
    if kind == "bare":
        import duckdb

        start, cpu = time.perf_counter(), time.process_time()
        con = duckdb.connect()
        con.execute(BARE_SCAN, [path]).fetchall()
        con.close()
    elif kind == "scan+metrics":
        from ingest import huggingface_bulk

        start, cpu = time.perf_counter(), time.process_time()
        huggingface_bulk.build(huggingface_bulk.read_file(Path(path)))
    else:
        from ingest import huggingface_bulk

        start, cpu = time.perf_counter(), time.process_time()
        huggingface_bulk.run(Path(db), Path(path))
    # CPU seconds (all threads) resist the noise of a shared machine better than wall time.
    print(json.dumps({"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}))


def measure(kind: str, path: Path, workdir: Path, index: int) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds) of one child run."""
    db = workdir / f"bench-{kind}-{index}.duckdb"
    proc = subprocess.Popen([sys.executable, __file__, "--child", kind, str(path), str(db)], stdout=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    out = proc.stdout.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} child failed ({proc.returncode}): {out}")
    for suffix in ("", ".wal", ".lock"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    result = json.loads(out.strip().splitlines()[-1])
    return result["seconds"], usage.ru_maxrss / 1024, result["cpu"]


def api_requests(workdir: Path, models: int) -> dict:
    """Crawl a local fake Hub serving `models` synthetic models, 1,000 a page; count requests."""
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    from ingest import huggingface

    page = 1000
    calls = []

    @Request.application
    def app(request):
        calls.append(request.args.get("cursor"))
        start = int(request.args.get("cursor") or 0)
        rows = [{"_id": f"{i:024x}", "id": f"synthetic/model-{i}", "createdAt": f"2023-{1 + i % 12:02d}-01T00:00:00.000Z",
                 "tags": ["pytorch", "safetensors", "en"] + (["tf"] if i % 10 == 0 else [])}
                for i in range(start, min(start + page, models))]
        headers = {}
        if start + page < models:
            headers["Link"] = f'<http://127.0.0.1:{server.server_port}/api/models?filter=pytorch&limit=1000&cursor={start + page}>; rel="next"'
        return Response(json.dumps(rows), headers=headers, content_type="application/json")

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{server.server_port}"
    os.environ["PULSE_RAW_DIR"] = str(workdir / "raw")
    try:
        start = time.perf_counter()
        run = huggingface.run(workdir / "api.duckdb", ["pytorch"])
        seconds = time.perf_counter() - start
    finally:
        server.shutdown()
    return {"models": models, "requests": run.requests, "per_1000": run.requests / (models / 1000), "seconds": seconds,
            "status": run.status}


def api_recount(workdir: Path, models: int) -> dict:
    """Database size and recount time with `models` synthetic rows in hf_models (API path)."""
    from ingest import huggingface, huggingface_metrics
    from pulse import db, store

    path = workdir / "recount.duckdb"
    tags = huggingface_metrics.all_tags()
    with db.write_session(path) as con:
        con.execute(f"""
            INSERT INTO hf_models
            SELECT 'synthetic-org-' || (i % 50000) || '/model-' || i,
                   TIMESTAMP '2022-03-03' + to_seconds(CAST((i * 7919) % 120000000 AS BIGINT)),
                   list_filter([CASE WHEN hash(i, 1) % 100 < 60 THEN 'pytorch' END,
                                CASE WHEN hash(i, 2) % 100 < 8 THEN 'tf' END,
                                CASE WHEN hash(i, 3) % 100 < 3 THEN 'jax' END,
                                CASE WHEN hash(i, 4) % 100 < 4 THEN 'keras' END,
                                CASE WHEN hash(i, 5) % 100 < 70 THEN 'transformers' END], lambda t: t IS NOT NULL),
                   now()
            FROM range({models}) t(i)
        """)
        con.execute("DELETE FROM hf_models WHERE len(tags) = 0")
        for tag in tags:
            con.execute("INSERT INTO hf_crawl VALUES (?, 'complete', NULL, now(), now(), now(), 0, 0, 0, '')", [tag])
    size = path.stat().st_size
    run = store.Run(source="huggingface")
    start = time.perf_counter()
    with db.write_session(path) as con:
        rows, _ = huggingface.recount(con, run)
    seconds = time.perf_counter() - start
    return {"models": models, "db_mib": round(size / 2**20, 1), "recount_s": round(seconds, 2), "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the synthetic file in this directory.")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "FILE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    workdir = Path(tempfile.mkdtemp(prefix="pulse-bench-hf-"))
    path = (args.keep or workdir) / "synthetic-models.parquet"
    if not path.exists():
        start = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {args.rows:,} synthetic rows ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - start:.1f}s")
    results = {}
    for kind in ("bare", "scan+metrics", "bulk"):
        measure(kind, path, workdir, -1)  # warm-up (page cache)
        runs = [measure(kind, path, workdir, i) for i in range(args.repeats)]
        secs = [r[0] for r in runs]
        cpus = [r[2] for r in runs]
        results[kind] = {"median_s": statistics.median(secs), "min_s": min(secs), "max_s": max(secs),
                         "median_cpu_s": statistics.median(cpus), "peak_rss_mib": max(r[1] for r in runs)}
    api = api_requests(workdir, API_MODELS)
    api["recount_1m"] = api_recount(workdir, 1_000_000)
    ratio = results["bulk"]["median_s"] / results["bare"]["median_s"]
    for kind in ("scan+metrics", "bulk"):
        results[kind]["ratio_vs_bare"] = round(results[kind]["median_s"] / results["bare"]["median_s"], 2)
        results[kind]["cpu_ratio_vs_bare"] = round(results[kind]["median_cpu_s"] / results["bare"]["median_cpu_s"], 2)
    import duckdb

    env = {"python": platform.python_version(), "duckdb": duckdb.__version__, "cpus": os.cpu_count(),
           "machine": platform.machine(), "date": time.strftime("%Y-%m-%d"), "load_average": os.getloadavg()}
    print(json.dumps({"rows": args.rows, "file_mib": round(path.stat().st_size / 2**20), "results": results,
                      "ratio_bulk_vs_bare": round(ratio, 2), "api": api, "env": env}, indent=2))


if __name__ == "__main__":
    main()
