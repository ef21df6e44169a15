"""A hunt without --sigma uses the installed rule set, says which, records it in its run, and
`verify --reproduce` replays those same rules from the bundle even after another set became current.

Cost: one small synthetic case and a one-rule set (a few seconds); the SigmaHQ corpus end to end
is in tests/test_rule_supply_e2e.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bundlekit import PINNED
from typer.testing import CliRunner

from forensics import rulesets
from forensics.bundle.casefile import CaseDetails
from forensics.bundle.export import export_bundle
from forensics.bundle.signing import keygen
from forensics.bundle.verify import PASSED, verify_bundle
from forensics.cli import app
from forensics.ingest.runner import ingest_paths
from forensics.store import RUN_FILE, Case
from forensics.testing.evtx_writer import WinEvent, write_evtx

T0 = datetime(2024, 11, 2, 21, 40, tzinfo=UTC)
SEC = "Microsoft-Windows-Security-Auditing"
RULE = """title: Failed network logon from the spray address
id: 0b6a3c55-9d0e-4f7a-8a51-2f3c4d5e6f70
status: test
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4625
    IpAddress: 203.0.113.45
  condition: selection
level: medium
"""


def test_hunt_uses_records_and_replays_the_installed_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(rulesets.DATA_ENV, str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    sources = tmp_path / "originals"
    events = [
        WinEvent(SEC, 4625, T0.replace(second=i), "Security", "HOSP-DC01",
                 event_data=(("TargetUserName", "administrator"), ("IpAddress", "203.0.113.45"), ("LogonType", "3")))
        for i in range(3)
    ]  # fmt: skip
    ingest_paths(tmp_path / "case", [write_evtx(sources / "HOSP-DC01" / "Security.evtx", events)], workers=1)
    runner = CliRunner()

    none = runner.invoke(app, ["hunt", "case", "--no-outputs", "--no-default-queries", "--no-default-iocs"])
    assert none.exit_code == 0, none.output
    assert "no rule set installed: `forensics rules update`" in none.output

    rules = tmp_path / "my-rules" / "windows"
    rules.mkdir(parents=True)
    (rules / "spray.yml").write_text(RULE, encoding="utf-8")
    assert (
        runner.invoke(app, ["rules", "update", "--from", str(rules.parent), "--version", "v1"]).exit_code == 0
    )
    the_set = rulesets.current()
    assert the_set is not None

    res = runner.invoke(app, ["hunt", "case", "--no-outputs", "--no-default-queries", "--no-default-iocs"])
    assert res.exit_code == 0, res.output
    assert f"installed set SigmaHQ v1 (sha256 {the_set.sha256[:16]}…): 1 rules, 1 converted" in res.output
    assert "sigma: SigmaHQ v1" in res.output and "1 converted" in res.output
    with Case.open(tmp_path / "case", read_only=True) as c:
        run = json.loads((c.run_dir(c.runs()[-1]) / RUN_FILE).read_text())
    recorded = run["options"]["rule_set"]
    assert (recorded["version"], recorded["sha256"], recorded["rules"]) == ("v1", the_set.sha256, 1)
    assert [(f["kind"], f["rel"], f["root"]) for f in run["files"]] == [
        ("sigma", "windows/spray.yml", str(the_set.rules_dir))
    ]
    assert run["findings"]["by_kind"] == {"sigma": 1}

    # another set becomes current; the bundle still replays the rules the hunt used
    other = tmp_path / "other-rules"
    other.mkdir()
    (other / "spray.yml").write_text(RULE.replace("level: medium", "level: high"), encoding="utf-8")
    assert runner.invoke(app, ["rules", "update", "--from", str(other), "--version", "v2"]).exit_code == 0
    key, pub, _ = keygen(tmp_path / "keys" / "signer.pem")
    details = CaseDetails(fir_number="0042/2025", police_station="Cyber Crime PS, Bengaluru", agency="CID Karnataka",
                          sections=["66 IT Act"], proceeding_date="2025-01-15", operator="Analyst Iyer",
                          organisation="City Hospital")  # fmt: skip
    bundle = tmp_path / "bundle.zip"
    export_bundle(tmp_path / "case", bundle, details, created=PINNED, key_path=key)
    checks = {c.name: c for c in verify_bundle(bundle, key=pub, sources=sources, reproduce=True)}
    assert checks["reproduce"].status == PASSED, checks["reproduce"].detail
    assert "1 findings reproduced identically" in checks["reproduce"].detail
