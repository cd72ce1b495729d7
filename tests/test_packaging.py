"""Shipped as an application: the data home, the move from a checkout's old data/, and the wheel.

The wheel test builds the wheel from this checkout, installs it (non-editable, no network) into a
fresh virtual environment, and runs it with HOME at an empty folder from an unrelated directory.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pulse import __version__, config
from pulse.cli import main
from tests.github_fake import FakeRepo, fake_github, synthetic_weeks  # noqa: F401 (fixture)
from tests.probe_synthetic import make_doc, write
from tests.pwc_archive import FakeHub, write_archive

ROOT = config.PROJECT_ROOT
TRENDS_CSV = Path(__file__).parent / "fixtures" / "trends" / "good_weekly_worldwide.csv"


def files_under(root: Path, skip_dirs=("__pycache__", ".git", ".pytest_cache")) -> dict[str, tuple[int, int]]:
    """Every file below root (relative name -> (size, mtime_ns)), skipping caches."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip_dirs]
        for name in filenames:
            path = Path(dirpath) / name
            stat = path.lstat()
            found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def count(db: Path, sql: str) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


# --- the data home ----------------------------------------------------------------------------

def test_default_home_is_the_platform_user_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("PULSE_HOME")
    monkeypatch.delenv("PULSE_RAW_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    home = tmp_path / "xdg" / "framework-pulse"
    assert (config.home(), config.db_path(), config.raw_dir(), config.probe_dir()) == (
        home, home / "pulse.duckdb", home / "raw", home / "probe")


@pytest.mark.parametrize("env,expected", [
    ({"PULSE_HOME": "{tmp}/h"}, ("h/pulse.duckdb", "h/raw", "h/probe")),
    ({"PULSE_HOME": "{tmp}/h", "PULSE_DB": "{tmp}/x.duckdb"}, ("x.duckdb", "h/raw", "h/probe")),
    ({"PULSE_HOME": "{tmp}/h", "PULSE_RAW_DIR": "{tmp}/r"}, ("h/pulse.duckdb", "r", "h/probe")),
    ({"PULSE_HOME": "{tmp}/h", "PULSE_PROBE_DIR": "{tmp}/p"}, ("h/pulse.duckdb", "h/raw", "p")),
])
def test_each_setting_overrides_its_part(monkeypatch, tmp_path, env, expected):
    monkeypatch.delenv("PULSE_RAW_DIR")
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    assert (config.db_path(), config.raw_dir(), config.probe_dir()) == tuple(tmp_path / e for e in expected)
    assert config.db_path(tmp_path / "flag.duckdb") == tmp_path / "flag.duckdb"  # --db beats everything


def test_child_processes_get_absolute_paths(monkeypatch, tmp_path):
    """`pulse serve` and the probe run in another folder: a relative setting must keep its meaning."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PULSE_HOME", "rel-home")
    monkeypatch.setenv("PULSE_PROBE_DIR", "~/probe-out")
    env = config.child_env(EXTRA="1")
    assert env["PULSE_HOME"] == str(tmp_path / "rel-home") and env["EXTRA"] == "1"
    assert env["PULSE_PROBE_DIR"] == str(Path("~/probe-out").expanduser())


def test_commands_write_into_the_data_home_and_nothing_into_the_code(monkeypatch, tmp_path, fake_github, httpserver):
    """db init, ingests (GitHub and the Papers with Code download over loopback, Trends CSV, probe
    files) and an export, with only PULSE_HOME set, from an unrelated directory: every file lands in
    the home or in --out."""
    fake_github.add(FakeRepo("jax-ml/jax", synthetic_weeks(dt.date.today() - dt.timedelta(days=60), dt.date.today())))
    FakeHub(dict(write_archive(tmp_path / "archive"))).install(httpserver)
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("/").rstrip("/"))
    monkeypatch.delenv("PULSE_RAW_DIR")
    home = Path(os.environ["PULSE_HOME"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    write(tmp_path / "results", make_doc(run_id="synthhome001", started_at="2026-11-20T10:00:00Z"))
    before = files_under(ROOT)
    runner = CliRunner()

    for args in (["db", "init"], ["ingest", "github", "--framework", "jax"], ["ingest", "trends-csv", str(TRENDS_CSV)], ["ingest", "paperswithcode"],
                 ["ingest", "probe", str(tmp_path / "results")], ["export", "github-stars", "--out", "stars.csv"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, (args, result.output)

    raw = {p.relative_to(home).parts[:2] for p in (home / "raw").rglob("*") if p.is_file()}
    assert {("raw", "github"), ("raw", "trends_csv"), ("raw", "paperswithcode"), ("raw", "probe")} <= raw
    assert count(home / "pulse.duckdb", "SELECT count(DISTINCT source) FROM observations") >= 5
    assert (elsewhere / "stars.csv").exists() and sorted(p.name for p in elsewhere.iterdir()) == ["stars.csv"]
    assert files_under(ROOT) == before


@pytest.mark.slow
def test_probe_run_respects_the_data_home_and_its_override(tmp_path):
    """`pulse probe run` from an unrelated folder: result in PULSE_PROBE_DIR, database and raw copy in the home."""
    pytest.importorskip("jax")
    home, probe_out, elsewhere = tmp_path / "home", tmp_path / "probe-out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PULSE_RAW_DIR", "PULSE_DB")}
    env.update(PULSE_HOME=str(home), PULSE_PROBE_DIR=str(probe_out), PYTHONPATH=str(ROOT))
    before = files_under(ROOT)
    proc = subprocess.run([sys.executable, "-m", "pulse", "probe", "run", "--device", "cpu", "--frameworks", "jax",
                           "--steps", "2", "--budget", "60"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = list(probe_out.glob("probe-*.json"))
    assert len(results) == 1 and (home / "raw" / "probe" / results[0].name).exists()
    assert count(home / "pulse.duckdb", "SELECT count(*) FROM probe_runs") == 1
    assert list(elsewhere.iterdir()) == [] and files_under(ROOT) == before


# --- a checkout's data/ from before the data home ------------------------------------------------

@pytest.fixture
def legacy(monkeypatch, tmp_path, snapshot_db):
    """A checkout's old data/ (database, raw/, probe/) and the default data home (PULSE_HOME unset)."""
    old = tmp_path / "checkout-data"
    (old / "raw" / "github").mkdir(parents=True)
    (old / "raw" / "github" / "page.json.gz").write_bytes(b"synthetic")
    (old / "probe").mkdir()
    (old / "probe" / "probe-x.json").write_text("{}")
    shutil.copyfile(snapshot_db, old / "pulse.duckdb")
    monkeypatch.setattr(config, "LEGACY_DATA_DIR", old)
    monkeypatch.delenv("PULSE_HOME")
    monkeypatch.delenv("PULSE_RAW_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return old, tmp_path / "xdg" / "framework-pulse"


def test_old_checkout_data_is_moved_into_the_home_with_a_message(legacy):
    old, home = legacy
    data = (old / "pulse.duckdb").read_bytes()

    first = CliRunner().invoke(main, ["db", "info"])
    second = CliRunner().invoke(main, ["db", "info"])

    assert first.exit_code == 0, first.output
    for part in ("pulse.duckdb", "raw", "probe"):
        assert f"Moved {old / part} to {home / part}" in first.stderr
        assert not (old / part).exists()
    assert (home / "pulse.duckdb").read_bytes() == data and "823 rows" in first.stdout
    assert (home / "raw" / "github" / "page.json.gz").read_bytes() == b"synthetic" and (home / "probe" / "probe-x.json").exists()
    assert second.exit_code == 0 and second.stderr == ""


@pytest.mark.parametrize("setup,message,moved", [
    # (what exists or is set besides the old data/, expected message fragment or "", what moves)
    ("home-db-exists", "was left where it is", {"raw", "probe"}),
    ("PULSE_HOME", "", set()),
    ("PULSE_DB", "", {"raw", "probe"}),
    ("PULSE_RAW_DIR", "", {"pulse.duckdb", "probe"}),
])
def test_nothing_is_moved_over_existing_data_or_an_explicit_setting(legacy, monkeypatch, tmp_path, setup, message, moved):
    old, home = legacy
    if setup == "home-db-exists":
        home.mkdir(parents=True)
        shutil.copyfile(old / "pulse.duckdb", home / "pulse.duckdb")
    else:
        monkeypatch.setenv(setup, str(tmp_path / "chosen" / setup.lower()))
    data = (old / "pulse.duckdb").read_bytes()

    result = CliRunner().invoke(main, ["status"])

    assert "Traceback" not in result.output
    assert {p for p in ("pulse.duckdb", "raw", "probe") if not (old / p).exists()} == moved
    if "pulse.duckdb" not in moved:
        assert (old / "pulse.duckdb").read_bytes() == data
    assert (message in result.stderr) if message else "left where it is" not in result.stderr


# --- the wheel ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode(errors="replace")


APPTEST = """
import sys
from streamlit.testing.v1 import AppTest
from pulse import config
at = AppTest.from_file(str(config.APP_FILE), default_timeout=120).run()
assert not at.exception, [e.message for e in at.exception]
print(config.APP_FILE)
print(config.SECRETS_FILE)
print("METRICS", [m.label for m in at.metric])
print("TEXT", " ".join(str(c.value) for c in at.caption))
"""


@pytest.mark.slow
def test_wheel_installs_and_runs_from_anywhere(tmp_path):
    pytest.importorskip("hatchling", reason="the build backend (in the test extra) builds the wheel offline")
    checkout_before = files_under(ROOT)
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    wheel = next(dist.glob("framework_pulse-*.whl"))
    assert wheel.name.startswith(f"framework_pulse-{__version__}-")

    # Package data: every page, every snapshot file, the app and its Streamlit config; no secrets, no databases.
    names = set(zipfile.ZipFile(wheel).namelist())
    bundle = "pulse/_bundle/"
    expected = {bundle + "app.py", bundle + ".streamlit/config.toml"}
    expected |= {bundle + str(p.relative_to(ROOT)) for p in (ROOT / "app_pages").glob("*.py")}
    expected |= {bundle + str(p.relative_to(ROOT)) for p in (ROOT / "data" / "snapshot").rglob("*") if p.is_file()}
    assert expected <= names, sorted(expected - names)
    assert not [n for n in names if n.endswith((".duckdb", "secrets.toml", ".pyc"))]

    # A fresh venv; its dependencies come from this interpreter's site-packages (a path line, no network).
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    vpy = venv / "bin" / "python"
    site = Path(subprocess.run([vpy, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    parents = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "_parent_env.pth").write_text("\n".join(parents) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(vpy), "install", "--no-deps", "--no-index", str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    site_before = files_under(site, skip_dirs=())

    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir(), elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "XDG_", "PYTHON", "STREAMLIT_"))}
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    data_home = home / ".local" / "share" / "framework-pulse"

    def pulse(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "pulse"), *args], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=timeout)

    version = pulse("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"pulse, version {__version__}"

    init = pulse("db", "init")
    assert init.returncode == 0, init.stderr[-3000:]
    assert init.stdout.startswith(f"{data_home / 'pulse.duckdb'}: loaded 823 snapshot observations")

    page = subprocess.run([str(vpy), "-c", APPTEST], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert page.returncode == 0, page.stderr[-3000:]
    assert page.stdout.splitlines()[:2] == [str(site / "pulse" / "_bundle" / "app.py"), str(data_home / "secrets.toml")]
    # The Overview page drew the snapshot's figures, with their source and as-of date.
    assert "METRICS ['TensorFlow', 'PyTorch', 'Keras', 'JAX']" in page.stdout
    assert "Source: Embedded snapshot" in page.stdout and "2026-08-01" in page.stdout

    port = _free_port()
    server = subprocess.Popen([str(venv / "bin" / "pulse"), "serve", "--port", str(port)], cwd=elsewhere, env=env,
                              stdout=open(tmp_path / "serve.log", "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, health = time.monotonic() + 120, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = _get(f"http://127.0.0.1:{port}/_stcore/health")
                break
            except OSError:
                time.sleep(0.5)
        assert health == (200, "ok"), (tmp_path / "serve.log").read_text()[-3000:]
        status, shell = _get(f"http://127.0.0.1:{port}/github")
        assert status == 200 and "<title>Streamlit</title>" in shell
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)

    written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert [w for w in written if not w.startswith(".local/share/framework-pulse/")] == [], written
    assert files_under(site, skip_dirs=()) == site_before  # nothing written inside site-packages
    assert list(elsewhere.iterdir()) == []
    assert files_under(ROOT) == checkout_before  # building wrote nothing into the checkout
