"""Overview: the latest value per framework for each headline metric, with its share and provenance."""

from __future__ import annotations

import duckdb
import pandas as pd
import plotly.graph_objects as go

from analytics import github
from analytics.charts import ChartOptions, ChartResult, chart, color, empty_figure, style
from pulse import registry

# Headline metrics, in display order: (metric, variant or None for any, label, unit).
HEADLINES: list[tuple[str, str | None, str]] = [
    ("github_stars", None, "GitHub stars"),
    ("trends_interest", None, "Google Trends interest"),
    ("pwc_implementation_share", "known", "Share of paper implementations (known framework)"),
    # The tag basis (variant ''): the one every framework has, and the one its share is taken on.
    ("hf_models", "", "Hugging Face models"),
    ("pypi_downloads", None, "PyPI downloads, last 30 finished days (all of a framework's packages)"),
    ("so_questions", None, "Stack Overflow questions, last finished month (all of a framework's tags)"),
]


# A framework whose latest point is older than this, relative to the newest point among
# those listed, is shown with its own date but left out of the share.
CURRENT_WINDOW = pd.Timedelta(days=31)


def latest_by_metric(con: duckdb.DuckDBPyConnection, metric: str, variant: str | None = None,
                     frameworks: list[str] | None = None) -> pd.DataFrame:
    """Latest point per framework of a metric (GitHub stars: best source), with its share.

    The share is taken among the listed frameworks that are current (measured within
    CURRENT_WINDOW of the newest point), from one source and variant, so figures from
    different dates or requests are never mixed; others get no share and current=False.
    """
    if metric == "github_stars":
        frame = github.latest_counts(con)
        if frame.empty:
            return frame
        frame = frame.assign(variant="")
    elif metric in ("pypi_downloads", "so_questions"):  # counts: summed over a framework's series
        from analytics import adoption

        frame = adoption.latest_downloads(con) if metric == "pypi_downloads" else adoption.latest_questions(con)
        if frame.empty:
            return frame
    else:
        sql = (
            "SELECT framework, source, variant, date, value, citation, retrieved_at, detail FROM observations "
            "WHERE metric = ?" + (" AND variant = ?" if variant is not None else "")
        )
        frame = con.execute(sql, [metric] + ([variant] if variant is not None else [])).df()
        if frame.empty:
            return frame
        frame["date"] = pd.to_datetime(frame["date"])
        frame = complete_periods(frame, metric)
        # Chosen among the listed frameworks: a Trends request of terms outside the registry
        # (imported with --keep-unknown) must not hide the frameworks' own latest request.
        frame = frame[frame["framework"].isin(frameworks or registry.ids())]
        if frame.empty:
            return frame
        # One series: the source/variant with the most recent data.
        newest = frame.sort_values("date").iloc[-1]
        frame = frame[(frame["source"] == newest["source"]) & (frame["variant"] == newest["variant"])]
        frame = frame.sort_values("date").groupby("framework", as_index=False).last()
    frame = frame[frame["framework"].isin(frameworks or registry.ids())].copy()
    if frame.empty:
        return frame
    frame["name"] = frame["framework"].map(registry.display_name)
    frame["current"] = frame["date"] >= frame["date"].max() - CURRENT_WINDOW
    if metric == "hf_models":
        frame["share"] = hub_shares(con, frame)
    else:
        total = frame.loc[frame["current"], "value"].sum()
        frame["share"] = (frame["value"] / total).where(frame["current"]) if total else float("nan")
    return frame.sort_values(["current", "value"], ascending=False).reset_index(drop=True)


def complete_periods(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Drop incomplete periods (never headlined): a quarter the archive stops in, a Trends week
    Google flags partial or that had not ended at retrieval, a month not over at retrieval."""
    detail = frame["detail"].fillna("")
    flagged = detail.str.contains('"partial": true', regex=False) | detail.str.contains('"complete": false', regex=False)
    frame = frame[~flagged]
    if metric == "trends_interest" and not frame.empty:
        from analytics import trends

        kept = []
        for _, part in frame.groupby(["source", "variant"]):
            until = trends.incomplete_after(part.assign(partial=False))
            kept.append(part if until is None else part[part["date"] <= until])
        frame = pd.concat(kept)
    elif metric.startswith("hf_") and not frame.empty:
        frame = frame[frame["date"] <= pd.to_datetime(frame["retrieved_at"]).dt.normalize()]
    return frame.drop(columns="detail")


def hub_shares(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> pd.Series:
    """Hub shares on distinct models (hf_model_share, as on the Hub page), never a sum of per-tag counts:
    a model tagged pytorch, tf and keras counts once in the base."""
    shares = con.execute(
        "SELECT framework, source, date, value FROM observations WHERE metric = 'hf_model_share' AND variant = 'default-frameworks'"
    ).df()
    if shares.empty:
        return pd.Series(float("nan"), index=frame.index)
    shares["date"] = pd.to_datetime(shares["date"])
    merged = frame[["framework", "source", "date"]].merge(shares, on=["framework", "source", "date"], how="left")
    return pd.Series(merged["value"].to_numpy(), index=frame.index).where(frame["current"])


def headline_tables(con: duckdb.DuckDBPyConnection, frameworks: list[str] | None = None) -> list[tuple[str, str, pd.DataFrame]]:
    """(metric, label, latest table) for each headline metric that has data."""
    out = []
    for metric, variant, label in HEADLINES:
        frame = latest_by_metric(con, metric, variant, frameworks)
        if not frame.empty:
            out.append((metric, label, frame))
    return out


@chart("overview-stars-share", "Latest GitHub stars per framework", page="overview")
def stars_share_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    frame = latest_by_metric(con, "github_stars", frameworks=options.frameworks)
    title = "Latest GitHub stars per framework"
    if frame.empty:
        return ChartResult(empty_figure("No star data.", options), frame, title, [], "no data")
    labels = [f"{s:.0%}" if c else f"as of {d:%Y-%m-%d}" for s, c, d in zip(frame["share"], frame["current"], frame["date"], strict=True)]
    fig = go.Figure(
        go.Bar(
            x=frame["name"], y=frame["value"], marker_color=[color(f) for f in frame["framework"]],
            customdata=list(zip(frame["date"].dt.strftime("%Y-%m-%d"), frame["share"], frame["source"].map(lambda s: github.SOURCE_LABELS.get(s, s)), strict=True)),
            text=labels, textposition="outside",
            hovertemplate="<b>%{x}</b><br>%{y:,.0f} stars (%{text})<br>as of %{customdata[0]}<br>%{customdata[2]}<extra></extra>",
        )
    )
    style(fig, title, options, "stars")
    dates = sorted({d.date().isoformat() for d in frame["date"]})
    data = frame[["framework", "name", "date", "value", "share", "current", "source", "citation"]].reset_index(drop=True)
    sources = sorted({github.SOURCE_LABELS.get(s, s) for s in frame["source"]})
    as_of = dates[-1] if len(dates) == 1 else f"{dates[0]} to {dates[-1]} (latest per framework)"
    notes = []
    if not frame["current"].all():
        stale = ", ".join(f"{n} ({d:%Y-%m-%d})" for n, d in zip(frame.loc[~frame["current"], "name"], frame.loc[~frame["current"], "date"], strict=True))
        notes.append(f"Older figures are shown with their date and left out of the share: {stale}.")
    return ChartResult(fig, data, title, sources, as_of, "latest value per framework; share of the current ones shown", notes)
