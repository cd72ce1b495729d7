"""Make sure a usable database exists: build it from the snapshot, or migrate it, when needed."""

from __future__ import annotations

import logging
from pathlib import Path

from pulse import db

log = logging.getLogger(__name__)


def ensure_database(path: Path) -> bool:
    """Build the database from the embedded snapshot if absent, migrate if behind.

    Returns True when something was written. An existing file is never replaced when it is
    not a DuckDB database: DatabaseError says so.
    """
    from ingest import snapshot

    if not db.exists(path):
        log.info("no database at %s: building it from the embedded snapshot", path)
        snapshot.run(path)
        return True
    if db.needs_migration(path):
        with db.write_session(path):
            pass
        # A newer version may embed new cited data (conference mentions) and ledger columns
        # (claim specifications): reload the embedded snapshot; idempotent, other sources untouched.
        snapshot.run(path)
        return True
    return False
