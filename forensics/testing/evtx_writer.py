"""A small writer of Windows event logs: binary EVTX, ``wevtutil qe /f:xml`` XML and evtx-JSON.

Hand-written because no Python library writes EVTX (the ``evtx`` and ``python-evtx`` packages
only read). It exists to build synthetic test and demo logs, so it writes the common subset
Windows itself writes: a 4 KiB file header, 64 KiB chunks with CRC32 checksums, and records
whose binary XML is one template instance whose definition sits inline in the record, with
every value passed as a typed substitution (so ``EventID`` is a UInt16, ``TimeCreated`` a
FILETIME, just as readers see them in real logs). String and template tables stay empty.

Layout notes (from the public format descriptions of libevtx): names are referenced by chunk
offset and stored inline where first used; element and attribute list sizes count the bytes
after their size field; a chunk's record CRC covers bytes 512 .. free-space offset.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

EVENT_NS = "http://schemas.microsoft.com/win/2004/08/events/event"
USERDATA_NS = "http://manifests.microsoft.com/win/2004/08/windows/eventlog"

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)

# Binary XML tokens
_T_EOF = 0x00
_T_OPEN = 0x01
_T_CLOSE_START = 0x02
_T_CLOSE_EMPTY = 0x03
_T_END = 0x04
_T_ATTR = 0x06
_T_TEMPLATE = 0x0C
_T_SUBST = 0x0D
_T_FRAGMENT = 0x0F
_MORE = 0x40  # flag: element has attributes / another attribute follows

# Value types
_V_NULL = 0x00
_V_STRING = 0x01
_V_UINT8 = 0x04
_V_UINT16 = 0x06
_V_UINT32 = 0x08
_V_UINT64 = 0x0A
_V_FILETIME = 0x11
_V_HEX64 = 0x15


@dataclass(frozen=True)
class WinEvent:
    """One Windows event as it should read back: System fields plus EventData or UserData."""

    provider: str
    event_id: int
    ts: datetime  # aware; written as UTC FILETIME
    channel: str
    computer: str
    provider_guid: str | None = None  # "{xxxxxxxx-...}" as Windows prints it
    version: int = 0
    level: int = 4
    task: int = 0
    opcode: int = 0
    keywords: int = 0x8000000000000000
    qualifiers: int | None = None  # classic providers (Service Control Manager, ...) set it
    process_id: int = 4
    thread_id: int = 8
    user_id: str | None = None  # Security UserID SID
    activity_id: str | None = None
    event_data: tuple[tuple[str, str | None], ...] | None = None  # <Data Name=..>value</Data>
    user_data: tuple[str, tuple[tuple[str, str | None], ...]] | None = None  # (wrapper, fields)
    user_data_ns: str = USERDATA_NS  # namespace of the UserData wrapper element
    system_record_id: int | None = None  # EventRecordID when it is not the file's (forwarded events)

    def data(self) -> dict[str, str | None]:
        """EventData / UserData fields as a dict (for assertions)."""
        pairs = self.event_data or (self.user_data[1] if self.user_data else ())
        return dict(pairs)


# --- binary XML ---------------------------------------------------------------------------


def name_hash(name: str) -> int:
    """The 16-bit name hash EVTX stores beside inline names (multiply-by-65599 string hash)."""
    h = 0
    for unit in struct.unpack(f"<{len(name.encode('utf-16-le')) // 2}H", name.encode("utf-16-le")):
        h = (h * 65599 + unit) & 0xFFFFFFFF
    return h & 0xFFFF


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


@dataclass
class _Subst:
    """Substitution values collected while a template body is built."""

    values: list[tuple[int, bytes]] = field(default_factory=list)

    def add(self, vtype: int, payload: bytes) -> bytes:
        """Register a value and return the substitution token that refers to it."""
        index = len(self.values)
        self.values.append((vtype, payload))
        return struct.pack("<BHB", _T_SUBST, index, vtype)


@dataclass(frozen=True)
class _Val:
    vtype: int
    payload: bytes


def _s(text: str | None) -> _Val:
    if text is None:
        return _Val(_V_NULL, b"")
    return _Val(_V_STRING, _utf16(text))


@dataclass(frozen=True)
class _El:
    name: str
    attrs: tuple[tuple[str, _Val], ...] = ()
    children: tuple[_El, ...] = ()
    text: _Val | None = None


class _Body:
    """Builds a template body; needs its absolute chunk offset because names are offsets."""

    def __init__(self, base: int, subst: _Subst) -> None:
        self.base = base
        self.buf = bytearray()
        self.subst = subst

    def _write_name(self, name: str) -> None:
        # The name is stored inline, so its offset is the position right after the offset field.
        here = self.base + len(self.buf) + 4
        self.buf += struct.pack("<I", here)
        self.buf += struct.pack("<IHH", 0, name_hash(name), len(_utf16(name)) // 2)
        self.buf += _utf16(name) + b"\x00\x00"

    def element(self, el: _El) -> None:
        """Append one element (recursively) as binary XML tokens."""
        self.buf.append(_T_OPEN | (_MORE if el.attrs else 0))
        self.buf += struct.pack("<H", 0xFFFF)  # dependency identifier: none
        size_at = len(self.buf)
        self.buf += b"\x00\x00\x00\x00"  # element data size, patched below
        self._write_name(el.name)
        if el.attrs:
            list_at = len(self.buf)
            self.buf += b"\x00\x00\x00\x00"
            for i, (aname, aval) in enumerate(el.attrs):
                self.buf.append(_T_ATTR | (_MORE if i + 1 < len(el.attrs) else 0))
                self._write_name(aname)
                self.buf += self.subst.add(aval.vtype, aval.payload)
            struct.pack_into("<I", self.buf, list_at, len(self.buf) - list_at - 4)
        if el.children or el.text is not None:
            self.buf.append(_T_CLOSE_START)
            if el.text is not None:
                self.buf += self.subst.add(el.text.vtype, el.text.payload)
            for child in el.children:
                self.element(child)
            self.buf.append(_T_END)
        else:
            self.buf.append(_T_CLOSE_EMPTY)
        struct.pack_into("<I", self.buf, size_at, len(self.buf) - size_at - 4)


def filetime(ts: datetime) -> int:
    """An aware datetime as a Windows FILETIME (100 ns ticks since 1601-01-01 UTC)."""
    delta = ts.astimezone(UTC) - _FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def _tree(ev: WinEvent, record_id: int) -> _El:
    prov_attrs: list[tuple[str, _Val]] = [("Name", _s(ev.provider))]
    if ev.provider_guid:
        prov_attrs.append(("Guid", _s(ev.provider_guid)))
    eid_attrs = (
        (("Qualifiers", _Val(_V_UINT16, struct.pack("<H", ev.qualifiers))),)
        if ev.qualifiers is not None
        else ()
    )
    system = _El(
        "System",
        children=(
            _El("Provider", attrs=tuple(prov_attrs)),
            _El("EventID", attrs=eid_attrs, text=_Val(_V_UINT16, struct.pack("<H", ev.event_id))),
            _El("Version", text=_Val(_V_UINT8, struct.pack("<B", ev.version))),
            _El("Level", text=_Val(_V_UINT8, struct.pack("<B", ev.level))),
            _El("Task", text=_Val(_V_UINT16, struct.pack("<H", ev.task))),
            _El("Opcode", text=_Val(_V_UINT8, struct.pack("<B", ev.opcode))),
            _El("Keywords", text=_Val(_V_HEX64, struct.pack("<Q", ev.keywords))),
            _El(
                "TimeCreated", attrs=(("SystemTime", _Val(_V_FILETIME, struct.pack("<Q", filetime(ev.ts)))),)
            ),
            _El("EventRecordID", text=_Val(_V_UINT64, struct.pack("<Q", ev.system_record_id or record_id))),
            _El("Correlation", attrs=(("ActivityID", _s(ev.activity_id)),) if ev.activity_id else ()),
            _El(
                "Execution",
                attrs=(
                    ("ProcessID", _Val(_V_UINT32, struct.pack("<I", ev.process_id))),
                    ("ThreadID", _Val(_V_UINT32, struct.pack("<I", ev.thread_id))),
                ),
            ),
            _El("Channel", text=_s(ev.channel)),
            _El("Computer", text=_s(ev.computer)),
            _El("Security", attrs=(("UserID", _s(ev.user_id)),) if ev.user_id else ()),
        ),
    )
    children: list[_El] = [system]
    if ev.user_data is not None:
        wrapper, fields = ev.user_data
        inner = _El(
            wrapper,
            attrs=(("xmlns", _s(ev.user_data_ns)),),
            children=tuple(_El(k, text=_s(v)) for k, v in fields),
        )
        children.append(_El("UserData", children=(inner,)))
    elif ev.event_data is not None:
        data = tuple(_El("Data", attrs=(("Name", _s(k)),), text=_s(v)) for k, v in ev.event_data)
        children.append(_El("EventData", children=data))
    return _El("Event", attrs=(("xmlns", _s(EVENT_NS)),), children=tuple(children))


def record_bytes(ev: WinEvent, record_id: int, chunk_offset: int) -> bytes:
    """One complete event record (header, binary XML, trailing size) placed at ``chunk_offset``."""
    binxml_at = chunk_offset + 24
    head = bytes([_T_FRAGMENT, 1, 1, 0])
    # TemplateInstance: token, unknown, template id, definition offset (= right here: inline)
    tmpl_hdr_at = binxml_at + len(head) + 10
    body_at = tmpl_hdr_at + 24
    subst = _Subst()
    body = _Body(body_at + 4, subst)
    body.element(_tree(ev, record_id))
    body_bytes = bytes([_T_FRAGMENT, 1, 1, 0]) + bytes(body.buf) + bytes([_T_EOF])
    digest = hashlib.sha256(body_bytes).digest()
    template_id = struct.unpack("<I", digest[:4])[0]
    out = bytearray(head)
    out += struct.pack("<BBII", _T_TEMPLATE, 1, template_id, tmpl_hdr_at)
    out += struct.pack("<I", 0) + digest[:16] + struct.pack("<I", len(body_bytes))
    out += body_bytes
    out += struct.pack("<I", len(subst.values))
    for vtype, payload in subst.values:
        out += struct.pack("<HBB", len(payload), vtype, 0)
    for _vtype, payload in subst.values:
        out += payload
    out.append(_T_EOF)
    size = 24 + len(out) + 4
    return (
        struct.pack("<IIQQ", 0x2A2A, size, record_id, filetime(ev.ts)) + bytes(out) + struct.pack("<I", size)
    )


# --- chunks and file ----------------------------------------------------------------------


def _crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def _chunk(records: Sequence[tuple[int, bytes, int]], first_number: int) -> bytes:
    """A 64 KiB chunk from ``(record_id, bytes, offset)`` triples already laid out."""
    body = bytearray(CHUNK_SIZE)
    for _rid, data, off in records:
        body[off : off + len(data)] = data
    free = records[-1][2] + len(records[-1][1])
    first_id, last_id = records[0][0], records[-1][0]
    hdr = bytearray(CHUNK_HEADER_SIZE)
    struct.pack_into(
        "<8sQQQQIII",
        hdr,
        0,
        b"ElfChnk\x00",
        first_number,
        first_number + len(records) - 1,
        first_id,
        last_id,
        128,
        records[-1][2],
        free,
    )
    struct.pack_into("<I", hdr, 0x34, _crc(bytes(body[CHUNK_HEADER_SIZE:free])))
    struct.pack_into("<I", hdr, 0x7C, _crc(bytes(hdr[:120]) + bytes(hdr[128:512])))
    body[:CHUNK_HEADER_SIZE] = hdr
    return bytes(body)


def _layout(events: Iterable[WinEvent], first_record_id: int) -> list[list[tuple[int, bytes, int]]]:
    """Place records into chunks; a record never spans two chunks."""
    chunks: list[list[tuple[int, bytes, int]]] = []
    current: list[tuple[int, bytes, int]] = []
    offset = CHUNK_HEADER_SIZE
    rid = first_record_id
    for ev in events:
        data = record_bytes(ev, rid, offset)
        if offset + len(data) > CHUNK_SIZE:
            if not current:
                raise ValueError(f"event {rid} is larger than a chunk")
            chunks.append(current)
            current, offset = [], CHUNK_HEADER_SIZE
            data = record_bytes(ev, rid, offset)  # offsets inside the record changed
        current.append((rid, data, offset))
        offset += len(data)
        rid += 1
    if current:
        chunks.append(current)
    return chunks


def _file_header(n_chunks: int, next_record_id: int) -> bytes:
    hdr = bytearray(FILE_HEADER_SIZE)
    struct.pack_into(
        "<8sQQQIHHHH",
        hdr,
        0,
        b"ElfFile\x00",
        0,
        max(n_chunks - 1, 0),
        next_record_id,
        128,
        1,
        3,
        FILE_HEADER_SIZE,
        n_chunks,
    )
    struct.pack_into("<I", hdr, 124, _crc(bytes(hdr[:120])))
    return bytes(hdr)


def evtx_bytes(
    events: Iterable[WinEvent],
    *,
    first_record_id: int = 1,
    corrupt_chunk: int | None = None,
    truncate_to: int | None = None,
) -> bytes:
    """A whole EVTX file. ``corrupt_chunk`` overwrites that chunk's magic; ``truncate_to`` cuts the file."""
    chunks = _layout(events, first_record_id)
    n_records = sum(len(c) for c in chunks)
    out = bytearray(_file_header(len(chunks), first_record_id + n_records))
    number = 1
    for i, recs in enumerate(chunks):
        data = bytearray(_chunk(recs, number))
        if corrupt_chunk == i:
            data[:8] = b"XXXXXXXX"
        out += data
        number += len(recs)
    if truncate_to is not None:
        del out[truncate_to:]
    return bytes(out)


def write_evtx(path: Path, events: Iterable[WinEvent], **options: Any) -> Path:
    """Write ``events`` (in order, record ids from 1) as an EVTX file; options as ``evtx_bytes``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(evtx_bytes(events, **options))
    return path


# --- text renderings ----------------------------------------------------------------------


def system_time(ts: datetime) -> str:
    """``SystemTime`` as Windows and evtx print it: UTC with 7 (XML) fractional digits."""
    u = ts.astimezone(UTC)
    return u.strftime("%Y-%m-%dT%H:%M:%S.") + f"{u.microsecond:06d}0Z"


def event_xml(ev: WinEvent, record_id: int) -> str:
    """One ``<Event>`` element as ``wevtutil qe /f:xml`` prints it (single quotes, one line)."""
    q = _q
    parts = [f"<Event xmlns={q(EVENT_NS)}><System>"]
    guid = f" Guid={q(ev.provider_guid)}" if ev.provider_guid else ""
    parts.append(f"<Provider Name={q(ev.provider)}{guid}/>")
    qual = f" Qualifiers={q(str(ev.qualifiers))}" if ev.qualifiers is not None else ""
    parts.append(f"<EventID{qual}>{ev.event_id}</EventID>")
    parts.append(f"<Version>{ev.version}</Version><Level>{ev.level}</Level><Task>{ev.task}</Task>")
    parts.append(f"<Opcode>{ev.opcode}</Opcode><Keywords>0x{ev.keywords:x}</Keywords>")
    parts.append(f"<TimeCreated SystemTime={q(system_time(ev.ts))}/>")
    parts.append(f"<EventRecordID>{ev.system_record_id or record_id}</EventRecordID>")
    parts.append(f"<Correlation ActivityID={q(ev.activity_id)}/>" if ev.activity_id else "<Correlation/>")
    parts.append(f"<Execution ProcessID={q(str(ev.process_id))} ThreadID={q(str(ev.thread_id))}/>")
    parts.append(f"<Channel>{escape(ev.channel)}</Channel><Computer>{escape(ev.computer)}</Computer>")
    parts.append(f"<Security UserID={q(ev.user_id)}/>" if ev.user_id else "<Security/>")
    parts.append("</System>")
    if ev.user_data is not None:
        wrapper, fields = ev.user_data
        inner = "".join(_xml_el(k, v) for k, v in fields)
        parts.append(f"<UserData><{wrapper} xmlns={q(ev.user_data_ns)}>{inner}</{wrapper}></UserData>")
    elif ev.event_data is not None:
        inner = "".join(
            f"<Data Name={q(k)}/>" if v is None else f"<Data Name={q(k)}>{escape(v)}</Data>"
            for k, v in ev.event_data
        )
        parts.append(f"<EventData>{inner}</EventData>")
    parts.append("</Event>")
    return "".join(parts)


def _q(text: str) -> str:
    return quoteattr(text, {'"': "&quot;"}) if "'" in text else f"'{escape(text)}'"


def _xml_el(name: str, value: str | None) -> str:
    return f"<{name}/>" if value is None else f"<{name}>{escape(value)}</{name}>"


def wevtutil_xml(events: Iterable[WinEvent], first_record_id: int = 1) -> str:
    """A ``wevtutil qe <log> /f:xml`` style export wrapped in ``<Events>`` (as collectors save it)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<Events>"]
    lines += [event_xml(ev, first_record_id + i) for i, ev in enumerate(events)]
    lines.append("</Events>")
    return "\n".join(lines) + "\n"


def event_json(ev: WinEvent, record_id: int) -> dict[str, Any]:
    """One record in the JSON shape the ``evtx`` package (and ``evtx_dump -o jsonl``) emits."""
    prov: dict[str, Any] = {"Name": ev.provider}
    if ev.provider_guid:
        prov["Guid"] = ev.provider_guid
    eid: Any = ev.event_id
    if ev.qualifiers is not None:
        eid = {"#attributes": {"Qualifiers": ev.qualifiers}, "#text": ev.event_id}
    system: dict[str, Any] = {
        "Provider": {"#attributes": prov},
        "EventID": eid,
        "Version": ev.version,
        "Level": ev.level,
        "Task": ev.task,
        "Opcode": ev.opcode,
        "Keywords": f"0x{ev.keywords:x}",
        "TimeCreated": {
            "#attributes": {"SystemTime": ev.ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        },
        "EventRecordID": ev.system_record_id or record_id,
        "Correlation": {"#attributes": {"ActivityID": ev.activity_id}} if ev.activity_id else None,
        "Execution": {"#attributes": {"ProcessID": ev.process_id, "ThreadID": ev.thread_id}},
        "Channel": ev.channel,
        "Computer": ev.computer,
        "Security": {"#attributes": {"UserID": ev.user_id}} if ev.user_id else None,
    }
    event: dict[str, Any] = {"#attributes": {"xmlns": EVENT_NS}, "System": system}
    if ev.user_data is not None:
        wrapper, fields = ev.user_data
        inner: dict[str, Any] = {"#attributes": {"xmlns": ev.user_data_ns}}
        inner.update({k: v or "" for k, v in fields})
        event["UserData"] = {wrapper: inner}
    elif ev.event_data is not None:
        # evtx renders a null substitution as an empty string
        event["EventData"] = {k: v or "" for k, v in ev.event_data}
    return {"Event": event}
