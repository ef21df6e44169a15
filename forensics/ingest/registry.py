"""The explicit list of source formats, in the order they are tried when sniffing content.

Adding a format: one module with a class implementing ``forensics.ingest.base.Parser``,
and one line here. More specific formats come before more general ones.
"""

from __future__ import annotations

from forensics.ingest.base import Parser
from forensics.ingest.evtx import EvtxParser
from forensics.ingest.evtxjson import EvtxJsonParser, HayabusaParser
from forensics.ingest.winbeats import WinBeatsParser
from forensics.ingest.winxml import WinXmlParser

PARSERS: list[Parser] = [
    EvtxParser(),
    # windows exports
    WinXmlParser(),
    EvtxJsonParser(),
    HayabusaParser(),
    WinBeatsParser(),
    # linux
    # edr
]

BY_NAME: dict[str, Parser] = {p.name: p for p in PARSERS}


def sniff(head: bytes, name: str) -> Parser | None:
    """The first parser that recognises ``head``, or None."""
    for parser in PARSERS:
        if parser.sniff(head, name):
            return parser
    return None
