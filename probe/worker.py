"""One framework's cases, run in a child process of the runner (`python -m probe.worker SPEC`).

Each framework gets its own process: their thread pools and allocators never meet, an absent
or broken install is reported rather than fatal, and the runner can stop a case that overruns
the budget (a compile cannot be interrupted from inside). Events go to stdout as lines
starting with PREFIX followed by JSON; anything else a library prints there is ignored.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import time
import traceback

from probe import config, hardware
from probe.measure import BudgetSpent, run_case

PREFIX = "@@probe "
log = logging.getLogger(__name__)


def emit(event: str, **fields) -> None:
    sys.stdout.write(PREFIX + json.dumps({"event": event, **fields}, default=str) + "\n")
    sys.stdout.flush()


def _die_with_parent() -> None:
    """Linux: ask the kernel to kill this worker if the runner dies (a killed probe leaves no orphans)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run(spec: dict) -> None:
    framework = spec["framework"]
    module_name = spec["backend"]
    started = time.perf_counter()
    try:
        backend = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or a broken install raising anything at import
        emit("unavailable", reason=f"import failed: {type(exc).__name__}: {exc}".strip())
        return
    if spec.get("threads"):
        backend.set_threads(int(spec["threads"]))
    preset = config.from_dict(spec["preset"])
    deadline = float(spec["deadline"])
    # Importing a framework is part of a user's wait before the first step, so it is recorded too.
    info = {"version": backend.version(), "threads": backend.threads(), "import_s": round(time.perf_counter() - started, 3)}
    if hasattr(backend, "cuda_runtime"):
        info["cuda_runtime"] = backend.cuda_runtime()
    emit("info", **info)
    for case in spec["cases"]:
        mode, precision, device = case["mode"], case["precision"], case["device"]
        base = {"framework": framework, "mode": mode, "precision": precision, "device": device,
                "compiler": config.COMPILERS[(framework, mode)], "tf32": bool(spec["tf32"]), "framework_version": info["version"]}
        if device == "cuda":
            ok, why = backend.cuda_available()
            if not ok:
                emit("case", result={**base, "status": "skipped", "reason": f"no CUDA: {why}"})
                continue
        name = backend.device_name(device) if device == "cuda" else hardware.cpu_model()
        base["device_name"] = name
        if precision == "bf16":
            ok, why = backend.bf16_support(device)
            if not ok:
                emit("case", result={**base, "status": "skipped", "reason": f"bf16 unsupported: {why}"})
                continue
        if time.time() > deadline:
            emit("case", result={**base, "status": "skipped", "reason": "budget: the time budget was spent before this case started"})
            continue
        emit("case_start", **base)
        peak = hardware.peak_tflops(device, name, precision, bool(spec["tf32"]), spec.get("peak_tflops"))
        try:
            measured = run_case(lambda: backend.build(preset, mode, precision, device, bool(spec["tf32"])), preset, mode == "compiled", deadline)
        except BudgetSpent as exc:
            emit("case", result={**base, "status": "skipped", "reason": f"budget: the time budget ran out {exc}"})
            continue
        except Exception as exc:
            log.debug("case failed", exc_info=True)
            emit("case", result={**base, "status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:2000],
                                 "traceback": traceback.format_exc()[-4000:]})
            continue
        mfu = measured["achieved_tflops"] / peak["value"] if peak["value"] else None
        emit("case", result={**base, "status": "ok", "reason": None, **measured, "peak_tflops": peak, "mfu": mfu})


def main(argv: list[str] | None = None) -> int:
    _die_with_parent()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(argv[0] if argv else sys.stdin.read())
    run(spec)
    emit("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
