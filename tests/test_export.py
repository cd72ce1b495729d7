"""Exports of catalogued charts: valid files, exactly the plotted data, provenance, themes, errors.

Image tests drive the real kaleido + Debian Chromium (/usr/bin/chromium); one warm browser
serves the whole test session, as it would serve a Streamlit server or a report run.
"""

from __future__ import annotations

import io
import json
import os
import re

import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics import charts, export, render
from analytics.charts import ChartOptions
from tests import export_helpers as h
from tests.export_helpers import con, needs_chromium, test_chart  # noqa: F401  (shared fixtures)





def all_charts():
    return list(charts.catalog())


# --- CSV: exactly the plotted data --------------------------------------------------------

@pytest.mark.parametrize("view", ["absolute", "share", "indexed", "aligned", "monthly"])
def test_csv_is_exactly_the_plotted_data(con, view):
    options = ChartOptions(frameworks=["pytorch", "tensorflow"], view=view, log=view == "indexed")
    result = export.build("github-stars", con, options)
    assert not result.data.empty
    header, frame = export.read_csv(io.StringIO(export.to_csv(result, options, "github-stars")))
    expected = result.data.copy()
    for column in expected.columns:
        if pd.api.types.is_datetime64_any_dtype(expected[column]):
            frame[column] = pd.to_datetime(frame[column])
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)
    # ...and the plotted traces hold the same numbers (gap rows are NaN breaks, not data).
    plotted = sorted(v for trace in result.figure.data for v in trace.y if v == v)
    assert plotted == pytest.approx(sorted(expected["value"].tolist()))
    text = "\n".join(header)
    assert f"Transform: {options.transform_label()}" in text
    assert "Source: Embedded snapshot (EvanLi/Github-Ranking)" in text
    assert f"As of: {result.as_of}" in text
    assert f"view={view}" in text and "frameworks=pytorch,tensorflow" in text


def test_csv_header_names_transform_and_view_link(con):
    options = ChartOptions(frameworks=["jax", "keras"], view="share", log=True, extra={"variant": "monthly"})
    result = export.build("github-stars", con, options)
    header, _ = export.read_csv(io.StringIO(export.to_csv(result, options, "github-stars")))
    assert any("Transform: share of the chosen total, log scale" in line for line in header)
    link = next(line for line in header if line.startswith("Exported"))
    assert "/github?frameworks=jax,keras&view=share&log=1&variant=monthly" in link


def test_default_page_link_opens_the_root_not_page_not_found(con):
    """Streamlit serves the default page at '/' and ignores its url_path: '/overview' would open 'Page not found'."""
    import ast

    from pulse.config import PROJECT_ROOT

    tree = ast.parse((PROJECT_ROOT / "app.py").read_text())
    pages = {kw.arg: kw.value for call in ast.walk(tree) if isinstance(call, ast.Call)
             and getattr(call.func, "attr", "") == "Page" for kw in call.keywords
             if any(k.arg == "default" for k in call.keywords)}
    assert ast.literal_eval(pages["url_path"]) == export.ROOT_PAGE
    assert export.catalog()["overview-stars-share"].page == export.ROOT_PAGE
    options = ChartOptions(frameworks=["pytorch"])
    result = export.build("overview-stars-share", con, options)
    header, _ = export.read_csv(io.StringIO(export.to_csv(result, options, "overview-stars-share")))
    link = next(line for line in header if line.startswith("Exported"))
    assert " · /?frameworks=pytorch" in link and "/overview" not in link
    assert export.page_path("github") == "/github"


def test_csv_sidecar_is_plain_csv(con, tmp_path):
    options = ChartOptions()
    result = export.build("github-stars", con, options)
    plain = export.to_csv(result, options, "github-stars", header=False)
    assert not plain.startswith("#")
    assert pd.read_csv(io.StringIO(plain)).shape == result.data.shape
    side = json.loads(export.sidecar_text(result, options, "github-stars"))
    assert side["as_of"] == result.as_of and side["view"]["frameworks"] == options.frameworks


def test_every_catalogue_chart_exports_html_and_csv(con, test_chart):
    assert test_chart in all_charts() and "github-stars" in all_charts()
    for name in all_charts():
        options = ChartOptions()
        result = export.build(name, con, options)
        page = export.to_html(result, options, name)
        assert "Plotly.newPlot" in page and result.title in page
        _, frame = export.read_csv(io.StringIO(export.to_csv(result, options, name)))
        assert len(frame) == len(result.data)


# --- HTML ---------------------------------------------------------------------------------

def test_html_is_self_contained_with_provenance(con):
    options = ChartOptions(theme="dark", view="indexed")
    result = export.build("github-stars", con, options)
    page = export.to_html(result, options, "github-stars")
    assert not re.search(r"<script[^>]+src=", page), "plotly.js must be inlined, not fetched"
    assert "src=\"https://cdn.plot.ly" not in page
    assert len(page) > 3_000_000  # plotly.js itself is inlined
    meta = json.loads(re.search(r'<script type="application/json" id="pulse-provenance">(.*?)</script>', page, re.S).group(1))
    assert meta["chart"] == "github-stars" and meta["view"]["view"] == "indexed" and meta["view"]["theme"] == "dark"
    assert meta["sources"] == result.sources and meta["as_of"] == result.as_of
    assert page.startswith("<!DOCTYPE html>\n<!--\nSource: ")
    assert '<body class="dark">' in page


# --- Images -------------------------------------------------------------------------------

@needs_chromium
def test_png_svg_pdf_are_valid_and_carry_the_footer(con):
    options = ChartOptions(view="share", log=True)
    result = export.build("github-stars", con, options)
    png = export.to_png(result, options, "github-stars")
    assert h.png_size(png) == (export.WIDTH * export.PNG_SCALE, export.HEIGHT * export.PNG_SCALE)
    svg = export.to_svg(result, options, "github-stars")
    assert h.svg_size(svg) == (export.WIDTH, export.HEIGHT)
    text = h.svg_text(svg)
    assert "Source: Embedded snapshot (EvanLi/Github-Ranking)" in text
    assert "Transform: share of the chosen total, log scale" in text
    assert f"As of: {result.as_of}" in text
    pdf = export.to_pdf(result, options, "github-stars")
    assert h.pdf_pages(pdf) == 1


@needs_chromium
def test_themes_change_the_background(con):
    light = export.build("github-stars", con, ChartOptions(theme="light"))
    dark = export.build("github-stars", con, ChartOptions(theme="dark"))
    assert h.png_first_pixel(export.to_png(light, ChartOptions(theme="light"))) == (255, 255, 255)
    assert max(h.png_first_pixel(export.to_png(dark, ChartOptions(theme="dark")))) < 40


@needs_chromium
def test_one_warm_chromium_serves_every_image(con, test_chart):
    render.BROWSER.stop()
    before = render.BROWSER.starts
    for name in all_charts():
        result = export.build(name, con, ChartOptions())
        for fmt in render.IMAGE_FORMATS:
            assert export.to_image(result, ChartOptions(), fmt, name)
    assert render.BROWSER.starts == before + 1
    assert render.BROWSER.running


def test_footer_wraps_long_provenance(con):
    options = ChartOptions()
    result = export.build("github-stars", con, options)
    result.sources = ["a very long source name " * 12]
    fig = export.with_footer(result, export.provenance(result, options, "github-stars"))
    footer = [a for a in fig.layout.annotations if a.name == "pulse-provenance"][0]
    assert all(len(line) < 200 for line in footer.text.split("<br>"))
    assert fig.layout.margin.b > 100
    assert result.figure.layout.margin.b == 50, "the page's figure must not be changed by an export"


# --- Without Chromium -----------------------------------------------------------------------

def test_without_chromium_images_explain_and_html_csv_work(con, monkeypatch, tmp_path):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-chromium-here"))
    assert render.chromium_path() is None
    options = ChartOptions()
    result = export.build("github-stars", con, options)
    for fmt in render.IMAGE_FORMATS:
        with pytest.raises(render.ChromiumMissing) as err:
            export.export(result, options, fmt, "github-stars")
        assert "apt-get install -y chromium" in str(err.value)
        assert str(tmp_path / "no-chromium-here") in str(err.value)
    assert export.export(result, options, "html").startswith(b"<!DOCTYPE html>")
    assert b"# Source:" in export.export(result, options, "csv")


def test_browser_path_override_is_honoured(monkeypatch):
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("no /usr/bin/chromium")
    monkeypatch.setenv("BROWSER_PATH", "/usr/bin/chromium")
    assert render.chromium_path() == "/usr/bin/chromium"
    monkeypatch.delenv("BROWSER_PATH")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(render, "_is_exe", lambda p: False)
    assert render.chromium_path() is None


# --- Output paths and names ---------------------------------------------------------------

def test_write_is_atomic_and_checks_the_path(tmp_path):
    target = tmp_path / "out.csv"
    export.write(target, "a,b\n1,2\n")
    assert target.read_text() == "a,b\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"], "no temp files left behind"
    with pytest.raises(export.ExportError, match="directory '.*missing' does not exist.*mkdir -p"):
        export.write(tmp_path / "missing" / "out.png", b"x")
    with pytest.raises(export.ExportError, match="is a file, not a directory|is not a directory"):
        export.write(target / "out.png", b"x")
    with pytest.raises(export.ExportError, match="it is a directory"):
        export.write(tmp_path, b"x")
    # Root ignores permission bits, so use a directory no one can create files in.
    with pytest.raises(export.ExportError, match="cannot create a file in '/proc'"):
        export.write(__import__("pathlib").Path("/proc/pulse-export.csv"), b"x")


def test_unknown_chart_suggests_the_closest():
    with pytest.raises(export.UnknownChart, match="Did you mean 'github-stars'"):
        export.spec("github-star")


def test_parse_extra_types_values():
    assert export.parse_extra(["n=3", "ratio=0.5", "flag=true", "name=monthly"]) == {"n": 3, "ratio": 0.5, "flag": True, "name": "monthly"}
    with pytest.raises(export.ExportError, match="KEY=VALUE"):
        export.parse_extra(["novalue"])


def test_format_from_suffix(tmp_path):
    assert export.format_for(tmp_path / "a.SVG", None) == "svg"
    assert export.format_for(tmp_path / "a.txt", "csv") == "csv"
    with pytest.raises(export.ExportError, match="--format"):
        export.format_for(tmp_path / "a.txt", None)


def test_export_modules_do_not_import_streamlit():
    import subprocess
    import sys

    code = ("import sys, analytics.export, analytics.report, analytics.render, analytics.palette, pulse.commands.export; "
            "print('streamlit' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=__import__("pulse").config.PROJECT_ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_without_kaleido_images_say_how_to_install(con, monkeypatch):
    monkeypatch.setattr(render, "kaleido_installed", lambda: False)
    options = ChartOptions()
    result = export.build("github-stars", con, options)
    with pytest.raises(export.ExportError, match=r"kaleido package is not installed.*framework-pulse\[export\]"):
        export.to_png(result, options)
    assert "kaleido" in render.unavailable_reason()
    assert export.to_csv(result, options).startswith("# Framework Pulse export")


@needs_chromium
def test_png_and_svg_carry_machine_readable_provenance(con):
    import struct
    import zlib
    from xml.etree import ElementTree

    options = ChartOptions(view="indexed")
    result = export.build("github-stars", con, options)
    png = export.to_png(result, options, "github-stars")
    chunks, pos = {}, 8
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body), kind
        if kind == b"iTXt":
            key, _, rest = body.partition(b"\x00")
            chunks[key.decode()] = rest[4:].decode("utf-8")
        pos += 12 + length
    assert json.loads(chunks["Provenance"])["view"]["view"] == "indexed"
    assert "Transform: indexed to 100 at the range start" in chunks["Description"]
    svg = export.to_svg(result, options, "github-stars")
    root = ElementTree.fromstring(svg)
    meta = root.find("{http://www.w3.org/2000/svg}metadata")
    assert json.loads(meta.text)["chart"] == "github-stars"


def test_absolute_view_link_is_clickable_in_html(con, monkeypatch):
    monkeypatch.setenv("PULSE_PUBLIC_URL", "https://pulse.example.org/")
    options = ChartOptions(frameworks=["pytorch"], view="share")
    result = export.build("github-stars", con, options)
    page = export.to_html(result, options, "github-stars")
    url = "https://pulse.example.org/github?frameworks=pytorch&amp;view=share&amp;log=0"
    assert f'<a href="{url}">{url}</a>' in page


@needs_chromium
def test_a_dead_browser_is_replaced(con):
    """Kill the warm Chromium (as an OOM killer would): the next export starts a new one."""
    import signal

    options = ChartOptions()
    result = export.build("github-stars", con, options)
    export.to_svg(result, options)
    starts = render.BROWSER.starts
    pid = render.BROWSER._kaleido.subprocess.pid
    os.kill(pid, signal.SIGKILL)
    assert h.svg_size(export.to_svg(result, options)) == (export.WIDTH, export.HEIGHT)
    assert render.BROWSER.starts == starts + 1


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_fast_template_is_plotlys_validated_template(theme):
    """charts.apply_template skips re-validation; the figure must be the one plotly's own path makes."""
    fast = charts.apply_template(go.Figure(go.Bar(y=[1, 2])), theme)
    validated = go.Figure(go.Bar(y=[1, 2])).update_layout(template=charts.template(theme))
    assert json.loads(fast.to_json()) == json.loads(validated.to_json())
    assert fast.layout.template.layout.paper_bgcolor == ("rgb(17,17,17)" if theme == "dark" else "white")
    assert fast.layout._validate, "validation is back on for later updates"
