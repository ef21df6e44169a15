"""Copy one member of an image back out: the file itself, or a member of an archive in it.

A member string is ``<volume>:<path>`` (or ``<volume>:mft#<entry>:<path>`` for a deleted NTFS
file), followed by ``!/<name>`` for each archive level inside it (``p2:/var/log/syslog.2.gz!/syslog.2``).
Used by the batch to re-read a listed file and by ``raw.py`` to re-extract a record.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from forensics.images.reader import Copied, ImageError, OpenImage, copy_out, parse_member

MEMBER_SEP = "!/"


def materialise_member(img: OpenImage, member: str, dest: Path) -> Copied | None:
    """Write the bytes of ``member`` to ``dest``; the copy's hashes for a file (None for an archive member)."""
    first, *inner = member.split(MEMBER_SEP)
    parse_member(first)  # checks the form before touching the image
    with img.open(first) as fh:
        size = _entry_size(img, first, fh)
        if not inner:
            return copy_out(fh, size, dest)
        with tempfile.TemporaryDirectory(prefix="forensics-img-", dir=dest.parent) as tmp:
            current = Path(tmp) / "outer"
            copy_out(fh, size, current)
            from forensics.archives import MEMBER_ERRORS, open_member

            inner_copy = Path(tmp) / "inner"
            try:  # the archive module's walk, with its bounds, as ingest read it the first time
                with open_member(current, inner) as src, inner_copy.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            except MEMBER_ERRORS as exc:
                raise ImageError(f"cannot read {member!r} in {img.path}: {exc}") from exc
            inner_copy.replace(dest)
    return None


def _entry_size(img: OpenImage, first: str, fh: object) -> int:
    """Size of the file behind ``first``: the stream's own size, else its stat."""
    size = getattr(fh, "size", None)
    if isinstance(size, int):
        return size
    volume, entry, path = parse_member(first)
    _, fs = img.volume(volume)
    if entry is not None:
        return int(fs.ntfs.mft.get(entry).size())
    return int(fs.get(path).stat().st_size)


def is_image_member(member: str | None) -> bool:
    """True when ``member`` names a file inside a disk image (not an archive member)."""
    if not member:
        return False
    try:
        parse_member(member.split(MEMBER_SEP)[0])
    except ImageError:
        return False
    return True


@contextlib.contextmanager
def image_member(path: Path, member: str) -> Iterator[Path]:
    """A temporary local copy of ``member`` of the image at ``path``."""
    with tempfile.TemporaryDirectory(prefix="forensics-raw-") as tmp, OpenImage(path) as img:
        dest = Path(tmp) / "member"
        materialise_member(img, member, dest)
        yield dest
