"""Issue 11 item 8: paths are absolute, custody is complete.

``inputs`` keeps the path as the user gave it and the resolved absolute path, so ``export`` and
``raw`` find the originals from any working directory. A run killed after its last commit but
before its custody entry leaves inputs without custody only until the next run, which records
them; ``export`` and ``verify`` notice inputs without custody meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import forensics.ingest.runner as runner
from forensics.bundle.casefile import CaseDetails
from forensics.bundle.export import export_bundle
from forensics.bundle.verify import verify_bundle
from forensics.custody import read_chain, without_custody
from forensics.hunt.findings import Finding, RecordRef
from forensics.hunt.runs import record_findings
from forensics.ingest.runner import ingest_paths
from forensics.raw import extract_records
from forensics.store import Case

LINES = b"".join(
    f"Mar  6 10:00:{i:02d} web01 sshd[{200 + i}]: Failed password for admin from 203.0.113.{i + 1} port 22 ssh2\n".encode()
    for i in range(12)
)


def _evidence(root: Path) -> Path:
    ev = root / "evidence" / "web01"
    ev.mkdir(parents=True)
    (ev / "auth.log").write_bytes(LINES)
    return ev


def _with_findings(case_dir: Path) -> str:
    with Case.open(case_dir) as case:
        sha = case.con.execute("SELECT sha256 FROM inputs WHERE parser IS NOT NULL").fetchone()[0]  # type: ignore[index]
        record_findings(case, [Finding("sql", "bf", "Brute force", "high", "web01", None, None,
                                       [RecordRef(sha, i) for i in range(12)])])  # fmt: skip
    return str(sha)


def test_relative_inputs_are_found_again_from_any_working_directory(tmp_path: Path) -> None:
    _evidence(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "forensics", "ingest", "../evidence", "--case", "case"],
        cwd=work, capture_output=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    with Case.open(work / "case", read_only=True) as case:
        path, abs_path = case.con.execute("SELECT path, abs_path FROM inputs").fetchone()  # type: ignore[misc]
    assert path == os.path.join("..", "evidence", "web01", "auth.log")  # as given
    assert abs_path == str((tmp_path / "evidence" / "web01" / "auth.log").resolve())
    sha = _with_findings(work / "case")
    elsewhere = tmp_path / "elsewhere" / "deeper"
    elsewhere.mkdir(parents=True)
    old = Path.cwd()
    os.chdir(elsewhere)
    try:
        with Case.open(work / "case", read_only=True) as case:
            got = extract_records(case, [(sha, i) for i in range(12)])
        res = export_bundle(work / "case", tmp_path / "b.zip", CaseDetails(operator="t"))
    finally:
        os.chdir(old)
    assert all(not isinstance(v, str) for v in got.values()), got
    assert got[(sha, 3)].data == LINES.splitlines()[3]  # type: ignore[union-attr]
    assert not [n for n in res.notes if "unavailable" in n], res.notes


def test_an_old_case_without_the_new_columns_opens_and_migrates(tmp_path: Path) -> None:
    ev = _evidence(tmp_path)
    ingest_paths(tmp_path / "case", [ev])
    con = duckdb.connect(str(tmp_path / "case" / "case.duckdb"))
    con.execute("ALTER TABLE inputs DROP COLUMN abs_path")
    con.execute("ALTER TABLE inputs DROP COLUMN encoding")
    con.close()
    with Case.open(tmp_path / "case", read_only=True) as case:  # read-only: not migrated, still readable
        sha = case.con.execute("SELECT sha256 FROM inputs").fetchone()[0]  # type: ignore[index]
        assert not isinstance(extract_records(case, [(sha, 0)])[(sha, 0)], str)
    again = ingest_paths(tmp_path / "case", [ev])  # opened for writing: the columns come back
    assert again.files_skipped == 1
    with Case.open(tmp_path / "case", read_only=True) as case:
        assert case.con.execute("SELECT abs_path FROM inputs").fetchall() == [(None,)]


def _killed_before_custody(monkeypatch: pytest.MonkeyPatch) -> None:
    def die(*_a: object, **_k: object) -> None:
        raise KeyboardInterrupt  # what kill -9 leaves: the commit is there, the custody entry is not

    monkeypatch.setattr(runner, "_custody", die)


def test_kill_between_commit_and_custody_is_noticed_then_repaired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = _evidence(tmp_path)
    case_dir = tmp_path / "case"
    with monkeypatch.context() as m:
        _killed_before_custody(m)
        with pytest.raises(KeyboardInterrupt):
            ingest_paths(case_dir, [ev])
    with Case.open(case_dir, read_only=True) as case:
        inputs = case.con.execute("SELECT path, member, sha256 FROM inputs").fetchall()
    assert len(inputs) == 1 and without_custody(inputs, read_chain(case_dir))  # the gap, as seen in the field
    _with_findings(case_dir)
    res = export_bundle(case_dir, tmp_path / "gap.zip", CaseDetails(operator="t"))
    assert any("hashed in no custody entry" in n for n in res.notes), res.notes
    checks = {c.name: c for c in verify_bundle(tmp_path / "gap.zip")}
    assert checks["custody"].status == "failed" and "hashed in no custody entry" in checks["custody"].detail
    ingest_paths(case_dir, [ev])  # the next run: nothing to parse, the missing entry is written
    chain = read_chain(case_dir)
    assert without_custody(inputs, chain) == {}
    assert "earlier run that stopped" in (chain[-1]["notes"] or "")
    res = export_bundle(case_dir, tmp_path / "ok.zip", CaseDetails(operator="t"))
    assert not any("custody entry" in n for n in res.notes), res.notes
    checks = {c.name: c for c in verify_bundle(tmp_path / "ok.zip")}
    assert checks["custody"].status == "passed", checks["custody"].detail


@pytest.mark.slow
def test_kill_9_loop_never_leaves_inputs_without_custody(tmp_path: Path) -> None:
    """Real SIGKILLs at random moments of real runs; after one clean run every input has custody."""
    import random
    import signal
    import time

    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(30):
        (ev / f"host{i:02d}.log").write_bytes(LINES.replace(b"web01", f"web{i:02d}".encode()))
    cmd = [
        sys.executable,
        "-m",
        "forensics",
        "ingest",
        str(ev),
        "--case",
        str(tmp_path / "case"),
        "--workers",
        "1",
    ]
    rng = random.Random(3)
    for _ in range(6):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    with Case.open(tmp_path / "case", read_only=True) as case:
        inputs = case.con.execute("SELECT path, member, sha256 FROM inputs").fetchall()
    assert len({p for p, _, _ in inputs}) == 30
    assert without_custody(inputs, read_chain(tmp_path / "case")) == {}
