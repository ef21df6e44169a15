"""RE2 regular expressions (what DuckDB runs) rewritten for Java's ``java.util.regex`` (what Spark runs).

The Sigma backend, the SQL hunts and the IOC sweep write RE2; Spark evaluates ``RLIKE`` and the
``regexp_*`` functions with Java's engine, which reads the same text differently in places.
Measured on a probe (DuckDB 1.x against Spark 4 on Java 17), and rewritten here so both engines
match the same strings:

* ``$`` outside multi-line mode: RE2 matches only at the end of the text, Java also before a
  final line terminator (``'abc\\n'`` matches ``abc$`` in Java) → ``\\z``.
* ``.`` and ``^``/``$`` in multi-line mode: Java counts ``\\r``, ``\\u0085``, ``\\u2028``,
  ``\\u2029`` as line terminators, RE2 only ``\\n`` → the pattern runs with ``UNIX_LINES`` (``(?d)``).
* ``(?i)``: RE2 folds case over Unicode, Java over ASCII only → ``UNICODE_CASE`` (``(?u)``).
* ``\\b`` / ``\\B``: RE2's word boundary is ASCII (like ``\\w``), Java 17's is Unicode → spelled with
  ASCII look-arounds.
* character classes: Java reads ``[`` inside a class as a nested class and ``&&`` as an
  intersection, RE2 both literally → escaped; POSIX classes ``[[:alpha:]]`` (RE2) → ``\\p{Alpha}``.
* ``{`` that does not start a repetition is a literal in RE2 and an error in Java → ``\\{``.
* ``\\v`` is the vertical tab in RE2 and a class of vertical white space in Java → ``\\x0B``.
* named groups ``(?P<name>…)`` → plain groups (numbering unchanged).

What has no faithful Java spelling (RE2's ungreedy flag ``U``, ``\\C``, ``\\0``, unknown escapes)
raises ``Untranslatable``; the caller reports the rule or hunt instead of running something else.
No library translates between these two dialects, so this is a small tokenizer of our own.
"""

from __future__ import annotations

import re

from forensics.errors import EngineError


class Untranslatable(EngineError):
    """A construct that cannot be run on Spark with the same meaning (the message says which)."""


# RE2's POSIX classes -> Java's (\w has no POSIX name in Java)
_POSIX = {
    "alnum": r"\p{Alnum}", "alpha": r"\p{Alpha}", "ascii": r"\p{ASCII}", "blank": r"\p{Blank}",
    "cntrl": r"\p{Cntrl}", "digit": r"\p{Digit}", "graph": r"\p{Graph}", "lower": r"\p{Lower}",
    "print": r"\p{Print}", "punct": r"\p{Punct}", "space": r"\p{Space}", "upper": r"\p{Upper}",
    "word": r"\w", "xdigit": r"\p{XDigit}",
}  # fmt: skip
# the negated classes: \P{…} for \p{…}, \W for \w
_POSIX_NEG = {name: cls.replace(r"\p", r"\P").replace(r"\w", r"\W") for name, cls in _POSIX.items()}
_WORD_BOUNDARY = r"(?:(?<=[0-9A-Za-z_])(?![0-9A-Za-z_])|(?<![0-9A-Za-z_])(?=[0-9A-Za-z_]))"
_NOT_WORD_BOUNDARY = r"(?:(?<=[0-9A-Za-z_])(?=[0-9A-Za-z_])|(?<![0-9A-Za-z_])(?![0-9A-Za-z_]))"
# escapes both engines read alike (outside and inside classes)
_SAME_ESCAPES = set("dDsSwWtnrfaAz") | set(".^$|?*+()[]{}\\/-&#~!\"',:;<=>@`%_ ")
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
_GENERAL_CATEGORIES = re.compile(r"^(?:[A-Z][a-z]?|Any)$")
_FLAG_GROUP = re.compile(r"\(\?([imsU]*)(?:-([imsU]*))?([:)])")


def re2_to_java(pattern: str) -> str:
    """The Java spelling of an RE2 pattern, or ``Untranslatable``."""
    out = ["(?du)"]
    # multi-line state per open group: (?m) inside a group lasts until the group closes
    stack: list[bool] = [False]
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            piece, i = _escape(pattern, i, in_class=False)
            out.append(piece)
            continue
        if c == "[":
            piece, i = _char_class(pattern, i)
            out.append(piece)
            continue
        if c == "(":
            piece, i = _group_open(pattern, i, stack)
            out.append(piece)
            continue
        if c == ")":
            if len(stack) > 1:
                stack.pop()
            out.append(c)
            i += 1
            continue
        if c == "$":
            out.append("$" if stack[-1] else r"\z")
            i += 1
            continue
        if c == "{":
            m = _REPEAT.match(pattern, i)
            if m is not None and _valid_repeat(m):
                out.append(m.group(0))
                i = m.end()
            else:
                out.append(r"\{")
                i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _valid_repeat(m: re.Match[str]) -> bool:
    lo = int(m.group(1))
    hi = m.group(3)
    return not (hi and int(hi) < lo)


def _group_open(pattern: str, i: int, stack: list[bool]) -> tuple[str, int]:
    """``(`` and what follows it; keeps the multi-line state of the group on ``stack``."""
    if pattern.startswith("(?P<", i) or (pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in "=!"):
        end = pattern.find(">", i)
        if end < 0:
            raise Untranslatable(f"unterminated group name in {pattern!r}")
        stack.append(stack[-1])
        return "(", end + 1
    m = _FLAG_GROUP.match(pattern, i)
    if m is not None and (m.group(1) or m.group(2) is not None):
        on, off, close = m.group(1), m.group(2) or "", m.group(3)
        if "U" in on or "U" in off:
            raise Untranslatable("RE2's ungreedy flag (?U) has no Java equivalent")
        multi = stack[-1]
        if "m" in on:
            multi = True
        if "m" in off:
            multi = False
        if close == ":":
            stack.append(multi)
        else:  # (?m) lasts to the end of the enclosing group
            stack[-1] = multi
        return m.group(0), m.end()
    stack.append(stack[-1])
    if pattern.startswith("(?:", i):
        return "(?:", i + 3
    return "(", i + 1


def _escape(pattern: str, i: int, *, in_class: bool) -> tuple[str, int]:
    """One backslash escape starting at ``i``."""
    if i + 1 >= len(pattern):
        raise Untranslatable("trailing backslash")
    e = pattern[i + 1]
    if e == "b" and not in_class:
        return _WORD_BOUNDARY, i + 2
    if e == "B" and not in_class:
        return _NOT_WORD_BOUNDARY, i + 2
    if e == "v":
        return r"\x0B", i + 2
    if e == "Q":
        end = pattern.find(r"\E", i + 2)
        text = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
        quoted = "".join(_quote(ch, in_class) for ch in text)
        return quoted, len(pattern) if end < 0 else end + 2
    if e == "x":
        if pattern.startswith("{", i + 2):
            end = pattern.find("}", i + 3)
            if end < 0:
                raise Untranslatable(r"unterminated \x{...}")
            return pattern[i : end + 1], end + 1
        return pattern[i : i + 4], i + 4
    if e in "pP":
        if pattern.startswith("{", i + 2):
            end = pattern.find("}", i + 3)
            name = pattern[i + 3 : end] if end > 0 else ""
            if end < 0 or not _GENERAL_CATEGORIES.match(name.lstrip("^")):
                raise Untranslatable(f"Unicode class \\{e}{{{name}}} is spelled differently in Java")
            neg = name.startswith("^")
            name = name.lstrip("^")
            kind = ("P" if e == "p" else "p") if neg else e
            return (r"\p{IsAssigned}" if name == "Any" and kind == "p" else f"\\{kind}{{{name}}}"), end + 1
        return pattern[i : i + 3], i + 3
    if e in _SAME_ESCAPES:
        return pattern[i : i + 2], i + 2
    raise Untranslatable(f"escape \\{e} has no known Java equivalent")


def _quote(ch: str, in_class: bool) -> str:
    if ch.isalnum() or ch == "_" or ord(ch) > 127:
        return ch
    return "\\" + ch


def _char_class(pattern: str, i: int) -> tuple[str, int]:
    """A bracket expression starting at ``i`` (RE2 rules: ``]`` first is literal, ``[`` inside is literal)."""
    out = ["["]
    j = i + 1
    if pattern.startswith("^", j):
        out.append("^")
        j += 1
    first = True
    n = len(pattern)
    while j < n:
        c = pattern[j]
        if c == "]" and not first:
            out.append("]")
            return "".join(out), j + 1
        first = False
        if c == "[" and pattern.startswith("[:", j):
            end = pattern.find(":]", j + 2)
            if end > 0:
                name = pattern[j + 2 : end]
                table = _POSIX_NEG if name.startswith("^") else _POSIX
                key = name.lstrip("^")
                if key not in table:
                    raise Untranslatable(f"unknown POSIX class [:{name}:]")
                out.append(table[key])
                j = end + 2
                continue
        if c == "\\":
            piece, j = _escape(pattern, j, in_class=True)
            out.append(piece)
            continue
        if c in "[]&":
            out.append("\\" + c)
        else:
            out.append(c)
        j += 1
    raise Untranslatable(f"unterminated character class in {pattern!r}")
