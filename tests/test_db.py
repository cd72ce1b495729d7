"""The store: migrations, staged atomic writes, and refusal to touch bad files."""

from __future__ import annotations

import os

import duckdb
import pandas as pd
import pytest

from pulse import bootstrap, db, schema, store
from pulse.errors import DatabaseError


def _obs(value: float, date: str = "2024-01-01", framework: str = "pytorch") -> pd.DataFrame:
    return pd.DataFrame([{"source": "test_synthetic", "framework": framework, "metric": "github_stars", "date": date, "value": value}])


def test_migrations_are_idempotent(db_file):
    with db.write_session(db_file) as con:
        first = db.applied_versions(con)
    with db.write_session(db_file) as con:
        assert db.migrate(con) == []
        assert db.applied_versions(con) == first == {m[0] for m in schema.MIGRATIONS}
    con = db.open_read(db_file)
    assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(schema.MIGRATIONS)


def test_upsert_never_duplicates_and_updates_value(db_file):
    with db.write_session(db_file) as con:
        store.upsert_observations(con, _obs(1.0), run_id="r1")
    with db.write_session(db_file) as con:
        store.upsert_observations(con, pd.concat([_obs(2.0), _obs(3.0, "2024-02-01")]), run_id="r2")
    rows = db.open_read(db_file).execute("SELECT date, value, run_id FROM observations ORDER BY date").fetchall()
    assert [(str(d), v, r) for d, v, r in rows] == [("2024-01-01", 2.0, "r2"), ("2024-02-01", 3.0, "r2")]


def test_failed_write_leaves_live_file_intact(db_file):
    with db.write_session(db_file) as con:
        store.upsert_observations(con, _obs(1.0))
    before = db_file.read_bytes()
    with pytest.raises(RuntimeError), db.write_session(db_file) as con:
        store.upsert_observations(con, _obs(99.0, "2024-05-01"))
        raise RuntimeError("boom mid-write")
    assert db_file.read_bytes() == before
    assert not db.staging_path(db_file).exists()
    assert db.open_read(db_file).execute("SELECT count(*) FROM observations").fetchone()[0] == 1


def test_reader_open_during_write_keeps_old_data_then_sees_new(db_file):
    with db.write_session(db_file) as con:
        store.upsert_observations(con, _obs(1.0))
    reader = db.open_read(db_file)
    token = db.version_token(db_file)
    with db.write_session(db_file) as con:
        store.upsert_observations(con, _obs(2.0, "2024-02-01"))
        # Another read-only connection can still open the live file while the writer works.
        assert db.open_read(db_file).execute("SELECT count(*) FROM observations").fetchone()[0] == 1
    assert reader.execute("SELECT count(*) FROM observations").fetchone()[0] == 1
    assert db.version_token(db_file) != token
    assert db.open_read(db_file).execute("SELECT count(*) FROM observations").fetchone()[0] == 2


def test_not_a_database_is_refused_and_untouched(tmp_path):
    bad = tmp_path / "notes.duckdb"
    bad.write_text("this is a text file, not a database\n")
    with pytest.raises(DatabaseError, match="not a DuckDB database") as info:
        db.open_read(bad)
    assert str(bad) in str(info.value) and "PULSE_DB" in str(info.value)
    with pytest.raises(DatabaseError):
        bootstrap.ensure_database(bad)
    with pytest.raises(DatabaseError), db.write_session(bad):
        pass
    assert bad.read_text() == "this is a text file, not a database\n"


def test_truncated_database_is_refused(snapshot_db):
    data = snapshot_db.read_bytes()
    snapshot_db.write_bytes(data[: len(data) // 3])
    with pytest.raises(DatabaseError):
        con = db.open_read(snapshot_db)
        con.execute("SELECT count(*) FROM observations").fetchone()
    assert len(snapshot_db.read_bytes()) == len(data) // 3


@pytest.mark.parametrize("where", ["/proc/pulse-test/pulse.duckdb", "file-as-dir"])
def test_unwritable_location_gives_advice(tmp_path, where):
    if where == "file-as-dir":
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where a directory should be")
        target = blocker / "pulse.duckdb"
    else:
        target = __import__("pathlib").Path(where)
    with pytest.raises(DatabaseError, match="Point PULSE_DB"):
        bootstrap.ensure_database(target)


def test_missing_database_read_says_how_to_build(tmp_path):
    with pytest.raises(DatabaseError, match="pulse db init"):
        db.open_read(tmp_path / "absent.duckdb")


def test_writer_lock_times_out_with_holder_pid(db_file):
    with db.writer_lock(db_file):
        with pytest.raises(DatabaseError, match=f"pid {os.getpid()}"):
            with db.writer_lock(db_file, timeout=0.2):
                pass


def test_failed_run_is_recorded_and_data_kept(db_file):
    with db.write_session(db_file) as con:
        store.upsert_observations(con, _obs(1.0))
    with pytest.raises(ValueError), store.tracked_run(db_file, "test_synthetic"):
        raise ValueError("bad body from the synthetic source")
    con = db.open_read(db_file)
    assert con.execute("SELECT status, error FROM ingest_runs").fetchall() == [("failed", "ValueError: bad body from the synthetic source")]
    assert con.execute("SELECT count(*) FROM observations").fetchone()[0] == 1


def test_live_file_has_no_wal_after_write(db_file):
    with db.write_session(db_file) as con:
        store.upsert_observations(con, _obs(1.0))
    assert not os.path.exists(str(db_file) + ".wal")
    duckdb.connect(str(db_file), read_only=True).close()
