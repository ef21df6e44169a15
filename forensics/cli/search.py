"""``forensics search``: keywords and regexes over every text column of a case's events."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.table import Table

from forensics.cli.common import cells, err, out, print_json_line
from forensics.cli.engine import ConfOpt, DriverMemOpt, EngineOpt, MasterOpt, RemoteOpt, spark_options
from forensics.cli.guard import say, time_option
from forensics.errors import CaseError, EngineError
from forensics.outputs import csvfile
from forensics.search import Hit, SearchError, SearchQuery, SearchResult, search
from forensics.spark.session import SparkOptions
from forensics.store import Case
from forensics.timeutil import iso_ist, iso_utc

HELP = """Search every text column of a case's events for keywords or regular expressions, as
Chainsaw and Hayabusa `search` do.

PATTERNS are keywords (substrings, case-insensitive unless --case-sensitive); -e/--regex adds RE2
regular expressions. A row matches when any pattern matches any searched field (--all: when every
pattern matches some field). Every text column is searched except where a row came from
(input path and hash, source, category, raw time and zone); --field limits the search to the
named columns (any column, compared as text). Times are the records' own UTC times.

Rows come in time order with host, time (UTC and IST), channel, event id and the fields that
matched; --json gives one object per row, -o/--out FILE.csv every row as Excel-safe CSV.

--engine spark runs the same search on Apache Spark over the case's parts (docs/spark.md); a regex
that cannot mean the same in Java's dialect is refused with the reason.

Exit codes: 0 done (also when nothing matched); 1 error (no such case, bad regex or field); 2 usage.

Example: forensics search cases/dims mimikatz -e 'vssadmin.*delete' --host DC01 --since 2022-11-22T00:00:00Z
"""
VALUE_WIDTH = 120


def register(app: typer.Typer) -> None:
    """Add the ``search`` command."""
    app.command("search", help=HELP)(search_cmd)


def search_cmd(
    case: Annotated[Path, typer.Argument(help="Case directory.", metavar="CASE")],
    patterns: Annotated[
        list[str] | None, typer.Argument(help="Keywords (substrings).", metavar="[PATTERN]...")
    ] = None,
    regex: Annotated[
        list[str] | None, typer.Option("--regex", "-e", help="RE2 regular expression (repeatable).")
    ] = None,
    fields: Annotated[
        list[str] | None, typer.Option("--field", "-f", help="Search only this column (repeatable).")
    ] = None,
    host: Annotated[
        list[str] | None, typer.Option("--host", help="Only this host, full or short name (repeatable).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only events at or after this ISO-8601 time (UTC if no zone).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only events at or before this ISO-8601 time (UTC if no zone).")
    ] = None,
    match_all: Annotated[
        bool, typer.Option("--all", help="Every pattern must match (default: any).")
    ] = False,
    case_sensitive: Annotated[
        bool, typer.Option("--case-sensitive", help="Match letter case exactly.")
    ] = False,
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per matching event on stdout.")
    ] = False,
    out_path: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write every matching event to this CSV file.")
    ] = None,
    top: Annotated[int, typer.Option(help="Rows shown in the terminal table (0: all).")] = 50,
    engine: EngineOpt = "duckdb",
    spark_master: MasterOpt = None,
    spark_remote: RemoteOpt = None,
    spark_conf: ConfOpt = None,
    spark_driver_memory: DriverMemOpt = None,
) -> None:
    """Search a case's events."""
    query = SearchQuery(
        keywords=tuple(patterns or ()), regexes=tuple(regex or ()), fields=tuple(fields or ()),
        hosts=tuple(host or ()), since=time_option(since, "--since"), until=time_option(until, "--until"),
        match_all=match_all, case_sensitive=case_sensitive,
    )  # fmt: skip
    if not query.patterns():
        say("give a keyword or -e/--regex to search for")
        raise typer.Exit(2)
    spark = spark_options(engine, spark_master, spark_remote, spark_conf, spark_driver_memory)
    try:
        with Case.open(case, read_only=True) as c:
            result = search(c, query) if spark is None else _on_spark(c, query, spark)
    except (CaseError, SearchError, EngineError) as exc:
        say(str(exc))
        raise typer.Exit(1) from exc
    if out_path is not None:
        csvfile.write(csv_table(result), out_path)
        err.print(f"wrote {len(result)} rows to {out_path}", highlight=False)
    if json:
        for h in result.hits():
            print_json_line(hit_json(h))
    elif out_path is None:
        _render(result, top)
    err.print(f"{len(result)} matching event(s); {len(result.columns)} column(s) searched", highlight=False)


def _on_spark(case: Case, query: SearchQuery, options: SparkOptions) -> SearchResult:
    """The search run on a Spark session over the case's parts (same statement, transpiled)."""
    from forensics.spark.engine import spark_engine
    from forensics.spark.regex import Untranslatable

    with spark_engine(case, options) as eng:
        try:
            return search(case, query, eng.conn)
        except Untranslatable as exc:
            raise SearchError(f"not run on Spark: {exc}") from exc


def hit_json(h: Hit) -> dict[str, object]:
    """The ``--json`` shape of a matching event."""
    return {
        "ts_utc": iso_utc(h.ts) if h.ts else None,
        "ts_ist": iso_ist(h.ts) if h.ts else None,
        "host": h.host,
        "channel": h.channel,
        "event_id": h.event_id,
        "record_id": h.record_id,
        "provider": h.provider,
        "matches": [{"field": m.field, "value": m.value} for m in h.matches],
        "input_sha256": h.input_sha256,
        "rec_index": h.rec_index,
        "input_path": h.input_path,
        "input_member": h.input_member,
    }


def csv_table(result: SearchResult) -> pa.Table:
    """The rows for ``--out``: times in UTC and IST, matched fields and values as text, the record's key."""
    t = result.table
    times = t.column("ts").to_pylist()
    utc = pa.array([iso_utc(x) if x else None for x in times], pa.string())
    ist = pa.array([iso_ist(x) if x else None for x in times], pa.string())
    matches = t.column("matches").to_pylist()
    fields = ["; ".join(m["field"] for m in row or []) for row in matches]
    values = [" ¦ ".join(f"{m['field']}: {m['value']}" for m in row or []) for row in matches]
    return pa.table(
        {
            "ts_utc": utc, "ts_ist": ist, "host": t.column("host"), "channel": t.column("channel"),
            "event_id": t.column("event_id"), "record_id": t.column("record_id"), "provider": t.column("provider"),
            "matched_fields": pa.array(fields, pa.string()), "matched_values": pa.array(values, pa.string()),
            "input_sha256": t.column("input_sha256"), "rec_index": t.column("rec_index"),
            "input_path": t.column("input_path"), "input_member": t.column("input_member"),
        }
    )  # fmt: skip


def _render(result: SearchResult, top: int) -> None:
    table = Table("host", "time (UTC)", "time (IST)", "channel", "event id", "field", "value", title="search")
    for h in result.hits(top if top > 0 else None):
        first = h.matches[0] if h.matches else None
        more = f" (+{len(h.matches) - 1})" if len(h.matches) > 1 else ""
        table.add_row(*cells(
            h.host or "", iso_utc(h.ts)[:19] if h.ts else "", iso_ist(h.ts)[:19] if h.ts else "", h.channel or "",
            "" if h.event_id is None else str(h.event_id), (first.field if first else "") + more,
            _snippet(first.value) if first else "",
        ))  # fmt: skip
    out.print(table)
    if 0 < top < len(result):
        out.print(
            f"… and {len(result) - top} more (--top 0 shows all; --json or -o FILE.csv writes every one)"
        )


def _snippet(value: str) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= VALUE_WIDTH else flat[: VALUE_WIDTH - 1] + "…"
