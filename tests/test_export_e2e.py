"""End to end: a real Streamlit server, headless Chromium clicks the download buttons."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics import export, render
from tests import export_helpers as h

CHROMIUM = "/usr/bin/chromium"
PAGE = Path(__file__).parent / "fixtures" / "apps" / "export_page.py"
ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.e2e, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists() or render.chromium_path() is None, reason=f"needs {CHROMIUM}")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(snapshot_db, tmp_path):
    port = free_port()
    env = dict(os.environ, PULSE_DB=str(snapshot_db), PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(PAGE), "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=open(tmp_path / "server.log", "w"), stderr=subprocess.STDOUT,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_downloads_from_the_running_dashboard(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(accept_downloads=True)
            page.goto(f"{server}/?frameworks=pytorch,keras&view=indexed", timeout=60_000)
            page.get_by_role("button", name="CSV").wait_for(timeout=60_000)
            files = {}
            for label in ("CSV", "PNG"):
                with page.expect_download(timeout=60_000) as info:
                    page.get_by_test_id("stHorizontalBlock").get_by_role("button", name=label).click()
                target = tmp_path / info.value.suggested_filename
                info.value.save_as(target)
                files[label] = target
        finally:
            browser.close()
    header, frame = export.read_csv(files["CSV"])
    assert files["CSV"].name.startswith("github-stars-") and set(frame["framework"]) == {"pytorch", "keras"}
    assert any("view=indexed" in line for line in header)
    assert any(line.startswith("Exported") and server in line for line in header), "the link is the dashboard's URL"
    assert h.png_size(files["PNG"].read_bytes()) == (2200, 1300)
