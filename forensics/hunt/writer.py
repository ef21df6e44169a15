"""Write hunt results into the case: findings, their records and the IOC table.

Every file is written sorted on a total order and through pyarrow with fixed options, to a
temporary name first and then moved in place, so the same hunt over the same case gives
byte-identical files and a crash never leaves half a file behind a view.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from forensics.hunt.findings import LEVELS, Finding
from forensics.schema import UTC_TS
from forensics.store import OPTIONAL_VIEWS, Case

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


def level_rank(level: str) -> int:
    """0 (informational) .. 4 (critical); unknown levels rank as informational."""
    try:
        return LEVELS.index(level)
    except ValueError:
        return 0


def sort_key(f: Finding) -> tuple[object, ...]:
    """Total order of findings: time, then kind, rule, host and id (null times last)."""
    ts = f.first_ts.isoformat() if f.first_ts is not None else "~"
    return (ts, f.kind, f.rule_id, f.host or "", f.finding_id)


def findings_table(findings: Sequence[Finding]) -> pa.Table:
    """The findings as an Arrow table in the order they are written."""
    keyed = sorted(((sort_key(f), i) for i, f in enumerate(findings)))
    cols: dict[str, list[object]] = {name: [] for name in FINDINGS_SCHEMA.names}
    for key, i in keyed:
        f = findings[i]
        cols["finding_id"].append(key[-1])
        cols["kind"].append(f.kind)
        cols["rule_id"].append(f.rule_id)
        cols["title"].append(f.title)
        cols["level"].append(f.level)
        cols["level_rank"].append(level_rank(f.level))
        cols["attack"].append(sorted(set(f.attack)))
        cols["tactics"].append(sorted(set(f.tactics)))
        cols["host"].append(f.host)
        cols["first_ts"].append(f.first_ts)
        cols["last_ts"].append(f.last_ts)
        cols["record_count"].append(len(set(f.records)))
        cols["summary"].append(f.summary)
        cols["rule_path"].append(f.rule_path)
        cols["rule_sha256"].append(f.rule_sha256)
        cols["tlp"].append(f.tlp)
        cols["details"].append(f.details)
    return pa.table(cols, schema=FINDINGS_SCHEMA)


def records_table(findings: Sequence[Finding]) -> pa.Table:
    """One row per (finding, record), sorted by finding id then record key."""
    rows: set[tuple[str, str, int]] = set()
    for f in findings:
        fid = f.finding_id  # a property hashing every record: compute it once per finding
        rows.update((fid, r.input_sha256, r.rec_index) for r in f.records)
    ordered = sorted(rows)
    return pa.table(
        {
            "finding_id": [r[0] for r in ordered],
            "input_sha256": [r[1] for r in ordered],
            "rec_index": [r[2] for r in ordered],
        },
        schema=RECORDS_SCHEMA,
    )


def write_table(table: pa.Table, dest: Path) -> Path:
    """Write ``table`` to ``dest`` atomically with fixed, deterministic options."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    pq.write_table(
        table,
        tmp,
        compression="zstd",
        row_group_size=256 * 1024,
        use_dictionary=True,
        write_statistics=True,
        store_schema=True,
    )
    os.replace(tmp, dest)
    return dest


def write_findings(case: Case, findings: Sequence[Finding]) -> tuple[Path, Path]:
    """Replace the case's findings files with ``findings`` (call ``case.refresh_views()`` after)."""
    f_path = write_table(findings_table(findings), case.root / OPTIONAL_VIEWS["findings"])
    r_path = write_table(
        locate_records(case, records_table(findings)), case.root / OPTIONAL_VIEWS["finding_records"]
    )
    return f_path, r_path


def locate_records(case: Case, records: pa.Table) -> pa.Table:
    """Add each record's ``record_id``, ``rec_offset`` and ``rec_line`` from ``events`` (null if unknown)."""
    con = case.con
    present = {r[0].lower() for r in con.execute("DESCRIBE events").fetchall()}
    where = [
        c if c in present else f"CAST(NULL AS BIGINT) AS {c}" for c in ("record_id", "rec_offset", "rec_line")
    ]
    con.register("finding_records_arrow", records)
    try:
        located = con.sql(
            "SELECT r.finding_id, r.input_sha256, r.rec_index, "
            "CAST(e.record_id AS BIGINT), CAST(e.rec_offset AS BIGINT), CAST(e.rec_line AS BIGINT) "
            "FROM finding_records_arrow r LEFT JOIN ("
            f"SELECT input_sha256, rec_index, {', '.join(where)} FROM events "
            "WHERE input_sha256 IN (SELECT DISTINCT input_sha256 FROM finding_records_arrow)"
            ") e ON r.input_sha256 = e.input_sha256 AND r.rec_index = e.rec_index "
            "ORDER BY 1, 2, 3"
        ).to_arrow_table()
    finally:
        con.unregister("finding_records_arrow")
    return located.rename_columns(LOCATED_SCHEMA.names).cast(LOCATED_SCHEMA)


def write_iocs(case: Case, table: pa.Table) -> Path:
    """Write the normalised IOC table (already sorted by its loader) as ``findings/iocs.parquet``."""
    return write_table(table, case.root / OPTIONAL_VIEWS["iocs"])


@dataclass(frozen=True)
class Outcome:
    """What a hunt reports about one rule, query, IOC document or YARA file.

    ``status``: ``ran`` (executed), ``loaded`` (IOC/YARA file read), ``skipped`` (not run, with
    the reason) or ``failed`` (could not be loaded or run, with the reason).
    """

    kind: str
    path: str
    rule_id: str | None
    status: str
    reason: str = ""
    count: int = 0  # findings produced, or indicators/rules loaded from the file


def outcomes_table(outcomes: Sequence[Outcome]) -> pa.Table:
    """Outcomes as a sorted Arrow table (for the report file and ``--json`` consumers)."""
    rows = sorted(outcomes, key=lambda o: (o.kind, o.path, o.rule_id or "", o.status, o.reason))
    return pa.table(
        {
            "kind": [o.kind for o in rows],
            "path": [o.path for o in rows],
            "rule_id": [o.rule_id for o in rows],
            "status": [o.status for o in rows],
            "reason": [o.reason for o in rows],
            "count": [o.count for o in rows],
        },
        schema=pa.schema(
            [
                ("kind", pa.string()),
                ("path", pa.string()),
                ("rule_id", pa.string()),
                ("status", pa.string()),
                ("reason", pa.string()),
                ("count", pa.int64()),
            ]
        ),
    )


def write_outcomes(case: Case, outcomes: Sequence[Outcome]) -> Path:
    """Keep the SQL/IOC/YARA load-and-run report in the case (``findings/hunt_report.parquet``)."""
    return write_table(outcomes_table(outcomes), case.root / OPTIONAL_VIEWS["hunt_report"])
