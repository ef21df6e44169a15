"""Elastic ECS NDJSON: Elastic Agent / Endpoint documents map onto core columns and Sigma categories."""

from __future__ import annotations

import json
from pathlib import Path

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.ecs import EcsParser
from forensics.ingest.runner import ingest_paths
from forensics.store import Case

PROCESS = {
    "@timestamp": "2024-03-05T09:00:00.123Z",
    "ecs": {"version": "8.11.0"},
    "agent": {"type": "endpoint"},
    "data_stream": {"dataset": "endpoint.events.process"},
    "event": {
        "category": ["process"],
        "type": ["start"],
        "action": "start",
        "module": "endpoint",
        "sequence": 9876,
    },
    "host": {"name": "pacs-01", "os": {"family": "windows"}},
    "user": {"name": "svc_backup", "domain": "HOSPITAL", "id": "S-1-5-21-1-2-3-1105"},
    "process": {
        "pid": 4242,
        "executable": "C:\\Windows\\System32\\vssadmin.exe",
        "command_line": "vssadmin.exe delete shadows /all /quiet",
        "working_directory": "C:\\Windows\\system32\\",
        "pe": {"original_file_name": "VSSADMIN.EXE"},
        "hash": {"sha256": "C" * 64, "md5": "D" * 32},
        "parent": {
            "pid": 4100,
            "executable": "C:\\Windows\\System32\\cmd.exe",
            "args": ["cmd.exe", "/c", "x.bat"],
        },
    },
}
NETWORK = {  # dotted keys, as some exporters write them
    "@timestamp": "2024-03-05T09:00:01Z",
    "event.category": ["network"],
    "event.type": ["start", "connection"],
    "event.dataset": "endpoint.events.network",
    "network.direction": "egress",
    "network.transport": "tcp",
    "host.name": "pacs-01",
    "process.executable": "C:\\Users\\Public\\rclone.exe",
    "process.pid": 777,
    "source.ip": "10.1.2.3",
    "source.port": 50500,
    "destination.ip": "203.0.113.9",
    "destination.port": 443,
    "destination.domain": "mega.nz",
}
DNS = {
    "@timestamp": "2024-03-05T09:00:02Z",
    "event": {
        "category": ["network"],
        "type": ["protocol", "info"],
        "action": "lookup_result",
        "dataset": "endpoint.events.network",
    },
    "host": {"name": "pacs-01"},
    "process": {"executable": "C:\\Users\\Public\\rclone.exe"},
    "dns": {"question": {"name": "mega.nz"}, "resolved_ip": ["203.0.113.9", "203.0.113.10"]},
}
REGISTRY_HIT = {  # an Elasticsearch search hit
    "_index": ".ds-logs-endpoint.events.registry-default",
    "_id": "abc",
    "_source": {
        "@timestamp": "2024-03-05T09:00:03Z",
        "event": {"category": ["registry"], "type": ["change"], "action": "modification", "dataset": "endpoint.events.registry"},
        "host": {"name": "pacs-01"},
        "process": {"executable": "C:\\Windows\\System32\\reg.exe"},
        "registry": {"path": "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware",
                     "data": {"strings": ["1"]}},
    },
}  # fmt: skip
FILE_DELETE = {
    "@timestamp": "2024-03-05T09:00:04Z",
    "event": {"category": ["file"], "type": ["deletion"], "dataset": "endpoint.events.file"},
    "host": {"name": "pacs-01"},
    "file": {"path": "D:\\PACS\\images\\study1.dcm", "hash": {"sha1": "E" * 40}},
}


def _input(path: Path) -> InputFile:
    return InputFile.from_path(path)


def _write(path: Path, docs: list[dict[str, object]], tail: bytes = b"") -> Path:
    path.write_bytes(b"".join(json.dumps(d).encode() + b"\n" for d in docs) + tail)
    return path


def _parse(path: Path) -> tuple[list[Row], list[Reject]]:
    rows: list[Row] = []
    rejects: list[Reject] = []
    for item in EcsParser().parse(_input(path), ParseContext()):
        (rejects if isinstance(item, Reject) else rows).append(item)
    return rows, rejects


def test_documents_map_to_sysmon_like_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "ecs.ndjson", [PROCESS, NETWORK, DNS, REGISTRY_HIT, FILE_DELETE])
    assert EcsParser().sniff(path.read_bytes()[:4096], path.name)
    rows, rejects = _parse(path)
    assert rejects == []
    proc, net, dns, reg, dele = rows
    assert (proc["category"], proc["channel"], proc["host"]) == (
        "process_creation",
        "endpoint.events.process",
        "pacs-01",
    )
    assert (proc["os_family"], net["os_family"]) == ("windows", None)
    assert proc["CommandLine"] == "vssadmin.exe delete shadows /all /quiet"
    assert proc["ParentCommandLine"] == "cmd.exe /c x.bat"  # joined from process.parent.args
    assert (proc["OriginalFileName"], proc["User"]) == ("VSSADMIN.EXE", "HOSPITAL\\svc_backup")
    assert proc["hash_sha256"] == "c" * 64 and proc["record_id"] == 9876
    assert proc["process.command_line"] == proc["CommandLine"]  # native dotted name kept
    assert (net["category"], net["DestinationHostname"], net["Initiated"], net["dst_port"]) == (
        "network_connection",
        "mega.nz",
        "true",
        443,
    )
    assert (dns["category"], dns["QueryName"], dns["QueryResults"]) == (
        "dns_query",
        "mega.nz",
        "203.0.113.9;203.0.113.10",
    )
    assert (reg["category"], reg["TargetObject"], reg["Details"]) == (
        "registry_set",
        "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware",
        "1",
    )
    assert (dele["category"], dele["TargetFilename"], dele["hash_sha1"]) == (
        "file_delete",
        "D:\\PACS\\images\\study1.dcm",
        "e" * 40,
    )


def test_garbage_and_truncated_lines_are_rejects(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ecs.ndjson", [PROCESS, NETWORK], tail=b"garbage\n" + json.dumps(DNS).encode()[:30]
    )
    rows, rejects = _parse(path)
    assert len(rows) == 2
    assert [(r.rec_line, r.reason.split(":")[0]) for r in rejects] == [
        (3, "not valid JSON"),
        (4, "truncated last line"),
    ]
    assert rows[1]["rec_offset"] == len(json.dumps(PROCESS)) + 1


def test_winlogbeat_and_journald_not_claimed(tmp_path: Path) -> None:
    winlogbeat = {
        "@timestamp": "2024-03-05T09:00:00Z",
        "event": {"code": "1"},
        "winlog": {"channel": "Security"},
    }
    journald = {"__REALTIME_TIMESTAMP": "1709629200000000", "MESSAGE": "hello", "_HOSTNAME": "db01"}
    for doc in (winlogbeat, journald):
        assert not EcsParser().sniff(json.dumps(doc).encode(), "x.json")


def test_ingest_paths_counts(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ecs.ndjson", [PROCESS, NETWORK, DNS, REGISTRY_HIT, FILE_DELETE], tail=b"garbage\n"
    )
    summary = ingest_paths(tmp_path / "case", [path])
    assert (summary.rows, summary.rejects) == (5, 1)
    with Case.open(tmp_path / "case", read_only=True) as case:
        got = case.con.execute(
            "SELECT count(*) FROM events WHERE category = 'process_creation' AND CommandLine ILIKE '%vssadmin%delete%shadows%'"
        ).fetchone()
        rej = case.con.execute("SELECT rec_line, raw FROM rejects").fetchall()
        parsers = case.con.execute("SELECT parser FROM inputs").fetchall()
    assert parsers == [("ecs",)]
    assert got is not None and got[0] == 1
    assert rej == [(6, "garbage")]


def test_search_response_unwrapped(tmp_path: Path) -> None:
    response = {"took": 3, "timed_out": False, "hits": {"total": {"value": 2}, "hits": [
        {"_index": "logs-endpoint", "_id": "1", "_source": PROCESS},
        {"_index": "logs-endpoint", "_id": "2", "_source": FILE_DELETE},
    ]}}  # fmt: skip
    path = _write(tmp_path / "search.json", [response])
    assert EcsParser().sniff(path.read_bytes()[:4096], path.name)
    rows, rejects = _parse(path)
    assert rejects == []
    assert [r["category"] for r in rows] == ["process_creation", "file_delete"]
    assert {r["rec_line"] for r in rows} == {1}
