"""Adoption signals: PyPI downloads per day and Stack Overflow questions per month, summed per period.

Both are counts of events, so a framework's value for a period is the sum of its series
(its packages, or its tags) over the days or months in it. Only whole periods are shown: a
period the data does not cover to its last day (the month in progress, the first month of
pypistats' 180-day window) is left out rather than drawn as a drop.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import plotly.graph_objects as go

from analytics.charts import ChartOptions, ChartResult, as_of, chart, color, empty_figure, style
from pulse import registry

DOWNLOADS, QUESTIONS, TAG_TOTAL = "pypi_downloads", "so_questions", "so_tag_questions_total"
VIEWS = {"absolute": "absolute", "share": "share of the chosen total", "indexed": "indexed to 100 at the range start"}
DOWNLOAD_PERIODS = {"day": "per day", "week": "per week (Mon-Sun)", "month": "per month"}
QUESTION_PERIODS = {"month": "per month", "quarter": "per quarter", "year": "per year"}
_FREQ = {"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q", "year": "Y"}
DOWNLOAD_SOURCES = {
    "best": "ClickPy history, pypistats.org for days ClickPy lacks",
    "pypistats": "pypistats.org only (without mirrors, last 180 days)",
    "clickpy": "ClickPy only (every download in PyPI's log, since 2016)",
}
SOURCE_LABELS = {"pypistats": "pypistats.org API (without mirrors)", "clickpy": "ClickPy (ClickHouse, pypi.pypi_downloads_per_day)",
                 "stackoverflow": "Stack Exchange API (Stack Overflow)"}
# Method breaks stated on the page, in chart notes and in docs/metrics.md.
DEFINITION_CHANGE = dt.date(2026, 8, 24)
DOWNLOAD_BREAKS = [
    f"PyPI changed what counts as a download on {DEFINITION_CHANGE:%Y-%m-%d}: every series has a level break there (marked).",
    "Downloads include CI and automated installs (every CI run that installs a package counts), so they measure installs, not users.",
    "keras is installed as a dependency of tensorflow (TensorFlow 2.x), so keras downloads include TensorFlow installs.",
]


# --- PyPI downloads -----------------------------------------------------------------------------

def download_points(con: duckdb.DuckDBPyConnection, frameworks: list[str], which: str = "best") -> pd.DataFrame:
    """Daily downloads per (framework, package): one source per day as `which` says."""
    frame = con.execute(
        "SELECT date, framework, variant AS package, source, value, citation, retrieved_at FROM observations "
        "WHERE metric = ? AND list_contains(?, framework) ORDER BY framework, package, date", [DOWNLOADS, frameworks]).df()
    frame["date"] = pd.to_datetime(frame["date"])
    if frame.empty or which in ("pypistats", "clickpy"):
        return frame[frame["source"] == which].reset_index(drop=True) if which in ("pypistats", "clickpy") else frame
    # best: ClickPy where it has the day (one continuous definition back to 2016), else pypistats.
    frame["rank"] = frame["source"].map({"clickpy": 0, "pypistats": 1}).fillna(2)
    frame = frame.sort_values("rank").drop_duplicates(["framework", "package", "date"]).drop(columns="rank")
    return frame.sort_values(["framework", "package", "date"]).reset_index(drop=True)


def _labels(frame: pd.DataFrame, keys: list[str], column: str) -> pd.Series:
    """', '-joined sorted distinct values of `column` per key, vectorised (a bit per value, then a lookup)."""
    names = sorted(frame[column].unique())
    bits = frame[keys + [column]].drop_duplicates()
    bits = bits.assign(bit=bits[column].map({n: 1 << i for i, n in enumerate(names)}))
    codes = bits.groupby(keys)["bit"].sum()
    text = {code: ", ".join(n for i, n in enumerate(names) if code >> i & 1) for code in codes.unique()}
    return codes.map(text)


def period_sums(points: pd.DataFrame, period: str) -> pd.DataFrame:
    """Sum per framework and period over its series, whole periods only (covered from first to last day)."""
    columns = ["framework", "date", "value", "series", "sources"]
    if points.empty:
        return pd.DataFrame(columns=columns)
    periods = points["date"].dt.to_period(_FREQ[period])
    p = points.assign(start=periods.dt.start_time.dt.normalize(), end=periods.dt.end_time.dt.normalize())
    keys = ["framework", "start"]
    sums = p.groupby(keys + ["end"])["value"].sum().reset_index()
    labels = pd.DataFrame({"series": _labels(p, keys, "package"), "sources": _labels(p, keys, "source")}).reset_index()
    sums = sums.merge(labels, on=keys)
    first = p.groupby("framework")["date"].min()
    last = p.groupby(["framework", "package"])["date"].max().groupby("framework").min()  # every series covered
    whole = (sums["start"] >= sums["framework"].map(first)) & (sums["end"] <= sums["framework"].map(last))
    return sums[whole].rename(columns={"start": "date"})[columns].sort_values(["framework", "date"]).reset_index(drop=True)


def apply_view(frame: pd.DataFrame, view: str, frameworks: list[str]) -> tuple[pd.DataFrame, list[str]]:
    notes: list[str] = []
    if frame.empty or view == "absolute":
        return frame, notes
    frame = frame.copy()
    if view == "share":
        present = frame.groupby("date")["framework"].nunique()
        full = present[present == len(set(frameworks) & set(frame["framework"]))].index
        if len(full) < len(present):
            notes.append("Periods where a chosen framework has no data are left out of the share.")
        frame = frame[frame["date"].isin(full)]
        frame["value"] = frame["value"] / frame.groupby("date")["value"].transform("sum")
    elif view == "indexed":
        frame = frame.sort_values("date")
        first = frame.groupby("framework")["value"].transform("first")
        frame["value"] = (frame["value"] / first * 100).where(first > 0)
        notes.append("Each framework = 100 at its first whole period in the range.")
    else:
        raise ValueError(f"unknown view '{view}'; choose one of {', '.join(VIEWS)}")
    return frame, notes


def _range(frame: pd.DataFrame, options: ChartOptions) -> pd.DataFrame:
    if options.start:
        frame = frame[frame["date"] >= pd.Timestamp(options.start)]
    if options.end:
        frame = frame[frame["date"] <= pd.Timestamp(options.end)]
    return frame


def _lines(frame: pd.DataFrame, options: ChartOptions, unit: str, title: str, y_title: str) -> go.Figure:
    fig = go.Figure()
    value_fmt = "%{y:.1%}" if options.view == "share" else "%{y:,.0f}"
    for fid in options.frameworks:
        points = frame[frame["framework"] == fid]
        if points.empty:
            continue
        name = registry.display_name(fid)
        fig.add_trace(go.Scatter(
            x=points["date"], y=points["value"], name=name, mode="lines+markers" if len(points) < 40 else "lines",
            line={"color": color(fid)}, customdata=list(zip(points["series"], points["sources"], strict=True)),
            hovertemplate=f"<b>{name}</b><br>%{{x|%Y-%m-%d}}<br>{value_fmt} {unit}<br>%{{customdata[0]}}<br>%{{customdata[1]}}<extra></extra>",
        ))
    style(fig, title, options, y_title)
    if options.view == "share":
        fig.update_yaxes(tickformat=".0%")
    return fig


@chart("pypi-downloads", "PyPI downloads per framework", page="downloads")
def downloads_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    period = options.extra.get("period", "month")
    which = options.extra.get("source", "best")
    period = period if period in DOWNLOAD_PERIODS else "month"
    points = download_points(con, options.frameworks, which if which in DOWNLOAD_SOURCES else "best")
    frame, notes = apply_view(_range(period_sums(points, period), options), options.view, options.frameworks)
    title = f"PyPI downloads {DOWNLOAD_PERIODS[period]}" + ("" if options.view == "absolute" else f" ({options.transform_label()})")
    transform = f"sum of each framework's packages {DOWNLOAD_PERIODS[period]}, whole periods only; {options.transform_label()}"
    if frame.empty:
        return ChartResult(empty_figure("No PyPI downloads stored for the chosen frameworks and range: run `pulse ingest pypi`.", options),
                           frame, title, [], "no data", transform, notes)
    y_title = {"share": "share of chosen total", "indexed": "index (first period = 100)"}.get(options.view, f"downloads {DOWNLOAD_PERIODS[period]}")
    fig = _lines(frame, options, "downloads", title, y_title)
    if frame["date"].min() <= pd.Timestamp(DEFINITION_CHANGE) <= frame["date"].max() + pd.Timedelta(days=31):
        fig.add_vline(x=pd.Timestamp(DEFINITION_CHANGE).timestamp() * 1000, line_dash="dot", line_color="grey",
                      annotation_text="download definition changed", annotation_position="top left")
    sources = sorted({SOURCE_LABELS.get(s, s) for s in ", ".join(frame["sources"]).split(", ")})
    last_day = points["date"].max()
    data = frame[["date", "framework", "value", "series", "sources"]].reset_index(drop=True)
    notes = notes + [f"Data through {last_day:%Y-%m-%d}; the period in progress is not shown."] + DOWNLOAD_BREAKS
    return ChartResult(fig, data, title, sources, as_of(points["date"]), transform, notes)


def latest_downloads(con: duckdb.DuckDBPyConnection, days: int = 30) -> pd.DataFrame:
    """Per framework: downloads over the last `days` finished days it has (best source), for the Overview cards."""
    points = download_points(con, registry.ids())
    if points.empty:
        return points
    rows = []
    for fid, group in points.groupby("framework"):
        end = group.groupby("package")["date"].max().min()  # every package covered
        window = group[(group["date"] > end - pd.Timedelta(days=days)) & (group["date"] <= end)]
        if window["date"].nunique() < days:
            continue  # fewer days than the window: not a like-for-like figure
        rows.append({"framework": fid, "source": ", ".join(sorted(set(window["source"]))), "variant": ", ".join(sorted(set(window["package"]))),
                     "date": end, "value": float(window["value"].sum()), "citation": window["citation"].iloc[-1],
                     "retrieved_at": window["retrieved_at"].max()})
    return pd.DataFrame(rows)


def downloads_status(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT framework, variant AS package, source, count(*) AS days, min(date) AS first_day, max(date) AS last_day, "
        "max(retrieved_at) AS retrieved FROM observations WHERE metric = ? GROUP BY ALL ORDER BY framework, package, source",
        [DOWNLOADS]).df()


# --- Stack Overflow questions -------------------------------------------------------------------

def question_points(con: duckdb.DuckDBPyConnection, frameworks: list[str]) -> pd.DataFrame:
    frame = con.execute(
        "SELECT date, framework, variant AS package, source, value, citation, retrieved_at FROM observations "
        "WHERE metric = ? AND list_contains(?, framework) ORDER BY framework, package, date", [QUESTIONS, frameworks]).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _month_end(points: pd.DataFrame) -> pd.DataFrame:
    # A monthly count covers its whole month: date the coverage at the month's last day.
    return points.assign(date=points["date"] + pd.offsets.MonthEnd(0))


def question_sums(points: pd.DataFrame, period: str) -> pd.DataFrame:
    if points.empty:
        return period_sums(points, period)
    covered = pd.concat([points, _month_end(points)])  # first day .. last day of each stored month
    sums = period_sums(covered.assign(value=covered["value"].where(covered["date"].dt.day == 1, 0.0)), period)
    return sums


@chart("so-questions", "Stack Overflow questions per framework", page="community")
def questions_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    period = options.extra.get("period", "month")
    period = period if period in QUESTION_PERIODS else "month"
    points = question_points(con, options.frameworks)
    frame, notes = apply_view(_range(question_sums(points, period), options), options.view, options.frameworks)
    title = f"Stack Overflow questions {QUESTION_PERIODS[period]}" + ("" if options.view == "absolute" else f" ({options.transform_label()})")
    transform = f"sum of each framework's tags {QUESTION_PERIODS[period]}, whole periods only; {options.transform_label()}"
    if frame.empty:
        return ChartResult(empty_figure("No Stack Overflow counts stored for the chosen frameworks and range: run `pulse ingest stackoverflow`.", options),
                           frame, title, [], "no data", transform, notes)
    y_title = {"share": "share of chosen total", "indexed": "index (first period = 100)"}.get(options.view, f"questions {QUESTION_PERIODS[period]}")
    fig = _lines(frame, options, "questions", title, y_title)
    last = points["date"].max()
    notes = notes + [f"Finished months through {last:%Y-%m}; the month in progress is never stored.",
                     "Questions created in the month that carry the tag and are not deleted; a question with two framework tags counts for both."]
    data = frame[["date", "framework", "value", "series", "sources"]].reset_index(drop=True)
    return ChartResult(fig, data, title, [SOURCE_LABELS["stackoverflow"]], f"{last:%Y-%m} (last finished month)", transform, notes)


def latest_questions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per framework: questions in its last finished month stored for every one of its tags (Overview cards)."""
    points = question_points(con, registry.ids())
    if points.empty:
        return points
    rows = []
    for fid, group in points.groupby("framework"):
        month = group.groupby("package")["date"].max().min()
        at = group[group["date"] == month]
        rows.append({"framework": fid, "source": "stackoverflow", "variant": ", ".join(sorted(at["package"])), "date": month,
                     "value": float(at["value"].sum()), "citation": at["citation"].iloc[0], "retrieved_at": at["retrieved_at"].max()})
    return pd.DataFrame(rows)


def tag_totals(con: duckdb.DuckDBPyConnection, frameworks: list[str] | None = None) -> pd.DataFrame:
    """Each tag's question count as last retrieved (so_tag_questions_total)."""
    frame = con.execute(
        "SELECT framework, variant AS tag, arg_max(value, date) AS questions, max(date) AS as_of, arg_max(citation, date) AS citation "
        "FROM observations WHERE metric = ? GROUP BY framework, variant ORDER BY questions DESC", [TAG_TOTAL]).df()
    if frameworks is not None:
        frame = frame[frame["framework"].isin(frameworks)]
    return frame.assign(name=frame["framework"].map(registry.display_name)).reset_index(drop=True)


def questions_status(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        "SELECT framework, variant AS tag, count(*) AS months, strftime(min(date), '%Y-%m') AS first_month, "
        "strftime(max(date), '%Y-%m') AS last_month, max(retrieved_at) AS retrieved FROM observations WHERE metric = ? "
        "GROUP BY ALL ORDER BY framework, tag", [QUESTIONS]).df()


# --- Claim checks ---------------------------------------------------------------------------------
# A community or popularity claim ("TensorFlow has a much bigger community", a Stack Overflow
# claim) is a ledger row with metric so_questions or pypi_downloads, subject, versus and a
# comparison (e.g. ratio_at_least 1.5, leads); the generic engine reads these monthly series.

from analytics import claims as _claims  # noqa: E402  (registration only)


@_claims.provides(QUESTIONS, DOWNLOADS)
def claim_series(con: duckdb.DuckDBPyConnection, spec: _claims.Spec) -> _claims.Series:
    """Whole-month sums per framework: Stack Overflow questions over its tags, PyPI downloads over its packages."""
    frameworks = list(spec.frameworks)
    if spec.metric == QUESTIONS:
        monthly, name, source, page = question_sums(question_points(con, frameworks), "month"), "Stack Overflow questions", SOURCE_LABELS["stackoverflow"], "community"
        basis = "so_questions per month, summed over each framework's tags; a question with two framework tags counts for each"
    else:
        monthly, name, page = period_sums(download_points(con, frameworks), "month"), "PyPI downloads", "downloads"
        source = "; ".join(SOURCE_LABELS[s] for s in ("clickpy", "pypistats"))
        basis = "pypi_downloads per month, summed over each framework's packages (ClickPy, pypistats for days it lacks); " + " ".join(DOWNLOAD_BREAKS)
    if monthly.empty:
        raise _claims.NotCheckable(f"No {name} stored for {', '.join(registry.display_name(f) for f in frameworks)}.")
    # Only whole months are in `monthly`: the last one is complete to its last day.
    return _claims.Series(monthly[["date", "framework", "value"]], name, source, "count", basis=basis, period="M",
                          complete_until=monthly["date"].max() + pd.offsets.MonthEnd(0), page=page)
