"""`pulse ingest pypi` and `pulse ingest stackoverflow`: the adoption signals (installs, questions)."""

from __future__ import annotations

from pathlib import Path

import click


FRAMEWORK_HELP = "Registry framework id (repeatable; default: every framework that lists some)."


def _finish(run, what: str) -> None:
    """A partial run that stored something is reported; one that stored nothing fails the command."""
    if run.status == "partial":
        if not run.rows:
            raise click.ClickException(f"Nothing new was stored. {run.error}")
        click.echo(f"Partial run: {run.error}")


def register(main: click.Group, ingest: click.Group) -> None:
    # Imported here, not at module level: pulse.cli imports this module while it is being built,
    # so importing this module first would find pulse.cli half made.
    from pulse.cli import db_option, resolve_db

    @ingest.command("pypi")
    @db_option
    @click.option("--framework", "frameworks", multiple=True, metavar="ID", help=FRAMEWORK_HELP)
    @click.option("--only", type=click.Choice(["pypistats", "clickpy"]), default=None,
                  help="Ask one service only (default: pypistats.org for the last 180 days and ClickPy for history).")
    @click.option("--replay", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Load the answers an earlier run kept (raw/pypi/RUN_ID) instead of fetching.")
    def ingest_pypi(db: Path | None, frameworks: tuple[str, ...], only: str | None, replay: Path | None) -> None:
        """Fetch daily PyPI downloads of each framework's packages (pypistats.org and ClickPy).

        Each package is its own series (torch, tensorflow, tensorflow-cpu, keras, jax, ...);
        only finished days are stored, and a later run asks only for days not stored yet.
        When one service cannot be reached, what the other gave is stored and the run is partial.

        \b
        Example:
            pulse ingest pypi
            pulse ingest pypi --framework tensorflow --only pypistats
            pulse ingest pypi --replay ~/.local/share/framework-pulse/raw/pypi/3f2a9c1b7d0e
        """
        from ingest import pypi

        path = resolve_db(db)
        if replay is not None:
            run = pypi.replay(path, replay)
            click.echo(f"{path}: replayed {run.detail['files']} saved answers from {run.detail['replayed']}; stored {run.rows:,} daily counts.")
            return
        run = pypi.run(path, list(frameworks) or None, services=(only,) if only else pypi.SERVICES)
        d = run.detail
        asked = ", ".join(f"{s} {d['asked'][s]} asked / {d['up_to_date'][s]} up to date" for s in d["services"])
        click.echo(f"{path}: {len(d['packages'])} packages ({asked}); stored {run.rows:,} daily counts in {run.requests:,} requests.")
        for name in d.get("unknown") or []:
            click.echo(f"  warning: {name}: check the name in pulse/frameworks.toml")
        _finish(run, "downloads")

    @ingest.command("stackoverflow")
    @db_option
    @click.option("--framework", "frameworks", multiple=True, metavar="ID", help=FRAMEWORK_HELP)
    @click.option("--max-requests", type=click.IntRange(min=1), default=None,
                  help="Stop after this many API requests (the back-fill resumes on the next run).")
    def ingest_stackoverflow(db: Path | None, frameworks: tuple[str, ...], max_requests: int | None) -> None:
        """Count Stack Overflow questions per month per framework tag, and each tag's total.

        Without STACKEXCHANGE_KEY the API allows 300 requests a day: the first back-fill takes
        several runs, each resuming after the last stored month and stopping before the quota
        is spent; after that a run asks only for months not stored yet. Only finished months
        are stored. The key is a secret: never logged or stored.

        \b
        Example:
            pulse ingest stackoverflow --framework pytorch --framework tensorflow
            STACKEXCHANGE_KEY=... pulse ingest stackoverflow
        """
        from ingest import stackoverflow

        path = resolve_db(db)
        run = stackoverflow.run(path, list(frameworks) or None, max_requests=max_requests)
        d = run.detail
        quota = f"; quota left {d['quota_remaining']:,} of {d['quota_max']:,}" if d.get("quota_remaining") is not None and d.get("quota_max") else ""
        click.echo(f"{path}: {d['months_asked']:,} months asked for {len(d['tags'])} tags; stored {run.rows:,} rows "
                   f"in {run.requests:,} requests{quota}.")
        for tag, last in sorted((d.get("stored_through") or {}).items()):
            state = "up to date" if last >= d["last_month"] else "back-fill continues next run"
            click.echo(f"  [{tag}] stored through {last[:7]} ({state})")
        for tag in d.get("no_questions") or []:
            click.echo(f"  [{tag}] has no questions on Stack Overflow: check the tag in pulse/frameworks.toml")
        _finish(run, "questions")
