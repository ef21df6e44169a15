"""The parser contract: what every source format module implements.

A parser recognises its format by content (``sniff``) and turns one input file into a stream
of rows (plain dicts: core columns of ``forensics.schema`` plus native fields) and rejects.
The runner numbers every yielded item (``rec_index``), adds provenance and writes batches;
parsers never touch the case store and never format output.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from forensics.ingest.context import InputContext

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reject:
    """A record the parser could not turn into a row, kept with the reason."""

    reason: str
    raw: str | None = None
    rec_offset: int | None = None
    rec_line: int | None = None
    record_id: int | None = None
    raw_b64: str | None = None  # the record's bytes, when they are not text in the input's encoding


@dataclass(frozen=True, slots=True)
class Tally:
    """What a file's own structure says it holds, against what was read (EVTX headers).

    A parser that can tell yields one, last; the runner stores it on the input's row.
    """

    claimed: int  # records the file's headers claim
    carved: int  # rows recovered from damaged structure (counted in the rows too)
    shortfall: int  # claimed records neither read nor kept as a reject
    status: str | None  # "truncated" / "damaged" when the file is not whole
    note: str | None  # what was found wrong, for the analyst


@dataclass(frozen=True)
class InputFile:
    """One input file (or archive member materialised on disk), already hashed."""

    path: str  # as the user gave it (the archive's path for members)
    member: str | None  # path inside the archive, None for plain files
    local: Path  # readable file on disk holding the bytes (the original, or an extracted copy)
    size: int
    sha256: str
    md5: str
    head: bytes = b""  # the first bytes, for sniffing
    mtime: datetime | None = None  # modification time (file or archive member), aware UTC
    host_hint: str | None = None  # host named by the collection (folder / archive) it came from
    tz_hint: str | None = None  # zone the collection says its host ran in (its etc/timezone)
    # where ``tz_hint`` was read: the zone file relative to the folder named (plain files) or its
    # member name (archives), recorded with the input's context
    tz_source: str | None = None
    encoding: str | None = None  # text inputs: decided from the head (forensics.ingest.text.detect)
    decided: InputContext | None = None  # a replay's recorded context: used as it is, nothing re-decided
    # an archive member whose staged copy (``local``) was let go: the outermost archive's
    # absolute path, to read the member again from when it is parsed
    archive: str | None = None

    @classmethod
    def from_path(cls, path: Path, *, mtime: datetime | None = None) -> InputFile:
        """A plain file on disk, hashed and sniffed the way the runner does it."""
        from forensics.ingest.walk import hash_file

        sha256, md5, head = hash_file(path)
        return cls(str(path), None, path, path.stat().st_size, sha256, md5, head, mtime)


@dataclass(frozen=True)
class ParseContext:
    """Options that change how records are read, chosen by the user for the run."""

    tz: str | None = None  # zone to assume for sources that do not state one (IANA name)
    host: str | None = None  # host name to use when the source does not say
    reference_year: int | None = None  # year the logs were collected, for yearless formats
    options: dict[str, Any] = field(default_factory=dict)


class FileFailed(Exception):
    """The file as a whole cannot be read by the parser that claimed it (reason in the message)."""


class Parser(Protocol):
    """A source format. Implementations live one per module in ``forensics.ingest``."""

    name: str  # short, stable: the value of the ``source`` column
    description: str

    def sniff(self, head: bytes, name: str) -> bool:
        """True when ``head`` (the file's first bytes) is this format."""
        ...

    def parse(self, src: InputFile, ctx: ParseContext) -> Iterator[Row | Reject | Tally]:
        """Yield one row or one reject per source record, in file order (and maybe a Tally last)."""
        ...
