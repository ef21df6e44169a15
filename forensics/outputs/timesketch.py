"""Timesketch import JSONL.

Timesketch needs three fields on every line: ``message`` (text), ``datetime`` (ISO-8601, here
UTC with ``+00:00``) and ``timestamp_desc`` (what the time means); anything else is kept as
attributes, so every timeline column rides along. ``datetime`` is the time as recorded; the
clock-corrected time is in ``ts_corrected`` beside ``clock_offset_s``.
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


def line(row: dict[str, Any]) -> dict[str, Any]:
    """One Timesketch event from one timeline row."""
    ts = row.get("ts")
    head: dict[str, Any] = {
        "message": row.get("message") or f"{row.get('channel') or ''} {row.get('event_id') or ''}".strip() or "-",
        "datetime": ts.astimezone(UTC).isoformat(timespec="microseconds") if isinstance(ts, datetime) else None,
        "timestamp": (ts - _EPOCH) // timedelta(microseconds=1) if isinstance(ts, datetime) else None,
        "timestamp_desc": DESCRIPTIONS.get(str(row.get("row_type")), "Event Recorded"),
    }
    for k, v in row.items():
        if k not in head:
            head[k] = json_value(v)
    return head


def write(table: pa.Table, out: Path) -> None:
    """Write the Timesketch JSONL; rows without a time are left out (Timesketch rejects them)."""
    with out.open("wb") as fh:
        for row in rows(table):
            if not isinstance(row.get("ts"), datetime):
                continue
            fh.write(orjson.dumps(line(row)) + b"\n")
