"""Ingest: inputs → hashed, sniffed candidates → parsed in parallel → committed batches.

Inputs are opened read-only and hashed before parsing. An input whose (sha256, path, member)
is already recorded is skipped; the same bytes under another path are recorded as a
``duplicate`` without parsing again. Each group of inputs commits atomically (see
``forensics.store``), so a killed run leaves the case readable and a re-run finishes it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import multiprocessing
import os
import re
import sys
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forensics import __version__
from forensics.archives import DEFAULT_LIMITS, Limits
from forensics.custody import item_label, read_chain, record_tool_step, without_custody
from forensics.gcpause import gc_paused
from forensics.ingest import evtx_fast
from forensics.ingest.base import InputFile, ParseContext, Parser
from forensics.ingest.context import InputContext, decide
from forensics.ingest.mapped import MappedParser
from forensics.ingest.notlog import INDICATORS, NOT_LOG, judge
from forensics.ingest.registry import BY_NAME, sniff
from forensics.ingest.text import detect as detect_encoding
from forensics.ingest.text import sniffable
from forensics.ingest.utf16 import is_utf16
from forensics.ingest.walk import Candidate, remove_scratch, walk
from forensics.ingest.worker import Task, TaskResult, run_task, warm_up
from forensics.store import Case
from forensics.timeutil import now_utc

GROUP_BYTES = 32 * 1024**2  # inputs per commit group, by size
GROUP_FILES = 512
# The first two groups hold GROUP_BYTES / GROUP_FILES, so two workers start early; then every two
# groups grow by as much again, up to GROUP_GROWTH times (never by the machine's worker count: the
# same inputs make the same groups everywhere). A group writes one part per channel, and each part
# costs the Parquet writer, and every later scan of the case, a fixed cost per column (EVTX parts
# are wide): 10x EVTX-ATTACK-SAMPLES, 160 parts -> 89, ingest -0.35 s CPU, a hunt -0.4 s.
GROUP_GROWTH = 4
YEARLESS = frozenset({"syslog"})  # parsers whose records may lack a year
BINARY_FORMATS = frozenset({"evtx"})  # no text encoding to record
INDICATOR_REASON = (
    "an IOC list or YARA rule file the hunt reads as indicators (--iocs/--yara, or the evidence's iocs/ "
    "folder): hashed and recorded, not ingested as evidence nor scanned by YARA"
)
Item = tuple[InputFile, str, Candidate]  # an input to parse: the file, its parser's name, its candidate
# every status but ok and duplicate needs the analyst's eye: printed, listed, attention exit code
PROBLEM_STATUSES = (
    "rejects", "failed", "empty", "unreadable", "refused", "unrecognised", "unknown", "skipped", "undecoded",
    "truncated", "damaged",
)  # fmt: skip


@dataclass
class IngestSummary:
    """What one ingest run did."""

    case: str
    files_seen: int = 0
    files_parsed: int = 0
    files_skipped: int = 0  # already in the case
    rows: int = 0
    rejects: int = 0
    bytes_parsed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_parser: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)  # non-ok inputs: path, member, status, error
    # inputs judged plainly not logs (and indicator files the hunt reads): path, member, status, error
    not_logs: list[dict[str, Any]] = field(default_factory=list)
    orphans_removed: int = 0

    def absorb(self, other: IngestSummary, *, files_seen: int | None = None) -> None:
        """Add another run's counts and problems to these (``files_seen``: count the inputs so,
        e.g. an image as one file rather than the files read inside it)."""
        self.files_seen += other.files_seen if files_seen is None else files_seen
        self.files_parsed += other.files_parsed
        self.files_skipped += other.files_skipped
        self.rows += other.rows
        self.rejects += other.rejects
        self.bytes_parsed += other.bytes_parsed
        for k, v in other.by_status.items():
            self.by_status[k] = self.by_status.get(k, 0) + v
        for k, v in other.by_parser.items():
            self.by_parser[k] = self.by_parser.get(k, 0) + v
        self.problems.extend(other.problems)
        self.not_logs.extend(other.not_logs)

    @property
    def clean(self) -> bool:
        """True when nothing was rejected, failed, refused or empty."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "case": self.case,
            "files_seen": self.files_seen,
            "files_parsed": self.files_parsed,
            "files_skipped": self.files_skipped,
            "rows": self.rows,
            "rejects": self.rejects,
            "bytes_parsed": self.bytes_parsed,
            "by_status": dict(sorted(self.by_status.items())),
            "by_parser": dict(sorted(self.by_parser.items())),
            "problems": self.problems,
            "not_logs": self.not_logs,
            "clean": self.clean,
        }


Progress = Callable[[int, int], None]  # (bytes done, bytes total)


def ingest_paths(
    case_dir: Path,
    paths: Iterable[Path],
    ctx: ParseContext | None = None,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    on_problem: Callable[[dict[str, Any]], None] | None = None,
    fmt: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    recorded: Mapping[str, InputContext] | None = None,
    indicators: Iterable[Path] = (),
    executor: Executor | None = None,
) -> IngestSummary:
    """Ingest files, folders and archives into the case at ``case_dir`` (created if needed).

    ``fmt`` names a parser (``forensics.ingest.registry.BY_NAME``) to read every input with,
    instead of recognising each by its content. ``limits`` bound how far archives expand.
    ``recorded`` (input SHA-256 → context) makes a replay: those inputs are parsed with the
    zone, year, host and modification time recorded when they were first ingested. Disk images
    named in ``paths`` go through the batch driver (``forensics.batch``): a file in them with a
    recorded context is parsed with it too, others with what the image states.
    ``executor`` parses every commit group (``worker.run_task``) instead of this machine's
    threads and processes: ``forensics batch --engine spark`` hands in Spark's
    (``forensics.spark.batch``); walking, hashing and committing stay here.
    """
    if fmt is not None and fmt not in BY_NAME:
        raise ValueError(f"unknown format {fmt!r}; one of: {', '.join(sorted(BY_NAME))}")
    plain, images = _split_images([Path(p) for p in paths])
    # the EVTX threads hold many short-lived record dicts: cyclic GC passes over them find
    # nothing and cost ~5% of the run, so it waits until the end
    with gc_paused():
        summary = _ingest(
            case_dir, plain, ctx or ParseContext(), workers, progress, on_problem, fmt, limits, recorded or {},
            images, list(indicators), executor,
        )  # fmt: skip
    if images:  # disk images, named or met in folders, go through the batch driver, one unit each
        from forensics.batch.driver import run_batch
        from forensics.batch.units import ImageSpec

        done = run_batch(
            case_dir, [ImageSpec(str(p)) for p in images], ctx, workers=workers, on_problem=on_problem,
            recorded=recorded,
        )  # fmt: skip
        if done.ingest is not None:
            summary.absorb(done.ingest, files_seen=len(images))
    return summary


def _split_images(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(paths for the walker, disk images named explicitly)."""
    from forensics.images.detect import image_kind

    images = [p for p in paths if p.is_file() and image_kind(p) is not None]
    return [p for p in paths if p not in images], images


def _ingest(
    case_dir: Path,
    paths: list[Path],
    ctx: ParseContext,
    workers: int | None,
    progress: Progress | None,
    on_problem: Callable[[dict[str, Any]], None] | None,
    fmt: str | None,
    limits: Limits,
    replay: Mapping[str, InputContext],
    found_images: list[Path],
    indicators: list[Path],
    executor: Executor | None = None,
) -> IngestSummary:
    """Walk and parse ``paths``; disk images met in folders are added to ``found_images``."""
    given = ctx  # the user's context; each input's row records what it was parsed with
    case = Case.open(case_dir, create=True)
    summary = IngestSummary(str(case_dir))
    pool = _Pool(workers, executor)  # processes, started when there is more than one group to parse
    # EVTX goes to threads as the walk finds it: the flattener, Arrow, Parquet and the walk's
    # hashing release the GIL, and threads cost no start-up (only the evtx iteration holds it);
    # with an executor handed in, EVTX goes there like everything else
    threads = (
        ThreadPoolExecutor(max_workers=pool.n, thread_name_prefix="evtx")
        if evtx_fast.available() and executor is None
        else None
    )
    if threads is None and _looks_big(paths):
        pool.start()  # early: the workers' start-up overlaps the walk over the inputs
    evtx = _Committer(case, ctx, summary, progress, on_problem, lambda _only: threads, pool.n)
    # everything else with a year in its records goes to the process pool as the walk finds it,
    # so an archive's members are parsed (and their staged copies deleted) as they come
    dated = _Committer(
        case, ctx, summary, progress, on_problem,
        lambda only: None if only and pool.pool is None else pool.start(), pool.n, None, given,
    )  # fmt: skip
    try:
        summary.orphans_removed = case.remove_orphans()
        known = _Known.of(case, BY_NAME[fmt] if fmt else None)
        scratch = case.staging_dir / "extract"
        pending: list[Item] = []
        yearless: list[Item] = []
        recorded: list[dict[str, Any]] = []
        mapped = MappedParser.for_context(ctx)  # with --mapping, files that fit it go to the mapping first
        zones = ArchiveZones()
        trees: TreeMemo = {}
        extracted: set[Path] = set()  # folders in the case holding disk images copied out of archives
        for cand in walk(paths, scratch, limits, aside=indicators):
            if cand.image:  # a disk image in a folder: read after the walk, as when named
                found_images.append(Path(cand.path))
                continue
            summary.files_seen += 1
            zones.note(cand)  # before triage, which lets the staged copy go
            if _image_part(cand):  # a disk image (or its segment) inside an archive: read as an image
                row = _extract_image(case, cand, known, summary, extracted)
                if row is not None:
                    recorded.append(row)
                continue
            row = _triage(cand, known, summary, pending, mapped, replay, zones, trees)
            if row is not None:
                recorded.append(row)
                continue
            if not pending:
                continue
            item = pending.pop()
            if threads is not None and item[1] == "evtx":
                evtx.add(item)  # parsed in a thread while the walk goes on hashing
            elif item[1] in YEARLESS:
                yearless.append(_deferred(item))
            else:
                dated.add(item)
        evtx.finish()
        dated.finish()
        _record_plain(case, recorded, summary, on_problem)
        found_images.extend(_extracted_images(extracted))
        # an archive's zone file may come after its logs: the yearless ones take it now
        yearless = [_archive_zone(item, zones) for item in yearless]
        # formats without a year go last, so the year can come from the rest of the collection
        if yearless and ctx.reference_year is None:
            case.refresh_views()
            ctx = replace(ctx, reference_year=collection_year(case))
        _parse_all(case, yearless, given, ctx, summary, pool, progress, on_problem)
        case.refresh_views()
        this_run = {item_label(s.path, s.member) for s, _, _ in [*evtx.inputs, *dated.inputs, *yearless]}
        this_run.update(item_label(r["path"], r["member"]) for r in recorded)
        _custody(case, this_run)
    finally:
        if threads is not None:
            threads.shutdown(wait=True, cancel_futures=True)
        pool.close()
        case.remove_orphans()
        case.close()
    return summary


class _Committer:
    """Inputs into commit groups, each run as a task once it fills, results committed in order.

    ``executor(only)`` says where a group's task runs, None meaning inline; ``only`` is true
    for a group that is the first and the last, which need not start a process pool. At most
    two tasks per worker are out at once: bounded memory and staging space.
    """

    def __init__(
        self, case: Case, ctx: ParseContext, summary: IngestSummary, progress: Progress | None,
        on_problem: Any, executor: Callable[[bool], Executor | None], width: int, total: int | None = None,
        given: ParseContext | None = None,
    ) -> None:  # fmt: skip
        self.case, self.ctx, self.summary = case, ctx, summary
        self.given = given or ctx  # the user's context (``ctx`` may add the collection year)
        self.progress, self.on_problem = progress, on_problem
        self.executor, self.width, self.total = executor, max(1, width), total
        self.inputs: list[Item] = []  # everything added, for the custody log
        self.group: list[Item] = []
        self.size = 0
        self.queue: deque[tuple[Future[TaskResult], list[Item]]] = deque()
        self.submitted = 0
        self.done_bytes = 0

    def add(self, item: Item) -> None:
        self.inputs.append(item)
        self.group.append(item)
        self.size += item[0].size
        scale = min(GROUP_GROWTH, 1 + self.submitted // 2)
        if self.size >= GROUP_BYTES * scale or len(self.group) >= GROUP_FILES * scale:
            self._submit(only=False)

    def finish(self) -> None:
        """Run what is left and commit everything."""
        if self.group:
            self._submit(only=self.submitted == 0)
        self._drain(0)

    def _submit(self, only: bool) -> None:
        group, self.group, self.size = self.group, [], 0
        task = Task(
            _batch_id(group), [(s, p) for s, p, _ in group], self.ctx, self.case.staging_dir / "parts"
        )
        executor = self.executor(only)
        if executor is None:
            fut: Future[TaskResult] = Future()
            fut.set_result(run_task(task))
        else:
            fut = executor.submit(run_task, task)
        self.queue.append((fut, group))
        self.submitted += 1
        self._drain(2 * self.width)

    def _drain(self, limit: int) -> None:
        """Commit finished tasks at the head of the queue; wait while more than ``limit`` are out."""
        while self.queue and (self.queue[0][0].done() or len(self.queue) > limit):
            fut, group = self.queue.popleft()
            contexts = [_context(src, self.given, self.ctx, cand) for src, _, cand in group]
            _commit(self.case, fut.result(), group, self.summary, self.on_problem, contexts)
            self.done_bytes += sum(s.size for s, _, _ in group)
            if self.progress:
                self.progress(self.done_bytes, self.total or self.done_bytes + self.size)


class _Pool:
    """Worker processes, started on first need and kept for both parsing phases (or an executor
    handed in, used from the start and left to its owner)."""

    def __init__(self, workers: int | None, external: Executor | None = None) -> None:
        self.n = workers if workers is not None else (os.cpu_count() or 1)
        self.pool: Executor | None = external
        self.external = external is not None

    def start(self) -> Executor | None:
        """The running pool (None when one worker was asked for)."""
        if self.pool is None and self.n > 1:
            ctx = multiprocessing.get_context("forkserver")  # not fork: DuckDB and Arrow threads run here
            ctx.set_forkserver_preload(["forensics.ingest.worker"])
            self.pool = ProcessPoolExecutor(max_workers=self.n, mp_context=ctx)
            for _ in range(self.n):
                self.pool.submit(warm_up)
        return self.pool

    def close(self) -> None:
        if self.pool is not None and not self.external:
            self.pool.shutdown()
        self.pool = None


def _looks_big(paths: list[Path], threshold: int = 2 * GROUP_BYTES) -> bool:
    """More than one commit group of input bytes? Stops counting as soon as it knows."""
    total = 0
    for p in paths:
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            for folder, _, files in os.walk(p):
                for name in files:
                    with contextlib.suppress(OSError):
                        total += os.stat(os.path.join(folder, name), follow_symlinks=False).st_size
                    if total > threshold:
                        return True
        if total > threshold:
            return True
    return False


def collection_year(case: Case) -> int | None:
    """The year of the latest time the evidence states itself (never an inferred or future year)."""
    rows = case.con.execute(
        "SELECT year(max(ts AT TIME ZONE 'UTC')) FROM events "
        "WHERE ts IS NOT NULL AND NOT coalesce(ts_year_inferred, false) AND ts <= now()"
    ).fetchall()
    return rows[0][0] if rows and rows[0][0] else None


ZONE_FILE = "etc/timezone"


class ArchiveZones:
    """Zones stated by ``etc/timezone`` members of the archives walked (UAC's ``[root]/etc/timezone``).

    A member takes the zone of the nearest tree holding it: the zone file whose folder (the
    member name before ``etc/timezone``) is the longest prefix of the member's name, in the
    same outermost archive. Yearless logs are parsed after the walk, so they get it whatever
    the archive's order; a dated member met before the zone file in the archive does not.
    """

    def __init__(self) -> None:
        self.zones: dict[
            str, dict[str, tuple[str, str]]
        ] = {}  # archive path -> tree prefix -> (zone, member)

    def note(self, cand: Candidate) -> None:
        """Remember the zone if ``cand`` is an archive's ``etc/timezone`` naming a valid zone."""
        member = cand.member
        if (
            member is None
            or cand.local is None
            or not (member == ZONE_FILE or member.endswith("/" + ZONE_FILE))
        ):
            return
        try:  # not ``_first_line``: its cache is keyed by path, and staged copies' names repeat across runs
            with open(cand.local, encoding="utf-8", errors="replace") as fh:
                zone = _valid_zone(fh.readline(256).strip())
        except OSError:
            return
        if zone is not None:
            self.zones.setdefault(cand.path, {})[member[: -len(ZONE_FILE)]] = (zone, member)

    def of(self, path: str, member: str | None) -> tuple[str, str] | None:
        """(zone, zone file member) for a member of the archive at ``path``, or None."""
        trees = self.zones.get(path)
        if member is None or not trees:
            return None
        prefixes = [p for p in trees if member.startswith(p)]
        return trees[max(prefixes, key=len)] if prefixes else None


# A run's answers per (tree file, root named, folder) for files met in a folder: every file of a
# folder gets the same, and asking the file system twice per file cost ~0.1 ms a file.
TreeMemo = dict[tuple[str, Path, Path], tuple[str, str] | None]


def zone_hint(
    cand: Candidate, archives: ArchiveZones | None = None, memo: TreeMemo | None = None
) -> tuple[str, str] | None:
    """(zone, where it was read) from ``etc/timezone`` in the collected tree a file sits in: a folder
    tree for plain files (where: relative to the path named), an archive's tree for its members.
    ``memo``: one run's answers, kept per folder."""
    if cand.member is not None:
        return archives.of(cand.path, cand.member) if archives is not None else None
    return _tree_file(cand, ZONE_FILE, _valid_zone, memo)


def tree_host(cand: Candidate, memo: TreeMemo | None = None) -> str | None:
    """The host named by ``etc/hostname`` in the collected tree a plain file sits in."""
    found = _tree_file(cand, "etc/hostname", _valid_host, memo)
    return found[0] if found else None


def _valid_host(name: str) -> str | None:
    return name if re.fullmatch(r"[A-Za-z0-9_.-]{1,253}", name) else None


def _tree_file(
    cand: Candidate, rel: str, check: Callable[[str], str | None], memo: TreeMemo | None = None
) -> tuple[str, str] | None:
    """(first line of ``rel`` in the nearest folder holding it, between the file and the named root;
    that file relative to the root).

    Only folders at or below the path the user named are searched, so the analyst's own
    machine never lends its zone or name to the evidence. A file met in a folder (never a link:
    the walk refuses links there) has its folder's answer, from ``memo`` once known.
    """
    if memo is None or cand.explicit or cand.member is not None or cand.local is None or cand.root is None:
        return _tree_lookup(cand, rel, check)
    key = (rel, cand.root, cand.local.parent)
    if key not in memo:
        memo[key] = _tree_lookup(cand, rel, check)
    return memo[key]


def _tree_lookup(cand: Candidate, rel: str, check: Callable[[str], str | None]) -> tuple[str, str] | None:
    if cand.member is not None or cand.local is None or cand.root is None or not cand.root.is_dir():
        return None
    root = _real(cand.root)
    # the file's real folder: its folder's, resolved once for all its files, unless it is a link
    here = cand.local.resolve().parent if cand.local.is_symlink() else _real(cand.local.parent)
    while here == root or root in here.parents:
        value = _first_line(here / rel)
        checked = check(value) if value else None
        if checked:
            return checked, (here / rel).relative_to(root).as_posix()
        if here == root:
            return None
        here = here.parent
    return None


@functools.lru_cache(maxsize=4096)
def _real(folder: Path) -> Path:
    """``folder`` resolved (links followed), once per folder: every file in it asks twice (zone, host)."""
    return folder.resolve()


@functools.lru_cache(maxsize=512)
def _first_line(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.readline(256).strip() or None
    except OSError:
        return None


def _valid_zone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return None
    return name


def _custody(case: Case, this_run: set[str]) -> None:
    """One ``hashed`` custody entry for every input of the case no entry records yet.

    That is what this run hashed, plus what an earlier run committed but was stopped (kill -9)
    before recording: the case's ``inputs`` are the truth, so no input stays without custody.
    """
    rows = case.con.execute("SELECT path, member, sha256 FROM inputs WHERE sha256 IS NOT NULL").fetchall()
    missing = without_custody(rows, read_chain(case.root))
    if not missing:
        return
    late = sorted(k for k in missing if k not in this_run)
    notes = (
        f"{len(late)} input(s) committed to the case by an earlier run that stopped before its custody "
        "entry; their hashes are those recorded in the case's inputs table at that run"
        if late
        else None
    )
    record_tool_step(
        case.root, "hashed", command=sys.argv, purpose="ingest", item_hashes=missing, notes=notes
    )


def _input_row(cand: Candidate, status: str, error: str | None, parser: str | None = None) -> dict[str, Any]:
    return {
        "path": cand.path,
        "abs_path": cand.abs_path,
        "member": cand.member,
        "size": cand.size,
        "sha256": cand.sha256,
        "md5": cand.md5,
        "parser": parser,
        "rows": 0,
        "rejects": 0,
        "status": status,
        "error": error,
        "ingested_at": now_utc(),
        "tool_version": __version__,
        "batch": None,
    }


@dataclass
class _Known:
    """What the case already holds, so a re-run parses nothing twice and records no refusal twice.

    With ``forced`` (``--format``) an input recorded earlier as not recognised is parsed now.
    """

    keys: set[tuple[str, str, str | None]]  # (sha256, path, member) of inputs recorded with bytes
    shas: set[str]  # bytes already parsed (or judged) once
    refusals: set[tuple[str, str | None, str]]  # (path, member, reason) of inputs recorded without bytes
    forced: Parser | None = None

    @classmethod
    def of(cls, case: Case, forced: Parser | None) -> _Known:
        """Read from the case's ``inputs``."""
        if forced is None:
            return cls(case.done_keys(), case.done_shas(), case.refusals())
        return cls(case.done_keys(parsed=True), case.done_shas(parsed=True), case.refusals(), forced)


def _refusal_status(reason: str) -> str:
    if reason.startswith(("unreadable", "no such file")):
        return "unreadable"
    return "skipped" if reason.startswith("skipped") else "refused"


def _triage(
    cand: Candidate,
    known: _Known,
    summary: IngestSummary,
    pending: list[Item],
    mapped: MappedParser | None,
    replay: Mapping[str, InputContext] | None = None,
    zones: ArchiveZones | None = None,
    trees: TreeMemo | None = None,
) -> dict[str, Any] | None:
    """Decide what to do with a candidate; return a manifest row when it will not be parsed."""
    if cand.refused is not None:
        ref = (cand.path, cand.member, cand.refused)
        if ref in known.refusals:  # recorded by an earlier run: once is enough
            summary.files_skipped += 1
            return None
        known.refusals.add(ref)
        return _input_row(cand, _refusal_status(cand.refused), cand.refused)
    assert cand.sha256 is not None and cand.local is not None
    key = (cand.sha256, cand.path, cand.member)
    if key in known.keys:
        summary.files_skipped += 1
        remove_scratch(cand)
        return None
    known.keys.add(key)
    if cand.indicator:
        remove_scratch(cand)
        return _input_row(cand, INDICATORS, INDICATOR_REASON)
    name = cand.member or cand.path
    if cand.size == 0:
        verdict = judge(name, b"", 0)
        return _input_row(cand, "empty" if verdict.log_like else NOT_LOG, verdict.reason)
    if cand.sha256 in known.shas:
        remove_scratch(cand)
        return _input_row(cand, "duplicate", "same SHA-256 as an input already in the case: not parsed again")
    encoding = detect_encoding(cand.head)
    parser: Parser | None = known.forced
    if parser is None:
        parser = _sniff(cand.head, name, encoding, mapped)
    if parser is None:
        remove_scratch(cand)
        verdict = judge(name, cand.head, cand.size)
        if not verdict.log_like:
            return _input_row(cand, NOT_LOG, verdict.reason)
        why = f"format not recognised by content: {verdict.reason} (--format NAME forces a parser)"
        return _input_row(cand, "unrecognised" if cand.explicit else "unknown", why)
    known.shas.add(cand.sha256)
    zone = zone_hint(cand, zones, trees)
    src = InputFile(
        path=cand.path, member=cand.member, local=cand.local, size=cand.size, sha256=cand.sha256,
        md5=cand.md5 or "", head=cand.head, mtime=cand.mtime, tz_hint=zone[0] if zone else None,
        tz_source=zone[1] if zone else None, host_hint=cand.host_hint or tree_host(cand, trees),
        encoding=None if parser.name in BINARY_FORMATS else encoding,
    )  # fmt: skip
    if replay and cand.sha256 in replay:
        src = replay[cand.sha256].hints(src)  # a replay: parsed as it was the first time
    pending.append((src, parser.name, cand))
    return None


def _sniff(head: bytes, name: str, encoding: str | None, mapped: MappedParser | None) -> Parser | None:
    """The parser for a file: its head as it is (binary formats, UTF-8), else transcoded to UTF-8
    (sniffers read UTF-8: a cp1252 JSON array is no JSON to them until then); UTF-16 only so."""
    heads = [] if is_utf16(encoding) else [head]
    heads += [h for h in (sniffable(head, encoding),) if h is not head]
    for h in heads:
        parser = mapped if mapped is not None and mapped.sniff(h, name) else sniff(h, name)
        if parser is not None:
            return parser
    return None


EXTRACTED_DIR = "extracted"  # disk images found inside archives, copied out: read (and re-read) there
# EWF segments: .E01-.E99 (any case), then .EAA-.EZZ (upper case: a case-blind pattern takes ".log")
_EWF = r"\.(?:[ELSels]x?\d\d|[ELS]x?[A-Z]{2})"
_IMAGE_NAME = re.compile(r"(?:" + _EWF + r"|\.(?i:vmdk|vhdx?|qcow2|dd|raw|img|00[01]))$")


def _image_part(cand: Candidate) -> bool:
    """An archive member that is a disk image, one of its segments / extents, or its acquisition log
    (``disk.E01.txt``): what the images path reads together, from one folder."""
    if cand.member is None or cand.local is None or cand.refused is not None:
        return False
    name = cand.member.rsplit("/", 1)[-1]
    if name.lower().endswith(".vmdk"):  # a flat extent is raw data: known by its name (EWF segments by magic)
        return True
    stem, _, ext = name.rpartition(".")
    if ext.lower() in ("txt", "log") and _IMAGE_NAME.search(stem) and cand.size <= 1 << 20:
        return True
    from forensics.images.detect import image_kind

    return image_kind(cand.local) is not None


def _extract_image(
    case: Case, cand: Candidate, known: _Known, summary: IngestSummary, extracted: set[Path]
) -> dict[str, Any] | None:
    """Keep an image member's copy in the case (``extracted/<archive>/<member path>``), beside its
    segments, for the images path to read as ``ingest IMAGE`` reads a file; its input row says so."""
    assert cand.local is not None and cand.member is not None and cand.sha256 is not None
    archive = hashlib.sha256((cand.abs_path or cand.path).encode()).hexdigest()[:16]
    rel = Path(EXTRACTED_DIR, archive, *cand.member.replace("!/", "/").split("/"))
    dest = case.root / rel
    extracted.add(dest.parent)
    key = (cand.sha256, cand.path, cand.member)
    if key in known.keys and dest.is_file():  # an earlier run copied it: the batch resumes the image
        summary.files_skipped += 1
        remove_scratch(cand)
        return None
    known.keys.add(key)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(cand.local, dest)
    why = f"a disk image or its part inside an archive: copied to {rel.as_posix()} in the case and read there as an image"
    return _input_row(cand, "extracted", why)


def _extracted_images(folders: set[Path]) -> list[Path]:
    """The images among files copied out of archives (a later EWF segment, a VMDK extent or an
    acquisition log is part of its image, not one of its own)."""
    from forensics.images.detect import image_kind
    from forensics.images.reader import folder_extents, image_segments

    out: list[Path] = []
    for folder in sorted(folders):
        files = sorted(p for p in folder.iterdir() if p.is_file())
        covered = folder_extents(files)
        for f in files:
            if f in covered or image_kind(f) is None:
                continue
            covered.update(f.parent / s.name for s in image_segments(f))  # as ``files`` name them
            out.append(f)
    return out


def _archive_zone(item: Item, zones: ArchiveZones) -> Item:
    """A member parsed after the walk, with the zone of its archive tree when none was set."""
    src, parser, cand = item
    if src.decided is not None or src.tz_hint is not None:
        return item
    zone = zones.of(src.path, src.member)
    return (replace(src, tz_hint=zone[0], tz_source=zone[1]), parser, cand) if zone else item


def _deferred(item: Item) -> Item:
    """An input parsed after the walk: an archive member's staged copy is deleted meanwhile and
    read again from its archive when parsed, so staging never holds a whole archive."""
    src, parser, cand = item
    if not cand.extracted or cand.abs_path is None:
        return item
    remove_scratch(cand)
    return replace(src, archive=cand.abs_path), parser, cand


def _note_problem(
    summary: IngestSummary, row: dict[str, Any], on_problem: Callable[[dict[str, Any]], None] | None
) -> None:
    summary.by_status[row["status"]] = summary.by_status.get(row["status"], 0) + 1
    if row["status"] in PROBLEM_STATUSES:
        problem = {k: row.get(k) for k in ("path", "member", "status", "error", "rejects")}
        summary.problems.append(problem)
        if on_problem:
            on_problem(problem)
    elif row["status"] in (NOT_LOG, INDICATORS):
        summary.not_logs.append({k: row.get(k) for k in ("path", "member", "status", "error")})


def _record_plain(case: Case, rows: list[dict[str, Any]], summary: IngestSummary, on_problem: Any) -> None:
    if not rows:
        return
    case.record_inputs(rows)
    for row in rows:
        _note_problem(summary, row, on_problem)


def _batch_id(group: list[Item]) -> str:
    h = hashlib.sha256()
    for src, _, _ in group:
        h.update(f"{src.sha256}:{src.path}:{src.member}\n".encode())
    return h.hexdigest()[:16]


def _parse_all(
    case: Case,
    pending: list[Item],
    given: ParseContext,
    ctx: ParseContext,
    summary: IngestSummary,
    pool: _Pool,
    progress: Progress | None,
    on_problem: Any,
) -> None:
    """Parse in the process pool (inline when there is one group and no pool running yet)."""
    total = sum(p[0].size for p in pending)
    committer = _Committer(
        case, ctx, summary, progress, on_problem,
        lambda only: None if only and pool.pool is None else pool.start(), pool.n, total, given,
    )  # fmt: skip
    for item in pending:
        committer.add(item)
    committer.finish()


def _context(src: InputFile, given: ParseContext, used: ParseContext, cand: Candidate) -> str:
    """The JSON of what ``src`` is parsed with, for its ``inputs.context``."""
    return decide(src, given, used, host_from_archive=cand.host_hint is not None).to_json()


def _commit(
    case: Case, result: TaskResult, group: list[Any], summary: IngestSummary, on_problem: Any,
    contexts: list[str],
) -> None:  # fmt: skip
    rows = []
    for (src, parser, cand), res, context in zip(group, result.results, contexts, strict=True):
        row = _input_row(cand, res.status, res.error, parser)
        row.update(
            rows=res.rows,
            rejects=res.rejects,
            batch=result.batch,
            host=",".join(sorted(res.hosts))[:1000] or None,
            context=context,
            records_claimed=res.claimed,
            records_carved=res.carved,
            records_shortfall=res.shortfall,
            encoding=src.encoding,
        )
        rows.append(row)
        summary.files_parsed += 1
        summary.rows += res.rows
        summary.rejects += res.rejects
        summary.bytes_parsed += src.size
        summary.by_parser[parser] = summary.by_parser.get(parser, 0) + 1
    case.commit_batch(result.batch, result.parts, rows, result.rejects_file)
    for row, (_, _, cand) in zip(rows, group, strict=True):
        _note_problem(summary, row, on_problem)
        remove_scratch(cand)
