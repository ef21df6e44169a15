"""The Sigma plan on Spark: the same groups, scans and per-value evaluation as on DuckDB.

``SparkSigmaData`` answers the four questions of ``forensics.hunt.sigma.data.SigmaData`` from a
Spark session over the case's parts. The rules are converted exactly as for DuckDB (same schema
per group, so the same SQL); each rule's expression is then transpiled on its own
(``forensics.spark.dialect``), so a rule that cannot be carried over is reported failed with the
reason and the rest of its group still runs. A group's scan reads only its part files and
columns; a group of ``DISTINCT_ROWS`` rows or more evaluates its rules once per distinct value of
the columns each rule reads and joins the hits back, as DuckDB does.

Jobs go to Spark from a few driver threads at once: small groups are one task each, so running
several side by side keeps the executors' cores busy.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from forensics.errors import EngineError
from forensics.hunt.sigma.data import GroupJob, MatchRow
from forensics.hunt.sigma.plan import (
    CHUNK,
    DISTINCT_ROWS,
    PREDICATE_COLUMNS,
    PROVENANCE,
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
# A column set's rules are evaluated per distinct value only when there are this many of them: the
# DISTINCT is itself a pass over every row (hash, shuffle, checkpoint, a job of its own), so for a
# few rules evaluating them on every row of the materialised group, beside the other small sets,
# costs less. Measured on 0.27 M events (process_creation rules): checkpoints were 138 s of 297 s.
VALUE_SET_MIN = 10
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
        with ThreadPoolExecutor(max_workers=min(THREADS, len(jobs))) as pool:
            return list(pool.map(self._run_job, jobs))

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
            rows: list[MatchRow] = []
            per_value, per_row = (
                split_by_columns(job.group, _duck_terms(job, terms))
                if job.group.rows >= DISTINCT_ROWS
                else ({}, terms)
            )
            spark_of = dict(terms)
            if per_value:
                mat = self._checkpoint(
                    kept, f"SELECT {PROVENANCE_SELECT}, "
                    + ", ".join(quote(c) for c in sorted({c for cols in per_value for c in cols}))
                    + f" FROM {src} AS g",
                )  # fmt: skip
                few: list[tuple[int, str]] = []
                for cols, set_terms in sorted(per_value.items()):
                    spark_terms = [(i, spark_of[i]) for i, _ in set_terms]
                    if len(spark_terms) < VALUE_SET_MIN:
                        few.extend(spark_terms)
                        continue
                    values = self._checkpoint(
                        kept, f"SELECT DISTINCT {', '.join(quote(c) for c in cols)} FROM {mat}"
                    )
                    rows.extend(self._chunks(spark_terms, self._values_of(mat, values, cols), failed))
                rows.extend(self._chunks(sorted(few), lambda t: self._rows(mat, t), failed))
            # split_by_columns reads (and hands back) the DuckDB SQL: run the Spark SQL of the same rules
            row_terms = [(i, spark_of[i]) for i, _ in per_row]
            rows.extend(self._chunks(row_terms, lambda t: self._rows(src, t), failed))
            return rows, failed
        finally:
            for name in kept:
                self._drop(name)

    @staticmethod
    def _chunks(
        terms: list[tuple[int, str]],
        run: Callable[[list[tuple[int, str]]], list[MatchRow]],
        failed: dict[int, str],
    ) -> list[MatchRow]:
        """``run`` over ``terms`` CHUNK at a time; a chunk Spark refuses is bisected to the rules at fault."""
        rows: list[MatchRow] = []
        for start in range(0, len(terms), CHUNK):
            got, f = bisect_failures(terms[start : start + CHUNK], run, _ERRORS, "Spark")
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
            f"SELECT * FROM (SELECT {PROVENANCE_SELECT}, {_hits(terms)} AS hits FROM {src} AS g) AS m "
            "WHERE hits <> ''"
        )
        return _collect(self._sql(sql))

    def _values_of(
        self, mat: str, values: str, cols: tuple[str, ...]
    ) -> Callable[[list[tuple[int, str]]], list[MatchRow]]:
        """``_values`` over ``mat``/``values`` and ``cols`` for a list of terms (what ``bisect_failures`` calls)."""
        return lambda terms: self._values(mat, values, cols, terms)

    def _values(
        self, mat: str, values: str, cols: tuple[str, ...], terms: list[tuple[int, str]]
    ) -> list[MatchRow]:
        """Rules evaluated once per distinct value tuple of ``cols`` (the checkpointed ``values``),
        hits joined back to the group's rows (the checkpointed ``mat``)."""
        sel = ", ".join(quote(c) for c in cols)
        on = " AND ".join(f"g.{quote(c)} <=> h.{quote(c)}" for c in cols)
        sql = (
            f"WITH h AS (SELECT * FROM (SELECT {sel}, {_hits(terms)} AS hits FROM {values} AS d) AS x "
            "WHERE hits <> '') "
            f"SELECT g.input_sha256, g.rec_index, g.host, g.ts, h.hits FROM {mat} AS g JOIN h ON {on}"
        )
        return _collect(self._sql(sql))

    def _sql(self, sql: str) -> pa.Table:
        self.conn.queries += 1
        return self.spark.sql(sql).toArrow()


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
