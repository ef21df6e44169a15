"""Shared pieces of the image tests: which ../shared/data logs go into the images, and a row signature."""

from __future__ import annotations

from pathlib import Path

from forensics.schema import CORE_NAMES
from forensics.store import Case

PROVENANCE = ("input_path", "input_member")

WINDOWS_LOGS = (
    "DeepBlueCLI/evtx/metasploit-psexec-native-target-security.evtx",
    "DeepBlueCLI/evtx/mimikatz-privesc-hashdump.evtx",
    "DeepBlueCLI/evtx/new-user-security.evtx",
    "DeepBlueCLI/evtx/psattack-security.evtx",
)
DELETED_LOG = "DeepBlueCLI/evtx/eventlog-dac.evtx"
LINUX_LOGS = (
    ("auth.log", "loghub/OpenSSH/OpenSSH_2k.log"),
    ("syslog", "plaso-testdata/test_data/syslog/syslog"),
    ("audit/audit.log", "go-libaudit/auparse/testdata/audit-rhel7.log"),
    ("journal/0123/system.journal.gz", "velociraptor-journal/system.journal.gz"),
)


def signature(case_dir: Path) -> list[tuple[object, ...]]:
    """(input_sha256, rec_index, record_id, hash of every other core column) for every row."""
    cols = [c for c in CORE_NAMES if c not in PROVENANCE]
    cells = ", ".join(f"coalesce(CAST({c} AS VARCHAR), '<null>')" for c in cols)
    with Case.open(case_dir, read_only=True) as case:
        rows = case.con.execute(
            f"SELECT input_sha256, rec_index, record_id, md5(concat_ws('|', {cells})) FROM events ORDER BY 1, 2"
        ).fetchall()
        rejects = case.con.execute(
            "SELECT input_sha256, rec_index, 'reject', md5(concat_ws('|', reason, raw)) FROM rejects ORDER BY 1, 2"
        ).fetchall()
    return rows + rejects


def corrupt_ewf_chunk_of(image: Path, member_path: str, out: Path) -> int:
    """Copy the single-segment E01 ``image`` to ``out`` with the compressed chunk holding the
    second cluster run of NTFS file ``member_path`` (on the first partition) overwritten, as a
    bad sector range in the acquisition would leave it. Returns the damaged chunk's number."""
    from dissect.evidence.ewf import EWF
    from dissect.ntfs.c_ntfs import ATTRIBUTE_TYPE_CODE

    from forensics.images.reader import OpenImage

    with OpenImage(image) as img:
        ref, fs = img.volumes[0]
        record = fs.ntfs.mft.get(member_path)
        (attr,) = record.attributes[ATTRIBUTE_TYPE_CODE.DATA]
        lcn, _count = attr.dataruns()[0]
        offset = (ref.offset or 0) + lcn * fs.ntfs.cluster_size + 8192  # a little into the file
    with image.open("rb") as fh:
        ewf = EWF(fh)
        chunk = offset // ewf.chunk_size
        table = ewf.segment(0).tables[0]
        entry = table.entries[chunk]
        start = table.base_offset + (entry & 0x7FFFFFFF)
        data = bytearray(image.read_bytes())
    data[start + 8 : start + 40] = b"\xde\xad\xbe\xef" * 8  # inside the zlib stream: decompression fails
    out.write_bytes(bytes(data))
    return chunk


def corrupt_ex01_bytes_of(raw: Path, content: bytes, out: Path) -> None:
    """An Ex01 of the disk ``raw`` at ``out`` with the chunk holding ``content`` (bytes of a file
    on the disk) damaged: the image is written with chunks stored as they are (``deflate:none``),
    so the file's bytes are found in it and overwritten; the chunk's checksum no longer matches."""
    from forensics.testing import disk_images as di

    plain = di.convert(
        raw, "ewf", out.with_name("plain.Ex01"), ewf_format="encase7-v2", compression="deflate:none"
    )
    data = bytearray(plain.read_bytes())
    at = data.find(content)
    assert at > 0 and data.find(content, at + 1) == -1, "the file's bytes are not found once in the image"
    data[at : at + 32] = b"\xde\xad\xbe\xef" * 8
    out.write_bytes(bytes(data))
