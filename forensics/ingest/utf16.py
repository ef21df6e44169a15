"""UTF-16 text inputs, read by the same line parsers as any other text.

Windows writes UTF-16 text often: PowerShell's ``>`` and ``Out-File`` (``Get-WinEvent | ConvertTo-Json
> events.json``), Excel's "Unicode text", some consoles' CSV exports. The line parsers split bytes
on ``b"\\n"``, which UTF-16 is not, so such an input is transcoded line by line into a UTF-8 copy
in staging and parsed there (``as_utf8``); every row's position is then moved back to the
original (``Positions``): ``rec_line`` is unchanged (one line of the copy per line of the
original), ``rec_offset`` becomes the byte offset in the original, and ``raw_b64`` holds the
record's UTF-16 bytes. ``raw`` cuts records out of the original in UTF-16 (``line_at``,
``element_at``).

Code units that are not text (a lone surrogate) pass into the copy as bytes that are not UTF-8
(``surrogatepass``), so the parsers' own accounting for undecodable bytes (U+FFFD in the text,
``raw_b64``, status ``undecoded``) covers them. A dangling odd byte at the end of a file (a cut
copy) becomes U+DCxx, the ``surrogateescape`` convention.

No library does this: ``codecs`` decodes UTF-16 but keeps no line positions in the original.
"""

from __future__ import annotations

import base64
import codecs
import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from forensics.ingest.base import InputFile, Reject, Row

LE, BE = "utf-16-le", "utf-16-be"
_NEWLINE = {LE: b"\n\x00", BE: b"\x00\n"}
_CHUNK = 1 << 20
_LINE_CAP = 64 << 20  # a "line" longer than this is cut into pieces of this size (garbage, not text)


def codec_of(head: bytes) -> str | None:
    """``utf-16-le`` / ``utf-16-be`` when ``head`` is UTF-16 text, by its BOM or, without one, by
    the shape of ASCII text in it (every other byte NUL); None otherwise."""
    if head.startswith(codecs.BOM_UTF16_LE):
        return LE
    if head.startswith(codecs.BOM_UTF16_BE):
        return BE
    sample = head[:4096]
    if len(sample) < 64:
        return None
    half = len(sample) // 2
    even, odd = sample[0 : half * 2 : 2], sample[1 : half * 2 : 2]
    for codec, zeros, text in ((LE, odd, even), (BE, even, odd)):
        # 95 % of one half NUL and the other half printable ASCII or line space: text, not a binary
        # format (EVTX, journal files and images start with magic bytes and hold far fewer NULs)
        # (the printable count in C: an EVTX header is 4 KiB of mostly NULs, which passes the
        # first test for both byte orders, and a byte-by-byte count cost ~0.3 ms a file)
        if zeros.count(0) >= 0.95 * half and half - len(text.translate(None, _TEXT_BYTES)) >= 0.95 * half:
            return codec
    return None


_TEXT_BYTES = bytes(range(32, 127)) + b"\t\n\r"  # printable ASCII and line space


def is_utf16(encoding: str | None) -> bool:
    """True for the encodings this module reads."""
    return encoding in (LE, BE)


def _bom(codec: str, head: bytes) -> int:
    bom = codecs.BOM_UTF16_LE if codec == LE else codecs.BOM_UTF16_BE
    return len(bom) if head.startswith(bom) else 0


def to_text(data: bytes, codec: str) -> str:
    """UTF-16 bytes as text; lone surrogates kept as such, a dangling odd byte as U+DCxx."""
    even = len(data) & ~1
    text = data[:even].decode(codec, "surrogatepass")
    return text + chr(0xDC00 + data[-1]) if even != len(data) else text


def to_utf8(data: bytes, codec: str) -> bytes:
    """UTF-16 bytes transcoded to UTF-8 (what is not text stays visible as bytes that are not UTF-8)."""
    return to_text(data, codec).encode("utf-8", "surrogatepass")


def to_utf16(data: bytes, codec: str) -> bytes:
    """UTF-8 bytes of the copy back to the original's UTF-16 (the inverse of ``to_utf8``)."""
    return data.decode("utf-8", "surrogatepass").encode(codec, "surrogatepass")


def head_as_utf8(head: bytes, codec: str) -> bytes:
    """A file's head transcoded for sniffing: BOM dropped, a cut last code unit left out."""
    body = head[_bom(codec, head) :]
    body = body[: len(body) & ~1]
    if codec == LE and body[-2:-1] and 0xD8 <= body[-1] <= 0xDB:
        body = body[:-2]  # half a surrogate pair cut by the head's size
    if codec == BE and len(body) >= 2 and 0xD8 <= body[-2] <= 0xDB:
        body = body[:-2]
    return to_utf8(body, codec)


def iter_lines(fh: IO[bytes], codec: str, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """(byte offset, line with its terminator) for each line of a UTF-16 file from ``start``
    (an offset on a code unit boundary); a newline is the code unit U+000A, never a byte 0x0A
    that is half of another code unit."""
    nl = _NEWLINE[codec]
    fh.seek(start)
    buf = b""
    base = start  # absolute offset of buf[0]
    while True:
        pos = 0
        while True:
            i = buf.find(nl, pos)
            while i != -1 and i % 2:  # misaligned: the 0x0A byte is half of another code unit
                i = buf.find(nl, i + 1)
            if i == -1:
                break
            yield base + pos, buf[pos : i + 2]
            pos = i + 2
        buf, base = buf[pos:], base + pos
        while len(buf) >= _LINE_CAP:
            cut = _cut(buf, _LINE_CAP, codec)
            yield base, buf[:cut]
            buf, base = buf[cut:], base + cut
        chunk = fh.read(_CHUNK)
        if not chunk:
            if buf:
                yield base, buf
            return
        buf += chunk


def _cut(buf: bytes, size: int, codec: str) -> int:
    """Where to cut ``buf`` near ``size``: on a code unit boundary, never inside a surrogate pair."""
    cut = size & ~1
    high = buf[cut - 1] if codec == LE else buf[cut - 2]
    return cut - 2 if 0xD8 <= high <= 0xDB else cut


def _strip_eol(line: bytes, codec: str) -> bytes:
    """A UTF-16 line without its LF / CRLF code units."""
    nl, cr = _NEWLINE[codec], "\r".encode(codec)
    if line.endswith(nl) and len(line) % 2 == 0:
        line = line[:-2]
        if line.endswith(cr):
            line = line[:-2]
    return line


def transcode(original: Path, copy: Path, codec: str) -> None:
    """Write the UTF-8 copy of a UTF-16 file, line for line (its BOM left out)."""
    with original.open("rb") as fh, copy.open("wb") as out:
        head = fh.read(2)
        for _, line in iter_lines(fh, codec, _bom(codec, head)):
            out.write(to_utf8(line, codec))  # piece by piece as Positions counts them


class Positions:
    """Moves the positions of rows parsed from the UTF-8 copy back onto the UTF-16 original.

    The original is walked line by line, forwards, each line's length in the copy known from
    transcoding it again (parsers yield records in file order; a position before the current
    line starts the walk again from the top): one more read of the original, memory one line.
    """

    def __init__(self, original: Path, codec: str) -> None:
        self.codec = codec
        self._original = original
        self._fh = original.open("rb")
        self._start()

    def _start(self) -> None:
        self._fh.seek(0)
        bom = _bom(self.codec, self._fh.read(2))
        self._lines = iter_lines(self._fh, self.codec, bom)
        self._at8, self._at16 = 0, bom  # where the current line starts in the copy and the original
        self._line8 = b""
        self._next8 = 0  # where the line after it starts in the copy

    def close(self) -> None:
        """Release the original."""
        self._fh.close()

    def offset(self, off8: int) -> int:
        """The original's byte offset of the copy's byte offset ``off8``."""
        if off8 < self._at8:
            self._start()
        while off8 >= self._next8:
            got = next(self._lines, None)
            if got is None:
                break
            self._at16, line16 = got
            self._at8, self._line8 = self._next8, to_utf8(line16, self.codec)
            self._next8 += len(self._line8)
        inside = off8 - self._at8
        if inside <= 0:
            return self._at16
        return self._at16 + len(to_utf16(self._line8[:inside], self.codec))

    def fix(self, item: Row | Reject) -> Row | Reject:
        """``item`` with its offset in the original and its kept bytes in UTF-16."""
        if isinstance(item, Reject):
            changes: dict[str, Any] = {}
            if item.rec_offset is not None:
                changes["rec_offset"] = self.offset(item.rec_offset)
            if item.raw_b64 is not None:
                changes["raw_b64"] = self._b64(item.raw_b64)
            return dataclasses.replace(item, **changes) if changes else item
        if item.get("rec_offset") is not None:
            item["rec_offset"] = self.offset(item["rec_offset"])
        if item.get("raw_b64") is not None:
            item["raw_b64"] = self._b64(item["raw_b64"])
        return item

    def _b64(self, b64: str) -> str:
        return base64.b64encode(to_utf16(base64.b64decode(b64), self.codec)).decode("ascii")


@contextlib.contextmanager
def as_utf8(src: InputFile, staging: Path) -> Iterator[tuple[InputFile, Positions | None]]:
    """``src`` as its parser reads it: a UTF-16 input as its UTF-8 copy (deleted afterwards) with
    the ``Positions`` that move rows back onto the original; any other input as it is."""
    if not is_utf16(src.encoding):
        yield src, None
        return
    assert src.encoding is not None
    staging.mkdir(parents=True, exist_ok=True)
    copy = staging / f"{src.sha256}.utf8"
    positions: Positions | None = None
    try:
        transcode(src.local, copy, src.encoding)
        positions = Positions(src.local, src.encoding)
        head = head_as_utf8(src.head, src.encoding)
        yield (
            dataclasses.replace(src, local=copy, head=head, encoding="utf-8", size=copy.stat().st_size),
            positions,
        )
    finally:
        if positions is not None:
            positions.close()
        copy.unlink(missing_ok=True)


def line_at(fh: IO[bytes], offset: int, codec: str) -> bytes:
    """The UTF-16 line starting at ``offset`` of the original, without its line ending."""
    for _, line in iter_lines(fh, codec, offset):
        return _strip_eol(line, codec)
    return b""


def lines(fh: IO[bytes], codec: str) -> Iterator[bytes]:
    """Every line of a UTF-16 file from its start, without line endings."""
    fh.seek(0)
    bom = _bom(codec, fh.read(2))
    for _, line in iter_lines(fh, codec, bom):
        yield _strip_eol(line, codec)


class _Utf8Reader:
    """A UTF-16 file from an offset, read as UTF-8 (what the JSON element scanner reads)."""

    def __init__(self, fh: IO[bytes], codec: str) -> None:
        self._fh = fh
        self._decoder = codecs.getincrementaldecoder(codec)("surrogatepass")

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        return self._decoder.decode(data, final=not data).encode("utf-8", "surrogatepass")

    def seek(self, offset: int) -> int:
        return 0  # the scanner seeks to where it already is: the start of this reader


def element_at(fh: IO[bytes], offset: int, codec: str) -> bytes:
    """The UTF-16 bytes of the JSON value starting at ``offset`` of the original."""
    from forensics.ingest.jsonarray import element_at as element_at8

    fh.seek(offset)
    data8 = element_at8(_Utf8Reader(fh, codec), 0)  # type: ignore[arg-type]
    return to_utf16(data8, codec)
