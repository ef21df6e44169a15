"""The events a hunt run's findings fired on, read from the case once and shared by every output.

The timeline, the csv-timeline and the report each show the records the findings point to; each
used to read them from ``events`` on its own (a scan of every part file, all 400-odd columns
decoded for the report and the csv-timeline). ``hit_records`` reads them once per connection,
every column of ``events`` in its order, into an Arrow table that is also registered on the
connection as ``_hit_events`` (SQL joins read it there; whole rows are taken from it in Arrow, by
key, without DuckDB converting 400 columns again). It is handed out again while the committed
events and the findings are the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from forensics.facts import set_state, settle, state
from forensics.hunt.findings import Finding
from forensics.store import Case

HITS = "_hit_events"
_KEYS = "_hit_keys"


@dataclass(frozen=True)
class HitRecords:
    """The records findings fired on: every events column, one row per record."""

    name: str  # the relation registered on the case connection
    table: pa.Table
    rows: dict[tuple[str, int], int]  # (input_sha256, rec_index) -> row in ``table``

    def take(self, keys: Iterable[tuple[str, int]], columns: Sequence[str] | None = None) -> pa.Table:
        """The rows of ``keys`` (each must be a hit record), in that order; ``columns`` (default all)."""
        table = self.table if columns is None else self.table.select(list(columns))
        return table.take(pa.array([self.rows[k] for k in keys], pa.int64()))


# one per connection: what it was made from (the session's state table says whether it still holds)
_MADE: dict[int, tuple[str, HitRecords]] = {}


def hit_records(case: Case, findings: Sequence[Finding]) -> HitRecords:
    """Every ``events`` column of each record ``findings`` fired on (once per record, whatever the
    number of findings), read on first use: one scan of the events."""
    settle(case)
    refs = sorted({(r.input_sha256, r.rec_index) for f in findings for r in f.records})
    digest = hashlib.sha256("\n".join(f"{sha}:{idx}" for sha, idx in refs).encode()).hexdigest()
    key = f"{case.events_state()}/{digest}"
    made = _MADE.get(id(case.con))
    if made is not None and made[0] == key and state(case, "hits") == key:
        return made[1]
    con = case.con
    con.register(_KEYS, pa.table({
        "input_sha256": pa.array([r[0] for r in refs], pa.string()),
        "rec_index": pa.array([r[1] for r in refs], pa.int64()),
    }))  # fmt: skip
    try:
        # kept as Arrow: a DuckDB temp table of 400-odd columns costs several times the scan to
        # write, and every reader projects a few columns or takes a few rows
        # every column of a few thousand rows: read only the part files that hold them (a narrow
        # scan finds those), not every column of every file (5x less at 2 M events)
        files = case.event_files(_KEYS)
        table = con.sql(
            f"SELECT e.* FROM ({case.events_in(files)}) e "
            f"SEMI JOIN {_KEYS} k ON e.input_sha256 = k.input_sha256 AND e.rec_index = k.rec_index"
        ).to_arrow_table()
    finally:
        con.unregister(_KEYS)
    con.unregister(HITS)
    con.register(HITS, table)
    rows = {
        k: i
        for i, k in enumerate(
            zip(table.column("input_sha256").to_pylist(), table.column("rec_index").to_pylist(), strict=True)
        )
    }
    hits = HitRecords(HITS, table, rows)
    _MADE[id(case.con)] = (key, hits)
    set_state(case, "hits", key)
    return hits


def share_hits(case: Case, other: Case) -> None:
    """Hand the hit records last read on ``case``'s connection to ``other``'s (a ``Case.sibling``),
    as if read there: the same Arrow table registered under the same name, nothing read again."""
    made = _MADE.get(id(case.con))
    if made is None:
        return
    key, hits = made
    other.con.register(HITS, hits.table)
    _MADE[id(other.con)] = made
    set_state(other, "hits", key)


def hit_events(case: Case, findings: Sequence[Finding]) -> str:
    """The name of the relation ``hit_records`` registered (for SQL joins)."""
    return hit_records(case, findings).name
