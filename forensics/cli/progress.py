"""Progress bars on stderr for the long steps of a command (``forensics.progress.Step``).

Shown on a terminal and not under ``--quiet``; a bar per stage ("reading rules", "converting
rules", ...) with the count, the elapsed time and an estimate of what remains. A stage named
"STAGE: detail" moves the STAGE bar and shows the detail ("exporting: records").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from forensics.cli.common import err, progress_shown
from forensics.progress import Step


@contextmanager
def bars() -> Iterator[Step]:
    """A ``Step`` that draws one bar per stage while the block runs."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=err, transient=True, disable=not progress_shown(),
    ) as shown:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def step(what: str, done: int, total: int) -> None:
            stage = what.partition(":")[0]  # "exporting: records" moves the "exporting" bar
            if stage not in tasks:
                tasks[stage] = shown.add_task(what, total=total)
            shown.update(tasks[stage], completed=done, total=total, description=what)

        yield step


__all__ = ["bars"]
