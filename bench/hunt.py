"""Benchmark: one full ``hunt`` pass over an ingested case, against one scan of the case.

Usage::

    python bench/hunt.py CASE_DIR [--sigma DIR]... [--iocs PATH]... [--no-million] [--json]

``--sigma`` defaults to ../shared/data/sigma/rules/windows and .../linux next to the repository,
``--iocs`` to signature-base's ``hash-iocs.txt`` and ``c2-iocs.txt``; the project's queries/ and
iocs/ are always used. Prints, in one run:

- wall time of the hunt (Sigma + SQL hunts + IOC sweep + YARA over event text) and per kind;
- rules per second (Sigma rules + SQL hunts, over the wall time);
- the hunt time relative to one full scan of the events (``SELECT count(*), count(col), ...`` over
  every column a Sigma rule, SQL hunt, IOC join or YARA text scan reads), timed in the same run
  after a warm-up scan;
- the million-indicator sweep: a generated plain list of 1,000,000 defanged IPs, domains and
  hashes (a few taken from the case, so there are hits) loaded, normalised and joined.

The hunt writes its findings into CASE_DIR, as ``forensics hunt`` does. Ingest a case first, e.g.
``forensics ingest ../shared/data/EVTX-ATTACK-SAMPLES --case /tmp/eas``.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from forensics.hunt.engine import HuntOptions, run_hunt
from forensics.hunt.ioc_match import ioc_columns, match_iocs
from forensics.hunt.iocs import ioc_table, load_ioc_paths
from forensics.hunt.sql import load_hunts
from forensics.hunt.yara_scan import TEXT_COLUMNS
from forensics.shipped import QUERIES
from forensics.store import Case

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DEFAULT_SIGMA = (SHARED / "sigma" / "rules" / "windows", SHARED / "sigma" / "rules" / "linux")
DEFAULT_IOCS = (
    SHARED / "signature-base" / "iocs" / "hash-iocs.txt",
    SHARED / "signature-base" / "iocs" / "c2-iocs.txt",
)
MILLION = 1_000_000


def touched_columns(case: Case, sigma_columns: set[str]) -> list[str]:
    """Every existing event column a rule of any kind reads."""
    present = {r[0].lower(): r[0] for r in case.con.execute("DESCRIBE events").fetchall()}
    hunts, _ = load_hunts([QUERIES])
    wanted = {c.lower() for c in sigma_columns}
    wanted |= {c.lower() for h in hunts for c in (*h.fields, *h.needs)}
    wanted |= {c.lower() for c in ioc_columns(present)}
    wanted |= {c.lower() for c in TEXT_COLUMNS}
    wanted |= {"input_sha256", "rec_index", "host", "ts"}
    return sorted(present[c] for c in wanted if c in present)


def full_scan_seconds(case: Case, columns: list[str]) -> float:
    """One scan of ``events`` reading every given column (after a warm-up scan)."""
    sel = ", ".join(["count(*)", *(f'count("{c}")' for c in columns)])
    case.con.execute(f"SELECT {sel} FROM events").fetchall()  # warm-up: file metadata and OS cache
    start = time.perf_counter()
    case.con.execute(f"SELECT {sel} FROM events").fetchall()
    return time.perf_counter() - start


def write_million(path: Path, case: Case) -> int:
    """A 1,000,000-line defanged list, seeded with up to 200 values that occur in the case."""
    rng = random.Random(20261126)
    real: list[str] = []
    for col in ("src_ip", "dst_ip", "hash_sha256", "hash_md5"):
        try:
            rows = case.con.execute(
                f"SELECT DISTINCT {col} FROM events WHERE {col} IS NOT NULL ORDER BY 1 LIMIT 50"
            ).fetchall()
        except Exception:  # the column may not exist in this case
            continue
        real.extend(str(r[0]) for r in rows)
    lines: list[str] = ["# generated benchmark list", "TLP:AMBER"]
    for i in range(MILLION - len(real)):
        k = i % 4
        if k == 0:
            lines.append(
                f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}[.]{rng.randint(1, 254)}"
            )
        elif k == 1:
            lines.append(f"c2-{i}.example[.]net")
        elif k == 2:
            lines.append(hashlib.sha256(str(i).encode()).hexdigest())
        else:
            lines.append(hashlib.md5(str(i).encode()).hexdigest().upper())
    for v in real:
        lines.insert(rng.randrange(2, len(lines)), v.replace(".", "[.]") if v.count(".") == 3 else v)
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 2


def million_sweep(case: Case) -> dict[str, Any]:
    """Load, normalise and join a million indicators; seconds per step and hits."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "million.txt"
        n = write_million(path, case)
        t0 = time.perf_counter()
        loaded = load_ioc_paths([path])
        t1 = time.perf_counter()
        table = ioc_table(loaded.iocs, loaded.frames)
        t2 = time.perf_counter()
        findings = match_iocs(case, table)
        t3 = time.perf_counter()
    return {
        "indicators": n,
        "normalised": table.num_rows,
        "load_s": round(t1 - t0, 3),
        "table_s": round(t2 - t1, 3),
        "match_s": round(t3 - t2, 3),
        "total_s": round(t3 - t0, 3),
        "hits": len(findings),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case", type=Path)
    ap.add_argument("--sigma", type=Path, action="append")
    ap.add_argument("--iocs", type=Path, action="append")
    ap.add_argument("--no-million", action="store_true", help="skip the million-indicator sweep")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    sigma = [p for p in (args.sigma or DEFAULT_SIGMA) if p.exists()]
    iocs = [p for p in (args.iocs or DEFAULT_IOCS) if p.exists()]
    with Case.open(args.case) as case:
        events = case.con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
        start = time.perf_counter()
        summary = run_hunt(case, HuntOptions(sigma=sigma, iocs=iocs))
        wall = time.perf_counter() - start
        columns = touched_columns(case, set(summary.sigma_stats.get("columns", set())))
        scan = full_scan_seconds(case, columns)
        sigma_rules = sum(summary.sigma_counts.values())
        sql_hunts = sum(1 for o in summary.outcomes if o.kind == "sql" and o.status == "ran")
        result: dict[str, Any] = {
            "case": str(args.case),
            "events": events,
            "wall_s": round(wall, 3),
            "per_kind_s": {k: round(v, 3) for k, v in summary.timings.items()},
            "sigma": summary.sigma_counts,
            "sigma_stats_s": {k: round(v, 3) for k, v in summary.sigma_stats.items() if isinstance(v, float)},
            "sql_hunts": sql_hunts,
            "ioc_indicators": summary.ioc_count,
            "yara_files": summary.yara_files,
            "rules_per_s": round((sigma_rules + sql_hunts) / wall, 1) if wall else None,
            "columns_touched": len(columns),
            "full_scan_s": round(scan, 4),
            "hunt_over_scan": round(wall / scan, 1) if scan else None,
            "findings": len(summary.findings),
            "findings_by_kind": summary.by_kind(),
        }
        if not args.no_million:
            result["million"] = million_sweep(case)
    if args.json:
        sys.stdout.write(
            orjson.dumps(result, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        for key, value in result.items():
            print(f"{key:18} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
