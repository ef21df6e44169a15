"""Deleted event logs still on an NTFS volume: MFT entries no longer in use, read by their data runs.

Deleting a file on NTFS clears the in-use flag of its MFT entry and frees its clusters; the
entry keeps its name, its parent reference and its ``$DATA`` runs until reused. Walking the
MFT finds such entries whose name ends in ``.evtx``; their bytes are read through the runs the
entry still names. The clusters may since have been reused by other files: what can be parsed
is ingested, marked deleted, and whatever the parser cannot read is rejected with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from forensics.images.reader import ImageEntry, VolumeRef

IN_USE = 0x0001
DIRECTORY = 0x0002
SUFFIXES = (".evtx",)


def deleted_ntfs_entries(ref: VolumeRef, fs: Any) -> Iterator[ImageEntry]:
    """Deleted files with an event-log name on the NTFS volume ``fs``, in MFT order."""
    from dissect.ntfs.exceptions import Error as NtfsError

    from forensics.images.reader import ImageEntry, _read_errors

    mft = fs.ntfs.mft
    errors = (*_read_errors(), NtfsError, KeyError)
    for record in mft.segments():
        try:
            flags = int(record.header.Flags)
            if flags & IN_USE or flags & DIRECTORY:
                continue
            name = record.filename
            if not name or not name.lower().endswith(SUFFIXES):
                continue
            path = _path(record, name)
            size = record.size()
            mtime = _mtime(record)
        except errors:
            continue  # an entry too damaged to name or size: nothing to read from it
        yield ImageEntry(ref.name, ref.fs_type, path, int(record.segment), int(size), mtime, deleted=True)


def _path(record: Any, name: str) -> str:
    """The path the entry had, from its parent chain; the bare name when that is gone."""
    try:
        full = record.full_path()
    except (KeyError, ValueError, OSError, EOFError, AttributeError):
        full = None
    if not full:
        return f"/{name}"
    return "/" + full.replace("\\", "/").lstrip("/")


def _mtime(record: Any) -> datetime | None:
    from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

    for attr in record.attributes[ATTRIBUTE_TYPE_CODE.STANDARD_INFORMATION]:
        ts = getattr(attr, "last_modification_time", None)
        if isinstance(ts, datetime):
            return ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return None


def open_mft_entry(fs: Any, entry: int) -> BinaryIO:
    """The default data stream of MFT entry ``entry``, whether in use or not."""
    return fs.ntfs.mft.get(entry).open()  # type: ignore[no-any-return]
