"""Reading line formats with the provenance every row needs (line number, byte offset)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from forensics.ingest.base import InputFile, Reject
from forensics.ingest.edr_common import Line, json_objects, reject_line
from forensics.ingest.jsonarray import first_element, is_array


def iter_lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(1-based line number, byte offset, line bytes without the newline) for every line."""
    offset = 0
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            line = raw.rstrip(b"\r\n")
            yield n, offset, line
            offset += len(raw)


def json_object_lines(src: InputFile, what: str) -> Iterator[tuple[Line, dict[str, Any] | Reject]]:
    """(line, object or Reject) for each non-blank line of a JSON-lines file, in its encoding.

    Blank lines separate records and are not records themselves. A file that is one JSON array
    gives its elements instead, one at a time, each with its own line and offset. A record whose
    bytes are not text in the file's encoding keeps them (``Line.raw_b64``, in ``position()``).
    """
    for line, obj in json_objects(src):
        if isinstance(obj, Reject):
            yield line, replace(obj, reason=f"not {what}: {obj.reason}")
        elif not isinstance(obj, dict):
            yield line, reject_line(line, f"not {what}: a JSON {type(obj).__name__}")
        else:
            yield line, obj


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
