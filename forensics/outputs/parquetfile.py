"""Parquet: the timeline table as it is (typed columns, UTC timestamps), zstd-compressed."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def write(table: pa.Table, out: Path) -> None:
    """Write the table as one Parquet file."""
    pq.write_table(table, out, compression="zstd")
