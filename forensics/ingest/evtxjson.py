"""evtx-JSON exports: ``evtx_dump -o jsonl`` / ``-o json`` and Hayabusa JSONL timelines.

``evtx_dump`` writes each record as the same ``{"Event": {...}}`` document the ``evtx``
package yields, so rows come out exactly as from the binary file. Hayabusa's JSONL timeline
carries one detection per line with the event's own fields under ``Details`` /
``ExtraFieldInfo`` / ``AllFieldInfo``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.evtx import event_to_row
from forensics.ingest.lines import first_json_object, flatten, iter_lines, json_object_lines
from forensics.ingest.text import LineDecoder, json_record
from forensics.ingest.windows_common import category_for, fill_core
from forensics.timeutil import parse_iso_utc

_RECORD_HEADER = re.compile(rb"^Record \d+\s*$")


class EvtxJsonParser:
    """evtx_dump JSON lines (``{"Event": ...}`` per line) or its pretty ``Record N`` blocks."""

    name = "evtxjson"
    description = "evtx_dump JSON / JSONL export of Windows events"

    def sniff(self, head: bytes, name: str) -> bool:
        first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
        if _RECORD_HEADER.match(first):
            return True
        obj = first_json_object(head)
        event = obj.get("Event") if obj is not None else None
        return isinstance(event, dict) and "System" in event

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        decoder = LineDecoder(src.encoding)
        first = src.head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0]
        if _RECORD_HEADER.match(first):
            yield from self._blocks(src, decoder)
            return
        for n, offset, line in iter_lines(src.local):
            if not line.strip():
                continue
            yield self._one(line, n, offset, decoder)

    def _one(self, data: bytes, line: int, offset: int, decoder: LineDecoder) -> Row | Reject:
        b64 = None
        try:
            obj, b64 = json_record(data, decoder)
            event = obj["Event"]
            if not isinstance(event, dict):
                raise TypeError("Event is not an object")
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            decoded = decoder(data)
            return Reject(
                f"not an evtx JSON record: {exc}", decoded.text, offset, line, raw_b64=decoded.raw_b64
            )
        row: Row = {"source": self.name, "rec_line": line, "rec_offset": offset}
        if b64 is not None:
            row["raw_b64"] = b64
        return event_to_row(event, row)

    def _blocks(self, src: InputFile, decoder: LineDecoder) -> Iterator[Row | Reject]:
        """``Record N`` header lines, each followed by one pretty-printed JSON document."""
        buf: list[bytes] = []
        start: tuple[int, int] | None = None
        for n, offset, line in iter_lines(src.local):
            if _RECORD_HEADER.match(line):
                if start is not None:
                    yield self._one(b"\n".join(buf), *start, decoder)
                buf, start = [], (n, offset)
            elif start is None:
                if line.strip():
                    decoded = decoder(line)
                    yield Reject("text before the first Record header", decoded.text, offset, n,
                                 raw_b64=decoded.raw_b64)  # fmt: skip
            else:
                buf.append(line)
        if start is not None:
            yield self._one(b"\n".join(buf), *start, decoder)


HAYABUSA_KEYS = ("Timestamp", "RuleTitle", "Channel", "EventID")


class HayabusaParser:
    """Hayabusa ``json-timeline -L`` output: one detection (with its event's fields) per line."""

    name = "hayabusa"
    description = "Hayabusa JSONL timeline"

    def sniff(self, head: bytes, name: str) -> bool:
        obj = first_json_object(head)
        return obj is not None and all(k in obj for k in HAYABUSA_KEYS) and "Computer" in obj

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        for line, obj in json_object_lines(src, "a Hayabusa JSON line"):
            yield obj if isinstance(obj, Reject) else self._row(obj, line.position(), ctx)

    def _row(self, obj: dict[str, Any], pos: Row, ctx: ParseContext) -> Row:
        data: dict[str, Any] = {}
        for section in ("AllFieldInfo", "ExtraFieldInfo", "Details"):
            value = obj.get(section)
            if isinstance(value, dict):
                for k, v in flatten(value).items():
                    data.setdefault(k, v)
        raw_ts = str(obj.get("Timestamp", ""))
        ts = parse_iso_utc(raw_ts)
        row: Row = {
            "source": self.name,
            "ts": ts,
            "ts_raw": raw_ts,
            "ts_zone": "UTC" if raw_ts.endswith(("Z", "+00:00")) else "as written",
            "host": obj.get("Computer"),
            "channel": _channel(obj.get("Channel")),
            "provider": obj.get("Provider"),
            "event_id": _int(obj.get("EventID")),
            "record_id": _int(obj.get("RecordID")),
            **pos,
        }
        row["category"] = category_for(row["channel"], row["event_id"], data)
        fill_core(row, data)
        for k in ("RuleTitle", "RuleID", "Level", "MitreTactics", "MitreTags", "RuleFile", "EvtxFile"):
            if k in obj:
                row[f"hayabusa_{k}"] = obj[k] if isinstance(obj[k], str) else orjson.dumps(obj[k]).decode()
        row.update(data)
        return row


# Hayabusa abbreviates channels in its output (``Sec``, ``Sysmon``); give them their real names.
_CHANNELS = {
    "Sec": "Security",
    "Sys": "System",
    "App": "Application",
    "Sysmon": "Microsoft-Windows-Sysmon/Operational",
    "PwSh": "Microsoft-Windows-PowerShell/Operational",
    "PwShClassic": "Windows PowerShell",
}


def _channel(v: Any) -> str | None:
    return None if v is None else _CHANNELS.get(str(v), str(v))


def _int(v: Any) -> int | None:
    try:
        return int(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None
