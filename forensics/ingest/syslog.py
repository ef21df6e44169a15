"""Syslog text files: RFC 3164 (BSD), RFC 5424, and the rsyslog / syslog-ng file variants.

Recognised line shapes (the priority ``<PRI>`` is optional on all of them):

* ``Mar  6 04:07:28 host prog[pid]: message``: BSD / RFC 3164 (and ``.123`` fractions);
* ``2020-05-31T00:00:45.698463+00:00 host prog[pid]: message``: rsyslog high precision;
* ``<14>1 2021-03-06T04:07:38.251+00:00 host app procid msgid [sd] message``: RFC 5424;
* ``2016-10-25T12:37:23.297265-07:00 INFO prog[pid]: message``: Chrome OS (severity, no host);
* forwarding formats that write frames back to back without a newline (``...<14>Mar ...``).

Lines that do not start a record (tab-indented or plain text after a record) are the rest of
a multi-line message: they join the record above, which then carries ``line_count``. Every
other line becomes a reject with its reason, so lines = sum(line_count) + rejects for plain
files (frames, not lines, for the back-to-back forwarding formats).

Time: a BSD timestamp has neither year nor zone. The zone is ``ctx.tz`` (else UTC), marked
``ts_assumed``; the year is inferred (``ts_year_inferred``): a first pass counts New Year
rollovers (the month going backwards), and the last record is put in the collection year
(``ctx.reference_year``), else the year of the file's modification time unless that would
place it after the file was written, in which case the year before; with neither, the
current year (the only case where output depends on the day of the run). Rows say which in
``year_from`` (``reference_year``, ``mtime`` or ``now``).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forensics.ingest import linux_auth
from forensics.ingest.base import FileFailed, InputFile, ParseContext, Reject, Row
from forensics.ingest.text import LineDecoder, raw_b64
from forensics.timeutil import now_utc

MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3",
    "local4", "local5", "local6", "local7",
)  # fmt: skip
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
SEVERITY_WORDS = frozenset(
    {"EMERG", "ALERT", "CRIT", "ERR", "ERROR", "WARNING", "WARN", "NOTICE", "INFO", "DEBUG"}
)

MAX_CONTINUATION = 10_000  # lines joined to one record before further ones are rejected
MAX_RAW = 65_536  # characters of a rejected line kept in the rejects table

# A frame start inside a line: the forwarding formats write "<PRI>timestamp" back to back.
_FRAME = re.compile(rb"<\d{1,3}>(?=1 \d{4}-|\d{4}-\d\d-\d\d[T ]\d|[A-Z][a-z]{2} [ \d]\d \d\d:)")
# Anything that starts like a timestamp; a line that does but does not parse is a reject.
_HEADERISH = re.compile(
    r"^(?:<\d{1,3}>(?:\d{1,2} )?)?(?:[A-Za-z]{3} +\d{1,2} \d{1,2}:\d\d:\d\d|\d{4}-\d\d-\d\d[T ]\d\d:\d\d)"
)
_PRI = re.compile(r"^<(\d{1,3})>")
_BSD_TS = re.compile(r"^([A-Za-z]{3}) +(\d{1,2}) (\d{1,2}):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?=[: ]|$)")
_ISO_TS = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?(?= |$)")
_RFC5424 = re.compile(r"^(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+)(?: |$)")
_TAG = re.compile(r"^([^\s\[\]:]+?)(?:\[([^\]]*)\])?(?: <(\w+)>)?(?::(?=\s|$)|(?=\[|\s|$))")
_TAG_COLON = re.compile(r"^[^\s\[\]:]+(?:\[[^\]]*\])?(?: <\w+>)?:(?:\s|$)")
_TAG_PID = re.compile(r"^[^\s\[\]:]+\[[^\]]*\](?:\s|$)")


class RecordError(ValueError):
    """A line that starts like a syslog record but cannot be read as one."""


@dataclass
class YearPlan:
    """Years for BSD timestamps, worked out before the main pass."""

    start_year: int
    rollovers: int
    source: str  # where the year came from: reference_year, mtime, or now


@dataclass
class _Pending:
    """The record being built while its continuation lines are read."""

    row: Row
    lines: int = 1
    extra: list[str] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # the record's lines as read
    undecoded: bool = False  # a line did not decode in the file's encoding: raw kept in raw_b64


def _zone(ctx: ParseContext) -> tuple[tzinfo, str]:
    """The zone to read zone-less timestamps in, and its name."""
    if not ctx.tz:
        return UTC, "UTC"
    try:
        return ZoneInfo(ctx.tz), ctx.tz
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FileFailed(f"unknown time zone {ctx.tz!r} (use an IANA name such as Asia/Kolkata)") from exc


def _decode(chunk: bytes) -> str:
    return chunk.decode("utf-8", errors="replace")


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")


def _is_binary(text: str) -> bool:
    """NUL bytes or mostly control characters: not a text log line."""
    if "\x00" in text:
        return True
    if _CONTROL.search(text) is None:  # the common case: plain text, one C-level scan
        return False
    return len(_CONTROL.findall(text)) * 4 > len(text)


def _units(src: InputFile) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset, bytes) of each frame: a line, or part of one holding many."""
    with open(src.local, "rb") as fh:
        offset = 0
        for number, raw in enumerate(fh, 1):
            line = raw.rstrip(b"\n").rstrip(b"\r")
            start = 0
            for piece in _split_frames(line):
                yield number, offset + start, piece
                start += len(piece)
            offset += len(raw)


def _split_frames(line: bytes) -> list[bytes]:
    """A line cut where a back-to-back frame (``...<14>Mar  6 ...``) starts."""
    if line.find(b"<", 1) < 0:  # no second frame possible: the common case
        return [line]
    starts = [m.start() for m in _FRAME.finditer(line) if m.start() > 0]
    if not starts:
        return [line]
    bounds = [0, *starts, len(line)]
    return [line[a:b] for a, b in pairwise(bounds)]


def plan_years(src: InputFile, ctx: ParseContext, zone: tzinfo) -> YearPlan:
    """First pass: count New Year rollovers and choose the year of the last BSD record."""
    rollovers = 0
    prev_month = 0
    last: tuple[int, int, int, int, int] | None = None
    for _, _, unit in _units(src):
        text = _decode(unit[:64])
        m = _PRI.match(text)
        if m:
            text = text[m.end() :]
        b = _BSD_TS.match(text)
        if b is None:
            continue
        month = MONTHS.get(b.group(1).title())
        if month is None:
            continue
        if prev_month and month < prev_month:
            rollovers += 1
        prev_month = month
        last = (month, int(b.group(2)), int(b.group(3)), int(b.group(4)), int(b.group(5)))
    if ctx.reference_year:
        return YearPlan(ctx.reference_year - rollovers, rollovers, "reference_year")
    anchor, source = (src.mtime, "mtime") if src.mtime is not None else (now_utc(), "now")
    local = anchor.astimezone(zone)
    end_year = local.year
    if last is not None:
        month, day, hh, mi, ss = last
        try:
            candidate = datetime(end_year, month, day, hh, mi, ss, tzinfo=zone)
        except ValueError:  # Feb 29 in a common year: the year before cannot hold it either
            candidate = None
        # a day of slack: the assumed zone may be off by up to a day's worth of hours
        if candidate is not None and candidate > local + timedelta(days=1):
            end_year -= 1
    return YearPlan(end_year - rollovers, rollovers, source)


def _offset_zone(text: str | None) -> tuple[tzinfo | None, str | None]:
    """``Z`` / ``+05:30`` / ``-0700`` as a tzinfo and a zone label."""
    if text is None:
        return None, None
    if text == "Z":
        return UTC, "UTC"
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
    if not delta:
        return UTC, "UTC"
    label = f"UTC{text[0]}{digits[:2]}:{digits[2:4]}"
    return timezone(sign * delta), label


def _micro(frac: str | None) -> int:
    return int((frac or "0")[:6].ljust(6, "0"))


class SyslogParser:
    """Syslog text (RFC 3164, RFC 5424, rsyslog / syslog-ng file formats)."""

    name = "syslog"
    description = (
        "Syslog text: RFC 3164 / RFC 5424 / rsyslog and syslog-ng file formats (auth.log, secure, messages)"
    )

    def sniff(self, head: bytes, name: str) -> bool:
        """Most of the first lines start with a syslog header (never JSON, CSV or binary).

        A line holding NUL bytes (a damaged or pre-allocated stretch of a log) counts as a line
        without a header, so one such line near the top does not hide the file; UTF-16 text and
        binary files, NULs throughout, never have enough headers.
        """
        if not head:
            return False
        text = _decode(head)
        if text.lstrip()[:1] in ("{", "["):
            return False
        lines = text.splitlines()
        if len(lines) > 1 and not text.endswith("\n"):
            lines = lines[:-1]  # the last line is likely cut by the head size
        units: list[str] = []
        for ln in lines[:20]:
            if "\x00" in ln:
                units.append(ln)  # never parses as a header
            elif ln.strip():
                units.extend(_decode(u) for u in _split_frames(ln.encode("utf-8")))
        if not units:
            return False
        hits = 0
        for unit in units:
            try:
                _parse_header(unit, None)
                hits += 1
            except RecordError:
                continue
        # a rotated file may open inside a multi-line message: then want a few headers after it
        first_ok = _HEADERISH.match(units[0]) is not None
        return hits * 2 >= len(units) and (first_ok or hits >= 3)

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        """One row per record (continuation lines joined), one reject per unreadable line."""
        zone, zone_name = _zone(ctx)
        plan = plan_years(src, ctx, zone)
        state = _YearState(plan.start_year)
        pending: _Pending | None = None
        decode = LineDecoder(src.encoding)
        for line_no, offset, unit in _units(src):
            decoded = decode(unit)
            text, b64 = decoded.text, decoded.raw_b64
            if _is_binary(text):
                yield from _flush(pending)
                pending = None
                yield Reject(
                    "binary data, not a syslog line", text[:MAX_RAW].replace("\x00", "\\x00"), offset, line_no,
                    raw_b64=raw_b64(unit[:MAX_RAW]),
                )  # fmt: skip
                continue
            if not text.strip():
                yield from _flush(pending)
                pending = None
                yield Reject("empty line", text, offset, line_no, raw_b64=b64)
                continue
            if not _HEADERISH.match(text):
                if pending is not None and pending.lines < MAX_CONTINUATION:
                    pending.extra.append(text)
                    pending.raw.append(unit)
                    pending.undecoded |= b64 is not None
                    pending.lines += 1
                    continue
                reason = "line without a syslog header" if pending is None else "continuation too long"
                yield Reject(reason, text[:MAX_RAW], offset, line_no, raw_b64=b64)
                continue
            yield from _flush(pending)
            pending = None
            try:
                row = _record(text, ctx, zone, zone_name, state)
            except RecordError as exc:
                yield Reject(str(exc), text[:MAX_RAW], offset, line_no, raw_b64=b64)
                continue
            row["rec_offset"] = offset
            row["rec_line"] = line_no
            row["source"] = self.name
            if row.get("ts_year_inferred"):
                row["year_from"] = plan.source
            if row.get("host") is None:
                row["host"] = ctx.host or src.host_hint
            pending = _Pending(row, raw=[unit], undecoded=b64 is not None)
        yield from _flush(pending)


def _flush(pending: _Pending | None) -> Iterator[Row]:
    """Emit a finished record, its continuation lines joined to the message."""
    if pending is None:
        return
    row = pending.row
    if pending.extra:
        row["message"] = "\n".join([row.get("message") or "", *pending.extra])
        row["line_count"] = str(pending.lines)
        _classify(row)  # the joined message may now match an auth pattern it did not before
    if pending.undecoded:
        row["raw_b64"] = raw_b64(b"\n".join(pending.raw))
    yield row


class _YearState:
    """The running year while walking BSD records forward."""

    def __init__(self, start: int) -> None:
        self.year = start
        self.prev_month = 0

    def year_for(self, month: int) -> int:
        """The year of a record in ``month``, advancing at each New Year rollover."""
        if self.prev_month and month < self.prev_month:
            self.year += 1
        self.prev_month = month
        return self.year


def _parse_header(text: str, state: _YearState | None) -> dict[str, Any]:
    """Split a line into priority, timestamp fields and the rest; raises RecordError."""
    out: dict[str, Any] = {}
    rest = text
    m = _PRI.match(rest)
    if m:
        pri = int(m.group(1))
        if pri > 191:
            raise RecordError(f"priority <{pri}> out of range")
        out["pri"] = pri
        rest = rest[m.end() :]
        r = _RFC5424.match(rest)
        if r and r.group(1) != "0" and _ISO_TS.match(r.group(2)):
            out["rfc5424"] = r
            out["rest"] = rest[r.end() :]
            return out
    iso = _ISO_TS.match(rest)
    if iso:
        out["iso"] = iso
        out["rest"] = rest[iso.end() :]
        return out
    bsd = _BSD_TS.match(rest)
    if bsd is None:
        raise RecordError("no syslog timestamp at the start of the line")
    if bsd.group(1).title() not in MONTHS:
        raise RecordError(f"unknown month {bsd.group(1)!r} in the timestamp")
    out["bsd"] = bsd
    out["rest"] = rest[bsd.end() :]
    if state is not None:
        state.year_for(MONTHS[bsd.group(1).title()])
    return out


def _record(text: str, ctx: ParseContext, zone: tzinfo, zone_name: str, state: _YearState) -> Row:
    """One syslog record (first line) as a row; raises RecordError."""
    head = _parse_header(text, state)
    row: Row = {"channel": "syslog"}
    pri = head.get("pri")
    if pri is not None:
        row["pri"] = str(pri)  # not "priority": journald's PRIORITY (a severity) would share the column
        row["facility"] = FACILITIES[pri >> 3]
        row["severity"] = SEVERITIES[pri & 7]
    if "rfc5424" in head:
        _rfc5424(head["rfc5424"], head["rest"], row, zone, zone_name)
    else:
        if "iso" in head:
            _iso_time(head["iso"], row, zone, zone_name)
        else:
            _bsd_time(head["bsd"], row, zone, zone_name, state.year)
        _bsd_body(head["rest"], row)
    _classify(row)
    return row


def _bsd_time(m: re.Match[str], row: Row, zone: tzinfo, zone_name: str, year: int) -> None:
    month = MONTHS[m.group(1).title()]
    try:
        local = datetime(
            year,
            month,
            int(m.group(2)),
            int(m.group(3)),
            int(m.group(4)),
            int(m.group(5)),
            _micro(m.group(6)),
            tzinfo=zone,
        )
    except ValueError as exc:
        raise RecordError(f"timestamp {m.group(0)!r} is not a date in inferred year {year}: {exc}") from exc
    row["ts"] = local.astimezone(UTC)
    row["ts_raw"] = m.group(0)
    row["ts_zone"] = zone_name
    row["ts_assumed"] = True
    row["ts_year_inferred"] = True


def _iso_time(m: re.Match[str], row: Row, zone: tzinfo, zone_name: str) -> None:
    tz, label = _offset_zone(m.group(4))
    try:
        naive = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}").replace(microsecond=_micro(m.group(3)))
    except ValueError as exc:
        raise RecordError(f"timestamp {m.group(0)!r} is not a valid date: {exc}") from exc
    row["ts_raw"] = m.group(0)
    row["ts_year_inferred"] = False
    if tz is None:
        row["ts"] = naive.replace(tzinfo=zone).astimezone(UTC)
        row["ts_zone"] = zone_name
        row["ts_assumed"] = True
    else:
        row["ts"] = naive.replace(tzinfo=tz).astimezone(UTC)
        row["ts_zone"] = label
        row["ts_assumed"] = False


_SD_ELEMENT = re.compile(r'\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\]')


def _rfc5424(m: re.Match[str], rest: str, row: Row, zone: tzinfo, zone_name: str) -> None:
    """``VERSION TIMESTAMP HOST APP PROCID MSGID SD MSG`` (``-`` is the nil value)."""
    row["syslog_version"] = m.group(1)
    iso = _ISO_TS.match(m.group(2))
    if iso is None:
        raise RecordError(f"RFC 5424 timestamp {m.group(2)!r} does not parse")
    _iso_time(iso, row, zone, zone_name)

    def nil(value: str) -> str | None:
        return None if value == "-" else value

    row["host"] = nil(m.group(3))
    row["provider"] = nil(m.group(4))
    procid = nil(m.group(5))
    if procid is not None:
        row["pid"] = procid
        if procid.isdigit():
            row["process_pid"] = int(procid)
    msgid = nil(m.group(6))
    if msgid is not None:
        row["msgid"] = msgid
    if rest.startswith("-"):
        msg = rest[1:]
    else:
        pos = 0
        while (sd := _SD_ELEMENT.match(rest, pos)) is not None:
            pos = sd.end()
        if pos:
            row["structured_data"] = rest[:pos]
        msg = rest[pos:]
    row["message"] = msg.removeprefix(" ").removeprefix("\ufeff").strip()


def _bsd_body(rest: str, row: Row) -> None:
    """``[SEVERITY] [host] [tag[pid][ <Level>]:] message`` after the timestamp."""
    if rest.startswith(":"):  # "Nov 18 01:15:43: --- last message repeated 5 times ---"
        row["host"] = None
        row["message"] = rest[1:].strip()
        return
    body = rest.lstrip(" ")
    first, _, after = body.partition(" ")
    if first in SEVERITY_WORDS:  # Chrome OS: "INFO prog[pid]: ..." and no host
        row["severity_name"] = first
        body = after.lstrip(" ")
    elif not (_TAG_COLON.match(body) or _TAG_PID.match(body)) and not rest.startswith("  "):
        row["host"] = first
        body = after.lstrip(" ")
    tag = _TAG.match(body) if (_TAG_COLON.match(body) or _TAG_PID.match(body)) else None
    if tag is None:
        row["message"] = body.strip()
        return
    row["provider"] = tag.group(1)
    if tag.group(2) is not None:
        row["pid"] = tag.group(2)
        pid = tag.group(2).split("/", 1)[0]
        if pid.isdigit():
            row["process_pid"] = int(pid)
    if tag.group(3):
        row["severity_name"] = tag.group(3)
    row["message"] = body[tag.end() :].strip()


def _classify(row: Row) -> None:
    """Channel ``auth`` for auth-log records, plus the fields their messages carry."""
    pri = row.get("pri")
    by_facility = pri is not None and int(pri) >> 3 in linux_auth.AUTH_FACILITIES
    program = row.get("provider")
    message = row.get("message") or ""
    if by_facility or linux_auth.is_auth(program, message):
        row["channel"] = "auth"
    # cron's "(root) CMD (...)" goes to syslog, not the auth log, but is worth the fields too
    row.update(linux_auth.extract(program, message))


# ---- the Syslog table exported from Log Analytics / Microsoft Sentinel (CSV) ----------------------
_LA_TIME_FORMATS = (
    "%m/%d/%Y, %I:%M:%S.%f %p",
    "%m/%d/%Y, %I:%M:%S %p",
    "%Y-%m-%dT%H:%M:%S.%fZ",
    "%Y-%m-%dT%H:%M:%SZ",
)
_LA_REQUIRED = ("SyslogMessage", "Facility", "ProcessName")


def _la_time(text: str) -> datetime | None:
    """A Log Analytics export time (``7/28/2023, 8:07:14.552 PM``, in UTC) or None."""
    for fmt in _LA_TIME_FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _la_column(header: list[str], name: str) -> str | None:
    """The header cell for ``name``, which exports may suffix with `` [UTC]``."""
    for cell in header:
        if cell == name or cell.startswith(name + " ["):
            return cell
    return None


class SentinelSyslogCsvParser:
    """The ``Syslog`` table exported as CSV from Log Analytics / Microsoft Sentinel."""

    name = "sentinel_syslog"
    description = (
        "Syslog table CSV export from Log Analytics / Microsoft Sentinel (SyslogMessage, Facility, ...)"
    )

    def sniff(self, head: bytes, name: str) -> bool:
        """A CSV header naming the Syslog table's columns."""
        first = head.split(b"\n", 1)[0].lstrip(b"\xef\xbb\xbf")
        return b"," in first and all(col.encode() in first for col in _LA_REQUIRED)

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        """One row per CSV record; a reject for a record whose width or time does not fit."""
        with open(src.local, encoding="utf-8-sig", errors="replace", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                return
            time_col = _la_column(header, "TimeGenerated") or _la_column(header, "EventTime")
            line = reader.line_num + 1
            for record in reader:
                start_line, line = line, reader.line_num + 1
                if len(record) != len(header):
                    yield Reject(
                        f"{len(record)} fields, the header has {len(header)}",
                        ",".join(record)[:MAX_RAW],
                        None,
                        start_line,
                    )
                    continue
                fields = dict(zip(header, record, strict=True))
                yield self._row(fields, time_col, start_line, src, ctx)

    def _row(
        self, fields: dict[str, str], time_col: str | None, line: int, src: InputFile, ctx: ParseContext
    ) -> Row:
        raw_time = fields.get(time_col) if time_col else None
        row: Row = {
            "source": self.name,
            "channel": "syslog",
            "ts": _la_time(raw_time) if raw_time else None,
            "ts_raw": raw_time,
            "ts_zone": "UTC",
            "ts_assumed": False,  # the export names its columns "[UTC]"
            "ts_year_inferred": False,
            "host": fields.get("Computer") or fields.get("HostName") or ctx.host or src.host_hint,
            "provider": fields.get("ProcessName") or None,
            "message": fields.get("SyslogMessage"),
            "rec_line": line,
        }
        pid = fields.get("ProcessID") or ""
        row["process_pid"] = int(pid) if pid.isdigit() else None
        row.update({k: v for k, v in fields.items() if v != ""})
        facility = (fields.get("Facility") or "").lower()
        if facility in ("auth", "authpriv") or linux_auth.is_auth(row["provider"], row["message"] or ""):
            row["channel"] = "auth"
        row.update(linux_auth.extract(row["provider"], row["message"] or ""))
        return row
