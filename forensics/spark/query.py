"""``forensics sql --engine spark``: one read-only query, checked as for DuckDB, run on Spark.

The query is written in DuckDB's dialect and checked by the same guard as on DuckDB
(``forensics.casequery.check_query``: one reading statement, no writing function, no unknown
table function) before anything runs. It is then transpiled (``forensics.spark.dialect``) and run
on the Spark session: ``events`` is the case's parts as Spark reads them; the case's other tables
and views it names (``inputs``, ``rejects``, ``parts``, ``findings``, ``finding_records``,
``runs`` …: the catalogue and the hunt results, small and kept in the case's database on this
machine) are handed to Spark from the case, read-only. What Spark cannot run the same way (a
DuckDB table function such as ``read_csv``, ``SUMMARIZE``) is refused with the reason.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from forensics.casequery import check_query
from forensics.errors import EngineError, QueryError
from forensics.spark.connection import EVENTS, SparkConnection, SparkCursor, one_line, spark_errors
from forensics.spark.regex import Untranslatable
from forensics.store import Case


def case_tables(case: Case) -> set[str]:
    """Lower-case names of the case database's tables and views (``events`` among them)."""
    rows = case.con.execute("SELECT DISTINCT table_name FROM information_schema.tables").fetchall()
    return {str(r[0]).lower() for r in rows}


def tables_named(sql: str) -> set[str]:
    """Lower-case names of the tables a DuckDB query reads (CTE names left out)."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError as exc:
        raise QueryError(f"refused: not run on Spark: sqlglot cannot read the query: {exc}") from exc
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    out = set()
    for t in tree.find_all(exp.Table):
        if isinstance(t.this, exp.Identifier) and not t.args.get("db"):
            out.add(t.name.lower())
    return out - ctes


def run_query(case: Case, conn: SparkConnection, text: str) -> SparkCursor:
    """Check ``text`` as ``forensics sql`` does, then run it on Spark; ``QueryError`` when refused
    (``refused: …``) or when Spark fails running it (``query failed: …``)."""
    statement = check_query(case.con, text)
    sql = statement.query
    known = case_tables(case)
    for name in sorted(tables_named(sql) - {EVENTS}):
        if name not in known:
            continue  # Spark says what it cannot find
        conn.register(name, case.con.sql(f'SELECT * FROM "{name}"').to_arrow_table())
    failures: tuple[type[BaseException], ...] = (EngineError, *spark_errors())
    try:
        return conn.execute(sql)
    except Untranslatable as exc:
        raise QueryError(f"refused: not run on Spark: {exc}") from exc
    except failures as exc:
        raise QueryError(f"query failed: {one_line(exc)}") from exc
