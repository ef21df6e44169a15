"""Windows events shipped as JSON lines by Winlogbeat, NXLog or Logstash.

The three name the same things differently (as in the OTRF Security-Datasets):
- Winlogbeat 7+: ``winlog.channel``, ``winlog.event_id``, ``winlog.computer_name``,
  ``winlog.event_data.*``, ``@timestamp``;
- Winlogbeat 6 / Logstash: ``log_name``, ``event_id``, ``computer_name``, ``event_data.*``;
- NXLog ``im_msvistalog``: ``Channel``, ``EventID``, ``Hostname``, ``SourceName``,
  ``RecordNumber``, ``EventTime`` (collector local time) and event data at the top level.
Event data fields keep their Windows names so Sigma fields resolve as for EVTX.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.lines import first_json_object, flatten, json_object_lines
from forensics.ingest.windows_common import category_for, fill_core
from forensics.timeutil import parse_iso_utc

# (channel, event id, host, provider, record id, message) key candidates, in preference order
_KEYS: dict[str, tuple[str, ...]] = {
    "channel": ("winlog.channel", "log_name", "Channel", "channel"),
    "event_id": ("winlog.event_id", "event_id", "EventID", "event.code"),
    "host": ("winlog.computer_name", "computer_name", "Hostname", "Computer", "host.name"),
    "provider": ("winlog.provider_name", "source_name", "SourceName", "ProviderName", "Provider"),
    "record_id": ("winlog.record_id", "record_number", "RecordNumber", "EventRecordID"),
    "message": ("message", "Message"),
}
# prefixes whose children are the event's own data fields
_DATA_PREFIXES = ("winlog.event_data.", "event_data.", "winlog.user_data.", "user_data.")
# shipper bookkeeping, kept under its own name but not treated as event data
_CONSUMED = {k for keys in _KEYS.values() for k in keys}
_TIME_KEYS = ("winlog.time_created", "TimeCreated", "@timestamp", "EventTime", "timestamp")


def _looks_windows(obj: dict[str, Any]) -> bool:
    if isinstance(obj.get("winlog"), dict):
        return True
    has_channel = any(k in obj for k in ("Channel", "log_name"))
    has_id = any(k in obj for k in ("EventID", "event_id"))
    return has_channel and has_id


class WinBeatsParser:
    """Winlogbeat / NXLog / Logstash JSON lines of Windows events."""

    name = "winbeats"
    description = "Windows events as JSON lines from Winlogbeat, NXLog or Logstash"

    def sniff(self, head: bytes, name: str) -> bool:
        obj = first_json_object(head)
        return obj is not None and "Event" not in obj and _looks_windows(obj)

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        zone = _zone(ctx.tz)
        for line, obj in json_object_lines(src, "a JSON object"):
            yield obj if isinstance(obj, Reject) else self._row(flatten(obj), line.position(), zone, ctx.tz)

    def _row(self, flat: dict[str, str | None], pos: Row, zone: ZoneInfo | None, tz: str | None) -> Row:
        row: Row = {"source": self.name, **pos}
        for col, keys in _KEYS.items():
            row[col] = next((flat[k] for k in keys if flat.get(k) not in (None, "")), None)
        row["event_id"] = _int(row["event_id"])
        row["record_id"] = _int(row["record_id"])
        _time(flat, row, zone, tz)
        data: dict[str, Any] = {}
        for k, v in flat.items():
            for prefix in _DATA_PREFIXES:
                if k.startswith(prefix):
                    data[k[len(prefix) :]] = v
                    break
            else:
                if k not in _CONSUMED and k not in _TIME_KEYS:
                    data[k] = v
        row["category"] = category_for(row["channel"], row["event_id"], data)
        fill_core(row, data)
        row.update(data)
        return row


def _time(flat: dict[str, str | None], row: Row, zone: ZoneInfo | None, tz: str | None) -> None:
    """Pick the event time: a zoned ISO time when there is one, else NXLog's local EventTime."""
    for key in _TIME_KEYS:
        raw = flat.get(key)
        if not raw:
            continue
        zoned = raw.endswith("Z") or "+" in raw[10:] or raw[10:].count("-") > 0
        ts = parse_iso_utc(raw)
        if ts is None:
            continue
        row["ts_raw"] = raw
        if zoned:
            row["ts"], row["ts_zone"], row["ts_assumed"] = ts, "UTC", False
        else:  # NXLog EventTime: the collector's local time, zone not written
            local = datetime.fromisoformat(raw.strip())
            aware = local.replace(tzinfo=zone) if zone else ts
            row["ts"] = parse_iso_utc(aware.isoformat())
            row["ts_zone"], row["ts_assumed"] = (tz or "UTC"), True
        return


def _zone(tz: str | None) -> ZoneInfo | None:
    if not tz:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _int(v: Any) -> int | None:
    try:
        return int(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None
