"""Shared by both Google Trends routes (pytrends and the web UI's CSV): variants and rows.

A variant names one request: `<geo>|<timeframe>` plus `|<id+id...>` when the request did not
hold every framework of the registry (values are relative to the terms requested together).
`<geo>` is `world` or the ISO 3166 code Google uses (`US`, `US-CA`) on both routes, so the
same request is the same variant whether it came from pytrends or a CSV. A term that matches
no framework (kept with --keep-unknown) is stored under its own id, `term:<text>` (case kept,
`%`, `|`, `+` and control characters percent-escaped so the variant stays unambiguous).
A load replaces its whole variant, so a variant always holds exactly one request on one
scale: a later request for the same window rescales every point, and mixing the two would
put different scales in one series.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse

import duckdb
import pandas as pd

from pulse import registry, store

METRIC = "trends_interest"
WORLD = "world"
EXPLORE_URL = "https://trends.google.com/trends/explore"


def geo_label(geo: str | None) -> str:
    return geo.strip() if geo and geo.strip() else WORLD


TERM_PREFIX = "term:"
CATEGORY_PREFIX = "category:"
_ESCAPE = re.compile(r"[%|+\x00-\x1f\x7f]")


def _escape(text: str) -> str:
    return _ESCAPE.sub(lambda m: f"%{ord(m.group()):02X}", " ".join(text.split()))


def term_id(term: str) -> str:
    """The id a search term no framework lists is stored under: 'term:deep learning' (case kept)."""
    return TERM_PREFIX + _escape(term)


def category_id(category: str) -> str:
    """The id of a category-only export's series: 'category:Games'."""
    return CATEGORY_PREFIX + _escape(category)


def is_own_id(framework_id: str) -> bool:
    """True for a kept unknown term or a category, False for a registry framework."""
    return framework_id.startswith((TERM_PREFIX, CATEGORY_PREFIX))


def trend_frameworks() -> list[str]:
    """Registry frameworks that have a Google Trends term, in registry order."""
    return [f.id for f in registry.frameworks().values() if f.trends]


def variant_for(geo: str, timeframe: str, framework_ids: list[str]) -> str:
    variant = f"{geo_label(geo)}|{timeframe}"
    if sorted(framework_ids) != sorted(trend_frameworks()):
        variant += "|" + "+".join(sorted(framework_ids))
    return variant


def explore_url(terms: list[str], geo: str, timeframe: str) -> str:
    """The Trends web page for this request (where a user downloads the same CSV); geo is an ISO code or world."""
    params = {"date": timeframe}
    if terms:
        params["q"] = ",".join(terms)
    if geo_label(geo) != WORLD:
        params["geo"] = geo_label(geo)
    return f"{EXPLORE_URL}?{urllib.parse.urlencode(params, quote_via=urllib.parse.quote)}"


def rows(
    values: pd.DataFrame,
    below_one: pd.DataFrame,
    *,
    source: str,
    term_ids: dict[str, str],
    variant: str,
    citation: str,
    raw_file: str,
    detail: dict,
    per_term_detail: dict[str, dict] | None = None,
    partial_dates: set | None = None,
) -> pd.DataFrame:
    """Observation rows from a wide frame (index = dates, one column per term)."""
    if values.empty:
        return pd.DataFrame()
    long = values.rename_axis("date").reset_index().melt(id_vars="date", var_name="subject", value_name="value").dropna(subset=["value"])
    flags = below_one.reindex(index=values.index, columns=values.columns).fillna(False).astype(bool)
    long["below_one"] = flags.rename_axis("date").reset_index().melt(id_vars="date", var_name="subject", value_name="b").loc[long.index, "b"]
    long["date"] = pd.to_datetime(long["date"]).dt.date
    partial = set(partial_dates or ())

    def row_detail(subject: str, below: bool, day) -> dict:
        flags = ({"below_one": True} if below else {}) | ({"partial": True} if day in partial else {})
        return {**detail, **(per_term_detail or {}).get(subject, {}), **flags}

    long["detail"] = [row_detail(t, b, d) for t, b, d in zip(long["subject"], long["below_one"], long["date"], strict=True)]
    return long.drop(columns="below_one").assign(
        source=source, framework=long["subject"].map(term_ids), metric=METRIC, variant=variant,
        citation=citation, raw_file=raw_file, value=long["value"].astype(float),
    ).reset_index(drop=True)


def replace_variant(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, run_id: str, retrieved_at: dt.datetime | None = None) -> int:
    """Delete every row of the frame's (source, variant) pairs, then store the frame."""
    for source, variant in frame[["source", "variant"]].drop_duplicates().itertuples(index=False):
        con.execute("DELETE FROM observations WHERE source = ? AND metric = ? AND variant = ?", [source, METRIC, variant])
    return store.upsert_observations(con, frame, run_id=run_id, retrieved_at=retrieved_at)
