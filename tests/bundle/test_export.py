"""`export`: layout, determinism, coreutils-checkable hashes, certificates, CERT-In report, TLP."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from bundlekit import PINNED, Built, read_members
from typer.testing import CliRunner

from forensics.bundle import manifest as mf
from forensics.bundle.casefile import CaseDetails
from forensics.cli import app
from forensics.custody import read_chain

LAYOUT = (
    mf.MANIFEST, mf.SIGNATURE, mf.SHA256SUMS, mf.MD5SUMS, mf.CUSTODY, mf.COMMANDS, mf.ENVIRONMENT, mf.RULES_INDEX,
    mf.RECORDS, mf.FINDINGS_JSON, mf.FINDINGS_CSV, mf.TIMELINE_CSV, mf.TIMELINE_JSONL, mf.REPORT_HTML, mf.CERT_A,
    mf.CERT_B, mf.CERTIN, mf.VERIFY_MD,
)  # fmt: skip


def test_layout_and_manifest(bundle: Path, built: Built) -> None:
    members = read_members(bundle)
    assert set(LAYOUT) <= set(members)
    assert any(n.startswith(mf.RULES_DIR) and n.endswith("brute_force.yml") for n in members)
    man = json.loads(members[mf.MANIFEST])
    assert man["case"]["fir_number"] == "0042/2025"
    assert man["created"] == {"utc": "2025-03-04T05:06:07.000000Z", "ist": "2025-03-04T10:36:07.000000+05:30"}
    assert man["signer"]["fingerprint"] == built.fingerprint
    listed = {f["path"]: f for f in man["files"]}
    assert set(listed) == set(members) - {mf.MANIFEST, mf.SIGNATURE}
    assert listed[mf.RECORDS]["role"] == "source" and listed[mf.REPORT_HTML]["role"] == "report"
    assert [s["acquisition_sha256"] for s in man["sources"]] == [built.input_sha]
    assert (
        man["custody"]["entries"] == 3
    )  # collected, hashed (ingest), analysed; exports come after the bundle
    assert built.fingerprint in members[mf.VERIFY_MD].decode()


def test_two_exports_with_the_same_pinned_time_are_byte_identical(built: Built, tmp_path: Path) -> None:
    a = built.export(tmp_path / "a.zip")
    b = built.export(tmp_path / "b.zip")
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    for i in infos:
        assert i.date_time == (2025, 3, 4, 5, 6, 6)  # the pinned time; zip stores seconds in 2 s steps
        assert i.create_system == 3 and i.external_attr >> 16 == 0o100644 and i.extra == b""


def test_export_records_its_custody_entry_in_the_case_after_the_bundle(built: Built, tmp_path: Path) -> None:
    out = built.export(tmp_path / "c.zip")
    last = read_chain(built.case)[-1]
    assert last["action"] == "exported"
    import hashlib

    assert last["item_hashes"]["bundle.zip"] == hashlib.sha256(out.read_bytes()).hexdigest()


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not installed")
def test_unzipped_bundle_checks_with_plain_coreutils(bundle: Path, tmp_path: Path) -> None:
    dest = tmp_path / "unzipped"
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(dest)
    res = subprocess.run(
        ["sha256sum", "-c", "hashes/SHA256SUMS"], cwd=dest, capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count(": OK") == len(read_members(bundle)) - 4
    md5 = subprocess.run(
        ["md5sum", "-c", "hashes/MD5SUMS"], cwd=dest, capture_output=True, text=True, check=False
    )
    assert md5.returncode == 0, md5.stdout + md5.stderr
    (dest / mf.CERT_A).write_text("changed\n")
    bad = subprocess.run(
        ["sha256sum", "-c", "hashes/SHA256SUMS"], cwd=dest, capture_output=True, text=True, check=False
    )
    assert bad.returncode != 0 and "certificate_partA.md: FAILED" in bad.stdout


@pytest.mark.parametrize(
    ("proceeding", "statute", "other"),
    [("2023-06-01", "Section 65B(4) of the Indian Evidence Act, 1872", "Bharatiya Sakshya"),
     ("2025-02-01", "Section 63(4)(c) of the Bharatiya Sakshya Adhiniyam, 2023", "Indian Evidence Act")],
)  # fmt: skip
def test_certificate_statute_follows_the_proceeding_date(
    built: Built, tmp_path: Path, proceeding: str, statute: str, other: str
) -> None:
    details = built.details.merged(proceeding_date=proceeding)
    members = read_members(built.export(tmp_path / "x.zip", details=details))
    for part in (mf.CERT_A, mf.CERT_B):
        text = members[part].decode()
        assert statute in text.splitlines()[0]
        assert other not in text.splitlines()[0]
        assert built.input_sha in text  # hash value, with the algorithm named
        assert "[x] SHA-256" in text
        assert "HOSP-DC01" in text
        assert "log cleared" in text  # the known defect: Security 1102
        assert "Date (DD/MM/YYYY): ____/____/________" in text
        assert "04/03/2025 at 10:36 IST" in text  # pre-filled at export time, DD/MM/YYYY and IST 24h


def test_certin_report_prefilled(bundle: Path) -> None:
    text = read_members(bundle)[mf.CERTIN].decode()
    # earliest activity 2024-11-02 21:40 UTC is 03/11/2024 03:10 IST
    assert "Earliest malicious activity seen in the logs: 03/11/2024 03:10:00 IST" in text
    assert "host HOSP-DC01; OS Windows" in text
    assert "Brute force" in text and "inferred from findings" in text
    assert "collected by SI Rao" in text


def test_tlp_red_hits_left_out_of_a_wider_bundle_and_said_so(
    built: Built, bundle: Path, tmp_path: Path
) -> None:
    members = read_members(bundle)
    titles = {f["title"] for f in json.loads(members[mf.FINDINGS_JSON])}
    assert "Known C2 address" not in titles and "Security log cleared" in titles
    assert b"Known C2 address" not in b"".join(members.values())
    man = json.loads(members[mf.MANIFEST])
    assert man["tlp"]["bundle"] == "TLP:AMBER" and man["tlp"]["withheld_findings"] == 1
    red = read_members(built.export(tmp_path / "red.zip", details=built.details.merged(tlp="red")))
    assert "Known C2 address" in {f["title"] for f in json.loads(red[mf.FINDINGS_JSON])}
    assert json.loads(red[mf.MANIFEST])["tlp"]["withheld_findings"] == 0


def test_records_are_the_raw_evtx_records_with_hashes(bundle: Path, built: Built) -> None:
    recs = [json.loads(x) for x in read_members(bundle)[mf.RECORDS].decode().splitlines()]
    assert [r["rec_index"] for r in recs] == [0, 1, 2, 3, 4]
    for r in recs:
        assert r["kind"] == "evtx" and r["input_sha256"] == built.input_sha
        assert r["raw"].startswith("<?xml") and "<EventRecordID>" in r["raw"]
        assert r["record_id"] == r["rec_index"] + 1


def test_cli_export_with_case_file_and_keygen(built: Built, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["keygen", str(tmp_path / "k.pem")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    case_file = tmp_path / "case.yaml"
    case_file.write_text(
        "fir_number: 7/2023\npolice_station: Cyber PS\nproceeding_date: 2023-03-01\ntlp: amber\n"
    )
    args = ["export", str(built.case), "--case-file", str(case_file), "--key", str(tmp_path / "k.pem"),
            "--created", PINNED.isoformat(), "--operator", "Analyst Iyer"]  # fmt: skip
    one = runner.invoke(app, [*args, "--out", str(tmp_path / "one.zip")])
    two = runner.invoke(app, [*args, "--out", str(tmp_path / "two.zip")])
    assert one.exit_code == 0 and two.exit_code == 0, one.output + two.output
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()
    members = read_members(tmp_path / "one.zip")
    assert "65B" in members[mf.CERT_A].decode().splitlines()[0]
    case = json.loads(members[mf.MANIFEST])["case"]
    assert case["fir_number"] == "7/2023" and case["operator"] == "Analyst Iyer"
    res = runner.invoke(app, ["verify", str(tmp_path / "one.zip"), "--key", str(tmp_path / "k.pem.pub")])
    assert res.exit_code == 0, res.output


def test_case_details_refuse_unknown_tlp_and_keys(tmp_path: Path) -> None:
    from forensics.bundle.casefile import load_case_file
    from forensics.errors import BundleError

    with pytest.raises(BundleError):
        CaseDetails(tlp="purple")
    bad = tmp_path / "c.json"
    bad.write_text('{"fir": "1"}')
    with pytest.raises(BundleError, match="unknown key"):
        load_case_file(bad)


def test_bundle_of_a_multi_host_case_with_timeline_and_report_is_deterministic_and_verifies(
    tmp_path: Path,
) -> None:
    from casekit import attack_case

    from forensics.bundle.export import export_bundle
    from forensics.bundle.signing import keygen
    from forensics.bundle.verify import FAILED, verify_bundle

    case, _ = attack_case(tmp_path / "case")
    case.close()
    key, _, fp = keygen(tmp_path / "k.pem")
    details = CaseDetails(fir_number="5/2024", proceeding_date="2024-03-06", tlp="GREEN")
    outs = [tmp_path / "a.zip", tmp_path / "b.zip"]
    for out in outs:
        export_bundle(tmp_path / "case", out, details, created=PINNED, key_path=key)
    assert outs[0].read_bytes() == outs[1].read_bytes()
    checks = verify_bundle(outs[0], expected_fingerprint=fp)
    assert not [c for c in checks if c.status == FAILED], checks
    members = read_members(outs[0])
    hosts = {json.loads(x).get("host") for x in members[mf.TIMELINE_JSONL].decode().splitlines()}
    assert len(hosts - {None}) >= 2
    assert "Section 65B(4)" in members[mf.CERT_B].decode().splitlines()[0]  # began 06/03/2024, before BSA
