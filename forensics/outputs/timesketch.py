"""Timesketch import JSONL.

Timesketch needs three fields on every line: ``message`` (text), ``datetime`` (ISO-8601, here
UTC with ``+00:00``) and ``timestamp_desc`` (what the time means); anything else is kept as
attributes, so every timeline column rides along.

``datetime`` is the clock-corrected time (``ts_corrected``) so hosts with skewed clocks sort
into their true place in Timesketch; when a correction was applied, ``timestamp_desc`` says so
and by how much, and the time as recorded stays in ``ts`` / ``ts_utc`` / ``ts_raw``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from forensics.outputs.cells import json_value, rows

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DESCRIPTIONS = {
    "finding": "Finding First Seen",
    "event": "Event Recorded",
}


def _when(row: dict[str, Any]) -> datetime | None:
    ts = row.get("ts_corrected") or row.get("ts")
    return ts if isinstance(ts, datetime) else None


def line(row: dict[str, Any]) -> dict[str, Any]:
    """One Timesketch event from one timeline row (which must have a time)."""
    ts = _when(row)
    assert ts is not None
    desc = DESCRIPTIONS.get(str(row.get("row_type")), "Event Recorded")
    offset = row.get("clock_offset_s") or 0.0
    if offset:
        desc += f" (host clock corrected by {-offset:+.3f} s)"
    message = row.get("message") or f"{row.get('channel') or ''} {row.get('event_id') or ''}".strip() or "-"
    head: dict[str, Any] = {
        "message": message,
        "datetime": ts.astimezone(UTC).isoformat(timespec="microseconds"),
        "timestamp": (ts - _EPOCH) // timedelta(microseconds=1),
        "timestamp_desc": desc,
    }
    for k, v in row.items():
        if k not in head:
            head[k] = json_value(v)
    return head


def write(table: pa.Table, out: Path) -> None:
    """Write the Timesketch JSONL; rows without a time are left out (Timesketch rejects them)."""
    with out.open("wb") as fh:
        for row in rows(table):
            if _when(row) is not None:
                fh.write(orjson.dumps(line(row)) + b"\n")
