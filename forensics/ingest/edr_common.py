"""Shared by the EDR export parsers (MDE, CrowdStrike FDR, SentinelOne, ECS, mapped).

EDR exports are JSON lines or CSV. This module reads both while keeping each record's line
number and byte offset (so a raw record can be re-extracted), flattens nested JSON into
``a.b.c`` string fields, parses the time encodings the consoles use, and adds the Sysmon-named
alias columns (``Image``, ``CommandLine``, ``TargetObject``, ...) that let Sigma rules written
for Sysmon select EDR rows by category. EDR rows also carry ``os_family`` (windows, linux,
macos, ...) where the record states the platform, so hunts can tell a Windows process from a
Linux one when both come from one console.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from forensics.ingest.base import InputFile, Reject, Row
from forensics.ingest.jsonarray import NotAnArray, first_element, is_array
from forensics.ingest.jsonarray import elements as array_elements
from forensics.ingest.text import LineDecoder, is_utf8, json_record, raw_b64
from forensics.schema import CORE_NAMES, NATIVE_SUFFIX
from forensics.timeutil import from_epoch, parse_iso_utc

_CORE_LOWER = {n.lower() for n in CORE_NAMES}
RAW_LIMIT = 64 * 1024  # keep rejects' raw text bounded: a garbage "line" can be megabytes


# ---------------------------------------------------------------- reading ------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One physical line of a line-oriented file."""

    number: int  # 1-based
    offset: int  # byte offset of the line's first byte
    data: bytes  # without the line terminator
    terminated: bool  # False for a last line with no newline (possibly truncated)
    size: int  # bytes on disk, terminator included
    raw_b64: str | None = None  # its bytes, when they are not text in the file's encoding

    def position(self) -> Row:
        """The provenance columns of a row read from this line (and its bytes when not text)."""
        pos: Row = {"rec_line": self.number, "rec_offset": self.offset}
        if self.raw_b64 is not None:
            pos["raw_b64"] = self.raw_b64
        return pos


def iter_lines(src: InputFile) -> Iterator[Line]:
    """Every line of the file with its number and byte offset (CRLF and LF alike)."""
    offset = 0
    with src.local.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            terminated = raw.endswith(b"\n")
            data = raw[:-1] if terminated else raw
            if data.endswith(b"\r"):
                data = data[:-1]
            yield Line(number, offset, data, terminated, len(raw))
            offset += len(raw)


def decode(data: bytes) -> str:
    """Bytes of a record as text: UTF-8 (BOM dropped), undecodable bytes replaced."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def reject_line(line: Line, reason: str, decoder: LineDecoder | None = None) -> Reject:
    """A reject for one line, with the raw text (bounded, in the file's encoding) and its
    position; bytes that are not text in that encoding are kept exactly in ``raw_b64``."""
    data = line.data[:RAW_LIMIT]
    if decoder is not None:
        decoded = decoder(data)
        return Reject(reason, decoded.text, line.offset, line.number, raw_b64=decoded.raw_b64)
    return Reject(
        reason=reason, raw=decode(data), rec_offset=line.offset, rec_line=line.number,
        raw_b64=None if is_utf8(data) else raw_b64(data),
    )  # fmt: skip


def json_objects(src: InputFile) -> Iterator[tuple[Line, dict[str, Any] | list[Any] | Reject]]:
    """Each non-blank line parsed as JSON; a line that does not parse becomes a Reject.

    Blank lines are separators, not records, so they are neither rows nor rejects. A file that
    is one JSON array (a SIEM export) gives its elements one by one instead, each with its own
    offset and line (``forensics.ingest.jsonarray``): memory holds one element, not the file.
    Records are read in the file's encoding; a record whose bytes are not text in it is parsed
    from its text with U+FFFD, and its ``Line`` keeps the bytes (``raw_b64``).
    """
    decoder = LineDecoder(src.encoding)
    if is_array(src.head):
        yield from _array_objects(src, decoder)
        return
    for line in iter_lines(src):
        if not line.data.strip():
            continue
        yield json_line(line, decoder, "not valid JSON" if line.terminated else "truncated last line")


def json_line(line: Line, decoder: LineDecoder, why: str) -> tuple[Line, dict[str, Any] | list[Any] | Reject]:
    try:
        obj, b64 = json_record(line.data, decoder)
    except orjson.JSONDecodeError as exc:
        return line, reject_line(line, f"{why}: {exc}", decoder)
    if b64 is not None:
        line = replace(line, raw_b64=b64)
    if not isinstance(obj, dict | list):
        return line, reject_line(line, f"JSON value is a {type(obj).__name__}, not an object", decoder)
    return line, obj


def _array_objects(
    src: InputFile, decoder: LineDecoder
) -> Iterator[tuple[Line, dict[str, Any] | list[Any] | Reject]]:
    """The elements of a file that is one JSON array, as (position, object or Reject)."""
    with src.local.open("rb") as fh:
        try:
            for el in array_elements(fh):
                line = Line(el.line, el.offset, el.data or b"", True, el.size)
                if el.data is None:
                    yield line, Reject(f"array element of {el.size} bytes over the record limit: not read",
                                       None, el.offset, el.line)  # fmt: skip
                    continue
                yield json_line(line, decoder, "array element is not valid JSON")
        except NotAnArray as exc:
            end = Line(0, 0, b"", False, 0)
            yield end, Reject(f"JSON array unreadable from here: {exc}", None, None, None)


@dataclass(frozen=True, slots=True)
class CsvRecord:
    """One CSV data record (it may span lines when a quoted field holds newlines)."""

    number: int  # 1-based line the record starts on
    offset: int  # byte offset of that line
    fields: list[str]
    raw: str
    raw_b64: str | None = None  # its bytes, when a line of it is not text in the file's encoding

    def position(self) -> Row:
        """The provenance columns of a row read from this record (and its bytes when not text)."""
        pos: Row = {"rec_line": self.number, "rec_offset": self.offset}
        if self.raw_b64 is not None:
            pos["raw_b64"] = self.raw_b64
        return pos


class _Tracked:
    """A line iterator that remembers where the next line starts (for CSV positions)."""

    def __init__(self, src: InputFile) -> None:
        self._lines = iter_lines(src)
        self._decoder = LineDecoder(src.encoding)
        self.next_number = 1
        self.next_offset = 0
        self.consumed: list[str] = []
        self.consumed_bytes: list[bytes] = []
        self.undecoded = False  # a consumed line is not text in the file's encoding

    def start_record(self) -> None:
        """Forget the lines of the record before."""
        self.consumed, self.consumed_bytes, self.undecoded = [], [], False

    def kept_bytes(self) -> str | None:
        """The bytes of the record's lines (joined by LF) when one of them did not decode."""
        return raw_b64(b"\n".join(self.consumed_bytes)[:RAW_LIMIT]) if self.undecoded else None

    def __iter__(self) -> _Tracked:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.next_number = line.number + 1
        self.next_offset = line.offset + line.size
        decoded = self._decoder(line.data)
        self.consumed.append(decoded.text)
        self.consumed_bytes.append(line.data)
        self.undecoded |= decoded.raw_b64 is not None
        return decoded.text + "\n"


def csv_records(src: InputFile, delimiter: str = ",") -> Iterator[CsvRecord | Reject]:
    """The header (as the first record) and every data record of a CSV file.

    Positions come from tracking the lines the csv module pulls, so a record's line and byte
    offset are those of its first physical line.
    """
    tracked = _Tracked(src)
    reader = csv.reader(tracked, delimiter=delimiter, strict=True)
    while True:
        number, offset = tracked.next_number, tracked.next_offset
        tracked.start_record()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raw = "\n".join(tracked.consumed)[:RAW_LIMIT]
            yield Reject(f"bad CSV record: {exc}", raw, offset, number, raw_b64=tracked.kept_bytes())
            # the reader cannot resume after a strict-mode error: the rest is one reject
            after, line_after = tracked.next_offset, tracked.next_number
            tracked.start_record()
            rest = list(tracked)
            if rest:
                yield Reject(
                    f"CSV unreadable after line {line_after - 1}: {len(rest)} more line(s) not parsed",
                    "\n".join(rest)[:RAW_LIMIT], after, line_after, raw_b64=tracked.kept_bytes(),
                )  # fmt: skip
            return
        yield CsvRecord(number, offset, fields, "\n".join(tracked.consumed), tracked.kept_bytes())


def csv_dicts(
    src: InputFile, delimiter: str = ",", strip_header: bool = False
) -> Iterator[tuple[CsvRecord, dict[str, str | None]] | Reject]:
    """Each data record of a CSV with a header line, as (record, {column: value, empty as None}).

    A record whose field count differs from the header's becomes a Reject with its raw text.
    """
    header: list[str] | None = None
    for rec in csv_records(src, delimiter=delimiter):
        if isinstance(rec, Reject):
            yield rec
            continue
        if header is None:
            header = [h.strip() for h in rec.fields] if strip_header else rec.fields
            continue
        if len(rec.fields) != len(header):
            yield Reject(
                f"CSV record has {len(rec.fields)} fields, header has {len(header)}",
                rec.raw[:RAW_LIMIT],
                rec.offset,
                rec.number,
                raw_b64=rec.raw_b64,
            )
            continue
        yield rec, {k: (v if v != "" else None) for k, v in zip(header, rec.fields, strict=True)}


def csv_header(head: bytes) -> list[str] | None:
    """Column names from the first line of ``head`` when it looks like a CSV header."""
    text = decode(head)
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first or first.lstrip().startswith(("{", "[")) or "," not in first:
        return None
    try:
        cols = next(csv.reader(io.StringIO(first)))
    except (csv.Error, StopIteration):
        return None
    return [c.strip() for c in cols]


def first_json_line(head: bytes) -> dict[str, Any] | None:
    """The first line of ``head`` parsed as a JSON object, or None.

    The head may cut a long line short; then the keys are read with a shallow scan instead,
    so a sniffer still sees the top-level names.
    """
    if is_array(head):
        return first_element(head)
    text = decode(head).lstrip()
    if not text.startswith("{"):
        return None
    first = text.split("\n", 1)[0]
    try:
        obj = orjson.loads(first)
    except orjson.JSONDecodeError:
        return {k: True for k in re.findall(r'"([^"\\]{1,80})"\s*:', first)}
    return obj if isinstance(obj, dict) else None


def head_keys(head: bytes) -> set[str]:
    """Every ``"name":`` key visible in the head (any depth): a cheap content fingerprint."""
    return set(re.findall(r'"([^"\\]{1,80})"\s*:', decode(head)))


# ---------------------------------------------------------------- values -------------------


def text(v: Any) -> str | None:
    """A JSON value as a native string: bools lower-case, containers as canonical JSON."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()


def flatten(obj: dict[str, Any], out: dict[str, str | None], prefix: str = "", sep: str = ".") -> None:
    """Nested objects into ``out`` as ``a.b.c`` -> str; lists stay one JSON-string field."""
    for key, value in obj.items():
        name = f"{prefix}{sep}{key}" if prefix else key
        if type(value) is str:  # the common case first: FDR and MDE values are mostly strings
            out[name] = value
        elif isinstance(value, dict) and value:
            flatten(value, out, name, sep)
        else:
            out[name] = text(value)


_LOWER: dict[str, str] = {}  # name -> lower-case name; field names repeat on every record


def lower(name: str) -> str:
    """``name.lower()``, memoised (field names repeat on every record)."""
    low = _LOWER.get(name)
    if low is None:
        low = _LOWER[name] = name.lower()
    return low


def native_key(name: str) -> str:
    """A native field name that cannot overwrite a core column in the row dict."""
    return name + NATIVE_SUFFIX if lower(name) in _CORE_LOWER else name


def put_natives(row: Row, natives: dict[str, str | None]) -> None:
    """Add native fields to a row, renaming those that collide with core columns."""
    for key, value in natives.items():
        if lower(key) in _CORE_LOWER:
            key = key + NATIVE_SUFFIX
        row[key] = value


def blank(v: Any) -> bool:
    """True for values that carry nothing (None, empty, the '-'/'null' placeholders)."""
    return v is None or (isinstance(v, str) and v.strip() in ("", "-", "null", "None", "none"))


def first(data: dict[str, Any], *names: str) -> str | None:
    """The first non-blank value among ``names`` as a string."""
    for n in names:
        v = data.get(n)
        if not blank(v):
            return text(v)
    return None


def to_int(v: Any) -> int | None:
    """An integer from an int or a decimal/hex string, else None."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    s = str(v).strip()
    try:
        return int(s, 16) if s.lower().startswith("0x") else int(s)
    except ValueError:
        try:
            f = float(s)
        except ValueError:
            return None
        return int(f) if f.is_integer() and abs(f) < 2**63 else None


def to_port(v: Any) -> int | None:
    """A TCP/UDP port (0..65535) or None."""
    n = to_int(v)
    return n if n is not None and 0 <= n <= 65535 else None


def to_pid(v: Any) -> int | None:
    """A process id that fits the int64 column, or None."""
    n = to_int(v)
    return n if n is not None and 0 <= n < 2**63 else None


_HEX = re.compile(r"^[0-9a-fA-F]+$")


def to_hash(v: Any, length: int) -> str | None:
    """A hex digest of ``length`` characters, lower-cased; all-zero digests are no hash."""
    s = text(v)
    if s is None:
        return None
    s = s.strip()
    if len(s) != length or not _HEX.match(s) or set(s) == {"0"}:
        return None
    return s.lower()


# ---------------------------------------------------------------- time ---------------------

_NUMERIC = re.compile(r"^\d+(\.\d+)?$")


def epoch_to_utc(value: Any) -> datetime | None:
    """A POSIX time in s, ms, µs or ns (told apart by magnitude) as aware UTC."""
    s = str(value).strip()
    if not _NUMERIC.match(s):
        return None
    x = float(s)
    if x <= 0:
        return None
    # seconds for the years 1973..5138; larger magnitudes are ms, µs, ns
    for scale in (1.0, 1e3, 1e6, 1e9):
        if x / scale < 1e11:
            try:
                return from_epoch(x / scale)
            except (OverflowError, OSError, ValueError):
                return None
    return None


# Log Analytics / Excel exports: "10/25/2023, 9:43:21.994 AM", "7/20/2023, 7:10:09 AM"
# and the CEF date form "Sep 13 2023 10:35:34"
_US_FORMATS = (
    "%m/%d/%Y, %I:%M:%S.%f %p", "%m/%d/%Y, %I:%M:%S %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S",
    "%b %d %Y %H:%M:%S", "%b %d %Y %H:%M:%S.%f",
)  # fmt: skip


def zone_of(name: str | None) -> tuple[Any, str]:
    """The tzinfo for an IANA name (UTC when None or unknown) and the name recorded."""
    if not name or name.upper() == "UTC":
        return UTC, "UTC"
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        return UTC, "UTC"


@dataclass(frozen=True, slots=True)
class Stamp:
    """A parsed time with how it was read."""

    ts: datetime
    zone: str
    assumed: bool


def parse_time(raw: Any, *, default_zone: str | None = None, column_zone: str | None = None) -> Stamp | None:
    """An EDR time value: epoch number, ISO-8601, or the Log Analytics US format.

    ``column_zone`` is a zone the export states for the column (``Timestamp [UTC]``): not
    assumed. ``default_zone`` is the user's ``--tz`` for naive values: assumed (UTC if None).
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        dt = epoch_to_utc(raw)
        return Stamp(dt, "UTC", False) if dt else None
    s = str(raw).strip()
    if not s:
        return None
    dt = epoch_to_utc(s)
    if dt is not None:
        return Stamp(dt, "UTC", False)
    try:
        parsed: datetime | None = datetime.fromisoformat(s[:-4] + "Z" if s.endswith(" UTC") else s)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.tzinfo is not None:
        return Stamp(parsed.astimezone(UTC), _offset_name(parsed), False)
    naive = parsed if parsed is not None else _us_format(s)
    if naive is None:
        # ISO with 7 fractional digits (.NET) or other variants the stdlib may refuse
        iso = parse_iso_utc(_trim_fraction(s))
        return Stamp(iso, "UTC", not _has_zone(s)) if iso else None
    if column_zone is not None:
        tz, zname = zone_of(column_zone)
        return Stamp(naive.replace(tzinfo=tz).astimezone(UTC), zname, False)
    tz, zname = zone_of(default_zone)
    return Stamp(naive.replace(tzinfo=tz).astimezone(UTC), zname, True)


def _offset_name(dt: datetime) -> str:
    """The zone an aware time was written in: ``UTC`` or its offset (``+05:30``)."""
    off = dt.utcoffset()
    if not off:
        return "UTC"
    z = dt.strftime("%z")  # +0530
    return f"{z[:3]}:{z[3:5]}"


def _has_zone(s: str) -> bool:
    return s.endswith("Z") or bool(re.search(r"[+-]\d\d:?\d\d$", s))


def _trim_fraction(s: str) -> str:
    """Cut a fractional second to 6 digits (Python reads at most microseconds)."""
    return re.sub(r"(\.\d{6})\d+", r"\1", s)


def _us_format(s: str) -> datetime | None:
    for fmt in _US_FORMATS:
        try:
            return datetime.strptime(s, fmt)  # noqa: DTZ007 - naive on purpose; zone applied by caller
        except ValueError:
            continue
    return None


def column_zone(column: str) -> tuple[str, str | None]:
    """``"Timestamp [UTC]"`` -> ("Timestamp", "UTC"); ``[Local Time]`` -> (name, None)."""
    m = re.match(r"^(.*?)\s*\[(.+)\]$", column)
    if not m:
        return column, None
    zone = m.group(2).strip()
    return m.group(1), ("UTC" if zone.upper() == "UTC" else None)


def set_time(
    row: Row, raw: Any, *, default_zone: str | None = None, column_zone_name: str | None = None
) -> bool:
    """Fill ts / ts_raw / ts_zone / ts_assumed from a raw time; False when it does not parse."""
    stamp = parse_time(raw, default_zone=default_zone, column_zone=column_zone_name)
    row["ts_raw"] = text(raw)
    if stamp is None:
        return False
    row["ts"] = stamp.ts
    row["ts_zone"] = stamp.zone
    row["ts_assumed"] = stamp.assumed
    return True


# ---------------------------------------------------------------- Sysmon aliases -----------

_HIVES = (
    ("\\REGISTRY\\MACHINE", "HKLM"),
    ("\\REGISTRY\\USER", "HKU"),
    ("HKEY_LOCAL_MACHINE", "HKLM"),
    ("HKEY_USERS", "HKU"),
    ("HKEY_CURRENT_USER", "HKCU"),
    ("HKEY_CLASSES_ROOT", "HKCR"),
    ("HKEY_CURRENT_CONFIG", "HKCC"),
)


def sysmon_registry_path(key: str | None, value_name: str | None = None) -> str | None:
    """A registry key (+ value) in the form Sysmon writes: ``HKLM\\SOFTWARE\\...\\Value``."""
    if blank(key):
        return None
    assert key is not None
    path = key
    upper = key.upper()
    for long, short in _HIVES:
        if upper.startswith(long):
            path = short + key[len(long) :]
            break
    if not blank(value_name):
        path = f"{path}\\{value_name}"
    return path


def dword_details(value: Any) -> str | None:
    """A DWORD as Sysmon renders it in ``Details``: ``DWORD (0x00000001)``."""
    n = to_int(value)
    if n is None or n < 0 or n > 0xFFFFFFFF:
        return None
    return f"DWORD (0x{n:08x})"


def qword_details(value: Any) -> str | None:
    """A QWORD as Sysmon renders it: ``QWORD (0x00000000-0x00000001)``."""
    n = to_int(value)
    if n is None or n < 0 or n >= 2**64:
        return None
    return f"QWORD (0x{n >> 32:08x}-0x{n & 0xFFFFFFFF:08x})"


def join_path(folder: str | None, name: str | None) -> str | None:
    """A full path from a folder and a file name; the folder alone when it already ends in it."""
    if blank(folder):
        return None if blank(name) else name
    assert folder is not None
    if blank(name):
        return folder
    assert name is not None
    if folder.lower().rstrip("\\/").endswith(name.lower()):
        return folder
    sep = "/" if folder.startswith("/") else "\\"
    return folder.rstrip("\\/") + sep + name


def user_alias(name: str | None, domain: str | None) -> str | None:
    """The Sysmon ``User`` field: ``DOMAIN\\user`` (or the bare name)."""
    if blank(name):
        return None
    if blank(domain) or (name and "\\" in name):
        return name
    return f"{domain}\\{name}"


def hashes_alias(row: Row) -> str | None:
    """The Sysmon ``Hashes`` field from the row's core hash columns."""
    parts = [
        f"{k}={row[c].upper()}"
        for k, c in (("SHA1", "hash_sha1"), ("MD5", "hash_md5"), ("SHA256", "hash_sha256"))
        if row.get(c)
    ]
    return ",".join(parts) or None


# category -> the (alias, core column) pairs filled from core columns
_CORE_ALIASES: dict[str, tuple[tuple[str, str], ...]] = {
    "process_creation": (
        ("Image", "process_image"),
        ("CommandLine", "process_cmdline"),
        ("ParentImage", "parent_image"),
        ("ParentCommandLine", "parent_cmdline"),
        ("ProcessId", "process_pid"),
        ("ParentProcessId", "parent_pid"),
    ),
    "network_connection": (
        ("Image", "process_image"),
        ("DestinationIp", "dst_ip"),
        ("DestinationPort", "dst_port"),
        ("SourceIp", "src_ip"),
        ("SourcePort", "src_port"),
        ("ProcessId", "process_pid"),
    ),
    "file_event": (("Image", "process_image"), ("TargetFilename", "file_path"), ("ProcessId", "process_pid")),
    "file_delete": (
        ("Image", "process_image"),
        ("TargetFilename", "file_path"),
        ("ProcessId", "process_pid"),
    ),
    "file_rename": (
        ("Image", "process_image"),
        ("TargetFilename", "file_path"),
        ("ProcessId", "process_pid"),
    ),
    "file_change": (
        ("Image", "process_image"),
        ("TargetFilename", "file_path"),
        ("ProcessId", "process_pid"),
    ),
    "image_load": (("Image", "process_image"), ("ImageLoaded", "file_path"), ("ProcessId", "process_pid")),
    "driver_load": (("ImageLoaded", "file_path"),),
    "dns_query": (("Image", "process_image"), ("ProcessId", "process_pid")),
    "registry_set": (("Image", "process_image"), ("ProcessId", "process_pid")),
    "registry_add": (("Image", "process_image"), ("ProcessId", "process_pid")),
    "registry_delete": (("Image", "process_image"), ("ProcessId", "process_pid")),
    "registry_event": (("Image", "process_image"), ("ProcessId", "process_pid")),
    "registry_rename": (("Image", "process_image"), ("ProcessId", "process_pid")),
    "process_access": (("SourceImage", "process_image"), ("SourceProcessId", "process_pid")),
    "create_remote_thread": (("SourceImage", "process_image"), ("SourceProcessId", "process_pid")),
}


def add_sysmon_aliases(row: Row, extra: dict[str, Any] | None = None) -> None:
    """Add Sysmon-named columns for the row's category, never shadowing a native field.

    Aliases come from the core columns (``Image`` <- process_image, ...) plus ``extra``
    (fields only the parser knows: ``OriginalFileName``, ``TargetObject``, ``QueryName``...).
    A native field of the same name (any case) wins: FDR's own ``CommandLine`` already is one.
    """
    cat = row.get("category")
    present = {lower(k) for k in row}
    values: dict[str, Any] = {}
    for alias, core in _CORE_ALIASES.get(cat or "", ()):
        values[alias] = row.get(core)
    if cat in ("process_creation", "network_connection", "file_event", "image_load", "dns_query") or (
        cat or ""
    ).startswith("registry_"):
        values["User"] = user_alias(row.get("user_name"), row.get("user_domain"))
    if cat in ("process_creation", "image_load", "driver_load"):
        values["Hashes"] = hashes_alias(row)
    for k, v in (extra or {}).items():
        values[k] = v
    for alias, value in values.items():
        if blank(value) or lower(alias) in present:
            continue
        row[alias] = text(value)
        present.add(lower(alias))


def summary(row: Row, channel: str | None) -> str | None:
    """A one-line message for a row that has none: what the event is about."""
    parts = [p for p in (channel, row.get("process_cmdline") or row.get("process_image")) if p]
    for extra in (row.get("file_path"), _endpoint(row.get("dst_ip"), row.get("dst_port"))):
        if extra:
            parts.append(str(extra))
    return " | ".join(parts) if parts else None


def _endpoint(ip: Any, port: Any) -> str | None:
    if blank(ip):
        return None
    return f"{ip}:{port}" if port is not None else str(ip)


_OS_FAMILIES = (("win", "windows"), ("lin", "linux"), ("mac", "macos"), ("darwin", "macos"), ("osx", "macos"),
                ("ios", "ios"), ("android", "android"))  # fmt: skip


def os_family(stated: Any) -> str | None:
    """The OS family a record states (``Win``, ``linux``, ``Windows10``...) as windows/linux/macos/..."""
    if blank(stated):
        return None
    low = str(stated).strip().lower()
    for prefix, family in _OS_FAMILIES:
        if low.startswith(prefix):
            return family
    return None


def host_of(*candidates: Any) -> str | None:
    """The first non-blank host candidate."""
    for c in candidates:
        if not blank(c):
            return str(c)
    return None
