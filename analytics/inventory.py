"""What the database holds: tables, row counts, series and their provenance."""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from pulse import db, schema

CORE_TABLES = ("observations", "ingest_runs", "claims", "schema_version")


def known_tables() -> tuple[str, ...]:
    """Every table the schema creates, read from the migrations in code (never from a file)."""
    ddl = [schema.SCHEMA_VERSION_DDL] + [s for _, _, statements in schema.MIGRATIONS for s in statements]
    names = re.findall(r"CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(", "\n".join(ddl), re.I)
    return tuple(sorted(set(names)))


def printable(name: str, limit: int = 60) -> str:
    """A name read from a database file, safe to print: control characters escaped, length capped."""
    text = name.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _catalogue(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """name -> table_type of everything in the attached file's main schema (names as data only)."""
    return dict(con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = 'main'"
    ).fetchall())


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """No file access beyond the attached database: a view or macro in a crafted file can then
    neither read nor write other files. For connections that only inspect the file."""
    con.execute("SET enable_external_access = false")


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """(table, rows) for each table of the known schema present in the file as a real table.

    The SQL names only tables from `known_tables()` (fixed in code): a table name read out of
    a database file is never formatted into SQL (issue 14: a crafted name made `db info`
    write a file).
    """
    present = _catalogue(con)
    counts = []
    for name in known_tables():
        if present.get(name) == "BASE TABLE":
            counts.append((name, con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]))
    return counts


def foreign_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(printable name, kind) of tables and views in the file that the schema does not define,
    and of schema names present as something other than a table (e.g. a view): not read."""
    known = set(known_tables())
    return sorted(
        (printable(name), kind.lower())
        for name, kind in _catalogue(con).items()
        if name not in known or kind != "BASE TABLE"
    )


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """True when `name` (from the known schema) is a real table in the file, not a view."""
    return _catalogue(con).get(name) == "BASE TABLE"


def source_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per source: rows, first/last date, last successful ingest."""
    return con.execute(
        """
        SELECT o.source, count(*) AS rows, min(o.date) AS first_date, max(o.date) AS last_date,
               (SELECT max(finished_at) FROM ingest_runs r WHERE r.source = o.source AND r.status = 'ok') AS last_ingest
        FROM observations o GROUP BY o.source ORDER BY o.source
        """
    ).df()


def series_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every series (source, metric, variant, framework) with citation, rows and dates."""
    return con.execute(
        """
        WITH s AS (
            SELECT source, metric, variant, framework, count(*) AS rows,
                   min(date) AS first_date, max(date) AS last_date,
                   max(retrieved_at) AS retrieved_at,
                   string_agg(DISTINCT coalesce(citation, ''), ' ; ') FILTER (WHERE citation IS NOT NULL) AS citations,
                   count(DISTINCT citation) AS n_citations
            FROM observations GROUP BY ALL
        )
        SELECT s.*, (SELECT max(finished_at) FROM ingest_runs r WHERE r.source = s.source AND r.status = 'ok') AS last_ingest
        FROM s ORDER BY source, metric, variant, framework
        """
    ).df()


def last_runs(con: duckdb.DuckDBPyConnection, limit: int = 20) -> pd.DataFrame:
    if not db.table_exists(con, "ingest_runs"):
        return pd.DataFrame()
    return con.execute(
        "SELECT source, status, started_at, finished_at, rows, requests, error FROM ingest_runs "
        "ORDER BY started_at DESC LIMIT ?",
        [limit],
    ).df()


def has_metrics(con: duckdb.DuckDBPyConnection, prefixes: list[str] | tuple[str, ...]) -> bool:
    """Whether any observation has a metric starting with one of these prefixes."""
    if not prefixes:
        return False
    clause = " OR ".join("starts_with(metric, ?)" for _ in prefixes)
    return con.execute(f"SELECT EXISTS (SELECT 1 FROM observations WHERE {clause})", list(prefixes)).fetchone()[0]


def claims_about(con: duckdb.DuckDBPyConnection, prefixes: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """(id, claim) of the ledger's claims whose metric starts with one of these prefixes, ledger order."""
    if not prefixes or not db.table_exists(con, "claims"):
        return []
    clause = " OR ".join("starts_with(coalesce(metric, ''), ?)" for _ in prefixes)
    return [(r[0], r[1]) for r in con.execute(f"SELECT id, claim FROM claims WHERE {clause} ORDER BY rowid", list(prefixes)).fetchall()]
