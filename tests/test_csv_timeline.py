"""The csv-timeline: one row per matched record in Hayabusa's shape, Details from the rule's template
or the event's key fields, the record reference, Excel-safe, byte-identical on a second write."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/casekit.py, the shared case builder
from casekit import at, build_case

from forensics.cli import app
from forensics.hunt.engine import HuntOptions, run_hunt
from forensics.outputs.csv_timeline import COLUMNS, write_case_csv_timeline
from forensics.outputs.details import render_template

SYSMON = "Microsoft-Windows-Sysmon/Operational"
PROC_RULE = """title: Suspicious Cmdline
id: 3c9f1d2e-0000-4000-8000-000000000001
level: high
status: test
details: 'Cmdline: %CommandLine% ¦ Proc: %Image% ¦ User: %User% ¦ Parent: %ParentImage%'
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: 'calc'
    condition: selection
ruletype: Hayabusa
"""
LOGON_RULE = """title: Network Logon
id: 3c9f1d2e-0000-4000-8000-000000000002
level: informational
status: test
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4624
        LogonType: 3
    condition: selection
"""
START_RULE = """title: Computer Startup
id: 3c9f1d2e-0000-4000-8000-000000000003
level: low
status: test
details: 'MajorVer: %Data[1]% ¦ BuildNum: %Data[2]%'
logsource:
    product: windows
    service: system
detection:
    selection:
        EventID: 6009
    condition: selection
"""


def _events() -> list[dict[str, Any]]:
    return [
        {"ts": at(60), "host": "ws01", "channel": SYSMON, "event_id": 1, "category": "process_creation",
         "record_id": 501, "CommandLine": "=cmd|' /C calc'!A0", "Image": "C:\\Windows\\System32\\cmd.exe",
         "User": "DIMS\\alice"},
        {"ts": at(0), "host": "dc01", "channel": "Security", "event_id": 4624, "record_id": 77,
         "LogonType": "3", "TargetUserName": "bob", "IpAddress": "10.1.2.3", "WorkstationName": "WS01"},
        {"ts": at(30), "host": "dc01", "channel": "System", "event_id": 6009, "record_id": 12,
         "Data": "6.01.\n7601\nService Pack 1"},
    ]  # fmt: skip


def _hunt(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    rules = tmp_path / "rules"
    rules.mkdir()
    for name, text in (("proc.yml", PROC_RULE), ("logon.yml", LOGON_RULE), ("start.yml", START_RULE)):
        (rules / name).write_text(text, encoding="utf-8")
    events = _events()
    with build_case(tmp_path / "case", events) as case:
        run_hunt(case, HuntOptions(sigma=[rules], default_iocs=False, default_queries=False), argv=["test"])
    return tmp_path / "case", events


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_one_row_per_record_with_details_and_the_record_reference(tmp_path: Path) -> None:
    case_dir, events = _hunt(tmp_path)
    from forensics.store import Case

    with Case.open(case_dir, read_only=True) as case:
        dest, n = write_case_csv_timeline(case, dest=tmp_path / "t.csv", min_level="informational")
        first = dest.read_bytes()
        write_case_csv_timeline(case, dest=tmp_path / "t.csv", min_level="informational")
    assert first == (tmp_path / "t.csv").read_bytes()  # deterministic
    rows = _read(dest)
    assert n == 3 and list(rows[0]) == list(COLUMNS)
    logon, start, proc = rows  # sorted by time
    assert (logon["Computer"], logon["Channel"], logon["EventID"], logon["RecordID"]) == (
        "dc01",
        "Security",
        "4624",
        "77",
    )
    assert logon["Level"] == "informational" and logon["RuleTitle"] == "Network Logon"
    # no template: the key fields of a 4624, with the logon type named
    assert logon["Details"].startswith("LogonType: 3 (Network) ¦ TargetUserName: bob")
    assert "IpAddress: 10.1.2.3" in logon["Details"]
    assert start["Details"] == "MajorVer: 6.01. ¦ BuildNum: 7601"
    # the template rendered; a missing field is '-'
    assert (
        proc["Details"]
        == "Cmdline: =cmd|' /C calc'!A0 ¦ Proc: C:\\Windows\\System32\\cmd.exe ¦ User: DIMS\\alice ¦ Parent: -"
    )
    assert proc["Timestamp"] == "2024-03-05T09:01:00.000000Z" and proc["Timestamp (IST)"].endswith("+05:30")
    assert proc["Timestamp (IST)"].startswith("2024-03-05T14:31:00")
    ev = events[0]
    assert (proc["InputSHA256"], proc["RecIndex"]) == (ev["input_sha256"], str(ev["rec_index"]))
    assert proc["Kind"] == "sigma" and proc["RuleFile"] == "proc.yml" and proc["EvtxFile"] == ev["input_path"]


def test_excel_safe_cells(tmp_path: Path) -> None:
    case_dir, _ = _hunt(tmp_path)
    (rules := tmp_path / "rules" / "proc.yml").write_text(
        PROC_RULE.replace("details: 'Cmdline:", "details: '%CommandLine% is")
    )
    from forensics.store import Case

    with Case.open(case_dir) as case:
        run_hunt(
            case, HuntOptions(sigma=[rules.parent], default_iocs=False, default_queries=False), argv=["t"]
        )
        dest, _ = write_case_csv_timeline(case, dest=tmp_path / "t.csv", min_level="high")
    (row,) = _read(dest)
    assert row["Details"].startswith("'=cmd")  # a spreadsheet shows it as text, never runs it


def test_min_level_and_the_command(tmp_path: Path) -> None:
    case_dir, _ = _hunt(tmp_path)
    res = CliRunner().invoke(app, ["csv-timeline", str(case_dir), "--min-level", "low"])
    assert res.exit_code == 0, res.output
    dest = case_dir / "outputs" / "csv-timeline.csv"
    assert res.stdout.strip() == str(dest)
    assert [r["RuleTitle"] for r in _read(dest)] == ["Computer Startup", "Suspicious Cmdline"]
    bad = CliRunner().invoke(app, ["csv-timeline", str(case_dir), "--min-level", "severe"])
    assert bad.exit_code == 2
    missing = CliRunner().invoke(app, ["csv-timeline", str(tmp_path / "nocase")])
    assert missing.exit_code == 1


def test_each_run_keeps_its_own_csv_timeline(tmp_path: Path) -> None:
    case_dir, _ = _hunt(tmp_path)
    rules = tmp_path / "rules"
    (rules / "logon.yml").unlink()
    from forensics.case_outputs import write_case_outputs
    from forensics.store import Case

    with Case.open(case_dir) as case:
        second = run_hunt(
            case, HuntOptions(sigma=[rules], default_iocs=False, default_queries=False), argv=["t"]
        )
        written = write_case_outputs(case, second.run_id)
    dest = case_dir / "outputs" / "csv-timeline.csv"
    assert dest in written.files  # every hunt's outputs hold the csv-timeline of that run
    assert {r["RuleTitle"] for r in _read(dest)} == {"Computer Startup", "Suspicious Cmdline"}
    first = CliRunner().invoke(
        app,
        [
            "csv-timeline",
            str(case_dir),
            "--run",
            "1",
            "--min-level",
            "informational",
            "-o",
            str(tmp_path / "1.csv"),
        ],
    )
    assert first.exit_code == 0, first.output
    assert "Network Logon" in {r["RuleTitle"] for r in _read(tmp_path / "1.csv")}
    latest = CliRunner().invoke(app, ["csv-timeline", str(case_dir), "--min-level", "informational"])
    assert latest.exit_code == 0 and "Network Logon" not in {r["RuleTitle"] for r in _read(dest)}
    nosuch = CliRunner().invoke(app, ["csv-timeline", str(case_dir), "--run", "7"])
    assert nosuch.exit_code == 1 and "no hunt run" in nosuch.output


def test_render_template_indexes_and_missing() -> None:
    values = {"Data": "a\nb", "User": ""}

    def value(name: str, index: int | None) -> Any:
        v = values.get(name)
        return v.split("\n")[index - 1] if v and index else v

    assert render_template("X: %Data[2]% ¦ U: %User% ¦ N: %Nope%", value) == "X: b ¦ U: - ¦ N: -"


def test_report_shows_each_records_details(tmp_path: Path) -> None:
    from markupsafe import escape

    from forensics.report import render_report
    from forensics.store import Case

    case_dir, _ = _hunt(tmp_path)
    with Case.open(case_dir, read_only=True) as case:
        page = render_report(case)
    # the rule's template for the process start, the key fields of a 4624 (no template)
    proc = (
        "Cmdline: =cmd|' /C calc'!A0 ¦ Proc: C:\\Windows\\System32\\cmd.exe ¦ User: DIMS\\alice ¦ Parent: -"
    )
    assert str(escape(proc)) in page  # escaped as the report's templates escape
    assert "LogonType: 3 (Network) ¦ TargetUserName: bob" in page


def test_details_read_only_the_fields_they_show_and_say_what_a_whole_record_said() -> None:
    """The report's Details (``DetailsRenderer.render``) look up only the fields a template (or its
    aliases) or our key fields name: on generated records with names differing only in case, lists
    and empty values, each line is the one rendered from the whole record by lower-case name.
    ~300 examples, about 1 s."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from forensics.outputs.csv_timeline import DetailsRenderer, _details, _plan
    from forensics.outputs.details import DetailsConfig, render_all, render_fields

    names = st.sampled_from(["Image", "image", "IMAGE", "CommandLine", "User", "LogonType", "Data", "x"])
    values = st.one_of(
        st.none(), st.text(max_size=6), st.integers(-3, 3), st.lists(st.text(max_size=3), max_size=2)
    )
    records = st.dictionaries(names, values, max_size=7)
    config = DetailsConfig(
        aliases={"proc": "Image", "who": "user"}, default_details={("P", 1): "%who% ran %Proc%"}
    )
    templates = {"r1": "%Image% by %User% (%Data[2]%) %proc%", "r2": "%LogonType%"}

    def whole(kind: str, rule_id: str | None, record: dict[str, Any]) -> str:
        rid = rule_id if kind in ("sigma", "correlation") and rule_id in templates else None
        channel, eid = record.get("channel"), record.get("event_id")
        plan = _plan(rid, templates, record.get("provider"), channel, eid, config)
        fields = {k: v for k, v in record.items() if v is not None}
        low = {k.lower(): v for k, v in fields.items()}
        shown = {
            k: json.dumps(v, default=str, ensure_ascii=False) if isinstance(v, list) else v
            for k, v in low.items()
        }
        if plan.fields:
            return render_fields(plan.fields, shown)
        if plan.template:
            return _details(plan, (fields, low), config, channel, eid)
        return render_all({k: json.dumps(v, default=str, ensure_ascii=False) if isinstance(v, list) else v
                           for k, v in fields.items()})  # fmt: skip

    renderer = DetailsRenderer(templates, config)
    header = st.sampled_from([
        ("sigma", "r1", {}), ("sigma", "r2", {}), ("sql", "q", {"provider": "P", "event_id": 1}),
        ("sigma", "r9", {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1}),
        ("sigma", "r9", {"channel": "Security", "event_id": 4624}), ("ioc", None, {}),
    ])  # fmt: skip

    @settings(max_examples=300, deadline=None)
    @given(header, records)
    def check(head: tuple[str, str | None, dict[str, Any]], record: dict[str, Any]) -> None:
        kind, rule_id, extra = head
        rec = {**record, **extra}
        assert renderer.render(kind, rule_id, rec) == whole(kind, rule_id, rec)

    check()


def test_the_run_record_is_parsed_once_while_its_file_is_the_same(tmp_path: Path) -> None:
    """The report and the csv-timeline of one hunt share one parse of run.json; a different file at
    that path (another case, a rewrite) is read again."""
    import shutil

    from forensics.hunt.runs import read_run_record
    from forensics.outputs.csv_timeline import _run_record
    from forensics.store import RUN_FILE, Case

    case_dir, _ = _hunt(tmp_path)
    with Case.open(case_dir, read_only=True) as case:
        run = case.resolve_run(None)
        assert run is not None
        first = _run_record(case, run)
        assert first == read_run_record(case, run)
        assert _run_record(case, run) is first
        path = case.run_dir(run) / RUN_FILE
        copy = tmp_path / "copy.json"
        shutil.copy2(path, copy)
        record = json.loads(copy.read_text(encoding="utf-8"))
        record["min_level"] = "high"
        copy.write_text(json.dumps(record), encoding="utf-8")
        copy.replace(path)  # another file now: read again
        assert _run_record(case, run)["min_level"] == "high"
