"""CrowdStrike Falcon Data Replicator (FDR) events: JSON lines, or a CSV of the same fields.

Each FDR record is a flat object named by ``event_simpleName`` (ProcessRollup2, DnsRequest,
NetworkConnectIP4, AsepValueUpdate, UserLogon, ...). Secondary FDR data (aidmaster host
records, managed-assets, userinfo) has no ``event_simpleName``; those become rows too, with
the channel named from their shape. Event time is ``ContextTimeStamp`` (when the sensor saw
it), else ``ProcessStartTime``, else ``timestamp`` (when the cloud received it); the field
used is recorded in the ``ts_field`` column. FDR names hosts by sensor id (``aid``): rows take
``ComputerName`` where the record has one (aidmaster), else the ``aid``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.edr_common import (
    add_sysmon_aliases,
    blank,
    csv_dicts,
    csv_header,
    dword_details,
    first,
    first_json_line,
    flatten,
    host_of,
    iter_lines,
    json_objects,
    os_family,
    put_natives,
    qword_details,
    reject_line,
    set_time,
    summary,
    sysmon_registry_path,
    to_hash,
    to_pid,
    to_port,
)
from forensics.ingest.text import LineDecoder

PROVIDER = "CrowdStrike Falcon"
SOURCE = "fdr"

_TIME_FIELDS = (
    "ContextTimeStamp",
    "ProcessStartTime",
    "timestamp",
    "_time",
    "Time",
    "LogonTime",
    "FirstSeen",
)

_PROCESS = {"ProcessRollup2", "SyntheticProcessRollup2"}
_CONNECT = re.compile(r"^Network(Connect)IP[46]$")
_ACCEPT = re.compile(r"^NetworkReceiveAcceptIP[46]$")
_DELETE = re.compile(r"(FileDeleteInfo|ExecutableDeleted|FileDeleted)")
_WRITE = re.compile(r"(FileWritten|FileCreateInfo|ScriptWritten|NewExecutableRenamed|FileRenameInfo)$")
_MODULE = {"ClassifiedModuleLoad", "ImageHash", "ModuleLoad", "UnsignedModuleLoad"}


def _category(name: str | None) -> str | None:
    """The Sigma category of an FDR event name."""
    if not name:
        return None
    if name in _PROCESS:
        return "process_creation"
    if _CONNECT.match(name) or _ACCEPT.match(name):
        return "network_connection"
    if name in ("DnsRequest", "SuspiciousDnsRequest"):
        return "dns_query"
    if name == "DriverLoad":
        return "driver_load"
    if name in _MODULE:
        return "image_load"
    if _DELETE.search(name):
        return "file_delete"
    if _WRITE.search(name):
        return "file_event"
    if name.startswith(("Reg", "Asep")) and "Value" in name:
        return "registry_delete" if "Delete" in name else "registry_set"
    if name.startswith(("Reg", "Asep")) and "Key" in name:
        return "registry_delete" if "Delete" in name else "registry_event"
    return None


def _channel(rec: dict[str, Any]) -> str:
    """``event_simpleName``, or the kind of secondary record told by its fields."""
    name = rec.get("event_simpleName")
    if not blank(name):
        return str(name)
    if "AgentVersion" in rec and "ComputerName" in rec:
        return "aidmaster"
    if "discoverer_aid" in rec or "MACPrefix" in rec:
        return "managedassets"
    if "UserSid" in rec and "LogonTime" in rec:
        return "userinfo"
    label = rec.get("name")
    if isinstance(label, str) and label:
        return re.sub(r"(Mac|Lin|Win|Ios)?V\d+$", "", label) or label
    return "fdr_other"


def _process_fields(rec: dict[str, Any], row: Row, channel: str) -> None:
    row["process_image"] = first(rec, "ImageFileName", "ContextImageFileName")
    row["process_cmdline"] = first(rec, "CommandLine")
    if channel in _PROCESS:
        row["process_pid"] = to_pid(rec.get("RawProcessId"))
        # FDR names the parent by base name only, not by path
        row["parent_image"] = first(rec, "ParentBaseFileName")
    elif blank(row["process_image"]):
        row["process_image"] = first(rec, "ContextBaseFileName")
    row["hash_md5"] = to_hash(rec.get("MD5HashData"), 32)
    row["hash_sha1"] = to_hash(rec.get("SHA1HashData"), 40)
    row["hash_sha256"] = to_hash(rec.get("SHA256HashData"), 64)


def _user_fields(rec: dict[str, Any], row: Row) -> None:
    row["user_name"] = first(rec, "UserName", "SourceAccountSamAccountName")
    row["user_domain"] = first(rec, "LogonDomain", "SourceAccountDomain")
    row["user_sid"] = first(rec, "UserSid", "SourceAccountObjectSid")


def _network_fields(rec: dict[str, Any], row: Row, channel: str) -> dict[str, Any]:
    local_ip = first(rec, "LocalAddressIP4", "LocalAddressIP6")
    remote_ip = first(rec, "RemoteAddressIP4", "RemoteAddressIP6")
    local_port, remote_port = to_port(rec.get("LocalPort")), to_port(rec.get("RemotePort"))
    if _ACCEPT.match(channel):  # inbound: the remote end is the source
        row.update(src_ip=remote_ip, src_port=remote_port, dst_ip=local_ip, dst_port=local_port)
        return {"Initiated": "false"}
    row.update(src_ip=local_ip, src_port=local_port, dst_ip=remote_ip, dst_port=remote_port)
    if _CONNECT.match(channel):
        return {"Initiated": "true"}
    return {}


def _registry_extra(rec: dict[str, Any]) -> dict[str, Any]:
    reg_type = str(rec.get("RegType") or "")
    details: str | None
    if reg_type == "4":
        details = dword_details(rec.get("RegNumericValue"))
    elif reg_type == "11":
        details = qword_details(rec.get("RegNumericValue"))
    else:
        details = first(rec, "RegStringValue", "RegNumericValue")
    name = first(rec, "event_simpleName") or ""
    event_type = "DeleteValue" if "Delete" in name else ("SetValue" if "Value" in name else "CreateKey")
    return {
        "TargetObject": sysmon_registry_path(first(rec, "RegObjectName"), first(rec, "RegValueName")),
        "Details": details,
        "EventType": event_type,
    }


class ProcessTable:
    """Processes seen earlier in the file, by Falcon process id, to name an event's process.

    FDR events name their process only by ``ContextProcessId``, and a ProcessRollup2 names its
    parent only by ``ParentProcessId`` and base name. When that process's own ProcessRollup2
    came earlier in the same file, its path, command line and OS pid fill the core columns
    (the native fields stay as exported). Bounded, so a huge file cannot exhaust memory.
    """

    LIMIT = 1_000_000

    def __init__(self) -> None:
        self.by_id: dict[str, tuple[str | None, str | None, int | None]] = {}

    def remember(self, rec: dict[str, Any], row: Row) -> None:
        """Keep a process-creation row's process under its Falcon id."""
        pid = first(rec, "TargetProcessId")
        if pid is not None and len(self.by_id) < self.LIMIT:
            self.by_id[pid] = (row.get("process_image"), row.get("process_cmdline"), row.get("process_pid"))

    def enrich(self, rec: dict[str, Any], row: Row, channel: str) -> None:
        """Fill the row's process (or, for a process creation, parent) from earlier records."""
        if channel in _PROCESS:
            parent = self.by_id.get(first(rec, "ParentProcessId") or "")
            if parent is not None and _same_file(parent[0], row.get("parent_image")):
                row["parent_image"], row["parent_cmdline"], row["parent_pid"] = parent
            return
        known = self.by_id.get(first(rec, "ContextProcessId") or "")
        if known is None or not _same_file(known[0], row.get("process_image")):
            return
        row["process_image"] = known[0]
        row["process_cmdline"] = row.get("process_cmdline") or known[1]
        row["process_pid"] = row.get("process_pid") or known[2]


def _same_file(path: str | None, base: str | None) -> bool:
    """True when ``base`` is empty or is the file name ``path`` ends in."""
    if not path:
        return False
    return not base or _file_name(path) == _file_name(base)


def _file_name(path: str) -> str:
    return path.replace("/", "\\").rsplit("\\", 1)[-1].lower()


def record_to_row(rec: dict[str, Any], row: Row, ctx: ParseContext, procs: ProcessTable | None = None) -> Row:
    """One FDR object into a row (core columns, natives, Sysmon aliases)."""
    channel = _channel(rec)
    row["source"] = SOURCE
    row["provider"] = PROVIDER
    row["channel"] = channel
    simple = rec.get("event_simpleName")
    row["category"] = None if blank(simple) else _category(str(simple))
    for field in _TIME_FIELDS:
        if not blank(rec.get(field)) and set_time(row, rec[field], default_zone=ctx.tz):
            row["ts_field"] = field
            break
    # the sensor id names the host when the record does not (the runner applies --host)
    row["host"] = host_of(rec.get("ComputerName"), rec.get("aid"))
    row["os_family"] = os_family(rec.get("event_platform"))
    _process_fields(rec, row, channel)
    _user_fields(rec, row)
    cat = row["category"]
    extra: dict[str, Any] = {}
    if cat == "network_connection" or channel.startswith("NetworkListen"):
        extra = _network_fields(rec, row, channel)
    elif channel.startswith(("UserLogon", "UserLogoff")):  # the logon's remote end, when FDR says
        row["src_ip"] = first(rec, "RemoteAddressIP4", "RemoteAddressIP6")
    if cat in ("file_event", "file_delete", "driver_load", "image_load"):
        row["file_path"] = first(rec, "TargetFileName", "ImageFileName")
        if cat in ("driver_load", "image_load"):
            row["process_image"] = first(rec, "ContextImageFileName", "ContextBaseFileName")
    if cat == "dns_query":
        extra = {"QueryName": first(rec, "DomainName"), "QueryResults": _dns_results(rec)}
    if cat and cat.startswith("registry_"):
        extra = _registry_extra(rec)
    if cat == "process_creation":
        extra = {"IntegrityLevel": first(rec, "IntegrityLevel"), "ProcessGuid": first(rec, "TargetProcessId")}
    if procs is not None:
        procs.enrich(rec, row, channel)
        if channel in _PROCESS:
            procs.remember(rec, row)
    natives: dict[str, str | None] = {}
    flatten(rec, natives)
    put_natives(row, natives)
    add_sysmon_aliases(row, extra)
    row["message"] = summary(row, channel)
    return row


def _dns_results(rec: dict[str, Any]) -> str | None:
    ips = [p for p in str(rec.get("IP4Records") or "").split(";") if p]
    return ";".join(ips) or first(rec, "FirstIP4Record")


def _looks_fdr(keys: set[str] | dict[str, Any]) -> bool:
    k = set(keys)
    if "event_simpleName" in k and ({"aid", "cid", "event_platform", "timestamp", "name"} & k):
        return True
    # aidmaster / managedassets secondary files carry no event_simpleName
    return {"aid", "cid", "AgentVersion", "ComputerName"} <= k or {"cid", "discoverer_aid", "MAC"} <= k


class FdrParser:
    """CrowdStrike Falcon Data Replicator events (JSON lines or CSV)."""

    name = SOURCE
    description = "CrowdStrike Falcon Data Replicator (FDR) events, JSON lines or CSV"

    def sniff(self, head: bytes, name: str) -> bool:
        """FDR field names on the first line (JSON keys or CSV header)."""
        obj = first_json_line(head)
        if obj is not None:
            return _looks_fdr(obj)
        cols = csv_header(head)
        return cols is not None and "event_simpleName" in cols and ("aid" in cols or "cid" in cols)

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        """One row per FDR record; unreadable lines become rejects."""
        if csv_header(src.head) is not None and first_json_line(src.head) is None:
            yield from self._parse_csv(src, ctx)
            return
        procs = ProcessTable()
        for line, obj in json_objects(src):
            if isinstance(obj, Reject):
                yield obj
                continue
            if not isinstance(obj, dict):
                yield reject_line(line, "JSON array where an FDR object was expected")
                continue
            yield record_to_row(obj, line.position(), ctx, procs)

    def _parse_csv(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        procs = ProcessTable()
        for item in csv_dicts(src):
            if isinstance(item, Reject):
                yield item
                continue
            rec, obj = item
            yield record_to_row(obj, rec.position(), ctx, procs)


# ---------------------------------------------------------------- Falcon SIEM connector CEF ----

CEF_SOURCE = "falcon_cef"
_CEF_HEADER = (
    "cef_version",
    "device_vendor",
    "device_product",
    "device_version",
    "signature_id",
    "name",
    "severity",
)
_CEF_KEY = re.compile(r"(?:^|(?<=\s))([A-Za-z0-9_.\[\]-]+)=")
_CEF_LABELLED = re.compile(r"^(c[sn]\d|cfp\d|deviceCustomDate\d|flexString\d|flexNumber\d|flexDate\d)$")


def _split_header(text: str) -> list[str] | None:
    """The 7 CEF header fields and the extension (``\\|`` and ``\\\\`` unescaped), or None."""
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(text) and len(parts) < 7:
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "|\\":
            cur.append(text[i + 1])
            i += 2
            continue
        if ch == "|":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    if len(parts) < 7:
        return None
    parts.append(text[i:])
    return parts


def _cef_unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), value).strip()


def parse_cef_extension(ext: str) -> dict[str, str]:
    """CEF ``key=value`` pairs; a value runs until the next `` key=`` (escaped ``\\=`` kept)."""
    keys = [m for m in _CEF_KEY.finditer(ext) if m.start() == 0 or ext[m.start() - 1] != "\\"]
    out: dict[str, str] = {}
    for n, m in enumerate(keys):
        end = keys[n + 1].start() if n + 1 < len(keys) else len(ext)
        out[m.group(1)] = _cef_unescape(ext[m.end() : end])
    return out


def cef_to_row(line_text: str, row: Row, ctx: ParseContext) -> Row | None:
    """One Falcon CEF line into a row; None when the line is not CEF."""
    start = line_text.find("CEF:")
    parts = _split_header(line_text[start + 4 :]) if start >= 0 else None
    if parts is None:
        return None
    fields: dict[str, str | None] = dict(zip(_CEF_HEADER, parts[:7], strict=True))
    if start > 0:
        fields["syslog_prefix"] = line_text[:start].strip() or None
    ext = parse_cef_extension(parts[7])
    for key, value in ext.items():
        fields[key] = value
        label = ext.get(key + "Label") if _CEF_LABELLED.match(key) else None
        if label and label not in fields:
            fields[label] = value  # the name the connector gave the custom field (Offset, Timestamp)
    row["source"] = CEF_SOURCE
    row["provider"] = PROVIDER
    row["channel"] = ext.get("cat") or fields["signature_id"] or "cef"
    if not blank(ext.get("rt")):
        set_time(row, ext["rt"], default_zone=ctx.tz)
    elif not blank(ext.get("deviceCustomDate1")):
        set_time(row, ext["deviceCustomDate1"], default_zone=ctx.tz)
    row["host"] = first(ext, "dvchost", "dhost", "shost")
    row["user_name"] = first(ext, "duser", "suser")
    row["src_ip"] = first(ext, "src")
    row["dst_ip"] = first(ext, "dst")
    row["src_port"] = to_port(ext.get("spt"))
    row["dst_port"] = to_port(ext.get("dpt"))
    row["process_image"] = first(ext, "filePath")
    row["process_cmdline"] = first(ext, "cs5") if ext.get("cs5Label") == "CommandLine" else None
    offset = ext.get("cn3") if ext.get("cn3Label") == "Offset" else None
    row["record_id"] = int(offset) if offset and offset.isdigit() and int(offset) < 2**63 else None
    outcome = ext.get("outcome")
    row["message"] = " ".join(p for p in (fields["name"], f"outcome={outcome}" if outcome else None) if p)
    put_natives(row, fields)
    return row


class FalconCefParser:
    """CrowdStrike Falcon SIEM connector output: CEF lines from vendor CrowdStrike."""

    name = CEF_SOURCE
    description = "CrowdStrike Falcon SIEM connector CEF (console audit, detections), one event per line"

    def sniff(self, head: bytes, name: str) -> bool:
        """The first line is a CEF record from vendor CrowdStrike (syslog prefix allowed)."""
        first_line = head.split(b"\n", 1)[0]
        at = first_line.find(b"CEF:")
        return 0 <= at <= 256 and b"|CrowdStrike|" in first_line[at : at + 64]

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        """One row per CEF line; other non-blank lines become rejects."""
        decoder = LineDecoder(src.encoding)
        for line in iter_lines(src):
            if not line.data.strip():
                continue
            decoded = decoder(line.data)
            if decoded.raw_b64 is not None:
                line = replace(line, raw_b64=decoded.raw_b64)
            row = cef_to_row(decoded.text, line.position(), ctx)
            if row is None:
                yield reject_line(
                    line,
                    "not a CEF record" if line.terminated else "truncated last line: not a CEF record",
                    decoder,
                )
            else:
                yield row
