"""The investigator's view of a hunt run, computed once and handed to every output.

``analyse(case, run)`` reads the run's findings and computes the integrity assessment and the
story once; ``write_case_outputs(case, run)`` hands that one ``Analysis`` to the timeline (CSV and
Timesketch JSONL), the HTML report, the ATT&CK Navigator layer and the csv-timeline, written
under ``outputs/``.
The evidence bundle (``forensics.bundle``) builds its members from an ``Analysis`` too.

``outputs/`` always shows one run (the latest unless another is asked for) and says which:
its files are derived from the case and that run's findings, byte for byte, so writing them again
loses nothing — ``forensics report CASE --run ID`` rebuilds any earlier run's view.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import orjson

from forensics.hits import hit_records, share_hits
from forensics.hunt.findings import Finding, read_findings
from forensics.integrity import Integrity, assess
from forensics.navigator import layer
from forensics.outputs.csv_timeline import write_case_csv_timeline
from forensics.report import render_report
from forensics.store import Case
from forensics.story import Story, build_story
from forensics.timeline import build_timeline, write_timeline

OUTPUTS_DIR = "outputs"


@dataclass(frozen=True)
class Analysis:
    """A hunt run's findings with the integrity assessment and story computed from them, once."""

    run: str | None  # the run the findings are of (None: the case was never hunted)
    findings: tuple[Finding, ...]
    integrity: Integrity
    story: Story


def analyse(case: Case, run: str | None = None, *, findings: Sequence[Finding] | None = None) -> Analysis:
    """Integrity and story of hunt run ``run`` (None: the latest), each computed once.

    ``findings`` replaces the run's own (the evidence bundle leaves TLP:RED ones out); the
    story is then told from those only.
    """
    run_id = case.resolve_run(run)
    chosen = tuple(findings) if findings is not None else tuple(read_findings(case, run_id))
    integ = assess(case)
    story = build_story(case, integ, findings=chosen)
    return Analysis(run_id, chosen, integ, story)


@dataclass(frozen=True)
class CaseOutputs:
    """What ``write_case_outputs`` wrote, and the analysis it wrote it from."""

    analysis: Analysis
    files: tuple[Path, ...]


def write_case_outputs(case: Case, run: str | None = None, outdir: Path | None = None) -> CaseOutputs:
    """Write the timeline (CSV, Timesketch JSONL), the HTML report, the Navigator layer and the
    Hayabusa-style csv-timeline (one row per matched record) of hunt run
    ``run`` (None: the latest) into ``outdir`` (default ``CASE/outputs``)."""
    run_id = case.resolve_run(run)
    findings = tuple(read_findings(case, run_id))
    dest = outdir if outdir is not None else case.root / OUTPUTS_DIR
    dest.mkdir(parents=True, exist_ok=True)
    # Both cores, each step on one connection at a time (DuckDB releases the GIL while it runs
    # a statement): the records the findings fired on are read on a second connection (one scan;
    # the timeline, the report and the csv-timeline read them) while this thread assesses the case
    # and tells the story; then the timeline is built there while this thread renders the report
    # (Python, Jinja2); the timeline's two files are written from the Arrow table alone, column by
    # column in Arrow's kernels, in threads, while this thread writes the report, the layer and
    # the csv-timeline. Each output is what it is sequentially; an error is raised here.
    with case.sibling() as side, ThreadPoolExecutor(max_workers=2, thread_name_prefix="outputs") as pool:
        reading = pool.submit(hit_records, side, findings)
        analysis = analyse(case, run_id, findings=findings)
        hits = reading.result()
        share_hits(side, case)
        timeline = pool.submit(build_timeline, side, mode="context", integrity=analysis.integrity,
                               findings=analysis.findings)  # fmt: skip
        report = dest / "report.html"
        html = render_report(
            case, findings=analysis.findings, integrity=analysis.integrity, story=analysis.story, run=analysis.run
        )
        table = timeline.result()
        writers = [
            pool.submit(write_timeline, table, "csv", dest / "timeline.csv"),
            pool.submit(write_timeline, table, "timesketch", dest / "timeline.timesketch.jsonl"),
        ]
        report.write_text(html, encoding="utf-8", newline="\n")
        nav = dest / "navigator-layer.json"
        nav.write_bytes(
            orjson.dumps(
                layer(case, findings=analysis.findings), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
            )
            + b"\n"
        )
        csv_timeline = write_case_csv_timeline(case, analysis.run, dest / "csv-timeline.csv", hits=hits)[0]
        files = [*(w.result() for w in writers), report, nav, csv_timeline]
    return CaseOutputs(analysis, tuple(files))
