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


class SourceError(PulseError):
    """A data source answered with something we cannot use (HTTP error, bad body, bad file)."""


class RateLimited(SourceError):
    """The source refused because a request budget is spent."""

    def __init__(self, message: str, hint: str | None = None, reset_at: float | None = None):
        self.reset_at = reset_at
        super().__init__(message, hint)
