"""The probe run: plan the cases, run each framework's in a worker process inside the time
budget, and write one JSON result file atomically.

Result files: `probe-<UTC time>-<host>-<config>-<run id>.json`, written whole to a `.tmp`
file, fsynced and renamed. While the run is going a `<name>.json.partial` file (status
"incomplete") holds the cases finished so far; it is replaced by the final file at the end,
so a run killed mid-way leaves either nothing or a file plainly marked incomplete.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import logging
import os
import queue
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from probe import config, flops, hardware, schema
from probe.backends import BACKENDS, IMPORTS
from probe.worker import PREFIX

log = logging.getLogger(__name__)

# Each framework still to run keeps this much of the budget back (import + one eager case on a
# small CPU), so one slow compile cannot starve the frameworks after it.
RESERVE_PER_FRAMEWORK_S = 12.0
# Time kept back at the end for writing the result file.
WRITE_RESERVE_S = 0.5


class ProbeUsageError(ValueError):
    """Bad options: says which and what to use instead."""


@dataclass
class Plan:
    preset: config.Preset
    frameworks: list[str]
    modes: list[str]
    precisions: list[str]
    devices: list[str]
    tf32: bool = False
    budget_s: float = 60.0
    threads: int | None = None
    peak_tflops: float | None = None
    out_dir: Path = Path("probe-results")
    cases: list[dict] = field(default_factory=list)

    def cases_for(self, framework: str) -> list[dict]:
        return [c for c in self.cases if c["framework"] == framework]


def resolve_device(requested: str, gpu: dict | None) -> list[str]:
    """'auto' means CUDA when a GPU is visible (nvidia-smi), else CPU; 'all' means both."""
    if requested == "auto":
        return ["cuda"] if gpu else ["cpu"]
    if requested == "all":
        return ["cpu", "cuda"] if gpu else ["cpu"]
    if requested == "cuda" and not gpu:
        log.warning("--device cuda: nvidia-smi finds no GPU; the CUDA cases will be reported as skipped")
    if requested not in ("cpu", "cuda"):
        raise ProbeUsageError(f"unknown device '{requested}'; use auto, cpu, cuda or all")
    return [requested]


def resolve_preset_name(requested: str, devices: list[str]) -> str:
    if requested == "auto":
        return "gpu" if "cuda" in devices else "cpu"
    return requested


def _split(value: str | list[str], allowed: tuple[str, ...], what: str) -> list[str]:
    items = [v.strip() for v in (value.split(",") if isinstance(value, str) else value) if v.strip()]
    bad = [v for v in items if v not in allowed]
    if bad:
        raise ProbeUsageError(f"unknown {what} {', '.join(bad)}; choose from {', '.join(allowed)}")
    return items


def make_plan(*, config_name: str = "auto", device: str = "auto", frameworks="pytorch,tensorflow,jax", modes="eager,compiled",
              precisions: str | None = None, tf32: bool = False, budget_s: float = 60.0, timed_steps: int | None = None,
              warmup_steps: int | None = None, batch_size: int | None = None, threads: int | None = None,
              peak_tflops: float | None = None, out_dir: Path = Path("probe-results"), gpu: dict | None | bool = False) -> Plan:
    """Turn options into a list of cases (framework x mode x precision x device)."""
    gpu_info = hardware.nvidia_smi() if gpu is False else gpu
    devices = resolve_device(device, gpu_info)
    name = resolve_preset_name(config_name, devices)
    if timed_steps is not None and timed_steps < 2:
        raise ProbeUsageError("--steps must be at least 2 (20 or more for a trustworthy median and IQR)")
    if budget_s <= 0:
        raise ProbeUsageError("--budget must be a positive number of seconds")
    try:
        preset = config.preset(name, timed_steps=timed_steps, warmup_steps=warmup_steps, batch_size=batch_size)
    except ValueError as exc:
        raise ProbeUsageError(str(exc)) from None
    fws = _split(frameworks, config.FRAMEWORKS, "framework")
    mds = _split(modes, config.MODES, "mode")
    # bf16 by default only on CUDA: on a CPU it is slower and doubles the run.
    precs = _split(precisions or ("fp32,bf16" if "cuda" in devices else "fp32"), config.PRECISIONS, "precision")
    plan = Plan(preset, fws, mds, precs, devices, tf32, budget_s, threads, peak_tflops, Path(out_dir))
    for fw in fws:
        for dev in devices:
            for prec in precs:
                for mode in mds:
                    if mode in config.FRAMEWORK_MODES[fw]:
                        plan.cases.append({"framework": fw, "mode": mode, "precision": prec, "device": dev})
    return plan


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _atomic_write(path: Path, doc: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=1, sort_keys=False, allow_nan=False, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _skip(case: dict, reason: str, device_name: str | None = None) -> dict:
    return {**case, "status": "skipped", "reason": reason, "compiler": config.COMPILERS[(case["framework"], case["mode"])], "device_name": device_name}


class Runner:
    """Runs a Plan; `on_event(kind, data)` receives progress (case started / finished)."""

    def __init__(self, plan: Plan, on_event: Callable[[str, dict], None] | None = None):
        self.plan = plan
        self.on_event = on_event or (lambda kind, data: None)
        self.run_id = uuid.uuid4().hex[:12]
        self.started = time.time()
        self.deadline = self.started + plan.budget_s - WRITE_RESERVE_S
        env = hardware.environment()
        stamp = dt.datetime.fromtimestamp(self.started, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        host = re.sub(r"[^A-Za-z0-9_.-]", "_", env["host"])[:40]
        self.path = plan.out_dir / f"probe-{stamp}-{host}-{plan.preset.name}-{self.run_id}.json"
        self.partial = self.path.with_name(self.path.name + ".partial")
        p = flops.param_counts(plan.preset.model)
        f = flops.flops_per_step(plan.preset.model, plan.preset.train.batch_size)
        self.doc = {
            "schema": schema.SCHEMA_ID,
            "schema_version": schema.SCHEMA_VERSION,
            "run_id": self.run_id,
            "status": "incomplete",
            "started_at": dt.datetime.fromtimestamp(self.started, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_at": None,
            "budget_s": plan.budget_s,
            "elapsed_s": None,
            "config": {**plan.preset.as_dict(), "params": p, "flops_per_step": f, "tokens_per_step": f["tokens"],
                       "tf32": plan.tf32, "threads": plan.threads, "devices": plan.devices, "precisions": plan.precisions},
            "environment": {**env, "frameworks": {}},
            "cases": [],
        }

    def _save_partial(self) -> None:
        self.doc["elapsed_s"] = round(time.time() - self.started, 3)
        _atomic_write(self.partial, self.doc)

    def _worker_deadline(self, index: int, total: int) -> float:
        later = total - index - 1
        reserve = min(RESERVE_PER_FRAMEWORK_S, self.plan.budget_s / (2 * total)) * later
        return max(self.deadline - reserve, time.time())

    def run(self) -> Path:
        """Run every case (or skip it with a reason) and write the result file; return its path."""
        self.plan.out_dir.mkdir(parents=True, exist_ok=True)
        self._save_partial()
        frameworks = [fw for fw in self.plan.frameworks if self.plan.cases_for(fw)]
        for index, fw in enumerate(frameworks):
            cases = self.plan.cases_for(fw)
            if importlib.util.find_spec(IMPORTS[fw]) is None:
                reason = f"not installed: no module '{IMPORTS[fw]}' (pip install 'framework-pulse[probe]')"
                self.doc["environment"]["frameworks"][fw] = None
                self._finish_cases([_skip(c, reason) for c in cases])
                continue
            if time.time() >= self.deadline:
                self._finish_cases([_skip(c, "budget: the time budget was spent before this framework started") for c in cases])
                continue
            self._run_worker(fw, cases, self._worker_deadline(index, len(frameworks)))
        self.doc["status"] = "complete"
        self.doc["finished_at"] = _now()
        self.doc["elapsed_s"] = round(time.time() - self.started, 3)
        problems = schema.validate(self.doc)
        if problems:  # a bug in the probe, not the user's doing: say so loudly but keep the data
            log.error("result does not match its schema: %s", "; ".join(problems))
        _atomic_write(self.path, self.doc)
        self.partial.unlink(missing_ok=True)
        self.on_event("finished", {"path": str(self.path)})
        return self.path

    def _finish_cases(self, results: list[dict]) -> None:
        for result in results:
            self.doc["cases"].append(result)
            self.on_event("case", result)
        self._save_partial()

    def _run_worker(self, fw: str, cases: list[dict], deadline: float) -> None:
        spec = {"framework": fw, "backend": BACKENDS[fw], "preset": self.plan.preset.as_dict(), "deadline": deadline,
                "tf32": self.plan.tf32, "threads": self.plan.threads, "peak_tflops": self.plan.peak_tflops,
                "cases": [{k: c[k] for k in ("mode", "precision", "device")} for c in cases]}
        cmd = [sys.executable, "-m", "probe.worker", json.dumps(spec)]
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        lines: queue.Queue = queue.Queue()
        stderr_tail: list[str] = []

        def pump(stream, sink):
            for line in stream:
                sink(line)
            if stream is proc.stdout:
                lines.put(None)

        threading.Thread(target=pump, args=(proc.stdout, lines.put), daemon=True).start()
        threading.Thread(target=pump, args=(proc.stderr, lambda s: stderr_tail.__setitem__(slice(None), (stderr_tail + [s])[-40:])), daemon=True).start()
        done: set[tuple] = set()
        current: dict | None = None
        killed = False
        while True:
            try:
                line = lines.get(timeout=max(deadline - time.time(), 0.01))
            except queue.Empty:
                proc.kill()
                killed = True
                break
            if line is None:
                break
            if not line.startswith(PREFIX):
                continue
            event = json.loads(line[len(PREFIX):])
            kind = event.pop("event")
            if kind == "info":
                self.doc["environment"]["frameworks"][fw] = event
            elif kind == "unavailable":
                self.doc["environment"]["frameworks"][fw] = None
                self._finish_cases([_skip(c, event["reason"]) for c in cases])
                done.update((c["mode"], c["precision"], c["device"]) for c in cases)
            elif kind == "case_start":
                current = event
                self.on_event("case_start", event)
            elif kind == "case":
                result = event["result"]
                done.add((result["mode"], result["precision"], result["device"]))
                current = None
                self._finish_cases([result])
        proc.wait()
        leftover = [c for c in cases if (c["mode"], c["precision"], c["device"]) not in done]
        if killed:
            log.info("%s worker stopped at its deadline", fw)
        for c in leftover:
            if killed:
                reason = "budget: stopped while running (compile or steps overran the budget)" if current and current["mode"] == c["mode"] and current["precision"] == c["precision"] and current["device"] == c["device"] else "budget: the time budget was spent before this case started"
            else:
                tail = "".join(stderr_tail)[-800:].strip()
                reason = f"worker exited with code {proc.returncode} before this case finished: {tail}"
            self._finish_cases([_skip(c, reason, (current or {}).get("device_name")) | ({"status": "failed"} if not killed else {})])
