"""Issue 11 item 7: text is kept as it was.

Latin-1 and other non-UTF-8 bytes in syslog used to become U+FFFD without a word. The encoding
is decided per file and recorded in ``inputs.encoding``; a line that still does not decode keeps
its exact bytes in ``raw_b64`` (rows) or the reject's ``raw_b64``. A file that is one JSON array
(a common SIEM export) is read element by element, with memory for one element, each row with
its own offset so ``raw`` cuts the element out again.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forensics.ingest import jsonarray
from forensics.ingest.base import InputFile, ParseContext, Reject
from forensics.ingest.runner import ingest_paths
from forensics.ingest.syslog import SyslogParser
from forensics.ingest.text import detect, is_utf8
from forensics.raw import extract_records
from forensics.store import Case

NAMES = ["José", "Müller", "Françoise", "Øyvind", "Ñandú", "Strauß", "Zoë", "Renée", "Ana", "Bob"]


def _auth(n: int, seed: int, names: list[str] = NAMES) -> list[str]:
    rng = random.Random(seed)
    return [
        f"Mar  6 10:{i // 60 % 60:02d}:{i % 60:02d} web01 sshd[{100 + i}]: Failed password for "
        f"{rng.choice(names)} from 10.0.{i % 200}.{rng.randint(1, 254)} port 22 ssh2"
        for i in range(n)
    ]


def _one(case_dir: Path, sql: str) -> list[tuple[object, ...]]:
    with Case.open(case_dir, read_only=True) as case:
        return case.con.execute(sql).fetchall()


@pytest.mark.parametrize(
    ("codec", "names"), [("latin-1", NAMES), ("cp1251", ["Иван", "Пётр", "Ольга", "Сергей"])]
)
def test_a_legacy_encoded_log_is_read_in_its_encoding_and_recorded(
    tmp_path: Path, codec: str, names: list[str]
) -> None:
    lines = _auth(300, 1, names)
    (tmp_path / "ev").mkdir()
    (tmp_path / "ev" / "auth.log").write_bytes("".join(line + "\n" for line in lines).encode(codec))
    summary = ingest_paths(tmp_path / "case", [tmp_path / "ev"])
    assert summary.clean, summary.problems
    [(encoding, status)] = _one(tmp_path / "case", "SELECT encoding, status FROM inputs")
    assert encoding != "utf-8" and status == "ok"
    users = {r[0] for r in _one(tmp_path / "case", "SELECT user_name FROM events")}
    assert users == set(names) & users and users  # the names as written, no U+FFFD
    messages = [r[0] for r in _one(tmp_path / "case", "SELECT message FROM events ORDER BY rec_index")]
    assert not any("\ufffd" in m for m in messages)


def test_lines_that_do_not_decode_keep_their_bytes(tmp_path: Path) -> None:
    lines = [line.encode() for line in _auth(50, 2, ["José", "Zoë", "ana"])]  # UTF-8 names
    lines[10] = (
        lines[10]
        .replace(b"ana", b"an\xe1")
        .replace("José".encode(), b"Jos\xe9")
        .replace("Zoë".encode(), b"Zo\xeb")
    )  # one Latin-1 line in a UTF-8 file
    lines[20] = b"\xff\xfe\x00\x01 \x80\x81 garbage"  # binary, not a syslog line
    (tmp_path / "auth.log").write_bytes(b"\n".join(lines) + b"\n")
    summary = ingest_paths(tmp_path / "case", [tmp_path / "auth.log"])
    [(encoding, status, error)] = _one(tmp_path / "case", "SELECT encoding, status, error FROM inputs")
    assert encoding == "utf-8" and status == "rejects" and "raw_b64" in (error or "")
    assert not summary.clean
    [(b64, msg)] = _one(tmp_path / "case", "SELECT raw_b64, message FROM events WHERE raw_b64 IS NOT NULL")
    assert base64.b64decode(b64) == lines[10] and "\ufffd" in msg
    [(rb64,)] = _one(tmp_path / "case", "SELECT raw_b64 FROM rejects")
    assert base64.b64decode(rb64) == lines[20]


@given(
    st.lists(st.binary(min_size=1, max_size=30), min_size=1, max_size=8), st.randoms(use_true_random=False)
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_line_is_a_row_or_a_reject_with_its_bytes(
    tmp_path: Path, junk: list[bytes], rnd: random.Random
) -> None:
    lines = [line.encode() for line in _auth(30, 3, ["José", "Zoë", "bob"])]
    for j in junk:  # seeded mutations: bytes spliced into random lines (no newline: one line stays one)
        i = rnd.randrange(len(lines))
        at = rnd.randrange(len(lines[i]) + 1)
        lines[i] = lines[i][:at] + j.replace(b"\n", b"").replace(b"\r", b"") + lines[i][at:]
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "auth.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    src = InputFile.from_path(path)
    src = dataclasses.replace(src, encoding=detect(src.head))
    covered = 0
    for item in SyslogParser().parse(src, ParseContext(reference_year=2024)):
        first = (item.rec_line if isinstance(item, Reject) else item["rec_line"]) or 0
        count = 1 if isinstance(item, Reject) else int(item.get("line_count") or 1)
        b64 = item.raw_b64 if isinstance(item, Reject) else item.get("raw_b64")
        text = item.raw if isinstance(item, Reject) else item.get("message")
        covered += count
        if b64 is not None:  # the record's exact bytes: its line and any continuation lines
            assert base64.b64decode(b64) == b"\n".join(lines[first - 1 : first - 1 + count])
        elif isinstance(item, dict):  # decoded cleanly: nothing to keep, nothing replaced
            assert "\ufffd" not in (text or "") or "\ufffd".encode() in b"".join(lines)
    assert covered == len(lines)  # every line is in a row or a reject


def _ecs(i: int) -> dict[str, object]:
    return {
        "@timestamp": f"2024-03-06T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
        "event": {"action": "logon-failed", "category": ["authentication"]},
        "host": {"name": f"ws{i % 7:02d}"}, "user": {"name": f"user{i}"},
        "source": {"ip": f"10.0.{i % 250}.1"}, "message": f"failed logon {i} with \"quotes\" and ] brackets",
    }  # fmt: skip


@pytest.mark.parametrize("indent", [None, 2])
def test_a_siem_export_that_is_one_json_array_is_read_element_by_element(
    tmp_path: Path, indent: int | None
) -> None:
    docs = [_ecs(i) for i in range(2000)]
    path = tmp_path / "export.json"
    path.write_bytes(json.dumps(docs, indent=indent).encode())
    summary = ingest_paths(tmp_path / "case", [path])
    assert summary.rows == 2000 and summary.clean, summary.problems
    with Case.open(tmp_path / "case", read_only=True) as case:
        rows = case.con.execute(
            "SELECT input_sha256, rec_index, rec_offset FROM events ORDER BY rec_index"
        ).fetchall()
        assert len({r[2] for r in rows}) == 2000  # each record its own offset
        got = extract_records(case, [(rows[i][0], rows[i][1]) for i in (0, 999, 1999)])
    for i in (0, 999, 1999):
        rec = got[(rows[i][0], i)]
        assert not isinstance(rec, str) and json.loads(rec.data) == docs[i]


def test_the_array_reader_holds_one_element_not_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonarray, "CHUNK", 4096)
    peak = 0
    real = jsonarray._Reader.more

    def more(self: jsonarray._Reader, keep_from: int) -> bool:
        nonlocal peak
        ok = real(self, keep_from)
        peak = max(peak, len(self.buf))
        return ok

    monkeypatch.setattr(jsonarray._Reader, "more", more)
    docs = [_ecs(i) for i in range(5000)]
    data = json.dumps(docs).encode()
    got = [json.loads(e.data) for e in jsonarray.elements(io.BytesIO(data)) if e.data is not None]
    assert got == docs and len(data) > 100 * 4096
    assert peak <= 2 * 4096 + max(len(json.dumps(d)) for d in docs)
    big = json.dumps([{"a": "x" * 10_000}, {"b": 1}]).encode()
    els = list(jsonarray.elements(io.BytesIO(big), max_element=1000))
    assert els[0].data is None and els[0].size > 10_000 and json.loads(els[1].data or b"") == {"b": 1}


def _csv_lines(n: int) -> list[bytes]:
    head = b"Timestamp [UTC],DeviceName,ActionType,FileName,AccountName,ReportId"
    return [head] + [
        f'"3/5/2024, 9:00:{i % 60:02d}.123 AM",ward-pc-{i % 7:02d},ProcessCreated,cmd.exe,{NAMES[i % 10]},{i}'.encode()
        for i in range(n)
    ]


def _audit_lines(n: int) -> list[bytes]:
    return [
        f'type=USER_LOGIN msg=audit(1700000{i:03d}.100:{i}): pid={i} uid=0 auid=1000 ses=1 msg=\'op=login '
        f'acct="{NAMES[i % 10]}" exe="/usr/sbin/sshd" hostname=? addr=10.0.0.{i % 250} terminal=ssh res=failed\''.encode()
        for i in range(n)
    ]


def _ecs_lines(n: int) -> list[bytes]:
    return [json.dumps(dict(_ecs(i), user={"name": NAMES[i % 10]}), ensure_ascii=False).encode() for i in range(n)]


def _ecs_array(n: int) -> list[bytes]:
    lines = _ecs_lines(n)
    return [b"[" + lines[0] + b","] + [ln + b"," for ln in lines[1:-1]] + [lines[-1] + b"]"]


# (file name, lines, the line (0-based) made Latin-1, rows expected, that row's rec_line)
FORMATS = {
    "ecs-jsonl": ("ecs.ndjson", _ecs_lines, 7, 20, 8),
    "ecs-array": ("ecs.json", _ecs_array, 7, 20, 8),
    "mde-csv": ("DeviceProcessEvents.csv", _csv_lines, 8, 20, 9),
    "auditd": ("audit.log", _audit_lines, 7, 20, 8),
}


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_a_row_whose_bytes_are_not_utf8_keeps_them(tmp_path: Path, kind: str) -> None:
    """A Latin-1 name in a UTF-8 export (JSON lines, JSON array, EDR CSV, auditd): the record is a
    row (not a reject), its text has U+FFFD, its exact bytes are in raw_b64, the input is
    ``undecoded`` and ``raw`` gives the same bytes back."""
    name, make, bad, rows, line_no = FORMATS[kind]
    lines = make(20)
    for nm in NAMES:  # the name on that line written in Latin-1
        lines[bad] = lines[bad].replace(nm.encode(), nm.encode("latin-1"))
    assert not is_utf8(lines[bad])
    (tmp_path / name).write_bytes(b"\n".join(lines) + b"\n")
    summary = ingest_paths(tmp_path / "case", [tmp_path / name])
    assert (summary.rows, summary.rejects) == (rows, 0)
    [(status, encoding)] = _one(tmp_path / "case", "SELECT status, encoding FROM inputs")
    assert (status, encoding) == ("undecoded", "utf-8")
    [(b64, rec_line, sha, idx)] = _one(
        tmp_path / "case", "SELECT raw_b64, rec_line, input_sha256, rec_index FROM events WHERE raw_b64 IS NOT NULL"
    )
    kept = base64.b64decode(b64)
    assert rec_line == line_no and lines[bad].strip(b",[]") in kept
    with Case.open(tmp_path / "case", read_only=True) as case:
        raw = extract_records(case, [(sha, idx)])[(sha, idx)]
    assert not isinstance(raw, str) and raw.data.strip(b",[]") == kept.strip(b",[]")


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_an_export_written_in_a_code_page_is_read_in_it(tmp_path: Path, kind: str) -> None:
    """The same exports written in Windows-1252 throughout: every name read right, nothing kept aside."""
    name, make, _, rows, _ = FORMATS[kind]
    data = b"\n".join(make(20)).decode("utf-8").encode("cp1252") + b"\n"
    (tmp_path / name).write_bytes(data)
    summary = ingest_paths(tmp_path / "case", [tmp_path / name])
    assert (summary.rows, summary.rejects, summary.problems) == (rows, 0, [])
    [(encoding,)] = _one(tmp_path / "case", "SELECT encoding FROM inputs")
    assert encoding == "cp1252"
    [(n,)] = _one(tmp_path / "case", "SELECT count(*) FROM events WHERE raw_b64 IS NOT NULL")
    assert n == 0
    messages = _one(tmp_path / "case", "SELECT * FROM events")
    assert "Müller" in repr(messages) and "�" not in repr(messages)
