"""The `pulse` command line: `pulse --help` lists the commands; each has an example."""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path

import click

from pulse import __version__, config
from pulse.errors import DatabaseError, explain

# Modules that add commands: each defines register(main, ingest).
COMMAND_MODULES: list[str] = [
    "pulse.commands.trends",
    "pulse.commands.github",
    "pulse.commands.paperswithcode",
    "pulse.commands.huggingface",
    "pulse.commands.adoption",
    "pulse.commands.export",
    "pulse.commands.probe",
    "pulse.commands.ops",
    "pulse.commands.claims",
]


DB_KEY = "pulse.db"  # ctx.meta key: the database the command resolved (meta is shared by nested contexts)


class PulseGroup(click.Group):
    """A group that turns expected failures into one clean `Error: ...` line and an exit code.

    The one pattern: code raises PulseError (or a library raises something errors.explain
    recognises: a damaged database block, a full disk, a path it cannot write); here it becomes
    a ClickException with the error's exit_code. Anything else is a bug and keeps its traceback.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:  # click's own exceptions pass: explain() returns None for them
            if isinstance(exc, click.ClickException | click.exceptions.Exit | click.Abort):
                raise
            error = explain(exc, ctx.meta.get(DB_KEY))
            if error is None:
                raise
            click_error = click.ClickException(config.redact(str(error)))
            click_error.exit_code = error.exit_code
            raise click_error from None


def db_option(func):
    """Shared --db option (else $PULSE_DB, else pulse.duckdb in the data home)."""
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Database file (default: $PULSE_DB, else pulse.duckdb in $PULSE_HOME).",
    )(func)


def resolve_db(db: Path | None) -> Path:
    """The database file of this command (--db, else $PULSE_DB, else data/pulse.duckdb)."""
    path = config.db_path(db)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[DB_KEY] = path  # so that an error at the boundary can name the file
    return path


@click.group(cls=PulseGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pulse")
@click.option("-v", "--verbose", is_flag=True, help="Log progress at INFO level.")
def main(verbose: bool) -> None:
    """Framework Pulse: adoption signals for deep-learning frameworks.

    \b
    Example:
        pulse db init && pulse serve
    """
    config.configure_logging(logging.INFO if verbose else logging.WARNING)
    from pulse import legacy

    for line in legacy.adopt():  # a checkout's data/ from before the data home
        click.echo(line, err=True)


@main.group(cls=PulseGroup)
def db() -> None:
    """Create and inspect the DuckDB database.

    \b
    Example:
        pulse db info --db /tmp/pulse.duckdb
    """


@db.command("init")
@db_option
def db_init(db: Path | None) -> None:
    """Build (or refresh) the database from the embedded snapshot; idempotent.

    \b
    Example:
        pulse db init --db /tmp/pulse.duckdb
    """
    from ingest import snapshot
    from pulse import db as database

    path = resolve_db(db)
    run = snapshot.run(path)
    click.echo(f"{database.describe(path)}: loaded {run.rows} snapshot observations, {run.detail.get('conference_rows', 0)} "
               f"conference-mention observations and {run.detail.get('claims', 0)} claims.")


@db.command("info")
@db_option
def db_info(db: Path | None) -> None:
    """Print tables, row counts and first/last date per source.

    \b
    Example:
        pulse db info
    """
    import duckdb
    import pandas as pd

    from analytics import inventory
    from pulse import db as database

    path = resolve_db(db)
    con = database.open_read(path)
    try:
        if not database.uses_team_store():  # a DuckLake store reads its data files; a file needs nothing else
            inventory.lock_down(con)  # this command reads nothing but the file itself
        click.echo(f"Database: {database.describe(path)}")
        click.echo(f"Schema versions: {', '.join(map(str, sorted(database.applied_versions(con)))) or 'none'}")
        click.echo("\nTables:")
        for name, rows in inventory.table_counts(con):
            click.echo(f"  {name:<28} {rows:>10,} rows")
        foreign = inventory.foreign_tables(con)
        for name, kind in foreign:
            click.echo(f"  {name:<28} {'(' + kind + ', not part of the schema: not read)':>10}")
        click.echo("\nSources:")
        if not (inventory.has_table(con, "observations") and inventory.has_table(con, "ingest_runs")):
            click.echo("  (no observations table: not a Framework Pulse database, or not initialised; run `pulse db init`)")
            return
        frame = inventory.source_summary(con)
        if frame.empty:
            click.echo("  (no observations)")
        for row in frame.itertuples(index=False):
            last = "never" if pd.isna(row.last_ingest) else str(row.last_ingest)[:19]
            click.echo(f"  {inventory.printable(row.source, 24):<24} {row.rows:>8,} rows  {str(row.first_date)[:10]} .. {str(row.last_date)[:10]}  last ingest {last}")
    except duckdb.Error as exc:  # a damaged block reads as such; anything else in a crafted file, as this
        raise explain(exc, path) or DatabaseError(
            f"Cannot read {path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
            "The file may be damaged or not a Framework Pulse database; see `pulse db init`.") from exc
    finally:
        con.close()


@main.command()
@db_option
@click.option("--port", type=int, default=8501, show_default=True, help="Port to serve on.")
@click.option("--headless/--no-headless", default=True, show_default=True, help="Do not open a browser.")
def serve(db: Path | None, port: int, headless: bool) -> None:
    """Run the dashboard (Streamlit), building the database from the snapshot if absent.

    \b
    Example:
        pulse serve --port 8501
    """
    from pulse import db as database
    from pulse.bootstrap import ensure_database
    from pulse.errors import DatabaseError

    path = resolve_db(db).absolute()
    try:
        ensure_database(path)
    except DatabaseError as exc:
        if not database.uses_team_store():
            raise
        # A replica of a team deployment starts anyway: its pages say what is wrong until it is fixed.
        click.echo(f"Warning: {config.redact(str(exc))} Starting the dashboard anyway.", err=True)
    # Every path setting absolute (the working directory changes below), PULSE_DB this database.
    os.environ.update(config.child_env(PULSE_DB=str(path)))
    # Streamlit runs in this process (not a child): SIGTERM and SIGINT reach its own handlers,
    # which stop the server, so stopping `pulse serve` by its pid leaves nothing listening.
    # The app as shipped (pulse/_bundle in a wheel, the checkout's app.py otherwise) runs in its
    # folder so Streamlit reads the .streamlit/config.toml beside it. It writes nothing there.
    os.chdir(config.BUNDLE_ROOT)
    from streamlit.web import cli as streamlit_cli

    streamlit_cli.main(["run", str(config.APP_FILE), "--server.port", str(port), "--server.headless",
                        "true" if headless else "false"], prog_name="streamlit")


@main.group(cls=PulseGroup, invoke_without_command=True)  # `pulse ingest --all`: pulse.commands.ops
def ingest() -> None:
    """Pull data from a source into the database.

    \b
    Example:
        pulse ingest snapshot
    """


@ingest.command("snapshot")
@db_option
def ingest_snapshot(db: Path | None) -> None:
    """Load the embedded snapshot (same as `pulse db init`).

    \b
    Example:
        pulse ingest snapshot --db /tmp/pulse.duckdb
    """
    db_init.callback(db)


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(main, ingest)


def iter_commands(group: click.Group = main, prefix: str = "pulse"):
    """Every command path, e.g. 'pulse db init' (used by the help and README tests)."""
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from iter_commands(command, path)


if __name__ == "__main__":
    main()
