"""`pulse ingest probe` into a real DuckDB file, the probe analytics and claim checks, and the
Probe page (AppTest). Result documents here are SYNTHETIC (tests/probe_synthetic.py)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from analytics import charts, claims
from analytics import probe as analytics_probe
from analytics.charts import ChartOptions
from ingest import probe as source
from pulse import db as database
from pulse.cli import main
from tests.probe_synthetic import make_doc, write

ROOT = Path(__file__).resolve().parent.parent


def ingest(db: Path, path: Path):
    result = CliRunner().invoke(main, ["ingest", "probe", "--db", str(db), str(path)])
    return result


def rows(db: Path, sql: str, params=()):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_ingest_directory_writes_runs_cases_and_observations(tmp_path, db_file):
    results = tmp_path / "results"
    write(results, make_doc(run_id="synthcpu0001", started_at="2026-11-20T10:00:00Z", skipped={("tensorflow", "eager"): "budget: spent"}))
    write(results, make_doc(run_id="synthgpu0001", started_at="2026-11-21T09:00:00Z", device="cuda", device_name="NVIDIA H100 80GB HBM3",
                            host="synthetic-gpu", precisions=("fp32", "bf16")))
    (results / "notes.txt").write_text("not a result")
    result = ingest(db_file, results)
    assert result.exit_code == 0, result.output
    assert "loaded 2 probe result file(s)" in result.output

    assert rows(db_file, "SELECT run_id, status, config_name, devices, device_name, host FROM probe_runs ORDER BY run_id") == [
        ("synthcpu0001", "complete", "cpu", "cpu", "Synthetic CPU", "synthetic-host"),
        ("synthgpu0001", "complete", "gpu", "cuda", "NVIDIA H100 80GB HBM3", "synthetic-gpu"),
    ]
    assert rows(db_file, "SELECT count(*), count(*) FILTER (status = 'ok') FROM probe_cases WHERE run_id = 'synthcpu0001'") == [(5, 4)]
    assert rows(db_file, "SELECT reason FROM probe_cases WHERE status = 'skipped'") == [("budget: spent",)]
    # Headline observations: GPU step 25 ms for PyTorch compiled fp32, bf16 half that.
    obs = dict(((r[0], r[1]), r[2]) for r in rows(db_file, "SELECT metric, variant, value FROM observations WHERE source = 'probe' AND date = '2026-11-21'"))
    assert obs[("probe_step_ms", "pytorch|compiled|fp32|cuda")] == pytest.approx(25.0)
    assert obs[("probe_step_ms", "pytorch|compiled|bf16|cuda")] == pytest.approx(12.5)
    tokens = 32 * 512
    assert obs[("probe_tokens_per_s", "jax|compiled|fp32|cuda")] == pytest.approx(tokens / 0.028)
    assert ("probe_mfu", "pytorch|eager|bf16|cuda") in obs and ("probe_compile_s", "jax|compiled|bf16|cuda") in obs
    assert ("probe_compile_s", "pytorch|eager|fp32|cuda") not in obs
    # CPU: MFU against an estimated peak is not a headline observation.
    cpu_metrics = {r[0] for r in rows(db_file, "SELECT metric FROM observations WHERE source = 'probe' AND date = '2026-11-20'")}
    assert cpu_metrics == {"probe_tokens_per_s", "probe_step_ms", "probe_compile_s"}
    [(subject, citation, raw_file, detail)] = rows(db_file, "SELECT subject, citation, raw_file, detail FROM observations WHERE variant = 'jax|compiled|fp32|cuda' AND metric = 'probe_step_ms'")
    assert subject == "NVIDIA H100 80GB HBM3" and "synthgpu0001" in citation and raw_file.endswith(".json")
    assert json.loads(detail)["run_id"] == "synthgpu0001"
    assert rows(db_file, "SELECT source, status FROM ingest_runs") == [("probe", "ok")]

    # Idempotent: loading again changes no counts.
    before = rows(db_file, "SELECT (SELECT count(*) FROM probe_runs), (SELECT count(*) FROM probe_cases), (SELECT count(*) FROM observations WHERE source = 'probe')")
    assert ingest(db_file, results).exit_code == 0
    assert rows(db_file, "SELECT (SELECT count(*) FROM probe_runs), (SELECT count(*) FROM probe_cases), (SELECT count(*) FROM observations WHERE source = 'probe')") == before


def test_raw_file_is_kept_for_replay(tmp_path, db_file):
    path = write(tmp_path / "r", make_doc())
    assert ingest(db_file, path).exit_code == 0
    kept = Path(rows(db_file, "SELECT raw_file FROM probe_runs")[0][0])
    kept = kept if kept.is_absolute() else ROOT / kept
    assert kept.exists() and json.loads(kept.read_text())["run_id"] == "synth0000001"


def test_incomplete_file_is_refused_and_skipped_in_a_directory(tmp_path, db_file):
    results = tmp_path / "results"
    bad = write(results, make_doc(run_id="synthpart001", status="incomplete"))
    result = ingest(db_file, bad)
    assert result.exit_code != 0 and "did not finish" in result.output and "Traceback" not in result.output
    write(results, make_doc(run_id="synthgood001"))
    (results / "probe-x.json.partial").write_text(json.dumps(make_doc(run_id="synthpart002", status="incomplete")))
    result = ingest(db_file, results)
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "probe-x.json.partial" in result.output
    assert rows(db_file, "SELECT run_id FROM probe_runs") == [("synthgood001",)]
    assert rows(db_file, "SELECT status FROM ingest_runs ORDER BY started_at DESC LIMIT 1") == [("partial",)]


def test_invalid_file_says_what_is_wrong(tmp_path, db_file):
    path = tmp_path / "probe-bad.json"
    path.write_text(json.dumps({"schema": "something else"}))
    result = ingest(db_file, path)
    assert result.exit_code != 0 and "not a valid probe result" in result.output and "docs/probe.md" in result.output
    path.write_text("{not json")
    result = ingest(db_file, path)
    assert result.exit_code != 0 and "Cannot read probe result" in result.output
    assert rows(db_file, "SELECT status FROM ingest_runs") == [("failed",), ("failed",)]


def test_no_secret_reaches_the_database(tmp_path, db_file, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_synthetic_secret_value")
    assert ingest(db_file, write(tmp_path / "r", make_doc())).exit_code == 0
    con = duckdb.connect(str(db_file), read_only=True)
    for table in ("probe_runs", "probe_cases", "observations", "ingest_runs"):
        assert "hf_synthetic_secret_value" not in con.execute(f"SELECT * FROM {table}").df().to_csv()


# --- Analytics, charts and claims ----------------------------------------------------------------

@pytest.fixture
def loaded(tmp_path, db_file) -> Path:
    results = tmp_path / "results"
    write(results, make_doc(run_id="synthcpu0001", started_at="2026-11-19T10:00:00Z", scale=1.2))
    write(results, make_doc(run_id="synthcpu0002", started_at="2026-11-20T10:00:00Z"))
    write(results, make_doc(run_id="synthh1000001", started_at="2026-11-21T09:00:00Z", device="cuda", device_name="NVIDIA H100 80GB HBM3",
                            host="synthetic-gpu", precisions=("fp32", "bf16")))
    assert ingest(db_file, results).exit_code == 0
    return db_file


def test_latest_snapshot_and_speedups(loaded):
    con = database.open_read(loaded)
    devices = analytics_probe.devices(con)
    assert devices == ["NVIDIA H100 80GB HBM3 (cuda, synthetic-gpu)", "Synthetic CPU (cpu, synthetic-host)"]
    cpu = analytics_probe.latest_snapshot(con, devices[1])
    assert set(cpu["run_id"]) == {"synthcpu0002"}  # the later of the two CPU runs
    overview = analytics_probe.latest_by_device(con)
    assert list(overview["device"]) == devices and overview.shape[1] == 2 + 10  # 10 GPU cases; CPU ones fp32 only
    assert overview.set_index("device").loc[devices[1], "PyTorch compiled fp32"] == round(512 / 0.025)
    ratios = analytics_probe.speedups(cpu).set_index("framework")["speedup"]
    assert ratios["pytorch"] == pytest.approx(40 / 25) and ratios["tensorflow"] == pytest.approx(80 / 30) and "jax" not in ratios


def test_charts_plot_the_snapshot(loaded):
    con = database.open_read(loaded)
    catalog = charts.catalog()
    gpu = ChartOptions(extra={"device": "NVIDIA H100 80GB HBM3 (cuda, synthetic-gpu)"})
    throughput = catalog["probe-throughput"].builder(con, gpu)
    assert len(throughput.data) == 10 and len(throughput.figure.data) == 5 and throughput.as_of == "2026-11-21"
    speedup = catalog["probe-speedup"].builder(con, gpu)
    assert sorted(speedup.data["speedup"].round(3)) == sorted([1.6, 1.6, 2.667, 2.667])
    mfu = catalog["probe-mfu"].builder(con, gpu)
    assert "ESTIMATED" not in mfu.subtitle and mfu.data["mfu"].notna().all()
    cpu_mfu = catalog["probe-mfu"].builder(con, ChartOptions(extra={"device": "Synthetic CPU (cpu, synthetic-host)"}))
    assert "ESTIMATED" in cpu_mfu.subtitle and cpu_mfu.title == catalog["probe-mfu"].title
    history = catalog["probe-history"].builder(con, ChartOptions(extra={"device": "Synthetic CPU (cpu, synthetic-host)"}))
    assert len(history.figure.data) == 5 and len(history.data) == 10  # 5 series x 2 runs
    empty = catalog["probe-history"].builder(con, ChartOptions(frameworks=[], extra={"device": "nope"}))
    assert len(empty.data) == 10  # unknown device falls back to the most recent; framework filter empty = all


def _verdict(con, cid: str) -> claims.Verdict:
    """The verdict for a ledger row (read from the embedded ledger: these databases hold no claims table rows)."""
    import csv

    from pulse import config

    with (config.SNAPSHOT_DIR / "claims.csv").open() as handle:
        row = next(r for r in csv.DictReader(handle) if r["id"] == cid)
    claims.load_modules()
    return claims.check(con, row)


def test_claims_without_probe_data_are_not_checkable(snapshot_db):
    con = database.open_read(snapshot_db)
    for cid in ("pt2-compile", "pt2-compile-fp32", "pt2-compile-amp", "keras3-bench"):
        verdict = _verdict(con, cid)
        assert verdict.status == claims.NOT_CHECKABLE and "probe" in verdict.measured


def test_cpu_only_measurement_says_it_is_not_the_a100(tmp_path, db_file):
    assert ingest(db_file, write(tmp_path, make_doc())).exit_code == 0
    con = database.open_read(db_file)
    verdict = _verdict(con, "pt2-compile")
    assert verdict.status == claims.NOT_CHECKABLE and "CPU" in verdict.measured and "A100" in verdict.measured
    assert "fp32 1.6x" in verdict.measured
    k3 = _verdict(con, "keras3-bench")
    assert k3.status == claims.NOT_CHECKABLE and "CPU" in k3.measured and "TensorFlow" in k3.measured


def test_gpu_measurement_checks_the_claims(tmp_path, db_file):
    write(tmp_path, make_doc(run_id="synthh1000001", device="cuda", device_name="NVIDIA H100 80GB HBM3", precisions=("fp32", "bf16")))
    assert ingest(db_file, tmp_path).exit_code == 0
    con = database.open_read(db_file)
    verdict = _verdict(con, "pt2-compile")
    # Not the A100 the claim names: only the direction is comparable, so at best partly supported.
    assert verdict.status == claims.PARTLY and "not the A100" in verdict.explanation and "1.6x" in verdict.measured
    con.close()  # DuckDB shares one instance per path within a process: reopen to see the swapped-in file
    write(tmp_path, make_doc(run_id="syntha100001", started_at="2026-11-22T09:00:00Z", device="cuda", device_name="NVIDIA A100-SXM4-80GB", precisions=("bf16",)))
    assert ingest(db_file, tmp_path).exit_code == 0
    con = database.open_read(db_file)
    verdict = _verdict(con, "pt2-compile")
    assert verdict.status == claims.SUPPORTED and "A100" in verdict.basis  # 1.60 within 25% of 1.43
    # Like for like: bf16 against the claim's AMP figure (1.51), and no fp32 result on the A100 to set against 1.21.
    assert _verdict(con, "pt2-compile-amp").status == claims.SUPPORTED
    assert _verdict(con, "pt2-compile-fp32").status == claims.NOT_CHECKABLE
    k3 = _verdict(con, "keras3-bench")
    # One workload: at best partly supported; the slowest compiled framework is 25/30 of the fastest.
    assert k3.status == claims.PARTLY and k3.value == pytest.approx(25 / 30, abs=1e-3)


# --- The page --------------------------------------------------------------------------------

def _page(monkeypatch, db: Path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PULSE_DB", str(db))
    if all((ROOT / "app_pages" / f"{p}.py").exists() for p in ("overview", "github", "claims", "data")):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.run()
        at.switch_page("app_pages/probe.py")
    else:  # this branch alone lacks the other pages app.py routes to
        at = AppTest.from_file(str(ROOT / "app_pages" / "probe.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def test_page_shows_snapshot_speedups_and_history(monkeypatch, loaded):
    at = _page(monkeypatch, loaded)
    assert at.title[0].value == "Training-speed probe"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["PyTorch bf16"] == "1.60x" and metrics["TensorFlow fp32"] == "2.67x"
    assert [m.label for m in at.metric] == ["PyTorch fp32", "PyTorch bf16", "TensorFlow fp32", "TensorFlow bf16"]
    assert len(at.get("plotly_chart")) == 4
    overview = at.dataframe[0].value
    assert len(overview) == 2  # one row per device
    table = at.dataframe[1].value
    assert len(table) == 10 and list(table["Framework"])[:4] == ["PyTorch"] * 4 and list(table["Mode"])[:2] == ["eager", "compiled"]
    assert any("as of 2026-11-21" in c.value for c in at.caption)
    assert at.button(key="probe_run_button").disabled  # PULSE_ALLOW_PROBE unset
    # Switch device: the CPU snapshot warns that it is a CPU.
    at.selectbox(key="probe_device").select("Synthetic CPU (cpu, synthetic-host)").run()
    assert any("CPU" in w.value for w in at.warning)
    assert {m.label for m in at.metric} == {"PyTorch fp32", "TensorFlow fp32"}


def test_page_without_data_explains_how_to_get_some(monkeypatch, snapshot_db):
    at = _page(monkeypatch, snapshot_db)
    assert sum("no data yet" in m.value for m in at.markdown) == 1 and not at.get("plotly_chart")
    assert any("pulse probe run" in m.value for m in at.markdown)
    assert at.button(key="probe_run_button").disabled


def test_run_button_starts_a_background_job_when_allowed(monkeypatch, snapshot_db, tmp_path):
    from ingest import probe_job

    started = []

    class FakeJob:
        def state(self):
            return {"running": True, "returncode": None, "done": 2, "total": 5, "current": "jax compiled fp32 cpu",
                    "result": None, "elapsed_s": 12.0, "budget_s": 30.0, "log_tail": []}

    monkeypatch.setenv("PULSE_ALLOW_PROBE", "1")
    monkeypatch.setattr(probe_job, "start", lambda db, budget, device="auto": started.append((db, budget)) or FakeJob())
    at = _page(monkeypatch, snapshot_db)
    assert not at.button(key="probe_run_button").disabled
    at.number_input(key="probe_budget").set_value(30).run()
    at.button(key="probe_run_button").click().run()
    assert started == [(snapshot_db, 30.0)]
    at.run()
    assert at.button(key="probe_run_button").disabled  # one run at a time, while the job is running
    assert "2/5 cases" in at.get("progress")[0].proto.text and "jax compiled fp32 cpu" in at.get("progress")[0].proto.text


def test_probe_job_runs_the_real_cli_in_the_background(monkeypatch, tmp_path, db_file):
    """start() launches `pulse probe run` detached; a bad option ends it with a non-zero code we can read."""
    from ingest import probe_job

    monkeypatch.setenv("PULSE_PROBE_DIR", str(tmp_path / "probe"))
    job = probe_job.start(db_file, 5, device="tpu")
    job.proc.wait(timeout=120)
    state = job.state()
    assert state["running"] is False and state["returncode"] != 0
    assert any("tpu" in line for line in state["log_tail"])


def test_docs_cover_schema_and_metrics():
    from probe import schema

    text = (ROOT / "docs" / "probe.md").read_text()
    missing = [p for p in schema.all_paths() if f"`{p}`" not in text]
    assert not missing, missing
    for metric in source.METRICS:
        assert f"`{metric}`" in text


def test_snapshot_keeps_other_frameworks_when_a_later_run_covers_only_some(tmp_path, db_file):
    write(tmp_path, make_doc(run_id="synthfull001", started_at="2026-11-20T10:00:00Z"))
    partial = make_doc(run_id="synthpt00001", started_at="2026-11-21T10:00:00Z", scale=2.0)
    partial["cases"] = [c for c in partial["cases"] if c["framework"] == "pytorch"]
    write(tmp_path, partial)
    assert ingest(db_file, tmp_path).exit_code == 0
    con = database.open_read(db_file)
    snap = analytics_probe.latest_snapshot(con).set_index(["framework", "mode"])
    assert len(snap) == 5
    assert snap.loc[("pytorch", "eager"), "run_id"] == "synthpt00001" and snap.loc[("pytorch", "eager"), "step_ms_median"] == 80.0
    assert snap.loc[("jax", "compiled"), "run_id"] == "synthfull001"
    overview = analytics_probe.latest_by_device(con)
    assert len(overview) == 1 and str(overview["latest run (UTC)"].iloc[0]) == "2026-11-21 10:00:00"


def test_one_clear_winner_contradicts_no_single_backend_is_fastest(tmp_path, db_file):
    # keras3-bench could never be contradicted before: with one compiled framework at a third of the
    # fastest one's throughput on the named GPU, "no single backend is fastest" is contradicted here.
    doc = make_doc(run_id="syntha100002", device="cuda", device_name="NVIDIA A100-SXM4-80GB", precisions=("bf16",))
    for case in doc["cases"]:
        if case["framework"] == "jax" and case["mode"] == "compiled":
            case["tokens_per_s"] = case["tokens_per_s"] / 3
    write(tmp_path, doc)
    assert ingest(db_file, tmp_path).exit_code == 0
    con = database.open_read(db_file)
    k3 = _verdict(con, "keras3-bench")
    assert k3.status == claims.CONTRADICTED and k3.value < 0.67
