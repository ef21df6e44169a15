"""Reading line formats with the provenance every row needs (line number, byte offset)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from forensics.ingest.base import Reject
from forensics.ingest.jsonarray import NotAnArray, elements, first_element, is_array
from forensics.ingest.text import is_utf8, raw_b64


def iter_lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(1-based line number, byte offset, line bytes without the newline) for every line."""
    offset = 0
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            line = raw.rstrip(b"\r\n")
            yield n, offset, line
            offset += len(raw)


def json_object_lines(path: Path, what: str) -> Iterator[tuple[int, int, dict[str, Any] | Reject]]:
    """(line number, offset, object or Reject) for each non-blank line of a JSON-lines file.

    Blank lines separate records and are not records themselves. A file that is one JSON array
    gives its elements instead, one at a time, each with its own line and offset.
    """
    with open(path, "rb") as fh:
        array = is_array(fh.read(64))
    if array:
        yield from _array_lines(path, what)
        return
    for n, offset, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            b64 = None if is_utf8(line) else raw_b64(line)
            yield (
                n,
                offset,
                Reject(f"not {what}: {exc}", line.decode("utf-8", "replace"), offset, n, raw_b64=b64),
            )
            continue
        if not isinstance(obj, dict):
            yield (
                n,
                offset,
                Reject(
                    f"not {what}: a JSON {type(obj).__name__}", line.decode("utf-8", "replace"), offset, n
                ),
            )
            continue
        yield n, offset, obj


def _array_lines(path: Path, what: str) -> Iterator[tuple[int, int, dict[str, Any] | Reject]]:
    with open(path, "rb") as fh:
        try:
            for el in elements(fh):
                if el.data is None:
                    yield el.line, el.offset, Reject(f"{what} of {el.size} bytes: over the record limit", None,
                                                     el.offset, el.line)  # fmt: skip
                    continue
                try:
                    obj = orjson.loads(el.data)
                except orjson.JSONDecodeError as exc:
                    raw = el.data.decode("utf-8", "replace")
                    yield el.line, el.offset, Reject(f"not {what}: {exc}", raw, el.offset, el.line)
                    continue
                if not isinstance(obj, dict):
                    raw = el.data.decode("utf-8", "replace")
                    yield (
                        el.line,
                        el.offset,
                        Reject(f"not {what}: a JSON {type(obj).__name__}", raw, el.offset, el.line),
                    )
                    continue
                yield el.line, el.offset, obj
        except NotAnArray as exc:
            yield 0, 0, Reject(f"JSON array unreadable from here: {exc}")


def first_json_object(head: bytes) -> dict[str, object] | None:
    """The first non-blank line of ``head`` parsed as a JSON object (or the first element of
    the JSON array ``head`` opens), or None."""
    if is_array(head):
        return first_element(head)
    text = head.lstrip(b"\xef\xbb\xbf")
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if not line.startswith(b"{"):
            return None
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        return obj if isinstance(obj, dict) else None
    return None


def flatten(
    obj: dict[str, object], prefix: str = "", out: dict[str, str | None] | None = None
) -> dict[str, str | None]:
    """Nested JSON into ``a.b.c`` keys with string values (lists as JSON text)."""
    out = {} if out is None else out
    for key, value in obj.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flatten(value, name, out)
        elif value is None or isinstance(value, str):
            out[name] = value
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, int | float):
            out[name] = str(value)
        else:
            out[name] = orjson.dumps(value).decode()
    return out
