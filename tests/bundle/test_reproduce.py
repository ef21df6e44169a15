"""`verify --reproduce`: a hunt records its run, the bundle carries its rule files, and a re-run from
the originals gives the same findings; a bundle whose rules or findings were changed fails the check."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bundlekit import PINNED, read_members, reseal, write_members
from typer.testing import CliRunner

from forensics.bundle import manifest as mf
from forensics.bundle.casefile import CaseDetails
from forensics.bundle.export import export_bundle
from forensics.bundle.signing import keygen
from forensics.bundle.verify import FAILED, PASSED, verify_bundle
from forensics.cli import app
from forensics.custody import canonical_json, read_chain
from forensics.hunt.engine import DEFAULT_QUERIES, HuntOptions, HuntSummary, run_hunt
from forensics.ingest.runner import ingest_paths
from forensics.store import Case
from forensics.testing.evtx_writer import WinEvent, write_evtx

T0 = datetime(2024, 11, 2, 21, 40, tzinfo=UTC)
SEC = "Microsoft-Windows-Security-Auditing"

SIGMA = """title: Failed network logon from the spray address
id: 6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e5f
status: test
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
    IpAddress: 203.0.113.45
  condition: selection
level: medium
tags: [attack.credential_access, attack.t1110.001]
"""

SQL = """-- id: admin-logon-after-failures
-- title: Administrator logged on from an address that failed before
-- level: high
-- attack: [T1110.001]
SELECT input_sha256, rec_index, host, ts, host AS group_key, 'administrator from ' || IpAddress AS note
FROM events
WHERE event_id IN (4624, 4625) AND lower(TargetUserName) = 'administrator'
"""

YARA = """rule evtx_file_header {
  meta:
    description = "An EVTX file (scanned as a file, not as events)"
  strings:
    $magic = "ElfFile"
  condition:
    $magic at 0
}
"""


@dataclass
class Hunted:
    """A hunted case, its originals, its rule files, a key pair and a signed bundle of it."""

    case: Path
    sources: Path
    rules: Path
    key: Path
    pub: Path
    bundle: Path
    summary: HuntSummary


def _events() -> list[WinEvent]:
    evs = [
        WinEvent(SEC, 4625, T0.replace(second=i), "Security", "HOSP-DC01",
                 event_data=(("TargetUserName", "administrator"), ("IpAddress", "203.0.113.45"), ("LogonType", "3")))
        for i in range(3)
    ]  # fmt: skip
    evs.append(WinEvent(SEC, 4624, T0.replace(minute=41), "Security", "HOSP-DC01",
                        event_data=(("TargetUserName", "administrator"), ("IpAddress", "203.0.113.45"))))  # fmt: skip
    evs.append(WinEvent("Microsoft-Windows-Eventlog", 1102, T0.replace(minute=50), "Security", "HOSP-DC01",
                        user_data=("LogFileCleared", (("SubjectUserName", "administrator"),))))  # fmt: skip
    return evs


@pytest.fixture(scope="module")
def hunted(tmp_path_factory: pytest.TempPathFactory) -> Hunted:
    """Ingest a synthetic Security log, hunt it with a Sigma rule, a SQL query and an IOC list, export it."""
    root = tmp_path_factory.mktemp("reproduce")
    sources = root / "originals"
    evtx = write_evtx(sources / "HOSP-DC01" / "Security.evtx", _events())
    case_dir = root / "case"
    ingest_paths(case_dir, [evtx], workers=1)
    rules = root / "rules"
    (rules / "sigma" / "windows").mkdir(parents=True)
    (rules / "sigma" / "windows" / "failed_logon.yml").write_text(SIGMA, encoding="utf-8")
    (rules / "queries").mkdir()
    (rules / "queries" / "admin_after_failures.sql").write_text(SQL, encoding="utf-8")
    (rules / "c2.txt").write_text("TLP:AMBER\n203.0.113[.]45\n", encoding="utf-8")
    (rules / "evtx_file.yar").write_text(YARA, encoding="utf-8")
    options = HuntOptions(sigma=[rules / "sigma"], queries=[rules / "queries"], iocs=[rules / "c2.txt"],
                          yara=[rules / "evtx_file.yar"], scan_paths=[sources])  # fmt: skip
    with Case.open(case_dir) as case:
        summary = run_hunt(
            case, options, argv=["forensics", "hunt", str(case_dir), "--sigma", str(rules / "sigma")]
        )
    key, pub, _fp = keygen(root / "keys" / "signer.pem")
    details = CaseDetails(fir_number="0042/2025", police_station="Cyber Crime PS, Bengaluru", agency="CID Karnataka",
                          sections=["66 IT Act"], proceeding_date="2025-01-15", operator="Analyst Iyer",
                          organisation="City Hospital")  # fmt: skip
    bundle = root / "bundle.zip"
    export_bundle(case_dir, bundle, details, created=PINNED, key_path=key)
    return Hunted(case_dir, sources, rules, key, pub, bundle, summary)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_hunt_writes_a_canonical_run_record_naming_every_file_it_read(hunted: Hunted) -> None:
    assert hunted.summary.by_kind().keys() >= {"sigma", "sql", "ioc", "yara"}  # every inline rule fired
    assert hunted.summary.run_file is not None
    raw = hunted.summary.run_file.read_bytes()
    run = json.loads(raw)
    assert raw == canonical_json(run) + b"\n"
    assert run["exit_code"] == 0 and run["argv"][:2] == ["forensics", "hunt"]
    assert run["started_utc"].endswith("Z") and run["ended_utc"] >= run["started_utc"]
    assert run["options"]["default_queries"] is True and run["options"]["yara_timeout"] == 30
    files = {(f["kind"], Path(f["path"]).name): f for f in run["files"]}
    sigma = files[("sigma", "failed_logon.yml")]
    assert sigma["rel"] == "windows/failed_logon.yml"
    assert sigma["sha256"] == _sha(hunted.rules / "sigma" / "windows" / "failed_logon.yml")
    assert files[("sql", "admin_after_failures.sql")]["sha256"] == _sha(
        hunted.rules / "queries" / "admin_after_failures.sql"
    )
    assert files[("ioc", "c2.txt")]["sha256"] == _sha(hunted.rules / "c2.txt")
    # a shipped hunt is named by its place in the package, whatever the install
    assert files[("sql", "log_clearing.sql")]["path"] == "forensics/queries/log_clearing.sql"
    assert files[("sql", "log_clearing.sql")]["sha256"] == _sha(DEFAULT_QUERIES / "log_clearing.sql")
    assert any(kind == "yara" for kind, _ in files)  # the project's iocs/ YARA rules
    rel = f"findings/runs/{hunted.summary.run_id}/findings.parquet"
    assert run["run_id"] == hunted.summary.run_id and run["outputs"][rel] == _sha(hunted.case / rel)


def test_hunt_appends_an_analysed_custody_entry_with_the_findings_hashes(hunted: Hunted) -> None:
    last = read_chain(hunted.case)[-2]  # the export's own entry comes after it
    assert last["action"] == "analysed" and last["purpose"] == "hunt"
    assert last["command"][:2] == ["forensics", "hunt"]
    hashes = last["item_hashes"]
    for name in ("findings.parquet", "finding_records.parquet", "iocs.parquet", "run.json"):
        rel = f"findings/runs/{hunted.summary.run_id}/{name}"
        assert hashes[rel] == _sha(hunted.case / rel)


def test_bundle_carries_every_recorded_rule_file_with_its_kind(hunted: Hunted) -> None:
    members = read_members(hunted.bundle)
    index = json.loads(members[mf.RULES_INDEX])
    assert hunted.summary.run_file is not None
    run = json.loads(hunted.summary.run_file.read_bytes())
    assert len(index) == len(run["files"])
    for entry in index:
        assert entry["status"] == "included", entry
        assert hashlib.sha256(members[entry["member"]]).hexdigest() == entry["recorded_sha256"]
    assert {e["kind"] for e in index} == {"sigma", "sql", "ioc", "yara"}
    steps = [json.loads(x) for x in members[mf.COMMANDS].splitlines()]
    assert any(s["step"] == "hunt" and s["run"]["files"] == run["files"] for s in steps)


def test_verify_reproduce_passes_from_the_originals(hunted: Hunted) -> None:
    res = CliRunner().invoke(
        app,
        [
            "verify",
            str(hunted.bundle),
            "--key",
            str(hunted.pub),
            "--sources",
            str(hunted.sources),
            "--reproduce",
        ],
    )
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if "reproduce" in ln)
    n = len(hunted.summary.findings)
    assert line.startswith("PASSED") and f"{n - 1} findings reproduced identically" in line
    assert "1 YARA file hits matched the same rules on the same file bytes" in line


def _checks(path: Path, hunted: Hunted) -> dict[str, tuple[str, str]]:
    return {
        c.name: (c.status, c.detail)
        for c in verify_bundle(path, key=hunted.pub, sources=hunted.sources, reproduce=True)
    }


def test_resigned_bundle_with_a_changed_rule_fails_only_reproduce(hunted: Hunted, tmp_path: Path) -> None:
    members = read_members(hunted.bundle)
    name = next(n for n in members if n.startswith(mf.RULES_DIR) and n.endswith("admin_after_failures.sql"))
    members[name] = members[name].replace(b"-- level: high", b"-- level: low")
    bad = write_members(tmp_path / "forged.zip", reseal(members, hunted.key))
    got = _checks(bad, hunted)
    assert {k for k, (s, _) in got.items() if s == FAILED} == {"reproduce"}
    assert "admin_after_failures.sql" in got["reproduce"][1] and "SHA-256" in got["reproduce"][1]


def test_resigned_bundle_with_rule_and_run_record_changed_fails_on_the_findings(
    hunted: Hunted, tmp_path: Path
) -> None:
    """A forger who also rewrites the recorded hash: the re-run's findings then differ from the bundle's."""
    members = read_members(hunted.bundle)
    name = next(n for n in members if n.startswith(mf.RULES_DIR) and n.endswith("admin_after_failures.sql"))
    old_sha = hashlib.sha256(members[name]).hexdigest()
    members[name] = members[name].replace(b"-- level: high", b"-- level: low")
    new_sha = hashlib.sha256(members[name]).hexdigest()
    for member in (mf.COMMANDS, mf.RULES_INDEX):
        members[member] = members[member].replace(old_sha.encode(), new_sha.encode())
    bad = write_members(tmp_path / "forged.zip", reseal(members, hunted.key))
    got = _checks(bad, hunted)
    assert got["reproduce"][0] == FAILED
    assert "changed: sql admin-logon-after-failures" in got["reproduce"][1]
    assert got["signature"][0] == PASSED and got["manifest"][0] == PASSED


def test_resigned_bundle_with_a_finding_removed_fails_reproduce(hunted: Hunted, tmp_path: Path) -> None:
    members = read_members(hunted.bundle)
    findings = [f for f in json.loads(members[mf.FINDINGS_JSON]) if f["kind"] != "ioc"]
    members[mf.FINDINGS_JSON] = mf.pretty(findings)
    bad = write_members(tmp_path / "forged.zip", reseal(members, hunted.key))
    got = _checks(bad, hunted)
    assert got["reproduce"][0] == FAILED
    assert "new in the re-run: ioc ioc:ipv4:203.0.113.45" in got["reproduce"][1]
    assert got["signature"][0] == PASSED and got["sha256sums"][0] == PASSED


def test_reproduce_without_sources_fails_and_says_why(hunted: Hunted) -> None:
    got = {c.name: c for c in verify_bundle(hunted.bundle, reproduce=True)}
    assert got["reproduce"].status == FAILED and "--sources" in got["reproduce"].detail


def test_red_ioc_list_stays_out_of_a_wider_bundle_and_reproduce_says_so(
    hunted: Hunted, tmp_path: Path
) -> None:
    case_dir = tmp_path / "case"
    ingest_paths(case_dir, [hunted.sources], workers=1)
    red = tmp_path / "partner_c2.txt"
    red.write_text("TLP:RED\n203.0.113[.]45\n", encoding="utf-8")
    with Case.open(case_dir) as case:
        run_hunt(case, HuntOptions(iocs=[red], default_queries=False, default_iocs=False))
    details = CaseDetails(
        fir_number="0042/2025", agency="CID Karnataka", operator="Analyst Iyer", tlp="TLP:AMBER"
    )
    bundle = tmp_path / "amber.zip"
    export_bundle(case_dir, bundle, details, created=PINNED, key_path=hunted.key)
    members = read_members(bundle)
    assert not any(red.read_bytes() == data for data in members.values())  # the RED list did not leave
    entry = next(e for e in json.loads(members[mf.RULES_INDEX]) if e["path"] == str(red))
    assert entry["status"].startswith("withheld") and "member" not in entry
    got = _checks(bundle, hunted)
    assert (
        got["reproduce"][0] == FAILED
        and "partner_c2.txt is not in the bundle (withheld" in got["reproduce"][1]
    )
