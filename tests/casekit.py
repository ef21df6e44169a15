"""Small synthetic cases for the timeline, story, integrity and report tests.

Builds a real case directory (``Case.open(create=True)`` + ``commit_batch``) from event dicts,
and writes findings with the hunt's own writer.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from forensics.custody import record_tool_step
from forensics.hunt.findings import Finding, RecordRef
from forensics.hunt.runs import record_findings
from forensics.schema import CORE, CORE_TYPES
from forensics.store import Case, StagedPart

T0 = datetime(2024, 3, 5, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus some seconds."""
    return T0 + timedelta(seconds=seconds)


def input_sha(host: str, channel: str) -> str:
    """A stable fake input hash per (host, channel): one 'file' each."""
    return hashlib.sha256(f"{host}/{channel}".encode()).hexdigest()


def build_case(root: Path, events: list[dict[str, Any]], drop: tuple[str, ...] = ()) -> Case:
    """A case holding ``events`` (dicts of core + native columns), one input per (host, channel).

    ``drop`` leaves core columns out of the part files, as parsers do for columns they never fill.
    """
    case = Case.open(root, create=True)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for ev in events:  # filled in place, so callers can point findings at their events
        ev.setdefault("source", "evtx")
        ev.setdefault("channel", "Security")
        ev.setdefault("ts_zone", "UTC")
        ev.setdefault("ts_assumed", False)
        if ev.get("ts") is not None:
            ev.setdefault("ts_raw", ev["ts"].isoformat())
        groups[(ev["source"], ev["channel"], ev.get("host") or "")].append(ev)
    staging = case.staging_dir
    staging.mkdir(parents=True, exist_ok=True)
    parts, inputs = [], []
    for i, ((source, channel, host), evs) in enumerate(sorted(groups.items())):
        sha = input_sha(host, channel)
        for n, ev in enumerate(evs):
            ev.setdefault("input_sha256", sha)
            ev.setdefault("rec_index", n)
            ev.setdefault("input_path", f"/evidence/{host}/{channel}.evtx")
            ev.setdefault("host", host or None)
        names = [c.name for c in CORE if c.name not in drop] + sorted(
            {k for ev in evs for k in ev} - set(CORE_TYPES)
        )
        table = pa.table({
            n: pa.array([ev.get(n) for ev in evs], CORE_TYPES.get(n, pa.string())) for n in names
        })  # fmt: skip
        path = staging / f"part-{i}.parquet"
        pq.write_table(table, path)
        parts.append(StagedPart(path, source, channel, len(evs)))
        inputs.append({
            "path": f"/evidence/{host}/{channel}.evtx", "sha256": sha, "parser": source, "rows": len(evs),
            "rejects": 0, "status": "ok", "host": host, "batch": "b1",
        })  # fmt: skip
    case.commit_batch("b1", parts, inputs, None)
    case.refresh_views()
    # as ingest does: the inputs' hashes in a custody entry (export and verify check every source has one)
    record_tool_step(root, "hashed", command=["casekit"], purpose="ingest",
                     item_hashes={i["path"]: i["sha256"] for i in inputs})  # fmt: skip
    return case


def rec(ev: dict[str, Any]) -> RecordRef:
    """The record reference of an event dict that went through ``build_case``."""
    return RecordRef(ev["input_sha256"], ev["rec_index"])


def write_findings(case: Case, findings: list[Finding]) -> str:
    """Keep findings as a new hunt run of the case with the hunt's own writer; returns the run id."""
    return record_findings(case, findings, argv=["casekit"])


def hunt_sql(case: Case) -> list[Finding]:
    """Run the project's SQL hunts over the case and write their findings, as ``forensics hunt`` does."""
    from forensics.hunt.sql import load_hunts, run_hunts
    from forensics.shipped import QUERIES

    hunts, problems = load_hunts([QUERIES])
    assert problems == [], problems
    found = run_hunts(case, hunts).findings
    write_findings(case, found)
    return found


def finding(
    rule: str, level: str, events: list[dict[str, Any]], attack: list[str], kind: str = "sigma", **kw: Any
) -> Finding:
    """A finding over some built events (host and times taken from them)."""
    times = [e["ts"] for e in events]
    return Finding(
        kind=kind, rule_id=rule, title=kw.pop("title", rule), level=level, host=events[0].get("host"),
        first_ts=min(times), last_ts=max(times), records=[rec(e) for e in events], attack=attack,
        tactics=kw.pop("tactics", []), **kw,
    )  # fmt: skip


XSS = "<script>document.title='pwned';document.body.appendChild(document.createElement('xss-ran'))</script>"
FORMULA = '=HYPERLINK("http://evil.example/x","click")'
SKEW_S = 300.0  # FS01's clock runs five minutes ahead


def attack_events() -> dict[str, Any]:
    """A small ransomware-style intrusion over three Windows hosts and one Linux host.

    WKS01 (10.0.0.11) is brute-forced over RDP from 203.0.113.50 and falls; from it the intruder
    uses alice's credentials against FS01 (10.0.0.20, clock 300 s fast) with PsExec, deletes
    shadow copies there, clears the Security log on DC01 and logs into web01 over SSH. A second
    brute force against DC01 from 198.51.100.7 never succeeds.
    """
    ev: dict[str, Any] = {"all": []}

    def add(name: str | None, **kw: Any) -> dict[str, Any]:
        e = {"source": "evtx", "channel": "Security", **kw}
        ev["all"].append(e)
        if name:
            ev[name] = e
        return e

    rid = {"WKS01": 100, "FS01": 500, "DC01": 900}

    def rec_id(host: str) -> int:
        rid[host] += 1
        return rid[host]

    fails = [
        add(None, host="WKS01", ts=at(i), event_id=4625, record_id=rec_id("WKS01"), user_name="alice",
            TargetUserName="alice", LogonType="10", IpAddress="203.0.113.50", src_ip="203.0.113.50")
        for i in range(30)
    ]  # fmt: skip
    ev["fails"] = fails
    add("entry", host="WKS01", ts=at(40), event_id=4624, record_id=rec_id("WKS01"), user_name="alice",
        TargetUserName="alice", LogonType="10", IpAddress="203.0.113.50", src_ip="203.0.113.50",
        WorkstationName="-")  # fmt: skip
    add("xss", host="WKS01", ts=at(60), event_id=4688, record_id=rec_id("WKS01"), user_name="alice",
        process_image="C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", process_pid=4242,
        category="process_creation", process_cmdline="powershell -enc AAAA " + XSS,
        CommandLine="powershell -enc AAAA " + XSS)  # fmt: skip
    add("formula", host="WKS01", ts=at(70), event_id=4688, record_id=rec_id("WKS01"), user_name="alice",
        process_image="C:\\Windows\\System32\\cmd.exe", process_pid=4300, parent_pid=4242,
        category="process_creation", process_cmdline=FORMULA, CommandLine=FORMULA)  # fmt: skip
    add("before", host="WKS01", ts=at(100), event_id=4688, record_id=rec_id("WKS01"), user_name="alice",
        process_image="C:\\Windows\\System32\\whoami.exe", process_pid=4400, parent_pid=4242,
        category="process_creation", process_cmdline="whoami /all")  # fmt: skip
    # three PsExec-style hops WKS01 -> FS01; FS01 records them SKEW_S (+ ~0.4 s latency) later
    for k, t in enumerate((120, 180, 240)):
        add(f"x4648_{k}", host="WKS01", ts=at(t), event_id=4648, record_id=rec_id("WKS01"), user_name="alice",
            TargetUserName="alice", TargetServerName="FS01.corp.local", process_image="C:\\Tools\\PsExec.exe")  # fmt: skip
        add(f"x4624_{k}", host="FS01", ts=at(t + SKEW_S + 0.4), event_id=4624, record_id=rec_id("FS01"),
            user_name="alice", TargetUserName="alice", LogonType="3", IpAddress="10.0.0.11",
            src_ip="10.0.0.11", WorkstationName="WKS01")  # fmt: skip
    add("share", host="FS01", ts=at(121 + SKEW_S), event_id=5145, record_id=rec_id("FS01"), user_name="alice",
        IpAddress="10.0.0.11", src_ip="10.0.0.11", ShareName="\\\\*\\ADMIN$", RelativeTargetName="PSEXESVC.exe")  # fmt: skip
    add("svc", host="FS01", channel="System", ts=at(122 + SKEW_S), event_id=7045, record_id=1,
        ServiceName="PSEXESVC", ImagePath="%SystemRoot%\\PSEXESVC.exe")  # fmt: skip
    # happened at true T+90 (before WKS01's whoami at T+100) but FS01's clock says T+390
    add("after", host="FS01", ts=at(90 + SKEW_S), event_id=4688, record_id=rec_id("FS01"), user_name="alice",
        process_image="C:\\Windows\\System32\\net.exe", process_pid=700, category="process_creation",
        process_cmdline="net share")  # fmt: skip
    add("vss", host="FS01", ts=at(400 + SKEW_S), event_id=4688, record_id=rec_id("FS01"), user_name="alice",
        process_image="C:\\Windows\\System32\\vssadmin.exe", process_pid=800, category="process_creation",
        process_cmdline="vssadmin.exe delete shadows /all /quiet")  # fmt: skip
    # DC01: a failed spray, a gap in record ids, then the Security log cleared
    ev["dc_fails"] = [
        add(None, host="DC01", ts=at(200 + i), event_id=4625, record_id=rec_id("DC01"), user_name=f"user{i % 5}",
            TargetUserName=f"user{i % 5}", LogonType="3", IpAddress="198.51.100.7", src_ip="198.51.100.7")
        for i in range(25)
    ]  # fmt: skip
    rid["DC01"] += 7  # seven records missing
    add("dc_logon", host="DC01", ts=at(300), event_id=4624, record_id=rec_id("DC01"), user_name="alice",
        TargetUserName="alice", LogonType="3", IpAddress="10.0.0.11", src_ip="10.0.0.11", WorkstationName="WKS01")  # fmt: skip
    add("clear", host="DC01", ts=at(500), event_id=1102, record_id=rec_id("DC01"), SubjectUserName="alice")
    add("ssh", host="web01", source="syslog", channel="auth", ts=at(450), provider="sshd", user_name="bob",
        src_ip="10.0.0.11", message="Accepted password for bob from 10.0.0.11 port 50522 ssh2", rec_line=1)  # fmt: skip
    return ev


def attack_case(root: Path) -> tuple[Case, dict[str, Any]]:
    """The ``attack_events`` intrusion as a case with findings written."""
    ev = attack_events()
    case = build_case(root, ev["all"])
    write_findings(case, [
        # what the brute-force hunts find: a SQL hunt's finding over every failure (and the success)
        finding("brute-rdp", "medium", [*ev["fails"], ev["entry"]], ["attack.t1110.001"], kind="sql",
                title="RDP brute force then success", tactics=["attack.credential_access"]),
        finding("spray-dc", "medium", ev["dc_fails"], ["attack.t1110.001"], kind="sql",
                title="Password spray, none succeeded", tactics=["attack.credential_access"]),
        finding("enc-ps", "high", [ev["xss"]], ["attack.t1059.001"], title="Encoded PowerShell " + XSS,
                tactics=["attack.execution"], summary="cmd " + FORMULA),
        finding("psexec-svc", "high", [ev["svc"]], ["attack.t1569.002", "attack.t1021.002"], title="PsExec service"),
        finding("shadow-del", "critical", [ev["vss"]], ["attack.t1490"], title="Shadow copies deleted"),
        finding("log-clear", "high", [ev["clear"]], ["attack.t1070.001"], title="Security log cleared"),
        finding("ioc-ip", "high", [ev["entry"]], [], kind="ioc", title="IOC 203.0.113.50",
                details='{"value":"203.0.113.50","type":"ip"}', tlp="amber"),
    ])  # fmt: skip
    return case, ev
