"""The hash-chained custody log: appends chain; any edit, removal or reorder is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.custody import GENESIS, append_entry, entry_hash, read_chain, verify_chain
from forensics.errors import CaseError

T = datetime(2024, 11, 3, 4, 0, tzinfo=UTC)


def _three(case: Path) -> list[dict[str, object]]:
    append_entry(case, "collected", person="SI Rao", location="server room", purpose="collect", time=T,
                 evidence_ids=["EXH-2", "EXH-1"], item_hashes={"Security.evtx": "ab" * 32})  # fmt: skip
    append_entry(case, "transferred", from_person="SI Rao", to_person="Analyst Iyer", location="cyber lab",
                 purpose="analysis", time=T + timedelta(hours=2))  # fmt: skip
    append_entry(case, "analysed", person="Analyst Iyer", purpose="hunt", time=T + timedelta(hours=3))
    return read_chain(case)


def test_entries_chain_from_genesis_with_utc_and_ist(tmp_path: Path) -> None:
    entries = _three(tmp_path)
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev_entry_sha256"] == GENESIS
    assert entries[1]["prev_entry_sha256"] == entries[0]["entry_sha256"]
    assert entries[0]["time_utc"] == "2024-11-03T04:00:00.000000Z"
    assert entries[0]["time_ist"] == "2024-11-03T09:30:00.000000+05:30"
    assert entries[0]["evidence_ids"] == ["EXH-1", "EXH-2"]
    assert entries[0]["tool"] == "forensics" and entries[0]["tool_version"]
    assert all(e["entry_sha256"] == entry_hash(e) for e in entries)
    assert verify_chain(entries, head=entries[-1]["entry_sha256"]) == []


def test_edit_remove_reorder_are_caught(tmp_path: Path) -> None:
    entries = _three(tmp_path)
    edited = [dict(e) for e in entries]
    edited[1]["to_person"] = "Someone Else"
    assert any("entry 2" in p and "edited" in p for p in verify_chain(edited))
    assert any("seq" in p for p in verify_chain([entries[0], entries[2]]))
    assert verify_chain([entries[1], entries[0], entries[2]])
    assert any("manifest names head" in p for p in verify_chain(entries[:2], head=entries[2]["entry_sha256"]))


def test_time_going_backwards_is_a_problem(tmp_path: Path) -> None:
    append_entry(tmp_path, "collected", person="a", time=T)
    append_entry(tmp_path, "hashed", person="a", time=T - timedelta(minutes=1))
    assert any("before the entry before it" in p for p in verify_chain(read_chain(tmp_path)))


def test_unknown_action_or_field_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown custody action"):
        append_entry(tmp_path, "lost", person="a")
    with pytest.raises(ValueError, match="unknown custody field"):
        append_entry(tmp_path, "collected", persn="a")
    assert read_chain(tmp_path) == []


def test_damaged_log_is_not_appended_to(tmp_path: Path) -> None:
    _three(tmp_path)
    path = tmp_path / "custody.jsonl"
    lines = path.read_text().splitlines()
    e = json.loads(lines[0])
    e["purpose"] = "changed"
    lines[0] = json.dumps(e)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CaseError, match="damaged"):
        append_entry(tmp_path, "verified", person="b")


def test_cli_custody_add_and_show(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["custody", str(tmp_path), "add", "--action", "received", "--person", "Insp Khan", "--place", "Cyber PS",
            "--purpose", "investigation", "--from", "SI Rao", "--evidence", "EXH-1", "--hash", "disk.E01=" + "cd" * 32]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 1 and "not a case" in res.stderr  # an empty folder is not a case ...
    res = runner.invoke(app, [*args, "--create"])  # ... unless the custody log starts it, on purpose
    assert res.exit_code == 0, res.output
    entry = read_chain(tmp_path)[0]
    assert (
        entry["action"] == "received" and entry["from_person"] == "SI Rao" and entry["location"] == "Cyber PS"
    )
    assert entry["item_hashes"] == {"disk.E01": "cd" * 32}
    shown = runner.invoke(app, ["custody", str(tmp_path), "show", "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout.splitlines()[0])["seq"] == 1
    bad = runner.invoke(app, [*args[:4], "misplaced", *args[5:]])
    assert bad.exit_code == 1


def test_tool_step_records_command_and_hashes(tmp_path: Path) -> None:
    from forensics.custody import record_tool_step

    e = record_tool_step(tmp_path, "hashed", command=["forensics", "ingest", "/evidence"], purpose="ingest",
                         item_hashes={"/evidence/Security.evtx": "ab" * 32}, person="Analyst Iyer")  # fmt: skip
    assert e["command"] == ["forensics", "ingest", "/evidence"] and e["person"] == "Analyst Iyer"
    assert verify_chain(read_chain(tmp_path)) == []
