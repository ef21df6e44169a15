"""Write hunt results into the case: the IOC table and the load-and-run report (findings: ``forensics.hunt.findings``).

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

from forensics.store import RUN_FILES


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


def write_iocs(folder: Path, table: pa.Table) -> Path:
    """Write the normalised IOC table (already sorted by its loader) as ``iocs.parquet`` of a hunt run."""
    return write_table(table, folder / RUN_FILES["iocs"])


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


def write_outcomes(folder: Path, outcomes: Sequence[Outcome]) -> Path:
    """Keep the SQL/IOC/YARA load-and-run report in a hunt run (``hunt_report.parquet``)."""
    return write_table(outcomes_table(outcomes), folder / RUN_FILES["hunt_report"])
