"""Benchmark the walking skeleton: snapshot build, warm page run times, server start to first chart.

Config: 5 snapshot builds; each page run 1x cold then 10x warm with AppTest (server-side script
time, as Streamlit runs it); 3 server starts measured from `streamlit run` to the Overview's
first plotly chart visible in headless Chromium. Then the same page timings on a database that
also holds SYNTHETIC Trends (13 terms x 5 years), Papers with Code (a 1/10-size archive) and
probe rows (12 runs), because the snapshot has none of those and their pages would only draw
their "no data yet" state. Prints Markdown tables for docs/benchmarks.md.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest import snapshot  # noqa: E402
from tests.test_e2e import CHROMIUM, CHROMIUM_ARGS, _free_port, _pages  # noqa: E402


def bench_build(n: int = 5) -> list[float]:
    times = []
    for _ in range(n):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            snapshot.run(Path(tmp) / "pulse.duckdb")
            times.append(time.perf_counter() - start)
    return times


def bench_pages(db: Path, warm_runs: int = 10) -> dict[str, tuple[float, float, float]]:
    from streamlit.testing.v1 import AppTest

    os.environ["PULSE_DB"] = str(db)
    out = {}
    for title, path in _pages():
        script = str(ROOT / "app_pages" / f"{path}.py")
        at = AppTest.from_file(script, default_timeout=120)
        start = time.perf_counter()
        at.run()
        cold = time.perf_counter() - start
        warm = []
        for _ in range(warm_runs):
            start = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - start)
        warm.sort()
        out[title] = (cold, statistics.median(warm), warm[int(0.9 * (len(warm) - 1))])
    return out


def bench_first_chart(db: Path, n: int = 3) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(n):
            port = _free_port()
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"],
                cwd=ROOT, env=dict(os.environ, PULSE_DB=str(db), PYTHONPATH=str(ROOT)),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            page = browser.new_page()
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded", timeout=2000)
                    break
                except Exception:
                    time.sleep(0.05)
            page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=120_000)
            times.append(time.perf_counter() - start)
            page.close()
            proc.terminate()
            proc.wait(10)
        browser.close()
    return times


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def synthetic_db(tmp: Path) -> Path:
    """Snapshot + synthetic Trends, Papers with Code and probe data, through the real ingest code."""
    from bench.paperswithcode import make_files
    from bench.trends import thirteen_framework_db
    from ingest import paperswithcode, probe
    from tests import probe_synthetic

    db = thirteen_framework_db(tmp)
    archive = tmp / "pwc"
    make_files(archive, 30_016, 57_600)
    os.environ["PULSE_RAW_DIR"] = str(tmp / "raw")
    paperswithcode.run(db, from_dir=archive)
    results = tmp / "probe"
    for day in range(1, 13):
        doc = probe_synthetic.make_doc(run_id=f"synth{day:07d}", started_at=f"2026-11-{day:02d}T10:00:00Z", scale=1 + day / 50)
        probe_synthetic.write(results, doc)
    probe.run(db, results)
    return db


def print_pages(pages: dict[str, tuple[float, float, float]]) -> None:
    print("\n| page | cold run | warm median | warm p90 |\n|---|---|---|---|")
    for title, (cold, med, p90) in pages.items():
        print(f"| {title} | {cold*1000:.0f} ms | {med*1000:.0f} ms | {p90*1000:.0f} ms |")


def main() -> None:
    machine = f"{_cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    builds = bench_build()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "pulse.duckdb"
        snapshot.run(db)
        pages = bench_pages(db)
        first = bench_first_chart(db)
        loaded = bench_pages(synthetic_db(Path(tmp)))
    print(f"Machine: {machine}; date: {time.strftime('%Y-%m-%d')}\n")
    print("| what | median | min | max |\n|---|---|---|---|")
    print(f"| build database from snapshot | {statistics.median(builds)*1000:.0f} ms | {min(builds)*1000:.0f} ms | {max(builds)*1000:.0f} ms |")
    print(f"| server start to Overview's first chart in Chromium | {statistics.median(first):.2f} s | {min(first):.2f} s | {max(first):.2f} s |")
    print_pages(pages)
    print("\nWith synthetic Trends, Papers with Code and probe data loaded:")
    print_pages(loaded)


if __name__ == "__main__":
    main()
