"""Event-id metrics: how many events of each id each host and channel recorded, first and last time.

What Hayabusa's ``eid-metrics`` and ``computer-metrics`` show, in one grouped query over the case:
per (host, channel, event id) the count, its share of that host's channel, and the time span, with
a short title for well-known Windows event ids. Records without an event id (syslog, EDR tables)
are counted per host, channel and program (``provider``: sshd, sudo, CRON, ...) under a null id, so
every event is in the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from forensics.census import census
from forensics.store import Case

# Titles of event ids responders read every day (Microsoft's and Sysinternals' documentation),
# keyed by (channel, event id).
_SEC = "Security"
_SYS = "System"
_SYSMON = "Microsoft-Windows-Sysmon/Operational"
_PS = "Microsoft-Windows-PowerShell/Operational"
_LSM = "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"
_RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"
TITLES: dict[tuple[str, int], str] = {
    (_SEC, 1102): "Security log cleared", (_SEC, 4608): "Windows starting up", (_SEC, 4616): "System time changed",
    (_SEC, 4624): "Logon success", (_SEC, 4625): "Logon failure", (_SEC, 4634): "Logoff",
    (_SEC, 4647): "User-initiated logoff", (_SEC, 4648): "Explicit-credential logon",
    (_SEC, 4656): "Handle to an object requested", (_SEC, 4657): "Registry value modified",
    (_SEC, 4663): "Object access attempt", (_SEC, 4672): "Special privileges assigned to new logon",
    (_SEC, 4688): "Process created", (_SEC, 4689): "Process exited", (_SEC, 4697): "Service installed",
    (_SEC, 4698): "Scheduled task created", (_SEC, 4699): "Scheduled task deleted",
    (_SEC, 4700): "Scheduled task enabled", (_SEC, 4702): "Scheduled task updated",
    (_SEC, 4719): "Audit policy changed", (_SEC, 4720): "User account created",
    (_SEC, 4722): "User account enabled", (_SEC, 4724): "Password reset attempt",
    (_SEC, 4725): "User account disabled", (_SEC, 4726): "User account deleted",
    (_SEC, 4728): "Member added to global security group", (_SEC, 4732): "Member added to local security group",
    (_SEC, 4738): "User account changed", (_SEC, 4740): "User account locked out",
    (_SEC, 4756): "Member added to universal security group", (_SEC, 4768): "Kerberos TGT requested",
    (_SEC, 4769): "Kerberos service ticket requested", (_SEC, 4771): "Kerberos pre-authentication failed",
    (_SEC, 4776): "NTLM credential validation", (_SEC, 4778): "Session reconnected",
    (_SEC, 4779): "Session disconnected", (_SEC, 4798): "Local group membership enumerated",
    (_SEC, 4799): "Security-enabled local group enumerated", (_SEC, 5140): "Network share accessed",
    (_SEC, 5145): "Network share object checked", (_SEC, 5156): "Connection allowed (WFP)",
    (_SYS, 104): "Event log cleared", (_SYS, 7034): "Service crashed", (_SYS, 7036): "Service state changed",
    (_SYS, 7040): "Service start type changed", (_SYS, 7045): "Service installed",
    (_SYSMON, 1): "Process created", (_SYSMON, 2): "File creation time changed", (_SYSMON, 3): "Network connection",
    (_SYSMON, 4): "Sysmon state changed", (_SYSMON, 5): "Process terminated", (_SYSMON, 6): "Driver loaded",
    (_SYSMON, 7): "Image loaded", (_SYSMON, 8): "Remote thread created", (_SYSMON, 9): "Raw disk read",
    (_SYSMON, 10): "Process accessed", (_SYSMON, 11): "File created", (_SYSMON, 12): "Registry object added or deleted",
    (_SYSMON, 13): "Registry value set", (_SYSMON, 14): "Registry object renamed", (_SYSMON, 15): "Alternate data stream created",
    (_SYSMON, 16): "Sysmon configuration changed", (_SYSMON, 17): "Pipe created", (_SYSMON, 18): "Pipe connected",
    (_SYSMON, 19): "WMI filter", (_SYSMON, 20): "WMI consumer", (_SYSMON, 21): "WMI consumer bound to filter",
    (_SYSMON, 22): "DNS query", (_SYSMON, 23): "File deleted (archived)", (_SYSMON, 24): "Clipboard changed",
    (_SYSMON, 25): "Process tampering", (_SYSMON, 26): "File deleted", (_SYSMON, 29): "Executable file detected",
    (_PS, 4103): "PowerShell module logging", (_PS, 4104): "PowerShell script block",
    (_LSM, 21): "RDP session logon", (_LSM, 22): "RDP shell start", (_LSM, 23): "RDP session logoff",
    (_LSM, 24): "RDP session disconnected", (_LSM, 25): "RDP session reconnected",
    (_RCM, 1149): "RDP user authenticated",
}  # fmt: skip


@dataclass(frozen=True)
class EidMetric:
    """Events of one id on one host and channel."""

    host: str | None
    channel: str | None
    event_id: int | None
    program: str | None  # for records without an event id: the program that wrote them
    title: str | None
    count: int
    share: float  # of the host's events in this channel, 0..1
    first_ts: datetime | None
    last_ts: datetime | None


@dataclass(frozen=True)
class HostMetric:
    """Events of one host: total, channels, first and last time (Hayabusa's computer metrics)."""

    host: str | None
    count: int
    channels: int
    event_ids: int
    first_ts: datetime | None
    last_ts: datetime | None


def eid_metrics(case: Case, hosts: Sequence[str] = ()) -> list[EidMetric]:
    """Per host, channel and event id: count, share of the channel, time span (from the census of
    the events, ``forensics.census``: counted once for these, the host metrics and the coverage)."""
    rows = case.con.execute(
        f"""
        SELECT host, channel, event_id, program, CAST(sum(cnt) AS BIGINT) AS n, min(first_ts), max(last_ts),
               sum(cnt) / sum(sum(cnt)) OVER (PARTITION BY host, channel) AS share
        FROM {census(case)} {_where(hosts)}
        GROUP BY host, channel, event_id, program
        ORDER BY host NULLS LAST, channel NULLS LAST, n DESC, event_id NULLS LAST, program NULLS LAST
        """
    ).fetchall()
    return [
        EidMetric(
            host=h, channel=ch, event_id=eid, program=prog,
            title=TITLES.get((ch, eid)) if ch and eid is not None else None,
            count=int(n), share=float(share), first_ts=first, last_ts=last,
        )
        for h, ch, eid, prog, n, first, last, share in rows
    ]  # fmt: skip


def host_metrics(case: Case, hosts: Sequence[str] = ()) -> list[HostMetric]:
    """Per host: events, channels and distinct event ids, first and last time (from the census)."""
    rows = case.con.execute(
        f"""
        SELECT host, CAST(sum(cnt) AS BIGINT) AS n, count(DISTINCT channel), count(DISTINCT (channel, event_id)),
               min(first_ts), max(last_ts)
        FROM {census(case)} {_where(hosts)}
        GROUP BY host ORDER BY n DESC, host NULLS LAST
        """
    ).fetchall()
    return [HostMetric(h, int(n), int(c), int(e), first, last) for h, n, c, e, first, last in rows]


def _where(hosts: Sequence[str]) -> str:
    """Host filter: full or short name, case-insensitive."""
    if not hosts:
        return ""
    names = ", ".join("'" + h.lower().replace("'", "''") + "'" for h in hosts)
    return f"WHERE lower(host) IN ({names}) OR lower(split_part(host, '.', 1)) IN ({names})"
