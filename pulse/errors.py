"""Errors that reach a user: each says what was attempted, on what, and what to do next."""

from __future__ import annotations


class PulseError(Exception):
    """An expected failure with a message fit for a user (no traceback needed).

    The CLI prints it as one `Error: ...` line and exits with `exit_code`.
    """

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class UnknownFramework(PulseError, KeyError):
    """A framework id that the registry does not list."""

    def __init__(self, given: str, suggestion: str | None, known: list[str]):
        self.given = given
        self.suggestion = suggestion
        hint = f"Did you mean '{suggestion}'?" if suggestion else ""
        hint = (hint + " Known ids: " + ", ".join(known) + ".").strip()
        super().__init__(f"Unknown framework id '{given}'.", hint)


class DatabaseError(PulseError):
    """The database file cannot be opened, read or written."""


class DamagedDatabase(DatabaseError):
    """A DuckDB file whose blocks fail their checksums: read what still reads, write nothing."""


class SourceError(PulseError):
    """A data source answered with something we cannot use (HTTP error, bad body, bad file)."""


class RateLimited(SourceError):
    """The source refused because a request budget is spent."""

    def __init__(self, message: str, hint: str | None = None, reset_at: float | None = None):
        self.reset_at = reset_at
        super().__init__(message, hint)


# Words in DuckDB's messages for a file whose blocks are damaged (checksums, torn writes).
_DAMAGE_MARKERS = ("corrupt", "checksum", "not a valid duckdb", "failed to read database header", "invalid magic",
                   "could not read enough bytes", "truncated", "serialization", "deserializ")


def is_damage(text: str) -> bool:
    """True when a DuckDB error message says the file's blocks are damaged."""
    lowered = text.lower()
    return any(marker in lowered for marker in _DAMAGE_MARKERS)


def explain(exc: BaseException, db_path=None) -> PulseError | None:
    """An expected failure raised by a library, as a PulseError naming what and where; None
    when `exc` is not one (a bug, which should keep its traceback).

    Used once, at the CLI boundary (pulse.cli.PulseGroup), so every command reads the same.
    """
    if isinstance(exc, PulseError):
        return exc
    where = f" {db_path}" if db_path else ""
    if type(exc).__module__.split(".")[0] in ("duckdb", "_duckdb"):
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        if is_damage(text):
            return DamagedDatabase(
                f"The database{where} is damaged ({first[:300]}); nothing was written and the file was left as it was.",
                "Restore it from a backup, or move it away and rebuild: `pulse db init`, then `pulse ingest --all`.",
            )
        return None
    if isinstance(exc, OSError) and getattr(exc, "filename", None):
        import errno

        target = exc.filename if not getattr(exc, "filename2", None) else f"{exc.filename} -> {exc.filename2}"
        reason = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            return PulseError(f"The disk is full: cannot write {target}.", "Free some space and run the command again.")
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return PulseError(f"Cannot write {target} ({reason}).", "Choose a writable location or fix the permissions.")
        if exc.errno == errno.ENAMETOOLONG:
            return PulseError(f"The file name is too long: {str(target)[:120]}...", "Choose a shorter name (at most 255 bytes per path part).")
        return PulseError(f"Cannot use {target} ({reason}).", "Check the path and its permissions.")
    return None
