"""The demo case: the generator is deterministic, the committed sample_data/ is its output, every file parses."""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import re
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import orjson
import pytest
import stix2
import yara
from evtx import PyEvtxParser

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"
NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
ALLOWED_NETS = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
    )
]


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    """The generator script, imported as a module."""
    spec = importlib.util.spec_from_file_location(
        "make_sample_data", REPO / "scripts" / "make_sample_data.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_sample_data"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_generator_is_deterministic_and_is_the_committed_sample_data(gen: ModuleType, tmp_path: Path) -> None:
    assert gen.main(["--out", str(tmp_path / "a")]) == 0
    assert gen.main(["--out", str(tmp_path / "b")]) == 0
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a == b
    committed = _tree(SAMPLE)
    assert sorted(committed) == sorted(a), "sample_data/ differs: run python scripts/make_sample_data.py"
    changed = [name for name in a if committed[name] != a[name]]
    assert not changed, f"regenerate sample_data/: {changed}"
    assert sum(len(v) for v in a.values()) < 6_000_000  # small enough to commit


def test_large_case_is_refused_inside_the_repository(gen: ModuleType) -> None:
    target = REPO / "sample_data_big_test"
    assert gen.main(["--out", str(target), "--hosts", "2"]) == 2
    assert not target.exists()


def test_large_mode_adds_hosts_and_days(gen: ModuleType, tmp_path: Path) -> None:
    opts = gen.Options(extra_hosts=1, days=2, encrypt_files=40)
    counts = gen.generate(tmp_path, opts)
    ws = [k for k in counts if k.startswith("collection/WS-0000/")]
    assert ws
    records = list(PyEvtxParser(str(tmp_path / ws[0]), 1).records_json())
    days = {
        orjson.loads(r["data"])["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"][:10]
        for r in records
    }
    assert {"2022-11-21", "2022-11-22"} <= days


def test_every_evtx_parses_with_the_manifest_counts() -> None:
    manifest = json.loads((SAMPLE / "collection" / "manifest.json").read_text())
    files = sorted(SAMPLE.rglob("*.evtx"))
    assert len(files) >= 20
    for path in files:
        n = sum(1 for _ in PyEvtxParser(str(path), 1, validate_checksums=True).records_json())
        assert n == manifest["files"][str(path.relative_to(SAMPLE))], path


def test_json_lines_and_xml_exports_parse() -> None:
    for path in [*SAMPLE.rglob("*.jsonl"), *SAMPLE.rglob("journalctl-o-json.json")]:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines
        for line in lines:
            assert isinstance(orjson.loads(line), dict)
    sysmon = (
        SAMPLE / "collection/EHOSP-DB02/evtx_dump/Microsoft-Windows-Sysmon%4Operational.jsonl"
    ).read_text()
    first = orjson.loads(sysmon.splitlines()[0])
    assert first["Event"]["System"]["Channel"] == "Microsoft-Windows-Sysmon/Operational"
    for path in (SAMPLE / "collection" / "LIS-APP01" / "wevtutil").glob("*.xml"):
        root = ET.parse(path).getroot()
        assert root.tag == "Events"
        assert all(e.tag == f"{NS}Event" for e in root)


def _forwarded() -> list[dict[str, object]]:
    path = SAMPLE / "collection/DC01/Windows/System32/winevt/Logs/ForwardedEvents.evtx"
    return [orjson.loads(r["data"])["Event"] for r in PyEvtxParser(str(path), 1).records_json()]


def _ts(event: dict[str, object]) -> datetime:
    raw = event["System"]["TimeCreated"]["#attributes"]["SystemTime"]  # type: ignore[index]
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def test_forwarded_copy_holds_what_was_cleared() -> None:
    events = _forwarded()
    hosts = {e["System"]["Computer"] for e in events}  # type: ignore[index]
    assert hosts == {
        "WIN-TS01.dims.local",
        "DC01.dims.local",
        "EHOSP-DB01.dims.local",
        "EHOSP-DB02.dims.local",
        "LIS-APP01.dims.local",
    }
    spray = [e for e in events if e["System"]["EventID"] == 4625]  # type: ignore[index]
    assert len(spray) == 180
    assert not [e for e in events if e["System"]["EventID"] in (1102, 104)]  # type: ignore[index]
    ts01 = SAMPLE / "collection/WIN-TS01/Windows/System32/winevt/Logs/Security.evtx"
    kept = [
        orjson.loads(r["data"])["Event"]["System"]["EventID"]
        for r in PyEvtxParser(str(ts01), 1).records_json()
    ]
    assert kept[0] == 1102 and 4625 not in kept


def test_lis_clock_is_three_minutes_forty_fast_against_dc01() -> None:
    events = _forwarded()
    lis = [
        _ts(e)
        for e in events
        if e["System"]["Computer"] == "LIS-APP01.dims.local" and e["System"]["EventID"] == 4648
    ]  # type: ignore[index]
    dc = [
        _ts(e)
        for e in events
        if e["System"]["Computer"] == "DC01.dims.local"
        and e["System"]["EventID"] == 4624  # type: ignore[index]
        and e["EventData"]["IpAddress"] == "10.10.3.21"
    ]  # type: ignore[index]
    assert len(lis) >= 20
    offsets = [min(abs((t - d).total_seconds() - 220) for d in dc) for t in lis]
    assert max(offsets) < 1.0


def test_only_documentation_and_private_addresses() -> None:
    pattern = re.compile(r"(?<![\d.])(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?![\d.])")
    for path in SAMPLE.rglob("*"):
        if not path.is_file() or path.suffix in (".evtx", ".dims_locked", ".yar"):
            continue
        for ip in set(pattern.findall(path.read_text(encoding="utf-8"))):
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                continue  # a version number such as 1.379.66.0
            if str(addr).startswith(("1.379.", "4.18.")):
                continue
            assert any(addr in n for n in ALLOWED_NETS), f"{ip} in {path}"


def test_auth_log_has_no_year_and_the_backup_server_never_lets_root_in() -> None:
    bkp = (SAMPLE / "collection/LNX-BKP01/var/log/auth.log").read_text().splitlines()
    assert all(re.match(r"^Nov [ 0-9]\d \d\d:\d\d:\d\d lnx-bkp01 ", line) for line in bkp)
    assert sum("Failed password for root from 10.10.7.31" in line for line in bkp) == 60
    assert not [line for line in bkp if "Accepted" in line and "root" in line]
    es_old = (SAMPLE / "collection/LNX-ES01/var/log/auth.log.1").read_text()
    assert (
        "Nov 23 02:10:05 lnx-es01 sshd[2211]: Accepted password for esadmin from 10.10.5.20 port 51544 ssh2"
        in es_old
    )
    assert "Accepted password" not in (SAMPLE / "collection/LNX-ES01/var/log/auth.log").read_text()


def test_audit_records_of_one_event_share_a_serial() -> None:
    lines = (SAMPLE / "collection/LNX-ES01/var/log/audit/audit.log").read_text().splitlines()
    curl = next(line for line in lines if "type=EXECVE" in line and "198.51.100.23/lx" in line)
    stamp = re.search(r"msg=(audit\([\d.:]+\))", curl).group(1)  # type: ignore[union-attr]
    kinds = [re.search(r"type=(\w+)", line).group(1) for line in lines if stamp in line]  # type: ignore[union-attr]
    assert kinds == ["SYSCALL", "EXECVE", "CWD", "PATH", "PATH", "PROCTITLE"]
    syscall = next(line for line in lines if stamp in line and "type=SYSCALL" in line)
    assert " auid=1001 uid=0 " in syscall


def test_iocs_parse_and_the_yara_rule_matches_only_the_stand_in(gen: ModuleType) -> None:
    bundle = stix2.parse((SAMPLE / "iocs/dims-case.stix2.json").read_text(), allow_custom=False)
    patterns = " ".join(o.pattern for o in bundle.objects if o.type == "indicator")
    standin = SAMPLE / "collection/EHOSP-DB01/Windows/Temp/svchosts.exe"
    import hashlib

    sha = hashlib.sha256(standin.read_bytes()).hexdigest()
    for needle in ("203.0.113.45", "198.51.100.23", "192.0.2.77", sha, "dimsrecover.example"):
        assert needle in patterns
    misp = json.loads((SAMPLE / "iocs/dims-case.misp.json").read_text())
    assert sha in {a["value"] for a in misp["Event"]["Attribute"]}
    text = (SAMPLE / "iocs/certin-advisory-dimslock.txt").read_text()
    assert "203.0.113[.]45" in text and "hxxp://198.51.100[.]23/t.zip" in text
    assert f"{sha[:32]} {sha[32:]}" in text
    rules = yara.compile(filepath=str(SAMPLE / "iocs/dims_standin.yar"))
    hits = [p for p in SAMPLE.rglob("*") if p.is_file() and rules.match(data=p.read_bytes())]
    assert hits == [standin]
    assert not standin.read_bytes().startswith(b"MZ")


def test_expected_steps_cover_1_to_21_in_order() -> None:
    doc = json.loads((SAMPLE / "expected_steps.json").read_text())
    steps = doc["steps"]
    assert [s["step"] for s in steps] == list(range(1, 22))
    starts = [datetime.fromisoformat(s["utc_start"].replace("Z", "+00:00")) for s in steps[:20]]
    assert starts == sorted(starts)
    for s in steps[:20]:
        assert s["attack"] and s["evidence"] and s["hosts"]
        start = datetime.fromisoformat(s["utc_start"].replace("Z", "+00:00"))
        assert datetime(2022, 11, 22, 15, 0, tzinfo=UTC) < start < datetime(2022, 11, 23, 1, 30, tzinfo=UTC)
    assert steps[0]["utc_start"].startswith("2022-11-22T15:32")  # 21:02 IST
    spread = datetime.fromisoformat(steps[17]["utc_end"].replace("Z", "+00:00")) - starts[17]
    assert timedelta(minutes=20) < spread < timedelta(minutes=30)
