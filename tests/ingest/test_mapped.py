"""The mapping-driven importer: the docs example works, bad records are rejects, bad mappings are clear."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from forensics.ingest.base import FileFailed, InputFile, ParseContext, Reject, Row
from forensics.ingest.mapped import MappedParser, MappingError, load_mapping
from forensics.ingest.registry import BY_NAME

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mapping.md"

PROXY_CSV = (
    "Event Time,Client IP,User,Method,URL,Dest Host,Dest Port,Action,Bytes\n"
    "05/03/2024 14:31:07,10.20.1.15,HOSPITAL\\nurse1,CONNECT,mega.nz:443,mega.nz,443,allowed,5120\n"
    "05/03/2024 14:32:00,10.20.1.16,HOSPITAL\\dr2,GET,http://intranet/,intranet,80,allowed,300\n"
    "not a time,10.20.1.15,x,GET,u,h,80,allowed,1\n"
    "05/03/2024 14:33:00,short\n"
)

PROCESS_MAPPING = """
time: {field: when, format: epoch_ms}
host: {field: agent.host}
channel: {value: homegrown-edr}
provider: HomeGrown EDR
category: {field: kind, map: {exec: process_creation}}
fields:
  process_image: proc.path
  process_cmdline: proc.cmd
  process_pid: proc.pid
  user_name: proc.user
  hash_sha256: proc.sha256
"""


def _example_mapping() -> str:
    """The proxy mapping exactly as docs/mapping.md shows it."""
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"`proxy.yml`:\n\n```yaml\n(.*?)```", text, re.S)
    assert match, "docs/mapping.md lost its example"
    return match.group(1)


def _input(path: Path) -> InputFile:
    return InputFile.from_path(path)


def _parse(path: Path, mapping: Path, tz: str | None = None) -> tuple[list[Row], list[Reject]]:
    ctx = ParseContext(tz=tz, options={"mapping": mapping})
    rows: list[Row] = []
    rejects: list[Reject] = []
    for item in MappedParser().parse(_input(path), ctx):
        (rejects if isinstance(item, Reject) else rows).append(item)
    return rows, rejects


def test_docs_example(tmp_path: Path) -> None:
    mapping = tmp_path / "proxy.yml"
    mapping.write_text(_example_mapping(), encoding="utf-8")
    data = tmp_path / "proxy.csv"
    data.write_text(PROXY_CSV, encoding="utf-8")
    parser = MappedParser.for_context(ParseContext(options={"mapping": mapping}))
    assert parser is not None and parser.sniff(data.read_bytes()[:4096], data.name)
    rows, rejects = _parse(data, mapping, tz="UTC")
    assert len(rows) == 2
    assert [(r.rec_line, r.reason.split(" ")[0]) for r in rejects] == [(4, "time"), (5, "CSV")]
    r = rows[0]
    # stated zone Asia/Kolkata: 14:31:07 IST is 09:01:07 UTC, not assumed
    assert r["ts"].isoformat() == "2024-03-05T09:01:07+00:00"
    assert (r["ts_zone"], r["ts_assumed"], r["ts_raw"]) == ("Asia/Kolkata", False, "05/03/2024 14:31:07")
    assert (r["source"], r["host"], r["channel"], r["provider"], r["category"]) == (
        "mapped",
        "proxy01",
        "proxy",
        "Squid",
        "proxy",
    )
    assert (r["src_ip"], r["dst_port"], r["user_name"], r["message"]) == (
        "10.20.1.15",
        443,
        "HOSPITAL\\nurse1",
        "mega.nz:443",
    )
    assert (r["c-uri"], r["cs-method"], r["cs-host"]) == ("mega.nz:443", "CONNECT", "mega.nz")
    assert (r["Action"], r["Bytes"]) == ("allowed", "5120")  # unmapped columns kept
    assert (r["rec_line"], r["rec_offset"]) == (2, PROXY_CSV.index("05/03"))


def test_jsonl_with_category_map_gets_sysmon_aliases(tmp_path: Path) -> None:
    mapping = tmp_path / "edr.yml"
    mapping.write_text(PROCESS_MAPPING, encoding="utf-8")
    docs = [
        {"when": 1709629200123, "kind": "exec", "agent": {"host": "lab-02"},
         "proc": {"path": "C:\\Windows\\System32\\vssadmin.exe", "cmd": "vssadmin delete shadows /all", "pid": "88",
                  "user": "svc", "sha256": "F" * 64}},
        {"when": 1709629201000, "kind": "net", "agent": {"host": "lab-02"},
         "proc": {"path": "x", "cmd": "y", "pid": "notanumber", "user": "svc", "sha256": "zz"}},
    ]  # fmt: skip
    data = tmp_path / "edr.jsonl"
    data.write_text("\n".join(json.dumps(d) for d in docs) + "\n", encoding="utf-8")
    rows, rejects = _parse(data, mapping)
    assert rejects == [] and len(rows) == 2
    exec_row, net_row = rows
    assert (exec_row["category"], exec_row["CommandLine"], exec_row["Image"]) == (
        "process_creation",
        "vssadmin delete shadows /all",
        "C:\\Windows\\System32\\vssadmin.exe",
    )
    assert (exec_row["process_pid"], exec_row["hash_sha256"], exec_row["host"]) == (88, "f" * 64, "lab-02")
    assert (exec_row["ts"].isoformat(), exec_row["ts_assumed"]) == ("2024-03-05T09:00:00.123000+00:00", False)
    assert net_row["category"] == "net" and "CommandLine" not in net_row
    assert (net_row["process_pid"], net_row["hash_sha256"], net_row["proc.pid"]) == (None, None, "notanumber")


def test_sniffs_only_with_mapping_and_matching_columns(tmp_path: Path) -> None:
    mapping = tmp_path / "proxy.yml"
    mapping.write_text(_example_mapping(), encoding="utf-8")
    head = PROXY_CSV.encode()
    assert not BY_NAME["mapped"].sniff(head, "proxy.csv")  # the registered instance has no mapping
    bound = MappedParser(mapping)
    assert bound.sniff(head, "proxy.csv")
    assert not bound.sniff(b"Time,Other\n1,2\n", "other.csv")
    assert bound.claims(head, "proxy.csv", ParseContext(options={"mapping": mapping}))
    assert not bound.claims(head, "proxy.csv", ParseContext())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fields: {src_ip: a}", "'time: {field: COLUMN}' is required"),
        ("time: t\nfields: {source_ip: a}", "not core columns a mapping can fill: source_ip"),
        ("time: t\nformat: xml", "format must be csv or jsonl"),
        ("time: {field: t, zone: Mars/Olympus}", "unknown time zone"),
        ("time: [unclosed", "not valid YAML"),
        ("time: t\nhost: {column: h}", "host: give {field: COLUMN} or {value: TEXT}"),
    ],
)
def test_bad_mapping_is_explained(tmp_path: Path, text: str, message: str) -> None:
    mapping = tmp_path / "bad.yml"
    mapping.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError, match=re.escape(message)):
        load_mapping(mapping)
    data = tmp_path / "x.csv"
    data.write_text("t\n2024-01-01T00:00:00Z\n", encoding="utf-8")
    with pytest.raises(FileFailed):
        _parse(data, mapping)


def test_ingest_paths_with_mapping(tmp_path: Path) -> None:
    from forensics.ingest.runner import ingest_paths
    from forensics.store import Case

    mapping = tmp_path / "proxy.yml"
    mapping.write_text(_example_mapping(), encoding="utf-8")
    data = tmp_path / "proxy.csv"
    data.write_text(PROXY_CSV, encoding="utf-8")
    summary = ingest_paths(tmp_path / "case", [data], ParseContext(options={"mapping": mapping}))
    assert (summary.rows, summary.rejects) == (2, 2)
    with Case.open(tmp_path / "case", read_only=True) as case:
        got = case.con.execute("SELECT parser, rows, rejects FROM inputs").fetchall()
    assert got == [("mapped", 2, 2)]
