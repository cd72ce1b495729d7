"""`pulse ingest huggingface`: models per framework from the Hub API (resumable) or a hub-stats file."""

from __future__ import annotations

from pathlib import Path

import click


def _crawls(path: Path) -> list[dict]:
    from pulse import db

    con = db.open_read(path)
    try:
        if not db.table_exists(con, "hf_crawl"):
            return []
        return con.execute("SELECT * FROM hf_crawl ORDER BY tag").df().to_dict("records")
    finally:
        con.close()


def register(main: click.Group, ingest: click.Group) -> None:
    # Imported here, not at module level: pulse.cli imports this module while it is being built,
    # so importing this module first would find pulse.cli half made.
    from pulse.cli import db_option, resolve_db

    @ingest.command("huggingface")
    @db_option
    @click.option("--framework", "frameworks", multiple=True, metavar="ID",
                  help="Registry framework id to crawl (repeatable; default: every framework with Hub tags).")
    @click.option("--max-pages", type=click.IntRange(min=1), default=None,
                  help="Stop after this many API pages (1,000 models each); the next run resumes.")
    @click.option("--refresh", is_flag=True,
                  help="Crawl again tags whose crawl completed in the last 3 days (skipped by default).")
    @click.option("--replay", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Load the saved pages of an earlier run (data/raw/huggingface/RUN_ID) instead of fetching.")
    @click.option("--hub-stats", "hub_stats", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Read a whole-Hub models.parquet (dataset cfahlgren1/hub-stats) instead of the API.")
    def ingest_huggingface(db: Path | None, frameworks: tuple[str, ...], max_pages: int | None, refresh: bool,
                           replay: Path | None, hub_stats: Path | None) -> None:
        """Count Hugging Face Hub models per framework tag, by creation month.

        The API crawl saves its cursor per tag, so an interrupted or --max-pages run
        resumes where it stopped; metrics are recounted once a framework's crawl is
        complete. HF_TOKEN (optional) raises the rate limit; it is never logged.

        \b
        Example:
            pulse ingest huggingface --framework tensorflow --framework keras --max-pages 20
            pulse ingest huggingface --hub-stats ~/Downloads/models.parquet
            pulse ingest huggingface --replay data/raw/huggingface/3f2a9c1b7d0e
        """
        from ingest import huggingface

        path = resolve_db(db)
        run = huggingface.run(path, list(frameworks) or None, max_pages, hub_stats, refresh=refresh, replay=replay)
        detail = run.detail
        if hub_stats is not None:
            click.echo(f"{path}: {detail.get('rows', 0):,} models in {detail.get('file')} (as of {detail.get('as_of')}); "
                       f"stored {run.rows:,} observations (source hub_stats).")
            return
        if replay is not None:
            click.echo(f"{path}: replayed {sum(detail['pages'].values()):,} saved pages ({detail['models']:,} models) "
                       f"from {detail['replayed']}; stored {run.rows:,} observations.")
            return
        pages = sum((detail.get("pages") or {}).values())
        click.echo(f"{path}: fetched {pages:,} pages ({detail.get('models', 0):,} models, "
                   f"{detail.get('skipped', 0):,} malformed entries skipped) in {run.requests:,} requests; "
                   f"stored {run.rows:,} observations.")
        for note in detail.get("notes") or []:
            click.echo(f"  note: {note}")
        for row in _crawls(path):
            click.echo(f"  {row['tag']:<14} {row['status']:<12} {row['pages']:>6,} pages {row['models']:>9,} models"
                       f" {row['skipped']:>5,} skipped")
        if run.status == "partial":
            message = f"Partial run: {run.error}"
            stored = run.rows or detail.get("models")
            # Only a --max-pages stop that kept some models is a normal outcome; anything else fails the command.
            if not stored or not (run.error or "").startswith("--max-pages"):
                raise click.ClickException(message + ("" if stored else " Nothing was stored."))
            click.echo(message)
