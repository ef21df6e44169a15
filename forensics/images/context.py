"""The host name and time zone an image states about itself, with where each was read.

Windows keeps them in the ``SYSTEM`` hive (``ControlSet00N\\Control\\ComputerName\\ComputerName``
and ``...\\Control\\TimeZoneInformation``, ``N`` from ``Select\\Current``); Linux in
``/etc/hostname`` and ``/etc/timezone`` (or the ``/etc/localtime`` link). Each volume is read
on its own, so a disk with two systems does not mix them; the image's context is the first
volume, in partition order, that states each. Windows zone names are turned into IANA names
with the CLDR table dissect ships.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forensics.images.reader import OpenImage, _read_errors, drive_roots, read_errors, resolve_ci

_HOST = re.compile(r"[A-Za-z0-9_.-]{1,253}")


@dataclass(frozen=True)
class Stated:
    """One value the image states, and where: ``p1:/etc/hostname``, ``p1:SYSTEM\\...``."""

    value: str
    source: str


@dataclass(frozen=True)
class ImageContext:
    """Host name and zone of an image (None when it states neither)."""

    host: Stated | None = None
    tz: Stated | None = None


def image_context(img: OpenImage) -> ImageContext:
    """What the image's volumes say about the host's name and zone."""
    host: Stated | None = None
    tz: Stated | None = None
    for ref, fs in img.volumes:
        h, z = _windows(ref.name, fs)
        if h is None and z is None:
            h, z = _linux(ref.name, fs)
        host = host or h
        tz = tz or z
    return ImageContext(host, tz)


def _read_small(fs: Any, path: str, limit: int = 1 << 16) -> bytes | None:
    found = resolve_ci(fs, path)
    if found is None:
        return None
    try:
        with fs.get(found).open() as fh:
            return fh.read(limit)  # type: ignore[no-any-return]
    except read_errors(KeyError, IsADirectoryError):
        return None


def _linux(vol: str, fs: Any) -> tuple[Stated | None, Stated | None]:
    host = tz = None
    raw = _read_small(fs, "etc/hostname", 512)
    if raw:
        value = raw.decode("utf-8", "replace").strip().splitlines()[0].strip() if raw.strip() else ""
        if _HOST.fullmatch(value):
            host = Stated(value, f"{vol}:/etc/hostname")
    raw = _read_small(fs, "etc/timezone", 512)
    if raw and raw.strip():
        zone = raw.decode("utf-8", "replace").strip().splitlines()[0].strip()
        if _valid_zone(zone):
            tz = Stated(zone, f"{vol}:/etc/timezone")
    if tz is None:
        tz = _localtime_link(vol, fs)
    return host, tz


def _localtime_link(vol: str, fs: Any) -> Stated | None:
    found = resolve_ci(fs, "etc")
    if found is None:
        return None
    try:
        entry = fs.get(f"{found}/localtime")
        if not entry.is_symlink():
            return None
        target = entry.readlink()
    except read_errors(KeyError, NotImplementedError):
        return None
    m = re.search(r"zoneinfo/(.+)$", str(target))
    if m and _valid_zone(m.group(1)):
        return Stated(m.group(1), f"{vol}:/etc/localtime -> {target}")
    return None


def _windows(vol: str, fs: Any) -> tuple[Stated | None, Stated | None]:
    from dissect.regf import RegistryHive
    from dissect.regf.exceptions import Error as RegfError

    path = next(
        (p for root in drive_roots(fs) if (p := resolve_ci(fs, f"{root}/Windows/System32/config/SYSTEM"))),
        None,
    )
    if path is None:
        return None, None
    errors = (*_read_errors(), RegfError, KeyError, AttributeError)
    try:
        hive = RegistryHive(fs.get(path).open())
        current = int(hive.open("Select").value("Current").value)
    except errors:
        return None, None
    cs = f"ControlSet{current:03d}"
    host = tz = None
    key = f"{cs}\\Control\\ComputerName\\ComputerName"
    try:
        name = str(hive.open(key).value("ComputerName").value).strip()
        if _HOST.fullmatch(name):
            host = Stated(name, f"{vol}:{path} {key}\\ComputerName")
    except errors:
        pass
    key = f"{cs}\\Control\\TimeZoneInformation"
    for value in ("TimeZoneKeyName", "StandardName"):
        try:
            win = str(hive.open(key).value(value).value).strip("\0 ")
        except errors:
            continue
        zone = _iana(win)
        if zone:
            tz = Stated(zone, f"{vol}:{path} {key}\\{value} = {win!r}")
            break
    return host, tz


def _iana(windows_name: str) -> str | None:
    """IANA zone for a Windows time zone key name (CLDR windowsZones, territory 001)."""
    from dissect.target.helpers.localeutil import WINDOWS_ZONE_MAP

    zone = WINDOWS_ZONE_MAP.get(windows_name)
    return zone if zone and _valid_zone(zone) else None


def _valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return False
    return True
