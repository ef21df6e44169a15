"""The vocabulary the scenario is written in, and the player that turns it into log records.

Each action is a frozen dataclass saying what happened (a process ran, someone logged on over
RDP, a share was read, a log was cleared), on which host, by whom and when. ``Player.play`` turns
one action into the records the hospital's systems would have written, through the ``Recorder``.
Processes an action starts can be named (``bind``) and named again later as a parent or actor;
values drawn at random (``NEW_GUID``, ``NEW_LOGON_ID``) are drawn when the action plays, in order,
so the same scenario and seed always give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from .recorder import Proc, Recorder, StepLog, sys_proc
from .world import (
    ATTACKER_IP,
    DIMS_PUBLIC_IP,
    IP,
    LOCK_EXT,
    NETBIOS,
    NOTE_NAME,
    fake_hashes,
    fqdn,
    sid,
    sysmon_hashes,
)

# --- values drawn or looked up when an action plays ---------------------------------------------


@dataclass(frozen=True)
class Draw:
    """A random value drawn when the action plays: a GUID ("{...}"), a bare GUID, or a logon id."""

    kind: str  # guid | guid_bare | logon_id


NEW_GUID = Draw("guid")
NEW_GUID_BARE = Draw("guid_bare")
NEW_LOGON_ID = Draw("logon_id")


@dataclass(frozen=True)
class Ref:
    """A value bound earlier by name; ``attr`` reads one field of a bound process (as text)."""

    name: str
    attr: str | None = None


Actor = str | Proc | None  # a bound process name, a literal process, or nobody (the kernel)

# --- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A process starts (Sysmon 1, Security 4688 unless ``security`` is off, Defender on its hosts)."""

    host: str
    at: datetime
    image: str
    cmd: str
    user: str
    parent: Actor = None
    bind: str | None = None
    cwd: str = "C:\\Windows\\system32\\"
    integrity: str = "High"
    hashes: dict[str, str] | None = None
    security: bool = True


@dataclass(frozen=True)
class Shell:
    """A command shell runs commands one after another: (seconds after ``at``, image, command line)."""

    host: str
    at: datetime
    user: str
    parent: Actor
    commands: tuple[tuple[int, str, str], ...]
    cwd: str = "C:\\Windows\\system32\\"


@dataclass(frozen=True)
class PowerShellScript:
    """PowerShell script-block logging (4104) of one block run by ``proc``."""

    host: str
    at: datetime
    proc: str
    text: str
    user: str


@dataclass(frozen=True)
class Sysmon:
    """Any other Sysmon event; values may be ``Ref`` to bound processes."""

    host: str
    eid: int
    at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class Connect:
    """A process opens a TCP connection (Sysmon 3, Defender on its hosts)."""

    host: str
    at: datetime
    proc: str
    dst: str
    port: int
    src_port: int | None = None


@dataclass(frozen=True)
class WriteFile:
    """A process writes (or renames to) a file (Sysmon 11, Defender on its hosts)."""

    host: str
    at: datetime
    proc: Actor
    path: str
    edr_action: str = "FileCreated"
    previous: str | None = None


@dataclass(frozen=True)
class Logon:
    """A Windows logon (4624, and 4672 for an admin)."""

    host: str
    at: datetime
    user: str
    logon_type: int
    source: str
    admin: bool = False
    domain: str = NETBIOS
    auth: str = "Kerberos"
    workstation: str = "-"


@dataclass(frozen=True)
class RdpLogon:
    """An RDP session starts (1149, 4624 type 10, LSM 21/22); ``bind`` names its explorer.exe."""

    host: str
    at: datetime
    user: str
    source: str
    admin: bool
    session: int
    bind: str | None = None


@dataclass(frozen=True)
class RdpLogoff:
    """An RDP session ends (LSM 24/23, 4634)."""

    host: str
    at: datetime
    user: str
    source: str
    session: int


@dataclass(frozen=True)
class ExplicitCredentials:
    """Credentials used explicitly towards a server (4648)."""

    host: str
    at: datetime
    subject: str
    target_user: str
    server: str
    server_ip: str
    process: str


@dataclass(frozen=True)
class ServiceTicket:
    """DC01 issues a Kerberos service ticket (4769)."""

    at: datetime
    user: str
    service: str
    client_ip: str


@dataclass(frozen=True)
class ShareAccess:
    """A file on a network share is reached from another host (5145)."""

    host: str
    at: datetime
    user: str
    source: str
    share: str
    path: str


@dataclass(frozen=True)
class Event:
    """One Windows record spelled out: channel key, event id, EventData (or UserData) and System fields."""

    host: str
    channel: str
    eid: int
    at: datetime
    data: dict[str, Any] | None = None
    provider: str | None = None
    user_data: tuple[str, dict[str, Any]] | None = None
    level: int | None = None
    system: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NatRdp:
    """The perimeter firewall lets an RDP connection from the internet through to WIN-TS01."""

    at: datetime
    sent: int
    received: int
    duration: int


@dataclass(frozen=True)
class Firewall:
    """One perimeter firewall traffic line (the key=value body)."""

    at: datetime
    body: str


@dataclass(frozen=True)
class AuthLog:
    """One auth.log line (``journal``: also in the journal export)."""

    host: str
    at: datetime
    program: str
    message: str
    journal: bool = False


@dataclass(frozen=True)
class Journal:
    """One ``journalctl -o json`` entry."""

    host: str
    at: datetime
    ident: str
    message: str
    pid: str | None = None
    unit: str | None = None
    priority: str = "6"
    facility: str | None = None


@dataclass(frozen=True)
class AuditExec:
    """auditd records of one execve on LNX-ES01 (``creates``: and the file it then creates)."""

    at: datetime
    argv: tuple[str, ...]
    auid: int
    uid: int
    exe: str
    cwd: str
    ppid: int
    creates: str | None = None


@dataclass(frozen=True)
class AuditUser:
    """One auditd user-space record on LNX-ES01 (USER_AUTH, USER_LOGIN, USER_CMD, ...)."""

    at: datetime
    kind: str
    body: str


@dataclass(frozen=True)
class Bind:
    """Name a value drawn now (a GUID, a logon id) for actions that follow."""

    name: str
    value: Draw


@dataclass(frozen=True)
class Repeat:
    """The same action ``times`` times, ``every`` apart."""

    times: int
    every: timedelta
    action: Any


@dataclass(frozen=True)
class PasswordSpray:
    """Failed network logons (4625) against ``host`` from ``source``, cycling through account names.

    Attempt i comes ``every`` seconds after the previous one plus a random fraction of a second;
    every ``firewall_every``-th attempt also shows as an accepted RDP flow on the firewall.
    """

    host: str
    source: str
    accounts: tuple[str, ...]
    guesses: tuple[str, ...]  # names that do not exist (SubStatus "no such user")
    start: datetime
    attempts: int
    every: int
    firewall_every: int


@dataclass(frozen=True)
class SshBruteForce:
    """Failed SSH password logons for one account, with PAM's failure lines and sshd's closes."""

    host: str
    source: str
    user: str
    start: datetime
    attempts: int
    every: int
    first_pid: int
    first_port: int


@dataclass(frozen=True)
class PsExec:
    """PsExec from ``source`` to ``target``: the client, the network logon, ADMIN$, the PSEXESVC service.

    ``bind`` names the service process (the parent of what PsExec then runs on the target).
    """

    source: str
    target: str
    at: datetime
    user: str
    command: str  # what PsExec is asked to run (its command line's tail)
    parent: Actor
    hashes: dict[str, str]
    bind: str


@dataclass(frozen=True)
class RemoteTask:
    """A scheduled task created on ``target`` from ``source`` with schtasks, and its run at ``run_at``.

    ``bind`` names the task engine (svchost.exe -s Schedule) that starts the action.
    """

    source: str
    target: str
    at: datetime
    run_at: datetime
    user: str
    parent: Actor
    name: str
    command: str
    arguments: str
    start_time: str  # the /st value and the trigger's time of day
    bind: str


@dataclass(frozen=True)
class Encrypt:
    """The encryptor runs on ``host``: a note in each folder, then its files renamed to ``.dims_locked``.

    How many files depends on the generation options (``encrypt_files``); they are spread over
    ``span`` seconds. Every fifth file's original is archived by Sysmon (event 23).
    """

    host: str
    at: datetime
    image: str
    cmd: str
    user: str
    parent: Actor
    hashes: dict[str, str]
    folders: tuple[str, ...]
    span: int


@dataclass(frozen=True)
class ClearEventLogs:
    """wevtutil clears Security then System (1102, 104); the records before are gone from the host."""

    host: str
    at: datetime
    user: str
    parent: Actor
    by: tuple[str, str]  # (account, domain) the clearing events name
    by_sid: str


@dataclass(frozen=True)
class LogTruncated:
    """A Linux log was emptied at ``at`` (the lines before are gone from the collected file)."""

    host: str
    log: str
    at: datetime


# --- the scenario's shape ----------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of the incident: what, ATT&CK, the actions, and how its records can be found."""

    number: int
    title: str
    attack: tuple[str, ...]
    actions: tuple[Any, ...]
    evidence: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Aside:
    """Actions between steps that belong to none (the tools reaching DC01 over the clipboard, ...)."""

    actions: tuple[Any, ...]


# --- the player --------------------------------------------------------------------------------


class Player:
    """Plays actions into a recorder; keeps the names actions bind."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.bound: dict[str, Any] = {}

    # values
    def value(self, v: Any) -> Any:
        """A data value with draws drawn and references looked up (dicts in their key order)."""
        if isinstance(v, Draw):
            if v.kind == "logon_id":
                return self.rec.logon_id()
            g = self.rec.guid()
            return g.strip("{}") if v.kind == "guid_bare" else g
        if isinstance(v, Ref):
            got = self.bound[v.name]
            return got if v.attr is None else str(getattr(got, v.attr))
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        return v

    def actor(self, a: Actor) -> Proc | None:
        """A parent or actor: a bound process by name, a literal one, or None."""
        if isinstance(a, str):
            proc = self.bound[a]
            assert isinstance(proc, Proc), a
            return proc
        return a

    def bind(self, name: str | None, value: Any) -> None:
        if name is not None:
            self.bound[name] = value

    # scenes
    def scene(self, s: Step | Aside) -> None:
        """Play one step (its records attributed to it) or one aside (attributed to none)."""
        if isinstance(s, Step):
            log = self.rec.steps.setdefault(s.number, StepLog(s.number, s.title, s.attack))
            self.rec.step = log
            for what in s.evidence:
                if what not in log.evidence:
                    log.evidence.append(dict(what))
        else:
            self.rec.step = None
        for a in s.actions:
            self.play(a)

    def play(self, a: Any) -> None:
        """Play one action."""
        PLAYS[type(a)](self, a)


def _run(p: Player, a: Run) -> None:
    proc = p.rec.proc(a.host, a.at, a.image, a.cmd, a.user, p.actor(a.parent), hashes=a.hashes,
                      integrity=a.integrity, cwd=a.cwd, security=a.security)  # fmt: skip
    p.bind(a.bind, proc)


def _shell(p: Player, a: Shell) -> None:
    shell = p.rec.proc(a.host, a.at, "C:\\Windows\\System32\\cmd.exe", '"C:\\Windows\\system32\\cmd.exe" ', a.user,
                       p.actor(a.parent), cwd=a.cwd)  # fmt: skip
    for dt, image, line in a.commands:
        p.rec.proc(a.host, a.at + timedelta(seconds=dt), image, line, a.user, shell, cwd=a.cwd)


def _ps_script(p: Player, a: PowerShellScript) -> None:
    proc = p.actor(a.proc)
    assert proc is not None
    data: dict[str, str | None] = {"MessageNumber": "1", "MessageTotal": "1", "ScriptBlockText": a.text,
            "ScriptBlockId": p.rec.guid().strip("{}"), "Path": ""}  # fmt: skip
    p.rec.add(a.host, "ps", 4104, a.at, data, level=5, task=2, opcode=15, keywords=0x0, process_id=proc.pid,
              thread_id=4410, user_id=sid(a.user))  # fmt: skip


def _sysmon(p: Player, a: Sysmon) -> None:
    p.rec.sysmon(a.host, a.eid, a.at, p.value(a.data))


def _connect(p: Player, a: Connect) -> None:
    proc = p.actor(a.proc)
    assert proc is not None
    p.rec.net(a.host, a.at, proc, a.dst, a.port, src_port=a.src_port)


def _write_file(p: Player, a: WriteFile) -> None:
    proc = p.actor(a.proc)
    assert proc is not None
    p.rec.file(a.host, a.at, proc, a.path, edr_action=a.edr_action, previous=a.previous)


def _logon(p: Player, a: Logon) -> None:
    p.rec.logon(a.host, a.at, a.user, a.logon_type, a.source, domain=a.domain, auth=a.auth, admin=a.admin,
                workstation=a.workstation)  # fmt: skip


def _rdp_logon(p: Player, a: RdpLogon) -> None:
    p.bind(a.bind, p.rec.rdp(a.host, a.at, a.user, a.source, admin=a.admin, session=a.session))


def _rdp_logoff(p: Player, a: RdpLogoff) -> None:
    p.rec.rdp_end(a.host, a.at, a.user, a.source, a.session)


def _explicit(p: Player, a: ExplicitCredentials) -> None:
    p.rec.explicit_creds(a.host, a.at, a.subject, a.target_user, a.server, a.server_ip, a.process)


def _ticket(p: Player, a: ServiceTicket) -> None:
    p.rec.kerberos_ticket(a.at, a.user, a.service, a.client_ip)


def _share(p: Player, a: ShareAccess) -> None:
    p.rec.share(a.host, a.at, a.user, a.source, a.share, a.path)


def _event(p: Player, a: Event) -> None:
    data = p.value(a.data) if a.data is not None else None
    user_data = (a.user_data[0], p.value(a.user_data[1])) if a.user_data is not None else None
    system = {k: p.value(v) for k, v in a.system.items()}
    p.rec.add(a.host, a.channel, a.eid, a.at, data, prov=a.provider, user_data=user_data, level=a.level,
              **system)  # fmt: skip


def _nat_rdp(p: Player, a: NatRdp) -> None:
    p.rec.fw(
        a.at,
        f'type="traffic" subtype="forward" level="notice" action="accept" policyid=12 '
        f'policyname="NAT-RDP-JUMPHOST" srcip={ATTACKER_IP} srcport={p.rec.rng.randrange(40000, 65000)} '
        f'srcintf="wan1" dstip={DIMS_PUBLIC_IP} dstport=3389 dstintf="dmz" tranip={IP["WIN-TS01"]} tranport=3389 '
        f'proto=6 service="RDP" duration={a.duration} sentbyte={a.sent} rcvdbyte={a.received} srccountry="Reserved"',
    )


def _firewall(p: Player, a: Firewall) -> None:
    p.rec.fw(a.at, a.body)


def _authlog(p: Player, a: AuthLog) -> None:
    p.rec.authlog(a.host, a.at, a.program, a.message, journal=a.journal)


def _journal(p: Player, a: Journal) -> None:
    p.rec.jentry(
        a.host, a.at, a.ident, a.message, pid=a.pid, unit=a.unit, priority=a.priority, facility=a.facility
    )


def _audit_exec(p: Player, a: AuditExec) -> None:
    p.rec.audit_exec(a.at, list(a.argv), auid=a.auid, uid=a.uid, exe=a.exe, cwd=a.cwd, ppid=a.ppid,
                     creates=a.creates)  # fmt: skip


def _audit_user(p: Player, a: AuditUser) -> None:
    p.rec.audit_user(a.at, a.kind, a.body)


def _bind(p: Player, a: Bind) -> None:
    p.bind(a.name, p.value(a.value))


def _repeat(p: Player, a: Repeat) -> None:
    for i in range(a.times):
        p.play(replace(a.action, at=a.action.at + i * a.every))


def _spray(p: Player, a: PasswordSpray) -> None:
    names = a.accounts + a.guesses
    for i in range(a.attempts):
        user = names[i % len(names)]
        t = a.start + timedelta(seconds=i * a.every, microseconds=p.rec.rng.randrange(0, 900000))
        p.rec.add(
            a.host, "sec", 4625, t,
            {
                "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "SubjectDomainName": "-",
                "SubjectLogonId": "0x0", "TargetUserSid": "S-1-0-0", "TargetUserName": user,
                "TargetDomainName": NETBIOS, "Status": "0xc000006d", "FailureReason": "%%2313",
                "SubStatus": "0xc0000064" if user in a.guesses else "0xc000006a", "LogonType": "3",
                "LogonProcessName": "NtLmSsp ", "AuthenticationPackageName": "NTLM", "WorkstationName": "-",
                "TransmittedServices": "-", "LmPackageName": "-", "KeyLength": "0", "ProcessId": "0x0",
                "ProcessName": "-", "IpAddress": a.source, "IpPort": str(p.rec.rng.randrange(40000, 65000)),
            },
            task=12544, keywords=0x8010000000000000, process_id=648, thread_id=5120,
        )  # fmt: skip
        if i % a.firewall_every == 0:
            _nat_rdp(p, NatRdp(t, sent=2100 + i, received=3900 + i, duration=58))


def _ssh_brute_force(p: Player, a: SshBruteForce) -> None:
    for i in range(a.attempts):
        ti = a.start + timedelta(seconds=i * a.every, microseconds=p.rec.rng.randrange(0, 900000))
        pid = a.first_pid + i // 3 * 7
        port = a.first_port + i * 3
        prog = f"sshd[{pid}]"
        if i % 3 == 0:
            p.rec.authlog(a.host, ti - timedelta(milliseconds=300), prog,
                          "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= "
                          f"rhost={a.source}  user={a.user}")  # fmt: skip
        p.rec.authlog(a.host, ti, prog, f"Failed password for {a.user} from {a.source} port {port} ssh2")
        if i % 3 == 2:
            p.rec.authlog(a.host, ti + timedelta(milliseconds=200), prog,
                          f"Connection closed by authenticating user {a.user} {a.source} port {port} [preauth]")  # fmt: skip


def _psexec(p: Player, a: PsExec) -> None:
    rec, t, target = p.rec, a.at, a.target
    account = a.user.partition("\\")[2]
    client = rec.proc(a.source, t, "C:\\PerfLogs\\PsExec64.exe", f"PsExec64.exe  -accepteula \\\\{target} {a.command}",
                      a.user, p.actor(a.parent), hashes=a.hashes, cwd="C:\\PerfLogs\\")  # fmt: skip
    rec.explicit_creds(a.source, t + timedelta(milliseconds=100), account, account, fqdn(target), IP[target],
                       "C:\\PerfLogs\\PsExec64.exe")  # fmt: skip
    rec.net(a.source, t + timedelta(milliseconds=120), client, IP[target], 445)
    rec.logon(target, t + timedelta(milliseconds=150), account, 3, IP[a.source], admin=True)
    rec.share(target, t + timedelta(milliseconds=700), account, IP[a.source], "ADMIN$", "PSEXESVC.exe")
    svc_t = t + timedelta(seconds=1)
    rec.add(target, "sys", 7045, svc_t,
            {"ServiceName": "PSEXESVC", "ImagePath": "%SystemRoot%\\PSEXESVC.exe", "ServiceType": "user mode service",
             "StartType": "demand start", "AccountName": "LocalSystem"},
            prov="scm", qualifiers=16384, keywords=0x8080000000000000, process_id=684, thread_id=3320,
            user_id=sid(account))  # fmt: skip
    rec.add(target, "sec", 4697, svc_t + timedelta(milliseconds=5),
            {"SubjectUserSid": sid(account), "SubjectUserName": account, "SubjectDomainName": NETBIOS,
             "SubjectLogonId": rec.logon_id(), "ServiceName": "PSEXESVC",
             "ServiceFileName": "%SystemRoot%\\PSEXESVC.exe", "ServiceType": "0x10", "ServiceStartType": "3",
             "ServiceAccount": "LocalSystem"},
            task=12289, keywords=0x8020000000000000)  # fmt: skip
    svc = rec.proc(target, svc_t + timedelta(milliseconds=300), "C:\\Windows\\PSEXESVC.exe",
                   "C:\\Windows\\PSEXESVC.exe", "NT AUTHORITY\\SYSTEM", sys_proc(target), hashes=a.hashes)  # fmt: skip
    p.bind(a.bind, svc)
    for n, suffix in enumerate(("stdin", "stdout", "stderr")):
        rec.sysmon(target, 17, svc_t + timedelta(milliseconds=500 + n),
                   {"EventType": "CreatePipe", "ProcessGuid": svc.guid, "ProcessId": str(svc.pid),
                    "PipeName": f"\\PSEXESVC-{a.source}-{client.pid}-{suffix}", "Image": svc.image,
                    "User": "NT AUTHORITY\\SYSTEM"})  # fmt: skip


def _remote_task(p: Player, a: RemoteTask) -> None:
    rec, t, account = p.rec, a.at, a.user.partition("\\")[2]
    action = f"{a.command} {a.arguments}"
    rec.proc(a.source, t, "C:\\Windows\\System32\\schtasks.exe",
             f'schtasks  /create /s {a.target} /ru SYSTEM /tn "{a.name}" /tr "{action}" /sc once /st {a.start_time} /f',
             a.user, p.actor(a.parent))  # fmt: skip
    content = (
        '<?xml version="1.0" encoding="UTF-16"?>\n<Task version="1.2" '
        'xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">\n  <RegistrationInfo>\n'
        f"    <Author>{a.user}</Author>\n    <URI>{a.name}</URI>\n  </RegistrationInfo>\n"
        f"  <Triggers>\n    <TimeTrigger>\n      <StartBoundary>2022-11-23T{a.start_time}:00</StartBoundary>\n"
        "      <Enabled>true</Enabled>\n    </TimeTrigger>\n  </Triggers>\n  <Principals>\n"
        '    <Principal id="Author">\n      <UserId>S-1-5-18</UserId>\n      <RunLevel>HighestAvailable</RunLevel>'
        '\n    </Principal>\n  </Principals>\n  <Actions Context="Author">\n    <Exec>\n'
        f"      <Command>{a.command}</Command>\n"
        f"      <Arguments>{a.arguments}</Arguments>\n    </Exec>\n  </Actions>\n</Task>"
    )
    rec.add(a.target, "sec", 4698, t + timedelta(milliseconds=800),
            {"SubjectUserSid": sid(account), "SubjectUserName": account, "SubjectDomainName": NETBIOS,
             "SubjectLogonId": rec.logon_id(), "TaskName": a.name, "TaskContent": content,
             "ClientProcessStartKey": "0", "ClientProcessId": "0", "ParentProcessId": "0",
             "RpcCallClientLocality": "0", "FQDN": fqdn(a.source)},
            task=12804, keywords=0x8020000000000000)  # fmt: skip
    engine: dict[str, Any] = {"process_id": 1340, "thread_id": 2200, "user_id": "S-1-5-18"}
    rec.add(a.target, "task", 106, t + timedelta(milliseconds=850), {"TaskName": a.name, "UserContext": a.user},
            prov="task", task=106, keywords=0x8000000000000000, **engine)  # fmt: skip
    instance = rec.guid()
    rec.add(a.target, "task", 129, a.run_at,
            {"TaskName": a.name, "Path": a.command, "ProcessID": "5520", "Priority": "7"},
            prov="task", task=129, keywords=0x8000000000000000, **engine)  # fmt: skip
    rec.add(a.target, "task", 200, a.run_at + timedelta(milliseconds=3),
            {"TaskName": a.name, "ActionName": a.command, "TaskInstanceId": instance, "EnginePID": "5520"},
            prov="task", task=200, opcode=1, keywords=0x8000000000000000, **engine)  # fmt: skip
    p.bind(a.bind, Proc(a.target, 1340, rec.guid(), "C:\\Windows\\System32\\svchost.exe",
                        "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule", "NT AUTHORITY\\SYSTEM"))  # fmt: skip


def victim_name(folder: str, j: int) -> str:
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
        stem = stems[j % len(stems)]
        return f"{stem}{'' if j < len(stems) else j}.{'ldf' if 'log' in stem else 'mdf'}"
    if "Backup" in folder:
        return f"eHospital_FULL_202211{21 - j % 20:02d}_{j:03d}.bak"
    if "LIS" in folder:
        return f"LR-2022-11-{22 - j % 20:02d}-{j:05d}.hl7"
    return f"report_{j:04d}.{('pdf', 'xlsx', 'docx', 'csv')[j % 4]}"


def _encrypt(p: Player, a: Encrypt) -> None:
    rec, t = p.rec, a.at
    enc = rec.proc(a.host, t, a.image, a.cmd, a.user, p.actor(a.parent), hashes=a.hashes,
                   cwd="C:\\Windows\\system32\\")  # fmt: skip
    n = 0
    per = max(1, rec.opts.encrypt_files // len(a.folders))
    span = a.span / (per * len(a.folders) + len(a.folders))
    for folder in a.folders:
        rec.file(a.host, t + timedelta(seconds=1 + n * span), enc, f"{folder}\\{NOTE_NAME}")
        n += 1
        for j in range(per):
            name = victim_name(folder, j)
            ti = t + timedelta(seconds=1 + n * span)
            rec.file(a.host, ti, enc, f"{folder}\\{name}{LOCK_EXT}", edr_action="FileRenamed", previous=name)
            if j % 5 == 0:
                rec.sysmon(a.host, 23, ti + timedelta(milliseconds=4),
                           {"ProcessGuid": enc.guid, "ProcessId": str(enc.pid), "User": a.user, "Image": enc.image,
                            "TargetFilename": f"{folder}\\{name}", "Hashes": sysmon_hashes(fake_hashes(name)),
                            "IsExecutable": "false", "Archived": "true"})  # fmt: skip
            n += 1


def _clear_logs(p: Player, a: ClearEventLogs) -> None:
    rec = p.rec
    parent = p.actor(a.parent)
    for k, (ch, log) in enumerate((("sec", "Security"), ("sys", "System"))):
        tk = a.at + timedelta(seconds=k * 2)
        rec.proc(a.host, tk, "C:\\Windows\\System32\\wevtutil.exe", f"wevtutil.exe  cl {log}", a.user, parent,
                 security=False)  # fmt: skip
        cleared = tk + timedelta(milliseconds=400)
        rec.clear_time[(a.host, ch)] = cleared
        if ch == "sec":
            rec.add(a.host, "sec", 1102, cleared, prov="eventlog",
                    user_data=("LogFileCleared", {"SubjectUserSid": a.by_sid, "SubjectUserName": a.by[0],
                                                  "SubjectDomainName": a.by[1], "SubjectLogonId": rec.logon_id()}),
                    task=104, keywords=0x4020000000000000, process_id=1264, thread_id=3012)  # fmt: skip
        else:
            rec.add(a.host, "sys", 104, cleared, prov="eventlog",
                    user_data=("LogFileCleared", {"SubjectUserName": a.by[0], "SubjectDomainName": a.by[1],
                                                  "Channel": "System", "BackupPath": None}),
                    task=104, keywords=0x8000000000000000, process_id=1264, thread_id=3012,
                    user_id="S-1-5-18")  # fmt: skip


def _truncated(p: Player, a: LogTruncated) -> None:
    p.rec.clear_time[(a.host, a.log)] = a.at


PLAYS: dict[type, Any] = {
    Run: _run, Shell: _shell, PowerShellScript: _ps_script, Sysmon: _sysmon, Connect: _connect,
    WriteFile: _write_file, Logon: _logon, RdpLogon: _rdp_logon, RdpLogoff: _rdp_logoff,
    ExplicitCredentials: _explicit, ServiceTicket: _ticket, ShareAccess: _share, Event: _event, NatRdp: _nat_rdp,
    Firewall: _firewall, AuthLog: _authlog, Journal: _journal, AuditExec: _audit_exec, AuditUser: _audit_user,
    Bind: _bind, Repeat: _repeat, PasswordSpray: _spray, SshBruteForce: _ssh_brute_force, PsExec: _psexec,
    RemoteTask: _remote_task, Encrypt: _encrypt, ClearEventLogs: _clear_logs, LogTruncated: _truncated,
}  # fmt: skip


def action_names() -> list[str]:
    """The vocabulary, for the scenario's readers: every action type and its fields."""
    return [f"{t.__name__}({', '.join(f.name for f in fields(t))})" for t in PLAYS]
