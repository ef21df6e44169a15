"""One hunt pass over a case: Sigma + SQL hunts + IOC sweep + YARA → a new hunt run in the case.

``run_hunt`` checks that every rule, query, IOC and YARA path it was given exists and holds something
usable (``HuntUsageError`` otherwise, before anything is written), loads every rule kind (a file
that fails to load is reported, never fatal), runs them and keeps the result as a new run
(``forensics.hunt.runs``): findings, their records, the IOC table, the load-and-run report, Sigma's
rule report and ``run.json`` — the hunt's record of itself (argv, start and end times, exit code,
options, every Sigma / SQL / IOC / YARA file it read with its kind and SHA-256, the SHA-256 of
every file of the run). Earlier runs are never touched. The case's custody log gets an
``analysed`` entry naming the run's files and their hashes.

YARA scans long event text and the bytes of the case's inputs that are still where ingest saw them
(same path, same SHA-256), whether the hunt started from folders or from the case.

``replay`` re-runs a hunt from copies of the recorded files (``forensics verify --reproduce``);
``HuntOptions.aliases`` makes the copies' findings name the recorded paths, so a faithful re-run
gives the same finding ids.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forensics import __version__, shipped
from forensics.custody import record_tool_step
from forensics.errors import ForensicsError
from forensics.hostnames import HostNames
from forensics.hunt.findings import Finding, Level, level_rank, parse_level, write_findings
from forensics.hunt.ioc_match import match_iocs
from forensics.hunt.iocs import IOC_SUFFIXES, IocSet, ioc_table, load_ioc_paths
from forensics.hunt.runs import commit_run, sha256_file, staged_run
from forensics.hunt.sigma.ruleset import RuleSet as SigmaRuleSet
from forensics.hunt.sigma.tuning import Tuning, build_tuning, tuning_from_record
from forensics.hunt.sql import SqlHunt, load_hunts, run_hunts
from forensics.hunt.writer import Outcome, write_iocs, write_outcomes
from forensics.hunt.yara_scan import (
    DEFAULT_MAX_SIZE,
    DEFAULT_TIMEOUT,
    RULE_SUFFIXES,
    YaraResult,
    YaraRules,
    compile_rules,
    rule_files,
    scan_event_text,
    scan_files,
)
from forensics.progress import Step, no_progress
from forensics.rulesets import RuleSet
from forensics.spark.session import SparkOptions
from forensics.store import DB_NAME, RUN_FILE, Case, input_columns
from forensics.timeutil import iso_ist, iso_utc, now_utc

if TYPE_CHECKING:  # the loader imports pySigma: only when Sigma is asked for
    import polars as pl  # only for IOC lists read column-wise (forensics.hunt.iocs.BULK_LINES)

    from forensics.hunt.sigma.loader import RuleFile

DEFAULT_QUERIES = shipped.QUERIES  # the SQL hunts shipped in the package
DEFAULT_IOCS = shipped.IOCS  # the IOC lists and YARA rules shipped in the package
EXIT_FAIL_ON = 4  # exit code when a finding is at or above ``HuntOptions.fail_on``
FILE_KINDS = ("sigma", "sql", "ioc", "yara")
EVIDENCE_IOCS_KEY = "evidence_iocs"  # meta: IOC/YARA folders that came with the evidence

Progress = Callable[[str], None]


class HuntUsageError(ForensicsError):
    """A rule, query, IOC or YARA path given to the hunt does not exist or holds nothing usable."""


@dataclass
class HuntOptions:
    """What to hunt with. Empty lists mean "that kind is not run" except for the defaults."""

    sigma: list[Path] = field(default_factory=list)
    queries: list[Path] = field(default_factory=list)
    iocs: list[Path] = field(default_factory=list)
    yara: list[Path] = field(default_factory=list)
    # IOC lists and YARA rules that came with the evidence (an iocs/ folder at its top): used for
    # whichever of the two kinds they hold, never an error when they hold only one
    evidence: list[Path] = field(default_factory=list)
    # files whose bytes YARA scans; None: the case's inputs still where ingest saw them
    scan_paths: list[Path] | None = None
    default_queries: bool = True  # the SQL hunts shipped in forensics/queries
    default_iocs: bool = True  # the IOC lists and YARA rules shipped in forensics/iocs
    yara_max_size: int = DEFAULT_MAX_SIZE
    yara_timeout: int = DEFAULT_TIMEOUT
    fail_on: str | None = None  # exit code 4 when a finding is at or above this level
    # which Sigma rules run and how their findings are shown (statuses, exclusions, tuning file)
    sigma_tuning: Tuning = field(default_factory=build_tuning)  # default: forensics' own tuning only
    # rule folder (as recorded) -> its rule set as a run record kept it; a replay passes these
    sigma_rulesets: dict[str, dict[str, Any]] = field(default_factory=dict)
    placeholders: dict[str, list[str]] = field(default_factory=dict)  # values for Sigma |expand
    # path a file was read from -> path to record for it (replay reads copies of the recorded
    # files; findings, the IOC table and run.json name the recorded paths instead)
    aliases: dict[str, str] = field(default_factory=dict)
    # a given path that holds nothing usable is an error (a replay re-runs what was, failures included)
    strict: bool = True
    rule_set: RuleSet | None = None  # an installed Sigma rule set hunted with (besides ``sigma``)
    # run the scans on Spark instead of the case's DuckDB (``forensics.spark``); None: DuckDB
    spark: SparkOptions | None = None

    def alias(self, path: str | Path) -> str:
        """The path to record for a file read at ``path`` (a shipped file by its name in the package)."""
        return self.aliases.get(str(path)) or shipped.shipped_name(path) or str(path)

    def to_record(self, scanned: Sequence[Path]) -> dict[str, Any]:
        """The options as written into ``run.json`` (aliases resolved, defaults' folders named)."""
        return {
            "sigma": [self.alias(p) for p in self.sigma],
            "queries": [self.alias(p) for p in self.queries],
            "iocs": [self.alias(p) for p in self.iocs],
            "yara": [self.alias(p) for p in self.yara],
            "evidence_iocs": [self.alias(p) for p in self.evidence],
            "scan_paths": [str(p) for p in scanned],
            "default_queries": self.default_queries,
            "default_queries_dir": "forensics/queries",
            "default_iocs": self.default_iocs,
            "default_iocs_dir": "forensics/iocs",
            "yara_max_size": self.yara_max_size,
            "yara_timeout": self.yara_timeout,
            "fail_on": self.fail_on,
            "rule_set": self.rule_set.to_record() if self.rule_set is not None else None,
            "sigma_tuning": self.sigma_tuning.to_record(),
            "placeholders": dict(sorted(self.placeholders.items())),
            **({"engine": self.spark.describe()} if self.spark is not None else {}),
        }

    def problems(self) -> list[str]:
        """Why a given path cannot be used: it does not exist, or holds no file of its kind (empty:
        all usable). Cheap — checked before anything is ingested or written; what the files hold is
        checked when they load."""
        out = []
        if self.fail_on is not None and parse_level(self.fail_on) is None:
            out.append(
                f"--fail-on {self.fail_on!r} is not a level (informational, low, medium, high, critical)"
            )
        for option, paths, candidates in (
            ("--sigma", self.sigma, _sigma_candidates),
            ("--queries", self.queries, _sql_files),
            ("--iocs", self.iocs, _ioc_files),
            ("--yara", self.yara, _yara_candidates),
        ):
            for p in paths:
                if not p.exists():
                    out.append(f"{option} {p}: no such file or folder")
                elif next(iter(candidates([p])), None) is None:
                    out.append(f"{option} {p}: holds no {_WHAT[option]}")
        return out

    def sigma_roots(self) -> list[Path]:
        """The Sigma folders and files to load: the installed set's rules first, then ``sigma``."""
        return ([self.rule_set.rules_dir] if self.rule_set is not None else []) + list(self.sigma)


_WHAT = {
    "--sigma": "Sigma rule files (*.yml, *.yaml)",
    "--queries": "SQL hunt files (*.sql)",
    "--iocs": f"IOC documents ({', '.join('*' + s for s in sorted(IOC_SUFFIXES))})",
    "--yara": f"YARA rule files ({', '.join('*' + s for s in RULE_SUFFIXES)})",
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
    sigma_stats: dict[str, Any] = field(default_factory=dict)  # run_sigma's load/convert/execute/columns
    used: list[dict[str, Any]] = field(default_factory=list)  # rule/query/IOC/YARA files read, in order
    scanned: list[Path] = field(default_factory=list)  # files whose bytes YARA scanned
    exit_code: int = 0  # 0, or EXIT_FAIL_ON when a finding reached options.fail_on
    run_id: str | None = None  # the run this hunt was kept as
    run_dir: Path | None = None  # findings/runs/<run_id>
    outputs: dict[str, str] = field(default_factory=dict)  # {path in the case: SHA-256} of the run's files
    min_level: str = "informational"  # findings below it are kept in the case, not shown in summaries
    sigma_rulesets: dict[str, dict[str, Any]] = field(default_factory=dict)  # folder -> its set (record)
    sigma_cache: dict[str, str] = field(default_factory=dict)  # what Sigma's plan cache gave (hit, miss, corrupt)
    custody_entry: dict[str, Any] | None = None  # the "analysed" entry this hunt appended
    engine: dict[str, Any] | None = None  # the Spark session the scans ran on (None: the case's DuckDB)

    @property
    def run_file(self) -> Path | None:
        """The run's ``run.json``."""
        return self.run_dir / RUN_FILE if self.run_dir is not None else None

    def by_kind(self) -> dict[str, int]:
        """Number of findings per kind."""
        return dict(sorted(Counter(f.kind for f in self.findings).items()))

    def by_level(self) -> dict[str, int]:
        """Number of findings per level, most severe first."""
        counts: Counter[Level] = Counter(f.level for f in self.findings)
        ranked = sorted(counts.items(), key=lambda kv: -level_rank(kv[0]))
        return dict(ranked)

    def problems(self) -> list[Outcome]:
        """Outcomes that are failures or skips (reported to the user)."""
        return [o for o in self.outcomes if o.status in ("failed", "skipped")]


@dataclass
class Prepared:
    """SQL hunts, IOC documents and YARA rules loaded before anything is ingested or run (Sigma
    loads inside its own run), with the files read and what became of them."""

    sql: list[SqlHunt]
    iocs: IocSet
    yara: YaraRules | None
    used: list[dict[str, Any]]  # run.json ``files`` entries, in the order read
    outcomes: list[Outcome]  # SQL files that failed to parse (IOC and YARA outcomes travel with them)


def _noop(_: str) -> None:
    return None


def prepare_hunt(options: HuntOptions, progress: Progress = _noop) -> Prepared:
    """Check the paths given and load SQL hunts, IOC documents and YARA rules, touching no case.

    Raises ``HuntUsageError`` when a path given does not exist, holds no file of its kind, or
    holds nothing usable once loaded (no hunt parsed, no indicator read, no YARA file compiled)
    — so a command can refuse before it ingests or writes anything.
    """
    problems = options.problems() if options.strict else []
    if problems:
        raise HuntUsageError("; ".join(problems))
    return _load(options, progress)


def run_hunt(
    case: Case,
    options: HuntOptions,
    progress: Progress = _noop,
    *,
    argv: Sequence[str] | None = None,
    prepared: Prepared | None = None,
    steps: Step = no_progress,
) -> HuntSummary:
    """Run every kind of detection in one pass and keep the result as a new run of the case.

    Raises ``HuntUsageError`` — with nothing written — when a path given in ``options`` does not
    exist or holds nothing usable. ``prepared`` is ``prepare_hunt(options)`` when the caller
    checked before (default: prepared here). ``argv`` is the command recorded in the run and the
    custody log (default: this process's ``sys.argv``). ``progress`` hears a line per stage;
    ``steps`` the counts of the long ones (reading, converting and running the Sigma rules).
    """
    started = now_utc()
    loaded = prepared if prepared is not None else prepare_hunt(options, progress)
    summary = HuntSummary(case=case.root, findings=[], outcomes=list(loaded.outcomes), used=list(loaded.used))
    case.con.execute("SET TimeZone = 'UTC'").fetchall()  # date_trunc and fetched timestamps in UTC
    with (
        staged_run(case) as staging,
        _engine(case, options, summary, progress) as spark,
        _files_scan(case, options, loaded.yara) as files,
    ):
        # SQL hunts, the IOC sweep and YARA's scan of the event text into a part of their own,
        # merged after Sigma's findings
        part, said = HuntSummary(case=case.root, findings=[], outcomes=[]), Lines()
        with _sigma_beside(case, spark, lambda on: _sigma(on, options, summary, progress, staging, steps, spark)):
            _sql(case, loaded.sql, part, said, spark)
            _iocs(case, loaded.iocs, part, said, staging, spark)
            text = _yara_text(case, options, loaded.yara, part)
        said.replay(progress)
        summary.findings.extend(part.findings)
        summary.outcomes.extend(part.outcomes)
        summary.ioc_count = part.ioc_count
        summary.timings.update(part.timings)
        _yara(options, loaded.yara, summary, progress, files, text)
        t = time.perf_counter()
        summary.findings = _unique(merge_host_spellings(case, summary.findings))
        write_findings(case, summary.findings, staging)
        write_outcomes(staging, summary.outcomes)
        summary.exit_code = exit_code(summary, options.fail_on)
        command = [str(a) for a in (sys.argv if argv is None else argv)]
        record = _run_record(options, summary, command, started, now_utc())
        summary.run_id, record = commit_run(case, staging, record)
    summary.run_dir = case.run_dir(summary.run_id)
    summary.outputs = dict(record["outputs"])
    summary.timings["write"] = time.perf_counter() - t
    summary.custody_entry = record_hunt(case, summary, command)
    return summary


class Lines(list[str]):
    """Progress lines kept to be said later, in order (a kind that ran beside another)."""

    def __call__(self, line: str) -> None:
        self.append(line)

    def replay(self, progress: Progress) -> None:
        """Say the kept lines."""
        for line in self:
            progress(line)


@contextmanager
def _sigma_beside(case: Case, spark: Any, sigma: Callable[[Case], None]) -> Iterator[None]:
    """Run Sigma (``sigma``, given the case connection to use) in a thread on a second connection
    while the block runs the SQL hunts and the IOC sweep on this one.

    Sigma leaves a core idle while it hashes the rule files, reads its plan and runs its last
    groups, and the SQL hunts and IOC sweep are DuckDB statements that release the GIL: side by
    side they take less time than one after the other. The sibling connection has its own
    temporary tables (Sigma's per-group tables); the hunts' facts stay on the case's connection,
    where the story and the integrity assessment use them again. Results do not depend on the
    order: the block's kinds keep their own findings and progress lines, merged after Sigma's.
    On Spark Sigma runs first, here, on the engine's one session.
    """
    if spark is not None:
        sigma(case)
        yield
        return
    with (
        case.sibling() as twin,
        _threads_halved(case),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="sigma") as pool,
    ):
        done = pool.submit(sigma, twin)
        try:
            yield
        finally:
            wait([done])  # the sibling closes only once Sigma is done with it
        done.result()  # an error Sigma raised (a rule folder holding nothing usable) is raised here


@contextmanager
def _threads_halved(case: Case) -> Iterator[None]:
    """DuckDB runs each statement on half its threads while the block runs (its ``threads``
    setting, the database's: every connection of the case), then as before.

    Side by side, Sigma's groups and the other kinds each get half the cores: on two cores each
    statement runs on the thread that asked for it, as DuckDB's worker threads splitting those
    small statements again only burn CPU (measured: a tenth of the hunt's CPU at 1x and 10x, for
    the same or less wall time); on a server's many cores a big group's scan keeps most of them.
    """
    rows = case.con.execute("SELECT current_setting('threads')").fetchall()
    threads = int(rows[0][0])
    case.con.execute(f"SET threads = {max(1, threads // 2)}").fetchall()
    try:
        yield
    finally:
        case.con.execute(f"SET threads = {threads}").fetchall()


@contextmanager
def _engine(case: Case, options: HuntOptions, summary: HuntSummary, progress: Progress) -> Iterator[Any]:
    """The Spark engine for this hunt (``forensics.spark.engine.SparkEngine``), or None for DuckDB."""
    if options.spark is None:
        yield None
        return
    from forensics.spark.engine import spark_engine  # pyspark: only when Spark is asked for

    progress(f"spark: starting a {options.spark.mode} session")
    with spark_engine(case, options.spark) as engine:
        summary.timings["spark_start"] = engine.started
        summary.engine = engine.record()
        progress(f"spark: {engine.version}, parts read from {engine.conn.dataset.base}")
        yield engine


def exit_code(summary: HuntSummary, fail_on: str | None) -> int:
    """``EXIT_FAIL_ON`` when a finding is at or above ``fail_on``, else 0."""
    if fail_on is None:
        return 0
    threshold = parse_level(fail_on)
    if threshold is None:
        raise HuntUsageError(f"--fail-on {fail_on!r} is not a level")
    return EXIT_FAIL_ON if any(f.rank >= level_rank(threshold) for f in summary.findings) else 0


def _file_entry(kind: str, path: Path, options: HuntOptions, **extra: str) -> dict[str, Any]:
    """One ``files`` item of run.json: kind, recorded path, size and SHA-256 (or why not)."""
    entry: dict[str, Any] = {"kind": kind, "path": options.alias(path), **extra}
    try:
        entry["sha256"] = sha256_file(path)
        entry["size"] = path.stat().st_size
    except OSError as exc:  # recorded with the reason: the loader reports the same file as failed
        entry.update(sha256=None, size=None, error=f"cannot read: {exc}")
    return entry


def _run_record(
    options: HuntOptions, summary: HuntSummary, argv: Sequence[str], started: datetime, ended: datetime
) -> dict[str, Any]:
    """What ``run.json`` says of the hunt (``commit_run`` adds the run id and the files' hashes).

    Canonical JSON (sorted keys, no spaces) so equal runs differ only in their id and times.
    """
    return {
        "tool": "forensics",
        "tool_version": __version__,
        "argv": list(argv),
        "cwd": os.getcwd(),  # relative paths in argv and files are relative to this folder
        "started_utc": iso_utc(started),
        "started_ist": iso_ist(started),
        "ended_utc": iso_utc(ended),
        "ended_ist": iso_ist(ended),
        "exit_code": summary.exit_code,
        "options": options.to_record(summary.scanned),
        "sigma_rulesets": summary.sigma_rulesets,
        "sigma_plan_cache": summary.sigma_cache,
        "min_level": summary.min_level,
        "files": summary.used,
        "findings": {"total": len(summary.findings), "by_kind": summary.by_kind()},
        **({"engine": summary.engine} if summary.engine is not None else {}),
    }


def record_hunt(case: Case, summary: HuntSummary, argv: Sequence[str]) -> dict[str, Any]:
    """Append the hunt's ``analysed`` entry (the run's files and run.json with their hashes) to the custody log."""
    assert summary.run_file is not None and summary.run_id is not None
    rel = summary.run_file.relative_to(case.root).as_posix()
    hashes = dict(sorted({**summary.outputs, rel: sha256_file(summary.run_file)}.items()))
    kinds = Counter(str(u["kind"]) for u in summary.used)
    used = ", ".join(f"{kinds[k]} {k}" for k in FILE_KINDS if kinds[k]) or "none"
    found = ", ".join(f"{n} {k}" for k, n in summary.by_kind().items()) or "none"
    return record_tool_step(
        case.root, "analysed", command=argv, purpose="hunt", item_hashes=hashes,
        notes=f"hunt run {summary.run_id}: {len(summary.findings)} findings ({found}); rule/IOC/YARA files "
        f"read: {used}; run record {rel}; exit code {summary.exit_code}",
    )  # fmt: skip


def evidence_iocs(case_dir: Path, raw: Sequence[Path]) -> list[Path]:
    """IOC lists and YARA rules that came with the evidence: an ``iocs/`` folder at the top of an
    input folder, and those remembered in the case from earlier hunts — the ones still there.
    Reads the case only (it may not exist yet)."""
    found = {(t / "iocs").resolve() for t in raw if (t / "iocs").is_dir()}
    value = Case.meta_value(case_dir, EVIDENCE_IOCS_KEY) if (case_dir / DB_NAME).is_file() else None
    return [p for p in sorted({*_folders(value), *found}) if p.is_dir()]


def _folders(value: str | None) -> list[Path]:
    """The remembered evidence IOC folders (the meta table's JSON list)."""
    return [Path(p) for p in json.loads(value)] if value is not None else []


def _remembered(case: Case) -> list[Path]:
    rows = case.con.execute("SELECT value FROM meta WHERE key = ?", [EVIDENCE_IOCS_KEY]).fetchall()
    return _folders(rows[0][0] if rows else None)


def remember_evidence_iocs(case: Case, folders: Sequence[Path]) -> None:
    """Remember evidence IOC folders in the case, so hunting the case later uses them too."""
    known = _remembered(case)
    merged = sorted({*known, *folders})
    if merged != known:
        case.con.execute(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [EVIDENCE_IOCS_KEY, json.dumps([str(p) for p in merged])],
        )


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
    record: dict[str, Any] | None = None,
) -> HuntSummary:
    """Re-run a hunt from copies of its recorded files, given as ``(kind, path)`` in recorded order.

    ``kind`` is sigma (a rule file, or a folder laid out as the recorded rule folder), sql, ioc
    or yara. The project's defaults are off: a recorded hunt's default queries and IOC files are
    among its recorded files. ``aliases`` maps each copy's path to the path the hunt recorded;
    ``scan_paths`` are files whose bytes YARA scans (the originals, when the hunt scanned them).
    A recorded file that failed to load is replayed as it was: reported, not an error.
    ``record`` is the recorded run (run.json): its Sigma tuning, rule-set lists and placeholders
    are used again.
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
        aliases=dict(aliases or {}), strict=False,
    )  # fmt: skip
    if record:
        opts = record.get("options") or {}
        options.sigma_tuning = tuning_from_record(opts.get("sigma_tuning"))
        options.placeholders = {k: list(v) for k, v in (opts.get("placeholders") or {}).items()}
        options.sigma_rulesets = dict(record.get("sigma_rulesets") or {})
    return run_hunt(case, options, progress, argv=argv)


def merge_host_spellings(case: Case, findings: list[Finding]) -> list[Finding]:
    """One finding per rule and host, whatever spelling each source used for the host.

    A Defender export writes ``ehosp-db01.dims.local`` where the EVTX says ``EHOSP-DB01.dims.local``;
    findings of one rule on both become one finding under the host's display name, holding
    every record (see ``forensics.hunt.hostnames.HostNames``).
    """
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


# ---- what each given path holds ------------------------------------------------------------------


def _sigma_candidates(paths: Sequence[Path]) -> Iterator[Path]:
    """A rule file the Sigma loader reads under ``paths``, if there is one (the walk stops there)."""
    from forensics.hunt.sigma.loader import has_rule_files  # pySigma loads only when Sigma is asked for

    for p in paths:
        if has_rule_files(p):
            yield p


def _sql_files(dirs: Sequence[Path]) -> Iterator[Path]:
    """The ``*.sql`` files ``load_hunts`` reads, in its order."""
    for d in dirs:
        if d.is_file():
            yield d
        elif d.is_dir():
            yield from sorted(d.rglob("*.sql"))


def _ioc_files(paths: Sequence[Path]) -> Iterator[Path]:
    """The IOC documents ``load_ioc_paths`` reads, in its order."""
    for p in paths:
        if p.is_dir():
            yield from sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IOC_SUFFIXES)
        elif p.is_file():
            yield p


def _yara_candidates(paths: Sequence[Path]) -> Iterator[Path]:
    return rule_files([p for p in paths if p.exists()])


def _require_usable(option: str, given: Iterable[Path], usable: Sequence[str | Path], what: str) -> None:
    """HuntUsageError naming every given path under which nothing of ``usable`` lies."""
    # lexically first (the loaders name what they read by the path given), resolving only for the
    # paths still unmatched: a rule set is thousands of files. A name spelt as the given path, or
    # as it followed by "/", lies under it (found without a Path per name); the rest as Paths.
    texts = [str(u) for u in usable]
    given = [p for p in given if not any(t == str(p) or t.startswith(f"{p}/") for t in texts)]
    named = [Path(u) for u in usable] if given else []
    empty = [p for p in given if not any(u == p or u.is_relative_to(p) for u in named)]
    if empty:
        real = [u.resolve() for u in named]
        empty = [p for p in empty if not any(u.is_relative_to(p.resolve()) for u in real)]
    if empty:
        raise HuntUsageError(
            "; ".join(f"{option} {p}: holds nothing usable ({what}; see the reasons above)" for p in empty)
        )


# ---- loading and running each kind ---------------------------------------------------------------


def _load(options: HuntOptions, progress: Progress) -> Prepared:
    """Load SQL hunts, IOC documents and YARA rules (a path given that holds nothing usable stops
    the hunt here, reported with the loaders' reasons)."""
    used: list[dict[str, Any]] = []
    dirs = ([shipped.queries_dir()] if options.default_queries else []) + list(options.queries)
    listed = list(_sql_files(dirs))
    used.extend(_file_entry("sql", f, options) for f in listed)
    hunts, problems = load_hunts(dirs) if dirs else ([], [])
    # facts the hunts read from the shipped queries/facts when the folders given hold none
    extra = sorted({f.path for h in hunts for f in h.facts} - {str(f) for f in listed})
    used.extend(_file_entry("sql", Path(f), options) for f in extra)
    ioc_paths = list(options.iocs) + [p for p in options.evidence if next(_ioc_files([p]), None)]
    if options.default_iocs:
        ioc_paths.insert(0, shipped.iocs_dir())
    used.extend(_file_entry("ioc", f, options) for f in _ioc_files(ioc_paths))
    iocs = load_ioc_paths(ioc_paths)
    yara_paths = list(options.yara) + [p for p in options.evidence if next(_yara_candidates([p]), None)]
    if options.default_iocs and next(_yara_candidates([shipped.iocs_dir()]), None):
        yara_paths.insert(0, shipped.iocs_dir())
    rules = None
    if yara_paths:
        used.extend(_file_entry("yara", f, options) for f in _yara_candidates(yara_paths))
        rules = compile_rules(yara_paths)
    if options.strict:
        _require_usable("--queries", options.queries, [h.path for h in hunts], "no hunt parsed")
        loaded_docs = [o.path for o in iocs.outcomes if o.status == "loaded" and o.count]
        _require_usable("--iocs", options.iocs, loaded_docs, "no indicator read")
        if rules is not None:
            _require_usable("--yara", options.yara, list(rules.files.values()), "no rule file compiled")
    # files are named as recorded: a replay's copies by the originals, shipped files by their
    # place in the package (so ids and the run record do not depend on where forensics is installed)
    hunts = [replace(h, path=options.alias(h.path)) for h in hunts]
    problems = _aliased(problems, options)
    iocs = _aliased_iocs(iocs, options)
    if rules is not None:
        rules = YaraRules(
            rules.rules,
            {ns: options.alias(p) for ns, p in rules.files.items()},
            _aliased(rules.outcomes, options),
        )
    progress(
        f"loaded: {len(hunts)} SQL hunts, {len(iocs)} indicators, {rules.compiled if rules else 0} YARA file(s)"
    )
    return Prepared(hunts, iocs, rules, used, problems)


def _sigma(case: Case, options: HuntOptions, summary: HuntSummary, progress: Progress, folder: Path,
           steps: Step, spark: Any = None) -> None:  # fmt: skip
    roots = options.sigma_roots()
    if not roots:
        summary.sigma_note = "Sigma not run (no --sigma DIR given and no rule set installed)"
        return
    from forensics.hunt.sigma import (  # pySigma: half the start-up, only when asked
        run_sigma,
        write_rule_report,
    )
    from forensics.hunt.sigma.loader import rule_files

    progress(f"sigma: {len(roots)} rule folder(s)")
    t = time.perf_counter()
    files = rule_files(roots)  # walked and hashed once: the loader, the plan cache and run.json share it
    summary.used.extend(_sigma_entries(options, files))
    sets = {
        Path(p): SigmaRuleSet.from_record(Path(p), options.sigma_rulesets[options.alias(p)])
        for p in roots
        if options.alias(p) in options.sigma_rulesets
    }
    try:
        result = run_sigma(case, roots, placeholders=options.placeholders or None, stats=summary.sigma_stats,
                           tuning=options.sigma_tuning, rulesets=sets, progress=steps, files=files,
                           data=spark.sigma if spark is not None else None)  # fmt: skip
    except Exception as exc:  # a defect in one kind must not cost the responder the other kinds
        summary.sigma_note = f"Sigma failed: {type(exc).__name__}: {exc}"
        summary.outcomes.append(
            Outcome("sigma", ", ".join(map(str, roots)), None, "failed", summary.sigma_note)
        )
        return
    if options.strict:
        loaded = [r.path for r in result.report if r.status != "failed"]
        _require_usable("--sigma", options.sigma, loaded, "every rule failed to load or convert")
    summary.findings.extend(result.findings)
    summary.min_level = result.min_level
    summary.sigma_rulesets = {options.alias(k): v for k, v in result.rulesets.items()}
    summary.sigma_cache = dict(result.cache)
    summary.sigma_counts = dict(sorted(Counter(str(r.status) for r in result.report).items()))
    write_rule_report(folder, result.report)
    summary.timings["sigma"] = time.perf_counter() - t
    summary.sigma_note = ", ".join(f"{n} {s}" for s, n in summary.sigma_counts.items())
    why = Counter(_skip_kind(r.reason or "") for r in result.report if r.status == "skipped")
    if why:
        summary.sigma_note += (
            " (" + ", ".join(f"{n} {k}" for k, n in sorted(why.items(), key=lambda kv: -kv[1])) + ")"
        )
    if result.hayabusa:
        named = ", ".join(f"{k} ({v['kind']})" for k, v in summary.sigma_rulesets.items())
        summary.sigma_note += f"; rule sets: {named}"
    if options.rule_set is not None:
        summary.sigma_note = (
            f"{options.rule_set.label()}, {options.rule_set.rules} rules; {summary.sigma_note}"
        )


# skip reasons as the summary groups them (the rule report keeps each rule's full reason)
_SKIP_KINDS = (
    ("same SigmaHQ rule", "duplicates of a rule in the other set"),
    ("status ", "not of a selected --status"),
    ("noisy", "noisy"),
    ("excluded by", "excluded"),
    ("disabled by", "disabled by tuning"),
    ("placeholder", "need --placeholder values"),
)


def _skip_kind(reason: str) -> str:
    for prefix, kind in _SKIP_KINDS:
        if reason.startswith(prefix):
            return kind
    return "unsupported"


def _sigma_entries(options: HuntOptions, files: Sequence[RuleFile]) -> list[dict[str, Any]]:
    """run.json's entries for the rule files the Sigma loader reads, each with the folder given and
    its path inside it.

    The path inside the folder is what Sigma findings name (and their id when a rule has none),
    so a replay lays the copies out the same way. The files are walked as the loader walks them
    (a file two folders hold is read once) and hashed once (``loader.rule_files``).
    """
    out: list[dict[str, Any]] = []
    roots: dict[Path, str] = {}
    for rf in files:
        if rf.root not in roots:
            roots[rf.root] = options.alias(rf.root)
        entry: dict[str, Any] = {"kind": "sigma", "path": options.alias(rf.path), "root": roots[rf.root],
                                 "rel": rf.rel, "sha256": rf.sha256, "size": rf.size}  # fmt: skip
        if rf.error is not None:  # as _file_entry records an unreadable file
            entry["error"] = f"cannot read: {rf.error}"
        out.append(entry)
    return out


def _sql(
    case: Case, hunts: list[SqlHunt], summary: HuntSummary, progress: Progress, spark: Any = None
) -> None:
    if not hunts:
        return
    t = time.perf_counter()
    progress(f"sql: {len(hunts)} hunts")
    result = run_hunts(case, hunts, spark.conn if spark is not None else None)
    summary.findings.extend(result.findings)
    summary.outcomes.extend(result.outcomes)
    summary.timings["sql"] = time.perf_counter() - t


def _iocs(case: Case, loaded: IocSet, summary: HuntSummary, progress: Progress, folder: Path,
          spark: Any = None) -> None:  # fmt: skip
    t = time.perf_counter()
    table = ioc_table(loaded.iocs, loaded.frames)
    summary.ioc_count = table.num_rows
    summary.outcomes.extend(loaded.outcomes)
    write_iocs(folder, table)
    progress(f"ioc: {table.num_rows} indicators from {len(loaded.outcomes)} document(s)")
    summary.findings.extend(match_iocs(case, table, spark.conn if spark is not None else None))
    summary.timings["ioc"] = time.perf_counter() - t


@dataclass(frozen=True)
class ScanTargets:
    """The files YARA scans: paths to open, the SHA-256 each must still have (what ingest recorded),
    the name findings give each (the path ingest recorded, when it is opened by its absolute path)
    and outcomes naming the inputs no longer there."""

    paths: list[Path]
    expected: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    gone: list[Outcome] = field(default_factory=list)


@dataclass
class _FileScan:
    """YARA's scan of files, running in a thread from the start of the hunt (``_files_scan``)."""

    targets: ScanTargets
    result: Future[YaraResult]
    took: list[float]  # the thread's own seconds, once done


@contextmanager
def _files_scan(case: Case, options: HuntOptions, rules: YaraRules | None) -> Iterator[_FileScan | None]:
    """Start scanning the files' bytes with YARA in a thread while the other kinds run.

    Reading, hashing and yara's matching release the GIL, so the scan runs on the second core
    while DuckDB plans and runs the Sigma rules and SQL hunts (it touches no connection); ``_yara``
    takes its result. The block waits for the thread on the way out, whatever happened.
    """
    if rules is None:
        yield None
        return
    given = options.scan_paths
    targets = inputs_in_place(case) if given is None else ScanTargets(list(given))
    took: list[float] = []

    def scan() -> YaraResult:
        t = time.perf_counter()
        try:
            return scan_files(rules, targets.paths, max_size=options.yara_max_size, timeout=options.yara_timeout,
                              expected=targets.expected, names=targets.names)  # fmt: skip
        finally:
            took.append(time.perf_counter() - t)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="yara-files") as pool:
        yield _FileScan(targets, pool.submit(scan), took)


def _yara_text(case: Case, options: HuntOptions, rules: YaraRules | None, part: HuntSummary) -> YaraResult | None:
    """YARA's scan of long event text (``_yara`` keeps its findings), its seconds in ``part``."""
    if rules is None:
        return None
    t = time.perf_counter()
    text = scan_event_text(case, rules, timeout=options.yara_timeout)
    part.timings["yara"] = time.perf_counter() - t
    return text


def _yara(options: HuntOptions, rules: YaraRules | None, summary: HuntSummary, progress: Progress,
          files: _FileScan | None, text: YaraResult | None) -> None:  # fmt: skip
    if rules is None or files is None or text is None:
        return
    t = time.perf_counter() - summary.timings.get("yara", 0.0)  # the text scan's seconds, counted in
    summary.yara_files = rules.compiled
    summary.outcomes.extend(rules.outcomes)
    progress(f"yara: {rules.compiled} rule file(s) compiled")
    summary.outcomes.extend(files.targets.gone)
    summary.scanned = files.targets.paths
    found = files.result.result()
    for part in (text, found):
        summary.findings.extend(part.findings)
        summary.outcomes.extend(part.outcomes)
    summary.timings["yara"] = time.perf_counter() - t
    summary.timings["yara_files"] = files.took[0] if files.took else 0.0  # in its thread, beside the rest


def inputs_in_place(case: Case) -> ScanTargets:
    """The case's input files still where ingest read them, for YARA to scan as a hunt of the
    folders would. An archive is scanned with its members; its own bytes were not hashed.

    Each is opened by the absolute path ingest recorded (``inputs.abs_path``), so a re-hunt from
    another working directory finds inputs given as relative paths, and falls back to the path as
    recorded (cases from before ``abs_path``); findings name it by the recorded path either way.
    An input found under neither is reported, never silently left out.
    """
    absolute = "abs_path" if "abs_path" in input_columns(case.con) else "NULL"  # cases from before it
    rows = case.con.execute(  # not the IOC lists and YARA rules a hunt read from among the evidence
        f"SELECT path, {absolute} AS abs, "
        "min(sha256) FILTER (WHERE member IS NULL AND sha256 IS NOT NULL) "
        "FROM inputs WHERE path IS NOT NULL GROUP BY path, abs "
        "HAVING NOT bool_or(status = 'indicators') ORDER BY path, abs NULLS FIRST"
    ).fetchall()
    targets = ScanTargets([])
    for path, abs_path, sha in rows:
        opened = next((p for p in dict.fromkeys(filter(None, (abs_path, path))) if _regular(Path(p))), None)
        if opened is None:
            where = f" (nor at {abs_path})" if abs_path and abs_path != path else ""
            targets.gone.append(
                Outcome(
                    "yara-scan", path, None, "skipped", f"not scanned: no longer where ingest read it{where}"
                )
            )
            continue
        targets.paths.append(Path(opened))
        targets.names[str(Path(opened))] = str(Path(path))  # as a hunt of the folders names it
        if sha:
            targets.expected[str(Path(opened))] = sha
    return targets


def _regular(p: Path) -> bool:
    """Is ``p`` a regular file (not a link, folder or special file)?"""
    try:
        return stat.S_ISREG(p.lstat().st_mode)
    except OSError:
        return False


def _aliased(outcomes: Sequence[Outcome], options: HuntOptions) -> list[Outcome]:
    return [replace(o, path=options.alias(o.path)) for o in outcomes]


def _aliased_iocs(loaded: IocSet, options: HuntOptions) -> IocSet:
    """The indicators with their source documents named by their recorded paths.

    The source paths are part of an IOC finding's details and so of its id: a replay reading
    copies must name the originals to give the same ids.
    """
    frames = [_aliased_sources(f, options) if "source" in f.columns else f for f in loaded.frames]
    return IocSet(
        [replace(i, source=options.alias(i.source)) for i in loaded.iocs],
        _aliased(loaded.outcomes, options),
        frames,
    )


def _aliased_sources(frame: pl.DataFrame, options: HuntOptions) -> pl.DataFrame:
    """An IOC frame with its ``source`` column naming the recorded paths."""
    import polars as pl

    names = {str(s): options.alias(s) for s in frame.get_column("source").unique().to_list() if s is not None}
    return frame.with_columns(pl.col("source").replace(names))
