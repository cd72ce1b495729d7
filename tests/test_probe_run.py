"""The probe for real, on CPU, in every framework (all three installed): one shared run of every
framework, mode and precision, plus the budget, absent-framework, kill and boundary checks.

Kept small for a 2-core CI: the tiny CPU config, 20 timed steps, one shared full run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from probe import config, flops, schema

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("pulse", "ingest", "analytics", "streamlit", "duckdb", "app_pages")


def probe_cmd(out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "probe", "--device", "cpu", "--out", str(out), *args]


def run_probe(out: Path, *args: str, env: dict | None = None, timeout: int = 600) -> dict:
    proc = subprocess.run(probe_cmd(out, *args), capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = Path(proc.stdout.strip().splitlines()[-1])
    assert path.parent == out and path.name.startswith("probe-") and path.suffix == ".json"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> dict:
    """Every framework, mode and precision on CPU, >= 20 timed steps each."""
    out = tmp_path_factory.mktemp("probe-full")
    return run_probe(out, "--precision", "fp32,bf16", "--steps", "20", "--warmup", "2", "--budget", "500")


def test_full_run_matches_schema(full_run):
    assert schema.validate(full_run) == []
    assert full_run["status"] == "complete" and full_run["finished_at"]
    env = full_run["environment"]
    assert env["cpu_model"] and env["usable_cpus"] >= 1
    for fw in config.FRAMEWORKS:
        assert env["frameworks"][fw]["version"], fw
        assert "threads" in env["frameworks"][fw] and env["frameworks"][fw]["import_s"] > 0
    expected = {(fw, mode, prec) for fw, modes in config.FRAMEWORK_MODES.items() for mode in modes for prec in ("fp32", "bf16")}
    assert {(c["framework"], c["mode"], c["precision"]) for c in full_run["cases"]} == expected


def test_every_case_ran_timed_and_the_loss_falls(full_run):
    """On the learnable synthetic task, every framework and mode trains: loss falls well below ln(V)."""
    failures = [(c["framework"], c["mode"], c["precision"], c.get("reason")) for c in full_run["cases"] if c["status"] != "ok"]
    assert not failures
    for c in full_run["cases"]:
        what = (c["framework"], c["mode"], c["precision"])
        assert c["timed_steps"] >= 20 and c["step_ms"]["n"] >= 20, what
        assert c["step_ms"]["q1"] <= c["step_ms"]["median"] <= c["step_ms"]["q3"], what
        assert len(c["losses"]) == c["warmup_steps"] + c["timed_steps"], what
        assert c["loss_first"] == pytest.approx(5.55, abs=0.1), what  # ln(256): an untrained model
        assert c["loss_last"] < c["loss_first"] - 0.8, what
        assert c["tokens_per_s"] == pytest.approx(full_run["config"]["tokens_per_step"] / (c["step_ms"]["median"] / 1000))
        assert (c["compile_s"] is None) == (c["mode"] == "eager"), what
        assert c["peak_tflops"]["estimated"] is True  # CPU: never a datasheet figure


def test_same_model_in_every_framework(full_run):
    """Identical architecture: every framework counts the same trainable parameters."""
    total = flops.param_counts(config.CPU.model)["total"]
    assert {c["param_count"] for c in full_run["cases"]} == {total}
    assert full_run["config"]["params"]["total"] == total


def test_budget_is_kept_and_overrun_cases_are_skipped(tmp_path):
    started = time.time()
    doc = run_probe(tmp_path, "--frameworks", "pytorch", "--modes", "eager", "--steps", "100000", "--budget", "6")
    assert time.time() - started < 6 + 4  # interpreter start-up and the final write
    assert doc["elapsed_s"] <= 6
    [case] = doc["cases"]
    assert case["status"] == "skipped" and case["reason"].startswith("budget")


def test_absent_framework_is_reported_skipped(tmp_path):
    """TensorFlow made unimportable (a shadow package on PYTHONPATH): skipped with the reason, not an error."""
    shadow = tmp_path / "shadow" / "tensorflow"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('tensorflow blocked for this test')\n")
    doc = run_probe(tmp_path / "out", "--frameworks", "tensorflow", "--budget", "60",
                    env={"PYTHONPATH": os.pathsep.join([str(shadow.parent), str(ROOT)])})
    assert schema.validate(doc) == [] and doc["status"] == "complete"
    assert [(c["mode"], c["status"]) for c in doc["cases"]] == [("eager", "skipped"), ("compiled", "skipped")]
    assert all("tensorflow blocked for this test" in c["reason"] for c in doc["cases"])
    assert doc["environment"]["frameworks"]["tensorflow"] is None


def test_killed_probe_leaves_nothing_that_looks_complete(tmp_path):
    proc = subprocess.Popen(probe_cmd(tmp_path, "--frameworks", "pytorch", "--modes", "eager", "--steps", "100000", "--budget", "300"),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 60
        while not list(tmp_path.glob("*.partial")) and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # into the worker's timed steps
        assert proc.poll() is None, "the probe ended before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not list(tmp_path.glob("probe-*.json")), "a killed run must not leave a final result file"
    leftovers = [p for p in tmp_path.iterdir()]
    assert leftovers, "the partial file should show an unfinished run"
    for path in leftovers:
        if path.name.endswith(".partial"):
            assert json.loads(path.read_text())["status"] == "incomplete"
    # And the loader refuses it.
    from ingest import probe as source
    from pulse.errors import SourceError

    with pytest.raises(SourceError, match="did not finish"):
        source.read_file(next(p for p in leftovers if p.name.endswith(".partial")))


def test_probe_imports_no_dashboard_or_database():
    """The probe runs on a bare GPU host: none of its modules may pull in the app or DuckDB."""
    code = (
        "import sys, probe, probe.cli, probe.runner, probe.worker, probe.measure, probe.schema, probe.hardware\n"
        "import probe.backends.torch_gpt, probe.backends.jax_gpt, probe.backends.tf_gpt\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == ""


def test_pulse_probe_run_loads_the_result(tmp_path):
    """`pulse probe run` runs the probe in a subprocess and ingests its file into DuckDB."""
    import duckdb

    db = tmp_path / "pulse.duckdb"
    proc = subprocess.run([sys.executable, "-m", "pulse", "probe", "run", "--db", str(db), "--device", "cpu", "--frameworks", "jax",
                           "--steps", "3", "--budget", "90", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Result:" in proc.stdout and "loaded" in proc.stdout
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT framework, mode, status FROM probe_cases").fetchall() == [("jax", "compiled", "ok")]
    metrics = {r[0] for r in con.execute("SELECT metric FROM observations WHERE source = 'probe'").fetchall()}
    assert metrics == {"probe_tokens_per_s", "probe_step_ms", "probe_compile_s"}  # no MFU against an estimated CPU peak


def test_cuda_requested_on_a_cpu_host_is_skipped_per_framework(tmp_path):
    """The CUDA path's first checks run here: each backend says why it has no GPU."""
    proc = subprocess.run([sys.executable, "-m", "probe", "--device", "cuda", "--config", "cpu", "--budget", "90", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(Path(proc.stdout.strip().splitlines()[-1]).read_text())
    if doc["environment"]["gpu"]:
        pytest.skip("this host has a GPU")
    assert schema.validate(doc) == []
    assert doc["config"]["precisions"] == ["fp32", "bf16"]  # CUDA default: both
    reasons = {c["framework"]: c["reason"] for c in doc["cases"]}
    assert all(c["status"] == "skipped" and c["reason"].startswith("no CUDA") for c in doc["cases"])
    assert "torch.cuda.is_available() is False" in reasons["pytorch"]
    assert "no GPU backend" in reasons["jax"] and "sees no GPU" in reasons["tensorflow"]
