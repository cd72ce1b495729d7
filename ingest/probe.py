"""Training-speed probe results (JSON files written by `python -m probe`) into DuckDB.

Every run goes to probe_runs and each of its cases to probe_cases; the headline numbers of
each successful case are also observations (source "probe", metrics probe_tokens_per_s,
probe_step_ms, probe_mfu, probe_compile_s; variant "<framework>|<mode>|<precision>|<device>").
Observations keep one value per variant and day (the latest run of the day wins); probe_cases
keeps every run. probe_mfu is stored only against a datasheet peak, never an estimated CPU one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import stat
from pathlib import Path

import duckdb
import pandas as pd

from probe import schema as probe_schema
from pulse import config, db, store
from pulse.errors import SourceError

NAME = "probe"
DESCRIPTION = "Training-speed probe result files (python -m probe / pulse probe run)"
CADENCE = dt.timedelta(days=30)  # run by hand on the hardware of interest; monthly keeps history alive
CITATION = "Framework Pulse training-speed probe (docs/probe.md)"

log = logging.getLogger(__name__)

# metric -> (case field, unit); only cases with status "ok" give observations.
# probe_runs' columns in table order (pulse/schema.py, migration 50).
RUN_COLUMNS = ("run_id", "started_at", "finished_at", "status", "config_name", "devices", "device_name", "host", "budget_s",
               "elapsed_s", "tf32", "params_total", "params_matmul", "flops_per_step", "tokens_per_step", "environment", "config",
               "raw_file", "ingest_run_id", "retrieved_at")

METRICS = {
    "probe_tokens_per_s": ("tokens_per_s", "tokens/s"),
    "probe_step_ms": ("step_ms.median", "ms"),
    "probe_mfu": ("mfu", "fraction of peak"),
    "probe_compile_s": ("compile_s", "s"),
}


def variant(case: dict) -> str:
    return f"{case['framework']}|{case['mode']}|{case['precision']}|{case['device']}"


def _field(case: dict, path: str):
    node = case
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


# A result file is a few tens of KB (about 2 KB per case plus the environment); 16 MiB is far
# beyond any real one and bounds what a hostile file (/dev/zero, a huge dump) can make us read.
MAX_FILE_BYTES = 16 * 1024 * 1024
# The schema nests 4 deep; environment details add a few levels. Deeper means not our file.
MAX_DEPTH = 32


class _Refused(ValueError):
    """A JSON constant or key the probe never writes."""


def _no_constant(name: str):
    raise _Refused(f"{name} is not a number this schema accepts (NaN and infinities are refused)")


def _bounded_int(text: str) -> int:
    # No field is anywhere near 2**63; a long digit string is refused before int() works on it.
    if len(text.lstrip("-")) > 19:
        raise _Refused(f"an integer of {len(text.lstrip('-')):,} digits is out of range")
    return int(text)


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    doc = {}
    for key, value in pairs:
        if key in doc:
            raise _Refused(f"the key {key!r} appears twice in one object")
        doc[key] = value
    return doc


def _depth(doc) -> int:
    """Nesting depth, without recursion (a hostile file must not exhaust the stack here)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            return depth
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return deepest


def read_bytes(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; SourceError otherwise.

    Opened non-blocking and checked with fstat on the open descriptor, so a FIFO or device
    (issue 14: /dev/zero, a FIFO that blocks for ever) is refused without reading from it.
    """
    fix = "Pass a file written by `python -m probe`."
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise SourceError(f"Cannot read probe result {path}: {exc.strerror or exc}.", fix) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(f"{path} is not a regular file; it was not read.", fix)
        if info.st_size > limit:
            raise SourceError(f"{path} is {info.st_size:,} bytes, more than a probe result's limit of {limit:,}; it was not read.", fix)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise SourceError(f"Cannot read probe result {path}: {exc.strerror or exc}.", fix) from exc
    finally:
        os.close(fd)
    if len(data) > limit:  # grew while we read it
        raise SourceError(f"{path} is more than a probe result's limit of {limit:,} bytes; it was not read.", fix)
    return data


def parse(data: bytes, name: str = "the file", today: dt.date | None = None) -> dict:
    """Bytes of a result file -> the validated document; SourceError with the first reason.

    Strict: UTF-8 only, no NaN/Infinity, no repeated keys, bounded nesting, then the schema's
    own checks (types, finite numbers in range, known schema version, dates, unique cases).
    """
    fix = "Pass a file written by `python -m probe`."
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"Cannot read probe result {name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); it was not loaded.", fix) from None
    try:
        doc = json.loads(text, parse_constant=_no_constant, parse_int=_bounded_int, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise SourceError(f"Cannot read probe result {name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); it was not loaded.", fix) from None
    except RecursionError:
        raise SourceError(f"Cannot read probe result {name}: nested too deeply to be a probe result; it was not loaded.", fix) from None
    except ValueError as exc:  # _Refused, or an integer with more digits than Python converts
        raise SourceError(f"Cannot read probe result {name}: {exc}; it was not loaded.", fix) from None
    if _depth(doc) > MAX_DEPTH:
        raise SourceError(f"Cannot read probe result {name}: nested more than {MAX_DEPTH} levels deep, which no probe result is; it was not loaded.", fix)
    problems = probe_schema.validate(doc, today=today)
    if problems:
        raise SourceError(f"{name} is not a valid probe result ({len(problems)} problem{'s' if len(problems) > 1 else ''}, first: {problems[0]}); "
                          "it was not loaded.",
                          "Re-run the probe with this version of Framework Pulse; see docs/probe.md for the schema.")
    if doc["status"] != "complete":
        raise SourceError(f"{name} is from a probe run that did not finish (status {doc['status']}).",
                          "It was not loaded; run the probe again (`pulse probe run`).")
    return doc


def read_file(path: Path) -> dict:
    """One result file, bounded and validated; SourceError saying what is wrong and what to do."""
    return parse(read_bytes(Path(path)), str(path))


def _read_kept(path: Path) -> tuple[dict, bytes]:
    data = read_bytes(path)
    return parse(data, str(path)), data


def fetch_results(path: Path) -> tuple[list[tuple[Path, dict, bytes]], list[str]]:
    """Result files at `path` (a file, or every probe-*.json in a directory) and the ones skipped.

    Each found file comes with the exact bytes validated, which are what keep_raw stores. In
    a directory, a file that fails is skipped whole with its first reason; the others load.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(f"No probe result at {path}.", "Pass a result file or the directory `python -m probe --out` wrote to.")
    if not path.is_dir():
        return [(path, *_read_kept(path))], []
    found, skipped = [], []
    for file in sorted(path.glob("probe-*.json")):
        try:
            found.append((file, *_read_kept(file)))
        except SourceError as exc:
            log.warning("skipped %s", exc)
            skipped.append(f"{file.name}: {exc.message}")
    skipped += [f"{p.name}: unfinished run (partial file)" for p in sorted(path.glob("probe-*.json.partial"))]
    if not found and not skipped:
        raise SourceError(f"No probe-*.json result files in {path}.", "Run `pulse probe run` or `python -m probe --out DIR` first.")
    return found, skipped


def keep_raw(path: Path, data: bytes | None = None) -> Path:
    """Keep the result file under PULSE_RAW_DIR/probe so the load can be replayed: the bytes
    that were validated when given (the file could change between the read and a copy)."""
    target = config.raw_dir() / "probe" / path.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.resolve() != target.resolve():
            if data is None:
                shutil.copyfile(path, target)
            else:
                tmp = target.with_name(target.name + ".tmp")
                try:
                    tmp.write_bytes(data)
                    os.replace(tmp, target)
                finally:
                    tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise SourceError(f"Cannot keep a copy of {path.name} in {target.parent} ({exc.strerror or exc}); nothing was loaded.",
                          "Free some space or point PULSE_RAW_DIR at a writable directory, then retry.") from exc
    return target


def _ts(text: str | None):
    """A validated ISO timestamp as naive UTC (the database's TIMESTAMP columns hold UTC)."""
    return pd.Timestamp(probe_schema.parse_time(text).replace(tzinfo=None)) if text else None


def observations(doc: dict, raw_file: str) -> pd.DataFrame:
    """Headline numbers of the run's successful cases as observation rows."""
    rows = []
    date = _ts(doc["started_at"]).date()
    for case in doc["cases"]:
        if case["status"] != "ok":
            continue
        for metric, (path, unit) in METRICS.items():
            value = _field(case, path)
            if value is None:
                continue
            if metric == "probe_mfu" and (case.get("peak_tflops") or {}).get("estimated"):
                continue  # a CPU "peak" is an estimate: its MFU stays in probe_cases, marked, not a headline
            rows.append({
                "source": NAME, "framework": case["framework"], "metric": metric, "variant": variant(case),
                "date": date, "value": float(value), "subject": case.get("device_name"),
                "citation": f"{CITATION}, run {doc['run_id']} on {doc['environment']['host']}",
                "raw_file": raw_file,
                "detail": {"run_id": doc["run_id"], "unit": unit, "config": doc["config"]["name"], "device_name": case.get("device_name"),
                           "iqr_ms": case["step_ms"]["iqr"], "timed_steps": case["timed_steps"], "tf32": case.get("tf32"),
                           "peak_source": (case.get("peak_tflops") or {}).get("source"),
                           "peak_estimated": (case.get("peak_tflops") or {}).get("estimated"),
                           "framework_version": case.get("framework_version")},
            })
    return pd.DataFrame(rows)


def _device_name(doc: dict) -> str:
    gpu = doc["environment"].get("gpu")
    if "cuda" in doc["config"]["devices"] and gpu:
        return gpu["name"]
    names = [c.get("device_name") for c in doc["cases"] if c.get("device_name")]
    return names[0] if names else doc["environment"]["cpu_model"]


def save(con: duckdb.DuckDBPyConnection, results: list[tuple[Path, dict]], run: store.Run) -> int:
    """Write runs, cases and observations; re-loading the same file replaces its rows. Returns rows."""
    written = 0
    for raw, doc in sorted(results, key=lambda r: r[1]["started_at"]):
        raw_file = config.display_path(raw)
        cfg = doc["config"]
        con.execute("DELETE FROM probe_cases WHERE run_id = ?", [doc["run_id"]])
        store.replace_row(con, "probe_runs", ("run_id",), dict(zip(RUN_COLUMNS, [
            doc["run_id"], _ts(doc["started_at"]), _ts(doc["finished_at"]), doc["status"], cfg["name"], ",".join(cfg["devices"]),
             _device_name(doc), doc["environment"]["host"], doc["budget_s"], doc["elapsed_s"], cfg["tf32"], cfg["params"]["total"],
             cfg["params"]["matmul"], cfg["flops_per_step"]["total"], cfg["tokens_per_step"], json.dumps(doc["environment"], sort_keys=True),
             json.dumps({k: cfg[k] for k in ("name", "model", "train", "note") if k in cfg}, sort_keys=True), raw_file, run.run_id, store.utcnow()], strict=True)))
        for c in doc["cases"]:
            ok = c["status"] == "ok"
            peak = c.get("peak_tflops") or {}
            con.execute(
                "INSERT INTO probe_cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [doc["run_id"], c["framework"], c["mode"], c["precision"], c["device"], c.get("device_name"), c["status"], c.get("reason"),
                 c.get("compiler"), c.get("framework_version"),
                 c["step_ms"]["median"] if ok else None, c["step_ms"]["q1"] if ok else None, c["step_ms"]["q3"] if ok else None,
                 c.get("timed_steps"), c.get("tokens_per_s"), c.get("achieved_tflops"), c.get("mfu"), peak.get("value"), peak.get("source"),
                 peak.get("estimated"), c.get("compile_s"), c.get("time_to_first_step_s"), c.get("peak_memory_bytes"),
                 c.get("loss_first"), c.get("loss_last")],
            )
            written += 1
        written += store.upsert_observations(con, observations(doc, raw_file), run_id=run.run_id, retrieved_at=_ts(doc["finished_at"]))
    return written


def run(db_path: Path, path: Path) -> store.Run:
    """Load probe result file(s) at `path` into the database at `db_path`."""
    with store.tracked_run(db_path, NAME) as run:
        found, skipped = fetch_results(Path(path))
        kept = [(keep_raw(file, data), doc) for file, doc, data in found]
        run.requests = 0
        run.detail = {"files": [p.name for p, _ in kept], "skipped": skipped}
        with db.write_session(db_path) as con:
            run.rows = save(con, kept, run) if kept else 0
            run.finish(con, "ok" if not skipped else "partial", f"skipped {len(skipped)} file(s): " + "; ".join(skipped) if skipped else None)
    return run
