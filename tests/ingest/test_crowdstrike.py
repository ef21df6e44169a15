"""CrowdStrike FDR: every record of the fixtures becomes a row, mapped onto Sysmon-like columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.crowdstrike import FalconCefParser, FdrParser, parse_cef_extension
from forensics.ingest.runner import ingest_paths
from forensics.store import Case

FDR_DIR = "edr-fixtures/elastic-integrations/packages/crowdstrike/data_stream/fdr/_dev/test/pipeline"
FDR_FILES = ("test-fdr.log", "test-windows.log", "test-linux.log")
REG_CSV = "edr-fixtures/azure-sentinel/Sample Data/ASIM/CrowdStrike_Falcon Data Replicator_RegistryEvent_IngestedLogs.csv"
AUTH_CEF = "edr-fixtures/azure-sentinel/Sample Data/ASIM/CrowdStrike_Falcon_ASimAuthentication_RawLogs.txt"


def _input(path: Path) -> InputFile:
    return InputFile.from_path(path)


def _parse(path: Path, ctx: ParseContext | None = None) -> tuple[list[Row], list[Reject]]:
    rows: list[Row] = []
    rejects: list[Reject] = []
    for item in FdrParser().parse(_input(path), ctx or ParseContext()):
        (rejects if isinstance(item, Reject) else rows).append(item)
    return rows, rejects


def _records(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines() if line.strip())


@pytest.mark.parametrize("name", FDR_FILES)
def test_fixture_reconciles(shared_data: Path, name: str) -> None:
    path = shared_data / FDR_DIR / name
    assert FdrParser().sniff(path.read_bytes()[:4096], name)
    rows, rejects = _parse(path)
    assert rejects == []
    assert len(rows) == _records(path)
    assert all(r["ts"] is not None and r["ts"].tzinfo is not None for r in rows)
    assert all(r["source"] == "fdr" and r["provider"] == "CrowdStrike Falcon" for r in rows)
    # line numbers and offsets point back at the raw record
    raw = path.read_bytes()
    for r in rows:
        line = raw[r["rec_offset"] :].split(b"\n", 1)[0]
        assert json.loads(line).get("aid") == r.get("aid")


def test_secondary_records_are_rows(shared_data: Path) -> None:
    rows, _ = _parse(shared_data / FDR_DIR / "test-fdr.log")
    secondary = [r for r in rows if r.get("event_simpleName") is None]
    assert len(secondary) == 5
    assert sorted(r["channel"] for r in secondary) == [
        "ActiveDirectoryInteractiveDomainLogon", "aidmaster", "aidmaster", "managedassets", "userinfo",
    ]  # fmt: skip
    aidmaster = next(r for r in secondary if r.get("ComputerName") == "mac1")
    assert aidmaster["host"] == "mac1"


def test_process_rollup_maps_to_process_creation(shared_data: Path) -> None:
    rows, _ = _parse(shared_data / FDR_DIR / "test-fdr.log")
    pr2 = next(r for r in rows if r["channel"] == "ProcessRollup2" and r.get("RawProcessId") == "6160")
    assert pr2["category"] == "process_creation"
    assert pr2["process_image"].endswith("\\Windows\\System32\\svchost.exe")
    assert pr2["CommandLine"] == "C:\\WINDOWS\\System32\\svchost.exe -k netsvcs -p -s NetSetupSvc"
    assert pr2["Image"] == pr2["process_image"]
    assert pr2["process_pid"] == 6160
    assert pr2["hash_sha256"] == pr2["SHA256HashData"].lower()
    assert "SHA256=" + pr2["SHA256HashData"].upper() in pr2["Hashes"]
    assert pr2["host"] == pr2["aid"]  # FDR events name the host by sensor id
    families = {r["os_family"] for r in rows}
    assert families == {"windows", "linux", "macos", "ios", None}  # from event_platform; None when absent


def test_network_dns_and_registry(shared_data: Path) -> None:
    rows, _ = _parse(shared_data / FDR_DIR / "test-windows.log")
    by_name = {r["channel"]: r for r in rows}
    conn = by_name["NetworkConnectIP4"]
    assert conn["category"] == "network_connection"
    assert (conn["DestinationIp"], conn["DestinationPort"], conn["Initiated"]) == (
        "89.160.20.128",
        "600",
        "true",
    )
    assert (conn["src_ip"], conn["src_port"]) == ("81.2.69.142", 60181)
    dns = by_name["DnsRequest"]
    assert dns["category"] == "dns_query"
    assert dns["QueryName"] == dns["DomainName"]
    asep = by_name["AsepValueUpdate"]
    assert asep["category"] == "registry_set"
    assert asep["EventType"] == "SetValue"
    logon = by_name["UserLogon"]
    assert (logon["user_name"], logon["user_domain"]) == ("a7b663ef867", "6e")
    fdr_rows, _ = _parse(shared_data / FDR_DIR / "test-fdr.log")
    failed = next(r for r in fdr_rows if r["channel"] == "UserLogonFailed2")
    assert (failed["user_name"], failed["src_ip"], failed["category"]) == ("user5", "67.43.156.14", None)


def test_registry_csv(shared_data: Path) -> None:
    path = shared_data / REG_CSV
    assert FdrParser().sniff(path.read_bytes()[:4096], path.name)
    rows, rejects = _parse(path)
    assert (len(rows), rejects) == (100, [])
    first = rows[0]
    assert first["category"] == "registry_set"
    assert first["TargetObject"] == (
        "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\consentpromptbehavioruser"
    )
    assert first["Details"] == "DWORD (0x00000003)"
    assert first["rec_line"] == 2
    # CRLF file: the offset of each record is the start of its line
    raw = path.read_bytes()
    assert raw[rows[1]["rec_offset"] :].startswith(b"2026-08-27T12:55:04.68Z,")


def test_garbage_and_truncated_lines_are_rejects(tmp_path: Path) -> None:
    good = {"event_simpleName": "ProcessRollup2", "aid": "a1", "timestamp": "1625677521162",
            "CommandLine": "cmd.exe /c whoami", "ImageFileName": "\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe"}  # fmt: skip
    path = tmp_path / "fdr.json"
    path.write_bytes(
        json.dumps(good).encode() + b"\n" + b"\x00\xffnot json at all\n" + b"[1, 2]\n" + b"\n"
        + json.dumps(good).encode()[:40]
    )  # fmt: skip
    rows, rejects = _parse(path)
    assert len(rows) == 1
    assert [r.rec_line for r in rejects] == [2, 3, 5]
    assert rejects[-1].reason.startswith("truncated last line")
    assert rows[0]["ts"].year == 2021


def test_does_not_claim_other_json(shared_data: Path) -> None:
    mde = (
        shared_data
        / "edr-fixtures/elastic-integrations/packages/m365_defender/data_stream/event/_dev/test/pipeline/test-device.log"
    )
    journal = (
        shared_data
        / "edr-fixtures/beats/filebeat/input/journald/pkg/journalctl/testdata/sample-journal-event.json"
    )
    for p in (mde, journal):
        assert not FdrParser().sniff(p.read_bytes()[:4096], p.name)


def test_ingest_paths_counts(shared_data: Path, tmp_path: Path) -> None:
    paths = [shared_data / FDR_DIR / n for n in FDR_FILES] + [shared_data / REG_CSV, shared_data / AUTH_CEF]
    summary = ingest_paths(tmp_path / "case", paths)
    assert summary.rejects == 0
    with Case.open(tmp_path / "case", read_only=True) as case:
        got = case.con.execute("SELECT count(*) FROM events WHERE source = 'fdr'").fetchone()
        inputs = case.con.execute(
            "SELECT parser, sum(rows), sum(rejects) FROM inputs GROUP BY parser ORDER BY parser"
        ).fetchall()
    assert got is not None and got[0] == 138 + 121 + 5 + 100
    assert inputs == [("falcon_cef", 10, 0), ("fdr", 364, 0)]


HOSTILE = [
    b'{"event_simpleName":5,"aid":null,"timestamp":-1,"RawProcessId":"1e400","RemotePort":"99999","LocalPort":"-1"}\n',
    b'event_simpleName,aid,timestamp\n"unterminated,1,2\nx,y,z\n',
    b"TimeGenerated [UTC],DeviceName,ActionType\n1,2\n",
    bytes(range(256)) * 20,
    b'{"Timestamp":"not a time","DeviceName":"x","ActionType":"ProcessCreated","ProcessId":"abc","SHA256":123}\n',
    b'{"records": [1, "x", {"properties": {"Timestamp": 5}}]}\n',
    b'[1,2,3]\n"str"\nnull\n',
    b'{"@timestamp":"x","event":{"category":"process"},"process":{"args":"notalist","pid":"-5"}}\n',
    b'{"alertInfo":{"eventType":"PROCESSCREATION"},"targetProcessInfo":{"tgtProcPid":"99999999999999999999999"}}\n',
]


@pytest.mark.parametrize("name", ["fdr", "falcon_cef", "mde", "s1", "ecs", "mapped"])
def test_hostile_input_never_crashes(tmp_path: Path, name: str) -> None:
    """Garbage of every kind becomes rows or rejects, with core values in their types' ranges."""
    from forensics.ingest.registry import BY_NAME

    parser = BY_NAME[name]
    mapping = tmp_path / "m.yml"
    mapping.write_text(
        "time: {field: timestamp}\nfields: {process_pid: RawProcessId, dst_port: RemotePort}\n"
    )
    ctx = ParseContext(options={"mapping": mapping} if name == "mapped" else {})
    for i, data in enumerate(HOSTILE):
        path = tmp_path / f"h{i}"
        path.write_bytes(data)
        items = list(parser.parse(_input(path), ctx))
        assert items, f"sample {i} vanished"
        for row in (x for x in items if not isinstance(x, Reject)):
            for col in ("process_pid", "parent_pid", "record_id"):
                assert row.get(col) is None or 0 <= row[col] < 2**63
            for col in ("src_port", "dst_port"):
                assert row.get(col) is None or 0 <= row[col] <= 65535


def test_process_context_from_earlier_records(tmp_path: Path) -> None:
    """A child's parent and a connection's process are named from their ProcessRollup2 records."""
    base = {"aid": "a1", "cid": "c1", "event_platform": "Win", "timestamp": "1709629200000"}
    parent = dict(
        base,
        event_simpleName="ProcessRollup2",
        TargetProcessId="100",
        RawProcessId="4100",
        ImageFileName="\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe",
        CommandLine="cmd.exe /c run.bat",
    )
    child = dict(
        base,
        event_simpleName="ProcessRollup2",
        TargetProcessId="200",
        RawProcessId="4200",
        ParentProcessId="100",
        ParentBaseFileName="cmd.exe",
        ImageFileName="\\Device\\HarddiskVolume3\\Users\\Public\\rclone.exe",
        CommandLine="rclone copy D:\\PACS mega:",
    )
    conn = dict(
        base,
        event_simpleName="NetworkConnectIP4",
        ContextProcessId="200",
        RemoteAddressIP4="203.0.113.9",
        RemotePort="443",
        LocalAddressIP4="10.0.0.5",
        LocalPort="50000",
    )
    orphan = dict(conn, ContextProcessId="999")
    path = tmp_path / "fdr.json"
    path.write_text("\n".join(json.dumps(r) for r in (parent, child, conn, orphan)) + "\n", encoding="utf-8")
    rows, _ = _parse(path)
    _, child_row, conn_row, orphan_row = rows
    assert child_row["ParentImage"] == "\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe"
    assert (child_row["ParentCommandLine"], child_row["parent_pid"]) == ("cmd.exe /c run.bat", 4100)
    assert child_row["ParentProcessId"] == "100"  # the native Falcon id is kept as exported
    assert (conn_row["Image"], conn_row["process_pid"]) == (
        "\\Device\\HarddiskVolume3\\Users\\Public\\rclone.exe",
        4200,
    )
    assert orphan_row["process_image"] is None and "Image" not in orphan_row


def test_falcon_cef_auth_events(shared_data: Path) -> None:
    path = shared_data / AUTH_CEF
    assert FalconCefParser().sniff(path.read_bytes()[:4096], path.name)
    assert not FdrParser().sniff(path.read_bytes()[:4096], path.name)
    items = list(FalconCefParser().parse(_input(path), ParseContext()))
    rows = [i for i in items if not isinstance(i, Reject)]
    assert len(rows) == len(items) == _records(path) == 10  # the file has no trailing newline
    first = rows[0]
    assert (first["source"], first["channel"], first["user_name"]) == (
        "falcon_cef",
        "AuthActivityAuditEvent",
        "sanitized@sanitized.com",
    )
    assert (first["signature_id"], first["outcome"], first["record_id"]) == (
        "userAuthenticate",
        "true",
        36312,
    )
    # rt is epoch ms (UTC); the console's own rendering is kept under its label
    assert first["ts"].isoformat() == "2023-09-13T05:05:34.037000+00:00"
    assert first["Timestamp"] == "Sep 13 2023 10:35:34"
    assert [r["signature_id"] for r in rows].count("twoFactorAuthenticate") == 3


def test_cef_extension_escapes() -> None:
    ext = parse_cef_extension(
        r"msg=a\=b and more c=d cs1Label=Command Line cs1=cmd.exe /c echo\=1 dst=10.0.0.1"
    )
    assert ext == {
        "msg": "a=b and more",
        "c": "d",
        "cs1Label": "Command Line",
        "cs1": "cmd.exe /c echo=1",
        "dst": "10.0.0.1",
    }
