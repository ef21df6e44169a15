"""The incident story (phases, patient zero, lateral movement, IOCs, impact, what held) and the Navigator layer."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forensics.attack import TACTIC_ORDER, norm_tactic, norm_technique, tactics_for
from forensics.cli import app
from forensics.navigator import layer
from forensics.story import build_story, is_external

sys.path.insert(
    0, str(Path(__file__).resolve().parent)
)  # --import-mode=importlib puts no test folder on sys.path
from casekit import at, attack_case, build_case, hunt_sql


@pytest.fixture
def story(tmp_path: Path):
    case, _ = attack_case(tmp_path / "case")
    s = build_story(case)
    case.close()
    return s


def test_phases_in_attack_order(story) -> None:
    tactics = [p["tactic"] for p in story.phases]
    known = [t for t in tactics if t in TACTIC_ORDER]
    assert known == sorted(known, key=TACTIC_ORDER.__getitem__)
    assert known == ["execution", "defense-evasion", "credential-access", "lateral-movement", "impact"]
    impact = next(p for p in story.phases if p["tactic"] == "impact")
    assert impact["hosts"] == ["FS01"] and impact["techniques"] == ["T1490"]
    # corrected time: FS01's clock is 300 s fast, the shadow deletion really happened at T+400 (+0.4 s latency)
    assert impact["first_utc"].startswith("2024-03-05T09:06:39")
    assert tactics[-1] == "unmapped"  # the IOC finding names no technique


def test_patient_zero_and_entry_point(story) -> None:
    assert story.patient_zero["host"] == "WKS01"
    e = story.entry_point
    assert (e["host"], e["account"], e["source_ip"], e["method"]) == ("WKS01", "alice", "203.0.113.50", "RDP")
    assert e["ts_utc"] == "2024-03-05T09:00:40.000000Z" and e["ts_ist"].startswith("2024-03-05T14:30:40")
    assert story.first_finding["title"] == "RDP brute force then success"


def test_lateral_movement_edges(story) -> None:
    edges = {(e["source"], e["target"], e["method"]): e for e in story.lateral}
    assert ("203.0.113.50", "WKS01", "RDP") in edges
    psexec = edges[("WKS01", "FS01", "SMB/PsExec")]
    assert psexec["account"] == "alice"
    # 3 explicit-credential logons from PsExec.exe, the PSEXESVC share write and the 7045 service
    assert psexec["count"] == 5
    assert psexec["first_utc"] == "2024-03-05T09:02:00.000000Z"  # corrected: FS01's records moved back 300 s
    ssh = edges[("WKS01", "web01", "SSH")]
    assert ssh["account"] == "bob"
    assert all(e["source"] != e["target"] for e in story.lateral)
    firsts = [e["first_utc"] for e in story.lateral]
    assert firsts == sorted(firsts)


def test_iocs_impact_and_what_did_not_fall(story) -> None:
    (ioc,) = story.iocs
    assert (ioc["value"], ioc["type"], ioc["tlp"], ioc["hosts"]) == ("203.0.113.50", "ip", "amber", ["WKS01"])
    assert ioc["first_utc"] == ioc["last_utc"] == "2024-03-05T09:00:40.000000Z"
    (impact,) = story.impact
    assert impact["host"] == "FS01" and [k["what"] for k in impact["kinds"]] == ["shadow copy deletion"]
    assert impact["kinds"][0]["count"] == 1  # the finding and its event are one sighting
    (held,) = story.did_not_fall
    assert (held["target"], held["source_ip"], held["failures"], held["accounts"]) == (
        "DC01",
        "198.51.100.7",
        25,
        5,
    )
    fell = next(b for b in story.brute_force if b["succeeded"])
    assert (fell["target"], fell["success_account"], fell["failures"]) == ("WKS01", "alice", 30)


def test_render_text_and_json(story) -> None:
    text = story.render_text()
    assert "Patient zero: WKS01" in text
    assert "WKS01 -> FS01  SMB/PsExec" in text
    assert "198.51.100.7 -> DC01: 25 failures on 5 accounts" in text and "never succeeded" in text
    d = json.loads(json.dumps(story.to_dict()))
    assert d["did_not_fall"][0]["target"] == "DC01"


def test_linux_ssh_brute_force_and_empty_case(tmp_path: Path) -> None:
    evs = [{"host": "web9", "source": "syslog", "channel": "auth", "ts": at(i), "rec_line": i + 1,
            "message": f"Failed password for invalid user admin{i} from 45.33.32.156 port 4{i:04d} ssh2"}
           for i in range(12)]  # fmt: skip
    evs.append({"host": "web9", "source": "syslog", "channel": "auth", "ts": at(30), "rec_line": 13,
                "message": "Accepted password for root from 45.33.32.156 port 40100 ssh2"})  # fmt: skip
    case = build_case(tmp_path / "c", evs)
    hunt_sql(case)  # the story tells the brute force the hunts found
    s = build_story(case)
    (b,) = s.brute_force
    assert b["succeeded"] and b["success_account"] == "root" and b["failures"] == 12 and b["accounts"] == 12
    assert s.entry_point["method"] == "SSH" and s.patient_zero["host"] == "web9"
    case.close()
    empty = build_story(build_case(tmp_path / "e", []))
    assert empty.phases == [] and empty.patient_zero is None and "INCIDENT STORY" in empty.render_text()


def test_attack_helpers() -> None:
    assert norm_technique("attack.t1059.001") == "T1059.001"
    assert norm_technique("attack.execution") is None
    assert norm_tactic("attack.lateral_movement") == "lateral-movement"
    assert norm_tactic("TA0040") == "impact"
    assert tactics_for(["T1078"], []) == [
        "initial-access",
        "persistence",
        "privilege-escalation",
        "defense-evasion",
    ]
    assert is_external("8.8.8.8") and is_external("203.0.113.9")
    assert not is_external("10.0.0.1") and not is_external("::1") and not is_external("-")


def test_navigator_layer(tmp_path: Path) -> None:
    case, _ = attack_case(tmp_path / "c")
    lay = layer(case)
    assert lay["domain"] == "enterprise-attack" and lay["versions"]["layer"] == "4.5"
    scored = {t["techniqueID"]: t for t in lay["techniques"] if "score" in t}
    assert set(scored) == {"T1021.002", "T1059.001", "T1070.001", "T1110.001", "T1490", "T1569.002"}
    assert scored["T1490"]["score"] == 1 and scored["T1490"]["comment"] == "Shadow copies deleted"
    ids = [t["techniqueID"] for t in lay["techniques"]]
    assert ids == sorted(ids) and "T1059" in ids  # parents of sub-techniques shown expanded
    assert json.dumps(layer(case), sort_keys=True) == json.dumps(lay, sort_keys=True)
    case.close()


def test_cli_story(tmp_path: Path) -> None:
    case, _ = attack_case(tmp_path / "c")
    case.close()
    res = CliRunner().invoke(app, ["story", str(tmp_path / "c"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["patient_zero"]["host"] == "WKS01"
    res = CliRunner().invoke(app, ["story", str(tmp_path / "c")])
    assert res.exit_code == 0 and "Lateral movement:" in res.stdout
    res = CliRunner().invoke(app, ["story", str(tmp_path / "missing")])
    assert res.exit_code == 1
