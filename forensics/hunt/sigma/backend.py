"""Our Sigma backend: a parsed pySigma condition tree -> one portable SQL boolean expression.

Why our own and not pySigma's DuckDB backend: that backend leaves ``%``/``_`` unescaped in LIKE
patterns, compares case-sensitively and lets ``not`` over an absent field evaluate to NULL, so
negated rules never fire. Semantics here follow the Sigma specification:

* strings match case-insensitively (``lower(col)`` against a lower-cased literal) unless the value
  carries ``cased``; ``*`` / ``?`` become LIKE ``%`` / ``_`` and literal ``%``, ``_``, ``\\`` are
  escaped (``ESCAPE '\\'``, written only when the pattern needs it);
* a field the data does not have is folded to a constant at conversion time: a match on it is
  false, ``null`` / ``exists: false`` on it is true — so ``not`` over a missing field is true;
  ``null`` also matches an empty value (EVTX writes empty elements as ''), ``exists`` does not;
  and the other way round, ``''`` matches an absent value: one version of an event writes an
  empty element where another has none (Sysmon before 8 wrote no ``RuleName``), so to a rule
  author both mean "no value" (Hayabusa's Sysmon rules test ``RuleName: ''`` for "no alert");
* SQL NULL never leaks into ``not``: every negation is ``NOT coalesce(x, false)``;
* regular expressions go through ``regexp_matches`` with their flags written inline (``(?i)``),
  CIDR ranges become LIKE prefixes, numbers compare numerically (``TRY_CAST``).

Only functions that sqlglot transpiles to Spark are used (lower, coalesce, regexp_matches,
TRY_CAST, left/right/length, strpos, chr, LIKE ... ESCAPE).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

from forensics.hunt.sigma.sqlutil import like_escape, quote_str

TRUE = "TRUE"
FALSE = "FALSE"


class Unsupported(Exception):
    """The rule uses something this backend cannot express (the message says what)."""


@dataclass(frozen=True)
class ColumnRef:
    """A resolved field: the SQL expression reading it and whether it is numeric."""

    sql: str
    numeric: bool = False
    lower_sql: str | None = None  # a column already holding lower(sql), computed once per scan

    @property
    def lower(self) -> str:
        """SQL of the lower-cased value."""
        if self.lower_sql:
            return self.lower_sql
        return f"lower(CAST({self.sql} AS VARCHAR))" if self.numeric else f"lower({self.sql})"


Resolver = Callable[[str], "ColumnRef | None"]


@dataclass
class ConvertContext:
    """What the conversion needs to know about the data it will run on."""

    resolve: Resolver  # Sigma field name -> column expression, None when the data lacks it
    keyword: ColumnRef | None = None  # text a field-less (keyword) search looks in
    placeholders: dict[str, list[str]] = field(default_factory=dict)  # values for |expand
    fields: set[str] = field(default_factory=set)  # Sigma fields the rule referenced (filled)


# RE2 (DuckDB, Spark's Java regex is a superset) has no lookaround, backreferences, atomic or
# possessive groups; reject those up front with a clear reason instead of a runtime error.
_RE2_UNSUPPORTED = re.compile(r"\(\?<?[=!]|\(\?>|\\[1-9]|[*+?}]\+")

_FLAG_LETTERS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}

_CMP = {
    CompareOperators.LT: "<",
    CompareOperators.LTE: "<=",
    CompareOperators.GT: ">",
    CompareOperators.GTE: ">=",
    CompareOperators.NEQ: "<>",
}

_TS_PARTS = {
    "minute": "minute",
    "hour": "hour",
    "day": "day",
    "week": "week",
    "month": "month",
    "year": "year",
}


def to_sql(node: object, ctx: ConvertContext) -> str:
    """SQL boolean expression for a parsed condition node (NULL, where it occurs, means no match)."""
    return _node(node, ctx)


def _node(node: object, ctx: ConvertContext) -> str:
    if isinstance(node, ConditionAND):
        return _join([_node(a, ctx) for a in node.args], "AND")
    if isinstance(node, ConditionOR):
        return _join(_or_args(node.args, ctx), "OR")
    if isinstance(node, ConditionNOT):
        inner = _node(node.args[0], ctx)
        if inner == TRUE:
            return FALSE
        if inner == FALSE:
            return TRUE
        return f"NOT coalesce({inner}, FALSE)"
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _field_value(node.field, node.value, ctx)
    if isinstance(node, ConditionValueExpression):
        return _keyword(node.value, ctx)
    raise Unsupported(f"condition element {type(node).__name__} is not supported")


def _is_empty(value: object) -> bool:
    """True for the empty string (cased or not): a test for "no value"."""
    return isinstance(value, SigmaString) and len(value) == 0


def _plain_strings(value: object) -> list[SigmaString] | None:
    """The plain (case-insensitive, placeholder-free) strings a value stands for, or None."""
    if type(value) is SigmaString:
        return None if value.contains_placeholder() or len(value) == 0 else [value]
    if isinstance(value, SigmaExpansion):
        out: list[SigmaString] = []
        for v in value.values:
            got = _plain_strings(v)
            if got is None:
                return None
            out.extend(got)
        return out
    return None


def _mergeable(arg: object) -> tuple[str, list[SigmaString]] | None:
    """(field, strings) of an OR-ed ``field = plain string(s)`` item that can join a merged regex."""
    if isinstance(arg, ConditionValueExpression):
        strings = _plain_strings(arg.value)
        return None if strings is None else (_KEYWORD, [_keyword_pattern(x) for x in strings])
    if not isinstance(arg, ConditionFieldEqualsValueExpression) or arg.field is None:
        return None
    strings = _plain_strings(arg.value)
    return None if strings is None else (arg.field, strings)


def _or_args(args: Sequence[object], ctx: ConvertContext) -> list[str]:
    """OR-ed items; plain strings on one field (windash / base64offset variants included) become
    one regular expression.

    DuckDB's planning time grows with every expression node, and SigmaHQ rules OR long value
    lists (``Image|endswith: [...]``): one ``regexp_matches`` per field keeps a 1,000-rule scan
    cheap to plan, and RE2 matches the alternatives in one pass.
    """
    by_field: dict[str, list[SigmaString]] = {}
    for a in args:
        m = _mergeable(a)
        if m is not None:
            by_field.setdefault(m[0], []).extend(m[1])
    out: list[str] = []
    done: set[str] = set()
    for a in args:
        m = _mergeable(a)
        if m is None or len(by_field[m[0]]) < 2:
            out.append(_node(a, ctx))
        elif m[0] not in done:
            done.add(m[0])
            out.append(_merged_regex(m[0], by_field[m[0]], ctx))
    return out


_RE_SPECIAL = set("\\.^$|?*+()[]{}")


def _re_literal(text: str) -> str:
    return "".join("\\" + c if c in _RE_SPECIAL else c for c in text)


def _sigma_to_regex(s: SigmaString) -> str:
    parts = list(s.iter_parts())
    head = not (parts and parts[0] is SpecialChars.WILDCARD_MULTI)
    tail = not (parts and parts[-1] is SpecialChars.WILDCARD_MULTI)
    if not head:
        parts = parts[1:]
    if not tail and parts:
        parts = parts[:-1]
    body = []
    for p in parts:
        if p is SpecialChars.WILDCARD_MULTI:
            body.append(".*")
        elif p is SpecialChars.WILDCARD_SINGLE:
            body.append(".")
        else:
            body.append(_re_literal(str(p).lower()))
    return ("^" if head else "") + "".join(body) + ("$" if tail else "")


_KEYWORD = "\x00keyword"  # the key merged keyword searches group under (no field has this name)


def _keyword_pattern(s: SigmaString) -> SigmaString:
    """A keyword matches anywhere in the event text unless the rule anchors it with wildcards."""
    if s.startswith(SpecialChars.WILDCARD_MULTI) or s.endswith(SpecialChars.WILDCARD_MULTI):
        return s
    return SpecialChars.WILDCARD_MULTI + s + SpecialChars.WILDCARD_MULTI


def _merged_regex(name: str, values: list[SigmaString], ctx: ConvertContext) -> str:
    if name == _KEYWORD:
        col = ctx.keyword
    else:
        ctx.fields.add(name)
        col = ctx.resolve(name)
    if col is None:
        return FALSE
    alts = sorted({_sigma_to_regex(v) for v in values})
    return f"regexp_matches({col.lower}, {quote_str('(?s)' + '|'.join(alts))})"


def _join(parts: list[str], op: str) -> str:
    """AND/OR with constant folding, so a missing field simplifies the expression."""
    absorbing, neutral = (FALSE, TRUE) if op == "AND" else (TRUE, FALSE)
    if absorbing in parts:
        return absorbing
    kept = [p for p in parts if p != neutral]
    if not kept:
        return neutral
    if len(kept) == 1:
        return kept[0]
    return "(" + f" {op} ".join(kept) + ")"


# ---- field = value --------------------------------------------------------------------------
def _field_value(name: str, value: object, ctx: ConvertContext) -> str:
    ctx.fields.add(name)
    if isinstance(value, SigmaExpansion):
        strings = _plain_strings(value)
        if strings is not None and len(strings) > 1:
            return _merged_regex(name, strings, ctx)
        return _join([_field_value(name, v, ctx) for v in value.values], "OR")
    col = ctx.resolve(name)
    if isinstance(value, SigmaNull):
        # null: absent or empty. EVTX renders an empty <Data> element as '' (Sysmon's StartModule)
        if col is None:
            return TRUE
        return f"({col.sql} IS NULL)" if col.numeric else f"({col.sql} IS NULL OR {col.sql} = '')"
    if isinstance(value, SigmaExists):
        if col is None:
            return FALSE if value.exists else TRUE
        return f"({col.sql} IS {'NOT ' if value.exists else ''}NULL)"
    if isinstance(value, SigmaFieldReference):
        return _fieldref(col, value, ctx)
    if _is_empty(value):  # '' is "no value", as null is: absent, NULL or empty
        if col is None:
            return TRUE
        return f"({col.sql} IS NULL)" if col.numeric else f"({col.sql} IS NULL OR {col.sql} = '')"
    if col is None:
        _check_value(value, ctx)  # an unsupported value is reported even when the field is absent
        return FALSE
    return _match(col, value, ctx)


def _check_value(value: object, ctx: ConvertContext) -> None:
    if isinstance(value, SigmaString):
        _expand_placeholders(value, ctx)
    elif isinstance(value, SigmaRegularExpression):
        _regex_literal(value)
    elif not isinstance(value, SigmaNumber | SigmaBool | SigmaCIDRExpression | SigmaCompareExpression):
        raise Unsupported(f"value type {type(value).__name__} is not supported")


def _match(col: ColumnRef, value: object, ctx: ConvertContext) -> str:
    if isinstance(value, SigmaTimestampPart):
        part = _TS_PARTS[value.timestamp_part.name.lower()]
        return f"(date_part('{part}', TRY_CAST({col.sql} AS TIMESTAMP)) = {int(value.number)})"
    if isinstance(value, SigmaString):
        strings = _expand_placeholders(value, ctx)
        return _join([_string(col, s) for s in strings], "OR")
    if isinstance(value, SigmaBool):
        return f"(lower(CAST({col.sql} AS VARCHAR)) = '{'true' if value.boolean else 'false'}')"
    if isinstance(value, SigmaNumber):
        return _number(col, value.number)
    if isinstance(value, SigmaCompareExpression):
        num = value.number.number
        target = col.sql if col.numeric else f"TRY_CAST({col.sql} AS DOUBLE)"
        return f"({target} {_CMP[value.op]} {num!r})"
    if isinstance(value, SigmaRegularExpression):
        pattern = _regex_literal(value)
        return _long_line(_as_text(col), pattern) or f"regexp_matches({_as_text(col)}, {quote_str(pattern)})"
    if isinstance(value, SigmaCIDRExpression):
        pats = value.expand("*")
        text = ColumnRef(_as_text(col), lower_sql=col.lower_sql)
        return _join([_string(text, SigmaString(p)) for p in pats], "OR")
    raise Unsupported(f"value type {type(value).__name__} is not supported")


_LONG_LINE = re.compile(r"(\(\?[a-z]*\))?\.\{(\d+),\}")


def _long_line(text: str, pattern: str) -> str | None:
    """``.{N,}`` (a line of at least N characters: Hayabusa's and SigmaHQ's long-command-line
    rules) without running it where the value's length decides: RE2 runs it as an automaton of
    N states, 45 ms per 1,200-character command line. ``.`` is any character but a newline (with
    ``s``, any): a value without one matches when it has N characters (``length`` counts them as
    RE2 does, by code point); a value with one still goes through the expression."""
    m = _LONG_LINE.fullmatch(pattern)
    if m is None:
        return None
    n = int(m.group(2))
    if "s" in (m.group(1) or ""):
        return f"(length({text}) >= {n})"
    return f"(length({text}) >= {n} AND (strpos({text}, chr(10)) = 0 OR regexp_matches({text}, {quote_str(pattern)})))"


def _as_text(col: ColumnRef) -> str:
    return f"CAST({col.sql} AS VARCHAR)" if col.numeric else col.sql


def _number(col: ColumnRef, number: int | float) -> str:
    if col.numeric:
        return f"({col.sql} = {number!r})"
    # a string column: the decimal spelling, and for integers the hex one Windows often logs
    # (GrantedAccess, Status); TRY_CAST catches padded or signed spellings
    spellings = [str(number)]
    if isinstance(number, int) and number >= 0:
        spellings.append(hex(number))
    lits = ", ".join(quote_str(s) for s in spellings)
    return f"({col.lower} IN ({lits}) OR TRY_CAST({col.sql} AS DOUBLE) = {number!r})"


def _string(col: ColumnRef, s: SigmaString) -> str:
    """Case-insensitive (unless cased) equality or LIKE of a column against a Sigma string."""
    cased = isinstance(s, SigmaCasedString)
    pattern, has_wild = _like_pattern(s, lower=not cased)
    target = col.sql if cased else col.lower
    if not has_wild:
        # the parts, not to_plain(): to_plain re-escapes a literal * or ? as \* / \?
        plain = "".join(str(p) for p in s.iter_parts())
        return f"({target} = {quote_str(plain if cased else plain.lower())})"
    esc = " ESCAPE '\\'" if "\\" in pattern else ""
    return f"({target} LIKE {quote_str(pattern)}{esc})"


def _like_pattern(s: SigmaString, lower: bool) -> tuple[str, bool]:
    out: list[str] = []
    wild = False
    for part in s.iter_parts():
        if part is SpecialChars.WILDCARD_MULTI:
            out.append("%")
            wild = True
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append("_")
            wild = True
        elif isinstance(part, str):
            out.append(like_escape(part.lower() if lower else part))
        else:
            raise Unsupported(f"unresolved placeholder {part!r} in value")
    return "".join(out), wild


def _expand_placeholders(s: SigmaString, ctx: ConvertContext) -> list[SigmaString]:
    if not s.contains_placeholder():
        return [s]

    def values(p: Placeholder) -> Iterator[str]:
        if p.name not in ctx.placeholders:
            raise Unsupported(
                f"placeholder %{p.name}% has no value (give one with --placeholder {p.name}=VALUE)"
            )
        yield from ctx.placeholders[p.name]

    out = s.replace_placeholders(values)
    if isinstance(s, SigmaCasedString):
        out = [SigmaCasedString.from_sigma_string(x) for x in out]
    return out


def _regex_literal(value: SigmaRegularExpression) -> str:
    if value.contains_placeholder():
        raise Unsupported("placeholders inside regular expressions are not supported")
    pattern = value.regexp.to_plain() if hasattr(value.regexp, "to_plain") else str(value.regexp)
    if _RE2_UNSUPPORTED.search(pattern):
        raise Unsupported(
            f"regular expression {pattern!r} uses lookaround, backreferences or possessive/atomic groups, "
            "which RE2 (DuckDB/Spark-portable regex) does not support"
        )
    flags = "".join(sorted(_FLAG_LETTERS[f] for f in value.flags))
    return (f"(?{flags})" if flags else "") + pattern


def _fieldref(col: ColumnRef | None, value: SigmaFieldReference, ctx: ConvertContext) -> str:
    ctx.fields.add(value.field)
    other = ctx.resolve(value.field)
    if col is None or other is None:
        return FALSE
    a, b = col.lower, other.lower
    if value.starts_with and value.ends_with:
        return f"(strpos({a}, {b}) > 0)"
    if value.starts_with:
        return f"(left({a}, length({b})) = {b})"
    if value.ends_with:
        return f"(right({a}, length({b})) = {b})"
    return f"({a} = {b})"


# ---- keywords -------------------------------------------------------------------------------
def _keyword(value: object, ctx: ConvertContext) -> str:
    if isinstance(value, SigmaExpansion):
        return _join([_keyword(v, ctx) for v in value.values], "OR")
    if isinstance(value, SigmaNumber):
        value = SigmaString(str(value.number))
    if isinstance(value, SigmaRegularExpression):
        if ctx.keyword is None:
            _regex_literal(value)
            return FALSE
        return f"regexp_matches({ctx.keyword.sql}, {quote_str(_regex_literal(value))})"
    if not isinstance(value, SigmaString):
        raise Unsupported(f"keyword of type {type(value).__name__} is not supported")
    strings = _expand_placeholders(value, ctx)
    if ctx.keyword is None:
        return FALSE
    return _join([_string(ctx.keyword, _keyword_pattern(s)) for s in strings], "OR")
