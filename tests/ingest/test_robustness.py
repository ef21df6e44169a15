"""Bad input, hostile archives, idempotency and crash safety."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from forensics.ingest.runner import ingest_paths
from forensics.store import Case

GOOD = "DeepBlueCLI/evtx/mimikatz-privesc-hashdump.evtx"


def _inputs(case_dir: Path) -> list[tuple[str, str | None, str, str | None]]:
    with Case.open(case_dir, read_only=True) as case:
        return case.con.execute(
            "SELECT path, member, status, error FROM inputs ORDER BY path, member"
        ).fetchall()


def test_zero_byte_truncated_garbage_files_are_reported_and_the_run_goes_on(
    shared_data: Path, tmp_path: Path
) -> None:
    src = shared_data / GOOD
    empty = tmp_path / "empty.evtx"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.evtx"
    truncated.write_bytes(src.read_bytes()[: 4096 + 512 + 100])  # header + part of the first chunk
    garbage = tmp_path / "garbage.evtx"
    garbage.write_bytes(os.urandom(2048))
    summary = ingest_paths(tmp_path / "case", [empty, truncated, garbage, src])
    status = {Path(p).name: s for p, _, s, _ in _inputs(tmp_path / "case")}
    assert status["empty.evtx"] == "empty"
    assert status["garbage.evtx"] == "unrecognised"
    assert status["truncated.evtx"] == "truncated"  # never ok: its headers claim more than it holds
    assert status["mimikatz-privesc-hashdump.evtx"] == "ok"
    assert summary.rows > 0 and not summary.clean
    assert {p["status"] for p in summary.problems} >= {"empty", "unrecognised"}


def test_originals_are_not_modified(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / GOOD
    before = (src.stat().st_mtime_ns, src.stat().st_size)
    ingest_paths(tmp_path / "case", [src])
    assert (src.stat().st_mtime_ns, src.stat().st_size) == before
    assert not any(p.name.startswith(".") for p in src.parent.iterdir() if p.name.endswith(".parquet"))


def test_same_bytes_under_another_name_is_a_recorded_duplicate(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / GOOD
    copy = tmp_path / "copy.evtx"
    copy.write_bytes(src.read_bytes())
    first = ingest_paths(tmp_path / "case", [src, copy])
    again = ingest_paths(tmp_path / "case", [src, copy])
    statuses = sorted(s for _, _, s, _ in _inputs(tmp_path / "case"))
    assert statuses == ["duplicate", "ok"]
    assert again.rows == 0 and again.files_skipped == 2
    assert first.rows > 0


def _zip_with(entries: list[tuple[str, bytes]], symlink: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def test_hostile_zip_members_are_refused_and_nothing_escapes(shared_data: Path, tmp_path: Path) -> None:
    good = (shared_data / GOOD).read_bytes()
    bomb = b"\0" * (64 * 1024 * 1024)  # 64 MiB of zeros compress ~1000:1
    archive = tmp_path / "evidence.zip"
    archive.write_bytes(
        _zip_with(
            [
                ("../../escape.evtx", good),
                ("/abs/path.evtx", good),
                ("ok/Security.evtx", good),
                ("bomb.bin", bomb),
            ],
            symlink="link.evtx",
        )
    )
    work = tmp_path / "work"
    work.mkdir()
    ingest_paths(work / "case", [archive])
    rows = {m: (s, e) for _, m, s, e in _inputs(work / "case")}
    assert rows["ok/Security.evtx"][0] == "ok"
    assert rows["../../escape.evtx"][0] == "refused" and "traversal" in rows["../../escape.evtx"][1]
    assert rows["/abs/path.evtx"][0] == "refused" and "absolute" in rows["/abs/path.evtx"][1]
    assert rows["link.evtx"][0] == "refused" and "link" in rows["link.evtx"][1]
    assert rows["bomb.bin"][0] == "refused" and "bomb" in rows["bomb.bin"][1]
    assert not (tmp_path / "escape.evtx").exists() and not Path("/abs/path.evtx").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evidence.zip", "work"]


def test_tar_with_links_and_traversal_is_refused(shared_data: Path, tmp_path: Path) -> None:
    good = (shared_data / GOOD).read_bytes()
    archive = tmp_path / "uac.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for name in ("host/Security.evtx", "../up.evtx"):
            info = tarfile.TarInfo(name)
            info.size = len(good)
            tf.addfile(info, io.BytesIO(good))
        link = tarfile.TarInfo("host/passwd")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    ingest_paths(tmp_path / "case", [archive])
    rows = {m: s for _, m, s, _ in _inputs(tmp_path / "case")}
    assert rows == {"../up.evtx": "refused", "host/Security.evtx": "ok", "host/passwd": "refused"}


def test_nested_archives_keep_member_provenance(shared_data: Path, tmp_path: Path) -> None:
    good = (shared_data / GOOD).read_bytes()
    inner = _zip_with([("Logs/Security.evtx", good)])
    outer = tmp_path / "collection.zip"
    outer.write_bytes(_zip_with([("HOST1/triage.zip", inner)]))
    ingest_paths(tmp_path / "case", [outer])
    with Case.open(tmp_path / "case", read_only=True) as case:
        member = case.con.execute("SELECT DISTINCT input_member FROM events").fetchall()
    assert member == [("HOST1/triage.zip!/Logs/Security.evtx",)]


def _count(case_dir: Path) -> tuple[int, int]:
    with Case.open(case_dir, read_only=True) as case:
        total = case.con.execute("SELECT count(*) FROM events").fetchone()[0]
        dupes = case.con.execute(
            "SELECT count(*) FROM (SELECT input_sha256, rec_index FROM events GROUP BY ALL HAVING count(*) > 1)"
        ).fetchone()[0]
    return total, dupes


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_gives_the_clean_row_count(shared_data: Path, tmp_path: Path) -> None:
    inputs = [str(shared_data / "EVTX-ATTACK-SAMPLES"), str(shared_data / "DeepBlueCLI")]
    clean = ingest_paths(tmp_path / "clean", [Path(p) for p in inputs], workers=1)
    cmd = [
        sys.executable,
        "-m",
        "forensics",
        "ingest",
        *inputs,
        "--case",
        str(tmp_path / "killed"),
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = tmp_path / "killed" / "events"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if parts.exists() and any(parts.rglob("*.parquet")):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial, _ = _count(tmp_path / "killed")  # the case opens after the kill
    assert partial <= clean.rows
    subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert _count(tmp_path / "killed") == (clean.rows, 0)
