"""`pulse claims`: the claims ledger with verdicts, as on the Claims page and in the report."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import click

from pulse.errors import PulseError


def register(main: click.Group, ingest: click.Group) -> None:
    # Imported here, not at module level: pulse.cli imports this module while it is being built.
    from pulse.cli import db_option, resolve_db

    @main.command("claims")
    @db_option
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects (id, claim, source, verdict, measured, "
                                                             "measured_at, today, today_at, basis, explanation, ...).")
    @click.option("--id", "claim_ids", multiple=True, metavar="ID", help="Only this claim (repeatable).")
    def claims_command(db: Path | None, as_json: bool, claim_ids: tuple[str, ...]) -> None:
        """Every claim in the ledger beside what the stored data says: verdict, figures, dates, basis.

        \b
        Example:
            pulse claims
            pulse claims --id seed-stars-2022 --json
        """
        import difflib

        from analytics import claims
        from pulse import db as database

        con = database.open_read(resolve_db(db))
        try:
            frame = claims.check_all(con)
        finally:
            con.close()
        if claim_ids:
            known = list(frame["id"]) if not frame.empty else []
            unknown = [c for c in claim_ids if c not in known]
            if unknown:
                close = difflib.get_close_matches(unknown[0], known, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                raise PulseError(f"No claim with id '{unknown[0]}' in the ledger.{hint}", "`pulse claims` lists every id.")
            frame = frame[frame["id"].isin(claim_ids)]
        records = claims.as_records(frame)
        if as_json:
            click.echo(json.dumps(records, indent=2, ensure_ascii=False))
            return
        counts = frame["status"].value_counts() if not frame.empty else {}
        click.echo(", ".join(f"{int(counts.get(s, 0))} {s}" for s in claims.STATUSES) + ".")
        for r in records:
            click.echo("")
            click.echo(f"[{r['verdict']}] {r['id']}: {r['claim']}")
            click.echo(f"  claimed by {r['source']}" + (f"; quoted figure {r['claimed']}" if r["claimed"] else ""))
            for label, key, at in (("data", "measured", "measured_at"), ("today", "today", "today_at")):
                if r[key]:
                    click.echo(f"  {label}: {r[key]}" + (f" ({r[at]})" if r[at] else ""))
            if r["explanation"]:
                click.echo(textwrap.fill(r["explanation"], width=100, initial_indent="  ", subsequent_indent="  "))
