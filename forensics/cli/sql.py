"""``forensics sql``: any read-only query over a case."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import duckdb
import typer
from rich.table import Table

from forensics.cli.common import err, out, print_json_line
from forensics.errors import CaseError
from forensics.store import Case


def register(app: typer.Typer) -> None:
    """Add the ``sql`` command."""
    app.command(
        "sql",
        help=(
            "Run a read-only SQL query over a case (views: events, inputs, rejects, findings, ...).\n\n"
            'Example: forensics sql cases/dims "SELECT host, count(*) FROM events GROUP BY host" --json'
        ),
    )(sql)


def sql(
    case: Annotated[Path, typer.Argument(help="Case directory.")],
    query: Annotated[str, typer.Argument(help="SQL (DuckDB dialect).")],
    json: Annotated[bool, typer.Option("--json", help="One JSON object per row on stdout.")] = False,
    limit: Annotated[int, typer.Option(help="Rows to show in the table view (not with --json).")] = 200,
) -> None:
    """Run a read-only query over a case."""
    try:
        c = Case.open(case, read_only=True)
    except CaseError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from exc
    try:
        rel = c.con.execute(query)
        names = [d[0] for d in rel.description or []]
        if json:
            while batch := rel.fetchmany(10_000):
                for row in batch:
                    print_json_line(dict(zip(names, row, strict=True)))
            return
        rows = rel.fetchmany(limit)
        t = Table(*names)
        for row in rows:
            t.add_row(*("" if v is None else str(v) for v in row))
        out.print(t)
        if len(rows) == limit:
            err.print(f"(first {limit} rows; use --json for all)")
    except duckdb.Error as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from exc
    finally:
        c.close()
