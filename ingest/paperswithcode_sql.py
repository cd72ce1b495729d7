"""SQL for the Papers with Code archive: raw tables from parquet, and per-quarter observation rows.

Everything heavy runs inside DuckDB (parquet reader, joins, GROUP BY); Python only reshapes
the few thousand aggregated rows into observations.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from pulse import registry

NO_FRAMEWORK = "none"

# Raw tables pwc_papers / pwc_links: migration 30 in pulse/schema.py.


def _framework_map(con: duckdb.DuckDBPyConnection) -> None:
    mapping = pd.DataFrame(sorted(registry.by_key("pwc").items()), columns=["value", "framework_id"])
    con.execute("CREATE OR REPLACE TEMP TABLE _pwc_map (value VARCHAR, framework_id VARCHAR)")
    if not mapping.empty:
        con.register("_pwc_map_in", mapping)
        con.execute("INSERT INTO _pwc_map SELECT value, framework_id FROM _pwc_map_in")
        con.unregister("_pwc_map_in")


def load_raw(con: duckdb.DuckDBPyConnection, links: list[str], papers: list[str]) -> dict:
    """Replace pwc_papers and pwc_links from the parquet files; return counts for the run record."""
    _framework_map(con)
    con.execute("DELETE FROM pwc_links")
    con.execute("DELETE FROM pwc_papers")
    # One row per paper_url (the archive may repeat a paper): earliest date wins.
    con.execute(
        """
        INSERT INTO pwc_papers
        SELECT paper_url, any_value(arxiv_id), any_value(title), min(TRY_CAST(date AS DATE)), any_value(proceeding)
        FROM read_parquet(?) WHERE paper_url IS NOT NULL GROUP BY paper_url
        """,
        [papers],
    )
    con.execute(
        f"""
        INSERT INTO pwc_links
        SELECT l.paper_url, l.repo_url, l.is_official, l.mentioned_in_paper, l.mentioned_in_github, l.raw,
               CASE WHEN l.raw IS NULL OR l.raw IN ('', '{NO_FRAMEWORK}') THEN '{NO_FRAMEWORK}'
                    ELSE coalesce(m.framework_id, l.raw) END,
               p.date
        FROM (SELECT *, lower(trim(framework)) AS raw FROM read_parquet(?) WHERE paper_url IS NOT NULL) l
        LEFT JOIN _pwc_map m ON m.value = l.raw
        LEFT JOIN pwc_papers p ON p.paper_url = l.paper_url
        """,
        [links],
    )
    row = con.execute(
        """
        SELECT (SELECT count(*) FROM pwc_papers), (SELECT count(*) FROM pwc_papers WHERE date IS NOT NULL),
               count(*), count(paper_date), count(*) - count(DISTINCT (paper_url, repo_url))
        FROM pwc_links
        """
    ).fetchone()
    return {"papers": row[0], "papers_dated": row[1], "links": row[2], "links_dated": row[3],
            "links_unmatched_or_undated": row[2] - row[3], "links_duplicate_pairs": row[4]}


def raw_framework_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Every `framework` value in the archive with its link count (the full list, never hard-coded)."""
    rows = con.execute("SELECT coalesce(framework_raw, '(null)'), count(*) FROM pwc_links GROUP BY 1 ORDER BY 2 DESC").fetchall()
    return {value: count for value, count in rows}


def last_paper_date(con: duckdb.DuckDBPyConnection) -> pd.Timestamp | None:
    value = con.execute("SELECT max(date) FROM pwc_papers WHERE date <= current_date").fetchone()[0]
    return pd.Timestamp(value) if value is not None else None


def _quarter_label(dates: pd.Series) -> pd.Series:
    return dates.dt.year.astype(str) + "-Q" + dates.dt.quarter.astype(str)


def observations(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per-quarter observation rows (date = first day of the quarter) from pwc_links / pwc_papers."""
    counts = con.execute(
        """
        SELECT CAST(date_trunc('quarter', paper_date) AS DATE) AS date, framework,
               count(*) AS n, count(*) FILTER (WHERE is_official) AS n_off,
               string_agg(DISTINCT coalesce(framework_raw, '(null)'), ', ' ORDER BY coalesce(framework_raw, '(null)')) AS raw
        FROM pwc_links WHERE paper_date IS NOT NULL GROUP BY ALL
        """
    ).df()
    papers = con.execute(
        """
        SELECT CAST(date_trunc('quarter', p.date) AS DATE) AS date, count(*) AS papers,
               count(l.paper_url) AS with_code, count(*) FILTER (WHERE l.official) AS with_official
        FROM pwc_papers p
        LEFT JOIN (SELECT paper_url, bool_or(coalesce(is_official, false)) AS official FROM pwc_links GROUP BY paper_url) l
          ON l.paper_url = p.paper_url
        WHERE p.date IS NOT NULL GROUP BY 1
        """
    ).df()
    # Distinct papers (a paper with five repositories counts once): for claims about "papers".
    distinct = con.execute(
        """
        WITH per_paper AS (
            SELECT CAST(date_trunc('quarter', paper_date) AS DATE) AS date, paper_url, framework
            FROM pwc_links WHERE paper_date IS NOT NULL GROUP BY ALL
        )
        SELECT p.date, p.framework, count(*) AS n, b.papers AS base, b.papers_known AS base_known
        FROM per_paper p JOIN (
            SELECT date, count(DISTINCT paper_url) AS papers,
                   count(DISTINCT paper_url) FILTER (WHERE framework <> 'none') AS papers_known
            FROM per_paper GROUP BY date
        ) b USING (date)
        GROUP BY ALL
        """
    ).df()
    pair = con.execute(
        """
        SELECT CAST(date_trunc('quarter', paper_date) AS DATE) AS date,
               count(DISTINCT paper_url) FILTER (WHERE framework = 'pytorch') AS pytorch,
               count(DISTINCT paper_url) FILTER (WHERE framework = 'tensorflow') AS tensorflow,
               count(DISTINCT paper_url) FILTER (WHERE framework IN ('pytorch', 'tensorflow')) AS base
        FROM pwc_links WHERE paper_date IS NOT NULL GROUP BY 1 HAVING base > 0
        """
    ).df()
    if counts.empty and papers.empty:
        return pd.DataFrame()
    last = last_paper_date(con)
    frames = [_implementation_rows(counts), _relative_rows(counts), _paper_rows(papers), _distinct_paper_rows(distinct, pair)]
    out = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    out["date"] = pd.to_datetime(out["date"])
    quarter_end = out["date"] + pd.offsets.QuarterEnd(0)
    complete = quarter_end <= last if last is not None else pd.Series(False, index=out.index)
    labels = _quarter_label(out["date"])
    out["detail"] = [
        {**d, "quarter": q, "complete": bool(c)} for d, q, c in zip(out["detail"], labels, complete, strict=True)
    ]
    return out


def _implementation_rows(counts: pd.DataFrame) -> pd.DataFrame:
    if counts.empty:
        return pd.DataFrame()
    c = counts.copy()
    by_date = c.groupby("date")
    c["base_all"] = by_date["n"].transform("sum")
    c["base_known"] = c["n"].where(c["framework"] != NO_FRAMEWORK, 0).groupby(c["date"]).transform("sum")
    c["base_off"] = by_date["n_off"].transform("sum")
    c["subject"] = "framework value(s): " + c["raw"]
    rows = []

    def add(frame: pd.DataFrame, metric: str, variant: str, value: pd.Series, count: pd.Series, base: pd.Series | None) -> None:
        part = frame[["date", "framework", "subject"]].assign(metric=metric, variant=variant, value=value)
        part["detail"] = [
            {"count": int(n)} | ({"base": int(b)} if base is not None else {})
            for n, b in zip(count, base if base is not None else count, strict=True)
        ]
        rows.append(part)

    add(c, "pwc_implementations", "all", c["n"], c["n"], None)
    off = c[c["n_off"] > 0]
    add(off, "pwc_implementations", "official", off["n_off"], off["n_off"], None)
    add(c, "pwc_implementation_share", "all", c["n"] / c["base_all"], c["n"], c["base_all"])
    known = c[(c["framework"] != NO_FRAMEWORK) & (c["base_known"] > 0)]
    add(known, "pwc_implementation_share", "known", known["n"] / known["base_known"], known["n"], known["base_known"])
    official = c[c["base_off"] > 0]
    add(official, "pwc_implementation_share", "official", official["n_off"] / official["base_off"], official["n_off"], official["base_off"])
    return pd.concat(rows, ignore_index=True)


def _relative_rows(counts: pd.DataFrame) -> pd.DataFrame:
    """PyTorch / (PyTorch + TensorFlow) and its complement, per quarter (links, and official links)."""
    if counts.empty:
        return pd.DataFrame()
    rows = []
    for variant, column in (("all", "n"), ("official", "n_off")):
        wide = counts.pivot_table(index="date", columns="framework", values=column, aggfunc="sum").reindex(
            columns=["pytorch", "tensorflow"]).fillna(0)
        pair = wide["pytorch"] + wide["tensorflow"]
        wide = wide[pair > 0]
        pair = pair[pair > 0]
        for fid in ("pytorch", "tensorflow"):
            rows.append(pd.DataFrame({
                "date": wide.index, "framework": fid, "metric": "pwc_implementation_share_relative", "variant": variant,
                "value": (wide[fid] / pair).to_numpy(), "subject": "PyTorch + TensorFlow implementations",
                "detail": [{"count": int(n), "base": int(b)} for n, b in zip(wide[fid], pair, strict=True)],
            }))
    return pd.concat(rows, ignore_index=True)


def _paper_rows(papers: pd.DataFrame) -> pd.DataFrame:
    if papers.empty:
        return pd.DataFrame()
    p = papers[papers["papers"] > 0]
    rows = []
    for metric, variant, value, count in (
        ("pwc_papers", "all", p["papers"], p["papers"]),
        ("pwc_papers", "with_code", p["with_code"], p["with_code"]),
        ("pwc_papers", "with_official_code", p["with_official"], p["with_official"]),
        ("pwc_papers_with_code_share", "any", p["with_code"] / p["papers"], p["with_code"]),
        ("pwc_papers_with_code_share", "official", p["with_official"] / p["papers"], p["with_official"]),
    ):
        rows.append(pd.DataFrame({
            "date": p["date"], "framework": "all", "metric": metric, "variant": variant, "value": value.to_numpy(),
            "subject": "papers in the archive with a date",
            "detail": [{"count": int(n), "base": int(b)} for n, b in zip(count, p["papers"], strict=True)],
        }))
    return pd.concat(rows, ignore_index=True)


def _distinct_paper_rows(distinct: pd.DataFrame, pair: pd.DataFrame) -> pd.DataFrame:
    """Shares of distinct papers (variants `papers`, `papers_known`), beside the link shares.

    `papers`: papers with at least one link of the framework / papers with any code link in the
    quarter; `papers_known`: / papers with a link of a known framework. A paper with links of
    two frameworks counts for both, so these shares can sum past 100%. The relative variant
    `papers`: papers with a PyTorch link / papers with a PyTorch or a TensorFlow link.
    """
    rows = []
    if not distinct.empty:
        d = distinct.assign(subject="papers with a code link of this framework")
        for variant, base in (("papers", "base"), ("papers_known", "base_known")):
            part = d[(d[base] > 0) & ((d["framework"] != NO_FRAMEWORK) | (variant == "papers"))]
            rows.append(part[["date", "framework", "subject"]].assign(
                metric="pwc_implementation_share", variant=variant, value=(part["n"] / part[base]).to_numpy(),
                detail=[{"count": int(n), "base": int(b), "unit": "papers"} for n, b in zip(part["n"], part[base], strict=True)]))
    if not pair.empty:
        for fid in ("pytorch", "tensorflow"):
            rows.append(pd.DataFrame({
                "date": pair["date"], "framework": fid, "metric": "pwc_implementation_share_relative", "variant": "papers",
                "value": (pair[fid] / pair["base"]).to_numpy(), "subject": "papers with a PyTorch or TensorFlow code link",
                "detail": [{"count": int(n), "base": int(b), "unit": "papers"} for n, b in zip(pair[fid], pair["base"], strict=True)],
            }))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
