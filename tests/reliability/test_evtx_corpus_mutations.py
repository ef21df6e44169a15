"""Every EVTX of the corpus, cut or damaged here: never ``ok`` with fewer records than claimed.

Each file under ../shared/data gets one seeded mutation (a cut at a random point, a cut in
half, a chunk signature overwritten, bytes flipped, a span zeroed), written to the test's
temporary folder (the corpus is only read). After one ingest of them all, every input read as
EVTX has rows + rejects covering what its headers claim, or the shortfall recorded and the
status ``truncated`` / ``damaged``. (The unmutated files: ``tests/ingest/test_evtx_corpus.py``.)
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from forensics.ingest.evtx_chunks import CHUNK_SIZE, FILE_HEADER_SIZE
from forensics.ingest.runner import ingest_paths
from tests.reliability.evtxkit import inputs


def _mutant(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    b = bytearray(data)
    kind = rng.choice(["cut", "half", "chunk", "flip", "zero"])
    if kind == "cut":
        del b[rng.randrange(1, len(b)) :]
    elif kind == "half":
        del b[len(b) // 2 :]
    elif kind == "chunk" and len(b) > FILE_HEADER_SIZE:
        chunks = max(1, (len(b) - FILE_HEADER_SIZE) // CHUNK_SIZE)
        at = FILE_HEADER_SIZE + rng.randrange(chunks) * CHUNK_SIZE
        b[at : at + 8] = b"XXXXXXXX"[: max(0, len(b) - at)]
    elif kind == "flip":
        for _ in range(rng.randrange(1, 16)):
            b[rng.randrange(len(b))] ^= 0xFF
    else:
        at = rng.randrange(len(b))
        size = min(rng.randrange(1, 4096), len(b) - at)
        b[at : at + size] = bytes(size)
    return kind, bytes(b)


@pytest.mark.slow
def test_cut_and_damaged_corpus_files_account_for_every_claimed_record(
    shared_data: Path, tmp_path: Path
) -> None:
    rng = random.Random(2026)
    folder = tmp_path / "mutants"
    folder.mkdir()
    originals = sorted(p for p in shared_data.rglob("*") if p.is_file() and p.suffix.lower() == ".evtx")
    assert len(originals) > 400
    for i, path in enumerate(originals):
        data = path.read_bytes()
        if not data:
            continue
        kind, mutant = _mutant(data, rng)
        (folder / f"{i:04d}-{kind}.evtx").write_bytes(mutant)
    ingest_paths(tmp_path / "case", [folder])
    rows = inputs(tmp_path / "case")
    assert len(rows) == len(list(folder.iterdir()))
    evtx = {n: r for n, r in rows.items() if r["parser"] == "evtx"}
    assert len(evtx) > 0.9 * len(rows)
    for name, r in rows.items():
        if r["parser"] != "evtx":
            assert r["status"] in ("unknown", "duplicate", "empty"), (name, r["status"])
    bad = []
    for name, r in evtx.items():
        covered = r["rows"] + r["rejects"]
        if covered + r["records_shortfall"] < r["records_claimed"]:
            bad.append((name, "shortfall not recorded", r))
        if r["status"] in ("ok", "rejects") and covered < r["records_claimed"]:
            bad.append((name, "ok with fewer records than claimed", r))
        if r["records_shortfall"] and r["status"] not in ("truncated", "damaged"):
            bad.append((name, "a shortfall without a truncated/damaged status", r))
    assert bad == []
    statuses = {r["status"] for r in evtx.values()}
    assert {"truncated", "damaged"} <= statuses
    assert sum(r["records_carved"] for r in evtx.values()) > 0
