"""The SQL we generate stays portable: it transpiles to Spark SQL with sqlglot, nothing unsupported.

A later issue runs the same hunts on a Spark cluster over the same Parquet; the constructs that
break there (regex flags as an argument, POSIX classes, odd LIKE escapes, epoch helpers) must not
appear in the SQL hunts or in any converted Sigma rule.
"""

from __future__ import annotations

from pathlib import Path

import sqlglot
from sqlglot.errors import ErrorLevel

from forensics.hunt.sigma import converted_sql
from forensics.shipped import QUERIES

REPO = Path(__file__).resolve().parents[2]


def _to_spark(sql: str) -> str:
    out = sqlglot.transpile(sql, read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE)
    assert len(out) == 1
    sqlglot.parse_one(out[0], read="spark")  # and Spark's own dialect reads it back
    return out[0]


def test_every_sql_hunt_transpiles_to_spark() -> None:
    hunts = sorted(QUERIES.rglob("*.sql"))  # hunts and the facts they use
    assert len(hunts) >= 11
    failures = {}
    for q in hunts:
        try:
            _to_spark(q.read_text(encoding="utf-8"))
        except (sqlglot.errors.SqlglotError, AssertionError) as exc:
            failures[q.name] = str(exc)[:200]
    assert failures == {}


def test_every_converted_sigma_rule_transpiles_to_spark(shared_data: Path) -> None:
    rules = converted_sql(
        [shared_data / "sigma" / "rules" / "windows", shared_data / "sigma" / "rules" / "linux"]
    )
    assert len(rules) > 2500
    failures = {}
    for where, expr in rules.items():
        try:
            _to_spark(f"SELECT count(*) FROM events AS g WHERE {expr}")
        except sqlglot.errors.SqlglotError as exc:
            failures[where] = str(exc)[:200]
    assert failures == {}
