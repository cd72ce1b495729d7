"""The dashboard's export affordances in show_chart, through Streamlit's AppTest."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from streamlit.delta_generator import DeltaGenerator
from streamlit.testing.v1 import AppTest

from analytics import export, render
from tests import export_helpers as h

PAGE = str(Path(__file__).parent / "fixtures" / "apps" / "export_page.py")


@pytest.fixture
def captured(monkeypatch):
    """Record each download button's deferred data callable (Streamlit runs it on click)."""
    calls: dict[str, object] = {}
    original = DeltaGenerator.download_button

    def spy(self, label, data, *args, **kwargs):
        calls[label] = data
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", spy)
    return calls


def run_page(monkeypatch, db, **params):
    monkeypatch.setenv("PULSE_DB", str(db))
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def buttons(at):
    return {b.proto.label: b.proto for b in at.get("download_button")}


def test_downloads_are_deferred_and_record_the_view(monkeypatch, snapshot_db, captured):
    at = run_page(monkeypatch, snapshot_db, frameworks="pytorch,jax", view="share", log="1", start="2021-01-01")
    drawn = at.get("plotly_chart")
    assert len(drawn) == 1
    assert [t["name"] for t in json.loads(drawn[0].proto.spec)["data"]] == ["PyTorch", "JAX"]
    found = buttons(at)
    assert list(found) == ["PNG", "SVG", "PDF", "HTML", "CSV"]
    # Nothing is rendered while the page draws: every button holds a callable run on click.
    assert all(proto.deferred_file_id for proto in found.values())
    assert all(callable(captured[label]) for label in found)
    header, frame = export.read_csv(io.StringIO(captured["CSV"]().decode()))
    assert set(frame["framework"]) == {"pytorch", "jax"}
    assert any("Transform: share of the chosen total, log scale" in line for line in header)
    assert any("frameworks=pytorch,jax" in line and "view=share" in line for line in header)
    assert b"Plotly.newPlot" in captured["HTML"]()
    link = [c.value for c in at.get("code")]
    assert any("frameworks=pytorch%2Cjax" in v or "frameworks=pytorch,jax" in v for v in link), link


@pytest.mark.skipif(render.chromium_path() is None, reason="needs Chromium")
def test_image_download_renders_on_click(monkeypatch, snapshot_db, captured):
    run_page(monkeypatch, snapshot_db)
    assert h.png_size(captured["PNG"]()) == (2200, 1300)
    assert h.pdf_pages(captured["PDF"]()) == 1


def test_without_chromium_images_are_off_with_install_advice(monkeypatch, snapshot_db, captured, tmp_path):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "missing"))
    at = run_page(monkeypatch, snapshot_db)
    found = buttons(at)
    assert all(found[f].disabled for f in ("PNG", "SVG", "PDF"))
    assert not found["HTML"].disabled and not found["CSV"].disabled
    assert any("apt-get install -y chromium" in c.value for c in at.caption)
    assert captured["CSV"]().startswith(b"# Framework Pulse export")
