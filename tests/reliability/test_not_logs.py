"""Files that are plainly not logs are recorded and counted, never an attention exit; files named or
shaped like a log that no parser reads stay problems (exit 3). A hunt's IOC folder met inside the
evidence is recorded as indicators, not ingested as evidence, and not scanned by YARA.

Every input is generated here (~10 s: two CLI ingests, one hunt without Sigma or shipped hunts).
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import zipfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from forensics.ingest.notlog import judge
from forensics.store import Case
from forensics.testing.evtx_writer import evtx_bytes
from tests.reliability.evtxkit import logons

RNG = random.Random(23)
NOTE = b"ALL YOUR FILES HAVE BEEN ENCRYPTED.\nTo recover them write to recover@example.org\nYour ID: 4F2A\n"
STIX = json.dumps({
    "type": "bundle", "id": "bundle--1",
    "objects": [{"type": "indicator", "id": "indicator--1", "created": "2022-11-23T10:00:00Z",
                 "modified": "2022-11-23T10:00:00Z", "pattern": "[ipv4-addr:value = '203.0.113.45']",
                 "pattern_type": "stix", "valid_from": "2022-11-23T10:00:00Z"}],
}).encode()  # fmt: skip
YARA = b'rule self_matching { strings: $a = "ALL YOUR FILES HAVE BEEN ENCRYPTED" condition: $a }\n'


def _syslog(n: int) -> bytes:
    return b"".join(
        f"Mar  6 10:00:{i:02d} web01 sshd[42]: Accepted password for root\n".encode() for i in range(n)
    )


def _not_logs() -> dict[str, bytes]:
    """Files a collection holds that are no log, by what they are."""
    return {
        "Users/Public/README_TO_DECRYPT.txt": NOTE,
        "Windows/Temp/locker.exe": b"MZ\x90\x00\x03" + bytes(RNG.getrandbits(8) for _ in range(2000)),
        "data/pharmacy.mdf.locked": bytes(RNG.getrandbits(8) for _ in range(8000)),
        "docs/handover.pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "etc/hostname": b"lnx-es01\n",
        "etc/timezone": b"Asia/Kolkata\n",
        "inventory.csv": b"asset,room,owner\nA-1,OT-3,pharmacy\nA-2,ICU,records\n",
        "placeholder.txt": b"",
        "export.json": b'{"case": "DIMS", "hosts": {"lnx-es01": {"ip": "10.10.7.31"}}}\n',
    }


def _problems() -> dict[str, bytes]:
    """Files named or shaped like a log that no parser reads, and the status each must get."""
    return {
        "Windows/System32/winevt/Logs/Security.evtx": bytes(RNG.getrandbits(8) for _ in range(6000)),
        "Windows/System32/winevt/Logs/System.evtx": b"",
        "var/log/wtmp": bytes(RNG.getrandbits(8) for _ in range(768)),
        "app/trace.txt": b"".join(  # a European date no parser reads, stack lines between
            f"23.11.2022 10:00:{i:02d} | ERROR | job {i} failed\n    at x.y(Z.java:{i})\n".encode()
            for i in range(12)
        ),
        "backup/logs.7z": b"7z\xbc\xaf\x27\x1c\x00\x04" + bytes(RNG.getrandbits(8) for _ in range(300)),
        "Windows/System32/winevt/Logs/Application.evtx.locked": bytes(RNG.getrandbits(8) for _ in range(900)),
    }


EXPECTED_PROBLEMS = {
    "Security.evtx": "unknown", "System.evtx": "empty", "wtmp": "unknown", "trace.txt": "unknown",
    "logs.7z": "unknown", "Application.evtx.locked": "unknown",
}  # fmt: skip


def _collection(root: Path) -> Path:
    ev = root / "collection"
    files = {**_not_logs(), **_problems(), "var/log/auth.log": _syslog(20)}
    for rel, data in files.items():
        (ev / rel).parent.mkdir(parents=True, exist_ok=True)
        (ev / rel).write_bytes(data)
    cut = evtx_bytes(logons(300))
    (ev / "Windows/System32/winevt/Logs/Cut.evtx").write_bytes(cut[: 4096 + 512 + 20_000])
    buf = io.BytesIO()  # the same kinds inside an archive: judged by the member's name and bytes
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("kape/C/Users/Public/README_TO_DECRYPT.txt", NOTE + b"(zip)\n")
        z.writestr("kape/C/Windows/System32/winevt/Logs/Broken.evtx", b"ElfFile\x00" + b"\x00" * 500)
    (ev / "kape.zip").write_bytes(buf.getvalue())
    (ev / "iocs").mkdir()
    (ev / "iocs" / "case.stix2.json").write_bytes(STIX)
    (ev / "iocs" / "self.yar").write_bytes(YARA)
    return ev


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args], cwd=cwd, capture_output=True, timeout=300
    )


def _inputs(case: Path) -> dict[str, tuple[str, str | None]]:
    with Case.open(case, read_only=True) as c:
        rows = c.con.execute("SELECT path, member, status, error FROM inputs").fetchall()
    return {Path(m or p).name: (s, e) for p, m, s, e in rows}


def test_not_logs_are_counted_and_log_shaped_files_stay_problems(tmp_path: Path) -> None:
    ev = _collection(tmp_path)
    proc = _run("ingest", str(ev), "--case", str(tmp_path / "case"), "--json", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr.decode()
    summary = json.loads(proc.stdout)
    problems = {Path(p["member"] or p["path"]).name: p["status"] for p in summary["problems"]}
    assert problems == {**EXPECTED_PROBLEMS, "Cut.evtx": "truncated", "Broken.evtx": "truncated"}
    not_logs = {Path(p["member"] or p["path"]).name for p in summary["not_logs"]}
    expected_not_logs = {Path(rel).name for rel in _not_logs()} | {"case.stix2.json", "self.yar"}
    assert not_logs == expected_not_logs | {"README_TO_DECRYPT.txt"}  # the zip's note has the same name
    assert len(summary["not_logs"]) == len(expected_not_logs) + 1
    rows = _inputs(tmp_path / "case")
    # nothing hidden: every file is an input with its status and what it is
    assert set(rows) == not_logs | set(problems) | {"auth.log"}
    assert rows["locker.exe"] == ("not_log", "not a log: a Windows executable or library (PE)")
    assert "encrypted or compressed" in (rows["pharmacy.mdf.locked"][1] or "")
    assert "host name file" in (rows["hostname"][1] or "")
    assert rows["placeholder.txt"] == ("not_log", "not a log: a zero-byte file, not named like a log")
    assert "STIX" in (rows["case.stix2.json"][1] or "") and "YARA" in (rows["self.yar"][1] or "")
    assert "named like a log (.evtx)" in (rows["Application.evtx.locked"][1] or "")
    assert "time-stamped" in (rows["trace.txt"][1] or "") and "7z" in (rows["logs.7z"][1] or "")
    stderr = proc.stderr.decode()
    assert "README_TO_DECRYPT" not in stderr and "locker.exe" not in stderr and "Security.evtx" in stderr

    # the human summary: one line for the not-logs
    again = _run("ingest", str(ev), "--case", str(tmp_path / "case2"), cwd=tmp_path)
    assert again.returncode == 3
    assert f"{len(expected_not_logs) + 1} file(s) are not logs" in again.stdout.decode()


def test_a_collection_of_logs_and_non_logs_hunts_with_exit_0(tmp_path: Path) -> None:
    """The hunt's own IOC folder inside the evidence is recorded as indicators, not evidence, and
    YARA does not scan it (the rule file would match itself); the ransom note is scanned."""
    ev = tmp_path / "ev"
    for rel, data in {**_not_logs(), "var/log/auth.log": _syslog(20)}.items():
        (ev / rel).parent.mkdir(parents=True, exist_ok=True)
        (ev / rel).write_bytes(data)
    (ev / "iocs").mkdir()
    (ev / "iocs" / "self.yar").write_bytes(YARA)
    (ev / "iocs" / "case.stix2.json").write_bytes(STIX)
    quiet = ("--no-default-sigma", "--no-default-queries", "--no-default-iocs", "--no-outputs", "--json")
    proc = _run("hunt", str(ev), "--case", str(tmp_path / "case"), *quiet, cwd=tmp_path)
    stderr = proc.stderr.decode()
    assert proc.returncode == 0, stderr
    assert f"{len(_not_logs())} file(s) are not logs" in stderr
    assert "2 file(s) are the hunt's IOC lists / YARA rules" in stderr
    rows = _inputs(tmp_path / "case")
    assert rows["self.yar"][0] == rows["case.stix2.json"][0] == "indicators"
    findings = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    hits = [f["summary"] for f in findings if f["kind"] == "yara"]
    assert hits and all("self.yar" not in h for h in hits)
    assert any("README_TO_DECRYPT" in h for h in hits)
    # --iocs naming the folder explicitly: the same
    proc = _run(
        "hunt", str(ev), "--case", str(tmp_path / "c2"), "--iocs", str(ev / "iocs"), *quiet, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert _inputs(tmp_path / "c2")["self.yar"][0] == "indicators"


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=40), head=st.binary(max_size=3000))
def test_judge_any_name_and_bytes(name: str, head: bytes) -> None:
    """Any name and bytes get a verdict with a reason; a log-named file is never judged not a log."""
    verdict = judge(name, head, len(head))
    assert verdict.reason
    if name.lower().endswith((".evtx", ".log")):
        assert verdict.log_like
