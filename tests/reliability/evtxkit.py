"""Generated EVTX inputs for the reliability tests (nothing copied from ../shared/data)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from forensics.store import Case
from forensics.testing.evtx_writer import WinEvent, write_evtx

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def logon(i: int, **changes: Any) -> WinEvent:
    """A 4624 logon, numbered ``i`` (its user and time differ per number)."""
    fields: dict[str, Any] = {
        "provider": "Microsoft-Windows-Security-Auditing",
        "event_id": 4624,
        "ts": T0 + timedelta(seconds=i),
        "channel": "Security",
        "computer": "WS01.corp.local",
        "event_data": (("TargetUserName", f"user{i}"), ("LogonType", "3"), ("IpAddress", "10.0.0.5")),
    }
    fields.update(changes)
    return WinEvent(**fields)


def logons(n: int, start: int = 0) -> list[WinEvent]:
    """``n`` logons numbered from ``start``."""
    return [logon(i) for i in range(start, start + n)]


def write(path: Path, events: list[WinEvent], **options: Any) -> Path:
    """An EVTX file of ``events`` (options as ``evtx_writer.evtx_bytes``)."""
    return write_evtx(path, events, **options)


def inputs(case_dir: Path) -> dict[str, dict[str, Any]]:
    """The case's inputs rows by file name."""
    with Case.open(case_dir, read_only=True) as case:
        cur = case.con.execute("SELECT * FROM inputs")
        names = [d[0] for d in cur.description]
        return {Path(r[names.index("path")]).name: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def event_count(case_dir: Path, where: str = "true") -> int:
    """Rows of the ``events`` view, read as a later reader would (read-only)."""
    with Case.open(case_dir, read_only=True) as case:
        return int(case.con.execute(f"SELECT count(*) FROM events WHERE {where}").fetchall()[0][0])
