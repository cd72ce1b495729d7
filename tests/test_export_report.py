"""`pulse report` and the offline HTML: every chart and claim, opened in real headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from analytics import charts, claims, export, render, report
from analytics.charts import ChartOptions
from tests import export_helpers as h
from tests.export_helpers import con, needs_chromium, test_chart  # noqa: F401  (shared fixtures)

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
needs_playwright_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs {CHROMIUM}")




def open_offline(path: Path, check):
    """Open a local file in headless Chromium with every network request blocked and recorded."""
    from playwright.sync_api import sync_playwright

    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page()

            def block(route):
                requested.append(route.request.url)
                route.abort()

            page.route(re.compile(r"^(?!file:|data:|blob:|about:).*"), block)
            page.goto(path.as_uri())
            page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length > 0", timeout=20_000)
            return check(page), requested
        finally:
            browser.close()


@needs_playwright_chromium
def test_html_export_opens_offline_and_draws_the_chart(con, tmp_path):
    options = ChartOptions(frameworks=["pytorch", "tensorflow", "jax"])
    result = export.build("github-stars", con, options)
    path = export.write(tmp_path / "stars.html", export.to_html(result, options, "github-stars"))

    def check(page):
        return {
            "traces": page.locator(".js-plotly-plot .scatterlayer .trace").count(),
            # gaps split a line into segments: count traces that drew at least one
            "lines": page.evaluate("() => [...document.querySelectorAll('.scatterlayer .trace')]"
                                   ".filter(t => t.querySelector('path.js-line')).length"),
            "legend": page.locator(".js-plotly-plot .legend .traces").all_text_contents(),
            "provenance": page.locator(".provenance").inner_text(),
        }

    seen, requested = open_offline(path, check)
    assert requested == [], f"the export fetched {requested}"
    assert seen["traces"] == 3 and seen["lines"] == 3
    assert [t.strip() for t in seen["legend"]] == ["PyTorch", "TensorFlow", "JAX"]
    assert "Source: Embedded snapshot" in seen["provenance"] and result.as_of in seen["provenance"]


def test_report_html_has_every_chart_and_claim(con, test_chart):
    content, built = report.render_report(con, ChartOptions(), "html", db_label="snapshot.duckdb")
    page = content.decode("utf-8")
    catalogue = list(charts.catalog())
    # Charts with data are drawn; the rest (no Trends, Papers, Hub or probe data in the snapshot) are listed once.
    assert {"github-stars", "overview-stars-share", test_chart} <= set(built.charts) and built.failed == {}
    assert {"hf-models", "trends-interest", "probe-throughput"} <= set(built.empty)
    assert sorted(built.charts + list(built.empty)) == sorted(catalogue)
    for name, spec in charts.catalog().items():
        assert (f'id="chart-{name}"' in page) == (name in built.charts) and spec.title in page
    listed = page[page.index('id="no-data"'):page.index('id="claims"')]
    assert all(charts.catalog()[name].title in listed for name in built.empty)
    assert "pulse ingest huggingface" in listed  # each says what would fill it
    bundled = get_plotlyjs().count("Plotly.newPlot")  # plotly.js itself names it in some versions
    assert page.count("Plotly.newPlot") - bundled == len(built.charts)
    assert page.count('<script type="text/javascript">/**\n* plotly.js') <= 1, "plotly.js inlined once"
    ledger = claims.check_all(con)
    assert built.claims == len(ledger) > 0
    section = page[page.index('id="claims"'):page.index('id="sources"')]
    for row in ledger.itertuples():
        assert f"<td>{row.id}</td>" in section
        assert f'<td class="verdict">{row.status}</td>' in section
    assert "165,000 stars" in section  # the claimed figure beside the verdict
    assert "Synthetic: made up for the export tests." in page  # provenance notes of each chart
    assert "<td>snapshot</td>" in page[page.index('id="sources"'):]


def test_report_keeps_going_when_a_chart_fails(con, test_chart, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secretvalue123")

    def broken(con, options):
        raise RuntimeError("lookup failed with token ghp_secretvalue123")

    charts.chart("test-broken", "Broken (test)", page="test")(broken)
    try:
        content, built = report.render_report(con, ChartOptions(), "html")
    finally:
        charts.CHARTS.pop("test-broken", None)
    page = content.decode()
    assert "github-stars" in built.charts and "test-broken" in built.failed
    assert "ghp_secretvalue123" not in page and "ghp_secretvalue123" not in built.failed["test-broken"]
    assert "This chart could not be built: lookup failed with token ***" in page


@needs_chromium
def test_report_pdf_has_pages_and_every_chart(con, test_chart):
    content, built = report.render_report(con, ChartOptions(theme="light"), "pdf")
    pages = h.pdf_pages(content)
    assert pages >= 2  # charts and the claims table do not fit on one A4 page
    # About one page per chart with data, the contents and the list of charts without data, plus the
    # claims table (about ten claims a page): no near-empty pages for charts without data.
    assert pages <= len(built.charts) + 2 + -(-built.claims // 10), pages
    assert built.charts and sorted(built.charts + list(built.empty)) == sorted(charts.catalog()) and built.claims > 0


def test_report_pdf_without_chromium_says_how_to_install(con, monkeypatch, tmp_path):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "missing-chromium"))
    with pytest.raises(render.ChromiumMissing, match="apt-get install -y chromium"):
        report.render_report(con, ChartOptions(), "pdf")
    content, _ = report.render_report(con, ChartOptions(), "html")
    assert b"Plotly.newPlot" in content


@needs_chromium
def test_report_pdf_falls_back_to_a_one_off_chromium(con, monkeypatch):
    def broken(url):
        raise render.ExportError("synthetic: the warm browser could not print")

    monkeypatch.setattr(render.BROWSER, "print_pdf", broken)
    content, built = report.render_report(con, ChartOptions(), "pdf")
    assert h.pdf_pages(content) >= 2 and built.charts


@needs_chromium
def test_report_pdf_uses_the_warm_browser(con):
    report.render_report(con, ChartOptions(), "pdf")
    starts = render.BROWSER.starts
    content, _ = report.render_report(con, ChartOptions(theme="dark"), "pdf")
    assert render.BROWSER.starts == starts, "a second report must not start another Chromium"
    assert h.pdf_pages(content) >= 2
    assert re.search(rb"/MediaBox \[0 0 84[12][.0-9]* 59[45][.0-9]*\]", content)  # A4 landscape: 842 x 595 pt


def test_html_report_embeds_each_charts_csv(con, test_chart):
    import base64
    import io

    content, built = report.render_report(con, ChartOptions(frameworks=["jax"]), "html")
    page = content.decode()
    for name in built.charts:
        encoded = re.search(rf'<a download="{name}.csv" href="data:text/csv;base64,([^"]+)"', page).group(1)
        header, frame = export.read_csv(io.StringIO(base64.b64decode(encoded).decode()))
        assert any(line.startswith("Source:") for line in header)
        # Charts with no data in this database export their provenance and an empty table.
        assert set(frame["framework"]) == {"jax"} if name == "github-stars" else set(frame.get("framework", [])) <= {"jax"}
