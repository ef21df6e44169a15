"""The explicit list of source formats, in the order they are tried when sniffing content.

Adding a format: one module with a class implementing ``forensics.ingest.base.Parser``,
and one line here. More specific formats come before more general ones.
"""

from __future__ import annotations

from forensics.ingest.auditd import AuditdParser
from forensics.ingest.base import Parser
from forensics.ingest.crowdstrike import FalconCefParser, FdrParser
from forensics.ingest.ecs import EcsParser
from forensics.ingest.evtx import EvtxParser
from forensics.ingest.evtxjson import EvtxJsonParser, HayabusaParser
from forensics.ingest.journald import JournaldParser
from forensics.ingest.mapped import MappedParser
from forensics.ingest.mde import MdeParser
from forensics.ingest.sentinelone import SentinelOneParser
from forensics.ingest.syslog import SentinelSyslogCsvParser, SyslogParser
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
    AuditdParser(),
    JournaldParser(),
    SentinelSyslogCsvParser(),
    SyslogParser(),  # line text: after every format with a stronger signature
    # edr
    MdeParser(),
    FdrParser(),
    FalconCefParser(),
    SentinelOneParser(),
    EcsParser(),
    MappedParser(),  # claims files only when bound to a --mapping file
]

BY_NAME: dict[str, Parser] = {p.name: p for p in PARSERS}


def sniff(head: bytes, name: str) -> Parser | None:
    """The first parser that recognises ``head``, or None."""
    for parser in PARSERS:
        if parser.sniff(head, name):
            return parser
    return None
