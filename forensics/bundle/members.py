"""The members of an evidence bundle, each rendered to bytes from what ``forensics.bundle.collect`` read.

Every member is deterministic: the same case, run and creation time give the same bytes. A member
that cannot be made fails the export (there is no stand-in timeline, integrity or report page).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import platform
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa

from forensics import __version__
from forensics.bundle import manifest as mf
from forensics.bundle.collect import Collected, jsonable
from forensics.hunt.findings import Finding
from forensics.outputs.csvfile import neutralise
from forensics.raw import RawRecord
from forensics.report import render_report
from forensics.store import Case
from forensics.timeline import build_timeline, write_timeline
from forensics.timeutil import iso_ist, iso_utc

ENV_PACKAGES = (
    "duckdb", "pyarrow", "polars", "evtx", "pysigma", "yara-python", "stix2-patterns", "cryptography", "typer", "orjson",
)  # fmt: skip


def ref_str(sha: str, idx: int) -> str:
    """The record reference string used across the bundle: ``<input sha256>:<rec_index>``."""
    return f"{sha}:{int(idx)}"


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


def findings_dicts(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """``findings/findings.json``: every finding as ``finding_dict``, by id."""
    return [finding_dict(f) for f in sorted(findings, key=lambda f: f.finding_id)]


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


def timeline(case: Case, got: Collected) -> tuple[bytes, bytes, list[tuple[str, int]]]:
    """timeline.csv, timeline.jsonl (Timesketch) and the record refs the timeline names.

    The context timeline of the shared findings, with the integrity assessment already made.
    """
    table = build_timeline(
        case, mode="context", integrity=got.analysis.integrity, findings=got.analysis.findings
    )
    with tempfile.TemporaryDirectory(prefix="forensics-export-") as tmp:
        out_csv, out_jsonl = Path(tmp) / "t.csv", Path(tmp) / "t.jsonl"
        # Timesketch reads JSONL with message / datetime / timestamp_desc, and CSV with the same columns
        write_timeline(_timesketch_columns(table), "csv", out_csv)
        write_timeline(table, "timesketch", out_jsonl)
        csv_b, jsonl_b = out_csv.read_bytes(), out_jsonl.read_bytes()
    refs = [
        (sha, int(idx))
        for sha, idx in zip(
            table.column("input_sha256").to_pylist(), table.column("rec_index").to_pylist(), strict=True
        )
        if sha is not None and idx is not None
    ]
    return csv_b, jsonl_b, refs


def _timesketch_columns(table: pa.Table) -> pa.Table:
    """The timeline with ``datetime`` and ``timestamp_desc`` first, as Timesketch's CSV import wants."""
    names = table.column_names
    stamps = [
        iso_utc(t).replace("Z", "+00:00") if t is not None else None for t in table.column("ts").to_pylist()
    ]
    desc = [
        "Finding First Seen" if k == "finding" else "Event Recorded"
        for k in table.column("row_type").to_pylist()
    ]
    front = pa.table(
        {"datetime": pa.array(stamps, pa.string()), "timestamp_desc": pa.array(desc, pa.string())}
    )
    return pa.Table.from_arrays([*front.columns, *table.columns], names=[*front.column_names, *names])


def report_html(case: Case, got: Collected) -> bytes:
    """The HTML report of the shared findings, with the integrity assessment and story already made."""
    a = got.analysis
    return render_report(case, findings=a.findings, integrity=a.integrity, story=a.story, run=a.run).encode(
        "utf-8"
    )


def integrity_json(got: Collected) -> bytes:
    """``integrity.json``: the integrity assessment of the case."""
    return mf.pretty(jsonable(got.analysis.integrity.to_dict()))


def records_jsonl(
    refs: Sequence[tuple[str, int]], got: dict[tuple[str, int], RawRecord | str], sources: dict[str, dict[str, Any]],
    parsed: dict[tuple[str, int], dict[str, Any]],
) -> tuple[bytes, list[str]]:  # fmt: skip
    """``records/matched_records.jsonl`` and notes on records whose raw form was not available.

    A record whose original cannot be read now is kept as its parsed row, marked
    ``kind: parsed_row`` with the reason, and counted in a note — never passed off as raw.
    """
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
            row = parsed.get((sha, idx), {})
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


def environment(created: datetime) -> dict[str, Any]:
    """Tool and dependency versions, platform and time zone the bundle was made with."""
    pkgs: dict[str, str | None] = {}
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


def commands(got: Collected, export_step: dict[str, Any]) -> bytes:
    """``provenance/commands.jsonl``: steps the custody log recorded, the pinned run's record, this export."""
    lines = []
    for e in got.custody:
        if e.get("command"):
            lines.append({"step": e.get("action"), "argv": e["command"], "time_utc": e.get("time_utc"),
                          "tool": e.get("tool"), "tool_version": e.get("tool_version"), "notes": e.get("notes"),
                          "custody_seq": e.get("seq")})  # fmt: skip
    if got.run_record is not None:
        lines.append({"step": "hunt", "run": got.run_record})
    lines.append(export_step)
    return b"".join(mf.canonical(x) + b"\n" for x in lines)
