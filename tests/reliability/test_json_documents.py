"""Issue 11 item 7: MDE's ``{"records": [...]}`` documents (Event Hub / storage exports, the
hunting API's ``{"Results": [...]}``) are read record by record, memory bounded, each row with
its own offset so ``raw`` cuts its record out again."""

from __future__ import annotations

import io
import json
from pathlib import Path

import orjson
import pytest

from forensics.ingest import jsonarray
from forensics.ingest.runner import ingest_paths
from forensics.raw import extract_records
from forensics.store import Case


def _record(i: int) -> dict[str, object]:
    return {
        "time": f"2024-03-05T09:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "category": "AdvancedHunting-DeviceProcessEvents",
        "operationName": "Publish",
        "properties": {
            "Timestamp": f"2024-03-05T09:{i // 60 % 60:02d}:{i % 60:02d}.1234567Z", "DeviceName": f"ward-pc-{i % 9:02d}",
            "ActionType": "ProcessCreated", "FileName": "cmd.exe", "ProcessCommandLine": f'cmd.exe /c "echo {i}" ]}}',
            "ProcessId": 1000 + i, "ReportId": i,
        },
    }  # fmt: skip


def _case(tmp_path: Path, name: str, data: bytes) -> Path:
    (tmp_path / name).write_bytes(data)
    ingest_paths(tmp_path / "case", [tmp_path / name])
    return tmp_path / "case"


def _rows(case: Path, sql: str) -> list[tuple[object, ...]]:
    with Case.open(case, read_only=True) as c:
        return c.con.execute(sql).fetchall()


def test_a_records_wrapper_streams_record_by_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """3,000 records under "records", with members before and after it: 3,000 rows, each offset
    the start of its record, raw giving the record back; the scanner's window never holds more
    than two chunks and a record (chunk made 4 KiB for the test; the document is ~1.5 MB)."""
    monkeypatch.setattr(jsonarray, "CHUNK", 4096)
    peak = 0
    real = jsonarray._Reader.more

    def more(self: jsonarray._Reader, keep_from: int) -> bool:
        nonlocal peak
        ok = real(self, keep_from)
        peak = max(peak, len(self.buf))
        return ok

    monkeypatch.setattr(jsonarray._Reader, "more", more)
    records = [_record(i) for i in range(3000)]
    doc = {"@odata.context": "x" * 20_000, "records": records, "Stats": {"rows": 3000, "note": "[{]}"}}
    data = json.dumps(doc, indent=2).encode()
    case = _case(tmp_path, "eventhub-capture.json", data)
    got = _rows(
        case,
        "SELECT input_sha256, rec_index, rec_offset, rec_line, process_pid FROM events ORDER BY rec_index",
    )
    assert [r[4] for r in got] == [1000 + i for i in range(3000)]
    assert peak <= 2 * 4096 + max(len(json.dumps(r, indent=2)) for r in records) + 64
    [(status, rejects)] = _rows(case, "SELECT status, rejects FROM inputs")
    assert (status, rejects) == ("ok", 0)
    sample = got[::397]
    with Case.open(case, read_only=True) as c:
        raws = extract_records(c, [(r[0], r[1]) for r in sample])
    for sha, idx, offset, line, _ in sample:
        rec = raws[(sha, idx)]
        assert not isinstance(rec, str), rec
        assert orjson.loads(rec.data) == records[idx] and data[offset:].startswith(rec.data)
        assert data[:offset].count(b"\n") + 1 == line


def test_an_api_response_reads_results_and_skips_the_rest(tmp_path: Path) -> None:
    """The hunting API's response: Schema (a list, not records) and Stats are skipped, Results read."""
    doc = {"Schema": [{"Name": "Timestamp", "Type": "DateTime"}] * 3, "Results": [_record(i)["properties"] for i in range(50)],
           "Stats": {"ExecutionTime": 0.1}}  # fmt: skip
    case = _case(tmp_path, "api.json", json.dumps(doc, indent=1).encode())
    assert _rows(case, "SELECT count(*), count(DISTINCT rec_offset) FROM events") == [(50, 50)]


def test_a_cut_document_keeps_every_whole_record_and_says_where_it_broke(tmp_path: Path) -> None:
    """A capture cut mid-record: the whole records before the cut are rows, the rest is one reject."""
    data = json.dumps({"records": [_record(i) for i in range(100)]}, indent=2).encode()
    cut = data.find(b'"ReportId": 70')
    case = _case(tmp_path, "cut.json", data[:cut])
    assert _rows(case, "SELECT count(*) FROM events") == [(70,)]
    [(reason,)] = _rows(case, "SELECT reason FROM rejects")
    assert "unreadable from here" in str(reason)


def test_one_pretty_printed_record_is_one_row(tmp_path: Path) -> None:
    data = json.dumps(_record(7), indent=4).encode()
    case = _case(tmp_path, "one.json", data)
    [(sha, idx, offset)] = _rows(case, "SELECT input_sha256, rec_index, rec_offset FROM events")
    assert offset == 0
    with Case.open(case, read_only=True) as c:
        rec = extract_records(c, [(sha, idx)])[(sha, idx)]
    assert not isinstance(rec, str) and rec.data == data


def test_records_reads_concatenated_documents_and_skips_scalars_inside_objects() -> None:
    a = b'{"n": 1, "t": true, "records": [{"a": 1}, {"b": [1, {"c": "}"}]}], "z": null}'
    b = b'\n{\n "x": -1.5e3,\n "records": []\n}\n[{"d": 4}]\n{"single": "record"}'
    els = list(jsonarray.records(io.BytesIO(a + b), ("records",)))
    assert [orjson.loads(e.data or b"") for e in els] == [
        {"a": 1},
        {"b": [1, {"c": "}"}]},
        {"d": 4},
        {"single": "record"},
    ]
    assert [(a + b)[e.offset : e.offset + e.size] for e in els] == [e.data for e in els]
