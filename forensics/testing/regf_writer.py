"""A minimal writer of Windows registry hive files (regf), for test and demo disk images.

No Python library writes hives (``dissect.regf``, ``regipy`` and ``python-registry`` only
read; ``hivex`` edits a hive it is given but makes none), and a Windows test image needs a
``SYSTEM`` hive for its computer name and time zone. This writes the common subset: one hive
bin, ``nk`` keys with ASCII names, ``lf`` subkey lists, ``vk`` values (strings, DWORDs,
binary) and the base block with its XOR checksum. Layout from the public regf format notes
(libregf documentation).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REG_SZ = 1
REG_BINARY = 3
REG_DWORD = 4

_NONE = 0xFFFFFFFF
_BIN_HEADER = 32
_PAGE = 4096
_FILETIME = 133_000_000_000_000_000  # fixed: the same inputs make the same bytes


Value = str | int | bytes


@dataclass
class Key:
    """A key: values by name and subkeys by name."""

    values: dict[str, Value] = field(default_factory=dict)
    keys: dict[str, Key] = field(default_factory=dict)

    def path(self, path: str) -> Key:
        """The subkey at a backslash path, created with its parents."""
        key = self
        for part in filter(None, path.split("\\")):
            key = key.keys.setdefault(part, Key())
        return key


class _Bin:
    """Cells appended to the hive bin; offsets are relative to the first bin."""

    def __init__(self) -> None:
        self.data = bytearray()

    def cell(self, payload: bytes) -> int:
        offset = _BIN_HEADER + len(self.data)
        size = (4 + len(payload) + 7) // 8 * 8
        self.data += struct.pack("<i", -size) + payload + b"\0" * (size - 4 - len(payload))
        return offset

    def patch(self, offset: int, at: int, value: int) -> None:
        pos = offset - _BIN_HEADER + 4 + at
        self.data[pos : pos + 4] = struct.pack("<I", value)


def _encode(value: Value) -> tuple[int, bytes]:
    if isinstance(value, bool) or not isinstance(value, str | int | bytes):
        raise TypeError(f"unsupported value {value!r}")
    if isinstance(value, str):
        return REG_SZ, (value + "\0").encode("utf-16-le")
    if isinstance(value, int):
        return REG_DWORD, struct.pack("<I", value)
    return REG_BINARY, value


def _value(b: _Bin, name: str, value: Value) -> int:
    kind, data = _encode(value)
    if len(data) <= 4:
        size, off = len(data) | 0x80000000, int.from_bytes(data.ljust(4, b"\0"), "little")
    else:
        size, off = len(data), b.cell(data)
    raw = name.encode("ascii")
    return b.cell(b"vk" + struct.pack("<HIIIHH", len(raw), size, off, kind, 1 if raw else 0, 0) + raw)


def _key(b: _Bin, name: str, key: Key, parent: int, root: bool) -> int:
    raw = name.encode("ascii")
    names = sorted(key.keys, key=str.upper)  # lf lists are sorted by upper-cased name
    flags = 0x20 | (0x04 if root else 0)  # ASCII name; hive root
    nk = b.cell(
        b"nk"
        + struct.pack(
            "<HQIIIIIIIIIIIIIIIHH",
            flags,
            _FILETIME,
            0,
            parent,
            len(names),
            0,
            _NONE,
            _NONE,
            len(key.values),
            _NONE,
            _NONE,
            _NONE,
            max((len(n) * 2 for n in names), default=0),
            0,
            max((len(n) * 2 for n in key.values), default=0),
            max((len(_encode(v)[1]) for v in key.values.values()), default=0),
            0,
            len(raw),
            0,
        )
        + raw
    )
    if key.values:
        offsets = [_value(b, n, v) for n, v in sorted(key.values.items())]
        b.patch(nk, 2 + 2 + 8 + 4 + 4 + 4 + 4 + 4 + 4 + 4, b.cell(struct.pack(f"<{len(offsets)}I", *offsets)))
    if names:
        children = [(_key(b, n, key.keys[n], nk, False), n) for n in names]
        hints = b"".join(
            struct.pack("<I", off) + n.encode("ascii")[:4].ljust(4, b"\0") for off, n in children
        )
        b.patch(nk, 2 + 2 + 8 + 4 + 4 + 4 + 4, b.cell(b"lf" + struct.pack("<H", len(children)) + hints))
    return nk


def write_hive(path: Path, root: Key, name: str = "SYSTEM") -> Path:
    """Write ``root`` (its subkeys and values) as a hive file at ``path``."""
    b = _Bin()
    root_offset = _key(b, "ROOT", root, _NONE, True)
    size = (_BIN_HEADER + len(b.data) + 4 + _PAGE - 1) // _PAGE * _PAGE
    free = size - _BIN_HEADER - len(b.data)
    body = b.data + struct.pack("<i", free) + b"\0" * (free - 4)
    hbin = b"hbin" + struct.pack("<IIQ", 0, size, 0) + struct.pack("<QI", _FILETIME, 0) + body
    base = bytearray(_PAGE)
    base[0:4] = b"regf"
    struct.pack_into("<IIQIIIIIII", base, 4, 1, 1, _FILETIME, 1, 5, 0, 1, root_offset, size, 1)
    label = name.encode("utf-16-le")[:64]
    base[48 : 48 + len(label)] = label
    checksum = 0
    for (word,) in struct.iter_unpack("<I", bytes(base[:508])):
        checksum ^= word
    struct.pack_into("<I", base, 508, checksum)
    path.write_bytes(bytes(base) + hbin)
    return path


def system_hive(path: Path, computer_name: str, time_zone_key: str, bias_minutes: int = 0) -> Path:
    """A ``SYSTEM`` hive naming the computer and its time zone, as Windows keeps them."""
    root = Key()
    root.path("Select").values.update({"Current": 1, "Default": 1, "LastKnownGood": 1, "Failed": 0})
    control = root.path("ControlSet001\\Control")
    control.path("ComputerName\\ComputerName").values["ComputerName"] = computer_name
    control.path("ComputerName\\ActiveComputerName").values["ComputerName"] = computer_name
    tz: Mapping[str, Value] = {
        "TimeZoneKeyName": time_zone_key,
        "StandardName": time_zone_key,
        "Bias": bias_minutes & 0xFFFFFFFF,
        "ActiveTimeBias": bias_minutes & 0xFFFFFFFF,
    }
    control.path("TimeZoneInformation").values.update(tz)
    root.path("ControlSet001\\Services\\Tcpip\\Parameters").values.update(
        {"Hostname": computer_name, "Domain": ""}
    )
    return write_hive(path, root)
