"""A small writer of Windows event logs: binary EVTX, ``wevtutil qe /f:xml`` XML and evtx-JSON.

Hand-written because no Python library writes EVTX (the ``evtx`` and ``python-evtx`` packages
only read). It exists to build synthetic test and demo logs, so it writes the common subset
Windows itself writes: a 4 KiB file header, 64 KiB chunks with CRC32 checksums, and records
whose binary XML is one template instance with every value passed as a typed substitution
(so ``EventID`` is a UInt16, ``TimeCreated`` a FILETIME, just as readers see them in real logs).
As Windows does, a template is defined inline by the first record of its shape in a chunk and
referred to by offset afterwards; names are stored once per chunk; the chunk header's string
and template tables point at them.

Layout notes (from the public format descriptions of libevtx): names are referenced by chunk
offset and stored inline where first used; element and attribute list sizes count the bytes
after their size field; a chunk's record CRC covers bytes 512 .. free-space offset.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterable
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
_T_VALUE = 0x05
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
    channel: str | int  # an int is written as a UInt32 value, as a hostile or broken log can hold
    computer: str | int
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
    bare: bool = False  # write an empty ``<Event/>`` (no System, no data), as damaged logs can hold

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


@dataclass(frozen=True)
class _Val:
    vtype: int  # the value's own type (NullType when absent)
    payload: bytes
    decl: int = -1  # the type the template declares; -1: same as vtype
    literal: bool = False  # written into the template itself (names, namespaces), not substituted

    @property
    def declared(self) -> int:
        return self.vtype if self.decl < 0 else self.decl


def _lit(text: str) -> _Val:
    return _Val(_V_STRING, _utf16(text), literal=True)


def _s(text: str | None) -> _Val:
    if text is None:
        return _Val(_V_NULL, b"", _V_STRING)
    return _Val(_V_STRING, _utf16(text))


@dataclass(frozen=True)
class _El:
    name: str
    attrs: tuple[tuple[str, _Val], ...] = ()
    children: tuple[_El, ...] = ()
    text: _Val | None = None


def _signature(el: _El) -> tuple[Any, ...]:
    """The template shape of an element: names and declared value types, not the values."""
    return (
        el.name,
        tuple((n, v.payload if v.literal else v.declared) for n, v in el.attrs),
        None if el.text is None else el.text.declared,
        tuple(_signature(c) for c in el.children),
    )


def _values(el: _El, out: list[_Val]) -> list[_Val]:
    """Substitution values in the order the template body refers to them."""
    out.extend(v for _, v in el.attrs if not v.literal)
    if el.text is not None:
        out.append(el.text)
    for child in el.children:
        _values(child, out)
    return out


@dataclass
class _ChunkState:
    """What a chunk already holds: names and templates later records refer to by offset."""

    names: dict[str, int] = field(default_factory=dict)
    templates: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)  # sig -> (offset, id)
    string_heads: list[int] = field(default_factory=lambda: [0] * 64)
    template_heads: list[int] = field(default_factory=lambda: [0] * 32)

    def copy(self) -> _ChunkState:
        return _ChunkState(
            dict(self.names), dict(self.templates), list(self.string_heads), list(self.template_heads)
        )


class _Body:
    """Builds a template body; needs its absolute chunk offset because names are offsets."""

    def __init__(self, base: int, state: _ChunkState) -> None:
        self.base = base
        self.buf = bytearray()
        self.state = state
        self.n_subst = 0

    def _write_name(self, name: str) -> None:
        known = self.state.names.get(name)
        if known is not None:  # already in this chunk: refer to it
            self.buf += struct.pack("<I", known)
            return
        # Stored inline: its offset is the position right after the offset field. Names are
        # chained per hash bucket from the chunk header's string table, as Windows does.
        here = self.base + len(self.buf) + 4
        h = name_hash(name)
        self.buf += struct.pack("<I", here)
        self.buf += struct.pack("<IHH", self.state.string_heads[h % 64], h, len(_utf16(name)) // 2)
        self.buf += _utf16(name) + b"\x00\x00"
        self.state.string_heads[h % 64] = here
        self.state.names[name] = here

    def _subst(self, val: _Val) -> None:
        if val.literal:  # a value text token: type string, character count, UTF-16
            self.buf += struct.pack("<BBH", _T_VALUE, _V_STRING, len(val.payload) // 2) + val.payload
            return
        self.buf += struct.pack("<BHB", _T_SUBST, self.n_subst, val.declared)
        self.n_subst += 1

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
                self._subst(aval)
            struct.pack_into("<I", self.buf, list_at, len(self.buf) - list_at - 4)
        if el.children or el.text is not None:
            self.buf.append(_T_CLOSE_START)
            if el.text is not None:
                self._subst(el.text)
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


def _text_or_number(value: str | int) -> _Val:
    return _Val(_V_UINT32, struct.pack("<I", value)) if isinstance(value, int) else _s(value)


def _tree(ev: WinEvent, record_id: int) -> _El:
    if ev.bare:
        return _El("Event")
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
            _El("Channel", text=_text_or_number(ev.channel)),
            _El("Computer", text=_text_or_number(ev.computer)),
            _El("Security", attrs=(("UserID", _s(ev.user_id)),) if ev.user_id else ()),
        ),
    )
    children: list[_El] = [system]
    if ev.user_data is not None:
        wrapper, fields = ev.user_data
        inner = _El(
            wrapper,
            attrs=(("xmlns", _lit(ev.user_data_ns)),),
            children=tuple(_El(k, text=_s(v)) for k, v in fields),
        )
        children.append(_El("UserData", children=(inner,)))
    elif ev.event_data is not None:
        data = tuple(_El("Data", attrs=(("Name", _lit(k)),), text=_s(v)) for k, v in ev.event_data)
        children.append(_El("EventData", children=data))
    return _El("Event", attrs=(("xmlns", _lit(EVENT_NS)),), children=tuple(children))


def record_bytes(ev: WinEvent, record_id: int, chunk_offset: int, state: _ChunkState | None = None) -> bytes:
    """One complete event record (header, binary XML, trailing size) placed at ``chunk_offset``.

    The record's template is defined inline the first time its shape appears in the chunk
    (``state``); later records of the same shape only refer to it, as Windows writes them.
    """
    state = state if state is not None else _ChunkState()
    tree = _tree(ev, record_id)
    sig = _signature(tree)
    values = _values(tree, [])
    out = bytearray([_T_FRAGMENT, 1, 1, 0])
    known = state.templates.get(sig)
    if known is not None:
        out += struct.pack("<BBII", _T_TEMPLATE, 1, known[1], known[0])
    else:
        # TemplateInstance: token, unknown, template id, definition offset (= right here: inline)
        tmpl_at = chunk_offset + 24 + len(out) + 10
        body = _Body(tmpl_at + 24 + 4, state)
        body.element(tree)
        body_bytes = bytes([_T_FRAGMENT, 1, 1, 0]) + bytes(body.buf) + bytes([_T_EOF])
        digest = hashlib.sha256(repr(sig).encode()).digest()
        template_id = struct.unpack("<I", digest[:4])[0]
        bucket = template_id % 32
        out += struct.pack("<BBII", _T_TEMPLATE, 1, template_id, tmpl_at)
        out += (
            struct.pack("<I", state.template_heads[bucket]) + digest[:16] + struct.pack("<I", len(body_bytes))
        )
        out += body_bytes
        state.template_heads[bucket] = tmpl_at
        state.templates[sig] = (tmpl_at, template_id)
    out += struct.pack("<I", len(values))
    for v in values:
        out += struct.pack("<HBB", len(v.payload), v.vtype, 0)
    for v in values:
        out += v.payload
    out.append(_T_EOF)
    size = 24 + len(out) + 4
    return (
        struct.pack("<IIQQ", 0x2A2A, size, record_id, filetime(ev.ts)) + bytes(out) + struct.pack("<I", size)
    )


# --- chunks and file ----------------------------------------------------------------------


def _crc(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


_Laid = tuple[list[tuple[int, bytes, int]], _ChunkState]


def _chunk(laid: _Laid, first_number: int) -> bytes:
    """A 64 KiB chunk from ``(record_id, bytes, offset)`` triples already laid out."""
    records, state = laid
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
    struct.pack_into("<64I", hdr, 0x80, *state.string_heads)
    struct.pack_into("<32I", hdr, 0x180, *state.template_heads)
    struct.pack_into("<I", hdr, 0x34, _crc(bytes(body[CHUNK_HEADER_SIZE:free])))
    struct.pack_into("<I", hdr, 0x7C, _crc(bytes(hdr[:120]) + bytes(hdr[128:512])))
    body[:CHUNK_HEADER_SIZE] = hdr
    return bytes(body)


def _layout(events: Iterable[WinEvent], first_record_id: int) -> list[_Laid]:
    """Place records into chunks; a record never spans two chunks."""
    chunks: list[_Laid] = []
    current: list[tuple[int, bytes, int]] = []
    state = _ChunkState()
    offset = CHUNK_HEADER_SIZE
    rid = first_record_id
    for ev in events:
        trial = state.copy()
        data = record_bytes(ev, rid, offset, trial)
        if offset + len(data) > CHUNK_SIZE:
            if not current:
                raise ValueError(f"event {rid} is larger than a chunk")
            chunks.append((current, state))
            current, offset = [], CHUNK_HEADER_SIZE
            trial = _ChunkState()
            data = record_bytes(ev, rid, offset, trial)  # names and templates start afresh
        state = trial
        current.append((rid, data, offset))
        offset += len(data)
        rid += 1
    if current:
        chunks.append((current, state))
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
    n_records = sum(len(c[0]) for c in chunks)
    out = bytearray(_file_header(len(chunks), first_record_id + n_records))
    number = 1
    for i, recs in enumerate(chunks):
        data = bytearray(_chunk(recs, number))
        if corrupt_chunk == i:
            data[:8] = b"XXXXXXXX"
        out += data
        number += len(recs[0])
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
    parts.append(
        f"<Channel>{escape(str(ev.channel))}</Channel><Computer>{escape(str(ev.computer))}</Computer>"
    )
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
