"""Shared by every Windows event source: core columns from native fields, and categories.

EVTX, wevtutil XML, evtx-JSON and Beats exports all end up as (System fields, event data
fields); this module turns those into core columns so every Windows source fills them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

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


def _port(v: Any) -> int | None:
    x = _int(v)
    return x if x is not None and 0 <= x < 65536 else None


def _split_hashes(hashes: str, row: Row) -> None:
    """Sysmon ``Hashes``: ``SHA1=..,MD5=..,SHA256=..,IMPHASH=..`` into hash columns."""
    for part in hashes.split(","):
        algo, _, value = part.partition("=")
        algo = algo.strip().upper()
        if algo in ("MD5", "SHA1", "SHA256"):
            row["hash_" + algo.lower()] = value.strip().lower()


# Native fields each core column is taken from: the first one with a value ("" and "-" are none).
_USER = ("TargetUserName", "User", "SubjectUserName", "UserName", "AccountName")
_DOMAIN = ("TargetDomainName", "SubjectDomainName", "DomainName")
_PID = ("ProcessId", "NewProcessId", "SourceProcessId")
_FIRST_OF: dict[str, tuple[str, ...]] = {
    "user_sid": ("TargetUserSid", "SubjectUserSid", "UserSid"),
    "process_image": ("Image", "NewProcessName", "ProcessName", "Application", "SourceImage"),
    "process_cmdline": ("CommandLine", "ScriptBlockText"),
    "parent_image": ("ParentImage", "ParentProcessName"),
    "src_ip": ("IpAddress", "SourceIp", "SourceAddress", "ClientAddress", "SourceNetworkAddress"),
    "dst_ip": ("DestinationIp", "DestAddress"),
    "file_path": ("TargetFilename", "ObjectName", "ImageLoaded", "ServiceFileName", "ImagePath"),
}
_PORTS: dict[str, tuple[str, ...]] = {
    "src_port": ("IpPort", "SourcePort"),
    "dst_port": ("DestinationPort", "DestPort"),
}
_HASHES = ("Hashes", "Hash")
_CORE_SOURCES = frozenset((*_USER, *_PID, "ParentCommandLine", "ParentProcessId", *_HASHES)).union(
    *_FIRST_OF.values(), *_PORTS.values()
)


def fill_core(row: Row, data: dict[str, Any]) -> None:
    """Fill user, process, network, file and hash core columns from native event data."""
    if _CORE_SOURCES.isdisjoint(data):
        return
    user = _first(data, *_USER)
    if user is not None:
        user = str(user)
        domain = _first(data, *_DOMAIN)
        if "\\" in user and domain is None:
            domain, _, user = user.partition("\\")
        row["user_name"] = user
        if domain is not None:
            row["user_domain"] = str(domain)
    for name, sources in _FIRST_OF.items():
        value = _first(data, *sources)
        if value is not None:
            row[name] = str(value)
    pid = _int(_first(data, *_PID))
    if pid is not None:
        row["process_pid"] = pid
    pcmd = data.get("ParentCommandLine")
    if pcmd not in (None, ""):
        row["parent_cmdline"] = str(pcmd)
    ppid = _int(_first(data, "ParentProcessId")) if "ParentProcessId" in data else None
    if ppid is None and "NewProcessId" in data:  # 4688: the creator is ProcessId
        ppid = _int(data.get("ProcessId"))
    if ppid is not None:
        row["parent_pid"] = ppid
    for name, sources in _PORTS.items():
        port = _port(_first(data, *sources))
        if port is not None:
            row[name] = port
    hashes = data.get("Hashes") or data.get("Hash")
    if hashes:
        _split_hashes(str(hashes), row)


# ---- the same, a column at a time (the EVTX fast path, see forensics/ingest/evtx_fast.py) ----
# Each function below mirrors its per-row twin above; tests/ingest/test_evtx_fast.py checks
# that both give the same table for every EVTX file of the test corpus.

_BLANK = pa.array(["", "-"])
_NULL_STR = pa.scalar(None, pa.string())
_USER_SPLIT = r"(?s)^(?P<domain>[^\\]*)\\(?P<user>.*)$"


def _clean(a: pa.Array, blank: pa.Array = _BLANK) -> pa.Array:
    """Null where the value is one ``_first`` skips."""
    return pc.if_else(pc.is_in(a, value_set=blank), _NULL_STR, a)


def _first_col(cols: Mapping[str, pa.Array], *names: str) -> pa.Array | None:
    present = [_clean(cols[n]) for n in names if n in cols]
    if not present:
        return None
    return present[0] if len(present) == 1 else pc.coalesce(*present)


def _map_unique(a: pa.Array, fn: Callable[[Any], Any], type_: pa.DataType) -> pa.Array:
    """``fn`` over the distinct values only, spread back over the rows."""
    uniq = pc.unique(a)
    values = pa.array([None if v is None else fn(v) for v in uniq.to_pylist()], type=type_)
    return pc.take(values, pc.index_in(a, value_set=uniq))


def _int64(v: Any) -> int | None:
    """``_int``, and None where the value would not fit the column (as the row path's coercion)."""
    x = _int(v)
    return x if x is not None and -(1 << 63) <= x < (1 << 63) else None


def _hash_triplet(v: str) -> dict[str, str | None]:
    row: Row = {}
    _split_hashes(v, row)
    return {k: row.get(k) for k in ("hash_md5", "hash_sha1", "hash_sha256")}


def core_columns(cols: Mapping[str, pa.Array], n: int) -> dict[str, pa.Array]:
    """``fill_core`` over whole columns of native event data: the core columns it would set."""
    out: dict[str, pa.Array] = {}
    user = _first_col(cols, *_USER)
    if user is not None:
        domain = _first_col(cols, *_DOMAIN)
        split = pc.match_substring(user, "\\")
        if domain is not None:
            split = pc.and_(split, pc.is_null(domain))
        if pc.any(split).as_py():
            parts = pc.extract_regex(user, _USER_SPLIT)
            user = pc.if_else(split, pc.struct_field(parts, "user"), user)
            domain = pc.if_else(
                split, pc.struct_field(parts, "domain"), domain if domain is not None else _NULL_STR
            )
        out["user_name"] = user
        if domain is not None:
            out["user_domain"] = pc.if_else(pc.is_valid(user), domain, _NULL_STR)
    for name, sources in _FIRST_OF.items():
        col = _first_col(cols, *sources)
        if col is not None:
            out[name] = col
    if "ParentCommandLine" in cols:
        out["parent_cmdline"] = _clean(cols["ParentCommandLine"], pa.array([""]))
    pid = _first_col(cols, *_PID)
    if pid is not None:
        out["process_pid"] = _map_unique(pid, _int64, pa.int64())
    ppid = _first_col(cols, "ParentProcessId")
    ppid = _map_unique(ppid, _int64, pa.int64()) if ppid is not None else None
    if "NewProcessId" in cols and "ProcessId" in cols:  # 4688: the creator is ProcessId
        creator = _map_unique(cols["ProcessId"], _int64, pa.int64())
        creator = pc.if_else(pc.is_valid(cols["NewProcessId"]), creator, pa.scalar(None, pa.int64()))
        ppid = creator if ppid is None else pc.coalesce(ppid, creator)
    if ppid is not None:
        out["parent_pid"] = ppid
    for name, sources in _PORTS.items():
        col = _first_col(cols, *sources)
        if col is not None:
            out[name] = _map_unique(col, _port, pa.int32())
    hashes = [_clean(cols[h], pa.array([""])) for h in _HASHES if h in cols]
    if hashes:
        triplets = _map_unique(
            hashes[0] if len(hashes) == 1 else pc.coalesce(*hashes),
            _hash_triplet,
            pa.struct([(k, pa.string()) for k in ("hash_md5", "hash_sha1", "hash_sha256")]),
        )
        for k in ("hash_md5", "hash_sha1", "hash_sha256"):
            out[k] = pc.struct_field(triplets, k)
    return {k: v for k, v in out.items() if v.null_count < n}


def category_column(
    channel: str | None, event_id: pa.Array | None, cols: Mapping[str, pa.Array]
) -> pa.Array | None:
    """``category_for`` over a column of event ids, all of one channel."""
    if channel is None or event_id is None:
        return None
    table = (
        SYSMON_CATEGORIES
        if channel == SYSMON_CHANNEL
        else {eid: cat for (ch, eid), cat in CHANNEL_CATEGORIES.items() if ch == channel}
    )
    if not table:
        return None
    ids = pa.array(list(table), pa.int32())
    cats = pa.array(list(table.values()), pa.string())
    cat = pc.take(cats, pc.index_in(event_id, value_set=ids))
    if channel == SYSMON_CHANNEL and "EventType" in cols:  # DeleteKey/DeleteValue
        delete = pc.and_(pc.equal(event_id, 12), pc.starts_with(pc.utf8_lower(cols["EventType"]), "delete"))
        cat = pc.if_else(pc.fill_null(delete, False), "registry_delete", cat)
    return cat
