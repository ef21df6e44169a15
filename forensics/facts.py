"""Fact queries: what the logs say happened, declared once in ``forensics/queries/facts/`` and read by all.

A fact is not a detection: it lists events of one kind with their meaning read out (every logon
attempt with its outcome, account and client address; every log clear or log-tampering
command; every sign of one host reaching another). Hunts build detections on facts (the
brute-force hunts count ``logon_attempts``), and the integrity assessment and the story read the
same rows, so the findings, the integrity section and the story of one report cannot disagree
on what a failed logon or a log clear is. Detection thresholds live in the hunts, never here.

A fact file is a SQL query with a YAML header in leading ``--`` comments, like a hunt, with
``kind: fact``::

    -- id: logon_attempts            # the name hunts and readers use (a SQL identifier)
    -- kind: fact
    -- title: ...
    -- description: ...
    -- fields: [channel, event_id, TargetUserName, ...]   # every events column it reads
    -- uses: [other_fact]                                 # facts it reads, by id

The query reads ``events`` (absent columns read as NULL: a Linux-only case has no
``TargetUserName``) and may read the facts it ``uses`` by their id. Each fact is computed once
per case connection into a temporary table named by its id (``materialise``); ``fact_table``
returns that table for the case's current events, computing it (and what it uses) on first use.
The hunt computes the facts its hunts use the same way, so a hunt and the outputs after it on
the same connection share them.

Facts, the integrity assessment, the story and the timeline read the store's one ``events``
view (every core column always there); a fact's native columns that no part has are added as
NULLs for the facts alone (``fact_events``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from forensics.schema import CORE_TYPES
from forensics.shipped import QUERIES
from forensics.store import Case

FACTS_DIR = QUERIES / "facts"  # shipped with the hunts (``forensics/queries/facts``)
EVENTS = "events"  # the store's view: every core column, core first
_STATE = "_fx_state"  # temp table: what each session table (facts, hits) was made from
_EVENTS_REF = re.compile(r"(?i)\b(from|join)(\s+)events\b")
_IDENT = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Fact:
    """One fact query, parsed."""

    id: str
    title: str
    sql: str
    path: str
    sha256: str
    description: str = ""
    fields: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()


def split_header(text: str) -> tuple[str, str]:
    """Split leading ``--`` comment lines (the YAML header) from the SQL body."""
    head: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("--"):
            head.append(stripped[2:].removeprefix(" "))
        elif stripped:
            break
        i += 1
    return "\n".join(head), "\n".join(lines[i:])


# libyaml's parser when PyYAML was built with it (the safe constructors either way): the pure-Python
# one costs ~2 ms a header, and a hunt reads every shipped query and fact
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_query_file(path: Path) -> tuple[dict[str, Any], str, str]:
    """(metadata header, SQL body without a trailing ``;``, SHA-256 of the bytes) of a query file.

    Raises ValueError with a reason when the file has no usable header or no SQL.
    """
    raw = path.read_bytes()
    head, body = split_header(raw.decode("utf-8"))
    try:
        meta = yaml.load(head, Loader=_YAML_LOADER) if head.strip() else None
    except yaml.YAMLError as exc:
        raise ValueError(f"metadata header is not YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError("no metadata header (leading `-- key: value` comment lines)")
    sql = body.strip().rstrip(";").strip()
    if not sql:
        raise ValueError("no SQL after the header")
    return meta, sql, hashlib.sha256(raw).hexdigest()


def names(value: Any) -> tuple[str, ...]:
    """A header list (YAML list or comma-separated text) as a tuple of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


def is_fact(meta: dict[str, Any]) -> bool:
    """True when a query file's header declares a fact."""
    return str(meta.get("kind") or "").strip().lower() == "fact"


def fact_from(path: Path, meta: dict[str, Any], sql: str, sha256: str) -> Fact:
    """A ``Fact`` from a parsed query file; ValueError when the header does not make one."""
    fid = str(meta.get("id") or "")
    if not _IDENT.fullmatch(fid):
        raise ValueError(f"fact id {fid!r} is not a lower-case SQL identifier")
    if not meta.get("title"):
        raise ValueError("metadata header lacks title")
    return Fact(
        id=fid, title=str(meta["title"]), sql=sql, path=str(path), sha256=sha256,
        description=str(meta.get("description") or "").strip(), fields=names(meta.get("fields")),
        uses=names(meta.get("uses")),
    )  # fmt: skip


def parse_fact(path: Path) -> Fact:
    """Read one fact file. Raises ValueError with a reason when it is not a usable fact."""
    meta, sql, sha = read_query_file(path)
    if not is_fact(meta):
        raise ValueError("not a fact (the header lacks `kind: fact`)")
    return fact_from(path, meta, sql, sha)


def load_facts(dirs: Iterable[Path] = (FACTS_DIR,)) -> dict[str, Fact]:
    """Every fact file under ``dirs`` by id (the first of an id wins). Raises ValueError on a bad file."""
    out: dict[str, Fact] = {}
    for d in dirs:
        files = [d] if d.is_file() else sorted(d.rglob("*.sql")) if d.is_dir() else []
        for f in files:
            meta, sql, sha = read_query_file(f)
            if is_fact(meta):
                fact = fact_from(f, meta, sql, sha)
                out.setdefault(fact.id, fact)
    return out


def resolve(wanted: Iterable[str], facts: dict[str, Fact]) -> list[Fact]:
    """The facts ``wanted`` and those they use, each before its users. ValueError on an unknown id or a cycle."""
    out: list[Fact] = []
    done: set[str] = set()

    def visit(fid: str, path: tuple[str, ...]) -> None:
        """Depth-first: what a fact uses first."""
        if fid in done:
            return
        if fid in path:
            raise ValueError(f"facts use each other in a cycle: {' -> '.join((*path, fid))}")
        fact = facts.get(fid)
        if fact is None:
            raise ValueError(f"unknown fact {fid!r}" + (f" (used by {path[-1]})" if path else ""))
        for dep in fact.uses:
            visit(dep, (*path, fid))
        done.add(fid)
        out.append(fact)

    for fid in wanted:
        visit(fid, ())
    return out


def fields_of(facts: Iterable[Fact]) -> set[str]:
    """Every events column the facts read."""
    return {c for f in facts for c in f.fields}


def events_as(sql: str, relation: str) -> str:
    """``sql`` reading the table it names ``events`` from ``relation`` instead."""
    return _EVENTS_REF.sub(lambda m: f"{m.group(1)}{m.group(2)}{relation}", sql)


def fact_sql(fact: Fact, events: str) -> str:
    """The fact's query reading ``events`` from the relation named ``events``."""
    return events_as(fact.sql, events)


# ---- the session: the fact tables of one case connection ---------------------------------------
def _fingerprint(case: Case) -> str:
    """What the committed events are (the store's catalogue)."""
    return case.events_state()


def state(case: Case, key: str) -> str | None:
    """The session's record of what temp table ``key`` was made from (None: not made)."""
    con = case.con
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STATE} (key VARCHAR PRIMARY KEY, value VARCHAR)").fetchall()
    rows = con.execute(f"SELECT value FROM {_STATE} WHERE key = ?", [key]).fetchall()
    return rows[0][0] if rows else None


def set_state(case: Case, key: str, value: str) -> None:
    """Record what temp table ``key`` was made from, for this session."""
    con = case.con
    con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_STATE} (key VARCHAR PRIMARY KEY, value VARCHAR)").fetchall()
    con.execute(f"INSERT OR REPLACE INTO {_STATE} VALUES (?, ?)", [key, value]).fetchall()


def default_facts() -> dict[str, Fact]:
    """The project's facts (``queries/facts``), read once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_facts([FACTS_DIR]) if FACTS_DIR.is_dir() else {}
    return _DEFAULT


_DEFAULT: dict[str, Fact] | None = None


def settle(case: Case) -> None:
    """Prepare the session: UTC, finished results, the store's ``events`` view current.

    Callers may call it freely: the view is made again only when the committed parts changed
    since (one catalogue query otherwise). DuckDB also refuses a new relation while an
    ``execute()`` result is unread; running statements through ``execute`` and reading them all
    clears that.
    """
    case.con.execute("SET TimeZone = 'UTC'").fetchall()
    case.events_view()


def event_columns(case: Case) -> dict[str, str]:
    """Lower-case name → column name of every column of ``events`` (the core columns always)."""
    return {n.lower(): n for n in case.events_view().columns}


def fact_events(case: Case) -> str:
    """The relation facts read as ``events``: the view, plus each native column a fact reads that no
    part has, as NULL (a Linux-only case has no ``TargetUserName``)."""
    have = event_columns(case)
    natives = sorted({f for f in fields_of(default_facts().values()) if f not in CORE_TYPES}, key=str.lower)
    missing = [f'CAST(NULL AS VARCHAR) AS "{n}"' for n in natives if n.lower() not in have]
    return f"(SELECT *, {', '.join(missing)} FROM {EVENTS})" if missing else EVENTS


def col(cols: dict[str, str], name: str, alias: str | None = None) -> str:
    """SQL for a column that may be absent (native columns exist only when a source had them)."""
    real = cols.get(name.lower())
    expr = f'"{real}"' if real else "CAST(NULL AS VARCHAR)"
    return f"{expr} AS {alias}" if alias else expr


def has_view(case: Case, name: str) -> bool:
    """True when the case exposes the view (``findings`` exists only after a hunt)."""
    rows = case.con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = ?", [name]).fetchall()
    return bool(rows and rows[0][0])


def materialise(case: Case, facts: Sequence[Fact], events: str) -> None:
    """Compute ``facts`` (ordered: each after what it uses) into temp tables named by their ids.

    ``events`` is the relation their ``events`` means (``fact_events``, or the hunt's padded
    table). The state table remembers which events each was computed from, so ``fact_table``
    does not compute it again.
    """
    fp = _fingerprint(case)
    for fact in facts:
        case.con.execute(f"CREATE OR REPLACE TEMP TABLE {fact.id} AS {fact_sql(fact, events)}").fetchall()
        set_state(case, f"fact:{fact.id}", f"{fp}/{fact.sha256}")


def fact_table(case: Case, fid: str, facts: dict[str, Fact] | None = None, con: Any = None) -> str:
    """The temp table holding fact ``fid`` for the case's current events, computed when missing.

    ``con``: another engine's connection (Spark's, ``forensics.spark.connection``): the fact and
    those it uses are computed there over its ``events``, once per connection (``facts_made``).
    """
    settle(case)
    known = facts if facts is not None else default_facts()
    if con is not None and con is not case.con:
        made: set[str] = con.facts_made
        for fact in resolve([fid], known):
            if fact.id not in made:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {fact.id} AS {fact_sql(fact, fact_events(case))}")
                made.add(fact.id)
        return fid
    fp = _fingerprint(case)
    todo = [f for f in resolve([fid], known) if state(case, f"fact:{f.id}") != f"{fp}/{f.sha256}"]
    if todo:
        materialise(case, todo, fact_events(case))
    return fid

