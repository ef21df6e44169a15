"""The report's content: what each section shows, gathered from the case once, as plain data.

``ReportData.collect`` reads counts, inputs and finding records; ``view`` turns it into the
rows and texts the templates (``templates/*.j2``) lay out. No HTML is written here: the
templates escape every value (Jinja2 autoescaping), so log content can never become markup.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
from markupsafe import Markup

from forensics import __version__
from forensics.attack import TACTICS, TECHNIQUES, technique_name, technique_tactics
from forensics.eidmetrics import EidMetric, HostMetric, eid_metrics, host_metrics
from forensics.hits import hit_records
from forensics.hunt.findings import Finding
from forensics.integrity import Integrity
from forensics.logons import LogonSummary, logon_summary
from forensics.outputs.columns import present_values
from forensics.report.svg import LEVEL_COLOURS, lateral_graph, timeline_chart
from forensics.report.templating import ENV, render
from forensics.store import Case
from forensics.story import Story
from forensics.timeutil import iso_ist, iso_utc

MAX_FINDINGS = 500  # findings listed with their records (highest level first); the rest are counted
MAX_RECORDS = 10  # records shown per finding; the rest are counted (all are in the timeline export)
MAX_ROWS = 500  # rows per integrity table
LEVEL_ORDER = ("critical", "high", "medium", "low", "informational")
_SKIP_FIELDS = {"input_sha256", "rec_index", "finding_id", "_details"}
NAV = (("summary", "Summary"), ("timeline", "Timeline"), ("lateral", "Lateral movement"), ("phases", "Phases"),
       ("attack", "ATT&CK"), ("iocs", "IOCs & impact"), ("findings", "Findings"), ("integrity", "Integrity"),
       ("logons", "Logons"), ("eid-metrics", "Event ids"), ("inputs", "Inputs"),
       ("navigator", "Navigator layer"))  # fmt: skip
ENV.globals["level_names"] = tuple(LEVEL_COLOURS)


def _text(value: Any) -> Any:
    """A value as the page shows it: times as ISO-8601 UTC, the rest as it is (escaped by the template)."""
    return iso_utc(value) if isinstance(value, datetime) else value


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
        # the integrity coverage counted every event per host spelling already
        n_events = sum(int(c["events"]) for c in integ.coverage)
        n_hosts = len(integ.host_events)
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
            data.records = _records(case, [f for f in findings if f.finding_id in wanted], findings)
            _add_details(case, run, findings, data.records)
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


def _add_details(case: Case, run: str | None, findings: Sequence[Finding],
                 records: dict[str, list[dict[str, Any]]]) -> None:  # fmt: skip
    """Each shown record's Details line, as the csv-timeline writes it (the rule's template, the rule
    set's default for the event, else the event's key fields)."""
    from forensics.outputs.csv_timeline import details_renderer

    renderer = details_renderer(case, run)
    rules = {f.finding_id: (f.kind, f.rule_id) for f in findings}
    done: dict[tuple[Any, ...], str] = {}  # a record several rules matched is rendered once per rule
    for fid, recs in records.items():
        kind, rule_id = rules[fid]
        for rec in recs:
            key = (kind, rule_id, rec["input_sha256"], rec["rec_index"])
            got = done.get(key)
            if got is None:
                got = done[key] = renderer.render(kind, rule_id, rec)
            rec["_details"] = got


def _records(case: Case, listed: Sequence[Finding], findings: Sequence[Finding]) -> dict[str, list[dict[str, Any]]]:
    """Up to MAX_RECORDS event rows per listed finding, earliest first, null fields dropped, the
    fields in the order the part files hold them.

    Read from the run's hit records (``forensics.hits``, shared with the timeline and the
    csv-timeline: the events are not scanned again): the earliest records per finding are chosen
    from their keys and times, then only those rows are read whole.
    """
    hits = hit_records(case, findings)
    refs = [(f.finding_id, r.input_sha256, r.rec_index) for f in listed for r in f.records]
    con = case.con
    con.register("_report_refs", pa.table({
        "finding_id": pa.array([r[0] for r in refs], pa.string()),
        "input_sha256": pa.array([r[1] for r in refs], pa.string()),
        "rec_index": pa.array([r[2] for r in refs], pa.int64()),
    }))  # fmt: skip
    try:
        shown = con.sql(f"""
            SELECT r.finding_id, r.input_sha256, r.rec_index FROM _report_refs r
            JOIN {hits.name} e USING (input_sha256, rec_index)
            QUALIFY row_number() OVER (PARTITION BY r.finding_id ORDER BY e.ts NULLS LAST, r.input_sha256, r.rec_index)
                    <= {MAX_RECORDS}
            ORDER BY r.finding_id, e.ts NULLS LAST, r.input_sha256, r.rec_index
        """).to_arrow_table()  # fmt: skip
    finally:
        con.unregister("_report_refs")
    keys = zip(shown.column(1).to_pylist(), shown.column(2).to_pylist(), strict=True)
    table = hits.take(keys, case.events_view().stored)
    out: dict[str, list[dict[str, Any]]] = {}
    for fid, rec in zip(shown.column(0).to_pylist(), present_values(table, drop_empty=True), strict=True):
        out.setdefault(fid, []).append(rec)
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
    """The whole HTML document, rendered from ``templates/report.html.j2``."""
    csp = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {script_csp}; "
           "base-uri 'none'; form-action 'none'")  # fmt: skip
    s = data.story
    return ENV.get_template("report.html.j2").render(
        d=data, s=s, i=data.integ, v=view(data), nav=NAV, csp=csp, version=__version__,
        css=Markup(css), script=Markup(script),  # our own assets, shipped with the package
        # the drawings come from these same autoescaping templates (report/svg.py)
        timeline_chart=Markup(timeline_chart(data.findings, data.integ.coverage, s.lateral, data.integ.offsets)),
        lateral_graph=Markup(lateral_graph(s.lateral, (s.patient_zero or {}).get("host"),
                                           {h["host"] for h in s.impact})),
    ) + "\n"  # fmt: skip


def view(d: ReportData) -> dict[str, Any]:
    """The rows and texts of every section, as plain values for the templates."""
    s, i = d.story, d.integ
    shown: dict[tuple[Any, ...], Markup] = {}  # each record's block, rendered once per Details text
    return {
        "lateral_hosts": sorted({e["target"] for e in s.lateral} | {e["source"] for e in s.lateral}),
        "cleared": [{"host": h["host"], "text": _cleared_text(h)} for h in s.cleared],
        "fell": [b for b in s.brute_force if b["succeeded"]],
        "clock": ", ".join(f"{h} {o:+.1f} s" for h, o in s.clock_offsets_s.items()),
        "lateral": [[e["first_utc"], e["last_utc"], e["source"], e["source_ip"], e["target"], e["account"],
                     e["method"], e["count"]] for e in s.lateral],
        "brute": [[b["target"], b["source"], b["failures"], b["accounts"], b["first_utc"], b["last_utc"],
                   "yes, at " + (b["success_utc"] or "") + " as " + (b["success_account"] or "") if b["succeeded"]
                   else "no"] for b in s.brute_force],
        "phases": [[p["name"], p["first_utc"], p["last_utc"], ", ".join(p["hosts"]), p["findings"],
                    ", ".join(f"{t} {n}" for t, n in zip(p["techniques"], p["technique_names"], strict=True))]
                   for p in s.attack_phases],
        "matrix": _matrix(d.findings),
        "iocs": [[x["value"], x["type"], x["tlp"], x["first_utc"], x["first_ist"], x["last_utc"], ", ".join(x["hosts"]),
                  x["findings"]] for x in s.iocs],
        "impact": [[h["host"], k["what"], k["first_utc"], k["first_ist"], k["last_utc"], k["count"]]
                   for h in s.impact for k in h["kinds"]],
        "findings": [_finding_view(d, f, shown) for f in d.findings[:MAX_FINDINGS]],
        "findings_unlisted": max(len(d.findings) - MAX_FINDINGS, 0),
        "coverage": [[c["host"], c["source"], c["channel"], c["first_utc"], c["last_utc"], c["first_ist"], c["events"],
                      c["zones"], "assumed" if c["zone_assumed"] else "stated"] for c in i.coverage],
        "clearings": [[c["host"], c["channel"], c["event_id"], c["cleared_channel"], c["by"], c["ts_utc"], c["ts_ist"],
                       c["gap_from_utc"] or "(start unknown)", c["note"]] for c in i.clearings],
        "tampering": [[t["host"], t["ts_utc"], t["channel"], t["command"]] for t in i.tampering],
        "silences": [[x["host"], x["channel"], x["from_utc"], x["to_utc"], f"{x['gap_s']:.0f}",
                      f"{x['usual_gap_s']:.1f}"] for x in i.silences],
        "gap_summary": [[g["host"], g["channel"], g["records"], g["first_record_id"], g["last_record_id"], g["missing"]]
                        for g in i.record_gap_summary if g["missing"]],
        "gaps": [[g["host"], g["channel"], g["after_record_id"], g["next_record_id"], g["missing"], g["after_utc"],
                  g["next_utc"]] for g in i.record_gaps],
        "pairs": [[p["source_host"], p["target_host"], p["pairs"], p["candidates"], f"{p['median_offset_s']:+.3f}",
                   f"{p['min_s']:+.3f}", f"{p['max_s']:+.3f}"] for p in i.clock_pairs],
        "offsets": [[h, f"{o:+.3f}"] for h, o in sorted(i.offsets.items())],
        "logons": _logons_view(d.logons),
        "host_metrics": [[h.host, h.count, h.channels, h.event_ids, _text(h.first_ts), _text(h.last_ts)]
                         for h in d.host_metrics],
        "eid_metrics": [[m.host, m.channel, m.event_id if m.event_id is not None else f"({m.program or '-'})",
                         m.title, m.count, f"{100 * m.share:.1f}%", _text(m.first_ts), _text(m.last_ts)]
                        for m in d.eid_metrics],
        "inputs": [[x["path"] + (f" :: {x['member']}" if x["member"] else ""), x["sha256"], x["parser"], x["rows"],
                    x["rejects"], x["status"], x["error"], x["host"]] for x in d.inputs],
        "navigator": json.dumps(d.navigator, indent=1, sort_keys=True, ensure_ascii=False),
    }  # fmt: skip


def _logons_view(s: LogonSummary | None) -> dict[str, Any] | None:
    """Failed, successful and explicit-credential logons by people's accounts (see ``forensics.logons``)."""
    if s is None:
        return None

    def rows(result: str) -> list[list[Any]]:
        return [[r.host, f"{r.domain}\\{r.account}" if r.domain and r.account else r.account, r.address,
                 r.workstation, r.logon_type, r.count, _text(r.first_ts), _text(r.last_ts),
                 iso_ist(r.first_ts) if r.first_ts else None,
                 "; ".join(x for x in (r.source, ", ".join(r.reasons), r.detail or "") if x)]
                for r in s.rows if r.result == result]  # fmt: skip

    return {
        "totals": s.totals(), "system": sum(r.count for r in s.system_rows),
        "kinds": ", ".join(sorted({r.source for r in s.rows})) or "none",
        "failure": rows("failure"), "success": rows("success"), "explicit": rows("explicit"),
    }  # fmt: skip


def _cleared_text(h: dict[str, Any]) -> str:
    text = "; ".join([f"{c['channel']} cleared at {c['ts_utc']} by {c['by'] or '?'}" for c in h["clears"]]
                     + [f"{t['command']} at {t['ts_utc']}" for t in h["commands"]])  # fmt: skip
    if h["survivors"]:
        text += f"; {h['survivors']} earlier events survive in {', '.join(h['survivor_files'])}"
    return text


def _matrix(findings: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Per tactic column, its techniques: found ones first (by count), with a heat from the count."""
    counts: dict[str, int] = {}
    tactic_of: dict[str, set[str]] = {}
    for f in findings:
        for t in f["attack"]:
            counts[t] = counts.get(t, 0) + 1
            tactic_of.setdefault(t, set()).update(technique_tactics(t) or f["tactics"])
    top = max(counts.values(), default=1)
    cols = []
    for short, _tid, name in TACTICS:
        techs = {t for t, (_n, tacs) in TECHNIQUES.items() if short in tacs and "." not in t}
        techs |= {t for t, tacs in tactic_of.items() if short in tacs}
        cells = [{"id": t, "name": technique_name(t), "n": counts.get(t, 0),
                  "heat": f"{0.25 + 0.75 * counts.get(t, 0) / top:.2f}"}
                 for t in sorted(techs, key=lambda t: (-counts.get(t, 0), t))]  # fmt: skip
        cols.append((name, cells))
    return cols


def _finding_view(d: ReportData, f: dict[str, Any], shown: dict[tuple[Any, ...], Markup]) -> dict[str, Any]:
    fid = f["finding_id"]
    recs = d.records.get(fid, [])
    total = d.record_counts.get(fid, len(recs))
    attack = ", ".join(f"{t} {technique_name(t)}" for t in f["attack"])
    meta = [("finding id", fid), ("rule", f.get("rule_id")), ("kind", f.get("kind")), ("host", f.get("host")),
            ("first (UTC)", f.get("first_utc")), ("first (IST)", f.get("first_ist")), ("last (UTC)", f.get("last_utc")),
            ("ATT&CK", attack), ("tactics", ", ".join(f["tactics"])), ("summary", f.get("summary")),
            ("rule file", f.get("rule_path")), ("rule sha256", f.get("rule_sha256")), ("TLP", f.get("tlp")),
            ("details", f.get("details")), ("records", total)]  # fmt: skip
    return {
        "level": f.get("level"), "title": f.get("title"), "host": f.get("host"), "first_utc": f.get("first_utc"),
        "meta": [(k, v) for k, v in meta if v not in (None, "")],
        "records": [_record_block(r, d.raw.get((r["input_sha256"], int(r["rec_index"]))), shown) for r in recs],
        "more": total - len(recs) if total > len(recs) else 0,
    }  # fmt: skip


def _record_block(rec: dict[str, Any], raw: str | None, shown: dict[tuple[Any, ...], Markup]) -> dict[str, Any]:
    """The record's block (``templates/record.html.j2``): a record two rules matched is shown
    under both findings, and rendered once for both when its Details line is the same."""
    key = (rec["input_sha256"], rec["rec_index"], rec.get("_details"), raw)
    html = shown.get(key)
    if html is None:
        html = shown[key] = render("record.html.j2", r=_record_view(rec, raw))
    return {"html": html}


def _record_view(rec: dict[str, Any], raw: str | None) -> dict[str, Any]:
    ts = rec.get("ts")
    return {
        "ts_utc": iso_utc(ts) if isinstance(ts, datetime) else None,
        "ts_ist": iso_ist(ts) if isinstance(ts, datetime) else None,
        "host": _text(rec.get("host")) or "", "channel": _text(rec.get("channel")) or "",
        "event_id": _text(rec.get("event_id")) if rec.get("event_id") is not None else "",
        "input_sha256": rec.get("input_sha256") or "",
        "rec_index": rec.get("rec_index") if rec.get("rec_index") is not None else "",
        "fields": [(k, _text(v)) for k, v in rec.items() if k not in _SKIP_FIELDS], "raw": raw,
        "details": rec.get("_details") or "",
    }  # fmt: skip
