"""The C flattener against the row path on generated records (issue 11 item 9).

Hypothesis writes the JSON ``evtx`` would hand over — and shapes it never should: long
strings, escapes, ``\\u0000``, lone and paired surrogates, huge and negative numbers, floats,
deep nesting, duplicate keys, keys differing only in case, odd System values. Both paths run
on the same records; every record must come out as the same row (or the same reject) either
way. The C module may decline a record (the row path then takes it); it may never differ.
"""

from __future__ import annotations

import json
import os
from array import array
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensics.ingest import evtx_fast
from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.evtx import record_to_row
from forensics.ingest.worker import InputResult, _finish_row, rows_to_table
from forensics.schema import FieldNamer

pytestmark = pytest.mark.skipif(
    not evtx_fast.available() and os.environ.get("CI") != "true", reason="the C flattener was not built here"
)

SRC = InputFile("gen.evtx", None, Path("gen.evtx"), 1, "0" * 64, "0" * 32)


class Pairs(list):  # type: ignore[type-arg]
    """A JSON object written as (key, value) pairs, so keys may repeat."""


def enc(v: Any, ascii_only: bool) -> str:
    """JSON text for generated values (Pairs keep duplicate keys)."""
    if isinstance(v, Pairs):
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=ascii_only)}:{enc(x, ascii_only)}" for k, x in v)
            + "}"
        )
    if isinstance(v, list):
        return "[" + ",".join(enc(x, ascii_only) for x in v) + "]"
    if isinstance(v, float):
        return repr(v) if v == v and v not in (float("inf"), float("-inf")) else "0"
    return json.dumps(v, ensure_ascii=ascii_only)


texts = st.one_of(
    st.text(max_size=40),
    st.tuples(st.text(min_size=1, max_size=8), st.integers(100, 4000)).map(lambda t: t[0] * t[1]),  # long
    st.sampled_from(
        ["", "\u0000", "a\u0000b", '"', "\\", "\\u0041", "\ud83d\ude00", "C:\\Windows\\x.exe", "%%1833"]
    ),
)
numbers = st.one_of(
    st.integers(-(2**64), 2**65),
    st.sampled_from([0, -1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(texts, numbers, st.booleans(), st.none())


rare = st.tuples(st.booleans(), st.booleans(), st.booleans()).map(all)  # about 1 in 8


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually what Windows writes, sometimes not: most records must reach the C path's end."""
    return st.tuples(rare, usual, odd).map(lambda t: t[2] if t[0] else t[1])


names = mostly(
    st.sampled_from(
        ["CommandLine", "commandline", "COMMANDLINE", "Image", "image", "TargetUserName", "ProcessId",
         "processid", "Data", "Hashes", "IpAddress", "ParentImage", "LogonType"]
    ),
    st.one_of(st.sampled_from(["#text", "#attributes", "message", "host", "ts"]), st.text(min_size=1, max_size=12)),
)  # fmt: skip


def nested(depth: int) -> st.SearchStrategy[Any]:
    """Values up to ``depth`` levels of objects and lists deep."""
    if depth == 0:
        return mostly(texts, scalars)
    inner = nested(depth - 1)
    return st.one_of(
        mostly(texts, scalars),
        mostly(texts, scalars),
        st.lists(inner, max_size=4),
        st.lists(st.tuples(names, inner), max_size=4).map(Pairs),
    )


def deep(levels: int) -> Any:
    v: Any = "bottom"
    for i in range(levels):
        v = Pairs([("#text" if i % 2 else "x", v)]) if i % 3 else [v]
    return v


event_data = st.one_of(
    st.lists(st.tuples(names, nested(3)), max_size=12).map(Pairs),
    st.lists(st.tuples(names, mostly(texts, scalars)), max_size=12).map(Pairs),
    st.lists(st.tuples(names, mostly(texts, scalars)), max_size=12).map(Pairs),
    st.integers(0, 90).map(lambda n: Pairs([("Deep", deep(n))])),
    scalars,
)
event_ids = st.one_of(
    st.integers(-5, 70000),
    numbers,
    texts,
    st.tuples(numbers, st.integers(0, 70000)).map(lambda q: Pairs([("#attributes", Pairs([("Qualifiers", q[0])])), ("#text", q[1])])),
)  # fmt: skip
times = st.one_of(
    st.sampled_from(["2024-05-01T10:00:00.123456Z", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.1234567Z"]),
    texts,
    numbers,
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    system = Pairs(
        [
            ("Provider", Pairs([("#attributes", Pairs([("Name", draw(mostly(texts, numbers)))]))])),
            ("EventID", draw(mostly(st.integers(0, 65535), event_ids))),
            ("EventRecordID", draw(mostly(st.integers(0, 2**63), texts))),
            ("Channel", draw(mostly(st.sampled_from(["Security", "security", "System"]), st.one_of(texts, numbers, st.none())))),
            ("Computer", draw(mostly(st.just("WS1"), st.one_of(texts, numbers)))),
            ("TimeCreated", Pairs([("#attributes", Pairs([("SystemTime", draw(mostly(st.just("2024-05-01T10:00:00.123456Z"), times)))]))])),
        ]
    )  # fmt: skip
    if draw(rare):
        system.append(("Channel", draw(texts)))  # a duplicate System key
    event = Pairs([("System", system)])
    which = draw(st.sampled_from(["EventData", "EventData", "EventData", "UserData", "both", "none"]))
    if which in ("EventData", "both"):
        event.append(("EventData", draw(event_data)))
    if which in ("UserData", "both"):
        event.append(("UserData", Pairs([("Wrapper", draw(event_data))])))
    if draw(rare):
        event.append(("RenderingInfo", Pairs([("Message", draw(scalars))])))
    top = Pairs([("Event", event)])
    text = enc(top, draw(st.booleans()))
    if draw(rare) and draw(rare):
        text = text[: draw(st.integers(0, len(text)))]  # cut short
    return {
        "event_record_id": draw(st.integers(0, 2**40)),
        "timestamp": "2024-05-01 10:00:00.000000 UTC",
        "data": text,
    }


class Capture:
    """A sink keeping what the fast path hands over."""

    def __init__(self, namer: FieldNamer) -> None:
        self.tables: list[pa.Table] = []
        self.rows: list[Row] = []
        self.rejects: dict[int, str] = {}
        self.namer = namer

    def write(self, table: pa.Table, source: str, channel: str | None) -> None:
        from forensics.ingest.worker import _rename

        self.tables.append(_rename(table, self.namer))

    def add_row(self, row: Row, src: InputFile, ctx: ParseContext, index: int, res: Any) -> None:
        _finish_row(row, src, ctx, index, res)
        self.rows.append(row)

    def reject(self, sha: str, index: int, rej: Reject) -> None:
        self.rejects[index] = rej.reason


def _by_index(tables: list[pa.Table]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for t in tables:
        for r in t.to_pylist():
            out[r["rec_index"]] = {k: v for k, v in r.items() if v is not None}
    return out


def both_paths(recs: list[dict[str, Any]]) -> tuple[Any, Any]:
    """(rows by rec_index, rejects by rec_index) from the fast path and from the row path."""
    ctx = ParseContext()
    fast_sink = Capture(FieldNamer([]))
    batch = evtx_fast.EvtxBatch()
    res = InputResult(SRC.sha256, rows=len(recs))
    batch.files.append(evtx_fast._File(SRC, ctx, res, None, None))
    batch.recs = list(recs)
    batch.rec_index = array("q", range(len(recs)))
    batch.file_no = array("q", [0] * len(recs))
    batch.carved = array("b", [0] * len(recs))
    batch.flush(fast_sink)
    fast_tables = list(fast_sink.tables)
    if fast_sink.rows:
        fast_tables.append(rows_to_table(fast_sink.rows, fast_sink.namer))

    slow_rows, slow_rejects = [], {}
    res2 = InputResult(SRC.sha256)
    for i, rec in enumerate(recs):
        item = record_to_row(rec)
        if isinstance(item, Reject):
            slow_rejects[i] = item.reason
        else:
            _finish_row(item, SRC, ctx, i, res2)
            slow_rows.append(item)
    slow_tables = [rows_to_table(slow_rows, FieldNamer([]))] if slow_rows else []
    return (_by_index(fast_tables), fast_sink.rejects), (_by_index(slow_tables), slow_rejects)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(st.lists(records(), min_size=1, max_size=6))
def test_the_c_path_and_the_row_path_give_the_same_rows(recs: list[dict[str, Any]]) -> None:
    fast, slow = both_paths(recs)
    assert fast[1] == slow[1]  # the same records rejected, for the same reasons
    assert fast[0].keys() == slow[0].keys()
    for i, row in slow[0].items():
        assert fast[0][i] == row, i


def test_the_shapes_named_in_the_issue_agree() -> None:
    """The generated shapes above, each at least once, whatever hypothesis draws."""
    big = "x" * 200_000
    shapes: list[Any] = [
        Pairs([("CommandLine", big)]),
        Pairs([("A", "1"), ("A", "2"), ("a", "3")]),  # duplicates, then a key differing in case
        Pairs([("Esc", 'q"\\/\b\f\n\r\t\u0001\u00e9\U0001f600')]),
        Pairs([("Nul", "a\u0000b")]),
        Pairs([("Huge", 2**64 - 1), ("Huger", 2**64), ("Neg", -(2**63) - 1)]),
        Pairs([("Deep", deep(80))]),
        Pairs([("Deep", deep(40))]),
    ]
    recs = []
    for i, data in enumerate(shapes):
        for ascii_only in (True, False):
            event = Pairs(
                [
                    ("System", Pairs([("EventID", 1), ("Channel", "Security"), ("Computer", "WS1")])),
                    ("EventData", data),
                ]
            )
            recs.append({"event_record_id": i, "data": enc(Pairs([("Event", event)]), ascii_only)})
    fast, slow = both_paths(recs)
    assert fast == slow
    assert len(slow[0]) + len(slow[1]) == len(recs)
