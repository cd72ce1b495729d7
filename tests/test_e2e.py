"""End to end: the real server (`streamlit run app.py`) and every page in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pulse import config

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("PULSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def _pages() -> list[tuple[str, str]]:
    """(url_path, title) of every page the router declares."""
    source = (config.PROJECT_ROOT / "app.py").read_text()
    return re.findall(r'st\.Page\([^)]*?title="([^"]+)"[^)]*?url_path="([^"]+)"', source)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` (the e2e test needs it).")
    from ingest import snapshot

    db = tmp_path_factory.mktemp("e2e") / "pulse.duckdb"
    snapshot.run(db)
    port = _free_port()
    env = dict(os.environ, PULSE_DB=str(db), PYTHONPATH=str(config.PROJECT_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=config.PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start: {proc.stdout.read()[-2000:]}")
        time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def test_router_declares_the_skeleton_pages():
    paths = {path for _, path in _pages()}
    assert {"overview", "github", "claims", "data"} <= paths


# Raw missing values or scientific notation anywhere a person reads: text, tables, hovers.
RAW = re.compile(r"\b(None|nan|NaN|NaT|undefined|null)\b|\d\.?\d*e[+-]\d+")
# Everything on the page a reader sees: text, every table's cells (glide grid keeps them in an
# accessible table), and the hover text, labels and tick labels of every chart.
PAGE_TEXT = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const parts = [main.innerText];
  for (const grid of document.querySelectorAll('[data-testid="stDataFrame"]')) parts.push(grid.textContent);
  for (const el of document.querySelectorAll('.js-plotly-plot')) {
    for (const t of el.data || []) {
      for (const key of ['text', 'hovertext', 'name']) if (t[key] != null) parts.push(String(t[key]));
      if (t.customdata) parts.push(JSON.stringify(t.customdata).replace(/null/g, '""'));
    }
    for (const tick of el.querySelectorAll('.xtick text, .ytick text, .legendtext, .annotation-text')) parts.push(tick.textContent);
  }
  return parts.join('\\n');
}"""
CHARTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(el => ({
  points: (el._fullData || []).reduce((n, t) => n + (t._length || 0), 0),
  paper: el._fullLayout.paper_bgcolor,
}))"""


def _luminance(css: str) -> float:
    """Relative luminance (0 black .. 1 white) of '#rrggbb' or 'rgb(r, g, b)'."""
    css = css.strip()
    if css.startswith("#"):
        rgb = [int(css[i:i + 2], 16) for i in (1, 3, 5)]
    else:
        rgb = [int(float(v)) for v in re.findall(r"[\d.]+", css)[:3]]
    return (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255


def _open(browser, server, path, scheme="light", width=1400):
    context = browser.new_context(viewport={"width": width, "height": 1000}, color_scheme=scheme)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The default page answers at the root; its url_path is only a name.
    page.goto(f"{server}/{'' if path == 'overview' else path}", wait_until="domcontentloaded")
    # The first load after a server start can render blank: wait for the title text.
    page.locator("h1").first.wait_for(state="visible", timeout=60_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    # Streamlit draws a page piece by piece: wait until nothing runs and the page stops changing,
    # then until every chart element holds a drawn plot.
    settled, last = 0, None
    deadline = time.monotonic() + 60
    while settled < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(400)
        now = page.evaluate("() => [document.querySelector('[data-testid=\"stStatusWidget\"]') ? 'running' : '',"
                            " document.querySelectorAll('[data-testid=\"stMain\"] *').length,"
                            " document.querySelector('[data-testid=\"stMain\"]').innerText.length].join()")
        settled = settled + 1 if now == last and not now.startswith("running") else 0
        last = now
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
                           ".every(c => c.querySelector('.js-plotly-plot .main-svg'))", timeout=60_000)
    return context, page, errors


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("title,path", _pages())
def test_page_renders_without_exception(server, browser, title, path, scheme, tmp_path):
    """Every page, light and dark, on a fresh snapshot database: no exception, no empty chart, data or one card,
    no raw None/nan/NaT and no scientific notation, download buttons only under charts, the theme applied."""
    context, page, errors = _open(browser, server, path, scheme)
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()
    assert not errors, errors
    assert page.get_by_text("Page not found").count() == 0

    charts = page.evaluate(CHARTS)
    cards = page.get_by_text("no data yet.").count()
    tables = page.locator('[data-testid="stDataFrame"], [data-testid="stMetric"]').count()
    assert charts or tables or cards == 1, f"{path}: neither data nor one empty-state card"
    assert page.locator('[data-testid="stPlotlyChart"]').count() == len(charts)
    assert all(c["points"] > 0 for c in charts), f"{path}: an empty chart frame {charts}"
    # PNG SVG PDF HTML CSV under each catalogued chart (drawn under key "chart_..."); the Claims page's
    # small evidence charts beside each verdict are not catalogue charts and carry no downloads.
    catalogued = page.locator('[class*="st-key-chart_"] [data-testid="stPlotlyChart"], [data-testid="stPlotlyChart"][class*="st-key-chart_"]').count()
    assert catalogued == len(charts) or path == "claims", (catalogued, len(charts))
    assert page.locator('[data-testid="stDownloadButton"]').count() == 5 * catalogued
    text = page.evaluate(PAGE_TEXT)
    raw = sorted({m.group(0) for m in RAW.finditer(text)})
    assert not raw, f"{path} ({scheme}): raw values {raw}"

    background = page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=\"stApp\"]')).backgroundColor")
    dark = _luminance(background) < 0.3
    assert dark == (scheme == "dark"), f"{path}: background {background} in {scheme} mode"
    for chart in charts:  # each chart drawn on the page's own background, readable in both themes
        assert (_luminance(chart["paper"]) < 0.3) == dark, chart
    if path == "overview" and scheme == "light":
        page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=60_000)
        assert page.get_by_text("Framework Pulse", exact=True).first.is_visible()
        shot = tmp_path / "overview.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 10_000
        if os.environ.get("PULSE_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, config.PROJECT_ROOT / "docs" / "screenshot.png")
    context.close()


def test_phone_width_log_axis_and_toolbar(server, browser):
    """At 390 px the legend stays clear of any title; a log axis reads '200k', not '2'; no plotly image download."""
    context, page, _ = _open(browser, server, "github?frameworks=pytorch,tensorflow,jax,keras&log=1", width=390)
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for(state="visible", timeout=60_000)
    assert "".join(plot.locator(".gtitle").all_text_contents()).strip() == ""  # the page names the chart above it
    legend = plot.locator(".legend").bounding_box()
    area = plot.locator(".nsewdrag").first.bounding_box()
    assert legend["y"] + legend["height"] <= area["y"] + 1, (legend, area)
    ticks = [t.strip() for t in plot.locator(".ytick text").all_text_contents()]
    assert "200k" in ticks and not any(re.fullmatch(r"[1-9]", t) for t in ticks), ticks
    plot.hover()
    assert page.locator('.modebar-btn[data-title*="png"]').count() == 0
    context.close()


def test_shared_link_restores_view(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/github?frameworks=pytorch,jax&view=indexed&log=1", wait_until="domcontentloaded")
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=60_000)
    legend = page.locator(".js-plotly-plot .legendtext").all_text_contents()
    assert legend == ["PyTorch", "JAX"]
    assert "view=indexed" in page.url and "log=1" in page.url
    page.close()
