"""Progress of steps that can take more than a few seconds, reported to whoever shows it.

A library function that loops over many things takes ``progress: Step`` and calls it with what it
is doing, how many are done and how many there are; the CLI draws a bar on stderr from it
(``forensics.cli.progress``), tests and library callers leave the default, which does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Step = Callable[[str, int, int], None]  # (what, done, total)


def no_progress(what: str, done: int, total: int) -> None:
    """The default: nobody is watching."""


__all__ = ["Step", "no_progress"]
