"""Is each source fresh? Last good run against its expected cadence, and its last error.

Pure logic over the ingest_runs table: the caller passes each source's cadence (from the
ingest modules) so that this module stays below the ingest layer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import duckdb
import pandas as pd

from pulse import db
from pulse.config import redact

# A partial run counts as good only when it stored rows: a "partial" with nothing stored
# (the API unreachable from the start) is a failure as far as freshness goes.
# A source is stale when its last good run is older than cadence x this factor: room for a
# late or slow cron run, while a single missed daily run is flagged within half a day.
STALE_FACTOR = 1.5
GOOD_STATUSES = ("ok", "partial")
# States: a source with no recorded run at all is "not set up" (nobody asked for it yet: a fresh
# install is healthy); one that ran but never succeeded is "never" and needs attention.
NOT_SET_UP = "not set up"


@dataclass
class SourceFreshness:
    source: str
    description: str
    cadence_hours: float | None
    state: str  # ok, stale, failing, never (ran, never succeeded), not set up (never ran)
    stale: bool
    failing: bool
    last_ok_at: dt.datetime | None
    age_hours: float | None  # since the last good run
    last_run_at: dt.datetime | None
    last_status: str | None
    last_error: str | None  # of the most recent failed run, redacted
    last_error_at: dt.datetime | None
    failures_since_ok: int

    @property
    def healthy(self) -> bool:
        return not (self.stale or self.failing)

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("last_ok_at", "last_run_at", "last_error_at"):
            out[key] = out[key].isoformat(timespec="seconds") + "Z" if out[key] is not None else None
        out["healthy"] = self.healthy
        return out


def load_runs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every recorded run (source, started_at, finished_at, status, error), newest first; a
    partial run that stored no rows reads as failed."""
    if not db.table_exists(con, "ingest_runs"):
        return pd.DataFrame(columns=["source", "started_at", "finished_at", "status", "error"])
    return con.execute(
        "SELECT source, started_at, coalesce(finished_at, started_at) AS finished_at, "
        "CASE WHEN status = 'partial' AND coalesce(rows, 0) = 0 THEN 'failed' ELSE status END AS status, "
        "CASE WHEN status = 'partial' AND coalesce(rows, 0) = 0 THEN coalesce(error, 'partial run that stored no rows') ELSE error END AS error "
        "FROM ingest_runs ORDER BY finished_at DESC NULLS LAST, started_at DESC"
    ).df()


def _ts(value) -> dt.datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)


def assess(runs: pd.DataFrame, sources: dict[str, tuple[str, dt.timedelta | None]], now: dt.datetime) -> list[SourceFreshness]:
    """One verdict per configured source; `sources` is name -> (description, cadence); `now` is naive UTC."""
    out = []
    for name, (description, cadence) in sources.items():
        mine = runs[runs["source"] == name].sort_values("finished_at", ascending=False)
        good = mine[mine["status"].isin(GOOD_STATUSES)]
        failed = mine[mine["status"] == "failed"]
        last_ok = _ts(good["finished_at"].iloc[0]) if len(good) else None
        last = mine.iloc[0] if len(mine) else None
        age = (now - last_ok).total_seconds() / 3600 if last_ok else None
        cadence_h = cadence.total_seconds() / 3600 if cadence else None
        set_up = last is not None
        stale = set_up and (last_ok is None or (cadence_h is not None and age > cadence_h * STALE_FACTOR))
        failing = set_up and last["status"] == "failed"
        since_ok = mine[mine["finished_at"] > pd.Timestamp(last_ok)] if last_ok else mine
        state = (NOT_SET_UP if not set_up else "failing" if failing else "never" if last_ok is None
                 else "stale" if stale else "ok")
        out.append(SourceFreshness(
            source=name,
            description=description,
            cadence_hours=cadence_h,
            state=state,
            stale=stale,
            failing=failing,
            last_ok_at=last_ok,
            age_hours=round(age, 2) if age is not None else None,
            last_run_at=_ts(last["finished_at"]) if last is not None else None,
            last_status=last["status"] if last is not None else None,
            last_error=redact(str(failed["error"].iloc[0])) if len(failed) and failed["error"].iloc[0] else None,
            last_error_at=_ts(failed["finished_at"].iloc[0]) if len(failed) else None,
            failures_since_ok=int((since_ok["status"] == "failed").sum()),
        ))
    return out


def freshness(con: duckdb.DuckDBPyConnection, sources: dict[str, tuple[str, dt.timedelta | None]], now: dt.datetime | None = None) -> list[SourceFreshness]:
    """assess() on the database's runs; `now` defaults to the current UTC time."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return assess(load_runs(con), sources, now)


def as_frame(verdicts: list[SourceFreshness]) -> pd.DataFrame:
    """A table for display: one row per source."""
    return pd.DataFrame([asdict(v) for v in verdicts])


def describe_age(hours: float | None) -> str:
    if hours is None:
        return "never"
    if hours < 1:
        return f"{hours * 60:.0f} min ago"
    if hours < 48:
        return f"{hours:.1f} h ago"
    return f"{hours / 24:.1f} days ago"


def describe_cadence(hours: float | None) -> str:
    if hours is None:
        return "?"
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} d"
