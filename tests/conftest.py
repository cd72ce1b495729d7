"""Shared fixtures: real DuckDB files in temp dirs, isolation from the network and secrets."""

from __future__ import annotations

import ipaddress
import shutil
import socket
from pathlib import Path

import pytest

from pulse import config

FIXTURES = Path(__file__).parent / "fixtures"
_SNAPSHOT_CACHE: dict[str, Path] = {}


def _is_local(host) -> bool:
    """Loopback, or the unspecified address a server binds to; anything else is the network."""
    if host is None:
        return True
    name = (host.decode() if isinstance(host, bytes) else str(host)).strip("[]").lower()
    if name in ("", "localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """No test may touch the network: resolving any host but loopback fails, as a DNS error would
    (every Python client resolves through getaddrinfo, IP literals included)."""
    real = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if not _is_local(host):
            raise socket.gaierror(socket.EAI_NONAME, f"tests never touch the network ({host!r} refused)")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test sees real tokens, the real database, or a real API base URL, and none writes into the
    checkout or the real data home: PULSE_HOME (and the platform default behind it) is a temp dir."""
    for name in ("GITHUB_TOKEN", "HF_TOKEN", "PULSE_DB", "PULSE_PROBE_DIR", "PULSE_ALLOW_PROBE", "PULSE_STORE", "PULSE_STORE_DATA_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PULSE_HOME", str(tmp_path / "pulse-home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setattr(config, "LEGACY_DATA_DIR", tmp_path / "legacy-checkout-data")
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:9/unset-github")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/unset-hf")
    monkeypatch.setenv("PULSE_RAW_DIR", str(tmp_path / "raw"))
    monkeypatch.setattr(config, "SECRETS_FILE", tmp_path / "no-secrets.toml")


@pytest.fixture
def db_file(tmp_path) -> Path:
    """Path for a fresh database file (not created)."""
    return tmp_path / "pulse.duckdb"


@pytest.fixture
def snapshot_db(tmp_path, tmp_path_factory) -> Path:
    """A database built from the embedded snapshot (built once per session, copied per test)."""
    if "db" not in _SNAPSHOT_CACHE:
        from ingest import snapshot

        built = tmp_path_factory.mktemp("snapshot") / "snapshot.duckdb"
        snapshot.run(built)
        _SNAPSHOT_CACHE["db"] = built
    target = tmp_path / "pulse.duckdb"
    shutil.copyfile(_SNAPSHOT_CACHE["db"], target)
    return target


# --- the team store (DuckLake on a throwaway PostgreSQL): tests/pg_cluster.py ---------------

STORE_PASSWORD = "Sekrit-Team-Pw-42"  # trust auth ignores it; tests check it never shows


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL cluster for this test session (skips, saying why, where PostgreSQL is absent)."""
    from tests import pg_cluster

    reason = pg_cluster.missing()
    if reason:
        pytest.skip(f"team store: {reason}")
    with pg_cluster.cluster() as pg:
        yield pg


def _use_store(monkeypatch, pg, dbname: str, data_path: Path) -> str:
    url = f"ducklake:postgres:{pg.conninfo(dbname)} password={STORE_PASSWORD}"
    monkeypatch.setenv("PULSE_STORE", url)
    monkeypatch.setenv("PULSE_STORE_DATA_PATH", str(data_path) + "/")
    return url


@pytest.fixture
def team_store(postgres, tmp_path, monkeypatch):
    """PULSE_STORE at a new, empty PostgreSQL database (no catalog yet); data under tmp_path/lake."""
    import uuid

    name = "t_" + uuid.uuid4().hex[:12]
    postgres.createdb(name)
    _use_store(monkeypatch, postgres, name, tmp_path / "lake")
    yield postgres, name, tmp_path / "lake"
    _close_lake()


def _close_lake():
    """Close this process's team-store instances (they hold PostgreSQL connections and memory)."""
    import streamlit as st

    from pulse import lake

    st.cache_resource.clear()  # pages' cached cursors on them
    lake.close_cached()


@pytest.fixture
def lake_snapshot(postgres, tmp_path_factory, monkeypatch):
    """PULSE_STORE at a copy of a team store built from the embedded snapshot (built once per session)."""
    import uuid

    if "lake" not in _SNAPSHOT_CACHE:
        from ingest import snapshot

        data = tmp_path_factory.mktemp("lake-snapshot")
        postgres.createdb("snapshot_template")
        with pytest.MonkeyPatch.context() as mp:
            _use_store(mp, postgres, "snapshot_template", data)
            snapshot.run(Path("unused.duckdb"))
        _close_lake()  # a template must have no open connection to be copied
        _SNAPSHOT_CACHE["lake"] = data
    # A database copied from the template shares its (immutable) Parquet files; new ones go there too.
    name = "s_" + uuid.uuid4().hex[:12]
    postgres.createdb(name, template="snapshot_template")
    _use_store(monkeypatch, postgres, name, _SNAPSHOT_CACHE["lake"])
    yield postgres, name, _SNAPSHOT_CACHE["lake"]
    _close_lake()


def pytest_sessionfinish(session, exitstatus):
    """Close what AppTest runs left in Streamlit's resource cache (open DuckDB connections).

    Left open, they outlive the DuckDB module at interpreter exit and nanobind prints a page of
    "leaked instance" warnings after pytest's summary.
    """
    import gc

    import streamlit as st

    from pulse import lake

    st.cache_resource.clear()
    lake.close_cached()
    gc.collect()
