"""Import dissect's loaders, containers and file systems once, before worker processes fork.

dissect builds its on-disk structure definitions when each module is first imported (~4 s of
CPU in all); the batch's forkserver imports this module so every worker starts with them.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from pathlib import Path

_MODULES = (
    "dissect.target.containers.ewf", "dissect.target.containers.vmdk", "dissect.target.containers.vhd",
    "dissect.target.containers.vhdx", "dissect.target.containers.qcow2", "dissect.target.containers.raw",
    "dissect.target.volumes.disk", "dissect.target.filesystems.ntfs", "dissect.target.filesystems.fat",
    "dissect.target.filesystems.extfs", "dissect.target.filesystems.xfs", "dissect.regf",
)  # fmt: skip


def warm() -> None:
    """Import what opening an image needs (missing optional modules are skipped)."""
    from dissect.target import loader

    with contextlib.suppress(Exception):  # only warming a cache: the real open reports its own errors
        loader.find_loader(Path(os.devnull))
    for name in _MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


warm()
