"""Progress on the steps that take more than a few seconds (issue 14 item 6): reading, preparing,
converting and running Sigma rules, in ``rules check`` and in a hunt (on the SigmaHQ corpus
`forensics rules check` takes ~10 s, a first hunt with it longer); the stages of an export (~20 s
on the demo case) and the checks of a verify (``--reproduce`` re-runs the hunt).

Cost: 40 generated rules, one small case, one subprocess pair: ~10 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from forensics.hunt.sigma import check_rules, run_sigma

RULE = """title: Generated rule {n}
id: 6f3e2a10-0000-4000-8000-{n:012d}
status: test
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: {eid}
  condition: selection
level: low
"""


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for n in range(1, 41):
        (folder / f"r{n:02d}.yml").write_text(RULE.format(n=n, eid=4600 + n), encoding="utf-8")
    return folder


class Recorder:
    """Every (stage, done, total) heard, checked as a bar would draw them."""

    def __init__(self) -> None:
        self.seen: dict[str, list[tuple[int, int]]] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        self.seen.setdefault(what.partition(":")[0], []).append((done, total))  # "exporting: records"

    def finished(self) -> dict[str, int]:
        out = {}
        for what, steps in self.seen.items():
            dones = [d for d, _ in steps]
            assert dones == sorted(dones), (what, dones)  # never goes back
            assert len({t for _, t in steps}) == 1, what  # one total per stage
            assert steps[-1][0] == steps[-1][1], (what, steps[-1])  # ends at its total
            out[what] = steps[-1][1]
        return out


def test_rules_check_reports_every_stage(rules: Path) -> None:
    heard = Recorder()
    report = check_rules([rules], progress=heard)
    assert len(report) == 40
    assert heard.finished() == {"reading rules": 40, "preparing rules": 40, "converting rules": 40}


def test_a_hunt_reports_every_stage(rules: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
    from casekit import attack_case

    case, _ = attack_case(tmp_path / "case")
    heard = Recorder()
    try:
        run_sigma(case, [rules], progress=heard, use_cache=False)
    finally:
        case.close()
    done = heard.finished()
    assert done["reading rules"] == done["preparing rules"] == done["converting rules"] == 40
    assert done["running rules"] >= 1


def test_the_cli_draws_bars_on_a_terminal_and_not_under_quiet(rules: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | {"FORCE_COLOR": "1"}  # a terminal
    run = [sys.executable, "-m", "forensics", "rules", "check", str(rules)]
    shown = subprocess.run(run, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert shown.returncode == 0, shown.stderr
    assert "40/40" in shown.stderr and "converting rules" in shown.stderr
    assert "40 rules: 40 converted" in shown.stdout
    quiet = subprocess.run([*run, "-q"], capture_output=True, text=True, env=env, timeout=300, check=False)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == shown.stdout


def test_export_and_verify_report_their_stages(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
    from casekit import attack_case

    from forensics.bundle.casefile import CaseDetails
    from forensics.bundle.export import export_bundle
    from forensics.bundle.verify import verify_bundle

    case, _ = attack_case(tmp_path / "case")
    case.close()
    heard = Recorder()
    export_bundle(tmp_path / "case", tmp_path / "b.zip", CaseDetails(), progress=heard, record_custody=False)
    assert heard.finished() == {"exporting": 5}
    heard = Recorder()
    checks = verify_bundle(tmp_path / "b.zip", progress=heard)
    assert heard.finished() == {"verifying": len(checks)}
