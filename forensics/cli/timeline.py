"""``forensics timeline``: the attack timeline of a case in CSV, JSONL, Timesketch JSONL or Parquet."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from forensics.case_outputs import OUTPUTS_DIR
from forensics.cli.common import err, out, print_json_line, shown
from forensics.cli.engine import ConfOpt, DriverMemOpt, EngineOpt, MasterOpt, RemoteOpt, spark_options
from forensics.cli.guard import output_path, say
from forensics.errors import CaseError, EngineError
from forensics.hunt.findings import LEVELS
from forensics.store import Case
from forensics.timeline import MODES, build_timeline, timeline_summary, write_timeline
from forensics.timeutil import parse_iso_utc

FORMATS = {"csv": "csv", "jsonl": "jsonl", "timesketch": "jsonl", "parquet": "parquet"}


def register(app: typer.Typer) -> None:
    """Add the ``timeline`` command."""
    app.command(
        "timeline",
        help=(
            "Write the attack timeline of a case: findings with ATT&CK tactics and techniques, the events around "
            "them (same host, user or process within --window), or every event (--mode full). Times in UTC with "
            "IST beside them, clock-corrected per host (ts_corrected, clock_offset_s).\n\n"
            "--engine spark reads the events (clock offsets, the findings' records, the context, every event "
            "in --mode full) on Apache Spark over the case's parts; the rows are the same (docs/spark.md).\n\n"
            "Example: forensics timeline cases/dims --format timesketch --out dims.jsonl --level high"
        ),
    )(timeline)


def timeline(
    case: Annotated[Path, typer.Argument(help="Case directory.")],
    mode: Annotated[str, typer.Option(help="findings | context | full.")] = "context",
    fmt: Annotated[str, typer.Option("--format", help="csv | jsonl | timesketch | parquet.")] = "csv",
    out_path: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output file (default: CASE/outputs/timeline-MODE.EXT)."),
    ] = None,
    host: Annotated[list[str] | None, typer.Option("--host", help="Only this host (repeatable).")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only rows at or after this ISO-8601 time (UTC if no zone).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only rows at or before this ISO-8601 time (UTC if no zone).")
    ] = None,
    level: Annotated[
        str | None, typer.Option(help="Minimum finding level: " + ", ".join(LEVELS) + ".")
    ] = None,
    window: Annotated[int, typer.Option(help="Context window around each finding, seconds.")] = 300,
    run: Annotated[
        str | None,
        typer.Option("--run", help="Hunt run whose findings to use (forensics runs; default: latest)."),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="What was written, as one JSON object.")] = False,
    engine: EngineOpt = "duckdb",
    spark_master: MasterOpt = None,
    spark_remote: RemoteOpt = None,
    spark_conf: ConfOpt = None,
    spark_driver_memory: DriverMemOpt = None,
) -> None:
    """Build and write the timeline."""
    spark = spark_options(engine, spark_master, spark_remote, spark_conf, spark_driver_memory)
    if mode not in MODES:
        say(f"--mode must be one of {', '.join(MODES)}")
        raise typer.Exit(2)
    if fmt not in FORMATS:
        say(f"--format must be one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    if level is not None and level not in LEVELS:
        say(f"--level must be one of {', '.join(LEVELS)}")
        raise typer.Exit(2)
    t_since = parse_iso_utc(since) if since else None
    t_until = parse_iso_utc(until) if until else None
    if (since and t_since is None) or (until and t_until is None):
        say("--since / --until must be ISO-8601 times, e.g. 2024-03-05T09:00:00Z")
        raise typer.Exit(2)
    dest = out_path or case / OUTPUTS_DIR / f"timeline-{mode}.{FORMATS[fmt]}"
    output_path(dest, "--out")
    c = Case.open(case, read_only=True)  # not a case: the guard's one error line, exit 1
    try:
        run_id = c.resolve_run(run)
        with _engine(c, spark) as on:
            table = build_timeline(c, mode, hosts=host or None, since=t_since, until=t_until, min_level=level,
                                   window=timedelta(seconds=window), run=run_id, on=on)  # fmt: skip
    except (CaseError, EngineError) as exc:  # EngineError: Spark could not start or refused a scan
        say(str(exc))
        raise typer.Exit(1) from exc
    finally:
        c.close()
    write_timeline(table, fmt, dest)
    counts = ", ".join(f"{shown(k)} {v}" for k, v in timeline_summary(table).items()) or "no rows"
    untimed = table.column("ts").null_count
    if fmt == "timesketch" and untimed:
        err.print(f"note: {untimed} rows without a time are not in the Timesketch file (it requires one)")
    if json:
        print_json_line({"path": str(dest), "mode": mode, "format": fmt, "run": run_id, "rows": table.num_rows,
                         "counts": timeline_summary(table), "untimed": untimed})  # fmt: skip
        return
    used = f"findings of hunt run {shown(run_id)}" if run_id else "no hunt run yet: events only"
    err.print(f"timeline ({mode}, {used}): {table.num_rows} rows ({counts})")
    out.print(shown(dest))


def _engine(case: Case, spark: Any) -> AbstractContextManager[Any]:
    """The Spark connection the timeline reads events on (None: the case's DuckDB)."""
    if spark is None:
        return nullcontext(None)
    from contextlib import contextmanager

    from forensics.spark.engine import spark_engine  # pyspark: only when Spark is asked for

    @contextmanager
    def opened() -> Any:
        err.print(f"starting the Spark session ({spark.mode}) ...")
        with spark_engine(case, spark) as eng:
            yield eng.conn

    return opened()
