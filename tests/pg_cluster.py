"""A throwaway PostgreSQL cluster for the team-store tests: initdb in a temp dir, a free port, stopped after.

PostgreSQL refuses to run as root, so as root (CI) the cluster runs as the `postgres` user that
the Debian package creates. Tests using it skip, with the reason, when the binaries or the
DuckLake extension wheels (the `lake` extra) are absent.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def bin_dir() -> Path | None:
    """Where initdb, pg_ctl and createdb are: beside initdb on PATH (links resolved), else the newest
    /usr/lib/postgresql/<major>/bin (Debian's package puts none of them on PATH)."""
    found = shutil.which("initdb")
    if found and (Path(os.path.realpath(found)).parent / "createdb").exists():
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(candidates[-1]).parent if candidates else None


def missing() -> str | None:
    """Why the team-store tests cannot run here, or None when they can."""
    if bin_dir() is None:
        return "PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    from pulse import lake

    for name in ("ducklake", "postgres_scanner"):
        if lake.extension_file(name) is None:
            return f"the duckdb-extension-{name.replace('_', '-')} wheel is not installed: pip install -e '.[lake]'"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` user to run the cluster as"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    bin: Path
    root: Path
    port: int
    user: str | None  # run the binaries as this user (root cannot), None: as ourselves

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        def demote():
            entry = pwd.getpwnam(self.user)
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)

        return subprocess.run(list(args), check=check, capture_output=True, text=True, timeout=120,
                              preexec_fn=demote if self.user else None, cwd=self.root)

    def conninfo(self, dbname: str) -> str:
        return f"dbname={dbname} host=127.0.0.1 port={self.port} user=postgres"

    def createdb(self, name: str, template: str | None = None) -> None:
        args = [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        if template:
            args += ["-T", template]
        self.run(*args, name)

    def stop(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop", check=False)

    def start(self) -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-w", "-l", str(self.root / "log"), "start")


@contextlib.contextmanager
def cluster() -> Iterator[Cluster]:
    """A running cluster (trust auth, 127.0.0.1 only, a free port); stopped and removed on exit."""
    binaries = bin_dir()
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="pulse-pg-"))
    if user:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    pg = Cluster(binaries, root, port, user)
    try:
        pg.run(str(binaries / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        with open(root / "data" / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\nfsync = off\n")
        pg.start()
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
