"""SYNTHETIC probe result documents for tests (not measurements): schema-valid, numbers invented.

Hosts are named "synthetic-..." so nothing here can be mistaken for a real result.
"""

from __future__ import annotations

import json
from pathlib import Path

from probe import config, flops, schema

STEP_MS = {("pytorch", "eager"): 40.0, ("pytorch", "compiled"): 25.0, ("tensorflow", "eager"): 80.0,
           ("tensorflow", "compiled"): 30.0, ("jax", "compiled"): 28.0}


def make_case(framework: str, mode: str, precision: str, device: str, device_name: str, step_ms: float, peak: float | None, estimated: bool, tokens: int, total_flops: float) -> dict:
    tflops = total_flops / (step_ms / 1000) / 1e12
    return {
        "framework": framework, "mode": mode, "precision": precision, "device": device, "device_name": device_name,
        "status": "ok", "reason": None, "compiler": config.COMPILERS[(framework, mode)], "tf32": False, "framework_version": "synthetic",
        "setup_s": 0.5, "first_step_s": 2.0, "time_to_first_step_s": 2.5, "compile_s": 1.9 if mode == "compiled" else None,
        "warmup_steps": 3, "timed_steps": 20,
        "step_ms": {"median": step_ms, "q1": step_ms * 0.98, "q3": step_ms * 1.03, "iqr": step_ms * 0.05, "min": step_ms * 0.95, "max": step_ms * 1.2, "n": 20},
        "tokens_per_s": tokens / (step_ms / 1000), "achieved_tflops": tflops,
        "peak_tflops": {"value": peak, "source": "synthetic peak", "estimated": estimated, "column": precision},
        "mfu": tflops / peak if peak else None, "peak_memory_bytes": 123456789 if device == "cuda" else None,
        "memory_kind": "synthetic", "param_count": 1, "loss_first": 5.5, "loss_last": 4.0, "losses": [5.5, 4.0], "notes": [],
    }


def make_doc(*, run_id: str = "synth0000001", started_at: str = "2026-11-20T10:00:00Z", device: str = "cpu",
             device_name: str = "Synthetic CPU", host: str = "synthetic-host", scale: float = 1.0, precisions=("fp32",),
             status: str = "complete", skipped: dict | None = None) -> dict:
    """A result document; `scale` multiplies every step time (so history can move)."""
    preset = config.GPU if device == "cuda" else config.CPU
    f = flops.flops_per_step(preset.model, preset.train.batch_size)
    peak = {"cpu": 1.0, "cuda": 989.4}[device]
    estimated = device == "cpu"
    cases = []
    for prec in precisions:
        for (fw, mode), ms in STEP_MS.items():
            if skipped and (fw, mode) in skipped:
                cases.append({"framework": fw, "mode": mode, "precision": prec, "device": device, "device_name": device_name,
                              "status": "skipped", "reason": skipped[(fw, mode)], "compiler": config.COMPILERS[(fw, mode)]})
                continue
            cases.append(make_case(fw, mode, prec, device, device_name, ms * scale * (0.5 if prec == "bf16" else 1.0), peak, estimated, f["tokens"], f["total"]))
    doc = {
        "schema": schema.SCHEMA_ID, "schema_version": schema.SCHEMA_VERSION, "run_id": run_id, "status": status,
        "started_at": started_at, "finished_at": started_at if status == "complete" else None, "budget_s": 60.0, "elapsed_s": 42.0,
        "config": {**preset.as_dict(), "params": flops.param_counts(preset.model), "flops_per_step": f, "tokens_per_step": f["tokens"],
                   "tf32": False, "threads": None, "devices": [device], "precisions": list(precisions)},
        "environment": {"host": host, "platform": "synthetic", "python": "3.11", "cpu_model": "Synthetic CPU", "cpu_count": 2, "usable_cpus": 2,
                        "gpu": {"name": device_name, "driver": "0", "memory_total": "0", "count": 1} if device == "cuda" else None,
                        "frameworks": {"pytorch": {"version": "synthetic"}}},
        "cases": cases,
    }
    assert schema.validate(doc) == [], schema.validate(doc)
    return doc


def write(directory: Path, doc: dict, name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name or f"probe-{doc['run_id']}.json")
    path.write_text(json.dumps(doc))
    return path
