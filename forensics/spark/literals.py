"""Regular expressions and LIKE patterns that only test for literal text, as plain string tests.

Most Sigma terms look for fixed text: ``Image|endswith: ['\\cmd.exe', ...]`` becomes one RE2
alternation ``\\\\cmd\\.exe$|\\\\powershell\\.exe$|...`` (one pass for RE2's automaton in DuckDB), and
``CommandLine|contains: '\\temp\\'`` a ``LIKE '%\\\\temp\\\\%' ESCAPE '\\'``. Java's backtracking
engine, which Spark runs for both (Spark rewrites LIKE to a regex whenever the pattern holds an
escape), tries every alternative at every position of the text: measured on 93 k process
creations, such terms were most of a 300-rule scan. Spelled as ``startswith`` / ``endswith`` /
``contains`` / ``=`` they are byte comparisons.

Only what is provably the same test is rewritten (anything else is left to the regex engine):

* an RE2 pattern: an optional leading ``(?s)`` and top-level alternatives of literal characters
  (plain or backslash-escaped punctuation), each optionally anchored with ``^`` at its start and
  ``$`` at its end (without ``(?m)`` these are the text's ends in RE2), and ``.*`` only with
  ``(?s)`` (where ``.`` matches every character, newlines included, so ``.*`` is "any text");
* a LIKE pattern: literal characters (with the pattern's escape) and ``%``; ``_`` stays LIKE.

An alternative ``^a.*b$`` is "starts with a, ends with b, and at least as long as both"; one with
``.*`` elsewhere between literals (``a.*b``) stays in a (smaller) regular expression.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TestKind = Literal["equals", "prefix", "suffix", "contains", "affix"]

_RE_META = set("\\.^$|?*+()[]{}")


@dataclass(frozen=True)
class TextTest:
    """One literal test of a text: equal to, starts with, ends with, contains ``text``; ``affix``:
    starts with ``text`` and ends with ``tail``, with at least their joint length."""

    kind: TestKind
    text: str
    tail: str = ""


@dataclass(frozen=True)
class Split:
    """An RE2 alternation split into literal tests and the alternatives still needing the regex
    (``rest``: an RE2 pattern with the original flags, or None when every alternative is literal)."""

    tests: tuple[TextTest, ...]
    rest: str | None


def split_regex(pattern: str) -> Split | None:
    """The literal tests an RE2 pattern stands for; None when it is not an alternation of literals
    (or when none of its alternatives is)."""
    dotall = False
    body = pattern
    if body.startswith("(?s)"):
        dotall, body = True, body[4:]
    alternatives = _alternatives(body)
    if alternatives is None:
        return None
    tests: list[TextTest] = []
    rest: list[str] = []
    for alt in alternatives:
        test = _alternative(alt, dotall)
        if test is None:
            rest.append(alt)
        else:
            tests.append(test)
    if not tests:
        return None
    flags = "(?s)" if dotall else ""
    return Split(tuple(tests), flags + "|".join(rest) if rest else None)


def _alternatives(body: str) -> list[str] | None:
    """Top-level alternatives; None when the pattern has groups or classes (not ours to read)."""
    out: list[str] = []
    start = 0
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\":
            i += 2
            continue
        if c in "()[]":
            return None
        if c == "|":
            out.append(body[start:i])
            start = i + 1
        i += 1
    out.append(body[start:])
    return out


def _alternative(alt: str, dotall: bool) -> TextTest | None:
    """One alternative as a literal test, or None."""
    start = alt.startswith("^")
    if start:
        alt = alt[1:]
    end = alt.endswith("$") and not _escaped_at(alt, len(alt) - 1)
    if end:
        alt = alt[:-1]
    pieces = _pieces(alt, dotall)
    if pieces is None:
        return None
    # a ".*" at either end only says the text may go on: the same as no anchor there
    if pieces and pieces[0] is None:
        start = False
        pieces = _trim(pieces)
    if pieces and pieces[-1] is None:
        end = False
        pieces = _trim(pieces)
    literals = [p for p in pieces if p is not None]
    if not literals or any(p == "" for p in literals):
        return None  # matches every text (or a construct we do not read): leave it to the regex
    return _test(literals, start, end)


def _trim(pieces: list[str | None]) -> list[str | None]:
    while pieces and pieces[0] is None:
        pieces = pieces[1:]
    while pieces and pieces[-1] is None:
        pieces = pieces[:-1]
    return pieces


def _escaped_at(text: str, i: int) -> bool:
    backslashes = len(text[:i]) - len(text[:i].rstrip("\\"))
    return backslashes % 2 == 1


def _pieces(alt: str, dotall: bool) -> list[str | None] | None:
    """Literal runs and ``None`` for each ``.*``; None when anything else appears."""
    pieces: list[str | None] = []
    run: list[str] = []
    i = 0
    while i < len(alt):
        c = alt[i]
        if c == "\\":
            if i + 1 >= len(alt):
                return None
            e = alt[i + 1]
            if e.isascii() and not e.isalnum() and e not in " \t\n":
                run.append(e)  # RE2: a backslash before punctuation is that character
                i += 2
                continue
            return None  # \d, \b, \x41, ...: a class or an escape we do not read
        if dotall and alt.startswith(".*", i) and not alt.startswith((".*?", ".*+"), i):
            pieces.append("".join(run))
            run = []
            pieces.append(None)
            i += 2
            continue
        if c in _RE_META:
            return None
        run.append(c)
        i += 1
    pieces.append("".join(run))
    # drop the empty runs around ".*" (they are not literals), keep the order
    out: list[str | None] = []
    for p in pieces:
        if p == "":
            continue
        if p is None and out and out[-1] is None:
            continue
        out.append(p)
    return out if out else [""]


def like_tokens(pattern: str, escape: str | None) -> list[tuple[str, bool]] | None:
    """A DuckDB LIKE pattern as (character, escaped) pairs; None when it ends with its escape."""
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(pattern):
        if escape is not None and pattern[i] == escape:
            if i + 1 >= len(pattern):
                return None
            out.append((pattern[i + 1], True))
            i += 2
        else:
            out.append((pattern[i], False))
            i += 1
    return out


def split_like(pattern: str, escape: str | None) -> TextTest | None:
    """A DuckDB LIKE pattern (escape character ``escape`` or none) as one literal test, or None."""
    tokens = like_tokens(pattern, escape)
    if tokens is None:
        return None
    pieces: list[str | None] = []
    run: list[str] = []
    for c, escaped in tokens:
        if escaped:
            run.append(c)
        elif c == "_":
            return None
        elif c == "%":
            pieces.append("".join(run))
            run = []
            pieces.append(None)
        else:
            run.append(c)
    pieces.append("".join(run))
    start = not (pieces and pieces[0] is None) and not (
        pieces[0] == "" and len(pieces) > 1 and pieces[1] is None
    )
    end = not (pieces and pieces[-1] is None) and not (
        pieces[-1] == "" and len(pieces) > 1 and pieces[-2] is None
    )
    literals = [p for p in pieces if p]
    if not literals:
        return None  # '%' or '': left to LIKE
    return _test(literals, start, end)


def _test(literals: list[str], start: bool, end: bool) -> TextTest | None:
    """The string test for literal pieces anchored at the start and/or end (None: not one test)."""
    if len(literals) == 1:
        text = literals[0]
        kind: TestKind = "equals" if start and end else "prefix" if start else "suffix" if end else "contains"
        return TextTest(kind, text)
    if len(literals) == 2 and start and end:
        return TextTest("affix", literals[0], literals[1])
    return None
