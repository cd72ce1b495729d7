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


@pytest.mark.parametrize("title,path", _pages())
def test_page_renders_without_exception(server, browser, title, path, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # The default page answers at the root; its url_path is only a name.
    page.goto(f"{server}/{'' if path == 'overview' else path}", wait_until="domcontentloaded")
    # The first load after a server start can render blank: wait for the title text.
    page.locator("h1").first.wait_for(state="visible", timeout=60_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    exceptions = page.locator('[data-testid="stException"]')
    assert exceptions.count() == 0, exceptions.first.inner_text()
    assert not errors, errors
    assert page.get_by_text("Page not found").count() == 0
    if path == "overview":
        page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=60_000)
        assert page.get_by_text("Framework Pulse", exact=True).first.is_visible()
        shot = tmp_path / "overview.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 10_000
        if os.environ.get("PULSE_UPDATE_SCREENSHOT") == "1":
            shutil.copyfile(shot, config.PROJECT_ROOT / "docs" / "screenshot.png")
    page.close()


def test_shared_link_restores_view(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/github?frameworks=pytorch,jax&view=indexed&log=1", wait_until="domcontentloaded")
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=60_000)
    legend = page.locator(".js-plotly-plot .legendtext").all_text_contents()
    assert legend == ["PyTorch", "JAX"]
    assert "view=indexed" in page.url and "log=1" in page.url
    page.close()
