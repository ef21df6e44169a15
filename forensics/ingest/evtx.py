"""Windows EVTX files, through the Rust ``evtx`` parser.

The file is read chunk by chunk against its own headers (``evtx_chunks``): every record
becomes a row (``carved`` when it came from a damaged chunk), every record or span of bytes
that does not read becomes a reject with its offset, and the file's Tally says how many
records the headers claim and how many of those are missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from forensics.ingest.base import FileFailed, InputFile, ParseContext, Reject, Row, Tally
from forensics.ingest.evtx_chunks import CHUNK_MAGIC, FILE_HEADER_SIZE, Accounting, EvtxFile, RecordError
from forensics.ingest.windows_common import category_for, fill_core
from forensics.timeutil import parse_iso_utc

MAGIC = b"ElfFile\x00"


def _text(v: Any) -> str | None:
    """A native value as the string Windows would render."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, dict):
        if "#text" in v:
            return _text(v["#text"])
        return orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(v, list):
        return "\n".join(t for t in (_text(x) for x in v) if t is not None)
    return str(v)


def _attrs(node: Any) -> dict[str, Any]:
    if isinstance(node, dict):
        a = node.get("#attributes")
        if isinstance(a, dict):
            return a
    return {}


def flatten_event_data(section: Any, out: dict[str, Any]) -> None:
    """EventData children into ``out`` as native name -> string (unnamed data as ``Data``)."""
    if not isinstance(section, dict):
        if section not in (None, ""):
            out["Data"] = _text(section)
        return
    for key, value in section.items():
        if key == "#attributes":
            continue
        name = "Data" if key == "#text" else key
        out[name] = value if type(value) is str else _text(value)  # most fields are plain strings


def flatten_user_data(section: Any, out: dict[str, Any]) -> None:
    """UserData wraps its fields in one element (``LogFileCleared``, ...): lift them out."""
    if not isinstance(section, dict):
        return
    for wrapper, inner in section.items():
        if wrapper == "#attributes":
            continue
        if not isinstance(inner, dict) or "#text" in inner:
            out[wrapper] = _text(inner)
            continue
        for key, value in inner.items():
            if key == "#attributes":
                continue
            if isinstance(value, dict) and "#text" not in value:
                for sub, v2 in value.items():
                    if sub != "#attributes":
                        out[f"{key}_{sub}"] = _text(v2)
            else:
                out[key] = _text(value)


def system_fields(system: Any, row: Row) -> dict[str, Any]:
    """Map the System element to core columns; return the natives kept as columns.

    Values of an unexpected type (a number where Windows writes a string, as a damaged or
    hostile log can hold) are kept as their text.
    """
    if not isinstance(system, dict):
        system = {}
    prov = _attrs(system.get("Provider"))
    row["provider"] = _text(prov.get("Name") or prov.get("EventSourceName"))
    eid = system.get("EventID")
    natives: dict[str, Any] = {}
    if isinstance(eid, dict):
        q = _attrs(eid).get("Qualifiers")
        if q not in (None, ""):
            natives["Qualifiers"] = str(q)
        eid = eid.get("#text")
    try:
        row["event_id"] = int(eid) if eid is not None else None
    except (TypeError, ValueError):
        natives["EventID_raw"] = _text(eid)
    rid = system.get("EventRecordID")
    if isinstance(rid, int):
        row["record_id"] = rid
    row["channel"] = _text(system.get("Channel"))
    row["host"] = _text(system.get("Computer"))
    created = _attrs(system.get("TimeCreated")).get("SystemTime")
    if created and isinstance(created, str):
        row["ts_raw"] = created
        row["ts"] = parse_iso_utc(created)
        row["ts_zone"] = "UTC"  # SystemTime is UTC by definition
        row["ts_assumed"] = False
        row["ts_year_inferred"] = False
    for key in ("Version", "Level", "Task", "Opcode", "Keywords"):
        v = system.get(key)
        if v is not None:
            natives[key] = v if type(v) is str else str(v) if type(v) is int else _text(v)
    if prov.get("Guid"):
        natives["Provider_Guid"] = _text(prov["Guid"])
    ex = _attrs(system.get("Execution"))
    if ex:
        natives["Execution_ProcessID"] = _text(ex.get("ProcessID"))
        natives["Execution_ThreadID"] = _text(ex.get("ThreadID"))
    sec = _attrs(system.get("Security")).get("UserID")
    if sec:
        natives["Security_UserID"] = _text(sec)
    corr = _attrs(system.get("Correlation"))
    if corr.get("ActivityID"):
        natives["Correlation_ActivityID"] = _text(corr["ActivityID"])
    return natives


def event_to_row(event: dict[str, Any], row: Row) -> Row:
    """One parsed ``Event`` (the evtx JSON shape, shared by evtx-JSON exports) into a row."""
    system = event.get("System")
    natives = system_fields(system, row)
    data: dict[str, Any] = {}
    if "EventData" in event:
        flatten_event_data(event["EventData"], data)
    if "UserData" in event:
        flatten_user_data(event["UserData"], data)
    info = event.get("RenderingInfo")
    if isinstance(info, dict) and info.get("Message"):
        row["message"] = _text(info["Message"])
    row["category"] = category_for(row.get("channel"), row.get("event_id"), data)
    fill_core(row, data)
    row.update(natives)
    row.update(data)
    return row


class EvtxParser:
    """Binary ``.evtx`` files: the file header's signature, or (file header damaged) a chunk's."""

    name = "evtx"
    description = "Windows EVTX event log (binary), via the Rust evtx parser, checked against its headers"

    def sniff(self, head: bytes, name: str) -> bool:
        return (
            head.startswith((MAGIC, CHUNK_MAGIC))
            or head[FILE_HEADER_SIZE : FILE_HEADER_SIZE + 8] == CHUNK_MAGIC
        )

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject | Tally]:
        f = open_file(src)
        for piece in f.pieces():
            for item in piece.items:
                if isinstance(item, RecordError):
                    yield reject_of(item)
                    continue
                row = record_to_row(item)
                if piece.carved and not isinstance(row, Reject):
                    row["carved"] = True
                yield row
        yield tally_of(f.acc)


def open_file(src: InputFile) -> EvtxFile:
    """The file read chunk by chunk; FileFailed when it cannot be opened at all."""
    if not src.local.is_file():
        raise FileFailed(f"not a readable file: {src.local}")
    return EvtxFile(src.local)


def reject_of(err: RecordError) -> Reject:
    """An unreadable record (or span of bytes) as a reject: its file offset and bytes as hex."""
    raw = err.raw.hex() if err.raw is not None else None
    reason = err.reason + (" (raw: the bytes as hex)" if raw else "")
    return Reject(reason=reason, raw=raw, rec_offset=err.offset, record_id=err.record_id)


def tally_of(acc: Accounting) -> Tally:
    """The file's headers against what was read."""
    status = acc.status
    return Tally(acc.claimed, acc.carved, acc.shortfall, status, acc.summary() if status else None)


def record_to_row(rec: dict[str, Any]) -> Row | Reject:
    """One ``records_json()`` item into a row, or a reject (with its reason) when it cannot be one.

    Never raises for one record's content: a record is rejected on its own, the file goes on.
    """
    raw = str(rec.get("data"))[:65536]
    rid = rec.get("event_record_id")
    rid = rid if isinstance(rid, int) else None
    try:
        event = orjson.loads(rec["data"])["Event"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        return Reject(reason=f"record JSON unreadable: {exc}", raw=raw, record_id=rid)
    if not isinstance(event, dict):
        return Reject(
            reason=f"the record's Event element holds no fields ({event!r})", raw=raw, record_id=rid
        )
    row: Row = {"source": EvtxParser.name}
    try:
        event_to_row(event, row)
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:  # a shape no log should hold
        return Reject(reason=f"record fields unreadable: {exc!r}", raw=raw, record_id=rid)
    if row.get("record_id") is None:
        row["record_id"] = rec.get("event_record_id")
    if row.get("ts") is None:
        raw = str(rec.get("timestamp", ""))
        row["ts_raw"] = raw
        row["ts"] = parse_iso_utc(raw.replace(" UTC", ""))
        row["ts_zone"] = "UTC"
    return row
