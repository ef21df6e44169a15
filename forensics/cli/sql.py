"""``forensics sql``: any read-only query over a case."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from forensics.cli.common import err, out, print_json_line, shown
from forensics.cli.guard import say
from forensics.errors import CaseError, QueryError

EXIT_REFUSED = 2  # the query is not one read-only statement, or does not parse
EXIT_FAILED = 1  # the case cannot be opened, or the query failed while running


def register(app: typer.Typer) -> None:
    """Add the ``sql`` command."""
    app.command(
        "sql",
        help=(
            "Run one read-only SQL query over a case (views: events, inputs, rejects, findings, ...).\n\n"
            "Only queries run (SELECT, FROM, WITH, VALUES, SHOW, DESCRIBE, SUMMARIZE): COPY, EXPORT, ATTACH, "
            "INSTALL/LOAD, SET, PRAGMA, CALL, EXPLAIN, DDL and DML are refused, and so are functions that "
            "change state; the connection is read-only and its settings are locked. Reading other files "
            "is allowed, e.g. joining a CSV of indicators: "
            "\"SELECT e.* FROM events e JOIN read_csv('bad_ips.csv') i ON e.src_ip = i.ip\".\n\n"
            "Exit codes: 0 ok; 1 the case cannot be opened or the query failed while running; "
            "2 the query was refused, is empty or does not parse.\n\n"
            'Example: forensics sql cases/dims "SELECT host, count(*) FROM events GROUP BY host" --json'
        ),
    )(sql)


def sql(
    case: Annotated[Path, typer.Argument(help="Case directory.")],
    query: Annotated[str, typer.Argument(help="One query (DuckDB dialect).")],
    json: Annotated[bool, typer.Option("--json", help="One JSON object per row on stdout.")] = False,
    limit: Annotated[int, typer.Option(help="Rows to show in the table view (not with --json).")] = 200,
) -> None:
    """Run one read-only query over a case."""
    from forensics.casequery import QuerySession

    try:
        session = QuerySession(case)
    except CaseError as exc:
        say(str(exc))
        raise typer.Exit(EXIT_FAILED) from exc
    with session:
        try:
            rel = session.run(query)
        except QueryError as exc:
            say(str(exc))
            failed = str(exc).startswith("query failed")
            raise typer.Exit(EXIT_FAILED if failed else EXIT_REFUSED) from exc
        names = [d[0] for d in rel.description or []]
        if json:
            while batch := rel.fetchmany(10_000):
                for row in batch:
                    print_json_line(dict(zip(names, row, strict=True)))
            return
        rows = rel.fetchmany(max(limit, 0))
        t = Table(*(shown(n) for n in names))
        for row in rows:
            t.add_row(*(shown(v) for v in row))
        out.print(t)
        if len(rows) == limit:
            err.print(f"(first {limit} rows; use --json for all)")
