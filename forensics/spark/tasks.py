"""The Sigma scans as Spark tasks that each run DuckDB over a share of the parts (``--spark-sigma duckdb``).

Spark SQL evaluates the rules' string tests row by row in generated Java, and every query pays
planning, code generation and a Parquet reader per part file: measured on one machine, 8-13x
DuckDB's CPU per event (docs/spark.md). Here Spark does what it is best at — scheduling tasks
over a cluster's cores, retrying lost ones, reading where the data lies — and each task runs the
same plan DuckDB runs locally (``plan.run_group``: per distinct tuple, per value, per row) over
its work unit: one group's rules and a slice of that group's part files of about ``UNIT_ROWS``
rows. A Sigma rule that is not a correlation matches one record at a time, so the union of the
units' matches is the group's; correlations, the statistics and a base rule's events for a
correlation (``select``) still run in Spark SQL, as in ``forensics.spark.sigma``.

The units' matches come back to the driver, which turns them into findings exactly as with
DuckDB: the same ``finding_id``s. A rule that fails in one unit (DuckDB refuses its SQL) is
failed for the hunt, and its matches from other units are dropped, as a failing rule yields
nothing on DuckDB. A unit that fails on an executor fails the hunt with the reason: never a
group silently missing.

Executors need the ``forensics`` package (as for ``batch --engine spark``) and must read the
parts as files: the case's dataset URI is a ``file://`` path there (local, NFS, a mounted share).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlparse

import duckdb
import pyarrow as pa

from forensics.errors import EngineError
from forensics.hunt.sigma.data import GroupJob, MatchRow, group_texts, merged, without_unmatchable
from forensics.hunt.sigma.plan import PREDICATE_COLUMNS, Group, read_parquet, run_group
from forensics.hunt.sigma.sqlutil import quote_ident
from forensics.schema import CORE, duck_type
from forensics.spark.batch import SparkExecutor, UnitFailed
from forensics.spark.connection import SparkConnection
from forensics.spark.dataset import part_uri
from forensics.spark.sigma import SparkSigmaData

# Rows per work unit of a big group. Each unit plans the group's queries again (planning hundreds
# of rule terms is most of a small scan's cost), so units are large; a case of 20 M events still
# makes about 40 of them, enough to keep a 32-core cluster busy.
UNIT_ROWS = 500_000
# Rows per statistics task: it reads five small columns, so far more rows per task.
STATS_ROWS = 5_000_000
T = TypeVar("T")
_VIEW = "unit_rows"


class SparkTaskSigmaData(SparkSigmaData):
    """The Sigma plan's scans run by DuckDB inside Spark tasks; the rest as ``SparkSigmaData``."""

    name = "spark-duckdb"

    def __init__(self, conn: SparkConnection, use_cache: bool = True, unit_rows: int = UNIT_ROWS) -> None:
        super().__init__(conn, use_cache)
        self.unit_rows = unit_rows
        self.root = file_root(conn.dataset.base)
        self.units = 0  # work units the last ``execute`` sent, for the run record and the bench

    def stats(self) -> pa.Table:
        """See ``SigmaData.stats``: each task counts a slice of the parts (``STATS_ROWS`` rows),
        the driver adds the counts up. The same table ``stats_sql`` gives over ``events``."""
        rows = self.conn.case.con.execute("SELECT path, rows FROM parts ORDER BY path").fetchall()
        slices = [[self.path(rel) for rel in part] for part in _slices(rows, STATS_ROWS)]
        if not slices:
            return run_stats([])
        tables = self._run(run_stats, slices)
        keys = list(PREDICATE_COLUMNS)
        total = pa.concat_tables(tables).group_by(keys, use_threads=False).aggregate([("n", "sum")])
        return pa.table({**{k: total.column(k) for k in keys}, "n": total.column("n_sum")})

    def execute(self, jobs: Sequence[GroupJob]) -> list[tuple[list[MatchRow], dict[int, str]]]:
        """See ``SigmaData.execute``: every job split into work units, run on the executors."""
        self.conn.ensure_events()  # correlations select a base rule's events on Spark afterwards
        if not jobs:
            return []
        rows_of = dict(self.conn.case.con.execute("SELECT path, rows FROM parts").fetchall())
        units = [
            u
            for j in whole_groups(jobs)
            for u in split(j, self.dataset.rel, rows_of, self.path, self.unit_rows)
        ]
        units.sort(key=lambda u: -u.group.rows)  # biggest first: the tail of the job list is short
        self.units = len(units)
        return [merge(self._run(run_unit, units))]

    def _run(self, fn: Callable[[Any], T], args: Sequence[Any]) -> list[T]:
        """``fn`` over ``args`` on the executors, one task each; a task that fails fails the hunt."""
        executor = SparkExecutor(self.spark)
        try:
            futures: list[Future[T]] = [executor.submit(fn, a) for a in args]
            return [_result(f) for f in futures]
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

    def path(self, rel: str) -> str:
        """A part's path as the executors open it."""
        return str(self.root / part_uri("", rel).lstrip("/"))


def whole_groups(jobs: Sequence[GroupJob]) -> list[GroupJob]:
    """One job per group: a small group's rules come chunked for a local thread pool, but each
    Spark task costs a dispatch and a DuckDB of its own, and a unit chunks its rules again."""
    by_group: dict[str, list[GroupJob]] = {}
    for j in jobs:
        by_group.setdefault(j.group.predicate, []).append(j)
    return [merged(by_group[pred]) for pred in sorted(by_group)]


def split(
    job: GroupJob,
    rel: Callable[[str], str],
    rows_of: Mapping[str, int],
    path: Callable[[str], str],
    unit_rows: int = UNIT_ROWS,
) -> list[GroupJob]:
    """``job`` as work units: its group's part files in slices of about ``unit_rows`` rows (in
    path order), each with the group's schema and its share of the group's row count (which only
    chooses how the unit evaluates: per tuple, per value or per row). ``rel`` names a part as the
    catalogue does, ``rows_of`` says its rows, ``path`` gives the path the executors open."""
    rels = sorted(rel(f) for f in job.group.files)
    slices = _slices([(r, rows_of.get(r)) for r in rels], unit_rows) or [[]]
    total = sum(int(rows_of.get(r) or 0) for r in rels) or 1
    units = []
    for part in slices:
        share = sum(int(rows_of.get(r) or 0) for r in part)
        rows = round(job.group.rows * share / total) if len(slices) > 1 else job.group.rows
        group = dataclasses.replace(job.group, files=[path(r) for r in part], rows=rows)
        units.append(dataclasses.replace(job, group=group))
    return units


def _slices(sized: Sequence[tuple[str, int | None]], limit: int) -> list[list[str]]:
    """Names in order, cut into runs that each reach ``limit`` rows (the last may hold fewer)."""
    slices: list[list[str]] = []
    held = limit
    for name, rows in sized:
        if held >= limit:
            slices.append([])
            held = 0
        slices[-1].append(name)
        held += int(rows or 0)
    return slices


def file_root(base: str) -> Path:
    """The local folder of a ``file://`` dataset URI; any other scheme is refused with the reason."""
    uri = urlparse(base)
    if uri.scheme != "file":
        raise EngineError(
            f"--spark-sigma duckdb reads the case's parts as files on the executors; the dataset at "
            f"{base} is not a file:// path (mount it, or use --spark-sigma sql)"
        )
    return Path(unquote(uri.path))


def run_unit(job: GroupJob) -> tuple[list[MatchRow], dict[int, str]]:
    """One work unit, on an executor: the group's rules over its slice of part files, in an
    in-memory DuckDB on one thread (the task is one of Spark's cores). Rules the slice's distinct
    values cannot match are left out first, as a local hunt does."""
    con = duckdb.connect(config={"threads": "1", "temp_directory": tempfile.gettempdir()})
    try:
        src = unit_view(con, job.group)
        rows: list[MatchRow] = []
        failed: dict[int, str] = {}
        for j in without_unmatchable([job], partial(group_texts, con, source=src), tuple_table=True):
            needs = j.needs if j.prune_in_run else None
            got, f = run_group(con, j.group, j.terms, j.columns, needs, source=src)
            rows.extend(got)
            failed.update(f)
        return rows, failed
    finally:
        con.close()


def unit_view(con: duckdb.DuckDBPyConnection, group: Group) -> str:
    """A view of the slice's rows with every column of the group's schema, typed as the whole
    group types it: a slice may lack a column other parts have (NULL here) or hold it with a
    narrower type (cast, as ``union_by_name`` over all the group's parts casts it). A plain view of
    the in-memory database, not a temporary one: the plan's queries run on cursors of it."""
    assert group.schema is not None
    files = read_parquet(group.files)
    have = {r[0].lower(): r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {files}").fetchall()}
    cols = []
    for low, (name, typ) in group.schema.columns.items():
        q = quote_ident(name)
        own = have.get(low)
        if own is None:
            cols.append(f"CAST(NULL AS {typ}) AS {q}")
        elif own == typ:
            cols.append(q)
        else:
            cols.append(f"CAST({q} AS {typ}) AS {q}")
    con.execute(f"CREATE OR REPLACE VIEW {_VIEW} AS SELECT {', '.join(cols)} FROM {files}")
    return _VIEW


def merge(results: Sequence[tuple[list[MatchRow], dict[int, str]]]) -> tuple[list[MatchRow], dict[int, str]]:
    """The units' matches and failures as one result; a rule failed in any unit (the first unit's
    reason) matches nothing anywhere, as when DuckDB runs the whole group."""
    failed: dict[int, str] = {}
    for _, f in results:
        for i, reason in sorted(f.items()):
            failed.setdefault(i, reason)
    drop = {str(i) for i in failed}
    rows: list[MatchRow] = []
    for got, _ in results:
        for sha, rec, host, ts, hits in got:
            if drop:
                kept = [h for h in hits.split(",") if h not in drop]
                if not kept:
                    continue
                hits = ",".join(kept)
            rows.append((sha, rec, host, ts, hits))
    return rows, failed


def run_stats(files: list[str]) -> pa.Table:
    """On an executor: rows per value of the predicate columns in a slice of part files (a
    column the slice lacks is NULL; types as the ``events`` view has them)."""
    schema = pa.schema([(c.name, c.type) for c in CORE if c.name in PREDICATE_COLUMNS])
    schema = pa.schema([schema.field(c) for c in PREDICATE_COLUMNS]).append(pa.field("n", pa.int64()))
    if not files:
        return schema.empty_table()
    con = duckdb.connect(config={"threads": "1"})
    try:
        src = read_parquet(files)
        have = {r[0].lower() for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        sel = ", ".join(
            f"CAST({c if c in have else 'NULL'} AS {duck_type(schema.field(c).type)}) AS {c}"
            for c in PREDICATE_COLUMNS
        )
        return con.sql(f"SELECT {sel}, count(*) AS n FROM {src} GROUP BY ALL").to_arrow_table().cast(schema)
    finally:
        con.close()


def _result(fut: Future[T]) -> T:
    try:
        return fut.result()
    except UnitFailed as exc:
        raise EngineError(f"a Sigma work unit failed on Spark: {exc}") from exc
