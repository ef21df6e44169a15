"""The detection CSV responders read in Hayabusa's shape: one row per matched record.

Columns, in the order Hayabusa's csv-timeline puts the shared ones: ``Timestamp`` (UTC),
``RuleTitle``, ``Level``, ``Computer``, ``Channel``, ``EventID``, ``RecordID``, ``Details``; then
ours: ``Timestamp (IST)``, ``Kind`` (sigma, correlation, sql, ioc, yara), ``RuleID``, ``RuleFile``,
``EvtxFile`` (the input, ``!/member`` inside archives), ``InputSHA256`` and ``RecIndex`` — the
record reference: ``(InputSHA256, RecIndex)`` is the row's key in ``events`` and names the raw
record in its input. A record two rules matched has two rows. ``Details`` is the rule's
``details`` template rendered for the record, else the key fields of its event type
(``forensics.outputs.details``). Rows are sorted (time, computer, channel, record, rule), so the
same case gives the same bytes; the file is Excel-safe (``forensics.outputs.csvfile``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from forensics.hits import HitRecords
from forensics.hunt.findings import LEVELS
from forensics.outputs import csvfile
from forensics.outputs.columns import iso_ist_text, iso_utc_text, present_values
from forensics.outputs.details import (
    DetailsConfig,
    key_fields,
    lookup,
    render_all,
    render_fields,
    render_template,
    template_fields,
)
from forensics.store import RUN_FILE, RUN_FILES, Case

COLUMNS = ("Timestamp", "RuleTitle", "Level", "Computer", "Channel", "EventID", "RecordID", "Details",
           "Timestamp (IST)", "Kind", "RuleID", "RuleFile", "EvtxFile", "InputSHA256", "RecIndex")  # fmt: skip
_SCHEMA = pa.schema(
    [(c, pa.int64() if c in ("EventID", "RecordID", "RecIndex") else pa.string()) for c in COLUMNS]
)
_HIT = ("finding_id", "input_sha256", "rec_index", "kind", "rule_id", "title", "level", "rule_path", "ts", "host",
        "channel", "provider", "event_id", "record_id", "input_path", "input_member")  # fmt: skip


@dataclass(frozen=True)
class _Plan:
    """How one kind of row gets its Details."""

    template: str | None = None  # a details template (the rule's or the rule set's default)
    fields: tuple[str, ...] | None = None  # else our key fields; neither: every field of the event


def build_csv_timeline(
    case: Case,
    run: str | None = None,
    min_level: str = "informational",
    config: DetailsConfig | None = None,
    *,
    hits: HitRecords | None = None,
) -> pa.Table:
    """One row per (finding of hunt run ``run`` (None: the latest) at or above ``min_level``, record),
    sorted, Details rendered. A case never hunted gives an empty table.

    ``hits``: the run's hit records (``forensics.hits``) when the other outputs read them already;
    the matched records are then taken from there instead of the events."""
    config = config or DetailsConfig()
    run_id = case.resolve_run(run)
    if run_id is None:
        return _SCHEMA.empty_table()
    folder = case.run_dir(run_id)
    found, located = folder / RUN_FILES["findings"], folder / RUN_FILES["finding_records"]
    if not (found.is_file() and located.is_file()):
        return _SCHEMA.empty_table()
    records = hits.name if hits is not None else "events"
    rows, ts = _hits(case, found, located, LEVELS.index(min_level) if min_level in LEVELS else 0, records)
    n = len(rows["finding_id"])
    plans = _plans(_rule_templates(case, folder / RUN_FILES["rule_report"]), rows, config)
    keys = list(zip(rows["input_sha256"], rows["rec_index"], strict=True))
    narrow = {keys[i] for i in range(n) if plans[i].template or plans[i].fields}
    wide = {keys[i] for i in range(n) if not (plans[i].template or plans[i].fields)}
    columns = {c.lower(): c for c in case.events_view().columns}
    want = sorted({c for p in set(plans) for c in _plan_columns(p, columns, config)})
    fetched = _fetch(case, sorted(narrow), want, hits) if narrow and want else {}
    fetched.update(_fetch(case, sorted(wide), None, hits) if wide else {})
    memo: dict[tuple[_Plan, tuple[str, int]], str] = {}
    details = []
    for i in range(n):
        k = (plans[i], keys[i])
        got = memo.get(k)
        if got is None:
            rec = fetched.get(keys[i], ({}, {}))
            chan, eid = rows["channel"][i], rows["event_id"][i]
            got = memo[k] = _details(plans[i], rec, config, chan, eid)
        details.append(got)
    member = rows["input_member"]
    return pa.table(
        {
            "Timestamp": iso_utc_text(ts),
            "RuleTitle": rows["title"], "Level": rows["level"], "Computer": rows["host"],
            "Channel": rows["channel"], "EventID": rows["event_id"], "RecordID": rows["record_id"],
            "Details": details,
            "Timestamp (IST)": iso_ist_text(ts),
            "Kind": rows["kind"], "RuleID": rows["rule_id"], "RuleFile": rows["rule_path"],
            "EvtxFile": [f"{p}!/{m}" if m else p for p, m in zip(rows["input_path"], member, strict=True)],
            "InputSHA256": rows["input_sha256"], "RecIndex": rows["rec_index"],
        },
        schema=_SCHEMA,
    )  # fmt: skip


def write_csv_timeline(table: pa.Table, dest: Path) -> Path:
    """Write the table as Excel-safe CSV (formula-looking cells neutralised), atomically."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    csvfile.write(table, tmp)
    tmp.replace(dest)
    return dest


def details_config(rulesets: Mapping[str, Mapping[str, Any]]) -> DetailsConfig:
    """Rendering facts from the Hayabusa rule sets a hunt used (read again from their config
    folders when still there: default details and value maps are not part of the run record)."""
    from forensics.hunt.sigma.ruleset import load_ruleset

    aliases: dict[str, str] = {}
    defaults: dict[tuple[str, int], str] = {}
    maps: dict[tuple[str, int], Mapping[str, Mapping[str, str]]] = {}
    for root, rec in sorted(rulesets.items()):
        if rec.get("kind") != "hayabusa":
            continue
        aliases.update(rec.get("field_aliases") or {})
        rs = load_ruleset(Path(root))
        if rs.is_hayabusa:
            aliases.update(rs.field_aliases)
            defaults.update(rs.default_details)
            maps.update(rs.value_maps)
    return DetailsConfig(aliases, defaults, maps)


@dataclass(frozen=True)
class DetailsRenderer:
    """The csv-timeline's Details of one (finding, record), for other outputs (the HTML report)."""

    templates: Mapping[str, str]  # rule id -> its details template (the run's rule report)
    config: DetailsConfig

    def render(self, kind: str, rule_id: str | None, record: Mapping[str, Any]) -> str:
        """Details of ``record`` (an event row, every field by name) as matched by the finding's rule."""
        rid = rule_id if kind in ("sigma", "correlation") and rule_id in self.templates else None
        channel, eid = record.get("channel"), record.get("event_id")
        plan = _plan(rid, self.templates, record.get("provider"), channel, eid, self.config)
        fields = {k: v for k, v in record.items() if v is not None}
        return _details(plan, (fields, _lowered(fields, _reads(plan, self.config))), self.config, channel, eid)


def _reads(plan: _Plan, config: DetailsConfig) -> frozenset[str]:
    """The lower-case field names ``_details`` may look up for ``plan`` (a template's fields and their
    aliases, or our key fields; none when it renders every field)."""
    if plan.template:
        names = {n.lower() for n in template_fields(plan.template)}
        return frozenset(names | {config.aliases[n].lower() for n in names if n in config.aliases})
    return frozenset(n.lower() for n in plan.fields or ())


def _lowered(fields: Mapping[str, Any], wanted: frozenset[str]) -> dict[str, Any]:
    """``{k.lower(): v for k, v in fields.items()}`` limited to the ``wanted`` names (the same value
    for each: a later spelling of a name wins, as there): a record has dozens of fields, a Details
    line reads a few."""
    return {low: v for k, v in fields.items() if (low := k.lower()) in wanted}


def details_renderer(case: Case, run: str | None = None) -> DetailsRenderer:
    """The Details renderer of hunt run ``run`` (None: the latest): its rules' templates and rule sets."""
    run_id = case.resolve_run(run)
    if run_id is None:
        return DetailsRenderer({}, DetailsConfig())
    record = _run_record(case, run_id)
    templates = _rule_templates(case, case.run_dir(run_id) / RUN_FILES["rule_report"])
    return DetailsRenderer(templates, details_config(record.get("sigma_rulesets") or {}))


# The last run record read, by its file's identity: the report and the csv-timeline of one hunt both
# read it (~1 MB of JSON, ~16 ms to parse). A run's files are written once and never changed.
_LAST_RECORD: list[tuple[tuple[str, int, int, int], dict[str, Any]]] = []


def _run_record(case: Case, run_id: str) -> dict[str, Any]:
    """``read_run_record`` of the run, parsed once while its file is the same file (read-only use)."""
    from forensics.hunt.runs import read_run_record

    path = case.run_dir(run_id) / RUN_FILE
    try:
        st = path.stat()
    except OSError:
        return read_run_record(case, run_id)  # says why it cannot be read
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    if _LAST_RECORD and _LAST_RECORD[0][0] == key:
        return _LAST_RECORD[0][1]
    record = read_run_record(case, run_id)
    _LAST_RECORD[:] = [(key, record)]
    return record


def _parquet(path: Path) -> str:
    return "read_parquet('" + str(path.resolve()).replace("'", "''") + "')"


def _hits(
    case: Case, found: Path, located: Path, floor: int, records: str
) -> tuple[dict[str, list[Any]], pa.ChunkedArray]:
    """(finding, record) pairs of a run at or above the level rank, with the event's header, as
    columns (Python values), and their times (Arrow)."""
    sql = f"""
        SELECT r.finding_id, r.input_sha256, r.rec_index, f.kind, f.rule_id, f.title, f.level, f.rule_path,
               e.ts, e.host, e.channel, e.provider, e.event_id, e.record_id, e.input_path, e.input_member
        FROM {_parquet(located)} r
        JOIN {_parquet(found)} f ON f.finding_id = r.finding_id
        JOIN {records} e ON e.input_sha256 = r.input_sha256 AND e.rec_index = r.rec_index
        WHERE f.level_rank >= {int(floor)}
        ORDER BY e.ts NULLS LAST, e.host, e.channel, e.record_id, r.input_sha256, r.rec_index, f.title,
                 f.rule_id, r.finding_id"""
    table = case.con.sql(sql).to_arrow_table()
    return {name: table.column(i).to_pylist() for i, name in enumerate(_HIT) if name != "ts"}, table.column("ts")


def _rule_templates(case: Case, report: Path) -> dict[str, str]:
    """rule id -> its details template, from the run's rule report (none when Sigma did not run)."""
    if not report.is_file():
        return {}
    cols = {r[0] for r in case.con.execute(f"DESCRIBE SELECT * FROM {_parquet(report)}").fetchall()}
    if "details" not in cols:
        return {}
    rows = case.con.execute(
        f"SELECT rule_id, min(details) FROM {_parquet(report)} WHERE details IS NOT NULL "
        "AND rule_id IS NOT NULL GROUP BY rule_id"
    ).fetchall()
    return {str(rid): str(t) for rid, t in rows}


def _plans(templates: Mapping[str, str], hits: Mapping[str, list[Any]], config: DetailsConfig) -> list[_Plan]:
    """Each row's plan: the rule's template, else the rule set's default for the event type, else ours."""
    memo: dict[tuple[Any, ...], _Plan] = {}
    out = []
    for kind, rid, prov, chan, eid in zip(hits["kind"], hits["rule_id"], hits["provider"], hits["channel"],
                                          hits["event_id"], strict=True):  # fmt: skip
        key = (kind in ("sigma", "correlation") and rid in templates and rid, prov, chan, eid)
        plan = memo.get(key)
        if plan is None:
            plan = memo[key] = _plan(key[0] or None, templates, prov, chan, eid, config)
        out.append(plan)
    return out


def _plan(rid: str | None, templates: Mapping[str, str], provider: str | None, channel: str | None,
          eid: int | None, config: DetailsConfig) -> _Plan:  # fmt: skip
    if rid is not None:
        return _Plan(templates[rid])
    if provider is not None and eid is not None:
        default = config.default_details.get((provider, int(eid)))
        if default is not None:
            return _Plan(default)
    return _Plan(None, key_fields(channel, eid))


def _plan_columns(plan: _Plan, columns: Mapping[str, str], config: DetailsConfig) -> list[str]:
    names = template_fields(plan.template) if plan.template else list(plan.fields or ())
    out = []
    for name in names:
        col = columns.get(name.lower()) or columns.get(config.aliases.get(name.lower(), "").lower())
        if col:
            out.append(col)
    return out


Record = tuple[
    dict[str, Any], dict[str, Any]
]  # (fields as the event names them, the same by lower-case name)


def _fetch(
    case: Case, keys: list[tuple[str, int]], cols: list[str] | None, hits: HitRecords | None
) -> dict[tuple[str, int], Record]:
    """The given events' columns (all for None), by key: taken from the hit records when given,
    else one join with the events, never a query per row."""
    if hits is not None:
        got = hits.take(keys, cols)
        found = keys
    else:
        table = pa.table({
            "sha": pa.array([k[0] for k in keys], pa.string()),
            "rec": pa.array([k[1] for k in keys], pa.int64()),
        })  # fmt: skip
        sel = "e.*" if cols is None else ", ".join('e."' + c.replace('"', '""') + '"' for c in cols)
        con = case.con  # not a cursor: the events view's relative paths need this connection's search path
        con.register("_csv_timeline_keys", table)
        try:
            both = con.sql(
                f"SELECT k.sha, k.rec, {sel} FROM _csv_timeline_keys k JOIN events e "
                "ON e.input_sha256 = k.sha AND e.rec_index = k.rec "
                "WHERE e.input_sha256 IN (SELECT DISTINCT sha FROM _csv_timeline_keys)"
            ).to_arrow_table()
        finally:
            con.unregister("_csv_timeline_keys")
        found = list(zip(both.column(0).to_pylist(), both.column(1).to_pylist(), strict=True))
        got = both.select(list(range(2, both.num_columns)))
    out: dict[tuple[str, int], Record] = {}
    for key, fields in zip(found, present_values(got), strict=True):
        out[key] = (fields, {k.lower(): v for k, v in fields.items()})
    return out


def _details(plan: _Plan, rec: Record, config: DetailsConfig, channel: str | None, eid: int | None) -> str:
    fields, low = rec
    if plan.template:
        maps = config.value_maps.get((str(channel), int(eid)), {}) if eid is not None else {}

        def value(name: str, index: int | None) -> Any:
            v = lookup(low, name, index)
            if v is None and name.lower() in config.aliases:
                v = lookup(low, config.aliases[name.lower()], index)
            shown = maps.get(name, {}).get(str(v)) if v is not None and maps else None
            return shown if shown is not None else _text(v)

        return render_template(plan.template, value)
    if plan.fields:  # the key fields' values only (render_fields looks up each by its lower-case name)
        return render_fields(plan.fields, {n: _text(low[n]) for n in {f.lower() for f in plan.fields} if n in low})
    return render_all({k: _text(v) for k, v in fields.items()})


def _text(v: Any) -> Any:
    if isinstance(v, list | dict):
        return json.dumps(v, default=str, ensure_ascii=False)
    return v


def write_case_csv_timeline(
    case: Case,
    run: str | None = None,
    dest: Path | None = None,
    min_level: str | None = None,
    *,
    hits: HitRecords | None = None,
) -> tuple[Path, int]:
    """Write the csv-timeline of hunt run ``run`` (None: the latest; default file
    ``outputs/csv-timeline.csv``); (path, rows).

    ``min_level`` defaults to the run's own (``low`` when it used Hayabusa's rule set), and the
    run's Hayabusa rule sets give the default details and value renderings where still on disk.
    """
    run_id = case.resolve_run(run)
    record = _run_record(case, run_id) if run_id is not None else {}
    level = min_level or str(record.get("min_level") or "informational")
    config = details_config(record.get("sigma_rulesets") or {})
    table = build_csv_timeline(case, run_id, level, config, hits=hits)
    return write_csv_timeline(table, dest or case.root / "outputs" / "csv-timeline.csv"), table.num_rows
