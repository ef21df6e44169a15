"""Assemble the evidence bundle: a deterministic zip of records, findings, timeline, report,
certificates, provenance and the custody log, with MANIFEST.json, hash lists and a signature.

The bundle pins one hunt run of the case (the latest unless another is asked for) and names it in
the manifest. ``forensics.bundle.collect`` reads the case, ``forensics.bundle.members`` renders
each member, this module puts them together. A part that cannot be made fails the export with its
reason; nothing is replaced by a stand-in behind the investigator's back.

Determinism: every member's bytes depend only on the case, the run and the inputs given here (the
creation time is one of them); members are written in sorted order with fixed zip metadata
(date_time from the creation time, mode 0644, Unix create_system, no extra fields), so two
exports of one case with the same pinned time are byte-identical.

The custody log in the bundle is the case's log up to its last entry that is not an export:
the export's own entry names the finished bundle's SHA-256 (a file cannot contain its own
hash), so it is appended to the case log after the zip is written.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forensics import __version__
from forensics.bundle import manifest as mf
from forensics.bundle import members as mb
from forensics.bundle.casefile import CaseDetails, tlp_rank
from forensics.bundle.certificates import render_part_a, render_part_b, statute_for
from forensics.bundle.certin import render_certin
from forensics.bundle.collect import Collected, collect, jsonable, parsed_rows, rule_files
from forensics.bundle.signing import fingerprint, load_private, sign_manifest
from forensics.bundle.verify_md import render_verify_md
from forensics.custody import append_entry, sources_without_custody
from forensics.errors import BundleError
from forensics.progress import Step, no_progress
from forensics.raw import extract_records
from forensics.store import RUN_FILE, Case
from forensics.timeutil import iso_ist, iso_utc, now_utc

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
    run: str | None = None  # the hunt run the bundle pins


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


EXPORT_STAGES = 5  # collect, timeline, records, report and certificates, signing and writing


def export_bundle(
    case_dir: Path,
    out: Path,
    details: CaseDetails,
    *,
    created: datetime | None = None,
    key_path: Path | None = None,
    search: Sequence[Path] = (),
    record_custody: bool = True,
    run: str | None = None,
    progress: Step = no_progress,
) -> ExportResult:
    """Write the evidence bundle of hunt run ``run`` (None: the latest) of the case at ``case_dir`` to ``out``.

    ``progress`` hears ("exporting: STAGE", stages done, stages) as the bundle is built."""
    created = (created or now_utc()).astimezone(UTC)
    key = load_private(key_path) if key_path else None
    fp = fingerprint(key.public_key()) if key else None
    case_root = Path(case_dir)
    with Case.open(case_root, read_only=True) as case:
        progress("exporting: findings, integrity, story", 0, EXPORT_STAGES)
        got = collect(case, details, run)
        members, manifest, stats = _build(case, got, details, created, fp, search, progress)
    progress("exporting: signing and writing", EXPORT_STAGES - 1, EXPORT_STAGES)
    manifest_bytes = mf.pretty(manifest)
    members[mf.MANIFEST] = manifest_bytes
    if key is not None:
        members[mf.SIGNATURE] = sign_manifest(manifest_bytes, key)
    data = zip_bytes(members, created)
    tmp = out.with_name(out.name + ".tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        tmp.replace(out)
    except OSError as exc:
        if tmp.is_file():
            tmp.unlink()
        raise BundleError(f"cannot write the bundle to {out}: {exc.strerror or exc}") from exc
    progress("exporting: done", EXPORT_STAGES, EXPORT_STAGES)
    result = ExportResult(
        out, hashlib.sha256(data).hexdigest(), hashlib.sha256(manifest_bytes).hexdigest(), manifest["bundle_id"], fp,
        len(members), stats["records"], stats["findings"], stats["withheld"], list(manifest["notes"]), run=got.run,
    )  # fmt: skip
    if record_custody:
        result.custody_entry = append_entry(
            case_root, "exported", person=details.operator, purpose="evidence bundle for " + (details.agency or "the investigating agency"),
            evidence_ids=[s["evidence_id"] for s in manifest["sources"] if s["evidence_id"]],
            item_hashes={"bundle.zip": result.sha256, mf.MANIFEST: result.manifest_sha256},
            notes=f"bundle {result.bundle_id} of hunt run {got.run or 'none'} written to {out}; signer "
            f"{fp or 'unsigned'}; custody head in bundle {manifest['custody']['head']}",
        )  # fmt: skip
    return result


def _build(
    case: Case,
    got: Collected,
    details: CaseDetails,
    created: datetime,
    fp: str | None,
    search: Sequence[Path],
    progress: Step = no_progress,
) -> tuple[dict[str, bytes], dict[str, Any], dict[str, int]]:
    notes: list[str] = []
    by_sha = {s["acquisition_sha256"]: s for s in got.sources if s["acquisition_sha256"]}
    if got.withheld or got.withheld_iocs:
        notes.append(
            f"bundle is {details.tlp}: {len(got.withheld)} finding(s) and {got.withheld_iocs} indicator(s) "
            "marked TLP:RED are left out, with the records only they referenced"
        )
    findings = mb.findings_dicts(got.findings)
    progress("exporting: timeline", 1, EXPORT_STAGES)
    tl_csv, tl_jsonl, tl_refs = mb.timeline(case, got)
    progress("exporting: records", 2, EXPORT_STAGES)
    refs = sorted({(r.input_sha256, r.rec_index) for f in got.findings for r in f.records} | set(tl_refs))
    raw = extract_records(case, refs, search)
    records, rec_notes = mb.records_jsonl(
        refs, raw, by_sha, parsed_rows(case, [k for k, v in raw.items() if isinstance(v, str)])
    )
    notes.extend(rec_notes)
    notes.extend(f"custody log problem: {p}" for p in got.custody_problems)
    uncovered = sources_without_custody(got.sources, got.custody)
    if uncovered:
        notes.append(
            f"{len(uncovered)} input(s) are hashed in no custody entry ({', '.join(uncovered[:3])}"
            f"{' …' if len(uncovered) > 3 else ''}): `verify` fails its custody check for them; record how "
            "they were received with `forensics custody add CASE --hash ITEM=SHA256 ...` and export again"
        )
    rules, rules_index = rule_files(case, got, red_ok=details.tlp_is_red)
    statute = statute_for(details.proceeding_date)
    export_step = {"step": "export", "time_utc": iso_utc(created), "tool_version": __version__,
                   "options": details.to_dict(), "signer": fp, "run": got.run}  # fmt: skip
    integ = mb.integrity_json(got)
    progress("exporting: report and certificates", 3, EXPORT_STAGES)
    facts = {
        "details": details, "created": created, "sources": got.sources, "findings": findings, "iocs": got.iocs,
        "integrity": jsonable(got.analysis.integrity.to_dict()), "records": len(refs), "statute": statute,
        "fingerprint": fp, "custody": got.custody, "hosts": got.hosts, "os": got.os_by_host,
    }  # fmt: skip
    members: dict[str, bytes] = {
        mf.CUSTODY: b"".join(mf.canonical(e) + b"\n" for e in got.custody),
        mf.COMMANDS: mb.commands(got, export_step),
        mf.ENVIRONMENT: mf.pretty(mb.environment(created)),
        mf.RULES_INDEX: mf.pretty(rules_index),
        mf.INTEGRITY: integ,
        mf.RECORDS: records,
        mf.FINDINGS_JSON: mf.pretty(findings),
        mf.FINDINGS_CSV: mb.findings_csv(findings),
        mf.TIMELINE_CSV: tl_csv,
        mf.TIMELINE_JSONL: tl_jsonl,
        mf.REPORT_HTML: mb.report_html(case, got),
        mf.CERT_A: render_part_a(facts).encode("utf-8"),
        mf.CERT_B: render_part_b(facts).encode("utf-8"),
        mf.CERTIN: render_certin(facts).encode("utf-8"),
        mf.VERIFY_MD: render_verify_md(fp, details).encode("utf-8"),
        **rules,
    }
    if got.iocs:
        members["findings/iocs.json"] = mf.pretty(got.iocs)
    members[mf.SHA256SUMS] = mf.sums_text(members, "sha256")
    members[mf.MD5SUMS] = mf.sums_text(members, "md5")
    files = [mf.file_entry(p, members[p]).to_dict() for p in sorted(members)]
    manifest = _manifest(details, created, fp, files, got, notes)
    manifest["statute"] = statute
    return members, manifest, {"records": len(refs), "findings": len(findings), "withheld": len(got.withheld)}


def _run_entry(got: Collected) -> dict[str, Any] | None:
    """The manifest's ``hunt_run``: which run the bundle pins, and its record's hash."""
    if got.run is None or got.run_record is None:
        return None
    return {
        "run_id": got.run,
        "started_utc": got.run_record.get("started_utc"),
        "record": f"provenance/commands.jsonl (step hunt): the case's {RUN_FILE} of run {got.run}",
        "record_sha256": got.run_record_sha256,
    }


def _manifest(
    details: CaseDetails, created: datetime, fp: str | None, files: list[dict[str, Any]], got: Collected,
    notes: list[str],
) -> dict[str, Any]:  # fmt: skip
    chain = got.custody
    body: dict[str, Any] = {
        "schema_version": mf.SCHEMA_VERSION,
        "case": details.to_dict(),
        "created": {"utc": iso_utc(created), "ist": iso_ist(created)},
        "operator": details.operator,
        "tool": {"name": "forensics", "version": __version__, "commit": mb.tool_commit()},
        "environment": {
            k: v for k, v in mb.environment(created).items() if k in ("python", "platform", "packages")
        },
        "signer": {"algorithm": "Ed25519", "fingerprint": fp} if fp else None,
        "custody": {
            "file": mf.CUSTODY,
            "entries": len(chain),
            "head": chain[-1]["entry_sha256"] if chain else "0" * 64,
        },
        "hunt_run": _run_entry(got),
        "sources": got.sources,
        "tlp": {
            "bundle": details.tlp,
            "withheld_findings": len(got.withheld),
            "withheld_indicators": got.withheld_iocs,
            "note": "TLP:RED indicators and their hits are left out of a bundle marked wider than TLP:RED"
            if not details.tlp_is_red
            else "bundle is TLP:RED: nothing withheld",
        },
        "notes": sorted(set(notes)),
        "files": files,
    }
    body["bundle_id"] = "FB-" + hashlib.sha256(mf.canonical(body)).hexdigest()[:24]
    return body


__all__ = ["ExportResult", "export_bundle", "tlp_rank"]
