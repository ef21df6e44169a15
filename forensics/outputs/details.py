"""A readable Details text for one event: a rule's template, else the key fields of its event type.

Hayabusa rules carry a ``details`` template (``Cmdline: %CommandLine% ¦ User: %User%``); a
record's Details is the template with each ``%Field%`` replaced by the record's value (``-``
when it has none; ``%Data[2]%`` is the second unnamed ``<Data>`` value, which our schema joins
with newlines in column ``Data``). Without a template, the key fields of the event type speak:
a Hayabusa rule set's ``default_details`` when the hunt used one, else ours (``KEY_FIELDS``,
field names as the event writes them), else every field the event has.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from forensics.schema import CORE_NAMES

SEP = " ¦ "
MISSING = "-"
MAX_CHARS = 32_000  # below Excel's 32,767 characters per cell
_PLACEHOLDER = re.compile(r"%([A-Za-z0-9_.\- ]+?)(?:\[(\d+)\])?%")
SYSMON = "Microsoft-Windows-Sysmon/Operational"
POWERSHELL = "Microsoft-Windows-PowerShell/Operational"

# The fields that say what an event is about, per (channel, event id): facts about the events
# Windows writes, in the order a responder reads them. Rendered "Field: value".
KEY_FIELDS: dict[tuple[str, int], tuple[str, ...]] = {
    ("Security", 1102): ("SubjectUserName", "SubjectDomainName"),
    ("Security", 4624): ("LogonType", "TargetUserName", "TargetDomainName", "WorkstationName", "IpAddress",
                         "IpPort", "LogonProcessName", "AuthenticationPackageName", "TargetLogonId"),
    ("Security", 4625): ("LogonType", "TargetUserName", "TargetDomainName", "WorkstationName", "IpAddress",
                         "Status", "SubStatus", "FailureReason", "ProcessName"),
    ("Security", 4634): ("TargetUserName", "TargetDomainName", "LogonType", "TargetLogonId"),
    ("Security", 4647): ("TargetUserName", "TargetDomainName", "TargetLogonId"),
    ("Security", 4648): ("SubjectUserName", "TargetUserName", "TargetServerName", "TargetInfo", "IpAddress",
                         "ProcessName"),
    ("Security", 4672): ("SubjectUserName", "SubjectDomainName", "SubjectLogonId", "PrivilegeList"),
    ("Security", 4688): ("NewProcessName", "CommandLine", "ParentProcessName", "SubjectUserName",
                         "TargetUserName", "NewProcessId", "SubjectLogonId"),
    ("Security", 4689): ("ProcessName", "SubjectUserName", "ProcessId"),
    ("Security", 4697): ("ServiceName", "ServiceFileName", "ServiceType", "ServiceStartType", "ServiceAccount",
                         "SubjectUserName"),
    ("Security", 4698): ("TaskName", "SubjectUserName", "TaskContent"),
    ("Security", 4699): ("TaskName", "SubjectUserName"),
    ("Security", 4700): ("TaskName", "SubjectUserName"),
    ("Security", 4701): ("TaskName", "SubjectUserName"),
    ("Security", 4702): ("TaskName", "SubjectUserName", "TaskContentNew"),
    ("Security", 4719): ("SubjectUserName", "CategoryId", "SubcategoryId", "AuditPolicyChanges"),
    ("Security", 4720): ("TargetUserName", "TargetDomainName", "TargetSid", "SubjectUserName"),
    ("Security", 4722): ("TargetUserName", "TargetDomainName", "SubjectUserName"),
    ("Security", 4723): ("TargetUserName", "TargetDomainName", "SubjectUserName"),
    ("Security", 4724): ("TargetUserName", "TargetDomainName", "SubjectUserName"),
    ("Security", 4725): ("TargetUserName", "TargetDomainName", "SubjectUserName"),
    ("Security", 4726): ("TargetUserName", "TargetDomainName", "SubjectUserName"),
    ("Security", 4728): ("MemberName", "MemberSid", "TargetUserName", "SubjectUserName"),
    ("Security", 4732): ("MemberName", "MemberSid", "TargetUserName", "SubjectUserName"),
    ("Security", 4738): ("TargetUserName", "TargetDomainName", "SubjectUserName", "UserAccountControl"),
    ("Security", 4740): ("TargetUserName", "TargetDomainName", "SubjectUserName"),
    ("Security", 4756): ("MemberName", "MemberSid", "TargetUserName", "SubjectUserName"),
    ("Security", 4768): ("TargetUserName", "TargetDomainName", "ServiceName", "IpAddress", "Status",
                         "PreAuthType", "TicketEncryptionType"),
    ("Security", 4769): ("TargetUserName", "ServiceName", "IpAddress", "Status", "TicketEncryptionType",
                         "TicketOptions"),
    ("Security", 4771): ("TargetUserName", "ServiceName", "IpAddress", "Status", "PreAuthType"),
    ("Security", 4776): ("TargetUserName", "Workstation", "Status", "PackageName"),
    ("Security", 4778): ("AccountName", "AccountDomain", "ClientName", "ClientAddress", "LogonID"),
    ("Security", 4779): ("AccountName", "AccountDomain", "ClientName", "ClientAddress", "LogonID"),
    ("Security", 4798): ("TargetUserName", "TargetDomainName", "SubjectUserName", "CallerProcessName"),
    ("Security", 4799): ("TargetUserName", "TargetDomainName", "SubjectUserName", "CallerProcessName"),
    ("Security", 5136): ("SubjectUserName", "ObjectDN", "AttributeLDAPDisplayName", "AttributeValue",
                         "OperationType"),
    ("Security", 5140): ("SubjectUserName", "ShareName", "ShareLocalPath", "IpAddress"),
    ("Security", 5145): ("SubjectUserName", "ShareName", "RelativeTargetName", "IpAddress", "AccessList"),
    ("Security", 5156): ("Application", "Direction", "SourceAddress", "SourcePort", "DestAddress", "DestPort",
                         "Protocol"),
    ("System", 104): ("Channel_native", "SubjectUserName", "SubjectDomainName"),
    ("System", 7034): ("param1", "param2"),
    ("System", 7036): ("param1", "param2"),
    ("System", 7040): ("param1", "param2", "param3", "param4"),
    ("System", 7045): ("ServiceName", "ImagePath", "ServiceType", "StartType", "AccountName"),
    (SYSMON, 1): ("Image", "CommandLine", "User", "ParentImage", "ParentCommandLine", "ProcessId",
                  "IntegrityLevel", "Hashes"),
    (SYSMON, 2): ("Image", "TargetFilename", "CreationUtcTime", "PreviousCreationUtcTime"),
    (SYSMON, 3): ("Image", "User", "Protocol", "SourceIp", "SourcePort", "DestinationIp", "DestinationPort",
                  "DestinationHostname"),
    (SYSMON, 5): ("Image", "ProcessId"),
    (SYSMON, 6): ("ImageLoaded", "Signed", "Signature", "Hashes"),
    (SYSMON, 7): ("Image", "ImageLoaded", "Signed", "Signature", "Hashes"),
    (SYSMON, 8): ("SourceImage", "TargetImage", "StartAddress", "StartFunction"),
    (SYSMON, 10): ("SourceImage", "TargetImage", "GrantedAccess", "CallTrace"),
    (SYSMON, 11): ("Image", "TargetFilename"),
    (SYSMON, 12): ("EventType", "TargetObject", "Image"),
    (SYSMON, 13): ("EventType", "TargetObject", "Details", "Image"),
    (SYSMON, 14): ("EventType", "TargetObject", "NewName", "Image"),
    (SYSMON, 15): ("Image", "TargetFilename", "Hash"),
    (SYSMON, 17): ("PipeName", "Image"),
    (SYSMON, 18): ("PipeName", "Image"),
    (SYSMON, 22): ("QueryName", "QueryResults", "Image"),
    (SYSMON, 23): ("Image", "TargetFilename", "User"),
    (SYSMON, 25): ("Image", "Type"),
    (SYSMON, 26): ("Image", "TargetFilename", "User"),
    (POWERSHELL, 4103): ("Payload", "ContextInfo"),
    (POWERSHELL, 4104): ("ScriptBlockText", "Path", "ScriptBlockId"),
    ("Windows PowerShell", 400): ("Data",),
    ("Windows PowerShell", 600): ("Data",),
    ("Windows PowerShell", 800): ("Data",),
    ("Microsoft-Windows-TaskScheduler/Operational", 106): ("TaskName", "UserContext"),
    ("Microsoft-Windows-TaskScheduler/Operational", 140): ("TaskName", "UserName"),
    ("Microsoft-Windows-TaskScheduler/Operational", 141): ("TaskName", "UserName"),
    ("Microsoft-Windows-TaskScheduler/Operational", 200): ("TaskName", "ActionName"),
    ("Microsoft-Windows-TaskScheduler/Operational", 201): ("TaskName", "ActionName", "ResultCode"),
    ("Microsoft-Windows-Windows Defender/Operational", 1116): ("Threat Name", "Severity Name", "Path",
                                                               "Process Name", "Detection User"),
    ("Microsoft-Windows-Windows Defender/Operational", 1117): ("Threat Name", "Action Name", "Path",
                                                               "Process Name"),
    ("Microsoft-Windows-TerminalServices-LocalSessionManager/Operational", 21): ("User", "SessionID", "Address"),
    ("Microsoft-Windows-TerminalServices-LocalSessionManager/Operational", 22): ("User", "SessionID", "Address"),
    ("Microsoft-Windows-TerminalServices-LocalSessionManager/Operational", 24): ("User", "SessionID", "Address"),
    ("Microsoft-Windows-TerminalServices-LocalSessionManager/Operational", 25): ("User", "SessionID", "Address"),
    ("Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational", 1149): ("Param1", "Param2",
                                                                                      "Param3"),
    ("Microsoft-Windows-Bits-Client/Operational", 3): ("jobTitle", "jobOwner", "processPath"),
    ("Microsoft-Windows-Bits-Client/Operational", 59): ("name", "url"),
    ("Microsoft-Windows-Bits-Client/Operational", 60): ("name", "url", "hr"),
    ("Microsoft-Windows-WMI-Activity/Operational", 5861): ("Namespace", "ESS", "CONSUMER", "PossibleCause"),
}  # fmt: skip

# Security 4624/4625/4634 LogonType numbers and what Windows calls them.
LOGON_TYPES = {"0": "System", "2": "Interactive", "3": "Network", "4": "Batch", "5": "Service", "7": "Unlock",
               "8": "NetworkCleartext", "9": "NewCredentials", "10": "RemoteInteractive",
               "11": "CachedInteractive", "12": "CachedRemoteInteractive", "13": "CachedUnlock"}  # fmt: skip

# Fields every row has that say nothing about what happened (bookkeeping and System header).
_NOT_DETAILS = {c.lower() for c in CORE_NAMES} | {
    "version", "level", "task", "opcode", "keywords", "qualifiers", "provider_guid", "execution_processid",
    "execution_threadid", "security_userid", "correlation_activityid", "correlation_relatedactivityid",
    "eventrecordid", "provider_native",
}  # fmt: skip


@dataclass(frozen=True)
class DetailsConfig:
    """What a hunt's rule sets say about rendering (a Hayabusa set's config), empty otherwise."""

    aliases: Mapping[str, str] = field(default_factory=dict)  # lower-case template field -> column
    default_details: Mapping[tuple[str, int], str] = field(default_factory=dict)  # (provider, eid)
    value_maps: Mapping[tuple[str, int], Mapping[str, Mapping[str, str]]] = field(default_factory=dict)


def template_fields(template: str) -> list[str]:
    """Field names a template reads (``%Data[2]%`` reads ``Data``)."""
    return [p[0] for p in compile_template(template) if isinstance(p, tuple)]


@functools.lru_cache(maxsize=4096)
def compile_template(template: str) -> tuple[str | tuple[str, int | None], ...]:
    """A template as literal text and (field, index) parts, parsed once however many rows use it."""
    parts: list[str | tuple[str, int | None]] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(template):
        if m.start() > pos:
            parts.append(template[pos : m.start()])
        parts.append((m.group(1), int(m.group(2)) if m.group(2) else None))
        pos = m.end()
    if pos < len(template):
        parts.append(template[pos:])
    return tuple(parts)


def key_fields(channel: str | None, event_id: int | None) -> tuple[str, ...] | None:
    """Our key fields for an event type, or None when we have none."""
    if channel is None or event_id is None:
        return None
    return KEY_FIELDS.get((channel, int(event_id)))


def render_template(template: str, value: Callable[[str, int | None], Any]) -> str:
    """``template`` with ``%Field%`` replaced by ``value(field, index)`` (index for ``%Data[n]%``)."""
    out = []
    for part in compile_template(template):
        if isinstance(part, str):
            out.append(part)
        else:
            got = value(*part)
            out.append(MISSING if got is None or got == "" else str(got))
    return clip("".join(out))


def render_fields(names: Iterable[str], record: Mapping[str, Any]) -> str:
    """``Field: value ¦ ...`` for the names the record has a value for."""
    parts = []
    for n in names:
        v = lookup(record, n)
        if v is not None and v != "":
            parts.append(f"{n}: {_show(n, v)}")
    return clip(SEP.join(parts))


def render_all(record: Mapping[str, Any]) -> str:
    """Every field of the record that is about the event (not bookkeeping), ``Field: value ¦ ...``."""
    names = sorted(
        k for k, v in record.items() if v is not None and v != "" and k.lower() not in _NOT_DETAILS
    )
    body = render_fields(names, record)
    return body or clip(str(record.get("message") or MISSING))


def lookup(record: Mapping[str, Any], name: str, index: int | None = None) -> Any:
    """A record's value for a field name (exact, else lower-case key), the index-th line for ``Data[n]``."""
    v = record.get(name)
    if v is None:
        v = record.get(name.lower())
    if v is not None and index is not None:
        lines = str(v).split("\n")
        return lines[index - 1] if 0 < index <= len(lines) else None
    return v


def _show(name: str, value: Any) -> str:
    if name == "LogonType" and str(value) in LOGON_TYPES:
        return f"{value} ({LOGON_TYPES[str(value)]})"
    return str(value)


def clip(text: str) -> str:
    """Keep a cell within what a spreadsheet holds, saying when it was cut."""
    if len(text) <= MAX_CHARS:
        return text
    return text[: MAX_CHARS - 40] + f" … [{len(text) - MAX_CHARS + 40} characters cut]"
