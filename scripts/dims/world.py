"""The hospital as data: hosts, accounts, addresses, clocks, log channels, and the attacker's texts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")
DOMAIN = "dims.local"
NETBIOS = "DIMS"
DOMAIN_SID = "S-1-5-21-3520047316-1844091202-2270551873"  # generated
SEED = 20221123
SYNTHETIC = "SYNTHETIC DEMO DATA - DIMS hospital ransomware case - not real"

# --- addresses outside the hospital (documentation ranges) -------------------------------------
ATTACKER_IP = "203.0.113.45"  # the RDP password spray and the entry
TOOL_IP = "198.51.100.23"  # where the toolkit and the Linux encryptor are downloaded from
EXFIL_IP = "192.0.2.77"  # the SFTP drop for the stolen backups
DIMS_PUBLIC_IP = "192.0.2.10"  # the hospital's NAT address
RANSOM_DOMAIN = "dimsrecover.example"
WINDOWS = "Windows Server 2019"
LINUX = "Linux (Ubuntu 22.04)"


@dataclass(frozen=True)
class Host:
    """One host of the hospital: name, address, system, what it does, how its clock is off."""

    name: str
    ip: str
    os: str
    role: str
    skew: timedelta = timedelta(0)  # how far the host's clock runs ahead of true time
    edr: bool = False  # Defender for Endpoint exports its events

    @property
    def zone(self) -> str:
        """The zone the manifest gives for the host's logs."""
        return "Asia/Kolkata" if self.os == LINUX else "India Standard Time (logs in UTC)"


HOSTS = (
    Host("WIN-TS01", "10.10.5.20", WINDOWS, "RDP jump host, published to the internet through the firewall's NAT"),
    Host("DC01", "10.10.1.10", WINDOWS, "domain controller of dims.local"),
    Host("EHOSP-DB01", "10.10.2.11", WINDOWS, "SQL Server of the e-Hospital application", edr=True),
    Host("EHOSP-DB02", "10.10.2.12", WINDOWS, "SQL Server, backups share", edr=True),
    Host("LIS-APP01", "10.10.3.21", WINDOWS, "laboratory information system", skew=timedelta(minutes=3, seconds=40)),
    Host("LNX-ES01", "10.10.7.31", LINUX, "Elasticsearch"),
    Host("LNX-BKP01", "10.10.7.40", LINUX, "backup server (pulls the nightly backups)"),
)  # fmt: skip
TS01, DC01, DB01, DB02, LIS, ES01, BKP01 = (h.name for h in HOSTS)
WIN_HOSTS = tuple(h.name for h in HOSTS if h.os == WINDOWS)
TARGETS = (DB01, DB02, LIS)  # the Windows servers the attacker encrypts
EDR_HOSTS = tuple(h.name for h in HOSTS if h.edr)
IP = {h.name: h.ip for h in HOSTS}
SKEW = {h.name: h.skew for h in HOSTS if h.skew}  # LIS-APP01 is not NTP-synced
CLIENT_NAMES = {  # the computer name an RDP client reports (WorkstationName of a type 10 logon)
    ATTACKER_IP: "DESKTOP-J4R8T2K",
    "10.10.5.20": "WIN-TS01",
    "10.10.9.15": "IT-WS15",
    "10.10.9.21": "IT-WS21",
}


@dataclass(frozen=True)
class Account:
    """A domain account: name, RID (its SID is the domain SID plus this), who uses it."""

    name: str
    rid: int
    who: str


ACCOUNTS = (
    Account("helpdesk01", 1107, "help desk; its weak password falls to the spray"),
    Account("adm.sharma", 1104, "domain admin; its credentials come out of the LSASS dump"),
    Account("it.rao", 1112, "IT administrator (SSH with keys, RDP from the IT subnet)"),
    Account("svc.backup", 1120, "runs the nightly SQL backups"),
    Account("svc.lis", 1121, "the lab application's service account"),
    Account("dims.svc", 1150, "the attacker's backdoor domain admin"),
)
USERS = {a.name: a.rid for a in ACCOUNTS}  # name -> RID

# names the spray tries: the hospital's real accounts first, then guesses that do not exist
SPRAY_ACCOUNTS = (
    "helpdesk01", "helpdesk02", "helpdesk03", "nurse.station1", "nurse.station2", "opd.reg1", "opd.reg2",
    "lab.tech1", "lab.tech2", "pharmacy1", "radiology1", "billing1", "billing2", "dr.mehta", "dr.iyer",
    "dr.khan", "dr.singh", "accounts1", "hr.desk", "it.rao", "adm.sharma", "reception1", "reception2",
    "emergency1", "icu.station", "store1", "mrd.clerk1", "mrd.clerk2", "canteen.pos", "security.desk",
)  # fmt: skip
SPRAY_GUESSES = ("admin", "test", "scanner", "backup", "user", "guest1", "sqladmin", "support", "demo", "ftp")

STANDIN_MARKER = "DIMS-SYNTHETIC-RANSOM-STANDIN-5c1e9a77"
LOCK_EXT = ".dims_locked"
NOTE_NAME = "README_TO_DECRYPT.txt"

# channel key -> channel name
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
# provider key -> (provider name, GUID)
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


def day_time(day: int, hms: str) -> datetime:
    """``ist`` that also accepts day numbers before November 1 (large mode)."""
    return ist(1, hms) + timedelta(days=day - 1)


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
