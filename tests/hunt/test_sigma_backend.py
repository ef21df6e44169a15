"""Sigma semantics of our backend: each modifier, inline rules over a tiny real case."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/casekit.py, the shared case builder
from casekit import at, build_case

from forensics.hunt.sigma import backend, check_rules, run_sigma

SYSMON = "Microsoft-Windows-Sysmon/Operational"
_DUCK = duckdb.connect()  # for SQL checks against the engine's own regexp_matches


def _rule(detection: str, logsource: str = "product: windows\n  category: process_creation") -> str:
    return (
        "title: test rule\nid: 0d4a1b8e-2c1f-4b8e-9a6e-1f2e3d4c5b6a\nstatus: test\nlevel: high\n"
        "tags:\n  - attack.execution\n  - attack.t1059.001\n"
        f"logsource:\n  {logsource}\ndetection:\n{detection}"
    )


def _events(*natives: dict[str, Any], channel: str = SYSMON, event_id: int = 1) -> list[dict[str, Any]]:
    out = []
    for i, n in enumerate(natives):
        ev: dict[str, Any] = {"ts": at(i), "host": "ws01", "channel": channel, "event_id": event_id,
                              "category": "process_creation" if event_id == 1 else None}  # fmt: skip
        ev.update(n)
        out.append(ev)
    return out


def _hunt(tmp_path: Path, events: list[dict[str, Any]], detection: str, **kw: Any) -> set[int]:
    """rec_index of every event the rule matched."""
    logsource = kw.pop("logsource", "product: windows\n  category: process_creation")
    case = build_case(tmp_path / "case", events)
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    (rules / "r.yml").write_text(_rule(detection, logsource))
    try:
        res = run_sigma(case, [rules], **kw)
    finally:
        case.close()
    assert [r.status for r in res.report] == ["converted"], res.report
    return {r.rec_index for f in res.findings for r in f.records}


def test_contains_escapes_like_metacharacters(tmp_path: Path) -> None:
    evs = _events({"CommandLine": "run a_b now"}, {"CommandLine": "run axb now"},
                  {"CommandLine": "100% done"}, {"CommandLine": "1000 done"})  # fmt: skip
    det = "  sel:\n    CommandLine|contains:\n      - 'a_b'\n      - '100%'\n  condition: sel\n"
    assert _hunt(tmp_path, evs, det) == {0, 2}


def test_equality_is_case_insensitive_and_cased_is_not(tmp_path: Path) -> None:
    evs = _events({"Image": "C:\\Windows\\System32\\CMD.EXE"}, {"Image": "c:\\windows\\system32\\cmd.exe"})
    det = "  sel:\n    Image: 'C:\\Windows\\System32\\cmd.exe'\n  condition: sel\n"
    assert _hunt(tmp_path / "a", evs, det) == {0, 1}
    evs = _events({"Image": "C:\\Windows\\System32\\CMD.EXE"}, {"Image": "C:\\Windows\\System32\\cmd.exe"})
    det = "  sel:\n    Image|cased: 'C:\\Windows\\System32\\cmd.exe'\n  condition: sel\n"
    assert _hunt(tmp_path / "b", evs, det) == {1}


def test_wildcards_and_escaped_wildcard(tmp_path: Path) -> None:
    evs = _events({"CommandLine": "net user x /add"}, {"CommandLine": "net  user"},
                  {"CommandLine": "what*star"}, {"CommandLine": "whatXstar"})  # fmt: skip
    det = (
        "  a:\n    CommandLine: 'net user*/add'\n  b:\n    CommandLine: 'what\\*sta?'\n  condition: a or b\n"
    )
    assert _hunt(tmp_path, evs, det) == {0, 2}
    # escaped wildcards are literal characters, in equality too (SigmaHQ's ShareName '\\\\\*\\IPC$')
    evs = _events({"ShareName": "\\\\*\\IPC$"}, {"ShareName": "\\\\x\\IPC$"}, {"Description": "?"})
    det = "  a:\n    ShareName: '\\\\\\\\\\*\\\\IPC$'\n  b:\n    Description: '\\?'\n  condition: a or b\n"
    assert _hunt(tmp_path / "lit", evs, det) == {0, 2}


def test_startswith_endswith_all(tmp_path: Path) -> None:
    evs = _events({"CommandLine": "whoami /all /priv"}, {"CommandLine": "whoami /all"},
                  {"CommandLine": "x whoami /all /priv"})  # fmt: skip
    det = (
        "  sel:\n    CommandLine|startswith: 'WHOAMI'\n    CommandLine|contains|all:\n      - '/all'\n"
        "      - '/priv'\n  condition: sel\n"
    )
    assert _hunt(tmp_path / "a", evs, det) == {0}
    det = "  sel:\n    CommandLine|endswith: '/ALL'\n  condition: sel\n"
    assert _hunt(tmp_path / "b", evs, det) == {1}


def test_not_over_missing_field_is_true(tmp_path: Path) -> None:
    # the rule's filter field exists nowhere in the case: Sigma says "not filter" holds
    evs = _events({"Image": "C:\\x\\evil.exe"})
    det = "  sel:\n    Image|endswith: '\\evil.exe'\n  filter:\n    NoSuchField: 'x'\n  condition: sel and not filter\n"
    assert _hunt(tmp_path / "a", evs, det) == {0}
    # the field exists in the case but is NULL on this row: still true
    evs = _events({"Image": "C:\\x\\evil.exe"}, {"Image": "C:\\y\\evil.exe", "Signed": "true"})
    det = "  sel:\n    Image|endswith: '\\evil.exe'\n  filter:\n    Signed: 'true'\n  condition: sel and not filter\n"
    assert _hunt(tmp_path / "b", evs, det) == {0}


def test_null_and_exists(tmp_path: Path) -> None:
    evs = _events(
        {"Image": "a.exe", "Description": "d"}, {"Image": "b.exe"}, {"Image": "c", "Description": ""}
    )
    det = "  sel:\n    Description: null\n  condition: sel\n"
    assert _hunt(tmp_path / "a", evs, det) == {1, 2}  # absent or empty
    det = "  sel:\n    Description|exists: true\n  condition: sel\n"
    assert _hunt(tmp_path / "b", evs, det) == {0, 2}
    det = "  sel:\n    Description|exists: false\n  condition: sel\n"
    assert _hunt(tmp_path / "c", evs, det) == {1}
    det = "  sel:\n    Absent|exists: false\n  condition: sel\n"
    assert _hunt(tmp_path / "d", evs, det) == {0, 1, 2}


def test_empty_string_means_no_value(tmp_path: Path) -> None:
    # Sysmon before 8 wrote no RuleName where later versions write ''; a rule's '' means "no value"
    evs = _events({"Image": "a.exe", "RuleName": "alert"}, {"Image": "b.exe"}, {"Image": "c", "RuleName": ""})
    det = "  sel:\n    RuleName: ''\n  condition: sel\n"
    assert _hunt(tmp_path / "a", evs, det) == {1, 2}
    det = "  sel:\n    Image|endswith: '.exe'\n  filter:\n    RuleName: ''\n  condition: sel and not filter\n"
    assert _hunt(tmp_path / "b", evs, det) == {0}
    det = "  sel:\n    NoSuchField: ''\n  condition: sel\n"  # absent everywhere: no value everywhere
    assert _hunt(tmp_path / "c", evs, det) == {0, 1, 2}


def test_keywords_search_event_text(tmp_path: Path) -> None:
    evs = [
        {"ts": at(0), "host": "srv", "source": "syslog", "channel": "auth", "provider": "sshd",
         "message": "Failed password for invalid user ADMIN from 203.0.113.9"},
        {"ts": at(1), "host": "srv", "source": "syslog", "channel": "auth", "provider": "sshd",
         "message": "Accepted publickey for root"},
    ]  # fmt: skip
    det = "  keywords:\n    - 'invalid user admin'\n  condition: keywords\n"
    assert _hunt(tmp_path / "a", evs, det, logsource="product: linux\n  service: sshd") == {0}
    # a keyword list (merged into one expression) behaves the same; '.' is literal, '*' is a wildcard
    det = "  keywords:\n    - 'from 203.0.113.9'\n    - 'Accepted*for toor'\n    - 'x.y'\n  condition: keywords\n"
    assert _hunt(tmp_path / "b", evs, det, logsource="product: linux\n  service: sshd") == {0}
    det = "  keywords:\n    - 'FROM 203.0.113.9'\n    - 'accepted*for root'\n  condition: keywords\n"
    assert _hunt(tmp_path / "c", evs, det, logsource="product: linux\n  service: sshd") == {0, 1}


def test_regex_flags(tmp_path: Path) -> None:
    evs = _events({"CommandLine": "IEX (New-Object Net.WebClient)"}, {"CommandLine": "iex (new-object x)"},
                  {"CommandLine": "line1\nline2"})  # fmt: skip
    det = "  sel:\n    CommandLine|re: 'IEX \\(New-Object'\n  condition: sel\n"
    assert _hunt(tmp_path / "a", evs, det) == {0}  # regex is case-sensitive by default
    det = "  sel:\n    CommandLine|re|i: 'IEX \\(New-Object'\n  condition: sel\n"
    assert _hunt(tmp_path / "b", evs, det) == {0, 1}
    det = "  sel:\n    CommandLine|re|m: '^line2$'\n  condition: sel\n"
    assert _hunt(tmp_path / "c", evs, det) == {2}
    det = "  sel:\n    CommandLine|re|s: 'line1.line2'\n  condition: sel\n"
    assert _hunt(tmp_path / "d", evs, det) == {2}


def test_cidr(tmp_path: Path) -> None:
    evs = _events({"DestinationIp": "10.1.2.3"}, {"DestinationIp": "110.1.2.3"}, {"DestinationIp": "172.20.0.1"},
                  {"DestinationIp": "172.32.0.1"}, {"DestinationIp": "fe80::1"})  # fmt: skip
    det = (
        "  sel:\n    DestinationIp|cidr:\n      - '10.0.0.0/8'\n      - '172.16.0.0/12'\n"
        "      - 'fe80::/10'\n  condition: sel\n"
    )
    assert _hunt(tmp_path, evs, det) == {0, 2, 4}


def test_base64_base64offset_and_wide(tmp_path: Path) -> None:
    plain = base64.b64encode(b"Invoke-Mimikatz").decode()
    shifted = base64.b64encode(b"xInvoke-Mimikatz").decode()
    wide = base64.b64encode("IEX".encode("utf-16-le")).decode()
    evs = _events({"CommandLine": f"powershell -e {plain}"}, {"CommandLine": f"powershell -e {shifted}"},
                  {"CommandLine": f"powershell -enc {wide}"}, {"CommandLine": "powershell -e aGVsbG8="})  # fmt: skip
    det = "  sel:\n    CommandLine|base64offset|contains: 'Invoke-Mimikatz'\n  condition: sel\n"
    assert _hunt(tmp_path / "a", evs, det) == {0, 1}
    det = "  sel:\n    CommandLine|base64|contains: 'Invoke-Mimikatz'\n  condition: sel\n"
    assert _hunt(tmp_path / "b", evs, det) == {0}
    det = "  sel:\n    CommandLine|wide|base64|contains: 'IEX'\n  condition: sel\n"
    assert _hunt(tmp_path / "c", evs, det) == {2}


def test_windash(tmp_path: Path) -> None:
    evs = _events({"CommandLine": "ping -n 1"}, {"CommandLine": "ping /n 1"}, {"CommandLine": "ping \u2013n 1"},
                  {"CommandLine": "ping n 1"})  # fmt: skip
    det = "  sel:\n    CommandLine|windash|contains: ' -n '\n  condition: sel\n"
    assert _hunt(tmp_path, evs, det) == {0, 1, 2}


def test_fieldref(tmp_path: Path) -> None:
    evs = _events(
        {"Image": "C:\\A\\x.exe", "ParentImage": "c:\\a\\X.EXE"}, {"Image": "a", "ParentImage": "b"}
    )
    det = "  sel:\n    Image|fieldref: ParentImage\n  condition: sel\n"
    assert _hunt(tmp_path, evs, det) == {0}


def test_numeric_comparisons_and_numbers(tmp_path: Path) -> None:
    evs = _events({"Count": "5"}, {"Count": "50"}, {"Count": "abc"}, {"Count": "0x10"})
    det = "  sel:\n    Count|gt: 9\n  condition: sel\n"
    assert _hunt(tmp_path / "a", evs, det) == {1}
    det = "  sel:\n    Count|lte: 5\n  condition: sel\n"
    assert _hunt(tmp_path / "b", evs, det) == {0}
    det = "  sel:\n    Count: 16\n  condition: sel\n"  # a number matches its hex spelling too
    assert _hunt(tmp_path / "c", evs, det) == {3}


def test_eventid_channel_and_service(tmp_path: Path) -> None:
    evs = _events({"TargetUserName": "bob"}, channel="Security", event_id=4720)
    evs += _events({"TargetUserName": "bob"}, channel="System", event_id=4720)
    for i, e in enumerate(evs):
        e["ts"] = at(i)
    det = "  sel:\n    EventID: 4720\n    TargetUserName: BOB\n  condition: sel\n"
    got = _hunt(tmp_path, evs, det, logsource="product: windows\n  service: security")
    assert got == {0}  # the System row is another log source


def test_security_4688_fields_map_for_process_creation(tmp_path: Path) -> None:
    evs = [
        {
            "ts": at(0),
            "host": "dc",
            "channel": "Security",
            "event_id": 4688,
            "category": "process_creation",
            "NewProcessName": "C:\\Windows\\System32\\vssadmin.exe",
            "CommandLine": "vssadmin delete shadows",
        }
    ]
    det = "  sel:\n    Image|endswith: '\\vssadmin.exe'\n    CommandLine|contains: 'delete shadows'\n  condition: sel\n"
    assert _hunt(tmp_path, evs, det) == {0}


def test_expand_placeholders(tmp_path: Path) -> None:
    evs = _events({"User": "CORP\\svc_backup"}, {"User": "CORP\\alice"})
    det = "  sel:\n    User|expand: '%service_accounts%'\n  condition: sel\n"
    got = _hunt(
        tmp_path / "a", evs, det, placeholders={"service_accounts": ["CORP\\svc_backup", "CORP\\svc_sql"]}
    )
    assert got == {0}
    # without values the rule is reported skipped, with the placeholder named
    rules = tmp_path / "b"
    rules.mkdir()
    (rules / "r.yml").write_text(_rule(det))
    (st,) = check_rules([rules])
    assert st.status == "skipped" and "%service_accounts%" in (st.reason or "")


def test_finding_fields(tmp_path: Path) -> None:
    evs = _events({"CommandLine": "evil"}, {"CommandLine": "evil too"}, {"CommandLine": "fine"})
    case = build_case(tmp_path / "case", evs)
    rules = tmp_path / "rules" / "sub"
    rules.mkdir(parents=True)
    (rules / "r.yml").write_text(_rule("  sel:\n    CommandLine|contains: evil\n  condition: sel\n"))
    res = run_sigma(case, [tmp_path / "rules"])
    (f,) = res.findings
    assert (f.kind, f.level, f.host, f.attack, f.tactics) == (
        "sigma",
        "high",
        "ws01",
        ("T1059.001",),
        ("execution",),
    )
    assert f.rule_path == "sub/r.yml" and len(f.rule_sha256 or "") == 64
    assert [r.rec_index for r in f.records] == [0, 1]
    assert (f.first_ts, f.last_ts) == (at(0), at(1))
    again = run_sigma(case, [tmp_path / "rules"])
    assert [x.finding_id for x in again.findings] == [f.finding_id]
    case.close()


def test_bad_rules_are_reported_and_do_not_stop_the_run(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "a_bad_yaml.yml").write_text("title: x\ndetection:\n  sel: [unclosed\n")
    (rules / "b_bad_cond.yml").write_text(_rule("  sel:\n    Image: x\n  condition: sel and nothere\n"))
    (rules / "c_lookahead.yml").write_text(_rule("  sel:\n    Image|re: 'a(?=b)'\n  condition: sel\n"))
    (rules / "d_ok.yml").write_text(_rule("  sel:\n    Image: x\n  condition: sel\n"))
    (rules / "e_product.yml").write_text(_rule("  sel:\n    x: y\n  condition: sel\n", "product: zos"))
    report = check_rules([rules])
    by = {Path(r.path).name: r for r in report}
    assert by["a_bad_yaml.yml"].status == "failed" and by["a_bad_yaml.yml"].line == 4
    assert by["b_bad_cond.yml"].status in ("failed", "skipped") and by["b_bad_cond.yml"].reason
    # lookahead: RE2 (pySigma's validator, DuckDB, Spark-portable SQL) cannot run it
    assert by["c_lookahead.yml"].status in ("failed", "skipped")
    assert "(?=" in (by["c_lookahead.yml"].reason or "")
    assert by["d_ok.yml"].status == "converted"
    assert by["e_product.yml"].status == "skipped" and "zos" in (by["e_product.yml"].reason or "")


@pytest.mark.parametrize("value", ["it's", "back\\\\slash", "50%_off"])
def test_odd_characters_parse_and_match(tmp_path: Path, value: str) -> None:
    plain = value.replace("\\\\", "\\")
    evs = _events({"CommandLine": f"x {plain} y"}, {"CommandLine": "nothing"})
    det = f'  sel:\n    CommandLine|contains: "{value}"\n  condition: sel\n'
    assert _hunt(tmp_path, evs, det) == {0}


def test_rule_report_written_sorted(tmp_path: Path) -> None:
    from forensics.hunt.sigma import write_rule_report

    case = build_case(tmp_path / "case", _events({"CommandLine": "a"}))
    rules = tmp_path / "rules"
    rules.mkdir()
    for name in ("z.yml", "a.yml"):
        (rules / name).write_text(_rule("  sel:\n    CommandLine: a\n  condition: sel\n"))
    res = run_sigma(case, [rules])
    path = write_rule_report(tmp_path / "run", res.report)
    got = case.con.execute(f"SELECT path, status, source_in_case FROM read_parquet('{path}')").fetchall()
    assert path.name == "rule_report.parquet"
    assert [Path(p).name for p, _, _ in got] == ["a.yml", "z.yml"]
    assert all(s == "converted" and inc for _, s, inc in got)
    case.close()


def test_value_lists_with_regex_metacharacters(tmp_path: Path) -> None:
    # OR-ed value lists are merged into one regular expression: metacharacters must stay literal
    evs = _events({"Image": "C:\\t\\b(1).exe"}, {"Image": "C:\\t\\bx1y.exe"}, {"Image": "C:\\t\\a$.EXE"},
                  {"Image": "C:\\t\\ab.exe"}, {"Image": "C:\\t\\cd.exe"})  # fmt: skip
    det = (
        "  sel:\n    Image|endswith:\n      - '\\b(1).exe'\n      - '\\a$.exe'\n      - '\\c?.exe'\n"
        "  condition: sel\n"
    )
    assert _hunt(tmp_path, evs, det) == {0, 2, 4}


def test_exact_sql_is_portable(tmp_path: Path) -> None:
    """The SQL a reviewer reads: lower-cased derived columns, merged lists, escaped LIKE, inline flags."""
    from forensics.hunt.sigma.loader import load_file
    from forensics.hunt.sigma.plan import PreparedRule, Schema, convert, prepare

    det = (
        "  sel:\n    Image|endswith: ['\\whoami.exe', '\\net.exe']\n    CommandLine|contains: '50%_x'\n"
        "  filter:\n    User|re|i: '^nt authority'\n  condition: sel and not filter\n"
    )
    (tmp_path / "r.yml").write_text(_rule(det))
    (loaded,) = load_file(tmp_path / "r.yml", "r.yml")
    prep = prepare(loaded, 0)
    assert isinstance(prep, PreparedRule)
    schema = Schema.from_pairs([("Image", "VARCHAR"), ("CommandLine", "VARCHAR"), ("User", "VARCHAR")])
    sql = convert(prep, schema).sql
    assert sql == (
        "((regexp_matches(\"__l0\", '(?s)\\\\net\\.exe$|\\\\whoami\\.exe$') AND "
        "(\"__l1\" LIKE '%50\\%\\_x%' ESCAPE '\\')) AND "
        "NOT coalesce(regexp_matches(\"__c2\", '(?i)^nt authority'), FALSE))"
    )
    assert schema.derived_select()[:2] == ['"Image" AS "__c0"', 'lower(CAST("Image" AS VARCHAR)) AS "__l0"']


def test_long_line_regex_is_decided_by_length(tmp_path: Path) -> None:
    """``.{N,}`` (a line of N characters; the long-command-line rules) is decided by the value's length
    where it has no newline: the same rows as the expression, counted by code point as RE2 counts."""
    evs = _events({"CommandLine": "abcd"}, {"CommandLine": "abcde"}, {"CommandLine": "ab\ncdefg"},
                  {"CommandLine": "abc\ndef"}, {"CommandLine": "e\u0301" * 3}, {"CommandLine": "\U0001f600" * 5},
                  {"CommandLine": "ab\r\ncde"}, {"CommandLine": "abcd\r\nx"})  # fmt: skip
    det = "  sel:\n    CommandLine|re: '.{5,}'\n  condition: sel\n"
    assert _hunt(tmp_path / "a", evs, det) == {1, 2, 4, 5, 7}
    det = "  sel:\n    CommandLine|re|s: '.{5,}'\n  condition: sel\n"
    assert _hunt(tmp_path / "b", evs, det) == {1, 2, 3, 4, 5, 6, 7}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab\n\r\u0301\U0001f600é\u2028\x85", max_size=14), st.integers(0, 9), st.booleans())
def test_long_line_sql_equals_the_regex(value: str, n: int, dotall: bool) -> None:
    pattern = ("(?s)" if dotall else "") + f".{{{n},}}"
    sql = backend._long_line("x", pattern)
    assert sql is not None
    got = _DUCK.execute(f"SELECT {sql}, regexp_matches(x, ?) FROM (SELECT ?::VARCHAR AS x)", [pattern, value]).fetchone()
    assert got is not None and got[0] == got[1], (value, pattern)


def test_long_line_leaves_other_patterns_alone() -> None:
    for pattern in ("^.{5,}", ".{5,}$", ".{5,9}", "a.{5,}", "(?i)x", ".{5}"):
        assert backend._long_line("x", pattern) is None


def test_rule_on_missing_fields_is_converted_and_finds_nothing(tmp_path: Path) -> None:
    evs = _events({"CommandLine": "x"})
    det = "  sel:\n    NoSuchField: 'x'\n  condition: sel\n"  # folded to FALSE: reported, not run
    assert _hunt(tmp_path, evs, det) == set()
