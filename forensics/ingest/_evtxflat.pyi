"""Types of the C flattener ``_evtxflat.c`` (built with the package; see its header comment)."""

from typing import Any

# (column name, value kind 0 str / 1 int64 / 2 int32 / 3 UTC timestamp, validity, values, data buffers)
Column = tuple[str, int, Any, Any, Any]
# (channel, int64 record positions as bytes, columns)
Group = tuple[str | None, bytes, list[Column]]

def flatten(records: list[dict[str, Any]], core_names: tuple[str, ...]) -> tuple[list[Group], list[int]]:
    """evtx ``records_json()`` dicts -> Arrow buffers per channel, and the positions left to Python."""
