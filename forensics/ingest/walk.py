"""Walk inputs: files, folders and the members of archives, hashed, in a stable order.

Only regular files are read: links inside folders are refused, FIFOs, devices and sockets are
recorded as skipped (reading one could block forever), an unreadable folder is recorded with
the reason. Archive members come from ``forensics.archives`` (its bounds apply); each is
streamed into a file of our own naming in the case's staging area while it is hashed, handed
to the runner, and deleted once parsed, so staging holds the members being parsed, never a
whole archive.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from forensics.archives import (
    DEFAULT_LIMITS,
    HEAD_BYTES,
    READ_ERRORS,
    Limits,
    Member,
    MemberStream,
    Refused,
    is_archive,
)
from forensics.archives import walk_archive as _walk_archive

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Candidate:
    """One file to ingest (or a refusal), hashed, with where it came from."""

    path: str  # as given (the outermost archive for members)
    member: str | None  # chain inside archives ("inner.zip!/x/y.evtx"), None for plain files
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
    abs_path: str | None = None  # ``path`` resolved to an absolute path, when the walk met it
    image: bool = False  # a disk image met in a folder: not hashed here, read as ``ingest IMAGE`` reads it
    indicator: bool = False  # under a folder of IOC lists / YARA rules the hunt reads: not evidence


def hash_file(path: Path) -> tuple[str, str, bytes]:
    """SHA-256, MD5 and the first bytes of a file, read once."""
    sha, md5, head, _ = _hash_stat(path)
    return sha, md5, head


def _hash_stat(path: Path) -> tuple[str, str, bytes, os.stat_result]:
    """``hash_file`` and the file's status (size, modification time), taken from the open file
    once it is read: what a ``stat`` of the path then gives, without looking the path up again."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    head = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if not head:
                head = chunk[:HEAD_BYTES]
            sha.update(chunk)
            md5.update(chunk)
        st = os.fstat(fh.fileno())
    return sha.hexdigest(), md5.hexdigest(), head, st


def _absolute(path: str) -> str:
    """``path`` made absolute with links resolved (never fails: a missing path stays as it reads)."""
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):
        return os.path.abspath(path)


def _abs_path(cand: Candidate, folders: dict[str, str]) -> str:
    """``_absolute(cand.path)``; for a file met in a folder (never a link: the walk refuses links
    there), its folder's absolute path, resolved once for all its files, joined with its name."""
    if cand.explicit or cand.member is not None or cand.refused is not None:
        return _absolute(cand.path)
    folder, name = os.path.split(cand.path)
    if not folder or name in ("", ".", ".."):
        return _absolute(cand.path)
    if folder not in folders:
        folders[folder] = _absolute(folder)
    return os.path.join(folders[folder], name)


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except OSError:
        return None


def walk(
    paths: list[Path], scratch: Path, limits: Limits = DEFAULT_LIMITS, aside: Sequence[Path] = ()
) -> Iterator[Candidate]:
    """Every file under ``paths`` (folders walked in sorted order, archives opened).

    A disk image met in a folder (E01/Ex01, VMDK, VHD/VHDX, qcow2, raw: ``images.detect``) is
    yielded unhashed with ``image`` set, for the images path; its other files (EWF's later
    segments, the acquisition log beside it) are its own, not walked. Files at or under an
    ``aside`` path met inside a folder (a hunt's IOC folder) are hashed and yielded with
    ``indicator`` set, archives among them unopened; an ``aside`` path named itself is evidence.
    """
    counter = iter(range(1 << 62))
    covered: set[Path] = set()
    folders: dict[str, str] = {}  # a folder's absolute path, resolved once for all its files
    keys = _file_keys(aside)
    for p in paths:
        for cand in _walk_one(
            p, str(p), scratch, counter, limits, explicit=True, covered=covered, aside=keys
        ):
            yield replace(cand, root=p, abs_path=_abs_path(cand, folders))


def _file_keys(paths: Sequence[Path]) -> frozenset[tuple[int, int]]:
    """(device, inode) of each path: the same file however its path is spelt, at no cost per file."""
    keys = set()
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        keys.add((st.st_dev, st.st_ino))
    return frozenset(keys)


_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def special_kind(mode: int) -> str | None:
    """What a file that is not a regular file, folder or link is (reading it could block forever)."""
    for test, what in _KINDS:
        if test(mode):
            return what
    return None


def _walk_one(
    p: Path, given: str, scratch: Path, counter: Iterator[int], limits: Limits, explicit: bool,
    covered: set[Path], aside: frozenset[tuple[int, int]] = frozenset(), indicator: bool = False,
) -> Iterator[Candidate]:  # fmt: skip
    try:
        st = p.lstat()
    except FileNotFoundError:
        yield _refusal(given, None, "no such file", explicit=explicit)
        return
    except OSError as exc:
        yield _refusal(given, None, f"unreadable: {exc.strerror or exc}", explicit=explicit)
        return
    if stat.S_ISLNK(st.st_mode) and not explicit:
        yield _refusal(given, None, "symbolic link inside a folder: not followed")
        return
    if stat.S_ISLNK(st.st_mode):  # a link the user named is followed to what it names
        try:
            st = p.stat()
        except OSError as exc:
            yield _refusal(given, None, f"unreadable: {exc.strerror or exc}", explicit=explicit)
            return
    indicator = indicator or (not explicit and (st.st_dev, st.st_ino) in aside)
    if stat.S_ISDIR(st.st_mode):
        try:
            children = sorted(p.iterdir(), key=lambda c: c.name)
        except OSError as exc:
            yield _refusal(given, None, f"unreadable folder: {exc.strerror or exc}", explicit=explicit)
            return
        if not indicator:
            covered.update(_vmdk_extents(children))  # parts of a VMDK met in this folder, in any order
        for child in children:
            if child in covered:  # a later segment, an extent or the acquisition log of an image
                continue
            yield from _walk_one(
                child, str(child), scratch, counter, limits, explicit=False, covered=covered, aside=aside,
                indicator=indicator,
            )  # fmt: skip
        return
    special = special_kind(st.st_mode)
    if special is not None:
        yield _refusal(given, None, f"skipped: {special}, not a regular file: not read", explicit=explicit)
        return
    if (
        not explicit and not indicator and _disk_image(p, covered)
    ):  # named ones go to the images path before the walk
        yield Candidate(given, None, p, st.st_size, None, None, b"", _mtime(p), False, image=True)
        return
    try:
        sha, md5, head, st = _hash_stat(p)
    except OSError as exc:
        yield _refusal(given, None, f"unreadable: {exc.strerror or exc}", explicit=explicit)
        return
    mtime = datetime.fromtimestamp(st.st_mtime, tz=UTC)
    cand = Candidate(given, None, p, st.st_size, sha, md5, head, mtime, explicit, indicator=indicator)
    if is_archive(head) and not indicator:
        yield from _archive(cand, scratch, counter, limits)
    else:
        yield cand


def _vmdk_extents(children: list[Path]) -> set[Path]:
    from forensics.images.reader import folder_extents

    return folder_extents(children)


def _disk_image(p: Path, covered: set[Path]) -> bool:
    """True when ``p`` is a disk image; its segments and acquisition logs are then ``covered``."""
    from forensics.images.detect import image_kind
    from forensics.images.reader import image_segments

    if image_kind(p) is None:
        return False
    # named as the folder's children are (find_files answers with absolute paths: a folder given
    # as a relative path would walk each later segment as an image of its own)
    covered.update(p.parent / s.name for s in image_segments(p))
    # the acquisition's log beside it (``x.E01.txt``; ``x.txt`` for an E01 or raw image): read by
    # the image's verification for the acquisition hashes, not a log of the system
    names = {f"{p.name}.txt", f"{p.name}.log"}
    if p.suffix.lower() in (".e01", ".ex01", ".001", ".dd", ".raw"):
        names |= {f"{p.stem}.txt", f"{p.stem}.log"}
    covered.update(
        p.parent / n for n in names if (p.parent / n).is_file() and (p.parent / n).stat().st_size <= 1 << 20
    )
    return True


def _refusal(path: str, member: str | None, reason: str, explicit: bool = False) -> Candidate:
    return Candidate(path, member, None, 0, None, None, b"", None, explicit, refused=reason)


def _archive(arc: Candidate, scratch: Path, counter: Iterator[int], limits: Limits) -> Iterator[Candidate]:
    """The members of an archive, each hashed into scratch as the walk reaches it."""
    assert arc.local is not None
    for member, stream in _walk_archive(arc.local, limits=limits, scratch=scratch):
        name = member.name or None  # an empty chain: the archive itself (damaged)
        if stream is None:
            yield _refusal(arc.path, name, member.refused or "refused")
            continue
        yield _copy_member(stream, arc, member, scratch, counter)


def _copy_member(
    stream: MemberStream, arc: Candidate, member: Member, scratch: Path, counter: Iterator[int]
) -> Candidate:
    """Stream one member into scratch while hashing it; a bound crossed mid-way refuses it."""
    scratch.mkdir(parents=True, exist_ok=True)
    dest = scratch / f"member-{next(counter):08d}"
    sha, md5 = hashlib.sha256(), hashlib.md5()
    total = 0
    try:
        with open(dest, "wb") as out:
            while chunk := stream.read(CHUNK):
                total += len(chunk)
                sha.update(chunk)
                md5.update(chunk)
                out.write(chunk)
    except Refused as exc:
        dest.unlink(missing_ok=True)
        return _refusal(arc.path, member.name, str(exc))
    except READ_ERRORS as exc:
        dest.unlink(missing_ok=True)
        return _refusal(arc.path, member.name, f"unreadable archive member: {exc}")
    return Candidate(
        arc.path, member.name, dest, total, sha.hexdigest(), md5.hexdigest(), stream.head[:HEAD_BYTES],
        member.mtime, False, extracted=True, host_hint=member.host_hint,
    )  # fmt: skip


def remove_scratch(c: Candidate) -> None:
    """Delete our extracted copy of a member once it is parsed."""
    if c.extracted and c.local is not None:
        c.local.unlink(missing_ok=True)
