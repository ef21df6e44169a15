"""``verify --reproduce``: rebuild the case from the originals, re-run the recorded hunt with the
rule files kept in the bundle, and compare the findings with the bundle's.

It needs three things: the originals (``--sources``), the hunt's own record of its run (the
``hunt`` step of ``provenance/commands.jsonl``, taken from ``findings/run.json`` at export), and
a hunt entry point ``forensics.hunt.engine.run_hunt(case_dir, rule_files)``. When one is missing
the check fails and says which, since a reproduction that was asked for and not done must not
pass.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from forensics.bundle import manifest as mf

# What two hunts must agree on: ids are content-derived (rule, host, records, details), so equal
# ids mean the same rule fired on the same records.
COMPARED = ("finding_id", "kind", "rule_id", "level", "host", "first_utc", "last_utc", "rule_sha256")


def projection(findings: list[dict[str, Any]]) -> bytes:
    """Canonical bytes of the parts of findings a re-run must reproduce exactly."""
    rows = []
    for f in findings:
        row = {k: f.get(k) for k in COMPARED}
        row["records"] = sorted(r["ref"] for r in f.get("records", []))
        rows.append(row)
    return mf.canonical(sorted(rows, key=lambda r: str(r["finding_id"])))


def _hunt_step(bundle: Any) -> dict[str, Any] | None:
    for line in (bundle.get(mf.COMMANDS) or b"").decode("utf-8").splitlines():
        step = json.loads(line)
        if step.get("step") == "hunt" and isinstance(step.get("run"), dict):
            return step
    return None


def reproduce_findings(bundle: Any, sources_dir: Path | None) -> tuple[bool, str]:
    """(reproduced?, why) for a bundle read by ``forensics.bundle.verify.open_bundle``."""
    if sources_dir is None:
        return False, "cannot reproduce without the originals: give --sources DIR"
    if _hunt_step(bundle) is None:
        return False, "the bundle records no replayable hunt run (the hunt wrote no findings/run.json)"
    try:
        from forensics.hunt.engine import run_hunt  # type: ignore[import-not-found]
    except ImportError as exc:
        return False, f"cannot reproduce: hunt engine not available ({exc})"
    from forensics.bundle.export import ensure_views, read_findings
    from forensics.ingest.runner import ingest_paths
    from forensics.store import Case

    with tempfile.TemporaryDirectory(prefix="forensics-reproduce-") as tmpname:
        tmp = Path(tmpname)
        rules = []
        for name, data in sorted(bundle.members.items()):
            if name.startswith(mf.RULES_DIR) and name != mf.RULES_INDEX:
                dest = tmp / "rules" / Path(name).name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
                rules.append(dest)
        ingest_paths(tmp / "case", [sources_dir], workers=1)
        run_hunt(tmp / "case", rules)
        with Case.open(tmp / "case", read_only=True) as case:
            ensure_views(case)
            again = read_findings(case)
    kept = json.loads(bundle.get(mf.FINDINGS_JSON) or b"[]")
    ids = {f["finding_id"] for f in kept}
    again = [f for f in again if f["finding_id"] in ids or not _is_red(f)]
    if projection(again) == projection(kept):
        return True, f"{len(kept)} findings reproduced identically from the originals and the bundled rules"
    return False, f"re-run gave {len(again)} findings that differ from the bundle's {len(kept)}"


def _is_red(f: dict[str, Any]) -> bool:
    return str(f.get("tlp") or "").upper().removeprefix("TLP:") == "RED"
