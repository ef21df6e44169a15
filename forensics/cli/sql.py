"""``forensics sql``: any read-only query over a case."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from forensics.cli.common import err, out, print_json_line, shown
from forensics.cli.engine import ConfOpt, DriverMemOpt, EngineOpt, MasterOpt, RemoteOpt, spark_options
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
            "--engine spark runs the same query (DuckDB dialect, same checks) on Apache Spark over the case's "
            "parts; the case's other tables it names are handed to Spark from the case (docs/spark.md).\n\n"
            'Example: forensics sql cases/dims "SELECT host, count(*) FROM events GROUP BY host" --json'
        ),
    )(sql)


def sql(
    case: Annotated[Path, typer.Argument(help="Case directory.")],
    query: Annotated[str, typer.Argument(help="One query (DuckDB dialect).")],
    json: Annotated[bool, typer.Option("--json", help="One JSON object per row on stdout.")] = False,
    limit: Annotated[int, typer.Option(help="Rows to show in the table view (not with --json).")] = 200,
    engine: EngineOpt = "duckdb",
    spark_master: MasterOpt = None,
    spark_remote: RemoteOpt = None,
    spark_conf: ConfOpt = None,
    spark_driver_memory: DriverMemOpt = None,
) -> None:
    """Run one read-only query over a case."""
    from forensics.casequery import QuerySession

    spark = spark_options(engine, spark_master, spark_remote, spark_conf, spark_driver_memory)
    try:
        session = QuerySession(case)
    except CaseError as exc:
        say(str(exc))
        raise typer.Exit(EXIT_FAILED) from exc
    with session:
        if spark is None:
            _show(_run(lambda: session.run(query)), json, limit)
            return
        from forensics.casequery import check_query
        from forensics.errors import EngineError
        from forensics.spark.engine import spark_engine
        from forensics.spark.query import run_query

        _run(lambda: check_query(session.case.con, query))  # refused before a session starts
        try:
            with spark_engine(session.case, spark) as eng:
                _show(_run(lambda: run_query(session.case, eng.conn, query)), json, limit)
        except EngineError as exc:  # the session could not start: one line, as for a case error
            say(str(exc))
            raise typer.Exit(EXIT_FAILED) from exc


def _run(fn: Callable[[], Any]) -> Any:
    """The query's cursor; a refusal exits 2, a failure while running exits 1 (said on stderr)."""
    try:
        return fn()
    except QueryError as exc:
        say(str(exc))
        failed = str(exc).startswith("query failed")
        raise typer.Exit(EXIT_FAILED if failed else EXIT_REFUSED) from exc


def _show(rel: Any, json: bool, limit: int) -> None:
    """Print a result: JSON lines, or the first ``limit`` rows as a table."""
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
