"""The story of the incident: phases, patient zero, lateral movement, IOCs, impact, what held.

``build_story(case)`` reads findings and events and answers the investigating officer's questions:

* phases — the findings grouped by ATT&CK tactic, in kill-chain order, each with its time span;
* patient zero and the entry point — the first successful logon from an outside (globally
  routable) address and its target; without one, the first host with a finding (medium or
  above) that is not a network device or log collector (a firewall's log names the attacker
  first, but the firewall is not the victim);
* the lateral-movement path — the hops out of patient zero, host by host, each taken only from
  a host already reached (routine traffic of machine accounts ``NAME$`` is no lateral movement);
* lateral movement — edges source host → target host with account, method and time, derived
  from events: 4624 type 10 (RDP) / type 3 (network) with ``IpAddress``, 4648 ``TargetServerName``,
  TerminalServices 1149, 5145 share access, 7045 ``PSEXESVC`` and sshd ``Accepted``;
* IOC sightings — first and last sighting of each indicator from ``ioc`` findings;
* impact — hosts with encryption, shadow-copy deletion, recovery disabled or service stops;
* what did not fall — brute forces (many failures from one source against one host) that never
  got a success from that source, and the hosts they targeted that were never reached;
* cleared logs — Security 1102 / System 104 and log-tampering commands per host, with what
  survives elsewhere (a forwarded copy).

Hosts are named once whatever the source's spelling (``forensics.hostnames.HostNames``).
Times are clock-corrected with the offsets ``forensics.integrity`` estimates; UTC with IST beside.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from forensics.attack import TACTIC_NAMES, phase_rank, technique_name
from forensics.hostnames import HostNames, case_hosts, norm_ip, short_host, usable_ip
from forensics.hunt.findings import Finding, read_findings
from forensics.integrity import Integrity, assess, col, event_columns, host_ip_map, settle
from forensics.store import Case
from forensics.timeutil import iso_ist, iso_utc, parse_iso_utc

BRUTE_MIN_FAILURES = 10
PSEXEC_LINK_WINDOW = timedelta(minutes=2)  # a 7045 PSEXESVC and the network logon that caused it
_SSH_ACCEPT = re.compile(r"Accepted (\S+) for (\S+) from (\S+) port", re.IGNORECASE)
_SSH_FAIL = re.compile(r"(?:Failed \S+ for (?:invalid user )?|Invalid user )(\S+) from (\S+)", re.IGNORECASE)
IMPACT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("shadow copy deletion", re.compile(
        r"vssadmin(\.exe)?\s+(delete\s+shadows|resize\s+shadowstorage)|shadowcopy\s+delete|"
        r"win32_shadowcopy.*delete|wbadmin(\.exe)?\s+delete", re.IGNORECASE)),
    ("recovery disabled", re.compile(
        r"bcdedit.*(recoveryenabled\s+no|bootstatuspolicy\s+ignoreallfailures)", re.IGNORECASE)),
    ("service stop", re.compile(
        r"\b(net1?|sc)(\.exe)?\s+stop\b|stop-service\b|taskkill(\.exe)?\s.*\b(sql|veeam|backup|exchange)",
        re.IGNORECASE)),
    ("encryption", re.compile(
        r"[._-](locked|encrypted|crypted|crypt|enc)$|(decrypt|ransom|restore[_-]?(my[_-]?)?files|recover[_-]?files)"
        r"[^\\/]*\.(txt|html?|hta)$", re.IGNORECASE)),
)  # fmt: skip
# Firewalls, routers, proxies and log collectors: their logs name the attacker, they are not the victim.
NETWORK_DEVICE_RE = re.compile(
    r"(^|[-_.])(fw|firewall|rtr|router|switch|vpn|gw|gateway|proxy|waf|asa|fortigate|pfsense|siem|wec|collector|"
    r"loghost|syslog)(\d*)([-_.]|$)",
    re.IGNORECASE,
)
TRAFFIC_LOG_SQL = r"regexp_matches(message, '(?i)\b(srcip|src)=\S+.*\b(dstip|dst)=\S+')"
BACKUP_HOST_RE = re.compile(r"(bkp|backup|bak|veeam|nas|vault)", re.IGNORECASE)
IMPACT_TECHNIQUES: dict[str, str] = {
    "T1486": "encryption", "T1490": "shadow copy deletion", "T1489": "service stop",
    "T1485": "data destruction", "T1491": "defacement", "T1529": "shutdown / reboot",
}  # fmt: skip
_4648_METHODS: tuple[tuple[str, str], ...] = (
    ("psexec", "SMB/PsExec"), ("wmic", "WMI"), ("wmiprvse", "WMI"), ("mstsc", "RDP"),
    ("winrs", "WinRM"), ("wsmprovhost", "WinRM"), ("powershell", "WinRM"), ("pwsh", "WinRM"),
)  # fmt: skip


def _u(dt: datetime | None) -> str | None:
    return iso_utc(dt) if dt is not None else None


def _i(dt: datetime | None) -> str | None:
    return iso_ist(dt) if dt is not None else None


def is_external(ip: str | None) -> bool:
    """True for a globally routable address (not private, loopback, link-local or documentation)."""
    if not ip or not usable_ip(ip):
        return False
    try:
        addr = ipaddress.ip_address(norm_ip(ip))
    except ValueError:
        return False
    # documentation ranges (TEST-NET) are what examples and exercises use for "the internet"
    doc = any(addr in ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))
    return doc or addr.is_global


@dataclass
class Story:
    """The incident, as the story section of the report and ``forensics story`` tell it."""

    span: dict[str, Any] = field(default_factory=dict)
    phases: list[dict[str, Any]] = field(default_factory=list)
    patient_zero: dict[str, Any] | None = None
    entry_point: dict[str, Any] | None = None
    first_finding: dict[str, Any] | None = None
    lateral: list[dict[str, Any]] = field(default_factory=list)
    path: list[dict[str, Any]] = field(default_factory=list)
    iocs: list[dict[str, Any]] = field(default_factory=list)
    impact: list[dict[str, Any]] = field(default_factory=list)
    brute_force: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    cleared: list[dict[str, Any]] = field(default_factory=list)
    clock_offsets_s: dict[str, float] = field(default_factory=dict)

    @property
    def did_not_fall(self) -> list[dict[str, Any]]:
        """Brute forces that never succeeded."""
        return [b for b in self.brute_force if not b["succeeded"]]

    @property
    def attack_phases(self) -> list[dict[str, Any]]:
        """Phases with an ATT&CK tactic (indicator matches without one are listed apart)."""
        return [p for p in self.phases if p["tactic"] != UNMAPPED]

    @property
    def indicator_matches(self) -> dict[str, Any] | None:
        """The findings no tactic fits (IOC and YARA matches), or None."""
        return next((p for p in self.phases if p["tactic"] == UNMAPPED), None)

    @property
    def encrypted_hosts(self) -> list[str]:
        """Hosts with encryption among their impact, in order of first encryption."""
        return [h["host"] for h in self.impact if any(k["what"] == "encryption" for k in h["kinds"])]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "span": self.span, "phases": self.phases, "patient_zero": self.patient_zero,
            "entry_point": self.entry_point, "first_finding": self.first_finding, "lateral_movement": self.lateral,
            "lateral_path": self.path, "iocs": self.iocs, "impact": self.impact,
            "encrypted_hosts": self.encrypted_hosts, "brute_force": self.brute_force,
            "did_not_fall": self.did_not_fall, "held": self.held, "cleared_logs": self.cleared,
            "clock_offsets_s": self.clock_offsets_s,
        }  # fmt: skip

    def render_text(self) -> str:
        """The story as plain text for the terminal."""
        return "\n".join(_render_lines(self))


def _render_lines(s: Story) -> list[str]:
    out = ["INCIDENT STORY", ""]
    if s.span:
        out.append(f"Span: {s.span['first_utc']} .. {s.span['last_utc']} UTC ({s.span['hosts']} hosts, "
                   f"{s.span['findings']} findings)")  # fmt: skip
    if s.patient_zero:
        out.append(f"Patient zero: {s.patient_zero['host']} ({s.patient_zero['reason']})")
    if s.entry_point:
        e = s.entry_point
        out.append(f"Entry point: {e['method']} logon by {e['account']} from {e['source_ip']} to {e['host']} "
                   f"at {e['ts_utc']} (IST {e['ts_ist']})" + (f", after {e['preceded_by']}" if e.get("preceded_by")
                                                              else ""))  # fmt: skip
    if s.first_finding:
        f = s.first_finding
        out.append(f"First finding: [{f['level']}] {f['title']} on {f['host']} at {f['ts_utc']}")
    if s.encrypted_hosts:
        out.append(f"Encrypted hosts: {', '.join(s.encrypted_hosts)}")
    if s.held:
        out.append("Held: " + "; ".join(f"{h['host']}{' (backup server)' if h['backup'] else ''} was attacked and "
                                        "never fell" for h in s.held))  # fmt: skip
    out += _render_path(s)
    out += ["", "Phases (ATT&CK order):"]
    for p in s.attack_phases:
        out.append(f"  {p['name']:<22} {p['first_utc']} .. {p['last_utc']}  hosts={', '.join(p['hosts'])}  "
                   f"findings={p['findings']}  {', '.join(p['techniques'])}")  # fmt: skip
    ind = s.indicator_matches
    if ind:
        out += ["", f"Indicator matches (IOC lists, YARA; no ATT&CK tactic): {ind['findings']} findings, "
                    f"{ind['first_utc']} .. {ind['last_utc']}, hosts={', '.join(ind['hosts']) or '-'}"]  # fmt: skip
    out += ["", "Lateral movement:"]
    for e in s.lateral:
        out.append(f"  {e['first_utc']}  {e['source']} -> {e['target']}  {e['method']}  account={e['account']}  "
                   f"x{e['count']}")  # fmt: skip
    out += ["", "IOC sightings:"]
    for i in s.iocs:
        out.append(
            f"  {i['value']}  first {i['first_utc']}  last {i['last_utc']}  hosts={', '.join(i['hosts'])}"
        )
    out += ["", "Impact:"]
    for h in s.impact:
        kinds = "; ".join(f"{k['what']} from {k['first_utc']} (x{k['count']})" for k in h["kinds"])
        out.append(f"  {h['host']}: {kinds}")
    out += ["", "Brute force:"]
    for b in s.brute_force:
        verdict = (
            f"SUCCEEDED at {b['success_utc']} as {b['success_account']}"
            if b["succeeded"]
            else "never succeeded"
        )
        out.append(f"  {b['source']} -> {b['target']}: {b['failures']} failures on {b['accounts']} accounts, "
                   f"{b['first_utc']} .. {b['last_utc']}: {verdict}")  # fmt: skip
    if s.held:
        out += ["", "What held (attacked, never fell):"]
        for h in s.held:
            out.append(f"  {h['host']}{' (backup server)' if h['backup'] else ''}: {h['how']}; never fell: "
                       "no logon from the attacker succeeded and no finding shows it compromised")  # fmt: skip
    out += _render_cleared(s)
    if s.clock_offsets_s:
        out += [
            "",
            "Clock offsets applied (s): " + ", ".join(f"{h} {o:+.1f}" for h, o in s.clock_offsets_s.items()),
        ]
    return out


def _render_path(s: Story) -> list[str]:
    if not s.path:
        return []
    out = ["", "Lateral-movement path (from patient zero, clock-corrected UTC):"]
    for hop in s.path:
        arrow = "-x" if hop.get("failed") else "->"
        out.append(f"  {hop['first_utc']}  {hop['source']} {arrow} {hop['target']}  {', '.join(hop['methods'])}"
                   f"  as {', '.join(hop['accounts']) or '?'}" + ("  (failed)" if hop.get("failed") else ""))  # fmt: skip
    return out


def _render_cleared(s: Story) -> list[str]:
    if not s.cleared:
        return []
    out = ["", "Cleared logs (gaps in the hosts' own logs, clock-corrected UTC):"]
    for h in s.cleared:
        parts = [f"{c['channel']} cleared at {c['ts_utc']} by {c['by'] or '?'}" for c in h["clears"]]
        parts += [f"{t['command']} at {t['ts_utc']}" for t in h["commands"]]
        line = f"  {h['host']}: " + "; ".join(parts)
        if h["survivors"]:
            line += f"; {h['survivors']} earlier events survive in {', '.join(h['survivor_files'])}"
        out.append(line)
    return out


# ---- building --------------------------------------------------------------------------------
UNMAPPED = "unmapped"


class _Clock:
    """Applies the per-host offsets: corrected = recorded - offset (any spelling of the host)."""

    def __init__(self, integ: Integrity, names: HostNames) -> None:
        self.offsets = integ.offsets
        self.names = names

    def fix(self, host: str | None, ts: datetime | None) -> datetime | None:
        """The corrected time of an event recorded at ``ts`` on ``host``."""
        if ts is None:
            return None
        off = self.offsets.get(self.names.display(host) or "", self.offsets.get(host or "", 0.0))
        return ts - timedelta(seconds=off)


def build_story(
    case: Case,
    integrity: Integrity | None = None,
    *,
    findings: Sequence[Finding] | None = None,
    run: str | None = None,
) -> Story:
    """Build the story of the case (findings + events), clock-corrected.

    ``findings`` are those of hunt run ``run`` (None: the latest), read here when not given;
    ``integrity`` is assessed here when not given.
    """
    settle(case)
    integ = integrity if integrity is not None else assess(case)
    names = HostNames.from_case(case)
    clock = _Clock(integ, names)
    if findings is None:
        findings = read_findings(case, run)
    # each host under its display name (the finding ids stay those of the stored findings)
    findings = [replace(f, host=names.display(f.host)) for f in findings]
    story = Story(clock_offsets_s={names.display(h) or h: o for h, o in sorted(integ.offsets.items())})
    story.span = _span(case, findings, clock)
    story.phases = _phases(findings, clock)
    story.first_finding = _first_finding(findings, clock)
    ipmap = {ip: names.display(h) or h for ip, h in host_ip_map(case).items()}
    hosts = case_hosts(case)
    story.brute_force = _brute_force(case, clock, ipmap, names)
    story.entry_point = _entry_point(case, clock, names, story.brute_force)
    story.patient_zero = _patient_zero(story.entry_point, findings, clock, _network_devices(case, names))
    story.lateral = _lateral(case, clock, ipmap, hosts, findings, names)
    story.iocs = _iocs(findings, clock)
    story.impact = _impact(case, findings, clock, names)
    story.path = _path(story)
    story.held = _held(story, findings)
    story.cleared = _cleared(case, integ, clock, names)
    return story


def _span(case: Case, findings: list[Finding], clock: _Clock) -> dict[str, Any]:
    rows = case.con.execute(
        "SELECT host, min(ts), max(ts) FROM _fx_events WHERE ts IS NOT NULL GROUP BY host ORDER BY host"
    ).fetchall()
    if not rows:
        return {}
    lo = min(t for t in (clock.fix(h, a) for h, a, _ in rows) if t)
    hi = max(t for t in (clock.fix(h, b) for h, _, b in rows) if t)
    return {
        "first_utc": _u(lo), "last_utc": _u(hi), "first_ist": _i(lo), "last_ist": _i(hi),
        "hosts": len({clock.names.display(h) for h, _, _ in rows if h}), "findings": len(findings),
        "by_level": {lv: n for lv in ("critical", "high", "medium", "low", "informational")
                     if (n := sum(1 for f in findings if f.level == lv))},
    }  # fmt: skip


def _phases(findings: list[Finding], clock: _Clock) -> list[dict[str, Any]]:
    """Findings per ATT&CK tactic in kill-chain order; those no tactic fits last, as ``unmapped``."""
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        for t in f.tactic_names or [UNMAPPED]:
            groups[t].append(f)
    out = []
    for tactic in sorted(groups, key=lambda t: (phase_rank(t), t)):
        fs = groups[tactic]
        firsts = [x for x in (clock.fix(f.host, f.first_ts) for f in fs) if x]
        lasts = [x for x in (clock.fix(f.host, f.last_ts or f.first_ts) for f in fs) if x]
        techs = sorted({t for f in fs for t in f.techniques})
        name = TACTIC_NAMES.get(tactic, "Indicator matches (no ATT&CK tactic)")
        out.append({
            "tactic": tactic, "name": name,
            "first_utc": _u(min(firsts)) if firsts else None, "last_utc": _u(max(lasts)) if lasts else None,
            "first_ist": _i(min(firsts)) if firsts else None,
            "hosts": sorted({f.host for f in fs if f.host}), "findings": len(fs),
            "kinds": sorted({f.kind or "" for f in fs}),
            "techniques": techs, "technique_names": [technique_name(t) for t in techs],
            "titles": sorted({f.title or f.rule_id or "" for f in fs})[:10],
        })  # fmt: skip
    return out


def _first_finding(findings: list[Finding], clock: _Clock) -> dict[str, Any] | None:
    """The earliest finding of level medium or above (any level when there is none)."""
    timed = [f for f in findings if f.first_ts]
    serious = [f for f in timed if f.rank >= 2] or timed
    if not serious:
        return None
    f = min(serious, key=lambda f: (clock.fix(f.host, f.first_ts), f.finding_id))
    ts = clock.fix(f.host, f.first_ts)
    return {
        "finding_id": f.finding_id, "title": f.title, "level": f.level, "host": f.host,
        "ts_utc": _u(ts), "ts_ist": _i(ts), "tactics": f.tactic_names, "attack": f.techniques,
    }  # fmt: skip


def _entry_point(
    case: Case, clock: _Clock, names: HostNames, brute: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The first successful logon (Windows 4624 type 3/10, sshd Accepted) from an outside address."""
    cands: list[tuple[datetime, str, dict[str, Any]]] = []
    for e in _logons(case):
        if is_external(e["ip"]):
            ts = clock.fix(e["host"], e["ts"])
            if ts is not None:
                cands.append((ts, names.display(e["host"]) or "", e))
    if not cands:
        return None
    ts, host, e = min(cands, key=lambda c: (c[0], c[1], c[2]["ref"]))
    before = next(
        (b for b in brute if b["succeeded"] and b["source_ip"] == e["ip"] and b["target"] == host), None
    )
    preceded = (
        f"a {'password spray' if before['accounts'] > 3 else 'brute force'} of {before['failures']} failed logons "
        f"on {before['accounts']} accounts from {before['first_utc']}"
        if before
        else None
    )
    return {
        "host": host, "ts_utc": _u(ts), "ts_ist": _i(ts), "account": e["user"], "source_ip": e["ip"],
        "method": e["method"], "input_sha256": e["ref"][0], "rec_index": e["ref"][1], "preceded_by": preceded,
    }  # fmt: skip


def _network_devices(case: Case, names: HostNames) -> set[str]:
    """Hosts that only carry traffic or collect logs: named so, or writing traffic records."""
    rows = case.con.execute(
        f"SELECT host, count(*), count(*) FILTER (WHERE {TRAFFIC_LOG_SQL}) FROM _fx_events "
        "WHERE host IS NOT NULL GROUP BY host ORDER BY host"
    ).fetchall()
    out: set[str] = set()
    for host, n, traffic in rows:
        if NETWORK_DEVICE_RE.search(short_host(host)) or traffic * 2 > n:
            out.add(names.display(host) or host)
    return out


def _patient_zero(
    entry: dict[str, Any] | None, findings: list[Finding], clock: _Clock, network: set[str]
) -> dict[str, Any] | None:
    """The first compromised host: the entry point's target, else the first host with a finding."""
    if entry:
        return {"host": entry["host"], "ts_utc": entry["ts_utc"],
                "reason": f"target of the entry point: first external logon, {entry['method']} from "
                          f"{entry['source_ip']}"}  # fmt: skip
    cands = [
        f for f in findings
        if f.first_ts and f.host and f.host not in network and f.rank >= 2
    ]  # fmt: skip
    if not cands:
        return None
    f = min(cands, key=lambda f: (clock.fix(f.host, f.first_ts), f.finding_id))
    ts = clock.fix(f.host, f.first_ts)
    return {"host": f.host, "reason": f"first host with a finding: {f.title}", "ts_utc": _u(ts)}


def _logons(case: Case) -> list[dict[str, Any]]:
    """Successful remote logons: 4624 type 3 / 10 with a usable client IP, sshd Accepted lines."""
    cols = event_columns(case)
    out: list[dict[str, Any]] = []
    q = f"""
        SELECT host, ts, coalesce({col(cols, "TargetUserName")}, user_name),
               coalesce({col(cols, "IpAddress")}, src_ip), CAST({col(cols, "LogonType")} AS VARCHAR),
               input_sha256, rec_index
        FROM _fx_events WHERE event_id = 4624 AND channel = 'Security' AND CAST({col(cols, "LogonType")} AS VARCHAR) IN ('3', '10')
        ORDER BY ts, host, input_sha256, rec_index
    """
    for host, ts, user, ip, lt, sha, idx in case.con.execute(q).fetchall():
        if usable_ip(ip):
            out.append({"host": host, "ts": ts, "user": user, "ip": norm_ip(ip),
                        "method": "RDP" if lt == "10" else "network", "ref": (sha, idx)})  # fmt: skip
    for host, ts, msg, sha, idx in case.con.execute(
        "SELECT host, ts, message, input_sha256, rec_index FROM _fx_events "
        "WHERE message ILIKE '%Accepted % for % from %' ORDER BY ts, host, input_sha256, rec_index"
    ).fetchall():
        m = _SSH_ACCEPT.search(msg or "")
        if m:
            out.append({"host": host, "ts": ts, "user": m.group(2), "ip": norm_ip(m.group(3)), "method": "SSH",
                        "ref": (sha, idx)})  # fmt: skip
    return out


def _lateral(
    case: Case, clock: _Clock, ipmap: dict[str, str], hosts: dict[str, str], findings: list[Finding],
    names: HostNames,
) -> list[dict[str, Any]]:  # fmt: skip
    """Aggregated lateral-movement edges, earliest first (machine accounts' routine traffic left out)."""
    involved = {f.host for f in findings if f.host and f.rank >= 2}

    def name(ip_or_host: str | None) -> str:
        """Host name for an IP (learnt from the logs) or a host's display name.

        An outside address stays an address: the workstation name an attacker's client
        announces is the attacker's to choose.
        """
        if not ip_or_host:
            return "(unknown)"
        s = ip_or_host.strip()
        if usable_ip(s) and is_external(s):
            return norm_ip(s)
        if usable_ip(s) and norm_ip(s) in ipmap:
            return ipmap[norm_ip(s)]
        return hosts.get(short_host(s), s)

    raw: list[
        tuple[str, str, str, str, datetime | None, str | None]
    ] = []  # src, dst, account, method, ts, ip
    for e in _logons(case):
        src = name(e["ip"])
        if e["method"] == "network" and not (src in involved or is_external(e["ip"])):
            continue  # type-3 logons are everyday traffic; keep those from hosts already in the story
        method = {"network": "SMB/network logon"}.get(e["method"], e["method"])
        raw.append((src, e["host"], e["user"] or "", method, clock.fix(e["host"], e["ts"]), e["ip"]))
    raw += _explicit_cred_edges(case, clock, name)
    raw += _rdp_1149_edges(case, clock, name)
    raw += _share_and_service_edges(case, clock, name)
    edges: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for src0, dst0, acct, method, ts, ip in raw:
        src, dst = names.display(src0) or src0, names.display(dst0) or dst0
        if short_host(src) == short_host(dst) or acct.endswith("$"):
            continue  # a host's own account (NAME$) talking to a DC is the domain at work
        key = (src, dst, acct.lower(), method)
        e = edges.setdefault(key, {"source": src, "target": dst, "account": acct, "method": method,
                                   "source_ip": ip, "first": ts, "last": ts, "count": 0})  # fmt: skip
        e["count"] += 1
        if ts is not None:
            e["first"] = ts if e["first"] is None else min(e["first"], ts)
            e["last"] = ts if e["last"] is None else max(e["last"], ts)
    out = []
    for e in sorted(
        edges.values(), key=lambda e: (_u(e["first"]) or "~", e["source"], e["target"], e["method"])
    ):
        first, last = e.pop("first"), e.pop("last")
        out.append({**e, "first_utc": _u(first), "last_utc": _u(last), "first_ist": _i(first)})
    return out


def _explicit_cred_edges(case: Case, clock: _Clock, name: Any) -> list[tuple[Any, ...]]:
    cols = event_columns(case)
    if "targetservername" not in cols:
        return []
    q = f"""
        SELECT host, ts, coalesce({col(cols, "TargetUserName")}, user_name), {col(cols, "TargetServerName")},
               lower(coalesce(process_image, {col(cols, "ProcessName")}, ''))
        FROM _fx_events WHERE event_id = 4648 AND channel = 'Security' ORDER BY ts, host, input_sha256, rec_index
    """
    out = []
    for host, ts, user, server, proc in case.con.execute(q).fetchall():
        if not server or short_host(server) in ("localhost", "", "-", short_host(host)):
            continue
        method = next((m for k, m in _4648_METHODS if k in proc), "explicit credentials")
        out.append((host, name(server), user or "", method, clock.fix(host, ts), None))
    return out


def _rdp_1149_edges(case: Case, clock: _Clock, name: Any) -> list[tuple[Any, ...]]:
    cols = event_columns(case)
    if "param3" not in cols:
        return []
    q = f"""
        SELECT host, ts, {col(cols, "Param1")}, {col(cols, "Param3")} FROM _fx_events
        WHERE event_id = 1149 AND channel ILIKE '%RemoteConnectionManager%' ORDER BY ts, host, input_sha256, rec_index
    """
    return [
        (name(ip), host, user or "", "RDP", clock.fix(host, ts), ip)
        for host, ts, user, ip in case.con.execute(q).fetchall()
        if usable_ip(ip)
    ]


def _share_and_service_edges(case: Case, clock: _Clock, name: Any) -> list[tuple[Any, ...]]:
    """5145 admin-share / PSEXESVC access, and 7045 PSEXESVC tied to the logon just before it."""
    cols = event_columns(case)
    out: list[tuple[Any, ...]] = []
    if "sharename" in cols:
        q = f"""
            SELECT host, ts, coalesce({col(cols, "SubjectUserName")}, user_name), coalesce({col(cols, "IpAddress")}, src_ip),
                   {col(cols, "ShareName")}, {col(cols, "RelativeTargetName")}
            FROM _fx_events WHERE event_id = 5145 AND channel = 'Security' ORDER BY ts, host, input_sha256, rec_index
        """
        for host, ts, user, ip, share, target in case.con.execute(q).fetchall():
            share_l, target_l = (share or "").lower(), (target or "").lower()
            if not usable_ip(ip):
                continue
            if "psexesvc" in target_l:
                out.append((name(ip), host, user or "", "SMB/PsExec", clock.fix(host, ts), ip))
            elif share_l.endswith(("admin$", "c$")):
                out.append((name(ip), host, user or "", "SMB admin share", clock.fix(host, ts), ip))
    if "servicename" in cols:
        q = f"""
            SELECT host, ts FROM _fx_events WHERE event_id = 7045 AND channel = 'System'
              AND (lower({col(cols, "ServiceName")}) LIKE '%psexesvc%' OR lower({col(cols, "ImagePath")}) LIKE '%psexesvc%')
            ORDER BY ts, host
        """
        logons = [e for e in _logons(case) if e["method"] == "network"]
        for host, ts in case.con.execute(q).fetchall():
            before = [e for e in logons if e["host"] == host and ts - PSEXEC_LINK_WINDOW <= e["ts"] <= ts]
            src = max(before, key=lambda e: e["ts"]) if before else None
            out.append((name(src["ip"]) if src else "(unknown)", host, (src or {}).get("user") or "",
                        "SMB/PsExec", clock.fix(host, ts), src["ip"] if src else None))  # fmt: skip
    return out


def _iocs(findings: list[Finding], clock: _Clock) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for f in findings:
        if f.kind != "ioc":
            continue
        try:
            details = json.loads(f.details or "{}")
        except ValueError:
            details = {}
        details = details if isinstance(details, dict) else {}
        value = str(next((details[k] for k in ("value", "ioc", "indicator", "matched") if details.get(k)), None)
                    or f.title or f.rule_id)  # fmt: skip
        g = groups.setdefault(value, {"value": value, "type": details.get("type"), "tlp": f.tlp,
                                      "first": None, "last": None, "hosts": set(), "findings": 0})  # fmt: skip
        g["findings"] += 1
        if f.host:
            g["hosts"].add(f.host)
        for k, src in (("first", "first_ts"), ("last", "last_ts")):
            ts = clock.fix(f.host, (f.last_ts if src == "last_ts" else f.first_ts) or f.first_ts)
            if ts is not None and (g[k] is None or (ts < g[k] if k == "first" else ts > g[k])):
                g[k] = ts
    out = []
    for g in sorted(groups.values(), key=lambda g: (_u(g["first"]) or "~", g["value"])):
        first, last = g.pop("first"), g.pop("last")
        out.append({**g, "hosts": sorted(g["hosts"]), "first_utc": _u(first), "last_utc": _u(last),
                    "first_ist": _i(first), "last_ist": _i(last)})  # fmt: skip
    return out


def _impact(case: Case, findings: list[Finding], clock: _Clock, names: HostNames) -> list[dict[str, Any]]:
    # a set per (host, what): a finding and the event it fired on count once
    hits: dict[str, dict[str, set[datetime]]] = defaultdict(lambda: defaultdict(set))
    for f in findings:
        for t in f.techniques:
            what = IMPACT_TECHNIQUES.get(t.split(".")[0])
            ts = clock.fix(f.host, f.first_ts)
            if what and f.host and ts:
                hits[f.host][what].add(ts)
    q = """
        SELECT host, ts, coalesce(process_cmdline, ''), coalesce(file_path, '') FROM _fx_events
        WHERE host IS NOT NULL AND ts IS NOT NULL AND regexp_matches(lower(coalesce(process_cmdline, '') || ' ' ||
              coalesce(file_path, '')), 'vssadmin|shadowcopy|wbadmin|bcdedit|stop|taskkill|crypt|lock|decrypt|ransom')
        ORDER BY host, ts, input_sha256, rec_index
    """
    for host, ts, cmd, path in case.con.execute(q).fetchall():
        for what, rx in IMPACT_PATTERNS:
            text = path if what == "encryption" else cmd
            if text and rx.search(text):
                hits[names.display(host) or host][what].add(clock.fix(host, ts))  # type: ignore[arg-type]
                break
    out = []
    for host in sorted(hits):
        kinds: list[dict[str, Any]] = [
            {
                "what": w,
                "first_utc": _u(min(ts)),
                "first_ist": _i(min(ts)),
                "last_utc": _u(max(ts)),
                "count": len(ts),
            }
            for w, ts in sorted(hits[host].items())
        ]
        out.append({"host": host, "kinds": kinds, "first_utc": min(k["first_utc"] for k in kinds)})
    return sorted(out, key=lambda h: (h["first_utc"] or "~", h["host"]))


def _brute_force(case: Case, clock: _Clock, ipmap: dict[str, str], names: HostNames) -> list[dict[str, Any]]:
    """Sources with many failed logons against one host, and whether a success from them followed."""
    cols = event_columns(case)
    fails: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    q = f"""
        SELECT host, ts, coalesce({col(cols, "TargetUserName")}, user_name), coalesce({col(cols, "IpAddress")}, src_ip)
        FROM _fx_events WHERE event_id = 4625 AND channel = 'Security' AND ts IS NOT NULL ORDER BY ts, host, input_sha256, rec_index
    """
    for host, ts, user, ip in case.con.execute(q).fetchall():
        if usable_ip(ip):
            fails[(names.display(host) or "", norm_ip(ip))].append((ts, (user or "").lower()))
    for host, ts, msg in case.con.execute(
        "SELECT host, ts, message FROM _fx_events WHERE ts IS NOT NULL AND (message ILIKE '%Failed % for % from %' "
        "OR message ILIKE '%Invalid user % from %') ORDER BY ts, host, input_sha256, rec_index"
    ).fetchall():
        m = _SSH_FAIL.search(msg or "")
        if m and usable_ip(m.group(2)):
            fails[(names.display(host) or "", norm_ip(m.group(2)))].append((ts, m.group(1).lower()))
    successes: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    for e in _logons(case):
        successes[(names.display(e["host"]) or "", e["ip"])].append((e["ts"], e["user"] or ""))
    out = []
    for (host, ip), fs in sorted(fails.items()):
        if len(fs) < BRUTE_MIN_FAILURES:
            continue
        first, last = min(t for t, _ in fs), max(t for t, _ in fs)
        after = sorted(s for s in successes.get((host, ip), []) if s[0] >= first)
        ok = after[0] if after else None
        users = sorted({u for _, u in fs})
        out.append({
            "target": host, "source": ip if is_external(ip) else ipmap.get(ip, ip), "source_ip": ip,
            "external": is_external(ip), "failures": len(fs), "accounts": len(users),
            "account_names": users[:5],
            "first_utc": _u(clock.fix(host, first)), "last_utc": _u(clock.fix(host, last)),
            "succeeded": ok is not None, "success_utc": _u(clock.fix(host, ok[0])) if ok else None,
            "success_account": ok[1] if ok else None,
        })  # fmt: skip
    return sorted(out, key=lambda b: (b["first_utc"] or "~", b["target"], b["source_ip"]))


def _path(s: Story) -> list[dict[str, Any]]:
    """The hops out of patient zero: an edge counts once its source was reached (times corrected).

    Starting from the entry point (outside address → patient zero), every later edge from a
    host already reached adds its target; edges between hosts never reached (an admin's
    workstation to the jump host in the morning) stay out. Failed brute forces from a reached
    host end the path as failed hops.
    """
    if not s.patient_zero:
        return []
    pz = s.patient_zero["host"]
    reached: dict[str, str] = {pz: s.patient_zero.get("ts_utc") or ""}
    if s.entry_point:
        reached[s.entry_point["source_ip"]] = ""
    hops: dict[tuple[str, str], dict[str, Any]] = {}
    for e in sorted(s.lateral, key=lambda e: (e["first_utc"] or "~", e["source"], e["target"], e["method"])):
        src, dst, first = e["source"], e["target"], e["first_utc"] or ""
        since = reached.get(src)
        if since is None or first < since:
            continue
        if dst == pz and not (s.entry_point and src == s.entry_point["source_ip"]):
            continue  # traffic back into patient zero is not a step forward
        hop = hops.setdefault((src, dst), {"source": src, "target": dst, "first_utc": first, "methods": [],
                                           "accounts": [], "count": 0, "failed": False})  # fmt: skip
        for key, val in (("methods", e["method"]), ("accounts", e["account"])):
            if val and val not in hop[key]:
                hop[key].append(val)
        hop["count"] += e["count"]
        reached.setdefault(dst, first)
    for b in s.did_not_fall:
        src = b["source"]
        if src in reached and b["target"] not in reached:
            hops.setdefault((src, b["target"]), {
                "source": src, "target": b["target"], "first_utc": b["first_utc"],
                "methods": ["brute force"], "accounts": b.get("account_names", []), "count": b["failures"],
                "failed": True,
            })  # fmt: skip
    return sorted(hops.values(), key=lambda h: (h["first_utc"] or "~", h["source"], h["target"]))


def _held(s: Story, findings: list[Finding]) -> list[dict[str, Any]]:
    """Hosts attacked by brute force that never fell: no success, not reached, no impact, no serious finding.

    Findings of the brute force itself (credential access) do not count against the host.
    """
    reached = {h["target"] for h in s.path if not h.get("failed")}
    if s.patient_zero:
        reached.add(s.patient_zero["host"])
    hit = {h["host"] for h in s.impact}
    fell = {b["target"] for b in s.brute_force if b["succeeded"]}
    serious = {
        f.host for f in findings
        if f.host and f.rank >= 3 and set(f.tactic_names) - {"credential-access"}
    }  # fmt: skip
    out: dict[str, dict[str, Any]] = {}
    for b in s.did_not_fall:
        host = b["target"]
        if host in reached or host in hit or host in fell or host in serious:
            continue
        who = ", ".join(b.get("account_names", [])) or "?"
        src = b["source"] if b["source"] == b["source_ip"] else f"{b['source']} ({b['source_ip']})"
        how = (f"brute force on {who}: {b['failures']} failed logons from {src}, "
               f"{b['first_utc']} .. {b['last_utc']}")  # fmt: skip
        h = out.setdefault(host, {"host": host, "backup": bool(BACKUP_HOST_RE.search(short_host(host))),
                                  "attacks": [], "how": how})  # fmt: skip
        h["attacks"].append(b)
    return [out[h] for h in sorted(out)]


def _cleared(case: Case, integ: Integrity, clock: _Clock, names: HostNames) -> list[dict[str, Any]]:
    """Per host: logs cleared (1102 / 104), log-tampering commands, and what survives elsewhere."""
    spellings: dict[str, list[str]] = defaultdict(list)
    for raw, disp in names.spellings().items():
        spellings[disp].append(raw)
    hosts: dict[str, dict[str, Any]] = {}

    def entry(host: str) -> dict[str, Any]:
        """The host's record, created on first use."""
        return hosts.setdefault(host, {"host": host, "clears": [], "commands": [], "survivors": 0,
                                       "survivor_files": []})  # fmt: skip

    for c in integ.clearings:
        host = names.display(c["host"]) or c["host"] or "(unknown)"
        ts = clock.fix(host, parse_iso_utc(c["ts_utc"])) if c.get("ts_utc") else None
        entry(host)["clears"].append({"channel": c["cleared_channel"], "ts_utc": _u(ts), "ts_ist": _i(ts),
                                      "by": c.get("by"), "event_id": c["event_id"]})  # fmt: skip
        raws = spellings.get(host, [c["host"]])
        n, files = case.con.execute(
            "SELECT count(*), string_agg(DISTINCT regexp_extract(input_path, '[^/\\\\]+$'), ', ' "
            "ORDER BY regexp_extract(input_path, '[^/\\\\]+$')) "
            "FROM _fx_events WHERE host IN (SELECT unnest(?::VARCHAR[])) AND channel = ? AND ts < ?",
            [raws, c["cleared_channel"], parse_iso_utc(c["ts_utc"])],
        ).fetchall()[0]
        e = entry(host)
        e["survivors"] += int(n or 0)
        e["survivor_files"] = sorted(set(e["survivor_files"]) | set((files or "").split(", ")) - {""})
    seen: set[tuple[str, str]] = set()
    for t in integ.tampering:
        host = names.display(t["host"]) or t["host"] or "(unknown)"
        cmd = " ".join((t["command"] or "").split())
        if re.search(r"wevtutil|clear-eventlog", cmd, re.IGNORECASE) and hosts.get(host, {}).get("clears"):
            continue  # the clear itself is listed already
        if (host, cmd) in seen or any(cmd in other for h, other in seen if h == host):
            continue
        seen.add((host, cmd))
        ts = clock.fix(host, parse_iso_utc(t["ts_utc"])) if t.get("ts_utc") else None
        entry(host)["commands"].append({"command": cmd[:200], "ts_utc": _u(ts), "ts_ist": _i(ts),
                                        "source": t.get("source")})  # fmt: skip
    for h in hosts.values():
        h["clears"].sort(key=lambda c: (c["ts_utc"] or "~", c["channel"]))
        h["commands"].sort(key=lambda c: (c["ts_utc"] or "~", c["command"]))
    return sorted(hosts.values(), key=lambda h: (min([c["ts_utc"] or "~" for c in h["clears"] + h["commands"]]
                                                     or ["~"]), h["host"]))  # fmt: skip
