"""Open a disk image read-only through dissect and list, read and copy out the logs on it.

dissect.target's loaders and containers open the image (EWF, VMDK, VHD/VHDX, qcow2, raw, and
collections such as KAPE's VHDX or a Velociraptor zip), its volume systems find the
partitions and its file system implementations (NTFS, FAT, ext2/3/4, XFS, btrfs, ...) read
them. All of it is pure Python reading the image file: nothing is mounted and the image is
opened for reading only. OS detection is not run: the host name and zone come from
``forensics.images.context``, per volume.

An input found in an image is named by its *member* string: ``<volume>:<path>`` for a file
reached by its path (``p2:/var/log/auth.log``), ``<volume>:mft#<entry>:<path>`` for a
deleted NTFS file reached by its MFT entry. ``raw.py`` reopens a member from that string.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from forensics.errors import ForensicsError

# where the logs this project parses live on a system volume (matched case-insensitively)
DEFAULT_LOCATIONS: tuple[str, ...] = ("Windows/System32/winevt/Logs", "var/log")
READ = 1024 * 1024
SMALL_READ = 4096  # after a read error, the range is retried in pieces this size
HEAD_BYTES = 65536
MAX_DEPTH = 12  # folders below a location

_MEMBER = re.compile(r"^(?P<vol>[A-Za-z0-9_.-]+):(?:mft#(?P<entry>\d+):)?(?P<path>/.*)$")


class ImageError(ForensicsError):
    """The image cannot be opened, or a member of it cannot be found."""


def read_errors(*more: type[BaseException]) -> tuple[type[BaseException], ...]:
    """``_read_errors()`` and ``more``, as one tuple for an ``except`` clause."""
    return (*_read_errors(), *more)


def _read_errors() -> tuple[type[BaseException], ...]:
    """Exceptions a damaged image raises on read: corrupt EWF chunks, truncated segments."""
    from dissect.evidence.exception import Error as EvidenceError
    from dissect.util.exceptions import Error as UtilError

    return (OSError, EOFError, zlib.error, struct.error, ValueError, EvidenceError, UtilError)


@dataclass(frozen=True)
class VolumeRef:
    """A volume of the image holding a file system."""

    name: str  # "p1" (partition number), or "fs0" for a file system without a partition
    offset: int | None  # byte offset in the disk
    size: int | None
    fs_type: str  # dissect's name: ntfs, fat, ext, xfs, ...
    label: str | None


@dataclass(frozen=True)
class ImageEntry:
    """A file in a volume of the image (a live path, or a deleted NTFS entry)."""

    volume: str
    fs_type: str
    path: str  # "/Windows/System32/winevt/Logs/Security.evtx" as the file system spells it
    inode: int | None  # inode number or NTFS MFT entry
    size: int
    mtime: datetime | None
    deleted: bool = False

    @property
    def member(self) -> str:
        """The name of this file inside the image, as inputs and events record it."""
        if self.deleted:
            return f"{self.volume}:mft#{self.inode}:{self.path}"
        return f"{self.volume}:{self.path}"


@dataclass(frozen=True)
class Copied:
    """A file copied out of the image: its hashes and the ranges that could not be read."""

    size: int
    sha256: str
    md5: str
    head: bytes
    bad_ranges: tuple[tuple[int, int], ...]  # (offset, length) zero-filled because unreadable


def parse_member(member: str) -> tuple[str, int | None, str]:
    """``(volume, MFT entry or None, path)`` of a member string."""
    m = _MEMBER.match(member)
    if m is None:
        raise ImageError(f"not an image member name: {member!r}")
    entry = m.group("entry")
    return m.group("vol"), int(entry) if entry else None, m.group("path")


def _quiet_dissect() -> None:
    # dissect logs every loader and plugin it tries; the ingest reports what matters itself
    for name in ("dissect", "dissect.target", "dissect.evidence", "dissect.ntfs"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class OpenImage:
    """An image opened read-only: its volumes with file systems, and their files."""

    def __init__(self, path: Path) -> None:
        from dissect.target.exceptions import TargetError

        _quiet_dissect()
        self.path = path
        try:
            target = _open_target(path)
            target.disks.apply()
            target.volumes.apply()
            target.filesystems.apply()
        except (TargetError, *_read_errors()) as exc:
            raise ImageError(f"cannot open image {path}: {exc}") from exc
        self.target = target
        self.volumes: list[tuple[VolumeRef, Any]] = []
        names: set[str] = set()
        for i, fs in enumerate(target.filesystems):
            vol = getattr(fs, "volume", None)
            if isinstance(vol, list):  # btrfs spans devices: named by its first
                vol = vol[0] if vol else None
            number = getattr(vol, "number", None)
            name = (
                f"p{number}" if isinstance(number, int) and getattr(vol, "vs", None) is not None else f"fs{i}"
            )
            if name in names:
                name = f"fs{i}"
            names.add(name)
            ref = VolumeRef(
                name, getattr(vol, "offset", None), getattr(vol, "size", None),
                str(getattr(fs, "__type__", "unknown")), _label(fs),
            )  # fmt: skip
            self.volumes.append((ref, fs))

    def __enter__(self) -> OpenImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the image's file handles."""
        with contextlib.suppress(*_read_errors(), AttributeError):
            for disk in self.target.disks:
                disk.close()
                # dissect's containers open the image files themselves (EWF: every segment; raw,
                # VMDK, VHD, VHDX, qcow2: the file) and their close() leaves them open
                _close_files(disk)

    @property
    def size(self) -> int:
        """Bytes of media the image holds (the disk as acquired)."""
        return sum(int(getattr(d, "size", 0) or 0) for d in self.target.disks)

    def volume(self, name: str) -> tuple[VolumeRef, Any]:
        """The volume called ``name``."""
        for ref, fs in self.volumes:
            if ref.name == name:
                return ref, fs
        raise ImageError(f"{self.path} has no volume {name!r} (has {[r.name for r, _ in self.volumes]})")

    def entries(
        self, locations: Sequence[str] = DEFAULT_LOCATIONS, *, deleted: bool = True
    ) -> Iterator[ImageEntry]:
        """Regular files under ``locations`` of every volume, then deleted NTFS event logs."""
        for ref, fs in self.volumes:
            seen: set[str] = set()
            for loc in (f"{root}/{loc}" for root in drive_roots(fs) for loc in locations):
                folder = resolve_ci(fs, loc)
                if folder is not None and folder.lower() not in seen:
                    seen.add(folder.lower())
                    yield from _walk(ref, fs, folder, 0)
            if deleted and ref.fs_type == "ntfs":
                from forensics.images.deleted import deleted_ntfs_entries

                yield from deleted_ntfs_entries(ref, fs)

    def open(self, entry: ImageEntry | str) -> BinaryIO:
        """A read-only stream of a file in the image, by entry or member string."""
        volume, inode, path = (
            parse_member(entry)
            if isinstance(entry, str)
            else (entry.volume, entry.inode if entry.deleted else None, entry.path)
        )
        ref, fs = self.volume(volume)
        if (
            inode is None
            and ref.fs_type == "ntfs"
            and isinstance(entry, ImageEntry)
            and entry.inode is not None
        ):
            # the MFT entry the listing just read: a path lookup walks every index from the root again
            inode = entry.inode
        try:
            if inode is not None:
                from forensics.images.deleted import open_mft_entry

                return open_mft_entry(fs, inode)
            return fs.get(path).open()  # type: ignore[no-any-return]
        except read_errors(KeyError) as exc:
            raise ImageError(f"cannot open {volume}:{path} in {self.path}: {exc}") from exc


_HOLDERS = ("fh", "ewf", "_segments", "vhdx", "vhd", "qcow2", "vmdk", "disks", "extents")


def _close_files(obj: Any, depth: int = 0) -> None:
    """Close the OS files reachable from a dissect container through the attributes that hold them."""
    if obj is None or depth > 4:
        return
    if isinstance(obj, io.BufferedReader | io.FileIO):
        obj.close()
        return
    items = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list | tuple) else None
    if items is not None:
        for item in items:
            _close_files(item, depth + 1)
        return
    for name in _HOLDERS:
        _close_files(getattr(obj, name, None), depth + 1)


def _open_target(path: Path) -> Any:
    """A dissect Target over the image, its disks mapped but nothing applied yet."""
    from dissect.target import Target

    from forensics.images.detect import image_kind

    if image_kind(path) != "ex01":
        return Target.open(path, apply=False)
    # EWF2: dissect.evidence reads EWF1 only; libewf reads the media and dissect the rest
    from dissect.target.containers.raw import RawContainer

    from forensics.images.ewf2 import Ex01Stream

    target = Target(path)
    target.disks.add(RawContainer(Ex01Stream(path)))
    return target


def _label(fs: Any) -> str | None:
    for attr in ("volume_name", "label"):
        with contextlib.suppress(*_read_errors(), AttributeError, NotImplementedError):
            value = getattr(fs, attr, None)
            if isinstance(value, str) and value:
                return value
    return None


_DRIVE = re.compile(r"[A-Za-z](?::|%3A)?", re.I)


def drive_roots(fs: Any) -> list[str]:
    """Where a system's tree starts on ``fs``: its root, then drive-letter folders at the top.

    Triage containers keep each collected drive in a folder named after it (KAPE's VHDX and
    VHD output: ``C/Windows/...``; Velociraptor's uploads: ``C%3A/Windows/...``).
    """
    try:
        names = sorted(fs.get("/").listdir())
    except read_errors(KeyError, NotADirectoryError):
        return [""]
    return ["", *(f"/{n}" for n in names if _DRIVE.fullmatch(n))]


def resolve_ci(fs: Any, path: str) -> str | None:
    """``path`` on ``fs`` matched one folder at a time without regard to case, or None."""
    here = "/"
    for part in filter(None, path.split("/")):
        try:
            names = fs.get(here).listdir()
        except read_errors(KeyError, NotADirectoryError):
            return None
        match = next((n for n in sorted(names) if n.lower() == part.lower()), None)
        if match is None:
            return None
        here = f"{here.rstrip('/')}/{match}"
    return here


def _walk(ref: VolumeRef, fs: Any, folder: str, depth: int) -> Iterator[ImageEntry]:
    """Regular files below ``folder``, sorted by name; links are not followed."""
    if depth > MAX_DEPTH:
        return
    try:
        items = sorted(fs.get(folder).scandir(), key=lambda e: e.name)
    except read_errors(KeyError, NotADirectoryError):
        return
    for item in items:
        path = f"{folder.rstrip('/')}/{item.name}"
        if item.is_symlink():
            continue
        if item.is_dir():
            yield from _walk(ref, fs, path, depth + 1)
        elif item.is_file():
            st = item.stat()
            yield ImageEntry(
                ref.name,
                ref.fs_type,
                path,
                int(st.st_ino) if st.st_ino else None,
                int(st.st_size),
                _ts(st.st_mtime),
            )


def _ts(value: float | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def copy_out(src: BinaryIO, size: int, dest: Path) -> Copied:
    """Copy ``size`` bytes of ``src`` to ``dest`` while hashing; unreadable ranges become zeros.

    A read that fails is retried in ``SMALL_READ`` pieces so one bad chunk of a damaged image
    costs only its own bytes; each zero-filled range is returned for the manifest.
    """
    sha, md5 = hashlib.sha256(), hashlib.md5()
    head = b""
    bad: list[tuple[int, int]] = []
    pos = 0
    errors = _read_errors()
    with dest.open("wb") as out:
        while pos < size:
            want = min(READ, size - pos)
            try:
                src.seek(pos)
                block = src.read(want)
            except errors:
                block = _salvage(src, pos, want, bad, errors)
            if not block:  # the stream ends before its stated size: the rest is missing
                bad.append((pos, size - pos))
                block = b"\0" * (size - pos)
            if not head:
                head = block[:HEAD_BYTES]
            sha.update(block)
            md5.update(block)
            out.write(block)
            pos += len(block)
    return Copied(pos, sha.hexdigest(), md5.hexdigest(), head, tuple(_merge(bad)))


def read_head(src: BinaryIO, size: int) -> tuple[bytes, bool]:
    """The first bytes of a file for sniffing, and whether part of them could not be read (zeros there)."""
    want = min(HEAD_BYTES, size)
    try:
        src.seek(0)
        return src.read(want), False
    except _read_errors():
        bad: list[tuple[int, int]] = []
        return _salvage(src, 0, want, bad, _read_errors()), bool(bad)


def _salvage(
    src: BinaryIO, pos: int, want: int, bad: list[tuple[int, int]], errors: tuple[type[BaseException], ...]
) -> bytes:
    parts = []
    for off in range(pos, pos + want, SMALL_READ):
        n = min(SMALL_READ, pos + want - off)
        try:
            src.seek(off)
            piece = src.read(n)
        except errors:
            piece = b""
        if len(piece) < n:
            bad.append((off + len(piece), n - len(piece)))
            piece += b"\0" * (n - len(piece))
        parts.append(piece)
    return b"".join(parts)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for off, n in sorted(ranges):
        if out and out[-1][0] + out[-1][1] >= off:
            start = out[-1][0]
            out[-1] = (start, max(out[-1][0] + out[-1][1], off + n) - start)
        else:
            out.append((off, n))
    return out


def image_segments(path: Path) -> list[Path]:
    """The files an image consists of: every EWF segment (``.E01``, ``.E02``, ...), a VMDK text
    descriptor and the extent files it names (``x-flat.vmdk``, ``x-s001.vmdk``, ...), or the file itself."""
    if re.fullmatch(r"\.[ELS][0-9A-Z]{2}|\.[ELS]x[0-9A-Z]{2}", path.suffix, re.I):
        from dissect.evidence.ewf import find_files

        with contextlib.suppress(*_read_errors()):
            found = find_files(path)
            if found:
                return [Path(p) for p in found]
    extents = vmdk_extents(path)
    return [path, *(e for e in extents if e.is_file())] if extents else [path]


VMDK_DESCRIPTOR = b"# Disk DescriptorFile"
DESCRIPTOR_MAX = 1 << 20  # a text descriptor is a few hundred bytes; a sparse extent is far larger
# an extent line: access, size in sectors, type, "file name" (relative to the descriptor)
_EXTENT = re.compile(rb'^[ \t]*(?:RW|RDONLY|NOACCESS)[ \t]+\d+[ \t]+[A-Z]+[ \t]+"([^"\r\n]+)"', re.M)


def vmdk_extents(descriptor: Path) -> list[Path]:
    """The extent files a VMDK text descriptor names, beside it, in its order ([] for other files).

    Names with a folder in them are left out: extents lie beside their descriptor, and a
    descriptor (evidence) never points the walk elsewhere.
    """
    try:
        if descriptor.suffix.lower() != ".vmdk" or descriptor.stat().st_size > DESCRIPTOR_MAX:
            return []
        with descriptor.open("rb") as fh:
            head = fh.read(DESCRIPTOR_MAX)
    except OSError:
        return []
    if not head.lstrip().startswith(VMDK_DESCRIPTOR):
        return []
    names = [m.decode("utf-8", "replace") for m in _EXTENT.findall(head)]
    return [descriptor.parent / n for n in names if "/" not in n and "\\" not in n and n not in (".", "..")]


def folder_extents(files: Sequence[Path]) -> set[Path]:
    """The VMDK extent files the descriptors among ``files`` name: parts of those images, never
    images or inputs of their own (a sparse extent would otherwise read as a VMDK by itself)."""
    return {e for f in files if f.suffix.lower() == ".vmdk" for e in vmdk_extents(f)}
