"""The embedded, cited snapshot (data/snapshot/) loaded as source `snapshot`."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import duckdb

from ingest import conference_mentions
from pulse import db, registry, store
from pulse.config import SNAPSHOT_DIR, display_path
from pulse.errors import PulseError

NAME = "snapshot"
DESCRIPTION = "Embedded, cited figures in data/snapshot/ (monthly GitHub stars, conference mentions, claims ledger)"
CADENCE = dt.timedelta(days=3650)  # static: never stale

STARS_FILE = "github_stars_monthly.csv"
CLAIMS_FILE = "claims.csv"

log = logging.getLogger(__name__)


def read_stars(con: duckdb.DuckDBPyConnection, snapshot_dir: Path):
    """Monthly star counts as observation rows (DataFrame)."""
    path = snapshot_dir / STARS_FILE
    frame = con.execute(
        "SELECT CAST(date AS DATE) AS date, framework, repo, CAST(stars AS DOUBLE) AS stars, source "
        "FROM read_csv(?, header = true, all_varchar = true)",
        [str(path)],
    ).df()
    unknown = sorted(set(frame["framework"]) - set(registry.ids()))
    if unknown:
        raise PulseError(f"{path} names frameworks the registry does not list: {', '.join(unknown)}.", "Add them to pulse/frameworks.toml.")
    return frame.rename(columns={"stars": "value", "repo": "subject", "source": "citation"}).assign(
        source=NAME, metric="github_stars", variant="", raw_file=display_path(path)
    )


# The ledger's claim specification (docs/claims.md); older ledgers without these columns load with them empty.
SPEC_COLUMNS = ("versus", "comparison", "basis", "period", "tolerance", "article_title", "article_author", "article_date", "article_url")


def load_claims(con: duckdb.DuckDBPyConnection, snapshot_dir: Path) -> int:
    path = snapshot_dir / CLAIMS_FILE
    header = set(con.execute("SELECT * FROM read_csv(?, header = true, all_varchar = true) LIMIT 0", [str(path)]).df().columns)
    spec = ", ".join(c if c in header else f"NULL AS {c}" for c in SPEC_COLUMNS)  # names from the fixed list above
    con.execute("DELETE FROM claims")
    con.execute(
        "INSERT INTO claims (id, claim, source, source_date, metric, subject, value, unit, kind, note, " + ", ".join(SPEC_COLUMNS) + ") "
        "SELECT id, claim, source, source_date, metric, subject, TRY_CAST(value AS DOUBLE), unit, kind, note, " + spec + " "
        "FROM read_csv(?, header = true, all_varchar = true)",
        [str(path)],
    )
    return con.execute("SELECT count(*) FROM claims").fetchone()[0]


def run(db_path: Path, snapshot_dir: Path = SNAPSHOT_DIR) -> store.Run:
    """(Re)load the snapshot into the database; idempotent."""
    with store.tracked_run(db_path, NAME) as run_:
        with db.write_session(db_path) as con:
            stars = read_stars(con, snapshot_dir)
            run_.rows = store.upsert_observations(con, stars, run_id=run_.run_id)
            conference = store.Run(source=conference_mentions.NAME)
            conference.rows = store.upsert_observations(con, conference_mentions.read(con, snapshot_dir), run_id=conference.run_id)
            conference.detail = {"files": [conference_mentions.FILE], "loaded_by": NAME}
            conference.finish(con)
            run_.detail = {"claims": load_claims(con, snapshot_dir), "files": [STARS_FILE, CLAIMS_FILE, conference_mentions.FILE],
                           "conference_rows": conference.rows}
            run_.finish(con)
    return run_
