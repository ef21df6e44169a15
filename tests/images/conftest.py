"""Disk images built once per test session from ../shared/data logs (nothing committed or copied into the repo).

Each image has a twin: the same files laid out in a plain folder (``tree``), which the
ordinary ingest reads directly; an image's rows must equal its twin's.
"""

from __future__ import annotations

import random
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

# --import-mode=importlib puts no test folder on sys.path: add this one (imagekit.py)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from imagekit import DELETED_LOG, LINUX_LOGS, WINDOWS_LOGS

from forensics.testing import disk_images as di
from forensics.testing.disk_images import MiB
from forensics.testing.ntfs_writer import available as ntfs_available


@dataclass(frozen=True)
class Built:
    """One generated disk (raw) with its twin folder and the container formats made from it."""

    raw: Path
    tree: Path
    images: dict[str, Path]  # kind -> image file
    host: str
    zone: str


def _need_tools() -> None:
    missing = di.tools_missing()
    if missing or not ntfs_available():
        pytest.fail(f"image tools missing: {missing or ['libntfs-3g']} (.ci/run installs them)")


@pytest.fixture(scope="session")
def built(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """The Windows (NTFS), Windows-on-FAT and Linux (ext4) disks, each as raw, and the Windows one in every container."""
    _need_tools()
    work = tmp_path_factory.mktemp("images")
    evtx = [shared_data / p for p in WINDOWS_LOGS]
    gone = shared_data / DELETED_LOG

    win_tree = work / "win-tree"
    for p in [*evtx, gone]:
        dest = win_tree / "Windows/System32/winevt/Logs" / p.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dest)
    win = di.windows_volume(
        evtx, computer_name="WIN-IMG01", time_zone_key="India Standard Time", bias_minutes=-330,
        deleted=[gone], work=work,
    )  # fmt: skip
    win_raw = di.build_disk([win], work / "win.raw")
    images = {"raw": win_raw}
    for kind in ("vmdk", "vhd", "vhdx", "qcow2"):
        images[kind] = di.convert(win_raw, kind, work / f"win.{kind}")
    images["e01"] = di.convert(win_raw, "ewf", work / "win.E01")
    images["ex01"] = di.convert(win_raw, "ewf", work / "win.Ex01", ewf_format="encase7-v2")

    fat_tree = work / "fat-tree"
    for p in evtx[:2]:
        dest = fat_tree / "Windows/System32/winevt/Logs" / p.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, dest)
    fat = di.windows_volume(
        evtx[:2], computer_name="WIN-FAT01", time_zone_key="UTC", bias_minutes=0, fs="fat", work=work
    )
    fat_raw = di.build_disk([fat], work / "fat.raw")

    logs = [(name, shared_data / src) for name, src in LINUX_LOGS]
    lin_tree = work / "lin-tree"
    lin = di.linux_volume(logs, hostname="lnx-img01", zone="Asia/Kolkata", work=work)
    for dest, src in lin.files:
        target = lin_tree / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)  # keeps the mtime, as mkfs.ext4 -d does: yearless syslog reads it
    lin_raw = di.build_disk([lin], work / "lin.raw")
    filler = work / "filler.bin"
    filler.write_bytes(random.Random(16).randbytes(3 * MiB))
    lin_big_raw = di.build_disk(
        [replace(lin, files=(*lin.files, ("/opt/filler.bin", filler)))], work / "lin-big.raw"
    )
    xfs = di.linux_volume(logs, hostname="lnx-img01", zone="Asia/Kolkata", work=work, fs="xfs")
    xfs_raw = di.build_disk([xfs], work / "xfs.raw")
    btrfs = di.linux_volume(logs, hostname="lnx-img01", zone="Asia/Kolkata", work=work, fs="btrfs")
    btrfs_raw = di.build_disk([btrfs], work / "btrfs.raw")
    return {
        "xfs": Built(xfs_raw, lin_tree, {"raw": xfs_raw}, "lnx-img01", "Asia/Kolkata"),
        "btrfs": Built(btrfs_raw, lin_tree, {"raw": btrfs_raw}, "lnx-img01", "Asia/Kolkata"),
        "windows": Built(win_raw, win_tree, images, "WIN-IMG01", "Asia/Calcutta"),
        "fat": Built(fat_raw, fat_tree, {"raw": fat_raw}, "WIN-FAT01", "UTC"),
        "linux": Built(
            lin_raw,
            lin_tree,
            {
                "raw": lin_raw,
                "e01": di.convert(lin_raw, "ewf", work / "lin.E01"),
                # the same root plus 3 MiB of incompressible bytes outside /var/log, in 1 MiB segment
                # files (lin.Ex01 ... lin.Ex04): the set is read as one disk
                "ex01": di.convert(
                    lin_big_raw, "ewf", work / "lin.Ex01", ewf_format="encase7-v2", segment_bytes=MiB
                ),
            },
            "lnx-img01",
            "Asia/Kolkata",
        ),
    }
