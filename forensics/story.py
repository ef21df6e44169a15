"""The story of the incident, assembled from the findings and the fact queries, and told.

``build_story(case)`` answers the investigating officer's questions from what the hunt found
(the findings) and what the logs say happened (the fact queries of ``queries/facts``, see
``forensics.facts``), clock-corrected with the integrity assessment's offsets. It decides
nothing a detection decides: thresholds and patterns live in the hunts and the facts, so the
story and the findings of one report cannot disagree.

* phases — the findings grouped by ATT&CK tactic, in kill-chain order, each with its time span;
* patient zero and the entry point — the first successful logon (``logon_attempts``) from an
  outside (globally routable) address and its target; without one, the first host with a finding
  (medium or above) that is not a network device or log collector (``network_devices``: a
  firewall's log names the attacker first, but the firewall is not the victim);
* lateral movement — edges source host → target host with account, method and time: successful
  RDP, network and SSH logons (``logon_attempts``; network logons only from hosts already in the
  story) and the other signs of one host reaching another (``remote_access``: explicit
  credentials, RDP authentication, admin shares, PsExec services); machine accounts ``NAME$``
  are the domain at work, not lateral movement;
* the lateral-movement path — the hops out of patient zero, each taken only from a host already
  reached;
* IOC sightings — first and last sighting of each indicator from ``ioc`` findings;
* impact — hosts with findings of impact techniques (encryption, recovery inhibited, services
  stopped, ...);
* brute force — the brute-force findings (SQL hunts and correlation rules of technique T1110),
  each source and target with its failed logons from the finding's records, and whether one of
  its records is a success; what did not fall — those without, and the hosts they targeted that
  were never reached;
* cleared logs — the clears and log-tampering commands of the integrity assessment per host,
  with what survives elsewhere (a forwarded copy).

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

import pyarrow as pa

from forensics.attack import TACTIC_NAMES, phase_rank, technique_name
from forensics.facts import fact_table
from forensics.hostnames import HostNames, norm_ip, short_host, usable_ip
from forensics.hunt.findings import Finding, level_rank, read_findings
from forensics.integrity import Integrity, assess, display_by_short, settle
from forensics.store import Case
from forensics.timeutil import iso_ist, iso_utc, parse_iso_utc

# Labels of the impact techniques the story lists per host (ATT&CK technique → what it did).
IMPACT_TECHNIQUES: dict[str, str] = {
    "T1486": "encryption", "T1490": "shadow copy deletion", "T1489": "service stop",
    "T1485": "data destruction", "T1491": "defacement", "T1529": "shutdown / reboot",
}  # fmt: skip
BRUTE_FORCE_TECHNIQUE = "T1110"  # findings of brute-force hunts (and their sub-techniques)
BRUTE_FORCE_KINDS = ("sql", "correlation")  # detections that count attempts, not single-event rules
MEDIUM, HIGH = level_rank("medium"), level_rank("high")  # the findings' own levels, not thresholds of ours
BACKUP_HOST_RE = re.compile(r"(bkp|backup|bak|veeam|nas|vault)", re.IGNORECASE)  # how backup servers are named


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
    return addr.is_global or any(addr in net for net in _DOC_NETS if net.version == addr.version)


_DOC_NETS = tuple(ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))


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
    """Build the story of the case (findings + fact queries), clock-corrected.

    ``findings`` are those of hunt run ``run`` (None: the latest), read here when not given;
    ``integrity`` is assessed here when not given.
    """
    settle(case)
    integ = integrity if integrity is not None else assess(case)
    names = integ.names if integ.names is not None else HostNames.from_case(case)
    clock = _Clock(integ, names)
    if findings is None:
        findings = read_findings(case, run)
    # each host under its display name (the finding ids stay those of the stored findings)
    fs = [replace(f, host=names.display(f.host)) for f in findings]
    story = Story(clock_offsets_s={names.display(h) or h: o for h, o in sorted(integ.offsets.items())})
    story.span = _span(integ, fs, clock)
    story.phases = _phases(fs, clock)
    story.first_finding = _first_finding(fs, clock)
    naming = _Naming(integ.ip_hosts, display_by_short(names), names)
    story.brute_force, tried = _brute_force(case, fs, clock, naming)
    story.entry_point = _entry_point(case, clock, names, story.brute_force)
    # a host only tried (a brute force with no success) is attacked, not compromised
    untried = [f for f in fs if f.finding_id not in tried]
    story.patient_zero = _patient_zero(story.entry_point, untried, clock, _network_devices(case, names))
    story.lateral = _lateral(case, clock, naming, fs)
    story.iocs = _iocs(fs, clock)
    story.impact = _impact(fs, clock)
    story.path = _path(story)
    story.held = _held(story, fs)
    story.cleared = _cleared(integ, clock)
    return story


def _span(integ: Integrity, findings: list[Finding], clock: _Clock) -> dict[str, Any]:
    """First and last event (corrected) over every host, from the integrity coverage."""
    rows = [(c["host"], parse_iso_utc(c["first_utc"]), parse_iso_utc(c["last_utc"]))
            for c in integ.coverage if c["first_utc"] and c["last_utc"]]  # fmt: skip
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
        lasts = [
            x for x in (clock.fix(f.host, f.last_ts or f.first_ts) for f in fs) if x
        ]
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
    serious = [f for f in timed if f.rank >= MEDIUM] or timed
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
    """The first successful RDP, network or SSH logon (``logon_attempts``) from an outside address."""
    table = fact_table(case, "logon_attempts")
    ips = [r[0] for r in case.con.execute(
        f"SELECT DISTINCT src_ip FROM {table} WHERE outcome = 'success' AND method IN ('RDP', 'network', 'SSH') "
        "AND src_ip IS NOT NULL ORDER BY 1"
    ).fetchall()]  # fmt: skip
    outside = [ip for ip in ips if is_external(ip)]
    if not outside:
        return None
    rows = case.con.execute(
        f"SELECT host, ts, account, src_ip, method, input_sha256, rec_index FROM {table} "
        "WHERE outcome = 'success' AND method IN ('RDP', 'network', 'SSH') AND src_ip IN (SELECT unnest(?::VARCHAR[])) "
        "AND ts IS NOT NULL ORDER BY ts, host, input_sha256, rec_index",
        [outside],
    ).fetchall()
    cands = [(clock.fix(h, ts), names.display(h) or "", (sha, idx), acct, ip, method)
             for h, ts, acct, ip, method, sha, idx in rows]  # fmt: skip
    if not cands:
        return None
    ts, host, ref, acct, ip, method = min(cands, key=lambda c: (c[0], c[1], c[2]))
    before = next((b for b in brute if b["succeeded"] and b["source_ip"] == ip and b["target"] == host), None)
    preceded = (
        f"a {'password spray' if before['accounts'] > 1 else 'brute force'} of {before['failures']} failed logons "
        f"on {before['accounts']} accounts from {before['first_utc']}"
        if before
        else None
    )
    return {
        "host": host, "ts_utc": _u(ts), "ts_ist": _i(ts), "account": acct, "source_ip": ip,
        "method": method, "input_sha256": ref[0], "rec_index": ref[1], "preceded_by": preceded,
    }  # fmt: skip


def _network_devices(case: Case, names: HostNames) -> set[str]:
    """Hosts that only carry traffic or collect logs (the ``network_devices`` fact), by display name."""
    table = fact_table(case, "network_devices")
    return {names.display(h) or h for (h,) in case.con.execute(f"SELECT host FROM {table} ORDER BY 1").fetchall()}


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
        if f.first_ts and f.host and f.host not in network and f.rank >= MEDIUM
    ]  # fmt: skip
    if not cands:
        return None
    f = min(cands, key=lambda f: (clock.fix(f.host, f.first_ts), f.finding_id))
    ts = clock.fix(f.host, f.first_ts)
    return {"host": f.host, "reason": f"first host with a finding: {f.title}", "ts_utc": _u(ts)}


class _Naming:
    """Names the peers of edges: an address by the host the logs tie it to, a host by its display name.

    An outside address stays an address: the workstation name an attacker's client announces is
    the attacker's to choose.
    """

    def __init__(self, ip_hosts: dict[str, str], hosts: dict[str, str], names: HostNames) -> None:
        self.ip_hosts = ip_hosts
        self.hosts = hosts
        self.names = names
        self._cache: dict[str, str] = {}

    def __call__(self, ip_or_host: str | None) -> str:
        """Display name of an address or host name (``(unknown)`` for none)."""
        if not ip_or_host:
            return "(unknown)"
        hit = self._cache.get(ip_or_host)
        if hit is None:
            hit = self._cache[ip_or_host] = self._name(ip_or_host.strip())
        return hit

    def _name(self, s: str) -> str:
        if usable_ip(s) and is_external(s):
            return norm_ip(s)
        if usable_ip(s) and norm_ip(s) in self.ip_hosts:
            return self.ip_hosts[norm_ip(s)]
        return self.hosts.get(short_host(s), s)


# Edge sources, in the order their first sighting names an edge's source address.
_EDGE_SQL = """
    SELECT 0 AS kind, host, src_ip AS peer_ip, CAST(NULL AS VARCHAR) AS peer_host, coalesce(account, '') AS account,
           method, min(ts) AS first, max(ts) AS last, count(*) AS n
    FROM {logons}
    WHERE outcome = 'success' AND method IN ('RDP', 'network', 'SSH') AND src_ip IS NOT NULL
    GROUP BY host, src_ip, coalesce(account, ''), method
    UNION ALL
    SELECT CASE event_id WHEN 4648 THEN 1 WHEN 1149 THEN 2 WHEN 5145 THEN 3 ELSE 4 END AS kind, host, peer_ip,
           peer_host, coalesce(account, '') AS account, method, min(ts), max(ts), count(*)
    FROM {access}
    GROUP BY ALL
    ORDER BY kind, first NULLS LAST, host NULLS LAST, peer_ip NULLS LAST, peer_host NULLS LAST, account, method
"""
_METHOD_NAMES = {"network": "SMB/network logon"}


def _lateral(case: Case, clock: _Clock, name: _Naming, findings: list[Finding]) -> list[dict[str, Any]]:
    """Aggregated lateral-movement edges, earliest first (machine accounts' routine traffic left out).

    The facts are counted per (host, peer, account, method) in one query; the few groups are
    then named and merged here.
    """
    involved = {f.host for f in findings if f.host and f.rank >= MEDIUM}
    sql = _EDGE_SQL.format(logons=fact_table(case, "logon_attempts"), access=fact_table(case, "remote_access"))
    edges: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for kind, host, peer_ip, peer_host, acct, method, first, last, n in case.con.execute(sql).fetchall():
        if kind == 1:  # explicit credentials: the recording host reached the named server
            if short_host(peer_host) == short_host(host):
                continue
            src0, dst0 = host, name(peer_host)
        else:
            src0, dst0 = name(peer_ip), host
            if kind == 0 and method == "network" and not (src0 in involved or is_external(peer_ip)):
                continue  # type-3 logons are everyday traffic; keep those from hosts already in the story
        src, dst = name.names.display(src0) or src0, name.names.display(dst0) or dst0
        if short_host(src) == short_host(dst) or acct.endswith("$"):
            continue  # a host's own account (NAME$) talking to a DC is the domain at work
        method = _METHOD_NAMES.get(method, method)
        key = (src, dst, acct.lower(), method)
        lo, hi = clock.fix(host, first), clock.fix(host, last)
        e = edges.setdefault(key, {"source": src, "target": dst, "account": acct, "method": method,
                                   "source_ip": peer_ip, "first": lo, "last": hi, "count": 0})  # fmt: skip
        e["count"] += int(n)
        if lo is not None:
            e["first"] = lo if e["first"] is None else min(e["first"], lo)
        if hi is not None:
            e["last"] = hi if e["last"] is None else max(e["last"], hi)
    out = []
    for e in sorted(
        edges.values(), key=lambda e: (_u(e["first"]) or "~", e["source"], e["target"], e["method"])
    ):
        first, last = e.pop("first"), e.pop("last")
        out.append({**e, "first_utc": _u(first), "last_utc": _u(last), "first_ist": _i(first)})
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


def _impact(findings: list[Finding], clock: _Clock) -> list[dict[str, Any]]:
    """Per host, the impact techniques its findings name (a set per kind: one event, one sighting)."""
    hits: dict[str, dict[str, set[datetime]]] = defaultdict(lambda: defaultdict(set))
    for f in findings:
        for t in f.techniques:
            what = IMPACT_TECHNIQUES.get(t.split(".")[0])
            ts = clock.fix(f.host, f.first_ts)
            if what and f.host and ts:
                hits[f.host][what].add(ts)
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


def _brute_force(
    case: Case, findings: list[Finding], clock: _Clock, name: _Naming
) -> tuple[list[dict[str, Any]], set[str]]:
    """The brute forces the hunts found: per target and source, its failed logons and whether one succeeded.

    The findings are those of technique T1110 from detections that count attempts (SQL hunts,
    correlation rules); their records are read as ``logon_attempts`` rows, so the failures,
    accounts and the success are exactly what the finding fired on. Also returns the ids of
    those findings none of whose records is a successful logon (the host was only tried).
    """
    brute = [f for f in findings if f.kind in BRUTE_FORCE_KINDS
             and any(t.split(".")[0] == BRUTE_FORCE_TECHNIQUE for t in f.techniques)]  # fmt: skip
    refs = sorted({(r.input_sha256, r.rec_index) for f in brute for r in f.records})
    if not refs:
        return [], set()
    table = fact_table(case, "logon_attempts")
    con = case.con
    con.register("_st_refs", pa.table({
        "input_sha256": pa.array([r[0] for r in refs], pa.string()),
        "rec_index": pa.array([r[1] for r in refs], pa.int64()),
    }))  # fmt: skip
    try:
        rows = con.execute(
            "SELECT a.input_sha256, a.rec_index, a.outcome, a.host, a.src_ip, a.ts, lower(coalesce(a.account, '')), "
            f"a.account FROM _st_refs r "
            f"JOIN {table} a USING (input_sha256, rec_index) WHERE a.src_ip IS NOT NULL AND a.ts IS NOT NULL "
            "ORDER BY a.ts, a.host, a.input_sha256, a.rec_index"
        ).fetchall()
    finally:
        con.unregister("_st_refs")
    fails: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    wins: dict[tuple[str, str], list[tuple[datetime, str]]] = defaultdict(list)
    successes = {(sha, idx) for sha, idx, outcome, *_ in rows if outcome == "success"}
    tried = {f.finding_id for f in brute if not any((r.input_sha256, r.rec_index) in successes for r in f.records)}
    for _sha, _idx, outcome, host, ip, ts, user, account in rows:
        key = (name.names.display(host) or "", ip)
        (fails if outcome == "fail" else wins)[key].append((ts, user if outcome == "fail" else account or ""))
    out = []
    for (host, ip), fs in sorted(fails.items()):
        first, last = min(t for t, _ in fs), max(t for t, _ in fs)
        after = sorted(s for s in wins.get((host, ip), []) if s[0] >= first)
        ok = after[0] if after else None
        users = sorted({u for _, u in fs})
        out.append({
            "target": host, "source": ip if is_external(ip) else name.ip_hosts.get(ip, ip), "source_ip": ip,
            "external": is_external(ip), "failures": len(fs), "accounts": len(users),
            "account_names": users[:5],
            "first_utc": _u(clock.fix(host, first)), "last_utc": _u(clock.fix(host, last)),
            "succeeded": ok is not None, "success_utc": _u(clock.fix(host, ok[0])) if ok else None,
            "success_account": ok[1] if ok else None,
        })  # fmt: skip
    return sorted(out, key=lambda b: (b["first_utc"] or "~", b["target"], b["source_ip"])), tried


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
        if f.host and f.rank >= HIGH and set(f.tactic_names) - {"credential-access"}
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


def _cleared(integ: Integrity, clock: _Clock) -> list[dict[str, Any]]:
    """Per host: logs cleared, log-tampering commands, and what survives elsewhere (from the integrity assessment)."""
    hosts: dict[str, dict[str, Any]] = {}

    def entry(host: str) -> dict[str, Any]:
        """The host's record, created on first use."""
        return hosts.setdefault(host, {"host": host, "clears": [], "commands": [], "survivors": 0,
                                       "survivor_files": []})  # fmt: skip

    for c in integ.clearings:
        host = c["host"] or "(unknown)"
        ts = clock.fix(host, parse_iso_utc(c["ts_utc"])) if c.get("ts_utc") else None
        e = entry(host)
        e["clears"].append({"channel": c["cleared_channel"], "ts_utc": _u(ts), "ts_ist": _i(ts),
                            "by": c.get("by"), "event_id": c["event_id"]})  # fmt: skip
        e["survivors"] += int(c.get("survivors") or 0)
        e["survivor_files"] = sorted(set(e["survivor_files"]) | set(c.get("survivor_files") or []))
    seen: set[tuple[str, str]] = set()
    for t in integ.tampering:
        host = t["host"] or "(unknown)"
        cmd = " ".join((t["command"] or "").split())
        if t.get("clears_event_log") and hosts.get(host, {}).get("clears"):
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
