"""DuckDB access: short read-only connections, and writes into a staging copy swapped in atomically.

Why a staging copy: DuckDB lets one process write a file and, while it writes, no other
process read it. Writers therefore never open the live file: they copy it, write the copy,
checkpoint, fsync and `os.replace` it over the live one. Readers (the dashboard) open the
live file read-only and never wait; a writer killed at any point leaves the live file as it
was; a full disk fails the copy, not the live file. A lock file serialises writers.

With PULSE_STORE set, the same functions read and write a DuckLake team store instead
(pulse.lake): callers pass their `path` as always and never know which store they use.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from pulse import lake, schema
from pulse.errors import DatabaseError, explain

log = logging.getLogger(__name__)

_NOT_DUCKDB_MARKERS = ("could not read enough bytes", "truncated", "not a valid duckdb database", "not a valid duckdb file", "file is not a duckdb", "failed to read database header", "invalid magic", "unable to read")


def staging_path(path: Path) -> Path:
    return path.with_name(path.name + ".staging")


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def version_token(path: Path) -> tuple | None:
    """Changes whenever a writer swaps in a new file (or commits to the team store); None when there is none."""
    if lake.enabled():
        return lake.version_token()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _explain_open_error(path: Path, exc: Exception) -> DatabaseError:
    text = str(exc)
    lowered = text.lower()
    if any(marker in lowered for marker in _NOT_DUCKDB_MARKERS) or "serialization" in lowered or "corrupt" in lowered:
        return DatabaseError(
            f"{path} is not a DuckDB database (or it is damaged); it was left untouched.",
            "Move it away or point PULSE_DB / --db at another file, then run `pulse db init`.",
        )
    if "lock" in lowered:
        return DatabaseError(
            f"{path} is locked by another process that opened it for writing.",
            "Stop that process (only Framework Pulse's staged writer should write this file) and retry.",
        )
    return DatabaseError(f"Cannot open database {path}: {text}", "Check the path and its permissions.")


def uses_team_store() -> bool:
    """True when PULSE_STORE names a DuckLake store: then `path` arguments are not used."""
    return lake.enabled()


def describe(path: Path) -> str:
    """Where reads and writes go, for messages: the file, or the team store without its password."""
    return lake.describe() if lake.enabled() else str(path)


def exists(path: Path) -> bool:
    """Whether there is a database to read (the file, or the team store's catalog with Pulse's tables)."""
    return lake.exists() if lake.enabled() else path.exists()


def open_read(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the live database; DatabaseError with advice when impossible."""
    if lake.enabled():
        return lake.open_read()
    if not path.exists():
        raise DatabaseError(f"No database at {path}.", "Run `pulse db init` to build it from the embedded snapshot.")
    if path.is_dir():
        raise DatabaseError(f"{path} is a directory, not a database file.", "Point PULSE_DB / --db at a file.")
    _check_header(path)
    # A private in-memory instance that attaches the file: duckdb.connect(path) would reuse
    # the process-wide instance cached for that path, which keeps reading the old file
    # after a writer's swap.
    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False})  # never download
    try:
        con.execute(f"ATTACH '{_sql_literal(path)}' AS pulse (READ_ONLY)")
        con.execute("USE pulse")
        _check_complete(con, path)
    except (duckdb.Error, OSError) as exc:
        con.close()
        raise _explain_open_error(path, exc) from exc
    return con


def _check_header(path: Path) -> None:
    """Refuse, before ATTACH, a file that does not start like a DuckDB file: DuckDB would try
    to download the sqlite extension for a SQLite file (issue 14), and a FIFO would block."""
    hint = "Point PULSE_DB / --db at a Framework Pulse DuckDB file, or run `pulse db init` to build one."
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise DatabaseError(f"{path} is not a regular file, so not a database; it was left untouched.", hint)
            head = os.pread(fd, 16, 0)
        finally:
            os.close(fd)
    except OSError as exc:
        raise DatabaseError(f"Cannot read database {path} ({exc.strerror or exc}).", "Check the path and its permissions.") from exc
    if head.startswith(b"SQLite format 3\0"):
        raise DatabaseError(f"{path} is a SQLite database, not a DuckDB one; it was left untouched.", hint)
    if head[8:12] != b"DUCK":
        raise DatabaseError(f"{path} is not a DuckDB database (or it is damaged); it was left untouched.",
                            "Move it away or point PULSE_DB / --db at another file, then run `pulse db init`.")


# DuckDB files start with three 4 KiB headers, then fixed-size blocks.
_HEADER_BYTES = 3 * 4096


def _check_complete(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse a truncated file up front (a cut copy or download), not at some later query."""
    # used_blocks, not total_blocks: a checkpoint truncates trailing free blocks, so a valid
    # file is often shorter than total_blocks says (seen after a DELETE, e.g. a Trends re-import).
    block_size, used_blocks = con.execute(
        "SELECT block_size, used_blocks FROM pragma_database_size() WHERE database_name = 'pulse'"
    ).fetchone()
    if os.path.getsize(path) < _HEADER_BYTES + block_size * used_blocks:
        raise duckdb.IOException(f"{path} is shorter than its header says: not a valid DuckDB file (truncated)")


def read_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor (for another thread) on a connection from open_read, reading the same file."""
    cursor = con.cursor()
    cursor.execute("USE pulse")
    return cursor


def _sql_literal(path: Path) -> str:
    return str(path).replace("'", "''")


def applied_versions(con: duckdb.DuckDBPyConnection) -> set[int]:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' AND table_catalog = current_database()"
    ).fetchone()[0]
    if not exists:
        return set()
    return {row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()}


def migrate(con: duckdb.DuckDBPyConnection, adapt: Callable[[str], str | None] | None = None) -> list[int]:
    """Apply every pending migration; return the numbers applied (empty when up to date).

    `adapt` rewrites each statement for another store (None from it: skip the statement).
    """
    adapt = adapt or (lambda statement: statement)
    con.execute(adapt(schema.SCHEMA_VERSION_DDL))
    done = []
    for number, name, statements in schema.pending(applied_versions(con)):
        con.execute("BEGIN TRANSACTION")
        try:
            for statement in filter(None, map(adapt, statements)):
                con.execute(statement)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [number, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        done.append(number)
    return done


def needs_migration(path: Path) -> bool:
    con = open_read(path)
    try:
        return bool(schema.pending(applied_versions(con)))
    finally:
        con.close()


@contextlib.contextmanager
def writer_lock(path: Path, timeout: float = 60.0) -> Iterator[None]:
    """Exclusive lock serialising writers of `path`; the kernel frees it if the holder dies."""
    lock_file = lock_path(path)
    try:
        fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                    raise DatabaseError(
                        f"Another writer (pid {holder}) holds {lock_file}.",
                        "Wait for it to finish, or retry later.",
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def _unwritable(path: Path, exc: OSError) -> DatabaseError:
    if exc.errno == errno.ENOSPC:
        return DatabaseError(
            f"The disk holding {path} is full; the database was left as it was.",
            "Free some space and run the command again.",
        )
    return DatabaseError(
        f"Cannot write next to {path} ({exc.strerror or exc}); the database was left as it was.",
        "Point PULSE_DB / --db at a writable location, or fix the directory's permissions.",
    )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


PAUSE_POINTS = ("copy", "write", "replace")


def pause_marker(path: Path) -> Path:
    return path.with_name(path.name + ".paused")


def _pause_point(name: str, path: Path) -> None:
    """Test-only: with PULSE_TEST_PAUSE_AT=name, write this pid to <db>.paused and sleep, so a
    crash test can SIGKILL the writer exactly there (halfway through the copy, with the data
    written but not checkpointed, or with the staged file complete just before the rename)."""
    if os.environ.get("PULSE_TEST_PAUSE_AT") != name or pause_marker(path).exists():
        return  # only the first writer to get there stops (not the one recording its death)
    pause_marker(path).write_text(str(os.getpid()))
    log.warning("test pause point %r reached; sleeping", name)
    time.sleep(120)


def _copy_to_staging(path: Path, staging: Path) -> None:
    # The staging copy replaces the live file, so it takes the live file's mode (issue 14: a
    # 0600 database became 0644 after an ingest); created with it, so no moment is looser.
    mode = os.stat(path).st_mode & 0o7777
    os.close(os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode))
    os.chmod(staging, mode)  # exact, whatever the umask
    if os.environ.get("PULSE_TEST_PAUSE_AT") == "copy" and not pause_marker(path).exists():
        data = path.read_bytes()
        staging.write_bytes(data[: len(data) // 2])
        _pause_point("copy", path)
    shutil.copyfile(path, staging)


@contextlib.contextmanager
def write_session(path: Path, lock_timeout: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection on a staging copy of `path`, swapped in atomically on success.

    On any exception the staging copy is discarded and the live file is untouched.
    With PULSE_STORE set, the session is one DuckLake transaction instead (pulse.lake).
    """
    if lake.enabled():
        with lake.write_session(lambda con: migrate(con, lake.adapt_ddl), lock_timeout) as con:
            yield con
        return
    if path.exists():
        # Refuse before copying: a damaged or foreign file must never be replaced.
        open_read(path).close()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    with writer_lock(path, lock_timeout):
        staging = staging_path(path)
        for leftover in (staging, Path(str(staging) + ".wal")):
            leftover.unlink(missing_ok=True)
        try:
            if path.exists():
                _copy_to_staging(path, staging)
            con = duckdb.connect(str(staging))
        except OSError as exc:
            staging.unlink(missing_ok=True)
            raise _unwritable(path, exc) from exc
        except duckdb.Error as exc:
            staging.unlink(missing_ok=True)
            if "no space" in str(exc).lower():
                raise _unwritable(path, OSError(errno.ENOSPC, "No space left on device")) from exc
            raise _explain_open_error(path, exc) from exc
        try:
            migrate(con)
            yield con
            _pause_point("write", path)
            con.execute("CHECKPOINT")
            con.close()
            with open(staging, "rb") as fh:
                os.fsync(fh.fileno())
            _pause_point("replace", path)
            os.replace(staging, path)
            _fsync_dir(path.parent)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                con.close()
            staging.unlink(missing_ok=True)
            Path(str(staging) + ".wal").unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise _unwritable(path, exc) from exc
            if isinstance(exc, duckdb.Error) and "no space" in str(exc).lower():
                raise _unwritable(path, OSError(errno.ENOSPC, "No space left on device")) from exc
            damaged = explain(exc, path) if isinstance(exc, duckdb.Error) else None
            if damaged is not None:  # a damaged block met while writing the copy
                raise damaged from exc
            raise


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_catalog = current_database()", [name]
    ).fetchone()[0])


def read_rows(path: Path, sql: str, params: list | None = None, table: str = "observations") -> list[tuple]:
    """The rows of one read query, or [] when the database or its table does not exist yet."""
    if not exists(path):
        return []
    con = open_read(path)
    try:
        return con.execute(sql, params or []).fetchall() if table_exists(con, table) else []
    finally:
        con.close()
