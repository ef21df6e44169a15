"""The bundle's layout, MANIFEST.json and the coreutils hash lists.

Member paths are fixed here so export and verify agree. MANIFEST.json lists every member but
itself and its signature, each with size, SHA-256, MD5 and role. ``hashes/SHA256SUMS`` and
``hashes/MD5SUMS`` list every member except the hash lists, MANIFEST.json and its signature
(the manifest names the hash lists, so they cannot name it back), in the format
``sha256sum -c`` reads: ``<hex>  <path>``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = "1"
MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.json.sig"
SHA256SUMS = "hashes/SHA256SUMS"
MD5SUMS = "hashes/MD5SUMS"
CUSTODY = "custody/chain_of_custody.jsonl"
COMMANDS = "provenance/commands.jsonl"
ENVIRONMENT = "provenance/environment.json"
RULES_DIR = "provenance/rules/"
RULES_INDEX = "provenance/rules/RULES.json"
INTEGRITY = "provenance/integrity.json"
RECORDS = "records/matched_records.jsonl"
FINDINGS_JSON = "findings/findings.json"
FINDINGS_CSV = "findings/findings.csv"
TIMELINE_CSV = "timeline/timeline.csv"
TIMELINE_JSONL = "timeline/timeline.jsonl"
REPORT_HTML = "report/report.html"
CERT_A = "report/certificate_partA.md"
CERT_B = "report/certificate_partB.md"
CERTIN = "report/certin_incident_report.txt"
VERIFY_MD = "VERIFY.md"
UNLISTED = (MANIFEST, SIGNATURE)  # the only members MANIFEST.json does not list
NOT_IN_SUMS = (MANIFEST, SIGNATURE, SHA256SUMS, MD5SUMS)


def role_of(path: str) -> str:
    """source | derived | report | provenance, by where the member sits."""
    if path.startswith("records/"):
        return "source"  # raw records exactly as found in the originals
    if path.startswith(("findings/", "timeline/")):
        return "derived"
    if path.startswith("report/") or path == VERIFY_MD:
        return "report"
    return "provenance"


def canonical(obj: Any) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8) for content that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def pretty(obj: Any) -> bytes:
    """Stable, human-readable JSON (sorted keys, 2-space indent, trailing newline)."""
    return (json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class FileEntry:
    """One member as the manifest lists it."""

    path: str
    size: int
    sha256: str
    md5: str
    role: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "md5": self.md5,
            "role": self.role,
        }


def file_entry(path: str, data: bytes) -> FileEntry:
    """Manifest entry for a member's bytes."""
    return FileEntry(
        path, len(data), hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest(), role_of(path)
    )


def sums_text(members: dict[str, bytes], algo: str) -> bytes:
    """A coreutils hash list over ``members`` (sorted by path, excluding NOT_IN_SUMS)."""
    lines = []
    for path in sorted(members):
        if path in NOT_IN_SUMS:
            continue
        digest = hashlib.new(algo, members[path]).hexdigest()
        lines.append(f"{digest}  {path}\n")
    return "".join(lines).encode("utf-8")


def parse_sums(text: bytes) -> tuple[dict[str, str], list[str]]:
    """``{path: hex}`` from a coreutils hash list, plus problems (malformed or repeated lines)."""
    out: dict[str, str] = {}
    problems: list[str] = []
    for n, line in enumerate(text.decode("utf-8", "replace").splitlines(), 1):
        digest, sep, path = line.partition("  ")
        if not sep and " *" in line:
            digest, _, path = line.partition(" *")
        if not path or not digest or any(c not in "0123456789abcdef" for c in digest):
            problems.append(f"line {n} is not '<hex>  <path>'")
            continue
        if path in out:
            problems.append(f"{path} listed twice")
        out[path] = digest
    return out, problems
