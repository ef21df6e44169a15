"""Build the evidence bundle: a deterministic zip of records, findings, timeline, report,
certificates, provenance and the custody log, with MANIFEST.json, hash lists and a signature.

Determinism: every member's bytes depend only on the case and the inputs given here (the
creation time is one of them); members are written in sorted order with fixed zip metadata
(date_time from the creation time, mode 0644, Unix create_system, no extra fields), so two
exports of one case with the same pinned time are byte-identical.

The custody log in the bundle is the case's log up to its last entry that is not an export:
the export's own entry names the finished bundle's SHA-256 (a file cannot contain its own
hash), so it is appended to the case log after the zip is written.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import platform
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from forensics import __version__
from forensics.bundle import manifest as mf
from forensics.bundle.casefile import CaseDetails, tlp_rank
from forensics.bundle.certificates import render_part_a, render_part_b, statute_for
from forensics.bundle.certin import render_certin
from forensics.bundle.signing import fingerprint, load_private, sign_manifest
from forensics.bundle.verify_md import render_verify_md
from forensics.custody import append_entry, read_chain, sources_without_custody, verify_chain
from forensics.hunt.findings import Finding
from forensics.hunt.findings import read_findings as read_case_findings
from forensics.outputs.csvfile import neutralise
from forensics.raw import RawRecord, extract_records
from forensics.store import Case
from forensics.timeutil import iso_ist, iso_utc, now_utc

ENV_PACKAGES = (
    "duckdb", "pyarrow", "polars", "evtx", "pysigma", "yara-python", "stix2", "cryptography", "typer", "orjson",
)  # fmt: skip
ZIP_MODE = 0o100644  # regular file, rw-r--r--


@dataclass
class ExportResult:
    """What an export wrote."""

    path: Path
    sha256: str
    manifest_sha256: str
    bundle_id: str
    fingerprint: str | None
    files: int
    records: int
    findings: int
    withheld_findings: int
    notes: list[str] = field(default_factory=list)
    custody_entry: dict[str, Any] | None = None


# ---- reading the case --------------------------------------------------------------------


def _has_view(case: Case, name: str) -> bool:
    row = case.con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT internal", [name]
    ).fetchone()
    return bool(row and row[0])


def ensure_views(case: Case) -> None:
    """Views over the case's findings files as they are now, whatever the catalogue last saw.

    A read-only connection cannot refresh the saved views, and a hunt may have written its
    files without refreshing them, so temporary views (this connection only) read the files.
    """
    from forensics.store import OPTIONAL_VIEWS

    for name, rel in OPTIONAL_VIEWS.items():
        if (case.root / rel).is_file():
            case.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet('{rel}')")


def _rows(case: Case, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = case.con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return iso_utc(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    return v


def read_sources(case: Case) -> list[dict[str, Any]]:
    """Every input of the case as a manifest source (evidence id, path, host, acquisition hashes)."""
    # SELECT *: a case made before inputs had a context column is read as it is
    rows = _rows(case, "SELECT * FROM inputs ORDER BY path, member NULLS FIRST, sha256")
    images = _image_provenance(case)
    out = []
    for r in rows:
        sha = r["sha256"]
        out.append(
            {
                "evidence_id": f"EV-{sha[:12]}" if sha else None,
                "original_path": r["path"],
                "member": r["member"],
                "host": r["host"],
                "acquired_utc": iso_utc(r["ingested_at"]) if r["ingested_at"] else None,
                "acquired_ist": iso_ist(r["ingested_at"]) if r["ingested_at"] else None,
                "acquisition_sha256": sha,
                "acquisition_md5": r["md5"],
                "size": r["size"],
                "parser": r["parser"],
                "rows": r["rows"],
                "rejects": r["rejects"],
                "status": r["status"],
                "error": r["error"],
                "tool_version": r["tool_version"],
                # zone, year, host and mtime it was parsed with (forensics.ingest.context), for a replay
                "context": json.loads(r["context"]) if r.get("context") else None,
            }
        )
        if (r["path"], r["member"]) in images:  # read from a disk image: the chain down to the image
            out[-1]["image"] = images[(r["path"], r["member"])]
    return out


def _image_provenance(case: Case) -> dict[tuple[str, str], dict[str, Any]]:
    """For inputs read from disk images: the image's hashes and check, volume, path, inode, flags."""
    tables = {r[0] for r in case.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if not {"images", "image_files"} <= tables:
        return {}
    rows = _rows(
        case,
        "SELECT f.image_path, f.member, i.kind, i.file_sha256 AS image_sha256, i.media_md5, i.media_sha1, "
        "i.acquisition_md5, i.acquisition_sha1, i.verification, f.volume, f.fs_type, f.fs_path, f.inode, "
        "f.deleted, f.damaged, f.bad_ranges FROM image_files f JOIN images i ON i.path = f.image_path",
    )
    return {(r.pop("image_path"), r.pop("member")): _jsonable(r) for r in rows}


def finding_dict(f: Finding) -> dict[str, Any]:
    """A finding as ``findings/findings.json`` holds it: its columns, UTC/IST times, the rule, its record refs."""
    return {
        "finding_id": f.finding_id, "kind": f.kind, "rule_id": f.rule_id, "title": f.title, "level": f.level,
        "level_rank": f.rank, "attack": list(f.attack), "tactics": list(f.tactics), "host": f.host,
        "record_count": len(f.records), "summary": f.summary, "rule_path": f.rule_path,
        "rule_sha256": f.rule_sha256, "tlp": f.tlp, "details": f.details,
        "first_utc": iso_utc(f.first_ts) if f.first_ts else None,
        "first_ist": iso_ist(f.first_ts) if f.first_ts else None,
        "last_utc": iso_utc(f.last_ts) if f.last_ts else None,
        "last_ist": iso_ist(f.last_ts) if f.last_ts else None,
        "severity": f.level,
        "rule": {"id": f.rule_id, "title": f.title, "source": f.rule_path, "sha256": f.rule_sha256, "kind": f.kind},
        "records": [
            {"input_sha256": r.input_sha256, "rec_index": r.rec_index, "ref": ref_str(r.input_sha256, r.rec_index)}
            for r in f.records
        ],
    }  # fmt: skip


def read_findings(case: Case, run: str | None = None) -> list[dict[str, Any]]:
    """Findings of hunt run ``run`` (None: the latest) as bundle dicts, by id (empty when no hunt ran)."""
    return [finding_dict(f) for f in sorted(read_case_findings(case, run), key=lambda f: f.finding_id)]


def ref_str(sha: str, idx: int) -> str:
    """The record reference string used across the bundle: ``<input sha256>:<rec_index>``."""
    return f"{sha}:{int(idx)}"


def read_iocs(case: Case) -> list[dict[str, Any]]:
    """The case's IOC table as dicts (empty when none was loaded)."""
    if not _has_view(case, "iocs"):
        return []
    return [{k: _jsonable(v) for k, v in r.items()} for r in _rows(case, "SELECT * FROM iocs")]


def is_red(tlp: Any) -> bool:
    """True for TLP:RED (any spelling)."""
    return isinstance(tlp, str) and tlp.strip().upper().removeprefix("TLP:") == "RED"


# ---- pieces ------------------------------------------------------------------------------


def records_jsonl(
    refs: Sequence[tuple[str, int]], got: dict[tuple[str, int], RawRecord | str], sources: dict[str, dict[str, Any]],
    fallback: dict[tuple[str, int], dict[str, Any]],
) -> tuple[bytes, list[str]]:  # fmt: skip
    """``records/matched_records.jsonl`` and notes on records whose raw form was not available."""
    lines: list[bytes] = []
    notes: list[str] = []
    missing: dict[tuple[str, str], int] = {}
    for sha, idx in sorted(set(refs)):
        src = sources.get(sha, {})
        rec = got.get((sha, idx), "not extracted")
        base = {
            "ref": ref_str(sha, idx),
            "input_sha256": sha,
            "rec_index": idx,
            "source_path": src.get("original_path"),
            "source_member": src.get("member"),
            "parser": src.get("parser"),
        }
        if isinstance(rec, RawRecord):
            data = rec.data
            base.update(
                kind=rec.kind, record_id=rec.record_id, rec_offset=rec.rec_offset, rec_line=rec.rec_line
            )
            if rec.json is not None:
                base["json"] = rec.json
                base["json_sha256"] = hashlib.sha256(rec.json.encode("utf-8")).hexdigest()
        else:
            # the original could not be read now: keep the parsed row, say so, never pretend it is raw
            row = fallback.get((sha, idx), {})
            data = mf.canonical(row)
            base.update(kind="parsed_row", raw_unavailable=rec, record_id=row.get("record_id"))
            key = (str(src.get("original_path") or sha), rec)
            missing[key] = missing.get(key, 0) + 1
        try:
            base.update(encoding="utf-8", raw=data.decode("utf-8"))
        except UnicodeDecodeError:
            base.update(encoding="base64", raw=base64.b64encode(data).decode("ascii"))
        base["record_sha256"] = hashlib.sha256(data).hexdigest()
        lines.append(mf.canonical(base) + b"\n")
    for (where, why), n in sorted(missing.items()):
        notes.append(
            f"{n} record(s) of {where}: raw record unavailable ({why}); the parsed rows are included instead"
        )
    return b"".join(lines), notes


def parsed_rows(case: Case, refs: Sequence[tuple[str, int]]) -> dict[tuple[str, int], dict[str, Any]]:
    """The events rows for refs, as JSON-ready dicts with null columns dropped."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    if not refs:
        return out
    keys = sorted({f"{s}:{i}" for s, i in refs})
    for r in _rows(
        case,
        "SELECT * FROM events WHERE input_sha256 || ':' || CAST(rec_index AS VARCHAR) IN (SELECT unnest(?::VARCHAR[]))",
        [keys],
    ):
        out[(r["input_sha256"], int(r["rec_index"]))] = {
            k: _jsonable(v) for k, v in r.items() if v is not None
        }
    return out


def findings_csv(findings: list[dict[str, Any]]) -> bytes:
    """A flat CSV view of findings.json (one row per finding, refs joined by spaces)."""
    cols = ["finding_id", "kind", "rule_id", "title", "level", "host", "first_utc", "first_ist", "last_utc",
            "last_ist", "attack", "tactics", "tlp", "rule_path", "rule_sha256", "summary", "records"]  # fmt: skip
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for f in findings:
        row = []
        for c in cols:
            v = f.get(c)
            if c == "records":
                v = " ".join(r["ref"] for r in f.get("records", []))
            elif isinstance(v, list):
                v = ";".join(str(x) for x in v)
            row.append("" if v is None else neutralise(v) if isinstance(v, str) else v)  # inert in Excel
        w.writerow(row)
    return buf.getvalue().encode("utf-8")


def environment(created: datetime) -> dict[str, Any]:
    """Tool and dependency versions, platform and time zone the bundle was made with."""
    pkgs = {}
    for name in ENV_PACKAGES:
        try:
            pkgs[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pkgs[name] = None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": pkgs,
        "tool": {"name": "forensics", "version": __version__, "commit": tool_commit()},
        "time_zone_inside": "UTC (times also shown in IST, UTC+05:30)",
    }


def tool_commit() -> str | None:
    """The git commit of the tool's source tree, when it runs from a checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        res = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() or None if res.returncode == 0 else None


def custody_for_bundle(case_root: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The case's custody entries up to the last one that is not an export, plus problems."""
    entries = read_chain(case_root)
    problems = verify_chain(entries)
    end = len(entries)
    while end and entries[end - 1].get("action") == "exported":
        end -= 1
    return entries[:end], problems


def commands(entries: list[dict[str, Any]], case_root: Path, export_step: dict[str, Any]) -> bytes:
    """``provenance/commands.jsonl``: steps the custody log recorded, the hunt's run file, this export."""
    lines = []
    for e in entries:
        if e.get("command"):
            lines.append({"step": e.get("action"), "argv": e["command"], "time_utc": e.get("time_utc"),
                          "tool": e.get("tool"), "tool_version": e.get("tool_version"), "notes": e.get("notes"),
                          "custody_seq": e.get("seq")})  # fmt: skip
    run, problem = run_record(case_root)
    if run is not None:
        lines.append({"step": "hunt", "run": run})
    elif problem:
        lines.append({"step": "hunt", "error": problem})
    lines.append(export_step)
    return b"".join(mf.canonical(x) + b"\n" for x in lines)


def run_record(case_root: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The hunt's ``findings/run.json`` (None when no hunt wrote one) and why it could not be read."""
    run = case_root / "findings" / "run.json"
    if not run.is_file():
        return None, None
    try:
        data = json.loads(run.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"findings/run.json unreadable: {exc}"
    if not isinstance(data, dict):
        return None, "findings/run.json is not a JSON object"
    return data, None


def _wanted_rules(case: Case, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The files to keep: every file the hunt's run.json lists (with its kind), else the findings' rule files."""
    run, _ = run_record(case.root)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if run is not None and isinstance(run.get("files"), list):
        for item in run["files"]:
            if isinstance(item, dict) and item.get("path"):
                entry = {
                    "path": str(item["path"]),
                    "recorded_sha256": item.get("sha256"),
                    "kind": item.get("kind"),
                }
                entry.update({k: item[k] for k in ("root", "rel") if item.get(k) is not None})
                out.setdefault((str(item.get("kind")), entry["path"]), entry)
        return list(out.values())
    for f in findings:  # a case hunted before run.json existed: the findings name their rule files
        if f.get("rule_path"):
            key = (str(f.get("kind")), str(f["rule_path"]))
            out.setdefault(
                key, {"path": key[1], "recorded_sha256": f.get("rule_sha256"), "kind": f.get("kind")}
            )
    return sorted(out.values(), key=lambda e: e["path"])


def _locate_rule(case: Case, path: str) -> Path | None:
    """Where a recorded rule file is now: absolute, relative to the hunt's folder, the case, or here."""
    p = Path(path)
    if p.is_absolute():
        return p if p.is_file() else None
    run, _ = run_record(case.root)
    bases = [Path(str(run["cwd"]))] if run and run.get("cwd") else []
    for base in [*bases, case.root, Path.cwd()]:
        if (base / p).is_file():
            return base / p
    return None


def _red_sources(case: Case) -> set[str]:
    """IOC documents that gave at least one TLP:RED indicator (their copies would leak it)."""
    if not _has_view(case, "iocs"):
        return set()
    rows = _rows(case, "SELECT DISTINCT source, tlp FROM iocs WHERE tlp IS NOT NULL")
    return {str(r["source"]) for r in rows if is_red(r["tlp"])}


def rule_files(
    case: Case, findings: list[dict[str, Any]], *, red_ok: bool = False
) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """Copies of the rule / IOC files the hunt used (when unchanged) and an index with their status.

    The index (``provenance/rules/RULES.json``) keeps the hunt's order and each file's kind,
    which ``verify --reproduce`` needs to re-run the hunt. An IOC document holding TLP:RED
    indicators is not copied into a bundle marked wider than TLP:RED (``red_ok`` False).
    """
    members: dict[str, bytes] = {}
    index = []
    red = set() if red_ok else _red_sources(case)
    for entry in _wanted_rules(case, findings):
        path, recorded = entry["path"], entry["recorded_sha256"]
        p = _locate_rule(case, path)
        if entry.get("kind") == "ioc" and path in red:
            entry["status"] = "withheld: holds TLP:RED indicators and the bundle is marked wider"
        elif p is None:
            entry["status"] = "missing: the file is no longer where the hunt read it"
        else:
            data = p.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            entry["sha256"] = sha
            if recorded and sha != recorded:
                entry["status"] = "changed since the hunt: not included"
            else:
                name = f"{mf.RULES_DIR}{sha[:12]}-{Path(path).name}"
                members[name] = data
                entry.update(status="included", member=name)
        index.append(entry)
    return members, index


def fallback_integrity(case: Case) -> dict[str, Any]:
    """Cleared-log events per host when ``forensics.integrity`` is not available."""
    rows = _rows(
        case,
        "SELECT host, channel, event_id, min(ts) AS first, count(*) AS n FROM events "
        "WHERE (event_id = 1102 AND channel = 'Security') OR (event_id = 104 AND channel = 'System') "
        "GROUP BY ALL ORDER BY ALL",
    )
    return {
        "clearings": [_jsonable(r) for r in rows],
        "clock_offsets_s": {},
        "note": "integrity module absent",
    }


def integrity(case: Case, notes: list[str]) -> dict[str, Any]:
    """``forensics.integrity.assess`` as a dict, or a minimal fallback with a note."""
    try:
        from forensics.integrity import assess

        return _jsonable(assess(case).to_dict())
    except Exception as exc:  # another engineer's module: absent or failing must not stop the export
        notes.append(
            f"integrity assessment unavailable ({type(exc).__name__}: {exc}); cleared logs listed only"
        )
        return fallback_integrity(case)


def timeline(
    case: Case, findings: list[dict[str, Any]], notes: list[str]
) -> tuple[bytes, bytes, list[tuple[str, int]]]:
    """timeline.csv, timeline.jsonl and the record refs the timeline names."""
    try:
        from forensics.timeline import build_timeline, write_timeline

        table = build_timeline(case, mode="context")
        return _write_real_timeline(table, write_timeline, findings)
    except Exception as exc:  # another engineer's module: fall back to a timeline of the matched records
        notes.append(
            f"timeline module unavailable ({type(exc).__name__}: {exc}); timeline lists matched records only"
        )
    return _fallback_timeline(case, findings)


def _write_real_timeline(table: Any, write_timeline: Any, findings: list[dict[str, Any]]) -> tuple[bytes, bytes, list[tuple[str, int]]]:  # fmt: skip
    import tempfile

    table = _drop_withheld_rows(table, {f["finding_id"] for f in findings if f.get("_withheld")})
    with tempfile.TemporaryDirectory(prefix="forensics-export-") as tmp:
        out_csv, out_jsonl = Path(tmp) / "t.csv", Path(tmp) / "t.jsonl"
        # Timesketch reads JSONL with message / datetime / timestamp_desc, and CSV with the same columns
        write_timeline(_timesketch_columns(table), "csv", out_csv)
        write_timeline(table, "timesketch", out_jsonl)
        csv_b, jsonl_b = out_csv.read_bytes(), out_jsonl.read_bytes()
    names = set(table.column_names)
    refs: list[tuple[str, int]] = []
    if {"input_sha256", "rec_index"} <= names:
        for sha, idx in zip(
            table.column("input_sha256").to_pylist(), table.column("rec_index").to_pylist(), strict=True
        ):
            if sha is not None and idx is not None:
                refs.append((sha, int(idx)))
    return csv_b, jsonl_b, refs


def _timesketch_columns(table: Any) -> Any:
    """The timeline with ``datetime`` and ``timestamp_desc`` first, as Timesketch's CSV import wants."""
    import pyarrow as pa

    names = table.column_names
    if "datetime" in names or "ts" not in names:
        return table
    stamps = [
        iso_utc(t).replace("Z", "+00:00") if t is not None else None for t in table.column("ts").to_pylist()
    ]
    kinds = table.column("row_type").to_pylist() if "row_type" in names else ["event"] * table.num_rows
    desc = ["Finding First Seen" if k == "finding" else "Event Recorded" for k in kinds]
    front = pa.table(
        {"datetime": pa.array(stamps, pa.string()), "timestamp_desc": pa.array(desc, pa.string())}
    )
    return pa.Table.from_arrays([*front.columns, *table.columns], names=[*front.column_names, *names])


def _drop_withheld_rows(table: Any, withheld: set[str]) -> Any:
    """Rows of a timeline that name a withheld (TLP:RED) finding are left out."""
    if not withheld:
        return table
    import pyarrow as pa

    cols = [c for c in table.column_names if "finding" in c.lower()]
    if not cols:
        return table
    keep = []
    for i in range(table.num_rows):
        text = " ".join(str(table.column(c)[i].as_py()) for c in cols)
        keep.append(not any(w in text for w in withheld))
    return table.filter(pa.array(keep))


TIMELINE_COLUMNS = (
    "datetime", "timestamp_desc", "message", "datetime_ist", "host", "source", "channel", "event_id",
    "ts_raw", "ts_zone", "ts_assumed", "clock_offset_s", "record_ref", "input_sha256", "rec_index", "finding_ids",
)  # fmt: skip


def _fallback_timeline(
    case: Case, findings: list[dict[str, Any]]
) -> tuple[bytes, bytes, list[tuple[str, int]]]:
    by_ref: dict[tuple[str, int], list[str]] = {}
    for f in findings:
        for r in f.get("records", []):
            by_ref.setdefault((r["input_sha256"], r["rec_index"]), []).append(f["finding_id"])
    rows_by_ref = parsed_rows(case, list(by_ref))
    rows = []
    for key in sorted(by_ref, key=lambda k: (rows_by_ref.get(k, {}).get("ts") or "", k)):
        ev = rows_by_ref.get(key, {})
        ts = ev.get("ts")
        dt = datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None
        rows.append({
            "datetime": ts, "timestamp_desc": "Event Recorded",
            "message": ev.get("message") or f"{ev.get('channel')} {ev.get('event_id')}",
            "datetime_ist": iso_ist(dt) if dt else None, "host": ev.get("host"), "source": ev.get("source"),
            "channel": ev.get("channel"), "event_id": ev.get("event_id"), "ts_raw": ev.get("ts_raw"),
            "ts_zone": ev.get("ts_zone"), "ts_assumed": ev.get("ts_assumed"), "clock_offset_s": 0.0,
            "record_ref": ref_str(*key), "input_sha256": key[0], "rec_index": key[1],
            "finding_ids": " ".join(sorted(set(by_ref[key]))),
        })  # fmt: skip
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(TIMELINE_COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r[k] is None else neutralise(r[k]) if isinstance(r[k], str) else r[k]
                    for k in TIMELINE_COLUMNS})  # fmt: skip
    jsonl = b"".join(mf.canonical(r) + b"\n" for r in rows)
    return buf.getvalue().encode("utf-8"), jsonl, list(by_ref)


def report_html(
    case: Case, details: CaseDetails, findings: list[dict[str, Any]], withheld: bool, notes: list[str]
) -> bytes:
    """The HTML report from ``forensics.report``, or a minimal self-contained one with a note."""
    if withheld:
        # the report module renders every finding of the case, TLP:RED ones included
        notes.append(
            "the full HTML report would show TLP:RED findings: a minimal report of the shared findings is included"
        )
    else:
        try:
            from forensics.report import render_report

            return render_report(case).encode("utf-8")
        except Exception as exc:  # another engineer's module
            notes.append(
                f"report module unavailable ({type(exc).__name__}: {exc}); a minimal report is included"
            )
    from html import escape

    rows = "".join(
        f"<tr><td>{escape(str(f.get('first_utc')))}<br>{escape(str(f.get('first_ist')))}</td>"
        f"<td>{escape(str(f.get('level')))}</td><td>{escape(str(f.get('title')))}</td>"
        f"<td>{escape(str(f.get('host')))}</td><td>{len(f.get('records', []))}</td></tr>"
        for f in findings
    )
    html = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Findings</title></head><body>"
        f"<h1>Findings: FIR {escape(details.fir_number or '-')}</h1>"
        "<table border='1'><tr><th>first (UTC / IST)</th><th>level</th><th>title</th><th>host</th><th>records</th></tr>"
        f"{rows}</table></body></html>\n"
    )
    return html.encode("utf-8")


# ---- assembling --------------------------------------------------------------------------


def zip_bytes(members: dict[str, bytes], created: datetime) -> bytes:
    """The members as a zip with fixed order and metadata (so equal inputs give equal bytes)."""
    stamp = created.astimezone(UTC)
    date_time = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode below means what it says
            info.external_attr = ZIP_MODE << 16
            info.extra = b""
            zf.writestr(info, members[name], compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buf.getvalue()


def export_bundle(
    case_dir: Path,
    out: Path,
    details: CaseDetails,
    *,
    created: datetime | None = None,
    key_path: Path | None = None,
    search: Sequence[Path] = (),
    record_custody: bool = True,
) -> ExportResult:
    """Write the evidence bundle for the case at ``case_dir`` to ``out`` (a .zip)."""
    created = (created or now_utc()).astimezone(UTC)
    key = load_private(key_path) if key_path else None
    fp = fingerprint(key.public_key()) if key else None
    case_root = Path(case_dir)
    case = Case.open(case_root, read_only=True)
    try:
        ensure_views(case)
        members, manifest, stats = _build(case, details, created, fp, search)
    finally:
        case.close()
    manifest_bytes = mf.pretty(manifest)
    members[mf.MANIFEST] = manifest_bytes
    if key is not None:
        members[mf.SIGNATURE] = sign_manifest(manifest_bytes, key)
    data = zip_bytes(members, created)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    result = ExportResult(
        out, hashlib.sha256(data).hexdigest(), hashlib.sha256(manifest_bytes).hexdigest(), manifest["bundle_id"], fp,
        len(members), stats["records"], stats["findings"], stats["withheld"], list(manifest["notes"]),
    )  # fmt: skip
    if record_custody:
        result.custody_entry = append_entry(
            case_root, "exported", person=details.operator, purpose="evidence bundle for " + (details.agency or "the investigating agency"),
            evidence_ids=[s["evidence_id"] for s in manifest["sources"] if s["evidence_id"]],
            item_hashes={"bundle.zip": result.sha256, mf.MANIFEST: result.manifest_sha256},
            notes=f"bundle {result.bundle_id} written to {out}; signer {fp or 'unsigned'}; custody head in bundle "
            f"{manifest['custody']['head']}",
        )  # fmt: skip
    return result


def _build(
    case: Case, details: CaseDetails, created: datetime, fp: str | None, search: Sequence[Path]
) -> tuple[dict[str, bytes], dict[str, Any], dict[str, int]]:
    notes: list[str] = []
    sources = read_sources(case)
    by_sha = {s["acquisition_sha256"]: s for s in sources if s["acquisition_sha256"]}
    findings, withheld = _tlp_filter(read_findings(case), details)
    iocs = read_iocs(case)
    shared_iocs = [i for i in iocs if details.tlp_is_red or not is_red(i.get("tlp"))]
    if withheld or len(shared_iocs) < len(iocs):
        notes.append(
            f"bundle is {details.tlp}: {len(withheld)} finding(s) and {len(iocs) - len(shared_iocs)} indicator(s) "
            "marked TLP:RED are left out, with the records only they referenced"
        )
    tl_csv, tl_jsonl, tl_refs = timeline(case, findings + [{**w, "_withheld": True} for w in withheld], notes)
    refs = sorted(
        {(r["input_sha256"], r["rec_index"]) for f in findings for r in f["records"]} | set(tl_refs)
    )
    got = extract_records(case, refs, search)
    records, rec_notes = records_jsonl(
        refs, got, by_sha, parsed_rows(case, [k for k, v in got.items() if isinstance(v, str)])
    )
    notes.extend(rec_notes)
    integ = integrity(case, notes)
    chain, chain_problems = custody_for_bundle(case.root)
    notes.extend(f"custody log problem: {p}" for p in chain_problems)
    uncovered = sources_without_custody(sources, chain)
    if uncovered:
        notes.append(
            f"{len(uncovered)} input(s) are hashed in no custody entry ({', '.join(uncovered[:3])}"
            f"{' …' if len(uncovered) > 3 else ''}): `verify` fails its custody check for them; record how "
            "they were received with `forensics custody CASE add --hash ITEM=SHA256 ...` and export again"
        )
    rules, rules_index = rule_files(case, findings, red_ok=details.tlp_is_red)
    statute = statute_for(details.proceeding_date)
    export_step = {"step": "export", "time_utc": iso_utc(created), "tool_version": __version__,
                   "options": details.to_dict(), "signer": fp}  # fmt: skip
    facts = {
        "details": details, "created": created, "sources": sources, "findings": findings, "iocs": shared_iocs,
        "integrity": integ, "records": len(refs), "statute": statute, "fingerprint": fp, "custody": chain,
        "hosts": _hosts(case), "os": _os_by_host(case),
    }  # fmt: skip
    members: dict[str, bytes] = {
        mf.CUSTODY: b"".join(mf.canonical(e) + b"\n" for e in chain),
        mf.COMMANDS: commands(chain, case.root, export_step),
        mf.ENVIRONMENT: mf.pretty(environment(created)),
        mf.RULES_INDEX: mf.pretty(rules_index),
        mf.INTEGRITY: mf.pretty(integ),
        mf.RECORDS: records,
        mf.FINDINGS_JSON: mf.pretty(findings),
        mf.FINDINGS_CSV: findings_csv(findings),
        mf.TIMELINE_CSV: tl_csv,
        mf.TIMELINE_JSONL: tl_jsonl,
        mf.REPORT_HTML: report_html(
            case, details, findings, bool(withheld) or len(shared_iocs) < len(iocs), notes
        ),
        mf.CERT_A: render_part_a(facts).encode("utf-8"),
        mf.CERT_B: render_part_b(facts).encode("utf-8"),
        mf.CERTIN: render_certin(facts).encode("utf-8"),
        mf.VERIFY_MD: render_verify_md(fp, details).encode("utf-8"),
        **rules,
    }
    if shared_iocs:
        members["findings/iocs.json"] = mf.pretty(shared_iocs)
    members[mf.SHA256SUMS] = mf.sums_text(members, "sha256")
    members[mf.MD5SUMS] = mf.sums_text(members, "md5")
    files = [mf.file_entry(p, members[p]).to_dict() for p in sorted(members)]
    manifest = _manifest(
        details, created, fp, files, chain, sources, withheld, len(iocs) - len(shared_iocs), notes
    )
    manifest["statute"] = statute
    return members, manifest, {"records": len(refs), "findings": len(findings), "withheld": len(withheld)}


def _manifest(
    details: CaseDetails, created: datetime, fp: str | None, files: list[dict[str, Any]], chain: list[dict[str, Any]],
    sources: list[dict[str, Any]], withheld: list[dict[str, Any]], withheld_iocs: int, notes: list[str],
) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "schema_version": mf.SCHEMA_VERSION,
        "case": details.to_dict(),
        "created": {"utc": iso_utc(created), "ist": iso_ist(created)},
        "operator": details.operator,
        "tool": {"name": "forensics", "version": __version__, "commit": tool_commit()},
        "environment": {
            k: v for k, v in environment(created).items() if k in ("python", "platform", "packages")
        },
        "signer": {"algorithm": "Ed25519", "fingerprint": fp} if fp else None,
        "custody": {
            "file": mf.CUSTODY,
            "entries": len(chain),
            "head": chain[-1]["entry_sha256"] if chain else "0" * 64,
        },
        "sources": sources,
        "tlp": {
            "bundle": details.tlp,
            "withheld_findings": len(withheld),
            "withheld_indicators": withheld_iocs,
            "note": "TLP:RED indicators and their hits are left out of a bundle marked wider than TLP:RED"
            if not details.tlp_is_red
            else "bundle is TLP:RED: nothing withheld",
        },
        "notes": sorted(set(notes)),
        "files": files,
    }
    body["bundle_id"] = "FB-" + hashlib.sha256(mf.canonical(body)).hexdigest()[:24]
    return body


def _tlp_filter(
    findings: list[dict[str, Any]], details: CaseDetails
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if details.tlp_is_red:
        return findings, []
    keep = [f for f in findings if not is_red(f.get("tlp"))]
    return keep, [f for f in findings if is_red(f.get("tlp"))]


def _hosts(case: Case) -> list[dict[str, Any]]:
    return [
        _jsonable(r)
        for r in _rows(
            case,
            "SELECT host, source, count(*) AS events, min(ts) AS first, max(ts) AS last FROM events "
            "WHERE host IS NOT NULL GROUP BY ALL ORDER BY host, source",
        )
    ]


_OS_BY_SOURCE = {"evtx": "Windows", "winxml": "Windows", "evtxjson": "Windows", "syslog": "Linux", "auditd": "Linux",
                 "journald": "Linux", "linux_auth": "Linux"}  # fmt: skip


def _os_by_host(case: Case) -> dict[str, str]:
    out: dict[str, set[str]] = {}
    for r in _rows(case, "SELECT DISTINCT host, source FROM events WHERE host IS NOT NULL ORDER BY ALL"):
        out.setdefault(r["host"], set()).add(_OS_BY_SOURCE.get(r["source"], f"unknown ({r['source']} logs)"))
    return {h: " / ".join(sorted(v)) for h, v in sorted(out.items())}


__all__ = ["ExportResult", "export_bundle", "tlp_rank"]
