"""Pre-filled certificates for electronic records: BSA 2023 s.63 (Schedule Part A and Part B),
or Indian Evidence Act 1872 s.65B(4) when the proceeding began before 1 July 2024 (BSA s.170).

The statute follows the date the proceeding began, never the export date. The tool fills in
the technical facts it knows (records, devices and hosts, hash values with the algorithm, how
the records were produced, known defects such as clock skew and cleared logs) and leaves
blanks (``________``) for what people must declare and sign. Dates are DD/MM/YYYY, times IST
in 24-hour form. Not legal advice.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from forensics import __version__
from forensics.timeutil import IST

BSA_IN_FORCE = date(2024, 7, 1)
BLANK = "________________"


def statute_for(proceeding: date | None) -> dict[str, str]:
    """The certificate's statute for a proceeding that began on ``proceeding``."""
    if proceeding is not None and proceeding < BSA_IN_FORCE:
        return {
            "code": "IEA-65B",
            "section": "Section 65B(4)",
            "act": "Indian Evidence Act, 1872",
            "why": f"the proceeding began on {ddmmyyyy(proceeding)}, before 01/07/2024, so it continues under "
            "the Indian Evidence Act (Bharatiya Sakshya Adhiniyam, 2023, s.170)",
        }
    why = (
        f"the proceeding began on {ddmmyyyy(proceeding)}, on or after 01/07/2024"
        if proceeding
        else "no proceeding date was given; s.63 assumed (use s.65B if the proceeding was pending on 01/07/2024)"
    )
    return {
        "code": "BSA-63",
        "section": "Section 63(4)(c)",
        "act": "Bharatiya Sakshya Adhiniyam, 2023",
        "why": why,
    }


def ddmmyyyy(d: date | datetime | None) -> str:
    """DD/MM/YYYY (in IST for a datetime)."""
    if d is None:
        return BLANK
    if isinstance(d, datetime):
        d = d.astimezone(IST)
    return d.strftime("%d/%m/%Y")


def ist_24h(dt: datetime) -> str:
    """``HH:MM`` IST, 24-hour."""
    return dt.astimezone(IST).strftime("%H:%M")


def _case_block(facts: dict[str, Any]) -> list[str]:
    d = facts["details"]
    return [
        f"- FIR number: {d.fir_number or BLANK}",
        f"- Police station / agency: {d.police_station or BLANK} / {d.agency or BLANK}",
        f"- Sections: {', '.join(d.sections) if d.sections else BLANK}",
        f"- Date the proceeding began: {ddmmyyyy(d.proceeding_date)}",
        f"- Statute: {facts['statute']['act']}, {facts['statute']['section']} ({facts['statute']['why']})",
    ]


def _device_block(facts: dict[str, Any]) -> list[str]:
    dev = facts["details"].device
    lines = [
        "Device / digital record source (tick as applicable): "
        "[ ] Computer / storage media  [ ] DVR  [ ] Mobile  [ ] Flash drive  [ ] CD/DVD  [ ] Server  [ ] Cloud  "
        f"[ ] Other {BLANK}",
        "",
        f"- Class: {dev.get('class', BLANK)}",
        f"- Make & model: {dev.get('make', BLANK)} {dev.get('model', '')}".rstrip(),
        f"- Serial number: {dev.get('serial', BLANK)}",
        f"- IMEI / UIN / UID / MAC / IP / cloud ID: {dev.get('ids', BLANK)}",
        "",
        "Hosts whose records are produced (from the records themselves):",
        "",
        "| host | operating system | log source | events | first event (UTC / IST) | last event (UTC / IST) |",
        "|---|---|---|---|---|---|",
    ]
    for h in facts["hosts"]:
        os_name = facts["os"].get(h["host"], "")
        lines.append(
            f"| {h['host']} | {os_name} | {h['source']} | {h['events']} | {_both(h['first'])} | {_both(h['last'])} |"
        )
    return lines


def _both(iso: str | None) -> str:
    """``UTC / IST`` for an ISO UTC string (people read IST; the record keeps UTC)."""
    if not iso:
        return ""
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return f"{iso} / {dt.astimezone(IST).strftime('%d/%m/%Y %H:%M:%S')} IST"


def _hash_block(facts: dict[str, Any]) -> list[str]:
    lines = [
        "Hash values of the electronic records (algorithm: [x] SHA-256  [x] MD5  [ ] SHA-1  [ ] Other):",
        "",
        "| evidence id | original file (member) | host | size (bytes) | SHA-256 | MD5 | acquired (IST) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in facts["sources"]:
        name = s["original_path"] + (f" ({s['member']})" if s.get("member") else "")
        lines.append(
            f"| {s['evidence_id']} | {name} | {s.get('host') or ''} | {s.get('size')} | {s.get('acquisition_sha256')} "
            f"| {s.get('acquisition_md5')} | {s.get('acquired_ist') or ''} |"
        )
    lines += [
        "",
        "Hash report enclosed: `hashes/SHA256SUMS` and `hashes/MD5SUMS` of this bundle (every file in it), and "
        "`MANIFEST.json` (size, SHA-256 and MD5 of every file, SHA-256 and MD5 of every original above).",
    ]
    if facts.get("fingerprint"):
        lines.append(f"The manifest is signed with Ed25519 key {facts['fingerprint']}.")
    return lines


def _production_block(facts: dict[str, Any]) -> list[str]:
    parsers = sorted({s["parser"] for s in facts["sources"] if s.get("parser")})
    env_tool = f"forensics {__version__}"
    return [
        "How the records were produced:",
        "",
        f"- Each original file was opened read-only and hashed (SHA-256 and MD5) before it was parsed, with "
        f"{env_tool} (versions in `provenance/environment.json`); nothing was written beside the originals.",
        f"- Parsers used: {', '.join(parsers) or 'none'}. Every record became an event row or a counted reject.",
        f"- {facts['records']} record(s) matched by the findings are reproduced exactly as found in "
        "`records/matched_records.jsonl`, each with its own SHA-256 and the SHA-256 of its source file.",
        f"- {len(facts['findings'])} finding(s) produced by the rules kept in `provenance/rules/`; commands in "
        "`provenance/commands.jsonl`; the chain of custody in `custody/chain_of_custody.jsonl`.",
    ]


def defects(facts: dict[str, Any]) -> list[str]:
    """Known defects of the records: cleared logs, record gaps, tampering, silences, clock offsets."""
    integ = facts.get("integrity") or {}
    out = []
    for c in integ.get("clearings", []):
        out.append(f"log cleared: {_brief(c)}")
    for t in integ.get("tampering", []):
        out.append(f"possible log tampering: {_brief(t)}")
    for g in integ.get("record_gaps", [])[:50]:
        out.append(f"record-number gap: {_brief(g)}")
    for s in integ.get("silences", [])[:50]:
        out.append(f"unexplained silence: {_brief(s)}")
    for host, off in sorted((integ.get("clock_offsets_s") or {}).items()):
        if off:
            out.append(f"clock of {host} off by {off:+.1f} s against the reference clock")
    for s in facts["sources"]:
        if s.get("status") not in (None, "ok", "duplicate"):
            out.append(f"input {s['original_path']}: status {s['status']} {s.get('error') or ''}".rstrip())
    return out


def _brief(d: Any) -> str:
    if not isinstance(d, dict):
        return str(d)
    return ", ".join(f"{k}={v}" for k, v in sorted(d.items()) if v not in (None, "", [], {}))


def _defect_block(facts: dict[str, Any]) -> list[str]:
    found = defects(facts)
    lines = ["Known defects and limits of the records (found by the tool):", ""]
    lines += [f"- {d}" for d in found] or ["- none found by the tool"]
    return lines


def _signature_block(role: str) -> list[str]:
    return [
        f"({role}: name{', designation' if role == 'Expert' else ''} and signature) {BLANK}",
        "",
        "Date (DD/MM/YYYY): ____/____/________",
        "Time (IST): ____:____ hours (24-hour format)",
        f"Place: {BLANK}",
    ]


def _header(facts: dict[str, Any], part: str, who: str) -> list[str]:
    st = facts["statute"]
    created = facts["created"]
    title = (
        f"# Certificate under {st['section']} of the {st['act']}: Part {part} (to be filled by {who})"
        if st["code"] == "BSA-63"
        else f"# Certificate under {st['section']} of the {st['act']}: Part {part} ({who})"
    )
    return [
        title,
        "",
        f"Technical particulars pre-filled by forensics on {ddmmyyyy(created)} at {ist_24h(created)} IST; "
        "blanks are for the person who makes this certificate. Not legal advice.",
        "",
        *_case_block(facts),
        "",
        f"I, {BLANK} (name), son / daughter / spouse of {BLANK}, residing / employed at {BLANK}, "
        "do hereby solemnly affirm and sincerely state and submit as follows:",
        "",
    ]


def render_part_a(facts: dict[str, Any]) -> str:
    """Part A: by the party in charge of the device (s.63), or the responsible official (s.65B)."""
    st = facts["statute"]
    lines = _header(facts, "A", "the party" if st["code"] == "BSA-63" else "person in charge of the device")
    lines += ["I have produced the electronic records / output of the digital records taken from:", ""]
    lines += [*_device_block(facts), ""]
    lines += [
        "The device / digital record source was under lawful control for regularly creating, storing or processing "
        "information in the ordinary course of activities; during that period it was working properly (or any "
        "period it was not did not affect the records or their accuracy), and the information was regularly fed "
        "into it in the ordinary course. [ ] Owned  [ ] Maintained  [ ] Managed  [ ] Operated by me.",
        "",
    ]
    if st["code"] == "IEA-65B":
        lines += [
            "The conditions of s.65B(2)(a)-(d) are met: (a) the output was produced during the period the computer "
            "was regularly used; (b) information of this kind was regularly fed into it; (c) it operated properly "
            "throughout, or any defect did not affect the record; (d) the information reproduced is derived from "
            "information fed into the computer in the ordinary course. I occupy a responsible official position "
            f"in relation to the operation of the device: {BLANK}.",
            "",
        ]
    lines += [*_hash_block(facts), "", *_defect_block(facts), "", *_signature_block("Party")]
    return "\n".join(lines) + "\n"


def render_part_b(facts: dict[str, Any]) -> str:
    """Part B: by the expert who examined the records."""
    lines = _header(facts, "B", "the Expert")
    lines += ["The produced electronic records / output of the digital records are obtained from:", ""]
    lines += [*_device_block(facts), "", *_production_block(facts), "", *_hash_block(facts), ""]
    lines += [*_defect_block(facts), "", *_signature_block("Expert")]
    return "\n".join(lines) + "\n"
