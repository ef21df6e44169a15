"""The logon summary and event-id metrics against hand-checked expectations on EVTX-ATTACK-SAMPLES,
and on the demo case's spray, RDP and SSH story.

The expected values were read off the raw records with the `evtx` package (independently of our
ingest): account, domain, address, logon type, status codes, times and counts per event id.
Cost: three EVTX files ingested (a second or two) and the demo case (about 10 s).
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.eidmetrics import eid_metrics, host_metrics
from forensics.ingest.runner import ingest_paths
from forensics.logons import LogonRow, is_system_account, logon_summary
from forensics.report import render_report
from forensics.store import Case

sys.path.insert(0, str(Path(__file__).resolve().parent))  # --import-mode=importlib: casekit is beside us
from casekit import XSS, at, build_case

FILES = (
    "Credential Access/CA_4624_4625_LogonType2_LogonProc_chrome.evtx",
    "Command and Control/DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx",
    "Lateral Movement/LM_WMIC_4648_rpcss.evtx",
)
RCM = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"


def t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture(scope="module")
def eas(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    case = tmp_path_factory.mktemp("eas") / "case"
    ingest_paths(case, [shared_data / "EVTX-ATTACK-SAMPLES" / f for f in FILES], workers=1)
    return case


def _key(r: LogonRow) -> tuple[object, ...]:
    return (r.result, r.source, r.host, r.account, r.domain, r.address, r.workstation, r.logon_type, r.detail,
            r.count, r.first_ts, r.last_ts, r.reasons)  # fmt: skip


def test_logon_summary_matches_the_records_read_by_hand(eas: Path) -> None:
    with Case.open(eas, read_only=True) as c:
        s = logon_summary(c)
    assert [_key(r) for r in s.rows] == [
        # CA_..._chrome: one failed interactive logon, SubStatus 0xc000006a
        ("failure", "4625", "MSEDGEWIN10", "IEUser", "MSEDGEWIN10", None, "MSEDGEWIN10", "2 Interactive", None,
         1, t("2020-09-09T13:18:23.627952Z"), t("2020-09-09T13:18:23.627952Z"), ("wrong password",)),
        # DE_RDP_Tunneling_..._1149: admin01 from 10.0.2.15 six times between 29 Jan and 2 Feb 2019
        ("success", "RDP 1149", "PC01.example.corp", "admin01", "example", "10.0.2.15", None, "RDP authenticated",
         None, 6, t("2019-01-29T23:00:10.212008Z"), t("2019-02-02T22:44:55.932522Z"), ()),
        ("success", "RDP 1149", "IEWIN7", "administrator", "ie11win7", "10.0.2.16", None, "RDP authenticated",
         None, 2, t("2018-11-06T21:45:50.411264Z"), t("2018-11-06T21:49:31.193924Z"), ()),
        ("success", "4624", "MSEDGEWIN10", "IEUser", "MSEDGEWIN10", None, "MSEDGEWIN10", "2 Interactive", None,
         2, t("2020-09-09T13:18:27.714613Z"), t("2020-09-09T13:18:27.714758Z"), ()),
        ("success", "RDP 1149", "PC01.example.corp", "IEUser", "PC01", "10.0.2.16", None, "RDP authenticated",
         None, 1, t("2019-02-13T12:23:53.875115Z"), t("2019-02-13T12:23:53.875115Z"), ()),
        ("success", "RDP 1149", "PC01.example.corp", "admin01", "example", "fe80::80ac:4126:fa58:1b81%10", None,
         "RDP authenticated", None, 1, t("2019-02-13T17:51:19.943338Z"), t("2019-02-13T17:51:19.943338Z"), ()),
        # the tunnelled RDP logon arrives from 127.0.0.1: a local address, shown as none
        ("success", "RDP 1149", "PC01.example.corp", "admin01", "example", None, None, "RDP authenticated",
         None, 1, t("2019-02-13T18:04:57.452386Z"), t("2019-02-13T18:04:57.452386Z"), ()),
        # LM_WMIC_4648_rpcss: user01 used administrator's credentials against WIN-77LTAPHIQ1R
        ("explicit", "4648", "PC01.example.corp", "administrator", "EXAMPLE.CORP", None,
         "WIN-77LTAPHIQ1R.example.corp", None, "by EXAMPLE\\user01", 2, t("2019-03-18T11:27:23.231223Z"),
         t("2019-03-18T11:27:23.261267Z"), ()),
        ("explicit", "4648", "PC01.example.corp", "administrator", "example", None, "WIN-77LTAPHIQ1R.example.corp",
         None, "by EXAMPLE\\user01", 1, t("2019-03-18T11:27:23.271281Z"), t("2019-03-18T11:27:23.271281Z"), ()),
    ]  # fmt: skip
    # the SYSTEM service logon is counted apart, not dropped
    assert [(r.account, r.logon_type, r.count) for r in s.system_rows] == [("SYSTEM", "5 Service", 1)]
    assert s.totals() == {"failure": 1, "success": 13, "explicit": 3}


def test_eid_metrics_count_every_event_per_host_and_channel(eas: Path) -> None:
    with Case.open(eas, read_only=True) as c:
        metrics = {(m.host, m.channel, m.event_id): m for m in eid_metrics(c)}
        hosts = {h.host: h for h in host_metrics(c)}
        total = c.con.execute("SELECT count(*) FROM events").fetchone()
    assert total is not None and sum(m.count for m in metrics.values()) == total[0]
    expected = {
        ("MSEDGEWIN10", "Security", 4624): (3, "2020-09-09T13:18:25.377120Z", "2020-09-09T13:18:27.714758Z"),
        ("MSEDGEWIN10", "Security", 4625): (1, "2020-09-09T13:18:23.627952Z", "2020-09-09T13:18:23.627952Z"),
        ("IEWIN7", RCM, 258): (24, "2018-11-06T21:32:00.420115Z", "2019-01-19T20:43:35.574486Z"),
        ("IEWIN7", RCM, 1149): (2, "2018-11-06T21:45:50.411264Z", "2018-11-06T21:49:31.193924Z"),
        ("PC01.example.corp", RCM, 1149): (9, "2019-01-29T23:00:10.212008Z", "2019-02-13T18:04:57.452386Z"),
        ("PC01.example.corp", RCM, 261): (21, "2019-01-29T22:58:34.995092Z", "2019-02-13T18:04:45.905783Z"),
        ("PC01.example.corp", "Security", 4648): (
            3,
            "2019-03-18T11:27:23.231223Z",
            "2019-03-18T11:27:23.271281Z",
        ),
    }
    for key, (n, first, last) in expected.items():
        m = metrics[key]
        assert (m.count, m.first_ts, m.last_ts) == (n, t(first), t(last)), key
    assert metrics[("MSEDGEWIN10", "Security", 4624)].share == 0.75
    assert metrics[("MSEDGEWIN10", "Security", 4625)].title == "Logon failure"
    assert metrics[("PC01.example.corp", RCM, 1149)].title == "RDP user authenticated"
    # IEWIN7: 24 + 4 + 24 + 2 + 24 events in RCM's channel
    assert (hosts["IEWIN7"].count, hosts["IEWIN7"].channels, hosts["IEWIN7"].event_ids) == (78, 1, 5)


def test_logon_summary_of_the_demo_case_shows_the_spray_the_rdp_entry_and_the_ssh_brute_force(
    repo_root: Path, tmp_path: Path
) -> None:
    ingest_paths(tmp_path / "demo", [repo_root / "sample_data"], workers=1)
    with Case.open(tmp_path / "demo", read_only=True) as c:
        s = logon_summary(c)
    spray = [r for r in s.rows if r.result == "failure" and r.address == "203.0.113.45"]
    # 180 failed network logons over 40 accounts on WIN-TS01 (sample_data/README.md, step 1)
    assert sum(r.count for r in spray) == 180 and len({r.account for r in spray}) == 40
    assert {r.host for r in spray} == {"WIN-TS01.dims.local"} and {r.logon_type for r in spray} == {
        "3 Network"
    }
    assert {x for r in spray for x in r.reasons} == {"wrong password", "no such user"}
    entry = [r for r in s.rows if r.result == "success" and r.address == "203.0.113.45"]
    assert {(r.account, r.source) for r in entry} >= {("helpdesk01", "4624"), ("helpdesk01", "RDP 1149")}
    (ssh,) = [r for r in s.rows if r.result == "failure" and r.source == "sshd"]
    assert (ssh.host, ssh.account, ssh.address, ssh.count) == ("lnx-bkp01", "root", "10.10.7.31", 60)
    assert any(r.source == "sshd" and r.account == "esadmin" and r.result == "success" for r in s.rows)


def test_system_accounts() -> None:
    assert all(
        is_system_account(a) for a in ("SYSTEM", "LOCAL SERVICE", "DWM-1", "UMFD-0", "DC01$", None, "-")
    )
    assert not any(is_system_account(a) for a in ("administrator", "adm.sharma", "root", "svc_backup"))


def test_cli_tables_json_and_csv(eas: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["logon-summary", str(eas)])
    assert res.exit_code == 0, res.output
    assert (
        "failed logons" in res.stdout
        and "MSEDGEWIN10\\IEUser" in res.stdout
        and "wrong password" in res.stdout
    )
    assert (
        "logon records: 1 failure, 13 success, 3 explicit (1 more by system and machine accounts"
        in res.output
    )
    rows = [
        json.loads(x)
        for x in runner.invoke(app, ["logon-summary", str(eas), "--json", "--all"]).stdout.splitlines()
    ]
    assert len(rows) == 10 and rows[0]["first_ist"] == "2020-09-09T18:48:23.627952+05:30"
    assert any(r["account"] == "SYSTEM" and r["system_account"] for r in rows)
    only = runner.invoke(app, ["logon-summary", str(eas), "--result", "explicit", "--host", "pc01", "--json"])
    assert [json.loads(x)["count"] for x in only.stdout.splitlines()] == [2, 1]
    since = runner.invoke(app, ["logon-summary", str(eas), "--json", "--since", "2019-02-13T00:00:00Z",
                                "--until", "2019-02-13T23:59:59Z"])  # fmt: skip
    assert sum(json.loads(x)["count"] for x in since.stdout.splitlines()) == 3
    assert runner.invoke(app, ["logon-summary", str(eas), "--result", "maybe"]).exit_code == 2

    out = tmp_path / "logons.csv"
    assert runner.invoke(app, ["logon-summary", str(eas), "-o", str(out)]).exit_code == 0
    with out.open(encoding="utf-8-sig", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert (
        len(got) == 9
        and got[0]["reasons"] == "wrong password"
        and got[0]["first_utc"].startswith("2020-09-09")
    )

    res = runner.invoke(app, ["eid-metrics", str(eas), "--host", "IEWIN7"])
    assert (
        res.exit_code == 0
        and "RDP user authenticated" in res.stdout
        and "78 events on 1 host(s)" in res.output
    )
    lines = [
        json.loads(x) for x in runner.invoke(app, ["eid-metrics", str(eas), "--json"]).stdout.splitlines()
    ]
    assert {(x["host"], x["event_id"], x["count"]) for x in lines} >= {
        ("MSEDGEWIN10", 4624, 3),
        ("IEWIN7", 1149, 2),
    }
    out = tmp_path / "eids.csv"
    assert runner.invoke(app, ["eid-metrics", str(eas), "-o", str(out)]).exit_code == 0
    with out.open(encoding="utf-8-sig", newline="") as fh:
        assert sum(int(r["count"]) for r in csv.DictReader(fh)) == sum(x["count"] for x in lines)


def test_report_sections_list_logons_and_event_ids_escaped(tmp_path: Path) -> None:
    events = [
        {"ts": at(i), "host": "WKS01", "event_id": 4625, "TargetUserName": XSS, "TargetDomainName": "CORP",
         "IpAddress": "198.51.100.7", "LogonType": "3", "SubStatus": "0xc0000064", "Status": "0xc000006d"}
        for i in range(3)
    ] + [
        {"ts": at(60), "host": "WKS01", "event_id": 4624, "TargetUserName": "alice", "TargetDomainName": "CORP",
         "IpAddress": "198.51.100.7", "LogonType": "10"},
        {"ts": at(61), "host": "WKS01", "event_id": 4624, "TargetUserName": "SYSTEM", "LogonType": "5"},
    ]  # fmt: skip
    with build_case(tmp_path / "case", events) as case:
        html = render_report(case)
    logons = html[html.index('<section id="logons">') : html.index('<section id="eid-metrics">')]
    assert "3 failed, 1 successful and 0 explicit-credential" in logons and "1 more by system" in logons
    assert XSS not in html and "CORP\\&lt;script&gt;document.title=" in logons and "no such user" in logons
    assert "10 RemoteInteractive" in logons and "2024-03-05T14:31:00.000000+05:30" in logons  # IST beside UTC
    metrics = html[html.index('<section id="eid-metrics">') : html.index('<section id="inputs">')]
    assert (
        "<td>WKS01</td><td>Security</td><td>4625</td><td>Logon failure</td><td>3</td><td>60.0%</td>"
        in metrics
    )
