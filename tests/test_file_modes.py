"""The staged write keeps the live database's file mode (issue 14: 0600 became 0644 after an ingest)."""

from __future__ import annotations

import os
import stat

import pytest

from pulse import db, store


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o660])
def test_a_write_keeps_the_database_mode(snapshot_db, mode):
    os.chmod(snapshot_db, mode)
    inode = os.stat(snapshot_db).st_ino
    with db.write_session(snapshot_db) as con:
        store.save_run(con, store.Run(source="synthetic-mode-test", status="ok"))
    after = os.stat(snapshot_db)
    assert after.st_ino != inode  # really a new file swapped in
    assert stat.S_IMODE(after.st_mode) == mode


def test_the_staging_copy_is_never_looser_than_the_live_file(snapshot_db, monkeypatch):
    """Seen from inside the write, while the copy holds the private data."""
    os.chmod(snapshot_db, 0o600)
    old_umask = os.umask(0o000)  # the loosest umask: only the explicit mode can keep it private
    try:
        with db.write_session(snapshot_db):
            assert stat.S_IMODE(os.stat(db.staging_path(snapshot_db)).st_mode) == 0o600
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(snapshot_db).st_mode) == 0o600


def test_an_ingest_keeps_a_private_database_private(snapshot_db, tmp_path):
    from click.testing import CliRunner

    from pulse.cli import main
    from tests.probe_synthetic import make_doc, write

    os.chmod(snapshot_db, 0o600)
    write(tmp_path / "results", make_doc())
    result = CliRunner().invoke(main, ["ingest", "probe", str(tmp_path / "results"), "--db", str(snapshot_db)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(snapshot_db).st_mode) == 0o600
