"""The team store: PULSE_STORE at a DuckLake catalog on a real (throwaway) PostgreSQL, data as Parquet.

Skipped, with the reason, where PostgreSQL or the `lake` extra is absent; CI installs both
(the README's test command). Every source's save path runs on both stores and must store the
same observations; every page runs on the team store (tests/test_pages.py runs its checks on
both stores too).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import responses
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from ingest import huggingface, paperswithcode, snapshot, trends, trends_csv
from ingest import github as github_source
from ingest import probe as probe_source
from pulse import config, db, lake, schema, store
from pulse.cli import main
from pulse.errors import DatabaseError
from tests import pg_cluster
from tests.conftest import STORE_PASSWORD
from tests.github_fake import FakeRepo, fake_github, synthetic_weeks  # noqa: F401 (fixture)
from tests.probe_synthetic import make_doc, write
from tests.pwc_archive import write_archive
from tests.test_huggingface_api import FakeHub
from tests.test_huggingface_bulk import write_list_form
from tests.test_trends_fetch import FakeClock, add_cookie, add_ok, make_backoff

ROOT = config.PROJECT_ROOT
PAGES = sorted(p.stem for p in (ROOT / "app_pages").glob("*.py") if not p.stem.startswith("_"))
TRENDS_CSV = Path(__file__).parent / "fixtures" / "trends" / "good_weekly_worldwide.csv"


@pytest.fixture
def local_file(tmp_path, monkeypatch) -> Path:
    """PULSE_DB's file: with PULSE_STORE set it must never be written."""
    path = tmp_path / "local" / "pulse.duckdb"
    monkeypatch.setenv("PULSE_DB", str(path))
    return path


def parquet_files(data_path: Path) -> list[Path]:
    return sorted(data_path.rglob("*.parquet"))


def query(sql: str, params=()) -> list[tuple]:
    con = db.open_read(Path("unused"))
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


# --- the command line on the team store ------------------------------------------------------

def test_db_init_creates_catalog_and_parquet_and_info_matches_the_file_store(team_store, local_file, tmp_path, monkeypatch):
    _, _, data_path = team_store
    runner = CliRunner()
    result = runner.invoke(main, ["db", "init"])
    assert result.exit_code == 0, result.output
    assert "DuckLake ducklake:postgres:" in result.output and "loaded 823 snapshot observations" in result.output
    info = runner.invoke(main, ["db", "info"])
    assert info.exit_code == 0, info.output
    assert parquet_files(data_path), "no Parquet file under the data path"
    assert not local_file.exists() and not local_file.parent.exists()
    for text in (result.output, info.output):
        assert STORE_PASSWORD not in text and "password=***" in text

    # The same snapshot in a local file gives the same tables, counts and sources.
    with monkeypatch.context() as m:
        m.delenv("PULSE_STORE")
        file_db = tmp_path / "file.duckdb"
        assert runner.invoke(main, ["db", "init", "--db", str(file_db)]).exit_code == 0
        file_info = runner.invoke(main, ["db", "info", "--db", str(file_db)]).output
    body = lambda text: [line for line in text.splitlines()[1:] if "last ingest" not in line]  # noqa: E731
    assert body(info.output) == body(file_info)
    sources = [line.split("last ingest")[0] for line in info.output.splitlines() if "last ingest" in line]
    assert sources == [line.split("last ingest")[0] for line in file_info.splitlines() if "last ingest" in line]

    status = runner.invoke(main, ["status"])
    assert "snapshot" in status.output and STORE_PASSWORD not in status.output

    # The scheduled run: each source in its own process, on the team store.
    scheduled = runner.invoke(main, ["ingest", "--all", "--source", "snapshot", "--json"])
    assert scheduled.exit_code == 0, scheduled.output
    assert query("SELECT count(*) FROM ingest_runs WHERE source = 'snapshot' AND status = 'ok'") == [(2,)]
    # Only the run lock (a local file: runs on one host never overlap) is written locally.
    assert sorted(p.name for p in local_file.parent.iterdir()) == ["pulse.duckdb.ingest.lock"]


def test_reads_before_init_say_run_db_init(team_store, local_file):
    result = CliRunner().invoke(main, ["db", "info"])
    assert result.exit_code == 1
    assert "no catalog yet" in result.output and "pulse db init" in result.output
    assert "Traceback" not in result.output and STORE_PASSWORD not in result.output


def test_migrations_run_once_even_when_two_processes_init_at_once(team_store, local_file):
    procs = [subprocess.Popen([sys.executable, "-m", "pulse", "db", "init"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert CliRunner().invoke(main, ["db", "init"]).exit_code == 0
    versions = [r[0] for r in query("SELECT version FROM schema_version ORDER BY version")]
    assert versions == sorted(number for number, _, _ in schema.MIGRATIONS)
    # Three loads of the same snapshot: still one row per key, and three recorded runs.
    loaded = [int(n) for n in re.findall(r"loaded (\d+) snapshot observations, (\d+) conference-mention", outputs[0])[0]]
    assert loaded[0] > 800 and loaded[1] > 100, outputs[0]
    assert query("SELECT count(*), count(DISTINCT (source, framework, metric, variant, date)) FROM observations") == [(sum(loaded),) * 2]
    assert query("SELECT count(*) FROM ingest_runs WHERE source = 'snapshot' AND status = 'ok'") == [(3,)]
    assert not local_file.exists()


# --- transactions: concurrent writers, atomic runs ----------------------------------------------

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import pandas as pd
    from pulse import db, store
    source, go = sys.argv[1], Path(sys.argv[2])
    (go.parent / (source + ".ready")).touch()
    while not go.exists():
        time.sleep(0.01)
    with store.tracked_run(Path("unused"), source) as run:
        with db.write_session(Path("unused")) as con:
            frame = pd.DataFrame({"source": source, "framework": ["pytorch", "jax"] * 50, "metric": "test_metric",
                                  "date": [f"2024-01-{1 + i // 2 % 28:02d}" for i in range(100)],
                                  "variant": [str(i) for i in range(100)], "value": range(100)})
            run.rows = store.upsert_observations(con, frame, run_id=run.run_id)
            time.sleep(1.0)  # both sessions overlap: the second waits for the first's commit
            run.finish(con)
    print("landed", source)
""")


def test_two_writers_at_once_both_land(lake_snapshot, local_file, tmp_path):
    go = tmp_path / "go"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = {name: subprocess.Popen([sys.executable, "-c", WRITER, name, str(go)], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name in ("synthetic_a", "synthetic_b")}
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"{n}.ready").exists() for n in procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    go.touch()  # both start their write session at the same moment
    outputs = {n: p.communicate(timeout=120)[0] for n, p in procs.items()}
    assert all(p.returncode == 0 for p in procs.values()), outputs
    counts = dict(query("SELECT source, count(*) FROM observations WHERE metric = 'test_metric' GROUP BY source"))
    assert counts == {"synthetic_a": 100, "synthetic_b": 100}
    assert sorted(query("SELECT source, status, rows FROM ingest_runs WHERE source LIKE 'synthetic_%'")) == [
        ("synthetic_a", "ok", 100), ("synthetic_b", "ok", 100)]
    assert query("SELECT count(*) FROM observations WHERE source = 'snapshot'") == [(823,)]
    assert not local_file.exists()


def test_readers_never_see_a_half_written_run_and_a_failed_one_leaves_nothing(lake_snapshot, local_file):
    reader = db.open_read(Path("unused"))
    before = reader.execute("SELECT count(*) FROM observations").fetchone()[0]
    token = db.version_token(Path("unused"))
    frame = pd.DataFrame({"source": "synthetic", "framework": "pytorch", "metric": "test_metric",
                          "date": pd.date_range("2024-01-01", periods=50), "value": range(50)})
    with db.write_session(Path("unused")) as con:
        store.upsert_observations(con, frame)
        store.save_run(con, store.Run(source="synthetic", status="ok"))
        # Mid-run: neither the open reader nor a new one sees any of it.
        assert reader.execute("SELECT count(*) FROM observations").fetchone()[0] == before
        assert query("SELECT count(*) FROM observations") == [(before,)]
        assert query("SELECT count(*) FROM ingest_runs WHERE source = 'synthetic'") == [(0,)]
        assert db.version_token(Path("unused")) == token
    assert reader.execute("SELECT count(*) FROM observations").fetchone()[0] == before + 50
    assert db.version_token(Path("unused")) != token
    reader.close()

    with pytest.raises(RuntimeError, match="source broke"), store.tracked_run(Path("unused"), "synthetic") as run:
        with db.write_session(Path("unused")) as con:
            store.upsert_observations(con, frame.assign(value=frame["value"] + 1000), run_id=run.run_id)
            raise RuntimeError("source broke halfway")
    assert query("SELECT max(value) FROM observations WHERE source = 'synthetic'") == [(49.0,)]  # rolled back
    assert query("SELECT status, error FROM ingest_runs WHERE run_id = ?", [run.run_id]) == [("failed", "RuntimeError: source broke halfway")]
    assert not local_file.exists()


# --- every source's save path: the same observations on both stores ---------------------------

def observations() -> pd.DataFrame:
    con = db.open_read(Path("unused") if db.uses_team_store() else Path(os.environ["PULSE_DB"]))
    try:
        return con.execute(
            "SELECT source, framework, metric, variant, date, value, subject, citation FROM observations "
            "ORDER BY source, framework, metric, variant, date").df()
    finally:
        con.close()


def table_counts() -> dict[str, int]:
    from analytics import inventory

    con = db.open_read(Path("unused") if db.uses_team_store() else Path(os.environ["PULSE_DB"]))
    try:
        return dict(inventory.table_counts(con))
    finally:
        con.close()


def on_both_stores(monkeypatch, tmp_path, load) -> tuple[pd.DataFrame, dict]:
    """Run `load(db_path)` on a local file, then on the team store; both must store the same."""
    file_db = tmp_path / "file-store" / "pulse.duckdb"
    with monkeypatch.context() as m:
        m.delenv("PULSE_STORE")
        m.setenv("PULSE_DB", str(file_db))
        snapshot.run(file_db)
        load(file_db)
        expected, expected_counts = observations(), table_counts()
    snapshot.run(Path("unused"))
    load(Path("unused"))
    got, counts = observations(), table_counts()
    pd.testing.assert_frame_equal(got, expected)
    assert counts == expected_counts
    return got, counts


def test_github_save_path(team_store, local_file, fake_github, tmp_path, monkeypatch):
    today = dt.datetime.now(dt.UTC).date()
    fake_github.add(FakeRepo("pytorch/pytorch", synthetic_weeks(today - dt.timedelta(days=400), today)))
    got, counts = on_both_stores(monkeypatch, tmp_path, lambda path: github_source.run(path, ["pytorch"], sleep=lambda s: None))
    assert counts["github_repos"] == 1 and counts["github_etags"] > 0
    assert set(got["source"]) >= {"github", "github_history"}
    # A second run on the team store reads its ETags back from it: nothing new is written.
    before = query("SELECT count(*) FROM observations")
    github_source.run(Path("unused"), ["pytorch"], sleep=lambda s: None)
    assert query("SELECT count(*) FROM observations") == before
    assert not local_file.exists()


@responses.activate
def test_trends_save_path(team_store, local_file, tmp_path, monkeypatch):
    add_cookie(responses)
    add_ok(responses)
    load = lambda path: trends.run(path, timeframe="2022-01-02 2022-03-26", geo="", frameworks=["pytorch", "tensorflow"],  # noqa: E731
                                   backoff=make_backoff(FakeClock()))
    got, _ = on_both_stores(monkeypatch, tmp_path, load)
    assert (got["source"] == "trends").sum() > 0
    assert not local_file.exists()


def test_trends_csv_save_path(team_store, local_file, tmp_path, monkeypatch):
    got, _ = on_both_stores(monkeypatch, tmp_path, lambda path: trends_csv.run(path, [TRENDS_CSV]))
    assert (got["source"] == "trends_csv").sum() > 0
    assert not local_file.exists()


def test_paperswithcode_save_path(team_store, local_file, tmp_path, monkeypatch):
    archive = tmp_path / "archive"
    write_archive(archive)
    got, counts = on_both_stores(monkeypatch, tmp_path, lambda path: paperswithcode.run(path, from_dir=archive))
    assert counts["pwc_links"] > 0 and (got["source"] == "paperswithcode").sum() > 0
    assert not local_file.exists()


def test_huggingface_api_save_path(team_store, local_file, httpserver, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    FakeHub(httpserver)
    got, counts = on_both_stores(monkeypatch, tmp_path, lambda path: huggingface.run(path, ["pytorch", "keras"], sleep=lambda s: None))
    assert counts["hf_models"] > 0 and counts["hf_crawl"] == 2 and (got["source"] == "huggingface").sum() > 0
    assert not local_file.exists()


def test_huggingface_bulk_save_path(team_store, local_file, tmp_path, monkeypatch):
    parquet = write_list_form(tmp_path / "models.parquet")
    got, _ = on_both_stores(monkeypatch, tmp_path, lambda path: huggingface.run(path, hub_stats=parquet))
    assert (got["source"] == "hub_stats").sum() > 0
    assert not local_file.exists()


def test_probe_save_path(team_store, local_file, tmp_path, monkeypatch):
    results = tmp_path / "probe-results"
    write(results, make_doc())
    got, counts = on_both_stores(monkeypatch, tmp_path, lambda path: probe_source.run(path, results))
    assert counts["probe_runs"] == 1 and counts["probe_cases"] > 0 and (got["source"] == "probe").sum() > 0
    # Re-loading the same file replaces its rows (no key in DuckLake: the writer keeps them unique).
    probe_source.run(Path("unused"), results)
    assert table_counts() == dict(counts, ingest_runs=counts["ingest_runs"] + 1)
    assert not local_file.exists()


# --- the dashboard ---------------------------------------------------------------------------

@pytest.mark.parametrize("page", [None, *PAGES])
def test_every_page_runs_on_the_team_store(lake_snapshot, local_file, page):
    script = ROOT / "app_pages" / f"{page}.py" if page else ROOT / "app.py"
    at = AppTest.from_file(str(script), default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title, "the page drew nothing"
    text = " ".join(str(getattr(e, "value", "")) for e in (*at.caption, *at.markdown, *at.error))
    assert STORE_PASSWORD not in text
    assert not local_file.exists()


# --- PostgreSQL down: said clearly, nothing lost ------------------------------------------------

def test_postgres_down_is_said_clearly_and_nothing_is_lost(local_file, tmp_path, monkeypatch):
    reason = pg_cluster.missing()
    if reason:
        pytest.skip(f"team store: {reason}")
    with pg_cluster.cluster() as pg:  # its own cluster: this test stops it
        pg.createdb("down")
        monkeypatch.setenv("PULSE_STORE", f"ducklake:postgres:{pg.conninfo('down')} password={STORE_PASSWORD}")
        monkeypatch.setenv("PULSE_STORE_DATA_PATH", str(tmp_path / "lake") + "/")
        runner = CliRunner()
        assert runner.invoke(main, ["db", "init"]).exit_code == 0
        before = table_counts()
        page = AppTest.from_file(str(ROOT / "app_pages" / "overview.py"), default_timeout=60)
        page.run()
        assert not page.exception and not page.error

        pg.stop()
        for args in (["db", "info"], ["status"], ["ingest", "trends-csv", str(TRENDS_CSV)]):
            result = runner.invoke(main, args)
            assert result.exit_code != 0, (args, result.output)
            assert "PostgreSQL catalog is unreachable" in result.output and "nothing stored is lost" in result.output, result.output
            assert "Traceback" not in result.output and STORE_PASSWORD not in result.output
        with pytest.raises(DatabaseError, match="unreachable"):
            db.open_read(Path("unused"))
        page.run()  # the open dashboard, on its next run
        assert not page.exception
        assert page.error and "PostgreSQL catalog is unreachable" in page.error[0].value
        assert STORE_PASSWORD not in page.error[0].value

        pg.start()
        assert table_counts() == before
        assert runner.invoke(main, ["ingest", "trends-csv", str(TRENDS_CSV)]).exit_code == 0
        page.run()
        assert not page.exception and not page.error
    lake.close_cached()
    assert not local_file.exists()


# --- small parts ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("ducklake:postgres:dbname=pulse host=db user=u password=hunter2", "ducklake:postgres:dbname=pulse host=db user=u password=***"),
    ("ducklake:postgres:dbname=pulse password='a b c' host=db", "ducklake:postgres:dbname=pulse password=*** host=db"),
    ("ducklake:postgres:postgresql://u:hunter2@db:5432/pulse", "ducklake:postgres:postgresql://u:***@db:5432/pulse"),
    ("ducklake:postgres:dbname=pulse host=db", "ducklake:postgres:dbname=pulse host=db"),
    ("GET http://127.0.0.1:9/api/models?author=a@b failed", "GET http://127.0.0.1:9/api/models?author=a@b failed"),
])
def test_password_redaction(text, expected, monkeypatch):
    monkeypatch.setenv("PULSE_STORE", text)
    assert lake.redact_url(text) == expected
    assert "hunter2" not in config.redact(f"error: {text}")


def test_a_long_password_is_redacted_even_alone_and_a_short_one_leaves_words_alone(monkeypatch):
    monkeypatch.setenv("PULSE_STORE", f"ducklake:postgres:dbname=pulse password={STORE_PASSWORD}")
    assert config.redact(f"driver said: bad {STORE_PASSWORD}") == "driver said: bad ***"
    monkeypatch.setenv("PULSE_STORE", "ducklake:postgres:dbname=pulse password=pulse")
    assert config.redact("run pulse db init; password=pulse") == "run pulse db init; password=***"


def test_ddl_for_ducklake_drops_keys_and_keeps_columns():
    adapted = [lake.adapt_ddl(s) for _, _, statements in schema.MIGRATIONS for s in statements]
    assert all("PRIMARY KEY" not in s.upper() for s in adapted)
    assert "run_id      VARCHAR NOT NULL" in lake.adapt_ddl(schema.MIGRATIONS[0][2][1])
    assert lake.adapt_ddl("CREATE INDEX i ON observations (date)") is None


def test_without_pulse_store_nothing_changes(db_file):
    assert not db.uses_team_store() and db.describe(db_file) == str(db_file)
    snapshot.run(db_file)
    assert db.exists(db_file) and db.version_token(db_file)[0] == os.stat(db_file).st_ino
