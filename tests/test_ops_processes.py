"""Real processes: run locks, colliding runs, SIGKILL at each point of a write, readers during writes.

Every loop is bounded by counts and a deadline; all HTTP is loopback (pytest-httpserver).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from werkzeug import Response

from ingest import runner
from pulse import db as database
from tests.ops_fakes.procs import ROOT, digest, env, pids_mentioning, pulse, query, start_pulse, wait_for

pytestmark = pytest.mark.slow

COUNT_SQL = "SELECT count(*), count(DISTINCT date) FROM observations WHERE metric = 'synthetic_counter'"


def lock_record(db_file):
    text = runner.run_lock_path(db_file).read_text() if runner.run_lock_path(db_file).exists() else ""
    return json.loads(text) if text.strip() else None


def test_second_run_exits_promptly_with_who_holds_the_lock(snapshot_db):
    first = start_pulse("ingest", "--all", "--source", "counter", "--db", str(snapshot_db), env_extra={"OPS_FAKE_SLEEP": "8"})
    try:
        wait_for(lambda: lock_record(snapshot_db) is not None, what="the first run to take the lock")
        second = pulse("ingest", "--all", "--source", "counter", "--db", str(snapshot_db))
        assert first.poll() is None, "the second run should not have waited for the first"
        assert second.returncode == runner.EXIT_BUSY
        assert f"Another `pulse ingest --all` is running on {snapshot_db} (pid {first.pid}" in second.stderr
        assert "pass --wait to queue" in second.stderr
    finally:
        assert first.wait(timeout=120) == 0
    assert query(snapshot_db, COUNT_SQL) == [(5, 5)]  # only the first one ran
    assert lock_record(snapshot_db) is None  # a clean exit leaves no holder record


def test_wait_queues_behind_the_running_one(snapshot_db):
    first = start_pulse("ingest", "--all", "--source", "counter", "--db", str(snapshot_db), env_extra={"OPS_FAKE_SLEEP": "3"})
    wait_for(lambda: lock_record(snapshot_db) is not None, what="the first run to take the lock")
    second = pulse("ingest", "--all", "--source", "counter", "--wait", "--json", "--db", str(snapshot_db))

    assert first.wait(timeout=120) == 0 and second.returncode == 0
    assert "waiting for the run lock held by pid" in second.stderr
    assert query(snapshot_db, COUNT_SQL) == [(10, 10)]
    assert query(snapshot_db, "SELECT count(*) FROM ingest_runs WHERE source = 'counter' AND status = 'ok'") == [(2,)]


def test_two_runs_started_together_one_runs_one_backs_off(snapshot_db):
    procs = [start_pulse("ingest", "--all", "--source", "counter", "--db", str(snapshot_db), env_extra={"OPS_FAKE_SLEEP": "3"})
             for _ in range(2)]
    codes = sorted(p.wait(timeout=120) for p in procs)

    assert codes == [0, runner.EXIT_BUSY]
    assert query(snapshot_db, COUNT_SQL) == [(5, 5)]


def test_lock_left_by_a_killed_run_is_taken_over(snapshot_db):
    before = query(snapshot_db, "SELECT count(*) FROM observations")
    first = start_pulse("ingest", "--all", "--source", "counter", "--db", str(snapshot_db), env_extra={"OPS_FAKE_SLEEP": "60"})
    wait_for(lambda: pids_mentioning(f"--child {first.pid} counter"), what="the source child process")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    # The child dies with its runner (PR_SET_PDEATHSIG): no orphan keeps fetching or writing.
    wait_for(lambda: not pids_mentioning(f"--child {first.pid} counter"), timeout=30, what="the orphaned child to die")
    assert lock_record(snapshot_db)["pid"] == first.pid  # the dead run's record is still there

    second = pulse("ingest", "--all", "--source", "counter", "--db", str(snapshot_db))

    assert second.returncode == 0, second.stderr
    assert f"took over the run lock left by pid {first.pid}" in second.stderr
    assert query(snapshot_db, COUNT_SQL) == [(5, 5)]
    assert query(snapshot_db, "SELECT count(*) FROM observations") == [(before[0][0] + 5,)]


@pytest.mark.parametrize("point", database.PAUSE_POINTS)
def test_sigkill_at_each_point_of_a_write_loses_nothing(snapshot_db, tmp_path, point):
    assert pulse("ingest", "--all", "--source", "counter", "--db", str(snapshot_db)).returncode == 0
    live_before = digest(snapshot_db)
    marker = database.pause_marker(snapshot_db)
    run = start_pulse("ingest", "--all", "--source", "counter", "--json", "--db", str(snapshot_db),
                      env_extra={"PULSE_TEST_PAUSE_AT": point})
    wait_for(marker.exists, what=f"the writer to reach '{point}'")
    writer = int(marker.read_text())
    os.kill(writer, signal.SIGKILL)
    out, err = run.communicate(timeout=120)

    # The runner saw the writer die, reported it, and carried on; the live file was never touched.
    source = json.loads(out)["sources"][0]
    assert run.returncode == 1 and source["status"] == "crashed" and "signal 9" in source["error"]
    assert query(snapshot_db, COUNT_SQL) == [(5, 5)]
    assert query(snapshot_db, "SELECT count(*) FROM observations WHERE source = 'snapshot'") == [(823,)]
    assert query(snapshot_db, "SELECT status FROM ingest_runs WHERE source = 'counter' ORDER BY finished_at") == [("ok",), ("failed",)]
    # The next run completes and clears the dead writer's staging file.
    again = pulse("ingest", "--all", "--source", "counter", "--db", str(snapshot_db))
    assert again.returncode == 0, again.stderr
    assert query(snapshot_db, COUNT_SQL) == [(10, 10)]
    assert not database.staging_path(snapshot_db).exists()
    assert digest(snapshot_db) != live_before


def test_sigkill_of_the_whole_run_mid_write_leaves_the_live_file_as_it_was(snapshot_db, tmp_path):
    live_before = digest(snapshot_db)
    marker = database.pause_marker(snapshot_db)
    run = start_pulse("ingest", "--all", "--source", "counter", "--db", str(snapshot_db),
                      env_extra={"PULSE_TEST_PAUSE_AT": "replace"})
    wait_for(marker.exists, what="the writer to reach 'replace'")
    assert database.staging_path(snapshot_db).exists()  # the finished copy, one rename from live
    run.send_signal(signal.SIGKILL)  # the runner; its child follows by PR_SET_PDEATHSIG
    run.wait(timeout=30)
    wait_for(lambda: not pids_mentioning(f"--child {run.pid} "), timeout=30, what="the child to die")

    assert digest(snapshot_db) == live_before
    assert query(snapshot_db, "SELECT count(*) FROM observations WHERE source = 'snapshot'") == [(823,)]
    again = pulse("ingest", "--all", "--source", "counter", "--db", str(snapshot_db))
    assert again.returncode == 0 and "took over the run lock" in again.stderr
    assert query(snapshot_db, COUNT_SQL) == [(5, 5)]


def test_readers_keep_answering_during_an_ingest_loop_and_see_every_batch(snapshot_db, tmp_path, httpserver):
    """Three processes query through the dashboard's read path while six ingests swap the file."""
    runs, batch = 6, 5
    served = []

    def handler(request):
        k = len(served)
        served.append(k)
        rows = [{"date": f"2001-01-{k * batch + i + 1:02d}", "value": float(k * batch + i)} for i in range(batch)]
        return Response(json.dumps({"batch": k, "rows": rows}), content_type="application/json")

    httpserver.expect_request("/batch").respond_with_handler(handler)
    stop = tmp_path / "stop"
    readers = [
        subprocess.Popen([sys.executable, "-m", "tests.ops_fakes.reader", str(snapshot_db), str(tmp_path / f"r{i}.json"), str(stop), "300"],
                         cwd=ROOT, env=env(), stderr=subprocess.DEVNULL)
        for i in range(3)
    ]
    try:
        for _ in range(runs):
            result = pulse("ingest", "--all", "--quiet", "--source", "counter", "--db", str(snapshot_db),
                           env_extra={"OPS_FAKE_URL": httpserver.url_for("").rstrip("/")})
            assert result.returncode == 0, result.stderr
        time.sleep(0.5)  # let every reader observe the final file
    finally:
        stop.touch()
        for reader in readers:
            reader.wait(timeout=60)

    assert len(served) == runs
    assert query(snapshot_db, COUNT_SQL) == [(runs * batch, runs * batch)]  # nothing lost, nothing twice
    assert query(snapshot_db, "SELECT count(*) FROM ingest_runs WHERE source = 'counter' AND status = 'ok'") == [(runs,)]
    for i in range(3):
        seen = json.loads((tmp_path / f"r{i}.json").read_text())
        assert seen["errors"] == []
        counts = [n for n, _, _ in seen["seen"]]
        assert len(counts) > 50
        assert all(n == distinct for n, distinct, _ in seen["seen"])  # never a half-applied batch
        assert all(n % batch == 0 for n in counts)
        assert counts == sorted(counts), "a reader went back in time"
        assert counts[-1] == runs * batch  # saw the final data without a restart
        assert len(set(counts)) >= 3  # and the batches in between as they landed


def _mount_tmpfs(target, size: str) -> None:
    target.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], check=True, capture_output=True, timeout=30)
    except (subprocess.CalledProcessError, FileNotFoundError, PermissionError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {exc}; the ENOSPC fault-injection tests still run")


@pytest.mark.parametrize("batch", ["5", "200000"], ids=["copy-fails", "write-fails"])
def test_full_disk_during_ingest_leaves_the_previous_database(snapshot_db, tmp_path, batch):
    """On a tiny tmpfs: first the staging copy cannot fit; then the copy fits but the new rows do not."""
    small = tmp_path / "small"
    size = snapshot_db.stat().st_size
    # copy-fails: room for the live file and half a copy; write-fails: room for two copies and a little.
    _mount_tmpfs(small, str(int(size * 1.5)) if batch == "5" else str(int(size * 2) + 1_500_000))
    try:
        live = small / "pulse.duckdb"
        live.write_bytes(snapshot_db.read_bytes())
        before = digest(live)

        result = pulse("ingest", "--all", "--source", "counter", "--json", "--db", str(live), env_extra={"OPS_FAKE_BATCH": batch})

        source = json.loads(result.stdout)["sources"][0]
        assert result.returncode == 1 and source["status"] == "failed"
        assert "is full; the database was left as it was" in source["error"]
        assert query(live, "SELECT count(*) FROM observations WHERE source = 'snapshot'") == [(823,)]
        assert not database.staging_path(live).exists()
        if batch == "5":
            assert digest(live) == before  # not even the failure could be recorded: no room for a copy
        else:
            # The big write failed; the small write recording the failure fitted once its staging was freed.
            assert query(live, "SELECT status FROM ingest_runs WHERE source = 'counter'") == [("failed",)]
    finally:
        subprocess.run(["umount", str(small)], check=False, timeout=30)


def test_sigterm_stops_the_run_cleanly(snapshot_db):
    """systemd stops a unit with SIGTERM: the child is killed, the lock record cleared, nothing written."""
    run = start_pulse("ingest", "--all", "--source", "counter", "--db", str(snapshot_db), env_extra={"OPS_FAKE_SLEEP": "60"})
    wait_for(lambda: pids_mentioning(f"--child {run.pid} counter"), what="the source child process")
    run.send_signal(signal.SIGTERM)

    assert run.wait(timeout=60) == 128 + signal.SIGTERM
    assert pids_mentioning(f"--child {run.pid} counter") == []
    assert lock_record(snapshot_db) is None  # a stop is not a crash: the next run will not warn
    assert query(snapshot_db, COUNT_SQL) == [(0, 0)]


def test_token_in_an_unexpected_traceback_is_redacted_in_every_stream(db_file):
    token = "ghp_traceback_secret_987654321"
    result = pulse("ingest", "--all", "--verbose", "--source", "leaky", "--source", "failing", "--db", str(db_file),
                   env_extra={"GITHUB_TOKEN": token})

    assert result.returncode == 1
    assert "leaky failed unexpectedly" in result.stderr and "Traceback" in result.stderr  # the log is useful...
    assert "Bearer ***" in result.stderr and "access_token=***" in result.stdout
    assert token not in result.stdout + result.stderr  # ...and clean
    runs = query(db_file, "SELECT source, status, error FROM ingest_runs ORDER BY source")
    assert [(s, st) for s, st, _ in runs] == [("failing", "failed"), ("leaky", "failed")]  # each recorded once
    assert token not in str(runs) and "Bearer ***" in runs[1][2]
