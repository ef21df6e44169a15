"""Turning Arrow values into text cells and JSON values, the same way in every format."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from forensics.timeutil import iso_utc

BATCH_ROWS = 10_000


def json_value(value: Any) -> Any:
    """A JSON-ready value: times as ISO-8601 UTC text, lists kept, the rest as they are."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    """The table's rows as dicts, batch by batch (never the whole table as Python objects)."""
    for batch in table.to_batches(max_chunksize=BATCH_ROWS):
        yield from batch.to_pylist()
