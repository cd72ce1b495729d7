"""Hugging Face Hub bulk path: a whole-Hub models.parquet snapshot read with DuckDB (source `hub_stats`).

The file (dataset cfahlgren1/hub-stats, about 2 million rows) is scanned once: the columns
are checked with DESCRIBE (creation time as `createdAt` or `created_at`; `tags` as a list or
a string; `library_name` only where it exists), then one GROUP BY reduces it to a small table
from which ingest/huggingface_metrics.py computes every metric. Nothing per model is stored.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import duckdb
import pandas as pd

from ingest import huggingface_metrics as metrics
from pulse import config, db, registry, store
from pulse.errors import SourceError

NAME = "hub_stats"
DESCRIPTION = "Hugging Face Hub bulk snapshot (hub-stats models.parquet): the same metrics, plus totals and library_name"
CITATION = "https://huggingface.co/datasets/cfahlgren1/hub-stats (models.parquet)"
CREATED_COLUMNS = ("createdAt", "created_at")
SERIES_METRICS = ("hf_models", "hf_models_new", "hf_model_share", "hf_tf_keras_models_also_pytorch", "hf_models_total")

log = logging.getLogger(__name__)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def describe(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    """Column name -> DuckDB type of the file; SourceError when it is missing or not Parquet."""
    if not path.is_file():
        raise SourceError(f"No hub-stats file at {path}.", "Download models.parquet from the cfahlgren1/hub-stats dataset and pass its path.")
    try:
        rows = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise SourceError(f"Cannot read {path} as Parquet: {str(exc).splitlines()[0]}.", "Pass the models.parquet file of the hub-stats dataset.") from None
    return {row[0]: row[1] for row in rows}


def column_sql(columns: dict[str, str], path: Path) -> tuple[str, str, str | None, dict]:
    """SQL for creation time (naive UTC), tags (a list) and library_name, by what DESCRIBE says."""
    created_col = next((c for c in CREATED_COLUMNS if c in columns), None)
    if created_col is None or "tags" not in columns:
        raise SourceError(
            f"{path} lacks {'a creation-time column (createdAt or created_at)' if created_col is None else 'a tags column'}; "
            f"it has: {', '.join(columns)}.",
            "Pass the models.parquet file of the hub-stats dataset.",
        )
    ctype, ttype = columns[created_col].upper(), columns["tags"].upper()
    created = _quote(created_col)
    # As UTC epoch microseconds: no time-zone conversion per row for timestamp columns.
    if ctype.startswith("TIMESTAMP"):
        created = f"epoch_us({created})"
    elif ctype == "VARCHAR":
        created = f"epoch_us(TRY_CAST({created} AS TIMESTAMPTZ))"
    elif ctype == "DATE":
        created = f"epoch_us(CAST({created} AS TIMESTAMP))"
    else:
        raise SourceError(f"{path}: column {created_col} has type {ctype}, not a timestamp or text.", "Check the file is hub-stats models.parquet.")
    tags = _quote("tags")
    if ttype.endswith("[]"):
        tags = f"CAST({tags} AS VARCHAR[])"
    elif ttype == "VARCHAR":
        # A JSON array as text, or comma-separated names.
        tags = (f"CASE WHEN starts_with(ltrim({tags}), '[') THEN from_json({tags}, '[\"VARCHAR\"]') "
                f"ELSE list_transform(string_split({tags}, ','), lambda x: trim(x)) END")
    else:
        raise SourceError(f"{path}: column tags has type {ttype}, not a list or text.", "Check the file is hub-stats models.parquet.")
    library = f"CAST({_quote('library_name')} AS VARCHAR)" if "library_name" in columns else None
    shape = {"created_column": created_col, "created_type": ctype, "tags_type": ttype, "library_name": library is not None}
    return created, tags, library, shape


EARLIEST = dt.date(1990, 1, 1)


def _as_date(us: int) -> str:
    try:
        return str((dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(us))).date())
    except (OverflowError, ValueError):
        return f"{int(us)} us after 1970"


def check_dates(con: duckdb.DuckDBPyConnection, path: Path, created: str) -> None:
    """Refuse the whole file when a creation time lies outside 1990-01-01 .. today + 1 year
    (such dates would expand into millions of monthly points)."""
    latest = dt.date.today() + dt.timedelta(days=366)
    low_us = int((dt.datetime.combine(EARLIEST, dt.time()) - dt.datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    high_us = int((dt.datetime.combine(latest, dt.time()) - dt.datetime(1970, 1, 1)).total_seconds() * 1_000_000)
    try:
        low, high, bad = con.execute(
            f"SELECT min(us), max(us), count(*) FILTER (WHERE us < ? OR us > ?) FROM (SELECT {created} AS us FROM read_parquet(?))",
            [low_us, high_us, str(path)]).fetchone()
    except duckdb.Error as exc:
        raise SourceError(f"Reading {path} failed: {str(exc).splitlines()[0]}.", "Check the file is a complete hub-stats models.parquet.") from None
    if bad:
        raise SourceError(
            f"{path}: {bad:,} creation times lie outside {EARLIEST}..{latest} (they run from {_as_date(low)} to {_as_date(high)}); "
            "the file was refused whole.",
            "Check the file is hub-stats models.parquet as the dataset publishes it (creation times are never before 1990 or in the future).",
        )


def read_file(path: Path, frameworks: list[str] | None = None) -> dict:
    """Scan the file once; return the grouped table and what is needed to turn it into metrics."""
    con = duckdb.connect()
    try:
        columns = describe(con, path)
        created, tags, library, shape = column_sql(columns, path)
        check_dates(con, path, created)
        bits = metrics.all_tags()
        try:
            agg = metrics.aggregate(con, "read_parquet(?)", [str(path)], created, tags, library, bits)
        except duckdb.Error as exc:
            raise SourceError(f"Reading {path} failed: {str(exc).splitlines()[0]}.", "Check the file is a complete hub-stats models.parquet.") from None
    finally:
        con.close()
    month_rows = agg[agg["kind"] == "month"]
    latest = pd.to_datetime(month_rows["latest"]).max()
    if pd.isna(latest):
        raise SourceError(f"{path} has no model with a creation time.", "Check the file is hub-stats models.parquet.")
    stat = path.stat()
    undated = int(month_rows.loc[month_rows["month"].isna() & month_rows["placeholder"].isna(), "n"].sum())
    chosen = [f for f in (frameworks or registry.ids()) if registry.get(f).hf_tags]
    return {
        "agg": agg, "bits": bits, "as_of": latest.date(), "rows": int(month_rows["n"].sum()), "undated": undated,
        "frameworks": chosen, "path": path,
        "detail": {**shape, "file_bytes": stat.st_size,
                   "file_mtime": dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
    }


def build(data: dict) -> pd.DataFrame:
    """Every metric of one file as observation rows (plain data in, rows out)."""
    agg, bits, as_of, chosen = data["agg"], data["bits"], data["as_of"], data["frameworks"]
    frames = [metrics.framework_metrics(agg, bits, {f: as_of for f in chosen}),
              metrics.total_metric(agg, as_of, data["rows"])]
    defaults = [f for f in registry.default_ids() if registry.get(f).hf_tags]
    frames.append(metrics.share_metrics(agg, bits, defaults, "default-frameworks", as_of))
    frames.append(metrics.share_metrics(agg, bits, list(metrics.hub_tags()), "all-registry", as_of))
    frames.append(metrics.also_pytorch_metric(agg, bits, as_of))
    frames.append(metrics.loadable_metrics(agg, bits, as_of))
    if data["detail"]["library_name"]:
        frames.append(metrics.library_metrics(agg, bits, chosen, as_of))
    frame = pd.concat([f for f in frames if not f.empty], ignore_index=True)
    extra = [c for c in ("tf_keras", "also_pytorch") if c in frame.columns]
    detail = {**data["detail"], "rows": data["rows"], "undated_rows": data["undated"], "snapshot_as_of": str(as_of)}
    counts = zip(*(frame[c].tolist() for c in extra), strict=True) if extra else ((),) * len(frame)
    frame["detail"] = [{**detail, **{c: int(v) for c, v in zip(extra, values, strict=True) if pd.notna(v)}} for values in counts]
    frame = frame.drop(columns=extra)
    tags = {f: ",".join(registry.get(f).hf_tags) for f in registry.ids()}
    frame["subject"] = frame["framework"].map(lambda f: f"tags: {tags[f]}" if f in tags else "all models")
    frame = metrics.describe_loadable(frame, metrics.uncertain_count(agg, bits))  # its subject, now that one exists
    return frame.assign(source=NAME, citation=CITATION, raw_file=config.display_path(data["path"]))


def save(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, run: store.Run) -> int:
    """Replace the cumulative series; keep library breakdowns of other snapshot dates."""
    series = frame[frame["metric"].isin(SERIES_METRICS)]
    con.execute(
        "DELETE FROM observations WHERE source = ? AND list_contains(?, metric) AND list_contains(?, framework)",
        [NAME, list(SERIES_METRICS), sorted(series["framework"].unique())],
    )
    dates = sorted({str(d) for d in frame.loc[frame["metric"] == "hf_models_by_library", "date"]})
    if dates:
        con.execute("DELETE FROM observations WHERE source = ? AND metric = 'hf_models_by_library' AND list_contains(?, CAST(date AS VARCHAR))",
                    [NAME, dates])
    return store.upsert_observations(con, frame, run_id=run.run_id)


def run(db_path: Path, path: Path, frameworks: list[str] | None = None) -> store.Run:
    """Load one hub-stats models.parquet; idempotent for the same file."""
    chosen = registry.validate(frameworks) if frameworks else None
    with store.tracked_run(db_path, NAME) as run_:
        data = read_file(Path(path), chosen)  # IO, no database lock held
        frame = build(data)
        run_.detail = {**data["detail"], "file": config.display_path(data["path"]), "rows": data["rows"],
                       "undated_rows": data["undated"], "as_of": str(data["as_of"])}
        with db.write_session(db_path) as con:
            run_.rows = save(con, frame, run_)
            run_.finish(con)
    return run_
