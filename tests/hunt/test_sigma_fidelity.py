"""Fidelity against a peer: we find >= 95% of the (rule, file) pairs Zircolite finds on EVTX-ATTACK-SAMPLES.

The reference (``reference/zircolite-eas-sigma-pairs.json``) is Zircolite 3.7.0 with the same
SigmaHQ windows rules. Known differences, either way, are listed in the test's failure message
and in the hunt documentation: Zircolite maps ``registry_delete`` to every Sysmon 12 event (we
require a Delete* EventType), and it matches fields absent from an event differently.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forensics.hunt.sigma import run_sigma
from forensics.ingest.runner import ingest_paths
from forensics.store import Case


@pytest.mark.slow
def test_zircolite_pairs_found(shared_data: Path, tmp_path: Path) -> None:
    ref = json.loads((shared_data / "reference" / "zircolite-eas-sigma-pairs.json").read_text())
    want = {(p["rule_id"], p["file"]) for p in ref["pairs"]}
    assert len(want) == 632
    ingest_paths(tmp_path / "case", [shared_data / "EVTX-ATTACK-SAMPLES"])
    with Case.open(tmp_path / "case", read_only=True) as case:
        names = {
            sha: Path(p).name for sha, p in case.con.execute("SELECT sha256, path FROM inputs").fetchall()
        }
        res = run_sigma(case, [shared_data / "sigma" / "rules" / "windows"])
    got = {(f.rule_id, names.get(r.input_sha256)) for f in res.findings for r in f.records}
    found = want & got
    missing = sorted(want - got)
    share = len(found) / len(want)
    assert share >= 0.95, f"found {len(found)}/{len(want)} ({share:.1%}); missing: {missing[:40]}"
