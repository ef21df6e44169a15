"""Walk inputs: files, folders and archives (zip, tar, tar.gz, gz), safely.

Archives are evidence handed over by others and may be hostile. Members are never extracted
by name: each is streamed into a file of our own naming inside the case's staging area while
it is hashed, and refused (with a reason recorded in the manifest) when it is a link, has an
absolute or parent-escaping path, is too large, expands too far beyond its compressed size, or
sits deeper in nested archives than ``MAX_DEPTH``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

HEAD_BYTES = 65536
MAX_DEPTH = 4  # archives inside archives
MAX_MEMBER_BYTES = 8 * 1024**3
MAX_RATIO = 200  # uncompressed / compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 16 * 1024**2
MAX_TOTAL_BYTES = 256 * 1024**3
CHUNK = 1024 * 1024

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Candidate:
    """One file to ingest (or a refusal), hashed, with where it came from."""

    path: str  # as given (the outermost archive for members)
    member: str | None  # "a.zip!/x/y.evtx" style chain inside archives, None for plain files
    local: Path | None  # bytes on disk (original file, or our extracted copy)
    size: int
    sha256: str | None
    md5: str | None
    head: bytes
    mtime: datetime | None
    explicit: bool  # named by the user rather than found by walking
    refused: str | None = None  # reason when refused (hostile or unreadable)
    extracted: bool = False  # local is a copy we made (delete after parsing)
    root: Path | None = None  # the path the user named that this file was found under
    host_hint: str | None = None  # host the collection (archive) names, see collection_host()


class _Budget:
    """Total bytes extracted in one run, to stop a bomb spread over many members."""

    def __init__(self) -> None:
        self.used = 0


def hash_file(path: Path) -> tuple[str, str, bytes]:
    """SHA-256, MD5 and the first bytes of a file, read once."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    head = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if not head:
                head = chunk[:HEAD_BYTES]
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest(), head


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except OSError:
        return None


def walk(paths: list[Path], scratch: Path) -> Iterator[Candidate]:
    """Every file under ``paths`` (folders walked in sorted order, archives opened)."""
    budget = _Budget()
    counter = iter(range(1 << 62))
    for p in paths:
        for cand in _walk_one(p, str(p), scratch, budget, counter, explicit=True):
            yield replace(cand, root=p)


def _walk_one(
    p: Path, given: str, scratch: Path, budget: _Budget, counter: Iterator[int], explicit: bool
) -> Iterator[Candidate]:
    if p.is_symlink() and not explicit:
        yield _refusal(given, None, "symbolic link inside a folder: not followed")
        return
    if p.is_dir():
        for child in sorted(p.iterdir(), key=lambda c: c.name):
            yield from _walk_one(child, str(child), scratch, budget, counter, explicit=False)
        return
    if not p.exists():
        yield _refusal(given, None, "no such file", explicit=explicit)
        return
    try:
        sha, md5, head = hash_file(p)
        size = p.stat().st_size
    except OSError as exc:
        yield _refusal(given, None, f"unreadable: {exc.strerror or exc}", explicit=explicit)
        return
    cand = Candidate(given, None, p, size, sha, md5, head, _mtime(p), explicit)
    if is_archive(head):
        yield from _archive(cand, scratch, budget, counter, depth=1)
    else:
        yield cand


def is_archive(head: bytes) -> bool:
    """Zip, tar (ustar magic) or gzip."""
    return head.startswith(ZIP_MAGIC) or head.startswith(GZIP_MAGIC) or head[257:262] == b"ustar"


def _refusal(path: str, member: str | None, reason: str, explicit: bool = False) -> Candidate:
    return Candidate(path, member, None, 0, None, None, b"", None, explicit, refused=reason)


def _archive(
    arc: Candidate, scratch: Path, budget: _Budget, counter: Iterator[int], depth: int
) -> Iterator[Candidate]:
    """Members of an archive, recursing into nested archives."""
    if depth > MAX_DEPTH:
        yield _refusal(arc.path, arc.member, f"archive nested deeper than {MAX_DEPTH} levels: not opened")
        return
    assert arc.local is not None
    try:
        if arc.head.startswith(ZIP_MAGIC):
            members = list(_zip_members(arc, scratch, budget, counter))
        elif arc.head.startswith(GZIP_MAGIC) and not _is_tar_gz(arc.local):
            members = list(_gz_member(arc, scratch, budget, counter))
        else:
            members = list(_tar_members(arc, scratch, budget, counter))
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, ValueError) as exc:
        yield Candidate(**{**arc.__dict__, "refused": f"damaged archive: {exc}"})
        return
    for m in members:
        if m.refused is None and m.local is not None and is_archive(m.head):
            yield from _archive(m, scratch, budget, counter, depth + 1)
            m.local.unlink(missing_ok=True)
        else:
            yield m


def _is_tar_gz(path: Path) -> bool:
    try:
        with gzip.open(path, "rb") as fh:
            block = fh.read(512)
        return block[257:262] == b"ustar"
    except (OSError, EOFError):
        return False


def _member_name(arc: Candidate, name: str) -> str:
    return f"{arc.member}!/{name}" if arc.member else name


_UAC_NAME = re.compile(
    r"^uac-(?P<host>[A-Za-z0-9_.]+(?:-[A-Za-z0-9_.]+)*?)-(?:linux|aix|freebsd|macos|netbsd|netscaler|openbsd|solaris|esxi|android)-\d{8,14}",
    re.I,
)


def _uac_host(arc: Candidate) -> str | None:
    """UAC names its output ``uac-<hostname>-<os>-<timestamp>.tar.gz``."""
    m = _UAC_NAME.match(Path(arc.member or arc.path).name)
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


def _unsafe_name(name: str) -> str | None:
    """Why a member name is refused, or None when it is safe to report as a path."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "absolute path in archive"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        return "path traversal ('..') in archive"
    return None


def _copy_member(
    src: IO[bytes] | gzip.GzipFile, arc: Candidate, name: str, declared: int, packed: int | None,
    scratch: Path, budget: _Budget, counter: Iterator[int], mtime: datetime | None,
) -> Candidate:  # fmt: skip
    """Stream one member into scratch while hashing it, enforcing the size limits."""
    member = _member_name(arc, name)
    scratch.mkdir(parents=True, exist_ok=True)
    dest = scratch / f"member-{next(counter):08d}"
    sha, md5 = hashlib.sha256(), hashlib.md5()
    head = b""
    total = 0
    limit = MAX_MEMBER_BYTES
    if packed is not None and packed > 0:
        limit = min(limit, max(RATIO_FLOOR, packed * MAX_RATIO))
    with open(dest, "wb") as out:
        while chunk := src.read(CHUNK):
            total += len(chunk)
            budget.used += len(chunk)
            if total > limit or budget.used > MAX_TOTAL_BYTES:
                out.close()
                dest.unlink(missing_ok=True)
                why = (
                    f"expands beyond {limit} bytes (compressed {packed}): refused as a decompression bomb"
                    if total > limit
                    else "total extracted size limit reached: refused"
                )
                return _refusal(arc.path, member, why)
            if not head:
                head = chunk[:HEAD_BYTES]
            sha.update(chunk)
            md5.update(chunk)
            out.write(chunk)
    return Candidate(
        arc.path, member, dest, total, sha.hexdigest(), md5.hexdigest(), head, mtime, False, extracted=True
    )


def _zip_members(
    arc: Candidate, scratch: Path, budget: _Budget, counter: Iterator[int]
) -> Iterator[Candidate]:
    assert arc.local is not None
    with zipfile.ZipFile(arc.local) as zf:
        seen: set[str] = set()
        hint = arc.host_hint or _velociraptor_host(zf) or _uac_host(arc)
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            name = info.filename
            if info.is_dir():
                continue
            member = _member_name(arc, name)
            why = _unsafe_name(name)
            mode = info.external_attr >> 16
            if why is None and stat.S_ISLNK(mode):
                why = "symbolic link in archive: not followed"
            if why is None and name in seen:
                why = "duplicate member name in archive"
            seen.add(name)
            if why is None and info.file_size > MAX_MEMBER_BYTES:
                why = f"declared size {info.file_size} over the member limit"
            if why:
                yield _refusal(arc.path, member, why)
                continue
            mtime = datetime(*info.date_time, tzinfo=UTC) if info.date_time[0] >= 1980 else None
            try:
                with zf.open(info) as src:
                    cand = _copy_member(
                        src, arc, name, info.file_size, info.compress_size, scratch, budget, counter, mtime
                    )
                    yield replace(cand, host_hint=hint)
            except (zipfile.BadZipFile, RuntimeError, OSError, EOFError, NotImplementedError) as exc:
                yield _refusal(arc.path, member, f"unreadable archive member: {exc}")


def _tar_members(
    arc: Candidate, scratch: Path, budget: _Budget, counter: Iterator[int]
) -> Iterator[Candidate]:
    assert arc.local is not None
    packed_total = arc.size
    with tarfile.open(arc.local, "r:*") as tf:
        infos = sorted(tf.getmembers(), key=lambda i: i.name)
        for info in infos:
            if info.isdir():
                continue
            member = _member_name(arc, info.name)
            why = _unsafe_name(info.name)
            if why is None and (info.issym() or info.islnk()):
                why = "link in archive: not followed"
            if why is None and not info.isfile():
                why = "special file in archive (device, fifo): skipped"
            if why:
                yield _refusal(arc.path, member, why)
                continue
            src = tf.extractfile(info)
            if src is None:
                yield _refusal(arc.path, member, "unreadable archive member")
                continue
            mtime = datetime.fromtimestamp(info.mtime, tz=UTC) if info.mtime else None
            with src:
                cand = _copy_member(
                    src, arc, info.name, info.size, packed_total, scratch, budget, counter, mtime
                )
                yield replace(cand, host_hint=arc.host_hint or _uac_host(arc))


def _gz_member(arc: Candidate, scratch: Path, budget: _Budget, counter: Iterator[int]) -> Iterator[Candidate]:
    assert arc.local is not None
    name = Path(arc.member or arc.path).name
    name = name[:-3] if name.endswith(".gz") else name + ".out"
    with gzip.open(arc.local, "rb") as src:
        yield _copy_member(src, arc, name, -1, arc.size, scratch, budget, counter, arc.mtime)


def remove_scratch(c: Candidate) -> None:
    """Delete our extracted copy of a member once it is parsed."""
    if c.extracted and c.local is not None:
        c.local.unlink(missing_ok=True)
