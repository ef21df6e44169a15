"""How far the logs can be trusted, per host: coverage, clearing, record gaps, clock skew, zones.

``assess(case)`` answers, from the ``events`` view alone:

* coverage — the time window each (host, source, channel) covers, and the zone its times were read in;
* log clearing — Security 1102, System 104 (with the channel it names), and Linux log tampering
  (commands that truncate or delete logs, silences far longer than a log's normal rhythm);
* EventRecordID gaps — missing record numbers per (host, channel);
* clock skew — estimated from logons that pair across hosts: the explicit-credential logon
  (4648, ``TargetServerName`` = X) on the source against the network / RDP logon (4624 type 3 or 10)
  on X from the source (its IP or workstation name) for the same account, a few minutes apart.
  The median difference per host pair is the offset between the two clocks; offsets are chained
  from a reference host (the one with most events in each connected group) and returned per host.
  ``forensics.timeline`` applies them as ``ts_corrected = ts - clock_offset_s``.

Hosts are reported under one display name per machine (``HostNames``: sources that spell a host
differently, ``EHOSP-DB01.dims.local`` / ``ehosp-db01.dims.local`` / ``ehosp-db01``, are one host).

The module also holds the small case-query helpers the timeline and the story share (column
lookup tolerant of absent native columns, host-name normalisation, the IP → host map).
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from forensics.hostnames import HostNames, case_hosts, norm_ip, norm_user, short_host, usable_ip
from forensics.store import Case
from forensics.timeutil import iso_ist, iso_utc

PAIR_WINDOW = timedelta(minutes=10)  # how far apart a 4648 and its 4624 may be, skew included
CLUSTER_WIDTH_S = 3.0  # paired logons agree on the offset to within logging + network delay
MIN_APPLIED_SKEW_S = 2.0  # below this, pairing noise (network + logging delay) dominates
MAX_GAPS_LISTED = 500  # record-id gaps listed per case; the total is always counted
_LOG_TAMPER_RE = re.compile(
    r"(wevtutil(\.exe)?\s+(cl|clear-log)\b|clear-eventlog|remove-eventlog|"
    r"(>|truncate\s+-s\s*0|shred|rm\s+(-\w+\s+)*)\s*/var/log/|history\s+-c|journalctl\s+--vacuum|"
    r"unset\s+histfile|auditctl\s+-D)",
    re.IGNORECASE,
)
_LINE_SOURCES_SQL = "rec_line IS NOT NULL"


# ---- helpers shared with timeline / story ----------------------------------------------------
EVENTS = "_fx_events"  # another name for ``events`` (see ``settle``)


def settle(case: Case) -> None:
    """Prepare the session: UTC, a finished result, and the ``_fx_events`` name.

    ``events`` lists every core column (``forensics.store`` owns that, on read-only connections
    too); ``_fx_events`` is only another name for it, kept while queries here still use it.
    DuckDB also refuses a new relation while an ``execute()`` result is unread (a caller's
    ``fetchone``); running statements through ``execute`` and reading them all clears that.
    """
    con = case.con
    con.execute("SET TimeZone = 'UTC'").fetchall()
    con.execute(f"CREATE OR REPLACE TEMP VIEW {EVENTS} AS SELECT * FROM events").fetchall()


def event_columns(case: Case) -> dict[str, str]:
    """Lower-case name → column name of every column ``_fx_events`` has (core ones always)."""
    settle(case)
    rows = case.con.execute(f"SELECT column_name FROM (DESCRIBE {EVENTS})").fetchall()
    return {r[0].lower(): r[0] for r in rows}


def col(cols: dict[str, str], name: str, alias: str | None = None) -> str:
    """SQL for a column that may be absent (native columns exist only when a source had them)."""
    real = cols.get(name.lower())
    expr = f'"{real}"' if real else "CAST(NULL AS VARCHAR)"
    return f"{expr} AS {alias}" if alias else expr


def host_ip_map(case: Case) -> dict[str, str]:
    """IP → host name, learnt from the logs themselves.

    Three kinds of evidence: a logon record on any host that names the client's workstation and
    IP together (4624/4625/4776 ``WorkstationName`` + ``IpAddress``), a host's own outbound
    connections (Sysmon 3 with ``Initiated`` true: ``src_ip`` is that host's address), and sshd's
    verbose ``Connection from A port p on B port q`` lines (B is the logging host's address; how
    Linux hosts get a name). The most frequent host per IP wins; ties go to the name that sorts first.
    """
    cols = event_columns(case)
    hosts = case_hosts(case)
    votes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if "workstationname" in cols and "ipaddress" in cols:
        q = (
            f"SELECT {col(cols, 'WorkstationName')}, {col(cols, 'IpAddress')}, count(*) FROM _fx_events "
            "WHERE event_id IN (4624, 4625, 4776) AND channel = 'Security' GROUP BY ALL"
        )
        for ws, ip, n in case.con.execute(q).fetchall():
            if ws and ws.strip() not in ("", "-") and usable_ip(ip):
                votes[norm_ip(ip)][hosts.get(short_host(ws), ws.strip())] += n
    init = col(cols, "Initiated")
    q = (
        f"SELECT host, src_ip, count(*) FROM _fx_events WHERE category = 'network_connection' "
        f"AND lower(CAST({init} AS VARCHAR)) = 'true' AND host IS NOT NULL AND src_ip IS NOT NULL GROUP BY ALL"
    )
    for h, ip, n in case.con.execute(q).fetchall():
        if usable_ip(ip):
            votes[norm_ip(ip)][hosts.get(short_host(h), h)] += n
    q = (
        r"SELECT host, regexp_extract(message, 'Connection from \S+ port \d+ on (\S+) port \d+', 1) AS ip, "
        "count(*) FROM _fx_events WHERE host IS NOT NULL AND message LIKE '%Connection from % port % on % port %' "
        "GROUP BY ALL"
    )
    for h, ip, n in case.con.execute(q).fetchall():
        if ip and usable_ip(ip):
            votes[norm_ip(ip)][hosts.get(short_host(h), h)] += n
    return {ip: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for ip, c in sorted(votes.items())}


def _iso(dt: datetime | None) -> str | None:
    return iso_utc(dt) if dt is not None else None


def _ist(dt: datetime | None) -> str | None:
    return iso_ist(dt) if dt is not None else None


# ---- the assessment --------------------------------------------------------------------------
@dataclass
class Integrity:
    """Everything ``assess`` found; ``offsets`` are seconds to subtract from each host's times."""

    coverage: list[dict[str, Any]] = field(default_factory=list)
    clearings: list[dict[str, Any]] = field(default_factory=list)
    tampering: list[dict[str, Any]] = field(default_factory=list)
    silences: list[dict[str, Any]] = field(default_factory=list)
    record_gaps: list[dict[str, Any]] = field(default_factory=list)
    record_gaps_total: int = 0
    record_gaps_missing: int = 0
    record_gap_summary: list[dict[str, Any]] = field(default_factory=list)
    file_shortfalls: list[dict[str, Any]] = field(default_factory=list)  # inputs short of their headers
    clock_pairs: list[dict[str, Any]] = field(default_factory=list)
    offsets: dict[str, float] = field(default_factory=dict)
    reference_hosts: list[str] = field(default_factory=list)
    names: HostNames | None = None  # spelling → display name; hosts above use display names

    def offset_for(self, host: str | None) -> float:
        """The recorded clock offset of a host, under any spelling (0 when unknown or within the noise)."""
        if host is None:
            return 0.0
        key = self.names.display(host) if self.names is not None else host
        return self.offsets.get(key or host, self.offsets.get(host, 0.0))

    def spelling_offsets(self) -> dict[str, float]:
        """Offset per host spelling found in the events (what per-row joins need)."""
        out = dict(self.offsets)
        if self.names is not None:
            for raw, disp in self.names.spellings().items():
                if disp in self.offsets:
                    out[raw] = self.offsets[disp]
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (ISO-8601 strings for times)."""
        return {
            "coverage": self.coverage,
            "clearings": self.clearings,
            "tampering": self.tampering,
            "silences": self.silences,
            "record_gaps": self.record_gaps,
            "record_gaps_total": self.record_gaps_total,
            "record_gaps_missing": self.record_gaps_missing,
            "record_gap_summary": self.record_gap_summary,
            "file_shortfalls": self.file_shortfalls,
            "clock_pairs": self.clock_pairs,
            "clock_offsets_s": dict(sorted(self.offsets.items())),
            "clock_reference_hosts": self.reference_hosts,
            "min_applied_skew_s": MIN_APPLIED_SKEW_S,
        }


def assess(case: Case) -> Integrity:
    """Assess coverage, clearing, record gaps, clock skew and zones for every host in the case."""
    settle(case)
    result = Integrity()
    result.coverage = coverage(case)
    result.clearings = clearings(case)
    result.tampering = tampering(case)
    result.silences = silences(case)
    gaps, total, missing = record_gaps(case)
    result.record_gaps, result.record_gaps_total, result.record_gaps_missing = gaps, total, missing
    result.record_gap_summary = record_gap_summary(case)
    result.file_shortfalls = file_shortfalls(case)
    pairs, offsets, refs = clock_skew(case)
    result.clock_pairs, result.offsets, result.reference_hosts = pairs, offsets, refs
    _use_display_names(result, HostNames.from_case(case))
    return result


def _use_display_names(result: Integrity, names: HostNames) -> None:
    """Name every host by its display name, merging coverage rows two spellings split."""
    result.names = names
    for rows in (
        result.clearings,
        result.tampering,
        result.silences,
        result.record_gaps,
        result.record_gap_summary,
    ):
        for r in rows:
            r["host"] = names.display(r["host"])
    for p in result.clock_pairs:
        p["source_host"], p["target_host"] = names.display(p["source_host"]), names.display(p["target_host"])
    offsets: dict[str, float] = {}
    for h, off in result.offsets.items():
        offsets.setdefault(names.display(h) or h, off)
    result.offsets = dict(sorted(offsets.items()))
    result.reference_hosts = sorted({names.display(h) or h for h in result.reference_hosts})
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for c in result.coverage:
        key = (names.display(c["host"]), c["source"], c["channel"])
        m = merged.get(key)
        if m is None:
            merged[key] = {**c, "host": key[0]}
            continue
        for k, pick in (("first_utc", min), ("first_ist", min), ("last_utc", max), ("last_ist", max)):
            vals = [v for v in (m[k], c[k]) if v is not None]
            m[k] = pick(vals) if vals else None
        m["events"] += c["events"]
        m["zones"] = ", ".join(sorted({z for z in (m["zones"] + ", " + c["zones"]).split(", ") if z}))
        m["zone_assumed"] = m["zone_assumed"] or c["zone_assumed"]
    result.coverage = sorted(
        merged.values(),
        key=lambda c: tuple(x for k in ("host", "source", "channel") for x in (c[k] is None, c[k] or "")),
    )


def coverage(case: Case) -> list[dict[str, Any]]:
    """Per (host, source, channel): first and last event, count, zones used and whether assumed."""
    settle(case)
    q = """
        SELECT host, source, channel, min(ts), max(ts), count(*),
               string_agg(DISTINCT ts_zone, ', ' ORDER BY ts_zone), bool_or(coalesce(ts_assumed, false))
        FROM _fx_events GROUP BY host, source, channel
        ORDER BY host NULLS LAST, source NULLS LAST, channel NULLS LAST
    """
    out = []
    for host, source, channel, lo, hi, n, zones, assumed in case.con.execute(q).fetchall():
        out.append({
            "host": host, "source": source, "channel": channel,
            "first_utc": _iso(lo), "last_utc": _iso(hi), "first_ist": _ist(lo), "last_ist": _ist(hi),
            "events": n, "zones": zones or "", "zone_assumed": bool(assumed),
        })  # fmt: skip
    return out


def clearings(case: Case) -> list[dict[str, Any]]:
    """Security 1102 and System 104 events, with the gap each leaves in the cleared channel.

    The gap runs from the last event of that channel on that host before the clear (if any
    older copy of the log was collected) to the clear itself; with no older copy the gap is
    open-ended: everything before the clear is gone.
    """
    cols = event_columns(case)
    q = f"""
        SELECT host, channel, event_id, ts, record_id, {col(cols, "SubjectUserName", "who")},
               {col(cols, "Channel_native", "cleared")}
        FROM _fx_events
        WHERE (channel = 'Security' AND event_id = 1102) OR (channel = 'System' AND event_id = 104)
        ORDER BY host, ts, channel, record_id
    """
    out = []
    for host, channel, eid, ts, rid, who, cleared in case.con.execute(q).fetchall():
        target = "Security" if eid == 1102 else (cleared or "System")
        prev = case.con.execute(
            "SELECT max(ts) FROM _fx_events WHERE host IS NOT DISTINCT FROM ? AND channel = ? AND ts < ?",
            [host, target, ts],
        ).fetchall()
        before = prev[0][0] if prev else None
        out.append({
            "host": host, "channel": channel, "event_id": eid, "record_id": rid,
            "cleared_channel": target, "by": who, "ts_utc": _iso(ts), "ts_ist": _ist(ts),
            "gap_from_utc": _iso(before), "gap_to_utc": _iso(ts),
            "gap_s": (ts - before).total_seconds() if before and ts else None,
            "note": "events before the clear are lost" if before is None
            else "no events between these times survive",
        })  # fmt: skip
    return out


def tampering(case: Case) -> list[dict[str, Any]]:
    """Commands that clear or truncate logs or shell history (Windows and Linux)."""
    settle(case)
    rows: list[dict[str, Any]] = []
    # DuckDB narrows with cheap keywords; Python's regex then decides (case-insensitive, full pattern).
    q = """
        SELECT host, ts, source, channel, coalesce(process_cmdline, message) AS text, input_sha256, rec_index
        FROM _fx_events
        WHERE regexp_matches(lower(coalesce(process_cmdline, '') || ' ' || coalesce(message, '')),
              'wevtutil|clear-eventlog|remove-eventlog|/var/log/|history|journalctl|auditctl')
        ORDER BY host, ts, input_sha256, rec_index
    """
    for host, ts, source, channel, text, sha, idx in case.con.execute(q).fetchall():
        if text and _LOG_TAMPER_RE.search(text):
            rows.append({
                "host": host, "ts_utc": _iso(ts), "ts_ist": _ist(ts), "source": source, "channel": channel,
                "command": text[:500], "input_sha256": sha, "rec_index": idx,
            })  # fmt: skip
            if len(rows) >= 500:
                break
    return rows


def silences(case: Case, min_hours: float = 6.0, factor: float = 100.0) -> list[dict[str, Any]]:
    """Silent stretches in line-based logs (syslog, auth, ...) far longer than their usual rhythm.

    A log that normally writes every few seconds and then says nothing for a day was most likely
    truncated or rotated away; reported so the responder knows the hole is there.
    """
    settle(case)
    q = f"""
        WITH e AS (
            SELECT host, channel, ts, lag(ts) OVER (PARTITION BY host, channel ORDER BY ts) AS prev
            FROM _fx_events WHERE {_LINE_SOURCES_SQL} AND ts IS NOT NULL
        ), g AS (
            SELECT host, channel, prev, ts, epoch(ts) - epoch(prev) AS gap FROM e WHERE prev IS NOT NULL
        ), m AS (
            SELECT host, channel, median(gap) AS med, count(*) AS n FROM g GROUP BY host, channel
        )
        SELECT g.host, g.channel, g.prev, g.ts, g.gap, m.med FROM g JOIN m USING (host, channel)
        WHERE m.n >= 20 AND g.gap >= ? AND g.gap >= greatest(m.med, 1) * ?
        ORDER BY g.host, g.channel, g.prev
        LIMIT 200
    """
    out = []
    for host, channel, prev, ts, gap, med in case.con.execute(q, [min_hours * 3600, factor]).fetchall():
        out.append({
            "host": host, "channel": channel, "from_utc": _iso(prev), "to_utc": _iso(ts),
            "from_ist": _ist(prev), "to_ist": _ist(ts), "gap_s": float(gap), "usual_gap_s": float(med),
        })  # fmt: skip
    return out


def record_gaps(case: Case) -> tuple[list[dict[str, Any]], int, int]:
    """Missing EventRecordIDs per (host, channel): (listed gaps, number of gaps, records missing)."""
    settle(case)
    base = """
        WITH r AS (
            SELECT host, channel, record_id, min(ts) AS ts FROM _fx_events
            WHERE record_id IS NOT NULL GROUP BY host, channel, record_id
        ), l AS (
            SELECT host, channel, record_id, ts,
                   lag(record_id) OVER w AS prev_id, lag(ts) OVER w AS prev_ts
            FROM r WINDOW w AS (PARTITION BY host, channel ORDER BY record_id)
        )
        SELECT host, channel, prev_id, record_id, record_id - prev_id - 1 AS missing, prev_ts, ts
        FROM l WHERE record_id - prev_id > 1
    """
    tot = case.con.execute(f"SELECT count(*), coalesce(sum(missing), 0) FROM ({base})").fetchall()
    total, missing = (int(tot[0][0]), int(tot[0][1])) if tot else (0, 0)
    rows = case.con.execute(
        f"SELECT * FROM ({base}) ORDER BY host NULLS LAST, channel NULLS LAST, prev_id LIMIT {MAX_GAPS_LISTED}"
    ).fetchall()
    out = [
        {
            "host": h,
            "channel": c,
            "after_record_id": p,
            "next_record_id": r,
            "missing": int(m),
            "after_utc": _iso(pt),
            "next_utc": _iso(t),
        }
        for h, c, p, r, m, pt, t in rows
    ]
    return out, total, missing


def record_gap_summary(case: Case) -> list[dict[str, Any]]:
    """Per (host, channel): records present, id range, gaps and records missing (every channel listed)."""
    settle(case)
    q = f"""
        WITH r AS (SELECT DISTINCT host, channel, record_id FROM {EVENTS} WHERE record_id IS NOT NULL)
        SELECT host, channel, count(*), min(record_id), max(record_id),
               max(record_id) - min(record_id) + 1 - count(*) AS missing
        FROM r GROUP BY host, channel ORDER BY host NULLS LAST, channel NULLS LAST
    """
    out = []
    for host, channel, n, lo, hi, missing in case.con.execute(q).fetchall():
        out.append({"host": host, "channel": channel, "records": n, "first_record_id": lo, "last_record_id": hi,
                    "missing": int(missing)})  # fmt: skip
    return out


def file_shortfalls(case: Case) -> list[dict[str, Any]]:
    """Inputs whose own headers claim more records than were read, or that are cut or damaged.

    The record-id gaps above see only what was read; these come from the files' structure
    (EVTX file and chunk headers), so they also count records lost at the end of a file.
    """
    cols = {r[0] for r in case.con.execute("DESCRIBE inputs").fetchall()}
    if "records_shortfall" not in cols:  # a case made before the counts existed
        return []
    q = """
        SELECT path, member, host, status, records_claimed, rows, records_carved, rejects,
               records_shortfall, error
        FROM inputs
        WHERE records_claimed IS NOT NULL AND (records_shortfall > 0 OR status IN ('truncated', 'damaged'))
        ORDER BY path, member NULLS FIRST
    """
    keys = ("path", "member", "host", "status", "claimed", "rows", "carved", "rejects", "shortfall", "why")
    return [dict(zip(keys, r, strict=True)) for r in case.con.execute(q).fetchall()]


# ---- clock skew ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Logon:
    host: str
    ts: datetime
    user: str
    peer: str  # 4648: target server key; 4624: client IP
    ws: str  # 4624: client workstation key


def _pairing_events(case: Case) -> tuple[list[_Logon], list[_Logon]]:
    cols = event_columns(case)
    if "targetservername" not in cols:
        return [], []
    src_q = f"""
        SELECT host, ts, {col(cols, "TargetUserName")}, {col(cols, "TargetServerName")}
        FROM _fx_events WHERE event_id = 4648 AND channel = 'Security' AND ts IS NOT NULL AND host IS NOT NULL
        ORDER BY host, ts
    """
    dst_q = f"""
        SELECT host, ts, {col(cols, "TargetUserName")}, {col(cols, "IpAddress")}, {col(cols, "WorkstationName")}
        FROM _fx_events WHERE event_id = 4624 AND channel = 'Security' AND ts IS NOT NULL AND host IS NOT NULL
          AND CAST({col(cols, "LogonType")} AS VARCHAR) IN ('3', '10')
        ORDER BY host, ts
    """
    srcs = [
        _Logon(h, t, norm_user(u), short_host(s), "")
        for h, t, u, s in case.con.execute(src_q).fetchall()
        if s and short_host(s) not in ("", "localhost") and u
    ]
    dsts = [
        _Logon(
            h,
            t,
            norm_user(u),
            norm_ip(ip) if usable_ip(ip) else "",
            short_host(ws) if ws and ws != "-" else "",
        )
        for h, t, u, ip, ws in case.con.execute(dst_q).fetchall()
        if u
    ]
    return srcs, dsts


def _pair_samples(case: Case) -> dict[tuple[str, str], list[float]]:
    """(source host, target host) → every candidate difference target clock − source clock.

    A logon that repeats (three PsExec hops a minute apart) makes several candidates per source
    event; only the true offset is shared by all of them, so ``_densest`` picks it out.
    """
    srcs, dsts = _pairing_events(case)
    if not srcs or not dsts:
        return {}
    ips_of: dict[str, set[str]] = defaultdict(set)
    for ip, h in host_ip_map(case).items():
        ips_of[short_host(h)].add(ip)
    by_target: dict[tuple[str, str], list[_Logon]] = defaultdict(list)
    for d in dsts:
        by_target[(short_host(d.host), d.user)].append(d)
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in srcs:
        skey = short_host(s.host)
        if s.peer == skey:
            continue
        for d in by_target.get((s.peer, s.user), []):
            if d.host == s.host or not (d.ws == skey or (d.peer and d.peer in ips_of.get(skey, ()))):
                continue
            diff = (d.ts - s.ts).total_seconds()
            if abs(diff) <= PAIR_WINDOW.total_seconds():
                samples[(s.host, d.host)].append(diff)
    return samples


def _densest(values: list[float], width: float = CLUSTER_WIDTH_S) -> list[float]:
    """The largest group of values lying within ``width`` seconds of each other (ties: nearest 0)."""
    vals = sorted(values)
    best: list[float] = []
    j = 0
    for i in range(len(vals)):
        while vals[i] - vals[j] > width:
            j += 1
        group = vals[j : i + 1]
        if len(group) > len(best) or (
            len(group) == len(best) and abs(statistics.median(group)) < abs(statistics.median(best))
        ):
            best = group
    return best


def clock_skew(case: Case) -> tuple[list[dict[str, Any]], dict[str, float], list[str]]:
    """Estimate clock offsets per host from paired cross-host logons.

    Returns (pair table, host → offset seconds, reference hosts). The offset of a host is how
    far its clock runs ahead of its group's reference host (negative: behind). Only relative
    offsets can be known from logs; the reference is the best-connected host. Offsets within
    ``MIN_APPLIED_SKEW_S`` of zero are dropped because pairing noise is of that size.
    """
    samples = _pair_samples(case)
    pairs: list[dict[str, Any]] = []
    graph: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (src, dst), cands in sorted(samples.items()):
        diffs = _densest(cands)
        med = statistics.median(diffs)
        pairs.append({
            "source_host": src, "target_host": dst, "pairs": len(diffs), "candidates": len(cands), "median_offset_s": round(med, 3),
            "min_s": round(min(diffs), 3), "max_s": round(max(diffs), 3),
        })  # fmt: skip
        graph[src].append((dst, med))
        graph[dst].append((src, -med))
    if not graph:
        return pairs, {}, []
    counts = dict(
        case.con.execute(
            "SELECT host, count(*) FROM _fx_events WHERE host IS NOT NULL GROUP BY host"
        ).fetchall()
    )
    raw: dict[str, float] = {}
    refs: list[str] = []
    # reference clock per group: the best-connected host (a domain controller, typically the time
    # source of its domain), then the one with most events
    for start in sorted(graph, key=lambda h: (-len({n for n, _ in graph[h]}), -counts.get(h, 0), h)):
        if start in raw:
            continue
        refs.append(start)
        raw[start] = 0.0
        todo = [start]
        while todo:  # breadth-first: each host's offset from the nearest already-placed neighbour
            cur = todo.pop(0)
            for nxt, d in sorted(graph[cur]):
                if nxt not in raw:
                    raw[nxt] = raw[cur] + d
                    todo.append(nxt)
    offsets = {h: round(v, 3) for h, v in sorted(raw.items()) if abs(v) >= MIN_APPLIED_SKEW_S}
    return pairs, offsets, sorted(refs)
