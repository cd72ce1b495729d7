"""`pulse ingest github`: current counts and star history from the GitHub REST API."""

from __future__ import annotations

from pathlib import Path

import click

from pulse.errors import SourceError


def register(main: click.Group, ingest: click.Group) -> None:
    # Imported here, not at module level: pulse.cli imports this module while it is being built,
    # so importing this module first would find pulse.cli half made.
    from pulse.cli import db_option, resolve_db

    @ingest.command("github")
    @db_option
    @click.option("--framework", "frameworks", multiple=True, metavar="ID",
                  help="Only this framework (repeatable); default: every repository the registry lists.")
    @click.option("--replay", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                  help="Load recorded raw responses from this directory (e.g. data/raw/github) instead of the network.")
    def ingest_github(db: Path | None, frameworks: tuple[str, ...], replay: Path | None) -> None:
        """Fetch stars, forks, open issues, watchers and exact star history from GitHub.

        Requests are conditional (ETags): an unchanged refresh costs only 304 answers.
        GITHUB_TOKEN (environment or .streamlit/secrets.toml) raises the limit from 60
        to 5,000 requests/hour; GITHUB_API_URL points at another API server. The first
        connection failure stops the run with one message; no answer may take over 60 s.

        \b
        Example:
            pulse ingest github
            pulse ingest github --framework jax --framework pytorch
            pulse ingest github --replay data/raw/github
        """
        from ingest import github

        path = resolve_db(db)
        try:
            run = github.run(path, list(frameworks) or None, replay=replay)
        except SourceError as exc:  # a spent rate limit or an unusable server after some repositories were stored
            if getattr(exc, "run", None) is not None:
                click.echo(github.summary(exc.run))
            raise
        click.echo(github.summary(run))
