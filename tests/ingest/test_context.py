"""Every input records the zone, year and host it was parsed with, and where each came from;
a replay given that record parses a lone copy of the file exactly as the first time."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forensics.ingest.base import ParseContext
from forensics.ingest.context import InputContext
from forensics.ingest.runner import ingest_paths
from forensics.store import Case
from forensics.testing.evtx_writer import WinEvent, write_evtx

AUTH = b"Nov 23 07:40:05 sshd[2211]: Accepted password for esadmin from 10.10.5.20 port 51544 ssh2\n"
EVTX_TIME = datetime(2022, 11, 23, 1, 0, tzinfo=UTC)


def _collection(root: Path, *, with_evtx: bool = True) -> Path:
    host = root / "LNX-ES01"
    (host / "etc").mkdir(parents=True)
    (host / "etc" / "timezone").write_text("Asia/Kolkata\n")
    (host / "etc" / "hostname").write_text("lnx-es01\n")
    (host / "var" / "log").mkdir(parents=True)
    (host / "var" / "log" / "auth.log").write_bytes(AUTH)
    if with_evtx:
        write_evtx(root / "DC01" / "Security.evtx",
                   [WinEvent("Microsoft-Windows-Security-Auditing", 4624, EVTX_TIME, "Security", "DC01")])  # fmt: skip
    return root


def _contexts(case_dir: Path) -> dict[str, dict[str, object]]:
    with Case.open(case_dir, read_only=True) as case:
        rows = case.con.execute("SELECT path, context FROM inputs WHERE context IS NOT NULL").fetchall()
    return {Path(p).name: json.loads(c) for p, c in rows}


def _events(case_dir: Path) -> list[tuple[object, ...]]:
    with Case.open(case_dir, read_only=True) as case:
        return case.con.execute(
            "SELECT strftime(ts AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S'), ts_zone, host, year_from "
            "FROM events WHERE source = 'syslog'"
        ).fetchall()


def test_each_input_records_zone_year_and_host_and_where_they_came_from(tmp_path: Path) -> None:
    src = _collection(tmp_path / "collection")
    ingest_paths(tmp_path / "case", [src], workers=1)
    ctx = _contexts(tmp_path / "case")
    mtime = datetime.fromtimestamp(os.stat(src / "LNX-ES01/var/log/auth.log").st_mtime, tz=UTC)
    assert ctx["auth.log"] == {
        "tz": "Asia/Kolkata", "tz_from": "etc/timezone", "year": 2022, "year_from": "collection year",
        "host": "lnx-es01", "host_from": "etc/hostname", "mtime": mtime.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "tz_file": "LNX-ES01/etc/timezone",  # which zone file, relative to the folder named
    }  # fmt: skip
    # EVTX states its own zone and year: it got none, and says so
    assert ctx["Security.evtx"]["tz_from"] == "default UTC" and ctx["Security.evtx"]["year_from"] == "none"
    assert set(ctx) == {"auth.log", "Security.evtx"}  # etc/timezone and etc/hostname are not parsed
    assert _events(tmp_path / "case") == [
        ("2022-11-23 02:10:05", "Asia/Kolkata", "lnx-es01", "reference_year")
    ]


def test_options_the_user_gave_are_named_as_such(tmp_path: Path) -> None:
    src = _collection(tmp_path / "collection")
    given = ParseContext(tz="Europe/London", host="given-host", reference_year=2021)
    ingest_paths(tmp_path / "case", [src], given, workers=1)
    auth = _contexts(tmp_path / "case")["auth.log"]
    assert (auth["tz"], auth["tz_from"], auth["year"], auth["year_from"], auth["host"], auth["host_from"]) == (
        "Europe/London", "--tz", 2021, "--year", "given-host", "--host",
    )  # fmt: skip


def test_replay_of_a_lone_copy_repeats_every_decision(tmp_path: Path) -> None:
    """The copy has no etc/ beside it, no dated evidence with it and another mtime: the recorded
    context alone gives the same zone, year and host."""
    src = _collection(tmp_path / "collection", with_evtx=False)  # the year comes from the file's mtime
    log = src / "LNX-ES01/var/log/auth.log"
    os.utime(log, (datetime(2023, 2, 1, tzinfo=UTC).timestamp(),) * 2)
    ingest_paths(tmp_path / "case", [src], workers=1)
    first = _events(tmp_path / "case")
    assert first == [("2022-11-23 02:10:05", "Asia/Kolkata", "lnx-es01", "mtime")]
    with Case.open(tmp_path / "case", read_only=True) as case:
        sha, text = case.con.execute("SELECT sha256, context FROM inputs WHERE parser = 'syslog'").fetchone()
    lone = tmp_path / "copy" / "auth.log"
    lone.parent.mkdir()
    lone.write_bytes(AUTH)  # mtime: today
    ingest_paths(tmp_path / "plain", [lone], workers=1)
    assert _events(tmp_path / "plain") != first  # without the record: UTC, no host, another year
    ingest_paths(tmp_path / "replay", [lone], workers=1, recorded={sha: InputContext.from_json(text)})
    assert _events(tmp_path / "replay") == first
    assert _contexts(tmp_path / "replay")["auth.log"] == json.loads(text)


@pytest.mark.parametrize(
    "bad",
    [{"tz": None, "tz_from": "guess", "year": None, "year_from": "none", "host": None, "host_from": "none"},
     {"tz": None, "tz_from": "--tz", "year": "2022", "year_from": "--year", "host": None, "host_from": "none"},
     {"tz": 5, "tz_from": "--tz", "year": None, "year_from": "none", "host": None, "host_from": "none"},
     ["not", "an", "object"]],
)  # fmt: skip
def test_a_damaged_record_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        InputContext.from_dict(bad)  # type: ignore[arg-type]
