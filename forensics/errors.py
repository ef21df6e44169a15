"""The exception tree.

ForensicsError
 ├── CaseError        the case directory is missing, locked or damaged
 ├── InputError       an input path cannot be used at all (missing, unreadable)
 ├── RuleError        a rule or IOC file cannot be loaded (carries file and line)
 ├── BundleError      an evidence bundle cannot be written or read
 ├── QueryError       a ``forensics sql`` query was refused, does not parse or failed
 └── EngineError      the query engine asked for (Spark) is not installed or cannot be reached
"""

from __future__ import annotations


class ForensicsError(Exception):
    """Base of every error this package raises on purpose."""


class CaseError(ForensicsError):
    """The case directory is missing, locked or damaged."""


class InputError(ForensicsError):
    """An input path cannot be used at all."""


class RuleError(ForensicsError):
    """A rule or IOC file cannot be loaded."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        where = f"{path}:{line}: " if path and line else f"{path}: " if path else ""
        super().__init__(where + message)
        self.path = path
        self.line = line


class BundleError(ForensicsError):
    """An evidence bundle cannot be written or read."""


class QueryError(ForensicsError):
    """A user query was refused (not read-only), does not parse, or failed while running."""


class EngineError(ForensicsError):
    """The query engine asked for (Spark) is not installed, cannot be reached or cannot run the work."""
