"""Operator commands: `pulse ingest --all` (for cron) and `pulse status` (for monitoring)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from pulse import config
from pulse.errors import PulseError

INGEST_HELP = """Pull data from a source into the database, or from every source with --all.

\b
`--all` runs each configured source in its own process, one after another,
under a run lock (a second run exits with code 75, or queues with --wait).
One failing source never stops the others. Exit code: 0 all succeeded,
1 at least one source failed or timed out, 75 another run holds the lock.

\b
Example:
    pulse ingest snapshot
    pulse ingest --all --quiet            # for cron: prints only on failure
    pulse ingest --all --source github --source trends --json
    pulse ingest --all --due --quiet      # hourly timer: only sources that are due
"""

_ALL_PARAMS = [
    click.Option(["--all", "run_all"], is_flag=True, help="Run every configured source (see `pulse status`)."),
    click.Option(["--source", "sources"], multiple=True, metavar="NAME", help="Only this source (repeatable); implies --all."),
    click.Option(["--due"], is_flag=True, help="Skip sources whose last good run is recent for their cadence (for an hourly timer)."),
    click.Option(["--quiet", "-q"], is_flag=True, help="Print nothing unless a source fails (for cron)."),
    click.Option(["--verbose", "-v"], is_flag=True, help="Log each source's progress (INFO)."),
    click.Option(["--json", "as_json"], is_flag=True, help="Print the summary as JSON (for monitoring)."),
    click.Option(["--timeout"], type=click.FloatRange(min=1), default=None, metavar="SECONDS",
                 help="Per-source time limit; the source is killed after it (default $PULSE_SOURCE_TIMEOUT or 900)."),
    click.Option(["--wait"], is_flag=True, help="If another run holds the lock, wait for it instead of exiting."),
    click.Option(["--wait-timeout"], type=click.FloatRange(min=0), default=None, metavar="SECONDS",
                 help="With --wait, give up after this long (default: wait indefinitely)."),
    click.Option(["--db", "db"], type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="Database file (default: $PULSE_DB, else pulse.duckdb in $PULSE_HOME)."),
]


@click.pass_context
def _ingest_group(ctx: click.Context, run_all: bool, sources: tuple[str, ...], due: bool, quiet: bool, verbose: bool,
                  as_json: bool, timeout: float | None, wait: bool, wait_timeout: float | None, db: Path | None) -> None:
    if ctx.invoked_subcommand is not None:
        if run_all or sources or due:
            raise click.UsageError("--all/--source/--due run every source; do not combine them with a source command.")
        return
    if not (run_all or sources or due):
        click.echo(ctx.get_help())
        return
    verbose = verbose or bool(ctx.find_root().params.get("verbose"))  # `pulse -v ingest --all`
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose contradict each other; pick one.")
    ingest_all(db, list(sources), due=due, quiet=quiet, verbose=verbose, as_json=as_json, timeout=timeout, wait=wait, wait_timeout=wait_timeout)


def ingest_all(db: Path | None, sources: list[str], *, due: bool, quiet: bool, verbose: bool, as_json: bool,
               timeout: float | None, wait: bool, wait_timeout: float | None) -> None:
    from ingest import runner
    from pulse.cli import resolve_db

    level = logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    config.configure_logging(level)
    path = resolve_db(db)
    try:
        summary = runner.run_all(path, sources or None, timeout=timeout, wait=wait, wait_timeout=wait_timeout, log_level=level, due_only=due)
    except PulseError as exc:  # busy, an unreadable database, no room for the lock: no source ran
        busy = isinstance(exc, runner.RunnerBusy)
        code = runner.EXIT_BUSY if busy else exc.exit_code
        if as_json:
            click.echo(json.dumps({"db": str(path), "ok": False, "exit_code": code, "busy": busy, "error": config.redact(str(exc))}))
        click.echo(f"Error: {config.redact(str(exc))}", err=True)
        sys.exit(code)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
    elif not quiet or not summary.ok:
        # Quiet mode still prints the table when something failed: cron mails only then.
        click.echo(runner.format_table(summary), err=quiet)
    sys.exit(summary.exit_code)


@click.command("status")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@click.option("--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Database file (default: $PULSE_DB, else pulse.duckdb in $PULSE_HOME).")
def status(db: Path | None, as_json: bool, sources: tuple[str, ...]) -> None:
    """Each source's freshness: last good run, last error, stale and failing flags.

    \b
    States: ok; stale (no good run within 1.5 x its cadence); failing (its
    latest run failed); never (it ran but never succeeded); not set up (it
    never ran: fine on a fresh install). Exit code: 0 when every source is ok
    or not set up, 1 when any is stale, failing or never succeeded (or the
    database cannot be read) -- usable as a monitoring check.

    \b
    Example:
        pulse status
        pulse status --json --source github
    """
    from analytics import freshness
    from ingest import runner
    from pulse import db as database
    from pulse.cli import resolve_db

    path = resolve_db(db)
    infos = runner.catalogue(list(sources) or None)
    con = database.open_read(path)
    try:
        verdicts = freshness.freshness(con, {i.name: (i.description, i.cadence) for i in infos})
    finally:
        con.close()
    broken = {i.name: i.error for i in infos if i.error}
    healthy = all(v.healthy for v in verdicts) and not broken
    if as_json:
        payload = {"db": database.describe(path), "healthy": healthy, "stale_factor": freshness.STALE_FACTOR,
                   "sources": [dict(v.to_dict(), module_error=broken.get(v.source)) for v in verdicts]}
        click.echo(json.dumps(payload, indent=2))
    else:
        click.echo(f"Database: {database.describe(path)}")
        header = f"{'source':<18} {'state':<10} {'cadence':>8} {'last good run':<28} {'last run':<8} {'fails':>5}"
        click.echo(header)
        click.echo("-" * len(header))
        for v in verdicts:
            last_ok = f"{v.last_ok_at:%Y-%m-%d %H:%M} ({freshness.describe_age(v.age_hours)})" if v.last_ok_at else "never"
            click.echo(f"{v.source:<18} {v.state:<10} {freshness.describe_cadence(v.cadence_hours):>8} {last_ok:<28} "
                       f"{v.last_status or '-':<8} {v.failures_since_ok:>5}")
        for v in verdicts:
            if v.last_error and (v.failing or v.stale):
                click.echo(f"\n{v.source}: last error at {v.last_error_at:%Y-%m-%d %H:%M} UTC: {v.last_error}")
        for name, error in broken.items():
            click.echo(f"\n{name}: {error}")
        idle = [v.source for v in verdicts if v.state == freshness.NOT_SET_UP]
        if healthy:
            click.echo("\nAll sources fresh." if not idle else
                       f"\nEvery source that has run is fresh. Not set up yet: {', '.join(idle)} "
                       "(run `pulse ingest --all`, or one source, to start them).")
        else:
            click.echo("\nAttention: " + ", ".join(f"{v.source} {v.state}" for v in verdicts if not v.healthy) + ".")
    sys.exit(0 if healthy else 1)


def register(main: click.Group, ingest: click.Group) -> None:
    # `pulse ingest` stays a group of per-source commands; these options make the bare
    # group run every source, which is what cron calls.
    ingest.params.extend(_ALL_PARAMS)
    ingest.callback = _ingest_group
    ingest.help = INGEST_HELP
    main.add_command(status)
