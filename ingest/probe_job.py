"""The dashboard's "Run probe now": `pulse probe run` in a background process, with progress.

One job at a time per server process; the job writes its progress file (cases done of total,
the case running) and its log under PULSE_PROBE_DIR, and loads its result into the database
when it finishes (`pulse probe run` ingests by default).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pulse import config

ENABLE_VAR = "PULSE_ALLOW_PROBE"


def allowed() -> bool:
    """The button runs only where an operator opted in: on a shared server a probe burns compute."""
    return os.environ.get(ENABLE_VAR, "0").strip() == "1"


@dataclass
class ProbeJob:
    proc: subprocess.Popen
    progress_file: Path
    log_file: Path
    budget_s: float
    started: float = field(default_factory=time.time)

    def state(self) -> dict:
        """{'running', 'returncode', 'done', 'total', 'current', 'result', 'elapsed_s', 'log_tail'}."""
        try:
            progress = json.loads(self.progress_file.read_text())
        except (OSError, json.JSONDecodeError):
            progress = {}
        code = self.proc.poll()
        try:
            tail = self.log_file.read_text(errors="replace").strip().splitlines()[-6:]
        except OSError:
            tail = []
        return {"running": code is None, "returncode": code, "done": progress.get("done", 0), "total": progress.get("total"),
                "current": progress.get("current"), "result": progress.get("result"), "elapsed_s": time.time() - self.started,
                "budget_s": self.budget_s, "log_tail": tail}


def start(db_path: Path, budget_s: float, device: str = "auto") -> ProbeJob:
    """Start `pulse probe run` in the background; it loads its result into `db_path` when done."""
    out = config.probe_dir().absolute()
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    progress, log_file = out / f"job-{stamp}.progress.json", out / f"job-{stamp}.log"
    cmd = [sys.executable, "-m", "pulse", "probe", "run", "--db", str(Path(db_path).absolute()), "--budget", str(budget_s), "--device", device,
           "--out", str(out), "--progress-file", str(progress)]
    with open(log_file, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=out, env=config.child_env())
    return ProbeJob(proc, progress, log_file, budget_s)
