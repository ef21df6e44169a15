"""SQL hunts: one ``.sql`` file per hunt, with a YAML metadata header in leading comments.

A hunt file looks like::

    -- id: brute-force-then-success
    -- title: Brute force followed by a successful logon
    -- description: ...
    -- level: high
    -- attack: [T1110]
    -- tactics: [credential-access]
    -- sources: Windows Security 4625/4624, Linux auth (sshd)
    -- needs: [event_id, src_ip]          # columns that must exist, else the hunt is skipped
    -- fields: [LogonType, IpAddress]     # columns used if present (absent ones read as NULL)
    -- uses: [logon_attempts]             # fact queries it reads, by id (see forensics.facts)

A hunt that declares ``fields`` reads a table holding only its ``fields``, ``needs`` and the
result columns below (one scan of the case serves every hunt); one without reads ``events``.
    SELECT input_sha256, rec_index, host, ts, ... FROM events WHERE ...

The query returns rows of ``events`` with at least ``input_sha256``, ``rec_index``, ``host`` and
``ts``. A hunt may read the fact queries it ``uses`` (``queries/facts/``, or facts among the
files given) as tables named by their ids: the facts are computed once per run, before the
hunts. Optional result columns: ``group_key`` (rows sharing it make one finding; without it,
rows group by host), ``level`` (a per-row level; the finding takes the highest) and ``note``
(a short text that goes into the finding summary).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from forensics.errors import EngineError
from forensics.facts import (
    Fact,
    default_facts,
    events_as,
    fact_from,
    fact_sql,
    fields_of,
    is_fact,
    materialise,
    names,
    read_query_file,
    resolve,
)
from forensics.hostnames import host_spellings
from forensics.hunt.findings import LEVELS, Finding, Level, RecordRef, level_rank, parse_level
from forensics.hunt.writer import Outcome
from forensics.schema import CORE_TYPES
from forensics.store import Case

REQUIRED_RESULT = ("input_sha256", "rec_index", "host", "ts")
PADDED_VIEW = "hunt_events"
# Queries name the table ``events``; hunts that declare ``fields`` read the temp table instead
# (a temp view cannot shadow ``events`` itself: DuckDB sees that as a recursive view).


@dataclass(frozen=True)
class SqlHunt:
    """One SQL hunt file, parsed."""

    id: str
    title: str
    level: Level
    sql: str
    path: str
    sha256: str
    description: str = ""
    attack: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    sources: str = ""
    needs: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    facts: tuple[Fact, ...] = ()  # the facts it uses and theirs, each before its users (set by load_hunts)


@dataclass
class SqlResult:
    """Findings of a set of SQL hunts and what happened to each hunt."""

    findings: list[Finding] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)


def parse_hunt(path: Path) -> SqlHunt:
    """Read one hunt file. Raises ValueError with a reason when the file is not usable."""
    meta, sql, sha = read_query_file(path)
    if is_fact(meta):
        raise ValueError("a fact query, not a hunt (see forensics.facts)")
    return _hunt(path, meta, sql, sha)


def _hunt(path: Path, meta: dict[str, Any], sql: str, sha: str) -> SqlHunt:
    missing = [k for k in ("id", "title", "level") if not meta.get(k)]
    if missing:
        raise ValueError(f"metadata header lacks {', '.join(missing)}")
    level = parse_level(meta["level"])
    if level is None:
        raise ValueError(f"level {meta['level']!r} is not one of {', '.join(LEVELS)}")
    return SqlHunt(
        id=str(meta["id"]),
        title=str(meta["title"]),
        level=level,
        sql=sql,
        path=str(path),
        sha256=sha,
        description=str(meta.get("description") or "").strip(),
        attack=names(meta.get("attack")),
        tactics=names(meta.get("tactics")),
        sources=str(meta.get("sources") or ""),
        needs=names(meta.get("needs")),
        fields=names(meta.get("fields")),
        uses=names(meta.get("uses")),
    )


def load_hunts(dirs: Sequence[Path]) -> tuple[list[SqlHunt], list[Outcome]]:
    """Every ``*.sql`` hunt under ``dirs`` (files are accepted too), sorted by path; failures reported.

    Fact queries among the files are not hunts: they serve the hunts that ``use`` them, before
    the project's own facts of the same id (a replayed hunt reads the copies it recorded).
    """
    hunts: list[SqlHunt] = []
    problems: list[Outcome] = []
    files: list[Path] = []
    for d in dirs:
        if d.is_file():
            files.append(d)
        elif d.is_dir():
            files.extend(sorted(d.rglob("*.sql")))
        else:
            problems.append(Outcome("sql", str(d), None, "failed", "no such file or folder"))
    seen: dict[str, str] = {}
    facts: dict[str, Fact] = {}
    for f in files:
        try:
            meta, sql, sha = read_query_file(f)
            if is_fact(meta):
                fact = fact_from(f, meta, sql, sha)
            else:
                hunt = _hunt(f, meta, sql, sha)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(Outcome("sql", str(f), None, "failed", str(exc)))
            continue
        if is_fact(meta):
            if fact.id in facts and facts[fact.id].path != fact.path:
                problems.append(Outcome("sql", str(f), fact.id, "skipped",
                                        f"duplicate fact id, first in {facts[fact.id].path}"))  # fmt: skip
            facts.setdefault(fact.id, fact)
            continue
        if hunt.id in seen:
            problems.append(
                Outcome("sql", str(f), hunt.id, "skipped", f"duplicate id, first in {seen[hunt.id]}")
            )
            continue
        seen[hunt.id] = str(f)
        hunts.append(hunt)
    known = {**default_facts(), **facts}
    usable: list[SqlHunt] = []
    for hunt in hunts:
        try:
            usable.append(replace(hunt, facts=tuple(resolve(hunt.uses, known))))
        except ValueError as exc:
            problems.append(Outcome("sql", hunt.path, hunt.id, "failed", str(exc)))
    return usable, problems


def event_columns(con: Any) -> dict[str, str]:
    """Lower-cased column name → actual spelling, for the ``events`` view."""
    rows = con.execute("DESCRIBE events").fetchall()
    return {r[0].lower(): r[0] for r in rows}


def _padded_table(con: Any, present: dict[str, str], wanted: set[str]) -> None:
    """Temp table of the wanted columns of ``events``, absent ones added as typed NULL.

    One scan of the events view serves every hunt that declares its columns (``needs`` +
    ``fields``); the view itself may span thousands of Parquet files, so scanning it once per
    hunt would cost far more than the hunts.
    """
    cols: list[str] = []
    for w in sorted({*REQUIRED_RESULT, *wanted}, key=str.lower):
        real = present.get(w.lower())
        cols.append(f'"{real}"' if real else f'CAST(NULL AS {_sql_type(w)}) AS "{w}"')
    con.execute(f"CREATE OR REPLACE TEMP TABLE {PADDED_VIEW} AS SELECT {', '.join(cols)} FROM events")


def _sql_type(column: str) -> str:
    """DuckDB type of a padded column: its core type, VARCHAR for native fields."""
    t = CORE_TYPES.get(column)
    if t is None or pa.types.is_string(t):
        return "VARCHAR"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    return "BIGINT"


def run_hunts(case: Case, hunts: Sequence[SqlHunt], con: Any = None) -> SqlResult:
    """Run ``hunts`` over the case's events; a hunt that cannot run is reported, not raised.

    ``con`` runs the statements instead of the case's DuckDB connection (the Spark engine's
    ``forensics.spark.connection.SparkConnection``: same statements, same rows).
    """
    con = case.con if con is None else con
    con.execute("SET TimeZone = 'UTC'")  # date_trunc and fetched timestamps in UTC
    present = event_columns(con)
    wanted = {c for h in hunts if h.fields for c in (*h.fields, *h.needs)}
    wanted |= fields_of(f for h in hunts for f in h.facts)
    _padded_table(con, present, wanted)
    result = SqlResult()
    try:
        broken = _facts(case, hunts, con)
        for hunt in hunts:
            missing = [c for c in hunt.needs if c.lower() not in present]
            if missing:
                result.outcomes.append(
                    Outcome(
                        "sql", hunt.path, hunt.id, "skipped", f"the case has no column {', '.join(missing)}"
                    )
                )
                continue
            failed = [f"fact {f.id}: {broken[f.id]}" for f in hunt.facts if f.id in broken]
            if failed:
                result.outcomes.append(Outcome("sql", hunt.path, hunt.id, "failed", "; ".join(failed)))
                continue
            try:
                found = run_hunt(con, hunt)
            except (duckdb.Error, EngineError, ValueError) as exc:
                reason = str(exc).splitlines()[0]
                result.outcomes.append(Outcome("sql", hunt.path, hunt.id, "failed", reason))
                continue
            result.findings.extend(found)
            result.outcomes.append(Outcome("sql", hunt.path, hunt.id, "ran", count=len(found)))
    finally:
        con.execute(f"DROP TABLE IF EXISTS {PADDED_VIEW}")
    return result


def _facts(case: Case, hunts: Sequence[SqlHunt], con: Any = None) -> dict[str, str]:
    """Compute every fact the hunts use, once, over the padded table; fact id → why it failed.

    ``con`` (another engine's connection) computes them there, as temporary tables of its session.
    """
    broken: dict[str, str] = {}
    done: set[str] = set()
    for hunt in hunts:
        for fact in hunt.facts:
            if fact.id in done:
                continue
            done.add(fact.id)
            if any(dep in broken for dep in fact.uses):
                broken[fact.id] = "a fact it uses failed"
                continue
            try:
                if con is None or con is case.con:
                    materialise(case, [fact], PADDED_VIEW)
                else:
                    con.execute(f"CREATE OR REPLACE TEMP TABLE {fact.id} AS {fact_sql(fact, PADDED_VIEW)}")
            except (duckdb.Error, EngineError) as exc:
                broken[fact.id] = str(exc).splitlines()[0]
    return broken


def run_hunt(con: Any, hunt: SqlHunt) -> list[Finding]:
    """Execute one hunt and group its rows into findings."""
    # hunts that declare their columns read the one-scan table; the others the events view
    sql = (
        events_as(hunt.sql, PADDED_VIEW)
        if hunt.fields
        else hunt.sql
    )
    cur = con.execute(sql)
    names = [d[0].lower() for d in cur.description or []]
    lacking = [c for c in REQUIRED_RESULT if c not in names]
    if lacking:
        raise ValueError(f"query result lacks column(s) {', '.join(lacking)}")
    idx = {n: i for i, n in enumerate(names)}
    groups: dict[str, list[tuple[Any, ...]]] = {}
    for row in cur.fetchall():
        key = row[idx["group_key"]] if "group_key" in idx else row[idx["host"]]
        # host names are case-insensitive (EDR exports lower-case what EVTX spells in capitals)
        groups.setdefault("" if key is None else str(key).lower(), []).append(row)
    return [_finding(hunt, key, rows, idx) for key, rows in sorted(groups.items())]


def _finding(hunt: SqlHunt, key: str, rows: list[tuple[Any, ...]], idx: dict[str, int]) -> Finding:
    hosts = host_spellings(r[idx["host"]] for r in rows)
    times = sorted(r[idx["ts"]] for r in rows if r[idx["ts"]] is not None)
    level = hunt.level
    if "level" in idx:  # a row level that is no level is ignored: the hunt's own level stands
        row_levels = [lv for r in rows if (lv := parse_level(r[idx["level"]])) is not None]
        if row_levels:
            level = max(row_levels, key=level_rank)
    notes = sorted({str(r[idx["note"]]) for r in rows if r[idx["note"]] is not None}) if "note" in idx else []
    records = sorted({RecordRef(str(r[idx["input_sha256"]]), int(r[idx["rec_index"]])) for r in rows})
    summary = "; ".join(notes[:5]) + (f" (+{len(notes) - 5} more)" if len(notes) > 5 else "")
    if len(hosts) > 1:
        summary = (summary + "; " if summary else "") + f"hosts: {', '.join(hosts[:10])}"
    details = orjson.dumps(
        {"group_key": key, "hosts": hosts, "query": hunt.id}, option=orjson.OPT_SORT_KEYS
    ).decode()
    return Finding(
        kind="sql",
        rule_id=hunt.id,
        title=hunt.title,
        level=level,
        host=hosts[0] if len(hosts) == 1 else None,
        first_ts=times[0] if times else None,
        last_ts=times[-1] if times else None,
        records=records,
        attack=list(hunt.attack),
        tactics=list(hunt.tactics),
        summary=summary or hunt.description,
        rule_path=hunt.path,
        rule_sha256=hunt.sha256,
        details=details,
    )
