"""The canonical event schema: core columns every source fills where it can.

Every parser emits rows as dicts. Keys named in ``CORE`` carry the meaning documented in
``docs/schema.md``; every other key is a source-specific field kept under its native name
(``CommandLine``, ``TargetUserName``, ...) and stored as a string column.

DuckDB (and Spark) resolve column names case-insensitively, so two keys that differ only by
case cannot both be columns. ``FieldNamer`` settles that: a native name that collides with a
core column gets the suffix ``_native``; two native spellings of one name share the column of
the spelling seen first by the case (seeded with the spellings Sigma rules use).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pyarrow as pa

UTC_TS = pa.timestamp("us", tz="UTC")
SPILL_TYPE = pa.map_(pa.string(), pa.string())
# A part keeps at most this many native fields as columns; the rest, least set first, go into
# ``extra_fields`` (name → value), so one new field name per record (a log an attacker can write)
# costs memory linear in the records, not rows × names. The corpus's widest part has ~150.
MAX_NATIVE_COLUMNS = 512


@dataclass(frozen=True)
class Column:
    """One core column: its name, Arrow type and meaning."""

    name: str
    type: pa.DataType
    doc: str


CORE: tuple[Column, ...] = (
    Column("ts", UTC_TS, "event time, UTC, microseconds"),
    Column("ts_raw", pa.string(), "the timestamp exactly as the source wrote it"),
    Column("ts_zone", pa.string(), "zone the raw timestamp was read in (IANA name or UTC)"),
    Column("ts_assumed", pa.bool_(), "true when the zone was not stated by the record but assumed"),
    Column("ts_year_inferred", pa.bool_(), "true when the year was not in the record and was inferred"),
    Column("host", pa.string(), "host name the event was recorded on (as the source names it)"),
    Column("source", pa.string(), "parser that produced the row: evtx, winxml, evtxjson, beats, ..."),
    Column(
        "channel",
        pa.string(),
        "log channel / file kind: Security, Microsoft-Windows-Sysmon/Operational, auth, ...",
    ),
    Column("provider", pa.string(), "event provider / program (Provider Name, syslog tag, EDR table)"),
    Column("event_id", pa.int32(), "numeric event id where the source has one"),
    Column("record_id", pa.int64(), "the source's own record number (EventRecordID, serial, ...)"),
    Column("category", pa.string(), "Sigma log-source category the event belongs to (process_creation, ...)"),
    Column("user_name", pa.string(), "acting or target user name"),
    Column("user_domain", pa.string(), "domain of user_name"),
    Column("user_sid", pa.string(), "SID or uid of user_name"),
    Column("process_image", pa.string(), "process image path"),
    Column("process_cmdline", pa.string(), "process command line"),
    Column("process_pid", pa.int64(), "process id"),
    Column("parent_image", pa.string(), "parent process image path"),
    Column("parent_cmdline", pa.string(), "parent process command line"),
    Column("parent_pid", pa.int64(), "parent process id"),
    Column("src_ip", pa.string(), "source IP address"),
    Column("src_port", pa.int32(), "source port"),
    Column("dst_ip", pa.string(), "destination IP address"),
    Column("dst_port", pa.int32(), "destination port"),
    Column("file_path", pa.string(), "file path the event is about"),
    Column("hash_md5", pa.string(), "MD5 of the file / image, lower-case hex"),
    Column("hash_sha1", pa.string(), "SHA-1 of the file / image, lower-case hex"),
    Column("hash_sha256", pa.string(), "SHA-256 of the file / image, lower-case hex"),
    Column("message", pa.string(), "human-readable message or the raw line"),
    # provenance: enough to find the raw record again
    Column("input_sha256", pa.string(), "SHA-256 of the input file (or archive member) the row came from"),
    Column("input_path", pa.string(), "input path as given (the archive for archive members)"),
    Column("input_member", pa.string(), "path inside the archive, null for plain files"),
    Column(
        "rec_index", pa.int64(), "0-based ordinal of the record in its input: the row's key with input_sha256"
    ),
    Column("rec_offset", pa.int64(), "byte offset of the record / line in the input, where known"),
    Column("rec_line", pa.int64(), "1-based line number for line formats"),
    Column(
        "carved",
        pa.bool_(),
        "true when the record was carved from a damaged or cut EVTX chunk; null for records read as stored",
    ),
    Column(
        "raw_b64",
        pa.string(),
        "the record's bytes as base64, when they did not decode in the input's encoding "
        "(the text columns then hold them with U+FFFD)",
    ),
    Column(
        "extra_fields",
        SPILL_TYPE,
        f"native fields past the first {MAX_NATIVE_COLUMNS} (most set) of their part: field name → value",
    ),
)
SPILL = "extra_fields"

CORE_NAMES: tuple[str, ...] = tuple(c.name for c in CORE)
CORE_TYPES: dict[str, pa.DataType] = {c.name: c.type for c in CORE}
_CORE_LOWER = {n.lower() for n in CORE_NAMES}

NATIVE_SUFFIX = "_native"

# Spellings Sigma rules use for fields that sources spell in more than one case.
PREFERRED_SPELLINGS: tuple[str, ...] = (
    "ProcessId",
    "ParentProcessId",
    "ProcessGuid",
    "ParentProcessGuid",
    "LogonId",
    "TargetLogonId",
    "SubjectLogonId",
    "IpAddress",
    "IpPort",
    "CommandLine",
    "ParentCommandLine",
    "Image",
    "ParentImage",
    "TargetFilename",
    "TargetObject",
    "ServiceName",
    "ImagePath",
    "Hashes",
)


class FieldNamer:
    """Maps native field names to column names, unique case-insensitively.

    The first spelling seen for a lower-cased name wins; ``known`` pre-seeds spellings
    (the case's registry and ``PREFERRED_SPELLINGS``) so that results do not depend on
    which file was read first.
    """

    def __init__(self, known: Iterable[str] = ()) -> None:
        self._by_lower: dict[str, str] = {}
        self._cache: dict[str, str] = {}
        for name in (*PREFERRED_SPELLINGS, *known):
            self._by_lower.setdefault(name.lower(), name)

    def column(self, native: str) -> str:
        """Column name for a native field name."""
        hit = self._cache.get(native)
        if hit is not None:
            return hit
        name = native
        if name.lower() in _CORE_LOWER:
            name = name + NATIVE_SUFFIX
        name = self._by_lower.setdefault(name.lower(), name)
        self._cache[native] = name
        return name

    def spellings(self) -> dict[str, str]:
        """The lower-case → column spelling registry, for persisting in the case."""
        return dict(self._by_lower)


def max_native_columns() -> int:
    """``MAX_NATIVE_COLUMNS``, or ``$FORENSICS_MAX_NATIVE_COLUMNS`` (0: no limit; for benchmarks)."""
    import os

    value = os.environ.get("FORENSICS_MAX_NATIVE_COLUMNS")
    return int(value) if value else MAX_NATIVE_COLUMNS


def duck_type(t: pa.DataType) -> str:
    """The DuckDB type name of an Arrow type used in the schema."""
    if pa.types.is_map(t):
        return "MAP(VARCHAR, VARCHAR)"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP WITH TIME ZONE"
    if pa.types.is_int32(t):
        return "INTEGER"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    return "VARCHAR"


def arrow_type(column: str) -> pa.DataType:
    """Arrow type of a column: the core type, or string for every native field."""
    return CORE_TYPES.get(column, pa.string())
