"""The scheduling files in deploy/ work as written: systemd accepts them, and their commands run.

Sources other than `snapshot` would need the network, so the commands run with `--source snapshot`
appended; everything else (paths aside) is exactly what the files say.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from pulse.cli import main
from tests.ops_fakes.procs import ROOT, query

DEPLOY = ROOT / "deploy"
SERVICE = DEPLOY / "systemd" / "framework-pulse-ingest.service"
TIMER = DEPLOY / "systemd" / "framework-pulse-ingest.timer"
CRON = DEPLOY / "cron" / "framework-pulse"


def unit_value(path, key: str) -> str:
    return next(line.split("=", 1)[1] for line in path.read_text().splitlines() if line.startswith(key + "="))


def env_file(tmp_path, db) -> str:
    text = (DEPLOY / "env.example").read_text()
    text = text.replace("/var/lib/framework-pulse/pulse.duckdb", str(db)).replace("/var/lib/framework-pulse/raw", str(tmp_path / "raw"))
    path = tmp_path / "env"
    path.write_text(text)
    return str(path)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_units_verify(tmp_path, db_file):
    service = SERVICE.read_text()
    # Only the host-specific paths and user change; systemd checks every directive and the binary.
    service = (service.replace("/srv/framework-pulse/.venv/bin/pulse", shutil.which("true"))
               .replace("/srv/framework-pulse", str(ROOT)).replace("/etc/framework-pulse/env", env_file(tmp_path, db_file))
               .replace("User=pulse", "User=root").replace("Group=pulse", "Group=root"))
    (tmp_path / SERVICE.name).write_text(service)
    shutil.copy(TIMER, tmp_path / TIMER.name)

    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)],
                            capture_output=True, text=True, timeout=60)
    calendar = subprocess.run(["systemd-analyze", "calendar", unit_value(TIMER, "OnCalendar")], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0 and result.stdout + result.stderr == ""
    assert calendar.returncode == 0 and "Next elapse" in calendar.stdout


def test_systemd_exec_start_runs_the_ingest(tmp_path, db_file, monkeypatch):
    exec_start = shlex.split(unit_value(SERVICE, "ExecStart"))
    assert exec_start[0].endswith("/bin/pulse") and exec_start[1:] == ["ingest", "--all", "--quiet"]
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("PULSE_DB", str(db_file))

    result = CliRunner().invoke(main, exec_start[1:] + ["--source", "snapshot"])

    assert result.exit_code == 0 and result.output == ""  # quiet: nothing for the journal on success
    assert query(db_file, "SELECT count(*) FROM observations") == [(823,)]


def test_cron_line_runs_in_sh_as_written(tmp_path, db_file):
    line = next(l for l in CRON.read_text().splitlines() if l and not l.startswith(("#", "MAILTO")))
    fields = line.split(None, 6)
    assert fields[:5] == ["17", "4", "*", "*", "*"] and fields[5] == "pulse"  # /etc/cron.d format: user field
    command = (fields[6].replace("/srv/framework-pulse", str(ROOT)).replace("/etc/framework-pulse/env", env_file(tmp_path, db_file))
               .replace(".venv/bin/pulse", f"PYTHONPATH={ROOT} {sys.executable} -m pulse"))

    result = subprocess.run(["/bin/sh", "-c", command + " --source snapshot"], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0 and result.stdout + result.stderr == ""
    assert query(db_file, "SELECT count(*) FROM observations") == [(823,)]
