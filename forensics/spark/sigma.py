"""The Sigma plan on Spark: the same groups, scans and per-value evaluation as on DuckDB.

``SparkSigmaData`` answers the four questions of ``forensics.hunt.sigma.data.SigmaData`` from a
Spark session over the case's parts. The rules are converted exactly as for DuckDB (same schema
per group, so the same SQL); each rule's expression is then transpiled on its own
(``forensics.spark.dialect``), so a rule that cannot be carried over is reported failed with the
reason and the rest of its group still runs. A group's scan reads only its part files and
columns; a group of ``TUPLE_ROWS`` rows or more evaluates each rule once per distinct value of
the columns it reads and joins the hits back (``SparkSigmaData._per_value``), as DuckDB does for
its big groups; what cannot be evaluated so runs on every row, a few dozen rules per query.
Regular expressions and LIKE patterns that only look for literal text run as plain string tests
(``forensics.spark.literals``): Java's regex engine is most of the cost otherwise.

Jobs go to Spark from a few driver threads at once: small groups are one task each, so running
several side by side keeps the executors' cores busy.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from forensics.errors import EngineError
from forensics.hunt.sigma.data import GroupJob, MatchRow, without_unmatchable
from forensics.hunt.sigma.plan import (
    CHUNK,
    PREDICATE_COLUMNS,
    PROVENANCE,
    TUPLE_GAIN,
    TUPLE_ROWS,
    Group,
    Schema,
    bisect_failures,
    group_from,
    split_by_columns,
    stats_sql,
)
from forensics.spark.connection import SparkConnection
from forensics.spark.dialect import quote, to_spark
from forensics.spark.sqlcache import Translated, translate

PROVENANCE_SELECT = "input_sha256, rec_index, host, ts"
# Rules per query when they run on every row of a big group. Spark compiles a query's expressions
# into one Java method; past 64 KB of bytecode (a few hundred rules) it gives up and interprets
# them, and past 8 KB the JVM no longer compiles the method to machine code. Measured on 93 k
# process creations, 206 rules: one query 68 s of JVM CPU, in queries of 30 rules 25 s.
ROW_CHUNK = 40
# A non-deterministic column in a query's select list keeps Spark from pushing the outer
# ``WHERE hits <> ''`` below it: pushed, the filter repeats the whole list of rules, so every rule
# is evaluated twice per row (once to filter, once to project), as EXPLAIN shows.
_BARRIER = "spark_partition_id() AS __barrier"
# A big group with this many rules or fewer (after the pruning) runs them on every row in one
# query: the per-value passes (materialise, counts, grouping sets, join back: five jobs) cost more
# than evaluating a few dozen string tests once per row. On the generated 0.27 M-event case, 8 of
# the 10 big groups keep 1-15 rules after pruning.
VALUE_MIN_RULES = ROW_CHUNK
# grouping_id() is a 64-bit mask of the grouped columns: a group's column sets are batched so that
# each batch reads at most this many columns
VALUE_COLUMNS_MAX = 60
THREADS = 4  # jobs submitted side by side (Spark schedules their tasks over its cores)


class SparkSigmaData:
    """The Sigma plan's data questions answered by Spark over the case's parts."""

    name = "spark"

    def __init__(self, conn: SparkConnection, use_cache: bool = True) -> None:
        self.conn = conn
        self.use_cache = use_cache  # keep each rule's Spark SQL between hunts (``sqlcache``)
        self.cache_notes: dict[str, str] = {}  # what the Spark SQL cache gave, for the run record
        self._spark_sql: dict[str, Translated] = {}
        self.spark = conn.spark
        self.dataset = conn.dataset
        self._views = itertools.count()
        self._lock = threading.Lock()
        self._frames: dict[str, Any] = {}  # checkpointed DataFrames by view name
        self.untranslatable: dict[int, str] = {}  # rule index -> why it did not run on Spark

    # ---- SigmaData ----------------------------------------------------------------------------
    def stats(self) -> pa.Table:
        """See ``SigmaData.stats``: the statistics query, run by Spark over ``events``."""
        have = {name.lower() for name, _ in self.dataset.event_columns()}
        return self.conn.frame(stats_sql(have)).toArrow()

    def parts(self) -> list[tuple[str, Any, Any]]:
        """See ``SigmaData.parts`` (the catalogue is the case's, whatever engine scans)."""
        rows = self.conn.case.con.execute("SELECT path, source, channel FROM parts ORDER BY path").fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def schema(self, files: Sequence[str]) -> Schema:
        """See ``SigmaData.schema``: the union of the parts' footers, typed as DuckDB types it."""
        cols = self.dataset.columns([self.dataset.rel(f) for f in files])
        return Schema.from_pairs((c.name, c.duck) for c in cols)

    def execute(self, jobs: Sequence[GroupJob]) -> list[tuple[list[MatchRow], dict[int, str]]]:
        """See ``SigmaData.execute``."""
        self.conn.ensure_events()
        if not jobs:
            return []
        # every rule translated once, on this thread, before the jobs go out (or read from the cache)
        self._spark_sql, self.cache_notes["spark_sql"] = translate(
            (sql for job in jobs for _, sql in job.terms), self.use_cache
        )
        by_group: dict[str, list[GroupJob]] = {}
        for j in jobs:
            by_group.setdefault(j.group.predicate, []).append(j)
        with ThreadPoolExecutor(max_workers=min(THREADS, len(jobs))) as pool:
            pruned = pool.map(self._without_unmatchable, [by_group[p] for p in sorted(by_group)])
            kept = sorted((j for js in pruned for j in js), key=lambda j: -len(j.terms))
            return list(pool.map(self._run_job, kept))

    def _without_unmatchable(self, group_jobs: list[GroupJob]) -> list[GroupJob]:
        """One group's jobs without the rules no row of it can match, as on DuckDB
        (``forensics.hunt.sigma.prune``; the group's distinct values read here by Spark)."""
        return without_unmatchable(group_jobs, self._group_texts, tuple_table=False)

    def _group_texts(self, group: Group, cols: set[str], read: list[str]) -> dict[str, str | None]:
        """Distinct values of the group's lower-cased derived columns ``read`` (``"__l<k>"``), each
        column's joined by newlines (``prune.can_match``'s texts): one pass, the distinct values of
        every column at once (``GROUPING SETS`` of one column each: not the distinct tuples)."""
        names = [r.strip('"') for r in read]
        sel = ", ".join(quote(n) for n in names)
        view = self._view(group, cols)
        try:
            src = _spark_source(group, cols, view)
            sets = ", ".join(f"({quote(n)})" for n in names)
            table = self._sql(f"SELECT {sel} FROM {src} AS g GROUP BY {sel} GROUPING SETS ({sets})")
        finally:
            self.spark.catalog.dropTempView(view)
        texts: dict[str, str | None] = {}
        for k, c in enumerate(read):
            values = pc.unique(table.column(k)).drop_null()
            texts[c] = "\n".join(values.to_pylist()) if len(values) else None
        return texts

    def select(self, group: Group, used: set[str], extra: Sequence[str], where: str) -> list[tuple[Any, ...]]:
        """See ``SigmaData.select``."""
        view = self._view(group, used)
        cols = "".join(f", {e}" for e in extra)
        sql = f"SELECT {PROVENANCE_SELECT}{cols} FROM {group_from(group, used, view)} AS g WHERE {where}"
        try:
            return self.conn.execute(sql).fetchall()
        finally:
            self.spark.catalog.dropTempView(view)

    # ---- one group job ----------------------------------------------------------------------
    def _view(self, group: Group, used: set[str]) -> str:
        """A temporary view over the group's parts with the columns its query reads: provenance,
        predicate columns, ``used`` and every column a derived column reads (as ``group_from``)."""
        with self._lock:
            name = f"sigma_group_{next(self._views)}"
        rels = [self.dataset.rel(f) for f in group.files]
        assert group.schema is not None
        only = {*PROVENANCE, *PREDICATE_COLUMNS, *used, *group.schema.sources}
        self.dataset.frame(rels, only=only).createOrReplaceTempView(name)
        return name

    def _run_job(self, job: GroupJob) -> tuple[list[MatchRow], dict[int, str]]:
        failed: dict[int, str] = {}
        terms: list[tuple[int, str]] = []
        for i, sql in job.terms:
            got = self._spark_sql.get(sql) or _translated(sql)
            if got.spark is None:
                failed[i] = got.reason or "not run on Spark"
            else:
                terms.append((i, got.spark))
        if not terms:
            return [], failed
        view = self._view(job.group, job.columns)
        kept: list[str] = [view]  # temporary views (and checkpoints) dropped when the job ends
        try:
            src = _spark_source(job.group, job.columns, view)
            if job.group.rows < TUPLE_ROWS:
                return self._chunks(terms, lambda t: self._rows(src, t), failed, CHUNK), failed
            if len(terms) <= VALUE_MIN_RULES:
                return self._chunks(terms, lambda t: self._rows(src, t), failed, ROW_CHUNK), failed
            spark_of = dict(terms)
            # split_by_columns reads (and hands back) the DuckDB SQL: run the Spark SQL of the same rules
            per_value, per_row = split_by_columns(job.group, _duck_terms(job, terms))
            sets = {cols: [(i, spark_of[i]) for i, _ in t] for cols, t in per_value.items()}
            rows = self._per_value(job.group, src, sets, kept, failed) if sets else []
            row_terms = [(i, spark_of[i]) for i, _ in per_row]
            rows.extend(self._chunks(row_terms, lambda t: self._rows(src, t), failed, ROW_CHUNK))
            return rows, failed
        finally:
            for name in kept:
                self._drop(name)

    def _per_value(
        self,
        group: Group,
        src: str,
        sets: dict[tuple[str, ...], list[tuple[int, str]]],
        kept: list[str],
        failed: dict[int, str],
    ) -> list[MatchRow]:
        """Rules that read only derived columns, evaluated once per distinct value tuple of the
        columns each reads (its column set) and joined back to the group's rows.

        The group's rows are materialised once with every such column; the distinct tuples of
        every column set come from one ``GROUP BY GROUPING SETS`` (one pass and one shuffle, not a
        job per set); each rule is guarded by its set's ``grouping_id`` so it sees only its own
        set's tuples; the tuples with hits (few) come back to the driver and are joined back to
        the rows in one query. A set whose tuples hardly repeat (fewer than ``TUPLE_GAIN`` rows
        per tuple) is evaluated per row instead, as DuckDB does: known from one column's
        approximate count before the grouping sets are built, or from the exact count after."""
        cols = sorted({c for s in sets for c in s})
        mat = self._checkpoint(
            kept, f"SELECT {PROVENANCE_SELECT}, {', '.join(quote(c) for c in cols)} FROM {src} AS g"
        )
        rows: list[MatchRow] = []
        per_row: list[tuple[int, str]] = []
        # a set with a column that alone hardly repeats cannot repeat either: per row, without
        # expanding the grouping sets by it (approximate counts: they only choose the cheaper way)
        distinct = self._approx_distinct(mat, cols)
        candidates: list[tuple[str, ...]] = []
        for s in sorted(sets):
            if max(distinct[c] for c in s) * TUPLE_GAIN > group.rows:
                per_row.extend(sets[s])
            else:
                candidates.append(s)
        for batch in _batches(candidates):
            bcols = sorted({c for s in batch for c in s})
            sel = ", ".join(quote(c) for c in bcols)
            grouping = ", ".join("(" + ", ".join(quote(c) for c in s) + ")" for s in batch)
            values = self._checkpoint(
                kept,
                f"SELECT {sel}, grouping_id({sel}) AS __set FROM {mat} GROUP BY {sel} GROUPING SETS ({grouping})",
            )
            counts = self._counts(values)
            guarded: list[tuple[int, str]] = []
            gid_of: dict[int, int] = {}
            for s in batch:
                gid = _grouping_id(s, bcols)
                if counts.get(gid, 0) * TUPLE_GAIN > group.rows:
                    per_row.extend(sets[s])
                    continue
                for i, sql in sets[s]:
                    guarded.append((i, f"(__set = {gid} AND ({sql}))"))
                    gid_of[i] = gid
            hits: list[pa.Table] = []
            for start in range(0, len(guarded), CHUNK):
                got, f = bisect_failures(
                    guarded[start : start + CHUNK],
                    partial(self._value_hits, values, sel, gid_of),
                    _ERRORS,
                    "Spark",
                )
                failed.update(f)
                hits.extend(got)
            table = pa.concat_tables(hits) if hits else None
            if table is not None and table.num_rows:
                rows.extend(self._join_back(mat, table, bcols, kept))
        rows.extend(self._chunks(sorted(per_row), lambda t: self._rows(mat, t), failed, ROW_CHUNK))
        return rows

    def _approx_distinct(self, mat: str, cols: list[str]) -> dict[str, int]:
        """Approximate distinct values of each column of a checkpoint (one pass, HyperLogLog)."""
        table = self._sql(
            "SELECT " + ", ".join(f"approx_count_distinct({quote(c)})" for c in cols) + f" FROM {mat}"
        )
        return {c: int(table.column(k)[0].as_py() or 0) for k, c in enumerate(cols)}

    def _counts(self, values: str) -> dict[int, int]:
        """Distinct tuples per column set (``grouping_id``) of a values checkpoint."""
        table = self._sql(f"SELECT __set, count(*) AS n FROM {values} GROUP BY __set")
        return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))

    def _value_hits(
        self, values: str, sel: str, gid_of: dict[int, int], terms: list[tuple[int, str]]
    ) -> pa.Table:
        """The distinct tuples some of ``terms`` (guarded by their set) match, with the rules' indexes;
        only the tuples of the terms' own sets are read."""
        gids = ", ".join(str(g) for g in sorted({gid_of[i] for i, _ in terms}))
        return self._sql(
            f"SELECT * FROM (SELECT __set, {sel}, {_hits(terms)} AS hits, {_BARRIER} FROM {values} AS d "
            f"WHERE __set IN ({gids})) AS x WHERE hits <> ''"
        )

    def _join_back(self, mat: str, hits: pa.Table, cols: list[str], kept: list[str]) -> list[MatchRow]:
        """The group's rows whose column-set tuple has hits: one branch per set, each joining the
        rows to its own tuples on its own columns (NULL-safe, as DuckDB's IS NOT DISTINCT FROM)."""
        with self._lock:
            name = f"sigma_hits_{next(self._views)}"
        self.spark.createDataFrame(hits).createOrReplaceTempView(name)
        kept.append(name)
        branches = []
        for gid in sorted(set(hits.column("__set").to_pylist())):
            on = " AND ".join(
                f"g.{quote(c)} <=> h.{quote(c)}"
                for k, c in enumerate(cols)
                if not gid >> (len(cols) - 1 - k) & 1
            )
            branches.append(
                f"SELECT g.input_sha256, g.rec_index, g.host, g.ts, h.hits FROM {mat} AS g "
                f"JOIN (SELECT * FROM {name} WHERE __set = {gid}) AS h ON {on}"
            )
        return _collect(self._sql(" UNION ALL ".join(branches)))

    @staticmethod
    def _chunks(
        terms: list[tuple[int, str]],
        run: Callable[[list[tuple[int, str]]], list[MatchRow]],
        failed: dict[int, str],
        size: int,
    ) -> list[MatchRow]:
        """``run`` over ``terms`` ``size`` at a time; a chunk Spark refuses is bisected to the rules at fault."""
        rows: list[MatchRow] = []
        for start in range(0, len(terms), size):
            got, f = bisect_failures(terms[start : start + size], run, _ERRORS, "Spark")
            failed.update(f)
            rows.extend(r for part in got for r in part)
        return rows

    def _checkpoint(self, kept: list[str], sql: str) -> str:
        """``sql``'s rows computed once and kept on the executors (memory, spilling to disk), as a
        temporary view. Its plan stops there: later queries over it neither recompute it nor get
        their filters pushed into it (Spark would push a filter on the rules' hits below a
        ``DISTINCT``, evaluating every rule on every row instead of once per distinct value)."""
        with self._lock:
            name = f"sigma_mat_{next(self._views)}"
        self.conn.queries += 1
        df = self.spark.sql(sql).localCheckpoint(eager=True)
        df.createOrReplaceTempView(name)
        self._frames[name] = df
        kept.append(name)
        return name

    def _drop(self, name: str) -> None:
        df = self._frames.pop(name, None)
        if df is not None:
            df.unpersist()
        self.spark.catalog.dropTempView(name)

    def _rows(self, src: str, terms: list[tuple[int, str]]) -> list[MatchRow]:
        """Rows of the group any of ``terms`` matches, with the matching rules' indexes."""
        sql = (
            f"SELECT * FROM (SELECT {PROVENANCE_SELECT}, {_hits(terms)} AS hits, {_BARRIER} FROM {src} AS g) AS m "
            "WHERE hits <> ''"
        )
        return _collect(self._sql(sql))

    def _sql(self, sql: str) -> pa.Table:
        self.conn.queries += 1
        return self.spark.sql(sql).toArrow()


def _batches(sets: list[tuple[str, ...]]) -> list[list[tuple[str, ...]]]:
    """Column sets in batches reading at most ``VALUE_COLUMNS_MAX`` columns together."""
    out: list[list[tuple[str, ...]]] = []
    cols: set[str] = set()
    for s in sets:
        if out and len(cols | set(s)) <= VALUE_COLUMNS_MAX:
            out[-1].append(s)
            cols |= set(s)
        else:
            out.append([s])
            cols = set(s)
    return out


def _grouping_id(columns: tuple[str, ...], all_columns: list[str]) -> int:
    """Spark's ``grouping_id(all_columns)`` for the grouping set ``columns``: bit ``n-1-k`` set when
    column ``k`` is not grouped (the first column is the highest bit)."""
    n = len(all_columns)
    return sum(1 << (n - 1 - k) for k, c in enumerate(all_columns) if c not in columns)


def _translated(sql: str) -> Translated:
    """One expression translated now (a job ``execute`` was not given, as in the benchmarks)."""
    return translate([sql], use_cache=False)[0][sql]


def _errors() -> tuple[type[BaseException], ...]:
    """The exceptions a query Spark refuses raises (analysis, parse, execution), classic or Connect."""
    try:
        from pyspark.errors import PySparkException
    except ImportError:  # pragma: no cover - pyspark is there whenever this module runs
        return (EngineError,)
    return (PySparkException, EngineError)


_ERRORS = _errors()


def _duck_terms(job: GroupJob, terms: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The DuckDB SQL of the translatable terms (``split_by_columns`` reads DuckDB's quoting)."""
    keep = {i for i, _ in terms}
    return [(i, sql) for i, sql in job.terms if i in keep]


def _spark_source(group: Group, columns: set[str], view: str) -> str:
    """The group's FROM source (``plan.group_from`` over the view) in Spark SQL."""
    duck = f"SELECT * FROM {group_from(group, columns, view)} AS g"
    spark = to_spark(duck)
    assert spark.startswith("SELECT * FROM ")
    body = spark[len("SELECT * FROM ") :]
    return body[: -len(" AS g")] if body.endswith(" AS g") else f"({spark})"


def _hits(terms: Sequence[tuple[int, str]]) -> str:
    cases = ", ".join(f"CASE WHEN {sql} THEN '{i}' END" for i, sql in terms)
    return f"concat_ws(',', {cases})"


def _collect(table: pa.Table) -> list[MatchRow]:
    table = table.filter(pc.not_equal(table.column(4), ""))
    cols = [table.column(i).to_pylist() for i in range(5)]
    return list(zip(*cols, strict=True))
