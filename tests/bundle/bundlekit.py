"""Test kit for bundles: a small case (synthetic EVTX ingested for real, findings written by the hunt writer) and tools
to tamper with bundles made from it."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from forensics.bundle import manifest as mf
from forensics.bundle.casefile import CaseDetails
from forensics.bundle.export import export_bundle
from forensics.bundle.signing import keygen, load_private, sign_manifest
from forensics.custody import append_entry
from forensics.hunt.findings import Finding, RecordRef
from forensics.hunt.runs import record_findings
from forensics.ingest.runner import ingest_paths
from forensics.store import Case
from forensics.testing.evtx_writer import WinEvent, write_evtx

PINNED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
T0 = datetime(2024, 11, 2, 21, 40, tzinfo=UTC)


@dataclass
class Built:
    """A case with findings and custody, its originals folder and a signing key."""

    root: Path
    case: Path
    sources: Path
    key: Path
    fingerprint: str
    input_sha: str
    details: CaseDetails

    def export(self, out: Path, details: CaseDetails | None = None, **kw: Any) -> Path:
        """Export the case to ``out`` with the pinned time and the key (options as ``export_bundle``)."""
        opts: dict[str, Any] = {"created": PINNED, "key_path": self.key, **kw}
        export_bundle(self.case, out, details or self.details, **opts)
        return out


def _events() -> list[WinEvent]:
    sec = "Microsoft-Windows-Security-Auditing"
    evs = [
        WinEvent(sec, 4625, T0.replace(second=i), "Security", "HOSP-DC01",
                 event_data=(("TargetUserName", "administrator"), ("IpAddress", "203.0.113.45"), ("LogonType", "3")))
        for i in range(3)
    ]  # fmt: skip
    evs.append(WinEvent(sec, 4624, T0.replace(minute=41), "Security", "HOSP-DC01",
                        event_data=(("TargetUserName", "administrator"), ("IpAddress", "203.0.113.45"))))  # fmt: skip
    evs.append(WinEvent("Microsoft-Windows-Eventlog", 1102, T0.replace(minute=50), "Security", "HOSP-DC01",
                        user_data=("LogFileCleared", (("SubjectUserName", "administrator"),))))  # fmt: skip
    return evs


def build_case(root: Path) -> Built:
    """Ingest a synthetic Security log, write three findings (one TLP:RED) and two custody entries."""
    sources = root / "originals"
    evtx = write_evtx(sources / "HOSP-DC01" / "Security.evtx", _events())
    case_dir = root / "case"
    append_entry(case_dir, "collected", person="SI Rao", location="Hospital server room",
                 purpose="collect Security log", evidence_ids=["EXH-1"], time=datetime(2024, 11, 3, 4, 0, tzinfo=UTC))  # fmt: skip
    ingest_paths(case_dir, [evtx], workers=1)
    rule = root / "rules" / "brute_force.yml"
    rule.parent.mkdir(parents=True)
    rule.write_text(
        "title: Brute force\nlogsource: {product: windows, service: security}\n", encoding="utf-8"
    )
    rule_sha = hashlib.sha256(rule.read_bytes()).hexdigest()
    with Case.open(case_dir) as case:
        sha = case.con.execute("SELECT sha256 FROM inputs").fetchone()[0]  # type: ignore[index]
        record_findings(case, [
            Finding("sigma", "brute-1", "Brute force then success", "high", "HOSP-DC01", T0, T0.replace(minute=41),
                    [RecordRef(sha, i) for i in range(4)], attack=["T1110.001"], tactics=["credential-access"],
                    rule_path=str(rule), rule_sha256=rule_sha),
            Finding("sigma", "clear-1", "Security log cleared", "high", "HOSP-DC01", T0.replace(minute=50),
                    T0.replace(minute=50), [RecordRef(sha, 4)], attack=["T1070.001"]),
            Finding("ioc", "ioc-red", "Known C2 address", "critical", "HOSP-DC01", T0, T0,
                    [RecordRef(sha, 0)], tlp="TLP:RED", details='{"value":"203.0.113.45"}'),
        ])  # fmt: skip
    # ingest appended its own "hashed" entry at the current time: this one must come after it
    append_entry(case_dir, "analysed", person="Analyst Iyer", location="State cyber lab", purpose="hunt")
    key, _pub, fp = keygen(root / "keys" / "signer.pem")
    details = CaseDetails(fir_number="0042/2025", police_station="Cyber Crime PS, Bengaluru", agency="CID Karnataka",
                          sections=["66 IT Act", "318 BNS"], proceeding_date="2025-01-15", operator="Analyst Iyer",
                          organisation="City Hospital")  # fmt: skip
    return Built(root, case_dir, sources, key, fp, sha, details)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One case per test module (ingest is the slow part)."""
    return build_case(tmp_path_factory.mktemp("bundlecase"))


@pytest.fixture(scope="module")
def bundle(built: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A signed bundle of the case, never modified by tests (they copy it)."""
    return built.export(tmp_path_factory.mktemp("bundle") / "bundle.zip")


def read_members(path: Path) -> dict[str, bytes]:
    """Name → bytes of every member."""
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def write_members(path: Path, members: dict[str, bytes], infos: list[zipfile.ZipInfo] | None = None) -> Path:
    """Write members into a new zip at ``path`` (in the given order)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())
    return path


def reseal(members: dict[str, bytes], key: Path | None) -> dict[str, bytes]:
    """Recompute hash lists, manifest entries and the signature after a change, as a forger would."""
    out = dict(members)
    for name in (mf.SHA256SUMS, mf.MD5SUMS):
        out.pop(name, None)
    out[mf.SHA256SUMS] = mf.sums_text(out, "sha256")
    out[mf.MD5SUMS] = mf.sums_text(out, "md5")
    man = json.loads(out[mf.MANIFEST])
    man["files"] = [mf.file_entry(p, out[p]).to_dict() for p in sorted(out) if p not in mf.UNLISTED]
    out[mf.MANIFEST] = mf.pretty(man)
    if key is not None:
        out[mf.SIGNATURE] = sign_manifest(out[mf.MANIFEST], load_private(key))
    return out


Tamper = Callable[[dict[str, bytes]], dict[str, bytes]]


def flip_byte(data: bytes, at: int | None = None) -> bytes:
    """``data`` with one byte changed (in the middle by default), keeping it printable."""
    i = len(data) // 2 if at is None else at
    b = bytearray(data)
    b[i] = ord("X") if b[i] != ord("X") else ord("Y")
    return bytes(b)
