"""The scheduling files in deploy/ work as written: systemd accepts them, and their commands run.

Sources other than `snapshot` would need the network, so the commands run with `--source snapshot`
appended; everything else (paths aside) is exactly what the files say.
"""

from __future__ import annotations

import os
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
DASHBOARD = DEPLOY / "systemd" / "framework-pulse-dashboard.service"
TIMER = DEPLOY / "systemd" / "framework-pulse-ingest.timer"
CRON = DEPLOY / "cron" / "framework-pulse"
INSTALLED_PULSE = "/opt/framework-pulse/bin/pulse"  # the entry point of a non-editable install
DATA_HOME = "/var/lib/framework-pulse"


def unit_value(path, key: str) -> str:
    return next(line.split("=", 1)[1] for line in path.read_text().splitlines() if line.startswith(key + "="))


def env_file(tmp_path, home) -> str:
    path = tmp_path / "env"
    path.write_text((DEPLOY / "env.example").read_text().replace(DATA_HOME, str(home)))
    return str(path)


@pytest.mark.parametrize("unit", [SERVICE, DASHBOARD])
def test_units_run_the_installed_entry_point_as_a_dedicated_user_with_the_data_home(unit):
    assert shlex.split(unit_value(unit, "ExecStart"))[0] == INSTALLED_PULSE
    assert unit_value(unit, "User") == unit_value(unit, "Group") == "pulse"
    assert unit_value(unit, "Environment") == f"PULSE_HOME={DATA_HOME}" and unit_value(unit, "WorkingDirectory") == DATA_HOME
    assert f"/var/lib/{unit_value(unit, 'StateDirectory')}" == DATA_HOME  # systemd creates it, owned by User
    assert f"PULSE_HOME={DATA_HOME}" in (DEPLOY / "env.example").read_text().splitlines()  # the same home for cron


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_units_verify(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    for unit in (SERVICE, DASHBOARD):
        # Only the host-specific paths and user change; systemd checks every directive and the binary.
        text = (unit.read_text().replace(INSTALLED_PULSE, shutil.which("true")).replace(DATA_HOME, str(home))
                .replace("/etc/framework-pulse/env", env_file(tmp_path, home))
                .replace("User=pulse", "User=root").replace("Group=pulse", "Group=root"))
        (tmp_path / unit.name).write_text(text)
    shutil.copy(TIMER, tmp_path / TIMER.name)

    result = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / u.name) for u in (SERVICE, DASHBOARD, TIMER))],
                            capture_output=True, text=True, timeout=60)
    calendar = subprocess.run(["systemd-analyze", "calendar", unit_value(TIMER, "OnCalendar")], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0 and result.stdout + result.stderr == ""
    assert calendar.returncode == 0 and "Next elapse" in calendar.stdout


def test_systemd_exec_start_runs_the_ingest(tmp_path, monkeypatch):
    exec_start = shlex.split(unit_value(SERVICE, "ExecStart"))
    assert exec_start[1:] == ["ingest", "--all", "--quiet"]
    assert shlex.split(unit_value(DASHBOARD, "ExecStart"))[1:] == ["serve", "--port", "8501"]
    home = tmp_path / "home"
    for line in (DEPLOY / "env.example").read_text().replace(DATA_HOME, str(home)).splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("PULSE_RAW_DIR")

    result = CliRunner().invoke(main, exec_start[1:] + ["--source", "snapshot"])

    assert result.exit_code == 0 and result.output == ""  # quiet: nothing for the journal on success
    assert query(home / "pulse.duckdb", "SELECT count(*) FROM observations WHERE source = 'snapshot'") == [(823,)]  # in the data home


def test_cron_line_runs_in_sh_as_written(tmp_path):
    line = next(l for l in CRON.read_text().splitlines() if l and not l.startswith(("#", "MAILTO")))
    fields = line.split(None, 6)
    assert fields[:5] == ["17", "4", "*", "*", "*"] and fields[5] == "pulse"  # /etc/cron.d format: user field
    home = tmp_path / "home"
    command = (fields[6].replace("/etc/framework-pulse/env", env_file(tmp_path, home))
               .replace(INSTALLED_PULSE, f"PYTHONPATH={ROOT} {sys.executable} -m pulse"))
    env = {k: v for k, v in os.environ.items() if k not in ("PULSE_HOME", "PULSE_RAW_DIR")}  # from the env file only

    result = subprocess.run(["/bin/sh", "-c", command + " --source snapshot"], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env=env)

    assert result.returncode == 0 and result.stdout + result.stderr == ""
    assert query(home / "pulse.duckdb", "SELECT count(*) FROM observations WHERE source = 'snapshot'") == [(823,)]
