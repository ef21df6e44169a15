"""ATT&CK Navigator layer (JSON) of the techniques the hunts found.

Load the file in https://mitre-attack.github.io/attack-navigator/ ("Open Existing Layer"). Each
technique found is scored by the number of findings that name it and coloured from yellow to
red; its comment lists the finding titles and hosts. Output is deterministic (sorted techniques).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from forensics.attack import technique_name, technique_tactics
from forensics.hunt.findings import Finding, read_findings
from forensics.store import Case

LAYER_VERSION = "4.5"
NAVIGATOR_VERSION = "5.1.0"
ATTACK_VERSION = "15"
MAX_COMMENT_TITLES = 10


def layer(
    case: Case, name: str | None = None, *, findings: Sequence[Finding] | None = None, run: str | None = None
) -> dict[str, Any]:
    """The Navigator layer for ``findings`` (default: those of hunt run ``run``, None the latest)."""
    if findings is None:
        findings = read_findings(case, run)
    by_tech: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        for t in f.techniques:
            by_tech[t].append(f)
    techniques = []
    max_score = 1
    for tid in sorted(by_tech):
        fs = by_tech[tid]
        titles = sorted({f.title or f.rule_id or "" for f in fs})
        hosts = sorted({f.host for f in fs if f.host})
        comment = "; ".join(titles[:MAX_COMMENT_TITLES])
        if len(titles) > MAX_COMMENT_TITLES:
            comment += f"; and {len(titles) - MAX_COMMENT_TITLES} more"
        entry: dict[str, Any] = {
            "techniqueID": tid,
            "score": len(fs),
            "comment": comment,
            "enabled": True,
            "showSubtechniques": "." in tid,
            "metadata": [
                {"name": "name", "value": technique_name(tid)},
                {"name": "hosts", "value": ", ".join(hosts) or "-"},
                {"name": "findings", "value": str(len(fs))},
            ],
        }
        techniques.append(entry)
        max_score = max(max_score, len(fs))
        # a sub-technique shows only when its parent is expanded: mark the parent too
        if "." in tid and tid.split(".")[0] not in by_tech:
            techniques.append({"techniqueID": tid.split(".")[0], "showSubtechniques": True, "enabled": True})
    techniques.sort(key=lambda t: (t["techniqueID"], "score" not in t))
    tactics = sorted({tac for tid in by_tech for tac in technique_tactics(tid)})
    return {
        "name": name or f"forensics case {case.root.name}",
        "versions": {"attack": ATTACK_VERSION, "navigator": NAVIGATOR_VERSION, "layer": LAYER_VERSION},
        "domain": "enterprise-attack",
        "description": f"{len(findings)} findings, {len(by_tech)} techniques; tactics: {', '.join(tactics) or '-'}",
        "sorting": 3,
        "layout": {"layout": "side", "showID": True, "showName": True, "aggregateFunction": "max"},
        "hideDisabled": False,
        "techniques": techniques,
        "gradient": {"colors": ["#fff7bc", "#fe9929", "#d7301f"], "minValue": 0, "maxValue": max_score},
        "legendItems": [{"label": "technique seen in findings (score = findings)", "color": "#fe9929"}],
        "showTacticRowBackground": True,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": True,
    }
