"""Rules that cannot match a group's rows, found before the engine binds them.

Binding a rule's SQL and compiling its regular expressions costs DuckDB about as much as
evaluating it on a small case, and most rules find nothing: on the 1x attack samples, 1,638
process-creation rules against 1,531 rows. Most rules need some text in a field: ``Image``
ending in ``\\wusa.exe``, a command line containing ``/extract:``. If no row of the group has
that text anywhere in the field, the rule matches no row and need not be bound at all.

``requirement`` reads such a condition off the rule's SQL (the backend's own, limited forms):
per lower-cased derived column ``__l<k>``, literals its value must contain. AND needs every
known part, OR needs some branch (and says nothing when a branch says nothing), NOT and
anything not recognised say nothing. A rule holding a regular expression other than the
backend's merged literal alternatives is never pruned, so a pattern the engine rejects is still
reported as failed. Each literal is a substring of the value whenever the atom is true, so a
rule whose requirement fails on the group's distinct values matches no row: skipping it
gives the same findings (the property tests check this on generated rules and hostile rows).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# A requirement is a plain tuple (it is kept in the plan cache for every rule: tuples of strings
# unpickle about ten times faster than dataclasses): (HAS, column, text) -- the lower-cased derived
# column ``"__l<k>"`` contains ``text`` in the same row -- or (ALL, part, ...) / (ANY, part, ...).
HAS, ALL, ANY = "has", "all", "any"
Req = tuple[Any, ...]
Need = Req | bool | None  # what ``requirement`` says of a rule: a Req, None (nothing known), False (never prune)


def has(column: str, text: str) -> Req:
    """``column``'s value contains ``text``."""
    return (HAS, column, text)


def all_of(*parts: Req) -> Req:
    """Every part holds."""
    return (ALL, *parts)


def any_of(*parts: Req) -> Req:
    """Some part holds."""
    return (ANY, *parts)


_TOKEN = re.compile(r"""\s*(?:('(?:[^']|'')*')|("(?:[^"]|"")*")|([()])|(,)|([A-Za-z_][A-Za-z_0-9]*)|([^\s'"(),A-Za-z_]+))""")
_LOWER = re.compile(r'"__l\d+"')
_REGEX_SPECIAL = set("\\.^$|?*+()[]{}")


class _Unknown(Exception):
    """SQL outside the forms read here (the whole rule then says nothing, or is not pruned)."""


def _tokens(sql: str) -> list[str]:
    out: list[str] = []
    pos = 0
    sql = sql.rstrip()
    while pos < len(sql):
        m = _TOKEN.match(sql, pos)
        if m is None or m.end() == pos:
            raise _Unknown(sql[pos : pos + 20])
        out.append(m.group(m.lastindex or 0))
        pos = m.end()
    return out


Node = str | list["Node"]


def _nest(tokens: list[str]) -> list[Node]:
    stack: list[list[Node]] = [[]]
    for t in tokens:
        if t == "(":
            stack.append([])
        elif t == ")":
            if len(stack) == 1:
                raise _Unknown("unbalanced")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(t)
    if len(stack) != 1:
        raise _Unknown("unbalanced")
    return stack[0]


def _split(seq: list[Node], word: str) -> list[list[Node]]:
    parts: list[list[Node]] = [[]]
    for x in seq:
        if isinstance(x, str) and x.upper() == word:
            parts.append([])
        else:
            parts[-1].append(x)
    return parts


def _string(tok: Node) -> str | None:
    if isinstance(tok, str) and len(tok) >= 2 and tok[0] == "'" and tok[-1] == "'":
        return tok[1:-1].replace("''", "'")
    return None


def _lower_col(tok: Node) -> str | None:
    return tok if isinstance(tok, str) and _LOWER.fullmatch(tok) else None


def _all(parts: Iterable[Req | None]) -> Req | None:
    known = tuple(p for p in parts if p is not None)
    if not known:
        return None
    return known[0] if len(known) == 1 else all_of(*known)


def _any(parts: list[Req | None]) -> Req | None:
    if any(p is None for p in parts):
        return None
    known = tuple(p for p in parts if p is not None)
    return known[0] if len(known) == 1 else any_of(*known)


def _seq(seq: list[Node]) -> Req | None:
    while len(seq) == 1 and isinstance(seq[0], list):
        seq = seq[0]
    ors = _split(seq, "OR")
    if len(ors) > 1:
        return _any([_seq(p) for p in ors])
    ands = _split(seq, "AND")
    if len(ands) > 1:
        return _all(_seq(p) for p in ands)
    return _atom(seq)


def _atom(seq: list[Node]) -> Req | None:
    if not seq:
        raise _Unknown("empty")
    head = seq[0]
    if isinstance(head, str) and head.lower() == "regexp_matches":
        return _regex_atom(seq)
    _check_regexes(seq)  # a regex anywhere else (under NOT, coalesce, ...): refuse to prune
    col = _lower_col(head)
    if col is None or len(seq) < 3:
        return None
    op = seq[1]
    if op == "=" and len(seq) == 3:
        lit = _string(seq[2])
        return has(col, lit) if lit else None
    if isinstance(op, str) and op.upper() == "LIKE":
        pat = _string(seq[2])
        if pat is None:
            return None
        if len(seq) == 3:
            return _like(col, pat, None)
        if len(seq) == 5 and isinstance(seq[3], str) and seq[3].upper() == "ESCAPE":
            return _like(col, pat, _string(seq[4]))
    return None


def _check_regexes(seq: list[Node]) -> None:
    for i, x in enumerate(seq):
        if isinstance(x, list):
            _check_regexes(x)
        elif x.lower() == "regexp_matches" and _regex_atom(seq[i : i + 2]) is None:
            raise _Unknown("regular expression")


def _regex_atom(seq: list[Node]) -> Req | None:
    """``regexp_matches("__l<k>", '(?s)alt|alt')`` with the backend's literal alternatives, else refuse."""
    if len(seq) != 2 or not isinstance(seq[1], list) or len(seq[1]) != 3 or seq[1][1] != ",":
        raise _Unknown("regular expression")
    col, pat = _lower_col(seq[1][0]), _string(seq[1][2])
    if col is None or pat is None or not pat.startswith("(?s)"):
        raise _Unknown("regular expression")
    alts = _alternatives(pat[4:])
    return _any([_all(has(col, run) for run in runs) for runs in alts])


def _alternatives(body: str) -> list[list[str]]:
    """Literal runs of each alternative of a merged literal regex (``_sigma_to_regex``'s forms)."""
    alts: list[list[str]] = []
    runs: list[str] = []
    cur: list[str] = []
    i, n = 0, len(body)
    at_start = True
    while i <= n:
        c = body[i] if i < n else "|"
        if c == "|":
            runs.append("".join(cur))
            alts.append([r for r in runs if r])
            runs, cur, at_start = [], [], True
            i += 1
            continue
        if c == "\\":
            if i + 1 >= n or body[i + 1] not in _REGEX_SPECIAL:
                raise _Unknown("regular expression")
            cur.append(body[i + 1])
            i += 2
        elif (c == "^" and at_start) or (c == "$" and (i + 1 == n or body[i + 1] == "|")):
            i += 1  # the anchors of the alternative
        elif c == ".":
            runs.append("".join(cur))
            cur = []
            i += 2 if body[i + 1 : i + 2] == "*" else 1
        elif c in _REGEX_SPECIAL:
            raise _Unknown("regular expression")
        else:
            cur.append(c)
            i += 1
        at_start = False
    return alts


def _like(col: str, pat: str, escape: str | None) -> Req | None:
    if escape not in (None, "\\") or (escape is None and "\\" in pat):
        return None
    runs: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(pat):
        c = pat[i]
        if escape and c == escape:
            if i + 1 >= len(pat):
                return None
            cur.append(pat[i + 1])
            i += 2
            continue
        if c in "%_":
            runs.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    runs.append("".join(cur))
    return _all(has(col, r) for r in runs if r)


def requirement(sql: str) -> Need:
    """What the rule needs of a row's text, None when nothing is known, False when it must never be
    pruned (a regular expression this module does not read)."""
    try:
        return _seq(_nest(_tokens(sql)))
    except _Unknown:
        return False


def needed_columns(needs: Iterable[Need]) -> set[str]:
    """The derived columns the requirements read."""
    return {c for r in needs if isinstance(r, tuple) for c in columns(r)}


def can_match(need: Need, texts: Mapping[str, str | None]) -> bool:
    """False when the rule cannot match: its requirement fails on ``texts`` (column -> the group's
    distinct values joined; None when it has none). Columns not in ``texts`` count as having any text."""
    return matchable(texts)(need)


# A column's joined values this long are searched through their 4-grams first: most literals a
# group's rules need are absent, and a gram missing from the value says so without a scan (1,600
# process-creation rules ask 8,000 literals of 80 KB of command lines).
_GRAMS_FROM = 16_384
_GRAM = 4


def matchable(texts: Mapping[str, str | None]) -> Callable[[Need], bool]:
    """``can_match`` for many rules on the same ``texts``: each (column, literal) is looked up once."""
    seen: dict[tuple[str, str], bool] = {}
    grams: dict[str, set[str]] = {}

    def present(col: str, text: str) -> bool:
        got = seen.get((col, text))
        if got is None:
            got = _present(texts, grams, col, text)
            seen[(col, text)] = got
        return got

    def ok(need: Need) -> bool:
        return not isinstance(need, tuple) or holds(need, present)

    return ok


def _present(texts: Mapping[str, str | None], grams: dict[str, set[str]], col: str, text: str) -> bool:
    if col not in texts:
        return True
    got = texts[col]
    if got is None:
        return False
    if len(got) >= _GRAMS_FROM and len(text) >= _GRAM:
        have = grams.get(col)
        if have is None:
            have = grams[col] = {got[k : k + _GRAM] for k in range(len(got) - _GRAM + 1)}
        # every 4 characters of a substring are 4 characters of the value
        if any(text[k : k + _GRAM] not in have for k in range(0, len(text) - _GRAM + 1)):
            return False
    return text in got


def columns(req: Req) -> set[str]:
    """The derived columns a requirement reads."""
    if req[0] == HAS:
        return {req[1]}
    return {c for p in req[1:] for c in columns(p)}


def holds(req: Req, present: Callable[[str, str], bool]) -> bool:
    """Whether the requirement can hold, given ``present(column, text)``: some row's value contains it."""
    if req[0] == HAS:
        return present(req[1], req[2])
    if req[0] == ALL:
        return all(holds(p, present) for p in req[1:])
    return any(holds(p, present) for p in req[1:])
