"""``forensics csv-timeline``: one row per matched record, in the shape of Hayabusa's csv-timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from forensics.cli.common import err, out, print_json_line
from forensics.cli.guard import output_path, say
from forensics.errors import CaseError, ForensicsError
from forensics.hunt.sigma.tuning import parse_level
from forensics.outputs.csv_timeline import write_case_csv_timeline
from forensics.store import Case


def register(app: typer.Typer) -> None:
    """Add the ``csv-timeline`` command."""
    app.command(
        "csv-timeline",
        help=(
            "Write the detections of a hunted case as CSV, one row per matched record, in the shape of "
            "Hayabusa's csv-timeline: Timestamp, RuleTitle, Level, Computer, Channel, EventID, RecordID, "
            "Details (the rule's details template, else the key fields of the event), then Timestamp (IST), "
            "Kind, RuleID, RuleFile, EvtxFile and the record reference (InputSHA256, RecIndex). Excel-safe: "
            "cells a spreadsheet would run as formulas are neutralised.\n\n"
            "Exit codes: 0 written; 1 error (no such case); 2 usage.\n\n"
            "Example: forensics csv-timeline cases/dims --min-level medium -o dims-detections.csv"
        ),
    )(csv_timeline)


def csv_timeline(
    case: Annotated[Path, typer.Argument(help="Case directory (hunted).")],
    out_path: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file (default: CASE/outputs/csv-timeline.csv).")
    ] = None,
    min_level: Annotated[
        str | None,
        typer.Option(
            "--min-level", help="Only findings at or above LEVEL (default: the hunt run's --min-level)."
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option("--run", help="Hunt run whose findings to write (forensics runs; default: the latest)."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="What was written, as one JSON object.")] = False,
) -> None:
    """Write the csv-timeline of a case."""
    if out_path is not None:
        output_path(out_path, "--out")
    try:
        level = parse_level(min_level)
    except ForensicsError as exc:
        say(str(exc))
        raise typer.Exit(2) from exc
    c = Case.open(case, read_only=True)  # not a case: the guard's one error line, exit 1
    try:
        run_id = c.resolve_run(run)
        dest, rows = write_case_csv_timeline(c, run_id, out_path, level)
    except CaseError as exc:
        say(str(exc))
        raise typer.Exit(1) from exc
    finally:
        c.close()
    if json:
        print_json_line({"path": str(dest), "run": run_id, "rows": rows})
        return
    err.print(f"csv-timeline of hunt run {run_id}: {rows} rows" if run_id else "no hunt run yet: no rows")
    out.print(str(dest), highlight=False)
