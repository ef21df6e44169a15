"""``forensics ingest``: files, folders and archives into a case."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.table import Table

from forensics.cli.common import alerts, err, out, print_json_line, progress_shown, shown
from forensics.cli.guard import say
from forensics.ingest.base import ParseContext
from forensics.ingest.notlog import INDICATORS, NOT_LOG

if TYPE_CHECKING:
    from forensics.ingest.runner import IngestSummary

EXIT_PROBLEMS = 3
PROBLEM_LINES = 20  # problems printed one per line as they happen; the rest are counted at the end


def register(app: typer.Typer) -> None:
    """Add the ``ingest`` command."""
    app.command(
        "ingest",
        help=(
            "Ingest logs (EVTX, Windows XML/JSON exports, Linux logs, EDR exports, whole collected "
            "images and archives) into a case. Files are recognised by content and never modified.\n\n"
            "Every input is accounted for: a file named or shaped like a log that no parser recognises "
            "(status unknown), a special file (FIFO, device: skipped, never read), an unreadable folder or "
            "a refused archive member is printed and listed in --json's problems. Files plainly not logs "
            "(binaries, documents, ransom notes, text without log structure: status not_log) are hashed, "
            "recorded and counted in one line and --json's not_logs, without an attention exit.\n\n"
            "Exit codes: 0 all clean; 3 something was rejected, failed, refused, skipped, unknown, "
            "unreadable or empty (the summary says what); 1 error.\n\n"
            "Example: forensics ingest /evidence/ts01 /evidence/dc01.zip --case cases/dims --tz Asia/Kolkata"
        ),
    )(ingest)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files, folders or archives to ingest.")],
    case: Annotated[Path, typer.Option("--case", "-c", help="Case directory (created if missing).")],
    tz: Annotated[
        str | None, typer.Option(help="Zone to assume for sources that do not state one (IANA name).")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Host name for records that do not name one.")] = None,
    year: Annotated[int | None, typer.Option(help="Collection year, for log formats without a year.")] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="Mapping file for the generic CSV / JSON-lines importer.")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Parallel worker processes (default: cores).")] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="Read every input with this parser instead of recognising it by content "
            "(e.g. syslog, evtx, ecs; an unknown name lists them).",
        ),
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
) -> None:
    """Ingest files, folders and archives into a case."""
    from forensics.ingest.mapped import MappingError, load_mapping  # the parsers: only to ingest
    from forensics.ingest.registry import BY_NAME

    if fmt is not None and fmt not in BY_NAME:
        say(f"--format {fmt!r} is not a parser; one of: {', '.join(sorted(BY_NAME))}")
        raise typer.Exit(2)
    options: dict[str, Any] = {}
    if mapping is not None:
        try:
            load_mapping(mapping)  # a bad mapping file is a usage error, not a failure per input
        except MappingError as exc:
            say(str(exc))
            raise typer.Exit(2) from exc
        options["mapping"] = mapping
    if tz is not None:
        check_zone(tz)
    ctx = ParseContext(tz=tz, host=host, reference_year=year, options=options)
    summary = run_ingest(case, paths, ctx, workers, fmt)
    if json:
        print_json_line(summary.to_dict())
    else:
        render_summary(summary)
    if not summary.clean:
        raise typer.Exit(EXIT_PROBLEMS)


def check_zone(tz: str) -> None:
    """Exit 2 (usage) when ``tz`` is not an IANA zone name."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        say(f"--tz {tz!r} is not a time zone name (e.g. Asia/Kolkata, UTC)")
        raise typer.Exit(2) from exc


def run_ingest(
    case: Path, paths: list[Path], ctx: ParseContext, workers: int | None = None, fmt: str | None = None,
    indicators: list[Path] | None = None,
) -> IngestSummary:  # fmt: skip
    """Ingest with a progress bar and problem lines on stderr (shared with ``hunt``)."""
    problem = problem_printer()
    from forensics.ingest.runner import ingest_paths  # every parser: only when ingesting

    with _bytes_bar() as progress:
        return ingest_paths(
            case, paths, ctx, workers=workers, progress=progress, on_problem=problem, fmt=fmt,
            indicators=indicators or [],
        )  # fmt: skip


@contextmanager
def _bytes_bar() -> Iterator[Callable[[int, int], None]]:
    """An ingest progress callback (bytes done of total) drawing a bar while the block runs."""
    if not progress_shown():  # nothing to draw: rich.progress is not even imported (~30 ms)
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=err, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("ingesting", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress


def problem_printer() -> Callable[[dict[str, Any]], None]:
    """An ``on_problem`` callback printing the first ``PROBLEM_LINES`` problems as they happen (ingest, batch)."""
    printed = 0

    def problem(p: dict[str, Any]) -> None:
        nonlocal printed
        printed += 1
        if printed <= PROBLEM_LINES:  # on the console -q leaves alone: quiet hides progress, not problems
            alerts.print(problem_line(p), highlight=False)

    return problem


def problem_line(p: dict[str, Any]) -> str:
    """One input problem as a message line (names escaped and control characters made visible)."""
    where = shown(p["path"]) + (f" !/ {shown(p['member'])}" if p.get("member") else "")
    detail = p.get("error") or f"{p.get('rejects')} records rejected"
    return f"[yellow]{shown(p['status'])}[/]: {where}: {shown(detail)}"


def problems_tail(s: IngestSummary) -> None:
    """After the first ``PROBLEM_LINES`` problems: how many more, by status, and where to list them."""
    rest = s.problems[PROBLEM_LINES:]
    if not rest:
        return
    counts: dict[str, int] = {}
    for p in rest:
        counts[p["status"]] = counts.get(p["status"], 0) + 1
    by = ", ".join(f"{n} {shown(k)}" for k, n in sorted(counts.items()))
    alerts.print(f"[yellow]… and {len(rest)} more input problem(s)[/]: {by}", highlight=False)


def not_log_lines(s: IngestSummary) -> list[str]:
    """One line for the inputs that are plainly not logs, one for indicator files set aside."""
    lines = []
    n = sum(1 for x in s.not_logs if x["status"] == NOT_LOG)
    if n:
        query = f"forensics sql {shown(s.case)} \"SELECT path, member, error FROM inputs WHERE status = '{NOT_LOG}'\""
        lines.append(f"{n} file(s) are not logs, recorded and not parsed (see `{query}`)")
    k = sum(1 for x in s.not_logs if x["status"] == INDICATORS)
    if k:
        lines.append(
            f"{k} file(s) are the hunt's IOC lists / YARA rules: recorded (status {INDICATORS}), not ingested as evidence"
        )
    return lines


def render_summary(s: IngestSummary) -> None:
    """The end-of-run table."""
    problems_tail(s)
    t = Table(title=f"ingest into {shown(s.case)}", show_header=True)
    t.add_column("what")
    t.add_column("count", justify="right")
    t.add_row("files seen", str(s.files_seen))
    t.add_row("files parsed", str(s.files_parsed))
    t.add_row("already in case (skipped)", str(s.files_skipped))
    t.add_row("rows added", f"{s.rows:,}")
    t.add_row("records rejected", f"{s.rejects:,}")
    for status, n in sorted(s.by_status.items()):
        t.add_row(f"inputs {shown(status)}", str(n))
    for parser, n in sorted(s.by_parser.items()):
        t.add_row(f"parser {shown(parser)}", str(n))
    out.print(t)
    for line in not_log_lines(s):
        out.print(line, highlight=False)
    if s.problems:
        out.print(
            f"{len(s.problems)} input(s) need attention: see `forensics sql {shown(s.case)} "
            "\"SELECT * FROM inputs WHERE status <> 'ok'\"`"
        )
