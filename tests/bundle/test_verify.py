"""`verify` passes an untouched bundle and fails, naming the right check, on every kind of tampering."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from bundlekit import Built, flip_byte, read_members, reseal, write_members
from typer.testing import CliRunner

from forensics.bundle import manifest as mf
from forensics.bundle.signing import keygen
from forensics.bundle.verify import FAILED, PASSED, SKIPPED, verify_bundle
from forensics.cli import app


def statuses(path: Path, **kw: object) -> dict[str, str]:
    """check name → status."""
    return {c.name: c.status for c in verify_bundle(path, **kw)}  # type: ignore[arg-type]


def failed_checks(path: Path, **kw: object) -> set[str]:
    """Names of the checks that failed."""
    return {k for k, v in statuses(path, **kw).items() if v == FAILED}


def test_untouched_bundle_passes_every_check(bundle: Path, built: Built) -> None:
    before = hashlib.sha256(bundle.read_bytes()).hexdigest()
    got = statuses(bundle, expected_fingerprint=built.fingerprint, sources=built.sources)
    assert got == {
        "signature": PASSED, "manifest": PASSED, "members": PASSED, "custody": PASSED, "records": PASSED,
        "sources": PASSED, "reproduce": SKIPPED, "timestamps": PASSED, "sha256sums": PASSED,
    }  # fmt: skip
    assert hashlib.sha256(bundle.read_bytes()).hexdigest() == before  # verify never modifies the bundle


def test_cli_verify_prints_a_line_per_check_and_exits_5_on_failure(
    bundle: Path, built: Built, tmp_path: Path
) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["verify", str(bundle), "--fingerprint", built.fingerprint])
    assert ok.exit_code == 0, ok.output
    lines = [ln for ln in ok.output.splitlines() if ln.strip()]
    assert len(lines) == 9 and all(ln.split()[0] in ("PASSED", "SKIPPED") for ln in lines)
    members = read_members(bundle)
    members[mf.REPORT_HTML] = flip_byte(members[mf.REPORT_HTML])
    bad = write_members(tmp_path / "bad.zip", members)
    res = runner.invoke(app, ["verify", str(bad), "--json"])
    assert res.exit_code == 5
    rows = [json.loads(ln) for ln in res.output.splitlines()]
    assert {r["check"] for r in rows if r["status"] == "failed"} == {"manifest", "sha256sums"}


# one byte changed in each kind of member → the checks that must catch it
BYTE_FLIPS = [
    (mf.MANIFEST, {"signature"}),
    (mf.SIGNATURE, {"signature"}),
    (mf.SHA256SUMS, {"manifest", "sha256sums"}),
    (mf.MD5SUMS, {"manifest", "sha256sums"}),
    (mf.CUSTODY, {"manifest", "sha256sums", "custody"}),
    (mf.RECORDS, {"manifest", "sha256sums", "records"}),
    (mf.FINDINGS_JSON, {"manifest", "sha256sums"}),
    (mf.FINDINGS_CSV, {"manifest", "sha256sums"}),
    (mf.TIMELINE_CSV, {"manifest", "sha256sums"}),
    (mf.TIMELINE_JSONL, {"manifest", "sha256sums"}),
    (mf.REPORT_HTML, {"manifest", "sha256sums"}),
    (mf.CERT_A, {"manifest", "sha256sums"}),
    (mf.CERT_B, {"manifest", "sha256sums"}),
    (mf.CERTIN, {"manifest", "sha256sums"}),
    (mf.VERIFY_MD, {"manifest", "sha256sums"}),
    (mf.COMMANDS, {"manifest", "sha256sums"}),
    (mf.ENVIRONMENT, {"manifest", "sha256sums"}),
    (mf.INTEGRITY, {"manifest", "sha256sums"}),
    (mf.RULES_INDEX, {"manifest", "sha256sums"}),
]


@pytest.mark.parametrize(("member", "expected"), BYTE_FLIPS, ids=[m for m, _ in BYTE_FLIPS])
def test_one_changed_byte_in_any_member_fails(
    bundle: Path, tmp_path: Path, member: str, expected: set[str]
) -> None:
    members = read_members(bundle)
    members[member] = flip_byte(members[member])
    got = failed_checks(write_members(tmp_path / "t.zip", members))
    assert expected <= got, got


def test_changed_record_fails_records_even_when_resealed_and_resigned(
    bundle: Path, built: Built, tmp_path: Path
) -> None:
    members = read_members(bundle)
    lines = members[mf.RECORDS].decode().splitlines()
    rec = json.loads(lines[0])
    rec["raw"] = rec["raw"].replace("administrator", "guest")
    lines[0] = json.dumps(rec)
    members[mf.RECORDS] = ("\n".join(lines) + "\n").encode()
    forged = write_members(tmp_path / "t.zip", reseal(members, built.key))
    assert failed_checks(forged) == {"records"}
    # and against the originals the forged record is not what the file holds
    assert "sources" in failed_checks(forged, sources=built.sources)


def test_rule_copy_changed_is_caught(bundle: Path, tmp_path: Path) -> None:
    members = read_members(bundle)
    rule = next(n for n in members if n.startswith(mf.RULES_DIR) and n.endswith(".yml"))
    members[rule] = members[rule] + b"# edited\n"
    assert {"manifest", "sha256sums"} <= failed_checks(write_members(tmp_path / "t.zip", members))


def test_member_added_removed_renamed(bundle: Path, tmp_path: Path) -> None:
    members = read_members(bundle)
    added = {**members, "report/extra.txt": b"planted\n"}
    assert "members" in failed_checks(write_members(tmp_path / "a.zip", added))
    removed = {k: v for k, v in members.items() if k != mf.CERT_A}
    assert {"manifest", "sha256sums"} <= failed_checks(write_members(tmp_path / "r.zip", removed))
    renamed = {("report/cert_A.md" if k == mf.CERT_A else k): v for k, v in members.items()}
    assert {"manifest", "members", "sha256sums"} <= failed_checks(write_members(tmp_path / "n.zip", renamed))


def _custody_lines(members: dict[str, bytes]) -> list[dict[str, object]]:
    return [json.loads(x) for x in members[mf.CUSTODY].decode().splitlines()]


def _set_custody(members: dict[str, bytes], entries: list[dict[str, object]]) -> None:
    members[mf.CUSTODY] = b"".join(mf.canonical(e) + b"\n" for e in entries)


def test_custody_entry_edited_fails_custody_even_when_resealed(
    bundle: Path, built: Built, tmp_path: Path
) -> None:
    members = read_members(bundle)
    entries = _custody_lines(members)
    entries[0]["person"] = "Someone Else"
    _set_custody(members, entries)
    assert failed_checks(write_members(tmp_path / "t.zip", reseal(members, built.key))) == {"custody"}


def test_custody_entries_reordered_fail_custody(bundle: Path, built: Built, tmp_path: Path) -> None:
    members = read_members(bundle)
    entries = _custody_lines(members)
    assert len(entries) >= 2
    _set_custody(members, [entries[1], entries[0], *entries[2:]])
    assert failed_checks(write_members(tmp_path / "t.zip", reseal(members, built.key))) == {"custody"}


def test_custody_entry_removed_from_the_end_fails_against_the_manifest_head(
    bundle: Path, built: Built, tmp_path: Path
) -> None:
    members = read_members(bundle)
    _set_custody(members, _custody_lines(members)[:-1])
    assert failed_checks(write_members(tmp_path / "t.zip", reseal(members, built.key))) == {"custody"}


def test_finding_pointing_to_missing_record_fails_records(bundle: Path, built: Built, tmp_path: Path) -> None:
    members = read_members(bundle)
    findings = json.loads(members[mf.FINDINGS_JSON])
    findings[0]["records"].append(
        {"input_sha256": built.input_sha, "rec_index": 999, "ref": f"{built.input_sha}:999"}
    )
    members[mf.FINDINGS_JSON] = mf.pretty(findings)
    assert failed_checks(write_members(tmp_path / "t.zip", reseal(members, built.key))) == {"records"}


def test_record_whose_source_is_not_a_manifest_source_fails(
    bundle: Path, built: Built, tmp_path: Path
) -> None:
    members = read_members(bundle)
    man = json.loads(members[mf.MANIFEST])
    man["sources"] = []
    members[mf.MANIFEST] = mf.pretty(man)
    assert "records" in failed_checks(write_members(tmp_path / "t.zip", reseal(members, built.key)))


def test_wrong_signature(bundle: Path, built: Built, tmp_path: Path) -> None:
    members = read_members(bundle)
    other, _, other_fp = keygen(tmp_path / "other.pem")
    # re-signed by another key: the manifest names the real signer, and the expected fingerprint differs
    resigned = write_members(tmp_path / "o.zip", reseal(members, other))
    assert failed_checks(resigned) == {"signature"}
    assert failed_checks(resigned, expected_fingerprint=built.fingerprint) == {"signature"}
    # the right key, but verified against someone else's fingerprint
    assert failed_checks(bundle, expected_fingerprint=other_fp) == {"signature"}
    # a corrupted signature value
    sig = json.loads(members[mf.SIGNATURE])
    raw = bytearray(__import__("base64").b64decode(sig["signature_base64"]))
    raw[0] ^= 1
    sig["signature_base64"] = __import__("base64").b64encode(bytes(raw)).decode()
    members[mf.SIGNATURE] = json.dumps(sig).encode()
    assert failed_checks(write_members(tmp_path / "c.zip", members)) == {"signature"}
    # no signature at all
    unsigned = {k: v for k, v in read_members(bundle).items() if k != mf.SIGNATURE}
    assert failed_checks(write_members(tmp_path / "u.zip", unsigned)) == {"signature"}


def test_path_traversal_symlink_and_duplicate_members_fail_members(bundle: Path, tmp_path: Path) -> None:
    members = read_members(bundle)
    trav = write_members(tmp_path / "t.zip", {**members, "../evil.txt": b"x"})
    assert "members" in failed_checks(trav)
    link = tmp_path / "l.zip"
    shutil.copy(bundle, link)
    with zipfile.ZipFile(link, "a") as zf:
        info = zipfile.ZipInfo("report/link")
        info.create_system = 3
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    assert "members" in failed_checks(link)
    dup = tmp_path / "d.zip"
    shutil.copy(bundle, dup)
    with zipfile.ZipFile(dup, "a") as zf, pytest.warns(UserWarning):
        zf.writestr(mf.REPORT_HTML, b"<html>other</html>")
    assert "members" in failed_checks(dup)


def test_sources_changed_original_fails_sources(bundle: Path, built: Built, tmp_path: Path) -> None:
    copy = tmp_path / "originals"
    shutil.copytree(built.sources, copy)
    evtx = next(copy.rglob("*.evtx"))
    data = bytearray(evtx.read_bytes())
    data[-1] ^= 0xFF
    evtx.write_bytes(bytes(data))
    got = statuses(bundle, sources=copy)
    assert got["sources"] == FAILED
    assert statuses(bundle, sources=tmp_path / "nowhere")["sources"] == FAILED


def test_sources_found_by_content_under_another_name(bundle: Path, built: Built, tmp_path: Path) -> None:
    copy = tmp_path / "renamed"
    copy.mkdir()
    shutil.copy(next(built.sources.rglob("*.evtx")), copy / "exhibit-1.bin")
    os.chmod(copy / "exhibit-1.bin", 0o444)
    assert statuses(bundle, sources=copy)["sources"] == PASSED


def test_reproduce_requested_without_a_replayable_hunt_fails_with_reason(bundle: Path) -> None:
    checks = {c.name: c for c in verify_bundle(bundle, reproduce=True)}
    assert checks["reproduce"].status in (FAILED, PASSED)
    assert checks["reproduce"].detail


def test_timestamp_with_wrong_ist_fails_timestamps(bundle: Path, built: Built, tmp_path: Path) -> None:
    members = read_members(bundle)
    findings = json.loads(members[mf.FINDINGS_JSON])
    findings[0]["first_ist"] = findings[0]["first_utc"].replace("Z", "+05:30")
    members[mf.FINDINGS_JSON] = mf.pretty(findings)
    assert failed_checks(write_members(tmp_path / "t.zip", reseal(members, built.key))) == {"timestamps"}


def test_clock_offset_not_matching_provenance_fails_timestamps(
    bundle: Path, built: Built, tmp_path: Path
) -> None:
    members = read_members(bundle)
    rows = [json.loads(x) for x in members[mf.TIMELINE_JSONL].decode().splitlines()]
    if not any("clock_offset_s" in r for r in rows):
        pytest.skip("this timeline records no applied clock offsets")
    assert rows
    rows[0]["clock_offset_s"] = 3600.0
    members[mf.TIMELINE_JSONL] = b"".join(mf.canonical(r) + b"\n" for r in rows)
    assert failed_checks(write_members(tmp_path / "t.zip", reseal(members, built.key))) == {"timestamps"}


def test_corrupted_compressed_bytes_fail_members_and_do_not_crash(bundle: Path, tmp_path: Path) -> None:
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo(mf.REPORT_HTML)
    # flip a byte inside the member's compressed data (after its 30-byte local header and name)
    at = info.header_offset + 30 + len(info.filename.encode()) + info.compress_size // 2
    data[at] ^= 0xFF
    bad = tmp_path / "crc.zip"
    bad.write_bytes(bytes(data))
    got = failed_checks(bad)
    assert {"members", "manifest", "sha256sums"} <= got


def test_cli_verify_of_a_file_that_is_not_a_zip_exits_5(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    res = CliRunner().invoke(app, ["verify", str(junk)])
    assert res.exit_code == 5 and "FAILED" in res.output
