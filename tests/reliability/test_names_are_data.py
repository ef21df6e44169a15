"""Issue 11 item 5: file and member names are data, never markup or terminal control.

A name holding rich markup (``[/x]``) used to crash ``ingest`` and ``hunt`` with a MarkupError
before the benign inputs were ingested; a name holding ``ESC ] 0 ; … BEL`` or ``ESC [ 2 J``
rewrote the analyst's terminal. Every command now prints such names escaped, with control
characters written visibly (``\\x1b``), and stores them verbatim.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forensics.cli.common import shown
from forensics.store import Case

MARKUP = "[/x][bold]"
TITLE_ESC = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"
SYSLOG = b"".join(
    f"Mar  6 10:00:{i:02d} web01 sshd[{100 + i}]: Accepted password for root from 10.0.0.{i} port 22 ssh2\n".encode()
    for i in range(20)
)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "400"}
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args], cwd=cwd, capture_output=True, env=env, timeout=300
    )


def _hostile_folder(root: Path) -> Path:
    ev = root / "evidence"
    (ev / "[").mkdir(parents=True)  # a folder named "[" puts "[/x]" into the file's path
    (ev / f"{MARKUP}auth.log").write_bytes(SYSLOG)
    (ev / f"{TITLE_ESC}messages").write_bytes(SYSLOG.replace(b"web01", b"web02"))
    (ev / f"{CLEAR}garbage.evtx").write_bytes(os.urandom(3000))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{MARKUP}/secure", SYSLOG.replace(b"web01", b"web03"))
        zf.writestr(f"{CLEAR}{TITLE_ESC}.evtx", os.urandom(3000))
    (ev / f"{MARKUP}collection.zip").write_bytes(buf.getvalue())
    return ev


def _clean(proc: subprocess.CompletedProcess[bytes]) -> str:
    both = proc.stdout + proc.stderr
    assert b"\x1b" not in both and b"\x07" not in both, both[:2000]
    assert b"MarkupError" not in both and b"Traceback" not in both, both[-2000:]
    return both.decode("utf-8", "replace")


def test_hostile_names_are_escaped_by_ingest_and_sql_and_stored_verbatim(tmp_path: Path) -> None:
    ev = _hostile_folder(tmp_path)
    garbage = ev / f"{CLEAR}garbage.evtx"
    proc = _run("ingest", str(ev), str(garbage), "--case", str(tmp_path / "case"), cwd=tmp_path)
    text = _clean(proc)
    assert proc.returncode == 3, text  # the garbage files need attention; nothing crashed
    assert "\\x1b[2Jgarbage.evtx" in text  # the problem line names the file, visibly
    with Case.open(tmp_path / "case", read_only=True) as case:
        paths = {r[0] for r in case.con.execute("SELECT path FROM inputs").fetchall()}
        members = {
            r[0] for r in case.con.execute("SELECT member FROM inputs WHERE member IS NOT NULL").fetchall()
        }
        hosts = {r[0] for r in case.con.execute("SELECT DISTINCT host FROM events").fetchall()}
    assert str(ev / f"{TITLE_ESC}messages") in paths  # verbatim, control characters and all
    assert f"{MARKUP}/secure" in members
    assert hosts == {"web01", "web02", "web03"}  # every benign input and member was ingested
    proc = _run("sql", str(tmp_path / "case"), "SELECT path, member FROM inputs ORDER BY path", cwd=tmp_path)
    text = _clean(proc)
    assert proc.returncode == 0
    assert "\\x1b]0;pwned\\x07messages" in text and "[/x][bold]auth.log" in text


def test_hostile_names_are_escaped_by_hunt(tmp_path: Path) -> None:
    ev = _hostile_folder(tmp_path)
    rules = tmp_path / "rules"
    (rules / "[").mkdir(parents=True)
    (rules / f"{MARKUP}{CLEAR}broken.yar").write_text("rule {{{ not yara")
    (rules / "sshd.yar").write_text(
        'rule sshd_accept { meta: description = "[/x] accepted \\x1b[2J" strings: $a = "Accepted password" '
        "condition: $a }"
    )
    proc = _run(
        "hunt", str(ev), "--case", str(tmp_path / "case"), "--yara", str(rules), "--no-default-iocs",
        "--no-default-queries", "--no-outputs", cwd=tmp_path,
    )  # fmt: skip
    text = _clean(proc)
    assert proc.returncode == 3, text  # the hostile folder's garbage files need attention (as ingest)
    assert "\\x1b[2Jbroken.yar" in text  # the rule file that failed, named visibly
    assert "sshd_accept" in text or "[/x] accepted" in text


@given(st.text(min_size=1, max_size=40))
@settings(max_examples=300, deadline=None)
def test_shown_never_lets_control_or_markup_through(name: str) -> None:
    from rich.console import Console

    out = shown(name)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in out)
    console = Console(file=io.StringIO(), width=400, emoji=False, color_system=None)
    console.print(f"[yellow]x[/]: {out}", highlight=False)  # never a MarkupError
    printed = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b" not in printed


@pytest.mark.parametrize(
    ("name", "visible"),
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("x\u202etxt.exe", "x\\u202etxt.exe"),
        ("[/x]", "[/x]"),
        ("tab\there", "tab\\x09here"),
    ],
)
def test_shown_prints_what_the_name_holds(name: str, visible: str) -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=400, emoji=False, color_system=None)
    console.print(shown(name), highlight=False)
    assert console.file.getvalue().rstrip("\n") == visible  # type: ignore[attr-defined]
