"""The column-wise timeline writers (CSV, Timesketch JSONL, JSONL) write exactly the bytes of the
row-by-row definitions they replace, on generated hostile tables: formula payloads behind
invisible characters, quotes, commas, line breaks, control characters, backslashes, non-ASCII
text, nulls, odd years, NaN and infinite floats, lists and dictionary-encoded text.

Cost: about 3 s (hypothesis: 5 x 100 small tables, derandomized).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics.outputs import columns, csvfile, jsonl, timesketch
from forensics.timeutil import iso_ist, iso_utc

# characters that matter to some rule: formula starts (ASCII, full-width, small, minus sign),
# what spreadsheets trim (spaces, NBSP, ideographic space, zero-width, BOM), CSV and JSON
# specials, controls, and ordinary text
_ALPHABET = st.sampled_from(list(
    "=+-@\t\r\n\0 aZ09,\";'\\/{}[]:|<>&" "\u00a0\u3000\u2002\u200b\ufeff\u2028\u2029\x7f\x01\x1f"
    "＝＋－＠﹦﹢﹣﹫\u2212éß中🦀"
))  # fmt: skip
TEXT = st.none() | st.text(_ALPHABET, max_size=10)
_FIRST = datetime(1, 1, 1)  # noqa: DTZ001 (hypothesis takes naive bounds and adds the zone)
_LAST = datetime(9999, 12, 31)  # noqa: DTZ001
TIME = st.none() | st.datetimes(min_value=_FIRST, max_value=_LAST, timezones=st.just(UTC))
FLOAT = (
    st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e16, 0.1, -3.5])
)
INT = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
COLUMN_KINDS = {
    "text": (TEXT, pa.string()),
    "large": (TEXT, pa.large_string()),
    "int64": (INT, pa.int64()),
    "int32": (st.none() | st.integers(min_value=-(2**31), max_value=2**31 - 1), pa.int32()),
    "bool": (st.none() | st.booleans(), pa.bool_()),
    "float": (FLOAT, pa.float64()),
    "time": (TIME, pa.timestamp("us", tz="UTC")),
    "list": (st.none() | st.lists(TEXT, max_size=3), pa.list_(pa.string())),
}


@st.composite
def tables(draw: st.DrawFn, timesketch_shape: bool = False) -> pa.Table:
    """A small table of random column kinds (and, for Timesketch, the timeline's own columns)."""
    n = draw(st.integers(min_value=0, max_value=12))
    kinds = draw(st.lists(st.sampled_from(sorted(COLUMN_KINDS)), min_size=2, max_size=6))
    cols: dict[str, pa.Array] = {}
    for i, kind in enumerate(kinds):
        values, typ = COLUMN_KINDS[kind]
        cols[f"{draw(st.text(_ALPHABET, max_size=6))}#{i}"] = pa.array(
            draw(st.lists(values, min_size=n, max_size=n)), typ
        )
    if draw(st.booleans()):  # dictionary-encoded text, as Arrow may hand it over
        cols["dict"] = pa.array(draw(st.lists(TEXT, min_size=n, max_size=n)), pa.string()).dictionary_encode()
    if timesketch_shape:
        for name, (values, typ) in {
            "ts": (TIME, pa.timestamp("us", tz="UTC")),
            "ts_corrected": (TIME, pa.timestamp("us", tz="UTC")),
            "row_type": (st.none() | st.sampled_from(["finding", "event", "other"]), pa.string()),
            "clock_offset_s": (st.none() | st.sampled_from([0.0, -2.5, 3600.0004, math.nan]), pa.float64()),
            "message": (TEXT, pa.string()),
            "channel": (TEXT, pa.string()),
            "event_id": (st.none() | st.integers(min_value=0, max_value=70000), pa.int32()),
        }.items():
            cols[name] = pa.array(draw(st.lists(values, min_size=n, max_size=n)), typ)
    return pa.table(cols)


def _same(tmp: Path, table: pa.Table, fast: object, slow: object) -> None:
    a, b = tmp / "fast", tmp / "slow"
    fast(table, a)  # type: ignore[operator]
    slow(table, b)  # type: ignore[operator]
    assert a.read_bytes() == b.read_bytes()


@settings(max_examples=100, derandomize=True, deadline=None)
@given(tables())
def test_csv_writer_writes_the_row_by_row_bytes(tmp_path_factory, table: pa.Table) -> None:
    _same(tmp_path_factory.mktemp("csv"), table, csvfile.write, csvfile.write_rows)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(tables())
def test_jsonl_writer_writes_the_row_by_row_bytes(tmp_path_factory, table: pa.Table) -> None:
    _same(tmp_path_factory.mktemp("jsonl"), table, jsonl.write, jsonl.write_rows)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(tables(timesketch_shape=True))
def test_timesketch_writer_writes_the_row_by_row_bytes(tmp_path_factory, table: pa.Table) -> None:
    _same(tmp_path_factory.mktemp("ts"), table, timesketch.write, timesketch.write_rows)


def test_batches_and_chunks_join_seamlessly(tmp_path: Path) -> None:
    """More rows than one batch, in several chunks: the files still equal the row-by-row ones."""
    n = 25_003
    base = datetime(2022, 5, 1, tzinfo=UTC)
    texts = ["=1+1", 'say "hi", then\r\nleave', "C:\\Windows\\x.exe", "\x01ctl", "plain", None, "－1"]
    table = pa.table({
        "ts": pa.array([base + timedelta(seconds=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
        "ts_corrected": pa.array([base + timedelta(seconds=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
        "message": pa.array([texts[i % len(texts)] for i in range(n)], pa.string()),
        "clock_offset_s": pa.array([float(i % 3) for i in range(n)], pa.float64()),
        "row_type": pa.array(["finding" if i % 5 == 0 else "event" for i in range(n)], pa.string()),
        "n": pa.array(range(n), pa.int64()),
    })  # fmt: skip
    table = pa.concat_tables([table.slice(0, 7_001), table.slice(7_001)])
    for fast, slow in ((csvfile.write, csvfile.write_rows), (jsonl.write, jsonl.write_rows),
                       (timesketch.write, timesketch.write_rows)):  # fmt: skip
        _same(tmp_path, table, fast, slow)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.lists(TIME, max_size=8))
def test_time_texts_are_the_per_value_ones(times: list[datetime | None]) -> None:
    """UTC, IST and ISO-with-offset texts of a time column, as timeutil and isoformat spell them."""
    col = pa.array(times, pa.timestamp("us", tz="UTC"))
    assert columns.iso_utc_text(col).to_pylist() == [iso_utc(t) if t else None for t in times]
    assert columns.iso_ist_text(col).to_pylist() == [iso_ist(t) if t else None for t in times]
    assert columns.iso_offset_text(col).to_pylist() == [
        t.astimezone(UTC).isoformat(timespec="microseconds") if t else None for t in times
    ]


@settings(max_examples=100, derandomize=True, deadline=None)
@given(tables(), st.booleans())
def test_present_values_are_the_rows_without_nulls(table: pa.Table, drop_empty: bool) -> None:
    """Each row's set values, in column order, as the row-by-row filter keeps them."""
    table = table.rename_columns([f"c{i}" for i in range(table.num_columns)])  # names unique
    expected = [
        {k: v for k, v in row.items() if v is not None and not (drop_empty and v == "")}
        for row in table.to_pylist()
    ]
    got = columns.present_values(table, drop_empty=drop_empty)
    assert got == expected
    assert [list(r) for r in got] == [list(r) for r in expected]
