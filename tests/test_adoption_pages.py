"""Downloads and Community pages and their analytics: whole periods only, views, method breaks, cards, export.

Data: the snapshot database plus synthetic observations written through the store (the same
rows `pulse ingest pypi` / `stackoverflow` write). Hand-computed figures are in each test.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from analytics import adoption, overview
from analytics.charts import ChartOptions, catalog
from pulse import db, store
from pulse.cli import main
from tests.page_checks import assert_formatted

ROOT = Path(__file__).resolve().parent.parent


def synthetic_downloads() -> pd.DataFrame:
    """torch 100/day and tensorflow 30 + tensorflow-cpu 10/day, 2026-06-15 .. 2026-09-30 (pypistats);
    ClickPy holds torch at 90/day for 2026-07-01 .. 2026-07-31 only."""
    rows = []
    for day in pd.date_range("2026-06-15", "2026-09-30"):
        for fid, pkg, n in (("pytorch", "torch", 100), ("tensorflow", "tensorflow", 30), ("tensorflow", "tensorflow-cpu", 10)):
            rows.append(("pypistats", fid, pkg, day, n))
    for day in pd.date_range("2026-07-01", "2026-07-31"):
        rows.append(("clickpy", "pytorch", "torch", day, 90))
    frame = pd.DataFrame(rows, columns=["source", "framework", "variant", "date", "value"])
    return frame.assign(metric="pypi_downloads", citation="synthetic")


def synthetic_questions() -> pd.DataFrame:
    """pytorch 2026-01..06: 10, 0, 30, 40, 50, 60; tensorflow: 40 each month; tag totals 1000 vs 3000."""
    rows = [("pytorch", "pytorch", f"2026-{m:02d}-01", v) for m, v in zip(range(1, 7), (10, 0, 30, 40, 50, 60), strict=True)]
    rows += [("tensorflow", "tensorflow", f"2026-{m:02d}-01", 40) for m in range(1, 7)]
    frame = pd.DataFrame(rows, columns=["framework", "variant", "date", "value"]).assign(source="stackoverflow", metric="so_questions", citation="synthetic")
    totals = pd.DataFrame({"framework": ["pytorch", "tensorflow"], "variant": ["pytorch", "tensorflow"], "date": ["2026-07-02"] * 2,
                           "value": [1000, 3000], "source": "stackoverflow", "metric": "so_tag_questions_total", "citation": "synthetic"})
    return pd.concat([frame, totals])


@pytest.fixture
def adoption_db(snapshot_db) -> Path:
    with db.write_session(snapshot_db) as con:
        store.upsert_observations(con, synthetic_downloads())
        store.upsert_observations(con, synthetic_questions())
    return snapshot_db


@pytest.fixture
def con(adoption_db):
    connection = db.open_read(adoption_db)
    yield connection
    connection.close()


def test_monthly_downloads_are_whole_months_summed_over_packages(con):
    result = catalog()["pypi-downloads"].builder(con, ChartOptions(frameworks=["pytorch", "tensorflow"], extra={"source": "pypistats"}))
    got = {(r.framework, f"{r.date:%Y-%m}"): r.value for r in result.data.itertuples()}
    # June starts on the 15th (first month of the window): left out. July 31 days, Aug 31, Sep 30.
    assert got == {("pytorch", "2026-07"): 3100, ("pytorch", "2026-08"): 3100, ("pytorch", "2026-09"): 3000,
                   ("tensorflow", "2026-07"): 1240, ("tensorflow", "2026-08"): 1240, ("tensorflow", "2026-09"): 1200}
    assert any("2026-08-24" in n for n in result.notes) and any("CI" in n for n in result.notes) and any("keras" in n for n in result.notes)
    assert result.as_of == "2026-09-30"


def test_best_source_prefers_clickpy_and_never_adds_the_two(con):
    result = catalog()["pypi-downloads"].builder(con, ChartOptions(frameworks=["pytorch"], extra={"source": "best"}))
    got = {f"{r.date:%Y-%m}": r.value for r in result.data.itertuples()}
    assert got["2026-07"] == 31 * 90 and got["2026-08"] == 3100  # ClickPy's July, pypistats' August; never 190/day


def test_share_and_indexed_views(con):
    share = catalog()["pypi-downloads"].builder(con, ChartOptions(frameworks=["pytorch", "tensorflow"], view="share", extra={"source": "pypistats"}))
    july = share.data[share.data["date"] == "2026-07-01"].set_index("framework")["value"]
    assert july["pytorch"] == pytest.approx(100 / 140)
    indexed = catalog()["so-questions"].builder(con, ChartOptions(frameworks=["pytorch"], view="indexed"))
    assert indexed.data["value"].tolist() == [100, 0, 300, 400, 500, 600]


def test_weekly_periods_are_whole_weeks(con):
    result = catalog()["pypi-downloads"].builder(con, ChartOptions(frameworks=["pytorch"], extra={"period": "week", "source": "pypistats"}))
    assert set(result.data["value"]) == {700}  # 2026-06-15 is a Monday; 2026-09-28..10-04 is cut short: left out
    assert result.data["date"].max() == pd.Timestamp("2026-09-21")


def test_questions_quarterly_and_cards(con):
    q = catalog()["so-questions"].builder(con, ChartOptions(frameworks=["pytorch", "tensorflow"], extra={"period": "quarter"}))
    got = {(r.framework, f"{r.date:%Y-%m}"): r.value for r in q.data.itertuples()}
    assert got == {("pytorch", "2026-01"): 40, ("pytorch", "2026-04"): 150, ("tensorflow", "2026-01"): 120, ("tensorflow", "2026-04"): 120}
    cards = overview.latest_by_metric(con, "so_questions").set_index("framework")
    assert cards.loc["pytorch", "value"] == 60 and cards.loc["pytorch", "share"] == pytest.approx(60 / 100)
    downloads = overview.latest_by_metric(con, "pypi_downloads").set_index("framework")
    assert downloads.loc["tensorflow", "value"] == 30 * 40 and downloads.loc["tensorflow", "date"] == pd.Timestamp("2026-09-30")


def test_export_cli_writes_the_downloads_csv(adoption_db, tmp_path):
    out = tmp_path / "downloads.csv"
    result = CliRunner().invoke(main, ["export", "pypi-downloads", "--out", str(out), "--db", str(adoption_db), "-f", "pytorch",
                                       "--set", "source=pypistats"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "pypistats.org" in text and "3100" in text


@pytest.mark.parametrize(("page", "empty_text"), [("downloads", "pulse ingest pypi"), ("community", "pulse ingest stackoverflow")])
def test_pages_empty_state(snapshot_db, monkeypatch, page, empty_text):
    monkeypatch.setenv("PULSE_DB", str(snapshot_db))
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{page}.py"), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any(empty_text in m.value for m in at.markdown) and any("no data yet." in m.value for m in at.markdown)
    assert_formatted(at, page)  # no download buttons, no frame: one card


def test_downloads_page_with_data(adoption_db, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(adoption_db))
    at = AppTest.from_file(str(ROOT / "app_pages" / "downloads.py"), default_timeout=60)
    at.query_params["frameworks"] = "pytorch,tensorflow"
    at.query_params["view"] = "share"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.get("plotly_chart")) == 1
    markdown = " ".join(m.value for m in at.markdown)
    assert "2026-08-24" in markdown and "dependency of tensorflow" in markdown
    assert any("As of: 2026-09-30" in c.value for c in at.caption)
    assert_formatted(at, "downloads")


def test_community_page_with_data(adoption_db, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(adoption_db))
    at = AppTest.from_file(str(ROOT / "app_pages" / "community.py"), default_timeout=60)
    at.query_params["frameworks"] = "pytorch,tensorflow"
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.get("plotly_chart")) == 1
    assert at.dataframe[0].value["Questions"].tolist() == [3000, 1000]
    assert_formatted(at, "community")


def _ledger_rows(path: Path, *rows: dict) -> None:
    with db.write_session(path) as connection:
        columns = [r[0] for r in connection.execute("DESCRIBE claims").fetchall()]
        for row in rows:
            row = {c: row.get(c) for c in columns}
            connection.execute(f"INSERT OR REPLACE INTO claims VALUES ({', '.join('?' for _ in columns)})", [row[c] for c in columns])


COMMUNITY = {"id": "test-community", "claim": "TensorFlow has a much bigger community (synthetic test row)", "source": "test",
             "metric": "so_questions", "subject": "tensorflow", "versus": "pytorch", "comparison": "ratio_at_least", "value": 1.5,
             "unit": "ratio", "kind": "point"}
DOWNLOADS_LEAD = {"id": "test-downloads", "claim": "PyTorch is downloaded more than TensorFlow (synthetic test row)", "source": "test",
                  "metric": "pypi_downloads", "subject": "pytorch", "versus": "tensorflow", "comparison": "leads", "unit": "count",
                  "kind": "qualitative"}


@pytest.mark.parametrize(("row", "status", "measured"), [
    # January 2026: TensorFlow 40 vs PyTorch 10 questions (4x); June: 40 vs 60 -> true then, not now.
    (dict(COMMUNITY, source_date="2026-01", period="2026-01"), "true then, not now", "TensorFlow 40 vs PyTorch 10"),
    # August 2026 (pypistats only): PyTorch 3,100 vs TensorFlow 1,240 downloads.
    (dict(DOWNLOADS_LEAD, source_date="2026-08", period="2026-08"), "supported", "PyTorch 3,100"),
    (dict(COMMUNITY, id="test-2019", source_date="2019", period="2019"), "not checkable yet", ""),
])
def test_community_and_popularity_claims_get_verdicts(adoption_db, row, status, measured):
    from analytics import claims

    _ledger_rows(adoption_db, row)
    connection = db.open_read(adoption_db)
    try:
        got = claims.check_all(connection).set_index("id").loc[row["id"]]
    finally:
        connection.close()
    assert got["status"] == status, got["measured"]
    assert measured in got["measured"]


def test_overview_shows_download_and_question_cards(adoption_db, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(adoption_db))
    at = AppTest.from_file(str(ROOT / "app_pages" / "overview.py"), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    headers = [h.value for h in at.subheader]
    assert any(h.startswith("PyPI downloads, last 30 finished days") for h in headers)
    assert any(h.startswith("Stack Overflow questions, last finished month") for h in headers)
    tensorflow = [m.value for m in at.metric if m.label == "TensorFlow"]
    assert "1,200" in tensorflow and "40" in tensorflow  # 30 days x (30 + 10) downloads; June's 40 questions


@pytest.mark.parametrize(("query", "warning"), [
    ({"period": "fortnight"}, "Unknown per 'fortnight'"),
    ({"source": "bigquery"}, "Unknown download counts from 'bigquery'"),
    ({"view": "aligned"}, "Unknown view 'aligned'"),
    ({"frameworks": "pytorc,tensorflow"}, "did you mean 'pytorch'"),
])
def test_bad_link_parameters_warn_and_the_page_still_draws(adoption_db, monkeypatch, query, warning):
    monkeypatch.setenv("PULSE_DB", str(adoption_db))
    at = AppTest.from_file(str(ROOT / "app_pages" / "downloads.py"), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception and any(warning in w.value for w in at.warning), [w.value for w in at.warning]
    assert len(at.get("plotly_chart")) == 1


def test_link_restores_period_and_source(adoption_db, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(adoption_db))
    at = AppTest.from_file(str(ROOT / "app_pages" / "downloads.py"), default_timeout=60)
    at.query_params.update({"frameworks": "pytorch", "period": "week", "source": "pypistats"})
    at.run()
    assert not at.exception
    assert at.query_params["period"] == ["week"] or at.query_params["period"] == "week"
    assert any("per week" in c.value for c in at.caption)


def test_ledger_rows_of_the_seeds_use_these_metrics(adoption_db):
    """The seeds' community and popularity claims, read as questions and downloads (data/snapshot/claims.csv)."""
    from analytics import claims

    connection = db.open_read(adoption_db)
    try:
        got = claims.check_all(connection).set_index("id")
    finally:
        connection.close()
    community = got.loc["so-tf-bigger-community"]
    # Undated: latest month (2026-06) TensorFlow 40 vs PyTorch 60 does not hold; January's 40 vs 10 did.
    assert community["status"] == "true then, not now", community["measured"]
    popular = got.loc["downloads-pt-least-popular"]
    # No keras downloads in the synthetic data: the engine says what is missing instead of guessing.
    assert popular["status"] == "not checkable yet" and "Keras" in popular["measured"], popular["measured"]
