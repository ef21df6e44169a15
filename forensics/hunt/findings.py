"""Findings: what every detection kind produces, and how they are written to and read from the case.

A finding names the rule that fired and the exact rows it fired on, each referenced by
``(input_sha256, rec_index)`` — the key of a row in ``events`` and of the raw record in its
input. Findings are written sorted, with ids derived from their content, so hunting the same
case with the same rules twice gives byte-identical files.

This module is the one way findings cross layers: the hunt writes them with
``write_findings``; the timeline, story, report, Navigator layer and evidence bundle read them
with ``read_findings`` as typed ``Finding`` records, never as rows of the Parquet files.

Files (exposed as views by ``forensics.store``):
    findings.parquet         one row per finding
    finding_records.parquet  one row per (finding, record), with where the record is in its input
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from typing import Literal, get_args

import pyarrow as pa

from forensics.attack import norm_technique, tactics_for
from forensics.errors import CaseError
from forensics.hunt.writer import write_table
from forensics.schema import UTC_TS
from forensics.store import RUN_FILES, Case

Level = Literal["informational", "low", "medium", "high", "critical"]
Kind = Literal["sigma", "correlation", "sql", "ioc", "yara"]
LEVELS: tuple[Level, ...] = get_args(Level)  # least to most severe
KINDS: tuple[Kind, ...] = get_args(Kind)


def level_rank(level: Level) -> int:
    """0 (informational) .. 4 (critical). The one ranking of levels: exit codes, filters and reports."""
    return LEVELS.index(level)


def parse_level(text: object) -> Level | None:
    """A level from a rule, query row or file (any case, surrounding blanks ignored); None if not one."""
    s = str(text).strip().lower() if text is not None else ""
    for lv in LEVELS:
        if s == lv:
            return lv
    return None


@dataclass(frozen=True, slots=True, order=True)
class RecordRef:
    """A pointer to one row of ``events`` and so to one raw record."""

    input_sha256: str
    rec_index: int


# RecordRef's order as a key: sorting 50,000 records with the dataclass's ``__lt__`` (a tuple built
# per comparison) cost a hunt half a second; the key compares the same fields in C
record_key = attrgetter("input_sha256", "rec_index")


@dataclass(frozen=True, slots=True)
class Finding:
    """One detection hit (a rule over one or more records).

    ``records``, ``attack`` and ``tactics`` are kept sorted and without repeats. ``finding_id``
    is derived from the content (kind, rule, host, records, details) when not given;
    ``dataclasses.replace`` keeps it (a finding shown under a host's display name is still the
    same finding) — use ``rekeyed`` when a change makes it another finding.
    """

    kind: Kind
    rule_id: str
    title: str
    level: Level
    host: str | None
    first_ts: datetime | None  # aware UTC
    last_ts: datetime | None
    records: Sequence[RecordRef]  # stored as a sorted tuple
    attack: Sequence[str] = ()  # ATT&CK technique tags as the rule gave them, e.g. T1110.003
    tactics: Sequence[str] = ()  # ATT&CK tactic tags as the rule gave them, e.g. credential-access
    summary: str = ""
    rule_path: str | None = None  # file the rule came from
    rule_sha256: str | None = None
    tlp: str | None = None  # for IOC hits: the IOC's TLP
    details: str | None = None  # canonical JSON with kind-specific facts (matched value, group key)
    finding_id: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}; one of {', '.join(KINDS)}")
        if self.level not in LEVELS:
            raise ValueError(f"unknown finding level {self.level!r}; one of {', '.join(LEVELS)}")
        object.__setattr__(self, "records", tuple(sorted(set(self.records), key=record_key)))
        object.__setattr__(self, "attack", tuple(sorted(set(self.attack))))
        object.__setattr__(self, "tactics", tuple(sorted(set(self.tactics))))
        if not self.finding_id:
            object.__setattr__(self, "finding_id", content_id(self))

    def rekeyed(self, **changes: object) -> Finding:
        """A copy with ``changes`` and the id derived again (for changes of host, records or details)."""
        from dataclasses import replace

        return replace(self, finding_id="", **changes)  # type: ignore[arg-type]

    @property
    def rank(self) -> int:
        """``level_rank`` of the finding's level."""
        return level_rank(self.level)

    @property
    def techniques(self) -> list[str]:
        """ATT&CK technique ids, normalised (``attack.t1059.001`` → ``T1059.001``) and sorted."""
        return sorted({t for t in (norm_technique(x) for x in self.attack) if t})

    @property
    def tactic_names(self) -> list[str]:
        """ATT&CK tactics in kill-chain order: the rule's own tags, else those of its techniques."""
        return tactics_for(self.techniques, list(self.tactics))


def content_id(f: Finding) -> str:
    """Stable id: the same rule over the same records always gets the same id."""
    h = hashlib.sha256()
    h.update(f"{f.kind}\x00{f.rule_id}\x00{f.host or ''}\x00".encode())
    # sorted by __post_init__; one update of the records' text (the same bytes as one per record)
    h.update("".join([f"{r.input_sha256}:{r.rec_index};" for r in f.records]).encode())
    if f.details:
        h.update(f.details.encode())
    return h.hexdigest()[:24]


# ---- writing -------------------------------------------------------------------------------------

FINDINGS_SCHEMA = pa.schema(
    [
        ("finding_id", pa.string()),
        ("kind", pa.string()),
        ("rule_id", pa.string()),
        ("title", pa.string()),
        ("level", pa.string()),
        ("level_rank", pa.int8()),
        ("attack", pa.list_(pa.string())),
        ("tactics", pa.list_(pa.string())),
        ("host", pa.string()),
        ("first_ts", UTC_TS),
        ("last_ts", UTC_TS),
        ("record_count", pa.int64()),
        ("summary", pa.string()),
        ("rule_path", pa.string()),
        ("rule_sha256", pa.string()),
        ("tlp", pa.string()),
        ("details", pa.string()),
    ]
)

RECORDS_SCHEMA = pa.schema(
    [
        ("finding_id", pa.string()),
        ("input_sha256", pa.string()),
        ("rec_index", pa.int64()),
    ]
)
# What finding_records.parquet holds: the key plus where the raw record is in its input.
LOCATED_SCHEMA = pa.schema(
    [
        *RECORDS_SCHEMA,
        ("record_id", pa.int64()),
        ("rec_offset", pa.int64()),
        ("rec_line", pa.int64()),
    ]
)


def sort_key(f: Finding) -> tuple[str, str, str, str, str]:
    """Total order of findings in the file: time, then kind, rule, host and id (null times last)."""
    ts = f.first_ts.isoformat() if f.first_ts is not None else "~"
    return (ts, f.kind, f.rule_id, f.host or "", f.finding_id)


def findings_table(findings: Sequence[Finding]) -> pa.Table:
    """The findings as an Arrow table in the order they are written."""
    ordered = sorted(findings, key=sort_key)
    return pa.table(
        {
            "finding_id": [f.finding_id for f in ordered],
            "kind": [f.kind for f in ordered],
            "rule_id": [f.rule_id for f in ordered],
            "title": [f.title for f in ordered],
            "level": [f.level for f in ordered],
            "level_rank": [f.rank for f in ordered],
            "attack": [list(f.attack) for f in ordered],
            "tactics": [list(f.tactics) for f in ordered],
            "host": [f.host for f in ordered],
            "first_ts": [f.first_ts for f in ordered],
            "last_ts": [f.last_ts for f in ordered],
            "record_count": [len(f.records) for f in ordered],
            "summary": [f.summary for f in ordered],
            "rule_path": [f.rule_path for f in ordered],
            "rule_sha256": [f.rule_sha256 for f in ordered],
            "tlp": [f.tlp for f in ordered],
            "details": [f.details for f in ordered],
        },
        schema=FINDINGS_SCHEMA,
    )


def records_table(findings: Sequence[Finding]) -> pa.Table:
    """One row per (finding, record), sorted by finding id then record key."""
    rows = sorted({(f.finding_id, r.input_sha256, r.rec_index) for f in findings for r in f.records})
    return pa.table(
        {
            "finding_id": [r[0] for r in rows],
            "input_sha256": [r[1] for r in rows],
            "rec_index": [r[2] for r in rows],
        },
        schema=RECORDS_SCHEMA,
    )


def write_findings(case: Case, findings: Sequence[Finding], folder: Path) -> tuple[Path, Path]:
    """Write ``findings.parquet`` and ``finding_records.parquet`` of a hunt run into ``folder``
    (``forensics.hunt.runs`` makes the folder and commits it); returns both paths."""
    f_path = write_table(findings_table(findings), folder / RUN_FILES["findings"])
    r_path = write_table(locate_records(case, records_table(findings)), folder / RUN_FILES["finding_records"])
    return f_path, r_path


def locate_records(case: Case, records: pa.Table) -> pa.Table:
    """Add each record's ``record_id``, ``rec_offset`` and ``rec_line`` from ``events`` (null if unknown)."""
    con = case.con
    con.execute("SELECT 1").fetchall()  # ends a caller's unread result: DuckDB refuses new work before
    con.register("finding_records_arrow", records)
    try:
        located = con.sql(
            "SELECT r.finding_id, r.input_sha256, r.rec_index, "
            "CAST(e.record_id AS BIGINT), CAST(e.rec_offset AS BIGINT), CAST(e.rec_line AS BIGINT) "
            "FROM finding_records_arrow r LEFT JOIN ("
            "SELECT input_sha256, rec_index, record_id, rec_offset, rec_line FROM events "
            "WHERE input_sha256 IN (SELECT DISTINCT input_sha256 FROM finding_records_arrow)"
            ") e ON r.input_sha256 = e.input_sha256 AND r.rec_index = e.rec_index "
            "ORDER BY 1, 2, 3"
        ).to_arrow_table()
    finally:
        con.unregister("finding_records_arrow")
    return located.rename_columns(LOCATED_SCHEMA.names).cast(LOCATED_SCHEMA)


# ---- reading -------------------------------------------------------------------------------------


def read_findings(case: Case, run: str | None = None) -> list[Finding]:
    """The findings of hunt run ``run`` of the case (None: the latest; a number or id, see
    ``Case.resolve_run``), in time order (untimed last, ties by id); empty when never hunted."""
    run_id = case.resolve_run(run)
    if run_id is None:
        return []
    folder = case.run_dir(run_id)
    found, located = folder / RUN_FILES["findings"], folder / RUN_FILES["finding_records"]
    if not found.is_file():
        raise CaseError(f"hunt run {run_id} of {case.root} has no {found.name}")
    con = case.con
    con.execute("SET TimeZone = 'UTC'").fetchall()
    refs: dict[str, list[RecordRef]] = {}
    if located.is_file():
        rows = con.execute(
            "SELECT finding_id, input_sha256, rec_index FROM read_parquet(?) ORDER BY ALL",
            [str(located.resolve())],
        ).fetchall()
        for fid, sha, idx in rows:
            refs.setdefault(fid, []).append(RecordRef(sha, int(idx)))
    cur = con.execute(
        "SELECT finding_id, kind, rule_id, title, level, attack, tactics, host, first_ts, last_ts, summary, "
        "rule_path, rule_sha256, tlp, details FROM read_parquet(?) ORDER BY first_ts NULLS LAST, finding_id",
        [str(found.resolve())],
    )
    return [_finding(row, refs.get(str(row[0]), ())) for row in cur.fetchall()]


def _utc(ts: datetime | None) -> datetime | None:
    return ts.astimezone(UTC) if ts is not None else None


def _finding(row: tuple[object, ...], records: Iterable[RecordRef]) -> Finding:
    fid, kind, rule_id, title, level, attack, tactics, host, first, last, summary, path, sha, tlp, details = (
        row
    )
    lv = parse_level(level)
    if lv is None:
        raise ValueError(f"finding {fid}: level {level!r} is not one of {', '.join(LEVELS)}")
    return Finding(
        kind=str(kind),  # type: ignore[arg-type]  # checked by Finding
        rule_id=str(rule_id),
        title=str(title or ""),
        level=lv,
        host=host,  # type: ignore[arg-type]
        first_ts=_utc(first),  # type: ignore[arg-type]
        last_ts=_utc(last),  # type: ignore[arg-type]
        records=tuple(records),
        attack=list(attack or ()),  # type: ignore[call-overload]
        tactics=list(tactics or ()),  # type: ignore[call-overload]
        summary=str(summary or ""),
        rule_path=path,  # type: ignore[arg-type]
        rule_sha256=sha,  # type: ignore[arg-type]
        tlp=tlp,  # type: ignore[arg-type]
        details=details,  # type: ignore[arg-type]
        finding_id=str(fid),  # as stored: the records file names the finding by it
    )
