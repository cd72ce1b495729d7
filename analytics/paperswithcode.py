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

# Shares are compared in absolute terms: within 5 points supported, within 10 partly.
TOLERANCE, PARTLY_TOLERANCE = 0.05, 0.10
# seed-pwc-92: "last 5 years up to 01/2023".
RELATIVE_PERIOD = (dt.date(2018, 1, 1), dt.date(2022, 12, 31))


def _counts(con: duckdb.DuckDBPyConnection, variant: str, start: dt.date, end: dt.date, metric: str = "pwc_implementations") -> pd.DataFrame:
    return con.execute(
        "SELECT framework, sum(value) AS n FROM observations WHERE source = ? AND metric = ? AND variant = ? "
        "AND date BETWEEN ? AND ? GROUP BY framework",
        [SOURCE, metric, variant, start, end],
    ).df().set_index("framework")["n"]


def pooled_share(con: duckdb.DuckDBPyConnection, framework: str, variant: str, start: dt.date, end: dt.date) -> tuple[float, int, int] | None:
    """A framework's share of implementations over quarters starting in [start, end]: (share, count, base)."""
    n = _counts(con, "official" if variant == "official" else "all", start, end)
    if variant == "known":
        n = n.drop(NONE, errors="ignore")
    base = int(n.sum())
    if base == 0:
        return None
    count = int(n.get(framework, 0))
    return count / base, count, base


def pooled_relative(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date, variant: str = "all") -> tuple[float, int, int] | None:
    n = _counts(con, variant, start, end)
    pt, tf = int(n.get("pytorch", 0)), int(n.get("tensorflow", 0))
    return (pt / (pt + tf), pt, pt + tf) if pt + tf else None


def pooled_papers_with_code(con: duckdb.DuckDBPyConnection, start: dt.date, end: dt.date) -> tuple[float, int, int] | None:
    papers = _counts(con, "all", start, end, "pwc_papers")
    with_code = _counts(con, "with_code", start, end, "pwc_papers")
    base, count = int(papers.sum()), int(with_code.sum())
    return (count / base, count, base) if base else None


def claim_period(source_date: str | None) -> tuple[dt.date, dt.date, str] | None:
    """'YYYY-MM' -> the last full quarter before that month; 'YYYY' -> that calendar year."""
    text = str(source_date or "")
    if len(text) >= 7 and text[:4].isdigit() and text[5:7].isdigit():
        month = pd.Timestamp(int(text[:4]), int(text[5:7]), 1)
        quarter = (month - pd.Timedelta(days=1)).to_period("Q")
        if quarter.end_time >= month:
            quarter -= 1
        return quarter.start_time.date(), quarter.end_time.date(), f"{quarter.year}-Q{quarter.quarter} (last full quarter before {text[:7]})"
    if text[:4].isdigit():
        year = int(text[:4])
        return dt.date(year, 1, 1), dt.date(year, 12, 31), f"calendar year {year} (the claim gives only the year)"
    return None


def latest_complete_quarter(con: duckdb.DuckDBPyConnection) -> dt.date | None:
    value = con.execute(
        "SELECT max(date) FROM observations WHERE source = ? AND metric = 'pwc_implementations' "
        "AND CAST(json_extract(detail, '$.complete') AS BOOLEAN)", [SOURCE],
    ).fetchone()[0]
    return value


def _status(measured: float, claimed: float) -> str:
    gap = abs(measured - claimed)
    return _claims.SUPPORTED if gap <= TOLERANCE else _claims.PARTLY if gap <= PARTLY_TOLERANCE else _claims.CONTRADICTED


def _fmt(result: tuple[float, int, int] | None, noun: str = "implementations") -> str:
    return f"{result[0]:.1%} ({result[1]:,} of {result[2]:,} {noun})" if result else "no data"


@_claims.checks("seed-pwc-68", "soai-2020", "soai-2020-tf", "hn-2023")
def check_implementation_share(con: duckdb.DuckDBPyConnection, claim: dict) -> _claims.Verdict:
    """A framework's share of paper implementations at the claim's date; primary variant 'all'.

    Why 'all': the quoted Trends figures (47% + 18% in 2020, 59% + 5% in 2023) leave a third
    or more to other frameworks and to implementations without one, so their base was all links.
    """
    if not has_data(con):
        return _claims.not_checkable(claim)
    period = claim_period(claim.get("source_date"))
    framework = claim.get("subject") or ""
    if period is None:
        return _claims.not_checkable(claim, "The claim has no date to compare against.")
    start, end, period_text = period
    main = pooled_share(con, framework, "all", start, end)
    if main is None:
        return _claims.not_checkable(claim, f"The archive holds no dated implementations for {period_text}.")
    others = {v: pooled_share(con, framework, v, start, end) for v in ("known", "official")}
    claimed = float(claim["value"])
    status = _status(main[0], claimed)
    latest = latest_complete_quarter(con)
    today = pooled_share(con, framework, "all", latest, latest) if latest else None
    if status == _claims.SUPPORTED and today and abs(today[0] - claimed) > TOLERANCE:
        status = _claims.OUTDATED
    name = registry.display_name(framework)
    measured = (f"{name}: {_fmt(main)} of all implementations; {_fmt(others['known'])} of those with a known framework; "
                f"{_fmt(others['official'])} of official ones")
    return _claims.Verdict(
        status, measured=measured, as_of=period_text.split(" ")[0],
        today=f"{_fmt(today)} in {quarter_label(latest)}, the last full quarter of the archive (last paper {archive_end(con)})" if today else "",
        basis=f"pwc_implementation_share, variant 'all' (share of all implementation links, counts pooled over {period_text}); "
              f"supported within {TOLERANCE:.0%} points",
        value=round(main[0], 4),
    )


@_claims.checks("seed-pwc-92")
def check_relative_share(con: duckdb.DuckDBPyConnection, claim: dict) -> _claims.Verdict:
    """PyTorch / (PyTorch + TensorFlow) implementations, pooled over the 5 years to 2023-01."""
    if not has_data(con):
        return _claims.not_checkable(claim)
    start, end = RELATIVE_PERIOD
    main = pooled_relative(con, start, end)
    if main is None:
        return _claims.not_checkable(claim, "The archive holds no PyTorch or TensorFlow implementations for 2018-2022.")
    official = pooled_relative(con, start, end, "official")
    latest = latest_complete_quarter(con)
    today = pooled_relative(con, latest, latest) if latest else None
    claimed = float(claim["value"])
    # "over 92%": anything at or above the figure supports it; below within tolerance is partly.
    status = _claims.SUPPORTED if main[0] >= claimed - 0.005 else _status(main[0], claimed)
    return _claims.Verdict(
        status,
        measured=f"PyTorch / (PyTorch + TensorFlow) = {_fmt(main, 'PyTorch + TensorFlow implementations')}; official only: {_fmt(official)}",
        as_of="2018-01 .. 2022-12",
        today=f"{_fmt(today)} in {quarter_label(latest)} (last full quarter of the archive)" if today else "",
        basis="pwc_implementation_share_relative, variant 'all' (all implementation links), counts pooled over quarters 2018-Q1 .. 2022-Q4 "
              "(the 5 years up to 01/2023); 'relative score' read as PyTorch/(PyTorch+TensorFlow)",
        value=round(main[0], 4),
    )


@_claims.checks("seed-pwc-30")
def check_papers_with_code(con: duckdb.DuckDBPyConnection, claim: dict) -> _claims.Verdict:
    """Share of the archive's papers with at least one code link, in the claim's year."""
    if not has_data(con):
        return _claims.not_checkable(claim)
    period = claim_period(claim.get("source_date"))
    if period is None:
        return _claims.not_checkable(claim, "The claim has no date to compare against.")
    start, end, period_text = period
    main = pooled_papers_with_code(con, start, end)
    if main is None:
        return _claims.not_checkable(claim, f"The archive holds no dated papers for {period_text}.")
    overall = pooled_papers_with_code(con, dt.date(1900, 1, 1), dt.date(2100, 1, 1))
    latest = latest_complete_quarter(con)
    today = pooled_papers_with_code(con, latest, latest) if latest else None
    return _claims.Verdict(
        _status(main[0], float(claim["value"])),
        measured=f"{_fmt(main, 'papers')} have a code link; whole archive: {_fmt(overall, 'papers')}",
        as_of=str(start.year),
        today=f"{_fmt(today, 'papers')} in {quarter_label(latest)} (last full quarter of the archive)" if today else "",
        basis=f"pwc_papers_with_code_share, variant 'any' (papers in the archive with any code link), pooled over {period_text}; "
              "the base is the papers Papers with Code indexed, not all papers published",
        value=round(main[0], 4),
    )


def latest_shares(con: duckdb.DuckDBPyConnection, variant: str = "all") -> tuple[dt.date | None, pd.DataFrame]:
    """Shares in the last complete quarter of the archive for one variant (largest first)."""
    latest = latest_complete_quarter(con)
    if latest is None:
        return None, pd.DataFrame(columns=["framework", "value", "count", "base"])
    frame = share_frame(con, variant)
    frame = frame[frame["date"] == pd.Timestamp(latest)].sort_values("value", ascending=False)
    return latest, frame[["framework", "value", "count", "base"]].reset_index(drop=True)
