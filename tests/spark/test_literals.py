"""Regex alternations and LIKE patterns of literals run on Spark as string tests, with the same answers.

The rewrite (``forensics.spark.literals``) is checked three ways on generated patterns and texts:
DuckDB's answer (RE2 / DuckDB's LIKE, the reference), Spark's answer through the Java regex the
translation would otherwise run, and Spark's answer through the string tests. Cost: one Spark query
per example (~40 examples, ~20 s on a loaded 2-core machine).
"""

from __future__ import annotations

from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensics.hunt.sigma.sqlutil import like_escape
from forensics.spark.dialect import expression_to_spark
from forensics.spark.literals import Split, TextTest, split_like, split_regex
from forensics.spark.regex import re2_to_java

# characters that matter: regex and LIKE metacharacters, the escape, line ends, non-ASCII (a
# two-byte, a three-byte and a four-byte UTF-8 character), and plain letters that repeat
ALPHABET = [*"ab\\.%_$^*|\n\r", "é", "€", "\U0001d518", " "]
_RE_SPECIAL = set("\\.^$|?*+()[]{}")


def _re_literal(text: str) -> str:
    return "".join("\\" + c if c in _RE_SPECIAL else c for c in text)


literal = st.text(alphabet=ALPHABET, min_size=1, max_size=4)


@st.composite
def alternative(draw: st.DrawFn, lits: list[str]) -> str:
    """An RE2 alternative as the Sigma backend writes them (anchors, ``.*`` between literals), or
    now and then one the rewrite must leave alone."""
    kind = draw(st.sampled_from(["lit", "lit", "affix", "affix", "dots", "single", "class"]))
    a, b = (_re_literal(draw(st.sampled_from(lits))) for _ in range(2))
    head = "^" if draw(st.booleans()) else ""
    tail = "$" if draw(st.booleans()) else ""
    if kind == "affix":
        return f"{head}{a}.*{b}{tail}"
    if kind == "dots":
        return f".*{a}.*"
    if kind == "single":
        return f"{head}{a}.{b}{tail}"
    if kind == "class":
        return f"{head}[ab]{a}{tail}"
    return f"{head}{a}{tail}"


@st.composite
def like_pattern(draw: st.DrawFn, lits: list[str]) -> str:
    """A LIKE pattern as the Sigma backend writes them (escaped literals, ``%``, sometimes ``_``)."""
    piece = st.one_of(st.sampled_from(lits).map(like_escape), st.sampled_from(["%", "%", "_"]))
    return "".join(draw(st.lists(piece, min_size=1, max_size=4)))


@st.composite
def case(draw: st.DrawFn) -> tuple[list[str], list[str], list[str]]:
    """RE2 patterns, LIKE patterns and texts built from the same few literals (so they often match,
    and often nearly match: a literal at the wrong end, twice, or cut short)."""
    lits = draw(st.lists(literal, min_size=1, max_size=5))
    pats = draw(st.lists(
        st.builds(lambda f, alts: f + "|".join(alts), st.sampled_from(["(?s)", ""]),
                  st.lists(alternative(lits), min_size=1, max_size=5)),
        min_size=1, max_size=6))  # fmt: skip
    likes = draw(st.lists(like_pattern(lits), min_size=1, max_size=6))
    bits = st.sampled_from(lits + [x[:-1] for x in lits if len(x) > 1] + ALPHABET)
    texts = draw(st.lists(st.lists(bits, max_size=5).map("".join), min_size=1, max_size=30))
    return pats, likes, texts + lits  # a literal alone: "^a.*a$" must not match "a"


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _spark_lit(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_alternations_of_literals_split_into_tests() -> None:
    got = split_regex(r"(?s)\\cmd\.exe$|^c:\\x|mimikatz|^a\.b$|^pre.*post$|a.*b")
    assert got == Split(
        (
            TextTest("suffix", "\\cmd.exe"),
            TextTest("prefix", "c:\\x"),
            TextTest("contains", "mimikatz"),
            TextTest("equals", "a.b"),
            TextTest("affix", "pre", "post"),
        ),
        "(?s)a.*b",
    )
    assert split_regex("(?i)abc") is None  # case folding: left to the regex
    assert split_regex(r"\d+|x[ab]") is None
    assert split_regex("a.*b$") is None  # no (?s): '.' does not match a newline
    assert split_like("%\\\\temp\\\\%", "\\") == TextTest("contains", "\\temp\\")
    assert split_like("a%%b", None) == TextTest("affix", "a", "b")
    assert split_like("a_b", None) is None and split_like("%", None) is None


@pytest.mark.xdist_group("spark")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=case())
def test_literal_tests_match_what_both_regex_engines_match(
    spark: Any, generated: tuple[list[str], list[str], list[str]]
) -> None:
    """DuckDB (reference), Spark's Java regex and Spark's string tests agree on every text, NULL included."""
    pats, likes, values = generated
    con = duckdb.connect()
    rows: list[tuple[str | None]] = [(v,) for v in values] + [(None,)]
    exprs: list[tuple[str, str, str | None]] = []  # (DuckDB SQL, rewritten Spark SQL, plain Java regex SQL)
    for p in pats:
        exprs.append((f"regexp_matches(t, {_sql_str(p)})", expression_to_spark(f"regexp_matches(t, {_sql_str(p)})"),
                      f"t RLIKE {_spark_lit(re2_to_java(p))}"))  # fmt: skip
    for lk in likes:
        esc = " ESCAPE '\\'" if "\\" in lk else ""
        duck = f"(t LIKE {_sql_str(lk)}{esc})"
        exprs.append((duck, expression_to_spark(duck), None))
    duck_rows = con.execute(
        "SELECT " + ", ".join(d for d, _, _ in exprs) + " FROM (SELECT unnest(?) AS t)",
        [[r[0] for r in rows]],
    ).fetchall()
    cols = [f"{s} AS s{k}" for k, (_, s, _) in enumerate(exprs)]
    cols += [f"{j} AS j{k}" for k, (_, _, j) in enumerate(exprs) if j is not None]
    got = spark.createDataFrame(rows, "t STRING").selectExpr("t", *cols).collect()
    for r, want in zip(got, duck_rows, strict=True):
        for k, (duck_sql, spark_sql, java) in enumerate(exprs):
            assert r[f"s{k}"] == want[k], (r["t"], duck_sql, spark_sql)
            if java is not None:
                assert r[f"j{k}"] == want[k], (r["t"], duck_sql, java)
