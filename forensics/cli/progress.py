"""Progress bars on stderr for the long steps of a command (``forensics.progress.Step``).

Shown on a terminal and not under ``--quiet``; a bar per stage ("reading rules", "converting
rules", ...) with the count, the elapsed time and an estimate of what remains. A stage named
"STAGE: detail" moves the STAGE bar and shows the detail ("exporting: records").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from forensics.cli.common import err, progress_shown
from forensics.progress import Step, no_progress

if TYPE_CHECKING:
    from rich.progress import TaskID


@contextmanager
def bars() -> Iterator[Step]:
    """A ``Step`` that draws one bar per stage while the block runs."""
    if not progress_shown():  # nothing to draw: rich.progress is not even imported (~30 ms)
        yield no_progress
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=err, transient=True,
    ) as shown:  # fmt: skip
        tasks: dict[str, TaskID] = {}

        def step(what: str, done: int, total: int) -> None:
            stage = what.partition(":")[0]  # "exporting: records" moves the "exporting" bar
            if stage not in tasks:
                tasks[stage] = shown.add_task(what, total=total)
            shown.update(tasks[stage], completed=done, total=total, description=what)

        yield step


__all__ = ["bars"]
