"""The CLI: commands work on real files, every command has help with an example and is in the README."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from click.testing import CliRunner

from pulse import config
from pulse.cli import iter_commands, main


def test_db_init_and_info(db_file):
    runner = CliRunner()
    result = runner.invoke(main, ["db", "init", "--db", str(db_file)])
    assert result.exit_code == 0, result.output
    with (config.SNAPSHOT_DIR / "claims.csv").open(newline="") as fh:
        ledger_rows = sum(1 for _ in csv.DictReader(fh))
    assert f"loaded 823 snapshot observations, 105 conference-mention observations and {ledger_rows} claims" in result.output
    info = runner.invoke(main, ["db", "info", "--db", str(db_file)])
    assert info.exit_code == 0, info.output
    assert "observations" in info.output and "823 rows" in info.output
    assert "snapshot" in info.output and "2018-12-18 .. 2026-08-01" in info.output
    assert "conference_mentions " in info.output  # every source id whole (it was cut to 'conference_me...')


def test_pulse_db_env_is_used(db_file, monkeypatch):
    monkeypatch.setenv("PULSE_DB", str(db_file))
    assert CliRunner().invoke(main, ["db", "init"]).exit_code == 0
    assert db_file.exists()


def test_bad_database_gives_one_clean_error(tmp_path):
    bad = tmp_path / "bad.duckdb"
    bad.write_text("not a database")
    result = CliRunner().invoke(main, ["db", "info", "--db", str(bad)])
    assert result.exit_code == 1
    assert "is not a DuckDB database" in result.output and "Traceback" not in result.output
    assert bad.read_text() == "not a database"


def test_every_command_has_help_with_example():
    commands = list(iter_commands())
    assert {"pulse db init", "pulse db info", "pulse serve"} <= {path for path, _ in commands}
    for path, command in commands:
        args = path.split()[1:] + ["--help"]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, path
        assert "Example" in result.output, f"{path} --help has no example"


def test_every_command_is_in_the_readme():
    readme = (config.PROJECT_ROOT / "README.md").read_text()
    missing = [path for path, command in iter_commands() if f"`{path}" not in readme and f"{path} " not in readme]
    assert not missing, f"commands missing from README.md: {missing}"


def test_every_setting_is_in_the_readme():
    readme = (config.PROJECT_ROOT / "README.md").read_text()
    assert [name for name in config.SETTINGS if f"`{name}`" not in readme] == []


@pytest.mark.parametrize("args", [["--help"], ["db", "info", "--help"]])
def test_module_entry_point(args):
    result = subprocess.run([sys.executable, "-m", "pulse", *args], capture_output=True, text=True, cwd=config.PROJECT_ROOT, timeout=60)
    assert result.returncode == 0 and "Example" in result.stdout
