"""The chain-of-custody log of a case: append-only JSON lines, each entry hash-chained.

``<case>/custody.jsonl`` holds one JSON object per line. Every entry carries the SHA-256 of
the entry before it (``prev_entry_sha256``; the first one carries 64 zeros) and its own
``entry_sha256`` over the canonical JSON of all its other fields, so editing, removing or
reordering any entry breaks the chain at that point and ``verify_chain`` says where.

Ingest, hunt and export add their own entries through ``append_entry``; people add theirs
with ``forensics custody <case> add``. Times are recorded as UTC and IST side by side.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from forensics import __version__
from forensics.errors import CaseError
from forensics.timeutil import iso_ist, iso_utc, now_utc, parse_iso_utc

CUSTODY_FILE = "custody.jsonl"
GENESIS = "0" * 64
ACTIONS: tuple[str, ...] = (
    "collected", "received", "hashed", "analysed", "exported", "sealed", "verified", "transferred",
)  # fmt: skip

# Fields a caller may set; anything else is a typo and refused (a custody log must not
# silently drop what someone meant to record).
FIELDS: tuple[str, ...] = (
    "evidence_ids",  # list of evidence ids (input sha256 prefixes, exhibit numbers, ...)
    "item_hashes",  # {item: sha256} of the items the action touched
    "person",  # who performed the action
    "from_person",  # for received / transferred: who handed over
    "to_person",  # who took over
    "location",  # where the action happened
    "storage",  # where the evidence is kept afterwards
    "purpose",
    "tool",
    "tool_version",
    "command",  # argv of the step, when a tool did it
    "notes",
)
IST_OFFSET = timedelta(hours=5, minutes=30)


def canonical_json(obj: Any) -> bytes:
    """Canonical JSON bytes: sorted keys, no spaces, UTF-8 (what entry hashes are taken over)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 of an entry's canonical JSON without its own ``entry_sha256``."""
    body = {k: v for k, v in entry.items() if k != "entry_sha256"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def custody_path(case_root: Path) -> Path:
    """Where a case keeps its custody log."""
    return Path(case_root) / CUSTODY_FILE


def make_entry(
    prev: dict[str, Any] | None, action: str, time: datetime | None = None, **fields: Any
) -> dict[str, Any]:
    """A new entry chained after ``prev`` (None for the first); not written anywhere."""
    if action not in ACTIONS:
        raise ValueError(f"unknown custody action {action!r}; one of: {', '.join(ACTIONS)}")
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown custody field(s): {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
    when = time or now_utc()
    if when.tzinfo is None:
        raise ValueError("custody time must be timezone-aware")
    entry: dict[str, Any] = {
        "seq": (int(prev["seq"]) + 1) if prev else 1,
        "time_utc": iso_utc(when),
        "time_ist": iso_ist(when),
        "action": action,
    }
    for name in FIELDS:
        value = fields.get(name)
        if name == "evidence_ids":
            value = sorted({str(v) for v in value or ()})
        elif name == "item_hashes":
            value = {str(k): str(v) for k, v in sorted((value or {}).items())}
        elif name == "command" and value is not None:
            value = [str(a) for a in value]
        elif name == "tool" and value is None:
            value = "forensics"
        elif name == "tool_version" and value is None:
            value = __version__
        entry[name] = value
    entry["prev_entry_sha256"] = prev["entry_sha256"] if prev else GENESIS
    entry["entry_sha256"] = entry_hash(entry)
    return entry


def append_entry(
    case_root: Path, action: str, *, time: datetime | None = None, **fields: Any
) -> dict[str, Any]:
    """Append one entry to the case's custody log and return it.

    ``fields`` are named in ``FIELDS``. The file is locked while the head is read and the
    entry written, so concurrent steps (ingest in one process, hunt in another) still chain.
    """
    path = custody_path(case_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            fh.seek(0)
            entries = _parse_lines(fh.read().decode("utf-8"), str(path))
            problems = verify_chain(entries)
            if problems:
                raise CaseError(f"custody log {path} is damaged, not appending: {problems[0]}")
            entry = make_entry(entries[-1] if entries else None, action, time, **fields)
            fh.seek(0, os.SEEK_END)
            fh.write(canonical_json(entry) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return entry


def _parse_lines(text: str, where: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CaseError(f"{where}:{n}: custody entry is not JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise CaseError(f"{where}:{n}: custody entry is not a JSON object")
        entries.append(obj)
    return entries


def read_chain(path: Path) -> list[dict[str, Any]]:
    """The entries of a custody log file (a case's ``custody.jsonl`` or a bundle's copy); [] when absent."""
    p = Path(path)
    if p.is_dir():
        p = custody_path(p)
    if not p.exists():
        return []
    return _parse_lines(p.read_text(encoding="utf-8"), str(p))


def parse_chain(data: bytes, where: str = "custody log") -> list[dict[str, Any]]:
    """Entries from the bytes of a custody log (for bundles read from a zip)."""
    return _parse_lines(data.decode("utf-8"), where)


def _time_problem(entry: dict[str, Any], seq: object) -> tuple[str | None, datetime | None]:
    utc_s, ist_s = entry.get("time_utc"), entry.get("time_ist")
    utc = parse_iso_utc(utc_s) if isinstance(utc_s, str) and utc_s.endswith("Z") else None
    if utc is None:
        return f"entry {seq}: time_utc {utc_s!r} is not ISO-8601 UTC", None
    try:
        ist = datetime.fromisoformat(ist_s) if isinstance(ist_s, str) and ist_s.endswith("+05:30") else None
    except ValueError:
        ist = None
    if ist is None or ist != utc:
        return f"entry {seq}: time_ist {ist_s!r} is not time_utc at UTC+05:30", utc
    return None, utc


def verify_chain(entries: Sequence[dict[str, Any]], head: str | None = None) -> list[str]:
    """Problems with a custody chain ([] when intact).

    Checks: each entry's hash recomputes; each links to the one before (the first to
    genesis); seq runs 1, 2, 3 ...; times are well-formed and never go backwards; actions are
    known; and, when ``head`` is given, the last entry is that head.
    """
    problems: list[str] = []
    prev_hash, prev_time = GENESIS, None
    for i, entry in enumerate(entries, 1):
        seq = entry.get("seq")
        if seq != i:
            problems.append(f"entry at line {i}: seq is {seq!r}, expected {i}")
        if entry.get("entry_sha256") != entry_hash(entry):
            problems.append(f"entry {seq}: entry_sha256 does not match its content (entry edited)")
        if entry.get("prev_entry_sha256") != prev_hash:
            problems.append(f"entry {seq}: prev_entry_sha256 does not link to the entry before it")
        if entry.get("action") not in ACTIONS:
            problems.append(f"entry {seq}: unknown action {entry.get('action')!r}")
        problem, when = _time_problem(entry, seq)
        if problem:
            problems.append(problem)
        if when is not None and prev_time is not None and when < prev_time:
            problems.append(f"entry {seq}: time {entry.get('time_utc')} is before the entry before it")
        prev_time = when or prev_time
        prev_hash = str(entry.get("entry_sha256"))
    if head is not None:
        last = entries[-1]["entry_sha256"] if entries else GENESIS
        if last != head:
            problems.append(f"chain ends at {str(last)[:16]}…, the manifest names head {head[:16]}…")
    return problems


def sources_without_custody(
    sources: Iterable[dict[str, Any]], entries: Iterable[dict[str, Any]]
) -> list[str]:
    """Sources (manifest form: ``acquisition_sha256``, ``original_path``, ``member``) whose SHA-256 no
    entry's ``item_hashes`` names, as ``path [member]``; sources that were never hashed are skipped."""
    hashed = {str(v).lower() for e in entries for v in (e.get("item_hashes") or {}).values()}
    out = []
    for s in sources:
        sha = s.get("acquisition_sha256")
        if sha and str(sha).lower() not in hashed:
            out.append(str(s.get("original_path")) + (f" [{s['member']}]" if s.get("member") else ""))
    return out


def head_of(entries: Iterable[dict[str, Any]]) -> str:
    """The ``entry_sha256`` of the last entry (genesis zeros for an empty log)."""
    last = GENESIS
    for e in entries:
        last = str(e.get("entry_sha256"))
    return last


def item_label(path: str, member: str | None) -> str:
    """How an input is named in ``item_hashes``: its path as given, ``!/member`` for archive members."""
    return f"{path}!/{member}" if member else path


def hashed_items(entries: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """(item, sha256) pairs the ``hashed`` entries of a chain record."""
    out: set[tuple[str, str]] = set()
    for e in entries:
        if e.get("action") == "hashed" and isinstance(e.get("item_hashes"), dict):
            out.update((str(k), str(v)) for k, v in e["item_hashes"].items())
    return out


def without_custody(
    inputs: Iterable[tuple[str, str | None, str | None]], entries: Iterable[dict[str, Any]]
) -> dict[str, str]:
    """``{item: sha256}`` of inputs ``(path, member, sha256)`` no ``hashed`` entry records.

    Inputs recorded without their bytes (refused, unreadable) have no hash and need none.
    """
    have = hashed_items(entries)
    missing: dict[str, str] = {}
    for path, member, sha in inputs:
        if sha and (item_label(path, member), sha) not in have:
            missing[item_label(path, member)] = sha
    return dict(sorted(missing.items()))


def record_tool_step(
    case_root: Path,
    action: str,
    *,
    command: Sequence[str],
    purpose: str,
    item_hashes: dict[str, str] | None = None,
    evidence_ids: Iterable[str] = (),
    person: str | None = None,
    notes: str | None = None,
) -> dict[str, Any]:
    """Append the entry a tool step makes (ingest: ``hashed``; hunt: ``analysed``; export: ``exported``).

    ``person`` defaults to the login name running the tool, so the log says who ran it.
    """
    import getpass

    try:
        who: str | None = person or getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        who = person
    return append_entry(
        case_root, action, command=list(command), purpose=purpose, item_hashes=item_hashes or {},
        evidence_ids=list(evidence_ids), person=who, notes=notes,
    )  # fmt: skip
