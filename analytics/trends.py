"""Google Trends: the stored requests, interest and share series, the Trends charts and claim checks.

Every Trends value is relative to the request it came from (100 = the highest point of any
term in that request, for its region and window), so nothing here mixes requests: a chart or
a check always uses one request, and says which.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import duckdb
import pandas as pd
import plotly.graph_objects as go

from analytics import claims as _claims
from analytics.charts import ChartOptions, ChartResult, as_of, chart, color, empty_figure, style
from pulse import registry

METRIC = "trends_interest"
SOURCE_LABELS = {"trends": "Google Trends via pytrends", "trends_csv": "Google Trends web download (CSV)"}
RELATIVE_NOTE = ("Values are relative to this one request: 100 = the highest point of any term in it, for its "
                 "region and time window, as of its retrieval date; they are not search counts and do not compare across requests.")
BELOW_ONE_NOTE = "Google's '<1' is drawn as 0.5."
OTHER_TERMS_NOTE = "Dotted lines: search terms that match no framework, imported with --keep-unknown (named as searched)."
# Lines for search terms outside the registry: muted, dotted, distinct from the frameworks' colours.
OTHER_COLORS = ["#6B6B6B", "#8C6D31", "#5B7A99", "#7B4F75", "#4F7A5B", "#A05A5A", "#3F3F3F", "#997A3D"]
_CODE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3}(-[0-9]{3})?)?$")


def _parse(detail: str | None) -> dict:
    try:
        return json.loads(detail) if detail else {}
    except (TypeError, ValueError):
        return {}


def geo_name(code: str) -> str:
    """'Worldwide', 'Brazil (BR)', 'California (US-CA)'; text stored by older imports is shown as it is."""
    if code in ("world", "", "Worldwide"):
        return "Worldwide"
    if not _CODE.match(code):
        return code
    from babel import Locale

    name = Locale("en").territories.get(code)
    if name is None:
        import pycountry

        region = pycountry.subdivisions.get(code=code)
        name = region.name if region is not None else None
    return f"{name} ({code})" if name else code


def is_other(framework_id: str) -> bool:
    """A stored series that is not a registry framework: a kept search term or a category."""
    return framework_id not in registry.frameworks()


def requests_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per stored request (source, variant): region, window, frameworks, other terms, as-of date."""
    frame = con.execute(
        """
        SELECT source, variant, min(date) AS first_date, max(date) AS last_date, count(*) AS points,
               list(DISTINCT framework ORDER BY framework) AS frameworks, max(retrieved_at) AS retrieved_at,
               any_value(detail) AS detail
        FROM observations WHERE metric = ? GROUP BY source, variant
        """,
        [METRIC],
    ).df()
    if frame.empty:
        return frame.assign(key=[], label=[], geo=[], timeframe=[], as_of=[], others=[])
    details = frame.pop("detail").map(_parse)
    frame["geo"] = [geo_name(d.get("geo") or v.split("|")[0]) for d, v in zip(details, frame["variant"], strict=True)]
    frame["timeframe"] = [d.get("timeframe") or v.split("|")[1] for d, v in zip(details, frame["variant"], strict=True)]
    frame["as_of"] = pd.to_datetime(frame["retrieved_at"]).dt.date.astype(str)
    every = frame["frameworks"].map(list)
    frame["frameworks"] = every.map(lambda fs: [f for f in fs if not is_other(f)])
    frame["others"] = every.map(lambda fs: [f for f in fs if is_other(f)])
    frame["key"] = frame["source"] + ":" + frame["variant"]
    frame["label"] = [
        f"{r.geo} · {r.timeframe} · {len(r.frameworks)} frameworks"
        + (f" + {len(r.others)} other terms" if r.others else "")
        + f" · as of {r.as_of} ({SOURCE_LABELS.get(r.source, r.source)})"
        for r in frame.itertuples()
    ]
    frame["first_date"] = pd.to_datetime(frame["first_date"])
    frame["last_date"] = pd.to_datetime(frame["last_date"])
    return frame.sort_values(["retrieved_at", "key"], ascending=[False, True]).reset_index(drop=True)


def pick_request(requests: pd.DataFrame, frameworks: list[str] | None = None, key: str | None = None) -> pd.Series | None:
    """The requested key when stored; else the request holding most of the frameworks, widest, newest."""
    if requests.empty:
        return None
    if key and key in set(requests["key"]):
        return requests[requests["key"] == key].iloc[0]
    wanted = set(frameworks or registry.default_ids())
    ranked = requests.assign(
        covered=requests["frameworks"].map(lambda fs: len(wanted & set(fs))),
        pytrends=(requests["source"] == "trends").astype(int),
        span=(requests["last_date"] - requests["first_date"]).dt.days,
    ).sort_values(["covered", "span", "pytrends", "retrieved_at"], ascending=False)
    return ranked.iloc[0]


def interest(con: duckdb.DuckDBPyConnection, request: pd.Series, frameworks: list[str],
             start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    """The request's points for these frameworks (date, framework, value, subject, below_one, ...)."""
    frame = con.execute(
        "SELECT date, framework, value, subject, source, variant, citation, retrieved_at, "
        # detail is JSON written with json.dumps defaults (store.py), so this text is exact
        """coalesce(detail LIKE '%"below_one": true%', false) AS below_one FROM observations """
        "WHERE metric = ? AND source = ? AND variant = ? AND list_contains(?, framework) ORDER BY framework, date",
        [METRIC, request["source"], request["variant"], frameworks],
    ).df()
    frame["date"] = pd.to_datetime(frame["date"])
    if start:
        frame = frame[frame["date"] >= pd.Timestamp(start)]
    if end:
        frame = frame[frame["date"] <= pd.Timestamp(end)]
    return frame.reset_index(drop=True)


def share(frame: pd.DataFrame) -> pd.DataFrame:
    """Each framework's share of the chosen frameworks' summed interest, per date (dates summing to 0 dropped)."""
    if frame.empty:
        return frame.assign(share=[])
    total = frame.groupby("date")["value"].transform("sum")
    return frame[total > 0].assign(share=frame["value"] / total)


def _request_text(request: pd.Series) -> str:
    return f"{request['geo']}, {request['timeframe']}, as of {request['as_of']}"


def other_terms(request: pd.Series, options: ChartOptions) -> list[str]:
    """The request's series outside the registry to draw: options.extra['trends_terms'], else all of them."""
    chosen = options.extra.get("trends_terms")
    others = list(request.get("others", []) or [])
    return others if chosen is None else [t for t in others if t in set(chosen)]


def other_names(con: duckdb.DuckDBPyConnection, request: pd.Series, ids: list[str]) -> list[str]:
    """How each series outside the registry was searched ('deep learning'), for pickers and legends."""
    rows = dict(con.execute(
        "SELECT framework, any_value(subject) FROM observations WHERE metric = ? AND source = ? AND variant = ? GROUP BY framework",
        [METRIC, request["source"], request["variant"]],
    ).fetchall())
    return [str(rows.get(i) or i.split(":", 1)[-1]) for i in ids]


def _frame_for(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> tuple[pd.DataFrame, pd.Series | None, list[str]]:
    requests = requests_frame(con)
    request = pick_request(requests, options.frameworks, options.extra.get("trends_request"))
    if request is None:
        return pd.DataFrame(), None, []
    series = list(options.frameworks) + other_terms(request, options)
    return interest(con, request, series, options.start, options.end), request, series


def _style_for(fid: str, frame: pd.DataFrame, series: list[str]) -> tuple[str, dict]:
    """(legend name, line) for a framework or another term."""
    if not is_other(fid):
        return registry.display_name(fid), {"color": color(fid)}
    subject = frame.loc[frame["framework"] == fid, "subject"]
    name = str(subject.iloc[0]) if len(subject) else fid.split(":", 1)[-1]
    if fid.startswith("category:"):
        name = f"category: {name}"
    others = [s for s in series if is_other(s)]
    return f"“{name}”", {"color": OTHER_COLORS[others.index(fid) % len(OTHER_COLORS)], "dash": "dot"}


def _provenance(request: pd.Series) -> list[str]:
    return [f"{SOURCE_LABELS.get(request['source'], request['source'])} ({_request_text(request)})"]


@chart("trends-interest", "Google Trends: search interest over time", page="trends")
def interest_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    frame, request, series = _frame_for(con, options)
    title = "Google search interest"
    if request is None or frame.empty:
        fig = empty_figure("No Google Trends data for the chosen frameworks: run `pulse ingest trends` or import a CSV.", options)
        return ChartResult(fig, frame, title, [], "no data", "relative interest (0-100)", [])
    title += f" ({_request_text(request)})"
    fig = go.Figure()
    for fid in series:
        points = frame[frame["framework"] == fid]
        if points.empty:
            continue
        name, line = _style_for(fid, frame, series)
        fig.add_trace(go.Scatter(
            x=points["date"], y=points["value"], name=name, mode="lines", line=line,
            customdata=list(zip(points["subject"], points["below_one"].map({True: " (<1)", False: ""}), strict=True)),
            hovertemplate=f"<b>{name}</b> ('%{{customdata[0]}}')<br>%{{x|%Y-%m-%d}}<br>%{{y:.1f}}%{{customdata[1]}}<extra></extra>",
        ))
    style(fig, title, options, "interest (100 = peak of this request)")
    data = frame[["date", "framework", "value", "subject", "below_one", "source", "variant", "citation"]]
    missing = [registry.display_name(f) for f in options.frameworks if f not in set(frame["framework"])]
    notes = [RELATIVE_NOTE, BELOW_ONE_NOTE] + ([f"Not in this request: {', '.join(missing)}."] if missing else [])
    if any(is_other(f) for f in set(frame["framework"])):
        notes.append(OTHER_TERMS_NOTE)
    until = incomplete_after(frame.assign(partial=False))
    if until is not None and (frame["date"] > until).any():
        notes.append(f"Points after {until.date()} are incomplete (the period had not ended when the data was downloaded): "
                     "drawn, never headlined or used to judge a claim.")
    return ChartResult(fig, data, title, _provenance(request), as_of(frame["date"]), "relative interest (0-100), as stored", notes)


@chart("trends-share", "Google Trends: share of search interest", page="trends")
def share_chart(con: duckdb.DuckDBPyConnection, options: ChartOptions) -> ChartResult:
    frame, request, series = _frame_for(con, options)
    title = "Share of search interest among the chosen frameworks"
    if request is None or frame.empty:
        fig = empty_figure("No Google Trends data for the chosen frameworks.", options)
        return ChartResult(fig, frame, title, [], "no data", "share of the chosen total", [])
    shares = share(frame)
    fig = go.Figure()
    for fid in series:
        points = shares[shares["framework"] == fid]
        if points.empty:
            continue
        name, line = _style_for(fid, frame, series)
        fig.add_trace(go.Scatter(
            x=points["date"], y=points["share"], name=name, mode="lines", stackgroup="share",
            line={**line, "width": 0.5},
            hovertemplate=f"<b>{name}</b><br>%{{x|%Y-%m-%d}}<br>%{{y:.1%}}<extra></extra>",
        ))
    style(fig, f"{title} ({_request_text(request)})", options, "share of chosen frameworks' interest")
    fig.update_yaxes(tickformat=".0%", range=[0, 1], type="linear")
    data = shares[["date", "framework", "value", "share", "source", "variant"]]
    notes = [RELATIVE_NOTE, "Share = a series' interest / the sum over the chosen frameworks and terms on that date (dates where all are 0 left out)."]
    return ChartResult(fig, data, title, _provenance(request), as_of(shares["date"]), "share of the chosen total", notes)


# --- Claim series ------------------------------------------------------------------------------

WINDOW_MONTHS = 3  # claims read 3-month means: weekly values are noisy and rounded
ROUNDING = 1.0  # Trends values are whole numbers relative to one request: a gap of 1 point is noise


def step_period(frame: pd.DataFrame) -> str:
    """'D', 'W' or 'M': the spacing of a request's points."""
    dates = pd.Series(sorted(frame["date"].unique()))
    step = dates.diff().dt.days.median() if len(dates) > 1 else 7
    return "D" if step <= 1 else "W" if step <= 8 else "M"


def incomplete_after(frame: pd.DataFrame) -> pd.Timestamp | None:
    """The last date of a complete period: points flagged partial by Google, or whose week (or month)
    had not ended when they were retrieved, come after it. None when every point is complete."""
    if frame.empty:
        return None
    dates = pd.Series(sorted(frame["date"].unique()))
    period = step_period(frame)
    span = pd.Timedelta(days={"D": 0, "W": 6, "M": 30}[period])
    retrieved = pd.to_datetime(frame["retrieved_at"]).max()
    partial = frame.loc[frame["partial"].astype(bool), "date"] if "partial" in frame else pd.Series([], dtype="datetime64[ns]")
    bad = set(partial) | {d for d in dates if d + span >= retrieved.normalize()}
    if not bad:
        return None
    good = [d for d in dates if d < min(bad)]
    return max(good) if good else dates.min() - pd.Timedelta(days=1)


def interest_with_partial(con: duckdb.DuckDBPyConnection, request: pd.Series, frameworks: list[str]) -> pd.DataFrame:
    frame = interest(con, request, frameworks)
    flags = con.execute(
        """SELECT date, framework, coalesce(detail LIKE '%"partial": true%', false) AS partial FROM observations """
        "WHERE metric = ? AND source = ? AND variant = ?", [METRIC, request["source"], request["variant"]]).df()
    flags["date"] = pd.to_datetime(flags["date"])
    return frame.merge(flags, on=["date", "framework"], how="left").fillna({"partial": False})


@_claims.provides("google_trends_interest", "trends_interest")
def claim_interest(con: duckdb.DuckDBPyConnection, spec: _claims.Spec) -> _claims.Series:
    """One stored request holding every framework of the claim: worldwide first, covering the claim's window."""
    requests = requests_frame(con)
    wanted = set(spec.frameworks)
    if not requests.empty:
        requests = requests[requests["frameworks"].map(lambda fs: wanted <= set(fs))]
    names = " and ".join(registry.display_name(f) for f in spec.frameworks)
    if requests.empty:
        raise _claims.NotCheckable(f"No stored Google Trends request holds {names}.")
    requests = requests.assign(world=(requests["geo"] == "Worldwide").astype(int),
                               span=(requests["last_date"] - requests["first_date"]).dt.days)
    window = spec.window
    if window is not None:
        covering = requests[(requests["first_date"] <= window.hi - pd.DateOffset(months=WINDOW_MONTHS))
                            & (requests["last_date"] >= window.hi - pd.Timedelta(days=31))]
        if covering.empty:
            spans = "; ".join(f"{r.geo} {r.first_date.date()} to {r.last_date.date()}" for r in requests.itertuples())
            raise _claims.NotCheckable(
                f"The stored requests ({spans}) do not reach {window.label}; fetch one that does, e.g. "
                f"`pulse ingest trends --timeframe \"{window.lo.date()} {window.hi.date()}\"`.")
        request = covering.sort_values(["world", "first_date", "retrieved_at"], ascending=[False, True, False]).iloc[0]
    else:
        request = requests.sort_values(["last_date", "world", "span", "retrieved_at"], ascending=False).iloc[0]
    frame = interest_with_partial(con, request, spec.frameworks)
    return _claims.Series(
        frame[["date", "framework", "value"]], "Google search interest (0-100, relative to one request)",
        f"{SOURCE_LABELS.get(request['source'], request['source'])}, {_request_text(request)}", "index",
        basis=f"one request (variant '{request['variant']}'), values read as {WINDOW_MONTHS}-month means; a gap within "
              f"{ROUNDING:g} point is inside Trends' integer rounding",
        noise=ROUNDING, complete_until=incomplete_after(frame), smooth_months=WINDOW_MONTHS, period=step_period(frame),
        page=f"/trends?trends_request={request['key']}&frameworks={','.join(spec.frameworks)}",
    )
