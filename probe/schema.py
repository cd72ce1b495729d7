"""The result file's schema (documented in docs/probe.md) and a small validator for it.

FIELDS maps a dotted path to (allowed JSON types, required). "cases[]." paths apply to each
case; "?" marks a field that may be null. A case with status "ok" must carry every measured
field; skipped and failed cases carry a reason instead.
"""

from __future__ import annotations

SCHEMA_ID = "framework-pulse/probe-result"
SCHEMA_VERSION = 1

NUM = (int, float)
STATUSES = ("complete", "incomplete")
CASE_STATUSES = ("ok", "skipped", "failed")

# path -> (types, required, nullable)
FIELDS: dict[str, tuple[tuple, bool, bool]] = {
    "schema": ((str,), True, False),
    "schema_version": ((int,), True, False),
    "run_id": ((str,), True, False),
    "status": ((str,), True, False),
    "started_at": ((str,), True, False),
    "finished_at": ((str,), True, True),
    "budget_s": (NUM, True, False),
    "elapsed_s": (NUM, True, True),
    "config": ((dict,), True, False),
    "config.name": ((str,), True, False),
    "config.model": ((dict,), True, False),
    "config.train": ((dict,), True, False),
    "config.params": ((dict,), True, False),
    "config.params.total": ((int,), True, False),
    "config.params.matmul": ((int,), True, False),
    "config.flops_per_step": ((dict,), True, False),
    "config.flops_per_step.total": (NUM, True, False),
    "config.tokens_per_step": ((int,), True, False),
    "config.tf32": ((bool,), True, False),
    "config.devices": ((list,), True, False),
    "config.precisions": ((list,), True, False),
    "environment": ((dict,), True, False),
    "environment.host": ((str,), True, False),
    "environment.platform": ((str,), True, False),
    "environment.python": ((str,), True, False),
    "environment.cpu_model": ((str,), True, False),
    "environment.cpu_count": ((int,), True, True),
    "environment.usable_cpus": ((int,), True, False),
    "environment.gpu": ((dict,), True, True),
    "environment.frameworks": ((dict,), True, False),
    "cases": ((list,), True, False),
    "cases[].framework": ((str,), True, False),
    "cases[].mode": ((str,), True, False),
    "cases[].precision": ((str,), True, False),
    "cases[].device": ((str,), True, False),
    "cases[].device_name": ((str,), False, True),
    "cases[].status": ((str,), True, False),
    "cases[].reason": ((str,), False, True),
    "cases[].compiler": ((str,), True, False),
    "cases[].tf32": ((bool,), False, False),
    "cases[].framework_version": ((str,), False, True),
}

# Required (non-null unless marked) in every case whose status is "ok".
OK_FIELDS: dict[str, tuple[tuple, bool]] = {
    "setup_s": (NUM, False),
    "first_step_s": (NUM, False),
    "time_to_first_step_s": (NUM, False),
    "compile_s": (NUM, True),
    "warmup_steps": ((int,), False),
    "timed_steps": ((int,), False),
    "step_ms": ((dict,), False),
    "step_ms.median": (NUM, False),
    "step_ms.q1": (NUM, False),
    "step_ms.q3": (NUM, False),
    "step_ms.iqr": (NUM, False),
    "step_ms.min": (NUM, False),
    "step_ms.max": (NUM, False),
    "step_ms.n": ((int,), False),
    "tokens_per_s": (NUM, False),
    "achieved_tflops": (NUM, False),
    "peak_tflops": ((dict,), False),
    "peak_tflops.value": (NUM, True),
    "peak_tflops.source": ((str,), False),
    "peak_tflops.estimated": ((bool,), False),
    "mfu": (NUM, True),
    "peak_memory_bytes": ((int,), True),
    "memory_kind": ((str,), False),
    "param_count": ((int,), False),
    "loss_first": (NUM, False),
    "loss_last": (NUM, False),
    "losses": ((list,), False),
    "notes": ((list,), False),
}


def _get(doc, path: str):
    node = doc
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return KeyError
        node = node[part]
    return node


def _check(value, types, nullable, where: str, problems: list[str]) -> None:
    if value is None:
        if not nullable:
            problems.append(f"{where} is null")
        return
    if isinstance(value, bool) and bool not in types:
        problems.append(f"{where} is a boolean, expected {'/'.join(t.__name__ for t in types)}")
    elif not isinstance(value, types):
        problems.append(f"{where} is {type(value).__name__}, expected {'/'.join(t.__name__ for t in types)}")


def validate(doc: dict) -> list[str]:
    """Every way `doc` departs from the schema (empty list when it conforms)."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["the document is not a JSON object"]
    for path, (types, required, nullable) in FIELDS.items():
        if path.startswith("cases[]."):
            continue
        value = _get(doc, path)
        if value is KeyError:
            if required:
                problems.append(f"{path} is missing")
            continue
        _check(value, types, nullable, path, problems)
    if doc.get("schema") != SCHEMA_ID:
        problems.append(f"schema is {doc.get('schema')!r}, expected {SCHEMA_ID!r}")
    if doc.get("status") not in STATUSES:
        problems.append(f"status is {doc.get('status')!r}, expected one of {STATUSES}")
    for i, case in enumerate(doc.get("cases") or []):
        for path, (types, required, nullable) in FIELDS.items():
            if not path.startswith("cases[]."):
                continue
            sub = path[len("cases[]."):]
            value = _get(case, sub)
            if value is KeyError:
                if required:
                    problems.append(f"cases[{i}].{sub} is missing")
                continue
            _check(value, types, nullable, f"cases[{i}].{sub}", problems)
        status = case.get("status")
        if status not in CASE_STATUSES:
            problems.append(f"cases[{i}].status is {status!r}, expected one of {CASE_STATUSES}")
        elif status == "ok":
            for sub, (types, nullable) in OK_FIELDS.items():
                value = _get(case, sub)
                if value is KeyError:
                    problems.append(f"cases[{i}].{sub} is missing (status ok)")
                else:
                    _check(value, types, nullable, f"cases[{i}].{sub}", problems)
        elif not case.get("reason"):
            problems.append(f"cases[{i}] is {status} without a reason")
    return problems


def all_paths() -> list[str]:
    """Every documented field path (docs/probe.md must mention each)."""
    return list(FIELDS) + [f"cases[].{p}" for p in OK_FIELDS]
