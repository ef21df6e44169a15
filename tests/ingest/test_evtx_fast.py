"""The EVTX fast path (C flattener + column-wise core fields) gives exactly the row path's rows."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from forensics.ingest import evtx_fast
from forensics.ingest.base import InputFile, ParseContext
from forensics.ingest.worker import Task, TaskResult, run_task

KEY = [("input_sha256", "ascending"), ("rec_index", "ascending")]


@pytest.fixture(autouse=True)
def _needs_flattener() -> None:
    if not evtx_fast.available():
        if os.environ.get("CI") == "true":
            pytest.fail("the C flattener (forensics/ingest/_evtxflat.c) was not built: is gcc installed?")
        pytest.skip("the C flattener was not built on this machine (no C compiler at install time)")


def _run(
    inputs: list[tuple[InputFile, str]], tmp: Path, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> TaskResult:
    with monkeypatch.context() as m:
        if not fast:
            m.setenv("FORENSICS_NO_FAST_EVTX", "1")
        return run_task(Task("b", inputs, ParseContext(), tmp))


def _tables(res: TaskResult) -> dict[tuple[str, str | None], pa.Table]:
    by: dict[tuple[str, str | None], list[pa.Table]] = {}
    for part in res.parts:
        by.setdefault((part.source, part.channel), []).append(pq.read_table(part.staged))
    return {k: pa.concat_tables(v, promote_options="default").sort_by(KEY) for k, v in by.items()}


def _summary(res: TaskResult) -> list[tuple[Any, ...]]:
    return [(r.sha256, r.rows, r.rejects, r.status, sorted(r.hosts)) for r in res.results]


def _corpus(root: Path) -> Iterator[tuple[InputFile, str]]:
    seen: set[str] = set()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() == ".evtx"):
        src = InputFile.from_path(path)
        if src.sha256 not in seen:
            seen.add(src.sha256)
            yield src, "evtx"


@pytest.mark.slow
def test_fast_path_equals_row_path_on_every_corpus_file(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every EVTX under ../shared/data, corrupt ones included: same rows, columns, rejects, counts."""
    inputs = list(_corpus(shared_data))
    fast = _run(inputs, tmp_path / "fast", True, monkeypatch)
    slow = _run(inputs, tmp_path / "slow", False, monkeypatch)
    assert _summary(fast) == _summary(slow)
    assert sum(r.rows for r in fast.results) > 39_000
    fast_rej, slow_rej = (pq.read_table(r.rejects_file).sort_by(KEY) for r in (fast, slow))  # type: ignore[arg-type]
    assert fast_rej.equals(slow_rej)
    ft, st = _tables(fast), _tables(slow)
    assert ft.keys() == st.keys()
    for key, table in st.items():
        other = ft[key]
        assert sorted(other.column_names) == sorted(table.column_names), key
        for name in table.column_names:
            assert other[name].equals(table[name]), (key, name)


def _record(data: dict[str, Any], eid: Any = 4688, channel: str = "Security") -> dict[str, Any]:
    event = {
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}},
            "EventID": eid,
            "EventRecordID": 7,
            "Channel": channel,
            "Computer": "WS1",
            "TimeCreated": {"#attributes": {"SystemTime": "2024-05-01T10:00:00.123456Z"}},
        },
        "EventData": data,
    }
    return {
        "event_record_id": 7,
        "timestamp": "2024-05-01 10:00:00.123456 UTC",
        "data": json.dumps({"Event": event}, separators=(",", ":"), ensure_ascii=False),
    }


@pytest.mark.parametrize(
    ("data", "declined"),
    [
        ({"NewProcessName": "C:\\w\\cmd.exe", "CommandLine": 'cmd /c "x" \\u00e9'}, False),
        ({"Data": ["a", None, 3, True]}, False),  # lists render one item a line
        ({"Hashes": {"#text": "MD5=AB", "#attributes": {"x": 1}}}, False),  # #text wins
        ({"Ratio": 1.5}, True),  # floats print differently in Python
        ({"Blob": {"a": 1}}, True),  # nested objects become JSON text on the row path
        ({"message": "would overwrite a core column"}, True),
        ({"Big": 18446744073709551615}, False),
        ({"Bigger": 18446744073709551616}, True),  # beyond orjson: the row path rejects it
    ],
)
def test_flattener_declines_only_what_it_cannot_match(data: dict[str, Any], declined: bool) -> None:
    from forensics.ingest import _evtxflat  # type: ignore[attr-defined]
    from forensics.schema import CORE_NAMES

    groups, fallback = _evtxflat.flatten([_record(data)], CORE_NAMES)
    assert (fallback == [0]) is declined
    if not declined:
        ((channel, _, cols, spilled),) = groups
        assert spilled == []  # no limit asked: no data field is spilled into extra_fields
        assert channel == "Security"
        assert {c[0] for c in cols} >= {"provider", "event_id", "ts", "host"} | set(data)


def test_flattener_survives_garbage() -> None:
    """Truncated, hostile or non-JSON records come back to the row path; nothing crashes."""
    from forensics.ingest import _evtxflat  # type: ignore[attr-defined]
    from forensics.schema import CORE_NAMES

    good = _record({"A": "1"})["data"]
    bad = [good[:n] for n in range(0, len(good), 7)] + [
        "[" * 5000,
        '{"Event":' * 300,
        "\x00\xff",
        '{"Event":{"System":"x"}}',
    ]
    recs = [{"data": b} for b in bad] + [{"nodata": 1}, "not a dict", {"data": 5}]
    groups, fallback = _evtxflat.flatten(recs, CORE_NAMES)
    assert groups == []
    assert fallback == list(range(len(recs)))
