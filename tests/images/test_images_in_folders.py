"""Disk images inside a folder: `forensics ingest FOLDER` reads an E01 (in segments, with its
acquisition log), a qcow2 and the loose logs beside them, each image exactly as
`forensics ingest IMAGE` reads it; nothing in the folder is left `unknown`.

Two small ext4 disks are built per test run (mkfs.ext4 -d, ewfacquire, qemu-img: ~2 s).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from imagekit import signature

from forensics.ingest.runner import ingest_paths
from forensics.store import Case
from forensics.testing import disk_images as di


def _syslog(host: str, n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(
        f"Mar  6 10:{i // 60:02d}:{i % 60:02d} {host} sshd[{rng.randint(100, 9999)}]: Failed password for "
        f"user{rng.randint(0, 50)} from 10.0.{rng.randint(0, 255)}.{rng.randint(1, 254)} port 22 ssh2\n".encode()
        for i in range(n)
    )


def _audit(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(
        f"type=USER_LOGIN msg=audit(17096{i:05d}.{rng.randint(100, 999)}:{i + 1}): pid={rng.randint(100, 9999)} "
        f'uid=0 auid=1000 ses=1 msg=\'op=login acct="user{i % 9}" exe="/usr/sbin/sshd" addr=10.0.0.{i % 250} '
        "terminal=ssh res=failed'\n".encode()
        for i in range(n)
    )


@pytest.fixture
def evidence(tmp_path: Path) -> Path:
    """evidence/ward-pc/disk.E01 (+ .E02.., its .txt log), evidence/lab/lab.qcow2, evidence/loose/auth.log."""
    missing = di.tools_missing(["ext4", "qemu", "ewf"])
    if missing:
        pytest.fail(f"image tools missing: {missing} (.ci/run installs them)")
    work = tmp_path / "work"
    work.mkdir()
    ev = tmp_path / "evidence"
    for host, seed, where, kind in (
        ("ward-lnx01", 1, "ward-pc/disk.E01", "ewf"),
        ("lab-lnx02", 2, "lab/lab.qcow2", "qcow2"),
    ):
        auth, audit = work / f"{host}-auth.log", work / f"{host}-audit.log"
        auth.write_bytes(_syslog(host, 300, seed))
        # incompressible filler so the E01 needs several segments
        filler = work / f"{host}-filler.bin"
        filler.write_bytes(random.Random(seed).randbytes(3 << 20))
        audit.write_bytes(_audit(200, seed))
        vol = di.linux_volume([("auth.log", auth), ("audit/audit.log", audit), ("filler.bin", filler)],
                              hostname=host, zone="Asia/Kolkata", work=work)  # fmt: skip
        raw = di.build_disk([vol], work / f"{host}.raw")
        out = ev / where
        out.parent.mkdir(parents=True, exist_ok=True)
        di.convert(
            raw, kind, out, compression="deflate:none", segment_bytes=(1 << 20) if kind == "ewf" else None
        )
    (ev / "loose").mkdir()
    (ev / "loose" / "auth.log").write_bytes(_syslog("gw01", 50, 3))
    return ev


def test_images_in_a_folder_ingest_as_when_named(evidence: Path, tmp_path: Path) -> None:
    segments = sorted(p.name for p in (evidence / "ward-pc").iterdir())
    assert "disk.E02" in segments and "disk.E01.txt" in segments, segments
    walked = ingest_paths(tmp_path / "walked", [evidence])
    images = [evidence / "ward-pc" / "disk.E01", evidence / "lab" / "lab.qcow2"]
    named = ingest_paths(tmp_path / "named", [*images, evidence / "loose" / "auth.log"])
    assert walked.problems == [] and named.problems == []
    assert walked.rows == named.rows == 2 * (300 + 200) + 50
    assert signature(tmp_path / "walked") == signature(tmp_path / "named")
    inputs = {}
    for case in ("walked", "named"):
        with Case.open(tmp_path / case, read_only=True) as c:
            got = c.con.execute(
                "SELECT path, kind, status, verification FROM images ORDER BY path"
            ).fetchall()
            inputs[case] = c.con.execute(
                "SELECT path, coalesce(member, ''), status FROM inputs ORDER BY ALL"
            ).fetchall()
        got.sort(key=lambda r: Path(r[0]).name)
        assert [(Path(p).name, k, s) for p, k, s, _ in got] == [
            ("disk.E01", "ewf", "done"),
            ("lab.qcow2", "qcow2", "done"),
        ]
        assert got[0][3] == "verified", got  # the acquisition's MD5/SHA-1 from its log and hash section
    # the same inputs, statuses included (the filler inside each image is `unknown` either way, as
    # the image path records files of /var/log it does not recognise); no segment or log walked
    assert inputs["walked"] == inputs["named"]
    assert {(Path(p).name, m, s) for p, m, s in inputs["walked"] if not m} == {("auth.log", "", "ok")}


def test_cli_ingest_of_a_folder_with_an_image_is_clean(evidence: Path, tmp_path: Path) -> None:
    shutil.rmtree(evidence / "lab")
    proc = subprocess.run(
        [sys.executable, "-m", "forensics", "ingest", str(evidence), "--case", str(tmp_path / "case"), "--json"],
        capture_output=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    summary = json.loads(proc.stdout)
    assert summary["problems"] == [] and summary["rows"] == 300 + 200 + 50


def _linux_disk(work: Path, host: str, seed: int, extra: tuple[tuple[str, Path], ...] = ()) -> Path:
    auth = work / f"{host}-auth.log"
    auth.write_bytes(_syslog(host, 120, seed))
    vol = di.linux_volume([("auth.log", auth), *extra], hostname=host, zone="Asia/Kolkata", work=work)
    return di.build_disk([vol], work / f"{host}.raw")


def test_vmdk_extents_are_parts_of_their_descriptors_image(tmp_path: Path) -> None:
    """A monolithicFlat VMDK (descriptor + x-flat.vmdk) and a split sparse one (descriptor + x-s001.vmdk,
    the extent named before its descriptor): each is one image, its extents read through it and listed
    as its segments, never an image or an input of their own (ingest FOLDER and batch FOLDER)."""
    missing = di.tools_missing(["ext4", "qemu"])
    if missing:
        pytest.fail(f"image tools missing: {missing} (.ci/run installs them)")
    work = tmp_path / "work"
    work.mkdir()
    ev = tmp_path / "evidence"
    ev.mkdir()
    for host, seed, subformat in (
        ("flat-lnx01", 4, "monolithicFlat"),
        ("split-lnx02", 5, "twoGbMaxExtentSparse"),
    ):
        raw = _linux_disk(work, host, seed)
        subprocess.run(
            ["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o", f"subformat={subformat}", str(raw),
             str(ev / f"{host}.vmdk")],
            check=True,
        )  # fmt: skip
    names = sorted(p.name for p in ev.iterdir())
    assert names == ["flat-lnx01-flat.vmdk", "flat-lnx01.vmdk", "split-lnx02-s001.vmdk", "split-lnx02.vmdk"]
    summary = ingest_paths(tmp_path / "case", [ev])
    assert summary.problems == [] and summary.not_logs == [] and summary.rows == 240
    with Case.open(tmp_path / "case", read_only=True) as c:
        images = c.con.execute("SELECT path, kind, status, segments FROM images ORDER BY path").fetchall()
        inputs = c.con.execute("SELECT DISTINCT path FROM inputs ORDER BY path").fetchall()
        hosts = c.con.execute("SELECT DISTINCT host FROM events ORDER BY host").fetchall()
    assert [(Path(p).name, k, s) for p, k, s, _ in images] == [
        ("flat-lnx01.vmdk", "vmdk", "done"),
        ("split-lnx02.vmdk", "vmdk", "done"),
    ]
    assert "flat-lnx01-flat.vmdk" in images[0][3] and "split-lnx02-s001.vmdk" in images[1][3]
    assert [Path(p).name for (p,) in inputs] == ["flat-lnx01.vmdk", "split-lnx02.vmdk"]
    assert hosts == [("flat-lnx01",), ("split-lnx02",)]
    from forensics.batch.manifest import folder_specs

    assert sorted(Path(s.path).name for s in folder_specs(ev)) == ["flat-lnx01.vmdk", "split-lnx02.vmdk"]


def test_files_in_an_image_are_judged_and_counted_as_ingest_counts_them(tmp_path: Path) -> None:
    """In an image's log folders, a file named like a log that no parser reads is an input problem
    (exit 3) and a file plainly not a log is counted, exactly as the same files loose."""
    missing = di.tools_missing(["ext4"])
    if missing:
        pytest.fail(f"image tools missing: {missing} (.ci/run installs them)")
    work = tmp_path / "work"
    (work / "loose").mkdir(parents=True)
    wtmp, note = work / "loose" / "wtmp", work / "loose" / "README_TO_DECRYPT.txt"
    wtmp.write_bytes(random.Random(7).randbytes(1152))
    note.write_bytes(b"ALL YOUR FILES ARE ENCRYPTED\nwrite to recover@example.org\n")
    raw = _linux_disk(work, "ward-lnx03", 6, (("wtmp", wtmp), ("README_TO_DECRYPT.txt", note)))
    disk = tmp_path / "disk.raw"
    shutil.copy(raw, disk)
    proc = subprocess.run(
        [sys.executable, "-m", "forensics", "ingest", str(disk), "--case", str(tmp_path / "case"), "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    summary = json.loads(proc.stdout)
    assert [(p["member"], p["status"]) for p in summary["problems"]] == [("p1:/var/log/wtmp", "unknown")]
    assert [(p["member"], p["status"]) for p in summary["not_logs"]] == [
        ("p1:/var/log/README_TO_DECRYPT.txt", "not_log")
    ]
    assert "wtmp" in proc.stderr
    loose = ingest_paths(tmp_path / "loose-case", [work / "loose"])
    assert [p["status"] for p in loose.problems] == ["unknown"] and len(loose.not_logs) == 1


def test_an_e01_in_segments_inside_a_zip_is_read_as_an_image(evidence: Path, tmp_path: Path) -> None:
    """A KAPE-style zip holding disk.E01, disk.E02, … and its acquisition log: the image is copied out
    into the case and read as `ingest IMAGE` reads it (same rows, verified against its acquisition
    hash); its members are recorded `extracted`, none left unknown or not a log; a re-run adds nothing."""
    ward = evidence / "ward-pc"
    zipped = tmp_path / "kape-ward.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_STORED) as z:
        for p in sorted(ward.iterdir()):
            z.write(p, f"ward-pc/{p.name}")
        z.write(evidence / "loose" / "auth.log", "loose/auth.log")
    segments = [p.name for p in sorted(ward.iterdir())]
    got = ingest_paths(tmp_path / "zipped", [zipped])
    want = ingest_paths(tmp_path / "direct", [ward / "disk.E01", evidence / "loose" / "auth.log"])
    assert got.problems == []
    # the filler inside the image is not a log, counted the same way either way
    assert (
        [p["member"] for p in got.not_logs]
        == [p["member"] for p in want.not_logs]
        == ["p1:/var/log/filler.bin"]
    )
    assert got.rows == want.rows == 300 + 200 + 50
    assert signature(tmp_path / "zipped") == signature(tmp_path / "direct")
    with Case.open(tmp_path / "zipped", read_only=True) as c:
        images = c.con.execute("SELECT path, kind, status, verification, segments FROM images").fetchall()
        members = c.con.execute(
            "SELECT member, status, error FROM inputs WHERE path = ? ORDER BY member", [str(zipped)]
        ).fetchall()
    ((path, kind, status, verification, segs),) = images
    assert (Path(path).name, kind, status) == ("disk.E01", "ewf", "done")
    assert Path(path).is_relative_to(tmp_path / "zipped" / "extracted") and "disk.E02" in segs
    assert verification is not None and "verified" in verification.lower()
    by_member = {m: (s, e) for m, s, e in members}
    assert {m for m, (s, _) in by_member.items() if s == "extracted"} == {f"ward-pc/{n}" for n in segments}
    assert by_member["loose/auth.log"][0] == "ok"
    again = ingest_paths(tmp_path / "zipped", [zipped])
    assert again.rows == 0 and again.problems == []


def test_a_folder_named_by_a_relative_path_reads_each_image_once(evidence: Path, tmp_path: Path) -> None:
    """`forensics ingest evidence --case case` from the folder above: the E01's later segments are
    parts of it, not images of their own (dissect names segments by absolute paths)."""
    proc = subprocess.run(
        [sys.executable, "-m", "forensics", "ingest", "evidence", "--case", "case", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert "duplicate" not in summary["by_status"] and summary["rows"] == 2 * (300 + 200) + 50
    with Case.open(tmp_path / "case", read_only=True) as c:
        images = c.con.execute("SELECT path FROM images ORDER BY path").fetchall()
    assert sorted(Path(p).name for (p,) in images) == ["disk.E01", "lab.qcow2"]
