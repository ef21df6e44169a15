"""Types of the C flattener ``_evtxflat.c`` (built with the package; see its header comment)."""

from typing import Any

# (column name, value kind 0 str / 1 int64 / 2 int32 / 3 UTC timestamp, validity, values, data buffers)
Column = tuple[str, int, Any, Any, Any]
# a native column past the limit, sparse: (name, rows int64, valid one byte each, ends int32, data)
Spilled = tuple[str, bytes, bytes, bytes, bytes]
# (channel, int64 record positions as bytes, columns, spilled columns)
Group = tuple[str | None, bytes, list[Column], list[Spilled]]

def flatten(
    records: list[dict[str, Any]], core_names: tuple[str, ...], max_natives: int = 0
) -> tuple[list[Group], list[int]]:
    """evtx ``records_json()`` dicts -> Arrow buffers per channel (natives past ``max_natives``
    spilled), and the positions left to Python."""
