"""Timeline output formats, one module each, behind one explicit registry.

Every writer takes an Arrow table (the timeline) and a path, and writes deterministic bytes:
the same table always gives the same file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from forensics.outputs import csvfile, jsonl, parquetfile, timesketch

Writer = Callable[[pa.Table, Path], None]

WRITERS: dict[str, Writer] = {
    "csv": csvfile.write,
    "jsonl": jsonl.write,
    "timesketch": timesketch.write,
    "parquet": parquetfile.write,
}

__all__ = ["WRITERS", "Writer"]
