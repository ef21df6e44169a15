"""The attack timeline: modes, filters, clock correction and every output format."""

from __future__ import annotations

import csv
import json
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.outputs.csvfile import FORMULA_STARTS, neutralise
from forensics.timeline import build_timeline, write_timeline
from forensics.timeutil import IST, parse_iso_utc

sys.path.insert(
    0, str(Path(__file__).resolve().parent)
)  # --import-mode=importlib puts no test folder on sys.path
from casekit import FORMULA, SKEW_S, XSS, at, attack_case, build_case


@pytest.fixture
def scenario(tmp_path: Path):
    case, ev = attack_case(tmp_path / "case")
    yield case, ev
    case.close()


def _key(ev: dict) -> tuple[str, int]:
    return ev["input_sha256"], ev["rec_index"]


def _rows(table) -> list[dict]:
    return table.to_pylist()


def test_findings_mode_has_one_row_per_finding_with_attack(scenario) -> None:
    case, _ = scenario
    rows = _rows(build_timeline(case, "findings"))
    assert [r["row_type"] for r in rows] == ["finding"] * 7
    by_rule = {r["rule_id"]: r for r in rows}
    assert by_rule["enc-ps"]["attack"] == "T1059.001"
    assert by_rule["enc-ps"]["tactic"] == "execution"
    assert "PowerShell" in by_rule["enc-ps"]["techniques"]
    # no tactic tag on the rule: the tactic comes from the technique
    assert by_rule["shadow-del"]["tactics"] == "impact"
    assert by_rule["psexec-svc"]["tactics"] == "execution, lateral-movement"
    # the finding row carries its first record's fields
    assert by_rule["enc-ps"]["process_cmdline"].endswith(XSS)
    corrected = [r["ts_corrected"] for r in rows]
    assert corrected == sorted(corrected)


def test_context_mode_adds_hits_and_events_of_same_user_or_process(scenario) -> None:
    case, ev = scenario
    rows = _rows(build_timeline(case, "context"))
    rel = {(r["input_sha256"], r["rec_index"]): r["relation"] for r in rows if r["row_type"] == "event"}
    assert rel[_key(ev["xss"])] == "hit"
    assert rel[_key(ev["formula"])] == "context"  # child of the PowerShell process (parent pid 4242)
    assert rel[_key(ev["before"])] == "context"  # same user, same host, within five minutes
    assert _key(ev["ssh"]) not in rel  # another host, another user
    hit = next(
        r for r in rows if (r["input_sha256"], r["rec_index"]) == _key(ev["xss"]) and r["row_type"] == "event"
    )
    assert hit["level"] == "high" and hit["attack"] == "T1059.001"


def test_context_follows_the_account_across_hosts_in_corrected_time(scenario) -> None:
    from forensics.integrity import Integrity

    case, ev = scenario
    hop = _key(ev["x4624_0"])  # alice's logon on FS01: recorded T+420.4, really T+120

    def context(**kw: object) -> set[tuple[str, int]]:
        rows = build_timeline(case, "context", window=timedelta(seconds=90), **kw).to_pylist()
        return {(r["input_sha256"], r["rec_index"]) for r in rows if r["relation"] == "context"}

    assert hop in context()  # within 90 s of the brute force / PowerShell findings on WKS01 once corrected
    assert hop not in context(integrity=Integrity())  # with the raw clocks it looks five minutes later


def test_full_mode_orders_by_corrected_time(scenario) -> None:
    case, ev = scenario
    rows = [r for r in _rows(build_timeline(case, "full")) if r["row_type"] == "event"]
    assert len(rows) == len(ev["all"])
    order = [(r["input_sha256"], r["rec_index"]) for r in rows]
    after, before = order.index(_key(ev["after"])), order.index(_key(ev["before"]))
    # FS01 recorded "net share" at T+390 on a clock 300 s fast: it really ran at ~T+90, before whoami at T+100
    assert ev["after"]["ts"] > ev["before"]["ts"]
    assert after < before
    fs = rows[after]
    assert fs["clock_offset_s"] == pytest.approx(SKEW_S, abs=3)
    assert fs["ts_corrected"] == fs["ts"] - timedelta(seconds=fs["clock_offset_s"])
    assert rows[before]["clock_offset_s"] == 0.0


def test_times_are_utc_with_ist_beside(scenario) -> None:
    case, _ = scenario
    for r in _rows(build_timeline(case, "findings")):
        assert r["ts_utc"].endswith("Z")
        assert parse_iso_utc(r["ts_utc"]) == r["ts"]
        assert r["ts_ist"] == r["ts"].astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S.%f+05:30")


def test_filters_host_level_and_time(scenario) -> None:
    case, _ = scenario
    rows = _rows(build_timeline(case, "context", hosts=["fs01.corp.local"]))
    assert rows and {r["host"] for r in rows} == {"FS01"}
    rows = _rows(build_timeline(case, "findings", min_level="high"))
    assert {r["level"] for r in rows} == {"high", "critical"}
    rows = _rows(build_timeline(case, "full", since=at(100), until=at(200)))
    assert rows and all(at(100) <= r["ts_corrected"] <= at(200) for r in rows)
    with pytest.raises(ValueError):
        build_timeline(case, "everything")
    with pytest.raises(ValueError):
        build_timeline(case, "findings", min_level="severe")


def test_case_without_findings(tmp_path: Path) -> None:
    case = build_case(tmp_path / "c", [{"host": "H1", "ts": at(0), "event_id": 4624, "user_name": "bob"}])
    assert build_timeline(case, "findings").num_rows == 0
    assert build_timeline(case, "context").num_rows == 0
    full = _rows(build_timeline(case, "full"))
    assert len(full) == 1 and full[0]["message"] == "Security 4624 user=bob"
    case.close()


def test_csv_neutralises_formulas(scenario, tmp_path: Path) -> None:
    case, _ = scenario
    table = build_timeline(case, "context")
    out = write_timeline(table, "csv", tmp_path / "t.csv")
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    assert len(body) == table.num_rows
    text_cols = [
        i
        for i, n in enumerate(header)
        if n
        not in (
            "clock_offset_s",
            "event_id",
            "record_id",
            "process_pid",
            "parent_pid",
            "dst_port",
            "rec_index",
        )
    ]
    for row in body:
        for i in text_cols:
            assert not row[i].startswith(FORMULA_STARTS), (header[i], row[i])
    cmds = [r[header.index("process_cmdline")] for r in body]
    assert "'" + FORMULA in cmds
    summaries = [r[header.index("message")] for r in body]
    assert any("cmd " + FORMULA in s for s in summaries)
    for payload in ("+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(payload) == "'" + payload
    assert neutralise("plain") == "plain"


def test_timesketch_lines_have_required_fields(scenario, tmp_path: Path) -> None:
    case, _ = scenario
    table = build_timeline(case, "full")
    out = write_timeline(table, "timesketch", tmp_path / "t.jsonl")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == table.num_rows
    for line in lines:
        obj = json.loads(line)
        assert obj["message"] and obj["timestamp_desc"]
        dt = parse_iso_utc(obj["datetime"])
        assert dt is not None and obj["datetime"].endswith("+00:00")
        assert dt == parse_iso_utc(obj["ts_corrected"])  # skewed hosts sort into their true place
        if obj["clock_offset_s"]:
            assert "clock corrected by -300.4" in obj["timestamp_desc"]
        assert obj["host"] and "ts_ist" in obj and "clock_offset_s" in obj


def test_jsonl_and_parquet_round_trip(scenario, tmp_path: Path) -> None:
    case, _ = scenario
    table = build_timeline(case, "context")
    lines = write_timeline(table, "jsonl", tmp_path / "t.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["rec_index"] for x in lines] == table.column("rec_index").to_pylist()
    back = pq.read_table(write_timeline(table, "parquet", tmp_path / "t.parquet"))
    assert back.equals(table)
    with pytest.raises(ValueError):
        write_timeline(table, "xlsx", tmp_path / "t.xlsx")


def test_outputs_are_deterministic(scenario, tmp_path: Path) -> None:
    case, _ = scenario
    for fmt in ("csv", "jsonl", "timesketch", "parquet"):
        a = write_timeline(build_timeline(case, "full"), fmt, tmp_path / f"a.{fmt}").read_bytes()
        b = write_timeline(build_timeline(case, "full"), fmt, tmp_path / f"b.{fmt}").read_bytes()
        assert a == b, fmt


def test_cli_timeline(tmp_path: Path) -> None:
    case, _ = attack_case(tmp_path / "case")
    case.close()
    out = tmp_path / "tl.jsonl"
    res = CliRunner().invoke(app, ["timeline", str(tmp_path / "case"), "--format", "timesketch", "--out", str(out),
                                   "--level", "high", "--host", "FS01"])  # fmt: skip
    assert res.exit_code == 0, res.output
    objs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert objs and {o["host"] for o in objs} == {"FS01"}
    res = CliRunner().invoke(app, ["timeline", str(tmp_path / "case"), "--mode", "nope"])
    assert res.exit_code == 2
    res = CliRunner().invoke(app, ["timeline", str(tmp_path / "case"), "--since", "yesterday"])
    assert res.exit_code == 2


def test_timeline_story_integrity_on_real_evtx(shared_data: Path, tmp_path: Path) -> None:
    """DeepBlueCLI samples: a Metasploit PsExec target that cleared its logs, and an SMB password guessing run."""
    from forensics.hunt.engine import HuntOptions, run_hunt
    from forensics.ingest.runner import ingest_paths
    from forensics.integrity import assess
    from forensics.store import Case
    from forensics.story import build_story

    src = shared_data / "DeepBlueCLI" / "evtx"
    names = ("metasploit-psexec-native-target-security.evtx", "metasploit-psexec-native-target-system.evtx",
             "smb-password-guessing-security.evtx")  # fmt: skip
    ingest_paths(tmp_path / "case", [src / n for n in names], workers=1)
    case = Case.open(tmp_path / "case")
    run_hunt(case, HuntOptions(default_iocs=False))
    n_events = case.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    n_findings = case.con.execute("SELECT count(*) FROM findings").fetchall()[0][0]
    assert n_findings >= 1
    table = build_timeline(case, "full")
    assert table.num_rows == n_events + n_findings  # every event and every finding, nothing dropped
    for fmt in ("csv", "jsonl", "timesketch", "parquet"):
        out = write_timeline(table, fmt, tmp_path / f"t.{fmt}")
        if fmt == "csv":
            with out.open(encoding="utf-8-sig", newline="") as fh:
                assert sum(1 for _ in csv.reader(fh)) == table.num_rows + 1
        elif fmt == "parquet":
            assert pq.read_table(out).num_rows == table.num_rows
        else:
            objs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
            assert len(objs) == table.num_rows
            if fmt == "timesketch":
                assert all(o["message"] and o["datetime"] and o["timestamp_desc"] for o in objs)
    integ = assess(case)
    cleared = {(c["host"], c["event_id"]) for c in integ.clearings}
    assert {("IE10Win7", 1102), ("IE10Win7", 104)} <= cleared
    story = build_story(case)
    (guess,) = story.brute_force
    assert guess["target"] == "DESKTOP-M5SN04R" and guess["failures"] == 3561 and not guess["succeeded"]
    case.close()
