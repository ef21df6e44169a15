"""Archives as evidence: walk the members of zip, tar and gzip files (nested too) and open one
member's bytes as a stream, within bounds a hostile archive cannot break.

Shared by ingest (members streamed to the parsers), YARA (members scanned) and ``raw`` (a record
re-read from its member). Archives are handed over by others and may be hostile, so:

- members are never extracted by name: a consumer reads each member's bytes from a stream and
  writes them, if at all, to a file of its own naming;
- links, absolute or parent-escaping names, special files and duplicate names are refused with
  the reason (a ``Member`` whose ``refused`` says why);
- the bytes read out of one archive, nested archives included, are bounded by ``Limits``:
  at most ``max_ratio`` times the archive's own size, but always up to ``ratio_floor``, and never
  more than ``max_total_bytes``; one member at most ``max_member_bytes``. A member that crosses
  a bound is refused the moment it does (``Refused`` from its stream), and every member after the
  archive's bound is refused unread. Nested archives count against the outermost one.

A member is named by its chain: the member names from the outermost archive inwards, joined
with ``!/`` (``triage.zip!/Logs/Security.evtx`` inside ``collection.zip``).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

HEAD_BYTES = 65536
CHUNK = 1024 * 1024
MEMBER_SEP = "!/"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Limits:
    """How far one archive may expand (documented in docs/architecture.md, "Archives")."""

    max_depth: int = 4  # archives inside archives
    max_member_bytes: int = 8 * 1024**3
    max_ratio: int = 100  # bytes read out of an archive per byte of the archive ...
    ratio_floor: int = 1024**3  # ... though any archive may give this much
    max_total_bytes: int = 64 * 1024**3  # and none more than this
    member_ratio: int = 200  # one member past member_floor: at most this times its compressed size
    member_floor: int = 16 * 1024**2

    def budget_for(self, archive_size: int) -> int:
        """The bytes an archive of ``archive_size`` bytes may expand to, nested archives included."""
        return min(self.max_total_bytes, max(self.ratio_floor, self.max_ratio * archive_size))


DEFAULT_LIMITS = Limits()


class Refused(Exception):
    """A member (or the rest of an archive) is not read; the message is the reason."""


# what a stream of member bytes is: a zip or tar member's file object, or a gzip stream
Stream = IO[bytes] | gzip.GzipFile


# What reading a member's stream may raise besides ``Refused``: the archive is damaged there.
READ_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError,
)  # fmt: skip


# what reading one named member may raise: not there / not a file, refused by a bound, unreadable
MEMBER_ERRORS: tuple[type[BaseException], ...] = (KeyError, Refused, *READ_ERRORS)


@dataclass(frozen=True)
class Member:
    """One member of an archive, or a refusal with its reason."""

    chain: tuple[str, ...]  # member names from the outermost archive inwards (empty: the archive itself)
    size: int | None  # uncompressed size the archive declares, when it does
    mtime: datetime | None
    host_hint: str | None = None  # host the collection names (UAC file name, Velociraptor client_info)
    refused: str | None = None

    @property
    def name(self) -> str:
        """The chain joined with ``!/``: how ``inputs.member`` names it."""
        return MEMBER_SEP.join(self.chain)


def is_archive(head: bytes) -> bool:
    """Zip, tar (ustar magic) or gzip."""
    return head.startswith(ZIP_MAGIC) or head.startswith(GZIP_MAGIC) or head[257:262] == b"ustar"


def split_member(name: str) -> tuple[str, ...]:
    """``inputs.member`` back into its chain."""
    return tuple(name.split(MEMBER_SEP))


class _Budget:
    """Bytes read out of one outermost archive so far, against its bound."""

    def __init__(self, limits: Limits, archive_size: int) -> None:
        self.limits = limits
        self.limit = limits.budget_for(archive_size)
        self.used = 0

    def exhausted(self) -> str | None:
        if self.used < self.limit:
            return None
        return (
            f"archive expansion limit reached ({self.limit} bytes: {self.limits.max_ratio}x the archive, "
            f"at least {self.limits.ratio_floor}, at most {self.limits.max_total_bytes}): not read"
        )


class MemberStream(io.RawIOBase):
    """A member's bytes, counted against the archive's budget and the member limit.

    Reading past either raises ``Refused``. The first ``HEAD_BYTES`` are read ahead (``head``)
    and replayed, so looking at a member's kind costs no second read.
    """

    def __init__(self, src: Stream, budget: _Budget, packed: int | None = None) -> None:
        super().__init__()
        self._src = src
        self._budget = budget
        limits = budget.limits
        self._limit = limits.max_member_bytes
        if packed:  # the archive says how many compressed bytes the member takes (zip)
            self._limit = min(self._limit, max(limits.member_floor, packed * limits.member_ratio))
        self._packed = packed
        self.read_bytes = 0
        self._pending = b""
        self.head = self._pull(HEAD_BYTES)
        self._pending = self.head

    def _pull(self, n: int) -> bytes:
        data = self._src.read(n)
        self.read_bytes += len(data)
        self._budget.used += len(data)
        if self.read_bytes > self._limit:
            raise Refused(
                f"expands beyond {self._limit} bytes (compressed {self._packed}): refused as a decompression bomb"
                if self._packed
                else f"member larger than {self._limit} bytes: refused"
            )
        if self._budget.used > self._budget.limit:
            raise Refused(
                f"expands beyond the archive's limit of {self._budget.limit} bytes "
                f"({self._budget.limits.max_ratio}x its size, at least {self._budget.limits.ratio_floor}): "
                "refused as a decompression bomb"
            )
        return data

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(b)
        if self._pending:
            n = min(len(view), len(self._pending))
            view[:n] = self._pending[:n]
            self._pending = self._pending[n:]
            return n
        data = self._pull(min(len(view), CHUNK))
        view[: len(data)] = data
        return len(data)


# ---- walking ------------------------------------------------------------------------------


@dataclass
class _Level:
    """One archive being walked: where it is, its chain so far and the outermost one's budget."""

    path: Path
    chain: tuple[str, ...]
    display: str  # for host hints: the archive's own file name
    host_hint: str | None
    budget: _Budget
    depth: int
    scratch: Path
    lists_free: bool = True  # the format lists members without reading them (zip)


def walk_archive(
    path: Path, *, limits: Limits = DEFAULT_LIMITS, scratch: Path | None = None
) -> Iterator[tuple[Member, MemberStream | None]]:
    """Every member of the archive at ``path`` with a stream of its bytes (None when refused).

    Members come in archive order (zip: sorted by name); nested archives are opened in place
    of their member, their members' chains continuing it. A stream is valid until the next
    member is asked for; a consumer that does not read it leaves it unread (and unbudgeted).
    Nested archives are spooled to ``scratch`` (a temporary folder when None) while walked.
    """
    with contextlib.ExitStack() as stack:
        if scratch is None:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="forensics-arc-")))
        budget = _Budget(limits, path.stat().st_size)
        top = _Level(path, (), path.name, None, budget, 1, scratch)
        yield from _walk(top, _head(path))


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def _walk(level: _Level, head: bytes) -> Iterator[tuple[Member, MemberStream | None]]:
    if level.depth > level.budget.limits.max_depth:
        why = f"archive nested deeper than {level.budget.limits.max_depth} levels: not opened"
        yield Member(level.chain, None, None, level.host_hint, why), None
        return
    try:
        if head.startswith(ZIP_MAGIC):
            yield from _members(level, _zip_entries(level))
        elif head.startswith(GZIP_MAGIC) and not _gz_holds_tar(level.path):
            yield from _members(level, _gz_entries(level))
        else:
            yield from _members(level, _tar_entries(level))
    except _Stop as stop:
        yield Member(level.chain, None, None, level.host_hint, str(stop)), None
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, OSError, EOFError, ValueError) as exc:
        # the archive itself (or the nested one, named by its chain) cannot be read on from here
        yield Member(level.chain, None, None, level.host_hint, f"damaged archive: {exc}"), None


class _Stop(Exception):
    """The rest of a tar is not listed: its expansion bound is reached (listing means decompressing)."""


@dataclass(frozen=True)
class _Entry:
    """A member as its archive format lists it."""

    name: str
    size: int | None  # declared
    packed: int | None  # compressed size, where the format says (zip)
    mtime: datetime | None
    refused: str | None
    opener: contextlib.AbstractContextManager[Stream] | None


def _members(level: _Level, entries: Iterator[_Entry]) -> Iterator[tuple[Member, MemberStream | None]]:
    seen: set[str] = set()
    for entry in entries:
        name, size, mtime, why, opener = entry.name, entry.size, entry.mtime, entry.refused, entry.opener
        chain = (*level.chain, name)
        if why is None:
            why = _unsafe_name(name)
        if why is None and name in seen:
            why = "duplicate member name in archive"
        seen.add(name)
        if why is None and size is not None and size > level.budget.limits.max_member_bytes:
            why = (
                f"declared size {size} over the member limit of {level.budget.limits.max_member_bytes} bytes"
            )
        if why is None:
            why = level.budget.exhausted()
            if why is not None and not level.lists_free:
                raise _Stop(f"{why}; the members after {name!r} were not listed")
        member = Member(chain, size, mtime, level.host_hint)
        if why is not None or opener is None:
            yield replace(member, refused=why or "unreadable archive member"), None
            continue
        yield from _one(level, member, opener, entry.packed)


def _one(
    level: _Level, member: Member, opener: contextlib.AbstractContextManager[Stream], packed: int | None
) -> Iterator[tuple[Member, MemberStream | None]]:
    try:
        with opener as raw:
            stream = MemberStream(raw, level.budget, packed)
            if not is_archive(stream.head):
                yield member, stream
                return
            spooled = _spool(stream, level)  # a nested archive: walked from a file of our own
    except Refused as exc:
        yield replace(member, refused=str(exc)), None
        return
    except READ_ERRORS as exc:
        yield replace(member, refused=f"unreadable archive member: {exc}"), None
        return
    try:
        inner = _Level(spooled, member.chain, PurePosixPath(member.chain[-1]).name, level.host_hint,
                       level.budget, level.depth + 1, level.scratch)  # fmt: skip
        yield from _walk(inner, _head(spooled))
    finally:
        spooled.unlink(missing_ok=True)


def _spool(stream: MemberStream, level: _Level) -> Path:
    level.scratch.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="nested-", dir=level.scratch)
    try:
        with open(fd, "wb") as out:
            shutil.copyfileobj(stream, out, CHUNK)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _zip_entries(level: _Level) -> Iterator[_Entry]:
    with zipfile.ZipFile(level.path) as zf:
        level.host_hint = level.host_hint or _velociraptor_host(zf) or _uac_host(level.display)
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            why = "symbolic link in archive: not followed" if stat.S_ISLNK(info.external_attr >> 16) else None
            mtime = datetime(*info.date_time, tzinfo=UTC) if info.date_time[0] >= 1980 else None
            yield _Entry(info.filename, info.file_size, info.compress_size, mtime, why, _zip_opener(zf, info))


def _zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> contextlib.AbstractContextManager[Stream]:
    @contextlib.contextmanager
    def opened() -> Iterator[IO[bytes]]:
        with zf.open(info) as src:
            yield src

    return opened()


def _tar_entries(level: _Level) -> Iterator[_Entry]:
    # stream mode: one pass over a compressed tar, members in archive order (sorting by name
    # would decompress the archive again for every member that comes before another)
    level.host_hint = level.host_hint or _uac_host(level.display)
    level.lists_free = False
    with tarfile.open(level.path, "r|*") as tf:
        for info in tf:
            if info.isdir():
                continue
            why = None
            if info.issym() or info.islnk():
                why = "link in archive: not followed"
            elif not info.isfile():
                why = "special file in archive (device, fifo): skipped"
            mtime = datetime.fromtimestamp(info.mtime, tz=UTC) if info.mtime else None
            src = tf.extractfile(info) if why is None else None
            opener = contextlib.nullcontext(src) if src is not None else None
            yield _Entry(info.name, info.size, None, mtime, why, opener)


def _gz_entries(level: _Level) -> Iterator[_Entry]:
    name = level.display[:-3] if level.display.endswith(".gz") else level.display + ".out"
    mtime = datetime.fromtimestamp(level.path.stat().st_mtime, tz=UTC) if not level.chain else None
    yield _Entry(name, None, None, mtime, None, gzip.open(level.path, "rb"))  # noqa: SIM115 (the walk opens it)


def _gz_holds_tar(path: Path) -> bool:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read(512)[257:262] == b"ustar"
    except (OSError, EOFError, zlib.error):
        return False


def _unsafe_name(name: str) -> str | None:
    """Why a member name is refused, or None when it is safe to report as a path."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path in archive"
    if ".." in PurePosixPath(name.replace("\\", "/")).parts:
        return "path traversal ('..') in archive"
    return None


# ---- collection host hints ----------------------------------------------------------------
_UAC_NAME = re.compile(
    r"^uac-(?P<host>[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*?)-(?:linux|aix|freebsd|macos|netbsd|netscaler|openbsd|solaris|esxi|android)-\d{8,14}",
    re.I,
)


def _uac_host(file_name: str) -> str | None:
    """UAC names its output ``uac-<hostname>-<os>-<timestamp>.tar.gz``."""
    m = _UAC_NAME.match(file_name)
    return m.group("host") if m else None


def _velociraptor_host(zf: zipfile.ZipFile) -> str | None:
    """A Velociraptor offline collection carries ``client_info.json`` with the host's name."""
    for name in ("client_info.json", "uploads/client_info.json"):
        try:
            info = zf.getinfo(name)
        except KeyError:
            continue
        if info.file_size > 1 << 20:
            return None
        try:
            data = json.loads(zf.read(info))
        except (ValueError, zipfile.BadZipFile, OSError):
            return None
        if isinstance(data, list) and data:
            data = data[0]
        if isinstance(data, dict):
            host = data.get("Hostname") or data.get("hostname") or data.get("Fqdn")
            return str(host) if host else None
    return None


# ---- one member -----------------------------------------------------------------------------


def zip_names(path: Path) -> set[str] | None:
    """The member names a zip lists (its central directory, nothing extracted), or None when it
    cannot be read as a zip: how a collection is told apart (Velociraptor's ``uploads/``)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return set(zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return None


@contextlib.contextmanager
def open_member(
    path: Path, chain: Sequence[str], *, limits: Limits = DEFAULT_LIMITS
) -> Iterator[MemberStream]:
    """The bytes of member ``chain`` of the archive at ``path``, as a stream (read once, in order).

    Nested archives on the way are spooled to a temporary folder; the walk's bounds apply.
    Raises ``KeyError`` when a name is not a regular member, ``Refused`` past a bound.
    """
    if not chain:
        raise KeyError("no member named")
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="forensics-member-")))
        budget = _Budget(limits, path.stat().st_size)
        current = path
        for depth, name in enumerate(chain, 1):
            if depth > limits.max_depth:
                raise Refused(f"archive nested deeper than {limits.max_depth} levels: not opened")
            stream = MemberStream(stack.enter_context(_open_named(current, name)), budget)
            if depth == len(chain):
                yield stream
                return
            current = _spool(stream, _Level(current, (), "", None, budget, depth, scratch))


@contextlib.contextmanager
def _open_named(container: Path, name: str) -> Iterator[Stream]:
    head = _head(container)
    if head.startswith(ZIP_MAGIC):
        with zipfile.ZipFile(container) as zf, zf.open(name) as zsrc:
            yield zsrc
    elif head.startswith(GZIP_MAGIC) and not _gz_holds_tar(container):
        with gzip.open(container, "rb") as gsrc:
            yield gsrc
    else:
        with tarfile.open(container, "r|*") as tf:
            for info in tf:
                if info.name == name:
                    tsrc = tf.extractfile(info) if info.isfile() else None
                    if tsrc is None:
                        raise KeyError(f"{name!r} is not a regular file in the archive")
                    with tsrc:
                        yield tsrc
                    return
        raise KeyError(f"no member {name!r} in the archive")
