"""Shared by every Windows event source: core columns from native fields, and categories.

EVTX, wevtutil XML, evtx-JSON and Beats exports all end up as (System fields, event data
fields); this module turns those into core columns so every Windows source fills them alike.
"""

from __future__ import annotations

from typing import Any

from forensics.ingest.base import Row

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"

# Sysmon event id -> Sigma log-source category.
SYSMON_CATEGORIES: dict[int, str] = {
    1: "process_creation",
    2: "file_change",
    3: "network_connection",
    4: "sysmon_status",
    5: "process_termination",
    6: "driver_load",
    7: "image_load",
    8: "create_remote_thread",
    9: "raw_access_thread",
    10: "process_access",
    11: "file_event",
    12: "registry_add",  # or registry_delete, by EventType (see category_for)
    13: "registry_set",
    14: "registry_rename",
    15: "create_stream_hash",
    16: "sysmon_status",
    17: "pipe_created",
    18: "pipe_created",
    19: "wmi_event",
    20: "wmi_event",
    21: "wmi_event",
    22: "dns_query",
    23: "file_delete",
    24: "clipboard_capture",
    25: "process_tampering",
    26: "file_delete",
    27: "file_block_executable",
    28: "file_block_shredding",
    29: "file_executable_detected",
    255: "sysmon_error",
}

# (channel, event id) -> category for the non-Sysmon channels Sigma pipelines map.
CHANNEL_CATEGORIES: dict[tuple[str, int], str] = {
    ("Security", 4688): "process_creation",
    ("Microsoft-Windows-PowerShell/Operational", 4104): "ps_script",
    ("Microsoft-Windows-PowerShell/Operational", 4103): "ps_module",
    ("PowerShellCore/Operational", 4104): "ps_script",
    ("PowerShellCore/Operational", 4103): "ps_module",
    ("Windows PowerShell", 400): "ps_classic_start",
    ("Windows PowerShell", 600): "ps_classic_provider_start",
    ("Windows PowerShell", 800): "ps_classic_script",
}


def category_for(channel: str | None, event_id: int | None, data: dict[str, Any]) -> str | None:
    """The Sigma category of a Windows event, or None."""
    if channel is None or event_id is None:
        return None
    if channel == SYSMON_CHANNEL:
        cat = SYSMON_CATEGORIES.get(event_id)
        if event_id == 12 and str(data.get("EventType", "")).lower().startswith(
            "delete"
        ):  # DeleteKey/DeleteValue
            return "registry_delete"
        return cat
    return CHANNEL_CATEGORIES.get((channel, event_id))


def _first(data: dict[str, Any], *names: str) -> Any:
    for n in names:
        v = data.get(n)
        if v not in (None, "", "-"):
            return v
    return None


def _int(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, int):
        return v
    s = str(v).strip()
    try:
        return int(s, 16) if s.lower().startswith("0x") else int(s)
    except ValueError:
        return None


def _split_hashes(hashes: str, row: Row) -> None:
    """Sysmon ``Hashes``: ``SHA1=..,MD5=..,SHA256=..,IMPHASH=..`` into hash columns."""
    for part in hashes.split(","):
        algo, _, value = part.partition("=")
        algo = algo.strip().upper()
        if algo in ("MD5", "SHA1", "SHA256"):
            row["hash_" + algo.lower()] = value.strip().lower()


_CORE_SOURCES = frozenset(
    (
        "TargetUserName", "User", "SubjectUserName", "UserName", "AccountName", "TargetUserSid",
        "SubjectUserSid", "UserSid", "Image", "NewProcessName", "ProcessName", "Application", "SourceImage",
        "CommandLine", "ScriptBlockText", "ProcessId", "NewProcessId", "SourceProcessId", "ParentImage",
        "ParentProcessName", "ParentCommandLine", "ParentProcessId", "IpAddress", "SourceIp",
        "SourceAddress", "ClientAddress", "SourceNetworkAddress", "IpPort", "SourcePort", "DestinationIp",
        "DestAddress", "DestinationPort", "DestPort", "TargetFilename", "ObjectName", "ImageLoaded",
        "ServiceFileName", "ImagePath", "Hashes", "Hash",
    )
)  # fmt: skip


def fill_core(row: Row, data: dict[str, Any]) -> None:
    """Fill user, process, network, file and hash core columns from native event data."""
    if _CORE_SOURCES.isdisjoint(data):
        return
    user = _first(data, "TargetUserName", "User", "SubjectUserName", "UserName", "AccountName")
    if user is not None:
        user = str(user)
        domain = _first(data, "TargetDomainName", "SubjectDomainName", "DomainName")
        if "\\" in user and domain is None:
            domain, _, user = user.partition("\\")
        row["user_name"] = user
        if domain is not None:
            row["user_domain"] = str(domain)
    sid = _first(data, "TargetUserSid", "SubjectUserSid", "UserSid")
    if sid is not None:
        row["user_sid"] = str(sid)
    image = _first(data, "Image", "NewProcessName", "ProcessName", "Application", "SourceImage")
    if image is not None:
        row["process_image"] = str(image)
    cmd = _first(data, "CommandLine", "ScriptBlockText")
    if cmd is not None:
        row["process_cmdline"] = str(cmd)
    pid = _int(_first(data, "ProcessId", "NewProcessId", "SourceProcessId"))
    if pid is not None:
        row["process_pid"] = pid
    parent = _first(data, "ParentImage", "ParentProcessName")
    if parent is not None:
        row["parent_image"] = str(parent)
    pcmd = data.get("ParentCommandLine")
    if pcmd not in (None, ""):
        row["parent_cmdline"] = str(pcmd)
    ppid = _int(_first(data, "ParentProcessId")) if "ParentProcessId" in data else None
    if ppid is None and "NewProcessId" in data:  # 4688: the creator is ProcessId
        ppid = _int(data.get("ProcessId"))
    if ppid is not None:
        row["parent_pid"] = ppid
    src = _first(data, "IpAddress", "SourceIp", "SourceAddress", "ClientAddress", "SourceNetworkAddress")
    if src is not None:
        row["src_ip"] = str(src)
    sport = _int(_first(data, "IpPort", "SourcePort"))
    if sport is not None and 0 <= sport < 65536:
        row["src_port"] = sport
    dst = _first(data, "DestinationIp", "DestAddress")
    if dst is not None:
        row["dst_ip"] = str(dst)
    dport = _int(_first(data, "DestinationPort", "DestPort"))
    if dport is not None and 0 <= dport < 65536:
        row["dst_port"] = dport
    path = _first(data, "TargetFilename", "ObjectName", "ImageLoaded", "ServiceFileName", "ImagePath")
    if path is not None:
        row["file_path"] = str(path)
    hashes = data.get("Hashes") or data.get("Hash")
    if hashes:
        _split_hashes(str(hashes), row)
