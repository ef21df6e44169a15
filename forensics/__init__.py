"""forensics: log forensics and IOC hunting into one Parquet case store.

The library under the ``forensics`` command. The names below are the public API; modules whose
names start with an underscore or that are not re-exported here may change without notice::

    from forensics import Case, ingest_paths, HuntOptions, run_hunt, write_case_outputs, read_findings
    summary = ingest_paths(Path("cases/dims"), [Path("/evidence")])
    with Case.open("cases/dims") as case:
        hunt = run_hunt(case, HuntOptions(sigma=[Path("sigma/rules")]))   # a new run, hunt.run_id
        outputs = write_case_outputs(case, hunt.run_id)          # timeline, report, Navigator layer
        findings = read_findings(case, hunt.run_id)              # typed Finding records

Heavy modules load on first use, so ``import forensics`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Case": "forensics.store",
    "ParseContext": "forensics.ingest.base",
    "ingest_paths": "forensics.ingest.runner",
    "IngestSummary": "forensics.ingest.runner",
    "HuntOptions": "forensics.hunt.engine",
    "HuntSummary": "forensics.hunt.engine",
    "run_hunt": "forensics.hunt.engine",
    "HuntUsageError": "forensics.hunt.engine",
    "Finding": "forensics.hunt.findings",
    "RecordRef": "forensics.hunt.findings",
    "read_findings": "forensics.hunt.findings",
    "list_runs": "forensics.hunt.runs",
    "analyse": "forensics.case_outputs",
    "write_case_outputs": "forensics.case_outputs",
    "build_timeline": "forensics.timeline",
    "write_timeline": "forensics.timeline",
    "build_story": "forensics.story",
    "assess": "forensics.integrity",
    "render_report": "forensics.report",
    "ForensicsError": "forensics.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'forensics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
