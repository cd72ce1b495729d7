"""Hostile and broken input thrown at every command (issue 14), as one table.

Each case: the command line, the input it is given (built by a setup function in a temp
directory), the fragment the one-line error must contain, the exit code, and what must stay
unchanged in the database: "bytes" (the file is byte-identical: nothing was written, not even
a failed-run record) or "data" (every table except ingest_runs holds exactly what it held: a
failed run may be recorded, so `pulse status` shows it). No case may end in a traceback.

The Trends, GitHub and Hub helpers' source-specific cases live beside their sources' tests.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from analytics import inventory
from pulse.cli import main
from tests.probe_synthetic import make_doc

FIXTURES = Path(__file__).parent / "fixtures"


# --- Helpers ----------------------------------------------------------------------------------

def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def data_digest(path: Path) -> str:
    """Every row of every schema table except ingest_runs, in a stable order."""
    if not path.exists():
        return "absent"
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH '{path}' AS d (READ_ONLY)")
        con.execute("USE d")
        h = hashlib.sha256()
        for name in inventory.known_tables():  # names from code only
            if name == "ingest_runs" or not inventory.has_table(con, name):
                continue
            (rows,) = con.execute(f"SELECT md5(coalesce(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR)), '')) FROM {name} AS t").fetchone()
            h.update(f"{name}={rows};".encode())
        return h.hexdigest()
    finally:
        con.close()


def invoke(args: list[str], env: dict | None = None):
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        pytest.fail("traceback instead of a message:\n" + "".join(traceback.format_exception(result.exception)))
    return result


def write_probe(path: Path, doc=None, *, text: str | None = None, raw: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(text if text is not None else json.dumps(doc))
    return path


def mutated(change: Callable[[dict], None]) -> dict:
    """A SYNTHETIC valid probe result with one change."""
    doc = copy.deepcopy(make_doc(run_id="synthbad0001"))
    change(doc)
    return doc


def case0(field: str, value):
    def change(doc):
        node = doc["cases"][0]
        *parents, last = field.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    return change


def top(field: str, value):
    def change(doc):
        doc[field] = value
    return change


# --- Setups: each builds the input in tmp and returns the arguments ---------------------------------------------

def probe_file(doc=None, *, text=None, raw=None):
    def setup(tmp: Path, db: Path) -> list:
        return ["ingest", "probe", write_probe(tmp / "in" / "probe-bad.json", doc, text=text, raw=raw), "--db", db]
    return setup


def probe_text(change: Callable[[dict], None], replace: tuple[str, str]):
    """A file whose JSON text is edited after dumping (for tokens json.dumps would not write)."""
    text = json.dumps(mutated(change))
    assert replace[0] in text
    return probe_file(text=text.replace(replace[0], replace[1], 1))


def deep_nesting(levels: int):
    def change(doc):
        node: list = []
        doc["environment"]["extra"] = node
        for _ in range(levels):
            inner: list = []
            node.append(inner)
            node = inner
    if levels < 500:
        return probe_file(mutated(change))
    return probe_text(lambda d: d["environment"].__setitem__("extra", "NEST"), ('"NEST"', "[" * levels + "]" * levels))


def latin1(tmp_unused=None):
    doc = mutated(lambda d: d["environment"].__setitem__("host", "synthetic-Müller"))
    return probe_file(raw=json.dumps(doc, ensure_ascii=False).encode("latin-1"))


def duplicate_case():
    return probe_file(mutated(lambda d: d["cases"].append(copy.deepcopy(d["cases"][0]))))


def fifo_probe(tmp: Path, db: Path) -> list:
    path = tmp / "in" / "probe-fifo.json"
    path.parent.mkdir(parents=True)
    os.mkfifo(path)
    return ["ingest", "probe", path, "--db", db]


def huge_probe(tmp: Path, db: Path) -> list:
    path = tmp / "in" / "probe-huge.json"
    path.parent.mkdir(parents=True)
    with open(path, "wb") as fh:  # sparse: 16 MiB + 1 byte of nothing
        fh.truncate(16 * 1024 * 1024 + 1)
    return ["ingest", "probe", path, "--db", db]


def directory_with_one_bad(tmp: Path, db: Path) -> list:
    directory = tmp / "results"
    write_probe(directory / "probe-good.json", make_doc(run_id="synthgood001"))
    write_probe(directory / "probe-bad.json", mutated(top("schema_version", 99)))
    return ["ingest", "probe", directory, "--db", db]


def crafted_table_name(tmp: Path, db: Path) -> list:
    """Issue 14: a table named to close the quoted identifier and COPY to a file of the attacker's choosing."""
    target = tmp / "pwned.txt"
    con = duckdb.connect(str(db))
    name = f'claims"; COPY (SELECT 42) TO \'{target}\'; --'
    con.execute(f'CREATE TABLE "{name.replace(chr(34), chr(34) * 2)}" (a INTEGER)')
    con.execute("CREATE VIEW leak AS SELECT * FROM read_text('/etc/hostname')")
    con.execute('CREATE TABLE "line\nbreak\x1b[31m" (a INTEGER)')
    con.close()
    return ["db", "info", "--db", db]


def observations_view(tmp: Path, db: Path) -> list:
    """The schema's own table name, but a view that reads another file: not read by db info."""
    con = duckdb.connect(str(db))
    con.execute("ALTER TABLE claims RENAME TO claims_real")
    con.execute("CREATE VIEW claims AS SELECT * FROM read_text('/etc/hostname')")
    con.close()
    return ["db", "info", "--db", db]


def sqlite_db(command: list[str]):
    def setup(tmp: Path, db: Path) -> list:
        import sqlite3

        path = tmp / "other.sqlite"
        sqlite3.connect(path).execute("CREATE TABLE t (a)").connection.commit()
        return [*command, "--db", path]
    return setup


def fifo_db(tmp: Path, db: Path) -> list:
    path = tmp / "fifo.duckdb"
    os.mkfifo(path)
    return ["status", "--db", path]


def empty_db(tmp: Path, db: Path) -> list:
    path = tmp / "empty.duckdb"
    path.write_bytes(b"")
    return ["db", "info", "--db", path]


def long_export_name(tmp: Path, db: Path) -> list:
    return ["export", "github-stars", "--out", tmp / ("a" * 300 + ".csv"), "--db", db]


def long_report_name(tmp: Path, db: Path) -> list:
    return ["report", "--out", tmp / ("r" * 300 + ".html"), "--db", db]


def long_export_dir(tmp: Path, db: Path) -> list:
    return ["export", "--all", "--format", "csv", "--out", tmp / ("d" * 300), "--db", db]


def export_set(chart: str, pair: str):
    def setup(tmp: Path, db: Path) -> list:
        return ["export", chart, "--out", tmp / "x.csv", "--set", pair, "--db", db]
    return setup


def export_all_set(tmp: Path, db: Path) -> list:
    (tmp / "all").mkdir()
    return ["export", "--all", "--format", "csv", "--out", tmp / "all", "--set", "devise=x", "--db", db]


def lock_is_a_directory(tmp: Path, db: Path) -> list:
    (db.parent / (db.name + ".ingest.lock")).mkdir()
    return ["ingest", "--all", "--source", "snapshot", "--db", db]


def lock_is_a_directory_json(tmp: Path, db: Path) -> list:
    return [*lock_is_a_directory(tmp, db), "--json"]


def args(*parts):
    def setup(tmp: Path, db: Path) -> list:
        return [db if p == "DB" else tmp / p[4:] if isinstance(p, str) and p.startswith("TMP/") else p for p in parts]
    return setup


@dataclass
class Case:
    id: str
    setup: Callable[[Path, Path], list]
    fragment: str
    exit_code: int
    unchanged: str  # "bytes" or "data"
    env: dict | None = None


CASES = [
    # --- the database file itself -----------------------------------------------------------------
    Case("db-info-crafted-table-name", crafted_table_name, "not part of the schema: not read", 0, "bytes"),
    Case("db-info-schema-name-as-view", observations_view, "claims                       (view, not part of the schema", 0, "bytes"),
    Case("sqlite-db-info", sqlite_db(["db", "info"]), "is a SQLite database, not a DuckDB one", 1, "bytes"),
    Case("sqlite-status", sqlite_db(["status"]), "is a SQLite database, not a DuckDB one", 1, "bytes"),
    Case("sqlite-db-init", sqlite_db(["db", "init"]), "is a SQLite database, not a DuckDB one", 1, "bytes"),
    Case("sqlite-ingest-all", sqlite_db(["ingest", "--all", "--source", "snapshot"]), "is a SQLite database", 1, "bytes"),
    Case("fifo-as-database", fifo_db, "is not a regular file, so not a database", 1, "bytes"),
    Case("empty-file-as-database", empty_db, "is not a DuckDB database (or it is damaged)", 1, "bytes"),
    # --- export and report names and options -------------------------------------------------------------
    Case("export-300-char-name", long_export_name, "more than the 255 this filesystem allows", 1, "bytes"),
    Case("report-300-char-name", long_report_name, "more than the 255 this filesystem allows", 1, "bytes"),
    Case("export-all-300-char-dir", long_export_dir, "more than the 255 this filesystem allows", 1, "bytes"),
    Case("export-set-unknown-key", export_set("github-stars", "foo=bar"), "Unknown option --set foo=... for chart 'github-stars'", 1, "bytes"),
    Case("export-set-close-key", export_set("pwc-implementation-share", "varient=all"), "Did you mean 'variant'? Valid: variant.", 1, "bytes"),
    Case("export-set-hub-keys", export_set("hf-share", "sorce=api"), "Did you mean 'source'? Valid: base, source.", 1, "bytes"),
    Case("export-all-set-unknown", export_all_set, "Did you mean 'device'?", 1, "bytes"),
    Case("export-set-not-key-value", export_set("github-stars", "="), "Chart options are KEY=VALUE", 1, "bytes"),
    # --- the --all run lock and settings ---------------------------------------------------------------
    Case("all-lock-path-is-a-directory", lock_is_a_directory, "Cannot create the run lock", 1, "bytes"),
    Case("all-lock-path-is-a-directory-json", lock_is_a_directory_json, '"exit_code": 1', 1, "bytes"),
    Case("all-timeout-setting-not-a-number", args("ingest", "--all", "--source", "snapshot", "--db", "DB"),
         "PULSE_SOURCE_TIMEOUT is 'abc', not a number of seconds", 1, "bytes", {"PULSE_SOURCE_TIMEOUT": "abc"}),
    Case("all-timeout-setting-negative", args("ingest", "--all", "--source", "snapshot", "--db", "DB"),
         "PULSE_SOURCE_TIMEOUT is '-5'", 1, "bytes", {"PULSE_SOURCE_TIMEOUT": "-5"}),
    Case("probe-run-negative-budget", args("probe", "run", "--budget", "-5", "--db", "DB"), "'--budget': -5.0 is not in the range", 2, "bytes"),
    Case("probe-run-zero-steps", args("probe", "run", "--steps", "0", "--db", "DB"), "'--steps': 0 is not in the range", 2, "bytes"),
    # --- probe result files: refused whole, with the first reason ----------------------------------------------
    Case("probe-infinity", probe_text(case0("tokens_per_s", 1.5), ('"tokens_per_s": 1.5', '"tokens_per_s": Infinity')),
         "Infinity is not a number this schema accepts", 1, "data"),
    Case("probe-nan", probe_text(case0("loss_last", 4.25), ('"loss_last": 4.25', '"loss_last": NaN')),
         "NaN is not a number this schema accepts", 1, "data"),
    Case("probe-negative-step", probe_file(mutated(case0("step_ms.median", -40.0))), "cases[0].step_ms.median is -40.0, expected more than 0", 1, "data"),
    Case("probe-zero-tokens", probe_file(mutated(case0("tokens_per_s", 0))), "cases[0].tokens_per_s is 0, expected more than 0", 1, "data"),
    Case("probe-1e308", probe_file(mutated(case0("tokens_per_s", 1e308))), "cases[0].tokens_per_s is 1e+308, more than 1e+12", 1, "data"),
    Case("probe-schema-version-99", probe_file(mutated(top("schema_version", 99))), "schema_version is 99; this version of Framework Pulse reads only 1", 1, "data"),
    Case("probe-huge-integer", probe_file(mutated(case0("peak_memory_bytes", 10**30))), "an integer of 31 digits is out of range", 1, "data"),
    Case("probe-integer-beyond-range", probe_file(mutated(case0("peak_memory_bytes", 2**62))), "cases[0].peak_memory_bytes is 4611686018427387904, more than", 1, "data"),
    Case("probe-5000-digit-integer", probe_text(case0("timed_steps", 20), ('"timed_steps": 20', '"timed_steps": ' + "9" * 5000)),
         "an integer of 5,000 digits is out of range", 1, "data"),
    Case("probe-deep-nesting-100000", deep_nesting(100_000), "nested too deeply", 1, "data"),
    Case("probe-deep-nesting-40", deep_nesting(40), "nested more than 32 levels deep", 1, "data"),
    Case("probe-latin-1-bytes", latin1(), "not UTF-8 text (byte 0xfc", 1, "data"),
    Case("probe-duplicate-case", duplicate_case(), "cases[5] repeats cases[0] (pytorch/eager/fp32/cpu)", 1, "data"),
    Case("probe-duplicate-key", probe_text(case0("mode", "eager"), ('"run_id": ', '"run_id": "x", "run_id": ')), "the key 'run_id' appears twice", 1, "data"),
    Case("probe-year-0001", probe_file(mutated(top("started_at", "0001-01-01T00:00:00Z"))), "started_at is 0001-01-01T00:00:00Z, outside 1990-01-01", 1, "data"),
    Case("probe-not-a-date", probe_file(mutated(top("started_at", "yesterday"))), "started_at is 'yesterday', expected an ISO 8601 timestamp", 1, "data"),
    Case("probe-mfu-above-datasheet-peak", probe_file(mutated(lambda d: (case0("peak_tflops.estimated", False)(d), case0("mfu", 1.7)(d)))),
         "cases[0].mfu is 1.7, above 1", 1, "data"),
    Case("probe-unordered-quartiles", probe_file(mutated(case0("step_ms.q1", 1000.0))), "step_ms is not ordered", 1, "data"),
    Case("probe-case-not-an-object", probe_file(mutated(lambda d: d["cases"].insert(0, "fast"))), "cases[0] is str, expected an object", 1, "data"),
    Case("probe-run-id-with-newline", probe_file(mutated(top("run_id", "a\nb"))), "run_id is 'a\\nb', expected 1-64 letters", 1, "data"),
    Case("probe-unknown-framework", probe_file(mutated(case0("framework", "caffe"))), "cases[0].framework is 'caffe', expected one of", 1, "data"),
    Case("probe-skipped-case-with-1e308", probe_file(mutated(lambda d: d["cases"][0].update(status="skipped", reason="synthetic", tokens_per_s=1e308))),
         "cases[0].tokens_per_s is 1e+308", 1, "data"),
    Case("probe-not-json", probe_file(text="{not json"), "not valid JSON (Expecting property name", 1, "data"),
    Case("probe-fifo", fifo_probe, "is not a regular file; it was not read", 1, "data"),
    Case("probe-dev-zero", args("ingest", "probe", "/dev/zero", "--db", "DB"), "/dev/zero is not a regular file", 1, "data"),
    Case("probe-too-large", huge_probe, "more than a probe result's limit of 16,777,216", 1, "data"),
    Case("probe-directory-one-bad-others-load", directory_with_one_bad, "skipped probe-bad.json: ", 0, "none"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, snapshot_db, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    argv = case.setup(work, snapshot_db)
    target = Path(argv[argv.index("--db") + 1]) if "--db" in argv else snapshot_db
    if stat.S_ISFIFO(os.stat(target).st_mode) if target.exists() else False:
        before_bytes, before_data = "fifo", "fifo"
    else:
        before_bytes, before_data = file_digest(target), data_digest(target) if target.suffix == ".duckdb" and target.stat().st_size else "n/a"
    result = invoke(argv, env=case.env)
    assert result.exit_code == case.exit_code, result.output
    assert case.fragment in result.output, result.output
    if case.exit_code:
        assert result.output.strip().splitlines()[-1].startswith(("Error:", "{", "}")) or "Error:" in result.output
    if before_bytes == "fifo":
        return
    if case.unchanged == "bytes":
        assert file_digest(target) == before_bytes
    elif case.unchanged == "data":
        assert data_digest(target) == before_data


def test_crafted_table_name_writes_no_file(snapshot_db, tmp_path):
    crafted_table_name(tmp_path, snapshot_db)
    result = invoke(["db", "info", "--db", str(snapshot_db)])
    assert result.exit_code == 0
    assert not (tmp_path / "pwned.txt").exists()
    assert "line\\nbreak\\x1b[31m" in result.output and "\x1b" not in result.output  # printed escaped
    assert "leak" in result.output and "observations" in result.output


def test_a_directory_loads_its_good_files_and_names_the_bad_one(snapshot_db, tmp_path):
    directory_with_one_bad(tmp_path, snapshot_db)
    result = invoke(["ingest", "probe", str(tmp_path / "results"), "--db", str(snapshot_db)])
    assert result.exit_code == 0, result.output
    assert "loaded 1 probe result file(s)" in result.output
    assert "skipped probe-bad.json: " in result.output and "schema_version is 99" in result.output
    con = duckdb.connect(str(snapshot_db), read_only=True)
    try:
        assert con.execute("SELECT run_id FROM probe_runs").fetchall() == [("synthgood001",)]
        assert con.execute("SELECT status FROM ingest_runs WHERE source = 'probe'").fetchall() == [("partial",)]
    finally:
        con.close()


def test_set_options_cover_every_key_a_chart_reads(snapshot_db):
    """A valid --set key must never be refused: run every builder and record the keys it reads."""
    from analytics import export
    from analytics.charts import ChartOptions, catalog
    from pulse import db as database

    class Recording(dict):
        def __init__(self):
            super().__init__()
            self.read: set[str] = set()

        def get(self, key, default=None):
            self.read.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            self.read.add(key)
            return super().__getitem__(key)

        def __contains__(self, key):
            self.read.add(key)
            return super().__contains__(key)

    assert set(export.CHART_OPTIONS) == set(catalog())
    con = database.open_read(snapshot_db)
    try:
        for name, spec in catalog().items():
            extra = Recording()
            spec.builder(con, ChartOptions(extra=extra))
            assert extra.read <= set(export.CHART_OPTIONS[name]), (name, extra.read)
    finally:
        con.close()


# --- A read-only filesystem (real mount) --------------------------------------------------------------------------

@pytest.fixture
def read_only_db(snapshot_db, tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True, capture_output=True, timeout=30)
    except (subprocess.CalledProcessError, FileNotFoundError, PermissionError) as exc:
        pytest.skip(f"cannot mount a tmpfs here (needs root/CAP_SYS_ADMIN): {exc}")
    try:
        shutil.copyfile(snapshot_db, mount / "pulse.duckdb")
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True, capture_output=True, timeout=30)
        yield mount / "pulse.duckdb"
    finally:
        subprocess.run(["umount", str(mount)], check=False, timeout=30)


@pytest.mark.parametrize("command, fragment", [
    (["ingest", "--all", "--source", "snapshot"], "Cannot create the run lock"),
    (["db", "init"], "Cannot write next to"),
    (["ingest", "snapshot"], "Cannot write next to"),
])
def test_read_only_directory_is_a_clean_refusal(read_only_db, command, fragment):
    before = file_digest(read_only_db)
    result = invoke([*command, "--db", str(read_only_db)])
    assert result.exit_code == 1 and fragment in result.output and "Read-only file system" in result.output, result.output
    assert file_digest(read_only_db) == before
    # and reading still works
    assert invoke(["db", "info", "--db", str(read_only_db)]).exit_code == 0


# --- Damaged DuckDB blocks: every command that opens the file -------------------------------------------------------

DAMAGE_COMMANDS = {
    "db info": ["db", "info"],
    "status": ["status"],
    "db init": ["db", "init"],
    "export": ["export", "github-stars", "--out", "OUT/stars.csv"],
    "export --all": ["export", "--all", "--format", "csv", "--out", "OUT"],
    "report": ["report", "--out", "OUT/report.html"],
    "ingest probe": ["ingest", "probe", "PROBE"],
    "ingest trends-csv": ["ingest", "trends-csv", str(FIXTURES / "trends" / "good_weekly_worldwide.csv")],
    "ingest --all": ["ingest", "--all", "--source", "snapshot"],
}
CLEAN_DAMAGE = ("is damaged", "is not a DuckDB database (or it is damaged)")


@pytest.fixture(scope="module")
def rich_db(tmp_path_factory) -> Path:
    """The snapshot plus SYNTHETIC probe results and a Trends CSV fixture: data in many blocks."""
    from ingest import probe, snapshot, trends_csv

    base = tmp_path_factory.mktemp("rich")
    path = base / "rich.duckdb"
    snapshot.run(path)
    results = base / "results"
    write_probe(results / "probe-synthrich0001.json", make_doc(run_id="synthrich0001"))
    write_probe(results / "probe-synthrich0002.json", make_doc(run_id="synthrich0002", started_at="2026-11-21T10:00:00Z", scale=1.1))
    probe.run(path, results)
    trends_csv.run(path, [FIXTURES / "trends" / "good_weekly_worldwide.csv"])
    return path


def damage_offsets(path: Path) -> dict[str, int]:
    con = duckdb.connect(":memory:")
    con.execute(f"ATTACH '{path}' AS d (READ_ONLY)")
    block_size, used = con.execute("SELECT block_size, used_blocks FROM pragma_database_size() WHERE database_name = 'd'").fetchone()
    con.close()
    offsets = {"main-header-magic": 8, "db-header-1": 4096 + 8, "db-header-2": 8192 + 8}
    for i in range(min(used, 12)):
        offsets[f"block-{i}"] = 3 * 4096 + i * block_size + 64
    return offsets


def test_damaged_blocks_give_a_clean_message_and_leave_the_file(rich_db, tmp_path):
    """Random bytes over each header and each used block in turn; every command that opens the file.

    A command that reads or writes a damaged block fails with one message naming the file and
    leaves it byte-identical (not even its failed run is recorded into a damaged file); one
    that never touches the damaged block may succeed.
    """
    import random

    rng = random.Random(14)  # fixed: the same damage every run
    results = tmp_path / "results"
    write_probe(results / "probe-synthnew00001.json", make_doc(run_id="synthnew00001", started_at="2026-11-25T10:00:00Z"))
    refused: dict[str, int] = dict.fromkeys(DAMAGE_COMMANDS, 0)
    for where, offset in damage_offsets(rich_db).items():
        for name, command in DAMAGE_COMMANDS.items():
            work = tmp_path / f"{where}-{name.replace(' ', '_')}"
            out = work / "out"
            out.mkdir(parents=True)
            damaged = work / "pulse.duckdb"
            data = bytearray(rich_db.read_bytes())
            data[offset:offset + 64] = rng.randbytes(64)
            damaged.write_bytes(bytes(data))
            before = file_digest(damaged)
            argv = [str(out) + a[3:] if a.startswith("OUT") else str(results) if a == "PROBE" else a for a in command]
            result = invoke([*argv, "--db", str(damaged)])
            if result.exit_code == 0:
                continue
            message = result.output
            assert file_digest(damaged) == before, (where, name, "the damaged file was written")
            if name == "status" and "Attention:" in message:
                continue  # read fine; exit 1 because the sources are stale (the fixture ran none)
            assert str(damaged) in message, (where, name, message)
            assert any(text in message for text in CLEAN_DAMAGE), (where, name, message)
            refused[name] += 1
    # Each command met damage somewhere (else this test could not fail).
    assert all(count >= 3 for count in refused.values()), refused
