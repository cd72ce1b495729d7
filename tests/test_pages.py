"""Every dashboard page, run with Streamlit's AppTest against the snapshot database."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from pulse import config
from tests.page_checks import assert_formatted

APP = str(config.PROJECT_ROOT / "app.py")


@pytest.fixture(params=["file", "team_store"])
def app(request, snapshot_db, monkeypatch):
    """Each page test runs on the local file and on the team store (DuckLake on PostgreSQL)."""
    monkeypatch.setenv("PULSE_DB", str(snapshot_db))
    if request.param == "team_store":
        snapshot_db.unlink()  # every read must come from the team store
        request.getfixturevalue("lake_snapshot")

    def open_page(page: str | None = None, **query) -> AppTest:
        # A page opened by its URL (with a query string) is its script run in a new session.
        script = str(config.PROJECT_ROOT / "app_pages" / f"{page}.py") if page else APP
        at = AppTest.from_file(script, default_timeout=60)
        for key, value in query.items():
            at.query_params[key] = value
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    yield open_page
    if request.param == "team_store":
        assert not snapshot_db.exists(), "a page wrote a local database file while PULSE_STORE was set"


def _decode(value):
    """Plotly encodes numeric arrays as {"dtype", "bdata"} (base64); turn them into lists."""
    if isinstance(value, dict) and "bdata" in value:
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"])).tolist()
    return value


def _figure(at: AppTest, index: int = 0) -> dict:
    fig = json.loads(at.get("plotly_chart")[index].proto.spec)
    for trace in fig["data"]:
        for axis in ("x", "y"):
            if axis in trace:
                trace[axis] = _decode(trace[axis])
    return fig


def test_overview_shows_latest_stars_with_as_of(app):
    at = app()
    assert at.title[0].value == "Framework Pulse"
    labels = {m.label: m.value for m in at.metric}
    assert labels["TensorFlow"] == "196,636" and labels["PyTorch"] == "102,095" and labels["JAX"] == "27,594"
    assert "older figure, not in the share" in at.metric[3].help and "as of 2024-04-01" in at.metric[3].help
    assert any("left out of the share: JAX (2024-04-01)" in c.value for c in at.caption)
    assert "as of 2026-08-01" in at.metric[0].help
    fig = _figure(at)
    assert [trace["x"] for trace in fig["data"]][0] == ["TensorFlow", "PyTorch", "Keras", "JAX"]
    assert any("As of:" in c.value for c in at.caption)


def test_github_page_draws_one_trace_per_chosen_framework(app):
    at = app("github", frameworks="pytorch,tensorflow")
    assert at.title[0].value == "GitHub stars"
    fig = _figure(at)
    assert [t["name"] for t in fig["data"]] == ["PyTorch", "TensorFlow"]
    assert at.query_params["frameworks"] == ["pytorch,tensorflow"] or at.query_params["frameworks"] == "pytorch,tensorflow"


def test_github_views_from_url(app):
    at = app("github", frameworks="pytorch,tensorflow,jax", view="share", log="1", start="2020-01-01", end="2022-12-31")
    fig = _figure(at)
    assert len(fig["data"]) == 3
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert min(min(x for x in t["x"]) for t in fig["data"]) >= "2020-01-01"
    # Shares of the chosen total add up to 1 at each date.
    totals: dict = {}
    for trace in fig["data"]:
        for x, y in zip(trace["x"], trace["y"]):
            if y is not None and y == y:
                totals[x] = totals.get(x, 0) + y
    assert totals and all(abs(v - 1) < 1e-9 for v in totals.values())


def test_unknown_framework_in_url_warns_and_page_still_works(app):
    at = app("github", frameworks="pytorh,tensorflow")
    assert any("pytorh" in w.value and "pytorch" in w.value for w in at.warning)
    assert [t["name"] for t in _figure(at)["data"]] == ["TensorFlow"]


def test_claims_page_checks_star_ratio(app):
    at = app("claims")
    text = "\n".join(m.value for m in at.markdown)
    # "About 3x" in 2022 (the claim gives only the year): the 2022 month closest to 3x, and today's 1.93x.
    assert "TensorFlow 163,217 vs PyTorch 54,264: 3x (as of 2022-03-01)" in text
    assert "TensorFlow 196,636 vs PyTorch 102,095: 1.93x (as of 2026-08-01)" in text
    assert "Not checkable yet" in text
    assert any("Checked with:" in c.value for c in at.caption)


def test_data_page_lists_series_with_citation(app):
    at = app("data")
    tables = [d.value for d in at.dataframe]
    series = next(v for v in tables if "Citation(s)" in v.columns)
    freshness = next(v for v in tables if "State" in v.columns)
    # The snapshot has run once and is fresh; sources that never ran are not set up (not a warning).
    states = dict(zip(freshness["Source"], freshness["State"], strict=True))
    assert states["snapshot"] == "OK" and states["github"] == "Not set up"
    assert not at.warning and not at.error
    snapshot = series[series["Source"] == "snapshot"]
    assert set(snapshot["Framework"]) >= {"pytorch", "tensorflow", "jax", "keras"}
    assert snapshot["Citation(s)"].str.contains("EvanLi/Github-Ranking").all()
    assert int(snapshot["Rows"].sum()) == 823


def test_router_reaches_every_page(snapshot_db, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(snapshot_db))
    at = AppTest.from_file(APP, default_timeout=60).run()
    pages = sorted(p.name for p in (config.PROJECT_ROOT / "app_pages").glob("[!_]*.py"))
    for page in pages:
        at.switch_page(f"app_pages/{page}").run()
        assert not at.exception, (page, [e.message for e in at.exception])
        assert at.title, page


def test_bad_database_shows_clear_error(tmp_path, monkeypatch):
    bad = tmp_path / "bad.duckdb"
    bad.write_text("not a database")
    monkeypatch.setenv("PULSE_DB", str(bad))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert any("is not a DuckDB database" in e.value for e in at.error)
    assert bad.read_text() == "not a database"


def test_first_start_builds_database_from_snapshot(db_file, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(db_file))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception and db_file.exists()
    assert {m.label for m in at.metric} >= {"PyTorch", "TensorFlow"}


PAGES = sorted(p.stem for p in (config.PROJECT_ROOT / "app_pages").glob("[!_]*.py"))


@pytest.mark.parametrize("page", PAGES)
def test_page_text_and_tables_are_formatted(app, page):
    """Every page on a fresh install: cards, captions and tables formatted (see tests/page_checks.py)."""
    assert_formatted(app(page), page)


def test_overview_cards_say_when_a_value_is_older(app):
    at = app()
    jax = next(m for m in at.metric if m.label == "JAX")
    assert jax.value == "27,594"
    assert "as of 2024-04-01" in jax.delta
    assert not next(m for m in at.metric if m.label == "PyTorch").delta  # current ones share the caption's date
    assert any(c.value.startswith("Latest value per framework, as of 2026-08-01 unless a card says otherwise") for c in at.caption)
