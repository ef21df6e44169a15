"""Issue 11 item 7: UTF-16 text (PowerShell's ``>``/``Out-File``, Excel's "Unicode text", some
consoles' CSV) is read by the same parsers as UTF-8 text, not left ``unknown``.

Each row points into the original: ``rec_offset`` is the byte offset of its record in the UTF-16
file, ``raw`` cuts the record out in UTF-16, and code units that are not text (a lone
surrogate) are kept as the original's bytes in ``raw_b64``.
"""

from __future__ import annotations

import base64
import codecs
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics.ingest import utf16
from forensics.ingest.runner import ingest_paths
from forensics.raw import extract_records
from forensics.store import Case

NAMES = ["José", "Müller", "Иван", "Ольга", "王伟", "Γιώργος", "Zoë", "𝒜lice"]  # 𝒜: a surrogate pair


def _syslog(n: int) -> list[str]:
    return [
        f"Mar  6 10:00:{i % 60:02d} web01 sshd[{100 + i}]: Failed password for {NAMES[i % len(NAMES)]} "
        f"from 10.0.0.{i % 250} port 22 ssh2"
        for i in range(n)
    ]


def _csv(n: int) -> list[str]:
    head = "Timestamp [UTC],DeviceName,ActionType,FileName,AccountName,ReportId"
    return [head] + [
        f'"3/5/2024, 9:00:{i % 60:02d}.123 AM",ward-pc-{i % 7:02d},ProcessCreated,cmd.exe,{NAMES[i % 8]},{i}'
        for i in range(n)
    ]


def _ecs(i: int) -> dict[str, object]:
    return {"@timestamp": f"2024-03-06T10:00:{i % 60:02d}.000Z", "event": {"action": "logon-failed"},
            "host": {"name": f"ws{i % 7:02d}"}, "user": {"name": NAMES[i % 8]},
            "source": {"ip": f"10.0.0.{i % 250}"}, "message": f"failed logon {i}"}  # fmt: skip


def _json_array(n: int) -> list[str]:  # as ConvertTo-Json writes it: pretty-printed
    return json.dumps([_ecs(i) for i in range(n)], indent=4, ensure_ascii=False).split("\n")


def _jsonl(n: int) -> list[str]:
    return [json.dumps(_ecs(i), ensure_ascii=False) for i in range(n)]


# name, lines, codec, BOM, line ending, records expected
CASES = {
    "syslog-le-bom-crlf": ("auth.log", _syslog, "utf-16-le", True, "\r\n", 40),
    "syslog-le-no-bom": ("auth.log", _syslog, "utf-16-le", False, "\n", 40),
    "mde-csv-le-bom": ("DeviceProcessEvents.csv", _csv, "utf-16-le", True, "\r\n", 40),
    "ecs-array-le-bom": ("events.json", _json_array, "utf-16-le", True, "\r\n", 40),
    "ecs-jsonl-be-bom": ("events.ndjson", _jsonl, "utf-16-be", True, "\n", 40),
}


def _write(path: Path, lines: list[str], codec: str, bom: bool, eol: str) -> bytes:
    data = (codecs.BOM_UTF16_LE if codec == "utf-16-le" else codecs.BOM_UTF16_BE) if bom else b""
    data += (eol.join(lines) + eol).encode(codec)
    path.write_bytes(data)
    return data


def _rows(case: Path, sql: str) -> list[tuple[object, ...]]:
    with Case.open(case, read_only=True) as c:
        return c.con.execute(sql).fetchall()


@pytest.mark.parametrize("kind", sorted(CASES))
def test_utf16_text_is_parsed_and_points_into_the_original(tmp_path: Path, kind: str) -> None:
    """~40 records per format: every one a row, the encoding recorded, each row's offset the
    start of its record in the UTF-16 file, and raw giving back the record's UTF-16 bytes."""
    name, make, codec, bom, eol, expected = CASES[kind]
    (tmp_path / "in").mkdir()
    data = _write(tmp_path / "in" / name, make(expected), codec, bom, eol)
    summary = ingest_paths(tmp_path / "case", [tmp_path / "in"])
    assert (summary.rows, summary.rejects, summary.problems) == (expected, 0, [])
    [(parser, encoding, status)] = _rows(tmp_path / "case", "SELECT parser, encoding, status FROM inputs")
    assert parser != "unknown" and (encoding, status) == (codec, "ok")
    rows = _rows(
        tmp_path / "case",
        "SELECT input_sha256, rec_index, rec_offset, rec_line FROM events ORDER BY rec_index",
    )
    text = repr(_rows(tmp_path / "case", "SELECT * FROM events"))
    assert all(n in text for n in NAMES) and "\ufffd" not in text
    for _, _, offset, line in rows:
        assert offset is not None and offset % 2 == 0
        before = data[:offset].decode(codec, "surrogatepass")  # BOM included: it decodes to U+FEFF
        assert before.count("\n") == line - 1, "rec_line and rec_offset agree about the line"
    refs = [(sha, idx) for sha, idx, _, _ in rows]
    with Case.open(tmp_path / "case", read_only=True) as case:
        got = extract_records(case, refs)
    for (sha, idx), (_, _, offset, _) in zip(refs, rows, strict=True):
        rec = got[(sha, idx)]
        assert not isinstance(rec, str), rec
        assert data[offset : offset + len(rec.data)] == rec.data  # the original's own bytes
        assert "\ufffd" not in rec.text() and any(n in rec.text() for n in NAMES)


def test_a_lone_surrogate_keeps_the_lines_utf16_bytes(tmp_path: Path) -> None:
    """A code unit that is not text (a lone high surrogate, a cut copy) in a UTF-16 syslog: the
    line is a row, its text has U+FFFD, raw_b64 holds the original's UTF-16 bytes of the line."""
    lines = _syslog(30)
    body = [ln.encode("utf-16-le") for ln in lines]
    body[10] = body[10].replace("Иван".encode("utf-16-le"), b"\x00\xd8" + "van".encode("utf-16-le"))
    data = codecs.BOM_UTF16_LE + "\r\n".encode("utf-16-le").join(body) + "\r\n".encode("utf-16-le")
    (tmp_path / "auth.log").write_bytes(data)
    summary = ingest_paths(tmp_path / "case", [tmp_path / "auth.log"])
    assert (summary.rows, summary.rejects) == (30, 0)
    [(status, encoding)] = _rows(tmp_path / "case", "SELECT status, encoding FROM inputs")
    assert (status, encoding) == ("undecoded", "utf-16-le")
    [(b64, message, offset)] = _rows(
        tmp_path / "case", "SELECT raw_b64, message, rec_offset FROM events WHERE raw_b64 IS NOT NULL"
    )
    assert base64.b64decode(b64) == body[10] and "\ufffd" in message
    assert data[offset : offset + len(body[10])] == body[10]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=40),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["utf-16-le", "utf-16-be"]),
    st.sampled_from(["\n", "\r\n"]),
)
def test_positions_map_every_line_start_and_character_back(lines: list[str], codec: str, eol: str) -> None:
    """Random text (astral characters, CR, NUL included): every character's offset in the UTF-8
    copy maps to its offset in the UTF-16 original, and the copy decodes to the same text."""
    text = eol.join(lines) + eol
    original = codecs.BOM_UTF16_LE + text.encode(codec) if codec == "utf-16-le" else text.encode(codec)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        orig, copy = Path(tmp) / "o", Path(tmp) / "c"
        orig.write_bytes(original)
        utf16.transcode(orig, copy, codec)
        assert copy.read_bytes() == text.encode("utf-8")
        positions = utf16.Positions(orig, codec)
        bom = len(original) - len(text.encode(codec))
        off8 = off16 = 0
        for ch in text:
            assert positions.offset(off8) == bom + off16
            off8 += len(ch.encode("utf-8"))
            off16 += len(ch.encode(codec))
        positions.close()


def test_line_splitting_ignores_a_0x0a_byte_inside_a_code_unit() -> None:
    """U+0A0D and U+0D0A hold 0x0A bytes: they are not line ends in UTF-16."""
    for codec in ("utf-16-le", "utf-16-be"):
        text = "a\u0a0db\u0d0ac\nd\u010ae\n"
        got = [line for _, line in utf16.iter_lines(io.BytesIO(text.encode(codec)), codec)]
        assert [g.decode(codec) for g in got] == ["a\u0a0db\u0d0ac\n", "d\u010ae\n"]


def _codec_by_the_byte(head: bytes) -> str | None:
    """``codec_of`` as its docstring states it, counted byte by byte (what it computes in C)."""
    if head.startswith(codecs.BOM_UTF16_LE):
        return utf16.LE
    if head.startswith(codecs.BOM_UTF16_BE):
        return utf16.BE
    sample = head[:4096]
    if len(sample) < 64:
        return None
    half = len(sample) // 2
    even, odd = sample[0 : half * 2 : 2], sample[1 : half * 2 : 2]
    for codec, zeros, text in ((utf16.LE, odd, even), (utf16.BE, even, odd)):
        printable = sum(1 for b in text if 32 <= b < 127 or b in (9, 10, 13))
        if zeros.count(0) >= 0.95 * half and printable >= 0.95 * half:
            return codec
    return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=5000) | st.lists(st.sampled_from(b"\x00\x00\x00a\n\t\r\x01 \x7f"), max_size=5000).map(bytes))
def test_utf16_sniffing_is_the_byte_by_byte_count(head: bytes) -> None:
    assert utf16.codec_of(head) == _codec_by_the_byte(head)
    padded = b"ElfFile\x00" + bytes(4088) + head  # an EVTX-like header: NULs pass the first test both ways
    assert utf16.codec_of(padded) == _codec_by_the_byte(padded)
