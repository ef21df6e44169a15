"""`verify` is honest about trust: an unpinned signer is UNVERIFIED (exit 6), never PASSED with
exit 0, so a full forgery cannot pass; VERIFY.md sends the recipient out of band for the
fingerprint; inputs without a custody entry are named at export and fail `verify`'s custody check.
"""

from __future__ import annotations

import json
from pathlib import Path

from bundlekit import PINNED, Built, read_members, reseal, write_members
from typer.testing import CliRunner

from forensics.bundle import manifest as mf
from forensics.bundle.casefile import CaseDetails
from forensics.bundle.export import export_bundle
from forensics.bundle.signing import keygen
from forensics.bundle.verify import FAILED, PASSED, SKIPPED, UNVERIFIED, outcome, verify_bundle
from forensics.cli import app
from forensics.custody import append_entry, sources_without_custody
from forensics.ingest.runner import ingest_paths
from forensics.testing.evtx_writer import WinEvent, write_evtx

RUNNER = CliRunner()


def _verify(*args: str) -> tuple[int, dict[str, str], str]:
    res = RUNNER.invoke(app, ["verify", *args])
    lines = [ln.split(maxsplit=2) for ln in res.stdout.splitlines() if ln.strip()]
    return res.exit_code, {ln[1]: ln[0] for ln in lines}, res.stdout + res.stderr


def _forge(bundle: Path, tmp_path: Path) -> tuple[Path, str]:
    """Content edited, every hash updated, the manifest's signer pointed at the forger's key, re-signed."""
    members = read_members(bundle)
    findings = json.loads(members[mf.FINDINGS_JSON])
    findings[0]["title"] = "nothing happened here"
    members[mf.FINDINGS_JSON] = mf.pretty(findings)
    forger_key, _, forger_fp = keygen(tmp_path / "forger.pem")
    man = json.loads(members[mf.MANIFEST])
    man["signer"] = {"algorithm": "Ed25519", "fingerprint": forger_fp}
    members[mf.MANIFEST] = mf.pretty(man)
    return write_members(tmp_path / "forged.zip", reseal(members, forger_key)), forger_fp


def test_a_full_forgery_never_passes(bundle: Path, built: Built, tmp_path: Path) -> None:
    forged, forger_fp = _forge(bundle, tmp_path)
    # without a pinned signer: every other check passes (the forgery is complete) but not the signer
    code, lines, text = _verify(str(forged))
    assert code == 6, text
    assert lines.pop("signature") == "UNVERIFIED" and forger_fp in text
    assert set(lines.values()) <= {"PASSED", "SKIPPED"}
    assert "out of band" in text
    # with the signer's real fingerprint or key: the forgery fails
    code, lines, _ = _verify(str(forged), "--fingerprint", built.fingerprint)
    assert code == 5 and lines["signature"] == "FAILED"
    code, lines, _ = _verify(str(forged), "--key", str(built.key) + ".pub")
    assert code == 5 and lines["signature"] == "FAILED"


def test_the_genuine_bundle_passes_only_when_the_signer_is_pinned(bundle: Path, built: Built) -> None:
    code, lines, text = _verify(str(bundle))
    assert code == 6 and lines["signature"] == "UNVERIFIED" and "UNVERIFIED" in text
    code, lines, _ = _verify(str(bundle), "--fingerprint", built.fingerprint)
    assert code == 0 and lines["signature"] == "PASSED"
    res = RUNNER.invoke(app, ["verify", str(bundle), "--json"])
    assert res.exit_code == 6
    assert json.loads(res.stdout.splitlines()[0]) == {
        "check": "signature", "status": "unverified",
        "detail": json.loads(res.stdout.splitlines()[0])["detail"],
    }  # fmt: skip
    checks = verify_bundle(bundle)
    assert outcome(checks) == "unverified" and checks[0].status == UNVERIFIED


def test_verify_md_sends_the_recipient_out_of_band(bundle: Path, built: Built) -> None:
    text = read_members(bundle)[mf.VERIFY_MD].decode("utf-8")
    assert built.fingerprint in text
    assert "out of band" in text and "certificate" in text and "Do not take that from the bundle" in text
    assert "exits 6" in text
    part_b = read_members(bundle)[mf.CERT_B].decode("utf-8")
    assert built.fingerprint in part_b  # the certificate carries it, for the recipient to compare


def _case_without_custody_for_its_input(root: Path) -> tuple[Path, Path]:
    evtx = write_evtx(root / "originals" / "Security.evtx",
                      [WinEvent("Microsoft-Windows-Security-Auditing", 4624, PINNED, "Security", "DC01")])  # fmt: skip
    case = root / "case"
    ingest_paths(case, [evtx], workers=1)
    # as if the ingest was killed before its custody entry, and a person then logged a receipt
    (case / "custody.jsonl").unlink()
    append_entry(case, "received", person="SI Rao", location="Cyber PS", purpose="analysis")
    return case, evtx


def test_inputs_without_a_custody_entry_are_named_and_fail_custody(tmp_path: Path) -> None:
    case, evtx = _case_without_custody_for_its_input(tmp_path)
    key, _, fp = keygen(tmp_path / "k.pem")
    out = tmp_path / "b.zip"
    res = RUNNER.invoke(app, ["export", str(case), "--out", str(out), "--key", str(key), "--fir", "1/2025"])
    assert res.exit_code == 0, res.output
    assert "1 input(s) are hashed in no custody entry" in res.stderr and str(evtx) in res.stderr
    checks = {c.name: c for c in verify_bundle(out, expected_fingerprint=fp)}
    assert checks["custody"].status == FAILED and str(evtx) in checks["custody"].detail
    assert checks["signature"].status == PASSED and checks["records"].status in (PASSED, SKIPPED)
    # once a person records the hashes, a new export verifies
    sha = json.loads(read_members(out)[mf.MANIFEST])["sources"][0]["acquisition_sha256"]
    res = RUNNER.invoke(app, ["custody", str(case), "add", "--action", "hashed", "--person", "SI Rao",
                              "--place", "Cyber PS", "--purpose", "hash on receipt", "--hash", f"{evtx.name}={sha}"])  # fmt: skip
    assert res.exit_code == 0, res.output
    again = tmp_path / "again.zip"
    export_bundle(case, again, CaseDetails(fir_number="1/2025"), key_path=key)
    assert {c.name: c.status for c in verify_bundle(again, expected_fingerprint=fp)}["custody"] == PASSED


def test_sources_without_custody_names_each_unhashed_source() -> None:
    sources = [
        {"acquisition_sha256": "AA", "original_path": "/e/a.evtx"},
        {"acquisition_sha256": "bb", "original_path": "/e/x.zip", "member": "b.log"},
        {"acquisition_sha256": None, "original_path": "/e/unreadable"},
    ]
    entries = [{"item_hashes": {"/e/a.evtx": "aa"}}, {"item_hashes": {}}, {}]
    assert sources_without_custody(sources, entries) == ["/e/x.zip [b.log]"]


def test_a_forged_custody_coverage_is_caught_even_resealed(
    bundle: Path, built: Built, tmp_path: Path
) -> None:
    """A source added to the manifest after the fact has no custody entry: custody fails."""
    members = read_members(bundle)
    man = json.loads(members[mf.MANIFEST])
    extra = dict(man["sources"][0], acquisition_sha256="f" * 64, original_path="/planted/evidence.evtx")
    man["sources"].append(extra)
    members[mf.MANIFEST] = mf.pretty(man)
    resealed = write_members(tmp_path / "planted.zip", reseal(members, built.key))
    checks = {c.name: c for c in verify_bundle(resealed, expected_fingerprint=built.fingerprint)}
    assert checks["custody"].status == FAILED and "/planted/evidence.evtx" in checks["custody"].detail
