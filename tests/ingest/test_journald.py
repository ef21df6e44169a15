"""systemd journal: binary files (gzipped too), export format, JSON output; nothing lost."""

from __future__ import annotations

import gzip
import json
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.journald import JournaldParser
from forensics.ingest.registry import sniff
from forensics.ingest.runner import ingest_paths
from forensics.store import Case

PARSER = JournaldParser()
JOURNALS = "velociraptor-journal"
EXPORT = (
    "edr-fixtures/elastic-integrations/packages/journald/_dev/deploy/docker/sample_logs/test.journal.export"
)
BEATS = "edr-fixtures/beats/filebeat/input/journald/pkg/journalctl/testdata"


def make_input(path: Path) -> InputFile:
    return InputFile.from_path(path)


def parse(path: Path, ctx: ParseContext | None = None) -> list[Row | Reject]:
    return list(PARSER.parse(make_input(path), ctx or ParseContext()))


def rows_of(items: list[Row | Reject]) -> list[Row]:
    return [i for i in items if not isinstance(i, Reject)]


def header_entries(gz: Path) -> int:
    """n_entries from the journal header (offset 152), read independently of the parser."""
    with gzip.open(gz, "rb") as fh:
        head = fh.read(160)
    assert head[:8] == b"LPKSHHRH"
    return struct.unpack_from("<Q", head, 152)[0]


@pytest.mark.parametrize("name", ["2004.journal.gz", "system.journal.gz"])
def test_binary_journal_reconciles_with_header(shared_data: Path, name: str) -> None:
    """Rows + rejects = the entries the header counts, for an intact and a truncated real journal."""
    path = shared_data / JOURNALS / name
    found = sniff(path.read_bytes()[:65536], path.name)
    assert found is not None and found.name == "journald"
    items = parse(path)
    assert len(items) == header_entries(path)


def test_binary_journal_fields(shared_data: Path) -> None:
    """LZ4-compressed journal: every field under its journal name, time from __REALTIME_TIMESTAMP."""
    rows = rows_of(parse(shared_data / JOURNALS / "2004.journal.gz"))
    assert [r["record_id"] for r in rows] == [1, 2, 3]
    first = rows[0]
    assert (first["message"], first["provider"], first["host"], first["channel"]) == (
        "Journal started", "systemd-journald", "9f5c084797a0", "journal",
    )  # fmt: skip
    assert first["ts"] == datetime.fromtimestamp(int(first["__REALTIME_TIMESTAMP"]) / 1e6, tz=UTC)
    assert (first["ts_zone"], first["ts_assumed"]) == ("UTC", False)
    assert first["_PID"] == "1056" and first["process_pid"] == 1056
    tagged = rows[2]
    assert tagged["SYSLOG_IDENTIFIER"] == "mytag" and len(tagged["MESSAGE"]) > 100  # the compressed payload


def test_truncated_journal_says_why(shared_data: Path) -> None:
    """A journal cut short (zstd, keyed hash): the entries before the cut are rows, the rest rejects with the reason."""
    items = parse(shared_data / JOURNALS / "system.journal.gz")
    rows = rows_of(items)
    rejects = [i for i in items if isinstance(i, Reject)]
    assert len(rows) >= 1 and rows[0]["host"] == "devbox"
    assert rejects and all("truncated" in r.reason for r in rejects)


def test_export_format(shared_data: Path) -> None:
    path = shared_data / EXPORT
    found = sniff(path.read_bytes()[:65536], path.name)
    assert found is not None and found.name == "journald"
    items = parse(path)
    entries = path.read_bytes().count(b"__CURSOR=")
    assert len(items) == entries == 23 and len(rows_of(items)) == 23
    rows = rows_of(items)
    assert rows[0]["rec_line"] == 1 and rows[1]["rec_line"] == 39
    audit = [r for r in rows if r.get("_TRANSPORT") == "audit"]
    assert len(audit) == 17 and audit[0]["_AUDIT_TYPE"] is not None
    docker = [r for r in rows if r["provider"] == "dockerd"]
    assert docker and all(r["_SYSTEMD_UNIT"] == "docker.service" for r in docker)


def test_export_binary_field(tmp_path: Path) -> None:
    """Export format writes fields with newlines as name, u64 length, bytes."""
    value = b"line one\nline two"
    blob = (
        b"__CURSOR=s=1\n__REALTIME_TIMESTAMP=1700000000000000\n__SEQNUM=5\n_HOSTNAME=web1\n"
        b"MESSAGE\n" + struct.pack("<Q", len(value)) + value + b"\nSYSLOG_IDENTIFIER=app\n\n"
        b"__CURSOR=s=2\n__REALTIME_TIMESTAMP=1700000001000000\nMESSAGE=second\n\n"
    )
    path = tmp_path / "out.export"
    path.write_bytes(blob)
    rows = rows_of(parse(path))
    assert [r["message"] for r in rows] == ["line one\nline two", "second"]
    assert rows[0]["record_id"] == 5 and rows[0]["host"] == "web1"
    assert rows[1]["rec_line"] == 10  # the binary value holds a newline of its own


@pytest.mark.parametrize(("name", "count"), [("sample-journal-event.json", 1), ("corner-cases.json", 2)])
def test_json_output(shared_data: Path, name: str, count: int) -> None:
    """json-pretty and an array of entries; byte-array and null values become text / None."""
    path = shared_data / BEATS / name
    found = sniff(path.read_bytes()[:65536], path.name)
    assert found is not None and found.name == "journald"
    rows = rows_of(parse(path))
    assert len(rows) == count == len(parse(path))
    if name == "corner-cases.json":
        pulse = rows[1]
        assert pulse["provider"] == "pulseaudio" and "AT+BIA" in pulse["message"]  # MESSAGE given as bytes
        assert rows[0]["COREDUMP_PROC_MOUNTINFO"] is None


def test_json_lines_auth_entry_and_garbage(tmp_path: Path) -> None:
    """``-o json`` lines: an sshd entry of facility authpriv is channel auth with its fields; a bad line is a reject."""
    entry = {
        "__REALTIME_TIMESTAMP": "1700000000123456", "__SEQNUM": "77", "_HOSTNAME": "bastion", "SYSLOG_FACILITY": "10",
        "SYSLOG_IDENTIFIER": "sshd", "_PID": "4242", "_COMM": "sshd",
        "MESSAGE": "Failed password for invalid user oracle from 198.51.100.7 port 52222 ssh2",
    }  # fmt: skip
    path = tmp_path / "journal.json"
    path.write_text(
        json.dumps(entry) + "\n{not json\n" + json.dumps({"MESSAGE": "x", "__CURSOR": "c"}) + "\n"
    )
    items = parse(path)
    assert [type(i).__name__ for i in items] == ["dict", "Reject", "dict"]
    row = items[0]
    assert isinstance(row, dict)
    assert (row["channel"], row["action"], row["user_name"], row["src_ip"], row["src_port"]) == (
        "auth", "failed", "oracle", "198.51.100.7", 52222,
    )  # fmt: skip
    assert row["ts"] == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC) and row["record_id"] == 77
    assert items[1].rec_line == 2  # type: ignore[union-attr]


def test_sniff_refuses_other_json_and_garbage() -> None:
    assert not PARSER.sniff(b'{"event_simpleName": "ProcessRollup2", "aid": "x"}\n', "fdr.json")
    assert not PARSER.sniff(b"Jan  5 10:00:00 h1 app[1]: hi\n", "syslog")
    assert not PARSER.sniff(b"\x1f\x8b\x08\x00garbage", "x.gz")
    assert not PARSER.sniff(b"", "x")


def test_garbage_journal_is_a_clear_failure(tmp_path: Path) -> None:
    """Journal magic but a cut header: the file fails with a message, it does not crash."""
    path = tmp_path / "bad.journal"
    path.write_bytes(b"LPKSHHRH" + b"\x00" * 40)
    with pytest.raises(Exception, match="header too short"):
        parse(path)


def test_ingest_paths_counts_in_case(shared_data: Path, tmp_path: Path) -> None:
    """Through the runner (which opens the .gz and hands over its member): rows + rejects = header entries."""
    src = shared_data / JOURNALS / "2004.journal.gz"
    ingest_paths(tmp_path / "case", [src], ParseContext(), workers=1)
    with Case.open(tmp_path / "case", read_only=True) as case:
        inputs = case.con.execute("SELECT sha256, parser, rows, rejects, status FROM inputs").fetchall()
        assert [i[1:] for i in inputs] == [("journald", 3, 0, "ok")]
        rows = case.con.execute(
            "SELECT count(*) FROM events WHERE input_sha256 = ?", [inputs[0][0]]
        ).fetchone()[0]
        rejects = case.con.execute(
            "SELECT count(*) FROM rejects WHERE input_sha256 = ?", [inputs[0][0]]
        ).fetchone()[0]
    assert rows + rejects == header_entries(src) == 3


def test_damaged_binary_journal_never_crashes(shared_data: Path, tmp_path: Path) -> None:
    """Bytes flipped all over a real journal: entries become rows or rejects, the count still holds."""
    import random

    with gzip.open(shared_data / JOURNALS / "2004.journal.gz", "rb") as fh:
        clean = fh.read()
    rng = random.Random(4)
    for trial in range(6):
        data = bytearray(clean)
        for _ in range(200):
            pos = rng.randrange(256, len(data))
            data[pos] = rng.randrange(256)
        path = tmp_path / f"damaged{trial}.journal"
        path.write_bytes(bytes(data))
        items = parse(path)
        assert len(items) >= 3  # the header still counts 3 entries; extra entry-like objects are rows too
        for item in items:
            assert isinstance(item, Reject) or item["source"] == "journald"
