"""One bad record never stops the run (issue 11 item 2), on both EVTX paths.

Each file is generated here: a record whose ``Channel`` is a number (once a TypeError sorting
the row buffer), a record that is an empty ``<Event/>`` (once an AttributeError outside any
try in the fast path's flush), beside good files in the same folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from forensics.ingest import evtx_fast, runner
from forensics.ingest.runner import ingest_paths
from forensics.store import Case
from tests.reliability.evtxkit import event_count, inputs, logon, logons, write

PATHS = ["fast", "rows"]


@pytest.fixture(params=PATHS)
def evtx_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on the C fast path (where built) and on the row path."""
    if request.param == "rows":
        monkeypatch.setenv("FORENSICS_NO_FAST_EVTX", "1")
    elif not evtx_fast.available():
        pytest.skip("the C flattener was not built here")
    return str(request.param)


def _folder(root: Path) -> Path:
    write(root / "a_number_channel.evtx", [logon(0), logon(1, channel=7), logon(2, computer=12345)])
    write(root / "b_empty_event.evtx", [logon(0), logon(1, bare=True), logon(2)])
    write(root / "c_good.evtx", logons(5))
    return root


def test_odd_values_and_empty_events_are_coerced_or_rejected_and_the_run_goes_on(
    evtx_path: str, tmp_path: Path
) -> None:
    folder = _folder(tmp_path / "in")
    summary = ingest_paths(tmp_path / "case", [folder], workers=1)
    rows = inputs(tmp_path / "case")
    assert set(rows) == {"a_number_channel.evtx", "b_empty_event.evtx", "c_good.evtx"}
    # the number is kept as its text, in the channel column and its partition
    assert (rows["a_number_channel.evtx"]["rows"], rows["a_number_channel.evtx"]["status"]) == (3, "ok")
    assert event_count(tmp_path / "case", "channel = '7'") == 1
    assert event_count(tmp_path / "case", "host = '12345'") == 1
    # the empty event is a reject with its reason; the other two records are rows
    b = rows["b_empty_event.evtx"]
    assert (b["rows"], b["rejects"], b["status"]) == (2, 1, "rejects")
    with Case.open(tmp_path / "case", read_only=True) as case:
        reasons = case.con.execute("SELECT reason, record_id FROM rejects").fetchall()
    assert len(reasons) == 1 and "Event element holds no fields" in reasons[0][0] and reasons[0][1] == 2
    assert rows["c_good.evtx"]["rows"] == 5
    assert summary.rows == event_count(tmp_path / "case") == 10


def test_a_crash_in_the_fast_flush_fails_those_inputs_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not evtx_fast.available():
        pytest.skip("the C flattener was not built here")
    folder = tmp_path / "in"
    write(folder / "a.evtx", logons(3))
    (folder / "b.log").write_text("Mar  1 08:00:00 host sshd[1]: Accepted password for root from 10.0.0.9\n")

    def boom(*_: Any) -> Any:
        raise RuntimeError("simulated bug in the table builder")

    monkeypatch.setattr(evtx_fast.EvtxBatch, "_table", boom)
    summary = ingest_paths(tmp_path / "case", [folder], workers=1)
    rows = inputs(tmp_path / "case")
    assert rows["a.evtx"]["status"] == "failed"
    assert "simulated bug" in rows["a.evtx"]["error"]
    assert rows["b.log"]["status"] == "ok" and rows["b.log"]["rows"] == 1
    assert not summary.clean


def test_a_flattener_error_costs_time_not_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not evtx_fast.available():
        pytest.skip("the C flattener was not built here")

    class Broken:
        @staticmethod
        def flatten(*_: Any) -> Any:
            raise ValueError("simulated flattener failure")

    write(tmp_path / "a.evtx", logons(4))
    monkeypatch.setattr(evtx_fast, "_evtxflat", Broken)
    ingest_paths(tmp_path / "case", [tmp_path / "a.evtx"], workers=1)
    assert inputs(tmp_path / "case")["a.evtx"]["rows"] == event_count(tmp_path / "case") == 4


def test_after_a_run_dies_the_events_view_matches_the_inputs(
    evtx_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kill the run at its second commit: what the first committed is visible to a reader."""
    for i in range(3):
        write(tmp_path / "in" / f"f{i}.evtx", logons(4, start=10 * i))
    monkeypatch.setattr(runner, "GROUP_FILES", 1)
    real = Case.commit_batch
    calls = {"n": 0}

    def dying(self: Case, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("simulated crash")
        real(self, *args, **kwargs)

    monkeypatch.setattr(Case, "commit_batch", dying)
    with pytest.raises(OSError, match="simulated crash"):
        ingest_paths(tmp_path / "case", [tmp_path / "in"], workers=1)
    recorded = inputs(tmp_path / "case")
    assert len(recorded) == 1
    assert event_count(tmp_path / "case") == sum(r["rows"] for r in recorded.values()) == 4
