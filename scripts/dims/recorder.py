"""How the hospital's systems log things: the recorder every scenario action and the background write through."""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from forensics.testing.evtx_writer import WinEvent

from .world import (
    BKP01,
    CH,
    CLIENT_NAMES,
    DC01,
    DOMAIN,
    DOMAIN_SID,
    EDR_HOSTS,
    ES01,
    EVENTXML_NS,
    IP,
    NETBIOS,
    PROV,
    SEED,
    SKEW,
    STANDIN_SHA256,
    fake_hashes,
    fqdn,
    sid,
    sysmon_hashes,
)


@dataclass
class Proc:
    """A process the generator has started (for parent links)."""

    host: str
    pid: int
    guid: str
    image: str
    cmd: str
    user: str


@dataclass
class StepLog:
    """What one scenario step left in the logs: window (true UTC), techniques, evidence."""

    number: int
    title: str
    attack: tuple[str, ...]
    hosts: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def touch(self, host: str, t: datetime) -> None:
        """Widen the step window with an event logged on ``host`` at true time ``t``."""
        if host not in self.hosts:
            self.hosts.append(host)
        self.start = t if self.start is None or t < self.start else self.start
        self.end = t if self.end is None or t > self.end else self.end


@dataclass
class Options:
    """What to generate: the committed demo (defaults) or a larger benchmark case."""

    seed: int = SEED
    extra_hosts: int = 0  # benign workstations added in large mode
    days: int = 1  # days of benign background before the attack day
    encrypt_files: int = 80  # encrypted files per target host (spread over four folders)

    @property
    def large(self) -> bool:
        """True for a benchmark case."""
        return self.extra_hosts > 0 or self.days > 1


class Recorder:
    """Collects every record of the case in memory (the writers put them out sorted).

    One method per thing that gets logged (a process start, a logon, an RDP session, a file
    written, an auth.log line, an auditd execve, ...): how Windows, Linux, the firewall and
    Defender for Endpoint record it is spelled out here and nowhere else. Random values (process
    ids, GUIDs, logon ids, ports) come from one seeded generator, in call order.
    """

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.win: dict[tuple[str, str], list[tuple[datetime, int, WinEvent]]] = {}
        self.auth: dict[str, list[tuple[datetime, int, str]]] = {ES01: [], BKP01: []}
        self.audit: list[tuple[datetime, int, list[str]]] = []
        self.journal: dict[str, list[tuple[datetime, int, dict[str, str]]]] = {ES01: [], BKP01: []}
        self.firewall: list[tuple[datetime, int, str]] = []
        self.edr: list[tuple[datetime, int, dict[str, Any]]] = []
        self.steps: dict[int, StepLog] = {}  # the scenario's steps, registered by the player
        self.step: StepLog | None = None
        self.seq = 0
        self.audit_serial = 48100
        self.boot = {h: str(uuid.UUID(int=self.rng.getrandbits(128))).replace("-", "") for h in (ES01, BKP01)}
        self.clear_time: dict[tuple[str, str], datetime] = {}

    # -- bookkeeping ------------------------------------------------------------------------

    def next_seq(self) -> int:
        """A global insertion counter: the tie-breaker that keeps sorting stable."""
        self.seq += 1
        return self.seq

    def mark(self, host: str, t: datetime) -> None:
        """Attribute an event to the current scenario step (if any)."""
        if self.step is not None:
            self.step.touch(host, t)

    def evidence(self, **what: Any) -> None:
        """Record how the current step's events can be found (for expected_steps.json)."""
        assert self.step is not None
        if what not in self.step.evidence:
            self.step.evidence.append(what)

    def guid(self) -> str:
        """A Sysmon-style process / logon GUID."""
        return "{" + str(uuid.UUID(int=self.rng.getrandbits(128))) + "}"

    def pid(self) -> int:
        """A Windows-looking process id."""
        return self.rng.randrange(1000, 12000, 4)

    def logon_id(self) -> str:
        """A hexadecimal logon id."""
        return hex(self.rng.randrange(0x100000, 0x9FFFFFF))

    # -- Windows ----------------------------------------------------------------------------

    def add(
        self,
        host: str,
        ch: str,
        eid: int,
        t: datetime,
        data: dict[str, str | None] | None = None,
        *,
        prov: str | None = None,
        user_data: tuple[str, dict[str, str | None]] | None = None,
        user_data_ns: str | None = None,
        level: int | None = None,
        **kw: Any,
    ) -> WinEvent:
        """One Windows event at true time ``t``; the host's clock skew is applied here."""
        name, guid = PROV[prov or ch]
        logged = t + SKEW.get(host, timedelta(0))
        if level is None:
            level = 0 if ch == "sec" else 4
        if ch == "sysmon":  # Sysmon's task is its event id
            kw.setdefault("task", eid)
        extra: dict[str, Any] = {}
        if user_data is not None:
            extra["user_data"] = (user_data[0], tuple(user_data[1].items()))
            if user_data_ns:
                extra["user_data_ns"] = user_data_ns
        elif data is not None:
            extra["event_data"] = tuple(data.items())
        ev = WinEvent(
            provider=name,
            provider_guid=guid,
            event_id=eid,
            ts=logged,
            channel=CH[ch],
            computer=fqdn(host),
            level=level,
            **extra,
            **kw,
        )
        self.win.setdefault((host, ch), []).append((t, self.next_seq(), ev))
        self.mark(host, t)
        return ev

    def utc_text(self, host: str, t: datetime) -> str:
        """Sysmon ``UtcTime`` as the host's (possibly skewed) clock writes it."""
        logged = (t + SKEW.get(host, timedelta(0))).astimezone(UTC)
        return logged.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]

    def proc(
        self,
        host: str,
        t: datetime,
        image: str,
        cmd: str,
        user: str,
        parent: Proc | None,
        *,
        hashes: dict[str, str] | None = None,
        integrity: str = "High",
        cwd: str = "C:\\Windows\\system32\\",
        security: bool = True,
    ) -> Proc:
        """A process start: Sysmon 1, Security 4688, and an EDR row on the DB servers."""
        p = Proc(host, self.pid(), self.guid(), image, cmd, user)
        par = parent or Proc(
            host, 4, "{00000000-0000-0000-0000-000000000000}", "System", "", "NT AUTHORITY\\SYSTEM"
        )
        h = hashes or fake_hashes(image.rsplit("\\", 1)[-1])
        exe = image.rsplit("\\", 1)[-1]
        self.add(
            host,
            "sysmon",
            1,
            t,
            {
                "RuleName": "-",
                "UtcTime": self.utc_text(host, t),
                "ProcessGuid": p.guid,
                "ProcessId": str(p.pid),
                "Image": image,
                "FileVersion": "-",
                "Description": "-",
                "Product": "-",
                "Company": "-",
                "OriginalFileName": exe,
                "CommandLine": cmd,
                "CurrentDirectory": cwd,
                "User": user,
                "LogonGuid": self.guid(),
                "LogonId": self.logon_id(),
                "TerminalSessionId": "0" if user.startswith("NT AUTHORITY") else "2",
                "IntegrityLevel": integrity if not user.startswith("NT AUTHORITY") else "System",
                "Hashes": sysmon_hashes(h),
                "ParentProcessGuid": par.guid,
                "ParentProcessId": str(par.pid),
                "ParentImage": par.image,
                "ParentCommandLine": par.cmd,
                "ParentUser": par.user,
            },
            process_id=2956,
            thread_id=3620,
            user_id="S-1-5-18",
        )
        if security:
            dom, _, name = user.partition("\\")
            self.add(
                host,
                "sec",
                4688,
                t + timedelta(microseconds=150),
                {
                    "SubjectUserSid": sid(name) if dom == NETBIOS else "S-1-5-18",
                    "SubjectUserName": name if dom == NETBIOS else f"{host}$",
                    "SubjectDomainName": dom if dom == NETBIOS else NETBIOS,
                    "SubjectLogonId": self.logon_id(),
                    "NewProcessId": hex(p.pid),
                    "NewProcessName": image,
                    "TokenElevationType": "%%1937" if integrity == "High" else "%%1938",
                    "ProcessId": hex(par.pid),
                    "CommandLine": cmd,
                    "TargetUserSid": "S-1-0-0",
                    "TargetUserName": "-",
                    "TargetDomainName": "-",
                    "TargetLogonId": "0x0",
                    "ParentProcessName": par.image,
                    "MandatoryLabel": "S-1-16-12288" if integrity == "High" else "S-1-16-8192",
                },
                version=2,
                task=13312,
                keywords=0x8020000000000000,
            )
        if host in EDR_HOSTS:
            self.edr_row(
                host,
                t,
                "DeviceProcessEvents",
                "ProcessCreated",
                {
                    "FileName": exe.lower(),
                    "FolderPath": image,
                    "ProcessId": p.pid,
                    "ProcessCommandLine": cmd,
                    "SHA1": h["SHA1"],
                    "SHA256": h["SHA256"],
                    "MD5": h["MD5"],
                    "AccountDomain": user.partition("\\")[0].lower(),
                    "AccountName": user.partition("\\")[2],
                    "InitiatingProcessFileName": par.image.rsplit("\\", 1)[-1].lower(),
                    "InitiatingProcessFolderPath": par.image,
                    "InitiatingProcessCommandLine": par.cmd,
                    "InitiatingProcessId": par.pid,
                },
            )
        return p

    def sysmon(self, host: str, eid: int, t: datetime, data: dict[str, str | None]) -> WinEvent:
        """A Sysmon event other than process creation (RuleName and UtcTime filled in)."""
        full: dict[str, str | None] = {"RuleName": "-", "UtcTime": self.utc_text(host, t)}
        full.update(data)
        return self.add(host, "sysmon", eid, t, full, process_id=2956, thread_id=3620, user_id="S-1-5-18")

    def net(
        self, host: str, t: datetime, p: Proc, dst_ip: str, dst_port: int, *, src_port: int | None = None
    ) -> None:
        """Sysmon 3: an outbound TCP connection by ``p``."""
        sport = src_port or self.rng.randrange(49700, 64000)
        self.sysmon(
            host,
            3,
            t,
            {
                "ProcessGuid": p.guid,
                "ProcessId": str(p.pid),
                "Image": p.image,
                "User": p.user,
                "Protocol": "tcp",
                "Initiated": "true",
                "SourceIsIpv6": "false",
                "SourceIp": IP.get(host, "10.10.9.99"),
                "SourceHostname": fqdn(host),
                "SourcePort": str(sport),
                "SourcePortName": "-",
                "DestinationIsIpv6": "false",
                "DestinationIp": dst_ip,
                "DestinationHostname": "-",
                "DestinationPort": str(dst_port),
                "DestinationPortName": {
                    22: "ssh",
                    80: "http",
                    445: "microsoft-ds",
                    3389: "ms-wbt-server",
                }.get(dst_port, "-"),
            },
        )
        if host in EDR_HOSTS:
            self.edr_row(
                host,
                t,
                "DeviceNetworkEvents",
                "ConnectionSuccess",
                {
                    "RemoteIP": dst_ip,
                    "RemotePort": dst_port,
                    "LocalIP": IP[host],
                    "LocalPort": sport,
                    "Protocol": "Tcp",
                    "InitiatingProcessFileName": p.image.rsplit("\\", 1)[-1].lower(),
                    "InitiatingProcessCommandLine": p.cmd,
                    "InitiatingProcessId": p.pid,
                },
            )

    def file(
        self,
        host: str,
        t: datetime,
        p: Proc,
        path: str,
        *,
        edr_action: str = "FileCreated",
        previous: str | None = None,
    ) -> None:
        """Sysmon 11: ``p`` created ``path``."""
        self.sysmon(
            host,
            11,
            t,
            {
                "ProcessGuid": p.guid,
                "ProcessId": str(p.pid),
                "Image": p.image,
                "TargetFilename": path,
                "CreationUtcTime": self.utc_text(host, t),
                "User": p.user,
            },
        )
        if host in EDR_HOSTS:
            name = path.rpartition("\\")[2]
            self.edr_row(
                host,
                t,
                "DeviceFileEvents",
                edr_action,
                {
                    "FileName": name,
                    "FolderPath": path,
                    "InitiatingProcessFileName": p.image.rsplit("\\", 1)[-1].lower(),
                    "InitiatingProcessCommandLine": p.cmd,
                    "InitiatingProcessId": p.pid,
                    "SHA256": STANDIN_SHA256 if name == "svchosts.exe" else None,
                    "PreviousFileName": previous,
                },
            )

    def logon(
        self,
        host: str,
        t: datetime,
        user: str,
        ltype: int,
        ip: str,
        *,
        domain: str = NETBIOS,
        auth: str = "Kerberos",
        admin: bool = False,
        workstation: str = "-",
    ) -> str:
        """Security 4624 (and 4672 for privileged accounts); returns the logon id."""
        lid = self.logon_id()
        self.add(
            host,
            "sec",
            4624,
            t,
            {
                "SubjectUserSid": "S-1-5-18" if ltype in (2, 10, 5) else "S-1-0-0",
                "SubjectUserName": f"{host}$" if ltype in (2, 10, 5) else "-",
                "SubjectDomainName": NETBIOS if ltype in (2, 10, 5) else "-",
                "SubjectLogonId": "0x3e7" if ltype in (2, 10, 5) else "0x0",
                "TargetUserSid": sid(user) if not user.endswith("$") else f"{DOMAIN_SID}-1{len(user)}01",
                "TargetUserName": user,
                "TargetDomainName": domain,
                "TargetLogonId": lid,
                "LogonType": str(ltype),
                "LogonProcessName": "User32"
                if ltype == 10
                else ("NtLmSsp" if auth == "NTLM" else "Kerberos"),
                "AuthenticationPackageName": "Negotiate" if ltype == 10 else auth,
                "WorkstationName": workstation,
                "LogonGuid": self.guid(),
                "TransmittedServices": "-",
                "LmPackageName": "NTLM V2" if auth == "NTLM" else "-",
                "KeyLength": "128" if auth == "NTLM" else "0",
                "ProcessId": "0x2a4" if ltype == 10 else "0x0",
                "ProcessName": "C:\\Windows\\System32\\svchost.exe" if ltype == 10 else "-",
                "IpAddress": ip,
                "IpPort": str(self.rng.randrange(49700, 64000)) if ip != "-" else "-",
                "ImpersonationLevel": "%%1833",
                "RestrictedAdminMode": "-",
                "TargetOutboundUserName": "-",
                "TargetOutboundDomainName": "-",
                "VirtualAccount": "%%1843",
                "TargetLinkedLogonId": "0x0",
                "ElevatedToken": "%%1842" if admin else "%%1843",
            },
            version=2,
            task=12544,
            keywords=0x8020000000000000,
            process_id=648,
            thread_id=self.rng.randrange(700, 9000, 4),
        )
        if admin:
            self.add(
                host,
                "sec",
                4672,
                t + timedelta(microseconds=300),
                {
                    "SubjectUserSid": sid(user),
                    "SubjectUserName": user,
                    "SubjectDomainName": domain,
                    "SubjectLogonId": lid,
                    "PrivilegeList": "SeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeDebugPrivilege"
                    "\n\t\t\tSeImpersonatePrivilege",
                },
                task=12548,
                keywords=0x8020000000000000,
                process_id=648,
                thread_id=700,
            )
        return lid

    def rdp(self, host: str, t: datetime, user: str, ip: str, *, admin: bool, session: int) -> Proc:
        """An RDP session start: 1149, 4624 type 10, LocalSessionManager 21 and 22."""
        self.add(
            host,
            "rcm",
            1149,
            t,
            user_data=("EventXML", {"Param1": user, "Param2": NETBIOS, "Param3": ip}),
            user_data_ns=EVENTXML_NS,
            process_id=1076,
            thread_id=1932,
            user_id="S-1-5-20",
        )
        client = CLIENT_NAMES.get(ip, "-")  # a type 10 logon names the client's computer
        self.logon(host, t + timedelta(seconds=2), user, 10, ip, admin=admin, workstation=client)
        for eid, dt in ((21, 3), (22, 4)):
            self.add(
                host,
                "lsm",
                eid,
                t + timedelta(seconds=dt),
                user_data=(
                    "EventXML",
                    {"User": f"{NETBIOS}\\{user}", "SessionID": str(session), "Address": ip},
                ),
                user_data_ns=EVENTXML_NS,
                process_id=1000,
                thread_id=1300,
                user_id="S-1-5-18",
            )
        explorer = Proc(
            host,
            self.pid(),
            self.guid(),
            "C:\\Windows\\explorer.exe",
            "C:\\Windows\\Explorer.EXE",
            f"{NETBIOS}\\{user}",
        )
        return explorer

    def rdp_end(self, host: str, t: datetime, user: str, ip: str, session: int) -> None:
        """An RDP session end: LocalSessionManager 24 and 23, Security 4634."""
        for eid, dt in ((24, 0), (23, 5)):
            self.add(
                host,
                "lsm",
                eid,
                t + timedelta(seconds=dt),
                user_data=(
                    "EventXML",
                    {"User": f"{NETBIOS}\\{user}", "SessionID": str(session), "Address": ip},
                ),
                user_data_ns=EVENTXML_NS,
                process_id=1000,
                thread_id=1300,
                user_id="S-1-5-18",
            )
        self.add(
            host,
            "sec",
            4634,
            t + timedelta(seconds=6),
            {
                "TargetUserSid": sid(user),
                "TargetUserName": user,
                "TargetDomainName": NETBIOS,
                "TargetLogonId": self.logon_id(),
                "LogonType": "10",
            },
            task=12545,
            keywords=0x8020000000000000,
        )

    def explicit_creds(
        self, host: str, t: datetime, subject: str, target_user: str, server: str, ip: str, process: str
    ) -> None:
        """Security 4648: a logon with explicit credentials towards ``server``."""
        self.add(
            host,
            "sec",
            4648,
            t,
            {
                "SubjectUserSid": sid(subject) if not subject.endswith("$") else "S-1-5-18",
                "SubjectUserName": subject,
                "SubjectDomainName": NETBIOS,
                "SubjectLogonId": self.logon_id(),
                "LogonGuid": self.guid(),
                "TargetUserName": target_user,
                "TargetDomainName": NETBIOS,
                "TargetLogonGuid": self.guid(),
                "TargetServerName": server,
                "TargetInfo": server,
                "ProcessId": hex(self.pid()),
                "ProcessName": process,
                "IpAddress": ip,
                "IpPort": "0",
            },
            task=12544,
            keywords=0x8020000000000000,
            process_id=648,
            thread_id=712,
        )

    def kerberos_ticket(self, t: datetime, user: str, service: str, ip: str) -> None:
        """DC01 Security 4769: a service ticket requested from ``ip``."""
        self.add(
            DC01,
            "sec",
            4769,
            t,
            {
                "TargetUserName": f"{user}@{DOMAIN.upper()}",
                "TargetDomainName": DOMAIN.upper(),
                "ServiceName": service,
                "ServiceSid": f"{DOMAIN_SID}-1{len(service)}09",
                "TicketOptions": "0x40810000",
                "TicketEncryptionType": "0x12",
                "IpAddress": f"::ffff:{ip}",
                "IpPort": str(self.rng.randrange(49700, 64000)),
                "Status": "0x0",
                "LogonGuid": self.guid(),
                "TransmittedServices": "-",
            },
            task=14337,
            keywords=0x8020000000000000,
            process_id=652,
            thread_id=1844,
        )

    def share(self, host: str, t: datetime, user: str, src: str, share: str, rel: str) -> None:
        """Security 5145: a file on a network share was accessed from ``src``."""
        self.add(
            host,
            "sec",
            5145,
            t,
            {
                "SubjectUserSid": sid(user),
                "SubjectUserName": user,
                "SubjectDomainName": NETBIOS,
                "SubjectLogonId": self.logon_id(),
                "ObjectType": "File",
                "IpAddress": src,
                "IpPort": str(self.rng.randrange(49700, 64000)),
                "ShareName": f"\\\\*\\{share}",
                "ShareLocalPath": {"ADMIN$": "\\??\\C:\\Windows", "C$": "\\??\\C:\\"}.get(
                    share, f"\\??\\D:\\{share}"
                ),
                "RelativeTargetName": rel,
                "AccessMask": "0x2",
                "AccessList": "%%4417\n\t\t\t\t",
                "AccessReason": "-",
            },
            task=12811,
            keywords=0x8020000000000000,
        )

    def edr_row(self, host: str, t: datetime, table: str, action: str, props: dict[str, Any]) -> None:
        """One Defender for Endpoint advanced-hunting record (streaming API envelope)."""
        base: dict[str, Any] = {
            "Timestamp": t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
            "DeviceId": hashlib.sha1(f"dims-device:{host}".encode()).hexdigest(),
            "DeviceName": fqdn(host).lower(),
            "ActionType": action,
            "ReportId": self.next_seq(),
        }
        base.update(props)
        record = {
            "time": (t + timedelta(minutes=4)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z",
            "tenantId": "00000000-d1d5-4a11-9e7c-5a17e71c0001",
            "operationName": "Publish",
            "category": f"AdvancedHunting-{table}",
            "properties": dict(sorted(base.items())),
        }
        self.edr.append((t, self.next_seq(), record))
        self.mark(host, t)

    # -- Linux -------------------------------------------------------------------------------

    def authlog(self, host: str, t: datetime, prog: str, msg: str, *, journal: bool = False) -> None:
        """An auth.log line (RFC 3164, IST, no year); ``journal`` also puts it in the journal export.

        The exports are of the system units (``journalctl -o json``), not of sshd/sudo/cron, so that
        one logon is not counted twice by a reader of both files.
        """
        self.auth[host].append((t, self.next_seq(), f"{prog}: {msg}"))
        if journal:
            ident, _, pid = prog.partition("[")
            self.jentry(
                host,
                t,
                ident,
                msg.strip(),
                pid=pid.rstrip("]") or None,
                facility="10" if ident != "CRON" else "9",
            )
        self.mark(host, t)

    def jentry(
        self,
        host: str,
        t: datetime,
        ident: str,
        msg: str,
        *,
        pid: str | None = None,
        unit: str | None = None,
        priority: str = "6",
        facility: str | None = None,
    ) -> None:
        """A ``journalctl -o json`` entry."""
        e: dict[str, str] = {
            "__REALTIME_TIMESTAMP": str(int(t.timestamp()) * 1_000_000 + t.microsecond),
            "_BOOT_ID": self.boot[host],
            "_HOSTNAME": host.lower(),
            "PRIORITY": priority,
            "SYSLOG_IDENTIFIER": ident,
            "MESSAGE": msg,
            "_TRANSPORT": "syslog" if facility else "journal",
        }
        if facility:
            e["SYSLOG_FACILITY"] = facility
        if pid:
            e["_PID"] = pid
            e["SYSLOG_PID"] = pid
        if unit:
            e["UNIT"] = unit
            e["_SYSTEMD_UNIT"] = "init.scope"
            e["_PID"] = "1"
            e["_COMM"] = "systemd"
        self.journal[host].append((t, self.next_seq(), e))
        self.mark(host, t)

    def audit_exec(
        self,
        t: datetime,
        argv: list[str],
        *,
        auid: int,
        uid: int,
        exe: str,
        cwd: str,
        ppid: int,
        tty: str = "pts0",
        ses: int = 41,
        creates: str | None = None,
    ) -> None:
        """auditd records of one execve (SYSCALL, EXECVE, CWD, PATH, PROCTITLE; one serial)."""
        self.audit_serial += self.rng.randrange(3, 40)
        stamp = f"audit({int(t.timestamp())}.{t.microsecond // 1000:03d}:{self.audit_serial})"
        pid = self.rng.randrange(3000, 32000)
        comm = exe.rsplit("/", 1)[-1][:15]
        recs = [
            f"type=SYSCALL msg={stamp}: arch=c000003e syscall=59 success=yes exit=0 a0=55d0c3a1e2f0 "
            f"a1=55d0c3a1f410 a2=55d0c3a1c9a0 a3=8 items=2 ppid={ppid} pid={pid} auid={auid} uid={uid} "
            f"gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} sgid={uid} fsgid={uid} tty={tty} "
            f'ses={ses} comm="{comm}" exe="{exe}" subj=unconfined key="exec"',
            f"type=EXECVE msg={stamp}: argc={len(argv)} "
            + " ".join(_audit_arg(i, a) for i, a in enumerate(argv)),
            f'type=CWD msg={stamp}: cwd="{cwd}"',
            f'type=PATH msg={stamp}: item=0 name="{exe}" inode={self.rng.randrange(100000, 999999)} dev=08:01 '
            "mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0",
            f'type=PATH msg={stamp}: item=1 name="/lib64/ld-linux-x86-64.so.2" inode=1835 dev=08:01 '
            "mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0",
            f"type=PROCTITLE msg={stamp}: proctitle={chr(0).join(argv).encode().hex().upper()}",
        ]
        self.audit.append((t, self.next_seq(), recs))
        self.mark(ES01, t)
        if creates:
            self.audit_serial += 1
            t2 = t + timedelta(milliseconds=40)
            stamp = f"audit({int(t2.timestamp())}.{t2.microsecond // 1000:03d}:{self.audit_serial})"
            self.audit.append(
                (
                    t2,
                    self.next_seq(),
                    [
                        f"type=SYSCALL msg={stamp}: arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c "
                        f"a1=7ffd2c1b3e10 a2=241 a3=1b6 items=2 ppid={ppid} pid={pid} auid={auid} uid={uid} "
                        f"gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} sgid={uid} fsgid={uid} tty={tty} "
                        f'ses={ses} comm="{comm}" exe="{exe}" subj=unconfined key="note"',
                        f'type=CWD msg={stamp}: cwd="{cwd}"',
                        f'type=PATH msg={stamp}: item=0 name="{creates.rsplit("/", 1)[0]}/" inode=262147 '
                        "dev=08:01 mode=040755 ouid=112 ogid=117 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 "
                        "cap_fe=0 cap_fver=0",
                        f'type=PATH msg={stamp}: item=1 name="{creates}" inode=262199 dev=08:01 mode=0100644 '
                        "ouid=0 ogid=0 rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0",
                        f"type=PROCTITLE msg={stamp}: proctitle={chr(0).join(argv).encode().hex().upper()}",
                    ],
                )
            )

    def audit_user(self, t: datetime, kind: str, body: str) -> None:
        """A single auditd user-space record (USER_AUTH, USER_LOGIN, USER_CMD, ...)."""
        self.audit_serial += self.rng.randrange(2, 20)
        stamp = f"audit({int(t.timestamp())}.{t.microsecond // 1000:03d}:{self.audit_serial})"
        self.audit.append((t, self.next_seq(), [f"type={kind} msg={stamp}: {body}"]))
        self.mark(ES01, t)

    def fw(self, t: datetime, body: str) -> None:
        """A perimeter firewall line (RFC 5424, local time with its offset)."""
        self.firewall.append((t, self.next_seq(), body))
        self.mark("FW-EDGE01", t)


def _audit_arg(i: int, arg: str) -> str:
    """auditd quotes plain arguments and hex-encodes ones with spaces or quotes."""
    if any(c in arg for c in " \"'\\") or not arg.isprintable():
        return f"a{i}={arg.encode().hex().upper()}"
    return f'a{i}="{arg}"'


def sys_proc(host: str) -> Proc:
    """A stand-in parent for processes SYSTEM services start."""
    return Proc(
        host,
        684,
        "{4f1a0000-0000-0000-0000-00000000b0b0}",
        "C:\\Windows\\System32\\services.exe",
        "C:\\Windows\\system32\\services.exe",
        "NT AUTHORITY\\SYSTEM",
    )
