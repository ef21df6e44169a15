"""A generic CSV / JSON-lines importer driven by a mapping file the user writes.

For logs no parser knows (a proxy, a VPN concentrator, a home-grown EDR), the responder writes
a small YAML file naming the time column (and its format and zone), the host, the channel and
category, and which columns fill which core columns; ``forensics ingest --mapping FILE`` then
reads the files with it. The format is documented in ``docs/mapping.md``.

The parser claims a file only when a mapping is given (``ctx.options["mapping"]``, a Path)
and the file carries the mapping's time column and every mapped column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from forensics.ingest.base import FileFailed, InputFile, ParseContext, Reject, Row
from forensics.ingest.edr_common import (
    RAW_LIMIT,
    add_sysmon_aliases,
    blank,
    csv_dicts,
    decode,
    epoch_to_utc,
    first_json_line,
    flatten,
    json_objects,
    parse_time,
    put_natives,
    reject_line,
    summary,
    to_hash,
    to_int,
    to_pid,
    to_port,
    zone_of,
)
from forensics.schema import CORE_NAMES

SOURCE = "mapped"

# core columns a mapping may fill (time, source and provenance are the parser's and runner's)
_NOT_MAPPABLE = {"ts", "ts_raw", "ts_zone", "ts_assumed", "ts_year_inferred", "source", "host", "channel",
                 "provider", "category", "input_sha256", "input_path", "input_member", "rec_index",
                 "rec_offset", "rec_line", "raw_b64", "extra_fields"}  # fmt: skip
MAPPABLE = tuple(n for n in CORE_NAMES if n not in _NOT_MAPPABLE)
_INT_COLUMNS = {"event_id", "record_id", "process_pid", "parent_pid", "src_port", "dst_port"}
_HASH_LENGTHS = {"hash_md5": 32, "hash_sha1": 40, "hash_sha256": 64}
_EPOCH_FORMATS = {"epoch_s": 1.0, "epoch_ms": 1e3, "epoch_us": 1e6, "epoch_ns": 1e9}


class MappingError(ValueError):
    """The mapping file is missing, not YAML, or names something it cannot."""


@dataclass(frozen=True)
class Source:
    """Where a value comes from: a column (``field:`` in the file) or a constant (``value:``)."""

    column: str | None = None
    value: str | None = None
    map: dict[str, str] = field(default_factory=dict)

    def get(self, rec: dict[str, str | None]) -> str | None:
        """The value for one record (mapped through ``map`` when given)."""
        raw = rec.get(self.column) if self.column else self.value
        if raw is None:
            return None
        return self.map.get(raw, raw) if self.map else raw


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping file."""

    path: Path
    time_field: str
    time_format: str = "auto"
    time_zone: str | None = None
    fmt: str | None = None  # "csv" | "jsonl" | None (guess from content)
    delimiter: str = ","
    host: Source | None = None
    channel: Source = field(default_factory=lambda: Source(value="mapped"))
    provider: Source | None = None
    category: Source | None = None
    fields: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def columns(self) -> set[str]:
        """Every column the mapping reads (the file must have them all to be claimed)."""
        cols = {self.time_field, *self.fields.values(), *self.aliases.values()}
        for src in (self.host, self.channel, self.provider, self.category):
            if src is not None and src.column:
                cols.add(src.column)
        return cols


def _source(spec: Any, what: str) -> Source | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        return Source(value=spec)
    if not isinstance(spec, dict) or not ({"field", "value"} & set(spec)):
        raise MappingError(f"{what}: give {{field: COLUMN}} or {{value: TEXT}}")
    table = spec.get("map") or {}
    if not isinstance(table, dict):
        raise MappingError(f"{what}.map must be a table of source value: result")
    return Source(
        column=None if spec.get("field") is None else str(spec["field"]),
        value=None if spec.get("value") is None else str(spec["value"]),
        map={str(k): str(v) for k, v in table.items()},
    )


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; MappingError says what is wrong and where."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"{path}: cannot read mapping file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise MappingError(f"{path}: a mapping file is a YAML table (see docs/mapping.md)")
    time = doc.get("time")
    if isinstance(time, str):
        time = {"field": time}
    if not isinstance(time, dict) or not time.get("field"):
        raise MappingError(f"{path}: 'time: {{field: COLUMN}}' is required")
    fields = doc.get("fields") or {}
    if not isinstance(fields, dict):
        raise MappingError(f"{path}: 'fields' must be a table of core column: source column")
    unknown = sorted(set(fields) - set(MAPPABLE))
    if unknown:
        raise MappingError(
            f"{path}: not core columns a mapping can fill: {', '.join(unknown)} (allowed: {', '.join(MAPPABLE)})"
        )
    fmt = doc.get("format")
    if fmt not in (None, "csv", "jsonl"):
        raise MappingError(f"{path}: format must be csv or jsonl, not {fmt!r}")
    zone = time.get("zone")
    if zone is not None and zone_of(str(zone))[1] != str(zone) and str(zone).upper() != "UTC":
        raise MappingError(f"{path}: unknown time zone {zone!r} (use an IANA name such as Asia/Kolkata)")
    delimiter = str(doc.get("delimiter", ","))
    if len(delimiter) != 1:
        raise MappingError(f"{path}: delimiter must be one character")
    aliases = doc.get("aliases") or {}
    if not isinstance(aliases, dict):
        raise MappingError(f"{path}: 'aliases' must be a table of column name: source column")
    return Mapping(
        path=path,
        time_field=str(time["field"]),
        time_format=str(time.get("format", "auto")),
        time_zone=None if zone is None else str(zone),
        fmt=fmt,
        delimiter=delimiter,
        host=_source(doc.get("host"), "host"),
        channel=_source(doc.get("channel"), "channel") or Source(value="mapped"),
        provider=_source(doc.get("provider"), "provider"),
        category=_source(doc.get("category"), "category"),
        fields={str(k): str(v) for k, v in fields.items()},
        aliases={str(k): str(v) for k, v in aliases.items()},
    )


def _parse_ts(raw: str, m: Mapping, ctx: ParseContext) -> tuple[datetime, str, bool] | None:
    """(UTC time, zone used, assumed) for a raw value under the mapping's time format."""
    fmt = m.time_format
    zone = m.time_zone or ctx.tz
    if fmt in _EPOCH_FORMATS:
        dt = epoch_to_utc(str(float(raw.strip()) / _EPOCH_FORMATS[fmt])) if _is_number(raw) else None
        return (dt, "UTC", False) if dt else None
    if fmt in ("auto", "iso"):
        stamp = parse_time(raw, default_zone=zone)
        if stamp is None:
            return None
        # a zone the mapping names is stated by the user for this source: not assumed
        return stamp.ts, stamp.zone, stamp.assumed and m.time_zone is None
    try:
        parsed = datetime.strptime(raw.strip(), fmt)  # noqa: DTZ007 - zone applied below when naive
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC), "UTC" if not parsed.utcoffset() else str(parsed.tzinfo), False
    tz, name = zone_of(zone)
    return parsed.replace(tzinfo=tz).astimezone(UTC), name, m.time_zone is None


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _core_value(column: str, raw: str | None) -> Any:
    if blank(raw):
        return None
    if column in _HASH_LENGTHS:
        return to_hash(raw, _HASH_LENGTHS[column])
    if column in ("src_port", "dst_port"):
        return to_port(raw)
    if column in ("process_pid", "parent_pid"):
        return to_pid(raw)
    if column in _INT_COLUMNS:
        n = to_int(raw)
        return n if n is not None and abs(n) < 2**31 else None
    return raw


def record_to_row(rec: dict[str, str | None], row: Row, m: Mapping, ctx: ParseContext) -> Row | Reject:
    """One record (column -> text) into a row under the mapping; a bad time is a reject."""
    raw_ts = rec.get(m.time_field)
    if blank(raw_ts):
        return Reject(
            f"no value in time column {m.time_field!r}", None, row.get("rec_offset"), row.get("rec_line")
        )
    assert raw_ts is not None
    parsed = _parse_ts(raw_ts, m, ctx)
    if parsed is None:
        return Reject(
            f"time {raw_ts!r} does not match format {m.time_format!r}",
            None,
            row.get("rec_offset"),
            row.get("rec_line"),
        )
    row["ts"], row["ts_zone"], row["ts_assumed"] = parsed
    row["ts_raw"] = raw_ts
    row["source"] = SOURCE
    row["host"] = m.host.get(rec) if m.host else None
    row["channel"] = m.channel.get(rec) or "mapped"
    row["provider"] = m.provider.get(rec) if m.provider else None
    row["category"] = m.category.get(rec) if m.category else None
    for column, src in m.fields.items():
        row[column] = _core_value(column, rec.get(src))
    put_natives(row, rec)
    add_sysmon_aliases(row, {alias: rec.get(src) for alias, src in m.aliases.items()})
    if row.get("message") is None:
        row["message"] = summary(row, row["channel"])
    return row


def _mapping_path(ctx: ParseContext) -> Path | None:
    p = ctx.options.get("mapping")
    return Path(p) if p else None


class MappedParser:
    """CSV or JSON lines read through a user's mapping file (``--mapping FILE``)."""

    name = SOURCE
    description = "CSV / JSON lines read through a user-written mapping file (--mapping)"

    def __init__(self, mapping: Path | None = None) -> None:
        self.mapping = mapping
        self._loaded: Mapping | None = None

    @classmethod
    def for_context(cls, ctx: ParseContext) -> MappedParser | None:
        """A parser bound to the run's mapping file, or None when no mapping was given."""
        path = _mapping_path(ctx)
        return cls(path) if path is not None else None

    def _load(self, path: Path) -> Mapping:
        if self._loaded is None or self._loaded.path != path:
            self._loaded = load_mapping(path)
        return self._loaded

    def sniff(self, head: bytes, name: str) -> bool:
        """True only with a mapping, for files that carry every column the mapping reads."""
        if self.mapping is None:
            return False
        try:
            m = self._load(self.mapping)
        except MappingError:
            return False
        return m.columns() <= _head_columns(head, m)

    def claims(self, head: bytes, name: str, ctx: ParseContext) -> bool:
        """``sniff`` with the mapping taken from the run's options."""
        path = _mapping_path(ctx)
        return path is not None and MappedParser(path).sniff(head, name)

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        """One row per record; records without a usable time become rejects."""
        path = _mapping_path(ctx) or self.mapping
        if path is None:
            raise FileFailed("the mapped parser needs a mapping file (forensics ingest --mapping FILE)")
        try:
            m = self._load(path)
        except MappingError as exc:
            raise FileFailed(str(exc)) from exc
        if _is_jsonl(src.head, m):
            yield from self._parse_jsonl(src, m, ctx)
        else:
            yield from self._parse_csv(src, m, ctx)

    def _parse_jsonl(self, src: InputFile, m: Mapping, ctx: ParseContext) -> Iterator[Row | Reject]:
        for line, obj in json_objects(src):
            if isinstance(obj, Reject):
                yield obj
                continue
            if not isinstance(obj, dict):
                yield reject_line(line, "JSON value is not an object")
                continue
            rec: dict[str, str | None] = {}
            flatten(obj, rec)
            out = record_to_row(rec, line.position(), m, ctx)
            yield _with_raw(out, decode(line.data[:RAW_LIMIT]))

    def _parse_csv(self, src: InputFile, m: Mapping, ctx: ParseContext) -> Iterator[Row | Reject]:
        for item in csv_dicts(src, delimiter=m.delimiter, strip_header=True):
            if isinstance(item, Reject):
                yield item
                continue
            rec, values = item
            out = record_to_row(values, rec.position(), m, ctx)
            yield _with_raw(out, rec.raw[:RAW_LIMIT])


def _with_raw(out: Row | Reject, raw: str) -> Row | Reject:
    """A reject from ``record_to_row`` gets the record's raw text."""
    if isinstance(out, Reject) and out.raw is None:
        return Reject(out.reason, raw, out.rec_offset, out.rec_line, out.record_id)
    return out


def _is_jsonl(head: bytes, m: Mapping) -> bool:
    if m.fmt is not None:
        return m.fmt == "jsonl"
    return decode(head).lstrip().startswith("{")


def _head_columns(head: bytes, m: Mapping) -> set[str]:
    """Column names visible in the head: CSV header fields or the first object's keys."""
    if _is_jsonl(head, m):
        obj = first_json_line(head)
        if obj is None:
            return set()
        flat: dict[str, str | None] = {}
        flatten(obj, flat)
        return set(flat)
    first_line = decode(head).split("\n", 1)[0].rstrip("\r")
    try:
        cols = next(csv.reader(io.StringIO(first_line), delimiter=m.delimiter))
    except (csv.Error, StopIteration):
        return set()
    return {c.strip() for c in cols}
