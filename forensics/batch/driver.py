"""Run a batch: images → units in a process pool → results committed into one case, resumably.

The driver alone opens the case. Workers get units (``forensics.batch.units``) and return
results; each result is committed in one DuckDB transaction (parts moved in, ``inputs`` /
``rejects`` / image rows inserted), so a batch killed at any point — kill -9 included —
leaves a readable case, and running it again skips what was committed, drops what was only
staged, and finishes with the rows an uninterrupted run gives:

- which image parses a file found in several (the same SHA-256) is decided in batch order,
  from the listings, never by which worker finished first;
- an image's yearless logs are parsed after its dated ones, with the year those state;
- unit ids, and so part names, are derived from the image and its members.

One bad image (unreadable, no file system, a worker crash on it) is recorded as ``failed``
with the reason and never stops the others.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from forensics.batch import state
from forensics.batch.units import (
    FileItem,
    HashUnit,
    ImageDigest,
    ImageSpec,
    Listing,
    ListUnit,
    Outcome,
    ParseOutcome,
    ParseUnit,
    ScanOptions,
    Unit,
    run_unit,
    unit_id,
)
from forensics.custody import record_tool_step
from forensics.images.detect import image_kind
from forensics.ingest.base import InputFile, ParseContext
from forensics.ingest.context import HostFrom, InputContext, TzFrom, YearFrom
from forensics.ingest.notlog import NOT_A_LOG, NOT_LOG
from forensics.ingest.runner import (
    GROUP_BYTES,
    GROUP_FILES,
    YEARLESS,
    IngestSummary,
    _commit,
    _input_row,
    _note_problem,
)
from forensics.ingest.walk import Candidate
from forensics.store import Case

WORKER_MEMORY = 1536 * 1024**2  # budget per worker process: dissect caches + one commit group's rows
ProblemHook = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class BatchProgress:
    """Where a batch is: images done of total, image bytes done, seconds since start."""

    images_done: int
    images_total: int
    bytes_done: int
    bytes_total: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Image bytes per second so far."""
        return self.bytes_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the rate so far (None before the first image is done)."""
        if not self.bytes_done or not self.rate:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) / self.rate)


@dataclass(frozen=True)
class ImageSummary:
    """One line of the batch summary."""

    path: str
    host: str | None
    bytes: int
    files: int
    rows: int
    rejects: int
    status: str
    seconds: float
    verification: str | None
    deleted_files: int
    damaged_files: int
    error: str | None


@dataclass
class BatchSummary:
    """What the batch holds when it ends (every image of it, this run's and earlier runs')."""

    case: str
    images: list[ImageSummary] = field(default_factory=list)
    ingest: IngestSummary | None = None
    seconds: float = 0.0
    waited: float = 0.0  # of which the driver waited for the images' units (workers or executors)

    @property
    def clean(self) -> bool:
        """True when every image is done and no input had a problem."""
        ok = all(i.status == "done" for i in self.images)
        return ok and (self.ingest is None or self.ingest.clean)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "case": self.case,
            "seconds": round(self.seconds, 3),
            "images": [i.__dict__ for i in self.images],
            "totals": {
                "images": len(self.images),
                "done": sum(i.status == "done" for i in self.images),
                "failed": sum(i.status == "failed" for i in self.images),
                "bytes": sum(i.bytes for i in self.images),
                "files": sum(i.files for i in self.images),
                "rows": sum(i.rows for i in self.images),
                "rejects": sum(i.rejects for i in self.images),
            },
            "problems": self.ingest.problems if self.ingest else [],
            "clean": self.clean,
        }


def default_workers() -> int:
    """Worker processes: one per core, fewer when memory would not hold them."""
    cores = os.cpu_count() or 1
    avail = psutil.virtual_memory().available
    return max(1, min(cores, avail // WORKER_MEMORY))


@dataclass
class _Image:
    """The driver's view of one image while the batch runs."""

    spec: ImageSpec
    position: int
    size: int
    listing: Listing | None = None
    listed: bool = False
    hashed: bool = False
    triaged: bool = False
    outstanding: int = 0  # parse units submitted and not yet committed
    yearless: list[FileItem] = field(default_factory=list)
    failed: str | None = None
    finished: bool = False


class _Runner:
    """Submit units to processes (or run them inline for one worker) and hand back results.

    With an executor handed in (Spark's: ``forensics.spark.batch``) units go there instead, up
    to ``in_flight`` at once; a unit that fails there comes back as its exception.
    """

    def __init__(self, workers: int, executor: Executor | None = None, in_flight: int | None = None) -> None:
        self.n = workers
        self.external = executor
        self.pool: Executor | None = executor
        self.in_flight = in_flight or 2 * workers
        self.queue: deque[Unit] = deque()
        self.running: dict[Future[Outcome], Unit] = {}
        self.retried: set[str] = set()
        self.waited = 0.0  # seconds the driver spent waiting for units (the rest is its own work)

    def _pool(self) -> Executor:
        if self.pool is None:
            ctx = multiprocessing.get_context("forkserver")  # not fork: DuckDB threads live in the driver
            ctx.set_forkserver_preload(["forensics.batch.units", "forensics.images.warm"])
            self.pool = ProcessPoolExecutor(max_workers=self.n, mp_context=ctx)
        return self.pool

    def add(self, unit: Unit) -> None:
        self.queue.append(unit)

    def next_results(self) -> list[tuple[Unit, Outcome | BaseException]]:
        """Results of finished units; empty when nothing is left to run."""
        if self.n <= 1 and self.external is None:
            if not self.queue:
                return []
            unit = self.queue.popleft()
            return [(unit, run_unit(unit))]
        while self.queue and len(self.running) < self.in_flight:
            unit = self.queue.popleft()
            try:
                self.running[self._pool().submit(run_unit, unit)] = unit
            except BrokenProcessPool:
                self._restart()
                self.queue.appendleft(unit)
        if not self.running:
            return []
        start = time.perf_counter()
        done, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
        self.waited += time.perf_counter() - start
        out: list[tuple[Unit, Outcome | BaseException]] = []
        broken = False
        for fut in sorted(done, key=lambda f: self.running[f].unit_id):
            unit = self.running.pop(fut)
            exc = fut.exception()
            if isinstance(exc, BrokenProcessPool) and unit.unit_id not in self.retried:
                self.retried.add(unit.unit_id)  # a worker died (killed, out of memory): try once more
                self.queue.append(unit)
                broken = True
            else:
                out.append((unit, exc if exc is not None else fut.result()))
        if broken:
            self._restart()
        return out

    def _restart(self) -> None:
        if self.pool is not None and self.external is None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
        for fut, unit in list(self.running.items()):
            self.queue.append(unit)
            del self.running[fut]

    def close(self) -> None:
        if self.pool is not None and self.external is None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = None


class _Batch:
    def __init__(
        self, case: Case, specs: list[ImageSpec], ctx: ParseContext, scan: ScanOptions, workers: int,
        progress: Callable[[BatchProgress], None] | None, on_problem: ProblemHook | None,
        recorded: Mapping[str, InputContext], executor: Executor | None = None,
    ) -> None:  # fmt: skip
        self.case, self.ctx, self.scan = case, ctx, scan
        self.recorded = recorded  # a replay: file SHA-256 -> the context it was first parsed with
        self.progress, self.on_problem = progress, on_problem
        self.summary = IngestSummary(str(case.root))
        # units out at once: two per worker keep a pool busy; an executor's results come back a
        # job at a time, so it gets four per slot to keep its slots busy while the driver commits
        self.runner = _Runner(workers, executor, 4 * workers if executor is not None else None)
        self.scratch = case.staging_dir / "images"
        self.staging = case.staging_dir / "parts"
        self.start = time.perf_counter()
        known = state.states(case)
        self.images = [_Image(s, i, _file_size(Path(s.path))) for i, s in enumerate(specs)]
        self.by_path = {im.spec.path: im for im in self.images}
        self.done_keys: set[tuple[str | None, str, str | None]] = set(case.done_keys())
        self.claimed = case.done_shas()
        self.refusals = case.refusals()  # (path, member, reason) of files recorded without bytes
        self.pointer = 0  # next image, in batch order, whose files are still to be assigned
        self.hashed: dict[str, str] = {}  # what this run hashed, for the custody log
        for im in self.images:
            row = known.get(im.spec.path, {})
            if row.get("status") == "done":
                im.listed = im.hashed = im.triaged = im.finished = True
                continue
            if row.get("status") == "failed":
                # a failed image is tried again from the start: the cause may have been fixed
                pass
            elif row.get("listed_at") is not None:
                im.listed = True
                im.listing = Listing(
                    "", im.spec.path, row.get("kind"), int(row.get("media_size") or 0), (), _context(row),
                    state.load_files(case, im.spec.path),
                )  # fmt: skip
            if row.get("hashed_at") is not None and row.get("status") != "failed":
                im.hashed = True
            if not im.listed:
                self.runner.add(ListUnit(unit_id("list", im.spec.path), im.spec, scan, str(self.scratch)))
            if not im.hashed:
                self.runner.add(HashUnit(unit_id("hash", im.spec.path), im.spec))

    # ---- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        self._advance()
        while True:
            results = self.runner.next_results()
            if not results:
                break
            for unit, got in results:
                self._handle(unit, got)
            self._advance()
        for im in self.images:  # anything left unfinished (a unit that failed twice) is reported
            if not im.finished:
                self._finish(im, im.failed or "the batch ended before this image was complete")

    def _handle(self, unit: Unit, got: Outcome | BaseException) -> None:
        im = self.by_path[unit.spec.path]
        if isinstance(got, BaseException):
            why = f"{type(unit).__name__} crashed: {got!r}"
            if isinstance(unit, ParseUnit):
                # the unit failed, not a parser (those failures are the inputs' own status): its
                # worker or executor died. Its files stay unrecorded and the image failed, so a
                # re-run lists the image again and parses exactly those files
                im.failed = im.failed or (
                    f"{why}; its {len(unit.files)} file(s) are not in the case: run the batch again to parse them"
                )
                im.outstanding -= 1
            else:
                im.failed = why
                if isinstance(unit, ListUnit):
                    im.listed = True
                else:
                    im.hashed = True
            self._maybe_finish(im)
            return
        if isinstance(got, Listing):
            state.commit_listing(self.case, got, im.spec.host_hint, im.spec.tz_hint)
            im.listing, im.listed = got, True
            if got.error:
                im.failed = got.error
        elif isinstance(got, ImageDigest):
            state.commit_digest(self.case, got)
            if got.files is not None:
                self.hashed[im.spec.path] = got.files.sha256
            im.hashed = True
            if got.error:
                im.failed = got.error
        elif isinstance(got, ParseOutcome):
            assert isinstance(unit, ParseUnit)
            self._commit_parse(im, got, unit.ctx)
        self._maybe_finish(im)

    def _advance(self) -> None:
        """Assign files to images in batch order, as far as the listings allow."""
        while self.pointer < len(self.images):
            im = self.images[self.pointer]
            if not im.listed:
                return
            if not im.triaged and im.failed is None:
                self._triage(im)
            im.triaged = True
            self._maybe_finish(im)
            self.pointer += 1

    # ---- per image ---------------------------------------------------------------------------
    def _triage(self, im: _Image) -> None:
        assert im.listing is not None
        dated: list[FileItem] = []
        records: list[tuple[FileItem, str, str | None]] = []
        for item in sorted(im.listing.files, key=lambda f: f.member):
            key = (item.sha256, im.spec.path, item.member)
            if key in self.done_keys:
                self.summary.files_skipped += 1
                continue
            if item.parser is None or item.sha256 is None:
                if item.sha256 is None and (im.spec.path, item.member, item.note) in self.refusals:
                    # an image listed again (it failed before): its unread files are recorded once
                    self.summary.files_skipped += 1
                    continue
                records.append((item, _unparsed_status(item), item.note))
                continue
            if item.sha256 in self.claimed:
                why = "same SHA-256 as an input already in the case: not parsed again"
                records.append((item, "duplicate", why))
                continue
            self.claimed.add(item.sha256)
            (im.yearless if item.parser in YEARLESS else dated).append(item)
        self._record(records, im)
        self._submit(im, dated, self.ctx)
        if not dated:
            self._submit_yearless(im)

    def _submit(self, im: _Image, items: list[FileItem], ctx: ParseContext) -> None:
        host, tz = self._hints(im)
        for group in _groups(items):
            uid = unit_id("parse", im.spec.path, *(f.member for f in group))
            decided = tuple(
                (f.sha256, self.recorded[f.sha256]) for f in group if f.sha256 and f.sha256 in self.recorded
            )
            self.runner.add(
                ParseUnit(
                    uid, im.spec, tuple(group), ctx, host, tz, str(self.scratch), str(self.staging), decided
                )
            )
            im.outstanding += 1

    def _submit_yearless(self, im: _Image) -> None:
        items, im.yearless = im.yearless, []
        if not items:
            return
        year: int | None
        if self.ctx.reference_year is not None:
            year, source = self.ctx.reference_year, "--year"
        else:
            year = self._stated_year(im)
            source = (
                "latest time stated by this image's other logs" if year is not None
                else "none stated by the image's other logs: each file's modification time in the image"
            )  # fmt: skip
        state.set_year(self.case, im.spec.path, year, source)
        ctx = ParseContext(self.ctx.tz, self.ctx.host, year, self.ctx.options)
        self._submit(im, items, ctx)

    def _stated_year(self, im: _Image) -> int | None:
        """Year of the latest time this image's committed rows state (never inferred, never future)."""
        files = [
            r[0]
            for r in self.case.con.execute(
                "SELECT p.path FROM parts p JOIN (SELECT DISTINCT batch FROM inputs WHERE path = ? "
                "AND batch IS NOT NULL) b USING (batch) ORDER BY p.path",
                [im.spec.path],
            ).fetchall()
        ]
        if not files:
            return None
        rows = self.case.con.execute(
            "SELECT year(max(ts AT TIME ZONE 'UTC')) FROM read_parquet(?, union_by_name = true) "
            "WHERE input_path = ? AND ts IS NOT NULL AND ts <= now()"
            + (" AND NOT coalesce(ts_year_inferred, false)" if self._has_year_column(files) else ""),
            [files, im.spec.path],
        ).fetchall()
        return int(rows[0][0]) if rows and rows[0][0] else None

    def _has_year_column(self, files: list[str]) -> bool:
        cols = self.case.con.execute(
            "SELECT name FROM parquet_schema(?) WHERE name = 'ts_year_inferred' LIMIT 1", [files]
        ).fetchall()
        return bool(cols)

    def _hints(self, im: _Image) -> tuple[str | None, str | None]:
        """Host and zone for the image's records that state neither: the image's own, else the manifest's."""
        ctx = im.listing.context if im.listing else None
        host = ctx.host.value if ctx and ctx.host else im.spec.host_hint
        tz = ctx.tz.value if ctx and ctx.tz else im.spec.tz_hint
        return host, tz

    def _context(self, im: _Image, src: InputFile, used: ParseContext) -> InputContext:
        """What ``src`` was parsed with, for ``inputs.context`` (the images table says where each came from)."""
        if src.decided is not None:  # a replay: parsed with the recorded context, recorded again as it was
            return src.decided
        ctx = im.listing.context if im.listing else None
        tz_from: TzFrom = "--tz" if self.ctx.tz else "default UTC"
        if not self.ctx.tz and src.tz_hint:
            tz_from = "image" if ctx and ctx.tz else "manifest"
        year_from: YearFrom = (
            "--year" if self.ctx.reference_year else "image's logs" if used.reference_year else "none"
        )
        host_from: HostFrom = (
            "--host" if self.ctx.host else "none" if not src.host_hint
            else "image" if ctx and ctx.host else "manifest"
        )  # fmt: skip
        return InputContext(
            self.ctx.tz or src.tz_hint, tz_from, used.reference_year, year_from, self.ctx.host or src.host_hint,
            host_from, src.mtime,
        )  # fmt: skip

    def _commit_parse(self, im: _Image, got: ParseOutcome, unit_ctx: ParseContext) -> None:
        by_member = {f.member: f for f in im.listing.files} if im.listing else {}
        group = []
        for src, parser in zip(got.inputs, got.parsers, strict=True):
            item = by_member.get(src.member or "")
            cand = Candidate(
                im.spec.path, src.member, src.local, src.size, src.sha256, src.md5, b"",
                item.mtime if item else None, False, extracted=True,
            )  # fmt: skip
            group.append((src, parser, cand))
            self.done_keys.add((src.sha256, im.spec.path, src.member))
            self.hashed[f"{im.spec.path}!/{src.member}"] = src.sha256
        contexts = [self._context(im, src, unit_ctx).to_json() for src, _, _ in group]
        _commit(self.case, got.result, group, self.summary, self.on_problem, contexts)
        self._record([(f, "unreadable", why) for f, why in got.failed], im)
        state.add_seconds(self.case, im.spec.path, got.seconds)
        im.outstanding -= 1
        if im.outstanding == 0 and im.yearless and im.failed is None:
            # (a failed image's yearless logs wait for the re-run: their year needs every dated log)
            self._submit_yearless(im)

    def _record(self, items: list[tuple[FileItem, str, str | None]], im: _Image) -> None:
        rows = []
        for item, status, why in items:
            cand = Candidate(
                im.spec.path, item.member, None, item.size, item.sha256, item.md5, b"", item.mtime, False
            )
            rows.append(_input_row(cand, status, why, item.parser))
            self.done_keys.add((item.sha256, im.spec.path, item.member))
            if item.sha256:
                self.hashed[f"{im.spec.path}!/{item.member}"] = item.sha256
        if rows:
            self.case.record_inputs(rows)
            for row in rows:  # counted as ingest counts a loose file: problems, not-logs
                _note_problem(self.summary, row, self.on_problem)

    def _maybe_finish(self, im: _Image) -> None:
        if im.finished or not (im.listed and im.hashed and im.triaged) or im.outstanding:
            return
        if im.failed is None and im.yearless:
            return
        self._finish(im, im.failed)

    def _finish(self, im: _Image, failed: str | None) -> None:
        state.finish(self.case, im.spec.path, failed)
        im.finished = True
        if failed and self.on_problem:
            self.on_problem({"path": im.spec.path, "member": None, "status": "failed", "error": failed})
        if failed:
            self.summary.problems.append(
                {"path": im.spec.path, "member": None, "status": "image failed", "error": failed}
            )
        if self.progress:
            done = [i for i in self.images if i.finished]
            self.progress(
                BatchProgress(
                    len(done),
                    len(self.images),
                    sum(i.size for i in done),
                    sum(i.size for i in self.images),
                    time.perf_counter() - self.start,
                )
            )


def _unparsed_status(item: FileItem) -> str:
    note = item.note or ""
    if note.startswith(NOT_A_LOG):
        return NOT_LOG
    if note.startswith("zero-byte"):
        return "empty"
    if note.startswith("unreadable"):
        return "unreadable"
    if "refused" in note or "bomb" in note or "limit" in note:
        return "refused"
    return "unknown"


def _groups(items: list[FileItem]) -> list[list[FileItem]]:
    """Commit groups by size and count, in member order (the same files make the same groups)."""
    groups: list[list[FileItem]] = []
    size = 0
    for item in items:
        if not groups or size >= GROUP_BYTES or len(groups[-1]) >= GROUP_FILES:
            groups.append([])
            size = 0
        groups[-1].append(item)
        size += item.size
    return groups


def _file_size(path: Path) -> int:
    from forensics.images.reader import image_segments

    try:
        return sum(p.stat().st_size for p in image_segments(path))
    except OSError:
        return 0


def _context(row: dict[str, Any]) -> Any:
    from forensics.images.context import ImageContext, Stated

    host = Stated(row["host"], row["host_source"]) if row.get("host") and row.get("host_source") else None
    tz = Stated(row["tz"], row["tz_source"]) if row.get("tz") and row.get("tz_source") else None
    return ImageContext(host, tz)


def run_batch(
    case_dir: Path,
    specs: list[ImageSpec],
    ctx: ParseContext | None = None,
    *,
    scan: ScanOptions | None = None,
    workers: int | None = None,
    progress: Callable[[BatchProgress], None] | None = None,
    on_problem: ProblemHook | None = None,
    recorded: Mapping[str, InputContext] | None = None,
    executor: Executor | None = None,
) -> BatchSummary:
    """Ingest every image of ``specs`` into the case at ``case_dir``; resumes an earlier run of it.

    ``recorded`` (file SHA-256 → context) makes a replay, as for ``ingest_paths``: a file with a
    recorded context is parsed with it (zone, year, host, modification time) instead of what the
    image and the batch decide now. ``executor`` runs the units (and the collections' parse
    tasks) instead of local processes — Spark's for ``--engine spark`` — with ``workers`` its
    width; the plan, the commits and the custody entries stay here, the same either way.
    """
    from forensics.batch.collections import ingest_collections

    start = time.perf_counter()
    ctx = ctx or ParseContext()
    is_image = {s.path: image_kind(Path(s.path)) is not None for s in specs}
    images = [s for s in specs if is_image[s.path]]
    collections = [s for s in specs if not is_image[s.path]]  # collections and the rest: read by the walker
    case = Case.open(case_dir, create=True)
    try:
        case.remove_orphans()  # parts and copies a killed run staged but never committed
        state.ensure_tables(case)
        state.register(case, specs)
        batch = _Batch(
            case,
            images,
            ctx,
            scan or ScanOptions(),
            workers or default_workers(),
            progress,
            on_problem,
            recorded or {},
            executor,
        )
        try:
            batch.run()
        finally:
            batch.runner.close()
        case.refresh_views()
        if batch.hashed:
            record_tool_step(
                case_dir,
                "hashed",
                command=sys.argv,
                purpose="batch",
                item_hashes=dict(sorted(batch.hashed.items())),
            )
    finally:
        case.remove_orphans()
        case.close()
    if collections:

        def counted(n: int) -> None:
            if progress is not None:
                done = len(images) + n
                progress(BatchProgress(done, len(specs), 0, 0, time.perf_counter() - start))

        ingest_collections(
            case_dir,
            collections,
            ctx,
            batch.summary,
            workers=workers,
            on_problem=on_problem,
            progress=counted,
            executor=executor,
        )
    with Case.open(case_dir, read_only=True) as case:
        summary = BatchSummary(str(case_dir), image_summaries(case, [s.path for s in specs]), batch.summary)
    summary.seconds = time.perf_counter() - start
    summary.waited = batch.runner.waited
    return summary


def image_summaries(case: Case, paths: list[str]) -> list[ImageSummary]:
    """Summary lines for ``paths``, from the case's ``images`` table, in batch order."""
    rows = state.states(case)
    out = []
    for p in paths:
        r = rows.get(p, {})
        out.append(
            ImageSummary(
                p,
                r.get("host"),
                int(r.get("file_size") or 0),
                int(r.get("files") or 0),
                int(r.get("rows") or 0),
                int(r.get("rejects") or 0),
                r.get("status") or "missing",
                round(float(r.get("seconds") or 0), 3),
                r.get("verification"),
                int(r.get("deleted_files") or 0),
                int(r.get("damaged_files") or 0),
                r.get("error"),
            )
        )
    return out
