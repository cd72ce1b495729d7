"""The team store: DuckLake (catalog in PostgreSQL, data as Parquet files) behind pulse.db's interface.

Set PULSE_STORE to a DuckLake attach string (`ducklake:postgres:dbname=pulse host=... user=...`)
and PULSE_STORE_DATA_PATH to where the Parquet files go (a shared folder or an `s3://` path),
and pulse.db sends every read and write here instead of the local DuckDB file. The lake is
attached under the same name the file store uses (`pulse`), so every query runs unchanged.

Writes are DuckLake transactions: a write session is one snapshot, committed whole or not at
all, so readers never see half a run and nothing is copied. DuckLake refuses two transactions
that both delete from one table (every upsert does), so writers on a PostgreSQL catalog take a
PostgreSQL advisory lock first, as file-store writers take the lock file: two ingests on two
machines both land, one after the other; the lock dies with its holder's connection.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from pulse.errors import DatabaseError

log = logging.getLogger(__name__)

ALIAS = "pulse"  # the name the file store attaches its file under, too
_LOCK_ALIAS = "pulse_lock"
STORE_ENV = "PULSE_STORE"
DATA_PATH_ENV = "PULSE_STORE_DATA_PATH"

# libpq keyword form (password=x, password='x y') and URI form (postgresql://user:x@host).
_PASSWORD_KEYWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_PASSWORD_URI = re.compile(r"(://[^:/@\s]+:)([^@\s/]+)(@)")
# A bare password is replaced wherever it appears only from this length on: a short one
# ("pulse") would blank ordinary words; in its keyword or URI form it is always replaced.
_BARE_MIN = 8


def url() -> str | None:
    """The DuckLake attach string from $PULSE_STORE; None when the local file store is in use."""
    value = os.environ.get(STORE_ENV, "").strip()
    return value or None


def enabled() -> bool:
    return url() is not None


def data_path() -> str | None:
    value = os.environ.get(DATA_PATH_ENV, "").strip()
    return value or None


def redact_url(text: str) -> str:
    """Text with every password of a catalog connection string replaced by '***'."""
    text = _PASSWORD_KEYWORD.sub(r"\1***", text)
    text = _PASSWORD_URI.sub(r"\1***\3", text)
    store = url()
    if store:  # also a password the patterns missed, e.g. echoed back alone by a driver
        secrets = [m.group(2).strip("'") for m in _PASSWORD_KEYWORD.finditer(store)]
        secrets += [m.group(2) for m in _PASSWORD_URI.finditer(store)]
        for secret in secrets:
            if len(secret) >= _BARE_MIN:
                text = text.replace(secret, "***")
    return text


def describe() -> str:
    """The store for messages and captions, without its password."""
    where = data_path() or "the data path recorded in the catalog"
    return f"DuckLake {redact_url(url() or '')} (data: {where})"


def _catalog_conninfo(store: str) -> str | None:
    """The PostgreSQL connection string of a `ducklake:postgres:...` attach string, else None."""
    rest = store[len("ducklake:"):] if store.startswith("ducklake:") else store
    return rest[len("postgres:"):] if rest.startswith("postgres:") else None


def extension_file(name: str) -> Path | None:
    """The `.duckdb_extension` file the `duckdb-extension-<name>` wheel ships (the lake extra), if installed."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        versioned = Path(folder) / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
        if versioned.exists():
            return versioned
        found = sorted(Path(folder).rglob(f"{name}.duckdb_extension"))
        if found:
            return found[0]
    return None


def _load(con: duckdb.DuckDBPyConnection, name: str) -> None:
    path = extension_file(name)
    try:
        if path is not None:
            con.execute(f"LOAD '{_literal(str(path))}'")
        else:  # no wheel: DuckDB's own repository (needs internet once, then its cache)
            con.execute(f"INSTALL {name}")
            con.execute(f"LOAD {name}")
    except duckdb.Error as exc:
        raise DatabaseError(
            f"Cannot load DuckDB's {name} extension for the team store (PULSE_STORE): {exc}",
            "Install the lake extra (`pip install 'framework-pulse[lake]'`, matching duckdb==1.5.5), "
            "or unset PULSE_STORE to use the local database file.",
        ) from exc


def _literal(text: str) -> str:
    return text.replace("'", "''")


def _base_connection(store: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    try:
        _load(con, "ducklake")
        if _catalog_conninfo(store) is not None:
            _load(con, "postgres_scanner")
    except BaseException:
        con.close()
        raise
    return con


def _unreachable(exc: Exception, doing: str) -> DatabaseError:
    text = redact_url(str(exc)).strip()
    lowered = text.lower()
    if "does not exist" in lowered and ("creating a new ducklake" in lowered or "existing ducklake" in lowered):
        return DatabaseError(
            f"The team store {describe()} has no catalog yet.",
            "Run `pulse db init` (with PULSE_STORE and PULSE_STORE_DATA_PATH set) to create it.",
        )
    if isinstance(exc, duckdb.IOException) or any(w in lowered for w in ("connect", "connection", "server closed", "timeout")):
        return DatabaseError(
            f"Cannot {doing} the team store {describe()}: its PostgreSQL catalog is unreachable ({text}).",
            "Check that PostgreSQL is running and reachable (`pg_isready`); nothing stored is lost while it is down "
            "(the catalog and the Parquet files are unchanged). Retry when it is back.",
        )
    return DatabaseError(f"Cannot {doing} the team store {describe()}: {text}", "Nothing was changed: the write was rolled back.")


# One DuckDB instance per role and store, kept for the process: loading the two extensions and
# attaching the catalog cost about a second, and a page run or an ingest opens many connections.
# Connections handed out are cursors on it (cheap); each of their transactions reads the lake's
# latest snapshot. The postgres extension's pool checks a connection before reuse, so an
# instance outlives a PostgreSQL restart. Readers attach READ_ONLY; writers use their own instance.
_instances_lock = threading.Lock()
_instances: dict[tuple, duckdb.DuckDBPyConnection] = {}
_attached: set[tuple] = set()


def _key(role: str) -> tuple:
    return (role, url(), data_path())


def _instance(role: str) -> duckdb.DuckDBPyConnection:
    store = url()
    if store is None:
        raise DatabaseError("PULSE_STORE is not set.", "Set it to a DuckLake attach string.")
    key = _key(role)
    with _instances_lock:
        if key not in _instances:
            _instances[key] = _base_connection(store)
        return _instances[key]


def _attach(role: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A cursor on the role's instance with the lake attached as `pulse` and in use."""
    instance = _instance(role)
    key = _key(role)
    with _instances_lock:
        if key not in _attached:
            options = []
            if data_path():
                options.append(f"DATA_PATH '{_literal(data_path())}'")
            if read_only:
                options.append("READ_ONLY")
            clause = f" ({', '.join(options)})" if options else ""
            try:
                instance.execute(f"ATTACH '{_literal(url())}' AS {ALIAS}{clause}")
            except duckdb.Error as exc:
                if not read_only and not data_path() and "data_path" in str(exc).lower():
                    raise DatabaseError(
                        f"The team store {describe()} needs a place for its Parquet files.",
                        "Set PULSE_STORE_DATA_PATH to a shared folder or bucket path, then run `pulse db init`.",
                    ) from exc
                raise _unreachable(exc, "read" if read_only else "write to") from exc
            _attached.add(key)
        cursor = instance.cursor()
    try:
        cursor.execute(f"USE {ALIAS}")
    except duckdb.Error as exc:
        cursor.close()
        raise _unreachable(exc, "read" if read_only else "write to") from exc
    return cursor


def connect(read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection with the lake attached as `pulse` and in use; DatabaseError when impossible."""
    return _attach("read" if read_only else "write", read_only)


def has_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the core migration has been applied (its tables are created in one transaction)."""
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = ? AND table_name = 'observations'", [ALIAS]
    ).fetchone()[0])


def open_read() -> duckdb.DuckDBPyConnection:
    """A read-only connection; each query reads the latest committed snapshot."""
    con = connect(read_only=True)
    try:
        # Asks the catalog (the instance may be older than a PostgreSQL outage): refuse up front.
        con.execute(f"SELECT id FROM {ALIAS}.current_snapshot()").fetchone()
        ready = has_tables(con)
    except duckdb.Error as exc:
        con.close()
        raise _unreachable(exc, "read") from exc
    if not ready:
        con.close()
        raise DatabaseError(f"The team store {describe()} holds no Pulse tables yet.", "Run `pulse db init` to load the embedded snapshot into it.")
    return con


def exists() -> bool:
    """Whether the catalog exists and holds Pulse's tables (False when it is new or empty)."""
    try:
        open_read().close()
    except DatabaseError as exc:
        if "no catalog yet" in exc.message or "no Pulse tables" in exc.message:
            return False
        raise
    return True


def version_token() -> tuple | None:
    """The latest snapshot id (changes with every commit); None when the store cannot be read."""
    try:
        con = connect(read_only=True)
        try:
            snapshot = con.execute(f"SELECT id FROM {ALIAS}.current_snapshot()").fetchone()[0]
        finally:
            con.close()
        return ("ducklake", redact_url(url() or ""), int(snapshot))
    except (DatabaseError, duckdb.Error) as exc:
        log.warning("team store unreadable: %s", redact_url(str(exc)))
        return None


def close_cached() -> None:
    """Close the process's DuckDB instances (tests, shutdown); the next use opens new ones."""
    with _instances_lock:
        for instance in _instances.values():
            with contextlib.suppress(Exception):
                instance.close()
        _instances.clear()
        _attached.clear()


def lock_key(store: str) -> int:
    """The advisory-lock key of one lake: a signed 64-bit hash of its attach string without password."""
    digest = hashlib.sha256(("framework-pulse:" + redact_url(store)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def writer_lock(timeout: float = 60.0) -> Iterator[None]:
    """Serialise Pulse writers of this lake across machines: a PostgreSQL advisory lock held in
    an open transaction of its own connection (released on commit, or when the holder dies)."""
    store = url() or ""
    conninfo = _catalog_conninfo(store)
    if conninfo is None:  # a local catalog (DuckDB/SQLite file): DuckLake's own conflict check only
        yield
        return
    instance = _instance("lock")
    with _instances_lock:
        if _key("lock") not in _attached:
            try:
                instance.execute(f"ATTACH '{_literal(conninfo)}' AS {_LOCK_ALIAS} (TYPE postgres)")
            except duckdb.Error as exc:
                raise _unreachable(exc, "lock") from exc
            _attached.add(_key("lock"))
        con = instance.cursor()
    try:
        query = f"SELECT * FROM postgres_query('{_LOCK_ALIAS}', 'SELECT pg_try_advisory_xact_lock({lock_key(store)}) AS got')"
        deadline = time.monotonic() + timeout
        while True:
            try:
                con.execute("BEGIN TRANSACTION")  # the lock lives as long as this transaction
                got = con.execute(query).fetchone()[0]
            except duckdb.Error as exc:
                raise _unreachable(exc, "lock") from exc
            if got:
                break
            con.execute("ROLLBACK")
            if time.monotonic() >= deadline:
                raise DatabaseError(
                    f"Another writer holds the team store's write lock ({describe()}).",
                    "Wait for it to finish, or retry later.",
                )
            time.sleep(0.1)
        yield
    finally:
        with contextlib.suppress(Exception):
            con.execute("ROLLBACK")
        con.close()


@contextlib.contextmanager
def write_session(migrate: Callable[[duckdb.DuckDBPyConnection], list[int]], lock_timeout: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection whose statements form one DuckLake transaction, committed on success.

    `migrate` runs first, under the writer lock, so pending migrations are applied once.
    On any exception the transaction is rolled back: the lake stays at its last snapshot.
    """
    # The lock first: attaching a new catalog creates it, and two creators at once collide.
    with writer_lock(lock_timeout):
        con = connect(read_only=False)
        try:
            try:
                migrate(con)
                con.execute("BEGIN TRANSACTION")
            except duckdb.Error as exc:
                raise _unreachable(exc, "write to") from exc
            try:
                yield con
            except BaseException:
                with contextlib.suppress(Exception):
                    con.execute("ROLLBACK")
                raise
            try:
                con.execute("COMMIT")
            except duckdb.Error as exc:
                raise _unreachable(exc, "commit to") from exc
        finally:
            con.close()


# DuckLake has no PRIMARY KEY / UNIQUE constraints and no indexes: the keys are kept by the
# writers (MERGE / delete-then-insert on the natural key), the same code on both stores.
_TABLE_KEY = re.compile(r",\s*PRIMARY\s+KEY\s*\([^)]*\)", re.IGNORECASE)
_COLUMN_KEY = re.compile(r"\bPRIMARY\s+KEY\b", re.IGNORECASE)
_COMMENT = re.compile(r"--[^\n]*")
_UNIQUE = re.compile(r",\s*UNIQUE\s*\([^)]*\)", re.IGNORECASE)


def adapt_ddl(statement: str) -> str | None:
    """A migration statement as DuckLake accepts it (None: skip it, e.g. an index)."""
    if re.match(r"\s*CREATE\s+(UNIQUE\s+)?INDEX\b", statement, re.IGNORECASE):
        return None
    statement = _COMMENT.sub("", statement)  # a comment may sit between a comma and the key
    statement = _TABLE_KEY.sub("", statement)
    statement = _UNIQUE.sub("", statement)
    return _COLUMN_KEY.sub("NOT NULL", statement)
