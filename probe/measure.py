"""The timing method, shared by every framework: warm up, then time single steps with the
device synchronised before each clock read, and summarise as median and IQR."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from probe.config import Preset
from probe.flops import flops_per_step


@dataclass
class Built:
    """What a backend hands back for one case: a step, a sync, and memory probes."""

    step: Callable[[], object]  # runs one training step, returns the loss (device value)
    sync: Callable[[object], None]  # blocks until the device has finished (CUDA sync / block_until_ready)
    to_float: Callable[[object], float]
    peak_memory: Callable[[], int | None] = lambda: None
    memory_kind: str = "n/a"
    param_count: int | None = None  # trainable parameters as the framework counts them
    notes: tuple[str, ...] = ()


class BudgetSpent(Exception):
    """The run's deadline passed before this case finished its timed steps."""


def summarise(samples_s: list[float]) -> dict:
    """Median, quartiles and IQR of step times, in milliseconds."""
    ms = sorted(s * 1000 for s in samples_s)
    q1, median, q3 = statistics.quantiles(ms, n=4, method="inclusive") if len(ms) > 1 else (ms[0], ms[0], ms[0])
    return {"median": median, "q1": q1, "q3": q3, "iqr": q3 - q1, "min": ms[0], "max": ms[-1], "n": len(ms)}


def run_case(build: Callable[[], Built], preset: Preset, compiled: bool, deadline: float, clock=time.perf_counter) -> dict:
    """Build, take the first step (compile), warm up, time; return the measured fields.

    Raises BudgetSpent when `deadline` (time.time()) passes before the timed steps are done.
    """
    train = preset.train
    t0 = clock()
    built = build()
    setup_s = clock() - t0

    losses = []
    t1 = clock()
    loss = built.step()
    built.sync(loss)
    first_step_s = clock() - t1
    losses.append(loss)
    for _ in range(max(train.warmup_steps - 1, 0)):
        loss = built.step()
        losses.append(loss)
        if time.time() > deadline:
            raise BudgetSpent("during warm-up")
    built.sync(loss)

    samples = []
    for i in range(train.timed_steps):
        if time.time() > deadline:
            raise BudgetSpent(f"after {i} of {train.timed_steps} timed steps")
        start = clock()
        loss = built.step()
        built.sync(loss)
        samples.append(clock() - start)
        losses.append(loss)

    stats = summarise(samples)
    flops = flops_per_step(preset.model, train.batch_size)
    median_s = stats["median"] / 1000
    values = [built.to_float(v) for v in losses]
    diverged = next((i for i, v in enumerate(values) if not math.isfinite(v)), None)
    if diverged is not None:
        # A NaN/inf loss is no training-speed result: the case fails with the reason (the result
        # file stays valid JSON, which allows no NaN, and ingest refuses non-finite numbers).
        raise FloatingPointError(f"training diverged: the loss was {values[diverged]} at step {diverged + 1}")
    return {
        "setup_s": setup_s,
        "first_step_s": first_step_s,
        "time_to_first_step_s": setup_s + first_step_s,
        # The first call traces and compiles; what it took beyond a steady step is compile time.
        "compile_s": max(first_step_s - median_s, 0.0) if compiled else None,
        "warmup_steps": train.warmup_steps,
        "timed_steps": len(samples),
        "step_ms": stats,
        "tokens_per_s": flops["tokens"] / median_s,
        "achieved_tflops": flops["total"] / median_s / 1e12,
        "peak_memory_bytes": built.peak_memory(),
        "memory_kind": built.memory_kind,
        "param_count": built.param_count,
        "loss_first": values[0],
        "loss_last": values[-1],
        "losses": values,
        "notes": list(built.notes),
    }
