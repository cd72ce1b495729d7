"""Conference mentions: the share of accepted papers at top ML conferences that mention PyTorch or
TensorFlow in their full text (source `conference_mentions`, embedded and cited), its chart and
its claim series.

Mentions, not exclusive use: a paper may mention both frameworks, or use one without naming it.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics import claims as _claims
from analytics.charts import ChartOptions, ChartResult, chart, color, empty_figure, style
from pulse import registry

SOURCE = "conference_mentions"
SOURCE_LABEL = "Conference mentions (github.com/Chillee/pytorch-vs-tensorflow, embedded snapshot)"
FRAMEWORKS = ("pytorch", "tensorflow")
MENTIONS_NOTE = ("Mentions, not exclusive use: a paper may mention both frameworks (their shares can sum past 100%), "
                 "and one that uses a framework without naming it is not counted. Keras is counted as TensorFlow.")
ICLR_NOTE = "ICLR 2021 and 2022 count submissions, as the study recorded them."


def has_data(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM observations WHERE source = ?", [SOURCE]).fetchone()[0])


def mentions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per conference, date and framework: papers mentioning it, the conference's total, the share, the citation."""
    frame = con.execute(
        """
        SELECT m.variant AS conference, m.date, m.framework, m.value AS papers, t.value AS total, m.citation
        FROM observations m JOIN observations t
          ON t.source = m.source AND t.variant = m.variant AND t.date = m.date
         AND t.metric = 'conference_papers_total' AND t.framework = 'all'
        WHERE m.source = ? AND m.metric = 'conference_papers_mentioning'
        ORDER BY conference, date, framework
        """,
        [SOURCE],
    ).df()
    frame["date"] = pd.to_datetime(frame["date"])
    frame["share"] = frame["papers"] / frame["total"]
    return frame


def conferences(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Conferences in the data, the one with the most years first."""
    frame = mentions(con)
    if frame.empty:
        return []
    counts = frame.groupby("conference")["date"].nunique().sort_values(ascending=False, kind="stable")
    return list(counts.index)


@chart("conference-mentions", "Top ML conferences: share of papers mentioning each framework", page="papers")
def mentions_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    """Small multiples, one per conference (or one conference: options.extra['conference'])."""
    frame = mentions(con)
    wanted = options.extra.get("conference")
    names = conferences(con)
    if wanted and wanted != "all":
        if wanted not in names:
            raise ValueError(f"unknown conference '{wanted}'; choose one of {', '.join(names)}")
        names = [wanted]
        frame = frame[frame["conference"] == wanted]
    years = f"{frame['date'].min().year}-{frame['date'].max().year}" if not frame.empty else ""
    title = (f"{wanted}, {years}" if wanted and wanted != "all" else f"One panel per conference, {years}") + \
        ": full-text mentions, not exclusive use"
    transform = "papers mentioning the framework / the conference's papers"
    shown = [f for f in FRAMEWORKS if f in options.frameworks]
    if frame.empty or not shown:
        message = ("No conference data: run `pulse db init` to load the embedded snapshot." if frame.empty
                   else "The study counts PyTorch and TensorFlow only: choose one of them.")
        fig = empty_figure(message, options)
        return ChartResult(fig, frame.iloc[0:0], title, [], "no data", transform, [MENTIONS_NOTE])
    frame = frame[frame["framework"].isin(shown)]
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, shared_yaxes=True, vertical_spacing=0.12, horizontal_spacing=0.04)
    for i, conference in enumerate(names):
        part = frame[frame["conference"] == conference]
        for fid in shown:
            points = part[part["framework"] == fid]
            if points.empty:
                continue
            fig.add_trace(go.Scatter(
                x=points["date"], y=points["share"], name=registry.display_name(fid), legendgroup=fid, showlegend=i == 0,
                mode="lines+markers", line={"color": color(fid)}, marker={"size": 5},
                customdata=list(zip(points["papers"], points["total"], strict=True)),
                hovertemplate=(f"<b>{registry.display_name(fid)}</b>, {conference} %{{x|%Y}}<br>%{{y:.0%}} of papers "
                               "(%{customdata[0]:,.0f} of %{customdata[1]:,.0f})<extra></extra>"),
            ), row=i // cols + 1, col=i % cols + 1)
    style(fig, title, options, "")
    # One y scale for every panel, so conferences compare at a glance.
    fig.update_yaxes(tickformat=".0%", range=[0, float(frame["share"].max()) * 1.1])
    # Each panel labels its own years (at most 3, the latest always: panels are narrow on a phone): a shared two-year grid left panels
    # with one or two editions (ECCV, NAACL) without a single year on their axis.
    for i, conference in enumerate(names):
        dates = sorted(frame.loc[frame["conference"] == conference, "date"].unique())
        step = -(-len(dates) // 3) if dates else 1
        ticks = [pd.Timestamp(d) for d in dates[::-1][::step]][::-1]
        fig.update_xaxes(tickvals=ticks, ticktext=[str(t.year) for t in ticks], row=i // cols + 1, col=i % cols + 1)
    # Legend under the panels: above them it would collide with the title and the panel titles.
    fig.update_layout(height=max(420, 260 * rows) + 40, hovermode="closest", margin={"b": 90},
                      legend={"orientation": "h", "yanchor": "top", "y": -0.1, "x": 0})
    data = frame[["conference", "date", "framework", "papers", "total", "share", "citation"]].reset_index(drop=True)
    notes = [MENTIONS_NOTE, ICLR_NOTE, "Date = the conference's month. ICCV and ECCV are held every other year; lines join the years the study covers."]
    return ChartResult(fig, data, title, [SOURCE_LABEL], str(frame["date"].max().date()), transform, notes)


# --- Claim series ------------------------------------------------------------------------------------

BASES = {
    "mentions": "PyTorch's share of the two frameworks' mentions: papers mentioning PyTorch / (papers mentioning PyTorch + papers mentioning TensorFlow)",
    "papers": "papers mentioning the framework / all accepted papers",
}


def yearly(frame: pd.DataFrame, basis: str) -> tuple[pd.DataFrame, pd.Timestamp | None, dict[int, list[str]]]:
    """Per year, pooled over the conferences of that year; the last year most conferences report is the last complete one."""
    frame = frame.assign(year=frame["date"].dt.year)
    present = frame.groupby("year")["conference"].agg(lambda c: sorted(set(c))).to_dict()
    papers = frame.pivot_table(index="year", columns="framework", values="papers", aggfunc="sum")
    totals = frame.drop_duplicates(["conference", "year"]).groupby("year")["total"].sum()
    rows = []
    for year in papers.index:
        for fid in FRAMEWORKS:
            n = float(papers.loc[year].get(fid, 0.0))
            if basis == "mentions":
                base = float(papers.loc[year, list(FRAMEWORKS)].sum())
            else:
                base = float(totals.loc[year])
            if base > 0:
                rows.append({"date": pd.Timestamp(int(year), 1, 1), "framework": fid, "value": n / base, "count": n, "base": base})
    most = max(len(c) for c in present.values()) if present else 0
    complete = [y for y, c in present.items() if len(c) * 2 >= most]
    until = pd.Timestamp(max(complete), 1, 1) if complete else None
    return pd.DataFrame(rows), until, present


@_claims.provides("conference_mention_share")
def claim_mentions(con: duckdb.DuckDBPyConnection, spec: _claims.Spec) -> _claims.Series:
    basis = spec.basis or "mentions"
    if basis not in BASES:
        raise _claims.NotCheckable(f"The ledger's basis '{basis}' is not one of {', '.join(BASES)}.")
    frame = mentions(con)
    if frame.empty:
        raise _claims.NotCheckable("No conference mentions stored.")
    data, until, present = yearly(frame, basis)
    last = until.year if until is not None else None
    listed = ", ".join(present.get(last, [])) if last else ""
    return _claims.Series(
        data, "share of conference papers' framework mentions" if basis == "mentions" else "share of conference papers mentioning the framework",
        SOURCE_LABEL, "share", basis=f"{BASES[basis]}; pooled per year over the conferences of that year (latest complete year {last}: {listed}); "
        "mentions in the full text, not exclusive use",
        period="Y", complete_until=until, page="/papers",
        incomplete_reason="years that fewer than half of the study's conferences report",
        value_suffix="of the two frameworks' mentions" if basis == "mentions" else "of papers mention it",
    )
