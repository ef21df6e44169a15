"""Build small forensic disk images from log files, the way responders receive them.

Used by the tests and the benchmark: nothing here reads a real disk and nothing is mounted.
A Linux root is an ext4 volume filled by ``mkfs.ext4 -d``; a Windows system volume is NTFS
filled through libntfs-3g (``forensics.testing.ntfs_writer``) or FAT filled by ``mtools``; a
``SYSTEM`` hive names the Windows computer and its zone. Volumes go into an MBR-partitioned
raw disk, which ``qemu-img convert`` turns into VMDK, VHD, VHDX or qcow2 and ``ewfacquire``
into an EnCase image: E01 with Debian's, Ex01 (EWF2) with ``ewf_format="encase7-v2"`` and
libewf's current ``ewfacquire`` — Debian's (20140813) accepts ``encase7-v2`` but still writes
EWF1, so ``.ci/build-ewftools`` builds the current one from the libewf-python source package.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from forensics.testing.ntfs_writer import make_ntfs
from forensics.testing.regf_writer import system_hive

SECTOR = 512
MiB = 1024 * 1024
FIRST_LBA = 2048  # partitions start at 1 MiB, as fdisk places them

# qemu-img output format per container kind
QEMU_FORMATS = {"vmdk": "vmdk", "vhd": "vpc", "vhdx": "vhdx", "qcow2": "qcow2"}
# MBR partition type per file system
_MBR_TYPE = {"ntfs": 0x07, "fat": 0x0C, "ext4": 0x83, "xfs": 0x83, "btrfs": 0x83}
BTRFS_UUID = "16161616-1616-4616-8616-161616161616"  # fixed, as mkfs.ext4 -U clear
# where .ci/build-ewftools puts libewf's current tools (an EWF2-writing ewfacquire)
EWFTOOLS_DIR = Path(os.environ.get("FORENSICS_EWFTOOLS", "/opt/libewf-tools/bin"))
# a fixed time for everything the tools stamp, so the same inputs build the same image bytes
FAKE_TIME = "1700000000"


@dataclass(frozen=True)
class Volume:
    """One partition: its file system and files ((path on the volume, source file on disk))."""

    fs: str  # "ntfs", "fat", "ext4", "xfs" or "btrfs"
    files: tuple[tuple[str, Path], ...]
    size: int = 0  # bytes; 0 = sized from the files
    label: str = "DATA"
    deleted: tuple[str, ...] = ()  # NTFS only: files written then deleted


def tools_missing(
    kinds: Iterable[str] = ("ntfs", "fat", "ext4", "xfs", "btrfs", "qemu", "ewf", "ewf2"),
) -> list[str]:
    """The commands a build of these kinds needs and this machine lacks."""
    need = {
        "ntfs": ["mkntfs"],
        "fat": ["mkfs.fat", "mcopy", "mmd"],
        "ext4": ["mkfs.ext4"],
        "xfs": ["mkfs.xfs"],
        "btrfs": ["mkfs.btrfs"],
        "qemu": ["qemu-img"],
        "ewf": ["ewfacquire"],
        "ewf2": [str(EWFTOOLS_DIR / "ewfacquire")],
    }
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [cmd for k in kinds for cmd in need[k] if shutil.which(cmd, path=path) is None]


def _run(cmd: Sequence[str], **kw: object) -> None:
    env = {**os.environ, "LC_ALL": "C", "E2FSPROGS_FAKE_TIME": FAKE_TIME, "SOURCE_DATE_EPOCH": FAKE_TIME}
    env["PATH"] = env.get("PATH", "") + ":/usr/sbin:/sbin"
    subprocess.run(list(cmd), check=True, capture_output=True, env=env, **kw)  # type: ignore[call-overload]


def _volume_size(vol: Volume) -> int:
    if vol.size:
        return vol.size
    data = sum(src.stat().st_size for _, src in vol.files)
    floor = {"ntfs": 8 * MiB, "fat": 34 * MiB, "ext4": 4 * MiB, "xfs": 300 * MiB, "btrfs": 32 * MiB}[
        vol.fs
    ]  # XFS: 300 MiB at least
    return max(floor, (data * 3 // 2 + 4 * MiB) // MiB * MiB)


def build_volume(vol: Volume, out: Path) -> Path:
    """The file system image of one volume at ``out``."""
    size = _volume_size(vol)
    if vol.fs == "ntfs":
        return make_ntfs(out, size, vol.files, label=vol.label, delete=vol.deleted)
    if vol.deleted:
        raise ValueError("deleted files are only built on NTFS volumes")
    if vol.fs in ("ext4", "btrfs"):  # both fill the new file system from a folder
        with tempfile.TemporaryDirectory(prefix="forensics-root-") as tmp:
            root = Path(tmp)
            for dest, src in vol.files:
                target = root / dest.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)  # keeps the mtime; both tools copy it
            with out.open("wb") as fh:
                fh.truncate(size)
            if vol.fs == "ext4":
                _run(["mkfs.ext4", "-q", "-F", "-L", vol.label, "-U", "clear", "-E", "root_owner=0:0",
                      "-d", str(root), str(out)])  # fmt: skip
            else:
                _run(
                    [
                        "mkfs.btrfs",
                        "-q",
                        "-f",
                        "-L",
                        vol.label,
                        "-U",
                        BTRFS_UUID,
                        "--rootdir",
                        str(root),
                        str(out),
                    ]
                )
        return out
    if vol.fs == "fat":
        with out.open("wb") as fh:
            fh.truncate(size)
        _run(["mkfs.fat", "-F", "32", "-n", vol.label[:11], "-i", "12345678", str(out)])
        made: set[str] = set()
        for dest, src in vol.files:
            parents = PurePosixPath(dest).parents
            for parent in reversed(list(parents)[:-1]):
                if str(parent) not in made:
                    _run(["mmd", "-D", "s", "-i", str(out), f"::{parent}"])
                    made.add(str(parent))
            _run(["mcopy", "-m", "-i", str(out), str(src), f"::{dest}"])
        return out
    if vol.fs == "xfs":
        with out.open("wb") as fh:
            fh.truncate(size)
        proto = out.with_suffix(".proto")
        proto.write_text(_xfs_proto(vol.files))
        _run(["mkfs.xfs", "-q", "-f", "-L", vol.label[:12], "-p", str(proto), str(out)])
        proto.unlink()
        return out
    raise ValueError(f"unknown file system {vol.fs!r}")


def _xfs_proto(files: Sequence[tuple[str, Path]]) -> str:
    """An ``mkfs.xfs -p`` prototype: the tree of ``files`` (volume path, source), sources by absolute path."""
    tree: dict[str, object] = {}
    for dest, src in files:
        *dirs, name = PurePosixPath(dest).parts[1:]
        node = tree
        for d in dirs:
            node = node.setdefault(d, {})  # type: ignore[assignment]
        node[name] = src.resolve()  # type: ignore[index]

    def emit(node: dict[str, object], depth: int) -> list[str]:
        lines = []
        for name in sorted(node):
            value = node[name]
            pad = " " * depth
            if isinstance(value, dict):
                lines += [f"{pad}{name} d--755 0 0", *emit(value, depth + 1), f"{pad}$"]
            else:
                lines.append(f"{pad}{name} ---644 0 0 {value}")
        return lines

    return "\n".join(["boot", "0 0", "d--755 0 0", *emit(tree, 1), "$", ""])


def build_disk(volumes: Sequence[Volume], out: Path) -> Path:
    """A raw disk image with an MBR partition table holding ``volumes`` in order."""
    if not 1 <= len(volumes) <= 4:
        raise ValueError("an MBR disk holds one to four primary partitions")
    with tempfile.TemporaryDirectory(prefix="forensics-vol-", dir=out.parent) as tmp:
        parts = [build_volume(v, Path(tmp) / f"vol{i}.img") for i, v in enumerate(volumes)]
        entries = b""
        lba = FIRST_LBA
        layout: list[tuple[Path, int]] = []
        for vol, part in zip(volumes, parts, strict=True):
            sectors = part.stat().st_size // SECTOR
            chs = b"\xfe\xff\xff"  # LBA addressing only
            entries += struct.pack("<B3sB3sII", 0, chs, _MBR_TYPE[vol.fs], chs, lba, sectors)
            layout.append((part, lba))
            lba += (sectors + FIRST_LBA - 1) // FIRST_LBA * FIRST_LBA
        mbr = bytearray(SECTOR)
        struct.pack_into("<I", mbr, 440, 0x0F0E0D0C)  # disk signature
        mbr[446 : 446 + len(entries)] = entries
        mbr[510:512] = b"\x55\xaa"
        with out.open("wb") as fh:
            fh.write(mbr)
            for part, start in layout:
                fh.seek(start * SECTOR)
                with part.open("rb") as src:
                    _sparse_copy(src, fh)
            fh.truncate(lba * SECTOR)
    return out


def _sparse_copy(src: IO[bytes], dst: IO[bytes]) -> None:
    """Copy leaving all-zero blocks as holes (a 300 MiB XFS volume is mostly empty)."""
    zero = bytes(MiB)
    while block := src.read(MiB):
        if block == zero[: len(block)]:
            dst.seek(len(block), 1)
        else:
            dst.write(block)


def convert(
    raw: Path,
    kind: str,
    out: Path,
    *,
    ewf_format: str = "encase6",
    compression: str = "deflate:fast",
    segment_bytes: int | None = None,
) -> Path:
    """``raw`` as a VMDK / VHD / VHDX / qcow2 (qemu-img) or E01 / Ex01 (ewfacquire) at ``out``.

    For EWF, ``out`` names the first segment (``x.E01`` / ``x.Ex01``); ewfacquire also writes
    its log (``x.E01.txt`` style, with the acquisition's MD5 and SHA-1) beside it.
    ``compression`` is ewfacquire's ``-c`` (``deflate:none`` stores chunks as they are) and
    ``segment_bytes`` its ``-S`` (split into several segment files).
    """
    if kind in QEMU_FORMATS:
        _run(["qemu-img", "convert", "-q", "-f", "raw", "-O", QEMU_FORMATS[kind], str(raw), str(out)])
        return out
    if kind == "ewf":
        target = out.with_suffix("")
        log = out.parent / f"{out.name}.txt"
        tool = str(EWFTOOLS_DIR / "ewfacquire") if ewf_format.endswith("-v2") else "ewfacquire"
        extra = ["-S", str(segment_bytes)] if segment_bytes else []
        _run(
            [tool, "-u", "-q", "-t", str(target), "-f", ewf_format, "-c", compression,
             "-d", "sha1", "-C", "case-1", "-D", "test image", "-E", "ev-1", "-e", "tests",
             "-N", "built by forensics.testing.disk_images", "-l", str(log), *extra, str(raw)],
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        made = sorted(out.parent.glob(target.name + out.suffix[:-2] + "??"))  # x.E01 / x.Ex01, x.Ex02, ...
        if not made:
            raise RuntimeError(f"ewfacquire wrote no segment for {out}")
        with made[0].open("rb") as fh:
            magic = fh.read(4)
        if ewf_format.endswith("-v2") and magic != b"EVF2":
            raise RuntimeError(f"{tool} wrote EWF1 ({magic!r}) for {ewf_format}: it is too old for EWF2")
        if made[0] != out:
            made[0].rename(out)
        return out
    raise ValueError(f"unknown image kind {kind!r}")


def windows_volume(
    evtx: Iterable[Path], *, computer_name: str, time_zone_key: str, bias_minutes: int, fs: str = "ntfs",
    deleted: Iterable[Path] = (), work: Path,
) -> Volume:  # fmt: skip
    """A Windows system volume: event logs in ``Windows/System32/winevt/Logs`` and a SYSTEM hive.

    ``deleted`` logs are written to the same folder and then deleted (NTFS only).
    """
    logs = "/Windows/System32/winevt/Logs"
    hive = system_hive(work / f"SYSTEM-{computer_name}", computer_name, time_zone_key, bias_minutes)
    files = [(f"{logs}/{p.name}", p) for p in evtx]
    gone = [(f"{logs}/{p.name}", p) for p in deleted]
    files += [*gone, ("/Windows/System32/config/SYSTEM", hive)]
    # not "Windows" on FAT: the label is a root entry too, and dissect.fat resolves /Windows to it
    label = "Windows" if fs == "ntfs" else "WINSYS"
    return Volume(fs, tuple(files), label=label, deleted=tuple(d for d, _ in gone))


def linux_volume(
    logs: Iterable[tuple[str, Path]], *, hostname: str, zone: str, work: Path, fs: str = "ext4"
) -> Volume:
    """A Linux root: ``logs`` ((name under /var/log, source)), ``/etc/hostname``, ``/etc/timezone``."""
    etc_host = work / f"hostname-{hostname}"
    etc_host.write_text(hostname + "\n")
    etc_zone = work / f"timezone-{hostname}"
    etc_zone.write_text(zone + "\n")
    files = [(f"/var/log/{name}", src) for name, src in logs]
    files += [("/etc/hostname", etc_host), ("/etc/timezone", etc_zone)]
    return Volume(fs, tuple(files), label="root")
