"""Hunt runs: every hunt is kept in the case as a run; a later hunt never replaces an earlier one.

A run is the folder ``findings/runs/<run id>/`` (layout and views: ``forensics.store``) holding
the findings of one hunt, their records, the IOC table, the load-and-run report, Sigma's rule
report and ``run.json`` — the hunt's record of itself (run id, argv, times, options, every rule,
query, IOC and YARA file read with its SHA-256, and the SHA-256 of every file of the run).

A run is written into a staging folder (``findings/runs/.staging-…``) and appears by one rename
when it is complete: a hunt that fails leaves no run behind and never touches the earlier ones.
Run ids are the run's number in the case, zero-padded (``0001``, ``0002``, …).

What "byte-identical" means for a court: the findings files of a run (findings, finding records,
IOC table, hunt report, rule report) hold no run id and no time, so two hunts of the same case
with the same rules give byte-identical files under different run ids. ``run.json`` is the record
of the act (when, by which command, from which folder) and differs between any two hunts.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from forensics import __version__
from forensics.custody import canonical_json
from forensics.errors import CaseError
from forensics.hunt.findings import Finding, write_findings
from forensics.store import LEGACY_FILES, RUN_FILE, RUNS_DIR, Case
from forensics.timeutil import iso_utc, now_utc, parse_iso_utc

RUN_SCHEMA = 2  # 2: run_id and run folders; 1: findings/run.json, replaced by every hunt


@dataclass(frozen=True)
class RunInfo:
    """One line of ``forensics runs``: a run's id, when and how it ran, what it found."""

    run_id: str
    started: datetime | None
    ended: datetime | None
    argv: tuple[str, ...]
    exit_code: int | None
    findings: int | None
    path: Path  # the run folder


@contextmanager
def staged_run(case: Case) -> Iterator[Path]:
    """A staging folder for a new run; removed with everything in it unless ``commit_run`` moved it.

    Staging folders already there are what a killed hunt left (the writable connection we hold
    keeps any other hunt of this case out): never committed, so nothing of a run; removed.
    """
    for stale in (case.root / RUNS_DIR).glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = case.root / RUNS_DIR / f".staging-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def commit_run(case: Case, staging: Path, record: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Give the staged run the next id, write its ``run.json`` and move it in place.

    Returns the id and the record as written: ``record`` plus ``run_id`` and ``outputs`` (the
    SHA-256 of every file of the run, by its path in the case). The views are refreshed to show
    the new run as the latest.
    """
    adopt_legacy(case)
    runs_dir = case.root / RUNS_DIR
    taken = case.runs()
    number = max((int(r) for r in taken if r.isdigit()), default=0) + 1
    while True:
        run_id = f"{number:04d}"
        dest = runs_dir / run_id
        if not dest.exists():
            break
        number += 1  # a folder no complete run owns (never a committed run: those all have run.json)
    files = sorted(p for p in staging.iterdir() if p.is_file() and p.name != RUN_FILE)
    record = {
        **record,
        "schema": RUN_SCHEMA,
        "run_id": run_id,
        "outputs": {f"{RUNS_DIR}/{run_id}/{p.name}": sha256_file(p) for p in files},
    }
    tmp = staging / (RUN_FILE + ".tmp")
    tmp.write_bytes(canonical_json(record) + b"\n")
    os.replace(tmp, staging / RUN_FILE)
    os.rename(staging, dest)  # one step: the run is there complete, or not at all
    case.refresh_views()
    return run_id, record


def record_findings(case: Case, findings: Sequence[Finding], *, argv: Sequence[str] = ()) -> str:
    """Keep ``findings`` made outside a hunt (another tool's, a test's) as a new run; returns its id.

    The run holds the findings and their records and a ``run.json`` naming ``argv`` and the time;
    it reads no rule files, so there is nothing for ``verify --reproduce`` to re-run.
    """
    now = iso_utc(now_utc())
    with staged_run(case) as staging:
        write_findings(case, findings, staging)
        kinds: dict[str, int] = {}
        for f in findings:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        record = {
            "tool": "forensics", "tool_version": __version__, "argv": [str(a) for a in argv], "cwd": os.getcwd(),
            "started_utc": now, "ended_utc": now, "exit_code": 0, "files": [],
            "findings": {"total": len(findings), "by_kind": dict(sorted(kinds.items()))},
        }  # fmt: skip
        run_id, _ = commit_run(case, staging, record)
    return run_id


def adopt_legacy(case: Case) -> str | None:
    """Move the findings of a hunt made before runs were kept (``findings/*.parquet``, ``findings/run.json``)
    into run ``0000``, bytes unchanged, so the next hunt does not hide them. Returns ``0000`` or None."""
    legacy = [case.root / "findings" / name for name in LEGACY_FILES]
    present = [p for p in legacy if p.is_file()]
    if not present or not (case.root / "findings" / "findings.parquet").is_file():
        return None
    dest = case.root / RUNS_DIR / "0000"
    if dest.exists():
        raise CaseError(f"{dest} exists beside findings of an earlier hunt in {case.root / 'findings'}")
    staging = case.root / RUNS_DIR / ".adopting"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for p in present:
        os.replace(p, staging / p.name)
    if not (staging / RUN_FILE).is_file():  # hunted before run.json existed: say what is known
        note = {"run_id": "0000", "adopted": "findings of a hunt made before hunts were kept as runs"}
        (staging / RUN_FILE).write_bytes(canonical_json(note) + b"\n")
    os.rename(staging, dest)
    return "0000"


def read_run_record(case: Case, run_id: str) -> dict[str, Any]:
    """The ``run.json`` of a run (CaseError when it cannot be read)."""
    path = case.run_dir(run_id) / RUN_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CaseError(f"run record {path} unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise CaseError(f"run record {path} is not a JSON object")
    return data


def run_info(case: Case, run_id: str) -> RunInfo:
    """What ``forensics runs`` shows of a run."""
    rec = read_run_record(case, run_id)
    found = rec.get("findings")
    total = found.get("total") if isinstance(found, dict) else None
    code = rec.get("exit_code")
    return RunInfo(
        run_id=run_id,
        started=parse_iso_utc(str(rec["started_utc"])) if rec.get("started_utc") else None,
        ended=parse_iso_utc(str(rec["ended_utc"])) if rec.get("ended_utc") else None,
        argv=tuple(str(a) for a in rec.get("argv") or ()),
        exit_code=code if isinstance(code, int) else None,
        findings=total if isinstance(total, int) else None,
        path=case.run_dir(run_id),
    )


def list_runs(case: Case) -> list[RunInfo]:
    """Every complete run of the case, oldest first."""
    return [run_info(case, r) for r in case.runs()]
