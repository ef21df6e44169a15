"""Yearless, zoneless logs take zone and year from the collection they arrived in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from forensics.ingest.runner import ingest_paths
from forensics.store import Case
from forensics.testing.evtx_writer import WinEvent, write_evtx


def test_zone_from_etc_timezone_and_year_from_dated_evidence(tmp_path: Path) -> None:
    host = tmp_path / "collection" / "LNX-ES01"
    (host / "etc").mkdir(parents=True)
    (host / "etc" / "timezone").write_text("Asia/Kolkata\n")
    (host / "var" / "log").mkdir(parents=True)
    (host / "var" / "log" / "auth.log").write_text(
        "Nov 23 07:40:05 lnx-es01 sshd[2211]: Accepted password for esadmin from 10.10.5.20 port 51544 ssh2\n"
    )
    win = tmp_path / "collection" / "DC01" / "Security.evtx"
    when = datetime(2022, 11, 23, 1, 0, tzinfo=UTC)
    write_evtx(win, [WinEvent("Microsoft-Windows-Security-Auditing", 4624, when, "Security", "DC01")])
    ingest_paths(tmp_path / "case", [tmp_path / "collection"])
    with Case.open(tmp_path / "case", read_only=True) as case:
        row = case.con.execute(
            "SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S'), ts_zone, ts_assumed, ts_year_inferred "
            "FROM events WHERE source = 'syslog'"
        ).fetchall()
    assert row == [("2022-11-23 02:10:05", "Asia/Kolkata", True, True)]


def test_the_analysts_own_zone_is_never_used(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("Nov 23 07:40:05 h sshd[1]: Accepted password for a from 10.0.0.1 port 1 ssh2\n")
    ingest_paths(tmp_path / "case", [log])
    with Case.open(tmp_path / "case", read_only=True) as case:
        zone = case.con.execute("SELECT ts_zone, ts_assumed FROM events").fetchall()
    assert zone == [("UTC", True)]
