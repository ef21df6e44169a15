"""EVTX files read chunk by chunk, against what their own headers claim.

The ``evtx`` package reads a file through its file header and gives up on a chunk whose header
is damaged, on a chunk the file ends inside, and on the rest of a chunk after a record header it
cannot read. It says nothing about how many records the file holds. This module reads the file
header and every chunk header itself (layout from the public EVTX format notes, e.g. libyal's
"Windows XML Event Log (EVTX)"), counts the records they claim, and hands each chunk to
``evtx`` on its own:

- an intact chunk (signature, both CRC32s, 64 KiB present, ``evtx`` yields what its header says)
  is parsed as stored, so its rows are exactly those of the whole-file iterator;
- any other chunk is walked record by record (``**\\0\\0`` signature, size, trailing size copy),
  resynchronising on the next signature after damage, and each run of sound records is parsed
  from a rebuilt chunk: the original 64 KiB (zero-padded when cut) with a fresh chunk header
  and, before a run that does not start the chunk, one filler record spanning the bytes in
  front of it. Records are rebuilt in place, never copied out, because a record's binary XML
  refers to templates and names by their offset in its chunk: a record moved elsewhere would
  lose the templates defined by earlier records of the chunk. ``evtx`` (0.14) has no carving
  mode: measured on a generated 500-record file, cut inside its first chunk it yields 0
  records and no error, cut in half 214; ``skip_errors`` only silences its chunk errors and
  ``validate_checksums`` drops more (129 instead of 270 records on its own bad-chunk sample).
  The rebuilt chunk is what lets it parse what the bytes still hold.

Records from rebuilt chunks are marked ``carved``. Bytes that hold no readable record (a cut
record, a damaged header) become errors with their file offset and bytes.
"""

from __future__ import annotations

import io
import mmap
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Literal

from evtx import PyEvtxParser

FILE_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
RECORD_MAGIC = b"**\x00\x00"
FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
RECORD_HEADER_SIZE = 24
MIN_RECORD = RECORD_HEADER_SIZE + 4  # header + trailing size copy
MAX_PER_CHUNK = (CHUNK_SIZE - CHUNK_HEADER_SIZE) // MIN_RECORD
FILLER_ID = 0xFFFF_FFFF_FFFF_FF00  # record id of the filler record in a rebuilt chunk
MAX_RAW_BYTES = 64 * 1024  # bytes kept (as hex) with an unreadable record

Method = Literal["records", "records_json"]


def _crc(data: bytes | memoryview) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


@dataclass(frozen=True)
class FileHeader:
    """The 4 KiB file header's fields (only those that say what the file holds)."""

    magic_ok: bool
    first_chunk: int
    last_chunk: int
    next_record_id: int
    chunk_count: int
    flags: int
    crc_ok: bool

    @property
    def dirty(self) -> bool:
        """Windows had the log open and did not close it cleanly (flag 0x1)."""
        return bool(self.flags & 1)


def parse_file_header(head: bytes) -> FileHeader:
    """The file header from the file's first bytes (fields are zero when too short)."""
    b = head[:128].ljust(128, b"\x00")
    first, last, next_id = struct.unpack_from("<QQQ", b, 8)
    (count,) = struct.unpack_from("<H", b, 42)
    flags, crc = struct.unpack_from("<II", b, 120)
    return FileHeader(b[:8] == FILE_MAGIC, first, last, next_id, count, flags, _crc(b[:120]) == crc)


@dataclass(frozen=True)
class ChunkHeader:
    """A chunk header's fields and checks."""

    magic_ok: bool
    first_number: int
    last_number: int
    first_id: int
    last_id: int
    last_record_offset: int
    free_offset: int
    header_crc_ok: bool
    data_crc_ok: bool

    @property
    def count(self) -> int | None:
        """Records the header says the chunk holds, when its numbers are plausible."""
        n = self.last_number - self.first_number + 1
        if 1 <= n <= MAX_PER_CHUNK and self.last_id - self.first_id == n - 1:
            return n
        return None

    @property
    def trusted(self) -> bool:
        """Signature and header CRC both good: the counts and tables can be relied on."""
        return self.magic_ok and self.header_crc_ok


def parse_chunk_header(data: bytes) -> ChunkHeader:
    """A chunk header from the chunk's bytes (which may be cut short)."""
    b = data[:CHUNK_HEADER_SIZE].ljust(CHUNK_HEADER_SIZE, b"\x00")
    first_n, last_n, first_id, last_id = struct.unpack_from("<QQQQ", b, 8)
    last_off, free, data_crc = struct.unpack_from("<III", b, 44)
    (hdr_crc,) = struct.unpack_from("<I", b, 124)
    header_ok = len(data) >= CHUNK_HEADER_SIZE and _crc(b[:120] + b[128:512]) == hdr_crc
    data_ok = CHUNK_HEADER_SIZE <= free <= len(data) and _crc(data[CHUNK_HEADER_SIZE:free]) == data_crc
    return ChunkHeader(
        b[:8] == CHUNK_MAGIC, first_n, last_n, first_id, last_id, last_off, free, header_ok, data_ok
    )


@dataclass(frozen=True)
class RecordError:
    """An item that is not a record: what ``evtx`` or the carver could not read, and where."""

    reason: str
    offset: int | None = None  # byte offset in the file
    raw: bytes | None = None  # the bytes, when they were carved
    record_id: int | None = None


Item = dict[str, Any] | RecordError


@dataclass
class Piece:
    """The items of one chunk (or of the file's unreadable remainder), in file order."""

    items: list[Item]
    carved: bool
    errors: int  # how many of the items are RecordError


@dataclass
class Accounting:
    """What the file's headers claim against what was read from it."""

    claimed: int = 0
    items: int = 0  # records + errors handed out
    carved: int = 0  # records (not errors) from rebuilt chunks
    truncated: bool = False
    damage: list[str] = field(default_factory=list)

    @property
    def shortfall(self) -> int:
        """Records the headers claim that were neither read nor kept as an error."""
        return max(0, self.claimed - self.items)

    @property
    def status(self) -> str | None:
        """``truncated`` / ``damaged`` when the file is not whole, else None."""
        if self.truncated:
            return "truncated"
        if self.damage or self.shortfall:
            return "damaged"
        return None

    def summary(self) -> str:
        """One line for the analyst: counts first, then what was found wrong."""
        text = (
            f"headers claim {self.claimed} records; read {self.items} "
            f"({self.carved} carved), {self.shortfall} missing"
        )
        return "; ".join([text, *self.damage[:8]]) + ("; ..." if len(self.damage) > 8 else "")


# ---- reading ---------------------------------------------------------------------------------


def _file_header_bytes() -> bytes:
    """A clean file header for one chunk: what ``evtx`` needs to open a rebuilt chunk."""
    hdr = bytearray(FILE_HEADER_SIZE)
    struct.pack_into("<8sQQQIHHHH", hdr, 0, FILE_MAGIC, 0, 0, 1, 128, 1, 3, FILE_HEADER_SIZE, 1)
    struct.pack_into("<I", hdr, 124, _crc(bytes(hdr[:120])))
    return bytes(hdr)


_ONE_CHUNK_HEADER = _file_header_bytes()


def _evtx_items(data: bytes, method: Method, limit: int) -> list[Item]:
    """Up to ``limit`` items ``evtx`` yields for one chunk (errors as ``RecordError``).

    ``limit`` bounds a chunk whose records loop (a zero size would), and a Rust panic ends
    the chunk: the iterator is not trusted after one.
    """
    it = getattr(PyEvtxParser(io.BytesIO(_ONE_CHUNK_HEADER + data), 1), method)()
    items: list[Item] = []
    while len(items) < limit:
        before = len(items)
        try:
            items.extend(islice(it, limit - len(items)))
        except Exception as exc:  # one bad record: evtx goes on after it
            items.append(RecordError(f"evtx: {exc}", record_id=_failed_id(str(exc))))
            continue
        except BaseException as exc:  # pyo3's PanicException is a BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            items.append(RecordError(f"evtx panicked: {exc}"))
            break
        if len(items) - before < limit - before:
            break  # the iterator is done
    return items


def _failed_id(message: str) -> int | None:
    """The record id in evtx's "Failed to parse record N" messages."""
    marker = "Failed to parse record "
    at = message.find(marker)
    if at < 0:
        return None
    digits = message[at + len(marker) :].split(None, 1)[0].rstrip(":,")
    return int(digits) if digits.isdigit() else None


@dataclass(frozen=True)
class _Rec:
    offset: int  # in the chunk
    size: int
    record_id: int


def _record_at(data: bytes, off: int, limit: int, strict: bool) -> _Rec | None:
    """A record at ``off``: signature and a size inside the chunk, as ``evtx`` checks them;
    ``strict`` (for records found by signature) also wants the size inside ``limit`` and the
    trailing size copy to agree."""
    if off + MIN_RECORD > limit or data[off : off + 4] != RECORD_MAGIC:
        return None
    size, rid = struct.unpack_from("<IQ", data, off + 4)
    if size < MIN_RECORD or off + size > (limit if strict else len(data)):
        return None
    if strict and struct.unpack_from("<I", data, off + size - 4)[0] != size:
        return None
    return _Rec(off, size, rid)


def walk(
    data: bytes, limit: int, start: int = CHUNK_HEADER_SIZE, resync: bool = True
) -> tuple[list[_Rec], list[tuple[int, int]], int]:
    """Records from ``start`` to ``limit`` in a chunk's bytes, the spans between them that hold
    none, and where the walk ended. After damage the walk goes on at the next signature whose
    record is sound (``resync``), else it stops."""
    recs: list[_Rec] = []
    gaps: list[tuple[int, int]] = []
    off = start
    while off + MIN_RECORD <= limit:
        rec = _record_at(data, off, limit, strict=False)
        if rec is not None:
            recs.append(rec)
            off += rec.size
            continue
        if not resync:
            break
        nxt = data.find(RECORD_MAGIC, off + 1, limit)
        while nxt >= 0 and _record_at(data, nxt, limit, strict=True) is None:
            nxt = data.find(RECORD_MAGIC, nxt + 1, limit)
        end = limit if nxt < 0 else nxt
        if data.count(0, off, end) < end - off:  # a zeroed tail is unused space, not damage
            gaps.append((off, end))
        if nxt < 0:
            return recs, gaps, limit
        off = nxt
    if resync and off < limit and data.count(0, off, limit) < limit - off:
        gaps.append((off, limit))
        off = limit
    return recs, gaps, off


def _rebuilt(data: bytes, recs: list[_Rec], keep_tables: bool) -> bytes:
    """A 64 KiB chunk whose header and (when needed) filler make ``evtx`` read exactly ``recs``."""
    chunk = bytearray(data[:CHUNK_SIZE].ljust(CHUNK_SIZE, b"\x00"))
    start, last = recs[0], recs[-1]
    free = last.offset + last.size
    if start.offset > CHUNK_HEADER_SIZE:
        # the filler's header and a bare end-of-stream token replace the first 25 bytes of the
        # record at 512, whose templates (defined after its 38 bytes of headers) stay intact
        size = start.offset - CHUNK_HEADER_SIZE
        struct.pack_into("<4sIQQB", chunk, CHUNK_HEADER_SIZE, RECORD_MAGIC, size, FILLER_ID, 0, 0)
        struct.pack_into("<I", chunk, start.offset - 4, size)
    hdr = bytearray(chunk[:CHUNK_HEADER_SIZE]) if keep_tables else bytearray(CHUNK_HEADER_SIZE)
    struct.pack_into(
        "<8sQQQQIII", hdr, 0, CHUNK_MAGIC, start.record_id, last.record_id, start.record_id,
        last.record_id, 128, last.offset, free,
    )  # fmt: skip
    chunk[:CHUNK_HEADER_SIZE] = hdr
    struct.pack_into("<I", chunk, 52, _crc(bytes(chunk[CHUNK_HEADER_SIZE:free])))
    struct.pack_into("<I", chunk, 124, _crc(bytes(chunk[:120]) + bytes(chunk[128:512])))
    return bytes(chunk)


def _carve(
    data: bytes, base: int, recs: list[_Rec], method: Method, keep_tables: bool
) -> list[tuple[int, Item]]:
    """(offset, item) for ``recs`` from rebuilt chunks; records ``evtx`` cannot read become errors."""
    out: list[tuple[int, Item]] = []
    i = 0
    while i < len(recs):
        rec = recs[i]
        if CHUNK_HEADER_SIZE < rec.offset < CHUNK_HEADER_SIZE + MIN_RECORD:  # no room for a filler
            out.append(
                (rec.offset, _unreadable(data, base, rec, "record too close to the chunk header to re-read"))
            )
            i += 1
            continue
        j = i + 1
        while j < len(recs) and recs[j].offset == recs[j - 1].offset + recs[j - 1].size:
            j += 1
        run = recs[i:j]  # contiguous: evtx walks a chunk by record sizes
        filler = rec.offset > CHUNK_HEADER_SIZE
        got = _evtx_items(_rebuilt(data, run, keep_tables), method, len(run) + int(filler))
        if filler and got:
            got = got[1:]
        for r, item in zip(run, got, strict=False):
            out.append(
                (r.offset, _unreadable(data, base, r, item.reason) if isinstance(item, RecordError) else item)
            )
        if not got:
            out.append((rec.offset, _unreadable(data, base, rec, "evtx read nothing from this record")))
            i += 1
        else:
            i += len(got)
    return out


def _unreadable(data: bytes, base: int, rec: _Rec, reason: str) -> RecordError:
    raw = data[rec.offset : rec.offset + min(rec.size, MAX_RAW_BYTES)]
    return RecordError(reason, base + rec.offset, raw, rec.record_id)


def _gap_error(data: bytes, base: int, start: int, end: int) -> RecordError:
    raw = data[start : min(end, start + MAX_RAW_BYTES)]
    if raw.startswith(RECORD_MAGIC) and end - start >= 8:
        (size,) = struct.unpack_from("<I", data, start + 4)
        why = f"record header at offset {base + start} says {size} bytes; {end - start} bytes are readable there"
    else:
        why = f"{end - start} bytes at offset {base + start} hold no readable record"
    return RecordError(why, base + start, raw)


class EvtxFile:
    """One EVTX file, read chunk by chunk; ``accounting`` is complete once ``pieces`` is exhausted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.acc = Accounting()

    def pieces(self, method: Method = "records_json") -> Iterator[Piece]:
        """The items of every chunk, in file order."""
        self.acc = acc = Accounting()
        with open(self.path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(0)
            header = parse_file_header(fh.read(128))
            if not header.magic_ok:
                acc.damage.append("file header signature damaged")
            elif not header.crc_ok:
                acc.damage.append("file header CRC32 mismatch")
            firsts: list[int] = []
            for base in _chunk_offsets(fh, size, header):
                fh.seek(base)
                data = fh.read(CHUNK_SIZE)
                piece = self._chunk(data, base, method, firsts)
                if piece is not None:
                    yield piece
            expected = FILE_HEADER_SIZE + header.chunk_count * CHUNK_SIZE
            if header.magic_ok and size < expected:
                acc.truncated = True
                acc.damage.append(f"file is {size} bytes; its header counts {header.chunk_count} chunks")
            if header.magic_ok and header.crc_ok and not firsts and header.next_record_id > 1:
                # no chunk header readable: a log's ids start at 1, so the next id bounds the count
                acc.claimed = max(
                    acc.claimed, min(header.next_record_id - 1, header.chunk_count * MAX_PER_CHUNK)
                )
            elif acc.truncated and header.magic_ok and header.crc_ok and firsts:
                # chunks cut off: the file header's next record id says how many records they held
                missing = max(0, header.chunk_count - len(firsts))
                beyond = header.next_record_id - min(firsts) - acc.claimed
                acc.claimed += max(0, min(beyond, missing * MAX_PER_CHUNK))
            if header.dirty and acc.status:
                acc.damage.append("the file header marks the log as not closed cleanly (dirty)")

    def _chunk(self, data: bytes, base: int, method: Method, firsts: list[int]) -> Piece | None:
        acc = self.acc
        if data[:8] != CHUNK_MAGIC and data.count(0) == len(data):
            return None  # an unused (zeroed) slot
        hdr = parse_chunk_header(data)
        whole = len(data) == CHUNK_SIZE
        claim = hdr.count if hdr.trusted else None
        if claim is not None and whole and hdr.data_crc_ok:
            items = _evtx_items(data, method, MAX_PER_CHUNK + 1)
            if len(items) >= claim:
                self._count(len(items), claim, 0, hdr.first_id, firsts)
                errors = sum(isinstance(i, RecordError) for i in items)
                return Piece(
                    _located(items, data, base, hdr) if errors else items, carved=False, errors=errors
                )
        recs, gaps = _records(data, hdr)
        if not recs and not gaps and not claim:
            return None  # an unused (zeroed) slot
        where = _where(base)
        if not whole:
            acc.truncated = True
            acc.damage.append(f"{where} cut at {len(data)} of {CHUNK_SIZE} bytes")
        if not hdr.magic_ok:
            acc.damage.append(f"{where} signature damaged")
        elif not hdr.header_crc_ok and len(data) >= CHUNK_HEADER_SIZE:
            acc.damage.append(f"{where} header CRC32 mismatch")
        elif not hdr.data_crc_ok and whole:
            acc.damage.append(f"{where} records CRC32 mismatch")
        elif whole:
            acc.damage.append(f"{where}: evtx stopped before the records its header counts; the rest carved")
        found = _carve(data, base, recs, method, hdr.trusted) if recs else []
        found += [(s, _gap_error(data, base, s, e)) for s, e in gaps]
        found.sort(key=lambda p: p[0])
        items = [it for _, it in found]
        carved = sum(1 for it in items if not isinstance(it, RecordError))
        first = recs[0].record_id if recs and hdr.trusted else None
        self._count(len(items), max(claim or 0, len(recs) + len(gaps)), carved, first, firsts)
        return Piece(items, carved=True, errors=len(items) - carved) if items else None

    def _count(self, n: int, claim: int, carved: int, first: int | None, firsts: list[int]) -> None:
        self.acc.claimed += claim
        self.acc.items += n
        self.acc.carved += carved
        if first is not None:
            firsts.append(first)


def _records(data: bytes, hdr: ChunkHeader) -> tuple[list[_Rec], list[tuple[int, int]]]:
    """The records of a chunk to carve: up to its free-space offset when that is plausible;
    past it only while sound records follow on, when the header is not trusted (its free
    offset may be the damaged field). Slack space is not carved."""
    if not (hdr.magic_ok and CHUNK_HEADER_SIZE <= hdr.free_offset <= len(data)):
        recs, gaps, _ = walk(data, len(data))
        return recs, gaps
    recs, gaps, end = walk(data, hdr.free_offset)
    if not hdr.trusted and _record_at(data, end, len(data), strict=True) is not None:
        more, _, _ = walk(data, len(data), start=end, resync=False)
        recs += more
    return recs, gaps


def _located(items: list[Item], data: bytes, base: int, hdr: ChunkHeader) -> list[Item]:
    """The errors of an intact chunk with their offsets and bytes: ``evtx`` reads one record
    per item, in the order the record sizes lead, so item i is the i-th record walked."""
    recs, _, _ = walk(data, hdr.free_offset, resync=False)
    if len(recs) != len(items):
        return items
    return [
        _unreadable(data, base, rec, item.reason) if isinstance(item, RecordError) else item
        for rec, item in zip(recs, items, strict=True)
    ]


def _where(base: int) -> str:
    rel = base - FILE_HEADER_SIZE
    return f"chunk {rel // CHUNK_SIZE}" if rel >= 0 and rel % CHUNK_SIZE == 0 else f"chunk at offset {base}"


def _chunk_offsets(fh: BinaryIO, size: int, header: FileHeader) -> list[int]:
    """Chunk positions: every 64 KiB slot after the file header; signature hits elsewhere when
    the file header is damaged (the file may not start where EVTX files start)."""
    offsets = list(range(FILE_HEADER_SIZE, size, CHUNK_SIZE))
    if header.magic_ok or size == 0:
        return offsets
    taken: set[int] = set()
    with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        aligned = [o for o in offsets if mm[o : o + 8] == CHUNK_MAGIC]
        covered = [(o, o + CHUNK_SIZE) for o in aligned]
        hit = mm.find(CHUNK_MAGIC)
        while hit >= 0:
            if not any(a <= hit < b for a, b in covered):
                taken.add(hit)
                covered.append((hit, hit + CHUNK_SIZE))
            hit = mm.find(CHUNK_MAGIC, hit + 8)
    # slots overlapped by a chunk found elsewhere are part of that chunk
    slots = [o for o in offsets if not any(t < o < t + CHUNK_SIZE for t in taken)]
    return sorted(set(slots) | taken)
