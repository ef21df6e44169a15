"""MITRE ATT&CK (Enterprise) facts the timeline, story, report and Navigator layer need.

A hand-written table rather than the STIX bundle: the full bundle is ~40 MB and needs a
download; these are the techniques Sigma rules, SQL hunts and IOC lists in this project tag,
with their names and tactics as published by MITRE (ATT&CK v15). Unknown technique ids still
work everywhere: they show their id and take their tactic from the finding's own tags.
"""

from __future__ import annotations

import re

# Tactics in kill-chain order (the order of the Enterprise matrix columns).
TACTICS: tuple[tuple[str, str, str], ...] = (
    ("reconnaissance", "TA0043", "Reconnaissance"),
    ("resource-development", "TA0042", "Resource Development"),
    ("initial-access", "TA0001", "Initial Access"),
    ("execution", "TA0002", "Execution"),
    ("persistence", "TA0003", "Persistence"),
    ("privilege-escalation", "TA0004", "Privilege Escalation"),
    ("defense-evasion", "TA0005", "Defense Evasion"),
    ("credential-access", "TA0006", "Credential Access"),
    ("discovery", "TA0007", "Discovery"),
    ("lateral-movement", "TA0008", "Lateral Movement"),
    ("collection", "TA0009", "Collection"),
    ("command-and-control", "TA0011", "Command and Control"),
    ("exfiltration", "TA0010", "Exfiltration"),
    ("impact", "TA0040", "Impact"),
)
TACTIC_ORDER: dict[str, int] = {short: i for i, (short, _, _) in enumerate(TACTICS)}
TACTIC_NAMES: dict[str, str] = {short: name for short, _, name in TACTICS}
TACTIC_IDS: dict[str, str] = {short: tid for short, tid, _ in TACTICS}

_IA, _EX, _PE, _PR, _DE = (
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
)
_CA, _DI, _LM, _CO, _C2 = (
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
)
_EF, _IM, _RD = "exfiltration", "impact", "resource-development"

# technique id -> (name, tactics). Sub-techniques carry their own names ("Parent: Sub").
TECHNIQUES: dict[str, tuple[str, tuple[str, ...]]] = {
    "T1003": ("OS Credential Dumping", (_CA,)),
    "T1003.001": ("OS Credential Dumping: LSASS Memory", (_CA,)),
    "T1003.002": ("OS Credential Dumping: Security Account Manager", (_CA,)),
    "T1003.003": ("OS Credential Dumping: NTDS", (_CA,)),
    "T1003.006": ("OS Credential Dumping: DCSync", (_CA,)),
    "T1005": ("Data from Local System", (_CO,)),
    "T1007": ("System Service Discovery", (_DI,)),
    "T1012": ("Query Registry", (_DI,)),
    "T1016": ("System Network Configuration Discovery", (_DI,)),
    "T1018": ("Remote System Discovery", (_DI,)),
    "T1021": ("Remote Services", (_LM,)),
    "T1021.001": ("Remote Services: Remote Desktop Protocol", (_LM,)),
    "T1021.002": ("Remote Services: SMB/Windows Admin Shares", (_LM,)),
    "T1021.003": ("Remote Services: Distributed Component Object Model", (_LM,)),
    "T1021.004": ("Remote Services: SSH", (_LM,)),
    "T1021.006": ("Remote Services: Windows Remote Management", (_LM,)),
    "T1027": ("Obfuscated Files or Information", (_DE,)),
    "T1033": ("System Owner/User Discovery", (_DI,)),
    "T1036": ("Masquerading", (_DE,)),
    "T1036.005": ("Masquerading: Match Legitimate Name or Location", (_DE,)),
    "T1040": ("Network Sniffing", (_CA, _DI)),
    "T1041": ("Exfiltration Over C2 Channel", (_EF,)),
    "T1046": ("Network Service Discovery", (_DI,)),
    "T1047": ("Windows Management Instrumentation", (_EX,)),
    "T1048": ("Exfiltration Over Alternative Protocol", (_EF,)),
    "T1049": ("System Network Connections Discovery", (_DI,)),
    "T1053": ("Scheduled Task/Job", (_EX, _PE, _PR)),
    "T1053.003": ("Scheduled Task/Job: Cron", (_EX, _PE, _PR)),
    "T1053.005": ("Scheduled Task/Job: Scheduled Task", (_EX, _PE, _PR)),
    "T1055": ("Process Injection", (_DE, _PR)),
    "T1057": ("Process Discovery", (_DI,)),
    "T1059": ("Command and Scripting Interpreter", (_EX,)),
    "T1059.001": ("Command and Scripting Interpreter: PowerShell", (_EX,)),
    "T1059.003": ("Command and Scripting Interpreter: Windows Command Shell", (_EX,)),
    "T1059.004": ("Command and Scripting Interpreter: Unix Shell", (_EX,)),
    "T1059.005": ("Command and Scripting Interpreter: Visual Basic", (_EX,)),
    "T1059.007": ("Command and Scripting Interpreter: JavaScript", (_EX,)),
    "T1068": ("Exploitation for Privilege Escalation", (_PR,)),
    "T1069": ("Permission Groups Discovery", (_DI,)),
    "T1069.002": ("Permission Groups Discovery: Domain Groups", (_DI,)),
    "T1070": ("Indicator Removal", (_DE,)),
    "T1070.001": ("Indicator Removal: Clear Windows Event Logs", (_DE,)),
    "T1070.002": ("Indicator Removal: Clear Linux or Mac System Logs", (_DE,)),
    "T1070.003": ("Indicator Removal: Clear Command History", (_DE,)),
    "T1070.004": ("Indicator Removal: File Deletion", (_DE,)),
    "T1070.006": ("Indicator Removal: Timestomp", (_DE,)),
    "T1071": ("Application Layer Protocol", (_C2,)),
    "T1071.001": ("Application Layer Protocol: Web Protocols", (_C2,)),
    "T1071.004": ("Application Layer Protocol: DNS", (_C2,)),
    "T1078": ("Valid Accounts", (_DE, _PE, _PR, _IA)),
    "T1078.002": ("Valid Accounts: Domain Accounts", (_DE, _PE, _PR, _IA)),
    "T1078.003": ("Valid Accounts: Local Accounts", (_DE, _PE, _PR, _IA)),
    "T1082": ("System Information Discovery", (_DI,)),
    "T1083": ("File and Directory Discovery", (_DI,)),
    "T1087": ("Account Discovery", (_DI,)),
    "T1087.001": ("Account Discovery: Local Account", (_DI,)),
    "T1087.002": ("Account Discovery: Domain Account", (_DI,)),
    "T1090": ("Proxy", (_C2,)),
    "T1095": ("Non-Application Layer Protocol", (_C2,)),
    "T1098": ("Account Manipulation", (_PE, _PR)),
    "T1105": ("Ingress Tool Transfer", (_C2,)),
    "T1110": ("Brute Force", (_CA,)),
    "T1110.001": ("Brute Force: Password Guessing", (_CA,)),
    "T1110.003": ("Brute Force: Password Spraying", (_CA,)),
    "T1112": ("Modify Registry", (_DE,)),
    "T1132": ("Data Encoding", (_C2,)),
    "T1132.001": ("Data Encoding: Standard Encoding", (_C2,)),
    "T1133": ("External Remote Services", (_PE, _IA)),
    "T1134": ("Access Token Manipulation", (_DE, _PR)),
    "T1135": ("Network Share Discovery", (_DI,)),
    "T1136": ("Create Account", (_PE,)),
    "T1136.001": ("Create Account: Local Account", (_PE,)),
    "T1136.002": ("Create Account: Domain Account", (_PE,)),
    "T1140": ("Deobfuscate/Decode Files or Information", (_DE,)),
    "T1189": ("Drive-by Compromise", (_IA,)),
    "T1190": ("Exploit Public-Facing Application", (_IA,)),
    "T1197": ("BITS Jobs", (_DE, _PE)),
    "T1201": ("Password Policy Discovery", (_DI,)),
    "T1202": ("Indirect Command Execution", (_DE,)),
    "T1204": ("User Execution", (_EX,)),
    "T1204.002": ("User Execution: Malicious File", (_EX,)),
    "T1218": ("System Binary Proxy Execution", (_DE,)),
    "T1218.005": ("System Binary Proxy Execution: Mshta", (_DE,)),
    "T1218.010": ("System Binary Proxy Execution: Regsvr32", (_DE,)),
    "T1218.011": ("System Binary Proxy Execution: Rundll32", (_DE,)),
    "T1219": ("Remote Access Software", (_C2,)),
    "T1482": ("Domain Trust Discovery", (_DI,)),
    "T1485": ("Data Destruction", (_IM,)),
    "T1486": ("Data Encrypted for Impact", (_IM,)),
    "T1489": ("Service Stop", (_IM,)),
    "T1490": ("Inhibit System Recovery", (_IM,)),
    "T1491": ("Defacement", (_IM,)),
    "T1505.003": ("Server Software Component: Web Shell", (_PE,)),
    "T1518": ("Software Discovery", (_DI,)),
    "T1529": ("System Shutdown/Reboot", (_IM,)),
    "T1531": ("Account Access Removal", (_IM,)),
    "T1543": ("Create or Modify System Process", (_PE, _PR)),
    "T1543.003": ("Create or Modify System Process: Windows Service", (_PE, _PR)),
    "T1546": ("Event Triggered Execution", (_PR, _PE)),
    "T1546.003": ("Event Triggered Execution: WMI Event Subscription", (_PR, _PE)),
    "T1547": ("Boot or Logon Autostart Execution", (_PE, _PR)),
    "T1547.001": ("Boot or Logon Autostart Execution: Registry Run Keys / Startup Folder", (_PE, _PR)),
    "T1548": ("Abuse Elevation Control Mechanism", (_PR, _DE)),
    "T1548.002": ("Abuse Elevation Control Mechanism: Bypass User Account Control", (_PR, _DE)),
    "T1548.003": ("Abuse Elevation Control Mechanism: Sudo and Sudo Caching", (_PR, _DE)),
    "T1550": ("Use Alternate Authentication Material", (_DE, _LM)),
    "T1550.002": ("Use Alternate Authentication Material: Pass the Hash", (_DE, _LM)),
    "T1550.003": ("Use Alternate Authentication Material: Pass the Ticket", (_DE, _LM)),
    "T1552": ("Unsecured Credentials", (_CA,)),
    "T1555": ("Credentials from Password Stores", (_CA,)),
    "T1558": ("Steal or Forge Kerberos Tickets", (_CA,)),
    "T1558.003": ("Steal or Forge Kerberos Tickets: Kerberoasting", (_CA,)),
    "T1560": ("Archive Collected Data", (_CO,)),
    "T1560.001": ("Archive Collected Data: Archive via Utility", (_CO,)),
    "T1562": ("Impair Defenses", (_DE,)),
    "T1562.001": ("Impair Defenses: Disable or Modify Tools", (_DE,)),
    "T1562.002": ("Impair Defenses: Disable Windows Event Logging", (_DE,)),
    "T1562.004": ("Impair Defenses: Disable or Modify System Firewall", (_DE,)),
    "T1563.002": ("Remote Service Session Hijacking: RDP Hijacking", (_LM,)),
    "T1564": ("Hide Artifacts", (_DE,)),
    "T1564.001": ("Hide Artifacts: Hidden Files and Directories", (_DE,)),
    "T1564.003": ("Hide Artifacts: Hidden Window", (_DE,)),
    "T1566": ("Phishing", (_IA,)),
    "T1566.001": ("Phishing: Spearphishing Attachment", (_IA,)),
    "T1567": ("Exfiltration Over Web Service", (_EF,)),
    "T1567.002": ("Exfiltration Over Web Service: Exfiltration to Cloud Storage", (_EF,)),
    "T1569": ("System Services", (_EX,)),
    "T1569.002": ("System Services: Service Execution", (_EX,)),
    "T1570": ("Lateral Tool Transfer", (_LM,)),
    "T1572": ("Protocol Tunneling", (_C2,)),
    "T1573": ("Encrypted Channel", (_C2,)),
    "T1583": ("Acquire Infrastructure", (_RD,)),
    "T1588.002": ("Obtain Capabilities: Tool", (_RD,)),
    "T1620": ("Reflective Code Loading", (_DE,)),
}

_TECH_RE = re.compile(r"^t?(\d{4})(?:\.(\d{3}))?$", re.IGNORECASE)


def norm_technique(tag: str) -> str | None:
    """``attack.t1059.001`` / ``T1059.001`` / ``t1059`` → ``T1059.001``; None when not a technique."""
    s = tag.strip()
    if s.lower().startswith("attack."):
        s = s[7:]
    m = _TECH_RE.match(s)
    if not m:
        return None
    return f"T{m.group(1)}" + (f".{m.group(2)}" if m.group(2) else "")


def norm_tactic(tag: str) -> str | None:
    """``attack.lateral_movement`` / ``Lateral Movement`` → ``lateral-movement``; None when unknown."""
    s = tag.strip().lower()
    if s.startswith("attack."):
        s = s[7:]
    s = s.replace("_", "-").replace(" ", "-")
    if s in TACTIC_ORDER:
        return s
    for short, tid, _ in TACTICS:
        if s == tid.lower():
            return short
    return None


def technique_name(tid: str) -> str:
    """Name of a technique, falling back to its parent's name, then to the id itself."""
    hit = TECHNIQUES.get(tid)
    if hit:
        return hit[0]
    parent = TECHNIQUES.get(tid.split(".")[0])
    return f"{parent[0]} ({tid})" if parent else tid


def technique_tactics(tid: str) -> tuple[str, ...]:
    """Tactics of a technique (its parent's when the sub-technique is not in the table)."""
    hit = TECHNIQUES.get(tid) or TECHNIQUES.get(tid.split(".")[0])
    return hit[1] if hit else ()


def tactics_for(techniques: list[str], tactics: list[str]) -> list[str]:
    """The tactics of a finding, in kill-chain order: its own tags, else those of its techniques."""
    own = {t for t in (norm_tactic(x) for x in tactics) if t}
    if not own:
        for tech in techniques:
            nt = norm_technique(tech)
            if nt:
                own.update(technique_tactics(nt))
    return sorted(own, key=lambda t: TACTIC_ORDER.get(t, 99))


def phase_rank(tactic: str | None) -> int:
    """Position of a tactic in the kill chain (unknown tactics last)."""
    return TACTIC_ORDER.get(tactic or "", len(TACTICS))
