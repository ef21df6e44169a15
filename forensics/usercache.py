"""The per-user cache folder, shared by every case on this machine (parsed Sigma rules, rule plans,
compiled report templates): ``$FORENSICS_CACHE_DIR`` (empty: no cache at all), else
``$XDG_CACHE_HOME/forensics``, else ``~/.cache/forensics``. Nothing in it is evidence: each entry is
keyed by what it was made from, and deleting the folder only costs time."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path | None:
    """The folder (not necessarily existing yet), or None when the cache is switched off."""
    env = os.environ.get("FORENSICS_CACHE_DIR")
    if env is not None:
        return Path(env) if env else None
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "forensics"


__all__ = ["user_cache_dir"]
