"""A checkout's data from before the data home, moved into it so an upgrade loses nothing.

Until 0.2 a checkout kept its database, raw responses and probe results in its own `data/`
folder. The first `pulse` command run from such a checkout with the default data home moves
each of them there (the database under its writer lock, so no write is cut in half) and says
so. Nothing moves when PULSE_HOME, or the part's own setting (PULSE_DB, PULSE_RAW_DIR,
PULSE_PROBE_DIR), is set: whoever set it chose where the data lives (docs/operations.md says
how to move it by hand).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from pulse import config, db
from pulse.errors import PulseError

DB_SIDE_FILES = (".wal",)  # moved with the database when present; the lock file is left behind


def _parts() -> list[tuple[str, Path, Path]]:
    legacy = config.LEGACY_DATA_DIR
    return [
        ("PULSE_DB", legacy / "pulse.duckdb", config.db_path()),
        ("PULSE_RAW_DIR", legacy / "raw", config.raw_dir()),
        ("PULSE_PROBE_DIR", legacy / "probe", config.probe_dir()),
    ]


def _move(old: Path, new: Path) -> None:
    """Rename (atomic on one filesystem); across filesystems copy to a temporary name, then rename."""
    new.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(old, new)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    partial = new.with_name(new.name + ".moving")
    if partial.is_dir():
        shutil.rmtree(partial)
    partial.unlink(missing_ok=True)
    if old.is_dir():
        shutil.copytree(old, partial, symlinks=True)
    else:
        shutil.copy2(old, partial)
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
    os.rename(partial, new)
    shutil.rmtree(old) if old.is_dir() else old.unlink()


def adopt() -> list[str]:
    """Move a checkout's old data/ contents into the default data home; one message per thing done."""
    if config.INSTALLED or os.environ.get(config.HOME_VAR):
        return []
    messages = []
    for setting, old, new in _parts():
        if os.environ.get(setting) or not old.exists():
            continue
        shown = config.display_path(old)
        if new.exists():
            messages.append(f"{shown} (from before the data home) was left where it is: {new} already exists and is used. "
                            f"Merge or delete the old copy; nothing was changed.")
            continue
        try:
            if setting == "PULSE_DB":
                with db.writer_lock(old):
                    _move(old, new)
                    for suffix in DB_SIDE_FILES:
                        side = old.with_name(old.name + suffix)
                        if side.exists():
                            _move(side, new.with_name(new.name + suffix))
                db.lock_path(old).unlink(missing_ok=True)
            else:
                _move(old, new)
        except OSError as exc:
            raise PulseError(
                f"Could not move {shown} into the data home ({new}): {exc.strerror or exc}. Nothing was lost: it is still at {old}.",
                f"Move it yourself (mv {old} {new}), or set {setting}={old} to keep using it there.",
            ) from exc
        messages.append(f"Moved {shown} to {new} (the data home; PULSE_HOME sets another).")
    return messages
