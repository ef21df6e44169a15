"""Collecting a bundle's contents from the case: one hunt run, its sources, custody and rule files.

Everything here reads (the case, the custody log, the rule files where the hunt read them); the
members are rendered by ``forensics.bundle.members`` and assembled by ``forensics.bundle.export``.
A part that cannot be read fails the export with the reason — the bundle never carries a
degraded stand-in for it.

The bundle pins one hunt run (the latest unless another is asked for): its findings, IOC table
and ``run.json`` — what ``verify --reproduce`` re-runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from forensics import shipped
from forensics.bundle import manifest as mf
from forensics.bundle.casefile import CaseDetails
from forensics.case_outputs import Analysis, analyse
from forensics.custody import read_chain, verify_chain
from forensics.errors import BundleError
from forensics.hunt.findings import Finding, read_findings
from forensics.hunt.runs import read_run_record, sha256_file
from forensics.store import RUN_FILE, RUN_FILES, Case
from forensics.timeutil import iso_ist, iso_utc

_OS_BY_SOURCE = {"evtx": "Windows", "winxml": "Windows", "evtxjson": "Windows", "syslog": "Linux", "auditd": "Linux",
                 "journald": "Linux", "linux_auth": "Linux"}  # fmt: skip


@dataclass(frozen=True)
class Collected:
    """What a bundle is made of, read from the case once."""

    run: str | None  # the hunt run the bundle pins (None: the case was never hunted)
    run_record: dict[str, Any] | None  # its run.json
    run_record_sha256: str | None
    sources: list[dict[str, Any]]
    findings: list[Finding]  # shared: TLP:RED ones left out of a bundle marked wider
    withheld: list[Finding]
    iocs: list[dict[str, Any]]  # shared indicators
    withheld_iocs: int
    analysis: Analysis  # integrity and story of the shared findings, computed once
    custody: list[dict[str, Any]]  # the case's entries up to the last one that is not an export
    custody_problems: list[str]
    hosts: list[dict[str, Any]]
    os_by_host: dict[str, str]


def collect(case: Case, details: CaseDetails, run: str | None = None) -> Collected:
    """Read everything the bundle of hunt run ``run`` (None: the latest) of the case needs."""
    run_id = case.resolve_run(run)
    record = read_run_record(case, run_id) if run_id is not None else None
    record_sha = (
        sha256_file(case.run_dir(run_id) / RUN_FILE) if record is not None and run_id is not None else None
    )
    every = read_findings(case, run_id)
    findings = [f for f in every if details.tlp_is_red or not is_red(f.tlp)]
    withheld = [f for f in every if not details.tlp_is_red and is_red(f.tlp)]
    iocs = read_iocs(case, run_id)
    shared = [i for i in iocs if details.tlp_is_red or not is_red(i.get("tlp"))]
    chain, problems = custody_for_bundle(case.root)
    return Collected(
        run=run_id, run_record=record, run_record_sha256=record_sha, sources=read_sources(case), findings=findings, withheld=withheld,
        iocs=shared, withheld_iocs=len(iocs) - len(shared), analysis=analyse(case, run_id, findings=findings),
        custody=chain, custody_problems=problems, hosts=_hosts(case), os_by_host=_os_by_host(case),
    )  # fmt: skip


def _rows(case: Case, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = case.con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def jsonable(v: Any) -> Any:
    """A DuckDB value as JSON: times as UTC ISO-8601, bytes as hex."""
    if isinstance(v, datetime):
        return iso_utc(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    return v


def is_red(tlp: Any) -> bool:
    """True for TLP:RED (any spelling)."""
    return isinstance(tlp, str) and tlp.strip().upper().removeprefix("TLP:") == "RED"


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
    return {(r.pop("image_path"), r.pop("member")): jsonable(r) for r in rows}


def read_iocs(case: Case, run_id: str | None) -> list[dict[str, Any]]:
    """The IOC table of a hunt run as dicts (empty when none was loaded)."""
    if run_id is None:
        return []
    path = case.run_dir(run_id) / RUN_FILES["iocs"]
    if not path.is_file():
        return []
    return [
        {k: jsonable(v) for k, v in r.items()}
        for r in _rows(case, "SELECT * FROM read_parquet(?)", [str(path.resolve())])
    ]


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
            k: jsonable(v) for k, v in r.items() if v is not None
        }
    return out


def custody_for_bundle(case_root: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The case's custody entries up to the last one that is not an export, plus problems."""
    entries = read_chain(case_root)
    problems = verify_chain(entries)
    end = len(entries)
    while end and entries[end - 1].get("action") == "exported":
        end -= 1
    return entries[:end], problems


# ---- the rule, query, IOC and YARA files the run read ------------------------------------------


def _wanted_rules(got: Collected) -> list[dict[str, Any]]:
    """The files to keep: every file the run's run.json lists (with its kind), else the findings' rule files
    (findings kept by ``record_findings`` or a hunt made before run.json listed its files)."""
    run = got.run_record
    out: dict[tuple[str, str], dict[str, Any]] = {}
    if run is not None and isinstance(run.get("files"), list) and run["files"]:
        for item in run["files"]:
            if isinstance(item, dict) and item.get("path"):
                path = str(item["path"])
                entry = {"path": path, "recorded_sha256": item.get("sha256"), "kind": item.get("kind")}
                entry.update({k: item[k] for k in ("root", "rel") if item.get(k) is not None})
                out.setdefault((str(item.get("kind")), path), entry)
        return list(out.values())
    for f in [*got.findings, *got.withheld]:
        if f.rule_path:
            out.setdefault(
                (f.kind, f.rule_path), {"path": f.rule_path, "recorded_sha256": f.rule_sha256, "kind": f.kind}
            )
    return sorted(out.values(), key=lambda e: e["path"])


def _locate_rule(case: Case, got: Collected, path: str) -> Path | None:
    """Where a recorded rule file is now: absolute, relative to the hunt's folder, the case, or here."""
    p = Path(path)
    if p.is_absolute():
        return p if p.is_file() else None
    packaged = shipped.locate(path)  # a file shipped in the package, named by its place there
    if packaged is not None:
        return packaged
    run = got.run_record
    bases = [Path(str(run["cwd"]))] if run and run.get("cwd") else []
    for base in [*bases, case.root, Path.cwd()]:
        if (base / p).is_file():
            return base / p
    return None


def _red_sources(case: Case, run_id: str | None) -> set[str]:
    """IOC documents that gave at least one TLP:RED indicator (their copies would leak it)."""
    return {str(i.get("source")) for i in read_iocs(case, run_id) if is_red(i.get("tlp"))}


def rule_files(
    case: Case, got: Collected, *, red_ok: bool = False
) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """Copies of the rule / IOC files the run read (when unchanged) and an index with their status.

    The index (``provenance/rules/RULES.json``) keeps the hunt's order and each file's kind,
    which ``verify --reproduce`` needs to re-run the hunt. An IOC document holding TLP:RED
    indicators is not copied into a bundle marked wider than TLP:RED (``red_ok`` False).
    """
    members: dict[str, bytes] = {}
    index = []
    red = set() if red_ok else _red_sources(case, got.run)
    for entry in _wanted_rules(got):
        path, recorded = entry["path"], entry["recorded_sha256"]
        p = _locate_rule(case, got, path)
        if entry.get("kind") == "ioc" and path in red:
            entry["status"] = "withheld: holds TLP:RED indicators and the bundle is marked wider"
        elif p is None:
            entry["status"] = "missing: the file is no longer where the hunt read it"
        else:
            try:
                data = p.read_bytes()
            except OSError as exc:
                raise BundleError(f"rule file {p} the hunt read cannot be read now: {exc}") from exc
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


# ---- hosts --------------------------------------------------------------------------------------


def _hosts(case: Case) -> list[dict[str, Any]]:
    return [
        jsonable(r)
        for r in _rows(
            case,
            "SELECT host, source, count(*) AS events, min(ts) AS first, max(ts) AS last FROM events "
            "WHERE host IS NOT NULL GROUP BY ALL ORDER BY host, source",
        )
    ]


def _os_by_host(case: Case) -> dict[str, str]:
    out: dict[str, set[str]] = {}
    for r in _rows(case, "SELECT DISTINCT host, source FROM events WHERE host IS NOT NULL ORDER BY ALL"):
        out.setdefault(r["host"], set()).add(_OS_BY_SOURCE.get(r["source"], f"unknown ({r['source']} logs)"))
    return {h: " / ".join(sorted(v)) for h, v in sorted(out.items())}
