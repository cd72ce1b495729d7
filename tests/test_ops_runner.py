"""`pulse ingest --all`: every source runs, failures are isolated, reported, recorded and redacted.

The sources here are the real snapshot source plus synthetic fakes (tests/ops_fakes) registered
through PULSE_EXTRA_SOURCES; each runs in a real child process, as in production.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ingest import runner
from pulse import db as database
from pulse.cli import main
from pulse.errors import PulseError
from tests.ops_fakes.procs import EXTRA_SOURCES, ROOT, pids_mentioning, query

TOKEN = "ghp_ops_test_secret_0123456789"


@pytest.fixture(autouse=True)
def _fakes(monkeypatch):
    monkeypatch.setenv("PULSE_EXTRA_SOURCES", EXTRA_SOURCES)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_one_failing_source_does_not_stop_the_others(db_file):
    result = invoke("ingest", "--all", "--source", "snapshot", "--source", "failing", "--source", "counter", "--db", str(db_file))

    assert result.exit_code == runner.EXIT_FAILED
    lines = {line.split()[0]: line.split() for line in result.output.splitlines() if line.split() and line.split()[0] in ("snapshot", "failing", "counter")}
    assert lines["snapshot"][1:3] == ["ok", "823"]
    assert lines["failing"][1] == "failed"
    assert lines["counter"][1:3] == ["ok", "5"]
    assert "2 of 3 sources succeeded." in result.output
    assert "answered HTTP 500" in result.output
    assert query(db_file, "SELECT count(*) FROM observations WHERE metric = 'synthetic_counter'") == [(5,)]
    runs = dict(query(db_file, "SELECT source, status FROM ingest_runs"))
    # The snapshot load also records a run of its own for the conference mentions it loads (a source of its own).
    assert runs == {"snapshot": "ok", "conference_mentions": "ok", "failing": "failed", "counter": "ok"}


def test_token_never_reaches_output_json_or_database(db_file):
    text = invoke("ingest", "--all", "--source", "failing", "--db", str(db_file)).output
    as_json = invoke("ingest", "--all", "--source", "failing", "--json", "--db", str(db_file)).stdout
    status = invoke("status", "--json", "--db", str(db_file)).output

    stored = query(db_file, "SELECT error, detail FROM ingest_runs WHERE source = 'failing'")
    assert len(stored) == 2 and all("***" in error for error, _ in stored)
    for blob in (text, as_json, status, json.dumps(stored), database.lock_path(db_file).read_text()):
        assert TOKEN not in blob


def test_json_summary_is_machine_readable(db_file):
    result = invoke("ingest", "--all", "--source", "counter", "--source", "failing", "--json", "--db", str(db_file))

    payload = json.loads(result.stdout)
    assert result.exit_code == 1 and payload["exit_code"] == 1 and payload["ok"] is False
    assert payload["failed"] == ["failing"]
    by_source = {s["source"]: s for s in payload["sources"]}
    assert by_source["counter"]["status"] == "ok" and by_source["counter"]["rows"] == 5
    assert by_source["counter"]["run_id"] == query(db_file, "SELECT run_id FROM ingest_runs WHERE source = 'counter'")[0][0]
    assert by_source["failing"]["error"].startswith("http://127.0.0.1:9/api?access_token=***")


def test_quiet_is_silent_on_success_and_speaks_on_failure(db_file):
    ok = invoke("ingest", "--all", "--quiet", "--source", "counter", "--db", str(db_file))
    bad = CliRunner().invoke(main, ["ingest", "--all", "--quiet", "--source", "failing", "--db", str(db_file)])

    assert ok.exit_code == 0 and ok.output == ""
    assert bad.exit_code == 1 and "failing: http://127.0.0.1:9/api" in bad.output


def test_hung_source_is_killed_at_its_time_limit_and_the_rest_still_run(db_file):
    result = invoke("ingest", "--all", "--source", "hanging", "--source", "counter", "--timeout", "10", "--json", "--db", str(db_file))

    payload = json.loads(result.stdout)
    statuses = {s["source"]: s["status"] for s in payload["sources"]}
    assert statuses == {"hanging": "timeout", "counter": "ok"}
    assert result.exit_code == 1
    assert query(db_file, "SELECT status, error FROM ingest_runs WHERE source = 'hanging'")[0][0] == "failed"
    assert "timed out after 10 s" in query(db_file, "SELECT error FROM ingest_runs WHERE source = 'hanging'")[0][0]
    assert pids_mentioning("tests.ops_fakes.hanging") == []  # killed, not orphaned


def test_crashed_source_process_is_reported_and_recorded(db_file):
    result = invoke("ingest", "--all", "--source", "crashing", "--source", "counter", "--json", "--db", str(db_file))

    statuses = {s["source"]: (s["status"], s["error"]) for s in json.loads(result.stdout)["sources"]}
    assert statuses["crashing"][0] == "crashed" and "signal 9" in statuses["crashing"][1]
    assert statuses["counter"][0] == "ok"
    assert query(db_file, "SELECT status FROM ingest_runs WHERE source = 'crashing'") == [("failed",)]


def test_unknown_source_names_the_closest(db_file):
    result = CliRunner().invoke(main, ["ingest", "--all", "--source", "countr", "--db", str(db_file)])

    assert result.exit_code == 1
    assert "Unknown source 'countr'. Did you mean 'counter'?" in result.output
    assert not db_file.exists()


def test_per_source_commands_and_help_still_work(db_file):
    snapshot = invoke("ingest", "snapshot", "--db", str(db_file))
    bare = invoke("ingest")
    mixed = CliRunner().invoke(main, ["ingest", "--all", "snapshot"])

    assert snapshot.exit_code == 0 and "loaded 823 snapshot observations" in snapshot.output
    assert bare.exit_code == 0 and "--all" in bare.output and "snapshot" in bare.output
    assert mixed.exit_code == 2 and "do not combine" in mixed.output


def test_corrupt_database_is_refused_and_never_overwritten(db_file):
    garbage = b"this is not a duckdb file\n" * 4000
    db_file.write_bytes(garbage)

    ingest = CliRunner().invoke(main, ["ingest", "--all", "--db", str(db_file)])
    status = CliRunner().invoke(main, ["status", "--db", str(db_file)])

    for result in (ingest, status):
        assert result.exit_code == 1
        assert "is not a DuckDB database (or it is damaged); it was left untouched" in result.output
        assert "Traceback" not in result.output
    assert db_file.read_bytes() == garbage
    assert not database.staging_path(db_file).exists()


def test_extra_sources_setting_is_validated(monkeypatch):
    monkeypatch.setenv("PULSE_EXTRA_SOURCES", "counter")
    with pytest.raises(PulseError, match="is not name=module"):
        runner.configured_sources()


def test_catalogue_reports_a_broken_module_without_hiding_others(monkeypatch):
    monkeypatch.setenv("PULSE_EXTRA_SOURCES", "broken=tests.ops_fakes.no_such_module," + EXTRA_SOURCES)

    infos = {i.name: i for i in runner.catalogue()}

    assert "cannot import tests.ops_fakes.no_such_module" in infos["broken"].error
    assert infos["counter"].cadence.total_seconds() == 3600 and infos["counter"].error is None
    assert infos["snapshot"].description.startswith("Embedded")


def test_due_skips_sources_run_recently_for_their_cadence(db_file):
    invoke("ingest", "--all", "--source", "counter", "--source", "failing", "--db", str(db_file))

    result = invoke("ingest", "--all", "--due", "--source", "counter", "--source", "failing", "--json", "--db", str(db_file))

    by = {s["source"]: s for s in json.loads(result.stdout)["sources"]}
    assert by["counter"]["status"] == "skipped" and by["counter"]["note"].startswith("not due: last good run 0.0 h ago, expected every 1 h")
    assert by["failing"]["status"] == "failed"  # a failing source is always due
    assert query(db_file, "SELECT count(*) FROM ingest_runs WHERE source = 'counter'") == [(1,)]
    table = invoke("ingest", "--all", "--due", "--source", "counter", "--db", str(db_file))
    assert table.exit_code == 0 and "0 of 0 sources succeeded; 1 not due, skipped." in table.output


def test_source_becomes_due_after_most_of_its_cadence(db_file):
    import datetime as dt

    from pulse import store

    invoke("ingest", "--all", "--source", "counter", "--db", str(db_file))
    sources = runner.select(["counter"])

    assert "counter" in runner.not_due(db_file, sources, now=store.utcnow() + dt.timedelta(minutes=50))
    assert runner.not_due(db_file, sources, now=store.utcnow() + dt.timedelta(minutes=55)) == {}


def test_source_module_that_cannot_import_is_reported_and_recorded(db_file, monkeypatch):
    monkeypatch.setenv("PULSE_EXTRA_SOURCES", "broken=tests.ops_fakes.no_such_module," + EXTRA_SOURCES)

    result = invoke("ingest", "--all", "--source", "broken", "--source", "counter", "--json", "--db", str(db_file))

    by = {s["source"]: s for s in json.loads(result.stdout)["sources"]}
    assert by["broken"]["status"] == "failed" and "cannot import tests.ops_fakes.no_such_module" in by["broken"]["error"]
    assert by["counter"]["status"] == "ok"
    assert query(db_file, "SELECT status, run_id FROM ingest_runs WHERE source = 'broken'") == [("failed", by["broken"]["run_id"])]


def test_partial_run_that_stored_nothing_counts_as_a_failure(db_file):
    result = invoke("ingest", "--all", "--source", "empty_partial", "--source", "counter", "--json", "--db", str(db_file))
    status = CliRunner().invoke(main, ["status", "--json", "--source", "empty_partial", "--db", str(db_file)])

    payload = json.loads(result.stdout)
    assert result.exit_code == 1 and payload["failed"] == ["empty_partial"]
    assert {s["source"]: s["status"] for s in payload["sources"]} == {"empty_partial": "partial", "counter": "ok"}
    verdict = json.loads(status.stdout)["sources"][0]
    assert status.exit_code == 1 and verdict["state"] == "failing" and "Could not reach" in verdict["last_error"]


def test_a_partial_run_that_stored_nothing_stays_due(db_file):
    invoke("ingest", "--all", "--source", "empty_partial", "--db", str(db_file))

    assert runner.not_due(db_file, runner.select(["empty_partial"])) == {}
