"""``forensics logon-summary`` and ``forensics eid-metrics``: the overviews Hayabusa users read first."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import typer
from rich.table import Table

from forensics.cli.common import cells, err, out, print_json_line
from forensics.cli.guard import say, time_option
from forensics.eidmetrics import EidMetric, HostMetric, eid_metrics, host_metrics
from forensics.logons import RESULT_ORDER, LogonRow, LogonSummary, logon_summary
from forensics.outputs import csvfile
from forensics.store import Case
from forensics.timeutil import iso_ist, iso_utc

LOGON_HELP = """Successful and failed logons by host, account and source address, with first and last
time: Windows 4624, 4625 (with the failure reason) and 4648 (explicit credentials), RDP's own
records (RemoteConnectionManager 1149, LocalSessionManager 21/25), Linux sshd, and EDR logon
tables where the case has them. Each row says which kind of record it counts. Logons by system
and machine accounts (SYSTEM, DWM-1, HOST$, ...) are counted apart; --all lists them too.

Exit codes: 0 ok; 1 error (no such case); 2 usage.

Example: forensics logon-summary cases/dims --result failure --host WIN-TS01 -o logons.csv
"""
EID_HELP = """Event-id metrics: per host, how many events each channel and event id holds, their share of
the channel and first / last time, with the titles of well-known Windows event ids; and per
host the totals (Hayabusa's eid-metrics and computer-metrics). Every event is counted; records
without an id are counted under an empty id.

Exit codes: 0 ok; 1 error (no such case); 2 usage.

Example: forensics eid-metrics cases/dims --host DC01 --json
"""


LOGON_COLUMNS = [
    "result", "source", "host", "account", "domain", "address", "workstation", "logon_type", "detail", "count",
    "first_utc", "first_ist", "last_utc", "last_ist", "reasons", "system_account",
]  # fmt: skip
METRIC_COLUMNS = [
    "host", "channel", "event_id", "program", "title", "count", "share", "first_utc", "last_utc", "first_ist", "last_ist",
]  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add the ``logon-summary`` and ``eid-metrics`` commands."""
    app.command("logon-summary", help=LOGON_HELP)(logon_summary_cmd)
    app.command("eid-metrics", help=EID_HELP)(eid_metrics_cmd)


def _ts(value: datetime | None, ist: bool = False) -> str | None:
    if value is None:
        return None
    return iso_ist(value) if ist else iso_utc(value)


def logon_json(r: LogonRow) -> dict[str, Any]:
    """One summary row as JSON (and as a CSV row)."""
    return {
        "result": r.result, "source": r.source, "host": r.host, "account": r.account, "domain": r.domain,
        "address": r.address, "workstation": r.workstation, "logon_type": r.logon_type, "detail": r.detail,
        "count": r.count, "first_utc": _ts(r.first_ts), "first_ist": _ts(r.first_ts, True),
        "last_utc": _ts(r.last_ts), "last_ist": _ts(r.last_ts, True), "reasons": list(r.reasons),
        "system_account": r.system,
    }  # fmt: skip


def logon_summary_cmd(
    case: Annotated[Path, typer.Argument(help="Case directory.", metavar="CASE")],
    host: Annotated[
        list[str] | None, typer.Option("--host", help="Only this host, full or short name (repeatable).")
    ] = None,
    result: Annotated[
        list[str] | None,
        typer.Option("--result", help="Only these results: " + ", ".join(RESULT_ORDER) + "."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only logons at or after this ISO-8601 time (UTC if no zone).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only logons at or before this ISO-8601 time (UTC if no zone).")
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list system and machine accounts' logons.")
    ] = False,
    json: Annotated[bool, typer.Option("--json", help="One JSON object per row on stdout.")] = False,
    out_path: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write every row to this CSV file.")
    ] = None,
    top: Annotated[int, typer.Option(help="Rows per result shown in the terminal (0: all).")] = 30,
) -> None:
    """Summarise the case's logons."""
    wanted = tuple(result or RESULT_ORDER)
    if any(r not in RESULT_ORDER for r in wanted):
        say(f"--result must be one of {', '.join(RESULT_ORDER)}")
        raise typer.Exit(2)
    t_since, t_until = time_option(since, "--since"), time_option(until, "--until")
    with Case.open(case, read_only=True) as c:
        s = logon_summary(c, hosts=tuple(host or ()), since=t_since, until=t_until)
    rows = [r for r in (*s.rows, *(s.system_rows if show_all else ())) if r.result in wanted]
    if out_path is not None:
        _write_csv([logon_json(r) for r in rows], LOGON_COLUMNS, out_path)
    if json:
        for r in rows:
            print_json_line(logon_json(r))
    elif out_path is None:
        _logon_tables(rows, top)
    _logon_footer(s, show_all, wanted)


def _logon_tables(rows: list[LogonRow], top: int) -> None:
    for res in RESULT_ORDER:
        part = [r for r in rows if r.result == res]
        if not part:
            continue
        title = {
            "failure": "failed logons",
            "success": "successful logons",
            "explicit": "explicit-credential logons (4648)",
        }[res]
        t = Table("host", "account", "source address", "workstation", "logon type", "count", "first (UTC)", "last (UTC)",
                  "record" + ("; why" if res == "failure" else ""), title=title)  # fmt: skip
        for r in part[: top if top > 0 else None]:
            acct = f"{r.domain}\\{r.account}" if r.domain and r.account else r.account or ""
            note = (
                r.source
                + (f"; {', '.join(r.reasons)}" if r.reasons else "")
                + (f"; {r.detail}" if r.detail else "")
            )
            t.add_row(*cells(
                r.host or "", acct, r.address or "", r.workstation or "", r.logon_type or "", str(r.count),
                (_ts(r.first_ts) or "")[:19], (_ts(r.last_ts) or "")[:19], note,
            ))  # fmt: skip
        out.print(t)
        if 0 < top < len(part):
            out.print(f"… and {len(part) - top} more {title} (--top 0, --json or -o FILE.csv for all)")


def _logon_footer(s: LogonSummary, show_all: bool, wanted: tuple[str, ...]) -> None:
    totals = s.totals()
    line = ", ".join(f"{totals[r]} {r}" for r in wanted)
    sys_n = sum(r.count for r in s.system_rows if r.result in wanted)
    hidden = (
        "" if show_all or not sys_n else f" ({sys_n} more by system and machine accounts: --all lists them)"
    )
    err.print(f"logon records: {line}{hidden}", highlight=False)
    kinds = sorted({r.source for r in (*s.rows, *s.system_rows)})
    err.print(
        f"record kinds counted: {', '.join(kinds) or 'none (the case holds no logon records)'}",
        highlight=False,
    )


def metric_json(m: EidMetric) -> dict[str, Any]:
    """One event-id metric as JSON (and as a CSV row)."""
    return {
        "host": m.host, "channel": m.channel, "event_id": m.event_id, "program": m.program, "title": m.title,
        "count": m.count,
        "share": round(m.share, 6), "first_utc": _ts(m.first_ts), "last_utc": _ts(m.last_ts),
        "first_ist": _ts(m.first_ts, True), "last_ist": _ts(m.last_ts, True),
    }  # fmt: skip


def eid_metrics_cmd(
    case: Annotated[Path, typer.Argument(help="Case directory.", metavar="CASE")],
    host: Annotated[
        list[str] | None, typer.Option("--host", help="Only this host, full or short name (repeatable).")
    ] = None,
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per host, channel and event id on stdout.")
    ] = False,
    out_path: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write every row to this CSV file.")
    ] = None,
    top: Annotated[
        int, typer.Option(help="Event ids shown per host and channel in the terminal (0: all).")
    ] = 15,
) -> None:
    """Count events per host, channel and event id."""
    with Case.open(case, read_only=True) as c:
        metrics = eid_metrics(c, tuple(host or ()))
        hosts = host_metrics(c, tuple(host or ()))
    if out_path is not None:
        _write_csv([metric_json(m) for m in metrics], METRIC_COLUMNS, out_path)
    if json:
        for m in metrics:
            print_json_line(metric_json(m))
    elif out_path is None:
        _host_table(hosts)
        _eid_tables(metrics, top)
    err.print(f"{sum(h.count for h in hosts)} events on {len(hosts)} host(s); {len(metrics)} host/channel/event-id rows",
              highlight=False)  # fmt: skip


def _host_table(hosts: list[HostMetric]) -> None:
    t = Table("host", "events", "channels", "event ids", "first (UTC)", "last (UTC)", title="events per host")
    for h in hosts:
        t.add_row(*cells(h.host or "(none)", str(h.count), str(h.channels), str(h.event_ids), (_ts(h.first_ts) or "")[:19],
                  (_ts(h.last_ts) or "")[:19]))  # fmt: skip
    out.print(t)


def _groups(metrics: list[EidMetric]) -> Iterator[tuple[tuple[str | None, str | None], list[EidMetric]]]:
    key: Callable[[EidMetric], tuple[str | None, str | None]] = lambda m: (m.host, m.channel)  # noqa: E731
    group: list[EidMetric] = []
    for m in metrics:
        if group and key(group[0]) != key(m):
            yield key(group[0]), group
            group = []
        group.append(m)
    if group:
        yield key(group[0]), group


def _eid_tables(metrics: list[EidMetric], top: int) -> None:
    t = Table(
        "host",
        "channel",
        "event id",
        "title",
        "count",
        "share",
        "first (UTC)",
        "last (UTC)",
        title="event ids",
    )
    for (_h, _ch), group in _groups(metrics):
        shown = group[: top if top > 0 else None]
        for m in shown:
            eid = str(m.event_id) if m.event_id is not None else f"({m.program})" if m.program else ""
            t.add_row(*cells(m.host or "(none)", m.channel or "", eid, m.title or "",
                      str(m.count), f"{100 * m.share:.1f}%", (_ts(m.first_ts) or "")[:19], (_ts(m.last_ts) or "")[:19]))  # fmt: skip
        if len(shown) < len(group):
            rest = group[len(shown) :]
            t.add_row("", "", "…", f"{len(rest)} more ids", str(sum(m.count for m in rest)), "", "", "")
    out.print(t)


def _write_csv(rows: list[dict[str, Any]], columns: list[str], path: Path) -> None:
    """Excel-safe CSV with a header row, also when there are no rows."""
    csvfile.write(pa.table({c: [r[c] for r in rows] for c in columns}), path)
    err.print(f"wrote {len(rows)} rows to {path}", highlight=False)
