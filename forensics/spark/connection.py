"""A Spark session answering the DuckDB statements the hunt sends to the case's connection.

The SQL hunts (``queries/``), the IOC sweep and ``forensics sql`` are written once, in DuckDB's
dialect, against the case's ``events`` view and a few temporary tables. ``SparkConnection`` takes
the same statements and runs them on Spark over the same parts: a ``SELECT`` is transpiled
(``forensics.spark.dialect``) and run; ``CREATE [OR REPLACE] TEMP TABLE t AS SELECT …`` becomes a
cached temporary view; ``DROP TABLE`` drops it; ``DESCRIBE events`` answers from the dataset's
union schema; ``register`` turns an Arrow table into a temporary view; settings DuckDB needs
(``SET TimeZone``, ``PRAGMA``) are already fixed on the session and are accepted as no-ops.

Rows come back as DuckDB's Python client returns them (tuples; timestamps tz-aware UTC; lists
for arrays), so the code that groups rows into findings is the same for both engines.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from forensics.errors import EngineError
from forensics.spark.dataset import Dataset
from forensics.spark.dialect import to_spark
from forensics.spark.regex import Untranslatable
from forensics.store import Case

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

EVENTS = "events"
_NOOP = re.compile(r"(?is)^\s*(SET\s|PRAGMA\s|RESET\s)")


class SparkCursor:
    """The result of one statement: ``fetchall``, ``fetchone``, ``description``, ``to_arrow_table``."""

    def __init__(self, table: pa.Table | None) -> None:
        self._table = table
        self._rows: list[tuple[Any, ...]] | None = None
        self._pos = 0

    @property
    def description(self) -> list[tuple[str, ...]] | None:
        """Column names of the result (DB-API style: the name first)."""
        return None if self._table is None else [(n,) for n in self._table.column_names]

    def to_arrow_table(self) -> pa.Table:
        """The whole result as an Arrow table."""
        return self._table if self._table is not None else pa.table({})

    def arrow(self) -> pa.Table:
        """Alias of ``to_arrow_table`` (DuckDB's spelling)."""
        return self.to_arrow_table()

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every remaining row as a tuple."""
        rows = self._all()
        out, self._pos = rows[self._pos :], len(rows)
        return out

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        """The next ``size`` rows (fewer at the end)."""
        rows = self._all()
        out = rows[self._pos : self._pos + max(size, 0)]
        self._pos += len(out)
        return out

    def fetchone(self) -> tuple[Any, ...] | None:
        """The next row, or None."""
        rows = self._all()
        if self._pos >= len(rows):
            return None
        self._pos += 1
        return rows[self._pos - 1]

    def _all(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            t = self._table
            self._rows = [] if t is None else list(zip(*(c.to_pylist() for c in t.columns), strict=True))
        return self._rows


class SparkConnection:
    """DuckDB-connection-shaped access to the case's events on a Spark session."""

    def __init__(self, spark: SparkSession, case: Case) -> None:
        self.spark = spark
        self.case = case
        self.dataset = Dataset(spark, case)
        self._cached: dict[str, DataFrame] = {}
        self._events_ready = False
        self._lock = threading.Lock()
        self.queries = 0  # statements sent to Spark (for the run record and the bench)
        self.facts_made: set[str] = set()  # facts (``forensics.facts``) computed on this session

    # ---- DuckDB's surface ---------------------------------------------------------------------
    def cursor(self) -> SparkConnection:
        """The connection itself (a Spark session serves several threads)."""
        return self

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> SparkCursor:
        """Run one DuckDB statement on Spark."""
        if params:
            raise EngineError("parameters are not passed to Spark: inline them")
        if _NOOP.match(sql):
            return SparkCursor(None)
        tree = _parse(sql)
        if isinstance(tree, exp.Describe):
            return self._describe(tree)
        if isinstance(tree, exp.Create):
            return self._create(tree)
        if isinstance(tree, exp.Drop):
            for table in tree.args.get("tables") or [tree.this]:
                self._drop(table.name)
            return SparkCursor(None)
        df = self.frame(sql)
        try:
            return SparkCursor(df.toArrow())
        except spark_errors() as exc:  # failed while running (a cast, a regex on a value): one line
            raise EngineError(f"Spark failed running the query: {_one_line(exc)}") from exc

    def sql(self, sql: str) -> SparkCursor:
        """``execute`` for a query (DuckDB's relational spelling)."""
        return self.execute(sql)

    def register(self, name: str, table: pa.Table) -> None:
        """An Arrow table as a temporary view of the session."""
        self.ensure_events()
        df = (
            self.spark.createDataFrame(table)
            if table.num_rows
            else self.spark.createDataFrame([], _struct(table.schema))
        )
        df.createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        """Drop a registered view."""
        self._drop(name)

    def close(self) -> None:
        """Drop the cached temporary tables (the session belongs to the caller)."""
        for name in list(self._cached):
            self._drop(name)

    # ---- Spark side ---------------------------------------------------------------------------
    def frame(self, sql: str) -> DataFrame:
        """A DataFrame for a DuckDB query (transpiled; ``Untranslatable`` when it cannot be)."""
        self.ensure_events()
        spark_sql = to_spark(sql)
        self.queries += 1
        try:
            return self.spark.sql(spark_sql)
        except Exception as exc:  # pyspark's AnalysisException / ParseException, one line for the report
            raise EngineError(f"Spark refused the query: {_one_line(exc)}") from exc

    def ensure_events(self) -> None:
        """Register the ``events`` view over the case's parts (once)."""
        with self._lock:
            if not self._events_ready:
                self.dataset.events().createOrReplaceTempView(EVENTS)
                self._events_ready = True

    def _describe(self, tree: exp.Describe) -> SparkCursor:
        target = tree.this
        name = target.name if isinstance(target, exp.Table) else ""
        if name.lower() == EVENTS:
            cols = self.dataset.event_columns()
        else:
            query = (
                tree.this.sql(dialect="duckdb")
                if not isinstance(target, exp.Table)
                else f"SELECT * FROM {name}"
            )
            df = self.frame(query)
            cols = [(f.name, _duck_type(f.dataType.simpleString())) for f in df.schema.fields]
        names = [c[0] for c in cols]
        types = [c[1] for c in cols]
        nulls = ["YES"] * len(cols)
        return SparkCursor(pa.table({"column_name": names, "column_type": types, "null": nulls}))

    def _create(self, tree: exp.Create) -> SparkCursor:
        kind = str(tree.args.get("kind") or "").upper()
        query = tree.expression
        if kind not in ("TABLE", "VIEW") or query is None:
            raise EngineError(
                f"only CREATE TEMP TABLE/VIEW … AS SELECT runs on Spark, not {tree.sql()[:80]!r}"
            )
        name = tree.this.this.name if isinstance(tree.this, exp.Schema) else tree.this.name
        df = self.frame(query.sql(dialect="duckdb"))
        self._drop(name)
        if kind == "TABLE":  # computed once, as DuckDB would, and its lineage cut (plans stay small)
            df = df.localCheckpoint(eager=True)
            self._cached[name] = df
        df.createOrReplaceTempView(name)
        return SparkCursor(None)

    def _drop(self, name: str) -> None:
        df = self._cached.pop(name, None)
        if df is not None:
            df.unpersist()
        self.spark.catalog.dropTempView(name)


def _parse(sql: str) -> Any:
    """The sqlglot tree of one DuckDB statement."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError as exc:
        raise Untranslatable(f"sqlglot cannot read the DuckDB SQL: {_one_line(exc)}") from exc
    if tree is None:
        raise EngineError("empty statement")
    return tree


def one_line(exc: BaseException) -> str:
    """The first line of an error's text (Spark's carry the whole plan after it)."""
    text = str(exc).strip()
    return text.splitlines()[0][:400] if text else type(exc).__name__


_one_line = one_line


def spark_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a query Spark refuses or fails raises (analysis, parse, execution), classic or Connect."""
    try:
        from pyspark.errors import PySparkException
    except ImportError:  # pragma: no cover - pyspark is there whenever a Spark connection exists
        return ()
    return (PySparkException,)


# Spark simpleString -> DuckDB type name (DESCRIBE of a temporary result)
_DUCK = {
    "string": "VARCHAR", "boolean": "BOOLEAN", "tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER",
    "bigint": "BIGINT", "float": "FLOAT", "double": "DOUBLE", "date": "DATE",
    "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP",
}  # fmt: skip


def _duck_type(simple: str) -> str:
    return _DUCK.get(simple, simple.upper())


def _struct(schema: pa.Schema) -> Any:
    """Spark schema of an Arrow schema (an empty registered table has no rows to infer it from)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)
