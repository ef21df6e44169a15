"""The detection content that ships inside the package: SQL hunts and IOC lists / YARA rules.

Both live in the package (``forensics/queries/``, ``forensics/iocs/``) and are found through
``importlib.resources``, so a source checkout (editable install) and a wheel install read the
same files the same way. An install without them is broken and says so; a hunt never runs with
an empty default set in silence.

A hunt names a shipped file by its place in the package (``forensics/queries/lsass_access.sql``),
not by where this install put it: finding ids (an IOC finding's details name its source list) and
the run record are then the same whichever machine or venv ran the hunt.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path, PurePosixPath

from forensics.errors import ForensicsError

PACKAGE = "forensics"


def package_dir() -> Path:
    """The installed ``forensics`` package folder (a real folder: wheels install unzipped)."""
    root = files(PACKAGE)
    if not isinstance(root, Path):  # a zipped install: hunts need real files to hash and copy
        raise ForensicsError(
            f"forensics is installed as {root!r}, not as files on disk; reinstall it with pip"
        )
    return root


QUERIES = package_dir() / "queries"
IOCS = package_dir() / "iocs"
_BASE = package_dir().parent  # once: a hunt asks shipped_name of every rule file it reads
_BASE_TEXT = str(_BASE)


def queries_dir() -> Path:
    """The shipped SQL hunts (``forensics/queries``); an install without them is an error."""
    return _present(QUERIES, "SQL hunts")


def iocs_dir() -> Path:
    """The shipped IOC lists and YARA rules (``forensics/iocs``); an install without them is an error."""
    return _present(IOCS, "IOC lists and YARA rules")


def _present(folder: Path, what: str) -> Path:
    if not folder.is_dir() or not any(folder.iterdir()):
        raise ForensicsError(
            f"this install of forensics lacks its {what} ({folder}); reinstall the package "
            "(or pass --no-default-queries / --no-default-iocs to hunt without them)"
        )
    return folder


def shipped_name(path: str | Path) -> str | None:
    """``forensics/<folder>/<file>`` for a file shipped in the package, else None."""
    text = str(path)
    if not text.startswith(_BASE_TEXT) and "//" not in text and "/." not in text:
        return None  # Path would spell it the same: not under the install (asked for every rule file)
    p = Path(path)
    if not p.is_absolute():
        return None
    try:
        rel = p.relative_to(_BASE)
    except ValueError:
        return None
    parts = PurePosixPath(rel.as_posix()).parts
    return (
        rel.as_posix()
        if len(parts) >= 3 and parts[0] == PACKAGE and parts[1] in ("queries", "iocs")
        else None
    )


def locate(name: str) -> Path | None:
    """This install's copy of a file a hunt recorded by its shipped name, if it is here."""
    parts = PurePosixPath(name).parts
    if len(parts) < 3 or parts[0] != PACKAGE or parts[1] not in ("queries", "iocs") or ".." in parts:
        return None
    p = package_dir().parent.joinpath(*parts)
    return p if p.is_file() else None
