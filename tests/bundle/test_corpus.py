"""A bundle from real public EVTX (DeepBlueCLI samples): records re-extract byte-for-byte from the originals."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

from bundlekit import read_members

from forensics.bundle import manifest as mf
from forensics.bundle.casefile import CaseDetails
from forensics.bundle.export import export_bundle
from forensics.bundle.signing import keygen
from forensics.bundle.verify import FAILED, verify_bundle
from forensics.hunt.findings import Finding, RecordRef
from forensics.hunt.runs import record_findings
from forensics.ingest.runner import ingest_paths
from forensics.store import Case


def test_real_evtx_bundle_verifies_against_the_originals(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "DeepBlueCLI" / "evtx"
    files = [folder / "password-spray.evtx", folder / "disablestop-eventlog.evtx"]
    before = {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    ingest_paths(tmp_path / "case", files, workers=1)
    with Case.open(tmp_path / "case") as case:
        rows = case.con.execute(
            "SELECT input_sha256, rec_index, host, ts, event_id FROM events WHERE event_id IN (4648, 104) "
            "QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY rec_index) <= 20 "
            "ORDER BY input_sha256, rec_index"
        ).fetchall()
        assert {r[4] for r in rows} == {4648, 104}
        findings = [
            Finding("sql", f"eid-{eid}", f"event {eid}", "high", rs[0][2], min(r[3] for r in rs),
                    max(r[3] for r in rs), [RecordRef(r[0], r[1]) for r in rs])
            for eid in (4648, 104)
            for rs in [[r for r in rows if r[4] == eid]]
        ]  # fmt: skip
        record_findings(case, findings)
    key, _, fp = keygen(tmp_path / "k.pem")
    out = tmp_path / "real.zip"
    export_bundle(tmp_path / "case", out, CaseDetails(fir_number="9/2025", proceeding_date="2025-02-02"),
                  created=datetime(2025, 2, 3, tzinfo=UTC), key_path=key)  # fmt: skip
    checks = {c.name: c for c in verify_bundle(out, expected_fingerprint=fp, sources=folder)}
    assert not [c for c in checks.values() if c.status == FAILED], checks
    assert checks["sources"].detail.startswith("2 originals re-hash")
    recs = [json.loads(x) for x in read_members(out)[mf.RECORDS].decode().splitlines()]
    # every finding record is in the bundle (the context timeline may add the events around them)
    refs = {(r["input_sha256"], r["rec_index"]) for r in recs}
    assert {(r[0], r[1]) for r in rows} <= refs and all(r["kind"] == "evtx" for r in recs)
    assert before == {f: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}  # originals untouched
