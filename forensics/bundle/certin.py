"""A pre-filled CERT-In incident report (CERT-In Directions of 28 April 2022).

Incidents such as ransomware must reach CERT-In within 6 hours of being noticed. The tool
fills in what the case shows: the earliest malicious activity and the earliest finding in IST,
affected hosts with their IPs and operating systems, the incident type, symptoms (the findings),
indicators of compromise and the actions recorded in the custody log. Blanks are for the
reporting organisation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from forensics.bundle.certificates import BLANK
from forensics.timeutil import IST

REPORT_WITHIN = timedelta(hours=6)

# ATT&CK techniques and tactics that name the incident type CERT-In asks for
_TYPE_BY_TECHNIQUE = (
    ("T1486", "Ransomware"),
    ("T1490", "Ransomware (recovery inhibited)"),
    ("T1110", "Brute force / unauthorised access attempts"),
    ("T1078", "Unauthorised access (valid accounts)"),
    ("T1059", "Malicious code execution"),
    ("T1070", "Log tampering / anti-forensics"),
)


def _ist(text: str | None) -> str:
    if not text:
        return BLANK
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt.astimezone(IST).strftime("%d/%m/%Y %H:%M:%S IST")


def incident_type(facts: dict[str, Any]) -> str:
    """The type named in the case details, else inferred from ATT&CK ids of the findings."""
    if facts["details"].incident_type:
        return str(facts["details"].incident_type)
    attack = {t for f in facts["findings"] for t in (f.get("attack") or [])}
    for prefix, name in _TYPE_BY_TECHNIQUE:
        if any(t.startswith(prefix) for t in attack):
            return f"{name} (inferred from findings; confirm)"
    return f"{BLANK} (not inferred from the findings)"


def _ips_by_host(facts: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, set[str]] = {}
    for cov in (facts.get("integrity") or {}).get("host_ips", []) or []:
        if isinstance(cov, dict) and cov.get("host") and cov.get("ip"):
            out.setdefault(cov["host"], set()).add(cov["ip"])
    return {h: sorted(v) for h, v in out.items()}


def render_certin(facts: dict[str, Any]) -> str:
    """The report as plain text."""
    d = facts["details"]
    findings = facts["findings"]
    firsts = sorted(f["first_utc"] for f in findings if f.get("first_utc"))
    earliest = firsts[0] if firsts else None
    hosts = sorted({f["host"] for f in findings if f.get("host")})
    ips = _ips_by_host(facts)
    lines = [
        "CERT-In INCIDENT REPORT (pre-filled by forensics; check every field before sending)",
        "Send to incident@cert-in.org.in within 6 hours of noticing the incident.",
        "",
        f"Organisation: {d.organisation or BLANK}",
        f"Reporting person / designation / contact: {d.operator or BLANK} / {BLANK} / {BLANK}",
        f"FIR / police station / agency: {d.fir_number or BLANK} / {d.police_station or BLANK} / {d.agency or BLANK}",
        "",
        f"Earliest malicious activity seen in the logs: {_ist(earliest)}",
        f"Time the incident was noticed (detection): {BLANK}",
        f"Report due by (detection + 6 h): {BLANK}",
        f"Incident type: {incident_type(facts)}",
        "",
        "Affected systems:",
    ]
    for h in hosts or [BLANK]:
        lines.append(f"  - host {h}; OS {facts['os'].get(h, BLANK)}; IP {', '.join(ips.get(h, [])) or BLANK}")
    lines += ["", "Symptoms observed (findings, earliest first):"]
    for f in sorted(findings, key=lambda f: (f.get("first_utc") or "~", f["finding_id"]))[:100]:
        lines.append(
            f"  - {_ist(f.get('first_utc'))} [{f.get('level')}] {f.get('title')} on {f.get('host') or '?'} "
            f"({', '.join(f.get('attack') or []) or 'no ATT&CK id'})"
        )
    if len(findings) > 100:
        lines.append(f"  ... and {len(findings) - 100} more in findings/findings.json")
    lines += ["", "Indicators of compromise:"]
    iocs = facts.get("iocs") or []
    for i in iocs[:200]:
        lines.append(
            f"  - {i.get('type') or i.get('ioc_type') or '?'}: {i.get('value') or i.get('canonical') or i}"
        )
    if not iocs:
        lines.append("  - none loaded into the case (see findings for matched values)")
    lines += ["", "Actions taken so far (from the chain of custody):"]
    for e in facts["custody"]:
        lines.append(
            f"  - {_ist(e.get('time_utc'))} {e.get('action')} by {e.get('person') or '?'}: {e.get('purpose') or ''}"
        )
    lines += [
        "",
        "Log retention: CERT-In Directions require ICT logs kept for 180 days; coverage per host is in "
        "provenance/integrity.json.",
        f"Tool: forensics; bundle created {_ist(facts['created'].isoformat())}.",
    ]
    return "\n".join(lines) + "\n"
