"""Issue 14's "done when" for the rule supply: `forensics rules update --from ../shared/data/sigma/rules`
then `forensics hunt sample_data/` without --sigma runs the SigmaHQ rules, says so, and the run
record names the set and its SHA-256.

Cost: one conversion of the 2,617 rules at install, one ingest and hunt of the demo case (about
30 s of CPU), hence ``slow``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forensics import rulesets
from forensics.cli import app
from forensics.store import RUN_FILE, Case


@pytest.mark.slow
def test_installed_sigmahq_rules_hunt_the_demo_case_without_sigma(
    shared_data: Path, repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(rulesets.DATA_ENV, str(tmp_path / "data"))
    rules = shared_data / "sigma" / "rules"
    n_files = sum(1 for p in rules.rglob("*") if p.suffix in (".yml", ".yaml"))
    runner = CliRunner()
    res = runner.invoke(app, ["rules", "update", "--from", str(rules)])
    assert res.exit_code == 0, res.output
    the_set = rulesets.current()
    assert the_set is not None and the_set.files == n_files == the_set.rules
    assert f"{n_files} rule files, {n_files} rules: {the_set.converted} converted" in res.output
    assert the_set.converted >= 0.95 * n_files

    case = tmp_path / "case"
    res = runner.invoke(app, ["hunt", str(repo_root / "sample_data"), "--case", str(case), "--no-outputs"])
    assert res.exit_code == 0, res.output  # the demo collection's non-log files are no input problem
    assert f"sigma: installed set SigmaHQ local (sha256 {the_set.sha256[:16]}…): {n_files} rules" in res.output
    assert f"sigma: SigmaHQ local (sha256 {the_set.sha256[:16]}…), {n_files} rules; " in res.output
    with Case.open(case, read_only=True) as c:
        run = json.loads((c.run_dir(c.runs()[-1]) / RUN_FILE).read_text())
    recorded = run["options"]["rule_set"]
    assert recorded["sha256"] == the_set.sha256 == the_set.tree_sha256 and recorded["rules"] == n_files
    assert recorded["origin"] == str(rules.resolve()) and recorded["set_id"] == the_set.set_id
    sigma_files = [f for f in run["files"] if f["kind"] == "sigma"]
    assert len(sigma_files) == n_files and {f["root"] for f in sigma_files} == {str(the_set.rules_dir)}
    assert run["findings"]["by_kind"].get("sigma", 0) > 0  # the SigmaHQ rules fired on the demo case
