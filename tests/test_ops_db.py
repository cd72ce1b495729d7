"""The staged-write design under fault injection, in-process: swaps, leftovers, ENOSPC, run lock."""

from __future__ import annotations

import errno
import json
import os

import pytest

from ingest import runner
from pulse import db as database
from pulse.errors import DatabaseError
from tests.ops_fakes import counter
from tests.ops_fakes.procs import digest

COUNT = "SELECT count(*) FROM observations WHERE metric = 'synthetic_counter'"


def test_new_read_connection_sees_a_swap_while_an_old_one_is_still_open(snapshot_db):
    """Regression: DuckDB caches one instance per path, so a plain connect returned the old file."""
    old = database.open_read(snapshot_db)
    assert old.execute(COUNT).fetchone() == (0,)

    counter.run(snapshot_db)
    new = database.open_read(snapshot_db)

    assert new.execute(COUNT).fetchone() == (5,)
    assert old.execute(COUNT).fetchone() == (0,)  # the old one keeps its consistent snapshot
    assert database.read_cursor(new).execute(COUNT).fetchone() == (5,)  # cursors read the live file too
    old.close(), new.close()


def test_leftovers_of_a_dead_writer_are_cleared_by_the_next_write(snapshot_db):
    staging = database.staging_path(snapshot_db)
    staging.write_bytes(b"half a copy")
    wal = staging.with_name(staging.name + ".wal")
    wal.write_bytes(b"a dead writer's log")
    database.lock_path(snapshot_db).write_text("999999999")  # a dead writer's pid

    counter.run(snapshot_db)

    assert not staging.exists() and not wal.exists()
    con = database.open_read(snapshot_db)
    assert con.execute(COUNT).fetchone() == (5,)
    con.close()


def test_enospc_while_copying_leaves_the_live_file_and_says_the_disk_is_full(snapshot_db, monkeypatch, caplog):
    before = digest(snapshot_db)

    def full(src, dst):
        with open(dst, "wb") as fh:
            fh.write(b"x" * 1000)  # a partial copy, as a real full disk leaves one
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(database.shutil, "copyfile", full)
    with pytest.raises(DatabaseError, match="is full; the database was left as it was"):
        counter.run(snapshot_db)

    assert digest(snapshot_db) == before
    assert not database.staging_path(snapshot_db).exists()
    assert "could not record failed counter run" in caplog.text  # the record needed a copy too


def test_enospc_while_writing_discards_the_staging_copy(snapshot_db, monkeypatch):
    before = digest(snapshot_db)

    def full(con, body, run):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(counter, "save", full)
    with pytest.raises(DatabaseError, match="is full"):
        counter.run(snapshot_db)

    con = database.open_read(snapshot_db)
    assert con.execute(COUNT).fetchone() == (0,)
    assert con.execute("SELECT status FROM ingest_runs WHERE source = 'counter'").fetchall() == [("failed",)]
    con.close()
    assert digest(snapshot_db) != before  # only the failure record was added
    assert not database.staging_path(snapshot_db).exists()


def test_run_lock_is_exclusive_and_names_its_holder(db_file):
    with runner.run_lock(db_file) as mine:
        assert json.loads(runner.run_lock_path(db_file).read_text())["pid"] == os.getpid() == mine["pid"]
        with pytest.raises(runner.RunnerBusy, match=rf"pid {os.getpid()} on .*, started .*min ago\); this run did nothing"):
            with runner.run_lock(db_file):
                pass
        with pytest.raises(runner.RunnerBusy):
            with runner.run_lock(db_file, wait=True, wait_timeout=0.3):
                pass
    assert runner.run_lock_path(db_file).read_text() == ""


def test_run_lock_record_of_a_dead_holder_is_taken_over(db_file, caplog):
    runner.run_lock_path(db_file).write_text(json.dumps({"pid": 999999999, "host": "old", "started_at": "2026-01-01T00:00:00+00:00"}))

    with runner.run_lock(db_file) as mine:
        assert mine["previous"]["pid"] == 999999999

    assert "took over the run lock left by pid 999999999 on old" in caplog.text


def test_file_shortened_by_a_checkpoint_still_opens(snapshot_db):
    """Regression: a checkpoint drops free blocks off the end of the file while the header still
    counts them; a completeness check on total_blocks refused every database after a few writes."""
    import duckdb

    shortened = False
    for _ in range(4):
        counter.run(snapshot_db)
        con = duckdb.connect(":memory:")
        con.execute(f"ATTACH '{snapshot_db}' AS f (READ_ONLY)")
        block, total = con.execute("SELECT block_size, total_blocks FROM pragma_database_size() WHERE database_name = 'f'").fetchone()
        con.close()
        shortened |= snapshot_db.stat().st_size < 3 * 4096 + block * total
        database.open_read(snapshot_db).close()  # must not say "damaged"
    assert shortened, "the scenario did not occur; the test proves nothing"
    reader = database.open_read(snapshot_db)
    assert reader.execute(COUNT).fetchone() == (20,)
    reader.close()


def test_runner_and_freshness_do_not_import_the_ui():
    import subprocess
    import sys

    from tests.ops_fakes.procs import ROOT

    code = "import sys, ingest.runner, analytics.freshness, pulse.commands.ops; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr
