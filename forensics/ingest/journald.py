"""systemd journal: binary ``.journal`` files (also gzipped), ``journalctl -o export`` and ``-o json``.

Binary files are read here, following the documented journal file format
(https://systemd.io/JOURNAL_FILE_FORMAT/): header -> objects one after another -> entry objects ->
their data objects (``FIELD=value``, possibly XZ / LZ4 / ZSTD compressed; ``compact`` files
use 32-bit offsets). Why not a library: ``systemd-python`` needs libsystemd and a C build;
``dissect.target`` reads journals only inside its Target/plugin machinery and keeps a fixed
set of fields, dropping the others; no other maintained pure-Python reader exists on PyPI.
Compressed payloads go through ``lz4`` and ``zstandard`` (PyPI) and ``lzma`` (stdlib).

Every entry becomes a row with every field under its journal name (``MESSAGE``,
``SYSLOG_IDENTIFIER``, ``_SYSTEMD_UNIT``, ``_PID``, ``_COMM``, ...). Core columns: ``ts`` from
``__REALTIME_TIMESTAMP`` (UTC, stated by the format), ``host`` ``_HOSTNAME``, ``provider``
``SYSLOG_IDENTIFIER`` (else ``_COMM``), ``record_id`` the sequence number. Entries of the auth
and authpriv facilities (or, without a facility, of auth programs) get channel ``auth``, all
others channel ``journal``; sshd, sudo, su, shadow-utils and cron messages get the auth-log
fields (see ``linux_auth``) either way.
"""

from __future__ import annotations

import gzip
import json
import lzma
import mmap
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import lz4.block
import orjson
import zstandard

from forensics.ingest import linux_auth
from forensics.ingest.base import FileFailed, InputFile, ParseContext, Reject, Row
from forensics.timeutil import from_epoch

MAGIC = b"LPKSHHRH"
GZIP_MAGIC = b"\x1f\x8b"
MAX_GUNZIP = 2 << 30  # refuse to inflate a gzipped journal beyond 2 GiB in memory
MAX_RAW = 65_536
MAX_FIELD = 64 << 20  # a data object larger than this uncompressed is taken as corrupt
_JSON_KEYS = (b'"__REALTIME_TIMESTAMP"', b'"__CURSOR"', b'"_BOOT_ID"', b'"_TRANSPORT"')
_EXPORT_FIRST = re.compile(rb"^_{0,2}[A-Z0-9][A-Z0-9_]*=")

# header flags and object types of the journal file format
INCOMPAT_XZ, INCOMPAT_LZ4, INCOMPAT_KEYED_HASH, INCOMPAT_ZSTD, INCOMPAT_COMPACT = 1, 2, 4, 8, 16
OBJ_DATA, OBJ_ENTRY = 1, 3
OBJ_COMPRESSED_XZ, OBJ_COMPRESSED_LZ4, OBJ_COMPRESSED_ZSTD = 1, 2, 4


# ---- shared: one entry's fields into a row -------------------------------------------------
def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def entry_row(fields: dict[str, str | None], name: str) -> Row:
    """A journal entry (field name -> text) as a row."""
    row: Row = {"source": name, "channel": "journal"}
    realtime = fields.get("__REALTIME_TIMESTAMP")
    micros = _int(realtime)
    if micros is not None:
        row["ts"] = from_epoch(micros // 1_000_000).replace(microsecond=micros % 1_000_000)
        row["ts_raw"] = realtime
        row["ts_zone"] = "UTC"
        row["ts_assumed"] = False
        row["ts_year_inferred"] = False
    row["host"] = fields.get("_HOSTNAME")
    row["provider"] = fields.get("SYSLOG_IDENTIFIER") or fields.get("_COMM")
    row["record_id"] = _int(fields.get("__SEQNUM"))
    row["message"] = fields.get("MESSAGE")
    row["process_pid"] = _int(fields.get("_PID") or fields.get("SYSLOG_PID"))
    row["user_sid"] = fields.get("_UID")
    row["process_image"] = fields.get("_EXE")
    row["process_cmdline"] = fields.get("_CMDLINE")
    row.update(fields)
    facility = _int(fields.get("SYSLOG_FACILITY"))
    program, message = row.get("provider"), row.get("message") or ""
    if facility in linux_auth.AUTH_FACILITIES or (facility is None and linux_auth.is_auth(program, message)):
        row["channel"] = "auth"
    # sshd / sudo / useradd / cron messages carry the same fields as in auth.log
    row.update(linux_auth.extract(program, message))
    return row


def _fill_host(row: Row, src: InputFile, ctx: ParseContext) -> Row:
    if row.get("host") is None:
        row["host"] = ctx.host or src.host_hint
    return row


# ---- journalctl -o json / json-pretty / a JSON array of entries ----------------------------------
def _json_text(value: Any) -> str | None:
    """A journal JSON value: text, a byte array (binary field), null (too large), or a list of them."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        if all(isinstance(v, int) for v in value):
            return bytes(v & 0xFF for v in value).decode("utf-8", errors="replace")
        return "\n".join(t for t in (_json_text(v) for v in value) if t is not None)
    if isinstance(value, int | float | bool):
        return json.dumps(value)
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _json_entries(data: bytes) -> Iterator[tuple[int, int, Any, str | None]]:
    """(line, byte offset, object, error) for each top-level JSON value; arrays are opened up."""
    text = data.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    pos, line, byte_pos = 0, 1, 0
    while True:
        start = pos
        while pos < len(text) and text[pos] in " \t\r\n,[]":
            pos += 1
        line += text.count("\n", start, pos)
        byte_pos += len(text[start:pos].encode("utf-8"))
        if pos >= len(text):
            return
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            # skip to the next line and go on: one broken entry does not stop the file
            nl = text.find("\n", pos)
            end = len(text) if nl < 0 else nl + 1
            yield line, byte_pos, text[pos:end].rstrip("\n"), f"not valid JSON: {exc.msg}"
        else:
            yield line, byte_pos, obj, None
        line += text.count("\n", pos, end)
        byte_pos += len(text[pos:end].encode("utf-8"))
        pos = end


def _json_row(obj: Any, name: str, line: int, offset: int, raw: str) -> Row | Reject:
    if not isinstance(obj, dict):
        return Reject("JSON value is not a journal entry object", raw[:MAX_RAW], offset, line)
    row = entry_row({str(k): _json_text(v) for k, v in obj.items()}, name)
    row["rec_line"] = line
    row["rec_offset"] = offset
    return row


def parse_json_lines(fh: BinaryIO, name: str) -> Iterator[Row | Reject]:
    """``journalctl -o json``: one object a line, read as a stream (files can be large)."""
    offset = 0
    for line, raw in enumerate(fh, 1):
        start = offset
        offset += len(raw)
        text = raw.strip()
        if not text:
            continue  # a blank line holds no entry
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield Reject(
                f"not valid JSON: {exc}", text[:MAX_RAW].decode("utf-8", errors="replace"), start, line
            )
            continue
        yield _json_row(obj, name, line, start, text.decode("utf-8", errors="replace"))


def parse_json(data: bytes, name: str) -> Iterator[Row | Reject]:
    """``json-pretty`` output or a JSON array of entries, read whole."""
    for line, offset, obj, error in _json_entries(data):
        if error is not None:
            yield Reject(error, str(obj)[:MAX_RAW], offset, line)
            continue
        yield _json_row(obj, name, line, offset, "" if isinstance(obj, dict) else json.dumps(obj))


# ---- journalctl -o export ---------------------------------------------------------------------------
def parse_export(fh: BinaryIO, name: str) -> Iterator[Row | Reject]:
    """Export format: ``FIELD=value`` lines (binary: ``FIELD\\n<u64 le size><bytes>\\n``), blank line between entries."""
    entry = _ExportEntry()
    line, offset = 0, 0
    while raw := fh.readline():
        line += 1
        start = offset
        offset += len(raw)
        item = raw.rstrip(b"\n")
        if not item:
            yield from entry.finish(name)
            entry = _ExportEntry()
            continue
        entry.begin(start, line, raw)
        if b"=" in item:
            key, _, value = item.partition(b"=")
            _add_field(entry.fields, key, value)
            continue
        # a binary field: name, newline, 64-bit little-endian size, the bytes, newline
        size_bytes = fh.read(8)
        offset += len(size_bytes)
        size = struct.unpack("<Q", size_bytes)[0] if len(size_bytes) == 8 else -1
        if size < 0 or size > MAX_FIELD:
            entry.error = f"binary field {item[:64].decode(errors='replace')!r} has no valid length"
            line += size_bytes.count(b"\n")
            continue
        value = fh.read(size)
        end = fh.read(1)
        offset += len(value) + len(end)
        line += size_bytes.count(b"\n") + value.count(b"\n") + end.count(b"\n")
        entry.keep(size_bytes + value + end)
        if len(value) < size:
            entry.error = f"binary field {item[:64].decode(errors='replace')!r} runs past the end of the file"
            continue
        _add_field(entry.fields, item, value)
    yield from entry.finish(name)


class _ExportEntry:
    """One export-format entry being read."""

    def __init__(self) -> None:
        self.fields: dict[str, str | None] = {}
        self.start: int | None = None
        self.line = 0
        self.raw = bytearray()
        self.error: str | None = None

    def begin(self, start: int, line: int, raw: bytes) -> None:
        """Note where the entry starts (on its first line) and keep its raw text for a reject."""
        if self.start is None:
            self.start, self.line = start, line
        self.keep(raw)

    def keep(self, raw: bytes) -> None:
        """Keep raw bytes for a reject, up to MAX_RAW."""
        if len(self.raw) < MAX_RAW:
            self.raw += raw[: MAX_RAW - len(self.raw)]

    def finish(self, name: str) -> Iterator[Row | Reject]:
        """The entry as a row, or a reject when a field was broken; nothing for no entry."""
        if self.start is None:
            return
        if self.error is not None or not self.fields:
            text = bytes(self.raw).decode("utf-8", errors="replace")
            yield Reject(self.error or "empty export entry", text, self.start, self.line)
            return
        row = entry_row(self.fields, name)
        row["rec_line"] = self.line
        row["rec_offset"] = self.start
        yield row


def _add_field(fields: dict[str, str | None], key: bytes, value: bytes) -> None:
    """A field may repeat within one entry: keep every value, newline separated."""
    name = key.decode("utf-8", errors="replace")
    text = value.decode("utf-8", errors="replace")
    old = fields.get(name)
    fields[name] = text if old is None else f"{old}\n{text}"


# ---- binary journal files ---------------------------------------------------------------------------
class JournalFile:
    """A journal file held in memory, read by the documented on-disk format."""

    def __init__(self, data: bytes | mmap.mmap) -> None:
        if data[:8] != MAGIC or len(data) < 208:
            raise FileFailed("not a systemd journal file (bad signature or header too short)")
        self.data = data
        self.incompat = struct.unpack_from("<I", data, 12)[0]
        self.compact = bool(self.incompat & INCOMPAT_COMPACT)
        self.header_size = struct.unpack_from("<Q", data, 88)[0]
        self.arena_size = struct.unpack_from("<Q", data, 96)[0]
        self.n_entries = struct.unpack_from("<Q", data, 152)[0]
        self.state = data[16]

    def _object(self, offset: int, want: int) -> tuple[int, int]:
        """(flags, size) of the object at ``offset``, checked to be of type ``want``."""
        if offset <= 0 or offset % 8 or offset + 16 > len(self.data):
            raise ValueError(f"object offset {offset} outside the file")
        otype, flags = self.data[offset], self.data[offset + 1]
        size = struct.unpack_from("<Q", self.data, offset + 8)[0]
        if otype != want:
            raise ValueError(f"object at {offset} has type {otype}, expected {want}")
        if size < 16 or offset + size > len(self.data):
            raise ValueError(f"object at {offset} has size {size} beyond the file")
        return flags, size

    def entry_offsets(self) -> Iterator[int | str]:
        """Offsets of the entry objects in file order; strings for entries that cannot be reached.

        Objects are walked one after the other from the end of the header rather than through
        the entry arrays: the file is append-only, so this is the order entries were written,
        and it still finds every entry before the damage in a truncated or dirty file.
        """
        data = self.data
        offset = self.header_size
        end = min(len(data), self.header_size + self.arena_size)
        found = 0
        problem = None
        while offset + 16 <= end:
            otype = data[offset]
            size = struct.unpack_from("<Q", data, offset + 8)[0]
            if otype == 0 or size < 16:
                problem = f"no valid object at offset {offset} (corrupt or unused space)"
                break
            if offset + size > len(data):
                problem = f"object at offset {offset} runs past the end of the file (truncated)"
                break
            if otype == OBJ_ENTRY:
                found += 1
                yield offset
            offset += (size + 7) & ~7
        else:
            if offset < self.header_size + self.arena_size and found < self.n_entries:
                problem = f"file ends at offset {len(data)} inside its arena (truncated)"
        missing = self.n_entries - found
        for _ in range(max(0, missing)):
            yield f"entry counted by the header but not in the file: {problem or 'unreachable'}"

    def entry(self, offset: int) -> tuple[dict[str, str | None], int]:
        """The fields of the entry at ``offset`` and its sequence number."""
        _, size = self._object(offset, OBJ_ENTRY)
        seqnum, realtime, monotonic = struct.unpack_from("<QQQ", self.data, offset + 16)
        boot_id = self.data[offset + 40 : offset + 56].hex()
        fields: dict[str, str | None] = {
            "__SEQNUM": str(seqnum),
            "__REALTIME_TIMESTAMP": str(realtime),
            "__MONOTONIC_TIMESTAMP": str(monotonic),
        }
        item_size = 4 if self.compact else 16
        fmt = "<I" if self.compact else "<Q"
        for pos in range(offset + 64, offset + size - item_size + 1, item_size):
            data_offset = struct.unpack_from(fmt, self.data, pos)[0]
            if data_offset == 0:
                continue
            key, value = self._payload(data_offset)
            _add_field(fields, key, value)
        fields.setdefault("_BOOT_ID", boot_id)
        return fields, seqnum

    def _payload(self, offset: int) -> tuple[bytes, bytes]:
        """``FIELD``, ``value`` of a data object, decompressed."""
        flags, size = self._object(offset, OBJ_DATA)
        start = offset + (72 if self.compact else 64)
        payload = self.data[start : offset + size]
        if flags & OBJ_COMPRESSED_XZ:
            payload = lzma.decompress(payload)
        elif flags & OBJ_COMPRESSED_LZ4:
            length = int.from_bytes(payload[:8], "little")
            if length > MAX_FIELD:
                raise ValueError(f"data object at {offset} claims {length} bytes uncompressed")
            payload = lz4.block.decompress(payload[8:], uncompressed_size=length)
        elif flags & OBJ_COMPRESSED_ZSTD:
            payload = zstandard.ZstdDecompressor().decompressobj().decompress(payload)[: MAX_FIELD + 1]
        key, sep, value = payload.partition(b"=")
        if not sep:
            raise ValueError(f"data object at {offset} has no '=' in its payload")
        return key, value


def parse_binary(data: bytes | mmap.mmap, name: str) -> Iterator[Row | Reject]:
    """Every entry of a binary journal file, in the order of its entry arrays."""
    journal = JournalFile(data)
    for item in journal.entry_offsets():
        if isinstance(item, str):
            yield Reject(item)
            continue
        try:
            fields, seqnum = journal.entry(item)
        except (
            ValueError,
            struct.error,
            lzma.LZMAError,
            lz4.block.LZ4BlockError,
            zstandard.ZstdError,
        ) as exc:
            yield Reject(f"journal entry unreadable: {exc}", rec_offset=item)
            continue
        row = entry_row(fields, name)
        row["rec_offset"] = item
        row["record_id"] = seqnum
        yield row


def _gunzip_head(head: bytes) -> bytes:
    """The first inflated bytes of a gzip stream (enough to see the inner magic)."""
    try:
        return zlib.decompressobj(wbits=31).decompress(head, 64)
    except zlib.error:
        return b""


def _read_gzip(path: Path) -> bytes:
    with gzip.open(path, "rb") as fh:
        data = fh.read(MAX_GUNZIP + 1)
    if len(data) > MAX_GUNZIP:
        raise FileFailed(f"gzipped journal inflates beyond {MAX_GUNZIP} bytes; decompress it first")
    return data


class JournaldParser:
    """systemd journal: binary files (plain or gzipped), export format, JSON output."""

    name = "journald"
    description = "systemd journal: binary .journal (also .journal.gz), journalctl -o export, -o json"

    def sniff(self, head: bytes, name: str) -> bool:
        """Journal magic (also inside gzip), export-format fields, or journal JSON keys."""
        if head.startswith(MAGIC):
            return True
        if head.startswith(GZIP_MAGIC):
            return _gunzip_head(head).startswith(MAGIC)
        stripped = head.lstrip()
        if stripped[:1] in (b"{", b"["):
            return any(k in head for k in _JSON_KEYS)
        return _EXPORT_FIRST.match(head) is not None and (
            b"\n__REALTIME_TIMESTAMP=" in head or head.startswith(b"__CURSOR=")
        )

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        """Rows for every entry; rejects for unreadable ones."""
        try:
            with open(src.local, "rb") as fh:
                head = fh.read(16)
            gz = head.startswith(GZIP_MAGIC)
            if gz:
                with gzip.open(src.local, "rb") as inner:
                    head = inner.read(16)
            items = self._items(src.local, head, gz)
            for item in items:
                yield item if isinstance(item, Reject) else _fill_host(item, src, ctx)
        except (OSError, EOFError, zlib.error) as exc:
            raise FileFailed(f"cannot read the journal: {exc}") from exc

    def _items(self, path: Path, head: bytes, gz: bool) -> Iterator[Row | Reject]:
        """Pick the reader by the (inflated) first bytes."""
        if head.startswith(MAGIC):
            if gz:
                yield from parse_binary(_read_gzip(path), self.name)
                return
            with open(path, "rb") as raw, mmap.mmap(raw.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                yield from parse_binary(mm, self.name)
            return
        with _open(path, gz) as fh:
            first = _first_line(fh)
            fh.seek(0)
            if first[:1] in (b"{", b"["):
                if _is_json_object(first):
                    yield from parse_json_lines(fh, self.name)
                else:
                    yield from parse_json(fh.read(), self.name)
            else:
                yield from parse_export(fh, self.name)


def _open(path: Path, gz: bool) -> BinaryIO:
    # GzipFile has every method of BinaryIO; typeshed just does not declare it one
    return cast(BinaryIO, gzip.open(path, "rb")) if gz else path.open("rb")


def _first_line(fh: BinaryIO) -> bytes:
    """The first non-blank line, stripped (up to 1 MiB)."""
    for _ in range(1000):
        line = fh.readline(1 << 20)
        if not line:
            return b""
        if line.strip():
            return line.strip()
    return b""


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False
