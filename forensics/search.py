"""Keyword and regex search over every text column of a case's events, as Chainsaw and Hayabusa
``search`` do, in one DuckDB query.

The filter (``WHERE`` any pattern matches any searched column, plus host and time bounds) and the
list of the fields that matched are one statement: DuckDB scans the columns once, and the
per-field list is built only for the rows that passed the filter. Nothing is evaluated per row in
Python. Keywords are substrings (case-insensitive unless asked), regexes are RE2 (DuckDB's
``regexp_matches``: linear time, no catastrophic backtracking on hostile patterns).

Searched columns: every text column of ``events`` except the bookkeeping ones (``EXCLUDED``:
where a row came from and how its time was read), or the columns named with ``fields`` (any type,
compared as text). Times are the records' own UTC times, not clock-corrected.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from forensics.errors import ForensicsError
from forensics.schema import CORE
from forensics.store import Case

# Columns that say where a row came from or how it was read, not what happened: never searched
# unless named with --field.
EXCLUDED = frozenset(
    {"input_sha256", "input_path", "input_member", "ts_raw", "ts_zone", "source", "category"}
)
KEY_COLUMNS = (
    "ts", "host", "channel", "event_id", "record_id", "provider", "input_sha256", "rec_index",
    "input_path", "input_member",
)  # fmt: skip
TEXT_TYPES = ("VARCHAR",)
CORE_NAMES = frozenset(c.name for c in CORE)


class SearchError(ForensicsError):
    """A search cannot run as asked (bad pattern, unknown field)."""


@dataclass(frozen=True)
class SearchQuery:
    """What to look for and where."""

    keywords: tuple[str, ...] = ()  # substrings
    regexes: tuple[str, ...] = ()  # RE2 patterns
    fields: tuple[str, ...] = ()  # only these columns (names case-insensitive); empty: every text column
    hosts: tuple[str, ...] = ()  # host names, full or short, case-insensitive
    since: datetime | None = None  # aware UTC, inclusive
    until: datetime | None = None  # aware UTC, inclusive
    match_all: bool = False  # every pattern must match (each in any field); default: any pattern
    case_sensitive: bool = False

    def patterns(self) -> list[tuple[str, str]]:
        """(kind, pattern) in the order given: keywords first, then regexes."""
        return [("keyword", k) for k in self.keywords] + [("regex", r) for r in self.regexes]


@dataclass(frozen=True)
class FieldMatch:
    """One field of a matching row and its value."""

    field: str
    value: str


@dataclass(frozen=True)
class Hit:
    """One matching event: where and when, and the fields that matched."""

    ts: datetime | None
    host: str | None
    channel: str | None
    event_id: int | None
    record_id: int | None
    provider: str | None
    input_sha256: str
    rec_index: int
    input_path: str | None
    input_member: str | None
    matches: tuple[FieldMatch, ...]


@dataclass(frozen=True)
class SearchResult:
    """The matching events as an Arrow table (``KEY_COLUMNS`` + ``matches``) and what was searched."""

    table: pa.Table
    columns: tuple[str, ...]  # the columns searched
    sql: str = field(repr=False)

    def __len__(self) -> int:
        return self.table.num_rows

    def hits(self, limit: int | None = None) -> Iterator[Hit]:
        """The first ``limit`` hits (all when None) as typed records, in time order."""
        table = self.table if limit is None else self.table.slice(0, limit)
        for batch in table.to_batches(max_chunksize=10_000):
            for row in batch.to_pylist():
                matches = tuple(FieldMatch(m["field"], m["value"]) for m in row.pop("matches") or [])
                yield Hit(**row, matches=matches)


def _lit(text: str) -> str:
    if "\x00" in text:
        raise SearchError("a pattern cannot contain a NUL character")
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """{column name: DuckDB type} of the events view, in view order."""
    return {r[0]: str(r[1]) for r in con.execute("DESCRIBE events").fetchall()}


def searched_columns(con: duckdb.DuckDBPyConnection, wanted: Sequence[str] = ()) -> list[str]:
    """The columns a search reads: ``wanted`` resolved case-insensitively, else every text column."""
    cols = _columns(con)
    if not wanted:
        text = [c for c, t in cols.items() if t in TEXT_TYPES and c not in EXCLUDED]
        # the source's own field names first (CommandLine before our process_cmdline copy of it)
        return sorted(text, key=lambda c: c in CORE_NAMES)
    by_lower = {c.lower(): c for c in cols}
    out = []
    for name in wanted:
        found = by_lower.get(name.lower())
        if found is None:
            near = difflib.get_close_matches(name, list(cols), n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise SearchError(f"the case's events have no column {name!r}{hint}")
        if found not in out:
            out.append(found)
    return out


def _predicate(kind: str, pattern: str, value: str, case_sensitive: bool) -> str:
    """SQL that is true when ``value`` (an SQL text expression) matches the pattern."""
    if kind == "keyword":
        if case_sensitive:
            return f"contains({value}, {_lit(pattern)})"
        return f"contains(lower({value}), {_lit(pattern.lower())})"
    flags = "" if case_sensitive else "(?i)"
    return f"regexp_matches({value}, {_lit(flags + pattern)})"


def _check_regexes(con: duckdb.DuckDBPyConnection, regexes: Sequence[str]) -> None:
    for r in regexes:
        try:
            con.execute(f"SELECT regexp_matches('', {_lit(r)})").fetchall()
        except duckdb.Error as exc:
            raise SearchError(f"not a valid regular expression (RE2 syntax): {r!r}: {exc}") from exc


def build_sql(query: SearchQuery, columns: Sequence[str]) -> str:
    """The one statement a search runs (exposed for tests and the benchmark)."""
    pats = query.patterns()
    text = {c: f"CAST({_ident(c)} AS VARCHAR)" for c in columns}

    def any_column(kind: str, pattern: str) -> str:
        return (
            "(" + " OR ".join(_predicate(kind, pattern, text[c], query.case_sensitive) for c in columns) + ")"
        )

    join = " AND " if query.match_all else " OR "
    where = [join.join(any_column(k, p) for k, p in pats)]
    if query.hosts:
        names = ", ".join(_lit(h.lower()) for h in query.hosts)
        where.append(f"(lower(host) IN ({names}) OR lower(split_part(host, '.', 1)) IN ({names}))")
    if query.since is not None:
        where.append(f"ts >= {_lit(query.since.isoformat())}::TIMESTAMPTZ")
    if query.until is not None:
        where.append(f"ts <= {_lit(query.until.isoformat())}::TIMESTAMPTZ")
    any_pattern = " OR ".join(_predicate(k, p, "x.value", query.case_sensitive) for k, p in pats)
    items = ", ".join(f"{{'field': {_lit(c)}, 'value': {text[c]}}}" for c in columns)
    keys = ", ".join(_ident(c) for c in KEY_COLUMNS)
    return (
        f"SELECT {keys}, list_filter([{items}], lambda x: x.value IS NOT NULL AND ({any_pattern})) AS matches "
        f"FROM events WHERE {' AND '.join(f'({w})' for w in where)} "
        f"ORDER BY ts NULLS LAST, host, input_sha256, rec_index"
    )


def search(case: Case, query: SearchQuery, con: Any = None) -> SearchResult:
    """Every event matching the query, in time order, with the fields that matched.

    ``con``: where the events are scanned, when not the case's DuckDB: a connection of the same
    shape over the same parts (``forensics.spark.connection.SparkConnection``). The patterns are
    checked as RE2 on the case's DuckDB either way.
    """
    if not query.patterns():
        raise SearchError("nothing to search for: give a keyword or --regex")
    if any(not p for _, p in query.patterns()):
        raise SearchError("an empty pattern matches everything; give a keyword or --regex with text")
    con = case.con if con is None else con
    con.execute("SET TimeZone = 'UTC'")
    columns = searched_columns(con, query.fields)
    if not columns:
        raise SearchError("the case has no text columns to search (no events yet?)")
    _check_regexes(case.con, query.regexes)
    sql = build_sql(query, columns)
    table = con.sql(sql).to_arrow_table()
    return SearchResult(table=table, columns=tuple(columns), sql=sql)
