"""SentinelOne exports: Deep Visibility events, alerts, threats and activities.

Shapes read, by content:

- Deep Visibility events as the DV API returns them (``eventType``, ``agentName``,
  ``srcProcCmdLine``, ``tgtProcImagePath``, ...) or in the dotted S1QL names of the newer
  data lake (``event.type``, ``src.process.cmdline``, ``tgt.process.image.path``, ...);
- management API objects: alerts (``alertInfo`` + ``ruleInfo`` + process info), threats
  (``threatInfo``), activities (``activityType`` + ``primaryDescription``);
- CSV: the same objects flattened with ``_`` and Log Analytics type suffixes
  (``targetProcessInfo_tgtProcCmdLine_s`` in the Sentinel ``SentinelOne_CL`` table), or DV
  console CSV exports.

Fields are looked up by a normalised name (lower-case letters and digits only, type suffix
dropped), so one list of candidates serves the camelCase, dotted and flattened spellings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.edr_common import (
    add_sysmon_aliases,
    blank,
    column_zone,
    csv_dicts,
    csv_header,
    first_json_line,
    flatten,
    json_objects,
    os_family,
    put_natives,
    reject_line,
    set_time,
    summary,
    sysmon_registry_path,
    to_hash,
    to_pid,
    to_port,
)

PROVIDER = "SentinelOne"
SOURCE = "s1"

_CSV_SUFFIX = re.compile(r"_(s|g|b|t|d|n)$")


def norm(name: str) -> str:
    """A field name reduced to lower-case letters and digits (the lookup key)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


class View:
    """A record's fields by normalised name, with the zone a CSV column states."""

    def __init__(self, fields: dict[str, str | None], csv: bool = False) -> None:
        self.by_norm: dict[str, str] = {}
        self.zones: dict[str, str | None] = {}
        for key, value in fields.items():
            if blank(value):
                continue
            assert value is not None
            base, zone = column_zone(key) if csv else (key, None)
            if csv:
                base = _CSV_SUFFIX.sub("", base)
            n = norm(base)
            self.by_norm.setdefault(n, value)
            self.zones.setdefault(n, zone)

    def get(self, *names: str) -> str | None:
        """The first non-blank value among the candidate names."""
        for n in names:
            v = self.by_norm.get(norm(n))
            if v is not None:
                return v
        return None

    def get_with_zone(self, *names: str) -> tuple[str | None, str | None]:
        """Like ``get``, also returning the zone the column states (CSV ``[UTC]``)."""
        for n in names:
            k = norm(n)
            if k in self.by_norm:
                return self.by_norm[k], self.zones.get(k)
        return None, None


# Deep Visibility event type (normalised) -> Sigma category
_DV_CATEGORIES: dict[str, str] = {
    "processcreation": "process_creation",
    "filecreation": "file_event",
    "filemodification": "file_event",
    "filedeletion": "file_delete",
    "filerename": "file_rename",
    "ipconnect": "network_connection",
    "dnsresolved": "dns_query",
    "dnsunresolved": "dns_query",
    "registryvaluemodified": "registry_set",
    "registryvaluecreate": "registry_set",
    "registrykeycreate": "registry_add",
    "registrykeydelete": "registry_delete",
    "registryvaluedelete": "registry_delete",
    "modeleload": "image_load",
    "moduleload": "image_load",
    "openremoteprocesshandle": "process_access",
}

_REG_EVENT_TYPES = {
    "registry_set": "SetValue",
    "registry_add": "CreateKey",
    "registry_delete": "DeleteValue",
}

_TIME_NAMES = (
    "eventTime", "event.time", "threatInfo.identifiedAt", "threatInfo.createdAt", "alertInfo.eventTime",
    "alertInfo.createdAt", "createdAt", "Event Time", "timestamp", "TimeGenerated",
)  # fmt: skip
_HOST_NAMES = (
    "agentRealtimeInfo.agentComputerName", "agentDetectionInfo.name", "agentRealtimeInfo.name", "agentName",
    "endpoint.name", "agent.name", "Agent Name", "Endpoint Name", "computerName", "data.computerName", "Computer",
)  # fmt: skip

_OS_NAMES = (
    "agentRealtimeInfo.agentOsType", "agentDetectionInfo.osFamily", "agentDetectionInfo.agentOsName", "osFamily",
    "agentOs", "endpoint.os", "Agent OS",
)  # fmt: skip


def _kind(v: View) -> str:
    """Which S1 object this is: alert, threat, activity, or a Deep Visibility event."""
    if v.get("alertInfo.alertId", "alertInfo.eventType", "ruleInfo.name"):
        return "alert"
    if v.get("threatInfo.threatName", "threatInfo.threatId", "threatInfo.classification"):
        return "threat"
    if v.get("activityType") and v.get("primaryDescription", "createdAt"):
        return "activity"
    return "dv"


def _procs(v: View, cat: str | None) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """(acting or created process, its parent) as dicts of image/cmdline/pid/user/hashes."""
    src = {
        "image": v.get(
            "sourceProcessInfo.filePath",
            "srcProcImagePath",
            "src.process.image.path",
            "Source Process Image Path",
        ),
        "cmdline": v.get(
            "sourceProcessInfo.commandline",
            "srcProcCmdLine",
            "src.process.cmdline",
            "Source Process Command Line",
        ),
        "pid": v.get("sourceProcessInfo.pid", "srcProcPid", "src.process.pid", "Source Process Pid"),
        "user": v.get(
            "sourceProcessInfo.user", "srcProcUser", "src.process.user", "Source Process User", "user"
        ),
        "sha1": v.get("sourceProcessInfo.fileHashSha1", "srcProcImageSha1", "src.process.image.sha1"),
        "sha256": v.get("sourceProcessInfo.fileHashSha256", "srcProcImageSha256", "src.process.image.sha256"),
        "md5": v.get("sourceProcessInfo.fileHashMd5", "srcProcImageMd5", "src.process.image.md5"),
    }
    if cat == "process_creation":
        tgt = {
            "image": v.get(
                "targetProcessInfo.tgtProcImagePath",
                "tgtProcImagePath",
                "tgt.process.image.path",
                "Target Process Image Path",
            ),
            "cmdline": v.get(
                "targetProcessInfo.tgtProcCmdLine",
                "tgtProcCmdLine",
                "tgt.process.cmdline",
                "Target Process Command Line",
            ),
            "pid": v.get(
                "targetProcessInfo.tgtProcPid", "tgtProcPid", "tgt.process.pid", "Target Process Pid"
            ),
            "user": v.get("tgtProcUser", "tgt.process.user", "Target Process User") or src["user"],
            "sha1": v.get("targetProcessInfo.tgtFileHashSha1", "tgtProcImageSha1", "tgt.process.image.sha1"),
            "sha256": v.get(
                "targetProcessInfo.tgtFileHashSha256", "tgtProcImageSha256", "tgt.process.image.sha256"
            ),
            "md5": v.get("tgtProcImageMd5", "tgt.process.image.md5"),
        }
        return tgt, src
    parent = {
        "image": v.get(
            "sourceParentProcessInfo.filePath", "srcProcParentImagePath", "src.process.parent.image.path"
        ),
        "cmdline": v.get(
            "sourceParentProcessInfo.commandline", "srcProcParentCmdLine", "src.process.parent.cmdline"
        ),
        "pid": v.get("sourceParentProcessInfo.pid", "srcProcParentPid", "src.process.parent.pid"),
    }
    return src, parent


def _category(v: View, kind: str) -> str | None:
    if kind == "alert":
        return _DV_CATEGORIES.get(norm(v.get("alertInfo.eventType") or ""))
    if kind == "threat":  # an S1 threat is an AV detection: Sigma antivirus rules apply
        return "antivirus"
    if kind == "dv":
        return _DV_CATEGORIES.get(norm(v.get("eventType", "event.type", "Event Type") or ""))
    return None


def _channel(v: View, kind: str) -> str:
    if kind != "dv":
        return kind
    return v.get("eventType", "event.type", "Event Type") or "deep_visibility"


def _split_user(user: str | None) -> tuple[str | None, str | None]:
    if user and "\\" in user:
        domain, name = user.split("\\", 1)
        return name, domain
    return user, None


def _fill(v: View, row: Row) -> dict[str, Any]:
    """Core columns and Sysmon alias values."""
    cat = row["category"]
    proc, parent = _procs(v, cat)
    row["process_image"] = proc["image"]
    row["process_cmdline"] = proc["cmdline"]
    row["process_pid"] = to_pid(proc["pid"])
    row["parent_image"] = parent["image"]
    row["parent_cmdline"] = parent["cmdline"]
    row["parent_pid"] = to_pid(parent["pid"])
    user = proc.get("user") or v.get("data.username", "alertInfo.loginsUserName", "threatInfo.processUser")
    row["user_name"], row["user_domain"] = _split_user(user)
    row["user_sid"] = v.get("alertInfo.loginAccountSid", "loginAccountSid")
    row["src_ip"] = v.get("srcIp", "alertInfo.srcIp", "src.ip.address", "data.ipAddress", "Source IP")
    row["src_port"] = to_port(v.get("srcPort", "alertInfo.srcPort", "src.port.number", "Source Port"))
    row["dst_ip"] = v.get("dstIp", "alertInfo.dstIp", "dst.ip.address", "Destination IP")
    row["dst_port"] = to_port(v.get("dstPort", "alertInfo.dstPort", "dst.port.number", "Destination Port"))
    row["file_path"] = v.get("tgtFilePath", "tgt.file.path", "threatInfo.filePath", "Target File Path")
    row["hash_sha1"] = to_hash(
        v.get("tgtFileSha1", "tgt.file.sha1", "threatInfo.sha1") or proc.get("sha1"), 40
    )
    row["hash_sha256"] = to_hash(
        v.get("tgtFileSha256", "tgt.file.sha256", "threatInfo.sha256") or proc.get("sha256"), 64
    )
    row["hash_md5"] = to_hash(v.get("tgtFileMd5", "tgt.file.md5", "threatInfo.md5") or proc.get("md5"), 32)
    extra: dict[str, Any] = {}
    if cat == "network_connection":
        direction = (
            v.get("netEventDirection", "alertInfo.netEventDirection", "event.network.direction") or ""
        ).upper()
        extra["Initiated"] = "false" if direction.startswith("INCOMING") else "true"
    if cat == "dns_query":
        extra["QueryName"] = v.get("dnsRequest", "alertInfo.dnsRequest", "event.dns.request", "DNS Request")
        extra["QueryResults"] = v.get(
            "dnsResponse", "alertInfo.dnsResponse", "event.dns.response", "DNS Response"
        )
    if cat and cat.startswith("registry_"):
        key = v.get(
            "registryKeyPath",
            "registryPath",
            "alertInfo.registryKeyPath",
            "registry.keyPath",
            "Registry Key Path",
        )
        extra["TargetObject"] = sysmon_registry_path(key)
        extra["Details"] = v.get(
            "registryValue", "alertInfo.registryValue", "registry.value", "Registry Value"
        )
        event_type = norm(v.get("eventType", "event.type", "alertInfo.eventType") or "")
        extra["EventType"] = "DeleteKey" if event_type == "registrykeydelete" else _REG_EVENT_TYPES.get(cat)
    if cat == "process_creation":
        extra["IntegrityLevel"] = v.get("targetProcessInfo.tgtProcIntegrityLevel", "tgtProcIntegrityLevel")
        extra["ParentUser"] = parent.get("user")
    if cat == "antivirus":
        extra["Signature"] = v.get("threatInfo.threatName")
        extra["Filename"] = row["file_path"]
    if cat == "image_load":
        extra["ImageLoaded"] = v.get("modulePath", "alertInfo.modulePath", "module.path")
        row["file_path"] = row["file_path"] or extra["ImageLoaded"]
    return extra


def _message(v: View, kind: str) -> str | None:
    if kind == "activity":
        return v.get("primaryDescription", "description")
    if kind == "threat":
        parts = [
            v.get("threatInfo.classification"),
            v.get("threatInfo.threatName"),
            v.get("threatInfo.filePath"),
        ]
        return " | ".join(p for p in parts if p) or None
    if kind == "alert":
        return v.get("ruleInfo.name", "alertInfo.indicatorDescription")
    return None


def _record_id(v: View, kind: str) -> int | None:
    """The numeric S1 id (only exact digit strings: CSV exports mangle them to 1.7E+18)."""
    raw = v.get("alertInfo.alertId") if kind == "alert" else v.get("id")
    if raw and raw.isdigit() and int(raw) < 2**63:
        return int(raw)
    return None


def record_to_row(fields: dict[str, str | None], row: Row, ctx: ParseContext, *, csv: bool) -> Row:
    """One flattened S1 record into a row."""
    v = View(fields, csv=csv)
    kind = _kind(v)
    row["source"] = SOURCE
    row["provider"] = PROVIDER
    row["channel"] = _channel(v, kind)
    row["category"] = _category(v, kind)
    raw_ts, zone = v.get_with_zone(*_TIME_NAMES)
    if raw_ts is not None:
        set_time(row, raw_ts, default_zone=ctx.tz, column_zone_name=zone)
    row["host"] = v.get(*_HOST_NAMES)
    row["os_family"] = os_family(v.get(*_OS_NAMES))
    row["record_id"] = _record_id(v, kind)
    extra = _fill(v, row)
    put_natives(row, fields)
    add_sysmon_aliases(row, extra)
    row["message"] = _message(v, kind) or summary(row, row["channel"])
    return row


_JSON_MARKERS = (
    {"activityType", "primaryDescription"},
    {"threatInfo", "agentRealtimeInfo"},
    {"threatInfo", "agentDetectionInfo"},
    {"alertInfo", "ruleInfo"},
    {"alertInfo", "sourceProcessInfo"},
    {"eventType", "agentName", "srcProcName"},
    {"eventType", "agentUuid", "srcProcCmdLine"},
    {"event.type", "src.process.name"},
    {"event.type", "endpoint.name"},
)


def _csv_s1(cols: list[str]) -> bool:
    normed = {norm(_CSV_SUFFIX.sub("", column_zone(c)[0])) for c in cols}
    if "alertinfoeventtype" in normed or "threatinfothreatname" in normed:
        return True
    return {"eventtype", "agentname"} <= normed and bool(
        {"sourceprocessname", "srcprocname", "sourceprocesscommandline"} & normed
    )


class SentinelOneParser:
    """SentinelOne Deep Visibility events, alerts, threats and activities (JSON lines or CSV)."""

    name = SOURCE
    description = "SentinelOne Deep Visibility / alert / threat / activity export, JSON lines or CSV"

    def sniff(self, head: bytes, name: str) -> bool:
        """S1 object keys on the first line, or S1 column names in a CSV header."""
        obj = first_json_line(head)
        if obj is not None:
            keys = set(obj)
            return any(m <= keys for m in _JSON_MARKERS)
        cols = csv_header(head)
        return cols is not None and _csv_s1(cols)

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        """One row per S1 record; unreadable lines become rejects."""
        if first_json_line(src.head) is None and csv_header(src.head) is not None:
            yield from self._parse_csv(src, ctx)
            return
        for line, obj in json_objects(src):
            if isinstance(obj, Reject):
                yield obj
                continue
            if not isinstance(obj, dict):
                yield reject_line(line, "JSON array where an S1 object was expected")
                continue
            fields: dict[str, str | None] = {}
            flatten(obj, fields)
            yield record_to_row(fields, line.position(), ctx, csv=False)

    def _parse_csv(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        for item in csv_dicts(src):
            if isinstance(item, Reject):
                yield item
                continue
            rec, fields = item
            yield record_to_row(fields, rec.position(), ctx, csv=True)
