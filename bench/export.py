"""Benchmark: chart exports in one process with one warm Chromium, and report generation.

Config (top of file): the charts are every chart in the catalogue, built from a database made
from the embedded snapshot, plus SYNTHETIC_CHARTS synthetic line charts (made-up numbers,
named "synthetic") so that "several charts" holds before the other sources land.
Measures: time to the first image in a fresh process (Chromium start included; goal < 5 s),
each next image per format (goal < 0.5 s), Chromium restarts, HTML/CSV, and `pulse report`
as HTML and PDF. Reports median and spread (min..max) over REPEATS, and the environment.

    python bench/export.py            # prints a Markdown table
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

T0 = time.perf_counter()  # before importing plotly/kaleido: the first image pays for them too

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402

from analytics import charts, export, render, report  # noqa: E402
from analytics.charts import ChartOptions, ChartResult  # noqa: E402
from pulse import db, registry  # noqa: E402

SYNTHETIC_CHARTS = 5
POINTS = 400  # per framework per synthetic chart
REPEATS = 5
FORMATS = ("png", "svg", "pdf")


def synthetic_builder(seed: int):
    def build(con, options: ChartOptions) -> ChartResult:
        rng = np.random.default_rng(seed)
        dates = pd.date_range("2018-01-01", periods=POINTS, freq="W")
        fig, rows = go.Figure(), []
        for fid in options.frameworks:
            values = np.cumsum(rng.uniform(0, 10, POINTS))
            fig.add_trace(go.Scatter(x=dates, y=values, name=registry.display_name(fid), line={"color": charts.color(fid)}))
            rows.append(pd.DataFrame({"date": dates, "framework": fid, "value": values}))
        charts.style(fig, f"Synthetic chart {seed}", options, "synthetic units")
        return ChartResult(fig, pd.concat(rows), f"Synthetic chart {seed}", ["synthetic benchmark data"], "2025-08-31",
                           options.transform_label(), ["Synthetic: made up for the benchmark."])

    return build


def environment() -> dict[str, str]:
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""

    model = next((line.split(":", 1)[1].strip() for line in run(["lscpu"]).splitlines() if line.startswith("Model name")), "?")
    from importlib.metadata import version

    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{model}, {run(['nproc']).strip()} cores (shared sandbox)",
        "python": platform.python_version(),
        "chromium": run([render.chromium_path() or "chromium", "--version"]).strip().splitlines()[-1:][0] if render.chromium_path() else "missing",
        "kaleido": version("kaleido"), "plotly": version("plotly"),
        "load average at the end (1/5/15 min)": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def stats(samples: list[float]) -> str:
    return f"{statistics.median(samples):.3f} s ({min(samples):.3f}..{max(samples):.3f}, n={len(samples)})"


def main() -> None:
    from ingest import snapshot

    tmp = Path(tempfile.mkdtemp(prefix="pulse-bench-export-"))
    path = tmp / "bench.duckdb"
    snapshot.run(path)
    for i in range(SYNTHETIC_CHARTS):
        charts.catalog()
        charts.chart(f"synthetic-{i}", f"Synthetic {i}", page="bench")(synthetic_builder(i))
    con = db.open_read(path)
    options = ChartOptions()
    names = list(charts.catalog())
    results = {name: export.build(name, con, options) for name in names}

    rows: list[tuple[str, str]] = []
    t = time.perf_counter()
    export.to_png(results[names[0]], options, names[0])
    first = time.perf_counter() - t
    rows.append(("First PNG in the process (Chromium start + kaleido import + render)", f"{first:.3f} s (+{t - T0:.2f} s imports and chart builds before it)"))

    for fmt in FORMATS:
        samples = []
        for _ in range(REPEATS):
            for name in names:
                t = time.perf_counter()
                export.to_image(results[name], options, fmt, name)
                samples.append(time.perf_counter() - t)
        rows.append((f"Each next {fmt.upper()} (warm Chromium, {len(names)} charts x {REPEATS})", stats(samples)))
    assert render.BROWSER.starts == 1, "more than one Chromium started"

    for fmt in ("html", "csv"):
        samples = []
        for name in names:
            t = time.perf_counter()
            export.export(results[name], options, fmt, name)
            samples.append(time.perf_counter() - t)
        rows.append((f"{fmt.upper()} export (no browser)", stats(samples)))

    restarts = []
    for _ in range(3):
        render.BROWSER.stop()
        t = time.perf_counter()
        export.to_png(results[names[0]], options, names[0])
        restarts.append(time.perf_counter() - t)
    rows.append(("First PNG after a Chromium restart (imports warm)", stats(restarts)))

    for fmt in ("html", "pdf"):
        samples = []
        for _ in range(3):
            t = time.perf_counter()
            content, built = report.render_report(con, options, fmt)
            samples.append(time.perf_counter() - t)
        rows.append((f"Report {fmt.upper()}: {len(built.charts)} charts + {built.claims} claims ({len(content) / 1e6:.1f} MB)", stats(samples)))
    con.close()
    render.BROWSER.stop()

    env = environment()
    print("| Measurement | Time: median (min..max, n) |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    print()
    for key, value in env.items():
        print(f"- {key}: {value}")


if __name__ == "__main__":
    main()
