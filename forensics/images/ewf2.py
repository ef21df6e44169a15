"""Read EWF version 2 images (Ex01, EnCase 7+) through libewf, read-only.

dissect.evidence reads EWF version 1 only. libewf reads both; PyPI's ``libewf-python``
ships it as the ``pyewf`` extension (manylinux wheels). pyewf's Python API has no access to
the list of chunks that failed their checksum, and libewf reads such a chunk back as zeros
without an error — a damaged Ex01 would look clean. So the library's own C API, which the
pyewf extension exports, is called through ctypes: a read that touches a chunk libewf
recorded as corrupt raises ``OSError`` naming the sectors, like a corrupt EWF1 chunk does
through dissect. The stream is a ``dissect.util`` ``AlignedStream`` so dissect's volume
systems and file systems read it as a disk.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dissect.util.stream import AlignedStream

_ALIGN = 64 * 1024  # reads are aligned to this (a multiple of EWF's 32 KiB chunk)
_HASH_NAMES = (("md5", b"MD5"), ("sha1", b"SHA1"))


class Ex01Error(OSError):
    """libewf could not open or read the image."""


@functools.cache
def _lib() -> Any:
    """libewf's C API as exported by the pyewf extension module."""
    try:
        import pyewf  # type: ignore[import-not-found]
    except ImportError as exc:  # a declared dependency: missing means a broken install
        raise Ex01Error(f"libewf-python (pyewf) is not installed: {exc}") from exc
    lib = ctypes.CDLL(pyewf.__file__)
    vp, err = ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)
    sig = {
        "libewf_handle_initialize": (ctypes.c_int, [ctypes.POINTER(vp), err]),
        "libewf_handle_free": (ctypes.c_int, [ctypes.POINTER(vp), err]),
        "libewf_handle_open": (ctypes.c_int, [vp, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int, err]),
        "libewf_handle_close": (ctypes.c_int, [vp, err]),
        "libewf_handle_read_buffer_at_offset": (
            ctypes.c_ssize_t, [vp, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64, err],
        ),
        "libewf_handle_get_media_size": (ctypes.c_int, [vp, ctypes.POINTER(ctypes.c_uint64), err]),
        "libewf_handle_get_bytes_per_sector": (ctypes.c_int, [vp, ctypes.POINTER(ctypes.c_uint32), err]),
        "libewf_handle_get_format": (ctypes.c_int, [vp, ctypes.POINTER(ctypes.c_uint8), err]),
        "libewf_handle_get_number_of_checksum_errors": (ctypes.c_int, [vp, ctypes.POINTER(ctypes.c_uint32), err]),
        "libewf_handle_get_checksum_error": (
            ctypes.c_int, [vp, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64), err],
        ),
        "libewf_handle_get_utf8_hash_value": (
            ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, err],
        ),
        "libewf_error_sprint": (ctypes.c_int, [vp, ctypes.c_char_p, ctypes.c_size_t]),
        "libewf_error_free": (None, [err]),
    }  # fmt: skip
    for name, (restype, argtypes) in sig.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def _fail(what: str, error: ctypes.c_void_p) -> Ex01Error:
    lib = _lib()
    text = ctypes.create_string_buffer(2048)
    if error:
        lib.libewf_error_sprint(error, text, len(text))
        lib.libewf_error_free(ctypes.byref(error))
    detail = text.value.decode("utf-8", "replace").strip().replace("\n", "; ")
    return Ex01Error(f"libewf: {what}: {detail or 'failed'}")


@dataclass(frozen=True)
class ChecksumError:
    """A run of sectors libewf found corrupt (chunk checksum mismatch), in bytes of the media."""

    offset: int
    size: int


class Ex01Stream(AlignedStream):
    """The media of an EWF image (every segment of the set), read through libewf."""

    def __init__(self, first_segment: Path) -> None:
        lib = _lib()
        self._lib = lib
        self._handle = ctypes.c_void_p()
        self.path = first_segment
        from forensics.images.reader import image_segments

        self.segments = tuple(image_segments(first_segment))
        err = ctypes.c_void_p()
        if lib.libewf_handle_initialize(ctypes.byref(self._handle), ctypes.byref(err)) != 1:
            raise _fail("initialise", err)
        names = (ctypes.c_char_p * len(self.segments))(*(str(p).encode() for p in self.segments))
        if lib.libewf_handle_open(self._handle, names, len(self.segments), 1, ctypes.byref(err)) != 1:
            failure = _fail(f"open {first_segment}", err)
            self._free()
            raise failure
        size = ctypes.c_uint64()
        sector = ctypes.c_uint32()
        fmt = ctypes.c_uint8()
        for fn, out in (
            (lib.libewf_handle_get_media_size, size),
            (lib.libewf_handle_get_bytes_per_sector, sector),
            (lib.libewf_handle_get_format, fmt),
        ):
            if fn(self._handle, ctypes.byref(out), ctypes.byref(err)) != 1:
                failure = _fail("read the image's media values", err)
                self.close()
                raise failure
        self.sector_size = int(sector.value) or 512
        self.ewf_format = int(fmt.value)
        self._known_errors = 0
        super().__init__(int(size.value), align=_ALIGN)

    def _read(self, offset: int, length: int) -> bytes:
        length = min(length, max(self.size - offset, 0))
        if length <= 0:
            return b""
        buf = ctypes.create_string_buffer(length)
        err = ctypes.c_void_p()
        n = self._lib.libewf_handle_read_buffer_at_offset(
            self._handle, buf, length, offset, ctypes.byref(err)
        )
        if n < 0:
            raise _fail(f"read {length} bytes at {offset}", err)
        bad = [e for e in self.checksum_errors() if e.offset < offset + n and offset < e.offset + e.size]
        if bad:
            ranges = ", ".join(f"bytes {e.offset}-{e.offset + e.size - 1}" for e in bad)
            raise Ex01Error(
                f"EWF chunk checksum mismatch in {self.path.name}: {ranges} (libewf zero-fills them)"
            )
        return buf.raw[:n]

    def checksum_errors(self) -> list[ChecksumError]:
        """Corrupt sector runs libewf has met so far (it records a chunk when it reads it)."""
        lib, err = self._lib, ctypes.c_void_p()
        count = ctypes.c_uint32()
        if (
            lib.libewf_handle_get_number_of_checksum_errors(
                self._handle, ctypes.byref(count), ctypes.byref(err)
            )
            != 1
        ):
            raise _fail("count checksum errors", err)
        out = []
        start, number = ctypes.c_uint64(), ctypes.c_uint64()
        for i in range(count.value):
            if (
                lib.libewf_handle_get_checksum_error(
                    self._handle, i, ctypes.byref(start), ctypes.byref(number), ctypes.byref(err)
                )
                != 1
            ):
                raise _fail(f"read checksum error {i}", err)
            out.append(ChecksumError(start.value * self.sector_size, number.value * self.sector_size))
        return out

    def hashes(self) -> dict[str, str]:
        """The media hashes the acquisition stored in the image (``md5``, ``sha1``), hex."""
        out = {}
        for algo, name in _HASH_NAMES:
            value = ctypes.create_string_buffer(129)
            err = ctypes.c_void_p()
            got = self._lib.libewf_handle_get_utf8_hash_value(
                self._handle, name, len(name), value, len(value), ctypes.byref(err)
            )
            if got == -1:
                raise _fail(f"read the stored {algo}", err)
            text = value.value.decode("ascii", "replace").strip().lower()
            if got == 1 and text.strip("0"):
                out[algo] = text
        return out

    def close(self) -> None:
        """Close the segments and free the handle (once)."""
        if self._handle:
            err = ctypes.c_void_p()
            if self._lib.libewf_handle_close(self._handle, ctypes.byref(err)) != 0:
                self._lib.libewf_error_free(ctypes.byref(err))
            self._free()
        super().close()

    def _free(self) -> None:
        err = ctypes.c_void_p()
        if self._lib.libewf_handle_free(ctypes.byref(self._handle), ctypes.byref(err)) != 1:
            self._lib.libewf_error_free(ctypes.byref(err))
        self._handle = ctypes.c_void_p()
