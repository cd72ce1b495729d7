"""`pulse export` and `pulse report` through click, against a real snapshot database."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from analytics import charts, export
from pulse import config
from pulse.cli import main
from tests import export_helpers as h
from tests.export_helpers import con, needs_chromium, test_chart  # noqa: F401  (shared fixtures)




def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_list_shows_every_catalogue_chart(test_chart):
    result = run("export", "--list")
    assert result.exit_code == 0
    for name, spec in charts.catalog().items():
        assert any(line.startswith(name) and spec.title in line for line in result.output.splitlines())


def test_csv_export_with_page_options(snapshot_db, tmp_path):
    out = tmp_path / "stars.csv"
    result = run("export", "github-stars", "--out", out, "--db", snapshot_db, "-f", "pytorch", "-f", "jax",
                 "--start", "2021-01-01", "--end", "2024-12-31", "--view", "indexed", "--log")
    assert result.exit_code == 0, result.output
    assert "CSV of 'github-stars'" in result.output
    header, frame = export.read_csv(out)
    assert set(frame["framework"]) == {"pytorch", "jax"}
    dates = pd.to_datetime(frame["date"])
    assert dates.min() >= pd.Timestamp("2021-01-01") and dates.max() <= pd.Timestamp("2024-12-31")
    assert frame.groupby("framework")["value"].first().round(6).tolist() == [100.0, 100.0]
    text = "\n".join(header)
    assert "Transform: indexed to 100 at the range start, log scale" in text
    assert "2021-01-01 to 2024-12-31" in text
    # Chart options (--set) are refused unless the chart reads them (issue 14; this test used to
    # pass `--set smooth=3`, which github-stars silently ignored), and kept in the provenance.
    refused = run("export", "github-stars", "--out", out, "--db", snapshot_db, "--set", "smooth=3")
    assert refused.exit_code == 1 and "Unknown option --set smooth" in refused.output
    pwc = tmp_path / "pwc.csv"
    assert run("export", "pwc-implementation-share", "--out", pwc, "--db", snapshot_db, "--set", "variant=known").exit_code == 0
    assert "variant=known" in "\n".join(export.read_csv(pwc)[0])


def test_stdout_export(snapshot_db):
    result = CliRunner().invoke(main, ["export", "github-stars", "--format", "csv", "--out", "-", "--db", str(snapshot_db)])
    assert result.exit_code == 0
    header, frame = export.read_csv(io.StringIO(result.output))
    assert header[0].startswith("Framework Pulse export: GitHub stars") and len(frame) > 100


def test_sidecar(snapshot_db, tmp_path):
    out = tmp_path / "stars.csv"
    assert run("export", "github-stars", "--out", out, "--sidecar", "--db", snapshot_db).exit_code == 0
    assert not out.read_text().startswith("#")
    assert '"as_of"' in (tmp_path / "stars.csv.provenance.json").read_text()


@needs_chromium
@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_image_exports(snapshot_db, tmp_path, fmt):
    out = tmp_path / f"stars.{fmt}"
    result = run("export", "github-stars", "--out", out, "--db", snapshot_db, "--theme", "dark")
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    if fmt == "png":
        assert h.png_size(data) == (2200, 1300)
    elif fmt == "svg":
        assert h.svg_size(data) == (1100, 650)
    else:
        assert h.pdf_pages(data) == 1


@pytest.mark.parametrize(("out", "message"), [
    ("{tmp}/missing/dir/x.png", "directory '{tmp}/missing/dir' does not exist"),
    ("{tmp}/afile/x.csv", "'{tmp}/afile' is not a directory"),
    ("/proc/pulse.csv", "cannot create a file in '/proc'"),
    ("{tmp}", "it is a directory"),
])
def test_bad_output_paths(snapshot_db, tmp_path, out, message):
    (tmp_path / "afile").write_text("x")
    result = CliRunner().invoke(main, ["export", "github-stars", "--format", "csv", "--out", out.format(tmp=tmp_path), "--db", str(snapshot_db)])
    assert result.exit_code == 1
    assert message.format(tmp=tmp_path) in result.output
    assert "Traceback" not in result.output


def test_unknown_chart_and_framework(snapshot_db, tmp_path):
    result = CliRunner().invoke(main, ["export", "github-star", "--out", str(tmp_path / "x.csv")])
    assert result.exit_code == 1 and "Did you mean 'github-stars'?" in result.output
    result = CliRunner().invoke(main, ["export", "github-stars", "-f", "pytorhc", "--out", str(tmp_path / "x.csv"), "--db", str(snapshot_db)])
    assert result.exit_code == 1 and "Did you mean 'pytorch'?" in result.output
    result = CliRunner().invoke(main, ["export", "github-stars", "--view", "sharee", "--out", str(tmp_path / "x.csv"), "--db", str(snapshot_db)])
    assert result.exit_code == 1 and "unknown view 'sharee'" in result.output


def test_no_chromium_message_and_csv_still_works(snapshot_db, tmp_path, monkeypatch):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "nope"))
    result = CliRunner().invoke(main, ["export", "github-stars", "--out", str(tmp_path / "x.png"), "--db", str(snapshot_db)])
    assert result.exit_code == 1
    assert "Cannot render PNG" in result.output and "apt-get install -y chromium" in result.output
    assert not (tmp_path / "x.png").exists()
    assert run("export", "github-stars", "--out", tmp_path / "x.csv", "--db", snapshot_db).exit_code == 0
    assert run("export", "github-stars", "--out", tmp_path / "x.html", "--db", snapshot_db).exit_code == 0
    result = CliRunner().invoke(main, ["report", "--out", str(tmp_path / "r.pdf"), "--db", str(snapshot_db)])
    assert result.exit_code == 1 and "apt-get install -y chromium" in result.output


def test_report_html(snapshot_db, tmp_path, test_chart):
    out = tmp_path / "reports" / "pulse.html"
    out.parent.mkdir()
    result = run("report", "--out", out, "--db", snapshot_db)
    assert result.exit_code == 0, result.output
    assert re.search(r"with \d+ charts and \d+ claims", result.output) and "Listed without drawing" in result.output
    page = out.read_text()
    assert all(charts.catalog()[name].title in page for name in charts.catalog())


def test_report_exits_nonzero_when_a_chart_fails(snapshot_db, tmp_path):
    def broken(con, options):
        raise RuntimeError("synthetic failure")

    charts.catalog()
    charts.chart("test-broken", "Broken (test)", page="test")(broken)
    try:
        result = CliRunner().invoke(main, ["report", "--out", str(tmp_path / "r.html"), "--db", str(snapshot_db)])
    finally:
        charts.CHARTS.pop("test-broken", None)
    assert result.exit_code == 1
    assert "The report was written, but chart 'test-broken': synthetic failure" in result.output
    assert (tmp_path / "r.html").exists()


def test_report_needs_html_or_pdf(tmp_path):
    result = CliRunner().invoke(main, ["report", "--out", str(tmp_path / "r.docx")])
    assert result.exit_code == 2 and ".html or .pdf" in result.output


def test_commands_documented_with_examples():
    for name in ("export", "report"):
        assert "Example:" in main.commands[name].help


def test_module_entry_point(snapshot_db, tmp_path):
    """`python -m pulse export` in a subprocess, as cron runs it."""
    out = tmp_path / "stars.csv"
    proc = subprocess.run([sys.executable, "-m", "pulse", "export", "github-stars", "--out", str(out), "--db", str(snapshot_db)],
                          capture_output=True, text=True, cwd=config.PROJECT_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("# Framework Pulse export")


def test_export_all_writes_every_chart(snapshot_db, tmp_path, test_chart):
    out = tmp_path / "slides"
    out.mkdir()
    result = run("export", "--all", "--format", "csv", "--out", out, "--db", snapshot_db, "-f", "pytorch")
    assert result.exit_code == 0, result.output
    # Charts without data for these options are skipped and named, not written as empty files.
    written = {p.name for p in out.iterdir()}
    assert {f"{name}.csv" for name in ("github-stars", "overview-stars-share", test_chart)} <= written
    assert "hf-models.csv" not in written and "trends-interest.csv" not in written
    assert "Skipped" in result.output and "hf-models" in result.output
    _, frame = export.read_csv(out / f"{test_chart}.csv")
    assert frame["framework"].tolist() == ["pytorch"]


def test_export_all_reports_failures_and_keeps_going(snapshot_db, tmp_path):
    def broken(con, options):
        raise RuntimeError("synthetic failure")

    charts.catalog()
    charts.chart("test-broken", "Broken (test)", page="test")(broken)
    try:
        result = CliRunner().invoke(main, ["export", "--all", "--format", "html", "--out", str(tmp_path), "--db", str(snapshot_db)])
    finally:
        charts.CHARTS.pop("test-broken", None)
    assert result.exit_code == 1 and "1 chart(s) failed: test-broken: synthetic failure" in result.output
    assert (tmp_path / "github-stars.html").exists()


def test_export_all_needs_a_directory(snapshot_db, tmp_path):
    result = CliRunner().invoke(main, ["export", "--all", "--format", "csv", "--out", str(tmp_path / "nope"), "--db", str(snapshot_db)])
    assert result.exit_code == 1 and "does not exist" in result.output
    result = CliRunner().invoke(main, ["export", "--all", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--format" in result.output
