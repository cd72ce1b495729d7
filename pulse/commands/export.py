"""`pulse export` (one chart as PNG/SVG/PDF/HTML/CSV) and `pulse report` (everything in one file)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from pulse import config, registry
from pulse.errors import explain, is_damage


def view_options(func):
    """The page's options: frameworks, date range, view, log scale, theme, chart extras."""
    options = [
        click.option("--framework", "-f", "frameworks", multiple=True, metavar="ID",
                     help="Framework id (repeat for several; default: the dashboard's defaults)."),
        click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First date, YYYY-MM-DD."),
        click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last date, YYYY-MM-DD."),
        click.option("--theme", type=click.Choice(["light", "dark"]), default="light", show_default=True, help="Colour theme."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_options(frameworks, start, end, view="absolute", log=False, theme="light", extra=None):
    from analytics.charts import ChartOptions

    def day(value: dt.datetime | None) -> dt.date | None:
        return value.date() if value else None

    if start and end and start > end:
        raise click.BadParameter(f"--start {start.date()} is after --end {end.date()}.", param_hint="--start/--end")
    chosen = registry.validate(list(frameworks)) if frameworks else registry.default_ids()
    return ChartOptions(frameworks=chosen, start=day(start), end=day(end), view=view, log=log, theme=theme, extra=extra or {})


def _open(db):
    from pulse import db as database
    from pulse.bootstrap import ensure_database
    from pulse.cli import resolve_db

    path = resolve_db(db)
    ensure_database(path)
    return path, database.open_read(path)


def export_all(directory: Path, fmt: str, options, db) -> None:
    """Every catalogue chart into DIR/CHART.FORMAT with one warm Chromium; exit 1 if any failed."""
    from analytics import export

    export.check_name(directory)
    if not directory.is_dir():
        export.check_writable(directory / "probe")  # the same clear message as for a file
        raise click.UsageError(f"--out '{directory}' must be a directory with --all.")
    if fmt in export.IMAGE_FORMATS:
        export.render.require_chromium(fmt)
    path, con = _open(db)
    failed, empty = [], []
    try:
        for name in export.catalog():
            try:
                result = export.build(name, con, options)
                if not result.has_data:
                    empty.append(name)
                    continue
                target = export.write(directory / f"{name}.{fmt}", export.export(result, options, fmt, name))
            except export.ExportError as exc:
                if isinstance(exc, export.ChromiumMissing):
                    raise
                failed.append(f"{name}: {exc}")
                continue
            except Exception as exc:  # one broken chart must not stop the rest
                failed.append(f"{name}: {explain(exc, path) or exc}")
                continue
            click.echo(f"{target}: {fmt.upper()} of '{name}' ({len(result.data):,} plotted rows, as of {result.as_of}).")
    finally:
        con.close()
    if empty:
        click.echo(f"Skipped {len(empty)} chart(s) with no data for these options: {', '.join(empty)}.")
    if failed:
        raise click.ClickException(f"{len(failed)} chart(s) failed: " + "; ".join(config.redact(f) for f in failed))


def register(main: click.Group, ingest: click.Group) -> None:
    from pulse.cli import db_option

    @main.command("export")
    @click.argument("chart", required=False)
    @click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf", "html", "csv"]), default=None,
                  help="Output format (default: from the --out suffix).")
    @click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
                  help="Output file; '-' writes to stdout.")
    @view_options
    @click.option("--view", default="absolute", show_default=True, help="View: absolute, share, indexed, aligned, monthly (as the page offers).")
    @click.option("--log/--no-log", default=False, show_default=True, help="Log-scale y axis.")
    @click.option("--set", "extras", multiple=True, metavar="KEY=VALUE", help="Chart-specific option (repeatable).")
    @click.option("--sidecar", is_flag=True, help="CSV only: plain CSV plus FILE.provenance.json instead of '#' header lines.")
    @click.option("--list", "list_charts", is_flag=True, help="List the charts that can be exported and exit.")
    @click.option("--all", "all_charts", is_flag=True, help="Every chart in the catalogue, as DIR/CHART.FORMAT (--out DIR, --format).")
    @db_option
    def export_cmd(chart, fmt, out, frameworks, start, end, theme, view, log, extras, sidecar, list_charts, all_charts, db):
        """Export one chart, built by the same function as its page, with its sources on it.

        Images carry a provenance footer (sources, as-of date, transform, view);
        CSV holds exactly the plotted data under '#' provenance lines; HTML is one
        file that opens offline. PNG/SVG/PDF need Chromium (BROWSER_PATH or PATH).

        \b
        Example:
            pulse export --list
            pulse export github-stars --out stars.png
            pulse export github-stars --format csv --out - --view share -f pytorch -f tensorflow
            pulse export github-stars --out stars.pdf --start 2020-01-01 --log --theme dark
            pulse export --all --format svg --out slides/
        """
        from analytics import export

        if list_charts:
            charts = export.catalog()
            width = max((len(n) for n in charts), default=0)
            for name, spec in charts.items():
                click.echo(f"{name:<{width}}  {spec.title}  (page: {export.page_path(spec.page)})")
            return
        if all_charts:
            if chart:
                raise click.UsageError("Give a chart name or --all, not both.")
            if out is None or fmt is None:
                raise click.UsageError("--all needs --out DIR and --format.")
            extra = export.parse_extra(extras)
            export.check_extra(extra, list(export.catalog()))
            options = make_options(frameworks, start, end, view, log, theme, extra)
            export_all(out, fmt, options, db)
            return
        if not chart:
            raise click.UsageError("Name a chart (see `pulse export --list`).")
        if out is None:
            raise click.UsageError("Give --out FILE (or --out - for stdout).")
        to_stdout = str(out) == "-"
        if to_stdout and not fmt:
            raise click.UsageError("With --out - give --format.")
        fmt = fmt or export.format_for(out, None)
        if sidecar and fmt != "csv":
            raise click.UsageError("--sidecar applies to CSV only.")
        export.spec(chart)  # unknown names fail before the database is touched
        extra = export.parse_extra(extras)
        export.check_extra(extra, [chart])
        if not to_stdout:
            export.check_writable(out)
        if fmt in export.IMAGE_FORMATS:
            export.render.require_chromium(fmt)
        options = make_options(frameworks, start, end, view, log, theme, extra)
        path, con = _open(db)
        try:
            result = export.build(chart, con, options)
        finally:
            con.close()
        if sidecar:
            content = export.to_csv(result, options, chart, header=False).encode("utf-8")
        else:
            content = export.export(result, options, fmt, chart)
        if to_stdout:
            stream = click.get_binary_stream("stdout")
            stream.write(content)
            stream.flush()
            return
        export.write(out, content)
        click.echo(f"{out}: {fmt.upper()} of '{chart}' ({len(result.data):,} plotted rows, as of {result.as_of}), {len(content):,} bytes.")
        if result.data.empty:
            click.echo(f"Warning: '{chart}' has no data for these options (frameworks, dates, view).", err=True)
        if sidecar:
            side = out.with_name(out.name + ".provenance.json")
            export.write(side, export.sidecar_text(result, options, chart))
            click.echo(f"{side}: provenance.")

    @main.command("report")
    @click.option("--out", "-o", type=click.Path(path_type=Path), required=True, help="Report file: .html or .pdf.")
    @view_options
    @db_option
    def report_cmd(out, frameworks, start, end, theme, db):
        """Write every chart, the claims table and the data's provenance to one HTML or PDF file.

        Exits with status 1 (after writing the file) when a chart or the claims
        failed, so a cron job notices. PDF needs Chromium.

        \b
        Example:
            pulse report --out reports/pulse.html
            # weekly, Monday 06:00:
            0 6 * * 1  cd /srv/pulse && pulse report --out reports/pulse-$(date +\\%F).pdf
        """
        from analytics import export, report

        fmt = out.suffix.lower().lstrip(".")
        if fmt not in ("html", "pdf"):
            raise click.UsageError(f"Cannot tell the report format of '{out}': use a .html or .pdf file name.")
        export.check_writable(out)
        if fmt == "pdf":
            export.render.require_chromium("pdf")
        options = make_options(frameworks, start, end, theme=theme)
        path, con = _open(db)
        try:
            content, built = report.render_report(con, options, fmt, db_label=config.display_path(path))
        finally:
            con.close()
        export.write(out, content)
        click.echo(f"{out}: {fmt.upper()} report with {len(built.charts)} charts and {built.claims} claims, {len(content):,} bytes."
                   + (f" Listed without drawing ({len(built.empty)}, no data): {', '.join(built.empty)}." if built.empty else ""))
        problems = [f"chart '{name}': {why}" for name, why in built.failed.items()]
        if built.claims_error:
            problems.append(f"claims: {built.claims_error}")
        if any(is_damage(problem) for problem in problems):
            problems.insert(0, f"the database {path} is damaged (restore it from a backup, or move it away and rebuild: `pulse db init`)")
        if problems:
            raise click.ClickException("The report was written, but " + "; ".join(problems))
