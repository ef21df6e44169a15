"""Where the Sigma plan meets the data: the four things it asks of an engine.

The plan (rules grouped by log-source predicate, converted for each group's columns, one scan per
group in chunks, per-value evaluation on big groups, correlation windows over the base rules'
events) is the same whichever engine runs it. It asks the engine for: the statistics that say
which parts each group reads (``stats``), a group's columns (``schema``), the rows each chunk of
rules matches (``execute``) and a base rule's events with extra fields (``select``, for
correlations). ``DuckData`` answers from the case's DuckDB connection;
``forensics.spark.sigma.SparkSigmaData`` from a Spark session over the same parts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from forensics.hunt.sigma import prune
from forensics.hunt.sigma.backend import FALSE
from forensics.hunt.sigma.plan import (
    CHUNK,
    DISTINCT_ROWS,
    TUPLE_ROWS,
    Group,
    Schema,
    _stats,
    _wide_columns,
    derived_of,
    group_from,
    group_schema,
    run_group,
    texts_of,
)

# rows a group's rules matched: (input_sha256, rec_index, host, ts, hits) with hits the
# comma-separated indexes of the rules that matched the row
MatchRow = tuple[str, int, str | None, Any, str]


@dataclass
class GroupJob:
    """Rules of one group run together: their (index, SQL) and every column the group's rules read."""

    group: Group
    terms: list[tuple[int, str]]
    columns: set[str] = field(default_factory=set)
    needs: dict[int, prune.Need] = field(default_factory=dict)  # rule index -> what it needs of the text
    prune_in_run: bool = False  # the run leaves out rules its group's distinct tuples cannot match


class SigmaData(Protocol):
    """What the Sigma plan asks of an engine."""

    name: str

    def stats(self) -> pa.Table:
        """Rows per value of the predicate columns over all events (``plan.stats_sql``)."""
        ...

    def parts(self) -> list[tuple[str, Any, Any]]:
        """``(path, source, channel)`` of every committed part, sorted by path."""
        ...

    def schema(self, files: Sequence[str]) -> Schema:
        """Union columns (DuckDB type names) of a group's part files."""
        ...

    def execute(self, jobs: Sequence[GroupJob]) -> list[tuple[list[MatchRow], dict[int, str]]]:
        """Per job: matched rows, and rules that failed with the reason."""
        ...

    def select(self, group: Group, used: set[str], extra: Sequence[str], where: str) -> list[tuple[Any, ...]]:
        """``input_sha256, rec_index, host, ts`` and ``extra`` of the group's rows where ``where`` holds."""
        ...


def plan_jobs(by_pred: dict[str, list[int]], groups: dict[str, Group], sql: dict[int, tuple[str, set[str]]],
              needs: dict[int, prune.Need] | None = None) -> list[GroupJob]:  # fmt: skip
    """The scans of a hunt: a big group as one job (it materialises once, then works per value or
    per distinct tuple), a small one in chunks that can run side by side; biggest first, which
    balances a pool. ``needs``: each rule's ``prune.requirement`` (computed here when not given)."""
    jobs: list[GroupJob] = []
    for pred in sorted(by_pred):
        group = groups.get(pred)
        if group is None or not group.files:
            continue
        # a rule whose every field is missing from the group folded to FALSE at conversion: it
        # matches no row and has nothing to bind, so it is not sent (on its own, a per-row scan)
        idxs = sorted(i for i in by_pred[pred] if sql[i][0] != FALSE)
        if not idxs:
            continue
        cols: set[str] = set()  # the whole group's: its derived columns are shared by every chunk
        for i in idxs:
            cols |= sql[i][1]
        got = {i: needs[i] if needs is not None and i in needs else prune.requirement(sql[i][0]) for i in idxs}
        jobs.extend(_chunked(group, [(i, sql[i][0]) for i in idxs], cols, got))
    jobs.sort(key=lambda j: -len(j.terms))
    return jobs


def _chunked(group: Group, terms: list[tuple[int, str]], cols: set[str],
             needs: dict[int, prune.Need]) -> list[GroupJob]:  # fmt: skip
    if group.rows >= TUPLE_ROWS:
        return [GroupJob(group, terms, cols, needs)]
    return [GroupJob(group, terms[start : start + CHUNK], cols, needs) for start in range(0, len(terms), CHUNK)]


# Asking a group for its text costs about as much as binding this many rules: below it, bind them.
PRUNE_MIN_RULES = 20


def group_texts(
    con: duckdb.DuckDBPyConnection, group: Group, cols: set[str], read: list[str], source: str | None = None
) -> dict[str, str | None]:
    """Distinct values of the group's lower-cased derived columns ``read`` (``"__l<k>"``), joined by
    newlines. ``source``: a relation holding the group's rows instead of its files (``group_from``)."""
    cur = con.cursor()
    try:
        cur.execute("PRAGMA disable_optimizer")
        src = group_from(group, cols, source, derived={c.strip('"') for c in read})
        return texts_of(cur, src, read)
    finally:
        cur.close()


def _without_unmatchable(con: duckdb.DuckDBPyConnection, group_jobs: list[GroupJob]) -> list[GroupJob]:
    """``without_unmatchable`` on DuckDB: mid-sized groups ask the tuple table they build anyway."""
    return without_unmatchable(group_jobs, partial(group_texts, con), tuple_table=True)


def merged(group_jobs: Sequence[GroupJob]) -> GroupJob:
    """One group's jobs (its rules chunked for a thread pool) as one job: every rule, in index
    order, with the columns and needs of all."""
    terms = sorted(t for j in group_jobs for t in j.terms)
    cols: set[str] = set().union(*(j.columns for j in group_jobs))
    needs = {i: n for j in group_jobs for i, n in j.needs.items()}
    return GroupJob(group_jobs[0].group, terms, cols, needs)


def without_unmatchable(
    group_jobs: list[GroupJob],
    group_texts: Callable[[Group, set[str], list[str]], dict[str, str | None]],
    *,
    tuple_table: bool,
) -> list[GroupJob]:
    """One group's jobs without the rules no row of it can match (``prune``), chunked again.

    A rule whose need fails on the distinct values of the columns it names matches nothing, and is
    left out before the engine binds it. ``group_texts`` reads those values (each engine its own
    way). Keyword rules' joined text is not read (too wide): needs on it count as met.
    ``tuple_table``: a mid-sized group is asked in its run, of the distinct-tuple table it builds.
    """
    whole = merged(group_jobs)
    group, terms, cols, needs = whole.group, whole.terms, whole.columns, whole.needs
    if len(terms) < PRUNE_MIN_RULES:
        return group_jobs
    if tuple_table and TUPLE_ROWS <= group.rows < DISTINCT_ROWS:
        return [GroupJob(group, terms, cols, needs, prune_in_run=True)]  # asked of its tuple table
    wide = {f'"{w}"' for w in _wide_columns(group)}
    read = sorted(prune.needed_columns(needs.get(i) for i, _ in terms) - wide)
    if not read:
        return group_jobs
    texts = group_texts(group, cols, read)
    ok = prune.matchable(texts)
    kept = [(i, sql) for i, sql in terms if ok(needs.get(i))]
    return _chunked(group, kept, cols, needs) if kept else []


class DuckData:
    """The Sigma plan on the case's DuckDB connection."""

    name = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection, root: Path) -> None:
        self.con = con
        self.root = root

    def stats(self) -> pa.Table:
        """See ``SigmaData.stats``."""
        return _stats(self.con)

    def parts(self) -> list[tuple[str, Any, Any]]:
        """See ``SigmaData.parts``."""
        rows = self.con.execute("SELECT path, source, channel FROM parts ORDER BY path").fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def schema(self, files: Sequence[str]) -> Schema:
        """See ``SigmaData.schema``."""
        return group_schema(self.con, files)

    def execute(self, jobs: Sequence[GroupJob]) -> list[tuple[list[MatchRow], dict[int, str]]]:
        """Groups on a small thread pool, each on its own cursor: DuckDB releases the GIL while it
        plans and scans, and planning a big group is single-threaded, so two groups at once use the
        machine's cores."""
        by_group: dict[str, list[GroupJob]] = {}
        for j in jobs:
            by_group.setdefault(j.group.predicate, []).append(j)
        workers = max(1, min(len(jobs), os.cpu_count() or 1, 4))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pruned = pool.map(lambda js: _without_unmatchable(self.con, js), [by_group[p] for p in sorted(by_group)])
            kept = sorted((j for js in pruned for j in js), key=lambda j: -len(j.terms))
            return list(pool.map(lambda j: run_group(self.con, j.group, j.terms, j.columns,
                                                     j.needs if j.prune_in_run else None), kept))  # fmt: skip

    def select(self, group: Group, used: set[str], extra: Sequence[str], where: str) -> list[tuple[Any, ...]]:
        """See ``SigmaData.select``."""
        cols = "".join(f", {e}" for e in extra)
        # only the derived columns the condition and fields read (a group's full list can hold the
        # keyword rules' join of every text column)
        derived = derived_of([(0, where), *((0, e) for e in extra)])
        sql = f"SELECT input_sha256, rec_index, host, ts{cols} FROM {group_from(group, used, derived=derived)} AS g WHERE {where}"
        return self.con.execute(sql).fetchall()
