"""Is an input no parser recognised a log we failed to read, or plainly not a log at all?

A collection (KAPE, UAC, a copied folder) always holds files that are not logs: ransom notes,
the encryptor, encrypted databases, ``/etc/hostname``, documents, IOC lists. They are hashed,
recorded and YARA-scanned like every input, but an attention exit over them would be noise a
responder learns to ignore. A file that is *named* or *shaped* like a log and still read by no
parser is the opposite: evidence we did not read. The rule, in order (first match decides):

1. a zero-byte file: a problem (``empty``) when named like a log, else not a log;
2. named like a log: a ``.evtx``/``.evt``/``.etl``/``.log``/``.journal``/``.jsonl``/``.ndjson``
   part anywhere in the name (``auth.log.1``, ``Security.evtx.locked``), or a well-known log
   name (``syslog``, ``messages``, ``secure``, ``wtmp``, ... with rotation suffixes) → problem;
3. a log format's signature (EVTX file or chunk, legacy EVT, systemd journal) or an archive
   format that is not opened (7z, RAR, xz, bzip2, zstd: it may hold logs) → problem;
4. an indicator list or rule file (STIX 2 bundle, MISP event, YARA or Sigma rules) → not a log
   (MISP's JSON is time-keyed: what it is is decided before its shape);
5. shaped like a log: text whose lines carry a date and time near their start (at least a
   fifth of them, or a tenth and three or more: a log with stack traces between its lines), a
   table (CSV/TSV) with a time column whose rows hold times, CEF/LEEF records, or JSON / XML
   with two or more time-keyed values (``"timestamp": "2022-…"``, an epoch, ``SystemTime=``)
   → problem;
6. anything else is **not a log**, with what it is: an executable, a document, an image, a database, a registry hive, encrypted
   or compressed data, other binary data, or text without log structure.

Only the head of the file is read (what the walk already holds): the judgement costs no I/O.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

NOT_LOG = "not_log"  # the inputs status of a file judged plainly not a log
NOT_A_LOG = "not a log:"  # how every not-a-log reason starts
INDICATORS = "indicators"  # the inputs status of an IOC/YARA file a hunt reads, met among the evidence

_LOG_PARTS = frozenset({"evtx", "evt", "etl", "log", "journal", "jsonl", "ndjson"})
_LOG_NAMES = frozenset({
    "syslog", "messages", "secure", "auth", "kern", "daemon", "wtmp", "btmp", "utmp", "lastlog", "faillog",
    "maillog", "cron", "dmesg", "audit",
})  # fmt: skip
_ROTATION = re.compile(r"(?:[.-]\d{1,8})+$")  # messages-20221123, syslog.2, wtmp.1

_LOG_MAGIC = (
    (0, b"ElfFile\x00", "an EVTX file header"),
    (0, b"ElfChnk\x00", "an EVTX chunk"),
    (4, b"LfLe", "a legacy EVT log header"),
    (0, b"LPKSHHRH", "a systemd journal header"),
)
_UNOPENED_ARCHIVES = (
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "RAR"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"BZh", "bzip2"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
_KINDS = (
    (b"MZ", "a Windows executable or library (PE)"),
    (b"\x7fELF", "an ELF executable or library"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE2 compound document (Office 97-2003, MSI)"),
    (b"\x89PNG", "an image (PNG)"),
    (b"\xff\xd8\xff", "an image (JPEG)"),
    (b"GIF8", "an image (GIF)"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"regf", "a Windows registry hive"),
    (b"{\\rtf", "an RTF document"),
)

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# a date and a time of day, as logs write them (ISO 8601, syslog, Apache, US/European, dmesg, auditd)
_STAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"
    rf"|\b(?:{_MONTHS})\s+\d{{1,2}}\s+\d{{2}}:\d{{2}}:\d{{2}}"
    rf"|\d{{1,2}}/(?:{_MONTHS})/\d{{4}}:\d{{2}}:\d{{2}}"
    r"|\b\d{1,4}[/.]\d{1,2}[/.]\d{2,4}[ ,T]+\d{1,2}:\d{2}"
    r"|^\[\s*\d+\.\d{3,}\]"
    r"|audit\(\d{9,10}\.\d+:\d+\)"
    r"|^\d{10}(?:\.\d+)?\s"
)
_STAMP_WITHIN = 96  # characters from the line's start (after indentation) a log puts its time in
# a JSON member whose name speaks of time and whose value is a date-time or an epoch
_JSON_TIME = re.compile(
    r'"[^"\n]{0,40}(?:time|date|ts)[^"\n]{0,40}"\s*:\s*'
    r'(?:"\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|"?\d{10}(?:\d{3}){0,3}(?:\.\d+)?"?\s*[,}\n])',
    re.IGNORECASE,
)
# an XML attribute or element whose name speaks of time holding a date-time (Windows event XML)
_XML_TIME = re.compile(
    r"(?:time|date)\w*\s*=\s*[\"']\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|<\w*(?:time|date)\w*>\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}",
    re.IGNORECASE,
)
_CEF = re.compile(r"(?:<\d{1,3}>.{0,80}?)?(?:CEF:\d|LEEF:\d)")
# a CSV/TSV header naming a time column, and a row value that is an epoch
_TIME_COLUMN = re.compile(r"(?:^|[,;\t|\"])[^,;\t|\"]*(?:time|date)[^,;\t|\"]*(?:$|[,;\t|\"])", re.IGNORECASE)
_EPOCH = re.compile(r"(?:^|[,;\t|\"])\d{10}(?:\d{3}){0,3}(?:\.\d+)?(?:$|[,;\t|\"])")
_MARKUP = re.compile(r"<[?!A-Za-z]")  # XML/HTML; not a syslog priority (``<134>``)
_YARA = re.compile(r"^\s*(?:(?:private|global)\s+)*rule\s+\w+[^{]*\{", re.MULTILINE)
_SIGMA = re.compile(r"^logsource\s*:", re.MULTILINE)
_CONTEXT_FILES = {
    "hostname": "the collected system's host name file (read as context for the logs beside it)",
    "timezone": "the collected system's zone file (read as context for the logs beside it)",
    "client_info.json": "a collector's description of the collection (read as context)",
}


@dataclass(frozen=True, slots=True)
class Judgement:
    """What an input no parser recognised is: ``log_like`` (a problem) or not a log, and why."""

    log_like: bool
    reason: str


def judge(name: str, head: bytes, size: int) -> Judgement:
    """Judge an input no parser recognised by its name (the last member of a chain) and head."""
    base = name.replace("\\", "/").rsplit("!/", 1)[-1].rsplit("/", 1)[-1]
    named = _log_name(base)
    if size == 0:
        if named:
            return Judgement(True, f"zero-byte file named like a log ({named})")
        return Judgement(False, f"{NOT_A_LOG} a zero-byte file, not named like a log")
    if named:
        return Judgement(True, f"named like a log ({named}) but no parser recognised its content")
    for offset, magic, what in _LOG_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return Judgement(True, f"starts with {what} but no parser could read it")
    for magic, fmt in _UNOPENED_ARCHIVES:
        if head.startswith(magic):
            return Judgement(True, f"a {fmt} archive, a format not opened here: it may hold logs")
    indicator = _indicator_kind(head)
    if indicator:  # an IOC list is time-keyed JSON too: what it is comes first
        return Judgement(False, f"not a log: {indicator}")
    shape = _log_shape(head, cut=size > len(head))
    if shape:
        return Judgement(True, f"shaped like a log ({shape}) but no parser recognised its format")
    return Judgement(False, _what(base, head, name))


def _log_name(base: str) -> str | None:
    """The part of a file name that says log, or None."""
    lower = base.lower().rstrip("~")
    parts = lower.split(".")
    for part in parts[1:]:
        if part in _LOG_PARTS:
            return f".{part}"
    stem = _ROTATION.sub("", parts[0]) if len(parts) == 1 else parts[0]
    if stem in _LOG_NAMES and (len(parts) == 1 or all(p.isdigit() or p == "gz" for p in parts[1:])):
        return base
    return None


def _text(head: bytes) -> str:
    """The head as text for shape tests: UTF-16 by its BOM or NUL lanes, else Latin-1 (any byte)."""
    from forensics.ingest.utf16 import codec_of, to_text

    codec = codec_of(head)
    if codec is not None:
        return to_text(head, codec)
    return head.decode("latin-1")


def _lines(text: str, cut: bool) -> list[str]:
    lines = text.splitlines()
    if cut and len(lines) > 1:
        lines = lines[:-1]  # the last is cut by the head's size
    return [ln.strip() for ln in lines if ln.strip()]


def _log_shape(head: bytes, cut: bool) -> str | None:
    """Why the head looks like a log's (time-stamped lines, time-keyed JSON or XML records, a CSV
    with a time column, CEF/LEEF records), or None. ``cut``: the file goes on past the head."""
    text = _text(head)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        keyed = len(_JSON_TIME.findall(text))
        return f"{keyed} time-keyed JSON values" if keyed >= 2 else None
    if _MARKUP.match(stripped):
        keyed = len(_XML_TIME.findall(text))
        return f"{keyed} time-valued XML attributes or elements" if keyed >= 2 else None
    lines = _lines(text, cut)
    if lines and _CEF.match(lines[0]):
        return "CEF/LEEF records"
    stamped = sum(1 for ln in lines if _STAMP.search(ln[:_STAMP_WITHIN]))
    if (stamped >= 3 and stamped * 10 >= len(lines)) or (stamped >= 1 and stamped * 5 >= len(lines)):
        return f"{stamped} of {len(lines)} lines time-stamped"
    if len(lines) >= 2 and _TIME_COLUMN.search(lines[0]) and len(re.findall(r"[,;\t|]", lines[0])) >= 2:
        rows = sum(1 for ln in lines[1:] if _STAMP.search(ln) or _EPOCH.search(ln))
        if rows >= 1 and rows * 2 >= len(lines) - 1:
            return f"a table with a time column, {rows} of {len(lines) - 1} rows time-stamped"
    return None


def _what(base: str, head: bytes, name: str) -> str:
    """What a file that is not a log is, for the reason recorded with it."""
    lower = base.lower()
    folder = name.replace("\\", "/").lower()
    if lower == "client_info.json" or (lower in ("hostname", "timezone") and f"etc/{lower}" in folder):
        return f"not a log: {_CONTEXT_FILES[lower]}"
    for magic, what in _KINDS:
        if head.startswith(magic):
            return f"not a log: {what}"
    if _binary(head):
        if _entropy(head) >= 7.2:
            return "not a log: binary data of high entropy (encrypted or compressed)"
        return "not a log: binary data without a log signature"
    stripped = _text(head).lstrip("\ufeff \t\r\n")
    if stripped.startswith(("{", "[")):
        return "not a log: a JSON document without time-stamped records"
    if _MARKUP.match(stripped):
        return "not a log: a markup document (XML/HTML) without time-stamped records"
    return "not a log: text without log structure (no time-stamped lines)"


def _indicator_kind(head: bytes) -> str | None:
    """An IOC list or detection rule file, by its content."""
    text = _text(head[:16384])
    if re.search(r'"type"\s*:\s*"bundle"', text) and '"objects"' in text:
        return "an indicator list (STIX 2 bundle)"
    if re.match(r'\s*\{\s*"(?:Event|response)"\s*:', text) and re.search(
        r'"(?:Attribute|threat_level_id)"', text
    ):
        return "an indicator list (MISP event)"
    if _YARA.search(text) and re.search(r"\bcondition\s*:", text):
        return "detection rules (YARA)"
    if _SIGMA.search(text) and re.search(r"^detection\s*:", text, re.MULTILINE):
        return "detection rules (Sigma)"
    return None


def _binary(head: bytes) -> bool:
    from forensics.ingest.utf16 import codec_of

    if codec_of(head) is not None:
        return False
    sample = head[:8192]
    if not sample:
        return False
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32 or b == 127)
    return b"\x00" in sample or controls * 20 > len(sample)


def _entropy(data: bytes) -> float:
    """Shannon entropy of ``data`` in bits per byte (8.0: indistinguishable from random)."""
    sample = data[:65536]
    counts = Counter(sample)
    n = len(sample)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0
