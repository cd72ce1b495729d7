"""What the database holds: tables, row counts, series and their provenance."""

from __future__ import annotations

import duckdb
import pandas as pd

from pulse import db

CORE_TABLES = ("observations", "ingest_runs", "claims", "schema_version")


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name"
    ).fetchall()]
    # Table names come from the catalogue itself, never from user input.
    return [(name, con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in names]


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
