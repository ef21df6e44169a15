"""Execution planning: many Sigma rules per scan, only the partitions and columns they need.

DuckDB costs ~10 ms per query whatever the data, so 2,600 rules must not be 2,600 queries.
Rules are grouped by their log-source predicate; each group becomes one query (or a few, in
chunks) over just the part files whose (source, channel) can hold its rows, reading only the
columns its rules touch, with one ``CASE WHEN <rule> THEN '<n>' END`` term per rule folded into a
``hits`` string. Which partitions a group needs comes from a small statistics table
(source, channel, category, provider, event_id, rows) built by one scan of five columns, so a
group whose log source is absent from the case costs nothing and is reported as such.

A query DuckDB rejects (a regex RE2 cannot compile, ...) is split in halves until the bad rule
is found; that rule is reported failed with DuckDB's message and the others still run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
from sigma.rule import SigmaRule
from sigma.types import SigmaExpansion, SigmaString

from forensics.hunt.sigma import prune
from forensics.hunt.sigma.backend import TRUE, ColumnRef, ConvertContext, Unsupported, to_sql
from forensics.hunt.sigma.cache import RuleMeta, cond_from_ir
from forensics.hunt.sigma.loader import LoadedRule
from forensics.hunt.sigma.pipeline import LogSource, field_candidates, map_logsource
from forensics.hunt.sigma.sqlutil import like_escape, quote_ident, quote_str
from forensics.schema import CORE, CORE_NAMES, SPILL, duck_type

CHUNK = 300  # rules per query: keeps DuckDB's expression binding fast and failures cheap to bisect
PREDICATE_COLUMNS = ("source", "channel", "category", "provider", "event_id")
PROVENANCE = ("input_sha256", "rec_index", "host", "ts")
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL")  # fmt: skip
# Columns never searched by keyword rules: provenance and bookkeeping, not event text.
_NOT_TEXT = {"input_sha256", "input_path", "input_member", "ts_raw", "ts_zone", "source"}


@dataclass
class PreparedRule:
    """A parsed detection rule with its log source, ready to convert for a schema."""

    index: int  # position in the load order: the stable key of the rule in a run
    loaded: LoadedRule
    rule: SigmaRule | RuleMeta
    logsource: LogSource
    category: str | None
    conds: list[Any] | None  # parsed pySigma condition trees (OR-ed); None until decoded from conds_ir
    has_keywords: bool = False  # a field-less (keyword) detection item is present
    conds_ir: list[Any] | None = None  # the cached form, decoded only when the SQL is not cached too
    notes: tuple[str, ...] = ()  # how the log source was settled, when the rule's own could not say
    aliases: Mapping[str, str] = field(default_factory=dict)  # the rule set's field names -> columns
    ruleset_key: str = ""  # fingerprint of the rule set's configuration (part of the SQL cache key)

    @property
    def conditions(self) -> list[Any]:
        """The condition trees (decoded from the cache on first use)."""
        if self.conds is None:
            if self.conds_ir is None:  # a plan read back without its conditions (plancache): never guess
                raise LookupError(f"conditions of rule {self.index} were not loaded")
            self.conds = [cond_from_ir(c) for c in self.conds_ir]
        return self.conds


@dataclass
class Schema:
    """Columns available to a group: lower-case name -> (spelling, DuckDB type).

    Resolved fields become derived columns of the group's scan (``__c<k>`` the value and
    ``__l<k>`` its lower-case), computed once per row however many rules test them: DuckDB's
    planning cost grows with every expression node, so rules refer to plain columns only.
    """

    columns: dict[str, tuple[str, str]]
    derived: dict[str, int] = field(default_factory=dict)  # value SQL -> k of __c<k> / __l<k>
    sources: set[str] = field(default_factory=set)  # source columns the derived columns read

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Schema:
        """Build from (name, type) pairs; the first spelling of a name wins."""
        cols: dict[str, tuple[str, str]] = {}
        for name, typ in pairs:
            cols.setdefault(name.lower(), (name, typ))
        return cls(cols)

    def has(self, name: str) -> bool:
        """True when the column exists (case-insensitively)."""
        return name.lower() in self.columns

    def _derive(self, value_sql: str, numeric: bool) -> ColumnRef:
        k = self.derived.setdefault(value_sql, len(self.derived))
        return ColumnRef(f'"__c{k}"', numeric, None if numeric else f'"__l{k}"')

    def resolver(
        self, category: str | None, used: set[str], aliases: Mapping[str, str] | None = None
    ) -> Callable[[str], ColumnRef | None]:
        """A backend resolver for rules of ``category``; records the source columns it reads in ``used``.

        ``aliases`` (a rule set's own field names -> our columns) answer for fields the data does
        not have under the rule's name.
        """

        def resolve(fld: str) -> ColumnRef | None:
            candidates = list(field_candidates(fld, category))
            present = [self.columns[c.lower()] for c in candidates if c.lower() in self.columns]
            if not present and aliases and fld.lower() in aliases:
                candidates = list(field_candidates(aliases[fld.lower()], category))
                present = [self.columns[c.lower()] for c in candidates if c.lower() in self.columns]
            if not present:
                return self._spilled(candidates, used)
            for name, _ in present:
                used.add(name)
                self.sources.add(name)
            if len(present) == 1:
                name, typ = present[0]
                return self._derive(quote_ident(name), typ.upper().startswith(_NUMERIC_TYPES))
            # mixed types cannot coalesce: compare as text then
            if len({t for _, t in present}) > 1:
                parts = ", ".join(f"CAST({quote_ident(n)} AS VARCHAR)" for n, _ in present)
                return self._derive(f"coalesce({parts})", False)
            numeric = present[0][1].upper().startswith(_NUMERIC_TYPES)
            return self._derive("coalesce(" + ", ".join(quote_ident(n) for n, _ in present) + ")", numeric)

        return resolve

    def _spilled(self, candidates: Sequence[str], used: set[str]) -> ColumnRef | None:
        """A field that is no column of the group, read from ``extra_fields`` where the group has it.

        Parts past ``MAX_NATIVE_COLUMNS`` native fields keep the rarest ones in that map (by
        their exact name), so a rule still sees them; groups without the map fold to NULL.
        """
        spill = self.columns.get(SPILL)
        if spill is None:
            return None
        used.add(spill[0])
        self.sources.add(spill[0])
        lookups = ", ".join(f"{quote_ident(spill[0])}[{quote_str(c)}]" for c in dict.fromkeys(candidates))
        return self._derive(f"coalesce({lookups})", False)

    def keyword_ref(self, used: set[str]) -> ColumnRef | None:
        """The event text a field-less keyword search looks in (all text columns, joined)."""
        core = set(CORE_NAMES)
        names = [
            name
            for low, (name, typ) in sorted(self.columns.items())
            if typ.upper() == "VARCHAR" and (name not in core or name == "message") and low not in _NOT_TEXT
        ]
        terms = [quote_ident(c) for c in names]
        spill = self.columns.get(SPILL)
        if spill is not None:  # the values of fields past the column limit are event text too
            names.append(spill[0])
            terms.append(f"array_to_string(map_values({quote_ident(spill[0])}), ' ')")
        if not names:
            return None
        used.update(names)
        self.sources.update(names)
        return self._derive("concat_ws(' ', " + ", ".join(terms) + ")", False)

    def derived_select(self, only: set[str] | None = None) -> list[str]:
        """Select items computing the derived columns (``only``: just these ``__c<k>`` / ``__l<k>``)."""
        out = []
        for value_sql, k in self.derived.items():
            if only is None or f"__c{k}" in only:
                out.append(f'{value_sql} AS "__c{k}"')
            if only is None or f"__l{k}" in only:
                out.append(f'lower(CAST({value_sql} AS VARCHAR)) AS "__l{k}"')
        return out

    def derived_sources(self, only: set[str]) -> set[str]:
        """The source columns (as spelt in the schema) the derived columns ``only`` read."""
        out: set[str] = set()
        for value_sql, k in self.derived.items():
            if f"__c{k}" in only or f"__l{k}" in only:
                out |= {name.replace('""', '"') for name in idents_of(value_sql)}
        return out


@dataclass
class Converted:
    """One rule's SQL for one group schema, or why it has none."""

    sql: str | None
    columns: set[str] = field(default_factory=set)
    error: str | None = None  # Unsupported reason


def prepare(loaded: LoadedRule, index: int) -> PreparedRule | str:
    """A ``PreparedRule``, or the reason the rule cannot run (logsource or condition problems)."""
    rule = loaded.rule
    assert isinstance(rule, SigmaRule)
    ls = rule.logsource
    logsource = map_logsource(ls.product, ls.category, ls.service)
    try:
        conditions = [c.parsed for c in rule.detection.parsed_condition]
    except Exception as exc:  # pySigma condition parse errors
        return f"condition error: {str(exc).split(' in file ')[0]}"
    logsource, notes = _settle_logsource(logsource, conditions)
    if logsource.predicate is None:
        return logsource.reason or "unsupported log source"
    category = (ls.category or "").lower() or None
    return PreparedRule(
        index, loaded, rule, logsource, category, conditions, _has_keywords(rule), notes=notes
    )


def _settle_logsource(logsource: LogSource, conditions: list[Any]) -> tuple[LogSource, tuple[str, ...]]:
    """A log source our tables cannot map is taken from the Channel the detection requires, as
    Hayabusa does (it selects events by the detection's Channel and ignores ``logsource``)."""
    if logsource.predicate is not None:
        return logsource, ()
    channels = required_values(conditions, "channel")
    if not channels:
        return logsource, ()
    note = (f"logsource-from-channel: {logsource.reason}; the detection requires Channel "
            f"{' or '.join(sorted(channels))}, which selects the rows")  # fmt: skip
    pred = "channel IN (" + ", ".join(quote_str(c) for c in sorted(channels)) + ")"
    return LogSource(logsource.label, pred, None, logsource.field_prefixes), (note,)


def required_values(conditions: Sequence[Any], fld: str) -> frozenset[str] | None:
    """The plain values ``fld`` must equal for any of the (OR-ed) condition trees to match, or None
    when some match does not pin it (a NOT, a wildcard, an OR branch without it)."""
    out: set[str] = set()
    for c in conditions:
        got = _required(c, fld.lower())
        if got is None:
            return None
        out |= got
    return frozenset(out)


def _required(node: Any, fld: str) -> frozenset[str] | None:
    if isinstance(node, ConditionAND):
        pinned = [p for p in (_required(a, fld) for a in node.args) if p is not None]
        if not pinned:
            return None
        acc = pinned[0]
        for p in pinned[1:]:
            acc &= p
        return acc
    if isinstance(node, ConditionOR):
        parts = [_required(a, fld) for a in node.args]
        if any(p is None for p in parts):
            return None
        return frozenset().union(*[p for p in parts if p is not None])
    if isinstance(node, ConditionFieldEqualsValueExpression) and (node.field or "").lower() == fld:
        v = node.value
        if isinstance(v, SigmaExpansion):
            vals = [_plain(x) for x in v.values]
            return None if any(x is None for x in vals) else frozenset(x for x in vals if x is not None)
        one = _plain(v)
        return None if one is None else frozenset([one])
    return None


def _plain(v: Any) -> str | None:
    if type(v) is SigmaString and not v.contains_special():
        return str(v.to_plain())
    return None


def convert(
    prep: PreparedRule, schema: Schema, placeholders: dict[str, list[str]] | None = None
) -> Converted:
    """The rule's SQL boolean expression for ``schema`` (missing fields folded to constants)."""
    used: set[str] = set()
    kw_used: set[str] = set()
    keyword = schema.keyword_ref(kw_used) if prep.has_keywords else None
    ctx = ConvertContext(
        schema.resolver(prep.category, used, prep.aliases), keyword, dict(placeholders or {})
    )
    try:
        parts = [to_sql(c, ctx) for c in prep.conditions]
    except Unsupported as exc:
        return Converted(None, error=str(exc))
    except Exception as exc:  # a value pySigma built that we did not expect: report, do not crash
        return Converted(None, error=f"conversion error: {type(exc).__name__}: {exc}")
    sql = parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"
    resolve = schema.resolver(prep.category, used, prep.aliases)
    for fld, prefix, positive in prep.logsource.field_prefixes:
        ref = resolve(fld)
        if ref is None:
            test = "FALSE" if positive else "TRUE"
        else:
            test = f"coalesce({ref.lower} LIKE {quote_str(like_escape(prefix) + '%')}, FALSE)"
            test = test if positive else f"NOT {test}"
        sql = f"({test} AND {sql})"
    return Converted(sql, used | kw_used)


def _has_keywords(rule: SigmaRule) -> bool:
    """True when the rule has a field-less (keyword) detection item."""
    return any(item.field is None for det in rule.detection.detections.values() for item in _items(det))


def prepare_cached(loaded: LoadedRule, index: int) -> PreparedRule:
    """A ``PreparedRule`` rebuilt from the conversion cache (see ``cache``)."""
    doc = loaded.cached
    assert doc is not None and isinstance(loaded.rule, RuleMeta)
    ls = loaded.rule.logsource
    logsource = map_logsource(ls.product, ls.category, ls.service)
    category = (ls.category or "").lower() or None
    prep = PreparedRule(index, loaded, loaded.rule, logsource, category, None, bool(doc["kw"]), doc["conds"])
    if logsource.predicate is None:  # cached only when prepare() settled it from the detection
        prep.logsource, prep.notes = _settle_logsource(logsource, prep.conditions)
    return prep


def _items(det: Any) -> Iterable[Any]:
    for item in getattr(det, "detection_items", []):
        if hasattr(item, "detection_items"):
            yield from _items(item)
        else:
            yield item


def needed_fields_schema(preps: Sequence[PreparedRule]) -> Schema:
    """A schema in which every field the rules name exists (for checking without a case)."""
    pairs: list[tuple[str, str]] = [(c.name, _duck(c.name)) for c in CORE]
    for p in preps:
        probe: set[str] = set()
        ctx = ConvertContext(lambda f: ColumnRef(quote_ident(f)), ColumnRef("message"), {}, probe)
        try:
            for c in p.conditions:
                to_sql(c, ctx)
        except Exception:  # reported later by convert()
            pass
        for f in sorted(probe):
            pairs.append((field_candidates(f, p.category)[0], "VARCHAR"))
    return Schema.from_pairs(pairs)


def _duck(core_name: str) -> str:
    return duck_type(next(c.type for c in CORE if c.name == core_name))


def hits_sql(terms: Sequence[tuple[int, str]]) -> str:
    """``concat_ws(',', CASE WHEN e THEN 'i' END, ...)``: the indexes of rules a row matches."""
    cases = ", ".join(f"CASE WHEN {sql} THEN '{i}' END" for i, sql in terms)
    return f"concat_ws(',', {cases})"


def bisect_failures(
    items: list[tuple[int, str]],
    attempt: Callable[[list[tuple[int, str]]], Any],
    errors: tuple[type[BaseException], ...] = (duckdb.Error,),
    engine: str = "DuckDB",
) -> tuple[list[Any], dict[int, str]]:
    """Run ``attempt`` on ``items``; on one of ``errors`` split until each failing item is isolated."""
    try:
        return [attempt(items)], {}
    except errors as exc:
        if len(items) == 1:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return [], {items[0][0]: f"{engine} rejected the query: {first}"}
    mid = len(items) // 2
    r1, f1 = bisect_failures(items[:mid], attempt, errors, engine)
    r2, f2 = bisect_failures(items[mid:], attempt, errors, engine)
    return r1 + r2, {**f1, **f2}


def validate(con: duckdb.DuckDBPyConnection, schema: Schema, terms: list[tuple[int, str]]) -> dict[int, str]:
    """Rules whose SQL DuckDB refuses to bind over an empty table of ``schema``."""
    cols = ", ".join(f"{quote_ident(n)} {t}" for n, t in schema.columns.values())
    con.execute("SET disabled_optimizers = 'common_subexpressions'")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _sigma_check ({cols})")
    src = f"(SELECT {', '.join(['*', *schema.derived_select()])} FROM _sigma_check)"
    failed: dict[int, str] = {}
    for start in range(0, len(terms), CHUNK):
        chunk = terms[start : start + CHUNK]
        _, f = bisect_failures(
            chunk, lambda t: con.execute(f"SELECT {hits_sql(t)} FROM {src} AS g").fetchall()
        )
        failed.update(f)
    return failed


@dataclass
class Group:
    """Rules sharing one log-source predicate, and the part files that can hold their rows."""

    predicate: str
    files: list[str]  # absolute part paths
    rows: int  # rows in those partitions that satisfy the predicate (from the statistics)
    schema: Schema | None = None


def case_groups(con: duckdb.DuckDBPyConnection, root: Path, predicates: Iterable[str]) -> dict[str, Group]:
    """For each log-source predicate: the case's part files and row count it selects."""
    parts = con.execute("SELECT path, source, channel FROM parts ORDER BY path").fetchall()
    preds = sorted(set(predicates))
    if not parts or not preds:
        return {p: Group(p, [], 0) for p in preds}
    return groups_from_stats(_stats(con), parts, root, preds, con)


def groups_from_stats(
    stats: pa.Table, parts: Sequence[tuple[str, Any, Any]], root: Path, predicates: Iterable[str],
    con: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, Group]:
    """Groups from the statistics table (``stats_sql``'s result, whichever engine computed it) and
    the catalogue's ``(path, source, channel)`` of every part. ``con``: a DuckDB connection to
    evaluate the predicates on (a cursor of it; opening a database of its own costs 35-80 ms)."""
    preds = sorted(set(predicates))
    out = {p: Group(p, [], 0) for p in preds}
    if not parts or not preds:
        return out
    scratch = con.cursor() if con is not None else duckdb.connect()
    scratch.register("stats", stats)
    cols = [c for c in PREDICATE_COLUMNS if c in stats.column_names]
    missing = ", ".join(f"NULL AS {c}" for c in PREDICATE_COLUMNS if c not in cols)
    base = "SELECT *" + (f", {missing}" if missing else "") + " FROM stats"
    sums = ", ".join(f"sum(CASE WHEN coalesce({p}, FALSE) THEN n ELSE 0 END)" for p in preds)
    rows = scratch.execute(
        f"SELECT source, channel, {sums} FROM ({base}) GROUP BY source, channel"
    ).fetchall()
    scratch.close()
    files_by_sc: dict[tuple[Any, Any], list[str]] = {}
    for path, source, channel in parts:
        files_by_sc.setdefault((source, channel), []).append(str((root / path).resolve()))
    for row in rows:
        sc = (row[0], row[1])
        for p, n in zip(preds, row[2:], strict=True):
            if n:
                out[p].rows += int(n)
                out[p].files.extend(files_by_sc.get(sc, []))
    for g in out.values():
        g.files.sort()
    return out


def stats_sql(present: Iterable[str]) -> str:
    """The statistics query over ``events`` (rows per value of the predicate columns), given the
    lower-cased names of the view's columns."""
    have = set(present)
    sel = ", ".join(c if c in have else f"NULL AS {c}" for c in PREDICATE_COLUMNS)
    return f"SELECT {sel}, count(*) AS n FROM events GROUP BY ALL"


def _stats(con: duckdb.DuckDBPyConnection) -> pa.Table:
    have = {r[0].lower() for r in con.execute("DESCRIBE events").fetchall()}
    return con.sql(stats_sql(have)).to_arrow_table()


def group_schema(con: duckdb.DuckDBPyConnection, files: Sequence[str]) -> Schema:
    """Columns (and types) of a set of part files."""
    rows = con.execute(f"DESCRIBE SELECT * FROM {read_parquet(files)}").fetchall()
    return Schema.from_pairs((r[0], r[1]) for r in rows)


def read_parquet(files: Sequence[str]) -> str:
    """``read_parquet([...], union_by_name = true)`` over explicit files."""
    return "read_parquet([" + ", ".join(quote_str(f) for f in files) + "], union_by_name = true)"


def group_from(
    group: Group, columns: Iterable[str], source: str | None = None, derived: set[str] | None = None
) -> str:
    """The FROM source of a group's query: its files, the columns needed, missing predicate columns as NULL.

    ``source`` names a relation holding the group's files instead (another engine's view of them).
    ``derived``: only these derived columns (``__c<k>`` / ``__l<k>``) and the columns they read,
    for a query whose rules read no others (``derived_of``); else every derived column of the group.
    """
    assert group.schema is not None
    schema = group.schema
    want: dict[str, str] = {}
    # every column the derived columns computed read (by default all of them: the list is shared)
    read = schema.derived_sources(derived) if derived is not None else set(columns) | schema.sources
    for c in (*PROVENANCE, *PREDICATE_COLUMNS, *sorted(read)):
        if schema.has(c):
            name = schema.columns[c.lower()][0]
            want.setdefault(name.lower(), quote_ident(name))
        elif c in PREDICATE_COLUMNS or c in PROVENANCE:
            want.setdefault(c, f"NULL AS {c}")
    base = f"(SELECT {', '.join(want.values())} FROM {source or read_parquet(group.files)})"
    where = "" if group.predicate == TRUE else f" WHERE {group.predicate}"
    return f"(SELECT {', '.join(['*', *schema.derived_select(derived)])} FROM {base} AS b{where})"


def derived_of(terms: Iterable[tuple[int, str]]) -> set[str] | None:
    """The derived columns rules read, or None when one reads anything else (then the query gets all)."""
    idents: set[str] = set()
    for _, sql in terms:
        idents |= idents_of(sql)
    return idents if all(_DERIVED.fullmatch(x) for x in idents) else None


def run_group(
    con: duckdb.DuckDBPyConnection, group: Group, terms: list[tuple[int, str]], columns: set[str],
    needs: Mapping[int, prune.Need] | None = None, source: str | None = None,
) -> tuple[list[tuple[str, int, str | None, Any, str]], dict[int, str]]:
    """Rows (input_sha256, rec_index, host, ts, hits) a group's rules match, and failed rules.

    ``needs`` (a mid-sized group's): leave out the rules its distinct tuples cannot match (``prune``),
    asked of the tuple table the group builds anyway. ``source``: a relation holding the group's
    rows with its schema's columns, read instead of its files (``group_from``).

    Each query computes only the derived columns its rules read, from only the columns those read
    (a keyword rule's concatenation of every text column is not computed for the other rules).
    """
    cur = con.cursor()
    # Planning hundreds of CASE terms is most of a group's cost, and this query (one scan of
    # explicit files and columns, one projection) has nothing for the optimizer to improve: the
    # shared work is already in the derived columns. Measured: 17% less time, same rows.
    cur.execute("PRAGMA disable_optimizer")
    cur.execute("SET enable_progress_bar = false")
    results: list[tuple[str, int, str | None, Any, str]] = []
    failed: dict[int, str] = {}

    def attempt(t: list[tuple[int, str]], rows_src: str | None = None) -> list[Any]:
        # Rows without a hit are dropped by the outer WHERE: with the optimizer off it is not pushed
        # into the CASE list (which would plan it twice). execute(), not sql(): a relation binds its
        # statement once more to learn its columns (measured: +40% CPU for a 300-rule chunk).
        src = rows_src or group_from(group, columns, source, derived=derived_of(t))
        return cur.execute(
            f"SELECT * FROM (SELECT input_sha256, rec_index, host, ts, {hits_sql(t)} AS hits "
            f"FROM {src} AS g) AS m WHERE hits <> ''"
        ).fetchall()

    if TUPLE_ROWS <= group.rows < DISTINCT_ROWS:
        got_rows, failed = _run_per_tuple(cur, group, terms, columns, attempt, needs, source)
        cur.close()
        return got_rows, failed
    per_value, per_row = split_by_columns(group, terms) if group.rows >= DISTINCT_ROWS else ({}, terms)
    if per_row and 0 < sum(len(t) for t in per_value.values()) <= FOLD_INTO_ROWS:
        # the group is scanned row by row anyway (keyword rules): a few more rules in that scan cost
        # less than materialising its rows for them (10x attack samples: 82k rows, 0.15 s)
        per_row = sorted([*per_row, *(t for ts in per_value.values() for t in ts)])
        per_value = {}
    if per_value:
        value_cols = {c for cols in per_value for c in cols}
        _materialise(cur, group_from(group, columns, source, derived=value_cols), sorted(value_cols))
    for cols, set_terms in sorted(per_value.items()):
        for start in range(0, len(set_terms), CHUNK):
            got, f = bisect_failures(set_terms[start : start + CHUNK], partial(_attempt_values, cur, cols))
            failed.update(f)
            for rows in got:
                results.extend(rows)
    for start in range(0, len(per_row), CHUNK):
        got, f = bisect_failures(per_row[start : start + CHUNK], attempt)
        failed.update(f)
        for rows in got:
            results.extend(rows)
    cur.close()
    return results, failed


# A mid-sized group is read once, and its rules are evaluated once per distinct tuple of the derived
# columns they read when the rows repeat (copies of a log, the same service start every boot: a
# 10x case of the attack samples holds 1,279 distinct process-creation tuples in 15,310 rows):
# the rule terms cost per evaluated row, and the tuples carry the list of rows they stand for.
TUPLE_ROWS = 5_000
TUPLE_GAIN = 2  # evaluate per tuple when the rows are at least this many times the tuples
_TUPLES = "_sigma_tuples"  # per-cursor temp table: distinct tuples with the rows of each
_ROWS = "_sigma_rows"  # per-cursor temp table: the group's rows with their derived columns


def _wide_columns(group: Group) -> set[str]:
    """Derived columns of keyword rules (every text column joined: nearly unique per row)."""
    assert group.schema is not None
    wide = {k for v, k in group.schema.derived.items() if v.startswith("concat_ws(")}
    return {f"__c{k}" for k in wide} | {f"__l{k}" for k in wide}


def _run_per_tuple(
    cur: duckdb.DuckDBPyConnection,
    group: Group,
    terms: list[tuple[int, str]],
    columns: set[str],
    per_row: Callable[..., list[Any]],
    needs: Mapping[int, prune.Need] | None = None,
    source: str | None = None,
) -> tuple[list[tuple[str, int, str | None, Any, str]], dict[int, str]]:
    """Rules reading only plain derived columns evaluated per distinct tuple of them when that at
    least halves the rows; the others per row (``per_row(terms, rows_src=...)``). With ``needs``, rules
    the tuples' values cannot satisfy are left out first (columns the tuples lack count as met).

    The rows are kept in a temporary table only when more than one query reads them, and then
    only the columns those queries read: a keyword rule reads every text column of the events,
    which costs more to copy than to read again (1x attack samples: 0.53 s -> 0.12 s).
    """
    wide = _wide_columns(group)
    tuple_terms: list[tuple[int, str]] = []
    row_terms: list[tuple[int, str]] = []
    cols: set[str] = set()
    for i, sql in terms:
        idents = idents_of(sql)
        if idents and all(_DERIVED.fullmatch(x) for x in idents) and not idents & wide:
            tuple_terms.append((i, sql))
            cols |= idents
        else:
            row_terms.append((i, sql))
    results: list[tuple[str, int, str | None, Any, str]] = []
    failed: dict[int, str] = {}
    if tuple_terms:
        sel = ", ".join(f'"{c}"' for c in sorted(cols))
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {_TUPLES} AS SELECT {sel}, "
            f"list(struct_pack(input_sha256, rec_index, host, ts)) AS __recs "
            f"FROM {group_from(group, columns, source, derived=cols)} AS g GROUP BY ALL"
        )
        n_tuples = cur.execute(f"SELECT count(*) FROM {_TUPLES}").fetchall()[0][0]
        if needs is not None:
            read = sorted(prune.needed_columns(needs.get(i) for i, _ in terms) & {f'"{c}"' for c in cols})
            texts = texts_of(cur, f"(SELECT * FROM {_TUPLES})", read) if read else {}
            ok = prune.matchable(texts)
            terms = [(i, sql) for i, sql in terms if ok(needs.get(i))]
            kept = {i for i, _ in terms}
            tuple_terms = [t for t in tuple_terms if t[0] in kept]
            row_terms = [t for t in row_terms if t[0] in kept]
        if n_tuples * TUPLE_GAIN > group.rows:  # the rows hardly repeat: per row is cheaper than unnesting
            row_terms = terms
            tuple_terms = []
    rows_src: str | None = None  # each chunk reads the files for itself
    if len(row_terms) > CHUNK:  # several queries read the rows: read and derive them once
        need = derived_of(row_terms)
        keep = "*" if need is None else ", ".join([*PROVENANCE, *(f'"{c}"' for c in sorted(need))])
        src = group_from(group, columns, source, derived=need)
        cur.execute(f"CREATE OR REPLACE TEMP TABLE {_ROWS} AS SELECT {keep} FROM {src} AS g")
        rows_src = f"(SELECT * FROM {_ROWS})"
    for start in range(0, len(tuple_terms), CHUNK):
        got, f = bisect_failures(tuple_terms[start : start + CHUNK], partial(_attempt_tuples, cur))
        failed.update(f)
        for part in got:
            results.extend(part)
    for start in range(0, len(row_terms), CHUNK):
        got, f = bisect_failures(row_terms[start : start + CHUNK], partial(per_row, rows_src=rows_src))
        failed.update(f)
        for part in got:
            results.extend(part)
    return results, failed


def texts_of(cur: duckdb.DuckDBPyConnection, src: str, read: list[str]) -> dict[str, str | None]:
    """Distinct values of the lower-cased derived columns ``read`` (``"__l<k>"``) of ``src``, each
    column's joined by newlines (None: no value), for ``prune.can_match``."""
    table = cur.sql(f"SELECT DISTINCT {', '.join(read)} FROM {src} AS g").to_arrow_table()
    texts: dict[str, str | None] = {}
    for k, c in enumerate(read):
        values = pc.unique(table.column(k)).drop_null()
        texts[c] = "\n".join(values.to_pylist()) if len(values) else None
    return texts


def _attempt_tuples(cur: duckdb.DuckDBPyConnection, t: list[tuple[int, str]]) -> list[Any]:
    """Rows matched by rules ``t``, evaluated once per distinct tuple and unnested for the hits."""
    sql = (
        f"SELECT r.input_sha256, r.rec_index, r.host, r.ts, hits FROM (SELECT unnest(__recs) AS r, hits "
        f"FROM (SELECT __recs, {hits_sql(t)} AS hits FROM {_TUPLES} AS g) AS h WHERE hits <> '') AS u"
    )
    return cur.execute(sql).fetchall()


# A big group's rules are evaluated once per distinct value of the columns each rule reads, then
# joined back to the rows: logs repeat themselves (723k process creations of a 2M-event case hold
# 61 distinct command lines), and on big cases evaluating every rule on every row is the cost.
DISTINCT_ROWS = 50_000
FOLD_INTO_ROWS = 32  # per-value rules evaluated in a big group's per-row scan when it has one
_IDENT = re.compile(r'"((?:[^"]|"")*)"')
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_DERIVED = re.compile(r"__[cl](\d+)")


def idents_of(sql: str) -> set[str]:
    """The quoted identifiers a rule's SQL reads (a double quote inside a string literal is none)."""
    return set(_IDENT.findall(_LITERAL.sub("''", sql)))


_VALUES = "_sigma_values"  # per-cursor temp table: the group's rows with their derived columns


def split_by_columns(
    group: Group, terms: list[tuple[int, str]]
) -> tuple[dict[tuple[str, ...], list[tuple[int, str]]], list[tuple[int, str]]]:
    """Rules by the derived columns they read; rules reading anything else stay per row.

    Keyword rules read the concatenation of every text column: nearly unique per row, so they
    gain nothing and would cost a large temporary table; they stay per row too.
    """
    assert group.schema is not None
    wide = _wide_columns(group)
    per_value: dict[tuple[str, ...], list[tuple[int, str]]] = {}
    per_row: list[tuple[int, str]] = []
    for i, sql in terms:
        idents = idents_of(sql)
        if idents and all(_DERIVED.fullmatch(x) for x in idents) and not idents & wide:
            per_value.setdefault(tuple(sorted(idents)), []).append((i, sql))
        else:
            per_row.append((i, sql))
    return per_value, per_row


def _materialise(cur: duckdb.DuckDBPyConnection, src: str, cols: list[str]) -> None:
    keep = ", ".join(["input_sha256", "rec_index", "host", "ts", *(f'"{c}"' for c in cols)])
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {_VALUES} AS SELECT {keep} FROM {src} AS g")


def _attempt_values(
    cur: duckdb.DuckDBPyConnection, cols: tuple[str, ...], t: list[tuple[int, str]]
) -> list[Any]:
    """Rows matched by rules ``t``, which read only ``cols``: evaluated per distinct value tuple,
    joined back to the rows (one statement: with the optimizer off the CASE list is planned once)."""
    sel = ", ".join(f'"{c}"' for c in cols)
    on = " AND ".join(f'v."{c}" IS NOT DISTINCT FROM h."{c}"' for c in cols)
    hits = f"SELECT {sel}, {hits_sql(t)} AS hits FROM (SELECT DISTINCT {sel} FROM {_VALUES}) AS d"
    return cur.execute(
        f"SELECT v.input_sha256, v.rec_index, v.host, v.ts, h.hits FROM {_VALUES} v "
        f"JOIN (SELECT * FROM ({hits}) AS x WHERE hits <> '') AS h ON {on}"
    ).fetchall()
