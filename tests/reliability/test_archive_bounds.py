"""Issue 11 item 4 and issue 13 item 2: archives cannot fill the disk; one archive module.

A zip of many members each just under a per-member check used to expand into the staging
folder whole (3.36 GB from a 3.2 MB zip) and report clean. Now one archive's expansion is
bounded (``forensics.archives.Limits``: a ratio of its size with a floor, and an absolute cap),
members are streamed to the parsers and their staged copies deleted as they are parsed, and
whatever is refused is recorded with the reason. Ingest, YARA and ``raw`` share the walk.
"""

from __future__ import annotations

import ast
import io
import random
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import forensics.ingest.walk as walk_mod
from forensics.archives import Limits, Refused, open_member, walk_archive
from forensics.hunt.yara_scan import compile_rules, scan_files
from forensics.ingest import runner
from forensics.ingest.runner import ingest_paths
from forensics.raw import extract_records
from forensics.store import Case
from forensics.testing.evtx_writer import WinEvent, write_evtx

MiB = 1024 * 1024
ZEROS = bytes(4 * MiB)
PKG = Path(__file__).resolve().parents[2] / "forensics"


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def _syslog(host: str, n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(
        f"Mar  6 1{i // 3600 % 10}:{i // 60 % 60:02d}:{i % 60:02d} {host} sshd[{rng.randint(2, 99999)}]: "
        f"Accepted publickey for u{rng.randint(0, 999)} from 10.{rng.randint(0, 255)}.0.1 port 22 ssh2\n".encode()
        for i in range(n)
    )


class _StagingProbe:
    """Largest size the staging folder reaches, looked at after every member is staged."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.peak = 0
        real = walk_mod._copy_member

        def copy(stream, arc, member, scratch, counter):  # type: ignore[no-untyped-def]
            cand = real(stream, arc, member, scratch, counter)
            staging = scratch.parent
            self.peak = max(self.peak, sum(f.stat().st_size for f in staging.rglob("*") if f.is_file()))
            return cand

        monkeypatch.setattr(walk_mod, "_copy_member", copy)


def test_a_bomb_spread_over_many_members_stops_at_the_archive_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_zip([(f"m{i:03d}.bin", ZEROS) for i in range(60)]))  # 240 MiB from ~250 KB
    limits = Limits(ratio_floor=16 * MiB, max_ratio=100)
    probe = _StagingProbe(monkeypatch)
    summary = ingest_paths(tmp_path / "case", [bomb], limits=limits)
    budget = limits.budget_for(bomb.stat().st_size)
    refused = [p for p in summary.problems if p["status"] == "refused"]
    assert len(refused) >= 50 and all("limit" in p["error"] for p in refused)
    assert not summary.clean
    assert probe.peak <= 4 * MiB + 1  # zeros are no format: each copy goes as soon as it is judged
    # members read out whole: zeros are no log (not_log, counted with the not-logs)
    read = sum(1 for p in summary.problems + summary.not_logs if p["status"] in ("unknown", "not_log"))
    assert read >= 1 and read * 4 * MiB <= budget + 4 * MiB  # bytes read out stop at the bound
    with Case.open(tmp_path / "case", read_only=True) as case:
        assert case.con.execute("SELECT count(*) FROM inputs").fetchone()[0] == 60  # type: ignore[index]


@pytest.mark.slow
def test_the_field_case_200_members_of_16_mib_zeros_is_bounded_at_default_limits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shape seen in the field, at the default limits (reads 1 GiB, ~15 s)."""
    bomb = tmp_path / "bomb.zip"
    block = bytes(16 * MiB)
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(200):
            zf.writestr(f"m{i:03d}.bin", block)
    assert bomb.stat().st_size < 4 * MiB  # ~3.3 MB, as in the field
    probe = _StagingProbe(monkeypatch)
    summary = ingest_paths(tmp_path / "case", [bomb], workers=1)
    refused = [p for p in summary.problems if p["status"] == "refused"]
    budget = Limits().budget_for(bomb.stat().st_size)
    assert budget == 1024**3  # the floor: 100x this zip is less
    assert len(refused) >= 200 - budget // (16 * MiB) and probe.peak <= 16 * MiB + 1


def test_members_are_parsed_as_they_stream_never_the_whole_archive_staged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0 = datetime(2024, 3, 6, 10, tzinfo=UTC)
    entries: list[tuple[str, bytes]] = []
    expected = 0
    for i in range(20):
        evs = [
            WinEvent("Microsoft-Windows-Security-Auditing", 4624, t0 + timedelta(seconds=j), "Security", f"PC{i:02d}",
                     event_data=(("TargetUserName", f"u{j}"), ("Pad", "x" * 400)))
            for j in range(200)
        ]  # fmt: skip
        entries.append((f"PC{i:02d}/Security.evtx", write_evtx(tmp_path / f"e{i}.evtx", evs).read_bytes()))
        entries.append((f"PC{i:02d}/auth.log", _syslog(f"pc{i:02d}", 2000, i)))
        expected += 200 + 2000
    archive = tmp_path / "collection.zip"
    archive.write_bytes(_zip(entries))
    whole = sum(len(d) for _, d in entries)
    # small groups (later ones grow to GROUP_GROWTH times as much), so streaming shows at test size
    monkeypatch.setattr(runner, "GROUP_BYTES", 64 * 1024)
    probe = _StagingProbe(monkeypatch)
    summary = ingest_paths(tmp_path / "case", [archive], workers=1)
    assert summary.rows == expected and summary.clean, summary.problems
    assert probe.peak < whole / 4, (probe.peak, whole)
    assert not any((tmp_path / "case" / ".staging").rglob("member-*"))
    with Case.open(tmp_path / "case", read_only=True) as case:  # a deferred member is read again to the byte
        sha = case.con.execute("SELECT sha256 FROM inputs WHERE member = 'PC03/auth.log'").fetchone()[0]  # type: ignore[index]
        got = extract_records(case, [(sha, 5)])[(sha, 5)]
    assert not isinstance(got, str) and got.data == _syslog("pc03", 2000, 3).splitlines()[5]


def _read_all(archive: Path, limits: Limits) -> list[tuple[str, str | None]]:
    """(member, why refused) as a consumer that reads every member sees them."""
    out: list[tuple[str, str | None]] = []
    for member, stream in walk_archive(archive, limits=limits):
        why = member.refused
        if stream is not None:
            try:
                stream.read()
            except Refused as exc:
                why = str(exc)
        out.append((member.name, why))
    return out


def test_nested_archives_share_the_outer_bound_and_a_tar_stops_listing(tmp_path: Path) -> None:
    inner = _zip([(f"z{i}.bin", ZEROS) for i in range(10)])
    outer = tmp_path / "outer.zip"
    outer.write_bytes(_zip([("a/inner.zip", inner), ("b/inner2.zip", inner)]))
    limits = Limits(ratio_floor=10 * MiB, max_ratio=1)
    got = _read_all(outer, limits)
    why = dict(got)
    assert (
        why["a/inner.zip!/z2.bin"] and "decompression bomb" in why["a/inner.zip!/z2.bin"]
    )  # crossed mid-read
    assert why["b/inner2.zip"] and "limit reached" in why["b/inner2.zip"]  # nothing left for the next one
    assert sum(1 for _, w in got if w is None) == 2
    tgz = tmp_path / "bomb.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        for i in range(30):
            info = tarfile.TarInfo(f"z{i:02d}.bin")
            info.size = len(ZEROS)
            tf.addfile(info, io.BytesIO(ZEROS))
    seen = _read_all(tgz, limits)
    assert seen[-1][1] is not None and "not listed" in seen[-1][1]
    assert len(seen) < 10


def test_open_member_reads_nested_members_and_yara_scans_through_the_same_walk(tmp_path: Path) -> None:
    payload = b"MZ" + b"evil-marker-7731" + bytes(random.Random(2).getrandbits(8) for _ in range(5000))
    inner = tmp_path / "inner.tar.gz"
    with tarfile.open(inner, "w:gz") as tf:
        info = tarfile.TarInfo("bin/tool.exe")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    outer = tmp_path / "case.zip"
    outer.write_bytes(_zip([("host/inner.tar.gz", inner.read_bytes()), ("host/big.bin", ZEROS * 40)]))
    with open_member(outer, ["host/inner.tar.gz", "bin/tool.exe"]) as stream:
        assert stream.read() == payload
    rules = tmp_path / "r.yar"
    rules.write_text('rule marker { strings: $a = "evil-marker-7731" condition: $a }')
    result = scan_files(compile_rules([rules]), [outer])
    assert [f.rule_id for f in result.findings] == ["marker"]
    assert "host/inner.tar.gz!/bin/tool.exe" in (result.findings[0].details or "")
    skipped = [o for o in result.outcomes if o.status == "skipped"]
    assert any("host/big.bin" in o.path for o in skipped)  # 160 MiB of zeros: over the scan size, unread


def test_archive_formats_are_opened_in_one_module_only() -> None:
    """raw, YARA, images and ingest read evidence archives through forensics.archives, never on
    their own."""
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        if path.name == "archives.py" and path.parent == PKG:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if {"zipfile", "tarfile"} & set(names):
                offenders.append(str(path.relative_to(PKG)))
    # a bundle is a zip the tool writes itself; a rule set's release zip is not evidence (its own
    # digest is checked before it is opened)
    allowed = {"bundle/verify.py", "bundle/export.py", "rulesets.py"}
    assert sorted(set(offenders) - allowed) == []
