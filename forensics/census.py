"""The census of a case's events: how many of each kind, where and when, counted in one scan.

The integrity assessment's coverage (per host, source and channel), the report's Event-ids
metrics (per host, channel and event id) and its host metrics (per host) are all counts, first
and last times of the same events grouped a little differently. ``census`` groups the events once
by everything those need (host, source, channel, event id, the program of records without one,
time zone and whether it was assumed) into a small table each of them regroups, instead of three
scans of every part file. Kept per connection while the committed events are the same.
"""

from __future__ import annotations

import pyarrow as pa

from forensics.facts import EVENTS, set_state, settle, state
from forensics.store import Case

CENSUS = "_census"
_MADE: dict[int, tuple[str, pa.Table]] = {}  # per connection: what it was counted from, and the table


def census(case: Case) -> str:
    """The name of the census relation (an Arrow table registered on the case connection): one row
    per (host, source, channel, event_id, program, ts_zone, assumed) with ``cnt``, ``first_ts``, ``last_ts``."""
    settle(case)
    key = case.events_state()
    made = _MADE.get(id(case.con))
    if made is not None and made[0] == key and state(case, "census") == key:
        return CENSUS
    con = case.con
    table = con.sql(f"""
        SELECT host, source, channel, event_id, CASE WHEN event_id IS NULL THEN provider END AS program,
               ts_zone, coalesce(ts_assumed, false) AS assumed,
               count(*) AS cnt, min(ts) AS first_ts, max(ts) AS last_ts
        FROM {EVENTS} GROUP BY ALL
    """).to_arrow_table()  # fmt: skip
    con.unregister(CENSUS)
    con.register(CENSUS, table)
    _MADE[id(con)] = (key, table)
    set_state(case, "census", key)
    return CENSUS
