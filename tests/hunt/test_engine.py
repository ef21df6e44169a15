"""One hunt pass: every kind into the case, reproducible byte for byte, problems reported."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from forensics.custody import read_chain
from forensics.hunt.engine import EXIT_FAIL_ON, HuntOptions, replay, run_hunt
from forensics.store import Case

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
from casekit import attack_case

FILES = ("findings.parquet", "finding_records.parquet", "iocs.parquet", "hunt_report.parquet")
RUN_FILE = "findings/runs/0002/run.json"  # the first hunt of an attack_case (0001: the kit's findings)


def _options(tmp_path: Path) -> HuntOptions:
    iocs = tmp_path / "iocs.txt"
    iocs.write_text("TLP:AMBER\n203.0.113[.]50\n198.51.100(.)7\n")
    rules = tmp_path / "yara"
    rules.mkdir(exist_ok=True)
    (rules / "broken.yar").write_text("rule x { condition: nope }")
    (rules / "psexec.yar").write_text('rule psexec_text { strings: $a = "PSEXESVC" condition: $a }')
    return HuntOptions(iocs=[iocs], yara=[rules])


def test_hunt_twice_gives_identical_files_in_two_runs(tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    attack_case(case_dir)[0].close()
    runs = []
    for _ in range(2):
        with Case.open(case_dir) as case:
            summary = run_hunt(case, _options(tmp_path))
        assert summary.run_dir is not None
        runs.append({f: (summary.run_dir / f).read_bytes() for f in FILES})
    assert summary.run_id == "0003"
    assert runs[0] == runs[1]  # byte-identical findings files: no run id or time inside
    kinds = summary.by_kind()
    assert kinds.get("sql", 0) >= 3 and kinds.get("ioc", 0) >= 2
    problems = {(Path(o.path).name, o.status) for o in summary.problems()}
    assert ("broken.yar", "failed") in problems
    assert "Sigma not run" in summary.sigma_note
    records = [json.loads((case_dir / f"findings/runs/000{n}/run.json").read_bytes()) for n in (2, 3)]
    assert [r["run_id"] for r in records] == ["0002", "0003"]
    assert records[0]["files"] == records[1]["files"]


def test_findings_views_point_at_events(tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    attack_case(case_dir)[0].close()
    with Case.open(case_dir) as case:
        summary = run_hunt(case, _options(tmp_path))
        n = case.con.execute("SELECT count(*) FROM findings").fetchone()
        assert n is not None and n[0] == len(summary.findings)
        orphans = case.con.execute(
            "SELECT count(*) FROM finding_records r ANTI JOIN events e "
            "ON r.input_sha256 = e.input_sha256 AND r.rec_index = e.rec_index"
        ).fetchone()
        assert orphans == (0,)
        located = case.con.execute(
            "SELECT count(*) FROM finding_records WHERE record_id IS NOT NULL"
        ).fetchone()
        assert located is not None and located[0] > 0  # EventRecordID kept beside the row key
        tlps = case.con.execute("SELECT DISTINCT tlp FROM findings WHERE kind = 'ioc'").fetchall()
        assert tlps == [("amber",)]
        brute = case.con.execute(
            "SELECT host, level FROM findings WHERE rule_id = 'brute-force-then-success'"
        ).fetchall()
        assert brute == [("WKS01", "high")]  # the DC01 spray never succeeded


def test_hunt_records_its_run_and_a_custody_entry(tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    attack_case(case_dir)[0].close()
    with Case.open(case_dir) as case:
        summary = run_hunt(case, _options(tmp_path), argv=["forensics", "hunt", str(case_dir)])
    run = json.loads((case_dir / RUN_FILE).read_bytes())
    assert run["argv"] == ["forensics", "hunt", str(case_dir)] and run["exit_code"] == 0
    used = {(f["kind"], Path(f["path"]).name): f for f in run["files"]}
    assert (
        used[("ioc", "iocs.txt")]["sha256"]
        == hashlib.sha256((tmp_path / "iocs.txt").read_bytes()).hexdigest()
    )
    assert ("yara", "broken.yar") in used  # read (and reported failed): part of what the hunt did
    assert ("sql", "log_clearing.sql") in used and ("ioc", "offensive_tools.txt") in used  # project defaults
    entries = [e for e in read_chain(case_dir) if e["action"] == "analysed"]
    assert len(entries) == 1 and entries[0]["purpose"] == "hunt"
    for name in (*FILES, "run.json"):
        rel = f"findings/runs/0002/{name}"
        assert entries[0]["item_hashes"][rel] == hashlib.sha256((case_dir / rel).read_bytes()).hexdigest()
    assert summary.custody_entry == entries[0]


def test_fail_on_sets_the_exit_code_in_the_run_record(tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    attack_case(case_dir)[0].close()
    with Case.open(case_dir) as case:
        summary = run_hunt(case, HuntOptions(fail_on="critical"), argv=["forensics", "hunt"])
    assert summary.exit_code == EXIT_FAIL_ON  # vssadmin delete shadows is critical
    assert json.loads((case_dir / RUN_FILE).read_bytes())["options"]["fail_on"] == "critical"


def test_replay_from_copies_of_the_recorded_files_gives_identical_findings(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    attack_case(first)[0].close()
    attack_case(second)[0].close()
    with Case.open(first) as case:
        run_hunt(case, _options(tmp_path))
    files, aliases = [], {}
    for n, item in enumerate(json.loads((first / RUN_FILE).read_bytes())["files"]):
        copy = tmp_path / "copies" / f"{n:03d}" / Path(item["path"]).name
        copy.parent.mkdir(parents=True)
        copy.write_bytes(Path(item["path"]).read_bytes())
        files.append((item["kind"], copy))
        aliases[str(copy)] = item["path"]
    with Case.open(second) as case:
        replay(case, files, aliases=aliases)
    for name in FILES[:3]:  # findings, their records and the IOC table name the recorded paths
        one, two = (first / RUN_FILE).with_name(name), (second / RUN_FILE).with_name(name)
        assert one.read_bytes() == two.read_bytes(), name
    recorded = json.loads((first / RUN_FILE).read_bytes())["files"]
    assert json.loads((second / RUN_FILE).read_bytes())["files"] == recorded
