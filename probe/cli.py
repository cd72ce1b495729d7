"""`python -m probe`: run the training-speed probe and write one JSON result file.

Example:
    python -m probe --budget 60                       # CPU-sized model on CPU, fp32
    python -m probe --device cuda --budget 300        # GPU-sized model, fp32 and bf16
    python -m probe --frameworks pytorch,jax --steps 50 --out results/
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from probe import config
from probe.runner import ProbeUsageError, Runner, make_plan

log = logging.getLogger("probe")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m probe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=60.0, help="seconds for the whole run; cases that do not fit are skipped with reason 'budget' (default 60)")
    p.add_argument("--device", default="auto", help="auto (CUDA if nvidia-smi sees a GPU, else CPU), cpu, cuda or all")
    p.add_argument("--config", default="auto", choices=["auto", *config.PRESETS], help="model size: cpu (tiny), gpu (~29M params), auto follows the device")
    p.add_argument("--frameworks", default=",".join(config.FRAMEWORKS), help="comma-separated: pytorch,tensorflow,jax")
    p.add_argument("--modes", default=",".join(config.MODES), help="comma-separated: eager,compiled")
    p.add_argument("--precision", default=None, help="comma-separated fp32,bf16 (default: fp32 on CPU, both on CUDA)")
    p.add_argument("--tf32", choices=["off", "on"], default="off", help="allow TF32 tensor-core matmuls for fp32 in every framework (default off: strict fp32)")
    p.add_argument("--steps", type=int, default=None, help="timed steps per case (default 20 CPU / 50 GPU; use >= 20)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps per case, excluded from timing (default 3 CPU / 5 GPU)")
    p.add_argument("--batch-size", type=int, default=None, help="override the preset's batch size")
    p.add_argument("--threads", type=int, default=None, help="intra-op CPU threads for PyTorch and TensorFlow (JAX/XLA keeps its default)")
    p.add_argument("--peak-tflops", type=float, default=None, help="peak TFLOP/s to compute MFU against (overrides the table)")
    p.add_argument("--out", type=Path, default=Path(os.environ.get("PROBE_OUT_DIR", "probe-results")), help="directory for result files (default probe-results or $PROBE_OUT_DIR)")
    p.add_argument("--progress-file", type=Path, default=None, help="also keep a JSON progress file here (for the dashboard)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the result path")
    return p


def _progress_writer(path: Path | None, total: int):
    state = {"total": total, "done": 0, "current": None, "started_at": time.time(), "result": None}

    def write():
        if path is None:
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, path)

    def on_event(kind: str, data: dict) -> None:
        if kind == "case_start":
            state["current"] = f"{data['framework']} {data['mode']} {data['precision']} {data['device']}"
            log.info("running %s", state["current"])
        elif kind == "case":
            state["done"] += 1
            state["current"] = None
            what = f"{data['framework']} {data['mode']} {data['precision']} {data['device']}"
            if data["status"] == "ok":
                log.info("[%d/%d] %s: %.2f ms/step (IQR %.2f), %.0f tokens/s", state["done"], total, what, data["step_ms"]["median"], data["step_ms"]["iqr"], data["tokens_per_s"])
            else:
                log.info("[%d/%d] %s: %s (%s)", state["done"], total, what, data["status"], data.get("reason"))
        elif kind == "finished":
            state["result"] = data["path"]
        write()

    write()
    return on_event


def table(doc: dict) -> str:
    """The result as a plain-text table."""
    head = f"{'framework':<11} {'mode':<9} {'prec':<5} {'device':<6} {'status':<8} {'step ms':>9} {'IQR':>7} {'tokens/s':>11} {'TFLOP/s':>8} {'MFU':>7} {'1st step s':>10}"
    lines = [head, "-" * len(head)]
    for c in doc["cases"]:
        if c["status"] == "ok":
            mfu = "n/a" if c["mfu"] is None else f"{c['mfu']:.1%}" + ("*" if c["peak_tflops"]["estimated"] else "")
            lines.append(f"{c['framework']:<11} {c['mode']:<9} {c['precision']:<5} {c['device']:<6} {'ok':<8} {c['step_ms']['median']:>9.2f} {c['step_ms']['iqr']:>7.2f} {c['tokens_per_s']:>11,.0f} {c['achieved_tflops']:>8.3f} {mfu:>7} {c['first_step_s']:>10.2f}")
        else:
            lines.append(f"{c['framework']:<11} {c['mode']:<9} {c['precision']:<5} {c['device']:<6} {c['status']:<8} {c.get('reason') or ''}")
    if any(c.get("peak_tflops", {}).get("estimated") for c in doc["cases"] if c["status"] == "ok"):
        lines.append("* MFU against an estimated CPU peak (cores x clock x SIMD width): indicative only")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        plan = make_plan(config_name=args.config, device=args.device, frameworks=args.frameworks, modes=args.modes,
                         precisions=args.precision, tf32=args.tf32 == "on", budget_s=args.budget, timed_steps=args.steps,
                         warmup_steps=args.warmup, batch_size=args.batch_size, threads=args.threads,
                         peak_tflops=args.peak_tflops, out_dir=args.out)
    except ProbeUsageError as exc:
        print(f"python -m probe: error: {exc}", file=sys.stderr)
        return 2
    path = Runner(plan, _progress_writer(args.progress_file, len(plan.cases))).run()
    if not args.quiet:
        print(table(json.loads(path.read_text())))
    print(path)
    return 0
