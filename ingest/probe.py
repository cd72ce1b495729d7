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
import shutil
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


def read_file(path: Path) -> dict:
    """One result file, validated; SourceError saying what is wrong and what to do."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SourceError(f"Cannot read probe result {path}: {exc}.", "Pass a file written by `python -m probe`.") from exc
    problems = probe_schema.validate(doc)
    if problems:
        raise SourceError(f"{path} is not a valid probe result ({len(problems)} problems, first: {problems[0]}).",
                          "Re-run the probe with this version of Framework Pulse; see docs/probe.md for the schema.")
    if doc["status"] != "complete":
        raise SourceError(f"{path} is from a probe run that did not finish (status {doc['status']}).",
                          "It was not loaded; run the probe again (`pulse probe run`).")
    return doc


def fetch_results(path: Path) -> tuple[list[tuple[Path, dict]], list[str]]:
    """Result files at `path` (a file, or every probe-*.json in a directory) and the ones skipped."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"No probe result at {path}.", "Pass a result file or the directory `python -m probe --out` wrote to.")
    if path.is_file():
        return [(path, read_file(path))], []
    found, skipped = [], []
    for file in sorted(path.glob("probe-*.json")):
        try:
            found.append((file, read_file(file)))
        except SourceError as exc:
            log.warning("skipped %s", exc)
            skipped.append(f"{file.name}: {exc.message}")
    skipped += [f"{p.name}: unfinished run (partial file)" for p in sorted(path.glob("probe-*.json.partial"))]
    if not found and not skipped:
        raise SourceError(f"No probe-*.json result files in {path}.", "Run `pulse probe run` or `python -m probe --out DIR` first.")
    return found, skipped


def keep_raw(path: Path) -> Path:
    """Copy the result file under PULSE_RAW_DIR/probe so the load can be replayed."""
    target = config.raw_dir() / "probe" / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.resolve() != target.resolve():
        shutil.copyfile(path, target)
    return target


def _ts(text: str | None):
    return pd.Timestamp(text).tz_localize(None) if text else None


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
        kept = [(keep_raw(file), doc) for file, doc in found]
        run.requests = 0
        run.detail = {"files": [p.name for p, _ in kept], "skipped": skipped}
        with db.write_session(db_path) as con:
            run.rows = save(con, kept, run) if kept else 0
            run.finish(con, "ok" if not skipped else "partial", f"skipped {len(skipped)} file(s): " + "; ".join(skipped) if skipped else None)
    return run
