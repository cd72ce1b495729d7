"""Claim checks: each ledger claim beside what the data says, or "not checkable yet".

A checker is registered for a claim id with @checks(...) in the analytics module of the
source that can check it (listed in CHECK_MODULES). A claim with no checker, or whose
checker finds no data, is reported as not checkable yet, naming the source that will check it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict, dataclass

import duckdb
import pandas as pd

CHECK_MODULES: list[str] = ["analytics.github", "analytics.trends", "analytics.paperswithcode", "analytics.huggingface"]

SUPPORTED = "supported"
CONTRADICTED = "contradicted"
PARTLY = "partly supported"
OUTDATED = "true then, not now"
NOT_CHECKABLE = "not checkable yet"

# The source that will check claims of each metric (shown when the data is missing).
CHECKED_BY = {
    "github_stars": "GitHub (pulse ingest github) and the embedded snapshot",
    "pwc_implementation_share": "Papers with Code archive (pulse ingest paperswithcode)",
    "pwc_implementation_share_relative": "Papers with Code archive (pulse ingest paperswithcode)",
    "pwc_papers_with_code_share": "Papers with Code archive (pulse ingest paperswithcode)",
    "hf_tf_keras_models_also_pytorch": "Hugging Face Hub (pulse ingest huggingface)",
    "hf_model_share": "Hugging Face Hub (pulse ingest huggingface)",
    "hf_models_total": "Hugging Face Hub (pulse ingest huggingface --hub-stats)",
    "google_trends_interest": "Google Trends (pulse ingest trends / trends-csv)",
    "training_step_ms": "the training-speed probe (pulse probe run)",
    "compile_speedup": "the training-speed probe (pulse probe run)",
}


@dataclass
class Verdict:
    status: str
    measured: str = ""  # what the data says, in words with numbers
    as_of: str = ""  # the date the measured figure is for
    today: str = ""  # the same figure today, when different from as_of
    basis: str = ""  # which source, variant and period the check used
    value: float | None = None  # the measured figure, comparable with the claim's value


Checker = Callable[[duckdb.DuckDBPyConnection, dict], Verdict]
CHECKERS: dict[str, Checker] = {}


def checks(*claim_ids: str):
    """Register a checker for one or more claim ids."""

    def decorate(func: Checker) -> Checker:
        for claim_id in claim_ids:
            CHECKERS[claim_id] = func
        return func

    return decorate


def not_checkable(claim: dict, why: str = "") -> Verdict:
    source = CHECKED_BY.get(claim.get("metric") or "", "a source not built yet")
    text = f"Not checkable yet: needs data from {source}."
    return Verdict(NOT_CHECKABLE, measured=(why + " " + text).strip() if why else text)


def load_claims(con: duckdb.DuckDBPyConnection) -> list[dict]:
    frame = con.execute("SELECT * FROM claims ORDER BY rowid").df()
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def check_all(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every claim with its verdict, one row each (ledger order)."""
    for module in CHECK_MODULES:
        importlib.import_module(module)
    rows = []
    for claim in load_claims(con):
        checker = CHECKERS.get(claim["id"])
        verdict = checker(con, claim) if checker else not_checkable(claim)
        rows.append({**claim, **{f"verdict_{k}" if k in ("value",) else k: v for k, v in asdict(verdict).items()}})
    return pd.DataFrame(rows)


def relative_verdict(measured: float, claimed: float, tolerance: float = 0.05) -> str:
    """Supported when within `tolerance` (relative) of the claimed figure."""
    if claimed == 0:
        return SUPPORTED if abs(measured) < 1e-9 else CONTRADICTED
    return SUPPORTED if abs(measured - claimed) / abs(claimed) <= tolerance else CONTRADICTED
