"""SentinelOne: DV events, alerts, threats and activities become rows; nothing is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.runner import ingest_paths
from forensics.ingest.sentinelone import SentinelOneParser
from forensics.store import Case

S1_DIR = "edr-fixtures/elastic-integrations/packages/sentinel_one/data_stream"
S1_FILES = {
    "activity/_dev/test/pipeline/test-pipeline-activity.log": ("activity", 28),
    "threat/_dev/test/pipeline/test-pipeline-threat.log": ("threat", 6),
    "alert/_dev/test/pipeline/test-pipeline-alert.log": ("alert", 3),
}
S1_CSV = "edr-fixtures/azure-sentinel/Sample Data/ASIM/SentinelOne_ASimProcessEvent_IngestedLogs.csv"


def _input(path: Path) -> InputFile:
    return InputFile.from_path(path)


def _parse(path: Path) -> tuple[list[Row], list[Reject]]:
    rows: list[Row] = []
    rejects: list[Reject] = []
    for item in SentinelOneParser().parse(_input(path), ParseContext()):
        (rejects if isinstance(item, Reject) else rows).append(item)
    return rows, rejects


@pytest.mark.parametrize("rel", sorted(S1_FILES))
def test_fixture_reconciles(shared_data: Path, rel: str) -> None:
    path = shared_data / S1_DIR / rel
    channel, count = S1_FILES[rel]
    assert SentinelOneParser().sniff(path.read_bytes()[:4096], path.name)
    rows, rejects = _parse(path)
    assert (len(rows), rejects) == (count, [])
    assert {r["channel"] for r in rows} == {channel}
    assert all(r["ts"] is not None for r in rows)
    assert all(r["ts"] is not None and r["source"] == "s1" for r in rows)


def test_threat_fields(shared_data: Path) -> None:
    rows, _ = _parse(shared_data / S1_DIR / "threat/_dev/test/pipeline/test-pipeline-threat.log")
    first = rows[0]
    assert (first["host"], first["os_family"]) == ("test-LINUX", "linux")
    assert first["hash_sha1"] == "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"
    assert first["file_path"] == first["threatInfo.filePath"]
    assert first["message"].startswith(first["threatInfo.classification"])
    assert (first["category"], first["Signature"], first["Filename"]) == (
        "antivirus",
        first["threatInfo.threatName"],
        first["threatInfo.filePath"],
    )


def test_activity_fields(shared_data: Path) -> None:
    rows, _ = _parse(shared_data / S1_DIR / "activity/_dev/test/pipeline/test-pipeline-activity.log")
    login = next(r for r in rows if "logged in" in (r["message"] or ""))
    assert login["src_ip"] == "81.2.69.144"
    assert login["user_name"] == "API"
    assert rows[0]["record_id"] == 1234567890123456789


def test_alert_csv_process_creation(shared_data: Path) -> None:
    path = shared_data / S1_CSV
    assert SentinelOneParser().sniff(path.read_bytes()[:4096], path.name)
    rows, rejects = _parse(path)
    assert (len(rows), rejects) == (20, [])
    r = rows[0]
    assert (r["channel"], r["category"], r["host"]) == ("alert", "process_creation", "cent7")
    assert r["Image"] == "/usr/sbin/sendmail.postfix"
    assert r["ParentImage"] == "/usr/sbin/crond"
    assert (r["process_pid"], r["parent_pid"]) == (44031, 44027)
    # "alertInfo_createdAt_t [UTC]" states its zone: not assumed
    assert (r["ts_zone"], r["ts_assumed"]) == ("UTC", False)
    assert r["ts"].isoformat() == "2023-07-20T06:57:02+00:00"
    assert r["record_id"] is None  # the CSV mangled the id to 1.73E+018: not invented


def test_deep_visibility_events(tmp_path: Path) -> None:
    events = [
        {"eventType": "Process Creation", "agentName": "ICU-WS-03", "agentUuid": "u1", "createdAt": "2024-03-05T09:00:00Z",
         "srcProcName": "cmd.exe", "srcProcImagePath": "C:\\Windows\\System32\\cmd.exe", "srcProcCmdLine": "cmd.exe /c x",
         "srcProcPid": "100", "srcProcUser": "HOSPITAL\\nurse1", "tgtProcImagePath": "C:\\Windows\\System32\\vssadmin.exe",
         "tgtProcCmdLine": "vssadmin delete shadows /all /quiet", "tgtProcPid": "200"},
        {"eventType": "IP Connect", "agentName": "ICU-WS-03", "agentUuid": "u1", "createdAt": "2024-03-05T09:00:01Z",
         "srcProcName": "rclone.exe", "srcProcImagePath": "C:\\Users\\Public\\rclone.exe", "srcIp": "10.0.0.5",
         "srcPort": "50123", "dstIp": "203.0.113.9", "dstPort": "443", "netEventDirection": "OUTGOING"},
        {"eventType": "DNS Resolved", "agentName": "ICU-WS-03", "agentUuid": "u1", "createdAt": "2024-03-05T09:00:02Z",
         "srcProcName": "rclone.exe", "dnsRequest": "mega.nz", "dnsResponse": "203.0.113.9"},
        {"event.type": "Registry Value Modified", "endpoint.name": "ICU-WS-03", "event.time": "1709629203000",
         "src.process.name": "reg.exe", "registry.keyPath": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware",
         "registry.value": "1"},
    ]  # fmt: skip
    path = tmp_path / "dv.json"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n{oops\n", encoding="utf-8")
    assert SentinelOneParser().sniff(path.read_bytes()[:4096], path.name)
    rows, rejects = _parse(path)
    assert len(rows) == 4 and [r.rec_line for r in rejects] == [5]
    proc, conn, dns, reg = rows
    assert (proc["category"], proc["Image"], proc["ParentImage"]) == (
        "process_creation",
        "C:\\Windows\\System32\\vssadmin.exe",
        "C:\\Windows\\System32\\cmd.exe",
    )
    assert (proc["user_name"], proc["user_domain"], proc["User"]) == (
        "nurse1",
        "HOSPITAL",
        "HOSPITAL\\nurse1",
    )
    assert (conn["category"], conn["DestinationIp"], conn["DestinationPort"], conn["Initiated"]) == (
        "network_connection",
        "203.0.113.9",
        "443",
        "true",
    )
    assert (dns["category"], dns["QueryName"]) == ("dns_query", "mega.nz")
    assert reg["category"] == "registry_set"
    assert reg["TargetObject"] == "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\DisableAntiSpyware"
    assert reg["ts"].isoformat() == "2024-03-05T09:00:03+00:00"


def test_ingest_paths_counts(shared_data: Path, tmp_path: Path) -> None:
    paths = [shared_data / S1_DIR / rel for rel in sorted(S1_FILES)] + [shared_data / S1_CSV]
    summary = ingest_paths(tmp_path / "case", paths)
    assert summary.rejects == 0
    with Case.open(tmp_path / "case", read_only=True) as case:
        got = case.con.execute("SELECT count(*) FROM events WHERE source = 's1'").fetchone()
    assert got is not None and got[0] == 28 + 6 + 3 + 20
