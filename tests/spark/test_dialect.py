"""DuckDB SQL and RE2 carried over to Spark SQL and Java's regex dialect, or refused with the reason.

Pure translation checks (no JVM): the differential check that both engines match the same strings
is ``test_regex_on_both_engines`` below, on the shared Spark session.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from forensics.spark.dialect import expression_to_spark, to_spark
from forensics.spark.regex import Untranslatable, re2_to_java


@pytest.mark.parametrize(
    ("re2", "java"),
    [
        ("abc$", r"(?du)abc\z"),
        ("(?m)^a$", "(?du)(?m)^a$"),
        (r"\bword\b", None),  # ASCII look-arounds, checked below
        ("[[:alpha:]]+", r"(?du)[\p{Alpha}]+"),
        ("a{,", r"(?du)a\{,"),
        (r"x\vy", r"(?du)x\x0By"),
        ("(?P<n>a)", "(?du)(a)"),
        ("[a[]", r"(?du)[a\[]"),
        ("[a&&b]", r"(?du)[a\&\&b]"),
    ],
)
def test_re2_patterns_in_java_spelling(re2: str, java: str | None) -> None:
    got = re2_to_java(re2)
    if java is not None:
        assert got == java
    else:
        assert r"\b" not in got and "[0-9A-Za-z_]" in got


@pytest.mark.parametrize("re2", ["(?U)a+", r"\C", "[[:nope:]]", r"a\0"])
def test_re2_without_a_java_equivalent_is_refused(re2: str) -> None:
    with pytest.raises(Untranslatable):
        re2_to_java(re2)


def test_regex_options_become_inline_flags() -> None:
    out = expression_to_spark("regexp_matches(x, 'abc', 'i')")
    assert "(?i)abc" in out and "'i'" not in out


def test_regexp_replace_first_match_only_is_refused_unless_it_matches_once() -> None:
    with pytest.raises(Untranslatable, match="first match"):
        expression_to_spark("regexp_replace(x, 'a', 'b')")
    assert "REGEXP_REPLACE" in expression_to_spark("regexp_replace(x, '^a', 'b')").upper()
    assert "REGEXP_REPLACE" in expression_to_spark(r"regexp_replace(x, '[\\/][^\\/]*$', '')").upper()
    assert "REGEXP_REPLACE" in expression_to_spark("regexp_replace(x, 'a', 'b', 'g')").upper()


def test_generator_inside_an_expression_is_hoisted() -> None:
    out = to_spark("SELECT lower(unnest(regexp_extract_all(v, 'a(b)', 1))) AS t FROM x")
    assert out.upper().startswith("SELECT EXPLODE(TRANSFORM(")


TEXTS = ["abc", "abc\n", "ABC", "straße", "STRASSE", "a\rb", "a\u2028b", "x_y", "héllo wörld", "1_000", "+-3",
         " 10 ", "10d", "inf", "a{b", "a.b", ""]  # fmt: skip
LIKE_TEXTS = ["a\\b", "\\x", "100%", "a%b", "ab", "\\_y"]
PATTERNS = ["abc$", "(?i)strasse", r"\bwörld", "^a.b$", "(?s)a.b", "[[:upper:]]+", r"\d+", "a{b", "(?i)héllo"]


@pytest.mark.xdist_group("spark")
def test_regex_on_both_engines(spark: Any) -> None:
    """Every pattern matches the same texts in DuckDB (RE2) and Spark (Java, translated)."""
    con = duckdb.connect()
    for p in PATTERNS:
        duck = [t for t in TEXTS if con.execute("SELECT regexp_matches(?, ?)", [t, p]).fetchone()[0]]  # type: ignore[index]
        java = re2_to_java(p)
        rows = spark.createDataFrame([(t,) for t in TEXTS], "t STRING").selectExpr(
            "t", "t RLIKE " + _lit(java)
        )
        on_spark = [r[0] for r in rows.collect() if r[1]]
        assert on_spark == duck, p
    for like in (r"'%\\%'", "'a_b'", "'%!%%' ESCAPE '!'", "'%b%' ESCAPE 'b'", "'\\_%'"):
        sql = f"t LIKE {like}"
        duck = [
            t
            for t in TEXTS + LIKE_TEXTS
            if con.execute(f"SELECT {sql} FROM (SELECT ? AS t)", [t]).fetchone()[0]
        ]  # type: ignore[index]
        rows = spark.createDataFrame([(t,) for t in TEXTS + LIKE_TEXTS], "t STRING")
        on_spark = [r[0] for r in rows.selectExpr("t", expression_to_spark(sql)).collect() if r[1]]
        assert on_spark == duck, sql
    casts = [t for t in TEXTS if con.execute("SELECT TRY_CAST(? AS DOUBLE)", [t]).fetchone()[0] is not None]  # type: ignore[index]
    expr = expression_to_spark("TRY_CAST(t AS DOUBLE)")
    rows = spark.createDataFrame([(t,) for t in TEXTS], "t STRING").selectExpr("t", expr + " AS d").collect()
    assert [r[0] for r in rows if r[1] is not None] == casts


def _lit(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


@pytest.mark.xdist_group("spark")
def test_full_match_and_epoch_us_on_both_engines(spark: Any) -> None:
    """``regexp_full_match`` means the whole string on Spark too (not up to a final newline, as
    Java's ``$`` would), and ``epoch_us`` the microseconds since 1970."""
    texts = ["10.0.0.1", "10.0.0.1\n", "fe80::1", "host.corp", "", "ABC", "abc"]
    con = duckdb.connect()
    for pattern, options in (("[0-9.]+|[0-9a-f:]+", None), ("abc", "'i'")):
        sql = f"regexp_full_match(t, '{pattern}'" + (f", {options})" if options else ")")
        duck = [t for t in texts if con.execute(f"SELECT {sql} FROM (SELECT ? AS t)", [t]).fetchone()[0]]  # type: ignore[index]
        rows = spark.createDataFrame([(t,) for t in texts], "t STRING").selectExpr("t", expression_to_spark(sql))
        assert [r[0] for r in rows.collect() if r[1]] == duck, sql
    us = con.execute("SELECT epoch_us(TIMESTAMPTZ '2024-03-05 09:41:07.123456+00')").fetchone()[0]  # type: ignore[index]
    got = spark.sql(
        "SELECT " + expression_to_spark("epoch_us(CAST('2024-03-05 09:41:07.123456+00:00' AS TIMESTAMP))")
    ).collect()[0][0]
    assert got == us == 1709631667123456
