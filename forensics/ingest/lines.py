"""Reading line formats with the provenance every row needs (line number, byte offset)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from forensics.ingest.base import Reject


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

    Blank lines separate records and are not records themselves.
    """
    for n, offset, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield n, offset, Reject(f"not {what}: {exc}", line.decode("utf-8", "replace"), offset, n)
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


def first_json_object(head: bytes) -> dict[str, object] | None:
    """The first non-blank line of ``head`` parsed as a JSON object, or None."""
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
