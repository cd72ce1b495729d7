"""The embedded snapshot: every row loaded with its citation, claims ledger intact, fast first start."""

from __future__ import annotations

import csv

from pulse import bootstrap, config, db
from ingest import snapshot


def _csv_rows_at(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _csv_rows(name: str) -> list[dict]:
    return _csv_rows_at(config.SNAPSHOT_DIR / name)


def test_snapshot_loads_every_row_with_citation(snapshot_db):
    con = db.open_read(snapshot_db)
    rows = _csv_rows(snapshot.STARS_FILE)
    stored = con.execute(
        "SELECT count(*), count(citation), count(DISTINCT framework) FROM observations WHERE source = 'snapshot' AND metric = 'github_stars'"
    ).fetchone()
    assert stored == (len(rows), len(rows), len({r["framework"] for r in rows}))
    tf = con.execute(
        "SELECT value, subject, citation FROM observations WHERE framework = 'tensorflow' AND date = '2022-06-01'"
    ).fetchone()
    assert tf == (165353.0, "tensorflow/tensorflow", "https://github.com/EvanLi/Github-Ranking/blob/master/Data/github-ranking-2022-06-01.csv")
    assert con.execute("SELECT count(*) FROM claims").fetchone()[0] == len(_csv_rows(snapshot.CLAIMS_FILE))


def test_snapshot_is_the_shared_reference_data():
    shared = config.PROJECT_ROOT.parent / "shared" / "data"
    if not shared.exists():
        import pytest

        pytest.skip("shared/ reference data not beside this checkout")
    assert (config.SNAPSHOT_DIR / snapshot.STARS_FILE).read_bytes() == (shared / snapshot.STARS_FILE).read_bytes()
    # Conference mentions: the shared rows unchanged, plus a source column (a link to the cited file at
    # the cited commit, built from the citation itself).
    import re

    theirs = _csv_rows_at(shared / "conference_mentions.csv")
    mine = _csv_rows("conference_mentions.csv")
    assert [{k: v for k, v in r.items() if k != "source"} for r in mine] == theirs
    for row in mine:
        repo, path, commit = re.match(r"github\.com/(\S+) (\S+) @([0-9a-f]{40})", row["citation"]).groups()
        assert row["source"] == f"https://github.com/{repo}/blob/{commit}/{path}"
    # The ledger extends the shared seed ledger: every seed claim keeps its id, text, source and date.
    import csv

    ours = {r["id"]: r for r in csv.DictReader((config.SNAPSHOT_DIR / snapshot.CLAIMS_FILE).open())}
    for seed in csv.DictReader((shared / snapshot.CLAIMS_FILE).open()):
        mine = ours[seed["id"]]
        assert (mine["claim"], mine["source"], mine["source_date"], mine["metric"]) == (seed["claim"], seed["source"], seed["source_date"], seed["metric"])


def test_reload_is_idempotent(snapshot_db):
    snapshot.run(snapshot_db)
    con = db.open_read(snapshot_db)
    assert con.execute("SELECT count(*) FROM observations").fetchone()[0] == len(_csv_rows(snapshot.STARS_FILE)) + 3 * len(_csv_rows("conference_mentions.csv"))
    # Two loads: each records a snapshot run and a conference_mentions run.
    assert con.execute("SELECT count(*) FROM ingest_runs WHERE status = 'ok'").fetchone()[0] == 4


def test_first_start_builds_database(db_file):
    assert bootstrap.ensure_database(db_file) is True
    assert bootstrap.ensure_database(db_file) is False
    assert db.open_read(db_file).execute("SELECT count(*) FROM observations").fetchone()[0] > 800


def test_every_snapshot_csv_has_a_source_column():
    for path in config.SNAPSHOT_DIR.glob("*.csv"):
        header = path.read_text().splitlines()[0].split(",")
        assert "source" in header or "citation" in header, path
