"""SQL hunts in queries/: the ransomware playbook fires on attacks and stays quiet on routine admin."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from forensics.hunt.findings import level_rank
from forensics.hunt.sql import load_hunts, parse_hunt, run_hunts
from forensics.shipped import QUERIES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
from casekit import at, build_case

SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _events() -> list[dict[str, Any]]:
    ev: list[dict[str, Any]] = []
    # brute force then success from a public address, and an admin's two typos from the office
    for i in range(12):
        ev.append(dict(host="WKS01", ts=at(i), event_id=4625, user_name="alice", LogonType="10",
                       IpAddress="203.0.113.50", src_ip="203.0.113.50"))  # fmt: skip
    ev.append(dict(host="WKS01", ts=at(20), event_id=4624, user_name="alice", LogonType="10",
                   IpAddress="203.0.113.50", src_ip="203.0.113.50"))  # fmt: skip
    for i in range(2):
        ev.append(dict(host="WKS02", ts=at(100 + i), event_id=4625, user_name="admin", LogonType="10",
                       IpAddress="10.10.9.7", src_ip="10.10.9.7"))  # fmt: skip
    ev.append(dict(host="WKS02", ts=at(110), event_id=4624, user_name="admin", LogonType="10",
                   IpAddress="10.10.9.7", src_ip="10.10.9.7"))  # fmt: skip
    # sshd: 10 failures then accepted; and a normal login
    for i in range(10):
        ev.append(dict(host="web01", source="syslog", channel="auth", provider="sshd", ts=at(200 + i),
                       src_ip="198.51.100.9", message=f"Failed password for root from 198.51.100.9 port {4000 + i} ssh2"))  # fmt: skip
    ev.append(dict(host="web01", source="syslog", channel="auth", provider="sshd", ts=at(215), user_name="root",
                   src_ip="198.51.100.9", message="Accepted password for root from 198.51.100.9 port 4100 ssh2"))  # fmt: skip
    ev.append(dict(host="web01", source="syslog", channel="auth", provider="sshd", ts=at(300), user_name="bob",
                   src_ip="10.0.0.5", message="Accepted publickey for bob from 10.0.0.5 port 5000 ssh2"))  # fmt: skip
    # shadow copies: deleted on FS01, merely listed by the nightly backup on FS02
    ev.append(dict(host="FS01", channel=SYSMON, event_id=1, category="process_creation", ts=at(400),
                   process_cmdline="vssadmin.exe delete shadows /all /quiet"))  # fmt: skip
    ev.append(dict(host="FS02", channel=SYSMON, event_id=1, category="process_creation", ts=at(400),
                   process_cmdline="vssadmin list shadows"))  # fmt: skip
    ev.append(dict(host="FS02", channel=SYSMON, event_id=1, category="process_creation", ts=at(401),
                   process_cmdline="wbadmin start backup -backupTarget:\\\\nas\\backup -quiet"))  # fmt: skip
    # PsExec service, log clearing
    ev.append(dict(host="FS01", channel="System", event_id=7045, ts=at(390), ServiceName="PSEXESVC",
                   ImagePath="%SystemRoot%\\PSEXESVC.exe"))  # fmt: skip
    ev.append(dict(host="DC01", channel="Security", event_id=1102, ts=at(500), user_name="alice"))
    return ev


def _run(tmp_path: Path, events: list[dict[str, Any]], queries: Path) -> Any:
    case = build_case(tmp_path / "case", events)
    hunts, problems = load_hunts([queries])
    assert problems == []
    return run_hunts(case, hunts)


def test_playbook_fires_on_attack_and_not_on_routine(tmp_path: Path, repo_root: Path) -> None:
    result = _run(tmp_path, _events(), QUERIES)
    assert all(o.status == "ran" for o in result.outcomes), [o for o in result.outcomes if o.status != "ran"]
    by_rule: dict[str, list[Any]] = {}
    for f in result.findings:
        by_rule.setdefault(f.rule_id, []).append(f)

    brute = {(f.host, f.level) for f in by_rule["brute-force-then-success"]}
    assert brute == {("WKS01", "high"), ("web01", "high")}
    wks = next(f for f in by_rule["brute-force-then-success"] if f.host == "WKS01")
    assert len(wks.records) == 13  # every failure and the success

    public = by_rule["remote-logon-from-public-address"]
    assert {f.host for f in public} == {"WKS01", "web01"}  # 10.10.9.7 and 10.0.0.5 raise nothing
    assert next(f for f in public if f.host == "WKS01").level == "high"

    shadow = by_rule["shadow-copy-backup-deletion"]
    assert [(f.host, f.level) for f in shadow] == [("FS01", "critical")]
    assert [f.host for f in by_rule["psexec-style-service-install"]] == ["FS01"]
    assert [f.host for f in by_rule["event-log-cleared"]] == ["DC01"]

    # nothing high or critical on the hosts that only did routine work
    routine = [f for f in result.findings if f.host in ("WKS02", "FS02") and level_rank(f.level) >= 3]
    assert routine == []


def test_every_shipped_hunt_has_metadata(repo_root: Path) -> None:
    hunts, problems = load_hunts([QUERIES])
    assert problems == []
    assert len(hunts) >= 11
    for h in hunts:
        assert h.title and h.description and h.attack, h.path
        assert h.fields or h.needs, h.path


def test_missing_column_skips_hunt_and_bad_file_is_reported(tmp_path: Path) -> None:
    qdir = tmp_path / "q"
    qdir.mkdir()
    (qdir / "needs_x.sql").write_text(
        "-- id: needs-x\n-- title: Needs X\n-- level: low\n-- needs: [NoSuchColumn]\n"
        "SELECT input_sha256, rec_index, host, ts FROM events WHERE NoSuchColumn = '1'\n"
    )
    (qdir / "broken.sql").write_text("SELECT 1\n")
    (qdir / "bad_sql.sql").write_text("-- id: bad\n-- title: Bad\n-- level: low\nSELEC nothing\n")
    case = build_case(tmp_path / "case", [dict(host="H", ts=at(0), event_id=1)])
    hunts, problems = load_hunts([qdir])
    assert [(Path(p.path).name, p.status) for p in problems] == [("broken.sql", "failed")]
    assert "metadata header" in problems[0].reason
    result = run_hunts(case, hunts)
    status = {o.rule_id: (o.status, o.reason) for o in result.outcomes}
    assert status["needs-x"][0] == "skipped" and "NoSuchColumn" in status["needs-x"][1]
    assert status["bad"][0] == "failed"


def test_absent_optional_columns_read_as_null(tmp_path: Path, repo_root: Path) -> None:
    # a Linux-only case has no LogonType, IpAddress, ServiceName ...: hunts still run
    events = [dict(host="web01", source="syslog", channel="auth", provider="sshd", ts=at(0), src_ip="10.0.0.5",
                   user_name="bob", message="Accepted publickey for bob from 10.0.0.5 port 5000 ssh2")]  # fmt: skip
    result = _run(tmp_path, events, QUERIES)
    assert {o.status for o in result.outcomes} <= {"ran", "skipped"}
    assert sum(o.status == "ran" for o in result.outcomes) >= 9
    assert result.findings == []


def test_parse_hunt_header(tmp_path: Path) -> None:
    p = tmp_path / "h.sql"
    p.write_text("-- id: x\n-- title: X\n-- level: HIGH\n-- attack: [T1490]\n\nSELECT 1;\n")
    h = parse_hunt(p)
    assert (h.id, h.level, h.attack, h.sql) == ("x", "high", ("T1490",), "SELECT 1")


def _impact_events() -> list[dict[str, Any]]:
    ev: list[dict[str, Any]] = []
    lsass = "C:\\Windows\\system32\\lsass.exe"
    ev.append(dict(host="WKS01", channel=SYSMON, event_id=10, category="process_access", ts=at(0),
                   TargetImage=lsass, GrantedAccess="0x1FFFFF", SourceImage="C:\\Users\\Public\\x.exe"))  # fmt: skip
    ev.append(dict(host="WKS02", channel=SYSMON, event_id=10, category="process_access", ts=at(0),
                   TargetImage=lsass, GrantedAccess="0x1410", SourceImage="C:\\Windows\\System32\\svchost.exe"))  # fmt: skip
    ev.append(dict(host="WKS01", channel=SYSMON, event_id=1, category="process_creation", ts=at(1),
                   process_cmdline="rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump 624 C:\\temp\\l.dmp full"))  # fmt: skip
    for i in range(120):  # encrypted copies in four folders, and notes in three
        ev.append(dict(host="FS01", channel=SYSMON, event_id=11, category="file_event", ts=at(100 + i),
                       TargetFilename=f"D:\\Shares\\dept{i % 4}\\report{i}.docx.lockbit"))  # fmt: skip
    for k in range(3):
        ev.append(dict(host="FS01", channel=SYSMON, event_id=11, category="file_event", ts=at(300 + k),
                       TargetFilename=f"D:\\Shares\\dept{k}\\How_To_Decrypt.txt"))  # fmt: skip
    sid = "S-1-5-21-1-2-3-1105"
    ev.append(dict(host="DC01", event_id=4720, ts=at(400), TargetUserName="svc_bkp2", TargetSid=sid))
    ev.append(dict(host="DC01", event_id=4732, ts=at(401), TargetUserName="Administrators", MemberSid=sid,
                   MemberName="-", TargetSid="S-1-5-32-544"))  # fmt: skip
    for cmd in ("net stop MSSQLSERVER /y", "net stop SQLWriter /y", "taskkill /f /im sqlservr.exe",
                "net stop VeeamBackupSvc /y"):  # fmt: skip
        ev.append(dict(host="DB01", channel=SYSMON, event_id=1, category="process_creation", ts=at(500),
                       process_cmdline=cmd))  # fmt: skip
    ev.append(dict(host="DB02", channel="System", event_id=7036, ts=at(500), param1="SQL Server (MSSQLSERVER)",
                   param2="stopped"))  # fmt: skip
    ev.append(dict(host="WKS01", channel=SYSMON, event_id=1, category="process_creation", ts=at(600),
                   process_cmdline='schtasks /create /s FS01 /tn upd /tr "c:\\x.exe" /sc once /st 00:00'))  # fmt: skip
    for n in range(6):
        ev.append(dict(host=f"SRV{n}", event_id=4624, ts=at(700 + n), user_name="alice", LogonType="3",
                       IpAddress="10.0.0.11", src_ip="10.0.0.11"))  # fmt: skip
    return ev


def test_impact_hunts(tmp_path: Path, repo_root: Path) -> None:
    result = _run(tmp_path, _impact_events(), QUERIES)
    got = {(f.rule_id, f.host, f.level) for f in result.findings}
    assert ("lsass-credential-dump", "WKS01", "critical") in got
    assert not any(f.host == "WKS02" for f in result.findings)  # svchost with 0x1410 is routine
    files = {
        (f.host, f.level, len(f.records)) for f in result.findings if f.rule_id == "ransomware-file-activity"
    }
    assert files == {("FS01", "high", 120), ("FS01", "high", 3)}
    assert ("new-admin-account", "DC01", "high") in got
    assert ("database-backup-service-stop", "DB01", "high") in got
    assert ("database-backup-service-stop", "DB02", "low") in got  # one routine stop stays low
    assert ("remote-scheduled-task", "WKS01", "high") in got
    spread = [f for f in result.findings if f.rule_id == "account-logon-many-hosts"]
    assert [(f.host, f.level, len(f.records)) for f in spread] == [(None, "medium", 6)]
