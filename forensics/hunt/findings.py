"""Findings: what every detection kind produces, and how they are written to the case.

A finding names the rule that fired and the exact rows it fired on, each referenced by
``(input_sha256, rec_index)`` — the key of a row in ``events`` and of the raw record in its
input. Findings are written sorted, with ids derived from their content, so hunting the same
case with the same rules twice gives byte-identical files.

Files in the case (exposed as views by ``forensics.store``):
    findings/findings.parquet         one row per finding
    findings/finding_records.parquet  one row per (finding, record)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

LEVELS: tuple[str, ...] = ("informational", "low", "medium", "high", "critical")
KINDS: tuple[str, ...] = ("sigma", "correlation", "sql", "ioc", "yara")


@dataclass(frozen=True, slots=True, order=True)
class RecordRef:
    """A pointer to one row of ``events`` and so to one raw record."""

    input_sha256: str
    rec_index: int


@dataclass
class Finding:
    """One detection hit (a rule over one or more records)."""

    kind: str  # one of KINDS
    rule_id: str
    title: str
    level: str  # one of LEVELS
    host: str | None
    first_ts: datetime | None  # aware UTC
    last_ts: datetime | None
    records: list[RecordRef]
    attack: list[str] = field(default_factory=list)  # ATT&CK technique ids, e.g. T1110.003
    tactics: list[str] = field(default_factory=list)  # ATT&CK tactic names, e.g. credential-access
    summary: str = ""
    rule_path: str | None = None  # file the rule came from
    rule_sha256: str | None = None
    tlp: str | None = None  # for IOC hits: the IOC's TLP
    details: str | None = None  # canonical JSON with kind-specific facts (matched value, group key)

    @property
    def finding_id(self) -> str:
        """Stable id: the same rule over the same records always gets the same id."""
        h = hashlib.sha256()
        h.update(f"{self.kind}\x00{self.rule_id}\x00{self.host or ''}\x00".encode())
        for r in sorted(self.records):
            h.update(f"{r.input_sha256}:{r.rec_index};".encode())
        if self.details:
            h.update(self.details.encode())
        return h.hexdigest()[:24]
