"""A file that is one JSON array (a common SIEM export), read element by element.

Why not a library: ``ijson`` streams arrays well but does not say where an item starts in the
file, and every row here must carry its record's byte offset (``rec_offset``) so ``raw`` can
cut the record out of the original again. This scanner finds each top-level element's byte
span (strings and escapes respected, nesting counted) reading the file in chunks, and hands the
element's bytes to orjson: memory holds one element, never the file. An element larger than
``MAX_ELEMENT`` is skipped over (its bytes are not kept) and reported.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import IO

CHUNK = 1 << 20
MAX_ELEMENT = 64 << 20
_WS = b" \t\r\n"
_INNER = re.compile(rb'[\[\]{}"]')  # what changes nesting, outside strings
_STRING = re.compile(rb'["\\]')  # what ends or escapes inside a string
_SCALAR_END = re.compile(rb"[,\]}\s]")


@dataclass(frozen=True)
class Element:
    """One element of the array: where it starts, and its bytes (None when it was too large)."""

    offset: int  # byte offset of its first byte in the file
    line: int  # 1-based line it starts on
    data: bytes | None
    size: int


class NotAnArray(ValueError):
    """The file does not hold one JSON array (what it holds instead is in the message)."""


def is_array(head: bytes) -> bool:
    """True when the first non-blank byte of ``head`` (after a UTF-8 BOM) opens a JSON array."""
    return head.lstrip(b"\xef\xbb\xbf").lstrip(_WS)[:1] == b"["


class _Reader:
    """A window on the file: ``buf`` holds bytes from absolute offset ``base``."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.buf = b""
        self.base = 0
        self.eof = False
        self.lines = 1  # line number at ``base``

    def more(self, keep_from: int) -> bool:
        """Drop bytes before ``keep_from`` (absolute) and read a chunk; False at the end of the file."""
        if self.eof:
            return False
        cut = keep_from - self.base
        if cut > 0:
            self.lines += self.buf.count(b"\n", 0, cut)
            self.buf = self.buf[cut:]
            self.base = keep_from
        chunk = self.fh.read(CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def line_at(self, offset: int) -> int:
        return self.lines + self.buf.count(b"\n", 0, offset - self.base)


def elements(fh: IO[bytes], max_element: int = MAX_ELEMENT) -> Iterator[Element]:
    """Every element of the top-level array in ``fh``; ``NotAnArray`` when it holds something else."""
    r = _Reader(fh)
    r.more(0)
    pos = _skip_ws(r, 0, bom=True)
    if _byte(r, pos) != b"[":
        raise NotAnArray("the file does not start with '['")
    yield from _items(r, pos, max_element)


def _items(r: _Reader, pos: int, max_element: int) -> Generator[Element, None, int]:
    """The elements of the array opening at ``pos``; returns the offset just past its ``]``."""
    pos += 1
    first = True
    while True:
        pos = _skip_ws(r, pos)
        b = _byte(r, pos)
        if b == b"]":
            return pos + 1
        if not first:
            if b != b",":
                raise NotAnArray(f"expected ',' or ']' at byte {pos}, found {b!r}")
            pos = _skip_ws(r, pos + 1)
            b = _byte(r, pos)
        if b == b"":
            raise NotAnArray("the array is not closed: the file ends inside it")
        first = False
        start, line = pos, r.line_at(pos)
        end, kept = _element_end(r, pos, max_element)
        data = r.buf[start - r.base : end - r.base] if kept else None
        yield Element(start, line, data, end - start)
        pos = end


def is_document(head: bytes) -> bool:
    """True when ``head`` opens a pretty-printed JSON object (its first line is ``{`` alone): a
    document, read by ``records`` (JSON lines hold a whole object on each line)."""
    first, _, rest = head.lstrip(b"\xef\xbb\xbf").lstrip(_WS).partition(b"\n")
    return first.strip() == b"{" and bool(rest)


def records(fh: IO[bytes], wrappers: tuple[str, ...], max_element: int = MAX_ELEMENT) -> Iterator[Element]:
    """The records of a file of JSON documents (one, or several one after another).

    A top-level object holding an array under one of ``wrappers`` (``{"records": [...]}``, an
    API's ``{"Results": [...]}``) gives that array's elements one by one, the rest of the object
    skipped over unkept: memory holds one record, never the document. An object without such an
    array is one record; a top-level array gives its elements.
    """
    r = _Reader(fh)
    r.more(0)
    pos = _skip_ws(r, 0, bom=True)
    while (b := _byte(r, pos)) != b"":
        if b == b"[":
            pos = yield from _items(r, pos, max_element)
        elif b == b"{":
            start, line = pos, r.line_at(pos)
            found, pos = yield from _wrapped(r, pos, wrappers, max_element)
            if not found:  # one record: read it again, whole (bounded)
                lines_after = r.line_at(pos)
                try:
                    data: bytes | None = element_at(r.fh, start, max_element)
                except NotAnArray:
                    data = None  # larger than max_element
                yield Element(start, line, data, pos - start)
                r = _Reader(r.fh)
                r.fh.seek(pos)
                r.base, r.lines = pos, lines_after
                r.more(pos)
        else:
            raise NotAnArray(f"expected a JSON object or array at byte {pos}, found {b!r}")
        pos = _skip_ws(r, pos)


def _wrapped(
    r: _Reader, pos: int, wrappers: tuple[str, ...], max_element: int
) -> Generator[Element, None, tuple[bool, int]]:
    """The elements of the wrapper arrays of the object opening at ``pos``; returns (whether it had
    one, the offset just past its ``}``)."""
    import orjson

    found = False
    pos = _skip_ws(r, pos + 1)
    if _byte(r, pos) == b"}":
        return False, pos + 1
    while True:
        if _byte(r, pos) != b'"':
            raise NotAnArray(f"expected a member name at byte {pos}, found {_byte(r, pos)!r}")
        end, kept = _element_end(r, pos, 1024)
        name = orjson.loads(r.buf[pos - r.base : end - r.base]) if kept else None
        pos = _skip_ws(r, end)
        if _byte(r, pos) != b":":
            raise NotAnArray(f"expected ':' at byte {pos}, found {_byte(r, pos)!r}")
        pos = _skip_ws(r, pos + 1)
        if name in wrappers and _byte(r, pos) == b"[":
            found = True
            pos = yield from _items(r, pos, max_element)
        else:
            pos, _ = _element_end(r, pos, 0)  # skipped over, nothing kept
        pos = _skip_ws(r, pos)
        b = _byte(r, pos)
        if b == b"}":
            return found, pos + 1
        if b != b",":
            raise NotAnArray(f"expected ',' or '}}' at byte {pos}, found {b!r}")
        pos = _skip_ws(r, pos + 1)


def _byte(r: _Reader, pos: int) -> bytes:
    while pos - r.base >= len(r.buf):
        if not r.more(pos):
            return b""
    return r.buf[pos - r.base : pos - r.base + 1]


def _skip_ws(r: _Reader, pos: int, bom: bool = False) -> int:
    if bom and _byte(r, pos) == b"\xef" and r.buf[pos - r.base : pos - r.base + 3] == b"\xef\xbb\xbf":
        pos += 3
    while (b := _byte(r, pos)) and b in _WS:
        pos += 1
    return pos


def _element_end(r: _Reader, start: int, max_element: int) -> tuple[int, bool]:
    """(absolute end offset, whether its bytes are still in the window) of the element at ``start``."""
    first = _byte(r, start)
    kept = True
    keep_from = start
    if first not in (b"{", b"[", b'"'):
        pos = start
        while True:  # a number, true, false or null
            m = _SCALAR_END.search(r.buf, pos - r.base)
            if m:
                return r.base + m.start(), True
            pos = r.base + len(r.buf)
            if not r.more(keep_from):
                return pos, True
    depth = 0
    in_string = False
    pos = start
    while True:
        if pos - start > max_element and kept:
            kept = False  # too large: stop keeping its bytes, go on to find its end
        if not kept:
            keep_from = pos
        m = (_STRING if in_string else _INNER).search(r.buf, pos - r.base)
        if m is None:
            pos = r.base + len(r.buf)
            if not r.more(keep_from):
                raise NotAnArray(f"the element at byte {start} is not closed: the file ends inside it")
            continue
        pos = r.base + m.end()
        c = m.group()
        if in_string:
            if c == b"\\":
                if pos - r.base >= len(r.buf) and not r.more(keep_from):
                    raise NotAnArray(f"the element at byte {start} ends inside a string")
                pos += 1  # the escaped byte, whatever it is
            else:
                in_string = False
                if depth == 0:
                    return pos, kept
        elif c == b'"':
            in_string = True
        elif c in (b"{", b"["):
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return pos, kept


def first_element(head: bytes) -> dict[str, object] | None:
    """The first element of the array that ``head`` (a file's first bytes) opens, when it is an
    object complete within ``head``: what a sniffer looks at."""
    import io

    import orjson

    try:
        for el in elements(io.BytesIO(head)):
            obj = orjson.loads(el.data) if el.data is not None else None
            return obj if isinstance(obj, dict) else None
    except (NotAnArray, orjson.JSONDecodeError):
        return None
    return None


def element_at(fh: IO[bytes], offset: int, max_element: int = MAX_ELEMENT) -> bytes:
    """The bytes of the JSON value starting at ``offset`` (how ``raw`` cuts one record out again)."""
    fh.seek(offset)
    r = _Reader(fh)
    r.base = offset
    r.more(offset)
    end, kept = _element_end(r, offset, max_element)
    if not kept:
        raise NotAnArray(f"the element at byte {offset} is larger than {max_element} bytes")
    return r.buf[: end - offset]
