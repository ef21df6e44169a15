"""DuckDB SQL → Spark SQL: sqlglot's transpiler plus the rewrites where the two engines differ.

Every query the hunt runs is written once, in DuckDB's dialect (Sigma rules converted by our
backend, the SQL hunts of ``queries/``, the IOC sweep). sqlglot transpiles the syntax; what it
leaves alone but Spark reads differently is rewritten here on sqlglot's tree:

* regular expressions → Java's dialect (``forensics.spark.regex``); DuckDB's option argument
  (``regexp_matches(s, p, 'i')``) becomes inline flags; ``regexp_replace`` without the ``g``
  option replaces the first match only in DuckDB and every match in Spark, so it is accepted
  only when the pattern can match once (anchored at the start);
* ``LIKE`` without ``ESCAPE``: DuckDB has no escape character, Spark uses ``\\`` → backslashes in
  the pattern are doubled; with ``ESCAPE c`` the pattern is rewritten to Spark's ``\\`` escapes
  (Spark refuses an escape before anything but ``%``, ``_`` and itself; DuckDB does not);
* ``TRY_CAST(x AS DOUBLE)``: DuckDB accepts ``1_000`` and ``+-1`` and refuses ``10d``, Java's
  parser the other way round → the text is checked against DuckDB's grammar first;
* identifiers resolve case-insensitively in both (``spark.sql.caseSensitive`` stays false; the
  dataset reader gives each column one spelling, see ``forensics.spark.dataset``).

What cannot be carried over with the same meaning raises ``Untranslatable``; callers report the
rule or hunt as not run on Spark, with the reason.
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from forensics.spark.literals import Split, TextTest, like_tokens, split_like, split_regex
from forensics.spark.regex import Untranslatable, re2_to_java

# DuckDB's VARCHAR -> DOUBLE grammar (measured: whitespace around, one sign or "+-", digits with
# single underscores between them, optional fraction and exponent; inf / infinity / nan any case)
_DIGITS = r"[0-9](?:_?[0-9])*"
DUCK_DOUBLE = (
    r"^[ \t\n\r\f\x0B]*(?:\+-|[+-])?(?:"
    rf"(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?"
    r"|(?i:inf|infinity|nan))[ \t\n\r\f\x0B]*$"
)
_REGEX_FUNCS = (exp.RegexpLike, exp.RegexpExtract, exp.RegexpExtractAll, exp.RegexpReplace, exp.RegexpSplit)
_DUCK_FLAGS = {"i": "i", "c": "", "s": "s", "n": "m", "p": "m", "m": "m", "l": "", "g": ""}


def to_spark(sql: str) -> str:
    """One DuckDB statement as Spark SQL; ``Untranslatable`` when it cannot mean the same there."""
    return _to_spark(sql)


@lru_cache(maxsize=4096)
def _to_spark(sql: str) -> str:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError as exc:
        raise Untranslatable(f"sqlglot cannot read the DuckDB SQL: {_first_line(exc)}") from exc
    tree = tree.transform(_rewrite, copy=False)
    for select in list(tree.find_all(exp.Select)):
        _hoist_generators(select)
    try:
        return tree.sql(dialect="spark", unsupported_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise Untranslatable(f"no Spark SQL for it: {_first_line(exc)}") from exc


def expression_to_spark(expr: str) -> str:
    """A boolean or value expression (a converted Sigma rule) as Spark SQL."""
    out = to_spark(f"SELECT {expr}")
    assert out.startswith("SELECT ")
    return out[len("SELECT ") :]


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, _REGEX_FUNCS):
        return _regex(node)
    if isinstance(node, exp.Escape) and isinstance(node.this, exp.Like | exp.ILike):
        return _like(node.this, _literal(node.expression, "LIKE escape"))
    if isinstance(node, exp.Like | exp.ILike) and not isinstance(node.parent, exp.Escape):
        return _like(node, None)
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "epoch_us":  # microseconds since 1970
        return exp.Anonymous(this="unix_micros", expressions=node.expressions)
    if isinstance(node, exp.RegexpFullMatch):
        return _regex(_whole(node))
    if isinstance(node, exp.SimilarTo):
        raise Untranslatable(f"{node.key.upper()} has no Spark spelling with RE2's meaning")
    if isinstance(node, exp.TryCast) and node.to.is_type(exp.DataType.Type.DOUBLE):
        return _try_double(node)
    return node


def _hoist_generators(select: exp.Select) -> None:
    """``f(unnest(list))`` in a select list → ``explode(transform(list, x -> f(x)))``: DuckDB applies
    ``f`` to each element, Spark refuses a generator nested in an expression."""
    for item in select.expressions:
        top = item.this if isinstance(item, exp.Alias) else item
        if isinstance(top, exp.Explode):
            continue
        gens = [g for g in top.find_all(exp.Explode)]
        if len(gens) != 1:
            if gens:
                raise Untranslatable("more than one unnest() inside one select item")
            continue
        gen = gens[0]
        array = gen.this.copy()
        var = exp.to_identifier("__elem")
        body = top.copy()
        inner = next(iter(body.find_all(exp.Explode)))
        inner.replace(exp.column(var))
        hoisted = exp.Explode(
            this=exp.Transform(this=array, expression=exp.Lambda(this=body, expressions=[var]))
        )
        if isinstance(item, exp.Alias):
            item.set("this", hoisted)
        else:
            item.replace(hoisted)


def _whole(node: exp.RegexpFullMatch) -> exp.RegexpLike:
    """``regexp_full_match(s, p)`` as ``regexp_matches(s, '^(?:p)\\z')``: the whole string, as RE2's full
    match means (``\\z``, not ``$``, which Java also lets match before a final newline)."""
    pattern = _literal(node.args.get("expression"), "regular expression")
    options = node.args.get("options")
    return exp.RegexpLike(
        this=node.this,
        expression=exp.Literal.string(f"^(?:{pattern})\\z"),
        **({"flag": options} if options else {}),
    )


def _literal(node: exp.Expression | None, what: str) -> str:
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    raise Untranslatable(f"{what} is not a string literal: it cannot be checked for Spark")


def _regex(node: exp.Expression) -> exp.Expression:
    if node.meta.get("java"):  # written here, already in Java's dialect
        return node
    pattern = _literal(node.args.get("expression"), "regular expression")
    flags = _flags(node)
    if isinstance(node, exp.RegexpLike) and not flags:
        split = split_regex(pattern)
        if split is not None:
            return _literal_tests(node, split)
    if isinstance(node, exp.RegexpReplace) and "g" not in flags and not _matches_once(pattern):
        raise Untranslatable(
            "regexp_replace without the 'g' option replaces the first match in DuckDB and every match in "
            "Spark; anchor the pattern at the start or add 'g'"
        )
    inline = "".join(sorted({_DUCK_FLAGS.get(f, "?") for f in flags} - {""}))
    if "?" in inline:
        raise Untranslatable(f"regular expression option {flags!r} is not known")
    java = re2_to_java((f"(?{inline})" if inline else "") + pattern)
    node.set("expression", exp.Literal.string(java))
    for key in ("modifiers", "flag", "parameters"):
        if key in node.args:
            node.set(key, None)
    return node


def _flags(node: exp.Expression) -> str:
    for key in ("modifiers", "flag", "parameters"):
        value = node.args.get(key)
        if value is not None:
            return _literal(value, "regular expression option")
    return ""


def _matches_once(pattern: str) -> bool:
    """True when an RE2 pattern can match at most once in a text: no alternation, no multi-line mode,
    and anchored at its start, or at its end with a first atom that cannot match empty (so no
    second, empty match at the end of the text)."""
    if "|" in pattern or "(?m" in pattern:
        return False
    if pattern.startswith("^"):
        return True
    return _ends_anchored(pattern) and _first_atom_required(pattern)


def _ends_anchored(pattern: str) -> bool:
    if not pattern.endswith("$"):
        return False
    backslashes = len(pattern[:-1]) - len(pattern[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def _first_atom_required(pattern: str) -> bool:
    """True when the pattern's first atom (a literal or a bracket class) must match one character."""
    if pattern.startswith("["):
        end = pattern.find("]", 2 if pattern.startswith("[^") else 1)
        if end < 0 or pattern.startswith("]", 1) or pattern.startswith("]", 2):
            return False
        if "[" in pattern[1:end]:
            return False
        rest = pattern[end + 1 :]
    elif pattern[:1].isalnum() or pattern[:1] in "/_-:@%,;'\"":
        rest = pattern[1:]
    else:
        return False
    return not rest.startswith(("*", "?", "{0"))


def _literal_tests(node: exp.Expression, split: Split) -> exp.Expression:
    """An RE2 alternation of literals as string tests (``forensics.spark.literals``), OR-ed with a
    regex of the alternatives that are not literal."""
    parts = [_text_test(node.this, t) for t in split.tests]
    if split.rest is not None:
        rest = exp.RegexpLike(this=node.this.copy(), expression=exp.Literal.string(re2_to_java(split.rest)))
        rest.meta["java"] = True
        parts.append(rest)
    return exp.paren(exp.or_(*parts, copy=False), copy=False)


def _text_test(text: exp.Expression, test: TextTest) -> exp.Expression:
    """One literal test of ``text`` in Spark's string functions (NULL text -> NULL, as a match)."""
    lit = exp.Literal.string
    if test.kind == "equals":
        return exp.EQ(this=text.copy(), expression=lit(test.text))
    if test.kind == "affix":
        long_enough = exp.GTE(
            this=exp.Length(this=text.copy()), expression=exp.Literal.number(len(test.text) + len(test.tail))
        )
        starts = exp.Anonymous(this="startswith", expressions=[text.copy(), lit(test.text)])
        ends = exp.Anonymous(this="endswith", expressions=[text.copy(), lit(test.tail)])
        return exp.paren(exp.and_(long_enough, starts, ends, copy=False), copy=False)
    name = {"prefix": "startswith", "suffix": "endswith", "contains": "contains"}[test.kind]
    return exp.Anonymous(this=name, expressions=[text.copy(), lit(test.text)])


def _like(node: exp.Like | exp.ILike, escape: str | None) -> exp.Expression:
    pat = node.expression
    if isinstance(node, exp.Like) and isinstance(pat, exp.Literal) and pat.is_string:
        test = split_like(str(pat.this), escape)
        if test is not None:
            return exp.paren(_text_test(node.this, test), copy=False)
    if isinstance(pat, exp.Literal) and pat.is_string:
        node.set("expression", exp.Literal.string(_spark_like(str(pat.this), escape)))
    elif escape is None:
        # a computed pattern: its backslashes are plain characters in DuckDB
        node.set("expression", exp.func("replace", pat, exp.Literal.string("\\"), exp.Literal.string("\\\\")))
    else:
        raise Untranslatable("LIKE with ESCAPE over a computed pattern cannot be checked for Spark")
    return node


def _spark_like(pattern: str, escape: str | None) -> str:
    """A DuckDB LIKE pattern (with its escape character, or none) in Spark's, whose escape is ``\\``."""
    if escape is not None and len(escape) != 1:
        raise Untranslatable(f"LIKE escape {escape!r} is not one character")
    tokens = like_tokens(pattern, escape)
    if tokens is None:
        raise Untranslatable("LIKE pattern ends with its escape character")
    out = [
        ("\\" + c if c in "%_\\" else c) if escaped else ("\\\\" if c == "\\" else c) for c, escaped in tokens
    ]
    return "".join(out)


def _try_double(node: exp.TryCast) -> exp.Expression:
    """``TRY_CAST(x AS DOUBLE)`` with DuckDB's grammar: NULL unless DuckDB would read the text."""
    text = exp.cast(node.this.copy(), "STRING")
    guard = exp.RegexpLike(this=text, expression=exp.Literal.string(re2_to_java(DUCK_DOUBLE)))
    guard.meta["java"] = True
    inner = exp.RegexpReplace(
        this=text.copy(), expression=exp.Literal.string("_"), replacement=exp.Literal.string("")
    )
    clean = exp.RegexpReplace(
        this=inner, expression=exp.Literal.string(r"^(\s*)\+-"), replacement=exp.Literal.string("$1-")
    )
    inner.meta["java"] = clean.meta["java"] = True
    cast = exp.TryCast(this=clean, to=exp.DataType.build("DOUBLE"), safe=True)
    return exp.Case(ifs=[exp.If(this=guard, true=cast)])


def quote(name: str) -> str:
    """A Spark SQL identifier (backquoted)."""
    return "`" + name.replace("`", "``") + "`"
