"""Errors that stop a run with one clear sentence instead of a stack trace."""

from __future__ import annotations


class VaxcleanError(Exception):
    """Base class: the CLI prints the message and exits with status 2."""


class DeltaJarsMissing(VaxcleanError):
    """The Delta Lake jars are not in the local cache and the run may not fetch them."""


class ConfigError(VaxcleanError):
    """A config file is missing, unreadable or has a bad value."""


class InputError(VaxcleanError):
    """An input file cannot be used as a whole: unreadable, or a required column is missing.

    The message always names the file, and the column (or row) where there is one.
    """

    def __init__(self, message: str, *, path: str, column: str | None = None, row: int | None = None):
        where = [f"file {path}"]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}")
        self.path = path
        self.column = column
        self.row = row


class InputErrors(VaxcleanError):
    """Several input files of one batch cannot be used: one line per file, nothing was written."""

    def __init__(self, problems: list[InputError]):
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{len(problems)} input files cannot be used, nothing was written:\n{lines}")
        self.problems = problems


class ConcurrentRunError(VaxcleanError):
    """Another run holds the warehouse lock."""
