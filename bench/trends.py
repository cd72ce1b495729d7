"""Benchmark Google Trends: stitching speed and accuracy, CSV import, Trends page run time.

Config: synthetic weekly series (260 weeks, sizes spanning 200x); stitching timed 30x for 13
terms; accuracy over 20 seeds per term count; CSV import of a synthetic 5-year daily export
(1,827 rows x 5 terms) timed 5x into a fresh database; the Trends page run 1x cold then 10x warm
with AppTest on a database holding a 13-framework request. Prints Markdown for
docs/benchmarks.md. All data is synthetic.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest import snapshot, trends_csv, trends_scale, trends_store  # noqa: E402
from pulse import db, store  # noqa: E402
from tests.test_trends_scale import fetch_like_google, synthetic_truth  # noqa: E402

STITCH_RUNS = 30
SEEDS = 20
IMPORT_RUNS = 5
WARM_RUNS = 10


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def stats(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"{statistics.median(ms):.1f} ms | {ms[0]:.1f} ms | {ms[-1]:.1f} ms"


def bench_stitch() -> list[float]:
    batches, anchor = fetch_like_google(synthetic_truth(13, seed=3))
    return timed(lambda: trends_scale.stitch(batches, anchor), STITCH_RUNS)


def accuracy() -> list[tuple[int, int, float, float]]:
    rows = []
    for n in (5, 9, 13, 24):
        worst, typical = [], []
        for seed in range(SEEDS):
            truth = synthetic_truth(n, seed=seed)
            batches, anchor = fetch_like_google(truth)
            stitched = trends_scale.stitch(batches, anchor if len(batches) > 1 else None)
            err = (stitched.values - truth * (100 / truth.max().max())).abs()
            worst.append(float(err.max().max()))
            typical.append(float(err.stack().median()))
        rows.append((n, len(batches), statistics.median(typical), max(worst)))
    return rows


def daily_csv(path: Path) -> Path:
    days = pd.date_range("2021-11-22", "2026-11-22", freq="D")
    rng = np.random.default_rng(0)
    terms = ["PyTorch", "TensorFlow", "JAX", "Keras", "MXNet"]
    lines = ["Category: All categories", "", "Day," + ",".join(f"{t}: (Worldwide)" for t in terms)]
    for day in days:
        cells = [str(int(v)) if v >= 1 else "<1" for v in rng.uniform(0, 100, len(terms)) * rng.uniform(0, 1, len(terms))]
        lines.append(f"{day:%Y-%m-%d}," + ",".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def bench_import(tmp: Path) -> tuple[list[float], list[float], int]:
    csv_file = daily_csv(tmp / "daily.csv")
    parse = timed(lambda: trends_csv.read_file(csv_file), IMPORT_RUNS)
    template = tmp / "template.duckdb"
    snapshot.run(template)
    times = []
    for i in range(IMPORT_RUNS):
        target = tmp / f"import{i}.duckdb"
        target.write_bytes(template.read_bytes())
        start = time.perf_counter()
        run = trends_csv.run(target, [csv_file])
        times.append(time.perf_counter() - start)
    return parse, times, run.rows


def thirteen_framework_db(tmp: Path) -> Path:
    path = tmp / "page.duckdb"
    snapshot.run(path)
    ids = trends_store.trend_frameworks()
    terms = [registry_term(i) for i in ids]
    truth = synthetic_truth(len(terms), seed=3)
    truth.columns = terms
    batches, anchor = fetch_like_google(truth)
    stitched = trends_scale.stitch(batches, anchor)
    frame = trends_store.rows(stitched.values, stitched.below_one, source="trends", term_ids=dict(zip(terms, ids, strict=True)),
                              variant=trends_store.variant_for("", "today 5-y", ids), citation="synthetic benchmark data",
                              raw_file="", detail={"route": "pytrends", "geo": "world", "timeframe": "today 5-y"})
    with db.write_session(path) as con:
        trends_store.replace_variant(con, frame, "bench")
    return path


def registry_term(fid: str) -> str:
    from pulse import registry

    return registry.get(fid).trends[0]


def bench_page(path: Path) -> tuple[float, float, float]:
    from streamlit.testing.v1 import AppTest

    os.environ["PULSE_DB"] = str(path)
    at = AppTest.from_file(str(ROOT / "app_pages" / "trends.py"), default_timeout=120)
    start = time.perf_counter()
    at.run()
    cold = time.perf_counter() - start
    assert not at.exception and len(at.get("plotly_chart")) == 2
    warm = []
    for _ in range(WARM_RUNS):
        start = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - start)
    warm.sort()
    return cold, statistics.median(warm), warm[int(0.9 * (len(warm) - 1))]


def main() -> None:
    cpu = subprocess.run(["sh", "-c", "lscpu | grep 'Model name' | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["PULSE_RAW_DIR"] = str(tmp / "raw")
        stitch = bench_stitch()
        acc = accuracy()
        parse, imports, rows = bench_import(tmp)
        cold, warm, p90 = bench_page(thirteen_framework_db(tmp))
    print(f"{store.utcnow():%Y-%m-%d}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, load average {load:.1f}.\n")
    print("| what | median | min | max |\n|---|---|---|---|")
    print(f"| stitch 13 terms x 260 weeks (3 batches) | {stats(stitch)} |")
    print(f"| parse a 5-year daily CSV (1,827 rows x 5 terms) | {stats(parse)} |")
    print(f"| import it into a snapshot database ({rows:,} rows, staged write) | {stats(imports)} |")
    print(f"\nTrends page (AppTest, 13 frameworks x 260 weeks): cold {cold * 1000:.0f} ms, warm median {warm * 1000:.0f} ms, warm p90 {p90 * 1000:.0f} ms.\n")
    print("Stitching accuracy against synthetic truth (common scale, max = 100; 20 seeds each):\n")
    print("| terms | requests | median abs error | worst abs error |\n|---|---|---|---|")
    for n, requests, typical, worst in acc:
        print(f"| {n} | {requests} | {typical:.3f} | {worst:.3f} |")


if __name__ == "__main__":
    main()
