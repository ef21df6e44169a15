"""The everyday activity around the incident: what the hospital's systems log on a normal day.

Service and machine logons, routine processes and Defender updates on every Windows host; admin RDP
from the IT subnet, the nightly SQL backups, cron, SSH with keys and logrotate on the named hosts;
ordinary outbound web on the firewall. None of it must raise a high-severity finding. In large mode
(``Options.large``) each slot also gets browser activity, for benchmark volume.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from .recorder import Options, Proc, Recorder, sys_proc
from .world import (
    BKP01,
    DB01,
    DB02,
    DC01,
    DIMS_PUBLIC_IP,
    ES01,
    IP,
    LIS,
    NETBIOS,
    TS01,
    WIN_HOSTS,
    day_time,
    fqdn,
    ist,
)


def benign(c: Recorder) -> None:
    """Everyday activity that must not raise high-severity findings."""
    c.step = None
    for day in background_days(c.opts):
        _benignday_time(c, day)
    _benignday_time(c, 23, until="09:10:00")


def background_days(opts: Options) -> list[int]:
    """November day numbers of benign background, oldest first (can go below 1 in large mode)."""
    return [22 - d for d in range(opts.days - 1, -1, -1)]


def _benignday_time(c: Recorder, day: int, until: str = "23:59:59") -> None:
    limit = day_time(day, until)

    def ok(t: datetime) -> bool:
        return t <= limit

    windows_background(c, day, WIN_HOSTS, limit)
    _site_background(c, day, ok)


def windows_background(c: Recorder, day: int, hosts: tuple[str, ...], limit: datetime) -> None:
    """Service logons, machine logons at DC01, routine processes and Defender updates."""

    def ok(t: datetime) -> bool:
        return t <= limit

    for host in hosts:
        for slot in range(0, 24 * 60, 60):
            t = day_time(day, f"{slot // 60:02d}:{slot % 60:02d}:{c.rng.randrange(0, 59):02d}")
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
            t = day_time(day, hms)
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


def _site_background(c: Recorder, day: int, ok: Callable[[datetime], bool]) -> None:
    """The named hosts' routine: time-service warnings, admin RDP, backups, cron, SSH."""
    _time_service(c, day, ok)
    _admin_rdp(c, day, ok)
    _nightly_sql_backups(c, day, ok)
    for host in (ES01, BKP01):  # Linux: cron hourly, the nightly backup pull, and admins' SSH logins
        _linux_routine(c, day, host, ok)


def _time_service(c: Recorder, day: int, ok: Callable[[datetime], bool]) -> None:
    """LIS-APP01's time service complains (a hint at the skew)."""
    t = day_time(day, "08:00:00")
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


def _admin_rdp(c: Recorder, day: int, ok: Callable[[datetime], bool]) -> None:
    """Admin RDP from the IT subnet (10.10.9.0/24)."""
    for host, user, ip, start, stop, sess in (
        (TS01, "it.rao", "10.10.9.15", "10:05:12", "10:48:30", 2),
        (TS01, "adm.sharma", "10.10.9.21", "15:20:44", "16:02:10", 4),
        (DC01, "adm.sharma", "10.10.9.21", "15:31:05", "15:44:50", 3),
    ):
        t = day_time(day, start)
        if not ok(t):
            continue
        c.rdp(host, t, user, ip, admin=user.startswith("adm"), session=sess)
        c.rdp_end(host, day_time(day, stop), user, ip, sess)


def _nightly_sql_backups(c: Recorder, day: int, ok: Callable[[datetime], bool]) -> None:
    """Nightly SQL backups on the DB servers (01:00) with a legitimate shadow listing."""
    for host in (DB01, DB02):
        t = day_time(day, "01:00:03")
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


def _linux_routine(c: Recorder, day: int, host: str, ok: Callable[[datetime], bool]) -> None:
    """Hourly cron, the nightly backup pull (LNX-BKP01), it.rao's SSH login and logrotate on one host."""
    for hour in range(24):
        t = day_time(day, f"{hour:02d}:17:01")
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
    t = day_time(day, "01:30:01")
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
    t = day_time(day, "11:42:19")
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
    t = day_time(day, "06:25:01")
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


def firewall_noise(c: Recorder) -> None:
    """Ordinary outbound web and the IT VPN on the firewall."""
    c.step = None
    for day in (22, 23):
        for i in range(0, 24 * 60, 20):
            t = day_time(day, f"{i // 60:02d}:{i % 60:02d}:{c.rng.randrange(60):02d}")
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
