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
import pyarrow.compute as pc

from forensics.outputs import columns
from forensics.outputs.cells import BATCH_ROWS, json_value, rows

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
    """Write the Timesketch JSONL; rows without a time are left out (Timesketch rejects them).

    The bytes ``write_rows`` writes, made column by column (``forensics.outputs.columns``) when
    the times are UTC microsecond timestamps, as the timeline's are.
    """
    names = table.column_names
    times = [n for n in ("ts_corrected", "ts") if n in names]
    usable = all(columns.utc_time_usable(table.schema.field(n).type) for n in times)
    if "message" in names and not pa.types.is_string(table.schema.field("message").type):
        usable = False
    if not times or len(set(names)) != len(names) or not usable:
        write_rows(table, out)
        return
    with out.open("wb") as fh:
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            when = pc.coalesce(*(batch.column(n) for n in times))
            kept = batch.filter(when.is_valid())
            if kept.num_rows:
                fh.write(columns.data_bytes(_lines(kept, pc.coalesce(*(kept.column(n) for n in times)))))


_HEAD = ("message", "datetime", "timestamp", "timestamp_desc")


def _lines(batch: pa.RecordBatch, when: pa.Array) -> pa.Array:
    """One JSON line per row (all rows have a time): ``line`` of each, column by column."""
    names = batch.schema.names
    parts: list[pa.Array | str] = [
        "{" + columns.json_key("message"), columns.json_strings(_messages(batch)),
        "," + columns.json_key("datetime"), columns.json_strings(columns.iso_offset_text(when)),
        "," + columns.json_key("timestamp"), when.cast(pa.int64()).cast(pa.string()),
        "," + columns.json_key("timestamp_desc"), columns.json_strings(_descriptions(batch)),
    ]  # fmt: skip
    for i, name in enumerate(names):
        if name not in _HEAD:
            parts += ["," + columns.json_key(name), columns.json_values(batch.column(i))]
    return columns.joined(parts, "}\n")


def _messages(batch: pa.RecordBatch) -> pa.Array:
    """``line``'s message: the row's own, else its channel and event id, else ``-``."""
    names = batch.schema.names
    own = batch.column(names.index("message")) if "message" in names else pa.nulls(batch.num_rows, pa.string())
    missing = pc.fill_null(pc.equal(own, pa.scalar("", own.type)), True)
    if not pc.any(missing).as_py():
        return own
    rows_ = batch.filter(missing).to_pylist()
    fallback = [f"{r.get('channel') or ''} {r.get('event_id') or ''}".strip() or "-" for r in rows_]
    return pc.replace_with_mask(own, missing, pa.array(fallback, pa.string()))


def _descriptions(batch: pa.RecordBatch) -> pa.Array:
    """``line``'s timestamp_desc: what the time means, and the clock correction when one applied."""
    names = batch.schema.names
    n = batch.num_rows
    kinds = batch.column(names.index("row_type")).to_pylist() if "row_type" in names else [None] * n
    offsets = batch.column(names.index("clock_offset_s")).to_pylist() if "clock_offset_s" in names else [None] * n
    memo: dict[tuple[Any, Any], str] = {}
    out = []
    for kind, off in zip(kinds, offsets, strict=True):  # memoised: a few (kind, offset) pairs per case
        key = (kind, off)
        got = memo.get(key)
        if got is None:
            got = DESCRIPTIONS.get(str(kind), "Event Recorded")
            offset = off or 0.0
            if offset:
                got += f" (host clock corrected by {-offset:+.3f} s)"
            memo[key] = got
        out.append(got)
    return pa.array(out, pa.string())


def write_rows(table: pa.Table, out: Path) -> None:
    """Write the Timesketch JSONL row by row (the definition ``write`` keeps)."""
    with out.open("wb") as fh:
        for row in rows(table):
            if _when(row) is not None:
                fh.write(orjson.dumps(line(row)) + b"\n")
