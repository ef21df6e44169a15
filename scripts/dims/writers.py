"""The files of ``sample_data/``: every log the scenario and the background recorded, as collected.

EVTX per Windows host and channel (LIS-APP01 exported with wevtutil as XML, EHOSP-DB02's Sysmon as
evtx-JSON lines), the WEF forwarded copy on DC01 of what the clearing removed, auth.log (rotated
and truncated on LNX-ES01), audit.log, the journal export, the firewall's syslog, Defender for
Endpoint's export, a few files of the collected image, ``expected_steps.json`` and the manifest.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from forensics.testing.evtx_writer import WinEvent, event_json, wevtutil_xml, write_evtx

from .background import background_days, windows_background
from .recorder import Options, Recorder
from .world import (
    BKP01,
    CH,
    DB01,
    DB02,
    DC01,
    ES01,
    HOSTS,
    IST,
    LIS,
    LOCK_EXT,
    NOTE_NAME,
    RANSOM_NOTE,
    SKEW,
    STANDIN,
    SYNTHETIC,
    day_time,
    ist,
)


def _log_file(channel: str) -> str:
    return channel.replace("/", "%4")


def windows_logs(c: Recorder) -> Iterator[tuple[str, str, list[WinEvent], int, list[WinEvent]]]:
    """Per (host, channel key): kept events, first record id, and the events the clearing removed."""
    for (host, ch), items in sorted(c.win.items()):
        items = sorted(items, key=lambda x: (x[2].ts, x[1]))  # the host's own (skewed) order
        events = [e for _, _, e in items]
        cut = c.clear_time.get((host, ch))
        if cut is None:
            yield host, ch, events, 1, []
            continue
        cut_logged = cut + SKEW.get(host, timedelta(0))
        before = [e for e in events if e.ts < cut_logged]
        after = [e for e in events if e.ts >= cut_logged]
        yield host, ch, after, 1, before


def record_base(host: str, ch: str) -> int:
    """The first record id the host's log had (a stable, host-specific, realistic number)."""
    return 1000 + int(hashlib.sha256(f"{host}/{ch}".encode()).hexdigest()[:5], 16) % 90000


def write_windows(c: Recorder, out: Path) -> dict[str, int]:
    """EVTX per host and channel (LIS-APP01 as wevtutil XML, DB02's Sysmon as evtx-JSON lines)."""
    counts: dict[str, int] = {}
    forwarded: list[tuple[datetime, WinEvent]] = []
    for host, ch, kept, _first, removed in windows_logs(c):
        base = record_base(host, ch)
        for i, ev in enumerate(removed):
            fwd = _with_record_id(ev, base + i)
            forwarded.append((ev.ts - SKEW.get(host, timedelta(0)), fwd))
        first = 1 if removed else base
        channel = CH[ch]
        if host == LIS:
            path = out / "collection" / host / "wevtutil" / f"{_log_file(channel)}.xml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wevtutil_xml(kept, first), encoding="utf-8", newline="\n")
        elif host == DB02 and ch == "sysmon":
            path = out / "collection" / host / "evtx_dump" / f"{_log_file(channel)}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = [
                json.dumps(event_json(ev, first + i), ensure_ascii=False, separators=(",", ":"))
                for i, ev in enumerate(kept)
            ]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="\n")
        else:
            path = (
                out
                / "collection"
                / host
                / "Windows"
                / "System32"
                / "winevt"
                / "Logs"
                / f"{_log_file(channel)}.evtx"
            )
            write_evtx(path, kept, first_record_id=first)
        counts[str(path.relative_to(out))] = len(kept)
    # The WEF collector's copy, taken before the clearing: arrival (true time) order.
    forwarded.sort(key=lambda x: (x[0], x[1].computer, x[1].system_record_id or 0))
    path = out / "collection" / DC01 / "Windows" / "System32" / "winevt" / "Logs" / "ForwardedEvents.evtx"
    write_evtx(path, [e for _, e in forwarded])
    counts[str(path.relative_to(out))] = len(forwarded)
    return counts


def _with_record_id(ev: WinEvent, rid: int) -> WinEvent:
    from dataclasses import replace

    return replace(ev, system_record_id=rid)


def syslog_ts(t: datetime) -> str:
    """RFC 3164 timestamp in IST, without a year: ``Nov 23 02:10:05``."""
    local = t.astimezone(IST)
    return f"{local:%b} {local.day:>2} {local:%H:%M:%S}"


def write_linux(c: Recorder, out: Path) -> dict[str, int]:
    """auth.log(.1), audit.log, journal export, and a few files of the collected images."""
    counts: dict[str, int] = {}
    rot_es = ist(23, "06:25:01")
    for host in (ES01, BKP01):
        root = out / "collection" / host
        lines = sorted(c.auth[host], key=lambda x: (x[0], x[1]))
        text = [f"{syslog_ts(t)} {host.lower()} {msg}" for t, _, msg in lines]
        if host == ES01:
            cut = c.clear_time[(ES01, "auth")]
            old = [s for (t, _, _), s in zip(lines, text, strict=True) if t < rot_es]
            new = [s for (t, _, _), s in zip(lines, text, strict=True) if t >= cut]
            files = {"var/log/auth.log.1": old, "var/log/auth.log": new}
        else:
            files = {"var/log/auth.log": text}
        for rel, body in files.items():
            _write_lines(root / rel, body)
            counts[f"collection/{host}/{rel}"] = len(body)
        entries = sorted(c.journal[host], key=lambda x: (x[0], x[1]))
        jlines = []
        for n, (t, _, e) in enumerate(entries):
            full = {
                "__CURSOR": f"s={c.boot[host][:16]};i={0x1A000 + n:x};b={c.boot[host]};m={n * 977:x};"
                f"t={int(e['__REALTIME_TIMESTAMP']):x};x={n:x}",
                "__MONOTONIC_TIMESTAMP": str(int((t - ist(20, "08:00:00")).total_seconds() * 1_000_000)),
                **e,
            }
            jlines.append(json.dumps(dict(sorted(full.items())), ensure_ascii=False, separators=(",", ":")))
        _write_lines(root / "journal" / "journalctl-o-json.json", jlines)
        counts[f"collection/{host}/journal/journalctl-o-json.json"] = len(jlines)
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "etc" / "timezone").write_text("Asia/Kolkata\n", encoding="utf-8")
        (root / "etc" / "hostname").write_text(host.lower() + "\n", encoding="utf-8")
    audit = sorted(c.audit, key=lambda x: (x[0], x[1]))
    # auditd.conf name_format = hostname: every record starts with node=<host>
    alines = [f"node={ES01.lower()} {r}" for _, _, recs in audit for r in recs]
    _write_lines(out / "collection" / ES01 / "var" / "log" / "audit" / "audit.log", alines)
    counts[f"collection/{ES01}/var/log/audit/audit.log"] = len(audit)
    note = out / "collection" / ES01 / "var" / "lib" / "elasticsearch" / NOTE_NAME
    note.parent.mkdir(parents=True, exist_ok=True)
    note.write_text(RANSOM_NOTE, encoding="utf-8", newline="\n")
    return counts


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(s + "\n" for s in lines), encoding="utf-8", newline="\n")


def write_network_edr(c: Recorder, out: Path) -> dict[str, int]:
    """Perimeter firewall syslog and the Defender for Endpoint export of the DB servers."""
    fw = sorted(c.firewall, key=lambda x: (x[0], x[1]))
    lines = []
    for n, (t, _, body) in enumerate(fw):
        local = t.astimezone(IST)
        stamp = local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}+05:30"
        lines.append(
            f"<189>1 {stamp} fw-edge01.dims.local trafficd - traffic - date={local:%Y-%m-%d} "
            f'time={local:%H:%M:%S} devname="FW-EDGE01" logid="00000000{13 + n % 2:02d}" {body}'
        )
    _write_lines(out / "network" / "FW-EDGE01" / "fw-edge01-traffic.log", lines)
    edr = sorted(c.edr, key=lambda x: (x[0], x[1]))
    elines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for _, _, r in edr]
    _write_lines(out / "edr" / "mde-advanced-hunting-ehosp-db.jsonl", elines)
    return {
        "network/FW-EDGE01/fw-edge01-traffic.log": len(lines),
        "edr/mde-advanced-hunting-ehosp-db.jsonl": len(elines),
    }


def write_image_files(out: Path, rng: random.Random) -> None:
    """The collected-image files of EHOSP-DB01: the stand-in, a note, a few encrypted files."""
    root = out / "collection" / DB01
    (root / "Windows" / "Temp").mkdir(parents=True, exist_ok=True)
    (root / "Windows" / "Temp" / "svchosts.exe").write_text(STANDIN, encoding="utf-8", newline="\n")
    for folder in ("D/MSSQL/DATA", "C/Users/Public/Documents"):
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        (d / NOTE_NAME).write_text(RANSOM_NOTE, encoding="utf-8", newline="\n")
    data = root / "D" / "MSSQL" / "DATA"
    for name in ("eHospital.mdf", "Pharmacy.mdf"):
        blob = b"DIMSLOCK-SYNTHETIC\x00" + rng.randbytes(2048)
        (data / f"{name}{LOCK_EXT}").write_bytes(blob)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8", newline="\n")


def expected_steps(c: Recorder) -> list[dict[str, Any]]:
    """Per step: hosts, true UTC window, techniques, and how to find its events."""
    out = []
    for n in sorted(c.steps):
        s = c.steps[n]
        assert s.start is not None and s.end is not None, f"step {n} produced no events"
        out.append(
            {
                "step": n,
                "title": s.title,
                "hosts": [h for h in s.hosts if h != "FW-EDGE01"],
                "utc_start": s.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "utc_end": s.end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "ist_start": s.start.astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S+05:30"),
                "ist_end": s.end.astimezone(IST).strftime("%Y-%m-%dT%H:%M:%S+05:30"),
                "attack": list(s.attack),
                "evidence": s.evidence,
            }
        )
    return out


def write_meta(c: Recorder, out: Path, counts: dict[str, int]) -> None:
    """expected_steps.json and collection/manifest.json (what was collected, when, zones)."""
    _write_json(
        out / "expected_steps.json",
        {
            "note": SYNTHETIC,
            "time": "utc_* are true times (LIS-APP01's logged times read 3 min 40 s later); windows are inclusive",
            "clock_skew": {LIS: "+00:03:40"},
            "steps": expected_steps(c),
        },
    )
    manifest = {
        "note": SYNTHETIC,
        "case": "DIMS-2022-11-23 (synthetic)",
        "collected_ist": "2022-11-23T09:40:00+05:30",
        "collected_utc": "2022-11-23T04:10:00Z",
        "hosts": {h.name: {"ip": h.ip, "os": h.os, "timezone": h.zone} for h in HOSTS},
        "files": counts,
    }
    _write_json(out / "collection" / "manifest.json", manifest)


def write_extra_hosts(out: Path, opts: Options) -> dict[str, int]:
    """Large mode: benign workstations, generated and written one host at a time (bounded memory)."""
    counts: dict[str, int] = {}
    for i in range(opts.extra_hosts):
        host = f"WS-{i:04d}"
        mini = Recorder(
            Options(
                seed=opts.seed * 100_003 + i,
                days=opts.days,
                encrypt_files=opts.encrypt_files,
                extra_hosts=opts.extra_hosts,
            )
        )
        for day in background_days(opts):
            windows_background(mini, day, (host,), day_time(day, "23:59:59"))
        windows_background(mini, 23, (host,), ist(23, "09:10:00"))
        logs = out / "collection" / host / "Windows" / "System32" / "winevt" / "Logs"
        for (_h, ch), items in sorted(mini.win.items()):
            events = [e for _, _, e in sorted(items, key=lambda x: (x[2].ts, x[1]))]
            path = logs / f"{_log_file(CH[ch])}.evtx"
            write_evtx(path, events, first_record_id=record_base(host, ch))
            counts[str(path.relative_to(out))] = len(events)
    return counts


def steps_table(c: Recorder) -> str:
    """The README's markdown table of steps (IST, logged-host view)."""
    rows = ["| # | IST | host(s) | what happened | ATT&CK |", "|---|---|---|---|---|"]
    for s in expected_steps(c):
        start, end_ = s["ist_start"], s["ist_end"]
        when = f"{start[8:10]}-11 {start[11:16]}" + (f"-{end_[11:16]}" if end_[11:16] != start[11:16] else "")
        rows.append(
            f"| {s['step']} | {when} | {', '.join(s['hosts'])} | {s['title']} | {', '.join(s['attack'])} |"
        )
    return "\n".join(rows)
