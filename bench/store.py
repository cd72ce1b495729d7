"""Benchmark the team store (DuckLake, catalog in PostgreSQL, Parquet files) against the file store.

Config: the same data loaded through the real ingest code into both stores, at two scales:
  1x:  the embedded snapshot, a SYNTHETIC 13-framework Trends request (5 years weekly), a
       SYNTHETIC 1/10-size Papers with Code archive (30,016 links, 57,600 papers), 12 SYNTHETIC
       probe result files;
  10x: the same with 10x the rows: the Trends request for 10 regions, the full-size archive
       (300,160 links, 576,000 papers), 120 probe files.
Timed: each source's load (one write session each; first load, then the median of RELOADS
reloads of the same data, as a scheduled re-ingest does), a small write (5 rows, SMALL_WRITES
times), and every dashboard page (AppTest: the page script as Streamlit runs it; 1 cold run,
then WARM_RUNS warm reruns of the same session). Page runs alternate between the two stores so
that the shared machine's load hits both alike. The team store runs on a throwaway local PostgreSQL cluster
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

WARM_RUNS = 7
SMALL_WRITES = 5
RELOADS = 2
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


def load(path: Path, files: Path, scale: str) -> dict[str, tuple[float, float]]:
    """Load every source through its real ingest code: (first load, median reload) seconds per source."""
    regions, _, _, _ = SCALES[scale]
    frame = trends_frame(regions)

    def trends_write():
        with db.write_session(path) as con:
            trends_store.replace_variant(con, frame, "bench")

    steps = {"snapshot (`pulse db init`; the team store's first also creates the catalog)": lambda: snapshot.run(path),
             f"trends ({len(frame):,} rows)": trends_write,
             "paperswithcode": lambda: paperswithcode.run(path, from_dir=files / "pwc"),
             "probe": lambda: probe.run(path, files / "probe")}
    out = {}
    for what, step in steps.items():
        first = timed(step)
        out[what] = (first, statistics.median(timed(step) for _ in range(RELOADS)))
    small = []
    for k in range(SMALL_WRITES):
        rows = pd.DataFrame({"source": "bench", "framework": "pytorch", "metric": "bench_small_write", "date": pd.date_range("2024-01-01", periods=5),
                             "variant": str(k), "value": range(5)})

        def write(rows=rows):
            with db.write_session(path) as con:
                store.upsert_observations(con, rows)
        small.append(timed(write))
    out[f"small write (5 rows), median of {SMALL_WRITES}"] = (statistics.median(small), statistics.median(small))
    return out


def use(env: dict[str, str | None]) -> None:
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def pages(envs: dict[str, dict]) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Every page on every store, alternating stores run by run: store -> page -> (cold, warm median, warm max)."""
    from streamlit.testing.v1 import AppTest

    out: dict[str, dict] = {kind: {} for kind in envs}
    for title, page in _pages():
        apps, warm = {}, {kind: [] for kind in envs}
        for kind, env in envs.items():
            use(env)
            apps[kind] = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=300)
            cold = timed(apps[kind].run)
            assert not apps[kind].exception, [e.message for e in apps[kind].exception]
            out[kind][title] = cold
        for _ in range(WARM_RUNS):
            for kind, env in envs.items():
                use(env)
                warm[kind].append(timed(apps[kind].run))
        for kind in envs:
            out[kind][title] = (out[kind][title], statistics.median(warm[kind]), max(warm[kind]))
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
            pg.createdb(f"bench_{scale}")
            file_db, lake_dir = tmp / f"pulse-{scale}.duckdb", tmp / f"lake-{scale}"
            envs = {"file": {"PULSE_STORE": None, "PULSE_STORE_DATA_PATH": None, "PULSE_DB": str(file_db)},
                    "team store": {"PULSE_STORE": f"ducklake:postgres:{pg.conninfo(f'bench_{scale}')}",
                                   "PULSE_STORE_DATA_PATH": str(lake_dir) + "/", "PULSE_DB": str(tmp / "unused.duckdb")}}
            for kind, env in envs.items():
                use(env)
                results[(scale, kind)] = {"ingest": load(Path(env["PULSE_DB"]), files, scale), "rows": rows_held(Path(env["PULSE_DB"])),
                                          "bytes": size_of(file_db if kind == "file" else lake_dir)}
                print(f"loaded {scale} {kind}", file=sys.stderr)
            for kind, timings in pages(envs).items():
                results[(scale, kind)]["pages"] = timings
            print(f"pages {scale}", file=sys.stderr)
        lake.close_cached()

    print(f"Machine: {machine}; date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average at the end "
          f"{os.getloadavg()[0]:.1f}\n")
    for scale in SCALES:
        f, t = results[(scale, "file")], results[(scale, "team store")]
        print(f"\n### {scale}: {f['rows']:,} rows (file {f['bytes'] / 1e6:.1f} MB; team store {t['bytes'] / 1e6:.1f} MB of Parquet)\n")
        print("| ingest (one write session each): first load / median reload | file store | team store |\n|---|---:|---:|")
        for what in f["ingest"]:
            (a1, a2), (b1, b2) = f["ingest"][what], t["ingest"][what]
            print(f"| {what} | {a1:.2f} / {a2:.2f} s | {b1:.2f} / {b2:.2f} s |")
        print("\n| page | file: cold / warm median / warm max | team store: cold / warm median / warm max |\n|---|---|---|")
        for title in f["pages"]:
            a, b = f["pages"][title], t["pages"][title]
            print(f"| {title} | {a[0]*1000:.0f} / {a[1]*1000:.0f} / {a[2]*1000:.0f} ms | {b[0]*1000:.0f} / {b[1]*1000:.0f} / {b[2]*1000:.0f} ms |")


if __name__ == "__main__":
    main()
