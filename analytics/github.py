"""GitHub stars: series with the best source per date, the page's views, and the stars chart."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pandas as pd
import plotly.graph_objects as go

from analytics.charts import ChartOptions, ChartResult, as_of, chart, color, empty_figure, style
from pulse import registry

# Lower is better: an exact history beats the monthly snapshot on the dates it covers.
SOURCE_PRIORITY = {"github_history": 0, "github": 1, "github_sampled": 2, "snapshot": 3}
SOURCE_LABELS = {
    "github_history": "GitHub star history (exact, API)",
    "github": "GitHub REST API (current count)",
    "github_sampled": "GitHub stargazer list (sampled)",
    "snapshot": "Embedded snapshot (EvanLi/Github-Ranking)",
}
# A gap longer than this between two points is drawn as a gap, not a line.
GAP_DAYS = 45


def star_observations(con: duckdb.DuckDBPyConnection, frameworks: list[str], metric: str = "github_stars") -> pd.DataFrame:
    """All stored points of a GitHub metric for these frameworks, every source."""
    frame = con.execute(
        "SELECT date, framework, value, source, subject, citation, retrieved_at FROM observations "
        "WHERE metric = ? AND list_contains(?, framework) ORDER BY framework, date",
        [metric, frameworks],
    ).df()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def best_source(frame: pd.DataFrame, priority: dict[str, int] | None = None) -> pd.DataFrame:
    """Per framework, keep each source's points only outside the spans of better sources."""
    if frame.empty:
        return frame
    priority = priority or SOURCE_PRIORITY
    kept = []
    for _, group in frame.groupby("framework", sort=False):
        covered: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        ordered = sorted(group["source"].unique(), key=lambda s: priority.get(s, 99))
        for source in ordered:
            points = group[group["source"] == source]
            mask = pd.Series(True, index=points.index)
            for lo, hi in covered:
                mask &= ~points["date"].between(lo, hi)
            kept.append(points[mask])
            # A single current-count point covers only its own date.
            covered.append((points["date"].min(), points["date"].max()))
    return pd.concat(kept).sort_values(["framework", "date"]).reset_index(drop=True)


def monthly(frame: pd.DataFrame) -> pd.DataFrame:
    """Last point of each calendar month per framework (dates become the month start)."""
    if frame.empty:
        return frame
    out = frame.assign(month=frame["date"].dt.to_period("M").dt.to_timestamp())
    out = out.sort_values("date").groupby(["framework", "month"], as_index=False).last()
    return out.drop(columns="date").rename(columns={"month": "date"})


def apply_view(frame: pd.DataFrame, view: str, frameworks: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Transform stored values for a view; return the frame (x, value columns) and notes."""
    notes: list[str] = []
    if frame.empty:
        return frame.assign(x=frame.get("date")), notes
    frame = frame.copy()
    if view == "absolute":
        frame["x"] = frame["date"]
    elif view == "share":
        m = monthly(frame)
        present = m.groupby("date")["framework"].nunique()
        full = present[present == len(frameworks)].index
        if len(full) < len(present):
            notes.append("Months where any chosen framework has no data are left out of the share.")
        m = m[m["date"].isin(full)]
        m["value"] = m["value"] / m.groupby("date")["value"].transform("sum")
        frame = m.assign(x=m["date"])
    elif view == "indexed":
        first = frame.groupby("framework")["value"].transform("first")
        frame["value"] = frame["value"] / first * 100
        frame["x"] = frame["date"]
        notes.append("Each framework = 100 at its first point in the range.")
    elif view == "aligned":
        start = frame.groupby("framework")["date"].transform("min")
        frame["x"] = (frame["date"] - start).dt.days
        notes.append("x = days since each framework's first data point in the range (not its creation date).")
    elif view == "monthly":
        frame = added_per_month(frame)
        notes.append(f"Stars added per month: the change between consecutive points, scaled to a {MONTH_DAYS}-day month and dated by "
                     f"the month the interval covers; intervals longer than {GAP_DAYS} days are left out.")
        frame = frame.assign(x=frame["date"])
    else:
        raise ValueError(f"unknown view '{view}'; choose one of absolute, share, indexed, aligned, monthly")
    return frame, notes


MONTH_DAYS = 30.44


def added_per_month(frame: pd.DataFrame) -> pd.DataFrame:
    """Stars added per month between consecutive month-end points (rate x 30.44 days).

    Each delta is divided by the days between its two points (snapshots are not exactly a month
    apart) and dated by the month its interval's midpoint falls in (June 1 -> July 1 is June).
    """
    if frame.empty:
        return frame.assign(x=frame.get("date"))
    points = frame.assign(month=frame["date"].dt.to_period("M")).sort_values("date")
    points = points.groupby(["framework", "month"], as_index=False).last().drop(columns="month").sort_values(["framework", "date"])
    prev_date = points.groupby("framework")["date"].shift()
    prev_value = points.groupby("framework")["value"].shift()
    days = (points["date"] - prev_date).dt.days
    keep = days.notna() & (days > 0) & (days <= GAP_DAYS)
    out = points[keep].copy()
    out["value"] = (out["value"] - prev_value[keep]) / days[keep] * MONTH_DAYS
    out["date"] = (prev_date[keep] + (out["date"] - prev_date[keep]) / 2).dt.to_period("M").dt.to_timestamp()
    return out.reset_index(drop=True)


def with_gaps(frame: pd.DataFrame, x: str = "x") -> pd.DataFrame:
    """Insert an empty row where consecutive dates are more than GAP_DAYS apart (drawn as gaps)."""
    if frame.empty or not pd.api.types.is_datetime64_any_dtype(frame["date"]):
        return frame
    dates = frame["date"]
    gap = dates.diff() > pd.Timedelta(days=GAP_DAYS)
    if not gap.any():
        return frame
    breaks = frame[gap].copy()
    breaks["date"] = breaks["date"] - pd.Timedelta(days=1)
    breaks[x] = breaks["date"] if x == "x" and pd.api.types.is_datetime64_any_dtype(frame[x]) else breaks[x]
    breaks["value"] = float("nan")
    return pd.concat([frame, breaks]).sort_values("date")


def marker_sizes(drawn: pd.DataFrame, many: bool) -> list[float]:
    """Marker per point: small dots for short series; for long ones only points a line cannot show
    (isolated between gaps, e.g. today's count after the snapshot ends) and current counts."""
    values = drawn["value"].reset_index(drop=True)
    isolated = values.notna() & values.shift(1).isna() & values.shift(-1).isna()
    current = (drawn["source"] == "github").reset_index(drop=True)
    if not many:
        return [7.0 if c or i else 4.0 for c, i in zip(current, isolated)]
    return [7.0 if c or i else 0.0 for c, i in zip(current, isolated)]


def stars_frame(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> tuple[pd.DataFrame, list[str]]:
    frame = best_source(star_observations(con, options.frameworks))
    if options.start:
        frame = frame[frame["date"] >= pd.Timestamp(options.start)]
    if options.end:
        frame = frame[frame["date"] <= pd.Timestamp(options.end)]
    return apply_view(frame, options.view, options.frameworks)


@chart("github-stars", "GitHub stars over time", page="github")
def stars_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    frame, notes = stars_frame(con, options)
    title = "GitHub stars" + ("" if options.view == "absolute" else f" ({options.transform_label()})")
    y_title = {"share": "share of chosen total", "indexed": "index (first point = 100)", "monthly": "stars added per month"}.get(options.view, "stars")
    if frame.empty:
        fig = empty_figure("No star data for the chosen frameworks and range.", options)
        return ChartResult(fig, frame, title, [], "no data", options.transform_label(), notes)
    fig = go.Figure()
    for fid in options.frameworks:
        points = frame[frame["framework"] == fid]
        if points.empty:
            continue
        drawn = with_gaps(points) if options.view != "aligned" else points
        source_label = drawn["source"].map(lambda s: SOURCE_LABELS.get(s, s) if isinstance(s, str) else "")
        value_fmt = "%{y:.1%}" if options.view == "share" else "%{y:,.0f}"
        fig.add_trace(
            go.Scatter(
                x=drawn["x"], y=drawn["value"], name=registry.display_name(fid), mode="lines+markers",
                line={"color": color(fid)}, marker={"size": marker_sizes(drawn, many=len(points) >= 40)}, connectgaps=False,
                customdata=list(zip(drawn["date"].dt.strftime("%Y-%m-%d"), source_label, strict=True)),
                hovertemplate=f"<b>{registry.display_name(fid)}</b><br>%{{customdata[0]}}<br>{value_fmt}<br>%{{customdata[1]}}<extra></extra>",
            )
        )
    style(fig, title, options, y_title)
    if options.view == "share":
        fig.update_yaxes(tickformat=".0%")
    if options.view == "aligned":
        fig.update_xaxes(title="days since first data point")
    sources = sorted({SOURCE_LABELS.get(s, s) for s in frame["source"].dropna()})
    data = frame[["date", "x", "framework", "value", "source", "subject", "citation"]].reset_index(drop=True)
    return ChartResult(fig, data, title, sources, as_of(frame["date"]), options.transform_label(), notes)


def latest_counts(con: duckdb.DuckDBPyConnection, metric: str = "github_stars") -> pd.DataFrame:
    """Latest point per framework (best source), with its date and source."""
    frame = best_source(star_observations(con, registry.ids(), metric))
    if frame.empty:
        return frame
    return frame.sort_values("date").groupby("framework", as_index=False).last()


def value_at(con: duckdb.DuckDBPyConnection, framework: str, when: dt.date, metric: str = "github_stars") -> pd.Series | None:
    """The stored point closest to `when` (best source), or None."""
    frame = best_source(star_observations(con, [framework], metric))
    if frame.empty:
        return None
    idx = (frame["date"] - pd.Timestamp(when)).abs().idxmin()
    return frame.loc[idx]


# --- Claim series ------------------------------------------------------------------------------

from analytics import claims as _claims  # noqa: E402  (registration only)

# A claim about a past star count is judged on point-in-time counts where they exist: the exact
# history counts today's stargazers backwards, so stars later withdrawn are invisible in it.
CLAIM_PRIORITY = {"snapshot": 0, "github": 1, "github_history": 2, "github_sampled": 3}


@_claims.provides("github_stars")
def claim_stars(con: duckdb.DuckDBPyConnection, spec: _claims.Spec) -> _claims.Series:
    frame = best_source(star_observations(con, spec.frameworks), CLAIM_PRIORITY)
    if frame.empty:
        raise _claims.NotCheckable("No star counts stored.")
    used = sorted({SOURCE_LABELS.get(s, s) for s in frame["source"]})
    frame = frame.assign(source=frame["source"].map(lambda s: SOURCE_LABELS.get(s, s)))
    return _claims.Series(
        frame[["date", "framework", "value", "source"]], "GitHub stars", "; ".join(used), "count",
        basis="point-in-time counts first (monthly snapshot, current counts); the exact history, which counts today's "
              "stargazers backwards, only on dates no point-in-time count covers",
        page="/github?frameworks=" + ",".join(spec.frameworks),
    )


@_claims.provides("github_created_at")
def claim_created_at(con: duckdb.DuckDBPyConnection, spec: _claims.Spec) -> _claims.Series:
    from pulse import db

    if not db.table_exists(con, "github_repos"):
        raise _claims.NotCheckable("No repository creation dates stored.")
    frame = con.execute("SELECT framework, full_name, created_at AS date FROM github_repos WHERE framework = ? AND created_at IS NOT NULL",
                        [spec.subject]).df()
    if frame.empty:
        raise _claims.NotCheckable(f"No creation date stored for {registry.display_name(spec.subject)}'s repository.")
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    repo = frame["full_name"].iloc[0]
    return _claims.Series(frame.assign(value=1.0), f"creation date of the GitHub repository {repo}", f"GitHub API, https://github.com/{repo}",
                          "date", basis="the public repository's created_at (UTC)", page="/github")


def date_bounds(con: duckdb.DuckDBPyConnection, metric: str = "github_stars") -> tuple[dt.date, dt.date] | None:
    row = con.execute("SELECT min(date), max(date) FROM observations WHERE metric = ?", [metric]).fetchone()
    return (row[0], row[1]) if row and row[0] else None


# --- Live GitHub data for the page: repo cards, last update, history coverage -----------------

def repo_cards(con: duckdb.DuckDBPyConnection, frameworks: list[str]) -> pd.DataFrame:
    """Latest stored repo metadata (stars, forks, open issues, watchers) per chosen framework.

    Empty when `pulse ingest github` has never run (the table exists only after it).
    """
    from pulse import db

    if not db.table_exists(con, "github_repos"):
        return pd.DataFrame(columns=["framework", "full_name", "renamed_from", "html_url", "stargazers", "forks",
                                     "open_issues", "watchers", "history_source", "history_note", "retrieved_at"])
    frame = con.execute(
        "SELECT framework, full_name, renamed_from, html_url, stargazers, forks, open_issues, watchers, "
        "history_source, history_note, retrieved_at FROM github_repos WHERE list_contains(?, framework)",
        [frameworks],
    ).df()
    order = {f: i for i, f in enumerate(frameworks)}
    return frame.sort_values("framework", key=lambda s: s.map(order)).reset_index(drop=True)


def last_update(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The latest `github` run that stored data (ok/partial), plus a later failed attempt if any.

    Keys: finished_at (UTC), status, error, failed_at, failed_error; None if never run.
    """
    runs = con.execute(
        "SELECT finished_at, status, error FROM ingest_runs WHERE source = 'github' AND finished_at IS NOT NULL "
        "ORDER BY finished_at DESC"
    ).fetchall()
    stored = next((r for r in runs if r[1] in ("ok", "partial")), None)
    failed = runs[0] if runs and runs[0][1] == "failed" else None
    if not stored and not failed:
        return None
    out = dict(zip(("finished_at", "status", "error"), stored)) if stored else {"finished_at": None, "status": "never stored", "error": None}
    out["failed_at"], out["failed_error"] = (failed[0], failed[2]) if failed else (None, None)
    return out


def history_coverage(con: duckdb.DuckDBPyConnection, frameworks: list[str]) -> pd.DataFrame:
    """Per framework and star source: points, first and last date (what the chart merges)."""
    frame = con.execute(
        "SELECT framework, source, count(*) AS points, min(date) AS first_date, max(date) AS last_date, "
        "max(retrieved_at) AS retrieved_at FROM observations WHERE metric = 'github_stars' AND list_contains(?, framework) "
        "GROUP BY framework, source",
        [frameworks],
    ).df()
    if frame.empty:
        return frame
    frame["source_label"] = frame["source"].map(lambda s: SOURCE_LABELS.get(s, s))
    frame["name"] = frame["framework"].map(registry.display_name)
    for column in ("first_date", "last_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    frame["rank"] = frame["source"].map(lambda s: SOURCE_PRIORITY.get(s, 99))
    order = {f: i for i, f in enumerate(frameworks)}
    return frame.sort_values(["framework", "rank"], key=lambda s: s.map(order) if s.name == "framework" else s).drop(columns="rank").reset_index(drop=True)


HISTORY_LABELS = {"github_history": "exact daily history", "github_sampled": "sampled history (stargazer list)", None: "no live history"}


def describe_update(update: dict) -> str:
    """'Last GitHub update: <UTC time> (<status>)', naming repositories with problems and a later failure."""
    if update.get("finished_at") is None:
        text = "No GitHub update has stored data yet"
    else:
        text = f"Last GitHub update: {pd.Timestamp(update['finished_at']):%Y-%m-%d %H:%M} UTC ({update['status']})"
    error = update.get("error")
    if error:
        repos = sorted(set(re.findall(r"(?:^|; )([\w.-]+/[\w.-]+): ", error)))
        if repos:
            text += f"; problems with {', '.join(repos)} (details under each card)"
            text += "; stopped by the GitHub rate limit" if "rate limit" in error.lower() else ""
        else:
            text += f": {error}"
    if update.get("failed_at") is not None:
        text += f". Latest attempt {pd.Timestamp(update['failed_at']):%Y-%m-%d %H:%M} UTC failed: {update['failed_error']}"
    return text


def describe_repo(row: dict) -> str:
    """One provenance line for a repo card: name (and former names), source, as-of time, history."""
    import json

    former = json.loads(row.get("renamed_from") or "[]")
    name = row["full_name"] + (f" (formerly {', '.join(former)})" if former else "")
    when = pd.Timestamp(row["retrieved_at"]).strftime("%Y-%m-%d %H:%M")
    source = row["history_source"] if isinstance(row.get("history_source"), str) else None
    text = f"{name} · {SOURCE_LABELS['github']} · as of {when} UTC · {HISTORY_LABELS.get(source, source)}"
    if isinstance(row.get("history_note"), str) and row["history_note"]:
        text += f" · note: {row['history_note']}"
    return text
