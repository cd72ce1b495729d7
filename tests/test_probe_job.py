"""The dashboard's probe button: one probe run per server (a lock file), unique job log names.

Issue 14: four sockets ran four probes at once (the limit was per browser session) and their
logs shared one name. Everything here uses real processes holding a real lock file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest import probe_job
from pulse.cli import main

ROOT = Path(__file__).resolve().parent.parent

HOLDER = """
import sys, time
from ingest import probe_job
try:
    with probe_job.hold_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
except probe_job.ProbeBusy as exc:
    print("busy", exc, flush=True)
    sys.exit(75)
"""


def _holder(name: str, seconds: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-c", HOLDER, name, str(seconds)], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)


@pytest.fixture
def held(tmp_path):
    """Another process holds this server's probe lock (as a running probe would)."""
    proc = _holder("job-other.progress.json", 60)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


def test_second_start_is_refused_while_a_probe_runs_and_starts_nothing(held, db_file):
    before = sorted(os.listdir(probe_job.lock_path().parent))
    assert probe_job.running()["pid"] == held.pid
    with pytest.raises(probe_job.ProbeBusy, match=f"already in progress on this server .*pid {held.pid}"):
        probe_job.start(db_file, 10)
    assert sorted(os.listdir(probe_job.lock_path().parent)) == before  # no log, no process


def test_cli_probe_run_is_refused_with_exit_75_while_another_holds_the_lock(held, db_file):
    result = CliRunner().invoke(main, ["probe", "run", "--db", str(db_file), "--budget", "10", "--no-ingest"])
    assert result.exit_code == 75, result.output
    assert "A probe run is already in progress on this server" in result.output and "Traceback" not in result.output
    assert not db_file.exists()


def test_a_job_that_loses_the_race_is_reported_busy(held, db_file, monkeypatch):
    """Two sessions click at once: both see no run, both spawn; the lock lets one through."""
    monkeypatch.setattr(probe_job, "running", lambda: None)  # this session looked just before the other took the lock
    with pytest.raises(probe_job.ProbeBusy, match=f"pid {held.pid}"):
        probe_job.start(db_file, 10)


def test_four_concurrent_holders_one_runs_three_are_refused():
    procs = [_holder(f"job-{i}.progress.json", 3) for i in range(4)]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 75, 75, 75], outputs
    assert sum("held" in o for o in outputs) == 1
    assert probe_job.running() is None  # released when the holder ended


def test_lock_is_freed_when_its_holder_is_killed():
    proc = _holder("job-killed.progress.json", 60)
    assert proc.stdout.readline().strip() == "held"
    proc.kill()
    proc.wait()
    assert probe_job.running() is None


def test_job_logs_get_unique_names_even_within_one_second(tmp_path):
    names = {probe_job._unique_names(tmp_path) for _ in range(200)}
    assert len(names) == 200
    logs = [log for _, log in names]
    assert len(set(logs)) == 200 and all(log.exists() for log in logs)


def test_sequential_jobs_write_separate_logs(db_file):
    first = probe_job.start(db_file, 5, device="tpu")
    first.proc.wait(timeout=120)
    second = probe_job.start(db_file, 5, device="tpu")
    second.proc.wait(timeout=120)
    assert first.log_file != second.log_file
    assert first.log_file.read_text() and second.log_file.read_text()
    deadline = time.time() + 10
    while probe_job.running() is not None and time.time() < deadline:
        time.sleep(0.05)
    assert probe_job.running() is None


def test_page_button_is_off_while_another_session_runs_a_probe(held, monkeypatch, snapshot_db):
    from tests.test_probe_ingest import _page

    monkeypatch.setenv("PULSE_ALLOW_PROBE", "1")
    at = _page(monkeypatch, snapshot_db)
    assert at.button(key="probe_run_button").disabled
    assert any("A probe run is in progress on this server" in i.value and f"pid {held.pid}" in i.value for i in at.info)


def test_page_click_that_loses_the_race_shows_a_warning(held, monkeypatch, snapshot_db):
    from tests.test_probe_ingest import _page

    monkeypatch.setenv("PULSE_ALLOW_PROBE", "1")
    monkeypatch.setattr(probe_job, "running", lambda: None)  # the page looked before the other run started
    at = _page(monkeypatch, snapshot_db)
    at.button(key="probe_run_button").click().run()
    assert not at.exception
    assert any("already in progress" in w.value for w in at.warning)
    assert "probe_job" not in at.session_state
