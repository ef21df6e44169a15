"""Whole Arrow columns as CSV cells and JSON values, column by column instead of cell by cell.

The per-value functions stay the definition (``csvfile.cell``, ``csvfile.is_formula``,
``cells.json_value`` with orjson, ``timesketch.line``); this module gives the same text for a
whole column with Arrow compute kernels, so a timeline of a million rows is written without a
Python object per cell. Python still decides what only it can decide exactly, but once per
distinct value and only for the values that need it: whether a text that does not begin with an
ASCII letter or digit is a formula (``is_formula`` on the distinct candidates), the JSON escape of
texts holding control characters (orjson), floats (Python's and orjson's shortest repr), times
outside the years 1000–9999, and any column type not handled below. The tests compare every
writer against the per-row rendering on generated hostile tables, byte for byte.

No numpy: pyarrow's compute functions and buffers suffice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeAlias

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from forensics.outputs.cells import json_value

Column: TypeAlias = pa.Array | pa.ChunkedArray
_UTC_TYPES = ("UTC", "+00:00", "Etc/UTC")


def _array(col: Column) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def _decoded(col: Column) -> tuple[pa.Array, pa.DataType]:
    """One array of the column with dictionaries decoded and large strings as strings, and its type."""
    arr = _array(col)
    t = arr.type
    if pa.types.is_dictionary(t):
        arr, t = arr.dictionary_decode(), t.value_type
    if pa.types.is_large_string(t):
        arr, t = arr.cast(pa.string()), pa.string()
    return arr, t


def _strings(values: Iterable[str]) -> pa.Array:
    return pa.array(list(values), pa.string())


def text(value: str) -> pa.Scalar:
    """A text as an Arrow string scalar, for a kernel's argument. A plain ``str`` works too, but
    pyarrow types it by inference, which tries to import dateutil (and pandas) at every call:
    ~40 µs each when they are absent, hundreds of calls per output."""
    return pa.scalar(value, pa.string())


_EMPTY = text("")


def per_value(col: Column, fn: Callable[[Any], str]) -> pa.Array:
    """``fn`` of every Python value of the column (the exact, slow path for rare types)."""
    return _strings(fn(v) for v in _array(col).to_pylist())


def _by_distinct(arr: pa.Array, mask: pa.Array | None, fn: Callable[[Any], str]) -> pa.Array:
    """``arr`` (non-null strings) with the values where ``mask`` holds replaced by ``fn`` of them,
    ``fn`` called once per distinct value."""
    if mask is not None and not pc.any(mask).as_py():
        return arr
    chosen = arr if mask is None else arr.filter(mask)
    distinct = pc.unique(chosen)
    mapped = _strings(fn(v) for v in distinct.to_pylist())
    index = pc.index_in(arr, value_set=distinct)
    replaced = pc.take(mapped, index)
    if mask is None:
        return replaced
    return pc.if_else(mask, replaced, arr)


def by_distinct_value(col: Column, fn: Callable[[Any], str]) -> pa.Array:
    """``fn`` of every Python value of the column, called once per distinct value (nulls too)."""
    arr = _array(col)
    distinct = pc.unique(arr)
    mapped = _strings(fn(v) for v in distinct.to_pylist())
    return pc.take(mapped, pc.index_in(arr, value_set=distinct))


def utc_time_usable(t: pa.DataType) -> bool:
    """A tz-aware UTC timestamp in microseconds: what the vectorised time texts expect."""
    return pa.types.is_timestamp(t) and t.unit == "us" and t.tz in _UTC_TYPES


def _naive(arr: pa.Array) -> pa.Array:
    """The same instants as a zone-less microsecond timestamp (Arrow formats those fast: a zone
    makes every value go through the time-zone database)."""
    return arr.cast(pa.int64()).cast(pa.timestamp("us"))


_YEAR_MIN, _YEAR_MAX = pa.scalar(1000, pa.int64()), pa.scalar(9999, pa.int64())


def _time_text(arr: pa.Array, shift_us: int, suffix: str, exact: Callable[[datetime], str]) -> pa.Array:
    """Times (UTC, microseconds) shifted by ``shift_us`` as ``YYYY-MM-DDTHH:MM:SS.ffffff`` +
    ``suffix``, nulls kept null; the years Python's ``strftime``/``isoformat`` may spell
    differently (before 1000, after 9999) by ``exact`` of the original time."""
    naive = _naive(arr)
    if shift_us:
        naive = pc.add(naive, pa.scalar(shift_us, pa.duration("us")))
    # Arrow writes a zone-less microsecond timestamp as "2022-11-22 15:32:00.000000"
    texts = pc.binary_join_element_wise(
        pc.replace_substring(naive.cast(pa.string()), " ", "T", max_replacements=1), text(suffix), _EMPTY
    )
    year = pc.year(naive)
    odd = pc.fill_null(pc.or_(pc.less(year, _YEAR_MIN), pc.greater(year, _YEAR_MAX)), False)
    if not pc.any(odd).as_py():
        return texts
    fixed = [exact(v) if v is not None else None for v in arr.filter(odd).to_pylist()]
    return pc.replace_with_mask(texts, odd, pa.array(fixed, pa.string()))


def iso_utc_text(col: Column) -> pa.Array:
    """``timeutil.iso_utc`` of every time (``2022-11-22T15:32:00.000000Z``), null for null."""
    from forensics.timeutil import iso_utc

    return _time_text(_array(col), 0, "Z", iso_utc)


def iso_ist_text(col: Column) -> pa.Array:
    """``timeutil.iso_ist`` of every time (``2022-11-22T21:02:00.000000+05:30``), null for null."""
    from forensics.timeutil import iso_ist

    return _time_text(_array(col), 19_800_000_000, "+05:30", iso_ist)  # IST is UTC+05:30, no DST


def iso_offset_text(col: Column) -> pa.Array:
    """``dt.astimezone(UTC).isoformat(timespec="microseconds")`` of every time, null for null."""
    from datetime import UTC

    return _time_text(
        _array(col), 0, "+00:00", lambda d: d.astimezone(UTC).isoformat(timespec="microseconds")
    )


def present_values(table: pa.Table, *, drop_empty: bool = False) -> list[dict[str, Any]]:
    """Each row's columns that have a value (not null; with ``drop_empty`` not empty text either),
    as Python values by column name, in column order.

    Column by column: an event row has a few dozen of its 400-odd columns set, so only those
    values become Python objects (``to_pylist`` of the whole table would make every null one).
    """
    n = table.num_rows
    rows: list[dict[str, Any]] = [{} for _ in range(n)]
    for name, col in zip(table.column_names, table.columns, strict=True):
        if col.null_count == n:
            continue
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        mask = col.is_valid()
        if drop_empty and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            mask = pc.and_(mask, pc.fill_null(pc.not_equal(col, pa.scalar("", col.type)), False))
        where = pc.indices_nonzero(mask).to_pylist()
        for i, value in zip(where, col.filter(mask).to_pylist(), strict=True):
            rows[i][name] = value
    return rows


# ---- CSV -------------------------------------------------------------------------------------
def neutralised(arr: pa.Array) -> pa.Array:
    """``csvfile.neutralise`` of every (non-null) text: ``is_formula`` runs once per distinct text
    that does not begin with an ASCII letter or digit (the only ones it can find a formula in)."""
    from forensics.outputs.csvfile import is_formula

    cand = pc.match_substring_regex(arr, r"^[^A-Za-z0-9]")
    if not pc.any(cand).as_py():
        return arr
    hits = [v for v in pc.unique(arr.filter(cand)).to_pylist() if is_formula(v)]
    if not hits:
        return arr
    mask = pc.is_in(arr, value_set=pa.array(hits, pa.string()))
    return pc.if_else(mask, pc.binary_join_element_wise(text("'"), arr, _EMPTY), arr)


def csv_quoted(arr: pa.Array) -> pa.Array:
    """Python's ``csv`` QUOTE_MINIMAL (excel dialect, ``\\r\\n`` lines): a field holding a comma,
    a double quote, CR or LF is quoted, its quotes doubled."""
    needs = pc.match_substring_regex(arr, '[,"\r\n]')
    if not pc.any(needs).as_py():
        return arr
    quote = text('"')
    quoted = pc.binary_join_element_wise(quote, pc.replace_substring(arr, '"', '""'), quote, _EMPTY)
    return pc.if_else(needs, quoted, arr)


def _csv_fallback(value: Any) -> str:
    from forensics.outputs.csvfile import cell

    got = cell(value)
    return got if isinstance(got, str) else str(got)


def csv_cells(col: Column) -> pa.Array:
    """The CSV field text of every cell, as ``csv.writer`` writes ``csvfile.cell`` of it."""
    arr, t = _decoded(col)
    if pa.types.is_string(t):
        return csv_quoted(neutralised(pc.fill_null(arr, "")))
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return pc.fill_null(arr.cast(pa.string()), "")  # digits and '-', true/false: never quoted
    if utc_time_usable(t):
        return pc.fill_null(iso_utc_text(arr), "")
    if pa.types.is_floating(t):
        return by_distinct_value(arr, _csv_fallback)  # Python's repr: few distinct values (offsets)
    return csv_quoted(per_value(arr, _csv_fallback))


# ---- JSON ------------------------------------------------------------------------------------
def _orjson_text(value: Any) -> str:
    return orjson.dumps(json_value(value)).decode("utf-8")


def json_strings(arr: pa.Array) -> pa.Array:
    """orjson's encoding of every text (null as ``null``): quotes and backslashes escaped here;
    a text holding a control character (U+0000–U+001F) goes through orjson itself, once per
    distinct value."""
    valid = arr.is_valid()
    values = pc.fill_null(arr, "")
    quote = text('"')
    plain = pc.binary_join_element_wise(
        quote, pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"'), quote, _EMPTY
    )
    ctrl = pc.match_substring_regex(values, "[\x00-\x1f]")
    out = _by_distinct_into(plain, values, ctrl, _orjson_text)
    return pc.if_else(valid, out, _NULL)


_NULL = text("null")


def _by_distinct_into(dest: pa.Array, source: pa.Array, mask: pa.Array, fn: Callable[[Any], str]) -> pa.Array:
    """``dest`` with the rows where ``mask`` holds replaced by ``fn`` of ``source``'s value, once per
    distinct value."""
    if not pc.any(mask).as_py():
        return dest
    return pc.if_else(mask, _by_distinct(source, mask, fn), dest)


def json_values(col: Column) -> pa.Array:
    """The JSON text of every value, as ``orjson.dumps(cells.json_value(v))`` writes it."""
    arr, t = _decoded(col)
    if pa.types.is_string(t):
        return json_strings(arr)
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return pc.fill_null(arr.cast(pa.string()), "null")
    if utc_time_usable(t):
        quote = text('"')
        return pc.fill_null(pc.binary_join_element_wise(quote, iso_utc_text(arr), quote, _EMPTY), "null")
    if pa.types.is_floating(t):
        return by_distinct_value(arr, _orjson_text)
    return per_value(arr, _orjson_text)


def json_key(name: str) -> str:
    """A key as orjson writes it, with its colon."""
    return orjson.dumps(name).decode("utf-8") + ":"


# ---- lines -----------------------------------------------------------------------------------
def joined(parts: list[pa.Array | str], end: str) -> pa.Array:
    """Each row's parts (arrays of text, or one text for every row) concatenated, then ``end``."""
    typed = [text(p) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*typed, text(end), _EMPTY)


def data_bytes(arr: pa.Array) -> memoryview:
    """The bytes of a non-null string array's values, back to back (its data buffer, sliced)."""
    if len(arr) == 0:
        return memoryview(b"")
    if arr.null_count:
        raise ValueError("a text column to write has nulls")
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    _validity, offsets, data = arr.buffers()
    offs = memoryview(offsets).cast("B").cast("i")
    start, end = offs[arr.offset], offs[arr.offset + len(arr)]
    return memoryview(b"") if data is None else memoryview(data)[start:end]
