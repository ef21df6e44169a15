"""Each rule's Spark SQL is kept in the user's cache between hunts; a damaged entry is a recorded miss.

Pure Python (no JVM): the cache sits between the DuckDB SQL and sqlglot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from forensics.spark import sqlcache
from forensics.spark.sqlcache import Translated, translate

SQLS = [
    "regexp_matches(\"__l0\", '(?s)\\\\cmd\\.exe$|^c:\\\\x')",
    "(\"__l1\" LIKE '%\\\\temp\\\\%' ESCAPE '\\')",
    "regexp_matches(\"__l2\", '(?U)a+')",  # RE2's ungreedy flag: no Java spelling
]


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FORENSICS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "spark-sql"


def test_second_translation_is_read_from_the_cache(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, note = translate(SQLS)
    assert note == "miss"
    assert first[SQLS[0]].spark is not None and "ENDSWITH" in first[SQLS[0]].spark
    assert first[SQLS[2]].spark is None and "ungreedy" in (first[SQLS[2]].reason or "")
    assert len(list(cache_home.glob("*.plan"))) == 1

    def no_sqlglot(sql: str) -> str:
        raise AssertionError("transpiled again although the cache holds it")

    monkeypatch.setattr(sqlcache, "expression_to_spark", no_sqlglot)
    again, note = translate(reversed(SQLS))
    assert note == "hit" and again == first


def test_a_damaged_entry_is_a_recorded_miss_and_translated_afresh(cache_home: Path) -> None:
    first, _ = translate(SQLS)
    (entry,) = cache_home.glob("*.plan")
    data = bytearray(entry.read_bytes())
    data[-5] ^= 0xFF
    entry.write_bytes(bytes(data))
    again, note = translate(SQLS)
    assert note.startswith("corrupt: digest does not match")
    assert again == first
    assert translate(SQLS)[1] == "hit"  # the fresh entry replaced the damaged one


def test_other_rules_or_code_are_another_entry(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    translate(SQLS)
    assert translate(SQLS[:2])[1] == "miss"
    monkeypatch.setattr(sqlcache, "SPARK_STAMP", "another code")
    assert translate(SQLS)[1] == "miss"
    assert len(list(cache_home.glob("*.plan"))) == 3


def test_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORENSICS_CACHE_DIR", "")
    got, note = translate(SQLS[:1])
    assert note == "off" and isinstance(got[SQLS[0]], Translated)
    assert translate(SQLS[:1], use_cache=False)[1] == "off"
