"""Sigma correlation rules: sliding windows per group-by, events just inside and just outside."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/casekit.py, the shared case builder
from casekit import at, build_case

from forensics.hunt.findings import Finding
from forensics.hunt.sigma import run_sigma

BASES = """title: Failed logon
id: 5b0e1c3a-7d1e-4f4b-8a35-0a1b2c3d4e01
name: failed_logon
status: test
logsource:
  product: windows
  service: security
detection:
  sel:
    EventID: 4625
  condition: sel
level: low
---
title: Successful logon
id: 5b0e1c3a-7d1e-4f4b-8a35-0a1b2c3d4e02
name: good_logon
status: test
logsource:
  product: windows
  service: security
detection:
  sel:
    EventID: 4624
  condition: sel
level: low
"""


def _corr(body: str) -> str:
    return (
        "title: Correlated\nid: 9f9f9f9f-0000-4000-8000-000000000001\nstatus: test\nlevel: high\n"
        "tags:\n  - attack.credential-access\n  - attack.t1110\ncorrelation:\n" + body
    )


def _ev(t: float, eid: int, user: str, ip: str = "203.0.113.5", host: str = "dc01") -> dict[str, Any]:
    return {"ts": at(t), "host": host, "channel": "Security", "event_id": eid, "TargetUserName": user,
            "IpAddress": ip}  # fmt: skip


def _run(tmp_path: Path, events: list[dict[str, Any]], corr: str, bases: str = BASES) -> list[Finding]:
    case = build_case(tmp_path / "case", events)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bases.yml").write_text(bases)
    (rules / "corr.yml").write_text(_corr(corr))
    try:
        res = run_sigma(case, [rules])
    finally:
        case.close()
    assert all(r.status == "converted" for r in res.report), res.report
    return [f for f in res.findings if f.kind == "correlation"]


def _recs(f: Finding) -> list[int]:
    return sorted(r.rec_index for r in f.records)


EVENT_COUNT = """  type: event_count
  rules:
    - failed_logon
  group-by:
    - TargetUserName
  timespan: 10m
  condition:
    gte: 3
"""


def test_event_count_window_edges_per_group(tmp_path: Path) -> None:
    events = [
        # alice: the third failure lands exactly 10 minutes after the first -> inside the window
        _ev(0, 4625, "alice"), _ev(300, 4625, "alice"), _ev(600, 4625, "alice"),
        # bob: the third failure is one second late -> no 10-minute window holds three
        _ev(0, 4625, "bob"), _ev(300, 4625, "bob"), _ev(601, 4625, "bob"),
    ]  # fmt: skip
    found = _run(tmp_path, events, EVENT_COUNT)
    assert len(found) == 1
    f = found[0]
    details = json.loads(f.details or "{}")
    assert details["group_by"] == {"TargetUserName": "alice"} and details["value"] == 3
    assert [events[i]["TargetUserName"] for i in range(6) if events[i]["rec_index"] in _recs(f)] == [
        "alice"
    ] * 3
    assert (f.first_ts, f.last_ts) == (at(0), at(600))
    assert f.attack == ("T1110",) and f.level == "high" and f.host == "dc01"
    assert len(f.records) == 3  # every event that made it


def test_overlapping_windows_merge_and_list_every_event(tmp_path: Path) -> None:
    events = [_ev(t, 4625, "carol") for t in (0, 60, 120, 540, 1200)]
    found = _run(tmp_path, events, EVENT_COUNT)
    (f,) = found
    # windows opened at 0 and 60 both hold >= 3 events; together they cover 0..540, not 1200
    assert len(f.records) == 4 and f.last_ts == at(540)


def test_base_rules_do_not_report_alone_unless_generate(tmp_path: Path) -> None:
    events = [_ev(0, 4625, "dave")]
    case = build_case(tmp_path / "case", events)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bases.yml").write_text(BASES)
    (rules / "corr.yml").write_text(_corr(EVENT_COUNT))
    assert [f.kind for f in run_sigma(case, [rules]).findings] == []
    (rules / "corr.yml").write_text(_corr(EVENT_COUNT + "  generate: true\n"))
    assert [f.kind for f in run_sigma(case, [rules]).findings] == ["sigma"]
    case.close()


def test_value_count_distinct_users_per_source_ip(tmp_path: Path) -> None:
    corr = """  type: value_count
  rules:
    - failed_logon
  group-by:
    - IpAddress
  timespan: 5m
  condition:
    field: TargetUserName
    gte: 3
"""
    events = [
        _ev(0, 4625, "a", "198.51.100.1"), _ev(10, 4625, "B", "198.51.100.1"), _ev(20, 4625, "a", "198.51.100.1"),
        _ev(300, 4625, "c", "198.51.100.1"),  # exactly 5m after the first: inside
        _ev(0, 4625, "a", "198.51.100.2"), _ev(10, 4625, "b", "198.51.100.2"), _ev(301, 4625, "c", "198.51.100.2"),
    ]  # fmt: skip
    (f,) = _run(tmp_path, events, corr)
    assert json.loads(f.details or "{}")["group_by"] == {"IpAddress": "198.51.100.1"}
    assert len(f.records) == 4


def test_temporal_and_temporal_ordered(tmp_path: Path) -> None:
    base = """  rules:
    - failed_logon
    - good_logon
  group-by:
    - TargetUserName
  timespan: 1m
"""
    events = [
        _ev(0, 4625, "erin"), _ev(60, 4624, "erin"),  # failure then success 60 s later: inside
        _ev(0, 4625, "frank"), _ev(61, 4624, "frank"),  # 61 s: outside
        _ev(0, 4624, "gina"), _ev(30, 4625, "gina"),  # success before failure
    ]  # fmt: skip
    temporal = _run(tmp_path / "t", events, "  type: temporal\n" + base)
    users = sorted(json.loads(f.details or "{}")["group_by"]["TargetUserName"] for f in temporal)
    assert users == ["erin", "gina"]
    ordered = _run(tmp_path / "o", [dict(e) for e in events], "  type: temporal_ordered\n" + base)
    users = sorted(json.loads(f.details or "{}")["group_by"]["TargetUserName"] for f in ordered)
    assert users == ["erin"]
    assert all(len(f.records) == 2 for f in ordered)


def test_value_sum(tmp_path: Path) -> None:
    corr = """  type: value_sum
  rules:
    - failed_logon
  group-by:
    - TargetUserName
  timespan: 1h
  condition:
    field: Bytes
    gt: 100
"""
    events = [_ev(0, 4625, "h") | {"Bytes": "60"}, _ev(10, 4625, "h") | {"Bytes": "50"},
              _ev(0, 4625, "i") | {"Bytes": "60"}, _ev(10, 4625, "i") | {"Bytes": "40"}]  # fmt: skip
    (f,) = _run(tmp_path, events, corr)
    assert json.loads(f.details or "{}")["group_by"] == {"TargetUserName": "h"}


def test_aliases_group_different_fields(tmp_path: Path) -> None:
    corr = """  type: temporal
  rules:
    - failed_logon
    - good_logon
  aliases:
    user:
      failed_logon: TargetUserName
      good_logon: SubjectUserName
  group-by:
    - user
  timespan: 5m
"""
    events = [
        _ev(0, 4625, "ivan"),
        {**_ev(30, 4624, "-"), "SubjectUserName": "IVAN"},  # same user under another field, other case
        _ev(0, 4625, "judy"),
        {**_ev(30, 4624, "-"), "SubjectUserName": "kim"},
    ]
    (f,) = _run(tmp_path, events, corr)
    assert json.loads(f.details or "{}")["group_by"] == {"user": "ivan"}
    assert len(f.records) == 2
