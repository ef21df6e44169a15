"""The synthetic EVTX writer: files it writes read back exactly through the Rust ``evtx`` parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from evtx import PyEvtxParser

from forensics.ingest.base import InputFile, ParseContext, Reject, Tally
from forensics.ingest.evtx import EvtxParser
from forensics.testing.evtx_writer import (
    CHUNK_SIZE,
    FILE_HEADER_SIZE,
    WinEvent,
    event_json,
    evtx_bytes,
    wevtutil_xml,
    write_evtx,
)

T0 = datetime(2022, 11, 22, 15, 32, 0, 123456, tzinfo=UTC)


def _events(n: int) -> list[WinEvent]:
    out = []
    for i in range(n):
        if i % 50 == 7:
            out.append(
                WinEvent(
                    provider="Microsoft-Windows-Eventlog",
                    event_id=1102,
                    ts=T0 + timedelta(seconds=i),
                    channel="Security",
                    computer="DC01.dims.local",
                    user_data=(
                        "LogFileCleared",
                        (("SubjectUserSid", "S-1-5-21-1-500"), ("SubjectUserName", "adm")),
                    ),
                )
            )
            continue
        out.append(
            WinEvent(
                provider="Microsoft-Windows-Security-Auditing",
                provider_guid="{54849625-5478-4994-a5ba-3e3b0328c30d}",
                event_id=4625,
                ts=T0 + timedelta(seconds=i, microseconds=i),
                channel="Security",
                computer="WIN-TS01.dims.local",
                level=0,
                task=12544,
                keywords=0x8010000000000000,
                process_id=640,
                thread_id=700 + i,
                event_data=(
                    ("TargetUserName", f"user{i:03d}"),
                    ("TargetDomainName", "DIMS"),
                    ("Status", "0xc000006a"),
                    ("LogonType", "3"),
                    ("IpAddress", "203.0.113.45"),
                    ("CommandLine", 'cmd.exe /c "echo <&> ünïcödé"'),
                    ("Empty", None),
                ),
            )
        )
    return out


def _parse(path: Path, **kw: object) -> list[dict[str, object]]:
    return [
        {"json": orjson.loads(r["data"]), "id": r["event_record_id"]}
        for r in PyEvtxParser(str(path), 1, validate_checksums=True, **kw).records_json()
    ]


def test_round_trip_spans_chunks_and_reads_back_every_field(tmp_path: Path) -> None:
    events = _events(400)
    path = write_evtx(tmp_path / "Security.evtx", events)
    size = path.stat().st_size
    assert (size - FILE_HEADER_SIZE) % CHUNK_SIZE == 0
    assert (size - FILE_HEADER_SIZE) // CHUNK_SIZE >= 3  # many records, several chunks
    got = _parse(path)
    assert [g["id"] for g in got] == list(range(1, 401))
    for i, (ev, g) in enumerate(zip(events, got, strict=True)):
        assert g["json"] == event_json(ev, i + 1)


def test_typed_system_values(tmp_path: Path) -> None:
    ev = WinEvent(
        provider="Service Control Manager",
        provider_guid="{555908d1-a6d7-4695-8e1e-26931d2012f4}",
        event_id=7036,
        qualifiers=16384,
        ts=T0,
        channel="System",
        computer="EHOSP-DB01.dims.local",
        user_id="S-1-5-18",
        event_data=(("param1", "SQL Server (MSSQLSERVER)"), ("param2", "stopped")),
    )
    (got,) = _parse(write_evtx(tmp_path / "System.evtx", [ev]))
    system = got["json"]["Event"]["System"]
    assert system["EventID"] == {"#attributes": {"Qualifiers": 16384}, "#text": 7036}
    assert system["EventRecordID"] == 1
    assert system["TimeCreated"]["#attributes"]["SystemTime"] == "2022-11-22T15:32:00.123456Z"
    assert system["Security"]["#attributes"]["UserID"] == "S-1-5-18"


def test_ingest_parser_turns_records_into_rows(tmp_path: Path) -> None:
    path = write_evtx(tmp_path / "Security.evtx", _events(60))
    src = InputFile(path=str(path), member=None, local=path, size=path.stat().st_size, sha256="0", md5="0")
    items = list(EvtxParser().parse(src, ParseContext()))
    tally = items.pop()  # the file's own count comes last
    assert isinstance(tally, Tally) and (tally.claimed, tally.shortfall, tally.status) == (60, 0, None)
    rows = items
    assert not [r for r in rows if isinstance(r, Reject)]
    assert len(rows) == 60
    first = rows[0]
    assert first["event_id"] == 4625
    assert first["record_id"] == 1
    assert first["channel"] == "Security"
    assert first["host"] == "WIN-TS01.dims.local"
    assert first["ts"] == T0
    assert first["TargetUserName"] == "user000"
    cleared = rows[7]
    assert cleared["event_id"] == 1102
    assert cleared["SubjectUserName"] == "adm"


def test_same_events_same_bytes() -> None:
    assert evtx_bytes(_events(100)) == evtx_bytes(_events(100))


def test_corrupt_chunk_magic_loses_only_that_chunk(tmp_path: Path) -> None:
    events = _events(400)
    good = _parse(write_evtx(tmp_path / "good.evtx", events))
    path = write_evtx(tmp_path / "bad.evtx", events, corrupt_chunk=1)
    with pytest.warns(RuntimeWarning):
        got = list(PyEvtxParser(str(path), 1, skip_errors=True).records_json())
    assert 0 < len(got) < len(good)


def test_truncated_file_gives_the_complete_chunks(tmp_path: Path) -> None:
    path = write_evtx(tmp_path / "cut.evtx", _events(400), truncate_to=FILE_HEADER_SIZE + CHUNK_SIZE + 1000)
    got = list(PyEvtxParser(str(path), 1, skip_errors=True).records_json())
    assert 0 < len(got) < 400


def test_wevtutil_xml_export_is_well_formed() -> None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(wevtutil_xml(_events(10)).encode())
    ns = "{http://schemas.microsoft.com/win/2004/08/events/event}"
    evs = root.findall(f"{ns}Event")
    assert len(evs) == 10
    assert evs[0].find(f"{ns}System/{ns}EventID").text == "4625"
    data = {d.get("Name"): d.text for d in evs[0].iter(f"{ns}Data")}
    assert data["CommandLine"] == 'cmd.exe /c "echo <&> ünïcödé"'
