"""IOC documents → one normalised indicator table.

Reads what agencies and sharing platforms send: STIX 2.1 bundles (indicator patterns parsed with
the ``stix2patterns`` parser that ships with ``stix2``), MISP event JSON (attributes and object
attributes, ``to_ids``, ``tlp:*`` tags), CSV with a header, and plain text lists — defanged
(``203.0.113[.]45``, ``hxxp://``, ``[:]//``, ``(.)``), with comments, section headings such as
"IP addresses:" and hashes broken by spaces.

Every indicator becomes one row: type, canonical value (what matching compares), raw value, the
document it came from and that document's sha256, confidence, TLP, first/last seen and tags.
Indicators that cannot be used (unknown type, ``to_ids`` false, unsupported STIX pattern) are
counted per document with the reason, never dropped silently.
"""

from __future__ import annotations

import csv
import hashlib
import io
import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from forensics.hunt.writer import Outcome
from forensics.schema import UTC_TS
from forensics.timeutil import parse_iso_utc

if TYPE_CHECKING:
    import polars as pl  # only for lists of BULK_LINES lines or more: imported there (~0.1 s)

IOC_TYPES: tuple[str, ...] = (
    "ipv4",
    "ipv6",
    "domain",
    "url",
    "md5",
    "sha1",
    "sha256",
    "filename",
    "filepath",
    "cidr",
)
TLP_ORDER: tuple[str, ...] = ("clear", "green", "amber", "amber+strict", "red")

IOC_SCHEMA = pa.schema(
    [
        ("type", pa.string()),
        ("value", pa.string()),
        ("raw", pa.string()),
        ("source", pa.string()),
        ("source_sha256", pa.string()),
        ("confidence", pa.int32()),
        ("tlp", pa.string()),
        ("first_seen", UTC_TS),
        ("last_seen", UTC_TS),
        ("tags", pa.list_(pa.string())),
    ]
)

IOC_SUFFIXES = (".txt", ".csv", ".json", ".stix", ".misp", ".ioc", ".iocs", ".list")

# Standard TLP marking-definition ids: STIX 2.1 TLP 1.0 objects and the TLP 2.0 extension ones.
STIX_TLP_IDS: dict[str, str] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": "clear",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": "green",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": "amber",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": "amber+strict",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": "red",
}

# File extensions that make "name.ext" a file name rather than a domain (``.zip`` and ``.mov`` are
# also TLDs, but in IOC lists they name files far more often).
FILE_EXTENSIONS = frozenset(
    [
        "exe",
        "dll",
        "sys",
        "scr",
        "com",
        "bat",
        "cmd",
        "ps1",
        "psm1",
        "vbs",
        "vbe",
        "js",
        "jse",
        "wsf",
        "wsh",
        "hta",
        "lnk",
        "msi",
        "msp",
        "jar",
        "py",
        "sh",
        "elf",
        "bin",
        "so",
        "doc",
        "docx",
        "docm",
        "xls",
        "xlsx",
        "xlsm",
        "ppt",
        "pptx",
        "pptm",
        "pdf",
        "rtf",
        "zip",
        "rar",
        "7z",
        "gz",
        "tgz",
        "tar",
        "iso",
        "img",
        "vhd",
        "vhdx",
        "cab",
        "dat",
        "tmp",
        "log",
        "txt",
        "html",
        "htm",
        "php",
        "asp",
        "aspx",
        "jsp",
        "ocx",
        "cpl",
        "apk",
        "dmg",
        "pkg",
        # more that run when opened (Windows), as attachments and droppers use them
        "pif",
        "msc",
        "reg",
        "chm",
        "scf",
        "jnlp",
        "appx",
        "msix",
        "xll",
        "iqy",
        "one",
        "ws",
    ]
)
# Extensions that are also top-level domains in the IANA root zone (tests/hunt/test_iocs.py checks
# this against the list hypothesis vendors): "afterburst.com" or "update.zip" in a list that does
# not say which is typed as both a domain and a file name, so neither reading is lost.
TLD_FILE_EXTENSIONS = frozenset(["cab", "com", "one", "py", "sh", "so", "ws", "zip"])


@dataclass(frozen=True)
class Ioc:
    """One normalised indicator."""

    type: str
    value: str
    raw: str
    source: str
    source_sha256: str
    confidence: int | None = None
    tlp: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    tags: tuple[str, ...] = ()


@dataclass
class IocSet:
    """Indicators from a set of documents plus what happened to each document."""

    iocs: list[Ioc] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    frames: list[pl.DataFrame] = field(default_factory=list)  # big plain lists, read column-wise

    def __len__(self) -> int:
        return len(self.iocs) + sum(f.height for f in self.frames)


# ---- values -------------------------------------------------------------------------------
_DEFANG = (
    (re.compile(r"(?i)^hxxp"), "http"),
    (re.compile(r"(?i)^fxp"), "ftp"),
    (re.compile(r"\[\s*:\s*\]//|\[://\]|\(://\)"), "://"),
    (re.compile(r"\[\s*:\s*\]"), ":"),
    (re.compile(r"\s*(\[\s*\.\s*\]|\(\s*\.\s*\)|\{\s*\.\s*\}|\[dot\]|\(dot\))\s*", re.I), "."),
    (re.compile(r"\[\s*@\s*\]|\[at\]", re.I), "@"),
    (re.compile(r"\[/\]"), "/"),
)
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$")
_HASH_LEN = {32: "md5", 40: "sha1", 64: "sha256"}


def refang(text: str) -> str:
    """Undo the usual defanging: ``hxxp``, ``[.]``, ``(.)``, ``[:]``, ``[@]``."""
    s = text.strip()
    for pattern, repl in _DEFANG:
        s = pattern.sub(repl, s)
    return s


def _hash(s: str) -> tuple[str, str] | None:
    compact = re.sub(r"[\s:]", "", s)
    if len(compact) in _HASH_LEN and _HEX.match(compact):
        return _HASH_LEN[len(compact)], compact.lower()
    return None


_IP_CHARS = re.compile(r"^[0-9A-Fa-f:.%/]+$")


def _ip(s: str) -> tuple[str, str] | None:
    candidate = s.strip("[]")
    if not _IP_CHARS.match(candidate) or ("." not in candidate and ":" not in candidate):
        return None  # cheap refusal: most tokens of a list's descriptions are words, not addresses
    if re.match(r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$", candidate):  # an IPv4 range
        try:
            net = ipaddress.ip_network(candidate, strict=False)
        except ValueError:
            return None
        if net.prefixlen == 32:
            return "ipv4", str(net.network_address)
        return "cidr", str(net)
    if re.match(r"^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$", candidate):  # ip:port
        candidate = candidate.rsplit(":", 1)[0]
    try:
        addr = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return "ipv4", str(addr.ipv4_mapped)
    return ("ipv4" if addr.version == 4 else "ipv6"), addr.compressed.lower()


def canonical_url(s: str) -> str | None:
    """Lower-case scheme and host, drop the default port and the fragment; None if not a URL."""
    try:
        parts = urlsplit(s)
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    host = (parts.hostname or "").rstrip(".")
    if not host or re.search(r"\s", parts.netloc):
        return None
    netloc = host
    try:
        port = parts.port
    except ValueError:
        return None
    if port and not (
        (parts.scheme.lower() == "http" and port == 80) or (parts.scheme.lower() == "https" and port == 443)
    ):
        netloc = f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme.lower(), netloc.lower(), parts.path or "/", parts.query, ""))


def _filename(s: str) -> str | None:
    name = s.strip().strip("\"'")
    if not name or len(name) > 255 or any(c in name for c in '\\/:*?"<>|\t'):
        return None
    return name.lower()


def _filepath(s: str) -> str | None:
    p = s.strip().strip("\"'")
    if re.match(r"^[A-Za-z]:\\|^\\\\|^%[A-Za-z]+%\\", p):
        return p.lower()  # Windows paths compare case-insensitively
    if p.startswith("/") and p.count("/") >= 2 and " " not in p:
        return p
    return None


def classify(text: str, hint: str | None = None) -> tuple[str, str] | None:
    """(type, canonical value) of one indicator string, refanged; None when it is not one.

    ``hint`` is a type from the document (a CSV column, a section heading, a MISP type); without
    it the type is inferred from the shape of the value.
    """
    s = refang(text).strip().strip(",;").strip()
    if not s:
        return None
    hinted = _hinted(s, hint) if hint else None
    return hinted or _infer(s)


def classify_all(text: str, hint: str | None = None) -> list[tuple[str, str]]:
    """Every (type, canonical value) an indicator string stands for ([] when none).

    One, except a token shaped like a domain whose last label is both a TLD and a file extension
    (``afterburst.com``, ``update.zip``) when the document does not say which it is (no ``hint``):
    that is a domain and a file name, and both are matched.
    """
    kind = classify(text, hint)
    if kind is None:
        return []
    if hint is None and kind[0] == "filename" and kind[1].rsplit(".", 1)[-1] in TLD_FILE_EXTENSIONS:
        return [("domain", kind[1]), kind]
    return [kind]


def _hinted(s: str, hint: str) -> tuple[str, str] | None:
    if hint in ("md5", "sha1", "sha256"):
        h = _hash(s)
        return h if h and h[0] == hint else None
    if hint in ("ipv4", "ipv6", "cidr"):
        return _ip(s)
    if hint == "url" and not re.search(r"\s", s) and ("://" in s or "." in s.split("/", 1)[0]):
        u = canonical_url(s if "://" in s else "http://" + s)
        return ("url", u) if u else None
    if hint == "domain":
        d = s.lower().rstrip(".")
        return ("domain", d) if _DOMAIN.match(d) else None
    if hint == "filename":
        f = _filename(s)
        return ("filename", f) if f else None
    if hint == "filepath":
        p = _filepath(s)
        return ("filepath", p) if p else None
    return None


def _infer(s: str) -> tuple[str, str] | None:
    h = _hash(s)
    if h:
        return h
    ip = _ip(s)
    if ip:
        return ip
    if "://" in s:
        u = canonical_url(s)
        return ("url", u) if u else None
    p = _filepath(s)
    if p:
        return "filepath", p
    low = s.lower().rstrip(".")
    if _DOMAIN.match(low):
        if low.rsplit(".", 1)[1] in FILE_EXTENSIONS:
            return "filename", low
        return "domain", low
    if "/" in s and _DOMAIN.match(s.split("/", 1)[0].lower()):
        u = canonical_url("http://" + s)
        return ("url", u) if u else None
    return None


def normalise_tlp(value: str | None) -> str | None:
    """``TLP:WHITE``/``tlp:clear``/``AMBER+STRICT`` → clear/green/amber/amber+strict/red."""
    if not value:
        return None
    v = value.strip().lower().removeprefix("tlp:").removeprefix("tlp").strip(" :-_")
    v = {"white": "clear", "amber strict": "amber+strict", "amber-strict": "amber+strict"}.get(v, v)
    return v if v in TLP_ORDER else None


def stricter_tlp(a: str | None, b: str | None) -> str | None:
    """The more restrictive of two TLP labels (None counts as unmarked)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if TLP_ORDER.index(a) >= TLP_ORDER.index(b) else b


# ---- documents ----------------------------------------------------------------------------
@dataclass
class _Doc:
    path: str
    sha256: str
    iocs: list[Ioc] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    frames: list[pl.DataFrame] = field(default_factory=list)
    untyped: list[tuple[int, str]] = field(default_factory=list)  # (line number, text) of lines not typed

    def add(
        self, kind: tuple[str, str] | None, raw: str, reason: str = "not a recognised indicator", **kw: Any
    ) -> None:
        if kind is None:
            self.rejected[reason] += 1
            return
        self.iocs.append(Ioc(kind[0], kind[1], raw.strip(), self.path, self.sha256, **kw))

    def add_all(self, kinds: list[tuple[str, str]], raw: str, line: int, reason: str, **kw: Any) -> None:
        """Add each typing of ``raw``; a line with none is counted and kept to be shown."""
        if not kinds:
            self.rejected[reason] += 1
            self.untyped.append((line, raw.strip()))
        for kind in kinds:
            self.add(kind, raw, **kw)


def load_ioc_paths(paths: Sequence[Path]) -> IocSet:
    """Load every IOC document in ``paths`` (files, or folders searched for IOC-like files)."""
    result = IocSet()
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IOC_SUFFIXES))
        elif p.is_file():
            files.append(p)
        else:
            result.outcomes.append(Outcome("ioc", str(p), None, "failed", "no such file or folder"))
    for f in files:
        _load_one(f, result)
    return result


def _load_one(path: Path, result: IocSet) -> None:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        result.outcomes.append(Outcome("ioc", str(path), None, "failed", f"cannot read: {exc}"))
        return
    doc = _Doc(str(path), hashlib.sha256(raw).hexdigest())
    text = raw.decode("utf-8-sig", errors="replace")
    try:
        fmt = _parse_document(doc, path, text)
    except ValueError as exc:
        result.outcomes.append(Outcome("ioc", str(path), None, "failed", str(exc)))
        return
    result.iocs.extend(doc.iocs)
    result.frames.extend(doc.frames)
    count = len(doc.iocs) + sum(f.height for f in doc.frames)
    reason = f"{fmt}: {count} indicators"
    if doc.rejected:
        reason += "; not used: " + ", ".join(f"{n} {why}" for why, n in sorted(doc.rejected.items()))
    result.outcomes.append(Outcome("ioc", str(path), fmt, "loaded", reason, count=count))
    if doc.untyped:
        result.outcomes.append(_untyped_outcome(doc, fmt))


UNTYPED_SHOWN = 5  # untyped lines quoted in the outcome (all are counted)


def _untyped_outcome(doc: _Doc, fmt: str) -> Outcome:
    """A ``skipped`` outcome naming the lines that could not be typed (the hunt prints skipped ones)."""
    n = len(doc.untyped)
    shown = "; ".join(f"line {line}: {text[:60]!r}" for line, text in doc.untyped[:UNTYPED_SHOWN])
    more = f"; … {n - UNTYPED_SHOWN} more" if n > UNTYPED_SHOWN else ""
    return Outcome(
        "ioc", doc.path, fmt, "skipped", f"{n} line(s) not typed as an indicator: {shown}{more}", count=n
    )


def _parse_document(doc: _Doc, path: Path, text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"JSON does not parse: {exc}") from exc
        if isinstance(data, dict) and (data.get("type") == "bundle" or "objects" in data):
            parse_stix(doc, data)
            return "stix"
        events = _misp_events(data)
        if events:
            for event in events:
                parse_misp(doc, event)
            return "misp"
        raise ValueError("JSON is neither a STIX 2.1 bundle nor a MISP event")
    if path.suffix.lower() == ".csv":
        parse_csv(doc, text)
        return "csv"
    parse_text(doc, text)
    return "text"


# ---- STIX 2.1 -----------------------------------------------------------------------------
_STIX_PATHS: dict[tuple[str, str], str] = {
    ("ipv4-addr", "value"): "ipv4",
    ("ipv6-addr", "value"): "ipv6",
    ("domain-name", "value"): "domain",
    ("url", "value"): "url",
    ("file", "name"): "filename",
    ("file", "hashes.md5"): "md5",
    ("file", "hashes.sha-1"): "sha1",
    ("file", "hashes.sha1"): "sha1",
    ("file", "hashes.sha-256"): "sha256",
    ("file", "hashes.sha256"): "sha256",
}


def _stix_tlp(obj: dict[str, Any], local: dict[str, str]) -> str | None:
    tlp: str | None = None
    for ref in obj.get("object_marking_refs") or []:
        tlp = stricter_tlp(tlp, STIX_TLP_IDS.get(ref) or local.get(ref))
    return tlp


def _local_markings(objects: Iterable[dict[str, Any]]) -> dict[str, str]:
    """TLP marking definitions defined inside the bundle itself (TLP 1.0 form or TLP 2.0 extension)."""
    out: dict[str, str] = {}
    for o in objects:
        if o.get("type") != "marking-definition":
            continue
        label = None
        if o.get("definition_type") == "tlp":
            label = normalise_tlp(str((o.get("definition") or {}).get("tlp")))
        for ext in (o.get("extensions") or {}).values():
            if isinstance(ext, dict) and "tlp_2_0" in ext:
                label = normalise_tlp(str(ext["tlp_2_0"]))
        if label is None:
            label = normalise_tlp(o.get("name"))
        if label:
            out[o.get("id", "")] = label
    return out


def parse_stix(doc: _Doc, bundle: dict[str, Any]) -> None:
    """Indicators of a STIX 2.1 bundle whose pattern compares observable values with ``=``/IN."""
    from stix2patterns.pattern import ParseException, Pattern

    objects = [o for o in bundle.get("objects") or [] if isinstance(o, dict)]
    local = _local_markings(objects)
    for obj in objects:
        if obj.get("type") != "indicator":
            continue
        if obj.get("pattern_type", "stix") != "stix":
            doc.rejected[f"pattern_type {obj.get('pattern_type')} not supported"] += 1
            continue
        try:
            comparisons = Pattern(str(obj.get("pattern", ""))).inspect().comparisons
        except (ParseException, Exception) as exc:  # the parser raises several error types
            doc.rejected[f"pattern does not parse ({type(exc).__name__})"] += 1
            continue
        meta: dict[str, Any] = {
            "confidence": obj.get("confidence") if isinstance(obj.get("confidence"), int) else None,
            "tlp": _stix_tlp(obj, local),
            "first_seen": parse_iso_utc(str(obj.get("valid_from") or "")),
            "last_seen": parse_iso_utc(str(obj.get("valid_until") or "")),
            "tags": tuple(
                sorted({*map(str, obj.get("labels") or []), *map(str, obj.get("indicator_types") or [])})
            ),
        }
        for sco_type, comps in sorted(comparisons.items()):
            for prop, op, value in comps:
                _stix_comparison(doc, sco_type, prop, op, value, meta)


def _stix_comparison(
    doc: _Doc, sco_type: str, prop: list[Any], op: str, value: str, meta: dict[str, Any]
) -> None:
    key = (sco_type, ".".join(str(p) for p in prop).lower())
    ioc_type = _STIX_PATHS.get(key)
    if ioc_type == "ipv4" and op.strip().upper() == "ISSUBSET":  # [ipv4-addr:value ISSUBSET '10.0.0.0/8']
        ioc_type, op = "cidr", "="
    if ioc_type is None or op.strip().upper() not in ("=", "IN"):
        doc.rejected[f"comparison {sco_type}:{'.'.join(map(str, prop))} {op} not used"] += 1
        return
    values = re.findall(r"'((?:[^'\\]|\\.)*)'", value) or [value]
    for v in values:
        raw = v.replace("\\'", "'").replace("\\\\", "\\")
        doc.add(classify(raw, ioc_type), raw, f"{ioc_type} value not valid", **meta)


# ---- MISP ---------------------------------------------------------------------------------
_MISP_TYPES: dict[str, str] = {
    "ip-src": "ip", "ip-dst": "ip", "domain": "domain", "hostname": "domain", "url": "url", "uri": "url",
    "link": "url", "md5": "md5", "sha1": "sha1", "sha256": "sha256", "filename": "filename",
    "authentihash": "sha256", "x509-fingerprint-sha1": "sha1",
}  # fmt: skip


def _misp_events(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("Event"), dict):
        return [data["Event"]]
    if isinstance(data, dict) and isinstance(data.get("response"), list):
        return [
            e["Event"] for e in data["response"] if isinstance(e, dict) and isinstance(e.get("Event"), dict)
        ]
    if isinstance(data, list):
        return [e["Event"] for e in data if isinstance(e, dict) and isinstance(e.get("Event"), dict)]
    if isinstance(data, dict) and "Attribute" in data and "info" in data:
        return [data]
    return []


def _misp_tags(node: dict[str, Any]) -> list[str]:
    return [str(t.get("name")) for t in node.get("Tag") or [] if isinstance(t, dict) and t.get("name")]


def _misp_tlp(tags: Iterable[str]) -> str | None:
    tlp: str | None = None
    for t in tags:
        if t.lower().startswith("tlp:"):
            tlp = stricter_tlp(tlp, normalise_tlp(t))
    return tlp


def _misp_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    s = str(value)
    if s.isdigit():  # MISP writes epoch seconds (or microseconds) in some exports
        from forensics.timeutil import from_epoch

        n = int(s)
        return from_epoch(n / 1_000_000 if n > 10**11 else n)
    return parse_iso_utc(s)


def parse_misp(doc: _Doc, event: dict[str, Any]) -> None:
    """Attributes of a MISP event and of its objects; only ``to_ids`` ones are used."""
    event_tags = _misp_tags(event)
    event_tlp = _misp_tlp(event_tags)
    attributes = list(event.get("Attribute") or [])
    for obj in event.get("Object") or []:
        if isinstance(obj, dict):
            attributes.extend(obj.get("Attribute") or [])
    for attr in attributes:
        if not isinstance(attr, dict):
            continue
        if str(attr.get("to_ids", True)).lower() in ("false", "0"):
            doc.rejected["attributes with to_ids false"] += 1
            continue
        tags = _misp_tags(attr)
        meta: dict[str, Any] = {
            "tlp": _misp_tlp(tags) or event_tlp,
            "first_seen": _misp_time(attr.get("first_seen")),
            "last_seen": _misp_time(attr.get("last_seen")),
            "tags": tuple(sorted({*event_tags, *tags, f"misp:{attr.get('category', '')}".rstrip(":")})),
        }
        mtype = str(attr.get("type", ""))
        value = str(attr.get("value", ""))
        kinds, values = mtype.split("|"), value.split("|")
        if len(kinds) != len(values):
            kinds, values = [mtype], [value]
        for k, v in zip(kinds, values, strict=True):
            hint = _MISP_TYPES.get(k)
            if k == "port":
                continue
            if hint is None:
                doc.rejected[f"MISP type {k} not matched"] += 1
                continue
            doc.add(classify(v, None if hint == "ip" else hint), v, f"{k} value not valid", **meta)


# ---- CSV and text ---------------------------------------------------------------------------
_CSV_VALUE = ("indicator", "value", "ioc", "ioc_value", "observable", "data", "indicator_value")
_CSV_TYPE = ("type", "indicator_type", "ioc_type", "kind", "category")
_TYPE_WORDS: tuple[tuple[str, str], ...] = (
    ("sha256", "sha256"), ("sha-256", "sha256"), ("sha1", "sha1"), ("sha-1", "sha1"), ("md5", "md5"),
    ("ipv6", "ipv6"), ("ip", "ipv4"), ("url", "url"), ("uri", "url"), ("domain", "domain"),
    ("hostname", "domain"), ("host", "domain"), ("fqdn", "domain"), ("file path", "filepath"),
    ("filepath", "filepath"), ("path", "filepath"), ("file name", "filename"), ("filename", "filename"),
    ("file", "filename"), ("hash", ""),
)  # fmt: skip


def type_hint(word: str) -> str | None:
    """An IOC type named by a column value or a heading ("IP addresses", "SHA-256", ...)."""
    w = word.strip().lower()
    for key, kind in _TYPE_WORDS:
        if re.search(rf"(^|[^a-z0-9]){re.escape(key)}", w):
            return kind or None
    return None


def parse_csv(doc: _Doc, text: str) -> None:
    """CSV with a header naming the value column (and optionally type, tlp, confidence, dates)."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    fields = {f.strip().lower(): f for f in reader.fieldnames or [] if f}
    value_col = next((fields[c] for c in _CSV_VALUE if c in fields), None)
    if value_col is None:
        parse_text(doc, text)  # no usable header: read it as a list
        return
    type_col = next((fields[c] for c in _CSV_TYPE if c in fields), None)
    for row in reader:
        line = reader.line_num
        value = (row.get(value_col) or "").strip()
        if not value or value.startswith("#"):
            continue
        hint = type_hint(row.get(type_col) or "") if type_col else None
        conf = (row.get(fields.get("confidence", "")) or "").strip()
        meta: dict[str, Any] = {
            "tlp": normalise_tlp(row.get(fields.get("tlp", ""))),
            "confidence": int(conf) if conf.isdigit() else None,
            "first_seen": parse_iso_utc(row.get(fields.get("first_seen", "")) or ""),
            "last_seen": parse_iso_utc(row.get(fields.get("last_seen", "")) or ""),
            "tags": tuple(t.strip() for t in (row.get(fields.get("tags", "")) or "").split(",") if t.strip()),
        }
        doc.add_all(classify_all(value, hint), value, line, "not a recognised indicator", **meta)


_COMMENT = re.compile(r"(^|\s)(#|//).*$")
_HEADING = re.compile(r"^[A-Za-z][A-Za-z0-9 _&()/-]{1,60}:?\s*$")


def parse_text(doc: _Doc, text: str) -> None:
    """A plain list: one indicator per line (or several separated by spaces, commas, ``;``, ``|``).

    A line such as ``IP addresses:`` or ``SHA-256`` sets the type for the lines under it, so
    file names and hashes broken by spaces are read as the sender meant them. ``TLP:AMBER``
    anywhere on its own line marks the whole document.
    """
    lines = text.splitlines()
    bulk = _bulk_columns(lines) if len(lines) >= BULK_LINES else None
    fast: list[str | None] = bulk["type"].to_list() if bulk is not None else [None] * len(lines)
    accepted: list[int] = []
    both: list[int] = []  # bulk lines also read as a domain (see classify_all)
    hint: str | None = None
    tlp: str | None = None
    for i, raw_line in enumerate(lines):
        kind = fast[i]
        if kind is not None and (hint is None or hint == kind):
            accepted.append(i)  # the column-wise pass already read this line exactly as below would
            if hint is None and bulk is not None and bulk["also_domain"][i]:
                both.append(i)
            continue
        line = _COMMENT.sub("", raw_line).strip()
        if not line:
            continue
        m = re.match(r"(?i)^tlp\s*:\s*(\S+)", line)
        if m:
            tlp = stricter_tlp(tlp, normalise_tlp(m.group(1)))
            continue
        if _HEADING.match(line) and _infer(line.rstrip(":")) is None:
            new_hint = type_hint(line)
            if new_hint is not None or line.endswith(":"):
                hint = new_hint
                continue
        _text_line(doc, line, hint, i + 1)
    if accepted and bulk is not None:
        doc.frames.append(_bulk_frame(doc, bulk[accepted], tlp))
    if both and bulk is not None:
        import polars as pl

        doc.frames.append(_bulk_frame(doc, bulk[both].with_columns(pl.lit("domain").alias("type")), tlp))
    if tlp:
        doc.iocs = [Ioc(**{**i.__dict__, "tlp": i.tlp or tlp}) for i in doc.iocs]


# Lists longer than this are first read column-wise with polars: hashes, IPv4 addresses and
# domains on their own line (the bulk of agency feeds); every other line takes the per-line path.
BULK_LINES = 2000
_RX_IPV4 = (
    r"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$"
)
_RX_DOMAIN = r"^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$"
_RX_DOT = r"\s*(\[\s*\.\s*\]|\(\s*\.\s*\)|\{\s*\.\s*\}|\[dot\]|\(dot\))\s*"


def _bulk_columns(lines: list[str]) -> pl.DataFrame:
    """type/value/raw of each line when it is a lone hash, IPv4 address or domain, else null type."""
    import polars as pl

    clean = pl.col("line").str.replace(r"(^|\s)(#|//).*$", "").str.strip_chars()
    frame = pl.DataFrame({"line": lines}).with_columns(clean.alias("raw"))
    frame = frame.with_columns(
        pl.col("raw")
        .str.replace_all(r"(?i)" + _RX_DOT, ".")
        .str.strip_chars(",;")
        .str.strip_chars()
        .alias("r")
    )
    hexed = pl.col("r").str.replace_all(r"[\s:]", "")
    low = pl.col("r").str.to_lowercase().str.strip_chars_end(".")
    tld = low.str.extract(r"\.([a-z0-9-]+)$", 1)
    is_domain = low.str.contains(_RX_DOMAIN) & low.str.len_chars().is_between(4, 253)
    kind = (
        pl.when(hexed.str.contains(r"^[0-9A-Fa-f]{64}$")).then(pl.lit("sha256"))
        .when(hexed.str.contains(r"^[0-9A-Fa-f]{40}$")).then(pl.lit("sha1"))
        .when(hexed.str.contains(r"^[0-9A-Fa-f]{32}$")).then(pl.lit("md5"))
        .when(pl.col("r").str.contains(_RX_IPV4)).then(pl.lit("ipv4"))
        .when(is_domain & tld.is_in(sorted(FILE_EXTENSIONS))).then(pl.lit("filename"))
        .when(is_domain).then(pl.lit("domain"))
    )  # fmt: skip
    value = (
        pl.when(kind.is_in(["sha256", "sha1", "md5"])).then(hexed.str.to_lowercase())
        .when(kind == "ipv4").then(pl.col("r"))
        .otherwise(low)
    )  # fmt: skip
    also = is_domain & tld.is_in(sorted(TLD_FILE_EXTENSIONS))
    return frame.select(kind.alias("type"), value.alias("value"), pl.col("raw"), also.alias("also_domain"))


def _bulk_frame(doc: _Doc, picked: pl.DataFrame, tlp: str | None) -> pl.DataFrame:
    import polars as pl

    no_tags = pl.Series("tags", [[]], dtype=pl.List(pl.String))
    return picked.with_columns(
        pl.lit(doc.path).alias("source"),
        pl.lit(doc.sha256).alias("source_sha256"),
        pl.lit(None, pl.Int32).alias("confidence"),
        pl.lit(tlp, pl.String).alias("tlp"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("first_seen"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("last_seen"),
        pl.lit(no_tags).first().alias("tags"),
    ).select(IOC_SCHEMA.names)  # also_domain is left behind


def _text_line(doc: _Doc, line: str, hint: str | None, number: int) -> None:
    whole = classify_all(line, hint)
    if whole:
        doc.add_all(whole, line, number, "")
        return
    tokens = [t for t in re.split(r"[\s,;|]+", line) if t]
    found = [(t, classify_all(t, hint)) for t in tokens]
    usable = [(t, k) for t, k in found if k]
    if not usable:
        doc.add_all([], line, number, "lines without an indicator")
        return
    # ``hash;description`` lists (LOKI style): the first usable token is the indicator.
    first_token, kinds = usable[0]
    doc.add_all(kinds, first_token, number, "")
    for t, ks in usable[1:]:
        for k in ks:
            if k[0] in ("ipv4", "ipv6", "md5", "sha1", "sha256", "url"):
                doc.add(k, t)


# ---- the table ------------------------------------------------------------------------------
def ioc_table(iocs: Sequence[Ioc], frames: Sequence[pl.DataFrame] = ()) -> pa.Table:
    """The indicators (objects and column-wise frames) as one Arrow table, deduplicated and sorted."""
    table = pa.table(
        {
            "type": [i.type for i in iocs],
            "value": [i.value for i in iocs],
            "raw": [i.raw for i in iocs],
            "source": [i.source for i in iocs],
            "source_sha256": [i.source_sha256 for i in iocs],
            "confidence": [i.confidence for i in iocs],
            "tlp": [i.tlp for i in iocs],
            "first_seen": [i.first_seen for i in iocs],
            "last_seen": [i.last_seen for i in iocs],
            "tags": [list(i.tags) for i in iocs],
        },
        schema=IOC_SCHEMA,
    )
    if frames:
        table = pa.concat_tables([table, *(f.to_arrow().cast(IOC_SCHEMA) for f in frames)])
    return _first_of_each_sorted(table)


# What makes two indicator rows the same, in the order the table is sorted by (tags joined by \x1f).
_IOC_ORDER = ("type", "value", "source", "raw", "tlp", "confidence", "first_seen", "last_seen", "_tags")


def _first_of_each_sorted(table: pa.Table) -> pa.Table:
    """One row per distinct ``_IOC_ORDER`` key (its first in ``table``), sorted by the key with nulls
    last. Arrow kernels rather than polars, whose import alone costs a hunt ~0.1 s: a stable sort
    puts each key's rows together in their original order, and a row is kept when its key differs
    from the row before it (two nulls are the same value)."""
    keyed = table.append_column("_tags", pc.binary_join(table["tags"], pa.scalar("\x1f", pa.string()))).combine_chunks()
    keyed = keyed.take(
        pc.sort_indices(keyed, sort_keys=[(k, "ascending") for k in _IOC_ORDER])
    )  # nulls at end
    n = keyed.num_rows
    if n > 1:
        same: pa.Array | None = None
        for name in _IOC_ORDER:
            column = keyed[name].combine_chunks()
            here, before = column.slice(1), column.slice(0, n - 1)
            both_null = pc.and_(pc.is_null(here), pc.is_null(before))
            equal = pc.coalesce(pc.equal(here, before), both_null)
            same = equal if same is None else pc.and_(same, equal)
        assert same is not None
        keyed = keyed.filter(pa.concat_arrays([pa.array([True], pa.bool_()), pc.invert(same)]))
    return keyed.drop_columns(["_tags"]).combine_chunks()
