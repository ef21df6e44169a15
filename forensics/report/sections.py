"""The report's sections, built as HTML text from plain data.

Every value that reaches the page goes through ``esc`` (text and attribute values alike); no
section inserts log content any other way. The builders take plain dicts so they are easy to test.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any

import pyarrow as pa

from forensics import __version__
from forensics.attack import TACTICS, TECHNIQUES, technique_name, technique_tactics
from forensics.eidmetrics import EidMetric, HostMetric, eid_metrics, host_metrics
from forensics.hunt.findings import Finding
from forensics.integrity import Integrity
from forensics.logons import LogonSummary, logon_summary
from forensics.report.svg import LEVEL_COLOURS, lateral_graph, timeline_chart
from forensics.store import Case
from forensics.story import Story
from forensics.timeutil import iso_ist, iso_utc

MAX_FINDINGS = 500  # findings listed with their records (highest level first); the rest are counted
MAX_RECORDS = 10  # records shown per finding; the rest are counted (all are in the timeline export)
MAX_ROWS = 500  # rows per integrity table
LEVEL_ORDER = ("critical", "high", "medium", "low", "informational")
_SKIP_FIELDS = {"input_sha256", "rec_index", "finding_id"}


def esc(value: Any) -> str:
    """Text for HTML: None → '', everything else str() then escaped (quotes included)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return escape(iso_utc(value))
    return escape(str(value), quote=True)


def _lvl(level: str | None) -> str:
    lv = level if level in LEVEL_COLOURS else "informational"
    return f'<span class="lvl lvl-{lv}">{esc(level or "?")}</span>'


def _table(headers: list[str], rows: list[list[Any]], cls: str = "", limit: int = MAX_ROWS) -> str:
    if not rows:
        return '<p class="muted">None.</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows[:limit])
    more = f'<p class="muted">{len(rows) - limit} more rows not shown.</p>' if len(rows) > limit else ""
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>{more}'


@dataclass
class ReportData:
    """Everything the document shows, gathered from the case once."""

    case_name: str
    counts: dict[str, Any]
    inputs: list[dict[str, Any]]
    integ: Integrity
    story: Story
    findings: list[dict[str, Any]]
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    record_counts: dict[str, int] = field(default_factory=dict)
    raw: dict[tuple[str, int], str] = field(default_factory=dict)
    navigator: dict[str, Any] = field(default_factory=dict)
    run: str | None = None  # the hunt run the findings are of
    logons: LogonSummary | None = None
    host_metrics: list[HostMetric] = field(default_factory=list)
    eid_metrics: list[EidMetric] = field(default_factory=list)

    @classmethod
    def collect(
        cls, case: Case, integ: Integrity, story: Story, findings: Sequence[Finding],
        navigator: dict[str, Any], *, raw_records: bool = False, run: str | None = None,
    ) -> ReportData:  # fmt: skip
        """Read counts, inputs, finding records (and optionally raw records) from the case."""
        con = case.con
        n_events, n_hosts = con.execute("SELECT count(*), count(DISTINCT host) FROM _fx_events").fetchall()[0]
        inputs = [
            dict(
                zip(
                    ("path", "member", "sha256", "parser", "rows", "rejects", "status", "error", "host"),
                    r,
                    strict=True,
                )
            )
            for r in con.execute(
                "SELECT path, member, sha256, parser, rows, rejects, status, error, host FROM inputs "
                "ORDER BY path, member NULLS FIRST, sha256"
            ).fetchall()
        ]
        n_rejects = con.execute("SELECT count(*) FROM rejects").fetchall()[0][0]
        shown = [_shown(f, integ) for f in findings]
        ordered = sorted(shown, key=lambda f: (-f["rank"], f["first_utc"] or "~", f["finding_id"]))
        data = cls(
            case_name=case.root.resolve().name,
            counts={
                "events": n_events,
                "hosts": n_hosts,
                "inputs": len(inputs),
                "rejects": n_rejects,
                "findings": len(findings),
            },
            inputs=inputs,
            integ=integ,
            story=story,
            findings=ordered,
            navigator=navigator,
            run=run,
            logons=logon_summary(case),
            host_metrics=host_metrics(case),
            eid_metrics=eid_metrics(case),
        )
        listed = [f["finding_id"] for f in ordered[:MAX_FINDINGS]]
        if listed:
            data.record_counts = {f.finding_id: len(f.records) for f in findings}
            wanted = set(listed)
            data.records = _records(case, [f for f in findings if f.finding_id in wanted])
        if raw_records and data.records:
            data.raw = _raw(case, data.records)
        return data


def _shown(f: Finding, integ: Integrity) -> dict[str, Any]:
    """What the document shows of a finding: its host's display name and clock-corrected times."""
    off = timedelta(seconds=integ.offset_for(f.host))
    first = f.first_ts - off if f.first_ts else None
    first_utc = iso_utc(first) if first else None
    return {
        "finding_id": f.finding_id, "kind": f.kind, "rule_id": f.rule_id, "title": f.title, "level": f.level,
        "rank": f.rank, "host": integ.names.display(f.host) if integ.names is not None else f.host,
        "first_utc": first_utc, "first_ist": iso_ist(first) if first else None,
        "last_utc": iso_utc(f.last_ts - off) if f.last_ts else first_utc,
        "attack": f.techniques, "tactics": f.tactic_names, "summary": f.summary, "rule_path": f.rule_path,
        "rule_sha256": f.rule_sha256, "tlp": f.tlp, "details": f.details,
    }  # fmt: skip


def _records(case: Case, findings: Sequence[Finding]) -> dict[str, list[dict[str, Any]]]:
    """Up to MAX_RECORDS event rows per finding, earliest first, null fields dropped."""
    refs = [(f.finding_id, r.input_sha256, r.rec_index) for f in findings for r in f.records]
    case.con.register("_report_refs", pa.table({
        "finding_id": pa.array([r[0] for r in refs], pa.string()),
        "input_sha256": pa.array([r[1] for r in refs], pa.string()),
        "rec_index": pa.array([r[2] for r in refs], pa.int64()),
    }))  # fmt: skip
    try:
        cur = case.con.execute(
            f"""
            SELECT r.finding_id AS finding_id, e.* FROM _report_refs r
            JOIN _fx_events e ON e.input_sha256 = r.input_sha256 AND e.rec_index = r.rec_index
            QUALIFY row_number() OVER (PARTITION BY r.finding_id ORDER BY e.ts NULLS LAST, e.input_sha256, e.rec_index)
                    <= {MAX_RECORDS}
            ORDER BY r.finding_id, e.ts NULLS LAST, e.input_sha256, e.rec_index
            """
        )
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        case.con.unregister("_report_refs")
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        rec = dict(zip(names, row, strict=True))
        fid = rec.pop("finding_id")
        out.setdefault(fid, []).append({k: v for k, v in rec.items() if v is not None and v != ""})
    return out


def _raw(case: Case, records: dict[str, list[dict[str, Any]]]) -> dict[tuple[str, int], str]:
    """The original record text (EVTX XML or the log line), or why it could not be had."""
    from forensics.raw import extract_records

    refs = sorted({(r["input_sha256"], int(r["rec_index"])) for rs in records.values() for r in rs})
    got = extract_records(case, refs)
    return {
        ref: f"(raw record unavailable: {val})" if isinstance(val, str) else val.text()
        for ref, val in got.items()
    }


# ---- the document ----------------------------------------------------------------------------
def build_document(data: ReportData, *, css: str, script: str, script_csp: str) -> str:
    """The whole HTML document."""
    csp = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {script_csp}; base-uri 'none'; form-action 'none'"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Incident report: {esc(data.case_name)}</title>",
        f"<style>{css}</style></head><body>",
        _header(data),
        _summary(data),
        _timeline_section(data),
        _lateral_section(data),
        _phases_section(data),
        _matrix_section(data),
        _iocs_impact_section(data),
        _findings_section(data),
        _integrity_section(data),
        _logons_section(data),
        _metrics_section(data),
        _inputs_section(data),
        _navigator_section(data),
        f'<footer class="muted"><p>forensics {esc(__version__)}. Times are UTC with IST (UTC+05:30) beside them; '
        "host clocks corrected by the offsets in the integrity section.</p></footer>",
        f"<script>{script}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _header(d: ReportData) -> str:
    links = [("summary", "Summary"), ("timeline", "Timeline"), ("lateral", "Lateral movement"),
             ("phases", "Phases"), ("attack", "ATT&CK"), ("iocs", "IOCs & impact"), ("findings", "Findings"),
             ("integrity", "Integrity"), ("logons", "Logons"), ("eid-metrics", "Event ids"), ("inputs", "Inputs"), ("navigator", "Navigator layer")]  # fmt: skip
    nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in links)
    return (f'<header><h1>Incident report: {esc(d.case_name)}</h1>'
            f'<div class="muted">{esc(d.counts["events"])} events from {esc(d.counts["inputs"])} inputs on '
            f'{esc(d.counts["hosts"])} hosts; {esc(d.counts["findings"])} findings{_run_note(d.run)}; '
            f'{esc(d.counts["rejects"])} records rejected at ingest</div><nav>{nav}</nav></header>')  # fmt: skip


def _run_note(run: str | None) -> str:
    return f" of hunt run {esc(run)}" if run else ""


def _summary(d: ReportData) -> str:
    s = d.story
    by_level = (s.span or {}).get("by_level", {})
    cards = "".join(
        f'<div class="card"><b>{esc(n)}</b>{_lvl(lv)} findings</div>' for lv, n in by_level.items()
    )
    kv: list[tuple[str, str]] = []
    if s.span:
        kv.append(("Activity span (corrected)", f"{esc(s.span['first_utc'])} .. {esc(s.span['last_utc'])} UTC<br>"
                   f"{esc(s.span['first_ist'])} .. {esc(s.span['last_ist'])} IST"))  # fmt: skip
    if s.patient_zero:
        kv.append(("Patient zero", f"<b>{esc(s.patient_zero['host'])}</b> — {esc(s.patient_zero['reason'])}"))
    if s.entry_point:
        e = s.entry_point
        kv.append(("Entry point", f"{esc(e['method'])} logon as <b>{esc(e['account'])}</b> from "
                   f"<b>{esc(e['source_ip'])}</b> to {esc(e['host'])} at {esc(e['ts_utc'])} "
                   f"(IST {esc(e['ts_ist'])})"))  # fmt: skip
    if s.first_finding:
        f = s.first_finding
        kv.append(
            (
                "First finding",
                f"{_lvl(f['level'])} {esc(f['title'])} on {esc(f['host'])} at {esc(f['ts_utc'])}",
            )
        )
    if s.encrypted_hosts:
        kv.append(("Encrypted hosts", "<b>" + esc(", ".join(s.encrypted_hosts)) + "</b>"))
    if s.impact:
        kv.append(
            (
                "Impact",
                "; ".join(
                    f"<b>{esc(h['host'])}</b>: " + ", ".join(esc(k["what"]) for k in h["kinds"])
                    for h in s.impact
                ),
            )
        )
    if s.path:
        kv.append(("Lateral-movement path", "<br>".join(
            f"{esc(h['first_utc'])}: {esc(h['source'])} {'&#x2717;' if h['failed'] else '&#x2192;'} "
            f"<b>{esc(h['target'])}</b> ({esc(', '.join(h['methods']))} as {esc(', '.join(h['accounts']) or '?')})"
            + (" — failed" if h["failed"] else "") for h in s.path)))  # fmt: skip
    hosts = sorted({e["target"] for e in s.lateral} | {e["source"] for e in s.lateral})
    if hosts:
        kv.append(("Hosts in lateral movement", esc(", ".join(hosts))))
    if s.held:
        kv.append(("Held (attacked, never fell)", "; ".join(
            f'<span class="ok">{esc(h["host"])}</span>{" (backup server)" if h["backup"] else ""}: {esc(h["how"])}'
            for h in s.held)))  # fmt: skip
    if s.cleared:
        kv.append(("Cleared logs", "<br>".join(
            f"<b>{esc(h['host'])}</b>: "
            + esc("; ".join([f"{c['channel']} cleared at {c['ts_utc']} by {c['by'] or '?'}" for c in h["clears"]]
                            + [f"{t['command']} at {t['ts_utc']}" for t in h["commands"]]))
            + (esc(f"; {h['survivors']} earlier events survive in {', '.join(h['survivor_files'])}")
               if h["survivors"] else "")
            for h in s.cleared)))  # fmt: skip
    held = s.did_not_fall
    if held:
        kv.append(("What did not fall", "; ".join(
            f'<span class="ok">{esc(b["target"])}</span> held against {esc(b["failures"])} failed logons from '
            f"{esc(b['source'])}" for b in held)))  # fmt: skip
    fell = [b for b in s.brute_force if b["succeeded"]]
    if fell:
        kv.append(("Brute force that succeeded", "; ".join(
            f'<span class="warn">{esc(b["target"])}</span> fell to {esc(b["source"])} after {esc(b["failures"])} '
            f"failures, as {esc(b['success_account'])} at {esc(b['success_utc'])}" for b in fell)))  # fmt: skip
    if s.clock_offsets_s:
        kv.append(
            ("Clock corrections", esc(", ".join(f"{h} {o:+.1f} s" for h, o in s.clock_offsets_s.items())))
        )
    body = "".join(f"<div>{esc(k)}</div><div>{v}</div>" for k, v in kv)
    return f'<section id="summary"><h2>Summary</h2><div class="cards">{cards}</div><div class="kv">{body}</div></section>'


def _timeline_section(d: ReportData) -> str:
    chart = timeline_chart(d.findings, d.integ.coverage, d.story.lateral, d.integ.offsets)
    return ('<section id="timeline"><h2>Timeline</h2><p class="muted">One lane per host; dots are findings '
            "(colour = level), grey bars the time the host's logs cover, dashed arrows lateral movement.</p>"
            f"{chart}</section>")  # fmt: skip


def _phases_section(d: ReportData) -> str:
    rows = [[p["name"], p["first_utc"], p["last_utc"], ", ".join(p["hosts"]), p["findings"],
             ", ".join(f"{t} {n}" for t, n in zip(p["techniques"], p["technique_names"], strict=True))]
            for p in d.story.attack_phases]  # fmt: skip
    ind = d.story.indicator_matches
    extra = (
        f'<p class="muted">Indicator matches (IOC lists, YARA) carry no ATT&amp;CK tactic: {esc(ind["findings"])} '
        f"findings, {esc(ind['first_utc'])} .. {esc(ind['last_utc'])}, on {esc(', '.join(ind['hosts']) or '-')} "
        "(see IOC sightings).</p>"
        if ind
        else ""
    )
    return (
        '<section id="phases"><h2>Phases (ATT&amp;CK order)</h2>'
        + _table(["Phase", "First (UTC)", "Last (UTC)", "Hosts", "Findings", "Techniques"], rows)
        + extra
        + "</section>"
    )


def _matrix_section(d: ReportData) -> str:
    counts: dict[str, int] = {}
    tactic_of: dict[str, set[str]] = {}
    for f in d.findings:
        for t in f["attack"]:
            counts[t] = counts.get(t, 0) + 1
            tactic_of.setdefault(t, set()).update(technique_tactics(t) or f["tactics"])
    top = max(counts.values(), default=1)
    cols = []
    for short, _tid, name in TACTICS:
        techs = {t for t, (_n, tacs) in TECHNIQUES.items() if short in tacs and "." not in t}
        techs |= {t for t, tacs in tactic_of.items() if short in tacs}
        cells = []
        for t in sorted(techs, key=lambda t: (-counts.get(t, 0), t)):
            n = counts.get(t, 0)
            if n:
                heat = 0.25 + 0.75 * n / top
                style = f' style="background: rgba(215, 48, 31, {heat:.2f})"'
                cells.append(f'<div class="tech hit"{style} title="{esc(t)}: {n} findings">{esc(t)}<br>'
                             f"{esc(technique_name(t))} ({n})</div>")  # fmt: skip
            else:
                cells.append(f'<div class="tech">{esc(t)}<br>{esc(technique_name(t))}</div>')
        cols.append((name, "".join(cells)))
    head = "".join(f"<th>{esc(n)}</th>" for n, _ in cols)
    body = "".join(f"<td>{c}</td>" for _, c in cols)
    return (
        '<section id="attack"><h2>ATT&amp;CK matrix</h2><p class="muted">Techniques found (red, darker = more '
        "findings) among the techniques this tool knows; grey were not seen.</p>"
        f'<table class="matrix"><thead><tr>{head}</tr></thead><tbody><tr>{body}</tr></tbody></table></section>'
    )


def _lateral_section(d: ReportData) -> str:
    s = d.story
    impact = {h["host"] for h in s.impact}
    graph = lateral_graph(s.lateral, (s.patient_zero or {}).get("host"), impact)
    rows = [[e["first_utc"], e["last_utc"], e["source"], e["source_ip"], e["target"], e["account"], e["method"],
             e["count"]] for e in s.lateral]  # fmt: skip
    brute = [[b["target"], b["source"], b["failures"], b["accounts"], b["first_utc"], b["last_utc"],
              "yes, at " + (b["success_utc"] or "") + " as " + (b["success_account"] or "") if b["succeeded"] else "no"]
             for b in s.brute_force]  # fmt: skip
    return ('<section id="lateral"><h2>Lateral movement</h2>' + graph
            + _table(["First (UTC)", "Last (UTC)", "Source", "Source IP", "Target", "Account", "Method", "Count"], rows)
            + "<h3>Brute force</h3>"
            + _table(["Target", "Source", "Failures", "Accounts", "First (UTC)", "Last (UTC)", "Succeeded"], brute)
            + "</section>")  # fmt: skip


def _iocs_impact_section(d: ReportData) -> str:
    s = d.story
    iocs = [[i["value"], i["type"], i["tlp"], i["first_utc"], i["first_ist"], i["last_utc"], ", ".join(i["hosts"]),
             i["findings"]] for i in s.iocs]  # fmt: skip
    impact = [[h["host"], k["what"], k["first_utc"], k["first_ist"], k["last_utc"], k["count"]]
              for h in s.impact for k in h["kinds"]]  # fmt: skip
    return (
        '<section id="iocs"><h2>IOC sightings</h2>'
        + _table(
            ["IOC", "Type", "TLP", "First (UTC)", "First (IST)", "Last (UTC)", "Hosts", "Findings"], iocs
        )
        + "<h3>Impact</h3>"
        + _table(["Host", "What", "First (UTC)", "First (IST)", "Last (UTC)", "Events"], impact)
        + "</section>"
    )


def _record_html(rec: dict[str, Any], raw: str | None) -> str:
    ts = rec.get("ts")
    head = ""
    if isinstance(ts, datetime):
        head = f"{esc(iso_utc(ts))} (IST {esc(iso_ist(ts))}) "
    head += f"{esc(rec.get('host'))} {esc(rec.get('channel'))} {esc(rec.get('event_id'))}"
    rows = "".join(f"<tr><td>{esc(k)}</td><td class=\"mono\">{esc(v)}</td></tr>"
                   for k, v in rec.items() if k not in _SKIP_FIELDS)  # fmt: skip
    prov = f"input {esc(rec.get('input_sha256'))} record #{esc(rec.get('rec_index'))}"
    raw_html = f'<pre class="mono">{esc(raw)}</pre>' if raw else ""
    return (f'<div class="rec"><div><b>{head}</b> <span class="muted mono">{prov}</span></div>'
            f"<table>{rows}</table>{raw_html}</div>")  # fmt: skip


def _findings_section(d: ReportData) -> str:
    items = []
    for f in d.findings[:MAX_FINDINGS]:
        fid = f["finding_id"]
        recs = d.records.get(fid, [])
        total = d.record_counts.get(fid, len(recs))
        body = "".join(_record_html(r, d.raw.get((r["input_sha256"], int(r["rec_index"])))) for r in recs)
        if total > len(recs):
            body += (
                f'<p class="muted">{total - len(recs)} more records not shown (see the timeline export).</p>'
            )
        attack = ", ".join(f"{t} {technique_name(t)}" for t in f["attack"])
        meta = [("finding id", fid), ("rule", f.get("rule_id")), ("kind", f.get("kind")), ("host", f.get("host")),
                ("first (UTC)", f.get("first_utc")), ("first (IST)", f.get("first_ist")), ("last (UTC)", f.get("last_utc")),
                ("ATT&CK", attack), ("tactics", ", ".join(f["tactics"])), ("summary", f.get("summary")),
                ("rule file", f.get("rule_path")), ("rule sha256", f.get("rule_sha256")), ("TLP", f.get("tlp")),
                ("details", f.get("details")), ("records", total)]  # fmt: skip
        kv = "".join(
            f'<div>{esc(k)}</div><div class="mono">{esc(v)}</div>' for k, v in meta if v not in (None, "")
        )
        items.append(f'<details><summary>{_lvl(f.get("level"))} <b>{esc(f.get("title"))}</b> — {esc(f.get("host"))} '
                     f'<span class="muted">{esc(f.get("first_utc"))}</span></summary>'
                     f'<div class="kv">{kv}</div>{body}</details>')  # fmt: skip
    more = ""
    if len(d.findings) > MAX_FINDINGS:
        more = f'<p class="muted">{len(d.findings) - MAX_FINDINGS} lower-ranked findings not listed.</p>'
    return (
        '<section id="findings"><h2>Findings</h2><input id="filter" type="search" placeholder="filter findings…"> '
        '<button id="expand-all" type="button">expand all</button> '
        '<button id="collapse-all" type="button">collapse all</button>'
        + ("".join(items) or '<p class="muted">No findings: run `forensics hunt` first.</p>')
        + more
        + "</section>"
    )


def _integrity_section(d: ReportData) -> str:
    i = d.integ
    cov = [[c["host"], c["source"], c["channel"], c["first_utc"], c["last_utc"], c["first_ist"], c["events"],
            c["zones"], "assumed" if c["zone_assumed"] else "stated"] for c in i.coverage]  # fmt: skip
    clr = [[c["host"], c["channel"], c["event_id"], c["cleared_channel"], c["by"], c["ts_utc"], c["ts_ist"],
            c["gap_from_utc"] or "(start unknown)", c["note"]] for c in i.clearings]  # fmt: skip
    tam = [[t["host"], t["ts_utc"], t["channel"], t["command"]] for t in i.tampering]
    sil = [[s["host"], s["channel"], s["from_utc"], s["to_utc"], f"{s['gap_s']:.0f}", f"{s['usual_gap_s']:.1f}"]
           for s in i.silences]  # fmt: skip
    gaps = [[g["host"], g["channel"], g["after_record_id"], g["next_record_id"], g["missing"], g["after_utc"],
             g["next_utc"]] for g in i.record_gaps]  # fmt: skip
    pairs = [[p["source_host"], p["target_host"], p["pairs"], p["candidates"], f"{p['median_offset_s']:+.3f}",
              f"{p['min_s']:+.3f}", f"{p['max_s']:+.3f}"] for p in i.clock_pairs]  # fmt: skip
    offs = [[h, f"{o:+.3f}"] for h, o in sorted(i.offsets.items())]
    return ('<section id="integrity"><h2>Integrity</h2><h3>Coverage and time zones</h3>'
            + _table(["Host", "Source", "Channel", "First (UTC)", "Last (UTC)", "First (IST)", "Events", "Zone",
                      "Zone"], cov)
            + "<h3>Log clearing</h3>"
            + _table(["Host", "Channel", "Event", "Cleared", "By", "When (UTC)", "When (IST)", "Gap from (UTC)",
                      "Note"], clr)
            + "<h3>Log tampering commands</h3>" + _table(["Host", "When (UTC)", "Channel", "Command"], tam)
            + "<h3>Silent stretches in line logs</h3>"
            + _table(["Host", "Channel", "From (UTC)", "To (UTC)", "Gap (s)", "Usual gap (s)"], sil)
            + f"<h3>EventRecordID gaps</h3><p>{esc(i.record_gaps_total)} gaps, {esc(i.record_gaps_missing)} records "
            "missing in all.</p>"
            + _table(["Host", "Channel", "Records", "First id", "Last id", "Missing"],
                     [[g["host"], g["channel"], g["records"], g["first_record_id"], g["last_record_id"], g["missing"]]
                      for g in i.record_gap_summary if g["missing"]])
            + _table(["Host", "Channel", "After record", "Next record", "Missing", "After (UTC)", "Next (UTC)"], gaps)
            + "<h3>Clock skew</h3><p class=\"muted\">Offsets from paired cross-host logons (4648 on the source "
            "against 4624 on the target); corrected time = recorded time − offset. Offsets under "
            "2 s are within pairing noise and not applied.</p>"
            + _table(["Source host", "Target host", "Pairs", "Candidates", "Median offset (s)", "Min (s)", "Max (s)"],
                     pairs)
            + _table(["Host", "Offset applied (s)"], offs)
            + "<p>Reference clocks: " + esc(", ".join(i.reference_hosts) or "-") + "</p></section>")  # fmt: skip


def _logons_section(d: ReportData) -> str:
    """Successful, failed and explicit-credential logons by host, account and source (see forensics.logons)."""
    s = d.logons
    if s is None:
        return ""
    head = ["Host", "Account", "Source address", "Workstation", "Logon type", "Count", "First (UTC)", "Last (UTC)",
            "First (IST)", "Record"]  # fmt: skip

    def rows(result: str) -> list[list[Any]]:
        return [[r.host, f"{r.domain}\\{r.account}" if r.domain and r.account else r.account, r.address,
                 r.workstation, r.logon_type, r.count, r.first_ts, r.last_ts,
                 iso_ist(r.first_ts) if r.first_ts else None,
                 "; ".join(x for x in (r.source, ", ".join(r.reasons), r.detail or "") if x)]
                for r in s.rows if r.result == result]  # fmt: skip

    totals = s.totals()
    system = sum(r.count for r in s.system_rows)
    return ('<section id="logons"><h2>Logons</h2>'
            f'<p>{esc(totals["failure"])} failed, {esc(totals["success"])} successful and {esc(totals["explicit"])} '
            f"explicit-credential logon records by people's accounts; {esc(system)} more by system and machine "
            "accounts are not listed. Record kinds: " + esc(", ".join(sorted({r.source for r in s.rows})) or "none")
            + ". One logon can leave several records (RDP: 1149, 4624 type 10, LSM 21); each row counts one kind.</p>"
            + "<h3>Failed logons</h3>" + _table([*head[:-1], "Record; why"], rows("failure"))
            + "<h3>Successful logons</h3>" + _table(head, rows("success"))
            + "<h3>Logons with explicit credentials (4648)</h3>" + _table([*head[:-1], "Record; by"], rows("explicit"))
            + "</section>")  # fmt: skip


def _metrics_section(d: ReportData) -> str:
    """Events per host, and per host, channel and event id (see forensics.eidmetrics)."""
    hosts = [[h.host, h.count, h.channels, h.event_ids, h.first_ts, h.last_ts] for h in d.host_metrics]
    eids = [[m.host, m.channel, m.event_id if m.event_id is not None else f"({m.program or '-'})", m.title,
             m.count, f"{100 * m.share:.1f}%", m.first_ts, m.last_ts] for m in d.eid_metrics]  # fmt: skip
    return ('<section id="eid-metrics"><h2>Event ids</h2><h3>Events per host</h3>'
            + _table(["Host", "Events", "Channels", "Event ids", "First (UTC)", "Last (UTC)"], hosts)
            + "<h3>Events per host, channel and event id</h3><p class=\"muted\">Records without an event id are "
            "counted by the program that wrote them.</p>"
            + _table(["Host", "Channel", "Event id", "Title", "Count", "Share of channel", "First (UTC)", "Last (UTC)"],
                     eids)
            + "</section>")  # fmt: skip


def _inputs_section(d: ReportData) -> str:
    rows = [[i["path"] + (f" :: {i['member']}" if i["member"] else ""), i["sha256"], i["parser"], i["rows"],
             i["rejects"], i["status"], i["error"], i["host"]] for i in d.inputs]  # fmt: skip
    return (
        '<section id="inputs"><h2>Inputs</h2>'
        + _table(["Input", "SHA-256", "Parser", "Rows", "Rejects", "Status", "Error", "Host"], rows, "mono")
        + "</section>"
    )


def _navigator_section(d: ReportData) -> str:
    text = json.dumps(d.navigator, indent=1, sort_keys=True, ensure_ascii=False)
    return (
        '<section id="navigator"><h2>ATT&amp;CK Navigator layer</h2><details><summary>layer JSON (copy into '
        f'the ATT&amp;CK Navigator: Open Existing Layer → Upload)</summary><pre class="mono">{esc(text)}</pre>'
        "</details></section>"
    )
