"""``wevtutil qe <log> /f:xml`` exports (and Event Viewer "Save as XML").

wevtutil writes ``<Event>`` elements one after another with no root element, Event Viewer
wraps them in ``<Events>``. Each ``<Event>...</Event>`` is cut out and parsed on its own so
one malformed event is one reject, not a lost file. The element tree is turned into the same
shape the ``evtx`` package produces, so rows match those from the binary log.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from forensics.ingest.base import FileFailed, InputFile, ParseContext, Reject, Row
from forensics.ingest.evtx import event_to_row

_EVENT = re.compile(rb"<Event[\s>].*?</Event>", re.S)
_NS = re.compile(r"^\{[^}]*\}")
MAX_FILE = 4 * 1024**3


def _local(tag: str) -> str:
    return _NS.sub("", tag)


def element_to_json(el: ET.Element) -> Any:
    """An XML element as the evtx JSON shape: attributes under ``#attributes``, text as value."""
    attrs = {_local(k): v for k, v in el.attrib.items() if not k.startswith("{http://www.w3.org")}
    children = list(el)
    if not children:
        text = el.text
        if attrs:
            node: dict[str, Any] = {"#attributes": attrs}
            if text is not None and text.strip():
                node["#text"] = text
            return node
        return text
    node = {"#attributes": attrs} if attrs else {}
    for child in children:
        name = _local(child.tag)
        value = element_to_json(child)
        if name in node:
            prev = node[name]
            node[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            node[name] = value
    return node


def _event_data(el: ET.Element) -> dict[str, Any]:
    """``<Data Name="x">v</Data>`` children as ``{x: v}``; unnamed data as a ``Data`` list."""
    out: dict[str, Any] = {}
    unnamed: list[str] = []
    for child in el:
        tag = _local(child.tag)
        name = child.attrib.get("Name")
        if tag == "Data" and name:
            out[name] = child.text or ""
        elif tag == "Data":
            unnamed.append(child.text or "")
        else:
            out[tag] = element_to_json(child)
    if unnamed:
        out["Data"] = unnamed if len(unnamed) > 1 else unnamed[0]
    return out


def _system(el: ET.Element) -> dict[str, Any]:
    sys_ = element_to_json(el)
    if not isinstance(sys_, dict):
        return {}
    for key in ("EventID", "EventRecordID"):
        v = sys_.get(key)
        if isinstance(v, str) and v.strip().isdigit():
            sys_[key] = int(v)
        elif isinstance(v, dict) and str(v.get("#text", "")).strip().isdigit():
            v["#text"] = int(v["#text"])
    return sys_


def xml_event_to_row(el: ET.Element, row: Row) -> Row:
    """One parsed ``<Event>`` element into a row."""
    event: dict[str, Any] = {}
    for child in el:
        tag = _local(child.tag)
        if tag == "System":
            event["System"] = _system(child)
        elif tag == "EventData":
            event["EventData"] = _event_data(child)
        elif tag == "UserData":
            event["UserData"] = element_to_json(child)
        elif tag == "RenderingInfo":
            event["RenderingInfo"] = element_to_json(child)
    return event_to_row(event, row)


class WinXmlParser:
    """Windows events exported as XML."""

    name = "winxml"
    description = "Windows events as XML (wevtutil qe /f:xml, Event Viewer export)"

    def sniff(self, head: bytes, name: str) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf").lstrip()
        if text.startswith(b"<?xml"):
            text = text[text.find(b"?>") + 2 :].lstrip()
        return (
            text.startswith((b"<Events", b"<Event ", b"<Event>"))
            and b"schemas.microsoft.com/win/2004/08/events" in head
        )

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject]:
        if src.size > MAX_FILE:
            raise FileFailed(f"XML export larger than {MAX_FILE} bytes: split it first")
        data = src.local.read_bytes()
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            data = data.decode("utf-16").encode("utf-8")
        line = 1
        last = end = 0
        for m in _EVENT.finditer(data):
            line += data.count(b"\n", last, m.start())
            last, end = m.start(), m.end()
            chunk = m.group(0)
            try:
                el = ET.fromstring(chunk)
            except ET.ParseError as exc:
                yield Reject(f"malformed Event XML: {exc}", chunk.decode("utf-8", "replace"), m.start(), line)
                continue
            yield xml_event_to_row(el, {"source": self.name, "rec_offset": m.start(), "rec_line": line})
        opened = re.search(rb"<Event[\s>]", data[end:])
        if opened:  # an Event opened and never closed: a truncated export
            start = end + opened.start()
            raw = data[start : start + 65536].decode("utf-8", "replace")
            yield Reject("truncated: <Event> without </Event> at end of file", raw, start)
