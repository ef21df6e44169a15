"""JSON Lines: one JSON object per timeline row, times as ISO-8601 UTC text."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa

from forensics.outputs import columns
from forensics.outputs.cells import BATCH_ROWS, json_value, rows


def write(table: pa.Table, out: Path) -> None:
    """Write one JSON object per row, keys in column order: the bytes ``write_rows`` writes, made
    column by column (``forensics.outputs.columns``)."""
    names = table.column_names
    if not names or len(set(names)) != len(names):
        write_rows(table, out)
        return
    keys = ["{" + columns.json_key(names[0])] + ["," + columns.json_key(n) for n in names[1:]]
    with out.open("wb") as fh:
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            if batch.num_rows:
                parts: list[pa.Array | str] = []
                for key, col in zip(keys, batch.columns, strict=True):
                    parts += [key, columns.json_values(col)]
                fh.write(columns.data_bytes(columns.joined(parts, "}\n")))


def write_rows(table: pa.Table, out: Path) -> None:
    """Write one JSON object per row, row by row (the definition ``write`` keeps)."""
    with out.open("wb") as fh:
        for row in rows(table):
            fh.write(orjson.dumps({k: json_value(v) for k, v in row.items()}) + b"\n")
