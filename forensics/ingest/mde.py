"""Microsoft Defender for Endpoint advanced hunting exports (Device*Events tables).

Shapes read, all by content:

- JSON lines of advanced-hunting rows (``Timestamp``, ``DeviceName``, ``ActionType``, ...),
  as the portal, the API and Sentinel exports write them;
- the Streaming API / Event Hub record ``{"time", "category": "AdvancedHunting-<Table>",
  "properties": {<row>}}``, one per line, or wrapped as ``{"records": [...]}`` (one row per
  record; all records of a wrapper share its line number);
- CSV with the table's columns (Log Analytics names time columns ``Timestamp [UTC]`` or
  ``Timestamp [Local Time]``; local times take ``--tz`` and are marked assumed).

The table is taken from the record (``category``, ``Type``, ``TableName``) or inferred from
``ActionType`` and the columns present. Native fields keep their MDE names (the event-hub
``properties.`` prefix is dropped so every shape yields the same columns).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.edr_common import (
    RAW_LIMIT,
    Line,
    add_sysmon_aliases,
    blank,
    column_zone,
    csv_dicts,
    csv_header,
    decode,
    dword_details,
    first,
    first_json_line,
    head_keys,
    join_path,
    json_line,
    json_objects,
    os_family,
    put_natives,
    qword_details,
    set_time,
    summary,
    sysmon_registry_path,
    text,
    to_hash,
    to_int,
    to_pid,
    to_port,
    user_alias,
)
from forensics.ingest.jsonarray import NotAnArray, is_array, is_document, records
from forensics.ingest.text import LineDecoder

PROVIDER = "Microsoft Defender for Endpoint"
SOURCE = "mde"
UNKNOWN_TABLE = "AdvancedHunting"

_TABLE_FIELDS = ("Type", "TableName", "Table", "$table", "table")

# ActionType -> table, for exports that do not name the table
_ACTION_TABLES: dict[str, str] = {
    "ProcessCreated": "DeviceProcessEvents",
    "ImageLoaded": "DeviceImageLoadEvents",
    "LogonSuccess": "DeviceLogonEvents",
    "LogonFailed": "DeviceLogonEvents",
    "LogonAttempted": "DeviceLogonEvents",
    "ConnectionSuccess": "DeviceNetworkEvents",
    "ConnectionFailed": "DeviceNetworkEvents",
    "ConnectionAttempt": "DeviceNetworkEvents",
    "ConnectionRequest": "DeviceNetworkEvents",
    "ConnectionFound": "DeviceNetworkEvents",
    "InboundConnectionAccepted": "DeviceNetworkEvents",
    "ListeningConnectionCreated": "DeviceNetworkEvents",
    "FileCreated": "DeviceFileEvents",
    "FileModified": "DeviceFileEvents",
    "FileRenamed": "DeviceFileEvents",
    "FileDeleted": "DeviceFileEvents",
    "RegistryValueSet": "DeviceRegistryEvents",
    "RegistryKeyCreated": "DeviceRegistryEvents",
    "RegistryKeyDeleted": "DeviceRegistryEvents",
    "RegistryValueDeleted": "DeviceRegistryEvents",
    "RegistryKeyRenamed": "DeviceRegistryEvents",
    "Directory Services replication": "IdentityDirectoryEvents",
}

# (table, ActionType) -> Sigma category; None ActionType = any action of the table
_CATEGORIES: dict[tuple[str, str | None], str] = {
    ("DeviceProcessEvents", None): "process_creation",
    ("DeviceImageLoadEvents", None): "image_load",
    ("DeviceFileEvents", "FileCreated"): "file_event",
    ("DeviceFileEvents", "FileModified"): "file_event",
    ("DeviceFileEvents", "FileRenamed"): "file_rename",
    ("DeviceFileEvents", "FileDeleted"): "file_delete",
    ("DeviceRegistryEvents", "RegistryValueSet"): "registry_set",
    ("DeviceRegistryEvents", "RegistryKeyCreated"): "registry_add",
    ("DeviceRegistryEvents", "RegistryKeyDeleted"): "registry_delete",
    ("DeviceRegistryEvents", "RegistryValueDeleted"): "registry_delete",
    ("DeviceRegistryEvents", "RegistryKeyRenamed"): "registry_rename",
    ("DeviceNetworkEvents", "ConnectionSuccess"): "network_connection",
    ("DeviceNetworkEvents", "ConnectionAttempt"): "network_connection",
    ("DeviceNetworkEvents", "ConnectionFailed"): "network_connection",
    ("DeviceNetworkEvents", "ConnectionRequest"): "network_connection",
    ("DeviceNetworkEvents", "InboundConnectionAccepted"): "network_connection",
    ("DeviceEvents", "DnsQueryResponse"): "dns_query",
    ("DeviceEvents", "CreateRemoteThreadApiCall"): "create_remote_thread",
    ("DeviceEvents", "OpenProcessApiCall"): "process_access",
    ("DeviceEvents", "NamedPipeEvent"): "pipe_created",
    ("DeviceEvents", "DriverLoad"): "driver_load",
    ("DeviceEvents", "AntivirusDetection"): "antivirus",
}

_REG_EVENT_TYPES = {
    "RegistryValueSet": "SetValue",
    "RegistryKeyCreated": "CreateKey",
    "RegistryKeyDeleted": "DeleteKey",
    "RegistryValueDeleted": "DeleteValue",
    "RegistryKeyRenamed": "RenameKey",
}


def table_of(rec: dict[str, Any]) -> str:
    """The advanced-hunting table a record came from."""
    cat = rec.get("category")
    if isinstance(cat, str) and cat.startswith("AdvancedHunting-"):
        return cat.split("-", 1)[1]
    for f in _TABLE_FIELDS:
        v = rec.get(f)
        if isinstance(v, str) and (v.startswith(("Device", "Identity", "Email", "Cloud", "Alert", "Url"))):
            return v
    action = rec.get("ActionType")
    if isinstance(action, str) and action in _ACTION_TABLES:
        return _ACTION_TABLES[action]
    if not blank(rec.get("ActivityType")) or not blank(rec.get("ActivityObjects")):
        return "CloudAppEvents"
    if not blank(rec.get("RegistryKey")) and str(action or "").startswith("Registry"):
        return "DeviceRegistryEvents"
    if not blank(rec.get("DeviceName")) and not blank(action):
        return "DeviceEvents"
    return UNKNOWN_TABLE


def _additional(rec: dict[str, Any]) -> dict[str, Any]:
    """``AdditionalFields`` (a JSON string or an object; ``_string``/``_dynamic`` variants)."""
    for name in ("AdditionalFields", "AdditionalFields_dynamic", "AdditionalFields_string"):
        v = rec.get(name)
        if isinstance(v, dict):
            return v
        if isinstance(v, str) and v.strip().startswith("{"):
            try:
                obj = orjson.loads(v)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                return obj
    return {}


def _acting_process(rec: dict[str, Any], row: Row) -> None:
    """The initiating process as the acting process (every table but process creation)."""
    row["process_image"] = join_path(
        first(rec, "InitiatingProcessFolderPath"), first(rec, "InitiatingProcessFileName")
    )
    row["process_cmdline"] = first(rec, "InitiatingProcessCommandLine")
    row["process_pid"] = to_pid(rec.get("InitiatingProcessId"))
    row["parent_image"] = first(rec, "InitiatingProcessParentFileName")
    row["parent_pid"] = to_pid(rec.get("InitiatingProcessParentId"))
    row["user_name"] = first(rec, "InitiatingProcessAccountName", "AccountName")
    row["user_domain"] = first(rec, "InitiatingProcessAccountDomain", "AccountDomain")
    row["user_sid"] = first(rec, "InitiatingProcessAccountSid", "AccountSid")


def _process_creation(rec: dict[str, Any], row: Row) -> dict[str, Any]:
    row["process_image"] = join_path(first(rec, "FolderPath"), first(rec, "FileName"))
    row["process_cmdline"] = first(rec, "ProcessCommandLine")
    row["process_pid"] = to_pid(rec.get("ProcessId"))
    row["parent_image"] = join_path(
        first(rec, "InitiatingProcessFolderPath"), first(rec, "InitiatingProcessFileName")
    )
    row["parent_cmdline"] = first(rec, "InitiatingProcessCommandLine")
    row["parent_pid"] = to_pid(rec.get("InitiatingProcessId"))
    row["user_name"] = first(rec, "AccountName")
    row["user_domain"] = first(rec, "AccountDomain")
    row["user_sid"] = first(rec, "AccountSid")
    return {
        "OriginalFileName": first(rec, "ProcessVersionInfoOriginalFileName"),
        "IntegrityLevel": first(rec, "ProcessIntegrityLevel"),
        "Company": first(rec, "ProcessVersionInfoCompanyName"),
        "Product": first(rec, "ProcessVersionInfoProductName"),
        "Description": first(rec, "ProcessVersionInfoFileDescription"),
        "ParentUser": user_alias(
            first(rec, "InitiatingProcessAccountName"), first(rec, "InitiatingProcessAccountDomain")
        ),
    }


def _network(rec: dict[str, Any], row: Row, action: str) -> dict[str, Any]:
    local = (first(rec, "LocalIP"), to_port(rec.get("LocalPort")))
    remote = (first(rec, "RemoteIP"), to_port(rec.get("RemotePort")))
    inbound = action in ("InboundConnectionAccepted", "ListeningConnectionCreated")
    (row["src_ip"], row["src_port"]), (row["dst_ip"], row["dst_port"]) = (
        (remote, local) if inbound else (local, remote)
    )
    connection = _CATEGORIES.get(("DeviceNetworkEvents", action)) == "network_connection"
    return {
        "Initiated": ("false" if inbound else "true") if connection else None,
        "DestinationHostname": first(rec, "RemoteUrl"),
        "Protocol": first(rec, "Protocol"),
    }


def _registry(rec: dict[str, Any], action: str) -> dict[str, Any]:
    value_type = str(rec.get("RegistryValueType") or "").lower()
    data = rec.get("RegistryValueData")
    details: str | None
    if value_type == "dword":
        details = dword_details(data) or text(data)
    elif value_type == "qword":
        details = qword_details(data) or text(data)
    else:
        details = first(rec, "RegistryValueData")
    key = first(rec, "RegistryKey")
    value_name = (
        first(rec, "RegistryValueName") if action in ("RegistryValueSet", "RegistryValueDeleted") else None
    )
    renamed = action == "RegistryKeyRenamed"
    return {  # a rename reads like Sysmon 14: TargetObject the old key, NewName the new one
        "TargetObject": sysmon_registry_path(
            first(rec, "PreviousRegistryKey") if renamed else key, value_name
        ),
        "Details": details,
        "EventType": _REG_EVENT_TYPES.get(action),
        "NewName": sysmon_registry_path(key) if renamed else None,
    }


def _fill(
    rec: dict[str, Any], row: Row, table: str, action: str, extra_fields: dict[str, Any]
) -> dict[str, Any]:
    """Core columns and Sysmon alias values for one record; returns the alias values."""
    cat = row["category"]
    if cat == "process_creation":
        created = _process_creation(rec, row)
        row["hash_md5"] = to_hash(rec.get("MD5"), 32)
        row["hash_sha1"] = to_hash(rec.get("SHA1"), 40)
        row["hash_sha256"] = to_hash(rec.get("SHA256"), 64)
        return created
    _acting_process(rec, row)
    extra: dict[str, Any] = {}
    if table == "DeviceLogonEvents" or table.startswith(("Identity", "Cloud")):
        # the account logging on (not the process that handled the logon)
        row["user_name"] = first(rec, "AccountName", "AccountUpn", "AccountDisplayName")
        row["user_domain"] = first(rec, "AccountDomain")
        row["user_sid"] = first(rec, "AccountSid")
        row["src_ip"] = first(rec, "RemoteIP", "IPAddress")
        row["src_port"] = to_port(
            rec.get("RemotePort") if not blank(rec.get("RemotePort")) else rec.get("Port")
        )
        row["dst_ip"] = first(rec, "DestinationIPAddress")
        row["dst_port"] = to_port(rec.get("DestinationPort"))
    if table == "DeviceNetworkEvents":
        extra = _network(rec, row, action)
    if table in ("DeviceFileEvents", "DeviceImageLoadEvents") or cat == "driver_load":
        row["file_path"] = join_path(first(rec, "FolderPath"), first(rec, "FileName"))
        row["hash_md5"] = to_hash(rec.get("MD5"), 32)
        row["hash_sha1"] = to_hash(rec.get("SHA1"), 40)
        row["hash_sha256"] = to_hash(rec.get("SHA256"), 64)
        if action == "FileRenamed":
            extra["SourceFilename"] = join_path(
                first(rec, "PreviousFolderPath"), first(rec, "PreviousFileName")
            )
    if table == "DeviceRegistryEvents":
        extra = _registry(rec, action)
    if cat == "dns_query":
        extra = {
            "QueryName": first(extra_fields, "DnsQueryString", "QueryName"),
            "QueryResults": first(extra_fields, "IPAddresses"),
        }
    if cat == "antivirus":  # the fields Sigma antivirus rules use
        row["file_path"] = join_path(first(rec, "FolderPath"), first(rec, "FileName"))
        extra = {"Signature": first(extra_fields, "ThreatName"), "Filename": row["file_path"]}
    if cat == "pipe_created":
        extra = {"PipeName": first(extra_fields, "PipeName")}
    if cat in ("process_access", "create_remote_thread"):
        extra = {
            "TargetImage": join_path(first(rec, "FolderPath"), first(rec, "FileName")),
            "TargetProcessId": first(rec, "ProcessId"),
        }
    if (
        row.get("hash_sha256") is None
        and row.get("hash_sha1") is None
        and cat not in ("file_event", "file_delete", "image_load")
    ):
        row["hash_md5"] = to_hash(rec.get("InitiatingProcessMD5"), 32)
        row["hash_sha1"] = to_hash(rec.get("InitiatingProcessSHA1"), 40)
        row["hash_sha256"] = to_hash(rec.get("InitiatingProcessSHA256"), 64)
    return extra


def _natives(rec: dict[str, Any]) -> dict[str, str | None]:
    """Top-level MDE columns as strings (nested values such as AdditionalFields as JSON)."""
    return {str(k): text(v) for k, v in rec.items()}


def record_to_row(
    rec: dict[str, Any], row: Row, ctx: ParseContext, wrapper: dict[str, Any] | None = None
) -> Row:
    """One advanced-hunting row (already unwrapped from ``properties``) into a row."""
    table = table_of(wrapper) if wrapper is not None and table_of(wrapper) != UNKNOWN_TABLE else table_of(rec)
    action = str(rec.get("ActionType") or "")
    row["source"] = SOURCE
    row["provider"] = PROVIDER
    row["channel"] = table
    row["category"] = _CATEGORIES.get((table, None)) or _CATEGORIES.get((table, action))
    if not _set_ts(rec, row, ctx) and wrapper is not None and not blank(wrapper.get("time")):
        set_time(row, wrapper["time"], default_zone=ctx.tz)
    row["host"] = first(rec, "DeviceName")
    row["os_family"] = os_family(first(rec, "OSPlatform", "OsPlatform"))
    row["record_id"] = (
        to_int(rec.get("ReportId"))
        if to_int(rec.get("ReportId")) is not None
        else to_int(rec.get("ReportId_long"))
    )
    extra = _fill(rec, row, table, action, _additional(rec))
    natives = _natives(rec)
    if wrapper is not None:
        for k, v in wrapper.items():
            if k not in ("properties", "records"):
                natives.setdefault(k, text(v))
    put_natives(row, natives)
    add_sysmon_aliases(row, extra)
    row["message"] = summary(row, f"{table} {action}".strip())
    return row


def _set_ts(rec: dict[str, Any], row: Row, ctx: ParseContext) -> bool:
    """Time from ``Timestamp`` (or a ``Timestamp [zone]`` CSV column, or ``TimeGenerated``)."""
    for key in ("Timestamp", "TimeGenerated"):
        if not blank(rec.get(key)):
            return set_time(row, rec[key], default_zone=ctx.tz)
    for key, value in rec.items():
        base, zone = column_zone(key)
        if base in ("Timestamp", "TimeGenerated") and key != base and not blank(value):
            return set_time(row, value, default_zone=ctx.tz, column_zone_name=zone)
    return False


# list-valued keys whose items are the rows: event-hub capture, hunting API / Graph responses
_WRAPPERS = ("records", "Results", "results")


def _whole_document(head: bytes) -> bool:
    """True for a pretty-printed JSON document (its first line is ``{`` or ``[`` alone); ``raw``
    tells such a file by the same test (``jsonarray.is_document``)."""
    return is_document(head) or (is_array(head) and decode(head).lstrip().split("\n", 1)[0].strip() == "[")


def _looks_mde_keys(keys: set[str]) -> bool:
    if "category" in keys and "properties" in keys:
        return True
    if "records" in keys and "properties" in keys:
        return True
    return {"Timestamp", "ActionType"} <= keys and bool(
        {"DeviceName", "DeviceId", "ReportId", "ReportId_long"} & keys
    )


def _csv_mde(cols: list[str]) -> bool:
    bases = {column_zone(c)[0] for c in cols}
    return "ActionType" in bases and "DeviceName" in bases and bool({"Timestamp", "TimeGenerated"} & bases)


class MdeParser:
    """Microsoft Defender for Endpoint advanced hunting (JSON lines, event-hub JSON, CSV)."""

    name = SOURCE
    description = "Microsoft Defender for Endpoint advanced hunting export (Device*Events), JSON or CSV"

    def sniff(self, head: bytes, name: str) -> bool:
        """MDE column names on the first record (JSON keys or CSV header)."""
        if _whole_document(head):
            keys = head_keys(head)
            return ("AdvancedHunting-" in decode(head) and "properties" in keys) or (
                {"Timestamp", "ActionType"} <= keys and bool({"DeviceName", "DeviceId"} & keys)
            )
        obj = first_json_line(head)
        if obj is not None:
            keys = set(obj)
            if {"Schema", "Results"} <= keys or {"schema", "results"} <= keys:  # hunting API response
                return {"Timestamp", "ActionType"} <= head_keys(head)
            if _looks_mde_keys(keys):
                if "category" in keys and "properties" in keys:
                    return b"AdvancedHunting-" in head
                return True
            return False
        cols = csv_header(head)
        return cols is not None and _csv_mde(cols)

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        """One row per advanced-hunting record; unreadable records become rejects."""
        if first_json_line(src.head) is None and csv_header(src.head) is not None:
            yield from self._parse_csv(src, ctx)
            return
        if _whole_document(src.head) and not is_array(src.head):  # an array streams, element by element
            yield from self._parse_document(src, ctx)
            return
        for line, obj in json_objects(src):
            if isinstance(obj, Reject):
                yield obj
                continue
            yield from self._records(line, obj, ctx)

    def _parse_document(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        """A pretty-printed file of JSON documents (records wrapper, API response, one record).

        Read record by record (``jsonarray.records``): a wrapper's array is streamed, each record
        with its own offset and line, so memory holds one record of a document of any size.
        """
        decoder = LineDecoder(src.encoding)
        with src.local.open("rb") as fh:
            try:
                for el in records(fh, _WRAPPERS):
                    line = Line(el.line, el.offset, el.data or b"", True, el.size)
                    if el.data is None:
                        yield Reject(f"record of {el.size} bytes over the record limit: not read", None,
                                     el.offset, el.line)  # fmt: skip
                        continue
                    line, obj = json_line(line, decoder, "record is not valid JSON")
                    if isinstance(obj, Reject):
                        yield obj
                    else:
                        yield from self._records(line, obj, ctx)
            except NotAnArray as exc:
                yield Reject(f"JSON document unreadable from here: {exc}")

    def _records(
        self, line: Line, obj: dict[str, Any] | list[Any], ctx: ParseContext
    ) -> Iterator[Row | Reject]:
        pos: Row = line.position()
        items: list[Any]
        wrapped = [obj[k] for k in _WRAPPERS if isinstance(obj, dict) and isinstance(obj.get(k), list)]
        if wrapped:
            items = wrapped[0]
        elif isinstance(obj, list):
            items = obj
        else:
            items = [obj]
        for item in items:
            if not isinstance(item, dict):
                raw = text(item) or ""
                yield Reject("record is not a JSON object", raw[:RAW_LIMIT], line.offset, line.number)
                continue
            props = item.get("properties")
            if isinstance(props, dict):
                yield record_to_row(props, dict(pos), ctx, wrapper=item)
            else:
                yield record_to_row(item, dict(pos), ctx)

    def _parse_csv(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        for item in csv_dicts(src):
            if isinstance(item, Reject):
                yield item
                continue
            rec, obj = item
            yield record_to_row(obj, rec.position(), ctx)
