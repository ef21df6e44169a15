"""Syslog text: RFC 3164 / 5424 / rsyslog variants, year inference, nothing lost."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.registry import sniff
from forensics.ingest.runner import ingest_paths
from forensics.ingest.syslog import SyslogParser
from forensics.store import Case

PARSER = SyslogParser()
PLASO = "plaso-testdata/test_data/syslog"
ELASTIC = "edr-fixtures/elastic-integrations/packages/system/data_stream"


def make_input(path: Path, mtime: datetime | None = None) -> InputFile:
    return InputFile.from_path(path, mtime=mtime)


def parse(path: Path, ctx: ParseContext | None = None, mtime: datetime | None = None) -> list[Row | Reject]:
    """Every item the parser yields for ``path``."""
    return list(PARSER.parse(make_input(path, mtime), ctx or ParseContext()))


def rows_of(items: list[Row | Reject]) -> list[Row]:
    return [i for i in items if not isinstance(i, Reject)]


def rejects_of(items: list[Row | Reject]) -> list[Reject]:
    return [i for i in items if isinstance(i, Reject)]


def line_total(items: list[Row | Reject]) -> int:
    """Lines accounted for: each row's lines (continuations joined) plus one per reject."""
    return sum(int(r.get("line_count") or 1) for r in rows_of(items)) + len(rejects_of(items))


def count_lines(path: Path) -> int:
    data = path.read_bytes()
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


LINE_FILES = [
    f"{PLASO}/syslog",
    f"{PLASO}/syslog_chromeos",
    f"{PLASO}/syslog_cron.log",
    f"{PLASO}/syslog_osx",
    f"{PLASO}/syslog_rsyslog",
    f"{PLASO}/syslog_rsyslog_SysklogdFileFormat",
    f"{PLASO}/syslog_rsyslog_SyslogProtocol23Format",
    f"{PLASO}/syslog_rsyslog_traditional",
    f"{PLASO}/syslog_ssh.log",
    "loghub/OpenSSH/OpenSSH_2k.log",
    f"{ELASTIC}/auth/_dev/test/pipeline/test-auth-ubuntu1204.log",
    f"{ELASTIC}/auth/_dev/test/pipeline/test-secure-rhel7.log",
    f"{ELASTIC}/syslog/_dev/test/pipeline/test-systemd.log",
    f"{ELASTIC}/syslog/_dev/test/pipeline/test-iso8601-timestamp-multiline-syslog.log",
]


@pytest.mark.parametrize("rel", LINE_FILES)
def test_corpus_lines_reconcile(shared_data: Path, rel: str) -> None:
    """Every line of every real syslog file is in a row or a reject, and the file is sniffed as syslog."""
    path = shared_data / rel
    found = sniff(path.read_bytes()[:65536], path.name)
    assert found is not None and found.name == "syslog"
    items = parse(path)
    assert line_total(items) == count_lines(path)
    data = path.read_bytes()
    starts = [0] + [i + 1 for i, b in enumerate(data) if b == 0x0A]
    for row in rows_of(items):
        assert row["source"] == "syslog"
        assert row["ts"].tzinfo is not None and row["ts"].utcoffset().total_seconds() == 0
        # the raw record can be found again: its line starts at rec_offset, with its timestamp
        assert starts[row["rec_line"] - 1] == row["rec_offset"]
        assert row["ts_raw"].encode() in data[row["rec_offset"] : row["rec_offset"] + 80]


def test_plaso_syslog_rejects_are_explained(shared_data: Path) -> None:
    """The bad month line is a reject with its reason; the tab continuation joins its record.

    The file goes Jan, Feb, Dec, Mar, Dec, Nov, Feb, Nov: three New Year rollovers, so with the
    collection in 2015 it starts in 2012, where plaso's test data says its Feb 29 line belongs.
    """
    items = parse(shared_data / PLASO / "syslog", ParseContext(reference_year=2015))
    rejects = rejects_of(items)
    assert [(r.rec_line, r.reason) for r in rejects] == [(8, "unknown month 'MMM' in the timestamp")]
    leap = [r for r in rows_of(items) if r["ts_raw"] == "Feb 29 01:15:43"]
    assert leap[0]["ts"] == datetime(2012, 2, 29, 1, 15, 43, tzinfo=UTC)
    assert rows_of(items)[-1]["ts"].year == 2015
    multi = [r for r in rows_of(items) if r.get("line_count") == "2"]
    assert multi[0]["message"] == "This is a multi-line message that screws up\n\tmany syslog parsers."
    assert multi[0]["rec_line"] == 13
    kernel = [r for r in rows_of(items) if r.get("provider") == "kernel"]
    assert [r.get("host") for r in kernel] == [None, "victoria"]  # "Nov 18 08:30:20 kernel: ..." has no host


def test_forward_format_frames_reconcile(shared_data: Path) -> None:
    """Frames written back to back on one line are separate records."""
    for name in ("syslog_rsyslog_ForwardFormat", "syslog_rsyslog_TraditionalForwardFormat"):
        path = shared_data / PLASO / name
        frames = len(re.findall(rb"<\d{1,3}>(?=\d{4}-|[A-Z][a-z]{2} )", path.read_bytes()))
        items = parse(path)
        assert not rejects_of(items)
        assert len(rows_of(items)) == frames == 9
        assert {r["facility"] for r in rows_of(items)} == {"user", "daemon", "cron"}
        assert rows_of(items)[1]["message"].endswith("with another line")


def test_rfc5424_fields(shared_data: Path) -> None:
    rows = rows_of(parse(shared_data / PLASO / "syslog_rsyslog_SyslogProtocol23Format"))
    first = rows[0]
    assert first["ts"] == datetime(2021, 3, 6, 4, 7, 38, 251122, tzinfo=UTC)
    assert (first["ts_assumed"], first["ts_year_inferred"], first["ts_zone"]) == (False, False, "UTC")
    assert (first["host"], first["provider"], first["msgid"], first["severity"]) == (
        "hostname",
        "log_tag",
        "123",
        "debug",
    )
    assert first["message"] == "this is debug"
    cron = rows[-1]
    assert (cron["provider"], cron["process_pid"], cron["facility"]) == ("cron", 18898, "cron")


def test_high_precision_offset_is_stated_not_assumed(shared_data: Path) -> None:
    row = rows_of(parse(shared_data / PLASO / "syslog_chromeos"))[0]
    assert row["ts"] == datetime(2016, 10, 25, 19, 37, 23, 297265, tzinfo=UTC)
    assert row["ts_zone"] == "UTC-07:00" and row["ts_assumed"] is False
    assert (row.get("host"), row["provider"], row["severity_name"]) == (None, "periodic_scheduler", "INFO")


def test_new_year_rollover_with_reference_year(tmp_path: Path) -> None:
    """A yearless file straddling New Year: the last lines in the collection year, the first in the year before."""
    path = tmp_path / "messages"
    path.write_text(
        "Dec 30 23:59:58 web1 sshd[10]: Server listening on 0.0.0.0 port 22.\n"
        "Dec 31 23:59:59 web1 CRON[11]: (root) CMD (backup.sh)\n"
        "Jan  1 00:00:01 web1 sshd[12]: Failed password for root from 10.0.0.9 port 5050 ssh2\n"
        "Jan  2 08:00:00 web1 systemd[1]: Started Daily apt activities.\n"
    )
    rows = rows_of(parse(path, ParseContext(reference_year=2024)))
    assert [r["ts"].year for r in rows] == [2023, 2023, 2024, 2024]
    assert all(r["ts_year_inferred"] is True and r["ts_assumed"] is True for r in rows)
    assert {r["year_from"] for r in rows} == {"reference_year"}
    assert rows[2]["ts"] == datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)


def test_year_from_mtime_never_puts_events_after_the_file(tmp_path: Path) -> None:
    """Without a reference year the file's time decides; a December line read in January is last year's."""
    path = tmp_path / "syslog"
    path.write_text("Dec 31 22:00:00 db1 kernel: [1.0] booting\nJan  3 09:00:00 db1 kernel: [2.0] up\n")
    rows = rows_of(parse(path, mtime=datetime(2025, 1, 5, 12, 0, tzinfo=UTC)))
    assert [r["ts"].year for r in rows] == [2024, 2025]
    assert rows[0]["year_from"] == "mtime"
    only_december = tmp_path / "old"
    only_december.write_text("Dec 20 10:00:00 db1 kernel: [1.0] booting\n")
    row = rows_of(parse(only_december, mtime=datetime(2025, 1, 5, tzinfo=UTC)))[0]
    assert row["ts"] == datetime(2024, 12, 20, 10, 0, tzinfo=UTC)


def test_zone_from_context_is_assumed(tmp_path: Path) -> None:
    """RFC 3164 times are read in --tz (IST here) and stored in UTC, marked assumed."""
    path = tmp_path / "auth.log"
    path.write_text(
        "Mar  5 14:30:00 his-db sshd[77]: Accepted password for dr_rao from 10.1.2.3 port 41000 ssh2\n"
    )
    row = rows_of(parse(path, ParseContext(tz="Asia/Kolkata", reference_year=2024)))[0]
    assert row["ts"] == datetime(2024, 3, 5, 9, 0, tzinfo=UTC)
    assert (row["ts_zone"], row["ts_assumed"], row["ts_raw"]) == ("Asia/Kolkata", True, "Mar  5 14:30:00")


def test_garbage_binary_empty_and_truncated(tmp_path: Path) -> None:
    """Junk never crashes the parser: each bad line is a reject with a reason, the rest are rows."""
    path = tmp_path / "syslog"
    path.write_bytes(
        b"Jan  5 10:00:00 h1 app[1]: first\n"
        b"\x00\x01\x02\x03\xff\xfe binary junk\x00\n"
        b"\n"
        b"Jan 45 10:00:00 h1 app[1]: bad day\n"
        b"Jan  5 10:00:02 h1 app[1]: truncated last li"
    )
    items = parse(path, ParseContext(reference_year=2024))
    reasons = [r.reason for r in rejects_of(items)]
    assert len(reasons) == 3
    assert reasons[0].startswith("binary data") and reasons[1] == "empty line"
    assert "not a date" in reasons[2]
    assert [r["message"] for r in rows_of(items)] == ["first", "truncated last li"]
    assert line_total(items) == 5
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert parse(empty) == []


def test_orphan_first_line_is_a_reject(tmp_path: Path) -> None:
    path = tmp_path / "syslog"
    path.write_text("continued from a rotated file\nJan  5 10:00:00 h1 app: ok\n")
    items = parse(path, ParseContext(reference_year=2024))
    assert [type(i).__name__ for i in items] == ["Reject", "dict"]
    assert items[0].reason == "line without a syslog header"  # type: ignore[union-attr]


def test_sniff_refuses_json_csv_binary_audit() -> None:
    assert PARSER.sniff(b"Jan  5 10:00:00 h1 app[1]: hello\nJan  5 10:00:01 h1 app[1]: again\n", "x")
    assert PARSER.sniff(b"<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - 'su root' failed\n", "x")
    assert not PARSER.sniff(b'{"ts": "2024-01-01T00:00:00Z", "msg": "x"}\n', "x.log")
    assert not PARSER.sniff(
        b"2024-01-01T00:00:00Z,host,app,message\n2024-01-01T00:00:01Z,host,app,m2\n", "x.csv"
    )
    assert not PARSER.sniff(b"ElfFile\x00\x01\x02", "x")
    assert not PARSER.sniff(b"type=SYSCALL msg=audit(1.2:3): arch=c000003e\n", "audit.log")
    assert not PARSER.sniff(b"", "x")
    rotated = b"\tcontinued message\n"
    rotated += b"".join(b"Jan  5 10:00:0%d h1 app[1]: hi\n" % i for i in range(4))
    assert PARSER.sniff(rotated, "messages.1")
    assert not PARSER.sniff(b"hello world\nJan  5 10:00:00 h1 app[1]: hi\nmore prose\n", "notes.txt")


def test_ingest_paths_counts_in_case(shared_data: Path, tmp_path: Path) -> None:
    """Through the runner: the OpenSSH brute force lands in the case with every line accounted for."""
    src = shared_data / "loghub/OpenSSH/OpenSSH_2k.log"
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    ingest_paths(tmp_path / "case", [src], ParseContext(reference_year=2024), workers=1)
    with Case.open(tmp_path / "case", read_only=True) as case:
        rows = case.con.execute("SELECT count(*) FROM events WHERE input_sha256 = ?", [sha]).fetchone()[0]
        parser, in_rows, in_rejects = case.con.execute(
            "SELECT parser, rows, rejects FROM inputs WHERE sha256 = ?", [sha]
        ).fetchone()
        rejects = case.con.execute("SELECT count(*) FROM rejects WHERE input_sha256 = ?", [sha]).fetchone()[0]
        failed = case.con.execute(
            "SELECT count(*) FROM events WHERE input_sha256 = ? AND channel = 'auth' AND action = 'failed'",
            [sha],
        ).fetchone()[0]
    assert parser == "syslog"
    assert rows == in_rows and rejects == in_rejects == 0
    assert rows == 2000
    assert failed > 400  # the brute force: "Failed password for ..." lines with user and source ip


def test_rfc5424_structured_data_and_bom(tmp_path: Path) -> None:
    """The RFC 5424 example: structured data kept whole, the BOM dropped from the message."""
    path = tmp_path / "rfc5424.log"
    path.write_bytes(
        b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][x@1 a="b\\]c"] '
        b"\xef\xbb\xbfAn application event log entry...\n"
        b"<34>1 2003-10-11T22:14:15.003+05:30 - su - - -\n"
    )
    rows = rows_of(parse(path))
    assert len(rows) == 2
    first, second = rows
    assert (
        first["structured_data"]
        == '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][x@1 a="b\\]c"]'
    )
    assert first["message"] == "An application event log entry..."
    assert (first["facility"], first["severity"], first["pri"], first["msgid"]) == (
        "local4",
        "notice",
        "165",
        "ID47",
    )
    assert (second["host"], second["provider"], second["message"], second["channel"]) == (
        None,
        "su",
        "",
        "auth",
    )
    assert (
        second["ts"] == datetime(2003, 10, 11, 16, 44, 15, 3000, tzinfo=UTC)
        and second["ts_zone"] == "UTC+05:30"
    )


def test_random_bytes_never_crash(tmp_path: Path) -> None:
    """Random bytes mixed with good lines: every line still accounted for, no exception."""
    import random

    rng = random.Random(7)
    lines = []
    for i in range(300):
        if i % 3 == 0:
            lines.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120))).replace(b"\n", b""))
        else:
            lines.append(b"Feb %2d 10:%02d:00 h1 app[%d]: message %d" % (1 + i % 28, i % 60, i, i))
    path = tmp_path / "mixed.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = parse(path, ParseContext(reference_year=2024))
    assert line_total(items) == count_lines(path) == 300
