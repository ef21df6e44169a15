"""The attack timeline: findings and the events around them, per host, in time order.

Modes:
    findings  one row per finding (its ATT&CK tactics and techniques, its first record's fields)
    context   the finding rows, the records they fired on, and the events around them within ``window``
              of the finding: the same account on any host (clock-corrected), or the same process
              (pid, parent pid or image) on the same host
    full      the finding rows and every event (the super-timeline), records annotated with
              the findings that hit them

Every row carries ``ts`` (as recorded, UTC), ``ts_utc`` and ``ts_ist`` (text, IST beside UTC),
``clock_offset_s`` (the host's estimated skew from ``forensics.integrity``) and
``ts_corrected = ts - clock_offset_s`` (with ``ts_corrected_utc`` / ``ts_corrected_ist``; the offset
applies to every spelling of the host's name, see ``forensics.hostnames.HostNames``); rows
are ordered by ``ts_corrected``. Filters: hosts,
a corrected-time range (``since`` / ``until``) and a minimum finding level (events in ``full``
mode are kept whatever the level: the super-timeline is everything).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from forensics.attack import technique_name
from forensics.hits import hit_events
from forensics.hostnames import short_host
from forensics.hunt.findings import LEVELS, Finding, level_rank, parse_level, read_findings
from forensics.hunt.sigma.sqlutil import quote_str
from forensics.integrity import EVENTS, Integrity, clock_offsets, event_columns, settle
from forensics.store import Case

MODES: tuple[str, ...] = ("findings", "context", "full")
DEFAULT_WINDOW = timedelta(minutes=5)
# Accounts too common to tie events together: every service runs as one of them.
GENERIC_USERS: tuple[str, ...] = (
    "system", "local service", "network service", "-", "", "anonymous logon", "localsystem",
    "root", "dwm-1", "umfd-0", "umfd-1",
)  # fmt: skip

# Event columns every timeline row has, in output order: (output name, events column).
EVENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("source", "source"), ("channel", "channel"), ("provider", "provider"), ("event_id", "event_id"),
    ("record_id", "record_id"), ("category", "category"), ("user_name", "user_name"),
    ("user_domain", "user_domain"), ("process_image", "process_image"), ("process_cmdline", "process_cmdline"),
    ("process_pid", "process_pid"), ("parent_image", "parent_image"), ("parent_pid", "parent_pid"),
    ("src_ip", "src_ip"), ("dst_ip", "dst_ip"), ("dst_port", "dst_port"), ("file_path", "file_path"),
    ("logon_type", "LogonType"), ("target_server", "TargetServerName"), ("workstation", "WorkstationName"),
    ("ts_raw", "ts_raw"), ("ts_zone", "ts_zone"), ("ts_assumed", "ts_assumed"),
    ("input_sha256", "input_sha256"), ("rec_index", "rec_index"),
)  # fmt: skip
_NATIVE = {"LogonType", "TargetServerName", "WorkstationName"}


def _event_select(cols: dict[str, str], alias: str = "e") -> str:
    parts = []
    for out, name in EVENT_FIELDS:
        if name in _NATIVE:
            real = cols.get(name.lower())
            parts.append(
                f'CAST({alias}."{real}" AS VARCHAR) AS {out}' if real else f"CAST(NULL AS VARCHAR) AS {out}"
            )
        else:
            parts.append(f"{alias}.{name} AS {out}")
    return ", ".join(parts)


def _event_message(alias: str = "e") -> str:
    """The event's own message, or a one-line rendering of its key fields when it has none."""
    a = alias
    return (
        f"coalesce({a}.message, concat_ws(' ', {a}.channel, CAST({a}.event_id AS VARCHAR), "
        f"'user=' || {a}.user_name, 'image=' || {a}.process_image, 'cmd=' || {a}.process_cmdline, "
        f"'src=' || {a}.src_ip, 'dst=' || {a}.dst_ip, 'file=' || {a}.file_path))"
    )


def _findings_table(findings: Sequence[Finding]) -> pa.Table:
    """The kept findings as an Arrow table DuckDB can join (one row each)."""
    techs = [f.techniques for f in findings]
    tactics = [f.tactic_names for f in findings]
    return pa.table({
        "finding_id": pa.array([f.finding_id for f in findings], pa.string()),
        "kind": pa.array([f.kind for f in findings], pa.string()),
        "rule_id": pa.array([f.rule_id for f in findings], pa.string()),
        "title": pa.array([f.title for f in findings], pa.string()),
        "level": pa.array([f.level for f in findings], pa.string()),
        "lrank": pa.array([f.rank for f in findings], pa.int32()),
        "attack": pa.array([", ".join(t) for t in techs], pa.string()),
        "techniques": pa.array([", ".join(technique_name(x) for x in t) for t in techs], pa.string()),
        "tactics": pa.array([", ".join(t) for t in tactics], pa.string()),
        "tactic": pa.array([t[0] if t else None for t in tactics], pa.string()),
        "host": pa.array([f.host for f in findings], pa.string()),
        "first_ts": pa.array([f.first_ts for f in findings], pa.timestamp("us", tz="UTC")),
        "last_ts": pa.array([f.last_ts for f in findings], pa.timestamp("us", tz="UTC")),
        "summary": pa.array([f.summary for f in findings], pa.string()),
    })  # fmt: skip


def _keep_finding(f: Finding, hosts: set[str] | None, min_rank: int) -> bool:
    if f.rank < min_rank:
        return False
    return not (hosts is not None and f.host is not None and short_host(f.host) not in hosts)


def build_timeline(
    case: Case,
    mode: str = "context",
    hosts: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_level: str | None = None,
    *,
    window: timedelta = DEFAULT_WINDOW,
    integrity: Integrity | None = None,
    findings: Sequence[Finding] | None = None,
    run: str | None = None,
    on: Any = None,
) -> pa.Table:
    """Build the timeline of a case as an Arrow table (see the module docstring for modes).

    ``findings`` are those of hunt run ``run`` (None: the latest), read here when not given;
    ``integrity`` (its clock offsets) is assessed here when not given. ``on``: another engine's
    connection (Spark's, ``forensics.spark.connection``) that reads the events instead of the
    case's DuckDB: the clock offsets, the findings' records, the context candidates and (full mode)
    every event are read there; the small joins and the rendering stay here, the same SQL.
    """
    if mode not in MODES:
        raise ValueError(f"unknown timeline mode {mode!r}; use one of {', '.join(MODES)}")
    min_lv = parse_level(min_level) if min_level is not None else None
    if min_level is not None and min_lv is None:
        raise ValueError(f"unknown level {min_level!r}; use one of {', '.join(LEVELS)}")
    con = case.con
    settle(case)  # UTC session: text renderings of times below must not depend on the machine
    integ = integrity if integrity is not None else clock_offsets(case, on)
    host_keys = {short_host(h) for h in hosts} if hosts else None
    min_rank = level_rank(min_lv) if min_lv is not None else 0
    if findings is None:
        findings = read_findings(case, run)
    kept = [f for f in findings if _keep_finding(f, host_keys, min_rank)]
    con.register("_tl_f", _findings_table(kept))
    con.register("_tl_r", _records_table(kept))
    offsets = integ.spelling_offsets()  # rows join on the host as each source spelt it
    con.register("_tl_off", pa.table({
        "host": pa.array(list(offsets), pa.string()),
        "off": pa.array(list(offsets.values()), pa.float64()),
    }))  # fmt: skip
    cols = event_columns(case)
    reader = _EventReader(case, cols, on)
    try:
        table = _build(case, mode, cols, window, reader, findings, _prefilter(integ, host_keys, since, until))
    finally:
        for name in ("_tl_f", "_tl_r", "_tl_off", *reader.fetched):
            con.unregister(name)
        reader.close()
        for name in _STAGED:
            con.execute(f"DROP TABLE IF EXISTS {name}").fetchall()
    return _filter(table, host_keys, since, until)


_STAGED = ("_tl_hit", "_tl_keys", "_tl_cand", "_tl_ctx", "_tl_ev")


class _EventReader:
    """Where the timeline reads events: the case's DuckDB, or another engine's connection (``on``)
    whose rows come back as Arrow and are registered on the case's connection under a name.

    Only the scans of the events go to the other engine, each one a filter over ``events`` (the
    DuckDB statement, transpiled); what they select is the raw columns the timeline renders, so
    the rendering SQL below runs here, the same for both engines.
    """

    def __init__(self, case: Case, cols: dict[str, str], on: Any) -> None:
        self.case, self.on = case, (on if on is not None and on is not case.con else None)
        wanted = [name for _, name in EVENT_FIELDS if name not in _NATIVE]
        wanted += [cols[n.lower()] for n in sorted(_NATIVE) if n.lower() in cols]
        wanted += ["message", "ts", "host", "parent_pid"]
        self.columns = list(dict.fromkeys(wanted))
        self.fetched: list[str] = []  # relations registered on the case's connection
        self.sent: set[str] = set()  # small tables registered on the other engine

    def close(self) -> None:
        """Drop the small tables handed to the other engine."""
        if self.on is not None:
            for name in sorted(self.sent):
                self.on.unregister(name)

    def hits(self, findings: Sequence[Finding]) -> str:
        """The relation of the records the findings fired on (``_tl_r`` names those shown)."""
        if self.on is None:
            return hit_events(self.case, findings)  # every finding's records, read once for all the outputs
        where = "EXISTS (SELECT 1 FROM _tl_r r WHERE r.input_sha256 = e.input_sha256 AND r.rec_index = e.rec_index)"
        return self.where("_tl_hits_on", where, {"_tl_r": "SELECT input_sha256, rec_index FROM _tl_r"})

    def where(self, name: str, condition: str, smalls: dict[str, str] | None = None) -> str:
        """The events matching ``condition`` (SQL over ``events e`` and small tables: ``smalls`` maps
        each name to the query of the case's connection that makes it), as a relation of the case's
        connection."""
        if self.on is None:
            return f"(SELECT * FROM {EVENTS} e WHERE {condition})"
        con = self.case.con
        for small, query in (smalls or {}).items():
            self.on.register(small, con.sql(query).to_arrow_table())
            self.sent.add(small)
        select = ", ".join(f'e."{c}"' for c in self.columns)
        table = self.on.execute(f"SELECT {select} FROM {EVENTS} e WHERE {condition}").to_arrow_table()
        con.register(name, table)
        self.fetched.append(name)
        return name


def _prefilter(integ: Integrity, hosts: set[str] | None, since: datetime | None, until: datetime | None) -> str:
    """SQL over ``events e`` keeping a superset of the rows the host and corrected-time filters keep
    (``_filter`` applies them exactly afterwards): full mode reads only those. A host key becomes
    the spellings of it the events have; corrected time is widened by the largest clock offsets."""
    parts = []
    if hosts is not None:
        names = sorted(h for h in integ.host_events if short_host(h) in hosts)
        parts.append(f"e.host IN ({', '.join(quote_str(n) for n in names)})" if names else "false")
    offs = [0.0, *integ.spelling_offsets().values()]
    slack = timedelta(seconds=1)  # offsets are rounded to the microsecond; a second is ample
    if since is not None:
        parts.append(f"e.ts >= TIMESTAMPTZ '{(since + timedelta(seconds=min(offs)) - slack).isoformat()}'")
    if until is not None:
        parts.append(f"e.ts <= TIMESTAMPTZ '{(until + timedelta(seconds=max(offs)) + slack).isoformat()}'")
    return " AND ".join(parts) or "true"


def _build(
    case: Case,
    mode: str,
    cols: dict[str, str],
    window: timedelta,
    reader: _EventReader,
    findings: Sequence[Finding],
    prefilter: str,
) -> pa.Table:
    """Stage the small tables, then select the rows: each step one scan of the events at most.

    1. ``_tl_hit``: the events the findings fired on (key, host, time, account, process), from
       the run's hit records (``forensics.hits``);
    2. context mode: ``_tl_cand``, the timeline columns of every event sharing an account, pid or
       image with a hit (one scan with the hits' values as filters), and ``_tl_ctx``, those
       within the window of their finding (joins of small tables);
    3. ``_tl_ev``: the timeline columns of exactly the events shown (hits, then context);
    then one query over these orders and renders the rows. Full mode reads every event once.
    """
    con = case.con
    hits = reader.hits(findings)
    ev_cols = _event_select(cols) + f", {_event_message()} AS message, e.ts, e.host"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tl_hit AS
        SELECT e.input_sha256, e.rec_index, e.host, e.ts, lower(e.user_name) AS u, e.process_pid AS pid,
               lower(e.process_image) AS img
        FROM {hits} e SEMI JOIN _tl_r r ON e.input_sha256 = r.input_sha256 AND e.rec_index = r.rec_index
    """).fetchall()  # fmt: skip
    shown = f"SELECT {ev_cols} FROM {hits} e SEMI JOIN _tl_r r ON e.input_sha256 = r.input_sha256 AND e.rec_index = r.rec_index"
    if mode == "context":
        _stage_context(con, window, ev_cols, reader)
        names = ", ".join([out for out, _ in EVENT_FIELDS] + ["message", "ts", "host"])
        shown += f"""
        UNION ALL
        SELECT {names} FROM _tl_cand c
        SEMI JOIN _tl_ctx x ON c.input_sha256 = x.input_sha256 AND c.rec_index = x.rec_index
        ANTI JOIN _tl_r r ON c.input_sha256 = r.input_sha256 AND c.rec_index = r.rec_index"""
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE _tl_ctx AS SELECT input_sha256, rec_index, finding_id AS finding_ids "
                    "FROM _tl_r WHERE false").fetchall()  # fmt: skip
    con.execute(f"CREATE OR REPLACE TEMP TABLE _tl_ev AS {shown}").fetchall()
    everything = reader.where("_tl_all_on", prefilter) if mode == "full" else EVENTS
    chosen = {"full": f"(SELECT {ev_cols} FROM {everything} e)", "context": "_tl_ev"}.get(
        mode, "(SELECT * FROM _tl_ev WHERE false)"
    )
    return con.sql(_rows_sql(chosen)).to_arrow_table()


def _records_table(findings: Sequence[Finding]) -> pa.Table:
    """(finding_id, input_sha256, rec_index) of every record the kept findings fired on."""
    rows = [(f.finding_id, r.input_sha256, r.rec_index) for f in findings for r in f.records]
    return pa.table({
        "finding_id": pa.array([r[0] for r in rows], pa.string()),
        "input_sha256": pa.array([r[1] for r in rows], pa.string()),
        "rec_index": pa.array([r[2] for r in rows], pa.int64()),
    })  # fmt: skip


def _stage_context(con: Any, window: timedelta, ev_cols: str, reader: _EventReader) -> None:
    """``_tl_ctx``: each event near a finding sharing its user or process, with the ids of those
    findings (sorted, comma-separated); ``_tl_cand``: the candidates' timeline columns (``ev_cols``) and keys.

    Same account: on any host (that is how lateral movement looks), in clock-corrected time.
    Same process (pid, parent pid, image): on the same host. Accounts every service uses
    (SYSTEM, machine accounts ``...$``) tie nothing together and are not followed.
    """
    w = int(window.total_seconds() * 1_000_000)
    generic = ", ".join(quote_str(u) for u in GENERIC_USERS)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tl_keys AS
        SELECT r.finding_id, h.host, f.first_ts, f.last_ts,
               CASE WHEN h.u NOT IN ({generic}) AND NOT h.u LIKE '%$' THEN h.u END AS u,
               CASE WHEN h.pid > 4 THEN h.pid END AS pid, h.img,
               to_microseconds(CAST(round(coalesce(o.off, 0) * 1000000) AS BIGINT)) AS koff
        FROM _tl_r r JOIN _tl_hit h USING (input_sha256, rec_index) JOIN _tl_f f USING (finding_id)
        LEFT JOIN _tl_off o ON o.host = h.host
    """).fetchall()  # fmt: skip
    near = reader.where("_tl_near_on", """
        lower(e.user_name) IN (SELECT u FROM _tl_keys WHERE u IS NOT NULL)
        OR e.process_pid IN (SELECT pid FROM _tl_keys WHERE pid IS NOT NULL)
        OR e.parent_pid IN (SELECT pid FROM _tl_keys WHERE pid IS NOT NULL)
        OR lower(e.process_image) IN (SELECT img FROM _tl_keys WHERE img IS NOT NULL)
    """, {"_tl_keys": "SELECT u, pid, img FROM _tl_keys"})  # fmt: skip
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tl_cand AS
        SELECT {ev_cols}, lower(e.user_name) AS u, e.process_pid AS pid, e.parent_pid AS ppid,
               lower(e.process_image) AS img,
               e.ts - to_microseconds(CAST(round(coalesce(o.off, 0) * 1000000) AS BIGINT)) AS tsc
        FROM {near} e LEFT JOIN _tl_off o ON o.host = e.host
    """).fetchall()  # fmt: skip
    win = f"to_microseconds({w})"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tl_ctx AS
        -- each key's window once, with the findings that share it (a brute force's hundreds of
        -- records share one account; copies of a log share every window), and equality joins
        -- only (an OR in a join condition makes DuckDB compare every pair)
        WITH ku AS (SELECT u, first_ts - koff - {win} AS lo, last_ts - koff + {win} AS hi, list(DISTINCT finding_id) AS ids
                    FROM _tl_keys WHERE u IS NOT NULL GROUP BY ALL),
        kp AS (SELECT host, pid, first_ts - {win} AS lo, last_ts + {win} AS hi, list(DISTINCT finding_id) AS ids
               FROM _tl_keys WHERE pid IS NOT NULL GROUP BY ALL),
        ki AS (SELECT host, img, first_ts - {win} AS lo, last_ts + {win} AS hi, list(DISTINCT finding_id) AS ids
               FROM _tl_keys WHERE img IS NOT NULL GROUP BY ALL),
        near AS (
            -- the same account on any host: compared in corrected time, since host clocks differ
            SELECT c.input_sha256, c.rec_index, k.ids FROM ku k JOIN _tl_cand c ON c.u = k.u
             AND c.tsc BETWEEN k.lo AND k.hi
            UNION ALL
            SELECT c.input_sha256, c.rec_index, k.ids FROM kp k JOIN _tl_cand c ON c.host = k.host AND c.pid = k.pid
             AND c.ts BETWEEN k.lo AND k.hi
            UNION ALL
            SELECT c.input_sha256, c.rec_index, k.ids FROM kp k JOIN _tl_cand c ON c.host = k.host AND c.ppid = k.pid
             AND c.ts BETWEEN k.lo AND k.hi
            UNION ALL
            SELECT c.input_sha256, c.rec_index, k.ids FROM ki k JOIN _tl_cand c ON c.host = k.host AND c.img = k.img
             AND c.ts BETWEEN k.lo AND k.hi
        )
        SELECT input_sha256, rec_index, array_to_string(list_sort(list_distinct(flatten(list(ids)))), ', ') AS finding_ids
        FROM near GROUP BY input_sha256, rec_index
    """).fetchall()  # fmt: skip


def _rows_sql(chosen: str) -> str:
    """The timeline rows: one per finding (with its first record's fields) and one per event in ``chosen``."""
    return f"""
    WITH hits AS (SELECT input_sha256, rec_index, finding_id FROM _tl_r),
    hit_agg AS (
        SELECT h.input_sha256, h.rec_index,
               string_agg(DISTINCT h.finding_id, ', ' ORDER BY h.finding_id) AS finding_ids,
               max(f.lrank) AS lrank,
               string_agg(DISTINCT f.title, ' | ' ORDER BY f.title) AS title,
               string_agg(DISTINCT f.rule_id, ', ' ORDER BY f.rule_id) AS rule_id,
               string_agg(DISTINCT f.kind, ', ' ORDER BY f.kind) AS kind,
               string_agg(DISTINCT nullif(f.attack, ''), ', ' ORDER BY nullif(f.attack, '')) AS attack,
               string_agg(DISTINCT nullif(f.techniques, ''), ', ' ORDER BY nullif(f.techniques, '')) AS techniques,
               string_agg(DISTINCT nullif(f.tactics, ''), ', ' ORDER BY nullif(f.tactics, '')) AS tactics,
               min(f.tactic) AS tactic
        FROM hits h JOIN _tl_f f USING (finding_id) GROUP BY h.input_sha256, h.rec_index
    ),
    ctx_agg AS (SELECT input_sha256, rec_index, finding_ids FROM _tl_ctx),
    first_rec AS (
        SELECT finding_id, input_sha256, rec_index FROM (
            SELECT h.finding_id, k.input_sha256, k.rec_index,
                   row_number() OVER (PARTITION BY h.finding_id
                                      ORDER BY k.ts NULLS LAST, k.input_sha256, k.rec_index) AS n
            FROM hits h JOIN _tl_hit k USING (input_sha256, rec_index)
        ) WHERE n = 1
    ),
    frows AS (
        SELECT f.first_ts AS ts, coalesce(f.host, e.host) AS host, 'finding' AS row_type, 'finding' AS relation,
               f.finding_id AS finding_ids, f.level, f.title, f.rule_id, f.kind, f.attack, f.techniques,
               f.tactics, f.tactic, f.last_ts,
               '[' || coalesce(f.level, '?') || '] ' || coalesce(f.title, f.rule_id, '')
                   || coalesce(' - ' || nullif(f.summary, ''), '') AS message,
               e.* EXCLUDE (message, ts, host)
        FROM _tl_f f LEFT JOIN first_rec fr USING (finding_id)
        LEFT JOIN _tl_ev e ON e.input_sha256 = fr.input_sha256 AND e.rec_index = fr.rec_index
    ),
    erows AS (
        SELECT e.ts, e.host, 'event' AS row_type,
               CASE WHEN ha.input_sha256 IS NOT NULL THEN 'hit'
                    WHEN ca.input_sha256 IS NOT NULL THEN 'context' ELSE '' END AS relation,
               coalesce(ha.finding_ids, ca.finding_ids) AS finding_ids,
               CASE WHEN ha.lrank >= 0 THEN {_level_case("ha.lrank")} END AS level,
               ha.title, ha.rule_id, ha.kind, ha.attack, ha.techniques, ha.tactics, ha.tactic,
               CAST(NULL AS TIMESTAMPTZ) AS last_ts, e.message, e.* EXCLUDE (message, ts, host)
        FROM {chosen} e
        LEFT JOIN hit_agg ha USING (input_sha256, rec_index)
        LEFT JOIN ctx_agg ca USING (input_sha256, rec_index)
    ),
    allrows AS (SELECT * FROM frows UNION ALL SELECT * FROM erows),
    fixed AS (
        SELECT a.*, coalesce(o.off, 0.0) AS off,
               a.ts - to_microseconds(CAST(round(coalesce(o.off, 0) * 1000000) AS BIGINT)) AS tsc
        FROM allrows a LEFT JOIN _tl_off o ON o.host = a.host
    )
    SELECT a.ts,
           {_utc_text("a.ts")} AS ts_utc,
           {_ist_text("a.ts")} AS ts_ist,
           a.tsc AS ts_corrected,
           {_utc_text("a.tsc")} AS ts_corrected_utc,
           {_ist_text("a.tsc")} AS ts_corrected_ist,
           a.off AS clock_offset_s,
           a.* EXCLUDE (ts, tsc, off)
    FROM fixed a
    ORDER BY ts_corrected NULLS LAST, a.host NULLS LAST, a.row_type DESC, a.input_sha256 NULLS LAST,
             a.rec_index NULLS LAST, a.finding_ids NULLS LAST
    """


def _utc_text(expr: str) -> str:
    """SQL: fixed-width ISO-8601 UTC text of a TIMESTAMPTZ (the session zone is UTC)."""
    return f"strftime(CAST({expr} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%fZ')"


def _ist_text(expr: str) -> str:
    """SQL: the same instant as IST (UTC+05:30, no daylight saving) text."""
    return f"strftime(CAST({expr} AS TIMESTAMP) + INTERVAL 330 MINUTE, '%Y-%m-%dT%H:%M:%S.%f') || '+05:30'"


def _level_case(expr: str) -> str:
    whens = " ".join(f"WHEN {expr} = {i} THEN '{lv}'" for i, lv in enumerate(LEVELS))
    return f"CASE {whens} END"


def _filter(
    table: pa.Table, hosts: set[str] | None, since: datetime | None, until: datetime | None
) -> pa.Table:
    """Apply the host and corrected-time filters (findings were already filtered by level)."""
    import pyarrow.compute as pc

    mask = None

    def both(m: Any) -> None:
        """AND one more condition into the mask."""
        nonlocal mask
        mask = m if mask is None else pc.and_(mask, m)

    if hosts is not None:
        keys = pa.array([short_host(h) for h in table.column("host").to_pylist()], pa.string())
        both(pc.is_in(keys, value_set=pa.array(sorted(hosts), pa.string())))
    corrected = table.column("ts_corrected")
    if since is not None:
        both(pc.fill_null(pc.greater_equal(corrected, pa.scalar(since, corrected.type)), False))
    if until is not None:
        both(pc.fill_null(pc.less_equal(corrected, pa.scalar(until, corrected.type)), False))
    return table if mask is None else table.filter(mask)


def write_timeline(table: pa.Table, fmt: str, out: Path) -> Path:
    """Write the timeline in ``fmt`` (csv, jsonl, timesketch, parquet) to ``out``; returns ``out``."""
    from forensics.outputs import WRITERS

    writer = WRITERS.get(fmt)
    if writer is None:
        raise ValueError(f"unknown timeline format {fmt!r}; use one of {', '.join(sorted(WRITERS))}")
    out.parent.mkdir(parents=True, exist_ok=True)
    writer(table, out)
    return out


def timeline_summary(table: pa.Table) -> dict[str, Any]:
    """Counts by row type and relation, for the CLI's stderr line."""
    rows = table.select(["row_type", "relation"]).to_pylist()
    out: dict[str, int] = {}
    for r in rows:
        key = r["row_type"] if r["row_type"] == "finding" else f"event:{r['relation'] or 'other'}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))
