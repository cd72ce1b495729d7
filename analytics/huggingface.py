"""Hugging Face Hub: series (best source per framework), the Hub page's charts and claim checks.

Two sources write the same metrics: `huggingface` (models API crawl, exact recount) and
`hub_stats` (a whole-Hub models.parquet snapshot). A chart never mixes them within one
framework's line: it takes, per framework, the source whose data reaches the latest date
(the API when tied), unless ChartOptions.extra["source"] names one.
"""

from __future__ import annotations


import duckdb
import pandas as pd
import plotly.graph_objects as go

from analytics import claims as _claims
from analytics.charts import ChartOptions, ChartResult, as_of, chart, color, empty_figure, style
from pulse import registry

SOURCE_LABELS = {
    "huggingface": "Hugging Face Hub API (models crawl, exact recount)",
    "hub_stats": "hub-stats models.parquet snapshot (cfahlgren1/hub-stats)",
}
SOURCE_ORDER = {"huggingface": 0, "hub_stats": 1}
PLACEHOLDER_DATE = pd.Timestamp("2022-03-02")
PLACEHOLDER_VARIANT = "created_before_2022_03_02"
PLACEHOLDER_NOTE = ("Repositories created before 2022-03-02 all report the same creation time on the Hub; "
                    "they are one bucket dated 2022-03-02, not models created that day.")
SHARE_BASES = {
    "default-frameworks": "among models tagged PyTorch, TensorFlow, JAX or Keras",
    "all-registry": "among models with any registry framework tag",
}
VIEWS = {"absolute": "cumulative (models existing)", "monthly": "added per month"}
SOURCE_CHOICES = {"auto": "latest per framework (API or snapshot)", "huggingface": SOURCE_LABELS["huggingface"],
                  "hub_stats": SOURCE_LABELS["hub_stats"]}


def hub_frameworks() -> list[str]:
    """Registry frameworks that have Hub tags (the page's choices)."""
    return [f.id for f in registry.frameworks().values() if f.hf_tags]


def observations(con: duckdb.DuckDBPyConnection, metric: str, frameworks: list[str], variant: str | None = "",
                 source: str = "auto") -> pd.DataFrame:
    """Stored points of one Hub metric, one source per framework (see module docstring)."""
    sql = ("SELECT date, framework, variant, value, source, subject, citation, retrieved_at, detail FROM observations "
           "WHERE source IN ('huggingface', 'hub_stats') AND metric = ? AND list_contains(?, framework)")
    params: list = [metric, frameworks]
    if variant is not None:
        sql += " AND variant = ?"
        params.append(variant)
    frame = con.execute(sql + " ORDER BY framework, date", params).df()
    frame["date"] = pd.to_datetime(frame["date"])
    if frame.empty:
        return frame
    if source != "auto":
        return frame[frame["source"] == source].reset_index(drop=True)
    latest = frame.groupby(["framework", "source"], as_index=False)["date"].max()
    latest["order"] = latest["source"].map(SOURCE_ORDER).fillna(9)
    best = latest.sort_values(["framework", "date", "order"], ascending=[True, False, True]).groupby("framework").head(1)
    keep = set(zip(best["framework"], best["source"], strict=True))
    mask = [(f, s) in keep for f, s in zip(frame["framework"], frame["source"], strict=True)]
    return frame[mask].reset_index(drop=True)


def _in_range(frame: pd.DataFrame, options: ChartOptions) -> pd.DataFrame:
    if options.start:
        frame = frame[frame["date"] >= pd.Timestamp(options.start)]
    if options.end:
        frame = frame[frame["date"] <= pd.Timestamp(options.end)]
    return frame


def _sources(frame: pd.DataFrame) -> list[str]:
    return sorted({SOURCE_LABELS.get(s, s) for s in frame["source"].dropna()})


def _line(fig: go.Figure, points: pd.DataFrame, fid: str, fmt: str, name: str | None = None) -> None:
    fig.add_trace(go.Scatter(
        x=points["date"], y=points["value"], name=name or registry.display_name(fid), mode="lines+markers" if len(points) < 40 else "lines",
        line={"color": color(fid)}, marker={"size": 4},
        customdata=list(zip(points["date"].dt.strftime("%Y-%m-%d"), points["source"].map(lambda s: SOURCE_LABELS.get(s, s)), strict=True)),
        hovertemplate=f"<b>{name or registry.display_name(fid)}</b><br>%{{customdata[0]}}<br>{fmt}<br>%{{customdata[1]}}<extra></extra>",
    ))


@chart("hf-models", "Hugging Face Hub models per framework", page="hub")
def models_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    """Models carrying each framework's Hub tags: cumulative, or added per month (view 'monthly')."""
    monthly = options.view == "monthly"
    source = options.extra.get("source", "auto")
    frame = observations(con, "hf_models_new" if monthly else "hf_models", options.frameworks, None if monthly else "", source)
    title = "Hugging Face Hub models per framework" + (" (added per month)" if monthly else " (cumulative)")
    transform = VIEWS["monthly" if monthly else "absolute"] + (", log scale" if options.log else "")
    notes = [PLACEHOLDER_NOTE, "Counts are of models on the Hub today (deleted models are gone) by the tags they carry today."]
    bucket = frame[frame["variant"] == PLACEHOLDER_VARIANT] if monthly else frame.iloc[0:0]
    frame = _in_range(frame[frame["variant"] == ""], options) if not frame.empty else frame
    if frame.empty:
        fig = empty_figure("No Hugging Face data yet: run `pulse ingest huggingface`.", options)
        return ChartResult(fig, frame, title, [], "no data", transform, notes)
    fig = go.Figure()
    for fid in options.frameworks:
        points = frame[frame["framework"] == fid]
        if not points.empty:
            _line(fig, points, fid, "%{y:,.0f} models")
    if monthly and not bucket.empty:
        text = ", ".join(f"{registry.display_name(r.framework)} {r.value:,.0f}" for r in bucket.itertuples())
        fig.add_annotation(text=f"Created before 2022-03-02 (one bucket, not a month): {text}", showarrow=False,
                           xref="paper", yref="paper", x=0, y=1.0, xanchor="left", yanchor="bottom", font={"size": 11})
        notes.append(f"Created before 2022-03-02 (not plotted as a month): {text}.")
    style(fig, title, options, "models added per month" if monthly else "models (cumulative)")
    data = pd.concat([frame, bucket])[["date", "framework", "variant", "value", "source", "subject", "citation"]]
    return ChartResult(fig, data.reset_index(drop=True), title, _sources(frame), as_of(frame["date"]), transform, notes)


@chart("hf-share", "Share of framework-tagged Hub models", page="hub")
def share_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    """Each framework's share of framework-tagged models, cumulative by creation month."""
    base = options.extra.get("base", "default-frameworks")
    frame = _in_range(observations(con, "hf_model_share", options.frameworks, base, options.extra.get("source", "auto")), options)
    title = "Share of framework-tagged Hugging Face models"
    transform = f"share {SHARE_BASES.get(base, base)}, cumulative"
    notes = ["A model with several framework tags counts for each; shares can sum past 100%.", PLACEHOLDER_NOTE]
    if frame.empty:
        fig = empty_figure("No Hugging Face share data yet: a complete crawl of the base frameworks is needed.", options)
        return ChartResult(fig, frame, title, [], "no data", transform, notes)
    fig = go.Figure()
    for fid in options.frameworks:
        points = frame[frame["framework"] == fid]
        if not points.empty:
            _line(fig, points, fid, "%{y:.1%}")
    style(fig, title, options, f"share {SHARE_BASES.get(base, base)}")
    fig.update_yaxes(tickformat=".0%")
    data = frame[["date", "framework", "variant", "value", "source", "subject", "citation"]].reset_index(drop=True)
    return ChartResult(fig, data, title, _sources(frame), as_of(frame["date"]), transform, notes)


def _claim_value(con: duckdb.DuckDBPyConnection, claim_id: str) -> float | None:
    row = con.execute("SELECT value FROM claims WHERE id = ?", [claim_id]).fetchone()
    return None if row is None or row[0] is None else float(row[0])


@chart("hf-tf-keras-also-pytorch", "TensorFlow/Keras models on the Hub also available for PyTorch", page="hub")
def also_pytorch_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    """Share of models tagged tf or keras that also carry pytorch, with the ledger's claim."""
    frame = _in_range(observations(con, "hf_tf_keras_models_also_pytorch", ["pytorch"], "", options.extra.get("source", "auto")), options)
    title = "Hub models tagged TensorFlow or Keras that also carry PyTorch"
    transform = "share, cumulative by creation month"
    notes = [PLACEHOLDER_NOTE]
    if frame.empty:
        fig = empty_figure("No data yet: crawl tensorflow and keras (`pulse ingest huggingface --framework tensorflow --framework keras`).", options)
        return ChartResult(fig, frame, title, [], "no data", transform, notes)
    fig = go.Figure()
    _line(fig, frame, "pytorch", "%{y:.1%}", name="also on PyTorch")
    claimed = _claim_value(con, "seed-hf-64")
    if claimed is not None:
        fig.add_hline(y=claimed, line_dash="dash", line_color="#888888",
                      annotation_text=f"claim: {claimed:.0%} (seed-hf-64)", annotation_position="top left")
        notes.append(f"Dashed line: the ledger's claim seed-hf-64 ({claimed:.0%}).")
    style(fig, title, options, "share of tf/keras models")
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    data = frame[["date", "framework", "value", "source", "subject", "citation"]].reset_index(drop=True)
    return ChartResult(fig, data, title, _sources(frame), as_of(frame["date"]), transform, notes)


@chart("hf-libraries", "Hub models by library_name (hub-stats snapshot)", page="hub")
def libraries_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    """Models per library_name at the latest hub-stats snapshot, per chosen framework."""
    frame = observations(con, "hf_models_by_library", options.frameworks, None, "hub_stats")
    title = "Hub models by library_name"
    transform = "count at the latest snapshot"
    if frame.empty:
        fig = empty_figure("No library_name data: load a hub-stats file with a library_name column (--hub-stats).", options)
        return ChartResult(fig, frame, title, [], "no data", transform, [])
    frame = frame[frame["date"] == frame["date"].max()]
    fig = go.Figure()
    for fid in options.frameworks:
        points = frame[frame["framework"] == fid].sort_values("value", ascending=False)
        if not points.empty:
            fig.add_trace(go.Bar(x=points["variant"], y=points["value"], name=registry.display_name(fid),
                                 marker_color=color(fid), hovertemplate="%{x}: %{y:,.0f} models<extra></extra>"))
    style(fig, title, options, "models")
    fig.update_layout(barmode="group")
    data = frame[["date", "framework", "variant", "value", "source", "citation"]].rename(columns={"variant": "library_name"})
    return ChartResult(fig, data.reset_index(drop=True), title, _sources(frame), as_of(frame["date"]), transform,
                       ["'(other)' sums the libraries after the 12 largest; '(none)' = no library_name."])


def data_status(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Where the Hub data stands: each API crawl tag and the latest hub-stats load."""
    rows = []
    if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'hf_crawl'").fetchone()[0]:
        for tag, status, pages, models, skipped, completed, updated in con.execute(
                "SELECT tag, status, pages, models, skipped, completed_at, updated_at FROM hf_crawl ORDER BY tag").fetchall():
            rows.append({"data": f"API crawl of tag '{tag}'", "status": status, "pages": pages, "models listed": models,
                         "malformed skipped": skipped, "as of": str((completed or updated).date())})
    snapshot = con.execute(
        "SELECT max(date), max(retrieved_at) FROM observations WHERE source = 'hub_stats' AND metric = 'hf_models_total'").fetchone()
    if snapshot[0] is not None:
        rows.append({"data": "hub-stats models.parquet snapshot", "status": "loaded", "pages": None, "models listed": None,
                     "malformed skipped": None, "as of": str(snapshot[0])})
    return pd.DataFrame(rows)


# --- Claim checks ---------------------------------------------------------------------------

HUB_CLAIM_METRICS = {
    "hf_tf_keras_models_also_pytorch": ("share of models tagged tf or keras that also carry pytorch", "share", ""),
    "hf_model_share": ("share of framework-tagged models", "share", None),
    "hf_models_total": ("models on the Hub", "count", ""),
    "hf_models": ("models carrying the framework's Hub tags (cumulative)", "count", ""),
    "hf_models_by_library": ("models by library_name and framework tag", "count", None),
}


@_claims.provides(*HUB_CLAIM_METRICS)
def claim_hub(con: duckdb.DuckDBPyConnection, spec: _claims.Spec) -> _claims.Series:
    """Hub counts and shares (one source per framework); a month not over at retrieval is incomplete."""
    words, unit, variant = HUB_CLAIM_METRICS[spec.metric]
    if variant is None:
        variant = spec.basis or "default-frameworks"
    frame = observations(con, spec.metric, spec.frameworks, variant, "hub_stats" if spec.metric == "hf_models_by_library" else "auto")
    subject_basis = ""
    if spec.basis and spec.metric in ("hf_models", "hf_tf_keras_models_also_pytorch"):
        # The subject on its own basis (e.g. PyTorch 'tag or loadable'), the others on their tags.
        own = observations(con, spec.metric, [spec.subject], spec.basis)
        if not own.empty:
            frame = pd.concat([frame[frame["framework"] != spec.subject], own], ignore_index=True)
            subject_basis = f"; {registry.display_name(spec.subject)} counted as '{spec.basis}'"
        else:
            subject_basis = f"; no '{spec.basis}' series stored, so {registry.display_name(spec.subject)} is counted by its tag"
    if frame.empty:
        raise _claims.NotCheckable(f"No Hugging Face {words} stored" + (f" (variant '{variant}')" if variant else "") + ".")
    retrieved = pd.to_datetime(frame["retrieved_at"]).min().normalize()
    sources = "; ".join(_sources(frame))
    basis = f"{spec.metric}" + (f" ({variant})" if variant else "") + "; counts of models on the Hub at retrieval, by creation date (deleted models are gone)"
    basis += subject_basis
    if spec.metric == "hf_model_share":
        basis += "; a model with several framework tags counts for each"
    return _claims.Series(frame[["date", "framework", "value"]], f"Hugging Face {words}", sources, unit, basis=basis,
                          complete_until=retrieved - pd.Timedelta(days=1) if spec.metric != "hf_models_by_library" else None,
                          page="/hub")


def hub_verdicts(con: duckdb.DuckDBPyConnection) -> list[tuple[dict, _claims.Verdict]]:
    """The Hub claims of the ledger with their verdicts (for the Hub page)."""
    # Figure claims only (their value is a share or a count the page can show as a metric).
    return [(claim, _claims.check(con, claim)) for claim in _claims.load_claims(con)
            if claim.get("metric") in HUB_CLAIM_METRICS and claim.get("comparison") in ("about", "at_least", "at_most")]
