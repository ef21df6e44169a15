"""The case: a directory holding the Parquet event dataset and a DuckDB catalogue.

Layout::

    case.duckdb                 tables inputs, rejects, parts, meta; views events (+ findings ...)
    events/<source>/<channel>/  zstd Parquet part files, one folder per source kind and channel
    .staging/                   parts being written; never read by views

A batch of inputs becomes visible atomically: its parts are moved into ``events/`` and its
``inputs``/``rejects``/``parts`` rows inserted in one DuckDB transaction. Part files that no
committed row names (a run killed between the move and the commit) are removed by the next
writer, so a re-run never duplicates rows.

Plain DuckDB opens a case with ``cd CASE && duckdb -readonly case.duckdb`` (views use paths
relative to the case directory).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from forensics import __version__
from forensics.errors import CaseError
from forensics.schema import CORE, duck_type

DB_NAME = "case.duckdb"
_PART_FILE = "_forensics_part_file"  # the part file a row was read from (DuckDB prunes files by it)
EVENTS_DIR = "events"
STAGING_DIR = ".staging"

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE SEQUENCE IF NOT EXISTS inputs_seq;
CREATE TABLE IF NOT EXISTS inputs (
    seq BIGINT DEFAULT nextval('inputs_seq'),
    path VARCHAR NOT NULL,
    member VARCHAR,
    size BIGINT,
    sha256 VARCHAR,
    md5 VARCHAR,
    parser VARCHAR,
    rows BIGINT,
    rejects BIGINT,
    status VARCHAR NOT NULL,
    error VARCHAR,
    host VARCHAR,
    ingested_at TIMESTAMPTZ,
    tool_version VARCHAR,
    batch VARCHAR,
    context VARCHAR
);
ALTER TABLE inputs ADD COLUMN IF NOT EXISTS context VARCHAR;
ALTER TABLE inputs ADD COLUMN IF NOT EXISTS records_claimed BIGINT;
ALTER TABLE inputs ADD COLUMN IF NOT EXISTS records_carved BIGINT;
ALTER TABLE inputs ADD COLUMN IF NOT EXISTS records_shortfall BIGINT;
CREATE TABLE IF NOT EXISTS rejects (
    input_sha256 VARCHAR,
    rec_index BIGINT,
    rec_offset BIGINT,
    rec_line BIGINT,
    record_id BIGINT,
    raw VARCHAR,
    reason VARCHAR
);
ALTER TABLE rejects ADD COLUMN IF NOT EXISTS raw_b64 VARCHAR;
CREATE TABLE IF NOT EXISTS parts (
    path VARCHAR PRIMARY KEY,
    batch VARCHAR,
    source VARCHAR,
    channel VARCHAR,
    rows BIGINT
);
"""

# statuses of inputs rows that mean "this sha256 is done, do not parse again"
DONE_STATUSES = (
    "ok", "rejects", "failed", "empty", "unknown", "unrecognised", "truncated", "damaged", "not_log",
)  # fmt: skip


_INPUT_SCHEMA = pa.schema(
    [
        ("path", pa.string()), ("member", pa.string()), ("size", pa.int64()), ("sha256", pa.string()),
        ("md5", pa.string()), ("parser", pa.string()), ("rows", pa.int64()), ("rejects", pa.int64()),
        ("status", pa.string()), ("error", pa.string()), ("host", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")), ("tool_version", pa.string()), ("batch", pa.string()),
        ("context", pa.string()),  # forensics.ingest.context.InputContext as JSON, for parsed inputs
        # what the file's own headers claim (EVTX), the rows carved from damaged structure, and
        # the claimed records neither read nor rejected; NULL for formats without such counts
        ("records_claimed", pa.int64()), ("records_carved", pa.int64()), ("records_shortfall", pa.int64()),
        # added later; a case made before gets them (NULL) when next opened for writing (_migrate)
        ("abs_path", pa.string()),  # the resolved absolute path of `path` (as given) when ingested
        ("encoding", pa.string()),  # text inputs: the encoding the parser read them in
    ]
)  # fmt: skip


def slug(value: str | None) -> str:
    """A partition folder name for a source or channel value."""
    if not value:
        return "_none"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", value)[:120]


@dataclass(frozen=True)
class StagedPart:
    """A Parquet file written under ``.staging`` and waiting for its batch to commit."""

    staged: Path
    source: str
    channel: str | None
    rows: int


@dataclass(frozen=True)
class EventsShape:
    """The ``events`` view of one state of the committed parts."""

    state: str  # Case.events_state() it was built for
    sql: str  # the view's query
    columns: tuple[str, ...]  # the view's columns, in order: core first
    stored: tuple[str, ...]  # the part files' own columns, in the order the parts hold them
    present_core: tuple[str, ...] = ()  # core columns some part has (the view reads them, pads the rest)
    first: tuple[str, ...] = ()  # the view's leading select items (core columns, typed NULLs for absent ones)


class Case:
    """An open case directory."""

    def __init__(self, root: Path, con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.root = root
        self.con = con
        self.read_only = read_only
        self._events: EventsShape | None = None  # what the events view was last built from

    # ---- opening ---------------------------------------------------------------------
    @classmethod
    def open(cls, root: str | os.PathLike[str], *, create: bool = False, read_only: bool = False) -> Case:
        """Open (or with ``create`` make) the case at ``root``."""
        path = Path(root)
        db = path / DB_NAME
        if not db.exists():
            if not create:
                raise CaseError(
                    f"{path} is not a case (no {DB_NAME}); run `forensics ingest ... --case {path}`"
                )
            path.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(db), read_only=read_only)
        except duckdb.Error as exc:
            raise CaseError(f"cannot open case {path}: {exc}") from exc
        con.execute(f"SET file_search_path = '{_sql_str(str(path.resolve()))}'")
        # part files are written once and never changed in place: their footers (400-odd column
        # schemas) are read once per connection instead of at every query over ``events``
        con.execute("SET parquet_metadata_cache = true")
        case = cls(path, con, read_only)
        if not read_only:
            con.execute(_DDL)
            _migrate(con)
            con.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', '1'), ('created_by', ?)",
                [f"forensics {__version__}"],
            )
        case.refresh_views()  # read-only: this connection's own views over the files as they are now
        return case

    @staticmethod
    def meta_value(root: str | os.PathLike[str], key: str) -> str | None:
        """One value of the case's ``meta`` table (None: no such key), read from its database
        alone, read-only: ``open`` also makes views over every part file (~50 ms on a re-hunt)."""
        path = Path(root)
        try:
            con = duckdb.connect(str(path / DB_NAME), read_only=True)
        except duckdb.Error as exc:
            raise CaseError(f"cannot open case {path}: {exc}") from exc
        try:
            rows = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        finally:
            con.close()
        return str(rows[0][0]) if rows else None

    def close(self) -> None:
        """Close the DuckDB connection."""
        self.con.close()

    def sibling(self) -> Case:
        """A second connection onto this case's database, for another thread to query while this
        one works: the same settings and ``events`` view (a read-only case's temporary views made
        again on it, from the shape already read), its own temporary tables and registered
        relations. Close it before this case."""
        con = self.con.cursor()
        con.execute(f"SET file_search_path = '{_sql_str(str(self.root.resolve()))}'")
        con.execute("SET parquet_metadata_cache = true")
        # the zone timestamps are shown and truncated in (a cursor starts in the machine's own)
        zone = self.con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
        con.execute(f"SET TimeZone = '{_sql_str(str(zone))}'")
        twin = Case(self.root, con, self.read_only)
        twin._events = self._events
        if self.read_only:  # temporary views belong to the connection that made them
            twin.refresh_views()
        return twin

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- paths -----------------------------------------------------------------------
    @property
    def events_dir(self) -> Path:
        return self.root / EVENTS_DIR

    @property
    def staging_dir(self) -> Path:
        return self.root / STAGING_DIR

    def part_files(self) -> list[str]:
        """Committed part files, relative to the case root, sorted."""
        rows = self.con.execute("SELECT path FROM parts ORDER BY path").fetchall()
        return [r[0] for r in rows]

    # ---- hunt runs --------------------------------------------------------------------
    def runs(self) -> list[str]:
        """Ids of the case's complete hunt runs, oldest first (see ``forensics.hunt.runs``)."""
        base = self.root / RUNS_DIR
        ids = (
            [p.name for p in base.iterdir() if _RUN_ID.fullmatch(p.name) and (p / RUN_FILE).is_file()]
            if base.is_dir()
            else []
        )
        if not ids and (self.root / FINDINGS_DIR / RUN_FILES["findings"]).is_file():
            return [LEGACY_RUN]  # hunted before runs were kept: its one hunt, where it lies
        return sorted(ids, key=int)

    def run_dir(self, run_id: str) -> Path:
        """The folder of a hunt run."""
        if run_id == LEGACY_RUN and not (self.root / RUNS_DIR / LEGACY_RUN).is_dir():
            return self.root / FINDINGS_DIR
        return self.root / RUNS_DIR / run_id

    def resolve_run(self, run: str | None) -> str | None:
        """The id of the run ``run`` names: None or ``latest`` the latest (None when never hunted), a
        number the run with it (``3`` is ``0003``). CaseError for a run the case does not have."""
        runs = self.runs()
        if run is None or run.strip().lower() == "latest":
            return runs[-1] if runs else None
        key = run.strip()
        if key.isdigit():
            key = f"{int(key):04d}"
        if key in runs:
            return key
        known = ", ".join(runs) if runs else "none: hunt the case first"
        raise CaseError(f"{self.root} has no hunt run {run!r} (runs: {known})")

    # ---- views -----------------------------------------------------------------------
    def refresh_views(self) -> None:
        """(Re)create the case's views: ``events`` over the committed parts, always with every core
        column; the latest hunt run's ``findings``, ``finding_records``, ``iocs``, ``hunt_report`` and
        ``rule_report``; ``findings_all`` and ``finding_records_all`` over every run (``run_id``
        first) and ``runs``. On a read-only connection they are temporary views of this connection
        (over the files as they are now); otherwise they are saved in the catalogue."""
        kind = "TEMP VIEW" if self.read_only else "VIEW"
        con = self.con
        con.execute("SELECT 1").fetchall()  # ends a caller's unread result: DuckDB refuses new work before
        self._events = None
        shape = self.events_shape()
        con.execute(f"CREATE OR REPLACE {kind} events AS {shape.sql}")
        runs = self.runs()
        for name, sql in self._run_views(runs).items():
            if sql is not None:
                con.execute(f"CREATE OR REPLACE {kind} {name} AS {sql}")
            elif not self.read_only:
                con.execute(f"DROP VIEW IF EXISTS {name}")

    def events_view(self) -> EventsShape:
        """The ``events`` view's shape, the views made again first when the committed parts changed
        since (another process ingested more) — cheap otherwise: one catalogue query."""
        shape = self._events
        if shape is None or shape.state != self.events_state():
            self.refresh_views()
            shape = self.events_shape()
        return shape

    def event_files(self, keys: str) -> list[str]:
        """The part files holding the records of relation ``keys`` (columns ``input_sha256``,
        ``rec_index``): a scan of those two columns only."""
        if self.events_view().state.startswith("0/"):
            return []
        rows = self.con.execute(
            f"SELECT DISTINCT {_PART_FILE} FROM read_parquet('{EVENTS_DIR}/*/*/*.parquet', union_by_name = true, "
            f"filename = '{_PART_FILE}') e SEMI JOIN {keys} k "
            "ON e.input_sha256 = k.input_sha256 AND e.rec_index = k.rec_index ORDER BY 1"
        ).fetchall()
        return [r[0] for r in rows]

    def events_in(self, files: Sequence[str]) -> str:
        """SQL for the ``events`` view's rows of the given part files only (as ``event_files`` names
        them): the same columns, order and types, reading no other file."""
        shape = self.events_view()
        if shape.state.startswith("0/") or not files:
            return "SELECT * FROM events WHERE false"
        scan = f"read_parquet('{EVENTS_DIR}/*/*/*.parquet', union_by_name = true, filename = '{_PART_FILE}')"
        dropped = ", ".join([*shape.present_core, _PART_FILE])
        wanted = ", ".join(_sql_lit(f) for f in files)
        return f"SELECT {', '.join(shape.first)}, * EXCLUDE ({dropped}) FROM {scan} WHERE {_PART_FILE} IN ({wanted})"

    def events_state(self) -> str:
        """What the committed events are: parts, rows and the newest part (cheap: the catalogue only)."""
        n, rows, last = self.con.execute(
            "SELECT count(*), coalesce(sum(rows), 0), coalesce(max(path), '') FROM parts"
        ).fetchall()[0]
        return f"{n}/{rows}/{last}"

    def events_shape(self) -> EventsShape:
        """The ``events`` view's definition and columns for the committed parts as they are now
        (read once per state of the parts; ``refresh_views`` makes the view from it)."""
        state = self.events_state()
        if self._events is not None and self._events.state == state:
            return self._events
        typed = {c.name: f"CAST(NULL AS {duck_type(c.type)}) AS {c.name}" for c in CORE}
        if state.startswith("0/"):
            shape = EventsShape(state, f"SELECT {', '.join(typed.values())} WHERE false",
                                tuple(c.name for c in CORE), ())  # fmt: skip
        else:
            # the core columns first (a part leaves out those it has no value for: typed NULLs),
            # then every other column in the parts' order. One scan, no union: DuckDB binds this
            # view anew at every query, and the union-by-name with a typed row cost ~0.1 s a time.
            scan = f"read_parquet('{EVENTS_DIR}/*/*/*.parquet', union_by_name = true)"
            stored = tuple(r[0] for r in self.con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall())
            have = {n.lower(): n for n in stored}
            core = [have.get(c.name.lower()) for c in CORE]
            first = [h if h is not None else typed[c.name] for c, h in zip(CORE, core, strict=True)]
            present = [h for h in core if h is not None]
            rest = f", * EXCLUDE ({', '.join(present)})" if present else ", *"
            names = tuple(h if h is not None else c.name for c, h in zip(CORE, core, strict=True))
            names += tuple(n for n in stored if n not in set(present))
            shape = EventsShape(state, f"SELECT {', '.join(first)}{rest} FROM {scan}", names, stored,
                                tuple(present), tuple(first))  # fmt: skip
        self._events = shape
        return shape

    def _rel(self, path: Path) -> str:
        return _sql_str(path.relative_to(self.root).as_posix())

    def _run_views(self, runs: list[str]) -> dict[str, str | None]:
        """SQL of each run view (None: nothing to show)."""
        out: dict[str, str | None] = {}
        latest = self.run_dir(runs[-1]) if runs else None
        for name, file in RUN_FILES.items():
            path = latest / file if latest is not None else None
            out[name] = (
                f"SELECT * FROM read_parquet('{self._rel(path)}')" if path and path.is_file() else None
            )
        for name, file in ALL_RUNS_VIEWS.items():
            parts = [
                f"SELECT '{r}' AS run_id, * FROM read_parquet('{self._rel(self.run_dir(r) / file)}')"
                for r in runs
                if (self.run_dir(r) / file).is_file()
            ]
            out[name] = " UNION ALL BY NAME ".join(parts) if parts else None
        records = [
            self._rel(self.run_dir(r) / RUN_FILE) for r in runs if (self.run_dir(r) / RUN_FILE).is_file()
        ]
        listed = ", ".join("'" + r + "'" for r in records)
        out["runs"] = (
            f"SELECT coalesce(run_id, '{LEGACY_RUN}') AS run_id, CAST(started_utc AS TIMESTAMPTZ) AS started_utc, "
            "CAST(ended_utc AS TIMESTAMPTZ) AS ended_utc, argv, cwd, exit_code, findings.total AS findings, "
            f"findings.by_kind AS findings_by_kind, tool_version FROM read_json([{listed}], "
            f"format = 'unstructured', columns = {_RUN_JSON_COLUMNS}) ORDER BY run_id"
            if records
            else None
        )
        return out

    # ---- writing ---------------------------------------------------------------------
    def done_keys(self, *, parsed: bool = False) -> set[tuple[str, str, str | None]]:
        """(sha256, path, member) of every input already recorded (``parsed``: read by a parser)."""
        where = "WHERE sha256 IS NOT NULL" + (" AND parser IS NOT NULL" if parsed else "")
        rows = self.con.execute(f"SELECT sha256, path, member FROM inputs {where}").fetchall()
        return {(r[0], r[1], r[2]) for r in rows}

    def done_shas(self, *, parsed: bool = False) -> set[str]:
        """SHA-256 of every input whose records are in the case (``parsed``: read by a parser)."""
        extra = " AND parser IS NOT NULL" if parsed else ""
        rows = self.con.execute(
            f"SELECT DISTINCT sha256 FROM inputs WHERE status IN {DONE_STATUSES!r} AND sha256 IS NOT NULL{extra}"
        ).fetchall()
        return {r[0] for r in rows}

    def refusals(self) -> set[tuple[str, str | None, str]]:
        """(path, member, reason) of inputs recorded without their bytes (refused, skipped, unreadable)."""
        rows = self.con.execute(
            "SELECT path, member, error FROM inputs WHERE sha256 IS NULL AND error IS NOT NULL"
        ).fetchall()
        return {(r[0], r[1], r[2]) for r in rows}

    def remove_orphans(self) -> int:
        """Delete part files no committed batch names, and the staging area. Returns files removed."""
        known = set(self.part_files())
        removed = 0
        if self.events_dir.exists():
            for f in sorted(self.events_dir.glob("*/*/*.parquet")):
                rel = f.relative_to(self.root).as_posix()
                if rel not in known:
                    f.unlink()
                    removed += 1
        shutil.rmtree(self.staging_dir, ignore_errors=True)
        return removed

    def commit_batch(
        self,
        batch: str,
        parts: Sequence[StagedPart],
        inputs: Iterable[dict[str, Any]],
        rejects_file: Path | None,
    ) -> None:
        """Make a batch visible: move its parts in place and record it, in one transaction."""
        moved: list[tuple[str, StagedPart]] = []
        for i, part in enumerate(parts):
            rel = f"{EVENTS_DIR}/{slug(part.source)}/{slug(part.channel)}/{batch}-{i:04d}.parquet"
            dest = self.root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part.staged, dest)
            moved.append((rel, part))
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            if moved:
                new_parts = pa.table(
                    {
                        "path": [rel for rel, _ in moved],
                        "batch": [batch] * len(moved),
                        "source": [p.source for _, p in moved],
                        "channel": pa.array([p.channel for _, p in moved], pa.string()),
                        "rows": pa.array([p.rows for _, p in moved], pa.int64()),
                    }
                )
                _insert_arrow(con, "INSERT OR REPLACE INTO parts", new_parts)
            rows = list(inputs)
            if rows:
                new_inputs = pa.Table.from_pylist(
                    [{c: r.get(c) for c in _INPUT_SCHEMA.names} for r in rows], schema=_INPUT_SCHEMA
                )
                _insert_arrow(con, f"INSERT INTO inputs ({', '.join(_INPUT_SCHEMA.names)})", new_inputs)
            if rejects_file is not None:
                con.execute(
                    "INSERT INTO rejects (input_sha256, rec_index, rec_offset, rec_line, record_id, raw, reason, "
                    "raw_b64) SELECT input_sha256, rec_index, rec_offset, rec_line, record_id, raw, reason, raw_b64 "
                    f"FROM read_parquet('{_sql_str(str(rejects_file.resolve()))}')"
                )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        if rejects_file is not None:
            rejects_file.unlink(missing_ok=True)

    def record_inputs(self, inputs: Iterable[dict[str, Any]]) -> None:
        """Record inputs that produced no parts (unknown, empty, failed, duplicate, refused)."""
        self.commit_batch("", [], inputs, None)


def _migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Add the ``inputs`` columns a case made by an earlier version lacks (NULL for its old rows)."""
    have = {r[0] for r in con.execute("DESCRIBE inputs").fetchall()}
    for f in _INPUT_SCHEMA:
        if f.name not in have:
            con.execute(f"ALTER TABLE inputs ADD COLUMN {f.name} {duck_type(f.type)}")


def input_columns(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Columns of the case's ``inputs`` table (a case opened read-only may predate some)."""
    return {r[0] for r in con.execute("DESCRIBE inputs").fetchall()}


def _insert_arrow(con: duckdb.DuckDBPyConnection, insert: str, table: pa.Table) -> None:
    """``insert`` (``INSERT ... INTO t [(cols)]``) of an Arrow table's rows, in one statement.

    DuckDB's per-row ``executemany`` costs ~1 ms a row.
    """
    con.register("_new_rows", table)
    try:
        con.execute(f"{insert} SELECT * FROM _new_rows")
    finally:
        con.unregister("_new_rows")


def _sql_lit(s: str) -> str:
    return "'" + _sql_str(s) + "'"


def _sql_str(s: str) -> str:
    return s.replace("'", "''")


# Hunt runs (forensics.hunt.runs): every hunt is the folder findings/runs/<run id>/.
FINDINGS_DIR = "findings"
RUNS_DIR = "findings/runs"
RUN_FILE = "run.json"  # a run's record of itself; a run is complete when it has one
LEGACY_RUN = "0000"  # the one hunt of a case hunted before runs were kept (its files in findings/)
_RUN_ID = re.compile(r"[0-9]{4,}")
# Files of a run, each exposed as a view of the latest run when present.
RUN_FILES: dict[str, str] = {
    "findings": "findings.parquet",
    "finding_records": "finding_records.parquet",
    "rule_report": "rule_report.parquet",
    "iocs": "iocs.parquet",
    "hunt_report": "hunt_report.parquet",
}
# Views over every run, each row with its run_id.
ALL_RUNS_VIEWS: dict[str, str] = {
    "findings_all": "findings.parquet",
    "finding_records_all": "finding_records.parquet",
}
LEGACY_FILES: tuple[str, ...] = (*RUN_FILES.values(), RUN_FILE)  # what findings/ held before runs
_RUN_JSON_COLUMNS = (
    "{run_id: 'VARCHAR', started_utc: 'VARCHAR', ended_utc: 'VARCHAR', argv: 'VARCHAR[]', cwd: 'VARCHAR', "
    "exit_code: 'INTEGER', findings: 'STRUCT(total BIGINT, by_kind JSON)', tool_version: 'VARCHAR'}"
)
