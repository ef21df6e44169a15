"""Work units of a batch: explicit, picklable descriptions of work and of its results.

A batch over many images is three kinds of unit per image, each a frozen dataclass that needs
nothing but the image's path to run (no case, no DuckDB connection), so the same units run in
a local process pool today and on Spark executors later (issue 17):

- ``ListUnit``: open the image, read its host and zone, find the log files, copy each out to
  scratch while hashing it, sniff its format → ``Listing``;
- ``HashUnit``: SHA-256 of the image files, and the media hashes compared with the
  acquisition's own → ``ImageDigest``;
- ``ParseUnit``: a group of the listed files (by member name and expected SHA-256) parsed
  into staged Parquet parts with the project's own parsers → ``ParseOutcome``.

The driver (``forensics.batch.driver``) decides which files each image parses (the first
image in batch order owns a file whose bytes appear in several) and commits the results into
the case, so a unit's output never depends on when it ran.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePosixPath

from forensics.images.context import ImageContext
from forensics.images.detect import image_kind
from forensics.images.digest import (
    Acquisition,
    FilesDigest,
    Verification,
    acquisition_hashes,
    hash_files,
    hash_media,
    verify,
)
from forensics.images.reader import DEFAULT_LOCATIONS, ImageError, OpenImage, VolumeRef, copy_out, read_head
from forensics.ingest.base import InputFile, ParseContext, Parser
from forensics.ingest.context import InputContext
from forensics.ingest.worker import Task, TaskResult, run_task

MEMBER_SEP = "!/"


@dataclass(frozen=True)
class ImageSpec:
    """One image of a batch, as the manifest (or the folder) names it."""

    path: str
    host_hint: str | None = None
    tz_hint: str | None = None
    collector: str | None = None
    collected_at: str | None = None
    expected_hash: str | None = None


@dataclass(frozen=True)
class ScanOptions:
    """Where in an image to look for logs."""

    locations: tuple[str, ...] = DEFAULT_LOCATIONS
    deleted: bool = True  # also deleted NTFS event logs found in the MFT


@dataclass(frozen=True)
class FileItem:
    """A file found in an image: where, what it hashes to, what reads it."""

    member: str  # "p1:/Windows/System32/winevt/Logs/Security.evtx" (see forensics.images.reader)
    volume: str
    fs_type: str
    fs_path: str
    inode: int | None
    size: int
    mtime: datetime | None
    deleted: bool
    sha256: str | None  # None: not copied out (format not recognised)
    md5: str | None
    parser: str | None
    bad_ranges: tuple[tuple[int, int], ...] = ()  # zero-filled: unreadable in the image
    note: str | None = None  # why it is not parsed, or what is wrong with it

    @property
    def damaged(self) -> bool:
        """True when part of the file could not be read from the image."""
        return bool(self.bad_ranges)


@dataclass(frozen=True)
class ListUnit:
    """List, copy out and sniff the logs of one image."""

    unit_id: str
    spec: ImageSpec
    scan: ScanOptions
    scratch: str  # folder for the copies (local to the worker)


@dataclass(frozen=True)
class Listing:
    """What a ``ListUnit`` found (``error`` set when the image could not be read at all)."""

    unit_id: str
    image: str
    kind: str | None
    media_size: int
    volumes: tuple[VolumeRef, ...]
    context: ImageContext
    files: tuple[FileItem, ...]
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class HashUnit:
    """Hash one image's files and media; compare with the acquisition's hashes."""

    unit_id: str
    spec: ImageSpec


@dataclass(frozen=True)
class ImageDigest:
    """What a ``HashUnit`` computed."""

    unit_id: str
    image: str
    files: FilesDigest | None
    media: dict[str, str] = field(default_factory=dict)
    acquisition: Acquisition = field(default_factory=Acquisition)
    verification: Verification | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class ParseUnit:
    """Parse a group of an image's files into staged parts."""

    unit_id: str
    spec: ImageSpec
    files: tuple[FileItem, ...]
    ctx: ParseContext
    host_hint: str | None
    tz_hint: str | None
    scratch: str
    staging: str
    decided: tuple[tuple[str, InputContext], ...] = ()  # a replay: file SHA-256 -> recorded context


@dataclass(frozen=True)
class ParseOutcome:
    """A parsed group, staged; ``inputs`` are the files as parsed (same order as the task's)."""

    unit_id: str
    image: str
    result: TaskResult
    inputs: tuple[InputFile, ...]
    parsers: tuple[str, ...]
    failed: tuple[tuple[FileItem, str], ...] = ()  # files that could not be read back from the image
    seconds: float = 0.0


Unit = ListUnit | HashUnit | ParseUnit
Outcome = Listing | ImageDigest | ParseOutcome


def unit_id(kind: str, image: str, *parts: str) -> str:
    """A stable id: the same unit of the same batch has the same id in every run."""
    h = hashlib.sha256("\0".join((kind, image, *parts)).encode())
    return f"{kind}-{h.hexdigest()[:16]}"


def scratch_name(sha256: str) -> str:
    """File name of a copied-out file in scratch: by content, so identical files share it."""
    return f"{sha256}.bin"


# ---- running units (in a worker) -----------------------------------------------------------


def run_unit(unit: Unit) -> Outcome:
    """Run one unit; the registry below says which function runs which kind."""
    return _RUNNERS[type(unit)](unit)  # type: ignore[operator,no-any-return]


def run_list(unit: ListUnit) -> Listing:
    """Open the image, read its context, copy out and sniff every log file under the locations."""
    from forensics.images.context import image_context

    start = time.perf_counter()
    path = Path(unit.spec.path)
    kind = image_kind(path)
    scratch = Path(unit.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with OpenImage(path) as img:
            context = image_context(img)
            files = tuple(_list_files(img, unit.scan, scratch))
            volumes = tuple(ref for ref, _ in img.volumes)
            size = img.size
    except ImageError as exc:
        return Listing(
            unit.unit_id,
            unit.spec.path,
            kind,
            0,
            (),
            ImageContext(),
            (),
            str(exc),
            time.perf_counter() - start,
        )
    if not volumes:
        why = "no file system found in the image (unknown volume system, encrypted or empty)"
        return Listing(
            unit.unit_id, unit.spec.path, kind, size, (), context, (), why, time.perf_counter() - start
        )
    return Listing(
        unit.unit_id, unit.spec.path, kind, size, volumes, context, files, None, time.perf_counter() - start
    )


def _list_files(img: OpenImage, scan: ScanOptions, scratch: Path) -> list[FileItem]:
    from forensics.archives import is_archive
    from forensics.ingest.registry import sniff

    out: list[FileItem] = []
    for entry in img.entries(scan.locations, deleted=scan.deleted):
        base = FileItem(
            entry.member, entry.volume, entry.fs_type, entry.path, entry.inode, entry.size, entry.mtime,
            entry.deleted, None, None, None,
        )  # fmt: skip
        if entry.size == 0:  # judged as ingest judges a loose file: empty when named like a log
            out.append(replace(base, note=_unparsed_note(entry.path, b"", 0)))
            continue
        try:
            with img.open(entry) as fh:
                head, damaged = read_head(fh, entry.size)
                name = entry.path.rsplit("/", 1)[-1]
                # archives first, as the folder walker does: members are what get sniffed
                parser = None if is_archive(head) else sniff(head, name)
                if parser is None and damaged:
                    parser = by_name(name)  # the header is unreadable in the image: go by the name
                if parser is None and not is_archive(head):
                    out.append(replace(base, note=_unparsed_note(entry.path, head, entry.size)))
                    continue
                tmp = scratch / f".{os.getpid()}-{entry.volume}-{entry.inode}.part"
                copied = copy_out(fh, entry.size, tmp)
        except ImageError as exc:
            out.append(replace(base, note=f"unreadable in the image: {exc}"))
            continue
        final = scratch / scratch_name(copied.sha256)
        os.replace(tmp, final)
        item = replace(base, sha256=copied.sha256, md5=copied.md5, bad_ranges=copied.bad_ranges)
        if parser is not None:
            out.append(replace(item, parser=parser.name, note=_damage_note(item)))
        else:
            out.extend(_archive_members(item, final, scratch))
    return out


def _unparsed_note(name: str, head: bytes, size: int) -> str:
    """Why a file in an image is not parsed, judged as ingest judges a loose file
    (``forensics.ingest.notlog``): not a log, or named / shaped like one and not recognised."""
    from forensics.ingest.notlog import judge

    verdict = judge(name, head, size)
    if not verdict.log_like or size == 0:
        return verdict.reason
    return f"format not recognised by content: {verdict.reason}"


def by_name(name: str) -> Parser | None:
    """The parser a damaged file's name points to (only names that say the format: ``*.evtx``)."""
    from forensics.ingest.registry import BY_NAME

    return BY_NAME["evtx"] if name.lower().endswith(".evtx") else None


def _damage_note(item: FileItem) -> str | None:
    notes = []
    if item.deleted:
        notes.append("deleted: read from its MFT entry's data runs, clusters may have been reused")
    if item.bad_ranges:
        lost = sum(n for _, n in item.bad_ranges)
        notes.append(
            f"damaged: {lost} bytes in {len(item.bad_ranges)} range(s) unreadable in the image, zero-filled"
        )
    return "; ".join(notes) or None


def _archive_members(item: FileItem, local: Path, scratch: Path) -> list[FileItem]:
    """Members of a compressed or archived log (``syslog.2.gz``) found in the image."""
    from forensics.ingest.registry import sniff
    from forensics.ingest.walk import walk

    out = []
    # walked under the file's own name: a .gz member is named after it (syslog.2.gz -> syslog.2),
    # not after the scratch copy
    named = scratch / "named" / (item.sha256 or "unhashed") / PurePosixPath(item.fs_path).name
    named.parent.mkdir(parents=True, exist_ok=True)
    named.unlink(missing_ok=True)
    os.link(local, named)
    for cand in walk([named], scratch / "members"):
        member = f"{item.member}{MEMBER_SEP}{cand.member}" if cand.member else item.member
        sub = replace(
            item, member=member, size=cand.size, sha256=cand.sha256, md5=cand.md5, parser=None, note=None
        )
        if cand.refused is not None:
            out.append(replace(sub, sha256=None, md5=None, note=cand.refused))
            continue
        parser = sniff(cand.head, (cand.member or "").rsplit("/", 1)[-1])
        if parser is None or cand.sha256 is None or cand.local is None:
            out.append(replace(sub, note=_unparsed_note(cand.member or item.fs_path, cand.head, cand.size)))
            if cand.local is not None:
                cand.local.unlink(missing_ok=True)
            continue
        os.replace(cand.local, scratch / scratch_name(cand.sha256))
        out.append(replace(sub, parser=parser.name, note=_damage_note(sub)))
    named.unlink(missing_ok=True)
    named.parent.rmdir()
    local.unlink(missing_ok=True)  # the container: its members are what get parsed
    return out


def run_hash(unit: HashUnit) -> ImageDigest:
    """Hash the image's files; hash its media too when there is a recorded hash to check."""
    start = time.perf_counter()
    path = Path(unit.spec.path)
    try:
        files = hash_files(path)
    except OSError as exc:
        return ImageDigest(unit.unit_id, unit.spec.path, None, error=f"cannot read image: {exc}")
    try:
        acq = acquisition_hashes(path)
    except OSError as exc:  # an Ex01 libewf cannot open: its files' hashes still stand
        check = Verification("unreadable", f"the acquisition's hashes cannot be read: {exc}")
        return ImageDigest(
            unit.unit_id, unit.spec.path, files, {}, Acquisition(), check, None, time.perf_counter() - start
        )
    expected = (unit.spec.expected_hash or "").lower() or None
    media: dict[str, str] = {}
    if image_kind(path) == "raw":
        media = {"sha256": files.sha256}
        if acq.hashes or (expected and len(expected) != 64):
            with path.open("rb") as fh:
                media = hash_media(fh, files.size, ("md5", "sha1", "sha256"))
    elif acq.hashes or expected:
        # only the algorithms there is something to compare with: each one costs a pass of CPU over the disk
        want = {
            *acq.hashes,
            *([{32: "md5", 40: "sha1", 64: "sha256"}.get(len(expected), "sha256")] if expected else []),
        }
        try:
            with OpenImage(path) as img:
                disk = img.target.disks[0]
                media = hash_media(disk, img.size, tuple(a for a in ("md5", "sha1", "sha256") if a in want))
        except ImageError as exc:  # damaged media: its files are still read, each with its bad ranges
            check = Verification("unreadable", f"the media cannot be read whole to check its hash: {exc}")
            return ImageDigest(
                unit.unit_id, unit.spec.path, files, {}, acq, check, None, time.perf_counter() - start
            )
    if expected and expected == files.sha256:
        check = Verification("verified", f"sha256 {expected} (manifest, image file)")
    else:
        check = verify(acq, media, expected)
    return ImageDigest(
        unit.unit_id, unit.spec.path, files, media, acq, check, None, time.perf_counter() - start
    )


def run_parse(unit: ParseUnit) -> ParseOutcome:
    """Parse the unit's files: scratch copies when the listing left them, else copied out again."""
    start = time.perf_counter()
    scratch = Path(unit.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    inputs: list[InputFile] = []
    parsers: list[str] = []
    failed: list[tuple[FileItem, str]] = []
    img: OpenImage | None = None
    decided = dict(unit.decided)
    try:
        for item in unit.files:
            assert item.sha256 is not None and item.parser is not None
            local = scratch / scratch_name(item.sha256)
            if not (local.is_file() and local.stat().st_size == item.size):
                try:
                    if img is None:
                        img = OpenImage(Path(unit.spec.path))
                    _copy_again(img, item, local)
                except ImageError as exc:
                    failed.append((item, str(exc)))
                    continue
            with local.open("rb") as fh:
                head = fh.read(65536)
            src = InputFile(
                path=unit.spec.path, member=item.member, local=local, size=item.size, sha256=item.sha256,
                md5=item.md5 or "", head=head, mtime=item.mtime, host_hint=unit.host_hint, tz_hint=unit.tz_hint,
            )  # fmt: skip
            if item.sha256 in decided:
                src = decided[item.sha256].hints(src)  # a replay: parsed as it was the first time
            inputs.append(src)
            parsers.append(item.parser)
    finally:
        if img is not None:
            img.close()
    task = Task(
        unit.unit_id.split("-", 1)[1], list(zip(inputs, parsers, strict=True)), unit.ctx, Path(unit.staging)
    )
    result = run_task(task)
    return ParseOutcome(
        unit.unit_id,
        unit.spec.path,
        result,
        tuple(inputs),
        tuple(parsers),
        tuple(failed),
        time.perf_counter() - start,
    )


def _copy_again(img: OpenImage, item: FileItem, local: Path) -> None:
    """Copy a listed file out of the image again and check it still hashes the same."""
    from forensics.images.members import materialise_member

    tmp = local.with_name(f".{os.getpid()}-{local.name}.part")
    from forensics.raw import sha256_file

    materialise_member(img, item.member, tmp)
    got = sha256_file(tmp)
    if got != item.sha256:
        tmp.unlink(missing_ok=True)
        raise ImageError(f"{item.member} now reads as {got[:16]}…, listed as {str(item.sha256)[:16]}…")
    os.replace(tmp, local)


_RUNNERS = {ListUnit: run_list, HashUnit: run_hash, ParseUnit: run_parse}
