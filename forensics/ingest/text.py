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

UTF8 = "utf-8"
FALLBACK = "latin-1"  # decodes every byte: the last resort, never wrong about being decodable


_HIGH = re.compile(rb"[\x80-\xff]")


def detect(head: bytes) -> str | None:
    """The encoding of a text file from its first bytes; None for binary.

    UTF-8 when most lines with non-ASCII bytes are valid UTF-8 (a stray Latin-1 or damaged
    line does not make a UTF-8 log Latin-1: that line keeps its bytes); otherwise the code
    page those lines read best in. NUL bytes throughout mean binary (or UTF-16 without a BOM,
    left to the format's own parser); a few NULs (a damaged stretch) are judged around.
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
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


def is_utf8(data: bytes) -> bool:
    """True when ``data`` is valid UTF-8."""
    try:
        data.decode(UTF8)
    except UnicodeDecodeError:
        return False
    return True


# Code pages that read a head equally well (same chaos and coherence) differ only in letters the
# head does not decide between (0xF1 is ñ in Windows-1252 and ń in Windows-1250): the tie goes to
# the Western defaults, in this order.
PREFERRED = ("cp1252", "iso8859-1", "iso8859-15")


def _guess(head: bytes) -> str:
    from charset_normalizer import from_bytes

    results = list(from_bytes(head[:65536]))
    if not results or not results[0].encoding:
        return FALLBACK
    best = results[0]
    tied = {
        codecs.lookup(r.encoding).name
        for r in results
        if (r.chaos, r.coherence) == (best.chaos, best.coherence)
    }
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
            codecs.lookup(encoding or UTF8).name if encoding not in ("utf-8-sig", "utf-16") else UTF8
        )
        self.undecoded = 0

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
