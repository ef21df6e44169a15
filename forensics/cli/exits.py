"""The exit codes of ``forensics``: one table, shown by ``forensics --help`` and copied in the README
(tests/cli/test_conventions.py checks both against it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExitCode:
    """One exit code: its number, a short name and when a command returns it."""

    code: int
    name: str
    meaning: str


EXIT_CODES: tuple[ExitCode, ...] = (  # each meaning fits the 80-column help
    ExitCode(0, "ok", "done (verify: every check passed, signer pinned)"),
    ExitCode(1, "error", "not a case, unreadable file, query or chain failed"),
    ExitCode(2, "usage", "bad argument or option, refused sql, bad --out"),
    ExitCode(
        3,
        "input problems",
        "ingest/batch, and hunt over paths it ingests: an input needs attention "
        "(rejected, failed, empty, a log not recognised, skipped, undecoded, …)",
    ),
    ExitCode(4, "fail-on", "hunt --fail-on LEVEL: a finding at or above LEVEL"),
    ExitCode(5, "verify failed", "verify: a check failed"),
    ExitCode(6, "unverified", "verify: every check passed, signer not pinned"),
    ExitCode(70, "bug", "internal error (FORENSICS_DEBUG=1: the traceback)"),
)

DOCUMENTED = frozenset(e.code for e in EXIT_CODES)


def help_table() -> str:
    """The table for ``forensics --help`` (one line per code; ``\\b`` keeps the lines as they are)."""
    width = max(len(e.name) for e in EXIT_CODES)
    rows = [f"  {e.code:>2}  {e.name:<{width}}  {e.meaning}" for e in EXIT_CODES]
    return "\b\nExit codes:\n" + "\n".join(rows)


def markdown_table() -> str:
    """The same table in Markdown, as the README carries it."""
    rows = ["| exit | name | when |", "|---:|---|---|"]
    rows += [f"| {e.code} | {e.name} | {e.meaning} |" for e in EXIT_CODES]
    return "\n".join(rows)


__all__ = ["DOCUMENTED", "EXIT_CODES", "ExitCode", "help_table", "markdown_table"]
