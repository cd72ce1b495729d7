"""Probe: training speed of the same small GPT in PyTorch, TensorFlow/Keras and JAX on real hardware."""

import pandas as pd
import streamlit as st

from analytics import formatting, probe
from analytics.charts import CHARTS, ChartOptions, catalog
from app_pages._common import connection, data_version, db_path, empty_state, show_chart, show_table, theme
from ingest import probe_job
from pulse import registry

st.title("Training-speed probe")
st.caption("The same nanoGPT-style model, data, optimiser and loss in every framework; eager vs compiled, "
           "fp32 vs bf16, timed on the machine that ran it. Method and schema: docs/probe.md.")


@st.cache_data(ttl=300)
def load(version) -> tuple[list[str], pd.DataFrame]:
    frame = probe.cases(connection())
    return probe.device_labels(frame), frame


devices, all_cases = load(data_version())

# --- Run probe now -------------------------------------------------------------------------
with st.expander("Run probe now", expanded=not devices):
    allowed = probe_job.allowed()
    job = st.session_state.get("probe_job")
    running = bool(job and job.state()["running"])
    # One probe per server: a run started from another session (or a terminal) holds the lock.
    elsewhere = probe_job.running() if allowed and not running else None
    budget = st.number_input("Time budget (seconds)", min_value=10, max_value=1800, value=60, step=10, key="probe_budget", disabled=not allowed)
    if st.button("Run probe now", key="probe_run_button", disabled=not allowed or running or elsewhere is not None, type="primary"):
        try:
            st.session_state["probe_job"] = probe_job.start(db_path(), float(budget))
            job, running = st.session_state["probe_job"], True
        except probe_job.ProbeBusy as exc:
            st.warning(str(exc))
    if elsewhere is not None:
        st.info(f"A probe run is in progress on this server ({probe_job.describe(elsewhere)}); "
                "the button comes back when it ends.")
    if not allowed:
        st.caption("Off on this server: a probe run uses every CPU core (or the GPU) for the whole budget. "
                   f"An operator can enable it with `{probe_job.ENABLE_VAR}=1`; or run `pulse probe run` in a terminal.")

    if job:
        @st.fragment(run_every=2 if running else None)
        def progress():
            state = job.state()
            total = state["total"] or 1
            label = f"{state['done']}/{state['total'] or '?'} cases, {state['elapsed_s']:.0f}s of {state['budget_s']:.0f}s budget"
            if state["current"]:
                label += f": running {state['current']}"
            st.progress(min(state["done"] / total, 1.0), text=label)
            if not state["running"]:
                if state["returncode"] == 0:
                    st.success(f"Probe finished and loaded: {state['result']}")
                else:
                    st.error(f"The probe stopped with code {state['returncode']}: " + " / ".join(state["log_tail"][-3:]))
                if st.session_state.get("probe_reloaded") != id(job):
                    st.session_state["probe_reloaded"] = id(job)
                    load.clear()
                    st.rerun()

        progress()

if not devices:
    empty_state("Training-speed probe", "This page will show tokens/s, MFU and the compiled-vs-eager speed-up of the "
                "same small GPT in PyTorch, TensorFlow/Keras and JAX on each machine that ran the probe, and their history.",
                "run `pulse probe run` (or `python -m probe` on any machine, then `pulse ingest probe FILE`), or the "
                "**Run probe now** button above where it is enabled.", ("training_", "compile_", "probe_"), key="probe_empty")
    st.stop()

# --- Every device, then one ---------------------------------------------------------------------
st.subheader("Latest results on each device (tokens/s)")
show_table(probe.latest_by_device(connection()), key="probe_latest_by_device")
st.caption(f"Source: {probe.SOURCE}; one row per device, the latest result of each case. Higher is faster.")

requested = st.query_params.get("device")
device = st.selectbox("Device", devices, index=devices.index(requested) if requested in devices else 0, key="probe_device")
st.query_params["device"] = device
options = ChartOptions(frameworks=list(probe.FRAMEWORKS), theme=theme(), extra={"device": device})
con = connection()
snapshot = probe.ordered(probe.latest_of(all_cases, device))
as_of = str(pd.Timestamp(snapshot["started_at"].max()).date())
if (snapshot["device"] == "cpu").all():
    st.warning("These results are from a CPU with the tiny CPU-sized model: they say how the frameworks' overheads "
               "compare on this host, not how they train on a GPU.")

st.subheader("Latest snapshot")
table = snapshot.assign(
    Framework=snapshot["framework"].map(registry.display_name), Mode=snapshot["mode"], Precision=snapshot["precision"],
    **{"tokens/s": snapshot["tokens_per_s"].round(0), "step ms (median)": snapshot["step_ms_median"].round(2),
       "IQR ms": (snapshot["step_ms_q3"] - snapshot["step_ms_q1"]).round(2),
       "MFU": [("n/a" if pd.isna(v) else f"{v:.1%}" + (" (est.)" if e else "")) for v, e in zip(snapshot["mfu"], snapshot["peak_estimated"].fillna(False), strict=True)],
       "compile s": snapshot["compile_s"].round(1), "first step s": snapshot["time_to_first_step_s"].round(1),
       "version": snapshot["framework_version"]},
)[["Framework", "Mode", "Precision", "tokens/s", "step ms (median)", "IQR ms", "MFU", "compile s", "first step s", "version"]]
show_table(table, key="probe_snapshot")
st.caption(f"Source: {probe.SOURCE} · latest result of each case on this device, from run(s) "
           f"{', '.join(sorted(snapshot['run_id'].unique()))} · as of {as_of}")

st.subheader("Is the compiled (static-graph) step faster?")
st.caption("Compiled tokens/s divided by eager tokens/s, same framework, precision and device; above 1x the compiled step is faster.")
ratios = probe.ordered(probe.speedups(snapshot))
cols = st.columns(max(len(ratios), 1))
for col, row in zip(cols, ratios.itertuples(), strict=False):
    col.metric(f"{registry.display_name(row.framework)} {row.precision}", formatting.ratio(row.speedup),
               help=f"Compiled vs eager: {formatting.number(row.compiled_tokens_per_s)} vs {formatting.number(row.eager_tokens_per_s)} "
                    f"tokens/s ({probe.SOURCE}, {formatting.as_of(as_of)})")
catalog()
for name in ("probe-speedup", "probe-throughput", "probe-mfu"):
    show_chart(CHARTS[name].builder(con, options), key=name)

st.subheader("History")
chosen = st.multiselect("Frameworks", list(probe.FRAMEWORKS), default=list(probe.FRAMEWORKS), format_func=registry.display_name, key="probe_history_frameworks")
show_chart(CHARTS["probe-history"].builder(con, ChartOptions(frameworks=chosen, theme=theme(), extra={"device": device})), key="probe-history")

with st.expander("Skipped and failed cases"):
    con_cases = probe.cases(con, ok_only=False)
    latest_run = snapshot.sort_values("started_at")["run_id"].iloc[-1]
    problems = con_cases[(con_cases["status"] != "ok") & (con_cases["run_id"] == latest_run)]
    if problems.empty:
        st.write(f"No skipped or failed cases in the latest run on this device ({latest_run}).")
    else:
        show_table(problems, ["framework", "mode", "precision", "device", "status", "reason"], key="probe_problems")
