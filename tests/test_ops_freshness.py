"""Freshness verdicts (pure), `pulse status` for monitoring, and the Data page's freshness panel."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from analytics import freshness
from ingest import runner
from pulse.cli import main
from tests.ops_fakes.procs import EXTRA_SOURCES, ROOT

NOW = dt.datetime(2026, 11, 23, 12, 0)
DAY = dt.timedelta(days=1)


def runs(*rows) -> pd.DataFrame:
    """rows: (source, hours before NOW, status, error)."""
    frame = pd.DataFrame(
        [(s, NOW - dt.timedelta(hours=h), NOW - dt.timedelta(hours=h), st, e) for s, h, st, e in rows],
        columns=["source", "started_at", "finished_at", "status", "error"],
    )
    return frame


def verdict(frame, cadence=DAY, name="github"):
    return freshness.assess(frame, {name: ("GitHub", cadence)}, NOW)[0]


def test_recent_good_run_is_ok():
    v = verdict(runs(("github", 10, "ok", None)))
    assert (v.state, v.stale, v.failing, v.healthy, v.age_hours) == ("ok", False, False, True, 10.0)


def test_good_run_older_than_one_and_a_half_cadences_is_stale():
    assert verdict(runs(("github", 35, "ok", None))).state == "ok"
    v = verdict(runs(("github", 37, "ok", None)))
    assert (v.state, v.stale, v.healthy) == ("stale", True, False)


def test_latest_failure_is_failing_with_its_error_and_count():
    v = verdict(runs(("github", 30, "ok", None), ("github", 20, "failed", "SourceError: first"), ("github", 2, "failed", "RateLimited: second")))
    assert (v.state, v.failing, v.stale, v.failures_since_ok) == ("failing", True, False, 2)
    assert v.last_error == "RateLimited: second" and v.last_error_at == NOW - dt.timedelta(hours=2)
    assert v.last_ok_at == NOW - dt.timedelta(hours=30)


def test_recovered_source_is_ok_but_keeps_its_last_error_for_reference():
    v = verdict(runs(("github", 20, "failed", "boom"), ("github", 1, "ok", None)))
    assert (v.state, v.failing, v.failures_since_ok, v.last_error) == ("ok", False, 0, "boom")


def test_never_run_and_partial_runs():
    # Never ran at all: not set up, which is healthy (a fresh install); ran and never succeeded: needs attention.
    v = verdict(runs(("other", 1, "ok", None)))
    assert (v.state, v.stale, v.failing, v.healthy) == ("not set up", False, False, True)
    v = verdict(runs(("github", 1, "running", None)))
    assert (v.state, v.stale, v.healthy) == ("never", True, False)
    assert verdict(runs(("github", 1, "partial", None))).state == "ok"
    v = verdict(runs(("github", 1, "failed", "x")))
    assert (v.state, v.stale, v.failing) == ("failing", True, True)


def test_error_is_redacted_again_on_the_way_out(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_freshness_secret_42")
    v = verdict(runs(("github", 1, "failed", "GET ?t=ghp_freshness_secret_42 failed")))
    assert v.last_error == "GET ?t=*** failed"


@pytest.fixture
def with_fakes(monkeypatch):
    monkeypatch.setenv("PULSE_EXTRA_SOURCES", EXTRA_SOURCES)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))


def test_status_exit_code_follows_health(snapshot_db, with_fakes, monkeypatch):
    healthy = CliRunner().invoke(main, ["status", "--source", "snapshot", "--db", str(snapshot_db)])
    runner.run_all(snapshot_db, ["failing", "counter"])
    mixed = CliRunner().invoke(main, ["status", "--source", "snapshot", "--source", "counter", "--source", "failing", "--source", "hanging", "--db", str(snapshot_db)])

    assert healthy.exit_code == 0 and "All sources fresh." in healthy.output
    assert mixed.exit_code == 1
    states = {line[:18].strip(): line[19:29].strip() for line in mixed.output.splitlines() if line[:18].strip() in ("snapshot", "counter", "failing", "hanging")}
    assert states == {"snapshot": "ok", "counter": "ok", "failing": "failing", "hanging": "not set up"}
    assert "failing: last error at" in mixed.output and "answered HTTP 500" in mixed.output
    assert "Attention: failing failing." in mixed.output


def test_status_json_for_monitoring(snapshot_db, with_fakes):
    runner.run_all(snapshot_db, ["failing"])
    result = CliRunner().invoke(main, ["status", "--json", "--db", str(snapshot_db)])

    payload = json.loads(result.stdout)
    by = {s["source"]: s for s in payload["sources"]}
    assert result.exit_code == 1 and payload["healthy"] is False
    assert {"snapshot", "counter", "failing", "hanging", "crashing", "leaky", "empty_partial"} <= set(by)
    assert by["failing"]["failing"] is True and by["failing"]["failures_since_ok"] == 1
    assert by["failing"]["last_error"].startswith("SourceError: http://127.0.0.1:9/api?access_token=none answered HTTP 500")
    assert by["snapshot"]["healthy"] is True and by["snapshot"]["last_ok_at"].endswith("Z")


PANEL = """
from app_pages._common import connection
from app_pages._freshness import render_freshness
render_freshness(connection())
"""


def test_freshness_panel_flags_failing_sources_and_follows_new_runs(snapshot_db, with_fakes, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(snapshot_db))
    monkeypatch.setenv("PULSE_EXTRA_SOURCES", "failing=tests.ops_fakes.failing,counter=tests.ops_fakes.counter")
    runner.run_all(snapshot_db, ["failing"])
    at = AppTest.from_string(PANEL, default_timeout=60)
    at.run()
    assert not at.exception
    state = dict(zip(at.dataframe[0].value["Source"], at.dataframe[0].value["State"]))
    assert {k: state[k] for k in ("snapshot", "failing", "counter")} == {"snapshot": "OK", "failing": "Failing", "counter": "Not set up"}
    errors = [e.value for e in at.error if "**failing**" in e.value]
    assert len(errors) == 1 and "answered HTTP 500" in errors[0] and "is failing" in errors[0]
    assert not at.warning  # a source that never ran is not set up: no warning
    assert any("Not set up yet" in c.value and "counter" in c.value for c in at.caption)

    runner.run_all(snapshot_db, ["counter"])  # a new file is swapped in while the app is up
    at.run()
    state = dict(zip(at.dataframe[0].value["Source"], at.dataframe[0].value["State"]))
    assert state["counter"] == "OK" and state["failing"] == "Failing"
    assert not any("**counter**" in w.value for w in at.warning)


def test_partial_with_rows_is_good_but_without_rows_is_not(snapshot_db):
    from pulse import db as database, store

    with database.write_session(snapshot_db) as con:
        store.save_run(con, store.Run(source="github", status="partial", rows=12, finished_at=NOW - dt.timedelta(hours=3)))
        store.save_run(con, store.Run(source="github", status="partial", rows=0, error="unreachable", finished_at=NOW - dt.timedelta(hours=1)))
    con = database.open_read(snapshot_db)
    v = freshness.freshness(con, {"github": ("GitHub", DAY)}, now=NOW)[0]
    con.close()

    assert (v.state, v.failing, v.stale, v.last_error) == ("failing", True, False, "unreachable")
    assert v.last_ok_at == NOW - dt.timedelta(hours=3)


def test_status_exits_0_on_a_fresh_install(tmp_path):
    """`pulse db init` then `pulse status`: only the snapshot has run; the rest are not set up, not failing."""
    db = tmp_path / "fresh.duckdb"
    assert CliRunner().invoke(main, ["db", "init", "--db", str(db)]).exit_code == 0
    result = CliRunner().invoke(main, ["status", "--db", str(db)])
    assert result.exit_code == 0, result.output
    idle = result.output.split("Not set up yet: ", 1)[1]
    assert all(name in idle for name in ("trends", "github", "paperswithcode", "huggingface"))
    payload = json.loads(CliRunner().invoke(main, ["status", "--json", "--db", str(db)]).stdout)
    assert payload["healthy"] is True
    assert {s["source"]: s["state"] for s in payload["sources"]}["github"] == "not set up"
