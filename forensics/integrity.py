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

Hosts are reported under one display name per machine (``forensics.hostnames.HostNames``: sources
that spell a host differently, ``EHOSP-DB01.dims.local`` / ``ehosp-db01.dims.local`` /
``ehosp-db01``, are one host). What a log clear, a logon or an explicit-credential logon is comes
from the fact queries (``forensics.facts``), the same rows the hunts and the story read.

The module also holds the IP → host map the story shares.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from forensics.facts import EVENTS, col, event_columns, fact_table, settle  # noqa: F401
from forensics.hostnames import HostNames, host_counts, short_host
from forensics.store import Case
from forensics.timeutil import iso_ist, iso_utc

PAIR_WINDOW = timedelta(minutes=10)  # how far apart a 4648 and its 4624 may be, skew included
CLUSTER_WIDTH_S = 3.0  # paired logons agree on the offset to within logging + network delay
MIN_APPLIED_SKEW_S = 2.0  # below this, pairing noise (network + logging delay) dominates
MAX_GAPS_LISTED = 500  # record-id gaps listed per case; the total is always counted
MAX_TAMPERING_LISTED = 500  # log-tampering commands listed per case
_LINE_SOURCES_SQL = "rec_line IS NOT NULL"


# ---- helpers shared with timeline / story ----------------------------------------------------
# The session view and column helpers live with the fact queries (``forensics.facts``); the
# timeline, report and tests import them from here too.


def display_by_short(names: HostNames) -> dict[str, str]:
    """short host key → the host's display name (see ``forensics.hostnames.HostNames``)."""
    out: dict[str, str] = {}
    for h, disp in names.spellings().items():
        out.setdefault(short_host(h), disp)
    return out


def host_ip_map(case: Case, names: HostNames | None = None, con: Any = None) -> dict[str, str]:
    """IP → host name, learnt from the logs themselves (the ``host_addresses`` fact).

    Three kinds of evidence: a logon record on any host that names the client's workstation and
    IP together, a host's own outbound connections, and sshd's verbose connection lines (how
    Linux hosts get a name). Names are display names; the most frequent host per IP wins, ties
    go to the name that sorts first. ``con``: another engine's connection to compute it on (Spark's).
    """
    hosts = display_by_short(names if names is not None else HostNames.from_case(case))
    table = fact_table(case, "host_addresses", con=con)
    votes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    on = con if con is not None else case.con
    for ip, name, n in on.execute(
        f"SELECT ip, host_name, sum(votes) FROM {table} GROUP BY ip, host_name ORDER BY ip, host_name"
    ).fetchall():
        shown = hosts.get(short_host(name), name)
        votes[ip][shown] += int(n)
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
    host_events: dict[str, int] = field(default_factory=dict)  # events per host spelling
    ip_hosts: dict[str, str] = field(default_factory=dict)  # IP → display name, learnt from the logs

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
    """Assess coverage, clearing, record gaps, clock skew and zones for every host in the case.

    A handful of set-based queries, each one scan of the events or a fact table: coverage (which
    also gives the hosts and their spellings), clearings with the gap each leaves, tampering,
    silences, record-id gaps, and the clock-skew pairs.
    """
    settle(case)
    result = Integrity()
    result.coverage = coverage(case)
    counts: dict[str, int] = defaultdict(int)
    for c in result.coverage:
        if c["host"] is not None:
            counts[c["host"]] += c["events"]
    result.host_events = dict(sorted(counts.items()))
    names = HostNames(result.host_events)
    result.clearings = clearings(case, names)
    result.tampering = tampering(case)
    result.silences = silences(case)
    gaps, total, missing, summary = record_gaps_and_summary(case)
    result.record_gaps, result.record_gaps_total, result.record_gaps_missing = gaps, total, missing
    result.record_gap_summary = summary
    result.file_shortfalls = file_shortfalls(case)
    result.ip_hosts = host_ip_map(case, names)
    pairs, offsets, refs = clock_skew(case, result.ip_hosts, result.host_events)
    result.clock_pairs, result.offsets, result.reference_hosts = pairs, offsets, refs
    _use_display_names(result, names)
    return result


def clock_offsets(case: Case, con: Any = None) -> Integrity:
    """Only the host names, their addresses and clock offsets: what the timeline applies to rows.

    The same values as ``assess`` gives for them, without its other scans (coverage, clearings,
    gaps). ``con``: another engine's connection to compute them on (Spark's).
    """
    settle(case)
    result = Integrity()
    result.host_events = host_counts(con if con is not None else case.con)
    names = HostNames(result.host_events)
    result.ip_hosts = host_ip_map(case, names, con)
    pairs, offsets, refs = clock_skew(case, result.ip_hosts, result.host_events, con)
    result.clock_pairs, result.offsets, result.reference_hosts = pairs, offsets, refs
    _use_display_names(result, names)
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
    from forensics.census import census

    q = f"""
        SELECT host, source, channel, min(first_ts), max(last_ts), CAST(sum(cnt) AS BIGINT),
               string_agg(DISTINCT ts_zone, ', ' ORDER BY ts_zone), bool_or(assumed)
        FROM {census(case)} GROUP BY host, source, channel
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


def clearings(case: Case, names: HostNames | None = None) -> list[dict[str, Any]]:
    """Security 1102 and System 104 events (the ``log_tampering`` fact), with the gap each leaves.

    The gap runs from the last event of the cleared channel on that host before the clear (if
    any older copy of the log was collected) to the clear itself; with no older copy the gap is
    open-ended: everything before the clear is gone. ``survivors`` counts the events of that
    channel from before the clear that the case still holds under any spelling of the host (a
    forwarded copy, an older export), ``survivor_files`` names the files they are in. One join
    of the clears against the events answers every clear at once.
    """
    settle(case)
    names = names if names is not None else HostNames.from_case(case)
    table = fact_table(case, "log_tampering")
    spell = [(raw, names.display(raw) or raw) for raw in names.spellings()]
    con = case.con
    con.register("_fx_spellings", _spelling_table(spell))
    try:
        rows = con.execute(f"""
            WITH c AS (
                SELECT input_sha256, rec_index, host, channel, event_id, ts, record_id, actor, cleared_channel,
                       coalesce((SELECT display FROM _fx_spellings s WHERE s.raw = t.host), t.host) AS display
                FROM {table} t WHERE kind = 'clear'
            ), before AS (
                SELECT c.input_sha256, c.rec_index,
                       max(e.ts) FILTER (WHERE e.host = c.host) AS gap_from,
                       count(*) AS survivors,
                       string_agg(DISTINCT regexp_extract(e.input_path, '[^/\\\\]+$'), ', '
                                  ORDER BY regexp_extract(e.input_path, '[^/\\\\]+$')) AS files
                FROM c JOIN _fx_spellings s ON s.display = c.display
                JOIN {EVENTS} e ON e.host = s.raw AND e.channel = c.cleared_channel AND e.ts < c.ts
                GROUP BY c.input_sha256, c.rec_index
            )
            SELECT c.host, c.channel, c.event_id, c.ts, c.record_id, c.actor, c.cleared_channel,
                   b.gap_from, coalesce(b.survivors, 0), b.files
            FROM c LEFT JOIN before b USING (input_sha256, rec_index)
            ORDER BY c.host, c.ts, c.channel, c.record_id
        """).fetchall()  # fmt: skip
    finally:
        con.unregister("_fx_spellings")
    out = []
    for host, channel, eid, ts, rid, who, target, before, survivors, files in rows:
        out.append({
            "host": host, "channel": channel, "event_id": eid, "record_id": rid,
            "cleared_channel": target, "by": who, "ts_utc": _iso(ts), "ts_ist": _ist(ts),
            "gap_from_utc": _iso(before), "gap_to_utc": _iso(ts),
            "gap_s": (ts - before).total_seconds() if before and ts else None,
            "note": "events before the clear are lost" if before is None
            else "no events between these times survive",
            "survivors": int(survivors), "survivor_files": [f for f in (files or "").split(", ") if f],
        })  # fmt: skip
    return out


def _spelling_table(pairs: list[tuple[str, str]]) -> Any:
    """(raw spelling, display name) as an Arrow table to join on."""
    import pyarrow as pa

    return pa.table({
        "raw": pa.array([p[0] for p in pairs], pa.string()),
        "display": pa.array([p[1] for p in pairs], pa.string()),
    })  # fmt: skip


def tampering(case: Case) -> list[dict[str, Any]]:
    """Commands that clear or truncate logs or shell history, Windows and Linux (the ``log_tampering`` fact)."""
    table = fact_table(case, "log_tampering")
    rows = case.con.execute(f"""
        SELECT host, ts, source, channel, command, input_sha256, rec_index, clears_event_log FROM {table}
        WHERE kind = 'command' ORDER BY host, ts, input_sha256, rec_index LIMIT {MAX_TAMPERING_LISTED}
    """).fetchall()  # fmt: skip
    return [
        {
            "host": host, "ts_utc": _iso(ts), "ts_ist": _ist(ts), "source": source, "channel": channel,
            "command": text[:500], "input_sha256": sha, "rec_index": idx, "clears_event_log": bool(clears),
        }
        for host, ts, source, channel, text, sha, idx, clears in rows
    ]


def silences(case: Case, min_hours: float = 6.0, factor: float = 100.0) -> list[dict[str, Any]]:
    """Silent stretches in line-based logs (syslog, auth, ...) far longer than their usual rhythm.

    A log that normally writes every few seconds and then says nothing for a day was most likely
    truncated or rotated away; reported so the responder knows the hole is there.
    """
    settle(case)
    q = f"""
        WITH e AS (
            SELECT host, channel, ts, lag(ts) OVER (PARTITION BY host, channel ORDER BY ts) AS prev
            FROM {EVENTS} WHERE {_LINE_SOURCES_SQL} AND ts IS NOT NULL
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
    gaps, total, missing, _ = record_gaps_and_summary(case)
    return gaps, total, missing


def record_gap_summary(case: Case) -> list[dict[str, Any]]:
    """Per (host, channel): records present, id range, gaps and records missing (every channel listed)."""
    return record_gaps_and_summary(case)[3]


def record_gaps_and_summary(case: Case) -> tuple[list[dict[str, Any]], int, int, list[dict[str, Any]]]:
    """Record-id gaps and the per-channel summary from one scan: (gaps listed, gaps, missing, summary).

    Per (host, channel) the distinct record ids in order; each jump of more than one is a gap.
    At most ``MAX_GAPS_LISTED`` gaps are listed (host, channel, id order); all are counted.
    """
    settle(case)
    q = f"""
        WITH r AS (
            SELECT host, channel, record_id, min(ts) AS ts FROM {EVENTS}
            WHERE record_id IS NOT NULL GROUP BY host, channel, record_id
        ), l AS (
            SELECT host, channel, record_id, ts,
                   lag(record_id) OVER w AS prev_id, lag(ts) OVER w AS prev_ts
            FROM r WINDOW w AS (PARTITION BY host, channel ORDER BY record_id)
        )
        SELECT host, channel, count(*), min(record_id), max(record_id),
               count(*) FILTER (WHERE record_id - prev_id > 1),
               coalesce(sum(record_id - prev_id - 1) FILTER (WHERE record_id - prev_id > 1), 0),
               (list([prev_id, record_id, record_id - prev_id - 1, epoch_us(prev_ts), epoch_us(ts)] ORDER BY prev_id)
                   FILTER (WHERE record_id - prev_id > 1))[1:{MAX_GAPS_LISTED}]
        FROM l GROUP BY host, channel ORDER BY host NULLS LAST, channel NULLS LAST
    """
    summary: list[dict[str, Any]] = []
    gaps: list[dict[str, Any]] = []
    total = missing = 0
    for host, channel, n, lo, hi, n_gaps, n_missing, listed in case.con.execute(q).fetchall():
        summary.append({"host": host, "channel": channel, "records": n, "first_record_id": lo,
                        "last_record_id": hi, "missing": int(hi - lo + 1 - n)})  # fmt: skip
        total += int(n_gaps)
        missing += int(n_missing)
        for prev_id, rid, m, prev_us, us in listed or []:
            if len(gaps) < MAX_GAPS_LISTED:
                gaps.append({
                    "host": host, "channel": channel, "after_record_id": prev_id, "next_record_id": rid,
                    "missing": int(m), "after_utc": _iso(_from_us(prev_us)), "next_utc": _iso(_from_us(us)),
                })  # fmt: skip
    return gaps, total, missing, summary


def _from_us(us: int | None) -> datetime | None:
    return None if us is None else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


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
def _short_sql(expr: str) -> str:
    """SQL of ``short_host``: lower case, ``\\`` and blanks trimmed, domain dropped (addresses kept whole)."""
    low = f"lower(trim(trim({expr}), '\\'))"
    return f"CASE WHEN regexp_full_match({low}, '[0-9.]+|[0-9a-f:]+') THEN {low} ELSE split_part({low}, '.', 1) END"


def _user_sql(expr: str) -> str:
    """SQL of ``norm_user``: lower case, without domain (``CORP\\bob`` and ``bob@corp`` → ``bob``)."""
    return f"split_part(regexp_replace(lower(trim({expr})), '^.*\\\\', ''), '@', 1)"


def _pair_samples(case: Case, ip_hosts: dict[str, str], con: Any = None) -> dict[tuple[str, str], list[float]]:
    """(source host, target host) → every candidate difference target clock − source clock.

    The explicit-credential logon (4648 in ``remote_access``) on the source against the network
    or RDP logon (4624 type 3 / 10 in ``logon_attempts``) on the target from the source (its
    workstation name, or an address the logs tie to it) for the same account, at most
    ``PAIR_WINDOW`` apart: one join. A logon that repeats (three PsExec hops a minute apart)
    makes several candidates per source event; only the true offset is shared by all of them,
    so ``_densest`` picks it out.
    """
    explicit = fact_table(case, "remote_access", con=con)
    logons = fact_table(case, "logon_attempts", con=con)
    con = con if con is not None else case.con
    import pyarrow as pa

    con.register("_fx_ips", pa.table({
        "ip": pa.array(list(ip_hosts), pa.string()),
        "short": pa.array([short_host(h) for h in ip_hosts.values()], pa.string()),
    }))  # fmt: skip
    try:
        rows = con.execute(f"""
            WITH s AS (
                SELECT host, ts, {_user_sql("account")} AS u, {_short_sql("peer_host")} AS peer,
                       {_short_sql("host")} AS skey
                FROM {explicit}
                WHERE event_id = 4648 AND host IS NOT NULL AND ts IS NOT NULL AND coalesce(account, '') <> ''
            ), d AS (
                SELECT host, ts, {_user_sql("account")} AS u, src_ip AS peer,
                       CASE WHEN coalesce(workstation, '-') <> '-' THEN {_short_sql("workstation")} ELSE '' END AS ws,
                       {_short_sql("host")} AS dkey
                FROM {logons}
                WHERE outcome = 'success' AND logon_type IN ('3', '10') AND host IS NOT NULL AND ts IS NOT NULL
                  AND coalesce(account, '') <> ''
            )
            SELECT s.host, d.host, (epoch_us(d.ts) - epoch_us(s.ts)) / 1e6 AS diff
            FROM s JOIN d ON d.dkey = s.peer AND d.u = s.u
            WHERE s.peer NOT IN ('', 'localhost') AND s.peer <> s.skey AND d.host <> s.host
              AND (d.ws = s.skey OR EXISTS (SELECT 1 FROM _fx_ips i WHERE i.ip = d.peer AND i.short = s.skey))
              AND abs(epoch_us(d.ts) - epoch_us(s.ts)) <= {int(PAIR_WINDOW.total_seconds() * 1_000_000)}
            ORDER BY 1, 2, 3
        """).fetchall()  # fmt: skip
    finally:
        con.unregister("_fx_ips")
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    for src, dst, diff in rows:
        samples[(src, dst)].append(float(diff))
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


def clock_skew(
    case: Case, ip_hosts: dict[str, str] | None = None, host_events: dict[str, int] | None = None, con: Any = None
) -> tuple[list[dict[str, Any]], dict[str, float], list[str]]:
    """Estimate clock offsets per host from paired cross-host logons.

    Returns (pair table, host → offset seconds, reference hosts). The offset of a host is how
    far its clock runs ahead of its group's reference host (negative: behind). Only relative
    offsets can be known from logs; the reference is the best-connected host. Offsets within
    ``MIN_APPLIED_SKEW_S`` of zero are dropped because pairing noise is of that size.
    ``con``: another engine's connection to compute it on (Spark's).
    """
    settle(case)
    samples = _pair_samples(case, ip_hosts if ip_hosts is not None else host_ip_map(case, con=con), con)
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
    if host_events is None:
        host_events = host_counts(con if con is not None else case.con)
    raw: dict[str, float] = {}
    refs: list[str] = []
    # reference clock per group: the best-connected host (a domain controller, typically the time
    # source of its domain), then the one with most events
    for start in sorted(graph, key=lambda h: (-len({n for n, _ in graph[h]}), -host_events.get(h, 0), h)):
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
