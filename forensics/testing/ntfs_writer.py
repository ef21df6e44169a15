"""Fill an NTFS volume image with folders and files, without mounting it.

``mkntfs`` makes the volume and ``ntfscp`` copies a file into an existing folder, but no
ntfs-3g command makes a folder or deletes a file. This module calls the same library those
commands use (``libntfs-3g``, installed with Debian's ``ntfs-3g``) through ctypes: it opens
the image file as a volume in the library (no kernel mount, no root), creates folders and
files, and can delete a file so its MFT entry stays behind unused — the way a deleted event
log sits on a real disk. Test and demo use only.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import stat
import subprocess
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

_AT_DATA = 0x80
_CHUNK = 1 << 20


class NtfsError(RuntimeError):
    """libntfs-3g refused an operation (the message says which and errno)."""


def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("ntfs-3g") or "libntfs-3g.so.89"
    lib = ctypes.CDLL(name, use_errno=True)
    vp = ctypes.c_void_p
    lib.ntfs_mount.restype = vp
    lib.ntfs_mount.argtypes = [ctypes.c_char_p, ctypes.c_ulong]
    lib.ntfs_umount.argtypes = [vp, ctypes.c_int]
    lib.ntfs_pathname_to_inode.restype = vp
    lib.ntfs_pathname_to_inode.argtypes = [vp, vp, ctypes.c_char_p]
    lib.ntfs_mbstoucs.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
    lib.ntfs_create.restype = vp
    lib.ntfs_create.argtypes = [vp, ctypes.c_uint32, vp, ctypes.c_uint8, ctypes.c_uint32]
    lib.ntfs_attr_open.restype = vp
    lib.ntfs_attr_open.argtypes = [vp, ctypes.c_uint32, vp, ctypes.c_uint32]
    lib.ntfs_attr_pwrite.restype = ctypes.c_int64
    lib.ntfs_attr_pwrite.argtypes = [vp, ctypes.c_int64, ctypes.c_int64, ctypes.c_char_p]
    lib.ntfs_attr_close.argtypes = [vp]
    lib.ntfs_inode_close.argtypes = [vp]
    lib.ntfs_delete.argtypes = [vp, ctypes.c_char_p, vp, vp, vp, ctypes.c_uint8]
    return lib


def available() -> bool:
    """True when libntfs-3g and mkntfs are installed."""
    try:
        _lib()
    except OSError:
        return False
    return any(Path(d, "mkntfs").exists() for d in ("/usr/sbin", "/sbin", "/usr/bin"))


class NtfsVolume:
    """An NTFS image file opened read-write by libntfs-3g (``with`` closes it cleanly)."""

    def __init__(self, image: Path) -> None:
        self.lib = _lib()
        self.vol = self.lib.ntfs_mount(str(image).encode(), 0)
        if not self.vol:
            raise NtfsError(f"ntfs_mount {image}: errno {ctypes.get_errno()}")

    def __enter__(self) -> NtfsVolume:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.lib.ntfs_umount(self.vol, 0) != 0:
            raise NtfsError(f"ntfs_umount: errno {ctypes.get_errno()}")

    def _inode(self, path: str) -> int:
        ni = self.lib.ntfs_pathname_to_inode(self.vol, None, path.encode())
        if not ni:
            raise NtfsError(f"no such path {path!r} (errno {ctypes.get_errno()})")
        return int(ni)

    def _create(self, parent: str, name: str, mode: int) -> int:
        dir_ni = self._inode(parent)
        ucs = ctypes.c_void_p()
        n = self.lib.ntfs_mbstoucs(name.encode(), ctypes.byref(ucs))
        try:
            ni = self.lib.ntfs_create(dir_ni, 0, ucs, n, mode)
            if not ni:
                raise NtfsError(f"ntfs_create {parent}/{name}: errno {ctypes.get_errno()}")
        finally:
            self.lib.ntfs_inode_close(dir_ni)
            ctypes.CDLL(None).free(ucs)
        return int(ni)

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its missing parents (``/``-separated, from the volume root)."""
        done = "/"
        for part in PurePosixPath(path).parts[1:]:
            here = f"{done.rstrip('/')}/{part}"
            ni = self.lib.ntfs_pathname_to_inode(self.vol, None, here.encode())
            if ni:
                self.lib.ntfs_inode_close(ni)
            else:
                self.lib.ntfs_inode_close(self._create(done, part, stat.S_IFDIR))
            done = here

    def write_file(self, path: str, source: Path) -> None:
        """Copy ``source`` to ``path`` on the volume (parents created)."""
        dest = PurePosixPath(path)
        self.makedirs(str(dest.parent))
        ni = self._create(str(dest.parent), dest.name, stat.S_IFREG)
        try:
            unnamed = ctypes.c_void_p.in_dll(self.lib, "AT_UNNAMED")
            na = self.lib.ntfs_attr_open(ni, _AT_DATA, ctypes.addressof(unnamed), 0)
            if not na:
                raise NtfsError(f"ntfs_attr_open {path}: errno {ctypes.get_errno()}")
            try:
                pos = 0
                with source.open("rb") as fh:
                    while block := fh.read(_CHUNK):
                        if self.lib.ntfs_attr_pwrite(na, pos, len(block), block) != len(block):
                            raise NtfsError(f"ntfs_attr_pwrite {path}: errno {ctypes.get_errno()}")
                        pos += len(block)
            finally:
                self.lib.ntfs_attr_close(na)
        finally:
            self.lib.ntfs_inode_close(ni)

    def delete(self, path: str) -> None:
        """Delete a file: its MFT entry is marked unused, its clusters freed but not wiped."""
        p = PurePosixPath(path)
        ni = self._inode(path)
        dir_ni = self._inode(str(p.parent))
        ucs = ctypes.c_void_p()
        n = self.lib.ntfs_mbstoucs(p.name.encode(), ctypes.byref(ucs))
        try:
            if self.lib.ntfs_delete(self.vol, path.encode(), ni, dir_ni, ucs, n) != 0:
                raise NtfsError(f"ntfs_delete {path}: errno {ctypes.get_errno()}")
        finally:
            ctypes.CDLL(None).free(ucs)


def make_ntfs(
    image: Path,
    size: int,
    files: Iterable[tuple[str, Path]],
    *,
    label: str = "Windows",
    delete: Iterable[str] = (),
) -> Path:
    """A fresh NTFS volume image of ``size`` bytes holding ``files`` ((volume path, source)).

    Paths listed in ``delete`` are written and then deleted, leaving unused MFT entries.
    """
    with image.open("wb") as fh:
        fh.truncate(size)
    subprocess.run(
        ["mkntfs", "-q", "-F", "-f", "-L", label, "-s", "512", "-p", "0", "-H", "0", "-S", "0", str(image)],
        check=True,
        capture_output=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    with NtfsVolume(image) as vol:
        for dest, src in files:
            vol.write_file(dest, src)
        for dest in delete:
            vol.delete(dest)
    return image
