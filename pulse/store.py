"""Writing observations and ingest runs: idempotent upserts on the natural key."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from pulse import db
from pulse.config import redact
from pulse.errors import DamagedDatabase

log = logging.getLogger(__name__)

OBS_KEY = ["source", "framework", "metric", "variant", "date"]
OBS_COLUMNS = OBS_KEY + ["value", "subject", "retrieved_at", "run_id", "citation", "raw_file", "detail"]


def utcnow() -> dt.datetime:
    """Naive UTC timestamp (DuckDB TIMESTAMP columns hold UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _normalise(frame: pd.DataFrame, run_id: str | None, retrieved_at: dt.datetime) -> pd.DataFrame:
    missing = [c for c in ("source", "framework", "metric", "date", "value") if c not in frame.columns]
    if missing:
        raise ValueError(f"observations frame lacks columns {missing}")
    out = pd.DataFrame(index=frame.index)
    for column in OBS_COLUMNS:
        out[column] = frame[column] if column in frame.columns else None
    out["variant"] = out["variant"].fillna("").astype(str)
    out["date"] = pd.to_datetime(out["date"]).dt.date
    out["value"] = pd.to_numeric(out["value"], errors="raise").astype(float)
    if out["value"].isna().any():
        raise ValueError("observations contain empty values; drop them before storing")
    out["retrieved_at"] = out["retrieved_at"].where(out["retrieved_at"].notna(), retrieved_at)
    out["retrieved_at"] = pd.to_datetime(out["retrieved_at"])
    out["run_id"] = out["run_id"].where(out["run_id"].notna(), run_id)
    out["detail"] = out["detail"].map(lambda d: json.dumps(d, sort_keys=True) if isinstance(d, dict) else d)
    # The same key twice in one load: the last one wins, as a re-load would.
    return out.drop_duplicates(subset=OBS_KEY, keep="last")


def upsert_observations(
    con: duckdb.DuckDBPyConnection,
    frame: pd.DataFrame,
    *,
    run_id: str | None = None,
    retrieved_at: dt.datetime | None = None,
) -> int:
    """Insert or update rows on (source, framework, metric, variant, date); return rows written."""
    if frame.empty:
        return 0
    rows = _normalise(frame, run_id, retrieved_at or utcnow())
    con.register("_pulse_obs_in", rows)
    try:
        merge(con, "observations", OBS_KEY, OBS_COLUMNS, "_pulse_obs_in")
    finally:
        con.unregister("_pulse_obs_in")
    return len(rows)


# Upserts are MERGE or delete-then-insert on the natural key, never ON CONFLICT / INSERT OR
# REPLACE: those need a PRIMARY KEY, which DuckLake tables (the team store) cannot have.
# Table and column names are constants from the callers' code, never read from a database.

def merge(con: duckdb.DuckDBPyConnection, table: str, key: list[str], columns: list[str], source: str) -> None:
    """Insert the rows of `source` (a registered frame or table) into `table`, updating rows with the same key."""
    on = " AND ".join(f"t.{c} = s.{c}" for c in key)
    updates = ", ".join(f"{c} = s.{c}" for c in columns if c not in key)
    con.execute(
        f"MERGE INTO {table} AS t USING (SELECT {', '.join(columns)} FROM {source}) AS s ON {on} "
        f"WHEN MATCHED THEN UPDATE SET {updates} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) VALUES ({', '.join('s.' + c for c in columns)})"
    )


def replace_row(con: duckdb.DuckDBPyConnection, table: str, key: tuple[str, ...], row: dict) -> None:
    """Insert one row (column -> value), replacing the row with the same `key` columns, if any."""
    con.execute(f"DELETE FROM {table} WHERE " + " AND ".join(f"{c} = ?" for c in key), [row[c] for c in key])
    con.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))


def delete_observations(con: duckdb.DuckDBPyConnection, *, source: str, framework: str, metric: str, variant: str | None = None) -> None:
    """Remove one series (used when a source replaces a whole series, e.g. an exact history)."""
    sql = "DELETE FROM observations WHERE source = ? AND framework = ? AND metric = ?"
    params: list = [source, framework, metric]
    if variant is not None:
        sql += " AND variant = ?"
        params.append(variant)
    con.execute(sql, params)


@dataclass
class Run:
    """One ingest run of one source, recorded in ingest_runs."""

    source: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: dt.datetime = field(default_factory=utcnow)
    finished_at: dt.datetime | None = None
    status: str = "running"
    rows: int = 0
    requests: int = 0
    error: str | None = None
    detail: dict = field(default_factory=dict)
    saved: bool = False

    def finish(self, con: duckdb.DuckDBPyConnection, status: str = "ok", error: str | None = None) -> None:
        """Mark finished and write the record with the data, in the same write session."""
        self.status = status
        self.error = redact(error) if error else None
        self.finished_at = utcnow()
        save_run(con, self)
        self.saved = True


def save_run(con: duckdb.DuckDBPyConnection, run: Run) -> None:
    replace_row(con, "ingest_runs", ("run_id",), {
        "run_id": run.run_id,
        "source": run.source,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "status": run.status,
        "rows": run.rows,
        "requests": run.requests,
        "error": redact(run.error) if run.error else None,
        "detail": redact(json.dumps(run.detail, sort_keys=True, default=str)),
    })


@contextlib.contextmanager
def tracked_run(db_path: Path, source: str) -> Iterator[Run]:
    """Yield a Run; if the body raises, record the run as failed (in its own write) and re-raise.

    The body fetches first (no lock held), then writes data and `run.finish(con)` in one
    `db.write_session`, so data and its run record land together or not at all.
    """
    run = Run(source=source)
    try:
        yield run
    except DamagedDatabase:
        raise  # recording the failure would write a new version of a damaged file: leave it as it is
    except BaseException as exc:
        run.status = "failed"
        run.error = redact(f"{type(exc).__name__}: {exc}") if not str(exc).startswith(type(exc).__name__) else redact(str(exc))
        run.finished_at = utcnow()
        if isinstance(exc, KeyboardInterrupt):
            run.error = "interrupted"
        try:
            with db.write_session(db_path) as con:
                save_run(con, run)
        except Exception as record_exc:  # the original error matters more
            log.warning("could not record failed %s run: %s", source, redact(str(record_exc)))
        raise
    else:
        if not run.saved:
            run.finished_at = run.finished_at or utcnow()
            run.status = "ok" if run.status == "running" else run.status
            with db.write_session(db_path) as con:
                save_run(con, run)
