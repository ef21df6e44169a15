"""Every format, damaged: truncated mid-record or with garbage appended, never crashes a parser.

Each file of the demo incident (EVTX, wevtutil XML, evtx JSON, syslog, auditd, journald, Defender
export) is cut in half and, separately, followed by binary junk. The run must finish, every input
must get a status, and no parser may crash: what it cannot read becomes counted rejects or a
clear file-level failure.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from forensics.ingest.registry import sniff
from forensics.ingest.runner import ingest_paths
from forensics.store import Case


def _samples(repo: Path) -> list[Path]:
    files = sorted(p for p in (repo / "sample_data").rglob("*") if p.is_file() and p.stat().st_size > 200)
    picked: dict[str, Path] = {}
    for f in files:
        parser = sniff(f.read_bytes()[:65536], f.name)
        if parser is not None:
            picked.setdefault(parser.name, f)  # one file per format is enough
    return list(picked.values())


def test_truncated_and_junk_appended_files_never_crash_a_parser(repo_root: Path, tmp_path: Path) -> None:
    rng = random.Random(7)
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    samples = _samples(repo_root)
    assert len(samples) >= 6
    for f in samples:
        data = f.read_bytes()
        (damaged / f"half-{f.name}").write_bytes(data[: len(data) // 2])
        (damaged / f"junk-{f.name}").write_bytes(data + bytes(rng.getrandbits(8) for _ in range(4096)))
    summary = ingest_paths(tmp_path / "case", [damaged])
    with Case.open(tmp_path / "case", read_only=True) as case:
        statuses = case.con.execute("SELECT path, status, error FROM inputs ORDER BY path").fetchall()
    assert len(statuses) == 2 * len(samples)
    crashed = [(os.path.basename(p), e) for p, s, e in statuses if e and "crashed" in e]
    assert crashed == []
    assert summary.rows > 0
