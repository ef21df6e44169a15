"""Is this file a disk image, and of which kind? Decided from its bytes, the name only for raw.

Container formats carry a magic number (EWF ``EVF``, VMDK ``KDMV`` or a descriptor, VHDX
``vhdxfile``, qcow2 ``QFI\\xfb``, VHD's ``conectix`` footer). A raw (``dd``) image has none of
its own: it is one when it starts with a partition table or a file system's boot block and
its name says image (``.dd``, ``.raw``, ``.img``, ``.001``, ``.bin``), or it is large and
starts with a valid MBR or GPT.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO, Literal

ImageKind = Literal["ewf", "ex01", "vmdk", "vhd", "vhdx", "qcow2", "raw"]
HEAD = 4096
RAW_SUFFIXES = frozenset({".dd", ".raw", ".img", ".001", ".bin", ".ima", ".dsk"})
_BIG = 1 << 20  # a raw image without an image-like name must at least be this big


def image_kind(path: Path, head: bytes | None = None) -> ImageKind | None:
    """The kind of disk image at ``path``, or None when it is not one."""
    try:  # one open for the head, the size and the footer
        with path.open("rb") as fh:
            if head is None:
                head = fh.read(HEAD)
            size = os.fstat(fh.fileno()).st_size
            kind = _container(head)
            if kind is not None:
                return kind
            if size >= 512 and _vhd_footer(fh, size):
                return "vhd"
    except OSError:
        return None
    named = path.suffix.lower() in RAW_SUFFIXES
    if (
        size % 512 == 0
        and size >= 64 * 1024
        and _raw_layout(head)
        and (named or (size >= _BIG and _partition_table(head)))
    ):
        return "raw"
    return None


def _container(head: bytes) -> ImageKind | None:
    if head.startswith((b"EVF\x09\x0d\x0a\xff\x00", b"LVF\x09\x0d\x0a\xff\x00")):
        return "ewf"
    if head.startswith((b"EVF2\r\n\x81\x00", b"LEF2\r\n\x81\x00")):
        return "ex01"
    if head.startswith((b"KDMV", b"COWD")) or head.lstrip().startswith(b"# Disk DescriptorFile"):
        return "vmdk"
    if head.startswith(b"vhdxfile"):
        return "vhdx"
    if head.startswith(b"QFI\xfb"):
        return "qcow2"
    if head.startswith(b"conectix"):  # a dynamic VHD starts with a copy of its footer
        return "vhd"
    return None


def _vhd_footer(fh: BinaryIO, size: int) -> bool:
    fh.seek(size - 512)
    return fh.read(8) == b"conectix"


def _partition_table(head: bytes) -> bool:
    """A GPT header, or an MBR whose partition entries are sane."""
    if head[512:520] == b"EFI PART":
        return True
    if len(head) < 512 or head[510:512] != b"\x55\xaa":
        return False
    used = 0
    for i in range(4):
        status, kind, start, count = struct.unpack_from("<B3xB3xII", head, 446 + 16 * i)
        if status not in (0x00, 0x80):
            return False
        if kind:
            if start == 0 or count == 0:
                return False
            used += 1
    return used > 0


def _raw_layout(head: bytes) -> bool:
    """A partition table or a file system boot block at the start."""
    if _partition_table(head):
        return True
    if head[3:11] == b"NTFS    " or head[82:90] == b"FAT32   " or head[54:62] in (b"FAT12   ", b"FAT16   "):
        return True
    if head[:4] == b"XFSB":
        return True
    return len(head) >= 1082 and head[1080:1082] == b"\x53\xef"  # ext2/3/4 superblock magic
