"""One hunt pass over a case: Sigma + SQL hunts + IOC sweep + YARA → findings in the case.

``run_hunt`` loads every rule kind (a file that fails to load is reported, never fatal), runs
them, writes ``findings/findings.parquet``, ``findings/finding_records.parquet``,
``findings/iocs.parquet`` and ``findings/hunt_report.parquet`` (plus Sigma's rule report), and
returns a ``HuntSummary``. Later stages (timeline, report, story) read the case afterwards: they
hook in through ``after`` callbacks or by adding a call in ``post_hunt`` below.

Every hunt also leaves its own record: ``findings/run.json`` (canonical JSON: argv, start and end
times, exit code, options, and every Sigma / SQL / IOC / YARA file it read with its kind and
SHA-256) and an ``analysed`` entry in the case's custody log naming the findings files' hashes.
``replay`` re-runs a hunt from copies of the recorded files (``forensics verify --reproduce``);
``HuntOptions.aliases`` makes the copies' findings name the recorded paths, so a faithful re-run
gives the same finding ids.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from forensics import __version__
from forensics.custody import canonical_json, record_tool_step
from forensics.hunt.findings import Finding, level_rank, parse_level, write_findings
from forensics.hunt.ioc_match import match_iocs
from forensics.hunt.iocs import IOC_SUFFIXES, IocSet, ioc_table, load_ioc_paths
from forensics.hunt.sql import load_hunts, run_hunts
from forensics.hunt.writer import Outcome, write_iocs, write_outcomes
from forensics.hunt.yara_scan import (
    DEFAULT_MAX_SIZE,
    DEFAULT_TIMEOUT,
    RULE_SUFFIXES,
    YaraRules,
    compile_rules,
    rule_files,
    scan_event_text,
    scan_files,
)
from forensics.store import Case
from forensics.timeutil import iso_ist, iso_utc, now_utc

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_QUERIES = REPO_ROOT / "queries"
DEFAULT_IOCS = REPO_ROOT / "iocs"
RUN_FILE = "findings/run.json"  # the hunt's record of its own run, relative to the case
RUN_SCHEMA = 1
EXIT_FAIL_ON = 4  # exit code when a finding is at or above ``HuntOptions.fail_on``
FILE_KINDS = ("sigma", "sql", "ioc", "yara")

Progress = Callable[[str], None]


@dataclass
class HuntOptions:
    """What to hunt with. Empty lists mean "that kind is not run" except for the defaults."""

    sigma: list[Path] = field(default_factory=list)
    queries: list[Path] = field(default_factory=list)
    iocs: list[Path] = field(default_factory=list)
    yara: list[Path] = field(default_factory=list)
    scan_paths: list[Path] = field(default_factory=list)  # files/folders whose bytes YARA scans
    default_queries: bool = True  # the project's queries/
    default_iocs: bool = True  # the project's iocs/ (IOC lists and YARA rules)
    yara_max_size: int = DEFAULT_MAX_SIZE
    yara_timeout: int = DEFAULT_TIMEOUT
    fail_on: str | None = None  # exit code 4 when a finding is at or above this level
    # path a file was read from -> path to record for it (replay reads copies of the recorded
    # files; findings, the IOC table and run.json name the recorded paths instead)
    aliases: dict[str, str] = field(default_factory=dict)

    def alias(self, path: str | Path) -> str:
        """The path to record for a file read at ``path``."""
        return self.aliases.get(str(path), str(path))

    def to_record(self) -> dict[str, Any]:
        """The options as written into ``findings/run.json`` (aliases resolved, defaults' folders named)."""
        return {
            "sigma": [self.alias(p) for p in self.sigma],
            "queries": [self.alias(p) for p in self.queries],
            "iocs": [self.alias(p) for p in self.iocs],
            "yara": [self.alias(p) for p in self.yara],
            "scan_paths": [str(p) for p in self.scan_paths],
            "default_queries": self.default_queries,
            "default_queries_dir": str(DEFAULT_QUERIES),
            "default_iocs": self.default_iocs,
            "default_iocs_dir": str(DEFAULT_IOCS),
            "yara_max_size": self.yara_max_size,
            "yara_timeout": self.yara_timeout,
            "fail_on": self.fail_on,
        }


@dataclass
class HuntSummary:
    """What a hunt did: findings, per-kind counts and every load/run problem."""

    case: Path
    findings: list[Finding]
    outcomes: list[Outcome]
    sigma_note: str = ""
    sigma_counts: dict[str, int] = field(default_factory=dict)  # converted / skipped / failed
    ioc_count: int = 0
    yara_files: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    sigma_stats: dict[str, Any] = field(default_factory=dict)  # run_sigma's load/convert/execute/columns
    used: list[dict[str, Any]] = field(default_factory=list)  # rule/query/IOC/YARA files read, in order
    exit_code: int = 0  # 0, or EXIT_FAIL_ON when a finding reached options.fail_on
    run_file: Path | None = None  # findings/run.json
    custody_entry: dict[str, Any] | None = None  # the "analysed" entry this hunt appended

    def by_kind(self) -> dict[str, int]:
        """Number of findings per kind."""
        return dict(sorted(Counter(f.kind for f in self.findings).items()))

    def by_level(self) -> dict[str, int]:
        """Number of findings per level, most severe first."""
        counts = Counter(f.level for f in self.findings)
        return dict(sorted(counts.items(), key=lambda kv: -level_rank(kv[0])))

    def problems(self) -> list[Outcome]:
        """Outcomes that are failures or skips (reported to the user)."""
        return [o for o in self.outcomes if o.status in ("failed", "skipped")]


def _noop(_: str) -> None:
    return None


def run_hunt(
    case: Case,
    options: HuntOptions,
    progress: Progress = _noop,
    after: Sequence[Callable[[Case, HuntSummary], None]] = (),
    *,
    argv: Sequence[str] | None = None,
) -> HuntSummary:
    """Run every kind of detection in one pass and write the findings into the case.

    Afterwards ``findings/run.json`` records the run and the custody log gets an ``analysed``
    entry; ``argv`` is the command recorded in both (default: this process's ``sys.argv``).
    """
    started = now_utc()
    summary = HuntSummary(case=case.root, findings=[], outcomes=[])
    case.con.execute("SET TimeZone = 'UTC'")  # date_trunc and fetched timestamps in UTC
    _sigma(case, options, summary, progress)
    _sql(case, options, summary, progress)
    _iocs(case, options, summary, progress)
    _yara(case, options, summary, progress)
    t = time.perf_counter()
    summary.findings = _unique(merge_host_spellings(case, summary.findings))
    summary.files.extend(write_findings(case, summary.findings))
    summary.files.append(write_outcomes(case, summary.outcomes))
    case.refresh_views()  # once: the findings, finding_records and iocs views
    summary.timings["write"] = time.perf_counter() - t
    post_hunt(case, summary)
    for hook in after:
        hook(case, summary)
    summary.exit_code = exit_code(summary, options.fail_on)
    command = list(sys.argv if argv is None else argv)
    summary.run_file = write_run_record(case, options, summary, command, started, now_utc())
    summary.custody_entry = record_hunt(case, summary, command)
    return summary


def exit_code(summary: HuntSummary, fail_on: str | None) -> int:
    """``EXIT_FAIL_ON`` when a finding is at or above ``fail_on``, else 0."""
    if fail_on is None:
        return 0
    threshold = parse_level(fail_on)
    if threshold is None:
        raise ValueError(f"fail_on {fail_on!r} is not a level")
    return EXIT_FAIL_ON if any(f.rank >= level_rank(threshold) for f in summary.findings) else 0


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_entry(kind: str, path: Path, options: HuntOptions, **extra: str) -> dict[str, Any]:
    """One ``files`` item of run.json: kind, recorded path, size and SHA-256 (or why not)."""
    entry: dict[str, Any] = {"kind": kind, "path": options.alias(path), **extra}
    try:
        entry["sha256"] = _sha256(path)
        entry["size"] = path.stat().st_size
    except OSError as exc:  # recorded with the reason: the loader reports the same file as failed
        entry.update(sha256=None, size=None, error=f"cannot read: {exc}")
    return entry


def _findings_hashes(case: Case, summary: HuntSummary) -> dict[str, str]:
    """{path relative to the case: SHA-256} of the findings files this hunt wrote."""
    out: dict[str, str] = {}
    for p in summary.files:
        p = Path(p)
        if p.is_file():
            try:
                key = p.resolve().relative_to(case.root.resolve()).as_posix()
            except ValueError:
                key = str(p)
            out[key] = _sha256(p)
    return dict(sorted(out.items()))


def write_run_record(
    case: Case,
    options: HuntOptions,
    summary: HuntSummary,
    argv: Sequence[str],
    started: datetime,
    ended: datetime,
) -> Path:
    """Write ``findings/run.json``: what was run, with which files, and what it wrote.

    Canonical JSON (sorted keys, no spaces) so equal runs differ only in their times.
    """
    record = {
        "schema": RUN_SCHEMA,
        "tool": "forensics",
        "tool_version": __version__,
        "argv": [str(a) for a in argv],
        "cwd": os.getcwd(),  # relative paths in argv and files are relative to this folder
        "started_utc": iso_utc(started),
        "started_ist": iso_ist(started),
        "ended_utc": iso_utc(ended),
        "ended_ist": iso_ist(ended),
        "exit_code": summary.exit_code,
        "options": options.to_record(),
        "files": summary.used,
        "findings": {"total": len(summary.findings), "by_kind": summary.by_kind()},
        "outputs": _findings_hashes(case, summary),
    }
    dest = case.root / RUN_FILE
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(canonical_json(record) + b"\n")
    os.replace(tmp, dest)
    return dest


def record_hunt(case: Case, summary: HuntSummary, argv: Sequence[str]) -> dict[str, Any]:
    """Append the hunt's ``analysed`` entry (findings files and run.json with their hashes) to the custody log."""
    files = [Path(p) for p in summary.files]
    if summary.run_file is not None:
        files.append(summary.run_file)
    hashes = _findings_hashes(case, replace(summary, files=files))
    kinds = Counter(str(u["kind"]) for u in summary.used)
    used = ", ".join(f"{kinds[k]} {k}" for k in FILE_KINDS if kinds[k]) or "none"
    found = ", ".join(f"{n} {k}" for k, n in summary.by_kind().items()) or "none"
    return record_tool_step(
        case.root, "analysed", command=argv, purpose="hunt", item_hashes=hashes,
        notes=f"hunt: {len(summary.findings)} findings ({found}); rule/IOC/YARA files read: {used}; "
        f"run record {RUN_FILE}; exit code {summary.exit_code}",
    )  # fmt: skip


def replay(
    case: Case,
    files: Sequence[tuple[str, Path]],
    *,
    aliases: dict[str, str] | None = None,
    yara_max_size: int = DEFAULT_MAX_SIZE,
    yara_timeout: int = DEFAULT_TIMEOUT,
    scan_paths: Sequence[Path] = (),
    argv: Sequence[str] | None = None,
    progress: Progress = _noop,
) -> HuntSummary:
    """Re-run a hunt from copies of its recorded files, given as ``(kind, path)`` in recorded order.

    ``kind`` is sigma (a rule file, or a folder laid out as the recorded rule folder), sql, ioc
    or yara. The project's defaults are off: a recorded hunt's default queries and IOC files are
    among its recorded files. ``aliases`` maps each copy's path to the path the hunt recorded;
    ``scan_paths`` are files whose bytes YARA scans (the originals, when the hunt scanned them).
    """
    by_kind: dict[str, list[Path]] = {k: [] for k in FILE_KINDS}
    for kind, path in files:
        if kind not in by_kind:
            raise ValueError(f"unknown rule file kind {kind!r} for {path}; one of: {', '.join(FILE_KINDS)}")
        by_kind[kind].append(Path(path))
    options = HuntOptions(
        sigma=by_kind["sigma"], queries=by_kind["sql"], iocs=by_kind["ioc"], yara=by_kind["yara"],
        scan_paths=list(scan_paths),
        default_queries=False, default_iocs=False, yara_max_size=yara_max_size, yara_timeout=yara_timeout,
        aliases=dict(aliases or {}),
    )  # fmt: skip
    return run_hunt(case, options, progress, argv=argv)


def post_hunt(case: Case, summary: HuntSummary) -> None:
    """Hook point for the stages that follow a hunt (timeline, report, story).

    Called after the findings files are written and the views refreshed; add calls here (or
    pass ``after=`` callbacks to ``run_hunt``). It does nothing yet.
    """
    return None


def merge_host_spellings(case: Case, findings: list[Finding]) -> list[Finding]:
    """One finding per rule and host, whatever spelling each source used for the host.

    A Defender export writes ``ehosp-db01.dims.local`` where the EVTX says ``EHOSP-DB01.dims.local``;
    findings of one rule on both become one finding under the host's display name, holding
    every record (see ``forensics.integrity.HostNames``).
    """
    from forensics.integrity import HostNames

    names = HostNames.from_case(case)
    merged: dict[tuple[str, str, str | None, str | None, str | None], list[Finding]] = {}
    for f in findings:
        merged.setdefault((f.kind, f.rule_id, names.display(f.host), f.details, f.tlp), []).append(f)
    out = []
    for (_, _, host, _, _), group in merged.items():
        if len(group) == 1 and group[0].host == host:
            out.append(group[0])
            continue
        firsts = [t for f in group if (t := f.first_ts) is not None]
        lasts = [t for f in group if (t := f.last_ts) is not None]
        out.append(group[0].rekeyed(
            host=host, records=tuple(r for f in group for r in f.records),
            first_ts=min(firsts, default=None), last_ts=max(lasts, default=None),
        ))  # fmt: skip
    return out


def _unique(findings: list[Finding]) -> list[Finding]:
    """One finding per id (two kinds cannot collide: the kind is part of the id)."""
    seen: dict[str, Finding] = {}
    for f in findings:
        seen.setdefault(f.finding_id, f)
    return list(seen.values())


def _sigma(case: Case, options: HuntOptions, summary: HuntSummary, progress: Progress) -> None:
    if not options.sigma:
        summary.sigma_note = "Sigma not run (no --sigma DIR given)"
        return
    try:
        from forensics.hunt.sigma import run_sigma, write_rule_report  # the Sigma engineer's module
    except ImportError as exc:
        summary.sigma_note = f"Sigma not available in this build: {exc}"
        summary.outcomes.append(
            Outcome("sigma", ", ".join(map(str, options.sigma)), None, "failed", summary.sigma_note)
        )
        return
    progress(f"sigma: {len(options.sigma)} rule folder(s)")
    summary.used.extend(_sigma_files(options))
    t = time.perf_counter()
    try:
        result = run_sigma(case, list(options.sigma), stats=summary.sigma_stats)
    except Exception as exc:  # a defect in one kind must not cost the responder the other kinds
        summary.sigma_note = f"Sigma failed: {type(exc).__name__}: {exc}"
        summary.outcomes.append(
            Outcome("sigma", ", ".join(map(str, options.sigma)), None, "failed", summary.sigma_note)
        )
        return
    summary.findings.extend(result.findings)
    summary.sigma_counts = dict(sorted(Counter(str(r.status) for r in result.report).items()))
    summary.files.append(write_rule_report(case, result.report))
    summary.timings["sigma"] = time.perf_counter() - t
    summary.sigma_note = ", ".join(f"{n} {s}" for s, n in summary.sigma_counts.items())


def _sigma_files(options: HuntOptions) -> list[dict[str, Any]]:
    """The rule files the Sigma loader reads, each with the folder given and its path inside it.

    The path inside the folder is what Sigma findings name (and their id when a rule has none),
    so a replay lays the copies out the same way.
    """
    from forensics.hunt.sigma.loader import iter_rule_files

    out: list[dict[str, Any]] = []
    seen: set[Path] = set()
    for root in options.sigma:
        for f, rel in iter_rule_files([root]):
            key = f.resolve()
            if key not in seen:  # the loader reads a file once even when two folders hold it
                seen.add(key)
                out.append(_file_entry("sigma", f, options, root=options.alias(root), rel=rel))
    return out


def _sql_files(dirs: Sequence[Path]) -> Iterator[Path]:
    """The ``*.sql`` files ``load_hunts`` reads, in its order."""
    for d in dirs:
        if d.is_file():
            yield d
        elif d.is_dir():
            yield from sorted(d.rglob("*.sql"))


def _sql(case: Case, options: HuntOptions, summary: HuntSummary, progress: Progress) -> None:
    dirs = ([DEFAULT_QUERIES] if options.default_queries and DEFAULT_QUERIES.is_dir() else []) + list(
        options.queries
    )
    if not dirs:
        return
    t = time.perf_counter()
    summary.used.extend(_file_entry("sql", f, options) for f in _sql_files(dirs))
    hunts, problems = load_hunts(dirs)
    if options.aliases:
        hunts = [replace(h, path=options.alias(h.path)) for h in hunts]
        problems = _aliased(problems, options)
    progress(f"sql: {len(hunts)} hunts")
    result = run_hunts(case, hunts)
    summary.findings.extend(result.findings)
    summary.outcomes.extend(problems + result.outcomes)
    summary.timings["sql"] = time.perf_counter() - t


def _iocs(case: Case, options: HuntOptions, summary: HuntSummary, progress: Progress) -> None:
    paths = list(options.iocs)
    if options.default_iocs and DEFAULT_IOCS.is_dir():
        paths.insert(0, DEFAULT_IOCS)
    t = time.perf_counter()
    summary.used.extend(_file_entry("ioc", f, options) for f in _ioc_files(paths))
    loaded = load_ioc_paths(paths)
    if options.aliases:
        loaded = _aliased_iocs(loaded, options)
    table = ioc_table(loaded.iocs, loaded.frames)
    summary.ioc_count = table.num_rows
    summary.outcomes.extend(loaded.outcomes)
    summary.files.append(write_iocs(case, table))
    progress(f"ioc: {table.num_rows} indicators from {len(loaded.outcomes)} document(s)")
    summary.findings.extend(match_iocs(case, table))
    summary.timings["ioc"] = time.perf_counter() - t


def _yara(case: Case, options: HuntOptions, summary: HuntSummary, progress: Progress) -> None:
    paths = list(options.yara)
    if (
        options.default_iocs
        and DEFAULT_IOCS.is_dir()
        and any(f.suffix.lower() in RULE_SUFFIXES for f in DEFAULT_IOCS.rglob("*"))
    ):
        paths.insert(0, DEFAULT_IOCS)
    if not paths:
        return
    t = time.perf_counter()
    summary.used.extend(_file_entry("yara", f, options) for f in rule_files([p for p in paths if p.exists()]))
    rules = compile_rules(paths)
    if options.aliases:
        rules = YaraRules(
            rules.rules,
            {ns: options.alias(p) for ns, p in rules.files.items()},
            _aliased(rules.outcomes, options),
        )
    summary.yara_files = rules.compiled
    summary.outcomes.extend(rules.outcomes)
    progress(f"yara: {rules.compiled} rule file(s) compiled")
    text = scan_event_text(case, rules, timeout=options.yara_timeout)
    files = scan_files(
        rules, options.scan_paths, max_size=options.yara_max_size, timeout=options.yara_timeout
    )
    for part in (text, files):
        summary.findings.extend(part.findings)
        summary.outcomes.extend(part.outcomes)
    summary.timings["yara"] = time.perf_counter() - t


def _ioc_files(paths: Sequence[Path]) -> Iterator[Path]:
    """The IOC documents ``load_ioc_paths`` reads, in its order."""
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IOC_SUFFIXES)
        elif p.is_file():
            yield p


def _aliased(outcomes: Sequence[Outcome], options: HuntOptions) -> list[Outcome]:
    return [replace(o, path=options.alias(o.path)) for o in outcomes]


def _aliased_iocs(loaded: IocSet, options: HuntOptions) -> IocSet:
    """The indicators with their source documents named by their recorded paths.

    The source paths are part of an IOC finding's details and so of its id: a replay reading
    copies must name the originals to give the same ids.
    """
    frames = [
        f.with_columns(pl.col("source").replace(options.aliases)) if "source" in f.columns else f
        for f in loaded.frames
    ]
    return IocSet(
        [replace(i, source=options.alias(i.source)) for i in loaded.iocs],
        _aliased(loaded.outcomes, options),
        frames,
    )
