"""Issue 11 item 3: every input the walk meets is visible.

Files no parser recognises, special files (FIFOs, devices), unreadable folders: each is a
recorded input with a status and a reason, printed (summarised when many), listed in the
``--json`` summary, and the run exits with the attention code. ``--format`` forces a parser.
A refusal is recorded once, not again on every re-run.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from forensics.ingest.runner import ingest_paths
from forensics.store import Case

EXIT_ATTENTION = 3


def _syslog(n: int, host: str = "web01", seed: int = 1) -> bytes:
    rng = random.Random(seed)
    return b"".join(
        f"Mar  6 10:{i // 60:02d}:{i % 60:02d} {host} sshd[{rng.randint(100, 9999)}]: "
        f"Failed password for user{rng.randint(0, 50)} from 10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)} "
        "port 22 ssh2\n".encode()
        for i in range(n)
    )


def _run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "forensics", *args], cwd=cwd, capture_output=True, timeout=timeout
    )


def _statuses(case_dir: Path) -> dict[str, tuple[str, str | None, int]]:
    with Case.open(case_dir, read_only=True) as case:
        rows = case.con.execute(
            "SELECT path, status, error, count(*) OVER (PARTITION BY path) FROM inputs"
        ).fetchall()
    return {Path(p).name: (s, e, n) for p, s, e, n in rows}


def _evidence(root: Path) -> Path:
    rng = random.Random(11)
    ev = root / "evidence"
    ev.mkdir()
    (ev / "random.evtx").write_bytes(bytes(rng.getrandbits(8) for _ in range(5000)))
    lines = _syslog(40).splitlines(keepends=True)
    lines.insert(1, b"Mar  6 09:59:59 web01 kernel: \x00\x00\x00\x00\x00\x00 preallocated\n")
    (ev / "nul.log").write_bytes(b"".join(lines))
    (ev / "assets.csv").write_bytes(b"asset_tag,room,owner\nA-1,OT-3,pharmacy\nA-2,ICU,records\n")
    # a table with a time column no parser knows: shaped like a log, so a problem
    (ev / "vpn-sessions.csv").write_bytes(
        b"user;ip;login time;bytes\nrao;10.1.1.5;2022-11-23 10:00:01;512\nali;10.1.1.9;2022-11-23 10:04:11;77\n"
    )
    (ev / "auth.log").write_bytes(_syslog(30, seed=2))
    return ev


def test_unrecognised_files_in_a_folder_are_printed_listed_and_need_attention(tmp_path: Path) -> None:
    ev = _evidence(tmp_path)
    proc = _run("ingest", str(ev), "--case", str(tmp_path / "case"), "--json", cwd=tmp_path)
    assert proc.returncode == EXIT_ATTENTION, proc.stderr.decode()
    summary = json.loads(proc.stdout)
    listed = {Path(p["path"]).name: p["status"] for p in summary["problems"]}
    assert listed["random.evtx"] == "unknown" and listed["vpn-sessions.csv"] == "unknown"
    # an asset list is plainly not a log: recorded and counted, not a problem
    assert "assets.csv" not in listed
    assert [(Path(p["path"]).name, p["status"]) for p in summary["not_logs"]] == [("assets.csv", "not_log")]
    stderr = proc.stderr.decode()
    assert "random.evtx" in stderr and "vpn-sessions.csv" in stderr and "--format" in stderr
    assert "assets.csv" not in stderr
    status = _statuses(tmp_path / "case")
    # a syslog with NUL bytes near the top is read: the NUL line is a counted reject, not the file lost
    assert status["nul.log"][0] == "rejects"
    assert summary["rejects"] == 1 and not summary["clean"]


def test_format_forces_a_parser_even_for_an_input_recorded_unknown(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    odd = ev / "firewall.txt"  # syslog lines behind a banner the sniffer does not accept
    odd.write_bytes(b"\x00\x01\x02 EXPORT v2 \x00\n" * 30 + _syslog(10, host="fw01"))
    first = ingest_paths(tmp_path / "case", [ev])
    assert first.by_status == {"unknown": 1} and not first.clean
    forced = ingest_paths(tmp_path / "case", [ev], fmt="syslog")
    assert forced.rows == 10 and forced.rejects == 30
    with Case.open(tmp_path / "case", read_only=True) as case:
        hosts = case.con.execute("SELECT DISTINCT host FROM events").fetchall()
        parsers = case.con.execute("SELECT status, parser FROM inputs ORDER BY seq").fetchall()
    assert hosts == [("fw01",)]
    assert parsers == [("unknown", None), ("rejects", "syslog")]  # the history stays
    again = ingest_paths(tmp_path / "case", [ev], fmt="syslog")
    assert again.files_skipped == 1 and again.rows == 0
    proc = _run("ingest", str(ev), "--case", str(tmp_path / "c2"), "--format", "nosuch", cwd=tmp_path)
    assert proc.returncode == 2 and b"syslog" in proc.stderr


def test_fifo_and_devices_are_skipped_not_read_and_recorded_once(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "auth.log").write_bytes(_syslog(5))
    os.mkfifo(ev / "pipe.log")  # reading it would block forever
    os.symlink("/dev/zero", ev / "zero.log")
    args = ("ingest", str(ev), "/dev/zero", "--case", str(tmp_path / "case"), "--json")
    proc = _run(*args, cwd=tmp_path, timeout=60)  # today's hang shows as a timeout
    assert proc.returncode == EXIT_ATTENTION, proc.stderr.decode()
    problems = {Path(p["path"]).name: (p["status"], p["error"]) for p in json.loads(proc.stdout)["problems"]}
    assert problems["pipe.log"][0] == "skipped" and "FIFO" in problems["pipe.log"][1]
    assert problems["zero"][0] == "skipped" and "character device" in problems["zero"][1]
    assert problems["zero.log"][0] == "refused" and "link" in problems["zero.log"][1]
    again = _run(*args, cwd=tmp_path, timeout=60)
    assert json.loads(again.stdout)["problems"] == []  # nothing new to say
    status = _statuses(tmp_path / "case")
    assert {k: v[2] for k, v in status.items()} == {"auth.log": 1, "pipe.log": 1, "zero": 1, "zero.log": 1}


def test_an_unreadable_subfolder_is_a_recorded_input_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = tmp_path / "ev"
    (ev / "locked").mkdir(parents=True)
    (ev / "locked" / "secure").write_bytes(_syslog(3))
    (ev / "auth.log").write_bytes(_syslog(5))
    real = Path.iterdir

    def iterdir(self: Path):  # root reads any folder: refuse this one the way the kernel would
        if self.name == "locked":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    summary = ingest_paths(tmp_path / "case", [ev])
    assert summary.rows == 5
    assert [(Path(p["path"]).name, p["status"]) for p in summary.problems] == [("locked", "unreadable")]
    assert "Permission denied" in summary.problems[0]["error"]


def test_many_problems_are_summarised(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    rng = random.Random(5)
    for i in range(45):  # named like logs, read by no parser
        (ev / f"blob{i:02d}.log").write_bytes(bytes(rng.getrandbits(8) for _ in range(300)))
    proc = _run("ingest", str(ev), "--case", str(tmp_path / "case"), cwd=tmp_path)
    assert proc.returncode == EXIT_ATTENTION
    lines = proc.stderr.decode().splitlines()
    assert sum(line.startswith("unknown: ") for line in lines) == 20
    assert any("… and 25 more input problem(s): 25 unknown" in line for line in lines)
    # the same bytes not named like logs are plainly not logs: one summary line, no attention exit
    other = tmp_path / "other"
    other.mkdir()
    for i in range(45):
        (other / f"blob{i:02d}.bin").write_bytes(bytes(rng.getrandbits(8) for _ in range(300)))
    proc = _run("ingest", str(other), "--case", str(tmp_path / "case2"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert "unknown: " not in proc.stderr.decode()
    assert "45 file(s) are not logs" in proc.stdout.decode()


def test_hunt_over_inputs_with_problems_exits_for_attention_and_keeps_its_run(tmp_path: Path) -> None:
    """`hunt FOLDER` ingests first: problems there give the same exit code as `ingest` (3), after
    the hunt has run and kept its run; a clean folder hunts with exit 0."""
    ev = _evidence(tmp_path)
    quiet = ("--no-default-sigma", "--no-default-queries", "--no-default-iocs", "--no-outputs")
    proc = _run("hunt", str(ev), "--case", str(tmp_path / "case"), *quiet, cwd=tmp_path, timeout=300)
    stderr = proc.stderr.decode()
    assert proc.returncode == EXIT_ATTENTION, stderr
    assert "random.evtx" in stderr and "input problem(s) in the ingest step" in stderr
    assert sorted(p.name for p in (tmp_path / "case" / "findings" / "runs").iterdir()) == ["0001"]
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "auth.log").write_bytes(_syslog(30, seed=3))
    proc = _run("hunt", str(clean), "--case", str(tmp_path / "case2"), *quiet, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
