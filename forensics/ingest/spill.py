"""Native fields past a part's column limit, kept in one ``extra_fields`` map column.

A column costs every row of its part (validity bits, an offset per row), so a log that names a
new field in every record (an attacker can write one) would make a part rows × names big. Past
``schema.MAX_NATIVE_COLUMNS`` native fields in one part, the most set stay columns (ties: the
first seen) and every other field goes, with its name and value, into ``extra_fields``
(``MAP(VARCHAR, VARCHAR)``): nothing is lost, and memory grows with the values, not the square.
Both EVTX paths (C flattener and rows) and every row parser choose the same way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from forensics.schema import SPILL_TYPE


def spilled_names(rows: Sequence[dict[str, Any]], natives: Sequence[str], limit: int) -> set[str]:
    """The native fields of ``rows`` that do not get a column (``natives`` in first-seen order)."""
    if limit <= 0 or len(natives) <= limit:
        return set()
    counts: Counter[str] = Counter()
    for r in rows:
        counts.update(r.keys())
    ranked = sorted(natives, key=lambda k: -counts[k])  # stable: ties keep first-seen order
    return set(ranked[limit:])


def map_from_rows(rows: Sequence[dict[str, Any]], spilled: set[str]) -> pa.Array:
    """``extra_fields`` for ``rows``: each row's spilled fields in the order the row has them."""
    offsets = [0]
    keys: list[str] = []
    values: list[str | None] = []
    for r in rows:
        for k, v in r.items():
            if k in spilled:
                keys.append(k)
                values.append(None if v is None else str(v))
        offsets.append(len(keys))
    return _map(offsets, pa.array(keys, pa.string()), pa.array(values, pa.string()))


def map_from_sparse(n: int, spilled: Iterable[tuple[str, bytes, bytes, bytes, bytes]]) -> pa.Array:
    """``extra_fields`` for ``n`` rows from the C flattener's sparse columns.

    Each spilled column comes as (name, rows int64, valid one byte each, ends int32, data): the
    values it set, in row order. Merged by row (a stable sort, so a row's fields keep the order
    of their columns) into one map array.
    """
    row_parts, key_parts, value_parts = [], [], []
    for name, rows_b, valid_b, ends_b, data_b in spilled:
        count = len(rows_b) // 8
        flags = pa.Array.from_buffers(pa.uint8(), count, [None, pa.py_buffer(valid_b)])
        bits = pc.not_equal(flags, 0).buffers()[1]
        offsets = pa.py_buffer(b"\0\0\0\0" + ends_b)  # the value ends, after a first start at 0
        value_parts.append(pa.Array.from_buffers(pa.string(), count, [bits, offsets, pa.py_buffer(data_b)]))
        key_parts.append(pa.repeat(pa.scalar(name, pa.string()), count))
        row_parts.append(pa.Array.from_buffers(pa.int64(), count, [None, pa.py_buffer(rows_b)]))
    if not row_parts:
        return pa.nulls(n, SPILL_TYPE)
    rows = pa.concat_arrays(row_parts)
    order = pc.sort_indices(rows)  # stable
    per_row = [0] * n
    for r in rows.to_pylist():
        per_row[r] += 1
    offsets = [0]
    for c in per_row:
        offsets.append(offsets[-1] + c)
    return _map(offsets, pa.concat_arrays(key_parts).take(order), pa.concat_arrays(value_parts).take(order))


def _map(offsets: list[int], keys: pa.Array, values: pa.Array) -> pa.Array:
    """A map array; rows with no entry are null, not an empty map."""
    empty = pa.array([a == b for a, b in pairwise(offsets)], pa.bool_())
    return pa.MapArray.from_arrays(pa.array(offsets, pa.int32()), keys, values, type=SPILL_TYPE, mask=empty)
