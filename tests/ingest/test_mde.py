"""Defender for Endpoint advanced hunting: fixtures reconcile; a Sigma rule fires on MDE and FDR alike."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from forensics.hunt.sigma.engine import run_sigma
from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.mde import MdeParser
from forensics.ingest.runner import ingest_paths
from forensics.store import Case

DEVICE_LOG = "edr-fixtures/elastic-integrations/packages/m365_defender/data_stream/event/_dev/test/pipeline/test-device.log"
PROCESS_CSV = "edr-fixtures/azure-sentinel/Sample Data/ASIM/M365_ProcessEvents_InesgtedLogs.csv"
GOLDEN_SAML = "Security-Datasets/datasets/compound/GoldenSAMLADFSMailAccess/Microsoft365DefenderEvents.Zip"

VSS_CMD = "vssadmin.exe delete shadows /all /quiet"

MDE_PROCESS = {
    "Timestamp": "2024-03-05T09:00:01.1234567Z",
    "DeviceId": "0f1e2d3c",
    "DeviceName": "ward-pc-07.hospital.local",
    "ActionType": "ProcessCreated",
    "FileName": "vssadmin.exe",
    "FolderPath": "C:\\Windows\\System32\\vssadmin.exe",
    "ProcessCommandLine": VSS_CMD,
    "ProcessId": 4242,
    "ProcessIntegrityLevel": "High",
    "ProcessVersionInfoOriginalFileName": "VSSADMIN.EXE",
    "SHA256": "A" * 64,
    "AccountDomain": "hospital",
    "AccountName": "nurse1",
    "AccountSid": "S-1-5-21-1-2-3-1001",
    "InitiatingProcessFileName": "cmd.exe",
    "InitiatingProcessFolderPath": "c:\\windows\\system32\\cmd.exe",
    "InitiatingProcessCommandLine": "cmd.exe /c vssadmin.exe delete shadows /all /quiet",
    "InitiatingProcessId": 4100,
    "ReportId": 77,
}

FDR_PROCESS = {
    "event_simpleName": "ProcessRollup2",
    "aid": "4b8f58d3f5f040b3804d3820ca2aed67",
    "cid": "500c5073b4d7443688f4b32c5eeb295b",
    "event_platform": "Win",
    "timestamp": "1709629202000",
    "ProcessStartTime": "1709629201.500",
    "ImageFileName": "\\Device\\HarddiskVolume3\\Windows\\System32\\vssadmin.exe",
    "CommandLine": VSS_CMD,
    "RawProcessId": "5151",
    "ParentBaseFileName": "cmd.exe",
    "SHA256HashData": "b" * 64,
}

VSS_RULE = """
title: Shadow copies deleted with vssadmin
id: 2d5b3c8e-7f4a-4c1e-9a55-0c3f1b7e9d21
status: test
level: high
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        Image|endswith: '\\vssadmin.exe'
        CommandLine|contains|all:
            - 'delete'
            - 'shadows'
    condition: selection
"""


def _input(path: Path) -> InputFile:
    return InputFile.from_path(path)


def _parse(path: Path, ctx: ParseContext | None = None) -> tuple[list[Row], list[Reject]]:
    rows: list[Row] = []
    rejects: list[Reject] = []
    for item in MdeParser().parse(_input(path), ctx or ParseContext()):
        (rejects if isinstance(item, Reject) else rows).append(item)
    return rows, rejects


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())


def test_event_hub_fixture(shared_data: Path) -> None:
    path = shared_data / DEVICE_LOG
    assert MdeParser().sniff(path.read_bytes()[:4096], path.name)
    rows, rejects = _parse(path)
    assert (len(rows), rejects) == (_lines(path), [])
    tables = {r["channel"] for r in rows}
    assert {"DeviceProcessEvents", "DeviceNetworkEvents", "DeviceFileEvents", "DeviceRegistryEvents",
            "DeviceImageLoadEvents", "DeviceLogonEvents", "DeviceEvents"} <= tables  # fmt: skip
    proc = next(r for r in rows if r["channel"] == "DeviceProcessEvents")
    assert proc["category"] == "process_creation"
    assert proc["Image"] == "C:\\Windows\\System32\\smartscreen.exe"
    assert proc["CommandLine"] == "smartscreen.exe -Embedding"
    assert proc["ParentImage"] == "c:\\windows\\system32\\svchost.exe"
    assert proc["User"] == "testmachine6\\administrator1"
    assert proc["host"] == "testmachine6"
    assert proc["ts"].isoformat() == "2022-11-09T17:59:52.626578+00:00"
    assert proc["category_native"] == "AdvancedHunting-DeviceProcessEvents"  # wrapper field kept
    reg = next(r for r in rows if r["channel"] == "DeviceRegistryEvents")
    assert reg["category"] == "registry_set" and reg["TargetObject"].startswith("HKLM\\SOFTWARE\\")
    files = next(r for r in rows if r["channel"] == "DeviceFileEvents")
    assert files["TargetFilename"] == "C:\\Windows\\System32\\VMAgentDisabler.dll"
    net = [r for r in rows if r["category"] == "network_connection"]
    assert net and all(r.get("DestinationIp") for r in net)


def test_log_analytics_csv(shared_data: Path) -> None:
    path = shared_data / PROCESS_CSV
    assert MdeParser().sniff(path.read_bytes()[:4096], path.name)
    rows, rejects = _parse(path, ParseContext(tz="Asia/Kolkata"))
    assert (len(rows), rejects) == (10, [])
    r = rows[0]
    assert r["channel"] == "DeviceProcessEvents" and r["category"] == "process_creation"
    # "Timestamp [Local Time]" 10/25/2023, 9:43:21.994 AM read in --tz and marked assumed
    assert r["ts_raw"] == "10/25/2023, 9:43:21.994 AM"
    assert (r["ts_zone"], r["ts_assumed"]) == ("Asia/Kolkata", True)
    assert r["ts"].isoformat() == "2023-10-25T04:13:21.994000+00:00"
    assert r["CommandLine"].startswith("/app/grpc-health-probe")
    assert r["record_id"] == 530932


def test_golden_saml_export(shared_data: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(shared_data / GOLDEN_SAML) as zf:
        path = tmp_path / "Microsoft365DefenderEvents.json"
        path.write_bytes(zf.read("Microsoft365DefenderEvents.json"))
    assert MdeParser().sniff(path.read_bytes()[:4096], path.name)
    rows, rejects = _parse(path)
    assert (len(rows), rejects) == (9, [])
    assert [r["channel"] for r in rows].count("DeviceEvents") == 5  # LdapSearch rows
    repl = next(r for r in rows if r["ActionType"] == "Directory Services replication")
    assert repl["channel"] == "IdentityDirectoryEvents"
    assert (repl["src_ip"], repl["dst_ip"]) == ("192.168.2.5", "192.168.2.4")


def test_records_wrapper_and_csv_utc(tmp_path: Path) -> None:
    wrapper = tmp_path / "eventhub.json"
    records = [{"time": "2024-03-05T09:00:02Z", "category": "AdvancedHunting-DeviceProcessEvents",
                "operationName": "Publish", "properties": MDE_PROCESS}] * 2  # fmt: skip
    wrapper.write_text(json.dumps({"records": records}) + "\n", encoding="utf-8")
    rows, rejects = _parse(wrapper)
    assert (len(rows), rejects) == (2, [])
    assert {r["rec_line"] for r in rows} == {1}
    csv_path = tmp_path / "export.csv"
    csv_path.write_text(
        "Timestamp [UTC],DeviceName,ActionType,FileName,FolderPath,ProcessCommandLine,ReportId\n"
        '"3/5/2024, 9:00:01.123 AM",ward-pc-07,ProcessCreated,vssadmin.exe,C:\\Windows\\System32\\vssadmin.exe,'
        f'"{VSS_CMD}",78\n'
        "broken,row\n",
        encoding="utf-8",
    )
    rows, rejects = _parse(csv_path)
    assert len(rows) == 1 and len(rejects) == 1 and rejects[0].rec_line == 3
    assert (rows[0]["ts_zone"], rows[0]["ts_assumed"]) == ("UTC", False)
    assert rows[0]["channel"] == "DeviceProcessEvents"  # inferred from ActionType


def test_pretty_printed_documents(tmp_path: Path) -> None:
    capture = tmp_path / "capture.json"
    record = {
        "time": "2024-03-05T09:00:02Z",
        "category": "AdvancedHunting-DeviceProcessEvents",
        "properties": MDE_PROCESS,
    }
    capture.write_text(json.dumps({"records": [record, record, record]}, indent=2), encoding="utf-8")
    api = tmp_path / "hunting-api.json"
    response = {"Stats": {}, "Schema": [{"Name": "Timestamp", "Type": "DateTime"}], "Results": [MDE_PROCESS]}
    api.write_text(json.dumps(response), encoding="utf-8")
    for path, count in ((capture, 3), (api, 1)):
        assert MdeParser().sniff(path.read_bytes()[:4096], path.name), path.name
        rows, rejects = _parse(path)
        assert (len(rows), rejects) == (count, [])
        assert all(r["CommandLine"] == VSS_CMD and r["category"] == "process_creation" for r in rows)


def test_antivirus_detection(tmp_path: Path) -> None:
    detection = {
        "Timestamp": "2024-03-05T09:00:05Z",
        "DeviceName": "ward-pc-07",
        "ActionType": "AntivirusDetection",
        "FileName": "mimikatz.exe",
        "FolderPath": "C:\\Users\\Public",
        "ReportId": 9,
        "AdditionalFields": json.dumps({"ThreatName": "HackTool:Win32/Mimikatz.D", "WasRemediated": True}),
    }
    path = tmp_path / "av.json"
    path.write_text(json.dumps(detection) + "\n", encoding="utf-8")
    (row,), _ = _parse(path)
    assert (row["channel"], row["category"]) == ("DeviceEvents", "antivirus")
    assert (row["Signature"], row["file_path"]) == (
        "HackTool:Win32/Mimikatz.D",
        "C:\\Users\\Public\\mimikatz.exe",
    )
    assert "Filename" not in row  # MDE's own FileName is that column (names are case-insensitive)


def test_garbage_lines_are_rejects(tmp_path: Path) -> None:
    path = tmp_path / "hunt.json"
    path.write_bytes(
        json.dumps(MDE_PROCESS).encode() + b"\n\xff\xfe garbage\n" + json.dumps(MDE_PROCESS).encode()[:50]
    )
    rows, rejects = _parse(path)
    assert len(rows) == 1
    assert [(r.rec_line, r.reason.split(":")[0]) for r in rejects] == [
        (2, "not valid JSON"),
        (3, "truncated last line"),
    ]


@pytest.fixture()
def vss_case(tmp_path: Path) -> Path:
    """A case holding the same vssadmin event as MDE and FDR export rows, plus noise."""
    mde = tmp_path / "mde.json"
    noise = dict(MDE_PROCESS, ProcessCommandLine="notepad.exe", FolderPath="C:\\Windows\\notepad.exe")
    mde.write_text("\n".join(json.dumps(r) for r in (MDE_PROCESS, noise)) + "\n", encoding="utf-8")
    fdr = tmp_path / "fdr.json"
    fdr.write_text(json.dumps(FDR_PROCESS) + "\n", encoding="utf-8")
    summary = ingest_paths(tmp_path / "case", [mde, fdr])
    assert summary.rows == 3 and summary.rejects == 0
    return tmp_path / "case"


def test_sigma_predicate_selects_mde_and_fdr_alike(vss_case: Path) -> None:
    with Case.open(vss_case, read_only=True) as case:
        hits = case.con.execute(
            "SELECT source, channel, Image, User FROM events "
            "WHERE category = 'process_creation' AND CommandLine ILIKE '%vssadmin%delete%shadows%' ORDER BY source"
        ).fetchall()
    assert hits == [
        ("fdr", "ProcessRollup2", "\\Device\\HarddiskVolume3\\Windows\\System32\\vssadmin.exe", None),
        ("mde", "DeviceProcessEvents", "C:\\Windows\\System32\\vssadmin.exe", "hospital\\nurse1"),
    ]


def test_sigma_rule_fires_on_mde_and_fdr(vss_case: Path, tmp_path: Path) -> None:
    rule = tmp_path / "vss.yml"
    rule.write_text(VSS_RULE, encoding="utf-8")
    with Case.open(vss_case, read_only=True) as case:
        result = run_sigma(case, [rule])
    assert [s.status for s in result.report] == ["converted"]
    hosts = sorted(f.host or "" for f in result.findings)
    assert hosts == ["4b8f58d3f5f040b3804d3820ca2aed67", "ward-pc-07.hospital.local"]


REAL_RULE = """
title: Real fixture processes
id: 7c0e2a55-3f0b-4f5e-8d8e-6a1f3b2c9d10
status: test
level: low
logsource:
    product: windows
    category: process_creation
detection:
    fdr:
        Image|endswith: '\\svchost.exe'
        CommandLine|contains: 'NetSetupSvc'
    mde:
        Image|endswith: '\\smartscreen.exe'
        ParentImage|endswith: '\\svchost.exe'
    condition: 1 of them
"""


def test_sigma_rule_fires_on_real_fixtures(shared_data: Path, tmp_path: Path) -> None:
    fdr = (
        shared_data
        / "edr-fixtures/elastic-integrations/packages/crowdstrike/data_stream/fdr/_dev/test/pipeline/test-fdr.log"
    )
    ingest_paths(tmp_path / "case", [shared_data / DEVICE_LOG, fdr])
    rule = tmp_path / "real.yml"
    rule.write_text(REAL_RULE, encoding="utf-8")
    with Case.open(tmp_path / "case", read_only=True) as case:
        result = run_sigma(case, [rule])
    assert sorted((f.host, len(f.records)) for f in result.findings) == [
        ("ffffffffbe8a46386afe80c5ef64d0b5", 1),  # FDR ProcessRollup2, host named by sensor id
        ("testmachine6", 1),  # MDE DeviceProcessEvents
    ]


def test_ingest_paths_counts(shared_data: Path, tmp_path: Path) -> None:
    paths = [shared_data / DEVICE_LOG, shared_data / PROCESS_CSV, shared_data / GOLDEN_SAML]
    summary = ingest_paths(tmp_path / "case", paths)
    assert summary.rejects == 0
    with Case.open(tmp_path / "case", read_only=True) as case:
        got = case.con.execute(
            "SELECT channel, count(*) FROM events WHERE source = 'mde' GROUP BY 1 ORDER BY 1"
        ).fetchall()
        member = case.con.execute(
            "SELECT member, parser, rows FROM inputs WHERE member IS NOT NULL"
        ).fetchall()
    counts = dict(got)
    assert sum(counts.values()) == 31 + 10 + 9
    assert counts["DeviceProcessEvents"] == 2 + 10
    assert member == [("Microsoft365DefenderEvents.json", "mde", 9)]  # the archive member, by content
