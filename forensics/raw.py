"""Re-extract raw records from the original inputs, byte for byte.

A row of ``events`` is keyed by ``(input_sha256, rec_index)``; the case's ``inputs`` table says
where that input came from (``path``, archive ``member``, ``parser``) and the row's provenance
columns (``rec_offset``, ``rec_line``, ``record_id``) say where in it. This module goes back to
the original and returns the record exactly as found, with its own SHA-256:

- EVTX: the file read chunk by chunk as ingest reads it (``forensics.ingest.evtx_chunks``),
  counting every item (failures included, as ingest numbers them), gives the record's XML
  (the bytes hashed) and its JSON;
- line formats: the line at ``rec_offset`` (or line ``rec_line``), without its line ending;
- archive members (``a.zip`` + ``dir/x.log``, nested as ``inner.tar!/x.log``): the member is
  read through ``forensics.archives.open_member`` (the walk ingest used, with its bounds) into a
  temporary file first; the original archive is only read;
- files in disk images (``host.E01`` + ``p1:/Windows/System32/winevt/Logs/Security.evtx``, or
  a deleted one by its MFT entry): copied out through dissect (``forensics.images.members``),
  the image opened read-only.

Originals are opened read-only and never written.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from forensics.archives import MEMBER_ERRORS, open_member, split_member
from forensics.errors import ForensicsError
from forensics.ingest import utf16
from forensics.ingest.jsonarray import NotAnArray, element_at, is_array, is_document
from forensics.store import input_columns

_CHUNK = 1024 * 1024


class RawUnavailable(ForensicsError):
    """A raw record cannot be re-extracted (original missing, changed, or format not supported)."""


@dataclass(frozen=True, slots=True)
class Locator:
    """Where one record sits in its input, as the event row recorded it."""

    rec_index: int
    rec_offset: int | None = None
    rec_line: int | None = None
    record_id: int | None = None


@dataclass(frozen=True)
class RawRecord:
    """One record as found in its input."""

    input_sha256: str
    rec_index: int
    kind: str  # "evtx" (data is the record XML) or "line" (data is the line without its ending)
    data: bytes
    sha256: str  # of ``data``
    json: str | None = None  # EVTX: the record as evtx renders JSON
    record_id: int | None = None
    rec_offset: int | None = None
    rec_line: int | None = None
    encoding: str | None = None  # of ``data`` when it is not UTF-8 (a UTF-16 input's record)

    def text(self) -> str:
        """``data`` as text, for people: decoded in its encoding, what does not decode as U+FFFD."""
        return self.data.decode(self.encoding or "utf-8", "replace")


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, streamed."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# ---- opening inputs ---------------------------------------------------------------------


def _in_image(path: Path, member: str) -> bool:
    """A member of a disk image (``p1:/Windows/...``), not of an archive."""
    from forensics.images.detect import image_kind
    from forensics.images.members import is_image_member

    return is_image_member(member) and image_kind(path) is not None


@contextlib.contextmanager
def materialise(path: Path, member: str | None) -> Iterator[Path]:
    """A readable local file with the input's bytes: ``path`` itself, or its member copied out."""
    if not member:
        yield path
        return
    if _in_image(path, member):
        from forensics.images.members import image_member
        from forensics.images.reader import ImageError

        try:
            with image_member(path, member) as local:
                yield local
        except ImageError as exc:
            raise RawUnavailable(str(exc)) from exc
        return
    with tempfile.TemporaryDirectory(prefix="forensics-raw-") as tmpname:
        copy = Path(tmpname) / "member"
        try:
            with open_member(path, split_member(member)) as src, copy.open("wb") as out:
                shutil.copyfileobj(src, out, _CHUNK)
        except MEMBER_ERRORS as exc:
            raise RawUnavailable(f"cannot read member {member!r} of {path}: {exc}") from exc
        yield copy


def locate_input(path: str, search: Sequence[Path] = ()) -> Path | None:
    """The original at ``path`` (as recorded), else the same relative path or name under ``search``."""
    p = Path(path)
    if p.is_file():
        return p
    for root in search:
        for cand in (root / path.lstrip("/"), root / p.name):
            if cand.is_file():
                return cand
        hits = sorted(root.rglob(p.name)) if root.is_dir() else []
        for hit in hits:
            if hit.is_file():
                return hit
    return None


# ---- reading records --------------------------------------------------------------------


def _evtx_items(
    local: Path, method: Literal["records", "records_json"]
) -> Iterator[dict[str, Any] | Exception]:
    """Every item in the order ingest numbered them (``evtx_chunks``: chunk by chunk, carved
    records of damaged chunks included), unreadable ones as an exception (they count too)."""
    from forensics.ingest.evtx_chunks import EvtxFile, RecordError

    for piece in EvtxFile(local).pieces(method):
        for item in piece.items:
            yield RuntimeError(item.reason) if isinstance(item, RecordError) else item


def read_evtx(local: Path, sha: str, wanted: Iterable[Locator]) -> dict[int, RawRecord | str]:
    """EVTX records by ``rec_index``: XML + JSON, or the reason one cannot be given."""
    want = {w.rec_index: w for w in wanted}
    if not want:
        return {}
    last = max(want)
    xml: dict[int, dict[str, Any] | Exception] = {}
    for i, item in enumerate(_evtx_items(local, "records")):
        if i in want:
            xml[i] = item
        if i >= last:
            break
    js: dict[int, dict[str, Any] | Exception] = {}
    for i, item in enumerate(_evtx_items(local, "records_json")):
        if i in want:
            js[i] = item
        if i >= last:
            break
    out: dict[int, RawRecord | str] = {}
    for idx, loc in want.items():
        x, j = xml.get(idx), js.get(idx)
        if x is None:
            out[idx] = f"the file has fewer than {idx + 1} records"
        elif isinstance(x, Exception):
            out[idx] = f"evtx could not read record {idx}: {x}"
        elif loc.record_id is not None and loc.record_id not in _record_ids(x):
            out[idx] = (
                f"record {idx} has EventRecordID {_record_ids(x)[-1]}, the event row says {loc.record_id}"
            )
        else:
            data = str(x["data"]).encode("utf-8")
            js_text = None
            if isinstance(j, dict):
                js_text = orjson.dumps(orjson.loads(j["data"]), option=orjson.OPT_SORT_KEYS).decode()
            out[idx] = RawRecord(
                sha, idx, "evtx", data, hashlib.sha256(data).hexdigest(), js_text, _record_ids(x)[-1],
                loc.rec_offset, loc.rec_line,
            )  # fmt: skip
    return out


_RECORD_ID = re.compile(r"<EventRecordID>(\d+)</EventRecordID>")


def _record_ids(item: dict[str, Any]) -> list[int]:
    """The record's numbers: the chunk header's, then the one in its XML (what event rows carry).

    They differ in logs whose header numbering restarted (e.g. copied or exported logs).
    """
    ids = [int(item["event_record_id"])] if item.get("event_record_id") is not None else []
    m = _RECORD_ID.search(str(item.get("data", "")))
    if m:
        ids.append(int(m.group(1)))
    return ids or [-1]


def _strip_eol(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line


def _line_at_offset(fh: IO[bytes], offset: int) -> bytes:
    fh.seek(offset)
    return _strip_eol(fh.readline())


def read_lines(local: Path, sha: str, wanted: Iterable[Locator]) -> dict[int, RawRecord | str]:
    """Line-format records by ``rec_index``: the line at its byte offset, else its line number.

    A UTF-16 input (known by its BOM or shape, as ingest knew it) is cut in UTF-16: the record's
    bytes as they are in the file.
    """
    want = list(wanted)
    out: dict[int, RawRecord | str] = {}
    by_line: dict[int, Locator] = {}
    with local.open("rb") as fh:
        head = fh.read(4096)
        codec = utf16.codec_of(head)
        # one JSON array, or pretty-printed documents: a record is an element, not a line
        text = utf16.head_as_utf8(head, codec) if codec else head
        array = is_array(text) or is_document(text)
        for loc in want:
            if loc.rec_offset is not None:
                try:
                    line = _record_at(fh, loc.rec_offset, array, codec)
                except NotAnArray as exc:
                    out[loc.rec_index] = f"no JSON array element at byte {loc.rec_offset}: {exc}"
                    continue
                out[loc.rec_index] = _line_record(sha, loc, line, codec)
            elif loc.rec_line is not None:
                by_line[loc.rec_line] = loc
            else:
                out[loc.rec_index] = "the event row has neither rec_offset nor rec_line"
        for n, line in _numbered_lines(fh, codec, max(by_line, default=0)):
            if n in by_line:
                out[by_line[n].rec_index] = _line_record(sha, by_line[n], line, codec)
    for loc in by_line.values():
        out.setdefault(loc.rec_index, f"the file has fewer than {loc.rec_line} lines")
    return out


def _record_at(fh: IO[bytes], offset: int, array: bool, codec: str | None) -> bytes:
    if codec is not None:
        return utf16.element_at(fh, offset, codec) if array else utf16.line_at(fh, offset, codec)
    return element_at(fh, offset) if array else _line_at_offset(fh, offset)


def _numbered_lines(fh: IO[bytes], codec: str | None, last: int) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its ending) up to line ``last``."""
    if last < 1:
        return
    fh.seek(0)
    lines = utf16.lines(fh, codec) if codec is not None else (_strip_eol(line) for line in fh)
    for n, line in enumerate(lines, 1):
        yield n, line
        if n >= last:
            return


def _line_record(sha: str, loc: Locator, line: bytes, encoding: str | None = None) -> RawRecord:
    return RawRecord(
        sha, loc.rec_index, "line", line, hashlib.sha256(line).hexdigest(), None, loc.record_id,
        loc.rec_offset, loc.rec_line, encoding,
    )  # fmt: skip


def read_raw(
    local: Path, parser: str | None, sha: str, wanted: Iterable[Locator]
) -> dict[int, RawRecord | str]:
    """Records of one input file (already materialised) by ``rec_index``, or why each is unavailable."""
    want = list(wanted)
    if parser == "evtx":
        return read_evtx(local, sha, want)
    if any(w.rec_offset is not None or w.rec_line is not None for w in want):
        return read_lines(local, sha, want)
    return {
        w.rec_index: f"re-extraction not supported for parser {parser!r} (no offset or line)" for w in want
    }


def extract_from_source(
    path: Path, member: str | None, parser: str | None, sha: str, wanted: Iterable[Locator]
) -> dict[int, RawRecord | str]:
    """Open the original (or its archive member), check it still hashes to ``sha``, read records."""
    want = list(wanted)
    try:
        with materialise(path, member) as local:
            actual = sha256_file(local)
            if actual != sha:
                why = f"{path}{'!/' + member if member else ''} now hashes to {actual[:16]}…, not {sha[:16]}…"
                return {w.rec_index: why for w in want}
            return read_raw(local, parser, sha, want)
    except RawUnavailable as exc:
        return {w.rec_index: str(exc) for w in want}


def extract_records(
    case: Any, refs: Iterable[tuple[str, int]], search: Sequence[Path] = ()
) -> dict[tuple[str, int], RawRecord | str]:
    """Raw records for ``(input_sha256, rec_index)`` refs of a case, or the reason per ref.

    ``case`` is an open ``forensics.store.Case``; ``search`` holds folders to look in when an
    input's recorded path no longer exists (the originals moved, or the case came from elsewhere).
    """
    absolute = "abs_path" if "abs_path" in input_columns(case.con) else "NULL"  # cases from before it
    by_input: dict[str, set[int]] = {}
    for sha, idx in refs:
        by_input.setdefault(sha, set()).add(int(idx))
    out: dict[tuple[str, int], RawRecord | str] = {}
    for sha in sorted(by_input):
        idxs = sorted(by_input[sha])
        rows_ = case.con.execute(
            f"SELECT path, member, parser, {absolute} FROM inputs WHERE sha256 = ? AND parser IS NOT NULL "
            "ORDER BY path, member NULLS FIRST LIMIT 1",
            [sha],
        ).fetchall()
        src = rows_[0] if rows_ else None
        if src is None:
            out.update({(sha, i): "the input is not in the case's inputs table" for i in idxs})
            continue
        wanted = _locators(case, sha, idxs)
        # the absolute path recorded at ingest finds the original from any working directory
        local = locate_input(src[3], ()) if src[3] else None
        local = local or locate_input(src[0], search)
        if local is None:
            out.update({(sha, i): f"original {src[3] or src[0]} not found" for i in idxs})
            continue
        got = extract_from_source(local, src[1], src[2], sha, wanted)
        out.update({(sha, i): got.get(i, "not extracted") for i in idxs})
    return out


def _locators(case: Any, sha: str, idxs: Sequence[int]) -> list[Locator]:
    """Provenance columns of the event rows for ``idxs`` of one input."""
    have = {r[0] for r in case.con.execute("DESCRIBE events").fetchall()}
    # columns no parser of the case filled are absent from the view, not null
    cols = ", ".join(c if c in have else f"NULL AS {c}" for c in ("rec_offset", "rec_line", "record_id"))
    rows = case.con.execute(
        f"SELECT rec_index, {cols} FROM events WHERE input_sha256 = ? "
        "AND rec_index IN (SELECT unnest(?::BIGINT[]))",
        [sha, list(idxs)],
    ).fetchall()
    found = {int(r[0]): Locator(int(r[0]), r[1], r[2], r[3]) for r in rows}
    return [found.get(i, Locator(i)) for i in idxs]


def extract_record(case: Any, input_sha256: str, rec_index: int, search: Sequence[Path] = ()) -> RawRecord:
    """One raw record of a case; raises ``RawUnavailable`` with the reason when it cannot be had."""
    got = extract_records(case, [(input_sha256, rec_index)], search)[(input_sha256, rec_index)]
    if isinstance(got, str):
        raise RawUnavailable(got)
    return got
