"""`forensics ingest` and `forensics sql` as a responder runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from forensics.cli import app

EVTX = "DeepBlueCLI/evtx/mimikatz-privesc-hashdump.evtx"


def test_ingest_json_summary_exit_codes_and_sql_json(shared_data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    case = tmp_path / "case"
    clean = runner.invoke(app, ["ingest", str(shared_data / EVTX), "--case", str(case), "--json"])
    assert clean.exit_code == 0, clean.output
    summary = json.loads(clean.stdout.strip().splitlines()[-1])
    assert summary["clean"] and summary["rows"] > 0 and summary["by_parser"] == {"evtx": 1}

    empty = tmp_path / "empty.evtx"
    empty.write_bytes(b"")
    dirty = runner.invoke(app, ["ingest", str(empty), "--case", str(case), "--json"])
    assert dirty.exit_code == 3  # something needs attention
    assert json.loads(dirty.stdout.strip().splitlines()[-1])["problems"][0]["status"] == "empty"

    again = runner.invoke(app, ["ingest", str(shared_data / EVTX), "--case", str(case), "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout.strip().splitlines()[-1])["rows"] == 0

    q = runner.invoke(
        app, ["sql", str(case), "SELECT status, count(*) AS n FROM inputs GROUP BY ALL ORDER BY 1", "--json"]
    )
    assert q.exit_code == 0, q.output
    assert [json.loads(line) for line in q.stdout.splitlines()] == [
        {"n": 1, "status": "empty"},
        {"n": 1, "status": "ok"},
    ]

    write = runner.invoke(app, ["sql", str(case), "DELETE FROM inputs"])
    assert write.exit_code == 2  # refused: the case cannot be changed through sql


def test_bad_tz_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ingest", str(tmp_path), "--case", str(tmp_path / "c"), "--tz", "Mars/Olympus"]
    )
    assert result.exit_code == 2
