"""The encoding of a text input, decided once per file, and lines decoded with it, losslessly.

Logs come from everywhere: a Linux host set to Latin-1, a Windows export in a code page, a
Russian or Chinese locale. Reading them all as UTF-8 with replacement would turn their names
into ``�`` without a word. The encoding is decided from the file's head (``detect``): a byte
order mark; else strict UTF-8 (ASCII included); else the best guess of ``charset-normalizer``
(a well-kept detector, pure Python); else Latin-1, which decodes any byte. It is recorded in
``inputs.encoding``. A line that still does not decode in it (a UTF-8 file with one Latin-1
line) is decoded with replacement characters for the text columns, and its exact bytes are
kept beside the row in ``raw_b64`` (base64), so nothing is lost.
"""

from __future__ import annotations

import base64
import codecs
import re
from dataclasses import dataclass
from typing import Any

from forensics.ingest import utf16

UTF8 = "utf-8"
FALLBACK = "latin-1"  # decodes every byte: the last resort, never wrong about being decodable


_HIGH = re.compile(rb"[\x80-\xff]")
_WORD = re.compile(rb"[^\s\"',:;=\[\]{}()<>|]*[\x80-\xff][^\s\"',:;=\[\]{}()<>|]*")


def detect(head: bytes) -> str | None:
    """The encoding of a text file from its first bytes; None for binary.

    UTF-8 when most lines with non-ASCII bytes are valid UTF-8 (a stray Latin-1 or damaged
    line does not make a UTF-8 log Latin-1: that line keeps its bytes); otherwise the code
    page those lines read best in. UTF-16 (``utf-16-le``/``-be``) by its BOM or its shape
    (``forensics.ingest.utf16``); other NUL bytes throughout mean binary; a few NULs (a damaged
    stretch) are judged around.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    wide = utf16.codec_of(head)  # by its BOM, or ASCII text with every other byte NUL
    if wide is not None:
        return wide
    if head.count(0) * 10 > len(head):
        return None
    lines = head.split(b"\n")
    if len(lines) > 1:
        lines = lines[:-1]  # the last is likely cut by the head's size
    high = [ln for ln in lines if _HIGH.search(ln) and b"\x00" not in ln]
    if not high:
        return UTF8
    valid = sum(1 for ln in high if is_utf8(ln))
    if valid * 2 >= len(high):
        return UTF8
    return _guess(b"\n".join(high))


def sniffable(head: bytes, encoding: str | None) -> bytes:
    """``head`` as UTF-8, what the formats' sniffers read: a code page's or UTF-16's text
    transcoded (a cp1252 JSON array is not JSON to orjson until then); UTF-8 and binary as is."""
    if encoding is None or encoding in (UTF8, "utf-8-sig"):
        return head
    if utf16.is_utf16(encoding):
        return utf16.head_as_utf8(head, encoding)
    return head.decode(encoding, "replace").encode(UTF8)


def is_utf8(data: bytes) -> bool:
    """True when ``data`` is valid UTF-8."""
    try:
        data.decode(UTF8)
    except UnicodeDecodeError:
        return False
    return True


# Code pages that read a head equally cleanly (no more chaos: mis-decoded bytes make symbol soup)
# differ only in letters the head does not decide between (0xF1 is ñ in Windows-1252 and ń in
# Windows-1250): the tie goes to the Western defaults, in this order.
PREFERRED = ("cp1252", "iso8859-1", "iso8859-15")


def _guess(head: bytes) -> str:
    from charset_normalizer import from_bytes

    # the words that hold non-ASCII bytes, not whole lines: field names and JSON keys around them
    # would make the language model judge the keys ("English") instead of the names
    results = list(from_bytes(b" ".join(_WORD.findall(head[:65536])) or head[:65536]))
    if not results or not results[0].encoding:
        return FALLBACK
    best = results[0]
    # coherence (a language model's score) is noise over a few names among ASCII field names
    # (a JSON export read as Baltic for "English" keys): any code page as clean as the best ties
    tied = {codecs.lookup(r.encoding).name for r in results if r.chaos <= best.chaos}
    name = next((p for p in PREFERRED if p in tied), codecs.lookup(best.encoding).name)
    # a line-by-line reader splits on b"\n": only encodings where that byte is always a newline
    return name if _ascii_compatible(name) else FALLBACK


def _ascii_compatible(name: str) -> bool:
    try:
        return "\n".encode(name) == b"\n" and "a:".encode(name) == b"a:"
    except (LookupError, UnicodeError):
        return False


@dataclass(frozen=True)
class Decoded:
    """A line as text, and its bytes when they did not decode cleanly."""

    text: str
    raw_b64: str | None  # set only when ``text`` holds replacement characters for bytes


class LineDecoder:
    """Decodes the lines of one file in its encoding, keeping what does not decode."""

    def __init__(self, encoding: str | None) -> None:
        self.encoding = (
            # UTF-16 inputs reach their parser as a UTF-8 copy (forensics.ingest.utf16)
            codecs.lookup(encoding or UTF8).name
            if encoding not in ("utf-8-sig", utf16.LE, utf16.BE)
            else UTF8
        )
        self.undecoded = 0

    @property
    def utf8(self) -> bool:
        """True when the file is read as UTF-8 (JSON bytes then go to the parser as they are)."""
        return self.encoding == UTF8

    def __call__(self, data: bytes) -> Decoded:
        """``data`` (one line, no terminator) decoded; a BOM at the start of the file is dropped."""
        if data.startswith(codecs.BOM_UTF8):
            data = data[3:]
        try:
            return Decoded(data.decode(self.encoding), None)
        except UnicodeDecodeError:
            self.undecoded += 1
            return Decoded(data.decode(self.encoding, errors="replace"), raw_b64(data))


def raw_b64(data: bytes) -> str:
    """Bytes as base64 text (how a row keeps bytes that are not text in its encoding)."""
    return base64.b64encode(data).decode("ascii")


def json_record(data: bytes, decoder: LineDecoder) -> tuple[Any, str | None]:
    """One JSON record's bytes parsed in the file's encoding: (value, ``raw_b64`` or None).

    UTF-8 bytes go to orjson as they are; bytes that are not (a Latin-1 name in a UTF-8 export)
    are decoded with replacement characters and parsed as text, their exact bytes kept in the
    second value. A file in another encoding is decoded in it first. Raises
    ``orjson.JSONDecodeError`` when the record is not JSON.
    """
    import orjson

    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    if not decoder.utf8:
        decoded = decoder(data)
        return orjson.loads(decoded.text), decoded.raw_b64
    try:
        return orjson.loads(data), None
    except orjson.JSONDecodeError:
        if is_utf8(data):
            raise
    decoded = decoder(data)
    return orjson.loads(decoded.text), decoded.raw_b64
