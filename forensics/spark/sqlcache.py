"""Each Sigma rule's Spark SQL kept between hunts, so a re-hunt on Spark does not transpile again.

Every rule's DuckDB expression goes through sqlglot and our rewrites (``forensics.spark.dialect``)
before Spark sees it: on the whole SigmaHQ corpus that is ~3,000 parse-and-generate rounds on
the driver, tens of seconds of Python. The translations of one hunt (DuckDB SQL -> Spark SQL, or
the reason it cannot run on Spark) are kept as one entry in the user's cache folder
(``machine_cache_path().parent / "spark-sql"``), keyed by:

* the code: the Spark translation's sources (dialect, regex, literal tests), sqlglot's version
  and the Sigma plan's stamp (``plancache.PLAN_STAMP``);
* every DuckDB expression translated (their SHA-256, sorted): a changed rule, rule set, tuning or
  case layout changes the expressions, so the key.

Entries are written and checked as the Sigma plan cache's (``plancache.store`` / ``load``:
atomic, with the SHA-256 of their payload); a damaged entry is a miss, the hunt transpiles afresh
and its record says so (``corrupt: ...``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlglot

from forensics.hunt.sigma import plancache
from forensics.hunt.sigma.cache import machine_cache_path
from forensics.spark.dialect import expression_to_spark
from forensics.spark.regex import Untranslatable

_HERE = Path(__file__).resolve().parent
_SOURCES = ("dialect.py", "regex.py", "literals.py", "sqlcache.py")
SPARK_STAMP = hashlib.sha256(
    b"".join(
        [
            plancache.PLAN_STAMP.encode(),
            sqlglot.__version__.encode(),
            *((_HERE / f).read_bytes() for f in _SOURCES),
        ]
    )
).hexdigest()[:16]


@dataclass(frozen=True)
class Translated:
    """One DuckDB expression on Spark: its Spark SQL, or why it cannot run there."""

    spark: str | None
    reason: str | None = None


def cache_dir() -> Path | None:
    """Where the translations are kept (None when the user's cache is off: ``FORENSICS_CACHE_DIR=``)."""
    rules = machine_cache_path()
    return rules.parent / "spark-sql" if rules is not None else None


def translate(sqls: Iterable[str], use_cache: bool = True) -> tuple[dict[str, Translated], str]:
    """Every DuckDB expression of ``sqls`` in Spark SQL, and what the cache gave (``hit``, ``miss``,
    ``off``, ``corrupt: why``; with ``; not kept: why`` when a fresh entry could not be stored)."""
    todo = sorted(set(sqls))
    folder = cache_dir() if use_cache else None
    if folder is None:
        return _translate_all(todo), "off"
    key = plancache.digest("spark-sql", SPARK_STAMP, [hashlib.sha256(s.encode()).hexdigest() for s in todo])
    got = plancache.load(key, folder)
    if got.state == "hit" and isinstance(got.value, dict) and set(got.value) == set(todo):
        return got.value, "hit"
    note = got.note if got.state != "hit" else "corrupt: entry does not hold these expressions"
    out = _translate_all(todo)
    why = plancache.store(key, out, folder)
    return out, note if why is None else f"{note}; {why}"


def _translate_all(sqls: Iterable[str]) -> dict[str, Translated]:
    out: dict[str, Translated] = {}
    for sql in sqls:
        try:
            out[sql] = Translated(expression_to_spark(sql))
        except Untranslatable as exc:
            out[sql] = Translated(None, f"not run on Spark: {exc}")
    return out
