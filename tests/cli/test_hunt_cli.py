"""``forensics hunt``: JSON findings on stdout, summary on stderr, --fail-on exit code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from typer.testing import CliRunner

from forensics.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
from casekit import attack_case

KEYS = {"finding_id", "kind", "rule_id", "title", "level", "attack", "host", "first_ts", "last_ts", "records"}


def _case(tmp_path: Path) -> Path:
    case_dir = tmp_path / "case"
    attack_case(case_dir)[0].close()
    return case_dir


def test_json_findings_and_fail_on(tmp_path: Path) -> None:
    case_dir = _case(tmp_path)
    iocs = tmp_path / "c2.txt"
    iocs.write_text("198.51.100[.]7\n")
    runner = CliRunner()
    res = runner.invoke(app, ["hunt", str(case_dir), "--iocs", str(iocs), "--json", "--fail-on", "critical"])
    assert res.exit_code == 4, res.output  # vssadmin delete shadows is critical
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert lines and all(set(x) >= KEYS for x in lines)
    ioc = next(x for x in lines if x["rule_id"] == "ioc:ipv4:198.51.100.7")
    assert ioc["host"] == "DC01" and ioc["first_ts"].endswith("Z") and len(ioc["records"]) == 25
    assert set(ioc["records"][0]) == {"input_sha256", "rec_index"}
    assert "findings:" in res.stderr


def test_table_output_and_usage_errors(tmp_path: Path) -> None:
    case_dir = _case(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(app, ["hunt", str(case_dir), "--no-default-iocs"])
    assert ok.exit_code == 0, ok.output
    assert "shadow" in ok.stdout.lower()
    bad_level = runner.invoke(app, ["hunt", str(case_dir), "--fail-on", "severe"])
    assert bad_level.exit_code == 2
    missing = runner.invoke(app, ["hunt", str(tmp_path / "nope")])
    assert missing.exit_code == 2


def test_help_documents_exit_code() -> None:
    res = CliRunner().invoke(app, ["hunt", "--help"])
    assert res.exit_code == 0 and "--fail-on" in res.stdout and "4" in res.stdout


def test_raw_inputs_are_ingested_then_hunted(tmp_path: Path, shared_data: Path) -> None:
    evtx = shared_data / "DeepBlueCLI" / "evtx"
    inputs = [evtx / "metasploit-psexec-native-target-system.evtx", evtx / "new-user-security.evtx"]
    case_dir = tmp_path / "case"
    res = CliRunner().invoke(app, ["hunt", *map(str, inputs), "--case", str(case_dir), "--json"])
    assert res.exit_code == 0, res.output
    assert (case_dir / "findings" / "runs" / "0001" / "findings.parquet").is_file()
    rules = {json.loads(x)["rule_id"] for x in res.stdout.splitlines() if x.startswith("{")}
    assert "psexec-style-service-install" in rules  # the Metasploit PsExec service in System 7045
    again = CliRunner().invoke(app, ["hunt", str(case_dir), "--json"])  # the case itself, no re-ingest
    assert again.exit_code == 0
    assert sorted(again.stdout.splitlines()) == sorted(res.stdout.splitlines())
