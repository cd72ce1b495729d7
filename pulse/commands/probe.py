"""`pulse probe run` (the training-speed probe, in a subprocess) and `pulse ingest probe`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from pulse import config
from pulse.errors import PulseError


def probe_command(*, budget: float, device: str = "auto", frameworks: str | None = None, modes: str | None = None,
                  precision: str | None = None, steps: int | None = None, out: Path | None = None,
                  progress_file: Path | None = None, extra: list[str] | None = None) -> list[str]:
    """The `python -m probe ...` command line (shared by the CLI and the dashboard button)."""
    out = Path(out or config.probe_dir()).absolute()  # absolute: the probe runs in another folder
    cmd = [sys.executable, "-m", "probe", "--budget", str(budget), "--device", device, "--out", str(out)]
    for flag, value in (("--frameworks", frameworks), ("--modes", modes), ("--precision", precision), ("--steps", steps),
                        ("--progress-file", Path(progress_file).absolute() if progress_file else None)):
        if value is not None:
            cmd += [flag, str(value)]
    return cmd + list(extra or [])


def register(main: click.Group, ingest: click.Group) -> None:
    # Imported here, not at module level: pulse.cli imports this module while it is being built,
    # so importing this module first would find pulse.cli half made.
    from pulse.cli import PulseGroup, db_option, resolve_db

    @main.group(cls=PulseGroup)
    def probe() -> None:
        """Measure training speed on this machine (PyTorch, TensorFlow/Keras, JAX; eager and compiled).

        \b
        Example:
            pulse probe run --budget 60
        """

    @probe.command("run")
    @db_option
    @click.option("--budget", type=click.FloatRange(min=1, max=7 * 86400), default=60.0, show_default=True,
                  help="Seconds for the whole run; cases that do not fit are skipped.")
    @click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or all.")
    @click.option("--frameworks", default=None, help="Comma-separated subset of pytorch,tensorflow,jax.")
    @click.option("--modes", default=None, help="Comma-separated subset of eager,compiled.")
    @click.option("--precision", default=None, help="fp32, bf16 or fp32,bf16 (default: fp32 on CPU, both on CUDA).")
    @click.option("--steps", type=click.IntRange(min=1, max=1_000_000), default=None, help="Timed steps per case (default 20 CPU / 50 GPU).")
    @click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Result directory (default $PULSE_PROBE_DIR, else probe/ in $PULSE_HOME).")
    @click.option("--ingest/--no-ingest", "load", default=True, show_default=True, help="Load the result into the database afterwards.")
    @click.option("--progress-file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Keep a JSON progress file here (used by the dashboard).")
    def probe_run(db, budget, device, frameworks, modes, precision, steps, out, load, progress_file) -> None:
        """Run the probe (python -m probe) and load its result file into the database.

        \b
        Example:
            pulse probe run --budget 120 --device cuda
        """
        from ingest import probe_job

        cmd = probe_command(budget=budget, device=device, frameworks=frameworks, modes=modes, precision=precision, steps=steps, out=out,
                            progress_file=progress_file)
        out_dir = Path(cmd[cmd.index("--out") + 1])
        out_dir.mkdir(parents=True, exist_ok=True)
        with probe_job.hold_lock(progress_file.name if progress_file else None):  # one probe at a time per server
            # Run in the result folder: whatever the probe or a framework writes beside itself stays out of the code.
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=out_dir, env=config.child_env())
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise PulseError(f"The probe exited with code {proc.returncode} ({' '.join(cmd[1:])}).", "See its messages above.")
        click.echo("\n".join(lines[:-1]))
        result = Path(lines[-1])
        click.echo(f"Result: {result}")
        if load:
            from ingest import probe as source

            run = source.run(resolve_db(db), result)
            click.echo(f"{resolve_db(db)}: loaded {run.rows} probe rows.")

    @ingest.command("probe")
    @db_option
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    def ingest_probe(db, path: Path) -> None:
        """Load probe result files (one file, or every probe-*.json in a directory).

        \b
        Example:
            pulse ingest probe results/
        """
        from ingest import probe as source

        run = source.run(resolve_db(db), path)
        skipped = run.detail.get("skipped") or []
        click.echo(f"{resolve_db(db)}: loaded {len(run.detail.get('files', []))} probe result file(s), {run.rows} rows.")
        for line in skipped:
            click.echo(f"  skipped {line}")
