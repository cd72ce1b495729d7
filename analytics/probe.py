"""Training-speed probe: latest snapshot per device, compiled-vs-eager speed-ups, history,
their charts, and the checks of the speed claims (keras3-bench, pt2-compile)."""

from __future__ import annotations

import duckdb
import pandas as pd
import plotly.graph_objects as go

from analytics import claims as _claims
from analytics.charts import ChartOptions, ChartResult, chart, color, empty_figure, style
from pulse import db, registry

SOURCE = "Framework Pulse training-speed probe (python -m probe; docs/probe.md)"
FRAMEWORKS = ("pytorch", "tensorflow", "jax")
COMPILED_BY = {"pytorch": "torch.compile", "tensorflow": "tf.function(jit_compile=True)", "jax": "jax.jit"}


def has_data(con: duckdb.DuckDBPyConnection) -> bool:
    return db.table_exists(con, "probe_cases") and con.execute("SELECT count(*) FROM probe_cases WHERE status = 'ok'").fetchone()[0] > 0


def cases(con: duckdb.DuckDBPyConnection, *, ok_only: bool = True) -> pd.DataFrame:
    """Every stored case with its run's time, host and config; `device_label` names the hardware."""
    if not db.table_exists(con, "probe_cases"):
        return pd.DataFrame(columns=["run_id", "framework", "mode", "precision", "device", "device_label", "started_at"])
    frame = con.execute(
        "SELECT c.*, r.started_at, r.host, r.config_name, r.tf32, r.raw_file FROM probe_cases c JOIN probe_runs r USING (run_id) "
        + ("WHERE c.status = 'ok' " if ok_only else "") + "ORDER BY r.started_at, c.framework, c.mode, c.precision"
    ).df()
    frame["device_label"] = [f"{name or dev} ({dev}, {host})" for name, dev, host in zip(frame["device_name"], frame["device"], frame["host"], strict=True)]
    frame["case"] = frame["framework"].map(registry.display_name) + " " + frame["mode"] + " " + frame["precision"]
    return frame


def devices(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Device labels, most recently probed first."""
    return device_labels(cases(con))


def device_labels(frame: pd.DataFrame) -> list[str]:
    """The device labels of `cases()` rows, most recently probed first."""
    if frame.empty:
        return []
    return list(frame.groupby("device_label")["started_at"].max().sort_values(ascending=False).index)


def latest_snapshot(con: duckdb.DuckDBPyConnection, device_label: str | None = None) -> pd.DataFrame:
    """Per device (or one device), the latest successful result of each framework, mode and precision.

    A run of only some frameworks does not hide the others' latest results; `run_id` says which
    run each row comes from.
    """
    return latest_of(cases(con), device_label)


def latest_of(frame: pd.DataFrame, device_label: str | None = None) -> pd.DataFrame:
    """latest_snapshot() of already-read `cases()` rows."""
    if device_label:
        frame = frame[frame["device_label"] == device_label]
    if frame.empty:
        return frame
    keys = ["device_label", "framework", "mode", "precision"]
    latest = frame.groupby(keys)["started_at"].transform("max")
    return frame[frame["started_at"] == latest].reset_index(drop=True)


def latest_by_device(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per device: its latest run's time and the latest tokens/s of each framework, mode and precision."""
    frame = latest_snapshot(con)
    if frame.empty:
        return frame
    wide = frame.pivot_table(index="device_label", columns="case", values="tokens_per_s", aggfunc="last").round(0)
    wide.columns.name = None
    wide.insert(0, "latest run (UTC)", frame.groupby("device_label")["started_at"].max())
    return wide.reset_index().sort_values("latest run (UTC)", ascending=False).rename(columns={"device_label": "device"})


def speedups(frame: pd.DataFrame) -> pd.DataFrame:
    """Compiled over eager tokens/s, per run, device, framework and precision (JAX has no eager)."""
    if frame.empty:
        return pd.DataFrame(columns=["run_id", "device_label", "framework", "precision", "eager_tokens_per_s", "compiled_tokens_per_s", "speedup", "started_at"])
    keys = ["run_id", "device_label", "framework", "precision", "started_at"]
    wide = frame.pivot_table(index=keys, columns="mode", values="tokens_per_s", aggfunc="last").reset_index()
    if not {"eager", "compiled"} <= set(wide.columns):
        return speedups(frame.iloc[0:0])
    wide = wide.dropna(subset=["eager", "compiled"]).rename(columns={"eager": "eager_tokens_per_s", "compiled": "compiled_tokens_per_s"})
    wide["speedup"] = wide["compiled_tokens_per_s"] / wide["eager_tokens_per_s"]
    wide.columns.name = None
    return wide[["run_id", "device_label", "framework", "precision", "eager_tokens_per_s", "compiled_tokens_per_s", "speedup", "started_at"]]


def _device_cases(con, options: ChartOptions) -> tuple[str | None, pd.DataFrame]:
    """The chosen (else the latest) device and every case, read once per chart."""
    frame = cases(con)
    chosen = options.extra.get("device")
    known = device_labels(frame)
    return (chosen if chosen in known else (known[0] if known else None)), frame


def _as_of(frame: pd.DataFrame) -> str:
    return str(pd.to_datetime(frame["started_at"]).max().date()) if not frame.empty else "no data"


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a stable reading order: framework (registry order), precision, eager before compiled."""
    if frame.empty:
        return frame
    ranks = {"framework": {f: i for i, f in enumerate(FRAMEWORKS)}, "precision": {"fp32": 0, "bf16": 1}, "mode": {"eager": 0, "compiled": 1}}
    present = [c for c in ranks if c in frame.columns]
    keys = frame.assign(**{f"_{c}": frame[c].map(ranks[c]) for c in present})
    return keys.sort_values([f"_{c}" for c in present]).drop(columns=[f"_{c}" for c in present]).reset_index(drop=True)


def _legend_right(fig: go.Figure) -> go.Figure:
    # Many series: a legend above the plot would wrap into the title.
    fig.update_layout(legend={"orientation": "v", "yanchor": "top", "y": 1.0, "x": 1.02, "xanchor": "left"}, margin={"r": 200})
    return fig


def _bars(frame: pd.DataFrame, value: str, fmt: str) -> go.Figure:
    fig = go.Figure()
    frame = ordered(frame)
    for (fw, mode), part in frame.groupby(["framework", "mode"], sort=False):
        fig.add_trace(go.Bar(
            x=part["precision"].map(lambda p, fw=fw: f"{registry.display_name(fw)} {p}"), y=part[value],
            name=f"{registry.display_name(fw)} {mode}", marker={"color": color(fw), "pattern": {"shape": "/" if mode == "eager" else ""}},
            hovertemplate=f"%{{x}} {mode}<br>{fmt}<extra></extra>",
        ))
    fig.update_layout(barmode="group")
    return fig


@chart("probe-throughput", "Training throughput by framework and mode (latest probe)", page="probe")
def throughput_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    device, everything = _device_cases(con, options)
    frame = latest_of(everything, device) if device else everything
    title = f"Training throughput, latest probe on {device}" if device else "Training throughput"
    if frame.empty:
        return ChartResult(empty_figure("No probe results yet: run `pulse probe run`.", options), frame, title, [], "no data")
    fig = _legend_right(style(_bars(frame, "tokens_per_s", "%{y:,.0f} tokens/s"), title, options, "tokens/s (median step)"))
    data = frame[["run_id", "started_at", "device_label", "framework", "mode", "precision", "tokens_per_s", "step_ms_median", "step_ms_q1", "step_ms_q3"]]
    notes = [f"Run(s) {', '.join(sorted(frame['run_id'].unique()))}; median of {int(frame['timed_steps'].min())}+ timed steps after warm-up; hatched bars are eager."]
    return ChartResult(fig, data.reset_index(drop=True), title, [SOURCE], _as_of(frame), "absolute", notes)


@chart("probe-mfu", "Model FLOPs utilisation by framework and mode (latest probe)", page="probe")
def mfu_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    device, everything = _device_cases(con, options)
    frame = latest_of(everything, device) if device else everything
    title = f"MFU, latest probe on {device}" if device else "MFU"
    frame = frame.dropna(subset=["mfu"]) if not frame.empty else frame
    if frame.empty:
        return ChartResult(empty_figure("No MFU: no probe results, or no known peak for this device.", options), frame, title, [], "no data")
    estimated = bool(frame["peak_estimated"].fillna(False).any())
    if estimated:
        title += " (against an ESTIMATED CPU peak)"
    fig = _legend_right(style(_bars(frame, "mfu", "%{y:.2%}"), title, options, "MFU (achieved / peak FLOP/s)"))
    fig.update_yaxes(tickformat=".1%")
    notes = [f"Peak: {frame['peak_source'].iloc[0]}; FLOPs = 6N + attention (analytic)."]
    if estimated:
        notes.append("CPU peak estimated from cores x clock x SIMD width: indicative only, not a datasheet figure.")
    data = frame[["run_id", "started_at", "device_label", "framework", "mode", "precision", "mfu", "achieved_tflops", "peak_tflops", "peak_source", "peak_estimated"]]
    return ChartResult(fig, data.reset_index(drop=True), title, [SOURCE], _as_of(frame), "absolute", notes)


@chart("probe-speedup", "Compiled vs eager speed-up per framework (latest probe)", page="probe")
def speedup_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    device, everything = _device_cases(con, options)
    frame = ordered(speedups(latest_of(everything, device) if device else everything))
    title = f"Compiled / eager throughput, latest probe on {device}" if device else "Compiled / eager throughput"
    if frame.empty:
        return ChartResult(empty_figure("No framework has both an eager and a compiled result yet.", options), frame, title, [], "no data")
    fig = go.Figure()
    for fw, part in frame.groupby("framework", sort=False):
        fig.add_trace(go.Bar(x=[f"{registry.display_name(fw)} {p}" for p in part["precision"]], y=part["speedup"], name=registry.display_name(fw),
                             marker={"color": color(fw)}, text=[f"{v:.2f}x" for v in part["speedup"]], textposition="outside",
                             hovertemplate="%{x}: %{y:.2f}x<extra></extra>"))
    fig.add_hline(y=1.0, line_dash="dot", annotation_text="no speed-up")
    style(fig, title, options, "compiled tokens/s / eager tokens/s")
    notes = ["Above 1: the compiled (static-graph) step is faster. JAX is timed under jit only, so it has no bar."]
    notes += [f"Compiled = {', '.join(f'{registry.display_name(k)}: {v}' for k, v in COMPILED_BY.items())}."]
    return ChartResult(fig, frame.reset_index(drop=True), title, [SOURCE], _as_of(frame), "ratio", notes)


@chart("probe-history", "Probe throughput over time", page="probe")
def history_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    device, frame = _device_cases(con, options)
    frame = frame[frame["device_label"] == device] if device else frame
    frame = frame[frame["framework"].isin(options.frameworks)] if options.frameworks else frame
    title = f"Probe throughput over time on {device}" if device else "Probe throughput over time"
    if frame.empty:
        return ChartResult(empty_figure("No probe history for this device.", options), frame, title, [], "no data")
    fig = go.Figure()
    for (fw, mode, prec), part in frame.groupby(["framework", "mode", "precision"], sort=False):
        fig.add_trace(go.Scatter(x=part["started_at"], y=part["tokens_per_s"], name=f"{registry.display_name(fw)} {mode} {prec}", mode="lines+markers",
                                 line={"color": color(fw), "dash": "dot" if mode == "eager" else "solid"},
                                 hovertemplate="%{x}<br>%{y:,.0f} tokens/s<extra></extra>"))
    _legend_right(style(fig, title, options, "tokens/s (median step)"))
    data = frame[["run_id", "started_at", "device_label", "framework", "mode", "precision", "tokens_per_s", "step_ms_median"]]
    return ChartResult(fig, data.reset_index(drop=True), title, [SOURCE], _as_of(frame), options.transform_label(), ["Dotted lines are eager."])


# --- Claim checks ---------------------------------------------------------------------------

def _preferred(frame: pd.DataFrame, want: str | None = None) -> tuple[pd.DataFrame, str]:
    """Latest results on the hardware that best matches the claim: the named GPU, any GPU, else CPU."""
    if want:
        named = frame[frame["device_name"].fillna("").str.contains(want, case=False)]
        if not named.empty:
            return named, "named"
    gpu = frame[frame["device"] == "cuda"]
    if not gpu.empty:
        return gpu, "gpu"
    return frame, "cpu"


def _latest_run(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["run_id"] == frame.sort_values("started_at")["run_id"].iloc[-1]]


def _named_device(spec: _claims.Spec) -> str | None:
    """The accelerator a claim names (e.g. 'A100' in 'on an A100'), to prefer results on it."""
    for word in spec.claim.replace(",", " ").split():
        if word[:1] in "AHBLV" and word[1:].isdigit():
            return word
    return None


def _on_claimed_hardware(frame: pd.DataFrame, spec: _claims.Spec, measured: str) -> tuple[pd.DataFrame, str | None, str]:
    want = _named_device(spec)
    subset, match = _preferred(frame, want)
    if match == "cpu":
        raise _claims.NotCheckable(f"{measured}: measured on a CPU, not the {want or 'GPU'} the claim names: not comparable.")
    cap = None if match == "named" else _claims.PARTLY
    reason = "" if match == "named" else f"Measured on {subset['device_label'].iloc[-1]}, not the {want} the claim names: only the direction is comparable, so at best partly supported."
    return subset, cap, reason


@_claims.provides("compile_speedup")
def claim_speedup(con: duckdb.DuckDBPyConnection, spec: _claims.Spec) -> _claims.Series:
    """Compiled/eager tokens/s of the probe per run: fp32, bf16, or their mean ('mean of fp32 and bf16')."""
    frame = cases(con)
    ratios = speedups(frame[frame["framework"] == spec.subject]) if not frame.empty else speedups(frame)
    if ratios.empty:
        raise _claims.NotCheckable(f"No {registry.display_name(spec.subject)} eager and compiled probe results stored.")
    ratios = ratios.merge(frame[["run_id", "device", "device_name"]].drop_duplicates("run_id"), on="run_id")
    parts = ", ".join(f"{r.precision} {_claims.fmt_ratio(r.speedup)}" for r in ratios[ratios["run_id"] == ratios["run_id"].iloc[-1]].itertuples())
    subset, cap, reason = _on_claimed_hardware(ratios, spec, f"Compiled vs eager on the probe's GPT: {parts}")
    if spec.basis in ("fp32", "bf16"):
        picked = subset[subset["precision"] == spec.basis]
        if picked.empty:
            raise _claims.NotCheckable(f"No {spec.basis} compiled and eager results on that device.")
        per_run = picked.groupby("started_at", as_index=False)["speedup"].mean()
    else:
        per_run = subset.groupby("started_at", as_index=False)["speedup"].mean()
    per_run = per_run.rename(columns={"started_at": "date", "speedup": "value"}).assign(framework=spec.subject)
    return _claims.Series(per_run, "compiled/eager training throughput", SOURCE + f", {subset['device_label'].iloc[-1]}", "ratio",
                          basis=f"probe_cases: {COMPILED_BY.get(spec.subject, 'compiled')} vs eager tokens/s, "
                                f"{spec.basis or 'mean of the precisions measured'}; one small GPT, not the claim's 163 models",
                          cap=cap, cap_reason=reason, page="/probe")


@_claims.provides("training_step_ms")
def claim_compiled_throughput(con: duckdb.DuckDBPyConnection, spec: _claims.Spec) -> _claims.Series:
    """Compiled tokens/s per framework (bf16 when measured), per run: one workload, so at best partly."""
    frame = cases(con)
    if frame.empty:
        raise _claims.NotCheckable("No probe results stored.")
    compiled = frame[(frame["mode"] == "compiled") & frame["framework"].isin(spec.frameworks)]
    prec = "bf16" if "bf16" in set(compiled["precision"]) else "fp32"
    compiled = compiled[compiled["precision"] == prec]
    if compiled["framework"].nunique() < 2:
        raise _claims.NotCheckable("The stored probe runs have fewer than two compiled frameworks.")
    last = compiled[compiled["run_id"] == compiled.sort_values("started_at")["run_id"].iloc[-1]].sort_values("tokens_per_s", ascending=False)
    ranking = " > ".join(f"{registry.display_name(r.framework)} {r.tokens_per_s:,.0f}" for r in last.itertuples())
    subset, cap, reason = _on_claimed_hardware(compiled, spec, f"Compiled {prec} tokens/s: {ranking}")
    one_workload = "One workload cannot show that each backend wins some of five: at best partly supported."
    data = subset.groupby(["started_at", "framework"], as_index=False)["tokens_per_s"].mean().rename(
        columns={"started_at": "date", "tokens_per_s": "value"})
    return _claims.Series(data, f"compiled {prec} training tokens/s", SOURCE + f", {subset['device_label'].iloc[-1]}", "count",
                          basis="probe_cases: compiled modes (torch.compile, tf.function XLA, jax.jit); one workload, not five",
                          cap=_claims.PARTLY, cap_reason=(reason + " " + one_workload).strip(), page="/probe")
