"""One hunt pass: every kind into the case, reproducible byte for byte, problems reported."""

from __future__ import annotations

import sys
from pathlib import Path

from forensics.hunt.engine import HuntOptions, run_hunt
from forensics.store import Case

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
from casekit import attack_case

FILES = ("findings/findings.parquet", "findings/finding_records.parquet", "findings/iocs.parquet",
         "findings/hunt_report.parquet")  # fmt: skip


def _options(tmp_path: Path) -> HuntOptions:
    iocs = tmp_path / "iocs.txt"
    iocs.write_text("TLP:AMBER\n203.0.113[.]50\n198.51.100(.)7\n")
    bad_rules = tmp_path / "yara"
    bad_rules.mkdir(exist_ok=True)
    (bad_rules / "broken.yar").write_text("rule x { condition: nope }")
    return HuntOptions(iocs=[iocs, tmp_path / "missing.csv"], yara=[bad_rules])


def test_hunt_twice_gives_identical_files(tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    attack_case(case_dir)[0].close()
    outputs = []
    for _ in range(2):
        with Case.open(case_dir) as case:
            summary = run_hunt(case, _options(tmp_path))
        outputs.append({f: (case_dir / f).read_bytes() for f in FILES})
    assert outputs[0] == outputs[1]
    kinds = summary.by_kind()
    assert kinds.get("sql", 0) >= 3 and kinds.get("ioc", 0) >= 2
    problems = {(Path(o.path).name, o.status) for o in summary.problems()}
    assert ("broken.yar", "failed") in problems and ("missing.csv", "failed") in problems
    assert "Sigma not run" in summary.sigma_note


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
