"""Helpers for the export tests: file-format checks without extra dependencies, and a test chart."""

from __future__ import annotations

import re
import struct
import zlib
from xml.etree import ElementTree

import pandas as pd
import pytest
import plotly.graph_objects as go

from analytics import charts, render
from analytics.charts import ChartOptions, ChartResult
from pulse import db, registry

TEST_CHART = "test-synthetic-bars"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def png_first_pixel(data: bytes) -> tuple[int, ...]:
    """RGB of the top-left pixel (the first pixel of a scanline is stored raw for every filter)."""
    pos, idat = 8, b""
    width, height = png_size(data)
    bit_depth, colour_type = data[24], data[25]
    assert bit_depth == 8 and colour_type in (2, 6)
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return tuple(raw[1:4])


def svg_size(data: bytes) -> tuple[float, float]:
    root = ElementTree.fromstring(data)
    assert root.tag.endswith("svg")
    return float(root.get("width")), float(root.get("height"))


def svg_text(data: bytes) -> str:
    root = ElementTree.fromstring(data)
    return " ".join(t for t in root.itertext())


def pdf_pages(data: bytes) -> int:
    """Page count from the page tree (Chromium writes uncompressed page objects)."""
    assert data[:5] == b"%PDF-", "not a PDF"
    assert data.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
    counts = [int(n) for n in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", data)] + [
        int(n) for n in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", data)]
    if counts:
        assert max(counts) == pages, f"page tree says {max(counts)}, found {pages} page objects"
    return pages


def synthetic_chart(con, options: ChartOptions) -> ChartResult:
    """A test-only chart: synthetic numbers (not data), one bar per chosen framework."""
    frame = pd.DataFrame({
        "framework": options.frameworks,
        "value": [float(10 * (i + 1)) for i in range(len(options.frameworks))],
        "date": pd.Timestamp("2024-01-31"),
    })
    fig = go.Figure(go.Bar(x=[registry.display_name(f) for f in frame["framework"]], y=frame["value"],
                           marker={"color": [charts.color(f) for f in frame["framework"]]}, name="synthetic"))
    charts.style(fig, "Synthetic bars", options, "synthetic units")
    return ChartResult(fig, frame, "Synthetic bars", ["synthetic test data"], "2024-01-31", options.transform_label(),
                       ["Synthetic: made up for the export tests."])


# Shared by the export tests (CI installs Chromium, so these run there).
needs_chromium = pytest.mark.skipif(render.chromium_path() is None, reason="needs Chromium (apt-get install -y chromium)")


@pytest.fixture
def test_chart():
    """Register a test-only chart beside the real ones; exports must handle any catalogue entry."""
    charts.catalog()
    charts.chart(TEST_CHART, "Synthetic bars (test)", page="test")(synthetic_chart)
    yield TEST_CHART
    charts.CHARTS.pop(TEST_CHART, None)


@pytest.fixture
def con(snapshot_db):
    """A read connection on the snapshot database."""
    connection = db.open_read(snapshot_db)
    yield connection
    connection.close()
