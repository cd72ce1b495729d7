"""Papers with Code archive: implementation shares per quarter, the Trends chart, top repos, claim checks."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import plotly.graph_objects as go

from analytics import claims as _claims
from analytics.charts import ChartOptions, ChartResult, chart, color, empty_figure, style
from pulse import registry

SOURCE = "paperswithcode"
SOURCE_LABEL = "Papers with Code archive (Hugging Face Hub, pwc-archive)"
VARIANTS = {
    "all": "share of all implementations",
    "known": "share of implementations with a known framework",
    "official": "share of official implementations",
}
# The Trends chart starts at the first quarter with at least this many dated implementations:
# earlier quarters hold a handful of old papers and their shares swing wildly.
MIN_BASE = 100
OTHER, NONE = "other", "none"
SERIES_LABELS = {OTHER: "Other frameworks", NONE: "No framework"}
SERIES_COLORS = {OTHER: "#BBBBBB", NONE: "#E5E5E5"}


def quarter_label(date) -> str:
    ts = pd.Timestamp(date)
    return f"{ts.year}-Q{ts.quarter}"


def label(series: str) -> str:
    return SERIES_LABELS.get(series) or registry.display_name(series)


def has_data(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM observations WHERE source = ? LIMIT 1", [SOURCE]).fetchone()[0])


def share_frame(con: duckdb.DuckDBPyConnection, variant: str = "all", metric: str = "pwc_implementation_share") -> pd.DataFrame:
    """Stored shares of one variant: date, framework, value, count, base, complete, citation."""
    frame = con.execute(
        """
        SELECT date, framework, value,
               CAST(json_extract(detail, '$.count') AS BIGINT) AS count,
               CAST(json_extract(detail, '$.base') AS BIGINT) AS base,
               CAST(json_extract(detail, '$.complete') AS BOOLEAN) AS complete,
               citation, retrieved_at
        FROM observations WHERE source = ? AND metric = ? AND variant = ? ORDER BY date, framework
        """,
        [SOURCE, metric, variant],
    ).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def archive_end(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The last paper date in the archive (from the raw table), else the last quarter stored."""
    try:
        value = con.execute("SELECT max(date) FROM pwc_papers WHERE date <= current_date").fetchone()[0]
    except duckdb.Error:
        value = None
    if value is None:
        value = con.execute("SELECT max(date) FROM observations WHERE source = ?", [SOURCE]).fetchone()[0]
    return value


def grouped_shares(frame: pd.DataFrame, frameworks: list[str]) -> pd.DataFrame:
    """Chosen frameworks as their own series; the rest summed into 'other' (and 'none' kept apart)."""
    if frame.empty:
        return frame.assign(series=[])
    series = frame["framework"].where(frame["framework"].isin(frameworks) | (frame["framework"] == NONE), OTHER)
    out = (
        frame.assign(series=series)
        .groupby(["date", "series"], as_index=False)
        .agg(value=("value", "sum"), count=("count", "sum"), base=("base", "first"), complete=("complete", "first"))
    )
    out["quarter"] = out["date"].map(quarter_label)
    return out


def _window(frame: pd.DataFrame, options: ChartOptions) -> pd.DataFrame:
    if frame.empty:
        return frame
    start = pd.Timestamp(options.start) if options.start else None
    if start is None:
        big = frame.loc[frame["base"] >= MIN_BASE, "date"]
        start = big.min() if not big.empty else frame["date"].min()
    frame = frame[frame["date"] >= start]
    if options.end:
        frame = frame[frame["date"] <= pd.Timestamp(options.end)]
    return frame


@chart("pwc-implementation-share", "Papers with Code: framework share of paper implementations", page="papers")
def implementation_share_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    """Stacked area per quarter like the old PwC Trends chart; options.extra['variant'] picks the base."""
    variant = options.extra.get("variant", "all")
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant '{variant}'; choose one of {', '.join(VARIANTS)}")
    title = f"Paper implementations by framework ({VARIANTS[variant]}, per quarter)"
    frame = _window(share_frame(con, variant), options)
    if frame.empty:
        fig = empty_figure("No Papers with Code data yet: run `pulse ingest paperswithcode`.", options)
        return ChartResult(fig, frame, title, [], "no data", VARIANTS[variant])
    data = grouped_shares(frame, options.frameworks)
    order = [f for f in options.frameworks if f in set(data["series"])] + [s for s in (OTHER, NONE) if s in set(data["series"])]
    fig = go.Figure()
    for series in order:
        points = data[data["series"] == series]
        fig.add_trace(go.Scatter(
            x=points["date"], y=points["value"], name=label(series), mode="lines", stackgroup="share",
            line={"width": 0.5, "color": SERIES_COLORS.get(series) or color(series)},
            customdata=list(zip(points["quarter"], points["count"], points["base"], strict=True)),
            hovertemplate=f"<b>{label(series)}</b><br>%{{customdata[0]}}: %{{y:.1%}}<br>%{{customdata[1]:,}} of %{{customdata[2]:,}} implementations<extra></extra>",
        ))
    style(fig, title, options, "share of implementations")
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    fig.update_layout(hovermode="x unified")
    notes = [f"Quarter = the paper's publication date (links joined to papers on paper_url); chart starts at the first quarter with at least {MIN_BASE} implementations unless a start date is chosen."]
    last = data["date"].max()
    end = archive_end(con)
    end_text = f"archive frozen (last paper {end})" if end else "archive frozen"
    fig.add_vline(x=last, line_dash="dash", line_color="#555555")
    fig.add_annotation(x=last, y=1.0, yref="y", text=f"series ends {quarter_label(last)}: {end_text}", showarrow=False,
                       xanchor="right", yanchor="bottom", font={"size": 11})
    ends = data[data["date"] == last]
    top = ends.set_index("series").reindex(order)["value"].cumsum()
    fig.add_trace(go.Scatter(x=[last] * len(top), y=top.to_numpy(), mode="markers", name="series end",
                             marker={"symbol": "line-ew-open", "size": 10, "color": "#333333"}, showlegend=False,
                             hoverinfo="skip"))
    if not bool(ends["complete"].fillna(False).all()):
        notes.append(f"{quarter_label(last)} is a partial quarter: the archive stops mid-quarter.")
    data = data[["date", "quarter", "series", "value", "count", "base", "complete"]].reset_index(drop=True)
    return ChartResult(fig, data, title, [SOURCE_LABEL], quarter_label(last) + f" (archive end {end})", VARIANTS[variant], notes)


@chart("pwc-papers-with-code", "Papers with Code: share of papers with code", page="papers")
def papers_with_code_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    title = "Share of papers with at least one code link (per quarter)"
    frames = []
    for variant, name in (("any", "any code link"), ("official", "an official code link")):
        part = share_frame(con, variant, "pwc_papers_with_code_share").assign(series=name)
        frames.append(part)
    frame = _window(pd.concat(frames, ignore_index=True), options)
    if frame.empty:
        fig = empty_figure("No Papers with Code data yet: run `pulse ingest paperswithcode`.", options)
        return ChartResult(fig, frame, title, [], "no data", "share of papers")
    fig = go.Figure()
    for name, dash in (("any code link", "solid"), ("an official code link", "dot")):
        points = frame[frame["series"] == name]
        fig.add_trace(go.Scatter(
            x=points["date"], y=points["value"], name=f"papers with {name}", mode="lines", line={"dash": dash, "color": "#0072B2"},
            customdata=list(zip(points["date"].map(quarter_label), points["count"], points["base"], strict=True)),
            hovertemplate="%{customdata[0]}: %{y:.1%}<br>%{customdata[1]:,} of %{customdata[2]:,} papers<extra></extra>",
        ))
    style(fig, title, options, "share of papers")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    data = frame[["date", "series", "value", "count", "base", "complete"]].reset_index(drop=True)
    return ChartResult(fig, data, title, [SOURCE_LABEL], quarter_label(frame["date"].max()), "share of papers in the archive",
                       ["Base: papers in the archive with a publication date in the quarter."])


def quarters(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """Quarters (first day) that have dated implementations, newest first."""
    rows = con.execute(
        "SELECT DISTINCT date FROM observations WHERE source = ? AND metric = 'pwc_implementations' ORDER BY date DESC", [SOURCE]
    ).fetchall()
    return [r[0] for r in rows]


def top_repos(con: duckdb.DuckDBPyConnection, quarter: dt.date, frameworks: list[str], limit: int = 10, official_only: bool = False) -> pd.DataFrame:
    """Repositories linked to the most papers of a quarter, per framework (from the raw pwc_links table)."""
    start = pd.Timestamp(quarter).to_period("Q").start_time.date()
    end = (pd.Timestamp(start) + pd.offsets.QuarterEnd(0)).date()
    return con.execute(
        """
        SELECT framework, repo_url, papers, official FROM (
            SELECT framework, repo_url, count(DISTINCT paper_url) AS papers,
                   count(DISTINCT paper_url) FILTER (WHERE is_official) AS official,
                   row_number() OVER (PARTITION BY framework ORDER BY count(DISTINCT paper_url) DESC, repo_url) AS rank
            FROM pwc_links
            WHERE paper_date BETWEEN ? AND ? AND list_contains(?, framework) AND (NOT ? OR is_official)
            GROUP BY framework, repo_url
        ) WHERE rank <= ? ORDER BY framework, papers DESC, repo_url
        """,
        [start, end, list(frameworks), official_only, limit],
    ).df()


# --- Claim checks ---------------------------------------------------------------------------

def _counts(con: duckdb.DuckDBPyConnection, variant: str, start: dt.date, end: dt.date, metric: str = "pwc_implementations") -> pd.DataFrame:
    return con.execute(
        "SELECT framework, sum(value) AS n FROM observations WHERE source = ? AND metric = ? AND variant = ? "
        "AND date BETWEEN ? AND ? GROUP BY framework",
        [SOURCE, metric, variant, start, end],
    ).df().set_index("framework")["n"]


def pooled_papers_with_code(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> tuple[float, int, int] | None:
    papers = _counts(con, "all", start, end, "pwc_papers")
    with_code = _counts(con, "with_code", start, end, "pwc_papers")
    base, count = int(papers.sum()), int(with_code.sum())
    return (count / base, count, base) if base else None


def latest_complete_quarter(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    value = con.execute(
        "SELECT max(date) FROM observations WHERE source = ? AND metric = 'pwc_implementations' "
        "AND CAST(json_extract(detail, '$.complete') AS BOOLEAN)", [SOURCE],
    ).fetchone()[0]
    return value


# Ledger basis -> (metric variant, words). Link shares are what the PwC Trends chart drew; claims that
# speak of papers use distinct papers (a paper with five repositories counts once).
CLAIM_BASES = {
    "links": ("all", "share of all implementation links (what the Papers with Code Trends chart drew)"),
    "known": ("known", "share of implementation links with a known framework"),
    "official": ("official", "share of official implementation links"),
    "papers": ("papers", "share of distinct papers with code that have an implementation in the framework (a paper with five repositories counts once)"),
    "papers_known": ("papers_known", "share of distinct papers with a known-framework implementation"),
    "any": ("any", "share of the archive's dated papers with any code link"),
}
RELATIVE_BASES = {"links": ("all", "PyTorch / (PyTorch + TensorFlow) implementation links"),
                  "official": ("official", "PyTorch / (PyTorch + TensorFlow) official links"),
                  "papers": ("papers", "papers with a PyTorch implementation / papers with a PyTorch or TensorFlow one")}


@_claims.provides("pwc_implementation_share", "pwc_implementation_share_relative", "pwc_papers_with_code_share")
def claim_shares(con: duckdb.DuckDBPyConnection, spec: _claims.Spec) -> _claims.Series:
    if not has_data(con):
        raise _claims.NotCheckable("No Papers with Code data stored.")
    bases = RELATIVE_BASES if spec.metric == "pwc_implementation_share_relative" else CLAIM_BASES
    variant, words = bases.get(spec.basis or "links", (None, ""))
    if variant is None:
        raise _claims.NotCheckable(f"The ledger's basis '{spec.basis}' is not one of {', '.join(bases)} for {spec.metric}.")
    frame = share_frame(con, variant, spec.metric)
    if frame.empty:
        raise _claims.NotCheckable(f"The stored archive has no '{variant}' series of {spec.metric}: re-run `pulse ingest paperswithcode` "
                                   "(distinct-paper shares are computed since this version).")
    latest = latest_complete_quarter(con)
    return _claims.Series(
        frame, "Papers with Code share per quarter", SOURCE_LABEL + (f", archive end {archive_end(con)}" if archive_end(con) else ""), "share",
        basis=f"{spec.metric}, variant '{variant}': {words}; quarter = the paper's publication date",
        period="Q", complete_until=pd.Timestamp(latest) if latest else None,
        page=f"/papers?variant={variant if variant in VARIANTS else 'all'}",
    )


def latest_shares(con: duckdb.DuckDBPyConnection, variant: str = "all") -> tuple[dt.date | None, pd.DataFrame]:
    """Shares in the last complete quarter of the archive for one variant (largest first)."""
    latest = latest_complete_quarter(con)
    if latest is None:
        return None, pd.DataFrame(columns=["framework", "value", "count", "base"])
    frame = share_frame(con, variant)
    frame = frame[frame["date"] == pd.Timestamp(latest)].sort_values("value", ascending=False)
    return latest, frame[["framework", "value", "count", "base"]].reset_index(drop=True)
