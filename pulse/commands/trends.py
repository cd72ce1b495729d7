"""`pulse ingest trends` (pytrends) and `pulse ingest trends-csv` (files saved from the web UI)."""

from __future__ import annotations

from pathlib import Path

import click


def register(main: click.Group, ingest: click.Group) -> None:
    # Imported here, not at module level: pulse.cli imports this module while it is being built,
    # so importing this module first would find pulse.cli half made.
    from pulse.cli import db_option, resolve_db

    @ingest.command("trends")
    @db_option
    @click.option("--timeframe", default="today 5-y", show_default=True,
                  help="Google Trends timeframe: 'today 5-y', 'today 12-m', 'all' or 'YYYY-MM-DD YYYY-MM-DD'.")
    @click.option("--geo", default="", help="Country code such as US or DE (default: worldwide).")
    @click.option("--framework", "frameworks", multiple=True, metavar="ID",
                  help="Framework id (repeatable; default: every framework with a Trends term).")
    @click.option("--replay", "replay_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
                  help="Re-load a raw file kept by an earlier run (PULSE_RAW_DIR/trends/...) instead of fetching.")
    def ingest_trends(db: Path | None, timeframe: str, geo: str, frameworks: tuple[str, ...], replay_file: Path | None) -> None:
        """Fetch Google Trends search interest with pytrends and store it on one scale.

        More than 5 terms are requested in batches sharing an anchor term and stitched onto one
        scale. On HTTP 429 it backs off (with jitter, at most PULSE_TRENDS_MAX_WAIT seconds in
        total); if Google keeps refusing it stops and names the CSV route instead.

        \b
        Example:
            pulse ingest trends --timeframe "today 5-y" --geo US --framework pytorch --framework tensorflow
            pulse ingest trends --replay data/raw/trends/2026-11-23-0123456789ab.json
        """
        from ingest import trends

        path = resolve_db(db)
        run = trends.run(path, timeframe=timeframe, geo=geo, frameworks=list(frameworks) or None,
                         replay_file=replay_file)
        variant = run.detail.get("variant", "")
        how = f"replayed from {replay_file}" if replay_file else f"from {run.requests} requests"
        click.echo(f"{path}: stored {run.rows} Google Trends points ({variant}) {how}.")
        if run.status == "partial":
            click.echo(f"Warning: {run.error}", err=True)

    @ingest.command("trends-csv")
    @db_option
    @click.option("--keep-unknown", is_flag=True,
                  help="Also store search terms that match no framework, each under its own name (shown beside the frameworks).")
    @click.option("--geo", default=None, metavar="CODE",
                  help="The region as an ISO 3166 code (US, BR, US-CA) or 'world', for a file whose header names none "
                       "or names a region that cannot be mapped.")
    @click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
    def ingest_trends_csv(db: Path | None, keep_unknown: bool, geo: str | None, files: tuple[Path, ...]) -> None:
        """Import 'Interest over time' CSV files downloaded from the Google Trends web page.

        Files saved in any interface language are read: terms and region come from each file's
        header (the region mapped to its ISO 3166 code, or 'world'), terms are mapped to
        frameworks through pulse/frameworks.toml. Every file is checked first: one bad file and
        nothing is stored.

        \b
        Example:
            pulse ingest trends-csv ~/Downloads/multiTimeline.csv
            pulse ingest trends-csv --keep-unknown multiTimeline.csv   # also "deep learning", ...
        """
        from ingest import trends_csv

        path = resolve_db(db)
        run = trends_csv.run(path, list(files), keep_unknown=keep_unknown, geo=geo)
        for item in run.detail.get("files", []):
            series = item["frameworks"] + [f"'{t}'" for t in item.get("unknown", [])]
            click.echo(f"{item['file']}: {item['rows']} points, {', '.join(series)} ({item['variant']})")
        click.echo(f"{path}: stored {run.rows} Google Trends points from {len(files)} file(s).")
