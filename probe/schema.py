"""The result file's schema (documented in docs/probe.md) and a small validator for it.

FIELDS maps a dotted path to (allowed JSON types, required). "cases[]." paths apply to each
case; "?" marks a field that may be null. A case with status "ok" must carry every measured
field; skipped and failed cases carry a reason instead.
"""

from __future__ import annotations

import datetime as dt
import math
import re

SCHEMA_ID = "framework-pulse/probe-result"
SCHEMA_VERSION = 1
# Versions this code reads; a file of any other version is refused whole (issue 14: a
# `schema_version: 99` file was stored as if it were version 1).
KNOWN_VERSIONS = (1,)

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


# Ranges (low, high, low_exclusive) of numeric fields; top-level paths, and case paths of ok
# cases. Each bound is a physical limit or orders of magnitude beyond any real run: they exist
# to refuse inf, 1e308, negative or zero values (issue 14), not to judge a measurement.
RANGES: dict[str, tuple[float, float, bool]] = {
    "budget_s": (0, 7 * 86400, True),
    "elapsed_s": (0, 30 * 86400, False),
    "config.params.total": (0, 1e13, True),
    "config.params.matmul": (0, 1e13, True),
    "config.flops_per_step.total": (0, 1e21, True),
    "config.tokens_per_step": (0, 1e9, True),
    "environment.cpu_count": (1, 1e6, False),
    "environment.usable_cpus": (1, 1e6, False),
    "cases[].setup_s": (0, 1e6, False),
    "cases[].first_step_s": (0, 1e6, True),
    "cases[].time_to_first_step_s": (0, 1e6, True),
    "cases[].compile_s": (0, 1e6, False),
    "cases[].warmup_steps": (0, 1e7, False),
    "cases[].timed_steps": (1, 1e7, False),
    "cases[].step_ms.median": (0, 1e8, True),
    "cases[].step_ms.q1": (0, 1e8, True),
    "cases[].step_ms.q3": (0, 1e8, True),
    "cases[].step_ms.iqr": (0, 1e8, False),
    "cases[].step_ms.min": (0, 1e8, True),
    "cases[].step_ms.max": (0, 1e8, True),
    "cases[].step_ms.n": (1, 1e7, False),
    "cases[].tokens_per_s": (0, 1e12, True),
    "cases[].achieved_tflops": (0, 1e6, True),
    "cases[].peak_tflops.value": (0, 1e6, True),
    "cases[].mfu": (0, 1e6, True),  # at most 1 against a datasheet peak (checked below)
    "cases[].peak_memory_bytes": (0, 2**50, False),
    "cases[].param_count": (1, 1e13, False),
    "cases[].loss_first": (0, 1e6, False),
    "cases[].loss_last": (0, 1e6, False),
}

# A case's identity: two cases with the same one make the file ambiguous.
CASE_KEY = ("framework", "mode", "precision", "device")
# Values the probe writes for each identity field (probe/config.py, probe/runner.py).
CASE_VALUES = {
    "framework": ("pytorch", "tensorflow", "jax"),
    "mode": ("eager", "compiled"),
    "precision": ("fp32", "bf16"),
    "device": ("cpu", "cuda"),
}
RUN_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_TEXT = 2000  # characters in any string field the schema names
MAX_CASES = 1000
EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)


def parse_time(text: str) -> dt.datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime; None when it is not one."""
    try:
        value = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


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
    elif isinstance(value, float) and not math.isfinite(value):
        problems.append(f"{where} is {value}, expected a finite number")
    elif isinstance(value, str) and len(value) > MAX_TEXT:
        problems.append(f"{where} is {len(value):,} characters long, more than {MAX_TEXT:,}")


def _check_range(value, rule: str, where: str, problems: list[str]) -> None:
    """Range of a number that already passed _check (so finite, right type), or null."""
    bounds = RANGES.get(rule)
    if bounds is None or value is None or isinstance(value, bool) or not isinstance(value, NUM):
        return
    low, high, exclusive = bounds
    if exclusive and value <= low:
        problems.append(f"{where} is {value!r}, expected more than {low:g}")
    elif value < low:
        problems.append(f"{where} is {value!r}, expected at least {low:g}")
    elif value > high:
        problems.append(f"{where} is {value!r}, more than {high:g} (not a plausible measurement)")


def validate(doc: dict, today: dt.date | None = None) -> list[str]:
    """Every way `doc` departs from the schema (empty list when it conforms).

    Types, finite numbers in range, known schema version and values, dates between 1990 and a
    year from `today`, no repeated case. An unknown schema version is the only problem reported.
    """
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["the document is not a JSON object"]
    version = doc.get("schema_version")
    if "schema_version" in doc and (isinstance(version, bool) or version not in KNOWN_VERSIONS):
        return [f"schema_version is {version!r}; this version of Framework Pulse reads only "
                f"{', '.join(map(str, KNOWN_VERSIONS))}"]
    for path, (types, required, nullable) in FIELDS.items():
        if path.startswith("cases[]."):
            continue
        value = _get(doc, path)
        if value is KeyError:
            if required:
                problems.append(f"{path} is missing")
            continue
        _check(value, types, nullable, path, problems)
        _check_range(value, path, path, problems)
    if doc.get("schema") != SCHEMA_ID:
        problems.append(f"schema is {_short(doc.get('schema'))}, expected {SCHEMA_ID!r}")
    if doc.get("status") not in STATUSES:
        problems.append(f"status is {_short(doc.get('status'))}, expected one of {STATUSES}")
    if isinstance(doc.get("run_id"), str) and not RUN_ID.fullmatch(doc["run_id"]):
        problems.append(f"run_id is {_short(doc['run_id'])}, expected 1-64 letters, digits, '_', '.' or '-'")
    _check_times(doc, today or dt.datetime.now(dt.UTC).date(), problems)
    gpu = _get(doc, "environment.gpu")
    if isinstance(gpu, dict) and not isinstance(gpu.get("name"), str):
        problems.append("environment.gpu.name is missing or not a string")
    for name in ("devices", "precisions"):
        values = _get(doc, f"config.{name}")
        if isinstance(values, list) and not all(isinstance(v, str) and len(v) <= 64 for v in values):
            problems.append(f"config.{name} holds something other than short strings")
    cases = doc.get("cases")
    if not isinstance(cases, list):
        return problems
    if len(cases) > MAX_CASES:
        problems.append(f"cases has {len(cases):,} entries, more than {MAX_CASES:,}")
        return problems
    seen: dict[tuple, int] = {}
    for i, case in enumerate(cases):
        if not isinstance(case, dict):
            problems.append(f"cases[{i}] is {type(case).__name__}, expected an object")
            continue
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
        for name, allowed in CASE_VALUES.items():
            if isinstance(case.get(name), str) and case[name] not in allowed:
                problems.append(f"cases[{i}].{name} is {_short(case[name])}, expected one of {allowed}")
        key = tuple(case.get(name) for name in CASE_KEY)
        if all(isinstance(part, str) for part in key):
            if key in seen:
                problems.append(f"cases[{i}] repeats cases[{seen[key]}] ({'/'.join(key)}): one result per "
                                "framework, mode, precision and device")
            seen.setdefault(key, i)
        status = case.get("status")
        if status not in CASE_STATUSES:
            problems.append(f"cases[{i}].status is {_short(status)}, expected one of {CASE_STATUSES}")
        elif status == "ok":
            for sub, (types, nullable) in OK_FIELDS.items():
                value = _get(case, sub)
                if value is KeyError:
                    problems.append(f"cases[{i}].{sub} is missing (status ok)")
                else:
                    before = len(problems)
                    _check(value, types, nullable, f"cases[{i}].{sub}", problems)
                    if len(problems) == before:
                        _check_range(value, f"cases[].{sub}", f"cases[{i}].{sub}", problems)
            _check_ok_case(case, i, doc, problems)
        else:
            if not case.get("reason"):
                problems.append(f"cases[{i}] is {status} without a reason")
            # Optional for a skipped or failed case, but stored when present: same checks.
            for sub, (types, _nullable) in OK_FIELDS.items():
                value = _get(case, sub)
                if value is KeyError or value is None:
                    continue
                before = len(problems)
                _check(value, types, True, f"cases[{i}].{sub}", problems)
                if len(problems) == before:
                    _check_range(value, f"cases[].{sub}", f"cases[{i}].{sub}", problems)
    return problems


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_times(doc: dict, today: dt.date, problems: list[str]) -> None:
    latest = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC) + dt.timedelta(days=366)
    parsed = {}
    for name in ("started_at", "finished_at"):
        text = doc.get(name)
        if not isinstance(text, str):
            continue
        value = parse_time(text)
        if value is None:
            problems.append(f"{name} is {_short(text)}, expected an ISO 8601 timestamp")
        elif not EARLIEST <= value <= latest:
            problems.append(f"{name} is {text}, outside 1990-01-01 .. {latest.date()}")
        else:
            parsed[name] = value
    if len(parsed) == 2 and parsed["finished_at"] < parsed["started_at"]:
        problems.append(f"finished_at {doc['finished_at']} is before started_at {doc['started_at']}")


def _check_ok_case(case: dict, i: int, doc: dict, problems: list[str]) -> None:
    """Cross-field checks of a measured case whose fields each passed."""
    steps = case.get("step_ms")
    if isinstance(steps, dict):
        order = [steps.get(k) for k in ("min", "q1", "median", "q3", "max")]
        if all(isinstance(v, NUM) and not isinstance(v, bool) for v in order) and order != sorted(order):
            problems.append(f"cases[{i}].step_ms is not ordered min <= q1 <= median <= q3 <= max")
    peak = case.get("peak_tflops")
    mfu = case.get("mfu")
    if isinstance(peak, dict) and peak.get("estimated") is False and isinstance(mfu, NUM) and not isinstance(mfu, bool) and mfu > 1:
        problems.append(f"cases[{i}].mfu is {mfu!r}, above 1 (100% of a datasheet peak): the peak value is wrong")
    losses = case.get("losses")
    if isinstance(losses, list) and not all(
        isinstance(v, NUM) and not isinstance(v, bool) and math.isfinite(v) for v in losses
    ):
        problems.append(f"cases[{i}].losses holds something other than finite numbers")


def all_paths() -> list[str]:
    """Every documented field path (docs/probe.md must mention each)."""
    return list(FIELDS) + [f"cases[].{p}" for p in OK_FIELDS]
