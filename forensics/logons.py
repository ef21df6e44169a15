"""The logon summary: successful and failed logons by host, account and source, first and last time.

Hayabusa's ``logon-summary`` reads Windows 4624/4625; a responder here also has RDP's own logs,
explicit-credential logons (4648), Linux sshd and EDR logon tables, so each kind of logon record is
one entry of ``SOURCES`` (data: which rows, which columns hold the account, domain, address,
workstation, logon type and failure reason). The summary is one set-based query: the sources'
rows in one ``UNION ALL``, grouped by (result, source, host, account, domain, address,
workstation, logon type, detail), with counts, first and last times and the failure reasons.

One logon can leave several records (an RDP logon writes 1149, 4624 type 10 and LSM 21): each
row says which record kind it counts (``source``), so nothing is counted twice within a row.
Logons by the system and machine accounts (SYSTEM, LOCAL SERVICE, DWM-1, HOST$, ...) are counted
apart (``LogonSummary.system_rows``), not dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from forensics.store import Case

Result = Literal["success", "failure", "explicit"]
RESULT_ORDER: tuple[Result, ...] = ("failure", "success", "explicit")

LOGON_TYPES = {
    "0": "0 System", "2": "2 Interactive", "3": "3 Network", "4": "4 Batch", "5": "5 Service",
    "7": "7 Unlock", "8": "8 NetworkCleartext", "9": "9 NewCredentials", "10": "10 RemoteInteractive",
    "11": "11 CachedInteractive", "12": "12 CachedRemoteInteractive", "13": "13 CachedUnlock",
}  # fmt: skip
# NTSTATUS codes of 4625's Status / SubStatus (Microsoft's documentation of event 4625)
FAILURE_REASONS = {
    "0xc000005e": "no logon servers", "0xc0000064": "no such user", "0xc000006a": "wrong password",
    "0xc000006d": "bad user name or password", "0xc000006e": "account restriction",
    "0xc000006f": "outside allowed hours", "0xc0000070": "workstation not allowed",
    "0xc0000071": "password expired", "0xc0000072": "account disabled", "0xc00000dc": "server in wrong state",
    "0xc0000133": "clocks out of sync", "0xc000015b": "logon type not granted", "0xc000018c": "trust failed",
    "0xc0000192": "netlogon not started", "0xc0000193": "account expired", "0xc0000224": "must change password",
    "0xc0000225": "Windows bug (not a risk)", "0xc0000234": "account locked out", "0xc00002ee": "an error occurred",
    "0xc0000413": "authentication firewall", "0xc0000371": "local account store lacks secret",
}  # fmt: skip
SYSTEM_ACCOUNTS = ("system", "local service", "network service", "anonymous logon", "-", "")
SYSTEM_PREFIXES = ("dwm-", "umfd-", "font driver host", "window manager")


@dataclass(frozen=True)
class LogonSource:
    """One kind of logon record: which rows, and which column (or SQL expression) holds each part.

    A column name in braces (``{TargetUserName}``) is read when the case has it, else NULL; a
    source whose ``needs`` columns are all absent is not queried.
    """

    name: str  # shown in the summary's "source" column
    where: str
    result: str  # SQL giving 'success' / 'failure' / 'explicit'
    account: str
    domain: str = "NULL"
    address: str = "NULL"
    workstation: str = "NULL"
    logon_type: str = "NULL"
    reason: str = "NULL"
    detail: str = "NULL"
    needs: tuple[str, ...] = ()


_SEC = "channel = 'Security' AND event_id = {eid}"
_LSM = "channel = 'Microsoft-Windows-TerminalServices-LocalSessionManager/Operational'"
_RCM = "channel = 'Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational'"

SOURCES: tuple[LogonSource, ...] = (
    LogonSource("4624", _SEC.format(eid=4624), "'success'", "{TargetUserName}", "{TargetDomainName}",
                "{IpAddress}", "{WorkstationName}", "{LogonType}", needs=("TargetUserName",)),
    LogonSource("4625", _SEC.format(eid=4625), "'failure'", "{TargetUserName}", "{TargetDomainName}",
                "{IpAddress}", "{WorkstationName}", "{LogonType}",
                reason="lower(CASE WHEN lower({SubStatus}) NOT IN ('0x0', '') THEN {SubStatus} ELSE {Status} END)",
                needs=("TargetUserName",)),
    LogonSource("4648", _SEC.format(eid=4648), "'explicit'", "{TargetUserName}", "{TargetDomainName}",
                "{IpAddress}", "{TargetServerName}",
                detail="'by ' || coalesce({SubjectDomainName} || '\\', '') || {SubjectUserName}",
                needs=("TargetUserName",)),
    LogonSource("RDP 1149", f"{_RCM} AND event_id = 1149", "'success'", "{Param1}", "{Param2}", "{Param3}",
                logon_type="'RDP authenticated'", needs=("Param1",)),
    LogonSource("RDP 21", f"{_LSM} AND event_id = 21", "'success'",
                "CASE WHEN contains({User}, '\\') THEN split_part({User}, '\\', 2) ELSE {User} END",
                "CASE WHEN contains({User}, '\\') THEN split_part({User}, '\\', 1) END", "{Address}",
                logon_type="'RDP session logon'", needs=("User",)),
    LogonSource("RDP 25", f"{_LSM} AND event_id = 25", "'success'",
                "CASE WHEN contains({User}, '\\') THEN split_part({User}, '\\', 2) ELSE {User} END",
                "CASE WHEN contains({User}, '\\') THEN split_part({User}, '\\', 1) END", "{Address}",
                logon_type="'RDP reconnect'", needs=("User",)),
    LogonSource("sshd", "provider = 'sshd' AND {action} IN ('accepted', 'failed')",
                "CASE WHEN {action} = 'accepted' THEN 'success' ELSE 'failure' END", "user_name",
                address="src_ip", logon_type="'ssh ' || coalesce({method}, '?')",
                reason="CASE WHEN {action} = 'failed' THEN CASE WHEN {invalid_user} = 'true' THEN 'no such user' "
                       "ELSE 'wrong ' || coalesce({method}, 'credentials') END END",
                needs=("action",)),
    LogonSource("Defender DeviceLogonEvents", "channel = 'DeviceLogonEvents' AND {ActionType} IN ('LogonSuccess', 'LogonFailed')",
                "CASE WHEN {ActionType} = 'LogonSuccess' THEN 'success' ELSE 'failure' END", "user_name",
                "user_domain", "src_ip", "{RemoteDeviceName}", "{LogonType}", reason="{FailureReason}",
                needs=("ActionType",)),
    LogonSource("CrowdStrike UserLogon", "channel IN ('UserLogon', 'UserLogonFailed', 'UserLogonFailed2')",
                "CASE WHEN channel = 'UserLogon' THEN 'success' ELSE 'failure' END", "user_name",
                "user_domain", "src_ip", logon_type="{LogonType}", needs=()),
)  # fmt: skip


@dataclass(frozen=True)
class LogonRow:
    """Logons of one account from one source address on one host, of one kind and result."""

    result: Result
    source: str  # the kind of record counted (LogonSource.name)
    host: str | None
    account: str | None
    domain: str | None
    address: str | None  # source IP address (None when the record names none or a local one)
    workstation: str | None  # the client's name (4648: the target server)
    logon_type: str | None
    detail: str | None
    count: int
    first_ts: datetime | None
    last_ts: datetime | None
    reasons: tuple[str, ...]  # failures: why, in words where the code is known

    @property
    def system(self) -> bool:
        """A logon by a system or machine account (counted apart from people's)."""
        return is_system_account(self.account)


@dataclass(frozen=True)
class LogonSummary:
    """The summary: people's logon rows, system/machine-account rows, and the sources queried."""

    rows: tuple[LogonRow, ...]
    system_rows: tuple[LogonRow, ...]
    sources: tuple[str, ...]  # the LogonSource names whose columns the case has

    def totals(self) -> dict[str, int]:
        """Logon records per result over the people's rows."""
        out: dict[str, int] = dict.fromkeys(RESULT_ORDER, 0)
        for r in self.rows:
            out[r.result] += r.count
        return out


def is_system_account(account: str | None) -> bool:
    """SYSTEM, LOCAL SERVICE, DWM-1, UMFD-0, a machine account (``HOST$``), or no account at all."""
    a = (account or "").strip().lower()
    return a in SYSTEM_ACCOUNTS or a.startswith(SYSTEM_PREFIXES) or a.endswith("$")


def _fill(expr: str, cols: dict[str, str]) -> str:
    """Replace ``{Column}`` by the quoted column when the case has it, else by a typed NULL."""
    out, i = [], 0
    while (j := expr.find("{", i)) >= 0:
        k = expr.index("}", j)
        name = expr[j + 1 : k]
        have = cols.get(name.lower())
        out.append(expr[i:j] + (f'CAST("{have}" AS VARCHAR)' if have else "CAST(NULL AS VARCHAR)"))
        i = k + 1
    return "".join(out) + expr[i:]


def _bounds(hosts: Sequence[str], since: datetime | None, until: datetime | None) -> str:
    """Extra WHERE terms: host (full or short name, any case) and time bounds (inclusive)."""
    terms = []
    if hosts:
        names = ", ".join("'" + h.lower().replace("'", "''") + "'" for h in hosts)
        terms.append(f"(lower(host) IN ({names}) OR lower(split_part(host, '.', 1)) IN ({names}))")
    if since is not None:
        terms.append(f"ts >= '{since.isoformat()}'::TIMESTAMPTZ")
    if until is not None:
        terms.append(f"ts <= '{until.isoformat()}'::TIMESTAMPTZ")
    return "".join(f" AND {t}" for t in terms)


def _select(src: LogonSource, cols: dict[str, str], rel: str = "events") -> str:
    f = lambda e: _fill(e, cols)  # noqa: E731
    return (
        f"SELECT {f(src.result)} AS result, '{src.name}' AS source, host, {f(src.account)} AS account, "
        f"{f(src.domain)} AS domain, {f(src.address)} AS address, {f(src.workstation)} AS workstation, "
        f"{f(src.logon_type)} AS logon_type, {f(src.reason)} AS reason, {f(src.detail)} AS detail, ts "
        f"FROM {rel} WHERE ({f(src.where)})"
    )


# core columns the sources read by name (the braced ones are natives, read when present)
_CORE_READ = ("host", "ts", "channel", "event_id", "provider", "user_name", "user_domain", "src_ip")


def _read(sources: Sequence[LogonSource], cols: dict[str, str]) -> list[str]:
    """The columns the sources read that the case has: the core ones and every braced native."""
    names = {n.lower() for n in _CORE_READ}
    for src in sources:
        for expr in (src.where, src.result, src.account, src.domain, src.address, src.workstation,
                     src.logon_type, src.reason, src.detail):  # fmt: skip
            names.update(m.lower() for m in re.findall(r"\{([^}]+)\}", expr))
    return sorted(cols[n] for n in names if n in cols)


def _clean(column: str) -> str:
    """'-', empty and loopback values mean "none" in logon records."""
    return f"CASE WHEN trim({column}) IN ('-', '', '::1', '127.0.0.1', 'LOCAL') THEN NULL ELSE trim({column}) END"


def summary_sql(
    case: Case,
    sources: Sequence[LogonSource] = SOURCES,
    *,
    hosts: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[str, list[str]]:
    """The summary query over the sources the case has (and the host / time bounds), and their names."""
    cols = {c.lower(): c for c in case.events_view().columns}
    used = [s for s in sources if all(n.lower() in cols for n in s.needs)]
    if not used:
        return "", []
    bounds = _bounds(hosts, since, until)
    # one scan: the rows any source counts, with the columns the sources read; then each source's
    # rows from those (seven scans of every part file cost seven times as much)
    wanted = " OR ".join(f"({_fill(s.where, cols)})" for s in used)
    read = ", ".join('"' + c.replace('"', '""') + '"' for c in _read(used, cols))
    union = "\nUNION ALL ".join(_select(s, cols, "ev") for s in used)
    sql = f"""
        WITH ev AS MATERIALIZED (SELECT {read} FROM events WHERE ({wanted}){bounds}),
        l AS ({union}),
        g AS (
            SELECT result, source, host, {_clean("account")} AS account, {_clean("domain")} AS domain,
                   {_clean("address")} AS address, {_clean("workstation")} AS workstation,
                   nullif(trim(logon_type), '') AS logon_type, detail,
                   count(*) AS n, min(ts) AS first_ts, max(ts) AS last_ts,
                   list_sort(list_distinct(list(reason) FILTER (WHERE reason IS NOT NULL))) AS reasons
            FROM l GROUP BY ALL
        )
        SELECT * FROM g
        ORDER BY CASE result WHEN 'failure' THEN 0 WHEN 'success' THEN 1 ELSE 2 END, n DESC,
                 host NULLS LAST, account NULLS LAST, address NULLS LAST, source, workstation NULLS LAST,
                 logon_type NULLS LAST, detail NULLS LAST
    """
    return sql, [s.name for s in used]


def logon_summary(
    case: Case, *, hosts: Sequence[str] = (), since: datetime | None = None, until: datetime | None = None
) -> LogonSummary:
    """Successful, failed and explicit-credential logons of the case, grouped (see the module doc)."""
    sql, names = summary_sql(case, hosts=hosts, since=since, until=until)
    if not sql:
        return LogonSummary((), (), ())
    case.con.execute("SET TimeZone = 'UTC'")
    rows = [_row(r) for r in case.con.execute(sql).fetchall()]
    return LogonSummary(
        tuple(r for r in rows if not r.system), tuple(r for r in rows if r.system), tuple(names)
    )


def _row(r: tuple[object, ...]) -> LogonRow:
    (result, source, host, account, domain, address, workstation, ltype, detail, n, first, last, reasons) = r
    return LogonRow(
        result=result,  # type: ignore[arg-type]
        source=str(source), host=_s(host), account=_s(account), domain=_s(domain), address=_s(address),
        workstation=_s(workstation), logon_type=LOGON_TYPES.get(str(ltype), _s(ltype)), detail=_s(detail),
        count=int(n),  # type: ignore[call-overload]
        first_ts=first, last_ts=last,  # type: ignore[arg-type]
        reasons=tuple(FAILURE_REASONS.get(str(x), str(x)) for x in (reasons or [])),  # type: ignore[attr-defined]
    )  # fmt: skip


def _s(v: object) -> str | None:
    return None if v is None else str(v)
