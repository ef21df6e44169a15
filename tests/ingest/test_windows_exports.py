"""wevtutil XML, evtx-JSON and Winlogbeat/NXLog exports give the same rows as the EVTX."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import orjson
import pytest
from evtx import PyEvtxParser

from forensics.ingest.runner import ingest_paths
from forensics.store import Case

SAMPLE = "DeepBlueCLI/evtx/mimikatz-privesc-hashdump.evtx"
COMPARE = "ts, host, channel, provider, event_id, record_id, user_name, process_image, SubjectUserName"


def _rows(case_dir: Path, source: str) -> list[tuple[object, ...]]:
    with Case.open(case_dir, read_only=True) as case:
        return case.con.execute(
            f"SELECT {COMPARE} FROM events WHERE source = ? ORDER BY record_id", [source]
        ).fetchall()


@pytest.fixture()
def evtx_path(shared_data: Path) -> Path:
    return shared_data / SAMPLE


def test_wevtutil_xml_matches_evtx(evtx_path: Path, tmp_path: Path) -> None:
    xml = "\n".join(r["data"] for r in PyEvtxParser(str(evtx_path)).records())
    export = tmp_path / "security.xml"  # wevtutil writes <Event> elements with no root
    export.write_text(xml, encoding="utf-8")
    ingest_paths(tmp_path / "case", [evtx_path, export])
    assert _rows(tmp_path / "case", "winxml") == _rows(tmp_path / "case", "evtx")
    assert len(_rows(tmp_path / "case", "winxml")) > 0


def test_evtx_dump_jsonl_matches_evtx(evtx_path: Path, tmp_path: Path) -> None:
    lines = [
        orjson.dumps(orjson.loads(r["data"])).decode() for r in PyEvtxParser(str(evtx_path)).records_json()
    ]
    export = tmp_path / "security.jsonl"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest_paths(tmp_path / "case", [evtx_path, export])
    assert _rows(tmp_path / "case", "evtxjson") == _rows(tmp_path / "case", "evtx")


def test_truncated_and_malformed_xml_events_are_rejects(tmp_path: Path) -> None:
    ns = "http://schemas.microsoft.com/win/2004/08/events/event"
    good = (
        f'<Event xmlns="{ns}"><System><Provider Name="P"/><EventID>4624</EventID>'
        '<TimeCreated SystemTime="2022-11-22T15:46:00.000000Z"/><EventRecordID>7</EventRecordID>'
        "<Channel>Security</Channel><Computer>WIN-TS01</Computer></System>"
        '<EventData><Data Name="TargetUserName">helpdesk01</Data><Data Name="LogonType">10</Data></EventData></Event>'
    )
    bad = f'<Event xmlns="{ns}"><System><EventID>1</System></Event>'
    export = tmp_path / "x.xml"
    export.write_text(good + "\n" + bad + "\n" + good[:120], encoding="utf-8")
    summary = ingest_paths(tmp_path / "case", [export])
    assert (summary.rows, summary.rejects) == (1, 2)
    with Case.open(tmp_path / "case", read_only=True) as case:
        row = case.con.execute("SELECT host, event_id, TargetUserName, LogonType, ts FROM events").fetchone()
        reasons = sorted(
            r[0].split(":")[0] for r in case.con.execute("SELECT reason FROM rejects").fetchall()
        )
    assert row[:4] == ("WIN-TS01", 4624, "helpdesk01", "10")
    assert reasons == ["malformed Event XML", "truncated"]


def _member_lines(archive: Path) -> dict[str, int]:
    """Non-blank lines of each member of a zip or tar archive."""

    def count(data: bytes) -> int:
        return sum(1 for line in io.BytesIO(data) if line.strip())

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            return {i.filename: count(zf.read(i)) for i in zf.infolist() if not i.is_dir()}
    with tarfile.open(archive) as tf:
        return {m.name: count(tf.extractfile(m).read()) for m in tf.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_otrf_zipped_json_lines_rows_plus_rejects_equal_lines(shared_data: Path, tmp_path: Path) -> None:
    root = shared_data / "Security-Datasets" / "datasets"
    ingest_paths(tmp_path / "case", [root])
    with Case.open(tmp_path / "case", read_only=True) as case:
        done = case.con.execute(
            "SELECT path, member, rows + rejects FROM inputs WHERE parser = 'winbeats'"
        ).fetchall()
        failed = case.con.execute("SELECT count(*) FROM inputs WHERE status = 'failed'").fetchone()
    assert len(done) > 50
    lines_by_zip = {p: _member_lines(Path(p)) for p in sorted({d[0] for d in done})}
    for path, member, n in done:
        assert lines_by_zip[path][member] == n, (path, member)
    assert failed == (0,)
