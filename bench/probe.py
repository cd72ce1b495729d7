"""Benchmark: run the training-speed probe and print its result as a Markdown table for
docs/benchmarks.md (machine, date and load included).

    python bench/probe.py -- --device cpu --precision fp32,bf16 --steps 50 --budget 500
    python bench/probe.py --from probe-results/probe-....json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def markdown(doc: dict, load: str = "") -> str:
    env = doc["environment"]
    gpu = env.get("gpu")
    lines = [
        f"Run `{doc['run_id']}`, {doc['started_at']}, {doc['elapsed_s']:.0f} s of a {doc['budget_s']:.0f} s budget; "
        f"config `{doc['config']['name']}` ({doc['config']['params']['total']:,} parameters, {doc['config']['tokens_per_step']:,} tokens/step).",
        f"Machine: {env['cpu_model']}, {env['usable_cpus']} usable CPUs, {env['platform']}, Python {env['python']}; "
        + (f"GPU {gpu['name']} (driver {gpu['driver']})." if gpu else "no GPU.") + (f" Load average: {load}." if load else ""),
        "Versions: " + "; ".join(f"{k} {v['version']}" for k, v in env["frameworks"].items() if v) + ".",
        "",
        "| framework | mode | precision | step ms (median) | IQR (q1-q3) | tokens/s | achieved GFLOP/s | MFU | compile s | time to first step s | loss first -> last |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in doc["cases"]:
        if c["status"] != "ok":
            lines.append(f"| {c['framework']} | {c['mode']} | {c['precision']} | {c['status']}: {c.get('reason')} |||||||||")
            continue
        s = c["step_ms"]
        mfu = "n/a" if c["mfu"] is None else f"{c['mfu']:.1%}" + (" (est.)" if c["peak_tflops"]["estimated"] else "")
        compile_s = "-" if c["compile_s"] is None else f"{c['compile_s']:.2f}"
        lines.append(f"| {c['framework']} | {c['mode']} | {c['precision']} | {s['median']:.2f} | {s['q1']:.2f}-{s['q3']:.2f} | "
                     f"{c['tokens_per_s']:,.0f} | {c['achieved_tflops'] * 1000:.1f} | {mfu} | {compile_s} | {c['time_to_first_step_s']:.2f} | "
                     f"{c['loss_first']:.2f} -> {c['loss_last']:.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="source", type=Path, help="an existing result file instead of a new run")
    parser.add_argument("probe_args", nargs="*", help="arguments for python -m probe (after --)")
    args = parser.parse_args()
    load = ""  # unknown for an old file
    if args.source:
        path = args.source
    else:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        out = subprocess.run([sys.executable, "-m", "probe", "-q", *args.probe_args], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
        path = Path(out.stdout.strip().splitlines()[-1])
        load = f"{load} before, {', '.join(f'{x:.1f}' for x in os.getloadavg())} after"
    print(markdown(json.loads(path.read_text()), load))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
