"""Choosing and tuning rules at hunt time, the rule sets' own lists, and one finding per rule both
sets hold (SigmaHQ's original and Hayabusa's rewrites)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/casekit.py, the shared case builder
from casekit import at, build_case

from forensics.cli import app
from forensics.hunt.engine import HuntOptions, replay, run_hunt
from forensics.hunt.sigma import run_sigma
from forensics.hunt.sigma.tuning import Tuning, TuningError, build_tuning, parse_statuses
from forensics.store import Case

SIGMAHQ_ID = "5b0e1c3a-7d1e-4f4b-8a35-0a1b2c3d4e99"
SIGMAHQ = f"""title: Whoami Execution
id: {SIGMAHQ_ID}
status: test
level: high
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\whoami.exe'
    condition: selection
tags:
    - attack.discovery
"""


def _rewrite(new_id: str, channel: str, eid: int, image_field: str) -> str:
    """Hayabusa's rewrite of the rule above: a new id, related: derived, explicit Channel/EventID."""
    return f"""title: Whoami Execution
id: {new_id}
related:
    - id: {SIGMAHQ_ID}
      type: derived
status: test
level: high
logsource:
    category: process_creation
    product: windows
detection:
    process_creation:
        EventID: {eid}
        Channel: {channel}
    selection:
        {image_field}|endswith: '\\whoami.exe'
    condition: process_creation and selection
tags:
    - attack.discovery
    - sysmon
ruletype: Sigma
"""


SYSMON_COPY = "1f3e5d7c-0000-4000-8000-000000000001"
BUILTIN_COPY = "1f3e5d7c-0000-4000-8000-000000000002"


def _events() -> list[dict[str, Any]]:
    sysmon = "Microsoft-Windows-Sysmon/Operational"
    return [
        {"ts": at(0), "host": "ws01", "channel": sysmon, "event_id": 1, "category": "process_creation",
         "Image": "C:\\Windows\\System32\\whoami.exe", "User": "DIMS\\alice"},
        {"ts": at(5), "host": "ws01", "channel": "Security", "event_id": 4688, "category": "process_creation",
         "NewProcessName": "C:\\Windows\\System32\\whoami.exe", "SubjectUserName": "alice"},
        {"ts": at(9), "host": "admin-pc01", "channel": sysmon, "event_id": 1, "category": "process_creation",
         "Image": "C:\\Windows\\System32\\whoami.exe", "User": "DIMS\\svc_scanner"},
    ]  # fmt: skip


def _sets(tmp_path: Path) -> tuple[Path, Path]:
    sigmahq = tmp_path / "sigma" / "rules"
    haya = tmp_path / "hayabusa-rules" / "sigma"
    for d in (sigmahq, haya / "sysmon", haya / "builtin"):
        d.mkdir(parents=True)
    (sigmahq / "proc_creation_win_whoami.yml").write_text(SIGMAHQ)
    (haya / "sysmon" / "proc_creation_win_whoami.yml").write_text(
        _rewrite(SYSMON_COPY, "Microsoft-Windows-Sysmon/Operational", 1, "Image")
    )
    (haya / "builtin" / "proc_creation_win_whoami.yml").write_text(
        _rewrite(BUILTIN_COPY, "Security", 4688, "NewProcessName")
    )
    return sigmahq, haya


def _case(tmp_path: Path, events: list[dict[str, Any]] | None = None) -> Case:
    return build_case(tmp_path / "case", events if events is not None else _events())


# ---- de-duplication between the sets -----------------------------------------------------------
def test_same_rule_in_both_sets_raises_one_finding_and_says_which_copy_ran(tmp_path: Path) -> None:
    sigmahq, haya = _sets(tmp_path)
    case = _case(tmp_path)
    try:
        res = run_sigma(case, [sigmahq, haya])
    finally:
        case.close()
    by_host = {f.host: f for f in res.findings}
    assert sorted(by_host) == ["admin-pc01", "ws01"]  # one finding per host, from one copy
    assert {f.rule_id for f in res.findings} == {SIGMAHQ_ID}
    assert len(by_host["ws01"].records) == 2  # the SigmaHQ copy sees Sysmon 1 and Security 4688 alike
    report = {Path(r.path).parent.name + "/" + Path(r.path).name: r for r in res.report}
    ran = report["rules/proc_creation_win_whoami.yml"]
    assert ran.status == "converted" and ran.rule_set == "sigma" and len(ran.duplicates) == 2
    for copy in ("sysmon/proc_creation_win_whoami.yml", "builtin/proc_creation_win_whoami.yml"):
        r = report[copy]
        assert r.status == "skipped" and r.rule_set == "hayabusa"
        assert r.duplicate_of is not None and r.duplicate_of.startswith(str(sigmahq))
        assert SIGMAHQ_ID in (r.reason or "")


def test_a_copy_keeping_the_original_id_is_the_same_rule(tmp_path: Path) -> None:
    """Hayabusa copies some SigmaHQ rules unchanged, keeping their id and adding ``ruletype: Sigma``
    (no ``related: derived``): one rule, one run."""
    sigmahq, haya = _sets(tmp_path)
    for f in (haya / "sysmon").iterdir():
        f.unlink()
    (haya / "builtin" / "proc_creation_win_whoami.yml").write_text(SIGMAHQ + "ruletype: Sigma\n")
    case = _case(tmp_path)
    try:
        res = run_sigma(case, [sigmahq, haya])
    finally:
        case.close()
    assert {f.rule_id for f in res.findings} == {SIGMAHQ_ID}
    report = {Path(r.path).parent.name + "/" + Path(r.path).name: r for r in res.report}
    assert report["rules/proc_creation_win_whoami.yml"].status == "converted"
    copy = report["builtin/proc_creation_win_whoami.yml"]
    assert copy.status == "skipped" and copy.duplicate_of is not None and SIGMAHQ_ID in (copy.reason or "")


def test_rewrites_run_when_the_original_is_not_given(tmp_path: Path) -> None:
    _, haya = _sets(tmp_path)
    case = _case(tmp_path)
    try:
        res = run_sigma(case, [haya])
    finally:
        case.close()
    assert all(r.status == "converted" for r in res.report)
    assert {f.rule_id for f in res.findings} == {SYSMON_COPY, BUILTIN_COPY}


# ---- statuses, exclusion lists, tuning ------------------------------------------------------------
def test_deprecated_rules_are_not_run_unless_selected(tmp_path: Path) -> None:
    sigmahq, _ = _sets(tmp_path)
    (sigmahq / "proc_creation_win_whoami.yml").write_text(
        SIGMAHQ.replace("status: test", "status: deprecated")
    )
    case = _case(tmp_path)
    try:
        quiet = run_sigma(case, [sigmahq])
        loud = run_sigma(case, [sigmahq], tuning=Tuning(statuses=parse_statuses(["all"])))
    finally:
        case.close()
    assert quiet.findings == [] and quiet.report[0].status == "skipped"
    assert "deprecated" in (quiet.report[0].reason or "") and quiet.report[0].rule_status == "deprecated"
    assert len(loud.findings) == 2


def test_exclusion_list_and_disable(tmp_path: Path) -> None:
    sigmahq, _ = _sets(tmp_path)
    excl = tmp_path / "exclude.txt"
    excl.write_text(f"# our list\n\n{SIGMAHQ_ID} # whoami is normal here\n")
    case = _case(tmp_path)
    try:
        res = run_sigma(case, [sigmahq], tuning=build_tuning(exclude_files=[excl]))
    finally:
        case.close()
    (r,) = res.report
    assert res.findings == [] and r.status == "skipped"
    assert f"{excl}:3" in (r.reason or "") and "whoami is normal here" in (r.reason or "")


def test_tuning_demotes_and_excludes_a_known_admin_host_and_a_scanner_account(tmp_path: Path) -> None:
    sigmahq, _ = _sets(tmp_path)
    tuning_file = tmp_path / "tuning.yml"
    tuning_file.write_text(f"""rules:
  - id: {SIGMAHQ_ID}
    level: low
    exclude:
      - Computer: admin-pc01
      - User|endswith: '\\svc_scanner'
    reason: the scanner runs whoami from the admin workstation
""")
    case = _case(tmp_path)
    try:
        res = run_sigma(case, [sigmahq], tuning=build_tuning(tuning_files=[tuning_file]))
    finally:
        case.close()
    (f,) = res.findings
    assert f.host == "ws01" and f.level == "low" and len(f.records) == 2
    (r,) = res.report
    assert r.level == "low" and r.rule_level == "high"
    assert "level low" in r.tuning[0] and "1 exclusion" not in r.tuning[0] and "2 exclusion(s)" in r.tuning[0]


def test_tuning_exclusion_applies_to_a_count_rule_events(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "spray.yml").write_text("""title: PW Spray
id: 7c1d2e3f-0000-4000-8000-00000000abcd
level: medium
status: test
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
    timeframe: 5m
    condition: selection | count(TargetUserName) by IpAddress > 2
""")
    events = [{"ts": at(t), "host": "dc01", "channel": "Security", "event_id": 4625, "TargetUserName": u,
               "IpAddress": "10.0.0.5"} for t, u in ((0, "a"), (10, "b"), (20, "svc_scan"), (30, "c"))]  # fmt: skip
    tuning_file = tmp_path / "t.yml"
    tuning_file.write_text("rules:\n  - id: 7c1d2e3f-0000-4000-8000-00000000abcd\n"
                           "    exclude: {TargetUserName: svc_scan}\n")  # fmt: skip
    case = _case(tmp_path, events)
    try:
        plain = run_sigma(case, [rules])
        tuned = run_sigma(case, [rules], tuning=build_tuning(tuning_files=[tuning_file]))
    finally:
        case.close()
    assert len(plain.findings[0].records) == 4
    (f,) = tuned.findings
    assert len(f.records) == 3 and all(r.rec_index != events[2]["rec_index"] for r in f.records)


def test_noisy_list_in_the_tuning_file_demotes_to_informational(tmp_path: Path) -> None:
    sigmahq, _ = _sets(tmp_path)
    t = tmp_path / "t.yml"
    t.write_text(f"noisy:\n  - {SIGMAHQ_ID}\n")
    case = _case(tmp_path)
    try:
        res = run_sigma(case, [sigmahq], tuning=build_tuning(tuning_files=[t]))
    finally:
        case.close()
    assert {f.level for f in res.findings} == {"informational"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules:\n  - level: low\n", "needs an 'id'"),
        ("rules:\n  - id: x\n    levle: low\n", "unknown key"),
        ("rules:\n  - id: x\n    level: severe\n", "unknown level"),
        ("rules:\n  - id: x\n", "neither disable, level nor exclude"),
        ("rules: [\n", "not valid YAML"),
        ("ignore: [x]\n", "'rules' and/or 'noisy'"),
    ],
)
def test_bad_tuning_files_are_refused_with_where(tmp_path: Path, text: str, message: str) -> None:
    t = tmp_path / "t.yml"
    t.write_text(text)
    with pytest.raises(TuningError, match=message):
        build_tuning(tuning_files=[t])


# ---- a Hayabusa rule set's own lists -------------------------------------------------------------
def _hayabusa_set(tmp_path: Path, noisy: str = "", exclude: str = "", levels: str = "") -> Path:
    root = tmp_path / "hayabusa-rules"
    (root / "config").mkdir(parents=True)
    (root / "config" / "eventkey_alias.txt").write_text("")
    (root / "config" / "noisy_rules.txt").write_text(noisy)
    (root / "config" / "exclude_rules.txt").write_text(exclude)
    (root / "config" / "level_tuning.txt").write_text("id,new_level\n" + levels)
    (root / "sigma" / "sysmon").mkdir(parents=True)
    (root / "sigma" / "sysmon" / "whoami.yml").write_text(
        _rewrite(SYSMON_COPY, "Microsoft-Windows-Sysmon/Operational", 1, "Image")
    )
    return root / "sigma"


def test_rule_set_lists_noisy_exclude_and_level_tuning(tmp_path: Path) -> None:
    case = _case(tmp_path)
    try:
        noisy = run_sigma(case, [_hayabusa_set(tmp_path / "a", noisy=f"{SYSMON_COPY} # noisy\n")])
        loud = run_sigma(case, [_hayabusa_set(tmp_path / "b", noisy=f"{SYSMON_COPY}\n")],
                         tuning=Tuning(enable_noisy=True))  # fmt: skip
        gone = run_sigma(case, [_hayabusa_set(tmp_path / "c", exclude=f"{SYSMON_COPY} # replaced\n")])
        tuned = run_sigma(case, [_hayabusa_set(tmp_path / "d", levels=f"{SYSMON_COPY},medium # was high\n")])
        ignored = run_sigma(case, [_hayabusa_set(tmp_path / "e", exclude=f"{SYSMON_COPY}\n")],
                            tuning=Tuning(ruleset_config=False))  # fmt: skip
    finally:
        case.close()
    assert noisy.findings == [] and "noisy_rules.txt" in (noisy.report[0].reason or "")
    assert {f.level for f in loud.findings} == {"informational"}
    assert gone.findings == [] and "exclude_rules.txt (replaced)" in (gone.report[0].reason or "")
    assert {f.level for f in tuned.findings} == {"medium"} and "level_tuning.txt" in tuned.report[0].tuning[0]
    assert ignored.findings


# ---- the command line and the run record ----------------------------------------------------------
def test_hunt_cli_min_level_status_tuning_and_run_record(tmp_path: Path) -> None:
    sigmahq, haya = _sets(tmp_path)
    (sigmahq / "proc_creation_win_whoami.yml").write_text(
        SIGMAHQ.replace("level: high", "level: informational")
    )
    _case(tmp_path).close()
    t = tmp_path / "t.yml"
    t.write_text(f"rules:\n  - id: {SIGMAHQ_ID}\n    exclude: {{Computer: admin-pc01}}\n")
    args = ["hunt", str(tmp_path / "case"), "--sigma", str(sigmahq), "--sigma", str(haya), "--no-outputs",
            "--no-default-iocs", "--no-default-queries", "--tuning", str(t), "--status", "stable,test"]  # fmt: skip
    res = CliRunner().invoke(app, [*args, "--min-level", "low"])
    assert res.exit_code == 0, res.output
    assert "Whoami" not in res.stdout and "1 finding(s) below --min-level low kept in the case" in res.stderr
    assert "2 duplicates of a rule in the other set" in res.stderr
    run = json.loads((tmp_path / "case" / "findings" / "runs" / "0001" / "run.json").read_text())
    assert run["min_level"] == "low"
    tuning = run["options"]["sigma_tuning"]
    assert tuning["statuses"] == ["stable", "test"] and tuning["min_level"] == "low"
    assert tuning["rules"][SIGMAHQ_ID]["exclude"] == [{"Computer": "admin-pc01"}]
    assert tuning["files"][-1]["path"] == str(t) and len(tuning["files"][-1]["sha256"]) == 64
    with Case.open(tmp_path / "case", read_only=True) as c:
        assert c.con.execute("SELECT count(*) FROM findings WHERE kind = 'sigma'").fetchone() == (1,)
    shown = CliRunner().invoke(app, [*args, "--min-level", "informational"])
    assert "Whoami" in shown.stdout
    bad = CliRunner().invoke(app, [*args, "--status", "stabel"])
    assert bad.exit_code == 2 and "unknown rule status" in bad.stderr


def test_replay_uses_the_recorded_tuning(tmp_path: Path) -> None:
    sigmahq, _ = _sets(tmp_path)
    t = tmp_path / "t.yml"
    t.write_text(f"rules:\n  - id: {SIGMAHQ_ID}\n    exclude: {{Computer: admin-pc01}}\n    level: medium\n")
    with _case(tmp_path) as case:
        first = run_hunt(case, HuntOptions(sigma=[sigmahq], default_iocs=False, default_queries=False,
                                           sigma_tuning=build_tuning(tuning_files=[t])), argv=["test"])  # fmt: skip
        assert first.run_file is not None
        record = json.loads(first.run_file.read_text())
        t.unlink()  # the record holds what the file said
        again = replay(case, [("sigma", sigmahq)], record=record, argv=["test"])
    ids = sorted(f.finding_id for f in first.findings)
    assert ids == sorted(f.finding_id for f in again.findings) and len(ids) == 1
    assert {f.level for f in again.findings} == {"medium"}


def test_exclusion_that_is_not_sigma_is_refused(tmp_path: Path) -> None:
    t = tmp_path / "t.yml"
    t.write_text("rules:\n  - id: x\n    exclude:\n      - Image|nosuchmodifier: a\n")
    with pytest.raises(TuningError, match="not a Sigma detection"):
        build_tuning(tuning_files=[t])


def test_default_tuning_is_applied_recorded_and_can_be_turned_off() -> None:
    on, off = build_tuning(), build_tuning(default_tuning=False)
    assert "dbbfd9f3-9508-478b-887e-03ddb9236909" in on.rules and not off.rules
    assert on.rules["dbbfd9f3-9508-478b-887e-03ddb9236909"].reason
    assert on.to_record()["files"][0]["path"].endswith("sigma-tuning.yml")
