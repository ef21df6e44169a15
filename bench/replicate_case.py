"""Make a K-times larger case from an ingested one, for scaling benchmarks (``bench/spark.py``).

Generating 5 M or 20 M events with the demo generator's large mode takes hours here (it writes the
raw EVTX and logs first, then ingest parses them). This copies a generated case's committed parts
K times instead, as ``bench/vs_zircolite.py`` copies EVTX-ATTACK-SAMPLES ten times: copy k gets
``input_sha256 = sha256(original || ':k')`` (so every record has its own reference and finding
ids differ per copy), its own batch id and part files, and its rows in the catalogue (``parts``,
``inputs``). Nothing else changes, so the values the rules read repeat K times: a scaling figure
from such a case shows how the scans and the per-row work grow, while work done once per distinct
value (the Sigma plan's per-tuple evaluation) does not grow. Say so beside any figure from it.

    python bench/replicate_case.py SRC_CASE DEST_CASE --times 10
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import duckdb


def replicate(src: Path, dest: Path, times: int) -> tuple[int, int]:
    """Write DEST as SRC's parts ``times`` over; returns (parts, rows) of DEST."""
    if dest.exists():
        raise SystemExit(f"{dest} exists: give a new folder")
    dest.mkdir(parents=True)
    shutil.copy2(src / "case.duckdb", dest / "case.duckdb")
    con = duckdb.connect(str(dest / "case.duckdb"))
    parts = con.execute("SELECT path, batch, source, channel, rows FROM parts ORDER BY path").fetchall()
    top_seq = con.execute("SELECT coalesce(max(seq), 0) FROM inputs").fetchall()[0][0]
    for path, *_ in parts:  # copy 0: the original files
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / path, dest / path)
    for k in range(1, times):
        for path, batch, source, channel, rows in parts:
            new_batch = f"{batch[:12]}r{k:03d}"
            new_path = path.replace(f"/{batch}-", f"/{new_batch}-")
            assert new_path != path, path
            con.execute(
                f"COPY (SELECT * REPLACE (sha256(input_sha256 || ':{k}') AS input_sha256) "
                f"FROM read_parquet('{src / path}')) TO '{dest / new_path}' (FORMAT parquet, COMPRESSION zstd)"
            )
            con.execute("INSERT INTO parts VALUES (?, ?, ?, ?, ?)", [new_path, new_batch, source, channel, rows])
        con.execute(
            f"INSERT INTO inputs SELECT * REPLACE (seq + {k * top_seq} AS seq, sha256(sha256 || ':{k}') AS sha256, "
            f"batch[1:12] || 'r{k:03d}' AS batch) FROM inputs WHERE seq <= {top_seq}"
        )
    n, total = con.execute("SELECT count(*), sum(rows) FROM parts").fetchall()[0]
    con.close()
    return int(n), int(total)


def main() -> int:
    """Command line: SRC DEST --times K."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src", type=Path)
    ap.add_argument("dest", type=Path)
    ap.add_argument("--times", type=int, required=True)
    a = ap.parse_args()
    t = time.perf_counter()
    n, rows = replicate(a.src, a.dest, a.times)
    print(f"{a.dest}: {n} parts, {rows:,} events ({a.times}x {a.src}) in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
