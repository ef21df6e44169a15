"""`forensics search`: keywords and regexes over every text column, the fields that matched, host
and time bounds, JSON and Excel-safe CSV; hostile patterns neither break the SQL nor hang.

Cost: a few small synthetic cases, plus the demo case ingested once (about 10 s).
"""

from __future__ import annotations

import csv
import json
import random
import string
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.ingest.runner import ingest_paths
from forensics.search import SearchError, SearchQuery, search
from forensics.store import Case

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib: casekit is beside us
from casekit import at, build_case


def _events() -> list[dict[str, Any]]:
    return [
        {"ts": at(0), "host": "DC01.corp.local", "channel": "Microsoft-Windows-Sysmon/Operational", "event_id": 1,
         "process_cmdline": "mimikatz.exe privilege::debug", "CommandLine": "mimikatz.exe privilege::debug",
         "Image": "C:\\Temp\\m.exe"},
        {"ts": at(60), "host": "WS7.corp.local", "channel": "Security", "event_id": 4688,
         "CommandLine": "vssadmin delete shadows /all /quiet", "SubjectUserName": "adm.sharma"},
        {"ts": at(120), "host": "DC01.corp.local", "channel": "Security", "event_id": 4624,
         "TargetUserName": "MIMIKATZ-svc", "IpAddress": "203.0.113.45", "LogonType": "10"},
        {"ts": at(180), "host": "ws7", "channel": "auth", "source": "syslog",
         "message": "sshd[311]: Failed password for root from 203.0.113.45 port 2222 ssh2"},
        {"ts": at(240), "host": "WS7.corp.local", "channel": "Security", "event_id": 4104,
         "ScriptBlockText": "=cmd|' /C calc'!A0 50% done_ok", "input_path": "/evidence/mimikatz-named-file.evtx"},
    ]  # fmt: skip


EVENTS: list[dict[str, Any]] = []


@pytest.fixture
def case(tmp_path: Path) -> Iterator[Case]:
    events = _events()
    c = build_case(tmp_path / "case", events)  # fills in host, input and provenance columns in place
    EVENTS[:] = events
    yield c
    c.close()


def _reference(pattern: str) -> set[int]:
    """Indexes of the events a keyword should match, computed in Python over the same columns."""
    skip = {"input_sha256", "input_path", "input_member", "ts_raw", "ts_zone", "source", "category"}
    return {
        i
        for i, ev in enumerate(EVENTS)
        if any(isinstance(v, str) and k not in skip and pattern.lower() in v.lower() for k, v in ev.items())
    }


def _ids(c: Case, q: SearchQuery) -> list[tuple[str | None, int | None, tuple[str, ...]]]:
    return [(h.host, h.event_id, tuple(m.field for m in h.matches)) for h in search(c, q).hits()]


def test_a_keyword_matches_any_text_column_case_insensitively_in_time_order(case: Case) -> None:
    got = _ids(case, SearchQuery(keywords=("MimiKatz",)))
    # the source's field names come before our core copies of them; input_path is not searched
    assert got == [
        ("DC01.corp.local", 1, ("CommandLine", "process_cmdline")),
        ("DC01.corp.local", 4624, ("TargetUserName",)),
    ]
    assert _ids(case, SearchQuery(keywords=("MimiKatz",), case_sensitive=True)) == []
    assert _ids(case, SearchQuery(keywords=("MIMIKATZ",), case_sensitive=True)) == [
        ("DC01.corp.local", 4624, ("TargetUserName",))
    ]


def test_regex_any_and_all_patterns(case: Case) -> None:
    assert _ids(case, SearchQuery(regexes=(r"vssadmin\s+delete",))) == [
        ("WS7.corp.local", 4688, ("CommandLine",))
    ]
    assert [h[1] for h in _ids(case, SearchQuery(keywords=("203.0.113.45", "vssadmin")))] == [
        4688,
        4624,
        None,
    ]
    both = SearchQuery(keywords=("203.0.113.45",), regexes=(r"(?i)failed password for \w+ from",), match_all=True)
    assert _ids(case, both) == [("ws7", None, ("message",))]


def test_field_host_and_time_bounds(case: Case) -> None:
    ip = SearchQuery(keywords=("203.0.113.45",))
    assert len(search(case, ip)) == 2
    assert _ids(case, SearchQuery(keywords=("203.0.113.45",), fields=("ipaddress",))) == [
        ("DC01.corp.local", 4624, ("IpAddress",))
    ]
    assert [h[0] for h in _ids(case, SearchQuery(keywords=("203.0.113.45",), hosts=("WS7",)))] == ["ws7"]
    assert [h[0] for h in _ids(case, SearchQuery(keywords=("203",), hosts=("dc01.corp.local",)))] == [
        "DC01.corp.local"
    ]
    window = SearchQuery(keywords=("203.0.113.45",), since=at(150), until=at(180))
    assert [h[2] for h in _ids(case, window)] == [("message",)]
    # a non-text column named with --field is compared as text
    assert [h[1] for h in _ids(case, SearchQuery(keywords=("4688",), fields=("event_id",)))] == [4688]


def test_unknown_field_bad_regex_and_empty_patterns_are_errors(case: Case) -> None:
    with pytest.raises(SearchError, match=r"no column 'CommandLin'.*did you mean CommandLine"):
        search(case, SearchQuery(keywords=("x",), fields=("CommandLin",)))
    with pytest.raises(SearchError, match="not a valid regular expression"):
        search(case, SearchQuery(regexes=("(unclosed",)))
    with pytest.raises(SearchError, match="nothing to search for"):
        search(case, SearchQuery())
    with pytest.raises(SearchError, match="empty pattern"):
        search(case, SearchQuery(keywords=("",)))


def test_hostile_patterns_are_matched_literally_never_as_sql(case: Case) -> None:
    rng = random.Random(20240305)
    alphabet = string.ascii_letters + string.digits + "'\"%_\\;.:=|! -()[]*+?$^{}"
    key = {(ev["input_sha256"], ev["rec_index"]): i for i, ev in enumerate(EVENTS)}
    pieces = [v for ev in EVENTS for v in ev.values() if isinstance(v, str)]
    for n in range(60):  # random strings, and random slices of the events' own text
        if n % 2:
            text = rng.choice(pieces)
            start = rng.randrange(len(text))
            pat = text[start : start + rng.randint(1, 8)]
        else:
            pat = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10)))
        got = {key[(h.input_sha256, h.rec_index)] for h in search(case, SearchQuery(keywords=(pat,))).hits()}
        assert got == _reference(pat), pat
    assert _ids(case, SearchQuery(keywords=("50%",))) == [("WS7.corp.local", 4104, ("ScriptBlockText",))]
    assert _ids(case, SearchQuery(keywords=("done_ok",))) == [("WS7.corp.local", 4104, ("ScriptBlockText",))]
    assert _ids(case, SearchQuery(keywords=("' OR 1=1 --",))) == []
    # RE2: no catastrophic backtracking on a classic evil pattern
    assert _ids(case, SearchQuery(regexes=(r"(x+x+)+y",))) == []


def test_cli_table_json_and_excel_safe_csv(case: Case, tmp_path: Path) -> None:
    root = str(case.root)
    case.close()
    runner = CliRunner()
    res = runner.invoke(app, ["search", root, "mimikatz", "--top", "1"])
    assert res.exit_code == 0, res.output
    assert "DC01.corp.local" in res.stdout and "2024-03-05T09:00:00" in res.stdout  # UTC
    assert "2024-03-05T14:30:00" in res.stdout  # and IST
    assert "CommandLine (+1)" in res.stdout and "… and 1 more" in res.stdout
    assert "2 matching event(s)" in res.output

    res = runner.invoke(app, ["search", root, "-e", "calc", "--json"])
    (row,) = [json.loads(line) for line in res.stdout.splitlines()]
    assert (
        row["ts_utc"] == "2024-03-05T09:04:00.000000Z" and row["ts_ist"] == "2024-03-05T14:34:00.000000+05:30"
    )
    assert row["matches"] == [{"field": "ScriptBlockText", "value": "=cmd|' /C calc'!A0 50% done_ok"}]
    assert row["event_id"] == 4104 and row["rec_index"] == 1 and len(row["input_sha256"]) == 64

    out = tmp_path / "hits.csv"
    res = runner.invoke(app, ["search", root, "calc", "203.0.113.45", "-o", str(out)])
    assert res.exit_code == 0, res.output
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["host"] for r in rows] == ["DC01.corp.local", "ws7", "WS7.corp.local"]
    assert (
        rows[2]["matched_values"] == "'ScriptBlockText: =cmd|' /C calc'!A0 50% done_ok"[1:]
    )  # not a formula start
    assert rows[0]["ts_ist"] == "2024-03-05T14:32:00.000000+05:30"

    res = runner.invoke(app, ["search", root, "=cmd", "-o", str(out)])
    with out.open(encoding="utf-8-sig", newline="") as fh:
        (only,) = list(csv.DictReader(fh))
    assert only["matched_fields"] == "ScriptBlockText"

    assert runner.invoke(app, ["search", root]).exit_code == 2
    assert runner.invoke(app, ["search", root, "x", "--since", "yesterday"]).exit_code == 2
    assert runner.invoke(app, ["search", root, "-e", "("]).exit_code == 1
    assert runner.invoke(app, ["search", str(tmp_path / "nope"), "x"]).exit_code == 1
    nothing = runner.invoke(app, ["search", root, "no-such-text-anywhere"])
    assert nothing.exit_code == 0 and "0 matching event(s)" in nothing.output


def test_search_on_the_demo_case_finds_the_ransomware_standin_everywhere(
    tmp_path: Path, repo_root: Path
) -> None:
    ingest_paths(tmp_path / "demo", [repo_root / "sample_data"], workers=1)
    with Case.open(tmp_path / "demo", read_only=True) as c:
        result = search(c, SearchQuery(keywords=("svchosts.exe",)))
        channels = {h.channel for h in result.hits()}
        hosts = {(h.host or "").split(".")[0].upper() for h in result.hits()}
        # the cmd.exe copy to the servers' C$, the Sysmon file creations, the Defender rows
        assert {"Microsoft-Windows-Sysmon/Operational", "Security", "DeviceFileEvents"} <= channels
        assert {"WIN-TS01", "DC01", "EHOSP-DB01", "EHOSP-DB02"} <= hosts
        sql = search(c, SearchQuery(keywords=("svchosts.exe",), fields=("TargetFilename",)))
        n = c.con.execute(
            "SELECT count(*) FROM events WHERE contains(lower(TargetFilename), 'svchosts.exe')"
        ).fetchone()
        assert n is not None and len(sql) == n[0] > 0


def test_evidence_in_tables_is_text_never_markup_or_terminal_control(tmp_path: Path) -> None:
    """A host name or value an attacker wrote ([/x], ESC sequences) prints as what it is, in the
    search table and the event-id metrics table, and never breaks or repaints the terminal."""
    hostile_host = "[/x]EVIL[bold]\x1b[2J"
    events = [
        {"ts": at(0), "host": hostile_host, "channel": "Security", "event_id": 4688,
         "CommandLine": "mimikatz [/red] \x1b]0;pwned\x07 done"},
    ]  # fmt: skip
    c = build_case(tmp_path / "case", events)
    c.close()
    runner = CliRunner()
    for argv in (["search", str(tmp_path / "case"), "mimikatz"], ["eid-metrics", str(tmp_path / "case")]):
        res = runner.invoke(app, argv)
        assert res.exit_code == 0, res.output
        assert "\x1b" not in res.output and "\x07" not in res.output
        assert "[/x]EVIL[bold]" in res.output.replace("\n", "")
        assert "\\x1b" in res.output
