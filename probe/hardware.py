"""Peak-FLOPs table for known GPUs, device naming, and the environment recorded with each run.

Peaks are dense (no structured sparsity) per-GPU figures in TFLOP/s from NVIDIA datasheets;
the "tf32" column is the tensor-core TF32 rate and "fp32" the non-tensor FP32 rate. MFU uses
bf16 for bf16 runs, tf32 for fp32 runs with TF32 allowed, and fp32 for strict-fp32 runs.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Peak:
    key: str
    bf16: float | None
    tf32: float | None
    fp32: float
    citation: str


# Sparsity figures in datasheets are twice these; we always use the dense ones.
PEAKS: dict[str, Peak] = {
    # NVIDIA H100 Tensor Core GPU datasheet (nvidia.com/en-us/data-center/h100): SXM5 BF16 1,979
    # and TF32 989 TFLOPS with sparsity, FP32 67 TFLOPS; PCIe 1,513 / 756 / 51; NVL 1,671 / 835 / 60.
    "H100 SXM": Peak("H100 SXM", 989.4, 494.7, 66.9, "NVIDIA H100 datasheet (SXM5): BF16 1979, TF32 989 sparse; FP32 67 TFLOPS"),
    "H100 PCIe": Peak("H100 PCIe", 756.5, 378.0, 51.2, "NVIDIA H100 datasheet (PCIe): BF16 1513, TF32 756 sparse; FP32 51 TFLOPS"),
    "H100 NVL": Peak("H100 NVL", 835.5, 417.5, 60.0, "NVIDIA H100 datasheet (NVL): BF16 1671, TF32 835 sparse; FP32 60 TFLOPS"),
    # NVIDIA H200 datasheet (nvidia.com/en-us/data-center/h200): SXM BF16 1,979 / TF32 989 sparse,
    # FP32 67; NVL 1,671 / 835 / 60. Same compute as H100, more and faster memory.
    "H200 SXM": Peak("H200 SXM", 989.4, 494.7, 66.9, "NVIDIA H200 datasheet (SXM): BF16 1979, TF32 989 sparse; FP32 67 TFLOPS"),
    "H200 NVL": Peak("H200 NVL", 835.5, 417.5, 60.0, "NVIDIA H200 datasheet (NVL): BF16 1671, TF32 835 sparse; FP32 60 TFLOPS"),
    # NVIDIA GH200 Grace Hopper datasheet: the Hopper GPU as in H100 SXM (BF16 1,979 sparse).
    "GH200": Peak("GH200", 989.4, 494.7, 66.9, "NVIDIA GH200 datasheet: BF16 1979, TF32 989 sparse; FP32 67 TFLOPS"),
    # NVIDIA A100 Tensor Core GPU datasheet: BF16 312, TF32 156 (dense), FP32 19.5 TFLOPS (SXM and PCIe).
    "A100": Peak("A100", 312.0, 156.0, 19.5, "NVIDIA A100 datasheet: BF16 312, TF32 156 dense; FP32 19.5 TFLOPS"),
    # NVIDIA L4 datasheet: BF16 242, TF32 120 TFLOPS with sparsity; FP32 30.3 TFLOPS.
    "L4": Peak("L4", 121.0, 60.0, 30.3, "NVIDIA L4 datasheet: BF16 242, TF32 120 sparse; FP32 30.3 TFLOPS"),
    # NVIDIA L40S datasheet: BF16 733, TF32 366 TFLOPS with sparsity; FP32 91.6 TFLOPS.
    "L40S": Peak("L40S", 366.5, 183.0, 91.6, "NVIDIA L40S datasheet: BF16 733, TF32 366 sparse; FP32 91.6 TFLOPS"),
    # NVIDIA A10 datasheet: BF16 125 (250 sparse), TF32 62.5 (125 sparse), FP32 31.2 TFLOPS.
    "A10": Peak("A10", 125.0, 62.5, 31.2, "NVIDIA A10 datasheet: BF16 125, TF32 62.5 dense; FP32 31.2 TFLOPS"),
    # NVIDIA V100 datasheet (SXM2): FP32 15.7 TFLOPS; no BF16 or TF32 tensor cores.
    "V100": Peak("V100", None, None, 15.7, "NVIDIA V100 datasheet (SXM2): FP32 15.7 TFLOPS; no BF16/TF32"),
    # NVIDIA T4 datasheet: FP32 8.1 TFLOPS; no BF16 or TF32 tensor cores.
    "T4": Peak("T4", None, None, 8.1, "NVIDIA T4 datasheet: FP32 8.1 TFLOPS; no BF16/TF32"),
    # NVIDIA Ada Lovelace architecture whitepaper, RTX 4090: BF16 (FP32 accumulate) 165.2 dense,
    # TF32 82.6 dense, FP32 82.6 TFLOPS.
    "RTX 4090": Peak("RTX 4090", 165.2, 82.6, 82.6, "NVIDIA Ada whitepaper (RTX 4090): BF16 165.2, TF32 82.6 dense; FP32 82.6 TFLOPS"),
}

# Device-name patterns (as CUDA reports them) to table keys; first match wins.
_NAME_RULES: list[tuple[str, str]] = [
    (r"GH200", "GH200"),
    (r"H200.*NVL", "H200 NVL"),
    (r"H200", "H200 SXM"),
    (r"H100.*NVL", "H100 NVL"),
    (r"H100.*PCI", "H100 PCIe"),
    (r"H100", "H100 SXM"),  # "NVIDIA H100 80GB HBM3" is the SXM5 part
    (r"A100", "A100"),
    (r"L40S", "L40S"),
    (r"\bL4\b", "L4"),
    (r"\bA10\b", "A10"),
    (r"V100", "V100"),
    (r"\bT4\b", "T4"),
    (r"RTX 4090", "RTX 4090"),
]


def match_gpu(name: str | None) -> Peak | None:
    """The peak-table entry for a CUDA device name, or None when unknown."""
    if not name:
        return None
    for pattern, key in _NAME_RULES:
        if re.search(pattern, name, flags=re.IGNORECASE):
            return PEAKS[key]
    return None


def peak_tflops(device: str, device_name: str | None, precision: str, tf32: bool, override: float | None = None) -> dict:
    """The peak used for MFU, with where it came from; value None when unknown."""
    if override:
        return {"value": float(override), "source": "given on the command line (--peak-tflops)", "estimated": False, "column": precision}
    if device == "cpu":
        est = cpu_peak_estimate(precision)
        if est is None:
            return {"value": None, "source": "n/a: no peak known for this CPU", "estimated": True, "column": precision}
        return {"value": est["value"], "source": est["source"], "estimated": True, "column": precision}
    entry = match_gpu(device_name)
    if entry is None:
        return {"value": None, "source": f"n/a: '{device_name}' is not in the peak table (pass --peak-tflops)", "estimated": False, "column": precision}
    column = "bf16" if precision == "bf16" else ("tf32" if tf32 else "fp32")
    value = getattr(entry, column)
    if value is None:
        return {"value": None, "source": f"n/a: {entry.key} has no {column} rate", "estimated": False, "column": column}
    return {"value": value, "source": entry.citation + " (dense)", "estimated": False, "column": column}


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _cpu_ghz() -> float | None:
    for path in ("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq",):
        try:
            with open(path) as fh:
                return int(fh.read().strip()) / 1e6
        except (OSError, ValueError):
            pass
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("cpu MHz"):
                    return float(line.split(":", 1)[1]) / 1000
    except (OSError, ValueError):
        pass
    return None


def cpu_peak_estimate(precision: str) -> dict | None:
    """A rough CPU peak: cores x GHz x FLOP/cycle from the SIMD flags (always marked estimated)."""
    ghz, cores, flags = _cpu_ghz(), usable_cpus(), _cpu_flags()
    if not ghz or not flags:
        return None
    # Two FMA units per core: AVX-512 does 2 x 16 x 2, AVX2+FMA 2 x 8 x 2 fp32 FLOP per cycle.
    per_cycle = 64 if "avx512f" in flags else 32 if {"avx2", "fma"} <= flags else 8
    if precision == "bf16" and "avx512_bf16" in flags:
        per_cycle *= 2
    value = cores * ghz * per_cycle / 1000
    return {"value": round(value, 4), "source": f"estimated upper bound: {cores} cores x {ghz:.2f} GHz x {per_cycle} FLOP/cycle (SIMD flags; CPUs that split 512-bit FMAs reach half)"}


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nvidia_smi() -> dict | None:
    """GPU name and driver from nvidia-smi, or None when there is none."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    if not out:
        return None
    name, driver, memory = (part.strip() for part in out[0].split(",")[:3])
    return {"name": name, "driver": driver, "memory_total": memory, "count": len(out)}


def environment() -> dict:
    """Host facts recorded with every run (framework versions are added by the runner)."""
    import sys

    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "gpu": nvidia_smi(),
    }
