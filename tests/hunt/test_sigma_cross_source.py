"""One SigmaHQ rule, many sources: Sysmon 1, Security 4688, CrowdStrike FDR and Defender rows alike;
and SigmaHQ Linux rules on auditd and sshd samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forensics.hunt.sigma import run_sigma
from forensics.ingest.runner import ingest_paths
from forensics.store import Case
from forensics.testing.evtx_writer import WinEvent, write_evtx

SHADOW_RULE = "windows/process_creation/proc_creation_win_susp_shadow_copies_deletion.yml"
CMD = "vssadmin.exe delete shadows /all /quiet"
WHEN = datetime(2022, 11, 23, 0, 35, 3, tzinfo=UTC)
SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _windows(root: Path) -> None:
    sysmon = WinEvent(
        "Microsoft-Windows-Sysmon", 1, WHEN, SYSMON, "EHOSP-DB01.dims.local",
        event_data=(("Image", "C:\\Windows\\System32\\vssadmin.exe"), ("CommandLine", CMD),
                    ("OriginalFileName", "VSSADMIN.EXE"), ("ParentImage", "C:\\Windows\\System32\\cmd.exe"),
                    ("User", "NT AUTHORITY\\SYSTEM")),
    )  # fmt: skip
    security = WinEvent(
        "Microsoft-Windows-Security-Auditing", 4688, WHEN, "Security", "EHOSP-DB02.dims.local",
        event_data=(("NewProcessName", "C:\\Windows\\System32\\vssadmin.exe"), ("CommandLine", CMD),
                    ("ParentProcessName", "C:\\Windows\\System32\\cmd.exe"), ("SubjectUserName", "adm.sharma")),
    )  # fmt: skip
    write_evtx(root / "db01" / "Sysmon.evtx", [sysmon])
    write_evtx(root / "db02" / "Security.evtx", [security])


def _edr(root: Path) -> None:
    fdr = {
        "event_simpleName": "ProcessRollup2", "aid": "4b8f58d3f5f040b3804d3820ca2aed67", "event_platform": "Win",
        "ComputerName": "LIS-APP01", "timestamp": "1669163703000", "ProcessStartTime": "1669163703.000",
        "ImageFileName": "\\Device\\HarddiskVolume3\\Windows\\System32\\vssadmin.exe", "CommandLine": CMD,
        "RawProcessId": "5151", "SHA256HashData": "b" * 64,
    }  # fmt: skip
    mde = {
        "Timestamp": "2022-11-23T00:35:03.0000000Z", "DeviceName": "ehosp-db03.dims.local",
        "ActionType": "ProcessCreated", "FileName": "vssadmin.exe",
        "FolderPath": "C:\\Windows\\System32\\vssadmin.exe", "ProcessCommandLine": CMD, "ProcessId": 4242,
        "ProcessVersionInfoOriginalFileName": "VSSADMIN.EXE", "AccountDomain": "dims", "AccountName": "adm.sharma",
        "InitiatingProcessFileName": "cmd.exe", "InitiatingProcessCommandLine": "cmd.exe /c " + CMD,
    }  # fmt: skip
    (root / "edr").mkdir(parents=True)
    (root / "edr" / "fdr.json").write_text(json.dumps(fdr) + "\n")
    (root / "edr" / "mde.json").write_text(json.dumps(mde) + "\n")


def _hits(case_dir: Path, rule: Path) -> dict[str, int]:
    with Case.open(case_dir) as case:
        result = run_sigma(case, [rule])
        sources = dict(
            case.con.execute("SELECT input_sha256 || ':' || rec_index, source FROM events").fetchall()
        )
    assert all(s.status == "converted" for s in result.report)
    out: dict[str, int] = {}
    for f in result.findings:
        for r in f.records:
            src = sources[f"{r.input_sha256}:{r.rec_index}"]
            out[src] = out.get(src, 0) + 1
    return out


def test_process_creation_rule_fires_on_sysmon_4688_fdr_and_mde(shared_data: Path, tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    _windows(evidence)
    _edr(evidence)
    ingest_paths(tmp_path / "case", [evidence])
    hits = _hits(tmp_path / "case", shared_data / "sigma" / "rules" / SHADOW_RULE)
    with Case.open(tmp_path / "case", read_only=True) as case:
        sources = case.con.execute("SELECT DISTINCT source, channel FROM events ORDER BY 1").fetchall()
    assert {s for s, _ in sources} == {"evtx", "fdr", "mde"}
    # two EVTX rows (Sysmon 1 and Security 4688), one FDR ProcessRollup2, one MDE DeviceProcessEvents
    assert hits == {"evtx": 2, "fdr": 1, "mde": 1}


@pytest.mark.parametrize(
    ("rule", "lines", "log_name"),
    [
        (
            "linux/auditd/execve/lnx_auditd_binary_padding.yml",
            [
                "type=SYSCALL msg=audit(1669162211.118:4242): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 "
                "a2=55d3 a3=0 items=2 ppid=2210 pid=2300 auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
                'fsgid=0 tty=pts0 ses=3 comm="truncate" exe="/usr/bin/truncate" key=(null)',
                'type=EXECVE msg=audit(1669162211.118:4242): argc=4 a0="truncate" a1="-s" a2="+5M" a3="/tmp/.x"',
                'type=CWD msg=audit(1669162211.118:4242): cwd="/tmp"',
            ],
            "audit.log",
        ),
        (
            "linux/builtin/sshd/lnx_sshd_susp_ssh.yml",
            [
                "Nov 23 02:10:05 lnx-es01 sshd[2211]: error: Corrupted MAC on input. [preauth]",
                "Nov 23 02:10:06 lnx-es01 sshd[2212]: Accepted password for esadmin from 10.10.5.20 port 51544 ssh2",
            ],
            "auth.log",
        ),
    ],
)
def test_sigmahq_linux_rules_fire_on_matching_samples(
    shared_data: Path, tmp_path: Path, rule: str, lines: list[str], log_name: str
) -> None:
    log = tmp_path / "evidence" / log_name
    log.parent.mkdir(parents=True)
    log.write_text("\n".join(lines) + "\n")
    ingest_paths(tmp_path / "case", [log.parent])
    hits = _hits(tmp_path / "case", shared_data / "sigma" / "rules" / rule)
    assert sum(hits.values()) == 1
