"""auditd: records of one event joined, hex decoded, EXECVE as process creation; nothing lost."""

from __future__ import annotations

import hashlib
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forensics.ingest.auditd import AuditdParser
from forensics.ingest.base import InputFile, ParseContext, Reject, Row
from forensics.ingest.registry import sniff
from forensics.ingest.runner import ingest_paths
from forensics.store import Case

PARSER = AuditdParser()
RECORD = re.compile(rb"^(?:node=(\S+) )?type=\S+ msg=audit\((\d+(?:\.\d+)?):(\d+)\)", re.M)


def make_input(path: Path) -> InputFile:
    return InputFile.from_path(path)


def parse(path: Path) -> list[Row | Reject]:
    return list(PARSER.parse(make_input(path), ParseContext()))


def expected_items(path: Path) -> int:
    """Distinct events (node, time, serial) plus the lines that are not audit records."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the newline ending the last line does not start another
    events = {m.groups() for m in RECORD.finditer(data)}
    not_records = sum(1 for ln in lines if not RECORD.match(ln))
    return len(events) + not_records


FILES = [
    "go-libaudit/auparse/testdata/audit-rhel6.log",
    "go-libaudit/auparse/testdata/audit-rhel7.log",
    "go-libaudit/auparse/testdata/audit-ubuntu14.log",
    "go-libaudit/auparse/testdata/audit-ubuntu16.log",
    "go-libaudit/auparse/testdata/audit-ubuntu17.log",
    "go-libaudit/auparse/testdata/test2.log",
    "go-libaudit/auparse/testdata/test3.log",
    "go-libaudit/testdata/lost_messages.log",
    "go-libaudit/testdata/normal.log",
    "go-libaudit/testdata/out_of_order.log",
    "go-libaudit/testdata/rollover.log",
    "edr-fixtures/elastic-integrations/packages/auditd/data_stream/log/_dev/test/pipeline/test-auditd-raw.log",
]


@pytest.mark.parametrize("rel", FILES)
def test_corpus_events_reconcile(shared_data: Path, rel: str) -> None:
    """Each real audit log: one row per event (by serial) plus one reject per non-record line."""
    path = shared_data / rel
    found = sniff(path.read_bytes()[:65536], path.name)
    assert found is not None and found.name == "auditd"
    items = parse(path)
    assert len(items) == expected_items(path)
    rows = [i for i in items if not isinstance(i, Reject)]
    assert len({(r.get("node"), r["ts_raw"], r["record_id"]) for r in rows}) == len(rows)
    data = path.read_bytes()
    for row in rows:
        assert row["ts"].tzinfo is not None and row["channel"] == "auditd" and row["source"] == "auditd"
        first_record = data[row["rec_offset"] :].split(b"\n", 1)[0].decode(errors="replace").rstrip("\r")
        assert first_record == row["message"].split("\n", 1)[0]  # the raw record is found again


def test_out_of_order_records_join_their_event(shared_data: Path) -> None:
    """Interleaved records of two events still end up in their own rows, in first-seen order."""
    normal = [r for r in parse(shared_data / "go-libaudit/testdata/normal.log") if not isinstance(r, Reject)]
    shuffled = [
        r for r in parse(shared_data / "go-libaudit/testdata/out_of_order.log") if not isinstance(r, Reject)
    ]
    assert [r["record_id"] for r in normal] == [r["record_id"] for r in shuffled] == [58, 59, 60, 61, 62]
    assert [sorted(r["types"].split()) for r in normal] == [sorted(r["types"].split()) for r in shuffled]
    assert [r["process_cmdline"] for r in shuffled if r.get("category")] == [
        "grep --color=auto mapping",
        "cat securitybeat",
    ]


def test_execve_is_process_creation(shared_data: Path) -> None:
    row = next(
        r
        for r in parse(shared_data / "go-libaudit/testdata/normal.log")
        if not isinstance(r, Reject) and r["record_id"] == 59
    )
    assert row["category"] == "process_creation"
    assert (row["type"], row["types"]) == ("EXECVE", "SYSCALL EXECVE CWD PATH PATH")
    assert (row["process_image"], row["Image"]) == ("/usr/bin/grep", "/usr/bin/grep")
    assert row["process_cmdline"] == row["CommandLine"] == "grep --color=auto mapping"
    assert (row["a0"], row["a1"], row["a2"]) == ("grep", "--color=auto", "mapping")
    assert row["syscall_a0"] == "1522170"  # SYSCALL's register argument, not argv
    assert (row["SYSCALL"], row["syscall_nr"], row["key"], row["comm"]) == (
        "execve",
        "59",
        "user_commands",
        "grep",
    )
    assert (row["CurrentDirectory"], row["User"], row["process_pid"], row["parent_pid"]) == (
        "/home/andrew_kroh",
        "1000",
        13393,
        12041,
    )
    assert (row["name"], row["path1_name"]) == ("/usr/bin/grep", "/lib64/ld-linux-x86-64.so.2")
    assert (
        row["ts"] == datetime(2017, 4, 12, 22, 48, 11, 36000, tzinfo=UTC)
        and row["ts_raw"] == "1492037291.036"
    )
    assert row["message"].count("\n") == 4  # the five raw records, for keyword rules and the report


def test_hex_fields_decoded(shared_data: Path) -> None:
    rows = [
        r for r in parse(shared_data / "go-libaudit/auparse/testdata/test3.log") if not isinstance(r, Reject)
    ]
    titles = {r.get("proctitle") for r in rows}
    assert "sshd: burn [priv]" in titles  # proctitle=737368643A206275726E205B707269765D
    rhel7 = [
        r
        for r in parse(shared_data / "go-libaudit/auparse/testdata/audit-rhel7.log")
        if not isinstance(r, Reject)
    ]
    cwd = next(r for r in rhel7 if r["record_id"] == 1208725)
    assert cwd["cwd"] == "/tmp/a b c"  # cwd=2F746D702F6120622063
    charon = next(
        r
        for r in parse(shared_data / "go-libaudit/auparse/testdata/audit-rhel6.log")
        if not isinstance(r, Reject)
    )
    assert charon["exe"] == "/usr/libexec/strongswan/charon (deleted)"


def test_user_records_open_their_msg(shared_data: Path) -> None:
    """USER_* records carry their fields inside msg='...': account, exe, address, result."""
    rows = [
        r
        for r in parse(shared_data / "go-libaudit/auparse/testdata/audit-rhel7.log")
        if not isinstance(r, Reject)
    ]
    auth = next(r for r in rows if r["type"] == "USER_AUTH")
    assert (auth["acct"], auth["user_name"], auth["exe"], auth["src_ip"], auth["res"]) == (
        "andrew_kroh", "andrew_kroh", "/usr/sbin/sshd", "96.241.146.97", "success",
    )  # fmt: skip


def test_sigma_style_sample_from_security_datasets(shared_data: Path, tmp_path: Path) -> None:
    """OTRF's atomic dd padding sample (zipped raw audit.log): the dd EXECVE with its argv."""
    archive = (
        shared_data / "Security-Datasets/datasets/atomic/linux/defense_evasion/host/sh_binary_padding_dd.zip"
    )
    with zipfile.ZipFile(archive) as zf:
        member = zf.namelist()[0]
        path = tmp_path / Path(member).name
        path.write_bytes(zf.read(member))
    rows = [r for r in parse(path) if not isinstance(r, Reject)]
    dd = next(r for r in rows if r.get("category") == "process_creation")
    assert (dd["type"], dd["a0"], dd["a1"], dd["exe"]) == ("EXECVE", "dd", "if=/dev/zero", "/bin/dd")
    assert dd["CommandLine"] == "dd if=/dev/zero bs=1 count=1"


def test_enriched_format_and_split_arguments(tmp_path: Path) -> None:
    """ENRICHED logs add interpreted names after a GS byte; long arguments come in pieces."""
    path = tmp_path / "audit.log"
    path.write_bytes(
        b"type=SYSCALL msg=audit(1700000000.100:9): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=5 "
        b'auid=1000 uid=33 euid=33 comm="sh" exe="/bin/sh" key="web"\x1dARCH=x86_64 SYSCALL=execve AUID="alice" '
        b'UID="www-data" EUID="www-data"\n'
        b'type=EXECVE msg=audit(1700000000.100:9): argc=3 a0="sh" a1="-c" a2_len=10 a2[0]=6964 a2[1]="; whoami"\n'
        b"type=EOE msg=audit(1700000000.100:9): \n"
    )
    rows = [r for r in parse(path) if not isinstance(r, Reject)]
    assert len(rows) == 1
    row = rows[0]
    assert (row["SYSCALL"], row["syscall_nr"], row["euid"], row["uid_name"], row["auid_name"]) == (
        "execve",
        "59",
        "33",
        "www-data",
        "alice",
    )
    assert row["a2"] == "id; whoami" and row["CommandLine"] == "sh -c id; whoami"
    assert (row["User"], row["types"]) == ("www-data", "SYSCALL EXECVE")
    lower = [k.lower() for k in row]
    assert len(lower) == len(set(lower)), "two fields differ only by case"


def test_garbage_and_truncated(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(
        b'type=SYSCALL msg=audit(1700000000.100:7): arch=c000003e syscall=2 success=yes exit=3 pid=9 comm="cat" exe="/bin/cat" key=(null)\n'
        b"this is not audit\n"
        b"\x00\x00\x01binary\n"
        b'type=PATH msg=audit(1700000000.100:7): item=0 name="/etc/shadow" nametype=NORMAL\n'
        b'type=EXECVE msg=audit(1700000001.200:8): argc=2 a0="ls" a1="-l'
    )
    items = parse(path)
    rejects = [i for i in items if isinstance(i, Reject)]
    rows = [i for i in items if not isinstance(i, Reject)]
    assert [r.rec_line for r in rejects] == [2, 3]
    assert [r["record_id"] for r in rows] == [7, 8]
    assert (rows[0]["type"], rows[0]["SYSCALL"], rows[0]["name"], rows[0]["file_path"], rows[0].get("key")) == (
        "SYSCALL", "open", "/etc/shadow", "/etc/shadow", None,
    )  # fmt: skip
    assert rows[1]["a1"] == "-l" and rows[1]["process_cmdline"] == "ls -l"  # truncated last line still read
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert parse(empty) == []


def test_ingest_paths_counts_in_case(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "go-libaudit/auparse/testdata/audit-rhel7.log"
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    ingest_paths(tmp_path / "case", [src], ParseContext(), workers=1)
    with Case.open(tmp_path / "case", read_only=True) as case:
        rows = case.con.execute("SELECT count(*) FROM events WHERE input_sha256 = ?", [sha]).fetchone()[0]
        parser, in_rows, in_rejects = case.con.execute(
            "SELECT parser, rows, rejects FROM inputs WHERE sha256 = ?", [sha]
        ).fetchone()
        rejects = case.con.execute("SELECT count(*) FROM rejects WHERE input_sha256 = ?", [sha]).fetchone()[0]
        execve = case.con.execute(
            "SELECT count(*) FROM events WHERE input_sha256 = ? AND category = 'process_creation'", [sha]
        ).fetchone()[0]
    assert parser == "auditd"
    assert rows == in_rows and rejects == in_rejects
    assert rows + rejects == expected_items(src)
    assert execve >= 4


def test_random_bytes_never_crash(tmp_path: Path) -> None:
    """Random bytes between records: every record's event and every junk line accounted for."""
    import random

    rng = random.Random(11)
    lines = []
    for i in range(300):
        if i % 4 == 0:
            lines.append(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 120))).replace(b"\n", b""))
        else:
            lines.append(
                b'type=SYSCALL msg=audit(1700000000.%03d:%d): arch=c000003e syscall=2 comm="x"'
                % (i % 1000, i // 2)
            )
    path = tmp_path / "audit.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert len(parse(path)) == expected_items(path)
