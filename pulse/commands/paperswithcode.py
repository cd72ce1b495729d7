"""`pulse ingest paperswithcode`: the Papers with Code archive from the Hugging Face Hub."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def register(main: click.Group, ingest: click.Group) -> None:
    # Imported here, not at module level: pulse.cli imports this module while it is being built,
    # so importing this module first would find pulse.cli half made.
    from pulse.cli import db_option, resolve_db

    @ingest.command("paperswithcode")
    @db_option
    @click.option("--from", "from_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Load already-downloaded parquet files instead of downloading: every *.parquet under "
                       "<folder>/links-between-paper-and-code/ and <folder>/papers-with-abstracts/.")
    @click.option("--revision", default="main", show_default=True,
                  help="Dataset revision on the Hub: branch, tag or 40-hex commit.")
    @click.option("--progress/--no-progress", default=None,
                  help="Progress bar on stderr (default: only when stderr is a terminal; logs otherwise).")
    @click.option("--force", is_flag=True, help="Reload and recompute even when the files are those of the last load.")
    @click.option("--replace", is_flag=True,
                  help="Store the load even when it has less than what is stored (no links, or frameworks that lose their share).")
    def ingest_paperswithcode(db: Path | None, from_dir: Path | None, revision: str, progress: bool | None, force: bool,
                              replace: bool) -> None:
        """Framework share of paper implementations per quarter, from the Papers with Code archive.

        Lists the parquet files of pwc-archive/links-between-paper-and-code and
        pwc-archive/papers-with-abstracts on $HF_ENDPOINT (default https://huggingface.co;
        $HF_TOKEN optional) and downloads every one into $PULSE_RAW_DIR/paperswithcode/,
        resuming an interrupted download and verifying size and sha256; a second run downloads
        nothing. A load with less than what is stored is refused unless --replace.

        \b
        Example:
            pulse ingest paperswithcode
            pulse ingest paperswithcode --from ~/Downloads/pwc --db /tmp/pulse.duckdb
        """
        from ingest import download, paperswithcode

        show = sys.stderr.isatty() if progress is None else progress
        callback = download.ProgressLine(sys.stderr) if show else None
        path = resolve_db(db)
        run = paperswithcode.run(path, revision=revision, from_dir=from_dir, progress=callback, force=force, replace=replace)
        detail = run.detail
        if detail.get("unchanged_since"):
            click.echo(f"{path}: archive files unchanged since run {detail['unchanged_since']}; "
                       f"{'nothing downloaded, ' if not detail.get('downloaded_bytes') else ''}nothing reloaded (--force reloads).")
            return
        files = detail.get("files", [])
        fetched = detail.get("downloaded_bytes", 0)
        origin = ("from " + str(from_dir)) if from_dir else (
            f"downloaded {fetched / 1e6:,.1f} MB" if fetched else "all files from cache, nothing downloaded")
        click.echo(
            f"{path}: {run.rows:,} observations from {detail.get('links', 0):,} links "
            f"({detail.get('links_dated', 0):,} dated) and {detail.get('papers', 0):,} papers; "
            f"{len(files)} files, {origin}. Run {run.run_id}: {run.status}."
        )
