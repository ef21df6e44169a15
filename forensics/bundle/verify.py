"""Check an evidence bundle without trusting the tool that made it.

``verify_bundle`` reads the zip (never writes it) and runs every check of
``evidence-bundle.md``; each gives one line: passed, failed or skipped, with why.

    signature    Ed25519 signature over MANIFEST.json valid; signer fingerprint as expected. With no
                 expected fingerprint (--fingerprint / --key) a valid signature is UNVERIFIED: anyone
                 who edits a bundle can re-sign it with their own key and name that key as the signer
    manifest     every manifest entry present with matching size, SHA-256 and MD5
    members      no unlisted, duplicate, symlinked or path-traversing members
    custody      hash chain from genesis to the manifest's head; seq contiguous; times non-decreasing;
                 every source hashed in an entry of the chain
    records      record refs of findings and timeline resolve to records whose hashes recompute
                 and whose source hash is a manifest source
    sources      (--sources DIR) originals re-hash to their acquisition hashes; records re-extract byte-for-byte
    reproduce    (--reproduce) the recorded hunt re-run with the recorded rules gives identical findings
    timestamps   well-formed; IST = UTC+05:30; applied clock offsets match provenance/integrity.json
    sha256sums   hashes/SHA256SUMS and MD5SUMS match every member (as ``sha256sum -c`` would)
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from forensics.bundle import manifest as mf
from forensics.bundle.signing import check_signature, fingerprint, load_public, normalise_fingerprint
from forensics.custody import parse_chain, sources_without_custody, verify_chain
from forensics.errors import BundleError, CaseError
from forensics.progress import Step, no_progress
from forensics.raw import Locator, RawRecord, extract_from_source, locate_input, materialise, sha256_file

Status = Literal["passed", "failed", "skipped", "unverified"]
PASSED: Status = "passed"
FAILED: Status = "failed"
SKIPPED: Status = "skipped"
UNVERIFIED: Status = "unverified"  # the signature is valid, but by a key the verifier did not pin
Outcome = Literal["passed", "unverified", "failed"]
IST_OFFSET = timedelta(hours=5, minutes=30)
MAX_LISTED = 5  # problems listed per check line; the count says how many more


@dataclass(frozen=True)
class Check:
    """One verification line."""

    name: str
    status: Status
    detail: str

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"check": self.name, "status": self.status, "detail": self.detail}


@dataclass
class Bundle:
    """A bundle read into memory: its members (first copy of each name) and the raw zip entries."""

    path: Path
    infos: list[zipfile.ZipInfo]
    members: dict[str, bytes]
    manifest: dict[str, Any] | None
    manifest_error: str | None
    unreadable: list[str] = field(default_factory=list)

    def get(self, name: str) -> bytes | None:
        """A member's bytes, or None when absent."""
        return self.members.get(name)


def open_bundle(path: Path) -> Bundle:
    """Read a bundle zip into memory (the file is only read).

    A member whose bytes fail the zip's own CRC or cannot be inflated is kept out of
    ``members`` and named in ``unreadable``, so the checks that need it fail and say why.
    """
    try:
        data = Path(path).read_bytes()
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (OSError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:
        raise BundleError(f"cannot read bundle {path}: {exc}") from exc
    members: dict[str, bytes] = {}
    unreadable: list[str] = []
    for info in infos:
        if info.filename in members:
            continue
        try:
            members[info.filename] = zf.open(info).read()
        except (zipfile.BadZipFile, zlib.error, RuntimeError, EOFError, OSError, NotImplementedError) as exc:
            # zlib.error: flipped deflate bytes can break the stream before the CRC is reached
            unreadable.append(f"{info.filename}: unreadable in the zip ({exc})")
    manifest, error = None, None
    raw = members.get(mf.MANIFEST)
    if raw is None:
        error = "MANIFEST.json missing"
    else:
        try:
            manifest = json.loads(raw)
            if not isinstance(manifest, dict):
                manifest, error = None, "MANIFEST.json is not a JSON object"
        except ValueError as exc:
            error = f"MANIFEST.json is not JSON: {exc}"
    return Bundle(Path(path), infos, members, manifest, error, unreadable)


def _result(name: str, problems: list[str], ok: str) -> Check:
    if not problems:
        return Check(name, PASSED, ok)
    more = f" (+{len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
    return Check(name, FAILED, "; ".join(problems[:MAX_LISTED]) + more)


# ---- 1 signature -------------------------------------------------------------------------


def check_signature_step(b: Bundle, expected: str | None) -> Check:
    """Signature over MANIFEST.json, and signer fingerprint as expected / as the manifest names."""
    sig, man = b.get(mf.SIGNATURE), b.get(mf.MANIFEST)
    if man is None:
        return Check("signature", FAILED, "MANIFEST.json missing")
    if sig is None:
        return Check("signature", FAILED, "bundle is not signed (no MANIFEST.json.sig)")
    res = check_signature(man, sig, expected)
    if not res.ok:
        return Check("signature", FAILED, res.reason)
    named = ((b.manifest or {}).get("signer") or {}).get("fingerprint")
    if named != res.fingerprint:
        return Check(
            "signature", FAILED, f"signed by {res.fingerprint}, but MANIFEST.json names signer {named}"
        )
    if not expected:
        return Check(
            "signature", UNVERIFIED,
            f"Ed25519 signature valid, by {res.fingerprint}, a key you did not pin: whoever edits a bundle "
            "can re-sign it with their own key. Obtain the signer's fingerprint out of band (the signed "
            "s.63/s.65B certificate, Part B, carries it) and give --fingerprint or --key",
        )  # fmt: skip
    return Check(
        "signature",
        PASSED,
        f"Ed25519 signature valid; signer {res.fingerprint}; matches the expected fingerprint",
    )


# ---- 2 manifest and members ----------------------------------------------------------------


def _listed(b: Bundle) -> list[dict[str, Any]]:
    files = (b.manifest or {}).get("files")
    return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def check_manifest(b: Bundle) -> Check:
    """Every manifest entry present with its size, SHA-256 and MD5."""
    if b.manifest is None:
        return Check("manifest", FAILED, b.manifest_error or "no manifest")
    problems: list[str] = []
    seen: set[str] = set()
    for f in _listed(b):
        path = str(f.get("path"))
        if path in seen:
            problems.append(f"{path} listed twice")
        seen.add(path)
        data = b.get(path)
        if data is None:
            problems.append(f"{path} missing")
            continue
        if len(data) != f.get("size"):
            problems.append(f"{path} size {len(data)} != {f.get('size')}")
        if hashlib.sha256(data).hexdigest() != f.get("sha256"):
            problems.append(f"{path} SHA-256 differs")
        if hashlib.md5(data).hexdigest() != f.get("md5"):
            problems.append(f"{path} MD5 differs")
    return _result("manifest", problems, f"{len(seen)} files present with matching size, SHA-256 and MD5")


def _unsafe(name: str) -> str | None:
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return "absolute or non-POSIX path"
    if ".." in PurePosixPath(name).parts:
        return "path traversal"
    return None


def check_members(b: Bundle) -> Check:
    """No unlisted, duplicate, symlinked, directory or path-traversing members."""
    listed = {str(f.get("path")) for f in _listed(b)}
    problems: list[str] = list(b.unreadable)
    seen: set[str] = set()
    for info in b.infos:
        name = info.filename
        if name in seen:
            problems.append(f"{name}: duplicate member")
        seen.add(name)
        why = _unsafe(name)
        if why:
            problems.append(f"{name}: {why}")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            problems.append(f"{name}: symbolic link")
        if info.is_dir():
            problems.append(f"{name}: directory entry")
        if name not in listed and name not in mf.UNLISTED:
            problems.append(f"{name}: not listed in MANIFEST.json")
    return _result(
        "members", problems, f"{len(b.infos)} members, none unlisted, duplicated, linked or traversing"
    )


# ---- 3 custody ----------------------------------------------------------------------------


def check_custody(b: Bundle) -> Check:
    """The custody chain from genesis to the head the manifest names."""
    data = b.get(mf.CUSTODY)
    if data is None:
        return Check("custody", FAILED, f"{mf.CUSTODY} missing")
    try:
        entries = parse_chain(data, mf.CUSTODY)
    except (CaseError, UnicodeDecodeError) as exc:
        return Check("custody", FAILED, str(exc))
    cust = (b.manifest or {}).get("custody") or {}
    head = cust.get("head")
    if not isinstance(head, str):
        return Check("custody", FAILED, "MANIFEST.json names no custody head")
    problems = verify_chain(entries, head=head)
    if cust.get("entries") != len(entries):
        problems.append(f"{len(entries)} entries, the manifest says {cust.get('entries')}")
    sources = [s for s in (b.manifest or {}).get("sources") or [] if isinstance(s, dict)]
    missing = sources_without_custody(sources, entries)
    if missing:
        problems.append(
            f"{len(missing)} of {len(sources)} source(s) hashed in no custody entry: "
            + ", ".join(missing[:MAX_LISTED]) + (" …" if len(missing) > MAX_LISTED else "")
        )  # fmt: skip
    return _result(
        "custody", problems,
        f"{len(entries)} entries chained from genesis to head {head[:16]}…; every source hashed in an entry",
    )  # fmt: skip


# ---- 4 records ------------------------------------------------------------------------------


def record_bytes(rec: dict[str, Any]) -> bytes:
    """The bytes a matched record's ``record_sha256`` is taken over."""
    raw = str(rec.get("raw", ""))
    return base64.b64decode(raw) if rec.get("encoding") == "base64" else raw.encode("utf-8")


def _jsonl(data: bytes, where: str) -> Iterator[dict[str, Any]]:
    for n, line in enumerate(data.decode("utf-8").splitlines(), 1):
        if line.strip():
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError(f"{where}:{n} is not a JSON object")
            yield obj


def read_records(b: Bundle) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Matched records by ref, and problems with the file itself."""
    data = b.get(mf.RECORDS)
    if data is None:
        return {}, [f"{mf.RECORDS} missing"]
    out: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    try:
        for rec in _jsonl(data, mf.RECORDS):
            ref = str(rec.get("ref"))
            if ref in out:
                problems.append(f"record {ref} appears twice")
            out[ref] = rec
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(f"{mf.RECORDS} unreadable: {exc}")
    return out, problems


def _timeline_refs(b: Bundle) -> list[str]:
    data = b.get(mf.TIMELINE_JSONL)
    refs = []
    for row in _jsonl(data or b"", mf.TIMELINE_JSONL):
        if row.get("record_ref"):
            refs.append(str(row["record_ref"]))
        elif row.get("input_sha256") and row.get("rec_index") is not None:
            refs.append(f"{row['input_sha256']}:{int(row['rec_index'])}")
    return refs


def _finding_refs(b: Bundle) -> list[str]:
    findings = json.loads(b.get(mf.FINDINGS_JSON) or b"[]")
    refs = []
    for f in findings:
        for r in f.get("records", []):
            refs.append(str(r.get("ref") or f"{r.get('input_sha256')}:{r.get('rec_index')}"))
    return refs


def check_records(b: Bundle) -> Check:
    """Refs of findings and timeline resolve; record hashes recompute; sources are manifest sources."""
    records, problems = read_records(b)
    sources = {
        s.get("acquisition_sha256") for s in (b.manifest or {}).get("sources", []) if isinstance(s, dict)
    }
    for ref, rec in records.items():
        if hashlib.sha256(record_bytes(rec)).hexdigest() != rec.get("record_sha256"):
            problems.append(f"record {ref}: record_sha256 does not recompute")
        if rec.get("json") is not None and hashlib.sha256(str(rec["json"]).encode()).hexdigest() != rec.get(
            "json_sha256"
        ):
            problems.append(f"record {ref}: json_sha256 does not recompute")
        if rec.get("input_sha256") not in sources:
            problems.append(
                f"record {ref}: source {str(rec.get('input_sha256'))[:16]}… is not a manifest source"
            )
        if ref != f"{rec.get('input_sha256')}:{rec.get('rec_index')}":
            problems.append(f"record {ref}: ref does not match its input_sha256 and rec_index")
    try:
        f_refs, t_refs = _finding_refs(b), _timeline_refs(b)
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        return Check("records", FAILED, f"findings or timeline unreadable: {exc}")
    for where, refs in (("finding", f_refs), ("timeline", t_refs)):
        for ref in refs:
            if ref not in records:
                problems.append(f"{where} ref {ref} has no record in {mf.RECORDS}")
    ok = f"{len(records)} records recompute; {len(f_refs)} finding and {len(t_refs)} timeline refs resolve"
    return _result("records", problems, ok)


# ---- 5 sources -------------------------------------------------------------------------------


def _index_dir(root: Path) -> dict[str, Path]:
    """SHA-256 → file for every file under ``root`` (how originals are found whatever their names)."""
    out: dict[str, Path] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out.setdefault(sha256_file(p), p)
    return out


def check_sources(b: Bundle, sources_dir: Path | None) -> Check:
    """Originals re-hash to their acquisition hashes; matched records re-extract byte-for-byte."""
    if sources_dir is None:
        return Check(
            "sources", SKIPPED, "no --sources DIR given: originals not re-hashed, records not re-extracted"
        )
    if not sources_dir.is_dir():
        return Check("sources", FAILED, f"{sources_dir} is not a folder")
    index = _index_dir(sources_dir)
    records, _ = read_records(b)
    by_src: dict[str, list[dict[str, Any]]] = {}
    for rec in records.values():
        by_src.setdefault(str(rec.get("input_sha256")), []).append(rec)
    problems: list[str] = []
    checked = extracted = 0
    for src in (b.manifest or {}).get("sources", []):
        sha = src.get("acquisition_sha256")
        if not sha or src.get("status") in ("failed", "unreadable", "refused"):
            continue
        local = _find_source(src, index, sources_dir)
        if local is None:
            problems.append(f"{src.get('original_path')}: not found under {sources_dir} (by content or name)")
            continue
        checked += 1
        n, errs = _re_extract(local, src, by_src.get(sha, []))
        extracted += n
        problems += errs
    return _result("sources", problems, f"{checked} originals re-hash to their acquisition SHA-256; "
                   f"{extracted} records re-extracted byte-for-byte")  # fmt: skip


def _find_source(src: dict[str, Any], index: dict[str, Path], root: Path) -> tuple[Path, str | None] | None:
    sha = src["acquisition_sha256"]
    if sha in index:
        return index[sha], None
    if src.get("member"):
        arc = locate_input(str(src.get("original_path")), [root])
        if arc is not None:
            try:
                with materialise(arc, src["member"]) as local:
                    if sha256_file(local) == sha:
                        return arc, str(src["member"])
            except Exception:  # a damaged or different archive: treated as not found
                return None
    return None


def _re_extract(
    found: tuple[Path, str | None], src: dict[str, Any], recs: list[dict[str, Any]]
) -> tuple[int, list[str]]:
    path, member = found
    wanted = [
        Locator(int(r["rec_index"]), r.get("rec_offset"), r.get("rec_line"), r.get("record_id"))
        for r in recs
        if r.get("kind") != "parsed_row"
    ]
    got = extract_from_source(path, member, src.get("parser"), src["acquisition_sha256"], wanted)
    problems, n = [], 0
    for r in recs:
        if r.get("kind") == "parsed_row":
            continue
        x = got.get(int(r["rec_index"]))
        if not isinstance(x, RawRecord):
            problems.append(f"record {r.get('ref')}: cannot re-extract ({x})")
        elif x.data != record_bytes(r):
            problems.append(f"record {r.get('ref')}: re-extracted bytes differ from the bundle's")
        else:
            n += 1
    return n, problems


# ---- 6 reproduce -------------------------------------------------------------------------------


def check_reproduce(b: Bundle, wanted: bool, sources_dir: Path | None) -> Check:
    """Re-run the recorded hunt with the recorded rules and compare findings byte for byte."""
    if not wanted:
        return Check("reproduce", SKIPPED, "--reproduce not given")
    try:
        from forensics.bundle.reproduce import reproduce_findings
    except ImportError as exc:
        return Check("reproduce", FAILED, f"cannot reproduce: {exc}")
    ok, detail = reproduce_findings(b, sources_dir)
    return Check("reproduce", PASSED if ok else FAILED, detail)


# ---- 7 timestamps --------------------------------------------------------------------------------

_PAIRS = (("time_utc", "time_ist"), ("first_utc", "first_ist"), ("last_utc", "last_ist"), ("utc", "ist"),
          ("acquired_utc", "acquired_ist"), ("datetime", "datetime_ist"), ("ts_utc", "ts_ist"))  # fmt: skip


def _parse_aware(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else None


def _pair_problems(obj: dict[str, Any], where: str) -> list[str]:
    out = []
    for u, i in _PAIRS:
        uv, iv = obj.get(u), obj.get(i)
        if uv in (None, "") and iv in (None, ""):
            continue
        du, di = _parse_aware(uv), _parse_aware(iv)
        if du is None or du.utcoffset() != timedelta(0):
            out.append(f"{where} {u}={uv!r} is not an ISO-8601 UTC time")
        elif iv not in (None, "") and (di is None or di.utcoffset() != IST_OFFSET or di != du):
            out.append(f"{where} {i}={iv!r} is not {u} at UTC+05:30")
    return out


def _walk_pairs(b: Bundle) -> list[str]:
    problems: list[str] = []
    man = b.manifest or {}
    problems += _pair_problems(man.get("created") or {}, "manifest created:")
    for s in man.get("sources", []):
        problems += _pair_problems(s, f"source {s.get('evidence_id')}:")
    for e in parse_chain(b.get(mf.CUSTODY) or b"", mf.CUSTODY):
        problems += _pair_problems(e, f"custody {e.get('seq')}:")
    for f in json.loads(b.get(mf.FINDINGS_JSON) or b"[]"):
        problems += _pair_problems(f, f"finding {f.get('finding_id')}:")
    return problems


def _row_ref(row: dict[str, Any]) -> str:
    return str(row.get("record_ref") or f"{row.get('input_sha256')}:{row.get('rec_index')}")


def _row_offset_problems(row: dict[str, Any], offsets: dict[str, Any]) -> list[str]:
    """An applied offset must be the host's recorded one, and ts_corrected = ts - offset."""
    applied = float(row["clock_offset_s"])
    expected = float(offsets.get(row.get("host") or "", 0.0) or 0.0)
    out = []
    if abs(applied - expected) > 1e-6:
        out.append(f"timeline row {_row_ref(row)}: clock offset {applied} s applied, provenance records "
                   f"{expected} s for host {row.get('host')}")  # fmt: skip
    ts, corrected = _parse_aware(row.get("ts")), _parse_aware(row.get("ts_corrected"))
    if ts is not None and corrected is not None and abs((ts - corrected).total_seconds() - applied) > 1e-3:
        out.append(f"timeline row {_row_ref(row)}: ts_corrected is not ts minus clock_offset_s")
    return out


def _offset_problems(b: Bundle) -> tuple[list[str], int]:
    integ = json.loads(b.get(mf.INTEGRITY) or b"{}")
    offsets = integ.get("clock_offsets_s") or {}
    problems, n = [], 0
    for row in _jsonl(b.get(mf.TIMELINE_JSONL) or b"", mf.TIMELINE_JSONL):
        problems += _pair_problems(row, f"timeline {_row_ref(row)}:")
        if row.get("clock_offset_s") is not None:
            n += 1
            problems += _row_offset_problems(row, offsets)
    return problems, n


def check_timestamps(b: Bundle) -> Check:
    """Times well-formed UTC; IST beside them is UTC+05:30; applied clock offsets match provenance."""
    try:
        problems = _walk_pairs(b)
        offs, n = _offset_problems(b)
    except (ValueError, TypeError, AttributeError, CaseError, UnicodeDecodeError) as exc:
        return Check("timestamps", FAILED, f"cannot read times: {exc}")
    return _result(
        "timestamps", problems + offs, f"UTC/IST pairs consistent; {n} applied clock offsets match provenance"
    )


# ---- 8 sha256sums ---------------------------------------------------------------------------------


def check_sums(b: Bundle) -> Check:
    """hashes/SHA256SUMS and MD5SUMS list every member with the right digest."""
    problems: list[str] = []
    expected = sorted(n for n in b.members if n not in mf.NOT_IN_SUMS)
    for name, algo in ((mf.SHA256SUMS, "sha256"), (mf.MD5SUMS, "md5")):
        data = b.get(name)
        if data is None:
            problems.append(f"{name} missing")
            continue
        listed, errs = mf.parse_sums(data)
        problems += [f"{name}: {e}" for e in errs]
        for path, digest in sorted(listed.items()):
            got = b.get(path)
            if got is None:
                problems.append(f"{name}: {path} listed but missing")
            elif hashlib.new(algo, got).hexdigest() != digest:
                problems.append(f"{name}: {path} FAILED")
        problems += [f"{name}: {p} not listed" for p in expected if p not in listed]
    return _result("sha256sums", problems, f"{len(expected)} files OK in SHA256SUMS and MD5SUMS")


# ---- all ------------------------------------------------------------------------------------------


def verify_bundle(
    path: Path,
    *,
    expected_fingerprint: str | None = None,
    key: Path | None = None,
    sources: Path | None = None,
    reproduce: bool = False,
    progress: Step = no_progress,
) -> list[Check]:
    """Run every check on the bundle at ``path``; the bundle is only read. ``progress`` hears
    ("verifying: CHECK", checks done, checks) before each check."""
    b = open_bundle(path)
    expected = normalise_fingerprint(expected_fingerprint) if expected_fingerprint else None
    if key is not None:
        from_key = fingerprint(load_public(key))
        if expected and expected != from_key:
            raise BundleError(f"--key has fingerprint {from_key} but --fingerprint says {expected}")
        expected = from_key
    steps: list[tuple[str, Callable[[], Check]]] = [
        ("signature", lambda: check_signature_step(b, expected)),
        ("manifest", lambda: check_manifest(b)),
        ("members", lambda: check_members(b)),
        ("custody", lambda: check_custody(b)),
        ("records", lambda: check_records(b)),
        ("sources", lambda: check_sources(b, sources)),
        ("reproduce", lambda: check_reproduce(b, reproduce, sources)),
        ("timestamps", lambda: check_timestamps(b)),
        ("sha256sums", lambda: check_sums(b)),
    ]
    checks = []
    for done, (name, step) in enumerate(steps):
        progress(f"verifying: {name}", done, len(steps))
        checks.append(_safe(name, step))
    progress("verifying: done", len(steps), len(steps))
    return checks


def _safe(name: str, step: Callable[[], Check]) -> Check:
    """Run a check; a tampered bundle that crashes a check fails that check, not the run."""
    try:
        return step()
    except Exception as exc:  # any crash on hostile input is a failed check with the reason
        return Check(name, FAILED, f"check could not run: {type(exc).__name__}: {exc}")


def failed(checks: list[Check]) -> bool:
    """True when any check failed."""
    return any(c.status == FAILED for c in checks)


def outcome(checks: list[Check]) -> Outcome:
    """``failed`` when any check failed; else ``unverified`` when the signer was not pinned; else ``passed``."""
    if failed(checks):
        return "failed"
    return "unverified" if any(c.status == UNVERIFIED for c in checks) else "passed"
