"""Every hunt is kept as a run: earlier findings survive later and failed hunts (issue 12 item 2)."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.errors import CaseError
from forensics.hunt.engine import HuntOptions, HuntUsageError, run_hunt
from forensics.hunt.findings import read_findings
from forensics.hunt.runs import adopt_legacy, list_runs
from forensics.store import Case

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
from casekit import attack_case

# A case of 60-odd events: each hunt here takes well under a second.


def _case(tmp_path: Path) -> Path:
    case_dir = tmp_path / "case"
    attack_case(case_dir)[0].close()  # run 0001: the casekit's own findings
    return case_dir


def _ids(case_dir: Path, run: str | None = None) -> list[str]:
    with Case.open(case_dir, read_only=True) as case:
        return sorted(f.finding_id for f in read_findings(case, run))


def test_first_run_readable_after_a_second_hunt_and_after_a_failed_one(tmp_path: Path) -> None:
    case_dir = _case(tmp_path)
    iocs = tmp_path / "c2.txt"
    iocs.write_text("198.51.100[.]7\n")
    with Case.open(case_dir) as case:
        first = run_hunt(case, HuntOptions(iocs=[iocs]), argv=["hunt", "one"])
    first_ids = _ids(case_dir, first.run_id)
    first_bytes = (case_dir / "findings" / "runs" / str(first.run_id) / "findings.parquet").read_bytes()
    with Case.open(case_dir) as case:
        second = run_hunt(case, HuntOptions(default_iocs=False), argv=["hunt", "two"])
    assert (first.run_id, second.run_id) == ("0002", "0003")
    assert _ids(case_dir, "2") == first_ids  # still readable, by number or id
    assert _ids(case_dir) == _ids(case_dir, "0003") != first_ids  # the latest is the default
    with Case.open(case_dir) as case, pytest.raises(HuntUsageError, match="no such file"):
        run_hunt(case, HuntOptions(sigma=[tmp_path / "nonexistent"]))
    runs_dir = case_dir / "findings" / "runs"
    assert sorted(p.name for p in runs_dir.iterdir()) == ["0001", "0002", "0003"]  # nothing left behind
    assert (runs_dir / "0002" / "findings.parquet").read_bytes() == first_bytes
    assert _ids(case_dir, "0002") == first_ids


def test_views_show_the_latest_run_and_every_run(tmp_path: Path) -> None:
    case_dir = _case(tmp_path)
    with Case.open(case_dir) as case:
        run_hunt(case, HuntOptions(), argv=["hunt"])
    with Case.open(case_dir, read_only=True) as case:  # read-only: the connection's own views
        con = case.con
        latest = con.execute("SELECT count(*) FROM findings").fetchone()
        per_run = dict(con.execute("SELECT run_id, count(*) FROM findings_all GROUP BY ALL").fetchall())
        records = dict(
            con.execute("SELECT run_id, count(*) FROM finding_records_all GROUP BY ALL").fetchall()
        )
        runs = con.execute("SELECT run_id, exit_code, findings, argv FROM runs ORDER BY run_id").fetchall()
    assert set(per_run) == {"0001", "0002"} and latest == (per_run["0002"],)
    assert set(records) == {"0001", "0002"}
    assert [(r[0], r[1], r[2]) for r in runs] == [("0001", 0, per_run["0001"]), ("0002", 0, per_run["0002"])]
    assert runs[1][3] == ["hunt"]


def test_unknown_run_is_an_error_naming_the_runs(tmp_path: Path) -> None:
    case_dir = _case(tmp_path)
    with Case.open(case_dir, read_only=True) as case:
        with pytest.raises(CaseError, match=r"no hunt run '7' \(runs: 0001\)"):
            read_findings(case, "7")
        assert case.resolve_run("latest") == case.resolve_run(None) == "0001"
    res = CliRunner().invoke(app, ["timeline", str(case_dir), "--run", "7"])
    assert res.exit_code == 1 and "no hunt run" in res.stderr and "Traceback" not in res.output


@pytest.mark.parametrize(
    ("option", "make", "message"),
    [
        ("--sigma", lambda p: p / "nonexistent", "no such file or folder"),
        ("--queries", lambda p: p, "holds no SQL hunt files"),  # a folder without *.sql
        ("--yara", lambda p: p, "holds no YARA rule files"),
        ("--iocs", lambda p: p / "empty", "holds no IOC documents"),
    ],
)
def test_unusable_rule_paths_exit_2_before_anything_is_written(
    tmp_path: Path, option: str, make: object, message: str
) -> None:
    case_dir = _case(tmp_path)
    where = tmp_path / "rules"
    (where / "empty").mkdir(parents=True)
    path = make(where)  # type: ignore[operator]
    before = sorted(p.relative_to(case_dir) for p in case_dir.rglob("*") if "custody" not in p.name)
    res = CliRunner().invoke(app, ["hunt", str(case_dir), option, str(path)])
    assert res.exit_code == 2, res.output
    assert message in res.stderr and "Traceback" not in res.output
    after = sorted(p.relative_to(case_dir) for p in case_dir.rglob("*") if "custody" not in p.name)
    assert after == before


def test_a_file_that_holds_nothing_usable_is_an_error(tmp_path: Path) -> None:
    case_dir = _case(tmp_path)
    broken = tmp_path / "broken.yar"
    broken.write_text("rule x { condition: nope }")
    words = tmp_path / "notes.txt"
    words.write_text("nothing to see here\n")
    for option, path in (("--yara", broken), ("--iocs", words)):
        res = CliRunner().invoke(app, ["hunt", str(case_dir), option, str(path)])
        assert res.exit_code == 2, res.output
        assert "holds nothing usable" in res.stderr
    assert [r.run_id for r in _list(case_dir)] == ["0001"]


def _list(case_dir: Path) -> list:  # type: ignore[type-arg]
    with Case.open(case_dir, read_only=True) as case:
        return list_runs(case)


def test_yara_scans_the_case_inputs_still_in_place(tmp_path: Path) -> None:
    from forensics.ingest.runner import ingest_paths

    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "auth.log").write_text(
        "Mar  5 09:00:00 web01 sshd[1]: Accepted password for bob from 10.0.0.5 port 2 ssh2\n"
    )
    (evidence / "dropper.bin").write_bytes(b"MZ\x90\x00 not a log DROPPER-MARK-42 \x00\x01")
    rules = tmp_path / "mark.yar"
    rules.write_text(
        'rule dropper_mark { meta: level = "critical" strings: $a = "DROPPER-MARK-42" condition: $a }'
    )
    case_dir = tmp_path / "case"
    ingest_paths(case_dir, [evidence], workers=1)
    with Case.open(case_dir) as case:
        hit = run_hunt(case, HuntOptions(yara=[rules], default_iocs=False))
    files = [f for f in hit.findings if f.kind == "yara" and f.rule_id == "dropper_mark"]
    assert len(files) == 1 and files[0].level == "critical"
    assert json.loads(files[0].details or "{}")["paths"][0].endswith("dropper.bin")
    (evidence / "dropper.bin").write_bytes(b"changed DROPPER-MARK-42")  # no longer what ingest read
    with Case.open(case_dir) as case:
        again = run_hunt(case, HuntOptions(yara=[rules], default_iocs=False))
    assert not [f for f in again.findings if f.rule_id == "dropper_mark"]
    assert any("changed since ingest" in o.reason for o in again.problems())
    shutil.rmtree(evidence)
    with Case.open(case_dir) as case:
        gone = run_hunt(case, HuntOptions(yara=[rules], default_iocs=False))
    assert any("no longer where ingest read it" in o.reason for o in gone.problems())
    assert _ids(case_dir, hit.run_id) == sorted(f.finding_id for f in hit.findings)  # kept


def test_yara_finds_inputs_given_as_relative_paths_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest reads `evidence/` from one folder; the re-hunt runs from another: YARA opens each input
    by the absolute path ingest recorded and names it by the recorded path, as the first hunt did."""
    from forensics.ingest.runner import ingest_paths

    work = tmp_path / "work"
    (work / "evidence").mkdir(parents=True)
    (work / "evidence" / "auth.log").write_text(
        "Mar  5 09:00:00 web01 sshd[1]: Accepted password for bob from 10.0.0.5 port 2 ssh2\n"
    )
    (work / "evidence" / "dropper.bin").write_bytes(b"MZ\x90\x00 not a log DROPPER-MARK-42 \x00\x01")
    rules = tmp_path / "mark.yar"
    rules.write_text('rule dropper_mark { strings: $a = "DROPPER-MARK-42" condition: $a }')
    case_dir = tmp_path / "case"
    monkeypatch.chdir(work)
    ingest_paths(case_dir, [Path("evidence")], workers=1)
    with Case.open(case_dir) as case:
        here = run_hunt(case, HuntOptions(yara=[rules], default_iocs=False))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with Case.open(case_dir) as case:
        there = run_hunt(case, HuntOptions(yara=[rules], default_iocs=False))
    for hunt in (here, there):
        hits = [f for f in hunt.findings if f.rule_id == "dropper_mark"]
        assert len(hits) == 1, [o.reason for o in hunt.problems()]
        assert json.loads(hits[0].details or "{}")["paths"] == [str(Path("evidence") / "dropper.bin")]
        assert not [o for o in hunt.problems() if o.kind == "yara-scan"]
    assert [f.finding_id for f in here.findings] == [f.finding_id for f in there.findings]
    shutil.rmtree(work / "evidence")
    with Case.open(case_dir) as case:
        gone = run_hunt(case, HuntOptions(yara=[rules], default_iocs=False))
    missing = [o for o in gone.problems() if o.kind == "yara-scan"]
    assert {o.path for o in missing} == {str(Path("evidence") / "auth.log"), str(Path("evidence") / "dropper.bin")}
    assert all(str(work / "evidence") in o.reason for o in missing)  # says where it looked


def test_a_case_hunted_before_runs_were_kept_is_adopted_as_run_0000(tmp_path: Path) -> None:
    case_dir = _case(tmp_path)
    run = case_dir / "findings" / "runs" / "0001"
    for f in run.iterdir():  # lay the casekit's run out as an older version wrote a hunt
        f.rename(case_dir / "findings" / f.name)
    run.rmdir()
    (case_dir / "findings" / "runs").rmdir()
    old = (case_dir / "findings" / "findings.parquet").read_bytes()
    with Case.open(case_dir, read_only=True) as case:
        assert case.runs() == ["0000"] and read_findings(case)
    with Case.open(case_dir) as case:
        summary = run_hunt(case, HuntOptions(), argv=["hunt"])
        assert adopt_legacy(case) is None  # once
    assert summary.run_id == "0001"
    assert (case_dir / "findings" / "runs" / "0000" / "findings.parquet").read_bytes() == old
    assert not (case_dir / "findings" / "findings.parquet").exists()
    assert [r.run_id for r in _list(case_dir)] == ["0000", "0001"]


def test_a_hunt_failing_half_way_leaves_no_run_and_no_staging(tmp_path: Path) -> None:
    """Sigma runs inside the staged run (in its thread, beside the other kinds): rules that all fail
    stop the hunt there, raised from that thread, and nothing is kept."""
    case_dir = _case(tmp_path)
    rules = tmp_path / "sigma"
    rules.mkdir()
    (rules / "broken.yml").write_text("title: broken\ndetection: [not, a, mapping\n")
    with Case.open(case_dir) as case, pytest.raises(HuntUsageError, match="holds nothing usable"):
        run_hunt(case, HuntOptions(sigma=[rules]))
    assert sorted(p.name for p in (case_dir / "findings" / "runs").iterdir()) == ["0001"]
    assert _ids(case_dir) == _ids(case_dir, "0001") != []


def test_timeline_report_and_export_say_which_run_and_take_run(tmp_path: Path) -> None:
    from forensics.bundle.casefile import CaseDetails
    from forensics.bundle.export import export_bundle

    case_dir = _case(tmp_path)
    with Case.open(case_dir) as case:
        second = run_hunt(case, HuntOptions(), argv=["hunt"])
    runner = CliRunner()
    res = runner.invoke(
        app, ["report", str(case_dir), "--run", "1", "--out", str(tmp_path / "r1.html"), "--no-raw"]
    )
    assert res.exit_code == 0, res.output
    assert "findings of hunt run 0001" in (tmp_path / "r1.html").read_text() and "hunt run 0001" in res.stderr
    res = runner.invoke(app, ["timeline", str(case_dir), "--out", str(tmp_path / "t.csv")])
    assert res.exit_code == 0 and f"findings of hunt run {second.run_id}" in res.stderr
    details = CaseDetails(fir_number="1/2025", tlp="RED")
    for run, want in ((None, second.run_id), ("0001", "0001")):
        out = tmp_path / f"b-{want}.zip"
        got = export_bundle(case_dir, out, details, run=run, record_custody=False)
        with zipfile.ZipFile(out) as zf:
            manifest = json.loads(zf.read("MANIFEST.json"))
            findings = json.loads(zf.read("findings/findings.json"))
        assert got.run == want and manifest["hunt_run"]["run_id"] == want
        assert sorted(f["finding_id"] for f in findings) == _ids(case_dir, want)


def test_raw_inputs_are_not_ingested_when_a_rule_path_holds_nothing_usable(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "auth.log").write_text(
        "Mar  5 09:00:00 web01 sshd[1]: Accepted password for bob from 10.0.0.5 port 2 ssh2\n"
    )
    broken = tmp_path / "broken.yar"
    broken.write_text("rule x { condition: nope }")
    case_dir = tmp_path / "case"
    res = CliRunner().invoke(app, ["hunt", str(evidence), "--case", str(case_dir), "--yara", str(broken)])
    assert res.exit_code == 2 and "holds nothing usable" in res.stderr, res.output
    assert not case_dir.exists()  # refused before ingest
