"""EVTX loss is measured against the file's own headers (issue 11 item 1).

Every file is generated here with the project's EVTX writer, then cut or damaged the way
collections arrive: cut inside the first chunk, cut in half, the file header's signature
overwritten, a chunk's signature overwritten, a record header overwritten, a record's bytes
changed under its CRC. Each must say how many records the headers claim, recover what the
bytes hold (carved rows marked), keep the rest as rejects with their offsets, and never be
``ok`` with fewer records than claimed.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.ingest import evtx_fast
from forensics.ingest.evtx_chunks import CHUNK_SIZE, FILE_HEADER_SIZE, RECORD_MAGIC
from forensics.ingest.runner import ingest_paths
from forensics.integrity import assess
from forensics.raw import Locator, read_evtx
from forensics.store import Case
from forensics.testing.evtx_writer import evtx_bytes
from tests.reliability.evtxkit import event_count, inputs, logons

N = 500  # three chunks of generated logons


@pytest.fixture(scope="module")
def whole() -> bytes:
    """A clean three-chunk file of ``N`` records."""
    data = evtx_bytes(logons(N))
    assert (len(data) - FILE_HEADER_SIZE) // CHUNK_SIZE == 3
    return data


@pytest.fixture(params=["fast", "rows"])
def evtx_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each case on the C fast path (where built) and on the row path."""
    if request.param == "rows":
        monkeypatch.setenv("FORENSICS_NO_FAST_EVTX", "1")
    elif not evtx_fast.available():
        pytest.skip("the C flattener was not built here")
    return str(request.param)


def _record_offsets(data: bytes, chunk: int) -> list[int]:
    """File offsets of the records of one chunk, walked by their sizes."""
    base = FILE_HEADER_SIZE + chunk * CHUNK_SIZE
    (free,) = struct.unpack_from("<I", data, base + 48)
    out, off = [], 512
    while off < free:
        out.append(base + off)
        off += struct.unpack_from("<I", data, base + off + 4)[0]
    return out


def _ingest(tmp_path: Path, name: str, data: bytes) -> dict[str, Any]:
    src = tmp_path / "in" / name
    src.parent.mkdir(parents=True, exist_ok=True)
    src.write_bytes(data)
    ingest_paths(tmp_path / "case", [src], workers=1)
    return inputs(tmp_path / "case")[name]


def _accounted(row: dict[str, Any]) -> None:
    """The invariant: what was read + rejected + reported missing covers the headers' claim."""
    assert row["records_claimed"] is not None
    assert row["rows"] + row["rejects"] + row["records_shortfall"] >= row["records_claimed"]
    if row["status"] in ("ok", "rejects"):
        assert row["rows"] + row["rejects"] >= row["records_claimed"]
        assert row["records_shortfall"] == 0


def test_a_clean_file_claims_and_yields_every_record(whole: bytes, evtx_path: str, tmp_path: Path) -> None:
    row = _ingest(tmp_path, "clean.evtx", whole)
    assert (row["status"], row["rows"], row["records_claimed"], row["records_carved"]) == ("ok", N, N, 0)
    assert row["records_shortfall"] == 0
    assert event_count(tmp_path / "case", "carved") == 0


def test_cut_inside_the_first_chunk_is_truncated_with_the_shortfall(
    whole: bytes, evtx_path: str, tmp_path: Path
) -> None:
    cut = FILE_HEADER_SIZE + 512 + 20_000
    row = _ingest(tmp_path, "cut.evtx", whole[:cut])
    assert row["status"] == "truncated"
    assert row["records_claimed"] == N  # the file header's next record id covers the lost chunks
    whole_records = [o for o in _record_offsets(whole, 0) if o + 28 <= cut]
    complete = [o for o in _record_offsets(whole, 0) if o < cut and whole.index(RECORD_MAGIC, o + 4) <= cut]
    assert row["rows"] == row["records_carved"] == len(complete) - 1 or row["rows"] >= len(complete) - 1
    assert row["rejects"] == len(whole_records) - row["rows"]  # the record the cut runs through
    assert row["records_shortfall"] == N - row["rows"] - row["rejects"] > 0
    _accounted(row)
    with Case.open(tmp_path / "case", read_only=True) as case:
        offset, reason = case.con.execute("SELECT rec_offset, reason FROM rejects").fetchall()[0]
    assert offset == whole_records[-1] and "readable" in reason


def test_cut_in_half_says_how_many_records_are_missing(whole: bytes, evtx_path: str, tmp_path: Path) -> None:
    row = _ingest(tmp_path, "half.evtx", whole[: len(whole) // 2])
    assert row["status"] == "truncated"
    assert row["records_claimed"] == N
    assert 0 < row["records_shortfall"] < N
    assert row["rows"] + row["rejects"] + row["records_shortfall"] == N
    assert row["records_carved"] > 0  # the records of the cut chunk that are whole
    _accounted(row)


def test_a_damaged_file_signature_is_still_evtx_and_every_record_is_read(
    whole: bytes, evtx_path: str, tmp_path: Path
) -> None:
    row = _ingest(tmp_path, "nosig.evtx", b"\x00" * 8 + whole[8:])
    assert (row["parser"], row["status"], row["rows"], row["records_claimed"]) == ("evtx", "damaged", N, N)
    assert row["records_carved"] == 0  # the chunks are intact and read as stored
    assert "file header signature damaged" in row["error"]


def test_a_chunk_with_a_damaged_signature_is_carved(whole: bytes, evtx_path: str, tmp_path: Path) -> None:
    data = bytearray(whole)
    data[FILE_HEADER_SIZE + CHUNK_SIZE : FILE_HEADER_SIZE + CHUNK_SIZE + 8] = b"XXXXXXXX"
    row = _ingest(tmp_path, "chunk1.evtx", bytes(data))
    in_chunk = len(_record_offsets(whole, 1))
    assert (row["status"], row["rows"], row["rejects"], row["records_shortfall"]) == ("damaged", N, 0, 0)
    assert row["records_carved"] == in_chunk
    assert event_count(tmp_path / "case", "carved") == in_chunk
    assert event_count(tmp_path / "case", "carved IS NULL") == N - in_chunk
    # the carved rows carry their own values, not a neighbour's
    with Case.open(tmp_path / "case", read_only=True) as case:
        pairs = case.con.execute("SELECT record_id, TargetUserName FROM events WHERE carved").fetchall()
        sha, rec_index, rid = case.con.execute(
            "SELECT input_sha256, rec_index, record_id FROM events WHERE carved ORDER BY rec_index LIMIT 1"
        ).fetchall()[0]
    assert all(user == f"user{rid - 1}" for rid, user in pairs)
    # raw re-extraction numbers records as ingest did, carved ones included
    raw = read_evtx(tmp_path / "in" / "chunk1.evtx", sha, [Locator(rec_index, record_id=rid)])[rec_index]
    assert not isinstance(raw, str) and raw.record_id == rid


def test_a_damaged_record_header_loses_that_record_only(whole: bytes, evtx_path: str, tmp_path: Path) -> None:
    data = bytearray(whole)
    victim = _record_offsets(whole, 0)[40]
    data[victim : victim + 8] = b"\xff" * 8  # signature and size
    row = _ingest(tmp_path, "rec.evtx", bytes(data))
    assert (row["status"], row["rows"], row["rejects"], row["records_shortfall"]) == ("damaged", N - 1, 1, 0)
    with Case.open(tmp_path / "case", read_only=True) as case:
        (offset, raw), *_ = case.con.execute("SELECT rec_offset, raw FROM rejects").fetchall()
        assert case.con.execute("SELECT count(*) FROM events WHERE record_id = 41").fetchall()[0][0] == 0
    assert offset == victim and raw.startswith("ff" * 8)


def test_bytes_changed_under_the_records_crc_are_reported(
    whole: bytes, evtx_path: str, tmp_path: Path
) -> None:
    data = bytearray(whole)
    name = "user7".encode("utf-16-le")
    at = data.index(name, FILE_HEADER_SIZE)
    data[at : at + len(name)] = "USER7".encode("utf-16-le")
    row = _ingest(tmp_path, "crc.evtx", bytes(data))
    assert (row["status"], row["rows"], row["records_shortfall"]) == ("damaged", N, 0)
    assert "records CRC32 mismatch" in row["error"]
    assert event_count(tmp_path / "case", "TargetUserName = 'USER7'") == 1


def test_the_cli_exits_for_attention_and_integrity_shows_the_shortfall(whole: bytes, tmp_path: Path) -> None:
    src = tmp_path / "in" / "half.evtx"
    src.parent.mkdir()
    src.write_bytes(whole[: len(whole) // 2])
    result = CliRunner().invoke(app, ["ingest", str(src), "--case", str(tmp_path / "case")])
    assert result.exit_code == 3
    assert "truncated" in result.stderr and "missing" in result.stderr
    with Case.open(tmp_path / "case", read_only=True) as case:
        short = assess(case).file_shortfalls
    assert len(short) == 1 and short[0]["status"] == "truncated" and short[0]["shortfall"] > 0
    shown = CliRunner().invoke(app, ["integrity", str(tmp_path / "case")])
    assert "files short of their headers: 1" in shown.stdout and "half.evtx" in shown.stdout


def test_seeded_mutations_are_never_ok_with_fewer_records_than_claimed(whole: bytes, tmp_path: Path) -> None:
    """Cuts, byte flips and zeroed spans at seeded places: every file accounted for, no crash."""
    rng = random.Random(1107)
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(30):
        data = bytearray(whole)
        kind = i % 3
        if kind == 0:
            del data[rng.randrange(FILE_HEADER_SIZE, len(data)) :]
        elif kind == 1:
            for _ in range(rng.randrange(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        else:
            at = rng.randrange(len(data))
            data[at : at + rng.randrange(1, 4096)] = bytes(min(4096, len(data) - at))[
                : rng.randrange(1, 4096)
            ]
        (folder / f"m{i:02d}.evtx").write_bytes(bytes(data))
    ingest_paths(tmp_path / "case", [folder], workers=1)
    rows = inputs(tmp_path / "case")
    assert len(rows) == 30
    for name, row in rows.items():
        if row["parser"] != "evtx":  # a mutation that removed every signature: reported, not parsed
            assert row["status"] in ("unknown", "unrecognised"), name
            continue
        _accounted(row)
