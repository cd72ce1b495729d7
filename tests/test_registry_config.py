"""Registry lookups with suggestions, and secrets that never leak."""

from __future__ import annotations

import logging

import pytest

from pulse import config, registry
from pulse.errors import UnknownFramework


def test_registry_has_required_frameworks_and_fields():
    for fid in ("pytorch", "tensorflow", "jax", "keras", "paddlepaddle", "mxnet"):
        fw = registry.get(fid)
        assert fw.name and fw.color.startswith("#") and fw.github and fw.trends
    assert registry.get("jax").primary_repo == "jax-ml/jax"
    assert "google/jax" in registry.get("jax").github_former


def test_colours_are_distinct():
    colours = [f.color.lower() for f in registry.frameworks().values()]
    assert len(colours) == len(set(colours))


@pytest.mark.parametrize("given,suggested", [("pytorh", "pytorch"), ("TensorFlow", "tensorflow"), ("jaxx", "jax")])
def test_unknown_id_suggests_closest(given, suggested):
    with pytest.raises(UnknownFramework) as info:
        registry.get(given)
    assert info.value.suggestion == suggested
    assert f"Did you mean '{suggested}'" in str(info.value)


def test_by_key_maps_source_values():
    assert registry.by_key("pwc")["tf"] == "tensorflow"
    assert registry.by_key("github_former")["google/jax"] == "jax"


def test_adding_a_framework_is_a_registry_edit(tmp_path):
    extra = tmp_path / "frameworks.toml"
    extra.write_text(registry.REGISTRY_FILE.read_text() + '\n[mindspore]\nname = "MindSpore"\ncolor = "#123456"\ngithub = ["mindspore-ai/mindspore"]\n')
    loaded = registry.load(extra)
    assert loaded["mindspore"].primary_repo == "mindspore-ai/mindspore"


def test_malformed_registry_entry_names_file_and_key(tmp_path):
    bad = tmp_path / "frameworks.toml"
    bad.write_text('[torchy]\ncolor = "#000000"\n')
    with pytest.raises(Exception, match=r"\[torchy\] has no 'name'"):
        registry.load(bad)


def test_secret_from_secrets_file_and_redaction(tmp_path, monkeypatch, caplog):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('GITHUB_TOKEN = "ghp_synthetictesttoken123"\n')
    monkeypatch.setattr(config, "SECRETS_FILE", secrets)
    assert config.secret("GITHUB_TOKEN") == "ghp_synthetictesttoken123"
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_fromenvironment456")
    assert config.secret("GITHUB_TOKEN") == "ghp_fromenvironment456"
    assert config.redact("auth ghp_fromenvironment456 failed") == "auth *** failed"
    logger = logging.getLogger("pulse.test")
    handler_filter = config.RedactingFilter()
    logger.addFilter(handler_filter)
    with caplog.at_level(logging.INFO):
        logger.info("token is %s", "ghp_fromenvironment456")
    assert "ghp_fromenvironment456" not in caplog.text and "***" in caplog.text


def test_db_path_precedence(monkeypatch, tmp_path):
    assert config.db_path() == config.DEFAULT_DB
    monkeypatch.setenv("PULSE_DB", str(tmp_path / "env.duckdb"))
    assert config.db_path() == tmp_path / "env.duckdb"
    assert config.db_path(tmp_path / "flag.duckdb") == tmp_path / "flag.duckdb"


def test_an_unreadable_secrets_file_is_one_message_not_a_traceback(db_file, tmp_path, monkeypatch):
    """A secrets.toml that is a folder (or unreadable by this user) ends the command with one line
    naming it; redaction at the error boundary still works (it skips the file)."""
    from click.testing import CliRunner

    from pulse.cli import main

    folder = tmp_path / "secrets.toml"
    folder.mkdir()
    monkeypatch.setattr(config, "SECRETS_FILE", folder)
    monkeypatch.delenv("STACKEXCHANGE_KEY", raising=False)
    monkeypatch.setenv("PULSE_STACKEXCHANGE_URL", "http://127.0.0.1:9")
    result = CliRunner().invoke(main, ["ingest", "stackoverflow", "--framework", "jax", "--db", str(db_file)])
    assert result.exit_code == 1 and "Traceback" not in result.output and result.exception is not None
    assert f"Cannot read the secrets file {folder}" in result.output
    assert config.redact("nothing secret here") == "nothing secret here"
