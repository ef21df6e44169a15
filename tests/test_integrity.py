"""Integrity per host: coverage, clearing, record-id gaps, tampering, silences and clock skew."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.integrity import MIN_APPLIED_SKEW_S, assess
from forensics.timeline import build_timeline

sys.path.insert(
    0, str(Path(__file__).resolve().parent)
)  # --import-mode=importlib puts no test folder on sys.path
from casekit import SKEW_S, at, attack_case, build_case


def _hop_events(
    skew: float, hops: int = 4, spacing: float = 45.0, latency: float = 0.7
) -> list[dict[str, Any]]:
    """SRV02 logs explicit-credential logons to APP07; APP07's clock runs ``skew`` seconds off."""
    evs: list[dict[str, Any]] = []
    for k in range(hops):
        t = 1000 + spacing * k
        evs.append({"host": "SRV02.corp.local", "ts": at(t), "event_id": 4648, "TargetUserName": "svc_backup",
                    "TargetServerName": "app07", "user_name": "svc_backup"})  # fmt: skip
        evs.append({"host": "APP07.corp.local", "ts": at(t + skew + latency), "event_id": 4624, "LogonType": "3",
                    "TargetUserName": "CORP\\svc_backup", "IpAddress": "::ffff:10.1.1.2", "WorkstationName": "-"})  # fmt: skip
    # SRV02's own address, learnt from a logon it made elsewhere
    evs.append({"host": "DC9", "ts": at(900), "event_id": 4624, "LogonType": "3", "TargetUserName": "x",
                "IpAddress": "10.1.1.2", "WorkstationName": "SRV02"})  # fmt: skip
    return evs


@pytest.mark.parametrize("skew", [300.0, -127.0, 42.5])
def test_skewed_host_offset_estimated_within_seconds(tmp_path: Path, skew: float) -> None:
    case = build_case(tmp_path / "c", _hop_events(skew))
    integ = assess(case)
    # only the difference between two clocks can be known; one of them is the reference
    relative = integ.offsets.get("APP07.corp.local", 0.0) - integ.offsets.get("SRV02.corp.local", 0.0)
    assert relative == pytest.approx(skew, abs=2.0)
    assert len(integ.offsets) == 1 and len(integ.reference_hosts) == 1
    pair = integ.clock_pairs[0]
    assert (pair["source_host"], pair["target_host"], pair["pairs"]) == (
        "SRV02.corp.local",
        "APP07.corp.local",
        4,
    )
    case.close()


def test_small_offsets_are_not_applied(tmp_path: Path) -> None:
    case = build_case(tmp_path / "c", _hop_events(0.0, latency=0.9))
    integ = assess(case)
    assert integ.clock_pairs and abs(integ.clock_pairs[0]["median_offset_s"]) < MIN_APPLIED_SKEW_S
    assert integ.offsets == {}
    case.close()


def test_scenario_skew_and_corrected_order(tmp_path: Path) -> None:
    case, ev = attack_case(tmp_path / "c")
    integ = assess(case)
    assert integ.offsets == {"FS01": pytest.approx(SKEW_S, abs=2.0)}
    assert integ.reference_hosts == ["WKS01"]
    rows = [r for r in build_timeline(case, "full", integrity=integ).to_pylist() if r["row_type"] == "event"]
    keys = [(r["input_sha256"], r["rec_index"]) for r in rows]
    i_4648 = keys.index((ev["x4648_0"]["input_sha256"], ev["x4648_0"]["rec_index"]))
    i_4624 = keys.index((ev["x4624_0"]["input_sha256"], ev["x4624_0"]["rec_index"]))
    i_svc = keys.index((ev["svc"]["input_sha256"], ev["svc"]["rec_index"]))
    i_dc = keys.index((ev["dc_fails"][0]["input_sha256"], ev["dc_fails"][0]["rec_index"]))
    # the paired logons line up (the network delay is folded into the offset)
    assert abs((rows[i_4624]["ts_corrected"] - rows[i_4648]["ts_corrected"]).total_seconds()) < 2
    # recorded, FS01's PsExec service (T+422) came after DC01's spray (T+200); really it was at T+122, before it
    assert ev["svc"]["ts"] > ev["dc_fails"][0]["ts"]
    assert i_4648 < i_svc < i_dc
    case.close()


def test_clearing_gaps_and_coverage(tmp_path: Path) -> None:
    case, ev = attack_case(tmp_path / "c")
    integ = assess(case)
    (clear,) = integ.clearings
    assert (clear["host"], clear["event_id"], clear["cleared_channel"], clear["by"]) == (
        "DC01",
        1102,
        "Security",
        "alice",
    )
    assert (
        clear["gap_from_utc"] == "2024-03-05T09:05:00.000000Z"
    )  # the last DC01 Security event before the clear
    (gap,) = integ.record_gaps
    assert (gap["host"], gap["channel"], gap["missing"]) == ("DC01", "Security", 7)
    assert integ.record_gaps_total == 1 and integ.record_gaps_missing == 7
    cov = {(c["host"], c["channel"]): c for c in integ.coverage}
    assert cov[("WKS01", "Security")]["events"] == sum(1 for e in ev["all"] if e["host"] == "WKS01")
    assert cov[("web01", "auth")]["zones"] == "UTC"
    json.dumps(integ.to_dict())  # plain JSON
    case.close()


def test_system_104_assumed_zone_tampering_and_silence(tmp_path: Path) -> None:
    evs: list[dict[str, Any]] = [
        {"host": "H", "channel": "Application", "ts": at(0), "event_id": 1},
        {"host": "H", "channel": "System", "ts": at(50), "event_id": 104, "SubjectUserName": "eve",
         "Channel_native": "Application"},
        {"host": "H", "channel": "Security", "ts": at(60), "event_id": 4688,
         "process_cmdline": "wevtutil.exe cl Security"},
    ]  # fmt: skip
    # a syslog written every 10 s, silent for 12 hours, then again; the zone was assumed
    for i in range(40):
        t = i * 10 + (43200 if i >= 30 else 0)
        evs.append({"host": "lnx", "source": "syslog", "channel": "auth", "ts": at(t), "rec_line": i + 1,
                    "ts_zone": "Asia/Kolkata", "ts_assumed": True, "message": f"sshd[1]: line {i}"})  # fmt: skip
    evs.append({"host": "lnx", "source": "syslog", "channel": "bash", "ts": at(5), "rec_line": 1,
                "message": "cat /dev/null > /var/log/auth.log"})  # fmt: skip
    case = build_case(tmp_path / "c", evs)
    integ = assess(case)
    (clear,) = integ.clearings
    assert (clear["event_id"], clear["cleared_channel"], clear["by"]) == (104, "Application", "eve")
    assert clear["gap_from_utc"] == "2024-03-05T09:00:00.000000Z"
    assert {t["host"] for t in integ.tampering} == {"H", "lnx"}
    (sil,) = integ.silences
    assert sil["host"] == "lnx" and sil["gap_s"] == pytest.approx(43210)
    cov = {(c["host"], c["channel"]): c for c in integ.coverage}
    assert cov[("lnx", "auth")]["zone_assumed"] is True and cov[("lnx", "auth")]["zones"] == "Asia/Kolkata"
    case.close()


def test_cli_integrity(tmp_path: Path) -> None:
    case, _ = attack_case(tmp_path / "c")
    case.close()
    res = CliRunner().invoke(app, ["integrity", str(tmp_path / "c"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["clock_offsets_s"]["FS01"] == pytest.approx(SKEW_S, abs=2)
    res = CliRunner().invoke(app, ["integrity", str(tmp_path / "c")])
    assert res.exit_code == 0 and "log cleared: DC01 Security" in res.stdout
