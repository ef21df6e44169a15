"""Our Sigma processing pipeline: which rows a log source means, and which column a field is.

A Sigma rule names its log source as (product, category, service). Here each becomes a SQL
predicate over the core columns ``source``, ``channel``, ``provider``, ``category`` and
``event_id`` — the columns every parser fills — so a rule for ``process_creation`` sees Sysmon 1,
Security 4688, auditd EXECVE and EDR process rows alike. Field names map to columns by name
(case-insensitive, as DuckDB resolves them), plus a few aliases: Sigma's ``EventID`` is our
``event_id``, and for the generic process fields a Security 4688 or EDR row that lacks the Sysmon
spelling falls back to the core column every source fills.

The tables are data (facts about Windows channel names and Sigma's taxonomy), written here
rather than imported from pySigma's Windows pipeline package because that package emits
backend-specific processing items we do not use and is not installed.
"""

from __future__ import annotations

from dataclasses import dataclass

from forensics.hunt.sigma.sqlutil import quote_str

SYSMON = "Microsoft-Windows-Sysmon/Operational"

# Sigma ``service`` for product windows -> the EVTX channel(s) it means.
WINDOWS_SERVICES: dict[str, tuple[str, ...]] = {
    "security": ("Security",),
    "system": ("System",),
    "application": ("Application",),
    "sysmon": (SYSMON,),
    "powershell": ("Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"),
    "powershell-classic": ("Windows PowerShell",),
    "taskscheduler": ("Microsoft-Windows-TaskScheduler/Operational",),
    "wmi": ("Microsoft-Windows-WMI-Activity/Operational",),
    "dns-server": ("DNS Server",),
    "dns-server-analytic": ("Microsoft-Windows-DNS-Server/Analytical",),
    "dns-server-audit": ("Microsoft-Windows-DNS-Server/Audit",),
    "driver-framework": ("Microsoft-Windows-DriverFrameworks-UserMode/Operational",),
    "ntlm": ("Microsoft-Windows-NTLM/Operational",),
    "windefend": ("Microsoft-Windows-Windows Defender/Operational",),
    "firewall-as": ("Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",),
    "bits-client": ("Microsoft-Windows-Bits-Client/Operational",),
    "codeintegrity-operational": ("Microsoft-Windows-CodeIntegrity/Operational",),
    "applocker": (
        "Microsoft-Windows-AppLocker/MSI and Script",
        "Microsoft-Windows-AppLocker/EXE and DLL",
        "Microsoft-Windows-AppLocker/Packaged app-Deployment",
        "Microsoft-Windows-AppLocker/Packaged app-Execution",
    ),
    "msexchange-management": ("MSExchange Management",),
    "appxdeployment-server": ("Microsoft-Windows-AppXDeploymentServer/Operational",),
    "appxpackaging-om": ("Microsoft-Windows-AppxPackaging/Operational",),
    "dns-client": ("Microsoft-Windows-DNS Client Events/Operational",),
    "iis-configuration": ("Microsoft-IIS-Configuration/Operational",),
    "security-mitigations": (
        "Microsoft-Windows-Security-Mitigations/Kernel Mode",
        "Microsoft-Windows-Security-Mitigations/User Mode",
    ),
    "microsoft-servicebus-client": ("Microsoft-ServiceBus-Client",),
    "terminalservices-localsessionmanager": (
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    ),
    "shell-core": ("Microsoft-Windows-Shell-Core/Operational",),
    "certificateservicesclient-lifecycle-system": (
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
    ),
    "ldap": ("Microsoft-Windows-LDAP-Client/Debug",),
    "ldap_debug": ("Microsoft-Windows-LDAP-Client/Debug",),
    "appmodel-runtime": ("Microsoft-Windows-AppModel-Runtime/Admin",),
    "smbclient-security": ("Microsoft-Windows-SmbClient/Security",),
    "smbclient-connectivity": ("Microsoft-Windows-SmbClient/Connectivity",),
    "smbserver-connectivity": ("Microsoft-Windows-SMBServer/Connectivity",),
    "diagnosis-scripted": ("Microsoft-Windows-Diagnosis-Scripted/Operational",),
    "lsa-server": ("Microsoft-Windows-LSA/Operational",),
    "openssh": ("OpenSSH/Operational",),
    "capi2": ("Microsoft-Windows-CAPI2/Operational",),
    "printservice-admin": ("Microsoft-Windows-PrintService/Admin",),
    "printservice-operational": ("Microsoft-Windows-PrintService/Operational",),
    "kernel-shimengine": ("Microsoft-Windows-Kernel-ShimEngine/Operational",),
    "kernel-event-tracing": ("Microsoft-Windows-Kernel-EventTracing/Admin",),
    "vhdmp": ("Microsoft-Windows-VHDMP-Operational",),
    "appxdeployment": ("Microsoft-Windows-AppXDeployment/Operational",),
    "hyper-v-worker": ("Microsoft-Windows-Hyper-V-Worker",),
    "sysmon-operational": (SYSMON,),
    "wmi-activity": ("Microsoft-Windows-WMI-Activity/Operational",),
}

# Windows Defender (Sigma category ``antivirus``): detection event ids in its channel.
DEFENDER_DETECTION_IDS = (1006, 1007, 1008, 1009, 1010, 1116, 1117, 1118, 1119)

# Sigma categories that span several row categories.
CATEGORY_UNIONS: dict[str, tuple[str, ...]] = {
    "registry_event": ("registry_add", "registry_delete", "registry_set", "registry_rename"),
}

# Sources that hold only Windows event logs (parsers' ``name`` in forensics.ingest), and channels
# that hold only Linux logs: a windows rule by category must not run over a Linux row and the
# other way round. EDR sources (mde, fdr, s1, ecs, mapped) hold both and pass either way.
WINDOWS_SOURCES = ("evtx", "winxml", "evtxjson", "hayabusa", "winbeats")
LINUX_CHANNELS = ("auditd", "auth", "syslog", "journal", "cron", "secure", "messages", "kern")

# Sigma ``service`` for product linux -> (channels, providers); either set may be empty.
LINUX_SERVICES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "auditd": (("auditd",), ()),
    "auth": (("auth", "secure"), ()),
    "syslog": (("syslog", "messages", "journal"), ()),
    "sshd": ((), ("sshd",)),
    "sudo": ((), ("sudo",)),
    "cron": ((), ("cron", "CRON", "crond", "anacron")),
    "clamav": ((), ("clamd", "freshclam", "clamav")),
    "vsftpd": ((), ("vsftpd",)),
    "guacamole": ((), ("guacd", "guacamole")),
    "su": ((), ("su",)),
    "useradd": ((), ("useradd",)),
}


@dataclass(frozen=True)
class LogSource:
    """A rule's log source turned into a row predicate (or the reason it cannot be)."""

    label: str  # product/category/service as the report shows it
    predicate: str | None  # SQL over core columns; None when unsupported
    reason: str | None = None  # why unsupported
    # per-row conditions on event fields, ANDed to every rule of the log source:
    # (field, lower-case prefix, True = must start with it / False = must not)
    field_prefixes: tuple[tuple[str, str, bool], ...] = ()


# Sysmon 12 covers key/value creation and deletion; Sigma's registry_delete means EventType
# DeleteKey *or* DeleteValue (SigmaHQ's regression data has DeleteValue events for it), while the
# ingest category only marks DeleteKey. Rows are re-split here by EventType.
_REGISTRY_SPLIT: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str, bool], ...]]] = {
    "registry_delete": (("registry_delete", "registry_add"), (("EventType", "delete", True),)),
    "registry_add": (("registry_add",), (("EventType", "delete", False),)),
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(quote_str(v) for v in values)})"


def _label(product: str | None, category: str | None, service: str | None) -> str:
    return "/".join(p or "-" for p in (product, category, service))


def map_logsource(product: str | None, category: str | None, service: str | None) -> LogSource:
    """The row predicate for a Sigma log source."""
    product = product.lower() if product else None
    category = category.lower() if category else None
    service = service.lower() if service else None
    label = _label(product, category, service)
    parts: list[str] = []
    prefixes: tuple[tuple[str, str, bool], ...] = ()
    if category:
        if category == "antivirus":
            chans = WINDOWS_SERVICES["windefend"]
            ids = ", ".join(str(i) for i in DEFENDER_DETECTION_IDS)
            parts.append(f"(category = 'antivirus' OR ({_in('channel', chans)} AND event_id IN ({ids})))")
        elif category in _REGISTRY_SPLIT:
            cats, prefixes = _REGISTRY_SPLIT[category]
            parts.append(_in("category", cats))
        else:
            cats = CATEGORY_UNIONS.get(category, (category,))
            parts.append(_in("category", cats))
    if service:
        if product in (None, "windows") and service in WINDOWS_SERVICES:
            parts.append(_in("channel", WINDOWS_SERVICES[service]))
        elif product == "linux" and service in LINUX_SERVICES:
            chans, provs = LINUX_SERVICES[service]
            alts = [_in("channel", chans)] if chans else []
            if provs:
                alts.append(_in("provider", provs))
            parts.append("(" + " OR ".join(alts) + ")")
        else:
            return LogSource(
                label, None, f"log source service '{service}' of product '{product}' is not mapped"
            )
    if product == "windows":
        if not service:
            parts.append(f"({_in('source', WINDOWS_SOURCES)} OR NOT {_in('channel', LINUX_CHANNELS)})")
    elif product == "linux":
        if not service:
            parts.append(f"NOT {_in('source', WINDOWS_SOURCES)}")
    elif product is not None and not category:
        return LogSource(label, None, f"log source product '{product}' is not collected by any parser")
    if not parts:
        return LogSource(label, None, "log source names neither product, category nor service")
    return LogSource(label, " AND ".join(parts), field_prefixes=prefixes)


# Sigma field (lower-case) -> columns to try, first present non-null wins (coalesce).
# Core columns are the fallback every parser fills (Security 4688, EDR, auditd rows).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "eventid": ("event_id",),
    "channel": ("channel",),
    "provider_name": ("provider",),
    "computer": ("host",),
    "computername": ("host", "ComputerName"),
    "image": ("Image", "NewProcessName", "process_image"),
    "commandline": ("CommandLine", "process_cmdline"),
    "parentimage": ("ParentImage", "ParentProcessName", "parent_image"),
    "parentcommandline": ("ParentCommandLine", "parent_cmdline"),
}

# Log-source categories where the process aliases apply (elsewhere Image means what the event says).
PROCESS_ALIAS_CATEGORIES = ("process_creation",)


def field_candidates(field: str, category: str | None) -> tuple[str, ...]:
    """Columns a Sigma field may live in, most specific first."""
    low = field.lower()
    alias = FIELD_ALIASES.get(low)
    if alias is None:
        return (field,)
    if (
        low in ("image", "commandline", "parentimage", "parentcommandline")
        and category not in PROCESS_ALIAS_CATEGORIES
    ):
        return (field,)
    return alias
