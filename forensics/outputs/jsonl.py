"""JSON Lines: one JSON object per timeline row, times as ISO-8601 UTC text."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa

from forensics.outputs.cells import json_value, rows


def write(table: pa.Table, out: Path) -> None:
    """Write one JSON object per row, keys in column order."""
    with out.open("wb") as fh:
        for row in rows(table):
            fh.write(orjson.dumps({k: json_value(v) for k, v in row.items()}) + b"\n")
