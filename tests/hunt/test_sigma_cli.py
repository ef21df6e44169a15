"""``forensics rules check``: the SigmaHQ corpus converts (>= 99%), --json gives one object per rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forensics.cli import app

RULE = """title: Whoami
id: 6f0e4e2a-1c2b-4d3e-8f4a-5b6c7d8e9f00
status: test
logsource:
  product: windows
  category: process_creation
detection:
  sel:
    Image|endswith: '\\whoami.exe'
  condition: sel
level: low
"""


def test_check_json_reports_each_rule_and_survives_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(RULE)
    (tmp_path / "broken.yml").write_text("title: [oops\n")
    (tmp_path / "odd.yml").write_text(RULE.replace("category: process_creation", "service: nosuchservice"))
    res = CliRunner().invoke(app, ["rules", "check", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    by = {Path(r["path"]).name: r for r in rows}
    assert set(by) == {"good.yml", "broken.yml", "odd.yml"}
    for r in rows:
        assert {"path", "rule_id", "title", "status", "reason", "line"} <= set(r)
    assert by["good.yml"]["status"] == "converted" and by["good.yml"]["reason"] is None
    assert by["broken.yml"]["status"] == "failed" and "YAML" in by["broken.yml"]["reason"]
    assert by["odd.yml"]["status"] == "skipped" and "nosuchservice" in by["odd.yml"]["reason"]


def test_check_table_and_missing_case(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text(RULE)
    res = CliRunner().invoke(app, ["rules", "check", str(tmp_path)])
    assert res.exit_code == 0 and "1 rules: 1 converted (100.0%)" in res.stdout
    res = CliRunner().invoke(app, ["rules", "check", str(tmp_path), "--case", str(tmp_path / "nocase")])
    assert res.exit_code == 1


@pytest.mark.slow
def test_sigmahq_corpus_converts(shared_data: Path) -> None:
    rules = shared_data / "sigma" / "rules"
    res = CliRunner().invoke(app, ["rules", "check", str(rules / "windows"), str(rules / "linux"), "--json"])
    assert res.exit_code == 0
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == 2617
    converted = sum(r["status"] == "converted" for r in rows)
    assert converted / len(rows) >= 0.99
    assert all(r["reason"] for r in rows if r["status"] != "converted")
