"""Elastic Common Schema (ECS) documents as NDJSON: Elastic Agent / Endpoint / Beats exports.

One document per line, nested (``{"process": {"command_line": ...}}``) or already dotted
(``{"process.command_line": ...}``); Elasticsearch search hits (``{"_index", "_source"}``) and
whole ``_search`` responses (``{"hits": {"hits": [...]}}``) are unwrapped. Native fields are
kept under their dotted ECS names. Winlogbeat documents (``winlog.*``) are left to the Windows
export parser, which knows the event-data fields.
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
    first,
    first_json_line,
    flatten,
    head_keys,
    json_objects,
    os_family,
    put_natives,
    set_time,
    summary,
    sysmon_registry_path,
    text,
    to_hash,
    to_int,
    to_pid,
    to_port,
)

SOURCE = "ecs"
_WINDOWS_EXPORT_KEYS = ("winlog", "EventID", "log_name", "SourceName", "Channel")


def _values(v: str | None) -> list[str]:
    """An ECS keyword-or-array field (stored as JSON text when a list) as a list."""
    if v is None:
        return []
    if v.startswith("["):
        try:
            items = orjson.loads(v)
        except orjson.JSONDecodeError:
            return [v]
        return [str(i) for i in items] if isinstance(items, list) else [v]
    return [v]


def _category(f: dict[str, str | None]) -> str | None:
    """The Sigma category from ``event.category`` / ``event.type`` / ``event.action``."""
    cats = set(_values(f.get("event.category")))
    types = set(_values(f.get("event.type")))
    action = (f.get("event.action") or "").lower()
    if "process" in cats and (
        types & {"start"} or action in ("exec", "start", "process_started", "executed", "fork")
    ):
        return "process_creation"
    if not blank(f.get("dns.question.name")) and ("network" in cats or "dns" in action):
        return "dns_query"
    if "network" in cats and (
        types & {"start", "connection"} or "connect" in action or action == "network_flow"
    ):
        return "network_connection"
    if "file" in cats:
        if "deletion" in types or "delet" in action:
            return "file_delete"
        if "rename" in action:
            return "file_rename"
        if types & {"creation", "change"} or action in ("creation", "modification", "overwrite"):
            return "file_event"
    if "registry" in cats:
        if "deletion" in types or "delet" in action:
            return "registry_delete"
        return "registry_set"
    if "library" in cats:
        return "image_load"
    if "driver" in cats:
        return "driver_load"
    return None


def _cmdline(f: dict[str, str | None], prefix: str) -> str | None:
    line = first(f, f"{prefix}.command_line")
    if line is not None:
        return line
    args = _values(f.get(f"{prefix}.args"))
    return " ".join(args) or None


def _file_path(f: dict[str, str | None], prefix: str) -> str | None:
    path = first(f, f"{prefix}.path")
    if path is not None:
        return path
    folder, name = first(f, f"{prefix}.directory"), first(f, f"{prefix}.name")
    if folder and name:
        return folder.rstrip("\\/") + ("/" if folder.startswith("/") else "\\") + name
    return None


def _hashes(f: dict[str, str | None], prefix: str, row: Row) -> None:
    row["hash_md5"] = to_hash(f.get(f"{prefix}.hash.md5"), 32)
    row["hash_sha1"] = to_hash(f.get(f"{prefix}.hash.sha1"), 40)
    row["hash_sha256"] = to_hash(f.get(f"{prefix}.hash.sha256"), 64)


def _fill(f: dict[str, str | None], row: Row) -> dict[str, Any]:
    cat = row["category"]
    row["process_image"] = first(f, "process.executable")
    row["process_cmdline"] = _cmdline(f, "process")
    row["process_pid"] = to_pid(f.get("process.pid"))
    row["parent_image"] = first(f, "process.parent.executable")
    row["parent_cmdline"] = _cmdline(f, "process.parent")
    row["parent_pid"] = to_pid(f.get("process.parent.pid"))
    row["user_name"] = first(f, "user.name", "process.user.name")
    row["user_domain"] = first(f, "user.domain")
    row["user_sid"] = first(f, "user.id")
    row["src_ip"] = first(f, "source.ip")
    row["src_port"] = to_port(f.get("source.port"))
    row["dst_ip"] = first(f, "destination.ip")
    row["dst_port"] = to_port(f.get("destination.port"))
    row["file_path"] = _file_path(f, "file")
    _hashes(f, "process" if cat == "process_creation" else ("dll" if cat == "image_load" else "file"), row)
    extra: dict[str, Any] = {}
    if cat == "process_creation":
        extra = {
            "OriginalFileName": first(f, "process.pe.original_file_name"),
            "CurrentDirectory": first(f, "process.working_directory"),
            "IntegrityLevel": first(f, "process.Ext.token.integrity_level_name"),
        }
    elif cat == "network_connection":
        direction = (first(f, "network.direction") or "").lower()
        extra = {
            "Initiated": "false" if direction in ("inbound", "ingress", "incoming") else "true",
            "DestinationHostname": first(f, "destination.domain"),
            "Protocol": first(f, "network.transport"),
        }
    elif cat == "dns_query":
        extra = {
            "QueryName": first(f, "dns.question.name"),
            "QueryResults": ";".join(_values(f.get("dns.resolved_ip"))) or None,
        }
    elif cat and cat.startswith("registry_"):
        extra = {
            "TargetObject": sysmon_registry_path(first(f, "registry.path")),
            "Details": ";".join(_values(f.get("registry.data.strings"))) or None,
            "EventType": "DeleteValue" if cat == "registry_delete" else "SetValue",
        }
    elif cat in ("image_load", "driver_load"):
        row["file_path"] = _file_path(f, "dll") or row["file_path"]
    return extra


def document_to_row(doc: dict[str, Any], row: Row, ctx: ParseContext) -> Row:
    """One ECS document into a row."""
    fields: dict[str, str | None] = {}
    flatten(doc, fields)
    row["source"] = SOURCE
    row["channel"] = first(fields, "event.dataset", "data_stream.dataset", "event.module") or "ecs"
    row["provider"] = first(fields, "event.provider", "event.module", "agent.type") or "Elastic"
    row["category"] = _category(fields)
    for key in ("@timestamp", "event.created", "timestamp"):
        if not blank(fields.get(key)) and set_time(row, fields[key], default_zone=ctx.tz):
            break
    row["host"] = first(fields, "host.name", "host.hostname", "agent.hostname", "observer.hostname")
    row["os_family"] = os_family(first(fields, "host.os.type", "host.os.family", "host.os.platform"))
    code = first(fields, "event.code")
    row["event_id"] = int(code) if code and code.isdigit() and int(code) < 2**31 else None
    seq = to_int(fields.get("event.sequence"))
    row["record_id"] = seq if seq is not None and 0 <= seq < 2**63 else None
    extra = _fill(fields, row)
    put_natives(row, fields)
    add_sysmon_aliases(row, extra)
    row["message"] = first(fields, "message") or summary(row, row["channel"])
    return row


def _documents(obj: dict[str, Any] | list[Any]) -> list[Any]:
    """The documents in one line: itself, a search hit's ``_source``, or a response's hits."""
    if isinstance(obj, list):
        return [d.get("_source", d) if isinstance(d, dict) else d for d in obj]
    hits = obj.get("hits")
    if isinstance(hits, dict) and isinstance(hits.get("hits"), list):
        return [h.get("_source", h) if isinstance(h, dict) else h for h in hits["hits"]]
    if isinstance(obj.get("_source"), dict):
        return [obj["_source"]]
    return [obj]


def _looks_ecs(keys: set[str]) -> bool:
    if any(k in keys or any(x.startswith(k + ".") for x in keys) for k in _WINDOWS_EXPORT_KEYS):
        return False
    if "_source" in keys and "_index" in keys:
        return True
    if "@timestamp" not in keys:
        return False
    ecs_roots = {"ecs", "event", "agent", "host", "process", "data_stream"}
    return bool(ecs_roots & keys) or any(k.split(".", 1)[0] in ecs_roots for k in keys if "." in k)


class EcsParser:
    """Elastic Common Schema NDJSON (Elastic Agent, Endpoint, Beats, search-hit exports)."""

    name = SOURCE
    description = "Elastic Common Schema (ECS) documents, NDJSON (also Elasticsearch search hits)"

    def sniff(self, head: bytes, name: str) -> bool:
        """``@timestamp`` plus ECS field sets on the first line (not Winlogbeat documents)."""
        obj = first_json_line(head)
        if obj is None:
            return False
        keys = set(obj)
        src = obj.get("_source")
        if isinstance(src, dict):
            keys |= set(src)
        if "hits" in keys and "_source" not in keys:  # a whole _search response on one line
            nested = head_keys(head)
            return "_source" in nested and "@timestamp" in nested and _looks_ecs(nested - {"_index"})
        return _looks_ecs(keys)

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        """One row per document; unreadable lines become rejects."""
        for line, obj in json_objects(src):
            if isinstance(obj, Reject):
                yield obj
                continue
            yield from self._rows(line, obj, ctx)

    def _rows(self, line: Line, obj: dict[str, Any] | list[Any], ctx: ParseContext) -> Iterator[Row | Reject]:
        for doc in _documents(obj):
            if not isinstance(doc, dict):
                yield Reject(
                    "document is not a JSON object", (text(doc) or "")[:RAW_LIMIT], line.offset, line.number
                )
                continue
            yield document_to_row(doc, line.position(), ctx)
