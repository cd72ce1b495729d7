"""`pulse ingest --all`: every configured source, each in its own child process, under one run lock.

Why a child process per source: a source that hangs (a stalled socket, a stuck download) can
then be killed at its time limit without taking the others down, and a crash in one source
cannot corrupt another's state. Killing is safe because writers only ever touch a staging
copy (pulse.db.write_session): the live file is replaced by one atomic rename or not at all.

Why a run lock beside the writer lock: the writer lock serialises single writes (seconds);
the run lock stops two whole `--all` runs (minutes, e.g. a slow cron run and the next one)
from interleaving and double-spending API budgets. Both are flock(2) locks, which the kernel
drops when the holder dies, so a crashed run never wedges the next one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import difflib
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ingest import SOURCES
from ingest.runlock import RunnerBusy, run_lock, run_lock_path  # noqa: F401  (re-exported)
from pulse import config, db, store
from pulse.errors import DamagedDatabase, PulseError

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1  # at least one source failed, timed out or crashed
EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the lock; try again later

DEFAULT_TIMEOUT = 900.0
OK_STATUSES = ("ok", "partial", "skipped")
# With --due a source runs once this fraction of its cadence has passed since its last good run,
# so an hourly timer keeps a daily source near daily instead of drifting an hour a day.
DUE_FRACTION = 0.9


# --- Which sources ---------------------------------------------------------------------

def configured_sources() -> dict[str, str]:
    """name -> module path: ingest.SOURCES plus PULSE_EXTRA_SOURCES ("name=module,...")."""
    sources = dict(SOURCES)
    extra = os.environ.get("PULSE_EXTRA_SOURCES", "").strip()
    for item in filter(None, (part.strip() for part in extra.split(","))):
        name, sep, module = item.partition("=")
        if not sep or not name.strip() or not module.strip():
            raise PulseError(
                f"PULSE_EXTRA_SOURCES entry '{item}' is not name=module.",
                "Write it as e.g. PULSE_EXTRA_SOURCES=mysource=mypackage.mysource.",
            )
        sources[name.strip()] = module.strip()
    return sources


def select(names: list[str] | tuple[str, ...] | None = None) -> dict[str, str]:
    """The sources to run, in configured order; unknown names raise with a suggestion."""
    sources = configured_sources()
    if not names:
        return sources
    unknown = [n for n in names if n not in sources]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(sources), n=1)
        hint = (f"Did you mean '{close[0]}'? " if close else "") + "Configured sources: " + ", ".join(sources) + "."
        raise PulseError(f"Unknown source '{unknown[0]}'.", hint)
    return {n: m for n, m in sources.items() if n in names}


@dataclass
class SourceInfo:
    name: str
    module: str
    description: str = ""
    cadence: dt.timedelta | None = None
    error: str | None = None  # the module could not be imported


def catalogue(names: list[str] | None = None) -> list[SourceInfo]:
    """Each configured source's description and expected cadence (imports the modules)."""
    out = []
    for name, module_path in select(names).items():
        try:
            module = importlib.import_module(module_path)
            out.append(SourceInfo(name, module_path, getattr(module, "DESCRIPTION", ""), getattr(module, "CADENCE", None)))
        except Exception as exc:  # a broken module must not hide the others
            out.append(SourceInfo(name, module_path, error=config.redact(f"cannot import {module_path}: {exc}")))
    return out


# --- Running sources -------------------------------------------------------------------

@dataclass
class SourceResult:
    source: str
    status: str  # ok, partial, skipped, failed, timeout, crashed
    rows: int = 0
    requests: int = 0
    seconds: float = 0.0
    run_id: str | None = None
    error: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        # A partial run that stored nothing (e.g. the API was unreachable from the start) is a
        # failure to the operator, whatever the source calls it.
        return self.status in OK_STATUSES and not (self.status == "partial" and self.rows == 0)


@dataclass
class Summary:
    db: str
    started_at: str
    finished_at: str = ""
    results: list[SourceResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_FAILED

    def to_dict(self) -> dict:
        return {
            "db": self.db,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "ok": self.ok,
            "exit_code": self.exit_code,
            "failed": [r.source for r in self.results if not r.ok],
            "sources": [dataclasses.asdict(r) for r in self.results],
        }


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _child_env() -> dict[str, str]:
    # The child must import the same code as this process (a checkout, tests' fake sources).
    paths = [str(config.PROJECT_ROOT)] + [p for p in sys.path if p and os.path.isdir(p)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths + env.get("PYTHONPATH", "").split(os.pathsep)).keys()).strip(os.pathsep)
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the child leads its own group: take its helpers too
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    proc.wait()


def _record_failure(db_path: Path, name: str, started: dt.datetime, error: str) -> str | None:
    """Record a run the child could not record itself (killed or crashed)."""
    run = store.Run(source=name, started_at=started, finished_at=store.utcnow(), status="failed", error=config.redact(error))
    try:
        with db.write_session(db_path) as con:
            store.save_run(con, run)
        return run.run_id
    except PulseError as exc:
        log.warning("could not record the failed %s run: %s", name, config.redact(str(exc)))
        return None


def _failure_recorded(db_path: Path, name: str, since: dt.datetime) -> bool:
    try:
        con = db.open_read(db_path)
    except PulseError:
        return False
    try:
        return bool(con.execute(
            "SELECT count(*) FROM ingest_runs WHERE source = ? AND status = 'failed' AND started_at >= ?", [name, since]
        ).fetchone()[0])
    finally:
        con.close()


def run_source(name: str, module_path: str, db_path: Path, timeout: float, log_level: int = logging.WARNING) -> SourceResult:
    """Run one source's `run(db_path)` in a child process, killed after `timeout` seconds."""
    started_wall = store.utcnow()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pulse-run-") as tmp:
        result_file = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "ingest.runner", "--child", str(os.getpid()), name, module_path, str(db_path), str(result_file), str(log_level)]
        log.info("starting %s (%s), time limit %.0f s", name, module_path, timeout)
        proc = subprocess.Popen(cmd, env=_child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            error = f"timed out after {timeout:g} s; the process was killed and the database left as it was"
            run_id = _record_failure(db_path, name, started_wall, error)
            return SourceResult(name, "timeout", seconds=time.monotonic() - start, run_id=run_id, error=error)
        except BaseException:
            _kill_group(proc)  # Ctrl-C or a kill of the runner: never leave a child writing
            raise
        seconds = time.monotonic() - start
        try:
            data = json.loads(result_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
            error = f"the source process ended without a result ({how}); see the log above"
            run_id = _record_failure(db_path, name, started_wall, error)
            return SourceResult(name, "crashed", seconds=seconds, run_id=run_id, error=error)
    return SourceResult(
        name, data["status"], rows=int(data.get("rows") or 0), requests=int(data.get("requests") or 0),
        seconds=seconds, run_id=data.get("run_id"), error=data.get("error"),
    )


def not_due(db_path: Path, sources: dict[str, str], now: dt.datetime | None = None) -> dict[str, str]:
    """Sources that need not run yet -> why: a good last run within DUE_FRACTION of the cadence.

    A source whose latest run failed, or that never succeeded, is always due.
    """
    if not db.exists(db_path):
        return {}
    now = now or store.utcnow()
    con = db.open_read(db_path)
    try:
        if not db.table_exists(con, "ingest_runs"):
            return {}
        # Same rule as SourceResult.ok: a partial run that stored nothing is a failure.
        rows = con.execute(
            "WITH r AS (SELECT source, finished_at, "
            "  CASE WHEN status = 'partial' AND coalesce(rows, 0) = 0 THEN 'failed' ELSE status END AS status FROM ingest_runs) "
            "SELECT source, max(finished_at) FILTER (WHERE status IN ('ok', 'partial')), arg_max(status, finished_at) "
            "FROM r GROUP BY source"
        ).fetchall()
    finally:
        con.close()
    cadences = {i.name: i.cadence for i in catalogue(list(sources))}
    skip = {}
    for source, last_ok, last_status in rows:
        cadence = cadences.get(source)
        if source not in sources or not cadence or last_ok is None or last_status == "failed":
            continue
        age = now - last_ok
        if age < cadence * DUE_FRACTION:
            skip[source] = f"not due: last good run {age.total_seconds() / 3600:.1f} h ago, expected every {cadence.total_seconds() / 3600:g} h"
    return skip


@contextlib.contextmanager
def _sigterm_exits():
    """Turn SIGTERM (systemd stop, `kill`) into SystemExit so the running child is killed and
    the run lock's record is cleared on the way out, as with Ctrl-C."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def source_timeout_setting() -> float:
    """PULSE_SOURCE_TIMEOUT in seconds (at least 1); PulseError naming the setting when it is not."""
    raw = os.environ.get("PULSE_SOURCE_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (value >= 1 and value != float("inf")):
        raise PulseError(f"PULSE_SOURCE_TIMEOUT is {raw[:40]!r}, not a number of seconds of at least 1.",
                         f"Set it to e.g. {int(DEFAULT_TIMEOUT)}, or unset it for the default.")
    return value


def run_all(
    db_path: Path,
    names: list[str] | None = None,
    timeout: float | None = None,
    wait: bool = False,
    wait_timeout: float | None = None,
    log_level: int = logging.WARNING,
    due_only: bool = False,
) -> Summary:
    """Run the selected sources one after another under the run lock; never stop on a failure.

    With `due_only`, sources whose last good run is recent for their cadence are skipped.
    """
    sources = select(names)
    timeout = float(timeout) if timeout is not None else source_timeout_setting()
    if db.exists(db_path):
        db.open_read(db_path).close()  # refuse a damaged file before any source starts
    with run_lock(db_path, wait=wait, wait_timeout=wait_timeout), _sigterm_exits():
        summary = Summary(db=str(db_path), started_at=_now_iso())
        skip = not_due(db_path, sources) if due_only else {}
        for name, module_path in sources.items():
            if name in skip:
                log.info("%s: skipped (%s)", name, skip[name])
                summary.results.append(SourceResult(name, "skipped", note=skip[name]))
                continue
            result = run_source(name, module_path, db_path, timeout, log_level)
            (log.info if result.ok else log.error)(
                "%s: %s, %d rows, %d requests, %.1f s%s", name, result.status, result.rows, result.requests,
                result.seconds, f" ({result.error})" if result.error else "",
            )
            summary.results.append(result)
        summary.finished_at = _now_iso()
    return summary


def format_table(summary: Summary) -> str:
    """The end-of-run summary: one line per source, then each error in full."""
    header = f"{'source':<18} {'status':<8} {'rows':>8} {'requests':>9} {'time':>8}"
    lines = [header, "-" * len(header)]
    for r in summary.results:
        lines.append(f"{r.source:<18} {r.status:<8} {r.rows:>8,} {r.requests:>9,} {r.seconds:>7.1f}s")
    remarks = [r for r in summary.results if r.error or r.note]
    if remarks:
        lines.append("")
        lines.extend(f"{r.source}: {r.error or r.note}" for r in remarks)
    ran = [r for r in summary.results if r.status != "skipped"]
    lines.append("")
    lines.append(f"{sum(r.ok for r in ran)} of {len(ran)} sources succeeded"
                 + (f"; {len(summary.results) - len(ran)} not due, skipped." if len(ran) < len(summary.results) else "."))
    return "\n".join(lines)


# --- The child process ------------------------------------------------------------------

def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel SIGKILL this child if the runner dies, so no orphan keeps writing."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the runner died before prctl took effect
        os._exit(EXIT_FAILED)


def _child_main(name: str, module_path: str, db_path: str, result_file: str, log_level: str) -> int:
    config.configure_logging(int(log_level))
    result: dict = {"source": name, "status": "failed", "rows": 0, "requests": 0, "run_id": None}
    try:
        module = importlib.import_module(module_path)
    except Exception as exc:
        # No tracked_run ran, so record the failure here, or `pulse status` would say "never".
        log.error("cannot import %s:\n%s", module_path, config.redact(traceback.format_exc()))
        result["error"] = config.redact(f"cannot import {module_path}: {type(exc).__name__}: {exc}")
        result["run_id"] = _record_failure(Path(db_path), name, store.utcnow(), result["error"])
    else:
        started = store.utcnow()
        damaged = False
        try:
            run = module.run(Path(db_path))
            result.update(status=run.status, rows=run.rows, requests=run.requests, run_id=run.run_id, error=run.error)
        except DamagedDatabase as exc:
            result["error"] = config.redact(str(exc))
            damaged = True  # write nothing more to a damaged file, not even this failure
        except PulseError as exc:
            result["error"] = config.redact(str(exc))
        except Exception as exc:
            # Format the traceback ourselves: the logging filter redacts messages, not tracebacks.
            log.error("%s failed unexpectedly:\n%s", name, config.redact(traceback.format_exc()))
            result["error"] = config.redact(f"unexpected {type(exc).__name__}: {exc}")
        if result["status"] == "failed" and not damaged and not _failure_recorded(Path(db_path), name, started):
            # The source raised outside store.tracked_run: record it so `pulse status` sees it.
            result["run_id"] = _record_failure(Path(db_path), name, started, result["error"])
    tmp = Path(result_file + ".tmp")
    tmp.write_text(json.dumps(result, default=str))
    os.replace(tmp, result_file)
    return EXIT_OK if result["status"] in OK_STATUSES else EXIT_FAILED


if __name__ == "__main__":
    if len(sys.argv) == 8 and sys.argv[1] == "--child":
        _die_with_parent(int(sys.argv[2]))
        sys.exit(_child_main(*sys.argv[3:]))
    sys.exit("usage: pulse ingest --all (this module's command line is internal)")
