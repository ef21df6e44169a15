"""Disk images yield the rows of the same files ingested directly, with image provenance on every row.

Cost: the session fixture builds the images once (~5 s); each case below ingests one small
image inline (~1-3 s each on 2 busy cores).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from imagekit import WINDOWS_LOGS, corrupt_ewf_chunk_of, corrupt_ex01_bytes_of, signature

from forensics.ingest.runner import ingest_paths
from forensics.raw import extract_record
from forensics.store import Case


@pytest.fixture(scope="session")
def direct(built: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[object, ...]]]:
    """Signatures of each image's twin folder ingested the ordinary way."""
    out: dict[str, list[tuple[object, ...]]] = {}
    by_tree: dict[Path, list[tuple[object, ...]]] = {}
    for name, b in built.items():
        if b.tree not in by_tree:  # the XFS disk holds the same Linux tree as the ext4 one
            case = tmp_path_factory.mktemp(f"direct-{name}")
            ingest_paths(case, [b.tree], workers=1)
            by_tree[b.tree] = signature(case)
        out[name] = by_tree[b.tree]
    return out


CASES = [("windows", k) for k in ("raw", "vmdk", "vhd", "vhdx", "qcow2", "e01", "ex01")] + [
    ("fat", "raw"),
    ("linux", "raw"),
    ("linux", "e01"),
    ("linux", "ex01"),
    ("xfs", "raw"),
    ("btrfs", "raw"),
]


@pytest.mark.parametrize(("system", "kind"), CASES, ids=[f"{s}-{k}" for s, k in CASES])
def test_image_rows_equal_direct_rows(
    built: dict, direct: dict, system: str, kind: str, tmp_path: Path
) -> None:
    b = built[system]
    image = b.images[kind]
    summary = ingest_paths(tmp_path, [image], workers=1)
    assert summary.rows > 0
    assert all(p["status"] == "rejects" for p in summary.problems), (
        summary.problems
    )  # as in the files themselves
    got = signature(tmp_path)
    assert got == direct[system]
    assert len({(s, i) for s, i, _, _ in got}) == len(got)  # no duplicate (input_sha256, rec_index)
    with Case.open(tmp_path, read_only=True) as case:
        paths = case.con.execute("SELECT DISTINCT input_path FROM events").fetchall()
        assert paths == [(str(image),)]
        members = [m for (m,) in case.con.execute("SELECT DISTINCT input_member FROM events").fetchall()]
        assert members and all(m.startswith("p1:") for m in members)
        if b.tree.name == "lin-tree":  # a gzipped log's member is named after it, as the walker names it
            assert "p1:/var/log/journal/0123/system.journal.gz!/system.journal" in members
        img = case.con.execute("SELECT status, host, tz, file_sha256, verification FROM images").fetchone()
        assert img[:3] == ("done", b.host, b.zone)
        assert img[3] and len(img[3]) == 64
        if kind in ("e01", "ex01"):
            assert img[4] == "verified"  # the EWF hash sections match the media read back
        if kind == "ex01":  # EWF2, read through libewf: its own MD5 section, every segment hashed
            source, segments = case.con.execute("SELECT acquisition_source, segments FROM images").fetchone()
            assert f"{image.name} md5 hash section" in source
            assert len(json.loads(segments)) == len(sorted(image.parent.glob(image.stem + ".Ex??")))
            assert system == "windows" or len(json.loads(segments)) > 1
        # every event row leads to a listed file with its volume, path, inode and SHA-256
        orphans = case.con.execute(
            "SELECT count(*) FROM events e LEFT JOIN image_files f ON f.image_path = e.input_path "
            "AND f.member = e.input_member AND f.sha256 = e.input_sha256 "
            "WHERE f.member IS NULL OR f.inode IS NULL OR f.fs_path IS NULL"
        ).fetchone()[0]
        assert orphans == 0


def test_deleted_event_log_is_ingested_and_marked(built: dict, tmp_path: Path) -> None:
    image = built["windows"].images["e01"]
    ingest_paths(tmp_path, [image], workers=1)
    with Case.open(tmp_path, read_only=True) as case:
        deleted = case.con.execute(
            "SELECT f.member, f.note, i.rows, i.status FROM image_files f JOIN inputs i "
            "ON i.path = f.image_path AND i.member = f.member WHERE f.deleted"
        ).fetchall()
    assert len(deleted) == 1
    member, note, rows, status = deleted[0]
    assert ":mft#" in member and member.endswith("/eventlog-dac.evtx")
    assert note.startswith("deleted") and rows > 0 and status == "ok"


@pytest.mark.parametrize("kind", ["e01", "ex01", "vhdx"])
def test_raw_reextracts_from_inside_the_image(built: dict, tmp_path: Path, kind: str) -> None:
    b = built["windows"]
    img_case, dir_case = tmp_path / "img", tmp_path / "dir"
    ingest_paths(img_case, [b.images[kind]], workers=1)
    ingest_paths(dir_case, [b.tree], workers=1)
    with Case.open(img_case, read_only=True) as case:
        refs = case.con.execute(
            "SELECT input_sha256, max(rec_index), any_value(input_member) FROM events GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert any(":mft#" in m for _, _, m in refs)  # the deleted log too
    with Case.open(img_case, read_only=True) as ic, Case.open(dir_case, read_only=True) as dc:
        for sha, idx, _ in refs:
            from_image = extract_record(ic, sha, idx)
            from_file = extract_record(dc, sha, idx)
            assert from_image.data == from_file.data and from_image.sha256 == from_file.sha256


def test_image_is_never_written(built: dict, tmp_path: Path) -> None:
    image = built["linux"].images["e01"]
    before = (image.stat().st_mtime_ns, image.read_bytes())
    ingest_paths(tmp_path, [image], workers=1)
    assert (image.stat().st_mtime_ns, image.read_bytes()) == before


@pytest.mark.parametrize("kind", ["e01", "ex01"])
def test_bad_ewf_chunk_is_reported_per_file_and_the_rest_ingested(
    built: dict, direct: dict, tmp_path: Path, kind: str
) -> None:
    """A corrupt chunk (EWF1: zlib fails; EWF2: libewf's chunk checksum fails, which it would
    otherwise zero-fill without a word) marks the file holding it damaged, with the range."""
    b = built["windows"]
    name = Path(WINDOWS_LOGS[0]).name
    if kind == "e01":
        bad = tmp_path / "bad.E01"
        corrupt_ewf_chunk_of(b.images["e01"], f"/Windows/System32/winevt/Logs/{name}", bad)
    else:
        bad = tmp_path / "bad.Ex01"
        content = (b.tree / "Windows/System32/winevt/Logs" / name).read_bytes()
        corrupt_ex01_bytes_of(b.raw, content[8192 : 8192 + 512], bad)
    ingest_paths(tmp_path / "case", [bad], workers=1)
    with Case.open(tmp_path / "case", read_only=True) as case:
        damaged = case.con.execute(
            "SELECT member, bad_ranges, note, sha256 FROM image_files WHERE damaged"
        ).fetchall()
        image = case.con.execute("SELECT status, verification FROM images").fetchone()
        (status,) = case.con.execute("SELECT status FROM inputs WHERE member = ?", [damaged[0][0]]).fetchone()
    assert len(damaged) == 1 and damaged[0][0].endswith(name) and damaged[0][1]
    assert damaged[0][2].startswith("damaged:")
    # parsed as far as it reads, and recorded either way (an EVTX log says it is damaged)
    assert status in ("ok", "rejects", "failed", "damaged", "truncated")
    assert image == ("done", "unreadable")  # the acquisition hash cannot be checked over a bad chunk
    # every other file gives exactly its rows
    others = [r for r in signature(tmp_path / "case") if r[0] != damaged[0][3]]
    original = hashlib.sha256((b.tree / "Windows/System32/winevt/Logs" / name).read_bytes()).hexdigest()
    assert damaged[0][3] != original  # the copy's hash: the bytes as read, zeros where unreadable
    assert others == [r for r in direct["windows"] if r[0] != original]


def test_kape_vhdx_with_a_drive_folder(shared_data: Path, tmp_path: Path) -> None:
    """KAPE writes its collection into a VHDX whose volume holds C/Windows/...: found the same."""
    from forensics.images.context import image_context
    from forensics.images.reader import OpenImage
    from forensics.testing import disk_images as di
    from forensics.testing.regf_writer import system_hive

    evtx = shared_data / WINDOWS_LOGS[1]
    hive = system_hive(tmp_path / "SYSTEM", "KAPE-HOST", "UTC", 0)
    vol = di.Volume(
        "ntfs",
        ((f"/C/Windows/System32/winevt/Logs/{evtx.name}", evtx), ("/C/Windows/System32/config/SYSTEM", hive)),
        label="KAPE",
    )
    vhdx = di.convert(di.build_disk([vol], tmp_path / "k.raw"), "vhdx", tmp_path / "kape.vhdx")
    with OpenImage(vhdx) as img:
        assert [e.member for e in img.entries()] == [f"p1:/C/Windows/System32/winevt/Logs/{evtx.name}"]
        assert image_context(img).host.value == "KAPE-HOST"


def test_bundle_sources_name_the_image_and_the_path_inside(built: dict, tmp_path: Path) -> None:
    from forensics.bundle.collect import read_sources

    image = built["linux"].images["e01"]
    ingest_paths(tmp_path, [image], workers=1)
    with Case.open(tmp_path, read_only=True) as case:
        sources = [s for s in read_sources(case) if s["status"] == "ok"]
    assert sources
    for s in sources:
        assert s["original_path"] == str(image) and s["member"].startswith("p1:/var/log/")
        img = s["image"]
        assert (
            img["image_sha256"]
            and img["verification"] == "verified"
            and img["fs_path"].startswith("/var/log/")
        )
        assert img["inode"] and img["volume"] == "p1" and img["fs_type"] == "ext"
