"""The events a hunt run's findings fired on, read from the case once and shared by every output.

The timeline, the csv-timeline and the report each show the records the findings point to; each
used to read them from ``events`` on its own (a scan of every part file, all 400-odd columns
decoded for the report and the csv-timeline). ``hit_events`` reads them once per connection into
a temporary table with every column of ``events`` (in its order), and hands its name out again
while the committed events and the findings are the same.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa

from forensics.facts import EVENTS, set_state, settle, state
from forensics.hunt.findings import Finding
from forensics.store import Case

HITS = "_hit_events"
_KEYS = "_hit_keys"


def hit_events(case: Case, findings: Sequence[Finding]) -> str:
    """The relation (an Arrow table registered on the connection) holding every ``events`` column of each record ``findings`` fired on (once
    per record, whatever the number of findings), made on first use: one scan of the events."""
    settle(case)
    refs = sorted({(r.input_sha256, r.rec_index) for f in findings for r in f.records})
    digest = hashlib.sha256("\n".join(f"{sha}:{idx}" for sha, idx in refs).encode()).hexdigest()
    key = f"{case.events_state()}/{digest}"
    if state(case, "hits") == key:
        return HITS
    con = case.con
    con.register(_KEYS, pa.table({
        "input_sha256": pa.array([r[0] for r in refs], pa.string()),
        "rec_index": pa.array([r[1] for r in refs], pa.int64()),
    }))  # fmt: skip
    try:
        # kept as Arrow and registered: a DuckDB temp table of 400-odd columns costs several
        # times the scan to write, and every reader here projects a few columns or a few rows
        table = con.sql(
            f"SELECT e.* FROM {EVENTS} e "
            f"SEMI JOIN {_KEYS} k ON e.input_sha256 = k.input_sha256 AND e.rec_index = k.rec_index"
        ).to_arrow_table()
    finally:
        con.unregister(_KEYS)
    con.unregister(HITS)
    con.register(HITS, table)
    set_state(case, "hits", key)
    return HITS
