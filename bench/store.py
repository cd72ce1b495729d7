"""Benchmark the team store (DuckLake, catalog in PostgreSQL, Parquet files) against the file store.

Config: the same data loaded through the real ingest code into both stores, at two scales:
  1x:  the embedded snapshot, a SYNTHETIC 13-framework Trends request (5 years weekly), a
       SYNTHETIC 1/10-size Papers with Code archive (30,016 links, 57,600 papers), 12 SYNTHETIC
       probe result files;
  10x: the same with 10x the rows: the Trends request for 10 regions, the full-size archive
       (300,160 links, 576,000 papers), 120 probe files.
Timed: each source's load (one write session each), a small write (5 rows, 5 times), and every
dashboard page (AppTest: the page script as Streamlit runs it; 1 cold run, then WARM_RUNS warm
reruns of the same session). The team store runs on a throwaway local PostgreSQL cluster
(tests/pg_cluster.py) with its Parquet files on the same local disk. Prints Markdown for
docs/benchmarks.md. Needs PostgreSQL 15+ binaries and the `lake` extra.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.paperswithcode import make_files  # noqa: E402
from bench.skeleton import _cpu_model  # noqa: E402
from bench.trends import registry_term  # noqa: E402
from ingest import paperswithcode, probe, snapshot, trends_scale, trends_store  # noqa: E402
from pulse import db, lake, store  # noqa: E402
from tests import pg_cluster, probe_synthetic  # noqa: E402
from tests.test_e2e import _pages  # noqa: E402
from tests.test_trends_scale import fetch_like_google, synthetic_truth  # noqa: E402

WARM_RUNS = 5
SMALL_WRITES = 5
SCALES = {"1x": (1, 30_016, 57_600, 12), "10x": (10, 300_160, 576_000, 120)}  # trends regions, links, papers, probe files
REGIONS = ["", "US", "GB", "DE", "FR", "IN", "CN", "JP", "BR", "CA"]


def trends_frame(regions: int) -> pd.DataFrame:
    ids = trends_store.trend_frameworks()
    terms = [registry_term(i) for i in ids]
    frames = []
    for k, geo in enumerate(REGIONS[:regions]):
        truth = synthetic_truth(len(terms), seed=3 + k)
        truth.columns = terms
        batches, anchor = fetch_like_google(truth)
        stitched = trends_scale.stitch(batches, anchor)
        frames.append(trends_store.rows(
            stitched.values, stitched.below_one, source="trends", term_ids=dict(zip(terms, ids, strict=True)),
            variant=trends_store.variant_for(geo, "today 5-y", ids), citation="synthetic benchmark data", raw_file="",
            detail={"route": "pytrends", "geo": geo or "world", "timeframe": "today 5-y"}))
    return pd.concat(frames, ignore_index=True)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def load(path: Path, files: Path, scale: str) -> dict[str, float]:
    """Load every source through its real ingest code; seconds per source."""
    regions, _, _, _ = SCALES[scale]
    frame = trends_frame(regions)

    def trends_write():
        with db.write_session(path) as con:
            trends_store.replace_variant(con, frame, "bench")

    out = {"snapshot": timed(lambda: snapshot.run(path)),
           f"trends ({len(frame):,} rows)": timed(trends_write),
           "paperswithcode": timed(lambda: paperswithcode.run(path, from_dir=files / "pwc")),
           "probe": timed(lambda: probe.run(path, files / "probe"))}
    small = []
    for k in range(SMALL_WRITES):
        rows = pd.DataFrame({"source": "bench", "framework": "pytorch", "metric": "bench_small_write", "date": pd.date_range("2024-01-01", periods=5),
                             "variant": str(k), "value": range(5)})

        def write(rows=rows):
            with db.write_session(path) as con:
                store.upsert_observations(con, rows)
        small.append(timed(write))
    out["small write (5 rows), median"] = statistics.median(small)
    return out


def pages(path: Path) -> dict[str, tuple[float, float, float]]:
    from streamlit.testing.v1 import AppTest

    os.environ["PULSE_DB"] = str(path)
    out = {}
    for title, page in _pages():
        at = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=300)
        cold = timed(at.run)
        assert not at.exception, [e.message for e in at.exception]
        warm = sorted(timed(at.run) for _ in range(WARM_RUNS))
        out[title] = (cold, statistics.median(warm), warm[-1])
    return out


def rows_held(path: Path) -> int:
    from analytics import inventory

    con = db.open_read(path)
    try:
        return sum(n for _, n in inventory.table_counts(con))
    finally:
        con.close()


def files_for(tmp: Path, scale: str) -> Path:
    _, links, papers, probes = SCALES[scale]
    files = tmp / f"files-{scale}"
    make_files(files / "pwc", links, papers)
    for day in range(probes):
        doc = probe_synthetic.make_doc(run_id=f"synth{day:07d}", started_at=f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T10:00:00Z",
                                       scale=1 + day / 500)
        probe_synthetic.write(files / "probe", doc, name=f"probe-{day:04d}.json")
    return files


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main() -> None:
    reason = pg_cluster.missing()
    if reason:
        sys.exit(f"bench/store.py needs PostgreSQL and the lake extra: {reason}")
    machine = f"{_cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    results: dict[tuple[str, str], dict] = {}
    with tempfile.TemporaryDirectory() as tmp_name, pg_cluster.cluster() as pg:
        tmp = Path(tmp_name)
        os.environ["PULSE_RAW_DIR"] = str(tmp / "raw")
        for scale in SCALES:
            files = files_for(tmp, scale)
            for kind in ("file", "team store"):
                lake.close_cached()
                if kind == "file":
                    os.environ.pop("PULSE_STORE", None)
                    path = tmp / f"pulse-{scale}.duckdb"
                    where = path
                else:
                    name = f"bench_{scale}"
                    pg.createdb(name)
                    where = tmp / f"lake-{scale}"
                    os.environ["PULSE_STORE"] = f"ducklake:postgres:{pg.conninfo(name)}"
                    os.environ["PULSE_STORE_DATA_PATH"] = str(where) + "/"
                    path = tmp / "unused.duckdb"
                ingest = load(path, files, scale)
                results[(scale, kind)] = {"ingest": ingest, "pages": pages(path), "rows": rows_held(path), "bytes": size_of(where)}
                print(f"done {scale} {kind}", file=sys.stderr)
        lake.close_cached()

    print(f"Machine: {machine}; date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average at the end "
          f"{os.getloadavg()[0]:.1f}\n")
    for scale in SCALES:
        f, t = results[(scale, "file")], results[(scale, "team store")]
        print(f"\n### {scale}: {f['rows']:,} rows (file {f['bytes'] / 1e6:.1f} MB; team store {t['bytes'] / 1e6:.1f} MB of Parquet)\n")
        print("| ingest (one write session each) | file store | team store |\n|---|---:|---:|")
        for what in f["ingest"]:
            print(f"| {what} | {f['ingest'][what]:.2f} s | {t['ingest'][what]:.2f} s |")
        print("\n| page | file: cold / warm median / warm max | team store: cold / warm median / warm max |\n|---|---|---|")
        for title in f["pages"]:
            a, b = f["pages"][title], t["pages"][title]
            print(f"| {title} | {a[0]*1000:.0f} / {a[1]*1000:.0f} / {a[2]*1000:.0f} ms | {b[0]*1000:.0f} / {b[1]*1000:.0f} / {b[2]*1000:.0f} ms |")


if __name__ == "__main__":
    main()
