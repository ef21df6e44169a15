"""Hash an image as received, and check the hash its acquisition recorded.

Two different things are hashed:

- the **image files** as received (every EWF segment, in order, or the one file): SHA-256
  streamed with progress, what custody and the evidence bundle name;
- the **media** the image holds (the disk as acquired, read back through the container):
  MD5 / SHA-1 / SHA-256, computed only when there is an acquisition hash to compare with —
  EWF keeps its own in ``hash`` / ``digest`` sections, and acquisition tools (ewfacquire's
  ``-l`` log, FTK Imager's ``.txt``) write it beside the image. For a raw image the two are
  the same bytes, so the file hashes answer both.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from forensics.images.reader import READ, image_segments

Progress = Callable[[int, int], None]  # (bytes done, bytes total)
ALGORITHMS = ("md5", "sha1", "sha256")
_LOG_LINE = re.compile(
    r"(?P<algo>MD5|SHA-?1|SHA-?256)\b[^\n:]*?(?:checksum|hash)?[^\n:]*:\s*(?P<hex>[0-9a-fA-F]{32,64})\b", re.I
)


@dataclass(frozen=True)
class FilesDigest:
    """SHA-256 of the image files as received."""

    sha256: str  # of the files' bytes concatenated in order (one file: that file's SHA-256)
    size: int
    files: tuple[tuple[str, int, str], ...]  # (path, size, sha256) per file


@dataclass(frozen=True)
class Acquisition:
    """Hashes the acquisition recorded, by algorithm, and where each was read."""

    hashes: dict[str, str] = field(default_factory=dict)  # "md5" -> hex
    sources: dict[str, str] = field(default_factory=dict)  # "md5" -> "E01 hash section" / "x.E01.txt"


@dataclass(frozen=True)
class Verification:
    """The acquisition's hashes against the media read back now."""

    status: str  # "verified", "mismatch", "no acquisition hash", "expected hash only"
    detail: str


def hash_files(image: Path, progress: Progress | None = None) -> FilesDigest:
    """SHA-256 of the image's files, streamed; ``progress(done, total)`` after each block."""
    paths = image_segments(image)
    total = sum(p.stat().st_size for p in paths)
    whole = hashlib.sha256()
    files = []
    done = 0
    for p in paths:
        one = hashlib.sha256()
        with p.open("rb") as fh:
            while block := fh.read(READ):
                one.update(block)
                whole.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
        files.append((str(p), p.stat().st_size, one.hexdigest()))
    sha = files[0][2] if len(files) == 1 else whole.hexdigest()
    return FilesDigest(sha, total, tuple(files))


def hash_media(
    stream: BinaryIO, size: int, algos: tuple[str, ...], progress: Progress | None = None
) -> dict[str, str]:
    """Hashes of ``size`` bytes of the media stream (read through the container)."""
    from forensics.images.reader import ImageError, _read_errors

    hs = {a: hashlib.new(a) for a in algos}
    pos = 0
    stream.seek(0)
    while pos < size:
        try:
            block = stream.read(min(READ, size - pos))
        except _read_errors() as exc:
            raise ImageError(f"media unreadable near byte {pos}: {exc}") from exc
        if not block:
            break
        for h in hs.values():
            h.update(block)
        pos += len(block)
        if progress:
            progress(pos, size)
    return {a: h.hexdigest() for a, h in hs.items()}


def acquisition_hashes(image: Path) -> Acquisition:
    """Hashes the acquisition recorded: EWF hash/digest sections, then logs beside the image."""
    hashes: dict[str, str] = {}
    sources: dict[str, str] = {}
    for algo, value, where in [*_ewf_sections(image), *_ewf2_sections(image), *_side_logs(image)]:
        if algo not in hashes and value.strip("0"):
            hashes[algo] = value.lower()
            sources[algo] = where
    return Acquisition(hashes, sources)


def _ewf_sections(image: Path) -> list[tuple[str, str, str]]:
    """``hash`` (MD5) and ``digest`` (MD5 + SHA-1) sections of an EWF image's segments."""
    with image.open("rb") as fh:
        if fh.read(8) not in (b"EVF\x09\x0d\x0a\xff\x00", b"LVF\x09\x0d\x0a\xff\x00"):
            return []
    out = []
    for seg in image_segments(image):
        with seg.open("rb") as fh:
            offset = 13
            seen: set[int] = set()
            while offset not in seen:
                seen.add(offset)
                fh.seek(offset)
                desc = fh.read(76)
                if len(desc) < 76:
                    break
                kind = desc[:16].rstrip(b"\0")
                nxt, size = struct.unpack_from("<QQ", desc, 16)
                data = fh.read(min(max(size - 76, 0), 128))
                if kind == b"hash" and len(data) >= 16:
                    out.append(("md5", data[:16].hex(), f"{seg.name} hash section"))
                elif kind == b"digest" and len(data) >= 36:
                    out.append(("md5", data[:16].hex(), f"{seg.name} digest section"))
                    out.append(("sha1", data[16:36].hex(), f"{seg.name} digest section"))
                if kind == b"done" or nxt == offset or nxt == 0:
                    break
                offset = nxt
    return out


def _ewf2_sections(image: Path) -> list[tuple[str, str, str]]:
    """MD5 and SHA-1 hash sections of an EWF2 (Ex01) image, as libewf reads them."""
    with image.open("rb") as fh:
        if fh.read(8) not in (b"EVF2\r\n\x81\x00", b"LEF2\r\n\x81\x00"):
            return []
    from forensics.images.ewf2 import Ex01Stream

    stream = Ex01Stream(image)
    try:
        return [(algo, value, f"{image.name} {algo} hash section") for algo, value in stream.hashes().items()]
    finally:
        stream.close()


def _side_logs(image: Path) -> list[tuple[str, str, str]]:
    """Hash lines of acquisition logs next to the image (``x.E01.txt``, ``x.txt``, ``x.log``)."""
    # named after this image file only: a log beside another image of the same name stem is not its own
    wanted = {f"{image.name}.txt", f"{image.name}.log"}
    if image.suffix.lower() in (".e01", ".ex01", ".001", ".dd", ".raw"):
        wanted |= {f"{image.stem}.txt", f"{image.stem}.log"}
    names = sorted(p for p in image.parent.iterdir() if p.name in wanted and p.is_file())
    out = []
    for p in names:
        if p.stat().st_size > 1 << 20:
            continue
        text = p.read_text("utf-8", "replace")
        for m in _LOG_LINE.finditer(text):
            algo = m.group("algo").lower().replace("-", "")
            hexval = m.group("hex").lower()
            if len(hexval) == {"md5": 32, "sha1": 40, "sha256": 64}[algo]:
                out.append((algo, hexval, p.name))
    return out


def verify(acq: Acquisition, media: dict[str, str], expected: str | None = None) -> Verification:
    """Compare the acquisition's hashes (and a manifest's expected hash) with the media's."""
    checks = []
    bad = []
    for algo, want in sorted(acq.hashes.items()):
        got = media.get(algo)
        if got is None:
            continue
        checks.append(f"{algo} {want} ({acq.sources[algo]})")
        if got != want:
            bad.append(f"{algo}: acquisition {want} ({acq.sources[algo]}), media now {got}")
    if expected:
        exp = expected.lower()
        named = {32: "md5", 40: "sha1", 64: "sha256"}.get(len(exp))
        if named and named in media:
            checks.append(f"{named} {exp} (manifest)")
            if media[named] != exp:
                bad.append(f"{named}: manifest expects {exp}, media now {media[named]}")
    if bad:
        return Verification("mismatch", "; ".join(bad))
    if checks:
        return Verification("verified", "; ".join(checks))
    return Verification("no acquisition hash", "no hash recorded by the acquisition or the manifest")
