"""Re-extracting raw records from originals: EVTX by ordinal, lines by offset or number, archive members."""

from __future__ import annotations

import hashlib
import tarfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from forensics.raw import Locator, RawRecord, extract_from_source, extract_record, read_raw
from forensics.testing.evtx_writer import WinEvent, write_evtx

LINES = b"Nov  2 21:40:00 web01 sshd[1]: Failed password for root from 203.0.113.45\r\nsecond line\nthird\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_line_by_offset_and_by_number(tmp_path: Path) -> None:
    f = tmp_path / "auth.log"
    f.write_bytes(LINES)
    sha = _sha(LINES)
    off = LINES.index(b"second")
    got = read_raw(
        f, "syslog", sha, [Locator(0, rec_offset=0), Locator(1, rec_offset=off), Locator(2, rec_line=3)]
    )
    assert (
        isinstance(got[0], RawRecord) and got[0].data == LINES.split(b"\r\n")[0]
    )  # line ending not included
    assert got[1].data == b"second line" and got[1].sha256 == _sha(b"second line")  # type: ignore[union-attr]
    assert got[2].data == b"third"  # type: ignore[union-attr]
    missing = read_raw(f, "syslog", sha, [Locator(3, rec_line=40)])
    assert "fewer than 40 lines" in str(missing[3])


def test_archive_members_zip_and_tar_nested(tmp_path: Path) -> None:
    inner = tmp_path / "inner.tar.gz"
    src = tmp_path / "auth.log"
    src.write_bytes(LINES)
    with tarfile.open(inner, "w:gz") as tf:
        tf.add(src, arcname="var/log/auth.log")
    outer = tmp_path / "collection.zip"
    with zipfile.ZipFile(outer, "w") as zf:
        zf.write(inner, "host/inner.tar.gz")
        zf.write(src, "plain/auth.log")
    before = outer.read_bytes()
    sha = _sha(LINES)
    for member in ("plain/auth.log", "host/inner.tar.gz!/var/log/auth.log"):
        got = extract_from_source(outer, member, "syslog", sha, [Locator(5, rec_line=2)])
        assert got[5].data == b"second line", member  # type: ignore[union-attr]
    assert outer.read_bytes() == before  # originals only read
    wrong = extract_from_source(outer, "plain/auth.log", "syslog", "0" * 64, [Locator(5, rec_line=2)])
    assert "now hashes to" in str(wrong[5])
    gone = extract_from_source(outer, "nope.log", "syslog", sha, [Locator(5, rec_line=2)])
    assert "cannot read member" in str(gone[5])


def test_evtx_records_by_ordinal_from_a_case(tmp_path: Path) -> None:
    from forensics.ingest.runner import ingest_paths
    from forensics.store import Case

    t = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    evs = [WinEvent("Microsoft-Windows-Security-Auditing", 4625 + i, t.replace(second=i), "Security", "DC1",
                    event_data=(("TargetUserName", f"user{i}"),)) for i in range(3)]  # fmt: skip
    evtx = write_evtx(tmp_path / "orig" / "Security.evtx", evs)
    ingest_paths(tmp_path / "case", [evtx], workers=1)
    with Case.open(tmp_path / "case", read_only=True) as case:
        sha = case.con.execute("SELECT sha256 FROM inputs").fetchone()[0]  # type: ignore[index]
        rec = extract_record(case, sha, 2)
    assert rec.kind == "evtx" and rec.record_id == 3
    assert b"<EventID>4627</EventID>" in rec.data and b"user2" in rec.data
    assert rec.sha256 == _sha(rec.data)
    assert rec.json is not None and '"TargetUserName":"user2"' in rec.json
    # the record id the event row recorded must agree with what the file holds at that ordinal
    mismatch = read_raw(evtx, "evtx", sha, [Locator(1, record_id=99)])
    assert "EventRecordID 2" in str(mismatch[1])
