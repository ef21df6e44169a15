"""The case's indicators as investigators receive them: STIX 2.1, MISP, a CERT-In style list, YARA."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from .world import (
    ATTACKER_IP,
    EXFIL_IP,
    LOCK_EXT,
    NOTE_NAME,
    RANSOM_DOMAIN,
    STANDIN_MARKER,
    STANDIN_SHA256,
    SYNTHETIC,
    TOOL_IP,
    fake_hashes,
)
from .writers import _write_json

IOC_TIME = "2022-11-23T12:00:00.000Z"


def _sid(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(uuid.NAMESPACE_URL, f'https://dims.example/ioc/{kind}/{key}')}"


def ioc_items() -> list[tuple[str, str, str, str]]:
    """(kind, value, STIX pattern, description) for every indicator of the case."""
    rclone = fake_hashes("rclone.exe")["SHA256"]
    return [
        ("ipv4", ATTACKER_IP, f"[ipv4-addr:value = '{ATTACKER_IP}']", "RDP password spray and access source"),
        ("ipv4", TOOL_IP, f"[ipv4-addr:value = '{TOOL_IP}']", "tool download server (t.zip, lx)"),
        ("ipv4", EXFIL_IP, f"[ipv4-addr:value = '{EXFIL_IP}']", "SFTP exfiltration target"),
        (
            "url",
            f"http://{TOOL_IP}/t.zip",
            f"[url:value = 'http://{TOOL_IP}/t.zip']",
            "Windows toolkit archive",
        ),
        ("url", f"http://{TOOL_IP}/lx", f"[url:value = 'http://{TOOL_IP}/lx']", "Linux encryptor"),
        (
            "domain",
            RANSOM_DOMAIN,
            f"[domain-name:value = '{RANSOM_DOMAIN}']",
            "contact domain in the ransom note",
        ),
        (
            "sha256",
            STANDIN_SHA256,
            f"[file:hashes.'SHA-256' = '{STANDIN_SHA256}']",
            "svchosts.exe (DIMSLOCK encryptor; harmless stand-in in this synthetic case)",
        ),
        (
            "sha256",
            rclone,
            f"[file:hashes.'SHA-256' = '{rclone}']",
            "rclone.exe used for exfiltration (generated)",
        ),
    ]


def defang(ip: str) -> str:
    """CERT-In style defanging: the last dot in brackets (``203.0.113[.]45``)."""
    head, _, tail = ip.rpartition(".")
    return f"{head}[.]{tail}"


def write_iocs(out: Path) -> None:
    """STIX 2.1 bundle, MISP event, CERT-In style defanged text, and the YARA rule."""
    d = out / "iocs"
    d.mkdir(parents=True, exist_ok=True)
    ident = _sid("identity", "dims-csirt")
    objects: list[dict[str, Any]] = [
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": ident,
            "created": IOC_TIME,
            "modified": IOC_TIME,
            "name": "DIMS CSIRT (synthetic)",
            "identity_class": "organization",
        }
    ]
    malware = _sid("malware", "dimslock")
    objects.append(
        {
            "type": "malware",
            "spec_version": "2.1",
            "id": malware,
            "created": IOC_TIME,
            "modified": IOC_TIME,
            "created_by_ref": ident,
            "name": "DIMSLOCK (synthetic)",
            "is_family": True,
            "malware_types": ["ransomware"],
            "description": SYNTHETIC,
        }
    )
    for kind, value, pattern, desc in ioc_items():
        ind = _sid("indicator", value)
        objects.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": ind,
                "created": IOC_TIME,
                "modified": IOC_TIME,
                "created_by_ref": ident,
                "name": f"{kind} {value}",
                "description": f"{desc}. {SYNTHETIC}",
                "indicator_types": ["malicious-activity"],
                "pattern": pattern,
                "pattern_type": "stix",
                "valid_from": "2022-11-22T15:30:00Z",
                "labels": ["dims-case", "synthetic"],
            }
        )
        objects.append(
            {
                "type": "relationship",
                "spec_version": "2.1",
                "id": _sid("relationship", value),
                "created": IOC_TIME,
                "modified": IOC_TIME,
                "relationship_type": "indicates",
                "source_ref": ind,
                "target_ref": malware,
            }
        )
    bundle = {"type": "bundle", "id": _sid("bundle", "dims-case"), "objects": objects}
    _write_json(d / "dims-case.stix2.json", bundle)

    misp_type = {"ipv4": "ip-dst", "url": "url", "domain": "domain", "sha256": "sha256"}
    category = {
        "ipv4": "Network activity",
        "url": "Network activity",
        "domain": "Network activity",
        "sha256": "Payload delivery",
    }
    attrs = [
        {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://dims.example/misp/{value}")),
            "type": misp_type[kind],
            "category": category[kind],
            "value": value,
            "to_ids": True,
            "comment": desc,
            "timestamp": "1669204800",
            "distribution": "0",
        }
        for kind, value, _, desc in ioc_items()
    ]
    attrs.append(
        {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "https://dims.example/misp/filename")),
            "type": "filename",
            "category": "Artifacts dropped",
            "value": "svchosts.exe",
            "to_ids": False,
            "comment": "masquerades as svchost.exe",
            "timestamp": "1669204800",
            "distribution": "0",
        }
    )
    misp = {
        "Event": {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, "https://dims.example/misp/event")),
            "info": f"DIMSLOCK ransomware at DIMS hospital ({SYNTHETIC})",
            "date": "2022-11-23",
            "threat_level_id": "1",
            "analysis": "2",
            "distribution": "0",
            "published": False,
            "timestamp": "1669204800",
            "Orgc": {"name": "DIMS CSIRT (synthetic)"},
            "Tag": [{"name": "tlp:amber"}, {"name": 'misp-galaxy:ransomware="DIMSLOCK (synthetic)"'}],
            "Attribute": attrs,
        }
    }
    _write_json(d / "dims-case.misp.json", misp)

    rclone = fake_hashes("rclone.exe")["SHA256"]
    spaced = STANDIN_SHA256[:32] + " " + STANDIN_SHA256[32:]  # as pasted from a PDF advisory
    text = f"""\
CERT-In style advisory extract - {SYNTHETIC}
Ransomware targeting healthcare: DIMSLOCK (synthetic)
Indicators of compromise (defanged; block at perimeter and hunt internally)

IP addresses:
  {defang(ATTACKER_IP)}
  {defang(TOOL_IP)}
  {defang(EXFIL_IP)}

URLs:
  hxxp://{defang(TOOL_IP)}/t.zip
  hxxp://{defang(TOOL_IP)}/lx

Domains:
  {RANSOM_DOMAIN.replace(".", "[.]")}

SHA-256:
  {spaced}   svchosts.exe
  {rclone}   rclone.exe

File names: svchosts.exe, README_TO_DECRYPT.txt, *{LOCK_EXT}
"""
    (d / "certin-advisory-dimslock.txt").write_text(text, encoding="utf-8", newline="\n")
    (d / "dims_standin.yar").write_text(YARA_RULE, encoding="utf-8", newline="\n")


def _yara_hex(text: str) -> str:
    """A YARA hex string: the rule file then does not contain (and match) its own strings."""
    return "{ " + " ".join(f"{b:02X}" for b in text.encode()) + " }"


YARA_RULE = f"""\
/* {SYNTHETIC}. Matches the harmless ransomware stand-in of the demo case.
   Strings are written in hex so that this file does not match itself. */
rule DIMS_Synthetic_Ransomware_Standin
{{
    meta:
        description = "DIMSLOCK ransomware stand-in (synthetic demo case, harmless text file)"
        author = "forensics demo generator"
        date = "2022-11-23"
        attack = "T1486"
        severity = "critical"
    strings:
        $marker = {_yara_hex(STANDIN_MARKER)}
        $ext = {_yara_hex(LOCK_EXT)}
        $note = {_yara_hex(NOTE_NAME)}
        $msg = {_yara_hex("ALL YOUR FILES HAVE BEEN ENCRYPTED BY DIMSLOCK")}
        $vss = {_yara_hex("vssadmin delete shadows /all /quiet")}
    condition:
        $marker or (4 of ($ext, $note, $msg, $vss))
}}
"""
