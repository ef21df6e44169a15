"""The ``forensics`` command: a thin Typer app over the library.

Exit codes: one table, ``forensics.cli.exits.EXIT_CODES``, shown by ``forensics --help`` and in the
README. Errors are one ``error:`` line on stderr naming the file or option (``forensics.cli.guard``);
every command follows the conventions of ``forensics.cli.conventions`` (-q, --no-color, -c/--case, ...).
"""

from __future__ import annotations

import gc

import typer

from forensics.cli import batch as _batch
from forensics.cli import bundle as _bundle
from forensics.cli import csv_timeline as _csv_timeline
from forensics.cli import hunt as _hunt
from forensics.cli import ingest as _ingest
from forensics.cli import metrics as _metrics
from forensics.cli import report as _report
from forensics.cli import rules as _rules
from forensics.cli import search as _search
from forensics.cli import sql as _sql
from forensics.cli import timeline as _timeline
from forensics.cli.exits import help_table
from forensics.cli.guard import GuardedGroup

app = typer.Typer(
    name="forensics",
    help="Log forensics and IOC hunting: ingest logs into a case, hunt, build the timeline, export evidence."
    "\n\n" + help_table(),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=GuardedGroup,  # every error one line with a documented exit code, never a traceback
)

# Each command module registers its commands; the list is explicit so grep can follow it.
for _module in (
    _ingest,
    _batch,
    _sql,
    _hunt,
    _bundle,
    _timeline,
    _csv_timeline,
    _report,
    _rules,
    _search,
    _metrics,
):
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    # One command runs, then the process exits. The modules imported so far live as long as it
    # does, so the cyclic GC's full collections need not walk them again (~0.1 s each, several
    # per hunt), and young collections come ten times rarer (a hunt allocates millions of
    # short-lived objects that reference counting frees anyway; cycles are still collected).
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    try:
        app()
    finally:
        # Every output is written and closed by now (with-blocks, atomic renames): the full
        # collection at interpreter exit would walk every object left only to find no garbage
        # worth freeing before the process ends. stdout/stderr and atexit handlers still run.
        gc.freeze()
