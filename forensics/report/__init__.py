"""The HTML report: one self-contained file an investigating officer opens offline.

``render_report(case)`` returns the whole document as text: summary, timeline chart, ATT&CK
matrix heat map, lateral-movement graph, findings with their records, and the integrity section.

Rules the document keeps:
* no network: CSS, the small script and both SVG drawings are inline; a Content-Security-Policy
  forbids every fetch (``default-src 'none'``) and allows only our own script, by its hash;
* log content is attacker-controlled: the document is rendered by Jinja2 templates with
  autoescaping on (``report/templates``), so ``<script>`` in a command line shows as text
  whatever section prints it;
* deterministic bytes: no wall-clock time in the output, everything sorted, fixed number formats.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from forensics.hunt.findings import Finding, read_findings
from forensics.integrity import Integrity, assess, settle
from forensics.navigator import layer
from forensics.report.sections import ReportData, build_document
from forensics.store import Case
from forensics.story import Story, build_story

__all__ = ["render_report", "write_report"]


def _asset(name: str) -> str:
    return files("forensics.report").joinpath(name).read_text(encoding="utf-8")


def script_hash(script: str) -> str:
    """CSP source expression allowing exactly this inline script."""
    return (
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"
    )


def render_report(
    case: Case,
    *,
    raw_records: bool = False,
    findings: Sequence[Finding] | None = None,
    integrity: Integrity | None = None,
    story: Story | None = None,
    run: str | None = None,
) -> str:
    """The report of a case as one HTML document (text).

    ``raw_records`` also re-extracts each shown record from the original input (slower: every
    input is read and re-hashed); otherwise the parsed record with its provenance is shown.
    ``findings`` (default: those of hunt run ``run``, None the latest), ``integrity`` and
    ``story`` are computed here when not given; the story must be of the same findings. The
    document names the run (``run``: the run the given findings are of).
    """
    settle(case)
    run = case.resolve_run(run) if findings is None else run
    if findings is None:
        findings = read_findings(case, run)
    integ = integrity if integrity is not None else assess(case)
    if story is None:
        story = build_story(case, integ, findings=findings)
    nav = layer(case, findings=findings)
    data = ReportData.collect(case, integ, story, findings, nav, raw_records=raw_records, run=run)
    script = _asset("app.js")
    return build_document(data, css=_asset("style.css"), script=script, script_csp=script_hash(script))


def write_report(case: Case, out: Path, *, raw_records: bool = False, run: str | None = None) -> Path:
    """Render the report of hunt run ``run`` (None: the latest) and write it (UTF-8) to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(case, raw_records=raw_records, run=run), encoding="utf-8", newline="\n")
    return out
