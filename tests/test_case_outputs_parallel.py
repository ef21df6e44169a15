"""write_case_outputs builds the timeline on a second connection in a thread while the report renders:
the files are the bytes the library's steps write one after the other on one connection."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest

from forensics.case_outputs import analyse, write_case_outputs
from forensics.hits import hit_records
from forensics.navigator import layer
from forensics.outputs.csv_timeline import write_case_csv_timeline
from forensics.report import render_report
from forensics.store import Case
from forensics.timeline import build_timeline, write_timeline

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/casekit.py
from casekit import attack_case

# A case of 60-odd events: well under a few seconds in all.


def _sequential(case: Case, dest: Path) -> None:
    """The outputs step by step on the case's one connection (what write_case_outputs did before)."""
    a = analyse(case)
    dest.mkdir(parents=True)
    table = build_timeline(case, mode="context", integrity=a.integrity, findings=a.findings)
    write_timeline(table, "csv", dest / "timeline.csv")
    write_timeline(table, "timesketch", dest / "timeline.timesketch.jsonl")
    html = render_report(case, findings=a.findings, integrity=a.integrity, story=a.story, run=a.run)
    (dest / "report.html").write_text(html, encoding="utf-8", newline="\n")
    nav = orjson.dumps(layer(case, findings=a.findings), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    (dest / "navigator-layer.json").write_bytes(nav + b"\n")
    write_case_csv_timeline(case, a.run, dest / "csv-timeline.csv", hits=hit_records(case, a.findings))


@pytest.mark.parametrize("read_only", [True, False])
def test_outputs_are_the_sequential_bytes(tmp_path: Path, read_only: bool) -> None:
    root = tmp_path / "case"
    attack_case(root)[0].close()
    with Case.open(root, read_only=read_only) as case:
        written = write_case_outputs(case, None, tmp_path / "parallel")
    with Case.open(root, read_only=read_only) as case:
        _sequential(case, tmp_path / "sequential")
    names = sorted(p.name for p in written.files)
    assert names == sorted(p.name for p in (tmp_path / "sequential").iterdir())
    for name in names:
        assert (tmp_path / "parallel" / name).read_bytes() == (tmp_path / "sequential" / name).read_bytes(), name


@pytest.mark.parametrize("read_only", [True, False])
def test_a_sibling_sees_the_case_and_keeps_its_own_temp_tables(tmp_path: Path, read_only: bool) -> None:
    root = tmp_path / "case"
    attack_case(root)[0].close()
    with Case.open(root, read_only=read_only) as case, case.sibling() as side:
        for sql in ("SELECT count(*), count(DISTINCT host) FROM events", "SELECT count(*) FROM findings"):
            assert side.con.execute(sql).fetchall() == case.con.execute(sql).fetchall()
        side.con.execute("CREATE TEMP TABLE _only_here AS SELECT 1 AS x").fetchall()
        assert case.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = '_only_here'"
        ).fetchall() == [(0,)]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_a_sibling_shows_timestamps_in_the_case_connections_zone(tmp_path: Path, zone: str) -> None:
    """A cursor starts in the machine's zone: the sibling takes the case connection's, so a query
    gives the same text and the same day boundaries on either."""
    root = tmp_path / "case"
    attack_case(root)[0].close()
    with Case.open(root) as case:
        case.con.execute(f"SET TimeZone = '{zone}'").fetchall()
        sql = "SELECT min(ts)::VARCHAR, min(date_trunc('day', ts))::VARCHAR FROM events"
        with case.sibling() as side:
            assert side.con.execute("SELECT current_setting('TimeZone')").fetchall() == [(zone,)]
            assert side.con.execute(sql).fetchall() == case.con.execute(sql).fetchall()
