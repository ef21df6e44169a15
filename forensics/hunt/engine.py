"""One hunt pass over a case: Sigma + SQL hunts + IOC sweep + YARA → findings in the case.

``run_hunt`` loads every rule kind (a file that fails to load is reported, never fatal), runs
them, writes ``findings/findings.parquet``, ``findings/finding_records.parquet``,
``findings/iocs.parquet`` and ``findings/hunt_report.parquet`` (plus Sigma's rule report), and
returns a ``HuntSummary``. Later stages (timeline, report, story) read the case afterwards: they
hook in through ``after`` callbacks or by adding a call in ``post_hunt`` below.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics.hunt.findings import Finding
from forensics.hunt.ioc_match import match_iocs
from forensics.hunt.iocs import ioc_table, load_ioc_paths
from forensics.hunt.sql import load_hunts, run_hunts
from forensics.hunt.writer import Outcome, level_rank, write_findings, write_iocs, write_outcomes
from forensics.hunt.yara_scan import (
    DEFAULT_MAX_SIZE,
    DEFAULT_TIMEOUT,
    RULE_SUFFIXES,
    compile_rules,
    scan_event_text,
    scan_files,
)
from forensics.store import Case

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_QUERIES = REPO_ROOT / "queries"
DEFAULT_IOCS = REPO_ROOT / "iocs"

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
) -> HuntSummary:
    """Run every kind of detection in one pass and write the findings into the case."""
    summary = HuntSummary(case=case.root, findings=[], outcomes=[])
    case.con.execute("SET TimeZone = 'UTC'")  # date_trunc and fetched timestamps in UTC
    _sigma(case, options, summary, progress)
    _sql(case, options, summary, progress)
    _iocs(case, options, summary, progress)
    _yara(case, options, summary, progress)
    t = time.perf_counter()
    summary.findings = _unique(summary.findings)
    summary.files.extend(write_findings(case, summary.findings))
    summary.files.append(write_outcomes(case, summary.outcomes))
    case.refresh_views()  # once: the findings, finding_records and iocs views
    summary.timings["write"] = time.perf_counter() - t
    post_hunt(case, summary)
    for hook in after:
        hook(case, summary)
    return summary


def post_hunt(case: Case, summary: HuntSummary) -> None:
    """Hook point for the stages that follow a hunt (timeline, report, story).

    Called after the findings files are written and the views refreshed; add calls here (or
    pass ``after=`` callbacks to ``run_hunt``). It does nothing yet.
    """
    return None


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


def _sql(case: Case, options: HuntOptions, summary: HuntSummary, progress: Progress) -> None:
    dirs = ([DEFAULT_QUERIES] if options.default_queries and DEFAULT_QUERIES.is_dir() else []) + list(
        options.queries
    )
    if not dirs:
        return
    t = time.perf_counter()
    hunts, problems = load_hunts(dirs)
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
    loaded = load_ioc_paths(paths)
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
    rules = compile_rules(paths)
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
